/* ykshim-selftest.c - drives the real libykpers-1 against the emulated
 * YubiKey of ykshim.so (run with LD_PRELOAD=ykshim.so) and prints TAP.
 * Expected answers come from nettle and a published test vector, never from
 * the shim or libykpers. */
#define _GNU_SOURCE
#include <dirent.h>
#include <nettle/hmac.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <ykcore.h>
#include <ykdef.h>
#include <ykpers.h>
#include <ykstatus.h>

#define KEY20_SIZE 20
#define CHALLENGE_LEN 63 /* the product's challenge; the 64th byte is the LT64 pad */
#define RESPONSE_BUF 64

static int tests_run, tests_failed;
static char dir[64], state_path[128];

static void check(bool ok, const char *what)
{
    printf("%s %d - %s\n", ok ? "ok" : "not ok", ++tests_run, what);
    if (!ok)
        tests_failed++;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void to_hex(const unsigned char *buf, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02x", buf[i]);
    out[2 * len] = '\0';
}

static void write_state(const char *text)
{
    FILE *f = fopen(state_path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(state_path);
        exit(99);
    }
}

/* Reads the file the shim wrote; returns the whole text (caller frees). */
static char *read_state(void)
{
    FILE *f = fopen(state_path, "r");
    char *text = calloc(1, 4096);
    if (f == NULL || text == NULL) {
        perror(state_path);
        exit(99);
    }
    size_t n = fread(text, 1, 4095, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* The value of key in the state file, "" if absent. */
static void state_get(const char *key, char *value, size_t size)
{
    char *text = read_state();
    size_t klen = strlen(key);
    value[0] = '\0';
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strncmp(line, key, klen) == 0 && line[klen] == '=')
            snprintf(value, size, "%s", line + klen + 1);
    }
    free(text);
}

static bool state_is(const char *key, const char *expected)
{
    char value[256];
    state_get(key, value, sizeof(value));
    return strcmp(value, expected) == 0;
}

/* Replaces (or appends) one key, keeping what the shim recorded. */
static void state_set(const char *key, const char *value)
{
    char *text = read_state();
    char *out = calloc(1, 8192);
    size_t klen = strlen(key);
    if (out == NULL)
        exit(99);
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (!(strncmp(line, key, klen) == 0 && line[klen] == '='))
            sprintf(out + strlen(out), "%s\n", line);
    }
    sprintf(out + strlen(out), "%s=%s\n", key, value);
    write_state(out);
    free(out);
    free(text);
}

static void expected_hmac(const unsigned char *key, const unsigned char *msg, size_t len,
                          unsigned char *digest)
{
    struct hmac_sha1_ctx ctx;
    hmac_sha1_set_key(&ctx, KEY20_SIZE, key);
    hmac_sha1_update(&ctx, len, msg);
    hmac_sha1_digest(&ctx, SHA1_DIGEST_SIZE, digest);
}

/* The way the product programs a slot for HMAC-SHA1 challenge-response. */
static bool program(YK_KEY *yk, int slot, const unsigned char *key, bool lt64, bool touch)
{
    YK_STATUS *st = ykds_alloc();
    YKP_CONFIG *cfg = ykp_alloc();
    bool ok = st != NULL && cfg != NULL && yk_get_status(yk, st) &&
              ykp_configure_for(cfg, slot, st) && ykp_clear_config(cfg) &&
              ykp_set_tktflag_CHAL_RESP(cfg, true) && ykp_set_cfgflag_CHAL_HMAC(cfg, true) &&
              ykp_set_cfgflag_HMAC_LT64(cfg, lt64) && ykp_set_cfgflag_CHAL_BTN_TRIG(cfg, touch) &&
              ykp_set_extflag_SERIAL_API_VISIBLE(cfg, true) &&
              ykp_HMAC_key_from_raw(cfg, (const char *)key) == 0 &&
              yk_write_command(yk, ykp_core_config(cfg), (uint8_t)ykp_command(cfg), NULL);
    ykp_free_config(cfg);
    ykds_free(st);
    return ok;
}

/* One challenge-response; true if the call succeeded and, when want is
 * given, the first 20 bytes equal it. */
static bool challenge(YK_KEY *yk, uint8_t cmd, int may_block, const unsigned char *chal,
                      unsigned len, const unsigned char *want, unsigned char *resp)
{
    unsigned char buf[RESPONSE_BUF];
    if (!yk_challenge_response(yk, cmd, may_block, len, chal, sizeof(buf), buf))
        return false;
    if (resp != NULL)
        memcpy(resp, buf, SHA1_DIGEST_SIZE);
    return want == NULL || memcmp(buf, want, SHA1_DIGEST_SIZE) == 0;
}

