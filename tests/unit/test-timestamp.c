/* SPDX-License-Identifier: MIT */
/* test-timestamp.c - points in time as users write them (src/shared/timestamp.c). */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "shared/timestamp.h"

#define NOW UINT64_C(1764768000000000)  /* 2025-12-03T13:20:00Z */

static void assert_time(const char *s, bool relative, uint64_t want) {
        uint64_t t = 0;

        g_test_message("%s", s);
        g_assert_cmpint(timestamp_parse(s, NOW, relative, &t), ==, 0);
        g_assert_cmpuint(t, ==, want);
}

static void assert_bad(const char *s, bool relative, int want) {
        uint64_t t = 0;

        g_test_message("%s", s);
        g_assert_cmpint(timestamp_parse(s, NOW, relative, &t), ==, want);
}

static void test_good(void) {
        assert_time("0", false, 0);
        assert_time("1764768000", false, NOW);
        assert_time("1764768000.5", false, NOW + 500000);
        assert_time("1764768000.1234567", false, NOW + 123456);
        assert_time("2025-12-03T13:20:00Z", false, NOW);
        assert_time("2025-12-03t13:20:00z", false, NOW);
        assert_time("2025-12-03 13:20:00.25Z", false, NOW + 250000);
        assert_time("2025-12-03T14:20:00+01:00", false, NOW);
        assert_time("2025-12-03T12:50:00-00:30", false, NOW);
        assert_time("1970-01-01T00:00:00Z", false, 0);
        assert_time("2024-02-29T00:00:00Z", false, UINT64_C(1709164800) * 1000000);
        assert_time("9999-12-31T23:59:59Z", false, UINT64_C(253402300799) * 1000000);
        assert_time("90s", true, NOW - 90 * UINT64_C(1000000));
        assert_time("5m", true, NOW - 300 * UINT64_C(1000000));
        assert_time("2h", true, NOW - 7200 * UINT64_C(1000000));
        assert_time("1d", true, NOW - 86400 * UINT64_C(1000000));
}

static void test_bad(void) {
        char longer[TIMESTAMP_TEXT_MAX + 2];

        assert_bad("", false, -EINVAL);
        assert_bad("5m", false, -EINVAL);       /* durations only where allowed */
        assert_bad("5x", true, -EINVAL);
        assert_bad("m", true, -EINVAL);
        assert_bad("-1", false, -EINVAL);
        assert_bad("1.", false, -EINVAL);
        assert_bad("1.2.3", false, -EINVAL);
        assert_bad("1.1234567890", false, -EINVAL);
        assert_bad(" 1", false, -EINVAL);
        assert_bad("99999999999999999999", false, -ERANGE);
        assert_bad("253402300800", false, -ERANGE);
        assert_bad("2025-02-29T00:00:00Z", false, -EINVAL);
        assert_bad("2025-13-01T00:00:00Z", false, -EINVAL);
        assert_bad("2025-12-00T00:00:00Z", false, -EINVAL);
        assert_bad("2025-12-03T24:00:00Z", false, -EINVAL);
        assert_bad("2025-12-03T13:60:00Z", false, -EINVAL);
        assert_bad("2025-12-03T13:20:00", false, -EINVAL);        /* no zone */
        assert_bad("2025-12-03T13:20:00+1:00", false, -EINVAL);
        assert_bad("2025-12-03T13:20:00+24:00", false, -EINVAL);
        assert_bad("2025-12-03T13:20:00Zjunk", false, -EINVAL);
        assert_bad("2025-12-03", false, -EINVAL);
        assert_bad("1969-12-31T23:59:59Z", false, -ERANGE);
        assert_bad("1970-01-01T00:30:00+01:00", false, -ERANGE);
        assert_bad("9999-12-31T23:59:59-01:00", false, -ERANGE);
        assert_bad("99999999999d", true, -ERANGE);
        assert_bad("30000d", true, -ERANGE);                    /* before 1970 */
        memset(longer, '1', sizeof(longer) - 1);
        longer[sizeof(longer) - 1] = 0;
        assert_bad(longer, false, -EINVAL);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/timestamp/good", test_good);
        g_test_add_func("/timestamp/bad", test_bad);
        return g_test_run();
}
