/* mnzone-enroll check [--pam-dir DIR] [--sshd-config FILE] [--json]: lints what the module
 * relies on. The configuration, the key file, the store and its folder get the owner and
 * mode rules the module itself applies; every PAM stack in DIR that uses pam_mnzone.so is
 * read the way Linux-PAM reads it (libpam/pam_handlers.c, Debian's @include) and walked the
 * way its dispatcher walks it (libpam/pam_dispatch.c: done, die, reset, jumps, substacks),
 * so that a finding names a line PAM would really act on; for the sshd stack, sshd_config
 * is read as sshd reads it (first value wins, Include, Match). Each finding says where,
 * what, why it matters and the fix; any finding gives exit status 1. */
#include "config.h"

#include "enroll.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_PAM_DIR "/etc/pam.d"
#define DEFAULT_SSHD_CONFIG "/etc/ssh/sshd_config"
#define MODULE_NAME "pam_mnzone.so"
/* Larger PAM or sshd files are not read: nothing legitimate is this long. */
#define TEXT_MAX_BYTES (1024 * 1024)
/* Linux-PAM's PAM_SUBSTACK_MAX_LEVEL: deeper includes make the include itself fail. */
#define PAM_MAX_INCLUDE_LEVEL 16
/* OpenSSH's limit on nested Include. */
#define SSHD_MAX_DEPTH 16

/* ---- small helpers: CLI, so running out of memory ends the command (exit 4) */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n != 0 ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "mnzone-enroll: %s\n", _("out of memory"));
        exit(EXIT_SYSTEM);
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fprintf(stderr, "mnzone-enroll: %s\n", _("out of memory"));
        exit(EXIT_SYSTEM);
    }
    return s;
}

/* DIR/NAME, or NAME itself when it is absolute. */
static char *join_path(const char *dir, const char *name)
{
    if (name[0] == '/')
        return xstrdup(name);
    size_t n = strlen(dir);
    return xprintf("%s%s%s", dir, n > 0 && dir[n - 1] == '/' ? "" : "/", name);
}

static char *dir_of(const char *path)
{
    char *copy = xstrdup(path);
    char *dir = xstrdup(dirname(copy));
    free(copy);
    return dir;
}

static bool is_missing(const char *path)
{
    struct stat st;
    return lstat(path, &st) != 0 && errno == ENOENT;
}

static bool is_link(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* The fix for a file the core refused that must not be readable by others. */
static char *secret_fix(const char *path)
{
    if (is_link(path))
        return xprintf(_("replace the link %s with the file it points to"), path);
    return xprintf(_("chown root:root %s && chmod 600 %s"), path, path);
}

/* The fix for a file or folder the core refused that must not be writable by others. */
static char *config_fix(const char *path)
{
    if (is_link(path))
        return xprintf(_("replace the link %s with the file it points to"), path);
    return xprintf(_("chown root %s && chmod go-w %s"), path, path);
}

/* Reads a whole regular file (at most TEXT_MAX_BYTES) as a string, and its status into
 * ST when not NULL; NULL with errno set. O_NONBLOCK: a FIFO where a file should be must
 * not hang the check. */
static char *read_text(const char *path, struct stat *st_out)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    int err = 0;
    if (fstat(fd, &st) != 0)
        err = errno;
    else if (!S_ISREG(st.st_mode))
        err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    else if (st.st_size > TEXT_MAX_BYTES)
        err = EFBIG;
    size_t len = 0, cap = err == 0 ? (size_t)st.st_size + 1 : 0;
    char *buf = err == 0 ? xrealloc(NULL, cap + 1) : NULL;
    while (err == 0) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            err = errno;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len > TEXT_MAX_BYTES)
            err = EFBIG;
        else if (len == cap)
            buf = xrealloc(buf, (cap *= 2) + 1);
    }
    close(fd);
    if (err != 0) {
        free(buf);
        errno = err;
        return NULL;
    }
    buf[len] = '\0';
    if (st_out != NULL)
        *st_out = st;
    return buf;
}

/* ---- findings */

enum severity { SEV_ERROR, SEV_WARNING };

struct finding {
    char *file;
    unsigned line; /* 0: the file as a whole */
    enum severity severity;
    char *problem, *why, *fix;
};

struct pam_file;

struct check {
    struct enroll *en;
    struct mz_config cfg; /* as check_config_file read it */
    const char *pam_dir;
    const char *sshd_config;
    bool sshd_named;
    struct finding *findings;
    size_t n_findings;
    struct pam_file **files; /* every PAM file read, by path */
    size_t n_files;
    unsigned stacks_using; /* services whose stacks use pam_mnzone.so */
    bool sshd_uses;        /* the sshd service asks for the code */
};

/* Records a finding once: the same problem at the same place found through two stacks
 * is one finding. */
static void add(struct check *ck, const char *file, unsigned line, enum severity sev,
                const char *problem, const char *why, const char *fix)
{
    for (size_t i = 0; i < ck->n_findings; i++) {
        const struct finding *f = &ck->findings[i];
        if (f->line == line && strcmp(f->file, file) == 0 && strcmp(f->problem, problem) == 0)
            return;
    }
    ck->findings = xrealloc(ck->findings, (ck->n_findings + 1) * sizeof(*ck->findings));
    struct finding *f = &ck->findings[ck->n_findings++];
    f->file = xstrdup(file);
    f->line = line;
    f->severity = sev;
    f->problem = xstrdup(problem);
    f->why = xstrdup(why);
    f->fix = xstrdup(fix);
}

/* The same, taking (and freeing) a formatted problem and fix. */
static void add_owned(struct check *ck, const char *file, unsigned line, enum severity sev,
                      char *problem, const char *why, char *fix)
{
    add(ck, file, line, sev, problem, why, fix);
    free(problem);
    free(fix);
}

