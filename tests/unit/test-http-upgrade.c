/* SPDX-License-Identifier: MIT */
/* test-http-upgrade.c - the pure parts of attach's Upgrade (src/transport/http-upgrade.c): token lists of
 * Connection and Upgrade, and the answer's head as telerun reads it off the socket (split anywhere, bounded,
 * malformed heads refused). */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "transport/http-upgrade.h"

static bool has(const char *value, const char *token) {
        return http_header_has_token(value, strlen(value), token);
}

static void test_tokens(void) {
        g_assert_true(has("upgrade", "upgrade"));
        g_assert_true(has("Upgrade", "upgrade"));
        g_assert_true(has("keep-alive, Upgrade", "upgrade"));
        g_assert_true(has(" ,, upgrade ,", "upgrade"));
        g_assert_true(has("a,\tUPGRADE\t", "upgrade"));
        g_assert_true(has("h2c, tcp", "tcp"));
        g_assert_false(has("", "upgrade"));
        g_assert_false(has(",,,", "upgrade"));
        g_assert_false(has("upgraded", "upgrade"));
        g_assert_false(has("upgrad", "upgrade"));
        g_assert_false(has("tcp/1", "tcp"));
        g_assert_false(has("up grade", "upgrade"));
        g_assert_false(has("keep-alive", "upgrade"));
        /* n bounds it: no NUL needed, nothing read past it. */
        g_assert_false(http_header_has_token("upgrade", 6, "upgrade"));
        g_assert_true(http_header_has_token("tcp,xyz", 3, "tcp"));
}

#define SWITCH "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"

static void test_head_switch(void) {
        static const char answer[] = SWITCH "stream bytes";
        HttpUpgradeHead h;

        /* Every prefix shorter than the head is incomplete; the whole is the same head. */
        for (size_t n = 0; n < strlen(SWITCH); n++)
                g_assert_cmpint(http_upgrade_head_parse(answer, n, &h), ==, 0);
        for (size_t n = strlen(SWITCH); n <= strlen(answer); n++) {
                g_assert_cmpint(http_upgrade_head_parse(answer, n, &h), ==, 1);
                g_assert_cmpuint(h.status, ==, 101);
                g_assert_cmpuint(h.head_size, ==, strlen(SWITCH));
                g_assert_true(h.upgrade);
                g_assert_cmpint(h.content_length, ==, -1);
        }
        /* Without both headers it is not the switch we asked for. */
        g_assert_cmpint(http_upgrade_head_parse("HTTP/1.1 101 X\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
                                                62, &h), ==, 1);
        g_assert_false(h.upgrade);
        g_assert_cmpint(http_upgrade_head_parse("HTTP/1.1 101\r\nupgrade: TCP\r\n\r\n", 31, &h), ==, 1);
        g_assert_false(h.upgrade);
}

static void test_head_refusal(void) {
        static const char answer[] = "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
                                     "Content-Length: 27\r\nConnection: close\r\n\r\n{\"error\":\"access-denied\"}\n";
        HttpUpgradeHead h;

        g_assert_cmpint(http_upgrade_head_parse(answer, strlen(answer), &h), ==, 1);
        g_assert_cmpuint(h.status, ==, 403);
        g_assert_cmpint(h.content_length, ==, 27);
        g_assert_false(h.upgrade);
        g_assert_cmpstr(answer + h.head_size, ==, "{\"error\":\"access-denied\"}\n");
}

static void expect_bad(const char *head) {
        HttpUpgradeHead h;

        g_test_message("%s", head);
        g_assert_cmpint(http_upgrade_head_parse(head, strlen(head), &h), ==, -EBADMSG);
}

static void test_head_malformed(void) {
        g_autoptr(GString) big = g_string_new("HTTP/1.1 101 Switching Protocols\r\n");
        HttpUpgradeHead h;

        expect_bad("SSH-2.0-OpenSSH\r\n\r\n");
        expect_bad("HTTP/2 101 X\r\n\r\n");
        expect_bad("HTTP/1.1 1O1 X\r\n\r\n");
        expect_bad("HTTP/1.1 601 X\r\n\r\n");
        expect_bad("HTTP/1.1 1011 X\r\n\r\n");
        expect_bad("HTTP/1.1 101 X\r\nno colon\r\n\r\n");
        expect_bad("HTTP/1.1 101 X\r\n: empty name\r\n\r\n");
        expect_bad("HTTP/1.1 101 X\r\nBad Name: x\r\n\r\n");
        expect_bad("HTTP/1.1 101 X\r\nA: b\nc\r\n\r\n");
        expect_bad("HTTP/1.1 200 X\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
        expect_bad("HTTP/1.1 200 X\r\nContent-Length: -1\r\n\r\n");
        expect_bad("HTTP/1.1 200 X\r\nContent-Length: 99999999999999999999999\r\n\r\n");
        expect_bad("HTTP/1.1 200 X\r\nContent-Length:\r\n\r\n");
        g_assert_cmpint(http_upgrade_head_parse("HTT", 3, &h), ==, 0);
        g_assert_cmpint(http_upgrade_head_parse("HTTX", 4, &h), ==, -EBADMSG);

        /* No end within the bound: refused, never read further. */
        while (big->len < HTTP_UPGRADE_HEAD_MAX + 100)
                g_string_append(big, "X-Filler: 0123456789\r\n");
        g_assert_cmpint(http_upgrade_head_parse(big->str, HTTP_UPGRADE_HEAD_MAX - 1, &h), ==, 0);
        g_assert_cmpint(http_upgrade_head_parse(big->str, HTTP_UPGRADE_HEAD_MAX, &h), ==, -E2BIG);
        g_string_append(big, "\r\n");
        g_assert_cmpint(http_upgrade_head_parse(big->str, big->len, &h), ==, -E2BIG);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/http-upgrade/tokens", test_tokens);
        g_test_add_func("/http-upgrade/head-switch", test_head_switch);
        g_test_add_func("/http-upgrade/head-refusal", test_head_refusal);
        g_test_add_func("/http-upgrade/head-malformed", test_head_malformed);
        return g_test_run();
}
