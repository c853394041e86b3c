/* Live feed and value history: see events.h. An engine event nobody subscribed to costs no
 * JSON at all (most servers run with no dashboard open); one that someone listens to is
 * formatted once, when the first subscriber it is for is found, and copied into each matching
 * subscriber's buffer; a full buffer drops the frame (counted, and announced with a DROPPED
 * frame once there is room) so a slow reader costs at most sub_buffer_max bytes. */
#include "http/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coap/hmap.h"
#include "coap/msg.h"
#include "http/json.h"

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct nb_http_sub {
  nb_http_sub *prev, *next;
  char ep[NB_SERVER_EP_MAX]; /* "" = every endpoint */
  char *buf;
  size_t off, len, cap; /* queued bytes are buf[off..len) */
  uint64_t dropped, dropped_told;
  void (*wake)(void *user);
  void *user;
};

typedef struct {
  int64_t at;
  uint32_t seq;
  nb_value v;
} hist_entry;

typedef struct {
  nb_path path;
  hist_entry *e; /* history_len slots, a ring */
  size_t head, count;
} hist_ring;

typedef struct {
  nb_coap_hnode node;
  char ep[NB_SERVER_EP_MAX];
  hist_ring **rings;
  size_t n;
} ep_hist;

struct nb_http_events {
  nb_server *srv;
  nb_http_events_config cfg;
  nb_http_sub *subs;
  size_t nsubs;
  nb_coap_hmap hist; /* ep_hist by endpoint name */
  size_t nrings;
  uint64_t frame_id;
  uint64_t frames_built; /* frames formatted (nb_http_events_frames_built) */
  nb_bytes frame;        /* the frame being formatted, kept for the next one */
  nb_bs_engine *bs;      /* attached bootstrap engine, or NULL */
};

void nb_http_events_config_default(nb_http_events_config *cfg) {
  cfg->history_len = 100;
  cfg->history_max = 100000;
  cfg->sub_buffer_max = 262144;
  cfg->clock_offset = 0;
}

/* ---- subscribers ---- */

static bool sub_append(nb_http_sub *s, const char *data, size_t n, size_t max) {
  if (s->len - s->off + n > max) return false;
  if (s->off && s->len + n > s->cap) { /* reclaim what was read */
    memmove(s->buf, s->buf + s->off, s->len - s->off);
    s->len -= s->off;
    s->off = 0;
  }
  if (s->len + n > s->cap) {
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + n) cap *= 2;
    char *b = realloc(s->buf, cap);
    if (!b) return false;
    s->buf = b;
    s->cap = cap;
  }
  memcpy(s->buf + s->len, data, n);
  s->len += n;
  return true;
}

static void sub_push(nb_http_events *ev, nb_http_sub *s, const char *frame, size_t n) {
  bool was_empty = s->len == s->off;
  if (s->dropped != s->dropped_told) {
    char note[96];
    int k = snprintf(note, sizeof(note), "event: DROPPED\ndata: {\"dropped\":%llu}\n\n",
                     (unsigned long long)s->dropped);
    if (!sub_append(s, note, (size_t)k, ev->cfg.sub_buffer_max)) {
      s->dropped++;
      return;
    }
    s->dropped_told = s->dropped;
  }
  if (!sub_append(s, frame, n, ev->cfg.sub_buffer_max)) s->dropped++;
  if (was_empty && s->len != s->off && s->wake) s->wake(s->user);
}

static bool sub_wants(const nb_http_sub *s, const char *ep) {
  return !s->ep[0] || strcmp(s->ep, ep) == 0;
}

/* Whether a frame about ep would reach anyone: callers build no JSON otherwise. */
static bool listened(const nb_http_events *ev, const char *ep) {
  for (const nb_http_sub *s = ev->subs; s; s = s->next)
    if (sub_wants(s, ep)) return true;
  return false;
}

/* The frames larger than this are not kept for the next one. */
#define FRAME_KEEP 65536

