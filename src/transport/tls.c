/* SPDX-License-Identifier: MIT */
/* tls.c - OpenSSL setup for the gateway's mTLS (TLS 1.3 only) and the certificate -> principal rule.
 *
 * The client certificate is judged during the handshake, in the verify callback, so that a certificate we
 * will not serve fails the handshake with an alert instead of yielding a connection that then says 403:
 * OpenSSL first verifies the chain (signature up to the configured CA, validity dates, CA flags), then our
 * callback sees the leaf and applies what OpenSSL does not: the clientAuth EKU must be present (OpenSSL's
 * purpose check alone accepts a certificate without any EKU) and the subject must name exactly one valid
 * principal. Session resumption is off, so every connection goes through that check again. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/authz.h"
#include "shared/macro.h"
#include "transport/tls.h"

static int tls_reason_index = -1;

static int tls_reason_index_get(void) {
        /* Single-threaded daemon; the tests create contexts from one thread too. */
        if (tls_reason_index < 0)
                tls_reason_index = SSL_get_ex_new_index(0, (char *) "teleworker refusal reason", NULL, NULL, NULL);
        return tls_reason_index;
}

const char *tls_errors_to_string(char *buf, size_t size) {
        unsigned long e;
        size_t k = 0;

        if (size == 0)
                return buf;
        buf[0] = 0;
        while ((e = ERR_get_error()) != 0) {
                char one[256];
                int n;

                ERR_error_string_n(e, one, sizeof(one));
                n = snprintf(buf + k, size - k, "%s%s", k > 0 ? "; " : "", one);
                if (n < 0 || (size_t) n >= size - k) {
                        ERR_clear_error();
                        break;
                }
                k += (size_t) n;
        }
        return buf;
}

/* Copies an X.509 string attribute to a NUL-terminated UTF-8 string; embedded NULs are refused. */
static int tls_entry_to_utf8(X509_NAME_ENTRY *entry, char *buf, size_t size) {
        unsigned char *utf8 = NULL;
        int n;

        n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
        if (n < 0)
                return -EBADMSG;
        if ((size_t) n >= size || memchr(utf8, 0, (size_t) n)) {
                OPENSSL_free(utf8);
                return -EBADMSG;
        }
        memcpy(buf, utf8, (size_t) n);
        buf[n] = 0;
        OPENSSL_free(utf8);
        return 0;
}

int tls_principal_from_subject(X509_NAME *subject, TlsPrincipal *ret, const char **ret_reason) {
        TlsPrincipal p = {};
        int idx = -1, cn = -1, n_cn = 0;
        const char *reason = NULL;

        if (!subject) {
                reason = "the certificate has no subject";
                goto refuse;
        }
        while ((idx = X509_NAME_get_index_by_NID(subject, NID_commonName, idx)) >= 0) {
                n_cn++;
                cn = idx;
        }
        if (n_cn == 0) {
                reason = "the certificate subject has no CN";
                goto refuse;
        }
        if (n_cn > 1) {
                reason = "the certificate subject has more than one CN";
                goto refuse;
        }
        if (tls_entry_to_utf8(X509_NAME_get_entry(subject, cn), p.name, sizeof(p.name)) < 0 ||
            !principal_name_is_valid(p.name)) {
                reason = "the certificate CN is not a valid principal name";
                goto refuse;
        }

        idx = -1;
        while ((idx = X509_NAME_get_index_by_NID(subject, NID_organizationalUnitName, idx)) >= 0) {
                char ou[16];

                /* An OU that cannot be read or is longer than any we look for is simply not "admin". */
                if (tls_entry_to_utf8(X509_NAME_get_entry(subject, idx), ou, sizeof(ou)) < 0)
                        continue;
                if (streq(ou, "admin"))
                        p.admin = true;
        }
        *ret = p;
        return 0;

refuse:
        if (ret_reason)
                *ret_reason = reason;
        return -EBADMSG;
}

