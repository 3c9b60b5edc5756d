/* mnzone-enroll add and reset: bind a TOTP secret to a staff member. The credential is
 * stored only once the first code from the app was right (or --no-verify was given);
 * until then nothing is written and any QR file made is removed. --method yubikey goes
 * to cmd_hwkey.c. */
#include "config.h"

#include "enroll.h"
#include "qr.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CODE_TRIES 3

/* What add and reset share: how the secret is made, shown and confirmed. */
struct secret_opts {
    const char *secret_b32;
    const char *qr_png;
    const char *qr_svg;
    const char *code;
    bool no_verify;
    bool json;
    bool png_written, svg_written; /* files this run created, removed if it fails */
};

/* A new TOTP secret on its way to the store. */
struct enrolment {
    uint8_t secret[MZ_SECRET_MAX];
    size_t len;
    char *uri;
    int64_t step; /* step of the confirming code, -1 without one */
    char codes[100][MZ_CODE_TEXT];
    unsigned ncodes;
};

static void enrolment_wipe(struct enrolment *n)
{
    mz_free_string(n->uri);
    mz_zero_object(n);
}

enum { OPT_SECRET = 256, OPT_QR_PNG, OPT_QR_SVG, OPT_CODE, OPT_NO_VERIFY, OPT_JSON };

#define SECRET_OPTIONS                                                                             \
    {"secret", required_argument, NULL, OPT_SECRET},                                               \
        {"qr-png", required_argument, NULL, OPT_QR_PNG},                                           \
        {"qr-svg", required_argument, NULL, OPT_QR_SVG},                                           \
        {"code", required_argument, NULL, OPT_CODE},                                               \
        {"no-verify", no_argument, NULL, OPT_NO_VERIFY},                                           \
    {                                                                                              \
        "json", no_argument, NULL, OPT_JSON                                                        \
    }

/* Takes one of the options add and reset share; false if C is not one of them. */
static bool secret_option(int c, struct secret_opts *o)
{
    switch (c) {
    case OPT_SECRET: o->secret_b32 = optarg; return true;
    case OPT_QR_PNG: o->qr_png = optarg; return true;
    case OPT_QR_SVG: o->qr_svg = optarg; return true;
    case OPT_CODE: o->code = optarg; return true;
    case OPT_NO_VERIFY: o->no_verify = true; return true;
    case OPT_JSON: o->json = true; return true;
    default: return false;
    }
}

/* The single USER operand after the options, checked. NULL after printing usage. */
static const char *operand_user(const char *command, int argc, char **argv, int *status)
{
    if (optind != argc - 1) {
        *status = enroll_usage(command, "%s", _("give exactly one USER"));
        return NULL;
    }
    if (!mz_valid_login(argv[optind])) {
        *status = enroll_usage(command, _("USER: \"%s\" is not a valid login name"), argv[optind]);
        return NULL;
    }
    return argv[optind];
}

static int check_secret_opts(const char *command, const struct secret_opts *o)
{
    if (o->code != NULL && o->no_verify)
        return enroll_usage(command, "%s", _("--code and --no-verify exclude each other"));
    if (o->code == NULL && !o->no_verify && !isatty(STDIN_FILENO))
        return enroll_usage(command, "%s", _("not a terminal: give --code CODE or --no-verify"));
    /* --json shows the new secret only at the end: nothing to read a code from before */
    if (o->json && o->code == NULL && !o->no_verify && o->secret_b32 == NULL && o->qr_png == NULL &&
        o->qr_svg == NULL)
        return enroll_usage(command, "%s",
                            _("--json shows the secret only at the end: give --qr-png or --qr-svg "
                              "to scan first, or --code or --no-verify"));
    return EXIT_DONE;
}

/* The secret: imported from --secret or 160 random bits. */
static int make_secret(const char *command, const struct secret_opts *o, struct enrolment *n)
{
    n->step = -1;
    n->len = MZ_SECRET_BYTES;
    if (o->secret_b32 != NULL) {
        /* "-": from standard input (hidden on a terminal), so that the secret is not in
         * the command line, which other users can read (ps) and the shell keeps */
        char typed[256] = "";
        const char *b32 = o->secret_b32;
        if (strcmp(b32, "-") == 0) {
            if (!enroll_read_hidden(_("TOTP secret (base32): "), typed, sizeof(typed)))
                return enroll_usage(command, "%s", _("--secret -: no secret on standard input"));
            b32 = typed;
        }
        bool ok =
            mz_base32_decode(b32, n->secret, sizeof(n->secret), &n->len) && n->len >= MZ_SECRET_MIN;
        mz_zero_array(typed);
        if (!ok)
            return enroll_usage(command, "%s",
                                _("--secret: give base32 of at least 80 bits (16 characters)"));
        return EXIT_DONE;
    }
    if (mz_random(n->secret, n->len) != MZ_OK) {
        mz_err e;
        mz_fail(&e, MZ_ERR_CRYPTO, "%s", _("getrandom failed"));
        return enroll_fail(MZ_ERR_CRYPTO, &e);
    }
    return EXIT_DONE;
}

