/* The two block-wise additions of the CoAP layer for bodies that never sit whole in memory
 * (a firmware image read from a file): a client request carrying its own Block1 goes as given
 * and its 2.31 or 4.13 comes back to the caller (who follows the peer's smaller SZX), and a
 * server answer cut by the application (nb_coap_exchange_respond_block) goes as given, one
 * handler call per block, with nothing cached. Over the simulated network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coap/block.h"
#include "coap/endpoint.h"
#include "simnet.h"

#define BODY 3000

static uint8_t body[BODY];

typedef struct {
  int calls;
  size_t got;
  uint8_t data[BODY];
  bool blockwise_served; /* Block2 answers cut here */
} server_state;

static void handler(void *user, nb_coap_exchange *ex, const nb_addr *peer, const nb_coap_msg *req,
                    nb_time_ms now) {
  server_state *s = user;
  (void)peer;
  s->calls++;
  nb_coap_msg m;
  if (req->code == NB_COAP_PUT) { /* reassembled by the layer */
    memcpy(s->data, req->payload, req->payload_len);
    s->got = req->payload_len;
    nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_CHANGED, 0);
    nb_coap_exchange_respond(ex, &m, now);
    return;
  }
  nb_coap_block want = {0, false, 6};
  nb_coap_block_get(req, NB_COAP_OPT_BLOCK2, &want);
  size_t size = nb_coap_block_size(want.szx), off = want.num * size;
  size_t n = BODY - off < size ? BODY - off : size;
  nb_coap_block b = {want.num, off + n < BODY, want.szx};
  nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_CONTENT, 0);
  nb_coap_block_add(&m, NB_COAP_OPT_BLOCK2, &b);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_SIZE2, BODY);
  nb_coap_msg_set_payload(&m, body + off, n);
  assert_int_equal(nb_coap_exchange_respond_block(ex, &m, now), NB_OK);
}

typedef struct {
  int calls;
  nb_err err;
  uint8_t code;
  bool has_b1;
  nb_coap_block b1;
  size_t len;
  uint8_t data[BODY];
} answer;

static void on_answer(void *user, nb_err err, const nb_coap_msg *resp, bool last, nb_time_ms now) {
  answer *a = user;
  (void)last, (void)now;
  a->calls++;
  a->err = err;
  a->code = resp ? resp->code : 0;
  a->has_b1 = resp && nb_coap_block_get(resp, NB_COAP_OPT_BLOCK1, &a->b1) == NB_OK;
  a->len = resp ? resp->payload_len : 0;
  if (resp && resp->payload_len && resp->payload_len <= BODY)
    memcpy(a->data, resp->payload, resp->payload_len);
}

static bool answered(void *user) { return ((answer *)user)->calls > 0; }

typedef struct {
  nb_simnet *net;
  nb_coap_ep *cli, *srv;
  nb_addr acli, asrv;
  server_state s;
} pair;

static void pair_setup(pair *p, uint8_t server_szx) {
  memset(p, 0, sizeof *p);
  for (size_t i = 0; i < BODY; i++) body[i] = (uint8_t)(i * 13 + 7);
  p->net = nb_simnet_new(7);
  nb_coap_ep_config c;
  nb_coap_ep_config_default(&c);
  c.random = NULL;
  p->acli = nb_simnet_addr(1, 40000);
  p->asrv = nb_simnet_addr(2, 5683);
  assert_non_null(nb_simnet_add_coap(p->net, &p->acli, &c, &p->cli));
  c.block_szx = server_szx;
  assert_non_null(nb_simnet_add_coap(p->net, &p->asrv, &c, &p->srv));
  nb_coap_ep_set_handler(p->srv, handler, &p->s);
}

/* One block of the body from offset at szx; the answer. */
static answer send_block(pair *p, size_t off, uint8_t szx) {
  size_t size = nb_coap_block_size(szx), n = BODY - off < size ? BODY - off : size;
  nb_coap_block b = {(uint32_t)(off / size), off + n < BODY, szx};
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_PUT, 0);
  nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/5/0/0");
  nb_coap_block_add(&m, NB_COAP_OPT_BLOCK1, &b);
  if (b.num == 0) nb_coap_msg_add_uint(&m, NB_COAP_OPT_SIZE1, BODY);
  nb_coap_msg_set_payload(&m, body + off, n);
  answer a;
  memset(&a, 0, sizeof a);
  nb_time_ms now = nb_simnet_now(p->net);
  assert_int_equal(nb_coap_ep_request(p->cli, &p->asrv, &m, true, on_answer, &a, now, NULL), NB_OK);
  assert_true(nb_simnet_run_until_cond(p->net, now + 60000, answered, &a));
  return a;
}

/* Blocks of 1024 to a server that prefers 256: its first 2.31 says so and reaches us; from
 * then on 256-byte blocks; the handler sees the whole body once. */
static void test_caller_block1(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 4);
  answer a = send_block(&p, 0, 6);
  assert_int_equal(a.err, NB_OK);
  assert_int_equal(a.code, NB_COAP_CONTINUE); /* given to us, not consumed by the layer */
  assert_true(a.has_b1);
  assert_int_equal(a.b1.szx, 4);
  assert_int_equal(p.s.calls, 0);
  size_t off = 1024, blocks = 1;
  for (;;) {
    a = send_block(&p, off, 4);
    blocks++;
    off += 256;
    if (a.code != NB_COAP_CONTINUE) break;
    assert_true(a.has_b1);
  }
  assert_int_equal(a.code, NB_COAP_CHANGED);
  assert_int_equal(blocks, 1 + (BODY - 1024 + 255) / 256);
  assert_int_equal(p.s.calls, 1);
  assert_int_equal(p.s.got, BODY);
  assert_memory_equal(p.s.data, body, BODY);
  nb_simnet_free(p.net);
}

/* A body cut by the handler: the client's layer fetches the blocks and gets it whole; the
 * handler ran once per block (nothing was cached, it read each block itself). */
static void test_respond_block(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 6);
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_GET, 0);
  nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/fw/x");
  answer a;
  memset(&a, 0, sizeof a);
  nb_time_ms now = nb_simnet_now(p.net);
  assert_int_equal(nb_coap_ep_request(p.cli, &p.asrv, &m, true, on_answer, &a, now, NULL), NB_OK);
  assert_true(nb_simnet_run_until_cond(p.net, now + 60000, answered, &a));
  assert_int_equal(a.code, NB_COAP_CONTENT);
  assert_int_equal(a.len, BODY);
  assert_memory_equal(a.data, body, BODY);
  assert_int_equal(p.s.calls, (BODY + 1023) / 1024);
  nb_simnet_free(p.net);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_caller_block1),
      cmocka_unit_test(test_respond_block),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