static bool fails_with(bool call_ok, int want_errno)
{
    int got = yk_errno;
    if (call_ok || got != want_errno)
        printf("# call %s, yk_errno %d (%s), wanted %d\n", call_ok ? "succeeded" : "failed", got,
               yk_strerror(got), want_errno);
    return !call_ok && got == want_errno;
}

static void test_absent(void)
{
    unsetenv("MZ_YKSHIM_STATE");
    check(fails_with(yk_open_first_key() != NULL, YK_ENOKEY),
          "MZ_YKSHIM_STATE unset: no key, YK_ENOKEY");
    setenv("MZ_YKSHIM_STATE", state_path, 1);
    write_state("present=0\n");
    check(fails_with(yk_open_first_key() != NULL, YK_ENOKEY), "present=0: no key, YK_ENOKEY");
    printf("# an 'unknown key' message from the shim follows, as intended\n");
    write_state("present=1\nbogus=1\n");
    check(fails_with(yk_open_first_key() != NULL, YK_ENOKEY),
          "unknown key in the state file: no key");
}

static void test_open_fails(const char *mode, int want, const char *what)
{
    state_set("fail", mode);
    check(fails_with(yk_open_first_key() != NULL, want), what);
    state_set("fail", "none");
}

static YK_KEY *test_open(void)
{
    write_state("# a fresh key\npresent=1\nserial=4711001  # as on the label\nversion=5.4.3\n");
    YK_KEY *yk = yk_open_first_key();
    check(yk != NULL, "yk_open_first_key finds the emulated key");
    if (yk == NULL) {
        printf("# yk_errno %d\n", yk_errno);
        printf("1..%d\n", tests_run);
        exit(1);
    }
    YK_STATUS *st = ykds_alloc();
    check(yk_get_status(yk, st) && ykds_version_major(st) == 5 && ykds_version_minor(st) == 4 &&
              ykds_version_build(st) == 3 && ykds_pgm_seq(st) == 0 && ykds_touch_level(st) == 0,
          "status: version 5.4.3, nothing programmed");
    ykds_free(st);
    unsigned int serial = 0;
    check(yk_get_serial(yk, 0, 0, &serial) && serial == 4711001, "yk_get_serial reads 4711001");
    return yk;
}

static void test_program(YK_KEY *yk, const unsigned char *key)
{
    char hex[2 * KEY20_SIZE + 1];
    check(program(yk, 2, key, true, false), "slot 2 programmed for HMAC-SHA1 (LT64, no touch)");
    to_hex(key, KEY20_SIZE, hex);
    check(state_is("slot2", hex), "the key the shim recorded equals key20");
    check(state_is("slot2_lt64", "1") && state_is("slot2_touch", "0") &&
              state_is("programmed", "1") && state_is("slot1", ""),
          "state file: slot2_lt64=1, slot2_touch=0, programmed=1");
    YK_STATUS *st = ykds_alloc();
    check(yk_get_status(yk, st) && ykds_pgm_seq(st) != 0 &&
              (ykds_touch_level(st) & (CONFIG1_VALID | CONFIG2_VALID)) == CONFIG2_VALID,
          "status: programming sequence moved, slot 2 valid");
    ykds_free(st);
}

static void test_challenge(YK_KEY *yk, const unsigned char *key)
{
    unsigned char chal[CHALLENGE_LEN], want[SHA1_DIGEST_SIZE], got[SHA1_DIGEST_SIZE];
    char hex[2 * CHALLENGE_LEN + 1];
    for (size_t i = 0; i < sizeof(chal); i++)
        chal[i] = (unsigned char)(0xa5 ^ (i * 7)) | 1; /* no zero byte: all 63 are hashed */
    expected_hmac(key, chal, sizeof(chal), want);
    check(challenge(yk, SLOT_CHAL_HMAC2, 1, chal, sizeof(chal), want, got),
          "63-byte challenge: response is HMAC-SHA1(key20, challenge)");
    to_hex(chal, sizeof(chal), hex);
    check(state_is("challenges", "1") && state_is("last_challenge", hex),
          "state file: challenges=1, last_challenge is the challenge");
    to_hex(got, sizeof(got), hex);
    check(state_is("last_response", hex), "state file: last_response is the response");

    memset(chal + 40, 0, sizeof(chal) - 40);
    expected_hmac(key, chal, 40, want);
    check(challenge(yk, SLOT_CHAL_HMAC2, 0, chal, sizeof(chal), want, NULL),
          "LT64: trailing bytes equal to the pad are not hashed");
}

