/* SPDX-License-Identifier: MIT */
/* remotes.h - telerun's named remotes (like `docker context`, kubeconfig): gateway addresses with their
 * client certificate, key and CA, stored in $XDG_CONFIG_HOME/telerun/remotes (default ~/.config/telerun/),
 * mode 0600, replaced atomically. The file:
 *
 *     # comment
 *     current = prod
 *     [prod]
 *     addr = worker.example:8443
 *     cert = /home/alice/.teleworker/alice.crt
 *     key = /home/alice/.teleworker/alice.key
 *     cacert = /home/alice/.teleworker/ca.crt
 *
 * The parser is bounded (REMOTES_FILE_MAX bytes, REMOTES_MAX remotes, REMOTES_VALUE_MAX per value) and says
 * which line is wrong: the file is the user's own, but a typo must not turn into a request to a wrong host. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define REMOTES_FILE_MAX (64U * 1024U)
#define REMOTES_MAX 64U
#define REMOTES_NAME_MAX 64U
#define REMOTES_VALUE_MAX 4096U
#define REMOTES_ERROR_MAX 256U
/* The name `telerun remote use` takes for the local worker (the system bus); never a remote's. */
#define REMOTES_LOCAL "local"

typedef struct Remote {
        char *name, *addr, *cert, *key, *cacert; /* cacert may be NULL */
} Remote;

typedef struct Remotes {
        Remote *items;
        size_t n;
        char *current; /* NULL: the local worker */
} Remotes;

void remotes_done(Remotes *r);
/* A remote's name: 1..REMOTES_NAME_MAX of [A-Za-z0-9_.-], not starting with '.' or '-', not "local". */
bool remote_name_is_valid(const char *name);
/* Parses the file's text (size bytes, no NUL needed). 0, -ENOMEM, or -EINVAL/-E2BIG with err set
 * ("line 3: ..."). */
int remotes_parse(const char *text, size_t size, Remotes *ret, char err[static REMOTES_ERROR_MAX]);
/* The file's text for r (NULL: out of memory). remotes_parse() of it gives r back. */
char *remotes_format(const Remotes *r);

Remote *remotes_find(const Remotes *r, const char *name);
/* Adds a copy of remote (its name must be new): 0, -EEXIST, -E2BIG past REMOTES_MAX, -ENOMEM. */
int remotes_add(Remotes *r, const Remote *remote);
/* Removes it (and clears current if it was): 0 or -ENOENT. */
int remotes_remove(Remotes *r, const char *name);

/* The file's path: $XDG_CONFIG_HOME/telerun/remotes, else $HOME/.config/telerun/remotes. -ENOENT when
 * neither variable is set (or not absolute). */
int remotes_path(char **ret);
/* Reads path: a missing file is an empty set. Errors as remotes_parse(), or a negative errno of open/read
 * (err set too). */
int remotes_load(const char *path, Remotes *ret, char err[static REMOTES_ERROR_MAX]);
/* Writes path atomically (a temporary file in its directory, mode 0600, fsync, rename), creating the
 * directory (0700) if needed. */
int remotes_save(const char *path, const Remotes *r);
