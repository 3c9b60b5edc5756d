/* Unit tests of lib/mz_audit.c: the hash-chained, append-only audit log. Tampering is
 * done with plain SQL on the store, as an intruder with write access would do it. */
#include "mz_test.h"

#define T0 ((int64_t)1700000010) /* 2023-11-14T22:13:30Z */
#define EVENTS 5

struct fx {
    struct mzt_dir dir;
    char path[PATH_MAX];
    struct mz_store *st;
    struct mz_keys keys;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    mzt_dir_make(&f->dir);
    mzt_keys(&f->keys, 1);
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

static const char *const users[EVENTS] = {"taro", "hanako", "taro", "jiro", "taro"};
static const char *const results[EVENTS] = {"success", "failure", "failure", "success", "error"};

static void event_n(int i, struct mz_event *ev)
{
    ev->host = "terminal-01";
    ev->service = i == 3 ? "mnzone-enroll" : "login";
    ev->tty = "tty1";
    ev->rhost = i == 1 ? "192.0.2.9" : "";
    ev->user = users[i];
    ev->actor = i == 3 ? "suzuki" : users[i];
    ev->event = i == 3 ? "add" : "auth";
    ev->method = "totp";
    ev->result = results[i];
    ev->reason = i == 1 ? "wrong code" : "岩手県 テスト";
}

static void append_events(struct fx *f, int n)
{
    mz_err e = {""};
    for (int i = 0; i < n; i++) {
        struct mz_event ev;
        event_n(i, &ev);
        int rc = mz_audit_append(f->st, &f->keys, &ev, T0 + 60 * i, &e);
        if (rc != MZ_OK)
            print_error("%s\n", e.msg);
        assert_int_equal(rc, MZ_OK);
    }
}

static void drop_triggers(struct fx *f)
{
    mzt_exec(f->st, "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;");
}

/* Expects the chain broken at BAD_SEQ with GOOD events verified before it. */
static void expect_broken(struct fx *f, const struct mz_keys *keys, int64_t bad_seq, int64_t good)
{
    mz_err e = {""};
    int64_t count = -1, bad = -1;
    int rc = mz_audit_verify(f->st, keys, &count, &bad, &e);
    if (rc != 1 || bad != bad_seq)
        print_error("verify: rc %d, bad_seq %lld (expected 1, %lld)\n", rc, (long long)bad,
                    (long long)bad_seq);
    assert_int_equal(rc, 1);
    assert_int_equal(bad, bad_seq);
    assert_int_equal(count, good);
}

static void expect_intact(struct fx *f, int64_t n)
{
    mz_err e = {""};
    int64_t count = -1, bad = -1;
    int rc = mz_audit_verify(f->st, &f->keys, &count, &bad, &e);
    if (rc != MZ_OK)
        print_error("verify: rc %d, bad_seq %lld: %s\n", rc, (long long)bad, e.msg);
    assert_int_equal(rc, MZ_OK);
    assert_int_equal(count, n);
    assert_int_equal(bad, 0);
}

static void test_empty_log(void **state)
{
    struct fx *f = *state;
    expect_intact(f, 0);
}

static void test_append_and_verify(void **state)
{
    struct fx *f = *state;
    append_events(f, EVENTS);
    expect_intact(f, EVENTS);

    /* Numbered 1..N, time in UTC ISO 8601, fields as given. */
    assert_int_equal(mzt_query_int(f->st, "SELECT min(seq) FROM audit"), 1);
    assert_int_equal(mzt_query_int(f->st, "SELECT max(seq) FROM audit"), EVENTS);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit WHERE seq = 1"
                                          " AND at = '2023-11-14T22:13:30Z' AND user = 'taro'"
                                          " AND result = 'success' AND host = 'terminal-01'"),
                     1);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit WHERE seq = 2"
                                          " AND at = '2023-11-14T22:14:30Z'"
                                          " AND rhost = '192.0.2.9' AND reason = 'wrong code'"),
                     1);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit WHERE seq = 4"
                                          " AND actor = 'suzuki' AND event = 'add'"),
                     1);
    /* Each event carries the hash of the one before. */
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit a JOIN audit b"
                                          " ON b.seq = a.seq + 1 WHERE b.prev_hash = a.hash"),
                     EVENTS - 1);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(DISTINCT hash) FROM audit"), EVENTS);

    /* Appending goes on from the end, and the chain still holds. */
    append_events(f, 2);
    expect_intact(f, EVENTS + 2);
}

