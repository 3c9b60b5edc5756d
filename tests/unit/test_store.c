/* Unit tests of lib/mz_store.c and lib/mz_auth.c: the SQLite store, its file checks,
 * staff and credentials, login state, one login attempt end to end with an injected
 * time, and the account decision. Codes come from liboath. */
#include "mz_test.h"

#include <sys/wait.h>
#include <time.h>

#define T0 ((int64_t)1700000010)
#define PERIOD 30u

struct fx {
    struct mzt_dir dir;
    char path[PATH_MAX];
    struct mz_store *st;
    struct mz_keys keys;
    uint8_t secret[MZ_SECRET_BYTES];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    mzt_dir_make(&f->dir);
    mzt_keys(&f->keys, 1);
    for (size_t i = 0; i < sizeof(f->secret); i++)
        f->secret[i] = (uint8_t)(0xc3 ^ (i * 29));
    f->st = mzt_store_create(f->dir.path, f->path, sizeof(f->path));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    mz_store_close(f->st);
    mzt_dir_remove(&f->dir);
    free(f);
    return 0;
}

/* mz_auth_status's state and lock end, for the tests that look at those two. */
static int status_of(struct mz_store *st, const char *login, int64_t now, enum mz_user_state *us,
                     int64_t *until, mz_err *e)
{
    struct mz_user_status status;
    int rc = mz_auth_status(st, login, now, &status, e);
    *us = status.state;
    *until = status.locked_until;
    assert_false(status.has_hwkey); /* these tests enrol TOTP only */
    return rc;
}

static void add_staff(struct fx *f, const char *login, const char *staff_id)
{
    struct mz_staff s;
    mz_err e = {""};
    mzt_staff(&s, login, staff_id);
    int rc = mz_store_add_staff(f->st, &s, &e);
    if (rc != MZ_OK)
        print_error("%s\n", e.msg);
    assert_int_equal(rc, MZ_OK);
}

static void add_totp(struct fx *f, const char *login, const uint8_t *secret, int64_t last_step)
{
    mz_err e = {""};
    int rc = mz_store_add_totp(f->st, &f->keys, login, secret, MZ_SECRET_BYTES, last_step,
                               T0 - 86400, "admin", &e);
    if (rc != MZ_OK)
        print_error("%s\n", e.msg);
    assert_int_equal(rc, MZ_OK);
}

/* Staff member LOGIN with the fixture's secret. */
static void enrol(struct fx *f, const char *login, const char *staff_id)
{
    add_staff(f, login, staff_id);
    add_totp(f, login, f->secret, -1);
}

static void code_at(const struct fx *f, int64_t now, char code[16])
{
    mzt_totp(f->secret, sizeof(f->secret), now, PERIOD, 6, code);
}

/* --- opening ------------------------------------------------------------------------ */

static void test_create_and_reopen(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_staff s;
    assert_int_equal(mzt_mode(f->path), 0600);
    add_staff(f, "taro", "A-001");
    mz_store_close(f->st);
    f->st = NULL;

    int rc = mz_store_open(f->path, 0, &f->st, &e);
    if (rc != MZ_OK)
        print_error("%s\n", e.msg);
    assert_int_equal(rc, MZ_OK);
    assert_int_equal(mz_store_get_staff(f->st, "taro", &s, &e), MZ_OK);
    mz_store_close(f->st);
    f->st = NULL;

    /* A login's connection (MZ_STORE_LOGIN) sees and writes the same store. */
    assert_int_equal(mz_store_open(f->path, MZ_STORE_LOGIN, &f->st, &e), MZ_OK);
    add_staff(f, "jiro", "A-002");
    mz_store_close(f->st);
    f->st = NULL;
    assert_int_equal(mz_store_open(f->path, 0, &f->st, &e), MZ_OK);
    assert_int_equal(mz_store_get_staff(f->st, "jiro", &s, &e), MZ_OK);
    mz_store_close(f->st);
    f->st = NULL;

    /* CREATE on an existing store opens it and keeps what is there. */
    assert_int_equal(mz_store_open(f->path, MZ_STORE_CREATE, &f->st, &e), MZ_OK);
    assert_int_equal(mz_store_get_staff(f->st, "taro", &s, &e), MZ_OK);
    assert_string_equal(s.staff_id, "A-001");
    assert_int_equal(mzt_mode(f->path), 0600);
}

static off_t wal_size(const struct fx *f)
{
    char wal[PATH_MAX + 4];
    struct stat sb;
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    return stat(wal, &sb) == 0 ? sb.st_size : -1;
}

/* Beside mnzoned's connection (MZ_STORE_RESIDENT), a login's connection opened with
 * MZ_STORE_SHARED leaves a WAL of more than MZ_LOGIN_WAL_PAGES alone, and past
 * MZ_RESIDENT_WAL_PAGES checkpoints it so that it restarts: however many commits go
 * through such connections (a site where everyone has a key), the file stays near that
 * size. One opened with MZ_STORE_LOGIN truncates it once it passes MZ_LOGIN_WAL_PAGES. */
static void test_shared_connection_keeps_the_wal(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_store *resident = NULL;
    char login[16], id[16];
    assert_int_equal(mz_store_open(f->path, MZ_STORE_RESIDENT, &resident, &e), MZ_OK);
    mz_store_close(f->st);
    assert_int_equal(mz_store_open(f->path, MZ_STORE_SHARED, &f->st, &e), MZ_OK);
    for (int i = 0; i < MZ_LOGIN_WAL_PAGES; i++) {
        snprintf(login, sizeof(login), "s%04d", i);
        snprintf(id, sizeof(id), "S-%04d", i);
        add_staff(f, login, id);
    }
    off_t grown = wal_size(f);
    assert_true(grown > (off_t)MZ_LOGIN_WAL_PAGES * 4096);
    /* each commit writes two pages or more: four times the checkpoint mark in all */
    for (int i = MZ_LOGIN_WAL_PAGES; i < 2 * MZ_RESIDENT_WAL_PAGES; i++) {
        snprintf(login, sizeof(login), "s%04d", i);
        snprintf(id, sizeof(id), "S-%04d", i);
        add_staff(f, login, id);
    }
    assert_true(wal_size(f) < (off_t)(MZ_RESIDENT_WAL_PAGES + 100) * (4096 + 24));
    mz_store_close(f->st);

    assert_int_equal(mz_store_open(f->path, MZ_STORE_LOGIN, &f->st, &e), MZ_OK);
    for (int i = 0; wal_size(f) != 0 && i < MZ_LOGIN_WAL_PAGES; i++) {
        snprintf(login, sizeof(login), "t%04d", i);
        snprintf(id, sizeof(id), "T-%04d", i);
        add_staff(f, login, id);
    }
    assert_int_equal(wal_size(f), 0);
    mz_store_close(resident);
}

/* A reader holding a snapshot (report, audit verify, an sqlite3 shell) keeps a login's
 * TRUNCATE checkpoint from finishing: the login must not wait for it (it used to wait
 * the whole busy timeout, 5 s, at every commit past the mark while the reader read). */
static void test_login_does_not_wait_for_readers(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_store *reader = NULL;
    char login[16], id[16];
    mz_store_close(f->st);
    assert_int_equal(mz_store_open(f->path, MZ_STORE_LOGIN, &f->st, &e), MZ_OK);
    assert_int_equal(mz_store_open(f->path, 0, &reader, &e), MZ_OK);
    assert_int_equal(
        sqlite3_exec(mz_store_db(reader), "BEGIN; SELECT count(*) FROM staff;", NULL, NULL, NULL),
        SQLITE_OK);
    for (int i = 0; i < MZ_LOGIN_WAL_PAGES; i++) { /* past the mark, twice over */
        snprintf(login, sizeof(login), "w%04d", i);
        snprintf(id, sizeof(id), "W-%04d", i);
        add_staff(f, login, id);
    }
    assert_true(wal_size(f) > (off_t)MZ_LOGIN_WAL_PAGES * 4096);
    assert_int_equal(mz_store_busy_waits(f->st), 0);
    sqlite3_exec(mz_store_db(reader), "COMMIT", NULL, NULL, NULL);
    mz_store_close(reader);
    add_staff(f, "w-last", "W-LAST"); /* the reader gone: the next commit truncates */
    assert_int_equal(wal_size(f), 0);
}

