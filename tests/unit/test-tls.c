/* SPDX-License-Identifier: MIT */
/* test-tls.c - client certificate -> principal rule on generated certificates, and real TLS handshakes
 * against the gateway's server on 127.0.0.1: what must be refused is refused, the rest gets its principal.
 * Revocation: CRLs made by certs/teleworker-certs.sh --revoke and with OpenSSL's API, loaded and reloaded. */
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "shared/log.h"
#include "test-http-harness.h"
#include "transport/tls.h"

#define IN_SET_SSL(e) ((e) == SSL_ERROR_WANT_READ || (e) == SSL_ERROR_WANT_WRITE)

static X509 *read_cert_file(const char *path) {
        FILE *f = fopen(path, "re");
        X509 *x;

        g_assert_nonnull(f);
        x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        g_assert_nonnull(x);
        return x;
}

static X509 *load_cert(const char *name) {
        g_autofree char *path = test_cert_path(name);

        return read_cert_file(path);
}

static int check(const char *name, TlsPrincipal *p, const char **reason) {
        X509 *x = load_cert(name);
        int r;

        *reason = NULL;
        r = tls_check_client_cert(x, p, reason);
        X509_free(x);
        return r;
}

static void test_principal_rule(void) {
        TlsPrincipal p;
        const char *reason;

        g_assert_cmpint(check("alice.crt", &p, &reason), ==, 0);
        g_assert_cmpstr(p.name, ==, "alice");
        g_assert_false(p.admin);

        g_assert_cmpint(check("admin1.crt", &p, &reason), ==, 0);
        g_assert_cmpstr(p.name, ==, "admin1");
        g_assert_true(p.admin);

        /* OU=ops + OU=admin: any OU equal to "admin" counts. */
        g_assert_cmpint(check("test/admin.crt", &p, &reason), ==, 0);
        g_assert_cmpstr(p.name, ==, "root-admin");
        g_assert_true(p.admin);

        /* OU=admins is not OU=admin. */
        g_assert_cmpint(check("test/notadmin.crt", &p, &reason), ==, 0);
        g_assert_cmpstr(p.name, ==, "bob");
        g_assert_false(p.admin);

        g_assert_cmpint(check("test/nocn.crt", &p, &reason), ==, -EBADMSG);
        g_assert_cmpstr(reason, ==, "the certificate subject has no CN");
        g_assert_cmpint(check("test/twocn.crt", &p, &reason), ==, -EBADMSG);
        g_assert_cmpstr(reason, ==, "the certificate subject has more than one CN");
        g_assert_cmpint(check("test/badcn.crt", &p, &reason), ==, -EBADMSG);
        g_assert_cmpstr(reason, ==, "the certificate CN is not a valid principal name");
        g_assert_cmpint(check("test/serverauth.crt", &p, &reason), ==, -EBADMSG);
        g_assert_nonnull(reason);
        /* basicConstraints CA:TRUE, clientAuth, signed by our CA: a CA is not a client. */
        g_assert_cmpint(check("test/caleaf.crt", &p, &reason), ==, -EBADMSG);
        g_assert_cmpstr(reason, ==, "the certificate is a CA certificate (basicConstraints CA:TRUE), not a client leaf");
        g_assert_cmpint(check("test/noeku.crt", &p, &reason), ==, -EBADMSG);
        g_assert_cmpstr(reason, ==, "the certificate lacks extendedKeyUsage clientAuth");
        /* The server certificate is serverAuth only. */
        g_assert_cmpint(check("server.crt", &p, &reason), ==, -EBADMSG);
        g_assert_cmpint(tls_check_client_cert(NULL, &p, &reason), ==, -EBADMSG);
}

