/* Registration interface, client side (LwM2M 1.1 Core 6.2): Register with the object list,
 * Update before the lifetime runs out and when something the server knows changes,
 * De-register, and the registration retry sequences of the Server object (resources 14, 17-20). */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "client_int.h"
#include "lwm2m/linkfmt.h"

int64_t nb_reg_server_int(nb_client *c, const nb_account *a, uint16_t res, int64_t fallback) {
  nb_object *srv = nb_client_object(c, 1);
  nb_path p = nb_path_res(1, a->srv_inst, res);
  const nb_value *v = nb_store_object_get(srv, &p);
  if (!v) return fallback;
  if (v->type == NB_VT_INT) return v->v.i;
  if (v->type == NB_VT_UINT && v->v.u <= INT64_MAX) return (int64_t)v->v.u;
  return fallback;
}

static const char *nb_reg_binding(nb_client *c, const nb_account *a) {
  const char *b = nb_store_object_get_str(nb_client_object(c, 1), a->srv_inst, 7);
  return b && b[0] ? b : "U";
}

/* The `b=` query of a Register/Update. LwM2M 1.1 removed Q from the binding letters (queue mode
 * is the separate `Q` parameter, and 1.1 servers such as Leshan refuse "UQ"); 1.0 keeps it. */
static void nb_reg_binding_query(const nb_client *c, const char *binding, char *q, size_t cap) {
  size_t n = (size_t)snprintf(q, cap, "b=");
  for (const char *p = binding; *p && n + 1 < cap; p++)
    if (c->v10 || *p != 'Q') q[n++] = *p;
  q[n] = '\0';
}

/* The Register/Update payload: root link (1.1), then objects and instances except Security.
 * Written link by link straight into out (no list of links in between: it would cost a few
 * hundred bytes of attributes per link). */
static nb_err nb_reg_objects(nb_client *c, nb_bytes *out) {
  nb_lwm2m_links root;
  nb_lwm2m_links_init(&root);
  /* ct lists the formats this build has (NB_CFG_FMT_*) of those a 1.1 server may ask for. */
  static const uint16_t cts[] = {NB_COAP_CF_SENML_CBOR, NB_COAP_CF_SENML_JSON,
                                 NB_COAP_CF_LWM2M_TLV};
  if (!c->v10) {
    root.has_root = true;
    root.rt_lwm2m = true;
    for (size_t k = 0; k < sizeof cts / sizeof cts[0]; k++)
      if (nb_format_is_supported(cts[k])) root.cts[root.ct_count++] = cts[k];
  }
  size_t before = out->len;
  nb_err e = nb_linkfmt_encode_root(&root, out);
  uint16_t ids[NB_CLIENT_MAX_IDS];
  for (size_t i = 0; i < c->nobjs && e == NB_OK; i++) {
    nb_object *o = c->objs[i];
    if (o->def->id == 0) continue;
    nb_attrs at;
    nb_attrs_init(&at);
    bool ver = o->def->version && strcmp(o->def->version, "1.0") != 0;
    if (ver) {
      at.set = NB_ATTR_VER;
      snprintf(at.ver, sizeof at.ver, "%s", o->def->version);
    }
    size_t n = o->ops->instances(o, ids, NB_CLIENT_MAX_IDS);
    if (n > NB_CLIENT_MAX_IDS) n = NB_CLIENT_MAX_IDS;
    nb_path op = nb_path_obj(o->def->id);
    if (ver || n == 0) e = nb_linkfmt_encode_link(NULL, &op, &at, out);
    for (size_t k = 0; k < n && e == NB_OK; k++) {
      nb_path ip = nb_path_inst(o->def->id, ids[k]);
      e = nb_linkfmt_encode_link(NULL, &ip, NULL, out);
    }
  }
  if (e != NB_OK) out->len = before;
  return e;
}

/* The server's URI as its Security instance has it, for the log ("?" when unset). */
static const char *nb_reg_uri(nb_client *c, const nb_account *a) {
  const char *uri = nb_store_object_get_str(nb_client_object(c, 0), a->sec_inst, 0);
  return uri && uri[0] ? uri : "?";
}

/* A Register or Update to a DTLS server got no answer at all: the server may have lost the
 * session (it restarted), so the next one makes a new handshake rather than keep talking into
 * a session nobody decrypts. */
