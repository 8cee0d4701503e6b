/* SPDX-License-Identifier: MIT */
/* test-json-keys.c - a key given twice in one JSON object (src/core/json-keys.c). */
#include <string.h>

#include <glib.h>
#include <json-c/json.h>

#include "core/json-keys.h"

/* json-c's strict parse of text, which must be valid JSON, then the check. */
static bool unique(const char *text) {
        json_tokener *tok = json_tokener_new_ex(32);
        json_object *root;
        bool u;

        g_assert_nonnull(tok);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        root = json_tokener_parse_ex(tok, text, (int) strlen(text));
        g_assert_cmpint(json_tokener_get_error(tok), ==, json_tokener_success);
        u = json_keys_unique(text, json_tokener_get_parse_end(tok), root);
        json_tokener_free(tok);
        json_object_put(root);
        return u;
}

static void test_unique(void) {
        g_assert_true(unique("{}"));
        g_assert_true(unique("[]"));
        g_assert_true(unique("\"a\""));
        g_assert_true(unique("{\"a\": 1, \"b\": 2}"));
        /* the same key in different objects */
        g_assert_true(unique("{\"a\": {\"a\": 1}, \"b\": [{\"a\": 1}, {\"a\": 2}]}"));
        /* quotes, colons and backslashes inside strings are not keys */
        g_assert_true(unique("{\"argv\": [\"a\\\":b\", \"c:\", \"\\\\\", \"x\\\\\\\":\"], \"env\": {\"K\": \"v:1\"}}"));
        g_assert_true(unique("{\"a\\\"b\": 1, \"a\\\\\": 2}"));
        g_assert_true(unique("{ \"a\"\n\t :\r 1 }"));
}

static void test_twice(void) {
        g_assert_false(unique("{\"a\": 1, \"a\": 2}"));
        g_assert_false(unique("{\"a\": 1, \"a\": 1}"));
        g_assert_false(unique("{\"limits\": {\"memory\": 1, \"memory\": 2}}"));
        g_assert_false(unique("[1, {\"x\": {\"y\": 0}}, {\"k\": 1, \"j\": 2, \"k\": 3}]"));
        /* the first value's own keys go with it: still one key fewer in the tree at least */
        g_assert_false(unique("{\"a\": {\"x\": 1, \"y\": 2}, \"a\": 2}"));
        /* the same key spelt with an escape */
        g_assert_false(unique("{\"cwd\": \"/a\", \"c\\u0077d\": \"/b\"}"));
        g_assert_false(unique("{\"a\": 1, \"a\" : 2}"));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/json-keys/unique", test_unique);
        g_test_add_func("/json-keys/twice", test_twice);
        return g_test_run();
}
