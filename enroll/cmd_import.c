/* mnzone-enroll import --csv FILE [--qr-dir DIR]: bulk enrolment (every April) and
 * migration of existing secrets. All rows or none: one transaction, and the QR folder
 * is removed again if anything fails. */
#include "config.h"

#include "enroll.h"
#include "migrate.h"
#include "qr.h"

#include <csv.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COLUMNS_MIN 6
#define COLUMNS_MAX 7
#define FIELD_MAX 1024 /* longer fields are refused: nothing legitimate is this long */

static const char *const column_names[COLUMNS_MAX] = {
    "user", "staff_id", "name", "department", "employment", "valid_until", "secret"};

struct import {
    struct enroll *en;
    const char *file;
    const char *qr_dir;
    bool qr_dir_made;
    struct oath_users oath;  /* --oath-usersfile: secrets for rows without one */
    unsigned long line;      /* line where the current record started */
    unsigned long next_line; /* line the parser is on */
    char fields[COLUMNS_MAX][FIELD_MAX + 1];
    int nfields;
    bool overflow;
    unsigned long rows;
    int rc;
    mz_err e;
};

/* Records the first error, naming the file, the line and the field. */
static void row_error(struct import *im, int rc, const char *field, const char *what)
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
    struct import *im = arg;
    if (im->nfields >= COLUMNS_MAX || len > FIELD_MAX) {
        im->overflow = true;
        im->nfields++;
        return;
    }
    memcpy(im->fields[im->nfields], data != NULL ? data : "", data != NULL ? len : 0);
    im->fields[im->nfields][data != NULL ? len : 0] = '\0';
    if (data != NULL && memchr(data, '\0', len) != NULL)
        im->overflow = true;
    im->nfields++;
}

static bool is_header(const struct import *im)
{
    return im->rows == 0 && im->nfields >= 1 && strcmp(im->fields[0], "user") == 0;
}

/* Checks the header row: the columns, in order. */
static void check_header(struct import *im)
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
static bool take_oath_secret(struct import *im, const char *login, uint8_t *secret, size_t *len)
{
    const struct oath_user *o = oath_users_find(&im->oath, login);
    if (o == NULL)
        return false;
    const struct mz_config *cfg = &im->en->cfg;
    if (!o->totp || o->period != cfg->totp_period || o->digits != cfg->totp_digits) {
        if (im->rc == MZ_OK) {
            im->rc = MZ_ERR_INPUT;
            mz_fail(&im->e, MZ_ERR_INPUT,
                    _("%s:%lu: %s uses %s; only TOTP with totp_period and totp_digits can be "
                      "migrated: leave the secret out and use --qr-dir"),
                    im->oath.path, o->line, login,
                    o->totp ? _("another period or length") : _("counter-based HOTP"));
        }
        return false;
    }
    memcpy(secret, o->secret, o->len);
    *len = o->len;
    return true;
}

/* Validates the row into STAFF and SECRET; false after row_error. */
static bool parse_row(struct import *im, struct mz_staff *s, uint8_t *secret, size_t *len,
                      bool *have_secret)
{
    char(*f)[FIELD_MAX + 1] = im->fields;
    memset(s, 0, sizeof(*s));
    if (im->overflow || im->nfields < COLUMNS_MIN || im->nfields > COLUMNS_MAX) {
        row_error(im, MZ_ERR_INPUT, NULL, _("expected 6 or 7 fields"));
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
        enroll_fiscal_year_end(im->en->now, s->valid_until);
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
    } else if (im->qr_dir == NULL) {
        return row_error(im, MZ_ERR_INPUT, "secret",
                         _("no secret: give one, or --qr-dir for new QR codes")),
               false;
    } else if (mz_random(secret, *len) != MZ_OK) {
        return row_error(im, MZ_ERR_CRYPTO, NULL, _("getrandom failed")), false;
    }
    copy_field(s->login, sizeof(s->login), f[0]);
    copy_field(s->staff_id, sizeof(s->staff_id), f[1]);
    copy_field(s->name, sizeof(s->name), f[2]);
    copy_field(s->dept, sizeof(s->dept), f[3]);
    s->status = MZ_STAFF_ACTIVE;
    s->created_at = s->updated_at = im->en->now;
    snprintf(s->created_by, sizeof(s->created_by), "%s", im->en->actor);
    snprintf(s->updated_by, sizeof(s->updated_by), "%s", im->en->actor);
    return true;
}