static void nb_reg_renew_on_timeout(nb_client *c, nb_account *a, nb_err err, nb_time_ms now) {
  if (err == NB_ERR_TIMEOUT) nb_tr_renew(c, &a->addr, "request timed out", now);
}

static void nb_reg_schedule_update(nb_account *a, nb_time_ms now) {
  /* Leave a tenth of the lifetime (at least 1 s, at most the CoAP give-up time of 93 s... but
   * never more than half) so the Update lands before the server forgets us. */
  nb_time_ms lt = (nb_time_ms)a->lifetime * 1000;
  nb_time_ms margin = lt / 10;
  if (margin < 1000) margin = lt / 2;
  a->next_update = now + lt - margin;
}

/* A failed Register: next attempt of the sequence, next sequence, or give up. */
static void nb_reg_failed(nb_client *c, nb_account *a, nb_err err, nb_time_ms now) {
  nb_client_emit(c, NB_CLIENT_EV_REG_FAILED, a->ssid, err, now);
  int64_t count = nb_reg_server_int(c, a, 17, 5);
  int64_t timer = nb_reg_server_int(c, a, 18, 60);
  int64_t seq_delay = nb_reg_server_int(c, a, 19, 86400);
  int64_t seq_count = nb_reg_server_int(c, a, 20, 1);
  a->attempt++;
  if ((int64_t)a->attempt < count) {
    int64_t wait = timer;
    for (unsigned i = 1; i < a->attempt && wait < 86400; i++) wait *= 2;
    a->retry_at = now + wait * 1000;
    a->state = NB_CLIENT_SRV_WAIT_RETRY;
  } else if ((int64_t)++a->sequence < seq_count) {
    a->attempt = 0;
    a->retry_at = now + seq_delay * 1000;
    a->state = NB_CLIENT_SRV_WAIT_RETRY;
  } else {
    a->state = NB_CLIENT_SRV_FAILED;
    NB_LOG_WARN(NB_CLIENT_LOG, "event=registration-gave-up ssid=%u", a->ssid);
    nb_client_emit(c, NB_CLIENT_EV_GAVE_UP, a->ssid, err, now);
    if (nb_store_object_get_bool(nb_client_object(c, 1), a->srv_inst, 16, true) &&
        nb_bs_account(c, NULL, NULL))
      nb_bs_start(c, now); /* Bootstrap on Registration Failure */
    return;
  }
  NB_LOG_INFO(NB_CLIENT_LOG, "event=registration-retry ssid=%u server=%s err=%s in_ms=%lld",
              a->ssid, nb_reg_uri(c, a), nb_err_name(err), (long long)(a->retry_at - now));
}

static nb_err nb_reg_send_register(nb_client *c, nb_account *a, nb_time_ms now);

static void nb_reg_register_cb(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                               nb_time_ms now) {
  nb_account *a = user;
  nb_client *c = a->client;
  (void)last;
  if (err == NB_ERR_CANCELLED) return; /* we dropped it on purpose */
  a->req = 0;
  if (err == NB_OK && resp->code != NB_COAP_CREATED) err = NB_ERR_STATE;
  if (err == NB_OK && nb_coap_msg_get_path(resp, NB_COAP_OPT_LOCATION_PATH, a->location,
                                           sizeof a->location) != NB_OK)
    err = NB_ERR_OVERFLOW;
  if (err != NB_OK) {
    char code[8] = "-";
    if (resp) nb_coap_code_format(resp->code, code);
    NB_LOG_WARN(NB_CLIENT_LOG, "event=register-failed ssid=%u server=%s err=%s code=%s", a->ssid,
                nb_reg_uri(c, a), nb_err_name(err), code);
    nb_reg_renew_on_timeout(c, a, err, now);
    nb_reg_failed(c, a, err, now);
    return;
  }
  a->state = NB_CLIENT_SRV_REGISTERED;
  a->asleep = a->flush_on_update = false;
  a->attempt = a->sequence = 0;
  a->update_pending = a->objects_changed = false;
  nb_reg_schedule_update(a, now);
  NB_LOG_INFO(NB_CLIENT_LOG, "event=registered ssid=%u location=%s lifetime=%u", a->ssid,
              a->location, a->lifetime);
  nb_client_emit(c, NB_CLIENT_EV_REGISTERED, a->ssid, NB_OK, now);
}

