/* Helpers shared by the cmocka unit tests of the core: private temporary folders, files
 * with exact modes, keys, stores and TOTP codes from liboath (never from mnzone). */
#ifndef MZ_TEST_H
#define MZ_TEST_H

#include "config.h"

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <liboath/oath.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mz_admin.h"
#include "mz_audit.h"
#include "mz_auth.h"
#include "mz_codes.h"
#include "mz_config.h"
#include "mz_crypto.h"
#include "mz_decide.h"
#include "mz_store.h"
#include "mz_totp.h"
#include "mz_util.h"

/* The RFC 6238 Appendix B SHA-1 secret. */
#define MZT_RFC_SECRET "12345678901234567890"
#define MZT_RFC_SECRET_LEN 20

/* A private folder for one test: made by mkdtemp under /tmp, so mode 0700. */
struct mzt_dir {
    char path[PATH_MAX];
};

static inline void mzt_dir_make(struct mzt_dir *d)
{
    snprintf(d->path, sizeof(d->path), "/tmp/mnzone-unit.XXXXXX");
    assert_non_null(mkdtemp(d->path));
    /* mkdtemp promises 0700, whatever the umask; the store checks it. */
    struct stat st;
    assert_int_equal(stat(d->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
}

static inline int mzt_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static inline void mzt_dir_remove(struct mzt_dir *d)
{
    if (d->path[0] != '\0') {
        /* Put the mode back first, so a test that changed it cannot leave a mess. */
        chmod(d->path, 0700);
        nftw(d->path, mzt_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        d->path[0] = '\0';
    }
}

/* DIR/NAME into BUF. */
static inline void mzt_path(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < len);
}

/* Writes LEN bytes to PATH (replacing it) and sets exactly MODE, whatever the umask. */
static inline void mzt_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    const unsigned char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        assert_true(n > 0);
        done += (size_t)n;
    }
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

static inline void mzt_write_text(const char *path, const char *text, mode_t mode)
{
    mzt_write_file(path, text, strlen(text), mode);
}

/* The permission bits of PATH (not following a link). */
static inline mode_t mzt_mode(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

/* A fixed master key, different for each SEED, so tests are reproducible. */
static inline void mzt_master(unsigned char master[MZ_KEY_BYTES], unsigned char seed)
{
    for (int i = 0; i < MZ_KEY_BYTES; i++)
        master[i] = (unsigned char)(seed * 31 + i * 7 + 1);
}

static inline void mzt_keys(struct mz_keys *keys, unsigned char seed)
{
    unsigned char master[MZ_KEY_BYTES];
    mzt_master(master, seed);
    assert_int_equal(sodium_init() >= 0, 1);
    mz_keys_derive(master, keys);
}

/* Writes the key file DIR/NAME (mode 0600) from SEED; its path goes into PATH. */
static inline void mzt_key_file(const char *dir, const char *name, unsigned char seed, char *path,
                                size_t len)
{
    unsigned char master[MZ_KEY_BYTES];
    mzt_master(master, seed);
    mzt_path(path, len, dir, name);
    mzt_write_file(path, master, sizeof(master), 0600);
}

/* Creates a new store DIR/mnzone.db and opens it; its path goes into PATH. */
static inline struct mz_store *mzt_store_create(const char *dir, char *path, size_t len)
{
    struct mz_store *st = NULL;
    mz_err e = {""};
    mzt_path(path, len, dir, "mnzone.db");
    int rc = mz_store_open(path, MZ_STORE_CREATE, &st, &e);
    if (rc != MZ_OK)
        print_error("mz_store_open: %s\n", e.msg);
    assert_int_equal(rc, MZ_OK);
    assert_non_null(st);
    return st;
}

/* Runs SQL on the store's connection; fails the test if SQLite refuses it. */
static inline void mzt_exec(struct mz_store *st, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(mz_store_db(st), sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        print_error("%s: %s\n", sql, msg != NULL ? msg : "?");
    sqlite3_free(msg);
    assert_int_equal(rc, SQLITE_OK);
}

/* The one integer SQL returns. */
static inline int64_t mzt_query_int(struct mz_store *st, const char *sql)
{
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(mz_store_db(st), sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* A staff member with the given login and staff id, active, regular, no end date. */
static inline void mzt_staff(struct mz_staff *s, const char *login, const char *staff_id)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->login, sizeof(s->login), "%s", login);
    snprintf(s->staff_id, sizeof(s->staff_id), "%s", staff_id);
    snprintf(s->name, sizeof(s->name), "%s", "岩手 太郎");
    snprintf(s->dept, sizeof(s->dept), "%s", "市民課");
    s->employment = MZ_EMPLOY_REGULAR;
    s->status = MZ_STAFF_ACTIVE;
    s->created_at = 1700000000;
    snprintf(s->created_by, sizeof(s->created_by), "%s", "admin");
}

/* A TOTP code from liboath's generator (the independent implementation) into CODE. */
static inline void mzt_totp(const uint8_t *secret, size_t len, int64_t now, unsigned period,
                            unsigned digits, char code[16])
{
    assert_int_equal(oath_init(), OATH_OK);
    memset(code, 0, 16);
    int rc =
        oath_totp_generate2((const char *)secret, len, (time_t)now, period, 0, digits, 0, code);
    assert_int_equal(rc, OATH_OK);
    assert_int_equal(strlen(code), digits);
}

/* A well-formed code that liboath does not give for any step from NOW - SPAN to NOW + SPAN
 * periods, so it is wrong for every window up to SPAN. */
static inline void mzt_wrong_totp(const uint8_t *secret, size_t len, int64_t now, unsigned period,
                                  unsigned digits, unsigned span, char code[16])
{
    char right[16];
    mzt_totp(secret, len, now, period, digits, code);
    for (unsigned attempt = 0; attempt < 100; attempt++) {
        /* Change the last digit, then check that no step in the span gives it. */
        code[digits - 1] = (char)('0' + (code[digits - 1] - '0' + 1) % 10);
        bool clash = false;
        for (int64_t k = -(int64_t)span; k <= (int64_t)span; k++) {
            mzt_totp(secret, len, now + k * (int64_t)period, period, digits, right);
            if (strcmp(right, code) == 0)
                clash = true;
        }
        if (!clash)
            return;
    }
    fail_msg("no wrong code found");
}

#endif
