/* The messages between the PAM module and mnzoned, over a Unix stream socket on one
 * machine: a 4-byte length (host order), then at most MZ_PROTO_MAX bytes of fields
 * "key=value", each ending in NUL. Keys are [a-z_]+, unique; values hold no control
 * characters. One request and one reply per connection.
 *
 * Part of the base library (libc only). Values may include a typed code: messages are
 * wiped with mz_msg_wipe after use. */
#ifndef MZ_PROTO_H
#define MZ_PROTO_H

#include "mz_auth.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MZ_PROTO_VERSION "1"
#define MZ_PROTO_MAX 4096
#define MZ_PROTO_FIELDS 40

struct mz_msg {
    size_t len;      /* bytes used in buf */
    unsigned fields; /* number of fields */
    const char *key[MZ_PROTO_FIELDS];
    const char *value[MZ_PROTO_FIELDS];
    char buf[MZ_PROTO_MAX];
};

void mz_msg_init(struct mz_msg *m);
void mz_msg_wipe(struct mz_msg *m);

/* Appends a field; false when the key or value is not allowed or the message is full. */
bool mz_msg_add(struct mz_msg *m, const char *key, const char *value);
bool mz_msg_add_int(struct mz_msg *m, const char *key, int64_t value);

/* Parses LEN bytes of BUF (a received payload) into M; MZ_ERR_INPUT when malformed. */
int mz_msg_parse(struct mz_msg *m, const char *buf, size_t len, mz_err *e);

/* The value of KEY, or NULL. */
const char *mz_msg_get(const struct mz_msg *m, const char *key);
/* KEY as a whole decimal number in [MIN, MAX]; false when absent or anything else. */
bool mz_msg_get_int(const struct mz_msg *m, const char *key, int64_t min, int64_t max,
                    int64_t *out);

/* Writes M to FD, or reads one message from FD (blocking; the socket's timeouts apply).
 * MZ_ERR_STORE on a broken or silent peer, MZ_ERR_INPUT on a malformed message. */
int mz_msg_send(int fd, const struct mz_msg *m, mz_err *e);
int mz_msg_recv(int fd, struct mz_msg *m, mz_err *e);

/* The configuration a request is made under: mnzoned answers only when it equals its
 * own (same store, key file and policy), so that it never decides under other rules. */
bool mz_proto_put_config(struct mz_msg *m, const struct mz_config *cfg);
bool mz_proto_same_config(const struct mz_msg *m, const struct mz_config *cfg);

/* An attempt's fields. get points A's strings into M. */
bool mz_proto_put_attempt(struct mz_msg *m, const struct mz_attempt *a);
bool mz_proto_get_attempt(const struct mz_msg *m, struct mz_attempt *a);

/* The typed code, as hex of its first MZ_INPUT_MAX + 1 bytes: any longer input is
 * malformed by its length alone, so the verdict is the same. get fills BUF (at least
 * MZ_PROTO_INPUT_CAP bytes) with the NUL-terminated input. */
#define MZ_PROTO_INPUT_CAP (MZ_INPUT_MAX + 2)
bool mz_proto_put_input(struct mz_msg *m, const char *input);
bool mz_proto_get_input(const struct mz_msg *m, char *buf);

#endif