/* The core's messages start with the path; the finding shows the path already. */
static const char *after_path(const char *msg, const char *path)
{
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

/* ---- 1. the configuration, the key file, the store and its folder */

/* A folder on the way to PATH that the module refuses (see mz_check_folders): a finding
 * on that folder, and true. A missing folder is left to the finding on the file. */
static bool check_folders_of(struct check *ck, const char *path, const char *why)
{
    char bad[PATH_MAX];
    mz_err e;
    if (mz_check_folders(path, bad, sizeof(bad), &e) == MZ_OK || bad[0] == '\0' || is_missing(bad))
        return false;
    /* a link on the way is refused for its owner only: its target was walked too */
    char *fix = is_link(bad) ? xprintf(_("chown -h root %s"), bad) : config_fix(bad);
    add_owned(ck, bad, 0, SEV_ERROR, xstrdup(after_path(e.msg, bad)), why, fix);
    return true;
}

/* Loads the configuration as the module does, into CK->cfg. main() has tried already
 * but lets check go on after an error, so that a configuration the module would refuse
 * is a finding here. Returns false when its key_file and store are unknown. */
static bool check_config_file(struct check *ck)
{
    const char *path = ck->en->config_path;
    mz_err e;
    mz_config_defaults(&ck->cfg);
    if (is_missing(path)) {
        add(ck, path, 0, SEV_WARNING, _("not found: the module runs on its built-in defaults"),
            _("the settings in force are written down nowhere"),
            _("create it from the example (see mnzone.conf(5))"));
        return true;
    }
    if (check_folders_of(ck, path,
                         _("the module refuses a configuration in this folder and fails every "
                           "login; whoever can write the folder can replace the policy")))
        return false;
    int rc = mz_config_load_file(&ck->cfg, path, true, &e);
    if (rc == MZ_OK)
        rc = mz_config_validate(&ck->cfg, &e);
    if (rc == MZ_OK)
        return true;
    /* "PATH:LINE: what" for a line of the file, "PATH: what" for the file */
    const char *msg = after_path(e.msg, path);
    unsigned line = 0;
    size_t n = strlen(path);
    if (msg == e.msg && strncmp(e.msg, path, n) == 0 && e.msg[n] == ':' &&
        isdigit((unsigned char)e.msg[n + 1])) {
        char *end = NULL;
        unsigned long v = strtoul(e.msg + n + 1, &end, 10);
        if (end != e.msg + n + 1 && *end == ':' && v > 0 && v <= 1000000) {
            line = (unsigned)v;
            msg = end + 1 + strspn(end + 1, " ");
        }
    }
    if (rc == MZ_ERR_PERM)
        add_owned(ck, path, line, SEV_ERROR, xstrdup(msg),
                  _("the module refuses it and fails every login; whoever can change it sets "
                    "the policy"),
                  config_fix(path));
    else
        add(ck, path, line, SEV_ERROR, msg, _("the module refuses it and fails every login"),
            _("correct it (see mnzone.conf(5))"));
    return false;
}

static void check_key_file(struct check *ck)
{
    const char *path = ck->cfg.key_file;
    const char *why = _("the key decrypts every TOTP secret; the module refuses it as it is, so "
                        "every login fails");
    if (is_missing(path)) {
        add(ck, path, 0, SEV_ERROR, _("not found"),
            _("without the key the module cannot decrypt any TOTP secret, so every login fails"),
            _("run mnzone-enroll init"));
        return;
    }
    if (check_folders_of(ck, path,
                         _("the module refuses a key file in this folder, so every login "
                           "fails; whoever can write the folder can replace the key")))
        return;
    struct mz_keys keys;
    mz_err e;
    int rc = mz_keys_load(path, &keys, &e);
    mz_keys_wipe(&keys);
    if (rc == MZ_OK)
        return;
    char *fix = rc == MZ_ERR_CRYPTO ? xstrdup(_("restore the key file from its backup: a new key "
                                                "cannot decrypt the enrolled secrets"))
                                    : secret_fix(path);
    add_owned(ck, path, 0, SEV_ERROR, xstrdup(after_path(e.msg, path)), why, fix);
}

/* A file next to the store that SQLite writes (journal, shared memory): it holds
 * recent changes, so it is protected like the store. */
static void check_store_companion(struct check *ck, const char *store, const char *suffix)
{
    char *path = xprintf("%s%s", store, suffix);
    mz_err e;
    int fd;
    if (!is_missing(path)) {
        if (mz_open_checked(path, O_RDONLY, MZ_FILE_SECRET, &fd, &e) == MZ_OK)
            close(fd);
        else
            add_owned(ck, path, 0, SEV_ERROR, xstrdup(after_path(e.msg, path)),
                      _("it holds the latest changes to the store: sealed secrets, code hashes "
                        "and audit events"),
                      secret_fix(path));
    }
    free(path);
}

static void check_store(struct check *ck)
{
    const char *path = ck->cfg.store;
    mz_err e;
    int fd;
    bool dir_ok =
        !check_folders_of(ck, path,
                          _("the module refuses a store in this folder, so every login fails; "
                            "whoever can write the folder can replace the store"));
    if (is_missing(path)) {
        add(ck, path, 0, SEV_ERROR, _("not found"),
            _("without the store the module knows no enrolment, so every login fails"),
            _("run mnzone-enroll init"));
        return;
    }
    if (mz_open_checked(path, O_RDONLY, MZ_FILE_SECRET, &fd, &e) != MZ_OK) {
        add_owned(ck, path, 0, SEV_ERROR, xstrdup(after_path(e.msg, path)),
                  _("it holds the enrolments, the lock-outs and the audit log; the module "
                    "refuses it as it is, so every login fails"),
                  secret_fix(path));
        return;
    }
    close(fd);
    /* Before opening the store: closing it may remove a journal the module left. */
    check_store_companion(ck, path, "-wal");
    check_store_companion(ck, path, "-shm");
    if (dir_ok) {
        struct mz_store *st = NULL;
        if (mz_store_open(path, 0, &st, &e) != MZ_OK)
            add_owned(ck, path, 0, SEV_ERROR, xstrdup(after_path(e.msg, path)),
                      _("the module cannot use it, so every login fails"),
                      xprintf(_("check \"store =\" in %s, or create the store with mnzone-enroll "
                                "init"),
                              ck->en->config_path));
        mz_store_close(st);
    }
}

/* ---- 2. PAM files: reading them as Linux-PAM does */

/* The return values Linux-PAM names in "[value=action ...]", in its order (pam_tokens.h). */
#define PAM_NRET 32
enum {
    RET_SUCCESS = 0,
    RET_NEW_AUTHTOK_REQD = 12,
    RET_IGNORE = 25,
    RET_INCOMPLETE = 31,
    RET_DEFAULT = PAM_NRET
};
static const char *const ret_names[PAM_NRET + 1] = {"success",
                                                    "open_err",
                                                    "symbol_err",
                                                    "service_err",
                                                    "system_err",
                                                    "buf_err",
                                                    "perm_denied",
                                                    "auth_err",
                                                    "cred_insufficient",
                                                    "authinfo_unavail",
                                                    "user_unknown",
                                                    "maxtries",
                                                    "new_authtok_reqd",
                                                    "acct_expired",
                                                    "session_err",
                                                    "cred_unavail",
                                                    "cred_expired",
                                                    "cred_err",
                                                    "no_module_data",
                                                    "conv_err",
                                                    "authtok_err",
                                                    "authtok_recover_err",
                                                    "authtok_lock_busy",
                                                    "authtok_disable_aging",
                                                    "try_again",
                                                    "ignore",
                                                    "abort",
                                                    "authtok_expired",
                                                    "module_unknown",
                                                    "bad_item",
                                                    "conv_again",
                                                    "incomplete",
                                                    "default"};

/* Actions as Linux-PAM encodes them: a positive number is a jump over that many modules. */
enum { ACT_IGNORE = 0, ACT_OK = -1, ACT_DONE = -2, ACT_BAD = -3, ACT_DIE = -4, ACT_RESET = -5 };
#define ACT_UNDEF (-6)
static const char *const act_names[] = {"ignore", "ok", "done", "bad", "die", "reset"};

enum pam_type { T_AUTH, T_ACCOUNT, T_SESSION, T_PASSWORD, T_UNKNOWN };
static const char *const type_names[] = {"auth", "account", "session", "password"};

struct pam_line {
    unsigned lineno; /* where the logical line starts */
    char *text;      /* continuations joined, comment removed */
};

struct pam_file {
    char *path;
    int err; /* errno when it could not be read */
    dev_t dev;
    ino_t ino;
    struct pam_line *lines;
    size_t n_lines;
    bool included;     /* named by an include in a file of the folder: a fragment */
    bool check_mode;   /* part of a stack that uses the module */
    unsigned gap_line; /* the first blank or comment line inside a continued line, or 0 */
};

/* Keeps TEXT as the logical line starting at line START, or frees it when it is blank. */
static void keep_line(struct pam_file *pf, unsigned start, char *text)
{
    if (text == NULL || text[strspn(text, " \t\n")] == '\0') {
        free(text);
        return;
    }
    pf->lines = xrealloc(pf->lines, (pf->n_lines + 1) * sizeof(*pf->lines));
    pf->lines[pf->n_lines].lineno = start;
    pf->lines[pf->n_lines].text = text;
    pf->n_lines++;
}

/* Joins continued lines and drops comments the way Debian 12's libpam (1.5.2,
 * _pam_assemble_line) does: a line ending in a backslash goes on (the backslash becomes a
 * blank) unless it holds a '#', everything from the first '#' is a comment, and a blank
 * or comment-only line is skipped, also inside a continued line (libpam 1.6 ends the
 * line there instead: PF->gap_line notes the first such line, a finding). */
static void assemble_lines(struct pam_file *pf, const char *text)
{
    char *buf = NULL;
    size_t len = 0;
    unsigned lineno = 0, start = 0;
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);
        char *chunk = xrealloc(NULL, n + 1);
        memcpy(chunk, p, n);
        chunk[n] = '\0';
        p += n;
        if (buf == NULL)
            start = lineno + 1;
        lineno++;
        const char *first = chunk + strspn(chunk, " \t\n");
        if (buf != NULL && (*first == '\0' || *first == '#')) {
            if (pf->gap_line == 0)
                pf->gap_line = lineno;
            free(chunk);
            continue;
        }

        char *q = chunk + n;
        bool cont = false;
        while (q > chunk && (*--q == ' ' || *q == '\t' || *q == '\n'))
            ;
        if (*q == '\\') {
            *q = ' ';
            q[1] = '\0';
            cont = true;
        }
        bool eol = !cont || strchr(chunk, '#') != NULL;
        char *s = chunk + strspn(chunk, " \t");
        s[strcspn(s, "#")] = '\0';
        size_t sl = strlen(s);
        buf = xrealloc(buf, len + sl + 1);
        memcpy(buf + len, s, sl + 1);
        len += sl;
        free(chunk);
        if (eol) {
            keep_line(pf, start, buf);
            buf = NULL;
            len = 0;
        }
    }
    keep_line(pf, start, buf); /* a last line that ends in a backslash */
}