static void test_subject_edge_cases(void) {
        X509_NAME *n = X509_NAME_new();
        TlsPrincipal p;
        const char *reason = NULL;
        static const unsigned char nul_cn[] = { 'a', 0, 'b' };

        /* A CN with an embedded NUL must not turn into "a". */
        g_assert_cmpint(X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_ASC, (unsigned char *) nul_cn,
                                                   sizeof(nul_cn), -1, 0), ==, 1);
        g_assert_cmpint(tls_principal_from_subject(n, &p, &reason), ==, -EBADMSG);
        X509_NAME_free(n);

        /* UTF-8 outside the allowed set. */
        n = X509_NAME_new();
        g_assert_cmpint(X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
                                                   (unsigned char *) "al\xc3\xaf" "ce", -1, -1, 0), ==, 1);
        g_assert_cmpint(tls_principal_from_subject(n, &p, &reason), ==, -EBADMSG);
        X509_NAME_free(n);

        /* 65 bytes is one too many; 64 is fine. */
        n = X509_NAME_new();
        g_assert_cmpint(X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_ASC, (unsigned char *)
                                                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                                   -1, -1, 0), ==, 1);
        g_assert_cmpint(tls_principal_from_subject(n, &p, &reason), ==, 0);
        g_assert_cmpuint(strlen(p.name), ==, 64);
        X509_NAME_free(n);
        n = X509_NAME_new();
        /* OpenSSL's own string table stops at 64 for MBSTRING input; a plain type bypasses it, like a
         * crafted certificate would. */
        g_assert_cmpint(X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_UTF8STRING, (unsigned char *)
                                                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                                   -1, -1, 0), ==, 1);
        g_assert_cmpint(tls_principal_from_subject(n, &p, &reason), ==, -EBADMSG);
        X509_NAME_free(n);

        /* Multi-valued RDN "CN=eve+OU=admin". */
        n = X509_NAME_new();
        g_assert_cmpint(X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_ASC, (unsigned char *) "eve", -1,
                                                   -1, 0), ==, 1);
        g_assert_cmpint(X509_NAME_add_entry_by_NID(n, NID_organizationalUnitName, MBSTRING_ASC,
                                                   (unsigned char *) "admin", -1, -1, 1), ==, 1);
        g_assert_cmpint(tls_principal_from_subject(n, &p, &reason), ==, 0);
        g_assert_cmpstr(p.name, ==, "eve");
        g_assert_true(p.admin);
        X509_NAME_free(n);

        /* "admin" with a NUL tail is not "admin". */
        n = X509_NAME_new();
        g_assert_cmpint(X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_ASC, (unsigned char *) "eve", -1,
                                                   -1, 0), ==, 1);
        g_assert_cmpint(X509_NAME_add_entry_by_NID(n, NID_organizationalUnitName, MBSTRING_ASC,
                                                   (unsigned char *) "admin\0x", 7, -1, 0), ==, 1);
        g_assert_cmpint(tls_principal_from_subject(n, &p, &reason), ==, 0);
        g_assert_false(p.admin);
        X509_NAME_free(n);
}

static void test_ctx_errors(void) {
        g_autofree char *crt = test_cert_path("server.crt"), *key = test_cert_path("alice.key"),
                        *ca = test_cert_path("ca.crt");
        SSL_CTX *ctx = NULL;
        char err[1024];

        /* A key that does not belong to the certificate. */
        g_assert_cmpint(tls_server_ctx_new(crt, key, ca, &ctx, err, sizeof(err)), ==, -EINVAL);
        g_test_message("%s", err);
        g_assert_nonnull(strstr(err, "alice.key"));
        g_assert_cmpint(tls_server_ctx_new("/nonexistent.crt", key, ca, &ctx, err, sizeof(err)), ==, -EINVAL);
        g_assert_nonnull(strstr(err, "/nonexistent.crt"));
        g_assert_null(ctx);
}

static TestServer server;

/* Connects with a client certificate and asks for a job: the mock echoes the principal as the owner.
 * *ret_error (may be NULL): the client's first OpenSSL error, if it failed. */
