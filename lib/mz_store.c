#include "config.h"

#include "mz_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Prepared statements kept for the connection's life, keyed by their SQL text (a
 * string constant): mnzoned runs the same few per login, and preparing is most of a
 * login's CPU time. */
#define STMT_CACHE 32

struct mz_store {
    sqlite3 *db;
    char path[PATH_MAX];
    struct timespec busy_since; /* when the present wait for the write lock began */
    int64_t head_seq;           /* mz_store_note_head; 0: none */
    unsigned long busy_waits;   /* waits begun by busy_wait, for mz_store_busy_waits */
    uint8_t head_hash[32];
    struct {
        const char *sql;
        sqlite3_stmt *q;
    } cache[STMT_CACHE];
};

static const char schema_sql[] =
    "CREATE TABLE staff ("
    " login TEXT PRIMARY KEY,"
    " staff_id TEXT NOT NULL UNIQUE,"
    " full_name TEXT NOT NULL,"
    " department TEXT NOT NULL DEFAULT '',"
    " employment TEXT NOT NULL CHECK (employment IN ('regular','fiscal-year','contractor')),"
    " valid_until TEXT NOT NULL DEFAULT '',"
    " status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','suspended','revoked')),"
    " created_at INTEGER NOT NULL, created_by TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL, updated_by TEXT NOT NULL);"
    "CREATE TABLE credentials ("
    " id INTEGER PRIMARY KEY,"
    " login TEXT NOT NULL REFERENCES staff(login),"
    " method TEXT NOT NULL CHECK (method IN ('totp','yubikey')),"
    " secret BLOB,"
    " hw_serial INTEGER, hw_slot INTEGER, hw_challenge BLOB, hw_response_hash BLOB,"
    " status TEXT NOT NULL CHECK (status IN ('active','revoked')),"
    " created_at INTEGER NOT NULL, created_by TEXT NOT NULL,"
    " last_used_at INTEGER NOT NULL DEFAULT 0,"
    " last_step INTEGER NOT NULL DEFAULT -1,"
    " revoked_at INTEGER NOT NULL DEFAULT 0, revoked_by TEXT NOT NULL DEFAULT '',"
    " revoked_why TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX credentials_login ON credentials(login, status);"
    "CREATE TABLE codes ("
    " id INTEGER PRIMARY KEY,"
    " login TEXT NOT NULL REFERENCES staff(login),"
    " kind TEXT NOT NULL CHECK (kind IN ('recovery','emergency')),"
    " salt BLOB NOT NULL, hash BLOB NOT NULL,"
    " created_at INTEGER NOT NULL, created_by TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '',"
    " used_at INTEGER NOT NULL DEFAULT 0, voided_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX codes_login ON codes(login);"
    "CREATE TABLE login_state ("
    " login TEXT PRIMARY KEY REFERENCES staff(login),"
    " failures INTEGER NOT NULL DEFAULT 0,"
    " failures_since_success INTEGER NOT NULL DEFAULT 0,"
    " locked_until INTEGER NOT NULL DEFAULT 0,"
    " last_success_at INTEGER NOT NULL DEFAULT 0,"
    " last_success_host TEXT NOT NULL DEFAULT '',"
    " last_success_service TEXT NOT NULL DEFAULT '',"
    " last_failure_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE audit ("
    " seq INTEGER PRIMARY KEY,"
    " at TEXT NOT NULL, host TEXT NOT NULL, service TEXT NOT NULL, tty TEXT NOT NULL,"
    " rhost TEXT NOT NULL, user TEXT NOT NULL, actor TEXT NOT NULL, event TEXT NOT NULL,"
    " method TEXT NOT NULL, result TEXT NOT NULL, reason TEXT NOT NULL,"
    " prev_hash BLOB NOT NULL, hash BLOB NOT NULL);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    /* INSERT OR REPLACE deletes without firing DELETE triggers: only new seqs go in. */
    "CREATE TRIGGER audit_only_append BEFORE INSERT ON audit"
    " WHEN NEW.seq <= (SELECT COALESCE(MAX(seq), 0) FROM audit)"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "PRAGMA user_version = 1;";

static int db_fail(struct mz_store *st, mz_err *e, const char *what)
{
    return mz_fail(e, MZ_ERR_STORE, _("%s: %s: %s"), st->path, what, sqlite3_errmsg(st->db));
}

sqlite3 *mz_store_db(struct mz_store *st)
{
    return st->db;
}

