/* Unit tests of lib/mz_totp.c. Every expected code comes from RFC 6238 Appendix B or
 * from liboath's generator, never from mnzone. */
#include "mz_test.h"

static const uint8_t *rfc_secret(void)
{
    return (const uint8_t *)MZT_RFC_SECRET;
}

/* RFC 6238 Appendix B, SHA-1, 8 digits, period 30. */
static const struct {
    int64_t t;
    const char *code;
} rfc_vectors[] = {
    {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
    {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
};

static void test_rfc6238_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc_vectors) / sizeof(rfc_vectors[0]); i++) {
        int64_t step = -7;
        enum mz_totp_result r = mz_totp_check(rfc_secret(), MZT_RFC_SECRET_LEN, rfc_vectors[i].code,
                                              rfc_vectors[i].t, 8, 30, 0, -1, &step);
        if (r != MZ_TOTP_OK)
            print_error("T=%lld: %s gave %d\n", (long long)rfc_vectors[i].t, rfc_vectors[i].code,
                        (int)r);
        assert_int_equal(r, MZ_TOTP_OK);
        assert_int_equal(step, rfc_vectors[i].t / 30);
    }
}

/* The same vectors one period later fall outside window 0. */
static void test_rfc6238_vectors_next_step(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc_vectors) / sizeof(rfc_vectors[0]); i++) {
        int64_t step = -7;
        assert_int_equal(mz_totp_check(rfc_secret(), MZT_RFC_SECRET_LEN, rfc_vectors[i].code,
                                       rfc_vectors[i].t + 30, 8, 30, 0, -1, &step),
                         MZ_TOTP_WRONG);
        /* ...but inside window 1, as the previous step. */
        assert_int_equal(mz_totp_check(rfc_secret(), MZT_RFC_SECRET_LEN, rfc_vectors[i].code,
                                       rfc_vectors[i].t + 30, 8, 30, 1, -1, &step),
                         MZ_TOTP_OK);
        assert_int_equal(step, rfc_vectors[i].t / 30);
    }
}

/* A time inside a step (not at its edge), and the codes of the steps around it. */
#define NOW ((int64_t)1700000025)
#define PERIOD 30u
#define STEP (NOW / PERIOD)

struct around {
    char code[5][16]; /* steps STEP-2 .. STEP+2 */
};

static void codes_around(const uint8_t *secret, size_t len, unsigned digits, struct around *a)
{
    for (int k = -2; k <= 2; k++)
        mzt_totp(secret, len, NOW + k * (int64_t)PERIOD, PERIOD, digits, a->code[k + 2]);
    /* The window tests below only mean something if the five codes differ. */
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            assert_string_not_equal(a->code[i], a->code[j]);
}

static enum mz_totp_result check6(const char *code, unsigned window, int64_t last_step,
                                  int64_t *step)
{
    return mz_totp_check(rfc_secret(), MZT_RFC_SECRET_LEN, code, NOW, 6, PERIOD, window, last_step,
                         step);
}

static void test_window_one(void **state)
{
    (void)state;
    struct around a;
    int64_t step = 0;
    codes_around(rfc_secret(), MZT_RFC_SECRET_LEN, 6, &a);
    assert_int_equal(check6(a.code[2], 1, -1, &step), MZ_TOTP_OK);
    assert_int_equal(step, STEP);
    assert_int_equal(check6(a.code[1], 1, -1, &step), MZ_TOTP_OK);
    assert_int_equal(step, STEP - 1);
    assert_int_equal(check6(a.code[3], 1, -1, &step), MZ_TOTP_OK);
    assert_int_equal(step, STEP + 1);
    assert_int_equal(check6(a.code[0], 1, -1, &step), MZ_TOTP_WRONG);
    assert_int_equal(check6(a.code[4], 1, -1, &step), MZ_TOTP_WRONG);
}

