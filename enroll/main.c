/* mnzone-enroll: the administrators' tool. Global options, then one subcommand. */
#include "config.h"

#include "enroll.h"

#include <locale.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int enroll_exit_code(int rc)
{
    switch (rc) {
    case MZ_OK: return EXIT_DONE;
    case MZ_ERR_INPUT:
    case MZ_ERR_EXISTS: return EXIT_USAGE;
    case MZ_ERR_NOUSER: return EXIT_NO_USER;
    default: return EXIT_SYSTEM;
    }
}

int enroll_fail(int rc, const mz_err *e)
{
    fprintf(stderr, "mnzone-enroll: %s\n", e->msg);
    return enroll_exit_code(rc);
}

int enroll_usage(const char *command, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "mnzone-enroll%s%s: ", command[0] != '\0' ? " " : "", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s\n", _("Run mnzone-enroll --help for usage."));
    return EXIT_USAGE;
}

int enroll_open(struct enroll *en, bool with_keys)
{
    mz_err e;
    int rc = mz_store_open(en->cfg.store, 0, &en->st, &e);
    if (rc == MZ_OK && with_keys) {
        rc = mz_keys_load(en->cfg.key_file, &en->keys, &e);
        en->keys_loaded = rc == MZ_OK;
    }
    if (rc != MZ_OK) {
        enroll_close(en);
        fprintf(stderr, "mnzone-enroll: %s\n", e.msg);
        return EXIT_SYSTEM;
    }
    return EXIT_DONE;
}

void enroll_close(struct enroll *en)
{
    mz_store_close(en->st);
    en->st = NULL;
    if (en->keys_loaded)
        mz_keys_wipe(&en->keys);
    en->keys_loaded = false;
}

int enroll_audit(struct enroll *en, const char *event, const char *method, const char *user,
                 const char *reason, mz_err *e)
{
    const char *tty = ttyname(STDIN_FILENO);
    struct mz_event ev = {
        en->host,  "mnzone-enroll", tty != NULL ? tty : "", "", user, en->actor, event, method,
        "success", reason};
    return mz_audit_append(en->st, &en->keys, &ev, en->now, e);
}

/* The acting administrator: SUDO_USER when it names a valid login, else the real user. */
static void find_actor(char *buf, size_t len)
{
    const char *sudo = getenv("SUDO_USER");
    if (sudo != NULL && mz_valid_login(sudo)) {
        snprintf(buf, len, "%s", sudo);
        return;
    }
    struct passwd *pw = getpwuid(getuid());
    if (pw != NULL && mz_valid_login(pw->pw_name))
        snprintf(buf, len, "%s", pw->pw_name);
    else
        snprintf(buf, len, "uid:%u", (unsigned)getuid());
}

/* One line of help per command: each translated on its own, so that adding a command
 * adds one message to translate, not a new copy of the whole text. */
static const char *const usage_lines[][2] = {
    {"init", N_("create the store and the key file")},
    {"add USER --staff-id ID --name NAME [options]", N_("enrol a staff member (TOTP, QR code)")},
    {"add USER [--staff-id ID --name NAME ...] --method yubikey [--program]",
     N_("bind a YubiKey (to a new or an enrolled staff member)")},
    {"reset USER [options]", N_("new TOTP secret; the old one is revoked")},
    {"reset USER --method yubikey [--program]", N_("a new YubiKey; the old one is revoked")},
    {"show USER [--json]", N_("the record, credentials and login state")},
    {"list [--status S] [--json|--csv]", N_("one line per staff member")},
    {"export --json", N_("the whole register as JSON (no secrets)")},
    {"revoke USER --reason TEXT", N_("withdraw every credential and code now")},
    {"unlock USER", N_("clear a lock-out")},
    {"recovery-codes USER [--json]", N_("a new set of recovery codes (old set voided)")},
    {"emergency USER --hours N --reason TEXT [--json]",
     N_("one emergency code valid N hours (1-168)")},
    {"verify USER [CODE] [--json]", N_("check a code as a login would (it is used up)")},
    {"import --csv FILE [--qr-dir DIR] [--oath-usersfile FILE] [--json]",
     N_("enrol many staff at once: all rows or none")},
    {"import --google-authenticator FILE --user USER --staff-id ID --name NAME",
     N_("migrate one secret from google-authenticator")},
    {"audit list|export [--since DATE] [--user USER] [--json]", N_("show or export the audit log")},
    {"audit verify [--expect-head SEQ:HASH] [--json]", N_("check the audit log's hash chain")},
    {"report [--format text|json|csv|html] [--since DATE] [--until DATE]",
     N_("self-inspection report (自己点検)")},
    {"check [--pam-dir DIR] [--sshd-config FILE] [--json]",
     N_("check configuration, file modes and PAM stacks")},
};

