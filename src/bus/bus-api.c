/* SPDX-License-Identifier: MIT */
/* bus-api.c - teleworkerd's D-Bus API (docs/dbus.md): authorize, validate, act, reply (or reply later).
 *
 * Manager and Job calls act for the sender (its effective uid's user name); Remote calls act for the
 * principal the gateway asserts, and only the gateway's uid may make them. Every job access goes through
 * authz_check(). Replies to Start, Stop and Wait are sent from the engine's callbacks. */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/api.h"
#include "bus/bus-api.h"
#include "bus/bus-start.h"
#include "shared/log.h"
#include "shared/macro.h"

#define READ_OUTPUT_MAX (1024 * 1024)
/* Replies that carry jobs stay far below the bus's maximum message size (dbus-daemon's system bus: 32 MiB;
 * a bigger reply makes the bus drop our connection). A job's properties are at most ~1.1 MiB (argv is
 * bounded by JOB_REQUEST_BYTES_MAX), so one always fits in a page. */
#define LIST_PAGE_BYTES_MAX (4U * 1024U * 1024U)
#define LIST_REPLY_BYTES_MAX (16U * 1024U * 1024U)
/* Each reader costs the daemon an fd and a pipe buffer: bounded per job. */
#define READERS_PER_JOB_MAX 4096

/* Senders whose uid is known: see bus_sender_uid(). */
#define SENDER_CACHE_SIZE 16

typedef struct SenderUid {
        char *name; /* unique bus name, NULL = free slot */
        uid_t uid;
} SenderUid;

struct BusApi {
        sd_bus *bus;
        Manager *manager;
        SenderUid senders[SENDER_CACHE_SIZE];
        uint64_t instance; /* this daemon's List cursors carry it: one from another instance is refused */
        unsigned senders_next; /* the slot the next new sender takes (round robin) */
        sd_bus_slot *manager_slot;
        sd_bus_slot *remote_slot;
        sd_bus_slot *job_slot;
        sd_bus_slot *enumerator_slot;
};

/* ---------------------------------------------------------------------------------------------------- */
/* Identity */

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
static int bus_local_principal(BusApi *a, sd_bus_message *msg, Principal *ret, sd_bus_error *error) {
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

static int bus_principal(BusApi *a, sd_bus_message *msg, Principal *ret, sd_bus_error *error) {
        return bus_message_is_remote(msg) ? bus_remote_principal(a, msg, ret, error) :
                                            bus_local_principal(a, msg, ret, error);
}

/* Reads the job id argument, finds the job and checks p may do op to it. */
static int bus_read_job(BusApi *a, sd_bus_message *msg, const Principal *p, AuthzOp op, Job **ret,
                        sd_bus_error *error) {
        const char *id;
        Job *j = NULL;
        int r;

        r = sd_bus_message_read(msg, "s", &id);
        if (r < 0)
                return r;
        if (!job_id_is_valid(id)) {
                _cleanup_(freep) char *esc = str_escape(id, 64);
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                         "Malformed job id '%s': expected a UUID like "
                                         "'8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10'.", esc ? esc : "?");
        }
        j = manager_find_job(a->manager, id);
        if (!j)
                return sd_bus_error_setf(error, TW_ERROR_NO_SUCH_JOB, "No job with id %s.", id);
        if (authz_check(p, op, job_owner(j)) < 0)
                return sd_bus_error_setf(error, TW_ERROR_ACCESS_DENIED,
                                         "Access to job %s denied: it belongs to another user.", id);
        *ret = j;
        return 0;
}

