/* Information reporting, client side (LwM2M 1.1 Core 6.4): attributes written per server and
 * path, Observe and Observe-Composite with notifications driven by pmin/pmax/gt/lt/st
 * (inherited object -> instance -> resource over the Server object's default periods), and
 * Send to /dp. Cancellation (RST, Observe=1, CON timeout) comes from the CoAP layer.
 * Evaluation periods (1.1): a change the application reports is evaluated no sooner than epmin
 * after the previous evaluation, and with epmax the values are sampled (read through the
 * object's handlers) at least that often, so values only a handler knows are reported too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "client_int.h"

/* ---- attributes ---- */

nb_attrs *nb_rep_attrs_at(nb_client *c, uint16_t ssid, const nb_path *p, bool create) {
  for (size_t i = 0; i < c->nattrs; i++)
    if (c->attrs[i].ssid == ssid && nb_path_equal(&c->attrs[i].path, p)) return &c->attrs[i].attrs;
  if (!create) return NULL;
  if (c->nattrs == c->attrs_cap) {
    size_t nc = c->attrs_cap ? c->attrs_cap * 2 : 4;
    nb_attr_entry *na = realloc(c->attrs, nc * sizeof *na);
    if (!na) return NULL;
    c->attrs = na;
    c->attrs_cap = nc;
  }
  nb_attr_entry *e = &c->attrs[c->nattrs++];
  e->ssid = ssid;
  e->path = *p;
  nb_attrs_init(&e->attrs);
  return &e->attrs;
}

void nb_rep_effective_attrs(nb_client *c, uint16_t ssid, const nb_path *p, nb_attrs *out) {
  nb_attrs_init(out);
  nb_account *a = nb_client_account_by_ssid(c, ssid);
  if (a) {
    int64_t pmin = nb_reg_server_int(c, a, 2, -1), pmax = nb_reg_server_int(c, a, 3, -1);
    if (pmin >= 0 && pmin <= UINT32_MAX) {
      out->set |= NB_ATTR_PMIN;
      out->pmin = (uint32_t)pmin;
    }
    if (pmax > 0 && pmax <= UINT32_MAX) {
      out->set |= NB_ATTR_PMAX;
      out->pmax = (uint32_t)pmax;
    }
  }
  for (uint8_t len = 1; len <= p->len; len++) {
    nb_path pre = *p;
    pre.len = len;
    const nb_attrs *lvl = nb_rep_attrs_at(c, ssid, &pre, false);
    if (lvl) nb_attrs_merge(out, lvl);
  }
}

/* ---- observations ---- */

static void nb_rep_unlink(nb_client *c, nb_obs *o) {
  for (nb_obs **pp = &c->obs; *pp; pp = &(*pp)->next)
    if (*pp == o) {
      *pp = o->next;
      break;
    }
  free(o->paths);
  free(o);
}

static void nb_rep_gone(void *user, nb_coap_observer *observer, nb_err why) {
  nb_obs *o = user;
  (void)observer;
  NB_LOG_DEBUG(NB_CLIENT_LOG, "event=observation-gone ssid=%u why=%s", o->ssid, nb_err_name(why));
  nb_rep_unlink(o->client, o);
}

nb_err nb_rep_observe(nb_client *c, nb_account *a, nb_coap_exchange *ex, const nb_path *paths,
                      size_t n, bool composite, int cf, nb_time_ms now, nb_obs **out) {
  (void)now;
  nb_obs *o = calloc(1, sizeof *o);
  nb_path *pp = calloc(n ? n : 1, sizeof *pp);
  if (!o || !pp) {
    free(o);
    free(pp);
    return NB_ERR_NOMEM;
  }
  memcpy(pp, paths, n * sizeof *pp);
  o->client = c;
  o->ssid = a->ssid;
  o->paths = pp;
  o->npaths = n;
  o->composite = composite;
  o->cf = cf;
  nb_err e = nb_coap_exchange_observe(ex, nb_rep_gone, o, &o->observer);
  if (e != NB_OK) {
    free(pp);
    free(o);
    return e;
  }
  o->next = c->obs;
  c->obs = o;
  *out = o;
  return NB_OK;
}

