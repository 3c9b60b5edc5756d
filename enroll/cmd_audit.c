/* mnzone-enroll audit list, export, verify: read the audit log, hand it to a log server
 * as JSON lines, and check its keyed hash chain (plus a head noted earlier, since the
 * chain alone cannot show that the newest events were cut off). */
#include "config.h"

#include "enroll.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum audit_action { AUDIT_LIST, AUDIT_EXPORT, AUDIT_VERIFY };

/* "SEQ:" and 64 hex digits. */
#define HEAD_TEXT MZ_AUDIT_HEAD_TEXT

struct audit_opts {
    enum audit_action action;
    const char *command; /* "audit list" ..., for messages */
    char since[21];      /* "YYYY-MM-DDTHH:MM:SSZ", or "" from the first event */
    char until[21];      /* the same, exclusive, or "" up to the newest */
    const char *user;    /* NULL for every user */
    bool json;
    bool expect_head;
    int64_t head_seq;
    uint8_t head_hash[MZ_HASH_BYTES];
};

/* The event's text fields in output order, with their JSON keys and store columns. */
#define EVENT_FIELDS 11
static const char *const field_keys[EVENT_FIELDS] = {"time",   "user",   "actor",  "event",
                                                     "method", "result", "reason", "service",
                                                     "host",   "tty",    "rhost"};

struct audit_row {
    int64_t seq;
    const char *field[EVENT_FIELDS];
    const uint8_t *prev_hash, *hash;
    int prev_len, hash_len;
};

/* ---- options */

static bool two_digits(const char *s, int max, int *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return false;
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return *out <= max;
}

/* YYYY-MM-DD (local midnight at its start, as report reads a date) or
 * YYYY-MM-DDTHH:MM:SSZ (UTC), into the stored form so that text order is time order. */
static bool parse_time(const char *s, char out[21])
{
    size_t n = strlen(s);
    char date[11];
    int h, m, sec;
    if (n != 10 && n != 20)
        return false;
    memcpy(date, s, 10);
    date[10] = '\0';
    if (!mz_valid_date(date))
        return false;
    if (n == 10) {
        int64_t t;
        if (!mz_local_midnight(date, &t))
            return false;
        mz_iso_time(t, out, 21);
        return true;
    }
    if (s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z' ||
        !two_digits(s + 11, 23, &h) || !two_digits(s + 14, 59, &m) || !two_digits(s + 17, 59, &sec))
        return false;
    memcpy(out, s, 21);
    return true;
}

/* SEQ:HASH as `audit verify` prints the head. */
static bool parse_head(const char *s, int64_t *seq, uint8_t hash[MZ_HASH_BYTES])
{
    const char *colon = strchr(s, ':');
    char num[21];
    unsigned long v;
    size_t bin_len;
    if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(num))
        return false;
    memcpy(num, s, (size_t)(colon - s));
    num[colon - s] = '\0';
    if (!mz_parse_uint(num, 0, LONG_MAX, &v) || strlen(colon + 1) != 2 * MZ_HASH_BYTES ||
        strspn(colon + 1, "0123456789abcdefABCDEF") != 2 * MZ_HASH_BYTES)
        return false;
    if (sodium_hex2bin(hash, MZ_HASH_BYTES, colon + 1, 2 * MZ_HASH_BYTES, NULL, &bin_len, NULL) !=
            0 ||
        bin_len != MZ_HASH_BYTES)
        return false;
    *seq = (int64_t)v;
    return true;
}

