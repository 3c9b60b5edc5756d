/* fuzz_utf8: mz_valid_utf8, which guards the issuer in the configuration and the
 * names and departments typed by administrators or imported from CSV.
 *
 * The input, NUL-terminated, must get the same verdict from a reference validator
 * written here from the table of well-formed byte sequences in The Unicode Standard
 * (chapter 3, table 3-7), which needs no arithmetic on code points. The string is on
 * the heap with nothing after its NUL, so a read past the end is caught. A valid
 * string must also stay valid when cut after any whole character, and a string cut in
 * the middle of a character must not be valid (the function must not look past the
 * NUL for continuation bytes). */
#include "config.h"

#include "fuzz_common.h"

#include "mz_util.h"

/* Length of the well-formed sequence at S, or 0. Table 3-7. */
static size_t ref_sequence(const unsigned char *s)
{
    static const struct {
        unsigned char lo, hi;   /* first byte */
        unsigned char lo2, hi2; /* second byte */
        int len;
    } rows[] = {
        {0x01, 0x7f, 0, 0, 1},       {0xc2, 0xdf, 0x80, 0xbf, 2}, {0xe0, 0xe0, 0xa0, 0xbf, 3},
        {0xe1, 0xec, 0x80, 0xbf, 3}, {0xed, 0xed, 0x80, 0x9f, 3}, {0xee, 0xef, 0x80, 0xbf, 3},
        {0xf0, 0xf0, 0x90, 0xbf, 4}, {0xf1, 0xf3, 0x80, 0xbf, 4}, {0xf4, 0xf4, 0x80, 0x8f, 4},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        if (s[0] < rows[r].lo || s[0] > rows[r].hi)
            continue;
        if (rows[r].len == 1)
            return 1;
        if (s[1] < rows[r].lo2 || s[1] > rows[r].hi2)
            return 0;
        for (int i = 2; i < rows[r].len; i++)
            if (s[i] < 0x80 || s[i] > 0xbf)
                return 0;
        return (size_t)rows[r].len;
    }
    return 0;
}

static bool ref_valid(const char *str, size_t *cuts, size_t *ncuts)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    *ncuts = 0;
    while (s[i] != '\0') {
        size_t n = ref_sequence(s + i);
        if (n == 0)
            return false;
        i += n;
        cuts[(*ncuts)++] = i;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_strdup(data, size);
    size_t len = strlen(s);
    size_t *cuts = malloc((len + 1) * sizeof(*cuts));
    size_t ncuts = 0;
    if (cuts == NULL)
        abort();
    bool want = ref_valid(s, cuts, &ncuts);
    FUZZ_CHECK(mz_valid_utf8(s) == want);
    if (want && ncuts > 0) {
        /* Cut at the last character boundary, and one byte into the last character. */
        size_t at = ncuts >= 2 ? cuts[ncuts - 2] : 0;
        size_t end = cuts[ncuts - 1];
        char *c = fuzz_strdup((const uint8_t *)s, at);
        FUZZ_CHECK(mz_valid_utf8(c));
        free(c);
        if (end - at > 1) {
            c = fuzz_strdup((const uint8_t *)s, end - 1);
            FUZZ_CHECK(!mz_valid_utf8(c));
            free(c);
        }
    }
    free(cuts);
    free(s);
    return 0;
}