static void test_window_zero(void **state)
{
    (void)state;
    struct around a;
    int64_t step = 0;
    codes_around(rfc_secret(), MZT_RFC_SECRET_LEN, 6, &a);
    assert_int_equal(check6(a.code[2], 0, -1, &step), MZ_TOTP_OK);
    assert_int_equal(step, STEP);
    assert_int_equal(check6(a.code[1], 0, -1, &step), MZ_TOTP_WRONG);
    assert_int_equal(check6(a.code[3], 0, -1, &step), MZ_TOTP_WRONG);
    assert_int_equal(check6(a.code[0], 0, -1, &step), MZ_TOTP_WRONG);
    assert_int_equal(check6(a.code[4], 0, -1, &step), MZ_TOTP_WRONG);
}

static void test_window_two(void **state)
{
    (void)state;
    struct around a;
    int64_t step = 0;
    codes_around(rfc_secret(), MZT_RFC_SECRET_LEN, 6, &a);
    assert_int_equal(check6(a.code[0], 2, -1, &step), MZ_TOTP_OK);
    assert_int_equal(step, STEP - 2);
    assert_int_equal(check6(a.code[4], 2, -1, &step), MZ_TOTP_OK);
    assert_int_equal(step, STEP + 2);
}

/* The step changes exactly at multiples of the period. */
static void test_step_edges(void **state)
{
    (void)state;
    char code[16];
    int64_t step = 0;
    const int64_t edge = STEP * PERIOD; /* first second of STEP */
    mzt_totp(rfc_secret(), MZT_RFC_SECRET_LEN, edge, PERIOD, 6, code);
    assert_int_equal(
        mz_totp_check(rfc_secret(), MZT_RFC_SECRET_LEN, code, edge, 6, PERIOD, 0, -1, &step),
        MZ_TOTP_OK);
    assert_int_equal(step, STEP);
    assert_int_equal(
        mz_totp_check(rfc_secret(), MZT_RFC_SECRET_LEN, code, edge + 29, 6, PERIOD, 0, -1, &step),
        MZ_TOTP_OK);
    assert_int_equal(
        mz_totp_check(rfc_secret(), MZT_RFC_SECRET_LEN, code, edge - 1, 6, PERIOD, 0, -1, &step),
        MZ_TOTP_WRONG);
    assert_int_equal(
        mz_totp_check(rfc_secret(), MZT_RFC_SECRET_LEN, code, edge + 30, 6, PERIOD, 0, -1, &step),
        MZ_TOTP_WRONG);
}

static void test_other_period_and_digits(void **state)
{
    (void)state;
    char code[16];
    int64_t step = 0;
    mzt_totp(rfc_secret(), MZT_RFC_SECRET_LEN, NOW, 60, 8, code);
    assert_int_equal(
        mz_totp_check(rfc_secret(), MZT_RFC_SECRET_LEN, code, NOW, 8, 60, 0, -1, &step),
        MZ_TOTP_OK);
    assert_int_equal(step, NOW / 60);
    mzt_totp(rfc_secret(), MZT_RFC_SECRET_LEN, NOW, 30, 7, code);
    assert_int_equal(
        mz_totp_check(rfc_secret(), MZT_RFC_SECRET_LEN, code, NOW, 7, 30, 0, -1, &step),
        MZ_TOTP_OK);
    /* The secret counts: the same code under another secret is wrong. */
    static const char other[] = "12345678901234567891";
    mzt_totp(rfc_secret(), MZT_RFC_SECRET_LEN, NOW, 30, 6, code);
    assert_int_equal(mz_totp_check((const uint8_t *)other, 20, code, NOW, 6, 30, 1, -1, &step),
                     MZ_TOTP_WRONG);
}