int tls_check_client_cert(X509 *cert, TlsPrincipal *ret, const char **ret_reason) {
        const char *reason = NULL;

        if (!cert) {
                reason = "no client certificate";
                goto refuse;
        }
        /* X509_get_extension_flags() also caches the extensions; EXFLAG_CA: basicConstraints CA:TRUE. OpenSSL
         * does not mind a CA certificate as the leaf of a client chain; we do. */
        if (X509_get_extension_flags(cert) & EXFLAG_CA) {
                reason = "the certificate is a CA certificate (basicConstraints CA:TRUE), not a client leaf";
                goto refuse;
        }
        if (X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0) != 1) {
                reason = "the certificate is not valid for TLS client authentication";
                goto refuse;
        }
        /* X509_check_purpose() accepts a leaf without any extendedKeyUsage; we insist on clientAuth. */
        if (!(X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) ||
            !(X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT)) {
                reason = "the certificate lacks extendedKeyUsage clientAuth";
                goto refuse;
        }
        return tls_principal_from_subject(X509_get_subject_name(cert), ret, ret_reason);

refuse:
        if (ret_reason)
                *ret_reason = reason;
        return -EBADMSG;
}

static int tls_on_verify(int preverify_ok, X509_STORE_CTX *store) {
        const char *reason = NULL;
        TlsPrincipal p;
        SSL *ssl;

        if (!preverify_ok) {
                /* A CRL past its nextUpdate still lists what it revoked, and the revocation check goes on
                 * after this answer (see tls_crl_refresh()). Everything else: OpenSSL's verdict stands, its
                 * error is in the store context. */
                if (X509_STORE_CTX_get_error(store) == X509_V_ERR_CRL_HAS_EXPIRED)
                        return 1;
                return 0;
        }
        if (X509_STORE_CTX_get_error_depth(store) != 0)
                return 1;

        if (tls_check_client_cert(X509_STORE_CTX_get_current_cert(store), &p, &reason) >= 0)
                return 1;

        ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
        if (ssl && tls_reason_index >= 0)
                (void) SSL_set_ex_data(ssl, tls_reason_index, (void *) reason);
        X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
}

static int tls_fail(char *err, size_t err_size, const char *what, const char *file) {
        char ebuf[512];

        (void) snprintf(err, err_size, "%s%s%s%s: %s", what, file ? " '" : "", file ?: "", file ? "'" : "",
                        tls_errors_to_string(ebuf, sizeof(ebuf)));
        return -EINVAL;
}

static int tls_ctx_common(SSL_CTX *ctx, const char *cert_file, const char *key_file, const char *ca_file,
                          char *err, size_t err_size) {
        if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1)
                return tls_fail(err, err_size, "Failed to require TLS 1.3", NULL);
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                         SSL_MODE_RELEASE_BUFFERS);

        if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
                return tls_fail(err, err_size, "Failed to load certificate", cert_file);
        if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1)
                return tls_fail(err, err_size, "Failed to load private key", key_file);
        if (SSL_CTX_check_private_key(ctx) != 1)
                return tls_fail(err, err_size, "Private key does not match the certificate", key_file);
        if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1)
                return tls_fail(err, err_size, "Failed to load CA certificates", ca_file);
        SSL_CTX_set_verify_depth(ctx, 4);
        return 0;
}

int tls_server_ctx_new(const char *cert_file, const char *key_file, const char *ca_file, SSL_CTX **ret,
                       char *err, size_t err_size) {
        _cleanup_(tls_ssl_ctx_freep) SSL_CTX *ctx = NULL;
        STACK_OF(X509_NAME) *names;
        int r;

        ERR_clear_error();
        if (tls_reason_index_get() < 0)
                return tls_fail(err, err_size, "Failed to allocate SSL ex data", NULL);
        ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx)
                return tls_fail(err, err_size, "Failed to create TLS context", NULL);
        r = tls_ctx_common(ctx, cert_file, key_file, ca_file, err, err_size);
        if (r < 0)
                return r;

        /* Tell clients which CAs we accept, so that one with several certificates picks the right one. */
        names = SSL_load_client_CA_file(ca_file);
        if (!names)
                return tls_fail(err, err_size, "Failed to read CA names", ca_file);
        SSL_CTX_set_client_CA_list(ctx, names);

        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, tls_on_verify);
        /* No resumption: each connection presents and re-verifies its certificate (expiry, our rule). */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        (void) SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);

        *ret = TAKE_PTR(ctx);
        return 0;
}

