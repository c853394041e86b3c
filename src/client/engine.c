/* Client engine core: creation, objects, server accounts from objects 0/1, and the sans-I/O
 * plumbing (datagrams in/out, ticks, deadlines). Registration, device management and
 * reporting live in registration.c, dm.c and reporting.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "client_int.h"

void nb_client_config_default(nb_client_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->lwm2m_version = "1.1";
  cfg->random = nb_random_system;
}

void nb_client_emit(nb_client *c, nb_client_event ev, uint16_t ssid, nb_err err, nb_time_ms now) {
  if (c->cfg.on_event) c->cfg.on_event(c->cfg.event_user, ev, ssid, err, now);
}

uint8_t nb_client_err_code(nb_err e) {
  switch (e) {
    case NB_OK:
      return NB_COAP_CHANGED;
    case NB_ERR_NOT_FOUND:
      return NB_COAP_NOT_FOUND;
    case NB_ERR_INVAL:
    case NB_ERR_RANGE:
    case NB_ERR_EXISTS:
    case NB_ERR_SYNTAX:
      return NB_COAP_BAD_REQUEST;
    case NB_ERR_UNSUPPORTED:
      return NB_COAP_METHOD_NOT_ALLOWED;
    default:
      return NB_COAP_INTERNAL_SERVER_ERROR;
  }
}

/* CoAP defaults sized for a device: it talks to a server or two that wait for each answer
 * (NSTART 1), so a handful of remembered message IDs covers every retransmission it can see
 * within EXCHANGE_LIFETIME; the server's endpoint keeps the general defaults. */
static void nb_client_coap_defaults(nb_coap_ep_config *ec) {
  nb_coap_ep_config_default(ec);
  ec->dedup_max = 16;
}

static void nb_client_ep_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  nb_tr_send(user, peer, data, len);
}

static void nb_client_on_retransmit(void *user, const nb_addr *peer, nb_coap_req_id id, unsigned n,
                                    nb_time_ms next_ms, nb_time_ms now) {
  nb_client *c = user;
  if (id && id == c->bs_req) {
    char a[NB_ADDR_STRLEN];
    NB_LOG_INFO(NB_CLIENT_LOG,
                "event=bootstrap-request-retransmit server=%s retransmission=%u next_in_ms=%lld",
                nb_addr_format(peer, a, sizeof a), n, (long long)next_ms);
    return;
  }
  nb_reg_retransmit(c, peer, id, n, next_ms, now);
}

void nb_client_peer_unreachable(nb_client *c, const nb_addr *peer, const char *reason) {
  nb_reg_unreachable(c, peer, reason ? reason : "unreachable");
}

nb_err nb_client_new(const nb_client_config *cfg, nb_client **out) {
  if (!cfg || !cfg->endpoint || !cfg->endpoint[0] || !cfg->send) return NB_ERR_INVAL;
  const char *ver = cfg->lwm2m_version ? cfg->lwm2m_version : "1.1";
  if (strcmp(ver, "1.1") != 0 && strcmp(ver, "1.0") != 0) return NB_ERR_INVAL;
  nb_client *c = calloc(1, sizeof *c);
  if (!c) return NB_ERR_NOMEM;
  c->cfg = *cfg;
  c->v10 = strcmp(ver, "1.0") == 0;
  if (!c->cfg.random) c->cfg.random = nb_random_system;
  size_t eplen = strlen(cfg->endpoint);
  c->endpoint = malloc(eplen + 1);
  if (c->endpoint) memcpy(c->endpoint, cfg->endpoint, eplen + 1);
  c->model = cfg->model;
  if (!c->model) c->model = nb_model_builtin(); /* the static tables, no heap copy */
  nb_coap_ep_config ec;
  if (cfg->coap)
    ec = *cfg->coap;
  else
    nb_client_coap_defaults(&ec);
  if (!cfg->coap || !cfg->coap->random) {
    ec.random = c->cfg.random;
    ec.random_user = c->cfg.random_user;
  }
  nb_err e = (!c->endpoint || !c->model) ? NB_ERR_NOMEM : NB_OK;
  if (e == NB_OK) e = nb_coap_ep_new(&ec, nb_client_ep_send, c, &c->ep);
  for (uint16_t id = 0; e == NB_OK && id <= 2; id++) {
    nb_object *o = nb_store_object_new(nb_model_object(c->model, id), NULL);
    e = o ? nb_client_add_object(c, o, 0) : NB_ERR_NOMEM;
  }
  if (e != NB_OK) {
    nb_client_free(c);
    return e;
  }
  nb_coap_ep_set_handler(c->ep, nb_dm_handle, c);
  nb_coap_ep_set_retransmit_hook(c->ep, nb_client_on_retransmit, c);
  *out = c;
  return NB_OK;
}

