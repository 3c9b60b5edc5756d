/* mz-ask [--trickle MS] SOCKET KEY=VALUE...: sends one request, with the fields as given,
 * to mnzoned's SOCKET and prints the reply's fields, one "key=value" a line. For the
 * tests of requests the PAM module never makes (a stale attempt, a client that sends its
 * request a byte at a time: --trickle waits MS between bytes). Exit 0 when a reply came,
 * 1 when none did, 2 on bad arguments. Not installed. */
#include "config.h"

#include "mz_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REPLY_TIMEOUT_MS 20000

static int send_slowly(int fd, const struct mz_msg *m, long ms)
{
    char frame[MZ_PROTO_FRAME_MAX];
    size_t size = mz_msg_frame(m, frame);
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000};
    for (size_t i = 0; i < size; i++) {
        if (send(fd, frame + i, 1, MSG_NOSIGNAL) != 1)
            return -1;
        nanosleep(&pause, NULL);
    }
    return 0;
}

int main(int argc, char **argv)
{
    long trickle = -1;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--trickle") == 0) {
        trickle = strtol(argv[2], NULL, 10);
        first = 3;
    }
    if (argc - first < 2) {
        fprintf(stderr, "usage: mz-ask [--trickle MS] SOCKET KEY=VALUE...\n");
        return 2;
    }
    struct mz_msg req, reply;
    mz_msg_init(&req);
    for (int i = first + 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL) {
            fprintf(stderr, "mz-ask: %s: not KEY=VALUE\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        if (!mz_msg_add(&req, argv[i], eq + 1)) {
            fprintf(stderr, "mz-ask: %s: not allowed in a message\n", argv[i]);
            return 2;
        }
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[first]);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("mz-ask: connect");
        return 1;
    }
    mz_err e = {""};
    int rc = trickle >= 0 ? (send_slowly(fd, &req, trickle) == 0 ? MZ_OK : MZ_ERR_STORE)
                          : mz_msg_send(fd, &req, &e);
    if (rc == MZ_OK)
        rc = mz_msg_recv(fd, &reply, REPLY_TIMEOUT_MS, &e);
    close(fd);
    if (rc != MZ_OK) {
        fprintf(stderr, "mz-ask: no reply%s%s\n", e.msg[0] != '\0' ? ": " : "", e.msg);
        return 1;
    }
    for (unsigned i = 0; i < reply.fields; i++)
        printf("%s=%s\n", reply.key[i], reply.value[i]);
    return 0;
}
