/* ykshim.c - an emulated YubiKey at the USB boundary, for tests only.
 *
 * Loaded with LD_PRELOAD, this object defines the libusb-1.0 functions that
 * libykpers-1.so.1 imports, so the real libykpers talks to a YubiKey that
 * lives in the state file named by MZ_YKSHIM_STATE (format: README.md). It
 * speaks the YubiKey HID feature-report protocol as libykpers 1.20 does:
 * 8-byte reports, 70-byte frames sent as ten 7-byte chunks, a status report
 * when idle, CRC-16 checked frames and responses. It is never linked into
 * the installed module or tool.
 *
 * The libusb ABI is declared here rather than taken from <libusb.h> so the
 * shim builds without libusb-1.0-0-dev. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nettle/base16.h>
#include <nettle/hmac.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* ---- The part of the libusb-1.0 ABI that libykpers-1 uses ---- */

typedef struct libusb_context libusb_context;
typedef struct libusb_device libusb_device;
typedef struct libusb_device_handle libusb_device_handle;

struct libusb_device_descriptor {
    uint8_t bLength;
    uint8_t bDescriptorType;
    uint16_t bcdUSB;
    uint8_t bDeviceClass;
    uint8_t bDeviceSubClass;
    uint8_t bDeviceProtocol;
    uint8_t bMaxPacketSize0;
    uint16_t idVendor;
    uint16_t idProduct;
    uint16_t bcdDevice;
    uint8_t iManufacturer;
    uint8_t iProduct;
    uint8_t iSerialNumber;
    uint8_t bNumConfigurations;
};

enum {
    LIBUSB_SUCCESS = 0,
    LIBUSB_ERROR_IO = -1,
    LIBUSB_ERROR_ACCESS = -3,
    LIBUSB_ERROR_NO_DEVICE = -4,
    LIBUSB_ERROR_NOT_FOUND = -5,
    LIBUSB_ERROR_BUSY = -6,
    LIBUSB_ERROR_PIPE = -9,
    LIBUSB_ERROR_NO_MEM = -11,
};

int libusb_init(libusb_context **ctx);
void libusb_exit(libusb_context *ctx);
ssize_t libusb_get_device_list(libusb_context *ctx, libusb_device ***list);
void libusb_free_device_list(libusb_device **list, int unref_devices);
int libusb_get_device_descriptor(libusb_device *dev, struct libusb_device_descriptor *desc);
int libusb_open(libusb_device *dev, libusb_device_handle **handle);
void libusb_close(libusb_device_handle *handle);
libusb_device *libusb_get_device(libusb_device_handle *handle);
int libusb_get_configuration(libusb_device_handle *handle, int *config);
int libusb_set_configuration(libusb_device_handle *handle, int config);
int libusb_kernel_driver_active(libusb_device_handle *handle, int interface);
int libusb_detach_kernel_driver(libusb_device_handle *handle, int interface);
int libusb_attach_kernel_driver(libusb_device_handle *handle, int interface);
int libusb_claim_interface(libusb_device_handle *handle, int interface);
int libusb_release_interface(libusb_device_handle *handle, int interface);
int libusb_control_transfer(libusb_device_handle *handle, uint8_t request_type, uint8_t request,
                            uint16_t value, uint16_t index, unsigned char *data, uint16_t length,
                            unsigned int timeout);
int usleep(useconds_t usec);

/* ---- The YubiKey protocol (ykcore/ykdef.h in yubikey-personalization) ---- */

#define REPORT_SIZE 8 /* feature report: 7 data bytes and a status/sequence byte */
#define CHUNK_SIZE 7
#define STATUS_BYTE 7
#define FRAME_SIZE 70 /* payload[64], command, crc[2], filler[3] */
#define FRAME_CHUNKS (FRAME_SIZE / CHUNK_SIZE)
#define PAYLOAD_SIZE 64
#define FRAME_COMMAND 64
#define FRAME_CRC 65

#define HID_GET_REPORT 0x01
#define HID_SET_REPORT 0x09
#define HID_FEATURE_REPORT 0x0300 /* report type 3 in wValue's high byte, report id 0 */
#define REQUEST_CLASS_INTERFACE_OUT 0x21
#define REQUEST_CLASS_INTERFACE_IN 0xa1

#define SLOT_WRITE_FLAG 0x80 /* set by the host on each chunk; the key clears it */
#define RESP_PENDING_FLAG 0x40
#define RESP_TIMEOUT_WAIT_FLAG 0x20 /* waiting for touch; seconds left in the low bits */
#define SEQUENCE_MASK 0x1f
#define DUMMY_REPORT_WRITE 0x8f /* aborts a pending response */

