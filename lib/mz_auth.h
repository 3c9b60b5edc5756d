/* One login attempt end to end: read, decide, write and audit in one transaction.
 * Used by the PAM module and by `mnzone-enroll verify`. */
#ifndef MZ_AUTH_H
#define MZ_AUTH_H

#include "mz_audit.h"
#include "mz_config.h"
#include "mz_decide.h"
#include "mz_store.h"

/* Who is trying, from where, and when. */
struct mz_attempt {
    const char *user;
    const char *service;
    const char *host; /* this machine */
    const char *tty;
    const char *rhost;
    bool privileged; /* member of privileged_group: the stricter limit applies */
    int64_t now;
    const char *actor;  /* who acted, for the audit trail; NULL: the user (a login) */
    const char *method; /* for the audit trail of mz_auth_record; NULL: "totp" */
};

/* What the user may do before being asked for anything. */
enum mz_user_state {
    MZ_USER_UNKNOWN,   /* not in the store */
    MZ_USER_NO_FACTOR, /* in the store, no usable credential (revoked, suspended) */
    MZ_USER_LOCKED,
    MZ_USER_EXPIRED, /* valid_until has passed */
    MZ_USER_READY,
};

/* The policy of CFG for one user. */
void mz_policy_from_config(const struct mz_config *cfg, bool privileged, struct mz_policy *policy);

struct mz_user_status {
    enum mz_user_state state;
    int64_t locked_until; /* when MZ_USER_LOCKED */
    bool has_hwkey;       /* an active YubiKey credential: see mz_store_factors */
};

/* Reads, without a transaction, whether LOGIN can attempt at NOW, until when a lock
 * lasts, and whether LOGIN has a key (so that TOTP logins pay no query for keys). */
int mz_auth_status(struct mz_store *st, const char *login, int64_t now, struct mz_user_status *out,
                   mz_err *e);

/* What an accepted attempt tells the user about the previous ones. */
struct mz_last_login {
    int64_t at; /* 0 = never */
    char host[256];
    char service[64];
    unsigned failures_since;
};

/* Decides INPUT for A and commits the new record and the audit event together. On
 * MZ_OK *VERDICT says what happened; LAST is filled on acceptance. Any store or key
 * error is returned as an error and nothing is accepted. */
int mz_auth_attempt(const struct mz_config *cfg, struct mz_store *st, const struct mz_keys *keys,
                    const struct mz_attempt *a, const char *input, struct mz_verdict *verdict,
                    struct mz_last_login *last, mz_err *e);

/* As mz_auth_attempt, for the answer ANS of a YubiKey (mz_hw_exchange): on acceptance
 * the key's next challenge is committed with the rest, and only then is it a success. */
int mz_auth_hw_attempt(const struct mz_config *cfg, struct mz_store *st, const struct mz_keys *keys,
                       const struct mz_attempt *a, const struct mz_hw_answer *ans,
                       struct mz_verdict *verdict, struct mz_last_login *last, mz_err *e);

/* Records an attempt that ended before a code was looked at (locked, not enrolled,
 * conversation failed, configuration error) as one audit event. */
int mz_auth_record(struct mz_store *st, const struct mz_keys *keys, const struct mz_attempt *a,
                   const char *event, const char *result, const char *reason, mz_err *e);

enum mz_account_state {
    MZ_ACCOUNT_OK,
    MZ_ACCOUNT_UNKNOWN,
    MZ_ACCOUNT_NO_FACTOR,
    MZ_ACCOUNT_SUSPENDED,
    MZ_ACCOUNT_REVOKED,
    MZ_ACCOUNT_EXPIRED,
};

/* The account decision: pure, from the staff record, whether an active credential
 * exists and today's local date "YYYY-MM-DD". */
enum mz_account_state mz_account_decide(const struct mz_staff *staff, bool has_credential,
                                        const char *today);

/* Reads LOGIN and returns the account decision at NOW (its local date decides expiry;
 * an emergency code counts as a credential until it expires). */
int mz_account_check(struct mz_store *st, const char *login, int64_t now,
                     enum mz_account_state *state, mz_err *e);

#endif
