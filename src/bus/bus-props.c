/* SPDX-License-Identifier: MIT */
/* bus-props.c - a job's D-Bus properties: its object path, the a{sv} every reply that carries a job uses,
 * and the value of one property for the Job objects. One table of names (JOB_PROPERTIES, bus-internal.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/api.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "bus/bus-internal.h"

int bus_job_object_path(const Job *j, char **ret) {
        char hex[JOB_ID_HEX_MAX];
        int r;

        r = job_id_to_hex(job_id(j), hex);
        if (r < 0)
                return r;
        return asprintf(ret, TW_BUS_JOB_PATH_PREFIX "/%s", hex) < 0 ? -ENOMEM : 0;
}

static const struct {
        const char *name;
        const char *signature;
} job_properties[] = {
#define X(name, signature) { name, signature },
        JOB_PROPERTIES(X)
#undef X
};

/* Usage counters: JOB_USAGE_UNAVAILABLE, or NULL for a property that is not one. */
static const uint64_t *job_usage_field(const JobUsage *u, const char *name) {
        if (streq(name, "MemoryCurrent"))
                return &u->memory_current;
        if (streq(name, "MemoryPeak"))
                return &u->memory_peak;
        if (streq(name, "CPUUsageNSec"))
                return &u->cpu_usage_nsec;
        if (streq(name, "IOReadBytes"))
                return &u->io_read_bytes;
        if (streq(name, "IOWriteBytes"))
                return &u->io_write_bytes;
        return NULL;
}

/* A job's isolation flag by its D-Bus name (the one table of src/core/start-request.c); -2 for another name. */
static int job_isolation_flag(const JobIsolation *iso, const char *name) {
        StartIsolation s = {
                .private_pid = iso->private_pid,
                .private_tmp = iso->private_tmp,
                .private_network = iso->private_network,
                .protect_system = iso->protect_system,
        };
        StartIsolationField f = start_isolation_from_bus_name(name);

        return f == _START_ISOLATION_MAX ? -2 : start_isolation_get(&s, f);
}

/* Appends the bare value of a property (the caller opened the variant). */
int bus_job_append_value(sd_bus_message *m, Job *j, const char *name, const JobUsage *u) {
        const uint64_t *usage = job_usage_field(u, name);
        OutputStore *o = job_output(j);

        if (usage)
                return sd_bus_message_append(m, "t", *usage);
        if (job_limit_from_name(name) != _JOB_LIMIT_MAX)
                return sd_bus_message_append(m, "t", job_limits_get(job_limits(j), job_limit_from_name(name)));
        if (job_isolation_flag(job_isolation(j), name) != -2)
                return sd_bus_message_append(m, "b", job_isolation_flag(job_isolation(j), name) > 0);
        if (streq(name, "RuntimeMaxUSec"))
                return sd_bus_message_append(m, "t", job_runtime_max_usec(j));
        if (streq(name, "Profile"))
                return sd_bus_message_append(m, "s", job_profile(j) ? job_profile(j) : "default");
        if (streq(name, "StandardInput"))
                return sd_bus_message_append(m, "s", start_stdin_to_string(job_stdin(j)));
        if (streq(name, "Terminal"))
                return sd_bus_message_append(m, "b", (int) job_tty(j));
        if (streq(name, "Slice"))
                return sd_bus_message_append(m, "s", job_slice(j) ? job_slice(j) : "");
        if (streq(name, "Name"))
                return sd_bus_message_append(m, "s", job_name(j) ? job_name(j) : "");
        if (streq(name, "Id"))
                return sd_bus_message_append(m, "s", job_id(j));
        if (streq(name, "Owner"))
                return sd_bus_message_append(m, "s", job_owner(j));
        if (streq(name, "User"))
                return sd_bus_message_append(m, "s", job_user(j));
        if (streq(name, "Argv"))
                return sd_bus_message_append_strv(m, job_argv(j));
        if (streq(name, "Executable"))
                return sd_bus_message_append(m, "s", job_executable(j));
        if (streq(name, "State"))
                return sd_bus_message_append(m, "s", job_state_to_string(job_state(j)));
        if (streq(name, "Reason"))
                return sd_bus_message_append(m, "s", job_reason_to_string(job_reason(j)));
        if (streq(name, "ExitCode"))
                return sd_bus_message_append(m, "i", (int32_t) job_exit_code(j));
        if (streq(name, "ExitSignal"))
                return sd_bus_message_append(m, "i", (int32_t) job_exit_signal(j));
        if (streq(name, "SubmittedAt"))
                return sd_bus_message_append(m, "t", job_submitted_at(j));
        if (streq(name, "StartedAt"))
                return sd_bus_message_append(m, "t", job_started_at(j));
        if (streq(name, "EndedAt"))
                return sd_bus_message_append(m, "t", job_ended_at(j));
        if (streq(name, "Unit"))
                return sd_bus_message_append(m, "s", job_unit(j));
        if (streq(name, "OutputSize"))
                return sd_bus_message_append(m, "t", o ? output_store_size(o) : (uint64_t) 0);
        if (streq(name, "OutputDropped"))
                return sd_bus_message_append(m, "t", job_output_dropped(j));
        if (streq(name, "OutputError")) {
                int e = job_output_error(j);
                return sd_bus_message_append(m, "s", e < 0 ? strerror(-e) : "");
        }
        return -EINVAL;
}

int bus_append_job_props(sd_bus_message *m, Job *j) {
        JobUsage u;
        int r;

        job_usage(j, &u);
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(job_properties); i++) {
                const char *name = job_properties[i].name;
                const uint64_t *usage = job_usage_field(&u, name);

                if (usage && *usage == JOB_USAGE_UNAVAILABLE)
                        continue; /* absent = unavailable, never a garbage number */
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(m, "s", name);
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(m, 'v', job_properties[i].signature);
                if (r < 0)
                        return r;
                r = bus_job_append_value(m, j, name, &u);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* A string in a D-Bus body: length, bytes, NUL, and at most 7 bytes of padding before the next item. */
static size_t bus_string_size(const char *s) {
        return 4 + (s ? strlen(s) : 0) + 1 + 7;
}

size_t bus_job_props_size_max(Job *j) {
        /* Each entry: alignment, its key, a signature of at most 2 characters, a fixed-size value. */
        size_t n = 8 + ELEMENTSOF(job_properties) * (8 + bus_string_size("IOWriteBandwidthMax") + 4 + 8 + 8);
        int e = job_output_error(j);

        n += bus_string_size(job_id(j)) + bus_string_size(job_owner(j)) + bus_string_size(job_user(j)) +
             bus_string_size(job_executable(j)) + bus_string_size(job_unit(j)) + bus_string_size(job_profile(j)) +
             bus_string_size(job_slice(j)) + bus_string_size(job_name(j)) +
             bus_string_size(job_state_to_string(job_state(j))) +
             bus_string_size(job_reason_to_string(job_reason(j))) + bus_string_size(e < 0 ? strerror(-e) : "");
        n += 8;
        for (char **a = job_argv(j); a && *a; a++)
                n += bus_string_size(*a);
        return n;
}
