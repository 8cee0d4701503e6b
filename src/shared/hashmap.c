/* SPDX-License-Identifier: MIT */
/* hashmap.c - open-addressing hash map from strings to pointers (hashmap.h). */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "shared/hashmap.h"

#define HASHMAP_MIN_BUCKETS 16U

/* A bucket is empty (key NULL, value NULL), in use, or a tombstone (key NULL, value TOMBSTONE): a removed
 * entry that probes must walk past. */
static char tombstone;
#define TOMBSTONE ((void *) &tombstone)

typedef struct Bucket {
        const char *key;
        void *value;
        uint32_t hash;
} Bucket;

struct Hashmap {
        Bucket *buckets;
        size_t n_buckets;   /* a power of two */
        size_t n_entries;
        size_t n_tombstones;
        bool icase;
};

static inline char ascii_lower(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

/* FNV-1a: keys are job ids and unit names of our own making, not attacker-chosen collisions (ids are
 * random UUIDs; a caller's lookup key only reads). */
static uint32_t hashmap_hash(const Hashmap *h, const char *key) {
        uint32_t x = 2166136261U;

        for (const char *p = key; *p; p++) {
                x ^= (unsigned char) (h->icase ? ascii_lower(*p) : *p);
                x *= 16777619U;
        }
        return x;
}

static bool hashmap_key_eq(const Hashmap *h, const char *a, const char *b) {
        return h->icase ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

int hashmap_new(HashmapFlags flags, Hashmap **ret) {
        Hashmap *h = new0(Hashmap, 1);

        if (!h)
                return -ENOMEM;
        h->buckets = new0(Bucket, HASHMAP_MIN_BUCKETS);
        if (!h->buckets) {
                free(h);
                return -ENOMEM;
        }
        h->n_buckets = HASHMAP_MIN_BUCKETS;
        h->icase = flags & HASHMAP_CASE_INSENSITIVE;
        *ret = h;
        return 0;
}

Hashmap *hashmap_free(Hashmap *h) {
        if (!h)
                return NULL;
        free(h->buckets);
        free(h);
        return NULL;
}

/* The bucket of key, or NULL. */
static Bucket *hashmap_find(const Hashmap *h, const char *key, uint32_t hash) {
        size_t mask = h->n_buckets - 1;

        for (size_t i = hash & mask, n = 0; n < h->n_buckets; i = (i + 1) & mask, n++) {
                Bucket *b = &h->buckets[i];

                if (!b->key && b->value != TOMBSTONE)
                        return NULL;
                if (b->key && b->hash == hash && hashmap_key_eq(h, b->key, key))
                        return b;
        }
        return NULL;
}

/* Puts a key known not to be there into the first free bucket of its probe sequence (a tombstone is free);
 * returns whether that was a tombstone. */
static bool hashmap_insert_fresh(Bucket *buckets, size_t n_buckets, const char *key, void *value, uint32_t hash) {
        size_t mask = n_buckets - 1, i = hash & mask;
        bool was_tombstone;

        while (buckets[i].key)
                i = (i + 1) & mask;
        was_tombstone = buckets[i].value == TOMBSTONE;
        buckets[i] = (Bucket) { .key = key, .value = value, .hash = hash };
        return was_tombstone;
}

/* Rehashes into n buckets (dropping the tombstones). */
static int hashmap_resize(Hashmap *h, size_t n) {
        Bucket *b = new0(Bucket, n);

        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < h->n_buckets; i++)
                if (h->buckets[i].key)
                        (void) hashmap_insert_fresh(b, n, h->buckets[i].key, h->buckets[i].value,
                                                    h->buckets[i].hash);
        free(h->buckets);
        h->buckets = b;
        h->n_buckets = n;
        h->n_tombstones = 0;
        return 0;
}

int hashmap_put(Hashmap *h, const char *key, void *value) {
        uint32_t hash = hashmap_hash(h, key);
        int r;

        assert(key && value && value != TOMBSTONE);
        if (hashmap_find(h, key, hash))
                return -EEXIST;
        /* At most 3/4 full, tombstones included: probes stay short and always end at an empty bucket. */
        if ((h->n_entries + h->n_tombstones + 1) * 4 > h->n_buckets * 3) {
                size_t n = h->n_buckets;

                while ((h->n_entries + 1) * 2 > n)
                        n *= 2;
                r = hashmap_resize(h, n);
                if (r < 0)
                        return r;
        }
        if (hashmap_insert_fresh(h->buckets, h->n_buckets, key, value, hash))
                h->n_tombstones--;
        h->n_entries++;
        return 0;
}

void *hashmap_get(const Hashmap *h, const char *key) {
        Bucket *b = hashmap_find(h, key, hashmap_hash(h, key));

        return b ? b->value : NULL;
}

void *hashmap_remove(Hashmap *h, const char *key) {
        Bucket *b = hashmap_find(h, key, hashmap_hash(h, key));
        void *v;

        if (!b)
                return NULL;
        v = b->value;
        *b = (Bucket) { .value = TOMBSTONE };
        assert(h->n_entries > 0);
        h->n_entries--;
        h->n_tombstones++;
        return v;
}

size_t hashmap_size(const Hashmap *h) {
        return h->n_entries;
}
