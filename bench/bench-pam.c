/* bench-pam: times logins through any PAM module that asks for a TOTP code, so that
 * pam_mnzone, pam_oath and pam_google_authenticator are measured by the same driver on
 * the same users and secrets (bench/compare.sh).
 *
 *   bench-pam make USERS DIR
 *       writes the users u000000.. and their secrets (20 bytes, a fixed function of the
 *       index) in the formats each module reads:
 *         DIR/secrets        "user BASE32SECRET" per line (what `run` reads)
 *         DIR/staff.csv      mnzone-enroll import --csv, with the secret column
 *         DIR/users.oath     pam_oath users file ("HOTP/T30 user - HEXSECRET")
 *         DIR/ga/USER        google-authenticator files, TOTP with DISALLOW_REUSE
 *         DIR/ga-reuse/USER  the same without DISALLOW_REUSE (codes can be replayed)
 *
 *   bench-pam run [-p PROCS] [-f FIRST] [-n TOTAL] [-r REPLAYS] [-o FILE]
 *                 CONFDIR SERVICE SECRETS LOGINS
 *       times LOGINS logins, each a full pam_start_confdir(SERVICE, user, CONFDIR) ->
 *       pam_authenticate -> pam_end, of distinct users spread over the whole list
 *       (login k is user (k * 7919) mod USERS, k = FIRST, FIRST + 1, ...). A user logs
 *       in at most once per TOTP step: when the plan (logins 0 to TOTAL - 1; TOTAL is
 *       FIRST + LOGINS unless given, so that a plan can be run in slices) has more
 *       logins than users, round k / USERS uses the steps -1, 0, +1 of the window (or
 *       0, +1 with two rounds), in increasing order for each user. With -p 2 the users
 *       are split between two processes (fork) that start together; the wall time
 *       gives the throughput. -o appends each login's "microseconds PAM-result" to
 *       FILE. Afterwards (untimed) REPLAYS logins, spread over the run, are tried again
 *       with the same code: a module with replay protection refuses them all. Prints
 *       one line of key=value.
 *
 *   bench-pam sink SOCKET LOG
 *       a syslog stand-in for machines without one: receives datagrams on the Unix
 *       socket SOCKET (/dev/log in compare.sh's private mount namespace) and appends
 *       them to LOG, until killed. Without a listener on /dev/log, modules that open
 *       the log with LOG_CONS (google-authenticator) write to /dev/console instead,
 *       which costs about 1 ms per message on a serial console.
 *
 * Build: gcc -O2 bench/bench-pam.c -lpam -loath -o bench-pam */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liboath/oath.h>
#include <limits.h>
#include <security/pam_appl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET_BYTES 20
#define STEP 30
#define SPREAD 7919 /* a prime: k * SPREAD mod USERS visits every user once */

struct user {
    char name[24];
    uint8_t secret[SECRET_BYTES];
};

/* The benchmark's secrets: splitmix64 of the index, not random, the same every run. */
static void secret_of(unsigned long i, uint8_t secret[SECRET_BYTES])
{
    uint64_t x = 0x6d6e7a6f6e65ULL ^ ((uint64_t)i << 20);
    for (int k = 0; k < SECRET_BYTES; k++) {
        x += 0x9e3779b97f4a7c15ULL;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        secret[k] = (uint8_t)((z ^ (z >> 31)) >> 24);
    }
}

