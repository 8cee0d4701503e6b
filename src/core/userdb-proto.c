/* SPDX-License-Identifier: MIT */
/* userdb-proto.c - io.systemd.UserDatabase requests parsed and answered from the dynamic users' table. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/userdb-proto.h"

#define USERDB_DEPTH_MAX 8
#define USERDB_IFACE "io.systemd.UserDatabase."
#define USERDB_ERROR_NO_RECORD "io.systemd.UserDatabase.NoRecordFound"
#define USERDB_ERROR_BAD_SERVICE "io.systemd.UserDatabase.BadService"
#define USERDB_ERROR_CONFLICT "io.systemd.UserDatabase.ConflictingRecordFound"
#define VARLINK_ERROR_METHOD "org.varlink.service.MethodNotFound"
#define VARLINK_ERROR_PARAMETER "org.varlink.service.InvalidParameter"
#define VARLINK_ERROR_MORE "org.varlink.service.ExpectedMore"

static const char *const userdb_method_names[_USERDB_METHOD_MAX] = {
        [USERDB_GET_USER_RECORD] = USERDB_IFACE "GetUserRecord",
        [USERDB_GET_GROUP_RECORD] = USERDB_IFACE "GetGroupRecord",
        [USERDB_GET_MEMBERSHIPS] = USERDB_IFACE "GetMemberships",
};

void userdb_request_done(UserdbRequest *r) {
        if (!r)
                return;
        free(r->method_name);
        free(r->name);
        free(r->group_name);
        free(r->service);
        free(r->error_parameter);
        *r = (UserdbRequest) { .method = USERDB_METHOD_UNKNOWN };
}

static int userdb_invalid_parameter(UserdbRequest *r, const char *key) {
        if (r->error)
                return 0;
        r->error = VARLINK_ERROR_PARAMETER;
        r->error_parameter = strdup(key);
        return r->error_parameter ? 0 : -ENOMEM;
}

static int userdb_read_name(UserdbRequest *r, const char *key, json_object *v, char **target) {
        const char *s;

        if (!json_object_is_type(v, json_type_string))
                return userdb_invalid_parameter(r, key);
        s = json_object_get_string(v);
        if (json_object_get_string_len(v) == 0 || json_object_get_string_len(v) > USERDB_NAME_MAX ||
            strlen(s) != (size_t) json_object_get_string_len(v))
                return userdb_invalid_parameter(r, key);
        free(*target);
        *target = strdup(s);
        return *target ? 0 : -ENOMEM;
}

/* uid/gid: an integer 0..2^32-2. json-c clamps numbers beyond int64 to INT64_MAX, which is refused too. */
static int userdb_read_id(UserdbRequest *r, const char *key, json_object *v) {
        int64_t i;

        if (!json_object_is_type(v, json_type_int))
                return userdb_invalid_parameter(r, key);
        i = json_object_get_int64(v);
        if (i < 0 || i >= (int64_t) UINT32_MAX)
                return userdb_invalid_parameter(r, key);
        r->has_id = true;
        r->id = (uint32_t) i;
        return 0;
}