static int parse_options(struct audit_opts *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"since", required_argument, NULL, 's'},       {"until", required_argument, NULL, 't'},
        {"user", required_argument, NULL, 'u'},        {"json", no_argument, NULL, 'j'},
        {"expect-head", required_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    unsigned seen = 0;
    int c, longindex = -1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, &longindex)) != -1) {
        /* The option as its long name: argv[optind - 1] may be its argument. */
        const char *opt = argv[optind - 1];
        char name[32];
        if (c != '?' && longindex >= 0) {
            snprintf(name, sizeof(name), "--%s", longopts[longindex].name);
            opt = name;
        }
        longindex = -1;
        unsigned bit = c == 's'   ? 1u
                       : c == 'u' ? 2u
                       : c == 'j' ? 4u
                       : c == 'h' ? 8u
                       : c == 't' ? 16u
                                  : 0u;
        /* verify checks the whole log: a filter would hide the break it looks for. */
        bool filter = c == 's' || c == 'u' || c == 't', verify_only = c == 'h';
        if (bit == 0)
            return enroll_unknown_option(o->command, opt);
        if ((filter && o->action == AUDIT_VERIFY) || (verify_only && o->action != AUDIT_VERIFY))
            return enroll_usage(o->command, _("%s: not an option of this command"), opt);
        if (seen & bit)
            return enroll_usage(o->command, _("%s: given more than once"), opt);
        seen |= bit;
        if ((c == 's' || c == 't') && !parse_time(optarg, c == 's' ? o->since : o->until))
            return enroll_usage(o->command,
                                _("%s: give a local date YYYY-MM-DD or a UTC time "
                                  "YYYY-MM-DDTHH:MM:SSZ"),
                                opt);
        if (c == 'u' && !mz_valid_login(optarg))
            return enroll_usage(o->command, _("--user: \"%s\" is not a valid login name"), optarg);
        if (c == 'h' && !parse_head(optarg, &o->head_seq, o->head_hash))
            return enroll_usage(o->command, "%s",
                                _("--expect-head: give SEQ:HASH as audit verify printed it "
                                  "(HASH is 64 hex digits)"));
        if (c == 'u')
            o->user = optarg;
        o->json |= c == 'j';
        o->expect_head |= c == 'h';
    }
    if (optind != argc)
        return enroll_usage(o->command, _("unexpected argument %s"), argv[optind]);
    if (o->since[0] != '\0' && o->until[0] != '\0' && strcmp(o->since, o->until) >= 0)
        return enroll_usage(o->command, "%s", _("--since must be before --until"));
    return EXIT_DONE;
}

/* ---- reading */

typedef int (*row_fn)(const struct audit_row *, void *);

/* Calls FN for every event that passes the filters of O, in seq order; stops at the first
 * result other than MZ_OK and returns it (MZ_ERR_NOMEM from FN gets its message here). */
static int each_event(sqlite3 *db, const struct audit_opts *o, row_fn fn, void *arg, mz_err *e)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, at, user, actor, event, method, result, reason, service,"
                           " host, tty, rhost, prev_hash, hash FROM audit"
                           " WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR user = ?2)"
                           " AND (?3 IS NULL OR at < ?3)"
                           " ORDER BY seq",
                           -1, &q, NULL) != SQLITE_OK)
        return mz_fail(e, MZ_ERR_STORE, _("cannot read the audit log: %s"), sqlite3_errmsg(db));
    if (o->since[0] != '\0')
        sqlite3_bind_text(q, 1, o->since, -1, SQLITE_STATIC);
    if (o->user != NULL)
        sqlite3_bind_text(q, 2, o->user, -1, SQLITE_STATIC);
    if (o->until[0] != '\0')
        sqlite3_bind_text(q, 3, o->until, -1, SQLITE_STATIC);
    int rc = MZ_OK, step = SQLITE_DONE;
    while (rc == MZ_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
        struct audit_row r;
        r.seq = sqlite3_column_int64(q, 0);
        for (int i = 0; i < EVENT_FIELDS; i++) {
            const char *t = (const char *)sqlite3_column_text(q, i + 1);
            r.field[i] = t != NULL ? t : "";
        }
        r.prev_hash = sqlite3_column_blob(q, 12);
        r.prev_len = sqlite3_column_bytes(q, 12);
        r.hash = sqlite3_column_blob(q, 13);
        r.hash_len = sqlite3_column_bytes(q, 13);
        rc = fn(&r, arg);
    }
    if (rc == MZ_ERR_NOMEM)
        mz_fail(e, rc, _("out of memory"));
    else if (rc == MZ_OK && step != SQLITE_DONE)
        rc = mz_fail(e, MZ_ERR_STORE, _("cannot read the audit log: %s"), sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return rc;
}

