/* fuzz_csv: mnzone-enroll import --csv, through the real parsing code.
 *
 * enroll/csv_import.c is the whole CSV side of the command: libcsv, line counting, the
 * header, the field rules, secrets from the row or from a pam_oath users file; it hands
 * each valid row to a callback, which in the command stores it and here checks it. The
 * field rules and the fiscal-year end (enroll/util.c), the pam_oath users lookup
 * (enroll/migrate.c) and lib/ are the real ones.
 *
 * Input: one byte of options (bit 0: no --qr-dir; bit 1: an --oath-usersfile with four
 * users, see oath_users[]), then the CSV file.
 *
 * Properties: every row handed over has a valid login, staff id, name, department,
 * employment and date, and a secret of 10..64 bytes; the callback refuses a second row
 * with the same login as the real store does; after the parse, no field (the secret
 * column included) is left in memory; an error names the file and a line that exists. */
#include "config.h"

#include "fuzz_common.h"

#include "csv_import.h"
#include "enroll.h"

#define FILE_NAME "fuzz.csv"
#define OATH_NAME "users.oath"
#define MAX_ROWS 64

/* --oath-usersfile as oath_users_read leaves it (sorted by login): rows without a
 * secret for these logins take theirs, or fail for the ones that cannot migrate. */
static const struct oath_user oath_users[] = {
    {.login = "hotp", .line = 1, .totp = false, .period = 0, .digits = 6, .len = 20},
    {.login = "ito", .line = 2, .totp = true, .period = 30, .digits = 6, .len = 20},
    {.login = "sato", .line = 3, .totp = true, .period = 30, .digits = 6, .len = 32},
    {.login = "t60", .line = 4, .totp = true, .period = 60, .digits = 6, .len = 20},
};
static struct oath_user oath_copy[sizeof(oath_users) / sizeof(oath_users[0])];

static char logins[MAX_ROWS][33];
static size_t nlogins;
static unsigned long rows_stored;
static bool make_secrets;

static void check_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(b[i] == 0);
}

/* The command's store, checked: what reaches it must be a whole, valid record. */
static int check_row(void *arg, const struct mz_staff *s, const uint8_t *secret, size_t len,
                     bool have_secret, mz_err *e)
{
    (void)arg;
    (void)secret;
    FUZZ_CHECK(mz_valid_login(s->login));
    FUZZ_CHECK(enroll_valid_staff_id(s->staff_id));
    FUZZ_CHECK(enroll_valid_text(s->name, 256, false));
    FUZZ_CHECK(enroll_valid_text(s->dept, 256, true));
    FUZZ_CHECK(s->employment == MZ_EMPLOY_REGULAR || s->employment == MZ_EMPLOY_FISCAL_YEAR ||
               s->employment == MZ_EMPLOY_CONTRACTOR);
    FUZZ_CHECK(s->valid_until[0] == '\0' || mz_valid_date(s->valid_until));
    FUZZ_CHECK(s->status == MZ_STAFF_ACTIVE);
    FUZZ_CHECK(len >= MZ_SECRET_MIN && len <= MZ_SECRET_MAX);
    FUZZ_CHECK(have_secret || make_secrets); /* a secret made here only with --qr-dir */
    for (size_t i = 0; i < nlogins; i++)
        if (strcmp(logins[i], s->login) == 0)
            return mz_fail(e, MZ_ERR_EXISTS, "%s: exists already", s->login);
    if (nlogins < MAX_ROWS)
        memcpy(logins[nlogins++], s->login, sizeof(logins[0]));
    rows_stored++;
    return MZ_OK;
}

/* enroll/util.c, linked as it is, refers to enroll_usage (for enroll_fill_staff); the
 * rows of a CSV never reach that path. */
int enroll_usage(const char *command, const char *fmt, ...);
int enroll_usage(const char *command, const char *fmt, ...)
{
    (void)command, (void)fmt;
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    mz_err e;
    return mz_crypto_init(&e) == MZ_OK ? 0 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct csv_import im;
    static struct oath_users oath;
    /* The first byte chooses the options; the rest is the CSV file. */
    uint8_t flags = size > 0 ? data[0] : 0;
    if (size > 0)
        data++, size--;
    char *copy = malloc(size > 0 ? size : 1); /* fmemopen wants a writable buffer */
    if (copy == NULL)
        abort();
    if (size > 0)
        memcpy(copy, data, size);
    FILE *f = fmemopen(copy, size, "r");
    if (f == NULL)
        abort();

    memset(&im, 0, sizeof(im));
    im.file = FILE_NAME;
    im.now = INT64_C(1775001600); /* 2026-04-01T00:00:00Z */
    im.actor = "fuzz";
    im.totp_period = 30;
    im.totp_digits = 6;
    im.row = check_row;
    /* Bit 0: no --qr-dir (rows without a secret are refused, else they get a new
     * secret). Bit 1: --oath-usersfile with the users above. */
    make_secrets = (flags & 1) == 0;
    im.make_secrets = make_secrets;
    if (flags & 2) {
        memcpy(oath_copy, oath_users, sizeof(oath_copy));
        oath.v = oath_copy;
        oath.n = sizeof(oath_copy) / sizeof(oath_copy[0]);
        oath.path = OATH_NAME;
        im.oath = &oath;
    }
    nlogins = 0;
    rows_stored = 0;

    csv_import_parse(&im, f);

    /* Lines as an editor shows them: ends at LF, CR LF, or a lone CR (libcsv ends a
     * record at each). See tests/fuzz/crashers/README.md for what a file with lone CRs
     * gets as line numbers. */
    unsigned long lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n' || (data[i] == '\r' && (i + 1 == size || data[i + 1] != '\n'));
    if (im.rc == MZ_OK) {
        FUZZ_CHECK(im.rows == rows_stored);
        /* on_row wipes the fields of every row, the secrets column with them. */
        check_zero(im.fields, sizeof(im.fields));
    } else {
        FUZZ_CHECK(im.rc == MZ_ERR_INPUT || im.rc == MZ_ERR_EXISTS || im.rc == MZ_ERR_NOMEM);
        FUZZ_CHECK(memchr(im.e.msg, '\0', sizeof(im.e.msg)) != NULL);
        if (strncmp(im.e.msg, OATH_NAME ":", sizeof(OATH_NAME)) == 0) {
            FUZZ_CHECK(im.oath != NULL); /* a users file line: only with one */
        } else {
            FUZZ_CHECK(strncmp(im.e.msg, FILE_NAME ":", sizeof(FILE_NAME)) == 0);
            char *end = NULL;
            unsigned long line = strtoul(im.e.msg + sizeof(FILE_NAME), &end, 10);
            FUZZ_CHECK(end != NULL && *end == ':');
            FUZZ_CHECK(line >= 1 && line <= lines);
        }
    }
    FUZZ_CHECK(im.line >= 1 && im.line <= lines + 1);
    fclose(f);
    free(copy);
    return 0;
}
