/* Bootstrap interface, client side (LwM2M 1.1 Core 6.1): Bootstrap-Request to the bootstrap
 * account, and Bootstrap-Write, -Read, -Discover, -Delete and -Finish from the bootstrap server
 * (client- or server-initiated), with validation at Finish; plus the persistence of the
 * accounts (objects 0, 1, 2) so a rebooted device registers without bootstrapping again. */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "client_int.h"
#include "lwm2m/linkfmt.h"

#define NB_BS_FINISH_TIMEOUT 300000 /* a bootstrap server that goes quiet: try again */

bool nb_bs_account(nb_client *c, uint16_t *sec_inst, nb_addr *addr) {
  nb_object *sec = nb_client_object(c, 0);
  uint16_t ids[NB_CLIENT_MAX_SERVERS * 2];
  size_t n = sec->ops->instances(sec, ids, (size_t)NB_CLIENT_MAX_SERVERS * 2);
  for (size_t i = 0; i < n && i < (size_t)NB_CLIENT_MAX_SERVERS * 2; i++) {
    if (!nb_store_object_get_bool(sec, ids[i], 1, false)) continue;
    const char *uri = nb_store_object_get_str(sec, ids[i], 0);
    nb_addr a;
    if (!uri || nb_client_resolve_uri(c, uri, &a, NULL, 0) != NB_OK) continue;
    if (sec_inst) *sec_inst = ids[i];
    if (addr) *addr = a;
    return true;
  }
  return false;
}

void nb_bs_refresh_peer(nb_client *c) { c->bs_known = nb_bs_account(c, NULL, &c->bs_addr); }

#if NB_CFG_BOOTSTRAP
static void nb_bs_retry(nb_client *c, nb_time_ms now) {
  nb_time_ms wait = 10000;
  for (unsigned i = 0; i < c->bs_attempts && wait < 3600000; i++) wait *= 2;
  c->bs_attempts++;
  c->bs_state = NB_BS_RETRY;
  c->bs_deadline = now + wait;
  NB_LOG_WARN(NB_CLIENT_LOG, "event=bootstrap-retry in_ms=%lld", (long long)wait);
}

static void nb_bs_request_cb(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                             nb_time_ms now) {
  nb_client *c = user;
  (void)last;
  c->bs_req = 0;
  if (c->bs_state != NB_BS_REQUESTING) return; /* Finish came before the answer */
  if (err != NB_OK || resp->code != NB_COAP_CHANGED) return nb_bs_retry(c, now);
  c->bs_state = NB_BS_REQUESTED;
  c->bs_deadline = now + NB_BS_FINISH_TIMEOUT;
}

void nb_bs_transport_failed(nb_client *c, nb_err err, nb_time_ms now) {
  if (!c->bs_req) return;
  NB_LOG_WARN(NB_CLIENT_LOG, "event=bootstrap-request-failed err=%s", nb_err_name(err));
  nb_coap_ep_cancel(c->ep, c->bs_req, false, now); /* its callback schedules the retry */
}

/* pct=18 asks the bootstrap server for signed writes: only when asked to and when the
 * bootstrap account has a key pair that authenticates the server to verify them with. */
static const char *nb_bs_pct(nb_client *c, uint16_t inst) {
  int64_t mode = nb_store_object_get_int(nb_client_object(c, 0), inst, 2, 3);
  return c->cfg.signed_bootstrap && (mode == 1 || mode == 2) ? "pct=18" : "pct=112";
}

nb_err nb_bs_start(nb_client *c, nb_time_ms now) {
  uint16_t inst;
  if (!nb_bs_account(c, &inst, &c->bs_addr)) return NB_ERR_NOT_FOUND;
  c->bs_known = true;
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, 0);
  char q[96];
  nb_err e = nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/bs");
  snprintf(q, sizeof q, "ep=%s", c->endpoint);
  if (e == NB_OK) e = nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, q);
  if (e == NB_OK && !c->v10)
    e = nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, nb_bs_pct(c, inst));
  if (e == NB_OK)
    e = nb_coap_ep_request(c->ep, &c->bs_addr, &m, true, nb_bs_request_cb, c, now, &c->bs_req);
  if (e != NB_OK) return e;
  c->bs_state = NB_BS_REQUESTING;
  nb_sig_bootstrap_reset(c);
  NB_LOG_INFO(NB_CLIENT_LOG, "event=bootstrap-request ep=%s", c->endpoint);
  return NB_OK;
}

