/* SPDX-License-Identifier: MIT */
/* fuzz-bus-options - Start's a{sv} options as an untrusted caller may send them: the fuzz input picks keys
 * (known, near-miss and arbitrary), D-Bus types and values; bus_read_start_options() must accept or refuse
 * each message with an error, never crash. The same dictionary goes to OpenOutputEx's reader
 * (bus_read_output_options()) and to ReadOutputEx's (bus_read_read_output_options()) with the same rules. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>

#include "bus/bus-api.h"
#include "bus/bus-output-options.h"
#include "bus/bus-start.h"
#include "fuzz.h"

static const char *const keys[] = {
        "CPUQuotaPerSecUSec", "MemoryMax", "IOReadBandwidthMax", "IOWriteBandwidthMax", "TasksMax",
        "RuntimeMaxUSec", "Profile", "PrivatePID", "PrivateTmp", "PrivateNetwork", "ProtectSystem",
        "MemoryHigh", "", "Private", "memorymax",
        "offset", "follow", "stream", "since", "until", "tail", "framed", "timestamps", "Stream",
        "StandardInput", "Terminal", "max",
};

typedef struct Input {
        const uint8_t *p;
        size_t n;
} Input;

static uint8_t take(Input *in) {
        uint8_t b = in->n ? *in->p : 0;

        if (in->n) {
                in->p++;
                in->n--;
        }
        return b;
}

static uint64_t take64(Input *in) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v = (v << 8) | take(in);
        return v;
}

/* Messages need a started bus object: one over a socketpair nobody reads, made once per process. */
static sd_bus *fuzz_bus(void) {
        static sd_bus *bus;
        int p[2];

        if (bus)
                return bus;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0 || sd_bus_new(&bus) < 0 ||
            sd_bus_set_fd(bus, p[0], p[0]) < 0 || sd_bus_start(bus) < 0)
                abort();
        return bus;
}

static void round_trip(sd_bus *bus, const StartRequest *req) {
        char *argv[] = { (char *) "x", NULL };
        StartRequest in = *req, out = { .isolation = START_ISOLATION_UNSET };
        sd_bus_message *m = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;

        in.argv = argv;
        in.cwd = "";
        if (sd_bus_message_new_method_call(bus, &m, "org.teleworker.worker1", "/org/teleworker/worker1",
                                           "org.teleworker.worker1.Manager", "Start") < 0 ||
            bus_append_start_request(m, &in) < 0 || sd_bus_message_seal(m, 2, 0) < 0 ||
            sd_bus_message_rewind(m, true) < 0)
                abort();
        if (bus_read_start_request(m, &out, &e) < 0 || !out.argv || !out.argv[0] || out.argv[1] ||
            memcmp(&out.limits, &in.limits, sizeof(in.limits)) != 0 ||
            memcmp(&out.isolation, &in.isolation, sizeof(in.isolation)) != 0 ||
            out.runtime_max_usec != in.runtime_max_usec || (!in.profile) != (!out.profile) ||
            out.stdin_kind != in.stdin_kind || out.tty_rows != in.tty_rows || out.tty_cols != in.tty_cols ||
            (in.profile && strcmp(in.profile, out.profile) != 0))
                abort();
        bus_start_request_done(&out);
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
}

/* OpenOutputEx's options: an accepted dictionary has no repeated key and a known stream, and the one writer
 * says it again so that the reader reads the very same options back. */
static void check_output_options(sd_bus *bus, sd_bus_message *m, bool repeated) {
        sd_bus_message *again = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        BusOutputOptions o, o2;

        if (sd_bus_message_rewind(m, true) < 0)
                abort();
        if (bus_read_output_options(m, &o, &e) < 0) {
                if (sd_bus_error_is_set(&e) && (!e.message || !e.message[0]))
                        abort();
                sd_bus_error_free(&e);
                return;
        }
        if (repeated || ((o.set & OUTPUT_OPT_STREAM) && strcmp(o.stream, "stdout") != 0 &&
                         strcmp(o.stream, "stderr") != 0 && strcmp(o.stream, "both") != 0))
                abort();
        if (sd_bus_message_new_method_call(bus, &again, "org.teleworker.worker1", "/org/teleworker/worker1",
                                           "org.teleworker.worker1.Manager", "OpenOutputEx") < 0 ||
            bus_append_output_options(again, &o) < 0 || sd_bus_message_seal(again, 3, 0) < 0 ||
            sd_bus_message_rewind(again, true) < 0 || bus_read_output_options(again, &o2, &e) < 0)
                abort();
        if (o2.set != o.set || o2.offset != o.offset || o2.follow != o.follow || o2.since != o.since ||
            o2.until != o.until || o2.tail != o.tail || o2.framed != o.framed || o2.timestamps != o.timestamps ||
            (!o.stream) != (!o2.stream) || (o.stream && strcmp(o.stream, o2.stream) != 0))
                abort();
        sd_bus_message_unref(again);
}