static bool nb_rep_numeric(const nb_value *v, double *out) {
  switch (v->type) {
    case NB_VT_INT:
      *out = (double)v->v.i;
      return true;
    case NB_VT_UINT:
      *out = (double)v->v.u;
      return true;
    case NB_VT_FLOAT:
      *out = v->v.f;
      return true;
    default:
      return false;
  }
}

/* The single numeric value an observation of one resource (instance) reports, if any. */
static bool nb_rep_single_num(const nb_obs *o, const nb_records *recs, double *out) {
  return !o->composite && o->npaths == 1 && o->paths[0].len >= NB_PATH_RESOURCE && recs->len == 1 &&
         nb_rep_numeric(&recs->items[0].value, out);
}

/* FNV-1a over the paths and values: whether a sample differs from what was reported. */
static uint64_t nb_rep_mix(uint64_t h, const void *data, size_t len) {
  const uint8_t *b = data;
  for (size_t i = 0; i < len; i++) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

static uint64_t nb_rep_hash(const nb_records *recs) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < recs->len; i++) {
    const nb_record *r = &recs->items[i];
    h = nb_rep_mix(h, &r->path.len, sizeof r->path.len);
    h = nb_rep_mix(h, r->path.ids, r->path.len * sizeof r->path.ids[0]);
    h = nb_rep_mix(h, &r->value.type, sizeof r->value.type);
    switch (r->value.type) {
      case NB_VT_STRING:
      case NB_VT_OPAQUE:
      case NB_VT_CORELNK:
        h = nb_rep_mix(h, r->value.v.bytes.data, r->value.v.bytes.len);
        break;
      case NB_VT_OBJLNK:
        h = nb_rep_mix(h, &r->value.v.lnk, sizeof r->value.v.lnk);
        break;
      case NB_VT_BOOL:
        h = nb_rep_mix(h, &r->value.v.b, sizeof r->value.v.b);
        break;
      case NB_VT_NONE:
        break;
      default: /* int, uint, float, time: 8 bytes */
        h = nb_rep_mix(h, &r->value.v.u, sizeof r->value.v.u);
        break;
    }
  }
  return h;
}

void nb_rep_answered(nb_obs *o, const nb_records *recs, nb_time_ms now) {
  o->last_sent = now;
  o->last_eval = now;
  o->changed = false;
  o->eval_pending = false;
  o->has_num = nb_rep_single_num(o, recs, &o->last_num);
  o->last_hash = nb_rep_hash(recs);
}

static void nb_rep_attrs_of(nb_client *c, const nb_obs *o, nb_attrs *out) {
  nb_path root = nb_path_root();
  nb_rep_effective_attrs(c, o->ssid, o->composite ? &root : &o->paths[0], out);
  if (o->composite) out->set &= NB_ATTR_PMIN | NB_ATTR_PMAX | NB_ATTR_EPMIN | NB_ATTR_EPMAX;
}

/* Whether the observer may still read path i (its rights can change after it observed):
 * Notify needs the Read right (Core 7.3.2.5). */
static bool nb_rep_may_read(nb_client *c, const nb_obs *o, size_t i) {
  const nb_path *p = &o->paths[i];
  return p->len < NB_PATH_INSTANCE || nb_dm_acl_allows(c, o->ssid, p->ids[0], p->ids[1], NB_ACL_R);
}

/* The current values of everything the observation covers that the observer may read (an
 * object level only lists the instances it may read), sorted. */
