/* freescan.so: a test tool, preloaded into mnzone-enroll by tests/cli/test_cli_wipe.sh.
 * It looks into every heap block as it is freed (by free or realloc, in mnzone's code or
 * in any library: stdio, libcsv, json-c, libpng) for a secret, given in the environment
 * as text (MZ_FREESCAN_TEXT, a base32 secret) and as bytes (MZ_FREESCAN_HEX), and at
 * exit into stdin's stdio buffer, which is never freed. At exit it writes
 * "freed-with-secret N" and "stdin-buffer-with-secret 0|1" to the file MZ_FREESCAN_OUT,
 * and the first freed block's call stack to stderr. A block still holding a secret when it is freed
 * is a copy nobody wiped. Never part of the installed product. */
#define _GNU_SOURCE
#include <execinfo.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void __libc_free(void *p);

static char text[128];
static size_t text_len;
static unsigned char bytes[64];
static size_t bytes_len;
static unsigned long found;
static bool armed;

__attribute__((constructor)) static void arm(void)
{
    const char *t = getenv("MZ_FREESCAN_TEXT");
    const char *h = getenv("MZ_FREESCAN_HEX");
    if (t != NULL && strlen(t) < sizeof(text)) {
        text_len = strlen(t);
        memcpy(text, t, text_len);
    }
    for (size_t i = 0; h != NULL && i < sizeof(bytes) && sscanf(h + 2 * i, "%2hhx", &bytes[i]) == 1;
         i++)
        bytes_len = i + 1;
    armed = text_len >= 8 || bytes_len >= 8; /* a short needle would match by chance */
}

static void scan(void *p)
{
    if (!armed || p == NULL)
        return;
    size_t n = malloc_usable_size(p);
    bool hit = (text_len > 0 && memmem(p, n, text, text_len) != NULL) ||
               (bytes_len > 0 && memmem(p, n, bytes, bytes_len) != NULL);
    if (!hit)
        return;
    if (found++ == 0) {
        static const char head[] = "freescan: a block freed with the secret in it, from:\n";
        void *frames[32];
        write(STDERR_FILENO, head, sizeof(head) - 1);
        backtrace_symbols_fd(frames, backtrace(frames, 32), STDERR_FILENO);
    }
}

void free(void *p)
{
    scan(p);
    __libc_free(p);
}

/* A moved block leaves its old copy behind: always move, and look at the old one. */
void *realloc(void *p, size_t n)
{
    if (p == NULL)
        return __libc_malloc(n);
    if (n == 0) {
        free(p);
        return NULL;
    }
    void *q = __libc_malloc(n);
    if (q == NULL)
        return NULL;
    size_t old = malloc_usable_size(p);
    memcpy(q, p, old < n ? old : n);
    free(p);
    return q;
}

__attribute__((destructor)) static void report(void)
{
    const char *out = getenv("MZ_FREESCAN_OUT");
    if (out == NULL)
        return;
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    /* stdin's stdio buffer is never freed: it is looked into here, at exit */
    unsigned long in_stdin = 0;
    if (armed && stdin != NULL && stdin->_IO_buf_base != NULL) {
        size_t n = (size_t)(stdin->_IO_buf_end - stdin->_IO_buf_base);
        in_stdin = (text_len > 0 && memmem(stdin->_IO_buf_base, n, text, text_len) != NULL) ||
                   (bytes_len > 0 && memmem(stdin->_IO_buf_base, n, bytes, bytes_len) != NULL);
    }
    char line[96];
    int len = snprintf(line, sizeof(line), "freed-with-secret %lu\nstdin-buffer-with-secret %lu\n",
                       found, in_stdin);
    if (len > 0)
        write(fd, line, (size_t)len);
    close(fd);
}
