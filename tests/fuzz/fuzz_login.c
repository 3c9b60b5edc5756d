/* fuzz_login: the small validators of outside input in lib/mz_util.c.
 *
 * - mz_valid_login (the PAM user name, CLI arguments, the CSV user column) against
 *   the rule in mz_util.h written out again here.
 * - mz_valid_date (--valid-until, the CSV valid_until column, --since) against a
 *   calendar computed another way (days from the civil date, H. Hinnant's algorithm).
 * - mz_parse_uint (every number in the configuration and on the command line) against
 *   a digit-by-digit parser with overflow detection, for four ranges the code uses.
 * The input is NUL-terminated on the heap with nothing after it. */
#include "config.h"

#include "fuzz_common.h"

#include "mz_util.h"

#include <limits.h>

static bool ref_login(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32 || s[0] == '-' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c == 0x7f || c == '/' || c == ':' || c == '\\')
            return false;
    }
    return true;
}

/* Days since 1970-01-01 of the proleptic Gregorian date Y-M-D. */
static long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool ref_date(const char *s)
{
    if (strlen(s) != 10)
        return false;
    long v[3] = {0, 0, 0};
    int field = 0;
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (s[i] != '-')
                return false;
            field++;
        } else if (s[i] >= '0' && s[i] <= '9') {
            v[field] = v[field] * 10 + (s[i] - '0');
        } else {
            return false;
        }
    }
    long y = v[0], m = v[1], d = v[2];
    if (y < 1970 || m < 1 || m > 12 || d < 1)
        return false;
    long ny = m == 12 ? y + 1 : y, nm = m == 12 ? 1 : m + 1;
    return d <= days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1);
}

static bool ref_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (ULONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned long ranges[][2] = {{0, ULONG_MAX}, {1, 100}, {0, 30UL * 86400}, {6, 8}};
    char *s = fuzz_strdup(data, size);

    FUZZ_CHECK(mz_valid_login(s) == ref_login(s));
    FUZZ_CHECK(mz_valid_date(s) == ref_date(s));
    for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
        unsigned long got = 0xdeadbeef, want = 0;
        bool g = mz_parse_uint(s, ranges[r][0], ranges[r][1], &got);
        bool w = ref_uint(s, ranges[r][0], ranges[r][1], &want);
        FUZZ_CHECK(g == w);
        if (g)
            FUZZ_CHECK(got == want);
        else
            FUZZ_CHECK(got == 0xdeadbeef); /* untouched on failure */
    }
    free(s);
    return 0;
}
