/* SPDX-License-Identifier: MIT */
/* bus-lifecycle.c - job references (a whole id or a unique prefix, docs/dbus.md "Job references") and the
 * Remove and Kill methods of the Manager and Remote interfaces. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/list-filter.h"
#include "shared/api.h"
#include "shared/job-ref.h"
#include "shared/macro.h"
#include "shared/util.h"
#include "bus/bus-internal.h"

/* Names up to JOB_REF_CANDIDATES_MAX of the matches, and how many more there are. */
static int ambiguous_error(const char *prefix, Job **match, unsigned n, sd_bus_error *error) {
        char list[JOB_REF_CANDIDATES_MAX * (JOB_ID_STRING_MAX + 2)] = "";
        size_t used = 0;

        for (unsigned i = 0; i < MIN(n, (unsigned) JOB_REF_CANDIDATES_MAX); i++)
                used += (size_t) snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                                          job_id(match[i]));
        if (n > JOB_REF_CANDIDATES_MAX)
                return sd_bus_error_setf(error, TW_ERROR_AMBIGUOUS_JOB,
                                         "'%s' matches %u jobs: %s and %u more.", prefix, n, list,
                                         n - JOB_REF_CANDIDATES_MAX);
        return sd_bus_error_setf(error, TW_ERROR_AMBIGUOUS_JOB, "'%s' matches %u jobs: %s.", prefix, n, list);
}

static bool match_prefix(Job *j, const char *prefix) {
        return job_id_has_prefix(job_id(j), prefix);
}

static bool match_name(Job *j, const char *name) {
        return job_name(j) && streq(job_name(j), name);
}

/* A prefix or a name is looked up among the jobs p may see only: another user's jobs neither match nor make a
 * reference ambiguous, so the answer tells nothing about them. (An administrator may see the same name of two
 * owners: AmbiguousJob.) */
static int resolve_matching(BusApi *a, const Principal *p, const char *ref, bool (*match)(Job *j, const char *ref),
                            Job **ret, sd_bus_error *error) {
        Job *found[JOB_REF_CANDIDATES_MAX] = {};
        unsigned n = 0;

        for (Job *j = manager_next_job(a->manager, NULL); j; j = manager_next_job(a->manager, j)) {
                if (!match(j, ref) || !authz_can_see(p, job_owner(j)))
                        continue;
                if (n < JOB_REF_CANDIDATES_MAX)
                        found[n] = j;
                n++;
        }
        if (n == 0)
                return sd_bus_error_setf(error, TW_ERROR_NO_SUCH_JOB, match == match_name ? "No job named '%s'." :
                                         "No job with an id starting with '%s'.", ref);
        if (n > 1)
                return ambiguous_error(ref, found, n, error);
        *ret = found[0];
        return 0;
}

/* Whether a job p does not see matches ref: only then can polkit's answer change what ref resolves to. */
static bool hidden_match(BusApi *a, const Principal *p, const char *ref, bool (*match)(Job *j, const char *ref)) {
        for (Job *j = manager_next_job(a->manager, NULL); j; j = manager_next_job(a->manager, j))
                if (match(j, ref) && !authz_can_see(p, job_owner(j)))
                        return true;
        return false;
}

/* A prefix or a name resolves among the jobs the caller's list shows: so a local caller that is no
 * administrator is asked about (polkit's manage-all) as ListPage asks, when another user's job matches. */
static int resolve_visible(BusApi *a, sd_bus_message *msg, Principal *p, const char *ref,
                           bool (*match)(Job *j, const char *ref), Job **ret, bool *ret_asked, sd_bus_error *error) {
        int r;

        if (hidden_match(a, p, ref, match)) {
                r = bus_polkit_admin(a, msg, p);
                if (r != 0)
                        return r;
                *ret_asked = true;
        }
        return resolve_matching(a, p, ref, match, ret, error);
}

int bus_resolve_job(BusApi *a, sd_bus_message *msg, Principal *p, const char *ref, Job **ret, bool *ret_asked,
                    sd_bus_error *error) {
        int kind = job_ref_classify(ref);
        Job *j;

        if (kind < 0 && job_name_is_valid(ref))
                return resolve_visible(a, msg, p, ref, match_name, ret, ret_asked, error);
        if (kind < 0) {
                _cleanup_(freep) char *esc = str_escape(ref, 64);
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                         "Malformed job id '%s': expected a UUID like "
                                         "'8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10' or at least its first %d hex "
                                         "digits.", esc ? esc : "?", JOB_REF_PREFIX_MIN);
        }
        if (kind == JOB_REF_PREFIX)
                return resolve_visible(a, msg, p, ref, match_prefix, ret, ret_asked, error);
        j = manager_find_job(a->manager, ref);
        if (!j)
                return sd_bus_error_setf(error, TW_ERROR_NO_SUCH_JOB, "No job with id %s.", ref);
        *ret = j;
        return 0;
}

