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
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void mz_keep_out_of_core_dumps(void)
{
    const struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

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

void mz_free_bytes(void *buf, size_t len)
{
    if (buf != NULL)
        explicit_bzero(buf, len);
    free(buf);
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

/* One folder on the way to a checked file. Whoever else could write to it could swap
 * what lies below it between our check and our open; an ancestor with the sticky bit
 * (like /tmp) is safe, as others cannot rename what is not theirs. The folder that
 * holds the file must be closed even so, since SQLite creates its -wal and -shm there. */
static int check_folder(const char *dir, const struct stat *st, bool holder, char *bad,
                        size_t bad_len, mz_err *e)
{
    int rc = MZ_OK;
    if (S_ISLNK(st->st_mode)) {
        if (!owner_ok(st->st_uid))
            rc = mz_fail(e, MZ_ERR_PERM, _("%s: a link owned by uid %u; must be owned by root"),
                         dir, (unsigned)st->st_uid);
    } else if (!S_ISDIR(st->st_mode)) {
        rc = mz_fail(e, MZ_ERR_PERM, _("%s: not a directory"), dir);
    } else if (!owner_ok(st->st_uid)) {
        rc = mz_fail(e, MZ_ERR_PERM, _("%s: owned by uid %u; must be owned by root"), dir,
                     (unsigned)st->st_uid);
    } else if ((st->st_mode & (S_IWGRP | S_IWOTH)) && (holder || !(st->st_mode & S_ISVTX))) {
        rc = mz_fail(e, MZ_ERR_PERM, _("%s: writable by group or others; run chmod go-w"), dir);
    }
    if (rc != MZ_OK && bad != NULL)
        snprintf(bad, bad_len, "%s", dir);
    return rc;
}

/* Checks each folder of the absolute path DIR from "/" down, without following links
 * (a link is checked as a link, and *LINKS set; its target is walked by the caller). */
static int walk_folders(const char *dir, bool *links, char *bad, size_t bad_len, mz_err *e)
{
    char prefix[PATH_MAX];
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') /* "//" from dirname: the holder is "/" */
        len--;
    for (size_t i = 0; i <= len; i++) {
        if (i != 0 && dir[i] != '/' && dir[i] != '\0')
            continue;
        if (i != 0 && dir[i - 1] == '/') /* "/" itself, or a doubled slash */
            continue;
        size_t n = i == 0 ? 1 : i;
        memcpy(prefix, dir, n);
        prefix[n] = '\0';
        struct stat st;
        if (lstat(prefix, &st) != 0) {
            if (bad != NULL)
                snprintf(bad, bad_len, "%s", prefix);
            return mz_fail(e, errno == ENOENT ? MZ_ERR_CONFIG : MZ_ERR_PERM,
                           _("%s: cannot stat: %s"), prefix, strerror(errno));
        }
        *links = *links || S_ISLNK(st.st_mode);
        int rc = check_folder(prefix, &st, n == len, bad, bad_len, e);
        if (rc != MZ_OK)
            return rc;
    }
    return MZ_OK;
}

int mz_check_folders(const char *path, char *bad, size_t bad_len, mz_err *e)
{
    char copy[PATH_MAX], dir[PATH_MAX], real[PATH_MAX];
    if (bad != NULL && bad_len > 0)
        bad[0] = '\0';
    if (strlen(path) >= sizeof(copy))
        return mz_fail(e, MZ_ERR_CONFIG, _("%s: path too long"), path);
    strcpy(copy, path);
    const char *parent = dirname(copy);
    if (parent[0] == '/') {
        snprintf(dir, sizeof(dir), "%s", parent);
    } else {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return mz_fail(e, MZ_ERR_PERM, _("%s: cannot find the current folder: %s"), path,
                           strerror(errno));
        if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", cwd, parent) >= sizeof(dir))
            return mz_fail(e, MZ_ERR_CONFIG, _("%s: path too long"), path);
    }
    /* the folders as written (links among them must be root's), then where the links
     * lead: together they are every folder the kernel passes on the way to the file */
    bool links = false;
    int rc = walk_folders(dir, &links, bad, bad_len, e);
    if (rc != MZ_OK || !links) /* without links, the path as written is where it leads */
        return rc;
    if (realpath(dir, real) == NULL) {
        if (bad != NULL)
            snprintf(bad, bad_len, "%s", dir);
        return mz_fail(e, MZ_ERR_PERM, _("%s: cannot resolve: %s"), dir, strerror(errno));
    }
    return walk_folders(real, &links, bad, bad_len, e);
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
    if (localtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
        strftime(buf, len, "%Y-%m-%d", &tm) == 0)
        snprintf(buf, len, "9999-12-31");
}

/* The date of T + OFFSET as "YYYY-MM-DD"; past year 9999 (when the text would no longer
 * sort) or when it cannot be told, "9999-12-31", after every valid_until: expiry fails
 * closed. */
static void utc_date(int64_t t, int32_t offset, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t)(t + offset);
    if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0 ||
        strftime(buf, len, "%Y-%m-%d", &tm) == 0)
        snprintf(buf, len, "9999-12-31");
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* The standard offset of a POSIX TZ string without daylight saving time ("JST-9",
 * "<+09>-9", "UTC0"), as seconds east of UTC; false for one with a DST rule or
 * anything else. */
static bool posix_fixed_offset(const char *s, const char *end, int32_t *offset)
{
    const char *p = s;
    if (p < end && *p == '<') {
        while (p < end && *p != '>')
            p++;
        if (p == end)
            return false;
        p++;
    } else {
        while (p < end && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
            p++;
        if (p - s < 3)
            return false;
    }
    int sign = 1;
    if (p < end && (*p == '+' || *p == '-'))
        sign = *p++ == '-' ? -1 : 1;
    long parts[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        if (p == end || *p < '0' || *p > '9')
            return false;
        while (p < end && *p >= '0' && *p <= '9' && parts[k] < 1000)
            parts[k] = parts[k] * 10 + (*p++ - '0');
        if (p == end || *p != ':')
            break;
        p++;
    }
    if (p != end || parts[0] > 24 || parts[1] > 59 || parts[2] > 59)
        return false; /* more after the offset: a DST rule */
    *offset = (int32_t)(-sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]));
    return true;
}

