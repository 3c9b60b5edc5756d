/* Integration tests of pam_mnzone.so through a real PAM stack: libpamtest under
 * pam_wrapper, against the built module. Each test gets a private folder with a
 * configuration, a key file and a store made by the core, and its own service file in
 * PAM_WRAPPER_RUNTIME_DIR. Codes come from liboath's generator, never from mnzone.
 * run-pam-tests starts this program; without PAM_WRAPPER=1 it skips, so the real
 * /etc/pam.d is never read. */
#include "config.h"

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <liboath/oath.h>
#include <libpamtest.h>
#include <limits.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mz_admin.h"
#include "mz_audit.h"
#include "mz_codes.h"
#include "mz_crypto.h"
#include "mz_store.h"

#define PERIOD 30
#define DIGITS 6
#define SECRET_LEN 20
#define CODE_LEN 16
#define PATH_LEN 256
#define NS_PER_S 1000000000LL
/* A code is typed with at least this much of its step left, so that the module, which
 * reads the clock itself, judges it in the step it was made for. 3 s was not always
 * enough under make -j check next to the fault tests' disk load (CI, once). */
#define STEP_MARGIN_NS (6 * NS_PER_S)
/* Messages one PAM call may show; libpamtest copies them without a terminating NUL. */
#define MAX_MSGS 8
#define MSG_LEN (PAM_MAX_MSG_SIZE + 1)
#define LOG_LEN 65536
#define RACERS 8

static const char *module_path; /* MZ_MODULE: the built pam_mnzone.so */
/* MZ_MNZONED: the built mnzoned. With MZ_PAM_DAEMON=1 every test's fixture runs it on
 * the test's configuration, so the whole suite runs through mnzoned; without, the module
 * uses the direct engine (daemon_socket is empty) except in the tests of mnzoned itself.
 * make check runs both (run-pam-tests, run-pam-tests-mnzoned). */
static const char *mnzoned_path;
static bool through_daemon;
static const char *runtime_dir; /* PAM_WRAPPER_RUNTIME_DIR: where service files go */
static unsigned service_serial;

/* One test's world. */
struct fx {
    char top[PATH_LEN]; /* mkdtemp's folder, holding dir: a folder on the way to the files */
    char dir[PATH_LEN];
    char conf[PATH_LEN];
    char key[PATH_LEN];
    char store[PATH_LEN];
    char log[PATH_LEN];
    char service[32];
    char sock[PATH_LEN]; /* mnzoned's socket, written into every configuration */
    pid_t daemon;        /* the fixture's mnzoned, or 0 */
    struct mz_keys keys;
};

/* What one PAM call returned, showed and logged. */
struct result {
    int rc;
    char info[MAX_MSGS][MSG_LEN];
    char err[MAX_MSGS][MSG_LEN];
    char log[LOG_LEN];  /* stderr during the call: pam_wrapper's PWRAP lines */
    char text[LOG_LEN]; /* the same without the PWRAP prefixes and their process ids */
};

/* What a failure may change and what it must not. */
struct snap {
    int64_t failures;
    int64_t locked_until;
    int64_t last_step;
    int64_t audit_rows;
    char digest[8192]; /* staff, credentials, codes and last successes */
};

static const char *pam_name(int rc)
{
    switch (rc) {
    case PAM_SUCCESS: return "PAM_SUCCESS";
    case PAM_AUTH_ERR: return "PAM_AUTH_ERR";
    case PAM_USER_UNKNOWN: return "PAM_USER_UNKNOWN";
    case PAM_MAXTRIES: return "PAM_MAXTRIES";
    case PAM_PERM_DENIED: return "PAM_PERM_DENIED";
    case PAM_ACCT_EXPIRED: return "PAM_ACCT_EXPIRED";
    case PAM_SERVICE_ERR: return "PAM_SERVICE_ERR";
    case PAM_AUTHINFO_UNAVAIL: return "PAM_AUTHINFO_UNAVAIL";
    case PAM_IGNORE: return "PAM_IGNORE";
    case PAM_CONV_ERR: return "PAM_CONV_ERR";
    case PAM_SYSTEM_ERR: return "PAM_SYSTEM_ERR";
    case PAM_BUF_ERR: return "PAM_BUF_ERR";
    case PAM_ABORT: return "PAM_ABORT";
    case PAM_OPEN_ERR: return "PAM_OPEN_ERR";
    case PAM_SYMBOL_ERR: return "PAM_SYMBOL_ERR";
    case PAM_CRED_INSUFFICIENT: return "PAM_CRED_INSUFFICIENT";
    }
    return "another PAM code";
}

/* ---- codes, from liboath ---- */

/* The secret the tests enrol for LOGIN: fixed, different for each login. */
static void secret_of(const char *login, uint8_t secret[SECRET_LEN])
{
    size_t n = strlen(login);
    for (size_t i = 0; i < SECRET_LEN; i++)
        secret[i] = (uint8_t)(login[i % n] * 7 + i * 13 + 1);
}

/* LOGIN's code for the step holding time T. */
static void code_at(const char *login, time_t t, char code[CODE_LEN])
{
    uint8_t secret[SECRET_LEN];
    secret_of(login, secret);
    memset(code, 0, CODE_LEN);
    assert_int_equal(oath_init(), OATH_OK);
    int rc =
        oath_totp_generate2((const char *)secret, sizeof(secret), t, PERIOD, 0, DIGITS, 0, code);
    oath_done();
    assert_int_equal(rc, OATH_OK);
    assert_int_equal(strlen(code), DIGITS);
}

/* A well-formed code that no step from T - 2 to T + 2 periods gives LOGIN. */
static void wrong_code_at(const char *login, time_t t, char code[CODE_LEN])
{
    char right[CODE_LEN];
    code_at(login, t, code);
    for (int attempt = 0; attempt < 10; attempt++) {
        code[DIGITS - 1] = (char)('0' + (code[DIGITS - 1] - '0' + 1) % 10);
        bool clash = false;
        for (int k = -2; k <= 2; k++) {
            code_at(login, t + k * PERIOD, right);
            clash = clash || strcmp(right, code) == 0;
        }
        if (!clash)
            return;
    }
    fail_msg("no wrong code found");
}

/* The time now, after waiting, if needed, for the next step so that at least
 * STEP_MARGIN_NS remain in the current one. */
static time_t fresh_now(void)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
    long long into = (long long)(ts.tv_sec % PERIOD) * NS_PER_S + ts.tv_nsec;
    long long left = PERIOD * NS_PER_S - into;
    if (left < STEP_MARGIN_NS) {
        long long wait = left + NS_PER_S / 20;
        struct timespec d = {(time_t)(wait / NS_PER_S), (long)(wait % NS_PER_S)};
        while (nanosleep(&d, &d) != 0 && errno == EINTR)
            ;
    }
    return time(NULL);
}

static void local_date(time_t t, char *buf, size_t len)
{
    struct tm tm;
    assert_non_null(localtime_r(&t, &tm));
    assert_true(strftime(buf, len, "%Y-%m-%d", &tm) > 0);
}

/* ---- files ---- */

static void path_in(const struct fx *f, const char *name, char path[PATH_LEN])
{
    int n = snprintf(path, PATH_LEN, "%s/%s", f->dir, name);
    assert_true(n > 0 && n < PATH_LEN);
}

/* Writes TEXT to PATH (replacing it) with exactly MODE. */
static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_true(write(fd, text, len) == (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

/* A configuration naming STORE and the fixture's key file, plus EXTRA lines. */
static void write_config(const struct fx *f, const char *path, const char *store, const char *extra)
{
    char text[1024];
    int n = snprintf(text, sizeof(text),
                     "# mnzone PAM test\nstore = %s\nkey_file = %s\ntime_sync = off\n"
                     "daemon_socket = %s\n%s",
                     store, f->key, through_daemon ? f->sock : "", extra);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    write_file(path, text, 0600);
}

static void write_service(const struct fx *f, const char *text)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", runtime_dir, f->service);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    write_file(path, text, 0644);
}

/* The fixture's service: auth and account, both required, with config=CONF and ARGS. */
static void service_with(const struct fx *f, const char *conf, const char *args)
{
    char text[2048];
    int n = snprintf(text, sizeof(text),
                     "auth required %s config=%s %s\naccount required %s config=%s %s\n",
                     module_path, conf, args, module_path, conf, args);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    write_service(f, text);
}

static void service_args(const struct fx *f, const char *args)
{
    service_with(f, f->conf, args);
}

/* ---- the store, read with SQLite directly ---- */

static sqlite3 *db_open(const struct fx *f)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(f->store, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        fail_msg("%s: %s", f->store, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, MZ_BUSY_TIMEOUT_MS);
    return db;
}

static sqlite3_stmt *db_query(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (arg != NULL)
        sqlite3_bind_text(q, 1, arg, -1, SQLITE_TRANSIENT);
    return q;
}

/* The integer SQL (with ?1 = ARG) returns, or NONE when it returns no row. */
static int64_t sql_int(const struct fx *f, const char *sql, const char *arg, int64_t none)
{
    sqlite3 *db = db_open(f);
    sqlite3_stmt *q = db_query(db, sql, arg);
    int step = sqlite3_step(q);
    int64_t v = step == SQLITE_ROW ? sqlite3_column_int64(q, 0) : none;
    sqlite3_finalize(q);
    sqlite3_close(db);
    assert_true(step == SQLITE_ROW || step == SQLITE_DONE);
    return v;
}

/* Every row SQL (with ?1 = ARG) returns, columns joined by ',' and rows by ';'. */
static void sql_text(const struct fx *f, const char *sql, const char *arg, char *buf, size_t len)
{
    sqlite3 *db = db_open(f);
    sqlite3_stmt *q = db_query(db, sql, arg);
    size_t used = strlen(buf);
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(q); i++) {
            const unsigned char *t = sqlite3_column_text(q, i);
            int n = snprintf(buf + used, len - used, "%s%s", i > 0 ? "," : "",
                             t != NULL ? (const char *)t : "NULL");
            assert_true(n >= 0 && (size_t)n < len - used);
            used += (size_t)n;
        }
        assert_true(used + 1 < len);
        buf[used++] = ';';
        buf[used] = '\0';
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    assert_int_equal(step, SQLITE_DONE);
}

static void sql_exec(const struct fx *f, const char *sql)
{
    sqlite3 *db = db_open(f);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        print_error("%s: %s\n", sql, msg != NULL ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(db);
    assert_int_equal(rc, SQLITE_OK);
}

/* Everything a refused attempt must leave alone. A login_state row without a success
 * says no more than no row. */
static const char *const digest_sql[] = {
    "SELECT login, staff_id, full_name, department, employment, valid_until, status,"
    " updated_at, updated_by FROM staff ORDER BY login",
    "SELECT id, login, method, hex(secret), status, created_at, last_used_at, last_step,"
    " revoked_at, revoked_by FROM credentials ORDER BY id",
    "SELECT id, login, kind, hex(hash), used_at, voided_at FROM codes ORDER BY id",
    "SELECT login, last_success_at, last_success_host, last_success_service FROM login_state"
    " WHERE last_success_at != 0 ORDER BY login",
};

static void take(const struct fx *f, const char *login, struct snap *s)
{
    memset(s, 0, sizeof(*s));
    s->failures = sql_int(f, "SELECT failures FROM login_state WHERE login = ?1", login, 0);
    s->locked_until = sql_int(f, "SELECT locked_until FROM login_state WHERE login = ?1", login, 0);
    s->last_step = sql_int(f,
                           "SELECT last_step FROM credentials WHERE login = ?1"
                           " ORDER BY id DESC LIMIT 1",
                           login, -2);
    s->audit_rows = sql_int(f, "SELECT count(*) FROM audit", NULL, -1);
    for (size_t i = 0; i < sizeof(digest_sql) / sizeof(digest_sql[0]); i++)
        sql_text(f, digest_sql[i], NULL, s->digest, sizeof(s->digest));
}

/* "RESULT REASON" of the newest audit event. */
static void last_audit(const struct fx *f, char *buf, size_t len)
{
    buf[0] = '\0';
    sql_text(f, "SELECT result || ' ' || reason FROM audit ORDER BY seq DESC LIMIT 1", NULL, buf,
             len);
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == ';')
        buf[n - 1] = '\0';
}

static void expect_last_audit(const struct fx *f, const char *expected)
{
    char got[512];
    last_audit(f, got, sizeof(got));
    assert_string_equal(got, expected);
}

/* No field of any audit event contains TEXT. */
static void expect_audit_lacks(const struct fx *f, const char *text)
{
    int64_t n = sql_int(f,
                        "SELECT count(*) FROM audit WHERE instr(at || host || service || tty ||"
                        " rhost || user || actor || event || method || result || reason, ?1)",
                        text, 0);
    assert_int_equal(n, 0);
}

/* A refused attempt that counts: one more failure, one more audit event saying
 * "failure REASON", and nothing else changed: no step used, no success recorded. */
static void expect_counted_failure(const struct fx *f, const char *login, const struct snap *b,
                                   const char *reason)
{
    struct snap a;
    char expected[256];
    take(f, login, &a);
    assert_int_equal(a.failures, b->failures + 1);
    assert_int_equal(a.last_step, b->last_step);
    assert_int_equal(a.audit_rows, b->audit_rows + 1);
    assert_string_equal(a.digest, b->digest);
    snprintf(expected, sizeof(expected), "failure %s", reason);
    expect_last_audit(f, expected);
}

/* A refusal that does not count against the user (locked out, not enrolled, no
 * conversation): one more audit event, nothing else. */
