/* Unit tests of lib/mz_crypto.c (key file, sealing of secrets, code hashes) and of the
 * zeroing helpers of lib/mz_util.h that guard them. */
#include "mz_test.h"

static int setup_dir(void **state)
{
    struct mzt_dir *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return -1;
    mzt_dir_make(d);
    assert_true(sodium_init() >= 0);
    *state = d;
    return 0;
}

static int teardown_dir(void **state)
{
    struct mzt_dir *d = *state;
    mzt_dir_remove(d);
    free(d);
    return 0;
}

static bool keys_equal(const struct mz_keys *a, const struct mz_keys *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != 0)
            return false;
    return true;
}

static void test_keys_load_good(void **state)
{
    struct mzt_dir *d = *state;
    char path[PATH_MAX];
    struct mz_keys loaded, derived;
    mz_err e = {""};
    unsigned char master[MZ_KEY_BYTES];
    mzt_key_file(d->path, "mnzone.key", 1, path, sizeof(path));
    assert_int_equal(mzt_mode(path), 0600);
    int rc = mz_keys_load(path, &loaded, &e);
    if (rc != MZ_OK)
        print_error("%s\n", e.msg);
    assert_int_equal(rc, MZ_OK);
    /* The keys come from the file's bytes. */
    mzt_master(master, 1);
    mz_keys_derive(master, &derived);
    assert_true(keys_equal(&loaded, &derived));
    /* Three separate subkeys, none of them the master key itself. */
    assert_memory_not_equal(loaded.secrets, loaded.audit, MZ_KEY_BYTES);
    assert_memory_not_equal(loaded.secrets, loaded.codes, MZ_KEY_BYTES);
    assert_memory_not_equal(loaded.audit, loaded.codes, MZ_KEY_BYTES);
    assert_memory_not_equal(loaded.secrets, master, MZ_KEY_BYTES);
    assert_memory_not_equal(loaded.audit, master, MZ_KEY_BYTES);
    assert_memory_not_equal(loaded.codes, master, MZ_KEY_BYTES);

    /* Another file, other keys. */
    struct mz_keys other;
    mzt_key_file(d->path, "other.key", 2, path, sizeof(path));
    assert_int_equal(mz_keys_load(path, &other, &e), MZ_OK);
    assert_false(keys_equal(&loaded, &other));

    /* Stricter than 0600 is fine too. */
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(mz_keys_load(path, &other, &e), MZ_OK);

    mz_keys_wipe(&loaded);
    assert_true(all_zero(&loaded, sizeof(loaded)));
}

static void test_keys_load_wrong_size(void **state)
{
    struct mzt_dir *d = *state;
    char path[PATH_MAX];
    struct mz_keys keys;
    mz_err e = {""};
    unsigned char bytes[64];
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (unsigned char)(i + 1);
    mzt_path(path, sizeof(path), d->path, "mnzone.key");
    static const size_t sizes[] = {0, 1, 16, 31, 33, 64};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        mzt_write_file(path, bytes, sizes[i], 0600);
        e.msg[0] = '\0';
        int rc = mz_keys_load(path, &keys, &e);
        if (rc != MZ_ERR_CRYPTO)
            print_error("a key file of %zu bytes gave %d\n", sizes[i], rc);
        assert_int_equal(rc, MZ_ERR_CRYPTO);
        assert_non_null(strstr(e.msg, path));
    }
    /* The same bytes, 32 of them: accepted. */
    mzt_write_file(path, bytes, 32, 0600);
    assert_int_equal(mz_keys_load(path, &keys, &e), MZ_OK);
}

static void test_keys_load_modes(void **state)
{
    struct mzt_dir *d = *state;
    char path[PATH_MAX];
    struct mz_keys keys;
    mz_err e = {""};
    /* Readable or writable by group or others: refused. */
    static const mode_t modes[] = {0644, 0640, 0604, 0660, 0606, 0620, 0602, 0666};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        mzt_key_file(d->path, "mnzone.key", 1, path, sizeof(path));
        assert_int_equal(chmod(path, modes[i]), 0);
        e.msg[0] = '\0';
        int rc = mz_keys_load(path, &keys, &e);
        if (rc != MZ_ERR_PERM)
            print_error("a key file of mode %o gave %d\n", (unsigned)modes[i], rc);
        assert_int_equal(rc, MZ_ERR_PERM);
        assert_non_null(strstr(e.msg, path));
    }
}

static void test_keys_load_symlink(void **state)
{
    struct mzt_dir *d = *state;
    char path[PATH_MAX], link[PATH_MAX];
    struct mz_keys keys;
    mz_err e = {""};
    mzt_key_file(d->path, "mnzone.key", 1, path, sizeof(path));
    mzt_path(link, sizeof(link), d->path, "link.key");
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(mz_keys_load(path, &keys, &e), MZ_OK); /* the target itself is fine */
    assert_int_equal(mz_keys_load(link, &keys, &e), MZ_ERR_PERM);
    assert_non_null(strstr(e.msg, link));
}

