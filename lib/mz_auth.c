#include "config.h"

#include "mz_auth.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

/* What one query tells about LOGIN before an attempt. */
struct presence {
    bool known;     /* in the store */
    bool usable;    /* active, with an active credential or an unused one-time code */
    bool has_hwkey; /* an active key credential */
    char valid_until[11];
};

static int presence(struct mz_store *st, const char *login, int64_t now, struct presence *p,
                    mz_err *e)
{
    sqlite3 *db = mz_store_db(st);
    sqlite3_stmt *q;
    memset(p, 0, sizeof(*p));
    if (mz_store_prepare(st,
                         "SELECT s.status = 'active' AND (EXISTS (SELECT 1 FROM credentials c"
                         " WHERE c.login = s.login AND c.status = 'active') OR EXISTS"
                         " (SELECT 1 FROM codes k WHERE k.login = s.login AND k.used_at = 0"
                         " AND k.voided_at = 0 AND (k.expires_at = 0 OR k.expires_at > ?2))),"
                         " EXISTS (SELECT 1 FROM credentials c WHERE c.login = s.login"
                         " AND c.method = 'yubikey' AND c.status = 'active'), s.valid_until"
                         " FROM staff s WHERE s.login = ?1",
                         &q, e) != MZ_OK)
        return MZ_ERR_STORE;
    sqlite3_bind_text(q, 1, login, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, now);
    int rc = MZ_OK;
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        const unsigned char *until = sqlite3_column_text(q, 2);
        p->known = true;
        p->usable = sqlite3_column_int(q, 0) == 1;
        p->has_hwkey = sqlite3_column_int(q, 1) == 1;
        snprintf(p->valid_until, sizeof(p->valid_until), "%s",
                 until != NULL ? (const char *)until : "");
    } else if (step != SQLITE_DONE) {
        rc = mz_fail(e, MZ_ERR_STORE, _("cannot read the store: %s"), sqlite3_errmsg(db));
    }
    mz_store_release(st, q);
    return rc;
}

int mz_auth_status(struct mz_store *st, const char *login, int64_t now, struct mz_user_status *out,
                   mz_err *e)
{
    struct presence p;
    struct mz_record rec;
    memset(&rec, 0, sizeof(rec));
    memset(out, 0, sizeof(*out));
    int rc = presence(st, login, now, &p, e);
    if (rc == MZ_OK && p.known)
        rc = mz_store_load_state(st, login, &rec, e);
    if (rc != MZ_OK)
        return rc;
    out->has_hwkey = p.has_hwkey;
    snprintf(rec.valid_until, sizeof(rec.valid_until), "%s", p.valid_until);
    if (!p.known)
        out->state = MZ_USER_UNKNOWN;
    else if (!p.usable)
        out->state = MZ_USER_NO_FACTOR;
    else if (mz_is_expired(&rec, now))
        out->state = MZ_USER_EXPIRED;
    else if (mz_is_locked(&rec, now))
        out->state = MZ_USER_LOCKED, out->locked_until = rec.locked_until;
    else
        out->state = MZ_USER_READY;
    return MZ_OK;
}

static void fill_event(struct mz_event *ev, const struct mz_attempt *a, const char *event,
                       const char *result, const char *reason)
{
    ev->host = a->host;
    ev->service = a->service;
    ev->tty = a->tty;
    ev->rhost = a->rhost;
    ev->user = a->user;
    ev->actor = a->actor != NULL ? a->actor : a->user;
    ev->event = event;
    ev->method = a->method != NULL ? a->method : strcmp(event, "auth") == 0 ? "totp" : "";
    ev->result = result;
    ev->reason = reason;
}

int mz_auth_record(struct mz_store *st, const struct mz_keys *keys, const struct mz_attempt *a,
                   const char *event, const char *result, const char *reason, mz_err *e)
{
    struct mz_event ev;
    fill_event(&ev, a, event, result, reason);
    int rc = mz_store_begin(st, e);
    if (rc == MZ_OK)
        rc = mz_audit_append(st, keys, &ev, a->now, e);
    if (rc == MZ_OK)
        rc = mz_store_commit(st, e);
    else
        mz_store_rollback(st);
    return rc;
}

/* What the user gave: a typed code, or the key's answer (HW not NULL). */
struct factor {
    const char *input;
    const struct mz_hw_answer *hw;
};

static int attempt(const struct mz_config *cfg, struct mz_store *st, const struct mz_keys *keys,
                   const struct mz_attempt *a, const struct factor *f, struct mz_verdict *verdict,
                   struct mz_last_login *last, mz_err *e)
{
    struct mz_policy policy;
    struct mz_record before, after;
    int64_t cred_id = 0;
    memset(last, 0, sizeof(*last));
    mz_policy_from_config(cfg, a->privileged, &policy);
    policy.keys = keys;
    memset(verdict, 0, sizeof(*verdict));
    verdict->outcome = MZ_REJECT_ERROR; /* until decided */

