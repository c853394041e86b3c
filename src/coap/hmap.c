/* Intrusive chained hash map with power-of-two buckets, and a seeded 64-bit hash. */
#include "coap/hmap.h"

#include <stdlib.h>
#include <string.h>

nb_err nb_coap_hmap_init(nb_coap_hmap *m) {
  memset(m->inline_buckets, 0, sizeof m->inline_buckets);
  m->buckets = m->inline_buckets;
  m->nbuckets = NB_COAP_HMAP_INLINE;
  m->count = 0;
  m->low = 0;
  return NB_OK;
}

void nb_coap_hmap_deinit(nb_coap_hmap *m) {
  if (m->buckets != m->inline_buckets) free(m->buckets);
  m->buckets = NULL;
  m->nbuckets = 0;
  m->count = 0;
  m->low = 0;
}

/* Doubles the bucket array; on allocation failure the map keeps working, only slower. */
static void nb_coap_hmap_grow(nb_coap_hmap *m) {
  if (m->nbuckets > UINT32_MAX / 2) return;
  size_t n = (size_t)m->nbuckets * 2;
  /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
  nb_coap_hnode **b = calloc(n, sizeof *b);
  if (!b) return;
  for (size_t i = 0; i < m->nbuckets; i++) {
    nb_coap_hnode *node = m->buckets[i];
    while (node) {
      nb_coap_hnode *next = node->next;
      size_t j = (size_t)node->hash & (n - 1);
      node->next = b[j];
      b[j] = node;
      node = next;
    }
  }
  if (m->buckets != m->inline_buckets) free(m->buckets);
  m->buckets = b;
  m->nbuckets = (uint32_t)n;
  m->low = 0;
}

void nb_coap_hmap_insert(nb_coap_hmap *m, nb_coap_hnode *node, uint64_t hash) {
  if (m->count + 1 > m->nbuckets) nb_coap_hmap_grow(m);
  size_t i = (size_t)hash & (m->nbuckets - 1);
  node->hash = hash;
  node->next = m->buckets[i];
  m->buckets[i] = node;
  m->count++;
  if (i < m->low) m->low = (uint32_t)i;
}

void nb_coap_hmap_remove(nb_coap_hmap *m, nb_coap_hnode *node) {
  nb_coap_hnode **pp = &m->buckets[(size_t)node->hash & (m->nbuckets - 1)];
  while (*pp) {
    if (*pp == node) {
      *pp = node->next;
      node->next = NULL;
      m->count--;
      return;
    }
    pp = &(*pp)->next;
  }
}

nb_coap_hnode *nb_coap_hmap_find(const nb_coap_hmap *m, uint64_t hash, nb_coap_hmap_eq_fn eq,
                                 const void *key) {
  for (nb_coap_hnode *n = m->buckets[(size_t)hash & (m->nbuckets - 1)]; n; n = n->next) {
    if (n->hash == hash && eq(n, key)) return n;
  }
  return NULL;
}

void nb_coap_hmap_each(const nb_coap_hmap *m, void (*fn)(nb_coap_hnode *node, void *user),
                       void *user) {
  for (size_t i = 0; i < m->nbuckets; i++) {
    for (nb_coap_hnode *n = m->buckets[i]; n; n = n->next) fn(n, user);
  }
}

/* Starts at `low`, below which every bucket is empty (inserts lower it, a grow resets it), and
 * leaves it at the bucket it took from: a sequence of pops scans the array once. */
nb_coap_hnode *nb_coap_hmap_pop(nb_coap_hmap *m) {
  if (m->count == 0) return NULL;
  for (size_t i = m->low; i < m->nbuckets; i++) {
    nb_coap_hnode *n = m->buckets[i];
    if (n) {
      m->buckets[i] = n->next;
      n->next = NULL;
      m->count--;
      m->low = (uint32_t)i;
      return n;
    }
  }
  return NULL;
}

/* splitmix64 finalizer: full avalanche with plain 64-bit arithmetic (fine on 32-bit MCUs). */
static uint64_t nb_coap_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

#define NB_COAP_GOLDEN 0x9e3779b97f4a7c15ull

/* n <= 8 bytes as one word (host order: hashes are never stored or sent). */
static uint64_t nb_coap_load(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  if (n) memcpy(&v, p, n);
  return v;
}

uint64_t nb_coap_hash_bytes(uint64_t seed, const void *data, size_t len) {
  const uint8_t *p = data;
  uint64_t h = nb_coap_mix(seed ^ NB_COAP_GOLDEN ^ len);
  while (len >= 8) {
    h = nb_coap_mix(h ^ nb_coap_load(p, 8)) + NB_COAP_GOLDEN;
    p += 8;
    len -= 8;
  }
  if (len > 0) h = nb_coap_mix(h ^ nb_coap_load(p, len) ^ ((uint64_t)len << 56));
  return nb_coap_mix(h);
}

/* The fields nb_addr_equal compares, in as few words as they fit: an IPv4 peer is one word. */
static uint64_t nb_coap_addr_state(uint64_t seed, const nb_addr *a) {
  uint64_t head = (uint64_t)a->family << 48 | (uint64_t)a->port << 32;
  if (a->family == NB_ADDR_V4) return nb_coap_mix(seed ^ head ^ nb_coap_load(a->ip, 4));
  uint64_t h = nb_coap_mix(seed ^ head ^ a->scope);
  h = nb_coap_mix(h ^ nb_coap_load(a->ip, 8)) + NB_COAP_GOLDEN;
  return nb_coap_mix(h ^ nb_coap_load(a->ip + 8, 8));
}

uint64_t nb_coap_hash_addr(uint64_t seed, const nb_addr *a) {
  return nb_coap_mix(nb_coap_addr_state(seed, a) + NB_COAP_GOLDEN);
}

uint64_t nb_coap_hash_addr_key(uint64_t seed, const nb_addr *a, const void *key, size_t len) {
  uint64_t h = nb_coap_addr_state(seed ^ (len * NB_COAP_GOLDEN), a);
  const uint8_t *p = key;
  while (len > 8) {
    h = nb_coap_mix(h ^ nb_coap_load(p, 8)) + NB_COAP_GOLDEN;
    p += 8;
    len -= 8;
  }
  return nb_coap_mix(h ^ nb_coap_load(p, len));
}
