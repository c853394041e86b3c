/* Monitor engine, CoAP and LwM2M part: a datagram parsed with no fixed option count (what any
 * peer would accept), its LwM2M operation when it is on an LwM2M path (plain CoAP methods
 * elsewhere), request/response matching, observations, payload decoding and the rules that
 * look at messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/format.h"
#include "lwm2m/linkfmt.h"
#include "monitor/monitor_int.h"

/* ---------------------------------------------------------------- parsing */

nb_err nb_mon_parse(nb_monitor *m, const uint8_t *data, size_t len) {
  nb_err e = nb_coap_parse(data, len, &m->msg);
  if (e != NB_ERR_COAP_TOO_MANY_OPTS) {
    m->opts = nb_coap_msg_opts(&m->msg);
    return e;
  }
  /* Options are bounded by the datagram, not by a count: one byte each at least. */
  if (m->wide_cap < len) {
    nb_coap_option *w = realloc(m->wide, len * sizeof *w);
    if (!w) return e;
    m->wide = w;
    m->wide_cap = len;
  }
  return nb_coap_parse_wide(data, len, &m->msg, m->wide, m->wide_cap, &m->opts);
}

/* ---------------------------------------------------------------- LwM2M meaning */

typedef struct {
  const char *iface, *op;
  nb_path path;
  bool path_ok;
  bool lwm2m; /* on an LwM2M path: op is an LwM2M operation, else the CoAP method */
  bool observe, cancel;
  bool client_to_server; /* Register, Update, De-register, Bootstrap-Request, Send */
} nb_lwm2m_req;

static bool nb_first_seg(const nb_coap_optlist *o, const char *seg) {
  const nb_coap_option *p = nb_coap_optlist_find(o, NB_COAP_OPT_URI_PATH);
  return p && p->len == strlen(seg) && memcmp(p->value, seg, p->len) == 0;
}

/* The operations LwM2M defines on the root path "/": Bootstrap-Delete and -Discover from a
 * bootstrap server, Read-/Observe-Composite (FETCH) and Write-Composite (iPATCH). */
static bool nb_root_is_lwm2m(uint8_t code, bool bootstrap) {
  return code == NB_COAP_FETCH || code == NB_COAP_IPATCH ||
         (bootstrap && (code == NB_COAP_DELETE || code == NB_COAP_GET));
}

