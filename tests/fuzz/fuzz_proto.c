/* fuzz_proto: what mnzoned reads from its socket (lib/mz_proto.c): a frame's payload,
 * then the attempt, the typed code and the configuration fields the daemon takes out.
 *
 * Properties: a payload is accepted only if it is fields "key=value\0" with keys of
 * [a-z_] (1..32 bytes), unique, at most MZ_PROTO_FIELDS, values without control
 * characters (checked here independently); an accepted message, sent back through a
 * socket pair, is read again field for field; an accepted attempt has a valid login
 * name and strings that are never NULL; a decoded code is at most MZ_INPUT_MAX + 1
 * bytes and holds no NUL. */
#include "config.h"

#include "fuzz_common.h"

#include "mz_proto.h"

#include <sys/socket.h>

/* The rules, written again without mz_proto's code. */
static bool model_accepts(const uint8_t *d, size_t n)
{
    if (n > MZ_PROTO_MAX || (n > 0 && d[n - 1] != 0))
        return false;
    const char *keys[MZ_PROTO_FIELDS];
    size_t key_len[MZ_PROTO_FIELDS];
    unsigned fields = 0;
    size_t at = 0;
    while (at < n) {
        size_t end = at;
        while (d[end] != 0)
            end++;
        size_t k = at;
        while (k < end && ((d[k] >= 'a' && d[k] <= 'z') || d[k] == '_'))
            k++;
        if (k == at || k - at > 32 || k == end || d[k] != '=')
            return false;
        for (size_t v = k + 1; v < end; v++)
            if (d[v] < 0x20 || d[v] == 0x7f)
                return false;
        if (fields == MZ_PROTO_FIELDS)
            return false;
        for (unsigned i = 0; i < fields; i++)
            if (key_len[i] == k - at && memcmp(keys[i], d + at, k - at) == 0)
                return false;
        keys[fields] = (const char *)d + at;
        key_len[fields] = k - at;
        fields++;
        at = end + 1;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mz_msg m, back;
    mz_err e;
    bool ok = mz_msg_parse(&m, (const char *)data, size, &e) == MZ_OK;
    FUZZ_CHECK(ok == model_accepts(data, size));
    if (!ok)
        return 0;

    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    FUZZ_CHECK(mz_msg_send(sv[0], &m, &e) == MZ_OK);
    FUZZ_CHECK(mz_msg_recv(sv[1], &back, 1000, &e) == MZ_OK);
    close(sv[0]);
    close(sv[1]);
    FUZZ_CHECK(back.fields == m.fields && back.len == m.len);
    for (unsigned i = 0; i < m.fields; i++) {
        const char *v = mz_msg_get(&back, m.key[i]);
        FUZZ_CHECK(v != NULL && strcmp(v, m.value[i]) == 0);
    }

    struct mz_attempt a;
    if (mz_proto_get_attempt(&m, &a)) {
        FUZZ_CHECK(mz_valid_login(a.user));
        FUZZ_CHECK(a.service != NULL && a.host != NULL && a.tty != NULL && a.rhost != NULL);
        FUZZ_CHECK(a.now >= 0);
    }
    char input[MZ_PROTO_INPUT_CAP];
    if (mz_proto_get_input(&m, input)) {
        size_t n = strlen(mz_msg_get(&m, "input"));
        FUZZ_CHECK(strlen(input) == n / 2 && n / 2 <= MZ_INPUT_MAX + 1);
    }
    struct mz_config cfg;
    mz_config_defaults(&cfg);
    (void)mz_proto_same_config(&m, &cfg);
    return 0;
}