static void write_qr(struct import *im, const char *login, const uint8_t *secret, size_t len)
{
    struct enroll *en = im->en;
    char *uri = NULL, path[PATH_MAX];
    mz_err e;
    if (mz_otpauth_uri(en->cfg.issuer, login, secret, len, en->cfg.totp_digits, en->cfg.totp_period,
                       &uri) != MZ_OK)
        return row_error(im, MZ_ERR_NOMEM, NULL, _("out of memory"));
    snprintf(path, sizeof(path), "%s/%s.png", im->qr_dir, login);
    int rc = qr_write_png(uri, path, &e);
    mz_free_string(uri);
    if (rc != MZ_OK)
        row_error(im, rc == MZ_ERR_INPUT ? MZ_ERR_INPUT : MZ_ERR_PERM, NULL, e.msg);
}

static void on_row(int terminator, void *arg)
{
    struct import *im = arg;
    struct mz_staff s;
    uint8_t secret[MZ_SECRET_MAX];
    size_t len = 0;
    bool have_secret = false;
    mz_err e;

    if (im->rc == MZ_OK) {
        if (is_header(im)) {
            check_header(im);
        } else if (parse_row(im, &s, secret, &len, &have_secret)) {
            int rc = mz_store_add_staff(im->en->st, &s, &e);
            if (rc == MZ_OK)
                rc = mz_store_add_totp(im->en->st, &im->en->keys, s.login, secret, len, -1,
                                       im->en->now, im->en->actor, &e);
            if (rc == MZ_OK)
                rc = enroll_audit(im->en, "import", "totp", s.login,
                                  have_secret ? "imported with its secret" : "imported", &e);
            if (rc != MZ_OK)
                row_error(im, rc, NULL, e.msg);
            else if (!have_secret)
                write_qr(im, s.login, secret, len);
            im->rows++;
        }
        sodium_memzero(secret, sizeof(secret));
    }
    sodium_memzero(im->fields, sizeof(im->fields));
    im->nfields = 0;
    im->overflow = false;
    im->line = im->next_line + (terminator == -1 ? 0 : 1);
}

/* Removes the QR folder made by this run, and what is in it (only files we wrote). */
static void remove_qr_dir(struct import *im)
{
    DIR *d = opendir(im->qr_dir);
    if (d != NULL) {
        struct dirent *ent;
        while ((ent = readdir(d)) != NULL)
            if (ent->d_name[0] != '.')
                unlinkat(dirfd(d), ent->d_name, 0);
        closedir(d);
    }
    rmdir(im->qr_dir);
}

