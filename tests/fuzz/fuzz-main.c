/* SPDX-License-Identifier: MIT */
/* fuzz-main.c - without libFuzzer: runs a target once per file of the given files and directories, so
 * every build replays the committed corpora (a regression test; TAP output). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static unsigned n_run;

static int run_file(const char *path) {
        unsigned char *buf = NULL;
        size_t size = 0, allocated = 0;
        FILE *f;

        f = fopen(path, "re");
        if (!f) {
                printf("not ok %u - %s: %s\n", ++n_run, path, strerror(errno));
                return -errno;
        }
        for (;;) {
                size_t n;

                if (size == allocated) {
                        unsigned char *b = realloc(buf, allocated = allocated ? allocated * 2 : 4096);

                        if (!b) {
                                free(buf);
                                fclose(f);
                                return -ENOMEM;
                        }
                        buf = b;
                }
                n = fread(buf + size, 1, allocated - size, f);
                if (n == 0)
                        break;
                size += n;
        }
        fclose(f);
        (void) LLVMFuzzerTestOneInput(buf, size);
        free(buf);
        printf("ok %u - %s (%zu bytes)\n", ++n_run, path, size);
        return 0;
}

static int run_path(const char *path) {
        struct dirent **entries = NULL;
        struct stat st;
        int n, r = 0;

        if (stat(path, &st) < 0) {
                printf("not ok %u - %s: %s\n", ++n_run, path, strerror(errno));
                return -errno;
        }
        if (!S_ISDIR(st.st_mode))
                return run_file(path);
        n = scandir(path, &entries, NULL, alphasort);
        if (n < 0)
                return -errno;
        for (int i = 0; i < n; i++) {
                if (entries[i]->d_name[0] != '.') {
                        char *p = NULL;

                        if (asprintf(&p, "%s/%s", path, entries[i]->d_name) < 0)
                                r = -ENOMEM;
                        else {
                                int k = run_path(p);

                                if (k < 0)
                                        r = k;
                                free(p);
                        }
                }
                free(entries[i]);
        }
        free(entries);
        return r;
}

int main(int argc, char *argv[]) {
        int r = 0;

        for (int i = 1; i < argc; i++) {
                if (argv[i][0] == '-')   /* --tap and friends from the test runner */
                        continue;
                if (run_path(argv[i]) < 0)
                        r = 1;
        }
        printf("1..%u\n", n_run);
        return r;
}
