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
    if (strcmp(c->method, "yubikey") == 0) {
        json_object_object_add(j, "serial", json_object_new_int64(c->hw_serial));
        json_object_object_add(j, "slot", json_object_new_int((int)c->hw_slot));
    }
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
    printf(_("  #%lld %s %s, created %s by %s, last used %s\n"), (long long)c->id,
           enroll_word(c->method), enroll_word(c->status), created, c->created_by, used);
    if (strcmp(c->method, "yubikey") == 0)
        printf(_("      YubiKey serial %u, slot %u\n"), (unsigned)c->hw_serial, c->hw_slot);
    if (c->revoked_at != 0) {
        mz_iso_time(c->revoked_at, revoked, sizeof(revoked));
        printf(_("      revoked %s by %s: %s\n"), revoked, c->revoked_by, c->revoked_why);
    }
}

/* The whole record of one staff member as JSON (never a secret); NULL on a store error. */
static json_object *staff_json(struct enroll *en, const struct mz_staff *s,
                               const struct mz_record *rec, mz_err *e)
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
    if (rc != MZ_OK) {
        json_object_put(j);
        return NULL;
    }
    return j;
}

static int show_json(struct enroll *en, const struct mz_staff *s, const struct mz_record *rec,
                     mz_err *e)
{
    json_object *j = staff_json(en, s, rec, e);
    if (j == NULL)
        return MZ_ERR_STORE;
    enroll_print_json(j, false);
    return MZ_OK;
}

static int show_text(struct enroll *en, const struct mz_staff *s, const struct mz_record *rec,
                     mz_err *e)
{
    char t[32];
    printf(_("User:        %s\n"), s->login);
    printf(_("Staff id:    %s\n"), s->staff_id);
    printf(_("Name:        %s\n"), s->name);
    printf(_("Department:  %s\n"), s->dept);
    printf(_("Employment:  %s\n"), enroll_word(mz_employment_name(s->employment)));
    printf(_("Valid until: %s\n"), s->valid_until[0] ? s->valid_until : "-");
    printf(_("Status:      %s\n"), enroll_word(mz_staff_status_name(s->status)));
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

/* export --json: the whole register, every staff member with every credential and the
 * login state, for a backup an auditor can read (no secret, no code hash). */
struct export_state {
    struct enroll *en;
    json_object *array;
    int rc;
    mz_err e;
};

static void export_one(const struct mz_staff *s, void *arg)
{
    struct export_state *x = arg;
    struct mz_record rec;
    memset(&rec, 0, sizeof(rec));
    if (x->rc == MZ_OK)
        x->rc = mz_store_load_state(x->en->st, s->login, &rec, &x->e);
    json_object *j = x->rc == MZ_OK ? staff_json(x->en, s, &rec, &x->e) : NULL;
    if (j != NULL)
        json_object_array_add(x->array, j);
    else if (x->rc == MZ_OK)
        x->rc = MZ_ERR_STORE;
}

int cmd_export(struct enroll *en, int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--json") != 0)
        return enroll_usage("export", "%s", _("give --json (the only format of export)"));
    int status = enroll_open(en, false);
    if (status != EXIT_DONE)
        return status;
    struct export_state x = {en, json_object_new_array(), MZ_OK, {""}};
    int rc = mz_admin_each_staff(en->st, NULL, export_one, &x, &x.e);
    if (rc == MZ_OK)
        rc = x.rc;
    if (rc != MZ_OK) {
        json_object_put(x.array);
        return enroll_fail(rc, &x.e);
    }
    json_object *doc = json_object_new_object();
    char at[32];
    mz_iso_time(en->now, at, sizeof(at));
    json_object_object_add(doc, "exported_at", json_object_new_string(at));
    json_object_object_add(doc, "staff", x.array);
    enroll_print_json(doc, false);
    return EXIT_DONE;
}
