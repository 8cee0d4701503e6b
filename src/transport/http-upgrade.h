/* SPDX-License-Identifier: MIT */
/* http-upgrade.h - the pure parts of POST /v1/jobs/{id}/attach, an HTTP/1.1 Upgrade to a raw duplex stream
 * (Docker's attach: "Upgrade: tcp"): the token lists of Connection and Upgrade (the gateway), and the head of
 * the answer (telerun's remote backend, which reads it off the socket itself: libcurl does not relay after a
 * 101). No I/O, no allocation; every input is bounded by the caller's buffer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_UPGRADE_PROTOCOL "tcp"
#define HTTP_UPGRADE_HEAD_MAX (8U * 1024U)   /* the answer's status line and headers, bytes */

/* Whether value (n bytes, no NUL needed) is a comma-separated list (RFC 9110 5.6.1: optional whitespace
 * around elements, empty elements allowed) that holds token, compared case-insensitively. A token with
 * parameters ("tcp/1") is not token. */
bool http_header_has_token(const char *value, size_t n, const char *token);

typedef struct HttpUpgradeHead {
        unsigned status;         /* 100..599 */
        size_t head_size;        /* bytes of the head, its final empty line included: the stream starts here */
        bool upgrade;            /* "Upgrade: tcp" and "Connection: upgrade" (what a 101 must say) */
        int64_t content_length;  /* -1: none (the body of a refusal then runs to the end of the connection) */
} HttpUpgradeHead;

/* Parses the head at the start of buf. 1 with *ret filled: complete; 0: incomplete, read more (unless size
 * has reached HTTP_UPGRADE_HEAD_MAX: then it is -E2BIG); -EBADMSG: not an HTTP/1.1 head; -E2BIG: no end of
 * the head within HTTP_UPGRADE_HEAD_MAX bytes. */
int http_upgrade_head_parse(const char *buf, size_t size, HttpUpgradeHead *ret);