/* Formats `event: name` with data once and queues it to every subscriber of ep; takes data. */
static void broadcast(nb_http_events *ev, const char *ep, const char *name, json_t *data) {
  if (data && listened(ev, ep)) {
    nb_bytes *f = &ev->frame;
    nb_bytes_clear(f);
    char head[128]; /* names are the feed's own constants */
    int n = snprintf(head, sizeof head,
                     "id: %llu\nevent: %s\ndata: ", (unsigned long long)++ev->frame_id, name);
    nb_err rc =
        n > 0 && (size_t)n < sizeof head ? nb_bytes_append(f, head, (size_t)n) : NB_ERR_INVAL;
    if (rc == NB_OK) rc = nb_http_json_append(f, data);
    if (rc == NB_OK) rc = nb_bytes_append(f, "\n\n", 2);
    if (rc == NB_OK) {
      ev->frames_built++;
      for (nb_http_sub *s = ev->subs; s; s = s->next)
        if (sub_wants(s, ep)) sub_push(ev, s, (const char *)f->data, f->len);
    }
    if (f->cap > FRAME_KEEP) nb_bytes_free(f);
  }
  json_decref(data);
}

void nb_http_events_publish(nb_http_events *ev, const char *ep, const char *name, json_t *data) {
  broadcast(ev, ep ? ep : "", name, data);
}

nb_http_sub *nb_http_events_subscribe(nb_http_events *ev, const char *ep_filter,
                                      void (*wake)(void *user), void *user) {
  nb_http_sub *s = calloc(1, sizeof(*s));
  if (!s) return NULL;
  snprintf(s->ep, sizeof(s->ep), "%s", ep_filter ? ep_filter : "");
  s->wake = wake;
  s->user = user;
  s->next = ev->subs;
  if (s->next) s->next->prev = s;
  ev->subs = s;
  ev->nsubs++;
  return s;
}

void nb_http_events_unsubscribe(nb_http_events *ev, nb_http_sub *s) {
  if (!s) return;
  if (s->prev)
    s->prev->next = s->next;
  else
    ev->subs = s->next;
  if (s->next) s->next->prev = s->prev;
  ev->nsubs--;
  free(s->buf);
  free(s);
}

size_t nb_http_sub_read(nb_http_sub *s, char *buf, size_t max) {
  size_t n = s->len - s->off;
  if (n > max) n = max;
  if (n == 0) return 0;
  memcpy(buf, s->buf + s->off, n);
  s->off += n;
  if (s->off == s->len) s->off = s->len = 0;
  return n;
}

uint64_t nb_http_sub_dropped(const nb_http_sub *s) { return s->dropped; }

void nb_http_events_keepalive(nb_http_events *ev) {
  static const char ka[] = ": keep-alive\n\n";
  for (nb_http_sub *s = ev->subs; s; s = s->next) sub_push(ev, s, ka, sizeof(ka) - 1);
}

size_t nb_http_events_subscribers(const nb_http_events *ev) { return ev->nsubs; }

uint64_t nb_http_events_frames_built(const nb_http_events *ev) { return ev->frames_built; }

/* ---- history ---- */

static uint64_t ep_hash(const char *ep) { return nb_coap_hash_bytes(0x6e62, ep, strlen(ep)); }

static bool eq_hist(const nb_coap_hnode *n, const void *key) {
  return strcmp(CONTAINER(n, ep_hist, node)->ep, key) == 0;
}

static ep_hist *hist_find(const nb_http_events *ev, const char *ep) {
  nb_coap_hnode *n = nb_coap_hmap_find(&ev->hist, ep_hash(ep), eq_hist, ep);
  return n ? CONTAINER(n, ep_hist, node) : NULL;
}

static void ring_free(nb_http_events *ev, hist_ring *r) {
  for (size_t i = 0; i < r->count; i++)
    nb_value_deinit(&r->e[(r->head + i) % ev->cfg.history_len].v);
  free(r->e);
  free(r);
}

static void hist_drop(nb_http_events *ev, ep_hist *h) {
  nb_coap_hmap_remove(&ev->hist, &h->node);
  for (size_t i = 0; i < h->n; i++) ring_free(ev, h->rings[i]);
  ev->nrings -= h->n;
  free(h->rings);
  free(h);
}

