/* The store: one SQLite file in WAL mode holding staff, every credential ever bound,
 * login state and the hash-chained audit log. */
#ifndef MZ_STORE_H
#define MZ_STORE_H

#include "mz_crypto.h"
#include "mz_decide.h"

#include <stdint.h>

#define MZ_SCHEMA_VERSION 1
#define MZ_BUSY_TIMEOUT_MS 5000
/* WAL size (pages) at which a login's commit checkpoints; see mz_store_open. */
#define MZ_LOGIN_WAL_PAGES 32
/* mnzoned's checkpoint size: it keeps the WAL index alive for everyone, so nobody reads
 * the WAL at open, and fewer checkpoints mean fewer fsyncs per login. */
#define MZ_RESIDENT_WAL_PAGES 1000

struct mz_store;

enum mz_store_flags {
    MZ_STORE_CREATE = 1,   /* create the file (mode 0600) and the schema if missing */
    MZ_STORE_LOGIN = 2,    /* a login's short connection: no checkpoint when it closes;
                              truncates the WAL past MZ_LOGIN_WAL_PAGES */
    MZ_STORE_RESIDENT = 4, /* mnzoned's long connection: small passive checkpoints, the WAL
                              reused in place (no truncation, so its fsyncs overwrite) */
    MZ_STORE_SHARED = 8,   /* a login's short connection while mnzoned holds the store open
                              (a key login): checkpoints as mnzoned's does, no truncation */
};

/* Opens the store at PATH after checking the file and its folder (owner root, no
 * access for group or others, no links). Without MZ_STORE_CREATE a missing store is an
 * error: the module never creates one. */
int mz_store_open(const char *path, int flags, struct mz_store **st, mz_err *e);
void mz_store_close(struct mz_store *st);

/* BEGIN IMMEDIATE: the write lock is taken before anything is read. */
int mz_store_begin(struct mz_store *st, mz_err *e);
int mz_store_commit(struct mz_store *st, mz_err *e);
void mz_store_rollback(struct mz_store *st);

/* The audit event this connection appended last (mz_audit_append notes it), while it is
 * not rolled back: the head of the chain once its transaction committed. A new
 * transaction forgets it. False when there is none. */
void mz_store_note_head(struct mz_store *st, int64_t seq, const uint8_t hash[32]);
bool mz_store_last_head(const struct mz_store *st, int64_t *seq, uint8_t hash[32]);

/* How many times this connection has waited for a lock held by another (each wait up to
 * MZ_BUSY_TIMEOUT_MS). */
unsigned long mz_store_busy_waits(const struct mz_store *st);

enum mz_employment { MZ_EMPLOY_REGULAR, MZ_EMPLOY_FISCAL_YEAR, MZ_EMPLOY_CONTRACTOR };
enum mz_staff_status { MZ_STAFF_ACTIVE, MZ_STAFF_SUSPENDED, MZ_STAFF_REVOKED };

struct mz_staff {
    char login[33];
    char staff_id[65];
    char name[257];
    char dept[257];
    enum mz_employment employment;
    char valid_until[11]; /* "YYYY-MM-DD" or "" for no end */
    enum mz_staff_status status;
    int64_t created_at, updated_at;
    char created_by[65], updated_by[65];
};

const char *mz_employment_name(enum mz_employment e);
bool mz_employment_parse(const char *s, enum mz_employment *out);
const char *mz_staff_status_name(enum mz_staff_status s);

/* Adds a staff member; MZ_ERR_EXISTS if the login or the staff id is taken. */
int mz_store_add_staff(struct mz_store *st, const struct mz_staff *staff, mz_err *e);
/* Gives the revoked staff member S->login S's details and status (a rehire), keeping its
 * creation; MZ_ERR_NOUSER unless it is in the store and revoked, MZ_ERR_EXISTS if the
 * staff id is taken. */
int mz_store_reenrol_staff(struct mz_store *st, const struct mz_staff *s, mz_err *e);
/* Reads a staff member; MZ_ERR_NOUSER if there is none. */
int mz_store_get_staff(struct mz_store *st, const char *login, struct mz_staff *staff, mz_err *e);

