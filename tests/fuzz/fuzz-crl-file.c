/* SPDX-License-Identifier: MIT */
/* fuzz-crl-file.c - the gateway's CRL file reader (tls_crl_parse_buffer()) on arbitrary bytes: PEM framing,
 * base64, DER of the CRLs, the count bound. What it accepts must be CRLs whose fields can be walked. */
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "fuzz.h"
#include "transport/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        STACK_OF(X509_CRL) *crls = NULL;
        char err[512];

        if (tls_crl_parse_buffer(data, size, &crls, err, sizeof(err)) < 0) {
                if (err[0] == 0)
                        __builtin_trap();   /* every refusal says why */
                return 0;
        }
        if (sk_X509_CRL_num(crls) < 1 || sk_X509_CRL_num(crls) > (int) TLS_CRL_MAX)
                __builtin_trap();
        for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
                X509_CRL *crl = sk_X509_CRL_value(crls, i);
                STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);

                (void) X509_CRL_get_issuer(crl);
                (void) X509_CRL_get0_nextUpdate(crl);
                for (int j = 0; j < sk_X509_REVOKED_num(rev); j++)
                        (void) X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rev, j));
        }
        sk_X509_CRL_pop_free(crls, X509_CRL_free);
        return 0;
}