/* The file at PATH, read once and kept. */
static struct pam_file *pam_file_get(struct check *ck, const char *path)
{
    for (size_t i = 0; i < ck->n_files; i++)
        if (strcmp(ck->files[i]->path, path) == 0)
            return ck->files[i];
    struct pam_file *pf = xrealloc(NULL, sizeof(*pf));
    memset(pf, 0, sizeof(*pf));
    pf->path = xstrdup(path);
    struct stat st;
    char *text = read_text(path, &st);
    if (text == NULL) {
        pf->err = errno != 0 ? errno : EIO;
    } else {
        pf->dev = st.st_dev;
        pf->ino = st.st_ino;
        assemble_lines(pf, text);
        free(text);
    }
    ck->files = xrealloc(ck->files, (ck->n_files + 1) * sizeof(*ck->files));
    ck->files[ck->n_files++] = pf;
    return pf;
}

/* The next token of a line, as _pam_tokenize cuts it: blank-separated, except that
 * "[...]" is one token up to the first ']' ("\]" stands for ']'). */
static char *next_token(char **cursor, bool *bracket)
{
    char *from = *cursor, *end;
    if (bracket != NULL)
        *bracket = false;
    if (from == NULL)
        return NULL;
    from += strspn(from, " \n\t");
    if (*from == '[') {
        if (bracket != NULL)
            *bracket = true;
        char *to;
        for (to = end = ++from; *end != '\0' && *end != ']'; ++to, ++end) {
            if (*end == '\\' && end[1] == ']')
                ++end;
            if (to != end)
                *to = *end;
        }
        if (to != end)
            *to = '\0';
    } else if (*from != '\0') {
        end = from + strcspn(from, " \n\t");
    } else {
        *cursor = NULL;
        return NULL;
    }
    if (*end != '\0')
        *end++ = '\0';
    *cursor = *end != '\0' ? end : NULL;
    return from;
}

static void set_default_action(int *actions, int act)
{
    for (int i = 0; i < PAM_NRET; i++)
        if (actions[i] == ACT_UNDEF)
            actions[i] = act;
}

/* Parses "value=action ..." as _pam_parse_control does; on a syntax error every value
 * becomes bad, as there, and false is returned. */
static bool parse_control(int *actions, const char *tok)
{
    while (*tok != '\0') {
        while (isspace((unsigned char)*tok))
            tok++;
        if (*tok == '\0')
            break;
        int ret;
        size_t len = 0;
        for (ret = 0; ret <= RET_DEFAULT; ret++) {
            len = strlen(ret_names[ret]);
            if (strncmp(ret_names[ret], tok, len) == 0)
                break;
        }
        if (ret > RET_DEFAULT || *(tok += len) == '\0')
            goto bad;
        while (isspace((unsigned char)*tok))
            tok++;
        if (*tok != '=')
            goto bad;
        tok++;
        while (isspace((unsigned char)*tok))
            tok++;
        if (*tok == '\0')
            goto bad;
        int act = 1;
        for (int a = 0; a < (int)(sizeof(act_names) / sizeof(act_names[0])); a++) {
            len = strlen(act_names[a]);
            if (strncmp(act_names[a], tok, len) == 0) {
                act = -a;
                tok += len;
                break;
            }
        }
        if (act > 0) {
            if (!isdigit((unsigned char)*tok))
                goto bad;
            act = 0;
            do {
                if (act > 1000000)
                    goto bad;
                act = act * 10 + (*tok - '0');
            } while (*++tok != '\0' && isdigit((unsigned char)*tok));
            if (act == 0)
                goto bad;
        }
        if (ret != RET_DEFAULT)
            actions[ret] = act;
        else
            set_default_action(actions, act);
    }
    return true;
bad:
    for (int i = 0; i < PAM_NRET; i++)
        actions[i] = ACT_BAD;
    return false;
}

/* Sets ACTIONS for a keyword control (pam_handlers.c); false if CTL is none. */
static bool keyword_control(int *actions, const char *ctl)
{
    int ok, other;
    if (strcasecmp(ctl, "required") == 0)
        ok = ACT_OK, other = ACT_BAD;
    else if (strcasecmp(ctl, "requisite") == 0)
        ok = ACT_OK, other = ACT_DIE;
    else if (strcasecmp(ctl, "optional") == 0)
        ok = ACT_OK, other = ACT_IGNORE;
    else if (strcasecmp(ctl, "sufficient") == 0)
        ok = ACT_DONE, other = ACT_IGNORE;
    else
        return false;
    actions[RET_SUCCESS] = ok;
    actions[RET_NEW_AUTHTOK_REQD] = ok;
    if (other == ACT_BAD || other == ACT_DIE)
        actions[RET_IGNORE] = ACT_IGNORE;
    set_default_action(actions, other);
    return true;
}

static bool is_module(const char *path)
{
    size_t n = strlen(path), m = strlen(MODULE_NAME);
    return strcmp(path, MODULE_NAME) == 0 ||
           (n > m && path[n - m - 1] == '/' && strcmp(path + n - m, MODULE_NAME) == 0);
}

/* One module of a stack as the dispatcher sees it, after includes are followed. */
struct handler {
    const char *file; /* owned by the file cache */
    unsigned line;
    unsigned top_line; /* the line of the service's own file that brought it in */
    int level;         /* substack depth */
    bool header;       /* a substack line: no module of its own */
    bool must_fail;    /* PAM runs it as a module that always fails */
    bool mnzone;
    bool dash;
    char *control; /* as written */
    int actions[PAM_NRET];
    char **args;
    int argc;
    char *problem; /* what PAM cannot read in the line, with why and fix; or NULL */
    const char *why, *fix;
};

struct stack {
    struct handler *h;
    size_t n;
};

struct walk {
    struct check *ck;
    enum pam_type type;
    struct stack *st;
    const struct pam_file *chain[PAM_MAX_INCLUDE_LEVEL + 2]; /* the files being read */
    int depth;
    const struct pam_file **visited;
    size_t n_visited;
};

static struct handler *push_handler(struct walk *w, const struct pam_file *pf, unsigned line,
                                    unsigned top, int level)
{
    struct stack *st = w->st;
    st->h = xrealloc(st->h, (st->n + 1) * sizeof(*st->h));
    struct handler *h = &st->h[st->n++];
    memset(h, 0, sizeof(*h));
    h->file = pf->path;
    h->line = line;
    h->top_line = top;
    h->level = level;
    for (int i = 0; i < PAM_NRET; i++)
        h->actions[i] = ACT_UNDEF;
    return h;
}