static void expect_uncounted_failure(const struct fx *f, const char *login, const struct snap *b,
                                     const char *reason)
{
    struct snap a;
    char expected[256];
    take(f, login, &a);
    assert_int_equal(a.failures, b->failures);
    assert_int_equal(a.locked_until, b->locked_until);
    assert_int_equal(a.last_step, b->last_step);
    assert_int_equal(a.audit_rows, b->audit_rows + 1);
    assert_string_equal(a.digest, b->digest);
    snprintf(expected, sizeof(expected), "failure %s", reason);
    expect_last_audit(f, expected);
}

/* Nothing written at all: the module stopped before it could use the store. */
static void expect_untouched(const struct fx *f, const char *login, const struct snap *b)
{
    struct snap a;
    take(f, login, &a);
    assert_int_equal(a.failures, b->failures);
    assert_int_equal(a.locked_until, b->locked_until);
    assert_int_equal(a.last_step, b->last_step);
    assert_int_equal(a.audit_rows, b->audit_rows);
    assert_string_equal(a.digest, b->digest);
}

/* Verifies the audit chain with the fixture's keys; returns a message or NULL. */
static const char *chain_problem(const struct fx *f, int64_t *count, char *buf, size_t len)
{
    struct mz_store *st = NULL;
    mz_err e = {""};
    int64_t bad = 0;
    *count = 0;
    if (mz_store_open(f->store, 0, &st, &e) != MZ_OK) {
        snprintf(buf, len, "cannot open the store: %s", e.msg);
        return buf;
    }
    int rc = mz_audit_verify(st, &f->keys, count, &bad, &e);
    mz_store_close(st);
    if (rc == 1)
        snprintf(buf, len, "the audit chain breaks at event %lld", (long long)bad);
    else if (rc != MZ_OK)
        snprintf(buf, len, "cannot verify the audit chain: %s", e.msg);
    return rc == MZ_OK ? NULL : buf;
}

/* ---- fixtures ---- */

static void core_ok(int rc, const mz_err *e, const char *what)
{
    if (rc != MZ_OK)
        fail_msg("%s: %s", what, e->msg);
}

/* Enrols LOGIN, active, with secret_of(LOGIN) and no step used yet. */
static void enrol(const struct fx *f, const char *login, const char *staff_id,
                  const char *valid_until)
{
    struct mz_store *st = NULL;
    struct mz_staff s;
    mz_err e = {""};
    uint8_t secret[SECRET_LEN];
    int64_t now = (int64_t)time(NULL);

    memset(&s, 0, sizeof(s));
    snprintf(s.login, sizeof(s.login), "%s", login);
    snprintf(s.staff_id, sizeof(s.staff_id), "%s", staff_id);
    snprintf(s.name, sizeof(s.name), "%s", "試験 花子");
    snprintf(s.dept, sizeof(s.dept), "%s", "住民課");
    s.employment = MZ_EMPLOY_REGULAR;
    snprintf(s.valid_until, sizeof(s.valid_until), "%s", valid_until);
    s.status = MZ_STAFF_ACTIVE;
    s.created_at = now;
    snprintf(s.created_by, sizeof(s.created_by), "%s", "pam-test");
    secret_of(login, secret);

    core_ok(mz_store_open(f->store, 0, &st, &e), &e, "mz_store_open");
    int rc = mz_store_add_staff(st, &s, &e);
    if (rc == MZ_OK)
        rc =
            mz_store_add_totp(st, &f->keys, login, secret, sizeof(secret), -1, now, "pam-test", &e);
    mz_store_close(st);
    core_ok(rc, &e, "enrol");
}

/* Starts mnzoned on the fixture's configuration, without the test's preloads (it is no
 * PAM application), its output in mnzoned.log; returns once it listens. */
static pid_t start_daemon(const struct fx *f)
{
    char log[PATH_LEN];
    struct stat st;
    path_in(f, "mnzoned.log", log);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(127);
        unsetenv("LD_PRELOAD");
        execl(mnzoned_path, mnzoned_path, "--config", f->conf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        if (stat(f->sock, &st) == 0 && S_ISSOCK(st.st_mode))
            return pid;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            fail_msg("mnzoned stopped at start (status %d); see %s", status, log);
        struct timespec d = {0, 10 * 1000 * 1000};
        nanosleep(&d, NULL);
    }
    kill(pid, SIGKILL);
    fail_msg("mnzoned did not listen on %s within 5 s", f->sock);
    return -1;
}

