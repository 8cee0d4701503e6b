/* SPDX-License-Identifier: MIT */
/* bus-internal.h - what the files of src/bus/ share behind bus-api.h: the BusApi object, the bounds of the
 * replies, the table of job properties, and the few functions one file calls in another. Only src/bus/
 * includes it. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "bus/bus-api.h"
#include "bus/bus-events.h"
#include "bus/bus-start.h"
#include "core/authz.h"
#include "core/list-filter.h"

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

/* bus-events.c: the ring of job state changes EventsAs reads. */
#define EVENTS_REPLY_MAX 256U                    /* events per reply: ~64 KiB at most */
#define EVENT_WAITERS_MAX 1024U
#define EVENT_WAITERS_PER_PRINCIPAL 64U
#define EVENTS_WAIT_USEC (25U * USEC_PER_SEC)    /* a waiter with nothing to read is answered empty then */

typedef struct BusEvents BusEvents;
/* Sequence numbers start after base (the daemon's start, µs since the epoch). */
int bus_events_new(uint64_t base, BusEvents **ret);
BusEvents *bus_events_free(BusEvents *e);
DEFINE_FREE_FUNC(BusEvents, bus_events_free);
/* Records j's state as the next event and answers the waiters that may see it. */
void bus_events_push(BusEvents *e, Job *j);
int bus_method_events(sd_bus_message *msg, void *userdata, sd_bus_error *error);

/* bus-polkit.c: polkit for local callers that are neither root nor in the admin group. */
#define BUS_POLKIT_MANAGE_ALL "org.teleworker.worker1.manage-all"
#define BUS_POLKIT_NETWORK "org.teleworker.worker1.network"
typedef struct PolkitQuery PolkitQuery;
/* 0 with *ret_granted set (polkit's answer for this call; "no" without polkitd), or 1: the question is out,
 * the handler returns 1 and is called again with the same message once polkit answered. */
int bus_polkit_check(BusApi *a, sd_bus_message *msg, const char *action, bool *ret_granted);
/* p->admin from manage-all, unless p is remote or already an administrator. 0, or 1 as above. */
int bus_polkit_admin(BusApi *a, sd_bus_message *msg, Principal *p);
/* The same for a listing: asked only if some job in the table is hidden from p. */
int bus_polkit_admin_to_list(BusApi *a, sd_bus_message *msg, Principal *p);
/* An sd-bus filter: Properties.Get/GetAll of a Job object and GetManagedObjects, which sd-bus answers from
 * getters and the node enumerator that cannot wait, ask polkit here, before dispatch (1: held until polkit
 * answers, then dispatched again); the answer is in the message's cached principal (bus_message_principal()). */
int bus_polkit_filter(sd_bus_message *msg, void *userdata, sd_bus_error *error);
void bus_polkit_done(BusApi *a);

/* bus-object-manager.c: ObjectManager at TW_BUS_PATH, its bound and its signals. */
int bus_object_manager_add(BusApi *a);
/* The local caller of msg, looked up once per message (GetAll, GetManagedObjects call a getter per property). */
int bus_message_principal(BusApi *a, sd_bus_message *msg, const Principal **ret, sd_bus_error *error);
void bus_message_principal_done(BusApi *a);
/* For GetManagedObjects: LimitsExceeded if the jobs p sees would not fit in one reply. */
int bus_managed_objects_check(BusApi *a, sd_bus_message *msg, const Principal *p, sd_bus_error *error);
/* InterfacesAdded/Removed for a job's object: its path and interface, no properties. */
void bus_emit_job_added(BusApi *a, Job *j);
void bus_emit_job_removed(Job *j, void *userdata);

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
        BusEvents *events;
        sd_bus_slot *object_manager_slot;
        sd_bus_slot *polkit_filter_slot;
        sd_bus_message *principal_msg;  /* bus_message_principal()'s message (a reference) and its caller */
        Principal principal_cached;
        PolkitQuery *polkit_queries;
        unsigned n_polkit_queries;
};

/* bus-principal.c: the caller, and the job it names. */
/* The sender's principal from its credentials (Manager and Job objects). */
int bus_local_principal(BusApi *a, sd_bus_message *msg, Principal *ret, sd_bus_error *error);
/* The caller's principal: the Remote argument or the credentials, by the message's interface. */
int bus_principal(BusApi *a, sd_bus_message *msg, Principal *ret, sd_bus_error *error);
/* Reads the job id argument, finds the job and checks p may do op to it; 1: polkit was asked, the handler
 * returns 1 and is called again (bus-polkit.c). */