static nb_err nb_rep_read(nb_client *c, const nb_obs *o, nb_records *recs, nb_time_ms now) {
  nb_err e = NB_OK;
  for (size_t i = 0; i < o->npaths && e == NB_OK; i++) {
    if (!nb_rep_may_read(c, o, i)) continue;
    e = nb_dm_read_as(c, o->ssid, &o->paths[i], recs, now);
    if (o->composite && e == NB_ERR_NOT_FOUND) e = NB_OK;
  }
  nb_records_sort(recs);
  return e;
}

/* Notifications go confirmable when the server's account says so: Default Notification Mode
 * (/1/x/26, Server object 1.2) 1 = CON, 0 or absent = NON. The CoAP layer also makes one CON
 * at least every 24 h, and a CON that is never acknowledged ends the observation. */
static bool nb_rep_confirmable(nb_client *c, const nb_account *a) {
  return a && nb_reg_server_int(c, a, 26, 0) == 1;
}

/* Sends the current values; false when the observation ended (it is freed then). */
static bool nb_rep_notify(nb_client *c, nb_obs *o, nb_time_ms now) {
  nb_account *a = nb_client_account_by_ssid(c, o->ssid);
  if (!o->composite && !nb_rep_may_read(c, o, 0)) {
    NB_LOG_DEBUG(NB_CLIENT_LOG, "event=notify-withheld ssid=%u reason=no-read-right", o->ssid);
    o->last_sent = now; /* no Notify without the Read right; pmax restarts */
    o->changed = false;
    return true;
  }
  if (a && nb_q_hold(c, a, now)) {
    o->queued = true; /* values are read when it goes, so the latest one wins */
    o->changed = false;
    return true;
  }
  nb_records recs;
  nb_records_init(&recs);
  nb_err e = nb_rep_read(c, o, &recs, now);
  nb_bytes body;
  nb_bytes_init(&body);
  uint8_t code = NB_COAP_CONTENT;
  int used = o->cf;
  nb_path root = nb_path_root();
  if (e == NB_OK)
    e = nb_dm_encode(c, a, o->composite ? &root : &o->paths[0], &recs, o->cf, &used, &body, &code);
  else
    code = nb_client_err_code(e);
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_NON, e == NB_OK ? NB_COAP_CONTENT : code, 0);
  if (e == NB_OK) {
    nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)used);
    nb_coap_msg_set_payload(&m, body.data, body.len);
  }
  nb_err ne = nb_coap_ep_notify(c->ep, o->observer, &m, nb_rep_confirmable(c, a), now);
  bool alive = e == NB_OK && ne == NB_OK;
  if (alive) nb_rep_answered(o, &recs, now);
  if (alive && used == NB_COSE_CF_SIGN1)
    nb_sig_evidence(c, "notify", o->composite ? &root : &o->paths[0], body.data, body.len);
  nb_bytes_free(&body);
  nb_records_deinit(&recs);
  if (!alive) {
    if (ne == NB_OK) /* an error notification ended it in the layer */
      nb_rep_unlink(c, o);
    else {
      nb_coap_ep_observer_cancel(c->ep, o->observer);
      nb_rep_unlink(c, o);
    }
  }
  return alive;
}

static bool nb_rep_overlaps(const nb_obs *o, const nb_path *p) {
  for (size_t i = 0; i < o->npaths; i++)
    if (nb_path_is_prefix(&o->paths[i], p) || nb_path_is_prefix(p, &o->paths[i])) return true;
  return false;
}

/* Evaluates the notification criteria on the current values: gt/lt/st on a single numeric
 * value. Without them, a change the application reported (told) always passes, and a sample
 * passes when the values differ from the last ones reported. */