static void test_open_missing(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    char path[PATH_MAX];
    struct mz_store *st = NULL;
    mzt_path(path, sizeof(path), f->dir.path, "absent.db");
    assert_int_equal(mz_store_open(path, 0, &st, &e), MZ_ERR_STORE);
    assert_null(st);
    assert_non_null(strstr(e.msg, "mnzone-enroll init"));
    assert_non_null(strstr(e.msg, path));
    /* The module never creates a store. */
    struct stat sb;
    assert_int_equal(lstat(path, &sb), -1);
    assert_int_equal(errno, ENOENT);

    /* Nor a missing folder. */
    mzt_path(path, sizeof(path), f->dir.path, "no-such-dir/mnzone.db");
    assert_int_not_equal(mz_store_open(path, 0, &st, &e), MZ_OK);
    assert_null(st);
}

static void test_open_file_modes(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_store *st = NULL;
    mz_store_close(f->st);
    f->st = NULL;
    static const mode_t modes[] = {0644, 0640, 0604, 0660, 0606, 0666};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(chmod(f->path, modes[i]), 0);
        for (int flags = 0; flags <= MZ_STORE_CREATE; flags += MZ_STORE_CREATE) {
            e.msg[0] = '\0';
            int rc = mz_store_open(f->path, flags, &st, &e);
            if (rc != MZ_ERR_PERM)
                print_error("mode %o, flags %d: %d\n", (unsigned)modes[i], flags, rc);
            assert_int_equal(rc, MZ_ERR_PERM);
            assert_null(st);
            assert_non_null(strstr(e.msg, f->path));
            /* Refused, not repaired behind the administrator's back. */
            assert_int_equal(mzt_mode(f->path), modes[i]);
        }
    }
    assert_int_equal(chmod(f->path, 0600), 0);
    assert_int_equal(mz_store_open(f->path, 0, &f->st, &e), MZ_OK);
}

static void test_open_dir_modes(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_store *st = NULL;
    char fresh[PATH_MAX];
    mz_store_close(f->st);
    f->st = NULL;
    mzt_path(fresh, sizeof(fresh), f->dir.path, "fresh.db");
    static const mode_t modes[] = {0770, 0730, 0707, 0703, 0777, 01777};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(chmod(f->dir.path, modes[i]), 0);
        e.msg[0] = '\0';
        int rc = mz_store_open(f->path, 0, &st, &e);
        if (rc != MZ_ERR_PERM)
            print_error("folder mode %o: %d\n", (unsigned)modes[i], rc);
        assert_int_equal(rc, MZ_ERR_PERM);
        assert_null(st);
        assert_non_null(strstr(e.msg, f->dir.path));
        /* Nor is a new store made there. */
        assert_int_equal(mz_store_open(fresh, MZ_STORE_CREATE, &st, &e), MZ_ERR_PERM);
        assert_null(st);
        struct stat sb;
        assert_int_equal(lstat(fresh, &sb), -1);
    }
    /* Readable by others is fine for the folder: only writing lets them swap files. */
    assert_int_equal(chmod(f->dir.path, 0755), 0);
    assert_int_equal(mz_store_open(f->path, 0, &f->st, &e), MZ_OK);
}

static void test_open_symlink(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_store *st = NULL;
    char link[PATH_MAX], nowhere[PATH_MAX], dangling[PATH_MAX];
    mzt_path(link, sizeof(link), f->dir.path, "link.db");
    assert_int_equal(symlink(f->path, link), 0);
    assert_int_equal(mz_store_open(link, 0, &st, &e), MZ_ERR_PERM);
    assert_null(st);
    assert_non_null(strstr(e.msg, link));
    assert_int_equal(mz_store_open(link, MZ_STORE_CREATE, &st, &e), MZ_ERR_PERM);
    assert_null(st);

    /* A dangling link: CREATE does not make its target. */
    mzt_path(nowhere, sizeof(nowhere), f->dir.path, "nowhere.db");
    mzt_path(dangling, sizeof(dangling), f->dir.path, "dangling.db");
    assert_int_equal(symlink(nowhere, dangling), 0);
    assert_int_not_equal(mz_store_open(dangling, MZ_STORE_CREATE, &st, &e), MZ_OK);
    assert_null(st);
    assert_int_not_equal(mz_store_open(dangling, 0, &st, &e), MZ_OK);
    struct stat sb;
    assert_int_equal(lstat(nowhere, &sb), -1);
}

/* A folder reached through a link is refused too: whoever owns the link's folder could
 * point it elsewhere. */
static void test_open_dir_symlink(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_store *st = NULL;
    char sub[PATH_MAX], link[PATH_MAX], via[PATH_MAX];
    mzt_path(sub, sizeof(sub), f->dir.path, "real");
    assert_int_equal(mkdir(sub, 0700), 0);
    mzt_path(link, sizeof(link), f->dir.path, "linkdir");
    assert_int_equal(symlink(sub, link), 0);
    mzt_path(via, sizeof(via), link, "mnzone.db");
    assert_int_not_equal(mz_store_open(via, MZ_STORE_CREATE, &st, &e), MZ_OK);
    assert_null(st);
}

/* Every folder on the way is checked, not only the one that holds the store: whoever
 * can write an ancestor can rename what lies below it between the check and the open. */
static void test_open_ancestor_modes(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_store *st = NULL;
    char a[PATH_MAX], b[PATH_MAX], db[PATH_MAX], bad[PATH_MAX];
    mzt_path(a, sizeof(a), f->dir.path, "a");
    mzt_path(b, sizeof(b), a, "b");
    mzt_path(db, sizeof(db), b, "mnzone.db");
    assert_int_equal(mkdir(a, 0755), 0);
    assert_int_equal(mkdir(b, 0700), 0);
    mz_store_close(mzt_store_create(b, db, sizeof(db)));
    static const mode_t modes[] = {0775, 0757, 0777};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(chmod(a, modes[i]), 0);
        e.msg[0] = '\0';
        assert_int_equal(mz_store_open(db, 0, &st, &e), MZ_ERR_PERM);
        assert_null(st);
        assert_non_null(strstr(e.msg, "writable by group or others"));
        assert_int_equal(mz_check_folders(db, bad, sizeof(bad), &e), MZ_ERR_PERM);
        assert_string_equal(bad, a);
    }
    /* With the sticky bit others cannot rename b: fine for an ancestor, as for /tmp. */
    assert_int_equal(chmod(a, 01777), 0);
    assert_int_equal(mz_store_open(db, 0, &st, &e), MZ_OK);
    mz_store_close(st);
    st = NULL;
    assert_int_equal(chmod(a, 0755), 0);
    if (geteuid() != 0) {
        print_message("# not root: cannot give a folder to another user; owner check not run\n");
        return;
    }
    assert_int_equal(chown(a, 65534, 65534), 0);
    assert_int_equal(mz_store_open(db, 0, &st, &e), MZ_ERR_PERM);
    assert_non_null(strstr(e.msg, "owned by uid 65534"));
    assert_int_equal(mz_check_folders(db, bad, sizeof(bad), &e), MZ_ERR_PERM);
    assert_string_equal(bad, a);
    assert_int_equal(chown(a, 0, 0), 0);
    assert_int_equal(mz_store_open(db, 0, &st, &e), MZ_OK);
    mz_store_close(st);
}

/* A link on the way is followed in the check: the folders it leads through count, and
 * the link itself must be root's. A relative path is checked from the current folder. */