/* ReadOutputEx's options: only offset, max and stream, never a key twice, a known stream. */
static void check_read_output_options(sd_bus_message *m, bool repeated) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        BusOutputOptions o;

        if (sd_bus_message_rewind(m, true) < 0)
                abort();
        if (bus_read_read_output_options(m, &o, &e) < 0) {
                if (sd_bus_error_is_set(&e) && (!e.message || !e.message[0]))
                        abort();
                sd_bus_error_free(&e);
                return;
        }
        if (repeated || (o.set & ~(unsigned) (OUTPUT_OPT_OFFSET | OUTPUT_OPT_MAX | OUTPUT_OPT_STREAM)) ||
            ((o.set & OUTPUT_OPT_STREAM) && strcmp(o.stream, "stdout") != 0 && strcmp(o.stream, "stderr") != 0 &&
             strcmp(o.stream, "both") != 0))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Input in = { data, size };
        sd_bus *bus = fuzz_bus();
        sd_bus_message *m = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        StartRequest req = { .isolation = START_ISOLATION_UNSET };
        unsigned n, seen[sizeof(keys) / sizeof(keys[0])] = {};
        bool repeated = false;

        if (size > 4096)
                return 0;
        if (sd_bus_message_new_method_call(bus, &m, "org.teleworker.worker1", "/org/teleworker/worker1",
                                           "org.teleworker.worker1.Manager", "Start") < 0)
                goto finish;
        if (sd_bus_message_open_container(m, 'a', "{sv}") < 0)
                goto finish;
        n = take(&in) % 24;
        for (unsigned i = 0; i < n; i++) {
                uint8_t k = take(&in), t = take(&in);
                char name[33];
                const char *key;
                int r;

                if (k < 200) {
                        key = keys[k % (sizeof(keys) / sizeof(keys[0]))];
                        repeated = repeated || seen[k % (sizeof(keys) / sizeof(keys[0]))]++ > 0;
                } else {
                        size_t len = take(&in) % 32;
                        for (size_t c = 0; c < len; c++)
                                name[c] = (char) (take(&in) % 94 + 33);
                        name[len] = 0;
                        key = name;
                }
                switch (t % 7) {
                case 0:
                        r = sd_bus_message_append(m, "{sv}", key, "t", take64(&in));
                        break;
                case 1:
                        r = sd_bus_message_append(m, "{sv}", key, "b", (int) (take(&in) & 1));
                        break;
                case 2: {
                        char s[17];
                        size_t len = take(&in) % 16;
                        for (size_t c = 0; c < len; c++)
                                s[c] = (char) (take(&in) % 94 + 33);
                        s[len] = 0;
                        r = sd_bus_message_append(m, "{sv}", key, "s", s);
                        break;
                }
                case 3:
                        r = sd_bus_message_append(m, "{sv}", key, "u", (uint32_t) take64(&in));
                        break;
                case 4:
                        r = sd_bus_message_append(m, "{sv}", key, "i", (int32_t) take64(&in));
                        break;
                case 5: {
                        uint64_t v = take64(&in);
                        r = sd_bus_message_append(m, "{sv}", key, "(qq)", (uint16_t) v, (uint16_t) (v >> 16));
                        break;
                }
                default:
                        r = sd_bus_message_append(m, "{sv}", key, "as", 2, "a", "b");
                        break;
                }
                if (r < 0)
                        goto finish;
        }
        if (sd_bus_message_close_container(m) < 0 || sd_bus_message_seal(m, 1, 0) < 0 ||
            sd_bus_message_rewind(m, true) < 0)
                goto finish;

        if (bus_read_start_options(m, &req, &e) >= 0) {
                /* a key given twice is never accepted (the last would silently win) */
                if (repeated)
                        abort();
                /* RuntimeMaxUSec is none, infinity, or within the bound: no deadline can overflow */
                if (req.runtime_max_usec > JOB_RUNTIME_USEC_MAX && req.runtime_max_usec != JOB_RUNTIME_USEC_INFINITY)
                        abort();
                /* accepted: isolation options are booleans or unset */
                const int iso[] = { req.isolation.private_pid, req.isolation.private_tmp,
                                    req.isolation.private_network, req.isolation.protect_system };
                for (size_t i = 0; i < sizeof(iso) / sizeof(iso[0]); i++)
                        if (iso[i] < -1 || iso[i] > 1)
                                abort();
                /* a string StandardInput is never "fd" (an fd comes as one); a terminal has a sane size or none */
                if (req.stdin_kind != START_STDIN_NULL && req.stdin_kind != START_STDIN_STREAM)
                        abort();
                if ((req.tty_rows == 0) != (req.tty_cols == 0) || req.tty_rows > START_TTY_SIZE_MAX ||
                    req.tty_cols > START_TTY_SIZE_MAX)
                        abort();
                /* and the one writer says the same again: what it writes, the reader reads back as is */
                round_trip(bus, &req);
        } else if (sd_bus_error_is_set(&e) && (!e.message || !e.message[0]))
                abort(); /* a refusal always says why */
        check_output_options(bus, m, repeated);
        check_read_output_options(m, repeated);

finish:
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
        return 0;
}