static void nb_classify_dm(const nb_coap_msg *msg, const nb_coap_optlist *opts, bool bootstrap,
                           nb_lwm2m_req *q) {
  uint32_t obs = 0;
  bool has_obs = nb_coap_optlist_get_uint(opts, NB_COAP_OPT_OBSERVE, &obs) == NB_OK;
  bool accept_link = nb_coap_optlist_accept(opts) == NB_COAP_CF_LINK_FORMAT;
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
      else if (msg->payload_len == 0 && nb_coap_optlist_find(opts, NB_COAP_OPT_URI_QUERY))
        q->op = "Write-Attributes";
      else
        q->op = "Write";
      break;
    case NB_COAP_POST:
      if (q->path.len == 1)
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

/* Plain CoAP: the method is all there is to say. */
static void nb_classify_plain(uint8_t code, nb_lwm2m_req *q) {
  q->lwm2m = false;
  q->iface = NULL;
  q->op = nb_coap_code_name(code);
}

static void nb_classify(nb_monitor *m, const nb_addr *src, const nb_addr *dst, nb_lwm2m_req *q) {
  const nb_coap_msg *msg = &m->msg;
  const nb_coap_optlist *opts = &m->opts;
  memset(q, 0, sizeof *q);
  q->lwm2m = true;
  q->path_ok = nb_path_from_optlist(opts, &q->path) == NB_OK;
  if (nb_first_seg(opts, "rd")) {
    q->iface = "registration";
    q->client_to_server = true;
    size_t segs = nb_coap_optlist_count(opts, NB_COAP_OPT_URI_PATH);
    if (msg->code == NB_COAP_POST)
      q->op = segs == 1 ? "Register" : "Update";
    else if (msg->code == NB_COAP_DELETE)
      q->op = "De-register";
    else
      q->op = "Unknown";
    return;
  }
  if (nb_first_seg(opts, "bs")) {
    char ep[4];
    bool has_ep = nb_coap_optlist_get_query(opts, NB_COAP_OPT_URI_QUERY, "ep", ep, sizeof ep) !=
                  NB_ERR_NOT_FOUND;
    q->iface = "bootstrap";
    q->client_to_server = has_ep;
    q->op = msg->code != NB_COAP_POST ? "Unknown"
            : has_ep                  ? "Bootstrap-Request"
                                      : "Bootstrap-Finish";
    return;
  }
  if (nb_first_seg(opts, "dp")) {
    q->iface = "reporting";
    q->op = "Send";
    q->client_to_server = true;
    return;
  }
  nb_mdev *d = nb_mon_dev_by_addr(m, dst);
  bool bootstrap = nb_mon_is_bs_port(m, src->port) ||
                   (d && d->state == NB_MON_DEV_BOOTSTRAPPING && nb_addr_equal(&d->bs_server, src));
  if (!q->path_ok || (q->path.len == 0 && !nb_root_is_lwm2m(msg->code, bootstrap)))
    nb_classify_plain(msg->code, q);
  else
    nb_classify_dm(msg, opts, bootstrap, q);
}

/* ---------------------------------------------------------------- payloads */

static bool nb_is_secret(const nb_path *p) {
  if (p->len < 3) return false;
  if (p->ids[0] == 0) /* identity, secret key, SMS binding secret key */
    return p->ids[2] == 3 || p->ids[2] == 5 || p->ids[2] == 8;
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

/* security-write's scope: the Security object (server URIs, security modes, the bootstrap
 * server's own account, identities and keys), Access Control (who may do what) and OSCORE
 * (master secrets). The Server object's lifetime, periods and binding are ordinary
 * management (OMA interop TD 220 writes them) and out of scope. */
static bool nb_security_object(uint16_t obj) { return obj == 0 || obj == 2 || obj == 21; }

static bool nb_touches_security(const nb_records *recs, const nb_path *base, bool base_ok) {
  if (base_ok && base->len >= 1 && nb_security_object(base->ids[0])) return true;
  for (size_t i = 0; i < recs->len; i++)
    if (recs->items[i].path.len >= 1 && nb_security_object(recs->items[i].path.ids[0])) return true;
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

/* Why a payload is not decoded, for the formats the monitor does not know. */
static const char *nb_undecoded_reason(int cf) {
  return cf == NB_COAP_CF_NONE ? "payload without Content-Format: not decoded"
                               : "Content-Format not decoded by the monitor";
}

/* Decodes the payload against `base` with the definitions, then redacts. Every payload ends
 * with values or a decode_error: a format the monitor cannot read is said so, never silence. */
static void nb_decode_payload(nb_monitor *m, const nb_path *base) {
  nb_mon_event *ev = &m->ev;
  const nb_coap_msg *msg = &m->msg;
  if (msg->payload_len == 0) return;
  if (ev->content_format == NB_COAP_CF_LINK_FORMAT) { /* Discover answers: links, not values */
    nb_lwm2m_links links;
    nb_lwm2m_links_init(&links);
    if (nb_linkfmt_decode(msg->payload, msg->payload_len, &links, NULL, NULL, 0) != NB_OK)
      ev->decode_error = "link-format payload does not decode";
    nb_lwm2m_links_deinit(&links);
    return;
  }
  if (!nb_format_is_supported(ev->content_format)) {
    ev->decode_error = nb_undecoded_reason(ev->content_format);
    return;
  }
  nb_format_error err = {0, NULL};
  nb_format_opts opts = {.base = base, .model = m->model, .note_out = &ev->nonconformance};
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

/* ---------------------------------------------------------------- exchanges */

void nb_mon_pend_drop(nb_monitor *m, nb_mpend *p) {
  nb_mtab_remove(&m->pend_tok, &p->k_tok);
  nb_mtab_remove(&m->pend_mid, &p->k_mid);
  nb_mlink_unlink(&p->link);
  free(p);
}

static nb_mpend *nb_pend_find_tok(nb_monitor *m, const nb_addr *requester, const nb_addr *responder,
                                  const nb_coap_msg *msg) {
  nb_mkey k;
  nb_mkey_exchange(&k, 'T', requester, responder, msg->token, msg->token_len);
  nb_mkey *f = nb_mtab_find(m, &m->pend_tok, &k);
  return f ? NB_CONTAINER(f, nb_mpend, k_tok) : NULL;
}

static nb_mpend *nb_pend_find_mid(nb_monitor *m, const nb_addr *requester, const nb_addr *responder,
                                  uint16_t mid) {
  nb_mkey k;
  uint8_t b[2] = {(uint8_t)(mid >> 8), (uint8_t)mid};
  nb_mkey_exchange(&k, 'M', requester, responder, b, 2);
  nb_mkey *f = nb_mtab_find(m, &m->pend_mid, &k);
  return f ? NB_CONTAINER(f, nb_mpend, k_mid) : NULL;
}

static void nb_pend_add(nb_monitor *m, const nb_addr *src, const nb_addr *dst,
                        const nb_lwm2m_req *q, nb_mdev *dev) {
  const nb_coap_msg *msg = &m->msg;
  nb_mpend *p = calloc(1, sizeof *p);
  if (!p) return;
  nb_mkey_exchange(&p->k_tok, 'T', src, dst, msg->token, msg->token_len);
  uint8_t b[2] = {(uint8_t)(msg->mid >> 8), (uint8_t)msg->mid};
  nb_mkey_exchange(&p->k_mid, 'M', src, dst, b, 2);
  /* Each key is hashed once, for the lookup of an older exchange and for the insert. */
  uint64_t h_tok = nb_mkey_hash(m, &p->k_tok), h_mid = nb_mkey_hash(m, &p->k_mid);
  nb_mkey *old = nb_mtab_find_h(&m->pend_tok, &p->k_tok, h_tok);
  if (old) nb_mon_pend_drop(m, NB_CONTAINER(old, nb_mpend, k_tok));
  old = nb_mtab_find_h(&m->pend_mid, &p->k_mid, h_mid);
  if (old) nb_mon_pend_drop(m, NB_CONTAINER(old, nb_mpend, k_mid));
  if (m->pend_tok.count >= NB_MON_TABLE_CAP) {
    free(p);
    return;
  }
  p->packet = m->packet;
  p->iface = q->iface;
  p->op = q->op;
  p->path = q->path;
  p->path_ok = q->path_ok;
  p->lwm2m = q->lwm2m;
  p->observe = q->observe;
  p->cancel = q->cancel;
  p->dev = dev;
  nb_copy(p->uri, sizeof p->uri, m->ev.uri);
  nb_mtab_insert_h(&m->pend_tok, &p->k_tok, h_tok);
  nb_mtab_insert_h(&m->pend_mid, &p->k_mid, h_mid);
  nb_mlink_append(&m->pend_list, &p->link, m->now_us);
}

/* Same (src, dst, MID, type) within EXCHANGE_LIFETIME: a retransmission. */
static bool nb_seen_mid(nb_monitor *m, const nb_addr *src, const nb_addr *dst) {
  const nb_coap_msg *msg = &m->msg;
  nb_mkey k;
  uint8_t b[3] = {(uint8_t)(msg->mid >> 8), (uint8_t)msg->mid, msg->type};
  nb_mkey_exchange(&k, 'D', src, dst, b, 3);
  uint64_t h = nb_mkey_hash(m, &k);
  if (nb_mtab_find_h(&m->mids, &k, h)) return true;
  if (m->mids.count >= NB_MON_TABLE_CAP) return false;
  nb_mmid *e = malloc(sizeof *e);
  if (!e) return false;
  e->k = k;
  nb_mtab_insert_h(&m->mids, &e->k, h);
  nb_mlink_append(&m->mid_list, &e->link, m->now_us);
  return false;
}

static nb_mobs *nb_obs_find(nb_monitor *m, const nb_addr *observer, const nb_addr *client) {
  nb_mkey k;
  nb_mkey_exchange(&k, 'O', observer, client, m->msg.token, m->msg.token_len);
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
                       const nb_mpend *p) {
  if (nb_obs_find(m, observer, client) || m->obs.count >= NB_MON_TABLE_CAP) return;
  nb_mobs *o = calloc(1, sizeof *o);
  if (!o) return;
  nb_mkey_exchange(&o->k, 'O', observer, client, m->msg.token, m->msg.token_len);
  o->path = p->path;
  nb_copy(o->uri, sizeof o->uri, p->uri);
  o->dev = p->dev;
  nb_mtab_insert(m, &m->obs, &o->k);
  if (!o->dev) return;
  o->dev->observations++;
  if (o->dev->observations > m->rules->observe_max && !o->dev->observe_alerted) {
    o->dev->observe_alerted = true;
    nb_mon_alert(m, NB_RULE_OBSERVE_ABUSE, observer, client, o->dev->ep, o->uri, NULL, 0,
                 "%u live observations on one device (limit %u)", o->dev->observations,
                 m->rules->observe_max);
  }
}

/* ---------------------------------------------------------------- rules on messages */

static void nb_rule_flood(nb_monitor *m, const nb_addr *src, const nb_addr *dst, const char *ep) {
  const nb_mon_rules *r = m->rules;
  nb_mon_rule_window(m, NB_RULE_REGISTRATION_FLOOD, src, r->flood_per_source, r->flood_window_s,
                     src, dst, ep, "Register/Bootstrap-Request");
  nb_mwin *g = &m->global_flood;
  if (m->now_us - g->start_us >= (int64_t)r->flood_window_s * 1000000 || g->count == 0) {
    memset(g, 0, sizeof *g);
    g->start_us = m->now_us;
  }
  nb_mon_win_count(g, m->packet);
  if (g->count >= r->flood_total && !g->fired) {
    g->fired = true;
    nb_mon_alert(m, NB_RULE_REGISTRATION_FLOOD, src, dst, ep, m->ev.uri, g->evidence,
                 g->evidence_count, "%u Register/Bootstrap-Request from all sources within %us",
                 g->count, r->flood_window_s);
  }
}

static bool nb_dev_dead(const nb_mdev *d) {
  return d && (d->state == NB_MON_DEV_DEREGISTERED || d->state == NB_MON_DEV_EXPIRED);
}

static void nb_rule_stale(nb_monitor *m, const nb_mdev *d, const nb_addr *src, const nb_addr *dst) {
  if (!nb_dev_dead(d)) return;
  nb_mon_alert(m, NB_RULE_STALE_ENDPOINT, src, dst, d->ep, m->ev.uri,
               d->reg_packet ? (uint64_t[]){d->reg_packet, m->packet} : NULL, d->reg_packet ? 2 : 0,
               "%s from endpoint %s whose registration is %s", m->ev.op ? m->ev.op : "traffic",
               d->ep, nb_mon_dev_state_name(d->state));
}

static void nb_rule_payload(nb_monitor *m, const nb_addr *src, const nb_addr *dst,
                            const nb_path *base, bool base_ok) {
  nb_mon_event *ev = &m->ev;
  if (!m->secure && ev->payload_len > 0 &&
      (nb_has_secret(&m->recs) ||
       (base_ok && base->len >= 1 && base->ids[0] == 0 && ev->values == NULL)))
    nb_mon_alert(m, NB_RULE_CLEARTEXT_CREDENTIALS, src, dst, ev->endpoint, ev->uri,
                 ev->request_packet ? (uint64_t[]){ev->request_packet, m->packet} : NULL,
                 ev->request_packet ? 2 : 0,
                 "%s carries Security object credentials over NoSec CoAP",
                 ev->op ? ev->op : "message");
  const nb_record *fw = nb_insecure_fw_uri(&m->recs);
  if (fw && !ev->is_response)
    nb_mon_alert(m, NB_RULE_INSECURE_FIRMWARE_URI, src, dst, ev->endpoint, ev->uri, NULL, 0,
                 "firmware package URI over an insecure scheme: %.*s",
                 (int)(fw->value.v.bytes.len > 120 ? 120 : fw->value.v.bytes.len),
                 (const char *)fw->value.v.bytes.data);
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
    nb_mon_alert(m, NB_RULE_ENDPOINT_HIJACK, src, dst, d->ep, ev->uri, evidence, 2,
                 "endpoint %s registers from a new address while registered from %s", d->ep, was);
  } else if (other_id) {
    nb_mon_alert(m, NB_RULE_ENDPOINT_HIJACK, src, dst, d->ep, ev->uri, evidence, 2,
                 "endpoint %s registers with DTLS identity %.80s while registered with %.80s",
                 d->ep, ev->identity[0] ? ev->identity : "(none: NoSec)", d->identity);
  }
}

/* ---------------------------------------------------------------- requests */

/* The lifetime of lt=: decimal seconds 1..2^32-1, as the server accepts it; anything else is
 * reported as invalid (the server answers 4.00) and leaves the lifetime unknown. */
static void nb_reg_lifetime(nb_monitor *m) {
  nb_mon_event *ev = &m->ev;
  char lt[24];
  nb_err e = nb_coap_optlist_get_query(&m->opts, NB_COAP_OPT_URI_QUERY, "lt", lt, sizeof lt);
  if (e == NB_ERR_NOT_FOUND) return;
  uint64_t v = 0;
  bool ok = e == NB_OK && lt[0] != 0;
  for (const char *c = lt; ok && *c; c++) {
    ok = *c >= '0' && *c <= '9' && v <= UINT32_MAX;
    v = v * 10 + (uint64_t)(*c - '0');
  }
  if (ok && v >= 1 && v <= UINT32_MAX) {
    ev->lifetime = (int64_t)v;
    return;
  }
  const nb_coap_option *o = NULL;
  for (size_t i = 0; i < m->opts.count; i++) {
    const nb_coap_option *q = &m->opts.items[i];
    if (q->number == NB_COAP_OPT_URI_QUERY && q->len >= 2 && !memcmp(q->value, "lt", 2) &&
        (q->len == 2 || q->value[2] == '=')) {
      o = q;
      break;
    }
  }
  snprintf(ev->query_error, sizeof ev->query_error,
           "invalid lifetime %.*s: not 1-4294967295 seconds (the server refuses it)",
           o ? (int)(o->len > 40 ? 40 : o->len) : 2, o ? (const char *)o->value : "lt");
}

static void nb_reg_params(nb_monitor *m) {
  nb_mon_event *ev = &m->ev;
  const nb_coap_optlist *opts = &m->opts;
  nb_coap_optlist_get_query(opts, NB_COAP_OPT_URI_QUERY, "ep", ev->endpoint, sizeof ev->endpoint);
  nb_reg_lifetime(m);
  nb_coap_optlist_get_query(opts, NB_COAP_OPT_URI_QUERY, "lwm2m", ev->version, sizeof ev->version);
  nb_coap_optlist_get_query(opts, NB_COAP_OPT_URI_QUERY, "b", ev->binding, sizeof ev->binding);
  if (m->msg.payload_len == 0) return;
  nb_lwm2m_links links;
  nb_lwm2m_links_init(&links);
  if (nb_linkfmt_decode(m->msg.payload, m->msg.payload_len, &links, NULL, NULL, 0) == NB_OK)
    nb_objects_text(&links, ev->objects, sizeof ev->objects);
  else
    ev->decode_error = "link-format payload does not decode";
  nb_lwm2m_links_deinit(&links);
}

/* The device a Register or Bootstrap-Request names (ep= already in the event), with the checks
 * both share: the flow's DTLS identity, NoSec, flood. NULL when there is nothing to track or the
 * request is a retransmission. */
static nb_mdev *nb_req_device(nb_monitor *m, const nb_addr *src, const nb_addr *dst, nb_mdev **dev,
                              const char *what) {
  nb_mon_event *ev = &m->ev;
  nb_copy(ev->identity, sizeof ev->identity, nb_mon_flow_identity(m, src, dst));
  if (!ev->endpoint[0]) return NULL;
  nb_mdev *d = nb_mon_dev_get(m, ev->endpoint);
  *dev = d;
  if (!d || ev->retransmission) return NULL;
  if (!m->secure)
    nb_mon_alert(m, NB_RULE_NOSEC, src, dst, d->ep, ev->uri, NULL, 0,
                 "%s of %s over plain CoAP (NoSec)", what, d->ep);
  nb_rule_flood(m, src, dst, d->ep);
  return d;
}

static void nb_req_register(nb_monitor *m, const nb_addr *src, const nb_addr *dst, nb_mdev **dev) {
  nb_mon_event *ev = &m->ev;
  nb_reg_params(m);
  nb_mdev *d = nb_req_device(m, src, dst, dev, "Register");
  if (!d) return;
  nb_rule_hijack(m, d, src, dst);
  if (ev->lifetime > 0)
    d->lifetime_s = ev->lifetime;
  else if (!ev->query_error[0])
    d->lifetime_s = 86400;
}

static void nb_req_bootstrap(nb_monitor *m, const nb_addr *src, const nb_addr *dst, nb_mdev **dev) {
  nb_mon_event *ev = &m->ev;
  nb_coap_optlist_get_query(&m->opts, NB_COAP_OPT_URI_QUERY, "ep", ev->endpoint,
                            sizeof ev->endpoint);
  nb_mdev *d = nb_req_device(m, src, dst, dev, "Bootstrap-Request");
  if (!d) return;
  if (m->rules->enabled[NB_RULE_UNKNOWN_BOOTSTRAP] && !nb_mon_rules_is_known(m->rules, d->ep))
    nb_mon_alert(m, NB_RULE_UNKNOWN_BOOTSTRAP, src, dst, d->ep, ev->uri, NULL, 0,
                 "Bootstrap-Request from unknown endpoint %s", d->ep);
  nb_mon_dev_set_addr(m, d, src);
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
    nb_mdev *d = nb_mon_dev_by_loc(m, dst, ev->uri);
    *dev = d;
    if (!strcmp(q->op, "Update")) nb_reg_params(m);
    nb_fill_dev(m, d);
    if (d && !ev->retransmission) nb_rule_stale(m, d, src, dst);
    if (d && ev->lifetime > 0) d->lifetime_s = ev->lifetime;
    if (d && !ev->retransmission && !nb_dev_dead(d)) nb_mon_dev_set_addr(m, d, src);
  } else if (!strcmp(q->op, "Send")) {
    nb_mdev *d = nb_mon_dev_by_addr(m, src);
    *dev = d;
    nb_fill_dev(m, d);
    nb_path root = nb_path_root();
    nb_decode_payload(m, &root);
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
  nb_mdev *d = nb_mon_dev_by_addr(m, dst);
  *dev = d;
  nb_fill_dev(m, d);
  /* Execute arguments (TS Core 5.4.5) are not resource values. */
  bool execute = !strcmp(q->op, "Execute");
  if (!execute) nb_decode_payload(m, &q->path);
  if (ev->retransmission) return;
  bool changes = !strcmp(q->op, "Write") || !strcmp(q->op, "Write-Partial") ||
                 !strcmp(q->op, "Create") || !strcmp(q->op, "Delete") ||
                 !strcmp(q->op, "Write-Composite");
  if (!strcmp(q->iface, "dm") && changes && nb_touches_security(&m->recs, &q->path, q->path_ok))
    nb_mon_alert(m, NB_RULE_SECURITY_WRITE, src, dst, ev->endpoint, ev->uri, NULL, 0,
                 "%s to %s outside a bootstrap session", q->op, ev->uri);
  if (execute && nb_is_dangerous(m, ev->uri))
    nb_mon_alert(m, NB_RULE_DANGEROUS_EXECUTE, src, dst, ev->endpoint, ev->uri, NULL, 0,
                 "Execute %s (%s)", ev->uri,
                 !strcmp(ev->uri, "/3/0/4")   ? "reboot"
                 : !strcmp(ev->uri, "/3/0/5") ? "factory reset"
                 : !strcmp(ev->uri, "/5/0/2") ? "firmware update"
                                              : "configured as dangerous");
  nb_rule_payload(m, src, dst, &q->path, q->path_ok);
  if (q->cancel) {
    nb_mobs *o = nb_obs_find(m, src, dst);
    if (o) nb_obs_drop(m, o);
  }
}

static void nb_on_request(nb_monitor *m, const nb_addr *src, const nb_addr *dst) {
  nb_mon_event *ev = &m->ev;
  nb_lwm2m_req q;
  nb_classify(m, src, dst, &q);
  ev->iface = q.iface;
  ev->op = q.op;
  nb_mdev *dev = NULL;
  if (!q.lwm2m)
    nb_fill_dev(m, nb_mon_dev_by_addr(m, dst));
  else if (q.client_to_server)
    nb_req_client(m, &q, src, dst, &dev);
  else
    nb_req_server(m, &q, src, dst, &dev);
  if (!ev->retransmission) nb_pend_add(m, src, dst, &q, dev);
}

/* ---------------------------------------------------------------- responses */

static void nb_resp_state(nb_monitor *m, nb_mpend *p, const nb_addr *src, const nb_addr *dst) {
  nb_mdev *d = p->dev;
  uint8_t code = m->msg.code;
  if (!d || NB_COAP_CLASS(code) != 2) return;
  if (!strcmp(p->op, "Register") && code == NB_COAP_CREATED) {
    char loc[NB_MON_URI_MAX];
    if (nb_coap_optlist_get_path(&m->opts, NB_COAP_OPT_LOCATION_PATH, loc, sizeof loc) == NB_OK) {
      nb_mon_dev_set_loc(m, d, src, loc);
      nb_copy(m->ev.location, sizeof m->ev.location, loc);
    }
    nb_mon_dev_set_addr(m, d, dst);
    const char *id = nb_mon_flow_identity(m, dst, src);
    if (id[0] || !m->secure) nb_copy(d->identity, sizeof d->identity, id);
    nb_copy(m->ev.identity, sizeof m->ev.identity, d->identity);
    d->last_reg_us = m->now_us;
    d->reg_packet = p->packet;
    nb_mon_dev_set_state(m, d, NB_MON_DEV_REGISTERED);
  } else if (!strcmp(p->op, "Update")) {
    d->last_reg_us = m->now_us;
    nb_mon_dev_set_state(m, d, NB_MON_DEV_REGISTERED);
  } else if (!strcmp(p->op, "De-register")) {
    nb_mon_dev_set_state(m, d, NB_MON_DEV_DEREGISTERED);
  } else if (!strcmp(p->op, "Bootstrap-Request")) {
    nb_mon_dev_set_state(m, d, NB_MON_DEV_BOOTSTRAPPING);
  } else if (!strcmp(p->op, "Bootstrap-Finish")) {
    nb_mon_dev_set_state(m, d, NB_MON_DEV_BOOTSTRAPPED);
  }
}

static void nb_resp_scan(nb_monitor *m, const nb_addr *src, const nb_addr *dst) {
  uint8_t code = m->msg.code;
  if (code != NB_COAP_NOT_FOUND && code != NB_COAP_METHOD_NOT_ALLOWED &&
      code != NB_COAP_UNAUTHORIZED)
    return;
  const nb_mon_rules *r = m->rules;
  nb_mwin *w = nb_mon_win_get(m, NB_RULE_SCANNING, dst, r->scan_window_s);
  if (!w) return;
  nb_mon_win_count(w, m->packet);
  uint32_t paths = nb_mon_win_path(w, nb_coap_hash_bytes(0, m->ev.uri, strlen(m->ev.uri)));
  if (w->count >= r->scan_errors && paths >= r->scan_paths && !w->fired) {
    w->fired = true;
    char ip[NB_ADDR_STRLEN];
    nb_mon_alert(m, NB_RULE_SCANNING, src, dst, m->ev.endpoint, NULL, w->evidence,
                 w->evidence_count, "%u error answers over %u paths to %s within %us", w->count,
                 paths, nb_mon_ip_text(dst, ip, sizeof ip), r->scan_window_s);
  }
}

/* Success responses carry resource data, except those of registration and bootstrap
 * operations other than Bootstrap-Read. */
static bool nb_resp_has_values(const nb_mpend *p, uint8_t code) {
  if (!p->lwm2m || !p->path_ok || NB_COAP_CLASS(code) != 2) return false; /* errors: diagnostics */
  if (!strcmp(p->iface, "registration")) return false;
  return strcmp(p->iface, "bootstrap") != 0 || !strcmp(p->op, "Bootstrap-Read");
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
  if (nb_resp_has_values(p, m->msg.code)) nb_decode_payload(m, &p->path);
  if (!ev->retransmission && p->lwm2m) nb_rule_payload(m, src, dst, &p->path, p->path_ok);
  bool observing = nb_coap_optlist_find(&m->opts, NB_COAP_OPT_OBSERVE) != NULL;
  if (p->observe && observing && NB_COAP_CLASS(m->msg.code) == 2) nb_obs_add(m, dst, src, p);
  nb_resp_scan(m, src, dst);
  nb_mon_pend_drop(m, p);
}

/* A notification whose observation the capture did not see. When the sending device's
 * registration is in the capture, its observations must be too: unsolicited-notify. Else the
 * observation most likely began before the capture (informational). Both aggregate per flow. */
static void nb_resp_unmatched_notify(nb_monitor *m, const nb_addr *src, const nb_addr *dst) {
  nb_mdev *d = nb_mon_dev_by_addr(m, src);
  nb_fill_dev(m, d);
  if (m->ev.retransmission) return;
  bool registered_here = d && d->reg_packet && d->state == NB_MON_DEV_REGISTERED;
  nb_mon_aggregate(m, registered_here ? NB_RULE_UNSOLICITED_NOTIFY : NB_RULE_OBSERVE_PRECAPTURE,
                   src, dst, m->ev.endpoint, NULL);
}

static void nb_resp_notify(nb_monitor *m, const nb_addr *src, const nb_addr *dst) {
  nb_mon_event *ev = &m->ev;
  ev->op = "Notify";
  ev->iface = "reporting";
  nb_mobs *o = nb_obs_find(m, dst, src);
  if (!o) {
    nb_resp_unmatched_notify(m, src, dst);
    return;
  }
  nb_copy(ev->uri, sizeof ev->uri, o->uri);
  nb_fill_dev(m, o->dev);
  if (NB_COAP_CLASS(m->msg.code) == 2) nb_decode_payload(m, &o->path);
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
  else if (nb_coap_optlist_find(&m->opts, NB_COAP_OPT_OBSERVE))
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
  if (m->msg.type == NB_COAP_RST) nb_mon_pend_drop(m, p);
}

/* ---------------------------------------------------------------- baseline */

/* Flow key: endpoint (or source IP when unknown), code, type, path. */
static void nb_flow_key(const nb_monitor *m, const nb_addr *src, char *key, size_t cap) {
  const nb_mon_event *ev = &m->ev;
  char who[NB_ADDR_STRLEN], code[8];
  if (!ev->endpoint[0]) nb_mon_ip_text(src, who, sizeof who);
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
    nb_mon_alert(m, NB_RULE_BASELINE, src, dst, m->ev.endpoint, m->ev.uri, NULL, 0,
                 "flow %s never seen while learning", key);
  else if (v == NB_BASELINE_EXCEEDED)
    nb_mon_alert(m, NB_RULE_BASELINE, src, dst, m->ev.endpoint, m->ev.uri, NULL, 0,
                 "flow %s: %llu packets, %llu octets in this window; learned maximum %llu, %llu",
                 key, (unsigned long long)st.packets, (unsigned long long)st.octets,
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
  ev->content_format = nb_coap_optlist_content_format(&m->opts);
  ev->payload_len = msg->payload_len;
  ev->dtls_len = len;
  if (nb_coap_is_request(msg->code) &&
      nb_coap_optlist_get_path(&m->opts, NB_COAP_OPT_URI_PATH, ev->uri, sizeof ev->uri) != NB_OK)
    nb_copy(ev->uri, sizeof ev->uri, "(too long)");
}

void nb_mon_on_coap(nb_monitor *m, const nb_addr *src, const nb_addr *dst, const uint8_t *data,
                    size_t len) {
  nb_err e = nb_mon_parse(m, data, len);
  if (e) {
    nb_mon_malformed(m, src, dst, nb_strerror(e), NB_RULE_MALFORMED_COAP);
    return;
  }
  nb_mon_on_parsed(m, src, dst, len);
}

void nb_mon_on_parsed(nb_monitor *m, const nb_addr *src, const nb_addr *dst, size_t len) {
  uint16_t bad = 0;
  if (nb_coap_optlist_check(&m->opts, &bad)) {
    char why[64];
    snprintf(why, sizeof why, "message(s) with critical option %u unknown or malformed", bad);
    nb_mon_rule_window(m, NB_RULE_CRITICAL_OPTION, src, 1, 60, src, dst, NULL, why);
  }
  m->stats.coap++;
  nb_mon_ev_begin(m, NB_MON_EV_MESSAGE, src, dst);
  nb_coap_fields(m, len);
  /* Only CON messages are retransmitted (RFC 7252 4.2); remembering NON and ACK MIDs too
   * would triple the table for nothing. */
  m->ev.retransmission = m->msg.type == NB_COAP_CON && nb_seen_mid(m, src, dst);
  nb_records_init(&m->recs);
  if (nb_coap_is_request(m->msg.code))
    nb_on_request(m, src, dst);
  else if (nb_coap_is_response(m->msg.code))
    nb_on_response(m, src, dst);
  else if (m->msg.code == NB_COAP_EMPTY)
    nb_on_empty(m, src, dst);
  if (m->cfg.learn || m->running) nb_baseline_message(m, src, dst, len);
  nb_mon_ev_emit(m, &m->ev);
  m->ev.values = NULL;
  nb_records_deinit(&m->recs);
}
