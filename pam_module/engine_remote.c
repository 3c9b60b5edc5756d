/* The mnzoned engine: each operation is one request on a new connection to the daemon's
 * socket (daemon_socket). The first question of a login (status, or account) also says
 * whether mnzoned serves this configuration: when nobody answers in time or it serves
 * another configuration, it fails with MZ_ERR_NOUSER, and when the listener is not root
 * with MZ_ERR_PERM; either way the module asks the direct engine instead (nothing was
 * changed). The status reply also
 * tells whether the key file is usable, so a login costs two round trips. After that
 * every failure is an error: the module fails closed. */
#include "config.h"

#include "mz_engine.h"
#include "mz_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct mz_engine {
    struct mz_config cfg;
    int key_rc; /* what status said of the key file */
    mz_err key_err;
    char head[MZ_ENGINE_HEAD_TEXT]; /* the audit head of the last reply that gave one */
};

/* "SEQ:HASH" as mnzoned sends the audit head: 1 to 19 digits, ':', 64 lowercase hex. */
static bool valid_head(const char *s)
{
    size_t digits = strspn(s, "0123456789");
    return digits >= 1 && digits <= 19 && s[digits] == ':' &&
           strspn(s + digits + 1, "0123456789abcdef") == 64 && s[digits + 65] == '\0';
}

/* Bounds connect (a full listen backlog) and send; replies are read within a deadline
 * (mz_msg_recv). */