static void test_replay(void **state)
{
    (void)state;
    struct around a;
    int64_t step = 0;
    codes_around(rfc_secret(), MZT_RFC_SECRET_LEN, 6, &a);
    /* The step of the code was accepted already. */
    assert_int_equal(check6(a.code[2], 1, STEP, &step), MZ_TOTP_REPLAY);
    /* A later step was accepted: an older code is a replay too. */
    assert_int_equal(check6(a.code[2], 1, STEP + 1, &step), MZ_TOTP_REPLAY);
    assert_int_equal(check6(a.code[1], 1, STEP, &step), MZ_TOTP_REPLAY);
    /* The step before was the last one: this code is new. */
    step = 0;
    assert_int_equal(check6(a.code[2], 1, STEP - 1, &step), MZ_TOTP_OK);
    assert_int_equal(step, STEP);
    /* A code of the next step after the current one was used. */
    step = 0;
    assert_int_equal(check6(a.code[3], 1, STEP, &step), MZ_TOTP_OK);
    assert_int_equal(step, STEP + 1);
    /* A wrong code is wrong, not a replay. */
    char wrong[16];
    mzt_wrong_totp(rfc_secret(), MZT_RFC_SECRET_LEN, NOW, PERIOD, 6, 1, wrong);
    assert_int_equal(check6(wrong, 1, STEP, &step), MZ_TOTP_WRONG);
}

static void test_malformed(void **state)
{
    (void)state;
    char right[16], with_space[20], with_newline[20], longer[20];
    int64_t step = 0;
    mzt_totp(rfc_secret(), MZT_RFC_SECRET_LEN, NOW, PERIOD, 6, right);
    assert_int_equal(check6(right, 1, -1, &step), MZ_TOTP_OK);
    snprintf(with_space, sizeof(with_space), "%s ", right);
    snprintf(with_newline, sizeof(with_newline), "%s\n", right);
    snprintf(longer, sizeof(longer), "%s0", right);
    char letter[16];
    snprintf(letter, sizeof(letter), "%s", right);
    letter[3] = 'a';
    char spaced[16] = {right[0], right[1], right[2], ' ', right[3], right[4], right[5], '\0'};
    const char *bad[] = {
        "",         "12345",      "1234567", "abcdef",  "12345a",       "12 456",
        " 12345",   "-12345",     "+12345",  "12345\t", "１２３４５６", "\xd9\xa1\xd9\xa2\xd9\xa3",
        with_space, with_newline, longer,    letter,    spaced,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum mz_totp_result r = check6(bad[i], 1, -1, &step);
        if (r != MZ_TOTP_MALFORMED)
            print_error("input %zu gave %d\n", i, (int)r);
        assert_int_equal(r, MZ_TOTP_MALFORMED);
        assert_false(mz_totp_well_formed(bad[i], 6));
    }
    assert_int_equal(check6(NULL, 1, -1, &step), MZ_TOTP_MALFORMED);
    assert_false(mz_totp_well_formed(NULL, 6));
    /* The right 6 digits when 8 are configured. */
    assert_int_equal(
        mz_totp_check(rfc_secret(), MZT_RFC_SECRET_LEN, right, NOW, 8, PERIOD, 1, -1, &step),
        MZ_TOTP_MALFORMED);
    assert_true(mz_totp_well_formed("000000", 6));
    assert_true(mz_totp_well_formed("99999999", 8));
    assert_false(mz_totp_well_formed("99999999", 6));
}

/* RFC 4648 section 10, without the padding. */
static const struct {
    const char *plain;
    const char *b32;
    const char *b32_padded;
} rfc4648[] = {
    {"", "", ""},
    {"f", "MY", "MY======"},
    {"fo", "MZXQ", "MZXQ===="},
    {"foo", "MZXW6", "MZXW6==="},
    {"foob", "MZXW6YQ", "MZXW6YQ="},
    {"fooba", "MZXW6YTB", "MZXW6YTB"},
    {"foobar", "MZXW6YTBOI", "MZXW6YTBOI======"},
};

