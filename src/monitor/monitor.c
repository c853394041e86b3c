/* Monitor engine core: tables, events and alerts (single and aggregated), devices, rate
 * windows, time, and the entry points frames -> UDP -> CoAP (mon_coap.c) / DTLS (mon_dtls.c). */
#include "monitor/monitor.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rand.h"
#include "dtls/record.h"
#include "monitor/frame.h"
#include "monitor/monitor_int.h"

/* ---------------------------------------------------------------- tables */

const char *nb_mon_ip_text(const nb_addr *a, char *buf, size_t cap) {
  if (!inet_ntop(a->family == NB_ADDR_V4 ? AF_INET : AF_INET6, a->ip, buf, (socklen_t)cap))
    nb_copy(buf, cap, "?");
  return buf;
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
bool nb_mon_is_bs_port(const nb_monitor *m, uint16_t p) {
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
                     &m->mids,    &m->obs,       &m->wins,     &m->flows,    &m->aggs};
  bool ok = m->model != NULL;
  if (m->cfg.psks && !(m->sessions = nb_dtls_cache_new(NB_MON_SESSIONS))) ok = false;
  for (size_t i = 0; i < sizeof tabs / sizeof tabs[0]; i++)
    if (nb_coap_hmap_init(&tabs[i]->map)) ok = false;
  nb_mlink_init(&m->pend_list);
  nb_mlink_init(&m->mid_list);
  nb_mlink_init(&m->agg_windowed);
  nb_mlink_init(&m->agg_idle);
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
  nb_mon_flow_release(NB_CONTAINER(NB_CONTAINER(node, nb_mkey, node), nb_mflow, k));
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
  nb_mtab_free_all(&m->aggs, offsetof(nb_magg, k), true);
  nb_coap_hmap_each(&m->flows.map, nb_flow_free_dec, NULL);
  nb_mtab_free_all(&m->flows, offsetof(nb_mflow, k), true);
  free(m->plain);
  free(m->wide);
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

/* The fields every event kind starts from (the large text buffers are cleared by their users). */
static void nb_ev_defaults(const nb_monitor *m, nb_mon_event *ev, nb_mon_event_kind kind) {
  ev->kind = kind;
  ev->packet = m->packet;
  ev->ts_us = m->now_us;
  ev->content_format = -1;
  ev->latency_us = -1;
  ev->lifetime = -1;
  ev->dtls_handshake = -1;
}

void nb_mon_ev_begin(nb_monitor *m, nb_mon_event_kind kind, const nb_addr *src,
                     const nb_addr *dst) {
  nb_mon_event *ev = &m->ev;
  memset(ev, 0, offsetof(nb_mon_event, dtls_detail));
  ev->dtls_detail[0] = 0;
  ev->state = NB_MON_DEV_UNKNOWN;
  ev->rule = 0;
  ev->severity = NULL;
  ev->message[0] = 0;
  ev->evidence_count = 0;
  ev->count = ev->first_packet = ev->last_packet = 0;
  nb_ev_defaults(m, ev, kind);
  if (src) ev->src = *src;
  if (dst) ev->dst = *dst;
}

void nb_mon_ev_emit(nb_monitor *m, nb_mon_event *ev) {
  if (m->fn &&
      !(m->cfg.no_messages && (ev->kind == NB_MON_EV_MESSAGE || ev->kind == NB_MON_EV_DTLS ||
                               ev->kind == NB_MON_EV_FRAGMENT)))
    m->fn(ev, m->user);
}

/* An alert event of `rule` on (src, dst), built apart so that the message being decoded stays
 * intact; NULL when out of memory. */
static nb_mon_event *nb_alert_new(const nb_monitor *m, nb_rule_id rule, const nb_addr *src,
                                  const nb_addr *dst, const char *endpoint, const char *uri) {
  nb_mon_event *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  nb_ev_defaults(m, a, NB_MON_EV_ALERT);
  if (src) a->src = *src;
  if (dst) a->dst = *dst;
  a->rule = rule;
  a->severity = nb_rule_severity(rule);
  if (endpoint) nb_copy(a->endpoint, sizeof a->endpoint, endpoint);
  if (uri) nb_copy(a->uri, sizeof a->uri, uri);
  return a;
}

static void nb_alert_emit(nb_monitor *m, nb_mon_event *a) {
  m->stats.alerts++;
  if (m->fn) m->fn(a, m->user);
  free(a);
}

void nb_mon_alert(nb_monitor *m, nb_rule_id rule, const nb_addr *src, const nb_addr *dst,
                  const char *endpoint, const char *uri, const uint64_t *evidence, size_t n,
                  const char *fmt, ...) {
  if (!m->rules->enabled[rule]) return;
  nb_mon_event *a = nb_alert_new(m, rule, src, dst, endpoint, uri);
  if (!a) return;
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
  nb_alert_emit(m, a);
}

/* ---------------------------------------------------------------- aggregated alerts */

static const char *nb_agg_text(nb_rule_id rule) {
  switch (rule) {
    case NB_RULE_UNSOLICITED_NOTIFY:
      return "notification(s) on tokens no observation in the capture set up, from a device "
             "whose registration the capture saw";
    case NB_RULE_OBSERVE_PRECAPTURE:
      return "notification(s) of observations set up before the capture began";
    default:
      return "occurrence(s)";
  }
}

/* Emits the aggregate as one alert (count, first and last packet) and forgets it. */
static void nb_agg_close(nb_monitor *m, nb_magg *g) {
  nb_mon_event *a = nb_alert_new(m, g->rule, &g->src, &g->dst, g->ep, g->uri);
  if (a) {
    a->packet = g->last;
    a->count = g->count;
    a->first_packet = g->first;
    a->last_packet = g->last;
    a->evidence_count = g->evidence_count;
    memcpy(a->evidence, g->evidence, g->evidence_count * sizeof g->evidence[0]);
    char ip[NB_ADDR_STRLEN];
    snprintf(a->message, sizeof a->message, "%llu %s, to %s port %u (packets %llu to %llu)",
             (unsigned long long)g->count, nb_agg_text(g->rule),
             nb_mon_ip_text(&g->dst, ip, sizeof ip), g->dst.port, (unsigned long long)g->first,
             (unsigned long long)g->last);
    nb_alert_emit(m, a);
  }
  nb_mlink_unlink(&g->link);
  nb_mtab_remove(&m->aggs, &g->k);
  free(g);
}

void nb_mon_aggregate(nb_monitor *m, nb_rule_id rule, const nb_addr *src, const nb_addr *dst,
                      const char *endpoint, const char *uri) {
  if (!m->rules->enabled[rule]) return;
  nb_mkey k;
  uint8_t r = (uint8_t)rule;
  nb_mkey_exchange(&k, 'A', src, dst, &r, 1);
  nb_mkey *f = nb_mtab_find(m, &m->aggs, &k);
  nb_magg *g = f ? NB_CONTAINER(f, nb_magg, k) : NULL;
  if (!g) {
    if (m->aggs.count >= NB_MON_TABLE_CAP || !(g = calloc(1, sizeof *g))) return;
    g->k = k;
    g->rule = rule;
    g->src = *src;
    g->dst = *dst;
    g->first = m->packet;
    g->idle_close = !strcmp(nb_rule_severity(rule), "info");
    nb_mtab_insert(m, &m->aggs, &g->k);
    nb_mlink_append(g->idle_close ? &m->agg_idle : &m->agg_windowed, &g->link, m->now_us);
  } else if (g->idle_close) { /* most recent last */
    nb_mlink_unlink(&g->link);
    nb_mlink_append(&m->agg_idle, &g->link, m->now_us);
  }
  if (!g->ep[0] && endpoint) nb_copy(g->ep, sizeof g->ep, endpoint);
  if (!g->uri[0] && uri) nb_copy(g->uri, sizeof g->uri, uri);
  g->count++;
  g->last = m->packet;
  if (g->evidence_count < NB_MON_EVIDENCE_MAX) g->evidence[g->evidence_count++] = m->packet;
}

/* Closes the aggregates of one list whose time has come (all of them with `all`). */
static void nb_agg_sweep_list(nb_monitor *m, nb_mlink *list, bool all) {
  int64_t window = (int64_t)m->rules->notify_window_s * 1000000;
  while (list->next != list && (all || m->now_us - list->next->ts >= window))
    nb_agg_close(m, NB_CONTAINER(list->next, nb_magg, link));
}

static void nb_agg_sweep(nb_monitor *m, bool all) {
  nb_agg_sweep_list(m, &m->agg_windowed, all);
  nb_agg_sweep_list(m, &m->agg_idle, all);
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

nb_mdev *nb_mon_dev_by_ep(const nb_monitor *m, const char *ep) {
  nb_mkey k;
  nb_dev_key_ep(&k, ep);
  nb_mkey *f = nb_mtab_find(m, &m->devs_ep, &k);
  return f ? NB_CONTAINER(f, nb_mdev, k_ep) : NULL;
}

nb_mdev *nb_mon_dev_by_addr(const nb_monitor *m, const nb_addr *a) {
  nb_mkey k;
  nb_mkey_reset(&k);
  nb_mkey_addr(&k, a, true);
  nb_mkey *f = nb_mtab_find(m, &m->devs_addr, &k);
  return f ? NB_CONTAINER(f, nb_mdev, k_addr) : NULL;
}

nb_mdev *nb_mon_dev_by_loc(const nb_monitor *m, const nb_addr *server, const char *loc) {
  nb_mkey k;
  nb_dev_key_loc(&k, server, loc);
  nb_mkey *f = nb_mtab_find(m, &m->devs_loc, &k);
  return f ? NB_CONTAINER(f, nb_mdev, k_loc) : NULL;
}

nb_mdev *nb_mon_dev_get(nb_monitor *m, const char *ep) {
  nb_mdev *d = nb_mon_dev_by_ep(m, ep);
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

void nb_mon_dev_set_addr(nb_monitor *m, nb_mdev *d, const nb_addr *a) {
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

void nb_mon_dev_set_loc(nb_monitor *m, nb_mdev *d, const nb_addr *server, const char *loc) {
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

void nb_mon_dev_set_state(nb_monitor *m, nb_mdev *d, nb_mon_dev_state s) {
  if (d->state == s) return;
  if (d->state == NB_MON_DEV_REGISTERED) m->stats.registered--;
  if (s == NB_MON_DEV_REGISTERED) m->stats.registered++;
  d->state = s;
  nb_mon_event *ev = calloc(1, sizeof *ev);
  if (!ev) return;
  nb_ev_defaults(m, ev, NB_MON_EV_STATE);
  ev->src = d->addr;
  ev->lifetime = d->lifetime_s;
  ev->state = s;
  nb_copy(ev->endpoint, sizeof ev->endpoint, d->ep);
  nb_copy(ev->identity, sizeof ev->identity, d->identity);
  nb_copy(ev->location, sizeof ev->location, d->location);
  if (m->fn) m->fn(ev, m->user);
  free(ev);
}

nb_mon_dev_state nb_monitor_device_state(const nb_monitor *m, const char *endpoint) {
  const nb_mdev *d = nb_mon_dev_by_ep(m, endpoint);
  return d ? d->state : NB_MON_DEV_UNKNOWN;
}

const char *nb_monitor_device_identity(const nb_monitor *m, const char *endpoint) {
  const nb_mdev *d = nb_mon_dev_by_ep(m, endpoint);
  return d ? d->identity : NULL;
}

/* ---------------------------------------------------------------- rate windows */

nb_mwin *nb_mon_win_get(nb_monitor *m, nb_rule_id rule, const nb_addr *a, uint32_t window_s) {
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

void nb_mon_win_count(nb_mwin *w, uint64_t packet) {
  w->count++;
  if (w->evidence_count < NB_MON_EVIDENCE_MAX) w->evidence[w->evidence_count++] = packet;
}

uint32_t nb_mon_win_path(nb_mwin *w, uint64_t h) {
  for (uint32_t i = 0; i < w->path_count && i < 32; i++)
    if (w->paths[i] == h) return w->path_count;
  if (w->path_count < 32) w->paths[w->path_count] = h;
  return ++w->path_count;
}

void nb_mon_rule_window(nb_monitor *m, nb_rule_id rule, const nb_addr *key, uint32_t limit,
                        uint32_t window_s, const nb_addr *src, const nb_addr *dst, const char *ep,
                        const char *what) {
  nb_mwin *w = nb_mon_win_get(m, rule, key, window_s);
  if (!w) return;
  nb_mon_win_count(w, m->packet);
  if (w->count >= limit && !w->fired) {
    w->fired = true;
    char ip[NB_ADDR_STRLEN];
    nb_mon_alert(m, rule, src, dst, ep, m->ev.uri, w->evidence, w->evidence_count,
                 "%u %s from %s within %us", w->count, what, nb_mon_ip_text(key, ip, sizeof ip),
                 window_s);
  }
}

void nb_mon_malformed(nb_monitor *m, const nb_addr *src, const nb_addr *dst, const char *why,
                      nb_rule_id rule) {
  nb_mon_ev_begin(m, NB_MON_EV_MALFORMED, src, dst);
  m->ev.error = why;
  m->ev.transport = m->secure ? "coaps" : "coap";
  m->stats.malformed++;
  nb_mon_ev_emit(m, &m->ev);
  nb_mon_rule_window(m, rule, src, 1, 60, src, dst, NULL,
                     rule == NB_RULE_MALFORMED_COAP ? "malformed CoAP datagrams"
                                                    : "messages with bad critical options");
}

/* ---------------------------------------------------------------- time */

/* Drops exchanges and MIDs older than EXCHANGE_LIFETIME, closes aggregated alerts whose window
 * passed; with all_devices, also expires registrations (a walk over every device, so done less
 * often). */
static void nb_sweep(nb_monitor *m, bool all_devices) {
  while (m->pend_list.next != &m->pend_list &&
         m->now_us - m->pend_list.next->ts > NB_MON_EXCHANGE_US)
    nb_mon_pend_drop(m, NB_CONTAINER(m->pend_list.next, nb_mpend, link));
  while (m->mid_list.next != &m->mid_list &&
         m->now_us - m->mid_list.next->ts > NB_MON_EXCHANGE_US) {
    nb_mmid *e = NB_CONTAINER(m->mid_list.next, nb_mmid, link);
    nb_mlink_unlink(&e->link);
    nb_mtab_remove(&m->mids, &e->k);
    free(e);
  }
  nb_agg_sweep(m, false);
  if (!all_devices) return;
  for (nb_mdev *d = m->all_devs; d; d = d->next_all) {
    if (d->state != NB_MON_DEV_REGISTERED || d->lifetime_s <= 0) continue;
    int64_t deadline =
        d->last_reg_us + (d->lifetime_s + (int64_t)m->rules->expiry_grace_s) * 1000000;
    if (m->now_us > deadline) nb_mon_dev_set_state(m, d, NB_MON_DEV_EXPIRED);
  }
}

static void nb_summary(nb_monitor *m, const char *error) {
  nb_mon_event *ev = calloc(1, sizeof *ev);
  if (!ev) return;
  nb_ev_defaults(m, ev, NB_MON_EV_SUMMARY);
  ev->stats = m->stats;
  ev->error = error;
  if (m->fn) m->fn(ev, m->user);
  free(ev);
}

/* Capture times are kept within +-2^61 us (73 000 years) whatever a file says, so that the
 * deadlines added to them (lifetimes, windows) never overflow. */
static int64_t nb_clamp_ts(int64_t ts_us) {
  const int64_t lim = (int64_t)1 << 61;
  return ts_us > lim ? lim : ts_us < -lim ? -lim : ts_us;
}

static void nb_tick(nb_monitor *m, int64_t ts_us) {
  ts_us = nb_clamp_ts(ts_us);
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
    nb_summary(m, NULL);
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
    nb_mon_on_dtls(m, src, dst, data, len);
  } else if (coap_port) {
    nb_mon_on_coap(m, src, dst, data, len);
  } else {
    if (len >= 4 && (data[0] >> 6) == 1 && nb_mon_parse(m, data, len) == NB_OK)
      nb_mon_on_coap(m, src, dst, data, len);
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
  nb_mon_ev_begin(m, NB_MON_EV_FRAGMENT, &f->src, &f->dst);
  m->ev.frag_id = f->frag_id;
  m->ev.frag_offset = f->frag_offset;
  m->ev.frag_more = f->frag_more;
  m->ev.payload_len = f->payload_len;
  nb_mon_ev_emit(m, &m->ev);
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
      nb_mon_ev_begin(m, NB_MON_EV_MALFORMED, &f.src, &f.dst);
      m->ev.error = f.reason;
      m->stats.malformed++;
      nb_mon_ev_emit(m, &m->ev);
      break;
  }
  return NB_OK;
}

void nb_monitor_finish_error(nb_monitor *m, int64_t ts_us, const char *why) {
  ts_us = nb_clamp_ts(ts_us);
  if (ts_us > m->now_us) m->now_us = ts_us;
  nb_sweep(m, true);
  nb_agg_sweep(m, true);
  nb_summary(m, why);
}

void nb_monitor_finish(nb_monitor *m, int64_t ts_us) { nb_monitor_finish_error(m, ts_us, NULL); }
