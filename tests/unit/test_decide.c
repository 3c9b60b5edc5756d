/* Unit tests of lib/mz_decide.c: the decision about one attempt as a pure function of
 * policy, record, input and an injected time. Right codes come from liboath. */
#include "mz_test.h"

#define NOW ((int64_t)1700000025)
#define PERIOD 30u
#define STEP (NOW / PERIOD)
#define LOCKOUT 900u
#define MAX_FAILURES 3u

static const struct mz_policy policy = {
    .digits = 6,
    .period = PERIOD,
    .window = 1,
    .max_failures = MAX_FAILURES,
    .lockout = LOCKOUT,
};

static void enrolled(struct mz_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->has_totp = true;
    memcpy(rec->secret, MZT_RFC_SECRET, MZT_RFC_SECRET_LEN);
    rec->secret_len = MZT_RFC_SECRET_LEN;
    rec->last_step = -1;
}

static void right_code(const struct mz_record *rec, int64_t now, char code[16])
{
    mzt_totp(rec->secret, rec->secret_len, now, PERIOD, 6, code);
}

static void wrong_code(const struct mz_record *rec, int64_t now, char code[16])
{
    mzt_wrong_totp(rec->secret, rec->secret_len, now, PERIOD, 6, 1, code);
}

static void test_accept(void **state)
{
    (void)state;
    struct mz_record in, out;
    struct mz_verdict v;
    char code[16];
    enrolled(&in);
    in.failures = MAX_FAILURES - 1;
    in.failures_since_success = MAX_FAILURES - 1;
    in.last_failure_at = NOW - 100;
    in.last_success_at = NOW - 86400;
    right_code(&in, NOW, code);
    mz_decide(&policy, &in, code, NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(v.step, STEP);
    assert_int_equal(v.failures_before, MAX_FAILURES - 1);
    assert_false(v.locked_now);
    assert_int_equal(out.failures, 0);
    assert_int_equal(out.failures_since_success, 0);
    assert_int_equal(out.last_step, STEP);
    assert_int_equal(out.last_success_at, NOW);
    assert_int_equal(out.last_failure_at, NOW - 100);
    assert_int_equal(out.locked_until, 0);
    assert_true(out.has_totp);
    assert_int_equal(out.secret_len, in.secret_len);
    assert_memory_equal(out.secret, in.secret, in.secret_len);
    /* IN is left alone when OUT is another record. */
    assert_int_equal(in.failures, MAX_FAILURES - 1);
    assert_int_equal(in.last_step, -1);
}

/* The code of the previous step, inside the window, sets that step. */
static void test_accept_previous_step(void **state)
{
    (void)state;
    struct mz_record in, out;
    struct mz_verdict v;
    char code[16];
    enrolled(&in);
    right_code(&in, NOW - PERIOD, code);
    mz_decide(&policy, &in, code, NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(v.step, STEP - 1);
    assert_int_equal(out.last_step, STEP - 1);
}

static void test_wrong_counts(void **state)
{
    (void)state;
    struct mz_record in, out;
    struct mz_verdict v;
    char code[16];
    enrolled(&in);
    in.last_step = STEP - 5;
    in.last_success_at = NOW - 1000;
    wrong_code(&in, NOW, code);
    mz_decide(&policy, &in, code, NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_WRONG);
    assert_false(v.locked_now);
    assert_int_equal(out.failures, 1);
    assert_int_equal(out.failures_since_success, 1);
    assert_int_equal(out.last_failure_at, NOW);
    assert_int_equal(out.last_step, STEP - 5);
    assert_int_equal(out.last_success_at, NOW - 1000);
    assert_int_equal(out.locked_until, 0);
    assert_false(mz_is_locked(&out, NOW));
}

/* Lock-out starts at the MAX_FAILURES-th failure, not before, for NOW + LOCKOUT. */
static void test_lockout_threshold(void **state)
{
    (void)state;
    struct mz_record rec;
    struct mz_verdict v;
    char code[16];
    enrolled(&rec);
    int64_t t = NOW;
    for (unsigned i = 1; i < MAX_FAILURES; i++, t += 7) {
        wrong_code(&rec, t, code);
        mz_decide(&policy, &rec, code, t, &v, &rec);
        assert_int_equal(v.outcome, MZ_REJECT_WRONG);
        assert_int_equal(rec.failures, i);
        assert_false(v.locked_now);
        assert_int_equal(v.locked_until, 0);
        assert_int_equal(rec.locked_until, 0);
        assert_false(mz_is_locked(&rec, t));
    }
    wrong_code(&rec, t, code);
    mz_decide(&policy, &rec, code, t, &v, &rec);
    assert_int_equal(v.outcome, MZ_REJECT_WRONG);
    assert_int_equal(rec.failures, MAX_FAILURES);
    assert_true(v.locked_now);
    assert_int_equal(v.locked_until, t + LOCKOUT);
    assert_int_equal(rec.locked_until, t + LOCKOUT);
    assert_true(mz_is_locked(&rec, t));
    assert_true(mz_is_locked(&rec, t + LOCKOUT - 1));
    assert_false(mz_is_locked(&rec, t + LOCKOUT));
}

static void test_max_failures_one(void **state)
{
    (void)state;
    struct mz_policy strict = policy;
    strict.max_failures = 1;
    struct mz_record rec;
    struct mz_verdict v;
    char code[16];
    enrolled(&rec);
    wrong_code(&rec, NOW, code);
    mz_decide(&strict, &rec, code, NOW, &v, &rec);
    assert_true(v.locked_now);
    assert_int_equal(rec.locked_until, NOW + LOCKOUT);
}

/* While locked even the right code is refused, and the record is not changed at all. */
static void test_locked_refuses_right_code(void **state)
{
    (void)state;
    struct mz_record in, out;
    struct mz_verdict v;
    char code[16];
    enrolled(&in);
    in.failures = MAX_FAILURES;
    in.locked_until = NOW + 100;
    in.last_failure_at = NOW - 800;
    in.last_step = STEP - 10;
    static const int64_t times[] = {NOW, NOW + 99};
    for (size_t i = 0; i < 2; i++) {
        right_code(&in, times[i], code);
        memset(&out, 0x77, sizeof(out));
        mz_decide(&policy, &in, code, times[i], &v, &out);
        assert_int_equal(v.outcome, MZ_REJECT_LOCKED);
        assert_int_equal(v.locked_until, NOW + 100);
        assert_false(v.locked_now);
        assert_memory_equal(&out, &in, sizeof(in));
    }
    /* Garbage while locked is not counted either. */
    mz_decide(&policy, &in, "xyz", NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_LOCKED);
    assert_memory_equal(&out, &in, sizeof(in));
    /* In place too. */
    struct mz_record same;
    memcpy(&same, &in, sizeof(same));
    right_code(&in, NOW, code);
    mz_decide(&policy, &same, code, NOW, &v, &same);
    assert_int_equal(v.outcome, MZ_REJECT_LOCKED);
    assert_memory_equal(&same, &in, sizeof(in));
}

/* At locked_until the lock is over: the right code is accepted and the count starts
 * afresh. */
static void test_after_lockout(void **state)
{
    (void)state;
    struct mz_record in, out;
    struct mz_verdict v;
    char code[16];
    const int64_t until = NOW;
    enrolled(&in);
    in.failures = MAX_FAILURES;
    in.failures_since_success = MAX_FAILURES;
    in.locked_until = until;
    right_code(&in, until, code);
    mz_decide(&policy, &in, code, until, &v, &out);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(out.failures, 0);
    assert_int_equal(out.locked_until, 0);
    assert_int_equal(out.last_step, until / PERIOD);

    /* A wrong code after the lock is the first failure of a new count, not one more
     * failure that locks again at once. */
    wrong_code(&in, until + 1, code);
    mz_decide(&policy, &in, code, until + 1, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_WRONG);
    assert_int_equal(out.failures, 1);
    assert_false(v.locked_now);
    assert_int_equal(out.locked_until, 0);
    assert_false(mz_is_locked(&out, until + 1));
}

/* The failures that led to a lock-out are failures since the last success: the user
 * must hear of them at the next successful login, even after the lock ran out
 * (otherwise an attacker can hide a guessing run by waiting the lock out). */
static void test_failures_before_survives_lockout(void **state)
{
    (void)state;
    struct mz_record rec;
    struct mz_verdict v;
    char code[16];
    enrolled(&rec);
    for (unsigned i = 0; i < MAX_FAILURES; i++) {
        wrong_code(&rec, NOW, code);
        mz_decide(&policy, &rec, code, NOW, &v, &rec);
    }
    assert_true(v.locked_now);
    const int64_t later = NOW + LOCKOUT;
    right_code(&rec, later, code);
    mz_decide(&policy, &rec, code, later, &v, &rec);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(rec.failures, 0);
    assert_int_equal(v.failures_before, MAX_FAILURES);
    assert_int_equal(rec.failures_since_success, 0);

    /* A failure after the lock ran out adds to both counts, but does not lock again. */
    enrolled(&rec);
    for (unsigned i = 0; i < MAX_FAILURES; i++) {
        wrong_code(&rec, NOW, code);
        mz_decide(&policy, &rec, code, NOW, &v, &rec);
    }
    wrong_code(&rec, later, code);
    mz_decide(&policy, &rec, code, later, &v, &rec);
    assert_false(v.locked_now);
    assert_int_equal(rec.failures, 1);
    assert_int_equal(rec.failures_since_success, MAX_FAILURES + 1);
    right_code(&rec, later + 1, code);
    mz_decide(&policy, &rec, code, later + 1, &v, &rec);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(v.failures_before, MAX_FAILURES + 1);
}

static void test_lockout_forever(void **state)
{
    (void)state;
    struct mz_policy forever = policy;
    forever.lockout = 0;
    struct mz_record rec;
    struct mz_verdict v;
    char code[16];
    enrolled(&rec);
    rec.failures = MAX_FAILURES - 1;
    wrong_code(&rec, NOW, code);
    mz_decide(&forever, &rec, code, NOW, &v, &rec);
    assert_true(v.locked_now);
    assert_int_equal(rec.locked_until, MZ_LOCKED_FOREVER);
    assert_int_equal(v.locked_until, MZ_LOCKED_FOREVER);
    /* Ten years later, still locked, even with the right code. */
    const int64_t later = NOW + (int64_t)10 * 366 * 86400;
    assert_true(mz_is_locked(&rec, later));
    right_code(&rec, later, code);
    mz_decide(&forever, &rec, code, later, &v, &rec);
    assert_int_equal(v.outcome, MZ_REJECT_LOCKED);
    assert_int_equal(rec.locked_until, MZ_LOCKED_FOREVER);
}

/* Input that cannot be a code is a failed attempt, and counts toward the lock-out. */
static void test_malformed_counts(void **state)
{
    (void)state;
    char longest[MZ_INPUT_MAX + 2];
    memset(longest, '1', sizeof(longest));
    longest[MZ_INPUT_MAX + 1] = '\0'; /* 65 bytes */
    char right[16], right_tab[20];
    struct mz_record probe;
    enrolled(&probe);
    right_code(&probe, NOW, right);
    snprintf(right_tab, sizeof(right_tab), "%s\t", right);
    const char *inputs[] = {NULL,     "",        longest,   "１２３４５６", "12345\xe9",
                            "12 456", right_tab, "1234567", "abcdef"};
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        struct mz_record in, out;
        struct mz_verdict v;
        enrolled(&in);
        in.failures = 1;
        in.failures_since_success = 1;
        mz_decide(&policy, &in, inputs[i], NOW, &v, &out);
        if (v.outcome != MZ_REJECT_MALFORMED)
            print_error("input %zu gave %d\n", i, (int)v.outcome);
        assert_int_equal(v.outcome, MZ_REJECT_MALFORMED);
        assert_int_equal(out.failures, 2);
        assert_int_equal(out.failures_since_success, 2);
        assert_int_equal(out.last_failure_at, NOW);
        assert_int_equal(out.last_step, -1);
    }
    /* Enough of them lock the user out like wrong codes do. */
    struct mz_record rec;
    struct mz_verdict v;
    enrolled(&rec);
    for (unsigned i = 0; i < MAX_FAILURES; i++)
        mz_decide(&policy, &rec, "", NOW, &v, &rec);
    assert_true(v.locked_now);
    assert_true(mz_is_locked(&rec, NOW));
}

static void test_no_factor(void **state)
{
    (void)state;
    struct mz_record in, out;
    struct mz_verdict v;
    char code[16];
    enrolled(&in);
    right_code(&in, NOW, code);
    in.has_totp = false;
    in.failures = 1;
    mz_decide(&policy, &in, code, NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_NO_FACTOR);
    assert_int_not_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(out.last_step, -1);
    assert_int_equal(out.last_success_at, 0);
    assert_int_equal(out.failures, 1); /* nothing to try: not counted */
}

/* liboath refusing the check itself (here: 5 digits, which it does not make) is an error:
 * not an acceptance, and not the user's failure. */
static void test_liboath_error_is_neither(void **state)
{
    (void)state;
    struct mz_policy odd = policy;
    struct mz_record in, out;
    struct mz_verdict v;
    odd.digits = 5;
    enrolled(&in);
    in.failures = 2;
    mz_decide(&odd, &in, "12345", NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_ERROR);
    assert_int_equal(out.failures, 2);
    assert_int_equal(out.last_step, in.last_step);
    assert_int_equal(out.last_success_at, 0);
}

/* valid_until is the last day of access: the day after it, even the right code is
 * refused in the auth phase, without counting a failure or touching the record. */
static void test_expired(void **state)
{
    (void)state;
    struct mz_record in, out;
    struct mz_verdict v;
    char code[16], today[16], yesterday[16];
    mz_zone_date(NOW, today, sizeof(today));
    mz_zone_date(NOW - 86400, yesterday, sizeof(yesterday));
    enrolled(&in);
    right_code(&in, NOW, code);
    memcpy(in.valid_until, yesterday, sizeof(in.valid_until)); /* "YYYY-MM-DD" and its NUL */
    mz_decide(&policy, &in, code, NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_EXPIRED);
    assert_int_equal(out.failures, 0);
    assert_int_equal(out.last_step, -1);
    assert_true(mz_is_expired(&in, NOW));

    memcpy(in.valid_until, today, sizeof(in.valid_until));
    assert_false(mz_is_expired(&in, NOW));
    mz_decide(&policy, &in, code, NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_ACCEPT);
}

static void test_replay_counts(void **state)
{
    (void)state;
    struct mz_record in, out;
    struct mz_verdict v;
    char code[16];
    enrolled(&in);
    right_code(&in, NOW, code);
    mz_decide(&policy, &in, code, NOW, &v, &in);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    /* The same code again, a few seconds later in the same step. */
    mz_decide(&policy, &in, code, NOW + 5, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_REPLAY);
    assert_int_equal(out.failures, 1);
    assert_int_equal(out.last_failure_at, NOW + 5);
    assert_int_equal(out.last_step, STEP);
    assert_int_equal(out.last_success_at, NOW);
    /* The next step's code is fine. */
    right_code(&in, NOW + PERIOD, code);
    mz_decide(&policy, &out, code, NOW + PERIOD, &v, &out);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(v.failures_before, 1);
    assert_int_equal(out.last_step, STEP + 1);
}

/* A sequence in place: fail, fail, accept (the count resets), fail. */
static void test_sequence_resets(void **state)
{
    (void)state;
    struct mz_record rec;
    struct mz_verdict v;
    char code[16];
    enrolled(&rec);
    wrong_code(&rec, NOW, code);
    mz_decide(&policy, &rec, code, NOW, &v, &rec);
    mz_decide(&policy, &rec, code, NOW + 1, &v, &rec);
    assert_int_equal(rec.failures, 2);
    right_code(&rec, NOW + 2, code);
    mz_decide(&policy, &rec, code, NOW + 2, &v, &rec);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(v.failures_before, 2);
    assert_int_equal(rec.failures, 0);
    wrong_code(&rec, NOW + 3, code);
    mz_decide(&policy, &rec, code, NOW + 3, &v, &rec);
    assert_int_equal(rec.failures, 1);
    assert_false(mz_is_locked(&rec, NOW + 3));
}

/* --- one-time codes (recovery and emergency) ------------------------------------------ */

#define CODE_TYPED "2345-6789-abcd-efgh" /* as a user may type it */
#define CODE_NORMAL "23456789ABCDEFGH"

static void add_code(struct mz_record *rec, const struct mz_keys *keys, const char *normalized,
                     int64_t id, bool emergency, int64_t expires_at)
{
    struct mz_code_entry *c = &rec->codes[rec->ncodes++];
    memset(c, 0, sizeof(*c));
    assert_int_equal(mz_code_seal(keys, normalized, c), MZ_OK);
    c->id = id;
    c->emergency = emergency;
    c->expires_at = expires_at;
}

static void test_recovery_code(void **state)
{
    (void)state;
    struct mz_keys keys;
    struct mz_policy p = policy;
    struct mz_record in, out;
    struct mz_verdict v;
    mzt_keys(&keys, 1);
    p.keys = &keys;
    enrolled(&in);
    in.last_step = STEP - 3;
    in.failures = 1;
    in.failures_since_success = 1;
    add_code(&in, &keys, "WXYZ2345WXYZ2345", 10, false, 0);
    add_code(&in, &keys, CODE_NORMAL, 11, false, 0);
    mz_decide(&p, &in, CODE_TYPED, NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(v.method, MZ_METHOD_RECOVERY);
    assert_string_equal(mz_method_name(v.method), "recovery");
    assert_int_equal(out.used_code_id, 11);
    assert_int_equal(v.failures_before, 1);
    assert_int_equal(out.failures, 0);
    assert_int_equal(out.last_success_at, NOW);
    /* The TOTP step is not touched by a one-time code. */
    assert_int_equal(out.last_step, STEP - 3);

    /* Dashes and case do not matter; one symbol does. */
    mz_decide(&p, &in, "23456789abcdEFGH", NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(out.used_code_id, 11);
    mz_decide(&p, &in, "2345-6789-ABCD-EFGJ", NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_WRONG);
    assert_int_equal(out.used_code_id, 0);
    assert_int_equal(out.failures, 2);
    /* Without the keys no code can be checked, so none is accepted. */
    p.keys = NULL;
    mz_decide(&p, &in, CODE_TYPED, NOW, &v, &out);
    assert_int_not_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(out.used_code_id, 0);
    assert_int_equal(out.failures, 2);
    /* Another key, another hash. */
    struct mz_keys other;
    mzt_keys(&other, 2);
    p.keys = &other;
    mz_decide(&p, &in, CODE_TYPED, NOW, &v, &out);
    assert_int_not_equal(v.outcome, MZ_ACCEPT);
}

/* Codes are shown in groups of four; typed with spaces between the groups (as
 * mz_code_normalize allows) they are the same code, not a malformed input that counts
 * toward the lock-out. */
static void test_recovery_code_with_spaces(void **state)
{
    (void)state;
    struct mz_keys keys;
    struct mz_policy p = policy;
    struct mz_record in, out;
    struct mz_verdict v;
    mzt_keys(&keys, 1);
    p.keys = &keys;
    enrolled(&in);
    add_code(&in, &keys, CODE_NORMAL, 11, false, 0);
    char normal[MZ_CODE_SYMBOLS + 1];
    assert_true(mz_code_normalize("2345 6789 ABCD EFGH", normal));
    assert_string_equal(normal, CODE_NORMAL);
    mz_decide(&p, &in, "2345 6789 ABCD EFGH", NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(out.used_code_id, 11);
    assert_int_equal(out.failures, 0);
}

/* Whatever mz_code_normalize refuses leaves nothing of the input behind: a one-time code
 * typed with a symbol missing is still a valid code, and a TOTP code is one too. */
static void test_normalize_refusal_wipes(void **state)
{
    (void)state;
    static const char *const refused[] = {"2345 6789 ABCD EFG", "234567", "2345-6789-ABCD-EFGH-J",
                                          "2345 6789 abcd efg!"};
    char out[MZ_CODE_SYMBOLS + 1], zero[MZ_CODE_SYMBOLS + 1];
    memset(zero, 0, sizeof(zero));
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        memset(out, 'Q', sizeof(out));
        assert_false(mz_code_normalize(refused[i], out));
        assert_memory_equal(out, zero, sizeof(out));
    }
}

/* The 64-byte limit and the printable-ASCII rule hold for one-time codes too, although
 * the code itself ignores dashes and spaces. */
static void test_code_input_limits(void **state)
{
    (void)state;
    struct mz_keys keys;
    struct mz_policy p = policy;
    struct mz_record in, out;
    struct mz_verdict v;
    char padded[MZ_INPUT_MAX + 2];
    mzt_keys(&keys, 1);
    p.keys = &keys;
    enrolled(&in);
    add_code(&in, &keys, CODE_NORMAL, 11, false, 0);

    /* 64 bytes: still an input, and the right code. */
    memset(padded, ' ', sizeof(padded));
    memcpy(padded, CODE_TYPED, strlen(CODE_TYPED));
    padded[MZ_INPUT_MAX] = '\0';
    mz_decide(&p, &in, padded, NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    /* 65 bytes: a failed attempt, whatever it holds. */
    memset(padded, '-', sizeof(padded));
    memcpy(padded, CODE_TYPED, strlen(CODE_TYPED));
    padded[MZ_INPUT_MAX + 1] = '\0';
    mz_decide(&p, &in, padded, NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_MALFORMED);
    assert_int_equal(out.used_code_id, 0);
    assert_int_equal(out.failures, 1);
    /* Control characters or non-ASCII between the groups. */
    const char *bad[] = {"2345\t6789-ABCD-EFGH", "2345-6789-ABCD-EFGH\n",
                         "2345\x7f"
                         "6789ABCDEFGH",
                         "2345\xe3\x80\x80"
                         "6789ABCDEFGH"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mz_decide(&p, &in, bad[i], NOW, &v, &out);
        assert_int_not_equal(v.outcome, MZ_ACCEPT);
        assert_int_equal(out.failures, 1);
    }
}

static void test_emergency_code_expiry(void **state)
{
    (void)state;
    struct mz_keys keys;
    struct mz_policy p = policy;
    struct mz_record in, out;
    struct mz_verdict v;
    mzt_keys(&keys, 1);
    p.keys = &keys;
    enrolled(&in);
    add_code(&in, &keys, CODE_NORMAL, 21, true, NOW + 3600);
    mz_decide(&p, &in, CODE_TYPED, NOW + 3599, &v, &out);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(v.method, MZ_METHOD_EMERGENCY);
    assert_string_equal(mz_method_name(v.method), "emergency");
    assert_int_equal(out.used_code_id, 21);
    mz_decide(&p, &in, CODE_TYPED, NOW + 3600, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_WRONG);
    assert_int_equal(out.used_code_id, 0);
    assert_int_equal(out.failures, 1);
}

/* A user whose TOTP credential is gone can still use a one-time code, and nothing else. */
static void test_codes_without_totp(void **state)
{
    (void)state;
    struct mz_keys keys;
    struct mz_policy p = policy;
    struct mz_record in, out;
    struct mz_verdict v;
    char code[16];
    mzt_keys(&keys, 1);
    p.keys = &keys;
    enrolled(&in);
    right_code(&in, NOW, code);
    in.has_totp = false;
    mz_decide(&p, &in, code, NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_NO_FACTOR);
    add_code(&in, &keys, CODE_NORMAL, 31, false, 0);
    mz_decide(&p, &in, code, NOW, &v, &out);
    assert_int_not_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(out.failures, 1);
    mz_decide(&p, &in, CODE_TYPED, NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(out.used_code_id, 31);
}

/* Locked is locked, whatever the code; and a stale used_code_id is never passed on. */
static void test_codes_locked_and_stale_id(void **state)
{
    (void)state;
    struct mz_keys keys;
    struct mz_policy p = policy;
    struct mz_record in, out;
    struct mz_verdict v;
    char code[16];
    mzt_keys(&keys, 1);
    p.keys = &keys;
    enrolled(&in);
    add_code(&in, &keys, CODE_NORMAL, 41, false, 0);
    in.locked_until = NOW + 60;
    mz_decide(&p, &in, CODE_TYPED, NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_LOCKED);
    assert_int_equal(out.used_code_id, 0);

    in.locked_until = 0;
    in.used_code_id = 41; /* left over from an earlier decision */
    right_code(&in, NOW, code);
    mz_decide(&p, &in, code, NOW, &v, &out);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(v.method, MZ_METHOD_TOTP);
    assert_int_equal(out.used_code_id, 0);
    mz_decide(&p, &in, "nonsense", NOW, &v, &out);
    assert_int_equal(out.used_code_id, 0);
}

static void test_policy_from_config(void **state)
{
    (void)state;
    struct mz_config cfg;
    struct mz_policy p;
    mz_err e = {""};
    mz_config_defaults(&cfg);
    assert_int_equal(mz_config_set(&cfg, "max_failures", "5", &e), MZ_OK);
    assert_int_equal(mz_config_set(&cfg, "privileged_max_failures", "3", &e), MZ_OK);
    assert_int_equal(mz_config_set(&cfg, "totp_digits", "8", &e), MZ_OK);
    assert_int_equal(mz_config_set(&cfg, "totp_period", "60", &e), MZ_OK);
    assert_int_equal(mz_config_set(&cfg, "totp_window", "2", &e), MZ_OK);
    assert_int_equal(mz_config_set(&cfg, "lockout", "120", &e), MZ_OK);

    mz_policy_from_config(&cfg, false, &p);
    assert_int_equal(p.max_failures, 5);
    assert_int_equal(p.digits, 8);
    assert_int_equal(p.period, 60);
    assert_int_equal(p.window, 2);
    assert_int_equal(p.lockout, 120);

    mz_policy_from_config(&cfg, true, &p);
    assert_int_equal(p.max_failures, 3);
    assert_int_equal(p.digits, 8);
    assert_int_equal(p.lockout, 120);

    /* "Stricter": a privileged limit above the general one does not loosen it. */
    assert_int_equal(mz_config_set(&cfg, "privileged_max_failures", "10", &e), MZ_OK);
    mz_policy_from_config(&cfg, true, &p);
    assert_int_equal(p.max_failures, 5);

    /* The privileged policy locks at its own limit. */
    assert_int_equal(mz_config_set(&cfg, "privileged_max_failures", "2", &e), MZ_OK);
    assert_int_equal(mz_config_set(&cfg, "totp_digits", "6", &e), MZ_OK);
    assert_int_equal(mz_config_set(&cfg, "totp_period", "30", &e), MZ_OK);
    mz_policy_from_config(&cfg, true, &p);
    struct mz_record rec;
    struct mz_verdict v;
    char code[16];
    enrolled(&rec);
    wrong_code(&rec, NOW, code);
    mz_decide(&p, &rec, code, NOW, &v, &rec);
    assert_false(v.locked_now);
    mz_decide(&p, &rec, code, NOW, &v, &rec);
    assert_true(v.locked_now);
    assert_int_equal(rec.locked_until, NOW + 120);

    /* Lock-out 0 in the file means forever. */
    assert_int_equal(mz_config_set(&cfg, "lockout", "0", &e), MZ_OK);
    mz_policy_from_config(&cfg, false, &p);
    enrolled(&rec);
    for (unsigned i = 0; i < 5; i++)
        mz_decide(&p, &rec, code, NOW, &v, &rec);
    assert_true(v.locked_now);
    assert_int_equal(rec.locked_until, MZ_LOCKED_FOREVER);
}

static void test_reasons_never_echo_input(void **state)
{
    (void)state;
    /* The reasons go to the audit log: fixed text, distinct for each outcome. */
    const enum mz_outcome all[] = {
        MZ_ACCEPT,           MZ_REJECT_WRONG,        MZ_REJECT_REPLAY,  MZ_REJECT_MALFORMED,
        MZ_REJECT_LOCKED,    MZ_REJECT_NO_FACTOR,    MZ_REJECT_EXPIRED, MZ_REJECT_ERROR,
        MZ_REJECT_OTHER_KEY, MZ_REJECT_BAD_RESPONSE, MZ_REJECT_STALE};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        const char *r = mz_outcome_reason(all[i]);
        assert_non_null(r);
        assert_true(r[0] != '\0');
        assert_null(strpbrk(r, "0123456789"));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(r, mz_outcome_reason(all[j]));
    }
}

/* The system's zone from TZif files (tzdata): standard time, summer time, a time after
 * the last transition (the footer's rule), and files that must not be trusted. */
static void test_tzif_offsets(void **state)
{
    (void)state;
    const char *tokyo = "/usr/share/zoneinfo/Asia/Tokyo",
               *ny = "/usr/share/zoneinfo/America/New_York";
    if (access(tokyo, R_OK) != 0 || access(ny, R_OK) != 0) {
        skip(); /* ./quickstart test installs tzdata */
        return;
    }
    int32_t off = 1;
    assert_true(mz_tzif_offset(tokyo, 1774971000, &off)); /* 2026-03-31T15:30Z */
    assert_int_equal(off, 9 * 3600);
    assert_true(mz_tzif_offset(tokyo, 4102444800, &off)); /* 2100: the footer, JST-9 */
    assert_int_equal(off, 9 * 3600);
    assert_true(mz_tzif_offset(ny, 1782907200, &off)); /* July: summer time */
    assert_int_equal(off, -4 * 3600);
    assert_true(mz_tzif_offset(ny, 1768478400, &off)); /* January */
    assert_int_equal(off, -5 * 3600);

    struct mzt_dir d;
    char path[PATH_MAX + 8], cmd[3 * PATH_MAX + 64];
    mzt_dir_make(&d);
    snprintf(path, sizeof(path), "%s/zone", d.path);
    snprintf(cmd, sizeof(cmd), "head -c 100 '%s' >'%s'", tokyo, path);
    assert_int_equal(system(cmd), 0);
    assert_false(mz_tzif_offset(path, 1774971000, &off)); /* cut short */
    assert_int_equal(off, 0);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 666 '%s'", tokyo, path, path);
    assert_int_equal(system(cmd), 0);
    if (getuid() == 0) {
        assert_false(mz_tzif_offset(path, 1774971000, &off)); /* writable by others */
        chmod(path, 0644);
        assert_true(mz_tzif_offset(path, 1774971000, &off));
        assert_int_equal(off, 9 * 3600);
    }
    assert_false(mz_tzif_offset(d.path, 1774971000, &off)); /* a folder */
    mzt_dir_remove(&d);
}

/* Expiry is decided on the system's date: the calling process's TZ (su, sudo) moves the
 * date that people see, not the one decided on. Past year 9999 the date sorts after
 * every valid_until. */
static void test_zone_date_ignores_tz(void **state)
{
    (void)state;
    char east[16], west[16], zone_east[16], zone_west[16];
    const int64_t t = 1774971000; /* 2026-03-31T15:30Z */
    setenv("TZ", "XXX-14", 1);
    tzset();
    mz_local_date(t, east, sizeof(east));
    mz_zone_date(t, zone_east, sizeof(zone_east));
    setenv("TZ", "YYY+12", 1);
    tzset();
    mz_local_date(t, west, sizeof(west));
    mz_zone_date(t, zone_west, sizeof(zone_west));
    unsetenv("TZ");
    tzset();
    assert_string_equal(east, "2026-04-01");
    assert_string_equal(west, "2026-03-31");
    assert_string_equal(zone_east, zone_west);

    char far[16];
    mz_zone_date(253402387200, far, sizeof(far)); /* 10000-01-02 */
    assert_string_equal(far, "9999-12-31");
    mz_local_date(253402387200, far, sizeof(far));
    assert_string_equal(far, "9999-12-31");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_accept_previous_step),
        cmocka_unit_test(test_wrong_counts),
        cmocka_unit_test(test_lockout_threshold),
        cmocka_unit_test(test_max_failures_one),
        cmocka_unit_test(test_locked_refuses_right_code),
        cmocka_unit_test(test_after_lockout),
        cmocka_unit_test(test_failures_before_survives_lockout),
        cmocka_unit_test(test_lockout_forever),
        cmocka_unit_test(test_malformed_counts),
        cmocka_unit_test(test_no_factor),
        cmocka_unit_test(test_liboath_error_is_neither),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_tzif_offsets),
        cmocka_unit_test(test_zone_date_ignores_tz),
        cmocka_unit_test(test_replay_counts),
        cmocka_unit_test(test_sequence_resets),
        cmocka_unit_test(test_recovery_code),
        cmocka_unit_test(test_recovery_code_with_spaces),
        cmocka_unit_test(test_normalize_refusal_wipes),
        cmocka_unit_test(test_code_input_limits),
        cmocka_unit_test(test_emergency_code_expiry),
        cmocka_unit_test(test_codes_without_totp),
        cmocka_unit_test(test_codes_locked_and_stale_id),
        cmocka_unit_test(test_policy_from_config),
        cmocka_unit_test(test_reasons_never_echo_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
