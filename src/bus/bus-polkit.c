/* SPDX-License-Identifier: MIT */
/* bus-polkit.c - polkit for local callers (docs/dbus.md "polkit"): org.teleworker.worker1.manage-all (see and
 * control every job) and org.teleworker.worker1.network (a job on the network the policy file does not give).
 *
 * Asked only where the answer changes something: a local caller that is neither root nor in the admin group
 * names another user's job, or lists jobs, or asks for the network its policy entry does not give. Nothing
 * blocks: the method handler starts CheckAuthorization with sd_bus_call_async() and returns 1 (handled, no
 * reply yet); polkit's answer is kept for that one message, which is then queued for dispatch again
 * (sd_bus_enqueue_for_read()); the second time round the handler finds the answer and goes on. That is
 * systemd's own pattern (bus_verify_polkit_async()). If polkitd is not on the bus (or does not answer), the
 * answer is "no", so what the group gives is all there is: today's rule.
 *
 * Remote principals never get here: their admin flag is the gateway's (certificate OU=admin). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/api.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "bus/bus-internal.h"

#define POLKIT_QUERIES_MAX 256U          /* calls waiting for polkit; past that, "no" without asking */
#define POLKIT_TIMEOUT_USEC (25U * USEC_PER_SEC)
#define POLKIT_ANSWER_KEEP_USEC (60U * USEC_PER_SEC)

struct PolkitQuery {
        PolkitQuery *next;
        BusApi *api;
        sd_bus_message *msg;     /* the call that waits: a reference */
        const char *action;      /* static */
        sd_bus_slot *slot;       /* CheckAuthorization in flight; NULL once answered */
        bool granted;
        uint64_t answered_usec;  /* CLOCK_MONOTONIC; an answer its call never came back for is dropped later */
};

static PolkitQuery *polkit_query_free(PolkitQuery *q) {
        if (!q)
                return NULL;
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->msg);
        free(q);
        return NULL;
}

static void polkit_query_unlink(PolkitQuery *q) {
        for (PolkitQuery **p = &q->api->polkit_queries; *p; p = &(*p)->next)
                if (*p == q) {
                        *p = q->next;
                        q->api->n_polkit_queries--;
                        return;
                }
}

void bus_polkit_done(BusApi *a) {
        while (a->polkit_queries) {
                PolkitQuery *q = a->polkit_queries;

                polkit_query_unlink(q);
                polkit_query_free(q);
        }
}

static PolkitQuery *polkit_query_find(BusApi *a, sd_bus_message *msg, const char *action) {
        for (PolkitQuery *q = a->polkit_queries; q; q = q->next)
                if (q->msg == msg && streq(q->action, action))
                        return q;
        return NULL;
}

static int on_check_authorization(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = userdata;
        int authorized = 0, challenge = 0, r;

        q->slot = sd_bus_slot_unref(q->slot);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                /* No polkitd (ServiceUnknown), or it failed: the group rule alone decides. */
                log_debug("polkit: %s for %s: %s", q->action, sd_bus_message_get_sender(q->msg) ?: "?",
                          sd_bus_message_get_error(reply)->name);
        } else {
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
                if (r < 0) {
                        log_warning("polkit: malformed CheckAuthorization reply: %s", strerror(-r));
                        authorized = 0;
                }
        }
        q->granted = authorized;
        q->answered_usec = now_usec(CLOCK_MONOTONIC);
        /* The call is dispatched again from the start, now with the answer. */
        r = sd_bus_message_rewind(q->msg, true);
        if (r >= 0)
                r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(q->msg), q->msg);
        if (r < 0) {
                log_warning("polkit: could not resume a call: %s", strerror(-r));
                (void) sd_bus_reply_method_errnof(q->msg, r, "Failed to resume the call after polkit: %m");
                polkit_query_unlink(q);
                polkit_query_free(q);
        }
        return 0;
}

