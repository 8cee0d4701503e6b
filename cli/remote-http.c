/* SPDX-License-Identifier: MIT */
/* remote-http.c - telerun's HTTP requests to a teleworker-gateway, on libcurl (remote-http.h).
 *
 * TLS 1.3 only, our client certificate and key (an encrypted key's passphrase from $TELERUN_KEY_PASSPHRASE or
 * a prompt on the terminal), the gateway verified against --cacert alone and the host of --addr. Proxies come
 * from the environment as libcurl reads it (https_proxy/HTTPS_PROXY, all_proxy, no_proxy/NO_PROXY): a CONNECT
 * tunnel, TLS end to end. HTTP errors map onto ClientErrorKind by the API's one table (api.h: the JSON "error"
 * code, else the status); transport failures -> UNREACHABLE, a certificate the gateway refused ->
 * ACCESS_DENIED.
 *
 * Never twice a job start: libcurl resends a request whose reused connection turns out dead before any byte
 * of the answer came (7.88 does so for a POST too, rewinding its body). A start goes on a fresh connection
 * (CURLOPT_FRESH_CONNECT), where libcurl never retries; it is the first request of `run` and `start`, so
 * this costs no handshake, and the connection stays for the requests that follow (docs/design.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "remote-http.h"
#include "shared/api.h"
#include "shared/macro.h"
#include "shared/util.h"
#include "teleworker-build.h"

#define REMOTE_CONNECT_TIMEOUT_MS 15000L        /* TCP, a proxy's CONNECT and the TLS handshake */
#define REMOTE_BODY_MAX (64U * 1024U * 1024U)   /* a JSON body; a list of many jobs stays far below */
#define REMOTE_PASSPHRASE_MAX 1024

/* ---- the encrypted key's passphrase ---------------------------------------------------------------------- */

typedef struct KeyPassword {
        const char *passphrase;   /* NULL: none known */
        bool asked;
} KeyPassword;

static int remote_key_password_cb(char *buf, int size, int rwflag, void *userdata) {
        KeyPassword *kp = userdata;
        size_t n;

        (void) rwflag;
        kp->asked = true;
        if (!kp->passphrase || size <= 0)
                return -1;
        n = strlen(kp->passphrase);
        if (n > (size_t) size)
                return -1;
        memcpy(buf, kp->passphrase, n);
        return (int) n;
}

/* Loads the key with passphrase: 0 loaded, -EKEYREJECTED it is encrypted and passphrase is NULL or wrong. */
static int remote_key_try(const char *key, const char *passphrase, bool *ret_encrypted, char *err, size_t err_size) {
        KeyPassword kp = { .passphrase = passphrase };
        EVP_PKEY *pkey;
        FILE *f;

        f = fopen(key, "re");
        if (!f) {
                (void) snprintf(err, err_size, "Failed to open the key %s: %s", key, strerror(errno));
                return -errno;
        }
        ERR_clear_error();
        pkey = PEM_read_PrivateKey(f, NULL, remote_key_password_cb, &kp);
        fclose(f);
        ERR_clear_error();
        *ret_encrypted = kp.asked;
        if (pkey) {
                EVP_PKEY_free(pkey);
                return 0;
        }
        if (kp.asked)
                return -EKEYREJECTED;
        (void) snprintf(err, err_size, "Failed to read the key %s (PEM expected)", key);
        return -EINVAL;
}

/* Asks on the terminal, without echo. */
static char *remote_passphrase_prompt(const char *key) {
        _cleanup_(closep) int fd = -EBADF;
        struct termios old, quiet;
        char buf[REMOTE_PASSPHRASE_MAX + 2];
        char prompt[PATH_MAX + 32];
        size_t len = 0;

        if (!isatty(STDIN_FILENO))
                return NULL;
        fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || tcgetattr(fd, &old) < 0)
                return NULL;
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t) ECHO;
        quiet.c_lflag |= ECHONL;
        (void) snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", key);
        (void) write(fd, prompt, strlen(prompt));
        if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0)
                return NULL;
        while (len < sizeof(buf) - 1 && read(fd, buf + len, 1) == 1 && buf[len] != '\n')
                len++;
        (void) tcsetattr(fd, TCSAFLUSH, &old);
        buf[len] = 0;
        return strdup(buf);
}

/* The passphrase of an encrypted key (h->passphrase), checked here so that a wrong one is a clear error rather
 * than a failed handshake. */