static void test_check_folders_links_and_relative(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    char open_dir[PATH_MAX], inner[PATH_MAX], link[PATH_MAX], via[PATH_MAX], bad[PATH_MAX];
    mzt_path(open_dir, sizeof(open_dir), f->dir.path, "open");
    mzt_path(inner, sizeof(inner), open_dir, "inner");
    mzt_path(link, sizeof(link), f->dir.path, "link");
    mzt_path(via, sizeof(via), link, "mnzone.key");
    assert_int_equal(mkdir(open_dir, 0755), 0);
    assert_int_equal(mkdir(inner, 0700), 0);
    assert_int_equal(symlink(inner, link), 0);
    assert_int_equal(mz_check_folders(via, bad, sizeof(bad), &e), MZ_OK);
    /* the link's folder is fine; the one it leads through is not */
    assert_int_equal(chmod(open_dir, 0777), 0);
    assert_int_equal(mz_check_folders(via, bad, sizeof(bad), &e), MZ_ERR_PERM);
    assert_string_equal(bad, open_dir);

    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(inner), 0);
    assert_int_equal(mz_check_folders("mnzone.key", bad, sizeof(bad), &e), MZ_ERR_PERM);
    assert_string_equal(bad, open_dir);
    assert_int_equal(chmod(open_dir, 0755), 0);
    assert_int_equal(mz_check_folders("mnzone.key", bad, sizeof(bad), &e), MZ_OK);
    assert_int_equal(chdir(cwd), 0);

    if (geteuid() != 0) {
        print_message("# not root: cannot give a link to another user; owner check not run\n");
        return;
    }
    assert_int_equal(lchown(link, 65534, 65534), 0);
    assert_int_equal(mz_check_folders(via, bad, sizeof(bad), &e), MZ_ERR_PERM);
    assert_string_equal(bad, link);
    assert_non_null(strstr(e.msg, "a link owned by uid 65534"));
}

/* Odd spellings and odd folders: doubled slashes, "/" itself, a missing folder (named,
 * and told apart as a configuration error), a file where a folder should be. */
static void test_check_folders_odd_paths(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    char doubled[PATH_MAX], missing[PATH_MAX], gone[PATH_MAX], file[PATH_MAX], below[PATH_MAX];
    char bad[PATH_MAX];
    assert_true(snprintf(doubled, sizeof(doubled), "/%s//x.db", f->dir.path) < PATH_MAX);
    assert_int_equal(mz_check_folders(doubled, bad, sizeof(bad), &e), MZ_OK);
    assert_string_equal(bad, "");
    assert_int_equal(mz_check_folders("//x.db", bad, sizeof(bad), &e), MZ_OK);
    assert_int_equal(mz_check_folders("/x.db", bad, sizeof(bad), &e), MZ_OK);

    mzt_path(gone, sizeof(gone), f->dir.path, "gone");
    mzt_path(missing, sizeof(missing), gone, "sub/x.db");
    assert_int_equal(mz_check_folders(missing, bad, sizeof(bad), &e), MZ_ERR_CONFIG);
    assert_string_equal(bad, gone);
    assert_non_null(strstr(e.msg, "cannot stat"));

    mzt_path(file, sizeof(file), f->dir.path, "plain");
    mzt_write_text(file, "x", 0600);
    mzt_path(below, sizeof(below), file, "x.db");
    assert_int_equal(mz_check_folders(below, bad, sizeof(bad), &e), MZ_ERR_PERM);
    assert_string_equal(bad, file);
    assert_non_null(strstr(e.msg, "not a directory"));
}

static void test_open_not_a_store(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_store *st = NULL;
    char path[PATH_MAX];
    mzt_path(path, sizeof(path), f->dir.path, "garbage.db");
    mzt_write_text(path, "this is not an SQLite database, not at all........................",
                   0600);
    assert_int_not_equal(mz_store_open(path, 0, &st, &e), MZ_OK);
    assert_null(st);
    /* An empty file is an empty database, not an mnzone store: only CREATE makes one. */
    mzt_write_file(path, "", 0, 0600);
    assert_int_equal(mz_store_open(path, 0, &st, &e), MZ_ERR_STORE);
    assert_null(st);
}

