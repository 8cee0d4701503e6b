/* SPDX-License-Identifier: MIT */
/* telerun-remote-cmd.c - `telerun remote add|use|ls|rm` and which remote a command talks to (--remote NAME,
 * $TELERUN_REMOTE, the current one), over the remotes file (remotes.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "remotes.h"
#include "telerun.h"
#include "shared/macro.h"
#include "shared/util.h"

/* The remotes read for this command: arg_addr etc. may point into it. Freed by telerun_remotes_reset(). */
static Remotes loaded;
static bool loaded_ok;

static int remote_usage(const char *msg) {
        fprintf(stderr, "telerun: %s\n", msg);
        return TELERUN_EXIT_USAGE;
}

/* quiet: say nothing when the file cannot be found or opened (no $HOME, a $HOME that is not ours). */
static int load_full(char **ret_path, bool quiet) {
        _cleanup_(freep) char *path = NULL;
        char err[REMOTES_ERROR_MAX] = "";
        int r;

        r = remotes_path(&path);
        if (r < 0) {
                if (!quiet)
                        fprintf(stderr, "telerun: cannot find the remotes file: neither $XDG_CONFIG_HOME nor $HOME is "
                                        "set\n");
                return r;
        }
        if (!loaded_ok) {
                r = remotes_load(path, &loaded, err);
                if (r < 0) {
                        if (!quiet || !IN_SET(-r, EACCES, EPERM, ENOTDIR, ELOOP))
                                fprintf(stderr, "telerun: %s: %s\n", path, err);
                        return r;
                }
                loaded_ok = true;
        }
        if (ret_path)
                *ret_path = TAKE_PTR(path);
        return 0;
}

static int load(char **ret_path) {
        return load_full(ret_path, false);
}

void telerun_remotes_reset(void) {
        remotes_done(&loaded);
        loaded_ok = false;
}

int telerun_resolve_remote(bool addr_given) {
        const char *name = arg_remote;
        Remote *x;
        int r;

        if (!name)
                name = getenv("TELERUN_REMOTE");
        if (name && !*name)
                name = NULL;
        if (name && addr_given) {
                fprintf(stderr, "telerun: --remote and --addr exclude each other\n");
                return -EINVAL;
        }
        if (addr_given || (!name && getenv("TELERUN_ADDR") && *getenv("TELERUN_ADDR")))
                return 0; /* an address given: no remote */
        if (name && streq(name, REMOTES_LOCAL))
                return 1;  /* the local worker, whatever is current */
        r = load_full(NULL, !name);
        if (r < 0) {
                /* Asked for by name, or a file that is there but wrong (it may name the current remote: running
                 * the command locally instead could run a job on the wrong host): an error. A file that cannot
                 * be opened (no $HOME, another user's $HOME under sudo or runuser) is no file. */
                if (name || !IN_SET(-r, ENOENT, EACCES, EPERM, ENOTDIR, ELOOP))
                        return -EINVAL;
                return 0;
        }
        if (!name)
                name = loaded.current;
        if (!name)
                return 0;
        x = remotes_find(&loaded, name);
        if (!x) {
                fprintf(stderr, "telerun: no remote named '%s' (see 'telerun remote ls')\n", name);
                return -EINVAL;
        }
        /* The command line's own --cert, --key, --cacert win over the stored ones. */
        arg_addr = x->addr;
        if (!arg_cert)
                arg_cert = x->cert;
        if (!arg_key)
                arg_key = x->key;
        if (!arg_cacert)
                arg_cacert = x->cacert;
        return 1;
}

static int save(const char *path) {
        int r = remotes_save(path, &loaded);

        if (r < 0) {
                fprintf(stderr, "telerun: cannot write %s: %s\n", path, strerror(-r));
                return TELERUN_EXIT_FAILURE;
        }
        return TELERUN_EXIT_OK;
}

/* An absolute path of an existing file, so that the remote works from any directory. */
static int absolute(const char *option, const char *path, char **ret) {
        *ret = path ? realpath(path, NULL) : NULL;
        if (path && !*ret) {
                fprintf(stderr, "telerun: --%s '%s': %m\n", option, path);
                return -errno;
        }
        return 0;
}

static int remote_add(char **args) {
        _cleanup_(freep) char *path = NULL, *cert = NULL, *key = NULL, *cacert = NULL;
        int r;

        if (strv_length(args) != 1)
                return remote_usage("'remote add' needs a name: telerun remote add NAME --addr H:P --cert F --key F "
                                    "[--cacert F]");
        if (!remote_name_is_valid(args[0]))
                return remote_usage("invalid remote name: 1 to 64 of A-Z a-z 0-9 _ . -, not starting with . or -, "
                                    "not 'local'");
        if (!arg_addr || !*arg_addr || !arg_cert || !arg_key)
                return remote_usage("'remote add' needs --addr, --cert and --key");
        if (strlen(arg_addr) > REMOTES_VALUE_MAX)
                return remote_usage("--addr is too long");
        if (absolute("cert", arg_cert, &cert) < 0 || absolute("key", arg_key, &key) < 0 ||
            absolute("cacert", arg_cacert, &cacert) < 0)
                return TELERUN_EXIT_USAGE;
        if (load(&path) < 0)
                return TELERUN_EXIT_FAILURE;
        r = remotes_add(&loaded, &(Remote) { .name = args[0], .addr = (char *) arg_addr, .cert = cert, .key = key,
                                             .cacert = cacert });
        if (r == -EEXIST) {
                fprintf(stderr, "telerun: a remote named '%s' exists already (telerun remote rm %s)\n", args[0],
                        args[0]);
                return TELERUN_EXIT_USAGE;
        }
        if (r < 0) {
                fprintf(stderr, "telerun: cannot add the remote: %s\n", r == -E2BIG ? "too many remotes" : strerror(-r));
                return TELERUN_EXIT_FAILURE;
        }
        return save(path);
}