/* Feeds FILE to libcsv, counting lines so errors can name them. */
static void parse_file(struct import *im, FILE *f)
{
    struct csv_parser p;
    char buf[65536];
    size_t n;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return row_error(im, MZ_ERR_NOMEM, NULL, _("out of memory"));
    im->line = im->next_line = 1;
    bool prev_cr = false;
    while (im->rc == MZ_OK && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        /* Feed libcsv up to each line end so that im->next_line is right when a row
         * ends. A line ends at LF, CRLF or a lone CR (libcsv ends records at each). */
        size_t start = 0;
        for (size_t i = 0; i < n && im->rc == MZ_OK; i++) {
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
}

/* The options of import: the CSV way, or one google-authenticator file. */
struct import_opts {
    const char *oath_file, *ga_file;
    struct mz_staff staff; /* with --google-authenticator */
    const char *staff_id, *name, *dept, *until, *user;
    bool json;
};

static int parse_import(struct enroll *en, int argc, char **argv, struct import *im,
                        struct import_opts *o)
{
    enum { O_CSV = 400, O_QR, O_JSON, O_OATH, O_GA, O_USER, O_ID, O_NAME, O_DEPT, O_EMP, O_UNTIL };
    static const struct option longopts[] = {
        {"csv", required_argument, NULL, O_CSV},
        {"qr-dir", required_argument, NULL, O_QR},
        {"json", no_argument, NULL, O_JSON},
        {"oath-usersfile", required_argument, NULL, O_OATH},
        {"google-authenticator", required_argument, NULL, O_GA},
        {"user", required_argument, NULL, O_USER},
        {"staff-id", required_argument, NULL, O_ID},
        {"name", required_argument, NULL, O_NAME},
        {"dept", required_argument, NULL, O_DEPT},
        {"employment", required_argument, NULL, O_EMP},
        {"valid-until", required_argument, NULL, O_UNTIL},
        {NULL, 0, NULL, 0}};
    int c;
    memset(o, 0, sizeof(*o));
    o->dept = o->until = "";
    o->staff.employment = MZ_EMPLOY_REGULAR;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_CSV: im->file = optarg; break;
        case O_QR: im->qr_dir = optarg; break;
        case O_JSON: o->json = true; break;
        case O_OATH: o->oath_file = optarg; break;
        case O_GA: o->ga_file = optarg; break;
        case O_USER: o->user = optarg; break;
        case O_ID: o->staff_id = optarg; break;
        case O_NAME: o->name = optarg; break;
        case O_DEPT: o->dept = optarg; break;
        case O_UNTIL: o->until = optarg; break;
        case O_EMP:
            if (!mz_employment_parse(optarg, &o->staff.employment))
                return enroll_usage("import", "%s",
                                    _("--employment: expected regular, fiscal-year or contractor"));
            break;
        default:
            return enroll_usage("import", _("unknown or incomplete option %s"), argv[optind - 1]);
        }
    }
    if (optind != argc)
        return enroll_usage("import", _("unexpected argument %s"), argv[optind]);
    if (o->ga_file == NULL) {
        if (im->file == NULL)
            return enroll_usage("import", "%s",
                                _("give --csv FILE, or --google-authenticator FILE --user USER"));
        return EXIT_DONE;
    }
    if (im->file != NULL || im->qr_dir != NULL || o->oath_file != NULL)
        return enroll_usage("import", "%s",
                            _("--google-authenticator goes alone with --user, --staff-id, --name"));
    if (o->user == NULL || !mz_valid_login(o->user))
        return enroll_usage("import", "%s", _("--user: give the login name"));
    const struct staff_fields f = {o->user, o->staff_id, o->name, o->dept, o->until};
    return enroll_fill_staff(en, "import", &f, &o->staff);
}

/* One staff member from a ~/.google_authenticator file: its TOTP secret, nothing else
 * (scratch codes are not carried over). */
