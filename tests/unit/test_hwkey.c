/* Unit tests of the YubiKey logic (lib/mz_hwkey.c, mz_decide_hwkey, the store's key
 * credential and mz_auth_hw_attempt) with a software key behind the ops struct. The
 * expected responses are computed here with nettle's HMAC-SHA1, never by mnzone. */
#include "mz_test.h"
#include "soft_key.h"

#define T0 ((int64_t)1700000010)
#define SERIAL 4711001u

struct fx {
    struct mzt_dir dir;
    char path[PATH_MAX];
    struct mz_store *st;
    struct mz_keys keys;
    struct mz_config cfg;
    struct mz_hw_device *dev;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    mzt_dir_make(&f->dir);
    mzt_keys(&f->keys, 3);
    f->st = mzt_store_create(f->dir.path, f->path, sizeof(f->path));
    mz_config_defaults(&f->cfg);
    soft_key_reset(SERIAL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    mz_store_close(f->st);
    mzt_dir_remove(&f->dir);
    free(f);
    return 0;
}

static struct mz_hw_device *open_key(void)
{
    struct mz_hw_device *dev = NULL;
    mz_err e = {""};
    assert_int_equal(soft_key_ops()->open(&dev, &e), MZ_HW_OK);
    return dev;
}

/* Enrols LOGIN (a new staff member) with the software key, programming slot 2. */
static void enrol_key(struct fx *f, const char *login, const char *staff_id, bool touch,
                      struct mz_hw_cred *cred)
{
    struct mz_staff s;
    mz_err e = {""};
    mzt_staff(&s, login, staff_id);
    assert_int_equal(mz_store_add_staff(f->st, &s, &e), MZ_OK);
    int rc = mz_hw_enrol(soft_key_ops(), open_key(), &f->keys, 2, true, touch, &soft_key_prompt,
                         cred, NULL, &e);
    if (rc != MZ_HW_OK)
        print_error("%s\n", e.msg);
    assert_int_equal(rc, MZ_HW_OK);
    assert_int_equal(mz_store_add_hwkey(f->st, login, cred, T0 - 86400, "admin", &e), MZ_OK);
}

static void attempt_at(struct fx *f, const char *login, const struct mz_hw_answer *ans, int64_t now,
                       struct mz_verdict *v, int expect_rc)
{
    struct mz_attempt a = {.user = login,
                           .service = "login",
                           .host = "h",
                           .tty = "tty1",
                           .rhost = "",
                           .now = now,
                           .method = "yubikey"};
    struct mz_last_login last;
    mz_err e = {""};
    int rc = mz_auth_hw_attempt(&f->cfg, f->st, &f->keys, &a, ans, v, &last, &e);
    if (rc != expect_rc)
        print_error("%s\n", e.msg);
    assert_int_equal(rc, expect_rc);
}

/* The whole login of LOGIN at NOW with the key as it is; returns the verdict. */
static enum mz_outcome login_with_key(struct fx *f, const char *login, int64_t now)
{
    struct mz_factors fa;
    mz_err e = {""};
    assert_int_equal(mz_store_factors(f->st, login, now, &fa, &e), MZ_OK);
    assert_true(fa.has_hwkey);
    struct mz_hw_answer ans;
    int rc = mz_hw_exchange(soft_key_ops(), open_key(), &f->keys, &fa.hw, false, NULL, &ans, &e);
    assert_int_equal(rc, MZ_HW_OK);
    struct mz_verdict v;
    attempt_at(f, login, &ans, now, &v, MZ_OK);
    return v.outcome;
}

static void stored_challenge(struct fx *f, const char *login, uint8_t chal[MZ_HW_CHALLENGE_LEN])
{
    struct mz_factors fa;
    mz_err e = {""};
    assert_int_equal(mz_store_factors(f->st, login, T0, &fa, &e), MZ_OK);
    assert_true(fa.has_hwkey);
    memcpy(chal, fa.hw.challenge, MZ_HW_CHALLENGE_LEN);
}

static void test_challenge_never_ends_in_padding(void **state)
{
    (void)state;
    uint8_t a[MZ_HW_CHALLENGE_LEN], b[MZ_HW_CHALLENGE_LEN];
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(mz_hw_new_challenge(a), MZ_OK);
        assert_int_not_equal(a[MZ_HW_CHALLENGE_LEN - 1], 0);
    }
    assert_int_equal(mz_hw_new_challenge(b), MZ_OK);
    assert_memory_not_equal(a, b, sizeof(a));
}

