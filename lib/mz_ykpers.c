/* The real hardware ops: YubiKeys through libykpers-1.
 *
 * libykpers (with libusb, libudev and json-c behind it) costs about 0.26 ms to load,
 * more than a whole TOTP login should take, and most staff have no key. So it is not
 * linked: it is loaded by its soname the first time a login or an enrolment needs a
 * key, and kept loaded (RTLD_NODELETE) so that the pointers stay valid. Its
 * mixed return conventions (1 for success from yk_*, errno-style codes in yk_errno)
 * are mapped onto MZ_HW_* once, here. */
#include "config.h"

#include "mz_hwkey.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ykcore.h>
#include <ykdef.h>
#include <ykpers.h>
#include <ykstatus.h>

#define YKPERS_SONAME "libykpers-1.so.1"

/* The functions used, typed from libykpers' own headers. */
#define YK_FUNCTIONS(X)                                                                            \
    X(yk_init)                                                                                     \
    X(yk_release)                                                                                  \
    X(yk_open_first_key)                                                                           \
    X(yk_close_key)                                                                                \
    X(yk_get_serial)                                                                               \
    X(yk_get_status)                                                                               \
    X(yk_challenge_response)                                                                       \
    X(yk_write_command)                                                                            \
    X(_yk_errno_location)                                                                          \
    X(yk_strerror)                                                                                 \
    X(ykds_alloc)                                                                                  \
    X(ykds_free)                                                                                   \
    X(ykp_alloc)                                                                                   \
    X(ykp_free_config)                                                                             \
    X(ykp_configure_for)                                                                           \
    X(ykp_clear_config)                                                                            \
    X(ykp_set_tktflag_CHAL_RESP)                                                                   \
    X(ykp_set_cfgflag_CHAL_HMAC)                                                                   \
    X(ykp_set_cfgflag_HMAC_LT64)                                                                   \
    X(ykp_set_cfgflag_CHAL_BTN_TRIG)                                                               \
    X(ykp_set_extflag_SERIAL_API_VISIBLE)                                                          \
    X(ykp_HMAC_key_from_raw)                                                                       \
    X(ykp_core_config)                                                                             \
    X(ykp_command)

struct ykpers {
#define FIELD(name) __typeof__(&name) name;
    YK_FUNCTIONS(FIELD)
#undef FIELD
};

static struct ykpers yk;
static bool yk_loaded;
static pthread_mutex_t yk_lock = PTHREAD_MUTEX_INITIALIZER;