static int remote_key_passphrase(RemoteHttp *h, ClientError *error) {
        const char *env = getenv("TELERUN_KEY_PASSPHRASE");
        char err[PATH_MAX + 64] = "";
        bool encrypted;
        int r;

        r = remote_key_try(h->key, NULL, &encrypted, err, sizeof(err));
        if (r == 0)
                return 0;
        if (r != -EKEYREJECTED)
                return client_error_set(error, r, CLIENT_ERROR_INVALID, "%s", err);
        h->passphrase = env ? strdup(env) : remote_passphrase_prompt(h->key);
        if (!h->passphrase)
                return client_error_set(error, -EKEYREJECTED, CLIENT_ERROR_INVALID,
                                        "The key %s is encrypted: set TELERUN_KEY_PASSPHRASE (or run telerun on a "
                                        "terminal to be asked)", h->key);
        r = remote_key_try(h->key, h->passphrase, &encrypted, err, sizeof(err));
        if (r == -EKEYREJECTED)
                return client_error_set(error, r, CLIENT_ERROR_INVALID, "Wrong passphrase for the key %s%s", h->key,
                                        env ? " (from TELERUN_KEY_PASSPHRASE)" : "");
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_INVALID, "%s", err);
        return 0;
}

/* ---- handles ------------------------------------------------------------------------------------------- */

static int remote_parse_addr(const char *addr, char **ret_base) {
        const char *colon = strrchr(addr, ':');

        if (!colon || colon == addr || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
                return -EINVAL;
        if (addr[0] == '[') {
                if (colon[-1] != ']' || colon - addr < 3)
                        return -EINVAL;
        } else if (memchr(addr, ':', (size_t) (colon - addr)))
                return -EINVAL;   /* an IPv6 address needs brackets */
        /* Characters that would change the URL's meaning. */
        if (strpbrk(addr, "/?#@ \\"))
                return -EINVAL;
        return asprintf(ret_base, "https://%s", addr) < 0 ? -ENOMEM : 0;
}

int remote_http_init(RemoteHttp *h, const ClientRemoteConfig *config, ClientError *error) {
        const char *files[] = { config->cert, config->key, config->cacert };
        int r;

        *h = (RemoteHttp) {};
        (void) pthread_mutex_init(&h->lock, NULL);
        /* Before any thread: libcurl's global state (OpenSSL's) is set up once. */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Failed to initialize libcurl");
        r = remote_parse_addr(config->addr, &h->base);
        if (r < 0)
                return client_error_set(error, r, r == -ENOMEM ? CLIENT_ERROR_OTHER : CLIENT_ERROR_INVALID,
                                        "Invalid gateway address '%s' (HOST:PORT or [IPv6]:PORT expected)",
                                        config->addr);
        /* libcurl would only find out at the first handshake. */
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (access(files[i], R_OK) < 0)
                        return client_error_set(error, -errno, CLIENT_ERROR_INVALID, "Failed to read %s: %m",
                                                files[i]);
        h->addr = strdup(config->addr);
        h->cert = strdup(config->cert);
        h->key = strdup(config->key);
        h->cacert = strdup(config->cacert);
        h->headers = curl_slist_append(NULL, "Accept: application/json");
        /* Never "Expect: 100-continue" (a round trip for nothing), nor libcurl's form content type. */
        h->headers = curl_slist_append(h->headers, "Expect:");
        h->headers = curl_slist_append(h->headers, "Content-Type:");
        h->headers_json = curl_slist_append(NULL, "Accept: application/json");
        h->headers_json = curl_slist_append(h->headers_json, "Expect:");
        h->headers_json = curl_slist_append(h->headers_json, "Content-Type: application/json");
        h->headers_upload = curl_slist_append(NULL, "Accept: application/json");
        h->headers_upload = curl_slist_append(h->headers_upload, "Expect:");
        h->headers_upload = curl_slist_append(h->headers_upload, "Content-Type: application/octet-stream");
        h->headers_upload = curl_slist_append(h->headers_upload, "Transfer-Encoding: chunked");
        if (!h->addr || !h->cert || !h->key || !h->cacert || !h->headers || !h->headers_json || !h->headers_upload)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
        return remote_key_passphrase(h, error);
}

void remote_handle_free(RemoteHandle *handle) {
        if (!handle)
                return;
        if (handle->easy)
                curl_easy_cleanup(handle->easy);
        if (handle->multi)
                curl_multi_cleanup(handle->multi);
        free(handle);
}

void remote_http_done(RemoteHttp *h) {
        remote_handle_free(h->idle);
        if (h->passphrase)
                explicit_bzero(h->passphrase, strlen(h->passphrase));
        free(h->passphrase);
        free(h->base);
        free(h->addr);
        free(h->cert);
        free(h->key);
        free(h->cacert);
        curl_slist_free_all(h->headers);
        curl_slist_free_all(h->headers_json);
        curl_slist_free_all(h->headers_upload);
        pthread_mutex_destroy(&h->lock);
}

static size_t remote_on_header(char *data, size_t size, size_t n, void *userdata) {
        RemoteResponse *r = userdata;
        size_t len = size * n;
        static const char offset[] = "x-teleworker-offset:";

        if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
                /* A new head (after a 1xx): its status line. */
                const char *sp = memchr(data, ' ', len);

                r->head_done = false;
                r->status = sp && (size_t) (sp - data) + 4 <= len ? strtol(sp + 1, NULL, 10) : 0;
        } else if ((len == 2 && data[0] == '\r') || (len == 1 && data[0] == '\n'))
                r->head_done = r->status >= 200;
        else if (len > strlen(offset) && strncasecmp(data, offset, strlen(offset)) == 0) {
                const char *v = data + strlen(offset);
                size_t vlen = len - strlen(offset);

                while (vlen > 0 && (*v == ' ' || *v == '\t'))
                        v++, vlen--;
                while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
                        vlen--;
                (void) snprintf(r->offset, sizeof(r->offset), "%.*s", (int) MIN(vlen, sizeof(r->offset) - 1), v);
        }
        return len;
}