/* Binds an active TOTP credential, SECRET sealed under KEYS with LOGIN as associated
 * data. LAST_STEP is the step of the code used to confirm it (-1 if none). */
int mz_store_add_totp(struct mz_store *st, const struct mz_keys *keys, const char *login,
                      const uint8_t *secret, size_t len, int64_t last_step, int64_t now,
                      const char *actor, mz_err *e);

/* Binds an active YubiKey credential: HW's serial, slot, first challenge and response
 * hash (what mz_hw_enrol returned). */
int mz_store_add_hwkey(struct mz_store *st, const char *login, const struct mz_hw_cred *hw,
                       int64_t now, const char *actor, mz_err *e);

/* What LOGIN can log in with, read before any hardware is touched. */
struct mz_factors {
    bool has_hwkey;
    struct mz_hw_cred hw; /* the active key credential, when has_hwkey */
    bool has_totp;        /* an active TOTP credential */
    bool has_codes;       /* an unused, unexpired recovery or emergency code */
};
int mz_store_factors(struct mz_store *st, const char *login, int64_t now, struct mz_factors *out,
                     mz_err *e);

/* LOGIN's newest active key credential; *FOUND false when there is none or the staff
 * member is not active (suspended since the status was read). A row whose
 * challenge or hash has the wrong size is damaged: an error, not a missing key. */
int mz_store_load_hwkey(struct mz_store *st, const char *login, struct mz_hw_cred *hw, bool *found,
                        mz_err *e);

/* Everything a typed code is decided on about LOGIN: its active TOTP credential
 * (decrypted into REC; with KEYS NULL only its presence and last step, for a key's
 * answer, which needs no secret), its one-time codes and its login state (not the key
 * credential: mz_store_load_hwkey, for a key's answer). MZ_ERR_NOUSER if LOGIN
 * is not in the store. *CRED_ID is 0 when there is no usable credential (none, revoked, or the
 * staff member not active). */
int mz_store_load_record(struct mz_store *st, const struct mz_keys *keys, const char *login,
                         struct mz_record *rec, int64_t *cred_id, mz_err *e);

/* Reads LOGIN's failures, lock-out and last success and failure times into REC
 * (leaving the credential fields alone); no row is a fresh state. */
int mz_store_load_state(struct mz_store *st, const char *login, struct mz_record *rec, mz_err *e);

/* Where the last success came from, to show at the next login. */
struct mz_origin {
    const char *host;    /* remote host or tty */
    const char *service; /* PAM service */
};

/* Writes back what mz_decide or mz_decide_hwkey returned: the login state and, on
 * acceptance, the spent one-time code, the key's next challenge, or the TOTP
 * credential's last step and last use. */
int mz_store_save_record(struct mz_store *st, const char *login, int64_t cred_id,
                         const struct mz_record *rec, bool accepted, const struct mz_origin *from,
                         mz_err *e);

/* Where the previous success came from (empty strings if never). */
int mz_store_last_success(struct mz_store *st, const char *login, char *host, size_t host_len,
                          char *service, size_t service_len, mz_err *e);

/* One credential as `show` lists it. */
struct mz_credential_info {
    int64_t id;
    char method[16];
    char status[16];
    int64_t created_at, last_used_at, revoked_at;
    char created_by[65], revoked_by[65], revoked_why[257];
    uint32_t hw_serial; /* YubiKey credentials only */
    unsigned hw_slot;
};

/* Calls FN for every credential ever bound to LOGIN, oldest first. */
int mz_store_each_credential(struct mz_store *st, const char *login,
                             void (*fn)(const struct mz_credential_info *, void *), void *arg,
                             mz_err *e);

/* The raw sqlite3 handle, for the audit log and the tools built on the store. */
struct sqlite3 *mz_store_db(struct mz_store *st);
/* A prepared statement for SQL, which must be a string constant: it is kept (keyed by
 * its address) for the connection's life. Give it back with mz_store_release, which
 * resets it and clears its bindings; never finalize it. */
struct sqlite3_stmt;
int mz_store_prepare(struct mz_store *st, const char *sql, struct sqlite3_stmt **q, mz_err *e);
void mz_store_release(struct mz_store *st, struct sqlite3_stmt *q);

#endif