static void test_wal_and_sync(void **state)
{
    struct fx *f = *state;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(mz_store_db(f->st), "PRAGMA journal_mode", -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    /* synchronous = FULL is 2 */
    assert_int_equal(mzt_query_int(f->st, "PRAGMA synchronous"), 2);
    assert_int_equal(mzt_query_int(f->st, "PRAGMA foreign_keys"), 1);
    assert_int_equal(mzt_query_int(f->st, "PRAGMA user_version"), MZ_SCHEMA_VERSION);
}

/* --- staff -------------------------------------------------------------------------- */

static void test_staff_round_trip(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_staff s, got;
    mzt_staff(&s, "hanako", "職員-0042");
    snprintf(s.name, sizeof(s.name), "%s", "盛岡 花子");
    snprintf(s.dept, sizeof(s.dept), "%s", "後期高齢者医療課");
    s.employment = MZ_EMPLOY_FISCAL_YEAR;
    snprintf(s.valid_until, sizeof(s.valid_until), "%s", "2027-03-31");
    s.created_at = T0;
    snprintf(s.created_by, sizeof(s.created_by), "%s", "suzuki");
    assert_int_equal(mz_store_add_staff(f->st, &s, &e), MZ_OK);
    memset(&got, 0x55, sizeof(got));
    assert_int_equal(mz_store_get_staff(f->st, "hanako", &got, &e), MZ_OK);
    assert_string_equal(got.login, "hanako");
    assert_string_equal(got.staff_id, "職員-0042");
    assert_string_equal(got.name, "盛岡 花子");
    assert_string_equal(got.dept, "後期高齢者医療課");
    assert_int_equal(got.employment, MZ_EMPLOY_FISCAL_YEAR);
    assert_string_equal(got.valid_until, "2027-03-31");
    assert_int_equal(got.status, MZ_STAFF_ACTIVE);
    assert_int_equal(got.created_at, T0);
    assert_string_equal(got.created_by, "suzuki");

    assert_int_equal(mz_store_get_staff(f->st, "nobody", &got, &e), MZ_ERR_NOUSER);
    assert_non_null(strstr(e.msg, "nobody"));
    /* Exact match: no prefix, no case folding. */
    assert_int_equal(mz_store_get_staff(f->st, "hanak", &got, &e), MZ_ERR_NOUSER);
    assert_int_equal(mz_store_get_staff(f->st, "HANAKO", &got, &e), MZ_ERR_NOUSER);
}

static void test_staff_duplicates(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_staff s, got;
    add_staff(f, "taro", "A-001");
    mzt_staff(&s, "taro", "A-002");
    snprintf(s.name, sizeof(s.name), "%s", "Impostor");
    assert_int_equal(mz_store_add_staff(f->st, &s, &e), MZ_ERR_EXISTS);
    assert_non_null(strstr(e.msg, "taro"));
    mzt_staff(&s, "jiro", "A-001");
    assert_int_equal(mz_store_add_staff(f->st, &s, &e), MZ_ERR_EXISTS);
    assert_non_null(strstr(e.msg, "A-001"));
    /* Neither attempt changed or added anything. */
    assert_int_equal(mz_store_get_staff(f->st, "taro", &got, &e), MZ_OK);
    assert_string_equal(got.staff_id, "A-001");
    assert_string_not_equal(got.name, "Impostor");
    assert_int_equal(mz_store_get_staff(f->st, "jiro", &got, &e), MZ_ERR_NOUSER);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM staff"), 1);
}

static void test_transaction_rollback(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_staff got;
    assert_int_equal(mz_store_begin(f->st, &e), MZ_OK);
    add_staff(f, "taro", "A-001");
    mz_store_rollback(f->st);
    assert_int_equal(mz_store_get_staff(f->st, "taro", &got, &e), MZ_ERR_NOUSER);
    assert_int_equal(mz_store_begin(f->st, &e), MZ_OK);
    add_staff(f, "taro", "A-001");
    assert_int_equal(mz_store_commit(f->st, &e), MZ_OK);
    assert_int_equal(mz_store_get_staff(f->st, "taro", &got, &e), MZ_OK);
}

/* --- credentials -------------------------------------------------------------------- */

static void test_totp_round_trip(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_record rec;
    int64_t cred = 0;
    add_staff(f, "taro", "A-001");
    add_totp(f, "taro", f->secret, 1234);
    memset(&rec, 0x33, sizeof(rec));
    int rc = mz_store_load_record(f->st, &f->keys, "taro", &rec, &cred, &e);
    if (rc != MZ_OK)
        print_error("%s\n", e.msg);
    assert_int_equal(rc, MZ_OK);
    assert_true(cred > 0);
    assert_true(rec.has_totp);
    assert_int_equal(rec.secret_len, sizeof(f->secret));
    assert_memory_equal(rec.secret, f->secret, sizeof(f->secret));
    assert_int_equal(rec.last_step, 1234);
    assert_int_equal(rec.failures, 0);
    assert_int_equal(rec.locked_until, 0);
    assert_int_equal(rec.last_success_at, 0);
    assert_int_equal(rec.last_failure_at, 0);

    /* At rest the secret is sealed: its bytes are nowhere in the row. */
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(mz_store_db(f->st),
                                        "SELECT secret FROM credentials WHERE login = 'taro'", -1,
                                        &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    const void *blob = sqlite3_column_blob(q, 0);
    int blen = sqlite3_column_bytes(q, 0);
    assert_true(blen >= (int)(sizeof(f->secret) + MZ_SEAL_OVERHEAD));
    assert_null(memmem(blob, (size_t)blen, f->secret, sizeof(f->secret)));
    sqlite3_finalize(q);
}

static void test_totp_refuses(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    uint8_t big[MZ_SECRET_MAX + 1];
    memset(big, 7, sizeof(big));
    add_staff(f, "taro", "A-001");
    assert_int_equal(
        mz_store_add_totp(f->st, &f->keys, "taro", big, MZ_SECRET_MIN - 1, -1, T0, "admin", &e),
        MZ_ERR_INPUT);
    assert_int_equal(
        mz_store_add_totp(f->st, &f->keys, "taro", big, MZ_SECRET_MAX + 1, -1, T0, "admin", &e),
        MZ_ERR_INPUT);
    /* No credential for someone who is not staff. */
    assert_int_not_equal(
        mz_store_add_totp(f->st, &f->keys, "ghost", big, MZ_SECRET_BYTES, -1, T0, "admin", &e),
        MZ_OK);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM credentials"), 0);
}

static void test_load_record_unknown(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_record rec;
    int64_t cred = 99;
    enrol(f, "taro", "A-001");
    assert_int_equal(mz_store_load_record(f->st, &f->keys, "jiro", &rec, &cred, &e), MZ_ERR_NOUSER);
    assert_non_null(strstr(e.msg, "jiro"));
    assert_false(rec.has_totp);
}

/* Known, but nothing usable: not an error, no credential. */
static void expect_no_credential(struct fx *f, const char *login)
{
    mz_err e = {""};
    struct mz_record rec;
    int64_t cred = 99;
    memset(&rec, 0x11, sizeof(rec));
    assert_int_equal(mz_store_load_record(f->st, &f->keys, login, &rec, &cred, &e), MZ_OK);
    assert_int_equal(cred, 0);
    assert_false(rec.has_totp);
    for (size_t i = 0; i < sizeof(rec.secret); i++)
        assert_int_equal(rec.secret[i], 0);
}

static void test_revoked_credential(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_record rec;
    int64_t cred = 0;
    add_staff(f, "taro", "A-001");
    expect_no_credential(f, "taro"); /* enrolled as staff, no factor yet */
    add_totp(f, "taro", f->secret, -1);
    mzt_exec(f->st, "UPDATE credentials SET status = 'revoked' WHERE login = 'taro'");
    expect_no_credential(f, "taro");

    /* A new credential after the revoked one: that one, with its own secret. */
    uint8_t fresh[MZ_SECRET_BYTES];
    memset(fresh, 0x5c, sizeof(fresh));
    add_totp(f, "taro", fresh, 77);
    assert_int_equal(mz_store_load_record(f->st, &f->keys, "taro", &rec, &cred, &e), MZ_OK);
    assert_true(rec.has_totp);
    assert_memory_equal(rec.secret, fresh, sizeof(fresh));
    assert_int_equal(rec.last_step, 77);
    assert_int_equal(cred, mzt_query_int(f->st, "SELECT max(id) FROM credentials"));
}

static void test_staff_not_active(void **state)
{
    struct fx *f = *state;
    enrol(f, "taro", "A-001");
    mzt_exec(f->st, "UPDATE staff SET status = 'suspended' WHERE login = 'taro'");
    expect_no_credential(f, "taro");
    mzt_exec(f->st, "UPDATE staff SET status = 'revoked' WHERE login = 'taro'");
    expect_no_credential(f, "taro");
}

static void test_wrong_key(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_record rec;
    struct mz_keys other;
    int64_t cred = 0;
    enrol(f, "taro", "A-001");
    mzt_keys(&other, 2);
    assert_int_equal(mz_store_load_record(f->st, &other, "taro", &rec, &cred, &e), MZ_ERR_CRYPTO);
    assert_non_null(strstr(e.msg, "taro"));
    assert_false(rec.has_totp);
    assert_int_equal(cred, 0);
    assert_null(memmem(&rec, sizeof(rec), f->secret, 8));
}

/* A sealed secret copied to another staff member's credential does not open for them. */
static void test_secret_moved_to_other_login(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_record rec;
    int64_t cred = 0;
    uint8_t other_secret[MZ_SECRET_BYTES];
    memset(other_secret, 0x21, sizeof(other_secret));
    enrol(f, "taro", "A-001");
    add_staff(f, "jiro", "A-002");
    add_totp(f, "jiro", other_secret, -1);
    mzt_exec(f->st, "UPDATE credentials SET secret = (SELECT secret FROM credentials"
                    " WHERE login = 'taro') WHERE login = 'jiro'");
    assert_int_equal(mz_store_load_record(f->st, &f->keys, "jiro", &rec, &cred, &e), MZ_ERR_CRYPTO);
    assert_false(rec.has_totp);
    /* Truncated or emptied blobs are refused too, not read as a short secret. */
    mzt_exec(f->st, "UPDATE credentials SET secret = substr(secret, 1, 30) WHERE login = 'taro'");
    assert_int_equal(mz_store_load_record(f->st, &f->keys, "taro", &rec, &cred, &e), MZ_ERR_CRYPTO);
    mzt_exec(f->st, "UPDATE credentials SET secret = NULL WHERE login = 'taro'");
    assert_int_not_equal(mz_store_load_record(f->st, &f->keys, "taro", &rec, &cred, &e), MZ_OK);
    assert_false(rec.has_totp);
}

struct cred_list {
    int n;
    struct mz_credential_info info[4];
};

static void collect(const struct mz_credential_info *c, void *arg)
{
    struct cred_list *l = arg;
    if (l->n < 4)
        l->info[l->n] = *c;
    l->n++;
}

static void test_each_credential(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct cred_list l;
    memset(&l, 0, sizeof(l));
    enrol(f, "taro", "A-001");
    mzt_exec(f->st, "UPDATE credentials SET status = 'revoked', revoked_at = 5,"
                    " revoked_by = 'suzuki', revoked_why = 'phone lost'");
    add_totp(f, "taro", f->secret, -1);
    enrol(f, "jiro", "A-002");
    assert_int_equal(mz_store_each_credential(f->st, "taro", collect, &l, &e), MZ_OK);
    assert_int_equal(l.n, 2);
    assert_true(l.info[0].id < l.info[1].id);
    assert_string_equal(l.info[0].method, "totp");
    assert_string_equal(l.info[0].status, "revoked");
    assert_string_equal(l.info[0].revoked_by, "suzuki");
    assert_string_equal(l.info[0].revoked_why, "phone lost");
    assert_string_equal(l.info[1].status, "active");
    assert_string_equal(l.info[1].created_by, "admin");
}

/* --- login state -------------------------------------------------------------------- */

static void test_save_and_load_state(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_record rec, got;
    int64_t cred = 0;
    char host[64], service[64];
    enrol(f, "taro", "A-001");
    assert_int_equal(mz_store_load_record(f->st, &f->keys, "taro", &rec, &cred, &e), MZ_OK);

    /* Never logged in: empty origin. */
    assert_int_equal(
        mz_store_last_success(f->st, "taro", host, sizeof(host), service, sizeof(service), &e),
        MZ_OK);
    assert_string_equal(host, "");
    assert_string_equal(service, "");

    /* A failure: the state is written, the credential is not. */
    rec.failures = 2;
    rec.failures_since_success = 7;
    rec.locked_until = T0 + 900;
    rec.last_failure_at = T0;
    rec.last_step = 555; /* must not reach the credential: not accepted */
    const struct mz_origin from_fail = {"evil.example", "sshd"};
    assert_int_equal(mz_store_save_record(f->st, "taro", cred, &rec, false, &from_fail, &e), MZ_OK);
    memset(&got, 0, sizeof(got));
    assert_int_equal(mz_store_load_state(f->st, "taro", &got, &e), MZ_OK);
    assert_int_equal(got.failures, 2);
    assert_int_equal(got.failures_since_success, 7);
    assert_int_equal(got.locked_until, T0 + 900);
    assert_int_equal(got.last_failure_at, T0);
    assert_int_equal(got.last_success_at, 0);
    assert_int_equal(mzt_query_int(f->st, "SELECT last_step FROM credentials"), -1);
    assert_int_equal(
        mz_store_last_success(f->st, "taro", host, sizeof(host), service, sizeof(service), &e),
        MZ_OK);
    assert_string_equal(host, "");

    /* load_state leaves the credential fields alone. */
    struct mz_record mixed;
    memset(&mixed, 0, sizeof(mixed));
    mixed.has_totp = true;
    mixed.last_step = 4242;
    mixed.secret[0] = 0x99;
    assert_int_equal(mz_store_load_state(f->st, "taro", &mixed, &e), MZ_OK);
    assert_true(mixed.has_totp);
    assert_int_equal(mixed.last_step, 4242);
    assert_int_equal(mixed.secret[0], 0x99);
    assert_int_equal(mixed.failures, 2);

    /* A success: state, origin, and the credential's last step and last use. */
    rec.failures = 0;
    rec.failures_since_success = 0;
    rec.locked_until = 0;
    rec.last_step = T0 / PERIOD;
    rec.last_success_at = T0 + 10;
    const struct mz_origin from_ok = {"192.0.2.10", "login"};
    assert_int_equal(mz_store_save_record(f->st, "taro", cred, &rec, true, &from_ok, &e), MZ_OK);
    assert_int_equal(mz_store_load_state(f->st, "taro", &got, &e), MZ_OK);
    assert_int_equal(got.failures, 0);
    assert_int_equal(got.failures_since_success, 0);
    assert_int_equal(got.locked_until, 0);
    assert_int_equal(got.last_success_at, T0 + 10);
    assert_int_equal(got.last_failure_at, T0);
    assert_int_equal(mzt_query_int(f->st, "SELECT last_step FROM credentials"), T0 / PERIOD);
    assert_int_equal(mzt_query_int(f->st, "SELECT last_used_at FROM credentials"), T0 + 10);
    assert_int_equal(
        mz_store_last_success(f->st, "taro", host, sizeof(host), service, sizeof(service), &e),
        MZ_OK);
    assert_string_equal(host, "192.0.2.10");
    assert_string_equal(service, "login");

    /* A later failure keeps the origin of the last success. */
    rec.failures = 1;
    rec.last_failure_at = T0 + 20;
    assert_int_equal(mz_store_save_record(f->st, "taro", cred, &rec, false, &from_fail, &e), MZ_OK);
    assert_int_equal(
        mz_store_last_success(f->st, "taro", host, sizeof(host), service, sizeof(service), &e),
        MZ_OK);
    assert_string_equal(host, "192.0.2.10");
    assert_string_equal(service, "login");

    /* And the record loads back whole. */
    assert_int_equal(mz_store_load_record(f->st, &f->keys, "taro", &got, &cred, &e), MZ_OK);
    assert_int_equal(got.failures, 1);
    assert_int_equal(got.last_step, T0 / PERIOD);
    assert_int_equal(got.last_success_at, T0 + 10);
    assert_int_equal(got.last_failure_at, T0 + 20);
    assert_memory_equal(got.secret, f->secret, sizeof(f->secret));
}

/* --- one attempt end to end ---------------------------------------------------------- */

struct run {
    struct mz_config cfg;
    struct mz_attempt a;
    struct mz_verdict v;
    struct mz_last_login last;
};

static void run_init(struct run *r, unsigned max_failures)
{
    mz_err e = {""};
    char n[16];
    memset(r, 0, sizeof(*r));
    mz_config_defaults(&r->cfg);
    snprintf(n, sizeof(n), "%u", max_failures);
    assert_int_equal(mz_config_set(&r->cfg, "max_failures", n, &e), MZ_OK);
    assert_int_equal(mz_config_set(&r->cfg, "lockout", "900", &e), MZ_OK);
    r->a.user = "taro";
    r->a.service = "login";
    r->a.host = "terminal-01";
    r->a.tty = "tty1";
    r->a.rhost = "";
}

static int attempt(struct fx *f, struct run *r, int64_t now, const char *input)
{
    mz_err e = {""};
    r->a.now = now;
    memset(&r->v, 0x6b, sizeof(r->v));
    int rc = mz_auth_attempt(&r->cfg, f->st, &f->keys, &r->a, input, &r->v, &r->last, &e);
    if (rc != MZ_OK)
        print_message("# mz_auth_attempt: %s\n", e.msg);
    return rc;
}

static int64_t audit_count(struct fx *f)
{
    return mzt_query_int(f->st, "SELECT count(*) FROM audit");
}

static int64_t cred_last_step(struct fx *f)
{
    return mzt_query_int(f->st, "SELECT last_step FROM credentials WHERE login = 'taro'");
}

static void test_attempt_end_to_end(void **state)
{
    struct fx *f = *state;
    struct run r;
    char code[16], wrong[16];
    mz_err e = {""};
    struct mz_record st;
    enrol(f, "taro", "A-001");
    run_init(&r, 3);

    /* 1. The right code. */
    r.a.rhost = "192.0.2.7";
    code_at(f, T0, code);
    assert_int_equal(attempt(f, &r, T0, code), MZ_OK);
    assert_int_equal(r.v.outcome, MZ_ACCEPT);
    assert_int_equal(r.v.step, T0 / PERIOD);
    assert_int_equal(r.last.at, 0); /* first login ever */
    assert_int_equal(r.last.failures_since, 0);
    assert_int_equal(cred_last_step(f), T0 / PERIOD);
    assert_int_equal(audit_count(f), 1);

    /* 2. The same code again: a replay, counted. */
    r.a.rhost = "";
    assert_int_equal(attempt(f, &r, T0 + 3, code), MZ_OK);
    assert_int_equal(r.v.outcome, MZ_REJECT_REPLAY);
    assert_int_equal(cred_last_step(f), T0 / PERIOD);
    memset(&st, 0, sizeof(st));
    assert_int_equal(mz_store_load_state(f->st, "taro", &st, &e), MZ_OK);
    assert_int_equal(st.failures, 1);
    assert_int_equal(st.last_failure_at, T0 + 3);

    /* 3. The next step's code: accepted, and told about the last login and the failure. */
    code_at(f, T0 + PERIOD, code);
    assert_int_equal(attempt(f, &r, T0 + PERIOD, code), MZ_OK);
    assert_int_equal(r.v.outcome, MZ_ACCEPT);
    assert_int_equal(r.last.at, T0);
    assert_string_equal(r.last.host, "192.0.2.7");
    assert_string_equal(r.last.service, "login");
    assert_int_equal(r.last.failures_since, 1);
    assert_int_equal(cred_last_step(f), T0 / PERIOD + 1);

    /* 4. Three wrong codes: the third locks. */
    int64_t t = T0 + PERIOD + 1;
    for (unsigned i = 1; i <= 3; i++, t++) {
        mzt_wrong_totp(f->secret, sizeof(f->secret), t, PERIOD, 6, 1, wrong);
        assert_int_equal(attempt(f, &r, t, wrong), MZ_OK);
        assert_int_equal(r.v.outcome, MZ_REJECT_WRONG);
        assert_int_equal(r.v.locked_now, i == 3);
    }
    const int64_t locked_at = t - 1;
    assert_int_equal(r.v.locked_until, locked_at + 900);
    assert_int_equal(cred_last_step(f), T0 / PERIOD + 1);

    enum mz_user_state us;
    int64_t until = 0;
    assert_int_equal(status_of(f->st, "taro", locked_at + 1, &us, &until, &e), MZ_OK);
    assert_int_equal(us, MZ_USER_LOCKED);
    assert_int_equal(until, locked_at + 900);

    /* 5. Locked: the right code is refused and nothing changes but the audit log. */
    int64_t audit_before = audit_count(f);
    code_at(f, T0 + 3 * PERIOD, code);
    assert_int_equal(attempt(f, &r, T0 + 3 * PERIOD, code), MZ_OK);
    assert_int_equal(r.v.outcome, MZ_REJECT_LOCKED);
    assert_int_equal(r.v.locked_until, locked_at + 900);
    assert_int_equal(cred_last_step(f), T0 / PERIOD + 1);
    assert_int_equal(audit_count(f), audit_before + 1);
    assert_int_equal(mz_store_load_state(f->st, "taro", &st, &e), MZ_OK);
    assert_int_equal(st.failures, 3);
    assert_int_equal(st.locked_until, locked_at + 900);

    /* 6. When the lock runs out, the right code is accepted. */
    const int64_t after = locked_at + 900;
    assert_int_equal(status_of(f->st, "taro", after, &us, &until, &e), MZ_OK);
    assert_int_equal(us, MZ_USER_READY);
    code_at(f, after, code);
    assert_int_equal(attempt(f, &r, after, code), MZ_OK);
    assert_int_equal(r.v.outcome, MZ_ACCEPT);
    assert_int_equal(r.last.at, T0 + PERIOD);
    assert_string_equal(r.last.host, "tty1"); /* no remote host: the tty */
    /* The failures that led to the lock-out are still news to the user. */
    assert_int_equal(r.last.failures_since, 3);
    assert_int_equal(cred_last_step(f), after / PERIOD);
    assert_int_equal(mz_store_load_state(f->st, "taro", &st, &e), MZ_OK);
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.locked_until, 0);

    /* Every attempt is one audit event, and the chain holds. */
    int64_t count = 0, bad = 0;
    assert_int_equal(audit_count(f), 8);
    assert_int_equal(mz_audit_verify(f->st, &f->keys, &count, &bad, &e), MZ_OK);
    assert_int_equal(count, 8);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit WHERE result = 'success'"),
                     3);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit WHERE user = 'taro'"), 8);
}

