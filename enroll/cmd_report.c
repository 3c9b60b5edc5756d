/* mnzone-enroll report: the self-inspection report. Every section is read from the store
 * in one read transaction into a table of cells, then the tables are printed as text,
 * JSON, CSV or one self-contained HTML file. Secrets, code hashes and codes are never
 * read: no query below selects them. */
#include "config.h"

#include "enroll.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <locale.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WARN_DAYS 30 /* the default period, and how soon an expiry is flagged */
#define MAX_DAYS 366 /* a fiscal year in a leap year: the longest period */
#define DAY_SECONDS 86400
#define MAX_COLS 10
/* The most rows of a section whose rows come from what anyone can type or bring to a
 * login (user names, remote hosts): a flood of made-up names must not make the report
 * need memory without end. The rest is counted. */
#define MAX_ROWS 500

enum format { FORMAT_TEXT, FORMAT_JSON, FORMAT_CSV, FORMAT_HTML };

enum cell_kind { CELL_TEXT, CELL_INT, CELL_TIME, CELL_BOOL, CELL_WORD };

/* A fixed value: JSON and CSV show VALUE, text and HTML the translated LABEL. */
struct word {
    const char *value;
    const char *label;
};

static const struct word words[] = {
    {"active", N_("active")},
    {"suspended", N_("suspended")},
    {"revoked", N_("revoked")},
    {"regular", N_("regular")},
    {"fiscal-year", N_("fiscal-year")},
    {"contractor", N_("contractor")},
    {"expired", N_("expired")},
    {"expiring", N_("expiring soon")},
    {"used", N_("used")},
    {"voided", N_("voided")},
    {"valid", N_("valid, not used yet")},
    {"until unlocked", N_("until an administrator unlocks")},
    {"not_enrolled", N_("not in the store")},
    {"no_active_credential", N_("no active credential")},
    {"intact", N_("intact")},
    {"broken", N_("broken: run mnzone-enroll audit verify, and keep this store as evidence")},
    {"no_key", N_("not checked: the key file cannot be read")},
};

struct cell {
    enum cell_kind kind;
    char *text;              /* CELL_TEXT: owned, without control characters */
    const struct word *word; /* CELL_WORD */
    int64_t num;             /* CELL_INT, CELL_BOOL, CELL_TIME (0: none) */
};

struct column {
    const char *key;   /* JSON key and CSV header */
    const char *label; /* column heading for people */
    enum cell_kind kind;
    const char *zero; /* CELL_TIME: what a 0 means to people (NULL: "-") */
};

struct section {
    const char *key;   /* JSON key and CSV section name */
    const char *title; /* heading */
    const char *note;  /* what the section lists; NULL: see section_note() */
    const char *sql;   /* NULL: filled by code */
    const struct column *cols;
    size_t ncols;
    const char *summed; /* capped at MAX_ROWS: the column whose left-out values are summed */
};

struct table {
    const struct section *def;
    struct cell *cells;
    size_t ncells, cap;
    bool oom;
    size_t left_rows; /* rows past MAX_ROWS, not kept */
    int64_t left_sum; /* their values of the section's summed column */
};

enum {
    T_COVERAGE,
    T_EXPIRY,
    T_LOCKED,
    T_STALE,
    T_REVOKED,
    T_EMERGENCY,
    T_FAIL_USER,
    T_FAIL_TERM,
    T_ADMIN,
    T_DAILY,
    T_CHAIN,
    T_COUNT
};

struct coverage {
    const char *group; /* NULL: staff_group not set */
    bool found;
    size_t members, enrolled;
};

struct report {
    const struct enroll *en;
    int64_t since, until, stale_before; /* the period is [since, until) */
    char since_at[32], until_at[32];    /* the same as audit timestamps (UTC) */
    char today[11], soon[11];           /* local dates: today and WARN_DAYS later */
    struct coverage cov;
    const char *no_key; /* why the chain was not checked; NULL: it was */
    bool chain_broken;
    struct table t[T_COUNT];
};

/* ---- the sections: SQL parameters are bound by name in bind_params() */

#define COLS(a) a, sizeof(a) / sizeof(a[0])

static const struct column coverage_cols[] = {
    {"user", N_("User"), CELL_TEXT, NULL},
    {"reason", N_("Finding"), CELL_WORD, NULL},
};

static const struct column expiry_cols[] = {
    {"user", N_("User"), CELL_TEXT, NULL},
    {"name", N_("Name"), CELL_TEXT, NULL},
    {"department", N_("Department"), CELL_TEXT, NULL},
    {"employment", N_("Employment"), CELL_WORD, NULL},
    {"valid_until", N_("Valid until"), CELL_TEXT, NULL},
    {"state", N_("State"), CELL_WORD, NULL},
    {"days_left", N_("Days left"), CELL_INT, NULL},
};
static const char expiry_sql[] =
    "SELECT login, full_name, department, employment, valid_until,"
    " CASE WHEN valid_until < :today THEN 'expired' ELSE 'expiring' END,"
    " CAST(julianday(valid_until) - julianday(:today) AS INTEGER)"
    " FROM staff WHERE status = 'active' AND valid_until <> '' AND valid_until <= :soon"
    " ORDER BY valid_until, login";

static const struct column locked_cols[] = {
    {"user", N_("User"), CELL_TEXT, NULL},
    {"name", N_("Name"), CELL_TEXT, NULL},
    {"failures", N_("Failures"), CELL_INT, NULL},
    {"locked_until", N_("Locked until"), CELL_TIME, NULL},
    {"last_failure_at", N_("Last failure"), CELL_TIME, NULL},
};
static const char locked_sql[] =
    "SELECT l.login, COALESCE(s.full_name, ''), l.failures, l.locked_until, l.last_failure_at"
    " FROM login_state l LEFT JOIN staff s ON s.login = l.login"
    " WHERE l.locked_until > :now ORDER BY l.login";

static const struct column stale_cols[] = {
    {"user", N_("User"), CELL_TEXT, NULL},
    {"name", N_("Name"), CELL_TEXT, NULL},
    {"department", N_("Department"), CELL_TEXT, NULL},
    {"status", N_("Status"), CELL_WORD, NULL},
    {"method", N_("Method"), CELL_TEXT, NULL},
    {"created_at", N_("Enrolled"), CELL_TIME, NULL},
    {"last_used_at", N_("Last used"), CELL_TIME, N_("never")},
    {"days_unused", N_("Days unused"), CELL_INT, NULL},
};
/* Never used: counted from the enrolment. */
static const char stale_sql[] =
    "SELECT c.login, s.full_name, s.department, s.status, c.method, c.created_at,"
    " c.last_used_at,"
    " (:now - CASE WHEN c.last_used_at > 0 THEN c.last_used_at ELSE c.created_at END) / 86400"
    " FROM credentials c JOIN staff s ON s.login = c.login WHERE c.status = 'active'"
    " AND CASE WHEN c.last_used_at > 0 THEN c.last_used_at ELSE c.created_at END"
    " < :stale_before ORDER BY c.login, c.id";

