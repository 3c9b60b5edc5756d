/* Unit tests of lib/mz_proto.c: mnzoned's messages. Building, parsing (every malformed
 * form refused), numbers, the attempt and configuration fields, the typed code as hex,
 * and the frames over a socket pair. */
#include "mz_test.h"

#include "mz_proto.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

static void parse_ok(struct mz_msg *m, const char *buf, size_t len)
{
    mz_err e = {""};
    int rc = mz_msg_parse(m, buf, len, &e);
    if (rc != MZ_OK)
        print_error("refused: %s\n", e.msg);
    assert_int_equal(rc, MZ_OK);
}

static void parse_bad(const char *buf, size_t len)
{
    struct mz_msg m;
    mz_err e = {""};
    assert_int_equal(mz_msg_parse(&m, buf, len, &e), MZ_ERR_INPUT);
    assert_int_equal(m.fields, 0); /* wiped */
}

static void test_build_and_get(void **state)
{
    (void)state;
    struct mz_msg m;
    mz_msg_init(&m);
    assert_true(mz_msg_add(&m, "op", "status"));
    assert_true(mz_msg_add(&m, "user", "alice"));
    assert_true(mz_msg_add(&m, "empty", ""));
    assert_true(mz_msg_add(&m, "eq", "a=b=c"));
    assert_true(mz_msg_add_int(&m, "now", -42));
    assert_string_equal(mz_msg_get(&m, "op"), "status");
    assert_string_equal(mz_msg_get(&m, "user"), "alice");
    assert_string_equal(mz_msg_get(&m, "empty"), "");
    assert_string_equal(mz_msg_get(&m, "eq"), "a=b=c");
    assert_null(mz_msg_get(&m, "nope"));
    int64_t v = 0;
    assert_true(mz_msg_get_int(&m, "now", -100, 100, &v));
    assert_int_equal(v, -42);
    assert_false(mz_msg_get_int(&m, "now", 0, 100, &v)); /* out of range */
    assert_false(mz_msg_get_int(&m, "user", INT64_MIN, INT64_MAX, &v));
    assert_false(mz_msg_get_int(&m, "empty", INT64_MIN, INT64_MAX, &v));
    assert_false(mz_msg_get_int(&m, "nope", INT64_MIN, INT64_MAX, &v));
}

static void test_add_refuses(void **state)
{
    (void)state;
    struct mz_msg m;
    mz_msg_init(&m);
    assert_true(mz_msg_add(&m, "a", "1"));
    assert_false(mz_msg_add(&m, "a", "2"));      /* twice */
    assert_false(mz_msg_add(&m, "", "x"));       /* empty key */
    assert_false(mz_msg_add(&m, "Key", "x"));    /* [a-z_] only */
    assert_false(mz_msg_add(&m, "k=", "x"));     /* '=' in the key */
    assert_false(mz_msg_add(&m, "tab", "a\tb")); /* control character */
    assert_false(mz_msg_add(&m, "del", "a\x7f"));
    assert_string_equal(mz_msg_get(&m, "a"), "1");
    assert_int_equal(m.fields, 1);
    /* full: the last field that fits is kept, the next refused */
    char big[1000];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    int added = 0;
    char key[8];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "k_%c", 'a' + i);
        added += mz_msg_add(&m, key, big);
    }
    assert_int_equal(added, 4); /* 4 * 1004 bytes fit in 4096 with "a=1" */
    assert_true(m.len <= MZ_PROTO_MAX);
}

static void test_too_many_fields(void **state)
{
    (void)state;
    struct mz_msg m;
    char key[8];
    mz_msg_init(&m);
    for (int i = 0; i < MZ_PROTO_FIELDS; i++) {
        snprintf(key, sizeof(key), "k_%c%c", 'a' + i / 26, 'a' + i % 26);
        assert_true(mz_msg_add(&m, key, "v"));
    }
    assert_false(mz_msg_add(&m, "one_more", "v"));
}

static void test_parse_good(void **state)
{
    (void)state;
    struct mz_msg m;
    static const char wire[] = "op=attempt\0user=alice\0input=\0note=x=y";
    parse_ok(&m, wire, sizeof(wire)); /* with its final NUL */
    assert_int_equal(m.fields, 4);
    assert_string_equal(mz_msg_get(&m, "op"), "attempt");
    assert_string_equal(mz_msg_get(&m, "input"), "");
    assert_string_equal(mz_msg_get(&m, "note"), "x=y");
    parse_ok(&m, "", 0); /* empty: no fields */
    assert_int_equal(m.fields, 0);
}