static int handshake_and_request_err(const char *cert, const char *key, int max_version, TestResponse *resp,
                                     unsigned long *ret_error) {
        g_autofree char *c = cert ? test_cert_path(cert) : NULL, *k = key ? test_cert_path(key) : NULL;
        TestClient client;
        int r;

        r = test_client_connect(&client, server.port, c, k, max_version);
        if (r >= 0)
                /* TLS 1.3: the client finishes its side before the server judged its certificate; a refusal
                 * shows up as an alert on the first read. */
                r = test_client_request(&client, "GET /v1/jobs/" MOCK_JOB_ID " HTTP/1.1\r\nHost: localhost\r\n\r\n",
                                        resp);
        else
                *resp = (TestResponse) {};
        if (ret_error)
                *ret_error = client.ssl_error;
        test_client_close(&client);
        return r;
}

static int handshake_and_request(const char *cert, const char *key, int max_version, TestResponse *resp) {
        return handshake_and_request_err(cert, key, max_version, resp, NULL);
}

static void expect_refused(const char *cert, const char *key, int max_version) {
        TestResponse resp;
        unsigned long e = 0;
        int r;

        g_test_message("expect refusal: %s (max version %x)", cert ?: "(no certificate)", max_version);
        r = handshake_and_request_err(cert, key, max_version, &resp, &e);
        g_assert_cmpint(r, <, 0);
        g_assert_cmpuint(resp.status, ==, 0);
        test_response_done(&resp);
        /* The refusal is a TLS alert from the gateway (sent from its write buffer before it closes), not a
         * bare end of the connection. */
        g_test_message("client error: %s", ERR_reason_error_string(e) ?: "(none)");
        g_assert_cmpint(ERR_GET_LIB(e), ==, ERR_LIB_SSL);
        g_assert_cmpint(ERR_GET_REASON(e), >=, SSL_AD_REASON_OFFSET);
}

static void test_handshakes(void) {
        TestResponse resp;
        MockRecord rec;

        /* Good certificates: accepted, with the principal from the CN and admin from OU. */
        g_assert_cmpint(handshake_and_request("alice.crt", "alice.key", 0, &resp), ==, 0);
        g_assert_cmpuint(resp.status, ==, 200);
        g_assert_nonnull(strstr(resp.body->str, "\"owner\":\"alice\""));
        test_response_done(&resp);
        test_server_record(&server, &rec);
        g_assert_cmpstr(rec.method, ==, "GetJobAs");
        g_assert_cmpstr(rec.principal, ==, "alice");
        g_assert_false(rec.admin);
        mock_record_done(&rec);

        g_assert_cmpint(handshake_and_request("admin1.crt", "admin1.key", 0, &resp), ==, 0);
        g_assert_cmpuint(resp.status, ==, 200);
        test_response_done(&resp);
        test_server_record(&server, &rec);
        g_assert_cmpstr(rec.principal, ==, "admin1");
        g_assert_true(rec.admin);
        mock_record_done(&rec);

        g_assert_cmpint(handshake_and_request("test/good.crt", "test/client.key", 0, &resp), ==, 0);
        g_assert_cmpuint(resp.status, ==, 200);
        test_response_done(&resp);

        /* TLS 1.2 only: refused during the handshake. */
        expect_refused("alice.crt", "alice.key", TLS1_2_VERSION);
        /* No client certificate. */
        expect_refused(NULL, NULL, 0);
        /* Chain problems OpenSSL finds. */
        expect_refused("test/expired.crt", "test/client.key", 0);
        expect_refused("test/notyet.crt", "test/client.key", 0);
        expect_refused("test/wrongca.crt", "test/client.key", 0);
        expect_refused("test/selfsigned.crt", "test/client.key", 0);
        /* Our rule. */
        expect_refused("test/serverauth.crt", "test/client.key", 0);
        expect_refused("test/noeku.crt", "test/client.key", 0);
        expect_refused("test/nocn.crt", "test/client.key", 0);
        expect_refused("test/twocn.crt", "test/client.key", 0);
        expect_refused("test/badcn.crt", "test/client.key", 0);
        expect_refused("test/caleaf.crt", "test/client.key", 0);

        /* Still serving after all that. */
        g_assert_cmpint(handshake_and_request("alice.crt", "alice.key", 0, &resp), ==, 0);
        g_assert_cmpuint(resp.status, ==, 200);
        test_response_done(&resp);
}

