/* TOTP (RFC 6238, HMAC-SHA1) through liboath, with a constant-time comparison and replay
 * protection by the last accepted time step; base32 and otpauth URIs for enrolment. */
#ifndef MZ_TOTP_H
#define MZ_TOTP_H

#include "mz_util.h"

#include <stdint.h>
#include <time.h>

#define MZ_SECRET_BYTES 20 /* 160 bits, as RFC 4226 recommends */
#define MZ_SECRET_MIN 10   /* 80 bits: the least we import from other tools */
#define MZ_SECRET_MAX 64
#define MZ_INPUT_MAX 64 /* longer input at the prompt is a failed attempt */

enum mz_totp_result {
    MZ_TOTP_OK,
    MZ_TOTP_WRONG,     /* no step in the window gives this code */
    MZ_TOTP_REPLAY,    /* the code is right but its step was already used */
    MZ_TOTP_MALFORMED, /* not DIGITS ASCII digits */
    MZ_TOTP_ERROR,     /* liboath failed */
};

/* True when INPUT is exactly DIGITS ASCII digits. */
bool mz_totp_well_formed(const char *input, unsigned digits);

/* Checks CODE at time NOW within WINDOW steps each side. A code whose step is not later
 * than LAST_STEP is a replay. On MZ_TOTP_OK *STEP is the accepted step. */
enum mz_totp_result mz_totp_check(const uint8_t *secret, size_t len, const char *code, int64_t now,
                                  unsigned digits, unsigned period, unsigned window,
                                  int64_t last_step, int64_t *step);

/* RFC 4648 base32 of DATA without padding into OUT, which holds MZ_BASE32_LEN(LEN) bytes. */
#define MZ_BASE32_LEN(n) (((n)*8 + 4) / 5 + 1)
void mz_base32_encode(const uint8_t *data, size_t len, char *out);
/* Decodes base32 (upper or lower case; spaces, dashes and '=' padding ignored) into OUT
 * (CAP bytes). Returns false on any other character or overflow. */
bool mz_base32_decode(const char *in, uint8_t *out, size_t cap, size_t *len);

/* Builds the otpauth://totp/ URI for an authenticator app into a malloc'd string
 * (*URI; free it with mz_free_string: it holds the secret). */
int mz_otpauth_uri(const char *issuer, const char *login, const uint8_t *secret, size_t len,
                   unsigned digits, unsigned period, char **uri);

#endif
