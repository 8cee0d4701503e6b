/* SPDX-License-Identifier: MIT */
/* bus-json.c - D-Bus job properties (a{sv}, see docs/dbus.md) -> the JSON job object of bus-json.h. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "bus/bus-json.h"
#include "shared/macro.h"
#include "shared/util.h"

/* How a D-Bus value becomes JSON. */
typedef enum PropKind {
        PROP_STRING,          /* s -> string */
        PROP_STRING_EMPTY,    /* s -> string, "" -> null */
        PROP_STRV,            /* as -> array of strings */
        PROP_EXIT_CODE,       /* i -> int, -1 -> null */
        PROP_EXIT_SIGNAL,     /* i -> int, 0 -> null; also sets "signal" */
        PROP_TIMESTAMP,       /* t -> RFC 3339 string, 0 -> null */
        PROP_UINT64,          /* t -> int */
        PROP_UINT64_INFINITY, /* t -> int, UINT64_MAX -> null */
        PROP_UINT64_NONZERO,  /* t -> int, 0 -> null */
        PROP_BOOL,            /* b -> bool */
} PropKind;

typedef enum PropGroup {
        GROUP_TOP,
        GROUP_LIMITS,
        GROUP_USAGE,
        GROUP_ISOLATION,
} PropGroup;

typedef struct PropInfo {
        const char *key;       /* D-Bus dictionary key */
        const char *signature; /* the variant's contents */
        PropKind kind;
        PropGroup group;
        const char *json;      /* JSON member name */
} PropInfo;

/* In JSON output order. "signal" is not a D-Bus key: it follows "exit_signal". */
static const PropInfo props[] = {
        { "Id",                  "s",  PROP_STRING,          GROUP_TOP,    "id" },
        { "Owner",               "s",  PROP_STRING,          GROUP_TOP,    "owner" },
        { "User",                "s",  PROP_STRING,          GROUP_TOP,    "user" },
        { "Argv",                "as", PROP_STRV,            GROUP_TOP,    "argv" },
        { "Executable",          "s",  PROP_STRING,          GROUP_TOP,    "executable" },
        { "State",               "s",  PROP_STRING,          GROUP_TOP,    "state" },
        { "Reason",              "s",  PROP_STRING_EMPTY,    GROUP_TOP,    "reason" },
        { "ExitCode",            "i",  PROP_EXIT_CODE,       GROUP_TOP,    "exit_code" },
        { "ExitSignal",          "i",  PROP_EXIT_SIGNAL,     GROUP_TOP,    "exit_signal" },
        { "SubmittedAt",         "t",  PROP_TIMESTAMP,       GROUP_TOP,    "submitted_at" },
        { "StartedAt",           "t",  PROP_TIMESTAMP,       GROUP_TOP,    "started_at" },
        { "EndedAt",             "t",  PROP_TIMESTAMP,       GROUP_TOP,    "ended_at" },
        { "Unit",                "s",  PROP_STRING,          GROUP_TOP,    "unit" },
        { "OutputSize",          "t",  PROP_UINT64,          GROUP_TOP,    "output_size" },
        { "OutputDropped",       "t",  PROP_UINT64,          GROUP_TOP,    "output_dropped" },
        { "OutputError",         "s",  PROP_STRING_EMPTY,    GROUP_TOP,    "output_error" },
        { "Profile",             "s",  PROP_STRING,          GROUP_TOP,    "profile" },
        { "Slice",               "s",  PROP_STRING,          GROUP_TOP,    "slice" },
        { "Name",                "s",  PROP_STRING_EMPTY,    GROUP_TOP,    "name" },
        { "CPUQuotaPerSecUSec",  "t",  PROP_UINT64_INFINITY, GROUP_LIMITS, "cpu_quota_per_sec_usec" },
        { "MemoryMax",           "t",  PROP_UINT64_INFINITY, GROUP_LIMITS, "memory_max" },
        { "IOReadBandwidthMax",  "t",  PROP_UINT64_INFINITY, GROUP_LIMITS, "io_read_bandwidth_max" },
        { "IOWriteBandwidthMax", "t",  PROP_UINT64_INFINITY, GROUP_LIMITS, "io_write_bandwidth_max" },
        { "TasksMax",            "t",  PROP_UINT64_INFINITY, GROUP_LIMITS, "tasks_max" },
        { "RuntimeMaxUSec",      "t",  PROP_UINT64_NONZERO,  GROUP_LIMITS, "runtime_max_usec" },
        { "PrivatePID",          "b",  PROP_BOOL,            GROUP_ISOLATION, "private_pid" },
        { "PrivateTmp",          "b",  PROP_BOOL,            GROUP_ISOLATION, "private_tmp" },
        { "PrivateNetwork",      "b",  PROP_BOOL,            GROUP_ISOLATION, "private_network" },
        { "ProtectSystem",       "b",  PROP_BOOL,            GROUP_ISOLATION, "protect_system" },
        { "StandardInput",       "s",  PROP_STRING,          GROUP_TOP,    "stdin" },
        { "Terminal",            "b",  PROP_BOOL,            GROUP_TOP,    "tty" },
        { "MemoryCurrent",       "t",  PROP_UINT64_INFINITY, GROUP_USAGE,  "memory_current" },
        { "MemoryPeak",          "t",  PROP_UINT64_INFINITY, GROUP_USAGE,  "memory_peak" },
        { "CPUUsageNSec",        "t",  PROP_UINT64_INFINITY, GROUP_USAGE,  "cpu_usage_nsec" },
        { "IOReadBytes",         "t",  PROP_UINT64_INFINITY, GROUP_USAGE,  "io_read_bytes" },
        { "IOWriteBytes",        "t",  PROP_UINT64_INFINITY, GROUP_USAGE,  "io_write_bytes" },
};