/* Shows the URI and QR code on the terminal and in the files asked for. */
static int show_secret(struct secret_opts *o, const char *uri)
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
    if (rc != MZ_OK)
        return enroll_fail(rc, &e);
    if (o->json)
        return EXIT_DONE;
    const char *files[] = {o->png_written ? o->qr_png : NULL, o->svg_written ? o->qr_svg : NULL};
    for (int i = 0; i < 2; i++)
        if (files[i] != NULL)
            printf(_("QR code written to %s (mode 0600: it holds the secret; delete it after "
                     "use).\n"),
                   files[i]);
    printf("%s\n", _("Scan this QR code with the authenticator app:"));
    if (qr_print_terminal(uri, stdout, &e) != MZ_OK)
        return enroll_fail(MZ_ERR_NOMEM, &e);
    printf(_("Or enter this URI: %s\n"), uri);
    fflush(stdout);
    return EXIT_DONE;
}

/* Confirms that the app shows the right codes: --code, or up to three tries at the
 * terminal. */
static int confirm(struct enroll *en, const struct secret_opts *o, struct enrolment *n)
{
    if (o->no_verify)
        return EXIT_DONE;
    for (int attempt = 0; attempt < (o->code != NULL ? 1 : CODE_TRIES); attempt++) {
        char typed[MZ_INPUT_MAX + 2] = "";
        const char *code = o->code;
        if (code == NULL) {
            if (!enroll_read_hidden(_("Code shown in the app: "), typed, sizeof(typed)))
                break;
            code = typed;
        }
        enum mz_totp_result r =
            mz_totp_check(n->secret, n->len, code, (int64_t)time(NULL), en->cfg.totp_digits,
                          en->cfg.totp_period, en->cfg.totp_window, -1, &n->step);
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

/* Shows the new secret and confirms it; STORE then writes it in one transaction. */
static int run_enrolment(struct enroll *en, const char *login, struct secret_opts *o,
                         struct enrolment *n,
                         int (*store)(struct enroll *, const void *, struct enrolment *, mz_err *),
                         const void *arg)
{
    mz_err e;
    int status = EXIT_DONE;
    if (mz_otpauth_uri(en->cfg.issuer, login, n->secret, n->len, en->cfg.totp_digits,
                       en->cfg.totp_period, &n->uri) != MZ_OK) {
        mz_fail(&e, MZ_ERR_NOMEM, "%s", _("out of memory"));
        status = enroll_fail(MZ_ERR_NOMEM, &e);
    }
    if (status == EXIT_DONE)
        status = show_secret(o, n->uri);
    if (status == EXIT_DONE)
        status = confirm(en, o, n);
    if (status == EXIT_DONE) {
        int rc = mz_store_begin(en->st, &e);
        if (rc == MZ_OK)
            rc = enroll_commit(en, store(en, arg, n, &e), &e);
        if (rc != MZ_OK)
            status = enroll_fail(rc, &e);
    }
    if (status != EXIT_DONE) {
        /* Nothing was enrolled: a QR file would hold a secret nobody uses. */
        if (o->png_written)
            unlink(o->qr_png);
        if (o->svg_written)
            unlink(o->qr_svg);
    }
    return status;
}

static void print_result(const char *login, const char *staff_id, const struct secret_opts *o,
                         const struct enrolment *n)
{
    if (!o->json) {
        enroll_print_codes((const char(*)[MZ_CODE_TEXT])n->codes, n->ncodes);
        return;
    }
    json_object *j = json_object_new_object();
    json_object_object_add(j, "user", json_object_new_string(login));
    if (staff_id != NULL)
        json_object_object_add(j, "staff_id", json_object_new_string(staff_id));
    json_object_object_add(j, "method", json_object_new_string("totp"));
    json_object_object_add(j, "uri", json_object_new_string(n->uri));
    json_object_object_add(j, "verified", json_object_new_boolean(!o->no_verify));
    if (n->ncodes > 0)
        json_object_object_add(j, "recovery_codes",
                               enroll_codes_json((const char(*)[MZ_CODE_TEXT])n->codes, n->ncodes));
    enroll_print_json(j, true);
}

/* ---- add */

struct add_opts {
    struct mz_staff staff;
    struct secret_opts s;
    bool reenrol;  /* the login is in the store, revoked: enrol it again (a rehire) */
    bool yubikey;  /* --method yubikey */
    bool program;  /* --program */
    bool key_only; /* a key for a staff member already enrolled: no details given */
};

/* Options that only a TOTP enrolment takes. */
static bool totp_options_given(const struct secret_opts *s)
{
    return s->secret_b32 != NULL || s->qr_png != NULL || s->qr_svg != NULL || s->code != NULL ||
           s->no_verify;
}

/* Reads --method; false after printing usage for COMMAND. */
static bool parse_method(const char *command, const char *arg, bool *yubikey, int *status)
{
    if (strcmp(arg, "totp") == 0 || strcmp(arg, "yubikey") == 0) {
        *yubikey = strcmp(arg, "yubikey") == 0;
        return true;
    }
    *status = enroll_usage(command, "%s", _("--method: expected totp or yubikey"));
    return false;
}

/* The options of a key enrolment, after parsing. */
static int check_key_opts(const char *command, bool yubikey, bool program,
                          const struct secret_opts *s)
{
    if (!yubikey && program)
        return enroll_usage(command, "%s", _("--program needs --method yubikey"));
    if (yubikey && totp_options_given(s))
        return enroll_usage(command, "%s",
                            _("--secret, --qr-png, --qr-svg, --code and --no-verify are for "
                              "--method totp"));
    return EXIT_DONE;
}

static int parse_add(struct enroll *en, int argc, char **argv, struct add_opts *o)
{
    enum {
        OPT_STAFF_ID = 300,
        OPT_NAME,
        OPT_DEPT,
        OPT_EMPLOYMENT,
        OPT_VALID_UNTIL,
        OPT_METHOD,
        OPT_PROGRAM
    };
    static const struct option longopts[] = {
        {"staff-id", required_argument, NULL, OPT_STAFF_ID},
        {"name", required_argument, NULL, OPT_NAME},
        {"dept", required_argument, NULL, OPT_DEPT},
        {"employment", required_argument, NULL, OPT_EMPLOYMENT},
        {"valid-until", required_argument, NULL, OPT_VALID_UNTIL},
        {"method", required_argument, NULL, OPT_METHOD},
        {"program", no_argument, NULL, OPT_PROGRAM},
        SECRET_OPTIONS,
        {NULL, 0, NULL, 0}};
    const char *staff_id = NULL, *name = NULL, *dept = "", *until = "";
    int c, status = EXIT_DONE;
    memset(o, 0, sizeof(*o));
    o->staff.employment = MZ_EMPLOY_REGULAR;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (secret_option(c, &o->s))
            continue;
        switch (c) {
        case OPT_STAFF_ID: staff_id = optarg; break;
        case OPT_NAME: name = optarg; break;
        case OPT_DEPT: dept = optarg; break;
        case OPT_VALID_UNTIL: until = optarg; break;
        case OPT_EMPLOYMENT:
            if (!mz_employment_parse(optarg, &o->staff.employment))
                return enroll_usage("add", "%s",
                                    _("--employment: expected regular, fiscal-year or contractor"));
            break;
        case OPT_METHOD:
            if (!parse_method("add", optarg, &o->yubikey, &status))
                return status;
            break;
        case OPT_PROGRAM: o->program = true; break;
        default: return enroll_unknown_option("add", argv[optind - 1]);
        }
    }
    const char *login = operand_user("add", argc, argv, &status);
    if (login == NULL)
        return status;
    status = check_key_opts("add", o->yubikey, o->program, &o->s);
    if (status != EXIT_DONE)
        return status;
    if (o->yubikey && staff_id == NULL && name == NULL && dept[0] == '\0' && until[0] == '\0') {
        o->key_only = true; /* a key for someone enrolled already */
        snprintf(o->staff.login, sizeof(o->staff.login), "%s", login);
        return EXIT_DONE;
    }
    const struct staff_fields f = {login, staff_id, name, dept, until};
    status = enroll_fill_staff(en, "add", &f, &o->staff);
    if (status != EXIT_DONE || o->yubikey)
        return status;
    return check_secret_opts("add", &o->s);
}

static int store_add(struct enroll *en, const void *arg, struct enrolment *n, mz_err *e)
{
    const struct add_opts *o = arg;
    const char *login = o->staff.login;
    /* A revoked record keeps its credentials, codes and audit trail; it becomes active
     * again with the new details and a fresh login state. */
    int rc = o->reenrol ? mz_admin_reenrol(en->st, &o->staff, e)
                        : mz_store_add_staff(en->st, &o->staff, e);
    if (rc == MZ_OK)
        rc = mz_store_add_totp(en->st, &en->keys, login, n->secret, n->len, n->step, en->now,
                               en->actor, e);
    n->ncodes = en->cfg.recovery_codes;
    if (rc == MZ_OK)
        rc = enroll_issue_recovery_codes(en, login, n->codes, n->ncodes, e);
    if (rc == MZ_OK)
        rc = enroll_audit(en, "add", "totp", login,
                          o->reenrol                ? "enrolled again after revocation"
                          : o->s.secret_b32 != NULL ? "enrolled (imported secret)"
                                                    : "enrolled",
                          e);
    return rc;
}

int cmd_add(struct enroll *en, int argc, char **argv)
{
    struct add_opts o;
    struct enrolment n;
    memset(&n, 0, sizeof(n));
    int status = parse_add(en, argc, argv, &o);
    if (status == EXIT_DONE && o.yubikey) {
        struct key_request r = {"add", o.key_only ? NULL : &o.staff, o.program, false, o.s.json};
        return enroll_key(en, o.staff.login, &r);
    }
    if (status == EXIT_DONE)
        status = make_secret("add", &o.s, &n);
    if (status == EXIT_DONE)
        status = enroll_open(en, true);
    if (status == EXIT_DONE) {
        mz_err e;
        struct mz_staff existing;
        int rc = mz_store_get_staff(en->st, o.staff.login, &existing, &e);
        o.reenrol = rc == MZ_OK && existing.status == MZ_STAFF_REVOKED;
        if (rc == MZ_OK && !o.reenrol)
            rc = mz_fail(&e, MZ_ERR_EXISTS, _("%s is enrolled already; use reset for a new secret"),
                         o.staff.login);
        if (rc != MZ_ERR_NOUSER && !o.reenrol)
            status = enroll_fail(rc, &e);
    }
    if (status == EXIT_DONE)
        status = run_enrolment(en, o.staff.login, &o.s, &n, store_add, &o);
    if (status == EXIT_DONE) {
        if (!o.s.json)
            printf(_("Enrolled %s (%s).\n"), o.staff.login, o.staff.name);
        print_result(o.staff.login, o.staff.staff_id, &o.s, &n);
    }
    enrolment_wipe(&n);
    return status;
}

/* ---- reset: a new secret; the old TOTP credential is revoked in the same transaction */

static int store_reset(struct enroll *en, const void *arg, struct enrolment *n, mz_err *e)
{
    const char *login = arg;
    int revoked = 0;
    int rc =
        mz_admin_revoke_method(en->st, login, "totp", en->actor, "reset", en->now, &revoked, e);
    if (rc == MZ_OK)
        rc = mz_store_add_totp(en->st, &en->keys, login, n->secret, n->len, n->step, en->now,
                               en->actor, e);
    if (rc == MZ_OK)
        rc = mz_admin_touch_staff(en->st, login, en->actor, en->now, e);
    if (rc == MZ_OK)
        rc = enroll_audit(en, "reset", "totp", login, "new TOTP secret; old one revoked", e);
    return rc;
}

int cmd_reset(struct enroll *en, int argc, char **argv)
{
    enum { OPT_METHOD = 300, OPT_PROGRAM };
    static const struct option longopts[] = {{"method", required_argument, NULL, OPT_METHOD},
                                             {"program", no_argument, NULL, OPT_PROGRAM},
                                             SECRET_OPTIONS,
                                             {NULL, 0, NULL, 0}};
    struct secret_opts o;
    struct enrolment n;
    struct mz_staff staff;
    bool yubikey = false, program = false;
    int c, status = EXIT_DONE;
    memset(&o, 0, sizeof(o));
    memset(&n, 0, sizeof(n));
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == OPT_METHOD && !parse_method("reset", optarg, &yubikey, &status))
            return status;
        if (c == OPT_PROGRAM)
            program = true;
        if (c != OPT_METHOD && c != OPT_PROGRAM && !secret_option(c, &o))
            return enroll_unknown_option("reset", argv[optind - 1]);
    }
    const char *login = operand_user("reset", argc, argv, &status);
    if (login == NULL)
        return status;
    status = check_key_opts("reset", yubikey, program, &o);
    if (status != EXIT_DONE)
        return status;
    if (yubikey) {
        struct key_request r = {"reset", NULL, program, true, o.json};
        return enroll_key(en, login, &r);
    }
    status = check_secret_opts("reset", &o);
    if (status == EXIT_DONE)
        status = make_secret("reset", &o, &n);
    if (status == EXIT_DONE)
        status = enroll_open(en, true);
    if (status == EXIT_DONE)
        status = enroll_need_user(en, "reset", login, &staff);
    if (status == EXIT_DONE && staff.status != MZ_STAFF_ACTIVE)
        status = enroll_usage("reset", _("%s is %s: enrol again with add"), login,
                              enroll_word(mz_staff_status_name(staff.status)));
    if (status == EXIT_DONE)
        status = run_enrolment(en, login, &o, &n, store_reset, login);
    if (status == EXIT_DONE) {
        if (!o.json)
            printf(_("New TOTP secret for %s; the old one no longer works.\n"), login);
        print_result(login, staff.staff_id, &o, &n);
    }
    enrolment_wipe(&n);
    return status;
}
