/* Unit tests of lib/mz_config.c: defaults, every key, the file parser, the file checks,
 * the cross-key rules and the module's argument handling. */
#include "mz_test.h"

static int setup_dir(void **state)
{
    struct mzt_dir *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return -1;
    mzt_dir_make(d);
    *state = d;
    return 0;
}

static int teardown_dir(void **state)
{
    struct mzt_dir *d = *state;
    mzt_dir_remove(d);
    free(d);
    return 0;
}

/* The defaults are the table in DESIGN.md. */
static void test_defaults(void **state)
{
    (void)state;
    struct mz_config c;
    memset(&c, 0xa5, sizeof(c));
    mz_config_defaults(&c);
    assert_int_equal(c.zone, MZ_ZONE_MYNUMBER);
    assert_string_equal(c.store, "/var/lib/mnzone/mnzone.db");
    assert_string_equal(c.key_file, "/etc/security/mnzone.key");
    assert_string_equal(c.issuer, "mnzone");
    assert_int_equal(c.totp_digits, 6);
    assert_int_equal(c.totp_period, 30);
    assert_int_equal(c.totp_window, 1);
    assert_int_equal(c.max_failures, 5);
    assert_int_equal(c.lockout, 900);
    assert_string_equal(c.privileged_group, "");
    assert_int_equal(c.privileged_max_failures, 3);
    assert_int_equal(c.unenrolled, MZ_UNENROLLED_DENY);
    assert_int_equal(c.recovery_codes, 10);
    assert_int_equal(c.hwkey_slot, 2);
    assert_true(c.hwkey_touch);
    assert_int_equal(c.time_sync, MZ_TIME_SYNC_WARN);
    assert_string_equal(c.staff_group, "");
    assert_int_equal(c.stale_days, 90);
    assert_false(c.debug);
    /* The defaults pass the cross-key rules: a fresh install does not fail closed. */
    mz_err e = {""};
    assert_int_equal(mz_config_validate(&c, &e), MZ_OK);
}

/* Sets KEY = VALUE on fresh defaults and expects it accepted. */
static void set_ok(struct mz_config *c, const char *key, const char *value)
{
    mz_err e = {""};
    mz_config_defaults(c);
    int rc = mz_config_set(c, key, value, &e);
    if (rc != MZ_OK)
        print_error("%s = %s refused: %s\n", key, value, e.msg);
    assert_int_equal(rc, MZ_OK);
}

/* Expects KEY = VALUE refused with MZ_ERR_CONFIG and a message that names the key. */
static void set_bad(const char *key, const char *value)
{
    struct mz_config c;
    mz_err e = {""};
    mz_config_defaults(&c);
    int rc = mz_config_set(&c, key, value, &e);
    if (rc != MZ_ERR_CONFIG)
        print_error("%s = \"%s\" was not refused (rc %d)\n", key, value, rc);
    assert_int_equal(rc, MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, key));
}

static void test_zone(void **state)
{
    (void)state;
    struct mz_config c;
    set_ok(&c, "zone", "lgwan");
    assert_int_equal(c.zone, MZ_ZONE_LGWAN);
    set_ok(&c, "zone", "internet");
    assert_int_equal(c.zone, MZ_ZONE_INTERNET);
    mz_config_defaults(&c);
    mz_err e = {""};
    assert_int_equal(mz_config_set(&c, "zone", "internet", &e), MZ_OK);
    assert_int_equal(mz_config_set(&c, "zone", "mynumber", &e), MZ_OK);
    assert_int_equal(c.zone, MZ_ZONE_MYNUMBER);
    set_bad("zone", "");
    set_bad("zone", "dmz");
    set_bad("zone", "mynumber ");
    set_bad("zone", "my");
}

static void test_store_and_key_file(void **state)
{
    (void)state;
    struct mz_config c;
    set_ok(&c, "store", "/srv/mnzone/zone.db");
    assert_string_equal(c.store, "/srv/mnzone/zone.db");
    set_ok(&c, "key_file", "/etc/security/other.key");
    assert_string_equal(c.key_file, "/etc/security/other.key");
    set_bad("store", "");
    set_bad("store", "relative/mnzone.db");
    set_bad("key_file", "");
    set_bad("key_file", "mnzone.key");
    /* The central store is for later: until then a URI is refused, not taken as a path. */
    set_bad("store", "postgresql://db.example.lg.jp/mnzone");
    /* "dir/." would pass the check that the folder is not a link: no . or .. at all */
    set_bad("store", "/var/lib/mnzone/./mnzone.db");
    set_bad("store", "/var/lib/link/./mnzone.db");
    set_bad("key_file", "/etc/security/../mnzone.key");
    set_bad("store", "/var/lib/mnzone/..");
    set_ok(&c, "store", "/var/lib/mnzone/.hidden/mnzone.db"); /* a dot file is a name */
    set_ok(&c, "key_file", "/etc/security/mnzone..key");
    /* A path that does not fit is refused, not cut short. */
    char long_path[PATH_MAX + 10];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[0] = '/';
    long_path[sizeof(long_path) - 1] = '\0';
    set_bad("store", long_path);
    set_bad("key_file", long_path);
}

