/* mnzone-enroll recovery-codes, emergency and verify: one-time codes, and checking a
 * code exactly as a login would (it is consumed: no oracle for guessing). */
#include "config.h"

#include "enroll.h"
#include "mz_auth.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define EMERGENCY_MAX_HOURS 168

/* Options: --json always; --hours and --reason where ALLOW_EMERGENCY. */
struct code_opts {
    const char *login;
    const char *reason;
    unsigned long hours;
    bool json;
};

static int parse_code_opts(const char *command, int argc, char **argv, bool emergency,
                           struct code_opts *o)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"hours", required_argument, NULL, 'h'},
                                             {"reason", required_argument, NULL, 'r'},
                                             {NULL, 0, NULL, 0}};
    int c;
    const char *hours = NULL;
    memset(o, 0, sizeof(*o));
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'j')
            o->json = true;
        else if (c == 'h' && emergency)
            hours = optarg;
        else if (c == 'r' && emergency)
            o->reason = optarg;
        else if (c == 'h' || c == 'r')
            return enroll_usage(command, _("%s takes no --hours or --reason"), command);
        else
            return enroll_unknown_option(command, argv[optind - 1]);
    }
    if (optind != argc - 1)
        return enroll_usage(command, "%s", _("give exactly one USER"));
    o->login = argv[optind];
    if (!mz_valid_login(o->login))
        return enroll_usage(command, _("USER: \"%s\" is not a valid login name"), o->login);
    if (!emergency)
        return EXIT_DONE;
    if (hours == NULL || !mz_parse_uint(hours, 1, EMERGENCY_MAX_HOURS, &o->hours))
        return enroll_usage(command, "%s", _("--hours: give a whole number from 1 to 168"));
    if (o->reason == NULL || !enroll_valid_text(o->reason, 256, false))
        return enroll_usage(command, "%s", _("--reason: say why (UTF-8, at most 256 bytes)"));
    return EXIT_DONE;
}

/* Opens the store and checks that O->login is an active staff member. */
static int open_for_user(struct enroll *en, const char *command, const struct code_opts *o)
{
    struct mz_staff staff;
    int status = enroll_open(en, true);
    if (status == EXIT_DONE)
        status = enroll_need_user(en, command, o->login, &staff);
    if (status == EXIT_DONE && staff.status != MZ_STAFF_ACTIVE)
        status = enroll_usage(command, _("%s is %s: enrol again with add"), o->login,
                              enroll_word(mz_staff_status_name(staff.status)));
    return status;
}

int cmd_recovery_codes(struct enroll *en, int argc, char **argv)
{
    struct code_opts o;
    char codes[100][MZ_CODE_TEXT];
    unsigned n = en->cfg.recovery_codes;
    mz_err e;
    int status = parse_code_opts("recovery-codes", argc, argv, false, &o);
    if (status == EXIT_DONE)
        status = open_for_user(en, "recovery-codes", &o);
    if (status != EXIT_DONE)
        return status;
    int rc = mz_store_begin(en->st, &e);
    if (rc == MZ_OK) {
        rc = enroll_issue_recovery_codes(en, o.login, codes, n, &e);
        if (rc == MZ_OK)
            rc = enroll_audit(en, "recovery-codes", "recovery", o.login,
                              "new set issued; old set voided", &e);
        rc = enroll_commit(en, rc, &e);
    }
    if (rc == MZ_OK && o.json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "user", json_object_new_string(o.login));
        json_object_object_add(j, "codes",
                               enroll_codes_json((const char(*)[MZ_CODE_TEXT])codes, n));
        enroll_print_json(j, true);
    } else if (rc == MZ_OK) {
        enroll_print_codes((const char(*)[MZ_CODE_TEXT])codes, n);
    }
    mz_zero_array(codes);
    return rc == MZ_OK ? EXIT_DONE : enroll_fail(rc, &e);
}