static const struct column revoked_cols[] = {
    {"user", N_("User"), CELL_TEXT, NULL},
    {"name", N_("Name"), CELL_TEXT, NULL},
    {"method", N_("Method"), CELL_TEXT, NULL},
    {"revoked_at", N_("Revoked"), CELL_TIME, NULL},
    {"revoked_by", N_("Revoked by"), CELL_TEXT, NULL},
    {"reason", N_("Reason"), CELL_TEXT, NULL},
};
static const char revoked_sql[] =
    "SELECT c.login, COALESCE(s.full_name, ''), c.method, c.revoked_at, c.revoked_by,"
    " c.revoked_why FROM credentials c LEFT JOIN staff s ON s.login = c.login"
    " WHERE c.revoked_at >= :since AND c.revoked_at < :until ORDER BY c.revoked_at, c.id";

static const struct column emergency_cols[] = {
    {"user", N_("User"), CELL_TEXT, NULL},        {"name", N_("Name"), CELL_TEXT, NULL},
    {"issued_at", N_("Issued"), CELL_TIME, NULL}, {"issued_by", N_("Issued by"), CELL_TEXT, NULL},
    {"reason", N_("Reason"), CELL_TEXT, NULL},    {"expires_at", N_("Expires"), CELL_TIME, NULL},
    {"used", N_("Used"), CELL_BOOL, NULL},        {"used_at", N_("Used at"), CELL_TIME, NULL},
    {"state", N_("State"), CELL_WORD, NULL},
};
static const char emergency_sql[] =
    "SELECT k.login, COALESCE(s.full_name, ''), k.created_at, k.created_by, k.reason,"
    " k.expires_at, k.used_at > 0, k.used_at,"
    " CASE WHEN k.used_at > 0 THEN 'used' WHEN k.voided_at > 0 THEN 'voided'"
    " WHEN k.expires_at <= :now THEN 'expired' ELSE 'valid' END"
    " FROM codes k LEFT JOIN staff s ON s.login = k.login WHERE k.kind = 'emergency'"
    " AND ((k.created_at >= :since AND k.created_at < :until)"
    " OR (k.used_at >= :since AND k.used_at < :until)) ORDER BY k.created_at, k.id";

static const struct column fail_user_cols[] = {
    {"user", N_("User"), CELL_TEXT, NULL},
    {"name", N_("Name"), CELL_TEXT, NULL},
    {"failures", N_("Failures"), CELL_INT, NULL},
    {"last_at", N_("Last failure"), CELL_TIME, NULL},
};
static const char fail_user_sql[] =
    "SELECT a.user, COALESCE(s.full_name, ''), count(*),"
    " CAST(strftime('%s', max(a.at)) AS INTEGER)"
    " FROM audit a LEFT JOIN staff s ON s.login = a.user"
    " WHERE a.event = 'auth' AND a.result = 'failure' AND a.at >= :since_at"
    " AND a.at < :until_at GROUP BY a.user ORDER BY count(*) DESC, a.user";

static const struct column fail_term_cols[] = {
    {"host", N_("Host"), CELL_TEXT, NULL},
    {"tty", N_("Terminal"), CELL_TEXT, NULL},
    {"rhost", N_("Remote host"), CELL_TEXT, NULL},
    {"failures", N_("Failures"), CELL_INT, NULL},
    {"last_at", N_("Last failure"), CELL_TIME, NULL},
};
static const char fail_term_sql[] =
    "SELECT host, tty, rhost, count(*), CAST(strftime('%s', max(at)) AS INTEGER) FROM audit"
    " WHERE event = 'auth' AND result = 'failure' AND at >= :since_at AND at < :until_at"
    " GROUP BY host, tty, rhost ORDER BY count(*) DESC, host, tty, rhost";

static const struct column admin_cols[] = {
    {"actor", N_("Administrator"), CELL_TEXT, NULL},
    {"event", N_("Action"), CELL_TEXT, NULL},
    {"count", N_("Count"), CELL_INT, NULL},
    {"last_at", N_("Last"), CELL_TIME, NULL},
};
static const char admin_sql[] =
    "SELECT actor, event, count(*), CAST(strftime('%s', max(at)) AS INTEGER) FROM audit"
    " WHERE service = 'mnzone-enroll' AND at >= :since_at AND at < :until_at"
    " GROUP BY actor, event ORDER BY actor, event";

static const struct column daily_cols[] = {
    {"date", N_("Date"), CELL_TEXT, NULL},
    {"success", N_("Successful"), CELL_INT, NULL},
    {"failure", N_("Failed"), CELL_INT, NULL},
};
static const char daily_sql[] =
    "SELECT date(at, 'localtime'), sum(result = 'success'), sum(result = 'failure') FROM audit"
    " WHERE event = 'auth' AND at >= :since_at AND at < :until_at GROUP BY 1 ORDER BY 1";

static const struct column chain_cols[] = {
    {"checked", N_("Checked"), CELL_BOOL, NULL},
    {"intact", N_("Intact"), CELL_BOOL, NULL},
    {"events", N_("Events"), CELL_INT, NULL},
    {"head", N_("Head (SEQ:HASH)"), CELL_TEXT, NULL},
    {"first_bad_seq", N_("First bad event (0: none)"), CELL_INT, NULL},
    {"state", N_("State"), CELL_WORD, NULL},
};

static const struct section sections[T_COUNT] = {
    [T_COVERAGE] = {"coverage", N_("Enrolment coverage"),
                    N_("Members of the staff group without an active enrolment: not in the "
                       "store, suspended or revoked, or without an active credential."),
                    NULL, COLS(coverage_cols)},
    [T_EXPIRY] = {"expiry", N_("Expired or expiring enrolments"), NULL, expiry_sql,
                  COLS(expiry_cols)},
    [T_LOCKED] = {"locked", N_("Locked accounts"),
                  N_("Accounts locked out now after too many failed attempts."), locked_sql,
                  COLS(locked_cols)},
    [T_STALE] = {"stale", N_("Stale credentials"), NULL, stale_sql, COLS(stale_cols)},
    [T_REVOKED] = {"revocations", N_("Revocations"),
                   N_("Credentials revoked in the period, by whom and why."), revoked_sql,
                   COLS(revoked_cols)},
    [T_EMERGENCY] = {"emergency_codes", N_("Emergency codes (exceptional measures)"),
                     N_("Emergency codes issued or used in the period, why, by whom, and "
                        "whether they were used."),
                     emergency_sql, COLS(emergency_cols)},
    [T_FAIL_USER] = {"failed_logins_by_user", N_("Failed logins by user"),
                     N_("Failed login attempts in the period, by user."), fail_user_sql,
                     COLS(fail_user_cols), "failures"},
    [T_FAIL_TERM] = {"failed_logins_by_terminal", N_("Failed logins by terminal"),
                     N_("Failed login attempts in the period, by host, terminal and remote "
                        "host."),
                     fail_term_sql, COLS(fail_term_cols), "failures"},
    [T_ADMIN] = {"admin_actions", N_("Administrative actions"),
                 N_("Actions recorded by mnzone-enroll in the period, by administrator."),
                 admin_sql, COLS(admin_cols)},
    [T_DAILY] = {"logins_per_day", N_("Logins per day"), NULL, NULL, COLS(daily_cols)},
    [T_CHAIN] = {"audit_chain", N_("Audit log"),
                 N_("The figures above come from the audit log; its keyed hash chain is checked "
                    "here as audit verify does. Note the head in the self-inspection record: "
                    "audit verify --expect-head HEAD later shows that no event up to it was "
                    "removed."),
                 NULL, COLS(chain_cols)},
};

/* ---- cells */

