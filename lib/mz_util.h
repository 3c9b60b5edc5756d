/* Small helpers shared by every part of mnzone: errors, zeroing, i18n, safe files.
 * Part of the base library: libc only (explicit_bzero zeroes), so that the PAM module,
 * which links only the base, loads no crypto or SQLite library when mnzoned answers. */
#ifndef MZ_UTIL_H
#define MZ_UTIL_H

#include <libintl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#define MZ_TEXTDOMAIN "mnzone"
#define _(s) dgettext(MZ_TEXTDOMAIN, s)
#define N_(s) (s)

/* Result codes of the core. The CLI maps them onto its exit codes. */
enum mz_rc {
    MZ_OK = 0,
    MZ_ERR_INPUT,  /* bad input from the caller or the user */
    MZ_ERR_NOUSER, /* no such staff member or enrolment */
    MZ_ERR_CONFIG, /* configuration file or argument */
    MZ_ERR_PERM,   /* owner, mode or type of a file */
    MZ_ERR_STORE,  /* SQLite or the filesystem under it */
    MZ_ERR_CRYPTO, /* key file, decryption, randomness */
    MZ_ERR_NOMEM,
    MZ_ERR_EXISTS, /* the thing to create exists already */
};

/* An error message for people: says what failed and, where it can, what to do. */
typedef struct {
    char msg[512];
} mz_err;

/* Sets E's message (printf format) and returns RC so callers can `return mz_fail(...)`. */
int mz_fail(mz_err *e, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* True when A is an array, false for a pointer: zeroing through a pointer would
 * only clear sizeof(pointer) bytes, so the macros below refuse it at compile time. */
#define MZ_IS_ARRAY(a) (!__builtin_types_compatible_p(__typeof__(a), __typeof__(&(a)[0])))
#define mz_zero_array(a)                                                                           \
    do {                                                                                           \
        _Static_assert(MZ_IS_ARRAY(a), "mz_zero_array needs an array, not a pointer");             \
        explicit_bzero((a), sizeof(a));                                                            \
    } while (0)
#define mz_zero_object(p) explicit_bzero((p), sizeof(*(p)))

/* Zeroes a NUL-terminated string in place; NULL is allowed. */
void mz_zero_string(char *s);
/* Zeroes then frees a string; NULL is allowed. */
void mz_free_string(char *s);
/* Zeroes LEN bytes at BUF, then frees it; NULL is allowed. For buffers whose string
 * length says nothing of what they hold (cut with NULs, or holding NULs). */
void mz_free_bytes(void *buf, size_t len);

/* Fills BUF with LEN bytes from getrandom(2); returns MZ_OK or MZ_ERR_CRYPTO. */
int mz_random(void *buf, size_t len);

/* For mnzone-enroll and mnzoned, which hold keys and secrets: no core file, and no
 * ptrace by other processes of the same user. Secrets also pass through library buffers
 * that cannot all be wiped (stdio's), and a core file would keep them. Never called by
 * the module: the process it runs in is not its own. */
void mz_keep_out_of_core_dumps(void);

/* Parses a whole decimal number in [MIN, MAX]; returns false on anything else. */
bool mz_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* Login names as Linux allows them: 1..32 bytes, no '/', ':', space or control
 * characters, not starting with '-'. */
bool mz_valid_login(const char *name);

/* True when S is well-formed UTF-8 (no overlong forms, no surrogates). */
bool mz_valid_utf8(const char *s);
/* In well-formed UTF-8 text, the length in bytes of the character starting at P (0 when P
 * is inside a character) when it must not
 * be shown as it is: a C1 control, a line or paragraph separator, a noncharacter
 * U+FFFE/U+FFFF, or a default-ignorable code point of Unicode, which shows as nothing
 * or turns text around (soft hyphen, Hangul fillers, zero-width and direction marks,
 * variation selectors, tags); 0 for any other. */
size_t mz_utf8_hidden_len(const unsigned char *p);

/* How a file must be protected. CONFIG: not writable by group or others.
 * SECRET: neither readable nor writable by group or others. */
enum mz_file_kind { MZ_FILE_CONFIG, MZ_FILE_SECRET };

/* Opens PATH with O_NOFOLLOW|O_CLOEXEC and FLAGS, then checks on the descriptor that it is
 * a regular file owned by root or the effective uid with modes fit for KIND. */
int mz_open_checked(const char *path, int flags, enum mz_file_kind kind, int *fd, mz_err *e);
/* Checks FD (opened from PATH) as mz_open_checked does. */
int mz_check_fd(int fd, const char *path, enum mz_file_kind kind, mz_err *e);
/* Checks every folder on the way to PATH, as written and with its links resolved: each
 * must be owned by root or the effective uid and not writable by group or others (an
 * ancestor with the sticky bit, like /tmp, may be), so nobody else can swap the file
 * under us between a check and an open. On failure BAD (when not NULL) gets the folder
 * at fault, and E's message starts with it. */
int mz_check_folders(const char *path, char *bad, size_t bad_len, mz_err *e);

/* Formats T as UTC ISO 8601 ("2026-04-01T09:00:00Z") into BUF (at least 21 bytes). */
void mz_iso_time(int64_t t, char *buf, size_t len);
/* Formats T as local "YYYY-MM-DD HH:MM" for messages to people. */
void mz_local_time(int64_t t, char *buf, size_t len);
/* Today's local date as "YYYY-MM-DD" at time NOW, in the zone of the process (TZ). For
 * people (reports, the tool's messages); not for decisions. */
void mz_local_date(int64_t now, char *buf, size_t len);
/* The date as "YYYY-MM-DD" at NOW in the system's time zone, /etc/localtime, whatever
 * the process's TZ says: what expiry is decided on, so that no variable of the calling
 * process (su, sudo) moves a staff member's last day, and mnzoned and a login decide
 * alike. A missing, unsafe or unreadable /etc/localtime counts as UTC, as for libc. */
void mz_zone_date(int64_t now, char *buf, size_t len);
/* The UTC offset in seconds at T of the TZif file PATH (RFC 8536), which must be a
 * regular file of root's not writable by group or others; false when it cannot be read
 * or parsed. */
bool mz_tzif_offset(const char *path, int64_t t, int32_t *offset);
/* True when S is a valid calendar date "YYYY-MM-DD". */
bool mz_valid_date(const char *s);
/* Local midnight at the start of the date S ("YYYY-MM-DD") into OUT; false when S is
 * not a date or the time cannot be told. */
bool mz_local_midnight(const char *s, int64_t *out);

#endif