/* NULL fields are stored and hashed as empty text. */
static void test_null_fields(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.user = "taro";
    ev.event = "auth";
    ev.result = "failure";
    assert_int_equal(mz_audit_append(f->st, &f->keys, &ev, T0, &e), MZ_OK);
    append_events(f, 1);
    expect_intact(f, 2);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit WHERE seq = 1"
                                          " AND host = '' AND tty = '' AND reason = ''"),
                     1);
}

static const char *const columns[] = {"at",    "host",  "service", "tty",    "rhost", "user",
                                      "actor", "event", "method",  "result", "reason"};

/* Appends SUFFIX (SQL) to each column of event SEQ in turn, expects the chain broken
 * there, and puts the value back. */
static void change_each_column(struct fx *f, int seq, const char *suffix)
{
    char sql[256];
    for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++) {
        snprintf(sql, sizeof(sql),
                 "CREATE TEMP TABLE saved AS SELECT %s AS v FROM audit WHERE seq = %d;"
                 "UPDATE audit SET %s = %s %s WHERE seq = %d;",
                 columns[i], seq, columns[i], columns[i], suffix, seq);
        mzt_exec(f->st, sql);
        expect_broken(f, &f->keys, seq, seq - 1);
        snprintf(sql, sizeof(sql),
                 "UPDATE audit SET %s = (SELECT v FROM saved) WHERE seq = %d;"
                 "DROP TABLE saved;",
                 columns[i], seq);
        mzt_exec(f->st, sql);
        expect_intact(f, EVENTS);
    }
}

static void test_changed_field(void **state)
{
    struct fx *f = *state;
    append_events(f, EVENTS);
    drop_triggers(f);
    change_each_column(f, 2, "|| 'x'");
    /* The result of an attempt: a failure turned into a success. */
    mzt_exec(f->st, "UPDATE audit SET result = 'success' WHERE seq = 2");
    expect_broken(f, &f->keys, 2, 1);
}

/* Bytes after a NUL in a field: readers stop at the NUL, but the event was changed. */
static void test_bytes_after_nul(void **state)
{
    struct fx *f = *state;
    append_events(f, EVENTS);
    drop_triggers(f);
    change_each_column(f, 3, "|| char(0) || 'x'");
}

static void test_changed_hashes(void **state)
{
    struct fx *f = *state;
    append_events(f, EVENTS);
    drop_triggers(f);
    mzt_exec(f->st, "CREATE TEMP TABLE saved AS SELECT * FROM audit");
    mzt_exec(f->st, "UPDATE audit SET hash = zeroblob(32) WHERE seq = 2");
    expect_broken(f, &f->keys, 2, 1);
    mzt_exec(f->st, "DELETE FROM audit; INSERT INTO audit SELECT * FROM saved ORDER BY seq");
    expect_intact(f, EVENTS);
    mzt_exec(f->st, "UPDATE audit SET prev_hash = zeroblob(32) WHERE seq = 3");
    expect_broken(f, &f->keys, 3, 2);
    mzt_exec(f->st, "DELETE FROM audit; INSERT INTO audit SELECT * FROM saved ORDER BY seq");
    /* A hash of the wrong length. */
    mzt_exec(f->st, "UPDATE audit SET hash = substr(hash, 1, 31) WHERE seq = 4");
    expect_broken(f, &f->keys, 4, 3);
}

