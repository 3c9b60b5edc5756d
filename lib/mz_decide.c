#include "config.h"

#include "mz_decide.h"

#include <string.h>

bool mz_is_expired(const struct mz_record *rec, int64_t now)
{
    char today[16];
    if (rec->valid_until[0] == '\0')
        return false;
    mz_zone_date(now, today, sizeof(today));
    return strcmp(today, rec->valid_until) > 0;
}

bool mz_is_locked(const struct mz_record *rec, int64_t now)
{
    return rec->locked_until != 0 && now < rec->locked_until;
}

/* Input that cannot be any code: empty, too long, or not printable ASCII. */
static bool malformed(const char *input)
{
    if (input == NULL || input[0] == '\0')
        return true;
    size_t n = strnlen(input, MZ_INPUT_MAX + 1);
    if (n > MZ_INPUT_MAX)
        return true;
    for (size_t i = 0; i < n; i++) /* printable ASCII; spaces may group a one-time code */
        if ((unsigned char)input[i] < 0x20 || (unsigned char)input[i] > 0x7e)
            return true;
    return false;
}

static void count_failure(const struct mz_policy *policy, int64_t now, struct mz_record *rec,
                          struct mz_verdict *v)
{
    rec->failures++;
    rec->failures_since_success++;
    rec->last_failure_at = now;
    if (rec->failures >= policy->max_failures) {
        rec->locked_until =
            policy->lockout == 0 ? MZ_LOCKED_FOREVER : now + (int64_t)policy->lockout;
        v->locked_now = true;
        v->locked_until = rec->locked_until;
    }
}

static void accept(struct mz_record *rec, int64_t now, struct mz_verdict *v)
{
    v->outcome = MZ_ACCEPT;
    v->failures_before = rec->failures_since_success;
    rec->failures = 0;
    rec->failures_since_success = 0;
    rec->last_success_at = now;
}

/* A one-time code: right when it matches an unused, unexpired code of the user. */
static enum mz_totp_result decide_code(const struct mz_policy *policy, struct mz_record *rec,
                                       const char *code, int64_t now, struct mz_verdict *v)
{
    if (policy->keys == NULL || rec->ncodes == 0)
        return MZ_TOTP_WRONG;
    int i = mz_code_find(policy->keys, rec->codes, rec->ncodes, code, now);
    if (i < 0)
        return MZ_TOTP_WRONG;
    rec->used_code_id = rec->codes[i].id;
    v->method = rec->codes[i].emergency ? MZ_METHOD_EMERGENCY : MZ_METHOD_RECOVERY;
    return MZ_TOTP_OK;
}

/* What every attempt checks first, whatever the factor: copies IN to OUT and returns
 * false with the verdict set when the attempt ends here (locked, expired). */
static bool may_attempt(const struct mz_record *in, int64_t now, struct mz_verdict *verdict,
                        struct mz_record *out)
{
    if (out != in)
        memcpy(out, in, sizeof(*out));
    memset(verdict, 0, sizeof(*verdict));
    out->used_code_id = 0;
    out->hw_rotated = false;

    if (mz_is_locked(out, now)) {
        verdict->outcome = MZ_REJECT_LOCKED;
        verdict->locked_until = out->locked_until;
        return false;
    }
    if (mz_is_expired(out, now)) { /* not the user's mistake: not counted */
        verdict->outcome = MZ_REJECT_EXPIRED;
        return false;
    }
    if (out->locked_until != 0) { /* the lock-out has run out: start afresh */
        out->locked_until = 0;
        out->failures = 0;
    }
    return true;
}

void mz_decide_hwkey(const struct mz_policy *policy, const struct mz_record *in,
                     const struct mz_hw_answer *ans, int64_t now, struct mz_verdict *verdict,
                     struct mz_record *out)
{
    bool go = may_attempt(in, now, verdict, out);
    verdict->method = MZ_METHOD_YUBIKEY; /* audited as such when locked or expired too */
    if (!go)
        return;
    if (!out->has_hwkey) {
        verdict->outcome = MZ_REJECT_NO_FACTOR;
        return;
    }
    if (ans->serial != out->hw.serial || !ans->answered)
        verdict->outcome = MZ_REJECT_OTHER_KEY;
    else if (sodium_memcmp(ans->challenge, out->hw.challenge, MZ_HW_CHALLENGE_LEN) != 0)
        verdict->outcome = MZ_REJECT_STALE;
    else if (sodium_memcmp(ans->response_hash, out->hw.response_hash, MZ_HASH_BYTES) != 0)
        verdict->outcome = MZ_REJECT_BAD_RESPONSE;
    else
        verdict->outcome = MZ_ACCEPT;
    if (verdict->outcome != MZ_ACCEPT) {
        count_failure(policy, now, out, verdict);
        return;
    }
    memcpy(out->hw.challenge, ans->next_challenge, MZ_HW_CHALLENGE_LEN);
    memcpy(out->hw.response_hash, ans->next_response_hash, MZ_HASH_BYTES);
    out->hw_rotated = true;
    accept(out, now, verdict);
}

void mz_decide(const struct mz_policy *policy, const struct mz_record *in, const char *input,
               int64_t now, struct mz_verdict *verdict, struct mz_record *out)
{
    if (!may_attempt(in, now, verdict, out))
        return;
    if (!out->has_totp && out->ncodes == 0) {
        verdict->outcome = MZ_REJECT_NO_FACTOR;
        return;
    }

    char code[MZ_CODE_SYMBOLS + 1];
    enum mz_totp_result r = MZ_TOTP_MALFORMED;
    if (!malformed(input) && mz_code_normalize(input, code)) {
        r = decide_code(policy, out, code, now, verdict);
    } else if (!malformed(input) && out->has_totp) {
        r = mz_totp_check(out->secret, out->secret_len, input, now, policy->digits, policy->period,
                          policy->window, out->last_step, &verdict->step);
    }
    sodium_memzero(code, sizeof(code));
    if (r == MZ_TOTP_OK && verdict->method != MZ_METHOD_TOTP) {
        accept(out, now, verdict);
        return;
    }
    switch (r) {
    case MZ_TOTP_OK:
        out->last_step = verdict->step;
        accept(out, now, verdict);
        return;
    case MZ_TOTP_REPLAY: verdict->outcome = MZ_REJECT_REPLAY; break;
    case MZ_TOTP_WRONG: verdict->outcome = MZ_REJECT_WRONG; break;
    case MZ_TOTP_MALFORMED: verdict->outcome = MZ_REJECT_MALFORMED; break;
    case MZ_TOTP_ERROR:
        verdict->outcome = MZ_REJECT_ERROR;
        return; /* our fault, not the user's: do not count it */
    }
    count_failure(policy, now, out, verdict);
}
