/* SPDX-License-Identifier: MIT */
/* tls.h - OpenSSL contexts for the mTLS link (TLS 1.3 only) and the client certificate -> principal rule. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#define TLS_PRINCIPAL_MAX 65   /* principal_name_is_valid(): at most 64 bytes, and the NUL */

/* Who a verified client certificate names. */
typedef struct TlsPrincipal {
        char name[TLS_PRINCIPAL_MAX];
        bool admin;
} TlsPrincipal;

/* The principal of a client certificate, from its subject alone: exactly one CN, valid per
 * principal_name_is_valid() (that is, printable ASCII from a small set, so it is safe in logs and D-Bus);
 * admin if any OU equals "admin" exactly. -EBADMSG with *ret_reason (static text) otherwise. */
int tls_principal_from_subject(X509_NAME *subject, TlsPrincipal *ret, const char **ret_reason);
/* The whole per-certificate rule for a client leaf: not a CA (basicConstraints CA:TRUE is refused: a leaf
 * that can sign certificates is not a client's), extendedKeyUsage present and containing clientAuth
 * (X509_check_purpose(SSL_CLIENT) also passes), then tls_principal_from_subject(). The chain itself
 * (signature, dates, CA, revocation) is OpenSSL's verification, done before this. */
int tls_check_client_cert(X509 *cert, TlsPrincipal *ret, const char **ret_reason);

/* Server context: TLS 1.3 only, the certificate chain and key, client certificates required and verified
 * against ca_file with the rule above applied during the handshake (a refused certificate fails the
 * handshake with an alert), no session resumption. On failure a description is left in err. */
int tls_server_ctx_new(const char *cert_file, const char *key_file, const char *ca_file, SSL_CTX **ret,
                       char *err, size_t err_size);
/* Revocation: a PEM file of CRLs, checked for the client leaf in every handshake.
 *
 * tls_crl_refresh() (re)loads it into the server context when it changed since the last load (device,
 * inode, size, mtime, ctime) or when force is set. Every CRL in the file must be signed by a CA of ca_file
 * and every CA of ca_file must have one (otherwise a leaf of an uncovered CA could not be checked); a
 * CRL whose lastUpdate is in the future is refused. A CRL past its nextUpdate still applies (it is a local
 * file the operator writes; nothing fetches a newer one): the handshake checks it and *ret_expired is set
 * for a warning. A file that fails to load leaves the context with what it had (no CRL, or the previous
 * one): 1 loaded, 0 unchanged, -ENOENT absent, another -errno with err set otherwise. Connections that exist
 * keep the CRL they were accepted with; new ones use the new file. Bounded: TLS_CRL_FILE_MAX bytes,
 * TLS_CRL_MAX CRLs. */
#define TLS_CRL_FILE_MAX (64U * 1024U * 1024U)
#define TLS_CRL_MAX 64U

typedef struct TlsCrlState {
        bool loaded;             /* a CRL is in force */
        bool have_id;            /* the identity below is of the last file looked at (loaded or refused) */
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime, ctime;
        unsigned n_crls, n_revoked;
        bool expired;            /* a CRL of the last load is past its nextUpdate */
} TlsCrlState;

int tls_crl_refresh(SSL_CTX *ctx, const char *ca_file, const char *crl_file, bool force, TlsCrlState *state,
                    char *err, size_t err_size);
/* The CRLs of a CRL file's contents: PEM blocks "X509 CRL" only (anything else, a broken block or none at
 * all is -EBADMSG with err set), at most TLS_CRL_MAX of them in at most TLS_CRL_FILE_MAX bytes. Signatures
 * are not checked here (tls_crl_refresh() does). The fuzz target's entry point. */
int tls_crl_parse_buffer(const void *buf, size_t size, STACK_OF(X509_CRL) **ret, char *err, size_t err_size);

/* Client context (telerun, tests): TLS 1.3 only, our certificate and key, the server verified against
 * ca_file. The caller sets the expected host name per connection with tls_client_set_host(). */
int tls_client_ctx_new(const char *cert_file, const char *key_file, const char *ca_file, SSL_CTX **ret,
                       char *err, size_t err_size);
/* SNI and host name (or IP address) verification for one client connection. */
int tls_client_set_host(SSL *ssl, const char *host);

/* Outgoing ciphertext of one connection, written to its socket by the caller in large writes.
 *
 * With a socket BIO, OpenSSL makes one write(2) per TLS record (at most 16 KiB of plaintext): a large
 * response costs a system call per 16 KiB. tls_set_fd_buffered() gives the SSL object a write BIO that
 * appends records here instead, and the caller sends what accumulated with tls_write_buffer_send(), many
 * records per call. The buffer is bounded (max): when it is full the SSL call reports SSL_ERROR_WANT_WRITE
 * until the caller has sent some. Storage is allocated on first use and can be released when empty.
 *
 * Ownership: the connection owns both the SSL object and this buffer; the BIO only points here, so the
 * buffer must outlive the SSL object (free the SSL first). */
typedef struct TlsWriteBuffer {
        unsigned char *data;
        size_t start, end;     /* pending ciphertext: data[start, end) */
        size_t allocated;      /* 0 or max */
        size_t max;
} TlsWriteBuffer;

/* Reads from fd through a socket BIO, writes into wb. max: the most ciphertext held (> 0). */
int tls_set_fd_buffered(SSL *ssl, int fd, TlsWriteBuffer *wb, size_t max);
static inline size_t tls_write_buffer_pending(const TlsWriteBuffer *wb) {
        return wb->end - wb->start;
}
/* Sends pending ciphertext to the socket fd until it is all out or the socket is full. 0 when nothing is
 * left, -EAGAIN when the socket is full, another -errno when the connection is dead. *ret_sent (may be
 * NULL) counts the bytes sent by this call. */
int tls_write_buffer_send(TlsWriteBuffer *wb, int fd, size_t *ret_sent);
/* Frees the storage if nothing is pending (an idle connection keeps no buffer). */
void tls_write_buffer_release(TlsWriteBuffer *wb);
void tls_write_buffer_done(TlsWriteBuffer *wb);

/* The principal recorded for a connection whose handshake completed (from the verified peer certificate). */
int tls_get_principal(SSL *ssl, TlsPrincipal *ret);
/* Why the handshake of ssl was refused, for logs: our rule's reason or OpenSSL's verify result; NULL if
 * the certificate was not the problem. */
const char *tls_get_refusal_reason(SSL *ssl);

/* Drains OpenSSL's error queue of this thread into buf ("" if empty), for log messages. */
const char *tls_errors_to_string(char *buf, size_t size);

static inline void tls_ssl_ctx_freep(SSL_CTX **p) {
        if (*p)
                SSL_CTX_free(*p);
}
static inline void tls_ssl_freep(SSL **p) {
        if (*p)
                SSL_free(*p);
}
