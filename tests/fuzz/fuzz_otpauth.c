/* fuzz_otpauth: mz_otpauth_uri, which puts the issuer (from the configuration) and the
 * login into the URI that the QR code carries.
 *
 * Input: 8 bytes of digits and period (any unsigned values, to reach the longest
 * numbers), then issuer NUL login NUL secret (at most MZ_SECRET_MAX bytes). The URI
 * must parse back: "otpauth://totp/" ISSUER ":" LOGIN "?secret=" B32 "&issuer=" ISSUER
 * "&algorithm=SHA1&digits=D&period=P", where ISSUER and LOGIN hold only unreserved
 * characters and %XX and decode to the originals, and B32 decodes to the secret. The
 * buffer is exactly as long as the function chose; AddressSanitizer watches it. */
#include "config.h"

#include "fuzz_common.h"

#include "mz_totp.h"

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the percent-encoded text at *P up to a character that is neither unreserved
 * nor part of %XX, into OUT; advances *P. */
static size_t pct_decode(const char **p, char *out)
{
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)*p;
    for (;;) {
        if (unreserved(*s)) {
            out[o++] = (char)*s++;
        } else if (*s == '%') {
            int hi = hexval(s[1]), lo = hi >= 0 ? hexval(s[2]) : -1;
            FUZZ_CHECK(hi >= 0 && lo >= 0);
            unsigned char c = (unsigned char)(hi * 16 + lo);
            FUZZ_CHECK(!unreserved(c)); /* encoded only when it has to be */
            out[o++] = (char)c;
            s += 3;
        } else {
            break;
        }
    }
    out[o] = '\0';
    *p = (const char *)s;
    return o;
}

static bool skip(const char **p, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

static uint32_t u32(const uint8_t *d)
{
    return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned digits = 6, period = 30;
    if (size >= 8) {
        digits = u32(data);
        period = u32(data + 4);
        data += 8;
        size -= 8;
    }
    char *buf = fuzz_strdup(data, size);
    const char *issuer = buf;
    size_t at = strlen(issuer) + 1;
    const char *login = at <= size ? buf + at : "";
    at += strlen(login) + 1;
    const uint8_t *secret = (const uint8_t *)(at <= size ? buf + at : "");
    size_t slen = at <= size ? size - at : 0;
    if (slen > MZ_SECRET_MAX)
        slen = MZ_SECRET_MAX;

    char *uri = NULL;
    int rc = mz_otpauth_uri(issuer, login, secret, slen, digits, period, &uri);
    FUZZ_CHECK(rc == MZ_OK && uri != NULL);

    size_t ulen = strlen(uri);
    char *dec = malloc(ulen + 1);
    char *b32 = malloc(ulen + 1);
    uint8_t back[MZ_SECRET_MAX];
    size_t blen = 0;
    if (dec == NULL || b32 == NULL)
        abort();
    const char *p = uri;
    FUZZ_CHECK(skip(&p, "otpauth://totp/"));
    pct_decode(&p, dec);
    FUZZ_CHECK(strcmp(dec, issuer) == 0);
    FUZZ_CHECK(skip(&p, ":"));
    pct_decode(&p, dec);
    FUZZ_CHECK(strcmp(dec, login) == 0);
    FUZZ_CHECK(skip(&p, "?secret="));
    size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    FUZZ_CHECK(n == (slen * 8 + 4) / 5);
    memcpy(b32, p, n);
    b32[n] = '\0';
    p += n;
    FUZZ_CHECK(mz_base32_decode(b32, back, sizeof(back), &blen));
    FUZZ_CHECK(blen == slen && (slen == 0 || memcmp(back, secret, slen) == 0));
    FUZZ_CHECK(skip(&p, "&issuer="));
    pct_decode(&p, dec);
    FUZZ_CHECK(strcmp(dec, issuer) == 0);
    char tail[96];
    snprintf(tail, sizeof(tail), "&algorithm=SHA1&digits=%u&period=%u", digits, period);
    FUZZ_CHECK(strcmp(p, tail) == 0);

    free(b32);
    free(dec);
    mz_free_string(uri);
    free(buf);
    return 0;
}
