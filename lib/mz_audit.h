/* The audit log: append-only, each event carrying the keyed hash of the one before,
 * so that a changed, removed or reordered event is found by mz_audit_verify. */
#ifndef MZ_AUDIT_H
#define MZ_AUDIT_H

#include "mz_crypto.h"
#include "mz_store.h"

struct mz_event {
    const char *host;    /* this machine */
    const char *service; /* PAM service, or "mnzone-enroll" */
    const char *tty;
    const char *rhost;
    const char *user;   /* the staff member concerned */
    const char *actor;  /* who acted: the user at login, the administrator otherwise */
    const char *event;  /* "auth", "account", "init", "add", ... */
    const char *method; /* "totp", "yubikey", "" */
    const char *result; /* "success", "failure", "error" */
    const char *reason; /* short English text; never a code or a secret */
};

/* Appends EV at time NOW, chained to the newest event, inside the caller's
 * transaction (or on its own if there is none). */
int mz_audit_append(struct mz_store *st, const struct mz_keys *keys, const struct mz_event *ev,
                    int64_t now, mz_err *e);

/* "SEQ:HASH" (HASH as 64 lowercase hex digits), as audit verify prints a head and
 * --expect-head takes it. */
#define MZ_AUDIT_HEAD_TEXT (20 + 1 + 2 * MZ_HASH_BYTES + 1)
void mz_audit_format_head(int64_t seq, const uint8_t hash[MZ_HASH_BYTES],
                          char out[MZ_AUDIT_HEAD_TEXT]);
/* The head after the event ST appended last, if its transaction was not rolled back
 * (mz_store_last_head); false when there is none. */
bool mz_audit_last_head(const struct mz_store *st, char out[MZ_AUDIT_HEAD_TEXT]);

/* Keyed hash of one event: its sequence number, time, fields and the previous hash. */
void mz_audit_hash(const struct mz_keys *keys, int64_t seq, const char *at,
                   const struct mz_event *ev, const uint8_t prev[MZ_HASH_BYTES],
                   uint8_t out[MZ_HASH_BYTES]);

/* Walks the chain. MZ_OK with *COUNT events when intact; 1 with *BAD_SEQ the first event
 * that does not fit; other codes for store errors. */
int mz_audit_verify(struct mz_store *st, const struct mz_keys *keys, int64_t *count,
                    int64_t *bad_seq, mz_err *e);

#endif