/* SQLite's own busy handler sleeps 1, 2, 5, 10, ... 100 ms between tries, while another
 * login holds the write lock for about 0.3 ms: two logins at once then waited up to
 * tens of milliseconds. Poll every 0.1 ms, backing off to 2 ms, and give up (the login
 * fails closed) after MZ_BUSY_TIMEOUT_MS, as sqlite3_busy_timeout would. */
static int busy_wait(void *arg, int count)
{
    struct mz_store *st = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (count == 0) {
        st->busy_since = now;
        st->busy_waits++;
    }
    int64_t waited_ns = (int64_t)(now.tv_sec - st->busy_since.tv_sec) * 1000000000 +
                        (now.tv_nsec - st->busy_since.tv_nsec);
    if (waited_ns >= (int64_t)MZ_BUSY_TIMEOUT_MS * 1000000)
        return 0;
    long pause_ns = count < 20 ? 100000L : count < 40 ? 500000L : 2000000L;
    struct timespec pause = {0, pause_ns};
    nanosleep(&pause, NULL);
    return 1;
}

/* Every login opens and closes the store. By default closing the last connection
 * checkpoints the WAL into the database and deletes it: four fsyncs more per login.
 * Logins skip that, but then each open rebuilds the WAL index by reading the whole WAL
 * and cannot tell which frames were already copied, so a plain automatic checkpoint
 * would never let the WAL restart. Truncating it once it passes MZ_LOGIN_WAL_PAGES
 * keeps both the reading at open and the checkpoints small.
 *
 * The login's commit is already durable when this runs. A TRUNCATE
 * checkpoint waits for readers (report, audit verify, an auditor's sqlite3 shell holding
 * a snapshot) through the busy handler: 5 s at every login while they read. Without the
 * handler it gives up at once after copying what it can; a later login truncates. */
static int truncate_wal_when_long(void *arg, sqlite3 *db, const char *name, int pages)
{
    if (pages >= MZ_LOGIN_WAL_PAGES) {
        sqlite3_busy_handler(db, NULL, NULL);
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_busy_handler(db, busy_wait, arg);
    }
    return SQLITE_OK;
}

/* The file must exist (or be created here, 0600) and pass the owner and mode checks. */
static int check_file(const char *path, bool create, mz_err *e)
{
    int fd;
    struct stat st;
    if (!create && lstat(path, &st) != 0 && errno == ENOENT)
        return mz_fail(e, MZ_ERR_STORE, _("%s: no store; create it with mnzone-enroll init"), path);
    int rc = mz_check_folders(path, NULL, 0, e);
    if (rc != MZ_OK)
        return rc;
    if (create) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
        } else if (errno != EEXIST) {
            return mz_fail(e, MZ_ERR_STORE, _("%s: cannot create: %s"), path, strerror(errno));
        }
    }
    rc = mz_open_checked(path, O_RDONLY, MZ_FILE_SECRET, &fd, e);
    if (rc == MZ_ERR_CONFIG) /* vanished since the check above */
        rc = MZ_ERR_STORE;
    if (rc == MZ_OK)
        close(fd);
    return rc;
}