/* ---- revocation ---------------------------------------------------------------------------------------- */

static bool tls_crl_same_file(const TlsCrlState *state, const struct stat *st) {
        return state->have_id && state->dev == st->st_dev && state->ino == st->st_ino &&
               state->size == st->st_size && state->mtime.tv_sec == st->st_mtim.tv_sec &&
               state->mtime.tv_nsec == st->st_mtim.tv_nsec && state->ctime.tv_sec == st->st_ctim.tv_sec &&
               state->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static void tls_crl_remember(TlsCrlState *state, const struct stat *st) {
        state->have_id = true;
        state->dev = st->st_dev;
        state->ino = st->st_ino;
        state->size = st->st_size;
        state->mtime = st->st_mtim;
        state->ctime = st->st_ctim;
}

/* Reads all of an open regular file of at most TLS_CRL_FILE_MAX bytes. */
static int tls_crl_read(int fd, const struct stat *st, char **ret, size_t *ret_size) {
        _cleanup_(freep) char *buf = NULL;
        size_t n = 0, size = (size_t) st->st_size;

        buf = malloc(size + 1);
        if (!buf)
                return -ENOMEM;
        while (n <= size) {
                /* One byte more than fstat() said: a file that grew meanwhile is read again next time. */
                ssize_t k = read(fd, buf + n, size + 1 - n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (n > size)
                return -EAGAIN;
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

static void tls_x509_crl_pop_free(STACK_OF(X509_CRL) **p) {
        if (*p)
                sk_X509_CRL_pop_free(*p, X509_CRL_free);
}

static void tls_x509_store_freep(X509_STORE **p) {
        if (*p)
                X509_STORE_free(*p);
}

static void tls_biop(BIO **p) {
        if (*p)
                BIO_free(*p);
}

int tls_crl_parse_buffer(const void *buf, size_t size, STACK_OF(X509_CRL) **ret, char *err, size_t err_size) {
        _cleanup_(tls_x509_crl_pop_free) STACK_OF(X509_CRL) *crls = NULL;
        _cleanup_(tls_biop) BIO *b = NULL;
        char *name = NULL, *header = NULL;
        unsigned char *data = NULL;
        long len = 0;

        if (size == 0) {
                (void) snprintf(err, err_size, "the CRL file holds no CRL");
                return -EBADMSG;
        }
        if (size > TLS_CRL_FILE_MAX) {
                (void) snprintf(err, err_size, "the CRL file is larger than %u MiB", TLS_CRL_FILE_MAX / 1024U / 1024U);
                return -EFBIG;
        }
        crls = sk_X509_CRL_new_null();
        b = BIO_new_mem_buf(buf, (int) size);
        if (!crls || !b) {
                (void) snprintf(err, err_size, "out of memory");
                return -ENOMEM;
        }
        for (;;) {
                const unsigned char *p;
                X509_CRL *crl;
                int k;

                ERR_clear_error();
                k = PEM_read_bio(b, &name, &header, &data, &len);
                if (k != 1) {
                        unsigned long e = ERR_peek_last_error();

                        /* The end of the input is "no start line"; anything else is a broken block. */
                        if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                                break;
                        return tls_fail(err, err_size, "Failed to read a PEM block of the CRL file", NULL);
                }
                if (strcmp(name, PEM_STRING_X509_CRL) != 0) {
                        (void) snprintf(err, err_size, "the CRL file holds a PEM block that is not a CRL");
                        OPENSSL_free(name), OPENSSL_free(header), OPENSSL_free(data);
                        return -EBADMSG;
                }
                p = data;
                crl = d2i_X509_CRL(NULL, &p, len);
                OPENSSL_free(name), OPENSSL_free(header), OPENSSL_free(data);
                name = header = NULL, data = NULL;
                if (!crl)
                        return tls_fail(err, err_size, "Failed to parse a CRL", NULL);
                if (sk_X509_CRL_num(crls) >= (int) TLS_CRL_MAX || !sk_X509_CRL_push(crls, crl)) {
                        X509_CRL_free(crl);
                        (void) snprintf(err, err_size, "the CRL file holds more than %u CRLs", TLS_CRL_MAX);
                        return -E2BIG;
                }
        }
        ERR_clear_error();
        if (sk_X509_CRL_num(crls) == 0) {
                (void) snprintf(err, err_size, "the CRL file holds no CRL");
                return -EBADMSG;
        }
        *ret = TAKE_PTR(crls);
        return 0;
}

/* The CA of store that issued and signed crl, or NULL. */
static X509 *tls_crl_issuer(X509_STORE *store, X509_CRL *crl) {
        STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);

        for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
                X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));

                if (ca && X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) == 0 &&
                    X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1)
                        return ca;
        }
        return NULL;
}

