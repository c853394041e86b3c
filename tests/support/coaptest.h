/* Helpers for CoAP layer tests: a response collector usable as nb_coap_response_fn, a
 * request handler with scripted behaviour, and shortcuts to craft and read datagrams. */
#ifndef NB_TEST_COAPTEST_H
#define NB_TEST_COAPTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coap/endpoint.h"
#include "simnet.h"

#define NB_CT_MAX_EVENTS 256

/* Everything a response callback saw. */
typedef struct {
  int calls;
  int finals; /* calls with last=true */
  nb_err err[NB_CT_MAX_EVENTS];
  bool last[NB_CT_MAX_EVENTS];
  nb_time_ms at[NB_CT_MAX_EVENTS];
  uint8_t code[NB_CT_MAX_EVENTS];
  bool has_observe[NB_CT_MAX_EVENTS];
  uint32_t observe[NB_CT_MAX_EVENTS];
  size_t len[NB_CT_MAX_EVENTS];
  uint8_t *payload; /* payload of the latest response with one (heap) */
  size_t payload_len;
} nb_ct_resp;

void nb_ct_resp_cb(void *user, nb_err err, const nb_coap_msg *resp, bool last, nb_time_ms now);
/* For nb_simnet_run_until_cond: true once a final callback came. */
bool nb_ct_resp_done(void *user);
void nb_ct_resp_free(nb_ct_resp *r);

/* A server handler: counts requests, keeps the latest body, answers per `mode`. */
typedef enum {
  NB_CT_ANSWER_NOW,   /* piggybacked: code + body */
  NB_CT_ANSWER_LATER, /* keeps the exchange in `pending` for the test to answer */
  NB_CT_OBSERVE,      /* accepts Observe=0 registrations, answers now */
} nb_ct_mode;

typedef struct {
  nb_ct_mode mode;
  uint8_t code;
  const uint8_t *body;
  size_t body_len;
  int calls;
  uint8_t last_method;
  uint8_t *req_body; /* latest request payload (heap) */
  size_t req_len;
  nb_coap_exchange *pending[64];
  int npending;
  nb_coap_observer *obs[64];
  int nobs;
  int gone;
  nb_err gone_why;
  nb_coap_ep *ep;
} nb_ct_server;

void nb_ct_handler(void *user, nb_coap_exchange *ex, const nb_addr *peer, const nb_coap_msg *req,
                   nb_time_ms now);
void nb_ct_server_free(nb_ct_server *s);

/* GET (or another method) for a path, optional payload and token. */
void nb_ct_request(nb_coap_msg *m, uint8_t code, const char *path, const void *payload, size_t len);
/* Serializes m into buf; returns the length (asserts on failure). */
size_t nb_ct_serialize(const nb_coap_msg *m, uint8_t *buf, size_t cap);
/* Parses the i-th datagram a recorder got (asserts it parses). */
void nb_ct_parse_record(const nb_simnet_recorder *rec, size_t i, nb_coap_msg *out);
/* Deterministic test body: byte i is a function of i and seed. */
uint8_t *nb_ct_body(size_t len, uint32_t seed);

#endif
