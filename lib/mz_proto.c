#include "config.h"

#include "mz_proto.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void mz_msg_init(struct mz_msg *m)
{
    m->len = 0;
    m->fields = 0;
}

void mz_msg_wipe(struct mz_msg *m)
{
    mz_zero_object(m);
}

static bool valid_key(const char *k, size_t n)
{
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || k[i] == '_'))
            return false;
    return true;
}

static bool valid_value(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return false;
    return true;
}

/* Records the field that starts at BUF+AT (already checked and NUL-terminated). */
static bool index_field(struct mz_msg *m, size_t at)
{
    char *f = m->buf + at;
    char *eq = strchr(f, '=');
    if (eq == NULL || m->fields == MZ_PROTO_FIELDS || !valid_key(f, (size_t)(eq - f)) ||
        !valid_value(eq + 1, strlen(eq + 1)))
        return false;
    *eq = '\0';
    if (mz_msg_get(m, f) != NULL)
        return false; /* a key given twice */
    m->key[m->fields] = f;
    m->value[m->fields] = eq + 1;
    m->fields++;
    return true;
}

bool mz_msg_add(struct mz_msg *m, const char *key, const char *value)
{
    size_t kl = strlen(key), vl = strlen(value);
    if (!valid_key(key, kl) || m->len + kl + 1 + vl + 1 > sizeof(m->buf))
        return false;
    size_t at = m->len;
    memcpy(m->buf + at, key, kl);
    m->buf[at + kl] = '=';
    memcpy(m->buf + at + kl + 1, value, vl + 1);
    if (!index_field(m, at))
        return false;
    m->len += kl + 1 + vl + 1;
    return true;
}

bool mz_msg_add_int(struct mz_msg *m, const char *key, int64_t value)
{
    char text[24];
    snprintf(text, sizeof(text), "%" PRId64, value);
    return mz_msg_add(m, key, text);
}

int mz_msg_parse(struct mz_msg *m, const char *buf, size_t len, mz_err *e)
{
    mz_msg_init(m);
    if (len > sizeof(m->buf) || (len > 0 && buf[len - 1] != '\0'))
        return mz_fail(e, MZ_ERR_INPUT, "malformed message");
    memcpy(m->buf, buf, len);
    m->len = len;
    size_t at = 0;
    while (at < len) {
        /* measured before index_field splits the field at its '=' */
        size_t flen = strlen(m->buf + at);
        if (!index_field(m, at)) {
            mz_msg_wipe(m);
            return mz_fail(e, MZ_ERR_INPUT, "malformed message");
        }
        at += flen + 1;
    }
    return MZ_OK;
}

const char *mz_msg_get(const struct mz_msg *m, const char *key)
{
    for (unsigned i = 0; i < m->fields; i++)
        if (strcmp(m->key[i], key) == 0)
            return m->value[i];
    return NULL;
}

bool mz_msg_get_int(const struct mz_msg *m, const char *key, int64_t min, int64_t max, int64_t *out)
{
    const char *v = mz_msg_get(m, key);
    if (v == NULL || v[0] == '\0' || strlen(v) > 20)
        return false;
    const char *p = v[0] == '-' ? v + 1 : v;
    if (*p == '\0')
        return false;
    for (const char *c = p; *c != '\0'; c++)
        if (*c < '0' || *c > '9')
            return false;
    errno = 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max)
        return false;
    *out = n;
    return true;
}

static int64_t monotonic_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Sends (OUT) or receives LEN bytes whole. Sending uses MSG_NOSIGNAL: a daemon gone
 * mid-request is an error to report, never a SIGPIPE that would kill the login program
 * (sshd, login) the module runs in. Receiving ends at DEADLINE (monotonic ms) however
 * the bytes trickle in: a socket's receive timeout would start again at every byte. */
static int transfer(int fd, void *buf, size_t len, bool out, int64_t deadline, mz_err *e)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = out ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && !out && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int64_t left = deadline - monotonic_ms();
            struct pollfd pfd = {fd, POLLIN, 0};
            int r = left > 0 ? poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) : 0;
            if (r == 0)
                return mz_fail(e, MZ_ERR_STORE, "mnzoned connection: no answer in time");
            if (r < 0 && errno != EINTR)
                return mz_fail(e, MZ_ERR_STORE, "mnzoned connection: %s", strerror(errno));
            continue;
        }
        if (n <= 0)
            return mz_fail(e, MZ_ERR_STORE, "mnzoned connection: %s",
                           n < 0 ? strerror(errno)
                           : out ? "closed"
                                 : "closed early");
        p += n;
        len -= (size_t)n;
    }
    return MZ_OK;
}

size_t mz_msg_frame(const struct mz_msg *m, char frame[MZ_PROTO_FRAME_MAX])
{
    uint32_t len = (uint32_t)m->len;
    memcpy(frame, &len, sizeof(len));
    /* the fields were split at '=' for lookup: put them back for the wire */
    memcpy(frame + sizeof(len), m->buf, m->len);
    for (unsigned i = 0; i < m->fields; i++)
        frame[sizeof(len) + (size_t)(m->value[i] - 1 - m->buf)] = '=';
    return sizeof(len) + m->len;
}