static int import_google_authenticator(struct enroll *en, const struct import_opts *o)
{
    uint8_t secret[MZ_SECRET_MAX];
    size_t len = 0;
    unsigned scratch = 0;
    mz_err e;
    int rc = google_authenticator_read(o->ga_file, en->cfg.totp_period, secret, &len, &scratch, &e);
    if (rc != MZ_OK)
        return enroll_fail(rc, &e);
    int status = enroll_open(en, true);
    if (status == EXIT_DONE) {
        rc = mz_store_begin(en->st, &e);
        if (rc == MZ_OK) {
            rc = mz_store_add_staff(en->st, &o->staff, &e);
            if (rc == MZ_OK)
                rc = mz_store_add_totp(en->st, &en->keys, o->staff.login, secret, len, -1, en->now,
                                       en->actor, &e);
            if (rc == MZ_OK)
                rc = enroll_audit(en, "import", "totp", o->staff.login,
                                  "migrated from google-authenticator", &e);
            rc = enroll_commit(en, rc, &e);
        }
        if (rc != MZ_OK)
            status = enroll_fail(rc, &e);
    }
    mz_zero_array(secret);
    if (status != EXIT_DONE)
        return status;
    if (o->json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "imported", json_object_new_int(1));
        json_object_object_add(j, "user", json_object_new_string(o->staff.login));
        json_object_object_add(j, "scratch_codes_dropped", json_object_new_int((int)scratch));
        enroll_print_json(j, false);
    } else {
        printf(_("Migrated %s from google-authenticator.\n"), o->staff.login);
        if (scratch > 0)
            printf(_("%u scratch codes were not carried over: issue recovery codes with "
                     "mnzone-enroll recovery-codes %s.\n"),
                   scratch, o->staff.login);
    }
    return EXIT_DONE;
}

int cmd_import(struct enroll *en, int argc, char **argv)
{
    struct import_opts o;
    struct import *im = calloc(1, sizeof(*im));
    if (im == NULL)
        return EXIT_SYSTEM;
    im->en = en;
    int status = parse_import(en, argc, argv, im, &o);
    if (status == EXIT_DONE && o.ga_file != NULL)
        status = import_google_authenticator(en, &o);
    if (status != EXIT_DONE || o.ga_file != NULL) {
        free(im);
        return status;
    }
    bool json = o.json;
    if (o.oath_file != NULL && oath_users_read(o.oath_file, &im->oath, &im->e) != MZ_OK) {
        fprintf(stderr, "mnzone-enroll: %s\n", im->e.msg);
        free(im);
        return EXIT_USAGE;
    }
    int fd = open(im->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (f == NULL) {
        fprintf(stderr, "mnzone-enroll: %s: %s\n", im->file, strerror(errno));
        if (fd >= 0)
            close(fd);
        oath_users_free(&im->oath);
        free(im);
        return EXIT_USAGE;
    }
    status = enroll_open(en, true);
    if (status == EXIT_DONE && im->qr_dir != NULL) {
        if (mkdir(im->qr_dir, 0700) != 0) {
            fprintf(stderr, "mnzone-enroll: %s: %s (%s)\n", im->qr_dir, strerror(errno),
                    _("--qr-dir must name a new folder"));
            status = EXIT_USAGE;
        }
        im->qr_dir_made = status == EXIT_DONE;
    }
    if (status == EXIT_DONE) {
        im->rc = mz_store_begin(en->st, &im->e);
        if (im->rc == MZ_OK)
            parse_file(im, f);
        if (im->rc == MZ_OK && im->rows == 0)
            row_error(im, MZ_ERR_INPUT, NULL, _("no staff members in the file"));
        im->rc = enroll_commit(en, im->rc, &im->e);
        if (im->rc != MZ_OK) {
            if (im->qr_dir_made)
                remove_qr_dir(im);
            fprintf(stderr, "mnzone-enroll: %s\n", im->e.msg);
            fprintf(stderr, "mnzone-enroll: %s\n", _("nothing was imported"));
            status = enroll_exit_code(im->rc);
        }
    }
    fclose(f);
    if (status == EXIT_DONE && json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "imported", json_object_new_int64((int64_t)im->rows));
        json_object_object_add(j, "qr_dir", im->qr_dir ? json_object_new_string(im->qr_dir) : NULL);
        enroll_print_json(j, false);
    } else if (status == EXIT_DONE) {
        printf(_("Imported %lu staff members.\n"), im->rows);
        if (im->qr_dir != NULL)
            printf(_("QR codes for those without a secret are in %s (mode 0700; delete them "
                     "after handing them over).\n"),
                   im->qr_dir);
    }
    oath_users_free(&im->oath);
    mz_zero_object(im);
    free(im);
    return status;
}