static void test_issuer(void **state)
{
    (void)state;
    struct mz_config c;
    set_ok(&c, "issuer", "岩手県後期高齢者医療広域連合");
    assert_string_equal(c.issuer, "岩手県後期高齢者医療広域連合");
    set_ok(&c, "issuer", "Example City Hall");
    assert_string_equal(c.issuer, "Example City Hall");
    set_bad("issuer", "");
    set_bad("issuer", "\xff\xfe");              /* not UTF-8 */
    set_bad("issuer", "\xe5\xb2");              /* cut in the middle of a character */
    set_bad("issuer", "\xc0\xaf");              /* overlong '/' */
    set_bad("issuer", "\xed\xa0\x80");          /* a surrogate */
    set_bad("issuer", "city:hall");             /* ':' separates issuer and login in the label */
    set_bad("issuer", "city\thall");            /* control character */
    set_bad("issuer", "city\x1b[31mhall");      /* terminal escape */
    set_bad("issuer", "city\xc2\x85hall");      /* U+0085, a C1 control */
    set_bad("issuer", "\xe2\x80\xaeLLAH YTIC"); /* U+202E turns the name around */
    set_bad("issuer", "city\xe2\x80\x8bhall");  /* U+200B, invisible */
    set_bad("issuer", "\xe2\x81\xa6"
                      "city");                 /* U+2066, an isolate */
    set_bad("issuer", "city\xe2\x80\xa8hall"); /* U+2028, a line separator */
    set_bad("issuer", "city\xe2\x81\xa0hall"); /* U+2060, word joiner: invisible */
    set_bad("issuer", "\xef\xbb\xbf"
                      "city");                    /* U+FEFF, zero width no-break space */
    set_bad("issuer", "city\xd8\x9c");            /* U+061C, arabic letter mark */
    set_bad("issuer", "city\xef\xbf\xbe");        /* U+FFFE, a noncharacter */
    set_ok(&c, "issuer", "city\xe2\x80\xa7hall"); /* U+2027, hyphenation point: allowed */
    set_bad("issuer", "ta\xc2\xadro");            /* U+00AD, a soft hyphen: invisible */
    set_bad("issuer", "\xe3\x85\xa4"
                      "city");                            /* U+3164, Hangul filler: a blank */
    set_bad("issuer", "city\xef\xb8\x8f");                /* U+FE0F, a variation selector */
    set_bad("issuer", "city\xf3\xa0\x80\x81");            /* U+E0001, a tag */
    set_bad("issuer", "city\xe2\x81\xaa");                /* U+206A, deprecated format control */
    set_ok(&c, "issuer", "\xd8\x9b\xef\xbb\xbe\xc2\xae"); /* U+061B, U+FEFE, U+00AE */
    set_ok(&c, "issuer", "盛岡市"); /* continuation bytes 0x9b, 0x9b... are not C1 */
    set_ok(&c, "issuer", "\xc2\xa0\xc3\xa9\xd0\x96"); /* U+00A0, é, Ж */
    set_ok(&c, "issuer", "市役所\xe2\x80\x94本庁");   /* U+2014, a dash: allowed */
    char long_issuer[300];
    memset(long_issuer, 'x', sizeof(long_issuer) - 1);
    long_issuer[sizeof(long_issuer) - 1] = '\0';
    set_bad("issuer", long_issuer);
}

