/* mnzone-enroll add: enrol a staff member with a TOTP secret. The credential is stored
 * only once the first code from the app was right (or --no-verify was given). */
#include "config.h"

#include "enroll.h"
#include "qr.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CODE_TRIES 3

struct add_opts {
    struct mz_staff staff;
    const char *secret_b32;
    const char *qr_png;
    const char *qr_svg;
    const char *code;
    bool no_verify;
    bool json;
    bool png_written, svg_written; /* files this run created, removed if it fails */
};

/* Staff ids (職員番号): letters, digits, '-' and '_', 1 to 64 of them. */
static bool valid_staff_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* Names and departments: UTF-8 text without control characters. */
static bool valid_text(const char *s, size_t max, bool may_be_empty)
{
    size_t n = strlen(s);
    if ((n == 0 && !may_be_empty) || n > max || !mz_valid_utf8(s))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* The next 31 March on or after NOW: the end of the Japanese fiscal year. */
static void fiscal_year_end(int64_t now, char buf[11])
{
    struct tm tm;
    time_t t = (time_t)now;
    localtime_r(&t, &tm);
    int year = tm.tm_year + 1900 + (tm.tm_mon >= 3 ? 1 : 0);
    snprintf(buf, 11, "%04u-03-31", (unsigned)year % 10000u);
}

static int parse(struct enroll *en, int argc, char **argv, struct add_opts *o)
{
    static const struct option longopts[] = {
        {"staff-id", required_argument, NULL, 's'}, {"name", required_argument, NULL, 'n'},
        {"dept", required_argument, NULL, 'd'},     {"employment", required_argument, NULL, 'e'},
        {"valid-until", required_argument, NULL, 'v'}, {"method", required_argument, NULL, 'm'},
        {"secret", required_argument, NULL, 'S'},   {"qr-png", required_argument, NULL, 'P'},
        {"qr-svg", required_argument, NULL, 'G'},   {"code", required_argument, NULL, 'c'},
        {"no-verify", no_argument, NULL, 'N'},      {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0}};
    const char *staff_id = NULL, *name = NULL, *dept = "", *until = "";
    int c;
    memset(o, 0, sizeof(*o));
    o->staff.employment = MZ_EMPLOY_REGULAR;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's': staff_id = optarg; break;
        case 'n': name = optarg; break;
        case 'd': dept = optarg; break;
        case 'e':
            if (!mz_employment_parse(optarg, &o->staff.employment))
                return enroll_usage("add", _("--employment: expected regular, fiscal-year or contractor"));
            break;
        case 'v': until = optarg; break;
        case 'm':
            if (strcmp(optarg, "totp") != 0)
                return enroll_usage("add", _("--method: only totp is available in this version"));
            break;
        case 'S': o->secret_b32 = optarg; break;
        case 'P': o->qr_png = optarg; break;
        case 'G': o->qr_svg = optarg; break;
        case 'c': o->code = optarg; break;
        case 'N': o->no_verify = true; break;
        case 'j': o->json = true; break;
        default:
            return enroll_usage("add", _("unknown or incomplete option %s"), argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return enroll_usage("add", "%s", _("give exactly one USER"));
    const char *login = argv[optind];
    if (!mz_valid_login(login))
        return enroll_usage("add", _("USER: \"%s\" is not a valid login name"), login);
    if (staff_id == NULL || !valid_staff_id(staff_id))
        return enroll_usage("add", "%s", _("--staff-id: give 1 to 64 letters, digits, - or _"));
    if (name == NULL || !valid_text(name, 256, false))
        return enroll_usage("add", "%s", _("--name: give the full name (UTF-8, at most 256 bytes)"));
    if (!valid_text(dept, 256, true))
        return enroll_usage("add", "%s", _("--dept: UTF-8 text of at most 256 bytes"));
    if (strcmp(until, "fiscal-year-end") == 0)
        fiscal_year_end(en->now, o->staff.valid_until);
    else if (until[0] != '\0' && !mz_valid_date(until))
        return enroll_usage("add", "%s", _("--valid-until: give YYYY-MM-DD or fiscal-year-end"));
    else
        snprintf(o->staff.valid_until, sizeof(o->staff.valid_until), "%s", until);
    if (o->code != NULL && o->no_verify)
        return enroll_usage("add", "%s", _("--code and --no-verify exclude each other"));
    snprintf(o->staff.login, sizeof(o->staff.login), "%s", login);
    snprintf(o->staff.staff_id, sizeof(o->staff.staff_id), "%s", staff_id);
    snprintf(o->staff.name, sizeof(o->staff.name), "%s", name);
    snprintf(o->staff.dept, sizeof(o->staff.dept), "%s", dept);
    o->staff.status = MZ_STAFF_ACTIVE;
    o->staff.created_at = o->staff.updated_at = en->now;
    snprintf(o->staff.created_by, sizeof(o->staff.created_by), "%s", en->actor);
    snprintf(o->staff.updated_by, sizeof(o->staff.updated_by), "%s", en->actor);
    return EXIT_DONE;
}

/* Reads one line from the terminal with echo off into BUF. */
static bool read_code(char *buf, size_t len)
{
    struct termios old, quiet;
    bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    bool ok = fgets(buf, (int)len, stdin) != NULL;
    if (restore) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    return ok;
}

/* Confirms that the app shows the right codes: --code, or up to three tries at the
 * terminal. *STEP is the confirmed code's step (-1 with --no-verify). */
static int confirm(struct enroll *en, const struct add_opts *o, const uint8_t *secret, size_t len,
                   int64_t *step)
{
    *step = -1;
    if (o->no_verify)
        return EXIT_DONE;
    if (o->code == NULL && !isatty(STDIN_FILENO))
        return enroll_usage("add", "%s", _("not a terminal: give --code CODE or --no-verify"));
    for (int attempt = 0; attempt < (o->code != NULL ? 1 : CODE_TRIES); attempt++) {
        char typed[MZ_INPUT_MAX + 2] = "";
        const char *code = o->code;
        if (code == NULL) {
            fprintf(stderr, "%s", _("Code shown in the app: "));
            if (!read_code(typed, sizeof(typed)))
                break;
            code = typed;
        }
        enum mz_totp_result r =
            mz_totp_check(secret, len, code, (int64_t)time(NULL), en->cfg.totp_digits,
                          en->cfg.totp_period, en->cfg.totp_window, -1, step);
        mz_zero_array(typed);
        if (r == MZ_TOTP_OK)
            return EXIT_DONE;
        fprintf(stderr, "%s\n",
                r == MZ_TOTP_MALFORMED ? _("That is not a code of the right length.")
                                       : _("Wrong code: check the app's clock and try again."));
    }
    fprintf(stderr, "mnzone-enroll: %s\n", _("the code was not confirmed; nothing was enrolled"));
    return EXIT_CHECK_FAILED;
}

static int store_enrolment(struct enroll *en, const struct add_opts *o, const uint8_t *secret,
                           size_t len, int64_t step)
{
    mz_err e;
    int rc = mz_store_begin(en->st, &e);
    if (rc == MZ_OK)
        rc = mz_store_add_staff(en->st, &o->staff, &e);
    if (rc == MZ_OK)
        rc = mz_store_add_totp(en->st, &en->keys, o->staff.login, secret, len, step, en->now,
                               en->actor, &e);
    if (rc == MZ_OK)
        rc = enroll_audit(en, "add", "totp", o->staff.login,
                          o->secret_b32 != NULL ? "enrolled (imported secret)" : "enrolled", &e);
    if (rc == MZ_OK)
        rc = mz_store_commit(en->st, &e);
    if (rc != MZ_OK) {
        mz_store_rollback(en->st);
        return enroll_fail(rc, &e);
    }
    return EXIT_DONE;
}

/* Shows the URI and QR code on the terminal and in the files asked for. */
static int show_secret(struct add_opts *o, const char *uri)
{
    mz_err e;
    int rc = MZ_OK;
    if (o->qr_png != NULL) {
        rc = qr_write_png(uri, o->qr_png, &e);
        o->png_written = rc == MZ_OK;
    }
    if (rc == MZ_OK && o->qr_svg != NULL) {
        rc = qr_write_svg(uri, o->qr_svg, &e);
        o->svg_written = rc == MZ_OK;
    }
    if (rc == MZ_OK && !o->json) {
        const char *files[] = {o->png_written ? o->qr_png : NULL, o->svg_written ? o->qr_svg : NULL};
        for (int i = 0; i < 2; i++)
            if (files[i] != NULL)
                printf(_("QR code written to %s (mode 0600: it holds the secret; delete it after "
                         "use).\n"),
                       files[i]);
    }
    if (rc != MZ_OK)
        return enroll_fail(rc, &e);
    if (o->json)
        return EXIT_DONE;
    printf("%s\n", _("Scan this QR code with the authenticator app:"));
    if (qr_print_terminal(uri, stdout, &e) != MZ_OK)
        return enroll_fail(MZ_ERR_NOMEM, &e);
    printf(_("Or enter this URI: %s\n"), uri);
    fflush(stdout);
    return EXIT_DONE;
}

/* Zeroes a string that a library hands out as const but that lives in writable heap
 * memory it owns (json-c's buffers). */
static void wipe_owned(const char *s)
{
    char *w;
    memcpy(&w, &s, sizeof(w));
    mz_zero_string(w);
}

static void print_json(const struct add_opts *o, const char *uri)
{
    json_object *j = json_object_new_object();
    json_object_object_add(j, "user", json_object_new_string(o->staff.login));
    json_object_object_add(j, "staff_id", json_object_new_string(o->staff.staff_id));
    json_object_object_add(j, "method", json_object_new_string("totp"));
    json_object_object_add(j, "uri", json_object_new_string(uri));
    json_object_object_add(j, "verified", json_object_new_boolean(!o->no_verify));
    const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    printf("%s\n", text);
    /* json-c keeps its own copies of the URI, in its heap: wipe them before freeing. */
    wipe_owned(text);
    wipe_owned(json_object_get_string(json_object_object_get(j, "uri")));
    json_object_put(j);
}

int cmd_add(struct enroll *en, int argc, char **argv)
{
    struct add_opts o;
    mz_err e;
    uint8_t secret[MZ_SECRET_MAX];
    size_t len = MZ_SECRET_BYTES;
    char *uri = NULL;
    int64_t step = -1;
    int status = parse(en, argc, argv, &o);
    if (status != EXIT_DONE)
        return status;

    if (o.secret_b32 != NULL) {
        if (!mz_base32_decode(o.secret_b32, secret, sizeof(secret), &len) || len < MZ_SECRET_MIN) {
            mz_zero_array(secret);
            return enroll_usage("add", "%s",
                                _("--secret: give base32 of at least 80 bits (16 characters)"));
        }
    } else if (mz_random(secret, len) != MZ_OK) {
        mz_fail(&e, MZ_ERR_CRYPTO, "%s", _("getrandom failed"));
        return enroll_fail(MZ_ERR_CRYPTO, &e);
    }

    status = enroll_open(en, true);
    if (status != EXIT_DONE)
        goto done;
    struct mz_staff existing;
    int rc = mz_store_get_staff(en->st, o.staff.login, &existing, &e);
    if (rc != MZ_ERR_NOUSER) {
        if (rc == MZ_OK)
            mz_fail(&e, MZ_ERR_EXISTS, _("%s is enrolled already; use reset for a new secret"),
                    o.staff.login);
        status = enroll_fail(rc == MZ_OK ? MZ_ERR_EXISTS : rc, &e);
        goto done;
    }
    if (mz_otpauth_uri(en->cfg.issuer, o.staff.login, secret, len, en->cfg.totp_digits,
                       en->cfg.totp_period, &uri) != MZ_OK) {
        mz_fail(&e, MZ_ERR_NOMEM, "%s", _("out of memory"));
        status = enroll_fail(MZ_ERR_NOMEM, &e);
        goto done;
    }
    status = show_secret(&o, uri);
    if (status == EXIT_DONE)
        status = confirm(en, &o, secret, len, &step);
    if (status == EXIT_DONE)
        status = store_enrolment(en, &o, secret, len, step);
    if (status == EXIT_DONE) {
        if (o.json)
            print_json(&o, uri);
        else
            printf(_("Enrolled %s (%s).\n"), o.staff.login, o.staff.name);
    } else {
        /* Nothing was enrolled: a QR file would hold a secret nobody uses. */
        if (o.png_written)
            unlink(o.qr_png);
        if (o.svg_written)
            unlink(o.qr_svg);
    }
done:
    mz_zero_array(secret);
    mz_free_string(uri);
    return status;
}