void nb_client_free(nb_client *c) {
  if (!c) return;
  nb_rep_free_all(c);
  nb_tr_free_all(c);
  if (c->ep) nb_coap_ep_free(c->ep);
  for (size_t i = 0; i < c->nobjs; i++) nb_object_free(c->objs[i]);
  free(c->objs);
  for (size_t i = 0; i < c->acc_slots; i++) free(c->acc[i]);
  free(c->acc);
  free(c->attrs);
  free(c->endpoint);
  free(c);
}

const nb_model *nb_client_model(const nb_client *c) { return c->model; }

nb_err nb_client_add_object(nb_client *c, nb_object *obj, nb_time_ms now) {
  if (!obj) return NB_ERR_INVAL;
  if (!obj->def || nb_client_object(c, obj->def->id) || c->nobjs == NB_CLIENT_MAX_OBJECTS) {
    nb_err e = !obj->def                           ? NB_ERR_INVAL
               : c->nobjs == NB_CLIENT_MAX_OBJECTS ? NB_ERR_BUSY
                                                   : NB_ERR_EXISTS;
    nb_object_free(obj);
    return e;
  }
  if (c->nobjs == c->objs_cap) {
    size_t cap = c->objs_cap + 4; /* a device has a handful of objects: grow in small steps */
    nb_object **objs = realloc(c->objs, cap * sizeof(nb_object *));
    if (!objs) {
      nb_object_free(obj);
      return NB_ERR_NOMEM;
    }
    c->objs = objs;
    c->objs_cap = cap;
  }
  size_t at = 0;
  while (at < c->nobjs && c->objs[at]->def->id < obj->def->id) at++;
  memmove(&c->objs[at + 1], &c->objs[at], (c->nobjs - at) * sizeof(nb_object *));
  c->objs[at] = obj;
  c->nobjs++;
  for (size_t i = 0; i < c->nacc; i++) {
    if (c->acc[i]->state != NB_CLIENT_SRV_REGISTERED) continue;
    c->acc[i]->update_pending = c->acc[i]->objects_changed = true;
  }
  (void)now;
  return NB_OK;
}

nb_object *nb_client_object(nb_client *c, uint16_t id) {
  for (size_t i = 0; i < c->nobjs; i++)
    if (c->objs[i]->def->id == id) return c->objs[i];
  return NULL;
}

/* ---- standard objects ---- */

static nb_err nb_client_set_str(nb_object *o, uint16_t i, uint16_t r, const char *s) {
  if (!s) return NB_OK;
  nb_value v = nb_value_none();
  nb_err e = nb_value_set_string(&v, s, strlen(s));
  nb_path p = nb_path_res(o->def->id, i, r);
  if (e == NB_OK) e = nb_store_object_set(o, &p, &v);
  nb_value_deinit(&v);
  return e;
}

static nb_err nb_client_set_int(nb_object *o, uint16_t i, uint16_t r, int64_t x) {
  nb_value v = nb_value_int(x);
  nb_path p = nb_path_res(o->def->id, i, r);
  return nb_store_object_set(o, &p, &v);
}

static nb_err nb_client_set_bytes(nb_object *o, uint16_t i, uint16_t r, const uint8_t *b,
                                  size_t n) {
  nb_value v = nb_value_none();
  nb_err e = nb_value_set_opaque(&v, b, n);
  nb_path p = nb_path_res(o->def->id, i, r);
  if (e == NB_OK) e = nb_store_object_set(o, &p, &v);
  nb_value_deinit(&v);
  return e;
}