static void test_totp_keys(void **state)
{
    (void)state;
    struct mz_config c;
    set_ok(&c, "totp_digits", "6");
    assert_int_equal(c.totp_digits, 6);
    set_ok(&c, "totp_digits", "7");
    assert_int_equal(c.totp_digits, 7);
    set_ok(&c, "totp_digits", "8");
    assert_int_equal(c.totp_digits, 8);
    set_bad("totp_digits", "5");
    set_bad("totp_digits", "9");
    set_bad("totp_digits", "");
    set_bad("totp_digits", "six");

    set_ok(&c, "totp_period", "60");
    assert_int_equal(c.totp_period, 60);
    set_ok(&c, "totp_period", "30");
    assert_int_equal(c.totp_period, 30);
    set_bad("totp_period", "0");
    set_bad("totp_period", "-30");
    set_bad("totp_period", "30s");

    set_ok(&c, "totp_window", "0");
    assert_int_equal(c.totp_window, 0);
    set_ok(&c, "totp_window", "2");
    assert_int_equal(c.totp_window, 2);
    set_bad("totp_window", "-1");
    set_bad("totp_window", "1.5");
    set_bad("totp_window", "many");
}

static void test_failure_limits(void **state)
{
    (void)state;
    struct mz_config c;
    set_ok(&c, "max_failures", "1");
    assert_int_equal(c.max_failures, 1);
    set_ok(&c, "max_failures", "100");
    assert_int_equal(c.max_failures, 100);
    set_bad("max_failures", "0");
    set_bad("max_failures", "101");

    set_ok(&c, "privileged_max_failures", "1");
    assert_int_equal(c.privileged_max_failures, 1);
    set_ok(&c, "privileged_max_failures", "100");
    assert_int_equal(c.privileged_max_failures, 100);
    set_bad("privileged_max_failures", "0");
    set_bad("privileged_max_failures", "101");

    set_ok(&c, "lockout", "0"); /* 0: until an administrator unlocks */
    assert_int_equal(c.lockout, 0);
    set_ok(&c, "lockout", "3600");
    assert_int_equal(c.lockout, 3600);
    set_bad("lockout", "-1");
    set_bad("lockout", "15m");
    set_bad("lockout", "");
}

/* Numbers are whole decimal numbers and nothing else: no sign, no spaces, no hex, and
 * no value that wraps around to a small one. */
static void test_numbers_are_strict(void **state)
{
    (void)state;
    set_bad("max_failures", "+5");
    set_bad("max_failures", " 5");
    set_bad("max_failures", "5 ");
    set_bad("max_failures", "5x");
    set_bad("max_failures", "0x5");
    set_bad("max_failures", "5e0");
    set_bad("max_failures", "18446744073709551621"); /* 2^64 + 5 */
    set_bad("max_failures", "4294967301");           /* 2^32 + 5 */
    set_bad("lockout", "18446744073709551616");      /* 2^64 */
    set_bad("totp_window", "4294967296");            /* 2^32 */
}

static void test_choices(void **state)
{
    (void)state;
    struct mz_config c;
    set_ok(&c, "unenrolled", "ignore");
    assert_int_equal(c.unenrolled, MZ_UNENROLLED_IGNORE);
    set_ok(&c, "unenrolled", "deny");
    assert_int_equal(c.unenrolled, MZ_UNENROLLED_DENY);
    set_bad("unenrolled", "allow");
    set_bad("unenrolled", "");

    set_ok(&c, "hwkey_slot", "1");
    assert_int_equal(c.hwkey_slot, 1);
    set_ok(&c, "hwkey_slot", "2");
    assert_int_equal(c.hwkey_slot, 2);
    set_bad("hwkey_slot", "0"); /* a YubiKey has two slots */
    set_bad("hwkey_slot", "3");

    set_ok(&c, "hwkey_touch", "no");
    assert_false(c.hwkey_touch);
    set_ok(&c, "hwkey_touch", "yes");
    assert_true(c.hwkey_touch);
    set_bad("hwkey_touch", "maybe");
    set_bad("hwkey_touch", "");

    set_ok(&c, "time_sync", "off");
    assert_int_equal(c.time_sync, MZ_TIME_SYNC_OFF);
    set_ok(&c, "time_sync", "require");
    assert_int_equal(c.time_sync, MZ_TIME_SYNC_REQUIRE);
    set_ok(&c, "time_sync", "warn");
    assert_int_equal(c.time_sync, MZ_TIME_SYNC_WARN);
    set_bad("time_sync", "on");
    set_bad("time_sync", "");
}

