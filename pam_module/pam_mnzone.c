/* pam_mnzone: PAM glue only. Arguments, conversation, syslog and result codes; every
 * decision is taken in lib/, reached through an engine (lib/mz_engine.h): mnzoned when it
 * answers, else the direct engine in mnzone-engine.so beside this module. Fails closed:
 * no error path returns PAM_SUCCESS or PAM_IGNORE. */
#include "config.h"

#include "mz_config.h"
#include "mz_engine.h"

#include <dlfcn.h>
#include <grp.h>
#include <pwd.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* The engine a call decides with: mnzoned's client, or the direct engine loaded from
 * mnzone-engine.so (DL). */
struct engine {
    const struct mz_engine_ops *ops;
    struct mz_engine *eng;
    void *dl;
};

/* The audit head after the event the engine wrote last, for the syslog line. */
static bool engine_head(const struct engine *en, char *out)
{
    out[0] = '\0';
    return en->ops != NULL && en->eng != NULL && en->ops->audit_head != NULL &&
           en->ops->audit_head(en->eng, out);
}

/* Everything one call of the module knows about the login. */
struct login {
    pam_handle_t *pamh;
    bool silent; /* PAM_SILENT: no informational or error messages, only the prompt */
    char service[64], tty[128], rhost[256];
    const char *user;
    bool conv_failed; /* a message could not be shown while the key was in use */
    struct mz_config cfg;
    struct mz_attempt attempt;
    char host[256];
    const struct engine *en; /* once open: where the audit head is asked for */
};

static void bind_domain(void)
{
    bindtextdomain(MZ_TEXTDOMAIN, LOCALEDIR);
}

static const char *item(pam_handle_t *pamh, int type)
{
    const void *v = NULL;
    if (pam_get_item(pamh, type, &v) != PAM_SUCCESS || v == NULL)
        return "";
    return v;
}

/* Copies a PAM item set by the application (remote host, tty) for the log and the
 * audit trail, with control characters replaced: they must not forge log lines. */
