/* Configuration: defaults, then /etc/security/mnzone.conf, then module arguments,
 * all through one setter that refuses unknown keys and bad values. */
#ifndef MZ_CONFIG_H
#define MZ_CONFIG_H

#include "mz_util.h"

#include <limits.h>
#include <stdbool.h>

#define MZ_DEFAULT_CONFIG "/etc/security/mnzone.conf"
#define MZ_DEFAULT_STORE "/var/lib/mnzone/mnzone.db"
#define MZ_DEFAULT_KEY_FILE "/etc/security/mnzone.key"
#define MZ_DEFAULT_DAEMON_SOCKET "/run/mnzone/mnzoned.sock"
/* sun_path holds 108 bytes with the NUL. */
#define MZ_SOCKET_PATH_MAX 108
/* Larger configuration files are refused (a config is a few hundred bytes). */
#define MZ_CONFIG_MAX_BYTES (64 * 1024)

enum mz_zone { MZ_ZONE_MYNUMBER, MZ_ZONE_LGWAN, MZ_ZONE_INTERNET };
enum mz_unenrolled { MZ_UNENROLLED_DENY, MZ_UNENROLLED_IGNORE };
enum mz_time_sync { MZ_TIME_SYNC_OFF, MZ_TIME_SYNC_WARN, MZ_TIME_SYNC_REQUIRE };

struct mz_config {
    enum mz_zone zone;
    char store[PATH_MAX];
    char key_file[PATH_MAX];
    char issuer[256];
    unsigned totp_digits;
    unsigned totp_period;
    unsigned totp_window;
    unsigned max_failures;
    unsigned long lockout; /* seconds; 0 = until an administrator unlocks */
    char privileged_group[64];
    unsigned privileged_max_failures;
    enum mz_unenrolled unenrolled;
    unsigned recovery_codes;
    unsigned hwkey_slot;
    bool hwkey_touch;
    enum mz_time_sync time_sync;
    char staff_group[64];
    unsigned stale_days;
    char daemon_socket[MZ_SOCKET_PATH_MAX]; /* mnzoned; empty: never ask it */
    bool debug;
};

void mz_config_defaults(struct mz_config *cfg);

/* Sets KEY to VALUE; unknown keys and bad values are errors that say which and why. */
int mz_config_set(struct mz_config *cfg, const char *key, const char *value, mz_err *e);

/* Reads PATH (checked: no link, root-owned, not writable by others). When MUST_EXIST is
 * false a missing file leaves the defaults. Errors name PATH and the line. */
int mz_config_load_file(struct mz_config *cfg, const char *path, bool must_exist, mz_err *e);

/* Parses the text of a configuration file; SOURCE names it in errors. */
int mz_config_parse(struct mz_config *cfg, const char *text, size_t len, const char *source,
                    mz_err *e);

/* Rules across keys, checked once everything is set (e.g. zone mynumber refuses
 * unenrolled = ignore). */
int mz_config_validate(const struct mz_config *cfg, mz_err *e);

/* What time_sync = MODE asks for when the kernel says the clock is (not) SYNCHRONISED. */
enum mz_clock_verdict { MZ_CLOCK_OK, MZ_CLOCK_WARN, MZ_CLOCK_DENY };
enum mz_clock_verdict mz_time_sync_decide(enum mz_time_sync mode, bool synchronised);

/* The module's way: defaults, the file (config=PATH or the default), then each
 * key=value argument and `debug`, then validation. */
int mz_config_from_args(struct mz_config *cfg, int argc, const char **argv, mz_err *e);

#endif