static hist_ring *ring_get(nb_http_events *ev, const char *ep, const nb_path *p) {
  ep_hist *h = hist_find(ev, ep);
  for (size_t i = 0; h && i < h->n; i++)
    if (nb_path_equal(&h->rings[i]->path, p)) return h->rings[i];
  if (ev->nrings >= ev->cfg.history_max) return NULL;
  if (!h) {
    if (!(h = calloc(1, sizeof(*h)))) return NULL;
    snprintf(h->ep, sizeof(h->ep), "%s", ep);
    nb_coap_hmap_insert(&ev->hist, &h->node, ep_hash(ep));
  }
  hist_ring **rs = realloc(h->rings, (h->n + 1) * sizeof(hist_ring *));
  if (!rs) return NULL;
  h->rings = rs;
  hist_ring *r = calloc(1, sizeof(*r));
  if (r && !(r->e = calloc(ev->cfg.history_len, sizeof(hist_entry)))) {
    free(r);
    r = NULL;
  }
  if (!r) return NULL;
  r->path = *p;
  h->rings[h->n++] = r;
  ev->nrings++;
  return r;
}

static void ring_push(nb_http_events *ev, hist_ring *r, int64_t at, uint32_t seq,
                      const nb_value *v) {
  size_t cap = ev->cfg.history_len;
  hist_entry *e;
  if (r->count == cap) { /* overwrite the oldest */
    e = &r->e[r->head];
    nb_value_deinit(&e->v);
    r->head = (r->head + 1) % cap;
  } else {
    e = &r->e[(r->head + r->count++) % cap];
  }
  e->at = at;
  e->seq = seq;
  if (nb_value_copy(&e->v, v) != NB_OK) e->v = nb_value_none();
}

static json_t *ring_json(const nb_http_events *ev, const hist_ring *r) {
  char ps[NB_PATH_STRLEN];
  nb_path_format(&r->path, ps, sizeof(ps));
  json_t *vals = json_array();
  nb_value_type t = NB_VT_NONE;
  for (size_t i = 0; i < r->count; i++) {
    const hist_entry *e = &r->e[(r->head + i) % ev->cfg.history_len];
    t = e->v.type;
    json_array_append_new(vals,
                          json_pack("{s:I,s:o,s:I}", "timestamp", (json_int_t)e->at, "value",
                                    nb_http_json_value(&e->v), "sequence", (json_int_t)e->seq));
  }
  return json_pack("{s:s,s:s,s:o}", "path", ps, "type", nb_value_type_name(t), "values", vals);
}

json_t *nb_http_events_history(const nb_http_events *ev, const char *ep, const nb_path *p) {
  json_t *a = json_array();
  const ep_hist *h = hist_find(ev, ep);
  for (size_t i = 0; a && h && i < h->n; i++)
    if (nb_path_is_prefix(p, &h->rings[i]->path))
      json_array_append_new(a, ring_json(ev, h->rings[i]));
  return a;
}

/* ---- engine events ---- */

static const char *const type_names[] = {"REGISTRATION", "UPDATED",  "DEREGISTRATION", "EXPIRED",
                                         "AWAKE",        "SLEEPING", "NOTIFICATION",   "SEND"};

static json_t *values_event(const nb_http_events *ev, const nb_server_event *e, int64_t at) {
  json_t *j = json_pack("{s:s,s:I,s:o}", "endpoint", e->reg->ep, "timestamp", (json_int_t)at,
                        "content", nb_http_json_records(e->records));
  if (!j) return NULL;
  if (e->type == NB_SEV_NOTIFICATION) {
    char ps[NB_PATH_STRLEN];
    nb_path_format(e->path, ps, sizeof(ps));
    json_object_set_new(j, "path", json_string(ps));
    json_object_set_new(j, "observationId", json_integer((json_int_t)e->obs_id));
    json_object_set_new(j, "sequence", json_integer(e->seq));
    /* Only verified signed notifications get here: the engine drops the others. */
    json_object_set_new(j, "signed", json_boolean(e->signature != NULL));
    /* A single resource observed: its value directly, as charts want it. */
    if (e->records && e->records->len == 1 && nb_path_equal(&e->records->items[0].path, e->path))
      json_object_set_new(j, "value", nb_http_json_value(&e->records->items[0].value));
  }
  (void)ev;
  return j;
}

