/* Monitor engine: frames -> UDP -> CoAP/DTLS -> LwM2M operations, exchanges, devices, rules. */
#include "monitor/monitor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rand.h"
#include "coap/hmap.h"
#include "coap/msg.h"
#include "dtls/record.h"
#include "lwm2m/format.h"
#include "lwm2m/linkfmt.h"
#include "lwm2m/path.h"
#include "monitor/dtlsmeta.h"
#include "monitor/frame.h"

#define NB_MON_KEY_MAX 176
#define NB_MON_EXCHANGE_US (247ll * 1000000) /* RFC 7252 EXCHANGE_LIFETIME */
#define NB_MON_TABLE_CAP 1000000u            /* entries per table: bounded memory under floods */
#define NB_MON_SESSIONS 4096u /* resumable DTLS sessions remembered (with known keys) */

/* A table key: bytes compared whole. */
typedef struct {
  nb_coap_hnode node;
  uint8_t len;
  uint8_t b[NB_MON_KEY_MAX];
} nb_mkey;

typedef struct {
  nb_coap_hmap map;
  size_t count;
} nb_mtab;

/* Insertion-ordered list for sweeping old entries. */
typedef struct nb_mlink {
  struct nb_mlink *prev, *next;
  int64_t ts;
} nb_mlink;

typedef struct nb_mdev {
  nb_mkey k_ep, k_addr, k_loc;
  bool in_addr, in_loc;
  struct nb_mdev *next_all;
  char ep[NB_MON_EP_MAX];
  char location[NB_MON_URI_MAX];
  char identity[NB_MON_ID_MAX]; /* DTLS identity of its registration, "" for none */
  nb_addr addr;
  nb_addr bs_server;
  nb_mon_dev_state state;
  int64_t lifetime_s;
  int64_t last_reg_us;
  uint64_t reg_packet;
  uint32_t observations;
  bool observe_alerted;
} nb_mdev;

typedef struct {
  nb_mkey k_tok, k_mid;
  nb_mlink link;
  uint64_t packet;
  const char *iface, *op;
  char uri[NB_MON_URI_MAX];
  nb_path path;
  bool path_ok, observe, cancel;
  nb_mdev *dev; /* device is never freed before the monitor */
  char ep[NB_MON_EP_MAX];
} nb_mpend;

typedef struct {
  nb_mkey k;
  nb_mlink link;
} nb_mmid;

typedef struct {
  nb_mkey k;
  nb_path path;
  char uri[NB_MON_URI_MAX];
  nb_mdev *dev;
} nb_mobs;

/* A rate window of one rule for one source. */
typedef struct {
  nb_mkey k;
  int64_t start_us;
  uint32_t count, aux;
  bool fired;
  uint64_t paths[32];
  uint32_t path_count;
  uint64_t evidence[NB_MON_EVIDENCE_MAX];
  size_t evidence_count;
} nb_mwin;

typedef struct {
  nb_mkey k; /* client addr + server addr */
  uint16_t chosen;
  char identity[NB_MON_ID_MAX]; /* the client's: "psk:...", "rpk:...", "x509:..." */
  nb_dtls_dec *dec;             /* with known keys only */
  nb_dtls_reasm reasm[2];       /* fragmented handshake messages: [0] from the client */
} nb_mflow;

struct nb_monitor {
  nb_mon_config cfg;
  nb_mon_rules defaults;
  const nb_mon_rules *rules;
  nb_model *own_model;
  const nb_model *model;
  nb_mon_event_fn fn;
  void *user;
  uint64_t seed;
  nb_mtab devs_ep, devs_addr, devs_loc, pend_tok, pend_mid, mids, obs, wins, flows;
  nb_mlink pend_list, mid_list;
  nb_mdev *all_devs;
  nb_mwin global_flood;
  nb_mon_stats stats;
  uint64_t packet;
  int64_t last_sweep_us, last_expiry_us, last_summary_us, now_us;
  int64_t last_refresh_us;  /* cfg.psks_refresh last called (INT64_MIN: never) */
  nb_mon_baseline *running; /* detection windows against cfg.reference */
  nb_mon_event ev;          /* the event being built (large: kept off the stack) */
  nb_coap_msg msg;          /* the message being decoded */
  nb_records recs;          /* its decoded payload */
  bool secure;              /* the message came out of DTLS */
  uint8_t *plain;           /* decrypted record (with known keys) */
  nb_dtls_cache *sessions;  /* master secrets of resumable sessions (with known keys) */
};

/* ---------------------------------------------------------------- tables */

