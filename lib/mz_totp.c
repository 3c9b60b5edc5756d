#include "config.h"

#include <sodium.h>

#include "mz_totp.h"

#include <liboath/oath.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool mz_totp_well_formed(const char *input, unsigned digits)
{
    if (input == NULL || strlen(input) != digits)
        return false;
    for (unsigned i = 0; i < digits; i++)
        if (input[i] < '0' || input[i] > '9')
            return false;
    return true;
}

/* liboath's own comparison is strcmp; this one takes the same time whatever matches. */
static int constant_time_compare(void *handle, const char *generated)
{
    const char *typed = handle;
    size_t n = strlen(typed);
    if (strlen(generated) != n)
        return 1;
    return sodium_memcmp(typed, generated, n) == 0 ? 0 : 1;
}

enum mz_totp_result mz_totp_check(const uint8_t *secret, size_t len, const char *code, int64_t now,
                                  unsigned digits, unsigned period, unsigned window,
                                  int64_t last_step, int64_t *step)
{
    if (!mz_totp_well_formed(code, digits))
        return MZ_TOTP_MALFORMED;
    if (oath_init() != OATH_OK)
        return MZ_TOTP_ERROR;
    int pos = 0;
    uint64_t counter = 0;
    char typed[MZ_INPUT_MAX + 1];
    snprintf(typed, sizeof(typed), "%s", code);
    int rc = oath_totp_validate4_callback((const char *)secret, len, (time_t)now, period, 0, digits,
                                          window, &pos, &counter, 0, constant_time_compare, typed);
    oath_done();
    mz_zero_array(typed);
    if (rc == OATH_INVALID_OTP)
        return MZ_TOTP_WRONG;
    if (rc < 0)
        return MZ_TOTP_ERROR;
    if ((int64_t)counter <= last_step)
        return MZ_TOTP_REPLAY;
    *step = (int64_t)counter;
    return MZ_TOTP_OK;
}

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void mz_base32_encode(const uint8_t *data, size_t len, char *out)
{
    unsigned buffer = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        buffer = (buffer << 8) | data[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = b32_alphabet[(buffer >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = b32_alphabet[(buffer << (5 - bits)) & 31];
    out[o] = '\0';
    buffer = 0;
}

bool mz_base32_decode(const char *in, uint8_t *out, size_t cap, size_t *len)
{
    unsigned buffer = 0;
    int bits = 0;
    size_t o = 0;
    bool ok = true;
    for (const char *p = in; *p != '\0'; p++) {
        char c = *p;
        if (c == ' ' || c == '-' || c == '=')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        const char *at =
            (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7') ? strchr(b32_alphabet, c) : NULL;
        if (at == NULL) {
            ok = false;
            break;
        }
        buffer = (buffer << 5) | (unsigned)(at - b32_alphabet);
        bits += 5;
        if (bits >= 8) {
            if (o == cap) {
                ok = false;
                break;
            }
            out[o++] = (uint8_t)(buffer >> (bits - 8));
            bits -= 8;
        }
    }
    buffer = 0;
    *len = ok ? o : 0;
    if (!ok)
        sodium_memzero(out, cap);
    return ok;
}

/* Appends S percent-encoded (RFC 3986 unreserved characters kept) to OUT at *O. */
static void percent_encode(const char *s, char *out, size_t *o)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[(*o)++] = (char)c;
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[c >> 4];
            out[(*o)++] = hex[c & 15];
        }
    }
}

int mz_otpauth_uri(const char *issuer, const char *login, const uint8_t *secret, size_t len,
                   unsigned digits, unsigned period, char **uri)
{
    char b32[MZ_BASE32_LEN(MZ_SECRET_MAX)];
    if (len > MZ_SECRET_MAX)
        return MZ_ERR_INPUT;
    mz_base32_encode(secret, len, b32);
    size_t cap = 3 * (2 * strlen(issuer) + strlen(login)) + strlen(b32) + 128;
    char *out = malloc(cap);
    if (out == NULL) {
        mz_zero_array(b32);
        return MZ_ERR_NOMEM;
    }
    size_t o = 0;
    o += (size_t)snprintf(out, cap, "otpauth://totp/");
    percent_encode(issuer, out, &o);
    out[o++] = ':';
    percent_encode(login, out, &o);
    o += (size_t)snprintf(out + o, cap - o, "?secret=%s&issuer=", b32);
    percent_encode(issuer, out, &o);
    snprintf(out + o, cap - o, "&algorithm=SHA1&digits=%u&period=%u", digits, period);
    mz_zero_array(b32);
    *uri = out;
    return MZ_OK;
}
