/* fuzz_config: the configuration file and the module arguments.
 *
 * 1. The input as the text of /etc/security/mnzone.conf: mz_config_parse on the
 *    defaults. On success every field must hold a value the key allows.
 * 2. The input split at NUL bytes into module arguments: the real mz_config_from_args,
 *    with a config= argument (always last, so it wins) naming a private, valid file
 *    written once at start-up; its result is compared with defaults + that file +
 *    mz_config_set for each key=value done here. Fuzzed config= arguments are thus never
 *    followed: the target reads no file but its own. */
#include "config.h"

#include "fuzz_common.h"

#include "mz_config.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#define MAX_ARGS 64

static const char base_text[] = "# written by fuzz_config\n"
                                "zone = lgwan\n"
                                "issuer = 岩手県後期高齢者医療広域連合\n"
                                "store = /var/lib/mnzone/mnzone.db\n"
                                "totp_window = 2\n"
                                "privileged_group = mnzone-admins\n"
                                "time_sync = off\n";

static const char *path;
static char config_arg[PATH_MAX + 8];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    path = fuzz_scratch_file("fuzz_config", "mnzone.conf");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, base_text, sizeof(base_text) - 1) != (ssize_t)(sizeof(base_text) - 1)) {
        perror("fuzz_config: writing the configuration");
        abort();
    }
    close(fd);
    snprintf(config_arg, sizeof(config_arg), "config=%s", path);
    return 0;
}

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static bool group_ok(const char *g, size_t cap)
{
    if (!terminated(g, cap))
        return false;
    for (size_t i = 0; g[i] != '\0'; i++) {
        unsigned char c = (unsigned char)g[i];
        if (!(isalnum(c) || c == '_' || c == '-' || c == '.') || (i == 0 && c == '-'))
            return false;
    }
    return true;
}

/* Every field holds a value its key allows. */
static void check_values(const struct mz_config *c)
{
    FUZZ_CHECK(c->zone == MZ_ZONE_MYNUMBER || c->zone == MZ_ZONE_LGWAN ||
               c->zone == MZ_ZONE_INTERNET);
    FUZZ_CHECK(terminated(c->store, sizeof(c->store)) && c->store[0] == '/');
    FUZZ_CHECK(terminated(c->key_file, sizeof(c->key_file)) && c->key_file[0] == '/');
    FUZZ_CHECK(terminated(c->issuer, sizeof(c->issuer)) && c->issuer[0] != '\0');
    FUZZ_CHECK(mz_valid_utf8(c->issuer));
    for (const unsigned char *p = (const unsigned char *)c->issuer; *p != '\0'; p++)
        FUZZ_CHECK(*p >= 0x20 && *p != 0x7f && *p != ':');
    FUZZ_CHECK(c->totp_digits >= 6 && c->totp_digits <= 8);
    FUZZ_CHECK(c->totp_period >= 10 && c->totp_period <= 300);
    FUZZ_CHECK(c->totp_window <= 10);
    FUZZ_CHECK(c->max_failures >= 1 && c->max_failures <= 100);
    FUZZ_CHECK(c->lockout <= 30UL * 86400);
    FUZZ_CHECK(group_ok(c->privileged_group, sizeof(c->privileged_group)));
    FUZZ_CHECK(c->privileged_max_failures >= 1 && c->privileged_max_failures <= 100);
    FUZZ_CHECK(c->unenrolled == MZ_UNENROLLED_DENY || c->unenrolled == MZ_UNENROLLED_IGNORE);
    FUZZ_CHECK(c->recovery_codes <= 100);
    FUZZ_CHECK(c->hwkey_slot == 1 || c->hwkey_slot == 2);
    FUZZ_CHECK(c->time_sync == MZ_TIME_SYNC_OFF || c->time_sync == MZ_TIME_SYNC_WARN ||
               c->time_sync == MZ_TIME_SYNC_REQUIRE);
    FUZZ_CHECK(group_ok(c->staff_group, sizeof(c->staff_group)));
    FUZZ_CHECK(c->stale_days >= 1 && c->stale_days <= 3650);
}

static void check_error(int rc, const mz_err *e)
{
    FUZZ_CHECK(rc == MZ_ERR_CONFIG || rc == MZ_ERR_NOMEM);
    FUZZ_CHECK(terminated(e->msg, sizeof(e->msg)) && e->msg[0] != '\0');
}

/* What mz_config_from_args should do with ARGV, done by hand on the public setter. */
static int expected_from_args(struct mz_config *c, int argc, const char **argv)
{
    mz_err e;
    mz_config_defaults(c);
    int rc = mz_config_parse(c, base_text, sizeof(base_text) - 1, path, &e);
    FUZZ_CHECK(rc == MZ_OK);
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "debug") == 0) {
            c->debug = true;
            continue;
        }
        if (strncmp(arg, "config=", 7) == 0)
            continue;
        const char *eq = strchr(arg, '=');
        size_t klen = eq != NULL ? (size_t)(eq - arg) : 0;
        if (klen == 0 || klen >= 64)
            return MZ_ERR_CONFIG;
        char key[64];
        memcpy(key, arg, klen);
        key[klen] = '\0';
        rc = mz_config_set(c, key, eq + 1, &e);
        if (rc != MZ_OK)
            return rc;
    }
    return mz_config_validate(c, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mz_config a, b; /* 8 KiB each: not on the stack */
    mz_err e;

    /* 1. File text, exactly SIZE bytes (no terminating NUL: the parser must not need one). */
    char *text = malloc(size > 0 ? size : 1);
    if (text == NULL)
        abort();
    if (size > 0)
        memcpy(text, data, size);
    mz_config_defaults(&a);
    memset(&e, 0, sizeof(e));
    int rc = mz_config_parse(&a, text, size, "fuzz.conf", &e);
    if (rc == MZ_OK)
        check_values(&a);
    else
        check_error(rc, &e);
    free(text);

    /* 2. Module arguments: the input split at NUL bytes, then our config= last. */
    char *copy = fuzz_strdup(data, size);
    const char *argv[MAX_ARGS + 1];
    int argc = 0;
    for (size_t i = 0; i <= size && argc < MAX_ARGS;) {
        argv[argc++] = copy + i;
        i += strlen(copy + i) + 1;
    }
    argv[argc++] = config_arg;
    memset(&e, 0, sizeof(e));
    rc = mz_config_from_args(&a, argc, argv, &e);
    int want = expected_from_args(&b, argc, argv);
    FUZZ_CHECK((rc == MZ_OK) == (want == MZ_OK));
    if (rc == MZ_OK) {
        check_values(&a);
        FUZZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0);
        FUZZ_CHECK(!(a.zone == MZ_ZONE_MYNUMBER && a.unenrolled == MZ_UNENROLLED_IGNORE));
    } else {
        check_error(rc, &e);
    }
    free(copy);
    return 0;
}