int mz_store_open(const char *path, int flags, struct mz_store **out, mz_err *e)
{
    bool create = (flags & MZ_STORE_CREATE) != 0;
    int rc = check_file(path, create, e);
    if (rc != MZ_OK)
        return rc;

    struct mz_store *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return mz_fail(e, MZ_ERR_NOMEM, _("out of memory"));
    snprintf(st->path, sizeof(st->path), "%s", path);
    int sflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_PRIVATECACHE;
    if (sqlite3_open_v2(path, &st->db, sflags, NULL) != SQLITE_OK) {
        rc = db_fail(st, e, _("cannot open"));
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    if (flags & (MZ_STORE_LOGIN | MZ_STORE_SHARED))
        sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if (flags & MZ_STORE_LOGIN) {
        sqlite3_wal_hook(st->db, truncate_wal_when_long, st);
    } else if (flags & (MZ_STORE_SHARED | MZ_STORE_RESIDENT)) {
        /* mnzoned's connection keeps the WAL index alive, so a passive checkpoint lets the
         * next commit restart the WAL from its start. A login beside it checkpoints the
         * same way when its commit passes the mark (a key-only site commits mostly
         * there): never a truncation, which would copy the whole WAL at 32 pages and
         * make mnzoned grow the file anew. */
        sqlite3_wal_autocheckpoint(st->db, MZ_RESIDENT_WAL_PAGES);
    }
    sqlite3_busy_handler(st->db, busy_wait, st);
    if (sqlite3_exec(st->db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                     " PRAGMA foreign_keys = ON; PRAGMA trusted_schema = OFF;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_fail(st, e, _("cannot set up"));
        goto fail;
    }

    sqlite3_stmt *q = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (version == 0 && create) {
        if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(st->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            rc = db_fail(st, e, _("cannot create the schema"));
            goto fail;
        }
        version = MZ_SCHEMA_VERSION;
    }
    if (version != MZ_SCHEMA_VERSION) {
        rc = mz_fail(e, MZ_ERR_STORE, _("%s: not an mnzone store of schema version %d (found %d)"),
                     path, MZ_SCHEMA_VERSION, version);
        goto fail;
    }
    *out = st;
    return MZ_OK;
fail:
    mz_store_close(st);
    return rc;
}

void mz_store_close(struct mz_store *st)
{
    if (st == NULL)
        return;
    for (int i = 0; i < STMT_CACHE; i++)
        sqlite3_finalize(st->cache[i].q);
    sqlite3_close_v2(st->db);
    free(st);
}

/* Runs one statement without rows through the statement cache (BEGIN and COMMIT run
 * at every attempt). On failure E says WHAT failed and why, read before the statement
 * is reset. */
static int run_cached(struct mz_store *st, const char *sql, const char *what, mz_err *e)
{
    sqlite3_stmt *q;
    int rc = mz_store_prepare(st, sql, &q, e);
    if (rc != MZ_OK)
        return rc;
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = db_fail(st, e, what);
    mz_store_release(st, q);
    return rc;
}

int mz_store_begin(struct mz_store *st, mz_err *e)
{
    st->head_seq = 0;
    return run_cached(st, "BEGIN IMMEDIATE", _("cannot start a transaction"), e);
}

int mz_store_commit(struct mz_store *st, mz_err *e)
{
    int rc = run_cached(st, "COMMIT", _("cannot commit"), e);
    if (rc != MZ_OK)
        mz_store_rollback(st);
    return rc;
}

void mz_store_rollback(struct mz_store *st)
{
    st->head_seq = 0;
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

void mz_store_note_head(struct mz_store *st, int64_t seq, const uint8_t hash[32])
{
    st->head_seq = seq;
    memcpy(st->head_hash, hash, sizeof(st->head_hash));
}

unsigned long mz_store_busy_waits(const struct mz_store *st)
{
    return st->busy_waits;
}

bool mz_store_last_head(const struct mz_store *st, int64_t *seq, uint8_t hash[32])
{
    *seq = st->head_seq;
    memcpy(hash, st->head_hash, sizeof(st->head_hash));
    return st->head_seq > 0;
}

static const char *const employment_names[] = {"regular", "fiscal-year", "contractor"};
static const char *const status_names[] = {"active", "suspended", "revoked"};

const char *mz_employment_name(enum mz_employment x)
{
    return employment_names[x];
}

bool mz_employment_parse(const char *s, enum mz_employment *out)
{
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, employment_names[i]) == 0) {
            *out = (enum mz_employment)i;
            return true;
        }
    }
    return false;
}

const char *mz_staff_status_name(enum mz_staff_status s)
{
    return status_names[s];
}

int mz_store_prepare(struct mz_store *st, const char *sql, sqlite3_stmt **q, mz_err *e)
{
    int free_slot = -1;
    for (int i = 0; i < STMT_CACHE; i++) {
        if (st->cache[i].sql == sql) {
            *q = st->cache[i].q;
            return MZ_OK;
        }
        if (st->cache[i].sql == NULL && free_slot < 0)
            free_slot = i;
    }
    unsigned flags = free_slot >= 0 ? SQLITE_PREPARE_PERSISTENT : 0;
    if (sqlite3_prepare_v3(st->db, sql, -1, flags, q, NULL) != SQLITE_OK)
        return db_fail(st, e, _("cannot prepare a query"));
    if (free_slot >= 0) {
        st->cache[free_slot].sql = sql;
        st->cache[free_slot].q = *q;
    }
    return MZ_OK;
}

void mz_store_release(struct mz_store *st, sqlite3_stmt *q)
{
    if (q == NULL)
        return;
    for (int i = 0; i < STMT_CACHE; i++) {
        if (st->cache[i].q == q) {
            sqlite3_reset(q);
            sqlite3_clear_bindings(q);
            return;
        }
    }
    sqlite3_finalize(q);
}