static nb_err nb_device_execute(void *user, const nb_path *res, const uint8_t *args, size_t len,
                                nb_time_ms now) {
  nb_client *c = user;
  (void)args;
  (void)len;
  switch (res->ids[2]) {
    case 4:
      nb_client_emit(c, NB_CLIENT_EV_REBOOT, 0, NB_OK, now);
      return NB_OK;
    case 5:
      nb_client_emit(c, NB_CLIENT_EV_FACTORY_RESET, 0, NB_OK, now);
      return NB_OK;
    case 12: {
      nb_object *o = nb_client_object(c, 3);
      nb_path p = nb_path_res(3, res->ids[1], 11);
      nb_store_object_unset(o, &p);
      nb_path p0 = nb_path_rinst(3, res->ids[1], 11, 0);
      nb_value z = nb_value_int(0);
      nb_err e = nb_store_object_set(o, &p0, &z);
      nb_client_value_changed(c, &p, now);
      return e;
    }
    default:
      return NB_ERR_UNSUPPORTED;
  }
}

nb_err nb_client_add_device(nb_client *c, const nb_client_device_info *d) {
  nb_store_hooks h = {.execute = nb_device_execute, .user = c};
  nb_object *o = nb_store_object_new(nb_model_object(c->model, 3), &h);
  if (!o) return NB_ERR_NOMEM;
  nb_err e = nb_store_object_add_instance(o, 0);
  if (e == NB_OK) e = nb_client_set_str(o, 0, 0, d->manufacturer);
  if (e == NB_OK) e = nb_client_set_str(o, 0, 1, d->model);
  if (e == NB_OK) e = nb_client_set_str(o, 0, 2, d->serial);
  if (e == NB_OK) e = nb_client_set_str(o, 0, 3, d->firmware_version);
  if (e == NB_OK && d->battery_level >= 0) e = nb_client_set_int(o, 0, 9, d->battery_level);
  if (e == NB_OK && d->memory_free_kb >= 0) e = nb_client_set_int(o, 0, 10, d->memory_free_kb);
  nb_path err0 = nb_path_rinst(3, 0, 11, 0);
  nb_value zero = nb_value_int(0);
  if (e == NB_OK) e = nb_store_object_set(o, &err0, &zero);
  if (e == NB_OK) e = nb_client_set_str(o, 0, 14, d->utc_offset);
  if (e == NB_OK) e = nb_client_set_str(o, 0, 15, d->timezone);
  if (e == NB_OK) e = nb_client_set_str(o, 0, 16, d->bindings ? d->bindings : "U");
  if (e == NB_OK) e = nb_client_set_str(o, 0, 17, d->device_type);
  if (e == NB_OK) e = nb_client_set_str(o, 0, 18, d->hardware_version);
  if (e == NB_OK) e = nb_client_set_str(o, 0, 19, d->software_version);
  if (e == NB_OK && d->memory_total_kb >= 0) e = nb_client_set_int(o, 0, 21, d->memory_total_kb);
  if (e != NB_OK) {
    nb_object_free(o);
    return e;
  }
  return nb_client_add_object(c, o, 0);
}

static uint16_t nb_client_free_instance(nb_object *o) {
  uint16_t id = 0;
  while (nb_store_object_has_instance(o, id)) id++;
  return id;
}

nb_err nb_client_add_server(nb_client *c, const nb_client_server_params *p) {
  if (!p->uri || (!p->bootstrap && (p->ssid == 0 || p->ssid > NB_ID_MAX))) return NB_ERR_INVAL;
  nb_object *sec = nb_client_object(c, 0), *srv = nb_client_object(c, 1);
  uint16_t si = nb_client_free_instance(sec);
  int mode = p->security_mode;
  if (!p->identity && !p->secret) mode = 3;
  if (!NB_CFG_DTLS && mode != 3) return NB_ERR_UNSUPPORTED; /* a build without DTLS */
  nb_err e = nb_store_object_add_instance(sec, si);
  if (e != NB_OK) return e;
  nb_path bs = nb_path_res(0, si, 1);
  nb_value b = nb_value_bool(p->bootstrap);
  e = nb_client_set_str(sec, si, 0, p->uri);
  if (e == NB_OK) e = nb_store_object_set(sec, &bs, &b);
  if (e == NB_OK) e = nb_client_set_int(sec, si, 2, mode);
  if (e == NB_OK) e = nb_client_set_bytes(sec, si, 3, p->identity, p->identity_len);
  if (e == NB_OK) e = nb_client_set_bytes(sec, si, 4, p->server_key, p->server_key_len);
  if (e == NB_OK) e = nb_client_set_bytes(sec, si, 5, p->secret, p->secret_len);
  if (e == NB_OK && mode == 2) e = nb_client_set_int(sec, si, 15, p->trust_anchor ? 2 : 3);
  if (e == NB_OK && !p->bootstrap) e = nb_client_set_int(sec, si, 10, p->ssid);
  if (e != NB_OK || p->bootstrap) return e;
  uint16_t vi = nb_client_free_instance(srv);
  e = nb_store_object_add_instance(srv, vi);
  if (e == NB_OK) e = nb_client_set_int(srv, vi, 0, p->ssid);
  if (e == NB_OK) e = nb_client_set_int(srv, vi, 1, p->lifetime ? p->lifetime : 86400);
  if (e == NB_OK && p->pmin) e = nb_client_set_int(srv, vi, 2, p->pmin);
  if (e == NB_OK && p->pmax) e = nb_client_set_int(srv, vi, 3, p->pmax);
  nb_value f = nb_value_bool(false);
  nb_path ns = nb_path_res(1, vi, 6);
  if (e == NB_OK) e = nb_store_object_set(srv, &ns, &f);
  if (e == NB_OK) e = nb_client_set_str(srv, vi, 7, p->binding ? p->binding : "U");
  return e;
}

