/* Helpers shared by the subcommands: input rules, reading a code from the terminal,
 * JSON output, issuing recovery codes. */
#include "config.h"

#include "enroll.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

bool enroll_valid_text(const char *s, size_t max, bool may_be_empty)
{
    size_t n = strlen(s);
    if ((n == 0 && !may_be_empty) || n > max || !mz_valid_utf8(s))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

bool enroll_valid_staff_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

void enroll_fiscal_year_end(int64_t now, char buf[11])
{
    struct tm tm;
    time_t t = (time_t)now;
    localtime_r(&t, &tm);
    int year = tm.tm_year + 1900 + (tm.tm_mon >= 3 ? 1 : 0);
    snprintf(buf, 11, "%04u-03-31", (unsigned)year % 10000u);
}

int enroll_fill_staff(struct enroll *en, const char *command, const struct staff_fields *f,
                      struct mz_staff *s)
{
    if (f->staff_id == NULL || !enroll_valid_staff_id(f->staff_id))
        return enroll_usage(command, "%s", _("--staff-id: give 1 to 64 letters, digits, - or _"));
    if (f->name == NULL || !enroll_valid_text(f->name, 256, false))
        return enroll_usage(command, "%s",
                            _("--name: give the full name (UTF-8, at most 256 bytes)"));
    if (!enroll_valid_text(f->dept, 256, true))
        return enroll_usage(command, "%s", _("--dept: UTF-8 text of at most 256 bytes"));
    if (strcmp(f->valid_until, "fiscal-year-end") == 0)
        enroll_fiscal_year_end(en->now, s->valid_until);
    else if (f->valid_until[0] != '\0' && !mz_valid_date(f->valid_until))
        return enroll_usage(command, "%s", _("--valid-until: give YYYY-MM-DD or fiscal-year-end"));
    else
        snprintf(s->valid_until, sizeof(s->valid_until), "%s", f->valid_until);
    snprintf(s->login, sizeof(s->login), "%s", f->login);
    snprintf(s->staff_id, sizeof(s->staff_id), "%s", f->staff_id);
    snprintf(s->name, sizeof(s->name), "%s", f->name);
    snprintf(s->dept, sizeof(s->dept), "%s", f->dept);
    s->status = MZ_STAFF_ACTIVE;
    s->created_at = s->updated_at = en->now;
    snprintf(s->created_by, sizeof(s->created_by), "%s", en->actor);
    snprintf(s->updated_by, sizeof(s->updated_by), "%s", en->actor);
    return EXIT_DONE;
}

/* A spreadsheet takes a cell that begins with = + - @, a tab or a CR for a formula. Such
 * text reaches the CSV from outside (the name typed at a login prompt is audited, and
 * reported): it gets a ' in front, as spreadsheets expect. Numbers (-5) stay numbers. */
static bool formula_like(const char *s)
{
    if (s[0] == '\0' || strchr("=+-@\t\r", s[0]) == NULL)
        return false;
    const char *p = s + (s[0] == '-');
    if (*p == '\0')
        return true;
    for (; *p != '\0'; p++)
        if ((*p < '0' || *p > '9') && *p != '.')
            return true;
    return false;
}

int enroll_unknown_option(const char *command, const char *arg)
{
    char shown[64];
    snprintf(shown, sizeof(shown), "%.*s", (int)strcspn(arg, "="), arg);
    return enroll_usage(command, _("unknown or incomplete option %s"), shown);
}

const char *enroll_word(const char *word)
{
    static const char *const words[] = {
        /* staff and credential status, employment */
        N_("active"), N_("suspended"), N_("revoked"), N_("regular"), N_("fiscal-year"),
        N_("contractor"),
        /* methods (mz_method_name) */
        N_("totp"), N_("recovery"), N_("emergency"), N_("yubikey"),
        /* outcomes (mz_outcome_reason) */
        N_("accepted"), N_("wrong code"), N_("code already used"), N_("malformed input"),
        N_("locked out"), N_("not enrolled"), N_("expired"), N_("internal error"),
        N_("another YubiKey"), N_("wrong YubiKey response"), N_("challenge replaced meanwhile")};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcmp(word, words[i]) == 0)
            return _(words[i]);
    return word;
}