static bool nb_mkey_eq(const nb_coap_hnode *node, const void *key) {
  const nb_mkey *a = (const nb_mkey *)node, *b = key;
  return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

static nb_mkey *nb_mtab_find(const nb_monitor *m, const nb_mtab *t, const nb_mkey *k) {
  return (nb_mkey *)nb_coap_hmap_find(&t->map, nb_coap_hash_bytes(m->seed, k->b, k->len),
                                      nb_mkey_eq, k);
}

static void nb_mtab_insert(nb_monitor *m, nb_mtab *t, nb_mkey *k) {
  nb_coap_hmap_insert(&t->map, &k->node, nb_coap_hash_bytes(m->seed, k->b, k->len));
  t->count++;
}

static void nb_mtab_remove(nb_mtab *t, nb_mkey *k) {
  nb_coap_hmap_remove(&t->map, &k->node);
  t->count--;
}

static void nb_mkey_reset(nb_mkey *k) { k->len = 0; }

static void nb_mkey_put(nb_mkey *k, const void *data, size_t n) {
  if (n > (size_t)NB_MON_KEY_MAX - k->len) n = (size_t)NB_MON_KEY_MAX - k->len;
  if (n) memcpy(k->b + k->len, data, n);
  k->len = (uint8_t)(k->len + n);
}

static void nb_mkey_addr(nb_mkey *k, const nb_addr *a, bool with_port) {
  uint8_t head[3] = {a->family, with_port ? (uint8_t)(a->port >> 8) : 0,
                     with_port ? (uint8_t)a->port : 0};
  nb_mkey_put(k, head, 3);
  nb_mkey_put(k, a->ip, a->family == NB_ADDR_V4 ? 4 : 16);
}

static void nb_mlink_init(nb_mlink *l) { l->prev = l->next = l; }
static void nb_mlink_append(nb_mlink *head, nb_mlink *l, int64_t ts) {
  l->ts = ts;
  l->prev = head->prev;
  l->next = head;
  head->prev->next = l;
  head->prev = l;
}
static void nb_mlink_unlink(nb_mlink *l) {
  l->prev->next = l->next;
  l->next->prev = l->prev;
  l->prev = l->next = l;
}

#define NB_CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Bounded copy with NUL (snprintf("%s") costs a format parse per call in the hot path). */
static void nb_copy(char *dst, size_t cap, const char *src) {
  size_t n = strnlen(src, cap - 1);
  memcpy(dst, src, n);
  dst[n] = 0;
}

/* ---------------------------------------------------------------- lifecycle */

static const uint16_t nb_default_coap[] = {5683, 5783};
static const uint16_t nb_default_dtls[] = {5684, 5784};
static const uint16_t nb_default_bs[] = {5783, 5784};

static bool nb_port_in(const uint16_t *ports, size_t n, const uint16_t *defaults, size_t dn,
                       uint16_t port) {
  bool any = false;
  for (size_t i = 0; i < n; i++) {
    if (ports[i]) any = true;
    if (ports[i] && ports[i] == port) return true;
  }
  if (any) return false;
  for (size_t i = 0; i < dn; i++)
    if (defaults[i] == port) return true;
  return false;
}

static bool nb_is_coap_port(const nb_monitor *m, uint16_t p) {
  return nb_port_in(m->cfg.coap_ports, 8, nb_default_coap, 2, p);
}
static bool nb_is_dtls_port(const nb_monitor *m, uint16_t p) {
  return nb_port_in(m->cfg.dtls_ports, 8, nb_default_dtls, 2, p);
}
static bool nb_is_bs_port(const nb_monitor *m, uint16_t p) {
  return nb_port_in(m->cfg.bootstrap_ports, 4, nb_default_bs, 2, p);
}

nb_monitor *nb_monitor_new(const nb_mon_config *cfg, nb_mon_event_fn fn, void *user) {
  nb_monitor *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  if (cfg) m->cfg = *cfg;
  nb_mon_rules_init(&m->defaults);
  m->rules = m->cfg.rules ? m->cfg.rules : &m->defaults;
  m->model = m->cfg.model;
  if (!m->model) m->model = m->own_model = nb_model_new();
  if (m->cfg.reference &&
      !(m->running = nb_mon_baseline_new(nb_mon_baseline_window(m->cfg.reference)))) {
    nb_monitor_free(m);
    return NULL;
  }
  m->fn = fn;
  m->user = user;
  if (nb_random_bytes(&m->seed, sizeof m->seed)) m->seed = 0x5eed;
  nb_mtab *tabs[] = {&m->devs_ep, &m->devs_addr, &m->devs_loc, &m->pend_tok, &m->pend_mid,
                     &m->mids,    &m->obs,       &m->wins,     &m->flows};
  bool ok = m->model != NULL;
  if (m->cfg.psks && !(m->sessions = nb_dtls_cache_new(NB_MON_SESSIONS))) ok = false;
  for (size_t i = 0; i < sizeof tabs / sizeof tabs[0]; i++)
    if (nb_coap_hmap_init(&tabs[i]->map)) ok = false;
  nb_mlink_init(&m->pend_list);
  nb_mlink_init(&m->mid_list);
  m->last_sweep_us = m->last_summary_us = m->last_refresh_us = INT64_MIN;
  if (!ok) {
    nb_monitor_free(m);
    return NULL;
  }
  return m;
}

/* Frees every entry of a table that owns them (popping would rescan empty buckets). */
static void nb_collect(nb_coap_hnode *node, void *user) {
  nb_coap_hnode ***cursor = user;
  *(*cursor)++ = node;
}

static void nb_mtab_free_all(nb_mtab *t, size_t offset, bool owns) {
  nb_coap_hnode **nodes = owns && t->count ? malloc(t->count * sizeof(nb_coap_hnode *)) : NULL;
  if (nodes) {
    nb_coap_hnode **cursor = nodes;
    nb_coap_hmap_each(&t->map, nb_collect, &cursor);
    for (nb_coap_hnode **n = nodes; n < cursor; n++) free((char *)*n - offset);
    free(nodes);
  } else if (owns) {
    nb_coap_hnode *n;
    while ((n = nb_coap_hmap_pop(&t->map)) != NULL) free((char *)n - offset);
  }
  nb_coap_hmap_deinit(&t->map);
}

static void nb_flow_free_dec(nb_coap_hnode *node, void *user) {
  (void)user;
  nb_mflow *f = NB_CONTAINER(NB_CONTAINER(node, nb_mkey, node), nb_mflow, k);
  if (f->dec) nb_dtls_dec_deinit(f->dec);
  free(f->dec);
  nb_dtls_reasm_free(&f->reasm[0]);
  nb_dtls_reasm_free(&f->reasm[1]);
}

void nb_monitor_free(nb_monitor *m) {
  if (!m) return;
  nb_mtab_free_all(&m->devs_addr, 0, false);
  nb_mtab_free_all(&m->devs_loc, 0, false);
  nb_mtab_free_all(&m->devs_ep, offsetof(nb_mdev, k_ep), true);
  nb_mtab_free_all(&m->pend_mid, 0, false);
  nb_mtab_free_all(&m->pend_tok, offsetof(nb_mpend, k_tok), true);
  nb_mtab_free_all(&m->mids, offsetof(nb_mmid, k), true);
  nb_mtab_free_all(&m->obs, offsetof(nb_mobs, k), true);
  nb_mtab_free_all(&m->wins, offsetof(nb_mwin, k), true);
  nb_coap_hmap_each(&m->flows.map, nb_flow_free_dec, NULL);
  nb_mtab_free_all(&m->flows, offsetof(nb_mflow, k), true);
  free(m->plain);
  nb_dtls_cache_free(m->sessions);
  nb_model_free(m->own_model);
  nb_mon_baseline_free(m->running);
  nb_mon_rules_deinit(&m->defaults);
  free(m);
}

const nb_mon_stats *nb_monitor_stats(const nb_monitor *m) { return &m->stats; }

const char *nb_mon_event_kind_name(nb_mon_event_kind k) {
  static const char *const names[] = {"message", "malformed", "fragment", "dtls",
                                      "state",   "alert",     "summary"};
  return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "unknown";
}

const char *nb_mon_dev_state_name(nb_mon_dev_state s) {
  static const char *const names[] = {"unknown",    "bootstrapping", "bootstrapped",
                                      "registered", "expired",       "deregistered"};
  return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

/* ---------------------------------------------------------------- events */

static void nb_ev_begin(nb_monitor *m, nb_mon_event_kind kind, const nb_addr *src,
                        const nb_addr *dst) {
  nb_mon_event *ev = &m->ev;
  memset(ev, 0, offsetof(nb_mon_event, dtls_detail));
  ev->dtls_detail[0] = 0;
  ev->state = NB_MON_DEV_UNKNOWN;
  ev->rule = 0;
  ev->severity = NULL;
  ev->message[0] = 0;
  ev->evidence_count = 0;
  ev->kind = kind;
  ev->packet = m->packet;
  ev->ts_us = m->now_us;
  if (src) ev->src = *src;
  if (dst) ev->dst = *dst;
  ev->content_format = -1;
  ev->latency_us = -1;
  ev->lifetime = -1;
  ev->dtls_handshake = -1;
}

static void nb_ev_emit(nb_monitor *m, nb_mon_event *ev) {
  if (m->fn &&
      !(m->cfg.no_messages && (ev->kind == NB_MON_EV_MESSAGE || ev->kind == NB_MON_EV_DTLS ||
                               ev->kind == NB_MON_EV_FRAGMENT)))
    m->fn(ev, m->user);
}

/* Alerts are built in their own event so that the message being decoded stays intact. */
static void nb_alert(nb_monitor *m, nb_rule_id rule, const nb_addr *src, const nb_addr *dst,
                     const char *endpoint, const char *uri, const uint64_t *evidence, size_t n,
                     const char *fmt, ...) __attribute__((format(printf, 9, 10)));

static void nb_alert(nb_monitor *m, nb_rule_id rule, const nb_addr *src, const nb_addr *dst,
                     const char *endpoint, const char *uri, const uint64_t *evidence, size_t n,
                     const char *fmt, ...) {
  if (!m->rules->enabled[rule]) return;
  nb_mon_event *a = calloc(1, sizeof *a);
  if (!a) return;
  a->kind = NB_MON_EV_ALERT;
  a->packet = m->packet;
  a->ts_us = m->now_us;
  if (src) a->src = *src;
  if (dst) a->dst = *dst;
  a->content_format = -1;
  a->latency_us = -1;
  a->lifetime = -1;
  a->dtls_handshake = -1;
  a->rule = rule;
  a->severity = nb_rule_severity(rule);
  if (endpoint) nb_copy(a->endpoint, sizeof a->endpoint, endpoint);
  if (uri) nb_copy(a->uri, sizeof a->uri, uri);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->message, sizeof a->message, fmt, ap);
  va_end(ap);
  if (!evidence || n == 0) {
    a->evidence[0] = m->packet;
    a->evidence_count = 1;
  } else {
    a->evidence_count = n > NB_MON_EVIDENCE_MAX ? NB_MON_EVIDENCE_MAX : n;
    memcpy(a->evidence, evidence, a->evidence_count * sizeof *evidence);
  }
  m->stats.alerts++;
  if (m->fn) m->fn(a, m->user);
  free(a);
}

/* ---------------------------------------------------------------- devices */

static void nb_dev_key_ep(nb_mkey *k, const char *ep) {
  nb_mkey_reset(k);
  nb_mkey_put(k, ep, strlen(ep));
}

static void nb_dev_key_loc(nb_mkey *k, const nb_addr *server, const char *loc) {
  nb_mkey_reset(k);
  nb_mkey_addr(k, server, false);
  nb_mkey_put(k, loc, strlen(loc));
}

static nb_mdev *nb_dev_by_ep(const nb_monitor *m, const char *ep) {
  nb_mkey k;
  nb_dev_key_ep(&k, ep);
  nb_mkey *f = nb_mtab_find(m, &m->devs_ep, &k);
  return f ? NB_CONTAINER(f, nb_mdev, k_ep) : NULL;
}

static nb_mdev *nb_dev_by_addr(const nb_monitor *m, const nb_addr *a) {
  nb_mkey k;
  nb_mkey_reset(&k);
  nb_mkey_addr(&k, a, true);
  nb_mkey *f = nb_mtab_find(m, &m->devs_addr, &k);
  return f ? NB_CONTAINER(f, nb_mdev, k_addr) : NULL;
}

static nb_mdev *nb_dev_by_loc(const nb_monitor *m, const nb_addr *server, const char *loc) {
  nb_mkey k;
  nb_dev_key_loc(&k, server, loc);
  nb_mkey *f = nb_mtab_find(m, &m->devs_loc, &k);
  return f ? NB_CONTAINER(f, nb_mdev, k_loc) : NULL;
}

static nb_mdev *nb_dev_get(nb_monitor *m, const char *ep) {
  nb_mdev *d = nb_dev_by_ep(m, ep);
  if (d || m->devs_ep.count >= NB_MON_TABLE_CAP) return d;
  d = calloc(1, sizeof *d);
  if (!d) return NULL;
  nb_copy(d->ep, sizeof d->ep, ep);
  nb_dev_key_ep(&d->k_ep, ep);
  nb_mtab_insert(m, &m->devs_ep, &d->k_ep);
  d->next_all = m->all_devs;
  m->all_devs = d;
  m->stats.devices++;
  return d;
}

static void nb_dev_set_addr(nb_monitor *m, nb_mdev *d, const nb_addr *a) {
  if (d->in_addr && nb_addr_equal(&d->addr, a)) return;
  if (d->in_addr) nb_mtab_remove(&m->devs_addr, &d->k_addr);
  d->addr = *a;
  nb_mkey_reset(&d->k_addr);
  nb_mkey_addr(&d->k_addr, a, true);
  nb_mkey *other = nb_mtab_find(m, &m->devs_addr, &d->k_addr);
  if (other) { /* the address moved to this device (NAT reuse) */
    nb_mdev *o = NB_CONTAINER(other, nb_mdev, k_addr);
    nb_mtab_remove(&m->devs_addr, other);
    o->in_addr = false;
  }
  nb_mtab_insert(m, &m->devs_addr, &d->k_addr);
  d->in_addr = true;
}

static void nb_dev_set_loc(nb_monitor *m, nb_mdev *d, const nb_addr *server, const char *loc) {
  if (d->in_loc) nb_mtab_remove(&m->devs_loc, &d->k_loc);
  d->in_loc = false;
  nb_copy(d->location, sizeof d->location, loc);
  nb_dev_key_loc(&d->k_loc, server, loc);
  nb_mkey *other = nb_mtab_find(m, &m->devs_loc, &d->k_loc);
  if (other) {
    NB_CONTAINER(other, nb_mdev, k_loc)->in_loc = false;
    nb_mtab_remove(&m->devs_loc, other);
  }
  nb_mtab_insert(m, &m->devs_loc, &d->k_loc);
  d->in_loc = true;
}

static void nb_dev_state(nb_monitor *m, nb_mdev *d, nb_mon_dev_state s) {
  if (d->state == s) return;
  if (d->state == NB_MON_DEV_REGISTERED) m->stats.registered--;
  if (s == NB_MON_DEV_REGISTERED) m->stats.registered++;
  d->state = s;
  nb_mon_event *ev = calloc(1, sizeof *ev);
  if (!ev) return;
  ev->kind = NB_MON_EV_STATE;
  ev->packet = m->packet;
  ev->ts_us = m->now_us;
  ev->src = d->addr;
  ev->content_format = -1;
  ev->latency_us = -1;
  ev->lifetime = d->lifetime_s;
  ev->dtls_handshake = -1;
  ev->state = s;
  nb_copy(ev->endpoint, sizeof ev->endpoint, d->ep);
  nb_copy(ev->identity, sizeof ev->identity, d->identity);
  nb_copy(ev->location, sizeof ev->location, d->location);
  if (m->fn) m->fn(ev, m->user);
  free(ev);
}

/* ---------------------------------------------------------------- rate windows */

static nb_mwin *nb_win_get(nb_monitor *m, nb_rule_id rule, const nb_addr *a, uint32_t window_s) {
  nb_mkey k;
  nb_mkey_reset(&k);
  uint8_t r = (uint8_t)rule;
  nb_mkey_put(&k, &r, 1);
  nb_mkey_addr(&k, a, false);
  nb_mkey *f = nb_mtab_find(m, &m->wins, &k);
  nb_mwin *w = f ? NB_CONTAINER(f, nb_mwin, k) : NULL;
  if (!w) {
    if (m->wins.count >= NB_MON_TABLE_CAP || !(w = calloc(1, sizeof *w))) return NULL;
    w->k = k;
    nb_mtab_insert(m, &m->wins, &w->k);
    w->start_us = m->now_us;
  }
  if (m->now_us - w->start_us >= (int64_t)window_s * 1000000) {
    w->start_us = m->now_us;
    w->count = w->aux = w->path_count = 0;
    w->evidence_count = 0;
    w->fired = false;
  }
  return w;
}

static void nb_win_count(nb_mwin *w, uint64_t packet) {
  w->count++;
  if (w->evidence_count < NB_MON_EVIDENCE_MAX) w->evidence[w->evidence_count++] = packet;
}

/* Counts a distinct path (by hash) into the window; returns the distinct count. */
static uint32_t nb_win_path(nb_mwin *w, uint64_t h) {
  for (uint32_t i = 0; i < w->path_count && i < 32; i++)
    if (w->paths[i] == h) return w->path_count;
  if (w->path_count < 32) w->paths[w->path_count] = h;
  return ++w->path_count;
}

/* ---------------------------------------------------------------- LwM2M meaning */

typedef struct {
  const char *iface, *op;
  nb_path path;
  bool path_ok;
  bool observe, cancel;
  bool client_to_server; /* Register, Update, De-register, Bootstrap-Request, Send */
} nb_lwm2m_req;

static bool nb_first_seg(const nb_coap_msg *msg, const char *seg) {
  const nb_coap_option *o = nb_coap_msg_find(msg, NB_COAP_OPT_URI_PATH);
  return o && o->len == strlen(seg) && memcmp(o->value, seg, o->len) == 0;
}

static void nb_classify_dm(const nb_coap_msg *msg, bool bootstrap, nb_lwm2m_req *q) {
  uint32_t obs = 0;
  bool has_obs = nb_coap_msg_get_uint(msg, NB_COAP_OPT_OBSERVE, &obs) == NB_OK;
  bool accept_link = nb_coap_msg_accept(msg) == NB_COAP_CF_LINK_FORMAT;
  q->iface = bootstrap ? "bootstrap" : "dm";
  switch (msg->code) {
    case NB_COAP_GET:
      if (bootstrap)
        q->op = accept_link ? "Bootstrap-Discover" : "Bootstrap-Read";
      else if (has_obs && obs == 0)
        q->op = "Observe", q->iface = "reporting", q->observe = true;
      else if (has_obs && obs == 1)
        q->op = "Cancel-Observation", q->iface = "reporting", q->cancel = true;
      else
        q->op = accept_link ? "Discover" : "Read";
      break;
    case NB_COAP_FETCH:
      if (has_obs && obs == 0)
        q->op = "Observe-Composite", q->iface = "reporting", q->observe = true;
      else if (has_obs && obs == 1)
        q->op = "Cancel-Observation-Composite", q->iface = "reporting", q->cancel = true;
      else
        q->op = "Read-Composite";
      break;
    case NB_COAP_IPATCH:
      q->op = "Write-Composite";
      break;
    case NB_COAP_PUT:
      if (bootstrap)
        q->op = "Bootstrap-Write";
      else if (msg->payload_len == 0 && nb_coap_msg_find(msg, NB_COAP_OPT_URI_QUERY))
        q->op = "Write-Attributes";
      else
        q->op = "Write";
      break;
    case NB_COAP_POST:
      if (!q->path_ok || q->path.len == 1)
        q->op = "Create";
      else if (q->path.len == 2)
        q->op = "Write-Partial";
      else
        q->op = "Execute";
      break;
    case NB_COAP_DELETE:
      q->op = bootstrap ? "Bootstrap-Delete" : "Delete";
      break;
    default:
      q->op = "Unknown";
      break;
  }
}

static void nb_classify(nb_monitor *m, const nb_coap_msg *msg, const nb_addr *src,
                        const nb_addr *dst, nb_lwm2m_req *q) {
  memset(q, 0, sizeof *q);
  q->path_ok = nb_path_from_coap(msg, &q->path) == NB_OK;
  if (nb_first_seg(msg, "rd")) {
    q->iface = "registration";
    q->client_to_server = true;
    size_t segs = nb_coap_msg_count(msg, NB_COAP_OPT_URI_PATH);
    if (msg->code == NB_COAP_POST)
      q->op = segs == 1 ? "Register" : "Update";
    else if (msg->code == NB_COAP_DELETE)
      q->op = "De-register";
    else
      q->op = "Unknown";
    return;
  }
  if (nb_first_seg(msg, "bs")) {
    char ep[4];
    bool has_ep =
        nb_coap_msg_get_query(msg, NB_COAP_OPT_URI_QUERY, "ep", ep, sizeof ep) != NB_ERR_NOT_FOUND;
    q->iface = "bootstrap";
    q->client_to_server = has_ep;
    q->op = msg->code != NB_COAP_POST ? "Unknown"
            : has_ep                  ? "Bootstrap-Request"
                                      : "Bootstrap-Finish";
    return;
  }
  if (nb_first_seg(msg, "dp")) {
    q->iface = "reporting";
    q->op = "Send";
    q->client_to_server = true;
    return;
  }
  nb_mdev *d = nb_dev_by_addr(m, dst);
  bool bootstrap = nb_is_bs_port(m, src->port) ||
                   (d && d->state == NB_MON_DEV_BOOTSTRAPPING && nb_addr_equal(&d->bs_server, src));
  nb_classify_dm(msg, bootstrap, q);
}

/* ---------------------------------------------------------------- payloads */

static bool nb_is_secret(const nb_path *p) {
  if (p->len < 3) return false;
  if (p->ids[0] == 0) return p->ids[2] == 3 || p->ids[2] == 5;  /* identity, secret key */
  if (p->ids[0] == 21) return p->ids[2] == 0 || p->ids[2] == 5; /* OSCORE master secret/salt */
  return false;
}

static size_t nb_value_size(const nb_value *v) {
  switch (v->type) {
    case NB_VT_STRING:
    case NB_VT_OPAQUE:
    case NB_VT_CORELNK:
      return v->v.bytes.len;
    default:
      return 8;
  }
}

/* A non-empty secret value (NoSec configurations write empty keys, which leak nothing). */
static bool nb_has_secret(const nb_records *recs) {
  for (size_t i = 0; i < recs->len; i++) {
    const nb_record *r = &recs->items[i];
    if (nb_is_secret(&r->path) && r->value.type != NB_VT_NONE && nb_value_size(&r->value) > 0)
      return true;
  }
  return false;
}

/* Replaces every secret value with "[N bytes redacted]" before anything can print it. */
static void nb_redact(nb_records *recs) {
  for (size_t i = 0; i < recs->len; i++) {
    nb_record *r = &recs->items[i];
    if (!nb_is_secret(&r->path) || r->value.type == NB_VT_NONE || nb_value_size(&r->value) == 0)
      continue; /* nothing to hide in an empty key */
    char text[48];
    int n = snprintf(text, sizeof text, "[%zu bytes redacted]", nb_value_size(&r->value));
    nb_value_deinit(&r->value);
    if (nb_value_set_string(&r->value, text, (size_t)n)) r->value = nb_value_none();
  }
}

static bool nb_starts_ci(const uint8_t *s, size_t n, const char *prefix) {
  size_t k = strlen(prefix);
  if (n < k) return false;
  for (size_t i = 0; i < k; i++) {
    uint8_t c = s[i];
    if (c >= 'A' && c <= 'Z') c = (uint8_t)(c + 32);
    if (c != (uint8_t)prefix[i]) return false;
  }
  return true;
}

/* Package URI (/5/x/1) pointing to plain coap:// or http://. */
static const nb_record *nb_insecure_fw_uri(const nb_records *recs) {
  for (size_t i = 0; i < recs->len; i++) {
    const nb_record *r = &recs->items[i];
    if (r->path.len < 3 || r->path.ids[0] != 5 || r->path.ids[2] != 1) continue;
    if (r->value.type != NB_VT_STRING && r->value.type != NB_VT_OPAQUE) continue;
    const uint8_t *s = r->value.v.bytes.data;
    size_t n = r->value.v.bytes.len;
    if (nb_starts_ci(s, n, "coap://") || nb_starts_ci(s, n, "http://") ||
        nb_starts_ci(s, n, "coap+tcp://"))
      return r;
  }
  return NULL;
}

static bool nb_touches_obj(const nb_records *recs, const nb_path *base, bool base_ok,
                           uint16_t obj) {
  if (base_ok && base->len >= 1 && base->ids[0] == obj) return true;
  for (size_t i = 0; i < recs->len; i++)
    if (recs->items[i].path.len >= 1 && recs->items[i].path.ids[0] == obj) return true;
  return false;
}

/* Object list of a Register/Update payload, abridged to fit. */
static void nb_objects_text(const nb_lwm2m_links *links, char *out, size_t cap) {
  size_t k = 0;
  out[0] = 0;
  for (size_t i = 0; i < links->len; i++) {
    char p[NB_PATH_STRLEN];
    if (nb_path_format(&links->items[i].path, p, sizeof p)) continue;
    int n = snprintf(out + k, cap - k, "%s<%s>", k ? "," : "", p);
    if (n < 0 || (size_t)n >= cap - k) {
      if (k + 4 < cap) memcpy(out + k, ",...", 5);
      return;
    }
    k += (size_t)n;
  }
}

/* ---------------------------------------------------------------- exchanges */

static void nb_key_exchange(nb_mkey *k, char tag, const nb_addr *a, const nb_addr *b,
                            const void *id, size_t id_len) {
  nb_mkey_reset(k);
  nb_mkey_put(k, &tag, 1);
  nb_mkey_addr(k, a, true);
  nb_mkey_addr(k, b, true);
  uint8_t n = (uint8_t)id_len;
  nb_mkey_put(k, &n, 1);
  nb_mkey_put(k, id, id_len);
}

static void nb_pend_drop(nb_monitor *m, nb_mpend *p) {
  nb_mtab_remove(&m->pend_tok, &p->k_tok);
  nb_mtab_remove(&m->pend_mid, &p->k_mid);
  nb_mlink_unlink(&p->link);
  free(p);
}

static nb_mpend *nb_pend_find_tok(nb_monitor *m, const nb_addr *requester, const nb_addr *responder,
                                  const nb_coap_msg *msg) {
  nb_mkey k;
  nb_key_exchange(&k, 'T', requester, responder, msg->token, msg->token_len);
  nb_mkey *f = nb_mtab_find(m, &m->pend_tok, &k);
  return f ? NB_CONTAINER(f, nb_mpend, k_tok) : NULL;
}

static nb_mpend *nb_pend_find_mid(nb_monitor *m, const nb_addr *requester, const nb_addr *responder,
                                  uint16_t mid) {
  nb_mkey k;
  uint8_t b[2] = {(uint8_t)(mid >> 8), (uint8_t)mid};
  nb_key_exchange(&k, 'M', requester, responder, b, 2);
  nb_mkey *f = nb_mtab_find(m, &m->pend_mid, &k);
  return f ? NB_CONTAINER(f, nb_mpend, k_mid) : NULL;
}

static void nb_pend_add(nb_monitor *m, const nb_addr *src, const nb_addr *dst,
                        const nb_coap_msg *msg, const nb_lwm2m_req *q, nb_mdev *dev) {
  nb_mpend *old = nb_pend_find_tok(m, src, dst, msg);
  if (old) nb_pend_drop(m, old);
  old = nb_pend_find_mid(m, src, dst, msg->mid);
  if (old) nb_pend_drop(m, old);
  if (m->pend_tok.count >= NB_MON_TABLE_CAP) return;
  nb_mpend *p = calloc(1, sizeof *p);
  if (!p) return;
  nb_key_exchange(&p->k_tok, 'T', src, dst, msg->token, msg->token_len);
  uint8_t b[2] = {(uint8_t)(msg->mid >> 8), (uint8_t)msg->mid};
  nb_key_exchange(&p->k_mid, 'M', src, dst, b, 2);
  p->packet = m->packet;
  p->iface = q->iface;
  p->op = q->op;
  p->path = q->path;
  p->path_ok = q->path_ok;
  p->observe = q->observe;
  p->cancel = q->cancel;
  p->dev = dev;
  nb_copy(p->uri, sizeof p->uri, m->ev.uri);
  nb_mtab_insert(m, &m->pend_tok, &p->k_tok);
  nb_mtab_insert(m, &m->pend_mid, &p->k_mid);
  nb_mlink_append(&m->pend_list, &p->link, m->now_us);
}

/* Same (src, dst, MID, type) within EXCHANGE_LIFETIME: a retransmission. */
static bool nb_seen_mid(nb_monitor *m, const nb_addr *src, const nb_addr *dst,
                        const nb_coap_msg *msg) {
  nb_mmid *e = calloc(1, sizeof *e);
  if (!e) return false;
  uint8_t b[3] = {(uint8_t)(msg->mid >> 8), (uint8_t)msg->mid, msg->type};
  nb_key_exchange(&e->k, 'D', src, dst, b, 3);
  if (nb_mtab_find(m, &m->mids, &e->k)) {
    free(e);
    return true;
  }
  if (m->mids.count >= NB_MON_TABLE_CAP) {
    free(e);
    return false;
  }
  nb_mtab_insert(m, &m->mids, &e->k);
  nb_mlink_append(&m->mid_list, &e->link, m->now_us);
  return false;
}

static nb_mobs *nb_obs_find(nb_monitor *m, const nb_addr *observer, const nb_addr *client,
                            const nb_coap_msg *msg) {
  nb_mkey k;
  nb_key_exchange(&k, 'O', observer, client, msg->token, msg->token_len);
  nb_mkey *f = nb_mtab_find(m, &m->obs, &k);
  return f ? NB_CONTAINER(f, nb_mobs, k) : NULL;
}

static void nb_obs_drop(nb_monitor *m, nb_mobs *o) {
  if (o->dev && o->dev->observations) o->dev->observations--;
  if (o->dev && o->dev->observations < m->rules->observe_max) o->dev->observe_alerted = false;
  nb_mtab_remove(&m->obs, &o->k);
  free(o);
}

static void nb_obs_add(nb_monitor *m, const nb_addr *observer, const nb_addr *client,
                       const nb_coap_msg *msg, const nb_mpend *p) {
  if (nb_obs_find(m, observer, client, msg) || m->obs.count >= NB_MON_TABLE_CAP) return;
  nb_mobs *o = calloc(1, sizeof *o);
  if (!o) return;
  nb_key_exchange(&o->k, 'O', observer, client, msg->token, msg->token_len);
  o->path = p->path;
  nb_copy(o->uri, sizeof o->uri, p->uri);
  o->dev = p->dev;
  nb_mtab_insert(m, &m->obs, &o->k);
  if (!o->dev) return;
  o->dev->observations++;
  if (o->dev->observations > m->rules->observe_max && !o->dev->observe_alerted) {
    o->dev->observe_alerted = true;
    nb_alert(m, NB_RULE_OBSERVE_ABUSE, observer, client, o->dev->ep, o->uri, NULL, 0,
             "%u live observations on one device (limit %u)", o->dev->observations,
             m->rules->observe_max);
  }
}

/* ---------------------------------------------------------------- rules on messages */

static void nb_rule_window(nb_monitor *m, nb_rule_id rule, const nb_addr *key, uint32_t limit,
                           uint32_t window_s, const nb_addr *src, const nb_addr *dst,
                           const char *ep, const char *what) {
  nb_mwin *w = nb_win_get(m, rule, key, window_s);
  if (!w) return;
  nb_win_count(w, m->packet);
  if (w->count >= limit && !w->fired) {
    w->fired = true;
    char ip[NB_ADDR_STRLEN];
    nb_addr a = *key;
    a.port = 0;
    nb_addr_format(&a, ip, sizeof ip);
    nb_alert(m, rule, src, dst, ep, m->ev.uri, w->evidence, w->evidence_count,
             "%u %s from %s within %us", w->count, what, ip, window_s);
  }
}

static void nb_rule_flood(nb_monitor *m, const nb_addr *src, const nb_addr *dst, const char *ep) {
  const nb_mon_rules *r = m->rules;
  nb_rule_window(m, NB_RULE_REGISTRATION_FLOOD, src, r->flood_per_source, r->flood_window_s, src,
                 dst, ep, "Register/Bootstrap-Request");
  nb_mwin *g = &m->global_flood;
  if (m->now_us - g->start_us >= (int64_t)r->flood_window_s * 1000000 || g->count == 0) {
    memset(g, 0, sizeof *g);
    g->start_us = m->now_us;
  }
  nb_win_count(g, m->packet);
  if (g->count >= r->flood_total && !g->fired) {
    g->fired = true;
    nb_alert(m, NB_RULE_REGISTRATION_FLOOD, src, dst, ep, m->ev.uri, g->evidence, g->evidence_count,
             "%u Register/Bootstrap-Request from all sources within %us", g->count,
             r->flood_window_s);
  }
}

static bool nb_dev_dead(const nb_mdev *d) {
  return d && (d->state == NB_MON_DEV_DEREGISTERED || d->state == NB_MON_DEV_EXPIRED);
}

static void nb_rule_stale(nb_monitor *m, const nb_mdev *d, const nb_addr *src, const nb_addr *dst) {
  if (!nb_dev_dead(d)) return;
  nb_alert(m, NB_RULE_STALE_ENDPOINT, src, dst, d->ep, m->ev.uri,
           d->reg_packet ? (uint64_t[]){d->reg_packet, m->packet} : NULL, d->reg_packet ? 2 : 0,
           "%s from endpoint %s whose registration is %s", m->ev.op ? m->ev.op : "traffic", d->ep,
           nb_mon_dev_state_name(d->state));
}

static void nb_rule_payload(nb_monitor *m, const nb_addr *src, const nb_addr *dst,
                            const nb_path *base, bool base_ok) {
  nb_mon_event *ev = &m->ev;
  if (!m->secure && ev->payload_len > 0 &&
      (nb_has_secret(&m->recs) ||
       (base_ok && base->len >= 1 && base->ids[0] == 0 && ev->values == NULL)))
    nb_alert(m, NB_RULE_CLEARTEXT_CREDENTIALS, src, dst, ev->endpoint, ev->uri,
             ev->request_packet ? (uint64_t[]){ev->request_packet, m->packet} : NULL,
             ev->request_packet ? 2 : 0, "%s carries Security object credentials over NoSec CoAP",
             ev->op ? ev->op : "message");
  const nb_record *fw = nb_insecure_fw_uri(&m->recs);
  if (fw && !ev->is_response)
    nb_alert(m, NB_RULE_INSECURE_FIRMWARE_URI, src, dst, ev->endpoint, ev->uri, NULL, 0,
             "firmware package URI over an insecure scheme: %.120s",
             (const char *)fw->value.v.bytes.data);
}

/* Decodes the payload against `base` with the definitions, then redacts. */
static void nb_decode_payload(nb_monitor *m, const nb_path *base, bool base_ok) {
  nb_mon_event *ev = &m->ev;
  const nb_coap_msg *msg = &m->msg;
  if (msg->payload_len == 0 || !base_ok || !nb_format_is_supported(ev->content_format) ||
      ev->content_format == NB_COAP_CF_NONE)
    return;
  nb_format_error err = {0, NULL};
  nb_format_opts opts = {.base = base, .model = m->model};
  /* Read-/Observe-Composite requests carry a list of paths, not values. */
  if (m->msg.code == NB_COAP_FETCH) opts.flags = NB_FORMAT_PATHS_ONLY;
  if (nb_format_decode_ex(ev->content_format, msg->payload, msg->payload_len, &opts, &m->recs,
                          &err)) {
    /* Untyped retry: a device may use a resource the definitions disagree with. */
    opts.model = NULL;
    if (nb_format_decode_ex(ev->content_format, msg->payload, msg->payload_len, &opts, &m->recs,
                            &err)) {
      ev->decode_error = err.reason ? err.reason : "payload does not decode";
      return;
    }
  }
  nb_redact(&m->recs);
  ev->values = &m->recs;
}

static void nb_fill_dev(nb_monitor *m, const nb_mdev *d) {
  if (d && !m->ev.endpoint[0]) nb_copy(m->ev.endpoint, sizeof m->ev.endpoint, d->ep);
  if (d && !m->ev.identity[0]) nb_copy(m->ev.identity, sizeof m->ev.identity, d->identity);
}

/* The client's DTLS identity on the flow (client, server) of the message being decoded; ""
 * over NoSec or when the handshake (or its identity) was not seen. */
static const char *nb_flow_identity(const nb_monitor *m, const nb_addr *client,
                                    const nb_addr *server) {
  if (!m->secure) return "";
  nb_mkey k;
  nb_key_exchange(&k, 'F', client, server, NULL, 0);
  const nb_mkey *f = nb_mtab_find(m, &m->flows, &k);
  return f ? NB_CONTAINER(f, nb_mflow, k)->identity : "";
}

/* endpoint-hijack: a live registration taken over from another address, or with another
 * DTLS identity (or none, after one). An unseen identity (resumed session) proves nothing. */
static void nb_rule_hijack(nb_monitor *m, const nb_mdev *d, const nb_addr *src,
                           const nb_addr *dst) {
  if (d->state != NB_MON_DEV_REGISTERED) return;
  const nb_mon_event *ev = &m->ev;
  bool moved =
      d->in_addr && (m->rules->hijack_compare_port
                         ? !nb_addr_equal(&d->addr, src)
                         : memcmp(d->addr.ip, src->ip, 16) != 0 || d->addr.family != src->family);
  bool other_id = d->identity[0] && (m->secure ? ev->identity[0] != 0 : true) &&
                  strcmp(d->identity, ev->identity) != 0;
  uint64_t evidence[2] = {d->reg_packet, m->packet};
  if (moved) {
    char was[NB_ADDR_STRLEN];
    nb_addr_format(&d->addr, was, sizeof was);
    nb_alert(m, NB_RULE_ENDPOINT_HIJACK, src, dst, d->ep, ev->uri, evidence, 2,
             "endpoint %s registers from a new address while registered from %s", d->ep, was);
  } else if (other_id) {
    nb_alert(m, NB_RULE_ENDPOINT_HIJACK, src, dst, d->ep, ev->uri, evidence, 2,
             "endpoint %s registers with DTLS identity %.80s while registered with %.80s", d->ep,
             ev->identity[0] ? ev->identity : "(none: NoSec)", d->identity);
  }
}

/* ---------------------------------------------------------------- requests */

static void nb_reg_params(nb_monitor *m) {
  nb_mon_event *ev = &m->ev;
  const nb_coap_msg *msg = &m->msg;
  char lt[24];
  nb_coap_msg_get_query(msg, NB_COAP_OPT_URI_QUERY, "ep", ev->endpoint, sizeof ev->endpoint);
  if (nb_coap_msg_get_query(msg, NB_COAP_OPT_URI_QUERY, "lt", lt, sizeof lt) == NB_OK)
    ev->lifetime = strtoll(lt, NULL, 10);
  nb_coap_msg_get_query(msg, NB_COAP_OPT_URI_QUERY, "lwm2m", ev->version, sizeof ev->version);
  nb_coap_msg_get_query(msg, NB_COAP_OPT_URI_QUERY, "b", ev->binding, sizeof ev->binding);
  if (msg->payload_len == 0) return;
  nb_lwm2m_links links;
  nb_lwm2m_links_init(&links);
  if (nb_linkfmt_decode(msg->payload, msg->payload_len, &links, NULL, NULL, 0) == NB_OK)
    nb_objects_text(&links, ev->objects, sizeof ev->objects);
  else
    ev->decode_error = "link-format payload does not decode";
  nb_lwm2m_links_deinit(&links);
}

static void nb_req_register(nb_monitor *m, const nb_addr *src, const nb_addr *dst, nb_mdev **dev) {
  nb_mon_event *ev = &m->ev;
  nb_reg_params(m);
  nb_copy(ev->identity, sizeof ev->identity, nb_flow_identity(m, src, dst));
  if (!ev->endpoint[0]) return;
  nb_mdev *d = nb_dev_get(m, ev->endpoint);
  *dev = d;
  if (!d || ev->retransmission) return;
  if (!m->secure)
    nb_alert(m, NB_RULE_NOSEC, src, dst, d->ep, ev->uri, NULL, 0,
             "Register of %s over plain CoAP (NoSec)", d->ep);
  nb_rule_flood(m, src, dst, d->ep);
  nb_rule_hijack(m, d, src, dst);
  if (ev->lifetime > 0)
    d->lifetime_s = ev->lifetime;
  else if (ev->lifetime < 0)
    d->lifetime_s = 86400;
}

static void nb_req_bootstrap(nb_monitor *m, const nb_addr *src, const nb_addr *dst, nb_mdev **dev) {
  nb_mon_event *ev = &m->ev;
  nb_coap_msg_get_query(&m->msg, NB_COAP_OPT_URI_QUERY, "ep", ev->endpoint, sizeof ev->endpoint);
  nb_copy(ev->identity, sizeof ev->identity, nb_flow_identity(m, src, dst));
  if (!ev->endpoint[0]) return;
  nb_mdev *d = nb_dev_get(m, ev->endpoint);
  *dev = d;
  if (!d || ev->retransmission) return;
  if (!m->secure)
    nb_alert(m, NB_RULE_NOSEC, src, dst, d->ep, ev->uri, NULL, 0,
             "Bootstrap-Request of %s over plain CoAP (NoSec)", d->ep);
  nb_rule_flood(m, src, dst, d->ep);
  if (m->rules->enabled[NB_RULE_UNKNOWN_BOOTSTRAP] && !nb_mon_rules_is_known(m->rules, d->ep))
    nb_alert(m, NB_RULE_UNKNOWN_BOOTSTRAP, src, dst, d->ep, ev->uri, NULL, 0,
             "Bootstrap-Request from unknown endpoint %s", d->ep);
  nb_dev_set_addr(m, d, src);
  d->bs_server = *dst;
}

static void nb_req_client(nb_monitor *m, const nb_lwm2m_req *q, const nb_addr *src,
                          const nb_addr *dst, nb_mdev **dev) {
  nb_mon_event *ev = &m->ev;
  if (!strcmp(q->op, "Register")) {
    nb_req_register(m, src, dst, dev);
  } else if (!strcmp(q->op, "Bootstrap-Request")) {
    nb_req_bootstrap(m, src, dst, dev);
  } else if (!strcmp(q->op, "Update") || !strcmp(q->op, "De-register")) {
    nb_mdev *d = nb_dev_by_loc(m, dst, ev->uri);
    *dev = d;
    if (!strcmp(q->op, "Update")) nb_reg_params(m);
    nb_fill_dev(m, d);
    if (d && !ev->retransmission) nb_rule_stale(m, d, src, dst);
    if (d && ev->lifetime > 0) d->lifetime_s = ev->lifetime;
    if (d && !ev->retransmission && !nb_dev_dead(d)) nb_dev_set_addr(m, d, src);
  } else if (!strcmp(q->op, "Send")) {
    nb_mdev *d = nb_dev_by_addr(m, src);
    *dev = d;
    nb_fill_dev(m, d);
    nb_path root = nb_path_root();
    nb_decode_payload(m, &root, true);
    if (d && !ev->retransmission) nb_rule_stale(m, d, src, dst);
    nb_rule_payload(m, src, dst, &root, true);
  }
}

static bool nb_is_dangerous(const nb_monitor *m, const char *uri) {
  for (size_t i = 0; i < m->rules->dangerous_count; i++)
    if (!strcmp(m->rules->dangerous_paths[i], uri)) return true;
  return false;
}

static void nb_req_server(nb_monitor *m, const nb_lwm2m_req *q, const nb_addr *src,
                          const nb_addr *dst, nb_mdev **dev) {
  nb_mon_event *ev = &m->ev;
  nb_mdev *d = nb_dev_by_addr(m, dst);
  *dev = d;
  nb_fill_dev(m, d);
  if (q->path_ok) nb_decode_payload(m, &q->path, true);
  if (ev->retransmission) return;
  bool changes = !strcmp(q->op, "Write") || !strcmp(q->op, "Write-Partial") ||
                 !strcmp(q->op, "Create") || !strcmp(q->op, "Delete") ||
                 !strcmp(q->op, "Write-Composite");
  if (!strcmp(q->iface, "dm") && changes &&
      (nb_touches_obj(&m->recs, &q->path, q->path_ok, 0) ||
       nb_touches_obj(&m->recs, &q->path, q->path_ok, 1)))
    nb_alert(m, NB_RULE_SECURITY_WRITE, src, dst, ev->endpoint, ev->uri, NULL, 0,
             "%s to %s outside a bootstrap session", q->op, ev->uri);
  if (!strcmp(q->op, "Execute") && nb_is_dangerous(m, ev->uri))
    nb_alert(m, NB_RULE_DANGEROUS_EXECUTE, src, dst, ev->endpoint, ev->uri, NULL, 0,
             "Execute %s (%s)", ev->uri,
             !strcmp(ev->uri, "/3/0/4")   ? "reboot"
             : !strcmp(ev->uri, "/3/0/5") ? "factory reset"
             : !strcmp(ev->uri, "/5/0/2") ? "firmware update"
                                          : "configured as dangerous");
  nb_rule_payload(m, src, dst, &q->path, q->path_ok);
  if (q->cancel) {
    nb_mobs *o = nb_obs_find(m, src, dst, &m->msg);
    if (o) nb_obs_drop(m, o);
  }
}

static void nb_on_request(nb_monitor *m, const nb_addr *src, const nb_addr *dst) {
  nb_mon_event *ev = &m->ev;
  nb_lwm2m_req q;
  nb_classify(m, &m->msg, src, dst, &q);
  ev->iface = q.iface;
  ev->op = q.op;
  nb_mdev *dev = NULL;
  if (q.client_to_server)
    nb_req_client(m, &q, src, dst, &dev);
  else
    nb_req_server(m, &q, src, dst, &dev);
  if (!ev->retransmission) nb_pend_add(m, src, dst, &m->msg, &q, dev);
}

/* ---------------------------------------------------------------- responses */

static void nb_resp_state(nb_monitor *m, nb_mpend *p, const nb_addr *src, const nb_addr *dst) {
  nb_mdev *d = p->dev;
  uint8_t code = m->msg.code;
  if (!d || NB_COAP_CLASS(code) != 2) return;
  if (!strcmp(p->op, "Register") && code == NB_COAP_CREATED) {
    char loc[NB_MON_URI_MAX];
    if (nb_coap_msg_get_path(&m->msg, NB_COAP_OPT_LOCATION_PATH, loc, sizeof loc) == NB_OK) {
      nb_dev_set_loc(m, d, src, loc);
      nb_copy(m->ev.location, sizeof m->ev.location, loc);
    }
    nb_dev_set_addr(m, d, dst);
    const char *id = nb_flow_identity(m, dst, src);
    if (id[0] || !m->secure) nb_copy(d->identity, sizeof d->identity, id);
    nb_copy(m->ev.identity, sizeof m->ev.identity, d->identity);
    d->last_reg_us = m->now_us;
    d->reg_packet = p->packet;
    nb_dev_state(m, d, NB_MON_DEV_REGISTERED);
  } else if (!strcmp(p->op, "Update")) {
    d->last_reg_us = m->now_us;
    nb_dev_state(m, d, NB_MON_DEV_REGISTERED);
  } else if (!strcmp(p->op, "De-register")) {
    nb_dev_state(m, d, NB_MON_DEV_DEREGISTERED);
  } else if (!strcmp(p->op, "Bootstrap-Request")) {
    nb_dev_state(m, d, NB_MON_DEV_BOOTSTRAPPING);
  } else if (!strcmp(p->op, "Bootstrap-Finish")) {
    nb_dev_state(m, d, NB_MON_DEV_BOOTSTRAPPED);
  }
}

static void nb_resp_scan(nb_monitor *m, const nb_addr *src, const nb_addr *dst) {
  uint8_t code = m->msg.code;
  if (code != NB_COAP_NOT_FOUND && code != NB_COAP_METHOD_NOT_ALLOWED &&
      code != NB_COAP_UNAUTHORIZED)
    return;
  const nb_mon_rules *r = m->rules;
  nb_mwin *w = nb_win_get(m, NB_RULE_SCANNING, dst, r->scan_window_s);
  if (!w) return;
  nb_win_count(w, m->packet);
  uint32_t paths = nb_win_path(w, nb_coap_hash_bytes(0, m->ev.uri, strlen(m->ev.uri)));
  if (w->count >= r->scan_errors && paths >= r->scan_paths && !w->fired) {
    w->fired = true;
    char ip[NB_ADDR_STRLEN];
    nb_addr a = *dst;
    a.port = 0;
    nb_alert(m, NB_RULE_SCANNING, src, dst, m->ev.endpoint, NULL, w->evidence, w->evidence_count,
             "%u error answers over %u paths to %s within %us", w->count, paths,
             nb_addr_format(&a, ip, sizeof ip), r->scan_window_s);
  }
}

static void nb_resp_matched(nb_monitor *m, nb_mpend *p, const nb_addr *src, const nb_addr *dst) {
  nb_mon_event *ev = &m->ev;
  ev->op = p->op;
  ev->iface = p->iface;
  ev->latency_us = m->now_us - p->link.ts;
  ev->request_packet = p->packet;
  nb_copy(ev->uri, sizeof ev->uri, p->uri);
  nb_fill_dev(m, p->dev);
  nb_resp_state(m, p, src, dst);
  /* Of registration and bootstrap responses only a Bootstrap-Read's carries resource data. */
  if (p->path_ok &&
      ((strcmp(p->iface, "registration") != 0 && strcmp(p->iface, "bootstrap") != 0) ||
       strcmp(p->op, "Bootstrap-Read") == 0))
    nb_decode_payload(m, &p->path, true);
  if (!ev->retransmission) nb_rule_payload(m, src, dst, &p->path, p->path_ok);
  bool observing = nb_coap_msg_find(&m->msg, NB_COAP_OPT_OBSERVE) != NULL;
  if (p->observe && observing && NB_COAP_CLASS(m->msg.code) == 2)
    nb_obs_add(m, dst, src, &m->msg, p);
  nb_resp_scan(m, src, dst);
  nb_pend_drop(m, p);
}

static void nb_resp_notify(nb_monitor *m, const nb_addr *src, const nb_addr *dst) {
  nb_mon_event *ev = &m->ev;
  nb_mobs *o = nb_obs_find(m, dst, src, &m->msg);
  if (!o) {
    if (!ev->retransmission)
      nb_alert(m, NB_RULE_UNSOLICITED_NOTIFY, src, dst, NULL, NULL, NULL, 0,
               "notification with a token the receiver never used to observe");
    ev->op = "Notify";
    ev->iface = "reporting";
    return;
  }
  ev->op = "Notify";
  ev->iface = "reporting";
  nb_copy(ev->uri, sizeof ev->uri, o->uri);
  nb_fill_dev(m, o->dev);
  nb_decode_payload(m, &o->path, true);
  if (!ev->retransmission) {
    nb_rule_stale(m, o->dev, src, dst);
    nb_rule_payload(m, src, dst, &o->path, true);
  }
  if (NB_COAP_CLASS(m->msg.code) != 2) nb_obs_drop(m, o);
}

static void nb_on_response(nb_monitor *m, const nb_addr *src, const nb_addr *dst) {
  m->ev.is_response = true;
  nb_mpend *p = nb_pend_find_tok(m, dst, src, &m->msg);
  if (p)
    nb_resp_matched(m, p, src, dst);
  else if (nb_coap_msg_find(&m->msg, NB_COAP_OPT_OBSERVE))
    nb_resp_notify(m, src, dst);
  else
    nb_resp_scan(m, src, dst);
}

static void nb_on_empty(nb_monitor *m, const nb_addr *src, const nb_addr *dst) {
  nb_mon_event *ev = &m->ev;
  nb_mpend *p = nb_pend_find_mid(m, dst, src, m->msg.mid);
  if (m->msg.type == NB_COAP_CON)
    ev->op = "Ping";
  else if (m->msg.type == NB_COAP_RST)
    ev->op = "Reset";
  else
    ev->op = "Empty-ACK";
  if (!p) return;
  ev->request_packet = p->packet;
  ev->latency_us = m->now_us - p->link.ts;
  nb_copy(ev->uri, sizeof ev->uri, p->uri);
  nb_fill_dev(m, p->dev);
  if (m->msg.type == NB_COAP_RST) nb_pend_drop(m, p);
}

/* ---------------------------------------------------------------- baseline */

/* Flow key: endpoint (or source IP when unknown), code, type, path. */
static void nb_flow_key(const nb_monitor *m, const nb_addr *src, char *key, size_t cap) {
  const nb_mon_event *ev = &m->ev;
  char who[NB_ADDR_STRLEN], code[8];
  if (!ev->endpoint[0]) {
    nb_addr a = *src;
    a.port = 0;
    nb_addr_format(&a, who, sizeof who);
  }
  snprintf(key, cap, "%s|%s|%s|%s", ev->endpoint[0] ? ev->endpoint : who,
           nb_coap_code_format(ev->code, code), nb_coap_type_name(ev->type),
           ev->uri[0] ? ev->uri : "-");
}

static void nb_baseline_message(nb_monitor *m, const nb_addr *src, const nb_addr *dst, size_t len) {
  char key[NB_MON_EP_MAX + NB_MON_URI_MAX + 32];
  nb_flow_key(m, src, key, sizeof key);
  if (m->cfg.learn) nb_mon_baseline_count(m->cfg.learn, NULL, m->now_us, key, len, 0, 0, NULL);
  if (!m->running || m->ev.retransmission) return;
  const nb_mon_rules *r = m->rules;
  nb_mon_flow_stats st;
  nb_baseline_verdict v = nb_mon_baseline_count(m->running, m->cfg.reference, m->now_us, key, len,
                                                r->baseline_factor, r->baseline_slack, &st);
  if (v == NB_BASELINE_NEW_FLOW && r->baseline_new_flows)
    nb_alert(m, NB_RULE_BASELINE, src, dst, m->ev.endpoint, m->ev.uri, NULL, 0,
             "flow %s never seen while learning", key);
  else if (v == NB_BASELINE_EXCEEDED)
    nb_alert(m, NB_RULE_BASELINE, src, dst, m->ev.endpoint, m->ev.uri, NULL, 0,
             "flow %s: %llu packets, %llu octets in this window; learned maximum %llu, %llu", key,
             (unsigned long long)st.packets, (unsigned long long)st.octets,
             (unsigned long long)st.max_packets, (unsigned long long)st.max_octets);
}

/* ---------------------------------------------------------------- CoAP */

static void nb_coap_fields(nb_monitor *m, size_t len) {
  nb_mon_event *ev = &m->ev;
  const nb_coap_msg *msg = &m->msg;
  ev->transport = m->secure ? "coaps" : "coap";
  ev->type = msg->type;
  ev->code = msg->code;
  ev->mid = msg->mid;
  ev->token_len = msg->token_len;
  memcpy(ev->token, msg->token, msg->token_len);
  ev->content_format = nb_coap_msg_content_format(msg);
  ev->payload_len = msg->payload_len;
  ev->dtls_len = len;
  if (nb_coap_is_request(msg->code) &&
      nb_coap_msg_get_path(msg, NB_COAP_OPT_URI_PATH, ev->uri, sizeof ev->uri) != NB_OK)
    snprintf(ev->uri, sizeof ev->uri, "(too long)");
}

static void nb_on_malformed(nb_monitor *m, const nb_addr *src, const nb_addr *dst, const char *why,
                            nb_rule_id rule) {
  nb_ev_begin(m, NB_MON_EV_MALFORMED, src, dst);
  m->ev.error = why;
  m->ev.transport = m->secure ? "coaps" : "coap";
  m->stats.malformed++;
  nb_ev_emit(m, &m->ev);
  nb_rule_window(m, rule, src, 1, 60, src, dst, NULL,
                 rule == NB_RULE_MALFORMED_COAP ? "malformed CoAP datagrams"
                                                : "messages with bad critical options");
}

static void nb_on_coap(nb_monitor *m, const nb_addr *src, const nb_addr *dst, const uint8_t *data,
                       size_t len) {
  nb_err e = nb_coap_parse(data, len, &m->msg);
  if (e) {
    nb_on_malformed(m, src, dst, nb_strerror(e), NB_RULE_MALFORMED_COAP);
    return;
  }
  uint16_t bad = 0;
  if (nb_coap_msg_check_options(&m->msg, &bad)) {
    char why[64];
    snprintf(why, sizeof why, "message(s) with critical option %u unknown or malformed", bad);
    nb_rule_window(m, NB_RULE_CRITICAL_OPTION, src, 1, 60, src, dst, NULL, why);
  }
  m->stats.coap++;
  nb_ev_begin(m, NB_MON_EV_MESSAGE, src, dst);
  nb_coap_fields(m, len);
  /* Only CON messages are retransmitted (RFC 7252 4.2); remembering NON and ACK MIDs too
   * would triple the table for nothing. */
  m->ev.retransmission = m->msg.type == NB_COAP_CON && nb_seen_mid(m, src, dst, &m->msg);
  nb_records_init(&m->recs);
  if (nb_coap_is_request(m->msg.code))
    nb_on_request(m, src, dst);
  else if (nb_coap_is_response(m->msg.code))
    nb_on_response(m, src, dst);
  else if (m->msg.code == NB_COAP_EMPTY)
    nb_on_empty(m, src, dst);
  if (m->cfg.learn || m->running) nb_baseline_message(m, src, dst, len);
  nb_ev_emit(m, &m->ev);
  m->ev.values = NULL;
  nb_records_deinit(&m->recs);
}

/* ---------------------------------------------------------------- DTLS */

static nb_mflow *nb_flow_get(nb_monitor *m, const nb_addr *client, const nb_addr *server) {
  nb_mkey k;
  nb_key_exchange(&k, 'F', client, server, NULL, 0);
  nb_mkey *f = nb_mtab_find(m, &m->flows, &k);
  if (f) return NB_CONTAINER(f, nb_mflow, k);
  if (m->flows.count >= NB_MON_TABLE_CAP) return NULL;
  nb_mflow *fl = calloc(1, sizeof *fl);
  if (!fl) return NULL;
  fl->k = k;
  nb_mtab_insert(m, &m->flows, &fl->k);
  return fl;
}

static void nb_detail(nb_monitor *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void nb_detail(nb_monitor *m, const char *fmt, ...) {
  char *d = m->ev.dtls_detail;
  size_t used = strlen(d);
  if (used + 2 >= sizeof m->ev.dtls_detail) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d + used, sizeof m->ev.dtls_detail - used, fmt, ap);
  va_end(ap);
}

static void nb_dtls_hello(nb_monitor *m, const nb_dtls_meta *meta, const nb_addr *src,
                          const nb_addr *dst) {
  nb_detail(m, "cookie=%zu suites=", meta->cookie_len);
  for (size_t i = 0; i < meta->suite_count && i < 12; i++)
    nb_detail(m, "%s0x%04x", i ? "," : "", meta->suites[i]);
  nb_mwin *w = nb_win_get(m, NB_RULE_DTLS_HELLO_FLOOD, src, m->rules->hello_window_s);
  if (!w) return;
  if (meta->cookie_len) {
    w->aux++; /* the client came back with a cookie: a real handshake */
    return;
  }
  nb_win_count(w, m->packet);
  if (w->count >= w->aux + m->rules->hello_max && !w->fired) {
    w->fired = true;
    nb_alert(m, NB_RULE_DTLS_HELLO_FLOOD, src, dst, NULL, NULL, w->evidence, w->evidence_count,
             "%u ClientHellos without cookie, %u completed the cookie exchange", w->count, w->aux);
  }
}

static void nb_dtls_server_hello(nb_monitor *m, const nb_dtls_meta *meta, const nb_addr *src,
                                 const nb_addr *dst) {
  const char *name = nb_dtls_suite_name(meta->chosen);
  nb_detail(m, "chosen=0x%04x%s%s", meta->chosen, name ? " " : "", name ? name : "");
  if (meta->cert_type >= 0)
    nb_detail(m, " cert_type=%s",
              meta->cert_type == 2   ? "RPK"
              : meta->cert_type == 0 ? "X.509"
                                     : "other");
  nb_mflow *f = nb_flow_get(m, dst, src);
  if (f) f->chosen = meta->chosen;
  bool weak = !nb_dtls_suite_is_mandatory(meta->chosen) ||
              (!m->rules->allow_cbc && nb_dtls_suite_is_cbc(meta->chosen));
  if (weak)
    nb_alert(m, NB_RULE_DTLS_WEAK_SUITE, src, dst, NULL, NULL, NULL, 0,
             "server chose cipher suite 0x%04x%s%s", meta->chosen, name ? " " : "",
             name ? name : "");
}

/* Which end sent a handshake message: the client sends ClientHello, Certificate,
 * ClientKeyExchange and CertificateVerify (RFC 5246 7.3). */
static bool nb_hs_from_client(uint8_t type) {
  return type == NB_DTLS_HS_CLIENT_HELLO || type == NB_DTLS_HS_CLIENT_KEY_EXCHANGE ||
         type == NB_DTLS_HS_CERTIFICATE_VERIFY;
}

static const char *nb_dec_result_text(nb_dtls_dec_result r) {
  switch (r) {
    case NB_DEC_KEYED_PSK:
      return "keyed";
    case NB_DEC_KEYED_KEYLOG:
      return "keyed (key log)";
    case NB_DEC_KEYED_RESUMED:
      return "keyed (resumed session)";
    case NB_DEC_NO_PSK:
      return "no key for this identity";
    case NB_DEC_NO_MASTER:
      return "no master secret for this session (--keylog)";
    case NB_DEC_NO_SESSION:
      return "resumes a session whose keys were not seen";
    case NB_DEC_UNSUPPORTED:
      return "suite not supported";
    case NB_DEC_INCOMPLETE:
      return "handshake not seen whole";
    default:
      return NULL;
  }
}

/* An unknown PSK identity: the keys may have grown since (a server made a device's PSK after
 * the capture began). Rate-limited so that a flood of unknown identities costs little. */
static bool nb_psks_refresh(nb_monitor *m) {
  if (!m->cfg.psks_refresh) return false;
  if (m->last_refresh_us != INT64_MIN && m->now_us - m->last_refresh_us < 1000000) return false;
  m->last_refresh_us = m->now_us;
  return m->cfg.psks_refresh(m->cfg.psks_refresh_user);
}

/* Follows the handshake for decryption; the flow is (client, server). */
static void nb_dec_handshake(nb_monitor *m, nb_mflow *f, const nb_dtls_handshake *hs, bool client) {
  if (!f->dec) {
    if (hs->msg_type != NB_DTLS_HS_CLIENT_HELLO) return; /* joined mid-handshake */
    f->dec = malloc(sizeof *f->dec);
    if (!f->dec) return;
    nb_dtls_dec_init(f->dec);
  }
  f->dec->cache = m->sessions;
  nb_dtls_dec_handshake(f->dec, hs, client);
  nb_dtls_dec_result r = nb_dtls_dec_resolve(f->dec, m->cfg.psks, hs->msg_type);
  if (r == NB_DEC_NO_PSK && nb_psks_refresh(m))
    r = nb_dtls_dec_resolve(f->dec, m->cfg.psks, hs->msg_type);
  const char *why = nb_dec_result_text(r);
  if (why) nb_detail(m, "decryption=%s ", why);
}

/* Opens an encrypted record of a followed session into m->plain; *plain_len 0 when it
 * could not be opened (the reason is in the event's detail). */
static bool nb_dec_record(nb_monitor *m, const nb_dtls_record *rec, const nb_addr *src,
                          const nb_addr *dst, size_t *plain_len) {
  nb_mkey k;
  bool from_client = true;
  nb_key_exchange(&k, 'F', src, dst, NULL, 0);
  nb_mkey *fk = nb_mtab_find(m, &m->flows, &k);
  if (!fk || !NB_CONTAINER(fk, nb_mflow, k)->dec) {
    from_client = false;
    nb_key_exchange(&k, 'F', dst, src, NULL, 0);
    fk = nb_mtab_find(m, &m->flows, &k);
  }
  nb_mflow *f = fk ? NB_CONTAINER(fk, nb_mflow, k) : NULL;
  if (!f || !f->dec || !f->dec->keyed) {
    nb_detail(m, "cannot decrypt: %s ",
              !f || !f->dec ? "handshake not captured" : "no session keys");
    return false;
  }
  if (!m->plain && !(m->plain = malloc(65536))) return false;
  nb_err e = nb_dtls_dec_open(f->dec, from_client, rec, m->plain, plain_len);
  if (e) {
    nb_detail(
        m, "cannot decrypt: %s ",
        e == NB_ERR_DTLS_BAD_MAC ? "record authentication failed (wrong key?)" : nb_strerror(e));
    return false;
  }
  nb_detail(m, "decrypted=%zu ", *plain_len);
  return true;
}

/* The flow (client, server) of a handshake message: the one already followed in either
 * direction, else by who sends such a message. */
static nb_mflow *nb_hs_flow(nb_monitor *m, const nb_addr *src, const nb_addr *dst, uint8_t type,
                            bool *from_client) {
  nb_mkey k;
  nb_key_exchange(&k, 'F', src, dst, NULL, 0);
  nb_mkey *fk = nb_mtab_find(m, &m->flows, &k);
  if (fk) return *from_client = true, NB_CONTAINER(fk, nb_mflow, k);
  nb_key_exchange(&k, 'F', dst, src, NULL, 0);
  fk = nb_mtab_find(m, &m->flows, &k);
  if (fk) return *from_client = false, NB_CONTAINER(fk, nb_mflow, k);
  *from_client = nb_hs_from_client(type);
  return *from_client ? nb_flow_get(m, src, dst) : nb_flow_get(m, dst, src);
}

/* One whole handshake message (reassembled when it came in fragments). */
static void nb_dtls_handshake_msg(nb_monitor *m, nb_mflow *f, bool client,
                                  const nb_dtls_handshake *hs, const nb_addr *src,
                                  const nb_addr *dst) {
  if (f && m->cfg.psks) nb_dec_handshake(m, f, hs, client);
  nb_dtls_meta meta;
  bool psk = f && client && nb_dtls_suite_is_psk(f->chosen);
  if (nb_dtls_meta_parse(hs, psk, &meta)) return;
  if (hs->msg_type == NB_DTLS_HS_CLIENT_HELLO)
    nb_dtls_hello(m, &meta, src, dst);
  else if (hs->msg_type == NB_DTLS_HS_SERVER_HELLO)
    nb_dtls_server_hello(m, &meta, src, dst);
  else if (hs->msg_type == NB_DTLS_HS_HELLO_VERIFY_REQUEST)
    nb_detail(m, "cookie=%zu", meta.cookie_len);
  else if (meta.has_identity) {
    nb_detail(m, "psk_identity=%s", meta.identity);
    if (f) snprintf(f->identity, sizeof f->identity, "psk:%s", meta.identity);
  } else if (meta.has_cert_id) {
    nb_detail(m, "%s=%s", client ? "client" : "server", meta.cert_id);
    if (f && client) nb_copy(f->identity, sizeof f->identity, meta.cert_id);
  }
}

static void nb_dtls_handshake_rec(nb_monitor *m, const nb_dtls_record *rec, const nb_addr *src,
                                  const nb_addr *dst) {
  nb_reader r;
  nb_reader_init(&r, rec->body, rec->body_len);
  nb_dtls_handshake hs, whole;
  while (nb_reader_remaining(&r) && nb_dtls_handshake_next(&r, &hs) == NB_OK) {
    if (m->ev.dtls_handshake < 0) m->ev.dtls_handshake = hs.msg_type;
    bool client = false, fragment = hs.frag_offset != 0 || hs.frag_len != hs.length;
    nb_mflow *f = fragment || m->cfg.psks || hs.msg_type == NB_DTLS_HS_CLIENT_KEY_EXCHANGE ||
                          hs.msg_type == NB_DTLS_HS_CERTIFICATE
                      ? nb_hs_flow(m, src, dst, hs.msg_type, &client)
                      : NULL;
    if (!fragment) {
      nb_dtls_handshake_msg(m, f, client, &hs, src, dst);
      continue;
    }
    nb_detail(m, "fragment=%u+%u/%u ", hs.frag_offset, hs.frag_len, hs.length);
    if (f && nb_dtls_reasm_add(&f->reasm[!client], &hs, &whole)) {
      nb_detail(m, "reassembled ");
      nb_dtls_handshake_msg(m, f, client, &whole, src, dst);
    }
  }
}

/* body: the alert in clear (epoch 0 or decrypted), NULL when encrypted. */
static void nb_dtls_alert(nb_monitor *m, const uint8_t *body, size_t len, const nb_addr *src,
                          const nb_addr *dst) {
  if (body && len >= 2)
    nb_detail(m, "alert=%s/%s", body[0] == 2 ? "fatal" : "warning", nb_dtls_alert_name(body[1]));
  else
    nb_detail(m, "alert=encrypted");
  nb_rule_window(m, NB_RULE_DTLS_ALERT_BURST, src, m->rules->alert_max, m->rules->alert_window_s,
                 src, dst, NULL, "DTLS alerts");
}

static void nb_on_dtls(nb_monitor *m, const nb_addr *src, const nb_addr *dst, const uint8_t *data,
                       size_t len) {
  m->stats.dtls++;
  nb_reader r;
  nb_reader_init(&r, data, len);
  nb_dtls_record rec;
  while (nb_reader_remaining(&r)) {
    if (nb_dtls_record_next(&r, &rec)) {
      nb_on_malformed(m, src, dst, "DTLS record cut short", NB_RULE_MALFORMED_COAP);
      return;
    }
    nb_ev_begin(m, NB_MON_EV_DTLS, src, dst);
    m->ev.transport = "coaps";
    m->ev.dtls_content_type = rec.type;
    m->ev.dtls_version = rec.version;
    m->ev.dtls_epoch = rec.epoch;
    m->ev.dtls_seq = rec.seq;
    m->ev.dtls_len = rec.body_len;
    size_t plain_len = 0;
    bool opened = false;
    if (rec.type == NB_DTLS_CT_HANDSHAKE && rec.epoch == 0)
      nb_dtls_handshake_rec(m, &rec, src, dst);
    else if (m->cfg.psks && rec.epoch > 0 && rec.type != NB_DTLS_CT_CHANGE_CIPHER_SPEC)
      opened = nb_dec_record(m, &rec, src, dst, &plain_len);
    if (rec.type == NB_DTLS_CT_ALERT)
      nb_dtls_alert(m,
                    rec.epoch == 0 ? rec.body
                    : opened       ? m->plain
                                   : NULL,
                    rec.epoch == 0 ? rec.body_len : plain_len, src, dst);
    nb_ev_emit(m, &m->ev);
    if (opened && rec.type == NB_DTLS_CT_APPLICATION_DATA) {
      m->secure = true;
      nb_on_coap(m, src, dst, m->plain, plain_len);
    }
  }
}

/* ---------------------------------------------------------------- time */

/* Drops exchanges and MIDs older than EXCHANGE_LIFETIME; with all_devices, also expires
 * registrations (a walk over every device, so done less often). */
static void nb_sweep(nb_monitor *m, bool all_devices) {
  while (m->pend_list.next != &m->pend_list &&
         m->now_us - m->pend_list.next->ts > NB_MON_EXCHANGE_US)
    nb_pend_drop(m, NB_CONTAINER(m->pend_list.next, nb_mpend, link));
  while (m->mid_list.next != &m->mid_list &&
         m->now_us - m->mid_list.next->ts > NB_MON_EXCHANGE_US) {
    nb_mmid *e = NB_CONTAINER(m->mid_list.next, nb_mmid, link);
    nb_mlink_unlink(&e->link);
    nb_mtab_remove(&m->mids, &e->k);
    free(e);
  }
  if (!all_devices) return;
  for (nb_mdev *d = m->all_devs; d; d = d->next_all) {
    if (d->state != NB_MON_DEV_REGISTERED || d->lifetime_s <= 0) continue;
    int64_t deadline =
        d->last_reg_us + (d->lifetime_s + (int64_t)m->rules->expiry_grace_s) * 1000000;
    if (m->now_us > deadline) nb_dev_state(m, d, NB_MON_DEV_EXPIRED);
  }
}

static void nb_summary(nb_monitor *m) {
  nb_mon_event *ev = calloc(1, sizeof *ev);
  if (!ev) return;
  ev->kind = NB_MON_EV_SUMMARY;
  ev->packet = m->packet;
  ev->ts_us = m->now_us;
  ev->content_format = -1;
  ev->latency_us = -1;
  ev->lifetime = -1;
  ev->dtls_handshake = -1;
  ev->stats = m->stats;
  if (m->fn) m->fn(ev, m->user);
  free(ev);
}

static void nb_tick(nb_monitor *m, int64_t ts_us) {
  if (ts_us > m->now_us || m->last_sweep_us == INT64_MIN) m->now_us = ts_us;
  if (m->last_sweep_us == INT64_MIN)
    m->last_sweep_us = m->last_expiry_us = m->last_summary_us = m->now_us;
  if (m->now_us - m->last_sweep_us >= 1000000) {
    bool expiry = m->now_us - m->last_expiry_us >= 10000000;
    m->last_sweep_us = m->now_us;
    if (expiry) m->last_expiry_us = m->now_us;
    nb_sweep(m, expiry);
  }
  if (m->cfg.summary_interval_s &&
      m->now_us - m->last_summary_us >= (int64_t)m->cfg.summary_interval_s * 1000000) {
    m->last_summary_us = m->now_us;
    nb_summary(m);
  }
}

/* ---------------------------------------------------------------- entry points */

static bool nb_looks_dtls(const uint8_t *d, size_t len) {
  return len >= NB_DTLS_RECORD_HEADER_LEN && d[0] >= 20 && d[0] <= 23 && d[1] == 0xfe;
}

static void nb_udp(nb_monitor *m, const nb_addr *src, const nb_addr *dst, const uint8_t *data,
                   size_t len) {
  m->secure = false;
  bool dtls_port = nb_is_dtls_port(m, src->port) || nb_is_dtls_port(m, dst->port);
  bool coap_port = nb_is_coap_port(m, src->port) || nb_is_coap_port(m, dst->port);
  /* a configured port decides; on other ports the record header does */
  if (dtls_port || (!coap_port && nb_looks_dtls(data, len))) {
    nb_on_dtls(m, src, dst, data, len);
  } else if (coap_port) {
    nb_on_coap(m, src, dst, data, len);
  } else {
    nb_coap_msg *msg = &m->msg;
    if (len >= 4 && (data[0] >> 6) == 1 && nb_coap_parse(data, len, msg) == NB_OK)
      nb_on_coap(m, src, dst, data, len);
    else
      m->stats.other++;
  }
}

void nb_monitor_feed_udp(nb_monitor *m, int64_t ts_us, const nb_addr *src, const nb_addr *dst,
                         const uint8_t *data, size_t len) {
  m->packet++;
  m->stats.packets++;
  nb_tick(m, ts_us);
  nb_udp(m, src, dst, data, len);
}

static void nb_on_fragment(nb_monitor *m, const nb_frame *f) {
  m->stats.fragments++;
  nb_ev_begin(m, NB_MON_EV_FRAGMENT, &f->src, &f->dst);
  m->ev.frag_id = f->frag_id;
  m->ev.frag_offset = f->frag_offset;
  m->ev.frag_more = f->frag_more;
  m->ev.payload_len = f->payload_len;
  nb_ev_emit(m, &m->ev);
}

nb_err nb_monitor_feed(nb_monitor *m, int64_t ts_us, int linktype, const uint8_t *frame,
                       size_t len) {
  m->packet++;
  m->stats.packets++;
  nb_tick(m, ts_us);
  nb_frame f;
  nb_err e = nb_frame_decode(linktype, frame, len, &f);
  if (e) {
    m->stats.malformed++;
    return e;
  }
  switch (f.kind) {
    case NB_FRAME_UDP:
      nb_udp(m, &f.src, &f.dst, f.payload, f.payload_len);
      break;
    case NB_FRAME_FRAGMENT:
      nb_on_fragment(m, &f);
      break;
    case NB_FRAME_OTHER:
      m->stats.other++;
      break;
    case NB_FRAME_MALFORMED:
      nb_ev_begin(m, NB_MON_EV_MALFORMED, &f.src, &f.dst);
      m->ev.error = f.reason;
      m->stats.malformed++;
      nb_ev_emit(m, &m->ev);
      break;
  }
  return NB_OK;
}

void nb_monitor_finish(nb_monitor *m, int64_t ts_us) {
  if (ts_us > m->now_us) m->now_us = ts_us;
  nb_sweep(m, true);
  nb_summary(m);
}

nb_mon_dev_state nb_monitor_device_state(const nb_monitor *m, const char *endpoint) {
  const nb_mdev *d = nb_dev_by_ep(m, endpoint);
  return d ? d->state : NB_MON_DEV_UNKNOWN;
}

const char *nb_monitor_device_identity(const nb_monitor *m, const char *endpoint) {
  const nb_mdev *d = nb_dev_by_ep(m, endpoint);
  return d ? d->identity : NULL;
}
