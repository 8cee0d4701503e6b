/* SPDX-License-Identifier: MIT */
/* peer-table.h - connection counts per source address and per principal, for the gateway's limits.
 *
 * A hash table of small keys (a source address, or a principal name) to counters. An entry exists while a
 * connection refers to it: peer_table_ref() finds or creates it, peer_table_unref() drops it with its last
 * user. So the table never holds more entries than the gateway holds connections, whatever addresses
 * connect. The hash is keyed with a random seed, and the table grows to keep chains short. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PEER_KEY_MAX 66   /* a kind byte and a principal name of at most 64 bytes, with room to spare */

typedef struct PeerKey {
        uint8_t size;
        unsigned char data[PEER_KEY_MAX];
} PeerKey;

typedef struct PeerEntry {
        struct PeerEntry *next;    /* bucket chain */
        uint64_t hash;
        unsigned n_refs;           /* connections that refer to this entry */
        unsigned n_connections;    /* of them: counted against the per-key connection limit */
        unsigned n_handshakes;     /* of them: TLS handshake not finished */
        PeerKey key;
} PeerEntry;

typedef struct PeerTable {
        PeerEntry **buckets;
        size_t n_buckets, n_entries;
        uint64_t seed[2];
} PeerTable;

/* The key of a source address: an IPv4 address (also when IPv4-mapped in IPv6), or the /64 prefix of an IPv6
 * address (one host usually has a whole /64; counting single addresses would give it 2^64 slots). Other
 * families share one key. */
void peer_key_from_sockaddr(const struct sockaddr_storage *sa, PeerKey *ret);
/* The key of a principal name (NUL-terminated, at most 64 bytes; longer names are cut, which is safe
 * because valid principals are never longer). */
void peer_key_from_principal(const char *name, PeerKey *ret);

int peer_table_init(PeerTable *t);
void peer_table_done(PeerTable *t);
/* The entry of key with one more reference; created with zero counters. NULL when out of memory. */
PeerEntry *peer_table_ref(PeerTable *t, const PeerKey *key);
/* Drops a reference; the entry is freed with its last one (its counters must be zero by then). */
void peer_table_unref(PeerTable *t, PeerEntry *e);
PeerEntry *peer_table_get(PeerTable *t, const PeerKey *key);