static void free_stack(struct stack *st)
{
    for (size_t i = 0; i < st->n; i++) {
        struct handler *h = &st->h[i];
        free(h->control);
        free(h->problem);
        for (int a = 0; a < h->argc; a++)
            free(h->args[a]);
        free(h->args);
    }
    free(st->h);
    st->h = NULL;
    st->n = 0;
}

static void note_visited(struct walk *w, const struct pam_file *pf)
{
    for (size_t i = 0; i < w->n_visited; i++)
        if (w->visited[i] == pf)
            return;
    w->visited = xrealloc(w->visited, (w->n_visited + 1) * sizeof(*w->visited));
    w->visited[w->n_visited++] = pf;
}

static void walk_file(struct walk *w, const struct pam_file *pf, bool typed, int include_level,
                      int level, unsigned top);

/* Follows an include of TARGET; returns NULL, or why PAM fails the include (and the fix
 * into FIX). */
static char *walk_include(struct walk *w, const char *target, bool typed, int include_level,
                          int level, unsigned top, const char **fix)
{
    *fix = _("correct the file name or create the file");
    if (target == NULL)
        return xstrdup(_("include without a file name"));
    char *path = join_path(w->ck->pam_dir, target);
    struct pam_file *pf = pam_file_get(w->ck, path);
    char *problem = NULL;
    if (pf->err != 0) {
        problem = pf->err == ENOENT ? xprintf(_("included file %s not found"), path)
                                    : xprintf(_("%s: cannot read: %s"), path, strerror(pf->err));
    } else {
        for (int i = 0; i < w->depth && problem == NULL; i++)
            if (w->chain[i]->dev == pf->dev && w->chain[i]->ino == pf->ino) {
                problem = xprintf(_("include loop: %s includes itself"), path);
                *fix = _("remove the include that closes the loop");
            }
        if (problem == NULL && include_level >= PAM_MAX_INCLUDE_LEVEL) {
            problem = xprintf(_("includes nested more than %d deep"), PAM_MAX_INCLUDE_LEVEL);
            *fix = _("include the files at fewer levels");
        }
    }
    free(path);
    if (problem != NULL)
        return problem;
    w->chain[w->depth++] = pf;
    walk_file(w, pf, typed, include_level, level, top);
    w->depth--;
    return NULL;
}

/* Adds the handlers of PF's lines of type W->type. TYPED: reached through an include of
 * one type (then lines of an unknown type count as that type, else as auth). */
static void walk_file(struct walk *w, const struct pam_file *pf, bool typed, int include_level,
                      int level, unsigned top)
{
    const char *why_fails = _("PAM fails this include, so every login through this stack fails");
    note_visited(w, pf);
    for (size_t i = 0; i < pf->n_lines; i++) {
        const struct pam_line *pl = &pf->lines[i];
        unsigned here_top = top != 0 ? top : pl->lineno;
        char *copy = xstrdup(pl->text);
        char *cursor = copy;
        bool bracket;
        const char *fix = NULL;
        char *tok = next_token(&cursor, NULL);
        if (strcasecmp(tok, "@include") == 0) { /* Debian: every line of the file, in place */
            char *target = next_token(&cursor, NULL);
            char *problem =
                walk_include(w, target, typed, include_level + 1, level, here_top, &fix);
            if (problem != NULL) {
                struct handler *h = push_handler(w, pf, pl->lineno, here_top, level);
                h->control = xstrdup("@include");
                set_default_action(h->actions, ACT_BAD);
                h->must_fail = true;
                h->problem = problem;
                h->why = why_fails;
                h->fix = fix;
            }
            free(copy);
            continue;
        }
        char *problem = NULL;
        bool must_fail = false;
        bool dash = tok[0] == '-';
        const char *type_word = dash ? tok + 1 : tok;
        enum pam_type type = T_UNKNOWN;
        for (int t = 0; t < 4; t++)
            if (strcasecmp(type_word, type_names[t]) == 0)
                type = (enum pam_type)t;
        if (type == T_UNKNOWN) {
            problem = xprintf(_("unknown type \"%s\""), type_word);
            must_fail = true;
            type = typed ? w->type : T_AUTH;
        }
        if (type != w->type) {
            free(problem);
            free(copy);
            continue;
        }
        int actions[PAM_NRET];
        for (int r = 0; r < PAM_NRET; r++)
            actions[r] = ACT_UNDEF;
        char *ctl = next_token(&cursor, &bracket);
        char *control = NULL;
        bool include = false, substack = false;
        if (ctl == NULL) {
            set_default_action(actions, ACT_BAD);
            must_fail = true;
            if (problem == NULL)
                problem = xstrdup(_("no control given"));
        } else {
            control = bracket ? xprintf("[%s]", ctl) : xstrdup(ctl);
            /* the tokenizer strips the brackets before the keywords are compared, so
             * [sufficient] is sufficient and [include] F an include */
            include = strcasecmp(ctl, "include") == 0;
            substack = strcasecmp(ctl, "substack") == 0;
            if (!include && !substack && !keyword_control(actions, ctl)) {
                if (!parse_control(actions, ctl) && problem == NULL)
                    problem = xprintf(_("cannot read the control \"%s\""), control);
                set_default_action(actions, ACT_BAD);
            }
        }
        char *target = next_token(&cursor, NULL);
        if ((include || substack) && !must_fail) {
            if (substack) {
                struct handler *h = push_handler(w, pf, pl->lineno, here_top, level);
                h->header = true;
                h->control = xstrdup(control);
            }
            problem = walk_include(w, target, true, include_level + 1, level + (substack ? 1 : 0),
                                   here_top, &fix);
            if (problem == NULL) {
                free(control);
                free(copy);
                continue;
            }
            set_default_action(actions, ACT_BAD);
            must_fail = true;
        } else if (target == NULL) {
            must_fail = true;
            if (problem == NULL)
                problem = xstrdup(_("no module given"));
        }
        struct handler *h = push_handler(w, pf, pl->lineno, here_top, level);
        memcpy(h->actions, actions, sizeof(actions));
        h->control = control != NULL ? control : xstrdup("");
        h->dash = dash;
        h->must_fail = must_fail;
        h->problem = problem;
        if (fix != NULL) {
            h->why = why_fails;
            h->fix = fix;
        } else if (problem != NULL && !must_fail) {
            h->why = _("PAM takes every result of this line, success too, as a failure");
        }
        if (!must_fail && is_module(target)) {
            h->mnzone = true;
            char *arg;
            while ((arg = next_token(&cursor, NULL)) != NULL) {
                h->args = xrealloc(h->args, (size_t)(h->argc + 1) * sizeof(*h->args));
                h->args[h->argc++] = xstrdup(arg);
            }
        }
        free(copy);
    }
}

/* ---- 2. PAM stacks: walking them as the dispatcher does */

static bool has_module(const struct stack *st)
{
    for (size_t i = 0; i < st->n; i++)
        if (st->h[i].mnzone)
            return true;
    return false;
}

static const char *why_skip(enum pam_type type)
{
    return type == T_AUTH ? _("a login that passes this line never reaches the second factor")
                          : _("revoked, suspended or expired staff who pass this line are let in");
}

/* The last index a "done" at I skips: everything after it on its substack level. */
static size_t done_region_end(const struct stack *st, size_t i)
{
    size_t e = i;
    while (e + 1 < st->n && st->h[e + 1].level >= st->h[i].level)
        e++;
    return e;
}

/* Where a jump of N from I lands, as _pam_dispatch_aux counts it (a substack is one
 * module, and a jump cannot leave its substack): the last skipped index, or false when
 * the jump runs out of modules (PAM then fails the stack). */
static bool jump_end(const struct stack *st, size_t i, int n, size_t *last)
{
    int level = st->h[i].level;
    size_t p = i;
    while (p + 1 < st->n && st->h[p + 1].level >= level && n > 0) {
        do
            p++;
        while (p + 1 < st->n && st->h[p + 1].level > level);
        n--;
    }
    *last = p;
    return n == 0;
}