static void test_groups_and_counts(void **state)
{
    (void)state;
    struct mz_config c;
    set_ok(&c, "privileged_group", "mnzone-admins");
    assert_string_equal(c.privileged_group, "mnzone-admins");
    set_ok(&c, "staff_group", "staff_2026.all");
    assert_string_equal(c.staff_group, "staff_2026.all");
    set_bad("privileged_group", "bad group");
    set_bad("privileged_group", "wheel,adm");
    set_bad("privileged_group", "-wheel");
    set_bad("staff_group", "staff/all");
    set_bad("staff_group", "staff:all");
    set_bad("staff_group", "caf\xe9"); /* letters are ASCII, whatever the locale */
    char long_group[80];
    memset(long_group, 'g', sizeof(long_group) - 1);
    long_group[sizeof(long_group) - 1] = '\0';
    set_bad("staff_group", long_group);

    set_ok(&c, "recovery_codes", "8");
    assert_int_equal(c.recovery_codes, 8);
    set_bad("recovery_codes", "-1");
    set_bad("recovery_codes", "ten");

    set_ok(&c, "stale_days", "30");
    assert_int_equal(c.stale_days, 30);
    set_bad("stale_days", "0");
    set_bad("stale_days", "90d");

    /* mnzoned's socket: an absolute path that fits sun_path, or empty for none */
    mz_config_defaults(&c);
    assert_string_equal(c.daemon_socket, "/run/mnzone/mnzoned.sock");
    set_ok(&c, "daemon_socket", "/run/other/socket");
    assert_string_equal(c.daemon_socket, "/run/other/socket");
    set_ok(&c, "daemon_socket", "");
    assert_string_equal(c.daemon_socket, "");
    set_bad("daemon_socket", "run/mnzone/mnzoned.sock");
    char long_path[120] = "/";
    memset(long_path + 1, 's', 108);
    long_path[109] = '\0';
    set_bad("daemon_socket", long_path);
    long_path[107] = '\0'; /* 107 bytes and the NUL: the most sun_path holds */
    set_ok(&c, "daemon_socket", long_path);
}

static void test_unknown_key(void **state)
{
    (void)state;
    struct mz_config c;
    mz_err e = {""};
    mz_config_defaults(&c);
    assert_int_equal(mz_config_set(&c, "max_failure", "5", &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "max_failure"));
    assert_int_equal(mz_config_set(&c, "Zone", "lgwan", &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "Zone"));
    assert_int_equal(c.zone, MZ_ZONE_MYNUMBER);
    assert_int_equal(mz_config_set(&c, "", "x", &e), MZ_ERR_CONFIG);
    /* `debug` is a module argument, not a key of the file. */
    assert_int_equal(mz_config_set(&c, "debug", "yes", &e), MZ_ERR_CONFIG);
}

static int parse(struct mz_config *c, const char *text, mz_err *e)
{
    mz_config_defaults(c);
    return mz_config_parse(c, text, strlen(text), "test.conf", e);
}

static void test_parse_comments_and_space(void **state)
{
    (void)state;
    struct mz_config c;
    mz_err e = {""};
    const char *text = "# mnzone configuration\n"
                       "\n"
                       "   \t\n"
                       "  # indented comment = not a key\n"
                       "zone=lgwan\n"
                       "  max_failures\t=\t7  \n"
                       "lockout = 60\r\n"
                       "issuer =   岩手県 広域連合   \n"
                       "totp_window = 2"; /* no final newline */
    int rc = parse(&c, text, &e);
    if (rc != MZ_OK)
        print_error("%s\n", e.msg);
    assert_int_equal(rc, MZ_OK);
    assert_int_equal(c.zone, MZ_ZONE_LGWAN);
    assert_int_equal(c.max_failures, 7);
    assert_int_equal(c.lockout, 60);
    assert_string_equal(c.issuer, "岩手県 広域連合");
    assert_int_equal(c.totp_window, 2);
    /* Untouched keys keep their defaults. */
    assert_int_equal(c.totp_digits, 6);
    /* "daemon_socket =" with nothing after it turns mnzoned off */
    rc = parse(&c, "daemon_socket =\n", &e);
    assert_int_equal(rc, MZ_OK);
    assert_string_equal(c.daemon_socket, "");

    assert_int_equal(parse(&c, "", &e), MZ_OK);
    assert_int_equal(parse(&c, "\n\n# only comments\n", &e), MZ_OK);
    assert_int_equal(c.max_failures, 5);
}

