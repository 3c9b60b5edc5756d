/* A software YubiKey behind struct mz_hwkey_ops, for the unit tests: HMAC-SHA1
 * challenge-response computed with nettle (not with anything in mnzone), with the
 * HMAC_LT64 stripping of a real key, a serial, programmable slots, touch that comes or
 * times out, and faults on demand. One key per process (test-only state). */
#ifndef SOFT_KEY_H
#define SOFT_KEY_H

#include "mz_hwkey.h"

struct soft_key {
    bool present;
    uint32_t serial;
    bool programmed[3]; /* by slot number 1, 2 */
    uint8_t secret[3][MZ_HW_SECRET_LEN];
    bool touch[3];
    bool never_touched;            /* every challenge of a touch slot times out */
    int fail_challenge;            /* the Nth challenge (1-based) fails at the USB level; 0: none */
    bool replay;                   /* answers every challenge with the last response it gave */
    int challenges;                /* challenges asked so far */
    int touch_prompts;             /* prompts seen (through soft_key_prompt) */
    bool prompt_fails;             /* soft_key_prompt reports that the user was not told */
    bool challenged_before_prompt; /* a touch slot was challenged with no prompt before it */
    uint8_t last_response[MZ_HW_RESPONSE_LEN];
};

/* The one software key; reset it with soft_key_reset. */
extern struct soft_key soft_key;
void soft_key_reset(uint32_t serial);
const struct mz_hwkey_ops *soft_key_ops(void);
/* A prompt that counts, to check the user is told before the key blocks. */
extern const struct mz_hw_prompt soft_key_prompt;

/* HMAC-SHA1 of CHAL (after HMAC_LT64 stripping) under SECRET, as a key computes it. */
void soft_key_hmac(const uint8_t secret[MZ_HW_SECRET_LEN], const uint8_t *chal, size_t len,
                   uint8_t out[MZ_HW_RESPONSE_LEN]);

#endif
