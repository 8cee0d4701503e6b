/* SPDX-License-Identifier: MIT */
/* start-request.c - the start request's option names on D-Bus and in JSON, one table each (start-request.h). */
#include <stdlib.h>

#include "shared/macro.h"
#include "core/start-request.h"

static const struct {
        const char *bus_name;
        const char *json_key;
} isolation_names[_START_ISOLATION_MAX] = {
        [START_ISOLATION_PRIVATE_PID] = { "PrivatePID", "private_pid" },
        [START_ISOLATION_PRIVATE_TMP] = { "PrivateTmp", "private_tmp" },
        [START_ISOLATION_PRIVATE_NETWORK] = { "PrivateNetwork", "private_network" },
        [START_ISOLATION_PROTECT_SYSTEM] = { "ProtectSystem", "protect_system" },
};

static const char *const limit_json_keys[_JOB_LIMIT_MAX] = {
        [JOB_LIMIT_CPU] = "cpu",
        [JOB_LIMIT_MEMORY] = "memory",
        [JOB_LIMIT_IO_READ] = "io_read",
        [JOB_LIMIT_IO_WRITE] = "io_write",
        [JOB_LIMIT_TASKS] = "tasks",
};

static const char *const stdin_names[_START_STDIN_MAX] = {
        [START_STDIN_NULL] = "null",
        [START_STDIN_FD] = "fd",
        [START_STDIN_STREAM] = "stream",
};

const char *start_stdin_to_string(StartStdin k) {
        return k >= 0 && k < _START_STDIN_MAX ? stdin_names[k] : NULL;
}

StartStdin start_stdin_from_string(const char *s) {
        for (StartStdin k = 0; k < _START_STDIN_MAX; k++)
                if (streq_ptr(s, stdin_names[k]))
                        return k;
        return _START_STDIN_MAX;
}

void start_request_done(StartRequest *r) {
        strv_free(r->argv);
        strv_free(r->env);
        free((char *) r->cwd);
        free((char *) r->profile);
        free((char *) r->name);
        *r = (StartRequest) { .isolation = START_ISOLATION_UNSET };
}

const char *start_isolation_bus_name(StartIsolationField f) {
        return f >= 0 && f < _START_ISOLATION_MAX ? isolation_names[f].bus_name : NULL;
}

const char *start_isolation_json_key(StartIsolationField f) {
        return f >= 0 && f < _START_ISOLATION_MAX ? isolation_names[f].json_key : NULL;
}

StartIsolationField start_isolation_from_bus_name(const char *name) {
        for (StartIsolationField f = 0; f < _START_ISOLATION_MAX; f++)
                if (streq_ptr(name, isolation_names[f].bus_name))
                        return f;
        return _START_ISOLATION_MAX;
}

StartIsolationField start_isolation_from_json_key(const char *key) {
        for (StartIsolationField f = 0; f < _START_ISOLATION_MAX; f++)
                if (streq_ptr(key, isolation_names[f].json_key))
                        return f;
        return _START_ISOLATION_MAX;
}

int *start_isolation_field(StartIsolation *iso, StartIsolationField f) {
        switch (f) {
        case START_ISOLATION_PRIVATE_PID:
                return &iso->private_pid;
        case START_ISOLATION_PRIVATE_TMP:
                return &iso->private_tmp;
        case START_ISOLATION_PRIVATE_NETWORK:
                return &iso->private_network;
        case START_ISOLATION_PROTECT_SYSTEM:
                return &iso->protect_system;
        default:
                return NULL;
        }
}

int start_isolation_get(const StartIsolation *iso, StartIsolationField f) {
        StartIsolation copy = *iso;
        int *v = start_isolation_field(&copy, f);

        return v ? *v : -1;
}

const char *start_limit_json_key(JobLimitField f) {
        return f >= 0 && f < _JOB_LIMIT_MAX ? limit_json_keys[f] : NULL;
}

JobLimitField start_limit_from_json_key(const char *key) {
        for (JobLimitField f = 0; f < _JOB_LIMIT_MAX; f++)
                if (streq_ptr(key, limit_json_keys[f]))
                        return f;
        return _JOB_LIMIT_MAX;
}