static void test_tls13_negotiated(void) {
        g_autofree char *c = test_cert_path("alice.crt"), *k = test_cert_path("alice.key");
        TestClient client;

        g_assert_cmpint(test_client_connect(&client, server.port, c, k, 0), ==, 1);
        g_assert_cmpint(SSL_version(client.ssl), ==, TLS1_3_VERSION);
        test_client_close(&client);
}

/* The buffered write BIO of the gateway's connections: a server SSL writing through a tiny TlsWriteBuffer
 * (smaller than one record, so records are taken in pieces and SSL_write reports WANT_WRITE over and over),
 * sent to a socketpair by hand; the client reads every byte, in order. */
static void test_write_buffer(void) {
        g_autofree char *crt = test_cert_path("server.crt"), *key = test_cert_path("server.key"),
                        *ca = test_cert_path("ca.crt"), *ccrt = test_cert_path("alice.crt"),
                        *ckey = test_cert_path("alice.key");
        const size_t total = 3 * 1024 * 1024 + 17;
        g_autofree unsigned char *data = g_malloc(total), *got = g_malloc(total);
        SSL_CTX *sctx = NULL, *cctx = NULL;
        SSL *ss, *cs;
        TlsWriteBuffer wb = {};
        size_t written = 0, received = 0, max_pending = 0;
        bool server_done = false, client_done = false;
        char err[1024];
        int sp[2];

        for (size_t i = 0; i < total; i++)
                data[i] = (unsigned char) (i * 131 + i / 7);
        g_assert_cmpint(tls_server_ctx_new(crt, key, ca, &sctx, err, sizeof(err)), ==, 0);
        g_assert_cmpint(tls_client_ctx_new(ccrt, ckey, ca, &cctx, err, sizeof(err)), ==, 0);
        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp), ==, 0);
        ss = SSL_new(sctx);
        cs = SSL_new(cctx);
        g_assert_cmpint(tls_set_fd_buffered(ss, sp[0], &wb, 5000), ==, 0);
        SSL_set_accept_state(ss);
        g_assert_cmpint(SSL_set_fd(cs, sp[1]), ==, 1);
        g_assert_cmpint(tls_client_set_host(cs, "localhost"), ==, 0);
        SSL_set_connect_state(cs);

        /* Handshake and transfer in one loop: both sides non-blocking, the server's records sent by hand. */
        for (unsigned rounds = 0; !client_done; rounds++) {
                size_t n = 0;
                int k;

                g_assert_cmpuint(rounds, <, 1000000);
                if (!server_done) {
                        ERR_clear_error();
                        if (!SSL_is_init_finished(ss))
                                k = SSL_accept(ss);
                        else if (written < total) {
                                k = SSL_write_ex(ss, data + written, total - written, &n);
                                written += n;
                        } else {
                                (void) SSL_shutdown(ss);   /* close_notify; 0: the peer's is not in yet */
                                server_done = true;
                                k = 1;
                        }
                        if (k <= 0)
                                g_assert_true(SSL_get_error(ss, k) == SSL_ERROR_WANT_READ ||
                                              SSL_get_error(ss, k) == SSL_ERROR_WANT_WRITE);
                }
                max_pending = MAX(max_pending, tls_write_buffer_pending(&wb));
                g_assert_cmpuint(tls_write_buffer_pending(&wb), <=, 5000);
                k = tls_write_buffer_send(&wb, sp[0], NULL);
                g_assert_true(k == 0 || k == -EAGAIN);

                ERR_clear_error();
                if (!SSL_is_init_finished(cs))
                        k = SSL_connect(cs);
                else {
                        k = SSL_read_ex(cs, got + received, total - received, &n);
                        received += n;
                }
                if (k <= 0) {
                        int e = SSL_get_error(cs, k);

                        if (e == SSL_ERROR_ZERO_RETURN)
                                client_done = true;
                        else
                                g_assert_true(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
                }
        }
        g_assert_cmpuint(max_pending, ==, 5000);
        g_assert_cmpuint(received, ==, total);
        g_assert_cmpmem(got, total, data, total);

        SSL_free(cs);
        SSL_free(ss);
        tls_write_buffer_release(&wb);
        g_assert_null(wb.data);
        tls_write_buffer_done(&wb);
        close(sp[0]);
        close(sp[1]);
        SSL_CTX_free(cctx);
        SSL_CTX_free(sctx);
}

