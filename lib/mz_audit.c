#include "config.h"

#include "mz_audit.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static void hash_field(crypto_generichash_state *h, const char *s)
{
    const char *v = s != NULL ? s : "";
    uint32_t n = (uint32_t)strlen(v);
    uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    crypto_generichash_update(h, len, sizeof(len));
    crypto_generichash_update(h, (const uint8_t *)v, n);
}

void mz_audit_hash(const struct mz_keys *keys, int64_t seq, const char *at,
                   const struct mz_event *ev, const uint8_t prev[MZ_HASH_BYTES],
                   uint8_t out[MZ_HASH_BYTES])
{
    crypto_generichash_state h;
    uint8_t seqb[8];
    for (int i = 0; i < 8; i++)
        seqb[i] = (uint8_t)((uint64_t)seq >> (56 - 8 * i));
    crypto_generichash_init(&h, keys->audit, sizeof(keys->audit), MZ_HASH_BYTES);
    crypto_generichash_update(&h, seqb, sizeof(seqb));
    crypto_generichash_update(&h, prev, MZ_HASH_BYTES);
    const char *fields[] = {at,        ev->host,  ev->service, ev->tty,    ev->rhost, ev->user,
                            ev->actor, ev->event, ev->method,  ev->result, ev->reason};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        hash_field(&h, fields[i]);
    crypto_generichash_final(&h, out, MZ_HASH_BYTES);
}

/* The newest event's sequence number and hash; seq 0 and zeroes for an empty log. */
static int chain_head(struct mz_store *st, int64_t *seq, uint8_t hash[MZ_HASH_BYTES])
{
    sqlite3_stmt *q;
    mz_err ignored;
    *seq = 0;
    memset(hash, 0, MZ_HASH_BYTES);
    if (mz_store_prepare(st, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &q,
                         &ignored) != MZ_OK)
        return MZ_ERR_STORE;
    int rc = MZ_OK;
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        *seq = sqlite3_column_int64(q, 0);
        if (sqlite3_column_bytes(q, 1) == MZ_HASH_BYTES)
            memcpy(hash, sqlite3_column_blob(q, 1), MZ_HASH_BYTES);
        else
            rc = MZ_ERR_STORE;
    } else if (step != SQLITE_DONE) {
        rc = MZ_ERR_STORE;
    }
    mz_store_release(st, q);
    return rc;
}

int mz_audit_append(struct mz_store *st, const struct mz_keys *keys, const struct mz_event *ev,
                    int64_t now, mz_err *e)
{
    sqlite3 *db = mz_store_db(st);
    int64_t seq;
    uint8_t prev[MZ_HASH_BYTES], hash[MZ_HASH_BYTES];
    char at[32];
    memset(hash, 0, sizeof(hash));
    mz_store_note_head(st, 0, hash); /* a failed append leaves no head to log */
    if (chain_head(st, &seq, prev) != MZ_OK)
        return mz_fail(e, MZ_ERR_STORE, _("cannot read the audit log: %s"), sqlite3_errmsg(db));
    seq++;
    mz_iso_time(now, at, sizeof(at));
    mz_audit_hash(keys, seq, at, ev, prev, hash);

    sqlite3_stmt *q;
    mz_err ignored;
    if (mz_store_prepare(st,
                         "INSERT INTO audit (seq, at, host, service, tty, rhost, user, actor,"
                         " event, method, result, reason, prev_hash, hash) VALUES"
                         " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                         &q, &ignored) != MZ_OK)
        return mz_fail(e, MZ_ERR_STORE, _("cannot write the audit log: %s"), sqlite3_errmsg(db));
    const char *fields[] = {at,        ev->host,  ev->service, ev->tty,    ev->rhost, ev->user,
                            ev->actor, ev->event, ev->method,  ev->result, ev->reason};
    sqlite3_bind_int64(q, 1, seq);
    for (int i = 0; i < 11; i++)
        sqlite3_bind_text(q, i + 2, fields[i] != NULL ? fields[i] : "", -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 13, prev, MZ_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(q, 14, hash, MZ_HASH_BYTES, SQLITE_STATIC);
    int rc = MZ_OK;
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = mz_fail(e, MZ_ERR_STORE, _("cannot write the audit log: %s"), sqlite3_errmsg(db));
    else
        mz_store_note_head(st, seq, hash);
    mz_store_release(st, q);
    return rc;
}

void mz_audit_format_head(int64_t seq, const uint8_t hash[MZ_HASH_BYTES],
                          char out[MZ_AUDIT_HEAD_TEXT])
{
    char hex[2 * MZ_HASH_BYTES + 1];
    sodium_bin2hex(hex, sizeof(hex), hash, MZ_HASH_BYTES);
    snprintf(out, MZ_AUDIT_HEAD_TEXT, "%lld:%s", (long long)seq, hex);
}

bool mz_audit_last_head(const struct mz_store *st, char out[MZ_AUDIT_HEAD_TEXT])
{
    int64_t seq;
    uint8_t hash[MZ_HASH_BYTES];
    out[0] = '\0';
    if (!mz_store_last_head(st, &seq, hash))
        return false;
    mz_audit_format_head(seq, hash, out);
    return true;
}

static const char *col(sqlite3_stmt *q, int i)
{
    const char *t = (const char *)sqlite3_column_text(q, i);
    return t != NULL ? t : "";
}

int mz_audit_verify(struct mz_store *st, const struct mz_keys *keys, int64_t *count,
                    int64_t *bad_seq, mz_err *e)
{
    sqlite3 *db = mz_store_db(st);
    sqlite3_stmt *q;
    *count = 0;
    *bad_seq = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, at, host, service, tty, rhost, user, actor, event,"
                           " method, result, reason, prev_hash, hash FROM audit ORDER BY seq",
                           -1, &q, NULL) != SQLITE_OK)
        return mz_fail(e, MZ_ERR_STORE, _("cannot read the audit log: %s"), sqlite3_errmsg(db));
    uint8_t prev[MZ_HASH_BYTES] = {0};
    int64_t expected = 1;
    int rc = MZ_OK;
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(q, 0);
        struct mz_event ev = {col(q, 2), col(q, 3), col(q, 4), col(q, 5),  col(q, 6),
                              col(q, 7), col(q, 8), col(q, 9), col(q, 10), col(q, 11)};
        uint8_t hash[MZ_HASH_BYTES];
        mz_audit_hash(keys, seq, col(q, 1), &ev, prev, hash);
        /* the hash covers each field up to its first NUL: bytes after one were added */
        bool whole = true;
        for (int i = 1; i <= 11; i++) {
            size_t text_len = strlen(col(q, i)); /* the text first, then its byte count */
            whole = whole && (size_t)sqlite3_column_bytes(q, i) == text_len;
        }
        bool fits = whole && seq == expected && sqlite3_column_bytes(q, 12) == MZ_HASH_BYTES &&
                    sqlite3_column_bytes(q, 13) == MZ_HASH_BYTES &&
                    sodium_memcmp(sqlite3_column_blob(q, 12), prev, MZ_HASH_BYTES) == 0 &&
                    sodium_memcmp(sqlite3_column_blob(q, 13), hash, MZ_HASH_BYTES) == 0;
        if (!fits) {
            *bad_seq = seq;
            rc = 1;
            break;
        }
        memcpy(prev, hash, MZ_HASH_BYTES);
        expected++;
        (*count)++;
    }
    if (rc == MZ_OK && step != SQLITE_DONE)
        rc = mz_fail(e, MZ_ERR_STORE, _("cannot read the audit log: %s"), sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return rc;
}