/* mz_store_prepare() with ?1 bound to LOGIN, as most queries about one staff member begin. */
static int prepare_login(struct mz_store *st, const char *sql, const char *login, sqlite3_stmt **q,
                         mz_err *e)
{
    int rc = mz_store_prepare(st, sql, q, e);
    if (rc == MZ_OK)
        sqlite3_bind_text(*q, 1, login, -1, SQLITE_STATIC);
    return rc;
}

static void copy_text(sqlite3_stmt *q, int col, char *dst, size_t len)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    snprintf(dst, len, "%s", t != NULL ? (const char *)t : "");
}

/* Runs SQL (an INSERT or an UPDATE of staff) with ?1..?7 the login, staff id, name,
 * department, employment, valid-until and status of S, and ?8, ?9 when and by whom:
 * the creation for an INSERT, the change for an UPDATE. *CHANGED counts the rows. */
static int write_staff(struct mz_store *st, const char *sql, const struct mz_staff *s, bool update,
                       int *changed, mz_err *e)
{
    sqlite3_stmt *q;
    int rc = mz_store_prepare(st, sql, &q, e);
    if (rc != MZ_OK)
        return rc;
    sqlite3_bind_text(q, 1, s->login, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, s->staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, s->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, s->dept, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, mz_employment_name(s->employment), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, s->valid_until, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, mz_staff_status_name(s->status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 8, update ? s->updated_at : s->created_at);
    sqlite3_bind_text(q, 9, update ? s->updated_by : s->created_by, -1, SQLITE_STATIC);
    int step = sqlite3_step(q);
    if (step == SQLITE_CONSTRAINT_PRIMARYKEY)
        rc = mz_fail(e, MZ_ERR_EXISTS, _("%s: already enrolled"), s->login);
    else if (step == SQLITE_CONSTRAINT_UNIQUE)
        rc = mz_fail(e, MZ_ERR_EXISTS, _("staff id %s: already in use"), s->staff_id);
    else if (step != SQLITE_DONE)
        rc = db_fail(st, e, _("cannot add the staff member"));
    else
        *changed = sqlite3_changes(st->db);
    mz_store_release(st, q);
    return rc;
}

int mz_store_add_staff(struct mz_store *st, const struct mz_staff *s, mz_err *e)
{
    int changed;
    return write_staff(st,
                       "INSERT INTO staff (login, staff_id, full_name, department, employment,"
                       " valid_until, status, created_at, created_by, updated_at, updated_by)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8, ?9)",
                       s, false, &changed, e);
}

int mz_store_reenrol_staff(struct mz_store *st, const struct mz_staff *s, mz_err *e)
{
    int changed = 0;
    int rc = write_staff(st,
                         "UPDATE staff SET staff_id = ?2, full_name = ?3, department = ?4,"
                         " employment = ?5, valid_until = ?6, status = ?7, updated_at = ?8,"
                         " updated_by = ?9 WHERE login = ?1 AND status = 'revoked'",
                         s, true, &changed, e);
    if (rc == MZ_OK && changed != 1)
        rc = mz_fail(e, MZ_ERR_NOUSER, _("%s: not enrolled"), s->login);
    return rc;
}

static bool lookup_name(const char *const *names, int n, const char *s, int *out)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

int mz_store_get_staff(struct mz_store *st, const char *login, struct mz_staff *s, mz_err *e)
{
    sqlite3_stmt *q;
    int rc = prepare_login(st,
                           "SELECT login, staff_id, full_name, department, employment, valid_until,"
                           " status, created_at, created_by, updated_at, updated_by"
                           " FROM staff WHERE login = ?1",
                           login, &q, e);
    if (rc != MZ_OK)
        return rc;
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        memset(s, 0, sizeof(*s));
        copy_text(q, 0, s->login, sizeof(s->login));
        copy_text(q, 1, s->staff_id, sizeof(s->staff_id));
        copy_text(q, 2, s->name, sizeof(s->name));
        copy_text(q, 3, s->dept, sizeof(s->dept));
        int v = 0;
        const char *t = (const char *)sqlite3_column_text(q, 4);
        lookup_name(employment_names, 3, t != NULL ? t : "", &v);
        s->employment = (enum mz_employment)v;
        copy_text(q, 5, s->valid_until, sizeof(s->valid_until));
        v = MZ_STAFF_REVOKED; /* an unreadable status counts as revoked */
        t = (const char *)sqlite3_column_text(q, 6);
        lookup_name(status_names, 3, t != NULL ? t : "", &v);
        s->status = (enum mz_staff_status)v;
        s->created_at = sqlite3_column_int64(q, 7);
        copy_text(q, 8, s->created_by, sizeof(s->created_by));
        s->updated_at = sqlite3_column_int64(q, 9);
        copy_text(q, 10, s->updated_by, sizeof(s->updated_by));
    } else if (step == SQLITE_DONE) {
        rc = mz_fail(e, MZ_ERR_NOUSER, _("%s: not enrolled"), login);
    } else {
        rc = db_fail(st, e, _("cannot read the staff member"));
    }
    mz_store_release(st, q);
    return rc;
}

