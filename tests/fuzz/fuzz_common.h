/* Shared by the libFuzzer targets: a check that stays on whatever NDEBUG says, and the
 * fuzzer's entry points. Each target includes this after config.h. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken property is a crash, so that libFuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* DATA as a NUL-terminated string on the heap, of exactly SIZE + 1 bytes, so that
 * AddressSanitizer sees any read past its end. */
static inline char *fuzz_strdup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* A private folder for the targets that must hand a path to the code under test. */
struct fuzz_scratch {
    char dir[PATH_MAX];
    char path[PATH_MAX];
};

static inline struct fuzz_scratch *fuzz_scratch_state(void)
{
    static struct fuzz_scratch s;
    return &s;
}

static inline void fuzz_scratch_cleanup(void)
{
    struct fuzz_scratch *s = fuzz_scratch_state();
    if (s->path[0] != '\0')
        unlink(s->path);
    if (s->dir[0] != '\0')
        rmdir(s->dir);
}

/* Makes TARGET's folder under $TMPDIR (or /tmp) and returns the path of FILE in it; the
 * file and the folder are removed at exit. */
static inline const char *fuzz_scratch_file(const char *target, const char *file)
{
    struct fuzz_scratch *s = fuzz_scratch_state();
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof(s->dir), "%s/%s.XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp",
             target);
    if (mkdtemp(s->dir) == NULL) {
        perror(target);
        abort();
    }
    snprintf(s->path, sizeof(s->path), "%s/%s", s->dir, file);
    atexit(fuzz_scratch_cleanup);
    return s->path;
}

#endif
