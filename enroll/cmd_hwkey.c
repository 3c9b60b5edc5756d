/* mnzone-enroll: binding a YubiKey (add --method yubikey, reset --method yubikey). The key
 * is read, and with --program given a fresh secret, before anything is written; then
 * the staff record (for a new staff member), the credential and the audit event are
 * committed together. The host keeps only the serial, a challenge and a keyed hash of
 * the key's response. */
#include "config.h"

#include "enroll.h"
#include "mz_hwkey.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static bool touch_prompt(void *arg, bool again)
{
    (void)arg;
    (void)again;
    fprintf(stderr, "%s\n", _("Touch the YubiKey now."));
    return true;
}

/* Checks that LOGIN may get a key as R asks: a new (or revoked) staff member for add with
 * details, an active one otherwise; one active key at a time unless replacing. */
static int check_user(struct enroll *en, const char *login, const struct key_request *r,
                      bool *reenrol)
{
    mz_err e;
    struct mz_staff existing;
    int rc = mz_store_get_staff(en->st, login, &existing, &e);
    *reenrol = rc == MZ_OK && existing.status == MZ_STAFF_REVOKED;
    if (rc != MZ_OK && rc != MZ_ERR_NOUSER)
        return enroll_fail(rc, &e);
    if (r->staff != NULL) {
        if (rc == MZ_OK && !*reenrol)
            return enroll_usage(r->command,
                                _("%s is enrolled already: to add a YubiKey, give only USER and "
                                  "--method yubikey [--program]"),
                                login);
        return EXIT_DONE;
    }
    if (rc == MZ_ERR_NOUSER)
        return enroll_fail(rc, &e);
    if (existing.status != MZ_STAFF_ACTIVE)
        return enroll_usage(r->command, _("%s is %s: enrol again with add"), login,
                            enroll_word(mz_staff_status_name(existing.status)));
    struct mz_factors f;
    rc = mz_store_factors(en->st, login, en->now, &f, &e);
    if (rc != MZ_OK)
        return enroll_fail(rc, &e);
    if (f.has_hwkey && !r->replace)
        return enroll_usage(r->command,
                            _("%s has a YubiKey already (serial %u): replace it with reset "
                              "USER --method yubikey"),
                            login, (unsigned)f.hw.serial);
    if (!f.has_hwkey && r->replace)
        return enroll_usage(r->command,
                            _("%s has no YubiKey: add one with add USER --method yubikey"), login);
    return EXIT_DONE;
}

/* EXIT_DONE when no one but LOGIN has SERIAL as an active key; else says whose it is
 * (one key for two staff members would log in as either, and --program would have
 * rewritten the other one's key). */
