/* SPDX-License-Identifier: MIT */
/* job-record.c - job records to and from JSON, through one table of fields (job-record.h). */
#include <assert.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <string.h>

#include "engine/job-record.h"

typedef enum RecordType {
        RECORD_ID,      /* char[JOB_ID_STRING_MAX], a valid job id */
        RECORD_STRING,  /* char *; null allowed only when optional */
        RECORD_STRV,    /* char **, an array of strings */
        RECORD_U64,
        RECORD_UNSIGNED,
        RECORD_UID,     /* uid_t, as a number */
        RECORD_GID,
        RECORD_PID,     /* pid_t, 0..INT32_MAX */
        RECORD_INT,
        RECORD_ERRNO,   /* int: negative errno or 0; a positive value reads as 0 */
        RECORD_BOOL,
        RECORD_STATE,   /* JobState by name */
        RECORD_REASON,  /* JobReason by name */
        RECORD_LIMITS,  /* JobLimits, an object with every limit by name */
        RECORD_OBJECT,  /* a nested table (sub) at offset */
} RecordType;

typedef enum RecordFlags {
        RECORD_REQUIRED = 1 << 0, /* missing or of the wrong type: the record is malformed */
} RecordFlags;

typedef struct RecordField RecordField;
struct RecordField {
        const char *name;
        RecordType type;
        size_t offset;
        RecordFlags flags;
        const RecordField *sub; /* RECORD_OBJECT: its fields, ended by a NULL name */
};

#define F(name, type, member, flags) { name, type, offsetof(JobRecord, member), flags, NULL }
#define REQ RECORD_REQUIRED

static const RecordField usage_fields[] = {
        { "memory_current", RECORD_U64, offsetof(JobUsage, memory_current), REQ, NULL },
        { "memory_peak", RECORD_U64, offsetof(JobUsage, memory_peak), REQ, NULL },
        { "cpu_usage_nsec", RECORD_U64, offsetof(JobUsage, cpu_usage_nsec), REQ, NULL },
        { "io_read_bytes", RECORD_U64, offsetof(JobUsage, io_read_bytes), REQ, NULL },
        { "io_write_bytes", RECORD_U64, offsetof(JobUsage, io_write_bytes), REQ, NULL },
        {}
};

/* In the order they are written. */
static const RecordField record_fields[] = {
        F("id", RECORD_ID, id, REQ),
        F("unit", RECORD_STRING, unit, REQ),
        F("owner", RECORD_STRING, owner, REQ),
        F("user", RECORD_STRING, user, REQ),
        F("uid", RECORD_UID, uid, REQ),
        F("gid", RECORD_GID, gid, REQ),
        F("argv", RECORD_STRV, argv, REQ),
        F("executable", RECORD_STRING, executable, REQ),
        F("cwd", RECORD_STRING, cwd, REQ),
        F("limits", RECORD_LIMITS, limits, REQ),
        F("state", RECORD_STATE, state, REQ),
        F("reason", RECORD_REASON, reason, REQ),
        F("exit_code", RECORD_INT, exit_code, REQ),
        F("exit_signal", RECORD_INT, exit_signal, REQ),
        F("submitted_at", RECORD_U64, submitted_at, REQ),
        F("started_at", RECORD_U64, started_at, REQ),
        F("ended_at", RECORD_U64, ended_at, REQ),
        F("reaper_pid", RECORD_PID, reaper_pid, REQ),
        F("main_pid", RECORD_PID, main_pid, REQ),
        F("go_sent", RECORD_BOOL, go_sent, REQ),
        F("causes", RECORD_UNSIGNED, causes, REQ),
        F("oom_kills_at_start", RECORD_U64, oom_kills_at_start, REQ),
        { "usage", RECORD_OBJECT, offsetof(JobRecord, usage), REQ, usage_fields },
        F("output_dropped", RECORD_U64, output_dropped, 0),
        F("output_error", RECORD_ERRNO, output_error, 0),
        F("profile", RECORD_STRING, profile, 0),
        F("slice", RECORD_STRING, slice, 0),
        F("runtime_max_usec", RECORD_U64, runtime_max_usec, 0),
        F("private_pid", RECORD_INT, isolation.private_pid, 0),
        F("private_tmp", RECORD_INT, isolation.private_tmp, 0),
        F("private_network", RECORD_INT, isolation.private_network, 0),
        F("protect_system", RECORD_INT, isolation.protect_system, 0),
        F("name", RECORD_STRING, name, 0),
        F("stdin", RECORD_INT, stdin_kind, 0),
        F("tty_rows", RECORD_UNSIGNED, tty_rows, 0),
        F("tty_cols", RECORD_UNSIGNED, tty_cols, 0),
        {}
};

#undef F
#undef REQ

void job_record_init(JobRecord *r) {
        *r = (JobRecord) { .isolation = JOB_ISOLATION_UNSET };
}

