/* mnzoned: keeps the store open for the PAM module, so that a login costs one
 * transaction instead of loading SQLite and opening the store in every login process.
 *
 * One request per connection, served one at a time with the direct engine (the same
 * code the module runs when mnzoned is not there). Only root may connect. The daemon
 * serves the configuration in its file: a request made under another one is refused
 * (the module then uses its direct engine). The store and the key file are looked at
 * again at every request (one stat each), so a replaced store or key, or a changed mode,
 * is seen at once and checked as at the first open. */
#include "config.h"

#include "mz_engine.h"
#include "mz_proto.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* The age is counted in whole seconds (up to 1 s more than it says), and after the lock
 * comes the commit (writes, fsync, a checkpoint of up to 1000 pages): a second for both. */
_Static_assert((MZ_PROTO_ATTEMPT_MAX_AGE_S + 1) * 1000 + MZ_BUSY_TIMEOUT_MS + 1000 <=
                   MZ_PROTO_REQUEST_TIMEOUT_MS,
               "an attempt mnzoned decides must be answered before the module stops waiting");

static volatile sig_atomic_t stopping;

struct daemon {
    const char *config_path;
    struct stat config_st; /* of the file when it was read */
    struct mz_config cfg;
    struct mz_engine *eng;
    struct stat store_st; /* of the store when it was opened */
    struct stat key_st;   /* of the key file when its keys were last read */
};

