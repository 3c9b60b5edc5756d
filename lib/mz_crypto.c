#include "config.h"

#include "mz_crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* libsodium's KDF contexts: eight bytes each, fixed forever (changing one loses data). */
#define KDF_CONTEXT "mnzone01"
enum { SUBKEY_SECRETS = 1, SUBKEY_AUDIT = 2, SUBKEY_CODES = 3 };

int mz_crypto_init(mz_err *e)
{
    if (sodium_init() < 0)
        return mz_fail(e, MZ_ERR_CRYPTO, _("cannot initialise libsodium"));
    return MZ_OK;
}

void mz_keys_derive(const unsigned char master[MZ_KEY_BYTES], struct mz_keys *keys)
{
    crypto_kdf_derive_from_key(keys->secrets, sizeof(keys->secrets), SUBKEY_SECRETS, KDF_CONTEXT,
                               master);
    crypto_kdf_derive_from_key(keys->audit, sizeof(keys->audit), SUBKEY_AUDIT, KDF_CONTEXT, master);
    crypto_kdf_derive_from_key(keys->codes, sizeof(keys->codes), SUBKEY_CODES, KDF_CONTEXT, master);
}

void mz_keys_wipe(struct mz_keys *keys)
{
    mz_zero_object(keys);
}

int mz_keys_load(const char *path, struct mz_keys *keys, mz_err *e)
{
    int fd;
    int rc = mz_crypto_init(e);
    if (rc == MZ_OK)
        rc = mz_check_folders(path, NULL, 0, e);
    if (rc == MZ_OK)
        rc = mz_open_checked(path, O_RDONLY, MZ_FILE_SECRET, &fd, e);
    if (rc != MZ_OK)
        return rc;

    unsigned char master[MZ_KEY_BYTES + 1];
    size_t got = 0;
    while (got < sizeof(master)) {
        ssize_t n = read(fd, master + got, sizeof(master) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != MZ_KEY_BYTES) {
        rc = mz_fail(e, MZ_ERR_CRYPTO, _("%s: a key file holds exactly %d bytes; this one has %s"),
                     path, MZ_KEY_BYTES, got > MZ_KEY_BYTES ? _("more") : _("fewer"));
    } else {
        mz_keys_derive(master, keys);
    }
    mz_zero_array(master);
    return rc;
}

int mz_key_file_create(const char *path, mz_err *e)
{
    unsigned char master[MZ_KEY_BYTES];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return mz_fail(e, MZ_ERR_EXISTS, _("%s: exists already; it is never replaced"), path);
        return mz_fail(e, MZ_ERR_PERM, _("%s: cannot create: %s"), path, strerror(errno));
    }
    int rc = mz_random(master, sizeof(master));
    if (rc != MZ_OK)
        mz_fail(e, rc, _("getrandom failed: %s"), strerror(errno));
    else if (write(fd, master, sizeof(master)) != (ssize_t)sizeof(master) || fsync(fd) != 0)
        rc = mz_fail(e, MZ_ERR_PERM, _("%s: cannot write: %s"), path, strerror(errno));
    mz_zero_array(master);
    if (close(fd) != 0 && rc == MZ_OK)
        rc = mz_fail(e, MZ_ERR_PERM, _("%s: cannot write: %s"), path, strerror(errno));
    if (rc != MZ_OK) {
        unlink(path);
        return rc;
    }
    /* the folder's entry too: a store that outlives a crash must find its key */
    char copy[PATH_MAX];
    snprintf(copy, sizeof(copy), "%s", path);
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return rc;
}

int mz_seal(const struct mz_keys *keys, const char *login, const uint8_t *secret, size_t len,
            uint8_t *out)
{
    uint8_t *nonce = out;
    if (mz_random(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES) != MZ_OK)
        return MZ_ERR_CRYPTO;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
                                               NULL, secret, len, (const uint8_t *)login,
                                               strlen(login), NULL, nonce, keys->secrets);
    return MZ_OK;
}

int mz_unseal(const struct mz_keys *keys, const char *login, const uint8_t *blob, size_t blob_len,
              uint8_t *out, size_t *out_len)
{
    if (blob_len < MZ_SEAL_OVERHEAD)
        return MZ_ERR_CRYPTO;
    unsigned long long n = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            out, &n, NULL, blob + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
            blob_len - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, (const uint8_t *)login,
            strlen(login), blob, keys->secrets) != 0)
        return MZ_ERR_CRYPTO;
    *out_len = (size_t)n;
    return MZ_OK;
}

void mz_code_hash(const struct mz_keys *keys, const uint8_t *salt, size_t salt_len,
                  const void *data, size_t len, uint8_t out[MZ_HASH_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, keys->codes, sizeof(keys->codes), MZ_HASH_BYTES);
    crypto_generichash_update(&st, salt, salt_len);
    crypto_generichash_update(&st, data, len);
    crypto_generichash_final(&st, out, MZ_HASH_BYTES);
    mz_zero_object(&st);
}
