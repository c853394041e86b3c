/* CoAP test helpers: response collector, scripted handler, datagram shortcuts. */
#include "coaptest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

void nb_ct_resp_cb(void *user, nb_err err, const nb_coap_msg *resp, bool last, nb_time_ms now) {
  nb_ct_resp *r = user;
  int i = r->calls < NB_CT_MAX_EVENTS ? r->calls : NB_CT_MAX_EVENTS - 1;
  r->calls++;
  if (last) r->finals++;
  r->err[i] = err;
  r->last[i] = last;
  r->at[i] = now;
  r->code[i] = resp ? resp->code : 0;
  r->has_observe[i] =
      resp && nb_coap_msg_get_uint(resp, NB_COAP_OPT_OBSERVE, &r->observe[i]) == NB_OK;
  r->len[i] = resp ? resp->payload_len : 0;
  if (resp && resp->payload_len) {
    free(r->payload);
    r->payload = malloc(resp->payload_len);
    assert_non_null(r->payload);
    memcpy(r->payload, resp->payload, resp->payload_len);
    r->payload_len = resp->payload_len;
  }
}

bool nb_ct_resp_done(void *user) { return ((nb_ct_resp *)user)->finals > 0; }

void nb_ct_resp_free(nb_ct_resp *r) {
  free(r->payload);
  r->payload = NULL;
}

static void nb_ct_gone(void *user, nb_coap_observer *obs, nb_err why) {
  nb_ct_server *s = user;
  s->gone++;
  s->gone_why = why;
  for (int i = 0; i < s->nobs; i++) {
    if (s->obs[i] == obs) s->obs[i] = NULL;
  }
}

void nb_ct_handler(void *user, nb_coap_exchange *ex, const nb_addr *peer, const nb_coap_msg *req,
                   nb_time_ms now) {
  nb_ct_server *s = user;
  (void)peer;
  s->calls++;
  s->last_method = req->code;
  free(s->req_body);
  s->req_body = malloc(req->payload_len ? req->payload_len : 1);
  assert_non_null(s->req_body);
  if (req->payload_len) memcpy(s->req_body, req->payload, req->payload_len);
  s->req_len = req->payload_len;
  if (s->mode == NB_CT_ANSWER_LATER) {
    assert_true(s->npending < 64);
    s->pending[s->npending++] = ex;
    return;
  }
  uint32_t ov;
  if (s->mode == NB_CT_OBSERVE && nb_coap_msg_get_uint(req, NB_COAP_OPT_OBSERVE, &ov) == NB_OK &&
      ov == 0) {
    nb_coap_observer *obs;
    assert_int_equal(nb_coap_exchange_observe(ex, nb_ct_gone, s, &obs), NB_OK);
    assert_true(s->nobs < 64);
    s->obs[s->nobs++] = obs;
  }
  nb_coap_msg resp;
  nb_coap_msg_init(&resp, NB_COAP_ACK, s->code ? s->code : NB_COAP_CONTENT, 0);
  nb_coap_msg_set_payload(&resp, s->body, s->body_len);
  assert_int_equal(nb_coap_exchange_respond(ex, &resp, now), NB_OK);
}

void nb_ct_server_free(nb_ct_server *s) {
  free(s->req_body);
  s->req_body = NULL;
}

void nb_ct_request(nb_coap_msg *m, uint8_t code, const char *path, const void *payload,
                   size_t len) {
  nb_coap_msg_init(m, NB_COAP_CON, code, 0);
  assert_int_equal(nb_coap_msg_add_path(m, NB_COAP_OPT_URI_PATH, path), NB_OK);
  nb_coap_msg_set_payload(m, payload, len);
}

size_t nb_ct_serialize(const nb_coap_msg *m, uint8_t *buf, size_t cap) {
  size_t len = 0;
  assert_int_equal(nb_coap_serialize(m, buf, cap, &len), NB_OK);
  return len;
}

void nb_ct_parse_record(const nb_simnet_recorder *rec, size_t i, nb_coap_msg *out) {
  const nb_simnet_record *r = nb_simnet_recorder_get(rec, i);
  assert_non_null(r);
  assert_int_equal(nb_coap_parse(r->data, r->len, out), NB_OK);
}

uint8_t *nb_ct_body(size_t len, uint32_t seed) {
  uint8_t *b = malloc(len ? len : 1);
  assert_non_null(b);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b[i] = (uint8_t)(x + i);
  }
  return b;
}