/* The seed thesis's console follows registrations as CoAP statuses. */
static void monitor_event(nb_http_events *ev, const nb_server_event *e, int64_t at) {
  const char *status = NULL, *op = NULL;
  if (e->type == NB_SEV_REGISTRATION) status = "2.01", op = "register";
  if (e->type == NB_SEV_DEREGISTRATION) status = "2.02", op = "deregister";
  if (e->type == NB_SEV_UPDATED) status = "2.04", op = "update";
  if (!status) return;
  char addr[NB_ADDR_STRLEN];
  nb_addr_format(&e->reg->addr, addr, sizeof(addr));
  broadcast(ev, e->reg->ep, "MONITOR",
            json_pack("{s:s,s:s,s:s,s:s,s:I}", "endpoint", e->reg->ep, "status", status,
                      "operation", op, "address", addr, "timestamp", (json_int_t)at));
}

static void record_history(nb_http_events *ev, const nb_server_event *e, int64_t at) {
  for (size_t i = 0; e->records && i < e->records->len; i++) {
    const nb_record *rec = &e->records->items[i];
    hist_ring *r = ring_get(ev, e->reg->ep, &rec->path);
    if (r) ring_push(ev, r, at, e->seq, &rec->value);
  }
}

/* A registration reached from another address (a NoSec one may have been taken over). */
static void address_event(nb_http_events *ev, const nb_server_event *e, int64_t at) {
  char from[NB_ADDR_STRLEN], to[NB_ADDR_STRLEN];
  nb_addr_format(e->old_addr, from, sizeof(from));
  nb_addr_format(e->new_addr, to, sizeof(to));
  broadcast(ev, e->reg->ep, "REGISTRATION_ADDRESS_CHANGED",
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:I}", "endpoint", e->reg->ep, "oldAddress", from,
                      "newAddress", to, "operation", e->operation, "security",
                      nb_server_id_kind_name(e->reg->identity.kind), "refused", e->refused,
                      "timestamp", (json_int_t)at));
}

/* The frame of a registration event: the registration as the API shows it. */
static json_t *reg_event(const nb_http_events *ev, const nb_server_event *e, int64_t at) {
  json_t *data = nb_http_json_reg(e->reg, nb_server_is_awake(ev->srv, e->reg->ep));
  if (data) json_object_set_new(data, "timestamp", json_integer(at));
  if (data && e->type == NB_SEV_REGISTRATION)
    json_object_set_new(data, "replaced", json_boolean(e->replaced));
  return data;
}

static void on_event(void *user, const nb_server_event *e) {
  nb_http_events *ev = user;
  int64_t at = e->now + ev->cfg.clock_offset;
  bool heard = e->reg && listened(ev, e->reg->ep);
  if (e->type == NB_SEV_ADDRESS_CHANGED && heard) address_event(ev, e, at);
  if ((unsigned)e->type >= sizeof(type_names) / sizeof(type_names[0]) || !e->reg) return;
  if (e->type == NB_SEV_NOTIFICATION) record_history(ev, e, at); /* heard or not */
  if (heard) {
    bool values = e->type == NB_SEV_NOTIFICATION || e->type == NB_SEV_SEND;
    broadcast(ev, e->reg->ep, type_names[e->type],
              values ? values_event(ev, e, at) : reg_event(ev, e, at));
    monitor_event(ev, e, at);
  }
  if (e->type == NB_SEV_DEREGISTRATION || e->type == NB_SEV_EXPIRED) {
    ep_hist *h = hist_find(ev, e->reg->ep);
    if (h) hist_drop(ev, h);
  }
}

/* ---- bootstrap events ---- */

