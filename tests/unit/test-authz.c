/* SPDX-License-Identifier: MIT */
/* test-authz - owner-only access, administrators see all, principal names. */
#include <glib.h>

#include "core/authz.h"

static void test_check(void) {
        Principal alice = { .name = (char *) "alice", .uid = 1000 };
        Principal bob = { .name = (char *) "bob", .uid = 1001 };
        Principal admin = { .name = (char *) "root", .uid = 0, .admin = true };
        Principal remote_alice = { .name = (char *) "alice", .uid = UID_INVALID, .remote = true };
        Principal nameless = { .name = NULL };

        for (AuthzOp op = 0; op < _AUTHZ_OP_MAX; op++) {
                g_assert_cmpint(authz_check(&alice, op, "alice"), ==, 0);
                g_assert_cmpint(authz_check(&bob, op, "alice"), ==, -EACCES);
                g_assert_cmpint(authz_check(&admin, op, "alice"), ==, 0);
                g_assert_cmpint(authz_check(&remote_alice, op, "alice"), ==, 0);
                g_assert_cmpint(authz_check(&nameless, op, "alice"), ==, -EACCES);
                g_assert_cmpint(authz_check(NULL, op, "alice"), ==, -EACCES);
                g_assert_cmpint(authz_check(&alice, op, NULL), ==, -EACCES);
        }
        g_assert_cmpint(authz_check(&alice, _AUTHZ_OP_MAX, "alice"), ==, -EACCES);
        g_assert_true(authz_can_see(&admin, "bob"));
        g_assert_false(authz_can_see(&alice, "bob"));
}

static void test_names(void) {
        g_assert_true(principal_name_is_valid("alice"));
        g_assert_true(principal_name_is_valid("svc.build-01@example.org"));
        g_assert_false(principal_name_is_valid(""));
        g_assert_false(principal_name_is_valid(NULL));
        g_assert_false(principal_name_is_valid("-rf"));
        g_assert_false(principal_name_is_valid("a b"));
        g_assert_false(principal_name_is_valid("a/b"));
        g_assert_false(principal_name_is_valid("a\nb"));
        g_assert_false(principal_name_is_valid("ünï"));
        g_assert_false(principal_name_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/authz/check", test_check);
        g_test_add_func("/authz/names", test_names);
        return g_test_run();
}