static int key_free(struct enroll *en, const char *login, uint32_t serial, const char *command)
{
    sqlite3 *db = mz_store_db(en->st);
    sqlite3_stmt *q = NULL;
    char owner[64] = "";
    int step = SQLITE_ERROR;
    if (sqlite3_prepare_v2(db,
                           "SELECT login FROM credentials WHERE method = 'yubikey' AND status ="
                           " 'active' AND hw_serial = ?1 AND login <> ?2 LIMIT 1",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, serial);
        sqlite3_bind_text(q, 2, login, -1, SQLITE_STATIC);
        step = sqlite3_step(q);
        if (step == SQLITE_ROW)
            snprintf(owner, sizeof(owner), "%s", (const char *)sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        fprintf(stderr, "mnzone-enroll: %s: %s\n", en->cfg.store, sqlite3_errmsg(db));
        return EXIT_SYSTEM;
    }
    if (step == SQLITE_ROW)
        return enroll_usage(command,
                            _("this YubiKey (serial %u) is %s's: one key serves one staff member; "
                              "revoke it there first"),
                            (unsigned)serial, owner);
    return EXIT_DONE;
}

/* Reads (and with R->program, programs) the plugged-in key into CRED, once it is known
 * to be no one else's; *PROGRAMMED as mz_hw_enrol sets it. */
static int read_key(struct enroll *en, const char *login, const struct key_request *r,
                    struct mz_hw_cred *cred, bool *programmed)
{
    const struct mz_hwkey_ops *ops = mz_ykpers_ops();
    struct mz_hw_device *dev = NULL;
    struct mz_hw_prompt prompt = {touch_prompt, NULL};
    mz_err e;
    uint32_t serial = 0;
    int hrc = ops->open(&dev, &e);
    if (hrc == MZ_HW_OK) {
        hrc = ops->serial(dev, &serial, &e);
        int status = hrc == MZ_HW_OK ? key_free(en, login, serial, r->command) : EXIT_DONE;
        if (status != EXIT_DONE) {
            ops->close(dev);
            return status;
        }
        if (hrc == MZ_HW_OK)
            hrc = mz_hw_enrol(ops, dev, &en->keys, en->cfg.hwkey_slot, r->program,
                              en->cfg.hwkey_touch, &prompt, cred, programmed, &e);
        ops->close(dev);
    }
    switch (hrc) {
    case MZ_HW_OK: return EXIT_DONE;
    case MZ_HW_NO_KEY:
        fprintf(stderr, "mnzone-enroll: %s\n", _("no YubiKey found: insert the key and try again"));
        return EXIT_SYSTEM;
    default:
        fprintf(stderr, "mnzone-enroll: %s\n", e.msg);
        if (!r->program)
            fprintf(stderr,
                    _("mnzone-enroll: is slot %u programmed for HMAC-SHA1 "
                      "challenge-response? If not, add --program.\n"),
                    en->cfg.hwkey_slot);
        return EXIT_SYSTEM;
    }
}

static int store_key(struct enroll *en, const char *login, const struct key_request *r,
                     bool reenrol, const struct mz_hw_cred *cred, char (*codes)[MZ_CODE_TEXT],
                     unsigned *ncodes, mz_err *e)
{
    int rc = MZ_OK, revoked = 0;
    char why[128];
    if (r->staff != NULL) {
        rc = reenrol ? mz_admin_reenrol(en->st, r->staff, e)
                     : mz_store_add_staff(en->st, r->staff, e);
        *ncodes = en->cfg.recovery_codes;
        if (rc == MZ_OK)
            rc = enroll_issue_recovery_codes(en, login, codes, *ncodes, e);
    }
    if (rc == MZ_OK && r->replace)
        rc = mz_admin_revoke_method(en->st, login, "yubikey", en->actor, "reset", en->now, &revoked,
                                    e);
    if (rc == MZ_OK)
        rc = mz_store_add_hwkey(en->st, login, cred, en->now, en->actor, e);
    if (rc == MZ_OK && r->staff == NULL)
        rc = mz_admin_touch_staff(en->st, login, en->actor, en->now, e);
    snprintf(why, sizeof(why), "YubiKey serial %u, slot %u%s%s", (unsigned)cred->serial, cred->slot,
             r->program ? ", programmed" : "", r->replace ? "; old key revoked" : "");
    if (rc == MZ_OK)
        rc = enroll_audit(en, r->replace ? "reset" : "add", "yubikey", login, why, e);
    return rc;
}

static void print_key(const char *login, const struct key_request *r, const struct mz_hw_cred *cred,
                      const char (*codes)[MZ_CODE_TEXT], unsigned ncodes)
{
    if (!r->json) {
        if (r->staff != NULL)
            printf(_("Enrolled %s (%s).\n"), login, r->staff->name);
        printf(_("YubiKey serial %u (slot %u) enrolled for %s.\n"), (unsigned)cred->serial,
               cred->slot, login);
        enroll_print_codes(codes, ncodes);
        return;
    }
    json_object *j = json_object_new_object();
    json_object_object_add(j, "user", json_object_new_string(login));
    if (r->staff != NULL)
        json_object_object_add(j, "staff_id", json_object_new_string(r->staff->staff_id));
    json_object_object_add(j, "method", json_object_new_string("yubikey"));
    json_object_object_add(j, "serial", json_object_new_int64(cred->serial));
    json_object_object_add(j, "slot", json_object_new_int((int)cred->slot));
    json_object_object_add(j, "programmed", json_object_new_boolean(r->program));
    if (ncodes > 0)
        json_object_object_add(j, "recovery_codes", enroll_codes_json(codes, ncodes));
    enroll_print_json(j, true);
}

/* The slot of the key with SERIAL was rewritten but the enrolment was not stored: the
 * key can no longer answer LOGIN's old credential for it, if LOGIN had one, and each
 * login would count a wrong response until the lock-out. That credential is revoked
 * (audited), so that the module says there is no key instead, and the administrator is
 * told what to do. */
static void void_reprogrammed(struct enroll *en, const char *login, uint32_t serial)
{
    mz_err e;
    int revoked = 0;
    int rc = mz_store_begin(en->st, &e);
    if (rc == MZ_OK) {
        /* the credential itself, whatever the staff member's status now (one suspended
         * meanwhile keeps it for when they come back) */
        sqlite3 *db = mz_store_db(en->st);
        sqlite3_stmt *q = NULL;
        int step = SQLITE_ERROR;
        if (sqlite3_prepare_v2(db,
                               "SELECT count(*) FROM credentials WHERE login = ?1 AND method ="
                               " 'yubikey' AND status = 'active' AND hw_serial = ?2",
                               -1, &q, NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, login, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 2, serial);
            step = sqlite3_step(q);
        }
        bool held = step == SQLITE_ROW && sqlite3_column_int(q, 0) > 0;
        sqlite3_finalize(q);
        if (step != SQLITE_ROW)
            rc = mz_fail(&e, MZ_ERR_STORE, "%s", sqlite3_errmsg(db));
        if (rc == MZ_OK && held)
            rc = mz_admin_revoke_method(en->st, login, "yubikey", en->actor,
                                        "key reprogrammed; enrolment not finished", en->now,
                                        &revoked, &e);
        if (rc == MZ_OK && revoked > 0)
            rc = enroll_audit(en, "revoke", "yubikey", login,
                              "key reprogrammed; enrolment not finished", &e);
        rc = enroll_commit(en, rc, &e);
    }
    if (rc != MZ_OK)
        fprintf(stderr,
                _("mnzone-enroll: the YubiKey (serial %u) was reprogrammed but not enrolled, and "
                  "its old enrolment could not be revoked (%s): revoke it, then enrol the key "
                  "again\n"),
                (unsigned)serial, e.msg);
    else if (revoked > 0)
        fprintf(stderr,
                _("mnzone-enroll: the YubiKey (serial %u) was reprogrammed but not enrolled; its "
                  "old enrolment no longer works and was revoked: enrol the key again with add "
                  "%s --method yubikey --program\n"),
                (unsigned)serial, login);
    else
        fprintf(stderr,
                _("mnzone-enroll: the YubiKey (serial %u) was reprogrammed but not enrolled: run "
                  "the command again\n"),
                (unsigned)serial);
}

int enroll_key(struct enroll *en, const char *login, const struct key_request *r)
{
    struct mz_hw_cred cred;
    char codes[100][MZ_CODE_TEXT];
    unsigned ncodes = 0;
    bool reenrol = false, programmed = false;
    mz_err e;
    memset(&cred, 0, sizeof(cred));
    int status = enroll_open(en, true);
    if (status == EXIT_DONE)
        status = check_user(en, login, r, &reenrol);
    if (status == EXIT_DONE)
        status = read_key(en, login, r, &cred, &programmed);
    if (status == EXIT_DONE) {
        int rc = mz_store_begin(en->st, &e);
        if (rc == MZ_OK) {
            /* again under the write lock: another enrolment may have taken the key, given
             * this user a key, or revoked them */
            status = check_user(en, login, r, &reenrol);
            if (status == EXIT_DONE)
                status = key_free(en, login, cred.serial, r->command);
            if (status == EXIT_DONE)
                rc = enroll_commit(en, store_key(en, login, r, reenrol, &cred, codes, &ncodes, &e),
                                   &e);
            else
                mz_store_rollback(en->st);
        }
        if (rc != MZ_OK)
            status = enroll_fail(rc, &e);
    }
    if (status != EXIT_DONE && programmed && en->st != NULL)
        void_reprogrammed(en, login, cred.serial);
    if (status == EXIT_DONE)
        print_key(login, r, &cred, (const char(*)[MZ_CODE_TEXT])codes, ncodes);
    mz_zero_array(codes);
    mz_zero_object(&cred);
    return status;
}
