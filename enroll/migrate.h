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
    bool totp; /* HOTP/T<period>...; counter-based HOTP cannot be migrated */
    unsigned period, digits;
    uint8_t secret[MZ_SECRET_MAX];
    size_t len;
};

struct oath_users {
    struct oath_user *v;
    size_t n;
    const char *path;
};

/* Reads PATH (no link followed, at most 64 MiB) into U, sorted by login. Errors name
 * PATH:LINE. Free with oath_users_free (it zeroes the secrets). */
int oath_users_read(const char *path, struct oath_users *u, mz_err *e);
const struct oath_user *oath_users_find(const struct oath_users *u, const char *login);
void oath_users_free(struct oath_users *u);

/* Reads a ~/.google_authenticator file: the secret (first line) and, from its option
 * lines, that it is a TOTP secret with PERIOD seconds per code. *SCRATCH counts the
 * scratch codes, which are not carried over. */
int google_authenticator_read(const char *path, unsigned period, uint8_t *secret, size_t *len,
                              unsigned *scratch, mz_err *e);

#endif
