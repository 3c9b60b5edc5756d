/* mnzone-enroll list, revoke, unlock: the register and the everyday fixes. */
#include "config.h"

#include "enroll.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int enroll_need_user(struct enroll *en, const char *command, const char *login,
                     struct mz_staff *staff)
{
    mz_err e;
    int rc = mz_store_get_staff(en->st, login, staff, &e);
    if (rc == MZ_ERR_NOUSER) {
        fprintf(stderr, "mnzone-enroll %s: %s\n", command, e.msg);
        return EXIT_NO_USER;
    }
    return rc == MZ_OK ? EXIT_DONE : enroll_fail(rc, &e);
}

/* Parses "COMMAND USER [--reason TEXT]" style arguments. */
static int user_and_reason(const char *command, int argc, char **argv, bool want_reason,
                           const char **login, const char **reason)
{
    static const struct option longopts[] = {{"reason", required_argument, NULL, 'r'},
                                             {NULL, 0, NULL, 0}};
    int c;
    *reason = NULL;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", want_reason ? longopts : longopts + 1, NULL)) != -1) {
        if (c != 'r')
            return enroll_unknown_option(command, argv[optind - 1]);
        *reason = optarg;
    }
    if (optind != argc - 1)
        return enroll_usage(command, "%s", _("give exactly one USER"));
    *login = argv[optind];
    if (!mz_valid_login(*login))
        return enroll_usage(command, _("USER: \"%s\" is not a valid login name"), *login);
    if (want_reason && (*reason == NULL || !enroll_valid_text(*reason, 256, false)))
        return enroll_usage(command, "%s", _("--reason: say why (UTF-8, at most 256 bytes)"));
    return EXIT_DONE;
}

int cmd_revoke(struct enroll *en, int argc, char **argv)
{
    const char *login, *reason;
    struct mz_staff staff;
    mz_err e;
    int status = user_and_reason("revoke", argc, argv, true, &login, &reason);
    if (status == EXIT_DONE)
        status = enroll_open(en, true);
    if (status == EXIT_DONE)
        status = enroll_need_user(en, "revoke", login, &staff);
    if (status != EXIT_DONE)
        return status;
    int rc = mz_store_begin(en->st, &e);
    if (rc == MZ_OK) {
        rc = mz_admin_revoke(en->st, login, en->actor, reason, en->now, &e);
        if (rc == MZ_OK)
            rc = enroll_audit(en, "revoke", "", login, reason, &e);
        rc = enroll_commit(en, rc, &e);
    }
    if (rc != MZ_OK)
        return enroll_fail(rc, &e);
    printf(_("Revoked every credential and code of %s.\n"), login);
    return EXIT_DONE;
}

int cmd_unlock(struct enroll *en, int argc, char **argv)
{
    const char *login, *reason;
    struct mz_staff staff;
    mz_err e;
    int status = user_and_reason("unlock", argc, argv, false, &login, &reason);
    if (status == EXIT_DONE)
        status = enroll_open(en, true);
    if (status == EXIT_DONE)
        status = enroll_need_user(en, "unlock", login, &staff);
    if (status != EXIT_DONE)
        return status;
    int rc = mz_store_begin(en->st, &e);
    if (rc == MZ_OK) {
        rc = mz_admin_unlock(en->st, login, &e);
        if (rc == MZ_OK)
            rc = enroll_audit(en, "unlock", "", login, "lock-out cleared", &e);
        rc = enroll_commit(en, rc, &e);
    }
    if (rc != MZ_OK)
        return enroll_fail(rc, &e);
    printf(_("Unlocked %s.\n"), login);
    return EXIT_DONE;
}

enum list_format { LIST_TEXT, LIST_JSON, LIST_CSV };

struct list_state {
    enum list_format format;
    json_object *array;
};

static void list_one(const struct mz_staff *s, void *arg)
{
    struct list_state *ls = arg;
    const char *fields[] = {s->login,
                            s->staff_id,
                            s->name,
                            s->dept,
                            mz_employment_name(s->employment),
                            s->valid_until,
                            mz_staff_status_name(s->status)};
    static const char *const keys[] = {"user",       "staff_id",    "name",  "department",
                                       "employment", "valid_until", "status"};
    switch (ls->format) {
    case LIST_CSV:
        for (int i = 0; i < 7; i++)
            enroll_csv_field(fields[i], i == 6);
        break;
    case LIST_JSON: {
        json_object *j = json_object_new_object();
        for (int i = 0; i < 7; i++)
            json_object_object_add(
                j, keys[i],
                i == 5 && fields[i][0] == '\0' ? NULL : json_object_new_string(fields[i]));
        json_object_array_add(ls->array, j);
        break;
    }
    case LIST_TEXT:
        printf("%-16s %-10s %-10s %-11s %-10s %s\t%s\n", s->login, s->staff_id,
               mz_staff_status_name(s->status), mz_employment_name(s->employment),
               s->valid_until[0] ? s->valid_until : "-", s->name, s->dept);
        break;
    }
}

int cmd_list(struct enroll *en, int argc, char **argv)
{
    static const struct option longopts[] = {{"status", required_argument, NULL, 's'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"csv", no_argument, NULL, 'c'},
                                             {NULL, 0, NULL, 0}};
    struct list_state ls = {LIST_TEXT, NULL};
    const char *status_filter = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 's') {
            status_filter = optarg;
            if (strcmp(optarg, "active") != 0 && strcmp(optarg, "suspended") != 0 &&
                strcmp(optarg, "revoked") != 0)
                return enroll_usage("list", "%s",
                                    _("--status: expected active, suspended or revoked"));
        } else if (c == 'j' || c == 'c') {
            if (ls.format != LIST_TEXT)
                return enroll_usage("list", "%s", _("--json and --csv exclude each other"));
            ls.format = c == 'j' ? LIST_JSON : LIST_CSV;
        } else {
            return enroll_unknown_option("list", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return enroll_usage("list", _("unexpected argument %s"), argv[optind]);
    int status = enroll_open(en, false);
    if (status != EXIT_DONE)
        return status;
    if (ls.format == LIST_CSV)
        fputs("user,staff_id,name,department,employment,valid_until,status\r\n", stdout);
    if (ls.format == LIST_JSON)
        ls.array = json_object_new_array();
    mz_err e;
    int rc = mz_admin_each_staff(en->st, status_filter, list_one, &ls, &e);
    if (ls.array != NULL) {
        if (rc == MZ_OK)
            enroll_print_json(ls.array, false);
        else
            json_object_put(ls.array);
    }
    return rc == MZ_OK ? EXIT_DONE : enroll_fail(rc, &e);
}
