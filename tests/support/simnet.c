/* Simulated network: a min-heap of datagrams in flight ordered by delivery time (ties in send
 * order), nodes in a small open-addressing table, and a loop that always runs the earliest
 * event next, delivery or node deadline. */
#include "simnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- PRNG ---- */

void nb_simnet_rng_seed(nb_simnet_rng *rng, uint64_t seed) { rng->state = seed; }

uint64_t nb_simnet_rng_next(nb_simnet_rng *rng) {
  uint64_t z = (rng->state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double nb_simnet_rng_unit(nb_simnet_rng *rng) {
  return (double)(nb_simnet_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

nb_err nb_simnet_rng_fill(void *rng, void *buf, size_t len) {
  uint8_t *p = buf;
  while (len > 0) {
    uint64_t v = nb_simnet_rng_next(rng);
    size_t n = len < sizeof v ? len : sizeof v;
    memcpy(p, &v, n);
    p += n;
    len -= n;
  }
  return NB_OK;
}

/* ---- structures ---- */

struct nb_simnet_node {
  nb_simnet *net;
  nb_addr addr;
  nb_simnet_ops ops;
  void *user;
  bool reachable;
  nb_simnet_rng rng; /* for nodes made by nb_simnet_add_coap */
};

typedef struct {
  nb_time_ms at;
  uint64_t seq;
  nb_addr from, to;
  uint8_t *data;
  size_t len;
} nb_simnet_dgram;

typedef struct {
  nb_addr from, to;
  nb_simnet_link link;
} nb_simnet_override;

struct nb_simnet {
  nb_time_ms now;
  nb_simnet_rng rng;
  nb_simnet_link link;
  nb_simnet_override *overrides;
  size_t noverrides;
  nb_simnet_node **nodes; /* in insertion order, for deterministic ticking */
  size_t nnodes, cap_nodes;
  nb_simnet_node **table; /* open addressing by address */
  size_t table_cap;
  nb_simnet_dgram *heap;
  size_t nheap, cap_heap;
  uint64_t seq;
  nb_simnet_tap_fn tap;
  void *tap_user;
  nb_simnet_stats stats;
};

nb_simnet *nb_simnet_new(uint64_t seed) {
  nb_simnet *net = calloc(1, sizeof *net);
  if (!net) return NULL;
  nb_simnet_rng_seed(&net->rng, seed);
  net->link.delay_min = net->link.delay_max = 10;
  return net;
}

void nb_simnet_free(nb_simnet *net) {
  if (!net) return;
  for (size_t i = 0; i < net->nnodes; i++) {
    nb_simnet_node *n = net->nodes[i];
    if (n->ops.destroy) n->ops.destroy(n->user);
    free(n);
  }
  for (size_t i = 0; i < net->nheap; i++) free(net->heap[i].data);
  free(net->heap);
  free(net->nodes);
  free(net->table);
  free(net->overrides);
  free(net);
}

nb_time_ms nb_simnet_now(const nb_simnet *net) { return net->now; }
nb_simnet_rng *nb_simnet_rng_of(nb_simnet *net) { return &net->rng; }
void nb_simnet_get_stats(const nb_simnet *net, nb_simnet_stats *out) { *out = net->stats; }
void nb_simnet_set_link(nb_simnet *net, const nb_simnet_link *link) { net->link = *link; }

nb_err nb_simnet_set_link_between(nb_simnet *net, const nb_addr *from, const nb_addr *to,
                                  const nb_simnet_link *link) {
  for (size_t i = 0; i < net->noverrides; i++) {
    if (nb_addr_equal(&net->overrides[i].from, from) && nb_addr_equal(&net->overrides[i].to, to)) {
      net->overrides[i].link = *link;
      return NB_OK;
    }
  }
  nb_simnet_override *o = realloc(net->overrides, (net->noverrides + 1) * sizeof *o);
  if (!o) return NB_ERR_NOMEM;
  net->overrides = o;
  o[net->noverrides++] = (nb_simnet_override){*from, *to, *link};
  return NB_OK;
}

static const nb_simnet_link *nb_simnet_link_for(const nb_simnet *net, const nb_addr *from,
                                                const nb_addr *to) {
  for (size_t i = 0; i < net->noverrides; i++) {
    if (nb_addr_equal(&net->overrides[i].from, from) && nb_addr_equal(&net->overrides[i].to, to)) {
      return &net->overrides[i].link;
    }
  }
  return &net->link;
}

/* ---- nodes ---- */

static size_t nb_simnet_slot(const nb_simnet *net, const nb_addr *addr) {
  size_t i = nb_addr_hash(addr) & (net->table_cap - 1);
  while (net->table[i] && !nb_addr_equal(&net->table[i]->addr, addr)) {
    i = (i + 1) & (net->table_cap - 1);
  }
  return i;
}

static nb_simnet_node *nb_simnet_find(const nb_simnet *net, const nb_addr *addr) {
  return net->table_cap ? net->table[nb_simnet_slot(net, addr)] : NULL;
}

static bool nb_simnet_grow_table(nb_simnet *net) {
  size_t cap = net->table_cap ? net->table_cap * 2 : 64;
  nb_simnet_node **old = net->table;
  size_t old_cap = net->table_cap;
  net->table = calloc(cap, sizeof *net->table);
  if (!net->table) {
    net->table = old;
    return false;
  }
  net->table_cap = cap;
  for (size_t i = 0; i < old_cap; i++) {
    if (old[i]) net->table[nb_simnet_slot(net, &old[i]->addr)] = old[i];
  }
  free(old);
  return true;
}

nb_simnet_node *nb_simnet_add(nb_simnet *net, const nb_addr *addr, const nb_simnet_ops *ops,
                              void *user) {
  if (nb_simnet_find(net, addr)) return NULL;
  if ((net->nnodes + 1) * 2 > net->table_cap && !nb_simnet_grow_table(net)) return NULL;
  if (net->nnodes == net->cap_nodes) {
    size_t cap = net->cap_nodes ? net->cap_nodes * 2 : 16;
    nb_simnet_node **nodes = realloc(net->nodes, cap * sizeof *nodes);
    if (!nodes) return NULL;
    net->nodes = nodes;
    net->cap_nodes = cap;
  }
  nb_simnet_node *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  n->net = net;
  n->addr = *addr;
  n->ops = *ops;
  n->user = user;
  n->reachable = true;
  nb_simnet_rng_seed(&n->rng, nb_simnet_rng_next(&net->rng));
  net->nodes[net->nnodes++] = n;
  net->table[nb_simnet_slot(net, addr)] = n;
  return n;
}

void nb_simnet_node_set_user(nb_simnet_node *node, void *user) { node->user = user; }
const nb_addr *nb_simnet_node_addr(const nb_simnet_node *node) { return &node->addr; }
void nb_simnet_node_set_reachable(nb_simnet_node *node, bool reachable) {
  node->reachable = reachable;
}

/* ---- datagrams in flight ---- */

static bool nb_simnet_before(const nb_simnet_dgram *a, const nb_simnet_dgram *b) {
  return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static nb_err nb_simnet_push(nb_simnet *net, const nb_addr *from, const nb_addr *to,
                             const uint8_t *data, size_t len, nb_time_ms at) {
  if (net->nheap == net->cap_heap) {
    size_t cap = net->cap_heap ? net->cap_heap * 2 : 64;
    nb_simnet_dgram *h = realloc(net->heap, cap * sizeof *h);
    if (!h) return NB_ERR_NOMEM;
    net->heap = h;
    net->cap_heap = cap;
  }
  nb_simnet_dgram d = {at, net->seq++, *from, *to, malloc(len ? len : 1), len};
  if (!d.data) return NB_ERR_NOMEM;
  if (len) memcpy(d.data, data, len);
  size_t i = net->nheap++;
  while (i > 0 && nb_simnet_before(&d, &net->heap[(i - 1) / 2])) {
    net->heap[i] = net->heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  net->heap[i] = d;
  return NB_OK;
}

static nb_simnet_dgram nb_simnet_pop(nb_simnet *net) {
  nb_simnet_dgram top = net->heap[0];
  nb_simnet_dgram last = net->heap[--net->nheap];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= net->nheap) break;
    if (c + 1 < net->nheap && nb_simnet_before(&net->heap[c + 1], &net->heap[c])) c++;
    if (!nb_simnet_before(&net->heap[c], &last)) break;
    net->heap[i] = net->heap[c];
    i = c;
  }
  if (net->nheap) net->heap[i] = last;
  return top;
}

static nb_time_ms nb_simnet_delay(nb_simnet *net, const nb_simnet_link *l) {
  nb_time_ms d = l->delay_min;
  if (l->delay_max > l->delay_min) {
    d += (nb_time_ms)(nb_simnet_rng_unit(&net->rng) * (double)(l->delay_max - l->delay_min + 1));
  }
  if (l->reorder > 0 && nb_simnet_rng_unit(&net->rng) < l->reorder) d += l->reorder_delay;
  return d;
}

void nb_simnet_send(void *node, const nb_addr *to, const uint8_t *data, size_t len) {
  nb_simnet_node *n = node;
  nb_simnet *net = n->net;
  net->stats.sent++;
  if (net->tap && !net->tap(net->tap_user, &n->addr, to, data, len, net->now)) {
    net->stats.dropped++;
    return;
  }
  const nb_simnet_link *l = nb_simnet_link_for(net, &n->addr, to);
  if (l->drop > 0 && nb_simnet_rng_unit(&net->rng) < l->drop) {
    net->stats.dropped++;
    return;
  }
  int copies = 1;
  if (l->duplicate > 0 && nb_simnet_rng_unit(&net->rng) < l->duplicate) {
    copies = 2;
    net->stats.duplicated++;
  }
  for (int i = 0; i < copies; i++) {
    nb_simnet_push(net, &n->addr, to, data, len, net->now + nb_simnet_delay(net, l));
  }
}

void nb_simnet_set_tap(nb_simnet *net, nb_simnet_tap_fn tap, void *user) {
  net->tap = tap;
  net->tap_user = user;
}

nb_err nb_simnet_inject(nb_simnet *net, const nb_addr *from, const nb_addr *to, const uint8_t *data,
                        size_t len, nb_time_ms at) {
  return nb_simnet_push(net, from, to, data, len, at < net->now ? net->now : at);
}

/* ---- event loop ---- */

static nb_time_ms nb_simnet_node_deadline(const nb_simnet_node *n) {
  return n->ops.next_deadline ? n->ops.next_deadline(n->user) : NB_TIME_NEVER;
}

/* Earliest node deadline (a scan: test networks are small). */
static nb_time_ms nb_simnet_next_deadline(const nb_simnet *net) {
  nb_time_ms t = NB_TIME_NEVER;
  for (size_t i = 0; i < net->nnodes; i++)
    t = nb_time_min(t, nb_simnet_node_deadline(net->nodes[i]));
  return t;
}

static void nb_simnet_deliver(nb_simnet *net) {
  nb_simnet_dgram d = nb_simnet_pop(net);
  nb_simnet_node *n = nb_simnet_find(net, &d.to);
  if (n && n->reachable && n->ops.receive) {
    net->stats.delivered++;
    n->ops.receive(n->user, &d.from, d.data, d.len, net->now);
  } else {
    net->stats.unreachable++;
  }
  free(d.data);
}

static void nb_simnet_tick_due(nb_simnet *net) {
  for (size_t i = 0; i < net->nnodes; i++) {
    nb_simnet_node *n = net->nodes[i];
    if (n->ops.tick && nb_simnet_node_deadline(n) <= net->now) n->ops.tick(n->user, net->now);
  }
}

/* Runs the earliest event if it is due by t; false when there is none. */
static bool nb_simnet_step(nb_simnet *net, nb_time_ms t) {
  nb_time_ms tick = nb_simnet_next_deadline(net);
  nb_time_ms dgram = net->nheap ? net->heap[0].at : NB_TIME_NEVER;
  nb_time_ms next = nb_time_min(tick, dgram);
  if (next > t || next == NB_TIME_NEVER) return false;
  if (next > net->now) net->now = next;
  if (dgram <= tick) {
    nb_simnet_deliver(net);
  } else {
    nb_simnet_tick_due(net);
  }
  return true;
}

bool nb_simnet_run_until_cond(nb_simnet *net, nb_time_ms t_max, bool (*done)(void *user),
                              void *user) {
  uint64_t same_time = 0;
  nb_time_ms last = net->now;
  if (done && done(user)) return true;
  while (nb_simnet_step(net, t_max)) {
    if (done && done(user)) return true;
    same_time = net->now == last ? same_time + 1 : 0;
    last = net->now;
    if (same_time > 10000000) {
      /* A node that never moves its deadline forward would spin here forever. */
      fprintf(stderr, "simnet: no progress at t=%lld\n", (long long)net->now);
      abort();
    }
  }
  if (t_max > net->now) net->now = t_max;
  return done ? done(user) : false;
}

void nb_simnet_run_until(nb_simnet *net, nb_time_ms t) {
  nb_simnet_run_until_cond(net, t, NULL, NULL);
}

/* ---- recorder ---- */

struct nb_simnet_recorder {
  nb_simnet_record *items;
  size_t n, cap;
};

static void nb_simnet_rec_receive(void *user, const nb_addr *from, const uint8_t *data, size_t len,
                                  nb_time_ms now) {
  nb_simnet_recorder *r = user;
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 32;
    nb_simnet_record *items = realloc(r->items, cap * sizeof *items);
    if (!items) return;
    r->items = items;
    r->cap = cap;
  }
  nb_simnet_record *rec = &r->items[r->n];
  rec->data = malloc(len ? len : 1);
  if (!rec->data) return;
  if (len) memcpy(rec->data, data, len);
  rec->len = len;
  rec->at = now;
  rec->from = *from;
  r->n++;
}

void nb_simnet_recorder_clear(nb_simnet_recorder *rec) {
  for (size_t i = 0; i < rec->n; i++) free(rec->items[i].data);
  rec->n = 0;
}

static void nb_simnet_rec_destroy(void *user) {
  nb_simnet_recorder *r = user;
  nb_simnet_recorder_clear(r);
  free(r->items);
  free(r);
}

nb_simnet_node *nb_simnet_add_recorder(nb_simnet *net, const nb_addr *addr,
                                       nb_simnet_recorder **rec) {
  static const nb_simnet_ops ops = {nb_simnet_rec_receive, NULL, NULL, nb_simnet_rec_destroy};
  nb_simnet_recorder *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  nb_simnet_node *node = nb_simnet_add(net, addr, &ops, r);
  if (!node) {
    free(r);
    return NULL;
  }
  *rec = r;
  return node;
}

size_t nb_simnet_recorder_count(const nb_simnet_recorder *rec) { return rec->n; }

const nb_simnet_record *nb_simnet_recorder_get(const nb_simnet_recorder *rec, size_t i) {
  return i < rec->n ? &rec->items[i] : NULL;
}

/* ---- CoAP convenience ---- */

nb_addr nb_simnet_addr(unsigned n, uint16_t port) {
  nb_addr a;
  memset(&a, 0, sizeof a);
  a.family = NB_ADDR_V4;
  a.port = port;
  a.ip[0] = 10;
  a.ip[1] = (uint8_t)(n >> 16);
  a.ip[2] = (uint8_t)(n >> 8);
  a.ip[3] = (uint8_t)n;
  return a;
}

static void nb_simnet_coap_receive(void *user, const nb_addr *from, const uint8_t *data, size_t len,
                                   nb_time_ms now) {
  nb_coap_ep_receive(user, from, data, len, now);
}
static nb_time_ms nb_simnet_coap_deadline(void *user) { return nb_coap_ep_next_deadline(user); }
static void nb_simnet_coap_tick(void *user, nb_time_ms now) { nb_coap_ep_tick(user, now); }
static void nb_simnet_coap_destroy(void *user) { nb_coap_ep_free(user); }

nb_simnet_node *nb_simnet_add_coap(nb_simnet *net, const nb_addr *addr,
                                   const nb_coap_ep_config *cfg, nb_coap_ep **ep) {
  static const nb_simnet_ops ops = {nb_simnet_coap_receive, nb_simnet_coap_deadline,
                                    nb_simnet_coap_tick, nb_simnet_coap_destroy};
  nb_coap_ep_config c;
  if (cfg) {
    c = *cfg;
  } else {
    nb_coap_ep_config_default(&c);
    c.random = NULL;
  }
  nb_simnet_node *node = nb_simnet_add(net, addr, &ops, NULL);
  if (!node) return NULL;
  if (!c.random) {
    c.random = nb_simnet_rng_fill;
    c.random_user = &node->rng;
  }
  if (nb_coap_ep_new(&c, nb_simnet_send, node, ep) != NB_OK) {
    memset(&node->ops, 0, sizeof node->ops); /* stays as a silent address */
    return NULL;
  }
  nb_simnet_node_set_user(node, *ep);
  return node;
}