static bool nb_rep_passes(nb_client *c, nb_obs *o, const nb_attrs *at, bool told, nb_time_ms now) {
  uint32_t cond = at->set & (NB_ATTR_GT | NB_ATTR_LT | NB_ATTR_ST);
  if (told && (!cond || !o->has_num)) return true;
  nb_records recs;
  nb_records_init(&recs);
  double cur;
  bool ok = nb_rep_read(c, o, &recs, now) == NB_OK;
  bool num = ok && nb_rep_single_num(o, &recs, &cur);
  uint64_t h = nb_rep_hash(&recs);
  nb_records_deinit(&recs);
  if (!ok) return true; /* the error notification ends the observation */
  if (!cond || !o->has_num || !num) return told || h != o->last_hash;
  double prev = o->last_num;
  if ((cond & NB_ATTR_GT) && ((prev <= at->gt) != (cur <= at->gt))) return true;
  if ((cond & NB_ATTR_LT) && ((prev < at->lt) != (cur < at->lt))) return true;
  if ((cond & NB_ATTR_ST) && fabs(cur - prev) >= at->st) return true;
  return false;
}

static nb_time_ms nb_rep_secs(const nb_attrs *at, uint32_t bit, uint32_t secs) {
  return (at->set & bit) ? (nb_time_ms)secs * 1000 : 0;
}

/* When the criteria are evaluated next: a reported change held back by epmin, or the epmax
 * sample; NB_TIME_NEVER when neither. */
static nb_time_ms nb_rep_eval_due(const nb_obs *o, const nb_attrs *at) {
  nb_time_ms due = NB_TIME_NEVER;
  if (o->eval_pending) due = o->last_eval + nb_rep_secs(at, NB_ATTR_EPMIN, at->epmin);
  if ((at->set & NB_ATTR_EPMAX) && at->epmax > 0)
    due = nb_time_min(due, o->last_eval + nb_rep_secs(at, NB_ATTR_EPMAX, at->epmax));
  return due;
}

/* Evaluates now; a passing change notifies at once when pmin allows, else when it ends.
 * False when the observation ended (o is freed then). */
static bool nb_rep_evaluate(nb_client *c, nb_obs *o, const nb_attrs *at, bool told,
                            nb_time_ms now) {
  o->last_eval = now;
  o->eval_pending = false;
  if (!nb_rep_passes(c, o, at, told, now)) return true;
  o->changed = true;
  if (now < o->last_sent + nb_rep_secs(at, NB_ATTR_PMIN, at->pmin)) return true;
  return nb_rep_notify(c, o, now);
}

void nb_rep_changed(nb_client *c, const nb_path *p, nb_time_ms now) {
  for (nb_obs *o = c->obs, *next; o; o = next) {
    next = o->next;
    if (!nb_rep_overlaps(o, p)) continue;
    nb_attrs at;
    nb_rep_attrs_of(c, o, &at);
    if (now < o->last_eval + nb_rep_secs(&at, NB_ATTR_EPMIN, at.epmin)) {
      o->eval_pending = true; /* evaluated once epmin has gone by */
      continue;
    }
    nb_rep_evaluate(c, o, &at, true, now);
  }
}

static nb_time_ms nb_rep_due_at(const nb_obs *o, const nb_attrs *at) {
  if (o->queued) return NB_TIME_NEVER; /* sent by nb_rep_flush */
  nb_time_ms pmin = nb_rep_secs(at, NB_ATTR_PMIN, at->pmin);
  nb_time_ms due = nb_rep_eval_due(o, at);
  if (o->changed) due = nb_time_min(due, o->last_sent + pmin);
  if ((at->set & NB_ATTR_PMAX) && at->pmax > 0) {
    nb_time_ms pmax = (nb_time_ms)at->pmax * 1000;
    due = nb_time_min(due, o->last_sent + (pmax > pmin ? pmax : pmin));
  }
  return due;
}

static nb_time_ms nb_rep_due(nb_client *c, const nb_obs *o) {
  nb_attrs at;
  nb_rep_attrs_of(c, o, &at);
  return nb_rep_due_at(o, &at);
}