static nb_err nb_reg_send_register(nb_client *c, nb_account *a, nb_time_ms now) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, 0);
  int64_t lt = nb_reg_server_int(c, a, 1, 86400);
  a->lifetime = lt > 0 && lt <= UINT32_MAX ? (uint32_t)lt : 86400;
  snprintf(a->binding, sizeof a->binding, "%s", nb_reg_binding(c, a));
  char q[96];
  nb_err e = nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/rd");
  if (e == NB_OK) e = nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LINK_FORMAT);
  snprintf(q, sizeof q, "ep=%s", c->endpoint);
  if (e == NB_OK && strlen(c->endpoint) < sizeof q - 4)
    e = nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, q);
  snprintf(q, sizeof q, "lt=%u", a->lifetime);
  if (e == NB_OK) e = nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, q);
  snprintf(q, sizeof q, "lwm2m=%s", c->v10 ? "1.0" : "1.1");
  if (e == NB_OK) e = nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, q);
  nb_reg_binding_query(c, a->binding, q, sizeof q);
  if (e == NB_OK) e = nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, q);
  if (e == NB_OK && strchr(a->binding, 'Q') && !c->v10)
    e = nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, "Q");
  nb_bytes body;
  nb_bytes_init(&body);
  if (e == NB_OK) e = nb_reg_objects(c, &body);
  if (e == NB_OK) {
    nb_bytes_fit(&body); /* the request copies it: its spare room would only add to the peak */
    nb_coap_msg_set_payload(&m, body.data, body.len);
    e = nb_coap_ep_request(c->ep, &a->addr, &m, true, nb_reg_register_cb, a, now, &a->req);
  }
  nb_bytes_free(&body);
  if (e == NB_OK) {
    a->state = NB_CLIENT_SRV_REGISTERING;
    a->req_at = now;
    a->unreachable = false;
    NB_LOG_INFO(NB_CLIENT_LOG, "event=register ssid=%u server=%s ep=%s lt=%u b=%s", a->ssid,
                nb_reg_uri(c, a), c->endpoint, a->lifetime, a->binding);
  }
  return e;
}

void nb_reg_start(nb_client *c, nb_account *a, nb_time_ms now) {
  a->attempt = a->sequence = 0;
  int64_t delay = nb_reg_server_int(c, a, 14, 0);
  if (delay > 0) {
    a->state = NB_CLIENT_SRV_WAIT_RETRY;
    a->retry_at = now + delay * 1000;
    return;
  }
  if (nb_reg_send_register(c, a, now) != NB_OK) nb_reg_failed(c, a, NB_ERR_NOMEM, now);
}

static void nb_reg_update_cb(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                             nb_time_ms now) {
  nb_account *a = user;
  nb_client *c = a->client;
  (void)last;
  if (err == NB_ERR_CANCELLED) return; /* we dropped it on purpose */
  a->req = 0;
  if (err == NB_OK && resp && resp->code == NB_COAP_CHANGED) {
    a->state = NB_CLIENT_SRV_REGISTERED;
    nb_reg_schedule_update(a, now);
    NB_LOG_INFO(NB_CLIENT_LOG, "event=updated ssid=%u", a->ssid);
    nb_client_emit(c, NB_CLIENT_EV_UPDATED, a->ssid, NB_OK, now);
    if (a->flush_on_update) {
      a->flush_on_update = false;
      nb_rep_flush(c, a->ssid, now);
    }
    return;
  }
  a->flush_on_update = false;
  /* 4.04: the server lost the registration; any other failure: register anew too. */
  char code[8] = "-";
  if (resp) nb_coap_code_format(resp->code, code);
  NB_LOG_WARN(NB_CLIENT_LOG, "event=update-failed ssid=%u server=%s err=%s code=%s action=register",
              a->ssid, nb_reg_uri(c, a), nb_err_name(err), code);
  nb_client_emit(c, NB_CLIENT_EV_REG_FAILED, a->ssid, err == NB_OK ? NB_ERR_NOT_FOUND : err, now);
  nb_rep_drop_server(c, a->ssid);
  nb_reg_renew_on_timeout(c, a, err, now);
  a->attempt = a->sequence = 0;
  if (nb_reg_send_register(c, a, now) != NB_OK) nb_reg_failed(c, a, NB_ERR_NOMEM, now);
}

