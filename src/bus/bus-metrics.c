/* SPDX-License-Identifier: MIT */
/* bus-metrics.c - GetMetrics (Manager) and GetMetricsAs (Remote): the daemon's metrics in Prometheus' text
 * format, for administrators only (root, the admin group, polkit's manage-all, or OU=admin through the gateway).
 * They count every principal's jobs, so a user would learn of others'. */
#include <errno.h>

#include "shared/api.h"
#include "shared/macro.h"
#include "bus/bus-internal.h"

int bus_method_get_metrics(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(principal_done) Principal p = {};
        _cleanup_(freep) char *text = NULL;
        BusApi *a = userdata;
        int r;

        r = bus_principal(a, msg, &p, error);
        if (r < 0)
                return r;
        r = bus_polkit_admin(a, msg, &p);   /* a local non-administrator: polkit's manage-all, as for listing */
        if (r != 0)
                return r;
        if (!p.admin)
                return sd_bus_error_setf(error, TW_ERROR_ACCESS_DENIED,
                                         "Only administrators may read the metrics ('%s' is not one).", p.name);
        r = manager_metrics_text(a->manager, &text);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to collect the metrics: %m");
        return sd_bus_reply_method_return(msg, "s", text);
}
