/* mnzone-enroll import --csv, the parsing: rows of a CSV file checked into staff records
 * and secrets, one callback per row. */
#ifndef CSV_IMPORT_H
#define CSV_IMPORT_H

#include "migrate.h"
#include "mz_store.h"

#include <stdbool.h>
#include <stdio.h>

#define CSV_IMPORT_COLUMNS_MAX 7
#define CSV_IMPORT_FIELD_MAX 1024 /* longer fields are refused: nothing legitimate is this long */

/* Called for each valid row, never for the header. HAVE_SECRET is false when SECRET was
 * made here (rows without one, with make_secrets): the caller shows it as a QR code.
 * Returns MZ_OK, or an error with E set, which ends the parse (named by file and line). */
typedef int (*csv_import_row_fn)(void *arg, const struct mz_staff *s, const uint8_t *secret,
                                 size_t len, bool have_secret, mz_err *e);
/* Makes the new secret (LEN bytes) of LOGIN, a row without one; NULL: getrandom. Returns
 * MZ_OK, or an error with E set. */
typedef int (*csv_import_secret_fn)(void *arg, const char *login, uint8_t *secret, size_t len,
                                    mz_err *e);

struct csv_import {
    /* Set by the caller. */
    const char *file;                  /* named in messages */
    const struct oath_users *oath;     /* secrets for rows without one; NULL for none */
    bool make_secrets;                 /* a row without a secret gets a new one (--qr-dir) */
    int64_t now;                       /* fiscal-year-end and the records' times */
    const char *actor;                 /* the records' created_by */
    unsigned totp_period, totp_digits; /* what a migrated pam_oath secret must use */
    csv_import_row_fn row;
    csv_import_secret_fn new_secret;
    void *arg;
    /* Set by csv_import_parse. */
    unsigned long rows; /* rows handed to ROW */
    unsigned long line; /* where the current record started: the line an error names */
    int rc;             /* MZ_OK or the first error */
    mz_err e;
    uint8_t digest[32]; /* BLAKE2b of every byte read: a second parse must read the same */
    /* The parser's own: each row's fields (the secrets column among them), wiped after
     * the row; here so that a test can check that. */
    unsigned long next_line;
    char fields[CSV_IMPORT_COLUMNS_MAX][CSV_IMPORT_FIELD_MAX + 1];
    int nfields;
    bool overflow; /* more fields than columns */
    int bad_field; /* the first field too long or holding a NUL, or -1 */
    bool bad_nul;  /* that field holds a NUL (else it is too long) */
};

/* Reads F (the whole file) through libcsv and hands each valid row to IM->row. Stops at
 * the first error, which IM->e names as FILE:LINE[: FIELD]: WHAT. Returns IM->rc. */
int csv_import_parse(struct csv_import *im, FILE *f);

#endif
