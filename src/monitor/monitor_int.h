/* Inside the monitor engine, shared by its three parts: monitor.c (tables, events, alerts,
 * devices, rate windows, aggregated alerts, time, entry points), mon_coap.c (CoAP and LwM2M:
 * operations, exchanges, payloads, the message rules) and mon_dtls.c (DTLS records, flows,
 * handshakes, decryption). Not a public interface: everything here may change with them. */
#ifndef NB_MONITOR_MONITOR_INT_H
#define NB_MONITOR_MONITOR_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "coap/hmap.h"
#include "coap/msg.h"
#include "lwm2m/path.h"
#include "monitor/dtlsdec.h"
#include "monitor/monitor.h"

#define NB_MON_KEY_MAX 176
#define NB_MON_EXCHANGE_US (247ll * 1000000) /* RFC 7252 EXCHANGE_LIFETIME */
#define NB_MON_TABLE_CAP 1000000u            /* entries per table: bounded memory under floods */
#define NB_MON_SESSIONS 4096u /* resumable DTLS sessions remembered (with known keys) */

#define NB_CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

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
  uint64_t reg_packet; /* the Register the capture saw, 0 when it saw none */
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
  bool lwm2m;   /* an LwM2M operation (not plain CoAP on another path) */
  nb_mdev *dev; /* device is never freed before the monitor */
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

/* One aggregated alert: the occurrences of a rule on one flow (source and destination with
 * ports), emitted as one alert when it closes: `window` after it opened (an attack is reported
 * again each window while it lasts) or, for informational rules, once the flow has been quiet
 * for `window` (one alert per flow for a whole run of notifications); at the end in any case. */
typedef struct {
  nb_mkey k;
  nb_mlink link; /* in agg_windowed or agg_idle */
  bool idle_close;
  nb_rule_id rule;
  nb_addr src, dst;
  char ep[NB_MON_EP_MAX];
  char uri[NB_MON_URI_MAX];
  uint64_t count, first, last;
  uint64_t evidence[NB_MON_EVIDENCE_MAX];
  size_t evidence_count;
} nb_magg;

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
  nb_mtab devs_ep, devs_addr, devs_loc, pend_tok, pend_mid, mids, obs, wins, flows, aggs;
  nb_mlink pend_list, mid_list;
  nb_mlink agg_windowed; /* aggregates closed `window` after they opened, oldest first */
  nb_mlink agg_idle;     /* aggregates closed once quiet for `window`, least recent first */
  nb_mdev *all_devs;
  nb_mwin global_flood;
  nb_mon_stats stats;
  uint64_t packet;
  int64_t last_sweep_us, last_expiry_us, last_summary_us, now_us;
  int64_t last_refresh_us;  /* cfg.psks_refresh last called (INT64_MIN: never) */
  nb_mon_baseline *running; /* detection windows against cfg.reference */
  nb_mon_event ev;          /* the event being built (large: kept off the stack) */
  nb_coap_msg msg;          /* the message being decoded: header, token, payload */
  nb_coap_optlist opts;     /* its options: msg's own array, or `wide` */
  nb_coap_option *wide;     /* options of a message with more than NB_COAP_MAX_OPTIONS */
  size_t wide_cap;
  nb_records recs;         /* its decoded payload */
  bool secure;             /* the message came out of DTLS */
  uint8_t *plain;          /* decrypted record (with known keys) */
  nb_dtls_cache *sessions; /* master secrets of resumable sessions (with known keys) */
};

/* ---- tables: small and hot, so inline in each part */