static void test_parse_errors_name_line(void **state)
{
    (void)state;
    struct mz_config c;
    mz_err e = {""};
    assert_int_equal(parse(&c, "zone = lgwan\n\n# c\nmax_failures = 0\n", &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "test.conf:4"));
    assert_non_null(strstr(e.msg, "max_failures"));

    assert_int_equal(parse(&c, "zone = lgwan\nno_such_key = 1\n", &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "test.conf:2"));
    assert_non_null(strstr(e.msg, "no_such_key"));

    /* A line without '=' */
    assert_int_equal(parse(&c, "zone = lgwan\nmax_failures 3\n", &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "test.conf:2"));
    assert_int_equal(parse(&c, "zone lgwan\n", &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "test.conf:1"));

    /* An empty key */
    assert_int_equal(parse(&c, "= 5\n", &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "test.conf:1"));

    /* A comment after the value is part of the value, and so refused, not ignored. */
    assert_int_equal(parse(&c, "max_failures = 3 # three\n", &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "test.conf:1"));

    /* The line count goes on over CRLF and comment lines. */
    assert_int_equal(parse(&c, "# a\r\n# b\r\n\r\nzone = lan\r\n", &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "test.conf:4"));
}

static void test_parse_nul_byte(void **state)
{
    (void)state;
    struct mz_config c;
    mz_err e = {""};
    /* Everything before the NUL is fine; the NUL hides the line after it from a C string. */
    static const char text[] = "zone = lgwan\nmax_failures = 3\0\nunenrolled = ignore\n";
    mz_config_defaults(&c);
    assert_int_equal(mz_config_parse(&c, text, sizeof(text) - 1, "nul.conf", &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "nul.conf"));
}

/* A byte order mark (editors on Windows add one) is named, not an "unknown key". */
static void test_parse_bom(void **state)
{
    (void)state;
    struct mz_config c;
    mz_err e = {""};
    static const char text[] = "\xef\xbb\xbfzone = lgwan\n";
    mz_config_defaults(&c);
    assert_int_equal(mz_config_parse(&c, text, sizeof(text) - 1, "bom.conf", &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "bom.conf:1: begins with a byte order mark"));
}

/* The length given, not the first NUL, decides what is parsed. */
static void test_parse_uses_length(void **state)
{
    (void)state;
    struct mz_config c;
    mz_err e = {""};
    const char *text = "max_failures = 3\nmax_failures = 9\n";
    mz_config_defaults(&c);
    assert_int_equal(mz_config_parse(&c, text, strlen("max_failures = 3\n"), "len.conf", &e),
                     MZ_OK);
    assert_int_equal(c.max_failures, 3);
}

static void test_time_sync_decide(void **state)
{
    (void)state;
    assert_int_equal(mz_time_sync_decide(MZ_TIME_SYNC_OFF, false), MZ_CLOCK_OK);
    assert_int_equal(mz_time_sync_decide(MZ_TIME_SYNC_WARN, false), MZ_CLOCK_WARN);
    assert_int_equal(mz_time_sync_decide(MZ_TIME_SYNC_REQUIRE, false), MZ_CLOCK_DENY);
    for (int m = MZ_TIME_SYNC_OFF; m <= MZ_TIME_SYNC_REQUIRE; m++)
        assert_int_equal(mz_time_sync_decide((enum mz_time_sync)m, true), MZ_CLOCK_OK);
}

static void test_validate_zone_rule(void **state)
{
    (void)state;
    struct mz_config c;
    mz_err e = {""};
    mz_config_defaults(&c);
    assert_int_equal(mz_config_set(&c, "unenrolled", "ignore", &e), MZ_OK);
    assert_int_equal(mz_config_validate(&c, &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "mynumber"));

    assert_int_equal(mz_config_set(&c, "zone", "internet", &e), MZ_OK);
    assert_int_equal(mz_config_validate(&c, &e), MZ_OK);
    assert_int_equal(mz_config_set(&c, "zone", "lgwan", &e), MZ_OK);
    assert_int_equal(mz_config_validate(&c, &e), MZ_OK);

    assert_int_equal(mz_config_set(&c, "zone", "mynumber", &e), MZ_OK);
    assert_int_equal(mz_config_set(&c, "unenrolled", "deny", &e), MZ_OK);
    assert_int_equal(mz_config_validate(&c, &e), MZ_OK);
}

/* Writes DIR/NAME with TEXT and MODE; its path goes into PATH. */
static void write_conf(const struct mzt_dir *d, const char *name, const char *text, mode_t mode,
                       char *path, size_t len)
{
    mzt_path(path, len, d->path, name);
    mzt_write_text(path, text, mode);
}

