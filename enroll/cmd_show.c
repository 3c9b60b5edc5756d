/* mnzone-enroll show: one staff member's record, every credential ever bound, and the
 * login state. Never shows a secret. */
#include "config.h"

#include "enroll.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static json_object *time_or_null(int64_t t)
{
    char buf[32];
    if (t == 0)
        return NULL;
    mz_iso_time(t, buf, sizeof(buf));
    return json_object_new_string(buf);
}

static void add_credential_json(const struct mz_credential_info *c, void *arg)
{
    json_object *list = arg;
    json_object *j = json_object_new_object();
    json_object_object_add(j, "id", json_object_new_int64(c->id));
    json_object_object_add(j, "method", json_object_new_string(c->method));
    json_object_object_add(j, "status", json_object_new_string(c->status));
    json_object_object_add(j, "created_at", time_or_null(c->created_at));
    json_object_object_add(j, "created_by", json_object_new_string(c->created_by));
    json_object_object_add(j, "last_used_at", time_or_null(c->last_used_at));
    json_object_object_add(j, "revoked_at", time_or_null(c->revoked_at));
    json_object_object_add(j, "revoked_by", json_object_new_string(c->revoked_by));
    json_object_object_add(j, "revoked_why", json_object_new_string(c->revoked_why));
    json_object_array_add(list, j);
}

static void print_credential_text(const struct mz_credential_info *c, void *arg)
{
    char created[32], used[32], revoked[32];
    mz_iso_time(c->created_at, created, sizeof(created));
    if (c->last_used_at != 0)
        mz_iso_time(c->last_used_at, used, sizeof(used));
    else
        snprintf(used, sizeof(used), "%s", _("never"));
    printf(_("  #%lld %s %s, created %s by %s, last used %s\n"), (long long)c->id, c->method,
           c->status, created, c->created_by, used);
    if (c->revoked_at != 0) {
        mz_iso_time(c->revoked_at, revoked, sizeof(revoked));
        printf(_("      revoked %s by %s: %s\n"), revoked, c->revoked_by, c->revoked_why);
    }
}

static int show_json(struct enroll *en, const struct mz_staff *s, const struct mz_record *rec,
                     mz_err *e)
{
    json_object *j = json_object_new_object();
    json_object *creds = json_object_new_array();
    json_object_object_add(j, "user", json_object_new_string(s->login));
    json_object_object_add(j, "staff_id", json_object_new_string(s->staff_id));
    json_object_object_add(j, "name", json_object_new_string(s->name));
    json_object_object_add(j, "department", json_object_new_string(s->dept));
    json_object_object_add(j, "employment",
                           json_object_new_string(mz_employment_name(s->employment)));
    json_object_object_add(j, "valid_until",
                           s->valid_until[0] ? json_object_new_string(s->valid_until) : NULL);
    json_object_object_add(j, "status", json_object_new_string(mz_staff_status_name(s->status)));
    json_object_object_add(j, "created_at", time_or_null(s->created_at));
    json_object_object_add(j, "created_by", json_object_new_string(s->created_by));
    json_object_object_add(j, "updated_at", time_or_null(s->updated_at));
    json_object_object_add(j, "updated_by", json_object_new_string(s->updated_by));
    int rc = mz_store_each_credential(en->st, s->login, add_credential_json, creds, e);
    json_object_object_add(j, "credentials", creds);
    json_object *state = json_object_new_object();
    json_object_object_add(state, "failures", json_object_new_int((int)rec->failures));
    json_object_object_add(state, "locked", json_object_new_boolean(mz_is_locked(rec, en->now)));
    json_object_object_add(state, "locked_until",
                           rec->locked_until == MZ_LOCKED_FOREVER
                               ? json_object_new_string("until unlocked")
                               : time_or_null(rec->locked_until));
    json_object_object_add(state, "last_success_at", time_or_null(rec->last_success_at));
    json_object_object_add(state, "last_failure_at", time_or_null(rec->last_failure_at));
    json_object_object_add(j, "login_state", state);
    if (rc == MZ_OK)
        printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(j);
    return rc;
}

static int show_text(struct enroll *en, const struct mz_staff *s, const struct mz_record *rec,
                     mz_err *e)
{
    char t[32];
    printf(_("User:        %s\n"), s->login);
    printf(_("Staff id:    %s\n"), s->staff_id);
    printf(_("Name:        %s\n"), s->name);
    printf(_("Department:  %s\n"), s->dept);
    printf(_("Employment:  %s\n"), mz_employment_name(s->employment));
    printf(_("Valid until: %s\n"), s->valid_until[0] ? s->valid_until : "-");
    printf(_("Status:      %s\n"), mz_staff_status_name(s->status));
    mz_iso_time(s->created_at, t, sizeof(t));
    printf(_("Created:     %s by %s\n"), t, s->created_by);
    printf("%s\n", _("Credentials:"));
    int rc = mz_store_each_credential(en->st, s->login, print_credential_text, NULL, e);
    printf(_("Failures:    %u\n"), rec->failures);
    if (rec->locked_until == MZ_LOCKED_FOREVER) {
        printf("%s\n", _("Locked:      until an administrator unlocks"));
    } else if (mz_is_locked(rec, en->now)) {
        mz_iso_time(rec->locked_until, t, sizeof(t));
        printf(_("Locked:      until %s\n"), t);
    }
    if (rec->last_success_at != 0) {
        mz_iso_time(rec->last_success_at, t, sizeof(t));
        printf(_("Last login:  %s\n"), t);
    }
    return rc;
}

int cmd_show(struct enroll *en, int argc, char **argv)
{
    bool json = false;
    const char *login = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (argv[i][0] == '-' || login != NULL)
            return enroll_usage("show", _("unexpected argument %s"), argv[i]);
        else
            login = argv[i];
    }
    if (login == NULL)
        return enroll_usage("show", "%s", _("give a USER"));
    if (!mz_valid_login(login))
        return enroll_usage("show", _("USER: \"%s\" is not a valid login name"), login);

    int status = enroll_open(en, false);
    if (status != EXIT_DONE)
        return status;
    mz_err e;
    struct mz_staff s;
    struct mz_record rec;
    memset(&rec, 0, sizeof(rec));
    int rc = mz_store_get_staff(en->st, login, &s, &e);
    if (rc == MZ_OK)
        rc = mz_store_load_state(en->st, login, &rec, &e);
    if (rc == MZ_OK)
        rc = json ? show_json(en, &s, &rec, &e) : show_text(en, &s, &rec, &e);
    return rc == MZ_OK ? EXIT_DONE : enroll_fail(rc, &e);
}
