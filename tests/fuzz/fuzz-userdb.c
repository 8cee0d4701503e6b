/* SPDX-License-Identifier: MIT */
/* fuzz-userdb - the userdb Varlink service's request handling (userdb_handle: parse, answer) on arbitrary
 * bytes, over a table of two dynamic users; and the dynamic users' state-file line parser. Every request
 * gets a well-formed answer or -EBADMSG, never a crash, leak or loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "core/userdb-proto.h"

static int never_taken(uid_t n, const char *name, void *userdata) {
        return 0;
}

static DynUserTable *fuzz_table(void) {
        static DynUserTable *t;
        char dir[] = "/tmp/fuzz-userdb-XXXXXX";
        const DynUser *u;

        if (t)
                return t;
        if (!mkdtemp(dir) || dynuser_table_load(dir, &t, NULL) < 0 ||
            dynuser_acquire(t, "alice", 80000, 80000, never_taken, NULL, &u) < 0 ||
            dynuser_acquire(t, "Bob", 80001, 80001, never_taken, NULL, &u) < 0)
                abort();
        /* the files are not needed any more: the table is in memory */
        {
                char p[64];
                snprintf(p, sizeof(p), "%s/p-alice", dir);
                unlink(p);
                snprintf(p, sizeof(p), "%s/p-Bob", dir);
                unlink(p);
                rmdir(dir);
        }
        return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DynUserTable *t = fuzz_table();
        char *out = NULL, *text, name[DYNUSER_NAME_MAX];
        size_t len = 0;
        uid_t uid;
        int r;

        if (size > 2 * USERDB_MESSAGE_MAX)
                return 0;
        r = userdb_handle(t, (const char *) data, size, &out, &len);
        if (r < 0 && r != -EBADMSG && r != -ENOMEM)
                abort();
        /* every reply message is NUL-terminated JSON text without inner NULs */
        if (r >= 0 && len > 0 && out[len - 1] != 0)
                abort();
        free(out);

        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        if (dynuser_parse_line(text, &uid, name) == 0 && (uid == 0 || strncmp(name, "tw", 2) != 0))
                abort();
        free(text);
        return 0;
}
