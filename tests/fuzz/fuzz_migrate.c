/* fuzz_migrate: the files read for migration (enroll/migrate.c), which come from the
 * systems being migrated: pam_oath's users file (import --oath-usersfile) and a user's
 * ~/.google_authenticator (import --google-authenticator).
 *
 * The input is written to a private file (both readers take a path), then read with
 * oath_users_read and with google_authenticator_read (totp_period 30).
 * - oath_users_read: on success every entry has a valid login and is either bad (no
 *   secret) or has 10..64 secret bytes, TOTP entries a period of 1..3600 and 6..8
 *   digits; the entries are sorted, oath_users_find finds each login, and an entry
 *   names another line exactly when its login has two. The result must also match a
 *   reference parser written here from the pam_oath file format ("TYPE USER PIN
 *   HEXSECRET ...", # comments; lines without a valid login are passed over, others
 *   that cannot be read are kept as bad) run on the text up to the first NUL byte (as
 *   oath_users_read reads it): same verdict, same entries.
 * - google_authenticator_read: on success the secret is the base32 of the first line
 *   and 10..64 bytes; on failure the whole 64-byte secret buffer is wiped.
 * Known bugs are stepped around unless FUZZ_STRICT=1 (make ... crashers sets it). */
#include "config.h"

#include "fuzz_common.h"

#include "migrate.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

static const char *path;
static bool strict; /* FUZZ_STRICT=1: do not step around the known bugs (see below) */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    path = fuzz_scratch_file("fuzz_migrate", "input");
    const char *st = getenv("FUZZ_STRICT");
    strict = st != NULL && strcmp(st, "1") == 0;
    return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        abort();
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0)
            abort();
        done += (size_t)n;
    }
    close(fd);
}

/* ---- the reference for the pam_oath users file ---- */

struct ref_user {
    char login[33];
    bool totp;
    unsigned period, digits;
    uint8_t secret[MZ_SECRET_MAX];
    size_t len;
    bool bad;
};

static bool ref_number(const char *s, size_t n, unsigned long min, unsigned long max,
                       unsigned long *out)
{
    unsigned long v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > 100000) /* far above every maximum here: no overflow */
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* HOTP, HOTP/E..., HOTP/T<period>[/<digits>]. */
static bool ref_type(const char *t, struct ref_user *u)
{
    unsigned long v;
    u->totp = false;
    u->period = 0;
    u->digits = 6;
    if (strncmp(t, "HOTP", 4) != 0)
        return false;
    t += 4;
    if (*t == '\0' || strncmp(t, "/E", 2) == 0)
        return true;
    if (strncmp(t, "/T", 2) != 0)
        return false;
    t += 2;
    const char *slash = strchr(t, '/');
    size_t n = slash != NULL ? (size_t)(slash - t) : strlen(t);
    if (!ref_number(t, n, 1, 3600, &v))
        return false;
    u->totp = true;
    u->period = (unsigned)v;
    if (slash != NULL) {
        if (!ref_number(slash + 1, strlen(slash + 1), 6, 8, &v))
            return false;
        u->digits = (unsigned)v;
    }
    return true;
}

static int hexdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool ref_hex(const char *h, struct ref_user *u)
{
    size_t n = strlen(h);
    if (n % 2 != 0 || n / 2 > MZ_SECRET_MAX || n / 2 < MZ_SECRET_MIN)
        return false;
    for (size_t i = 0; i < n; i += 2) {
        int a = hexdigit(h[i]), b = hexdigit(h[i + 1]);
        if (a < 0 || b < 0)
            return false;
        u->secret[i / 2] = (uint8_t)(a * 16 + b);
    }
    u->len = n / 2;
    return true;
}

static bool ref_login(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32 || s[0] == '-' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || c == '/' || c == ':' || c == '\\')
            return false;
    }
    return true;
}

/* Parses TEXT (no NUL inside) into USERS (in file order). */
static bool ref_users(char *text, struct ref_user *users, size_t cap, size_t *n)
{
    *n = 0;
    for (char *line = text, *next; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        char *tok[4];
        int nt = 0;
        for (char *p = line; *p != '\0' && nt < 4;) {
            while (*p == ' ' || *p == '\t' || *p == '\r')
                p++;
            if (*p == '\0')
                break;
            tok[nt++] = p;
            while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r')
                p++;
            if (*p != '\0')
                *p++ = '\0';
        }
        if (nt == 0 || tok[0][0] == '#' || nt < 2 || !ref_login(tok[1]))
            continue;
        if (*n == cap)
            abort(); /* CAP is larger than any input has lines */
        struct ref_user *u = &users[(*n)++];
        memset(u, 0, sizeof(*u));
        snprintf(u->login, sizeof(u->login), "%s", tok[1]);
        if (nt < 4 || !ref_type(tok[0], u) || !ref_hex(tok[3], u)) {
            memset(u->secret, 0, sizeof(u->secret));
            u->len = 0;
            u->bad = true;
        }
    }
    return true;
}