static void test_parse_malformed(void **state)
{
    (void)state;
    parse_bad("op=status", 9);      /* no final NUL */
    parse_bad("op=status\0\0", 11); /* an empty field */
    parse_bad("opstatus\0", 9);     /* no '=' */
    parse_bad("=status\0", 8);      /* empty key */
    parse_bad("Op=status\0", 10);   /* upper case */
    parse_bad("op=a\0op=b\0", 10);  /* twice */
    parse_bad("op=a\nb\0", 7);      /* control character */
    parse_bad("op=\x1b[2J\0", 8);   /* escape sequence */
    char big[MZ_PROTO_MAX + 2];
    memset(big, 'a', sizeof(big));
    big[0] = 'k';
    big[1] = '=';
    big[sizeof(big) - 1] = '\0';
    parse_bad(big, sizeof(big)); /* longer than a message */
    char many[MZ_PROTO_FIELDS * 6 + 6];
    size_t at = 0;
    for (int i = 0; i <= MZ_PROTO_FIELDS; i++)
        at +=
            (size_t)snprintf(many + at, sizeof(many) - at, "k%c%c=\1", 'a' + i / 26, 'a' + i % 26) -
            1 + 1;
    for (size_t i = 0; i < at; i++)
        if (many[i] == '\1')
            many[i] = '\0';
    parse_bad(many, at); /* one field too many */
}

static void test_input_hex(void **state)
{
    (void)state;
    struct mz_msg m;
    char got[MZ_PROTO_INPUT_CAP];
    /* anything a conversation may return survives: spaces, full-width digits, controls */
    const char *inputs[] = {"123456", "", "ABCD 1234", "１２３４５６", "12\t34\x1b", "\xff\x01"};
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        mz_msg_init(&m);
        assert_true(mz_proto_put_input(&m, inputs[i]));
        assert_true(mz_proto_get_input(&m, got));
        assert_string_equal(got, inputs[i]);
    }
    /* longer than any code: cut after MZ_INPUT_MAX + 1 bytes, still too long */
    char long_input[300];
    memset(long_input, '7', sizeof(long_input) - 1);
    long_input[sizeof(long_input) - 1] = '\0';
    mz_msg_init(&m);
    assert_true(mz_proto_put_input(&m, long_input));
    assert_true(mz_proto_get_input(&m, got));
    assert_int_equal(strlen(got), MZ_INPUT_MAX + 1);
    /* malformed hex is refused, and so is a NUL inside */
    const char *bad[] = {"abc", "zz", "00", "4100", "4G"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mz_msg_init(&m);
        assert_true(mz_msg_add(&m, "input", bad[i]));
        assert_false(mz_proto_get_input(&m, got));
    }
    mz_msg_init(&m);
    assert_false(mz_proto_get_input(&m, got)); /* absent */
    char too_long[2 * (MZ_INPUT_MAX + 2) + 1];
    memset(too_long, 'a', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    assert_true(mz_msg_add(&m, "input", too_long));
    assert_false(mz_proto_get_input(&m, got));
    /* what was decoded before the bad part is wiped: it is part of a typed code */
    static const char *const spoilt[] = {"313233343536zz", "3132333400"};
    for (size_t i = 0; i < sizeof(spoilt) / sizeof(spoilt[0]); i++) {
        char zero[MZ_PROTO_INPUT_CAP];
        memset(zero, 0, sizeof(zero));
        memset(got, 0, sizeof(got));
        mz_msg_init(&m);
        assert_true(mz_msg_add(&m, "input", spoilt[i]));
        assert_false(mz_proto_get_input(&m, got));
        assert_memory_equal(got, zero, sizeof(got));
    }
}

static void test_attempt_round_trip(void **state)
{
    (void)state;
    struct mz_msg m, back;
    struct mz_attempt a = {.user = "alice",
                           .service = "sshd",
                           .host = "term-01",
                           .tty = "ssh",
                           .rhost = "10.0.0.5",
                           .privileged = true,
                           .now = 1795000000,
                           .method = "yubikey"};
    struct mz_attempt got;
    mz_msg_init(&m);
    assert_true(mz_proto_put_attempt(&m, &a));
    /* over the wire form: parse what send would write */
    char wire[MZ_PROTO_MAX];
    memcpy(wire, m.buf, m.len);
    for (unsigned i = 0; i < m.fields; i++)
        wire[m.value[i] - 1 - m.buf] = '=';
    parse_ok(&back, wire, m.len);
    assert_true(mz_proto_get_attempt(&back, &got));
    assert_string_equal(got.user, "alice");
    assert_string_equal(got.service, "sshd");
    assert_string_equal(got.host, "term-01");
    assert_string_equal(got.tty, "ssh");
    assert_string_equal(got.rhost, "10.0.0.5");
    assert_true(got.privileged);
    assert_int_equal(got.now, 1795000000);
    assert_null(got.actor);
    assert_string_equal(got.method, "yubikey");

    /* a bad user name, a missing time or a privileged flag of 2 is refused */
    mz_msg_init(&m);
    assert_true(mz_msg_add(&m, "user", "-rf"));
    assert_true(mz_msg_add(&m, "privileged", "0"));
    assert_true(mz_msg_add(&m, "now", "1"));
    assert_false(mz_proto_get_attempt(&m, &got));
    mz_msg_init(&m);
    assert_true(mz_msg_add(&m, "user", "bob"));
    assert_true(mz_msg_add(&m, "privileged", "2"));
    assert_true(mz_msg_add(&m, "now", "1"));
    assert_false(mz_proto_get_attempt(&m, &got));
    mz_msg_init(&m);
    assert_true(mz_msg_add(&m, "user", "bob"));
    assert_true(mz_msg_add(&m, "privileged", "0"));
    assert_false(mz_proto_get_attempt(&m, &got));
    assert_true(mz_msg_add(&m, "now", "1"));
    assert_true(mz_proto_get_attempt(&m, &got));
    assert_string_equal(got.service, ""); /* absent strings are empty, never NULL */
    assert_string_equal(got.rhost, "");
}