static void test_keys_load_not_regular_or_missing(void **state)
{
    struct mzt_dir *d = *state;
    char path[PATH_MAX];
    struct mz_keys keys;
    mz_err e = {""};
    assert_int_not_equal(mz_keys_load(d->path, &keys, &e), MZ_OK);
    mzt_path(path, sizeof(path), d->path, "absent.key");
    e.msg[0] = '\0';
    assert_int_not_equal(mz_keys_load(path, &keys, &e), MZ_OK);
    assert_non_null(strstr(e.msg, path));
}

static void test_keys_load_owner(void **state)
{
    struct mzt_dir *d = *state;
    char path[PATH_MAX];
    struct mz_keys keys;
    mz_err e = {""};
    if (geteuid() != 0) {
        print_message("# not root: cannot give a file to another user; owner check not run\n");
        return;
    }
    mzt_key_file(d->path, "mnzone.key", 1, path, sizeof(path));
    assert_int_equal(chown(path, 65534, 65534), 0);
    assert_int_equal(mz_keys_load(path, &keys, &e), MZ_ERR_PERM);
}

/* A key file below a folder others can write is refused, however well kept the file. */
static void test_keys_load_folder_on_the_way(void **state)
{
    struct mzt_dir *d = *state;
    char sub[PATH_MAX], path[PATH_MAX];
    struct mz_keys keys;
    mz_err e = {""};
    mzt_path(sub, sizeof(sub), d->path, "sub");
    assert_int_equal(mkdir(sub, 0700), 0);
    mzt_key_file(sub, "mnzone.key", 1, path, sizeof(path));
    assert_int_equal(mz_keys_load(path, &keys, &e), MZ_OK);
    mz_keys_wipe(&keys);
    assert_int_equal(chmod(d->path, 0770), 0);
    assert_int_equal(mz_keys_load(path, &keys, &e), MZ_ERR_PERM);
    char named[PATH_MAX + 32];
    snprintf(named, sizeof(named), "%s: writable by group or others", d->path);
    assert_non_null(strstr(e.msg, named));
    assert_int_equal(chmod(d->path, 0700), 0);
}

static void test_key_file_create(void **state)
{
    struct mzt_dir *d = *state;
    char path[PATH_MAX], path2[PATH_MAX];
    struct mz_keys keys, keys2;
    mz_err e = {""};
    mode_t old_umask = umask(0); /* the mode must not depend on the caller's umask */
    mzt_path(path, sizeof(path), d->path, "new.key");
    int rc = mz_key_file_create(path, &e);
    umask(old_umask);
    assert_int_equal(rc, MZ_OK);

    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, MZ_KEY_BYTES);
    assert_int_equal(mz_keys_load(path, &keys, &e), MZ_OK);

    /* Random: a second key file differs. */
    mzt_path(path2, sizeof(path2), d->path, "new2.key");
    assert_int_equal(mz_key_file_create(path2, &e), MZ_OK);
    assert_int_equal(mz_keys_load(path2, &keys2, &e), MZ_OK);
    assert_false(keys_equal(&keys, &keys2));

    /* Never replaces: the old key stays. */
    assert_int_equal(mz_key_file_create(path, &e), MZ_ERR_EXISTS);
    assert_int_equal(mz_keys_load(path, &keys2, &e), MZ_OK);
    assert_true(keys_equal(&keys, &keys2));
}