/* ---- accounts ---- */

/* "coap://1.2.3.4:5683", "coaps://[::1]:5684"; the scheme gives the default port. */
nb_err nb_client_parse_uri(const char *uri, nb_addr *out) {
  uint16_t port;
  const char *rest;
  if (strncmp(uri, "coap://", 7) == 0) {
    port = 5683;
    rest = uri + 7;
  } else if (strncmp(uri, "coaps://", 8) == 0) {
    port = 5684;
    rest = uri + 8;
  } else {
    return NB_ERR_SYNTAX;
  }
  char host[NB_ADDR_STRLEN];
  size_t n = strcspn(rest, "/?");
  if (n >= sizeof host) return NB_ERR_SYNTAX;
  memcpy(host, rest, n);
  host[n] = 0;
  return nb_addr_parse(host, port, out);
}

nb_err nb_client_resolve_uri(nb_client *c, const char *uri, nb_addr *out, char *host, size_t cap) {
  nb_err e = nb_client_parse_uri(uri, out);
  /* Only CoAP URIs: "http://name" or "x[::1://name]" must not reach the resolver. */
  bool coaps = strncmp(uri, "coaps://", 8) == 0;
  if (!coaps && strncmp(uri, "coap://", 7) != 0) return NB_ERR_SYNTAX;
  const char *rest = uri + (coaps ? 8 : 7);
  size_t n = strcspn(rest, "/?");
  const char *colon = memchr(rest, ':', n);
  size_t hl = rest[0] == '[' ? n : colon ? (size_t)(colon - rest) : n;
  if (host && cap) snprintf(host, cap, "%.*s", (int)hl, rest);
  if (e == NB_OK || !c->cfg.resolve || rest[0] == '[' || hl == 0 || hl >= NB_ADDR_STRLEN) return e;
  char name[NB_ADDR_STRLEN];
  memcpy(name, rest, hl);
  name[hl] = 0;
  unsigned long port = coaps ? 5684 : 5683;
  if (colon) {
    char *end;
    port = strtoul(colon + 1, &end, 10);
    if (end != rest + n || port == 0 || port > 65535) return NB_ERR_SYNTAX;
  }
  return c->cfg.resolve(c->cfg.resolve_user, name, (uint16_t)port, out);
}

/* One more account slot; once made it stays until nb_client_free: callbacks may hold it. */
static nb_err nb_client_new_account_slot(nb_client *c) {
  nb_account **acc = realloc(c->acc, (c->acc_slots + 1) * sizeof(nb_account *));
  if (!acc) return NB_ERR_NOMEM;
  c->acc = acc;
  if (!(acc[c->acc_slots] = malloc(sizeof *acc[0]))) return NB_ERR_NOMEM;
  c->acc_slots++;
  return NB_OK;
}

