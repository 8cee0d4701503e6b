/* SPDX-License-Identifier: MIT */
/* fuzz-cert-subject.c - the client certificate rule (EKU, CN, OU) on arbitrary DER: first as a certificate,
 * then as a bare subject name. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/x509.h>

#include "core/authz.h"
#include "fuzz.h"
#include "transport/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const unsigned char *p = data;
        TlsPrincipal principal;
        const char *reason = NULL;
        X509_NAME *name;
        X509 *x;

        x = d2i_X509(NULL, &p, (long) size);
        if (x) {
                if (tls_check_client_cert(x, &principal, &reason) >= 0 && !principal_name_is_valid(principal.name))
                        __builtin_trap();
                X509_free(x);
        }
        p = data;
        name = d2i_X509_NAME(NULL, &p, (long) size);
        if (name) {
                if (tls_principal_from_subject(name, &principal, &reason) >= 0 &&
                    !principal_name_is_valid(principal.name))
                        __builtin_trap();
                X509_NAME_free(name);
        }
        return 0;
}