static void test_key_file_create_never_follows(void **state)
{
    struct mzt_dir *d = *state;
    char target[PATH_MAX], link[PATH_MAX];
    mz_err e = {""};
    /* A link to a file: refused and the file is left alone. */
    mzt_path(target, sizeof(target), d->path, "victim");
    mzt_write_text(target, "keep me", 0644);
    mzt_path(link, sizeof(link), d->path, "mnzone.key");
    assert_int_equal(symlink(target, link), 0);
    assert_int_not_equal(mz_key_file_create(link, &e), MZ_OK);
    struct stat st;
    assert_int_equal(lstat(target, &st), 0);
    assert_int_equal(st.st_size, 7);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));

    /* A dangling link: not followed to create its target. */
    char nowhere[PATH_MAX], dangling[PATH_MAX];
    mzt_path(nowhere, sizeof(nowhere), d->path, "nowhere");
    mzt_path(dangling, sizeof(dangling), d->path, "dangling.key");
    assert_int_equal(symlink(nowhere, dangling), 0);
    assert_int_not_equal(mz_key_file_create(dangling, &e), MZ_OK);
    assert_int_equal(lstat(nowhere, &st), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_seal_round_trip(void **state)
{
    (void)state;
    struct mz_keys keys;
    mzt_keys(&keys, 1);
    uint8_t secret[MZ_SECRET_MAX], blob[MZ_SECRET_MAX + MZ_SEAL_OVERHEAD], back[MZ_SECRET_MAX];
    for (size_t i = 0; i < sizeof(secret); i++)
        secret[i] = (uint8_t)(0x80 + i);
    static const size_t lens[] = {MZ_SECRET_MIN, MZ_SECRET_BYTES, MZ_SECRET_MAX};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t len = lens[i], out_len = 0;
        memset(back, 0, sizeof(back));
        assert_int_equal(mz_seal(&keys, "taro", secret, len, blob), MZ_OK);
        /* The plaintext does not appear in the blob. */
        assert_null(memmem(blob, len + MZ_SEAL_OVERHEAD, secret, len));
        assert_int_equal(mz_unseal(&keys, "taro", blob, len + MZ_SEAL_OVERHEAD, back, &out_len),
                         MZ_OK);
        assert_int_equal(out_len, len);
        assert_memory_equal(back, secret, len);
    }
}

static void test_unseal_refuses(void **state)
{
    (void)state;
    struct mz_keys keys, other;
    mzt_keys(&keys, 1);
    mzt_keys(&other, 2);
    uint8_t secret[MZ_SECRET_BYTES], blob[MZ_SECRET_BYTES + MZ_SEAL_OVERHEAD],
        back[MZ_SECRET_BYTES + MZ_SEAL_OVERHEAD];
    size_t blob_len = sizeof(blob), out_len = 0;
    memcpy(secret, MZT_RFC_SECRET, sizeof(secret));
    assert_int_equal(mz_seal(&keys, "taro", secret, sizeof(secret), blob), MZ_OK);
    assert_int_equal(mz_unseal(&keys, "taro", blob, blob_len, back, &out_len), MZ_OK);

    /* Another login as associated data: the blob was moved to another user. */
    assert_int_equal(mz_unseal(&keys, "hanako", blob, blob_len, back, &out_len), MZ_ERR_CRYPTO);
    assert_int_equal(mz_unseal(&keys, "tar", blob, blob_len, back, &out_len), MZ_ERR_CRYPTO);
    assert_int_equal(mz_unseal(&keys, "taro ", blob, blob_len, back, &out_len), MZ_ERR_CRYPTO);
    /* Another key. */
    assert_int_equal(mz_unseal(&other, "taro", blob, blob_len, back, &out_len), MZ_ERR_CRYPTO);
    /* Any flipped bit, in the nonce, the ciphertext or the tag. */
    for (size_t i = 0; i < blob_len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            blob[i] ^= (uint8_t)(1u << bit);
            int rc = mz_unseal(&keys, "taro", blob, blob_len, back, &out_len);
            blob[i] ^= (uint8_t)(1u << bit);
            if (rc != MZ_ERR_CRYPTO)
                print_error("flipping bit %d of byte %zu was not noticed\n", bit, i);
            assert_int_equal(rc, MZ_ERR_CRYPTO);
        }
    }
    /* Cut short, or too short to hold a nonce and a tag. */
    assert_int_equal(mz_unseal(&keys, "taro", blob, blob_len - 1, back, &out_len), MZ_ERR_CRYPTO);
    assert_int_equal(mz_unseal(&keys, "taro", blob, MZ_SEAL_OVERHEAD - 1, back, &out_len),
                     MZ_ERR_CRYPTO);
    assert_int_equal(mz_unseal(&keys, "taro", blob, 0, back, &out_len), MZ_ERR_CRYPTO);
    /* Untouched, it still opens. */
    assert_int_equal(mz_unseal(&keys, "taro", blob, blob_len, back, &out_len), MZ_OK);
    assert_memory_equal(back, secret, sizeof(secret));
}

