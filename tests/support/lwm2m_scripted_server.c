/* Scripted LwM2M server for client tests (see the header). */
#include "lwm2m_scripted_server.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void nb_ss_copy_query(const nb_coap_msg *req, const char *key, char *buf, size_t cap) {
  if (nb_coap_msg_get_query(req, NB_COAP_OPT_URI_QUERY, key, buf, cap) != NB_OK) buf[0] = 0;
}

static void nb_ss_keep_payload(nb_ss *s, const nb_coap_msg *req) {
  size_t n = req->payload_len < sizeof s->objects - 1 ? req->payload_len : sizeof s->objects - 1;
  memcpy(s->objects, req->payload, n);
  s->objects[n] = 0;
}

static void nb_ss_answer_code(nb_coap_exchange *ex, uint8_t code, const char *location,
                              nb_time_ms now) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, code, 0);
  if (location) nb_coap_msg_add_path(&m, NB_COAP_OPT_LOCATION_PATH, location);
  nb_coap_exchange_respond(ex, &m, now);
}

static void nb_ss_handle(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                         const nb_coap_msg *req, nb_time_ms now) {
  nb_ss *s = user;
  char path[128];
  nb_coap_msg_get_path(req, NB_COAP_OPT_URI_PATH, path, sizeof path);
  if (req->code == NB_COAP_GET && s->file_path && strcmp(path, s->file_path) == 0) {
    s->file_gets++;
    nb_coap_msg m;
    nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_CONTENT, 0);
    nb_coap_msg_set_payload(&m, s->file, s->file_len);
    nb_coap_exchange_respond(ex, &m, now);
    return;
  }
  if (req->code == NB_COAP_POST && strcmp(path, "/rd") == 0) {
    if (s->registers < NB_SS_MAX_EVENTS) s->register_at[s->registers] = now;
    s->registers++;
    s->client = *peer;
    nb_ss_copy_query(req, "ep", s->ep_name, sizeof s->ep_name);
    nb_ss_copy_query(req, "lt", s->lt, sizeof s->lt);
    nb_ss_copy_query(req, "lwm2m", s->lwm2m, sizeof s->lwm2m);
    nb_ss_copy_query(req, "b", s->binding, sizeof s->binding);
    char tmp[4];
    s->q = nb_coap_msg_get_query(req, NB_COAP_OPT_URI_QUERY, "Q", tmp, sizeof tmp) == NB_OK;
    nb_ss_keep_payload(s, req);
    if (s->register_code && s->register_code != NB_COAP_CREATED)
      return nb_ss_answer_code(ex, s->register_code, NULL, now);
    char loc[32];
    snprintf(loc, sizeof loc, "/rd/%d", ++s->location_seq);
    return nb_ss_answer_code(ex, NB_COAP_CREATED, loc, now);
  }
  if (req->code == NB_COAP_POST && strcmp(path, "/bs") == 0) {
    s->bs_requests++;
    s->client = *peer;
    nb_ss_copy_query(req, "ep", s->ep_name, sizeof s->ep_name);
    nb_ss_copy_query(req, "pct", s->pct, sizeof s->pct);
    return nb_ss_answer_code(ex, NB_COAP_CHANGED, NULL, now);
  }
  if (req->code == NB_COAP_POST && strcmp(path, "/dp") == 0) {
    s->sends++;
    free(s->send_body);
    s->send_body = malloc(req->payload_len + 1);
    assert_non_null(s->send_body);
    if (req->payload_len) memcpy(s->send_body, req->payload, req->payload_len);
    s->send_len = req->payload_len;
    s->send_cf = nb_coap_msg_content_format(req);
    return nb_ss_answer_code(ex, NB_COAP_CHANGED, NULL, now);
  }
  if (strncmp(path, "/rd/", 4) == 0 && req->code == NB_COAP_POST) {
    if (s->updates < NB_SS_MAX_EVENTS) s->update_at[s->updates] = now;
    s->updates++;
    s->update_query[0] = 0;
    for (size_t i = 0; i < req->option_count; i++) {
      const nb_coap_option *o = &req->options[i];
      if (o->number != NB_COAP_OPT_URI_QUERY) continue;
      size_t l = strlen(s->update_query);
      snprintf(s->update_query + l, sizeof s->update_query - l, "%s%.*s", l ? "&" : "", (int)o->len,
               (const char *)o->value);
    }
    if (req->payload_len) nb_ss_keep_payload(s, req);
    return nb_ss_answer_code(ex, s->update_code ? s->update_code : NB_COAP_CHANGED, NULL, now);
  }
  if (strncmp(path, "/rd/", 4) == 0 && req->code == NB_COAP_DELETE) {
    s->deregisters++;
    return nb_ss_answer_code(ex, NB_COAP_DELETED, NULL, now);
  }
  nb_ss_answer_code(ex, NB_COAP_NOT_FOUND, NULL, now);
}

