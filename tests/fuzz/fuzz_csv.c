/* fuzz_csv: mnzone-enroll import --csv, through the real parsing code.
 *
 * enroll/cmd_import.c keeps its CSV logic in static functions (on_field, on_row,
 * parse_row, check_header, take_oath_secret, parse_file). Rather than a copy that could
 * drift, this target includes that file, with the calls that write (store, audit, QR
 * files) and the ones only the command's option handling uses renamed by the macros
 * below onto stubs defined here. parse_file() then reads the input through libcsv
 * exactly as the command does, from a FILE made with fmemopen. The field rules and the
 * fiscal-year end (enroll/util.c), the pam_oath users lookup (enroll/migrate.c) and
 * lib/ are the real ones.
 *
 * Input: one byte of options (bit 0: no --qr-dir; bit 1: an --oath-usersfile with four
 * users, see oath_users[]), then the CSV file.
 *
 * Properties: every row that reaches the store has a valid login, staff id, name,
 * department, employment and date, and a secret of 10..64 bytes; the store stubs refuse
 * a second row with the same login as the real store does; after a row, no field
 * (the secret column included) is left in memory; an error names the file and a line
 * that exists. */
#include "config.h"

#include "fuzz_common.h"

/* Everything that writes, and what only cmd_import() uses, goes to the stubs below. */
#define mz_store_begin fuzz_store_begin
#define mz_store_add_staff fuzz_store_add_staff
#define mz_store_add_totp fuzz_store_add_totp
#define enroll_audit fuzz_enroll_audit
#define enroll_open fuzz_enroll_open
#define enroll_usage fuzz_enroll_usage
#define enroll_fail fuzz_enroll_fail
#define enroll_exit_code fuzz_enroll_exit_code
#define enroll_commit fuzz_enroll_commit
#define enroll_print_json fuzz_enroll_print_json
#define qr_write_png fuzz_qr_write_png
#define cmd_import fuzz_cmd_import_unused

/* The project builds its sources with -Wno-unused-parameter. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-parameter"
#include "../../enroll/cmd_import.c"
#pragma clang diagnostic pop

#define FILE_NAME "fuzz.csv"
#define OATH_NAME "users.oath"
#define QR_DIR "/nonexistent/qr"
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

static void check_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(b[i] == 0);
}

int fuzz_store_begin(struct mz_store *st, mz_err *e)
{
    (void)st;
    (void)e;
    return MZ_OK;
}

int fuzz_store_add_staff(struct mz_store *st, const struct mz_staff *s, mz_err *e)
{
    (void)st;
    FUZZ_CHECK(mz_valid_login(s->login));
    FUZZ_CHECK(enroll_valid_staff_id(s->staff_id));
    FUZZ_CHECK(enroll_valid_text(s->name, 256, false));
    FUZZ_CHECK(enroll_valid_text(s->dept, 256, true));
    FUZZ_CHECK(s->employment == MZ_EMPLOY_REGULAR || s->employment == MZ_EMPLOY_FISCAL_YEAR ||
               s->employment == MZ_EMPLOY_CONTRACTOR);
    FUZZ_CHECK(s->valid_until[0] == '\0' || mz_valid_date(s->valid_until));
    FUZZ_CHECK(s->status == MZ_STAFF_ACTIVE);
    for (size_t i = 0; i < nlogins; i++)
        if (strcmp(logins[i], s->login) == 0)
            return mz_fail(e, MZ_ERR_EXISTS, "%s: exists already", s->login);
    if (nlogins < MAX_ROWS)
        memcpy(logins[nlogins++], s->login, sizeof(logins[0]));
    return MZ_OK;
}

int fuzz_store_add_totp(struct mz_store *st, const struct mz_keys *keys, const char *login,
                        const uint8_t *secret, size_t len, int64_t last_step, int64_t now,
                        const char *actor, mz_err *e)
{
    (void)st, (void)keys, (void)secret, (void)now, (void)actor, (void)e;
    FUZZ_CHECK(mz_valid_login(login));
    FUZZ_CHECK(len >= MZ_SECRET_MIN && len <= MZ_SECRET_MAX);
    FUZZ_CHECK(last_step == -1);
    rows_stored++;
    return MZ_OK;
}

int fuzz_enroll_audit(struct enroll *en, const char *event, const char *method, const char *user,
                      const char *reason, mz_err *e)
{
    (void)en, (void)event, (void)method, (void)reason, (void)e;
    FUZZ_CHECK(mz_valid_login(user));
    return MZ_OK;
}

int fuzz_qr_write_png(const char *text, const char *path, mz_err *e)
{
    (void)e;
    FUZZ_CHECK(strncmp(text, "otpauth://totp/", 15) == 0);
    FUZZ_CHECK(strncmp(path, QR_DIR "/", sizeof(QR_DIR)) == 0);
    FUZZ_CHECK(strchr(path + sizeof(QR_DIR), '/') == NULL); /* the login cannot leave the folder */
    return MZ_OK;
}

/* Only cmd_import() calls these; it is never called here. */
int fuzz_enroll_open(struct enroll *en, bool with_keys)
{
    (void)en, (void)with_keys;
    abort();
}

int fuzz_enroll_usage(const char *command, const char *fmt, ...)
{
    (void)command, (void)fmt;
    abort();
}

/* enroll/util.c, linked as it is, refers to the real name (enroll_fill_staff); the rows
 * of a CSV never reach that path. */
#undef enroll_usage
int enroll_usage(const char *command, const char *fmt, ...);
int enroll_usage(const char *command, const char *fmt, ...)
{
    (void)command, (void)fmt;
    abort();
}

int fuzz_enroll_fail(int rc, const mz_err *e)
{
    (void)rc, (void)e;
    abort();
}

int fuzz_enroll_exit_code(int rc)
{
    (void)rc;
    abort();
}

int fuzz_enroll_commit(struct enroll *en, int rc, mz_err *e)
{
    (void)en, (void)rc, (void)e;
    abort();
}

void fuzz_enroll_print_json(json_object *j, bool secret)
{
    (void)j, (void)secret;
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
    static struct enroll en;
    static struct import im;
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

    memset(&en, 0, sizeof(en));
    en.now = INT64_C(1775001600); /* 2026-04-01T00:00:00Z */
    snprintf(en.actor, sizeof(en.actor), "fuzz");
    memset(&im, 0, sizeof(im));
    im.en = &en;
    im.file = FILE_NAME;
    /* Bit 0: no --qr-dir (rows without a secret are refused, else they get a new
     * secret and a QR file). Bit 1: --oath-usersfile with the users above. */
    im.qr_dir = flags & 1 ? NULL : QR_DIR;
    if (flags & 2) {
        memcpy(oath_copy, oath_users, sizeof(oath_copy));
        im.oath.v = oath_copy;
        im.oath.n = sizeof(oath_copy) / sizeof(oath_copy[0]);
        im.oath.path = OATH_NAME;
    }
    en.cfg.totp_period = 30;
    en.cfg.totp_digits = 6;
    nlogins = 0;
    rows_stored = 0;

    parse_file(&im, f);

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
            FUZZ_CHECK(im.oath.n > 0); /* a users file line: only with one */
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