static void test_load_file_good(void **state)
{
    struct mzt_dir *d = *state;
    char path[PATH_MAX];
    struct mz_config c;
    mz_err e = {""};
    write_conf(d, "mnzone.conf", "zone = lgwan\nmax_failures = 4\n", 0644, path, sizeof(path));
    mz_config_defaults(&c);
    assert_int_equal(mz_config_load_file(&c, path, true, &e), MZ_OK);
    assert_int_equal(c.zone, MZ_ZONE_LGWAN);
    assert_int_equal(c.max_failures, 4);

    /* Readable by all is fine for a configuration file (it holds no secret). */
    assert_int_equal(chmod(path, 0444), 0);
    mz_config_defaults(&c);
    assert_int_equal(mz_config_load_file(&c, path, true, &e), MZ_OK);
    assert_int_equal(c.max_failures, 4);

    /* Errors in the file name the file and the line. */
    write_conf(d, "bad.conf", "zone = lgwan\n\nlockout = soon\n", 0644, path, sizeof(path));
    assert_int_equal(mz_config_load_file(&c, path, true, &e), MZ_ERR_CONFIG);
    char where[PATH_MAX + 8];
    snprintf(where, sizeof(where), "%s:3", path);
    assert_non_null(strstr(e.msg, where));
}

static void test_load_file_missing(void **state)
{
    struct mzt_dir *d = *state;
    char path[PATH_MAX];
    struct mz_config c;
    mz_err e = {""};
    mzt_path(path, sizeof(path), d->path, "absent.conf");
    mz_config_defaults(&c);
    c.max_failures = 42; /* to see that nothing is touched */
    assert_int_equal(mz_config_load_file(&c, path, false, &e), MZ_OK);
    assert_int_equal(c.max_failures, 42);
    assert_int_not_equal(mz_config_load_file(&c, path, true, &e), MZ_OK);
    assert_non_null(strstr(e.msg, path));
}

static void test_load_file_symlink(void **state)
{
    struct mzt_dir *d = *state;
    char target[PATH_MAX], link[PATH_MAX];
    struct mz_config c;
    mz_err e = {""};
    write_conf(d, "real.conf", "max_failures = 4\n", 0644, target, sizeof(target));
    mzt_path(link, sizeof(link), d->path, "link.conf");
    assert_int_equal(symlink(target, link), 0);
    for (int must = 0; must <= 1; must++) {
        mz_config_defaults(&c);
        e.msg[0] = '\0';
        assert_int_equal(mz_config_load_file(&c, link, must == 1, &e), MZ_ERR_PERM);
        assert_non_null(strstr(e.msg, link));
        assert_int_equal(c.max_failures, 5);
    }
}

/* A link that points nowhere is a link all the same: refused, not taken for a missing
 * file (which would silently give the defaults). */
static void test_load_file_dangling_symlink(void **state)
{
    struct mzt_dir *d = *state;
    char target[PATH_MAX], link[PATH_MAX];
    struct mz_config c;
    mz_err e = {""};
    mzt_path(target, sizeof(target), d->path, "nowhere.conf");
    mzt_path(link, sizeof(link), d->path, "dangling.conf");
    assert_int_equal(symlink(target, link), 0);
    mz_config_defaults(&c);
    assert_int_equal(mz_config_load_file(&c, link, true, &e), MZ_ERR_PERM);
    mz_config_defaults(&c);
    assert_int_not_equal(mz_config_load_file(&c, link, false, &e), MZ_OK);
}

static void test_load_file_writable_by_others(void **state)
{
    struct mzt_dir *d = *state;
    char path[PATH_MAX];
    struct mz_config c;
    mz_err e = {""};
    static const mode_t modes[] = {0664, 0646, 0666, 0620, 0602};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        write_conf(d, "w.conf", "max_failures = 4\n", modes[i], path, sizeof(path));
        assert_int_equal(mzt_mode(path), modes[i]);
        mz_config_defaults(&c);
        e.msg[0] = '\0';
        assert_int_equal(mz_config_load_file(&c, path, true, &e), MZ_ERR_PERM);
        assert_non_null(strstr(e.msg, path));
        assert_int_equal(c.max_failures, 5);
    }
}

static void test_load_file_not_regular(void **state)
{
    struct mzt_dir *d = *state;
    struct mz_config c;
    mz_err e = {""};
    mz_config_defaults(&c);
    assert_int_equal(mz_config_load_file(&c, d->path, true, &e), MZ_ERR_PERM);
}