/* Every row of TABLE, all columns, as one string, to compare before and after. */
static char *dump_table(struct fx *f, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT * FROM %s ORDER BY rowid", table);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(mz_store_db(f->st), sql, -1, &q, NULL), SQLITE_OK);
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    assert_non_null(out);
    while (sqlite3_step(q) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(q); c++) {
            const unsigned char *b = sqlite3_column_blob(q, c);
            int n = sqlite3_column_bytes(q, c);
            int w = snprintf(out + len, cap - len, "%d:%d:", sqlite3_column_type(q, c), n);
            assert_true(w > 0 && (size_t)w < cap - len);
            len += (size_t)w;
            for (int i = 0; i < n; i++) {
                w = snprintf(out + len, cap - len, "%02x", b[i]);
                assert_true(w == 2);
                len += 2;
            }
            out[len++] = '|';
        }
        out[len++] = '\n';
        assert_true(len + 64 < cap);
    }
    sqlite3_finalize(q);
    return out;
}

static void test_failed_attempt_changes_only_state(void **state)
{
    struct fx *f = *state;
    struct run r;
    char code[16], wrong[16];
    mz_err e = {""};
    enrol(f, "taro", "A-001");
    enrol(f, "jiro", "A-002");
    run_init(&r, 5);
    code_at(f, T0, code);
    assert_int_equal(attempt(f, &r, T0, code), MZ_OK);
    assert_int_equal(r.v.outcome, MZ_ACCEPT);

    static const char *const tables[] = {"staff", "credentials", "codes"};
    char *before[3];
    for (int i = 0; i < 3; i++)
        before[i] = dump_table(f, tables[i]);
    char *state_before = dump_table(f, "login_state");
    int64_t audit_before = audit_count(f);

    /* A wrong code, a replay and garbage. */
    mzt_wrong_totp(f->secret, sizeof(f->secret), T0 + 5, PERIOD, 6, 1, wrong);
    const char *inputs[] = {wrong, code, "", "not a code at all"};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(attempt(f, &r, T0 + 5 + k, inputs[k]), MZ_OK);
        assert_int_not_equal(r.v.outcome, MZ_ACCEPT);
    }
    for (int i = 0; i < 3; i++) {
        char *after = dump_table(f, tables[i]);
        if (strcmp(before[i], after) != 0)
            print_error("table %s changed\n", tables[i]);
        assert_string_equal(before[i], after);
        free(after);
        free(before[i]);
    }
    char *state_after = dump_table(f, "login_state");
    assert_string_not_equal(state_before, state_after);
    free(state_before);
    free(state_after);
    assert_int_equal(audit_count(f), audit_before + 4);
    struct mz_record st;
    memset(&st, 0, sizeof(st));
    assert_int_equal(mz_store_load_state(f->st, "taro", &st, &e), MZ_OK);
    assert_int_equal(st.failures, 4);
    /* The other user's state is not touched. */
    memset(&st, 0, sizeof(st));
    assert_int_equal(mz_store_load_state(f->st, "jiro", &st, &e), MZ_OK);
    assert_int_equal(st.failures, 0);
}