int mz_store_add_totp(struct mz_store *st, const struct mz_keys *keys, const char *login,
                      const uint8_t *secret, size_t len, int64_t last_step, int64_t now,
                      const char *actor, mz_err *e)
{
    uint8_t sealed[MZ_SECRET_MAX + MZ_SEAL_OVERHEAD];
    if (len < MZ_SECRET_MIN || len > MZ_SECRET_MAX)
        return mz_fail(e, MZ_ERR_INPUT, _("a TOTP secret has %d to %d bytes"), MZ_SECRET_MIN,
                       MZ_SECRET_MAX);
    if (mz_seal(keys, login, secret, len, sealed) != MZ_OK)
        return mz_fail(e, MZ_ERR_CRYPTO, _("cannot encrypt the secret"));
    sqlite3_stmt *q;
    int rc =
        mz_store_prepare(st,
                         "INSERT INTO credentials (login, method, secret, status, created_at,"
                         " created_by, last_step) VALUES (?1, 'totp', ?2, 'active', ?3, ?4, ?5)",
                         &q, e);
    if (rc == MZ_OK) {
        sqlite3_bind_text(q, 1, login, -1, SQLITE_STATIC);
        sqlite3_bind_blob(q, 2, sealed, (int)(len + MZ_SEAL_OVERHEAD), SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, now);
        sqlite3_bind_text(q, 4, actor, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 5, last_step);
        if (sqlite3_step(q) != SQLITE_DONE)
            rc = db_fail(st, e, _("cannot add the credential"));
        mz_store_release(st, q);
    }
    return rc;
}

int mz_store_load_state(struct mz_store *st, const char *login, struct mz_record *rec, mz_err *e)
{
    sqlite3_stmt *q;
    int rc = prepare_login(st,
                           "SELECT failures, locked_until, last_success_at, last_failure_at,"
                           " failures_since_success, last_success_host, last_success_service"
                           " FROM login_state WHERE login = ?1",
                           login, &q, e);
    if (rc != MZ_OK)
        return rc;
    int step = sqlite3_step(q);
    rec->failures = rec->failures_since_success = 0; /* no row: a fresh state */
    rec->locked_until = rec->last_success_at = rec->last_failure_at = 0;
    rec->last_success_from[0] = rec->last_success_service[0] = '\0';
    if (step == SQLITE_ROW) {
        rec->failures = (unsigned)sqlite3_column_int(q, 0);
        rec->locked_until = sqlite3_column_int64(q, 1);
        rec->last_success_at = sqlite3_column_int64(q, 2);
        rec->last_failure_at = sqlite3_column_int64(q, 3);
        rec->failures_since_success = (unsigned)sqlite3_column_int(q, 4);
        copy_text(q, 5, rec->last_success_from, sizeof(rec->last_success_from));
        copy_text(q, 6, rec->last_success_service, sizeof(rec->last_success_service));
    } else if (step != SQLITE_DONE) {
        rc = db_fail(st, e, _("cannot read the login state"));
    }
    mz_store_release(st, q);
    return rc;
}

/* LOGIN's unused, not voided one-time codes, newest first (expiry is judged later). */
static int load_codes(struct mz_store *st, const char *login, struct mz_record *rec, mz_err *e)
{
    sqlite3_stmt *q;
    int rc = prepare_login(st,
                           "SELECT id, kind, salt, hash, expires_at FROM codes WHERE login = ?1"
                           " AND used_at = 0 AND voided_at = 0 ORDER BY id DESC LIMIT ?2",
                           login, &q, e);
    if (rc != MZ_OK)
        return rc;
    sqlite3_bind_int(q, 2, MZ_MAX_CODES);
    int step;
    rec->ncodes = 0;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        struct mz_code_entry *c = &rec->codes[rec->ncodes];
        const char *kind = (const char *)sqlite3_column_text(q, 1);
        if (sqlite3_column_bytes(q, 2) != MZ_CODE_SALT ||
            sqlite3_column_bytes(q, 3) != MZ_HASH_BYTES)
            continue; /* a damaged row can never match */
        c->id = sqlite3_column_int64(q, 0);
        c->emergency = kind != NULL && strcmp(kind, "emergency") == 0;
        memcpy(c->salt, sqlite3_column_blob(q, 2), MZ_CODE_SALT);
        memcpy(c->hash, sqlite3_column_blob(q, 3), MZ_HASH_BYTES);
        c->expires_at = sqlite3_column_int64(q, 4);
        rec->ncodes++;
    }
    if (step != SQLITE_DONE)
        rc = db_fail(st, e, _("cannot read the one-time codes"));
    mz_store_release(st, q);
    return rc;
}