nb_err nb_bs_trigger(nb_client *c, nb_time_ms now) {
  if (!nb_bs_account(c, NULL, NULL)) return NB_ERR_NOT_FOUND;
  NB_LOG_INFO(NB_CLIENT_LOG, "event=bootstrap-triggered state=%d", c->bs_state);
  if (c->bs_state == NB_BS_REQUESTING || c->bs_state == NB_BS_REQUESTED) return NB_OK;
  c->bs_attempts = 0;
  c->bs_state = NB_BS_RETRY; /* nb_bs_tick sends the Bootstrap-Request */
  c->bs_deadline = now;
  return NB_OK;
}

/* The Bootstrap-Server Account Timeout ran out: the account goes (1.1 Core, Security object
 * resource 12); without it this device cannot bootstrap again with its factory credentials. */
static void nb_bs_purge(nb_client *c, nb_time_ms now) {
  c->bs_purge = false;
  uint16_t inst;
  if (c->bs_state != NB_BS_NONE || !nb_bs_account(c, &inst, NULL) || inst != c->bs_purge_inst)
    return;
  nb_object *sec = nb_client_object(c, 0);
  nb_err e = sec->ops->remove(sec, inst);
  NB_LOG_INFO(NB_CLIENT_LOG, "event=bootstrap-account-purged instance=%u err=%s", inst,
              nb_err_name(e));
  nb_bs_refresh_peer(c); /* its server is no longer one of ours */
  (void)now;
}

void nb_bs_tick(nb_client *c, nb_time_ms now) {
  if (c->bs_purge && now >= c->bs_purge_at) nb_bs_purge(c, now);
  if ((c->bs_state == NB_BS_RETRY || c->bs_state == NB_BS_REQUESTED) && now >= c->bs_deadline) {
    if (c->bs_state == NB_BS_REQUESTED) NB_LOG_WARN(NB_CLIENT_LOG, "event=bootstrap-no-finish");
    if (nb_bs_start(c, now) != NB_OK) nb_bs_retry(c, now);
  }
}

nb_time_ms nb_bs_deadline(const nb_client *c) {
  nb_time_ms d = NB_TIME_NEVER;
  if (c->bs_state == NB_BS_RETRY || c->bs_state == NB_BS_REQUESTED) d = c->bs_deadline;
  if (c->bs_purge && c->bs_purge_at < d) d = c->bs_purge_at;
  return d;
}
#else
/* A build without bootstrap (NB_CFG_BOOTSTRAP 0): a bootstrap account is kept but never used,
 * and the bootstrap server's operations are none of this device's resources. */
void nb_bs_transport_failed(nb_client *c, nb_err err, nb_time_ms now) {
  (void)c, (void)err, (void)now;
}

nb_err nb_bs_start(nb_client *c, nb_time_ms now) {
  (void)now;
  return nb_bs_account(c, NULL, NULL) ? NB_ERR_UNSUPPORTED : NB_ERR_NOT_FOUND;
}

nb_err nb_bs_trigger(nb_client *c, nb_time_ms now) { return nb_bs_start(c, now); }

void nb_bs_tick(nb_client *c, nb_time_ms now) { (void)c, (void)now; }

nb_time_ms nb_bs_deadline(const nb_client *c) {
  (void)c;
  return NB_TIME_NEVER;
}

bool nb_bs_handle(nb_client *c, nb_coap_exchange *ex, const nb_addr *peer, const nb_coap_msg *req,
                  nb_time_ms now) {
  (void)c, (void)ex, (void)peer, (void)req, (void)now;
  return false;
}
#endif

/* ---- raw access (no operation checks: bootstrap and persistence) ---- */

static nb_err nb_bs_read_instance(nb_object *o, uint16_t inst, nb_records *out, nb_time_ms now) {
  uint16_t ids[NB_CLIENT_MAX_IDS];
  size_t n;
  nb_err e = o->ops->resources(o, inst, ids, NB_CLIENT_MAX_IDS, &n);
  for (size_t k = 0; e == NB_OK && k < n; k++) {
    const nb_resource_def *rd = nb_object_def_resource(o->def, ids[k]);
    if (rd && (rd->ops & NB_OP_E)) continue;
    nb_err r = o->ops->read(o, inst, ids[k], out, now);
    if (r != NB_OK && r != NB_ERR_NOT_FOUND) e = r;
  }
  return e;
}