static void help(void)
{
    printf("%s\n\n%s\n", _("Usage: mnzone-enroll [--config PATH] COMMAND [ARGS]"), _("Commands:"));
    for (size_t i = 0; i < sizeof(usage_lines) / sizeof(usage_lines[0]); i++)
        printf("  %s\n      %s\n", usage_lines[i][0], _(usage_lines[i][1]));
    printf("\n%s\n%s\n",
           _("Exit codes: 0 done, 1 check failed, 2 usage or bad input, 3 no such user, "
             "4 configuration, permission or store error."),
           _("See mnzone-enroll(8)."));
}

struct command {
    const char *name;
    int (*run)(struct enroll *, int, char **);
};

static const struct command commands[] = {
    {"init", cmd_init},           {"add", cmd_add},
    {"reset", cmd_reset},         {"show", cmd_show},
    {"list", cmd_list},           {"revoke", cmd_revoke},
    {"unlock", cmd_unlock},       {"recovery-codes", cmd_recovery_codes},
    {"emergency", cmd_emergency}, {"verify", cmd_verify},
    {"import", cmd_import},       {"export", cmd_export},
    {"audit", cmd_audit},         {"report", cmd_report},
    {"check", cmd_check},
};

int main(int argc, char **argv)
{
    struct enroll en;
    mz_err e;
    memset(&en, 0, sizeof(en));
    mz_keep_out_of_core_dumps();
    setlocale(LC_ALL, "");
    bindtextdomain(MZ_TEXTDOMAIN, LOCALEDIR);
    textdomain(MZ_TEXTDOMAIN);

    int i = 1;
    en.config_path = MZ_DEFAULT_CONFIG;
    bool named = false;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help();
            return EXIT_DONE;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("mnzone-enroll %s\n", PACKAGE_VERSION);
            return EXIT_DONE;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            en.config_path = argv[++i];
            named = true;
        } else {
            return enroll_usage("", _("unknown option %s"), argv[i]);
        }
    }
    if (i >= argc)
        return enroll_usage("", "%s", _("no command given"));

    const struct command *cmd = NULL;
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
        if (strcmp(argv[i], commands[c].name) == 0)
            cmd = &commands[c];
    if (cmd == NULL)
        return enroll_usage("", _("unknown command %s"), argv[i]);

    mz_config_defaults(&en.cfg);
    int rc = mz_crypto_init(&e);
    if (rc != MZ_OK) {
        fprintf(stderr, "mnzone-enroll: %s\n", e.msg);
        return EXIT_SYSTEM;
    }
    if (rc == MZ_OK)
        rc = mz_config_load_file(&en.cfg, en.config_path, named, &e);
    if (rc == MZ_OK)
        rc = mz_config_validate(&en.cfg, &e);
    /* check reads the configuration itself: a broken one is what it reports. */
    if (rc != MZ_OK && cmd->run != cmd_check) {
        fprintf(stderr, "mnzone-enroll: %s\n", e.msg);
        return EXIT_SYSTEM;
    }
    find_actor(en.actor, sizeof(en.actor));
    if (gethostname(en.host, sizeof(en.host) - 1) != 0)
        snprintf(en.host, sizeof(en.host), "unknown");
    en.now = (int64_t)time(NULL);

    /* getopt_long in the commands expects the command name as argv[0]. */
    int status = cmd->run(&en, argc - i, argv + i);
    enroll_close(&en);
    return status;
}