/* Builds one account per (non-bootstrap Security instance, Server instance) with equal SSIDs. */
static void nb_client_build_accounts(nb_client *c) {
  nb_object *sec = nb_client_object(c, 0), *srv = nb_client_object(c, 1);
  uint16_t sids[NB_CLIENT_MAX_SERVERS * 2], vids[NB_CLIENT_MAX_SERVERS * 2];
  size_t ns = sec->ops->instances(sec, sids, (size_t)NB_CLIENT_MAX_SERVERS * 2);
  size_t nv = srv->ops->instances(srv, vids, (size_t)NB_CLIENT_MAX_SERVERS * 2);
  c->nacc = 0;
  for (size_t i = 0; i < ns && i < (size_t)NB_CLIENT_MAX_SERVERS * 2; i++) {
    if (nb_store_object_get_bool(sec, sids[i], 1, false)) continue;
    int64_t ssid = nb_store_object_get_int(sec, sids[i], 10, -1);
    const char *uri = nb_store_object_get_str(sec, sids[i], 0);
    for (size_t j = 0; j < nv && j < (size_t)NB_CLIENT_MAX_SERVERS * 2; j++) {
      if (nb_store_object_get_int(srv, vids[j], 0, -2) != ssid) continue;
      if (c->nacc == NB_CLIENT_MAX_SERVERS) break;
      if (c->nacc == c->acc_slots && nb_client_new_account_slot(c) != NB_OK) break;
      nb_account *a = c->acc[c->nacc];
      memset(a, 0, sizeof *a);
      if (!uri || nb_client_resolve_uri(c, uri, &a->addr, NULL, 0) != NB_OK) {
        NB_LOG_WARN(NB_CLIENT_LOG, "event=bad-server-uri ssid=%d uri=%s", (int)ssid,
                    uri ? uri : "(none)");
        break;
      }
      a->client = c;
      a->ssid = (uint16_t)ssid;
      a->sec_inst = sids[i];
      a->srv_inst = vids[j];
      a->state = NB_CLIENT_SRV_IDLE;
      c->nacc++;
      break;
    }
  }
}

nb_account *nb_client_account_by_addr(nb_client *c, const nb_addr *addr) {
  for (size_t i = 0; i < c->nacc; i++)
    if (nb_addr_equal(&c->acc[i]->addr, addr)) return c->acc[i];
  return NULL;
}

nb_account *nb_client_account_by_ssid(nb_client *c, uint16_t ssid) {
  for (size_t i = 0; i < c->nacc; i++)
    if (c->acc[i]->ssid == ssid) return c->acc[i];
  return NULL;
}

nb_err nb_client_rebuild_accounts(nb_client *c, bool defer_registration, nb_time_ms now) {
  c->now = now;
  for (size_t i = 0; i < c->nacc; i++) {
    nb_rep_drop_server(c, c->acc[i]->ssid);
    nb_coap_req_id id = c->acc[i]->req;
    c->acc[i]->req = 0;
    if (id) nb_coap_ep_cancel(c->ep, id, false, now);
  }
  nb_client_build_accounts(c);
  nb_bs_refresh_peer(c);
  nb_tr_sync(c, now);
  c->reg_pending = defer_registration && c->nacc > 0;
  if (!defer_registration)
    for (size_t i = 0; i < c->nacc; i++) nb_reg_start(c, c->acc[i], now);
  return c->nacc ? NB_OK : NB_ERR_NOT_FOUND;
}

/* Registers with every server account, or bootstraps when there is none. */
nb_err nb_client_start(nb_client *c, nb_time_ms now) {
  if (c->started) return NB_ERR_STATE;
  c->now = now;
  c->started = true;
  if (nb_client_rebuild_accounts(c, false, now) == NB_OK) return NB_OK;
  nb_err e = nb_bs_start(c, now);
  if (e != NB_OK) c->started = false;
  return e;
}

static void nb_client_start_pending(nb_client *c, nb_time_ms now) {
  if (!c->reg_pending) return;
  c->reg_pending = false;
  for (size_t i = 0; i < c->nacc; i++) nb_reg_start(c, c->acc[i], now);
}

/* Whether peer is one of this client's servers: the address a server account was resolved to,
 * or its bootstrap server's while it has a bootstrap account. The same addresses it sends to,
 * so a re-resolution (accounts are rebuilt at start and after each bootstrap) moves both. */
static bool nb_client_peer_known(const nb_client *c, const nb_addr *peer) {
  for (size_t i = 0; i < c->nacc; i++)
    if (nb_addr_equal(&c->acc[i]->addr, peer)) return true;
  return c->bs_known && nb_addr_equal(&c->bs_addr, peer);
}

/* A CoAP answer rather than a request or a ping (RFC 7252 3: code class 0 is a request, or an
 * empty message, which a CON makes a ping that the layer would answer with a reset). */
static bool nb_client_is_answer(const uint8_t *data, size_t len) {
  if (len < 4) return false;
  unsigned type = (data[0] >> 4) & 3, code = data[1];
  return code >= 0x40 || (code == 0 && (type == NB_COAP_ACK || type == NB_COAP_RST));
}