/* Stops mnzoned with SIGTERM; it must end cleanly (status 0), sanitizers included. */
static int stop_daemon(pid_t pid)
{
    int status = 0;
    if (pid <= 0)
        return 0;
    kill(pid, SIGTERM);
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct mz_store *st = NULL;
    mz_err e = {""};
    assert_non_null(f);
    *state = f;
    snprintf(f->top, sizeof(f->top), "/tmp/mnzone-pam.XXXXXX");
    assert_non_null(mkdtemp(f->top));
    assert_true(snprintf(f->dir, sizeof(f->dir), "%s/d", f->top) < (int)sizeof(f->dir));
    assert_int_equal(mkdir(f->dir, 0700), 0);
    path_in(f, "mnzone.conf", f->conf);
    path_in(f, "mnzone.key", f->key);
    path_in(f, "mnzone.db", f->store);
    path_in(f, "module.log", f->log);
    snprintf(f->service, sizeof(f->service), "mnzone-test-%u", ++service_serial);
    path_in(f, "mnzoned.sock", f->sock);

    core_ok(mz_key_file_create(f->key, &e), &e, "mz_key_file_create");
    core_ok(mz_keys_load(f->key, &f->keys, &e), &e, "mz_keys_load");
    core_ok(mz_store_open(f->store, MZ_STORE_CREATE, &st, &e), &e, "mz_store_open");
    mz_store_close(st);
    write_config(f, f->conf, f->store, "");
    enrol(f, "alice", "A-0001", "");
    if (through_daemon)
        f->daemon = start_daemon(f);
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Every test ends with an intact audit chain, whatever it did. */
static int teardown(void **state)
{
    struct fx *f = *state;
    char msg[600];
    int64_t count = 0;
    if (f == NULL)
        return 0;
    int daemon_status = stop_daemon(f->daemon);
    chmod(f->store, 0600); /* a test that failed early may have left other modes */
    chmod(f->key, 0600);
    chmod(f->top, 0700);
    const char *problem = f->dir[0] != '\0' ? chain_problem(f, &count, msg, sizeof(msg)) : NULL;
    if (f->top[0] != '\0')
        nftw(f->top, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    mz_keys_wipe(&f->keys);
    free(f);
    *state = NULL;
    if (problem != NULL)
        fail_msg("%s", problem);
    if (daemon_status != 0)
        fail_msg("mnzoned ended with status %d", daemon_status);
    return 0;
}

/* ---- running PAM ---- */

struct capture {
    int saved;
};

/* Sends stderr, where pam_wrapper prints pam_syslog lines, to the fixture's log file.
 * No assertion between capture_start and capture_end: a failure message would land in
 * the file. */
static bool capture_start(const struct fx *f, struct capture *c)
{
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    int fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    bool ok = c->saved >= 0 && fd >= 0 && dup2(fd, STDERR_FILENO) == STDERR_FILENO;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Drops pam_wrapper's "PWRAP_LEVEL[program (pid)] - " prefixes, keeping the messages. */
static void strip_prefixes(const char *log, char *text, size_t len)
{
    size_t used = 0;
    for (const char *line = log; *line != '\0' && used + 1 < len;) {
        const char *end = strchr(line, '\n');
        size_t n = end != NULL ? (size_t)(end - line) + 1 : strlen(line);
        const char *body = line;
        const char *mark = strstr(line, "] - ");
        if (strncmp(line, "PWRAP_", 6) == 0 && mark != NULL && mark < line + n)
            body = mark + 4;
        size_t take_n = n - (size_t)(body - line);
        if (take_n > len - used - 1)
            take_n = len - used - 1;
        memcpy(text + used, body, take_n);
        used += take_n;
        line += n;
    }
    text[used] = '\0';
}

static void capture_end(const struct fx *f, struct capture *c, struct result *r)
{
    fflush(stderr);
    if (c->saved >= 0) {
        dup2(c->saved, STDERR_FILENO);
        close(c->saved);
    }
    r->log[0] = '\0';
    int fd = open(f->log, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        size_t used = 0;
        ssize_t n;
        while (used + 1 < sizeof(r->log) &&
               (n = read(fd, r->log + used, sizeof(r->log) - 1 - used)) > 0)
            used += (size_t)n;
        r->log[used] = '\0';
        close(fd);
    }
    strip_prefixes(r->log, r->text, sizeof(r->text));
    fprintf(stderr, "# --- log of service %s ---\n%s", f->service, r->log);
}

/* Runs OP for USER through libpamtest's conversation, answering INPUT to the prompt. */
static void run_op(const struct fx *f, const char *user, enum pamtest_ops op, const char *input,
                   struct result *r)
{
    const char *answers[] = {input, NULL};
    char *info[MAX_MSGS], *err[MAX_MSGS];
    struct capture c;
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < MAX_MSGS; i++) {
        info[i] = r->info[i];
        err[i] = r->err[i];
    }
    struct pamtest_conv_data conv = {
        .in_echo_off = answers, .in_echo_on = answers, .out_err = err, .out_info = info};
    struct pam_testcase tests[] = {pam_test(op, PAM_SUCCESS)};

    bool captured = capture_start(f, &c);
    enum pamtest_err perr = run_pamtest(f->service, user, &conv, tests, NULL);
    capture_end(f, &c, r);
    r->rc = tests[0].op_rv;
    assert_true(captured);
    if (perr != PAMTEST_ERR_OK && perr != PAMTEST_ERR_CASE)
        fail_msg("libpamtest: %s", pamtest_strerror(perr));
}

static void run_auth(const struct fx *f, const char *user, const char *input, struct result *r)
{
    run_op(f, user, PAMTEST_AUTHENTICATE, input, r);
}

static void run_account(const struct fx *f, const char *user, struct result *r)
{
    run_op(f, user, PAMTEST_ACCOUNT, "", r);
}

/* Runs pam_authenticate with FLAGS through libpamtest with the conversation FN and its
 * DATA. */
static void run_conv_flags(const struct fx *f, const char *user, pam_conv_fn fn, void *data,
                           int flags, struct result *r)
{
    struct capture c;
    struct pam_testcase tests[] = {pam_test_flags(PAMTEST_AUTHENTICATE, PAM_SUCCESS, flags)};
    memset(r, 0, sizeof(*r));
    bool captured = capture_start(f, &c);
    enum pamtest_err perr = _pamtest_conv(f->service, user, fn, data, tests, 1, NULL);
    capture_end(f, &c, r);
    r->rc = tests[0].op_rv;
    assert_true(captured);
    if (perr != PAMTEST_ERR_OK && perr != PAMTEST_ERR_CASE)
        fail_msg("libpamtest: %s", pamtest_strerror(perr));
}

static void run_conv(const struct fx *f, const char *user, pam_conv_fn fn, void *data,
                     struct result *r)
{
    run_conv_flags(f, user, fn, data, 0, r);
}

#define expect_rc(r, want) expect_rc_at((r), (want), __FILE__, __LINE__)
static void expect_rc_at(const struct result *r, int want, const char *file, int line)
{
    if (r->rc != want) {
        print_error("%s:%d: PAM returned %s (%d), expected %s (%d)\n", file, line, pam_name(r->rc),
                    r->rc, pam_name(want), want);
        _fail(file, line);
    }
}

/* Never PAM_SUCCESS and never PAM_IGNORE: the module failed closed. */
#define expect_refused(r) expect_refused_at((r), __FILE__, __LINE__)
static void expect_refused_at(const struct result *r, const char *file, int line)
{
    if (r->rc == PAM_SUCCESS || r->rc == PAM_IGNORE) {
        print_error("%s:%d: PAM returned %s: not refused\n", file, line, pam_name(r->rc));
        _fail(file, line);
    }
}

#define expect_log(r, needle) expect_log_at((r), (needle), __FILE__, __LINE__)
static void expect_log_at(const struct result *r, const char *needle, const char *file, int line)
{
    if (strstr(r->text, needle) == NULL) {
        print_error("%s:%d: the log does not say \"%s\":\n%s\n", file, line, needle, r->log);
        _fail(file, line);
    }
}

/* Neither the log nor the audit trail contains TEXT (something the user typed). */
#define expect_secret_kept(f, r, t) expect_secret_kept_at((f), (r), (t), __FILE__, __LINE__)
static void expect_secret_kept_at(const struct fx *f, const struct result *r, const char *text,
                                  const char *file, int line)
{
    if (text[0] == '\0')
        return;
    if (strstr(r->text, text) != NULL) {
        print_error("%s:%d: the log contains \"%s\":\n%s\n", file, line, text, r->log);
        _fail(file, line);
    }
    expect_audit_lacks(f, text);
}

/* ---- time_sync: expectations follow the kernel's real view of the clock ---- */

static void test_time_sync(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[CODE_LEN];
    struct timex tx;
    memset(&tx, 0, sizeof(tx));
    bool synced = adjtimex(&tx) != TIME_ERROR;

    service_args(f, "time_sync=require");
    code_at("alice", fresh_now(), code);
    run_auth(f, "alice", code, &r);
    if (synced) {
        expect_rc(&r, PAM_SUCCESS);
    } else {
        expect_rc(&r, PAM_AUTHINFO_UNAVAIL);
        assert_string_equal(
            r.err[0],
            "The clock of this terminal is not synchronised. Contact your administrator.");
        expect_log(&r, "not synchronised (time_sync=require)");
        expect_last_audit(f, "failure clock not synchronised");
    }

    /* warn: logs and lets the login go on (the next step's code: no replay either way) */
    service_args(f, "time_sync=warn");
    code_at("alice", fresh_now() + PERIOD, code);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    if (!synced)
        expect_log(&r, "not synchronised (time_sync=warn)");
}

/* ---- right, wrong, replayed and old codes ---- */

static int run_tool(const struct fx *f, const char *args);

/* A service name is the application's, like the tty and the remote host: a control
 * character in it is logged and audited as '?', and a login through mnzoned (whose
 * protocol refuses control characters) is decided like any other. */
static void test_service_name_cleaned(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[CODE_LEN], expected[64], logged[96];
    size_t n = strlen(f->service);
    snprintf(f->service + n, sizeof(f->service) - n, "\x1b");
    snprintf(expected, sizeof(expected), "%.*s?", (int)n, f->service);
    service_args(f, "");
    code_at("alice", fresh_now(), code);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    snprintf(logged, sizeof(logged), "user=alice service=%s ", expected);
    expect_log(&r, logged);
    char audited[64] = "";
    sql_text(f, "SELECT service FROM audit ORDER BY seq DESC LIMIT 1", NULL, audited,
             sizeof(audited));
    strcat(expected, ";"); /* sql_text ends each row so */
    assert_string_equal(audited, expected);
}

/* The head that `mnzone-enroll audit verify` gives now ("SEQ:HASH") into HEAD. */
static void verified_head(const struct fx *f, char *head, size_t len)
{
    char path[PATH_LEN + 16], out[512] = "";
    assert_int_equal(run_tool(f, "audit verify"), 0);
    snprintf(path, sizeof(path), "%s/tool.out", f->dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(out, 1, sizeof(out) - 1, fp);
    fclose(fp);
    out[n] = '\0';
    const char *h = strstr(out, "head ");
    assert_non_null(h);
    snprintf(head, len, "%.*s", (int)strcspn(h + 5, "\n"), h + 5);
    assert_true(strlen(head) > 64);
}

/* Each attempt's syslog line carries the audit chain's head after its event, the same
 * that audit verify gives: a log server keeping the lines holds every head. */
static void test_syslog_carries_audit_head(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[CODE_LEN], head[128], needle[256];
    service_args(f, "");
    time_t now = fresh_now();
    code_at("alice", now, code);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    verified_head(f, head, sizeof(head));
    snprintf(needle, sizeof(needle), "result=success reason=accepted audit=%s", head);
    expect_log(&r, needle);

    run_auth(f, "alice", code, &r); /* a replay: refused, audited, and logged with the new head */
    expect_rc(&r, PAM_AUTH_ERR);
    verified_head(f, head, sizeof(head));
    snprintf(needle, sizeof(needle), "reason=code already used audit=%s", head);
    expect_log(&r, needle);

    run_auth(f, "nobody", "123456", &r); /* a denial before any code: recorded, with its head */
    expect_refused(&r);
    verified_head(f, head, sizeof(head));
    snprintf(needle, sizeof(needle), "reason=not enrolled audit=%s", head);
    expect_log(&r, needle);
}

static void test_right_code(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before, after;
    char code[CODE_LEN], wrong[CODE_LEN], when[64], expected[512];
    service_args(f, "");
    time_t now = fresh_now();
    int64_t step = (int64_t)now / PERIOD;

    /* First login, with the previous step's code (still in the window). */
    code_at("alice", now - PERIOD, code);
    take(f, "alice", &before);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    assert_string_equal(r.info[0], "This is your first login with mnzone.");
    assert_string_equal(r.err[0], "");
    expect_log(&r, "user=alice service=");
    expect_log(&r, "result=success reason=accepted");
    expect_secret_kept(f, &r, code);
    take(f, "alice", &after);
    assert_int_equal(after.last_step, step - 1);
    assert_int_equal(after.failures, 0);
    assert_int_equal(after.audit_rows, before.audit_rows + 1);
    expect_last_audit(f, "success accepted");
    int64_t first_at =
        sql_int(f, "SELECT last_success_at FROM login_state WHERE login = ?1", "alice", 0);
    assert_true(first_at >= (int64_t)now && first_at <= (int64_t)time(NULL));

    /* One failure in between, then the current step's code. */
    wrong_code_at("alice", now, wrong);
    run_auth(f, "alice", wrong, &r);
    expect_rc(&r, PAM_AUTH_ERR);
    code_at("alice", now, code);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    time_t t = (time_t)first_at;
    struct tm tm;
    assert_non_null(localtime_r(&t, &tm));
    assert_true(strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm) > 0);
    snprintf(expected, sizeof(expected), "Last login: %s from - (%s). Failed attempts since: 1.",
             when, f->service);
    assert_string_equal(r.info[0], expected);
    expect_secret_kept(f, &r, code);
    take(f, "alice", &after);
    assert_int_equal(after.last_step, step);
    assert_int_equal(after.failures, 0);
}

/* Where the previous success came from: the remote host is recorded and shown. Uses
 * pam_start directly, as libpamtest cannot set PAM_RHOST. */
struct answer_conv {
    const char *answer;
    char info[MAX_MSGS][MSG_LEN];
    int n_info;
};

static int answer_conv_fn(int n, const struct pam_message **msg, struct pam_response **resp,
                          void *data)
{
    struct answer_conv *c = data;
    if (n <= 0 || n > PAM_MAX_NUM_MSG)
        return PAM_CONV_ERR;
    struct pam_response *out = calloc((size_t)n, sizeof(*out));
    if (out == NULL)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++) {
        int style = msg[i]->msg_style;
        if (style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON) {
            out[i].resp = strdup(c->answer);
            if (out[i].resp == NULL) {
                for (int j = 0; j < i; j++)
                    free(out[j].resp);
                free(out);
                return PAM_BUF_ERR;
            }
        } else if (style == PAM_TEXT_INFO && c->n_info < MAX_MSGS) {
            snprintf(c->info[c->n_info++], MSG_LEN, "%s", msg[i]->msg);
        }
    }
    *resp = out;
    return PAM_SUCCESS;
}

static void test_last_login_names_remote_host(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct capture c;
    char code[CODE_LEN], host[64] = "";
    service_args(f, "");
    time_t now = fresh_now();

    code_at("alice", now - PERIOD, code);
    struct answer_conv answers = {.answer = code};
    struct pam_conv conv = {answer_conv_fn, &answers};
    pam_handle_t *pamh = NULL;
    memset(&r, 0, sizeof(r));
    bool captured = capture_start(f, &c);
    int rc = pam_start(f->service, "alice", &conv, &pamh);
    if (rc == PAM_SUCCESS)
        rc = pam_set_item(pamh, PAM_RHOST, "192.0.2.7");
    if (rc == PAM_SUCCESS)
        rc = pam_authenticate(pamh, 0);
    if (pamh != NULL)
        pam_end(pamh, rc);
    capture_end(f, &c, &r);
    r.rc = rc;
    assert_true(captured);
    expect_rc(&r, PAM_SUCCESS);
    assert_string_equal(answers.info[0], "This is your first login with mnzone.");
    expect_log(&r, "user=alice");
    expect_log(&r, "rhost=192.0.2.7");
    sql_text(f, "SELECT last_success_host FROM login_state WHERE login = ?1", "alice", host,
             sizeof(host));
    assert_string_equal(host, "192.0.2.7;");
    assert_int_equal(sql_int(f, "SELECT count(*) FROM audit WHERE rhost = '192.0.2.7'", NULL, 0),
                     1);

    code_at("alice", now, code);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    assert_non_null(strstr(r.info[0], " from 192.0.2.7 ("));
    assert_non_null(strstr(r.info[0], "Failed attempts since: 0."));
}

static void test_wrong_code(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char wrong[CODE_LEN], right[CODE_LEN];
    service_args(f, "");
    time_t now = fresh_now();
    wrong_code_at("alice", now, wrong);
    code_at("alice", now, right);

    take(f, "alice", &before);
    run_auth(f, "alice", wrong, &r);
    expect_rc(&r, PAM_AUTH_ERR);
    assert_string_equal(r.err[0], "Wrong code. Log in again with the current code.");
    assert_string_equal(r.info[0], "");
    expect_counted_failure(f, "alice", &before, "wrong code");
    expect_log(&r, "user=alice");
    expect_log(&r, "result=failure reason=wrong code");
    expect_secret_kept(f, &r, wrong);
    expect_secret_kept(f, &r, right);
}

static void test_replayed_code(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char code[CODE_LEN];
    service_args(f, "");
    time_t now = fresh_now();
    code_at("alice", now, code);

    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    take(f, "alice", &before);
    assert_int_equal(before.last_step, (int64_t)now / PERIOD);

    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_AUTH_ERR);
    assert_string_equal(r.err[0],
                        "That code was already used. Wait for the next code, then log in again.");
    expect_counted_failure(f, "alice", &before, "code already used");
    expect_log(&r, "result=failure reason=code already used");
    expect_secret_kept(f, &r, code);
}

static void test_code_one_step_old_accepted(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[CODE_LEN];
    service_args(f, "");
    time_t now = fresh_now();
    code_at("alice", now - PERIOD, code);

    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    expect_log(&r, "result=success reason=accepted");
    struct snap after;
    take(f, "alice", &after);
    assert_int_equal(after.last_step, (int64_t)now / PERIOD - 1);
    assert_int_equal(after.failures, 0);
    expect_last_audit(f, "success accepted");
}

static void test_code_two_steps_old_refused(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char old[CODE_LEN], near[CODE_LEN];
    service_args(f, "");
    time_t now = fresh_now();
    code_at("alice", now - 2 * PERIOD, old);
    for (int k = -1; k <= 1; k++) {
        code_at("alice", now + k * PERIOD, near);
        if (strcmp(near, old) == 0)
            skip(); /* one chance in a few hundred thousand: the old code is also current */
    }

    take(f, "alice", &before);
    run_auth(f, "alice", old, &r);
    expect_rc(&r, PAM_AUTH_ERR);
    expect_counted_failure(f, "alice", &before, "wrong code");
    expect_log(&r, "result=failure reason=wrong code");
    expect_secret_kept(f, &r, old);
}

/* ---- lock-out ---- */

/* MAX wrong codes for LOGIN; the last one starts the lock-out. */
static void fail_until_locked(const struct fx *f, const char *login, time_t now, int max)
{
    struct result r;
    struct snap before;
    char wrong[CODE_LEN];
    wrong_code_at(login, now, wrong);
    for (int i = 1; i <= max; i++) {
        take(f, login, &before);
        run_auth(f, login, wrong, &r);
        expect_rc(&r, PAM_AUTH_ERR);
        expect_counted_failure(f, login, &before, "wrong code");
        assert_string_equal(r.err[0], "Wrong code. Log in again with the current code.");
        if (i < max) {
            assert_string_equal(r.err[1], "");
        } else {
            assert_non_null(strstr(r.err[1], "Too many failed attempts: locked until "));
        }
    }
    int64_t until = sql_int(f, "SELECT locked_until FROM login_state WHERE login = ?1", login, 0);
    assert_true(until > (int64_t)now);
}

static void test_lockout(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char code[CODE_LEN];
    service_args(f, "max_failures=3 lockout=2");
    time_t now = fresh_now();
    code_at("alice", now, code);

    fail_until_locked(f, "alice", now, 3);
    take(f, "alice", &before);
    assert_int_equal(before.failures, 3);

    /* The right code, within the two seconds: refused without being looked at. */
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_MAXTRIES);
    assert_non_null(strstr(r.err[0], "Too many failed attempts: locked until "));
    expect_uncounted_failure(f, "alice", &before, "locked out");
    expect_log(&r, "result=failure reason=locked out");
    expect_secret_kept(f, &r, code);
}

static void test_lockout_expires(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[CODE_LEN];
    service_args(f, "max_failures=3 lockout=2");

    fail_until_locked(f, "alice", fresh_now(), 3);
    sleep(3);
    time_t now = fresh_now();
    code_at("alice", now, code);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    expect_log(&r, "result=success reason=accepted");
    struct snap after;
    take(f, "alice", &after);
    assert_int_equal(after.failures, 0);
    assert_int_equal(after.locked_until, 0);
    assert_int_equal(after.last_step, (int64_t)now / PERIOD);
    expect_last_audit(f, "success accepted");
}

/* The message after a success counts the failures since the previous success, also
 * when they ended in a lock-out that has run out. */
static void test_failures_since_counted_across_lockout(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[CODE_LEN];
    service_args(f, "max_failures=3 lockout=2");
    time_t now = fresh_now();
    code_at("alice", now - PERIOD, code);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);

    fail_until_locked(f, "alice", now, 3);
    sleep(3);
    code_at("alice", fresh_now(), code);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    assert_non_null(strstr(r.info[0], "Last login: "));
    if (strstr(r.info[0], "Failed attempts since: 3.") == NULL)
        fail_msg("three wrong codes and a lock-out since the last success, but the user is "
                 "told: \"%s\"",
                 r.info[0]);
}

