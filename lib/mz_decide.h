/* The decision about one login attempt: a pure function of the policy, the user's
 * record, the input and the time. It returns a verdict and the record to write back. */
#ifndef MZ_DECIDE_H
#define MZ_DECIDE_H

#include "mz_codes.h"
#include "mz_hwkey.h"
#include "mz_totp.h"

#include <stdbool.h>
#include <stdint.h>

/* At most this many unused one-time codes are considered per user. */
#define MZ_MAX_CODES 128

/* locked_until value for a lock-out that lasts until an administrator unlocks. */
#define MZ_LOCKED_FOREVER INT64_MAX

struct mz_policy {
    unsigned digits, period, window;
    unsigned max_failures;      /* already the privileged limit when the user is privileged */
    uint64_t lockout;           /* seconds; 0 = until unlocked */
    const struct mz_keys *keys; /* for the hashes of one-time codes; NULL: none accepted */
};

/* What the decision reads and writes about one user. */
struct mz_record {
    bool has_totp;
    uint8_t secret[MZ_SECRET_MAX]; /* decrypted; wiped by the caller */
    size_t secret_len;
    int64_t last_step; /* last accepted TOTP step, -1 none */
    unsigned failures; /* consecutive failures, for the lock-out; cleared when it runs out */
    unsigned failures_since_success; /* shown at the next success; cleared only by one */
    int64_t locked_until;            /* 0 = not locked */
    int64_t last_success_at;
    int64_t last_failure_at;
    char valid_until[11];        /* "YYYY-MM-DD" of the staff record, "" for no end */
    char last_success_from[256]; /* remote host or tty of the last success */
    char last_success_service[64];
    struct mz_code_entry codes[MZ_MAX_CODES]; /* unused, not voided (maybe expired) */
    size_t ncodes;
    int64_t used_code_id; /* set by mz_decide when a one-time code was accepted */
    bool has_hwkey;
    struct mz_hw_cred hw; /* the active key credential, when has_hwkey */
    bool hw_rotated;      /* set by mz_decide_hwkey: hw holds the next challenge */
};

enum mz_method { MZ_METHOD_TOTP, MZ_METHOD_RECOVERY, MZ_METHOD_EMERGENCY, MZ_METHOD_YUBIKEY };

enum mz_outcome {
    MZ_ACCEPT,
    MZ_REJECT_WRONG,        /* wrong code */
    MZ_REJECT_REPLAY,       /* right code, already used */
    MZ_REJECT_MALFORMED,    /* empty, too long, non-ASCII or not a code */
    MZ_REJECT_LOCKED,       /* locked out: the input was not looked at */
    MZ_REJECT_NO_FACTOR,    /* no active credential */
    MZ_REJECT_EXPIRED,      /* valid_until has passed: refused even when the account
                             * phase is missing from the stack */
    MZ_REJECT_ERROR,        /* liboath failed */
    MZ_REJECT_OTHER_KEY,    /* a YubiKey with another serial */
    MZ_REJECT_BAD_RESPONSE, /* the enrolled key's serial, a wrong response */
    MZ_REJECT_STALE,        /* the challenge was replaced by another login meanwhile */
};

struct mz_verdict {
    enum mz_outcome outcome;
    int64_t step;             /* the accepted step, on MZ_ACCEPT */
    unsigned failures_before; /* failures since the last success, for the message on success */
    bool locked_now;          /* this attempt started a lock-out */
    int64_t locked_until;     /* when locked (already or now): until when */
    enum mz_method method;    /* what the input was taken for */
};

/* "totp", "recovery", "emergency" or "yubikey", for logs and the audit trail. */
const char *mz_method_name(enum mz_method method);

/* Decides INPUT (NULL counts as empty) for the user whose record is IN, at time NOW.
 * OUT receives the record to store (it may be IN). Never fails: errors are verdicts. */
void mz_decide(const struct mz_policy *policy, const struct mz_record *in, const char *input,
               int64_t now, struct mz_verdict *verdict, struct mz_record *out);

/* Decides the key's answer ANS for the user whose record is IN, at NOW, as mz_decide
 * does for a code. On acceptance OUT's key credential holds the next challenge and its
 * response hash (hw_rotated), to be committed before the login succeeds. */
void mz_decide_hwkey(const struct mz_policy *policy, const struct mz_record *in,
                     const struct mz_hw_answer *ans, int64_t now, struct mz_verdict *verdict,
                     struct mz_record *out);

/* A short English reason for logs and the audit trail (never contains the input). */
const char *mz_outcome_reason(enum mz_outcome outcome);

/* True when the staff record's valid_until (local date) has passed at NOW. */
bool mz_is_expired(const struct mz_record *rec, int64_t now);

/* True when the user is locked at NOW. */
bool mz_is_locked(const struct mz_record *rec, int64_t now);

#endif
