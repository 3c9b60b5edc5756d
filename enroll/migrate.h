/* Reading the secrets of the TOTP tools people run today, for migration:
 * google-authenticator's ~/.google_authenticator and pam_oath's users file. */
#ifndef MIGRATE_H
#define MIGRATE_H

#include "mz_totp.h"

#include <stdbool.h>

/* One line of a pam_oath users file. */
struct oath_user {
    char login[33];
    unsigned long line;
    bool bad;                /* the line names LOGIN but cannot be read: no secret */
    unsigned long also_line; /* another line for LOGIN (pam_oath tries each), or 0 */
    bool totp;               /* HOTP/T<period>...; counter-based HOTP cannot be migrated */
    unsigned period, digits;
    uint8_t secret[MZ_SECRET_MAX];
    size_t len;
};

struct oath_users {
    struct oath_user *v;
    size_t n;
    const char *path;
};

/* Reads PATH (no link followed, at most 64 MiB) into U, sorted by login. A line that
 * cannot be read is kept as BAD under its login (if it has one), and two lines for one
 * login are marked (ALSO_LINE): only the rows they would serve are refused, as pam_oath
 * itself passes over lines of other users. Free with oath_users_free (it zeroes the
 * secrets). */
int oath_users_read(const char *path, struct oath_users *u, mz_err *e);
const struct oath_user *oath_users_find(const struct oath_users *u, const char *login);
void oath_users_free(struct oath_users *u);

/* What a ~/.google_authenticator file says besides its secret. */
enum { GA_WINDOW_SIZE = 1, GA_TIME_SKEW = 2, GA_RATE_LIMIT = 4 };
struct ga_file {
    unsigned scratch;  /* scratch codes: not carried over */
    int64_t last_step; /* the newest step DISALLOW_REUSE lists (used codes), -1 for none */
    unsigned dropped;  /* GA_*: options with no counterpart per user (mnzone.conf rules) */
};

/* Reads a ~/.google_authenticator file: the secret (first line) and, from its option
 * lines, that it is a TOTP secret with PERIOD seconds per code, and INFO. */
int google_authenticator_read(const char *path, unsigned period, uint8_t *secret, size_t *len,
                              struct ga_file *info, mz_err *e);

#endif
