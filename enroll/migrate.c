#include "config.h"

#include <sodium.h>

#include "migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define USERSFILE_MAX (64L * 1024 * 1024)
#define GA_FILE_MAX 4096

/* Reads all of PATH (a regular file, no link followed, at most MAX bytes) into a
 * NUL-terminated buffer of *SIZE bytes, to be freed with mz_free_bytes (the parsers cut
 * the text with NULs, so its string length says nothing of what it holds). */
static int slurp(const char *path, long max, char **text, size_t *size, mz_err *e)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0)
        return mz_fail(e, MZ_ERR_INPUT, _("%s: cannot open: %s"), path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > max) {
        close(fd);
        return mz_fail(e, MZ_ERR_INPUT, _("%s: not a regular file of at most %ld bytes"), path,
                       max);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    ssize_t n = 1;
    while (buf != NULL && got < (size_t)st.st_size &&
           (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
        got += (size_t)n;
    close(fd);
    if (buf == NULL || n < 0) {
        int err = errno;
        mz_free_bytes(buf, got);
        return mz_fail(e, MZ_ERR_INPUT, _("%s: cannot read: %s"), path, strerror(err));
    }
    buf[got] = '\0';
    if (memchr(buf, '\0', got) != NULL) {
        mz_free_bytes(buf, got);
        return mz_fail(e, MZ_ERR_INPUT, _("%s: contains a NUL byte"), path);
    }
    *text = buf;
    *size = got + 1;
    return MZ_OK;
}

static bool hex_decode(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > cap)
        return false;
    for (size_t i = 0; i < n; i += 2) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[i + (size_t)k];
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                : 16;
            if (d == 16)
                return false;
            v = v * 16 + d;
        }
        out[i / 2] = (uint8_t)v;
    }
    *len = n / 2;
    return true;
}

/* The decimal number at *P (advanced past it) if it is in [MIN, MAX]; leading zeros
 * are fine, and a long run of digits cannot overflow. */