static int userdb_read_parameters(UserdbRequest *r, json_object *params) {
        const char *id_key = r->method == USERDB_GET_USER_RECORD ? "uid" :
                             r->method == USERDB_GET_GROUP_RECORD ? "gid" : NULL;
        const char *name_key = r->method == USERDB_GET_GROUP_RECORD ? "groupName" : "userName";
        int k;

        json_object_object_foreach(params, key, v) {
                if (json_object_is_type(v, json_type_null))
                        continue; /* Varlink: null is the same as absent */
                if (streq(key, "service"))
                        k = userdb_read_name(r, key, v, &r->service);
                else if (id_key && streq(key, id_key))
                        k = userdb_read_id(r, key, v);
                else if (streq(key, name_key))
                        k = userdb_read_name(r, key, v, &r->name);
                else if (r->method == USERDB_GET_MEMBERSHIPS && streq(key, "groupName"))
                        k = userdb_read_name(r, key, v, &r->group_name);
                else
                        /* fuzzyNames, dispositionMask, uidMin...: not supported, and the API says so
                         * with InvalidParameter (clients then filter on their side). */
                        k = userdb_invalid_parameter(r, key);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int userdb_read_call(UserdbRequest *r, json_object *root) {
        json_object *params = NULL;
        int k;

        json_object_object_foreach(root, key, v) {
                if (streq(key, "method")) {
                        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0 ||
                            json_object_get_string_len(v) > USERDB_NAME_MAX ||
                            strlen(json_object_get_string(v)) != (size_t) json_object_get_string_len(v))
                                return -EBADMSG;
                        free(r->method_name);
                        r->method_name = strdup(json_object_get_string(v));
                        if (!r->method_name)
                                return -ENOMEM;
                } else if (streq(key, "parameters")) {
                        if (!json_object_is_type(v, json_type_object) && !json_object_is_type(v, json_type_null))
                                return -EBADMSG;
                        params = v;
                } else if (streq(key, "more") || streq(key, "oneway") || streq(key, "upgrade")) {
                        if (!json_object_is_type(v, json_type_boolean))
                                return -EBADMSG;
                        if (streq(key, "more"))
                                r->more = json_object_get_boolean(v);
                        else if (streq(key, "oneway"))
                                r->oneway = json_object_get_boolean(v);
                        else if (json_object_get_boolean(v))
                                return -EBADMSG; /* no protocol upgrades here */
                } else
                        return -EBADMSG;
        }
        if (!r->method_name)
                return -EBADMSG;
        if (r->more && r->oneway)
                return -EBADMSG;
        for (int m = 0; m < _USERDB_METHOD_MAX; m++)
                if (streq(r->method_name, userdb_method_names[m]))
                        r->method = (UserdbMethod) m;
        if (r->method == USERDB_METHOD_UNKNOWN) {
                r->error = VARLINK_ERROR_METHOD;
                return 0;
        }
        if (params) {
                k = userdb_read_parameters(r, params);
                if (k < 0)
                        return k;
        }
        if (!r->error && !streq_ptr(r->service, USERDB_SERVICE))
                r->error = USERDB_ERROR_BAD_SERVICE;
        return 0;
}

int userdb_request_parse(const char *msg, size_t len, UserdbRequest *ret) {
        json_tokener *tok;
        json_object *root;
        int r;

        *ret = (UserdbRequest) { .method = USERDB_METHOD_UNKNOWN };
        if (len == 0 || len > USERDB_MESSAGE_MAX || memchr(msg, 0, len))
                return -EBADMSG;
        tok = json_tokener_new_ex(USERDB_DEPTH_MAX);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        root = json_tokener_parse_ex(tok, msg, (int) len);
        if (!root || json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != len ||
            !json_object_is_type(root, json_type_object))
                r = -EBADMSG;
        else
                r = userdb_read_call(ret, root);
        json_object_put(root);
        json_tokener_free(tok);
        if (r < 0)
                userdb_request_done(ret);
        return r;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Replies */

typedef struct UserdbOut {
        char *buf;
        size_t len;
} UserdbOut;

/* Appends obj as one message (JSON and its NUL), taking ownership of obj. */
static int userdb_out_add(UserdbOut *o, json_object *obj) {
        const char *s;
        size_t n;
        char *b;

        if (!obj)
                return -ENOMEM;
        s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s) {
                json_object_put(obj);
                return -ENOMEM;
        }
        n = strlen(s) + 1;
        b = realloc(o->buf, o->len + n);
        if (!b) {
                json_object_put(obj);
                return -ENOMEM;
        }
        memcpy(b + o->len, s, n);
        o->buf = b;
        o->len += n;
        json_object_put(obj);
        return 0;
}

static int userdb_add_error(UserdbOut *o, const char *error, const char *key, const char *value) {
        json_object *m = json_object_new_object(), *p = json_object_new_object();

        if (!m || !p) {
                json_object_put(m);
                json_object_put(p);
                return -ENOMEM;
        }
        json_object_object_add(m, "error", json_object_new_string(error));
        if (key)
                json_object_object_add(p, key, json_object_new_string(value ? value : ""));
        json_object_object_add(m, "parameters", p);
        return userdb_out_add(o, m);
}

static json_object *userdb_record(const DynUser *u, bool group) {
        json_object *rec = json_object_new_object();
        char real[128];

        if (!rec)
                return NULL;
        json_object_object_add(rec, group ? "groupName" : "userName", json_object_new_string(u->name));
        if (!group) {
                snprintf(real, sizeof(real), "teleworker remote principal %s", u->principal);
                json_object_object_add(rec, "uid", json_object_new_int64(u->uid));
                json_object_object_add(rec, "gid", json_object_new_int64(u->uid));
                json_object_object_add(rec, "realName", json_object_new_string(real));
                json_object_object_add(rec, "homeDirectory", json_object_new_string("/"));
                json_object_object_add(rec, "shell", json_object_new_string("/usr/sbin/nologin"));
                json_object_object_add(rec, "locked", json_object_new_boolean(true));
        } else
                json_object_object_add(rec, "gid", json_object_new_int64(u->uid));
        json_object_object_add(rec, "disposition", json_object_new_string("dynamic"));
        /* nss-systemd refuses records that do not say which service they come from */
        json_object_object_add(rec, "service", json_object_new_string(USERDB_SERVICE));
        return rec;
}

static int userdb_add_record(UserdbOut *o, const DynUser *u, bool group, bool continues) {
        json_object *m = json_object_new_object(), *p = json_object_new_object(), *rec = userdb_record(u, group);

        if (!m || !p || !rec) {
                json_object_put(m);
                json_object_put(p);
                json_object_put(rec);
                return -ENOMEM;
        }
        json_object_object_add(p, "record", rec);
        json_object_object_add(p, "incomplete", json_object_new_boolean(false));
        json_object_object_add(m, "parameters", p);
        if (continues)
                json_object_object_add(m, "continues", json_object_new_boolean(true));
        return userdb_out_add(o, m);
}

static int userdb_answer_record(const DynUserTable *t, const UserdbRequest *req, UserdbOut *o) {
        bool group = req->method == USERDB_GET_GROUP_RECORD;
        const DynUser *by_id = req->has_id ? dynuser_by_uid(t, req->id) : NULL;
        const DynUser *by_name = req->name ? dynuser_by_name(t, req->name) : NULL;
        size_t n = dynuser_count(t);
        int r;

        if (req->has_id || req->name) {
                if (req->has_id && req->name && by_id != by_name)
                        return userdb_add_error(o, by_id || by_name ? USERDB_ERROR_CONFLICT : USERDB_ERROR_NO_RECORD,
                                                NULL, NULL);
                if (!by_id && !by_name)
                        return userdb_add_error(o, USERDB_ERROR_NO_RECORD, NULL, NULL);
                return userdb_add_record(o, by_id ? by_id : by_name, group, false);
        }
        /* Enumeration: one reply per record, all but the last with "continues". */
        if (!req->more)
                return userdb_add_error(o, VARLINK_ERROR_MORE, NULL, NULL);
        if (n == 0)
                return userdb_add_error(o, USERDB_ERROR_NO_RECORD, NULL, NULL);
        for (size_t i = 0; i < n; i++) {
                r = userdb_add_record(o, dynuser_at(t, i), group, i + 1 < n);
                if (r < 0)
                        return r;
        }
        return 0;
}

int userdb_handle(const DynUserTable *t, const char *msg, size_t len, char **ret, size_t *ret_len) {
        _cleanup_(userdb_request_done) UserdbRequest req = {};
        UserdbOut o = {};
        int r;

        r = userdb_request_parse(msg, len, &req);
        if (r < 0)
                return r;
        if (req.oneway)
                r = 0;
        else if (req.error && streq(req.error, VARLINK_ERROR_METHOD))
                r = userdb_add_error(&o, req.error, "method", req.method_name);
        else if (req.error)
                r = userdb_add_error(&o, req.error, req.error_parameter ? "parameter" : NULL, req.error_parameter);
        else if (req.method == USERDB_GET_MEMBERSHIPS)
                r = userdb_add_error(&o, USERDB_ERROR_NO_RECORD, NULL, NULL); /* no supplementary groups */
        else
                r = userdb_answer_record(t, &req, &o);
        if (r < 0) {
                free(o.buf);
                return r;
        }
        *ret = o.buf;
        *ret_len = o.len;
        return 0;
}