/* ---- revocation ----------------------------------------------------------------------------------------- */

/* One TLS handshake in memory between a client of NAME.crt/.key and a server of sctx. 0 when the server
 * accepted, -EPERM with *ret_reason (the server's refusal reason) when it refused. */
static int handshake_pair(SSL_CTX *sctx, const char *name, const char **ret_reason) {
        g_autofree char *crt = g_strdup_printf("%s/%s.crt", test_certs_dir(), name);
        g_autofree char *key = g_strdup_printf("%s/%s.key", test_certs_dir(), name);
        g_autofree char *ca = test_cert_path("ca.crt");
        SSL_CTX *cctx = NULL;
        BIO *sb = NULL, *cb = NULL;
        SSL *s, *c;
        char err[1024];
        int r = -EIO;

        *ret_reason = NULL;
        g_assert_cmpint(tls_client_ctx_new(crt, key, ca, &cctx, err, sizeof(err)), ==, 0);
        s = SSL_new(sctx);
        c = SSL_new(cctx);
        g_assert_true(s && c);
        g_assert_cmpint(BIO_new_bio_pair(&sb, 0, &cb, 0), ==, 1);
        SSL_set_bio(s, sb, sb);
        SSL_set_bio(c, cb, cb);
        SSL_set_accept_state(s);
        SSL_set_connect_state(c);
        g_assert_cmpint(tls_client_set_host(c, "localhost"), ==, 0);
        for (unsigned i = 0; i < 64; i++) {
                int kc, ks;

                ERR_clear_error();
                kc = SSL_do_handshake(c);
                if (kc != 1 && !IN_SET_SSL(SSL_get_error(c, kc)))
                        break;
                ERR_clear_error();
                ks = SSL_do_handshake(s);
                if (ks == 1) {
                        r = 0;
                        break;
                }
                if (!IN_SET_SSL(SSL_get_error(s, ks))) {
                        *ret_reason = tls_get_refusal_reason(s);
                        r = -EPERM;
                        break;
                }
        }
        ERR_clear_error();
        SSL_free(c);
        SSL_free(s);
        SSL_CTX_free(cctx);
        return r;
}

static SSL_CTX *server_ctx(void) {
        g_autofree char *crt = test_cert_path("server.crt"), *key = test_cert_path("server.key"),
                        *ca = test_cert_path("ca.crt");
        SSL_CTX *ctx = NULL;
        char err[1024];

        g_assert_cmpint(tls_server_ctx_new(crt, key, ca, &ctx, err, sizeof(err)), ==, 0);
        return ctx;
}

static void expect_accepted(SSL_CTX *ctx, const char *name) {
        const char *reason;

        g_test_message("expect accepted: %s", name);
        g_assert_cmpint(handshake_pair(ctx, name, &reason), ==, 0);
}

static void expect_revoked(SSL_CTX *ctx, const char *name) {
        const char *reason;

        g_test_message("expect revoked: %s", name);
        g_assert_cmpint(handshake_pair(ctx, name, &reason), ==, -EPERM);
        g_assert_cmpstr(reason, ==, "certificate revoked");
}

static EVP_PKEY *read_key_file(const char *path) {
        FILE *f = fopen(path, "re");
        EVP_PKEY *k;

        g_assert_nonnull(f);
        k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        g_assert_nonnull(k);
        return k;
}