/* ---- output: the store is evidence that someone may have tampered with, so nothing in it
 * may reach a terminal as a control sequence or a SIEM as broken UTF-8. */

/* Writes S for a terminal: "-" when empty; C0 controls, DEL, the characters of
 * mz_utf8_hidden_len (C1 controls, invisible marks, direction controls) and, in text that
 * is not UTF-8, every byte above 0x7f become '?'. */
static void put_clean(const char *s)
{
    bool utf8 = mz_valid_utf8(s);
    if (*s == '\0')
        putchar('-');
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        size_t hidden = utf8 ? mz_utf8_hidden_len(p) : 0;
        if (hidden != 0) {
            putchar('?');
            p += hidden - 1;
        } else if (*p < 0x20 || *p == 0x7f || (!utf8 && *p >= 0x80)) {
            putchar('?');
        } else {
            putchar(*p);
        }
    }
}

/* A JSON string of S; text that is not UTF-8 has its bytes above 0x7f replaced by '?'
 * (json-c escapes the control characters). */
static json_object *json_clean(const char *s)
{
    if (mz_valid_utf8(s))
        return json_object_new_string(s);
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        copy[i] = (unsigned char)s[i] >= 0x80 ? '?' : s[i];
    json_object *j = json_object_new_string(copy);
    free(copy);
    return j;
}

static json_object *json_hex(const uint8_t *bin, int len)
{
    size_t n = len > 0 && bin != NULL ? (size_t)len : 0;
    char *hex = malloc(2 * n + 1);
    if (hex == NULL)
        return NULL;
    sodium_bin2hex(hex, 2 * n + 1, bin != NULL ? bin : (const uint8_t *)"", n);
    json_object *j = json_object_new_string(hex);
    free(hex);
    return j;
}

/* Adds VALUE under KEY; false (and VALUE dropped) when either allocation failed. */
static bool add_member(json_object *j, const char *key, json_object *value)
{
    if (value == NULL)
        return false;
    if (json_object_object_add(j, key, value) != 0) {
        json_object_put(value);
        return false;
    }
    return true;
}

/* The event as a JSON object, or NULL when memory ran out. */
static json_object *row_json(const struct audit_row *r, bool hashes)
{
    json_object *j = json_object_new_object();
    bool ok = j != NULL && add_member(j, "seq", json_object_new_int64(r->seq));
    for (int i = 0; ok && i < EVENT_FIELDS; i++)
        ok = add_member(j, field_keys[i], json_clean(r->field[i]));
    if (ok && hashes)
        ok = add_member(j, "prev_hash", json_hex(r->prev_hash, r->prev_len)) &&
             add_member(j, "hash", json_hex(r->hash, r->hash_len));
    if (!ok) {
        json_object_put(j);
        return NULL;
    }
    return j;
}

/* Prints the event as one line of JSON after PREFIX; MZ_ERR_NOMEM when it cannot be made.
 * Each event is printed and freed on its own, so a log of millions of events needs no
 * more memory than one. */