static int remote_use(char **args) {
        _cleanup_(freep) char *path = NULL, *current = NULL;

        if (strv_length(args) != 1)
                return remote_usage("'remote use' needs a name (or 'local')");
        if (load(&path) < 0)
                return TELERUN_EXIT_FAILURE;
        if (!streq(args[0], REMOTES_LOCAL)) {
                if (!remotes_find(&loaded, args[0])) {
                        fprintf(stderr, "telerun: no remote named '%s'\n", args[0]);
                        return TELERUN_EXIT_NOT_FOUND;
                }
                current = strdup(args[0]);
                if (!current)
                        return TELERUN_EXIT_FAILURE;
        }
        free(loaded.current);
        loaded.current = TAKE_PTR(current);
        return save(path);
}

static json_object *json_string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

/* One object per remote, "local" (the system bus: no address, no files) first, as the table shows it. */
static int remote_ls_json(void) {
        _cleanup_(json_object_putp) json_object *list = json_object_new_array();
        bool oom = !list;

        for (size_t i = 0; !oom && i <= loaded.n; i++) {
                const Remote *x = i > 0 ? &loaded.items[i - 1] : NULL;
                const char *name = x ? x->name : REMOTES_LOCAL;
                bool current = x ? loaded.current && streq(loaded.current, x->name) : !loaded.current;
                json_object *o = json_object_new_object();

                oom = !o || json_object_array_add(list, o) < 0;
                if (oom) {
                        json_object_put(o);
                        break;
                }
                oom = json_object_object_add(o, "name", json_object_new_string(name)) < 0 ||
                      json_object_object_add(o, "current", json_object_new_boolean(current)) < 0 ||
                      json_object_object_add(o, "addr", json_string_or_null(x ? x->addr : NULL)) < 0 ||
                      json_object_object_add(o, "cert", json_string_or_null(x ? x->cert : NULL)) < 0 ||
                      json_object_object_add(o, "key", json_string_or_null(x ? x->key : NULL)) < 0 ||
                      json_object_object_add(o, "cacert", json_string_or_null(x ? x->cacert : NULL)) < 0;
        }
        if (oom) {
                fprintf(stderr, "telerun: out of memory\n");
                return TELERUN_EXIT_FAILURE;
        }
        print_json(stdout, list, arg_json);
        return TELERUN_EXIT_OK;
}

static int remote_ls(char **args) {
        if (strv_length(args) != 0)
                return remote_usage("'remote ls' takes no arguments");
        if (load(NULL) < 0)
                return TELERUN_EXIT_FAILURE;
        if (arg_json != JSON_OFF)
                return remote_ls_json();
        if (arg_quiet) {
                for (size_t i = 0; i < loaded.n; i++)
                        printf("%s\n", loaded.items[i].name);
                return TELERUN_EXIT_OK;
        }
        if (arg_legend)
                printf("%-20s %-8s %s\n", "NAME", "CURRENT", "ADDR");
        if (arg_legend || !loaded.current)
                printf("%-20s %-8s %s\n", REMOTES_LOCAL, loaded.current ? "" : "*", "(system bus)");
        for (size_t i = 0; i < loaded.n; i++) {
                const Remote *x = &loaded.items[i];
                printf("%-20s %-8s %s\n", x->name, loaded.current && streq(loaded.current, x->name) ? "*" : "",
                       x->addr);
        }
        return TELERUN_EXIT_OK;
}

static int remote_rm(char **args) {
        _cleanup_(freep) char *path = NULL;

        if (strv_length(args) == 0)
                return remote_usage("'remote rm' needs at least one name");
        if (load(&path) < 0)
                return TELERUN_EXIT_FAILURE;
        for (char **a = args; *a; a++)
                if (remotes_remove(&loaded, *a) < 0) {
                        fprintf(stderr, "telerun: no remote named '%s'\n", *a);
                        return TELERUN_EXIT_NOT_FOUND; /* nothing written */
                }
        return save(path);
}

int telerun_remote_verb(void) {
        const char *sub = arg_args[0];

        if (!sub)
                return remote_usage("'remote' needs a subcommand: add, use, ls or rm");
        if (streq(sub, "add"))
                return remote_add(arg_args + 1);
        if (streq(sub, "use"))
                return remote_use(arg_args + 1);
        if (streq(sub, "ls") || streq(sub, "list"))
                return remote_ls(arg_args + 1);
        if (streq(sub, "rm") || streq(sub, "remove"))
                return remote_rm(arg_args + 1);
        fprintf(stderr, "telerun: unknown 'remote' subcommand '%s': add, use, ls or rm\n", sub);
        return TELERUN_EXIT_USAGE;
}
