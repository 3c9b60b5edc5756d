/* bench-login DIR STAFF LOGINS MODULE: enrols STAFF staff members in a fresh store under
 * DIR, then times LOGINS logins of distinct users through pam_authenticate with the
 * built module MODULE (pam_start_confdir on DIR, so /etc/pam.d is untouched). Codes come
 * from liboath's generator. Prints one line: staff, logins, microseconds per login.
 *
 * MODULE "core" instead times mz_auth_attempt on one store connection kept open, with
 * the key loaded once: what a login would cost in a resident process (no dlopen, no
 * store open), for the design question of bench/README.md. */
#include "config.h"

#include "mz_auth.h"
#include "mz_store.h"

#include <liboath/oath.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char code_answer[16];

static int answer(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
    struct pam_response *r = calloc((size_t)n, sizeof(*r));
    if (r == NULL)
        return PAM_CONV_ERR;
    for (int i = 0; i < n; i++)
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
            r[i].resp = strdup(code_answer);
    *resp = r;
    return PAM_SUCCESS;
}

/* The benchmark's users' secrets: a fixed function of the index, not random. */
static void secret_of(unsigned long i, uint8_t secret[MZ_SECRET_BYTES])
{
    crypto_generichash(secret, MZ_SECRET_BYTES, (const uint8_t *)&i, sizeof(i), NULL, 0);
}

static int enrol(const char *dir, unsigned long staff)
{
    char path[PATH_MAX];
    mz_err e;
    struct mz_keys keys;
    struct mz_store *st;
    snprintf(path, sizeof(path), "%s/mnzone.key", dir);
    if (mz_key_file_create(path, &e) != MZ_OK || mz_keys_load(path, &keys, &e) != MZ_OK)
        return fprintf(stderr, "key: %s\n", e.msg), 1;
    snprintf(path, sizeof(path), "%s/mnzone.db", dir);
    if (mz_store_open(path, MZ_STORE_CREATE, &st, &e) != MZ_OK || mz_store_begin(st, &e) != MZ_OK)
        return fprintf(stderr, "store: %s\n", e.msg), 1;
    for (unsigned long i = 0; i < staff; i++) {
        struct mz_staff s;
        uint8_t secret[MZ_SECRET_BYTES];
        memset(&s, 0, sizeof(s));
        snprintf(s.login, sizeof(s.login), "u%06lu", i);
        snprintf(s.staff_id, sizeof(s.staff_id), "S%06lu", i);
        snprintf(s.name, sizeof(s.name), "Staff %lu", i);
        snprintf(s.created_by, sizeof(s.created_by), "bench");
        snprintf(s.updated_by, sizeof(s.updated_by), "bench");
        secret_of(i, secret);
        if (mz_store_add_staff(st, &s, &e) != MZ_OK ||
            mz_store_add_totp(st, &keys, s.login, secret, sizeof(secret), -1, 0, "bench", &e) !=
                MZ_OK)
            return fprintf(stderr, "enrol: %s\n", e.msg), 1;
    }
    if (mz_store_commit(st, &e) != MZ_OK)
        return fprintf(stderr, "commit: %s\n", e.msg), 1;
    mz_store_close(st);
    mz_keys_wipe(&keys);
    return 0;
}

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return 1;
    fputs(text, f);
    return fclose(f) != 0;
}

/* A resident process's logins: the store and the key opened once. */
struct core {
    struct mz_config cfg;
    struct mz_store *st;
    struct mz_keys keys;
};

static int core_open(struct core *c, const char *dir)
{
    char path[PATH_MAX];
    mz_err e;
    mz_config_defaults(&c->cfg);
    snprintf(c->cfg.store, sizeof(c->cfg.store), "%s/mnzone.db", dir);
    snprintf(path, sizeof(path), "%s/mnzone.key", dir);
    if (mz_keys_load(path, &c->keys, &e) != MZ_OK ||
        mz_store_open(c->cfg.store, MZ_STORE_LOGIN, &c->st, &e) != MZ_OK)
        return fprintf(stderr, "core: %s\n", e.msg), 1;
    return 0;
}