    int rc = mz_store_begin(st, e);
    if (rc != MZ_OK)
        return rc;
    /* a key's answer is decided without the TOTP secret: not decrypted for it (and a
     * damaged TOTP credential does not stop the key) */
    rc = mz_store_load_record(st, f->hw != NULL ? NULL : keys, a->user, &before, &cred_id, e);
    if (rc == MZ_ERR_NOUSER) {
        memset(verdict, 0, sizeof(*verdict));
        verdict->outcome = MZ_REJECT_NO_FACTOR;
        verdict->method = f->hw != NULL ? MZ_METHOD_YUBIKEY : MZ_METHOD_TOTP;
        struct mz_event ev;
        fill_event(&ev, a, "auth", "failure", mz_outcome_reason(MZ_REJECT_NO_FACTOR));
        ev.method = mz_method_name(verdict->method);
        rc = mz_audit_append(st, keys, &ev, a->now, e);
        goto finish;
    }
    if (rc == MZ_OK && f->hw != NULL)
        rc = mz_store_load_hwkey(st, a->user, &before.hw, &before.has_hwkey, e);
    if (rc != MZ_OK)
        goto finish;

    if (f->hw != NULL)
        mz_decide_hwkey(&policy, &before, f->hw, a->now, verdict, &after);
    else
        mz_decide(&policy, &before, f->input, a->now, verdict, &after);
    if (verdict->outcome == MZ_REJECT_ERROR) {
        rc = mz_fail(e, MZ_ERR_CRYPTO, _("TOTP check failed inside liboath"));
        goto finish;
    }
    bool accepted = verdict->outcome == MZ_ACCEPT;
    if (accepted) {
        last->at = before.last_success_at;
        last->failures_since = verdict->failures_before;
        snprintf(last->host, sizeof(last->host), "%s", before.last_success_from);
        snprintf(last->service, sizeof(last->service), "%s", before.last_success_service);
    }
    if (rc == MZ_OK && verdict->outcome != MZ_REJECT_LOCKED) {
        struct mz_origin from = {a->rhost != NULL && a->rhost[0] != '\0' ? a->rhost : a->tty,
                                 a->service};
        if (from.host == NULL)
            from.host = "";
        rc = mz_store_save_record(st, a->user, cred_id, &after, accepted, &from, e);
    }
    if (rc == MZ_OK) {
        struct mz_event ev;
        fill_event(&ev, a, "auth", accepted ? "success" : "failure",
                   mz_outcome_reason(verdict->outcome));
        ev.method = mz_method_name(verdict->method);
        rc = mz_audit_append(st, keys, &ev, a->now, e);
    }
finish:
    mz_zero_object(&before);
    mz_zero_object(&after);
    if (rc == MZ_OK)
        rc = mz_store_commit(st, e);
    else
        mz_store_rollback(st);
    if (rc != MZ_OK && verdict != NULL)
        verdict->outcome = MZ_REJECT_ERROR;
    return rc;
}

int mz_auth_attempt(const struct mz_config *cfg, struct mz_store *st, const struct mz_keys *keys,
                    const struct mz_attempt *a, const char *input, struct mz_verdict *verdict,
                    struct mz_last_login *last, mz_err *e)
{
    struct factor f = {input, NULL};
    return attempt(cfg, st, keys, a, &f, verdict, last, e);
}

int mz_auth_hw_attempt(const struct mz_config *cfg, struct mz_store *st, const struct mz_keys *keys,
                       const struct mz_attempt *a, const struct mz_hw_answer *ans,
                       struct mz_verdict *verdict, struct mz_last_login *last, mz_err *e)
{
    struct factor f = {NULL, ans};
    return attempt(cfg, st, keys, a, &f, verdict, last, e);
}

enum mz_account_state mz_account_decide(const struct mz_staff *staff, bool has_credential,
                                        const char *today)
{
    if (staff->status == MZ_STAFF_REVOKED)
        return MZ_ACCOUNT_REVOKED;
    if (staff->status == MZ_STAFF_SUSPENDED)
        return MZ_ACCOUNT_SUSPENDED;
    if (staff->valid_until[0] != '\0' && strcmp(today, staff->valid_until) > 0)
        return MZ_ACCOUNT_EXPIRED;
    if (!has_credential)
        return MZ_ACCOUNT_NO_FACTOR;
    return MZ_ACCOUNT_OK;
}

int mz_account_check(struct mz_store *st, const char *login, int64_t now,
                     enum mz_account_state *state, mz_err *e)
{
    struct mz_staff staff;
    struct presence p;
    char today[16];
    int rc = mz_store_get_staff(st, login, &staff, e);
    if (rc == MZ_ERR_NOUSER) {
        *state = MZ_ACCOUNT_UNKNOWN;
        return MZ_OK;
    }
    if (rc == MZ_OK)
        rc = presence(st, login, now, &p, e);
    mz_zone_date(now, today, sizeof(today));
    if (rc == MZ_OK)
        *state = mz_account_decide(&staff, p.usable, today);
    return rc;
}