nb_err nb_reg_update(nb_client *c, nb_account *a, bool with_objects, nb_time_ms now) {
  if (a->state != NB_CLIENT_SRV_REGISTERED) {
    a->update_pending = true; /* sent once registered */
    return NB_ERR_STATE;
  }
  if (a->asleep) {
    a->asleep = false;
    NB_LOG_INFO(NB_CLIENT_LOG, "event=wake ssid=%u idle_ms=%lld", a->ssid,
                (long long)(now - a->last_io));
  }
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, 0);
  nb_err e = nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, a->location);
  char q[32];
  int64_t lt = nb_reg_server_int(c, a, 1, 86400);
  if (e == NB_OK && lt > 0 && lt <= UINT32_MAX && (uint32_t)lt != a->lifetime) {
    a->lifetime = (uint32_t)lt;
    snprintf(q, sizeof q, "lt=%u", a->lifetime);
    e = nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, q);
  }
  const char *b = nb_reg_binding(c, a);
  if (e == NB_OK && strcmp(b, a->binding) != 0) {
    snprintf(a->binding, sizeof a->binding, "%s", b);
    nb_reg_binding_query(c, a->binding, q, sizeof q);
    e = nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, q);
  }
  nb_bytes body;
  nb_bytes_init(&body);
  if (e == NB_OK && with_objects) {
    e = nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LINK_FORMAT);
    if (e == NB_OK) e = nb_reg_objects(c, &body);
    nb_bytes_fit(&body);
    nb_coap_msg_set_payload(&m, body.data, body.len);
  }
  if (e == NB_OK)
    e = nb_coap_ep_request(c->ep, &a->addr, &m, true, nb_reg_update_cb, a, now, &a->req);
  nb_bytes_free(&body);
  if (e != NB_OK) return e;
  a->state = NB_CLIENT_SRV_UPDATING;
  a->req_at = now;
  a->unreachable = false;
  a->update_pending = a->objects_changed = false;
  NB_LOG_INFO(NB_CLIENT_LOG, "event=update ssid=%u location=%s objects=%d", a->ssid, a->location,
              with_objects);
  return NB_OK;
}

static void nb_reg_dereg_cb(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                            nb_time_ms now) {
  nb_account *a = user;
  (void)last;
  if (err == NB_ERR_CANCELLED) return; /* we dropped it on purpose */
  a->req = 0;
  a->state = NB_CLIENT_SRV_DEREGISTERED;
  if (err == NB_OK && (!resp || resp->code != NB_COAP_DELETED)) err = NB_ERR_STATE;
  NB_LOG_INFO(NB_CLIENT_LOG, "event=deregistered ssid=%u err=%s", a->ssid, nb_err_name(err));
  nb_client_emit(a->client, NB_CLIENT_EV_DEREGISTERED, a->ssid, err, now);
}

nb_err nb_reg_deregister(nb_client *c, nb_account *a, nb_time_ms now) {
  nb_rep_drop_server(c, a->ssid);
  a->asleep = a->flush_on_update = false; /* the De-register wakes the radio */
  if (a->req) {
    nb_coap_req_id id = a->req;
    a->req = 0;
    nb_coap_ep_cancel(c->ep, id, false, now);
  }
  bool had_reg = a->state == NB_CLIENT_SRV_REGISTERED || a->state == NB_CLIENT_SRV_UPDATING;
  if (!had_reg) {
    a->state = NB_CLIENT_SRV_DEREGISTERED;
    return NB_OK;
  }
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_DELETE, 0);
  nb_err e = nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, a->location);
  a->state = NB_CLIENT_SRV_DEREGISTERING;
  if (e == NB_OK)
    e = nb_coap_ep_request(c->ep, &a->addr, &m, true, nb_reg_dereg_cb, a, now, &a->req);
  if (e != NB_OK) a->state = NB_CLIENT_SRV_DEREGISTERED;
  return e;
}