static void test_deleted_event(void **state)
{
    struct fx *f = *state;
    append_events(f, EVENTS);
    drop_triggers(f);
    mzt_exec(f->st, "CREATE TEMP TABLE saved AS SELECT * FROM audit");
    mzt_exec(f->st, "DELETE FROM audit WHERE seq = 2");
    expect_broken(f, &f->keys, 3, 1);
    /* The first event gone. */
    mzt_exec(f->st, "DELETE FROM audit; INSERT INTO audit SELECT * FROM saved ORDER BY seq");
    mzt_exec(f->st, "DELETE FROM audit WHERE seq = 1");
    expect_broken(f, &f->keys, 2, 0);
    /* Removed and renumbered, to hide the gap. */
    mzt_exec(f->st, "DELETE FROM audit; INSERT INTO audit SELECT * FROM saved ORDER BY seq");
    mzt_exec(f->st,
             "DELETE FROM audit WHERE seq = 2; UPDATE audit SET seq = seq - 1 WHERE seq > 2");
    expect_broken(f, &f->keys, 2, 1);
}

static void test_swapped_events(void **state)
{
    struct fx *f = *state;
    append_events(f, EVENTS);
    drop_triggers(f);
    mzt_exec(f->st, "CREATE TEMP TABLE saved AS SELECT * FROM audit");
    /* Whole rows swapped, hashes and all, keeping the numbers in order. */
    mzt_exec(f->st, "UPDATE audit SET seq = -2 WHERE seq = 2;"
                    "UPDATE audit SET seq = 2 WHERE seq = 3;"
                    "UPDATE audit SET seq = 3 WHERE seq = -2;");
    expect_broken(f, &f->keys, 2, 1);

    /* Only the contents swapped, the hash columns left in place. */
    mzt_exec(f->st, "DELETE FROM audit; INSERT INTO audit SELECT * FROM saved ORDER BY seq");
    mzt_exec(f->st, "UPDATE audit SET (at, host, service, tty, rhost, user, actor, event, method,"
                    " result, reason) = (SELECT at, host, service, tty, rhost, user, actor,"
                    " event, method, result, reason FROM saved s WHERE s.seq ="
                    " CASE audit.seq WHEN 2 THEN 3 ELSE 2 END) WHERE seq IN (2, 3)");
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit a JOIN saved s"
                                          " ON s.seq = 5 - a.seq WHERE a.seq IN (2, 3)"
                                          " AND a.result = s.result AND a.user = s.user"),
                     2);
    expect_broken(f, &f->keys, 2, 1);
}

static void test_other_key(void **state)
{
    struct fx *f = *state;
    struct mz_keys other;
    append_events(f, EVENTS);
    mzt_keys(&other, 2);
    expect_broken(f, &other, 1, 0);
    expect_intact(f, EVENTS);
}

/* An intruder who changes an event and recomputes its hash without the key is caught
 * at that event; with the key only the next event's link gives it away. */