#define CMD_CONFIG1 0x01
#define CMD_CONFIG2 0x03
#define CMD_DEVICE_SERIAL 0x10
#define CMD_CHAL_HMAC1 0x30
#define CMD_CHAL_HMAC2 0x38

/* YK_CONFIG: fixed[16] uid[6] key[16] accCode[6] fixedSize extFlags tktFlags cfgFlags
 * rfu[2] crc[2]. A 20-byte HMAC key is key[16] followed by uid[0..3]. */
#define CONFIG_SIZE 52
#define CONFIG_UID 16
#define CONFIG_KEY 22
#define CONFIG_TKT_FLAGS 46
#define CONFIG_CFG_FLAGS 47
#define TKTFLAG_CHAL_RESP 0x40
#define CFGFLAG_CHAL_HMAC 0x22
#define CFGFLAG_HMAC_LT64 0x04
#define CFGFLAG_CHAL_BTN_TRIG 0x08

#define CONFIG1_VALID 0x01 /* bits of the status report's touchLevel */
#define CONFIG2_VALID 0x02
#define CONFIG1_TOUCH 0x04
#define CONFIG2_TOUCH 0x08

#define HMAC_KEY_SIZE 20
#define CRC_OK_RESIDUAL 0xf0b8
#define TOUCH_TIMEOUT_US 15000000ULL /* the key gives up waiting for touch after 15 s */

#define YUBICO_VID 0x1050
#define YK5_OTP_FIDO_CCID_PID 0x0407 /* one of the ids yk_open_first_key accepts */

/* ---- The state file ---- */

#define STATE_ENV "MZ_YKSHIM_STATE"

enum touch_mode { TOUCH_IMMEDIATE, TOUCH_PENDING, TOUCH_NEVER };
enum fail_mode { FAIL_NONE, FAIL_OPEN, FAIL_CLAIM, FAIL_TRANSFER, FAIL_CHALLENGE };

struct bytes {
    uint8_t data[PAYLOAD_SIZE];
    size_t len;
};

struct slot_state {
    struct bytes key; /* empty: slot not programmed */
    bool touch;
    bool lt64;
};

struct shim_state {
    bool present;
    unsigned long serial;
    unsigned long version[3];
    struct slot_state slot[2];
    enum touch_mode touch;
    unsigned long touch_polls;
    enum fail_mode fail;
    unsigned long fail_at;
    bool replay;
    unsigned long challenges;
    struct bytes last_challenge;
    struct bytes last_response;
    unsigned long programmed;
};

enum field_kind { F_BOOL, F_COUNT, F_SERIAL, F_VERSION, F_KEY, F_BYTES, F_TOUCH, F_FAIL };

struct field {
    const char *name;
    enum field_kind kind;
    size_t offset;
};

#define AT(member) offsetof(struct shim_state, member)

/* Also the order in which the shim writes the file back. */
static const struct field fields[] = {
    {"present", F_BOOL, AT(present)},
    {"serial", F_SERIAL, AT(serial)},
    {"version", F_VERSION, AT(version)},
    {"slot1", F_KEY, AT(slot[0].key)},
    {"slot2", F_KEY, AT(slot[1].key)},
    {"slot1_touch", F_BOOL, AT(slot[0].touch)},
    {"slot2_touch", F_BOOL, AT(slot[1].touch)},
    {"slot1_lt64", F_BOOL, AT(slot[0].lt64)},
    {"slot2_lt64", F_BOOL, AT(slot[1].lt64)},
    {"touch", F_TOUCH, AT(touch)},
    {"fail", F_FAIL, AT(fail)},
    {"replay", F_BOOL, AT(replay)},
    {"challenges", F_COUNT, AT(challenges)},
    {"last_challenge", F_BYTES, AT(last_challenge)},
    {"last_response", F_KEY, AT(last_response)},
    {"programmed", F_COUNT, AT(programmed)},
};

static void state_defaults(struct shim_state *st)
{
    memset(st, 0, sizeof(*st));
    st->present = true;
    st->serial = 4711001;
    st->version[0] = 5;
    st->version[1] = 4;
    st->version[2] = 3;
}

/* Digits only: strtoul alone would accept signs and leading blanks. */
static const char *scan_ulong(const char *text, unsigned long max, unsigned long *out)
{
    char *end;
    if (*text < '0' || *text > '9')
        return NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || v > max)
        return NULL;
    *out = v;
    return end;
}