static nb_err nb_bs_read_object(nb_object *o, nb_records *out, nb_time_ms now) {
  uint16_t ids[NB_CLIENT_MAX_IDS];
  size_t n = o->ops->instances(o, ids, NB_CLIENT_MAX_IDS);
  nb_err e = NB_OK;
  for (size_t k = 0; e == NB_OK && k < n && k < NB_CLIENT_MAX_IDS; k++)
    e = nb_bs_read_instance(o, ids[k], out, now);
  return e;
}

/* Writes records (sorted), creating instances as needed, one resource at a time. */
static nb_err nb_bs_store(nb_client *c, const nb_records *recs, nb_time_ms now) {
  for (size_t i = 0; i < recs->len;) {
    const nb_path *p = &recs->items[i].path;
    nb_object *o = nb_client_object(c, p->ids[0]);
    if (!o) return NB_ERR_NOT_FOUND;
    uint16_t tmp[1];
    size_t n;
    if (o->ops->resources(o, p->ids[1], tmp, 1, &n) == NB_ERR_NOT_FOUND) {
      nb_err e = o->ops->create(o, p->ids[1]);
      if (e != NB_OK) return e;
    }
    size_t j = i + 1;
    while (j < recs->len && recs->items[j].path.ids[0] == p->ids[0] &&
           recs->items[j].path.ids[1] == p->ids[1] && recs->items[j].path.ids[2] == p->ids[2])
      j++;
    if (p->len >= NB_PATH_RESOURCE) {
      nb_err e = o->ops->write(o, p->ids[1], p->ids[2], &recs->items[i], j - i, true, now);
      if (e != NB_OK) return e;
    }
    i = j;
  }
  return NB_OK;
}

#if NB_CFG_BOOTSTRAP
/* ---- the bootstrap server's operations ---- */

static void nb_bs_reply(nb_coap_exchange *ex, uint8_t code, int cf, const nb_bytes *body,
                        nb_time_ms now) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, code, 0);
  if (cf != NB_COAP_CF_NONE) nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
  if (body && body->len) nb_coap_msg_set_payload(&m, body->data, body->len);
  nb_coap_exchange_respond(ex, &m, now);
}

static uint8_t nb_bs_write(nb_client *c, const nb_addr *peer, const nb_path *p,
                           const nb_coap_msg *req, nb_time_ms now) {
  if (p->len == NB_PATH_ROOT || p->len == NB_PATH_RINSTANCE) return NB_COAP_BAD_REQUEST;
  if (!nb_client_object(c, p->ids[0])) return NB_COAP_NOT_FOUND;
  nb_sig_body body;
  uint8_t refused = nb_sig_unwrap(c, peer, req, true, &body);
  if (refused) return refused;
  int cf = body.cf;
  if (cf == NB_COAP_CF_NONE || !nb_format_is_supported(cf))
    return NB_COAP_UNSUPPORTED_CONTENT_FORMAT;
  nb_records recs;
  nb_records_init(&recs);
  nb_format_error fe = {0};
  nb_format_opts o = {.base = p, .model = c->model};
  uint8_t code = NB_COAP_CHANGED;
  uint8_t refused_secret = 0; /* a secret in a signed payload, or a withheld one out of place */
  if (nb_format_decode_ex(cf, body.data, body.len, &o, &recs, &fe) != NB_OK) {
    code = fe.code ? fe.code : NB_COAP_BAD_REQUEST;
  } else if ((refused_secret = nb_sig_records(&body, p, &recs)) != 0) {
    code = refused_secret;
  } else {
    nb_records_sort(&recs);
    nb_err e = NB_OK;
    if (p->len == NB_PATH_INSTANCE && recs.len == 0) { /* an empty instance */
      nb_object *ob = nb_client_object(c, p->ids[0]);
      uint16_t tmp[1];
      size_t n;
      if (ob->ops->resources(ob, p->ids[1], tmp, 1, &n) == NB_ERR_NOT_FOUND)
        e = ob->ops->create(ob, p->ids[1]);
    }
    if (e == NB_OK) e = nb_bs_store(c, &recs, now);
    if (e != NB_OK) code = nb_client_err_code(e);
  }
  nb_records_deinit(&recs);
  if (code == NB_COAP_CHANGED && body.cose)
    nb_sig_evidence(c, "write", p, body.cose, body.cose_len);
  return code;
}

