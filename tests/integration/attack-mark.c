/* SPDX-License-Identifier: MIT */
/* attack-mark - what an attacker's library does, minus the harm: wherever it is loaded (LD_PRELOAD, as an
 * LD_AUDIT module, as a gconv module, by dlopen) it leaves an empty file
 *   /srv/tw-attacks/marks/<$TW_ATTACK_TAG>.<how>.<root|user>.<pid>
 * "root" when the process's effective uid is 0: the mark test-attacks.c must never find. */
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void mark(const char *how) {
        const char *tag = getenv("TW_ATTACK_TAG");
        char path[512];
        int fd;

        snprintf(path, sizeof(path), "/srv/tw-attacks/marks/%s.%s.%s.%d", tag && *tag ? tag : "untagged", how,
                 geteuid() == 0 ? "root" : "user", (int) getpid());
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
                (void) close(fd);
}

__attribute__((constructor)) static void attack_mark_loaded(void) {
        mark("ctor");
}

/* The rtld-audit entry point: ld.so calls it when the library is an LD_AUDIT module. */
unsigned la_version(unsigned version) {
        mark("audit");
        return version < LAV_CURRENT ? version : LAV_CURRENT;
}
