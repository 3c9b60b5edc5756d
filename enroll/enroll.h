/* mnzone-enroll: shared state of the subcommands and their helpers. */
#ifndef ENROLL_H
#define ENROLL_H

#include "mz_admin.h"
#include "mz_audit.h"
#include "mz_config.h"
#include "mz_store.h"

#include <json-c/json.h>
#include <stdbool.h>

/* Exit codes of DESIGN.md. */
enum {
    EXIT_DONE = 0,
    EXIT_CHECK_FAILED = 1,
    EXIT_USAGE = 2,
    EXIT_NO_USER = 3,
    EXIT_SYSTEM = 4,
};

struct enroll {
    struct mz_config cfg;
    const char *config_path;
    char actor[65]; /* the administrator: SUDO_USER, else the real user */
    char host[256];
    int64_t now;
    struct mz_store *st;
    struct mz_keys keys;
    bool keys_loaded;
};

/* Prints "mnzone-enroll: MSG" on stderr and returns the exit code for RC. */
int enroll_fail(int rc, const mz_err *e);
/* Prints a usage error for COMMAND and returns EXIT_USAGE. */
int enroll_usage(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The exit code for a core result code. */
int enroll_exit_code(int rc);

/* Opens the store (and loads the key if WITH_KEYS); on failure prints why and returns
 * the exit code, else EXIT_DONE. */
int enroll_open(struct enroll *en, bool with_keys);
void enroll_close(struct enroll *en);

/* Appends an administrative event about USER in the current transaction. */
int enroll_audit(struct enroll *en, const char *event, const char *method, const char *user,
                 const char *reason, mz_err *e);

/* Names, departments, reasons: UTF-8 without control characters, at most MAX bytes. */
bool enroll_valid_text(const char *s, size_t max, bool may_be_empty);
/* Staff ids (職員番号): letters, digits, '-' and '_', 1 to 64 of them. */
bool enroll_valid_staff_id(const char *s);
/* The next 31 March on or after NOW (the end of the Japanese fiscal year), "YYYY-03-31". */
void enroll_fiscal_year_end(int64_t now, char buf[11]);
/* What add and import --google-authenticator are told about a new staff member. */
struct staff_fields {
    const char *login, *staff_id, *name, *dept, *valid_until;
};
/* Checks F (login already checked) and fills STAFF, keeping STAFF's employment; on a
 * bad field prints usage for COMMAND naming the option and returns EXIT_USAGE. */
int enroll_fill_staff(struct enroll *en, const char *command, const struct staff_fields *f,
                      struct mz_staff *staff);
/* Prints one CSV field, quoted as RFC 4180 asks when needed; LAST ends the row (CRLF). */
void enroll_csv_field(const char *s, bool last);
/* The usage error for an unknown or incomplete option ARG of COMMAND, showing ARG only
 * up to its '=' (a mistyped --secret=... must not put the secret on the terminal);
 * returns EXIT_USAGE. */
int enroll_unknown_option(const char *command, const char *arg);
/* WORD (a status, an employment, a method or an outcome as the store and the audit log
 * write it in English) in the user's language for text meant for people; WORD itself
 * when it is not one of them. JSON and CSV keep the stored words. */
const char *enroll_word(const char *word);
/* Reads one line with echo off when stdin is a terminal (after PROMPT), else plainly;
 * with read(2), so that no stdio buffer keeps a copy. False at end of input. */
bool enroll_read_hidden(const char *prompt, char *buf, size_t len);
/* Prints J (pretty) and frees it; SECRET: its strings are held aside while json-c lays
 * it out (json-c's output buffer never sees them) and zeroed before they are freed. */
void enroll_print_json(json_object *j, bool secret);
/* Voids LOGIN's recovery codes and issues N new ones into CODES (in the transaction). */
int enroll_issue_recovery_codes(struct enroll *en, const char *login, char (*codes)[MZ_CODE_TEXT],
                                unsigned n, mz_err *e);
void enroll_print_codes(const char (*codes)[MZ_CODE_TEXT], unsigned n);
json_object *enroll_codes_json(const char (*codes)[MZ_CODE_TEXT], unsigned n);
/* Commits when RC is MZ_OK, else rolls back; returns the final result code. */
int enroll_commit(struct enroll *en, int rc, mz_err *e);
/* Exit code for a staff member that must exist: 3 if not. */
int enroll_need_user(struct enroll *en, const char *command, const char *login,
                     struct mz_staff *staff);

/* A YubiKey to bind (add or reset --method yubikey). */
struct key_request {
    const char *command;          /* "add" or "reset", for messages */
    const struct mz_staff *staff; /* a new (or revoked) staff member; NULL: an active one */
    bool program;                 /* write a fresh secret into the slot first */
    bool replace;                 /* revoke the user's active key (reset) */
    bool json;
};
/* Reads the plugged-in key (exit 4 when there is none), then stores the credential. */
int enroll_key(struct enroll *en, const char *login, const struct key_request *r);

int cmd_init(struct enroll *en, int argc, char **argv);
int cmd_add(struct enroll *en, int argc, char **argv);
int cmd_reset(struct enroll *en, int argc, char **argv);
int cmd_show(struct enroll *en, int argc, char **argv);
int cmd_list(struct enroll *en, int argc, char **argv);
int cmd_revoke(struct enroll *en, int argc, char **argv);
int cmd_unlock(struct enroll *en, int argc, char **argv);
int cmd_recovery_codes(struct enroll *en, int argc, char **argv);
int cmd_emergency(struct enroll *en, int argc, char **argv);
int cmd_verify(struct enroll *en, int argc, char **argv);
int cmd_import(struct enroll *en, int argc, char **argv);
int cmd_export(struct enroll *en, int argc, char **argv);
int cmd_audit(struct enroll *en, int argc, char **argv);
int cmd_report(struct enroll *en, int argc, char **argv);
int cmd_check(struct enroll *en, int argc, char **argv);

#endif