/* Owned by someone else: refused. Only root can give a file away. */
static void test_load_file_owner(void **state)
{
    struct mzt_dir *d = *state;
    char path[PATH_MAX];
    struct mz_config c;
    mz_err e = {""};
    if (geteuid() != 0) {
        print_message("# not root: cannot give a file to another user; owner check not run\n");
        return;
    }
    write_conf(d, "owned.conf", "max_failures = 4\n", 0644, path, sizeof(path));
    assert_int_equal(chown(path, 65534, 65534), 0);
    mz_config_defaults(&c);
    assert_int_equal(mz_config_load_file(&c, path, true, &e), MZ_ERR_PERM);
    assert_non_null(strstr(e.msg, path));
}

/* The folder that holds the file, and each one above it, must be closed to others. */
static void test_load_file_folder_on_the_way(void **state)
{
    struct mzt_dir *d = *state;
    char sub[PATH_MAX], path[PATH_MAX];
    struct mz_config c;
    mz_err e = {""};
    mzt_path(sub, sizeof(sub), d->path, "sub");
    assert_int_equal(mkdir(sub, 0755), 0);
    mzt_path(path, sizeof(path), sub, "mnzone.conf");
    mzt_write_text(path, "max_failures = 4\n", 0644);
    static const mode_t modes[] = {0775, 0757};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        const char *folder = i == 0 ? sub : d->path;
        assert_int_equal(chmod(folder, modes[i]), 0);
        mz_config_defaults(&c);
        assert_int_equal(mz_config_load_file(&c, path, true, &e), MZ_ERR_PERM);
        char named[PATH_MAX + 32];
        snprintf(named, sizeof(named), "%s: writable by group or others", folder);
        assert_non_null(strstr(e.msg, named));
        assert_int_equal(c.max_failures, 5);
        assert_int_equal(chmod(folder, i == 0 ? 0755 : 0700), 0);
    }
    mz_config_defaults(&c);
    assert_int_equal(mz_config_load_file(&c, path, true, &e), MZ_OK);
    assert_int_equal(c.max_failures, 4);
}