static bool parse_ulong(const char *text, unsigned long max, unsigned long *out)
{
    const char *end = scan_ulong(text, max, out);
    return end != NULL && *end == '\0';
}

static bool parse_version(const char *text, unsigned long version[3])
{
    for (int i = 0; i < 3; i++) {
        text = scan_ulong(text, 255, &version[i]);
        if (text == NULL || *text != (i < 2 ? '.' : '\0'))
            return false;
        text++;
    }
    return true;
}

static bool parse_hex(const char *text, struct bytes *out)
{
    struct base16_decode_ctx ctx;
    size_t n = strlen(text), len = 0;
    if (n % 2 != 0 || n / 2 > sizeof(out->data))
        return false;
    base16_decode_init(&ctx);
    if (!base16_decode_update(&ctx, &len, out->data, n, text) || !base16_decode_final(&ctx) ||
        len != n / 2)
        return false;
    out->len = len;
    return true;
}

/* An HMAC key or response: 20 bytes, or empty. */
static bool parse_key(const char *text, struct bytes *out)
{
    return parse_hex(text, out) && (out->len == 0 || out->len == HMAC_KEY_SIZE);
}

static bool parse_touch(const char *text, struct shim_state *st)
{
    st->touch_polls = 0;
    if (strcmp(text, "immediate") == 0)
        st->touch = TOUCH_IMMEDIATE;
    else if (strcmp(text, "never") == 0)
        st->touch = TOUCH_NEVER;
    else if (strncmp(text, "pending:", 8) == 0 &&
             parse_ulong(text + 8, ULONG_MAX, &st->touch_polls))
        st->touch = TOUCH_PENDING;
    else
        return false;
    return true;
}

static bool parse_fail(const char *text, struct shim_state *st)
{
    static const char *const names[] = {"none", "open", "claim", "transfer"};
    st->fail_at = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(text, names[i]) == 0) {
            st->fail = (enum fail_mode)i;
            return true;
        }
    }
    st->fail = FAIL_CHALLENGE;
    return strncmp(text, "challenge:", 10) == 0 &&
           parse_ulong(text + 10, ULONG_MAX, &st->fail_at) && st->fail_at > 0;
}

static bool parse_field(const struct field *f, const char *value, struct shim_state *st)
{
    void *member = (char *)st + f->offset;
    switch (f->kind) {
    case F_BOOL:
        if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
            return false;
        *(bool *)member = value[0] == '1';
        return true;
    case F_COUNT: return parse_ulong(value, ULONG_MAX, (unsigned long *)member);
    case F_SERIAL: return parse_ulong(value, UINT32_MAX, (unsigned long *)member);
    case F_VERSION: return parse_version(value, (unsigned long *)member);
    case F_KEY: return parse_key(value, member);
    case F_BYTES: return parse_hex(value, member);
    case F_TOUCH: return parse_touch(value, st);
    case F_FAIL: return parse_fail(value, st);
    }
    return false;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* One "key=value" line; a '#' starts a comment anywhere, as no value contains one. */
static bool parse_line(char *line, struct shim_state *st, const char *path, unsigned lineno)
{
    char *hash = strchr(line, '#');
    if (hash != NULL)
        *hash = '\0';
    char *text = trim(line);
    if (*text == '\0')
        return true;
    char *eq = strchr(text, '=');
    if (eq == NULL) {
        fprintf(stderr, "ykshim: %s:%u: expected key=value\n", path, lineno);
        return false;
    }
    *eq = '\0';
    const char *key = trim(text), *value = trim(eq + 1);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (strcmp(key, fields[i].name) != 0)
            continue;
        if (parse_field(&fields[i], value, st))
            return true;
        fprintf(stderr, "ykshim: %s:%u: bad value for %s: '%s'\n", path, lineno, key, value);
        return false;
    }
    fprintf(stderr, "ykshim: %s:%u: unknown key '%s'\n", path, lineno, key);
    return false;
}

static bool load_state(const char *path, struct shim_state *st)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        fprintf(stderr, "ykshim: cannot read %s: %s\n", path, strerror(errno));
        return false;
    }
    state_defaults(st);
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    bool ok = true;
    while (ok && getline(&line, &cap, f) >= 0)
        ok = parse_line(line, st, path, ++lineno);
    free(line);
    fclose(f);
    return ok;
}

/* Reads the current state; false (after saying why, unless the variable is
 * unset) means there is no usable YubiKey. */
static bool read_state(struct shim_state *st)
{
    const char *path = getenv(STATE_ENV);
    return path != NULL && load_state(path, st);
}