static void test_seal_random_nonce(void **state)
{
    (void)state;
    struct mz_keys keys;
    mzt_keys(&keys, 1);
    uint8_t secret[MZ_SECRET_BYTES], a[sizeof(secret) + MZ_SEAL_OVERHEAD],
        b[sizeof(secret) + MZ_SEAL_OVERHEAD];
    memcpy(secret, MZT_RFC_SECRET, sizeof(secret));
    assert_int_equal(mz_seal(&keys, "taro", secret, sizeof(secret), a), MZ_OK);
    assert_int_equal(mz_seal(&keys, "taro", secret, sizeof(secret), b), MZ_OK);
    assert_memory_not_equal(a, b, sizeof(a));
    /* Not only the nonce: the ciphertext differs too. */
    assert_memory_not_equal(a + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
                            b + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
                            sizeof(a) - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
}

static void test_code_hash(void **state)
{
    (void)state;
    struct mz_keys keys, other;
    mzt_keys(&keys, 1);
    mzt_keys(&other, 2);
    static const uint8_t salt1[16] = {1}, salt2[16] = {2};
    static const char code[] = "ABCD-EFGH-JKLM";
    uint8_t h1[MZ_HASH_BYTES], h1b[MZ_HASH_BYTES], h2[MZ_HASH_BYTES], h3[MZ_HASH_BYTES],
        h4[MZ_HASH_BYTES];
    mz_code_hash(&keys, salt1, sizeof(salt1), code, strlen(code), h1);
    mz_code_hash(&keys, salt1, sizeof(salt1), code, strlen(code), h1b);
    assert_memory_equal(h1, h1b, MZ_HASH_BYTES); /* the same input, the same hash */
    mz_code_hash(&keys, salt2, sizeof(salt2), code, strlen(code), h2);
    assert_memory_not_equal(h1, h2, MZ_HASH_BYTES); /* depends on the salt */
    mz_code_hash(&other, salt1, sizeof(salt1), code, strlen(code), h3);
    assert_memory_not_equal(h1, h3, MZ_HASH_BYTES); /* depends on the key */
    mz_code_hash(&keys, salt1, sizeof(salt1), "ABCD-EFGH-JKLN", strlen(code), h4);
    assert_memory_not_equal(h1, h4, MZ_HASH_BYTES); /* depends on the code */

    /* Keyed: not the plain hash of salt and code (which anyone with the store could
     * compute to test guesses). */
    uint8_t plain[MZ_HASH_BYTES];
    crypto_generichash_state g;
    crypto_generichash_init(&g, NULL, 0, MZ_HASH_BYTES);
    crypto_generichash_update(&g, salt1, sizeof(salt1));
    crypto_generichash_update(&g, (const uint8_t *)code, strlen(code));
    crypto_generichash_final(&g, plain, MZ_HASH_BYTES);
    assert_memory_not_equal(h1, plain, MZ_HASH_BYTES);
    /* Not keyed with the secrets or audit subkeys either: each subkey has one use. */
    crypto_generichash_init(&g, keys.secrets, sizeof(keys.secrets), MZ_HASH_BYTES);
    crypto_generichash_update(&g, salt1, sizeof(salt1));
    crypto_generichash_update(&g, (const uint8_t *)code, strlen(code));
    crypto_generichash_final(&g, plain, MZ_HASH_BYTES);
    assert_memory_not_equal(h1, plain, MZ_HASH_BYTES);
}

struct guarded {
    unsigned char data[24];
    unsigned char guard[8];
};

static void test_zero_array(void **state)
{
    (void)state;
    unsigned char buf[37];
    unsigned char *ptr = buf;
    (void)ptr;
    assert_true(MZ_IS_ARRAY(buf));
    assert_false(MZ_IS_ARRAY(ptr));

    memset(buf, 0xaa, sizeof(buf));
    mz_zero_array(buf);
    assert_true(all_zero(buf, sizeof(buf)));

    /* The whole array and nothing after it. */
    struct guarded g;
    memset(&g, 0x5a, sizeof(g));
    assert_true(MZ_IS_ARRAY(g.data));
    mz_zero_array(g.data);
    assert_true(all_zero(g.data, sizeof(g.data)));
    for (size_t i = 0; i < sizeof(g.guard); i++)
        assert_int_equal(g.guard[i], 0x5a);

    /* An array of wider elements: every byte, not one per element. */
    uint64_t wide[5];
    memset(wide, 0xff, sizeof(wide));
    mz_zero_array(wide);
    assert_true(all_zero(wide, sizeof(wide)));

    mz_zero_object(&g);
    assert_true(all_zero(&g, sizeof(g)));
}

static void test_zero_string(void **state)
{
    (void)state;
    char s[] = "123456\0tail";
    mz_zero_string(s);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(s[i], 0);
    assert_string_equal(s + 7, "tail"); /* only up to the terminator */
    mz_zero_string(NULL);
    mz_free_string(NULL);
    char *dup = strdup("secret");
    assert_non_null(dup);
    mz_free_string(dup);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keys_load_good, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_keys_load_wrong_size, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_keys_load_modes, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_keys_load_symlink, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_keys_load_not_regular_or_missing, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_keys_load_owner, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_keys_load_folder_on_the_way, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_key_file_create, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_key_file_create_never_follows, setup_dir,
                                        teardown_dir),
        cmocka_unit_test(test_seal_round_trip),
        cmocka_unit_test(test_unseal_refuses),
        cmocka_unit_test(test_seal_random_nonce),
        cmocka_unit_test(test_code_hash),
        cmocka_unit_test(test_zero_array),
        cmocka_unit_test(test_zero_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