static void test_rehash_without_key(void **state)
{
    struct fx *f = *state;
    struct mz_keys guess;
    append_events(f, EVENTS);
    drop_triggers(f);
    mzt_keys(&guess, 3);
    mzt_exec(f->st, "UPDATE audit SET result = 'success' WHERE seq = 3");
    /* Recompute event 3's hash with a guessed key. */
    uint8_t prev[MZ_HASH_BYTES], hash[MZ_HASH_BYTES];
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(mz_store_db(f->st),
                                        "SELECT prev_hash FROM audit WHERE seq = 3", -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_bytes(q, 0), MZ_HASH_BYTES);
    memcpy(prev, sqlite3_column_blob(q, 0), MZ_HASH_BYTES);
    sqlite3_finalize(q);
    struct mz_event ev;
    event_n(2, &ev);
    ev.result = "success";
    mz_audit_hash(&guess, 3, "2023-11-14T22:15:30Z", &ev, prev, hash);
    assert_int_equal(sqlite3_prepare_v2(mz_store_db(f->st),
                                        "UPDATE audit SET hash = ?1 WHERE seq = 3", -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(q, 1, hash, MZ_HASH_BYTES, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    expect_broken(f, &f->keys, 3, 2);

    /* With the real key the event itself fits; the next one's link does not. */
    mz_audit_hash(&f->keys, 3, "2023-11-14T22:15:30Z", &ev, prev, hash);
    assert_int_equal(sqlite3_prepare_v2(mz_store_db(f->st),
                                        "UPDATE audit SET hash = ?1 WHERE seq = 3", -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(q, 1, hash, MZ_HASH_BYTES, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    expect_broken(f, &f->keys, 4, 3);
}

static void test_triggers_refuse(void **state)
{
    struct fx *f = *state;
    append_events(f, EVENTS);
    sqlite3 *db = mz_store_db(f->st);
    char *msg = NULL;
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE audit SET result = 'success' WHERE seq = 2", NULL, NULL, &msg),
        SQLITE_OK);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "append-only"));
    sqlite3_free(msg);
    msg = NULL;
    assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit WHERE seq = 5", NULL, NULL, &msg),
                         SQLITE_OK);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "append-only"));
    sqlite3_free(msg);
    assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit", NULL, NULL, NULL), SQLITE_OK);
    /* An upsert is an update. */
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO audit SELECT * FROM audit WHERE seq = 2"
                                      " ON CONFLICT (seq) DO UPDATE SET result = 'success'",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit"), EVENTS);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit WHERE result = 'success'"),
                     2);
    expect_intact(f, EVENTS);
}

/* INSERT OR REPLACE deletes the old row without firing DELETE triggers (SQLite fires
 * them on REPLACE only with recursive_triggers on): it must be refused all the same,
 * or an event can be rewritten in place while the triggers are present. */
static void test_triggers_refuse_replace(void **state)
{
    struct fx *f = *state;
    append_events(f, EVENTS);
    sqlite3 *db = mz_store_db(f->st);
    int rc = sqlite3_exec(db,
                          "INSERT OR REPLACE INTO audit SELECT seq, at, host, service, tty, rhost,"
                          " user, actor, event, method, 'success', reason, prev_hash, hash"
                          " FROM audit WHERE seq = 2",
                          NULL, NULL, NULL);
    assert_int_not_equal(rc, SQLITE_OK);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit WHERE seq = 2"
                                          " AND result = 'failure'"),
                     1);
}

/* Inside the caller's transaction: rolled back with it. */
static void test_append_in_transaction(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_event ev;
    event_n(0, &ev);
    assert_int_equal(mz_store_begin(f->st, &e), MZ_OK);
    assert_int_equal(mz_audit_append(f->st, &f->keys, &ev, T0, &e), MZ_OK);
    assert_int_equal(mz_audit_append(f->st, &f->keys, &ev, T0 + 1, &e), MZ_OK);
    mz_store_rollback(f->st);
    assert_int_equal(mzt_query_int(f->st, "SELECT count(*) FROM audit"), 0);
    assert_int_equal(mz_store_begin(f->st, &e), MZ_OK);
    assert_int_equal(mz_audit_append(f->st, &f->keys, &ev, T0, &e), MZ_OK);
    assert_int_equal(mz_store_commit(f->st, &e), MZ_OK);
    expect_intact(f, 1);
    /* The chain survives closing and reopening the store. */
    mz_store_close(f->st);
    f->st = NULL;
    assert_int_equal(mz_store_open(f->path, 0, &f->st, &e), MZ_OK);
    append_events(f, 2);
    expect_intact(f, 3);
}

/* The head the module logs: the event appended last and committed, as the chain holds
 * it; none after a rollback, after a new BEGIN, or before any append. */