static void test_base32_rfc4648(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        const char *plain = rfc4648[i].plain;
        size_t n = strlen(plain);
        char enc[MZ_BASE32_LEN(8)];
        memset(enc, 'Z', sizeof(enc));
        mz_base32_encode((const uint8_t *)plain, n, enc);
        assert_string_equal(enc, rfc4648[i].b32);
        assert_true(strlen(enc) < MZ_BASE32_LEN(n));

        uint8_t dec[16];
        size_t len = 99;
        assert_true(mz_base32_decode(rfc4648[i].b32, dec, sizeof(dec), &len));
        assert_int_equal(len, n);
        assert_memory_equal(dec, plain, n);
        len = 99;
        assert_true(mz_base32_decode(rfc4648[i].b32_padded, dec, sizeof(dec), &len));
        assert_int_equal(len, n);
        assert_memory_equal(dec, plain, n);
    }
    char enc[MZ_BASE32_LEN(20)];
    mz_base32_encode(rfc_secret(), MZT_RFC_SECRET_LEN, enc);
    assert_string_equal(enc, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

static void test_base32_lenient_input(void **state)
{
    (void)state;
    uint8_t dec[16];
    size_t len = 0;
    const char *same[] = {"mzxw6ytboi",   "MzXw6YtBoI",   "MZXW 6YTB OI",
                          "mzxw-6ytb-oi", " MZXW6YTBOI ", "MZXW6YTBOI======"};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        len = 0;
        memset(dec, 0, sizeof(dec));
        assert_true(mz_base32_decode(same[i], dec, sizeof(dec), &len));
        assert_int_equal(len, 6);
        assert_memory_equal(dec, "foobar", 6);
    }
}

static void test_base32_refuses(void **state)
{
    (void)state;
    uint8_t dec[16];
    size_t len = 99;
    const char *bad[] = {"MZXW6YTBO1",  "MZXW6YTBO0", "MZXW6YTBO8", "MZXW6YTBO9",   "MZXW6YTB!I",
                         "MZXW6YTB\tI", "MZXW6YTB.I", "MZXW6YTBOÅ", "MZXW6YTB\nOI", "MZXW6_TBOI"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        len = 99;
        if (mz_base32_decode(bad[i], dec, sizeof(dec), &len))
            print_error("\"%s\" was accepted\n", bad[i]);
        assert_false(mz_base32_decode(bad[i], dec, sizeof(dec), &len));
    }
    /* Six bytes do not fit in five; they fit in six. */
    assert_false(mz_base32_decode("MZXW6YTBOI", dec, 5, &len));
    assert_true(mz_base32_decode("MZXW6YTBOI", dec, 6, &len));
    assert_int_equal(len, 6);
    /* A secret longer than the largest we keep. */
    uint8_t big[MZ_SECRET_MAX + 1];
    char enc[MZ_BASE32_LEN(sizeof(big))];
    memset(big, 0x42, sizeof(big));
    mz_base32_encode(big, sizeof(big), enc);
    uint8_t out[MZ_SECRET_MAX];
    assert_false(mz_base32_decode(enc, out, sizeof(out), &len));
}

/* Round trips of every length up to the largest secret, checked against liboath's
 * encoder (which pads with '='). */
static void test_base32_round_trip(void **state)
{
    (void)state;
    assert_int_equal(oath_init(), OATH_OK);
    for (size_t n = 1; n <= MZ_SECRET_MAX; n++) {
        uint8_t data[MZ_SECRET_MAX], back[MZ_SECRET_MAX];
        char enc[MZ_BASE32_LEN(MZ_SECRET_MAX)];
        randombytes_buf(data, n);
        mz_base32_encode(data, n, enc);
        assert_int_equal(strlen(enc), (n * 8 + 4) / 5);

        char *theirs = NULL;
        size_t theirs_len = 0;
        assert_int_equal(oath_base32_encode((const char *)data, n, &theirs, &theirs_len), OATH_OK);
        size_t unpadded = strcspn(theirs, "=");
        assert_int_equal(unpadded, strlen(enc));
        assert_memory_equal(theirs, enc, unpadded);
        free(theirs);

        size_t len = 0;
        assert_true(mz_base32_decode(enc, back, sizeof(back), &len));
        assert_int_equal(len, n);
        assert_memory_equal(back, data, n);
    }
}

/* The value of query parameter NAME in URI, or NULL; fails if it appears twice. */
static char *query_param(const char *uri, const char *name, char *buf, size_t len)
{
    const char *q = strchr(uri, '?');
    assert_non_null(q);
    char *found = NULL;
    size_t nlen = strlen(name);
    for (const char *p = q + 1; *p != '\0';) {
        const char *end = strchr(p, '&');
        size_t plen = end != NULL ? (size_t)(end - p) : strlen(p);
        if (plen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            assert_null(found);
            assert_true(plen - nlen - 1 < len);
            memcpy(buf, p + nlen + 1, plen - nlen - 1);
            buf[plen - nlen - 1] = '\0';
            found = buf;
        }
        p += plen + (end != NULL ? 1 : 0);
    }
    return found;
}