static void test_attempt_privileged(void **state)
{
    struct fx *f = *state;
    struct run r;
    char wrong[16];
    mz_err e = {""};
    enrol(f, "taro", "A-001");
    run_init(&r, 5);
    assert_int_equal(mz_config_set(&r.cfg, "privileged_max_failures", "2", &e), MZ_OK);
    r.a.privileged = true;
    mzt_wrong_totp(f->secret, sizeof(f->secret), T0, PERIOD, 6, 1, wrong);
    assert_int_equal(attempt(f, &r, T0, wrong), MZ_OK);
    assert_false(r.v.locked_now);
    assert_int_equal(attempt(f, &r, T0 + 1, wrong), MZ_OK);
    assert_true(r.v.locked_now);
    assert_int_equal(r.v.locked_until, T0 + 1 + 900);
}

static void test_attempt_unknown_and_unenrolled(void **state)
{
    struct fx *f = *state;
    struct run r;
    char code[16];
    mz_err e = {""};
    enrol(f, "taro", "A-001");
    add_staff(f, "jiro", "A-002"); /* no credential */
    run_init(&r, 5);
    code_at(f, T0, code);

    r.a.user = "nobody";
    assert_int_equal(attempt(f, &r, T0, code), MZ_OK);
    assert_int_equal(r.v.outcome, MZ_REJECT_NO_FACTOR);
    assert_int_equal(audit_count(f), 1);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit WHERE user = 'nobody'"
                                          " AND result = 'failure'"),
                     1);

    /* taro's code does not open jiro's account. */
    r.a.user = "jiro";
    assert_int_equal(attempt(f, &r, T0, code), MZ_OK);
    assert_int_equal(r.v.outcome, MZ_REJECT_NO_FACTOR);
    assert_int_equal(audit_count(f), 2);

    enum mz_user_state us;
    int64_t until = 0;
    assert_int_equal(status_of(f->st, "nobody", T0, &us, &until, &e), MZ_OK);
    assert_int_equal(us, MZ_USER_UNKNOWN);
    assert_int_equal(status_of(f->st, "jiro", T0, &us, &until, &e), MZ_OK);
    assert_int_equal(us, MZ_USER_NO_FACTOR);
    assert_int_equal(status_of(f->st, "taro", T0, &us, &until, &e), MZ_OK);
    assert_int_equal(us, MZ_USER_READY);
    mzt_exec(f->st, "UPDATE staff SET status = 'suspended' WHERE login = 'taro'");
    assert_int_equal(status_of(f->st, "taro", T0, &us, &until, &e), MZ_OK);
    assert_int_equal(us, MZ_USER_NO_FACTOR);
    /* A suspended user's right code is not accepted. */
    r.a.user = "taro";
    assert_int_equal(attempt(f, &r, T0, code), MZ_OK);
    assert_int_not_equal(r.v.outcome, MZ_ACCEPT);
    assert_int_equal(cred_last_step(f), -1);
}