/* Loads libykpers once per process; MZ_HW_ERROR (with the reason) if it cannot. */
static int load(mz_err *e)
{
    int rc = MZ_HW_OK;
    pthread_mutex_lock(&yk_lock);
    if (!yk_loaded) {
        void *h = dlopen(YKPERS_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        const char *missing = NULL;
        if (h != NULL) {
#define LOOKUP(name)                                                                               \
    if (missing == NULL && (*(void **)&yk.name = dlsym(h, #name)) == NULL)                         \
        missing = #name;
            YK_FUNCTIONS(LOOKUP)
#undef LOOKUP
        }
        if (h == NULL || missing != NULL) {
            mz_fail(e, MZ_ERR_CONFIG, _("cannot use YubiKeys: %s (install libykpers-1-1)"),
                    h == NULL ? dlerror() : missing);
            rc = MZ_HW_ERROR;
        } else {
            yk_loaded = true;
        }
        if (h != NULL)
            dlclose(h); /* RTLD_NODELETE: stays mapped, the pointers stay valid */
    }
    pthread_mutex_unlock(&yk_lock);
    return rc;
}

/* Maps yk_errno after a failed call; WHAT names the operation for the message. */
static int yk_failure(const char *what, mz_err *e)
{
    int err = *yk._yk_errno_location();
    switch (err) {
    case YK_ENOKEY: mz_fail(e, MZ_ERR_INPUT, _("no YubiKey found")); return MZ_HW_NO_KEY;
    case YK_ETIMEOUT:
        mz_fail(e, MZ_ERR_INPUT, _("%s: the YubiKey was not touched in time"), what);
        return MZ_HW_TIMEOUT;
    default:
        mz_fail(e, MZ_ERR_CONFIG, _("%s: YubiKey error: %s"), what, yk.yk_strerror(err));
        return MZ_HW_ERROR;
    }
}

static int yk_open(struct mz_hw_device **dev, mz_err *e)
{
    *dev = NULL;
    int rc = load(e);
    if (rc != MZ_HW_OK)
        return rc;
    /* libusb starts a hotplug thread: it runs from here to yk_close, not for the life of
     * the process that loaded the module (sshd, the display manager) */
    if (!yk.yk_init())
        return yk_failure(_("starting USB"), e);
    *yk._yk_errno_location() = 0;
    YK_KEY *k = yk.yk_open_first_key();
    if (k == NULL) {
        rc = yk_failure(_("opening the key"), e);
        yk.yk_release();
        return rc;
    }
    *dev = (struct mz_hw_device *)k;
    return MZ_HW_OK;
}

static int yk_serial(struct mz_hw_device *dev, uint32_t *serial, mz_err *e)
{
    unsigned int s = 0;
    if (!yk.yk_get_serial((YK_KEY *)dev, 0, 0, &s))
        return yk_failure(_("reading the serial number"), e);
    *serial = s;
    return MZ_HW_OK;
}

static int yk_challenge(struct mz_hw_device *dev, unsigned slot,
                        const uint8_t chal[MZ_HW_CHALLENGE_LEN], uint8_t resp[MZ_HW_RESPONSE_LEN],
                        mz_err *e)
{
    unsigned char buf[64]; /* libykpers writes a whole report, of which 20 bytes are the HMAC */
    uint8_t cmd = slot == 1 ? SLOT_CHAL_HMAC1 : SLOT_CHAL_HMAC2;
    int rc = MZ_HW_OK;
    if (!yk.yk_challenge_response((YK_KEY *)dev, cmd, 1, MZ_HW_CHALLENGE_LEN, chal, sizeof(buf),
                                  buf))
        rc = yk_failure(_("challenge-response"), e);
    else
        memcpy(resp, buf, MZ_HW_RESPONSE_LEN);
    mz_zero_array(buf);
    return rc;
}

/* Sets CFG up for HMAC-SHA1 challenge-response in SLOT with SECRET. */
static bool configure(YKP_CONFIG *cfg, YK_STATUS *status, unsigned slot,
                      const uint8_t secret[MZ_HW_SECRET_LEN], bool touch)
{
    return yk.ykp_configure_for(cfg, (int)slot, status) && yk.ykp_clear_config(cfg) &&
           yk.ykp_set_tktflag_CHAL_RESP(cfg, true) && yk.ykp_set_cfgflag_CHAL_HMAC(cfg, true) &&
           yk.ykp_set_cfgflag_HMAC_LT64(cfg, true) &&
           yk.ykp_set_cfgflag_CHAL_BTN_TRIG(cfg, touch) &&
           yk.ykp_set_extflag_SERIAL_API_VISIBLE(cfg, true) &&
           yk.ykp_HMAC_key_from_raw(cfg, (const char *)secret) == 0;
}

static int yk_program(struct mz_hw_device *dev, unsigned slot,
                      const uint8_t secret[MZ_HW_SECRET_LEN], bool touch, mz_err *e)
{
    YK_KEY *k = (YK_KEY *)dev;
    YK_STATUS *status = yk.ykds_alloc();
    YKP_CONFIG *cfg = yk.ykp_alloc();
    int rc = MZ_HW_OK;
    if (status == NULL || cfg == NULL) {
        mz_fail(e, MZ_ERR_NOMEM, _("out of memory"));
        rc = MZ_HW_ERROR;
        goto done;
    }
    if (!yk.yk_get_status(k, status)) {
        rc = yk_failure(_("reading the key's status"), e);
        goto done;
    }
    if (!configure(cfg, status, slot, secret, touch)) {
        mz_fail(e, MZ_ERR_CONFIG, _("cannot prepare the slot configuration"));
        rc = MZ_HW_ERROR;
        goto done;
    }
    if (!yk.yk_write_command(k, yk.ykp_core_config(cfg), (uint8_t)yk.ykp_command(cfg), NULL))
        rc = yk_failure(_("programming the slot"), e);
done:
    if (cfg != NULL) {
        /* ykp_free_config does not wipe the HMAC key it holds */
        sodium_memzero(yk.ykp_core_config(cfg), sizeof(struct config_st));
        yk.ykp_free_config(cfg);
    }
    if (status != NULL)
        yk.ykds_free(status);
    return rc;
}

static void yk_close(struct mz_hw_device *dev)
{
    if (dev == NULL)
        return;
    yk.yk_close_key((YK_KEY *)dev);
    yk.yk_release();
}

static const struct mz_hwkey_ops ykpers_ops = {
    .open = yk_open,
    .serial = yk_serial,
    .challenge = yk_challenge,
    .program = yk_program,
    .close = yk_close,
};

const struct mz_hwkey_ops *mz_ykpers_ops(void)
{
    return &ykpers_ops;
}