void nb_ss_init(nb_ss *s, nb_simnet *net, const nb_addr *addr) {
  memset(s, 0, sizeof *s);
  s->net = net;
  s->addr = *addr;
  s->node = nb_simnet_add_coap(net, addr, NULL, &s->ep);
  assert_non_null(s->node);
  nb_coap_ep_set_handler(s->ep, nb_ss_handle, s);
}

void nb_ss_free(nb_ss *s) {
  free(s->send_body);
  s->send_body = NULL;
  if (s->dtls) {
    nb_dtls_server_free(s->dtls);
    nb_coap_ep_free(s->ep);
    s->dtls = NULL;
    s->ep = NULL;
  }
}

/* ---- DTLS mode: simnet node -> DTLS server context -> CoAP endpoint ---- */

static void nb_ss_dtls_send(void *user, const nb_addr *peer, const uint8_t *d, size_t n) {
  nb_simnet_send(((nb_ss *)user)->node, peer, d, n);
}
static void nb_ss_dtls_recv(void *user, const nb_addr *peer, const uint8_t *d, size_t n,
                            nb_time_ms now) {
  nb_coap_ep_receive(((nb_ss *)user)->ep, peer, d, n, now);
}
static void nb_ss_dtls_event(void *user, const nb_addr *peer, nb_dtls_session *sess,
                             const nb_dtls_event *ev, nb_time_ms now) {
  nb_ss *s = user;
  (void)peer;
  (void)now;
  if (ev->type == NB_DTLS_EV_ESTABLISHED) {
    s->dtls_established++;
    s->peer = *nb_dtls_session_peer(sess);
  } else if (ev->type == NB_DTLS_EV_FAILED) {
    s->dtls_failed++;
  }
}
static void nb_ss_coap_send(void *user, const nb_addr *peer, const uint8_t *d, size_t n) {
  nb_dtls_server_send(((nb_ss *)user)->dtls, peer, d, n);
}
static void nb_ss_node_receive(void *user, const nb_addr *from, const uint8_t *d, size_t n,
                               nb_time_ms now) {
  nb_dtls_server_receive(((nb_ss *)user)->dtls, from, d, n, now);
}
static nb_time_ms nb_ss_node_deadline(void *user) {
  nb_ss *s = user;
  nb_time_ms a = nb_dtls_server_next_deadline(s->dtls), b = nb_coap_ep_next_deadline(s->ep);
  return a < b ? a : b;
}
static void nb_ss_node_tick(void *user, nb_time_ms now) {
  nb_ss *s = user;
  nb_dtls_server_tick(s->dtls, now);
  nb_coap_ep_tick(s->ep, now);
}