static void write_hex(FILE *f, const struct bytes *b)
{
    for (size_t i = 0; i < b->len; i++)
        fprintf(f, "%02x", b->data[i]);
}

static void write_field(FILE *f, const struct field *fl, const struct shim_state *st)
{
    static const char *const touch_names[] = {"immediate", "pending", "never"};
    static const char *const fail_names[] = {"none", "open", "claim", "transfer", "challenge"};
    const void *member = (const char *)st + fl->offset;
    const unsigned long *num = member;
    fprintf(f, "%s=", fl->name);
    switch (fl->kind) {
    case F_BOOL: fprintf(f, "%d", *(const bool *)member ? 1 : 0); break;
    case F_COUNT:
    case F_SERIAL: fprintf(f, "%lu", *num); break;
    case F_VERSION: fprintf(f, "%lu.%lu.%lu", num[0], num[1], num[2]); break;
    case F_KEY:
    case F_BYTES: write_hex(f, member); break;
    case F_TOUCH:
        fputs(touch_names[st->touch], f);
        if (st->touch == TOUCH_PENDING)
            fprintf(f, ":%lu", st->touch_polls);
        break;
    case F_FAIL:
        fputs(fail_names[st->fail], f);
        if (st->fail == FAIL_CHALLENGE)
            fprintf(f, ":%lu", st->fail_at);
        break;
    }
    fputc('\n', f);
}

/* Readers never lock, so the new state must appear all at once: write a
 * temporary file beside the old one and rename it over. */
static bool store_state(const char *path, const struct shim_state *st)
{
    char tmp[PATH_MAX];
    struct stat old;
    if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
        return false;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return false;
    if (stat(path, &old) == 0)
        (void)fchmod(fd, old.st_mode & 07777);
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        unlink(tmp);
        return false;
    }
    fputs("# mnzone ykshim state (tests/yubikey/README.md)\n", f);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        write_field(f, &fields[i], st);
    bool ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) == 0)
        return true;
    fprintf(stderr, "ykshim: cannot write %s\n", path);
    unlink(tmp);
    return false;
}

/* A change is read-modify-write of the whole file, so concurrent processes
 * serialize on a lock file beside it (the state file itself is replaced by
 * rename, so a lock on it would not be shared). Returns the lock's fd. */
static int begin_update(struct shim_state *st)
{
    const char *path = getenv(STATE_ENV);
    char lock_path[PATH_MAX];
    if (path == NULL || snprintf(lock_path, sizeof(lock_path), "%s.lock", path) >= PATH_MAX)
        return -1;
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX) != 0 || !load_state(path, st)) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool finish_update(int lock_fd, const struct shim_state *st)
{
    bool ok = store_state(getenv(STATE_ENV), st);
    close(lock_fd); /* releases the flock */
    return ok;
}

/* ---- The emulated key ---- */

/* What libykpers slept, in microseconds, as the key's clock for touch timeouts. */
static unsigned long long ykpers_slept_us;

enum key_mode { KEY_IDLE, KEY_WAITING_FOR_TOUCH, KEY_RESPONDING };

struct key_io {
    uint8_t frame[FRAME_SIZE];
    enum key_mode mode;
    /* a challenge waiting for touch */
    uint8_t key[HMAC_KEY_SIZE];
    struct bytes challenge;
    bool touch_never;
    unsigned long polls_left;
    unsigned long long wait_started_us;
    /* a response being read out */
    uint8_t out[FRAME_SIZE];
    size_t out_chunks;
    size_t next_chunk;
};

struct libusb_context {
    int unused;
};

struct libusb_device {
    uint16_t vendor;
    uint16_t product;
};

struct libusb_device_handle {
    libusb_device *dev;
    bool driver_detached;
    struct key_io io;
};

static struct libusb_context usb_context;
static struct libusb_device root_hub = {0x1d6b, 0x0002}; /* so enumeration has to filter */
static struct libusb_device yubikey = {YUBICO_VID, YK5_OTP_FIDO_CCID_PID};

/* yubikey_crc16 of libyubikey: CRC-16/X.25 without the final inversion. */
static uint16_t crc16(const uint8_t *buf, size_t len)
{
    uint16_t crc = 0xffff;
    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0x8408) : (uint16_t)(crc >> 1);
    }
    return crc;
}

static uint8_t programming_sequence(const struct shim_state *st)
{
    /* A key with no valid slot reports 0; otherwise every write changes it,
     * which is how libykpers tells that a configuration was accepted. */
    if (st->slot[0].key.len == 0 && st->slot[1].key.len == 0)
        return 0;
    return (uint8_t)(1 + st->programmed % 255);
}

