/* SPDX-License-Identifier: MIT */
/* tb-client.c - the integration tests' client of teleworkerd (real system bus, real systemd). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "tb-client.h"

#define DEST "org.teleworker.worker1"
#define PATH "/org/teleworker/worker1"
#define IFACE "org.teleworker.worker1.Manager"
#define LONG_TIMEOUT (600ULL * 1000000ULL)

const char *tb_gen_path(void) {
        return TB_GEN_PATH;
}

bool tb_daemon_present(sd_bus *bus) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        bool must = g_strcmp0(g_getenv("TELEWORKER_INTEGRATION"), "1") == 0;

        /* One job at most: List of a big table is refused (docs/dbus.md), ListPage always answers. */
        if (sd_bus_call_method(bus, DEST, PATH, IFACE, "ListPage", &e, &reply, "su", "", (uint32_t) 1) >= 0) {
                sd_bus_message_unref(reply);
                return true;
        }
        if (must)
                g_error("teleworkerd does not answer on the system bus: %s", e.message);
        printf("1..0 # SKIP teleworkerd is not running (run the integration suite through tests/run-all.sh)\n");
        sd_bus_error_free(&e);
        return false;
}

void tb_job_clear(TbJob *j) {
        g_free(j->id);
        g_free(j->owner);
        g_free(j->user);
        g_free(j->state);
        g_free(j->reason);
        g_free(j->unit);
        g_free(j->executable);
        g_free(j->output_error);
        memset(j, 0, sizeof(*j));
}

sd_bus *tb_bus_as(uid_t uid) {
        sd_bus *bus = NULL;
        const char *unique;

        if (uid != 0)
                g_assert_cmpint(setresuid(-1, uid, 0), ==, 0);
        g_assert_cmpint(sd_bus_open_system(&bus), >=, 0);
        /* Wait for Hello: authentication is done, with our euid, before we switch back. */
        g_assert_cmpint(sd_bus_get_unique_name(bus, &unique), >=, 0);
        if (uid != 0)
                g_assert_cmpint(setresuid(-1, 0, 0), ==, 0);
        return bus;
}

