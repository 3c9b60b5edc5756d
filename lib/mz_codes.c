#include "config.h"

#include "mz_codes.h"

#include <string.h>

static const char alphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

int mz_code_generate(char out[MZ_CODE_TEXT])
{
    uint8_t raw[MZ_CODE_SYMBOLS];
    if (mz_random(raw, sizeof(raw)) != MZ_OK)
        return MZ_ERR_CRYPTO;
    size_t o = 0;
    for (int i = 0; i < MZ_CODE_SYMBOLS; i++) {
        if (i > 0 && i % 4 == 0)
            out[o++] = '-';
        out[o++] = alphabet[raw[i] & 31]; /* 256 is a multiple of 32: no bias */
    }
    out[o] = '\0';
    mz_zero_array(raw);
    return MZ_OK;
}

bool mz_code_normalize(const char *input, char out[MZ_CODE_SYMBOLS + 1])
{
    size_t o = 0;
    for (const char *p = input; *p != '\0'; p++) {
        char c = *p;
        if (c == '-' || c == ' ')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (o == MZ_CODE_SYMBOLS || c == '\0' || strchr(alphabet, c) == NULL) {
            sodium_memzero(out, MZ_CODE_SYMBOLS + 1);
            return false;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    if (o != MZ_CODE_SYMBOLS) { /* a TOTP code, or a one-time code with symbols missing */
        sodium_memzero(out, MZ_CODE_SYMBOLS + 1);
        return false;
    }
    return true;
}

int mz_code_seal(const struct mz_keys *keys, const char *normalized, struct mz_code_entry *entry)
{
    if (mz_random(entry->salt, sizeof(entry->salt)) != MZ_OK)
        return MZ_ERR_CRYPTO;
    mz_code_hash(keys, entry->salt, sizeof(entry->salt), normalized, strlen(normalized),
                 entry->hash);
    return MZ_OK;
}

int mz_code_find(const struct mz_keys *keys, const struct mz_code_entry *entries, size_t n,
                 const char *normalized, int64_t now)
{
    int found = -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t h[MZ_HASH_BYTES];
        mz_code_hash(keys, entries[i].salt, sizeof(entries[i].salt), normalized, strlen(normalized),
                     h);
        bool expired = entries[i].expires_at != 0 && now >= entries[i].expires_at;
        if (sodium_memcmp(h, entries[i].hash, sizeof(h)) == 0 && !expired && found < 0)
            found = (int)i;
    }
    return found;
}