/* With the wrong key the attempt is an error, nothing is accepted and nothing written. */
static void test_attempt_wrong_key(void **state)
{
    struct fx *f = *state;
    struct run r;
    char code[16];
    mz_err e = {""};
    enrol(f, "taro", "A-001");
    run_init(&r, 5);
    mzt_keys(&f->keys, 2);
    code_at(f, T0, code);
    r.a.now = T0;
    int rc = mz_auth_attempt(&r.cfg, f->st, &f->keys, &r.a, code, &r.v, &r.last, &e);
    assert_int_equal(rc, MZ_ERR_CRYPTO);
    assert_int_not_equal(r.v.outcome, MZ_ACCEPT);
    assert_int_equal(cred_last_step(f), -1);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM login_state"), 0);
    /* The transaction was closed: the store is usable afterwards. */
    assert_int_equal(mz_store_begin(f->st, &e), MZ_OK);
    assert_int_equal(mz_store_commit(f->st, &e), MZ_OK);
}

/* Who acted and what: a login names the user, `verify` the administrator; an event
 * recorded before any code was read carries no method. */
static void test_audit_of_attempts(void **state)
{
    struct fx *f = *state;
    struct run r;
    char code[16];
    mz_err e = {""};
    enrol(f, "taro", "A-001");
    run_init(&r, 5);
    code_at(f, T0, code);
    assert_int_equal(attempt(f, &r, T0, code), MZ_OK);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit WHERE seq = 1"
                                          " AND user = 'taro' AND actor = 'taro' AND event = 'auth'"
                                          " AND method = 'totp' AND result = 'success'"
                                          " AND service = 'login' AND host = 'terminal-01'"
                                          " AND tty = 'tty1' AND at = '2023-11-14T22:13:30Z'"),
                     1);
    r.a.actor = "suzuki";
    code_at(f, T0 + PERIOD, code);
    assert_int_equal(attempt(f, &r, T0 + PERIOD, code), MZ_OK);
    assert_int_equal(r.v.outcome, MZ_ACCEPT);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit WHERE seq = 2"
                                          " AND user = 'taro' AND actor = 'suzuki'"),
                     1);
    r.a.actor = NULL;
    r.a.now = T0 + 100;
    assert_int_equal(mz_auth_record(f->st, &f->keys, &r.a, "account", "failure", "expired", &e),
                     MZ_OK);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit WHERE seq = 3"
                                          " AND user = 'taro' AND actor = 'taro'"
                                          " AND event = 'account' AND result = 'failure'"
                                          " AND reason = 'expired' AND method = ''"),
                     1);
    /* The code itself is nowhere in the log. */
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM audit WHERE (host || service || tty || rhost || user || actor"
             " || event || method || result || reason) LIKE '%%%s%%'",
             code);
    assert_int_equal(mzt_query_int(f->st, sql), 0);
    int64_t count = 0, bad = 0;
    assert_int_equal(mz_audit_verify(f->st, &f->keys, &count, &bad, &e), MZ_OK);
    assert_int_equal(count, 3);
}

/* A recovery code, issued by the administrator, is accepted once at the prompt. */
static void add_code(struct fx *f, const char *login, const char *kind, const char *normalized,
                     int64_t expires_at)
{
    mz_err e = {""};
    struct mz_code_entry c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(mz_code_seal(&f->keys, normalized, &c), MZ_OK);
    c.expires_at = expires_at;
    int rc = mz_admin_add_code(f->st, login, kind, &c, "suzuki", "test", T0 - 60, &e);
    if (rc != MZ_OK)
        print_error("%s\n", e.msg);
    assert_int_equal(rc, MZ_OK);
}

static void test_attempt_recovery_code(void **state)
{
    struct fx *f = *state;
    struct run r;
    mz_err e = {""};
    enrol(f, "taro", "A-001");
    add_code(f, "taro", "recovery", "23456789ABCDEFGH", 0);
    add_code(f, "taro", "recovery", "JKLMNPQRSTUVWXYZ", 0);
    run_init(&r, 5);

    assert_int_equal(attempt(f, &r, T0, "2345-6789-abcd-efgh"), MZ_OK);
    assert_int_equal(r.v.outcome, MZ_ACCEPT);
    assert_int_equal(r.v.method, MZ_METHOD_RECOVERY);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM codes WHERE used_at = 0"), 1);
    assert_int_equal(mzt_query_int(f->st, "SELECT used_at FROM codes"
                                          " WHERE used_at != 0"),
                     T0);
    assert_int_equal(cred_last_step(f), -1); /* the TOTP credential was not used */
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit WHERE method = 'recovery'"
                                          " AND result = 'success'"),
                     1);

    /* Used once: the second time it is wrong. */
    assert_int_equal(attempt(f, &r, T0 + 1, "2345-6789-ABCD-EFGH"), MZ_OK);
    assert_int_equal(r.v.outcome, MZ_REJECT_WRONG);

    /* The other code of the set still works, after the failure. */
    assert_int_equal(attempt(f, &r, T0 + 2, "JKLM-NPQR-STUV-WXYZ"), MZ_OK);
    assert_int_equal(r.v.outcome, MZ_ACCEPT);
    assert_int_equal(r.last.failures_since, 1);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM codes WHERE used_at = 0"), 0);

    /* Voided codes are refused. */
    add_code(f, "taro", "recovery", "2222333344445555", 0);
    int n = 0;
    assert_int_equal(mz_admin_void_codes(f->st, "taro", "recovery", T0 + 3, &n, &e), MZ_OK);
    assert_int_equal(n, 1);
    assert_int_equal(attempt(f, &r, T0 + 4, "2222-3333-4444-5555"), MZ_OK);
    assert_int_equal(r.v.outcome, MZ_REJECT_WRONG);
}

/* A user whose TOTP credential was revoked can still use an emergency code until it
 * expires; a suspended one cannot. */
