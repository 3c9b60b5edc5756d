#include "config.h"

#include "mz_config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void mz_config_defaults(struct mz_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->zone = MZ_ZONE_MYNUMBER;
    snprintf(cfg->store, sizeof(cfg->store), "%s", MZ_DEFAULT_STORE);
    snprintf(cfg->key_file, sizeof(cfg->key_file), "%s", MZ_DEFAULT_KEY_FILE);
    snprintf(cfg->issuer, sizeof(cfg->issuer), "mnzone");
    cfg->totp_digits = 6;
    cfg->totp_period = 30;
    cfg->totp_window = 1;
    cfg->max_failures = 5;
    cfg->lockout = 900;
    cfg->privileged_max_failures = 3;
    cfg->unenrolled = MZ_UNENROLLED_DENY;
    cfg->recovery_codes = 10;
    cfg->hwkey_slot = 2;
    cfg->hwkey_touch = true;
    cfg->time_sync = MZ_TIME_SYNC_WARN;
    cfg->stale_days = 90;
    snprintf(cfg->daemon_socket, sizeof(cfg->daemon_socket), "%s", MZ_DEFAULT_DAEMON_SOCKET);
}

static int bad_value(mz_err *e, const char *key, const char *value, const char *expected)
{
    return mz_fail(e, MZ_ERR_CONFIG, _("%s: bad value \"%.64s\"; expected %s"), key, value,
                   expected);
}

static int set_uint(unsigned *dst, const char *key, const char *value, unsigned long min,
                    unsigned long max, mz_err *e)
{
    unsigned long v;
    if (!mz_parse_uint(value, min, max, &v)) {
        char range[64];
        snprintf(range, sizeof(range), "%lu..%lu", min, max);
        return bad_value(e, key, value, range);
    }
    *dst = (unsigned)v;
    return MZ_OK;
}

/* True when PATH has a "." or ".." component: "dir/." would pass the check that the
 * folder is not a link (lstat of "dir/." follows "dir"). */
static bool has_dot_component(const char *path)
{
    for (const char *p = path; *p != '\0'; p++) {
        if (*p != '/' || p[1] != '.')
            continue;
        size_t n = p[2] == '.' ? 3 : 2;
        if (p[n] == '/' || p[n] == '\0')
            return true;
    }
    return false;
}

static int set_path(char *dst, size_t len, const char *key, const char *value, mz_err *e)
{
    if (value[0] != '/' || strlen(value) >= len || has_dot_component(value))
        return bad_value(e, key, value, _("an absolute path without . or .."));
    snprintf(dst, len, "%s", value);
    return MZ_OK;
}

/* Group names as groupadd allows them; empty means none. */
static int set_group(char *dst, size_t len, const char *key, const char *value, mz_err *e)
{
    size_t n = strlen(value);
    if (n >= len)
        return bad_value(e, key, value, _("a group name"));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!(alnum || c == '_' || c == '-' || c == '.') || (i == 0 && c == '-'))
            return bad_value(e, key, value, _("a group name"));
    }
    memcpy(dst, value, n + 1);
    return MZ_OK;
}

/* UTF-8 text without control characters or ':' (the label separator in otpauth URIs):
 * no C0, DEL or C1 controls, and none of the invisible marks and direction controls
 * (mz_utf8_hidden_len) that would change how an authenticator app shows the name. */
static bool valid_issuer(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || !mz_valid_utf8(s))
        return false;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *u = (const unsigned char *)s + i;
        if (u[0] < 0x20 || u[0] == 0x7f || u[0] == ':' || mz_utf8_hidden_len(u) != 0)
            return false;
    }
    return true;
}

static int set_choice(int *dst, const char *key, const char *value, const char *const *names,
                      const char *expected, mz_err *e)
{
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(value, names[i]) == 0) {
            *dst = i;
            return MZ_OK;
        }
    }
    return bad_value(e, key, value, expected);
}

