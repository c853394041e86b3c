/* Admission control: see admit.h. A connection is in one state at a time; the three states
 * with a deadline (waiting for a header, for a body, idle between requests) are FIFO lists in
 * the order connections entered them, so the oldest is at the head: expiry pops heads and
 * eviction takes the older of two heads (scanning for one address only when that address is
 * at its bound). */
#include "http/admit.h"

#include <stdlib.h>
#include <string.h>

#include "coap/hmap.h"

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* The first NLISTS states have a deadline and a list. */
typedef enum {
  ST_HEADER,
  ST_BODY,
  ST_IDLE,
  NLISTS,
  ST_ACTIVE = NLISTS,
  ST_STREAM,
  ST_DEAD
} conn_state;

typedef struct {
  nb_coap_hnode node;
  uint8_t key[9]; /* family, then the IPv4 address or the IPv6 /64 */
  size_t conns, streams;
} peer;

struct nb_http_conn {
  nb_http_conn *prev, *next;
  peer *p;
  int fd;
  conn_state st;
  nb_time_ms since; /* when it entered its state */
};

typedef struct {
  nb_http_conn *head, *tail;
} fifo;

struct nb_http_admit {
  nb_http_admit_config cfg;
  uint64_t seed;
  nb_coap_hmap peers;
  fifo q[NLISTS];
  size_t conns, streams;
  nb_http_admit_stats stats;
};

void nb_http_admit_config_default(nb_http_admit_config *cfg) {
  cfg->max_conns = 1000;
  cfg->max_conns_per_addr = 256;
  cfg->max_streams = 256;
  cfg->max_streams_per_addr = 32;
  cfg->header_timeout = 5000;
  cfg->body_timeout = 10000;
  cfg->idle_timeout = 5000;
}

nb_err nb_http_admit_new(const nb_http_admit_config *cfg, uint64_t seed, nb_http_admit **out) {
  nb_http_admit *a = calloc(1, sizeof(*a));
  if (!a) return NB_ERR_NOMEM;
  nb_http_admit_config d;
  nb_http_admit_config_default(&d);
  a->cfg = *cfg;
  if (!a->cfg.max_conns) a->cfg.max_conns = d.max_conns;
  if (!a->cfg.max_conns_per_addr) a->cfg.max_conns_per_addr = d.max_conns_per_addr;
  if (!a->cfg.max_streams) a->cfg.max_streams = d.max_streams;
  if (!a->cfg.max_streams_per_addr) a->cfg.max_streams_per_addr = d.max_streams_per_addr;
  if (!a->cfg.header_timeout) a->cfg.header_timeout = d.header_timeout;
  if (!a->cfg.body_timeout) a->cfg.body_timeout = d.body_timeout;
  if (!a->cfg.idle_timeout) a->cfg.idle_timeout = d.idle_timeout;
  a->seed = seed;
  nb_coap_hmap_init(&a->peers);
  *out = a;
  return NB_OK;
}

void nb_http_admit_free(nb_http_admit *a) {
  if (!a) return;
  /* Entries belong to their connections (closed by the daemon first); peers are ours. */
  nb_coap_hnode *n;
  while ((n = nb_coap_hmap_pop(&a->peers))) free(CONTAINER(n, peer, node));
  nb_coap_hmap_deinit(&a->peers);
  free(a);
}

/* ---- client addresses ---- */

static void peer_key(const nb_addr *addr, uint8_t key[9]) {
  static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
  memset(key, 0, 9);
  if (addr->family == NB_ADDR_V6 && memcmp(addr->ip, mapped, 12) != 0) {
    key[0] = NB_ADDR_V6;
    memcpy(key + 1, addr->ip, 8); /* one /64 is one client: it has them all */
  } else {
    key[0] = NB_ADDR_V4;
    memcpy(key + 1, addr->family == NB_ADDR_V6 ? addr->ip + 12 : addr->ip, 4);
  }
}

static bool peer_eq(const nb_coap_hnode *node, const void *key) {
  return memcmp(CONTAINER(node, peer, node)->key, key, 9) == 0;
}

static peer *peer_get(nb_http_admit *a, const nb_addr *addr) {
  uint8_t key[9];
  peer_key(addr, key);
  uint64_t h = nb_coap_hash_bytes(a->seed, key, sizeof(key));
  nb_coap_hnode *n = nb_coap_hmap_find(&a->peers, h, peer_eq, key);
  if (n) return CONTAINER(n, peer, node);
  peer *p = calloc(1, sizeof(*p));
  if (!p) return NULL;
  memcpy(p->key, key, sizeof(key));
  nb_coap_hmap_insert(&a->peers, &p->node, h);
  return p;
}

static void peer_release(nb_http_admit *a, peer *p) {
  if (p->conns || p->streams) return;
  nb_coap_hmap_remove(&a->peers, &p->node);
  free(p);
}

/* ---- state lists ---- */

static fifo *list_of(nb_http_admit *a, conn_state st) { return st < NLISTS ? &a->q[st] : NULL; }

static void enter(nb_http_admit *a, nb_http_conn *c, conn_state st, nb_time_ms now) {
  c->st = st;
  c->since = now;
  fifo *q = list_of(a, st);
  if (!q) return;
  c->next = NULL;
  c->prev = q->tail;
  if (q->tail)
    q->tail->next = c;
  else
    q->head = c;
  q->tail = c;
}

static void leave(nb_http_admit *a, nb_http_conn *c) {
  fifo *q = list_of(a, c->st);
  if (!q) return;
  if (c->prev)
    c->prev->next = c->next;
  else
    q->head = c->next;
  if (c->next)
    c->next->prev = c->prev;
  else
    q->tail = c->prev;
  c->prev = c->next = NULL;
}