static void base32(const uint8_t *in, size_t len, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    unsigned buf = 0, bits = 0;
    for (size_t i = 0; i < len; i++) {
        buf = (buf << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            *out++ = a[(buf >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        *out++ = a[(buf << (5 - bits)) & 31];
    *out = '\0';
}

static int fail(const char *what)
{
    fprintf(stderr, "bench-pam: %s: %s\n", what, strerror(errno));
    return 1;
}

static int write_small(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    if (close(fd) != 0 || n != (ssize_t)len)
        return -1;
    return 0;
}

static int make(unsigned long users, const char *dir)
{
    char path[PATH_MAX + 64], ga[PATH_MAX], ga_reuse[PATH_MAX];
    if (mkdir(dir, 0700) != 0)
        return fail(dir);
    snprintf(ga, sizeof(ga), "%s/ga", dir);
    snprintf(ga_reuse, sizeof(ga_reuse), "%s/ga-reuse", dir);
    if (mkdir(ga, 0700) != 0 || mkdir(ga_reuse, 0700) != 0)
        return fail(ga);
    FILE *files[3];
    const char *names[3] = {"secrets", "staff.csv", "users.oath"};
    umask(077);
    for (int f = 0; f < 3; f++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[f]);
        if ((files[f] = fopen(path, "w")) == NULL)
            return fail(path);
    }
    fputs("user,staff_id,name,department,employment,valid_until,secret\n", files[1]);
    for (unsigned long i = 0; i < users; i++) {
        uint8_t s[SECRET_BYTES];
        char user[24], b32[40], hex[2 * SECRET_BYTES + 1], text[128];
        secret_of(i, s);
        base32(s, sizeof(s), b32);
        for (int k = 0; k < SECRET_BYTES; k++)
            snprintf(hex + 2 * k, 3, "%02x", s[k]);
        snprintf(user, sizeof(user), "u%06lu", i);
        fprintf(files[0], "%s %s\n", user, b32);
        fprintf(files[1], "%s,S%06lu,Staff %lu,Dept %lu,regular,,%s\n", user, i, i, i % 50, b32);
        fprintf(files[2], "HOTP/T30 %s - %s\n", user, hex);
        /* google-authenticator writes its files 0400 itself */
        snprintf(text, sizeof(text), "%s\n\" TOTP_AUTH\n\" DISALLOW_REUSE\n", b32);
        snprintf(path, sizeof(path), "%s/%s", ga, user);
        if (write_small(path, text, 0400) != 0)
            return fail(path);
        snprintf(text, sizeof(text), "%s\n\" TOTP_AUTH\n", b32);
        snprintf(path, sizeof(path), "%s/%s", ga_reuse, user);
        if (write_small(path, text, 0400) != 0)
            return fail(path);
    }
    for (int f = 0; f < 3; f++)
        if (fclose(files[f]) != 0)
            return fail(names[f]);
    sync();
    return 0;
}

static int load(const char *path, struct user **out, unsigned long *count)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return fail(path);
    size_t cap = 1024, n = 0;
    struct user *u = malloc(cap * sizeof(*u));
    char name[64], b32[128];
    while (u != NULL && fscanf(f, "%63s %127s", name, b32) == 2) {
        if (n == cap && (u = realloc(u, (cap *= 2) * sizeof(*u))) == NULL)
            break;
        char *raw = NULL;
        size_t len = 0;
        if (strlen(name) >= sizeof(u[n].name) ||
            oath_base32_decode(b32, strlen(b32), &raw, &len) != OATH_OK || len != SECRET_BYTES) {
            fprintf(stderr, "bench-pam: %s: bad line for %s\n", path, name);
            return 1;
        }
        strcpy(u[n].name, name);
        memcpy(u[n].secret, raw, len);
        free(raw);
        n++;
    }
    fclose(f);
    if (u == NULL || n == 0) {
        fprintf(stderr, "bench-pam: %s: no users\n", path);
        return 1;
    }
    *out = u;
    *count = n;
    return 0;
}

static char code_answer[16];

static int answer(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
    (void)data;
    struct pam_response *r = calloc((size_t)n, sizeof(*r));
    if (r == NULL)
        return PAM_CONV_ERR;
    for (int i = 0; i < n; i++)
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
            r[i].resp = strdup(code_answer);
    *resp = r;
    return PAM_SUCCESS;
}

/* No sleep after a refused code: the replay check would otherwise wait seconds. */
static void no_delay(int status, unsigned delay, void *data)
{
    (void)status, (void)delay, (void)data;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int login(const char *confdir, const char *service, const struct user *u, int64_t step)
{
    oath_totp_generate2((const char *)u->secret, SECRET_BYTES, (time_t)(step * STEP), STEP, 0, 6, 0,
                        code_answer);
    struct pam_conv conv = {answer, NULL};
    pam_handle_t *pamh = NULL;
    int rc = pam_start_confdir(service, u->name, &conv, confdir, &pamh);
    if (rc == PAM_SUCCESS)
        rc = pam_set_item(pamh, PAM_FAIL_DELAY, (const void *)no_delay);
    if (rc == PAM_SUCCESS)
        rc = pam_authenticate(pamh, PAM_SILENT);
    pam_end(pamh, rc);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run(int argc, char **argv)
{
    unsigned long procs = 1, first = 0, total = 0, replays = 0, logins;
    const char *out = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "p:f:n:r:o:")) != -1) {
        if (opt == 'p')
            procs = strtoul(optarg, NULL, 10);
        else if (opt == 'f')
            first = strtoul(optarg, NULL, 10);
        else if (opt == 'n')
            total = strtoul(optarg, NULL, 10);
        else if (opt == 'r')
            replays = strtoul(optarg, NULL, 10);
        else if (opt == 'o')
            out = optarg;
        else
            return 2;
    }
    if (argc - optind != 4 || procs < 1 || procs > 64) {
        fprintf(stderr, "usage: bench-pam run [-p PROCS] [-f FIRST] [-n TOTAL] [-r REPLAYS] "
                        "[-o FILE] CONFDIR SERVICE SECRETS LOGINS\n");
        return 2;
    }
    const char *confdir = argv[optind], *service = argv[optind + 1];
    logins = strtoul(argv[optind + 3], NULL, 10);
    struct user *users = NULL;
    unsigned long n = 0;
    if (load(argv[optind + 2], &users, &n) != 0)
        return 1;
    if (total < first + logins)
        total = first + logins;
    unsigned long plan_rounds = (total + n - 1) / n;
    if (logins == 0 || plan_rounds > 3) {
        fprintf(stderr, "bench-pam: at most 3 logins per user (steps -1, 0, +1)\n");
        return 2;
    }
    /* step offset of login k: round k / n, from -1 with three rounds, from 0 otherwise */
    int64_t base = plan_rounds == 3 ? -1 : 0;
    if (replays > logins)
        replays = logins;
    bool previous_step = base + (int64_t)(first / n) < 0; /* this slice uses step -1 */

    /* Shared with the children: each login's time, step and result. */
    struct slot {
        double us;
        int64_t step;
        int rc;
    } *slots = mmap(NULL, logins * sizeof(*slots), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (slots == MAP_FAILED)
        return fail("mmap");

    /* The first round uses the step before the current one: start with at least 10 s
     * of the current step left, so that no code of that round falls out of the window. */
    if (previous_step) {
        double left = STEP - (wall() - STEP * (double)(int64_t)(wall() / STEP));
        if (left < 10)
            usleep((useconds_t)((left + 0.05) * 1e6));
    }
    oath_init();
    int go[2];
    if (pipe(go) != 0)
        return fail("pipe");
    pid_t pids[64];
    for (unsigned long c = 0; c < procs; c++) {
        pids[c] = fork();
        if (pids[c] < 0)
            return fail("fork"); /* the children started so far see EOF and exit */
        if (pids[c] == 0) {
            char b;
            close(go[1]);
            if (read(go[0], &b, 1) != 1) /* one byte each from the parent: go */
                _exit(1);
            for (unsigned long k = first; k < first + logins; k++) {
                unsigned long slot = k % n;
                if (slot % procs != c) /* each user belongs to one process */
                    continue;
                const struct user *u = &users[(slot * SPREAD) % n];
                int64_t round = (int64_t)(k / n) + base;
                struct slot *s = &slots[k - first];
                s->step = (int64_t)time(NULL) / STEP + round;
                double t = mono();
                s->rc = login(confdir, service, u, s->step);
                s->us = (mono() - t) * 1e6;
            }
            _exit(0);
        }
    }
    close(go[0]);
    char start[64];
    memset(start, 'g', sizeof(start));
    double t0 = mono();
    if (write(go[1], start, procs) != (ssize_t)procs)
        return fail("pipe");
    close(go[1]);
    int bad_child = 0;
    for (unsigned long c = 0; c < procs; c++) {
        int status;
        if (waitpid(pids[c], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            bad_child = 1;
    }
    double elapsed = mono() - t0;

    unsigned long failed = 0;
    double sum = 0, *lat = malloc(logins * sizeof(*lat));
    if (lat == NULL)
        return fail("malloc");
    for (unsigned long i = 0; i < logins; i++) {
        failed += slots[i].rc != PAM_SUCCESS;
        sum += slots[i].us;
        lat[i] = slots[i].us;
    }
    if (out != NULL) {
        FILE *f = fopen(out, "a");
        if (f == NULL)
            return fail(out);
        for (unsigned long i = 0; i < logins; i++)
            fprintf(f, "%.0f %d\n", slots[i].us, slots[i].rc);
        if (fclose(f) != 0)
            return fail(out);
    }
    qsort(lat, logins, sizeof(*lat), cmp_double);

    /* Replays (untimed): the same user and step again, spread over the run. */
    unsigned long replayed = 0;
    for (unsigned long j = 0; j < replays; j++) {
        unsigned long k = first + j * logins / replays;
        const struct user *u = &users[((k % n) * SPREAD) % n];
        if (slots[k - first].rc == PAM_SUCCESS &&
            login(confdir, service, u, slots[k - first].step) == PAM_SUCCESS)
            replayed++;
    }
    oath_done();
    printf("users=%lu logins=%lu procs=%lu failed=%lu us_per_login=%.0f p50_us=%.0f "
           "p99_us=%.0f wall_s=%.4f logins_per_s=%.0f ok_per_s=%.0f replays=%lu "
           "replays_accepted=%lu\n",
           n, logins, procs, failed, sum / (double)logins, lat[logins / 2],
           lat[(logins * 99) / 100 < logins ? (logins * 99) / 100 : logins - 1], elapsed,
           (double)logins / elapsed, (double)(logins - failed) / elapsed, replays, replayed);
    return bad_child || failed != 0 ? 1 : 0;
}

static int sink(const char *path, const char *log)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return fail(path);
    strcpy(sa.sun_path, path);
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (out < 0 || s < 0)
        return fail(log);
    unlink(path);
    if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0666) != 0)
        return fail(path);
    char msg[8193];
    for (;;) {
        ssize_t n = recv(s, msg, sizeof(msg) - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail("recv");
        msg[n++] = '\n';
        if (write(out, msg, (size_t)n) != n)
            return fail(log);
    }
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "sink") == 0)
        return sink(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "make") == 0) {
        char *end;
        unsigned long users = strtoul(argv[2], &end, 10);
        if (*end != '\0' || users == 0 || users > 1000000) {
            fprintf(stderr, "bench-pam: make: USERS must be 1..1000000\n");
            return 2;
        }
        return make(users, argv[3]);
    }
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return run(argc - 1, argv + 1);
    fprintf(stderr, "usage: bench-pam make USERS DIR\n"
                    "       bench-pam sink SOCKET LOG\n"
                    "       bench-pam run [-p PROCS] [-f FIRST] [-n TOTAL] [-r REPLAYS] [-o FILE] "
                    "CONFDIR SERVICE SECRETS LOGINS\n");
    return 2;
}
