/* The CSV side of mnzone-enroll import --csv: libcsv reads the file, each row is
 * checked into a staff record and a secret and handed to the caller's callback, which
 * stores it. Nothing here touches the store, QR files or JSON, so that the fuzz target
 * (tests/fuzz/fuzz_csv.c) drives exactly this code. */
#include "config.h"

#include "csv_import.h"
#include "enroll.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define COLUMNS_MIN 6
#define COLUMNS_MAX CSV_IMPORT_COLUMNS_MAX
#define FIELD_MAX CSV_IMPORT_FIELD_MAX

static const char *const column_names[COLUMNS_MAX] = {
    "user", "staff_id", "name", "department", "employment", "valid_until", "secret"};

/* Records the first error, naming the file, the line and the field. */
static void row_error(struct csv_import *im, int rc, const char *field, const char *what)
{
    if (im->rc != MZ_OK)
        return;
    im->rc = rc;
    if (field != NULL)
        mz_fail(&im->e, rc, _("%s:%lu: %s: %s"), im->file, im->line, field, what);
    else
        mz_fail(&im->e, rc, _("%s:%lu: %s"), im->file, im->line, what);
}

static void on_field(void *data, size_t len, void *arg)
{
    struct csv_import *im = arg;
    if (im->nfields == 0) /* libcsv passes blank lines by: the record starts here */
        im->line = im->next_line;
    if (im->nfields >= COLUMNS_MAX) {
        im->overflow = true;
        im->nfields++;
        return;
    }
    bool nul = data != NULL && memchr(data, '\0', len) != NULL;
    if ((len > FIELD_MAX || nul) && im->bad_field < 0) {
        im->bad_field = im->nfields;
        im->bad_nul = nul;
    }
    if (len > FIELD_MAX) {
        im->nfields++;
        return;
    }
    memcpy(im->fields[im->nfields], data != NULL ? data : "", data != NULL ? len : 0);
    im->fields[im->nfields][data != NULL ? len : 0] = '\0';
    im->nfields++;
}

static bool is_header(const struct csv_import *im)
{
    return im->rows == 0 && im->nfields >= 1 && strcmp(im->fields[0], "user") == 0;
}

/* Checks the header row: the columns, in order. */
static void check_header(struct csv_import *im)
{
    bool ok = im->nfields >= COLUMNS_MIN && im->nfields <= COLUMNS_MAX;
    for (int i = 0; ok && i < im->nfields; i++)
        ok = strcmp(im->fields[i], column_names[i]) == 0;
    if (!ok)
        row_error(im, MZ_ERR_INPUT, NULL,
                  _("the header must be user,staff_id,name,department,employment,valid_until"
                    "[,secret]"));
}

/* Copies a field already checked to fit. */
static void copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The secret of LOGIN from the pam_oath users file, if it has one that fits. */
static bool take_oath_secret(struct csv_import *im, const char *login, uint8_t *secret, size_t *len)
{
    const struct oath_user *o = im->oath != NULL ? oath_users_find(im->oath, login) : NULL;
    if (o == NULL)
        return false;
    if ((o->bad || o->also_line != 0) && im->rc == MZ_OK) {
        im->rc = MZ_ERR_INPUT;
        if (o->bad)
            mz_fail(&im->e, MZ_ERR_INPUT,
                    _("%s:%lu: %s: expected TYPE USER PIN HEXSECRET (pam_oath users file)"),
                    im->oath->path, o->line, login);
        else
            mz_fail(&im->e, MZ_ERR_INPUT,
                    _("%s:%lu and %lu: two lines for %s (pam_oath tries each): give the row the "
                      "secret in use, or import that row on its own without --oath-usersfile, "
                      "with --qr-dir"),
                    im->oath->path, o->line < o->also_line ? o->line : o->also_line,
                    o->line < o->also_line ? o->also_line : o->line, login);
        return false;
    }
    if (o->bad || o->also_line != 0)
        return false;
    if (!o->totp || o->period != im->totp_period || o->digits != im->totp_digits) {
        if (im->rc == MZ_OK) {
            im->rc = MZ_ERR_INPUT;
            mz_fail(&im->e, MZ_ERR_INPUT,
                    _("%s:%lu: %s uses %s; only TOTP with totp_period and totp_digits can be "
                      "migrated: import that row on its own without --oath-usersfile, with "
                      "--qr-dir"),
                    im->oath->path, o->line, login,
                    o->totp ? _("another period or length") : _("counter-based HOTP"));
        }
        return false;
    }
    memcpy(secret, o->secret, o->len);
    *len = o->len;
    return true;
}