/* The offset at T in the TZif data BUF (N bytes). Uses the 64-bit block of version 2 and
 * later; after the last transition the footer's rule if it has no DST, else the last
 * transition's type (Debian's zone files list transitions up to 2037). */
static bool tzif_parse(const unsigned char *buf, size_t n, int64_t t, int32_t *offset)
{
    size_t at = 0, tsize = 4;
    for (int block = 0; block < 2; block++) {
        if (n - at < 44 || memcmp(buf + at, "TZif", 4) != 0)
            return false;
        const unsigned char *h = buf + at;
        uint32_t isut = be32(h + 20), isstd = be32(h + 24), leap = be32(h + 28),
                 timecnt = be32(h + 32), typecnt = be32(h + 36), charcnt = be32(h + 40);
        if (isut > 65536 || isstd > 65536 || leap > 65536 || timecnt > 65536 || typecnt > 256 ||
            typecnt == 0 || charcnt > 65536)
            return false;
        size_t data = (size_t)timecnt * (tsize + 1) + (size_t)typecnt * 6 + charcnt +
                      (size_t)leap * (tsize + 4) + isstd + isut;
        if (n - at - 44 < data)
            return false;
        if (block == 0 && h[4] >= '2') { /* skip the 32-bit block for the 64-bit one */
            at += 44 + data;
            tsize = 8;
            continue;
        }
        const unsigned char *times = h + 44, *idx = times + (size_t)timecnt * tsize,
                            *types = idx + timecnt;
        size_t type = 0;
        bool after_last = timecnt == 0;
        for (uint32_t i = 0; i < timecnt; i++) {
            int64_t tr = tsize == 8 ? be64(times + (size_t)i * 8)
                                    : (int64_t)(int32_t)be32(times + (size_t)i * 4);
            if (tr > t)
                break;
            type = idx[i];
            after_last = i + 1 == timecnt;
        }
        if (type >= typecnt)
            return false;
        *offset = (int32_t)be32(types + type * 6);
        const unsigned char *footer = h + 44 + data, *stop = buf + n;
        if (tsize == 8 && after_last && footer < stop && *footer == '\n') {
            const unsigned char *nl = memchr(footer + 1, '\n', (size_t)(stop - footer - 1));
            int32_t fixed;
            if (nl != NULL && nl > footer + 1 &&
                posix_fixed_offset((const char *)footer + 1, (const char *)nl, &fixed))
                *offset = fixed;
        }
        return *offset > -26 * 3600 && *offset < 26 * 3600;
    }
    return false;
}

