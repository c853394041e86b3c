/* Deduplication cache: hash map for lookup plus one FIFO per message type. Lifetimes are
 * constant per type, so each FIFO is also ordered by expiry and expiring is O(expired). */
#include "coap/dedup.h"

#include <stdlib.h>
#include <string.h>

#include "coap/msg.h"

struct nb_coap_dedup_key {
  const nb_addr *peer;
  uint16_t mid;
};

static bool nb_coap_dedup_eq(const nb_coap_hnode *node, const void *key) {
  const nb_coap_dedup_entry *e = (const nb_coap_dedup_entry *)node;
  const struct nb_coap_dedup_key *k = key;
  return e->mid == k->mid && nb_addr_equal(&e->peer, k->peer);
}

static uint64_t nb_coap_dedup_hash(const nb_coap_dedup *d, const nb_addr *peer, uint16_t mid) {
  return nb_coap_hash_addr_key(d->seed, peer, &mid, sizeof mid);
}

nb_err nb_coap_dedup_init(nb_coap_dedup *d, uint64_t seed, size_t max, nb_time_ms con_lifetime,
                          nb_time_ms non_lifetime) {
  memset(d, 0, sizeof *d);
  d->seed = seed;
  d->max = max ? max : 1;
  d->con_lifetime = con_lifetime;
  d->non_lifetime = non_lifetime;
  return nb_coap_hmap_init(&d->map);
}

static nb_coap_dedup_list *nb_coap_dedup_list_of(nb_coap_dedup *d, uint8_t type) {
  return type == NB_COAP_CON ? &d->con : &d->non;
}

/* Entries only ever leave from the head of their list (expiry and eviction go oldest first),
 * so the lists are singly linked. */
/* e must be the head of its list. */
static void nb_coap_dedup_drop(nb_coap_dedup *d, nb_coap_dedup_entry *e) {
  nb_coap_dedup_list *l = nb_coap_dedup_list_of(d, e->type);
  l->head = e->next;
  if (!l->head) l->tail = NULL;
  nb_coap_hmap_remove(&d->map, &e->node);
  if (e->backref) *e->backref = NULL;
  free(e->reply);
  free(e);
}

void nb_coap_dedup_deinit(nb_coap_dedup *d) {
  while (d->con.head) nb_coap_dedup_drop(d, d->con.head);
  while (d->non.head) nb_coap_dedup_drop(d, d->non.head);
  nb_coap_hmap_deinit(&d->map);
}

nb_coap_dedup_entry *nb_coap_dedup_find(nb_coap_dedup *d, const nb_addr *peer, uint16_t mid) {
  struct nb_coap_dedup_key k = {peer, mid};
  return (nb_coap_dedup_entry *)nb_coap_hmap_find(&d->map, nb_coap_dedup_hash(d, peer, mid),
                                                  nb_coap_dedup_eq, &k);
}

static void nb_coap_dedup_evict_oldest(nb_coap_dedup *d) {
  nb_coap_dedup_entry *c = d->con.head, *n = d->non.head;
  /* Insertion times, from the expiries (each list has one lifetime). */
  nb_coap_dedup_entry *victim =
      !c   ? n
      : !n ? c
           : (c->expires - d->con_lifetime <= n->expires - d->non_lifetime ? c : n);
  if (victim) nb_coap_dedup_drop(d, victim);
}

static nb_coap_dedup_entry *nb_coap_dedup_add(nb_coap_dedup *d, const nb_addr *peer, uint16_t mid,
                                              uint8_t type, nb_time_ms now, uint64_t hash) {
  while (d->map.count >= d->max) nb_coap_dedup_evict_oldest(d);
  nb_coap_dedup_entry *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->peer = *peer;
  e->mid = mid;
  e->type = type == NB_COAP_CON ? NB_COAP_CON : NB_COAP_NON;
  e->expires = now + (e->type == NB_COAP_CON ? d->con_lifetime : d->non_lifetime);
  nb_coap_dedup_list *l = nb_coap_dedup_list_of(d, e->type);
  if (l->tail)
    l->tail->next = e;
  else
    l->head = e;
  l->tail = e;
  nb_coap_hmap_insert(&d->map, &e->node, hash);
  return e;
}

nb_err nb_coap_dedup_insert(nb_coap_dedup *d, const nb_addr *peer, uint16_t mid, uint8_t type,
                            nb_time_ms now, nb_coap_dedup_entry **out) {
  *out = nb_coap_dedup_add(d, peer, mid, type, now, nb_coap_dedup_hash(d, peer, mid));
  return *out ? NB_OK : NB_ERR_NOMEM;
}

nb_coap_dedup_entry *nb_coap_dedup_check(nb_coap_dedup *d, const nb_addr *peer, uint16_t mid,
                                         uint8_t type, nb_time_ms now, bool *dup) {
  struct nb_coap_dedup_key k = {peer, mid};
  uint64_t h = nb_coap_dedup_hash(d, peer, mid);
  nb_coap_dedup_entry *e =
      (nb_coap_dedup_entry *)nb_coap_hmap_find(&d->map, h, nb_coap_dedup_eq, &k);
  *dup = e != NULL;
  return e ? e : nb_coap_dedup_add(d, peer, mid, type, now, h);
}

nb_err nb_coap_dedup_set_reply(nb_coap_dedup_entry *e, const uint8_t *data, size_t len) {
  if (len > UINT32_MAX) return NB_ERR_RANGE;
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) return NB_ERR_NOMEM;
  if (len) memcpy(copy, data, len);
  free(e->reply);
  e->reply = copy;
  e->reply_len = (uint32_t)len;
  e->empty_reply = 0;
  return NB_OK;
}

void nb_coap_dedup_set_empty_reply(nb_coap_dedup_entry *e, uint8_t first_byte) {
  free(e->reply);
  e->reply = NULL;
  e->reply_len = 0;
  e->empty_reply = first_byte;
}

bool nb_coap_dedup_reply(const nb_coap_dedup_entry *e, uint8_t buf[4], const uint8_t **data,
                         size_t *len) {
  if (e->empty_reply) {
    buf[0] = e->empty_reply;
    buf[1] = NB_COAP_EMPTY;
    buf[2] = (uint8_t)(e->mid >> 8);
    buf[3] = (uint8_t)e->mid;
    *data = buf;
    *len = 4;
    return true;
  }
  *data = e->reply;
  *len = e->reply_len;
  return e->reply != NULL;
}

void nb_coap_dedup_expire(nb_coap_dedup *d, nb_time_ms now) {
  while (d->con.head && d->con.head->expires <= now) nb_coap_dedup_drop(d, d->con.head);
  while (d->non.head && d->non.head->expires <= now) nb_coap_dedup_drop(d, d->non.head);
}

nb_time_ms nb_coap_dedup_next(const nb_coap_dedup *d) {
  nb_time_ms t = NB_TIME_NEVER;
  if (d->con.head) t = nb_time_min(t, d->con.head->expires);
  if (d->non.head) t = nb_time_min(t, d->non.head->expires);
  return t;
}