/* A copy of S fit for a terminal, CSV and XML: C0 controls, DEL and the characters of
 * mz_utf8_hidden_len (C1 controls, invisible marks and direction controls, U+FFFE/U+FFFF)
 * become '?', and so does every non-ASCII byte if S is not UTF-8. A name typed at a login
 * prompt cannot then pass for another's ("\u202Eorat" shown as "taro"). */
static char *clean_copy(const char *s)
{
    size_t n = strlen(s), j = 0;
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    bool utf8 = mz_valid_utf8(s);
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        size_t hidden = utf8 ? mz_utf8_hidden_len(p + i) : 0;
        if (hidden != 0) {
            i += hidden - 1;
            out[j++] = '?';
        } else {
            bool bad = p[i] < 0x20 || p[i] == 0x7f || (!utf8 && p[i] >= 0x80);
            out[j++] = bad ? '?' : (char)p[i];
        }
    }
    out[j] = '\0';
    return out;
}

static struct cell *new_cell(struct table *t, enum cell_kind kind)
{
    if (t->oom)
        return NULL;
    if (t->ncells == t->cap) {
        size_t cap = t->cap != 0 ? t->cap * 2 : 64;
        struct cell *cells = realloc(t->cells, cap * sizeof(*cells));
        if (cells == NULL) {
            t->oom = true;
            return NULL;
        }
        t->cells = cells;
        t->cap = cap;
    }
    struct cell *c = &t->cells[t->ncells++];
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    return c;
}

static void add_text(struct table *t, const char *s)
{
    struct cell *c = new_cell(t, CELL_TEXT);
    if (c != NULL && (c->text = clean_copy(s != NULL ? s : "")) == NULL)
        t->oom = true;
}

static void add_number(struct table *t, enum cell_kind kind, int64_t n)
{
    struct cell *c = new_cell(t, kind);
    if (c != NULL)
        c->num = n;
}

/* A known word, or else the text as it is. */
static void add_word(struct table *t, const char *value)
{
    for (size_t i = 0; value != NULL && i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcmp(value, words[i].value) == 0) {
            struct cell *c = new_cell(t, CELL_WORD);
            if (c != NULL)
                c->word = &words[i];
            return;
        }
    }
    add_text(t, value);
}

static void add_column(struct table *t, sqlite3_stmt *q, int i, enum cell_kind kind)
{
    if (kind == CELL_TEXT || kind == CELL_WORD) {
        const char *s = (const char *)sqlite3_column_text(q, i);
        if (kind == CELL_TEXT)
            add_text(t, s);
        else
            add_word(t, s);
        return;
    }
    int64_t v = sqlite3_column_int64(q, i);
    if (kind == CELL_TIME && v == MZ_LOCKED_FOREVER)
        add_word(t, "until unlocked");
    else
        add_number(t, kind, v);
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->ncells; i++)
        free(t->cells[i].text);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

static size_t table_rows(const struct table *t)
{
    return t->ncells / t->def->ncols;
}

static const struct cell *cell_at(const struct table *t, size_t row, size_t col)
{
    return &t->cells[row * t->def->ncols + col];
}

/* Text and HTML leave out the days without a login attempt (the chart shows them). */
static bool row_shown(const struct table *t, size_t row)
{
    return t->def != &sections[T_DAILY] || cell_at(t, row, 1)->num + cell_at(t, row, 2)->num > 0;
}

/* ---- reading the store */

static int store_fail(const struct report *r, sqlite3 *db, mz_err *e)
{
    return mz_fail(e, MZ_ERR_STORE, _("%s: cannot read for the report: %s"), r->en->cfg.store,
                   sqlite3_errmsg(db));
}

static int no_memory(mz_err *e)
{
    return mz_fail(e, MZ_ERR_NOMEM, "%s", _("out of memory"));
}

/* Binds the named parameters that Q uses. */
static void bind_params(const struct report *r, sqlite3_stmt *q)
{
    const struct {
        const char *name, *text;
        int64_t num;
    } params[] = {
        {":since_at", r->since_at, 0}, {":until_at", r->until_at, 0},
        {":today", r->today, 0},       {":soon", r->soon, 0},
        {":now", NULL, r->en->now},    {":since", NULL, r->since},
        {":until", NULL, r->until},    {":stale_before", NULL, r->stale_before},
    };
    for (int i = 1; i <= sqlite3_bind_parameter_count(q); i++) {
        const char *name = sqlite3_bind_parameter_name(q, i);
        for (size_t k = 0; name != NULL && k < sizeof(params) / sizeof(params[0]); k++) {
            if (strcmp(name, params[k].name) != 0)
                continue;
            if (params[k].text != NULL)
                sqlite3_bind_text(q, i, params[k].text, -1, SQLITE_STATIC);
            else
                sqlite3_bind_int64(q, i, params[k].num);
        }
    }
}

/* Each row of the section's query is one row of cells, column by column. */
static int fill_from_sql(const struct report *r, struct table *t, sqlite3 *db, mz_err *e)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, t->def->sql, -1, &q, NULL) != SQLITE_OK)
        return store_fail(r, db, e);
    bind_params(r, q);
    int step, summed = -1;
    for (size_t i = 0; t->def->summed != NULL && i < t->def->ncols; i++)
        if (strcmp(t->def->cols[i].key, t->def->summed) == 0)
            summed = (int)i;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        if (summed >= 0 && table_rows(t) >= MAX_ROWS) {
            t->left_rows++;
            t->left_sum += sqlite3_column_int64(q, summed);
            continue;
        }
        for (size_t i = 0; i < t->def->ncols; i++)
            add_column(t, q, (int)i, t->def->cols[i].kind);
    }
    int rc = step == SQLITE_DONE ? MZ_OK : store_fail(r, db, e);
    sqlite3_finalize(q);
    if (rc == MZ_OK && t->oom)
        rc = no_memory(e);
    return rc;
}

struct names {
    char **v;
    size_t n, cap;
    bool oom;
};

static void names_add(struct names *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i], name) == 0)
            return;
    if (m->n == m->cap) {
        size_t cap = m->cap != 0 ? m->cap * 2 : 32;
        char **v = realloc(m->v, cap * sizeof(*v));
        if (v == NULL) {
            m->oom = true;
            return;
        }
        m->v = v;
        m->cap = cap;
    }
    if ((m->v[m->n] = strdup(name)) == NULL)
        m->oom = true;
    else
        m->n++;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The group's listed members and the users whose primary group it is, sorted; false
 * when there is no such group. */
/* False when GROUP does not exist; then *LOOKUP_ERRNO is not 0 when that cannot be
 * told (the group database could not be read: NSS, LDAP). */
static bool group_members(const char *group, struct names *m, int *lookup_errno)
{
    errno = 0;
    struct group *gr = getgrnam(group);
    int err = errno; /* getgrnam(3): these mean "not found" */
    *lookup_errno =
        gr == NULL && err != ENOENT && err != ESRCH && err != EBADF && err != EPERM ? err : 0;
    if (gr == NULL)
        return false;
    gid_t gid = gr->gr_gid;
    for (char **p = gr->gr_mem; *p != NULL; p++)
        names_add(m, *p);
    struct passwd *pw;
    setpwent();
    while ((pw = getpwent()) != NULL)
        if (pw->pw_gid == gid)
            names_add(m, pw->pw_name);
    endpwent();
    if (m->n > 1)
        qsort(m->v, m->n, sizeof(m->v[0]), compare_names);
    return true;
}

