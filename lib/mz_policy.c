/* The words for verdicts and the policy from the configuration: part of the base
 * library (libc only), since the PAM module needs them whichever engine decides. */
#include "config.h"

#include "mz_auth.h"

void mz_policy_from_config(const struct mz_config *cfg, bool privileged, struct mz_policy *p)
{
    p->digits = cfg->totp_digits;
    p->period = cfg->totp_period;
    p->window = cfg->totp_window;
    p->max_failures = cfg->max_failures;
    if (privileged && cfg->privileged_max_failures < p->max_failures)
        p->max_failures = cfg->privileged_max_failures;
    p->lockout = cfg->lockout;
    p->keys = NULL;
}

const char *mz_method_name(enum mz_method method)
{
    switch (method) {
    case MZ_METHOD_RECOVERY: return "recovery";
    case MZ_METHOD_EMERGENCY: return "emergency";
    case MZ_METHOD_YUBIKEY: return "yubikey";
    case MZ_METHOD_TOTP: break;
    }
    return "totp";
}

const char *mz_outcome_reason(enum mz_outcome outcome)
{
    switch (outcome) {
    case MZ_ACCEPT: return "accepted";
    case MZ_REJECT_WRONG: return "wrong code";
    case MZ_REJECT_REPLAY: return "code already used";
    case MZ_REJECT_MALFORMED: return "malformed input";
    case MZ_REJECT_LOCKED: return "locked out";
    case MZ_REJECT_NO_FACTOR: return "not enrolled";
    case MZ_REJECT_EXPIRED: return "expired";
    case MZ_REJECT_ERROR: return "internal error";
    case MZ_REJECT_OTHER_KEY: return "another YubiKey";
    case MZ_REJECT_BAD_RESPONSE: return "wrong YubiKey response";
    case MZ_REJECT_STALE: return "challenge replaced meanwhile";
    }
    return "unknown";
}
