/* Intrusive chained hash map and keyed hashing for the CoAP layer's tables (peers, tokens,
 * message IDs, caches). The map owns only its bucket array; entries embed an nb_coap_hnode
 * and belong to whoever inserted them. Lookups are O(1) so 100k peers cost no scans. A map
 * starts with a few buckets inside itself (no heap: a device's tables hold one or two
 * entries) and moves to a heap array that doubles as it fills; so an initialized map must
 * not be copied by value. */
#ifndef NB_COAP_HMAP_H
#define NB_COAP_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"

typedef struct nb_coap_hnode {
  struct nb_coap_hnode *next;
  uint64_t hash;
} nb_coap_hnode;

/* Buckets inside the map: most of a device endpoint's eight maps never hold more than two
 * entries, so they never touch the heap; a server's maps grow past this at once. */
#define NB_COAP_HMAP_INLINE 2

typedef struct {
  nb_coap_hnode **buckets; /* `inline_buckets` until the map first grows */
  size_t count;
  uint32_t nbuckets; /* power of two */
  uint32_t low;      /* every bucket below this index is empty: where pop starts looking */
  nb_coap_hnode *inline_buckets[NB_COAP_HMAP_INLINE];
} nb_coap_hmap;

/* True when the entry holding `node` has the key `key`. */
typedef bool (*nb_coap_hmap_eq_fn)(const nb_coap_hnode *node, const void *key);

/* Never fails (no allocation); returns NB_OK so callers may chain it. */
nb_err nb_coap_hmap_init(nb_coap_hmap *m);
void nb_coap_hmap_deinit(nb_coap_hmap *m);
/* Never fails: if growing the bucket array is impossible, chains just get longer. */
void nb_coap_hmap_insert(nb_coap_hmap *m, nb_coap_hnode *node, uint64_t hash);
void nb_coap_hmap_remove(nb_coap_hmap *m, nb_coap_hnode *node);
nb_coap_hnode *nb_coap_hmap_find(const nb_coap_hmap *m, uint64_t hash, nb_coap_hmap_eq_fn eq,
                                 const void *key);
/* Visits every node (the callback must not modify the map); for teardown and tests. */
void nb_coap_hmap_each(const nb_coap_hmap *m, void (*fn)(nb_coap_hnode *node, void *user),
                       void *user);
/* Detaches and returns some node, or NULL when empty: lets owners free everything. Popping a
 * whole map visits each bucket once (amortized O(1) a call), whatever inserts and removals
 * come in between. */
nb_coap_hnode *nb_coap_hmap_pop(nb_coap_hmap *m);

/* Keyed hashing: the seed comes from the endpoint's random source so peers cannot aim
 * collisions at one bucket. */
uint64_t nb_coap_hash_bytes(uint64_t seed, const void *data, size_t len);
uint64_t nb_coap_hash_addr(uint64_t seed, const nb_addr *a);
/* A peer and a short key of its (Message ID, token, request key) at once: one pass instead of
 * two hashes XORed. Different lengths of the same bytes hash apart. */
uint64_t nb_coap_hash_addr_key(uint64_t seed, const nb_addr *a, const void *key, size_t len);

#endif
