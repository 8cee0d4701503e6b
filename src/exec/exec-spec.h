/* SPDX-License-Identifier: MIT */
/* exec-spec.h - the job's command line, environment, working directory and executable allow-list, as the
 * data teleworkerd hands to the root helper teleworker-exec (a sealed memfd on EXEC_SPEC_FD).
 *
 * Everything in it comes from the caller (or the policy) and is untrusted: the helper parses it with
 * exec_spec_parse() only, uses none of it as root except to hold it, and applies it in the job's child
 * after the credentials are dropped (chdir, PATH lookup, allow-list, execve). Nothing of it is ever in the
 * helper's own environment or command line.
 *
 * Wire format (host byte order: both ends are on one host, built from one tree):
 *   "TWS1"  u32 flags  u32 n_argv  u32 n_env  u32 n_allow
 *   string cwd  string home  string argv[n_argv]  string env[n_env]  string allow[n_allow]
 * where string = u32 length + that many bytes, no NUL among them. Nothing may follow the last string.
 * Refused: a wrong magic, unknown flags, counts or sizes above the limits below, an empty argv or argv[0],
 * a NUL inside a string, an env entry without NAME=, a cwd that is neither empty nor absolute, a short or
 * long buffer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXEC_SPEC_FD 4

/* Where argv[0] is looked up when the job's environment has no PATH (the daemon always sets one). */
#define EXEC_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#define EXEC_SPEC_MAGIC "TWS1"
#define EXEC_SPEC_SIZE_MAX (8u * 1024 * 1024)
#define EXEC_SPEC_STRING_MAX (1024u * 1024)
#define EXEC_SPEC_ARGV_MAX 4096u
#define EXEC_SPEC_ENV_MAX 2048u
#define EXEC_SPEC_ALLOW_MAX 4096u

enum {
        EXEC_SPEC_HAS_ALLOW = 1u << 0, /* the allow-list applies (without it: any executable) */
        _EXEC_SPEC_FLAGS_ALL = EXEC_SPEC_HAS_ALLOW,
};

typedef struct ExecSpec {
        char **argv;  /* NULL-terminated, argv[0] non-empty: the name looked up (PATH of env) */
        char **env;   /* NULL-terminated NAME=VALUE entries: the job's whole environment */
        char **allow; /* NULL = any executable; else fnmatch(FNM_PATHNAME) patterns on the resolved path */
        char *cwd;    /* "" = the home directory if it can be entered, else "/" */
        char *home;   /* may be "" */
} ExecSpec;

void exec_spec_done(ExecSpec *s);

/* Serializes s (as the parser would accept it) into a new buffer. -EINVAL if s breaks a rule above. */
int exec_spec_serialize(const ExecSpec *s, char **ret, size_t *ret_size);

/* Parses buf; on -EBADMSG *ret_error says why (a static string). *ret is untouched on failure. */
int exec_spec_parse(const void *buf, size_t size, ExecSpec *ret, const char **ret_error);

/* Daemon side: a memfd holding the serialized spec, sealed against any change (O_CLOEXEC). */
int exec_spec_to_memfd(const ExecSpec *s, int *ret_fd);

/* Helper side: reads and parses a sealed memfd (refused unless it is sealed against writes and resizes). */
int exec_spec_from_fd(int fd, ExecSpec *ret, const char **ret_error);

/* fnmatch(FNM_PATHNAME) of path against allow (NULL = allowed): the same rule as config_executable_allowed. */
bool exec_spec_allowed(char *const *allow, const char *path);

/* A uid or gid as the helper's command line gives it: decimal digits only, no sign, no blanks, no leading
 * zero (but "0"), below (uint32_t) -1 (which means "no id"). -EINVAL otherwise. */
int exec_parse_id(const char *s, uint32_t *ret);
