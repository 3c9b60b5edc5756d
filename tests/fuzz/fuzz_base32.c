/* fuzz_base32: mz_base32_decode (secrets typed by administrators, --secret and the
 * import's secret column) and mz_base32_encode.
 *
 * - The first input byte picks the output capacity (0..80 bytes); the rest, as a
 *   NUL-terminated string, is decoded into a heap buffer of exactly that capacity, so
 *   AddressSanitizer catches any write past CAP. The result must match a reference
 *   decoder written here: same verdict, same bytes; on failure *len is 0 and the
 *   buffer wiped.
 * - The input bytes (up to MZ_SECRET_MAX) are encoded, the text must be ceil(8n/5)
 *   characters of the alphabet, and decoding it gives the bytes back; one byte less of
 *   capacity must fail. */
#include "config.h"

#include "fuzz_common.h"

#include "mz_totp.h"

#define CAP_MAX 80

/* The value of a base32 symbol, -1 for a skipped character, -2 for anything else. */
static int symbol(unsigned char c)
{
    if (c == ' ' || c == '-' || c == '=')
        return -1;
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= '2' && c <= '7')
        return 26 + (c - '2');
    return -2;
}

/* Reference: collect every 5-bit group, emit whole bytes; false on a bad character or
 * more bytes than CAP. */
static bool ref_decode(const char *in, uint8_t *out, size_t cap, size_t *len)
{
    size_t nbits = 0;
    *len = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
        int v = symbol(*p);
        if (v == -2)
            return false;
        if (v == -1)
            continue;
        for (int b = 4; b >= 0; b--, nbits++) {
            size_t byte = nbits / 8;
            if (byte >= cap) {
                /* Only whole bytes count: a partial last byte is dropped. */
                if ((nbits % 8) + (size_t)b + 1 >= 8)
                    return false;
                continue;
            }
            if (nbits % 8 == 0)
                out[byte] = 0;
            if ((v >> b) & 1)
                out[byte] |= (uint8_t)(0x80u >> (nbits % 8));
        }
    }
    *len = nbits / 8;
    return true;
}

static void decode_case(const uint8_t *data, size_t size)
{
    size_t cap = size > 0 ? data[0] % (CAP_MAX + 1) : 0;
    char *in = fuzz_strdup(size > 0 ? data + 1 : data, size > 0 ? size - 1 : 0);
    uint8_t *out = malloc(cap > 0 ? cap : 1);
    uint8_t ref[CAP_MAX];
    size_t len = 12345, rlen = 0;
    if (out == NULL)
        abort();
    memset(out, 0xa5, cap > 0 ? cap : 1);
    bool ok = mz_base32_decode(in, out, cap, &len);
    bool rok = ref_decode(in, ref, cap, &rlen);
    FUZZ_CHECK(ok == rok);
    if (ok) {
        FUZZ_CHECK(len == rlen && len <= cap);
        FUZZ_CHECK(len == 0 || memcmp(out, ref, len) == 0);
    } else {
        FUZZ_CHECK(len == 0);
        for (size_t i = 0; i < cap; i++)
            FUZZ_CHECK(out[i] == 0);
    }
    free(out);
    free(in);
}

static void round_trip(const uint8_t *data, size_t size)
{
    size_t n = size < MZ_SECRET_MAX ? size : MZ_SECRET_MAX;
    size_t chars = (n * 8 + 4) / 5;
    char *text = malloc(MZ_BASE32_LEN(n)); /* exactly what the header says it needs */
    uint8_t *back = malloc(n > 0 ? n : 1);
    size_t len = 0;
    if (text == NULL || back == NULL)
        abort();
    mz_base32_encode(data, n, text);
    FUZZ_CHECK(MZ_BASE32_LEN(n) == chars + 1 && strlen(text) == chars);
    for (size_t i = 0; i < chars; i++)
        FUZZ_CHECK(symbol((unsigned char)text[i]) >= 0 && (text[i] < 'a' || text[i] > 'z'));
    FUZZ_CHECK(mz_base32_decode(text, back, n, &len));
    FUZZ_CHECK(len == n && (n == 0 || memcmp(back, data, n) == 0));
    if (n > 0)
        FUZZ_CHECK(!mz_base32_decode(text, back, n - 1, &len) && len == 0);
    free(back);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_case(data, size);
    round_trip(data, size);
    return 0;
}