static void test_last_head(void **state)
{
    struct fx *f = *state;
    mz_err e = {""};
    struct mz_event ev;
    char head[MZ_AUDIT_HEAD_TEXT], want[MZ_AUDIT_HEAD_TEXT];
    event_n(0, &ev);
    assert_false(mz_audit_last_head(f->st, head));
    assert_int_equal(mz_store_begin(f->st, &e), MZ_OK);
    assert_int_equal(mz_audit_append(f->st, &f->keys, &ev, T0, &e), MZ_OK);
    assert_true(mz_audit_last_head(f->st, head));
    mz_store_rollback(f->st);
    assert_false(mz_audit_last_head(f->st, head));
    append_events(f, 2);
    assert_true(mz_audit_last_head(f->st, head));
    uint8_t hash[MZ_HASH_BYTES];
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(mz_store_db(f->st), "SELECT hash FROM audit WHERE seq = 2",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    memcpy(hash, sqlite3_column_blob(q, 0), MZ_HASH_BYTES);
    sqlite3_finalize(q);
    mz_audit_format_head(2, hash, want);
    assert_string_equal(head, want);
    assert_int_equal(mz_store_begin(f->st, &e), MZ_OK);
    assert_false(mz_audit_last_head(f->st, head));
    mz_store_rollback(f->st);
}

/* The hash covers the number, the time, every field, the previous hash and the key; and
 * fields are framed, so text cannot move from one field to the next. */
static void test_hash_covers_everything(void **state)
{
    (void)state;
    struct mz_keys keys, other;
    mzt_keys(&keys, 1);
    mzt_keys(&other, 2);
    uint8_t prev[MZ_HASH_BYTES], prev2[MZ_HASH_BYTES], base[MZ_HASH_BYTES], h[MZ_HASH_BYTES];
    memset(prev, 0x11, sizeof(prev));
    memset(prev2, 0x11, sizeof(prev2));
    prev2[31] ^= 1;
    struct mz_event ev;
    event_n(1, &ev);
    const char *at = "2023-11-14T22:13:30Z";
    mz_audit_hash(&keys, 7, at, &ev, prev, base);
    mz_audit_hash(&keys, 7, at, &ev, prev, h);
    assert_memory_equal(base, h, MZ_HASH_BYTES);

    mz_audit_hash(&keys, 8, at, &ev, prev, h);
    assert_memory_not_equal(base, h, MZ_HASH_BYTES);
    mz_audit_hash(&keys, 7, "2023-11-14T22:13:31Z", &ev, prev, h);
    assert_memory_not_equal(base, h, MZ_HASH_BYTES);
    mz_audit_hash(&keys, 7, at, &ev, prev2, h);
    assert_memory_not_equal(base, h, MZ_HASH_BYTES);
    mz_audit_hash(&other, 7, at, &ev, prev, h);
    assert_memory_not_equal(base, h, MZ_HASH_BYTES);

    const char **fields[] = {&ev.host,  &ev.service, &ev.tty,    &ev.rhost,  &ev.user,
                             &ev.actor, &ev.event,   &ev.method, &ev.result, &ev.reason};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *saved = *fields[i];
        *fields[i] = "changed";
        mz_audit_hash(&keys, 7, at, &ev, prev, h);
        assert_memory_not_equal(base, h, MZ_HASH_BYTES);
        *fields[i] = saved;
    }

    /* "ab" + "c" is not "a" + "bc". */
    struct mz_event a, b;
    event_n(0, &a);
    event_n(0, &b);
    a.event = "auth";
    a.method = "totp";
    b.event = "autht";
    b.method = "otp";
    uint8_t ha[MZ_HASH_BYTES], hb[MZ_HASH_BYTES];
    mz_audit_hash(&keys, 1, at, &a, prev, ha);
    mz_audit_hash(&keys, 1, at, &b, prev, hb);
    assert_memory_not_equal(ha, hb, MZ_HASH_BYTES);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_empty_log),
        T(test_append_and_verify),
        T(test_null_fields),
        T(test_changed_field),
        T(test_bytes_after_nul),
        T(test_changed_hashes),
        T(test_deleted_event),
        T(test_swapped_events),
        T(test_other_key),
        T(test_rehash_without_key),
        T(test_triggers_refuse),
        T(test_triggers_refuse_replace),
        T(test_append_in_transaction),
        T(test_last_head),
        cmocka_unit_test(test_hash_covers_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