/* A new verification store: the CAs of ca_file and the CRLs, each checked against them. */
static int tls_crl_store_new(const char *ca_file, STACK_OF(X509_CRL) *crls, X509_STORE **ret, bool *ret_expired,
                             unsigned *ret_revoked, char *err, size_t err_size) {
        _cleanup_(tls_x509_store_freep) X509_STORE *store = X509_STORE_new();
        STACK_OF(X509_OBJECT) *objs;
        unsigned revoked = 0;
        bool expired = false;

        if (!store)
                return -ENOMEM;
        if (X509_STORE_load_file(store, ca_file) != 1)
                return tls_fail(err, err_size, "Failed to load CA certificates", ca_file);
        for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
                X509_CRL *crl = sk_X509_CRL_value(crls, i);
                const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);

                if (!tls_crl_issuer(store, crl)) {
                        (void) snprintf(err, err_size, "CRL %d is not signed by a CA of '%s'", i + 1, ca_file);
                        return -EBADMSG;
                }
                if (X509_cmp_current_time(X509_CRL_get0_lastUpdate(crl)) >= 0) {
                        (void) snprintf(err, err_size, "CRL %d is not valid yet (lastUpdate in the future)", i + 1);
                        return -EBADMSG;
                }
                if (next && X509_cmp_current_time(next) <= 0)
                        expired = true;
                revoked += (unsigned) sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
                if (X509_STORE_add_crl(store, crl) != 1)
                        return tls_fail(err, err_size, "Failed to add a CRL", NULL);
        }
        /* Every CA needs its CRL: OpenSSL refuses a leaf whose issuer has none ("unable to get certificate
         * CRL"), so a CA left out would lock its clients out instead of being unchecked. Say so now. */
        objs = X509_STORE_get0_objects(store);
        for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
                X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
                bool covered = false;

                for (int j = 0; ca && !covered && j < sk_X509_CRL_num(crls); j++)
                        covered = X509_NAME_cmp(X509_get_subject_name(ca),
                                                X509_CRL_get_issuer(sk_X509_CRL_value(crls, j))) == 0;
                if (ca && !covered) {
                        (void) snprintf(err, err_size, "the CRL file has no CRL for a CA of '%s'", ca_file);
                        return -EBADMSG;
                }
        }
        (void) X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
        *ret_expired = expired;
        *ret_revoked = revoked;
        *ret = TAKE_PTR(store);
        return 0;
}