/* A 200's body goes to the stream's socket pair (blocking: backpressure from the reader); any other (an error's
 * JSON) is buffered. */
static size_t remote_on_body(char *data, size_t size, size_t n, void *userdata) {
        RemoteResponse *r = userdata;
        size_t len = size * n, done = 0;
        char *b;

        if (r->stream_fd >= 0 && r->status == 200) {
                if (!r->streaming)
                        return CURL_WRITEFUNC_PAUSE;   /* the streaming thread takes it from here */
                while (done < len) {
                        ssize_t k = send(r->stream_fd, data + done, len - done, MSG_NOSIGNAL);

                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0) {
                                r->stream_error = -errno;   /* the reader went away */
                                return 0;
                        }
                        done += (size_t) k;
                }
                return len;
        }
        if (r->size + len > REMOTE_BODY_MAX) {
                r->too_big = true;
                return 0;
        }
        b = realloc(r->body, r->size + len + 1);
        if (!b)
                return 0;
        memcpy(b + r->size, data, len);
        r->size += len;
        b[r->size] = 0;
        r->body = b;
        return len;
}

static RemoteHandle *remote_handle_new(RemoteHttp *h) {
        RemoteHandle *handle = calloc(1, sizeof(RemoteHandle));
        CURL *e;
        bool ok;

        if (!handle)
                return NULL;
        handle->multi = curl_multi_init();
        handle->easy = e = curl_easy_init();
        if (!handle->multi || !e) {
                remote_handle_free(handle);
                return NULL;
        }
        ok = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_ERRORBUFFER, handle->errbuf) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https") == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_3) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSLCERT, h->cert) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSLKEY, h->key) == CURLE_OK &&
             (!h->passphrase || curl_easy_setopt(e, CURLOPT_KEYPASSWD, h->passphrase) == CURLE_OK) &&
             /* Our CA alone: not the system's store as well. */
             curl_easy_setopt(e, CURLOPT_CAINFO, h->cacert) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_CAPATH, NULL) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, REMOTE_CONNECT_TIMEOUT_MS) == CURLE_OK &&
             /* The proxy's own answer to CONNECT is not the gateway's head. */
             curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_USERAGENT, "telerun/" TELEWORKER_VERSION) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, remote_on_header) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, remote_on_body) == CURLE_OK;
        if (!ok) {
                remote_handle_free(handle);
                return NULL;
        }
        return handle;
}

RemoteHandle *remote_handle_take(RemoteHttp *h) {
        RemoteHandle *handle;

        pthread_mutex_lock(&h->lock);
        handle = TAKE_PTR(h->idle);
        pthread_mutex_unlock(&h->lock);
        return handle ?: remote_handle_new(h);
}

/* Keeps handle (and the connection in its cache) for the next request, unless one is kept already (a stop sent
 * while an output stream was running). */
