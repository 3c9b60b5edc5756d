#include "config.h"

#include "mz_decide.h"

#include <string.h>

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
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)input[i] < 0x21 || (unsigned char)input[i] > 0x7e)
            return true;
    return false;
}

static void count_failure(const struct mz_policy *policy, int64_t now, struct mz_record *rec,
                          struct mz_verdict *v)
{
    rec->failures++;
    rec->last_failure_at = now;
    if (rec->failures >= policy->max_failures) {
        rec->locked_until = policy->lockout == 0 ? MZ_LOCKED_FOREVER
                                                 : now + (int64_t)policy->lockout;
        v->locked_now = true;
        v->locked_until = rec->locked_until;
    }
}

void mz_decide(const struct mz_policy *policy, const struct mz_record *in, const char *input,
               int64_t now, struct mz_verdict *verdict, struct mz_record *out)
{
    if (out != in)
        memcpy(out, in, sizeof(*out));
    memset(verdict, 0, sizeof(*verdict));

    if (mz_is_locked(out, now)) {
        verdict->outcome = MZ_REJECT_LOCKED;
        verdict->locked_until = out->locked_until;
        return;
    }
    if (out->locked_until != 0) { /* the lock-out has run out: start afresh */
        out->locked_until = 0;
        out->failures = 0;
    }
    if (!out->has_totp) {
        verdict->outcome = MZ_REJECT_NO_FACTOR;
        return;
    }

    enum mz_totp_result r = MZ_TOTP_MALFORMED;
    if (!malformed(input))
        r = mz_totp_check(out->secret, out->secret_len, input, now, policy->digits,
                          policy->period, policy->window, out->last_step, &verdict->step);
    switch (r) {
    case MZ_TOTP_OK:
        verdict->outcome = MZ_ACCEPT;
        verdict->failures_before = out->failures;
        out->failures = 0;
        out->last_step = verdict->step;
        out->last_success_at = now;
        return;
    case MZ_TOTP_REPLAY:
        verdict->outcome = MZ_REJECT_REPLAY;
        break;
    case MZ_TOTP_WRONG:
        verdict->outcome = MZ_REJECT_WRONG;
        break;
    case MZ_TOTP_MALFORMED:
        verdict->outcome = MZ_REJECT_MALFORMED;
        break;
    case MZ_TOTP_ERROR:
        verdict->outcome = MZ_REJECT_ERROR;
        return; /* our fault, not the user's: do not count it */
    }
    count_failure(policy, now, out, verdict);
}

const char *mz_outcome_reason(enum mz_outcome outcome)
{
    switch (outcome) {
    case MZ_ACCEPT:
        return "accepted";
    case MZ_REJECT_WRONG:
        return "wrong code";
    case MZ_REJECT_REPLAY:
        return "code already used";
    case MZ_REJECT_MALFORMED:
        return "malformed input";
    case MZ_REJECT_LOCKED:
        return "locked out";
    case MZ_REJECT_NO_FACTOR:
        return "not enrolled";
    case MZ_REJECT_ERROR:
        return "internal error";
    }
    return "unknown";
}