static uint16_t touch_level(const struct shim_state *st)
{
    uint16_t level = 0;
    if (st->slot[0].key.len != 0)
        level |= CONFIG1_VALID | (st->slot[0].touch ? CONFIG1_TOUCH : 0);
    if (st->slot[1].key.len != 0)
        level |= CONFIG2_VALID | (st->slot[1].touch ? CONFIG2_TOUCH : 0);
    return level;
}

/* Byte 0 is unused; 1..6 are YK_STATUS (version, pgmSeq, touchLevel LE). */
static void status_report(const struct shim_state *st, uint8_t status_byte, uint8_t *report)
{
    uint16_t level = touch_level(st);
    memset(report, 0, REPORT_SIZE);
    for (int i = 0; i < 3; i++)
        report[1 + i] = (uint8_t)st->version[i];
    report[4] = programming_sequence(st);
    report[5] = (uint8_t)(level & 0xff);
    report[6] = (uint8_t)(level >> 8);
    report[STATUS_BYTE] = status_byte;
}

/* Queues data plus the inverted CRC that makes libykpers' check come out at
 * CRC_OK_RESIDUAL, read out in 7-byte chunks. */
static void start_response(struct key_io *io, const uint8_t *data, size_t len)
{
    uint16_t crc = (uint16_t)~crc16(data, len);
    memset(io->out, 0, sizeof(io->out));
    memcpy(io->out, data, len);
    io->out[len] = (uint8_t)(crc & 0xff);
    io->out[len + 1] = (uint8_t)(crc >> 8);
    io->out_chunks = (len + 2 + CHUNK_SIZE - 1) / CHUNK_SIZE;
    io->next_chunk = 0;
    io->mode = KEY_RESPONDING;
}

/* Chunks carry RESP_PENDING_FLAG and their index; a chunk with index 0 after
 * the last one tells libykpers the response is complete. */
static void response_chunk(struct key_io *io, uint8_t *report)
{
    memset(report, 0, REPORT_SIZE);
    if (io->next_chunk < io->out_chunks) {
        memcpy(report, io->out + io->next_chunk * CHUNK_SIZE, CHUNK_SIZE);
        report[STATUS_BYTE] = (uint8_t)(RESP_PENDING_FLAG | io->next_chunk);
        io->next_chunk++;
    } else {
        report[STATUS_BYTE] = RESP_PENDING_FLAG;
        io->next_chunk = 0;
    }
}

static void hmac_sha1(const uint8_t *key, const struct bytes *msg, uint8_t *digest)
{
    struct hmac_sha1_ctx ctx;
    hmac_sha1_set_key(&ctx, HMAC_KEY_SIZE, key);
    hmac_sha1_update(&ctx, msg->len, msg->data);
    hmac_sha1_digest(&ctx, SHA1_DIGEST_SIZE, digest);
    memset(&ctx, 0, sizeof(ctx));
}

/* The key answers: HMAC (or, when replaying, the captured last answer),
 * recorded in the state file before it is handed out. */
static int release_response(struct key_io *io)
{
    struct shim_state st;
    uint8_t digest[SHA1_DIGEST_SIZE] = {0};
    int lock = begin_update(&st);
    if (lock < 0)
        return LIBUSB_ERROR_IO;
    if (!st.replay)
        hmac_sha1(io->key, &io->challenge, digest);
    else if (st.last_response.len == SHA1_DIGEST_SIZE)
        memcpy(digest, st.last_response.data, SHA1_DIGEST_SIZE);
    st.last_challenge = io->challenge;
    memcpy(st.last_response.data, digest, SHA1_DIGEST_SIZE);
    st.last_response.len = SHA1_DIGEST_SIZE;
    if (!finish_update(lock, &st))
        return LIBUSB_ERROR_IO;
    start_response(io, digest, SHA1_DIGEST_SIZE);
    return LIBUSB_SUCCESS;
}

static uint8_t touch_seconds_left(const struct key_io *io)
{
    unsigned long long waited = ykpers_slept_us - io->wait_started_us;
    unsigned long long left = (TOUCH_TIMEOUT_US - waited + 999999) / 1000000;
    return (uint8_t)(left & SEQUENCE_MASK);
}

/* One status poll while the key blinks for touch. */
static int poll_touch(struct key_io *io)
{
    if (ykpers_slept_us - io->wait_started_us >= TOUCH_TIMEOUT_US) {
        io->mode = KEY_IDLE; /* gave up: libykpers sees the wait flag drop */
        return LIBUSB_SUCCESS;
    }
    if (!io->touch_never && io->polls_left == 0)
        return release_response(io);
    if (!io->touch_never)
        io->polls_left--;
    return LIBUSB_SUCCESS;
}