/* Deletes every instance under p except the bootstrap account and the Device instance. */
static uint8_t nb_bs_delete(nb_client *c, const nb_path *p) {
  if (p->len > NB_PATH_INSTANCE) return NB_COAP_BAD_REQUEST;
  uint16_t keep = 65535;
  nb_bs_account(c, &keep, NULL);
  if (p->len >= NB_PATH_OBJECT && !nb_client_object(c, p->ids[0])) return NB_COAP_NOT_FOUND;
  for (size_t i = 0; i < c->nobjs; i++) {
    nb_object *o = c->objs[i];
    uint16_t id = o->def->id;
    if ((p->len >= NB_PATH_OBJECT && id != p->ids[0]) || (p->len == NB_PATH_ROOT && id == 3))
      continue;
    uint16_t ids[NB_CLIENT_MAX_IDS];
    size_t n = o->ops->instances(o, ids, NB_CLIENT_MAX_IDS);
    for (size_t k = 0; k < n && k < NB_CLIENT_MAX_IDS; k++) {
      if (p->len == NB_PATH_INSTANCE && ids[k] != p->ids[1]) continue;
      if (id == 0 && ids[k] == keep) continue;
      o->ops->remove(o, ids[k]);
    }
  }
  return NB_COAP_DELETED;
}

/* Written link by link straight into out, as the Register payload (registration.c). */
static nb_err nb_bs_discover(nb_client *c, const nb_path *p, nb_bytes *out) {
  nb_lwm2m_links root;
  nb_lwm2m_links_init(&root);
  root.has_root = true;
  snprintf(root.lwm2m, sizeof root.lwm2m, "%s", c->v10 ? "1.0" : "1.1");
  size_t before = out->len;
  nb_err e = nb_linkfmt_encode_root(&root, out);
  uint16_t ids[NB_CLIENT_MAX_IDS];
  for (size_t i = 0; i < c->nobjs && e == NB_OK; i++) {
    nb_object *o = c->objs[i];
    if (p->len == NB_PATH_OBJECT && o->def->id != p->ids[0]) continue;
    size_t n = o->ops->instances(o, ids, NB_CLIENT_MAX_IDS);
    nb_attrs at;
    nb_attrs_init(&at);
    if (n == 0 || (o->def->version && strcmp(o->def->version, "1.0") != 0)) {
      nb_path op = nb_path_obj(o->def->id);
      if (o->def->version && strcmp(o->def->version, "1.0") != 0) {
        at.set = NB_ATTR_VER;
        snprintf(at.ver, sizeof at.ver, "%s", o->def->version);
      }
      e = nb_linkfmt_encode_link(NULL, &op, &at, out);
    }
    for (size_t k = 0; e == NB_OK && k < n && k < NB_CLIENT_MAX_IDS; k++) {
      nb_attrs_init(&at);
      int64_t ssid = -1;
      if (o->def->id == 0 && !nb_store_object_get_bool(o, ids[k], 1, false)) {
        ssid = nb_store_object_get_int(o, ids[k], 10, -1);
        const char *uri = nb_store_object_get_str(o, ids[k], 0);
        if (uri && strlen(uri) < sizeof at.uri) {
          at.set |= NB_ATTR_URI;
          snprintf(at.uri, sizeof at.uri, "%s", uri);
        }
      } else if (o->def->id == 1) {
        ssid = nb_store_object_get_int(o, ids[k], 0, -1);
      }
      if (ssid > 0 && ssid <= NB_ID_MAX) {
        at.set |= NB_ATTR_SSID;
        at.ssid = (uint16_t)ssid;
      }
      nb_path ip = nb_path_inst(o->def->id, ids[k]);
      e = nb_linkfmt_encode_link(NULL, &ip, &at, out);
    }
  }
  if (e != NB_OK) out->len = before;
  return e;
}

/* The signed answer to a Bootstrap-Read with Accept: 18, the device's receipt of the bootstrap:
 * SenML CBOR of what it reports, signed with the bootstrap account's key, with the bootstrap's
 * ID (cti) of its signed writes. 4.06 when the account has no key (PSK, NoSec). */
