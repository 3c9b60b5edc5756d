/* lockprobe.so (tests only, preloaded into mnzone-enroll by test_cli_import.sh): at the
 * program's first fsync, which is the first QR code written by import --qr-dir, it asks
 * from outside whether the store's write lock is free, and can change the CSV file being
 * imported. It shows that the QR codes are drawn before the import's transaction, and
 * that a file that changes between the two readings is refused.
 *
 *   LOCKPROBE_DB=STORE    runs `sqlite3 STORE 'BEGIN IMMEDIATE; COMMIT'` (no busy wait)
 *   LOCKPROBE_OUT=FILE    and writes "free" or "locked" into FILE
 *   LOCKPROBE_REWRITE=CSV changes the first letter after the second comma of CSV's second
 *                         line (the first row's name, not its login) to 'z', in place
 *
 * Nothing of the product reads these variables; they steer this test tool only. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int fsync(int fd);

static void probe(void)
{
    const char *db = getenv("LOCKPROBE_DB"), *out = getenv("LOCKPROBE_OUT"),
               *rewrite = getenv("LOCKPROBE_REWRITE");
    if (db != NULL && out != NULL) {
        pid_t pid = fork();
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0) {
                dup2(devnull, 1);
                dup2(devnull, 2);
            }
            unsetenv("LD_PRELOAD");
            execlp("sqlite3", "sqlite3", db, "BEGIN IMMEDIATE; COMMIT;", (char *)NULL);
            _exit(127);
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) < 0)
            status = 1 << 8;
        FILE *f = fopen(out, "w");
        if (f != NULL) {
            fputs(WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "free\n" : "locked\n", f);
            fclose(f);
        }
    }
    if (rewrite != NULL) {
        FILE *f = fopen(rewrite, "r+");
        int c, commas = 0;
        while (f != NULL && (c = fgetc(f)) != EOF && c != '\n')
            ;
        while (f != NULL && commas < 2 && (c = fgetc(f)) != EOF && c != '\n')
            commas += c == ',';
        if (f != NULL && fseek(f, 0, SEEK_CUR) == 0)
            fputc('z', f);
        if (f != NULL)
            fclose(f);
    }
}

int fsync(int fd)
{
    static int (*real)(int);
    static int calls;
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (calls++ == 0)
        probe();
    return real != NULL ? real(fd) : -1;
}