void nb_rep_tick(nb_client *c, nb_time_ms now) {
  for (nb_obs *o = c->obs, *next; o; o = next) {
    next = o->next;
    nb_attrs at;
    nb_rep_attrs_of(c, o, &at);
    if (o->queued || now < nb_rep_due_at(o, &at)) continue;
    if (now >= nb_rep_eval_due(o, &at) && !nb_rep_evaluate(c, o, &at, o->eval_pending, now))
      continue;
    if (now >= nb_rep_due_at(o, &at)) nb_rep_notify(c, o, now); /* pmin with a change, pmax */
  }
}

nb_time_ms nb_rep_deadline(const nb_client *c) {
  nb_time_ms t = NB_TIME_NEVER;
  for (const nb_obs *o = c->obs; o; o = o->next) t = nb_time_min(t, nb_rep_due((nb_client *)c, o));
  return t;
}

void nb_rep_flush(nb_client *c, uint16_t ssid, nb_time_ms now) {
  for (nb_obs *o = c->obs, *next; o; o = next) {
    next = o->next;
    if (o->ssid != ssid || !o->queued) continue;
    o->queued = false;
    nb_rep_notify(c, o, now);
  }
}

void nb_rep_drop_server(nb_client *c, uint16_t ssid) {
  for (nb_obs *o = c->obs, *next; o; o = next) {
    next = o->next;
    if (o->ssid != ssid) continue;
    nb_coap_ep_observer_cancel(c->ep, o->observer);
    nb_rep_unlink(c, o);
  }
}

void nb_rep_free_all(nb_client *c) {
  while (c->obs) {
    nb_obs *o = c->obs;
    c->obs = o->next;
    free(o->paths);
    free(o);
  }
}

size_t nb_client_observation_count(const nb_client *c) {
  size_t n = 0;
  for (const nb_obs *o = c->obs; o; o = o->next) n++;
  return n;
}

/* ---- Send ---- */

static void nb_rep_send_cb(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                           nb_time_ms now) {
  nb_account *a = user;
  (void)last;
  (void)now;
  char code[8] = "-";
  if (resp) nb_coap_code_format(resp->code, code);
  NB_LOG_INFO(NB_CLIENT_LOG, "event=send-done ssid=%u err=%s code=%s", a->ssid, nb_err_name(err),
              code);
}

nb_err nb_client_send(nb_client *c, uint16_t ssid, const nb_path *paths, size_t n, nb_time_ms now) {
  if (c->v10) return NB_ERR_UNSUPPORTED;
  nb_records recs;
  nb_records_init(&recs);
  nb_err e = NB_OK;
  for (size_t i = 0; i < n && e == NB_OK; i++) e = nb_dm_read_path(c, &paths[i], &recs, now);
  nb_records_sort(&recs);
  nb_bytes body;
  nb_bytes_init(&body);
  nb_path root = nb_path_root();
  if (e == NB_OK)
    e = nb_format_encode(NB_COAP_CF_SENML_CBOR, &recs, &root, c->model, &body, NULL, NULL);
  nb_err res = e == NB_OK ? NB_ERR_NOT_FOUND : e;
  for (size_t i = 0; e == NB_OK && i < c->nacc; i++) {
    nb_account *a = c->acc[i];
    if (ssid && a->ssid != ssid) continue;
    nb_object *srv = nb_client_object(c, 1);
    if (nb_store_object_get_bool(srv, a->srv_inst, 23, false)) continue; /* Mute Send */
    nb_q_wake(c, a, now); /* asleep: the Update goes first, the Send right after it */
    if (a->state != NB_CLIENT_SRV_REGISTERED && a->state != NB_CLIENT_SRV_UPDATING) continue;
    nb_coap_msg m;
    nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, 0);
    nb_err se = nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/dp");
    if (se == NB_OK)
      se = nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_SENML_CBOR);
    nb_coap_msg_set_payload(&m, body.data, body.len);
    if (se == NB_OK)
      se = nb_coap_ep_request(c->ep, &a->addr, &m, true, nb_rep_send_cb, a, now, NULL);
    if (res != NB_OK) res = se;
  }
  nb_bytes_free(&body);
  nb_records_deinit(&recs);
  return res;
}