static const PropInfo *prop_lookup(const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(props); i++)
                if (streq(props[i].key, key))
                        return props + i;
        return NULL;
}

const char *bus_json_signal_name(int sig) {
        static const char *const names[] = {
                [SIGHUP] = "SIGHUP",       [SIGINT] = "SIGINT",       [SIGQUIT] = "SIGQUIT",
                [SIGILL] = "SIGILL",       [SIGTRAP] = "SIGTRAP",     [SIGABRT] = "SIGABRT",
                [SIGBUS] = "SIGBUS",       [SIGFPE] = "SIGFPE",       [SIGKILL] = "SIGKILL",
                [SIGUSR1] = "SIGUSR1",     [SIGSEGV] = "SIGSEGV",     [SIGUSR2] = "SIGUSR2",
                [SIGPIPE] = "SIGPIPE",     [SIGALRM] = "SIGALRM",     [SIGTERM] = "SIGTERM",
#ifdef SIGSTKFLT
                [SIGSTKFLT] = "SIGSTKFLT",
#endif
                [SIGCHLD] = "SIGCHLD",     [SIGCONT] = "SIGCONT",     [SIGSTOP] = "SIGSTOP",
                [SIGTSTP] = "SIGTSTP",     [SIGTTIN] = "SIGTTIN",     [SIGTTOU] = "SIGTTOU",
                [SIGURG] = "SIGURG",       [SIGXCPU] = "SIGXCPU",     [SIGXFSZ] = "SIGXFSZ",
                [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",     [SIGWINCH] = "SIGWINCH",
                [SIGIO] = "SIGIO",         [SIGPWR] = "SIGPWR",       [SIGSYS] = "SIGSYS",
        };
        static _Thread_local char buf[sizeof("SIGRTMIN+") + 11];

        if (sig > 0 && (size_t) sig < ELEMENTSOF(names) && names[sig])
                return names[sig];
        if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
                if (sig == SIGRTMIN)
                        return "SIGRTMIN";
                (void) snprintf(buf, sizeof(buf), "SIGRTMIN+%d", sig - SIGRTMIN);
                return buf;
        }
        return NULL;
}