static void test_enrol_programs_and_keeps_only_a_hash(void **state)
{
    struct fx *f = *state;
    struct mz_hw_cred cred;
    enrol_key(f, "taro", "A-001", false, &cred);
    assert_true(soft_key.programmed[2]);
    assert_int_equal(cred.serial, SERIAL);
    assert_int_equal(cred.slot, 2);
    /* The stored hash is the keyed hash of the response nettle computes with the key's
     * secret: the host got the right answer and kept only its hash. */
    uint8_t resp[MZ_HW_RESPONSE_LEN], want[MZ_HASH_BYTES];
    soft_key_hmac(soft_key.secret[2], cred.challenge, MZ_HW_CHALLENGE_LEN, resp);
    mz_hw_response_hash(&f->keys, cred.challenge, resp, want);
    assert_memory_equal(cred.response_hash, want, MZ_HASH_BYTES);
    /* Nothing in the store holds the secret or the response. */
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(mz_store_db(f->st),
                                        "SELECT secret, hw_challenge, hw_response_hash, hw_serial,"
                                        " hw_slot FROM credentials WHERE login = 'taro'",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_type(q, 0), SQLITE_NULL);
    assert_memory_equal(sqlite3_column_blob(q, 1), cred.challenge, MZ_HW_CHALLENGE_LEN);
    assert_memory_equal(sqlite3_column_blob(q, 2), want, MZ_HASH_BYTES);
    assert_memory_not_equal(sqlite3_column_blob(q, 2), resp, MZ_HW_RESPONSE_LEN);
    assert_int_equal(sqlite3_column_int64(q, 3), SERIAL);
    assert_int_equal(sqlite3_column_int(q, 4), 2);
    sqlite3_finalize(q);
}

static void test_enrol_without_program_uses_the_slot(void **state)
{
    struct fx *f = *state;
    struct mz_hw_cred cred;
    mz_err e = {""};
    uint8_t before[MZ_HW_SECRET_LEN];
    memset(soft_key.secret[1], 0x5a, MZ_HW_SECRET_LEN);
    soft_key.programmed[1] = true;
    memcpy(before, soft_key.secret[1], sizeof(before));
    assert_int_equal(
        mz_hw_enrol(soft_key_ops(), open_key(), &f->keys, 1, false, false, NULL, &cred, NULL, &e),
        MZ_HW_OK);
    assert_memory_equal(soft_key.secret[1], before, sizeof(before));
    assert_false(soft_key.programmed[2]);
    /* an unprogrammed slot does not answer: the enrolment fails */
    assert_int_not_equal(
        mz_hw_enrol(soft_key_ops(), open_key(), &f->keys, 2, false, false, NULL, &cred, NULL, &e),
        MZ_HW_OK);
}

static void test_no_key_present(void **state)
{
    (void)state;
    struct mz_hw_device *dev = NULL;
    mz_err e = {""};
    soft_key.present = false;
    assert_int_equal(soft_key_ops()->open(&dev, &e), MZ_HW_NO_KEY);
    assert_null(dev);
}

static void test_login_accepts_and_rotates(void **state)
{
    struct fx *f = *state;
    struct mz_hw_cred cred;
    uint8_t first[MZ_HW_CHALLENGE_LEN], second[MZ_HW_CHALLENGE_LEN];
    enrol_key(f, "taro", "A-001", false, &cred);
    stored_challenge(f, "taro", first);
    assert_int_equal(login_with_key(f, "taro", T0), MZ_ACCEPT);
    stored_challenge(f, "taro", second);
    assert_memory_not_equal(first, second, MZ_HW_CHALLENGE_LEN);
    assert_int_equal(login_with_key(f, "taro", T0 + 60), MZ_ACCEPT);
    assert_int_equal(mzt_query_int(f->st, "SELECT last_used_at FROM credentials"), T0 + 60);
    assert_int_equal(mzt_query_int(f->st, "SELECT COUNT(*) FROM audit WHERE method = 'yubikey'"
                                          " AND result = 'success'"),
                     2);
}