static void test_otpauth_uri(void **state)
{
    (void)state;
    char *uri = NULL;
    char buf[256];
    assert_int_equal(
        mz_otpauth_uri("岩手県", "taro", rfc_secret(), MZT_RFC_SECRET_LEN, 8, 60, &uri), MZ_OK);
    assert_non_null(uri);
    /* Printable ASCII only: a QR code in byte mode and every app read it the same. */
    for (const char *p = uri; *p != '\0'; p++)
        assert_true(*p > 0x20 && *p < 0x7f);

    static const char label[] = "otpauth://totp/%E5%B2%A9%E6%89%8B%E7%9C%8C:taro?";
    assert_int_equal(strncmp(uri, label, strlen(label)), 0);
    assert_string_equal(query_param(uri, "secret", buf, sizeof(buf)),
                        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_string_equal(query_param(uri, "issuer", buf, sizeof(buf)),
                        "%E5%B2%A9%E6%89%8B%E7%9C%8C");
    assert_string_equal(query_param(uri, "algorithm", buf, sizeof(buf)), "SHA1");
    assert_string_equal(query_param(uri, "digits", buf, sizeof(buf)), "8");
    assert_string_equal(query_param(uri, "period", buf, sizeof(buf)), "60");
    mz_free_string(uri);
}

/* Characters that mean something in a URI are encoded, in the label and the query. */
static void test_otpauth_uri_escapes(void **state)
{
    (void)state;
    char *uri = NULL;
    char buf[256];
    assert_int_equal(mz_otpauth_uri("Town & City?#", "taro@example", rfc_secret(),
                                    MZT_RFC_SECRET_LEN, 6, 30, &uri),
                     MZ_OK);
    static const char label[] = "otpauth://totp/Town%20%26%20City%3F%23:taro%40example?";
    assert_int_equal(strncmp(uri, label, strlen(label)), 0);
    assert_string_equal(query_param(uri, "issuer", buf, sizeof(buf)), "Town%20%26%20City%3F%23");
    assert_string_equal(query_param(uri, "digits", buf, sizeof(buf)), "6");
    assert_string_equal(query_param(uri, "period", buf, sizeof(buf)), "30");
    assert_null(strchr(uri, '#'));
    assert_null(strchr(uri, ' '));
    mz_free_string(uri);

    /* The longest issuer the configuration allows, all multi-byte, still fits. */
    char issuer[255 - 255 % 3 + 1];
    for (size_t i = 0; i + 3 < sizeof(issuer); i += 3)
        memcpy(issuer + i, "県", 3);
    issuer[sizeof(issuer) - 1] = '\0';
    assert_int_equal(mz_otpauth_uri(issuer, "abcdefghijklmnopqrstuvwxyz012345", rfc_secret(),
                                    MZT_RFC_SECRET_LEN, 8, 300, &uri),
                     MZ_OK);
    assert_string_equal(query_param(uri, "period", buf, sizeof(buf)), "300");
    mz_free_string(uri);

    uint8_t big[MZ_SECRET_MAX + 1] = {0};
    uri = NULL;
    assert_int_equal(mz_otpauth_uri("mnzone", "taro", big, sizeof(big), 6, 30, &uri), MZ_ERR_INPUT);
    assert_null(uri);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6238_vectors),
        cmocka_unit_test(test_rfc6238_vectors_next_step),
        cmocka_unit_test(test_window_one),
        cmocka_unit_test(test_window_zero),
        cmocka_unit_test(test_window_two),
        cmocka_unit_test(test_step_edges),
        cmocka_unit_test(test_other_period_and_digits),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_base32_rfc4648),
        cmocka_unit_test(test_base32_lenient_input),
        cmocka_unit_test(test_base32_refuses),
        cmocka_unit_test(test_base32_round_trip),
        cmocka_unit_test(test_otpauth_uri),
        cmocka_unit_test(test_otpauth_uri_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
