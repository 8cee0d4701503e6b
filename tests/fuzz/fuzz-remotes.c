/* SPDX-License-Identifier: MIT */
/* fuzz-remotes.c - telerun's remotes file parser (cli/remotes.c) on arbitrary bytes: every refusal says why,
 * what it accepts stays within the bounds, and its formatted text parses back to the same remotes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../cli/remotes.h"

static bool same(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Remotes r = {}, back = {};
        char err[REMOTES_ERROR_MAX] = "";
        char *text;

        if (remotes_parse((const char *) data, size, &r, err) < 0) {
                if (err[0] == 0)
                        __builtin_trap();
                return 0;
        }
        if (r.n > REMOTES_MAX)
                __builtin_trap();
        text = remotes_format(&r);
        if (!text)
                __builtin_trap();
        if (remotes_parse(text, strlen(text), &back, err) < 0 || back.n != r.n || !same(back.current, r.current))
                __builtin_trap();
        for (size_t i = 0; i < r.n; i++)
                if (!same(r.items[i].name, back.items[i].name) || !same(r.items[i].addr, back.items[i].addr) ||
                    !same(r.items[i].cert, back.items[i].cert) || !same(r.items[i].key, back.items[i].key) ||
                    !same(r.items[i].cacert, back.items[i].cacert) || !remote_name_is_valid(r.items[i].name))
                        __builtin_trap();
        free(text);
        remotes_done(&r);
        remotes_done(&back);
        return 0;
}