static void on_bs_event(void *user, const nb_bs_event *e) {
  nb_http_events *ev = user;
  int64_t at = e->now + ev->cfg.clock_offset;
  const char *ep = e->ep ? e->ep : "";
  if (!listened(ev, ep)) return;
  char addr[NB_ADDR_STRLEN] = "", code[8] = "";
  if (e->peer) nb_addr_format(e->peer, addr, sizeof(addr));
  if (e->code) nb_coap_code_format(e->code, code);
  /* No "endpoint" when none is known (an ALERT at the handshake of a raw public key). */
  json_t *j = ep[0] ? json_pack("{s:s,s:s,s:I}", "endpoint", ep, "address", addr, "timestamp",
                                (json_int_t)at)
                    : json_pack("{s:s,s:I}", "address", addr, "timestamp", (json_int_t)at);
  if (!j) return;
  if (code[0]) json_object_set_new(j, "code", json_string(code));
  if (e->err) {
    json_object_set_new(j, "error", json_string(nb_err_name(e->err)));
    json_object_set_new(j, "reason", json_string(nb_strerror(e->err)));
  }
  if (e->step && e->step[0]) json_object_set_new(j, "step", json_string(e->step));
  if (e->secure_id) json_object_set_new(j, "secureId", json_string(e->secure_id));
  if (e->attempt) json_object_set_new(j, "attempt", json_integer(e->attempt));
  if (e->deferred) json_object_set_new(j, "deferred", json_true()); /* for the next request */
  if (e->cti) { /* a signed bootstrap: its evidence is under /api/bootstrap/evidence/{ep} */
    json_object_set_new(j, "signed", json_true());
    json_object_set_new(j, "cti", json_string(e->cti));
  }
  broadcast(ev, ep, nb_bs_event_name(e->type), j);
  /* The thesis's monitor shows a Bootstrap-Request as status 2.03. */
  if (e->type == NB_BS_EV_REQUEST)
    broadcast(ev, ep, "MONITOR",
              json_pack("{s:s,s:s,s:s,s:s,s:I}", "endpoint", ep, "status", "2.03", "operation",
                        "bootstrap", "address", addr, "timestamp", (json_int_t)at));
}

nb_err nb_http_events_attach_bootstrap(nb_http_events *ev, nb_bs_engine *bs) {
  if (ev->bs) return NB_ERR_BUSY;
  nb_err rc = nb_bs_engine_add_listener(bs, on_bs_event, ev);
  if (rc == NB_OK) ev->bs = bs;
  return rc;
}

void nb_http_events_detach_bootstrap(nb_http_events *ev) {
  if (!ev->bs) return;
  nb_bs_engine_remove_listener(ev->bs, on_bs_event, ev);
  ev->bs = NULL;
}

nb_err nb_http_events_new(nb_server *srv, const nb_http_events_config *cfg, nb_http_events **out) {
  nb_http_events *ev = calloc(1, sizeof(*ev));
  if (!ev) return NB_ERR_NOMEM;
  ev->srv = srv;
  if (cfg)
    ev->cfg = *cfg;
  else
    nb_http_events_config_default(&ev->cfg);
  if (ev->cfg.history_len == 0) ev->cfg.history_len = 1;
  nb_err rc = nb_coap_hmap_init(&ev->hist);
  if (rc == NB_OK && srv) rc = nb_server_add_listener(srv, on_event, ev);
  if (rc != NB_OK) {
    nb_coap_hmap_deinit(&ev->hist);
    free(ev);
    return rc;
  }
  *out = ev;
  return NB_OK;
}

void nb_http_events_free(nb_http_events *ev) {
  if (!ev) return;
  if (ev->srv) nb_server_remove_listener(ev->srv, on_event, ev);
  nb_http_events_detach_bootstrap(ev);
  for (nb_http_sub *s = ev->subs, *next; s; s = next) {
    next = s->next;
    nb_http_events_unsubscribe(ev, s);
  }
  nb_coap_hnode *n;
  while ((n = nb_coap_hmap_pop(&ev->hist))) {
    ep_hist *h = CONTAINER(n, ep_hist, node);
    for (size_t i = 0; i < h->n; i++) ring_free(ev, h->rings[i]);
    free(h->rings);
    free(h);
  }
  nb_coap_hmap_deinit(&ev->hist);
  nb_bytes_free(&ev->frame);
  free(ev);
}