static void test_touch_prompted_before_each_challenge(void **state)
{
    struct fx *f = *state;
    struct mz_hw_cred cred;
    struct mz_hw_answer ans;
    mz_err e = {""};
    enrol_key(f, "taro", "A-001", true, &cred);
    assert_int_equal(soft_key.touch_prompts, 1);
    assert_int_equal(mz_hw_exchange(soft_key_ops(), open_key(), &f->keys, &cred, true,
                                    &soft_key_prompt, &ans, &e),
                     MZ_HW_OK);
    assert_int_equal(soft_key.touch_prompts, 3); /* the stored challenge, then the next */
    assert_false(soft_key.challenged_before_prompt);
    /* without the prompt the software key notices a silent block */
    assert_int_equal(
        mz_hw_exchange(soft_key_ops(), open_key(), &f->keys, &cred, true, NULL, &ans, &e),
        MZ_HW_OK);
    assert_true(soft_key.challenged_before_prompt);
}

static void test_old_response_replayed_is_refused(void **state)
{
    struct fx *f = *state;
    struct mz_hw_cred cred;
    uint8_t used[MZ_HW_RESPONSE_LEN];
    enrol_key(f, "taro", "A-001", false, &cred);
    memcpy(used, soft_key.last_response, sizeof(used)); /* the answer to the first challenge */
    assert_int_equal(login_with_key(f, "taro", T0), MZ_ACCEPT);
    /* a device that repeats that answer, already used by the login above */
    memcpy(soft_key.last_response, used, sizeof(used));
    soft_key.replay = true;
    assert_int_equal(login_with_key(f, "taro", T0 + 30), MZ_REJECT_BAD_RESPONSE);
    assert_int_equal(mzt_query_int(f->st, "SELECT failures FROM login_state"), 1);
    soft_key.replay = false;
    assert_int_equal(login_with_key(f, "taro", T0 + 60), MZ_ACCEPT);
}

static void test_other_serial_is_refused_without_a_challenge(void **state)
{
    struct fx *f = *state;
    struct mz_hw_cred cred;
    uint8_t before[MZ_HW_CHALLENGE_LEN], after[MZ_HW_CHALLENGE_LEN];
    enrol_key(f, "taro", "A-001", false, &cred);
    stored_challenge(f, "taro", before);
    soft_key.serial = SERIAL + 1;
    int asked = soft_key.challenges;
    assert_int_equal(login_with_key(f, "taro", T0), MZ_REJECT_OTHER_KEY);
    assert_int_equal(soft_key.challenges, asked);
    assert_int_equal(mzt_query_int(f->st, "SELECT failures FROM login_state"), 1);
    stored_challenge(f, "taro", after);
    assert_memory_equal(before, after, sizeof(before));
}

static void test_same_serial_other_secret_is_refused(void **state)
{
    struct fx *f = *state;
    struct mz_hw_cred cred;
    enrol_key(f, "taro", "A-001", false, &cred);
    soft_key.secret[2][0] ^= 1; /* a clone with the serial but not the secret */
    assert_int_equal(login_with_key(f, "taro", T0), MZ_REJECT_BAD_RESPONSE);
}

/* Enrols taro with a touch key, lets FAULT set the soft key's fault, and checks that the
 * exchange ends with WANT, unanswered, and the stored challenge unchanged; returns how
 * many challenges the key was asked meanwhile. */
static int exchange_fails(struct fx *f, void (*fault)(void), int want)
{
    struct mz_hw_cred cred;
    struct mz_hw_answer ans;
    uint8_t before[MZ_HW_CHALLENGE_LEN], after[MZ_HW_CHALLENGE_LEN];
    mz_err e = {""};
    enrol_key(f, "taro", "A-001", true, &cred);
    stored_challenge(f, "taro", before);
    int asked = soft_key.challenges;
    fault();
    assert_int_equal(mz_hw_exchange(soft_key_ops(), open_key(), &f->keys, &cred, true,
                                    &soft_key_prompt, &ans, &e),
                     want);
    assert_false(ans.rotating);
    assert_false(ans.answered);
    stored_challenge(f, "taro", after);
    assert_memory_equal(before, after, sizeof(before));
    return soft_key.challenges - asked;
}

static void never_touched(void)
{
    soft_key.never_touched = true;
}

static void prompt_fails(void)
{
    soft_key.prompt_fails = true;
}

static void test_touch_timeout_changes_nothing(void **state)
{
    exchange_fails(*state, never_touched, MZ_HW_TIMEOUT);
}

/* A touch prompt that cannot be shown stops the exchange before the key is asked: nobody
 * would know to touch it, and the login would wait for the key's time-out. */