void nb_client_receive(nb_client *c, const nb_addr *peer, const uint8_t *data, size_t len,
                       nb_time_ms now) {
  c->now = now;
  /* Anyone else gets no answer at all, not even a reset or an error: an answer would confirm
   * the device and could be reflected at a spoofed source (docs/security.md, issue 13 item 9). */
  if (!nb_client_peer_known(c, peer) &&
      !(c->fw_hooks && c->fw_hooks->download_peer(c, peer) && nb_client_is_answer(data, len))) {
    c->foreign_dropped++;
    char a[NB_ADDR_STRLEN];
    NB_LOG_DEBUG(NB_CLIENT_LOG, "event=dropped-foreign peer=%s len=%zu",
                 nb_addr_format(peer, a, sizeof a), len);
    return;
  }
  if (nb_q_asleep_peer(c, peer)) {
    NB_LOG_DEBUG(NB_CLIENT_LOG, "event=dropped-asleep len=%zu", len);
    return;
  }
  nb_q_io(c, peer);
  nb_tr_receive(c, peer, data, len, now);
  nb_client_start_pending(c, now);
}

void nb_client_tick(nb_client *c, nb_time_ms now) {
  c->now = now;
  nb_tr_tick(c, now);
  nb_coap_ep_tick(c->ep, now);
  for (size_t i = 0; i < c->nacc; i++) nb_reg_tick(c, c->acc[i], now);
  nb_bs_tick(c, now);
  nb_rep_tick(c, now);
  if (c->fw_hooks) c->fw_hooks->tick(c, now);
  nb_client_start_pending(c, now);
}

nb_time_ms nb_client_next_deadline(const nb_client *c) {
  if (c->reg_pending) return c->now;
  nb_time_ms t = nb_coap_ep_next_deadline(c->ep);
  for (size_t i = 0; i < c->nacc; i++) t = nb_time_min(t, nb_reg_deadline(c, c->acc[i]));
  t = nb_time_min(t, nb_bs_deadline(c));
  t = nb_time_min(t, nb_tr_deadline(c));
  if (c->fw_hooks) t = nb_time_min(t, c->fw_hooks->deadline(c));
  return nb_time_min(t, nb_rep_deadline(c));
}

void nb_client_value_changed(nb_client *c, const nb_path *p, nb_time_ms now) {
  c->now = now;
  nb_rep_changed(c, p, now);
}

nb_err nb_client_update(nb_client *c, uint16_t ssid, nb_time_ms now) {
  nb_err res = NB_ERR_NOT_FOUND;
  c->now = now;
  for (size_t i = 0; i < c->nacc; i++) {
    if (ssid && c->acc[i]->ssid != ssid) continue;
    nb_err e = nb_reg_update(c, c->acc[i], c->acc[i]->objects_changed, now);
    if (res != NB_OK) res = e;
  }
  return res;
}

nb_err nb_client_deregister(nb_client *c, nb_time_ms now) {
  c->deregistering = true;
  c->now = now;
  for (size_t i = 0; i < c->nacc; i++) nb_reg_deregister(c, c->acc[i], now);
  return NB_OK;
}

void nb_client_close(nb_client *c, nb_time_ms now) {
  c->now = now;
  nb_tr_close_all(c, now);
}

uint64_t nb_client_foreign_dropped(const nb_client *c) { return c->foreign_dropped; }

bool nb_client_done(const nb_client *c) {
  for (size_t i = 0; i < c->nacc; i++)
    if (c->acc[i]->state == NB_CLIENT_SRV_DEREGISTERING) return false;
  return c->deregistering;
}

nb_err nb_client_server_state(const nb_client *c, uint16_t ssid, nb_client_srv_state *state,
                              char *location, size_t cap) {
  for (size_t i = 0; i < c->nacc; i++) {
    if (c->acc[i]->ssid != ssid) continue;
    if (state) *state = c->acc[i]->state;
    size_t n = strlen(c->acc[i]->location);
    if (location && cap > n) memcpy(location, c->acc[i]->location, n + 1);
    return NB_OK;
  }
  return NB_ERR_NOT_FOUND;
}

const char *nb_client_srv_state_name(nb_client_srv_state s) {
  static const char *names[] = {"idle",       "registering",   "registered",   "updating",
                                "wait-retry", "deregistering", "deregistered", "failed"};
  return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}