static void say(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool to_stderr = true;

static void say(int prio, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    syslog(prio, "%s", text);
    if (to_stderr)
        fprintf(stderr, "mnzoned: %s\n", text);
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_mode == b->st_mode &&
           a->st_uid == b->st_uid && a->st_gid == b->st_gid;
}

/* True when B is A unchanged: the same file, owner, mode, size and times. */
static bool unchanged(const struct stat *a, const struct stat *b)
{
    return same_file(a, b) && a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void close_store(struct daemon *d)
{
    mz_engine_direct.close(d->eng);
    d->eng = NULL;
}

/* Reads the configuration file when it changed (or first). */
static int load_config(struct daemon *d, mz_err *e)
{
    struct stat st;
    if (stat(d->config_path, &st) != 0)
        return mz_fail(e, MZ_ERR_CONFIG, _("cannot read %s: %s"), d->config_path, strerror(errno));
    if (d->config_st.st_ino != 0 && unchanged(&st, &d->config_st))
        return MZ_OK;
    struct mz_config cfg;
    mz_config_defaults(&cfg);
    int rc = mz_config_load_file(&cfg, d->config_path, true, e);
    if (rc == MZ_OK)
        rc = mz_config_validate(&cfg, e);
    if (rc != MZ_OK) {
        d->config_st.st_ino = 0; /* read it again next time */
        return rc;
    }
    close_store(d); /* the engine decides with the configuration it was opened with */
    d->cfg = cfg;
    d->config_st = st;
    return MZ_OK;
}

/* Opens the store, or opens it again when the file was replaced or its owner or mode
 * changed (the open checks them); the key file is read again when it changed. FIRST:
 * a login's first question, when the folders on the way are walked again. */
static int ready_store(struct daemon *d, bool first, mz_err *e)
{
    struct stat st;
    /* the folders on the way, as a login without mnzoned checks them when it opens the
     * store: one that others can now write is refused although the open files are still
     * ours. Once per login (a dozen lstat calls each time, a tenth of the daemon's time
     * if done at every request). */
    int rc = MZ_OK;
    if (first && ((rc = mz_check_folders(d->cfg.store, NULL, 0, e)) != MZ_OK ||
                  (rc = mz_check_folders(d->cfg.key_file, NULL, 0, e)) != MZ_OK))
        return rc;
    /* lstat: a link put in the store's place is a change, and the open refuses it */
    if (d->eng != NULL && (lstat(d->cfg.store, &st) != 0 || !same_file(&st, &d->store_st)))
        close_store(d);
    if (d->eng == NULL) {
        /* the file as it was before the open and after it: one replaced in between is not
         * taken for the one opened */
        struct stat before;
        if (lstat(d->cfg.store, &before) != 0)
            return mz_fail(e, MZ_ERR_STORE, _("cannot read %s: %s"), d->cfg.store, strerror(errno));
        rc = mz_engine_direct.open(&d->cfg, MZ_ENGINE_RESIDENT, &d->eng, e);
        if (rc != MZ_OK)
            return rc;
        if (lstat(d->cfg.store, &d->store_st) != 0 || !same_file(&before, &d->store_st)) {
            close_store(d);
            return mz_fail(e, MZ_ERR_STORE, _("%s: replaced while it was opened"), d->cfg.store);
        }
    }
    /* the key file is read again when anything about it changed (a new key, its mode, a
     * link put in its place): the read checks it */
    if (lstat(d->cfg.key_file, &st) != 0)
        memset(&st, 0, sizeof(st));
    if (st.st_ino == 0 || !unchanged(&st, &d->key_st)) {
        mz_engine_direct_forget_keys(d->eng);
        d->key_st = st;
    }
    return MZ_OK;
}

static bool reply_error(struct mz_msg *reply, int rc, const mz_err *e)
{
    mz_msg_init(reply);
    return mz_msg_add_int(reply, "rc", rc) && mz_msg_add(reply, "msg", e->msg);
}

static bool get_user(const struct mz_msg *req, const char **user, int64_t *now)
{
    *user = mz_msg_get(req, "user");
    return *user != NULL && mz_valid_login(*user) && mz_msg_get_int(req, "now", 0, INT64_MAX, now);
}

static int serve_status(struct daemon *d, const struct mz_msg *req, struct mz_msg *reply, mz_err *e)
{
    const char *user;
    int64_t now;
    struct mz_user_status s;
    if (!get_user(req, &user, &now))
        return mz_fail(e, MZ_ERR_INPUT, "mnzoned: malformed request");
    int rc = mz_engine_direct.status(d->eng, user, now, &s, e);
    if (rc != MZ_OK)
        return rc;
    /* and whether the key file is usable, which the module asks next */
    mz_err ke = {{0}};
    int krc = mz_engine_direct.keys(d->eng, &ke);
    if (!(mz_msg_add_int(reply, "state", s.state) &&
          mz_msg_add_int(reply, "locked_until", s.locked_until) &&
          mz_msg_add_int(reply, "has_hwkey", s.has_hwkey) && mz_msg_add_int(reply, "key_rc", krc) &&
          mz_msg_add(reply, "key_msg", ke.msg)))
        rc = mz_fail(e, MZ_ERR_INPUT, "mnzoned: reply too long");
    return rc;
}

/* Adds the audit head after the event just written, for the module's syslog line. */
static bool add_head(struct daemon *d, struct mz_msg *reply)
{
    char head[MZ_ENGINE_HEAD_TEXT];
    return !mz_engine_direct.audit_head(d->eng, head) || mz_msg_add(reply, "audit", head);
}

static int serve_record(struct daemon *d, const struct mz_msg *req, struct mz_msg *reply, mz_err *e)
{
    struct mz_attempt a;
    const char *event = mz_msg_get(req, "event"), *result = mz_msg_get(req, "result"),
               *reason = mz_msg_get(req, "reason");
    if (!mz_proto_get_attempt(req, &a) || event == NULL || result == NULL || reason == NULL ||
        (strcmp(event, "auth") != 0 && strcmp(event, "account") != 0) ||
        (strcmp(result, "failure") != 0 && strcmp(result, "ignore") != 0))
        return mz_fail(e, MZ_ERR_INPUT, "mnzoned: malformed request");
    int rc = mz_engine_direct.record(d->eng, &a, event, result, reason, e);
    if (rc == MZ_OK && !add_head(d, reply))
        rc = mz_fail(e, MZ_ERR_INPUT, "mnzoned: reply too long");
    return rc;
}

/* Control characters become '?': the protocol refuses them, and a stored value (written
 * by a module that did not clean the service name) must not fail a reply after the
 * attempt was committed. */
static void clean_value(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

static int serve_attempt(struct daemon *d, const struct mz_msg *req, struct mz_msg *reply,
                         mz_err *e)
{
    struct mz_attempt a;
    struct mz_verdict v;
    struct mz_last_login last;
    char input[MZ_PROTO_INPUT_CAP];
    if (!mz_proto_get_attempt(req, &a) || !mz_proto_get_input(req, input))
        return mz_fail(e, MZ_ERR_INPUT, "mnzoned: malformed request");
    int64_t age = (int64_t)time(NULL) - a.now;
    if (age > MZ_PROTO_ATTEMPT_MAX_AGE_S || age < -MZ_PROTO_ATTEMPT_MAX_AGE_S) {
        mz_zero_array(input);
        return mz_fail(e, MZ_ERR_STORE,
                       "mnzoned: an attempt made %lld s from now was not decided (it waited "
                       "too long, or the clocks differ)",
                       (long long)-age);
    }
    memset(&last, 0, sizeof(last));
    int rc = mz_engine_direct.attempt(d->eng, &a, input, &v, &last, e);
    mz_zero_array(input);
    if (rc == MZ_OK) {
        clean_value(last.host);
        clean_value(last.service);
    }
    if (rc == MZ_OK &&
        !(mz_msg_add_int(reply, "outcome", v.outcome) && mz_msg_add_int(reply, "step", v.step) &&
          mz_msg_add_int(reply, "failures_before", v.failures_before) &&
          mz_msg_add_int(reply, "locked_now", v.locked_now) &&
          mz_msg_add_int(reply, "locked_until", v.locked_until) &&
          mz_msg_add_int(reply, "method", v.method) && mz_msg_add_int(reply, "last_at", last.at) &&
          mz_msg_add_int(reply, "failures_since", last.failures_since) &&
          mz_msg_add(reply, "last_host", last.host) &&
          mz_msg_add(reply, "last_service", last.service) && add_head(d, reply)))
        rc = mz_fail(e, MZ_ERR_INPUT, "mnzoned: reply too long");
    return rc;
}

static int serve_account(struct daemon *d, const struct mz_msg *req, struct mz_msg *reply,
                         mz_err *e)
{
    const char *user;
    int64_t now;
    enum mz_account_state state;
    if (!get_user(req, &user, &now))
        return mz_fail(e, MZ_ERR_INPUT, "mnzoned: malformed request");
    int rc = mz_engine_direct.account(d->eng, user, now, &state, e);
    if (rc == MZ_OK && !mz_msg_add_int(reply, "state", state))
        rc = mz_fail(e, MZ_ERR_INPUT, "mnzoned: reply too long");
    return rc;
}

/* Answers one request REQ into REPLY. */
static void serve(struct daemon *d, const struct mz_msg *req, struct mz_msg *reply)
{
    mz_err e = {{0}};
    const char *v = mz_msg_get(req, "v"), *op = mz_msg_get(req, "op");
    int rc = MZ_OK;
    mz_msg_init(reply);
    mz_msg_add_int(reply, "rc", 0);
    /* a module of another version (an upgrade under way) asks its direct engine */
    if (v == NULL || strcmp(v, MZ_PROTO_VERSION) != 0 || op == NULL)
        rc = mz_fail(&e, MZ_ERR_NOUSER, "mnzoned: unknown protocol version");
    /* a login's first question: read the configuration again if its file changed; if it
     * cannot be read now, the module's own reading of it decides, not this daemon */
    bool first = rc == MZ_OK && (strcmp(op, "status") == 0 || strcmp(op, "account") == 0);
    if (first && load_config(d, &e) != MZ_OK) {
        say(LOG_ERR, "%s", e.msg);
        rc = MZ_ERR_NOUSER;
    }
    if (rc == MZ_OK && !mz_proto_same_config(req, &d->cfg))
        rc =
            mz_fail(&e, MZ_ERR_NOUSER, "mnzoned serves another configuration (%s)", d->config_path);
    if (rc == MZ_OK) {
        rc = ready_store(d, first, &e);
        /* a store it cannot use now is the module's to judge, exactly as without mnzoned */
        if (rc != MZ_OK && first) {
            say(LOG_ERR, "%s", e.msg);
            rc = MZ_ERR_NOUSER;
        }
    }
    if (rc == MZ_OK) {
        if (strcmp(op, "status") == 0)
            rc = serve_status(d, req, reply, &e);
        else if (strcmp(op, "record") == 0)
            rc = serve_record(d, req, reply, &e);
        else if (strcmp(op, "attempt") == 0)
            rc = serve_attempt(d, req, reply, &e);
        else if (strcmp(op, "account") == 0)
            rc = serve_account(d, req, reply, &e);
        else
            rc = mz_fail(&e, MZ_ERR_INPUT, "mnzoned: unknown request");
    }
    if (rc != MZ_OK) {
        if (rc != MZ_ERR_NOUSER) /* another configuration is the module's to handle */
            say(LOG_ERR, "%s", e.msg);
        reply_error(reply, rc, &e);
    }
}

static void serve_connection(struct daemon *d, int fd)
{
    struct ucred peer;
    socklen_t len = sizeof(peer);
    struct mz_msg req, reply;
    mz_err e;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 || peer.uid != 0)
        return; /* only root's logins may ask */
    /* the reply is small and the client waits for it: the send timeout is a safeguard */
    struct timeval tv = {MZ_PROTO_READ_TIMEOUT_MS / 1000, (MZ_PROTO_READ_TIMEOUT_MS % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (mz_msg_recv(fd, &req, MZ_PROTO_READ_TIMEOUT_MS, &e) == MZ_OK) {
        serve(d, &req, &reply);
        if (mz_msg_send(fd, &reply, &e) != MZ_OK)
            say(LOG_WARNING, "%s", e.msg);
        mz_msg_wipe(&reply);
    } else {
        say(LOG_WARNING, "%s", e.msg);
    }
    mz_msg_wipe(&req);
}

/* After a failure to wait or accept (too many open files, no memory): said once a
 * second at most, and a short pause instead of a busy loop. */
static void pause_after(const char *what)
{
    static time_t said;
    time_t now = time(NULL);
    if (now != said) {
        say(LOG_ERR, "%s: %s", what, strerror(errno));
        said = now;
    }
    struct timespec nap = {0, 100 * 1000 * 1000};
    nanosleep(&nap, NULL);
}

/* True when something accepts connections on the socket PATH. */
static bool answered(const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool yes = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return yes;
}

/* Binds the socket: its folder must be root's and closed to others (made if missing);
 * an old socket left by a stopped daemon is replaced; one that another mnzoned still
 * answers on, or anything else, is an error. Returns the socket, or -1 with *E set. */
static int listen_on(const char *path, mz_err *e)
{
    char copy[MZ_SOCKET_PATH_MAX];
    struct stat st;
    snprintf(copy, sizeof(copy), "%s", path);
    const char *dir = dirname(copy);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        mz_fail(e, MZ_ERR_PERM, _("cannot create %s: %s"), dir, strerror(errno));
        return -1;
    }
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
        (st.st_mode & 0022) != 0) {
        mz_fail(e, MZ_ERR_PERM, _("%s must be a folder owned by root, not writable by others"),
                dir);
        return -1;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            mz_fail(e, MZ_ERR_PERM, _("%s exists and is not a socket"), path);
            return -1;
        }
        if (answered(path)) {
            mz_fail(e, MZ_ERR_PERM, _("another mnzoned is running on %s"), path);
            return -1;
        }
        unlink(path);
    }
    /* non-blocking: a connection gone between ppoll and accept must not block accept */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    mode_t old = umask(0177);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 128) == 0;
    umask(old);
    if (!ok) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        mz_fail(e, MZ_ERR_PERM, _("cannot listen on %s: %s"), path, strerror(err));
        return -1;
    }
    return fd;
}