static int read_job_props(sd_bus_message *m, TbJob *j) {
        int r;

        memset(j, 0, sizeof(*j));
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *contents, *s;
                char **target = NULL;
                uint64_t *t = NULL;
                int *i = NULL;

                g_assert_cmpint(sd_bus_message_read(m, "s", &key), >=, 0);
                g_assert_cmpint(sd_bus_message_peek_type(m, NULL, &contents), >=, 0);
                if (g_str_equal(key, "Id"))
                        target = &j->id;
                else if (g_str_equal(key, "Owner"))
                        target = &j->owner;
                else if (g_str_equal(key, "User"))
                        target = &j->user;
                else if (g_str_equal(key, "State"))
                        target = &j->state;
                else if (g_str_equal(key, "Reason"))
                        target = &j->reason;
                else if (g_str_equal(key, "Unit"))
                        target = &j->unit;
                else if (g_str_equal(key, "Executable"))
                        target = &j->executable;
                else if (g_str_equal(key, "ExitCode"))
                        i = &j->exit_code;
                else if (g_str_equal(key, "ExitSignal"))
                        i = &j->exit_signal;
                else if (g_str_equal(key, "OutputSize"))
                        t = &j->output_size;
                else if (g_str_equal(key, "OutputDropped"))
                        t = &j->output_dropped;
                else if (g_str_equal(key, "OutputError"))
                        target = &j->output_error;
                else if (g_str_equal(key, "StartedAt"))
                        t = &j->started_at;
                else if (g_str_equal(key, "EndedAt"))
                        t = &j->ended_at;
                else if (g_str_equal(key, "MemoryMax"))
                        t = &j->memory_max;
                else if (g_str_equal(key, "CPUQuotaPerSecUSec"))
                        t = &j->cpu_quota;
                else if (g_str_equal(key, "TasksMax"))
                        t = &j->tasks_max;
                else if (g_str_equal(key, "IOReadBandwidthMax"))
                        t = &j->io_read_max;
                else if (g_str_equal(key, "IOWriteBandwidthMax"))
                        t = &j->io_write_max;
                else if (g_str_equal(key, "MemoryCurrent"))
                        t = &j->memory_current, j->have_memory_current = true;
                else if (g_str_equal(key, "MemoryPeak"))
                        t = &j->memory_peak;
                else if (g_str_equal(key, "CPUUsageNSec"))
                        t = &j->cpu_usage_nsec, j->have_cpu_usage = true;

                if (target) {
                        g_assert_cmpstr(contents, ==, "s");
                        g_assert_cmpint(sd_bus_message_read(m, "v", "s", &s), >=, 0);
                        *target = g_strdup(s);
                } else if (i) {
                        g_assert_cmpstr(contents, ==, "i");
                        g_assert_cmpint(sd_bus_message_read(m, "v", "i", i), >=, 0);
                } else if (t) {
                        g_assert_cmpstr(contents, ==, "t");
                        g_assert_cmpint(sd_bus_message_read(m, "v", "t", t), >=, 0);
                        /* "unavailable" usage is an absent key, never systemd's UINT64_MAX (a limit may be
                         * infinity, which is UINT64_MAX) */
                        if (t == &j->memory_current || t == &j->memory_peak || t == &j->cpu_usage_nsec)
                                g_assert_cmpuint(*t, !=, UINT64_MAX);
                } else
                        g_assert_cmpint(sd_bus_message_skip(m, "v"), >=, 0);
                g_assert_cmpint(sd_bus_message_exit_container(m), >=, 0);
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

void tb_append_options(sd_bus_message *m, const char *const *opts) {
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        for (const char *const *l = opts; l && l[0]; l += 2) {
                if (g_str_has_prefix(l[0], "Private") || g_str_has_prefix(l[0], "Protect"))
                        g_assert_cmpint(sd_bus_message_append(m, "{sv}", l[0], "b", atoi(l[1])), >=, 0);
                else if (g_str_equal(l[0], "Profile"))
                        g_assert_cmpint(sd_bus_message_append(m, "{sv}", l[0], "s", l[1]), >=, 0);
                else
                        g_assert_cmpint(sd_bus_message_append(m, "{sv}", l[0], "t", g_ascii_strtoull(l[1], NULL, 10)), >=, 0);
        }
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
}

int tb_call_start(sd_bus *bus, sd_bus_message *m, char **ret_id, sd_bus_error *error) {
        sd_bus_message *reply = NULL;
        const char *id;
        int r;

        r = sd_bus_call(bus, m, LONG_TIMEOUT, error, &reply);
        sd_bus_message_unref(m);
        if (r < 0)
                return r;
        g_assert_cmpint(sd_bus_message_read(reply, "s", &id), >=, 0);
        if (ret_id)
                *ret_id = g_strdup(id);
        sd_bus_message_unref(reply);
        return 0;
}

int tb_start(sd_bus *bus, const char *const *argv, const char *const *limits, char **ret_id, sd_bus_error *error) {
        sd_bus_message *m = NULL;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, "Start"), >=, 0);
        g_assert_cmpint(sd_bus_message_append_strv(m, (char **) argv), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "ass", 0, ""), >=, 0);
        tb_append_options(m, limits);
        return tb_call_start(bus, m, ret_id, error);
}

static int job_call(sd_bus *bus, const char *method, const char *id, TbJob *ret, sd_bus_error *error) {
        sd_bus_message *m = NULL, *reply = NULL;
        int r;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, method), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "s", id), >=, 0);
        r = sd_bus_call(bus, m, LONG_TIMEOUT, error, &reply);
        sd_bus_message_unref(m);
        if (r < 0)
                return r;
        if (ret)
                g_assert_cmpint(read_job_props(reply, ret), >=, 0);
        sd_bus_message_unref(reply);
        return 0;
}

int tb_get(sd_bus *bus, const char *id, TbJob *ret, sd_bus_error *error) {
        return job_call(bus, "GetJob", id, ret, error);
}

int tb_wait(sd_bus *bus, const char *id, TbJob *ret, sd_bus_error *error) {
        return job_call(bus, "Wait", id, ret, error);
}

int tb_stop(sd_bus *bus, const char *id, sd_bus_error *error) {
        return job_call(bus, "Stop", id, NULL, error);
}