/* Validates the row into STAFF and SECRET; false after row_error. */
static bool parse_row(struct csv_import *im, struct mz_staff *s, uint8_t *secret, size_t *len,
                      bool *have_secret)
{
    char(*f)[FIELD_MAX + 1] = im->fields;
    memset(s, 0, sizeof(*s));
    if (im->overflow || im->nfields < COLUMNS_MIN || im->nfields > COLUMNS_MAX) {
        row_error(im, MZ_ERR_INPUT, NULL, _("expected 6 or 7 fields"));
        return false;
    }
    if (im->bad_field >= 0) {
        row_error(im, MZ_ERR_INPUT, column_names[im->bad_field],
                  im->bad_nul ? _("holds a NUL byte") : _("longer than 1024 bytes"));
        return false;
    }
    if (!mz_valid_login(f[0]))
        return row_error(im, MZ_ERR_INPUT, "user", _("not a valid login name")), false;
    if (!enroll_valid_staff_id(f[1]))
        return row_error(im, MZ_ERR_INPUT, "staff_id", _("1 to 64 letters, digits, - or _")), false;
    if (!enroll_valid_text(f[2], 256, false))
        return row_error(im, MZ_ERR_INPUT, "name", _("UTF-8 text of 1 to 256 bytes")), false;
    if (!enroll_valid_text(f[3], 256, true))
        return row_error(im, MZ_ERR_INPUT, "department", _("UTF-8 text of at most 256 bytes")),
               false;
    if (f[4][0] == '\0')
        s->employment = MZ_EMPLOY_REGULAR;
    else if (!mz_employment_parse(f[4], &s->employment))
        return row_error(im, MZ_ERR_INPUT, "employment",
                         _("expected regular, fiscal-year or contractor")),
               false;
    if (strcmp(f[5], "fiscal-year-end") == 0)
        enroll_fiscal_year_end(im->now, s->valid_until);
    else if (f[5][0] != '\0' && !mz_valid_date(f[5]))
        return row_error(im, MZ_ERR_INPUT, "valid_until", _("give YYYY-MM-DD or fiscal-year-end")),
               false;
    else
        snprintf(s->valid_until, sizeof(s->valid_until), "%s", f[5]);
    *have_secret = im->nfields == 7 && f[6][0] != '\0';
    *len = MZ_SECRET_BYTES;
    if (*have_secret) {
        bool ok = mz_base32_decode(f[6], secret, MZ_SECRET_MAX, len) && *len >= MZ_SECRET_MIN;
        sodium_memzero(f[6], sizeof(f[6]));
        if (!ok)
            return row_error(im, MZ_ERR_INPUT, "secret",
                             _("base32 of at least 80 bits (16 characters)")),
                   false;
    } else if (take_oath_secret(im, f[0], secret, len)) {
        *have_secret = true;
    } else if (im->rc != MZ_OK) {
        return false;
    } else if (!im->make_secrets) {
        return row_error(im, MZ_ERR_INPUT, "secret",
                         _("no secret: give one, or --qr-dir for new QR codes")),
               false;
    } else if (im->new_secret == NULL && mz_random(secret, *len) != MZ_OK) {
        return row_error(im, MZ_ERR_CRYPTO, NULL, _("getrandom failed")), false;
    } else if (im->new_secret != NULL) {
        mz_err e;
        int rc = im->new_secret(im->arg, f[0], secret, *len, &e);
        if (rc != MZ_OK)
            return row_error(im, rc, NULL, e.msg), false;
    }
    copy_field(s->login, sizeof(s->login), f[0]);
    copy_field(s->staff_id, sizeof(s->staff_id), f[1]);
    copy_field(s->name, sizeof(s->name), f[2]);
    copy_field(s->dept, sizeof(s->dept), f[3]);
    s->status = MZ_STAFF_ACTIVE;
    s->created_at = s->updated_at = im->now;
    snprintf(s->created_by, sizeof(s->created_by), "%s", im->actor);
    snprintf(s->updated_by, sizeof(s->updated_by), "%s", im->actor);
    return true;
}

