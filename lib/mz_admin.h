/* Administrative changes to the store: revoke, unlock, one-time codes, listing. Each
 * runs inside the caller's transaction so that the change and its audit event commit
 * together. */
#ifndef MZ_ADMIN_H
#define MZ_ADMIN_H

#include "mz_codes.h"
#include "mz_store.h"

/* Revokes every active credential of LOGIN, voids its unused codes and marks the staff
 * member revoked. MZ_ERR_NOUSER if LOGIN is not in the store. */
int mz_admin_revoke(struct mz_store *st, const char *login, const char *actor, const char *why,
                    int64_t now, mz_err *e);

/* Revokes LOGIN's active credentials of METHOD only (for reset); *COUNT says how many. */
int mz_admin_revoke_method(struct mz_store *st, const char *login, const char *method,
                           const char *actor, const char *why, int64_t now, int *count, mz_err *e);

/* Makes the revoked staff member S->login active again with S's details (a rehire) and a
 * fresh login state; its old credentials and codes stay revoked, as history.
 * MZ_ERR_NOUSER unless the login is in the store and revoked; MZ_ERR_EXISTS if the
 * staff id belongs to someone else. */
int mz_admin_reenrol(struct mz_store *st, const struct mz_staff *s, mz_err *e);

/* Clears LOGIN's failure counter and lock-out. */
int mz_admin_unlock(struct mz_store *st, const char *login, mz_err *e);

/* Stores one code of KIND ("recovery" or "emergency") already sealed in ENTRY. */
int mz_admin_add_code(struct mz_store *st, const char *login, const char *kind,
                      const struct mz_code_entry *entry, const char *actor, const char *reason,
                      int64_t now, mz_err *e);

/* Voids LOGIN's unused codes of KIND; *COUNT says how many. */
int mz_admin_void_codes(struct mz_store *st, const char *login, const char *kind, int64_t now,
                        int *count, mz_err *e);

/* Calls FN for every staff member, by login; STATUS NULL for all, else only that one. */
int mz_admin_each_staff(struct mz_store *st, const char *status,
                        void (*fn)(const struct mz_staff *, void *), void *arg, mz_err *e);

/* Updates the staff record's updated_at/updated_by. */
int mz_admin_touch_staff(struct mz_store *st, const char *login, const char *actor, int64_t now,
                         mz_err *e);

#endif
