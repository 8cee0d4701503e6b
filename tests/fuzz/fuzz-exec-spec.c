/* SPDX-License-Identifier: MIT */
/* fuzz-exec-spec - the job spec parser the root helper teleworker-exec runs on caller bytes
 * (exec_spec_parse): it must accept or refuse with a reason, never crash, leak or loop, and what it
 * accepts must serialize back to the very same bytes (one encoding per spec: nothing is silently
 * dropped or reinterpreted). */
#include <stdlib.h>
#include <string.h>

#include "exec/exec-spec.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *why = NULL;
        ExecSpec s = {};
        char *again = NULL;
        size_t again_size = 0;
        int r;

        if (size > 1024 * 1024)
                return 0;
        r = exec_spec_parse(data, size, &s, &why);
        if (r == -EBADMSG) {
                if (!why)
                        abort(); /* every refusal says why */
                return 0;
        }
        if (r < 0)
                return 0;
        if (exec_spec_serialize(&s, &again, &again_size) < 0 || again_size != size || memcmp(again, data, size) != 0)
                abort();
        (void) exec_spec_allowed(s.allow, s.argv[0]);
        free(again);
        exec_spec_done(&s);
        return 0;
}