bool bus_list_visible(const Principal *p, const JobListFilter *f, Job *j) {
        return authz_can_see(p, job_owner(j)) && job_list_filter_match(f, job_state(j), job_submitted_at(j),
                                                                         job_owner(j));
}

uint64_t bus_list_skip(BusApi *a, const Principal *p, const JobListFilter *f) {
        uint64_t n = 0;

        if (!f || f->last == 0)
                return 0;
        for (Job *j = manager_next_job(a->manager, NULL); j; j = manager_next_job(a->manager, j))
                n += bus_list_visible(p, f, j);
        return n > f->last ? n - f->last : 0;
}

static int read_states(sd_bus_message *msg, unsigned *ret, sd_bus_error *error) {
        unsigned mask = 0;
        const char *name;
        int r;

        r = sd_bus_message_enter_container(msg, 'a', "s");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(msg, "s", &name)) > 0) {
                JobState s = job_state_from_string(name);

                if (s < 0 || (mask & (1U << s))) {
                        _cleanup_(freep) char *esc = str_escape(name, 32);
                        return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                                 "Unknown or repeated state '%s' in States.", esc ? esc : "?");
                }
                mask |= 1U << s;
        }
        if (r < 0)
                return r;
        *ret = mask;
        return sd_bus_message_exit_container(msg);
}

static int read_filter_entry(sd_bus_message *msg, const char *key, JobListFilter *f, sd_bus_error *error) {
        int r;

        if (streq(key, "States"))
                return read_states(msg, &f->states, error);
        if (streq(key, "Since"))
                return sd_bus_message_read(msg, "t", &f->since_usec);
        if (streq(key, "Last"))
                return sd_bus_message_read(msg, "u", &f->last);
        if (streq(key, "Owner")) {
                r = sd_bus_message_read(msg, "s", &f->owner);
                if (r >= 0 && !principal_name_is_valid(f->owner))
                        return sd_bus_error_set(error, TW_ERROR_INVALID_ARGS, "Owner is not a user name.");
                return r;
        }
        _cleanup_(freep) char *esc = str_escape(key, 32);
        return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS, "Unknown filter key '%s'.", esc ? esc : "?");
}

int bus_read_list_filter(sd_bus_message *msg, JobListFilter *ret, sd_bus_error *error) {
        static const char *const keys[] = { "States", "Since", "Last", "Owner" };
        JobListFilter f = {};
        unsigned seen = 0;
        const char *key;
        int r;

        r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
                const char *type = NULL;
                unsigned bit = 0;

                r = sd_bus_message_read(msg, "s", &key);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                        if (streq(key, keys[i]))
                                bit = 1U << i;
                if (bit && (seen & bit))
                        return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS, "Filter key '%s' given twice.", key);
                seen |= bit;
                r = sd_bus_message_peek_type(msg, NULL, &type);
                if (r < 0)
                        return r;
                r = sd_bus_message_enter_container(msg, 'v', type);
                if (r < 0)
                        return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS, "Filter key '%s' has the wrong type.",
                                                 key);
                r = read_filter_entry(msg, key, &f, error);
                if (r < 0)
                        return sd_bus_error_is_set(error) ? r :
                               sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                                 "Filter key '%s' has the wrong type.", key);
                r = sd_bus_message_exit_container(msg);
                if (r >= 0)
                        r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(msg);
        if (r < 0)
                return r;
        *ret = f;
        return 0;
}

/* What a listing shows p: polkit's manage-all is asked once, for either reason a local non-administrator may
 * need it (an Owner filter naming another user, or jobs hidden from it, as List asks); 1 when asked. */
int bus_list_authorize(BusApi *a, sd_bus_message *msg, Principal *p, const JobListFilter *f, sd_bus_error *error) {
        bool other = f && f->owner && !streq(f->owner, p->name);
        int r;

        r = other ? bus_polkit_admin(a, msg, p) : bus_polkit_admin_to_list(a, msg, p);
        if (r != 0)
                return r;
        if (other && !p->admin)
                return sd_bus_error_set(error, TW_ERROR_ACCESS_DENIED,
                                        "Only administrators may list other users' jobs.");
        return 0;
}

/* Remove, RemoveAs: an ended job's record and output, before retention would; the reply names the job a
 * prefix stood for. */
int bus_method_remove(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        char id[JOB_ID_STRING_MAX];
        Job *j = NULL;
        int r;

        r = bus_authorize_job(a, msg, AUTHZ_STOP, &j, error);
        if (r != 0)
                return r;
        (void) snprintf(id, sizeof(id), "%s", job_id(j));
        r = manager_delete_job(a->manager, j, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "s", id);
}

/* Kill, KillAs: a signal to a running job's main process. */
int bus_method_kill(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        Job *j = NULL;
        int32_t sig;
        int r;

        r = bus_authorize_job(a, msg, AUTHZ_STOP, &j, error);
        if (r != 0)
                return r;
        r = sd_bus_message_read(msg, "i", &sig);
        if (r < 0)
                return r;
        r = manager_kill_job(a->manager, j, sig, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}