int tls_crl_refresh(SSL_CTX *ctx, const char *ca_file, const char *crl_file, bool force, TlsCrlState *state,
                    char *err, size_t err_size) {
        _cleanup_(tls_x509_crl_pop_free) STACK_OF(X509_CRL) *crls = NULL;
        _cleanup_(tls_x509_store_freep) X509_STORE *store = NULL;
        _cleanup_(freep) char *buf = NULL;
        _cleanup_(closep) int fd = -EBADF;
        size_t size = 0;
        unsigned revoked = 0;
        bool expired = false;
        struct stat st;
        int r;

        if (err_size > 0)
                err[0] = 0;
        fd = open(crl_file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                r = -errno;
                (void) snprintf(err, err_size, "Failed to open the CRL file '%s': %s", crl_file, strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                (void) snprintf(err, err_size, "Failed to stat the CRL file '%s': %s", crl_file, strerror(-r));
                return r;
        }
        if (!force && tls_crl_same_file(state, &st))
                return 0;
        /* Remembered before the checks: a bad file is reported once, not at every look. */
        tls_crl_remember(state, &st);
        if (!S_ISREG(st.st_mode)) {
                (void) snprintf(err, err_size, "The CRL file '%s' is not a regular file", crl_file);
                return -EINVAL;
        }
        if ((uint64_t) st.st_size > TLS_CRL_FILE_MAX) {
                (void) snprintf(err, err_size, "The CRL file '%s' is larger than %u MiB", crl_file,
                                TLS_CRL_FILE_MAX / 1024U / 1024U);
                return -EFBIG;
        }
        r = tls_crl_read(fd, &st, &buf, &size);
        if (r < 0) {
                if (r == -EAGAIN)
                        state->have_id = false;   /* it is being written: look again next time */
                (void) snprintf(err, err_size, "Failed to read the CRL file '%s': %s", crl_file,
                                r == -EAGAIN ? "it changed while being read" : strerror(-r));
                return r;
        }
        ERR_clear_error();
        r = tls_crl_parse_buffer(buf, size, &crls, err, err_size);
        if (r >= 0)
                r = tls_crl_store_new(ca_file, crls, &store, &expired, &revoked, err, err_size);
        if (r < 0) {
                char what[512];

                (void) snprintf(what, sizeof(what), "%s", err);
                (void) snprintf(err, err_size, "The CRL file '%s' was not loaded: %s", crl_file, what);
                return r;
        }
        if (SSL_CTX_set1_verify_cert_store(ctx, store) != 1 ||
            X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), X509_V_FLAG_CRL_CHECK) != 1)
                return tls_fail(err, err_size, "Failed to install the CRL", crl_file);
        state->loaded = true;
        state->expired = expired;
        state->n_crls = (unsigned) sk_X509_CRL_num(crls);
        state->n_revoked = revoked;
        return 1;
}

int tls_client_ctx_new(const char *cert_file, const char *key_file, const char *ca_file, SSL_CTX **ret,
                       char *err, size_t err_size) {
        _cleanup_(tls_ssl_ctx_freep) SSL_CTX *ctx = NULL;
        int r;

        ERR_clear_error();
        ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx)
                return tls_fail(err, err_size, "Failed to create TLS context", NULL);
        r = tls_ctx_common(ctx, cert_file, key_file, ca_file, err, err_size);
        if (r < 0)
                return r;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        /* The server must present a serverAuth certificate. */
        if (SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER) != 1)
                return tls_fail(err, err_size, "Failed to set the verify purpose", NULL);
        *ret = TAKE_PTR(ctx);
        return 0;
}

static bool tls_host_is_ip(const char *host) {
        unsigned char addr[16];

        return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

int tls_client_set_host(SSL *ssl, const char *host) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        if (tls_host_is_ip(host)) {
                if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1)
                        return -EINVAL;
                return 0;
        }
        if (SSL_set_tlsext_host_name(ssl, host) != 1)
                return -EINVAL;
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (X509_VERIFY_PARAM_set1_host(param, host, 0) != 1)
                return -EINVAL;
        return 0;
}

/* ---- buffered writes ----------------------------------------------------------------------------------- */

static BIO_METHOD *tls_wbio_method;
static CRYPTO_ONCE tls_wbio_once = CRYPTO_ONCE_STATIC_INIT;

static int tls_wbio_write(BIO *b, const char *data, size_t n, size_t *ret_written) {
        TlsWriteBuffer *wb = BIO_get_data(b);
        size_t room;

        BIO_clear_retry_flags(b);
        if (!wb->data) {
                wb->data = malloc(wb->max);
                if (!wb->data)
                        return 0;
                wb->allocated = wb->max;
                wb->start = wb->end = 0;
        }
        if (wb->start > 0 && wb->end + n > wb->allocated) {
                /* Make room at the end; this only happens when the socket took part of a write. */
                memmove(wb->data, wb->data + wb->start, wb->end - wb->start);
                wb->end -= wb->start;
                wb->start = 0;
        }
        room = wb->allocated - wb->end;
        if (room == 0) {
                /* Full: OpenSSL keeps the rest of the record and reports SSL_ERROR_WANT_WRITE. */
                BIO_set_retry_write(b);
                return 0;
        }
        n = MIN(n, room);
        memcpy(wb->data + wb->end, data, n);
        wb->end += n;
        *ret_written = n;
        return 1;
}