/* A CRL made with OpenSSL's API: issued by ca_crt's subject, signed with ca_key, revoking revoked_crt
 * (may be NULL), valid from now + last_days to now + next_days. */
static void write_crl(const char *path, const char *ca_crt, const char *ca_key, const char *revoked_crt,
                      long last_days, long next_days) {
        X509 *ca = read_cert_file(ca_crt);
        EVP_PKEY *key = read_key_file(ca_key);
        X509_CRL *crl = X509_CRL_new();
        ASN1_TIME *last = ASN1_TIME_adj(NULL, time(NULL), (int) last_days, -60);
        ASN1_TIME *next = ASN1_TIME_adj(NULL, time(NULL), (int) next_days, 0);
        FILE *f;

        g_assert_cmpint(X509_CRL_set_version(crl, 1), ==, 1);
        g_assert_cmpint(X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)), ==, 1);
        g_assert_cmpint(X509_CRL_set1_lastUpdate(crl, last), ==, 1);
        g_assert_cmpint(X509_CRL_set1_nextUpdate(crl, next), ==, 1);
        if (revoked_crt) {
                X509 *x = read_cert_file(revoked_crt);
                X509_REVOKED *rev = X509_REVOKED_new();

                g_assert_cmpint(X509_REVOKED_set_serialNumber(rev, X509_get_serialNumber(x)), ==, 1);
                g_assert_cmpint(X509_REVOKED_set_revocationDate(rev, last), ==, 1);
                g_assert_cmpint(X509_CRL_add0_revoked(crl, rev), ==, 1);
                X509_free(x);
        }
        g_assert_cmpint(X509_CRL_sort(crl), ==, 1);
        g_assert_cmpint(X509_CRL_sign(crl, key, EVP_sha256()), >, 0);
        f = fopen(path, "we");
        g_assert_nonnull(f);
        g_assert_cmpint(PEM_write_X509_CRL(f, crl), ==, 1);
        g_assert_cmpint(fclose(f), ==, 0);
        ASN1_TIME_free(last);
        ASN1_TIME_free(next);
        X509_CRL_free(crl);
        EVP_PKEY_free(key);
        X509_free(ca);
}

static void test_crl(void) {
        g_autofree char *ca = test_cert_path("ca.crt"), *crl = test_cert_path("crl.pem"), *err_text = NULL;
        SSL_CTX *ctx = server_ctx();
        TlsCrlState state = {};
        char err[1024];

        /* Three users; the tool revokes one and writes crl.pem. */
        g_assert_cmpint(test_certs_tool(NULL, "--user", "crlgood", "--user", "crlbad", "--user", "crllater", NULL), ==, 0);
        test_certs_keep_copy("crlbad");
        test_certs_keep_copy("crllater");
        /* Without a CRL everybody gets in. */
        expect_accepted(ctx, "crlbad-kept");
        g_assert_cmpint(test_certs_tool(&err_text, "--revoke", "crlbad", NULL), ==, 0);
        g_test_message("%s", err_text);
        {
                g_autofree char *moved = test_cert_path("crlbad.crt");

                g_assert_false(g_file_test(moved, G_FILE_TEST_EXISTS));
        }

        g_assert_cmpint(tls_crl_refresh(ctx, ca, crl, false, &state, err, sizeof(err)), ==, 1);
        g_assert_true(state.loaded);
        g_assert_cmpuint(state.n_crls, ==, 1);
        g_assert_cmpuint(state.n_revoked, ==, 1);
        g_assert_false(state.expired);
        expect_revoked(ctx, "crlbad-kept");
        expect_accepted(ctx, "crlgood");
        expect_accepted(ctx, "crllater-kept");
        /* Unchanged file: not read again. */
        g_assert_cmpint(tls_crl_refresh(ctx, ca, crl, false, &state, err, sizeof(err)), ==, 0);

        /* Reload: a second revocation applies to the next handshake, the first still does. */
        g_assert_cmpint(test_certs_tool(NULL, "--revoke", "crllater", NULL), ==, 0);
        g_assert_cmpint(tls_crl_refresh(ctx, ca, crl, false, &state, err, sizeof(err)), ==, 1);
        g_assert_cmpuint(state.n_revoked, ==, 2);
        expect_revoked(ctx, "crllater-kept");
        expect_revoked(ctx, "crlbad-kept");
        expect_accepted(ctx, "crlgood");

        SSL_CTX_free(ctx);
}