void nb_ss_init_dtls(nb_ss *s, nb_simnet *net, const nb_addr *addr, const nb_dtls_creds *creds) {
  memset(s, 0, sizeof *s);
  s->net = net;
  s->addr = *addr;
  nb_dtls_server_config cfg;
  nb_dtls_server_config_default(&cfg);
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(net);
  nb_dtls_handlers h = {nb_ss_dtls_send, nb_ss_dtls_recv, nb_ss_dtls_event, s};
  assert_int_equal(nb_dtls_server_new(&cfg, creds, &h, &s->dtls), NB_OK);
  nb_coap_ep_config ec;
  nb_coap_ep_config_default(&ec);
  ec.random = nb_simnet_rng_fill;
  ec.random_user = nb_simnet_rng_of(net);
  assert_int_equal(nb_coap_ep_new(&ec, nb_ss_coap_send, s, &s->ep), NB_OK);
  nb_coap_ep_set_handler(s->ep, nb_ss_handle, s);
  static const nb_simnet_ops ops = {nb_ss_node_receive, nb_ss_node_deadline, nb_ss_node_tick, NULL};
  s->node = nb_simnet_add(net, addr, &ops, s);
  assert_non_null(s->node);
}

typedef struct {
  nb_ss_answer *out;
  bool done;
} nb_ss_wait;

static void nb_ss_cb(void *user, nb_err err, const nb_coap_msg *resp, bool last, nb_time_ms now) {
  nb_ss_wait *w = user;
  (void)last;
  (void)now;
  w->done = true;
  w->out->err = err;
  if (!resp) return;
  w->out->code = resp->code;
  w->out->cf = nb_coap_msg_content_format(resp);
  w->out->payload = malloc(resp->payload_len + 1);
  assert_non_null(w->out->payload);
  if (resp->payload_len) memcpy(w->out->payload, resp->payload, resp->payload_len);
  w->out->payload[resp->payload_len] = 0;
  w->out->len = resp->payload_len;
  nb_coap_msg_get_path(resp, NB_COAP_OPT_LOCATION_PATH, w->out->location, sizeof w->out->location);
}

static bool nb_ss_done(void *user) { return ((nb_ss_wait *)user)->done; }

static void nb_ss_build(nb_coap_msg *m, uint8_t method, const char *path, int cf, int accept,
                        const char *query) {
  nb_coap_msg_init(m, NB_COAP_CON, method, 0);
  assert_int_equal(nb_coap_msg_add_path(m, NB_COAP_OPT_URI_PATH, path), NB_OK);
  if (cf != NB_COAP_CF_NONE) nb_coap_msg_add_uint(m, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
  if (accept != NB_COAP_CF_NONE) nb_coap_msg_add_uint(m, NB_COAP_OPT_ACCEPT, (uint32_t)accept);
  while (query && *query) {
    char q[64];
    size_t n = strcspn(query, "&");
    assert_true(n < sizeof q);
    memcpy(q, query, n);
    q[n] = 0;
    nb_coap_msg_add_query(m, NB_COAP_OPT_URI_QUERY, q);
    query += n + (query[n] == '&');
  }
}

void nb_ss_request(nb_ss *s, uint8_t method, const char *path, int cf, int accept,
                   const char *query, const void *payload, size_t len, nb_ss_answer *out) {
  memset(out, 0, sizeof *out);
  nb_coap_msg m;
  nb_ss_build(&m, method, path, cf, accept, query);
  if (len) nb_coap_msg_set_payload(&m, payload, len);
  nb_ss_wait w = {out, false};
  nb_time_ms now = nb_simnet_now(s->net);
  assert_int_equal(nb_coap_ep_request(s->ep, &s->client, &m, true, nb_ss_cb, &w, now, NULL), NB_OK);
  assert_true(nb_simnet_run_until_cond(s->net, now + 300000, nb_ss_done, &w));
}

void nb_ss_answer_free(nb_ss_answer *a) {
  free(a->payload);
  a->payload = NULL;
}

nb_coap_req_id nb_ss_observe(nb_ss *s, uint8_t method, const char *path, int cf, int accept,
                             const void *payload, size_t len, nb_ct_resp *r) {
  nb_coap_msg m;
  nb_ss_build(&m, method, path, cf, accept, NULL);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_OBSERVE, 0);
  if (len) nb_coap_msg_set_payload(&m, payload, len);
  nb_coap_req_id id = 0;
  assert_int_equal(
      nb_coap_ep_request(s->ep, &s->client, &m, true, nb_ct_resp_cb, r, nb_simnet_now(s->net), &id),
      NB_OK);
  return id;
}