static void clean_item(pam_handle_t *pamh, int type, char *buf, size_t len)
{
    snprintf(buf, len, "%s", item(pamh, type));
    for (char *p = buf; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/* Sends one message (unless PAM_SILENT); a missing or failing conversation is an error. */
static int say(const struct login *l, int style, const char *text)
{
    char *resp = NULL;
    if (l->silent)
        return PAM_SUCCESS;
    int rc = pam_prompt(l->pamh, style, &resp, "%s", text);
    mz_free_string(resp);
    return rc == PAM_SUCCESS ? PAM_SUCCESS : PAM_CONV_ERR;
}

/* Whether the application gave a conversation function: a login without one is refused
 * even when nothing needs to be asked (a key login with PAM_SILENT). */
static bool have_conversation(pam_handle_t *pamh)
{
    const struct pam_conv *conv = NULL;
    return pam_get_item(pamh, PAM_CONV, (const void **)&conv) == PAM_SUCCESS && conv != NULL &&
           conv->conv != NULL;
}

/* Asks for the code with echo off. *INPUT must be freed with mz_free_string. */
static int ask_code(pam_handle_t *pamh, char **input)
{
    *input = NULL;
    if (!have_conversation(pamh))
        return PAM_CONV_ERR;
    int rc = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, input, "%s", _("Verification code: "));
    if (rc != PAM_SUCCESS || *input == NULL) {
        mz_free_string(*input);
        *input = NULL;
        return PAM_CONV_ERR;
    }
    return PAM_SUCCESS;
}

/* The syslog line of an attempt; with the audit chain's head after its event
 * ("audit=SEQ:HASH") when one was written, so that a log server holding every head
 * shows if the newest events were later cut off (audit verify --expect-head). */
static void log_attempt(const struct login *l, const char *result, const char *reason)
{
    const struct mz_attempt *a = &l->attempt;
    char head[MZ_ENGINE_HEAD_TEXT];
    bool have_head = l->en != NULL && engine_head(l->en, head);
    pam_syslog(l->pamh, LOG_NOTICE, "user=%s service=%s rhost=%s tty=%s result=%s reason=%s%s%s",
               l->user != NULL ? l->user : "?", a->service, a->rhost, a->tty, result, reason,
               have_head ? " audit=" : "", have_head ? head : "");
}

/* Membership of privileged_group; an unknown group or user counts as privileged so
 * that a typing mistake makes the limit stricter, not looser. */
static bool is_privileged(const struct login *l)
{
    if (l->cfg.privileged_group[0] == '\0')
        return false;
    struct group *gr = getgrnam(l->cfg.privileged_group);
    struct passwd *pw = getpwnam(l->user);
    if (gr == NULL || pw == NULL)
        return true;
    gid_t groups[256];
    int n = (int)(sizeof(groups) / sizeof(groups[0]));
    if (getgrouplist(l->user, pw->pw_gid, groups, &n) < 0)
        return true;
    for (int i = 0; i < n; i++)
        if (groups[i] == gr->gr_gid)
            return true;
    return false;
}

/* The kernel's view of clock synchronisation, per time_sync. False = deny. */
static bool clock_acceptable(const struct login *l)
{
    if (l->cfg.time_sync == MZ_TIME_SYNC_OFF)
        return true;
    struct timex tx;
    memset(&tx, 0, sizeof(tx));
    enum mz_clock_verdict v = mz_time_sync_decide(l->cfg.time_sync, adjtimex(&tx) != TIME_ERROR);
    if (v != MZ_CLOCK_OK)
        pam_syslog(l->pamh, LOG_WARNING, "the system clock is not synchronised (time_sync=%s)",
                   v == MZ_CLOCK_DENY ? "require" : "warn");
    return v != MZ_CLOCK_DENY;
}

/* Reads the user, the configuration and the PAM items. Returns a PAM code. */
static int start(struct login *l, pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    mz_err e;
    memset(l, 0, sizeof(*l));
    l->pamh = pamh;
    l->silent = (flags & PAM_SILENT) != 0;
    bind_domain();
    /* the service name is the application's too: cleaned like the others, for the log,
     * the audit trail and mnzoned's protocol, which refuses control characters */
    clean_item(pamh, PAM_SERVICE, l->service, sizeof(l->service));
    l->attempt.service = l->service;
    clean_item(pamh, PAM_TTY, l->tty, sizeof(l->tty));
    clean_item(pamh, PAM_RHOST, l->rhost, sizeof(l->rhost));
    l->attempt.tty = l->tty;
    l->attempt.rhost = l->rhost;
    if (gethostname(l->host, sizeof(l->host) - 1) != 0)
        snprintf(l->host, sizeof(l->host), "unknown");
    l->attempt.host = l->host;
    l->attempt.now = (int64_t)time(NULL);

    if (mz_config_from_args(&l->cfg, argc, argv, &e) != MZ_OK) {
        pam_syslog(pamh, LOG_ERR, "configuration error: %s", e.msg);
        return PAM_SERVICE_ERR;
    }
    if (pam_get_user(pamh, &l->user, NULL) != PAM_SUCCESS || l->user == NULL) {
        pam_syslog(pamh, LOG_ERR, "cannot determine the user name");
        return PAM_USER_UNKNOWN;
    }
    if (!mz_valid_login(l->user)) {
        pam_syslog(pamh, LOG_NOTICE, "refusing a malformed user name");
        l->user = NULL;
        return PAM_USER_UNKNOWN;
    }
    l->attempt.user = l->user;
    return PAM_SUCCESS;
}

/* The engine of one call, and the library that holds the direct one. */
/* The direct engine, from mnzone-engine.so in the module's own folder: installed
 * together, and so in the build tree too. No variable or argument names another. */
static int load_direct(const struct login *l, struct engine *en)
{
    Dl_info info;
    char path[PATH_MAX];
    memset(&info, 0, sizeof(info));
    if (dladdr((void *)pam_sm_authenticate, &info) == 0 || info.dli_fname == NULL ||
        strrchr(info.dli_fname, '/') == NULL) {
        pam_syslog(l->pamh, LOG_ERR, "cannot find the module's own folder");
        return PAM_SERVICE_ERR;
    }
    const char *slash = strrchr(info.dli_fname, '/');
    snprintf(path, sizeof(path), "%.*s/mnzone-engine.so", (int)(slash - info.dli_fname),
             info.dli_fname);
    en->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (en->dl == NULL) {
        pam_syslog(l->pamh, LOG_ERR, "cannot load %s: %s", path, dlerror());
        return PAM_SERVICE_ERR;
    }
    en->ops = dlsym(en->dl, MZ_ENGINE_DIRECT_SYMBOL);
    if (en->ops == NULL) {
        pam_syslog(l->pamh, LOG_ERR, "%s has no engine", path);
        dlclose(en->dl);
        en->dl = NULL;
        return PAM_SERVICE_ERR;
    }
    return PAM_SUCCESS;
}

static void close_engine(struct engine *en)
{
    if (en->ops != NULL && en->eng != NULL)
        en->ops->close(en->eng);
    if (en->dl != NULL)
        dlclose(en->dl);
    memset(en, 0, sizeof(*en));
}

/* Opens the direct engine (in place of whatever EN held). BESIDE_MNZONED: mnzoned has
 * answered this login, so it holds the store open and checkpoints it. */
static int open_direct(struct login *l, struct engine *en, bool beside_mnzoned)
{
    mz_err e;
    close_engine(en);
    int rc = load_direct(l, en);
    if (rc != PAM_SUCCESS) {
        log_attempt(l, "error", "engine unavailable");
        return rc;
    }
    if (en->ops->open(&l->cfg, beside_mnzoned ? MZ_ENGINE_BESIDE_MNZONED : 0, &en->eng, &e) !=
        MZ_OK) {
        pam_syslog(l->pamh, LOG_ERR, "store: %s", e.msg);
        log_attempt(l, "error", "store unavailable");
        close_engine(en);
        return PAM_AUTHINFO_UNAVAIL;
    }
    return PAM_SUCCESS;
}

/* mnzoned when daemon_socket is set (whether it answers is seen at the first question:
 * see first_question), else the direct engine. */
static int open_engine(struct login *l, struct engine *en)
{
    mz_err e;
    memset(en, 0, sizeof(*en));
    l->en = en;
    if (l->cfg.daemon_socket[0] != '\0' &&
        mz_engine_remote.open(&l->cfg, 0, &en->eng, &e) == MZ_OK) {
        en->ops = &mz_engine_remote;
        return PAM_SUCCESS;
    }
    return open_direct(l, en, false);
}

/* After the first question of a call (status or account) returned RC: when mnzoned did
 * not answer or serves another configuration (MZ_ERR_NOUSER; nothing was changed), or
 * something else than root listens on its socket (MZ_ERR_PERM, always logged: a
 * misplaced socket or tampering), the direct engine is opened in its place and *RETRY
 * set. Returns a PAM code. */
static int first_question(struct login *l, struct engine *en, int rc, const mz_err *e, bool *retry)
{
    *retry = false;
    if ((rc != MZ_ERR_NOUSER && rc != MZ_ERR_PERM) || en->ops != &mz_engine_remote)
        return PAM_SUCCESS;
    if (rc == MZ_ERR_PERM)
        pam_syslog(l->pamh, LOG_WARNING, "%s; using the store directly", e->msg);
    else if (l->cfg.debug)
        pam_syslog(l->pamh, LOG_DEBUG, "%s; using the store directly", e->msg);
    *retry = true;
    return open_direct(l, en, false);
}

/* A denial before any code was judged: one syslog line and one audit event. The
 * audit event needs the key; if it cannot be written the syslog line says so and the
 * denial stands. */
static void record_denial(struct login *l, struct engine *en, const char *event, const char *reason)
{
    mz_err e;
    if (en->ops->record(en->eng, &l->attempt, event, "failure", reason, &e) != MZ_OK)
        pam_syslog(l->pamh, LOG_ERR, "audit: %s", e.msg);
    log_attempt(l, "failure", reason);
}

static void say_locked(const struct login *l, int64_t until)
{
    char when[64], msg[256];
    if (until == MZ_LOCKED_FOREVER) {
        snprintf(msg, sizeof(msg), "%s",
                 _("Too many failed attempts: locked. Ask your administrator to unlock you."));
    } else {
        mz_local_time(until, when, sizeof(when));
        snprintf(msg, sizeof(msg), _("Too many failed attempts: locked until %s."), when);
    }
    say(l, PAM_ERROR_MSG, msg);
}

/* The message after an accepted code: when and where the previous success was, and how
 * many failures came since. */
static int say_welcome(const struct login *l, const struct mz_last_login *last)
{
    char msg[512], when[64];
    if (last->at == 0) {
        snprintf(msg, sizeof(msg), "%s", _("This is your first login with mnzone."));
    } else {
        mz_local_time(last->at, when, sizeof(when));
        snprintf(msg, sizeof(msg), _("Last login: %s from %s (%s). Failed attempts since: %u."),
                 when, last->host[0] != '\0' ? last->host : "-", last->service,
                 last->failures_since);
    }
    return say(l, PAM_TEXT_INFO, msg);
}

/* What a counted failure tells the user (NULL for the other outcomes). */
static const char *failure_message(enum mz_outcome outcome)
{
    switch (outcome) {
    case MZ_REJECT_WRONG: return _("Wrong code. Log in again with the current code.");
    case MZ_REJECT_REPLAY:
        return _("That code was already used. Wait for the next code, then log in again.");
    case MZ_REJECT_OTHER_KEY: return _("This YubiKey is not yours. Use the key you were given.");
    case MZ_REJECT_BAD_RESPONSE:
        return _("The YubiKey gave a wrong answer. Ask your administrator to check it.");
    case MZ_REJECT_STALE:
        return _("Another login used your YubiKey at the same time. Log in again.");
    default: return NULL;
    }
}

static int verdict_to_pam(const struct login *l, const struct mz_verdict *v,
                          const struct mz_policy *p)
{
    char msg[256];
    const char *text = failure_message(v->outcome);
    switch (v->outcome) {
    case MZ_ACCEPT: return PAM_SUCCESS;
    case MZ_REJECT_WRONG:
    case MZ_REJECT_REPLAY:
    case MZ_REJECT_OTHER_KEY:
    case MZ_REJECT_BAD_RESPONSE:
    case MZ_REJECT_STALE: snprintf(msg, sizeof(msg), "%s", text); break;
    case MZ_REJECT_MALFORMED:
        snprintf(msg, sizeof(msg), _("Enter the %u-digit code shown in your authenticator app."),
                 p->digits);
        break;
    case MZ_REJECT_LOCKED: say_locked(l, v->locked_until); return PAM_MAXTRIES;
    case MZ_REJECT_EXPIRED:
        say(l, PAM_ERROR_MSG, _("Your access has expired. Ask your administrator."));
        return PAM_AUTH_ERR;
    case MZ_REJECT_NO_FACTOR:
        say(l, PAM_ERROR_MSG, _("You have no second factor. Ask your administrator to enrol you."));
        return PAM_USER_UNKNOWN;
    case MZ_REJECT_ERROR:
    default: return PAM_SYSTEM_ERR;
    }
    say(l, PAM_ERROR_MSG, msg);
    if (v->locked_now)
        say_locked(l, v->locked_until);
    return PAM_AUTH_ERR;
}

/* The end of a judged attempt (a code or the key's answer): ARC is what the core
 * returned; the log line, the message and the PAM code follow from the verdict. */
static int conclude(struct login *l, int arc, const mz_err *e, const struct mz_verdict *v,
                    const struct mz_last_login *last)
{
    if (arc != MZ_OK) {
        pam_syslog(l->pamh, LOG_ERR, "store: %s", e->msg);
        log_attempt(l, "error", "cannot record the attempt");
        say(l, PAM_ERROR_MSG,
            _("Login is not possible now (system error). Contact your administrator."));
        return PAM_SYSTEM_ERR;
    }
    struct mz_policy policy;
    mz_policy_from_config(&l->cfg, l->attempt.privileged, &policy);
    log_attempt(l, v->outcome == MZ_ACCEPT ? "success" : "failure", mz_outcome_reason(v->outcome));
    int rc = verdict_to_pam(l, v, &policy);
    if (rc == PAM_SUCCESS)
        rc = say_welcome(l, last);
    return rc;
}

/* A key attempt that ended before the decision (no key, no touch, USB error): audited and
 * logged, not counted as a failure; MSG (if any) tells the user what to do. RECORDED says
 * whether the engine wrote the audit event already (ARC its result). */
static int key_denial(struct login *l, struct engine *en, bool recorded, int arc, const mz_err *ae,
                      const char *reason, const char *msg, int pam_rc)
{
    mz_err e;
    if (!recorded) {
        arc = en->ops->record(en->eng, &l->attempt, "auth", "failure", reason, &e);
        ae = &e;
    }
    if (arc != MZ_OK)
        pam_syslog(l->pamh, LOG_ERR, "audit: %s", ae->msg);
    log_attempt(l, "failure", reason);
    if (msg != NULL)
        say(l, PAM_ERROR_MSG, msg);
    return pam_rc;
}

static bool touch_prompt(void *arg, bool again)
{
    struct login *l = arg;
    if (say(l, PAM_TEXT_INFO, again ? _("Touch your YubiKey again.") : _("Touch your YubiKey.")) !=
        PAM_SUCCESS)
        l->conv_failed = true;
    return !l->conv_failed;
}

/* The YubiKey login of a user with a key credential, with the direct engine. *FALL_BACK
 * is set (and nothing else done) when no key is plugged in but the user can type a code
 * instead: a TOTP code (*HAS_TOTP), or (told so first) a recovery or emergency code.
 * Only an accepted answer of the key returns PAM_SUCCESS. */
static int key_login(struct login *l, struct engine *en, bool *fall_back, bool *has_totp)
{
    struct mz_key_outcome o;
    struct mz_hw_prompt prompt = {touch_prompt, l};
    mz_err e;
    *fall_back = false;
    l->attempt.privileged = is_privileged(l);
    int rc = en->ops->key_login(en->eng, &l->attempt, &prompt, &l->conv_failed, &o, &e);
    if (rc != MZ_OK && o.result == MZ_KEY_DECIDED) {
        pam_syslog(l->pamh, LOG_ERR, "store: %s", e.msg);
        log_attempt(l, "error", "store unreadable");
        return PAM_AUTHINFO_UNAVAIL;
    }
    if (o.result == MZ_KEY_TIMEOUT || o.result == MZ_KEY_ERROR)
        pam_syslog(l->pamh, LOG_ERR, "yubikey: %s", o.device_error.msg);
    switch (o.result) {
    case MZ_KEY_FALL_BACK:
        if (!o.has_totp && say(l, PAM_TEXT_INFO,
                               _("No YubiKey found. Insert it and log in again, or enter a "
                                 "recovery or emergency code.")) != PAM_SUCCESS)
            return key_denial(l, en, false, MZ_OK, NULL, "conversation failed", NULL, PAM_CONV_ERR);
        l->attempt.method = NULL;
        *fall_back = true;
        *has_totp = o.has_totp;
        return PAM_AUTH_ERR; /* nothing decided yet: the caller asks for a code */
    case MZ_KEY_NO_KEY:
        return key_denial(l, en, true, rc, &e, o.reason,
                          _("Insert your YubiKey, then log in again."), PAM_AUTH_ERR);
    case MZ_KEY_TIMEOUT:
        return key_denial(l, en, true, rc, &e, o.reason,
                          _("The YubiKey was not touched in time. Log in again and touch it "
                            "when asked."),
                          PAM_AUTH_ERR);
    case MZ_KEY_ERROR:
        return key_denial(l, en, true, rc, &e, o.reason,
                          _("The YubiKey cannot be read. Plug it in again, then log in again."),
                          PAM_AUTHINFO_UNAVAIL);
    case MZ_KEY_CONV: return key_denial(l, en, true, rc, &e, o.reason, NULL, PAM_CONV_ERR);
    case MZ_KEY_DECIDED: break;
    }
    rc = conclude(l, o.arc, &e, &o.verdict, &o.last);
    mz_zero_object(&o);
    return rc;
}

/* After start() and open_engine(): the whole exchange, with the key or a typed code. */
static int authenticate(struct login *l, struct engine *en)
{
    mz_err e;
    struct mz_user_status status;

    bool retry;
    int qrc = en->ops->status(en->eng, l->user, l->attempt.now, &status, &e);
    int prc = first_question(l, en, qrc, &e, &retry);
    if (prc != PAM_SUCCESS)
        return prc;
    if (retry)
        qrc = en->ops->status(en->eng, l->user, l->attempt.now, &status, &e);
    if (qrc != MZ_OK) {
        pam_syslog(l->pamh, LOG_ERR, "store: %s", e.msg);
        log_attempt(l, "error", "store unreadable");
        return PAM_AUTHINFO_UNAVAIL;
    }
    if (en->ops->keys(en->eng, &e) != MZ_OK) {
        pam_syslog(l->pamh, LOG_ERR, "key: %s", e.msg);
        log_attempt(l, "error", "key file unusable");
        return PAM_AUTHINFO_UNAVAIL;
    }
    /* after the first question, so that the denial is audited like the others */
    if (!clock_acceptable(l)) {
        record_denial(l, en, "auth", "clock not synchronised");
        say(l, PAM_ERROR_MSG,
            _("The clock of this terminal is not synchronised. Contact your administrator."));
        return PAM_AUTHINFO_UNAVAIL;
    }

    enum mz_user_state state = status.state;
    if (state == MZ_USER_UNKNOWN && l->cfg.unenrolled == MZ_UNENROLLED_IGNORE) {
        /* Allowed only outside zone mynumber (mz_config_validate); still an audited attempt,
         * and an audit log that cannot be written fails the login. */
        const char *reason = "not enrolled; unenrolled = ignore";
        if (en->ops->record(en->eng, &l->attempt, "auth", "ignore", reason, &e) != MZ_OK) {
            pam_syslog(l->pamh, LOG_ERR, "audit: %s", e.msg);
            log_attempt(l, "error", "cannot record the attempt");
            return PAM_SYSTEM_ERR;
        }
        log_attempt(l, "ignore", reason);
        return PAM_IGNORE;
    }
    if (state != MZ_USER_READY) {
        const char *reason = state == MZ_USER_LOCKED    ? "locked out"
                             : state == MZ_USER_UNKNOWN ? "not enrolled"
                             : state == MZ_USER_EXPIRED ? "expired"
                                                        : "no active credential";
        record_denial(l, en, "auth", reason);
        if (state == MZ_USER_LOCKED) {
            say_locked(l, status.locked_until);
            return PAM_MAXTRIES;
        }
        if (state == MZ_USER_EXPIRED) {
            say(l, PAM_ERROR_MSG, _("Your access has expired. Ask your administrator."));
            return PAM_AUTH_ERR;
        }
        say(l, PAM_ERROR_MSG, _("You have no second factor. Ask your administrator to enrol you."));
        return PAM_USER_UNKNOWN;
    }

    int rc;
    bool fall_back = true, has_totp = true;
    if (!have_conversation(l->pamh)) {
        record_denial(l, en, "auth", "conversation failed");
        return PAM_CONV_ERR;
    }
    if (status.has_hwkey) {
        /* the key is on this terminal: mnzoned cannot reach it */
        if (en->ops->key_login == NULL) {
            rc = open_direct(l, en, true);
            if (rc != PAM_SUCCESS)
                return rc;
        }
        rc = key_login(l, en, &fall_back, &has_totp);
        if (!fall_back)
            return rc;
    }

    char *input = NULL;
    rc = ask_code(l->pamh, &input);
    if (rc != PAM_SUCCESS) {
        record_denial(l, en, "auth", "conversation failed");
        return rc;
    }
    if (status.has_hwkey && !has_totp && input[0] == '\0') {
        /* no key, and no one-time code typed either: the key was forgotten */
        mz_free_string(input);
        l->attempt.method = "yubikey";
        return key_denial(l, en, false, MZ_OK, NULL, "no YubiKey plugged in",
                          _("Insert your YubiKey, then log in again."), PAM_AUTH_ERR);
    }
    l->attempt.privileged = is_privileged(l); /* a group lookup may take seconds (LDAP) */
    l->attempt.now = (int64_t)time(NULL);     /* after it and the user's typing */

    struct mz_verdict v;
    struct mz_last_login last;
    int arc = en->ops->attempt(en->eng, &l->attempt, input, &v, &last, &e);
    mz_free_string(input);
    return conclude(l, arc, &e, &v, &last);
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct login l;
    struct engine en;
    int rc = start(&l, pamh, flags, argc, argv);
    if (rc != PAM_SUCCESS) {
        log_attempt(&l, "error", "cannot start");
        return rc;
    }
    rc = open_engine(&l, &en);
    if (rc == PAM_SUCCESS)
        rc = authenticate(&l, &en);
    if (l.cfg.debug)
        pam_syslog(pamh, LOG_DEBUG, "authenticate returns %s (%s engine)", pam_strerror(pamh, rc),
                   en.ops != NULL ? en.ops->name : "no");
    close_engine(&en);
    return rc;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct login l;
    struct engine en;
    mz_err e;
    enum mz_account_state state = MZ_ACCOUNT_UNKNOWN;

    int rc = start(&l, pamh, flags, argc, argv);
    if (rc != PAM_SUCCESS) {
        log_attempt(&l, "error", "cannot start");
        return rc;
    }
    rc = open_engine(&l, &en);
    if (rc != PAM_SUCCESS)
        return rc;
    bool retry;
    int qrc = en.ops->account(en.eng, l.user, l.attempt.now, &state, &e);
    rc = first_question(&l, &en, qrc, &e, &retry);
    if (rc != PAM_SUCCESS)
        goto done;
    if (retry)
        qrc = en.ops->account(en.eng, l.user, l.attempt.now, &state, &e);
    if (qrc != MZ_OK) {
        pam_syslog(pamh, LOG_ERR, "store: %s", e.msg);
        log_attempt(&l, "error", "store unreadable");
        rc = PAM_AUTHINFO_UNAVAIL;
        goto done;
    }
    const char *reason = NULL;
    rc = PAM_SYSTEM_ERR; /* a state not listed below is not a success */
    switch (state) {
    case MZ_ACCOUNT_OK: rc = PAM_SUCCESS; break;
    case MZ_ACCOUNT_UNKNOWN:
    case MZ_ACCOUNT_NO_FACTOR:
        if (state == MZ_ACCOUNT_UNKNOWN && l.cfg.unenrolled == MZ_UNENROLLED_IGNORE) {
            rc = PAM_IGNORE;
            break;
        }
        say(&l, PAM_ERROR_MSG,
            _("You have no second factor. Ask your administrator to enrol you."));
        reason = "account: not enrolled";
        rc = PAM_PERM_DENIED;
        break;
    case MZ_ACCOUNT_SUSPENDED:
    case MZ_ACCOUNT_REVOKED:
        say(&l, PAM_ERROR_MSG, _("Your access has been withdrawn. Ask your administrator."));
        reason = state == MZ_ACCOUNT_REVOKED ? "account: revoked" : "account: suspended";
        rc = PAM_PERM_DENIED;
        break;
    case MZ_ACCOUNT_EXPIRED:
        say(&l, PAM_ERROR_MSG, _("Your access has expired. Ask your administrator."));
        reason = "account: expired";
        rc = PAM_ACCT_EXPIRED;
        break;
    }
    if (reason != NULL)
        record_denial(&l, &en, "account", reason);
done:
    close_engine(&en);
    return rc;
}
