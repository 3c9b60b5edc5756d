/* fuzz_input: what a user types at the 確認コード: prompt, through mz_decide.
 *
 * A fixed policy (6 digits, 30 s, window 1, lock-out after 5) and one record: a known
 * TOTP secret whose step T-1 was already used, a recovery code, an emergency code
 * valid for an hour and an emergency code that has expired; 4 failures so far. The
 * input is the fuzz bytes, NUL-terminated (so a NUL ends it, as at the PAM prompt).
 *
 * The verdict must be exactly what an independent model says: ACCEPT only for the
 * recovery code, the live emergency code (any case, dashes and spaces anywhere) or the
 * TOTP code of step T or T+1 computed here with liboath's oath_totp_generate2; REPLAY
 * for the code of step T-1; MALFORMED for empty, over 64 bytes, non-printable-ASCII
 * input or input that is neither a one-time code nor 6 digits; WRONG otherwise. The
 * record written back is checked too, and an accepted TOTP code is a replay the
 * second time. */
#include "config.h"

#include "fuzz_common.h"

#include "mz_codes.h"
#include "mz_crypto.h"
#include "mz_decide.h"

#include <liboath/oath.h>

#define NOW INT64_C(1775001600) /* 2026-04-01T00:00:00Z */
#define PERIOD 30
#define DIGITS 6
#define WINDOW 1
#define MAX_FAILURES 5
#define LOCKOUT 900
#define FAILURES_BEFORE 4

static const char secret[] = "12345678901234567890"; /* RFC 6238 Appendix B */

struct known_code {
    const char *text; /* as printed */
    int64_t id;
    bool emergency;
    int64_t expires_at;
    bool accepted; /* at NOW */
    char normalized[MZ_CODE_SYMBOLS + 1];
};

static struct known_code known[] = {
    {"ABCD-EFGH-JKLM-NPQR", 11, false, 0, true, ""},
    {"2345-6789-WXYZ-STUV", 12, true, NOW + 3600, true, ""},
    {"QRST-UVWX-YZ23-4567", 13, true, NOW - 1, false, ""}, /* expired */
};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

static struct mz_keys keys;
static struct mz_policy policy;
static struct mz_record record;
static int64_t step_now;
static char totp[3][DIGITS + 1]; /* steps T-1, T, T+1 */

static const char alphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/* The model of mz_code_normalize: drop '-' and ' ', upper-case a-z; then exactly 16
 * symbols of the alphabet. */
static bool model_normalize(const char *in, char out[MZ_CODE_SYMBOLS + 1])
{
    size_t o = 0;
    for (; *in != '\0'; in++) {
        char c = *in;
        if (c == '-' || c == ' ')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        if (memchr(alphabet, c, sizeof(alphabet) - 1) == NULL || o == MZ_CODE_SYMBOLS)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return o == MZ_CODE_SYMBOLS;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    mz_err e;
    if (mz_crypto_init(&e) != MZ_OK || oath_init() != OATH_OK)
        abort();
    unsigned char master[MZ_KEY_BYTES];
    for (size_t i = 0; i < sizeof(master); i++)
        master[i] = (unsigned char)(0xa0 + i);
    mz_keys_derive(master, &keys);

    policy.digits = DIGITS;
    policy.period = PERIOD;
    policy.window = WINDOW;
    policy.max_failures = MAX_FAILURES;
    policy.lockout = LOCKOUT;
    policy.keys = &keys;

    step_now = NOW / PERIOD;
    record.has_totp = true;
    memcpy(record.secret, secret, sizeof(secret) - 1);
    record.secret_len = sizeof(secret) - 1;
    record.last_step = step_now - 1;
    record.failures = FAILURES_BEFORE;
    record.failures_since_success = FAILURES_BEFORE + 2;
    record.last_failure_at = NOW - 60;
    record.last_success_at = NOW - 86400;
    for (size_t i = 0; i < NKNOWN; i++) {
        struct mz_code_entry *c = &record.codes[record.ncodes++];
        if (!model_normalize(known[i].text, known[i].normalized))
            abort();
        c->id = known[i].id;
        c->emergency = known[i].emergency;
        c->expires_at = known[i].expires_at;
        if (mz_code_seal(&keys, known[i].normalized, c) != MZ_OK)
            abort();
    }
    for (int d = -1; d <= 1; d++) {
        if (oath_totp_generate2(secret, sizeof(secret) - 1, (time_t)(NOW + d * PERIOD), PERIOD, 0,
                                DIGITS, 0, totp[d + 1]) != OATH_OK)
            abort();
    }
    /* The model below assumes the three codes differ (true for this secret and time). */
    if (strcmp(totp[0], totp[1]) == 0 || strcmp(totp[1], totp[2]) == 0 ||
        strcmp(totp[0], totp[2]) == 0)
        abort();
    return 0;
}

static bool model_malformed(const char *in)
{
    size_t n = strlen(in);
    if (n == 0 || n > MZ_INPUT_MAX)
        return true;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)in[i] < 0x20 || (unsigned char)in[i] > 0x7e)
            return true;
    return false;
}

