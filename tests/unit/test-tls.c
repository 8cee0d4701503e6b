/* SPDX-License-Identifier: MIT */
/* test-tls.c - client certificate -> principal rule on generated certificates, and real TLS handshakes
 * against the gateway's server on 127.0.0.1: what must be refused is refused, the rest gets its principal. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <openssl/pem.h>

#include "test-http-harness.h"
#include "tls.h"

static X509 *load_cert(const char *name) {
        g_autofree char *path = test_cert_path(name);
        FILE *f = fopen(path, "re");
        X509 *x;

        g_assert_nonnull(f);
        x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        g_assert_nonnull(x);
        return x;
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

/* Connects with a client certificate and asks for a job: the mock echoes the principal as the owner. */
static int handshake_and_request(const char *cert, const char *key, int max_version, TestResponse *resp) {
        g_autofree char *c = cert ? test_cert_path(cert) : NULL, *k = key ? test_cert_path(key) : NULL;
        TestClient client;
        int r;

        r = test_client_connect(&client, server.port, c, k, max_version);
        if (r < 0) {
                test_client_close(&client);
                *resp = (TestResponse) {};
                return r;
        }
        /* TLS 1.3: the client finishes its side before the server judged its certificate; a refusal shows
         * up as an alert on the first read. */
        r = test_client_request(&client, "GET /v1/jobs/" MOCK_JOB_ID " HTTP/1.1\r\nHost: localhost\r\n\r\n",
                                resp);
        test_client_close(&client);
        return r;
}

static void expect_refused(const char *cert, const char *key, int max_version) {
        TestResponse resp;
        int r;

        g_test_message("expect refusal: %s (max version %x)", cert ?: "(no certificate)", max_version);
        r = handshake_and_request(cert, key, max_version, &resp);
        g_assert_cmpint(r, <, 0);
        g_assert_cmpuint(resp.status, ==, 0);
        test_response_done(&resp);
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

int main(int argc, char *argv[]) {
        int r;

        g_test_init(&argc, &argv, NULL);
        signal(SIGPIPE, SIG_IGN);
        gateway_log_max_level = g_test_verbose() ? 7 : 4;

        g_test_add_func("/tls/principal-rule", test_principal_rule);
        g_test_add_func("/tls/subject-edge-cases", test_subject_edge_cases);
        g_test_add_func("/tls/context-errors", test_ctx_errors);
        g_test_add_func("/tls/handshakes", test_handshakes);
        g_test_add_func("/tls/tls13", test_tls13_negotiated);

        test_server_start(&server, NULL);
        r = g_test_run();
        test_server_stop(&server);
        test_certs_cleanup();
        return r;
}
