/* The hardware key (YubiKey HMAC-SHA1 challenge-response) as the core sees it. Hardware
 * access sits behind an ops struct: the module and the tool use libykpers
 * (mz_ykpers_ops), unit tests a software key. The host never keeps the key's HMAC
 * secret: it keeps one challenge and a keyed hash of the response the key gave to it. */
#ifndef MZ_HWKEY_H
#define MZ_HWKEY_H

#include "mz_crypto.h"

#include <stdbool.h>
#include <stdint.h>

/* A fixed length below 64: with HMAC_LT64 the key strips the trailing bytes of a short
 * challenge that equal its last byte, so every challenge is 63 bytes ending in a byte
 * that is not the padding (0). */
#define MZ_HW_CHALLENGE_LEN 63
#define MZ_HW_RESPONSE_LEN 20 /* HMAC-SHA1 */
#define MZ_HW_SECRET_LEN 20   /* the HMAC key written into a slot */

/* What the ops return. */
enum mz_hw_rc {
    MZ_HW_OK = 0,
    MZ_HW_NO_KEY,  /* no key is plugged in */
    MZ_HW_TIMEOUT, /* the key waited for a touch that did not come */
    MZ_HW_ERROR,   /* USB or protocol error, no access to the device, library missing */
};

struct mz_hw_device; /* one opened key; only the ops know what is inside */

struct mz_hwkey_ops {
    /* Opens the first key found: MZ_HW_NO_KEY when there is none. */
    int (*open)(struct mz_hw_device **dev, mz_err *e);
    int (*serial)(struct mz_hw_device *dev, uint32_t *serial, mz_err *e);
    /* The HMAC-SHA1 response of SLOT (1 or 2) to CHAL; blocks until touched when the
     * slot requires a touch, and gives MZ_HW_TIMEOUT when none comes. */
    int (*challenge)(struct mz_hw_device *dev, unsigned slot,
                     const uint8_t chal[MZ_HW_CHALLENGE_LEN], uint8_t resp[MZ_HW_RESPONSE_LEN],
                     mz_err *e);
    /* Writes SECRET into SLOT for HMAC-SHA1 challenge-response, requiring a touch for
     * every response when TOUCH. */
    int (*program)(struct mz_hw_device *dev, unsigned slot, const uint8_t secret[MZ_HW_SECRET_LEN],
                   bool touch, mz_err *e);
    void (*close)(struct mz_hw_device *dev);
};

/* The real keys, through libykpers-1 (loaded when first needed, see mz_ykpers.c). */
const struct mz_hwkey_ops *mz_ykpers_ops(void);

/* A key credential as the store keeps it. */
struct mz_hw_cred {
    int64_t id; /* the credentials row; 0 before it is stored */
    uint32_t serial;
    unsigned slot;
    uint8_t challenge[MZ_HW_CHALLENGE_LEN];
    uint8_t response_hash[MZ_HASH_BYTES];
};

/* Called before each challenge that needs a touch, so that the user is told before the
 * key blocks; AGAIN is true for the second touch of a login. */
/* Tells the user to touch the key (AGAIN for the second challenge of a login); false
 * when the message could not be shown: then no challenge is sent, since nobody would
 * know to touch the key and the login would only wait for the key's time-out. */
struct mz_hw_prompt {
    bool (*touch)(void *arg, bool again);
    void *arg;
};

/* What the key said at one login, for mz_decide_hwkey. */
struct mz_hw_answer {
    uint32_t serial; /* of the key that is plugged in */
    bool answered;   /* false: the serial differed, nothing was sent */
    bool rotating;   /* the stored challenge was answered: a failure now is the rotation's */
    uint8_t challenge[MZ_HW_CHALLENGE_LEN]; /* the stored challenge it was sent */
    uint8_t response_hash[MZ_HASH_BYTES];   /* keyed hash of its response */
    uint8_t next_challenge[MZ_HW_CHALLENGE_LEN];
    uint8_t next_response_hash[MZ_HASH_BYTES]; /* of its response to next_challenge */
};

/* Fills CHAL with a fresh random challenge (getrandom) of the fixed length. */
int mz_hw_new_challenge(uint8_t chal[MZ_HW_CHALLENGE_LEN]);

/* The keyed hash under which RESP to CHAL is kept. */
void mz_hw_response_hash(const struct mz_keys *keys, const uint8_t chal[MZ_HW_CHALLENGE_LEN],
                         const uint8_t resp[MZ_HW_RESPONSE_LEN], uint8_t out[MZ_HASH_BYTES]);

/* One login's exchange with the opened key DEV: reads its serial and, when it is
 * CRED's, sends CRED's challenge and then a fresh one (the next login's), each after
 * PROMPT when TOUCH. Returns MZ_HW_*; on MZ_HW_OK ANS is filled. Responses are hashed
 * and wiped here: nothing the key said leaves this function in the clear. */
int mz_hw_exchange(const struct mz_hwkey_ops *ops, struct mz_hw_device *dev,
                   const struct mz_keys *keys, const struct mz_hw_cred *cred, bool touch,
                   const struct mz_hw_prompt *prompt, struct mz_hw_answer *ans, mz_err *e);

/* Enrolment with the opened key DEV: reads its serial; when PROGRAM, writes a fresh
 * random secret into SLOT (wiped right after); then takes the first challenge. CRED
 * receives serial, slot, challenge and response hash (id 0). *PROGRAMMED (when not
 * NULL) tells whether the slot may have been rewritten, even when a step failed: the
 * key's old enrolment, if any, may no longer answer. */
int mz_hw_enrol(const struct mz_hwkey_ops *ops, struct mz_hw_device *dev,
                const struct mz_keys *keys, unsigned slot, bool program, bool touch,
                const struct mz_hw_prompt *prompt, struct mz_hw_cred *cred, bool *programmed,
                mz_err *e);

#endif