static void test_privileged_group_stricter_limit(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char code[CODE_LEN];
    enrol(f, "root", "R-0001", ""); /* root is in group root */
    service_args(f, "max_failures=5 privileged_group=root privileged_max_failures=2 lockout=60");
    time_t now = fresh_now();
    code_at("root", now, code);

    fail_until_locked(f, "root", now, 2);
    take(f, "root", &before);
    run_auth(f, "root", code, &r);
    expect_rc(&r, PAM_MAXTRIES);
    expect_uncounted_failure(f, "root", &before, "locked out");
    expect_log(&r, "user=root");
    expect_log(&r, "result=failure reason=locked out");
    expect_secret_kept(f, &r, code);
}

static void test_unprivileged_keeps_normal_limit(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char wrong[CODE_LEN], code[CODE_LEN];
    if (getpwnam("nobody") == NULL)
        skip(); /* a user that exists and is not in group root */
    enrol(f, "nobody", "N-0001", "");
    service_args(f, "max_failures=5 privileged_group=root privileged_max_failures=2 lockout=60");
    time_t now = fresh_now();
    wrong_code_at("nobody", now, wrong);
    code_at("nobody", now, code);

    for (int i = 0; i < 2; i++) {
        take(f, "nobody", &before);
        run_auth(f, "nobody", wrong, &r);
        expect_rc(&r, PAM_AUTH_ERR);
        expect_counted_failure(f, "nobody", &before, "wrong code");
        assert_string_equal(r.err[1], "");
    }
    take(f, "nobody", &before);
    assert_int_equal(before.locked_until, 0);
    run_auth(f, "nobody", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    assert_non_null(strstr(r.info[0], "first login"));
}

/* ---- enrolment and account ---- */

static void test_unenrolled_denied_auth(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    service_args(f, "");
    take(f, "carol", &before);
    run_auth(f, "carol", "123456", &r);
    expect_rc(&r, PAM_USER_UNKNOWN);
    assert_string_equal(r.err[0],
                        "You have no second factor. Ask your administrator to enrol you.");
    expect_uncounted_failure(f, "carol", &before, "not enrolled");
    expect_log(&r, "user=carol");
    expect_log(&r, "result=failure reason=not enrolled");
}

static void test_unenrolled_denied_account(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    service_args(f, "");
    take(f, "carol", &before);
    run_account(f, "carol", &r);
    expect_rc(&r, PAM_PERM_DENIED);
    assert_string_equal(r.err[0],
                        "You have no second factor. Ask your administrator to enrol you.");
    expect_uncounted_failure(f, "carol", &before, "account: not enrolled");
    expect_log(&r, "user=carol");
    expect_log(&r, "result=failure reason=account: not enrolled");
}

/* A stack in which only the module's PAM_IGNORE reaches pam_permit: `default=die` ends
 * the stack on any other code, and a PAM_SUCCESS that ends it that way comes out as
 * PAM_PERM_DENIED. So the stack succeeds if and only if the module ignored the user. */
static void service_ignore_marker(const struct fx *f, const char *args)
{
    char text[2048];
    int n = snprintf(text, sizeof(text),
                     "auth [ignore=ignore default=die] %s config=%s %s\n"
                     "auth required pam_permit.so\n"
                     "account [ignore=ignore default=die] %s config=%s %s\n"
                     "account required pam_permit.so\n",
                     module_path, f->conf, args, module_path, f->conf, args);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    write_service(f, text);
}

static void test_unenrolled_ignored_in_internet_zone(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char code[CODE_LEN], wrong[CODE_LEN];
    service_ignore_marker(f, "zone=internet unenrolled=ignore");

    take(f, "carol", &before);
    run_auth(f, "carol", "123456", &r);
    expect_rc(&r, PAM_SUCCESS); /* = the module returned PAM_IGNORE */
    expect_log(&r, "user=carol");
    expect_log(&r, "result=ignore");
    run_account(f, "carol", &r);
    expect_rc(&r, PAM_SUCCESS); /* = PAM_IGNORE */
    struct snap after;
    take(f, "carol", &after);
    assert_string_equal(after.digest, before.digest);
    assert_int_equal(after.failures, 0);

    /* Enrolled staff are still asked, and a success is not mistaken for an ignore. */
    time_t now = fresh_now();
    wrong_code_at("alice", now, wrong);
    run_auth(f, "alice", wrong, &r);
    expect_rc(&r, PAM_AUTH_ERR);
    code_at("alice", now, code);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_PERM_DENIED); /* the module's PAM_SUCCESS, cut by default=die */
    expect_log(&r, "result=success reason=accepted");
}

static void test_unenrolled_ignore_refused_in_mynumber(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char conf2[PATH_LEN];
    take(f, "carol", &before);

    service_ignore_marker(f, "zone=mynumber unenrolled=ignore");
    run_auth(f, "carol", "123456", &r);
    expect_rc(&r, PAM_SERVICE_ERR);
    expect_log(&r, "unenrolled = ignore is not allowed in zone mynumber");
    run_account(f, "carol", &r);
    expect_rc(&r, PAM_SERVICE_ERR);
    run_auth(f, "alice", "123456", &r);
    expect_rc(&r, PAM_SERVICE_ERR);

    /* The same in the configuration file, zone left at its default. */
    path_in(f, "ignore.conf", conf2);
    write_config(f, conf2, f->store, "unenrolled = ignore\n");
    service_with(f, conf2, "");
    run_auth(f, "carol", "123456", &r);
    expect_rc(&r, PAM_SERVICE_ERR);
    expect_log(&r, "not allowed in zone mynumber");
    run_account(f, "carol", &r);
    expect_rc(&r, PAM_SERVICE_ERR);
    expect_untouched(f, "carol", &before);
}

static void test_account_active(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    service_args(f, "");
    take(f, "alice", &before);
    run_account(f, "alice", &r);
    expect_rc(&r, PAM_SUCCESS);
    assert_string_equal(r.err[0], "");
    expect_untouched(f, "alice", &before);
}

static void test_account_expired(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char yesterday[16], today[16];
    time_t now = time(NULL);
    local_date(now - 86400, yesterday, sizeof(yesterday));
    local_date(now, today, sizeof(today));
    enrol(f, "bob", "B-0001", yesterday);
    enrol(f, "dave", "D-0001", today);
    service_args(f, "");

    take(f, "bob", &before);
    run_account(f, "bob", &r);
    expect_rc(&r, PAM_ACCT_EXPIRED);
    assert_string_equal(r.err[0], "Your access has expired. Ask your administrator.");
    expect_uncounted_failure(f, "bob", &before, "account: expired");
    expect_log(&r, "user=bob");
    expect_log(&r, "result=failure reason=account: expired");

    /* valid_until is the last day on which access is allowed. */
    run_account(f, "dave", &r);
    expect_rc(&r, PAM_SUCCESS);
}

/* A stack without the account line (a pam-auth-update profile puts the module in
 * common-auth only) must not let an expired staff member in either. */
static void test_auth_expired(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char yesterday[16], code[CODE_LEN];
    local_date(time(NULL) - 86400, yesterday, sizeof(yesterday));
    enrol(f, "bob", "B-0001", yesterday);
    service_args(f, "");
    code_at("bob", fresh_now(), code);
    take(f, "bob", &before);
    run_auth(f, "bob", code, &r);
    expect_rc(&r, PAM_AUTH_ERR);
    assert_string_equal(r.err[0], "Your access has expired. Ask your administrator.");
    expect_uncounted_failure(f, "bob", &before, "expired");
    expect_log(&r, "result=failure reason=expired");
}

/* The last day is decided on the system's date (/etc/localtime), not on the TZ of the
 * process that calls PAM: su and sudo keep the user's environment, and a TZ a day ahead
 * or behind would otherwise move an expiry by a day. */
static void test_expiry_ignores_callers_tz(void **state)
{
    struct fx *f = *state;
    struct result r;
    char today[16], yesterday[16], tz[32], code[CODE_LEN];
    time_t now = time(NULL);
    struct tm tm;
    assert_non_null(localtime_r(&now, &tm)); /* TZ unset: the system's zone */
    long secs = tm.tm_hour * 3600L + tm.tm_min * 60L + tm.tm_sec, offset = tm.tm_gmtoff;
    local_date(now, today, sizeof(today));
    local_date(now - 86400, yesterday, sizeof(yesterday));
    /* a zone in which it is an hour before the system's midnight (still yesterday), or
     * an hour after the next one (already tomorrow), whichever is within 24 hours */
    bool behind = secs < 12 * 3600;
    long east = behind ? offset - secs - 3600 : offset + (86400 - secs) + 3600;
    snprintf(tz, sizeof(tz), "MZT%c%ld:%02ld", east > 0 ? '-' : '+', labs(east) / 3600,
             labs(east) % 3600 / 60);
    /* behind: bob's last day was yesterday, and in TZ it still is; ahead: dave's last day
     * is today, and in TZ it is over */
    enrol(f, "bob", "B-0001", yesterday);
    enrol(f, "dave", "D-0001", today);
    service_args(f, "");
    const char *user = behind ? "bob" : "dave";
    code_at(user, fresh_now(), code);
    setenv("TZ", tz, 1);
    tzset();
    char local[16];
    local_date(time(NULL), local, sizeof(local));
    run_auth(f, user, code, &r);
    unsetenv("TZ");
    tzset();
    char tomorrow[16];
    local_date(now + 86400, tomorrow, sizeof(tomorrow));
    assert_string_equal(local, behind ? yesterday : tomorrow); /* TZ does move the date */
    if (behind) {
        expect_rc(&r, PAM_AUTH_ERR); /* expired all the same */
        expect_log(&r, "result=failure reason=expired");
    } else {
        expect_rc(&r, PAM_SUCCESS); /* still his last day */
    }
}

static void test_account_revoked(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    service_args(f, "");
    sql_exec(f, "UPDATE staff SET status = 'revoked' WHERE login = 'alice'");
    take(f, "alice", &before);
    run_account(f, "alice", &r);
    expect_rc(&r, PAM_PERM_DENIED);
    assert_string_equal(r.err[0], "Your access has been withdrawn. Ask your administrator.");
    expect_uncounted_failure(f, "alice", &before, "account: revoked");
    expect_log(&r, "user=alice");
    expect_log(&r, "result=failure reason=account: revoked");
}

static void test_revoked_cannot_authenticate(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char code[CODE_LEN];
    service_args(f, "");
    sql_exec(f, "UPDATE staff SET status = 'revoked' WHERE login = 'alice'");
    code_at("alice", fresh_now(), code);
    take(f, "alice", &before);
    run_auth(f, "alice", code, &r);
    expect_refused(&r);
    expect_rc(&r, PAM_USER_UNKNOWN);
    expect_uncounted_failure(f, "alice", &before, "no active credential");
    expect_log(&r, "reason=no active credential");
    expect_secret_kept(f, &r, code);
}

static void test_malformed_user_name(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    service_args(f, "");
    take(f, "alice", &before);
    run_auth(f, "../alice", "123456", &r);
    expect_rc(&r, PAM_USER_UNKNOWN);
    expect_log(&r, "refusing a malformed user name");
    expect_untouched(f, "alice", &before);
}

/* ---- bad input: each a counted failure, never logged ---- */

static void expect_malformed(const struct fx *f, const char *input, const char *code)
{
    struct result r;
    struct snap before;
    take(f, "alice", &before);
    run_auth(f, "alice", input, &r);
    expect_rc(&r, PAM_AUTH_ERR);
    assert_string_equal(r.err[0], "Enter the 6-digit code shown in your authenticator app.");
    expect_counted_failure(f, "alice", &before, "malformed input");
    expect_log(&r, "user=alice");
    expect_log(&r, "result=failure reason=malformed input");
    expect_secret_kept(f, &r, input);
    expect_secret_kept(f, &r, code);
}

static void test_input_empty(void **state)
{
    struct fx *f = *state;
    char code[CODE_LEN];
    service_args(f, "");
    code_at("alice", fresh_now(), code);
    expect_malformed(f, "", code);
}

static void test_input_five_digits(void **state)
{
    struct fx *f = *state;
    char code[CODE_LEN], input[CODE_LEN];
    service_args(f, "");
    code_at("alice", fresh_now(), code);
    snprintf(input, sizeof(input), "%.5s", code); /* the right code, one digit short */
    expect_malformed(f, input, code);
}

static void test_input_seven_digits(void **state)
{
    struct fx *f = *state;
    char code[CODE_LEN], input[CODE_LEN + 1];
    service_args(f, "");
    code_at("alice", fresh_now(), code);
    snprintf(input, sizeof(input), "%s0", code); /* the right code and one digit more */
    expect_malformed(f, input, code);
}

static void test_input_letters(void **state)
{
    struct fx *f = *state;
    char code[CODE_LEN];
    service_args(f, "");
    code_at("alice", fresh_now(), code);
    expect_malformed(f, "abcdef", code);
}

static void test_input_300_characters(void **state)
{
    struct fx *f = *state;
    char code[CODE_LEN], input[301];
    service_args(f, "");
    code_at("alice", fresh_now(), code);
    memcpy(input, code, DIGITS); /* the right code, then 294 more digits */
    for (int i = DIGITS; i < 300; i++)
        input[i] = (char)('0' + i % 10);
    input[300] = '\0';
    expect_malformed(f, input, code);
}

static void test_input_full_width_digits(void **state)
{
    struct fx *f = *state;
    char code[CODE_LEN], input[3 * DIGITS + 1];
    service_args(f, "");
    code_at("alice", fresh_now(), code);
    /* The right code in full-width digits (U+FF10..U+FF19): no normalisation. */
    for (int i = 0; i < DIGITS; i++) {
        input[3 * i] = (char)0xef;
        input[3 * i + 1] = (char)0xbc;
        input[3 * i + 2] = (char)(0x90 + (code[i] - '0'));
    }
    input[3 * DIGITS] = '\0';
    expect_malformed(f, input, code);
}