void nb_reg_tick(nb_client *c, nb_account *a, nb_time_ms now) {
  if (c->deregistering) return;
  if (a->state == NB_CLIENT_SRV_WAIT_RETRY && now >= a->retry_at) {
    if (nb_reg_send_register(c, a, now) != NB_OK) nb_reg_failed(c, a, NB_ERR_NOMEM, now);
  } else if (a->state == NB_CLIENT_SRV_REGISTERED && (a->update_pending || now >= a->next_update)) {
    nb_reg_update(c, a, a->objects_changed, now);
  }
  nb_q_tick(c, a, now);
}

static nb_account *nb_reg_in_flight(nb_client *c, const nb_addr *peer, nb_coap_req_id id) {
  for (size_t i = 0; i < c->nacc; i++) {
    nb_account *a = c->acc[i];
    bool reg = a->state == NB_CLIENT_SRV_REGISTERING || a->state == NB_CLIENT_SRV_UPDATING;
    if (reg && a->req && (!id || a->req == id) && nb_addr_equal(&a->addr, peer)) return a;
  }
  return NULL;
}

void nb_reg_retransmit(nb_client *c, const nb_addr *peer, nb_coap_req_id id, unsigned n,
                       nb_time_ms next_ms, nb_time_ms now) {
  nb_account *a = id ? nb_reg_in_flight(c, peer, id) : NULL;
  if (!a) return;
  bool reg = a->state == NB_CLIENT_SRV_REGISTERING;
  /* One line per attempt (four at most with the CoAP defaults), so a device that cannot reach
   * its server says so while it tries, not only when it gives up. */
  NB_LOG_INFO(NB_CLIENT_LOG,
              "event=%s-retransmit ssid=%u server=%s retransmission=%u no_answer_ms=%lld "
              "next_in_ms=%lld%s",
              reg ? "register" : "update", a->ssid, nb_reg_uri(c, a), n,
              (long long)(now - a->req_at), (long long)next_ms,
              a->unreachable ? " icmp=unreachable" : "");
  /* Nothing from a DTLS server since the request went: the retransmission goes over a new
   * handshake. A server that restarted has no session to decrypt the old one with (and, its
   * registrations kept, answers the Update at once); one that kept it replaces it. */
  if (n == 1 && nb_tr_silent_since(c, peer, a->req_at))
    nb_tr_renew(c, peer, "no answer to the first transmission", now);
}

void nb_reg_unreachable(nb_client *c, const nb_addr *peer, const char *reason) {
  nb_account *a = nb_reg_in_flight(c, peer, 0);
  if (!a || a->unreachable) return;
  a->unreachable = true;
  NB_LOG_WARN(NB_CLIENT_LOG, "event=server-unreachable ssid=%u server=%s during=%s reason=\"%s\"",
              a->ssid, nb_reg_uri(c, a),
              a->state == NB_CLIENT_SRV_REGISTERING ? "register" : "update", reason);
}

nb_time_ms nb_reg_deadline(const nb_client *c, const nb_account *a) {
  if (c->deregistering) return NB_TIME_NEVER;
  if (a->state == NB_CLIENT_SRV_WAIT_RETRY) return a->retry_at;
  if (a->state == NB_CLIENT_SRV_REGISTERED)
    return a->update_pending ? 0 : nb_time_min(a->next_update, nb_q_deadline(c, a));
  return NB_TIME_NEVER;
}

void nb_reg_transport_failed(nb_client *c, nb_account *a, nb_err err, nb_time_ms now) {
  if (!a->req) return;
  nb_coap_req_id id = a->req;
  a->req = 0;
  nb_coap_ep_cancel(c->ep, id, false, now);
  switch (a->state) {
    case NB_CLIENT_SRV_REGISTERING:
      NB_LOG_WARN(NB_CLIENT_LOG, "event=register-failed ssid=%u err=%s code=-", a->ssid,
                  nb_err_name(err));
      nb_reg_failed(c, a, err, now);
      break;
    case NB_CLIENT_SRV_UPDATING:
      nb_reg_update_cb(a, err, NULL, true, now);
      break;
    case NB_CLIENT_SRV_DEREGISTERING:
      nb_reg_dereg_cb(a, err, NULL, true, now);
      break;
    default:
      break;
  }
}
