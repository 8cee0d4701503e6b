/* SPDX-License-Identifier: MIT */
/* fuzz-config - the policy file parser (config_load_string) on arbitrary bytes: it must return 0 or
 * -EINVAL with a message, never crash, leak or loop. */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[CONFIG_ERROR_MAX] = "";
        char *text;
        Config c;
        int r;

        if (size > 256 * 1024)
                return 0;
        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        if (config_init_defaults(&c) >= 0) {
                r = config_load_string(&c, text, err);
                if (r < 0 && r != -ENOMEM && err[0] == 0)
                        abort(); /* every refusal says why */
                if (r >= 0) {
                        PrincipalPolicy p;
                        config_principal_policy(&c, "alice", &p);
                        (void) config_executable_allowed(p.allow, "/usr/bin/true");
                }
                config_done(&c);
        }
        free(text);
        return 0;
}