/* Takes c out of every count: its socket is being closed. */
static void forget(nb_http_admit *a, nb_http_conn *c) {
  if (c->st == ST_DEAD) return;
  leave(a, c);
  if (c->st == ST_STREAM) {
    c->p->streams--;
    a->streams--;
  }
  c->p->conns--;
  a->conns--;
  peer_release(a, c->p);
  c->p = NULL;
  c->st = ST_DEAD;
}

/* The oldest connection without a complete header, or idle, of p (NULL: of anyone). */
static nb_http_conn *oldest_evictable(nb_http_admit *a, const peer *p) {
  nb_http_conn *best = NULL;
  conn_state lists[] = {ST_HEADER, ST_IDLE};
  for (size_t i = 0; i < 2; i++) {
    nb_http_conn *c = a->q[lists[i]].head;
    while (c && p && c->p != p) c = c->next;
    if (c && (!best || c->since < best->since)) best = c;
  }
  return best;
}

/* ---- the connection's life ---- */

nb_err nb_http_admit_open(nb_http_admit *a, const nb_addr *peer_addr, int fd, nb_time_ms now,
                          nb_http_conn **conn, int *evict_fd) {
  *conn = NULL;
  *evict_fd = -1;
  peer *p = peer_get(a, peer_addr);
  if (!p) return NB_ERR_NOMEM;
  nb_http_conn *victim = NULL;
  bool full = false;
  if (p->conns >= a->cfg.max_conns_per_addr) {
    full = true;
    victim = oldest_evictable(a, p);
  } else if (a->conns >= a->cfg.max_conns) {
    full = true;
    victim = oldest_evictable(a, NULL);
  }
  if (full && !victim) {
    a->stats.refused++;
    peer_release(a, p);
    return NB_OK;
  }
  nb_http_conn *c = calloc(1, sizeof(*c));
  if (!c) {
    peer_release(a, p);
    return NB_ERR_NOMEM;
  }
  c->p = p;
  c->fd = fd;
  p->conns++; /* before the eviction, which may release p otherwise */
  a->conns++;
  a->stats.opened++;
  if (victim) {
    *evict_fd = victim->fd;
    forget(a, victim);
    a->stats.evicted++;
  }
  enter(a, c, ST_HEADER, now);
  *conn = c;
  return NB_OK;
}

void nb_http_admit_header(nb_http_admit *a, nb_http_conn *c, bool has_body, nb_time_ms now) {
  if (c->st == ST_DEAD) return;
  leave(a, c);
  enter(a, c, has_body ? ST_BODY : ST_ACTIVE, now);
}

void nb_http_admit_body(nb_http_admit *a, nb_http_conn *c) {
  if (c->st != ST_BODY) return;
  leave(a, c);
  enter(a, c, ST_ACTIVE, c->since);
}

void nb_http_admit_progress(nb_http_admit *a, nb_http_conn *c, nb_time_ms now) {
  if (c->st != ST_BODY) return;
  leave(a, c);
  enter(a, c, ST_BODY, now);
}

nb_err nb_http_admit_stream(nb_http_admit *a, nb_http_conn *c) {
  if (c->st == ST_STREAM) return NB_OK;
  if (c->st == ST_DEAD) return NB_ERR_RANGE;
  if (c->p->streams >= a->cfg.max_streams_per_addr) {
    a->stats.streams_refused++;
    return NB_ERR_BUSY;
  }
  if (a->streams >= a->cfg.max_streams) {
    a->stats.streams_refused++;
    return NB_ERR_RANGE;
  }
  leave(a, c);
  enter(a, c, ST_STREAM, c->since);
  c->p->streams++;
  a->streams++;
  return NB_OK;
}

void nb_http_admit_done(nb_http_admit *a, nb_http_conn *c, nb_time_ms now) {
  if (c->st == ST_DEAD) return;
  if (c->st == ST_STREAM) {
    c->p->streams--;
    a->streams--;
  }
  leave(a, c);
  enter(a, c, ST_IDLE, now);
}

void nb_http_admit_close(nb_http_admit *a, nb_http_conn *c) {
  if (!c) return;
  forget(a, c);
  free(c);
}

bool nb_http_admit_is_dead(const nb_http_conn *c) { return c->st == ST_DEAD; }

/* ---- deadlines ---- */

static nb_time_ms timeout_of(const nb_http_admit *a, conn_state st) {
  return st == ST_HEADER ? a->cfg.header_timeout
         : st == ST_BODY ? a->cfg.body_timeout
                         : a->cfg.idle_timeout;
}

size_t nb_http_admit_expire(nb_http_admit *a, nb_time_ms now, void (*close_fd)(void *user, int fd),
                            void *user) {
  size_t n = 0;
  uint64_t *counter[NLISTS] = {&a->stats.header_timeouts, &a->stats.body_timeouts,
                               &a->stats.idle_timeouts};
  for (conn_state st = ST_HEADER; st < NLISTS; st++) {
    nb_http_conn *c;
    while ((c = a->q[st].head) && c->since + timeout_of(a, st) <= now) {
      int fd = c->fd;
      forget(a, c);
      (*counter[st])++;
      n++;
      close_fd(user, fd);
    }
  }
  return n;
}

nb_time_ms nb_http_admit_next_deadline(const nb_http_admit *a) {
  nb_time_ms t = NB_TIME_NEVER;
  for (conn_state st = ST_HEADER; st < NLISTS; st++)
    if (a->q[st].head) t = nb_time_min(t, a->q[st].head->since + timeout_of(a, st));
  return t;
}

void nb_http_admit_get_stats(const nb_http_admit *a, nb_http_admit_stats *out) {
  *out = a->stats;
  out->conns = a->conns;
  out->streams = a->streams;
}
