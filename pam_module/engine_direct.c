/* The direct engine: the store opened in this process, the core called as it is. Built
 * into mnzone-engine.so (dlopened by the module when mnzoned does not answer, and for
 * YubiKey logins) and linked into mnzoned, which serves every request with it. */
#include "config.h"

#include "mz_audit.h"
#include "mz_engine.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mz_engine {
    struct mz_config cfg;
    struct mz_store *st;
    struct mz_keys keys;
    bool have_keys;
};

static void direct_close(struct mz_engine *eng)
{
    if (eng == NULL)
        return;
    mz_store_close(eng->st);
    if (eng->have_keys)
        mz_keys_wipe(&eng->keys);
    mz_zero_object(eng);
    free(eng);
}

static int open_store(const struct mz_config *cfg, int flags, struct mz_engine **out, mz_err *e)
{
    *out = NULL;
    struct mz_engine *eng = calloc(1, sizeof(*eng));
    if (eng == NULL)
        return mz_fail(e, MZ_ERR_NOMEM, _("out of memory"));
    eng->cfg = *cfg;
    int rc = mz_store_open(cfg->store, flags, &eng->st, e);
    if (rc != MZ_OK) {
        direct_close(eng);
        return rc;
    }
    *out = eng;
    return MZ_OK;
}

static int direct_open(const struct mz_config *cfg, unsigned flags, struct mz_engine **out,
                       mz_err *e)
{
    int store_flags = (flags & MZ_ENGINE_RESIDENT)         ? MZ_STORE_RESIDENT
                      : (flags & MZ_ENGINE_BESIDE_MNZONED) ? MZ_STORE_SHARED
                                                           : MZ_STORE_LOGIN;
    return open_store(cfg, store_flags, out, e);
}

/* The key is read when first needed: the account phase and status reads need none. */
static int direct_keys(struct mz_engine *eng, mz_err *e)
{
    if (eng->have_keys)
        return MZ_OK;
    int rc = mz_keys_load(eng->cfg.key_file, &eng->keys, e);
    eng->have_keys = rc == MZ_OK;
    return rc;
}

void mz_engine_direct_forget_keys(struct mz_engine *eng)
{
    if (eng->have_keys)
        mz_keys_wipe(&eng->keys);
    eng->have_keys = false;
}

static int direct_status(struct mz_engine *eng, const char *login, int64_t now,
                         struct mz_user_status *out, mz_err *e)
{
    return mz_auth_status(eng->st, login, now, out, e);
}

static int direct_record(struct mz_engine *eng, const struct mz_attempt *a, const char *event,
                         const char *result, const char *reason, mz_err *e)
{
    int rc = direct_keys(eng, e);
    if (rc == MZ_OK)
        rc = mz_auth_record(eng->st, &eng->keys, a, event, result, reason, e);
    return rc;
}

static int direct_attempt(struct mz_engine *eng, const struct mz_attempt *a, const char *input,
                          struct mz_verdict *verdict, struct mz_last_login *last, mz_err *e)
{
    int rc = direct_keys(eng, e);
    if (rc != MZ_OK) {
        verdict->outcome = MZ_REJECT_ERROR;
        return rc;
    }
    return mz_auth_attempt(&eng->cfg, eng->st, &eng->keys, a, input, verdict, last, e);
}

static int direct_account(struct mz_engine *eng, const char *login, int64_t now,
                          enum mz_account_state *state, mz_err *e)
{
    return mz_account_check(eng->st, login, now, state, e);
}

/* Records a key attempt that ended before the decision (audited, not counted). */
static int key_denied(struct mz_engine *eng, const struct mz_attempt *a, const char *reason,
                      enum mz_key_result result, struct mz_key_outcome *out, mz_err *e)
{
    out->result = result;
    out->reason = reason;
    return direct_record(eng, a, "auth", "failure", reason, e);
}

/* The reason a key login that ended before the decision is audited with, and the kind
 * of ending, for the exchange's result HRC; NULL when the key answered. */
static const char *key_ending(int hrc, bool rotating, enum mz_key_result *result)
{
    switch (hrc) {
    case MZ_HW_OK: return NULL;
    case MZ_HW_NO_KEY: *result = MZ_KEY_NO_KEY; return "no YubiKey plugged in";
    case MZ_HW_TIMEOUT:
        *result = MZ_KEY_TIMEOUT;
        return rotating ? "YubiKey not touched in time for the next challenge"
                        : "YubiKey not touched in time";
    default:
        *result = MZ_KEY_ERROR;
        return rotating ? "YubiKey error at the next challenge" : "YubiKey error";
    }
}

static int direct_key_login(struct mz_engine *eng, struct mz_attempt *a,
                            const struct mz_hw_prompt *prompt, const bool *cancelled,
                            struct mz_key_outcome *out, mz_err *e)
{
    const struct mz_hwkey_ops *ops = mz_ykpers_ops();
    struct mz_hw_device *dev = NULL;
    struct mz_hw_answer ans;
    struct mz_factors fa;
    memset(out, 0, sizeof(*out));
    out->arc = MZ_ERR_STORE; /* until decided: nothing here reads as an accepted answer */
    out->verdict.outcome = MZ_REJECT_ERROR;
    memset(&ans, 0, sizeof(ans));
    memset(&fa, 0, sizeof(fa));
    int rc = direct_keys(eng, e);
    if (rc == MZ_OK)
        rc = mz_store_factors(eng->st, a->user, a->now, &fa, e);
    if (rc != MZ_OK)
        goto done;
    a->method = "yubikey";
    int hrc = ops->open(&dev, &out->device_error);
    if (hrc == MZ_HW_NO_KEY && (fa.has_totp || fa.has_codes)) {
        out->result = MZ_KEY_FALL_BACK;
        out->has_totp = fa.has_totp;
        goto done;
    }
    if (hrc == MZ_HW_OK) {
        hrc = mz_hw_exchange(ops, dev, &eng->keys, &fa.hw, eng->cfg.hwkey_touch, prompt, &ans,
                             &out->device_error);
        ops->close(dev);
    }
    out->rotating = ans.rotating;
    enum mz_key_result ended = MZ_KEY_DECIDED;
    const char *reason = key_ending(hrc, ans.rotating, &ended);
    if (*cancelled) { /* a touch prompt did not reach the user: the exchange stopped there */
        reason = "conversation failed";
        ended = MZ_KEY_CONV;
    }
    if (reason != NULL) {
        rc = key_denied(eng, a, reason, ended, out, e);
        goto done;
    }
    out->result = MZ_KEY_DECIDED;
    a->now = (int64_t)time(NULL); /* touching took a while */
    out->arc =
        mz_auth_hw_attempt(&eng->cfg, eng->st, &eng->keys, a, &ans, &out->verdict, &out->last, e);
done:
    mz_zero_object(&ans);
    mz_zero_object(&fa);
    return rc;
}

/* The engine interface cannot name lib/mz_audit.h (the module links no libsodium): the
 * two sizes of a head's text must agree. */
_Static_assert(MZ_ENGINE_HEAD_TEXT >= MZ_AUDIT_HEAD_TEXT, "the audit head fits the engine's");

static bool direct_audit_head(struct mz_engine *eng, char *out)
{
    return mz_audit_last_head(eng->st, out);
}

const struct mz_engine_ops mz_engine_direct = {
    .name = "direct",
    .open = direct_open,
    .close = direct_close,
    .keys = direct_keys,
    .status = direct_status,
    .record = direct_record,
    .attempt = direct_attempt,
    .account = direct_account,
    .key_login = direct_key_login,
    .audit_head = direct_audit_head,
};