static int read_report(struct key_io *io, const struct shim_state *st, uint8_t *report)
{
    if (io->mode == KEY_WAITING_FOR_TOUCH) {
        int rc = poll_touch(io);
        if (rc != LIBUSB_SUCCESS)
            return rc;
    }
    if (io->mode == KEY_RESPONDING)
        response_chunk(io, report);
    else if (io->mode == KEY_WAITING_FOR_TOUCH)
        status_report(st, RESP_TIMEOUT_WAIT_FLAG | touch_seconds_left(io), report);
    else
        status_report(st, 0, report);
    return LIBUSB_SUCCESS;
}

/* Only HMAC-SHA1 challenge-response configurations are emulated; an all-zero
 * configuration erases the slot, as on a real key. */
static bool decode_config(const uint8_t *config, struct slot_state *slot)
{
    static const uint8_t zeros[CONFIG_SIZE];
    memset(slot, 0, sizeof(*slot));
    if (memcmp(config, zeros, CONFIG_SIZE) == 0)
        return true;
    if (crc16(config, CONFIG_SIZE) != CRC_OK_RESIDUAL) {
        fprintf(stderr, "ykshim: configuration CRC mismatch, not programmed\n");
        return false;
    }
    if (!(config[CONFIG_TKT_FLAGS] & TKTFLAG_CHAL_RESP) ||
        (config[CONFIG_CFG_FLAGS] & CFGFLAG_CHAL_HMAC) != CFGFLAG_CHAL_HMAC) {
        fprintf(stderr, "ykshim: only HMAC-SHA1 challenge-response slots are emulated\n");
        return false;
    }
    memcpy(slot->key.data, config + CONFIG_KEY, 16);
    memcpy(slot->key.data + 16, config + CONFIG_UID, 4);
    slot->key.len = HMAC_KEY_SIZE;
    slot->touch = (config[CONFIG_CFG_FLAGS] & CFGFLAG_CHAL_BTN_TRIG) != 0;
    slot->lt64 = (config[CONFIG_CFG_FLAGS] & CFGFLAG_HMAC_LT64) != 0;
    return true;
}

/* A rejected configuration leaves pgmSeq alone, so libykpers reports
 * YK_EWRITEERR. Access codes are not emulated. */
static int program_slot(struct key_io *io, int slot)
{
    struct shim_state st;
    struct slot_state config;
    if (!decode_config(io->frame, &config))
        return LIBUSB_SUCCESS;
    int lock = begin_update(&st);
    if (lock < 0)
        return LIBUSB_ERROR_IO;
    st.slot[slot] = config;
    st.programmed++;
    memset(&config, 0, sizeof(config));
    return finish_update(lock, &st) ? LIBUSB_SUCCESS : LIBUSB_ERROR_IO;
}

static void send_serial(struct key_io *io, const struct shim_state *st)
{
    uint8_t serial[4]; /* big-endian, unlike everything else on the key */
    for (int i = 0; i < 4; i++)
        serial[i] = (uint8_t)(st->serial >> (24 - 8 * i));
    start_response(io, serial, sizeof(serial));
}

/* With HMAC_LT64 the message ends before the run of bytes equal to the last
 * payload byte (the host pads with it); otherwise it is all 64 bytes. */
static void challenge_message(const uint8_t *payload, bool lt64, struct bytes *msg)
{
    size_t len = PAYLOAD_SIZE;
    while (lt64 && len > 0 && payload[len - 1] == payload[PAYLOAD_SIZE - 1])
        len--;
    memcpy(msg->data, payload, len);
    msg->len = len;
}

/* Every challenge counts, even one that then fails, waits or goes unanswered,
 * so that fail=challenge:N can pick out the Nth. */
static int start_challenge(struct key_io *io, int slot)
{
    struct shim_state st;
    int lock = begin_update(&st);
    if (lock < 0)
        return LIBUSB_ERROR_IO;
    st.challenges++;
    if (!finish_update(lock, &st))
        return LIBUSB_ERROR_IO;
    if (st.fail == FAIL_CHALLENGE && st.challenges == st.fail_at)
        return LIBUSB_ERROR_IO;
    const struct slot_state *s = &st.slot[slot];
    if (s->key.len == 0)
        return LIBUSB_SUCCESS; /* an empty slot never answers: libykpers times out */
    memcpy(io->key, s->key.data, HMAC_KEY_SIZE);
    challenge_message(io->frame, s->lt64, &io->challenge);
    if (!s->touch || st.touch == TOUCH_IMMEDIATE)
        return release_response(io);
    io->mode = KEY_WAITING_FOR_TOUCH;
    io->touch_never = st.touch == TOUCH_NEVER;
    io->polls_left = st.touch_polls;
    io->wait_started_us = ykpers_slept_us;
    return LIBUSB_SUCCESS;
}