static void usage(FILE *out)
{
    fprintf(out, "%s",
            _("Usage: mnzoned [--config PATH]\n"
              "Keeps the mnzone store open for pam_mnzone (runs in the foreground).\n"));
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    struct daemon d;
    mz_err e;
    int c;
    mz_keep_out_of_core_dumps(); /* it holds the key */
    setlocale(LC_ALL, "");
    bindtextdomain(MZ_TEXTDOMAIN, LOCALEDIR);
    memset(&d, 0, sizeof(d));
    d.config_path = MZ_DEFAULT_CONFIG;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': d.config_path = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("mnzoned %s\n", PACKAGE_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    openlog("mnzoned", LOG_PID, LOG_AUTHPRIV);
    if (mz_crypto_init(&e) != MZ_OK || load_config(&d, &e) != MZ_OK ||
        ready_store(&d, true, &e) != MZ_OK) {
        say(LOG_ERR, "%s", e.msg);
        close_store(&d);
        return 4;
    }
    if (d.cfg.daemon_socket[0] == '\0') {
        say(LOG_ERR, "%s", _("daemon_socket is empty in the configuration: nothing to serve"));
        close_store(&d);
        return 4;
    }
    /* Before the socket exists: a signal from then on must find its handler. The stop
     * signals are blocked except while waiting for a connection (ppoll), so that one
     * arriving between the check of STOPPING and the wait is not lost until the next
     * connection, and a request being served is finished first. */
    struct sigaction sa;
    sigset_t stop_signals, waiting;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP); /* nothing to reload: the configuration is watched */
    sigprocmask(SIG_BLOCK, &stop_signals, &waiting);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int lfd = listen_on(d.cfg.daemon_socket, &e);
    if (lfd < 0) {
        say(LOG_ERR, "%s", e.msg);
        close_store(&d);
        return 4;
    }
    char socket_path[MZ_SOCKET_PATH_MAX];
    snprintf(socket_path, sizeof(socket_path), "%s", d.cfg.daemon_socket);
    say(LOG_INFO, "serving %s on %s", d.cfg.store, socket_path);
    to_stderr = false;
    while (!stopping) {
        struct pollfd pfd = {lfd, POLLIN, 0};
        if (ppoll(&pfd, 1, NULL, &waiting) < 0) {
            if (errno != EINTR)
                pause_after("poll");
            continue;
        }
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN)
                pause_after("accept");
            continue;
        }
        serve_connection(&d, fd);
        close(fd);
    }
    close(lfd);
    unlink(socket_path);
    close_store(&d);
    say(LOG_INFO, "stopped");
    return 0;
}