/* True when every failure of the module ends the stack at once (die). */
static bool dies_on_failure(const struct handler *h)
{
    for (int r = 0; r < PAM_NRET; r++)
        if (r != RET_SUCCESS && r != RET_NEW_AUTHTOK_REQD && r != RET_IGNORE &&
            r != RET_INCOMPLETE && h->actions[r] != ACT_DIE)
            return false;
    return true;
}

static char *action_text(int act)
{
    return act > 0 ? xprintf("%d", act) : xstrdup(act_names[-act]);
}

/* The module's failures must fail the stack: bad or die (ok and done also keep the
 * failure); ignore, reset or a jump let the stack go on as if it had not run. The values
 * the module returns come first, so that the finding names the likely one. */
static void check_control(struct check *ck, const struct handler *h, enum pam_type type)
{
    /* auth_err, perm_denied, acct_expired, maxtries, user_unknown, authinfo_unavail,
     * system_err, service_err, conv_err, buf_err, module_unknown */
    static const int first[] = {7, 6, 13, 11, 10, 9, 4, 3, 19, 5, 28};
    int order[PAM_NRET], n = 0;
    for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++)
        order[n++] = first[i];
    for (int r = 0; r < PAM_NRET; r++) {
        bool listed =
            r == RET_SUCCESS || r == RET_NEW_AUTHTOK_REQD || r == RET_IGNORE || r == RET_INCOMPLETE;
        for (size_t i = 0; i < sizeof(first) / sizeof(first[0]) && !listed; i++)
            listed = first[i] == r;
        if (!listed)
            order[n++] = r;
    }
    for (int i = 0; i < n; i++) {
        int r = order[i], a = h->actions[r];
        if (a == ACT_IGNORE || a == ACT_RESET || a > 0) {
            char *act = action_text(a);
            add_owned(ck, h->file, h->line, SEV_ERROR,
                      xprintf(_("control \"%s\" lets the login go on when pam_mnzone.so fails "
                                "(%s=%s)"),
                              h->control, ret_names[r], act),
                      type == T_AUTH ? _("a wrong or missing code does not stop the login")
                                     : _("revoked, suspended or expired staff can still log in"),
                      xstrdup(_("use \"required\"")));
            free(act);
            return;
        }
    }
}

/* Module arguments override the configuration (mz_config_from_args): a bad one makes
 * the module fail every login; config= makes it read another file than the one checked. */
static void check_arguments(struct check *ck, const struct handler *h)
{
    struct mz_config cfg = ck->cfg;
    mz_err e;
    const char *why = _("the module refuses its settings, so every login fails");
    for (int i = 0; i < h->argc; i++) {
        const char *arg = h->args[i];
        const char *eq = strchr(arg, '=');
        if (strcmp(arg, "debug") == 0)
            continue;
        if (strncmp(arg, "config=", 7) == 0) {
            const char *path = arg + 7;
            if (path[0] != '/')
                add(ck, h->file, h->line, SEV_WARNING, _("config: expected an absolute path"), why,
                    _("give config= an absolute path"));
            else if (strcmp(path, ck->en->config_path) != 0)
                add_owned(ck, h->file, h->line, SEV_WARNING,
                          xprintf(_("the module reads %s, not %s"), path, ck->en->config_path),
                          _("this check looked at another configuration"),
                          xprintf(_("run mnzone-enroll --config %s check"), path));
            continue;
        }
        if (eq == NULL || eq == arg || (size_t)(eq - arg) >= 64) {
            add_owned(ck, h->file, h->line, SEV_WARNING,
                      xprintf(_("unknown module argument \"%.64s\""), arg), why,
                      xstrdup(_("correct or remove the argument")));
            continue;
        }
        char key[64];
        memcpy(key, arg, (size_t)(eq - arg));
        key[eq - arg] = '\0';
        if (mz_config_set(&cfg, key, eq + 1, &e) != MZ_OK)
            add_owned(ck, h->file, h->line, SEV_WARNING, xprintf(_("module argument: %s"), e.msg),
                      why, xstrdup(_("correct or remove the argument")));
    }
    /* Rules across keys, when the file alone keeps them (else the file is the finding). */
    if (mz_config_validate(&ck->cfg, &e) == MZ_OK && mz_config_validate(&cfg, &e) != MZ_OK)
        add_owned(ck, h->file, h->line, SEV_WARNING, xprintf(_("module argument: %s"), e.msg), why,
                  xstrdup(_("correct or remove the argument")));
}

static void check_stack(struct check *ck, const struct stack *st, enum pam_type type)
{
    size_t first = st->n, last = 0;
    for (size_t i = 0; i < st->n; i++) {
        const struct handler *h = &st->h[i];
        if (h->problem != NULL)
            add(ck, h->file, h->line, SEV_WARNING, h->problem,
                h->why != NULL ? h->why : _("PAM runs this line as a module that always fails"),
                h->fix != NULL ? h->fix : _("correct the line (see pam.conf(5))"));
        if (!h->mnzone)
            continue;
        if (first == st->n)
            first = i;
        last = i;
        if (h->dash)
            add_owned(ck, h->file, h->line, SEV_WARNING,
                      xprintf(_("\"-%s\": PAM logs nothing when pam_mnzone.so cannot be loaded"),
                              type_names[type]),
                      _("a missing or misnamed module then goes unnoticed in the log"),
                      xprintf(_("remove the \"-\" before \"%s\""), type_names[type]));
        check_control(ck, h, type);
        check_arguments(ck, h);
    }
    if (first == st->n)
        return;
    const struct handler *m = &st->h[first];

    /* Before the module: a "done" on success, or a jump on any value, that skips it. */
    for (size_t i = 0; i < first; i++) {
        const struct handler *h = &st->h[i];
        if (h->header || h->must_fail)
            continue;
        if (h->actions[RET_SUCCESS] == ACT_DONE && last <= done_region_end(st, i)) {
            add_owned(ck, h->file, h->line, SEV_ERROR,
                      xprintf(_("\"%s\" ends the %s stack on success before pam_mnzone.so "
                                "(%s:%u)"),
                              h->control, type_names[type], m->file, m->line),
                      why_skip(type),
                      xstrdup(_("make it \"required\", or put pam_mnzone.so before it")));
            continue;
        }
        /* new_authtok_reqd=done (Debian's common-account): an expired password ends the
         * stack there, and login, sshd and the display managers let the user in after
         * the change of password */
        if (h->actions[RET_NEW_AUTHTOK_REQD] == ACT_DONE && last <= done_region_end(st, i)) {
            add_owned(ck, h->file, h->line, SEV_ERROR,
                      xprintf(_("\"%s\" ends the %s stack for an expired password before "
                                "pam_mnzone.so (%s:%u)"),
                              h->control, type_names[type], m->file, m->line),
                      why_skip(type), xstrdup(_("put pam_mnzone.so before it")));
            continue;
        }
        for (int r = 0; r < PAM_NRET; r++) {
            size_t end;
            if (h->actions[r] > 0 && jump_end(st, i, h->actions[r], &end) && last <= end) {
                add_owned(ck, h->file, h->line, SEV_ERROR,
                          xprintf(_("\"%s\" jumps past pam_mnzone.so (%s:%u)"), h->control, m->file,
                                  m->line),
                          why_skip(type),
                          xstrdup(_("lower the jump so that it lands before pam_mnzone.so")));
                break;
            }
        }
    }

    /* After the last module: a reset that forgets its failure. "reset" goes back to the
     * state at the start of its own substack, so it matters when that start comes before
     * the module, and when the module's failure did not end that substack already. */
    for (size_t k = last + 1; k < st->n; k++) {
        const struct handler *h = &st->h[k];
        bool resets = false;
        for (int r = 0; r < PAM_NRET; r++)
            resets = resets || h->actions[r] == ACT_RESET;
        if (!resets || h->header || h->must_fail)
            continue;
        size_t j = k; /* the start of k's substack: the line before it with a lower level */
        while (j > 0 && st->h[j - 1].level >= h->level)
            j--;
        bool cleared = false;
        for (size_t i = j; i < k && !cleared; i++) {
            if (!st->h[i].mnzone)
                continue;
            bool reached = !dies_on_failure(&st->h[i]);
            for (size_t x = i + 1; x <= k && !reached; x++)
                reached = st->h[x].level < st->h[i].level;
            cleared = reached;
        }
        if (cleared)
            add_owned(ck, h->file, h->line, SEV_ERROR,
                      xprintf(_("\"%s\" resets the stack after pam_mnzone.so (%s:%u)"), h->control,
                              st->h[last].file, st->h[last].line),
                      _("a failed code is forgotten and later modules can let the login through"),
                      xstrdup(_("replace reset with bad, or remove the line")));
    }
}