void enroll_csv_field(const char *s, bool last)
{
    bool formula = formula_like(s);
    if (formula || strpbrk(s, ",\"\r\n") != NULL) {
        putchar('"');
        if (formula)
            putchar('\'');
        for (const char *p = s; *p != '\0'; p++) {
            if (*p == '"')
                putchar('"');
            putchar(*p);
        }
        putchar('"');
    } else {
        fputs(s, stdout);
    }
    fputs(last ? "\r\n" : ",", stdout);
}

bool enroll_read_hidden(const char *prompt, char *buf, size_t len)
{
    struct termios old, quiet;
    bool restore = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
        fprintf(stderr, "%s", prompt);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    /* read(2) a byte at a time, not stdio: stdin's buffer would keep a copy of the line
     * until exit, where nothing wipes it */
    size_t n = 0;
    bool got = false;
    char c = 0;
    for (;;) {
        ssize_t r = read(STDIN_FILENO, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || c == '\n')
            break;
        got = true;
        if (n + 1 < len)
            buf[n++] = c;
    }
    got = got || c == '\n';
    sodium_memzero(&c, sizeof(c));
    buf[n] = '\0';
    if (restore) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    buf[strcspn(buf, "\r")] = '\0';
    return got;
}

/* json-c hands out its buffers as const, but they live in its writable heap. */
static char *owned_buffer(const char *s)
{
    char *w;
    memcpy(&w, &s, sizeof(w));
    return w;
}

static void wipe_owned(const char *s)
{
    mz_zero_string(owned_buffer(s));
}

/* Zeroes every string value inside J. */
static void wipe_strings(json_object *j)
{
    switch (json_object_get_type(j)) {
    case json_type_string: wipe_owned(json_object_get_string(j)); break;
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(j); i++)
            wipe_strings(json_object_array_get_idx(j, i));
        break;
    case json_type_object: {
        json_object_object_foreach(j, key, value)
        {
            (void)key;
            wipe_strings(value);
        }
        break;
    }
    default: break;
    }
}

/* The string values of a JSON tree, held aside while json-c lays the tree out: json-c
 * grows its output buffer with realloc and frees the old copies unwiped, so the tree it
 * lays out holds placeholders ("TAG" and an index), and the values go to stdout from
 * here. TAG is random: no value can look like one. A value that cannot be held aside
 * (no memory) stays in the tree and is printed by json-c: the output is right either
 * way, and every copy is wiped at the end. */
struct held_strings {
    char tag[24];
    struct held {
        char *text;
        size_t len;
    } * v;
    size_t n, cap;
};

static void hold_string(json_object *j, struct held_strings *h)
{
    const char *s = json_object_get_string(j);
    size_t len = (size_t)json_object_get_string_len(j);
    if (h->n == h->cap) {
        size_t cap = h->cap == 0 ? 16 : 2 * h->cap;
        struct held *grown = realloc(h->v, cap * sizeof(*grown)); /* pointers only */
        if (grown == NULL)
            return;
        h->v = grown;
        h->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return;
    memcpy(copy, s, len);
    copy[len] = '\0';
    char placeholder[48];
    snprintf(placeholder, sizeof(placeholder), "%s%zu", h->tag, h->n);
    char *owned = owned_buffer(s);
    sodium_memzero(owned, len); /* before json-c reuses or frees it */
    if (json_object_set_string(j, placeholder) != 1) {
        memcpy(owned, copy, len); /* unchanged by json-c: the value again */
        mz_free_bytes(copy, len);
        return;
    }
    h->v[h->n].text = copy;
    h->v[h->n].len = len;
    h->n++;
}

static void hold_strings(json_object *j, struct held_strings *h)
{
    switch (json_object_get_type(j)) {
    case json_type_string: hold_string(j, h); break;
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(j); i++)
            hold_strings(json_object_array_get_idx(j, i), h);
        break;
    case json_type_object: {
        json_object_object_foreach(j, key, value)
        {
            (void)key;
            hold_strings(value, h);
        }
        break;
    }
    default: break;
    }
}