/* NIST PUB 198 A.2 as in ykchalresp(1): an answer known without any HMAC code. */
static void test_known_answer(YK_KEY *yk)
{
    static const unsigned char nist_key[KEY20_SIZE] = "0123456789:;<=>?@ABC";
    static const unsigned char nist_mac[SHA1_DIGEST_SIZE] = {
        0x09, 0x22, 0xd3, 0x40, 0x5f, 0xaa, 0x3d, 0x19, 0x4f, 0x82,
        0xa4, 0x58, 0x30, 0x73, 0x7d, 0x5c, 0xc6, 0xc7, 0x5d, 0x24};
    check(program(yk, 1, nist_key, true, false) &&
              challenge(yk, SLOT_CHAL_HMAC1, 0, (const unsigned char *)"Sample #2", 9, nist_mac,
                        NULL),
          "slot 1: NIST 'Sample #2' gives 0922d340...c75d24");

    unsigned char chal[64], want[SHA1_DIGEST_SIZE];
    for (size_t i = 0; i < sizeof(chal); i++)
        chal[i] = (unsigned char)i;
    expected_hmac(nist_key, chal, sizeof(chal), want);
    check(program(yk, 1, nist_key, false, false) && state_is("slot1_lt64", "0") &&
              challenge(yk, SLOT_CHAL_HMAC1, 0, chal, sizeof(chal), want, NULL),
          "slot 1 without LT64: all 64 bytes are hashed");
    chal[63] = 0;
    expected_hmac(nist_key, chal, sizeof(chal), want);
    check(challenge(yk, SLOT_CHAL_HMAC1, 0, chal, 63, want, NULL),
          "without LT64 a 63-byte challenge is hashed with its zero pad");
}

static void test_touch(YK_KEY *yk, const unsigned char *key)
{
    unsigned char chal[CHALLENGE_LEN], want[SHA1_DIGEST_SIZE];
    memset(chal, 0x5a, sizeof(chal));
    expected_hmac(key, chal, sizeof(chal), want);
    check(program(yk, 2, key, true, true) && state_is("slot2_touch", "1"),
          "slot 2 reprogrammed with CHAL_BTN_TRIG: slot2_touch=1");

    state_set("touch", "pending:3");
    double t0 = now();
    check(challenge(yk, SLOT_CHAL_HMAC2, 1, chal, sizeof(chal), want, NULL) && now() - t0 < 1.0,
          "touch pending then given, may_block=1: correct response, no real wait");
    check(fails_with(challenge(yk, SLOT_CHAL_HMAC2, 0, chal, sizeof(chal), NULL, NULL),
                     YK_EWOULDBLOCK),
          "touch pending, may_block=0: YK_EWOULDBLOCK");

    state_set("touch", "never");
    t0 = now();
    bool timed_out =
        fails_with(challenge(yk, SLOT_CHAL_HMAC2, 1, chal, sizeof(chal), NULL, NULL), YK_ETIMEOUT);
    double took = now() - t0;
    printf("# touch=never took %.3f s of wall time\n", took);
    check(timed_out && took < 2.0, "touch never given: YK_ETIMEOUT in under 2 s");

    state_set("touch", "immediate");
    check(challenge(yk, SLOT_CHAL_HMAC2, 0, chal, sizeof(chal), want, NULL),
          "touch=immediate on a touch slot: the key answers again at once");
}

static void test_erase(YK_KEY *yk)
{
    unsigned char chal[CHALLENGE_LEN] = {1};
    check(yk_write_command(yk, NULL, SLOT_CONFIG, NULL) && state_is("slot1", ""),
          "an empty configuration erases slot 1");
    check(
        fails_with(challenge(yk, SLOT_CHAL_HMAC1, 0, chal, sizeof(chal), NULL, NULL), YK_ETIMEOUT),
        "challenge to an empty slot: YK_ETIMEOUT");

    YK_STATUS *st = ykds_alloc();
    YKP_CONFIG *cfg = ykp_alloc();
    bool written = yk_get_status(yk, st) && ykp_configure_for(cfg, 1, st) &&
                   yk_write_command(yk, ykp_core_config(cfg), (uint8_t)ykp_command(cfg), NULL);
    check(fails_with(written, YK_EWRITEERR) && state_is("slot1", ""),
          "a Yubico OTP configuration is refused: YK_EWRITEERR");
    ykp_free_config(cfg);
    ykds_free(st);
}