/* A frame with a bad CRC is dropped, as the key does; the host then times out. */
static int run_frame(struct key_io *io, const struct shim_state *st)
{
    uint16_t crc = (uint16_t)(io->frame[FRAME_CRC] | io->frame[FRAME_CRC + 1] << 8);
    if (crc16(io->frame, PAYLOAD_SIZE) != crc) {
        fprintf(stderr, "ykshim: frame CRC mismatch, ignored\n");
        return LIBUSB_SUCCESS;
    }
    switch (io->frame[FRAME_COMMAND]) {
    case CMD_CONFIG1: return program_slot(io, 0);
    case CMD_CONFIG2: return program_slot(io, 1);
    case CMD_CHAL_HMAC1: return start_challenge(io, 0);
    case CMD_CHAL_HMAC2: return start_challenge(io, 1);
    case CMD_DEVICE_SERIAL: send_serial(io, st); return LIBUSB_SUCCESS;
    default:
        fprintf(stderr, "ykshim: command 0x%02x is not emulated\n", io->frame[FRAME_COMMAND]);
        return LIBUSB_SUCCESS;
    }
}

/* libykpers skips all-zero chunks except the first and last, so a frame
 * starts zeroed at chunk 0 and is complete at the last chunk. */
static int write_report(struct key_io *io, const struct shim_state *st, const uint8_t *report)
{
    uint8_t seq = report[STATUS_BYTE] & SEQUENCE_MASK;
    if (report[STATUS_BYTE] == DUMMY_REPORT_WRITE) {
        io->mode = KEY_IDLE;
        return LIBUSB_SUCCESS;
    }
    if (!(report[STATUS_BYTE] & SLOT_WRITE_FLAG) || seq >= FRAME_CHUNKS)
        return LIBUSB_SUCCESS;
    if (seq == 0) {
        memset(io->frame, 0, sizeof(io->frame));
        io->mode = KEY_IDLE;
    }
    memcpy(io->frame + seq * CHUNK_SIZE, report, CHUNK_SIZE);
    return seq == FRAME_CHUNKS - 1 ? run_frame(io, st) : LIBUSB_SUCCESS;
}

/* The state as every USB operation on the key sees it. */
static int load_for_io(struct shim_state *st)
{
    if (!read_state(st))
        return LIBUSB_ERROR_NO_DEVICE;
    return st->present ? LIBUSB_SUCCESS : LIBUSB_ERROR_NO_DEVICE;
}

/* ---- libusb entry points ---- */

int libusb_init(libusb_context **ctx)
{
    if (ctx != NULL)
        *ctx = &usb_context;
    return LIBUSB_SUCCESS;
}

void libusb_exit(libusb_context *ctx)
{
    (void)ctx;
}

ssize_t libusb_get_device_list(libusb_context *ctx, libusb_device ***list)
{
    struct shim_state st;
    libusb_device **devices = calloc(3, sizeof(*devices));
    ssize_t n = 0;
    (void)ctx;
    if (devices == NULL)
        return LIBUSB_ERROR_NO_MEM;
    devices[n++] = &root_hub;
    if (read_state(&st) && st.present)
        devices[n++] = &yubikey;
    *list = devices;
    return n;
}

void libusb_free_device_list(libusb_device **list, int unref_devices)
{
    (void)unref_devices;
    free(list);
}

int libusb_get_device_descriptor(libusb_device *dev, struct libusb_device_descriptor *desc)
{
    memset(desc, 0, sizeof(*desc));
    desc->bLength = 18;
    desc->bDescriptorType = 1;
    desc->bcdUSB = 0x0200;
    desc->bMaxPacketSize0 = 64;
    desc->idVendor = dev->vendor;
    desc->idProduct = dev->product;
    desc->bNumConfigurations = 1;
    return LIBUSB_SUCCESS;
}

int libusb_open(libusb_device *dev, libusb_device_handle **handle)
{
    struct shim_state st;
    int rc = load_for_io(&st);
    if (dev != &yubikey || (rc == LIBUSB_SUCCESS && st.fail == FAIL_OPEN))
        return LIBUSB_ERROR_ACCESS;
    if (rc != LIBUSB_SUCCESS)
        return rc;
    libusb_device_handle *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return LIBUSB_ERROR_NO_MEM;
    h->dev = dev;
    *handle = h;
    return LIBUSB_SUCCESS;
}