/* ---- conversations that fail ---- */

static int conv_error(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
    (void)n;
    (void)msg;
    (void)resp;
    (void)data;
    return PAM_CONV_ERR;
}

static int conv_no_responses(int n, const struct pam_message **msg, struct pam_response **resp,
                             void *data)
{
    (void)n;
    (void)msg;
    (void)data;
    *resp = NULL;
    return PAM_SUCCESS;
}

static int conv_null_answer(int n, const struct pam_message **msg, struct pam_response **resp,
                            void *data)
{
    (void)msg;
    (void)data;
    *resp = calloc((size_t)n, sizeof(**resp)); /* every resp member NULL */
    return *resp != NULL ? PAM_SUCCESS : PAM_BUF_ERR;
}

/* Answers the prompt with the code in DATA, but cannot show information. */
static int conv_no_info(int n, const struct pam_message **msg, struct pam_response **resp,
                        void *data)
{
    if (n <= 0 || n > PAM_MAX_NUM_MSG)
        return PAM_CONV_ERR;
    for (int i = 0; i < n; i++)
        if (msg[i]->msg_style == PAM_TEXT_INFO)
            return PAM_CONV_ERR;
    struct pam_response *out = calloc((size_t)n, sizeof(*out));
    if (out == NULL)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++) {
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF && (out[i].resp = strdup(data)) == NULL) {
            for (int j = 0; j < i; j++)
                free(out[j].resp);
            free(out);
            return PAM_BUF_ERR;
        }
    }
    *resp = out;
    return PAM_SUCCESS;
}

/* A success whose message about the last login cannot be shown is not a success; the
 * code is used all the same. */
static void test_conv_cannot_show_last_login(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[CODE_LEN];
    service_args(f, "");
    time_t now = fresh_now();
    code_at("alice", now, code);
    run_conv(f, "alice", conv_no_info, code, &r);
    expect_refused(&r);
    expect_rc(&r, PAM_CONV_ERR);
    expect_secret_kept(f, &r, code);
    struct snap after;
    take(f, "alice", &after);
    assert_int_equal(after.last_step, (int64_t)now / PERIOD);
    expect_last_audit(f, "success accepted");

    run_auth(f, "alice", code, &r); /* used: a replay now */
    expect_rc(&r, PAM_AUTH_ERR);
    expect_log(&r, "reason=code already used");
}

/* Any conversation that gives no answer is a failure, recorded in the audit trail but
 * not counted against the user (no code was tried). */
static void expect_conv_failure(void **state, pam_conv_fn fn)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    service_args(f, "");
    take(f, "alice", &before);
    run_conv(f, "alice", fn, NULL, &r);
    expect_refused(&r);
    expect_rc(&r, PAM_CONV_ERR);
    expect_uncounted_failure(f, "alice", &before, "conversation failed");
    expect_log(&r, "user=alice");
    expect_log(&r, "result=failure reason=conversation failed");
}

static void test_conv_function_null(void **state)
{
    expect_conv_failure(state, NULL);
}

static void test_conv_returns_error(void **state)
{
    expect_conv_failure(state, conv_error);
}

static void test_conv_success_without_responses(void **state)
{
    expect_conv_failure(state, conv_no_responses);
}

static void test_conv_success_with_null_answer(void **state)
{
    expect_conv_failure(state, conv_null_answer);
}

/* ---- configuration and files ---- */

static void expect_config_error(void **state, const char *args, const char *says)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char code[CODE_LEN];
    service_args(f, args);
    code_at("alice", fresh_now(), code);
    take(f, "alice", &before);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SERVICE_ERR);
    expect_log(&r, "configuration error");
    expect_log(&r, says);
    expect_secret_kept(f, &r, code);
    run_account(f, "alice", &r);
    expect_rc(&r, PAM_SERVICE_ERR);
    expect_untouched(f, "alice", &before);
}

static void test_unknown_option(void **state)
{
    expect_config_error(state, "frobnicate=1", "unknown key \"frobnicate\"");
}

static void test_bare_unknown_word(void **state)
{
    expect_config_error(state, "nonsense", "unknown module argument \"nonsense\"");
}

static void test_garbage_config_file(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char conf2[PATH_LEN];
    path_in(f, "garbage.conf", conf2);
    write_file(conf2, "[global]\nstore /var/lib/mnzone\n\x01\x02\x03\n", 0600);
    service_with(f, conf2, "");
    take(f, "alice", &before);
    run_auth(f, "alice", "123456", &r);
    expect_rc(&r, PAM_SERVICE_ERR);
    expect_log(&r, "configuration error");
    expect_log(&r, "garbage.conf:1: expected key = value");
    run_account(f, "alice", &r);
    expect_rc(&r, PAM_SERVICE_ERR);
    expect_untouched(f, "alice", &before);
}

/* The fixture's service with a configuration whose store is STORE. */
static void service_with_store(const struct fx *f, const char *store)
{
    char conf2[PATH_LEN];
    path_in(f, "other-store.conf", conf2);
    write_config(f, conf2, store, "");
    service_with(f, conf2, "");
}

static void test_missing_store(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char absent[PATH_LEN], code[CODE_LEN];
    path_in(f, "absent.db", absent);
    service_with_store(f, absent);
    code_at("alice", fresh_now(), code);
    take(f, "alice", &before);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_AUTHINFO_UNAVAIL);
    expect_log(&r, "absent.db: no store");
    expect_log(&r, "result=error reason=store unavailable");
    expect_secret_kept(f, &r, code);
    run_account(f, "alice", &r);
    expect_rc(&r, PAM_AUTHINFO_UNAVAIL);
    assert_int_equal(access(absent, F_OK), -1); /* the module never creates a store */
    expect_untouched(f, "alice", &before);
}

static void test_world_writable_store(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char code[CODE_LEN];
    service_args(f, "");
    code_at("alice", fresh_now(), code);
    take(f, "alice", &before);
    assert_int_equal(chmod(f->store, 0666), 0);
    run_auth(f, "alice", code, &r);
    int auth_rc = r.rc;
    char auth_log[8192];
    size_t n = strnlen(r.text, sizeof(auth_log) - 1);
    memcpy(auth_log, r.text, n);
    auth_log[n] = '\0';
    run_account(f, "alice", &r);
    assert_int_equal(chmod(f->store, 0600), 0);

    assert_int_equal(auth_rc, PAM_AUTHINFO_UNAVAIL);
    assert_non_null(strstr(auth_log, "mnzone.db: writable by group or others"));
    assert_null(strstr(auth_log, code));
    expect_rc(&r, PAM_AUTHINFO_UNAVAIL);
    expect_untouched(f, "alice", &before);
}

/* A folder above the store and the key file that others can write: they could swap
 * the folder below it between a check and an open, so the module refuses it, and
 * mnzoned too although it holds the store open and the key read already. The configuration is a
 * copy in a folder of its own, so that it is the store's folders that are refused. */
static void test_folder_on_the_way_writable(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char code[CODE_LEN], conf_dir[PATH_LEN], conf[PATH_LEN + 16];
    snprintf(conf_dir, sizeof(conf_dir), "/tmp/mnzone-pam-conf.XXXXXX");
    assert_non_null(mkdtemp(conf_dir));
    snprintf(conf, sizeof(conf), "%s/mnzone.conf", conf_dir);
    write_config(f, conf, f->store, "");
    service_with(f, conf, "");
    /* a login first, so that mnzoned has read the key and holds everything open */
    time_t now = fresh_now();
    char earlier[CODE_LEN];
    code_at("alice", now - PERIOD, earlier);
    run_auth(f, "alice", earlier, &r);
    expect_rc(&r, PAM_SUCCESS);
    code_at("alice", now, code);
    take(f, "alice", &before);
    assert_int_equal(chmod(f->top, 0777), 0);
    run_auth(f, "alice", code, &r);
    assert_int_equal(chmod(f->top, 0700), 0);
    expect_rc(&r, PAM_AUTHINFO_UNAVAIL);
    expect_log(&r, "writable by group or others");
    char named[PATH_LEN + 32];
    snprintf(named, sizeof(named), "%s: writable by group or others", f->top);
    expect_log(&r, named);
    expect_secret_kept(f, &r, code);
    expect_untouched(f, "alice", &before);
    /* closed again, the same code logs in */
    run_auth(f, "alice", code, &r);
    unlink(conf);
    rmdir(conf_dir);
    expect_rc(&r, PAM_SUCCESS);
}

static void test_key_file_readable_by_others(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char code[CODE_LEN];
    service_args(f, "");
    code_at("alice", fresh_now(), code);
    take(f, "alice", &before);
    assert_int_equal(chmod(f->key, 0644), 0);
    run_auth(f, "alice", code, &r);
    assert_int_equal(chmod(f->key, 0600), 0);
    expect_refused(&r);
    expect_rc(&r, PAM_AUTHINFO_UNAVAIL);
    expect_log(&r, "mnzone.key: readable by group or others");
    expect_log(&r, "result=error reason=key file unusable");
    expect_secret_kept(f, &r, code);
    expect_untouched(f, "alice", &before);
}

static void test_store_symlink(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char link[PATH_LEN], code[CODE_LEN];
    path_in(f, "link.db", link);
    assert_int_equal(symlink(f->store, link), 0);
    service_with_store(f, link);
    code_at("alice", fresh_now(), code);
    take(f, "alice", &before);
    run_auth(f, "alice", code, &r);
    expect_refused(&r);
    expect_rc(&r, PAM_AUTHINFO_UNAVAIL);
    expect_log(&r, "link.db: is a symbolic link");
    expect_secret_kept(f, &r, code);
    run_account(f, "alice", &r);
    expect_rc(&r, PAM_AUTHINFO_UNAVAIL);
    expect_untouched(f, "alice", &before);
}

/* `debug` adds lines to the log, never the code. */
static void test_debug_never_logs_code(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[CODE_LEN];
    service_args(f, "debug");
    code_at("alice", fresh_now(), code);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    expect_log(&r, "authenticate returns");
    /* and the suite's mode is the one it says */
    expect_log(&r, through_daemon ? "(mnzoned engine)" : "(direct engine)");
    expect_secret_kept(f, &r, code);
}

/* ---- mnzoned ---- */

/* The fixture's mnzoned, started here when the suite runs without one. */
static void need_daemon(struct fx *f)
{
    if (!through_daemon) {
        char conf[8192];
        FILE *in = fopen(f->conf, "r");
        assert_non_null(in);
        size_t n = fread(conf, 1, sizeof(conf) - 1, in);
        fclose(in);
        conf[n] = '\0';
        /* this configuration, with the socket */
        char *line = strstr(conf, "daemon_socket = \n");
        assert_non_null(line);
        char text[8192];
        snprintf(text, sizeof(text), "%.*sdaemon_socket = %s\n%s", (int)(line - conf), conf,
                 f->sock, line + strlen("daemon_socket = \n"));
        write_file(f->conf, text, 0600);
    }
    if (f->daemon == 0)
        f->daemon = start_daemon(f);
}

/* A login is answered by mnzoned when it runs; once it has stopped, by the direct
 * engine, and a code accepted through one is refused through the other. */
static void test_mnzoned_answers_and_direct_follows(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[CODE_LEN];
    need_daemon(f);
    service_args(f, "debug");
    time_t now = fresh_now();
    code_at("alice", now, code);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    expect_log(&r, "(mnzoned engine)");
    expect_log(&r, "result=success reason=accepted");
    expect_secret_kept(f, &r, code);

    assert_int_equal(stop_daemon(f->daemon), 0);
    f->daemon = 0;
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_AUTH_ERR);
    expect_log(&r, "using the store directly");
    expect_log(&r, "(direct engine)");
    expect_log(&r, "result=failure reason=code already used");
    expect_last_audit(f, "failure code already used");
}

/* A code accepted by the direct engine is refused by mnzoned too. */
static void test_mnzoned_refuses_code_used_directly(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[CODE_LEN];
    service_args(f, "debug daemon_socket=");
    code_at("alice", fresh_now(), code);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    expect_log(&r, "(direct engine)");
    need_daemon(f);
    service_args(f, "debug");
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_AUTH_ERR);
    expect_log(&r, "(mnzoned engine)");
    expect_log(&r, "result=failure reason=code already used");
}

/* mnzoned never decides under rules it did not read: a module line that sets its own
 * policy is answered by the direct engine, with that policy. */
static void test_mnzoned_not_used_for_other_configuration(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap after;
    char wrong[CODE_LEN];
    need_daemon(f);
    service_args(f, "debug max_failures=1");
    wrong_code_at("alice", fresh_now(), wrong);
    run_auth(f, "alice", wrong, &r);
    expect_rc(&r, PAM_AUTH_ERR);
    expect_log(&r, "mnzoned serves another configuration");
    expect_log(&r, "(direct engine)");
    take(f, "alice", &after);
    assert_true(after.locked_until > 0); /* max_failures=1 applied */
}

/* mnzoned whose own configuration file breaks while it runs does not decide: the module,
 * reading its own (good) file, asks the direct engine until the file is mended. */