/* Walks one service's stack of TYPE from its own file. */
static void walk_service(struct walk *w, struct pam_file *pf, enum pam_type type, struct stack *st)
{
    w->type = type;
    w->st = st;
    w->depth = 0;
    w->chain[w->depth++] = pf;
    walk_file(w, pf, false, 0, 0, 0);
}

static void check_service(struct check *ck, struct pam_file *pf, const char *name)
{
    struct walk w;
    struct stack auth = {NULL, 0}, account = {NULL, 0};
    memset(&w, 0, sizeof(w));
    w.ck = ck;
    walk_service(&w, pf, T_AUTH, &auth);
    walk_service(&w, pf, T_ACCOUNT, &account);
    bool in_auth = has_module(&auth), in_account = has_module(&account);
    if (in_auth || in_account) {
        ck->stacks_using++;
        for (size_t f = 0; f < ck->n_files; f++)
            for (size_t i = 0; i < w.n_visited; i++)
                if (ck->files[f] == w.visited[i])
                    ck->files[f]->check_mode = true;
        check_stack(ck, &auth, T_AUTH);
        check_stack(ck, &account, T_ACCOUNT);
    }
    if (in_auth && !in_account && !pf->included) {
        unsigned top = 0;
        for (size_t i = 0; i < auth.n && top == 0; i++)
            if (auth.h[i].mnzone)
                top = auth.h[i].top_line;
        /* a warning: the auth phase refuses them too; only logins that skip it rely on
         * the account line */
        add(ck, pf->path, top, SEV_WARNING,
            _("pam_mnzone.so is in the auth stack but not in the account stack"),
            _("a login that skips the auth stack (an SSH public key alone, su from root) is "
              "checked for revocation, suspension and expiry only by the account line"),
            _("add the line: account required pam_mnzone.so"));
    }
    if (in_auth && strcmp(name, "sshd") == 0)
        ck->sshd_uses = true;
    free_stack(&auth);
    free_stack(&account);
    free(w.visited);
}

/* Marks the files that other files of the folder include: fragments such as
 * common-auth, checked as part of the services that include them. */
static void mark_included(struct check *ck, const struct pam_file *pf)
{
    for (size_t i = 0; i < pf->n_lines; i++) {
        char *copy = xstrdup(pf->lines[i].text);
        char *cursor = copy, *target = NULL;
        char *tok = next_token(&cursor, NULL);
        if (strcasecmp(tok, "@include") == 0) {
            target = next_token(&cursor, NULL);
        } else {
            char *ctl = next_token(&cursor, NULL);
            if (ctl != NULL &&
                (strcasecmp(ctl, "include") == 0 || strcasecmp(ctl, "substack") == 0))
                target = next_token(&cursor, NULL);
        }
        if (target != NULL) {
            char *path = join_path(ck->pam_dir, target);
            pam_file_get(ck, path)->included = true;
            free(path);
        }
        free(copy);
    }
}

static int name_visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* The folder and the files of the stacks that use the module: whoever can write them
 * can take the module out. */
static void check_pam_modes(struct check *ck)
{
    mz_err e;
    const char *why = _("whoever can write it can take pam_mnzone.so out of the stack");
    char *probe = join_path(ck->pam_dir, "x");
    check_folders_of(ck, probe, why);
    free(probe);
    for (size_t i = 0; i < ck->n_files; i++) {
        const struct pam_file *pf = ck->files[i];
        if (!pf->check_mode || pf->err != 0)
            continue;
        int fd = open(pf->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
            continue;
        if (mz_check_fd(fd, pf->path, MZ_FILE_CONFIG, &e) != MZ_OK)
            add_owned(ck, pf->path, 0, SEV_ERROR, xstrdup(after_path(e.msg, pf->path)), why,
                      config_fix(pf->path));
        close(fd);
    }
}

/* A continued line that goes on over a blank or comment line, in a file of a stack that
 * uses the module: the PAM versions read it differently. */
static void check_pam_continuations(struct check *ck)
{
    for (size_t i = 0; i < ck->n_files; i++) {
        const struct pam_file *pf = ck->files[i];
        if (pf->check_mode && pf->gap_line != 0)
            add(ck, pf->path, pf->gap_line, SEV_ERROR,
                _("a line continued with a backslash goes on over a blank or comment line"),
                _("Debian 12's PAM joins the next line to it (a module named there becomes an "
                  "argument of the line before), newer PAM versions do not"),
                _("remove the backslash, or the blank or comment line after it"));
    }
}

/* Returns EXIT_DONE, or EXIT_SYSTEM when the folder or one of its files cannot be read. */
static int check_pam(struct check *ck)
{
    struct dirent **names = NULL;
    int n = scandir(ck->pam_dir, &names, name_visible, alphasort);
    if (n < 0) {
        fprintf(stderr, "mnzone-enroll: %s: %s\n", ck->pam_dir, strerror(errno));
        return EXIT_SYSTEM;
    }
    int status = EXIT_DONE;
    struct pam_file **services = xrealloc(NULL, (size_t)n * sizeof(*services));
    size_t n_services = 0;
    for (int i = 0; i < n; i++) {
        char *path = join_path(ck->pam_dir, names[i]->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            struct pam_file *pf = pam_file_get(ck, path);
            if (pf->err != 0) {
                fprintf(stderr, "mnzone-enroll: %s: %s\n", path, strerror(pf->err));
                status = EXIT_SYSTEM;
            }
            services[n_services++] = pf;
        }
        free(path);
    }
    for (size_t i = 0; status == EXIT_DONE && i < n_services; i++)
        mark_included(ck, services[i]);
    for (size_t i = 0; status == EXIT_DONE && i < n_services; i++) {
        const char *slash = strrchr(services[i]->path, '/');
        check_service(ck, services[i], slash != NULL ? slash + 1 : services[i]->path);
    }
    if (status == EXIT_DONE && ck->stacks_using == 0)
        add(ck, ck->pam_dir, 0, SEV_ERROR, _("no PAM stack here uses pam_mnzone.so"),
            _("no login asks for the second factor"),
            _("add pam_mnzone.so to the stacks of the services staff log in with (see "
              "pam_mnzone(8))"));
    if (status == EXIT_DONE)
        check_pam_modes(ck);
    check_pam_continuations(ck);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(services);
    return status;
}

/* ---- sshd_config, for the sshd stack */

enum { S_USEPAM, S_PUBKEY, S_HOSTBASED, S_GSSAPI, S_KBD, S_PASSWORD, S_METHODS, S_COUNT };
static const struct {
    const char *name;
    int key;
} sshd_keywords[] = {
    {"usepam", S_USEPAM},
    {"pubkeyauthentication", S_PUBKEY},
    {"hostbasedauthentication", S_HOSTBASED},
    {"gssapiauthentication", S_GSSAPI},
    {"kbdinteractiveauthentication", S_KBD},
    {"challengeresponseauthentication", S_KBD}, /* the older name of the same option */
    {"passwordauthentication", S_PASSWORD},
    {"authenticationmethods", S_METHODS},
};

/* Login methods that never run the PAM auth stack, with the option that enables them. */
static const struct {
    const char *method;
    int key;
    const char *option;
    bool on_by_default;
} bypass_methods[] = {
    {"publickey", S_PUBKEY, "PubkeyAuthentication", true},
    {"hostbased", S_HOSTBASED, "HostbasedAuthentication", false},
    {"gssapi-with-mic", S_GSSAPI, "GSSAPIAuthentication", false},
};

struct setting {
    char *file; /* NULL: not set */
    unsigned line;
    char *keyword; /* as written */
    char *value;   /* the arguments, joined by blanks */
};

struct sshd_block { /* a Match block */
    char *file;
    unsigned line;
    struct setting s[S_COUNT];
};

struct sshd_conf {
    const char *main_path;
    char *base_dir; /* relative Include paths start here */
    struct setting global[S_COUNT];
    struct sshd_block *blocks;
    size_t n_blocks;
};

static void free_setting(struct setting *s)
{
    free(s->file);
    free(s->keyword);
    free(s->value);
}

static void sshd_set(struct setting *s, const char *file, unsigned line, const char *keyword,
                     char **args, int n)
{
    if (s->file != NULL) /* sshd: the first value obtained is used */
        return;
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(args[i]) + 1;
    s->value = xrealloc(NULL, len);
    s->value[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i > 0)
            strcat(s->value, " ");
        strcat(s->value, args[i]);
    }
    s->file = xstrdup(file);
    s->line = line;
    s->keyword = xstrdup(keyword);
}