void remote_handle_release(RemoteHttp *h, RemoteHandle *handle) {
        if (!handle)
                return;
        pthread_mutex_lock(&h->lock);
        if (!h->idle)
                h->idle = TAKE_PTR(handle);
        pthread_mutex_unlock(&h->lock);
        remote_handle_free(handle);
}

/* ---- transfers ----------------------------------------------------------------------------------------- */

void remote_response_init(RemoteResponse *r, int stream_fd) {
        *r = (RemoteResponse) { .stream_fd = stream_fd };
}

void remote_response_done(RemoteResponse *r) {
        r->body = mfree(r->body);
        r->size = 0;
}

/* The options every request sets (the easy handle keeps what the previous request set otherwise); the URL is
 * the remote's base and target (libcurl copies it). false: out of memory. */
static bool remote_transfer_setup(RemoteHttp *h, RemoteHandle *handle, const char *target, const char *method,
                                  struct curl_slist *headers, bool fresh, int timeout_ms, RemoteResponse *resp) {
        _cleanup_(freep) char *url = NULL;
        CURL *e = handle->easy;

        handle->errbuf[0] = 0;
        if (asprintf(&url, "%s%s", h->base, target) < 0)
                return false;
        return curl_easy_setopt(e, CURLOPT_URL, url) == CURLE_OK &&
               curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK &&
               curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, streq(method, "DELETE") ? "DELETE" : NULL) == CURLE_OK &&
               curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
               curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, fresh ? 1L : 0L) == CURLE_OK &&
               /* No byte for this long: the gateway is gone (wait and stop take as long as they take). */
               curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, timeout_ms < 0 ? 0L : 1L) == CURLE_OK &&
               curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, timeout_ms < 0 ? 0L : (long) timeout_ms / 1000) == CURLE_OK &&
               curl_easy_setopt(e, CURLOPT_HEADERDATA, resp) == CURLE_OK &&
               curl_easy_setopt(e, CURLOPT_WRITEDATA, resp) == CURLE_OK;
}

int remote_transfer_begin(RemoteHttp *h, RemoteHandle *handle, const char *method, const char *target,
                          const char *body, int timeout_ms, RemoteResponse *resp) {
        CURL *e = handle->easy;
        bool start = streq(method, "POST") && streq(target, "/v1/jobs"), ok;

        ok = remote_transfer_setup(h, handle, target, method, body ? h->headers_json : h->headers, start, timeout_ms,
                                   resp);
        if (ok && streq(method, "POST"))
                ok = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) (body ? strlen(body) : 0)) == CURLE_OK &&
                     curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body ?: "") == CURLE_OK;
        if (!ok)
                return -ENOMEM;
        return curl_multi_add_handle(handle->multi, e) == CURLM_OK ? 0 : -ENOMEM;
}

int remote_connect_only(RemoteHttp *h, const char *target, const char *what, RemoteHandle **ret,
                        curl_socket_t *ret_socket, ClientError *error) {
        RemoteResponse unused;
        RemoteHandle *handle;
        curl_socket_t s = CURL_SOCKET_BAD;
        CURLcode code;
        int r;

        remote_response_init(&unused, -EBADF);
        /* A handle of its own, never kept: its connection ends with the stream. */
        handle = remote_handle_new(h);
        if (!handle || !remote_transfer_setup(h, handle, target, "GET", h->headers, true, REMOTE_NO_TIMEOUT, &unused) ||
            curl_easy_setopt(handle->easy, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK) {
                remote_handle_free(handle);
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "%s: out of memory", what);
        }
        /* Blocks for the connection, the proxy's tunnel and the handshake: CURLOPT_CONNECTTIMEOUT_MS at most. */
        code = curl_easy_perform(handle->easy);
        if (code == CURLE_OK && (curl_easy_getinfo(handle->easy, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK ||
                                 s == CURL_SOCKET_BAD))
                code = CURLE_COULDNT_CONNECT;
        if (code != CURLE_OK) {
                r = remote_curl_error(h, handle, code, what, error);
                remote_handle_free(handle);
                return r;
        }
        *ret = handle;
        *ret_socket = s;
        return 0;
}

/* The upload's body: what read(2) of the fd gives, to its EOF (libcurl sends each piece as a chunk). */
static size_t remote_upload_read(char *buf, size_t size, size_t n, void *userdata) {
        int fd = *(int *) userdata;

        for (;;) {
                ssize_t k = read(fd, buf, size * n);
                if (k >= 0)
                        return (size_t) k;
                if (errno != EINTR)
                        return CURL_READFUNC_ABORT;
        }
}

int remote_transfer_drive(RemoteHandle *handle, const RemoteResponse *resp, int extra_fd, bool until_head,
                          CURLcode *ret_code) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + (uint64_t) REMOTE_REPLY_TIMEOUT_MS * 1000;

        for (;;) {
                struct curl_waitfd w = { .fd = extra_fd, .events = CURL_WAIT_POLLIN };
                int running = 0, queued;
                CURLMsg *msg;

                if (curl_multi_perform(handle->multi, &running) != CURLM_OK)
                        return -EIO;
                while ((msg = curl_multi_info_read(handle->multi, &queued)))
                        if (msg->msg == CURLMSG_DONE) {
                                *ret_code = msg->data.result;
                                return 1;
                        }
                if (until_head && resp->head_done && resp->status == 200)
                        return 0;
                /* A stream's head: as long as a quick request's answer (its body may then be silent for hours). */
                if (until_head && now_usec(CLOCK_MONOTONIC) > deadline)
                        return -ETIMEDOUT;
                if (curl_multi_poll(handle->multi, &w, extra_fd >= 0 ? 1 : 0, 1000, NULL) != CURLM_OK)
                        return -EIO;
                if (extra_fd >= 0 && w.revents)
                        return -EINTR;
        }
}