static void test_crl_bad_files(void) {
        g_autofree char *ca = test_cert_path("ca.crt"), *cakey = test_cert_path("ca.key");
        g_autofree char *path = test_cert_path("test-crl.pem"), *good = g_strdup_printf("%s/crlgood.crt", test_certs_dir());
        g_autofree char *other = test_cert_path("test/otherca.crt"), *otherkey = test_cert_path("test/otherca.key");
        g_autofree char *revoked = test_cert_path("crlbad-kept.crt"), *server_crt = test_cert_path("server.crt");
        SSL_CTX *ctx = server_ctx();
        TlsCrlState state = {};
        char err[1024];

        /* test_crl() made the users. */
        g_assert_true(g_file_test(revoked, G_FILE_TEST_EXISTS));

        /* Missing, empty, not a CRL, garbage: nothing loaded, each with a reason. */
        (void) unlink(path);
        g_assert_cmpint(tls_crl_refresh(ctx, ca, path, true, &state, err, sizeof(err)), ==, -ENOENT);
        g_assert_true(g_file_set_contents(path, "", 0, NULL));
        g_assert_cmpint(tls_crl_refresh(ctx, ca, path, true, &state, err, sizeof(err)), ==, -EBADMSG);
        g_test_message("%s", err);
        g_assert_nonnull(strstr(err, "no CRL"));
        {
                g_autofree char *data = NULL;

                g_assert_true(g_file_get_contents(server_crt, &data, NULL, NULL));
                g_assert_true(g_file_set_contents(path, data, -1, NULL));
        }
        g_assert_cmpint(tls_crl_refresh(ctx, ca, path, true, &state, err, sizeof(err)), ==, -EBADMSG);
        g_test_message("%s", err);
        g_assert_true(g_file_set_contents(path, "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", -1, NULL));
        g_assert_cmpint(tls_crl_refresh(ctx, ca, path, true, &state, err, sizeof(err)), <, 0);
        g_test_message("%s", err);
        g_assert_false(state.loaded);
        expect_accepted(ctx, "crlbad-kept");
        /* More than TLS_CRL_MAX CRLs. */
        {
                g_autofree char *one = NULL;
                g_autoptr(GString) many = g_string_new("");
                STACK_OF(X509_CRL) *crls = NULL;

                write_crl(path, ca, cakey, NULL, 0, 30);
                g_assert_true(g_file_get_contents(path, &one, NULL, NULL));
                g_assert_cmpint(tls_crl_parse_buffer(one, strlen(one), &crls, err, sizeof(err)), ==, 0);
                g_assert_cmpint(sk_X509_CRL_num(crls), ==, 1);
                sk_X509_CRL_pop_free(crls, X509_CRL_free);
                for (unsigned i = 0; i <= TLS_CRL_MAX; i++)
                        g_string_append(many, one);
                g_assert_cmpint(tls_crl_parse_buffer(many->str, many->len, &crls, err, sizeof(err)), ==, -E2BIG);
                g_test_message("%s", err);
                g_assert_cmpint(tls_crl_parse_buffer(many->str, 0, &crls, err, sizeof(err)), ==, -EBADMSG);
        }

        /* Signed by another CA with the same name as ours: refused. */
        write_crl(path, other, otherkey, revoked, 0, 30);
        g_assert_cmpint(tls_crl_refresh(ctx, ca, path, true, &state, err, sizeof(err)), ==, -EBADMSG);
        g_test_message("%s", err);
        g_assert_nonnull(strstr(err, "not signed by a CA"));
        /* Not valid yet: refused (OpenSSL would refuse every client with it). */
        write_crl(path, ca, cakey, revoked, 2, 30);
        g_assert_cmpint(tls_crl_refresh(ctx, ca, path, true, &state, err, sizeof(err)), ==, -EBADMSG);
        g_assert_nonnull(strstr(err, "not valid yet"));
        g_assert_false(state.loaded);

        /* Past its nextUpdate: loaded, flagged, and its revocations still apply; others get in. */
        write_crl(path, ca, cakey, revoked, -30, -1);
        g_assert_cmpint(tls_crl_refresh(ctx, ca, path, true, &state, err, sizeof(err)), ==, 1);
        g_assert_true(state.expired);
        expect_revoked(ctx, "crlbad-kept");
        expect_accepted(ctx, "crlgood");

        /* A bad file on reload keeps the CRL in force. */
        g_assert_true(g_file_set_contents(path, "garbage\n", -1, NULL));
        g_assert_cmpint(tls_crl_refresh(ctx, ca, path, false, &state, err, sizeof(err)), <, 0);
        g_assert_true(state.loaded);
        expect_revoked(ctx, "crlbad-kept");
        /* ... and is not read again until it changes. */
        g_assert_cmpint(tls_crl_refresh(ctx, ca, path, false, &state, err, sizeof(err)), ==, 0);
        (void) unlink(path);
        (void) good;
        SSL_CTX_free(ctx);
}