/* *FINDING: why LOGIN has no active enrolment (a word), or NULL when it has one. */
static int member_finding(const struct report *r, sqlite3 *db, sqlite3_stmt *q, const char *login,
                          const char **finding, mz_err *e)
{
    sqlite3_reset(q);
    sqlite3_bind_text(q, 1, login, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(q);
    *finding = NULL;
    if (step == SQLITE_DONE) {
        *finding = "not_enrolled";
    } else if (step != SQLITE_ROW) {
        return store_fail(r, db, e);
    } else {
        const char *status = (const char *)sqlite3_column_text(q, 0);
        if (status == NULL || strcmp(status, "active") != 0)
            *finding = status != NULL && strcmp(status, "suspended") == 0 ? "suspended" : "revoked";
        else if (sqlite3_column_int64(q, 1) == 0)
            *finding = "no_active_credential";
    }
    return MZ_OK;
}

static int fill_coverage(struct report *r, sqlite3 *db, mz_err *e)
{
    struct coverage *cov = &r->cov;
    struct table *t = &r->t[T_COVERAGE];
    if (r->en->cfg.staff_group[0] == '\0')
        return MZ_OK;
    cov->group = r->en->cfg.staff_group;
    struct names m = {NULL, 0, 0, false};
    int lookup_errno = 0;
    cov->found = group_members(cov->group, &m, &lookup_errno);
    sqlite3_stmt *q = NULL;
    int rc = m.oom ? no_memory(e) : MZ_OK;
    if (lookup_errno != 0) /* not "no such group": the coverage would be a guess */
        rc = mz_fail(e, MZ_ERR_CONFIG, _("staff_group %s: cannot read the group database: %s"),
                     cov->group, strerror(lookup_errno));
    if (rc == MZ_OK && m.n > 0 &&
        sqlite3_prepare_v2(db,
                           "SELECT s.status, (SELECT count(*) FROM credentials c"
                           " WHERE c.login = s.login AND c.status = 'active')"
                           " FROM staff s WHERE s.login = ?1",
                           -1, &q, NULL) != SQLITE_OK)
        rc = store_fail(r, db, e);
    for (size_t i = 0; rc == MZ_OK && i < m.n; i++) {
        const char *finding;
        rc = member_finding(r, db, q, m.v[i], &finding, e);
        if (rc == MZ_OK && finding == NULL)
            cov->enrolled++;
        else if (rc == MZ_OK) {
            add_text(t, m.v[i]);
            add_word(t, finding);
        }
    }
    sqlite3_finalize(q);
    cov->members = m.n;
    for (size_t i = 0; i < m.n; i++)
        free(m.v[i]);
    free(m.v);
    return rc == MZ_OK && t->oom ? no_memory(e) : rc;
}

/* Local midnight DAYS days after (or before) the day of T. */
static int64_t day_start(int64_t t, int days)
{
    struct tm tm;
    time_t tt = (time_t)t;
    localtime_r(&tt, &tm);
    tm.tm_mday += days;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

static const char *column_string(sqlite3_stmt *q, int i)
{
    const char *s = (const char *)sqlite3_column_text(q, i);
    return s != NULL ? s : "";
}

/* One row per day of the period, days without logins included (the chart needs them). */
static int fill_daily(const struct report *r, struct table *t, sqlite3 *db, mz_err *e)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, daily_sql, -1, &q, NULL) != SQLITE_OK)
        return store_fail(r, db, e);
    bind_params(r, q);
    int step = sqlite3_step(q);
    for (int64_t day = r->since; day < r->until; day = day_start(day, 1)) {
        char date[16];
        mz_local_date(day, date, sizeof(date));
        while (step == SQLITE_ROW && strcmp(column_string(q, 0), date) < 0)
            step = sqlite3_step(q);
        bool match = step == SQLITE_ROW && strcmp(column_string(q, 0), date) == 0;
        add_text(t, date);
        add_number(t, CELL_INT, match ? sqlite3_column_int64(q, 1) : 0);
        add_number(t, CELL_INT, match ? sqlite3_column_int64(q, 2) : 0);
        if (match)
            step = sqlite3_step(q);
    }
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? MZ_OK : store_fail(r, db, e);
    sqlite3_finalize(q);
    return rc == MZ_OK && t->oom ? no_memory(e) : rc;
}

/* The audit chain, as audit verify checks it, in the report's snapshot: the figures of
 * the other sections are only as good as the log they were counted from. */
static int fill_chain(struct report *r, sqlite3 *db, mz_err *e)
{
    struct table *t = &r->t[T_CHAIN];
    int64_t events = 0, bad = 0;
    char head[MZ_AUDIT_HEAD_TEXT] = "";
    bool checked = r->no_key == NULL;
    int rc = MZ_OK;
    if (checked) {
        rc = mz_audit_verify(r->en->st, &r->en->keys, &events, &bad, e);
        r->chain_broken = rc == 1;
        if (r->chain_broken)
            rc = MZ_OK;
    }
    sqlite3_stmt *q = NULL;
    if (rc == MZ_OK && !r->chain_broken &&
        sqlite3_prepare_v2(db,
                           "SELECT max(seq), (SELECT hash FROM audit WHERE seq ="
                           " (SELECT max(seq) FROM audit)) FROM audit",
                           -1, &q, NULL) != SQLITE_OK)
        rc = store_fail(r, db, e);
    if (q != NULL && sqlite3_step(q) == SQLITE_ROW) {
        if (!checked) /* how many events there are, all the same */
            events = sqlite3_column_int64(q, 0);
        else if (sqlite3_column_bytes(q, 1) == MZ_HASH_BYTES)
            mz_audit_format_head(events, sqlite3_column_blob(q, 1), head);
    } else if (q != NULL) {
        rc = store_fail(r, db, e);
    }
    sqlite3_finalize(q);
    if (rc != MZ_OK)
        return rc;
    add_number(t, CELL_BOOL, checked);
    add_number(t, CELL_BOOL, checked && !r->chain_broken);
    add_number(t, CELL_INT, events);
    add_text(t, head);
    add_number(t, CELL_INT, bad);
    add_word(t, !checked ? "no_key" : r->chain_broken ? "broken" : "intact");
    return t->oom ? no_memory(e) : MZ_OK;
}

/* Every section from one snapshot of the store. */
static int gather(struct report *r, mz_err *e)
{
    sqlite3 *db = mz_store_db(r->en->st);
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(r, db, e);
    int rc = fill_coverage(r, db, e);
    for (int i = 0; rc == MZ_OK && i < T_COUNT; i++)
        if (sections[i].sql != NULL)
            rc = fill_from_sql(r, &r->t[i], db, e);
    if (rc == MZ_OK)
        rc = fill_daily(r, &r->t[T_DAILY], db, e);
    if (rc == MZ_OK)
        rc = fill_chain(r, db, e);
    mz_store_rollback(r->en->st); /* nothing was written: just end the snapshot */
    return rc;
}

/* ---- arguments and the period */

struct options {
    enum format format;
    const char *since, *until;
};