void job_record_done(JobRecord *r) {
        r->unit = mfree(r->unit);
        r->owner = mfree(r->owner);
        r->user = mfree(r->user);
        r->executable = mfree(r->executable);
        r->cwd = mfree(r->cwd);
        r->profile = mfree(r->profile);
        r->name = mfree(r->name);
        r->slice = mfree(r->slice);
        r->argv = strv_free(r->argv);
}

static void json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

/* ---- writing ------------------------------------------------------------------------------------------ */

static json_object *record_build(const RecordField *table, const void *base);

static json_object *record_value(const RecordField *f, const void *base) {
        const void *p = (const char *) base + f->offset;
        json_object *o;

        switch (f->type) {
        case RECORD_ID:
                return json_object_new_string(p);
        case RECORD_STRING:
                return *(char *const *) p ? json_object_new_string(*(char *const *) p) : NULL;
        case RECORD_STRV:
                o = json_object_new_array();
                for (char *const *a = *(char **const *) p; o && a && *a; a++)
                        if (json_object_array_add(o, json_object_new_string(*a)) < 0) {
                                json_object_put(o);
                                return NULL;
                        }
                return o;
        case RECORD_U64:
                return json_object_new_uint64(*(const uint64_t *) p);
        case RECORD_UNSIGNED:
                return json_object_new_uint64(*(const unsigned *) p);
        case RECORD_UID:
                return json_object_new_uint64(*(const uid_t *) p);
        case RECORD_GID:
                return json_object_new_uint64(*(const gid_t *) p);
        case RECORD_PID:
                return json_object_new_uint64((uint64_t) MAX(*(const pid_t *) p, 0));
        case RECORD_INT:
        case RECORD_ERRNO:
                return json_object_new_int(*(const int *) p);
        case RECORD_BOOL:
                return json_object_new_boolean(*(const bool *) p);
        case RECORD_STATE:
                return json_object_new_string(job_state_to_string(*(const JobState *) p));
        case RECORD_REASON:
                return json_object_new_string(job_reason_to_string(*(const JobReason *) p));
        case RECORD_LIMITS:
                o = json_object_new_object();
                for (JobLimitField l = 0; o && l < _JOB_LIMIT_MAX; l++)
                        if (json_object_object_add(o, job_limit_name(l),
                                                   json_object_new_uint64(job_limits_get(p, l))) < 0) {
                                json_object_put(o);
                                return NULL;
                        }
                return o;
        case RECORD_OBJECT:
                return record_build(f->sub, p);
        }
        assert(!"unknown record field type");
        return NULL;
}

static json_object *record_build(const RecordField *table, const void *base) {
        _cleanup_(json_putp) json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        for (const RecordField *f = table; f->name; f++) {
                json_object *v = record_value(f, base);

                /* NULL is JSON null for a string that is not set, else out of memory. */
                if (!v && !(f->type == RECORD_STRING && !*(char *const *) ((const char *) base + f->offset)))
                        return NULL;
                if (json_object_object_add(o, f->name, v) < 0) {
                        json_object_put(v);
                        return NULL;
                }
        }
        return TAKE_PTR(o);
}

int job_record_to_json(const JobRecord *r, char **ret) {
        _cleanup_(json_putp) json_object *o = record_build(record_fields, r);
        const char *text;

        if (!o)
                return -ENOMEM;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        if (!text)
                return -ENOMEM;
        *ret = strdup(text);
        return *ret ? 0 : -ENOMEM;
}

/* ---- reading ------------------------------------------------------------------------------------------ */

static int record_dispatch(json_object *o, const RecordField *table, void *base);

static int read_u64(json_object *v, uint64_t *ret) {
        if (!json_object_is_type(v, json_type_int))
                return -EBADMSG;
        *ret = json_object_get_uint64(v);
        return 0;
}