int tb_list(sd_bus *bus, GPtrArray **ret, sd_bus_error *error) {
        GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *cursor = g_strdup("");
        int r;

        /* Page by page: a table with big command lines is too large for one List reply. */
        do {
                sd_bus_message *reply = NULL;
                const char *next;

                r = sd_bus_call_method(bus, DEST, PATH, IFACE, "ListPage", error, &reply, "su", cursor, (uint32_t) 0);
                if (r < 0) {
                        g_ptr_array_unref(ids);
                        return r;
                }
                g_assert_cmpint(sd_bus_message_enter_container(reply, 'a', "a{sv}"), >=, 0);
                for (;;) {
                        TbJob j;
                        r = sd_bus_message_peek_type(reply, NULL, NULL);
                        g_assert_cmpint(r, >=, 0);
                        if (r == 0)
                                break;
                        g_assert_cmpint(read_job_props(reply, &j), >=, 0);
                        g_ptr_array_add(ids, g_strdup(j.id));
                        tb_job_clear(&j);
                }
                g_assert_cmpint(sd_bus_message_exit_container(reply), >=, 0);
                g_assert_cmpint(sd_bus_message_read(reply, "s", &next), >=, 0);
                g_free(cursor);
                cursor = g_strdup(next);
                sd_bus_message_unref(reply);
        } while (*cursor);
        *ret = ids;
        return 0;
}

int tb_open_output(sd_bus *bus, const char *id, uint64_t offset, bool follow, int *ret_fd, sd_bus_error *error) {
        sd_bus_message *reply = NULL;
        int fd, r;

        r = sd_bus_call_method(bus, DEST, PATH, IFACE, "OpenOutput", error, &reply, "stb", id, offset, (int) follow);
        if (r < 0)
                return r;
        g_assert_cmpint(sd_bus_message_read(reply, "h", &fd), >=, 0);
        *ret_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        g_assert_cmpint(*ret_fd, >=, 0);
        sd_bus_message_unref(reply);
        return 0;
}

GByteArray *tb_read_all(int fd) {
        GByteArray *b = g_byte_array_new();
        uint8_t buf[65536];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                g_assert_cmpint(n, >=, 0);
                if (n == 0)
                        break;
                g_byte_array_append(b, buf, (guint) n);
        }
        return b;
}

int tb_run(sd_bus *bus, const char *const *argv, TbJob *ret, GByteArray **ret_output) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        GByteArray *out = g_byte_array_new();
        uint64_t offset = 0;
        int r;

        r = tb_start(bus, argv, NULL, &id, &e);
        if (r < 0) {
                g_test_message("start failed: %s", e.message);
                sd_bus_error_free(&e);
                g_byte_array_unref(out);
                return r;
        }
        g_assert_cmpint(tb_wait(bus, id, ret, &e), >=, 0);
        for (;;) {
                sd_bus_message *reply = NULL;
                const void *data;
                size_t n;
                int eof;

                g_assert_cmpint(sd_bus_call_method(bus, DEST, PATH, IFACE, "ReadOutput", &e, &reply, "stt", id, offset,
                                                   (uint64_t) 1 << 20), >=, 0);
                g_assert_cmpint(sd_bus_message_read_array(reply, 'y', &data, &n), >=, 0);
                g_assert_cmpint(sd_bus_message_read(reply, "tb", &offset, &eof), >=, 0);
                g_byte_array_append(out, data, (guint) n);
                sd_bus_message_unref(reply);
                if (eof)
                        break;
                if (n == 0)
                        g_usleep(10000); /* output not complete yet (a leftover writer); rare */
        }
        if (ret_output)
                *ret_output = out;
        else
                g_byte_array_unref(out);
        return 0;
}

char *tb_unit_cgroup(const char *unit) {
        sd_bus *bus = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        char *cg = NULL;
        const char *path;

        g_assert_cmpint(sd_bus_open_system(&bus), >=, 0);
        if (sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "GetUnit", &e, &reply, "s", unit) < 0) {
                sd_bus_error_free(&e);
                sd_bus_unref(bus);
                return g_strdup("");
        }
        g_assert_cmpint(sd_bus_message_read(reply, "o", &path), >=, 0);
        if (sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path, "org.freedesktop.systemd1.Scope",
                                       "ControlGroup", &e, &cg) < 0) {
                sd_bus_error_free(&e);
                cg = strdup("");
        }
        sd_bus_message_unref(reply);
        sd_bus_unref(bus);
        return cg;
}