static void test_replay(YK_KEY *yk, const unsigned char *key)
{
    unsigned char chal[CHALLENGE_LEN], right[SHA1_DIGEST_SIZE], got[SHA1_DIGEST_SIZE];
    char last[64], hex[64];
    memset(chal, 0x33, sizeof(chal));
    expected_hmac(key, chal, sizeof(chal), right);
    state_get("last_response", last, sizeof(last));
    state_set("replay", "1");
    check(challenge(yk, SLOT_CHAL_HMAC2, 0, chal, sizeof(chal), NULL, got), "replay=1: answered");
    to_hex(got, sizeof(got), hex);
    check(strcmp(hex, last) == 0 && memcmp(got, right, sizeof(got)) != 0,
          "replay=1: the answer is last_response, not the HMAC of the new challenge");
    state_set("replay", "0");
}

static void test_faults(YK_KEY *yk)
{
    unsigned char chal[CHALLENGE_LEN] = {7};
    char count[32], nth[32];
    unsigned long done;
    state_get("challenges", count, sizeof(count));
    done = strtoul(count, NULL, 10);
    snprintf(nth, sizeof(nth), "challenge:%lu", done + 1);
    state_set("fail", nth);
    check(fails_with(challenge(yk, SLOT_CHAL_HMAC2, 0, chal, sizeof(chal), NULL, NULL), YK_EUSBERR),
          "fail=challenge:N: the Nth challenge gives YK_EUSBERR");
    check(challenge(yk, SLOT_CHAL_HMAC2, 0, chal, sizeof(chal), NULL, NULL),
          "fail=challenge:N: the next one succeeds");
    snprintf(count, sizeof(count), "%lu", done + 2);
    check(state_is("challenges", count), "both challenges were counted");

    state_set("fail", "transfer");
    check(fails_with(challenge(yk, SLOT_CHAL_HMAC2, 0, chal, sizeof(chal), NULL, NULL), YK_EUSBERR),
          "fail=transfer on an open key: YK_EUSBERR");
    state_set("fail", "claim");
    check(fails_with(challenge(yk, SLOT_CHAL_HMAC2, 0, chal, sizeof(chal), NULL, NULL), YK_EUSBERR),
          "fail=claim on an open key: YK_EUSBERR");
    state_set("fail", "none");
    state_set("present", "0");
    check(fails_with(challenge(yk, SLOT_CHAL_HMAC2, 0, chal, sizeof(chal), NULL, NULL), YK_EUSBERR),
          "key pulled out while open: YK_EUSBERR");
    state_set("present", "1");
}

static void test_files(void)
{
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
        entries += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    check(entries == 2, "only the state file and its lock are left (no temporary files)");

    double t0 = now();
    usleep(100000);
    check(now() - t0 >= 0.09, "usleep from outside libykpers still sleeps");
}

static void remove_dir(void)
{
    char path[192];
    snprintf(path, sizeof(path), "%s.lock", state_path);
    unlink(path);
    unlink(state_path);
    rmdir(dir);
}

int main(void)
{
    static const unsigned char key20[KEY20_SIZE] = {0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc,
                                                    0xfe, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
                                                    0xcd, 0xef, 0xf0, 0xe1, 0xd2, 0xc3};
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/ykshim-selftest.XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 99;
    }
    snprintf(state_path, sizeof(state_path), "%s/state", dir);

    check(yk_init(), "yk_init");
    test_absent();
    YK_KEY *yk = test_open();
    test_program(yk, key20);
    test_challenge(yk, key20);
    test_known_answer(yk);
    test_touch(yk, key20);
    test_erase(yk);
    test_replay(yk, key20);
    test_faults(yk);
    yk_close_key(yk);
    test_open_fails("open", YK_EUSBERR, "fail=open: no key, YK_EUSBERR");
    test_open_fails("claim", YK_EUSBERR, "fail=claim: no key, YK_EUSBERR");
    test_open_fails("transfer", YK_EUSBERR, "fail=transfer: no key, YK_EUSBERR");
    test_files();
    check(yk_release(), "yk_release");

    remove_dir();
    printf("1..%d\n", tests_run);
    return tests_failed == 0 ? 0 : 1;
}