static int read_string(json_object *v, bool required, char **ret) {
        if (json_object_is_type(v, json_type_null) && !required) {
                *ret = mfree(*ret);
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        free(*ret);
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

static int read_strv(json_object *v, char ***ret) {
        _cleanup_(strv_freep) char **l = NULL;
        size_t n;

        if (!json_object_is_type(v, json_type_array))
                return -EBADMSG;
        n = json_object_array_length(v);
        l = new0(char *, n + 1);
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(v, i);

                if (!json_object_is_type(e, json_type_string))
                        return -EBADMSG;
                l[i] = strdup(json_object_get_string(e));
                if (!l[i])
                        return -ENOMEM;
        }
        strv_free(*ret);
        *ret = TAKE_PTR(l);
        return 0;
}

static int read_limits(json_object *v, JobLimits *ret) {
        JobLimits l = {};

        if (!json_object_is_type(v, json_type_object))
                return -EBADMSG;
        for (JobLimitField f = 0; f < _JOB_LIMIT_MAX; f++) {
                json_object *e;

                if (!json_object_object_get_ex(v, job_limit_name(f), &e) || read_u64(e, job_limits_field(&l, f)) < 0)
                        return -EBADMSG;
        }
        *ret = l;
        return 0;
}

static int read_name(json_object *v, int (*from_string)(const char *), int *ret) {
        int x;

        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        x = from_string(json_object_get_string(v));
        if (x < 0)
                return -EBADMSG;
        *ret = x;
        return 0;
}

static int state_from_string(const char *s) {
        return (int) job_state_from_string(s);
}

static int reason_from_string(const char *s) {
        return (int) job_reason_from_string(s);
}

static int record_read(const RecordField *f, json_object *v, void *base) {
        void *p = (char *) base + f->offset;
        uint64_t u;
        int r, x;

        switch (f->type) {
        case RECORD_ID:
                if (!json_object_is_type(v, json_type_string) || !job_id_is_valid(json_object_get_string(v)))
                        return -EBADMSG;
                strcpy(p, json_object_get_string(v));
                return 0;
        case RECORD_STRING:
                return read_string(v, f->flags & RECORD_REQUIRED, p);
        case RECORD_STRV:
                return read_strv(v, p);
        case RECORD_U64:
                return read_u64(v, p);
        case RECORD_UNSIGNED:
        case RECORD_UID:
        case RECORD_GID:
        case RECORD_PID:
                if ((r = read_u64(v, &u)) < 0)
                        return r;
                if (f->type == RECORD_PID && u > INT32_MAX)
                        return -EBADMSG;
                /* uid_t, gid_t, pid_t and unsigned are all 32 bits here: written as the old records did. */
                if (f->type == RECORD_PID)
                        *(pid_t *) p = (pid_t) u;
                else if (f->type == RECORD_UID)
                        *(uid_t *) p = (uid_t) u;
                else if (f->type == RECORD_GID)
                        *(gid_t *) p = (gid_t) u;
                else
                        *(unsigned *) p = (unsigned) u;
                return 0;
        case RECORD_INT:
        case RECORD_ERRNO:
                if (!json_object_is_type(v, json_type_int))
                        return -EBADMSG;
                x = json_object_get_int(v);
                *(int *) p = f->type == RECORD_ERRNO && x > 0 ? 0 : x;
                return 0;
        case RECORD_BOOL:
                if (!json_object_is_type(v, json_type_boolean))
                        return -EBADMSG;
                *(bool *) p = json_object_get_boolean(v);
                return 0;
        case RECORD_STATE:
                if ((r = read_name(v, state_from_string, &x)) < 0)
                        return r;
                *(JobState *) p = (JobState) x;
                return 0;
        case RECORD_REASON:
                if ((r = read_name(v, reason_from_string, &x)) < 0)
                        return r;
                *(JobReason *) p = (JobReason) x;
                return 0;
        case RECORD_LIMITS:
                return read_limits(v, p);
        case RECORD_OBJECT:
                if (!json_object_is_type(v, json_type_object))
                        return -EBADMSG;
                return record_dispatch(v, f->sub, p);
        }
        assert(!"unknown record field type");
        return -EBADMSG;
}

/* Fields of the table found in o; unknown keys are ignored (a newer version's record still loads). An
 * optional field that is missing or malformed keeps its default, except a string of the wrong type. */
static int record_dispatch(json_object *o, const RecordField *table, void *base) {
        for (const RecordField *f = table; f->name; f++) {
                json_object *v;
                int r;

                if (!json_object_object_get_ex(o, f->name, &v)) {
                        if (f->flags & RECORD_REQUIRED)
                                return -EBADMSG;
                        continue;
                }
                r = record_read(f, v, base);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 && ((f->flags & RECORD_REQUIRED) || f->type == RECORD_STRING))
                        return r;
        }
        return 0;
}

static json_object *record_parse(const char *text, size_t n) {
        json_tokener *tok = json_tokener_new();
        json_object *o;

        if (!tok)
                return NULL;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, text, (int) n);
        if (o && json_tokener_get_error(tok) != json_tokener_success) {
                json_object_put(o);
                o = NULL;
        }
        json_tokener_free(tok);
        return o;
}

int job_record_from_json(const char *text, size_t n, JobRecord *ret) {
        _cleanup_(json_putp) json_object *o = NULL;
        JobRecord rec;
        int r;

        job_record_init(ret);
        if (n > JOB_RECORD_MAX)
                return -EFBIG;
        o = record_parse(text, n);
        if (!o || !json_object_is_type(o, json_type_object))
                return -EBADMSG;
        job_record_init(&rec);
        r = record_dispatch(o, record_fields, &rec);
        if (r < 0) {
                job_record_done(&rec);
                return r;
        }
        *ret = rec;
        return 0;
}