/* Splits ARGS at blanks, drops a comment starting a word and the quotes around a word. */
static int sshd_words(char *s, char **words, int max)
{
    int n = 0;
    while (n < max) {
        s += strspn(s, " \t\r\n");
        if (*s == '\0' || *s == '#')
            break;
        if (*s == '"') {
            char *end = strchr(s + 1, '"');
            words[n++] = s + 1;
            if (end == NULL)
                break;
            *end = '\0';
            s = end + 1;
            continue;
        }
        words[n++] = s;
        s += strcspn(s, " \t\r\n");
        if (*s != '\0')
            *s++ = '\0';
    }
    return n;
}

static int sshd_parse(struct sshd_conf *c, const char *path, int depth, long block);

static void sshd_include(struct sshd_conf *c, char **words, int n, int depth, long block)
{
    for (int i = 0; i < n; i++) {
        char *pattern = join_path(c->base_dir, words[i]);
        glob_t g;
        if (glob(pattern, 0, NULL, &g) == 0) {
            for (size_t k = 0; k < g.gl_pathc; k++)
                sshd_parse(c, g.gl_pathv[k], depth + 1, block);
            globfree(&g);
        }
        free(pattern);
    }
}

/* Reads PATH into C; BLOCK is the Match block in force (-1: none). A Match in an included
 * file ends with that file, as in sshd. Returns 0 or an errno value. */
static int sshd_parse(struct sshd_conf *c, const char *path, int depth, long block)
{
    if (depth > SSHD_MAX_DEPTH)
        return ELOOP;
    char *text = read_text(path, NULL);
    if (text == NULL)
        return errno != 0 ? errno : EIO;
    unsigned lineno = 0;
    char *line = text;
    while (line != NULL) {
        char *next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        lineno++;
        char *s = line + strspn(line, " \t\r");
        line = next;
        if (*s == '\0' || *s == '#')
            continue;
        size_t klen = strcspn(s, " \t\r=");
        char *rest = s + klen;
        char sep = *rest;
        *rest = '\0';
        if (sep != '\0')
            rest++;
        rest += strspn(rest, " \t");
        if (sep != '=' && *rest == '=')
            rest += 1 + strspn(rest + 1, " \t");
        char *words[64];
        int n = sshd_words(rest, words, 64);
        if (strcasecmp(s, "Match") == 0) {
            c->blocks = xrealloc(c->blocks, (c->n_blocks + 1) * sizeof(*c->blocks));
            struct sshd_block *b = &c->blocks[c->n_blocks];
            memset(b, 0, sizeof(*b));
            b->file = xstrdup(path);
            b->line = lineno;
            block = (long)c->n_blocks++;
            continue;
        }
        if (strcasecmp(s, "Include") == 0) {
            sshd_include(c, words, n, depth, block);
            continue;
        }
        for (size_t k = 0; k < sizeof(sshd_keywords) / sizeof(sshd_keywords[0]); k++) {
            if (strcasecmp(s, sshd_keywords[k].name) != 0)
                continue;
            struct setting *set = block < 0 ? c->global : c->blocks[block].s;
            sshd_set(&set[sshd_keywords[k].key], path, lineno, s, words, n);
        }
    }
    free(text);
    return 0;
}

/* The settings for a connection that one Match block (or none) applies to. */
struct sshd_view {
    const struct setting *global;
    const struct setting *block; /* NULL: no Match block */
};

static const struct setting *view_get(const struct sshd_view *v, int key)
{
    if (v->block != NULL && v->block[key].file != NULL)
        return &v->block[key];
    return v->global[key].file != NULL ? &v->global[key] : NULL;
}

static bool view_yes(const struct sshd_view *v, int key, bool by_default)
{
    const struct setting *s = view_get(v, key);
    if (s == NULL)
        return by_default;
    char word[16];
    snprintf(word, sizeof(word), "%.*s", (int)strcspn(s->value, " "), s->value);
    if (strcasecmp(word, "yes") == 0)
        return true;
    if (strcasecmp(word, "no") == 0)
        return false;
    return by_default;
}

/* True when every method of the comma-separated LIST can succeed without the PAM auth
 * stack: then that list logs in without a code. */
static bool list_skips_pam(const struct sshd_view *v, const char *list)
{
    char *copy = xstrdup(list), *save = NULL;
    bool skips = true;
    for (char *m = strtok_r(copy, ",", &save); m != NULL && skips; m = strtok_r(NULL, ",", &save)) {
        m[strcspn(m, ":")] = '\0'; /* "keyboard-interactive:pam" */
        bool found = false;
        for (size_t k = 0; k < sizeof(bypass_methods) / sizeof(bypass_methods[0]); k++)
            if (strcmp(m, bypass_methods[k].method) == 0)
                found = view_yes(v, bypass_methods[k].key, bypass_methods[k].on_by_default);
        skips = found;
    }
    free(copy);
    return skips;
}

