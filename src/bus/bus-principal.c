/* SPDX-License-Identifier: MIT */
/* bus-principal.c - who is calling (docs/dbus.md, "Authorization"): a local sender's user name from its uid
 * (cached per unique name), a Remote call's asserted principal (the gateway's uid only), and the one path by
 * which a method finds a job and asks authz_check() whether the caller may act on it. */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/api.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "bus/bus-internal.h"

static bool user_in_group(const struct passwd *pw, const char *group) {
        struct group *gr;
        gid_t groups[256];
        int n = (int) ELEMENTSOF(groups);

        if (!group)
                return false;
        gr = getgrnam(group);
        if (!gr)
                return false;
        if (pw->pw_gid == gr->gr_gid)
                return true;
        if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
                return false;
        for (int i = 0; i < n; i++)
                if (groups[i] == gr->gr_gid)
                        return true;
        return false;
}

/* The uid of msg's sender. Asking the bus costs a synchronous round trip through dbus-daemon (sd-bus has no
 * other way to get credentials there), with the event loop stopped meanwhile. But the answer for a unique
 * name never changes: the bus records a connection's credentials when it connects, and never reuses a
 * unique name while our connection to it lasts. So the last few senders are remembered: a client's second
 * call (telerun run's Wait) and every call on the gateway's one connection cost no round trip. */
static int bus_sender_uid(BusApi *a, sd_bus_message *msg, uid_t *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const char *sender = sd_bus_message_get_sender(msg);
        bool cacheable = sender && sender[0] == ':';
        SenderUid *slot;
        uid_t uid;
        int r;

        for (size_t i = 0; cacheable && i < ELEMENTSOF(a->senders); i++)
                if (a->senders[i].name && streq(a->senders[i].name, sender)) {
                        *ret = a->senders[i].uid;
                        return 0;
                }

        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID | SD_BUS_CREDS_UID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                r = sd_bus_creds_get_uid(creds, &uid);
        if (r < 0)
                return r;

        if (cacheable) {
                slot = &a->senders[a->senders_next];
                free(slot->name);
                slot->name = strdup(sender); /* NULL: just not remembered */
                slot->uid = uid;
                a->senders_next = (a->senders_next + 1) % ELEMENTSOF(a->senders);
        }
        *ret = uid;
        return 0;
}

/* The sender's principal: its effective uid's user name; root and the admin group administer. A uid of a
 * remote principal's dynamic user (its job calling us) is that remote principal, never an administrator:
 * the job sees and may do what its principal may through the gateway, and no more. */