static int put_row_json(const struct audit_row *r, bool hashes, const char *prefix)
{
    json_object *j = row_json(r, hashes);
    const char *text = j != NULL ? json_object_to_json_string_ext(
                                       j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                                 : NULL;
    if (text != NULL)
        printf("%s%s", prefix, text);
    json_object_put(j);
    return text != NULL ? MZ_OK : MZ_ERR_NOMEM;
}

static int list_text_row(const struct audit_row *r, void *arg)
{
    (void)arg;
    printf("%lld", (long long)r->seq);
    for (int i = 0; i < EVENT_FIELDS; i++) {
        putchar('\t');
        put_clean(r->field[i]);
    }
    putchar('\n');
    return MZ_OK;
}

/* An element of the array of `list --json`; *ARG counts those printed. */
static int list_json_row(const struct audit_row *r, void *arg)
{
    size_t *printed = arg;
    return put_row_json(r, false, (*printed)++ == 0 ? "\n  " : ",\n  ");
}

static int export_row(const struct audit_row *r, void *arg)
{
    (void)arg;
    int rc = put_row_json(r, true, "");
    if (rc == MZ_OK)
        putchar('\n');
    return rc;
}

/* A full disk or a closed pipe must not look like a complete export. */
static int output_done(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "mnzone-enroll: ");
        fprintf(stderr, _("cannot write to standard output: %s"), strerror(errno));
        fputc('\n', stderr);
        return EXIT_SYSTEM;
    }
    return EXIT_DONE;
}

static int read_log(struct enroll *en, const struct audit_opts *o)
{
    mz_err e;
    int status = enroll_open(en, false);
    if (status != EXIT_DONE)
        return status;
    sqlite3 *db = mz_store_db(en->st);
    int rc;
    if (o->action == AUDIT_EXPORT) {
        rc = each_event(db, o, export_row, NULL, &e);
    } else if (o->json) {
        size_t printed = 0;
        putchar('[');
        rc = each_event(db, o, list_json_row, &printed, &e);
        if (rc == MZ_OK)
            printf("%s]\n", printed > 0 ? "\n" : "");
    } else {
        rc = each_event(db, o, list_text_row, NULL, &e);
    }
    if (rc != MZ_OK)
        return enroll_fail(rc, &e);
    return output_done();
}

/* ---- verify */

enum problem {
    PROBLEM_NONE,
    PROBLEM_CHANGED,      /* an event's fields or number differ from what was hashed */
    PROBLEM_OUT_OF_ORDER, /* an event does not follow the one before it */
    PROBLEM_MISSING,      /* numbers are missing before an event */
    PROBLEM_HEAD_MISSING, /* the chain is intact but ends before the head noted earlier */
    PROBLEM_HEAD_DIFFERS, /* the chain is intact but the noted head is not in it */
};
static const char *const problem_names[] = {NULL,      "changed",      "out_of_order",
                                            "missing", "head_missing", "head_differs"};

struct verdict {
    int64_t events;  /* events from the first that fit the chain */
    int64_t bad_seq; /* the first event that does not fit, or 0 */
    enum problem problem;
    bool have_head;
    char head[HEAD_TEXT]; /* the newest event, SEQ:HASH, when the chain is intact */
};

/* The stored hash (COLUMN "hash" or "prev_hash") of event SEQ; seq 0 is the start of the
 * chain, all zeroes. *FOUND is false when there is no such event or its hash is malformed. */
static int stored_hash(sqlite3 *db, bool prev, int64_t seq, uint8_t out[MZ_HASH_BYTES], bool *found,
                       mz_err *e)
{
    sqlite3_stmt *q;
    memset(out, 0, MZ_HASH_BYTES);
    *found = seq == 0;
    if (seq == 0)
        return MZ_OK;
    if (sqlite3_prepare_v2(db,
                           prev ? "SELECT prev_hash FROM audit WHERE seq = ?1"
                                : "SELECT hash FROM audit WHERE seq = ?1",
                           -1, &q, NULL) != SQLITE_OK)
        return mz_fail(e, MZ_ERR_STORE, _("cannot read the audit log: %s"), sqlite3_errmsg(db));
    sqlite3_bind_int64(q, 1, seq);
    int rc = MZ_OK, step = sqlite3_step(q);
    if (step == SQLITE_ROW && sqlite3_column_bytes(q, 0) == MZ_HASH_BYTES) {
        memcpy(out, sqlite3_column_blob(q, 0), MZ_HASH_BYTES);
        *found = true;
    } else if (step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = mz_fail(e, MZ_ERR_STORE, _("cannot read the audit log: %s"), sqlite3_errmsg(db));
    }
    sqlite3_finalize(q);
    return rc;
}