static int polkit_query_start(BusApi *a, sd_bus_message *msg, const char *action) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *sender = sd_bus_message_get_sender(msg);
        PolkitQuery *q;
        int r;

        if (!sender)
                return -ENXIO;
        r = sd_bus_message_new_method_call(a->bus, &m, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;
        /* subject (system-bus-name), action, details, flags (1: the caller allows interaction), cancellation */
        r = sd_bus_message_append(m, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s", sender, action, 0,
                                  (uint32_t) (sd_bus_message_get_allow_interactive_authorization(msg) > 0), "");
        if (r < 0)
                return r;
        q = new0(PolkitQuery, 1);
        if (!q)
                return -ENOMEM;
        *q = (PolkitQuery) { .api = a, .msg = sd_bus_message_ref(msg), .action = action };
        r = sd_bus_call_async(a->bus, &q->slot, m, on_check_authorization, q, POLKIT_TIMEOUT_USEC);
        if (r < 0) {
                polkit_query_free(q);
                return r;
        }
        q->next = a->polkit_queries;
        a->polkit_queries = q;
        a->n_polkit_queries++;
        return 0;
}

/* An answer is taken by the call's second dispatch, at once; one whose call failed before it asked again
 * (its job was gone by then, say) would stay: dropped after a while. */
static void polkit_drop_stale(BusApi *a) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        for (PolkitQuery *q = a->polkit_queries, *next; q; q = next) {
                next = q->next;
                if (!q->slot && now - q->answered_usec > POLKIT_ANSWER_KEEP_USEC) {
                        polkit_query_unlink(q);
                        polkit_query_free(q);
                }
        }
}

int bus_polkit_check(BusApi *a, sd_bus_message *msg, const char *action, bool *ret_granted) {
        PolkitQuery *q;
        int r;

        polkit_drop_stale(a);
        q = polkit_query_find(a, msg, action);
        if (q && q->slot)
                return 1;               /* dispatched again before polkit answered: cannot happen, but wait */
        if (q) {
                *ret_granted = q->granted;
                polkit_query_unlink(q);
                polkit_query_free(q);
                return 0;
        }
        if (a->n_polkit_queries >= POLKIT_QUERIES_MAX) {
                log_debug("polkit: %u calls wait for polkit; %s refused without asking", a->n_polkit_queries,
                          action);
                *ret_granted = false;
                return 0;
        }
        r = polkit_query_start(a, msg, action);
        if (r < 0) {
                log_debug("polkit: could not ask about %s: %s", action, strerror(-r));
                *ret_granted = false;
                return 0;
        }
        return 1;
}

int bus_polkit_admin_to_list(BusApi *a, sd_bus_message *msg, Principal *p) {
        /* polkit costs a few ms a question (its rules are JavaScript): not asked when the answer cannot change
         * the listing, i.e. when the caller already sees every job in the table. */
        for (Job *j = manager_next_job(a->manager, NULL); j; j = manager_next_job(a->manager, j))
                if (!authz_can_see(p, job_owner(j)))
                        return bus_polkit_admin(a, msg, p);
        return 0;
}

int bus_polkit_filter(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        const char *path = sd_bus_message_get_path(msg);
        const Principal *cached;
        void *job = NULL;
        bool props;
        int r;

        if (!path)
                return 0;
        props = sd_bus_message_is_method_call(msg, "org.freedesktop.DBus.Properties", "Get") > 0 ||
                sd_bus_message_is_method_call(msg, "org.freedesktop.DBus.Properties", "GetAll") > 0;
        if (props) {
                if (bus_job_object_find(a->bus, path, NULL, a, &job, NULL) <= 0)
                        return 0;       /* not a job: nothing of ours to decide */
        } else if (!streq(path, TW_BUS_PATH) ||
                   sd_bus_message_is_method_call(msg, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects") <= 0)
                return 0;
        if (bus_message_principal(a, msg, &cached, NULL) < 0)
                return 0;               /* the getters say why */
        if (props && authz_can_see(cached, job_owner(job)))
                return 0;
        /* cached is a->principal_cached: polkit's answer goes where the getters will read it, for this message. */
        r = props ? bus_polkit_admin(a, msg, &a->principal_cached) :
                    bus_polkit_admin_to_list(a, msg, &a->principal_cached);
        return r > 0 ? 1 : 0;
}

int bus_polkit_admin(BusApi *a, sd_bus_message *msg, Principal *p) {
        bool granted = false;
        int r;

        if (p->admin || p->remote)
                return 0;
        r = bus_polkit_check(a, msg, BUS_POLKIT_MANAGE_ALL, &granted);
        if (r > 0)
                return 1;
        p->admin = granted;
        return 0;
}
