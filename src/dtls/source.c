/* Handshake sources: the address-to-source rule, per-source counts, the known-source set and
 * the heavy-hitter tally. */
#include "dtls/source.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool nb_dtls_v4_mapped(const uint8_t ip[16]) {
  static const uint8_t head[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return memcmp(ip, head, sizeof head) == 0;
}

/* fe80::/10: the same /64 on every link, so the whole address tells devices apart. */
static bool nb_dtls_link_local(const uint8_t ip[16]) {
  return ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80;
}

void nb_dtls_source_of(const nb_addr *peer, nb_dtls_source *out) {
  memset(out, 0, sizeof *out);
  if (peer->family == NB_ADDR_V6 && !nb_dtls_v4_mapped(peer->ip)) {
    out->family = NB_ADDR_V6;
    memcpy(out->prefix, peer->ip, nb_dtls_link_local(peer->ip) ? 16 : 8);
    return;
  }
  out->family = NB_ADDR_V4;
  memcpy(out->prefix, peer->family == NB_ADDR_V4 ? peer->ip : peer->ip + 12, 4);
}

bool nb_dtls_source_equal(const nb_dtls_source *a, const nb_dtls_source *b) {
  return a->family == b->family && memcmp(a->prefix, b->prefix, sizeof a->prefix) == 0;
}

const char *nb_dtls_source_format(const nb_dtls_source *s, char *buf, size_t cap) {
  char ip[INET6_ADDRSTRLEN];
  int af = s->family == NB_ADDR_V4 ? AF_INET : AF_INET6;
  if (!inet_ntop(af, s->prefix, ip, sizeof ip)) snprintf(ip, sizeof ip, "?");
  bool prefix = s->family == NB_ADDR_V6 && !nb_dtls_link_local(s->prefix);
  snprintf(buf, cap, "%s%s", ip, prefix ? "/64" : "");
  return buf;
}

static uint64_t nb_dtls_source_hash(uint64_t seed, const nb_dtls_source *s) {
  return nb_coap_hash_bytes(seed, s, sizeof *s);
}

/* ---- handshakes in progress per source ---- */

void nb_dtls_sources_init(nb_dtls_sources *t, uint64_t seed) {
  nb_coap_hmap_init(&t->map);
  t->seed = seed;
}

void nb_dtls_sources_deinit(nb_dtls_sources *t) {
  nb_coap_hnode *n;
  while ((n = nb_coap_hmap_pop(&t->map)) != NULL) free(n);
  nb_coap_hmap_deinit(&t->map);
}

static bool nb_dtls_source_rec_eq(const nb_coap_hnode *node, const void *key) {
  return nb_dtls_source_equal(&((const nb_dtls_source_rec *)node)->source, key);
}

nb_dtls_source_rec *nb_dtls_sources_find(const nb_dtls_sources *t, const nb_dtls_source *s) {
  return (nb_dtls_source_rec *)nb_coap_hmap_find(&t->map, nb_dtls_source_hash(t->seed, s),
                                                 nb_dtls_source_rec_eq, s);
}

nb_dtls_source_rec *nb_dtls_sources_take(nb_dtls_sources *t, const nb_dtls_source *s) {
  nb_dtls_source_rec *r = nb_dtls_sources_find(t, s);
  if (!r) {
    r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->source = *s;
    nb_coap_hmap_insert(&t->map, &r->node, nb_dtls_source_hash(t->seed, s));
  }
  r->handshakes++;
  return r;
}

void nb_dtls_sources_give(nb_dtls_sources *t, nb_dtls_source_rec *rec) {
  if (--rec->handshakes > 0) return;
  nb_coap_hmap_remove(&t->map, &rec->node);
  free(rec);
}

/* ---- sources that completed a handshake ---- */

enum { NB_DTLS_KNOWN_WAYS = 4 };

nb_err nb_dtls_known_init(nb_dtls_known *k, size_t capacity, nb_time_ms ttl_ms, uint64_t seed) {
  memset(k, 0, sizeof *k);
  k->ttl_ms = ttl_ms;
  k->seed = seed;
  if (capacity == 0) return NB_OK;
  size_t sets = 1;
  while (sets * NB_DTLS_KNOWN_WAYS < capacity) sets *= 2;
  k->slots = calloc(sets * NB_DTLS_KNOWN_WAYS, sizeof *k->slots);
  if (!k->slots) return NB_ERR_NOMEM;
  k->nsets = sets;
  return NB_OK;
}

void nb_dtls_known_deinit(nb_dtls_known *k) {
  free(k->slots);
  k->slots = NULL;
  k->nsets = 0;
}

/* The set a source belongs to and its tag there (never 0: 0 marks an empty slot). */
static nb_dtls_known_slot *nb_dtls_known_set(const nb_dtls_known *k, const nb_dtls_source *s,
                                             uint64_t *tag) {
  uint64_t h = nb_dtls_source_hash(k->seed, s);
  *tag = h | 1;
  size_t set = (size_t)(h >> 32) & (k->nsets - 1);
  return &k->slots[set * NB_DTLS_KNOWN_WAYS];
}

bool nb_dtls_known_has(const nb_dtls_known *k, const nb_dtls_source *s, nb_time_ms now) {
  if (!k->slots) return false;
  uint64_t tag;
  const nb_dtls_known_slot *set = nb_dtls_known_set(k, s, &tag);
  for (int i = 0; i < NB_DTLS_KNOWN_WAYS; i++) {
    if (set[i].tag == tag) return now - set[i].seen < k->ttl_ms;
  }
  return false;
}

void nb_dtls_known_add(nb_dtls_known *k, const nb_dtls_source *s, nb_time_ms now) {
  if (!k->slots) return;
  uint64_t tag;
  nb_dtls_known_slot *set = nb_dtls_known_set(k, s, &tag);
  /* Its own slot, else an empty one, else the least recently seen of the set. Slots are never
   * emptied, so the empty ones are the last ones. */
  nb_dtls_known_slot *slot = &set[0];
  for (int i = 0; i < NB_DTLS_KNOWN_WAYS; i++) {
    if (set[i].tag == tag || set[i].tag == 0) {
      slot = &set[i];
      break;
    }
    if (set[i].seen < slot->seen) slot = &set[i];
  }
  slot->tag = tag;
  slot->seen = now;
}

/* ---- heavy hitters ---- */

void nb_dtls_source_top_add(nb_dtls_source_top *t, const nb_dtls_source *s) {
  int low = 0;
  for (int i = 0; i < NB_DTLS_TOP_N; i++) {
    if (t->count[i] > 0 && nb_dtls_source_equal(&t->source[i], s)) {
      t->count[i]++;
      return;
    }
    if (t->count[i] < t->count[low]) low = i;
  }
  /* Space-saving: the newcomer takes the smallest counter and inherits its count. */
  t->source[low] = *s;
  t->count[low]++;
}

const nb_dtls_source *nb_dtls_source_top_first(const nb_dtls_source_top *t, uint64_t *count) {
  int best = 0;
  for (int i = 1; i < NB_DTLS_TOP_N; i++)
    if (t->count[i] > t->count[best]) best = i;
  *count = t->count[best];
  return t->count[best] > 0 ? &t->source[best] : NULL;
}

void nb_dtls_source_top_reset(nb_dtls_source_top *t) { memset(t, 0, sizeof *t); }