/* The caller's principal (argument or credentials), then the job id argument, found and authorized. */
static int bus_authorize_job(BusApi *a, sd_bus_message *msg, AuthzOp op, Job **ret, sd_bus_error *error) {
        _cleanup_(principal_done) Principal p = {};
        int r;

        r = bus_principal(a, msg, &p, error);
        if (r < 0)
                return r;
        return bus_read_job(a, msg, &p, op, ret, error);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Job properties: one table of names, used by the a{sv} replies and by the Job objects. */

int bus_job_object_path(const Job *j, char **ret) {
        char hex[JOB_ID_HEX_MAX];
        int r;

        r = job_id_to_hex(job_id(j), hex);
        if (r < 0)
                return r;
        return asprintf(ret, TW_BUS_JOB_PATH_PREFIX "/%s", hex) < 0 ? -ENOMEM : 0;
}

/* Every job property: name and D-Bus type. One list for the a{sv} replies and the Job objects' vtable. */
#define JOB_PROPERTIES(X) \
        X("Id", "s") \
        X("Owner", "s") \
        X("User", "s") \
        X("Argv", "as") \
        X("Executable", "s") \
        X("State", "s") \
        X("Reason", "s") \
        X("ExitCode", "i") \
        X("ExitSignal", "i") \
        X("SubmittedAt", "t") \
        X("StartedAt", "t") \
        X("EndedAt", "t") \
        X("Unit", "s") \
        X("OutputSize", "t") \
        X("OutputDropped", "t") \
        X("OutputError", "s") \
        X("CPUQuotaPerSecUSec", "t") \
        X("MemoryMax", "t") \
        X("IOReadBandwidthMax", "t") \
        X("IOWriteBandwidthMax", "t") \
        X("TasksMax", "t") \
        X("RuntimeMaxUSec", "t") \
        X("Profile", "s") \
        X("Slice", "s") \
        X("PrivatePID", "b") \
        X("PrivateTmp", "b") \
        X("PrivateNetwork", "b") \
        X("ProtectSystem", "b") \
        X("MemoryCurrent", "t") \
        X("MemoryPeak", "t") \
        X("CPUUsageNSec", "t") \
        X("IOReadBytes", "t") \
        X("IOWriteBytes", "t")

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
static int job_append_value(sd_bus_message *m, Job *j, const char *name, const JobUsage *u) {
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
        if (streq(name, "Slice"))
                return sd_bus_message_append(m, "s", job_slice(j) ? job_slice(j) : "");
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
                r = job_append_value(m, j, name, &u);
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
             bus_string_size(job_slice(j)) + bus_string_size(job_state_to_string(job_state(j))) +
             bus_string_size(job_reason_to_string(job_reason(j))) + bus_string_size(e < 0 ? strerror(-e) : "");
        n += 8;
        for (char **a = job_argv(j); a && *a; a++)
                n += bus_string_size(*a);
        return n;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Deferred replies */

static void reply_error_or(sd_bus_message *msg, const sd_bus_error *error) {
        if (error)
                (void) sd_bus_reply_method_error(msg, error);
}

/* A Start or StartWithOutput call waiting for its job to run. */
typedef struct StartCall {
        Manager *manager;
        sd_bus_message *msg;
        int output_fd; /* StartWithOutput: the job's output, followed from offset 0; else -EBADF */
} StartCall;

static StartCall *start_call_free(StartCall *c) {
        if (!c)
                return NULL;
        sd_bus_message_unref(c->msg);
        safe_close(c->output_fd);
        free(c);
        return NULL;
}
DEFINE_FREE_FUNC(StartCall, start_call_free);

static void on_job_started(Job *j, const sd_bus_error *error, void *userdata) {
        _cleanup_(start_call_freep) StartCall *c = userdata;
        _cleanup_(freep) char *path = NULL;
        int r;

        if (error) {
                reply_error_or(c->msg, error);
                return;
        }
        if (bus_job_object_path(j, &path) < 0) {
                (void) sd_bus_reply_method_errno(c->msg, ENOMEM, NULL);
                return;
        }
        if (c->output_fd < 0) {
                (void) sd_bus_reply_method_return(c->msg, "so", job_id(j), path);
                return;
        }
        r = sd_bus_reply_method_return(c->msg, "soh", job_id(j), path, c->output_fd);
        if (r < 0) {
                /* The caller would not learn of a job it asked to follow: it must not run on without it. */
                (void) sd_bus_reply_method_errnof(c->msg, r, "Failed to hand out the output of job %s: %m",
                                                  job_id(j));
                (void) manager_stop_job(c->manager, j, NULL, NULL);
        }
}

static void on_job_stopped(Job *j, const sd_bus_error *error, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = userdata;

        if (error)
                reply_error_or(msg, error);
        else
                (void) sd_bus_reply_method_return(msg, NULL);
}

static void on_job_waited(Job *j, const sd_bus_error *error, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = userdata, *reply = NULL;

        if (error) {
                reply_error_or(msg, error);
                return;
        }
        if (sd_bus_message_new_method_return(msg, &reply) < 0 || bus_append_job_props(reply, j) < 0)
                (void) sd_bus_reply_method_errno(msg, ENOMEM, NULL);
        else
                (void) sd_bus_send(NULL, reply, NULL);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Methods */

/* The engine's JobRequest has the StartRequest's fields, one by one (until the two are one type). */
static JobRequest job_request_from_start(const StartRequest *s) {
        return (JobRequest) {
                .argv = s->argv,
                .env = s->env,
                .cwd = s->cwd,
                .limits = s->limits,
                .profile = s->profile,
                .runtime_max_usec = s->runtime_max_usec,
                .isolation = {
                        .private_pid = s->isolation.private_pid,
                        .private_tmp = s->isolation.private_tmp,
                        .private_network = s->isolation.private_network,
                        .protect_system = s->isolation.protect_system,
                },
        };
}

/* Start, StartAs and StartWithOutput: the same arguments; the last also hands out the job's output. */
static int method_start(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        _cleanup_(principal_done) Principal p = {};
        _cleanup_(bus_start_request_done) StartRequest sreq = { .isolation = START_ISOLATION_UNSET };
        _cleanup_(start_call_freep) StartCall *c = NULL;
        JobRequest req;
        bool with_output = sd_bus_message_is_method_call(msg, TW_BUS_INTERFACE_MANAGER,
                                                         "StartWithOutput") > 0;
        Job *j = NULL;
        int r;

        r = bus_principal(a, msg, &p, error);
        if (r < 0)
                return r;
        r = bus_read_start_request(msg, &sreq, error);
        if (r < 0)
                return r;
        req = job_request_from_start(&sreq);

        if (with_output) {
                /* Refused readers refuse the call before a job exists (not a job started, then stopped). */
                r = manager_check_readers(a->manager, &p, error);
                if (r < 0)
                        return r;
        }

        c = new0(StartCall, 1);
        if (!c)
                return -ENOMEM;
        c->manager = a->manager;
        c->msg = sd_bus_message_ref(msg);
        c->output_fd = -EBADF;
        r = manager_start_job(a->manager, &p, &req, on_job_started, c, &j, error);
        if (r < 0) {
                if (j)
                        manager_cancel_callbacks(a->manager, c);
                return r;
        }

        if (with_output) {
                /* Opened before the job is released: the reader replays from the first byte whenever the
                 * caller gets to it. Without its output the caller would have a job it cannot follow, which
                 * StartWithOutput promises never to leave behind. */
                r = manager_open_output(a->manager, &p, j, 0, true, &c->output_fd, error);
                if (r < 0) {
                        manager_cancel_callbacks(a->manager, c);
                        (void) manager_stop_job(a->manager, j, NULL, NULL);
                        return r;
                }
        }
        TAKE_PTR(c); /* on_job_started() owns it now */
        return 1;
}

static int method_stop(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        Job *j = NULL;
        int r;

        r = bus_authorize_job(a, msg, AUTHZ_STOP, &j, error);
        if (r < 0)
                return r;
        r = manager_stop_job(a->manager, j, on_job_stopped, sd_bus_message_ref(msg));
        if (r < 0) {
                sd_bus_message_unref(msg);
                return sd_bus_error_set_errnof(error, r, "Failed to stop job %s: %m", job_id(j));
        }
        return 1;
}

static int method_wait(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        Job *j = NULL;
        int r;

        r = bus_authorize_job(a, msg, AUTHZ_VIEW, &j, error);
        if (r < 0)
                return r;
        r = manager_wait_job(a->manager, j, on_job_waited, sd_bus_message_ref(msg));
        if (r < 0) {
                sd_bus_message_unref(msg);
                return r;
        }
        return 1;
}

static int method_get_job(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Job *j = NULL;
        int r;

        r = bus_authorize_job(a, msg, AUTHZ_VIEW, &j, error);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = bus_append_job_props(reply, j);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* List cursors: "<instance>-<seq>", the last job of the page. Opaque to callers (docs/dbus.md). */
int bus_list_cursor_parse(const char *cursor, uint64_t instance, uint64_t *ret_seq) {
        size_t len = cursor ? strlen(cursor) : 0;

        if (len == 0) {
                *ret_seq = 0;
                return 0;
        }
        /* 16 hex digits, '-', 1 to 19 decimal digits (strtoull alone would take signs and spaces too). */
        if (len < 18 || len > 16 + 1 + 19 || cursor[16] != '-' || strspn(cursor, "0123456789abcdef") != 16 ||
            strspn(cursor + 17, "0123456789") != len - 17)
                return -EINVAL;
        if (strtoull(cursor, NULL, 16) != instance)
                return -ESTALE;
        *ret_seq = strtoull(cursor + 17, NULL, 10);
        return 0;
}

static int list_cursor_parse(BusApi *a, const char *cursor, uint64_t *ret, sd_bus_error *error) {
        int r = bus_list_cursor_parse(cursor, a->instance, ret);

        if (r == -ESTALE)
                return sd_bus_error_set(error, TW_ERROR_INVALID_ARGS,
                                        "The cursor is from an earlier run of teleworkerd: list again from \"\".");
        if (r < 0)
                return sd_bus_error_set(error, TW_ERROR_INVALID_ARGS,
                                        "Malformed cursor: pass \"\" or the 'next' of the previous page.");
        return 0;
}

/* Appends the jobs p may see that come after seq "after", oldest first, as long as at most max_jobs (0: any
 * number) and at most budget bytes of them fit. Returns 1 and the last job appended in *ret_last when visible
 * jobs are left over, 0 when the listing is complete. */
static int bus_append_job_list(BusApi *a, sd_bus_message *reply, const Principal *p, uint64_t after,
                               uint32_t max_jobs, size_t budget, Job **ret_last) {
        size_t used = 0;
        uint32_t n = 0;
        Job *last = NULL;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        if (r < 0)
                return r;
        for (Job *j = manager_next_job(a->manager, NULL); j; j = manager_next_job(a->manager, j)) {
                size_t size;

                if (job_seq(j) <= after || !authz_can_see(p, job_owner(j)))
                        continue;
                size = bus_job_props_size_max(j);
                if ((max_jobs > 0 && n >= max_jobs) || (n > 0 && used + size > budget)) {
                        *ret_last = last;
                        r = sd_bus_message_close_container(reply);
                        return r < 0 ? r : 1;
                }
                r = bus_append_job_props(reply, j);
                if (r < 0)
                        return r;
                used += size;
                last = j;
                n++;
        }
        *ret_last = last;
        r = sd_bus_message_close_container(reply);
        return r < 0 ? r : 0;
}

/* List and ListAs: every job the caller may see in one reply, as long as that reply is sure to stay far below
 * the bus's message size limit; a larger listing is LimitsExceeded (ListPage gives it page by page), never a
 * reply that makes the bus drop the daemon. */
static int method_list(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        _cleanup_(principal_done) Principal p = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Job *last = NULL;
        int r;

        r = bus_principal(a, msg, &p, error);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = bus_append_job_list(a, reply, &p, 0, 0, LIST_REPLY_BYTES_MAX, &last);
        if (r < 0)
                return r;
        if (r > 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "The job list is larger than one reply may be (%u MiB): use ListPage.",
                                         LIST_REPLY_BYTES_MAX / 1024 / 1024);
        return sd_bus_send(NULL, reply, NULL);
}

/* ListPage and ListPageAs: the jobs after cursor ("" = from the oldest), at most max of them (0 = as many as
 * fit in LIST_PAGE_BYTES_MAX), and the cursor of the next page ("" = that was the last). */
static int method_list_page(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        _cleanup_(principal_done) Principal p = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char next[64] = "";
        const char *cursor;
        uint64_t after = 0;
        uint32_t max;
        Job *last = NULL;
        int r;

        r = bus_principal(a, msg, &p, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "su", &cursor, &max);
        if (r < 0)
                return r;
        r = list_cursor_parse(a, cursor, &after, error);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = bus_append_job_list(a, reply, &p, after, max, LIST_PAGE_BYTES_MAX, &last);
        if (r < 0)
                return r;
        if (r > 0)
                (void) snprintf(next, sizeof(next), "%016" PRIx64 "-%" PRIu64, a->instance, job_seq(last));
        r = sd_bus_message_append(reply, "s", next);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* ReadOutput and OpenOutput, after the job was found and the caller authorized: the "t offset, t max" or
 * "t offset, b follow" arguments are next in msg. Shared by the Manager, Remote and Job objects. */
static int reply_read_output(sd_bus_message *msg, Job *j, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(freep) void *buf = NULL;
        OutputStore *o = job_output(j);
        uint64_t offset, max;
        bool eof = false;
        ssize_t n = 0;
        int r;

        r = sd_bus_message_read(msg, "tt", &offset, &max);
        if (r < 0)
                return r;
        if (!o)
                return sd_bus_error_setf(error, TW_ERROR_NO_OUTPUT, "Job %s has no output.", job_id(j));
        if (offset > output_store_size(o))
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                         "Offset %" PRIu64 " is past the end of the output (%" PRIu64 " bytes).", offset,
                                         output_store_size(o));
        max = MIN(max, (uint64_t) READ_OUTPUT_MAX);
        buf = malloc(MAX(max, (uint64_t) 1));
        if (!buf)
                return -ENOMEM;
        n = output_store_read(o, offset, buf, (size_t) max, &eof);
        if (n < 0)
                return sd_bus_error_set_errnof(error, (int) n, "Failed to read the output of job %s: %m", job_id(j));
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(reply, 'y', buf, (size_t) n);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "tb", offset + (uint64_t) n, (int) eof);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* The per-job cap stays (a job's readers are one store's list); per principal and in total, the manager
 * counts them (manager_open_output()). */
static int reply_open_output(BusApi *a, sd_bus_message *msg, const Principal *p, Job *j, sd_bus_error *error) {
        _cleanup_(closep) int fd = -EBADF;
        OutputStore *o = job_output(j);
        uint64_t offset;
        int follow, r;

        r = sd_bus_message_read(msg, "tb", &offset, &follow);
        if (r < 0)
                return r;
        if (o && output_store_n_readers(o) >= READERS_PER_JOB_MAX)
                return sd_bus_error_setf(error, TW_ERROR_TOO_MANY_READERS,
                                         "Job %s already has %d readers, the most it may have.", job_id(j),
                                         READERS_PER_JOB_MAX);
        r = manager_open_output(a->manager, p, j, offset, follow, &fd, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "h", fd);
}

static int method_read_output(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        Job *j = NULL;
        int r;

        r = bus_authorize_job(a, msg, AUTHZ_VIEW, &j, error);
        if (r < 0)
                return r;
        return reply_read_output(msg, j, error);
}

static int method_open_output(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(principal_done) Principal p = {};
        BusApi *a = userdata;
        Job *j = NULL;
        int r;

        r = bus_principal(a, msg, &p, error);
        if (r < 0)
                return r;
        r = bus_read_job(a, msg, &p, AUTHZ_VIEW, &j, error);
        if (r < 0)
                return r;
        return reply_open_output(a, msg, &p, j, error);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Job objects */

static int job_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                           sd_bus_error *error) {
        BusApi *a = userdata;
        char id[JOB_ID_STRING_MAX];
        const char *hex;
        Job *j = NULL;

        if (strncmp(path, TW_BUS_JOB_PATH_PREFIX "/", strlen(TW_BUS_JOB_PATH_PREFIX) + 1) != 0)
                return 0;
        hex = path + strlen(TW_BUS_JOB_PATH_PREFIX) + 1;
        if (job_id_from_hex(hex, id) < 0)
                return 0;
        j = manager_find_job(a->manager, id);
        if (!j)
                return 0;
        *found = j;
        return 1;
}

/* Calls on a Job object: the same checks as the Manager methods with an id argument. */
static int job_object_authorize(BusApi *a, sd_bus_message *msg, Job *j, AuthzOp op, sd_bus_error *error) {
        _cleanup_(principal_done) Principal p = {};
        int r;

        if (!msg)
                return 0; /* emitting a signal, not answering a caller */
        r = bus_local_principal(a, msg, &p, error);
        if (r < 0)
                return r;
        if (authz_check(&p, op, job_owner(j)) < 0)
                return sd_bus_error_setf(error, TW_ERROR_ACCESS_DENIED,
                                         "Access to job %s denied: it belongs to another user.", job_id(j));
        return 0;
}

static BusApi *bus_api_of(sd_bus *bus);

static int property_get_job(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        JobUsage u;
        int r;

        r = job_object_authorize(bus_api_of(bus), sd_bus_get_current_message(bus), j, AUTHZ_VIEW, error);
        if (r < 0)
                return r;
        /* An unavailable counter reads UINT64_MAX here, systemd's own "unset": a property must have a value. */
        job_usage(j, &u);
        return job_append_value(reply, j, property, &u);
}

static int job_method_forward(sd_bus_message *msg, Job *j, AuthzOp op, sd_bus_error *error) {
        return job_object_authorize(bus_api_of(sd_bus_message_get_bus(msg)), msg, j, op, error);
}

static int job_method_stop(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        BusApi *a = bus_api_of(sd_bus_message_get_bus(msg));
        int r;

        r = job_method_forward(msg, j, AUTHZ_STOP, error);
        if (r < 0)
                return r;
        r = manager_stop_job(a->manager, j, on_job_stopped, sd_bus_message_ref(msg));
        if (r < 0) {
                sd_bus_message_unref(msg);
                return r;
        }
        return 1;
}

static int job_method_wait(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        BusApi *a = bus_api_of(sd_bus_message_get_bus(msg));
        int r;

        r = job_method_forward(msg, j, AUTHZ_VIEW, error);
        if (r < 0)
                return r;
        r = manager_wait_job(a->manager, j, on_job_waited, sd_bus_message_ref(msg));
        if (r < 0) {
                sd_bus_message_unref(msg);
                return r;
        }
        return 1;
}

static int job_method_read_output(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        int r = job_method_forward(msg, userdata, AUTHZ_VIEW, error);
        return r < 0 ? r : reply_read_output(msg, userdata, error);
}

static int job_method_open_output(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(principal_done) Principal p = {};
        BusApi *a = bus_api_of(sd_bus_message_get_bus(msg));
        int r;

        r = job_method_forward(msg, userdata, AUTHZ_VIEW, error);
        if (r < 0)
                return r;
        r = bus_local_principal(a, msg, &p, error);    /* the reader is charged to the caller */
        if (r < 0)
                return r;
        return reply_open_output(a, msg, &p, userdata, error);
}

static int job_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        BusApi *a = userdata;
        _cleanup_(principal_done) Principal p = {};
        _cleanup_(strv_freep) char **l = NULL;
        sd_bus_message *msg = sd_bus_get_current_message(bus);
        size_t n = 0;
        int r;

        if (msg) {
                r = bus_local_principal(a, msg, &p, error);
                if (r < 0)
                        return r;
        }
        l = new0(char *, manager_n_jobs(a->manager) + 1);
        if (!l)
                return -ENOMEM;
        for (Job *j = manager_next_job(a->manager, NULL); j; j = manager_next_job(a->manager, j)) {
                if (msg && !authz_can_see(&p, job_owner(j)))
                        continue;
                r = bus_job_object_path(j, &l[n]);
                if (r < 0)
                        return r;
                n++;
        }
        *nodes = TAKE_PTR(l);
        return 0;
}

#define JOB_PROPERTY(name, sig) \
        SD_BUS_PROPERTY(name, sig, property_get_job, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION)

static const sd_bus_vtable job_vtable[] = {
        SD_BUS_VTABLE_START(0),
#define X(name, signature) JOB_PROPERTY(name, signature),
        JOB_PROPERTIES(X)
#undef X
        SD_BUS_METHOD("Stop", "", "", job_method_stop, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Wait", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", props), job_method_wait,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReadOutput", SD_BUS_ARGS("t", offset, "t", max),
                                SD_BUS_RESULT("ay", data, "t", next, "b", eof), job_method_read_output,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenOutput", SD_BUS_ARGS("t", offset, "b", follow), SD_BUS_RESULT("h", fd),
                                job_method_open_output, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Start", SD_BUS_ARGS("as", argv, "as", env, "s", cwd, "a{sv}", options),
                                SD_BUS_RESULT("s", id, "o", job), method_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StartWithOutput",
                                SD_BUS_ARGS("as", argv, "as", env, "s", cwd, "a{sv}", options),
                                SD_BUS_RESULT("s", id, "o", job, "h", output), method_start,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Stop", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT, method_stop,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetJob", SD_BUS_ARGS("s", id), SD_BUS_RESULT("a{sv}", props), method_get_job,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("List", SD_BUS_NO_ARGS, SD_BUS_RESULT("aa{sv}", jobs), method_list,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListPage", SD_BUS_ARGS("s", cursor, "u", max),
                                SD_BUS_RESULT("aa{sv}", jobs, "s", next), method_list_page,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Wait", SD_BUS_ARGS("s", id), SD_BUS_RESULT("a{sv}", props), method_wait,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReadOutput", SD_BUS_ARGS("s", id, "t", offset, "t", max),
                                SD_BUS_RESULT("ay", data, "t", next, "b", eof), method_read_output,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenOutput", SD_BUS_ARGS("s", id, "t", offset, "b", follow),
                                SD_BUS_RESULT("h", fd), method_open_output, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("JobStateChanged", SD_BUS_ARGS("s", id, "o", job, "s", state, "s", reason), 0),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable remote_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("StartAs",
                                SD_BUS_ARGS("s", principal, "b", admin, "as", argv, "as", env, "s", cwd, "a{sv}",
                                            options),
                                SD_BUS_RESULT("s", id, "o", job), method_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StopAs", SD_BUS_ARGS("s", principal, "b", admin, "s", id), SD_BUS_NO_RESULT,
                                method_stop, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetJobAs", SD_BUS_ARGS("s", principal, "b", admin, "s", id),
                                SD_BUS_RESULT("a{sv}", props), method_get_job, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListAs", SD_BUS_ARGS("s", principal, "b", admin), SD_BUS_RESULT("aa{sv}", jobs),
                                method_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListPageAs", SD_BUS_ARGS("s", principal, "b", admin, "s", cursor, "u", max),
                                SD_BUS_RESULT("aa{sv}", jobs, "s", next), method_list_page,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("WaitAs", SD_BUS_ARGS("s", principal, "b", admin, "s", id),
                                SD_BUS_RESULT("a{sv}", props), method_wait, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReadOutputAs",
                                SD_BUS_ARGS("s", principal, "b", admin, "s", id, "t", offset, "t", max),
                                SD_BUS_RESULT("ay", data, "t", next, "b", eof), method_read_output,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenOutputAs",
                                SD_BUS_ARGS("s", principal, "b", admin, "s", id, "t", offset, "b", follow),
                                SD_BUS_RESULT("h", fd), method_open_output, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

const sd_bus_vtable *bus_api_vtable(const char *interface) {
        if (streq_ptr(interface, TW_BUS_INTERFACE_MANAGER))
                return manager_vtable;
        if (streq_ptr(interface, TW_BUS_INTERFACE_REMOTE))
                return remote_vtable;
        if (streq_ptr(interface, TW_BUS_INTERFACE_JOB))
                return job_vtable;
        return NULL;
}

/* ---------------------------------------------------------------------------------------------------- */

/* sd-bus hands property getters the bus, not our state: one API per bus, found through the bus's slot. */
static BusApi *the_api;

static BusApi *bus_api_of(sd_bus *bus) {
        return the_api;
}

static void on_job_changed(Job *j, void *userdata) {
        BusApi *a = userdata;
        _cleanup_(freep) char *path = NULL;

        if (bus_job_object_path(j, &path) < 0)
                return;
        (void) sd_bus_emit_signal(a->bus, TW_BUS_PATH, TW_BUS_INTERFACE_MANAGER, "JobStateChanged", "soss",
                                  job_id(j), path, job_state_to_string(job_state(j)),
                                  job_reason_to_string(job_reason(j)));
        (void) sd_bus_emit_properties_changed(a->bus, path, TW_BUS_INTERFACE_JOB, "State", "Reason", "ExitCode",
                                              "ExitSignal", "StartedAt", "EndedAt", NULL);
}

BusApi *bus_api_free(BusApi *a) {
        if (!a)
                return NULL;
        manager_set_changed_handler(a->manager, NULL, NULL);
        sd_bus_slot_unref(a->manager_slot);
        sd_bus_slot_unref(a->remote_slot);
        sd_bus_slot_unref(a->job_slot);
        sd_bus_slot_unref(a->enumerator_slot);
        for (size_t i = 0; i < ELEMENTSOF(a->senders); i++)
                free(a->senders[i].name);
        sd_bus_unref(a->bus);
        if (the_api == a)
                the_api = NULL;
        free(a);
        return NULL;
}

int bus_api_new(sd_bus *bus, Manager *m, BusApi **ret) {
        _cleanup_(bus_api_freep) BusApi *a = NULL;
        int r;

        if (the_api)
                return -EBUSY;
        a = new0(BusApi, 1);
        if (!a)
                return -ENOMEM;
        a->bus = sd_bus_ref(bus);
        a->manager = m;
        a->instance = now_usec(CLOCK_REALTIME); /* differs between runs: enough to tell cursors apart */

        r = sd_bus_add_object_vtable(bus, &a->manager_slot, TW_BUS_PATH, TW_BUS_INTERFACE_MANAGER, manager_vtable,
                                     a);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(bus, &a->remote_slot, TW_BUS_PATH, TW_BUS_INTERFACE_REMOTE, remote_vtable, a);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(bus, &a->job_slot, TW_BUS_JOB_PATH_PREFIX, TW_BUS_INTERFACE_JOB, job_vtable,
                                       job_object_find, a);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(bus, &a->enumerator_slot, TW_BUS_JOB_PATH_PREFIX, job_node_enumerator, a);
        if (r < 0)
                return r;
        manager_set_changed_handler(m, on_job_changed, a);
        the_api = a;
        *ret = TAKE_PTR(a);
        return 0;
}

int bus_api_request_name(BusApi *a) {
        return sd_bus_request_name(a->bus, TW_BUS_NAME, 0);
}