void remote_transfer_end(RemoteHandle *handle) {
        (void) curl_multi_remove_handle(handle->multi, handle->easy);
}

/* ---- errors -------------------------------------------------------------------------------------------- */

static const char *remote_proxy_from_env(void) {
        const char *names[] = { "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (getenv(names[i]) && *getenv(names[i]))
                        return getenv(names[i]);
        return NULL;
}

int remote_curl_error(RemoteHttp *h, RemoteHandle *handle, CURLcode code, const char *what, ClientError *error) {
        const char *detail = handle->errbuf[0] ? handle->errbuf : curl_easy_strerror(code);
        const char *proxy = remote_proxy_from_env();
        long proxy_status = 0;

        (void) curl_easy_getinfo(handle->easy, CURLINFO_HTTP_CONNECTCODE, &proxy_status);
        switch (code) {
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
                return client_error_set(error, -EINVAL, CLIENT_ERROR_INVALID, "%s: bad client certificate, key or CA "
                                        "file (%s)", what, detail);
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_PROXY:
                return client_error_set(error, -EHOSTUNREACH, CLIENT_ERROR_UNREACHABLE, "%s: the proxy %s failed: %s",
                                        what, proxy ?: "", detail);
        case CURLE_RECV_ERROR:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SEND_ERROR:
                /* The gateway's TLS alert: it refused our certificate (revoked, unknown, expired). */
                if (strstr(detail, "alert") && !strstr(detail, "protocol version"))
                        return client_error_set(error, -EACCES, CLIENT_ERROR_ACCESS_DENIED,
                                                "The gateway refused the client certificate (%s)", detail);
                break;
        default:
                break;
        }
        if (proxy_status >= 300)
                return client_error_set(error, -EHOSTUNREACH, CLIENT_ERROR_UNREACHABLE,
                                        "%s: the proxy %s refused the tunnel to %s (HTTP %ld)", what, proxy ?: "",
                                        h->addr, proxy_status);
        switch (code) {
        case CURLE_ABORTED_BY_CALLBACK:
                return client_error_set(error, -EINTR, CLIENT_ERROR_OTHER, "Interrupted");
        case CURLE_OUT_OF_MEMORY:
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "%s: out of memory", what);
        case CURLE_WRITE_ERROR:
                return client_error_set(error, -EFBIG, CLIENT_ERROR_OTHER, "%s: the gateway's answer is too large",
                                        what);
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_UNSUPPORTED_PROTOCOL:
                return client_error_set(error, -EHOSTUNREACH, CLIENT_ERROR_UNREACHABLE, "%s: %s%s%s%s", what, detail,
                                        proxy ? " (through the proxy " : "", proxy ?: "", proxy ? ")" : "");
        default:
                return client_error_set(error, -EIO, CLIENT_ERROR_OTHER, "%s: %s", what, detail);
        }
}

