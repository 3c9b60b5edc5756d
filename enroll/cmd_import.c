/* mnzone-enroll import --csv FILE [--qr-dir DIR]: bulk enrolment (every April) and
 * migration of existing secrets. All rows or none: one transaction, and the QR folder
 * is removed again if anything fails. With --qr-dir the file is read twice: first to
 * make the new secrets and draw their QR codes (2 to 3 ms a row, mostly the PNG's
 * fsync), then in the transaction to store the rows. Drawing inside the transaction held
 * the store's write lock for seconds, and logins on every terminal gave up after the
 * 5 s busy timeout (3,000 rows: 7.4 s). */
#include "config.h"

#include "csv_import.h"
#include "enroll.h"
#include "migrate.h"
#include "qr.h"

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

/* A secret made in the first reading, for the second. */
struct made_secret {
    char login[33];
    uint8_t secret[MZ_SECRET_BYTES];
};

/* One import --csv run: the parse, and what the rows go into. */
struct import {
    struct enroll *en;
    const char *qr_dir;
    int qr_fd;              /* the folder made for the QR codes, held open; -1 before */
    struct oath_users oath; /* --oath-usersfile: secrets for rows without one */
    struct csv_import csv;
    struct made_secret *made; /* in the order of the file's rows */
    size_t nmade, cap, next;  /* NEXT: the one the second reading takes next */
};

static int write_qr(struct import *im, const char *login, const uint8_t *secret, size_t len,
                    mz_err *e)
{
    struct enroll *en = im->en;
    char *uri = NULL, path[PATH_MAX];
    if (mz_otpauth_uri(en->cfg.issuer, login, secret, len, en->cfg.totp_digits, en->cfg.totp_period,
                       &uri) != MZ_OK)
        return mz_fail(e, MZ_ERR_NOMEM, _("out of memory"));
    snprintf(path, sizeof(path), "%s.png", login);
    int rc = qr_write_png_at(im->qr_fd, path, uri, e);
    mz_free_string(uri);
    return rc == MZ_OK || rc == MZ_ERR_INPUT ? rc : MZ_ERR_PERM;
}

/* First reading: a new secret for LOGIN, kept for the second. */
static int make_secret(void *arg, const char *login, uint8_t *secret, size_t len, mz_err *e)
{
    struct import *im = arg;
    if (len != MZ_SECRET_BYTES || mz_random(secret, len) != MZ_OK)
        return mz_fail(e, MZ_ERR_CRYPTO, "%s", _("getrandom failed"));
    if (im->nmade == im->cap) {
        size_t cap = im->cap != 0 ? im->cap * 2 : 64;
        struct made_secret *m = calloc(cap, sizeof(*m));
        if (m == NULL)
            return mz_fail(e, MZ_ERR_NOMEM, "%s", _("out of memory"));
        if (im->nmade > 0)
            memcpy(m, im->made, im->nmade * sizeof(*m));
        mz_free_bytes(im->made, im->cap * sizeof(*m)); /* wiped: it held secrets */
        im->made = m;
        im->cap = cap;
    }
    struct made_secret *m = &im->made[im->nmade++];
    snprintf(m->login, sizeof(m->login), "%s", login);
    memcpy(m->secret, secret, len);
    return MZ_OK;
}

/* Second reading: the secret made for LOGIN in the first, in the same order. */
static int recall_secret(void *arg, const char *login, uint8_t *secret, size_t len, mz_err *e)
{
    struct import *im = arg;
    if (im->next >= im->nmade || strcmp(im->made[im->next].login, login) != 0 ||
        len != MZ_SECRET_BYTES)
        return mz_fail(e, MZ_ERR_INPUT, "%s", _("the file changed while it was imported"));
    memcpy(secret, im->made[im->next++].secret, len);
    return MZ_OK;
}

