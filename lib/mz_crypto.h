/* Keys and sealing: one 32-byte key file, from which separate subkeys are derived for
 * TOTP secrets at rest, the audit chain and the hashes of one-time codes. */
#ifndef MZ_CRYPTO_H
#define MZ_CRYPTO_H

#include "mz_util.h"

#include <sodium.h>
#include <stdint.h>

#define MZ_KEY_BYTES 32
#define MZ_HASH_BYTES 32
/* Extra bytes a sealed secret takes: nonce and authentication tag. */
#define MZ_SEAL_OVERHEAD                                                                           \
    (crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES)

struct mz_keys {
    unsigned char secrets[MZ_KEY_BYTES]; /* AEAD key for TOTP secrets */
    unsigned char audit[MZ_KEY_BYTES];   /* keyed hash of the audit chain */
    unsigned char codes[MZ_KEY_BYTES];   /* keyed hash of recovery/emergency codes and responses */
};

/* Initialises libsodium once; returns MZ_OK or MZ_ERR_CRYPTO. */
int mz_crypto_init(mz_err *e);

/* Reads the key file (checked: no link, owned by root, mode 0600 or stricter, exactly
 * 32 bytes) and derives the subkeys. Wipe with mz_keys_wipe. */
int mz_keys_load(const char *path, struct mz_keys *keys, mz_err *e);
/* Derives the subkeys from a master key (used by mz_keys_load and by tests). */
void mz_keys_derive(const unsigned char master[MZ_KEY_BYTES], struct mz_keys *keys);
void mz_keys_wipe(struct mz_keys *keys);

/* Creates PATH (O_EXCL, mode 0600) holding 32 random bytes. Never replaces a file:
 * returns MZ_ERR_EXISTS if one is there. */
int mz_key_file_create(const char *path, mz_err *e);

/* Encrypts SECRET for LOGIN (the associated data) into OUT, which must hold
 * LEN + MZ_SEAL_OVERHEAD bytes. */
int mz_seal(const struct mz_keys *keys, const char *login, const uint8_t *secret, size_t len,
            uint8_t *out);
/* Decrypts what mz_seal wrote; fails if the blob was changed or belongs to another login.
 * OUT must hold BLOB_LEN - MZ_SEAL_OVERHEAD bytes. */
int mz_unseal(const struct mz_keys *keys, const char *login, const uint8_t *blob, size_t blob_len,
              uint8_t *out, size_t *out_len);

/* Keyed hash of DATA with a per-item SALT, for codes and responses kept only as hashes. */
void mz_code_hash(const struct mz_keys *keys, const uint8_t *salt, size_t salt_len,
                  const void *data, size_t len, uint8_t out[MZ_HASH_BYTES]);

#endif