static bool parse_format(const char *s, enum format *out)
{
    static const char *const names[] = {"text", "json", "csv", "html"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum format)i;
            return true;
        }
    }
    return false;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {{"format", required_argument, NULL, 'f'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"since", required_argument, NULL, 's'},
                                             {"until", required_argument, NULL, 'u'},
                                             {NULL, 0, NULL, 0}};
    bool chosen = false;
    enum format f = FORMAT_TEXT;
    int c;
    memset(o, 0, sizeof(*o));
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 's' || c == 'u') {
            const char **slot = c == 's' ? &o->since : &o->until;
            if (*slot != NULL)
                return enroll_usage("report", _("%s: given more than once"),
                                    c == 's' ? "--since" : "--until");
            *slot = optarg;
            continue;
        }
        if (c == 'f' && !parse_format(optarg, &f))
            return enroll_usage("report", "%s", _("--format: expected text, json, csv or html"));
        if (c != 'f' && c != 'j')
            return enroll_unknown_option("report", argv[optind - 1]);
        if (c == 'j')
            f = FORMAT_JSON;
        if (chosen && f != o->format)
            return enroll_usage("report", "%s", _("give one output format"));
        o->format = f;
        chosen = true;
    }
    if (optind != argc)
        return enroll_usage("report", _("unexpected argument %s"), argv[optind]);
    return EXIT_DONE;
}

/* The period [--since, --until): by default the last WARN_DAYS days up to now. */
static int set_period(struct report *r, const struct options *o)
{
    int64_t now = r->en->now;
    if (o->since != NULL && !mz_local_midnight(o->since, &r->since))
        return enroll_usage("report", _("%s: \"%s\" is not a date YYYY-MM-DD"), "--since",
                            o->since);
    if (o->until != NULL && !mz_local_midnight(o->until, &r->until))
        return enroll_usage("report", _("%s: \"%s\" is not a date YYYY-MM-DD"), "--until",
                            o->until);
    if (o->until == NULL)
        r->until = now + 1; /* up to and including the present second */
    if (o->since == NULL)
        r->since = day_start(r->until, -WARN_DAYS);
    if (r->since >= r->until)
        return enroll_usage("report", "%s", _("--since must be before --until (default: now)"));
    int days = 0;
    for (int64_t d = r->since; d < r->until && days <= MAX_DAYS; d = day_start(d, 1))
        days++;
    if (days > MAX_DAYS)
        return enroll_usage("report", _("--since, --until: the period is longer than %d days"),
                            MAX_DAYS);
    mz_iso_time(r->since, r->since_at, sizeof(r->since_at));
    mz_iso_time(r->until, r->until_at, sizeof(r->until_at));
    mz_local_date(now, r->today, sizeof(r->today));
    mz_local_date(day_start(now, WARN_DAYS), r->soon, sizeof(r->soon));
    r->stale_before = now - (int64_t)r->en->cfg.stale_days * DAY_SECONDS;
    return EXIT_DONE;
}

/* ---- values as machines and as people read them */

static const char *machine_value(const struct cell *c, char *buf, size_t len)
{
    switch (c->kind) {
    case CELL_TEXT: return c->text;
    case CELL_WORD: return c->word->value;
    case CELL_BOOL: return c->num != 0 ? "true" : "false";
    case CELL_INT: snprintf(buf, len, "%lld", (long long)c->num); return buf;
    case CELL_TIME: break;
    }
    if (c->num == 0)
        return "";
    mz_iso_time(c->num, buf, len);
    return buf;
}

static const char *human_value(const struct cell *c, const struct column *col, char *buf,
                               size_t len)
{
    switch (c->kind) {
    case CELL_TEXT: return c->text[0] != '\0' ? c->text : "-";
    case CELL_WORD: return _(c->word->label);
    case CELL_BOOL: return c->num != 0 ? _("yes") : _("no");
    case CELL_INT: snprintf(buf, len, "%lld", (long long)c->num); return buf;
    case CELL_TIME: break;
    }
    if (c->num == 0)
        return col->zero != NULL ? _(col->zero) : "-";
    mz_local_time(c->num, buf, len);
    return buf;
}

static void daily_note(const struct table *t, char *buf, size_t len)
{
    long long ok = 0, failed = 0;
    for (size_t row = 0; row < table_rows(t); row++) {
        ok += cell_at(t, row, 1)->num;
        failed += cell_at(t, row, 2)->num;
    }
    snprintf(buf, len,
             _("Login attempts per day (local time): %lld successful and %lld failed in all. "
               "The list leaves out days without any."),
             ok, failed);
}

/* The explanation under a section's heading. */
static void section_note(const struct report *r, int i, char *buf, size_t len)
{
    if (i == T_EXPIRY)
        snprintf(buf, len,
                 _("Staff still active after their valid-until date, and those whose "
                   "enrolment ends within %d days (fiscal-year staff end on 31 March)."),
                 WARN_DAYS);
    else if (i == T_STALE)
        snprintf(buf, len,
                 _("Active credentials not used for %u days or more (stale_days): staff who "
                   "left may not have been revoked."),
                 r->en->cfg.stale_days);
    else if (i == T_DAILY)
        daily_note(&r->t[T_DAILY], buf, len);
    else
        snprintf(buf, len, "%s", _(sections[i].note));
    const struct table *t = &r->t[i];
    size_t used = strlen(buf);
    if (t->left_rows > 0 && used + 1 < len)
        snprintf(buf + used, len - used,
                 _(" Only the %d with the most failures are listed; %zu more, with %lld failures "
                   "in all, are left out (mnzone-enroll audit list lists every event)."),
                 MAX_ROWS, t->left_rows, (long long)t->left_sum);
}

static void coverage_summary(const struct coverage *c, char *buf, size_t len)
{
    if (c->group == NULL)
        snprintf(buf, len, "%s",
                 _("staff_group is not set in the configuration: coverage was not checked."));
    else if (!c->found)
        snprintf(buf, len, _("Group %s does not exist on this system: coverage was not checked."),
                 c->group);
    else
        snprintf(buf, len, _("Group %s: %zu members, %zu with an active enrolment, %zu without."),
                 c->group, c->members, c->enrolled, c->members - c->enrolled);
}

struct meta {
    const char *label;
    char value[300];
};

/* The facts at the top of the report, for text and HTML. */
static void report_meta(const struct report *r, struct meta m[6])
{
    char a[32], b[32];
    time_t now = (time_t)r->en->now;
    struct tm tm;
    m[0].label = _("Host");
    snprintf(m[0].value, sizeof(m[0].value), "%s", r->en->host);
    m[1].label = _("Period");
    mz_local_time(r->since, a, sizeof(a));
    mz_local_time(r->until, b, sizeof(b));
    snprintf(m[1].value, sizeof(m[1].value), _("from %s until %s"), a, b);
    m[2].label = _("Generated");
    mz_local_time(r->en->now, m[2].value, sizeof(m[2].value));
    m[3].label = _("Time zone");
    if (localtime_r(&now, &tm) == NULL ||
        strftime(m[3].value, sizeof(m[3].value), "%Z (%z)", &tm) == 0)
        snprintf(m[3].value, sizeof(m[3].value), "-");
    m[4].label = _("Staff group");
    snprintf(m[4].value, sizeof(m[4].value), "%s",
             r->cov.group != NULL ? r->cov.group : _("not set"));
    m[5].label = _("Stale after");
    snprintf(m[5].value, sizeof(m[5].value), _("%u days"), r->en->cfg.stale_days);
}

/* ---- JSON */

static json_object *json_cell(const struct cell *c)
{
    char buf[32];
    if (c->kind == CELL_INT)
        return json_object_new_int64(c->num);
    if (c->kind == CELL_BOOL)
        return json_object_new_boolean(c->num != 0);
    if (c->kind == CELL_TIME && c->num == 0)
        return NULL;
    return json_object_new_string(machine_value(c, buf, sizeof(buf)));
}

