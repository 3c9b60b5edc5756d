#include "config.h"

#include "mz_hwkey.h"

#include <string.h>

int mz_hw_new_challenge(uint8_t chal[MZ_HW_CHALLENGE_LEN])
{
    if (mz_random(chal, MZ_HW_CHALLENGE_LEN) != MZ_OK)
        return MZ_ERR_CRYPTO;
    chal[MZ_HW_CHALLENGE_LEN - 1] |= 1; /* never the padding byte: see MZ_HW_CHALLENGE_LEN */
    return MZ_OK;
}

void mz_hw_response_hash(const struct mz_keys *keys, const uint8_t chal[MZ_HW_CHALLENGE_LEN],
                         const uint8_t resp[MZ_HW_RESPONSE_LEN], uint8_t out[MZ_HASH_BYTES])
{
    mz_code_hash(keys, chal, MZ_HW_CHALLENGE_LEN, resp, MZ_HW_RESPONSE_LEN, out);
}

/* Sends CHAL to SLOT (telling the user to touch first when TOUCH) and keeps only the
 * keyed hash of the response. */
static int challenge_hashed(const struct mz_hwkey_ops *ops, struct mz_hw_device *dev,
                            const struct mz_keys *keys, unsigned slot,
                            const uint8_t chal[MZ_HW_CHALLENGE_LEN], bool touch, bool again,
                            const struct mz_hw_prompt *prompt, uint8_t hash[MZ_HASH_BYTES],
                            mz_err *e)
{
    uint8_t resp[MZ_HW_RESPONSE_LEN];
    if (touch && prompt != NULL && prompt->touch != NULL && !prompt->touch(prompt->arg, again)) {
        mz_fail(e, MZ_ERR_CONFIG, "%s", _("the user could not be told to touch the YubiKey"));
        return MZ_HW_ERROR;
    }
    int rc = ops->challenge(dev, slot, chal, resp, e);
    if (rc == MZ_HW_OK)
        mz_hw_response_hash(keys, chal, resp, hash);
    mz_zero_array(resp);
    return rc;
}

int mz_hw_exchange(const struct mz_hwkey_ops *ops, struct mz_hw_device *dev,
                   const struct mz_keys *keys, const struct mz_hw_cred *cred, bool touch,
                   const struct mz_hw_prompt *prompt, struct mz_hw_answer *ans, mz_err *e)
{
    memset(ans, 0, sizeof(*ans));
    int rc = ops->serial(dev, &ans->serial, e);
    if (rc != MZ_HW_OK || ans->serial != cred->serial)
        return rc; /* another key: the decision refuses it without asking it anything */
    memcpy(ans->challenge, cred->challenge, sizeof(ans->challenge));
    rc = challenge_hashed(ops, dev, keys, cred->slot, ans->challenge, touch, false, prompt,
                          ans->response_hash, e);
    if (rc != MZ_HW_OK)
        return rc;
    ans->rotating = true;
    if (mz_hw_new_challenge(ans->next_challenge) != MZ_OK) {
        mz_fail(e, MZ_ERR_CRYPTO, _("cannot get random bytes for the next challenge"));
        return MZ_HW_ERROR;
    }
    rc = challenge_hashed(ops, dev, keys, cred->slot, ans->next_challenge, touch, true, prompt,
                          ans->next_response_hash, e);
    ans->answered = rc == MZ_HW_OK;
    return rc;
}

int mz_hw_enrol(const struct mz_hwkey_ops *ops, struct mz_hw_device *dev,
                const struct mz_keys *keys, unsigned slot, bool program, bool touch,
                const struct mz_hw_prompt *prompt, struct mz_hw_cred *cred, bool *programmed,
                mz_err *e)
{
    memset(cred, 0, sizeof(*cred));
    if (programmed != NULL)
        *programmed = false;
    cred->slot = slot;
    int rc = ops->serial(dev, &cred->serial, e);
    if (rc != MZ_HW_OK)
        return rc;
    if (program) {
        uint8_t secret[MZ_HW_SECRET_LEN];
        if (mz_random(secret, sizeof(secret)) != MZ_OK) {
            mz_zero_array(secret); /* getrandom may have filled part of it */
            mz_fail(e, MZ_ERR_CRYPTO, _("cannot get random bytes for the key's secret"));
            return MZ_HW_ERROR;
        }
        if (programmed != NULL)
            *programmed = true; /* from here on: a failed write may have changed it too */
        rc = ops->program(dev, slot, secret, touch, e);
        mz_zero_array(secret);
        if (rc != MZ_HW_OK)
            return rc;
    }
    if (mz_hw_new_challenge(cred->challenge) != MZ_OK) {
        mz_fail(e, MZ_ERR_CRYPTO, _("cannot get random bytes for the challenge"));
        return MZ_HW_ERROR;
    }
    return challenge_hashed(ops, dev, keys, slot, cred->challenge, touch, false, prompt,
                            cred->response_hash, e);
}