static uint8_t nb_bs_receipt(nb_client *c, const nb_path *p, const nb_records *recs, nb_bytes *out,
                             nb_time_ms now) {
  uint16_t inst;
  if (!nb_bs_account(c, &inst, NULL) || !nb_sig_key(c, inst)) {
    NB_LOG_WARN(NB_CLIENT_LOG, "event=receipt-refused reason=no-signing-key");
    return NB_COAP_NOT_ACCEPTABLE;
  }
  nb_bytes inner;
  nb_bytes_init(&inner);
  c->now = now;
  nb_err e = nb_format_encode(NB_COAP_CF_SENML_CBOR, recs, p, c->model, &inner, NULL, NULL);
  if (e == NB_OK) e = nb_sig_wrap(c, inst, c->bs_cti, c->bs_cti_len, inner.data, inner.len, out);
  nb_bytes_free(&inner);
  if (e != NB_OK) {
    NB_LOG_WARN(NB_CLIENT_LOG, "event=receipt-failed err=%s", nb_err_name(e));
    return NB_COAP_INTERNAL_SERVER_ERROR;
  }
  nb_sig_evidence(c, "receipt", p, out->data, out->len);
  return NB_COAP_CONTENT;
}

/* Bootstrap-Read: Server and Access Control objects only (1.1). */
static uint8_t nb_bs_read(nb_client *c, const nb_path *p, const nb_coap_msg *req, nb_bytes *out,
                          int *cf, nb_time_ms now) {
  if (p->len == NB_PATH_ROOT || (p->ids[0] != 1 && p->ids[0] != 2)) return NB_COAP_BAD_REQUEST;
  nb_object *o = nb_client_object(c, p->ids[0]);
  nb_records recs;
  nb_records_init(&recs);
  nb_err e = p->len == NB_PATH_OBJECT ? nb_bs_read_object(o, &recs, now)
                                      : nb_bs_read_instance(o, p->ids[1], &recs, now);
  uint8_t code = NB_COAP_CONTENT;
  if (e == NB_OK && p->len > NB_PATH_INSTANCE) e = NB_ERR_INVAL;
  *cf = nb_coap_msg_accept(req);
  if (*cf == NB_COAP_CF_NONE) *cf = c->v10 ? NB_COAP_CF_LWM2M_TLV : NB_COAP_CF_SENML_CBOR;
  if (e == NB_OK && *cf == NB_COSE_CF_SIGN1)
    code = nb_bs_receipt(c, p, &recs, out, now);
  else if (e == NB_OK && !nb_format_is_supported(*cf))
    code = NB_COAP_NOT_ACCEPTABLE;
  else if (e != NB_OK)
    code = nb_client_err_code(e);
  else if (nb_format_encode(*cf, &recs, p, c->model, out, &code, NULL) == NB_OK)
    code = NB_COAP_CONTENT;
  nb_records_deinit(&recs);
  return code;
}

static void nb_bs_finish(nb_client *c, nb_coap_exchange *ex, nb_time_ms now) {
  /* Validate with a trial build: at least one usable server account. */
  size_t before = c->nacc;
  nb_account saved[NB_CLIENT_MAX_SERVERS];
  for (size_t i = 0; i < before; i++) saved[i] = *c->acc[i];
  /* Registration starts after the 2.04 went out (nb_client_receive). */
  nb_err e = nb_client_rebuild_accounts(c, true, now);
  if (e != NB_OK) {
    for (size_t i = 0; i < before; i++) *c->acc[i] = saved[i]; /* slots are never freed */
    c->nacc = before;
    NB_LOG_WARN(NB_CLIENT_LOG, "event=bootstrap-finish-refused reason=no-usable-server-account");
    nb_bs_reply(ex, NB_COAP_NOT_ACCEPTABLE, NB_COAP_CF_NONE, NULL, now);
    return;
  }
  if (c->bs_req) nb_coap_ep_cancel(c->ep, c->bs_req, false, now);
  c->bs_req = 0;
  c->bs_state = NB_BS_NONE;
  c->bs_attempts = 0;
  c->started = true;
  uint16_t bs_inst = 0;
  int64_t timeout = nb_bs_account(c, &bs_inst, NULL)
                        ? nb_store_object_get_int(nb_client_object(c, 0), bs_inst, 12, 0)
                        : 0;
  c->bs_purge = timeout > 0;
  c->bs_purge_inst = bs_inst;
  c->bs_purge_at = now + timeout * 1000;
  NB_LOG_INFO(NB_CLIENT_LOG, "event=bootstrap-finished servers=%zu", c->nacc);
  nb_bs_reply(ex, NB_COAP_CHANGED, NB_COAP_CF_NONE, NULL, now);
  nb_tr_bootstrap_done(c, now);
}