static json_object *json_table(const struct table *t)
{
    json_object *a = json_object_new_array();
    size_t nc = t->def->ncols;
    for (size_t row = 0; row < table_rows(t); row++) {
        json_object *o = json_object_new_object();
        for (size_t i = 0; i < nc; i++)
            json_object_object_add(o, t->def->cols[i].key, json_cell(&t->cells[row * nc + i]));
        json_object_array_add(a, o);
    }
    return a;
}

static json_object *json_coverage(const struct report *r)
{
    const struct coverage *c = &r->cov;
    json_object *j = json_object_new_object();
    json_object_object_add(j, "group", c->group ? json_object_new_string(c->group) : NULL);
    json_object_object_add(j, "group_found", json_object_new_boolean(c->found));
    json_object_object_add(j, "checked", json_object_new_boolean(c->group && c->found));
    json_object_object_add(j, "members", json_object_new_int64((int64_t)c->members));
    json_object_object_add(j, "enrolled", json_object_new_int64((int64_t)c->enrolled));
    json_object_object_add(j, "not_enrolled", json_table(&r->t[T_COVERAGE]));
    return j;
}

static void print_json(const struct report *r)
{
    char buf[32];
    json_object *j = json_object_new_object();
    mz_iso_time(r->en->now, buf, sizeof(buf));
    json_object_object_add(j, "generated_at", json_object_new_string(buf));
    json_object_object_add(j, "host", json_object_new_string(r->en->host));
    json_object *period = json_object_new_object();
    json_object_object_add(period, "since", json_object_new_string(r->since_at));
    json_object_object_add(period, "until", json_object_new_string(r->until_at));
    json_object_object_add(j, "period", period);
    json_object_object_add(j, "today", json_object_new_string(r->today));
    json_object_object_add(j, "stale_days", json_object_new_int64(r->en->cfg.stale_days));
    json_object_object_add(j, "coverage", json_coverage(r));
    for (int i = T_COVERAGE + 1; i < T_COUNT; i++)
        json_object_object_add(j, sections[i].key, json_table(&r->t[i]));
    json_object *left = json_object_new_object();
    for (int i = 0; i < T_COUNT; i++) {
        if (sections[i].summed == NULL)
            continue;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "rows", json_object_new_int64((int64_t)r->t[i].left_rows));
        json_object_object_add(o, sections[i].summed, json_object_new_int64(r->t[i].left_sum));
        json_object_object_add(left, sections[i].key, o);
    }
    json_object_object_add(j, "left_out", left);
    enroll_print_json(j, false);
}

/* ---- CSV (RFC 4180: CRLF, quotes doubled inside quoted fields) */

static void csv_table(const struct table *t)
{
    char buf[32];
    size_t nc = t->def->ncols;
    printf("# %s\r\n", t->def->key);
    for (size_t i = 0; i < nc; i++)
        enroll_csv_field(t->def->cols[i].key, i + 1 == nc);
    for (size_t k = 0; k < t->ncells; k++)
        enroll_csv_field(machine_value(&t->cells[k], buf, sizeof(buf)), k % nc + 1 == nc);
}

static void print_csv(const struct report *r)
{
    char buf[32];
    const struct coverage *c = &r->cov;
    mz_iso_time(r->en->now, buf, sizeof(buf));
    const char *facts[][2] = {
        {"generated_at", buf},
        {"host", r->en->host},
        {"since", r->since_at},
        {"until", r->until_at},
        {"today", r->today},
        {"staff_group", c->group != NULL ? c->group : ""},
        {"group_found", c->found ? "true" : "false"},
    };
    fputs("# report\r\nkey,value\r\n", stdout);
    for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
        enroll_csv_field(facts[i][0], false);
        enroll_csv_field(facts[i][1], true);
    }
    printf("group_members,%zu\r\ngroup_enrolled,%zu\r\nstale_days,%u\r\n", c->members, c->enrolled,
           r->en->cfg.stale_days);
    for (int i = 0; i < T_COUNT; i++)
        if (sections[i].summed != NULL)
            printf("%s_left_out,%zu\r\n%s_left_out_%s,%lld\r\n", sections[i].key, r->t[i].left_rows,
                   sections[i].key, sections[i].summed, (long long)r->t[i].left_sum);
    for (int i = 0; i < T_COUNT; i++)
        csv_table(&r->t[i]);
}

/* ---- text */

/* Columns a terminal gives S: 2 for East Asian wide characters, 0 for combining marks. */
static size_t display_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0;
    while (*p != '\0') {
        unsigned c = *p, n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        for (unsigned i = 1; i < n; i++)
            c = (c << 6) | (p[i] & 0x3f);
        c &= n == 1 ? 0x7f : n == 2 ? 0x7ff : n == 3 ? 0xffff : 0x1fffff;
        p += n;
        if ((c >= 0x300 && c < 0x370) || c == 0x3099 || c == 0x309a)
            continue;
        bool wide = (c >= 0x1100 && c < 0x1160) || (c >= 0x2e80 && c < 0xa4d0) ||
                    (c >= 0xac00 && c < 0xd7a4) || (c >= 0xf900 && c < 0xfb00) ||
                    (c >= 0xfe30 && c < 0xfe50) || (c >= 0xff00 && c < 0xff61) ||
                    (c >= 0xffe0 && c < 0xffe7) || (c >= 0x1f300 && c < 0x1fa00) ||
                    (c >= 0x20000 && c < 0x3fffe);
        w += wide ? 2 : 1;
    }
    return w;
}

/* S padded with spaces to WIDTH columns, then two spaces; the last column unpadded. */
static void print_cell(const char *s, size_t width, bool first, bool last)
{
    fputs(first ? "  " : "", stdout);
    fputs(s, stdout);
    if (last) {
        putchar('\n');
        return;
    }
    for (size_t w = display_width(s); w < width + 2; w++)
        putchar(' ');
}

static void text_table(const struct table *t)
{
    const struct section *d = t->def;
    size_t width[MAX_COLS], shown = 0;
    char buf[32];
    for (size_t i = 0; i < d->ncols; i++)
        width[i] = display_width(_(d->cols[i].label));
    for (size_t row = 0; row < table_rows(t); row++) {
        shown += row_shown(t, row);
        for (size_t i = 0; row_shown(t, row) && i < d->ncols; i++) {
            size_t w =
                display_width(human_value(cell_at(t, row, i), &d->cols[i], buf, sizeof(buf)));
            width[i] = w > width[i] ? w : width[i];
        }
    }
    if (shown == 0) {
        printf("  %s\n", _("None."));
        return;
    }
    for (size_t i = 0; i < d->ncols; i++)
        print_cell(_(d->cols[i].label), width[i], i == 0, i + 1 == d->ncols);
    for (size_t i = 0; i < d->ncols; i++) {
        fputs(i == 0 ? "  " : "", stdout);
        for (size_t w = 0; w < width[i]; w++)
            putchar('-');
        fputs(i + 1 == d->ncols ? "\n" : "  ", stdout);
    }
    for (size_t row = 0; row < table_rows(t); row++)
        for (size_t i = 0; row_shown(t, row) && i < d->ncols; i++)
            print_cell(human_value(cell_at(t, row, i), &d->cols[i], buf, sizeof(buf)), width[i],
                       i == 0, i + 1 == d->ncols);
}