static void test_certs_tool_system_names(void) {
        g_autofree char *err_text = NULL, *root_crt = test_cert_path("root.crt");
        struct passwd *pw = getpwuid(1);

        /* root always; any account with uid < 1000 of this host's user database. */
        g_assert_cmpint(test_certs_tool(&err_text, "--user", "root", NULL), !=, 0);
        g_test_message("%s", err_text);
        g_assert_nonnull(strstr(err_text, "system account"));
        g_assert_nonnull(strstr(err_text, "--allow-system-name"));
        g_assert_false(g_file_test(root_crt, G_FILE_TEST_EXISTS));
        if (pw) {
                g_autofree char *crt = g_strdup_printf("%s/%s.crt", test_certs_dir(), pw->pw_name);

                g_clear_pointer(&err_text, g_free);
                g_assert_cmpint(test_certs_tool(&err_text, "--user", "alice", "--user", pw->pw_name, NULL), !=, 0);
                g_assert_nonnull(strstr(err_text, "system account"));
                g_assert_false(g_file_test(crt, G_FILE_TEST_EXISTS));
        }
        /* The explicit override issues it. */
        g_assert_cmpint(test_certs_tool(NULL, "--user", "root", "--allow-system-name", NULL), ==, 0);
        g_assert_true(g_file_test(root_crt, G_FILE_TEST_EXISTS));
        (void) unlink(root_crt);
}

int main(int argc, char *argv[]) {
        int r;

        g_test_init(&argc, &argv, NULL);
        signal(SIGPIPE, SIG_IGN);
        log_set_max_level(g_test_verbose() ? 7 : 4);

        g_test_add_func("/tls/principal-rule", test_principal_rule);
        g_test_add_func("/tls/subject-edge-cases", test_subject_edge_cases);
        g_test_add_func("/tls/context-errors", test_ctx_errors);
        g_test_add_func("/tls/handshakes", test_handshakes);
        g_test_add_func("/tls/tls13", test_tls13_negotiated);
        g_test_add_func("/tls/write-buffer", test_write_buffer);
        g_test_add_func("/tls/crl", test_crl);
        g_test_add_func("/tls/crl-bad-files", test_crl_bad_files);
        g_test_add_func("/tls/certs-tool-system-names", test_certs_tool_system_names);

        test_server_start(&server, NULL);
        r = g_test_run();
        test_server_stop(&server);
        test_certs_cleanup();
        return r;
}