int mz_config_set(struct mz_config *cfg, const char *key, const char *value, mz_err *e)
{
    static const char *const zones[] = {"mynumber", "lgwan", "internet", NULL};
    static const char *const unenrolled[] = {"deny", "ignore", NULL};
    static const char *const syncs[] = {"off", "warn", "require", NULL};
    static const char *const yesno[] = {"no", "yes", NULL};
    int choice = 0;
    int rc;

    if (strcmp(key, "zone") == 0) {
        rc = set_choice(&choice, key, value, zones, "mynumber, lgwan, internet", e);
        if (rc == MZ_OK)
            cfg->zone = (enum mz_zone)choice;
        return rc;
    }
    if (strcmp(key, "store") == 0) {
        if (strncmp(value, "postgresql://", 13) == 0)
            return mz_fail(e, MZ_ERR_CONFIG,
                           _("store: PostgreSQL is not supported yet; give a file path"));
        return set_path(cfg->store, sizeof(cfg->store), key, value, e);
    }
    if (strcmp(key, "key_file") == 0)
        return set_path(cfg->key_file, sizeof(cfg->key_file), key, value, e);
    if (strcmp(key, "issuer") == 0) {
        if (strlen(value) >= sizeof(cfg->issuer) || !valid_issuer(value))
            return bad_value(e, key, value, _("UTF-8 text without ':'"));
        snprintf(cfg->issuer, sizeof(cfg->issuer), "%s", value);
        return MZ_OK;
    }
    if (strcmp(key, "totp_digits") == 0)
        return set_uint(&cfg->totp_digits, key, value, 6, 8, e);
    if (strcmp(key, "totp_period") == 0)
        return set_uint(&cfg->totp_period, key, value, 10, 300, e);
    if (strcmp(key, "totp_window") == 0)
        return set_uint(&cfg->totp_window, key, value, 0, 10, e);
    if (strcmp(key, "max_failures") == 0)
        return set_uint(&cfg->max_failures, key, value, 1, 100, e);
    if (strcmp(key, "lockout") == 0) {
        unsigned long v;
        if (!mz_parse_uint(value, 0, 30UL * 86400, &v))
            return bad_value(e, key, value, "0..2592000");
        cfg->lockout = v;
        return MZ_OK;
    }
    if (strcmp(key, "privileged_group") == 0)
        return set_group(cfg->privileged_group, sizeof(cfg->privileged_group), key, value, e);
    if (strcmp(key, "privileged_max_failures") == 0)
        return set_uint(&cfg->privileged_max_failures, key, value, 1, 100, e);
    if (strcmp(key, "unenrolled") == 0) {
        rc = set_choice(&choice, key, value, unenrolled, "deny, ignore", e);
        if (rc == MZ_OK)
            cfg->unenrolled = (enum mz_unenrolled)choice;
        return rc;
    }
    if (strcmp(key, "recovery_codes") == 0)
        return set_uint(&cfg->recovery_codes, key, value, 0, 100, e);
    if (strcmp(key, "hwkey_slot") == 0)
        return set_uint(&cfg->hwkey_slot, key, value, 1, 2, e);
    if (strcmp(key, "hwkey_touch") == 0) {
        rc = set_choice(&choice, key, value, yesno, "yes, no", e);
        if (rc == MZ_OK)
            cfg->hwkey_touch = choice == 1;
        return rc;
    }
    if (strcmp(key, "time_sync") == 0) {
        rc = set_choice(&choice, key, value, syncs, "off, warn, require", e);
        if (rc == MZ_OK)
            cfg->time_sync = (enum mz_time_sync)choice;
        return rc;
    }
    if (strcmp(key, "staff_group") == 0)
        return set_group(cfg->staff_group, sizeof(cfg->staff_group), key, value, e);
    if (strcmp(key, "stale_days") == 0)
        return set_uint(&cfg->stale_days, key, value, 1, 3650, e);
    if (strcmp(key, "daemon_socket") == 0) {
        if (value[0] == '\0') {
            cfg->daemon_socket[0] = '\0';
            return MZ_OK;
        }
        return set_path(cfg->daemon_socket, sizeof(cfg->daemon_socket), key, value, e);
    }
    return mz_fail(e, MZ_ERR_CONFIG, _("unknown key \"%.64s\""), key);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int mz_config_parse(struct mz_config *cfg, const char *text, size_t len, const char *source,
                    mz_err *e)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return mz_fail(e, MZ_ERR_NOMEM, _("out of memory"));
    memcpy(copy, text, len);
    copy[len] = '\0';

    int rc = MZ_OK;
    unsigned lineno = 0;
    char *line = copy;
    if (memchr(text, '\0', len) != NULL) {
        rc = mz_fail(e, MZ_ERR_CONFIG, _("%s: contains a NUL byte"), source);
        line = NULL;
    } else if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        /* invisible in an editor and in the message "unknown key": say it */
        rc = mz_fail(e, MZ_ERR_CONFIG,
                     _("%s:1: begins with a byte order mark (BOM): save it as UTF-8 without BOM"),
                     source);
        line = NULL;
    }
    while (rc == MZ_OK && line != NULL) {
        char *next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        lineno++;
        char *l = trim(line);
        if (*l != '\0' && *l != '#') {
            char *eq = strchr(l, '=');
            if (eq == NULL) {
                rc = mz_fail(e, MZ_ERR_CONFIG, _("%s:%u: expected key = value"), source, lineno);
                break;
            }
            *eq = '\0';
            char *key = trim(l);
            char *value = trim(eq + 1);
            mz_err inner;
            rc = mz_config_set(cfg, key, value, &inner);
            if (rc != MZ_OK)
                mz_fail(e, rc, "%s:%u: %s", source, lineno, inner.msg);
        }
        line = next;
    }
    free(copy);
    return rc;
}