int mz_store_load_hwkey(struct mz_store *st, const char *login, struct mz_hw_cred *hw, bool *found,
                        mz_err *e)
{
    sqlite3_stmt *q;
    *found = false;
    memset(hw, 0, sizeof(*hw));
    int rc = prepare_login(st,
                           "SELECT c.id, c.hw_serial, c.hw_slot, c.hw_challenge,"
                           " c.hw_response_hash FROM credentials c JOIN staff s"
                           " ON s.login = c.login AND s.status = 'active'"
                           " WHERE c.login = ?1 AND c.method = 'yubikey'"
                           " AND c.status = 'active' ORDER BY c.id DESC LIMIT 1",
                           login, &q, e);
    if (rc != MZ_OK)
        return rc;
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        if (sqlite3_column_bytes(q, 3) != MZ_HW_CHALLENGE_LEN ||
            sqlite3_column_bytes(q, 4) != MZ_HASH_BYTES) {
            rc = mz_fail(e, MZ_ERR_STORE, _("%s: the YubiKey credential of %s is damaged"),
                         st->path, login);
        } else {
            hw->id = sqlite3_column_int64(q, 0);
            hw->serial = (uint32_t)sqlite3_column_int64(q, 1);
            hw->slot = (unsigned)sqlite3_column_int(q, 2);
            memcpy(hw->challenge, sqlite3_column_blob(q, 3), MZ_HW_CHALLENGE_LEN);
            memcpy(hw->response_hash, sqlite3_column_blob(q, 4), MZ_HASH_BYTES);
            *found = true;
        }
    } else if (step != SQLITE_DONE) {
        rc = db_fail(st, e, _("cannot read the credential"));
    }
    mz_store_release(st, q);
    return rc;
}

int mz_store_factors(struct mz_store *st, const char *login, int64_t now, struct mz_factors *out,
                     mz_err *e)
{
    memset(out, 0, sizeof(*out));
    int rc = mz_store_load_hwkey(st, login, &out->hw, &out->has_hwkey, e);
    if (rc != MZ_OK)
        return rc;
    sqlite3_stmt *q;
    rc = prepare_login(
        st,
        "SELECT EXISTS (SELECT 1 FROM credentials WHERE login = ?1 AND method = 'totp'"
        " AND status = 'active'), EXISTS (SELECT 1 FROM codes WHERE login = ?1"
        " AND used_at = 0 AND voided_at = 0 AND (expires_at = 0 OR expires_at > ?2))",
        login, &q, e);
    if (rc != MZ_OK)
        return rc;
    sqlite3_bind_int64(q, 2, now);
    if (sqlite3_step(q) == SQLITE_ROW) {
        out->has_totp = sqlite3_column_int(q, 0) == 1;
        out->has_codes = sqlite3_column_int(q, 1) == 1;
    } else {
        rc = db_fail(st, e, _("cannot read the credentials"));
    }
    mz_store_release(st, q);
    return rc;
}