void libusb_close(libusb_device_handle *handle)
{
    if (handle != NULL)
        memset(&handle->io, 0, sizeof(handle->io));
    free(handle);
}

libusb_device *libusb_get_device(libusb_device_handle *handle)
{
    return handle->dev;
}

int libusb_get_configuration(libusb_device_handle *handle, int *config)
{
    (void)handle;
    *config = 1;
    return LIBUSB_SUCCESS;
}

int libusb_set_configuration(libusb_device_handle *handle, int config)
{
    (void)handle;
    return config == 1 ? LIBUSB_SUCCESS : LIBUSB_ERROR_NOT_FOUND;
}

/* usbhid owns the key's interface until libykpers detaches it. */
int libusb_kernel_driver_active(libusb_device_handle *handle, int interface)
{
    (void)interface;
    return handle->driver_detached ? 0 : 1;
}

int libusb_detach_kernel_driver(libusb_device_handle *handle, int interface)
{
    (void)interface;
    handle->driver_detached = true;
    return LIBUSB_SUCCESS;
}

int libusb_attach_kernel_driver(libusb_device_handle *handle, int interface)
{
    (void)interface;
    if (!handle->driver_detached)
        return LIBUSB_ERROR_NOT_FOUND;
    handle->driver_detached = false;
    return LIBUSB_SUCCESS;
}

int libusb_claim_interface(libusb_device_handle *handle, int interface)
{
    struct shim_state st;
    int rc = load_for_io(&st);
    (void)handle;
    if (rc != LIBUSB_SUCCESS)
        return rc;
    if (interface != 0)
        return LIBUSB_ERROR_NOT_FOUND;
    return st.fail == FAIL_CLAIM ? LIBUSB_ERROR_BUSY : LIBUSB_SUCCESS;
}

int libusb_release_interface(libusb_device_handle *handle, int interface)
{
    (void)handle;
    (void)interface;
    return LIBUSB_SUCCESS;
}

/* Only HID GET_REPORT/SET_REPORT of the 8-byte feature report; anything else
 * stalls, as a control endpoint does for a request it does not know. */
int libusb_control_transfer(libusb_device_handle *handle, uint8_t request_type, uint8_t request,
                            uint16_t value, uint16_t index, unsigned char *data, uint16_t length,
                            unsigned int timeout)
{
    struct shim_state st;
    int rc = load_for_io(&st);
    (void)timeout;
    if (rc != LIBUSB_SUCCESS)
        return rc;
    if (st.fail == FAIL_TRANSFER)
        return LIBUSB_ERROR_IO;
    if (value != HID_FEATURE_REPORT || index != 0 || length != REPORT_SIZE || data == NULL)
        return LIBUSB_ERROR_PIPE;
    if (request_type == REQUEST_CLASS_INTERFACE_IN && request == HID_GET_REPORT)
        rc = read_report(&handle->io, &st, data);
    else if (request_type == REQUEST_CLASS_INTERFACE_OUT && request == HID_SET_REPORT)
        rc = write_report(&handle->io, &st, data);
    else
        rc = LIBUSB_ERROR_PIPE;
    return rc == LIBUSB_SUCCESS ? REPORT_SIZE : rc;
}

/* ---- Sleeping ---- */

static bool called_from_ykpers(const void *return_address)
{
    Dl_info info;
    if (dladdr(return_address, &info) == 0 || info.dli_fname == NULL)
        return false;
    const char *base = strrchr(info.dli_fname, '/');
    return strncmp(base != NULL ? base + 1 : info.dli_fname, "libykpers-1.so", 14) == 0;
}

/* libykpers measures its timeouts by adding up what it asked to sleep, not
 * by the clock, and waits up to 257 s once the key says it wants touch. So
 * its sleeps return at once and advance the key's own clock instead; every
 * other caller (SQLite's busy handler, the product) really sleeps. */
int usleep(useconds_t usec)
{
    static int (*real_usleep)(useconds_t);
    if (called_from_ykpers(__builtin_return_address(0))) {
        ykpers_slept_us += usec;
        return 0;
    }
    if (real_usleep == NULL)
        *(void **)&real_usleep = dlsym(RTLD_NEXT, "usleep");
    if (real_usleep != NULL)
        return real_usleep(usec);
    struct timespec ts = {usec / 1000000, (long)(usec % 1000000) * 1000};
    return nanosleep(&ts, NULL);
}