static void sshd_evaluate(struct check *ck, const struct sshd_conf *c, const struct sshd_view *v)
{
    const char *file = c->main_path;
    const struct setting *usepam = c->global[S_USEPAM].file != NULL ? &c->global[S_USEPAM] : NULL;
    if (!view_yes(&(struct sshd_view){c->global, NULL}, S_USEPAM, false)) {
        add_owned(
            ck, usepam != NULL ? usepam->file : file, usepam != NULL ? usepam->line : 0, SEV_ERROR,
            usepam != NULL
                ? xprintf(_("\"%s %s\": sshd does not use PAM"), usepam->keyword, usepam->value)
                : xstrdup(_("UsePAM is not set (the default is no): sshd does not use "
                            "PAM")),
            _("no PAM stack runs, so no code is asked and revocation is not checked"),
            xstrdup(_("set UsePAM yes")));
        return;
    }
    const char *why_bypass = _("sshd runs the PAM auth stack only for keyboard-interactive and "
                               "password logins, so no verification code is asked");
    const struct setting *methods = view_get(v, S_METHODS);
    if (methods == NULL || strcasecmp(methods->value, "any") == 0) {
        for (size_t k = 0; k < sizeof(bypass_methods) / sizeof(bypass_methods[0]); k++) {
            if (!view_yes(v, bypass_methods[k].key, bypass_methods[k].on_by_default))
                continue;
            const struct setting *s = view_get(v, bypass_methods[k].key);
            const struct setting *at = methods != NULL ? methods : s;
            char *problem;
            if (methods != NULL)
                problem = xprintf(_("\"%s %s\": %s logins skip the PAM auth stack"),
                                  methods->keyword, methods->value, bypass_methods[k].method);
            else if (s != NULL)
                problem = xprintf(_("\"%s %s\": %s logins skip the PAM auth stack"), s->keyword,
                                  s->value, bypass_methods[k].method);
            else
                problem = xprintf(_("%s is not set (the default is yes): %s logins skip the PAM "
                                    "auth stack"),
                                  bypass_methods[k].option, bypass_methods[k].method);
            add_owned(ck, at != NULL ? at->file : file, at != NULL ? at->line : 0, SEV_ERROR,
                      problem, why_bypass,
                      xprintf(_("set AuthenticationMethods %s,keyboard-interactive (or %s no)"),
                              bypass_methods[k].method, bypass_methods[k].option));
        }
    } else {
        char *copy = xstrdup(methods->value), *save = NULL;
        for (char *list = strtok_r(copy, " ", &save); list != NULL;
             list = strtok_r(NULL, " ", &save))
            if (list_skips_pam(v, list))
                add_owned(ck, methods->file, methods->line, SEV_ERROR,
                          xprintf(_("AuthenticationMethods: the list \"%s\" has no "
                                    "keyboard-interactive"),
                                  list),
                          why_bypass, xprintf(_("use \"%s,keyboard-interactive\""), list));
        free(copy);
    }
    const struct setting *kbd = view_get(v, S_KBD);
    if (kbd != NULL && !view_yes(v, S_KBD, true))
        add_owned(ck, kbd->file, kbd->line, SEV_WARNING,
                  xprintf(_("\"%s %s\": sshd cannot ask for the verification code"), kbd->keyword,
                          kbd->value),
                  view_yes(v, S_PASSWORD, true)
                      ? _("password logins run the PAM stack with the password as every answer: "
                          "they always fail and count toward the lock-out")
                      : _("staff have no way to enter the verification code over SSH"),
                  xstrdup(_("set KbdInteractiveAuthentication yes and PasswordAuthentication no")));
}

/* Returns EXIT_DONE, or EXIT_SYSTEM when a named sshd_config cannot be read. */
static int check_sshd(struct check *ck)
{
    struct sshd_conf c;
    memset(&c, 0, sizeof(c));
    c.main_path = ck->sshd_config;
    c.base_dir = dir_of(ck->sshd_config);
    int status = EXIT_DONE;
    int err = sshd_parse(&c, ck->sshd_config, 0, -1);
    if (err != 0) {
        if (ck->sshd_named || err != ENOENT) {
            fprintf(stderr, "mnzone-enroll: %s: %s\n", ck->sshd_config, strerror(err));
            status = EXIT_SYSTEM;
        }
    } else {
        struct sshd_view v = {c.global, NULL};
        sshd_evaluate(ck, &c, &v);
        for (size_t b = 0; b < c.n_blocks; b++) {
            v.block = c.blocks[b].s;
            sshd_evaluate(ck, &c, &v);
        }
    }
    for (int k = 0; k < S_COUNT; k++)
        free_setting(&c.global[k]);
    for (size_t b = 0; b < c.n_blocks; b++) {
        free(c.blocks[b].file);
        for (int k = 0; k < S_COUNT; k++)
            free_setting(&c.blocks[b].s[k]);
    }
    free(c.blocks);
    free(c.base_dir);
    return status;
}

/* ---- output */

static const char *severity_name(enum severity s)
{
    return s == SEV_ERROR ? "error" : "warning";
}

static void print_text(const struct check *ck)
{
    unsigned errors = 0;
    for (size_t i = 0; i < ck->n_findings; i++) {
        const struct finding *f = &ck->findings[i];
        if (f->line != 0)
            printf("%s:%u: %s — %s — %s\n", f->file, f->line, f->problem, f->why, f->fix);
        else
            printf("%s: %s — %s — %s\n", f->file, f->problem, f->why, f->fix);
        errors += f->severity == SEV_ERROR;
    }
    if (ck->n_findings == 0)
        printf(_("No problems found (PAM stacks that use pam_mnzone.so: %u).\n"), ck->stacks_using);
    else
        printf(_("Problems found: %u (errors: %u, warnings: %u).\n"), (unsigned)ck->n_findings,
               errors, (unsigned)ck->n_findings - errors);
}

static void print_json(const struct check *ck)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < ck->n_findings; i++) {
        const struct finding *f = &ck->findings[i];
        json_object *j = json_object_new_object();
        json_object_object_add(j, "file", json_object_new_string(f->file));
        json_object_object_add(j, "line", f->line != 0 ? json_object_new_int64(f->line) : NULL);
        json_object_object_add(j, "severity", json_object_new_string(severity_name(f->severity)));
        json_object_object_add(j, "problem", json_object_new_string(f->problem));
        json_object_object_add(j, "why", json_object_new_string(f->why));
        json_object_object_add(j, "fix", json_object_new_string(f->fix));
        json_object_array_add(a, j);
    }
    enroll_print_json(a, false);
}

static void free_check(struct check *ck)
{
    for (size_t i = 0; i < ck->n_findings; i++) {
        struct finding *f = &ck->findings[i];
        free(f->file);
        free(f->problem);
        free(f->why);
        free(f->fix);
    }
    free(ck->findings);
    for (size_t i = 0; i < ck->n_files; i++) {
        struct pam_file *pf = ck->files[i];
        for (size_t l = 0; l < pf->n_lines; l++)
            free(pf->lines[l].text);
        free(pf->lines);
        free(pf->path);
        free(pf);
    }
    free(ck->files);
}

int cmd_check(struct enroll *en, int argc, char **argv)
{
    static const struct option longopts[] = {{"pam-dir", required_argument, NULL, 'p'},
                                             {"sshd-config", required_argument, NULL, 's'},
                                             {"json", no_argument, NULL, 'j'},
                                             {NULL, 0, NULL, 0}};
    struct check ck;
    bool json = false;
    int c;
    memset(&ck, 0, sizeof(ck));
    ck.en = en;
    ck.pam_dir = DEFAULT_PAM_DIR;
    ck.sshd_config = DEFAULT_SSHD_CONFIG;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'p')
            ck.pam_dir = optarg;
        else if (c == 's')
            ck.sshd_config = optarg, ck.sshd_named = true;
        else if (c == 'j')
            json = true;
        else
            return enroll_unknown_option("check", argv[optind - 1]);
    }
    if (optind != argc)
        return enroll_usage("check", "%s", _("check takes no operands"));
    if (ck.pam_dir[0] == '\0' || ck.sshd_config[0] == '\0')
        return enroll_usage("check", "%s", _("give a path to --pam-dir and --sshd-config"));
    char *pam_dir = xstrdup(ck.pam_dir); /* without trailing slashes, as the core names it */
    for (size_t len = strlen(pam_dir); len > 1 && pam_dir[len - 1] == '/'; len--)
        pam_dir[len - 1] = '\0';
    ck.pam_dir = pam_dir;

    if (check_config_file(&ck)) {
        check_key_file(&ck);
        check_store(&ck);
    }
    int status = check_pam(&ck);
    if (status == EXIT_DONE && ck.sshd_uses)
        status = check_sshd(&ck);
    if (status == EXIT_DONE) {
        if (json)
            print_json(&ck);
        else
            print_text(&ck);
        status = ck.n_findings == 0 ? EXIT_DONE : EXIT_CHECK_FAILED;
    }
    free_check(&ck);
    free(pam_dir);
    return status;
}