static void test_mnzoned_own_config_broken(void **state)
{
    struct fx *f = *state;
    struct result r;
    char conf2[PATH_LEN], text[4096], wrong[CODE_LEN];
    need_daemon(f);
    FILE *in = fopen(f->conf, "r");
    assert_non_null(in);
    size_t n = fread(text, 1, sizeof(text) - 1, in);
    fclose(in);
    text[n] = '\0';
    path_in(f, "module.conf", conf2);
    write_file(conf2, text, 0600);
    service_with(f, conf2, "debug");
    wrong_code_at("alice", fresh_now(), wrong);
    run_auth(f, "alice", wrong, &r);
    expect_rc(&r, PAM_AUTH_ERR);
    expect_log(&r, "(mnzoned engine)");

    write_file(f->conf, "this line = is no key\n", 0600);
    run_auth(f, "alice", wrong, &r);
    expect_rc(&r, PAM_AUTH_ERR);
    expect_log(&r, "(direct engine)");
    expect_log(&r, "result=failure reason=wrong code");

    write_file(f->conf, text, 0600);
    run_auth(f, "alice", wrong, &r);
    expect_rc(&r, PAM_AUTH_ERR);
    expect_log(&r, "(mnzoned engine)");
}

/* A stopped (hung) mnzoned does not stop logins: its first answer is awaited for 1 s,
 * then the direct engine decides. */
static void test_mnzoned_hung_falls_back(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[CODE_LEN];
    need_daemon(f);
    service_args(f, "debug");
    code_at("alice", fresh_now(), code);
    assert_int_equal(kill(f->daemon, SIGSTOP), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_auth(f, "alice", code, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(kill(f->daemon, SIGCONT), 0);
    expect_rc(&r, PAM_SUCCESS);
    expect_log(&r, "using the store directly");
    expect_log(&r, "(direct engine)");
    assert_true(t1.tv_sec - t0.tv_sec < 5); /* bounded: not the 10 s request timeout */
}

/* mnzoned gone between the question and the code: the attempt is an error, nothing is
 * accepted, and the next login (direct) accepts the same code. */
struct kill_conv {
    pid_t daemon;
    const char *answer;
};

static int kill_then_answer(int n, const struct pam_message **msg, struct pam_response **resp,
                            void *data)
{
    struct kill_conv *k = data;
    for (int i = 0; i < n; i++) {
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF && k->daemon > 0) {
            kill(k->daemon, SIGKILL);
            waitpid(k->daemon, NULL, 0);
            k->daemon = 0;
        }
    }
    struct answer_conv c = {.answer = k->answer};
    return answer_conv_fn(n, msg, resp, &c);
}

static void test_mnzoned_gone_before_the_code(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char code[CODE_LEN];
    need_daemon(f);
    service_args(f, "debug");
    code_at("alice", fresh_now(), code);
    take(f, "alice", &before);
    struct kill_conv k = {f->daemon, code};
    f->daemon = 0;
    run_conv(f, "alice", kill_then_answer, &k, &r);
    expect_rc(&r, PAM_SYSTEM_ERR);
    expect_log(&r, "result=error reason=cannot record the attempt");
    expect_secret_kept(f, &r, code);
    expect_untouched(f, "alice", &before);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    expect_log(&r, "(direct engine)");
}

/* A socket served by anyone but root is not asked: the direct engine decides. */
static void test_mnzoned_must_be_root(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[CODE_LEN];
    need_daemon(f); /* the socket line in the configuration */
    assert_int_equal(stop_daemon(f->daemon), 0);
    f->daemon = 0;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        if (strlen(f->sock) >= sizeof(sa.sun_path))
            _exit(1);
        memcpy(sa.sun_path, f->sock, strlen(f->sock) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        unlink(f->sock);
        /* bound by root, listening as nobody: SO_PEERCRED names the listener */
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || setgid(65534) != 0 ||
            setuid(65534) != 0 || listen(fd, 8) != 0)
            _exit(1);
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        signal(SIGPIPE, SIG_IGN); /* the module hangs up on it at once, as it should */
        for (;;) {
            int c = accept(fd, NULL, NULL);
            if (c >= 0) {
                /* whatever it would say, it must not be listened to */
                uint32_t len = 5;
                (void)!write(c, &len, sizeof(len));
                (void)!write(c, "rc=0", 5);
                close(c);
            }
        }
    }
    char byte;
    assert_int_equal(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    close(ready[1]);
    service_args(f, "");
    code_at("alice", fresh_now(), code);
    run_auth(f, "alice", code, &r);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    expect_rc(&r, PAM_SUCCESS);
    /* said without debug: a socket that is not mnzoned's is worth a warning */
    expect_log(&r, "is not served by root: not used; using the store directly");
}

/* ---- many logins at once ---- */

/* One racer: initialises pam_wrapper in this child (it starts afresh after fork, from
 * PAM_WRAPPER_SERVICE_DIR, so point that at the parent's runtime folder), says it is
 * ready, waits for the start, logs in and exits with the PAM code. exit, not _exit: the
 * child's pam_wrapper removes its own folder. */
static void racer(const struct fx *f, const char *code, int ready_fd, int go_fd)
{
    char byte = 'r';
    setenv("PAM_WRAPPER_SERVICE_DIR", runtime_dir, 1);
    (void)pam_strerror(NULL, PAM_SUCCESS);
    if (write(ready_fd, &byte, 1) != 1)
        exit(250);
    while (read(go_fd, &byte, 1) < 0 && errno == EINTR)
        ;
    const char *answers[] = {code, NULL};
    struct pamtest_conv_data conv = {.in_echo_off = answers, .in_echo_on = answers};
    struct pam_testcase tests[] = {pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS)};
    enum pamtest_err perr = run_pamtest(f->service, "alice", &conv, tests, NULL);
    if (perr != PAMTEST_ERR_OK && perr != PAMTEST_ERR_CASE)
        exit(200 + (int)perr);
    exit(tests[0].op_rv);
}

static void test_concurrent_same_code(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before, after;
    struct capture c;
    char code[CODE_LEN], msg[600];
    int ready[2], go[2], status[RACERS];
    pid_t pids[RACERS];
    int started = 0;
    /* in the file, not on the module line: so that mnzoned, when it runs, serves it */
    write_config(f, f->conf, f->store, "max_failures = 20\n");
    service_args(f, "");
    take(f, "alice", &before);
    time_t now = fresh_now();
    code_at("alice", now, code);
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);

    fflush(stdout);
    memset(&r, 0, sizeof(r));
    bool captured = capture_start(f, &c);
    for (; started < RACERS; started++) {
        pids[started] = fork();
        if (pids[started] < 0)
            break;
        if (pids[started] == 0) {
            close(ready[0]);
            close(go[1]);
            racer(f, code, ready[1], go[0]);
        }
        char byte;
        if (read(ready[0], &byte, 1) != 1) { /* one at a time through pam_wrapper's start */
            started++;
            break;
        }
    }
    close(go[1]); /* all start now */
    close(go[0]);
    close(ready[0]);
    close(ready[1]);
    for (int i = 0; i < started; i++) {
        status[i] = -1;
        while (waitpid(pids[i], &status[i], 0) < 0 && errno == EINTR)
            ;
    }
    capture_end(f, &c, &r);
    assert_true(captured);
    assert_int_equal(started, RACERS);

    int successes = 0, replays = 0;
    for (int i = 0; i < RACERS; i++) {
        assert_true(WIFEXITED(status[i]));
        int rc = WEXITSTATUS(status[i]);
        if (rc == PAM_SUCCESS)
            successes++;
        else if (rc == PAM_AUTH_ERR)
            replays++;
        else
            print_error("racer %d: %s (exit status %d)\n", i, pam_name(rc), rc);
    }
    assert_int_equal(successes, 1);
    assert_int_equal(replays, RACERS - 1);

    take(f, "alice", &after);
    assert_int_equal(after.last_step, (int64_t)now / PERIOD);
    assert_int_equal(after.failures, RACERS - 1);
    assert_int_equal(after.audit_rows, before.audit_rows + RACERS);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM audit WHERE result = 'success'", NULL, -1),
                     1);
    assert_int_equal(
        sql_int(f, "SELECT count(*) FROM audit WHERE reason = 'code already used'", NULL, -1),
        RACERS - 1);
    expect_log(&r, "result=success reason=accepted");
    expect_secret_kept(f, &r, code);

    int64_t count = 0;
    const char *problem = chain_problem(f, &count, msg, sizeof(msg));
    if (problem != NULL)
        fail_msg("%s", problem);
    assert_int_equal(count, after.audit_rows);
}

/* ---- one-time codes: recovery and emergency ---- */

/* Issues one code of KIND ("recovery" or "emergency") to LOGIN as mnzone-enroll does:
 * generated and sealed by the core, stored in one transaction. EXPIRES_AT 0 = never.
 * TEXT receives the code as it is handed over ("ABCD-EFGH-JKLM-NPQR"). */
static void issue_code(const struct fx *f, const char *login, const char *kind, int64_t expires_at,
                       char text[MZ_CODE_TEXT])
{
    struct mz_store *st = NULL;
    struct mz_code_entry entry;
    char normal[MZ_CODE_SYMBOLS + 1];
    mz_err e = {""};
    memset(&entry, 0, sizeof(entry));
    entry.emergency = strcmp(kind, "emergency") == 0;
    entry.expires_at = expires_at;
    assert_int_equal(mz_code_generate(text), MZ_OK);
    assert_true(mz_code_normalize(text, normal));
    assert_int_equal(mz_code_seal(&f->keys, normal, &entry), MZ_OK);
    core_ok(mz_store_open(f->store, 0, &st, &e), &e, "mz_store_open");
    int rc = mz_store_begin(st, &e);
    if (rc == MZ_OK) {
        rc = mz_admin_add_code(st, login, kind, &entry, "pam-test",
                               entry.emergency ? "test emergency" : "", (int64_t)time(NULL), &e);
        if (rc == MZ_OK)
            rc = mz_store_commit(st, &e);
        else
            mz_store_rollback(st);
    }
    mz_store_close(st);
    core_ok(rc, &e, "issue_code");
}

/* Voids LOGIN's unused codes of KIND as recovery-codes does before a new set. */
static void void_codes(const struct fx *f, const char *login, const char *kind)
{
    struct mz_store *st = NULL;
    mz_err e = {""};
    int count = 0;
    core_ok(mz_store_open(f->store, 0, &st, &e), &e, "mz_store_open");
    int rc = mz_store_begin(st, &e);
    if (rc == MZ_OK) {
        rc = mz_admin_void_codes(st, login, kind, (int64_t)time(NULL), &count, &e);
        if (rc == MZ_OK)
            rc = mz_store_commit(st, &e);
        else
            mz_store_rollback(st);
    }
    mz_store_close(st);
    core_ok(rc, &e, "void_codes");
    assert_true(count > 0);
}

/* Revokes LOGIN's TOTP credential as reset and revoke do. */
static void revoke_totp(const struct fx *f, const char *login)
{
    struct mz_store *st = NULL;
    mz_err e = {""};
    int count = 0;
    core_ok(mz_store_open(f->store, 0, &st, &e), &e, "mz_store_open");
    int rc = mz_store_begin(st, &e);
    if (rc == MZ_OK) {
        rc = mz_admin_revoke_method(st, login, "totp", "pam-test", "lost phone",
                                    (int64_t)time(NULL), &count, &e);
        if (rc == MZ_OK)
            rc = mz_store_commit(st, &e);
        else
            mz_store_rollback(st);
    }
    mz_store_close(st);
    core_ok(rc, &e, "revoke_totp");
    assert_int_equal(count, 1);
}

static void expect_last_audit_method(const struct fx *f, const char *method)
{
    char got[64] = "";
    sql_text(f, "SELECT method FROM audit ORDER BY seq DESC LIMIT 1", NULL, got, sizeof(got));
    size_t n = strlen(got);
    if (n > 0 && got[n - 1] == ';')
        got[n - 1] = '\0';
    assert_string_equal(got, method);
}

/* The code as handed over, without dashes, and in lower case: none of them may appear
 * in the log or the audit trail. */