static void text_heading(const char *s, char underline)
{
    size_t w = display_width(s);
    printf("%s\n", s);
    for (size_t i = 0; i < w; i++)
        putchar(underline);
    putchar('\n');
}

static void print_text(const struct report *r)
{
    struct meta m[6];
    char buf[1024];
    text_heading(_("Self-inspection report"), '=');
    report_meta(r, m);
    size_t lw = 0;
    for (int i = 0; i < 6; i++)
        lw = display_width(m[i].label) > lw ? display_width(m[i].label) : lw;
    for (int i = 0; i < 6; i++) {
        print_cell(m[i].label, lw, false, false);
        printf("%s\n", m[i].value);
    }
    for (int i = 0; i < T_COUNT; i++) {
        if (i != T_DAILY)
            snprintf(buf, sizeof(buf), "%d. %s (%zu)", i + 1, _(sections[i].title),
                     table_rows(&r->t[i]));
        else
            snprintf(buf, sizeof(buf), "%d. %s", i + 1, _(sections[i].title));
        putchar('\n');
        text_heading(buf, '-');
        section_note(r, i, buf, sizeof(buf));
        printf("%s\n", buf);
        if (i == T_COVERAGE) {
            coverage_summary(&r->cov, buf, sizeof(buf));
            printf("%s\n", buf);
        }
        if (i != T_COVERAGE || (r->cov.group != NULL && r->cov.found)) {
            putchar('\n');
            text_table(&r->t[i]);
        }
    }
}

/* ---- HTML: one file, inline CSS and SVG, well-formed XML, printable on A4 */

#define COLOR_OK "#9fc5e8" /* light and dark: still apart when printed in grey */
#define COLOR_NG "#a61c00"
/* Chart geometry in tenths of an SVG unit: whole numbers, so no locale decimal comma. */
#define PLOT_LEFT 450
#define PLOT_TOP 300
#define PLOT_WIDTH 6400
#define PLOT_HEIGHT 1700

static const char css[] =
    "@page { size: A4; margin: 15mm 12mm; }\n"
    "body { font-family: \"Noto Sans CJK JP\", \"IPAexGothic\", \"Hiragino Sans\", "
    "\"Yu Gothic\", Meiryo, sans-serif; font-size: 10pt; color: #000; max-width: 186mm; "
    "margin: 0 auto; }\n"
    "h1 { font-size: 16pt; border-bottom: 2px solid #000; padding-bottom: 2mm; }\n"
    "h2 { font-size: 12pt; margin: 7mm 0 1mm; border-left: 4px solid #555; padding-left: 2mm; "
    "break-after: avoid; page-break-after: avoid; }\n"
    "p { margin: 1mm 0 2mm; }\n"
    "p.note { color: #333; }\n"
    "p.none { font-style: italic; }\n"
    "table { border-collapse: collapse; width: 100%; margin: 1mm 0 3mm; }\n"
    "th, td { border: 1px solid #888; padding: 0.8mm 1.5mm; text-align: left; "
    "vertical-align: top; overflow-wrap: anywhere; }\n"
    "th { background: #eee; }\n"
    "td.n { text-align: right; }\n"
    "thead { display: table-header-group; }\n"
    "tr { break-inside: avoid; page-break-inside: avoid; }\n"
    "table.meta { width: auto; }\n"
    "svg { display: block; width: 100%; height: auto; margin: 2mm 0; }\n"
    "footer { margin-top: 8mm; font-size: 8pt; color: #555; }\n"
    "* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }\n";

/* Writes S with &, <, >, " and ' escaped. */
static void html_escape(const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&': fputs("&amp;", stdout); break;
        case '<': fputs("&lt;", stdout); break;
        case '>': fputs("&gt;", stdout); break;
        case '"': fputs("&quot;", stdout); break;
        case '\'': fputs("&#39;", stdout); break;
        default: putchar(*s); break;
        }
    }
}

/* <TAG>escaped S</TAG> */
static void html_element(const char *tag, const char *s)
{
    printf("<%s>", tag);
    html_escape(s);
    printf("</%s>", tag);
}

static const char *html_lang(void)
{
    const char *messages = setlocale(LC_MESSAGES, NULL);
    return messages != NULL && strncmp(messages, "ja", 2) == 0 ? "ja" : "en";
}

/* V tenths as an SVG number ("12.3"). */
static const char *tenths(long v, char buf[24])
{
    snprintf(buf, 24, "%s%ld.%ld", v < 0 ? "-" : "", labs(v) / 10, labs(v) % 10);
    return buf;
}

static void svg_rect(long x, long y, long w, long h, const char *fill)
{
    char a[24], b[24], c[24], d[24];
    printf("<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"/>", tenths(x, a),
           tenths(y, b), tenths(w, c), tenths(h, d), fill);
}

static void svg_text(long x, long y, const char *anchor, const char *s)
{
    char a[24], b[24];
    printf("<text x=\"%s\" y=\"%s\" text-anchor=\"%s\" font-size=\"10\">", tenths(x, a),
           tenths(y, b), anchor);
    html_escape(s);
    puts("</text>");
}

static void svg_line(long x1, long y1, long x2, long y2, const char *extra)
{
    char a[24], b[24], c[24], d[24];
    printf("<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#888\"%s/>\n", tenths(x1, a),
           tenths(y1, b), tenths(x2, c), tenths(y2, d), extra);
}

static void svg_open(int height, const char *label)
{
    printf("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 700 %d\" role=\"img\" "
           "aria-label=\"",
           height);
    html_escape(label);
    puts("\">");
}

/* 1, 2 or 5 times a power of ten, at least V and at least 1. */
static int64_t nice_max(int64_t v)
{
    for (int64_t step = 1;; step *= 10)
        for (int m = 1; m <= 5; m += m == 1 ? 1 : 3)
            if (m * step >= v)
                return m * step;
}

static void chart_frame(int64_t scale)
{
    char buf[32];
    long base = PLOT_TOP + PLOT_HEIGHT;
    svg_line(PLOT_LEFT, base, PLOT_LEFT + PLOT_WIDTH, base, "");
    svg_line(PLOT_LEFT, PLOT_TOP, PLOT_LEFT + PLOT_WIDTH, PLOT_TOP, " stroke-dasharray=\"2 2\"");
    svg_text(PLOT_LEFT - 60, base + 30, "end", "0");
    snprintf(buf, sizeof(buf), "%lld", (long long)scale);
    svg_text(PLOT_LEFT - 60, PLOT_TOP + 30, "end", buf);
    svg_rect(PLOT_LEFT, 60, 100, 100, COLOR_OK);
    svg_text(PLOT_LEFT + 140, 150, "start", _("Successful"));
    svg_rect(PLOT_LEFT + 1600, 60, 100, 100, COLOR_NG);
    svg_text(PLOT_LEFT + 1740, 150, "start", _("Failed"));
}

