/* SPDX-License-Identifier: MIT */
/* test-cgroup - parsing of cgroup counters in both layouts, and a real /proc/self/cgroup. */
#include <glib.h>
#include <unistd.h>

#include "engine/cgroup.h"

static void test_keyed(void) {
        uint64_t v;
        const char *events = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
        const char *oom_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n";

        g_assert_cmpint(cgroup_parse_keyed(events, "oom_kill", &v), ==, 0);
        g_assert_cmpuint(v, ==, 2);
        g_assert_cmpint(cgroup_parse_keyed(events, "oom", &v), ==, 0);
        g_assert_cmpuint(v, ==, 3);
        g_assert_cmpint(cgroup_parse_keyed(oom_control, "oom_kill", &v), ==, 0);
        g_assert_cmpuint(v, ==, 5);
        g_assert_cmpint(cgroup_parse_keyed("usage_usec 1234\nuser_usec 1000", "usage_usec", &v), ==, 0);
        g_assert_cmpuint(v, ==, 1234);
        g_assert_cmpint(cgroup_parse_keyed("", "oom_kill", &v), ==, -ENODATA);
        g_assert_cmpint(cgroup_parse_keyed("oom_kill x\n", "oom_kill", &v), ==, -EINVAL);
        g_assert_cmpint(cgroup_parse_keyed("oom_kill \n", "oom_kill", &v), ==, -EINVAL);
}

static void test_io(void) {
        uint64_t r, w;

        g_assert_cmpint(cgroup_parse_io("254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
                                        "8:0 rbytes=1 wbytes=2 rios=1 wios=1\n", true, &r, &w), ==, 0);
        g_assert_cmpuint(r, ==, 4097);
        g_assert_cmpuint(w, ==, 8194);
        g_assert_cmpint(cgroup_parse_io("254:0 Read 100\n254:0 Write 200\n254:0 Sync 300\n254:0 Total 300\nTotal 300\n",
                                        false, &r, &w), ==, 0);
        g_assert_cmpuint(r, ==, 100);
        g_assert_cmpuint(w, ==, 200);
        g_assert_cmpint(cgroup_parse_io("", true, &r, &w), ==, -ENODATA);
        g_assert_cmpint(cgroup_parse_io("Total 0\n", false, &r, &w), ==, -ENODATA);
}

static void test_paths_of_self(void) {
        CgroupPaths p = {};
        JobUsage u;
        uint64_t ooms;

        /* Our own cgroup is not a job scope: nothing matches, and every counter reads unavailable. */
        g_assert_cmpint(cgroup_paths_from_pid(getpid(), "teleworker-none.scope", &p), ==, 0);
        g_assert_null(p.memory);
        g_assert_null(p.cpuacct);
        g_assert_null(p.unified);
        cgroup_read_usage(&p, &u);
        g_assert_cmpuint(u.memory_current, ==, JOB_USAGE_UNAVAILABLE);
        g_assert_cmpuint(u.cpu_usage_nsec, ==, JOB_USAGE_UNAVAILABLE);
        g_assert_cmpint(cgroup_read_oom_kills(&p, &ooms), ==, -ENODATA);
        cgroup_paths_done(&p);
        g_assert_cmpint(cgroup_paths_from_pid(0x7ffffff0, "x.scope", &p), <, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/cgroup/keyed", test_keyed);
        g_test_add_func("/cgroup/io", test_io);
        g_test_add_func("/cgroup/paths-of-self", test_paths_of_self);
        return g_test_run();
}