static void on_row(int terminator, void *arg)
{
    struct csv_import *im = arg;
    struct mz_staff s;
    uint8_t secret[MZ_SECRET_MAX];
    size_t len = 0;
    bool have_secret = false;
    mz_err e;

    if (im->rc == MZ_OK) {
        if (is_header(im)) {
            check_header(im);
        } else if (parse_row(im, &s, secret, &len, &have_secret)) {
            int rc = im->row(im->arg, &s, secret, len, have_secret, &e);
            if (rc != MZ_OK)
                row_error(im, rc, NULL, e.msg);
            im->rows++;
        }
        sodium_memzero(secret, sizeof(secret));
    }
    sodium_memzero(im->fields, sizeof(im->fields));
    im->nfields = 0;
    im->overflow = false;
    im->bad_field = -1;
    im->line = im->next_line + (terminator == -1 ? 0 : 1);
}

int csv_import_parse(struct csv_import *im, FILE *f)
{
    struct csv_parser p;
    char buf[65536];
    size_t n;
    crypto_generichash_state digest;
    crypto_generichash_init(&digest, NULL, 0, sizeof(im->digest));
    im->rc = MZ_OK;
    im->rows = 0;
    im->nfields = 0;
    im->overflow = false;
    im->bad_field = -1;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        row_error(im, MZ_ERR_NOMEM, NULL, _("out of memory"));
        return im->rc;
    }
    im->line = im->next_line = 1;
    bool prev_cr = false, first = true;
    while (im->rc == MZ_OK && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        crypto_generichash_update(&digest, (const unsigned char *)buf, n);
        /* Feed libcsv up to each line end so that im->next_line is right when a row
         * ends. A line ends at LF, CRLF or a lone CR (libcsv ends records at each). */
        size_t start = 0;
        /* "CSV UTF-8" from a spreadsheet begins with a byte order mark: not part of the
         * first login */
        if (first && n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
            start = 3;
        first = false;
        for (size_t i = start; i < n && im->rc == MZ_OK; i++) {
            bool ends = buf[i] == '\r' || (buf[i] == '\n' && !prev_cr);
            prev_cr = buf[i] == '\r';
            if (!ends)
                continue;
            if (csv_parse(&p, buf + start, i + 1 - start, on_field, on_row, im) != i + 1 - start)
                row_error(im, MZ_ERR_INPUT, NULL, csv_strerror(csv_error(&p)));
            im->next_line++;
            start = i + 1;
        }
        if (im->rc == MZ_OK && start < n &&
            csv_parse(&p, buf + start, n - start, on_field, on_row, im) != n - start)
            row_error(im, MZ_ERR_INPUT, NULL, csv_strerror(csv_error(&p)));
    }
    if (im->rc == MZ_OK && ferror(f))
        row_error(im, MZ_ERR_INPUT, NULL, strerror(errno));
    if (im->rc == MZ_OK && csv_fini(&p, on_field, on_row, im) != 0)
        row_error(im, MZ_ERR_INPUT, NULL, csv_strerror(csv_error(&p)));
    if (p.entry_buf != NULL) /* it held the secrets column */
        sodium_memzero(p.entry_buf, p.entry_size);
    csv_free(&p);
    sodium_memzero(buf, sizeof(buf));
    crypto_generichash_final(&digest, im->digest, sizeof(im->digest));
    sodium_memzero(&digest, sizeof(digest)); /* it saw the secrets column */
    return im->rc;
}