/* The skeleton: every member present (null) in output order, so a key's position never depends on the
 * order of the a{sv}. json_object_object_add() replaces an existing member's value in place. */
static int job_json_skeleton(json_object **ret, json_object **ret_limits, json_object **ret_usage,
                             json_object **ret_isolation) {
        _cleanup_(json_object_putp) json_object *o = NULL, *limits = NULL, *usage = NULL, *isolation = NULL;

        o = json_object_new_object();
        limits = json_object_new_object();
        usage = json_object_new_object();
        isolation = json_object_new_object();
        if (!o || !limits || !usage || !isolation)
                return -ENOMEM;

        for (size_t i = 0; i < ELEMENTSOF(props); i++) {
                json_object *target = props[i].group == GROUP_LIMITS ? limits :
                                      props[i].group == GROUP_USAGE ? usage :
                                      props[i].group == GROUP_ISOLATION ? isolation : o;
                json_object *v = NULL;

                if (props[i].kind == PROP_STRV) {
                        v = json_object_new_array();
                        if (!v)
                                return -ENOMEM;
                }
                if (json_object_object_add(target, props[i].json, v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
                if (props[i].kind == PROP_EXIT_SIGNAL && json_object_object_add(o, "signal", NULL) < 0)
                        return -ENOMEM;
        }

        /* On failure json-c leaves the value with the caller, so hand over only on success. */
        if (json_object_object_add(o, "limits", limits) < 0)
                return -ENOMEM;
        *ret_limits = TAKE_PTR(limits);
        if (json_object_object_add(o, "usage", usage) < 0)
                return -ENOMEM;
        *ret_usage = TAKE_PTR(usage);
        if (json_object_object_add(o, "isolation", isolation) < 0)
                return -ENOMEM;
        *ret_isolation = TAKE_PTR(isolation);
        *ret = TAKE_PTR(o);
        return 0;
}

static int json_add(json_object *target, const char *key, json_object *v) {
        /* v == NULL is a JSON null; a failed allocation of a non-null value is caught by the callers. */
        if (json_object_object_add(target, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int read_strv_json(sd_bus_message *m, json_object **ret) {
        _cleanup_(json_object_putp) json_object *a = NULL;
        const char *s;
        int r;

        a = json_object_new_array();
        if (!a)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read_basic(m, 's', &s)) > 0) {
                json_object *v = json_object_new_string(s);

                if (!v || json_object_array_add(a, v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

/* Reads the variant's value (the caller checked its signature) and stores it in target. */
static int read_prop_value(sd_bus_message *m, const PropInfo *p, json_object *o, json_object *target) {
        json_object *v = NULL;
        int r;

        switch (p->kind) {

        case PROP_STRING:
        case PROP_STRING_EMPTY: {
                const char *s;

                r = sd_bus_message_read_basic(m, 's', &s);
                if (r < 0)
                        return r;
                if (p->kind == PROP_STRING || *s) {
                        v = json_object_new_string(s);
                        if (!v)
                                return -ENOMEM;
                }
                return json_add(target, p->json, v);
        }

        case PROP_STRV:
                r = read_strv_json(m, &v);
                if (r < 0)
                        return r;
                return json_add(target, p->json, v);

        case PROP_EXIT_CODE:
        case PROP_EXIT_SIGNAL: {
                int32_t i;

                r = sd_bus_message_read_basic(m, 'i', &i);
                if (r < 0)
                        return r;
                if (p->kind == PROP_EXIT_CODE ? i != -1 : i != 0) {
                        v = json_object_new_int(i);
                        if (!v)
                                return -ENOMEM;
                }
                r = json_add(target, p->json, v);
                if (r < 0)
                        return r;
                if (p->kind == PROP_EXIT_SIGNAL) {
                        const char *name = i != 0 ? bus_json_signal_name(i) : NULL;

                        v = NULL;
                        if (name) {
                                v = json_object_new_string(name);
                                if (!v)
                                        return -ENOMEM;
                        }
                        return json_add(o, "signal", v);
                }
                return 0;
        }

        case PROP_BOOL: {
                int b;

                r = sd_bus_message_read_basic(m, 'b', &b);
                if (r < 0)
                        return r;
                v = json_object_new_boolean(b);
                if (!v)
                        return -ENOMEM;
                return json_add(target, p->json, v);
        }

        case PROP_TIMESTAMP:
        case PROP_UINT64:
        case PROP_UINT64_NONZERO:
        case PROP_UINT64_INFINITY: {
                uint64_t t;

                r = sd_bus_message_read_basic(m, 't', &t);
                if (r < 0)
                        return r;
                if (p->kind == PROP_TIMESTAMP) {
                        if (t != 0) {
                                char buf[32];

                                v = json_object_new_string(format_timestamp(buf, sizeof(buf), t));
                                if (!v)
                                        return -ENOMEM;
                        }
                } else if (p->kind == PROP_UINT64 || (p->kind == PROP_UINT64_NONZERO ? t != 0 : t != UINT64_MAX)) {
                        v = json_object_new_uint64(t);
                        if (!v)
                                return -ENOMEM;
                }
                return json_add(target, p->json, v);
        }
        }

        return -EINVAL;
}

/* Returns 1 and the object, or 0 when m is at the end of an enclosing array (nothing read). */
static int job_props_read(sd_bus_message *m, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *limits, *usage, *isolation;
        unsigned n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r == -ENXIO)
                return -EBADMSG; /* not an a{sv} here */
        if (r <= 0)
                return r;

        r = job_json_skeleton(&o, &limits, &usage, &isolation);
        if (r < 0)
                return r;

        for (;;) {
                const PropInfo *p;
                const char *key, *contents;
                char type;

                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r < 0)
                        return r == -ENXIO ? -EBADMSG : r;
                if (r == 0)
                        break;
                if (++n > BUS_JOB_PROPS_MAX)
                        return -EBADMSG;

                r = sd_bus_message_read_basic(m, 's', &key);
                if (r < 0)
                        return r;

                p = prop_lookup(key);
                if (!p)
                        r = sd_bus_message_skip(m, "v");
                else {
                        r = sd_bus_message_peek_type(m, &type, &contents);
                        if (r < 0)
                                return r;
                        if (type != 'v' || !streq_ptr(contents, p->signature))
                                return -EBADMSG;
                        r = sd_bus_message_enter_container(m, 'v', p->signature);
                        if (r < 0)
                                return r;
                        r = read_prop_value(m, p, o,
                                            p->group == GROUP_LIMITS ? limits :
                                            p->group == GROUP_USAGE ? usage :
                                            p->group == GROUP_ISOLATION ? isolation : o);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                }
                if (r < 0)
                        return r;

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(o);
        return 1;
}

int bus_job_props_to_json(sd_bus_message *m, json_object **ret) {
        int r;

        if (!m || !ret)
                return -EINVAL;

        r = job_props_read(m, ret);
        if (r == 0)
                return -EBADMSG; /* at the end of a container: there is no dictionary to read */
        return r < 0 ? r : 0;
}

int bus_job_list_append_json(sd_bus_message *m, json_object *array) {
        int r;

        if (!m || !json_object_is_type(array, json_type_array))
                return -EINVAL;

        r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        if (r == -ENXIO)
                return -EBADMSG;
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;

        for (;;) {
                json_object *job = NULL;

                r = job_props_read(m, &job);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (json_object_array_add(array, job) < 0) {
                        json_object_put(job);
                        return -ENOMEM;
                }
        }

        return sd_bus_message_exit_container(m);
}

int bus_job_list_to_json(sd_bus_message *m, json_object **ret) {
        _cleanup_(json_object_putp) json_object *a = NULL;
        int r;

        if (!m || !ret)
                return -EINVAL;
        a = json_object_new_array();
        if (!a)
                return -ENOMEM;
        r = bus_job_list_append_json(m, a);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}