int bus_local_principal(BusApi *a, sd_bus_message *msg, Principal *ret, sd_bus_error *error) {
        const DynUser *dyn;
        struct passwd *pw;
        uid_t uid;
        int r;

        r = bus_sender_uid(a, msg, &uid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to determine the caller's credentials: %m");
        dyn = dynuser_by_uid(manager_dynamic_users(a->manager), uid);
        if (dyn) {
                *ret = (Principal) { .name = strdup(dyn->principal), .uid = uid, .remote = true };
                return ret->name ? 0 : -ENOMEM;
        }
        pw = getpwuid(uid);
        if (!pw || !principal_name_is_valid(pw->pw_name))
                return sd_bus_error_setf(error, TW_ERROR_ACCESS_DENIED,
                                         "The calling uid %u has no usable user name.", (unsigned) uid);
        *ret = (Principal) {
                .name = strdup(pw->pw_name),
                .uid = uid,
                .admin = uid == 0 || user_in_group(pw, manager_config(a->manager)->admin_group),
        };
        return ret->name ? 0 : -ENOMEM;
}

/* A certificate's name never stands for a system account: "root", or a name the user database gives a
 * uid below 1000, would own (and, through the shared name space of principals, list and stop) that
 * account's local jobs and inherit its policy entry. Only a policy entry of that very name with
 * "remote_system_account": true lets such a principal in. (teleworkerd sets SYSTEMD_BYPASS_USERDB for
 * its own userdb service, so this lookup never waits for this process.) */
static int bus_check_remote_name(BusApi *a, const char *name, sd_bus_error *error) {
        struct passwd *pw;
        PrincipalPolicy policy;

        pw = getpwnam(name);
        if (!streq(name, "root") && (!pw || pw->pw_uid >= 1000))
                return 0;
        config_principal_policy(manager_config(a->manager), name, &policy);
        if (policy.named && policy.remote_system_account)
                return 0;
        log_warning("Refused remote principal '%s': it names the system account %s (uid %u); a policy entry "
                    "\"%s\" with \"remote_system_account\": true would allow it.", name, name,
                    pw ? (unsigned) pw->pw_uid : 0u, name);
        return sd_bus_error_setf(error, TW_ERROR_ACCESS_DENIED,
                                 "The remote principal '%s' names a system account.", name);
}

/* Reads "sb" (principal, admin) of a Remote call, after checking the sender is the gateway's account. */
static int bus_remote_principal(BusApi *a, sd_bus_message *msg, Principal *ret, sd_bus_error *error) {
        const char *gateway = manager_config(a->manager)->gateway_user, *name;
        struct passwd *pw;
        int admin, r;
        uid_t uid;

        r = bus_sender_uid(a, msg, &uid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to determine the caller's credentials: %m");
        pw = gateway ? getpwnam(gateway) : NULL;
        if (!pw || pw->pw_uid != uid)
                return sd_bus_error_setf(error, TW_ERROR_ACCESS_DENIED,
                                         "Only the gateway account '%s' may act for remote principals.",
                                         gateway ? gateway : "");
        r = sd_bus_message_read(msg, "sb", &name, &admin);
        if (r < 0)
                return r;
        if (!principal_name_is_valid(name))
                return sd_bus_error_set(error, TW_ERROR_INVALID_ARGS, "Invalid principal name.");
        r = bus_check_remote_name(a, name, error);
        if (r < 0)
                return r;
        *ret = (Principal) { .name = strdup(name), .uid = UID_INVALID, .admin = admin, .remote = true };
        return ret->name ? 0 : -ENOMEM;
}

static bool bus_message_is_remote(sd_bus_message *msg) {
        return streq_ptr(sd_bus_message_get_interface(msg), TW_BUS_INTERFACE_REMOTE);
}

int bus_principal(BusApi *a, sd_bus_message *msg, Principal *ret, sd_bus_error *error) {
        return bus_message_is_remote(msg) ? bus_remote_principal(a, msg, ret, error) :
                                            bus_local_principal(a, msg, ret, error);
}

/* Reads the job id argument, finds the job and checks p may do op to it (asking polkit for a local caller's
 * access to another user's job: then 1, the call is dispatched again once polkit answered). */
int bus_read_job(BusApi *a, sd_bus_message *msg, const Principal *p, AuthzOp op, Job **ret,
                 sd_bus_error *error) {
        Principal q = *p;   /* a copy for polkit's answer; the name stays p's */
        bool asked = false;
        const char *id;
        Job *j = NULL;
        int r;

        r = sd_bus_message_read(msg, "s", &id);
        if (r < 0)
                return r;
        r = bus_resolve_job(a, msg, &q, id, &j, &asked, error);
        if (r != 0)
                return r;   /* an error, or polkit asked about a prefix or name: the call comes back */
        id = job_id(j);
        if (authz_check(&q, op, job_owner(j)) < 0 && !asked) {
                r = bus_polkit_admin(a, msg, &q);
                if (r > 0)
                        return r;   /* asked polkit: the call comes back */
        }
        if (authz_check(&q, op, job_owner(j)) < 0)
                return sd_bus_error_setf(error, TW_ERROR_ACCESS_DENIED,
                                         "Access to job %s denied: it belongs to another user.", id);
        *ret = j;
        return 0;
}

int bus_principal_job(BusApi *a, sd_bus_message *msg, AuthzOp op, Principal *p, Job **ret, sd_bus_error *error) {
        int r;

        r = bus_principal(a, msg, p, error);
        if (r < 0)
                return r;
        return bus_read_job(a, msg, p, op, ret, error);
}

int bus_authorize_job(BusApi *a, sd_bus_message *msg, AuthzOp op, Job **ret, sd_bus_error *error) {
        _cleanup_(principal_done) Principal p = {};

        return bus_principal_job(a, msg, op, &p, ret, error);
}