static void set_send_timeout(int fd, unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A connection to mnzoned, checked to be root's; -1 when there is none, with *WHY
 * MZ_ERR_PERM when something else than root listens there (worth a warning), else
 * MZ_ERR_NOUSER. */
static int dial(const struct mz_config *cfg, unsigned timeout_ms, int *why, mz_err *e)
{
    *why = MZ_ERR_NOUSER;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg->daemon_socket);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        mz_fail(e, MZ_ERR_NOUSER, "mnzoned: socket: %s", strerror(errno));
        return -1;
    }
    set_send_timeout(fd, timeout_ms);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        mz_fail(e, MZ_ERR_NOUSER, "mnzoned: %s: %s", cfg->daemon_socket, strerror(errno));
        close(fd);
        return -1;
    }
    struct ucred peer;
    socklen_t len = sizeof(peer);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 || peer.uid != 0) {
        *why = mz_fail(e, MZ_ERR_PERM, "mnzoned: %s is not served by root: not used",
                       cfg->daemon_socket);
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends REQ (OP, the configuration and what the caller added) and reads REPLY. An
 * error reply's message is copied into *E and its code returned. FIRST: a first
 * question, which changes nothing, so that any failure to get an answer is
 * MZ_ERR_NOUSER, or MZ_ERR_PERM for a listener that is not root (either way: ask the
 * direct engine); else it is an error. */
static int call(struct mz_engine *eng, struct mz_msg *req, struct mz_msg *reply, bool first,
                mz_err *e)
{
    int64_t rc;
    eng->head[0] = '\0';
    if (!mz_proto_put_config(req, &eng->cfg))
        return mz_fail(e, MZ_ERR_INPUT, "mnzoned: request too long");
    unsigned timeout_ms = first ? MZ_PROTO_FIRST_TIMEOUT_MS : MZ_PROTO_REQUEST_TIMEOUT_MS;
    int why;
    int fd = dial(&eng->cfg, timeout_ms, &why, e);
    if (fd < 0)
        return first ? why : MZ_ERR_STORE;
    int r = mz_msg_send(fd, req, e);
    if (r == MZ_OK)
        r = mz_msg_recv(fd, reply, timeout_ms, e);
    close(fd);
    if (r != MZ_OK)
        return first ? MZ_ERR_NOUSER : r;
    if (!mz_msg_get_int(reply, "rc", 0, 100, &rc))
        return mz_fail(e, MZ_ERR_STORE, "mnzoned: malformed reply");
    const char *head = mz_msg_get(reply, "audit");
    if (head != NULL && valid_head(head))
        snprintf(eng->head, sizeof(eng->head), "%s", head);
    if (rc != MZ_OK) {
        const char *msg = mz_msg_get(reply, "msg");
        mz_fail(e, (int)rc, "%s", msg != NULL ? msg : "mnzoned: error without a message");
        if (rc == MZ_ERR_NOUSER && !first) /* "not served" is an answer to first questions only */
            rc = MZ_ERR_STORE;
    }
    return (int)rc;
}

static int start_request(struct mz_msg *req, const char *op)
{
    mz_msg_init(req);
    return mz_msg_add(req, "v", MZ_PROTO_VERSION) && mz_msg_add(req, "op", op);
}

/* A first question about LOGIN at NOW (status, account). */
static bool start_user_request(struct mz_msg *req, const char *op, const char *login, int64_t now)
{
    return start_request(req, op) && mz_msg_add(req, "user", login) &&
           mz_msg_add_int(req, "now", now);
}

static void remote_close(struct mz_engine *eng)
{
    free(eng);
}

static int remote_open(const struct mz_config *cfg, unsigned flags, struct mz_engine **out,
                       mz_err *e)
{
    (void)flags;
    *out = NULL;
    if (cfg->daemon_socket[0] == '\0')
        return mz_fail(e, MZ_ERR_NOUSER, "mnzoned: daemon_socket is empty");
    struct mz_engine *eng = calloc(1, sizeof(*eng));
    if (eng == NULL)
        return mz_fail(e, MZ_ERR_NOMEM, "out of memory");
    eng->cfg = *cfg;
    eng->key_rc = mz_fail(&eng->key_err, MZ_ERR_CRYPTO, "mnzoned: the key file was not checked");
    *out = eng;
    return MZ_OK;
}

static int remote_keys(struct mz_engine *eng, mz_err *e)
{
    if (eng->key_rc != MZ_OK)
        *e = eng->key_err;
    return eng->key_rc;
}

static int remote_status(struct mz_engine *eng, const char *login, int64_t now,
                         struct mz_user_status *out, mz_err *e)
{
    struct mz_msg req, reply;
    int64_t state, until, hw;
    memset(out, 0, sizeof(*out));
    if (!start_user_request(&req, "status", login, now))
        return mz_fail(e, MZ_ERR_INPUT, "mnzoned: request too long");
    int rc = call(eng, &req, &reply, true, e);
    if (rc != MZ_OK)
        return rc;
    int64_t key_rc;
    const char *key_msg = mz_msg_get(&reply, "key_msg");
    if (!mz_msg_get_int(&reply, "key_rc", 0, 100, &key_rc) || key_msg == NULL)
        return mz_fail(e, MZ_ERR_STORE, "mnzoned: malformed reply");
    eng->key_rc = (int)key_rc;
    snprintf(eng->key_err.msg, sizeof(eng->key_err.msg), "%s", key_msg);
    if (!mz_msg_get_int(&reply, "state", MZ_USER_UNKNOWN, MZ_USER_READY, &state) ||
        !mz_msg_get_int(&reply, "locked_until", INT64_MIN, INT64_MAX, &until) ||
        !mz_msg_get_int(&reply, "has_hwkey", 0, 1, &hw))
        return mz_fail(e, MZ_ERR_STORE, "mnzoned: malformed reply");
    out->state = (enum mz_user_state)state;
    out->locked_until = until;
    out->has_hwkey = hw == 1;
    return MZ_OK;
}

static int remote_record(struct mz_engine *eng, const struct mz_attempt *a, const char *event,
                         const char *result, const char *reason, mz_err *e)
{
    struct mz_msg req, reply;
    if (!start_request(&req, "record") || !mz_proto_put_attempt(&req, a) ||
        !mz_msg_add(&req, "event", event) || !mz_msg_add(&req, "result", result) ||
        !mz_msg_add(&req, "reason", reason))
        return mz_fail(e, MZ_ERR_INPUT, "mnzoned: request too long");
    return call(eng, &req, &reply, false, e);
}

static int remote_attempt(struct mz_engine *eng, const struct mz_attempt *a, const char *input,
                          struct mz_verdict *v, struct mz_last_login *last, mz_err *e)
{
    struct mz_msg req, reply;
    int64_t outcome, step, before, locked_now, until, method, at, since;
    memset(v, 0, sizeof(*v));
    memset(last, 0, sizeof(*last));
    v->outcome = MZ_REJECT_ERROR;
    int rc = MZ_ERR_INPUT;
    if (!start_request(&req, "attempt") || !mz_proto_put_attempt(&req, a) ||
        !mz_proto_put_input(&req, input != NULL ? input : "")) {
        mz_fail(e, MZ_ERR_INPUT, "mnzoned: request too long");
        goto done;
    }
    rc = call(eng, &req, &reply, false, e);
    if (rc != MZ_OK)
        goto done;
    const char *host = mz_msg_get(&reply, "last_host"),
               *service = mz_msg_get(&reply, "last_service");
    if (!mz_msg_get_int(&reply, "outcome", MZ_ACCEPT, MZ_REJECT_STALE, &outcome) ||
        !mz_msg_get_int(&reply, "step", INT64_MIN, INT64_MAX, &step) ||
        !mz_msg_get_int(&reply, "failures_before", 0, UINT32_MAX, &before) ||
        !mz_msg_get_int(&reply, "locked_now", 0, 1, &locked_now) ||
        !mz_msg_get_int(&reply, "locked_until", INT64_MIN, INT64_MAX, &until) ||
        !mz_msg_get_int(&reply, "method", MZ_METHOD_TOTP, MZ_METHOD_YUBIKEY, &method) ||
        !mz_msg_get_int(&reply, "last_at", 0, INT64_MAX, &at) ||
        !mz_msg_get_int(&reply, "failures_since", 0, UINT32_MAX, &since) || host == NULL ||
        service == NULL) {
        rc = mz_fail(e, MZ_ERR_STORE, "mnzoned: malformed reply");
        goto done;
    }
    v->outcome = (enum mz_outcome)outcome;
    v->step = step;
    v->failures_before = (unsigned)before;
    v->locked_now = locked_now == 1;
    v->locked_until = until;
    v->method = (enum mz_method)method;
    last->at = at;
    last->failures_since = (unsigned)since;
    snprintf(last->host, sizeof(last->host), "%s", host);
    snprintf(last->service, sizeof(last->service), "%s", service);
done:
    mz_msg_wipe(&req);
    mz_msg_wipe(&reply);
    return rc;
}

static int remote_account(struct mz_engine *eng, const char *login, int64_t now,
                          enum mz_account_state *state, mz_err *e)
{
    struct mz_msg req, reply;
    int64_t s;
    if (!start_user_request(&req, "account", login, now))
        return mz_fail(e, MZ_ERR_INPUT, "mnzoned: request too long");
    int rc = call(eng, &req, &reply, true, e);
    if (rc != MZ_OK)
        return rc;
    if (!mz_msg_get_int(&reply, "state", MZ_ACCOUNT_OK, MZ_ACCOUNT_EXPIRED, &s))
        return mz_fail(e, MZ_ERR_STORE, "mnzoned: malformed reply");
    *state = (enum mz_account_state)s;
    return MZ_OK;
}

static bool remote_audit_head(struct mz_engine *eng, char *out)
{
    snprintf(out, MZ_ENGINE_HEAD_TEXT, "%s", eng->head);
    return out[0] != '\0';
}

const struct mz_engine_ops mz_engine_remote = {
    .name = "mnzoned",
    .open = remote_open,
    .close = remote_close,
    .keys = remote_keys,
    .status = remote_status,
    .record = remote_record,
    .attempt = remote_attempt,
    .account = remote_account,
    .key_login = NULL, /* the key is on this terminal: the direct engine talks to it */
    .audit_head = remote_audit_head,
};
