/* SPDX-License-Identifier: MIT */
/* bus-output-options.c - OpenOutputEx's and ReadOutputEx's options as a{sv}, both ways (bus-output-options.h). */
#include <errno.h>
#include <string.h>

#include "bus/bus-output-options.h"
#include "bus/bus-start.h"
#include "shared/api.h"
#include "shared/macro.h"
#include "shared/util.h"

typedef struct OutputOption {
        const char *name;
        char type;
        unsigned bit;
} OutputOption;

static const OutputOption output_options[] = {
        { "offset", 't', OUTPUT_OPT_OFFSET },
        { "follow", 'b', OUTPUT_OPT_FOLLOW },
        { "stream", 's', OUTPUT_OPT_STREAM },
        { "since", 't', OUTPUT_OPT_SINCE },
        { "until", 't', OUTPUT_OPT_UNTIL },
        { "tail", 't', OUTPUT_OPT_TAIL },
        { "framed", 'b', OUTPUT_OPT_FRAMED },
        { "timestamps", 'b', OUTPUT_OPT_TIMESTAMPS },
};

/* ReadOutputEx's: a bounded read that returns bytes, so nothing about following or framing. */
static const OutputOption read_output_options[] = {
        { "offset", 't', OUTPUT_OPT_OFFSET },
        { "max", 't', OUTPUT_OPT_MAX },
        { "stream", 's', OUTPUT_OPT_STREAM },
};

static uint64_t *output_option_u64(BusOutputOptions *o, unsigned bit) {
        switch (bit) {
        case OUTPUT_OPT_OFFSET: return &o->offset;
        case OUTPUT_OPT_SINCE: return &o->since;
        case OUTPUT_OPT_UNTIL: return &o->until;
        case OUTPUT_OPT_TAIL: return &o->tail;
        case OUTPUT_OPT_MAX: return &o->max;
        default: return NULL;
        }
}

static bool *output_option_bool(BusOutputOptions *o, unsigned bit) {
        switch (bit) {
        case OUTPUT_OPT_FOLLOW: return &o->follow;
        case OUTPUT_OPT_FRAMED: return &o->framed;
        case OUTPUT_OPT_TIMESTAMPS: return &o->timestamps;
        default: return NULL;
        }
}

int bus_append_output_options(sd_bus_message *m, const BusOutputOptions *o) {
        BusOutputOptions copy = *o;
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(output_options); i++) {
                const OutputOption *opt = &output_options[i];
                uint64_t *u = output_option_u64(&copy, opt->bit);
                bool *b = output_option_bool(&copy, opt->bit);

                if (!(o->set & opt->bit))
                        continue;
                if (u)
                        r = sd_bus_message_append(m, "{sv}", opt->name, "t", *u);
                else if (b)
                        r = sd_bus_message_append(m, "{sv}", opt->name, "b", (int) *b);
                else
                        r = sd_bus_message_append(m, "{sv}", opt->name, "s", o->stream ?: "both");
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static int output_option_read(sd_bus_message *msg, const OutputOption *opt, BusOutputOptions *o, sd_bus_error *error) {
        char sig[2] = { opt->type, 0 };
        uint64_t *u = output_option_u64(o, opt->bit);
        bool *b = output_option_bool(o, opt->bit);
        const char *contents;
        int r, v;

        r = sd_bus_message_peek_type(msg, NULL, &contents);
        if (r < 0)
                return r;
        if (!streq(contents, sig))
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS, "Option %s must be of type '%s', got '%s'.",
                                         opt->name, sig, contents);
        if (u)
                return sd_bus_message_read(msg, "v", "t", u);
        if (b) {
                r = sd_bus_message_read(msg, "v", "b", &v);
                *b = v;
                return r;
        }
        r = sd_bus_message_read(msg, "v", "s", &o->stream);
        if (r < 0)
                return r;
        if (!streq(o->stream, "stdout") && !streq(o->stream, "stderr") && !streq(o->stream, "both"))
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                         "Option stream must be 'stdout', 'stderr' or 'both'.");
        return 0;
}

static int option_table_find(const OutputOption *table, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (streq(key, table[i].name))
                        return (int) i;
        return -1;
}

static int output_option_find(const char *key) {
        return option_table_find(output_options, ELEMENTSOF(output_options), key);
}

static int output_option_read_entry(sd_bus_message *msg, const char *key, int index, void *userdata,
                                    sd_bus_error *error) {
        BusOutputOptions *o = userdata;

        o->set |= output_options[index].bit;
        return output_option_read(msg, &output_options[index], o, error);
}

int bus_read_output_options(sd_bus_message *msg, BusOutputOptions *o, sd_bus_error *error) {
        *o = (BusOutputOptions) {};
        return bus_read_option_dict(msg, "offset, follow, stream, since, until, tail, framed, timestamps",
                                    output_option_find, output_option_read_entry, o, error);
}

static int read_output_option_find(const char *key) {
        return option_table_find(read_output_options, ELEMENTSOF(read_output_options), key);
}

static int read_output_option_read_entry(sd_bus_message *msg, const char *key, int index, void *userdata,
                                         sd_bus_error *error) {
        BusOutputOptions *o = userdata;

        o->set |= read_output_options[index].bit;
        return output_option_read(msg, &read_output_options[index], o, error);
}

int bus_read_read_output_options(sd_bus_message *msg, BusOutputOptions *o, sd_bus_error *error) {
        *o = (BusOutputOptions) {};
        return bus_read_option_dict(msg, "offset, max, stream", read_output_option_find,
                                    read_output_option_read_entry, o, error);
}