/* First reading, with --qr-dir: the QR code of each row without a secret. */
static int draw_row(void *arg, const struct mz_staff *s, const uint8_t *secret, size_t len,
                    bool have_secret, mz_err *e)
{
    return have_secret ? MZ_OK : write_qr(arg, s->login, secret, len, e);
}

/* A valid row: the staff record, its TOTP credential and an audit event, in the
 * transaction of the whole import. */
static int store_row(void *arg, const struct mz_staff *s, const uint8_t *secret, size_t len,
                     bool have_secret, mz_err *e)
{
    struct import *im = arg;
    struct enroll *en = im->en;
    int rc = mz_store_add_staff(en->st, s, e);
    if (rc == MZ_OK)
        rc = mz_store_add_totp(en->st, &en->keys, s->login, secret, len, -1, en->now, en->actor, e);
    if (rc == MZ_OK)
        rc = enroll_audit(en, "import", "totp", s->login,
                          have_secret ? "imported with its secret" : "imported", e);
    return rc;
}

/* Makes the QR folder (new, 0700) and holds it open: from then on it is used through
 * its descriptor, never by its name, so that a link put in its place (a folder the
 * administrator chose where someone else can write) sends no file elsewhere. */
static int make_qr_dir(struct import *im)
{
    struct stat st;
    if (mkdir(im->qr_dir, 0700) != 0) {
        fprintf(stderr, "mnzone-enroll: %s: %s (%s)\n", im->qr_dir, strerror(errno),
                _("--qr-dir must name a new folder"));
        return EXIT_USAGE;
    }
    im->qr_fd = open(im->qr_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (im->qr_fd < 0 || fstat(im->qr_fd, &st) != 0 || st.st_uid != geteuid() ||
        (st.st_mode & 0077) != 0) {
        fprintf(stderr, "mnzone-enroll: %s: %s\n", im->qr_dir,
                _("the folder was replaced as it was made; nothing was written"));
        if (im->qr_fd >= 0)
            close(im->qr_fd);
        im->qr_fd = -1;
        return EXIT_SYSTEM;
    }
    return EXIT_DONE;
}

/* Removes the QR folder made by this run and everything in it (all written by this run:
 * the folder is new and closed to others), through its descriptor; the name is removed
 * only while it still names that folder. */
static void remove_qr_dir(struct import *im)
{
    struct stat held, named;
    int fd = dup(im->qr_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d != NULL) {
        struct dirent *ent;
        while ((ent = readdir(d)) != NULL)
            if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0)
                unlinkat(im->qr_fd, ent->d_name, 0);
        closedir(d);
    } else if (fd >= 0) {
        close(fd);
    }
    if (fstat(im->qr_fd, &held) == 0 && lstat(im->qr_dir, &named) == 0 &&
        held.st_dev == named.st_dev && held.st_ino == named.st_ino)
        rmdir(im->qr_dir);
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
    const char *staff_opt = NULL; /* a staff member's detail: --google-authenticator only */
    memset(o, 0, sizeof(*o));
    o->dept = o->until = "";
    o->staff.employment = MZ_EMPLOY_REGULAR;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        static const char *const staff_names[] = {"--user", "--staff-id",   "--name",
                                                  "--dept", "--employment", "--valid-until"};
        if (c >= O_USER && c <= O_UNTIL && staff_opt == NULL)
            staff_opt = staff_names[c - O_USER];
        switch (c) {
        case O_CSV: im->csv.file = optarg; break;
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
        default: return enroll_unknown_option("import", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return enroll_usage("import", _("unexpected argument %s"), argv[optind]);
    if (o->ga_file == NULL) {
        if (im->csv.file == NULL)
            return enroll_usage("import", "%s",
                                _("give --csv FILE, or --google-authenticator FILE --user USER"));
        if (staff_opt != NULL) /* the CSV's columns say it for each row */
            return enroll_usage("import", _("%s: not with --csv (the file's columns give it)"),
                                staff_opt);
        return EXIT_DONE;
    }
    if (im->csv.file != NULL || im->qr_dir != NULL || o->oath_file != NULL)
        return enroll_usage("import", "%s",
                            _("--google-authenticator cannot be given with --csv, --qr-dir or "
                              "--oath-usersfile"));
    if (o->user == NULL || !mz_valid_login(o->user))
        return enroll_usage("import", "%s", _("--user: give the login name"));
    const struct staff_fields f = {o->user, o->staff_id, o->name, o->dept, o->until};
    return enroll_fill_staff(en, "import", &f, &o->staff);
}

/* One staff member from a ~/.google_authenticator file: its TOTP secret and the codes
 * it already used (DISALLOW_REUSE), not its scratch codes nor its per-user options. */
static int import_google_authenticator(struct enroll *en, const struct import_opts *o)
{
    uint8_t secret[MZ_SECRET_MAX];
    size_t len = 0;
    struct ga_file ga;
    mz_err e;
    if (en->cfg.totp_digits != 6) /* google-authenticator makes only 6-digit codes */
        return enroll_usage("import",
                            _("google-authenticator codes have 6 digits, but totp_digits is %u: "
                              "enrol the user anew"),
                            en->cfg.totp_digits);
    int rc = google_authenticator_read(o->ga_file, en->cfg.totp_period, secret, &len, &ga, &e);
    if (rc == MZ_OK && ga.last_step > en->now / (int64_t)en->cfg.totp_period + 1)
        rc = mz_fail(&e, MZ_ERR_INPUT, _("%s: DISALLOW_REUSE lists a code of the future"),
                     o->ga_file);
    if (rc != MZ_OK) {
        mz_zero_array(secret);
        return enroll_fail(rc, &e);
    }
    unsigned scratch = ga.scratch;
    int status = enroll_open(en, true);
    if (status == EXIT_DONE) {
        rc = mz_store_begin(en->st, &e);
        if (rc == MZ_OK) {
            rc = mz_store_add_staff(en->st, &o->staff, &e);
            if (rc == MZ_OK)
                /* its used codes stay used: no replay across the migration */
                rc = mz_store_add_totp(en->st, &en->keys, o->staff.login, secret, len, ga.last_step,
                                       en->now, en->actor, &e);
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
        json_object *dropped = json_object_new_array();
        static const char *const names[] = {"WINDOW_SIZE", "TIME_SKEW", "RATE_LIMIT"};
        for (int i = 0; i < 3; i++)
            if (ga.dropped & (1u << i))
                json_object_array_add(dropped, json_object_new_string(names[i]));
        json_object_object_add(j, "options_dropped", dropped);
        enroll_print_json(j, false);
    } else {
        printf(_("Migrated %s from google-authenticator.\n"), o->staff.login);
        if (scratch > 0)
            printf(_("%u scratch codes were not carried over: issue recovery codes with "
                     "mnzone-enroll recovery-codes %s.\n"),
                   scratch, o->staff.login);
        if (ga.dropped != 0)
            printf("%s\n", _("Its WINDOW_SIZE, TIME_SKEW or RATE_LIMIT were not carried over: "
                             "totp_window and the lock-out of mnzone.conf apply to everyone."));
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
    im->qr_fd = -1;
    int status = parse_import(en, argc, argv, im, &o);
    if (status == EXIT_DONE && o.ga_file != NULL)
        status = import_google_authenticator(en, &o);
    if (status != EXIT_DONE || o.ga_file != NULL) {
        free(im);
        return status;
    }
    bool json = o.json;
    struct csv_import *csv = &im->csv;
    if (o.oath_file != NULL && oath_users_read(o.oath_file, &im->oath, &csv->e) != MZ_OK) {
        fprintf(stderr, "mnzone-enroll: %s\n", csv->e.msg);
        free(im);
        return EXIT_USAGE;
    }
    csv->oath = o.oath_file != NULL ? &im->oath : NULL;
    csv->make_secrets = im->qr_dir != NULL;
    csv->now = en->now;
    csv->actor = en->actor;
    csv->totp_period = en->cfg.totp_period;
    csv->totp_digits = en->cfg.totp_digits;
    csv->arg = im;
    int fd = open(csv->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && im->qr_dir != NULL && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd); /* read twice (see the top of this file): a pipe cannot be */
        fd = -1;
        errno = EINVAL;
        fprintf(stderr, "mnzone-enroll: %s: %s\n", csv->file,
                _("with --qr-dir the file is read twice: give a regular file"));
        oath_users_free(&im->oath);
        free(im);
        return EXIT_USAGE;
    }
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (f == NULL) {
        fprintf(stderr, "mnzone-enroll: %s: %s\n", csv->file, strerror(errno));
        if (fd >= 0)
            close(fd);
        oath_users_free(&im->oath);
        free(im);
        return EXIT_USAGE;
    }
    status = enroll_open(en, true);
    if (status == EXIT_DONE && im->qr_dir != NULL)
        status = make_qr_dir(im);
    if (status == EXIT_DONE) {
        int rc = MZ_OK;
        uint8_t first[sizeof(csv->digest)];
        unsigned long first_rows = 0;
        if (im->qr_dir != NULL) { /* the first reading: secrets and QR codes, no lock */
            csv->row = draw_row;
            csv->new_secret = make_secret;
            rc = csv_import_parse(csv, f);
            memcpy(first, csv->digest, sizeof(first));
            first_rows = csv->rows;
            if (rc == MZ_OK && fseek(f, 0, SEEK_SET) != 0)
                rc = mz_fail(&csv->e, MZ_ERR_INPUT, "%s: %s", csv->file, strerror(errno));
            clearerr(f);
            csv->new_secret = recall_secret;
        }
        csv->row = store_row;
        if (rc == MZ_OK)
            rc = mz_store_begin(en->st, &csv->e);
        if (rc == MZ_OK)
            rc = csv_import_parse(csv, f);
        if (rc == MZ_OK && im->qr_dir != NULL &&
            (first_rows != csv->rows || im->next != im->nmade ||
             sodium_memcmp(first, csv->digest, sizeof(first)) != 0))
            rc = mz_fail(&csv->e, MZ_ERR_INPUT, "%s: %s", csv->file,
                         _("the file changed while it was imported"));
        if (rc == MZ_OK && csv->rows == 0)
            rc = mz_fail(&csv->e, MZ_ERR_INPUT, _("%s:%lu: %s"), csv->file, csv->line,
                         _("no staff members in the file"));
        rc = enroll_commit(en, rc, &csv->e);
        if (rc != MZ_OK) {
            if (im->qr_fd >= 0)
                remove_qr_dir(im);
            fprintf(stderr, "mnzone-enroll: %s\n", csv->e.msg);
            fprintf(stderr, "mnzone-enroll: %s\n", _("nothing was imported"));
            status = enroll_exit_code(rc);
        }
    }
    fclose(f);
    if (status == EXIT_DONE && json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "imported", json_object_new_int64((int64_t)csv->rows));
        json_object_object_add(j, "qr_dir", im->qr_dir ? json_object_new_string(im->qr_dir) : NULL);
        enroll_print_json(j, false);
    } else if (status == EXIT_DONE) {
        printf(_("Imported %lu staff members.\n"), csv->rows);
        if (im->qr_dir != NULL)
            printf(_("QR codes for those without a secret are in %s (mode 0700; delete them "
                     "after handing them over).\n"),
                   im->qr_dir);
    }
    if (im->qr_fd >= 0)
        close(im->qr_fd);
    oath_users_free(&im->oath);
    mz_free_bytes(im->made, im->cap * sizeof(*im->made));
    mz_zero_object(im);
    free(im);
    return status;
}