int mz_config_load_file(struct mz_config *cfg, const char *path, bool must_exist, mz_err *e)
{
    int fd;
    struct stat st;
    if (!must_exist && lstat(path, &st) != 0 && errno == ENOENT) /* a dangling link is no absence */
        return MZ_OK;
    int rc = mz_check_folders(path, NULL, 0, e);
    if (rc == MZ_OK)
        rc = mz_open_checked(path, O_RDONLY, MZ_FILE_CONFIG, &fd, e);
    if (rc != MZ_OK)
        return rc;

    char *buf = malloc(MZ_CONFIG_MAX_BYTES + 1);
    if (buf == NULL) {
        close(fd);
        return mz_fail(e, MZ_ERR_NOMEM, _("out of memory"));
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, MZ_CONFIG_MAX_BYTES + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = mz_fail(e, MZ_ERR_CONFIG, _("%s: cannot read: %s"), path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > MZ_CONFIG_MAX_BYTES) {
            rc =
                mz_fail(e, MZ_ERR_CONFIG, _("%s: larger than %d bytes"), path, MZ_CONFIG_MAX_BYTES);
            break;
        }
    }
    close(fd);
    if (rc == MZ_OK)
        rc = mz_config_parse(cfg, buf, len, path, e);
    free(buf);
    return rc;
}

int mz_config_validate(const struct mz_config *cfg, mz_err *e)
{
    if (cfg->zone == MZ_ZONE_MYNUMBER && cfg->unenrolled == MZ_UNENROLLED_IGNORE)
        return mz_fail(e, MZ_ERR_CONFIG,
                       _("unenrolled = ignore is not allowed in zone mynumber: every login there "
                         "needs a second factor"));
    return MZ_OK;
}

enum mz_clock_verdict mz_time_sync_decide(enum mz_time_sync mode, bool synchronised)
{
    if (synchronised || mode == MZ_TIME_SYNC_OFF)
        return MZ_CLOCK_OK;
    return mode == MZ_TIME_SYNC_REQUIRE ? MZ_CLOCK_DENY : MZ_CLOCK_WARN;
}

int mz_config_from_args(struct mz_config *cfg, int argc, const char **argv, mz_err *e)
{
    const char *path = MZ_DEFAULT_CONFIG;
    bool named = false;
    mz_config_defaults(cfg);
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "config=", 7) == 0) {
            path = argv[i] + 7;
            named = true;
        }
    }
    if (path[0] != '/')
        return mz_fail(e, MZ_ERR_CONFIG, _("config: expected an absolute path"));
    int rc = mz_config_load_file(cfg, path, named, e);
    for (int i = 0; rc == MZ_OK && i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "debug") == 0) {
            cfg->debug = true;
            continue;
        }
        if (strncmp(arg, "config=", 7) == 0)
            continue;
        const char *eq = strchr(arg, '=');
        if (eq == NULL || eq == arg || (size_t)(eq - arg) >= 64) {
            rc = mz_fail(e, MZ_ERR_CONFIG, _("unknown module argument \"%.64s\""), arg);
            break;
        }
        char key[64];
        memcpy(key, arg, (size_t)(eq - arg));
        key[eq - arg] = '\0';
        mz_err inner;
        rc = mz_config_set(cfg, key, eq + 1, &inner);
        if (rc != MZ_OK)
            mz_fail(e, rc, _("module argument: %s"), inner.msg);
    }
    if (rc == MZ_OK)
        rc = mz_config_validate(cfg, e);
    return rc;
}