bool nb_bs_handle(nb_client *c, nb_coap_exchange *ex, const nb_addr *peer, const nb_coap_msg *req,
                  nb_time_ms now) {
  if (!c->bs_known || !nb_addr_equal(&c->bs_addr, peer)) return false;
  if (c->bs_state != NB_BS_REQUESTING && c->bs_state != NB_BS_REQUESTED)
    nb_sig_bootstrap_reset(c); /* a server-initiated bootstrap starts */
  char raw[16];
  if (req->code == NB_COAP_POST &&
      nb_coap_msg_get_path(req, NB_COAP_OPT_URI_PATH, raw, sizeof raw) == NB_OK &&
      strcmp(raw, "/bs") == 0) {
    nb_bs_finish(c, ex, now);
    return true;
  }
  nb_path p;
  if (nb_path_from_coap(req, &p) != NB_OK) {
    nb_bs_reply(ex, NB_COAP_BAD_REQUEST, NB_COAP_CF_NONE, NULL, now);
    return true;
  }
  nb_bytes body;
  nb_bytes_init(&body);
  uint8_t code;
  int cf = NB_COAP_CF_NONE;
  if (req->code == NB_COAP_PUT) {
    code = nb_bs_write(c, peer, &p, req, now);
  } else if (req->code == NB_COAP_DELETE) {
    code = nb_bs_delete(c, &p);
  } else if (req->code == NB_COAP_GET && nb_coap_msg_accept(req) == NB_COAP_CF_LINK_FORMAT) {
    code = p.len > NB_PATH_OBJECT                  ? NB_COAP_BAD_REQUEST
           : nb_bs_discover(c, &p, &body) == NB_OK ? NB_COAP_CONTENT
                                                   : NB_COAP_INTERNAL_SERVER_ERROR;
    cf = NB_COAP_CF_LINK_FORMAT;
  } else if (req->code == NB_COAP_GET) {
    code = nb_bs_read(c, &p, req, &body, &cf, now);
  } else {
    code = NB_COAP_METHOD_NOT_ALLOWED;
  }
  if (NB_COAP_CLASS(code) != 2) cf = NB_COAP_CF_NONE;
  nb_bs_reply(ex, code, cf, &body, now);
  nb_bytes_free(&body);
  /* Server-initiated bootstrap: the client waits for Finish like after a request. */
  if (c->bs_state == NB_BS_NONE || c->bs_state == NB_BS_RETRY || c->bs_state == NB_BS_FAILED) {
    c->bs_state = NB_BS_REQUESTED;
    c->bs_deadline = now + NB_BS_FINISH_TIMEOUT;
  }
  return true;
}
#endif

/* ---- persistence (SenML CBOR: NB_ERR_FMT_UNSUPPORTED in a build without it) ---- */

nb_err nb_client_save_state(nb_client *c, nb_bytes *out) {
  nb_records recs;
  nb_records_init(&recs);
  nb_err e = NB_OK;
  for (uint16_t id = 0; id <= 2 && e == NB_OK; id++)
    e = nb_bs_read_object(nb_client_object(c, id), &recs, 0);
  nb_path root = nb_path_root();
  if (e == NB_OK)
    e = nb_format_encode(NB_COAP_CF_SENML_CBOR, &recs, &root, c->model, out, NULL, NULL);
  nb_records_deinit(&recs);
  return e;
}

nb_err nb_client_load_state(nb_client *c, const uint8_t *data, size_t len) {
  nb_records recs;
  nb_records_init(&recs);
  nb_path root = nb_path_root();
  nb_err e = nb_format_decode(NB_COAP_CF_SENML_CBOR, data, len, &root, c->model, &recs, NULL, NULL);
  for (size_t i = 0; e == NB_OK && i < recs.len; i++)
    if (recs.items[i].path.ids[0] > 2) e = NB_ERR_INVAL;
  if (e == NB_OK) {
    nb_records_sort(&recs);
    for (uint16_t id = 0; id <= 2; id++) { /* the state replaces objects 0-2 wholesale */
      nb_object *o = nb_client_object(c, id);
      uint16_t ids[NB_CLIENT_MAX_IDS];
      size_t n = o->ops->instances(o, ids, NB_CLIENT_MAX_IDS);
      for (size_t k = n < NB_CLIENT_MAX_IDS ? n : NB_CLIENT_MAX_IDS; k > 0; k--)
        o->ops->remove(o, ids[k - 1]);
    }
    e = nb_bs_store(c, &recs, 0);
  }
  nb_records_deinit(&recs);
  return e;
}

bool nb_client_bootstrapping(const nb_client *c) {
  return c->bs_state == NB_BS_REQUESTING || c->bs_state == NB_BS_REQUESTED;
}