static void test_prompt_not_shown_sends_no_challenge(void **state)
{
    assert_int_equal(exchange_fails(*state, prompt_fails, MZ_HW_ERROR), 0);
}

static void test_rotation_failure_changes_nothing(void **state)
{
    struct fx *f = *state;
    struct mz_hw_cred cred;
    struct mz_hw_answer ans;
    uint8_t before[MZ_HW_CHALLENGE_LEN], after[MZ_HW_CHALLENGE_LEN];
    mz_err e = {""};
    enrol_key(f, "taro", "A-001", false, &cred);
    stored_challenge(f, "taro", before);
    soft_key.fail_challenge = soft_key.challenges + 2; /* the next challenge fails */
    assert_int_equal(
        mz_hw_exchange(soft_key_ops(), open_key(), &f->keys, &cred, false, NULL, &ans, &e),
        MZ_HW_ERROR);
    assert_true(ans.rotating);
    assert_false(ans.answered);
    stored_challenge(f, "taro", after);
    assert_memory_equal(before, after, sizeof(before));
    soft_key.fail_challenge = 0;
    assert_int_equal(login_with_key(f, "taro", T0), MZ_ACCEPT);
}

static void test_failed_commit_is_no_success(void **state)
{
    struct fx *f = *state;
    struct mz_hw_cred cred;
    struct mz_hw_answer ans;
    struct mz_verdict v;
    uint8_t before[MZ_HW_CHALLENGE_LEN], after[MZ_HW_CHALLENGE_LEN];
    mz_err e = {""};
    enrol_key(f, "taro", "A-001", false, &cred);
    stored_challenge(f, "taro", before);
    assert_int_equal(
        mz_hw_exchange(soft_key_ops(), open_key(), &f->keys, &cred, false, NULL, &ans, &e),
        MZ_HW_OK);
    mzt_exec(f->st, "CREATE TRIGGER no_rotation BEFORE UPDATE OF hw_challenge ON credentials"
                    " BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
    attempt_at(f, "taro", &ans, T0, &v, MZ_ERR_STORE);
    assert_int_equal(v.outcome, MZ_REJECT_ERROR);
    mzt_exec(f->st, "DROP TRIGGER no_rotation");
    stored_challenge(f, "taro", after);
    assert_memory_equal(before, after, sizeof(before));
    assert_int_equal(mzt_query_int(f->st, "SELECT COUNT(*) FROM audit WHERE result = 'success'"),
                     0);
    assert_int_equal(mzt_query_int(f->st, "SELECT last_used_at FROM credentials"), 0);
}

static void test_answer_to_replaced_challenge_is_stale(void **state)
{
    struct fx *f = *state;
    struct mz_hw_cred cred;
    struct mz_hw_answer first, second;
    struct mz_verdict v;
    mz_err e = {""};
    enrol_key(f, "taro", "A-001", false, &cred);
    /* two logins read the same challenge; the first to commit wins */
    assert_int_equal(
        mz_hw_exchange(soft_key_ops(), open_key(), &f->keys, &cred, false, NULL, &first, &e),
        MZ_HW_OK);
    assert_int_equal(
        mz_hw_exchange(soft_key_ops(), open_key(), &f->keys, &cred, false, NULL, &second, &e),
        MZ_HW_OK);
    attempt_at(f, "taro", &first, T0, &v, MZ_OK);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    attempt_at(f, "taro", &second, T0, &v, MZ_OK);
    assert_int_equal(v.outcome, MZ_REJECT_STALE);
}

static void test_bad_responses_lock_out(void **state)
{
    struct fx *f = *state;
    struct mz_hw_cred cred;
    enrol_key(f, "taro", "A-001", false, &cred);
    soft_key.secret[2][5] ^= 0x40;
    for (unsigned i = 0; i < f->cfg.max_failures; i++)
        assert_int_equal(login_with_key(f, "taro", T0 + i), MZ_REJECT_BAD_RESPONSE);
    soft_key.secret[2][5] ^= 0x40; /* the right key now: still locked */
    assert_int_equal(login_with_key(f, "taro", T0 + 10), MZ_REJECT_LOCKED);
    assert_int_equal(login_with_key(f, "taro", T0 + (int64_t)f->cfg.lockout + 60), MZ_ACCEPT);
}

static void test_decide_hwkey_pure(void **state)
{
    (void)state;
    struct mz_policy p = {6, 30, 1, 3, 600, NULL};
    struct mz_record in, out;
    struct mz_hw_answer ans;
    struct mz_verdict v;
    memset(&in, 0, sizeof(in));
    memset(&ans, 0, sizeof(ans));
    in.has_hwkey = true;
    in.hw.serial = ans.serial = 7;
    ans.answered = true;
    memset(in.hw.challenge, 1, MZ_HW_CHALLENGE_LEN);
    memcpy(ans.challenge, in.hw.challenge, MZ_HW_CHALLENGE_LEN);
    memset(in.hw.response_hash, 2, MZ_HASH_BYTES);
    memcpy(ans.response_hash, in.hw.response_hash, MZ_HASH_BYTES);
    memset(ans.next_challenge, 3, MZ_HW_CHALLENGE_LEN);
    memset(ans.next_response_hash, 4, MZ_HASH_BYTES);
    in.failures = 2;

    mz_decide_hwkey(&p, &in, &ans, T0, &v, &out);
    assert_int_equal(v.outcome, MZ_ACCEPT);
    assert_int_equal(v.method, MZ_METHOD_YUBIKEY);
    assert_true(out.hw_rotated);
    assert_memory_equal(out.hw.challenge, ans.next_challenge, MZ_HW_CHALLENGE_LEN);
    assert_memory_equal(out.hw.response_hash, ans.next_response_hash, MZ_HASH_BYTES);
    assert_int_equal(out.failures, 0);

    in.valid_until[0] = '\0';
    strcpy(in.valid_until, "2000-01-01");
    mz_decide_hwkey(&p, &in, &ans, T0, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_EXPIRED);
    assert_int_equal(v.method, MZ_METHOD_YUBIKEY); /* audited as a key attempt */
    assert_int_equal(out.failures, 2);
    in.valid_until[0] = '\0';

    in.locked_until = T0 + 1;
    mz_decide_hwkey(&p, &in, &ans, T0, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_LOCKED);
    assert_int_equal(v.method, MZ_METHOD_YUBIKEY);
    assert_false(out.hw_rotated);
    in.locked_until = 0;

    in.has_hwkey = false;
    mz_decide_hwkey(&p, &in, &ans, T0, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_NO_FACTOR);
    in.has_hwkey = true;

    /* each way an answer can be wrong is a counted failure, and nothing rotates */
    ans.answered = false;
    mz_decide_hwkey(&p, &in, &ans, T0, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_OTHER_KEY);
    assert_int_equal(out.failures, 3);
    assert_false(out.hw_rotated);
    ans.answered = true;
    ans.serial = 8;
    mz_decide_hwkey(&p, &in, &ans, T0, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_OTHER_KEY);
    assert_int_equal(out.failures, 3);
    ans.serial = 7;
    ans.challenge[0] ^= 1;
    mz_decide_hwkey(&p, &in, &ans, T0, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_STALE);
    assert_int_equal(out.failures, 3);
    assert_false(out.hw_rotated);
    ans.challenge[0] ^= 1;

    ans.response_hash[31] ^= 1; /* the third failure locks */
    mz_decide_hwkey(&p, &in, &ans, T0, &v, &out);
    assert_int_equal(v.outcome, MZ_REJECT_BAD_RESPONSE);
    assert_true(v.locked_now);
    assert_false(out.hw_rotated);
    assert_memory_equal(out.hw.challenge, in.hw.challenge, MZ_HW_CHALLENGE_LEN);
}

/* Suspended between the status read and the key's answer (a touch may take 30 s): the
 * answer is decided on the staff member as they are in the transaction. */
static void test_suspended_meanwhile_is_refused(void **state)
{
    struct fx *f = *state;
    struct mz_hw_cred cred;
    struct mz_factors fa;
    struct mz_hw_answer ans;
    struct mz_verdict v;
    mz_err e = {""};
    enrol_key(f, "taro", "A-001", false, &cred);
    assert_int_equal(mz_store_factors(f->st, "taro", T0, &fa, &e), MZ_OK);
    assert_int_equal(
        mz_hw_exchange(soft_key_ops(), open_key(), &f->keys, &fa.hw, false, NULL, &ans, &e),
        MZ_HW_OK);
    mzt_exec(f->st, "UPDATE staff SET status = 'suspended' WHERE login = 'taro'");
    attempt_at(f, "taro", &ans, T0, &v, MZ_OK);
    assert_int_equal(v.outcome, MZ_REJECT_NO_FACTOR);
    assert_int_equal(mzt_query_int(f->st, "SELECT COUNT(*) FROM audit WHERE result = 'success'"),
                     0);
}

static void test_factors_for_fallback(void **state)
{
    struct fx *f = *state;
    struct mz_hw_cred cred;
    struct mz_factors fa;
    mz_err e = {""};
    enrol_key(f, "taro", "A-001", false, &cred);
    assert_int_equal(mz_store_factors(f->st, "taro", T0, &fa, &e), MZ_OK);
    assert_true(fa.has_hwkey);
    assert_false(fa.has_totp); /* a key only: nothing to type instead */
    assert_false(fa.has_codes);
    assert_int_equal(fa.hw.serial, SERIAL);
    uint8_t secret[MZ_SECRET_BYTES] = {1, 2, 3};
    assert_int_equal(
        mz_store_add_totp(f->st, &f->keys, "taro", secret, sizeof(secret), -1, T0, "admin", &e),
        MZ_OK);
    struct mz_code_entry code = {.expires_at = T0 + 60};
    assert_int_equal(
        mz_admin_add_code(f->st, "taro", "emergency", &code, "admin", "forgot", T0, &e), MZ_OK);
    assert_int_equal(mz_store_factors(f->st, "taro", T0, &fa, &e), MZ_OK);
    assert_true(fa.has_hwkey);
    assert_true(fa.has_totp);
    assert_true(fa.has_codes);
    assert_int_equal(mz_store_factors(f->st, "taro", T0 + 61, &fa, &e), MZ_OK);
    assert_false(fa.has_codes); /* the emergency code has expired */
    /* a revoked key is no key */
    int n = 0;
    assert_int_equal(mz_admin_revoke_method(f->st, "taro", "yubikey", "admin", "lost", T0, &n, &e),
                     MZ_OK);
    assert_int_equal(n, 1);
    assert_int_equal(mz_store_factors(f->st, "taro", T0, &fa, &e), MZ_OK);
    assert_false(fa.has_hwkey);
}

/* A key's answer is decided without the TOTP secret: it is not decrypted, and a TOTP
 * credential that cannot be decrypted does not stop the key. */
static void test_key_needs_no_totp_secret(void **state)
{
    struct fx *f = *state;
    struct mz_hw_cred cred;
    mz_err e = {""};
    enrol_key(f, "taro", "A-001", false, &cred);
    uint8_t secret[MZ_SECRET_BYTES];
    memset(secret, 7, sizeof(secret));
    assert_int_equal(
        mz_store_add_totp(f->st, &f->keys, "taro", secret, sizeof(secret), -1, T0, "admin", &e),
        MZ_OK);
    mzt_exec(f->st, "UPDATE credentials SET secret = x'00' WHERE method = 'totp'");
    assert_int_equal(login_with_key(f, "taro", T0), MZ_ACCEPT);
}

static void test_damaged_credential_is_an_error(void **state)
{
    struct fx *f = *state;
    struct mz_hw_cred cred;
    struct mz_factors fa;
    mz_err e = {""};
    enrol_key(f, "taro", "A-001", false, &cred);
    mzt_exec(f->st, "UPDATE credentials SET hw_challenge = x'00'");
    assert_int_equal(mz_store_factors(f->st, "taro", T0, &fa, &e), MZ_ERR_STORE);
    assert_false(fa.has_hwkey);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_challenge_never_ends_in_padding),
        T(test_enrol_programs_and_keeps_only_a_hash),
        T(test_enrol_without_program_uses_the_slot),
        T(test_no_key_present),
        T(test_login_accepts_and_rotates),
        T(test_touch_prompted_before_each_challenge),
        T(test_old_response_replayed_is_refused),
        T(test_other_serial_is_refused_without_a_challenge),
        T(test_same_serial_other_secret_is_refused),
        T(test_touch_timeout_changes_nothing),
        T(test_prompt_not_shown_sends_no_challenge),
        T(test_rotation_failure_changes_nothing),
        T(test_failed_commit_is_no_success),
        T(test_answer_to_replaced_challenge_is_stale),
        T(test_bad_responses_lock_out),
        T(test_decide_hwkey_pure),
        T(test_suspended_meanwhile_is_refused),
        T(test_factors_for_fallback),
        T(test_key_needs_no_totp_secret),
        T(test_damaged_credential_is_an_error),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
