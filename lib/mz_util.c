#include "config.h"

#include "mz_util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int mz_fail(mz_err *e, int rc, const char *fmt, ...)
{
    if (e != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
    }
    return rc;
}

void mz_zero_string(char *s)
{
    if (s != NULL)
        explicit_bzero(s, strlen(s));
}

void mz_free_string(char *s)
{
    mz_zero_string(s);
    free(s);
}

int mz_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return MZ_ERR_CRYPTO;
        }
        p += n;
        len -= (size_t)n;
    }
    return MZ_OK;
}

bool mz_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool mz_valid_login(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n == 0 || n > 32 || name[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c == 0x7f || c == '/' || c == ':' || c == '\\')
            return false;
    }
    return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static bool owner_ok(uid_t uid)
{
    return uid == 0 || uid == geteuid();
}

int mz_check_fd(int fd, const char *path, enum mz_file_kind kind, mz_err *e)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return mz_fail(e, MZ_ERR_PERM, _("%s: cannot stat: %s"), path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return mz_fail(e, MZ_ERR_PERM, _("%s: not a regular file"), path);
    if (!owner_ok(st.st_uid))
        return mz_fail(e, MZ_ERR_PERM, _("%s: owned by uid %u; must be owned by root"), path,
                       (unsigned)st.st_uid);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return mz_fail(e, MZ_ERR_PERM, _("%s: writable by group or others; run chmod go-w"), path);
    if (kind == MZ_FILE_SECRET && (st.st_mode & (S_IRGRP | S_IROTH)))
        return mz_fail(e, MZ_ERR_PERM, _("%s: readable by group or others; run chmod 600"), path);
    return MZ_OK;
}

int mz_open_checked(const char *path, int flags, enum mz_file_kind kind, int *fd, mz_err *e)
{
    /* O_NONBLOCK: a FIFO put where a file should be must not hang the login before the
     * type check below refuses it (it changes nothing for regular files). */
    int f = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (f < 0) {
        if (errno == ELOOP)
            return mz_fail(e, MZ_ERR_PERM, _("%s: is a symbolic link; refusing it"), path);
        return mz_fail(e, errno == ENOENT ? MZ_ERR_CONFIG : MZ_ERR_PERM, _("%s: cannot open: %s"),
                       path, strerror(errno));
    }
    int rc = mz_check_fd(f, path, kind, e);
    if (rc != MZ_OK) {
        close(f);
        return rc;
    }
    *fd = f;
    return MZ_OK;
}

int mz_check_parent_dir(const char *path, mz_err *e)
{
    char copy[PATH_MAX];
    if (strlen(path) >= sizeof(copy))
        return mz_fail(e, MZ_ERR_CONFIG, _("%s: path too long"), path);
    strcpy(copy, path);
    const char *dir = dirname(copy);
    struct stat st;
    if (lstat(dir, &st) != 0)
        return mz_fail(e, MZ_ERR_PERM, _("%s: cannot stat: %s"), dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return mz_fail(e, MZ_ERR_PERM, _("%s: not a directory"), dir);
    if (!owner_ok(st.st_uid))
        return mz_fail(e, MZ_ERR_PERM, _("%s: owned by uid %u; must be owned by root"), dir,
                       (unsigned)st.st_uid);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return mz_fail(e, MZ_ERR_PERM, _("%s: writable by group or others; run chmod go-w"), dir);
    return MZ_OK;
}

void mz_iso_time(int64_t t, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "%lld", (long long)t);
}

void mz_local_time(int64_t t, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (localtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
        snprintf(buf, len, "%lld", (long long)t);
}

void mz_local_date(int64_t now, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t)now;
    /* a date that cannot be told is after every valid_until: expiry fails closed */
    if (localtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%d", &tm) == 0)
        snprintf(buf, len, "9999-12-31");
}

/* The value of N decimal digits already known to be digits. */
static int digits_value(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

bool mz_valid_date(const char *s)
{
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = digits_value(s, 4), m = digits_value(s + 5, 2), d = digits_value(s + 8, 2);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap ? 1 : 0);
}

bool mz_valid_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s != '\0') {
        unsigned c = *s;
        int extra;
        unsigned min;
        if (c < 0x80) {
            s++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            extra = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        for (int i = 1; i <= extra; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (s[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        s += extra + 1;
    }
    return true;
}
