#include "config.h"

#include "soft_key.h"

#include <nettle/hmac.h>
#include <string.h>

struct soft_key soft_key;

static int prompts_at_last_challenge;

void soft_key_reset(uint32_t serial)
{
    memset(&soft_key, 0, sizeof(soft_key));
    soft_key.present = true;
    soft_key.serial = serial;
    prompts_at_last_challenge = 0;
}

void soft_key_hmac(const uint8_t secret[MZ_HW_SECRET_LEN], const uint8_t *chal, size_t len,
                   uint8_t out[MZ_HW_RESPONSE_LEN])
{
    /* A key pads a short challenge to 64 bytes with zeros, then with HMAC_LT64 drops the
     * trailing bytes equal to the last byte of the block. */
    uint8_t block[64] = {0};
    memcpy(block, chal, len);
    size_t n = sizeof(block);
    while (n > 0 && block[n - 1] == block[63])
        n--;
    struct hmac_sha1_ctx ctx;
    hmac_sha1_set_key(&ctx, MZ_HW_SECRET_LEN, secret);
    hmac_sha1_update(&ctx, n, block);
    hmac_sha1_digest(&ctx, MZ_HW_RESPONSE_LEN, out);
}

static struct mz_hw_device *const the_device = (struct mz_hw_device *)&soft_key;

static int soft_open(struct mz_hw_device **dev, mz_err *e)
{
    *dev = NULL;
    if (!soft_key.present)
        return mz_fail(e, MZ_ERR_INPUT, "no YubiKey found"), MZ_HW_NO_KEY;
    *dev = the_device;
    return MZ_HW_OK;
}

static int soft_serial(struct mz_hw_device *dev, uint32_t *serial, mz_err *e)
{
    (void)e;
    (void)dev;
    *serial = soft_key.serial;
    return MZ_HW_OK;
}

static int soft_challenge(struct mz_hw_device *dev, unsigned slot,
                          const uint8_t chal[MZ_HW_CHALLENGE_LEN], uint8_t resp[MZ_HW_RESPONSE_LEN],
                          mz_err *e)
{
    (void)dev;
    soft_key.challenges++;
    if (slot < 1 || slot > 2 || !soft_key.programmed[slot]) {
        mz_fail(e, MZ_ERR_CONFIG, "slot %u is not programmed", slot);
        return MZ_HW_TIMEOUT; /* an unprogrammed slot never answers */
    }
    if (soft_key.touch[slot]) {
        if (soft_key.touch_prompts == prompts_at_last_challenge)
            soft_key.challenged_before_prompt = true;
        prompts_at_last_challenge = soft_key.touch_prompts;
    }
    if (soft_key.fail_challenge == soft_key.challenges) {
        mz_fail(e, MZ_ERR_CONFIG, "USB error");
        return MZ_HW_ERROR;
    }
    if (soft_key.touch[slot] && soft_key.never_touched) {
        mz_fail(e, MZ_ERR_INPUT, "not touched");
        return MZ_HW_TIMEOUT;
    }
    if (!soft_key.replay)
        soft_key_hmac(soft_key.secret[slot], chal, MZ_HW_CHALLENGE_LEN, soft_key.last_response);
    memcpy(resp, soft_key.last_response, MZ_HW_RESPONSE_LEN);
    return MZ_HW_OK;
}

static int soft_program(struct mz_hw_device *dev, unsigned slot,
                        const uint8_t secret[MZ_HW_SECRET_LEN], bool touch, mz_err *e)
{
    (void)dev;
    if (slot < 1 || slot > 2)
        return mz_fail(e, MZ_ERR_CONFIG, "no slot %u", slot), MZ_HW_ERROR;
    memcpy(soft_key.secret[slot], secret, MZ_HW_SECRET_LEN);
    soft_key.programmed[slot] = true;
    soft_key.touch[slot] = touch;
    return MZ_HW_OK;
}

static void soft_close(struct mz_hw_device *dev)
{
    (void)dev;
}

static const struct mz_hwkey_ops ops = {soft_open, soft_serial, soft_challenge, soft_program,
                                        soft_close};

const struct mz_hwkey_ops *soft_key_ops(void)
{
    return &ops;
}

static bool count_prompt(void *arg, bool again)
{
    (void)arg;
    (void)again;
    soft_key.touch_prompts++;
    return !soft_key.prompt_fails;
}

const struct mz_hw_prompt soft_key_prompt = {count_prompt, NULL};
