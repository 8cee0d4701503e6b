/* SPDX-License-Identifier: MIT */
/* tb-client.h - a small client of the real teleworkerd on the real system bus, for the integration tests. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#define TB_UID_USER1 4001
#define TB_UID_USER2 4002
#define TB_UID_ADMIN 4003

typedef struct TbJob {
        char *id, *owner, *user, *state, *reason, *unit, *executable, *output_error;
        int exit_code, exit_signal;
        uint64_t output_size, output_dropped, started_at, ended_at;
        uint64_t memory_max, cpu_quota, tasks_max, io_read_max, io_write_max;
        bool have_memory_current, have_cpu_usage;
        uint64_t memory_current, memory_peak, cpu_usage_nsec;
} TbJob;

void tb_job_clear(TbJob *j);

/* A system bus connection authenticated as uid (the test runs as root and switches its effective uid
 * only while connecting: the bus records the peer's credentials at connect and authentication time). */
sd_bus *tb_bus_as(uid_t uid);

/* Appends Start's a{sv} options from NULL-terminated pairs of name and value (also for Remote StartAs). */
void tb_append_options(sd_bus_message *m, const char *const *opts);
/* Start argv with options given as NULL-terminated pairs of name and value: limits as numbers
 * ("MemoryMax", "104857600"), Private and Protect options as "0"/"1", "Profile" as a name. */
/* Calls m (a Start or StartAs, consumed) and reads the job id of its reply. */
int tb_call_start(sd_bus *bus, sd_bus_message *m, char **ret_id, sd_bus_error *error);
int tb_start(sd_bus *bus, const char *const *argv, const char *const *limits, char **ret_id, sd_bus_error *error);
int tb_get(sd_bus *bus, const char *id, TbJob *ret, sd_bus_error *error);
int tb_wait(sd_bus *bus, const char *id, TbJob *ret, sd_bus_error *error);
int tb_stop(sd_bus *bus, const char *id, sd_bus_error *error);
/* The ids the caller may see (ListPage, every page). */
int tb_list(sd_bus *bus, GPtrArray **ret, sd_bus_error *error);
int tb_open_output(sd_bus *bus, const char *id, uint64_t offset, bool follow, int *ret_fd, sd_bus_error *error);
/* Reads fd to EOF. */
GByteArray *tb_read_all(int fd);

/* Start and wait: the job's final state and its whole output (via ReadOutput chunks). */
int tb_run(sd_bus *bus, const char *const *argv, TbJob *ret, GByteArray **ret_output);

/* systemd's view: the unit's ControlGroup ("" when the unit is not loaded) and how many
 * teleworker-*.scope units are loaded. */
char *tb_unit_cgroup(const char *unit);
unsigned tb_count_scopes(void);
/* Contents of a cgroup attribute file of the unit in the hierarchy that has it (v2, or v1 controller). */
char *tb_cgroup_attr(const char *cgroup, const char *controller, const char *file);

const char *tb_gen_path(void);

/* Whether teleworkerd answers. When the harness says it must (TELEWORKER_INTEGRATION=1, set by
 * run-inside.sh) its absence is a failure, not a skip. */
bool tb_daemon_present(sd_bus *bus);

/* The policy: SIGHUP to the daemon's unit (TELEWORKER_TEST_UNIT), and whether a Start with the profile name
 * succeeds (as root; the job is waited for): a marker profile shows which policy is in force. */
void tb_reload_daemon(void);
bool tb_profile_known(sd_bus *bus, const char *name);

/* How much slower than the machine itself the testbed runs: 1 in the namespace testbed, 10 in the VM testbed
 * (TB_INSIDE=vm), whose CPU is emulated (TCG: about 10-20x slower, and shared with its host's load). Bounds
 * that stand for "no stall" (a quadratic or blocking path takes seconds to minutes) are multiplied by it;
 * the measured figures are printed either way. */
unsigned tb_slowdown(void);

/* A command's captured stdout, stderr and exit code. */
typedef struct TbResult {
        char *out, *err;
        int status;   /* exit code */
} TbResult;
void tb_result_clear(TbResult *r);
/* A GSpawnChildSetupFunc: drops the child to the uid in data (GUINT_TO_POINTER; 0: stays root), or exits 120
 * (a code no test job uses). */
void tb_drop_to(gpointer data);

/* `busctl --system ARGS...` as uid (0: root), which must succeed: its stdout. */
char *tb_busctl_as(uid_t uid, const char *const *args);
/* A job's object path, /org/teleworker/worker1/job/<the id's hex digits>. */
char *tb_job_object_path(const char *id);