int remote_status_error(const RemoteResponse *r, const char *what, ClientError *error) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *message = NULL, *code = NULL;
        json_object *m;
        ClientErrorKind kind;
        int e;

        if (r->body)
                o = json_tokener_parse(r->body);
        if (o && json_object_object_get_ex(o, "message", &m) && json_object_is_type(m, json_type_string))
                message = json_object_get_string(m);
        if (o && json_object_object_get_ex(o, "error", &m) && json_object_is_type(m, json_type_string))
                code = json_object_get_string(m);

        /* The same classes as the D-Bus backend: the gateway's code names the daemon's error (api.h). */
        kind = (ClientErrorKind) api_error_class_from_http((unsigned) r->status, code, &e);
        if (message)
                e = client_error_set(error, e, kind, "%s", message);
        else
                e = client_error_set(error, e, kind, "%s: the gateway answered %ld", what, r->status);
        if (error && api_error_from_http_code(code) &&
            api_error_from_http_code(code)->http_status == (unsigned) r->status)
                error->api = api_error_from_http_code(code);
        return e;
}

/* The result of a transfer driven to its end (r: remote_transfer_drive()'s), handle released. */
static int remote_transfer_finish(RemoteHttp *h, RemoteHandle *handle, int r, CURLcode code, unsigned expected,
                                  const char *what, RemoteResponse *ret, ClientError *error) {
        remote_transfer_end(handle);
        if (r == -EINTR)
                r = client_error_set(error, r, CLIENT_ERROR_OTHER, "Interrupted");
        else if (r < 0)
                r = client_error_set(error, r, CLIENT_ERROR_OTHER, "%s: %m", what);
        else if (code != CURLE_OK)
                r = ret->too_big ? client_error_set(error, -EFBIG, CLIENT_ERROR_OTHER, "%s: the gateway's answer "
                                                    "is too large", what) :
                                   remote_curl_error(h, handle, code, what, error);
        else if (ret->status != (long) expected)
                r = remote_status_error(ret, what, error);
        else
                r = 0;
        remote_handle_release(h, handle);
        return r;
}

int remote_request(RemoteHttp *h, int interrupt_fd, const char *method, const char *target, const char *body,
                   unsigned expected, int timeout_ms, const char *what, RemoteResponse *ret, ClientError *error) {
        RemoteHandle *handle;
        CURLcode code = CURLE_OK;
        int r;

        remote_response_init(ret, -EBADF);
        handle = remote_handle_take(h);
        if (!handle)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "%s: out of memory", what);
        r = remote_transfer_begin(h, handle, method, target, body, timeout_ms, ret);
        if (r < 0) {
                remote_handle_free(handle);
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "%s: %m", what);
        }
        r = remote_transfer_drive(handle, ret, interrupt_fd, false, &code);
        return remote_transfer_finish(h, handle, r, code, expected, what, ret, error);
}

int remote_upload(RemoteHttp *h, const char *target, int fd, const char *what, ClientError *error) {
        RemoteResponse resp;
        RemoteHandle *handle;
        CURLcode code = CURLE_OK;
        bool ok;
        int r;

        remote_response_init(&resp, -EBADF);
        handle = remote_handle_take(h);
        if (!handle)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "%s: out of memory", what);
        /* A body of unknown length, chunked; an answer before its end (the job went away) ends the sending
         * (libcurl stops on a final status >= 300 unless CURLOPT_KEEP_SENDING_ON_ERROR). */
        ok = remote_transfer_setup(h, handle, target, "POST", h->headers_upload, false, REMOTE_NO_TIMEOUT, &resp) &&
             curl_easy_setopt(handle->easy, CURLOPT_POST, 1L) == CURLE_OK &&
             curl_easy_setopt(handle->easy, CURLOPT_POSTFIELDS, NULL) == CURLE_OK &&
             curl_easy_setopt(handle->easy, CURLOPT_POSTFIELDSIZE, -1L) == CURLE_OK &&
             curl_easy_setopt(handle->easy, CURLOPT_READFUNCTION, remote_upload_read) == CURLE_OK &&
             curl_easy_setopt(handle->easy, CURLOPT_READDATA, &fd) == CURLE_OK &&
             curl_multi_add_handle(handle->multi, handle->easy) == CURLM_OK;
        if (!ok) {
                remote_handle_free(handle);
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "%s: out of memory", what);
        }
        r = remote_transfer_drive(handle, &resp, -EBADF, false, &code);
        (void) curl_easy_setopt(handle->easy, CURLOPT_READDATA, NULL);
        r = remote_transfer_finish(h, handle, r, code, 200, what, &resp, error);
        remote_response_done(&resp);
        return r;
}