/* Why the chain broke at v->bad_seq: numbers missing before it, a link to the wrong
 * predecessor, or its own content. Events up to v->events are known good. */
static int classify_break(sqlite3 *db, struct verdict *v, mz_err *e)
{
    uint8_t before[MZ_HASH_BYTES], link_to[MZ_HASH_BYTES];
    bool have_before, have_link;
    if (v->bad_seq > v->events + 1) {
        v->problem = PROBLEM_MISSING;
        return MZ_OK;
    }
    int rc = stored_hash(db, false, v->events, before, &have_before, e);
    if (rc == MZ_OK)
        rc = stored_hash(db, true, v->bad_seq, link_to, &have_link, e);
    if (rc != MZ_OK)
        return rc;
    bool linked = v->bad_seq == v->events + 1 && have_before && have_link &&
                  sodium_memcmp(before, link_to, MZ_HASH_BYTES) == 0;
    v->problem = linked ? PROBLEM_CHANGED : PROBLEM_OUT_OF_ORDER;
    return MZ_OK;
}

/* The chain is intact: its head, then whether the head noted earlier is in it. */
static int check_head(sqlite3 *db, const struct audit_opts *o, struct verdict *v, mz_err *e)
{
    uint8_t hash[MZ_HASH_BYTES];
    bool found;
    int rc = stored_hash(db, false, v->events, hash, &found, e);
    if (rc != MZ_OK)
        return rc;
    mz_audit_format_head(v->events, hash, v->head);
    v->have_head = true;
    if (!o->expect_head)
        return MZ_OK;
    if (o->head_seq > v->events) {
        v->problem = PROBLEM_HEAD_MISSING;
        v->bad_seq = v->events + 1;
        return MZ_OK;
    }
    rc = stored_hash(db, false, o->head_seq, hash, &found, e);
    if (rc == MZ_OK && (!found || sodium_memcmp(hash, o->head_hash, MZ_HASH_BYTES) != 0))
        v->problem = PROBLEM_HEAD_DIFFERS;
    return rc;
}

/* Walks the chain and the head in one read transaction, so that logins appending
 * meanwhile cannot make the head disagree with the count. */