static bool core_login(struct core *c, const char *user, const char *code)
{
    struct mz_attempt a = {.user = user,
                           .service = "bench",
                           .host = "bench",
                           .tty = "",
                           .rhost = "",
                           .now = (int64_t)time(NULL)};
    struct mz_verdict v;
    struct mz_last_login last;
    mz_err e;
    return mz_auth_attempt(&c->cfg, c->st, &c->keys, &a, code, &v, &last, &e) == MZ_OK &&
           v.outcome == MZ_ACCEPT;
}

static bool pam_login(const char *dir, const char *user)
{
    struct pam_conv conv = {answer, NULL};
    pam_handle_t *pamh = NULL;
    int rc = pam_start_confdir("mnzone-bench", user, &conv, dir, &pamh);
    if (rc == PAM_SUCCESS)
        rc = pam_authenticate(pamh, PAM_SILENT);
    pam_end(pamh, rc);
    return rc == PAM_SUCCESS;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    unsigned long staff, logins;
    if (argc != 5 || !mz_parse_uint(argv[2], 1, 10000000, &staff) ||
        !mz_parse_uint(argv[3], 1, 10000000, &logins)) {
        fprintf(stderr, "usage: bench-login DIR STAFF LOGINS MODULE|core\n");
        return 2;
    }
    const char *dir = argv[1], *module = argv[4];
    char text[PATH_MAX * 2];
    mz_err e;
    if (mz_crypto_init(&e) != MZ_OK || mkdir(dir, 0700) != 0) {
        perror(dir);
        return 1;
    }
    double t0 = seconds();
    if (enrol(dir, staff) != 0)
        return 1;
    double t_enrol = seconds() - t0;
    snprintf(text, sizeof(text),
             "store = %s/mnzone.db\nkey_file = %s/mnzone.key\ntime_sync = off\n", dir, dir);
    write_file(dir, "mnzone.conf", text);
    chmod(dir, 0700);
    snprintf(text, sizeof(text), "auth required %s config=%s/mnzone.conf\n", module, dir);
    write_file(dir, "mnzone-bench", text);

    /* Each user can log in once per TOTP step: spread the logins over distinct users,
     * and use the next steps of the window (-1, 0, +1) when there are more logins. */
    struct core core;
    bool in_core = strcmp(module, "core") == 0;
    if (in_core && core_open(&core, dir) != 0)
        return 1;
    oath_init();
    unsigned long done = 0, failed = 0;
    double spent = 0;
    for (int round = -1; round <= 1 && done < logins; round++) {
        for (unsigned long k = 0; k < staff && done < logins; k++) {
            unsigned long i = (k * 7919) % staff; /* spread over the whole store */
            char user[32];
            uint8_t secret[MZ_SECRET_BYTES];
            snprintf(user, sizeof(user), "u%06lu", i);
            secret_of(i, secret);
            /* The clock is read at each login: a step boundary may pass during the run.
             * Each round's step is later than the last round's, so no code repeats. */
            time_t now = time(NULL);
            oath_totp_generate2((const char *)secret, sizeof(secret), now + round * 30, 30, 0, 6, 0,
                                code_answer);
            double t = seconds();
            bool ok = in_core ? core_login(&core, user, code_answer) : pam_login(dir, user);
            spent += seconds() - t;
            done++;
            failed += !ok;
        }
    }
    oath_done();
    if (in_core) {
        mz_store_close(core.st);
        mz_keys_wipe(&core.keys);
    }
    printf("staff=%lu logins=%lu failed=%lu us_per_login=%.1f enrol_s=%.2f\n", staff, done, failed,
           spent * 1e6 / (double)done, t_enrol);
    return failed == 0 ? 0 : 1;
}
