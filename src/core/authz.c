/* SPDX-License-Identifier: MIT */
/* authz.c - owner-only access; administrators see and control every job. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/authz.h"
#include "shared/macro.h"

void principal_done(Principal *p) {
        if (!p)
                return;
        free(p->name);
        p->name = NULL;
}

int authz_check(const Principal *p, AuthzOp op, const char *owner) {
        if (!p || !p->name || op < 0 || op >= _AUTHZ_OP_MAX)
                return -EACCES;
        if (p->admin)
                return 0;
        /* Remote and local principals live in one name space on purpose: the policy maps a certificate
         * CN to an account, and a job belongs to the name that started it, whichever door it came in. */
        return streq_ptr(p->name, owner) ? 0 : -EACCES;
}

bool authz_can_see(const Principal *p, const char *owner) {
        return authz_check(p, AUTHZ_VIEW, owner) == 0;
}

bool principal_name_is_valid(const char *name) {
        size_t n;

        if (!name)
                return false;
        n = strlen(name);
        if (n == 0 || n > 64 || name[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '@' || c == '-'))
                        return false;
        }
        return true;
}