static void test_load_file_size(void **state)
{
    struct mzt_dir *d = *state;
    char path[PATH_MAX];
    struct mz_config c;
    mz_err e = {""};
    size_t size = MZ_CONFIG_MAX_BYTES + 1;
    char *text = malloc(size);
    assert_non_null(text);
    /* Comment lines of 64 bytes, then the last one set to a key. */
    for (size_t i = 0; i < size; i++)
        text[i] = (i % 64 == 63) ? '\n' : (i % 64 == 0 ? '#' : 'x');
    static const char tail[] = "\nmax_failures = 4\n";

    /* Exactly 64 KiB: accepted, and the last line is read. */
    memcpy(text + 64 * 1024 - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
    mzt_path(path, sizeof(path), d->path, "big.conf");
    mzt_write_file(path, text, 64 * 1024, 0644);
    mz_config_defaults(&c);
    int rc = mz_config_load_file(&c, path, true, &e);
    if (rc != MZ_OK)
        print_error("%s\n", e.msg);
    assert_int_equal(rc, MZ_OK);
    assert_int_equal(c.max_failures, 4);

    /* One byte more: refused. */
    text[size - 1] = '\n';
    memcpy(text + size - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
    mzt_write_file(path, text, size, 0644);
    mz_config_defaults(&c);
    assert_int_equal(mz_config_load_file(&c, path, true, &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, path));
    assert_int_equal(c.max_failures, 5);
    free(text);
}

static void test_from_args(void **state)
{
    struct mzt_dir *d = *state;
    char path[PATH_MAX], arg[PATH_MAX + 16];
    struct mz_config c;
    mz_err e = {""};
    write_conf(d, "args.conf", "zone = lgwan\nmax_failures = 4\nlockout = 60\n", 0644, path,
               sizeof(path));
    snprintf(arg, sizeof(arg), "config=%s", path);

    /* config= alone: the file's values. */
    const char *only[] = {arg};
    assert_int_equal(mz_config_from_args(&c, 1, only, &e), MZ_OK);
    assert_int_equal(c.zone, MZ_ZONE_LGWAN);
    assert_int_equal(c.max_failures, 4);
    assert_int_equal(c.lockout, 60);
    assert_false(c.debug);

    /* Arguments override the file, wherever config= stands among them. */
    const char *over[] = {"max_failures=2", arg, "debug", "zone=internet"};
    assert_int_equal(mz_config_from_args(&c, 4, over, &e), MZ_OK);
    assert_int_equal(c.max_failures, 2);
    assert_int_equal(c.zone, MZ_ZONE_INTERNET);
    assert_int_equal(c.lockout, 60);
    assert_true(c.debug);

    /* Every call starts from the defaults: nothing is left over from the previous one. */
    assert_int_equal(mz_config_from_args(&c, 1, only, &e), MZ_OK);
    assert_false(c.debug);
    assert_int_equal(c.max_failures, 4);
}

static void test_from_args_errors(void **state)
{
    struct mzt_dir *d = *state;
    char path[PATH_MAX], arg[PATH_MAX + 16], missing[PATH_MAX + 16];
    struct mz_config c;
    mz_err e = {""};
    write_conf(d, "args.conf", "zone = internet\nunenrolled = ignore\n", 0644, path, sizeof(path));
    snprintf(arg, sizeof(arg), "config=%s", path);

    const char *unknown_key[] = {arg, "max_failurs=3"};
    assert_int_equal(mz_config_from_args(&c, 2, unknown_key, &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "max_failurs"));

    const char *unknown_word[] = {arg, "nullok"};
    assert_int_equal(mz_config_from_args(&c, 2, unknown_word, &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "nullok"));

    const char *empty_key[] = {arg, "=3"};
    assert_int_equal(mz_config_from_args(&c, 2, empty_key, &e), MZ_ERR_CONFIG);

    const char *bad_value[] = {arg, "max_failures=0"};
    assert_int_equal(mz_config_from_args(&c, 2, bad_value, &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "max_failures"));

    /* The cross-key rules run after the arguments: the file's zone internet allows
     * unenrolled = ignore, the argument zone=mynumber does not. */
    const char *fine[] = {arg};
    assert_int_equal(mz_config_from_args(&c, 1, fine, &e), MZ_OK);
    assert_int_equal(c.unenrolled, MZ_UNENROLLED_IGNORE);
    const char *rule[] = {arg, "zone=mynumber"};
    assert_int_equal(mz_config_from_args(&c, 2, rule, &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "mynumber"));

    /* A file named with config= must exist. */
    char absent[PATH_MAX];
    mzt_path(absent, sizeof(absent), d->path, "absent.conf");
    snprintf(missing, sizeof(missing), "config=%s", absent);
    const char *gone[] = {missing};
    assert_int_not_equal(mz_config_from_args(&c, 1, gone, &e), MZ_OK);
    assert_non_null(strstr(e.msg, "absent.conf"));

    const char *relative[] = {"config=mnzone.conf"};
    assert_int_equal(mz_config_from_args(&c, 1, relative, &e), MZ_ERR_CONFIG);

    /* A bad file named with config= is an error even when the arguments are fine. */
    char bad_path[PATH_MAX], bad_arg[PATH_MAX + 16];
    write_conf(d, "bad.conf", "zone = lgwan\nwhat is this\n", 0644, bad_path, sizeof(bad_path));
    snprintf(bad_arg, sizeof(bad_arg), "config=%s", bad_path);
    const char *bad_file[] = {bad_arg, "zone=internet"};
    assert_int_equal(mz_config_from_args(&c, 2, bad_file, &e), MZ_ERR_CONFIG);
    assert_non_null(strstr(e.msg, ":2"));

    /* A link named with config= is refused like any other. */
    char link[PATH_MAX], link_arg[PATH_MAX + 16];
    mzt_path(link, sizeof(link), d->path, "link.conf");
    assert_int_equal(symlink(path, link), 0);
    snprintf(link_arg, sizeof(link_arg), "config=%s", link);
    const char *linked[] = {link_arg};
    assert_int_equal(mz_config_from_args(&c, 1, linked, &e), MZ_ERR_PERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_zone),
        cmocka_unit_test(test_store_and_key_file),
        cmocka_unit_test(test_issuer),
        cmocka_unit_test(test_totp_keys),
        cmocka_unit_test(test_failure_limits),
        cmocka_unit_test(test_numbers_are_strict),
        cmocka_unit_test(test_choices),
        cmocka_unit_test(test_groups_and_counts),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_parse_comments_and_space),
        cmocka_unit_test(test_parse_errors_name_line),
        cmocka_unit_test(test_parse_nul_byte),
        cmocka_unit_test(test_parse_bom),
        cmocka_unit_test(test_parse_uses_length),
        cmocka_unit_test(test_validate_zone_rule),
        cmocka_unit_test(test_time_sync_decide),
        cmocka_unit_test_setup_teardown(test_load_file_good, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_load_file_missing, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_load_file_symlink, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_load_file_dangling_symlink, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_load_file_writable_by_others, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_load_file_not_regular, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_load_file_owner, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_load_file_folder_on_the_way, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_load_file_size, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_from_args, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_from_args_errors, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