/* mnzoned answers only under its own rules: any one difference is another config. */
static void test_same_config(void **state)
{
    (void)state;
    struct mz_config mine, theirs;
    struct mz_msg m;
    mz_config_defaults(&mine);
    mz_msg_init(&m);
    assert_true(mz_proto_put_config(&m, &mine));
    assert_true(mz_proto_same_config(&m, &mine));
    const char *changes[][2] = {{"store", "/var/lib/other.db"},
                                {"key_file", "/etc/other.key"},
                                {"totp_digits", "8"},
                                {"totp_period", "60"},
                                {"totp_window", "2"},
                                {"max_failures", "9"},
                                {"privileged_max_failures", "1"},
                                {"lockout", "0"}};
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
        mz_err e = {""};
        mz_config_defaults(&theirs);
        assert_int_equal(mz_config_set(&theirs, changes[i][0], changes[i][1], &e), MZ_OK);
        if (mz_proto_same_config(&m, &theirs))
            fail_msg("%s = %s went unnoticed", changes[i][0], changes[i][1]);
    }
    /* keys that do not change a decision do not matter */
    mz_config_defaults(&theirs);
    theirs.debug = true;
    snprintf(theirs.issuer, sizeof(theirs.issuer), "%s", "岩手県");
    assert_true(mz_proto_same_config(&m, &theirs));
    mz_msg_init(&m); /* nothing sent: not the same */
    assert_false(mz_proto_same_config(&m, &mine));
}

static void test_frames_over_a_socket(void **state)
{
    (void)state;
    int sv[2];
    struct mz_msg out, in;
    mz_err e = {""};
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    mz_msg_init(&out);
    assert_true(mz_msg_add(&out, "op", "status"));
    assert_true(mz_msg_add(&out, "user", "alice"));
    assert_int_equal(mz_msg_send(sv[0], &out, &e), MZ_OK);
    assert_int_equal(mz_msg_recv(sv[1], &in, 1000, &e), MZ_OK);
    assert_string_equal(mz_msg_get(&in, "user"), "alice");
    assert_string_equal(mz_msg_get(&out, "op"), "status"); /* send leaves M usable */

    /* a length over the limit, and a peer that hangs up early, are errors */
    uint32_t len = MZ_PROTO_MAX + 1;
    assert_int_equal(write(sv[0], &len, sizeof(len)), (ssize_t)sizeof(len));
    assert_int_equal(mz_msg_recv(sv[1], &in, 1000, &e), MZ_ERR_INPUT);
    len = 10;
    assert_int_equal(write(sv[0], &len, sizeof(len)), (ssize_t)sizeof(len));
    assert_int_equal(write(sv[0], "op=x", 4), 4);
    close(sv[0]);
    assert_int_equal(mz_msg_recv(sv[1], &in, 1000, &e), MZ_ERR_STORE);
    assert_non_null(strstr(e.msg, "closed early"));
    close(sv[1]);
}

/* The time to receive holds for the whole message: a peer that sends a byte now and
 * then, each well within it, is cut off all the same. */
static void test_recv_deadline_for_the_whole(void **state)
{
    (void)state;
    int sv[2];
    struct mz_msg in;
    mz_err e = {""};
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* "op=x\0" after its length, a byte every 150 ms: 1.2 s in all */
        close(sv[1]);
        char frame[4 + 5];
        uint32_t len = 5;
        memcpy(frame, &len, sizeof(len));
        memcpy(frame + 4, "op=x", 5);
        struct timespec pause = {0, 150 * 1000 * 1000};
        for (size_t i = 0; i < sizeof(frame); i++) {
            if (write(sv[0], frame + i, 1) != 1)
                _exit(0);
            nanosleep(&pause, NULL);
        }
        _exit(0);
    }
    close(sv[0]);
    assert_int_equal(mz_msg_recv(sv[1], &in, 500, &e), MZ_ERR_STORE);
    assert_non_null(strstr(e.msg, "no answer in time"));
    close(sv[1]);
    waitpid(pid, NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_and_get),
        cmocka_unit_test(test_add_refuses),
        cmocka_unit_test(test_too_many_fields),
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_input_hex),
        cmocka_unit_test(test_attempt_round_trip),
        cmocka_unit_test(test_same_config),
        cmocka_unit_test(test_frames_over_a_socket),
        cmocka_unit_test(test_recv_deadline_for_the_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