static void expect_code_kept(const struct fx *f, const struct result *r, const char *text)
{
    char normal[MZ_CODE_SYMBOLS + 1], lower[MZ_CODE_TEXT];
    assert_true(strlen(text) < sizeof(lower));
    assert_true(mz_code_normalize(text, normal));
    snprintf(lower, sizeof(lower), "%s", text);
    for (char *p = lower; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    expect_secret_kept(f, r, text);
    expect_secret_kept(f, r, normal);
    expect_secret_kept(f, r, lower);
    expect_secret_kept(f, r, normal + 4); /* no part of it either */
}

static int64_t used_codes(const struct fx *f, const char *login)
{
    return sql_int(f, "SELECT count(*) FROM codes WHERE login = ?1 AND used_at != 0", login, -1);
}

/* A recovery code logs in once; the second time it is a wrong code, counted. */
static void test_recovery_code_once(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before, after;
    char code[MZ_CODE_TEXT];
    service_args(f, "");
    issue_code(f, "alice", "recovery", 0, code);

    take(f, "alice", &before);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    assert_string_equal(r.info[0], "This is your first login with mnzone.");
    assert_string_equal(r.err[0], "");
    expect_log(&r, "result=success reason=accepted");
    expect_last_audit(f, "success accepted");
    expect_last_audit_method(f, "recovery");
    expect_code_kept(f, &r, code);
    take(f, "alice", &after);
    assert_int_equal(after.audit_rows, before.audit_rows + 1);
    assert_int_equal(after.last_step, before.last_step); /* no TOTP step used */
    assert_int_equal(used_codes(f, "alice"), 1);
    int64_t used_at = sql_int(f, "SELECT used_at FROM codes WHERE login = ?1", "alice", 0);
    assert_true(used_at > 0 && used_at <= (int64_t)time(NULL));

    run_account(f, "alice", &r);
    expect_rc(&r, PAM_SUCCESS);

    take(f, "alice", &before);
    run_auth(f, "alice", code, &r);
    expect_refused(&r);
    expect_rc(&r, PAM_AUTH_ERR);
    assert_string_equal(r.err[0], "Wrong code. Log in again with the current code.");
    expect_counted_failure(f, "alice", &before, "wrong code");
    expect_log(&r, "result=failure reason=wrong code");
    expect_code_kept(f, &r, code);
    assert_int_equal(used_codes(f, "alice"), 1);
}

/* Typed in lower case, dashes kept: the same code. */
static void test_recovery_code_lower_case(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[MZ_CODE_TEXT], typed[MZ_CODE_TEXT];
    service_args(f, "");
    issue_code(f, "alice", "recovery", 0, code);
    snprintf(typed, sizeof(typed), "%s", code);
    for (char *p = typed; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    assert_string_not_equal(typed, code);

    run_auth(f, "alice", typed, &r);
    expect_rc(&r, PAM_SUCCESS);
    expect_last_audit(f, "success accepted");
    expect_last_audit_method(f, "recovery");
    expect_code_kept(f, &r, code);
    assert_int_equal(used_codes(f, "alice"), 1);
}

/* Read out over the phone and typed in groups: spaces between the groups, as
 * mz_code_normalize allows. */
static void test_recovery_code_with_spaces(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[MZ_CODE_TEXT], typed[MZ_CODE_TEXT];
    service_args(f, "");
    issue_code(f, "alice", "recovery", 0, code);
    snprintf(typed, sizeof(typed), "%s", code);
    for (char *p = typed; *p != '\0'; p++)
        if (*p == '-')
            *p = ' ';

    run_auth(f, "alice", typed, &r);
    expect_code_kept(f, &r, code);
    expect_secret_kept(f, &r, typed);
    expect_rc(&r, PAM_SUCCESS);
    expect_last_audit_method(f, "recovery");
    assert_int_equal(used_codes(f, "alice"), 1);
}

/* An emergency code: refused once its expiry has passed, accepted before it. */
static void test_emergency_code_expiry(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char code[MZ_CODE_TEXT], sql[256];
    service_args(f, "");
    int64_t now = (int64_t)time(NULL);
    issue_code(f, "alice", "emergency", now + 3600, code);

    snprintf(sql, sizeof(sql), "UPDATE codes SET expires_at = %lld WHERE login = 'alice'",
             (long long)(now - 60));
    sql_exec(f, sql);
    take(f, "alice", &before);
    run_auth(f, "alice", code, &r);
    expect_refused(&r);
    expect_rc(&r, PAM_AUTH_ERR);
    assert_string_equal(r.err[0], "Wrong code. Log in again with the current code.");
    expect_counted_failure(f, "alice", &before, "wrong code");
    expect_code_kept(f, &r, code);
    assert_int_equal(used_codes(f, "alice"), 0);

    snprintf(sql, sizeof(sql), "UPDATE codes SET expires_at = %lld WHERE login = 'alice'",
             (long long)(now + 3600));
    sql_exec(f, sql);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    expect_log(&r, "result=success reason=accepted");
    expect_last_audit(f, "success accepted");
    expect_last_audit_method(f, "emergency");
    expect_code_kept(f, &r, code);
    assert_int_equal(used_codes(f, "alice"), 1);
    assert_string_equal(r.info[0], "This is your first login with mnzone.");

    take(f, "alice", &before);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_AUTH_ERR);
    expect_counted_failure(f, "alice", &before, "wrong code");
}

/* Staff whose phone is gone (TOTP credential revoked) log in with a recovery code;
 * the account check lets them through while they hold one. */
static void test_recovery_code_after_totp_revoked(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[MZ_CODE_TEXT], totp[CODE_LEN];
    service_args(f, "");
    issue_code(f, "alice", "recovery", 0, code);
    revoke_totp(f, "alice");

    time_t now = fresh_now();
    code_at("alice", now, totp);
    run_auth(f, "alice", totp, &r);
    expect_refused(&r);
    expect_rc(&r, PAM_AUTH_ERR);
    expect_secret_kept(f, &r, totp);

    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    expect_last_audit(f, "success accepted");
    expect_last_audit_method(f, "recovery");
    expect_code_kept(f, &r, code);
    assert_int_equal(used_codes(f, "alice"), 1);
    assert_int_equal(
        sql_int(f, "SELECT count(*) FROM credentials WHERE login = ?1 AND status = 'active'",
                "alice", -1),
        0);
}

static void test_recovery_code_after_totp_revoked_account(void **state)
{
    struct fx *f = *state;
    struct result r;
    char code[MZ_CODE_TEXT];
    service_args(f, "");
    issue_code(f, "alice", "recovery", 0, code);
    revoke_totp(f, "alice");
    run_account(f, "alice", &r);
    expect_rc(&r, PAM_SUCCESS);
    assert_string_equal(r.err[0], "");
}

/* A code of a voided set (recovery-codes issued a new one) is refused, counted; the
 * new set works. */
static void test_voided_code_refused(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char old[MZ_CODE_TEXT], fresh[MZ_CODE_TEXT];
    service_args(f, "");
    issue_code(f, "alice", "recovery", 0, old);
    void_codes(f, "alice", "recovery");
    issue_code(f, "alice", "recovery", 0, fresh);

    take(f, "alice", &before);
    run_auth(f, "alice", old, &r);
    expect_refused(&r);
    expect_rc(&r, PAM_AUTH_ERR);
    expect_counted_failure(f, "alice", &before, "wrong code");
    expect_log(&r, "result=failure reason=wrong code");
    expect_code_kept(f, &r, old);
    assert_int_equal(used_codes(f, "alice"), 0);

    run_auth(f, "alice", fresh, &r);
    expect_rc(&r, PAM_SUCCESS);
    expect_last_audit_method(f, "recovery");
    expect_code_kept(f, &r, fresh);
}

/* One staff member's code is no use to another. */
static void test_other_users_code_refused(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char code[MZ_CODE_TEXT];
    enrol(f, "bob", "B-0001", "");
    service_args(f, "");
    issue_code(f, "bob", "recovery", 0, code);

    take(f, "alice", &before);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_AUTH_ERR);
    expect_counted_failure(f, "alice", &before, "wrong code");
    expect_code_kept(f, &r, code);
    assert_int_equal(used_codes(f, "bob"), 0);

    run_auth(f, "bob", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    expect_last_audit_method(f, "recovery");
}

/* ---- YubiKey: the real libykpers against the emulated key of tests/yubikey ---- */

/* The emulated key's state file for this test (MZ_YKSHIM_STATE, read by the shim that
 * run-pam-tests preloads), written whole with LINES. */
static void key_state(const struct fx *f, const char *lines)
{
    char path[PATH_LEN], tmp[PATH_LEN + 8];
    path_in(f, "key.state", path);
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    write_file(tmp, lines, 0600);
    assert_int_equal(rename(tmp, path), 0);
    setenv("MZ_YKSHIM_STATE", path, 1);
}

/* One value of the emulated key's state into BUF ("" if missing). */
static void key_get(const struct fx *f, const char *name, char *buf, size_t len)
{
    char path[PATH_LEN], line[512];
    size_t n = strlen(name);
    path_in(f, "key.state", path);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    buf[0] = '\0';
    while (fgets(line, sizeof(line), fp) != NULL)
        if (strncmp(line, name, n) == 0 && line[n] == '=')
            snprintf(buf, len, "%.*s", (int)strcspn(line + n + 1, "\n"), line + n + 1);
    fclose(fp);
}

static long key_get_long(const struct fx *f, const char *name)
{
    char v[64];
    key_get(f, name, v, sizeof(v));
    return strtol(v, NULL, 10);
}

/* Changes one value of the state, keeping the rest. */
static void key_set(const struct fx *f, const char *name, const char *value)
{
    static const char *const keys[] = {"present",    "serial",       "slot2", "slot2_touch",
                                       "slot2_lt64", "touch",        "fail",  "replay",
                                       "challenges", "last_response"};
    char text[2048] = "", v[256], line[320];
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strcmp(keys[i], name) == 0)
            snprintf(v, sizeof(v), "%s", value);
        else
            key_get(f, keys[i], v, sizeof(v));
        snprintf(line, sizeof(line), "%s=%s\n", keys[i], v);
        strncat(text, line, sizeof(text) - strlen(text) - 1);
    }
    key_state(f, text);
}

/* Runs mnzone-enroll (the built tool) with the fixture's configuration and ARGS, with
 * the emulated key but not pam_wrapper (MZ_TOOL_PRELOAD from run-pam-tests: the shim,
 * after ASan's runtime in a sanitizer build); returns its exit status. */