/* Day I of N: a bar of successes with the failures on top, its date under every STEPth. */
static void chart_day(const struct cell *row, size_t i, size_t n, int64_t scale, size_t step)
{
    char title[160];
    long slot = PLOT_WIDTH / (long)n, bar = slot * 7 / 10 > 0 ? slot * 7 / 10 : 1;
    long x = PLOT_LEFT + (long)i * slot + (slot - bar) / 2, base = PLOT_TOP + PLOT_HEIGHT;
    long ok = (long)(row[1].num * PLOT_HEIGHT / scale),
         ng = (long)(row[2].num * PLOT_HEIGHT / scale);
    snprintf(title, sizeof(title), _("%s: %lld successful, %lld failed"), row[0].text,
             (long long)row[1].num, (long long)row[2].num);
    fputs("<g>", stdout);
    html_element("title", title);
    if (ok > 0)
        svg_rect(x, base - ok, bar, ok, COLOR_OK);
    if (ng > 0)
        svg_rect(x, base - ok - ng, bar, ng, COLOR_NG);
    puts("</g>");
    if (i % step == 0)
        svg_text(x + bar / 2, base + 150, "middle", row[0].text + 5); /* MM-DD */
}

static void html_daily_chart(const struct table *t)
{
    size_t n = table_rows(t);
    int64_t top = 0;
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (t->cells[i * 3 + 1].num + t->cells[i * 3 + 2].num > top)
            top = t->cells[i * 3 + 1].num + t->cells[i * 3 + 2].num;
    int64_t scale = nice_max(top);
    svg_open(220, _(sections[T_DAILY].title));
    chart_frame(scale);
    for (size_t i = 0; i < n; i++)
        chart_day(&t->cells[i * 3], i, n, scale, (n + 9) / 10);
    puts("</svg>");
}

static void html_coverage_chart(const struct coverage *c)
{
    char buf[160];
    if (c->group == NULL || !c->found || c->members == 0)
        return;
    long w = (long)(PLOT_WIDTH * c->enrolled / c->members);
    svg_open(60, _(sections[T_COVERAGE].title));
    svg_rect(PLOT_LEFT, 50, w, 250, COLOR_OK);
    svg_rect(PLOT_LEFT + w, 50, PLOT_WIDTH - w, 250, COLOR_NG);
    snprintf(buf, sizeof(buf), _("With an active enrolment: %zu (%zu%%)"), c->enrolled,
             c->enrolled * 100 / c->members);
    svg_rect(PLOT_LEFT, 400, 100, 100, COLOR_OK);
    svg_text(PLOT_LEFT + 140, 490, "start", buf);
    snprintf(buf, sizeof(buf), _("Without: %zu"), c->members - c->enrolled);
    svg_rect(PLOT_LEFT + 3400, 400, 100, 100, COLOR_NG);
    svg_text(PLOT_LEFT + 3540, 490, "start", buf);
    puts("</svg>");
}

static void html_table(const struct table *t)
{
    const struct section *d = t->def;
    char buf[32];
    size_t shown = 0;
    for (size_t row = 0; row < table_rows(t); row++)
        shown += row_shown(t, row);
    if (shown == 0) {
        fputs("<p class=\"none\">", stdout);
        html_escape(_("None."));
        puts("</p>");
        return;
    }
    fputs("<table>\n<thead><tr>", stdout);
    for (size_t i = 0; i < d->ncols; i++)
        html_element("th", _(d->cols[i].label));
    puts("</tr></thead>\n<tbody>");
    for (size_t row = 0; row < table_rows(t); row++) {
        if (!row_shown(t, row))
            continue;
        fputs("<tr>", stdout);
        for (size_t i = 0; i < d->ncols; i++) {
            fputs(d->cols[i].kind == CELL_INT ? "<td class=\"n\">" : "<td>", stdout);
            html_escape(human_value(cell_at(t, row, i), &d->cols[i], buf, sizeof(buf)));
            fputs("</td>", stdout);
        }
        puts("</tr>");
    }
    puts("</tbody>\n</table>");
}

static void html_head(const struct report *r)
{
    const char *lang = html_lang();
    printf("<!DOCTYPE html>\n<html lang=\"%s\" xml:lang=\"%s\">\n<head>\n"
           "<meta charset=\"utf-8\"/>\n<title>",
           lang, lang);
    html_escape(_("Self-inspection report"));
    fputs(" - ", stdout);
    html_escape(r->en->host);
    printf("</title>\n<style>\n%s</style>\n</head>\n<body>\n", css);
}

static void html_section(const struct report *r, int i)
{
    char buf[1024];
    printf("<section id=\"%s\">\n<h2>%d. ", sections[i].key, i + 1);
    html_escape(_(sections[i].title));
    if (i != T_DAILY)
        printf(" (%zu)", table_rows(&r->t[i]));
    puts("</h2>");
    section_note(r, i, buf, sizeof(buf));
    fputs("<p class=\"note\">", stdout);
    html_escape(buf);
    puts("</p>");
    if (i == T_COVERAGE) {
        coverage_summary(&r->cov, buf, sizeof(buf));
        html_element("p", buf);
        putchar('\n');
        html_coverage_chart(&r->cov);
    }
    if (i == T_DAILY)
        html_daily_chart(&r->t[i]);
    if (i != T_COVERAGE || (r->cov.group != NULL && r->cov.found))
        html_table(&r->t[i]);
    puts("</section>");
}

static void print_html(const struct report *r)
{
    struct meta m[6];
    html_head(r);
    html_element("h1", _("Self-inspection report"));
    puts("\n<table class=\"meta\">\n<tbody>");
    report_meta(r, m);
    for (int i = 0; i < 6; i++) {
        fputs("<tr>", stdout);
        html_element("th", m[i].label);
        html_element("td", m[i].value);
        puts("</tr>");
    }
    puts("</tbody>\n</table>");
    for (int i = 0; i < T_COUNT; i++)
        html_section(r, i);
    puts("<footer>mnzone-enroll " PACKAGE_VERSION "</footer>\n</body>\n</html>");
}

/* ---- the command */

static void report_free(struct report *r)
{
    for (int i = 0; i < T_COUNT; i++)
        table_free(&r->t[i]);
}

int cmd_report(struct enroll *en, int argc, char **argv)
{
    struct options o;
    struct report r;
    mz_err e;
    memset(&r, 0, sizeof(r));
    r.en = en;
    for (int i = 0; i < T_COUNT; i++)
        r.t[i].def = &sections[i];
    int status = parse_options(argc, argv, &o);
    if (status == EXIT_DONE)
        status = set_period(&r, &o);
    if (status == EXIT_DONE)
        status = enroll_open(en, false);
    if (status != EXIT_DONE)
        return status;
    /* the key only checks the audit chain: without it the report is made all the same */
    mz_err key_error;
    en->keys_loaded = mz_keys_load(en->cfg.key_file, &en->keys, &key_error) == MZ_OK;
    if (!en->keys_loaded) {
        r.no_key = key_error.msg;
        fprintf(stderr, "mnzone-enroll: %s: %s\n", _("the audit chain is not checked"),
                key_error.msg);
    }
    int rc = gather(&r, &e);
    if (rc == MZ_OK) {
        void (*print[])(const struct report *) = {print_text, print_json, print_csv, print_html};
        print[o.format](&r);
        if (fflush(stdout) != 0 || ferror(stdout))
            rc = mz_fail(&e, MZ_ERR_STORE, "%s", _("cannot write the report"));
    }
    report_free(&r);
    if (rc != MZ_OK)
        return enroll_fail(rc, &e);
    if (r.chain_broken) {
        fprintf(stderr, "mnzone-enroll: %s\n",
                _("the audit log is broken: the report's figures may be wrong; run "
                  "mnzone-enroll audit verify"));
        return EXIT_CHECK_FAILED;
    }
    return EXIT_DONE;
}