bool mz_tzif_offset(const char *path, int64_t t, int32_t *offset)
{
    struct stat st;
    *offset = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    unsigned char *buf = NULL;
    size_t got = 0;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
              (st.st_mode & 0022) == 0 && st.st_size > 0 && st.st_size <= 1 << 20 &&
              (buf = malloc((size_t)st.st_size)) != NULL;
    while (ok && got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        ok = r > 0;
        got += ok ? (size_t)r : 0;
    }
    close(fd);
    int32_t off = 0;
    ok = ok && tzif_parse(buf, got, t, &off);
    free(buf);
    *offset = ok ? off : 0;
    return ok;
}

void mz_zone_date(int64_t now, char *buf, size_t len)
{
    int32_t offset;
    mz_tzif_offset("/etc/localtime", now, &offset); /* unreadable: UTC, as libc does */
    utc_date(now, offset, buf, len);
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

bool mz_local_midnight(const char *s, int64_t *out)
{
    struct tm tm;
    if (!mz_valid_date(s))
        return false;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = digits_value(s, 4) - 1900;
    tm.tm_mon = digits_value(s + 5, 2) - 1;
    tm.tm_mday = digits_value(s + 8, 2);
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    *out = (int64_t)t;
    return t != (time_t)-1;
}

size_t mz_utf8_hidden_len(const unsigned char *p)
{
    /* the code point at P (well-formed UTF-8 is assumed: continuation bytes follow); the
     * callers walk bytes, so P may be inside a character: no character starts there */
    if ((p[0] & 0xc0) == 0x80 || p[0] >= 0xf8)
        return 0;
    size_t n = p[0] < 0x80 ? 1 : p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
    uint32_t c = n == 1 ? p[0] : n == 2 ? p[0] & 0x1fu : n == 3 ? p[0] & 0x0fu : p[0] & 0x07u;
    for (size_t i = 1; i < n; i++)
        c = (c << 6) | (p[i] & 0x3fu);
    /* C1 controls, line and paragraph separators, noncharacters U+FFFE/U+FFFF, and
     * Unicode's default-ignorable code points (shown as nothing, or as a blank that
     * looks like no character: soft hyphen, fillers, joiners, direction marks,
     * variation selectors, tags) */
    static const uint32_t hidden[][2] = {
        {0x80, 0x9f},       {0xad, 0xad},       {0x34f, 0x34f},     {0x61c, 0x61c},
        {0x115f, 0x1160},   {0x17b4, 0x17b5},   {0x180b, 0x180f},   {0x200b, 0x200f},
        {0x2028, 0x202e},   {0x2060, 0x206f},   {0x3164, 0x3164},   {0xfe00, 0xfe0f},
        {0xfeff, 0xfeff},   {0xffa0, 0xffa0},   {0xfff0, 0xfff8},   {0xfffe, 0xffff},
        {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0000, 0xe0fff},
    };
    for (size_t k = 0; k < sizeof(hidden) / sizeof(hidden[0]); k++)
        if (c >= hidden[k][0] && c <= hidden[k][1])
            return n;
    return 0;
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
