/* SPDX-License-Identifier: MIT */
/* bus-start.c - a StartRequest as Start's arguments; the daemon's reader is bus_read_start_options(). */
#include "bus-start.h"
#include "macro.h"

static int bus_append_start_options(sd_bus_message *m, const StartRequest *req) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (JobLimitField f = 0; r >= 0 && f < _JOB_LIMIT_MAX; f++) {
                uint64_t v = job_limits_get(&req->limits, f);

                if (v != 0)
                        r = sd_bus_message_append(m, "{sv}", job_limit_name(f), "t", v);
        }
        if (r >= 0 && req->runtime_max_usec != 0)
                r = sd_bus_message_append(m, "{sv}", START_OPTION_RUNTIME_MAX, "t", req->runtime_max_usec);
        if (r >= 0 && req->profile)
                r = sd_bus_message_append(m, "{sv}", START_OPTION_PROFILE, "s", req->profile);
        for (StartIsolationField f = 0; r >= 0 && f < _START_ISOLATION_MAX; f++) {
                int v = start_isolation_get(&req->isolation, f);

                if (v >= 0)
                        r = sd_bus_message_append(m, "{sv}", start_isolation_bus_name(f), "b", v > 0);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

int bus_append_start_request(sd_bus_message *m, const StartRequest *req) {
        int r;

        r = sd_bus_message_append_strv(m, req->argv);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, req->env);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", req->cwd ? req->cwd : "");
        if (r >= 0)
                r = bus_append_start_options(m, req);
        return r;
}
