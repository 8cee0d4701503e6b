/* SPDX-License-Identifier: MIT */
/* hashmap.h - a small open-addressing hash map from strings to pointers (linear probing, tombstones).
 *
 * Ownership: the map owns neither keys nor values; a key must stay valid and unchanged while its entry is in
 * the map (the engine keys jobs by strings the job itself holds). Keys compare byte for byte, or ASCII
 * case-insensitively for a map made with HASHMAP_CASE_INSENSITIVE (job ids in any case). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

typedef struct Hashmap Hashmap;

typedef enum HashmapFlags {
        HASHMAP_CASE_INSENSITIVE = 1 << 0,
} HashmapFlags;

int hashmap_new(HashmapFlags flags, Hashmap **ret);
Hashmap *hashmap_free(Hashmap *h);
DEFINE_FREE_FUNC(Hashmap, hashmap_free);

/* -EEXIST when key is there already (the entry is left alone), -ENOMEM, else 0. */
int hashmap_put(Hashmap *h, const char *key, void *value);
void *hashmap_get(const Hashmap *h, const char *key);
/* The value removed, NULL when there was none. */
void *hashmap_remove(Hashmap *h, const char *key);
size_t hashmap_size(const Hashmap *h);
