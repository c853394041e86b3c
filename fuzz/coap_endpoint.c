/* libFuzzer: datagram sequences into a live CoAP endpoint (server and client roles at once).
 * Input: records of [peer:1][advance:1][len:2][bytes], each fed with the clock moved on.
 * The handler answers, defers, accepts observations and sends large bodies; some records
 * also make the endpoint send requests, so responses, RSTs and block transfers from the
 * fuzzer meet real client state. Oracle: no crash, no leak, no sanitizer report. */
#include <stdint.h>
#include <string.h>

#include "coap/endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Deterministic randomness so tokens and MIDs repeat between runs of the same input. */
static nb_err fuzz_random(void *user, void *buf, size_t len) {
  uint64_t *s = user;
  for (size_t i = 0; i < len; i++) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    ((uint8_t *)buf)[i] = (uint8_t)*s;
  }
  return NB_OK;
}

static void fuzz_send(void *user, const nb_addr *peer, const uint8_t *d, size_t len) {
  (void)user, (void)peer, (void)d, (void)len;
}

static nb_coap_exchange *fuzz_deferred;
static uint8_t fuzz_body[3000];

static nb_coap_observer *fuzz_observer;

static void fuzz_gone(void *user, nb_coap_observer *obs, nb_err why) {
  (void)user, (void)why;
  if (obs == fuzz_observer) fuzz_observer = NULL;
}

static void fuzz_notify(nb_coap_ep *ep, uint8_t kind, nb_time_ms now) {
  nb_coap_msg n;
  nb_coap_msg_init(&n, 0, NB_COAP_CONTENT, 0);
  nb_coap_msg_set_payload(&n, fuzz_body, (kind & 1) ? sizeof fuzz_body : 8);
  nb_coap_ep_notify(ep, fuzz_observer, &n, (kind & 2) != 0, now);
}

static void fuzz_handler(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                         const nb_coap_msg *req, nb_time_ms now) {
  (void)user, (void)peer;
  nb_coap_msg resp;
  nb_coap_msg_init(&resp, 0, NB_COAP_CONTENT, 0);
  switch (req->mid % 4) {
    case 0: /* defer: answered by the next request, as a separate response */
      if (fuzz_deferred) nb_coap_exchange_respond(fuzz_deferred, &resp, now);
      fuzz_deferred = ex;
      return;
    case 1: /* large body: block-wise */
      nb_coap_msg_set_payload(&resp, fuzz_body, sizeof fuzz_body);
      break;
    case 2: { /* observation when asked for */
      nb_coap_observer *obs;
      if (nb_coap_msg_find(req, NB_COAP_OPT_OBSERVE))
        nb_coap_exchange_observe(ex, fuzz_gone, NULL, &obs);
      break;
    }
    default:
      nb_coap_msg_set_payload(&resp, req->payload, req->payload_len);
  }
  nb_coap_exchange_respond(ex, &resp, now);
}

static void fuzz_response(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                          nb_time_ms now) {
  (void)user, (void)err, (void)resp, (void)last, (void)now;
}

static void fuzz_client_request(nb_coap_ep *ep, const nb_addr *peer, uint8_t kind, nb_time_ms now) {
  nb_coap_msg req;
  nb_coap_req_id id;
  nb_coap_msg_init(&req, 0, (kind & 1) ? NB_COAP_PUT : NB_COAP_GET, 0);
  nb_coap_msg_add_path(&req, NB_COAP_OPT_URI_PATH, "/x");
  if (kind & 2) nb_coap_msg_add_uint(&req, NB_COAP_OPT_OBSERVE, 0);
  if (kind & 1) nb_coap_msg_set_payload(&req, fuzz_body, sizeof fuzz_body); /* Block1 */
  nb_coap_ep_request(ep, peer, &req, (kind & 4) != 0, fuzz_response, NULL, now, &id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  nb_coap_ep_config cfg;
  nb_coap_ep_config_default(&cfg);
  cfg.random = fuzz_random;
  cfg.random_user = &seed;
  cfg.max_body = 8192;
  nb_coap_ep *ep;
  if (nb_coap_ep_new(&cfg, fuzz_send, NULL, &ep) != NB_OK) return 0;
  nb_coap_ep_set_handler(ep, fuzz_handler, NULL);
  nb_addr peers[4];
  for (int i = 0; i < 4; i++) nb_addr_parse("127.0.0.1", (uint16_t)(5683 + i), &peers[i]);
  nb_time_ms now = 1000;
  while (size >= 4) {
    uint8_t head = data[0];
    now += (nb_time_ms)data[1] * 250;
    size_t len = (size_t)(data[2] << 8 | data[3]);
    data += 4, size -= 4;
    if (len > size) len = size;
    const nb_addr *peer = &peers[head & 3];
    if (head & 0x80) fuzz_client_request(ep, peer, head >> 4, now);
    if ((head & 0x40) && fuzz_observer) fuzz_notify(ep, head >> 2, now);
    nb_coap_ep_receive(ep, peer, data, len, now);
    nb_coap_ep_tick(ep, now);
    data += len, size -= len;
  }
  now += 400000; /* let every timer run out */
  nb_coap_ep_tick(ep, now);
  if (fuzz_deferred) {
    nb_coap_exchange_free(fuzz_deferred);
    fuzz_deferred = NULL;
  }
  nb_coap_ep_free(ep);
  fuzz_observer = NULL;
  return 0;
}
