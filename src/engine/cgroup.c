/* SPDX-License-Identifier: MIT */
/* cgroup.c - a job scope's cgroup directories and counters, on cgroup v2 and on the hybrid v1 layout. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "engine/cgroup.h"
#include "shared/macro.h"
#include "shared/util.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_FILE_MAX (64 * 1024)

void cgroup_paths_done(CgroupPaths *p) {
        free(p->unified);
        free(p->memory);
        free(p->cpuacct);
        free(p->blkio);
        *p = (CgroupPaths) {};
}

static bool path_ends_with_component(const char *path, const char *name) {
        size_t lp = strlen(path), ln = strlen(name);

        return lp > ln && path[lp - ln - 1] == '/' && streq(path + lp - ln, name);
}

static bool has_controller(const char *list, const char *name) {
        size_t n = strlen(name);

        for (const char *p = list; *p;) {
                size_t len = strcspn(p, ",");
                if (len == n && strncmp(p, name, n) == 0)
                        return true;
                p += len;
                if (*p == ',')
                        p++;
        }
        return false;
}

int cgroup_paths_from_pid(pid_t pid, const char *scope_name, CgroupPaths *ret) {
        _cleanup_(cgroup_paths_done) CgroupPaths p = {};
        char fn[64], line[4096];
        struct statfs sfs;
        FILE *f;

        if (statfs(CGROUP_ROOT, &sfs) < 0)
                return -errno;
        p.v2 = (uint64_t) sfs.f_type == CGROUP2_SUPER_MAGIC;

        snprintf(fn, sizeof(fn), "/proc/%d/cgroup", (int) pid);
        f = fopen(fn, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                char *ctrls, *path, **target = NULL;
                const char *mount = NULL;

                line[strcspn(line, "\n")] = 0;
                ctrls = strchr(line, ':');
                if (!ctrls)
                        continue;
                ctrls++;
                path = strchr(ctrls, ':');
                if (!path)
                        continue;
                *path++ = 0;
                if (!path_ends_with_component(path, scope_name))
                        continue;

                if (*ctrls == 0) {
                        target = &p.unified;
                        mount = p.v2 ? CGROUP_ROOT : CGROUP_ROOT "/unified";
                } else if (has_controller(ctrls, "memory"))
                        target = &p.memory;
                else if (has_controller(ctrls, "cpuacct"))
                        target = &p.cpuacct;
                else if (has_controller(ctrls, "blkio"))
                        target = &p.blkio;
                if (!target || *target)
                        continue;
                if ((mount ? asprintf(target, "%s%s", mount, path) :
                             asprintf(target, CGROUP_ROOT "/%s%s", ctrls, path)) < 0) {
                        *target = NULL;
                        fclose(f);
                        return -ENOMEM;
                }
        }
        fclose(f);
        *ret = p;
        p = (CgroupPaths) {};
        return 0;
}

static int read_small_file(const char *dir, const char *name, char *buf, size_t size) {
        char fn[4096];
        FILE *f;
        size_t n;

        if (!dir)
                return -ENOENT;
        snprintf(fn, sizeof(fn), "%s/%s", dir, name);
        f = fopen(fn, "re");
        if (!f)
                return -errno;
        n = fread(buf, 1, size - 1, f);
        fclose(f);
        buf[n] = 0;
        return 0;
}

static int read_u64_file(const char *dir, const char *name, uint64_t *ret) {
        char buf[64];
        int r;

        r = read_small_file(dir, name, buf, sizeof(buf));
        if (r < 0)
                return r;
        buf[strcspn(buf, "\n")] = 0;
        return parse_uint64(buf, ret);
}

int cgroup_parse_keyed(const char *text, const char *key, uint64_t *ret) {
        size_t n = strlen(key);

        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, key, n) == 0 && l[n] == ' ') {
                        char num[32];
                        size_t len = strcspn(l + n + 1, "\n");
                        if (len == 0 || len >= sizeof(num))
                                return -EINVAL;
                        memcpy(num, l + n + 1, len);
                        num[len] = 0;
                        return parse_uint64(num, ret);
                }
        }
        return -ENODATA;
}

int cgroup_parse_io(const char *text, bool v2, uint64_t *ret_read, uint64_t *ret_write) {
        uint64_t rd = 0, wr = 0;
        bool any = false;

        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                char line[512];
                size_t len = strcspn(l, "\n");

                if (len >= sizeof(line))
                        continue;
                memcpy(line, l, len);
                line[len] = 0;
                if (v2) {
                        /* "8:0 rbytes=1 wbytes=2 rios=3 ..." */
                        for (char *tok = strtok(line, " "); tok; tok = strtok(NULL, " ")) {
                                uint64_t v;
                                if (strncmp(tok, "rbytes=", 7) == 0 && parse_uint64(tok + 7, &v) == 0)
                                        rd += v, any = true;
                                else if (strncmp(tok, "wbytes=", 7) == 0 && parse_uint64(tok + 7, &v) == 0)
                                        wr += v, any = true;
                        }
                } else {
                        /* "8:0 Read 4096" ... "Total 8192" */
                        char dev[64], op[16];
                        uint64_t v;
                        if (sscanf(line, "%63s %15s %" SCNu64, dev, op, &v) != 3)
                                continue;
                        if (streq(op, "Read"))
                                rd += v, any = true;
                        else if (streq(op, "Write"))
                                wr += v, any = true;
                }
        }
        if (!any)
                return -ENODATA;
        *ret_read = rd;
        *ret_write = wr;
        return 0;
}

