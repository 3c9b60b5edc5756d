/* How the PAM module reaches the store: one interface, two engines.
 *
 * - direct (pam_module/engine_direct.c): opens the store in the login's own process. It
 *   lives in mnzone-engine.so, which the module dlopens only when it is needed, so that a
 *   login answered by mnzoned never loads SQLite, libsodium or liboath.
 * - mnzoned (pam_module/engine_remote.c, in the module): asks the resident daemon over its
 *   Unix socket. mnzoned serves each request with the direct engine.
 *
 * Every operation returns MZ_OK or an error with a message in *E; an error is never a
 * verdict, and the module fails closed on it. */
#ifndef MZ_ENGINE_H
#define MZ_ENGINE_H

#include "mz_auth.h"

struct mz_engine;

/* How a YubiKey login ended (direct engine only). */
enum mz_key_result {
    MZ_KEY_DECIDED,   /* the key answered: VERDICT and LAST are set (ARC is the commit's) */
    MZ_KEY_FALL_BACK, /* no key plugged in, and the user may type a code instead */
    MZ_KEY_NO_KEY,    /* no key plugged in and nothing else to type: denied */
    MZ_KEY_TIMEOUT,   /* not touched in time: denied, not counted */
    MZ_KEY_ERROR,     /* USB or device error: denied, not counted */
    MZ_KEY_CONV,      /* a touch prompt could not be shown: denied */
};

struct mz_key_outcome {
    enum mz_key_result result;
    bool has_totp;       /* MZ_KEY_FALL_BACK: a TOTP code can be typed (else a one-time code) */
    bool rotating;       /* the failure came at the next challenge */
    const char *reason;  /* a denial's reason, as audited (a static string) */
    int arc;             /* MZ_KEY_DECIDED: the attempt's result code */
    mz_err device_error; /* MZ_KEY_TIMEOUT, MZ_KEY_ERROR: what the device layer said */
    struct mz_verdict verdict;
    struct mz_last_login last;
};

/* How the direct engine holds the store (the mnzoned engine takes no flags). */
enum mz_engine_flags {
    MZ_ENGINE_RESIDENT = 1,       /* mnzoned's own: open for its life (MZ_STORE_RESIDENT) */
    MZ_ENGINE_BESIDE_MNZONED = 2, /* a login while mnzoned holds the store open (it has just
                                     answered): mnzoned checkpoints, not this login */
};

struct mz_engine_ops {
    const char *name; /* "direct" or "mnzoned", for the debug log */
    /* Opens what CFG names (the direct engine: the store; the key is read when needed).
     * FLAGS: enum mz_engine_flags. */
    int (*open)(const struct mz_config *cfg, unsigned flags, struct mz_engine **eng, mz_err *e);
    void (*close)(struct mz_engine *eng);
    /* Makes sure the key file is usable before the user is asked for anything. */
    int (*keys)(struct mz_engine *eng, mz_err *e);
    int (*status)(struct mz_engine *eng, const char *login, int64_t now, struct mz_user_status *out,
                  mz_err *e);
    /* As mz_auth_record: an attempt that ended before a decision. */
    int (*record)(struct mz_engine *eng, const struct mz_attempt *a, const char *event,
                  const char *result, const char *reason, mz_err *e);
    /* As mz_auth_attempt, with the policy of the configuration given to open. */
    int (*attempt)(struct mz_engine *eng, const struct mz_attempt *a, const char *input,
                   struct mz_verdict *verdict, struct mz_last_login *last, mz_err *e);
    int (*account)(struct mz_engine *eng, const char *login, int64_t now,
                   enum mz_account_state *state, mz_err *e);
    /* The YubiKey login of A->user (NULL when the engine cannot reach a key: the module
     * then uses the direct engine). PROMPT asks the user to touch the key; A->now is
     * refreshed after the exchange; PROMPT sets *CANCELLED when it could not reach the
     * user, and nothing is then decided. Denials that end before a decision are recorded
     * here (audited, not counted); the caller logs and tells the user. */
    int (*key_login)(struct mz_engine *eng, struct mz_attempt *a, const struct mz_hw_prompt *prompt,
                     const bool *cancelled, struct mz_key_outcome *out, mz_err *e);
    /* The audit chain's head ("SEQ:HASH", at most MZ_ENGINE_HEAD_TEXT bytes with its NUL)
     * right after the event this engine wrote last, for the syslog line: a log server
     * that keeps every head shows later whether newer events were cut off. False (and
     * OUT empty) when the last operation wrote none. */
    bool (*audit_head)(struct mz_engine *eng, char *out);
};

#define MZ_ENGINE_HEAD_TEXT (20 + 1 + 64 + 1)

/* The direct engine, exported by mnzone-engine.so under this name. The name carries the
 * version of struct mz_engine_ops: change it (and pam_module/engine.sym) whenever the
 * struct changes, so that a module and an engine of different versions (a package
 * upgrade under a long-running sshd) do not find each other, and the login fails closed
 * ("has no engine") instead of calling through a struct of another shape. 2: open takes
 * flags. */
#define MZ_ENGINE_DIRECT_SYMBOL "mz_engine_direct_3"
#define mz_engine_direct mz_engine_direct_3
extern const struct mz_engine_ops mz_engine_direct;
/* mnzoned's: the key file is read again at the next operation that needs it. */
void mz_engine_direct_forget_keys(struct mz_engine *eng);

/* The client of mnzoned, in the PAM module. Its first question (status, account) fails
 * with MZ_ERR_NOUSER when the daemon is not running or serves another configuration,
 * and with MZ_ERR_PERM when the socket's listener is not root: the module then uses the
 * direct engine. */
extern const struct mz_engine_ops mz_engine_remote;

#endif
