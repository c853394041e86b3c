/* The CoAP layer's two ways of moving a large body one block at a time (for firmware packages):
 * a server handler that takes a Block1 upload's blocks itself (nb_coap_ep_set_block1_stream:
 * each block reaches it with its Block1 and Size1, no body limit, its 2.31 carries the Block1
 * echo with M set, a request the predicate declines is reassembled as before), and a client
 * request for one Block2 block (nb_coap_ep_request_block2: that block is delivered with its
 * Block2 option and no further block is fetched). Over the simulated network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coap/block.h"
#include "coap/endpoint.h"
#include "coaptest.h"
#include "simnet.h"

#define BODY_LEN 5000

typedef struct {
  int blocks;      /* blocks the handler took */
  size_t got;      /* bytes, in order */
  uint32_t size1;  /* Size1 of block 0 */
  bool order_ok;   /* each block at the offset expected */
  int whole_calls; /* requests that came reassembled */
  size_t whole_len;
  const uint8_t *body; /* what the client sends */
} sink;

static bool streams(void *user, const nb_addr *peer, const nb_coap_msg *req) {
  (void)user, (void)peer;
  char path[32];
  return nb_coap_msg_get_path(req, NB_COAP_OPT_URI_PATH, path, sizeof path) == NB_OK &&
         strcmp(path, "/stream") == 0;
}

static void handler(void *user, nb_coap_exchange *ex, const nb_addr *peer, const nb_coap_msg *req,
                    nb_time_ms now) {
  sink *s = user;
  (void)peer;
  nb_coap_msg r;
  nb_coap_block b;
  nb_coap_msg_init(&r, NB_COAP_ACK, NB_COAP_CHANGED, 0);
  if (nb_coap_block_get(req, NB_COAP_OPT_BLOCK1, &b) != NB_OK) {
    s->whole_calls++;
    s->whole_len = req->payload_len;
    nb_coap_exchange_respond(ex, &r, now);
    return;
  }
  if (b.num == 0) nb_coap_msg_get_uint(req, NB_COAP_OPT_SIZE1, &s->size1);
  if (nb_coap_block_offset(&b) != s->got ||
      memcmp(req->payload, s->body + s->got, req->payload_len))
    s->order_ok = false;
  s->blocks++;
  s->got += req->payload_len;
  if (b.more) r.code = NB_COAP_CONTINUE;
  nb_coap_exchange_respond(ex, &r, now);
}

static void test_block1_stream(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(3);
  nb_addr sa = nb_simnet_addr(1, 5683), ca = nb_simnet_addr(2, 5683);
  nb_coap_ep_config scfg;
  nb_coap_ep_config_default(&scfg);
  scfg.max_body = 2048; /* smaller than the body: a streamed upload has no such limit */
  nb_coap_ep *srv, *cli;
  nb_simnet_add_coap(net, &sa, &scfg, &srv);
  nb_simnet_add_coap(net, &ca, NULL, &cli);
  uint8_t *body = nb_ct_body(BODY_LEN, 7);
  sink s = {.order_ok = true, .body = body};
  nb_coap_ep_set_handler(srv, handler, &s);
  nb_coap_ep_set_block1_stream(srv, streams, &s);
  nb_coap_msg m;
  nb_ct_request(&m, NB_COAP_PUT, "/stream", body, BODY_LEN);
  nb_ct_resp r;
  memset(&r, 0, sizeof r);
  assert_int_equal(nb_coap_ep_request(cli, &sa, &m, true, nb_ct_resp_cb, &r, 0, NULL), NB_OK);
  nb_simnet_run_until_cond(net, 60000, nb_ct_resp_done, &r);
  assert_int_equal(r.err[0], NB_OK);
  assert_int_equal(r.code[0], NB_COAP_CHANGED);
  assert_int_equal(s.blocks, 5);
  assert_int_equal(s.got, BODY_LEN);
  assert_int_equal(s.size1, BODY_LEN);
  assert_true(s.order_ok);
  nb_ct_resp_free(&r);
  /* Another path: reassembled by the layer, and bounded by max_body (4.13). */
  memset(&r, 0, sizeof r);
  nb_ct_request(&m, NB_COAP_PUT, "/other", body, 2000);
  assert_int_equal(nb_coap_ep_request(cli, &sa, &m, true, nb_ct_resp_cb, &r, 1, NULL), NB_OK);
  nb_simnet_run_until_cond(net, 120000, nb_ct_resp_done, &r);
  assert_int_equal(r.code[0], NB_COAP_CHANGED);
  assert_int_equal(s.whole_calls, 1);
  assert_int_equal(s.whole_len, 2000);
  nb_ct_resp_free(&r);
  memset(&r, 0, sizeof r);
  nb_ct_request(&m, NB_COAP_PUT, "/other", body, BODY_LEN);
  assert_int_equal(nb_coap_ep_request(cli, &sa, &m, true, nb_ct_resp_cb, &r, 2, NULL), NB_OK);
  nb_simnet_run_until_cond(net, 180000, nb_ct_resp_done, &r);
  assert_int_equal(r.code[r.calls - 1], NB_COAP_REQUEST_ENTITY_TOO_LARGE);
  nb_ct_resp_free(&r);
  free(body);
  nb_simnet_free(net);
}

/* One block asked for: delivered as it came, nothing more fetched. */
static void test_request_block2(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(4);
  nb_addr sa = nb_simnet_addr(1, 5683), ca = nb_simnet_addr(2, 5683);
  nb_coap_ep *srv, *cli;
  nb_simnet_add_coap(net, &sa, NULL, &srv);
  nb_simnet_add_coap(net, &ca, NULL, &cli);
  uint8_t *body = nb_ct_body(BODY_LEN, 9);
  nb_ct_server s = {
      .mode = NB_CT_ANSWER_NOW, .code = NB_COAP_CONTENT, .body = body, .body_len = BODY_LEN};
  nb_coap_ep_set_handler(srv, nb_ct_handler, &s);
  nb_coap_msg m;
  nb_ct_request(&m, NB_COAP_GET, "/big", NULL, 0);
  nb_ct_resp r;
  memset(&r, 0, sizeof r);
  assert_int_equal(nb_coap_ep_request_block2(cli, &sa, &m, 2, 5, nb_ct_resp_cb, &r, 0, NULL),
                   NB_OK);
  nb_simnet_run_until_cond(net, 60000, nb_ct_resp_done, &r);
  nb_simnet_run_until(net, nb_simnet_now(net) + 5000);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.err[0], NB_OK);
  assert_int_equal(r.code[0], NB_COAP_CONTENT);
  assert_int_equal(r.payload_len, 512);
  assert_memory_equal(r.payload, body + 1024, 512);
  assert_int_equal(s.calls, 1); /* one request reached the server */
  nb_ct_resp_free(&r);
  /* A Block1 body or a bad block number is refused. */
  nb_ct_request(&m, NB_COAP_PUT, "/big", body, BODY_LEN);
  assert_int_equal(nb_coap_ep_request_block2(cli, &sa, &m, 0, 6, nb_ct_resp_cb, &r, 1, NULL),
                   NB_ERR_INVAL);
  nb_ct_request(&m, NB_COAP_GET, "/big", NULL, 0);
  assert_int_equal(nb_coap_ep_request_block2(cli, &sa, &m, 1u << 20, 6, nb_ct_resp_cb, &r, 1, NULL),
                   NB_ERR_INVAL);
  nb_ct_server_free(&s);
  free(body);
  nb_simnet_free(net);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_block1_stream),
      cmocka_unit_test(test_request_block2),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
