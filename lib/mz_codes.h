/* One-time codes: recovery codes (a set per staff member) and emergency codes
 * (例外措置: one code, valid for some hours). Shown once, stored only as salted keyed
 * hashes, accepted once. */
#ifndef MZ_CODES_H
#define MZ_CODES_H

#include "mz_crypto.h"

#include <stdbool.h>
#include <stdint.h>

#define MZ_CODE_SYMBOLS 16 /* 16 symbols of 5 bits: 80 bits */
#define MZ_CODE_TEXT 20    /* "ABCD-EFGH-JKLM-NPQR" and its NUL */
#define MZ_CODE_SALT 16

/* Makes a code from getrandom in groups of four, from 32 symbols that cannot be
 * confused when read aloud or typed (no 0/O, no 1/I/l). */
int mz_code_generate(char out[MZ_CODE_TEXT]);

/* What the user typed, upper-cased, dashes and spaces dropped: false unless exactly
 * MZ_CODE_SYMBOLS symbols of the alphabet. */
bool mz_code_normalize(const char *input, char out[MZ_CODE_SYMBOLS + 1]);

/* A stored code as the decision sees it. */
struct mz_code_entry {
    int64_t id;
    bool emergency;
    int64_t expires_at; /* emergency codes; 0 = no expiry */
    uint8_t salt[MZ_CODE_SALT];
    uint8_t hash[MZ_HASH_BYTES];
};

/* Salt and hash for a new code (NORMALIZED as mz_code_normalize gives it). */
int mz_code_seal(const struct mz_keys *keys, const char *normalized, struct mz_code_entry *entry);

/* The index of the entry that NORMALIZED matches at NOW, or -1. Every entry is hashed
 * and compared in constant time; an expired emergency code never matches. */
int mz_code_find(const struct mz_keys *keys, const struct mz_code_entry *entries, size_t n,
                 const char *normalized, int64_t now);

#endif
