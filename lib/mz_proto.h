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

/* How long the module waits for mnzoned: the first question is short, so that a stuck
 * daemon sends logins to the direct engine; a later request may wait for the store's
 * busy handler (MZ_BUSY_TIMEOUT_MS, 5 s). mnzoned waits MZ_PROTO_READ_TIMEOUT_MS for a
 * whole request. */
#define MZ_PROTO_FIRST_TIMEOUT_MS 1000
#define MZ_PROTO_REQUEST_TIMEOUT_MS 10000
#define MZ_PROTO_READ_TIMEOUT_MS 1000
/* mnzoned decides an attempt only if its "now" is at most this far from mnzoned's own
 * clock: a request that waited longer in the queue (behind others waiting for a locked
 * store) may belong to a login that has given up (MZ_PROTO_REQUEST_TIMEOUT_MS), and must
 * not be accepted and audited as a success that nobody was told of. With whole seconds
 * (up to 4 s), the busy handler's 5 s and the commit, it is answered within 10 s, before
 * the module stops waiting (mnzoned.c checks the sum). */
#define MZ_PROTO_ATTEMPT_MAX_AGE_S 3

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

/* Writes M to FD (the socket's send timeout applies), or reads one message from FD
 * within TIMEOUT_MS for the whole of it. MZ_ERR_STORE on a broken, silent or too slow
 * peer, MZ_ERR_INPUT on a malformed message. */
int mz_msg_send(int fd, const struct mz_msg *m, mz_err *e);
/* M's wire form (a 32-bit length, then "key=value\0" fields) into FRAME; returns its
 * size. mz_msg_send sends it; tests/tools/mz-ask sends it a byte at a time. */
#define MZ_PROTO_FRAME_MAX (4 + MZ_PROTO_MAX)
size_t mz_msg_frame(const struct mz_msg *m, char frame[MZ_PROTO_FRAME_MAX]);
int mz_msg_recv(int fd, struct mz_msg *m, unsigned timeout_ms, mz_err *e);

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
