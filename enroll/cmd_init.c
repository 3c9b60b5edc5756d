/* mnzone-enroll init: the store and the key file, with the right owner and modes.
 * Idempotent: an existing key is never replaced, an existing store is kept. */
#include "config.h"

#include "enroll.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Creates the folder that holds PATH (mode 0700) if it is missing. */
static int make_parent(const char *path, mz_err *e)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof(copy), "%s", path);
    const char *dir = dirname(copy);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return mz_fail(e, MZ_ERR_PERM, _("%s: cannot create: %s"), dir, strerror(errno));
    return mz_check_folders(path, NULL, 0, e);
}

int cmd_init(struct enroll *en, int argc, char **argv)
{
    mz_err e;
    if (argc != 1)
        return enroll_usage("init", "%s", _("init takes no arguments"));

    /* A store without its key: a new key would read none of its secrets and break its
     * audit chain. The key is to come back from its backup, not to be made anew. */
    struct stat st;
    if (lstat(en->cfg.key_file, &st) != 0 && errno == ENOENT && lstat(en->cfg.store, &st) == 0) {
        mz_fail(&e, MZ_ERR_PERM,
                _("%s exists but its key file %s does not: put the key file back from its "
                  "backup (a new key could not read the store)"),
                en->cfg.store, en->cfg.key_file);
        return enroll_fail(MZ_ERR_PERM, &e);
    }
    int rc = make_parent(en->cfg.key_file, &e);
    if (rc == MZ_OK) {
        rc = mz_key_file_create(en->cfg.key_file, &e);
        if (rc == MZ_OK)
            printf(_("Created the key file %s (mode 0600).\n"), en->cfg.key_file);
        else if (rc == MZ_ERR_EXISTS)
            printf(_("Kept the existing key file %s.\n"), en->cfg.key_file), rc = MZ_OK;
    }
    if (rc == MZ_OK)
        rc = mz_keys_load(en->cfg.key_file, &en->keys, &e);
    if (rc != MZ_OK)
        return enroll_fail(rc, &e);
    en->keys_loaded = true;

    rc = make_parent(en->cfg.store, &e);
    if (rc == MZ_OK)
        rc = mz_store_open(en->cfg.store, MZ_STORE_CREATE, &en->st, &e);
    if (rc == MZ_OK)
        rc = mz_store_begin(en->st, &e);
    if (rc == MZ_OK)
        rc = enroll_audit(en, "init", "", "", "store ready", &e);
    if (rc == MZ_OK)
        rc = mz_store_commit(en->st, &e);
    if (rc != MZ_OK)
        return enroll_fail(rc, &e);
    printf(_("The store %s is ready.\n"), en->cfg.store);
    return EXIT_DONE;
}