static inline bool nb_mkey_eq(const nb_coap_hnode *node, const void *key) {
  const nb_mkey *a = (const nb_mkey *)node, *b = key;
  return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

static inline uint64_t nb_mkey_hash(const nb_monitor *m, const nb_mkey *k) {
  return nb_coap_hash_bytes(m->seed, k->b, k->len);
}

/* Lookups and inserts with a hash the caller computed once for both. */
static inline nb_mkey *nb_mtab_find_h(const nb_mtab *t, const nb_mkey *k, uint64_t h) {
  return (nb_mkey *)nb_coap_hmap_find(&t->map, h, nb_mkey_eq, k);
}

static inline void nb_mtab_insert_h(nb_mtab *t, nb_mkey *k, uint64_t h) {
  nb_coap_hmap_insert(&t->map, &k->node, h);
  t->count++;
}

static inline nb_mkey *nb_mtab_find(const nb_monitor *m, const nb_mtab *t, const nb_mkey *k) {
  return nb_mtab_find_h(t, k, nb_mkey_hash(m, k));
}

static inline void nb_mtab_insert(nb_monitor *m, nb_mtab *t, nb_mkey *k) {
  nb_mtab_insert_h(t, k, nb_mkey_hash(m, k));
}

static inline void nb_mtab_remove(nb_mtab *t, nb_mkey *k) {
  nb_coap_hmap_remove(&t->map, &k->node);
  t->count--;
}

static inline void nb_mkey_reset(nb_mkey *k) { k->len = 0; }

static inline void nb_mkey_put(nb_mkey *k, const void *data, size_t n) {
  if (n > (size_t)NB_MON_KEY_MAX - k->len) n = (size_t)NB_MON_KEY_MAX - k->len;
  if (n) memcpy(k->b + k->len, data, n);
  k->len = (uint8_t)(k->len + n);
}

static inline void nb_mkey_addr(nb_mkey *k, const nb_addr *a, bool with_port) {
  uint8_t head[3] = {a->family, with_port ? (uint8_t)(a->port >> 8) : 0,
                     with_port ? (uint8_t)a->port : 0};
  nb_mkey_put(k, head, 3);
  nb_mkey_put(k, a->ip, a->family == NB_ADDR_V4 ? 4 : 16);
}

/* tag + both addresses with ports + an ID (token, MID): exchanges, observations, flows. */
static inline void nb_mkey_exchange(nb_mkey *k, char tag, const nb_addr *a, const nb_addr *b,
                                    const void *id, size_t id_len) {
  nb_mkey_reset(k);
  nb_mkey_put(k, &tag, 1);
  nb_mkey_addr(k, a, true);
  nb_mkey_addr(k, b, true);
  uint8_t n = (uint8_t)id_len;
  nb_mkey_put(k, &n, 1);
  nb_mkey_put(k, id, id_len);
}

static inline void nb_mlink_init(nb_mlink *l) { l->prev = l->next = l; }

static inline void nb_mlink_append(nb_mlink *head, nb_mlink *l, int64_t ts) {
  l->ts = ts;
  l->prev = head->prev;
  l->next = head;
  head->prev->next = l;
  head->prev = l;
}

static inline void nb_mlink_unlink(nb_mlink *l) {
  l->prev->next = l->next;
  l->next->prev = l->prev;
  l->prev = l->next = l;
}

/* Bounded copy with NUL (snprintf("%s") costs a format parse per call in the hot path). */
static inline void nb_copy(char *dst, size_t cap, const char *src) {
  size_t n = strnlen(src, cap - 1);
  memcpy(dst, src, n);
  dst[n] = 0;
}

/* ---- text (monitor.c) */
/* The IP of a without its port ("10.0.0.1", "::1") into buf (NB_ADDR_STRLEN). */
const char *nb_mon_ip_text(const nb_addr *a, char *buf, size_t cap);

/* ---- events and alerts (monitor.c) */
void nb_mon_ev_begin(nb_monitor *m, nb_mon_event_kind kind, const nb_addr *src, const nb_addr *dst);
void nb_mon_ev_emit(nb_monitor *m, nb_mon_event *ev);
/* Raises an alert of `rule` now (when enabled); evidence NULL: this packet. */
void nb_mon_alert(nb_monitor *m, nb_rule_id rule, const nb_addr *src, const nb_addr *dst,
                  const char *endpoint, const char *uri, const uint64_t *evidence, size_t n,
                  const char *fmt, ...) __attribute__((format(printf, 9, 10)));
/* Counts this packet into the flow's aggregate of `rule` (opened when none is): one alert per
 * flow and window (info rules: per quiet-separated run), emitted when it closes or at the end. */
void nb_mon_aggregate(nb_monitor *m, nb_rule_id rule, const nb_addr *src, const nb_addr *dst,
                      const char *endpoint, const char *uri);
/* A datagram that does not decode, with its rate-limited low alert. */
void nb_mon_malformed(nb_monitor *m, const nb_addr *src, const nb_addr *dst, const char *why,
                      nb_rule_id rule);
/* Counts this packet into a per-source rate window of `rule`; alerts once per window when the
 * count reaches limit. */
void nb_mon_rule_window(nb_monitor *m, nb_rule_id rule, const nb_addr *key, uint32_t limit,
                        uint32_t window_s, const nb_addr *src, const nb_addr *dst, const char *ep,
                        const char *what);
nb_mwin *nb_mon_win_get(nb_monitor *m, nb_rule_id rule, const nb_addr *a, uint32_t window_s);
void nb_mon_win_count(nb_mwin *w, uint64_t packet);
/* Counts a distinct path (by hash) into the window; returns the distinct count. */
uint32_t nb_mon_win_path(nb_mwin *w, uint64_t h);

/* ---- devices (monitor.c) */
nb_mdev *nb_mon_dev_by_ep(const nb_monitor *m, const char *ep);
nb_mdev *nb_mon_dev_by_addr(const nb_monitor *m, const nb_addr *a);
nb_mdev *nb_mon_dev_by_loc(const nb_monitor *m, const nb_addr *server, const char *loc);
nb_mdev *nb_mon_dev_get(nb_monitor *m, const char *ep);
void nb_mon_dev_set_addr(nb_monitor *m, nb_mdev *d, const nb_addr *a);
void nb_mon_dev_set_loc(nb_monitor *m, nb_mdev *d, const nb_addr *server, const char *loc);
void nb_mon_dev_set_state(nb_monitor *m, nb_mdev *d, nb_mon_dev_state s);
bool nb_mon_is_bs_port(const nb_monitor *m, uint16_t p);

/* ---- CoAP and LwM2M (mon_coap.c) */
/* Parses a datagram into m->msg and m->opts, with no fixed option count. */
nb_err nb_mon_parse(nb_monitor *m, const uint8_t *data, size_t len);
/* One CoAP datagram (plain, or decrypted when m->secure). */
void nb_mon_on_coap(nb_monitor *m, const nb_addr *src, const nb_addr *dst, const uint8_t *data,
                    size_t len);
/* The same for a datagram nb_mon_parse already parsed into m->msg and m->opts. */
void nb_mon_on_parsed(nb_monitor *m, const nb_addr *src, const nb_addr *dst, size_t len);
void nb_mon_pend_drop(nb_monitor *m, nb_mpend *p);

/* ---- DTLS (mon_dtls.c) */
void nb_mon_on_dtls(nb_monitor *m, const nb_addr *src, const nb_addr *dst, const uint8_t *data,
                    size_t len);
/* The client's DTLS identity on the flow (client, server) of the message being decoded; ""
 * over NoSec or when the handshake (or its identity) was not seen. */
const char *nb_mon_flow_identity(const nb_monitor *m, const nb_addr *client, const nb_addr *server);
/* Frees a flow's decryption state (the flow itself belongs to the table). */
void nb_mon_flow_release(nb_mflow *f);

#endif
