/* SPDX-License-Identifier: MIT */
/* test-hashmap - the open-addressing map of src/shared/hashmap.c: puts, gets and removes checked against a
 * reference (GHashTable) over many random operations, growth, tombstone reuse, case-insensitive keys. */
#include <glib.h>
#include <stdio.h>

#include "shared/hashmap.h"

static void test_basic(void) {
        _cleanup_(hashmap_freep) Hashmap *h = NULL;
        int a = 1, b = 2;

        g_assert_cmpint(hashmap_new(0, &h), ==, 0);
        g_assert_null(hashmap_get(h, "a"));
        g_assert_cmpint(hashmap_put(h, "a", &a), ==, 0);
        g_assert_cmpint(hashmap_put(h, "a", &b), ==, -EEXIST);
        g_assert_true(hashmap_get(h, "a") == &a);
        g_assert_null(hashmap_get(h, "A"));
        g_assert_cmpint(hashmap_put(h, "", &b), ==, 0);
        g_assert_true(hashmap_get(h, "") == &b);
        g_assert_cmpuint(hashmap_size(h), ==, 2);
        g_assert_true(hashmap_remove(h, "a") == &a);
        g_assert_null(hashmap_remove(h, "a"));
        g_assert_null(hashmap_get(h, "a"));
        g_assert_cmpuint(hashmap_size(h), ==, 1);
}

static void test_case_insensitive(void) {
        _cleanup_(hashmap_freep) Hashmap *h = NULL;
        int a = 1;

        g_assert_cmpint(hashmap_new(HASHMAP_CASE_INSENSITIVE, &h), ==, 0);
        g_assert_cmpint(hashmap_put(h, "abcdef-0123", &a), ==, 0);
        g_assert_true(hashmap_get(h, "ABCDEF-0123") == &a);
        g_assert_cmpint(hashmap_put(h, "AbCdEf-0123", &a), ==, -EEXIST);
        g_assert_true(hashmap_remove(h, "abcDEF-0123") == &a);
        g_assert_cmpuint(hashmap_size(h), ==, 0);
}

/* Random puts and removes on a small key space (so removes hit and tombstones pile up), checked after each
 * step against GHashTable, then every key looked up. */
static void test_random(void) {
        enum { KEYS = 2000, STEPS = 200000 };
        _cleanup_(hashmap_freep) Hashmap *h = NULL;
        GHashTable *ref = g_hash_table_new(g_str_hash, g_str_equal);
        char **keys = g_new0(char *, KEYS);
        GRand *rnd = g_rand_new_with_seed(14);

        g_assert_cmpint(hashmap_new(0, &h), ==, 0);
        for (unsigned i = 0; i < KEYS; i++)
                keys[i] = g_strdup_printf("teleworker-%08x.scope", g_rand_int(rnd));
        for (unsigned s = 0; s < STEPS; s++) {
                char *k = keys[g_rand_int_range(rnd, 0, KEYS)];
                bool present = g_hash_table_contains(ref, k);

                if (g_rand_boolean(rnd)) {
                        g_assert_cmpint(hashmap_put(h, k, k), ==, present ? -EEXIST : 0);
                        g_hash_table_add(ref, k);
                } else {
                        g_assert_true(hashmap_remove(h, k) == (present ? k : NULL));
                        g_hash_table_remove(ref, k);
                }
                g_assert_cmpuint(hashmap_size(h), ==, g_hash_table_size(ref));
        }
        for (unsigned i = 0; i < KEYS; i++)
                g_assert_true(hashmap_get(h, keys[i]) == (g_hash_table_contains(ref, keys[i]) ? keys[i] : NULL));
        /* Emptied and refilled: tombstones never make a lookup miss. */
        for (unsigned i = 0; i < KEYS; i++)
                (void) hashmap_remove(h, keys[i]);
        g_assert_cmpuint(hashmap_size(h), ==, 0);
        for (unsigned i = 0; i < KEYS; i++)
                g_assert_cmpint(hashmap_put(h, keys[i], keys[i]), ==, 0);
        for (unsigned i = 0; i < KEYS; i++)
                g_assert_true(hashmap_get(h, keys[i]) == keys[i]);
        g_assert_null(hashmap_get(h, "teleworker-none.scope"));
        for (unsigned i = 0; i < KEYS; i++)
                g_free(keys[i]);
        g_free(keys);
        g_hash_table_unref(ref);
        g_rand_free(rnd);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/hashmap/basic", test_basic);
        g_test_add_func("/hashmap/case-insensitive", test_case_insensitive);
        g_test_add_func("/hashmap/random", test_random);
        return g_test_run();
}
