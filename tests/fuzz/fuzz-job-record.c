/* SPDX-License-Identifier: MIT */
/* fuzz-job-record - a job record as teleworkerd reads it back from its state directory at start
 * (job_record_from_json()): any bytes give 0, -EBADMSG, -EFBIG or -ENOMEM, never a crash; an accepted record
 * written back (job_record_to_json()) parses again to the same text. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "engine/job-record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = NULL, *again = NULL;
        JobRecord r, r2;
        int k;

        k = job_record_from_json((const char *) data, size, &r);
        if (k != 0 && k != -EBADMSG && k != -EFBIG && k != -ENOMEM)
                abort();
        if (k < 0)
                return 0;
        if (job_record_to_json(&r, &text) == 0) {
                if (job_record_from_json(text, strlen(text), &r2) != 0)
                        abort();
                if (job_record_to_json(&r2, &again) == 0 && strcmp(text, again) != 0)
                        abort();
                job_record_done(&r2);
        }
        free(text);
        free(again);
        job_record_done(&r);
        return 0;
}