int cmd_emergency(struct enroll *en, int argc, char **argv)
{
    struct code_opts o;
    char code[MZ_CODE_TEXT], normal[MZ_CODE_SYMBOLS + 1], expires[32];
    struct mz_code_entry entry;
    mz_err e;
    int status = parse_code_opts("emergency", argc, argv, true, &o);
    if (status == EXIT_DONE)
        status = open_for_user(en, "emergency", &o);
    if (status != EXIT_DONE)
        return status;
    memset(&entry, 0, sizeof(entry));
    entry.emergency = true;
    entry.expires_at = en->now + (int64_t)o.hours * 3600;
    int rc = MZ_OK;
    if (mz_code_generate(code) != MZ_OK || !mz_code_normalize(code, normal) ||
        mz_code_seal(&en->keys, normal, &entry) != MZ_OK)
        rc = mz_fail(&e, MZ_ERR_CRYPTO, "%s", _("getrandom failed"));
    if (rc == MZ_OK)
        rc = mz_store_begin(en->st, &e);
    if (rc == MZ_OK) {
        rc = mz_admin_add_code(en->st, o.login, "emergency", &entry, en->actor, o.reason, en->now,
                               &e);
        if (rc == MZ_OK)
            rc = enroll_audit(en, "emergency", "emergency", o.login, o.reason, &e);
        rc = enroll_commit(en, rc, &e);
    }
    mz_iso_time(entry.expires_at, expires, sizeof(expires));
    if (rc == MZ_OK && o.json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "user", json_object_new_string(o.login));
        json_object_object_add(j, "code", json_object_new_string(code));
        json_object_object_add(j, "expires", json_object_new_string(expires));
        json_object_object_add(j, "reason", json_object_new_string(o.reason));
        enroll_print_json(j, true);
    } else if (rc == MZ_OK) {
        char local[32];
        mz_local_time(entry.expires_at, local, sizeof(local));
        printf(_("Emergency code for %s (one login, until %s): %s\n"), o.login, local, code);
    }
    mz_zero_array(code);
    mz_zero_array(normal);
    return rc == MZ_OK ? EXIT_DONE : enroll_fail(rc, &e);
}

int cmd_verify(struct enroll *en, int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    bool json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c != 'j')
            return enroll_unknown_option("verify", argv[optind - 1]);
        json = true;
    }
    if (optind != argc - 1 && optind != argc - 2)
        return enroll_usage("verify", "%s", _("give USER and, optionally, CODE"));
    const char *login = argv[optind];
    if (!mz_valid_login(login))
        return enroll_usage("verify", _("USER: \"%s\" is not a valid login name"), login);
    struct mz_staff staff;
    int status = enroll_open(en, true);
    if (status == EXIT_DONE)
        status = enroll_need_user(en, "verify", login, &staff);
    if (status != EXIT_DONE)
        return status;

    char typed[MZ_INPUT_MAX + 2] = "";
    if (optind == argc - 2)
        snprintf(typed, sizeof(typed), "%s", argv[optind + 1]);
    else if (!enroll_read_hidden(_("Verification code: "), typed, sizeof(typed)))
        typed[0] = '\0';
    const char *tty = ttyname(STDIN_FILENO);
    struct mz_attempt a = {.user = login,
                           .service = "mnzone-enroll",
                           .host = en->host,
                           .tty = tty != NULL ? tty : "",
                           .rhost = "",
                           .now = en->now,
                           .actor = en->actor};
    struct mz_verdict v;
    struct mz_last_login last;
    mz_err e;
    int rc = mz_auth_attempt(&en->cfg, en->st, &en->keys, &a, typed, &v, &last, &e);
    mz_zero_array(typed);
    if (rc != MZ_OK)
        return enroll_fail(rc, &e);
    bool ok = v.outcome == MZ_ACCEPT;
    if (json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "user", json_object_new_string(login));
        json_object_object_add(j, "accepted", json_object_new_boolean(ok));
        json_object_object_add(j, "method", json_object_new_string(mz_method_name(v.method)));
        json_object_object_add(j, "reason", json_object_new_string(mz_outcome_reason(v.outcome)));
        json_object_object_add(
            j, "locked", json_object_new_boolean(v.locked_now || v.outcome == MZ_REJECT_LOCKED));
        enroll_print_json(j, false);
    } else if (ok) {
        printf(_("Accepted (%s) for %s; the code is now used.\n"),
               enroll_word(mz_method_name(v.method)), login);
    } else {
        printf(_("Refused for %s: %s.\n"), login, enroll_word(mz_outcome_reason(v.outcome)));
    }
    return ok ? EXIT_DONE : EXIT_CHECK_FAILED;
}
