/* SPDX-License-Identifier: MIT */
/* json-keys.c - a key given twice in one JSON object (json-keys.h). */
#include "core/json-keys.h"

/* The object keys written in text: in valid JSON a string is a key exactly when a ':' follows it. */
static size_t text_keys(const char *t, size_t n) {
        size_t keys = 0;

        for (size_t i = 0; i < n; i++) {
                size_t j;

                if (t[i] != '"')
                        continue;
                for (i++; i < n && t[i] != '"'; i++)
                        if (t[i] == '\\')
                                i++;            /* the escaped character, a quote among them */
                for (j = i + 1; j < n && (t[j] == ' ' || t[j] == '\t' || t[j] == '\r' || t[j] == '\n'); j++)
                        ;
                keys += j < n && t[j] == ':';
        }
        return keys;
}

/* The keys json-c kept, in every object of o. */
static size_t tree_keys(json_object *o) {
        size_t keys = 0;

        switch (json_object_get_type(o)) {
        case json_type_object: {
                json_object_object_foreach(o, k, v) {
                        (void) k;
                        keys += 1 + tree_keys(v);
                }
                break;
        }
        case json_type_array:
                for (size_t i = 0, n = json_object_array_length(o); i < n; i++)
                        keys += tree_keys(json_object_array_get_idx(o, i));
                break;
        default:
                break;
        }
        return keys;
}

bool json_keys_unique(const char *text, size_t len, json_object *root) {
        return text_keys(text, len) == tree_keys(root);
}