static void check_oath(const uint8_t *data, size_t size)
{
    /* The reference reads what oath_users_read reads: the text up to a NUL, if any. */
    size_t cap = 1, n = 0;
    for (size_t i = 0; i < size; i++)
        cap += data[i] == '\n';
    struct ref_user *ref = calloc(cap, sizeof(*ref));
    char *text = fuzz_strdup(data, size);
    if (ref == NULL)
        abort();
    /* a NUL byte anywhere refuses the whole file (migrate.c's slurp) */
    bool ok = ref_users(text, ref, cap, &n) && memchr(data, '\0', size) == NULL;
    free(text);

    struct oath_users u;
    mz_err e;
    memset(&e, 0, sizeof(e));
    int rc = oath_users_read(path, &u, &e);
    FUZZ_CHECK(rc == MZ_OK || rc == MZ_ERR_INPUT || rc == MZ_ERR_NOMEM);
    if (rc != MZ_OK) {
        FUZZ_CHECK(u.v == NULL && u.n == 0);
        FUZZ_CHECK(memchr(e.msg, '\0', sizeof(e.msg)) != NULL);
    }
    for (size_t i = 0; rc == MZ_OK && i < u.n; i++) {
        const struct oath_user *o = &u.v[i];
        FUZZ_CHECK(mz_valid_login(o->login));
        FUZZ_CHECK(o->bad ? o->len == 0 : o->len >= MZ_SECRET_MIN && o->len <= MZ_SECRET_MAX);
        bool twice = (i > 0 && strcmp(u.v[i - 1].login, o->login) == 0) ||
                     (i + 1 < u.n && strcmp(u.v[i + 1].login, o->login) == 0);
        FUZZ_CHECK(twice == (o->also_line != 0));
        FUZZ_CHECK(o->bad || !o->totp || (o->period >= 1 && o->period <= 3600));
        FUZZ_CHECK(o->bad || (o->digits >= 6 && o->digits <= 8));
        FUZZ_CHECK(i == 0 || strcmp(u.v[i - 1].login, o->login) <= 0);
        const struct oath_user *f = oath_users_find(&u, o->login);
        FUZZ_CHECK(f != NULL && strcmp(f->login, o->login) == 0);
    }

    if (rc != MZ_ERR_NOMEM)
        FUZZ_CHECK(ok == (rc == MZ_OK));
    if (ok && rc == MZ_OK) {
        FUZZ_CHECK(n == u.n);
        /* Same entries: each reference entry is found with the same content (a login
         * listed twice may come back as either of its lines). */
        for (size_t i = 0; i < n; i++) {
            bool found = false;
            for (size_t j = 0; j < u.n && !found; j++) {
                const struct oath_user *o = &u.v[j];
                found = strcmp(o->login, ref[i].login) == 0 && o->bad == ref[i].bad &&
                        (o->bad || (o->totp == ref[i].totp && o->period == ref[i].period &&
                                    o->digits == ref[i].digits && o->len == ref[i].len &&
                                    memcmp(o->secret, ref[i].secret, o->len) == 0));
            }
            FUZZ_CHECK(found);
        }
    }
    free(ref);
    if (rc == MZ_OK)
        oath_users_free(&u);
}

static void check_google_authenticator(const uint8_t *data, size_t size)
{
    uint8_t secret[MZ_SECRET_MAX], first[MZ_SECRET_MAX];
    size_t len = 0, flen = 0;
    struct ga_file ga;
    mz_err e;
    memset(secret, 0xa5, sizeof(secret));
    memset(&ga, 0x5a, sizeof(ga));
    int rc = google_authenticator_read(path, 30, secret, &len, &ga, &e);
    unsigned scratch = ga.scratch;
    FUZZ_CHECK(rc == MZ_OK || rc == MZ_ERR_INPUT);
    if (rc != MZ_OK) {
        for (size_t i = 0; i < sizeof(secret); i++)
            FUZZ_CHECK(secret[i] == 0);
        return;
    }
    FUZZ_CHECK(len >= MZ_SECRET_MIN && len <= MZ_SECRET_MAX);
    FUZZ_CHECK(memchr(data, '\0', size) == NULL); /* a NUL byte refuses the file */
    /* The first non-empty line is the secret. */
    char *text = fuzz_strdup(data, size);
    char *line = text + strspn(text, "\r\n");
    line[strcspn(line, "\r\n")] = '\0';
    FUZZ_CHECK(mz_base32_decode(line, first, sizeof(first), &flen));
    FUZZ_CHECK(flen == len && memcmp(first, secret, len) == 0);
    unsigned long lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n' || data[i] == '\r';
    FUZZ_CHECK(scratch <= lines);
    FUZZ_CHECK(ga.last_step >= -1);
    FUZZ_CHECK((ga.dropped & ~7u) == 0);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_input(data, size);
    check_oath(data, size);
    check_google_authenticator(data, size);
    return 0;
}