/* The LEN bytes at S as the inside of a JSON string. */
static void put_json_chars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
}

void enroll_print_json(json_object *j, bool secret)
{
    const int flags = JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE;
    if (!secret) {
        printf("%s\n", json_object_to_json_string_ext(j, flags));
        fflush(stdout);
        json_object_put(j);
        return;
    }
    struct held_strings h = {.n = 0};
    unsigned char nonce[8];
    if (mz_random(nonce, sizeof(nonce)) != MZ_OK) /* then only the tag's shape keeps it apart */
        memset(nonce, 0, sizeof(nonce));
    snprintf(h.tag, sizeof(h.tag), "mz%02x%02x%02x%02x%02x%02x%02x%02x-", nonce[0], nonce[1],
             nonce[2], nonce[3], nonce[4], nonce[5], nonce[6], nonce[7]);
    hold_strings(j, &h);
    const char *text = json_object_to_json_string_ext(j, flags), *p = text, *q;
    size_t tag_len = strlen(h.tag);
    while ((q = strstr(p, h.tag)) != NULL) {
        fwrite(p, 1, (size_t)(q - p), stdout);
        char *end;
        unsigned long i = strtoul(q + tag_len, &end, 10);
        if (i < h.n)
            put_json_chars(h.v[i].text, h.v[i].len);
        p = end;
    }
    printf("%s\n", p);
    fflush(stdout);
    wipe_owned(text); /* it holds the values that could not be held aside */
    wipe_strings(j);
    for (size_t i = 0; i < h.n; i++)
        mz_free_bytes(h.v[i].text, h.v[i].len);
    free(h.v);
    json_object_put(j);
}

int enroll_issue_recovery_codes(struct enroll *en, const char *login, char (*codes)[MZ_CODE_TEXT],
                                unsigned n, mz_err *e)
{
    int voided;
    int rc = mz_admin_void_codes(en->st, login, "recovery", en->now, &voided, e);
    for (unsigned i = 0; rc == MZ_OK && i < n; i++) {
        char normal[MZ_CODE_SYMBOLS + 1];
        struct mz_code_entry entry;
        memset(&entry, 0, sizeof(entry));
        if (mz_code_generate(codes[i]) != MZ_OK || !mz_code_normalize(codes[i], normal) ||
            mz_code_seal(&en->keys, normal, &entry) != MZ_OK)
            rc = mz_fail(e, MZ_ERR_CRYPTO, "%s", _("getrandom failed"));
        else
            rc = mz_admin_add_code(en->st, login, "recovery", &entry, en->actor, "", en->now, e);
        mz_zero_array(normal);
    }
    return rc;
}

void enroll_print_codes(const char (*codes)[MZ_CODE_TEXT], unsigned n)
{
    if (n == 0)
        return;
    printf("%s\n", _("Recovery codes (each works once; shown only now: hand them over on paper):"));
    for (unsigned i = 0; i < n; i++)
        printf("  %2u. %s\n", i + 1, codes[i]);
}

json_object *enroll_codes_json(const char (*codes)[MZ_CODE_TEXT], unsigned n)
{
    json_object *a = json_object_new_array();
    for (unsigned i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(codes[i]));
    return a;
}

int enroll_commit(struct enroll *en, int rc, mz_err *e)
{
    if (rc == MZ_OK)
        rc = mz_store_commit(en->st, e);
    else
        mz_store_rollback(en->st);
    return rc;
}