static int verify_chain(struct enroll *en, const struct audit_opts *o, struct verdict *v, mz_err *e)
{
    sqlite3 *db = mz_store_db(en->st);
    memset(v, 0, sizeof(*v));
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return mz_fail(e, MZ_ERR_STORE, _("cannot read the audit log: %s"), sqlite3_errmsg(db));
    int rc = mz_audit_verify(en->st, &en->keys, &v->events, &v->bad_seq, e);
    if (rc == 1)
        rc = classify_break(db, v, e);
    else if (rc == MZ_OK)
        rc = check_head(db, o, v, e);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static void print_verdict_text(const struct audit_opts *o, const struct verdict *v)
{
    long long bad = (long long)v->bad_seq, first_missing = (long long)v->events + 1;
    if (v->have_head)
        printf(_("%lld events, chain intact; head %s\n"), (long long)v->events, v->head);
    switch (v->problem) {
    case PROBLEM_NONE:
        if (o->expect_head)
            printf("%s\n", _("The head noted earlier is in the log: no event up to it was "
                             "removed or changed."));
        return;
    case PROBLEM_CHANGED:
        printf(_("Audit log broken at event %lld: it was changed after it was written, or the "
                 "key file is not the one the log was written with.\n"),
               bad);
        break;
    case PROBLEM_OUT_OF_ORDER:
        printf(_("Audit log broken at event %lld: it does not follow the event before it; "
                 "events were reordered, replaced or removed.\n"),
               bad);
        break;
    case PROBLEM_MISSING:
        if (first_missing == bad - 1)
            printf(_("Audit log broken at event %lld: event %lld before it was removed.\n"), bad,
                   first_missing);
        else
            printf(_("Audit log broken at event %lld: events %lld to %lld before it were "
                     "removed.\n"),
                   bad, first_missing, bad - 1);
        break;
    case PROBLEM_HEAD_MISSING:
        printf(_("Audit log cut short: event %lld, noted earlier, is missing; the newest events "
                 "were removed.\n"),
               (long long)o->head_seq);
        break;
    case PROBLEM_HEAD_DIFFERS:
        printf(_("Audit log rewritten: event %lld is not the one noted earlier, or this is "
                 "another store.\n"),
               (long long)o->head_seq);
        break;
    }
    printf("%s\n", _("Keep this store as evidence and compare it with the last export or "
                     "backup."));
}

static void print_verdict_json(const struct audit_opts *o, const struct verdict *v)
{
    json_object *j = json_object_new_object();
    json_object_object_add(j, "events", json_object_new_int64(v->events));
    json_object_object_add(j, "intact", json_object_new_boolean(v->problem == PROBLEM_NONE));
    /* the event the text names: for a rewritten head, the one noted earlier */
    int64_t bad = v->problem == PROBLEM_HEAD_DIFFERS ? (int64_t)o->head_seq : v->bad_seq;
    json_object_object_add(j, "first_bad_seq",
                           v->problem != PROBLEM_NONE ? json_object_new_int64(bad) : NULL);
    json_object_object_add(j, "head", v->have_head ? json_object_new_string(v->head) : NULL);
    json_object_object_add(
        j, "problem",
        v->problem != PROBLEM_NONE ? json_object_new_string(problem_names[v->problem]) : NULL);
    if (o->expect_head) {
        char head[HEAD_TEXT];
        mz_audit_format_head(o->head_seq, o->head_hash, head);
        json_object_object_add(j, "expect_head", json_object_new_string(head));
    }
    enroll_print_json(j, false);
}

static int verify_log(struct enroll *en, const struct audit_opts *o)
{
    struct verdict v;
    mz_err e;
    int status = enroll_open(en, true);
    if (status != EXIT_DONE)
        return status;
    int rc = verify_chain(en, o, &v, &e);
    if (rc != MZ_OK)
        return enroll_fail(rc, &e);
    if (o->json)
        print_verdict_json(o, &v);
    else
        print_verdict_text(o, &v);
    status = output_done();
    if (status == EXIT_DONE && v.problem != PROBLEM_NONE)
        status = EXIT_CHECK_FAILED;
    return status;
}

int cmd_audit(struct enroll *en, int argc, char **argv)
{
    static const struct {
        const char *name;
        const char *command;
        enum audit_action action;
    } actions[] = {{"list", "audit list", AUDIT_LIST},
                   {"export", "audit export", AUDIT_EXPORT},
                   {"verify", "audit verify", AUDIT_VERIFY}};
    struct audit_opts o;
    memset(&o, 0, sizeof(o));
    if (argc < 2)
        return enroll_usage("audit", "%s", _("give list, export or verify"));
    o.command = NULL;
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (strcmp(argv[1], actions[i].name) == 0) {
            o.command = actions[i].command;
            o.action = actions[i].action;
        }
    if (o.command == NULL)
        return enroll_usage("audit", _("unknown action %s; give list, export or verify"), argv[1]);
    /* getopt_long sees the action as argv[0]. */
    int status = parse_options(&o, argc - 1, argv + 1);
    if (status != EXIT_DONE)
        return status;
    return o.action == AUDIT_VERIFY ? verify_log(en, &o) : read_log(en, &o);
}
