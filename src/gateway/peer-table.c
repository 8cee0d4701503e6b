/* SPDX-License-Identifier: MIT */
/* peer-table.c - counters per source address and per principal (see peer-table.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "shared/macro.h"
#include "gateway/peer-table.h"

#define PEER_TABLE_MIN_BUCKETS 64U

enum {
        PEER_KEY_IPV4 = 4,
        PEER_KEY_IPV6 = 6,
        PEER_KEY_OTHER = 'o',
        PEER_KEY_PRINCIPAL = 'p',
};

void peer_key_from_sockaddr(const struct sockaddr_storage *sa, PeerKey *ret) {
        static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

        *ret = (PeerKey) {};
        if (sa->ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

                ret->data[0] = PEER_KEY_IPV4;
                memcpy(ret->data + 1, &in->sin_addr, 4);
                ret->size = 5;
        } else if (sa->ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
                const unsigned char *a = in6->sin6_addr.s6_addr;

                if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
                        ret->data[0] = PEER_KEY_IPV4;
                        memcpy(ret->data + 1, a + 12, 4);
                        ret->size = 5;
                } else {
                        ret->data[0] = PEER_KEY_IPV6;
                        memcpy(ret->data + 1, a, 8);
                        ret->size = 9;
                }
        } else {
                ret->data[0] = PEER_KEY_OTHER;
                ret->size = 1;
        }
}

void peer_key_from_principal(const char *name, PeerKey *ret) {
        size_t n = strnlen(name, PEER_KEY_MAX - 1);

        *ret = (PeerKey) {};
        ret->data[0] = PEER_KEY_PRINCIPAL;
        memcpy(ret->data + 1, name, n);
        ret->size = (uint8_t) (n + 1);
}

/* A keyed mix of the key's bytes: an attacker who picks addresses cannot aim at one bucket without the
 * seed. (Chains stay bounded by the number of connections anyway.) */
static uint64_t peer_hash(const PeerTable *t, const PeerKey *key) {
        uint64_t h = t->seed[0] ^ key->size;

        for (size_t i = 0; i < key->size; i++) {
                h ^= key->data[i];
                h *= UINT64_C(0x100000001b3);
                h ^= h >> 29;
                h += t->seed[1];
        }
        h ^= h >> 33;
        h *= UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 33;
        return h;
}

int peer_table_init(PeerTable *t) {
        *t = (PeerTable) {};
        if (getrandom(t->seed, sizeof(t->seed), GRND_NONBLOCK) != (ssize_t) sizeof(t->seed)) {
                /* Early boot without entropy: still works, just not keyed. */
                t->seed[0] = UINT64_C(0x9e3779b97f4a7c15);
                t->seed[1] = (uint64_t) (uintptr_t) t;
        }
        t->buckets = new0(PeerEntry *, PEER_TABLE_MIN_BUCKETS);
        if (!t->buckets)
                return -ENOMEM;
        t->n_buckets = PEER_TABLE_MIN_BUCKETS;
        return 0;
}

void peer_table_done(PeerTable *t) {
        for (size_t i = 0; i < t->n_buckets; i++)
                while (t->buckets[i]) {
                        PeerEntry *e = t->buckets[i];

                        t->buckets[i] = e->next;
                        free(e);
                }
        free(t->buckets);
        *t = (PeerTable) {};
}

static void peer_table_grow(PeerTable *t) {
        size_t n = t->n_buckets * 2;
        PeerEntry **b;

        b = new0(PeerEntry *, n);
        if (!b)
                return;   /* longer chains, still correct */
        for (size_t i = 0; i < t->n_buckets; i++)
                while (t->buckets[i]) {
                        PeerEntry *e = t->buckets[i];

                        t->buckets[i] = e->next;
                        e->next = b[e->hash & (n - 1)];
                        b[e->hash & (n - 1)] = e;
                }
        free(t->buckets);
        t->buckets = b;
        t->n_buckets = n;
}

static PeerEntry *peer_table_find(PeerTable *t, const PeerKey *key, uint64_t h) {
        for (PeerEntry *e = t->buckets[h & (t->n_buckets - 1)]; e; e = e->next)
                if (e->hash == h && e->key.size == key->size && memcmp(e->key.data, key->data, key->size) == 0)
                        return e;
        return NULL;
}

PeerEntry *peer_table_get(PeerTable *t, const PeerKey *key) {
        return peer_table_find(t, key, peer_hash(t, key));
}

PeerEntry *peer_table_ref(PeerTable *t, const PeerKey *key) {
        uint64_t h = peer_hash(t, key);
        PeerEntry *e = peer_table_find(t, key, h);

        if (e) {
                e->n_refs++;
                return e;
        }
        e = new0(PeerEntry, 1);
        if (!e)
                return NULL;
        e->hash = h;
        e->key = *key;
        e->n_refs = 1;
        if (t->n_entries >= t->n_buckets)
                peer_table_grow(t);
        e->next = t->buckets[h & (t->n_buckets - 1)];
        t->buckets[h & (t->n_buckets - 1)] = e;
        t->n_entries++;
        return e;
}

void peer_table_unref(PeerTable *t, PeerEntry *e) {
        if (!e || --e->n_refs > 0)
                return;
        for (PeerEntry **p = &t->buckets[e->hash & (t->n_buckets - 1)]; *p; p = &(*p)->next)
                if (*p == e) {
                        *p = e->next;
                        break;
                }
        t->n_entries--;
        free(e);
}