void cgroup_read_usage(const CgroupPaths *p, JobUsage *u) {
        _cleanup_(freep) char *buf = malloc(CGROUP_FILE_MAX);
        uint64_t v, w;

        job_usage_reset(u);
        if (!buf)
                return;

        if (p->v2) {
                if (read_u64_file(p->unified, "memory.current", &v) == 0)
                        u->memory_current = v;
                if (read_u64_file(p->unified, "memory.peak", &v) == 0)
                        u->memory_peak = v;
                if (read_small_file(p->unified, "io.stat", buf, CGROUP_FILE_MAX) == 0) {
                        if (cgroup_parse_io(buf, true, &v, &w) == 0)
                                u->io_read_bytes = v, u->io_write_bytes = w;
                        else
                                u->io_read_bytes = u->io_write_bytes = 0; /* no IO yet: an empty io.stat */
                }
        } else {
                if (read_u64_file(p->memory, "memory.usage_in_bytes", &v) == 0)
                        u->memory_current = v;
                if (read_u64_file(p->memory, "memory.max_usage_in_bytes", &v) == 0)
                        u->memory_peak = v;
                if (read_small_file(p->blkio, "blkio.throttle.io_service_bytes", buf, CGROUP_FILE_MAX) == 0) {
                        if (cgroup_parse_io(buf, false, &v, &w) == 0)
                                u->io_read_bytes = v, u->io_write_bytes = w;
                        else
                                u->io_read_bytes = u->io_write_bytes = 0;
                }
        }

        /* CPU: v2 cpu.stat; on hybrid hosts systemd may not create the scope's cpuacct cgroup, but the
         * unified hierarchy's cpu.stat still counts usage_usec. */
        if (read_u64_file(p->cpuacct, "cpuacct.usage", &v) == 0)
                u->cpu_usage_nsec = v;
        else if (read_small_file(p->unified, "cpu.stat", buf, CGROUP_FILE_MAX) == 0 &&
                 cgroup_parse_keyed(buf, "usage_usec", &v) == 0)
                u->cpu_usage_nsec = v * NSEC_PER_USEC;
}

int cgroup_read_oom_kills(const CgroupPaths *p, uint64_t *ret) {
        char buf[1024];

        if (p->v2) {
                if (read_small_file(p->unified, "memory.events", buf, sizeof(buf)) == 0)
                        return cgroup_parse_keyed(buf, "oom_kill", ret);
        } else if (read_small_file(p->memory, "memory.oom_control", buf, sizeof(buf)) == 0)
                return cgroup_parse_keyed(buf, "oom_kill", ret);
        return -ENODATA;
}