int mz_msg_send(int fd, const struct mz_msg *m, mz_err *e)
{
    char frame[MZ_PROTO_FRAME_MAX];
    int rc = transfer(fd, frame, mz_msg_frame(m, frame), true, 0, e);
    mz_zero_array(frame);
    return rc;
}

int mz_msg_recv(int fd, struct mz_msg *m, unsigned timeout_ms, mz_err *e)
{
    uint32_t len;
    char payload[MZ_PROTO_MAX];
    int64_t deadline = monotonic_ms() + timeout_ms;
    int rc = transfer(fd, &len, sizeof(len), false, deadline, e);
    if (rc != MZ_OK)
        return rc;
    if (len > sizeof(payload))
        return mz_fail(e, MZ_ERR_INPUT, "malformed message");
    rc = transfer(fd, payload, len, false, deadline, e);
    if (rc == MZ_OK)
        rc = mz_msg_parse(m, payload, len, e);
    mz_zero_array(payload);
    return rc;
}

bool mz_proto_put_config(struct mz_msg *m, const struct mz_config *cfg)
{
    return mz_msg_add(m, "store", cfg->store) && mz_msg_add(m, "key_file", cfg->key_file) &&
           mz_msg_add_int(m, "digits", cfg->totp_digits) &&
           mz_msg_add_int(m, "period", cfg->totp_period) &&
           mz_msg_add_int(m, "window", cfg->totp_window) &&
           mz_msg_add_int(m, "max_failures", cfg->max_failures) &&
           mz_msg_add_int(m, "privileged_max_failures", cfg->privileged_max_failures) &&
           mz_msg_add_int(m, "lockout", (int64_t)cfg->lockout);
}

static bool same_int(const struct mz_msg *m, const char *key, int64_t want)
{
    int64_t v;
    return mz_msg_get_int(m, key, INT64_MIN, INT64_MAX, &v) && v == want;
}

bool mz_proto_same_config(const struct mz_msg *m, const struct mz_config *cfg)
{
    const char *store = mz_msg_get(m, "store"), *key = mz_msg_get(m, "key_file");
    return store != NULL && key != NULL && strcmp(store, cfg->store) == 0 &&
           strcmp(key, cfg->key_file) == 0 && same_int(m, "digits", cfg->totp_digits) &&
           same_int(m, "period", cfg->totp_period) && same_int(m, "window", cfg->totp_window) &&
           same_int(m, "max_failures", cfg->max_failures) &&
           same_int(m, "privileged_max_failures", cfg->privileged_max_failures) &&
           same_int(m, "lockout", (int64_t)cfg->lockout);
}

static bool put_opt(struct mz_msg *m, const char *key, const char *value)
{
    return value == NULL || mz_msg_add(m, key, value);
}

bool mz_proto_put_attempt(struct mz_msg *m, const struct mz_attempt *a)
{
    return mz_msg_add(m, "user", a->user) && put_opt(m, "service", a->service) &&
           put_opt(m, "host", a->host) && put_opt(m, "tty", a->tty) &&
           put_opt(m, "rhost", a->rhost) && mz_msg_add_int(m, "privileged", a->privileged) &&
           mz_msg_add_int(m, "now", a->now) && put_opt(m, "actor", a->actor) &&
           put_opt(m, "method", a->method);
}

bool mz_proto_get_attempt(const struct mz_msg *m, struct mz_attempt *a)
{
    int64_t privileged, now;
    memset(a, 0, sizeof(*a));
    a->user = mz_msg_get(m, "user");
    a->service = mz_msg_get(m, "service");
    a->host = mz_msg_get(m, "host");
    a->tty = mz_msg_get(m, "tty");
    a->rhost = mz_msg_get(m, "rhost");
    a->actor = mz_msg_get(m, "actor");
    a->method = mz_msg_get(m, "method");
    if (a->user == NULL || !mz_valid_login(a->user) ||
        !mz_msg_get_int(m, "privileged", 0, 1, &privileged) ||
        !mz_msg_get_int(m, "now", 0, INT64_MAX, &now))
        return false;
    a->privileged = privileged == 1;
    a->now = now;
    if (a->service == NULL)
        a->service = "";
    if (a->host == NULL)
        a->host = "";
    if (a->tty == NULL)
        a->tty = "";
    if (a->rhost == NULL)
        a->rhost = "";
    return true;
}

bool mz_proto_put_input(struct mz_msg *m, const char *input)
{
    static const char digits[] = "0123456789abcdef";
    char hex[2 * (MZ_INPUT_MAX + 1) + 1];
    size_t n = strnlen(input, MZ_INPUT_MAX + 1);
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[(unsigned char)input[i] >> 4];
        hex[2 * i + 1] = digits[(unsigned char)input[i] & 15];
    }
    hex[2 * n] = '\0';
    bool ok = mz_msg_add(m, "input", hex);
    mz_zero_array(hex);
    return ok;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool mz_proto_get_input(const struct mz_msg *m, char *buf)
{
    const char *hex = mz_msg_get(m, "input");
    size_t n = hex != NULL ? strlen(hex) : 0;
    if (hex == NULL || n % 2 != 0 || n / 2 > MZ_INPUT_MAX + 1)
        return false;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            explicit_bzero(buf, i); /* what was decoded so far is part of a typed code */
            return false;
        }
        buf[i] = (char)(hi << 4 | lo);
    }
    buf[n / 2] = '\0';
    return true;
}