int mz_store_add_hwkey(struct mz_store *st, const char *login, const struct mz_hw_cred *hw,
                       int64_t now, const char *actor, mz_err *e)
{
    sqlite3_stmt *q;
    int rc =
        prepare_login(st,
                      "INSERT INTO credentials (login, method, hw_serial, hw_slot, hw_challenge,"
                      " hw_response_hash, status, created_at, created_by)"
                      " VALUES (?1, 'yubikey', ?2, ?3, ?4, ?5, 'active', ?6, ?7)",
                      login, &q, e);
    if (rc != MZ_OK)
        return rc;
    sqlite3_bind_int64(q, 2, hw->serial);
    sqlite3_bind_int(q, 3, (int)hw->slot);
    sqlite3_bind_blob(q, 4, hw->challenge, MZ_HW_CHALLENGE_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(q, 5, hw->response_hash, MZ_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, now);
    sqlite3_bind_text(q, 7, actor, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = db_fail(st, e, _("cannot add the credential"));
    mz_store_release(st, q);
    return rc;
}

/* Stores the next challenge and response hash of the key credential REC->hw. */
static int save_hwkey(struct mz_store *st, const struct mz_record *rec, mz_err *e)
{
    sqlite3_stmt *q;
    int rc = mz_store_prepare(st,
                              "UPDATE credentials SET hw_challenge = ?1, hw_response_hash = ?2,"
                              " last_used_at = ?3 WHERE id = ?4 AND method = 'yubikey'"
                              " AND status = 'active'",
                              &q, e);
    if (rc != MZ_OK)
        return rc;
    sqlite3_bind_blob(q, 1, rec->hw.challenge, MZ_HW_CHALLENGE_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, rec->hw.response_hash, MZ_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, rec->last_success_at);
    sqlite3_bind_int64(q, 4, rec->hw.id);
    if (sqlite3_step(q) != SQLITE_DONE || sqlite3_changes(st->db) != 1)
        rc = db_fail(st, e, _("cannot store the next challenge"));
    mz_store_release(st, q);
    return rc;
}

int mz_store_load_record(struct mz_store *st, const struct mz_keys *keys, const char *login,
                         struct mz_record *rec, int64_t *cred_id, mz_err *e)
{
    memset(rec, 0, sizeof(*rec));
    rec->last_step = -1;
    *cred_id = 0;

    sqlite3_stmt *q;
    int rc =
        prepare_login(st,
                      "SELECT s.status, c.id, c.secret, c.last_step, s.valid_until FROM staff s"
                      " LEFT JOIN credentials c ON c.login = s.login AND c.method = 'totp'"
                      " AND c.status = 'active'"
                      " WHERE s.login = ?1 ORDER BY c.id DESC LIMIT 1",
                      login, &q, e);
    if (rc != MZ_OK)
        return rc;
    int step = sqlite3_step(q);
    if (step == SQLITE_DONE) {
        rc = mz_fail(e, MZ_ERR_NOUSER, _("%s: not enrolled"), login);
    } else if (step != SQLITE_ROW) {
        rc = db_fail(st, e, _("cannot read the credential"));
    } else {
        const char *status = (const char *)sqlite3_column_text(q, 0);
        bool active = status != NULL && strcmp(status, "active") == 0;
        if (active && sqlite3_column_type(q, 1) != SQLITE_NULL && keys == NULL) {
            rec->has_totp = true; /* there, but not needed: left sealed */
            *cred_id = sqlite3_column_int64(q, 1);
            rec->last_step = sqlite3_column_int64(q, 3);
        } else if (active && sqlite3_column_type(q, 1) != SQLITE_NULL) {
            const uint8_t *blob = sqlite3_column_blob(q, 2);
            size_t blen = (size_t)sqlite3_column_bytes(q, 2);
            if (blob == NULL || blen > sizeof(rec->secret) + MZ_SEAL_OVERHEAD ||
                mz_unseal(keys, login, blob, blen, rec->secret, &rec->secret_len) != MZ_OK) {
                rc = mz_fail(e, MZ_ERR_CRYPTO,
                             _("%s: the TOTP secret of %s cannot be decrypted: wrong key file "
                               "or a changed store"),
                             st->path, login);
            } else {
                rec->has_totp = true;
                *cred_id = sqlite3_column_int64(q, 1);
                rec->last_step = sqlite3_column_int64(q, 3);
            }
        }
    }
    bool active = false;
    if (rc == MZ_OK) {
        const char *status = (const char *)sqlite3_column_text(q, 0);
        active = status != NULL && strcmp(status, "active") == 0;
        copy_text(q, 4, rec->valid_until, sizeof(rec->valid_until));
    }
    mz_store_release(st, q);
    if (rc == MZ_OK && active)
        rc = load_codes(st, login, rec, e);
    if (rc == MZ_OK)
        rc = mz_store_load_state(st, login, rec, e);
    if (rc != MZ_OK)
        mz_zero_object(rec);
    return rc;
}

int mz_store_save_record(struct mz_store *st, const char *login, int64_t cred_id,
                         const struct mz_record *rec, bool accepted, const struct mz_origin *from,
                         mz_err *e)
{
    sqlite3_stmt *q;
    int rc =
        prepare_login(st,
                      "INSERT INTO login_state (login, failures, locked_until, last_success_at,"
                      " last_failure_at, last_success_host, last_success_service,"
                      " failures_since_success) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9)"
                      " ON CONFLICT (login) DO UPDATE SET"
                      " failures = ?2, locked_until = ?3, last_success_at = ?4,"
                      " last_failure_at = ?5, failures_since_success = ?9,"
                      " last_success_host = CASE WHEN ?8 THEN ?6 ELSE last_success_host END,"
                      " last_success_service = CASE WHEN ?8 THEN ?7 ELSE last_success_service END",
                      login, &q, e);
    if (rc != MZ_OK)
        return rc;
    sqlite3_bind_int(q, 2, (int)rec->failures);
    sqlite3_bind_int64(q, 3, rec->locked_until);
    sqlite3_bind_int64(q, 4, rec->last_success_at);
    sqlite3_bind_int64(q, 5, rec->last_failure_at);
    sqlite3_bind_text(q, 6, accepted ? from->host : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, accepted ? from->service : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 8, accepted);
    sqlite3_bind_int(q, 9, (int)rec->failures_since_success);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = db_fail(st, e, _("cannot write the login state"));
    mz_store_release(st, q);
    if (rc != MZ_OK || !accepted)
        return rc;
    if (rec->used_code_id != 0) {
        /* A one-time code is spent exactly once: the row must still be unused. */
        rc = mz_store_prepare(st, "UPDATE codes SET used_at = ?1 WHERE id = ?2 AND used_at = 0", &q,
                              e);
        if (rc != MZ_OK)
            return rc;
        sqlite3_bind_int64(q, 1, rec->last_success_at);
        sqlite3_bind_int64(q, 2, rec->used_code_id);
        if (sqlite3_step(q) != SQLITE_DONE || sqlite3_changes(st->db) != 1)
            rc = db_fail(st, e, _("cannot mark the code used"));
        mz_store_release(st, q);
        return rc;
    }
    if (rec->hw_rotated)
        return save_hwkey(st, rec, e);
    if (cred_id == 0)
        return rc;

    rc = mz_store_prepare(
        st, "UPDATE credentials SET last_step = ?1, last_used_at = ?2 WHERE id = ?3", &q, e);
    if (rc != MZ_OK)
        return rc;
    sqlite3_bind_int64(q, 1, rec->last_step);
    sqlite3_bind_int64(q, 2, rec->last_success_at);
    sqlite3_bind_int64(q, 3, cred_id);
    if (sqlite3_step(q) != SQLITE_DONE || sqlite3_changes(st->db) != 1)
        rc = db_fail(st, e, _("cannot write the credential"));
    mz_store_release(st, q);
    return rc;
}

int mz_store_last_success(struct mz_store *st, const char *login, char *host, size_t host_len,
                          char *service, size_t service_len, mz_err *e)
{
    struct mz_record rec;
    int rc = mz_store_load_state(st, login, &rec, e);
    snprintf(host, host_len, "%s", rc == MZ_OK ? rec.last_success_from : "");
    snprintf(service, service_len, "%s", rc == MZ_OK ? rec.last_success_service : "");
    return rc;
}

int mz_store_each_credential(struct mz_store *st, const char *login,
                             void (*fn)(const struct mz_credential_info *, void *), void *arg,
                             mz_err *e)
{
    sqlite3_stmt *q;
    int rc =
        prepare_login(st,
                      "SELECT id, method, status, created_at, created_by, last_used_at,"
                      " revoked_at, revoked_by, revoked_why, hw_serial, hw_slot FROM credentials"
                      " WHERE login = ?1 ORDER BY id",
                      login, &q, e);
    if (rc != MZ_OK)
        return rc;
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        struct mz_credential_info c;
        memset(&c, 0, sizeof(c));
        c.id = sqlite3_column_int64(q, 0);
        copy_text(q, 1, c.method, sizeof(c.method));
        copy_text(q, 2, c.status, sizeof(c.status));
        c.created_at = sqlite3_column_int64(q, 3);
        copy_text(q, 4, c.created_by, sizeof(c.created_by));
        c.last_used_at = sqlite3_column_int64(q, 5);
        c.revoked_at = sqlite3_column_int64(q, 6);
        copy_text(q, 7, c.revoked_by, sizeof(c.revoked_by));
        copy_text(q, 8, c.revoked_why, sizeof(c.revoked_why));
        c.hw_serial = (uint32_t)sqlite3_column_int64(q, 9);
        c.hw_slot = (unsigned)sqlite3_column_int(q, 10);
        fn(&c, arg);
    }
    if (step != SQLITE_DONE)
        rc = db_fail(st, e, _("cannot read the credentials"));
    mz_store_release(st, q);
    return rc;
}