static void test_attempt_emergency_code(void **state)
{
    struct fx *f = *state;
    struct run r;
    mz_err e = {""};
    enum mz_user_state us;
    int64_t until = 0;
    enrol(f, "taro", "A-001");
    mzt_exec(f->st, "UPDATE credentials SET status = 'revoked'");
    add_code(f, "taro", "emergency", "23456789ABCDEFGH", T0 + 3600);
    add_code(f, "taro", "emergency", "JKLMNPQRSTUVWXYZ", T0 + 3600);
    run_init(&r, 5);

    assert_int_equal(status_of(f->st, "taro", T0, &us, &until, &e), MZ_OK);
    assert_int_equal(us, MZ_USER_READY);
    assert_int_equal(status_of(f->st, "taro", T0 + 3600, &us, &until, &e), MZ_OK);
    assert_int_equal(us, MZ_USER_NO_FACTOR);

    assert_int_equal(attempt(f, &r, T0 + 3599, "23456789ABCDEFGH"), MZ_OK);
    assert_int_equal(r.v.outcome, MZ_ACCEPT);
    assert_int_equal(r.v.method, MZ_METHOD_EMERGENCY);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit WHERE method = 'emergency'"
                                          " AND result = 'success'"),
                     1);
    /* Expired: refused. */
    assert_int_equal(attempt(f, &r, T0 + 3600, "JKLM-NPQR-STUV-WXYZ"), MZ_OK);
    assert_int_equal(r.v.outcome, MZ_REJECT_WRONG);

    /* Not for a suspended staff member, even unexpired. */
    add_code(f, "taro", "emergency", "2222333344445555", T0 + 7200);
    mzt_exec(f->st, "UPDATE staff SET status = 'suspended'");
    assert_int_equal(attempt(f, &r, T0 + 3601, "2222333344445555"), MZ_OK);
    assert_int_not_equal(r.v.outcome, MZ_ACCEPT);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM codes WHERE used_at = 0"), 2);
}

/* --- account ------------------------------------------------------------------------ */

static void test_account_decide(void **state)
{
    (void)state;
    struct mz_staff s;
    mzt_staff(&s, "taro", "A-001");
    const char *today = "2026-04-01";
    assert_int_equal(mz_account_decide(&s, true, today), MZ_ACCOUNT_OK);
    assert_int_equal(mz_account_decide(&s, false, today), MZ_ACCOUNT_NO_FACTOR);

    snprintf(s.valid_until, sizeof(s.valid_until), "%s", "2026-03-31"); /* yesterday */
    assert_int_equal(mz_account_decide(&s, true, today), MZ_ACCOUNT_EXPIRED);
    snprintf(s.valid_until, sizeof(s.valid_until), "%s", "2026-04-01"); /* today: last day */
    assert_int_equal(mz_account_decide(&s, true, today), MZ_ACCOUNT_OK);
    snprintf(s.valid_until, sizeof(s.valid_until), "%s", "2026-04-02"); /* tomorrow */
    assert_int_equal(mz_account_decide(&s, true, today), MZ_ACCOUNT_OK);
    snprintf(s.valid_until, sizeof(s.valid_until), "%s", "2025-12-31");
    assert_int_equal(mz_account_decide(&s, true, "2026-01-01"), MZ_ACCOUNT_EXPIRED);
    snprintf(s.valid_until, sizeof(s.valid_until), "%s", "2026-03-31");
    assert_int_equal(mz_account_decide(&s, false, today), MZ_ACCOUNT_EXPIRED);

    s.valid_until[0] = '\0';
    s.status = MZ_STAFF_REVOKED;
    assert_int_equal(mz_account_decide(&s, true, today), MZ_ACCOUNT_REVOKED);
    s.status = MZ_STAFF_SUSPENDED;
    assert_int_equal(mz_account_decide(&s, true, today), MZ_ACCOUNT_SUSPENDED);
}

/* Local noon of DATE ("YYYY-MM-DD"): the account check takes a time, not a date. */
static int64_t local_noon(const char *date)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    assert_non_null(strptime(date, "%Y-%m-%d", &tm));
    tm.tm_hour = 12;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

static void test_account_check(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    enum mz_account_state as;
    enrol(f, "taro", "A-001");
    add_staff(f, "jiro", "A-002");
    assert_int_equal(mz_account_check(f->st, "taro", local_noon("2026-04-01"), &as, &e), MZ_OK);
    assert_int_equal(as, MZ_ACCOUNT_OK);
    assert_int_equal(mz_account_check(f->st, "jiro", local_noon("2026-04-01"), &as, &e), MZ_OK);
    assert_int_equal(as, MZ_ACCOUNT_NO_FACTOR);
    assert_int_equal(mz_account_check(f->st, "nobody", local_noon("2026-04-01"), &as, &e), MZ_OK);
    assert_int_equal(as, MZ_ACCOUNT_UNKNOWN);

    mzt_exec(f->st, "UPDATE staff SET valid_until = '2026-03-31' WHERE login = 'taro'");
    assert_int_equal(mz_account_check(f->st, "taro", local_noon("2026-04-01"), &as, &e), MZ_OK);
    assert_int_equal(as, MZ_ACCOUNT_EXPIRED);
    assert_int_equal(mz_account_check(f->st, "taro", local_noon("2026-03-31"), &as, &e), MZ_OK);
    assert_int_equal(as, MZ_ACCOUNT_OK);

    mzt_exec(f->st, "UPDATE credentials SET status = 'revoked' WHERE login = 'taro'");
    assert_int_equal(mz_account_check(f->st, "taro", local_noon("2026-03-31"), &as, &e), MZ_OK);
    assert_int_equal(as, MZ_ACCOUNT_NO_FACTOR);
    mzt_exec(f->st, "UPDATE staff SET status = 'revoked' WHERE login = 'taro'");
    assert_int_equal(mz_account_check(f->st, "taro", local_noon("2026-03-31"), &as, &e), MZ_OK);
    assert_int_equal(as, MZ_ACCOUNT_REVOKED);
    mzt_exec(f->st, "UPDATE staff SET status = 'suspended' WHERE login = 'jiro'");
    assert_int_equal(mz_account_check(f->st, "jiro", local_noon("2026-03-31"), &as, &e), MZ_OK);
    assert_int_equal(as, MZ_ACCOUNT_SUSPENDED);
}

/* A login that finds the write lock taken waits for it (the store's busy handler) and
 * gets it once the other commits; it does not fail at once. */
static void test_begin_waits_for_the_lock(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* another process: holds BEGIN IMMEDIATE for 50 ms */
        sqlite3 *db = NULL;
        int ok = sqlite3_open(f->path, &db) == SQLITE_OK &&
                 sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
        char byte = ok ? 'y' : 'n';
        if (write(ready[1], &byte, 1) != 1)
            _exit(2);
        struct timespec hold = {0, 50 * 1000000L};
        nanosleep(&hold, NULL);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(db);
        _exit(ok ? 0 : 1);
    }
    char byte = 0;
    assert_int_equal(read(ready[0], &byte, 1), 1);
    assert_int_equal(byte, 'y');
    int rc = mz_store_begin(f->st, &e);
    if (rc != MZ_OK)
        print_error("%s\n", e.msg);
    assert_int_equal(rc, MZ_OK);
    mz_store_rollback(f->st);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(ready[0]);
    close(ready[1]);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_create_and_reopen),
        T(test_open_missing),
        T(test_login_does_not_wait_for_readers),
        T(test_shared_connection_keeps_the_wal),
        T(test_open_file_modes),
        T(test_open_dir_modes),
        T(test_open_symlink),
        T(test_open_dir_symlink),
        T(test_open_ancestor_modes),
        T(test_check_folders_links_and_relative),
        T(test_check_folders_odd_paths),
        T(test_open_not_a_store),
        T(test_wal_and_sync),
        T(test_staff_round_trip),
        T(test_staff_duplicates),
        T(test_transaction_rollback),
        T(test_begin_waits_for_the_lock),
        T(test_totp_round_trip),
        T(test_totp_refuses),
        T(test_load_record_unknown),
        T(test_revoked_credential),
        T(test_staff_not_active),
        T(test_wrong_key),
        T(test_secret_moved_to_other_login),
        T(test_each_credential),
        T(test_save_and_load_state),
        T(test_attempt_end_to_end),
        T(test_failed_attempt_changes_only_state),
        T(test_attempt_privileged),
        T(test_attempt_unknown_and_unenrolled),
        T(test_attempt_wrong_key),
        T(test_audit_of_attempts),
        T(test_attempt_recovery_code),
        T(test_attempt_emergency_code),
        cmocka_unit_test(test_account_decide),
        T(test_account_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