int bus_read_job(BusApi *a, sd_bus_message *msg, const Principal *p, AuthzOp op, Job **ret, sd_bus_error *error);
/* bus-output.c: OpenOutputEx and OpenOutputExAs. */
int bus_method_open_output_ex(sd_bus_message *msg, void *userdata, sd_bus_error *error);
/* bus-output.c: ReadOutputEx(As), and the reply the Job object's ReadOutputEx shares once it authorized. */
int bus_method_read_output_ex(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_reply_read_output_ex(sd_bus_message *msg, Job *j, sd_bus_error *error);
/* The reply of ReadOutput and ReadOutputEx once their arguments are read: select is OUTPUT_SELECT_*. */
int bus_reply_output_bytes(sd_bus_message *msg, Job *j, unsigned select, uint64_t offset, uint64_t max,
                           sd_bus_error *error);

/* bus-lifecycle.c: finds the job ref (an id, or a unique prefix or name among the jobs p may see) names: 0,
 * or <0 with error set (InvalidArgs, NoSuchJob, AmbiguousJob). For a prefix or a name that another user's job
 * matches, a local non-administrator's polkit manage-all is asked first (*ret_asked; p takes the answer), so
 * the reference sees what p's list sees: 1 when asked, the call comes back. Authorization is the caller's. */
int bus_resolve_job(BusApi *a, sd_bus_message *msg, Principal *p, const char *ref, Job **ret, bool *ret_asked,
                    sd_bus_error *error);
/* ListFiltered's a{sv} filter (States as, Since t, Owner s, Last u), next in msg: 0, or <0 with error set
 * (InvalidArgs). Strings are borrowed from msg. */
int bus_read_list_filter(sd_bus_message *msg, JobListFilter *ret, sd_bus_error *error);
/* Before a listing: polkit for a local non-administrator that lists while jobs are hidden from it or names
 * another Owner in f (NULL: no filter); 1 when asked (the call comes back); AccessDenied for another Owner
 * than p unless p is (now) an administrator. */
int bus_list_authorize(BusApi *a, sd_bus_message *msg, Principal *p, const JobListFilter *f, sd_bus_error *error);
/* Whether p sees j and it passes f (NULL: no filter). */
bool bus_list_visible(const Principal *p, const JobListFilter *f, Job *j);
/* How many of the jobs p sees through f come before the newest f->last (0 without a filter or a last). */
uint64_t bus_list_skip(BusApi *a, const Principal *p, const JobListFilter *f);
/* The Remove and Kill methods (Manager and Remote). */
int bus_method_remove(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_kill(sd_bus_message *msg, void *userdata, sd_bus_error *error);
/* bus_principal(), then bus_read_job(). */
/* The caller's principal (argument or credentials) into *p, then the job id argument, found and authorized
 * (bus_read_job(): 1 when polkit was asked). bus_authorize_job() is the same for a handler that needs no p. */
int bus_principal_job(BusApi *a, sd_bus_message *msg, AuthzOp op, Principal *p, Job **ret, sd_bus_error *error);
int bus_authorize_job(BusApi *a, sd_bus_message *msg, AuthzOp op, Job **ret, sd_bus_error *error);

/* bus-props.c: every job property, name and D-Bus type. One list for the a{sv} replies and the Job objects. */
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
        X("Name", "s") \
        X("PrivatePID", "b") \
        X("PrivateTmp", "b") \
        X("PrivateNetwork", "b") \
        X("ProtectSystem", "b") \
        X("StandardInput", "s") \
        X("Terminal", "b") \
        X("MemoryCurrent", "t") \
        X("MemoryPeak", "t") \
        X("CPUUsageNSec", "t") \
        X("IOReadBytes", "t") \
        X("IOWriteBytes", "t")

/* Appends the value (a variant's contents) of one property. */
int bus_job_append_value(sd_bus_message *m, Job *j, const char *name, const JobUsage *u);

/* bus-methods.c: the replies the Job objects share with the Manager methods, and the two vtables. */
/* Stop and Wait once the job is found and the caller authorized (Manager, Remote, Job objects): the reply
 * goes out from the engine's callback. */
int bus_defer_stop(BusApi *a, sd_bus_message *msg, Job *j, sd_bus_error *error);
int bus_defer_wait(BusApi *a, sd_bus_message *msg, Job *j);
/* ReadOutput and OpenOutput after the job was found and authorized: their remaining arguments are next. */
int bus_reply_read_output(sd_bus_message *msg, Job *j, sd_bus_error *error);
int bus_reply_open_output(BusApi *a, sd_bus_message *msg, const Principal *p, Job *j, sd_bus_error *error);
extern const sd_bus_vtable bus_manager_vtable[];
extern const sd_bus_vtable bus_remote_vtable[];

/* bus-metrics.c: GetMetrics and GetMetricsAs (administrators only). */
int bus_method_get_metrics(sd_bus_message *msg, void *userdata, sd_bus_error *error);

/* bus-job.c: the Job objects. */
int bus_job_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                        sd_bus_error *error);
int bus_job_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);
extern const sd_bus_vtable bus_job_vtable[];

/* bus-api.c: the one BusApi (property getters are handed the bus, not our state). */
BusApi *bus_api_of(sd_bus *bus);