static long tls_wbio_ctrl(BIO *b, int cmd, long num, void *ptr) {
        TlsWriteBuffer *wb = BIO_get_data(b);

        switch (cmd) {
        case BIO_CTRL_FLUSH:
                /* Records are complete once here; the connection sends them when the socket takes them. */
                return 1;
        case BIO_CTRL_WPENDING:
                return (long) tls_write_buffer_pending(wb);
        case BIO_CTRL_PENDING:
                return 0;
        default:
                return 0;
        }
}

static int tls_wbio_create(BIO *b) {
        BIO_set_init(b, 1);
        return 1;
}

static void tls_wbio_method_init(void) {
        BIO_METHOD *m;
        int type;

        type = BIO_get_new_index();
        if (type < 0)
                return;
        m = BIO_meth_new(type | BIO_TYPE_SOURCE_SINK, "teleworker write buffer");
        if (!m)
                return;
        if (BIO_meth_set_write_ex(m, tls_wbio_write) != 1 || BIO_meth_set_ctrl(m, tls_wbio_ctrl) != 1 ||
            BIO_meth_set_create(m, tls_wbio_create) != 1) {
                BIO_meth_free(m);
                return;
        }
        tls_wbio_method = m;   /* kept for the life of the process */
}

int tls_set_fd_buffered(SSL *ssl, int fd, TlsWriteBuffer *wb, size_t max) {
        BIO *rbio, *wbio;

        if (max == 0)
                return -EINVAL;
        if (CRYPTO_THREAD_run_once(&tls_wbio_once, tls_wbio_method_init) != 1 || !tls_wbio_method)
                return -ENOMEM;
        wb->max = max;
        rbio = BIO_new_socket(fd, BIO_NOCLOSE);
        if (!rbio)
                return -ENOMEM;
        wbio = BIO_new(tls_wbio_method);
        if (!wbio) {
                BIO_free(rbio);
                return -ENOMEM;
        }
        BIO_set_data(wbio, wb);
        SSL_set_bio(ssl, rbio, wbio);   /* takes both */
        return 0;
}

int tls_write_buffer_send(TlsWriteBuffer *wb, int fd, size_t *ret_sent) {
        size_t sent = 0;
        int r = 0;

        while (wb->end > wb->start) {
                ssize_t k;

                /* MSG_NOSIGNAL: a peer that reset the connection is an error here, not a signal. */
                k = send(fd, wb->data + wb->start, wb->end - wb->start, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = errno == EWOULDBLOCK ? -EAGAIN : -errno;
                        break;
                }
                wb->start += (size_t) k;
                sent += (size_t) k;
        }
        if (wb->start == wb->end)
                wb->start = wb->end = 0;
        if (ret_sent)
                *ret_sent = sent;
        return r;
}

void tls_write_buffer_release(TlsWriteBuffer *wb) {
        if (wb->start != wb->end)
                return;
        wb->data = mfree(wb->data);
        wb->allocated = wb->start = wb->end = 0;
}

void tls_write_buffer_done(TlsWriteBuffer *wb) {
        wb->data = mfree(wb->data);
        wb->allocated = wb->start = wb->end = 0;
}

int tls_get_principal(SSL *ssl, TlsPrincipal *ret) {
        X509 *cert;

        /* Borrowed; verified during this handshake (no resumption), so the rule has already passed. */
        cert = SSL_get0_peer_certificate(ssl);
        if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
                return -EPERM;
        return tls_check_client_cert(cert, ret, NULL);
}

const char *tls_get_refusal_reason(SSL *ssl) {
        const char *reason = NULL;
        long v;

        if (tls_reason_index >= 0)
                reason = SSL_get_ex_data(ssl, tls_reason_index);
        if (reason)
                return reason;
        v = SSL_get_verify_result(ssl);
        if (v != X509_V_OK)
                return X509_verify_cert_error_string(v);
        return NULL;
}