static int run_tool(const struct fx *f, const char *args)
{
    const char *builddir = getenv("MZ_BUILDDIR"), *shim = getenv("MZ_TOOL_PRELOAD");
    if (shim == NULL)
        shim = getenv("MZ_YKSHIM");
    char cmd[2048];
    assert_non_null(builddir);
    assert_non_null(shim);
    int n = snprintf(cmd, sizeof(cmd),
                     "env -u PAM_WRAPPER -u PAM_WRAPPER_SERVICE_DIR LD_PRELOAD='%s' "
                     "'%s/enroll/mnzone-enroll' --config '%s' %s </dev/null >'%s/tool.out' 2>&1",
                     shim, builddir, f->conf, args, f->dir);
    assert_true(n > 0 && (size_t)n < sizeof(cmd));
    int status = system(cmd);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Enrols LOGIN with a fresh emulated key of SERIAL, programmed by the tool:
 * `add LOGIN [STAFF] --method yubikey --program`. */
static void enrol_key_serial(const struct fx *f, const char *login, const char *staff,
                             unsigned serial)
{
    char args[256], state[64];
    snprintf(state, sizeof(state), "present=1\nserial=%u\n", serial);
    key_state(f, state);
    snprintf(args, sizeof(args), "add %s %s --method yubikey --program", login, staff);
    int status = run_tool(f, args);
    if (status != 0) {
        char out[PATH_LEN + 32];
        snprintf(out, sizeof(out), "cat '%s/tool.out' >&2", f->dir);
        assert_int_equal(system(out), 0);
    }
    assert_int_equal(status, 0);
}

/* The same with serial 4711001. */
static void enrol_key(const struct fx *f, const char *login, const char *staff)
{
    enrol_key_serial(f, login, staff, 4711001);
}

#define HEX_CHALLENGE 256
static void stored_challenge(const struct fx *f, const char *login, char buf[HEX_CHALLENGE])
{
    size_t len = HEX_CHALLENGE;
    buf[0] = '\0';
    sql_text(f,
             "SELECT hex(hw_challenge) FROM credentials WHERE login = ?1 AND method = 'yubikey'"
             " AND status = 'active'",
             login, buf, len);
    assert_true(strlen(buf) > 100);
}

#define KATE "--staff-id K-0001 --name 'Key Kate'"

/* The fixture's service, and kate enrolled by the tool with a fresh key; her stored
 * challenge into FIRST. */
static void kate_with_key(const struct fx *f, char first[HEX_CHALLENGE])
{
    service_args(f, "");
    enrol_key(f, "kate", KATE);
    stored_challenge(f, "kate", first);
}

static void test_key_login(void **state)
{
    struct fx *f = *state;
    struct result r;
    char first[HEX_CHALLENGE], second[HEX_CHALLENGE];
    kate_with_key(f, first);
    long asked = key_get_long(f, "challenges");

    run_auth(f, "kate", "", &r);
    expect_rc(&r, PAM_SUCCESS);
    assert_string_equal(r.info[0], "Touch your YubiKey.");
    assert_string_equal(r.info[1], "Touch your YubiKey again.");
    assert_string_equal(r.info[2], "This is your first login with mnzone.");
    assert_int_equal(key_get_long(f, "challenges"), asked + 2);
    expect_last_audit(f, "success accepted");
    expect_last_audit_method(f, "yubikey");
    expect_log(&r, "user=kate service=");
    expect_log(&r, "result=success reason=accepted");
    stored_challenge(f, "kate", second);
    assert_string_not_equal(first, second); /* rotated, and committed */

    run_auth(f, "kate", "", &r);
    expect_rc(&r, PAM_SUCCESS);
    assert_true(strncmp(r.info[2], "Last login: ", 12) == 0);
    run_account(f, "kate", &r);
    expect_rc(&r, PAM_SUCCESS);
}

static void test_key_other_serial(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char first[HEX_CHALLENGE], after[HEX_CHALLENGE];
    kate_with_key(f, first);
    key_set(f, "serial", "4711999");
    long asked = key_get_long(f, "challenges");
    take(f, "kate", &before);
    run_auth(f, "kate", "", &r);
    expect_rc(&r, PAM_AUTH_ERR);
    assert_string_equal(r.err[0], "This YubiKey is not yours. Use the key you were given.");
    expect_counted_failure(f, "kate", &before, "another YubiKey");
    expect_log(&r, "result=failure reason=another YubiKey");
    assert_int_equal(key_get_long(f, "challenges"), asked); /* nothing was asked of it */
    stored_challenge(f, "kate", after);
    assert_string_equal(first, after);
}

/* The first recovery code the tool printed in its last run. */
static void tool_recovery_code(const struct fx *f, char code[MZ_CODE_TEXT])
{
    char path[PATH_LEN], line[256];
    path_in(f, "tool.out", path);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    code[0] = '\0';
    while (code[0] == '\0' && fgets(line, sizeof(line), fp) != NULL)
        if (sscanf(line, " 1. %19s", code) != 1)
            code[0] = '\0';
    fclose(fp);
    assert_int_equal(strlen(code), 19);
}

static void test_key_removed(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char code[CODE_LEN], recovery[MZ_CODE_TEXT];
    service_args(f, "");
    enrol_key(f, "kate", KATE);
    tool_recovery_code(f, recovery);
    key_set(f, "present", "0");

    /* kate has a key and recovery codes: she is told, and may type a code */
    take(f, "kate", &before);
    run_auth(f, "kate", "", &r);
    expect_rc(&r, PAM_AUTH_ERR);
    assert_string_equal(
        r.info[0],
        "No YubiKey found. Insert it and log in again, or enter a recovery or emergency code.");
    assert_string_equal(r.err[0], "Insert your YubiKey, then log in again.");
    expect_uncounted_failure(f, "kate", &before, "no YubiKey plugged in");
    expect_last_audit_method(f, "yubikey");
    expect_log(&r, "result=failure reason=no YubiKey plugged in");
    run_auth(f, "kate", recovery, &r);
    expect_rc(&r, PAM_SUCCESS);
    expect_last_audit_method(f, "recovery");

    /* with no code left to type, no prompt at all */
    sql_exec(f, "UPDATE codes SET voided_at = 1 WHERE login = 'kate'");
    take(f, "kate", &before);
    run_auth(f, "kate", "123456", &r);
    expect_rc(&r, PAM_AUTH_ERR);
    assert_string_equal(r.info[0], "");
    assert_string_equal(r.err[0], "Insert your YubiKey, then log in again.");
    expect_uncounted_failure(f, "kate", &before, "no YubiKey plugged in");

    /* alice has TOTP and a key (her own: a key serves one staff member): without the key
     * she is asked for a code, silently */
    enrol_key_serial(f, "alice", "", 4711002);
    key_set(f, "present", "0");
    code_at("alice", fresh_now(), code);
    run_auth(f, "alice", code, &r);
    expect_rc(&r, PAM_SUCCESS);
    assert_string_equal(r.info[0], "This is your first login with mnzone.");
    expect_last_audit_method(f, "totp");
    /* and with the key plugged in, the key is used */
    key_set(f, "present", "1");
    run_auth(f, "alice", "", &r);
    expect_rc(&r, PAM_SUCCESS);
    expect_last_audit_method(f, "yubikey");
}

static void test_key_touch_timeout(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char first[HEX_CHALLENGE], after[HEX_CHALLENGE];
    kate_with_key(f, first);
    key_set(f, "touch", "never");
    take(f, "kate", &before);
    run_auth(f, "kate", "", &r);
    expect_rc(&r, PAM_AUTH_ERR);
    assert_string_equal(r.info[0], "Touch your YubiKey."); /* told before the key blocked */
    assert_string_equal(
        r.err[0], "The YubiKey was not touched in time. Log in again and touch it when asked.");
    expect_uncounted_failure(f, "kate", &before, "YubiKey not touched in time");
    stored_challenge(f, "kate", after);
    assert_string_equal(first, after);

    key_set(f, "touch", "pending:3"); /* touched after a while: fine */
    run_auth(f, "kate", "", &r);
    expect_rc(&r, PAM_SUCCESS);
}

static void test_key_replayed_response(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char used[64];
    service_args(f, "");
    enrol_key(f, "kate", KATE);
    key_get(f, "last_response", used, sizeof(used)); /* to the challenge of the first login */
    run_auth(f, "kate", "", &r);
    expect_rc(&r, PAM_SUCCESS);

    /* a device that answers with that response, already used */
    key_set(f, "last_response", used);
    key_set(f, "replay", "1");
    take(f, "kate", &before);
    run_auth(f, "kate", "", &r);
    expect_rc(&r, PAM_AUTH_ERR);
    assert_string_equal(r.err[0],
                        "The YubiKey gave a wrong answer. Ask your administrator to check it.");
    expect_counted_failure(f, "kate", &before, "wrong YubiKey response");
    expect_secret_kept(f, &r, used);
}

static void test_key_rotation_failure(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    char first[HEX_CHALLENGE], after[HEX_CHALLENGE], fail[32];
    kate_with_key(f, first);
    /* the stored challenge is answered, the next one fails at the USB level */
    snprintf(fail, sizeof(fail), "challenge:%ld", key_get_long(f, "challenges") + 2);
    key_set(f, "fail", fail);
    take(f, "kate", &before);
    run_auth(f, "kate", "", &r);
    expect_rc(&r, PAM_AUTHINFO_UNAVAIL);
    assert_string_equal(r.err[0],
                        "The YubiKey cannot be read. Plug it in again, then log in again.");
    expect_uncounted_failure(f, "kate", &before, "YubiKey error at the next challenge");
    stored_challenge(f, "kate", after);
    assert_string_equal(first, after);

    key_set(f, "fail", "none"); /* nothing was lost: the next login works */
    run_auth(f, "kate", "", &r);
    expect_rc(&r, PAM_SUCCESS);
}

static void test_key_rotation_not_committed(void **state)
{
    struct fx *f = *state;
    struct result r;
    char first[HEX_CHALLENGE], after[HEX_CHALLENGE];
    kate_with_key(f, first);
    sql_exec(f, "CREATE TRIGGER no_rotation BEFORE UPDATE OF hw_challenge ON credentials"
                " BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
    run_auth(f, "kate", "", &r);
    expect_rc(&r, PAM_SYSTEM_ERR);
    assert_string_equal(r.err[0],
                        "Login is not possible now (system error). Contact your administrator.");
    expect_log(&r, "cannot store the next challenge");
    sql_exec(f, "DROP TRIGGER no_rotation");
    stored_challenge(f, "kate", after);
    assert_string_equal(first, after);
    assert_int_equal(sql_int(f,
                             "SELECT count(*) FROM audit WHERE result = 'success' AND"
                             " event = 'auth'",
                             NULL, -1),
                     0);
}

static void test_key_usb_error(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    service_args(f, "");
    enrol_key(f, "kate", KATE);
    key_set(f, "fail", "open");
    take(f, "kate", &before);
    run_auth(f, "kate", "", &r);
    expect_rc(&r, PAM_AUTHINFO_UNAVAIL);
    expect_uncounted_failure(f, "kate", &before, "YubiKey error");
    expect_log(&r, "yubikey: ");
}

static void test_key_revoked(void **state)
{
    struct fx *f = *state;
    struct result r;
    service_args(f, "");
    enrol_key(f, "kate", KATE);
    assert_int_equal(run_tool(f, "revoke kate --reason lost"), 0);
    long asked = key_get_long(f, "challenges");
    run_auth(f, "kate", "", &r);
    expect_refused(&r);
    expect_rc(&r, PAM_USER_UNKNOWN);
    assert_int_equal(key_get_long(f, "challenges"), asked);
    run_account(f, "kate", &r);
    expect_rc(&r, PAM_PERM_DENIED);
}

/* A key login whose conversation FN (with FLAGS) fails or is missing: refused before the
 * key is asked, audited as "conversation failed", not counted, the challenge kept. */
static void expect_key_conv_refused(const struct fx *f, pam_conv_fn fn, int flags)
{
    struct result r;
    struct snap before;
    char first[HEX_CHALLENGE], after[HEX_CHALLENGE];
    kate_with_key(f, first);
    take(f, "kate", &before);
    long asked = key_get_long(f, "challenges");
    run_conv_flags(f, "kate", fn, NULL, flags, &r);
    expect_refused(&r);
    expect_rc(&r, PAM_CONV_ERR);
    expect_uncounted_failure(f, "kate", &before, "conversation failed");
    assert_int_equal(key_get_long(f, "challenges"), asked); /* the key was not asked */
    stored_challenge(f, "kate", after);
    assert_string_equal(first, after);
}

static void test_key_conversation_fails(void **state)
{
    expect_key_conv_refused(*state, conv_error, 0);
}

/* PAM_SILENT asks for no messages, not for no conversation: without a conversation
 * function a key login is refused before the key is asked, as a code login is. */
static void test_key_silent_without_conversation(void **state)
{
    expect_key_conv_refused(*state, NULL, PAM_SILENT);
}

/* The same for a code login, silent: nothing to answer the prompt with. */
static void test_conv_null_silent(void **state)
{
    struct fx *f = *state;
    struct result r;
    struct snap before;
    service_args(f, "");
    take(f, "alice", &before);
    run_conv_flags(f, "alice", NULL, NULL, PAM_SILENT, &r);
    expect_refused(&r);
    expect_rc(&r, PAM_CONV_ERR);
    expect_uncounted_failure(f, "alice", &before, "conversation failed");
}

/* A key login while mnzoned holds the store open leaves the WAL to mnzoned's own
 * checkpoints: a login's truncation would copy the whole WAL (up to a thousand pages)
 * at that login and make mnzoned grow the file again. */
static void test_mnzoned_key_login_leaves_the_wal(void **state)
{
    struct fx *f = *state;
    struct result r;
    char first[HEX_CHALLENGE], wal[PATH_LEN + 4], sql[4 * MZ_LOGIN_WAL_PAGES * 80] = "";
    struct stat before, after;
    need_daemon(f);
    kate_with_key(f, first);
    /* one commit of one changed page each: the WAL past the size at which a login alone
     * truncates it */
    for (int i = 0; i < 2 * MZ_LOGIN_WAL_PAGES; i++) {
        char one[80];
        snprintf(one, sizeof(one), "UPDATE staff SET department = 'd%d' WHERE login = 'kate';", i);
        strcat(sql, one);
    }
    sql_exec(f, sql);
    snprintf(wal, sizeof(wal), "%s-wal", f->store);
    assert_int_equal(stat(wal, &before), 0);
    assert_true(before.st_size > (off_t)MZ_LOGIN_WAL_PAGES * 4096);

    run_auth(f, "kate", "", &r);
    expect_rc(&r, PAM_SUCCESS);
    expect_last_audit_method(f, "yubikey");
    assert_int_equal(stat(wal, &after), 0);
    assert_true(after.st_size >= before.st_size);
}

/* ---- main ---- */

static int group_setup(void **state)
{
    mz_err e = {""};
    (void)state;
    if (mz_crypto_init(&e) != MZ_OK) {
        print_error("%s\n", e.msg);
        return -1;
    }
    return 0;
}

int main(void)
{
    const char *wrapped = getenv("PAM_WRAPPER");
    if (wrapped == NULL || strcmp(wrapped, "1") != 0) {
        printf("1..0 # SKIP PAM_WRAPPER=1 is not set: these tests never use the real "
               "/etc/pam.d\n");
        return 0;
    }
    runtime_dir = getenv("PAM_WRAPPER_RUNTIME_DIR");
    if (runtime_dir == NULL || runtime_dir[0] != '/') {
        printf("Bail out! PAM_WRAPPER_RUNTIME_DIR is not set: is libpam_wrapper.so preloaded?\n");
        return 1;
    }
    module_path = getenv("MZ_MODULE");
    if (module_path == NULL || module_path[0] != '/' || access(module_path, R_OK) != 0) {
        printf("Bail out! MZ_MODULE (%s) is not the built pam_mnzone.so\n",
               module_path != NULL ? module_path : "unset");
        return 1;
    }
    mnzoned_path = getenv("MZ_MNZONED");
    if (mnzoned_path == NULL || mnzoned_path[0] != '/' || access(mnzoned_path, X_OK) != 0) {
        printf("Bail out! MZ_MNZONED (%s) is not the built mnzoned\n",
               mnzoned_path != NULL ? mnzoned_path : "unset");
        return 1;
    }
    through_daemon = getenv("MZ_PAM_DAEMON") != NULL && strcmp(getenv("MZ_PAM_DAEMON"), "1") == 0;
    /* Line-buffered, so that a run by hand shows each result next to its log. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* pam_wrapper prints pam_syslog lines below LOG_WARNING only from level 2 on. */
    setenv("PAM_WRAPPER_DEBUGLEVEL", "2", 1);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_right_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syslog_carries_audit_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_name_cleaned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_login_names_remote_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replayed_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_code_one_step_old_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_code_two_steps_old_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lockout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lockout_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_since_counted_across_lockout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_privileged_group_stricter_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unprivileged_keeps_normal_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unenrolled_denied_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unenrolled_denied_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unenrolled_ignored_in_internet_zone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unenrolled_ignore_refused_in_mynumber, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_account_active, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_ignores_callers_tz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_revoked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoked_cannot_authenticate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_user_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_five_digits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_seven_digits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_letters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_300_characters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_full_width_digits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conv_function_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conv_null_silent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conv_returns_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conv_success_without_responses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conv_success_with_null_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conv_cannot_show_last_login, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_option, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bare_unknown_word, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_config_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_world_writable_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder_on_the_way_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_readable_by_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_debug_never_logs_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_same_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_code_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_code_lower_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_code_with_spaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emergency_code_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_code_after_totp_revoked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_code_after_totp_revoked_account, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_voided_code_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_users_code_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_login, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_other_serial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_touch_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_replayed_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_rotation_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_rotation_not_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_usb_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_revoked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_conversation_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_silent_without_conversation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mnzoned_answers_and_direct_follows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mnzoned_refuses_code_used_directly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mnzoned_not_used_for_other_configuration, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mnzoned_own_config_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mnzoned_hung_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mnzoned_gone_before_the_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mnzoned_must_be_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mnzoned_key_login_leaves_the_wal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