static bool take_number(const char **p, unsigned long min, unsigned long max, unsigned *out)
{
    unsigned long v = 0;
    const char *start = *p;
    for (; **p >= '0' && **p <= '9'; (*p)++)
        v = v > max ? v : v * 10 + (unsigned long)(**p - '0');
    if (*p == start || v < min || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

/* "HOTP/T30/6" -> totp, period 30, digits 6; "HOTP" and "HOTP/E" are counter-based.
 * Parsed in place: nothing is cut, anything unexpected is refused. */
static bool parse_type(const char *type, struct oath_user *u)
{
    u->digits = 6;
    u->period = 0;
    if (strncmp(type, "HOTP", 4) != 0)
        return false;
    const char *p = type + 4;
    if (*p == '\0' || strncmp(p, "/E", 2) == 0)
        return true; /* counter-based (pam_oath: HOTP, HOTP/E, HOTP/E/8) */
    if (strncmp(p, "/T", 2) != 0)
        return false;
    p += 2;
    if (!take_number(&p, 1, 3600, &u->period))
        return false;
    if (*p == '/') {
        p++;
        if (!take_number(&p, 6, 8, &u->digits))
            return false;
    }
    u->totp = true;
    return *p == '\0';
}

static int by_login(const void *a, const void *b)
{
    return strcmp(((const struct oath_user *)a)->login, ((const struct oath_user *)b)->login);
}

int oath_users_read(const char *path, struct oath_users *u, mz_err *e)
{
    char *text = NULL;
    memset(u, 0, sizeof(*u));
    u->path = path;
    size_t size = 0;
    int rc = slurp(path, USERSFILE_MAX, &text, &size, e);
    size_t cap = 0;
    unsigned long lineno = 0;
    char *next = NULL;
    for (char *line = rc == MZ_OK ? text : NULL; rc == MZ_OK && line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        lineno++;
        char *fields[6] = {NULL};
        int nf = 0;
        char *fsave = NULL;
        for (char *f = strtok_r(line, " \t\r", &fsave); f != NULL && nf < 6;
             f = strtok_r(NULL, " \t\r", &fsave))
            fields[nf++] = f;
        if (nf == 0 || fields[0][0] == '#')
            continue;
        if (u->n == cap) {
            cap = cap ? cap * 2 : 64;
            struct oath_user *v = realloc(u->v, cap * sizeof(*v));
            if (v == NULL) {
                rc = mz_fail(e, MZ_ERR_NOMEM, "%s", _("out of memory"));
                break;
            }
            u->v = v;
        }
        /* a line that names nobody who could be in the CSV serves no row */
        if (nf < 2 || !mz_valid_login(fields[1]))
            continue;
        struct oath_user *o = &u->v[u->n];
        memset(o, 0, sizeof(*o));
        o->line = lineno;
        snprintf(o->login, sizeof(o->login), "%s", fields[1]);
        if (nf < 4 || !parse_type(fields[0], o) ||
            !hex_decode(fields[3], o->secret, sizeof(o->secret), &o->len) ||
            o->len < MZ_SECRET_MIN) {
            sodium_memzero(o->secret, sizeof(o->secret));
            o->len = 0;
            o->bad = true;
        }
        u->n++;
    }
    mz_free_bytes(text, size);
    if (rc != MZ_OK)
        oath_users_free(u);
    else if (u->n > 0) /* qsort's array must not be NULL, even for no elements */
        qsort(u->v, u->n, sizeof(*u->v), by_login);
    for (size_t i = 1; rc == MZ_OK && i < u->n; i++)
        if (strcmp(u->v[i].login, u->v[i - 1].login) == 0) {
            u->v[i].also_line = u->v[i - 1].line;
            u->v[i - 1].also_line = u->v[i].line;
        }
    return rc;
}

const struct oath_user *oath_users_find(const struct oath_users *u, const char *login)
{
    struct oath_user key;
    snprintf(key.login, sizeof(key.login), "%s", login);
    return u->n ? bsearch(&key, u->v, u->n, sizeof(*u->v), by_login) : NULL;
}

void oath_users_free(struct oath_users *u)
{
    if (u->v != NULL)
        sodium_memzero(u->v, u->n * sizeof(*u->v));
    free(u->v);
    u->v = NULL;
    u->n = 0;
}

/* The steps after "DISALLOW_REUSE": the newest into *LAST (-1 for none). */
static bool reuse_steps(const char *s, int64_t *last)
{
    while (*s == ' ')
        s++;
    while (*s != '\0') {
        char num[24];
        size_t n = strcspn(s, " ");
        unsigned long v;
        if (n >= sizeof(num))
            return false;
        memcpy(num, s, n);
        num[n] = '\0';
        if (!mz_parse_uint(num, 0, (unsigned long)INT64_MAX / 3600, &v))
            return false;
        if ((int64_t)v > *last)
            *last = (int64_t)v;
        s += n;
        while (*s == ' ')
            s++;
    }
    return true;
}

int google_authenticator_read(const char *path, unsigned period, uint8_t *secret, size_t *len,
                              struct ga_file *info, mz_err *e)
{
    char *text = NULL;
    bool totp = false;
    unsigned long step = 30;
    memset(info, 0, sizeof(*info));
    info->last_step = -1;
    size_t size = 0;
    int rc = slurp(path, GA_FILE_MAX, &text, &size, e);
    char *save = NULL;
    char *line = rc == MZ_OK ? strtok_r(text, "\r\n", &save) : NULL;
    if (rc == MZ_OK && (line == NULL || !mz_base32_decode(line, secret, MZ_SECRET_MAX, len) ||
                        *len < MZ_SECRET_MIN))
        rc = mz_fail(e, MZ_ERR_INPUT, _("%s:1: expected the base32 secret"), path);
    while (rc == MZ_OK && (line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        if (strcmp(line, "\" TOTP_AUTH") == 0)
            totp = true;
        else if (strncmp(line, "\" STEP_SIZE ", 12) == 0 &&
                 !mz_parse_uint(line + 12, 1, 3600, &step))
            rc = mz_fail(e, MZ_ERR_INPUT, _("%s: bad STEP_SIZE"), path);
        else if (strncmp(line, "\" DISALLOW_REUSE", 16) == 0 &&
                 (line[16] == '\0' || line[16] == ' ') && !reuse_steps(line + 16, &info->last_step))
            rc = mz_fail(e, MZ_ERR_INPUT, _("%s: bad DISALLOW_REUSE"), path);
        else if (strncmp(line, "\" WINDOW_SIZE", 13) == 0)
            info->dropped |= GA_WINDOW_SIZE;
        else if (strncmp(line, "\" TIME_SKEW", 11) == 0)
            info->dropped |= GA_TIME_SKEW;
        else if (strncmp(line, "\" RATE_LIMIT", 12) == 0)
            info->dropped |= GA_RATE_LIMIT;
        else if (line[0] != '"')
            info->scratch++;
    }
    if (rc == MZ_OK && !totp)
        rc = mz_fail(e, MZ_ERR_INPUT,
                     _("%s: a counter-based (HOTP) secret cannot be migrated; enrol the user anew"),
                     path);
    if (rc == MZ_OK && step != period)
        rc = mz_fail(e, MZ_ERR_INPUT,
                     _("%s: codes every %lu s, but totp_period is %u; enrol the user anew"), path,
                     step, period);
    mz_free_bytes(text, size);
    if (rc != MZ_OK)
        sodium_memzero(secret, MZ_SECRET_MAX);
    return rc;
}
