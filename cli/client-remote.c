/* SPDX-License-Identifier: MIT */
/* client-remote.c - telerun's remote backend: a teleworker-gateway over HTTPS with mTLS.
 *
 * Placeholder: the gateway work replaces this file with a ClientOps implementation (see client.h) that maps
 * POST/GET /v1/jobs... onto start/stop/get_job/list/wait/open_output, and HTTP statuses onto
 * ClientErrorKind (404 -> NOT_FOUND, 403 -> ACCESS_DENIED, 400/422 -> INVALID, connect/TLS failure ->
 * UNREACHABLE). */
#include <errno.h>

#include "client.h"

int client_remote_new(const ClientRemoteConfig *config, Client **ret, ClientError *error) {
        return client_error_set(error, -EOPNOTSUPP, CLIENT_ERROR_OTHER,
                                "remote mode not available in this build");
}