unsigned tb_count_scopes(void) {
        sd_bus *bus = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *patterns[] = { "teleworker-*.scope", NULL };
        unsigned n = 0;
        sd_bus_message *m = NULL;

        g_assert_cmpint(sd_bus_open_system(&bus), >=, 0);
        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                                       "org.freedesktop.systemd1.Manager", "ListUnitsByPatterns"), >=, 0);
        g_assert_cmpint(sd_bus_message_append_strv(m, NULL), >=, 0);
        g_assert_cmpint(sd_bus_message_append_strv(m, (char **) patterns), >=, 0);
        g_assert_cmpint(sd_bus_call(bus, m, 0, &e, &reply), >=, 0);
        g_assert_cmpint(sd_bus_message_enter_container(reply, 'a', "(ssssssouso)"), >=, 0);
        while (sd_bus_message_skip(reply, "(ssssssouso)") > 0)
                n++;
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        sd_bus_unref(bus);
        return n;
}

char *tb_cgroup_attr(const char *cgroup, const char *controller, const char *file) {
        struct statfs sfs;
        char *path, *text = NULL;

        g_assert_cmpint(statfs("/sys/fs/cgroup", &sfs), ==, 0);
        if ((uint64_t) sfs.f_type == CGROUP2_SUPER_MAGIC)
                path = g_strdup_printf("/sys/fs/cgroup%s/%s", cgroup, file);
        else
                path = g_strdup_printf("/sys/fs/cgroup/%s%s/%s", controller, cgroup, file);
        if (!g_file_get_contents(path, &text, NULL, NULL))
                text = NULL;
        g_test_message("%s: %s", path, text ? g_strstrip(text) : "(unreadable)");
        g_free(path);
        return text;
}

void tb_reload_daemon(void) {
        const char *unit = g_getenv("TELEWORKER_TEST_UNIT") ?: "teleworkerd.service";
        const char *argv[] = { "systemctl", "kill", "--signal=SIGHUP", unit, NULL };
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                                   NULL));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
}

bool tb_profile_known(sd_bus *bus, const char *name) {
        const char *argv[] = { "/bin/true", NULL };
        const char *opts[] = { "Profile", name, NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char *id = NULL;
        int r = tb_start(bus, argv, opts, &id, &e);

        sd_bus_error_free(&e);
        if (r >= 0) {
                TbJob j;
                g_assert_cmpint(tb_wait(bus, id, &j, NULL), ==, 0);
                tb_job_clear(&j);
        }
        g_free(id);
        return r >= 0;
}

unsigned tb_slowdown(void) {
        return g_strcmp0(g_getenv("TB_INSIDE"), "vm") == 0 ? 10 : 1;
}

void tb_result_clear(TbResult *r) {
        g_free(r->out);
        g_free(r->err);
}

void tb_drop_to(gpointer data) {
        uid_t uid = (uid_t) GPOINTER_TO_UINT(data);

        if (uid != 0 && (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0))
                _exit(120);
}

char *tb_busctl_as(uid_t uid, const char *const *args) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_autofree char *err = NULL;
        GError *error = NULL;
        char *out = NULL;
        int status;

        g_ptr_array_add(argv, (char *) "busctl");
        g_ptr_array_add(argv, (char *) "--system");
        for (const char *const *a = args; *a; a++)
                g_ptr_array_add(argv, (char *) *a);
        g_ptr_array_add(argv, NULL);
        g_assert_true(g_spawn_sync("/", (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, tb_drop_to,
                                   GUINT_TO_POINTER(uid), &out, &err, &status, &error));
        g_test_message("busctl as %u: %s%s", (unsigned) uid, out, err);
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        return out;
}

char *tb_job_object_path(const char *id) {
        g_autofree char *hex = g_strdup(id);

        for (char *s = hex, *d = hex; ; s++)
                if (*s != '-' && !(*d++ = *s))
                        break;
        return g_strdup_printf("/org/teleworker/worker1/job/%s", hex);
}