static bool six_digits(const char *in)
{
    if (strlen(in) != DIGITS)
        return false;
    for (int i = 0; i < DIGITS; i++)
        if (in[i] < '0' || in[i] > '9')
            return false;
    return true;
}

struct expect {
    enum mz_outcome outcome;
    enum mz_method method;
    int64_t step;    /* TOTP accepted */
    int64_t code_id; /* one-time code accepted */
};

static struct expect model(const char *in)
{
    struct expect x = {MZ_REJECT_MALFORMED, MZ_METHOD_TOTP, 0, 0};
    char norm[MZ_CODE_SYMBOLS + 1];
    if (model_malformed(in))
        return x;
    if (model_normalize(in, norm)) {
        x.outcome = MZ_REJECT_WRONG;
        for (size_t i = 0; i < NKNOWN; i++) {
            if (known[i].accepted && strcmp(norm, known[i].normalized) == 0) {
                x.outcome = MZ_ACCEPT;
                x.method = known[i].emergency ? MZ_METHOD_EMERGENCY : MZ_METHOD_RECOVERY;
                x.code_id = known[i].id;
            }
        }
        return x;
    }
    if (!six_digits(in))
        return x;
    x.outcome = MZ_REJECT_WRONG;
    for (int d = -1; d <= 1; d++) {
        if (strcmp(in, totp[d + 1]) == 0) {
            x.step = step_now + d;
            x.outcome = x.step > record.last_step ? MZ_ACCEPT : MZ_REJECT_REPLAY;
        }
    }
    return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mz_record out;
    struct mz_verdict v;
    char *input = fuzz_strdup(data, size);

    /* mz_code_normalize against the model, on any input. */
    char got[MZ_CODE_SYMBOLS + 1], want[MZ_CODE_SYMBOLS + 1];
    bool g = mz_code_normalize(input, got);
    bool w = model_normalize(input, want);
    FUZZ_CHECK(g == w);
    if (g)
        FUZZ_CHECK(strcmp(got, want) == 0);

    struct expect x = model(input);
    mz_decide(&policy, &record, input, NOW, &v, &out);
    FUZZ_CHECK(v.outcome == x.outcome);
    FUZZ_CHECK(out.ncodes == record.ncodes && out.secret_len == record.secret_len);
    FUZZ_CHECK(memcmp(out.secret, record.secret, sizeof(record.secret)) == 0);
    if (v.outcome == MZ_ACCEPT) {
        FUZZ_CHECK(v.method == x.method);
        FUZZ_CHECK(out.failures == 0 && out.failures_since_success == 0);
        FUZZ_CHECK(v.failures_before == record.failures_since_success);
        FUZZ_CHECK(out.last_success_at == NOW && out.locked_until == 0 && !v.locked_now);
        if (x.method == MZ_METHOD_TOTP) {
            FUZZ_CHECK(v.step == x.step && out.last_step == x.step && out.used_code_id == 0);
            /* The same code again is a replay, and counts as a failure. */
            mz_decide(&policy, &out, input, NOW + 1, &v, &out);
            FUZZ_CHECK(v.outcome == MZ_REJECT_REPLAY && out.failures == 1);
        } else {
            FUZZ_CHECK(out.used_code_id == x.code_id && out.last_step == record.last_step);
        }
    } else {
        /* Every rejection here is the user's: counted, and the fifth locks. */
        FUZZ_CHECK(out.failures == record.failures + 1);
        FUZZ_CHECK(out.failures_since_success == record.failures_since_success + 1);
        FUZZ_CHECK(out.last_failure_at == NOW && out.last_step == record.last_step);
        FUZZ_CHECK(out.used_code_id == 0 && out.last_success_at == record.last_success_at);
        FUZZ_CHECK(v.locked_now && out.locked_until == NOW + LOCKOUT &&
                   v.locked_until == out.locked_until);
        /* Locked now: the next attempt is not even looked at, whatever it is. */
        mz_decide(&policy, &out, totp[1], NOW + 1, &v, &out);
        FUZZ_CHECK(v.outcome == MZ_REJECT_LOCKED && out.failures == MAX_FAILURES);
    }
    free(input);
    return 0;
}
