#include "config.h"

#include "mz_admin.h"

#include <sqlite3.h>
#include <string.h>

/* Runs SQL with text and integer parameters: "t" binds the next string, "i" the next
 * int64. Returns MZ_OK or MZ_ERR_STORE, and the number of rows changed. */
static int run(struct mz_store *st, const char *sql, const char *types, const void *const *args,
               int *changed, mz_err *e)
{
    sqlite3 *db = mz_store_db(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        return mz_fail(e, MZ_ERR_STORE, _("cannot prepare a query: %s"), sqlite3_errmsg(db));
    for (int i = 0; types[i] != '\0'; i++) {
        if (types[i] == 't')
            sqlite3_bind_text(q, i + 1, args[i], -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(q, i + 1, *(const int64_t *)args[i]);
    }
    int rc = MZ_OK;
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = mz_fail(e, MZ_ERR_STORE, _("cannot write the store: %s"), sqlite3_errmsg(db));
    else if (changed != NULL)
        *changed = sqlite3_changes(db);
    sqlite3_finalize(q);
    return rc;
}

/* MZ_ERR_NOUSER unless LOGIN is in the store. */
static int require_staff(struct mz_store *st, const char *login, mz_err *e)
{
    struct mz_staff s;
    return mz_store_get_staff(st, login, &s, e);
}

int mz_admin_touch_staff(struct mz_store *st, const char *login, const char *actor, int64_t now,
                         mz_err *e)
{
    const void *args[] = {&now, actor, login};
    return run(st, "UPDATE staff SET updated_at = ?1, updated_by = ?2 WHERE login = ?3", "itt",
               args, NULL, e);
}

int mz_admin_revoke_method(struct mz_store *st, const char *login, const char *method,
                           const char *actor, const char *why, int64_t now, int *count, mz_err *e)
{
    int rc = require_staff(st, login, e);
    const void *args[] = {&now, actor, why, login, method};
    if (rc == MZ_OK)
        rc = run(st,
                 "UPDATE credentials SET status = 'revoked', revoked_at = ?1, revoked_by = ?2,"
                 " revoked_why = ?3 WHERE login = ?4 AND status = 'active'"
                 " AND (?5 = '' OR method = ?5)",
                 "itttt", args, count, e);
    return rc;
}

int mz_admin_void_codes(struct mz_store *st, const char *login, const char *kind, int64_t now,
                        int *count, mz_err *e)
{
    const void *args[] = {&now, login, kind};
    return run(st,
               "UPDATE codes SET voided_at = ?1 WHERE login = ?2 AND used_at = 0"
               " AND voided_at = 0 AND (?3 = '' OR kind = ?3)",
               "itt", args, count, e);
}

int mz_admin_revoke(struct mz_store *st, const char *login, const char *actor, const char *why,
                    int64_t now, mz_err *e)
{
    int n;
    int rc = mz_admin_revoke_method(st, login, "", actor, why, now, &n, e);
    if (rc == MZ_OK)
        rc = mz_admin_void_codes(st, login, "", now, &n, e);
    const void *args[] = {&now, actor, login};
    if (rc == MZ_OK)
        rc = run(st,
                 "UPDATE staff SET status = 'revoked', updated_at = ?1, updated_by = ?2"
                 " WHERE login = ?3",
                 "itt", args, NULL, e);
    return rc;
}

int mz_admin_reenrol(struct mz_store *st, const struct mz_staff *s, mz_err *e)
{
    int rc = mz_store_reenrol_staff(st, s, e);
    const void *args[] = {s->login};
    if (rc == MZ_OK)
        rc = run(st,
                 "UPDATE login_state SET failures = 0, failures_since_success = 0,"
                 " locked_until = 0 WHERE login = ?1",
                 "t", args, NULL, e);
    return rc;
}

int mz_admin_unlock(struct mz_store *st, const char *login, mz_err *e)
{
    int rc = require_staff(st, login, e);
    const void *args[] = {login};
    if (rc == MZ_OK)
        rc = run(st, "UPDATE login_state SET failures = 0, locked_until = 0 WHERE login = ?1", "t",
                 args, NULL, e);
    return rc;
}

int mz_admin_add_code(struct mz_store *st, const char *login, const char *kind,
                      const struct mz_code_entry *entry, const char *actor, const char *reason,
                      int64_t now, mz_err *e)
{
    sqlite3 *db = mz_store_db(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO codes (login, kind, salt, hash, created_at, created_by,"
                           " expires_at, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                           -1, &q, NULL) != SQLITE_OK)
        return mz_fail(e, MZ_ERR_STORE, _("cannot prepare a query: %s"), sqlite3_errmsg(db));
    sqlite3_bind_text(q, 1, login, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 3, entry->salt, sizeof(entry->salt), SQLITE_STATIC);
    sqlite3_bind_blob(q, 4, entry->hash, sizeof(entry->hash), SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, now);
    sqlite3_bind_text(q, 6, actor, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 7, entry->expires_at);
    sqlite3_bind_text(q, 8, reason, -1, SQLITE_STATIC);
    int rc = MZ_OK;
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = mz_fail(e, MZ_ERR_STORE, _("cannot write the store: %s"), sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return rc;
}

int mz_admin_each_staff(struct mz_store *st, const char *status,
                        void (*fn)(const struct mz_staff *, void *), void *arg, mz_err *e)
{
    sqlite3 *db = mz_store_db(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
                           "SELECT login FROM staff WHERE ?1 IS NULL OR status = ?1 ORDER BY login",
                           -1, &q, NULL) != SQLITE_OK)
        return mz_fail(e, MZ_ERR_STORE, _("cannot prepare a query: %s"), sqlite3_errmsg(db));
    sqlite3_bind_text(q, 1, status, -1, SQLITE_STATIC);
    int rc = MZ_OK, step;
    while (rc == MZ_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
        struct mz_staff s;
        rc = mz_store_get_staff(st, (const char *)sqlite3_column_text(q, 0), &s, e);
        if (rc == MZ_OK)
            fn(&s, arg);
    }
    if (rc == MZ_OK && step != SQLITE_DONE)
        rc = mz_fail(e, MZ_ERR_STORE, _("cannot read the store: %s"), sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return rc;
}
