/* Block-wise transfers (RFC 7959) between two CoAP endpoints over the simulated network:
 * 100 kB Block2 downloads and Block1 uploads over a lossy, duplicating, reordering link,
 * SZX negotiation, Size1/Size2, 4.08, 4.13, out-of-range blocks, ETag changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coap/block.h"
#include "coap/endpoint.h"
#include "coaptest.h"
#include "simnet.h"

#define PORT 5683
#define BIG 100000

static nb_coap_ep_config det_config(void) {
  nb_coap_ep_config c;
  nb_coap_ep_config_default(&c);
  c.random = NULL;
  return c;
}

typedef struct {
  nb_simnet *net;
  nb_coap_ep *cli, *srv;
  nb_addr acli, asrv;
  nb_ct_server s;
} pair;

/* At 20% loss each way a CON exchange fails all 5 default attempts with probability
 * 0.36^5 = 0.6%: over 200 block exchanges a timeout is likely, as it should be. The lossy
 * tests therefore allow more retransmissions. */
static nb_coap_ep_config patient_config(void) {
  nb_coap_ep_config c = det_config();
  c.max_retransmit = 10;
  return c;
}

static void pair_setup(pair *p, uint64_t seed, const nb_coap_ep_config *ccfg,
                       const nb_coap_ep_config *scfg) {
  memset(p, 0, sizeof *p);
  p->net = nb_simnet_new(seed);
  nb_coap_ep_config c = det_config();
  p->acli = nb_simnet_addr(1, 40000);
  p->asrv = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(p->net, &p->acli, ccfg ? ccfg : &c, &p->cli));
  assert_non_null(nb_simnet_add_coap(p->net, &p->asrv, scfg ? scfg : &c, &p->srv));
  nb_coap_ep_set_handler(p->srv, nb_ct_handler, &p->s);
}

static void pair_free(pair *p) {
  nb_simnet_free(p->net);
  nb_ct_server_free(&p->s);
}

static void lossy(pair *p) {
  nb_simnet_link l = {.drop = 0.2,
                      .duplicate = 0.1,
                      .delay_min = 5,
                      .delay_max = 80,
                      .reorder = 0.1,
                      .reorder_delay = 700};
  nb_simnet_set_link(p->net, &l);
}

/* Every datagram's block options, as a tap sees them. */
typedef struct {
  int n;
  nb_addr from[4096];
  uint8_t code[4096];
  bool has_b1[4096], has_b2[4096];
  nb_coap_block b1[4096], b2[4096];
  bool has_size1[4096], has_size2[4096];
  uint32_t size1[4096], size2[4096];
  size_t payload[4096];
  bool has_etag[4096];
} blocklog;

static bool block_tap(void *user, const nb_addr *from, const nb_addr *to, const uint8_t *data,
                      size_t len, nb_time_ms now) {
  blocklog *t = user;
  (void)to;
  (void)now;
  nb_coap_msg m;
  if (t->n >= 4096 || nb_coap_parse(data, len, &m) != NB_OK) return true;
  int i = t->n++;
  t->from[i] = *from;
  t->code[i] = m.code;
  t->has_b1[i] = nb_coap_block_get(&m, NB_COAP_OPT_BLOCK1, &t->b1[i]) == NB_OK;
  t->has_b2[i] = nb_coap_block_get(&m, NB_COAP_OPT_BLOCK2, &t->b2[i]) == NB_OK;
  t->has_size1[i] = nb_coap_msg_get_uint(&m, NB_COAP_OPT_SIZE1, &t->size1[i]) == NB_OK;
  t->has_size2[i] = nb_coap_msg_get_uint(&m, NB_COAP_OPT_SIZE2, &t->size2[i]) == NB_OK;
  t->has_etag[i] = nb_coap_msg_find(&m, NB_COAP_OPT_ETAG) != NULL;
  t->payload[i] = m.payload_len;
  return true;
}

/* ---- downloads ---- */

static void download(uint64_t seed, bool confirmable) {
  pair p;
  nb_coap_ep_config c = patient_config();
  pair_setup(&p, seed, &c, &c);
  lossy(&p);
  blocklog *t = calloc(1, sizeof *t);
  assert_non_null(t);
  nb_simnet_set_tap(p.net, block_tap, t);
  uint8_t *body = nb_ct_body(BIG, (uint32_t)seed);
  p.s.body = body;
  p.s.body_len = BIG;
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/fw/image", NULL, 0);
  nb_ct_resp r = {0};
  assert_int_equal(
      nb_coap_ep_request(p.cli, &p.asrv, &req, confirmable, nb_ct_resp_cb, &r, 0, NULL), NB_OK);
  assert_true(nb_simnet_run_until_cond(p.net, 3600000, nb_ct_resp_done, &r));
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.err[0], NB_OK);
  assert_int_equal(r.code[0], NB_COAP_CONTENT);
  assert_int_equal(r.payload_len, BIG);
  assert_memory_equal(r.payload, body, BIG);
  assert_int_equal(p.s.calls, 1); /* later blocks come from the cache */
  /* Server side: 1024-byte blocks, Size2 and an ETag in block 0. */
  bool saw_first = false;
  int blocks = 0;
  for (int i = 0; i < t->n; i++) {
    if (!nb_addr_equal(&t->from[i], &p.asrv) || !t->has_b2[i]) continue;
    blocks++;
    assert_int_equal(t->b2[i].szx, 6);
    assert_true(t->has_etag[i]);
    if (t->b2[i].num == 0) {
      saw_first = true;
      assert_true(t->has_size2[i]);
      assert_int_equal(t->size2[i], BIG);
    }
    assert_int_equal(t->payload[i], t->b2[i].more ? 1024 : BIG % 1024);
  }
  assert_true(saw_first);
  assert_true(blocks >= (BIG + 1023) / 1024);
  nb_simnet_stats st;
  nb_simnet_get_stats(p.net, &st);
  assert_true(st.dropped > 20); /* the link really was lossy */
  assert_true(st.duplicated > 5);
  free(t);
  free(body);
  nb_ct_resp_free(&r);
  pair_free(&p);
}

static void test_block2_download_lossy(void **state) {
  (void)state;
  download(101, true);
  download(102, true);
}

/* NON over a lossless link: each block request is answered once. */
static void test_block2_download_non(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 103, NULL, NULL);
  uint8_t *body = nb_ct_body(5000, 3);
  p.s.body = body;
  p.s.body_len = 5000;
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/big", NULL, 0);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(p.cli, &p.asrv, &req, false, nb_ct_resp_cb, &r, 0, NULL),
                   NB_OK);
  assert_true(nb_simnet_run_until_cond(p.net, 60000, nb_ct_resp_done, &r));
  assert_int_equal(r.err[0], NB_OK);
  assert_int_equal(r.payload_len, 5000);
  assert_memory_equal(r.payload, body, 5000);
  free(body);
  nb_ct_resp_free(&r);
  pair_free(&p);
}

/* ---- uploads ---- */

static void upload(uint64_t seed, uint8_t method, size_t resp_len) {
  pair p;
  nb_coap_ep_config c = patient_config();
  pair_setup(&p, seed, &c, &c);
  lossy(&p);
  blocklog *t = calloc(1, sizeof *t);
  assert_non_null(t);
  nb_simnet_set_tap(p.net, block_tap, t);
  uint8_t *body = nb_ct_body(BIG, (uint32_t)seed);
  uint8_t *answer = nb_ct_body(resp_len, (uint32_t)seed + 1000);
  p.s.code = NB_COAP_CHANGED;
  p.s.body = answer;
  p.s.body_len = resp_len;
  nb_coap_msg req;
  nb_ct_request(&req, method, "/upload", body, BIG);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(p.cli, &p.asrv, &req, true, nb_ct_resp_cb, &r, 0, NULL),
                   NB_OK);
  free(body); /* the layer copied it */
  body = nb_ct_body(BIG, (uint32_t)seed);
  assert_true(nb_simnet_run_until_cond(p.net, 3600000, nb_ct_resp_done, &r));
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.err[0], NB_OK);
  assert_int_equal(r.code[0], NB_COAP_CHANGED);
  assert_int_equal(p.s.calls, 1);
  assert_int_equal(p.s.last_method, method);
  assert_int_equal(p.s.req_len, BIG);
  assert_memory_equal(p.s.req_body, body, BIG);
  assert_int_equal(r.payload_len, resp_len);
  if (resp_len) assert_memory_equal(r.payload, answer, resp_len);
  /* Client side: Size1 with block 0, 1024-byte blocks; server: 2.31 for each but the last. */
  bool saw_size1 = false;
  int continues = 0;
  for (int i = 0; i < t->n; i++) {
    if (nb_addr_equal(&t->from[i], &p.acli) && t->has_b1[i]) {
      assert_int_equal(t->b1[i].szx, 6);
      assert_int_equal(t->payload[i], t->b1[i].more ? 1024 : BIG % 1024);
      if (t->b1[i].num == 0) {
        assert_true(t->has_size1[i]);
        assert_int_equal(t->size1[i], BIG);
        saw_size1 = true;
      }
    }
    if (nb_addr_equal(&t->from[i], &p.asrv) && t->code[i] == NB_COAP_CONTINUE) {
      continues++;
      assert_true(t->has_b1[i]);
      assert_true(t->b1[i].more);
    }
  }
  assert_true(saw_size1);
  assert_true(continues >= BIG / 1024);
  free(t);
  free(body);
  free(answer);
  nb_ct_resp_free(&r);
  pair_free(&p);
}

static void test_block1_upload_lossy(void **state) {
  (void)state;
  upload(201, NB_COAP_PUT, 0);
  upload(202, NB_COAP_POST, 10);
}

/* Block1 upload whose final response is itself large (Block2), RFC 7959 3.3. */
static void test_block1_then_block2(void **state) {
  (void)state;
  upload(203, NB_COAP_POST, BIG);
}

/* ---- SZX negotiation ---- */

/* The client prefers 64-byte blocks: it asks early (Block2 0/0/2), the server obeys. */
static void test_szx_client_prefers_small(void **state) {
  (void)state;
  nb_coap_ep_config cc = det_config();
  cc.block_szx = 2;
  pair p;
  pair_setup(&p, 301, &cc, NULL);
  blocklog *t = calloc(1, sizeof *t);
  assert_non_null(t);
  nb_simnet_set_tap(p.net, block_tap, t);
  uint8_t *body = nb_ct_body(1000, 5);
  p.s.body = body;
  p.s.body_len = 1000;
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/r", NULL, 0);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(p.cli, &p.asrv, &req, true, nb_ct_resp_cb, &r, 0, NULL),
                   NB_OK);
  assert_true(nb_simnet_run_until_cond(p.net, 60000, nb_ct_resp_done, &r));
  assert_int_equal(r.payload_len, 1000);
  assert_memory_equal(r.payload, body, 1000);
  int served = 0;
  for (int i = 0; i < t->n; i++) {
    if (nb_addr_equal(&t->from[i], &p.acli)) {
      assert_true(t->has_b2[i]); /* early negotiation in the first request too */
      assert_int_equal(t->b2[i].szx, 2);
    } else {
      assert_true(t->has_b2[i]);
      assert_int_equal(t->b2[i].szx, 2);
      served++;
    }
  }
  assert_int_equal(served, (1000 + 63) / 64);
  free(t);
  free(body);
  nb_ct_resp_free(&r);
  pair_free(&p);
}

/* The server prefers 128-byte blocks: its 2.31 says so, the client continues smaller, with
 * block numbers counted in the new size. */
static void test_szx_server_prefers_small(void **state) {
  (void)state;
  nb_coap_ep_config sc = det_config();
  sc.block_szx = 3;
  pair p;
  pair_setup(&p, 302, NULL, &sc);
  blocklog *t = calloc(1, sizeof *t);
  assert_non_null(t);
  nb_simnet_set_tap(p.net, block_tap, t);
  uint8_t *body = nb_ct_body(3000, 6);
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_PUT, "/w", body, 3000);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(p.cli, &p.asrv, &req, true, nb_ct_resp_cb, &r, 0, NULL),
                   NB_OK);
  assert_true(nb_simnet_run_until_cond(p.net, 60000, nb_ct_resp_done, &r));
  assert_int_equal(r.err[0], NB_OK);
  assert_int_equal(p.s.req_len, 3000);
  assert_memory_equal(p.s.req_body, body, 3000);
  /* Requests: 0/1/1024, then 8/1/128, 9/1/128 ... 23/0/128. */
  int k = 0;
  for (int i = 0; i < t->n; i++) {
    if (!nb_addr_equal(&t->from[i], &p.acli)) {
      if (t->code[i] == NB_COAP_CONTINUE) assert_int_equal(t->b1[i].szx, 3);
      continue;
    }
    assert_true(t->has_b1[i]);
    if (k == 0) {
      assert_int_equal(t->b1[i].num, 0);
      assert_int_equal(t->b1[i].szx, 6);
    } else {
      assert_int_equal(t->b1[i].num, 7 + k);
      assert_int_equal(t->b1[i].szx, 3);
    }
    k++;
  }
  assert_int_equal(k, 1 + (3000 - 1024 + 127) / 128);
  free(t);
  free(body);
  nb_ct_resp_free(&r);
  pair_free(&p);
}

/* ---- 4.08, 4.13, 4.02 with a scripted client ---- */

typedef struct {
  nb_simnet *net;
  nb_coap_ep *srv;
  nb_simnet_node *peer;
  nb_simnet_recorder *rec;
  nb_addr asrv, apeer;
  nb_ct_server s;
  uint16_t mid;
} scripted;

static void scripted_setup(scripted *sc, const nb_coap_ep_config *cfg) {
  memset(sc, 0, sizeof *sc);
  sc->net = nb_simnet_new(400);
  sc->asrv = nb_simnet_addr(2, PORT);
  sc->apeer = nb_simnet_addr(9, 40000);
  assert_non_null(nb_simnet_add_coap(sc->net, &sc->asrv, cfg, &sc->srv));
  sc->peer = nb_simnet_add_recorder(sc->net, &sc->apeer, &sc->rec);
  assert_non_null(sc->peer);
  nb_coap_ep_set_handler(sc->srv, nb_ct_handler, &sc->s);
  sc->mid = 100;
}

/* Sends a CON request with optional Block1/Block2/Size1 and returns the parsed answer (whose
 * options point into the recorder, valid until the next call). */
static void exchange(scripted *sc, uint8_t code, const nb_coap_block *b1, const nb_coap_block *b2,
                     uint32_t size1, const uint8_t *payload, size_t len, nb_coap_msg *out) {
  nb_coap_msg m;
  uint8_t buf[2048];
  nb_coap_msg_init(&m, NB_COAP_CON, code, sc->mid++);
  nb_coap_msg_set_token(&m, (const uint8_t *)&sc->mid, 2);
  nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/res");
  if (b2) nb_coap_block_add(&m, NB_COAP_OPT_BLOCK2, b2);
  if (b1) nb_coap_block_add(&m, NB_COAP_OPT_BLOCK1, b1);
  if (size1) nb_coap_msg_add_uint(&m, NB_COAP_OPT_SIZE1, size1);
  nb_coap_msg_set_payload(&m, payload, len);
  size_t n = nb_ct_serialize(&m, buf, sizeof buf);
  nb_simnet_recorder_clear(sc->rec);
  nb_simnet_send(sc->peer, &sc->asrv, buf, n);
  nb_simnet_run_until(sc->net, nb_simnet_now(sc->net) + 100);
  assert_int_equal(nb_simnet_recorder_count(sc->rec), 1);
  nb_ct_parse_record(sc->rec, 0, out);
  assert_int_equal(out->type, NB_COAP_ACK);
  assert_int_equal(out->mid, m.mid);
}

static void test_block1_incomplete(void **state) {
  (void)state;
  scripted sc;
  scripted_setup(&sc, NULL);
  uint8_t data[64];
  memset(data, 'a', sizeof data);
  nb_coap_msg resp;
  nb_coap_block blk, got;
  /* A block other than 0 without a transfer in progress. */
  blk = (nb_coap_block){1, true, 2};
  exchange(&sc, NB_COAP_PUT, &blk, NULL, 0, data, 64, &resp);
  assert_int_equal(resp.code, NB_COAP_REQUEST_ENTITY_INCOMPLETE);
  /* Block 0, then block 2: 4.08 (block 1 is missing). */
  blk = (nb_coap_block){0, true, 2};
  exchange(&sc, NB_COAP_PUT, &blk, NULL, 0, data, 64, &resp);
  assert_int_equal(resp.code, NB_COAP_CONTINUE);
  assert_int_equal(nb_coap_block_get(&resp, NB_COAP_OPT_BLOCK1, &got), NB_OK);
  assert_int_equal(got.num, 0);
  assert_true(got.more);
  assert_int_equal(got.szx, 2);
  blk = (nb_coap_block){2, true, 2};
  exchange(&sc, NB_COAP_PUT, &blk, NULL, 0, data, 64, &resp);
  assert_int_equal(resp.code, NB_COAP_REQUEST_ENTITY_INCOMPLETE);
  /* The transfer can still go on in order; the last block echoes Block1 with M=0. */
  blk = (nb_coap_block){1, false, 2};
  exchange(&sc, NB_COAP_PUT, &blk, NULL, 0, data, 10, &resp);
  assert_int_equal(resp.code, NB_COAP_CONTENT);
  assert_int_equal(nb_coap_block_get(&resp, NB_COAP_OPT_BLOCK1, &got), NB_OK);
  assert_int_equal(got.num, 1);
  assert_false(got.more);
  assert_int_equal(sc.s.calls, 1);
  assert_int_equal(sc.s.req_len, 74);
  /* A non-final block of the wrong length is a bad request. */
  blk = (nb_coap_block){0, true, 2};
  exchange(&sc, NB_COAP_PUT, &blk, NULL, 0, data, 30, &resp);
  assert_int_equal(resp.code, NB_COAP_BAD_REQUEST);
  /* SZX 7 is reserved (BERT): 4.02. */
  uint8_t raw_b1 = 0x0f;
  nb_coap_msg m;
  uint8_t buf[128];
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_PUT, 999);
  nb_coap_msg_add_option(&m, NB_COAP_OPT_BLOCK1, &raw_b1, 1);
  nb_simnet_recorder_clear(sc.rec);
  nb_simnet_send(sc.peer, &sc.asrv, buf, nb_ct_serialize(&m, buf, sizeof buf));
  nb_simnet_run_until(sc.net, nb_simnet_now(sc.net) + 100);
  nb_ct_parse_record(sc.rec, 0, &resp);
  assert_int_equal(resp.code, NB_COAP_BAD_OPTION);
  assert_int_equal(sc.s.calls, 1);
  /* An abandoned transfer expires with the exchange lifetime. */
  blk = (nb_coap_block){0, true, 2};
  exchange(&sc, NB_COAP_PUT, &blk, NULL, 0, data, 64, &resp);
  assert_int_equal(resp.code, NB_COAP_CONTINUE);
  nb_simnet_run_until(sc.net, nb_simnet_now(sc.net) + 248000);
  blk = (nb_coap_block){1, false, 2};
  exchange(&sc, NB_COAP_PUT, &blk, NULL, 0, data, 10, &resp);
  assert_int_equal(resp.code, NB_COAP_REQUEST_ENTITY_INCOMPLETE);
  nb_ct_server_free(&sc.s);
  nb_simnet_free(sc.net);
}

static void test_too_large_server(void **state) {
  (void)state;
  nb_coap_ep_config cfg = det_config();
  cfg.max_body = 1000;
  scripted sc;
  scripted_setup(&sc, &cfg);
  uint8_t data[64] = {0};
  nb_coap_msg resp;
  uint32_t size1;
  /* Size1 announces too much: 4.13 at once, with Size1 = the limit. */
  nb_coap_block blk = {0, true, 2};
  exchange(&sc, NB_COAP_PUT, &blk, NULL, 5000, data, 64, &resp);
  assert_int_equal(resp.code, NB_COAP_REQUEST_ENTITY_TOO_LARGE);
  assert_int_equal(nb_coap_msg_get_uint(&resp, NB_COAP_OPT_SIZE1, &size1), NB_OK);
  assert_int_equal(size1, 1000);
  /* No Size1, but the blocks add up past the limit. */
  for (uint32_t i = 0; i < 15; i++) {
    blk = (nb_coap_block){i, true, 2};
    exchange(&sc, NB_COAP_PUT, &blk, NULL, 0, data, 64, &resp);
    assert_int_equal(resp.code, NB_COAP_CONTINUE);
  }
  blk = (nb_coap_block){15, true, 2};
  exchange(&sc, NB_COAP_PUT, &blk, NULL, 0, data, 64, &resp);
  assert_int_equal(resp.code, NB_COAP_REQUEST_ENTITY_TOO_LARGE);
  assert_int_equal(nb_coap_msg_get_uint(&resp, NB_COAP_OPT_SIZE1, &size1), NB_OK);
  assert_int_equal(size1, 1000);
  assert_int_equal(sc.s.calls, 0);
  nb_ct_server_free(&sc.s);
  nb_simnet_free(sc.net);
}

/* Client side: a 4.13 reaches the caller; too large a download is NB_ERR_COAP_TOO_LARGE. */
static void test_too_large_client(void **state) {
  (void)state;
  nb_coap_ep_config sc = det_config();
  sc.max_body = 1000;
  pair p;
  pair_setup(&p, 402, NULL, &sc);
  uint8_t *body = nb_ct_body(5000, 7);
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_PUT, "/u", body, 5000);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(p.cli, &p.asrv, &req, true, nb_ct_resp_cb, &r, 0, NULL),
                   NB_OK);
  assert_true(nb_simnet_run_until_cond(p.net, 60000, nb_ct_resp_done, &r));
  assert_int_equal(r.err[0], NB_OK);
  assert_int_equal(r.code[0], NB_COAP_REQUEST_ENTITY_TOO_LARGE);
  assert_int_equal(p.s.calls, 0);
  nb_ct_resp_free(&r);
  pair_free(&p);

  nb_coap_ep_config cc = det_config();
  cc.max_body = 3000;
  pair_setup(&p, 403, &cc, NULL);
  p.s.body = body;
  p.s.body_len = 5000;
  nb_ct_request(&req, NB_COAP_GET, "/d", NULL, 0);
  nb_ct_resp r2 = {0};
  assert_int_equal(nb_coap_ep_request(p.cli, &p.asrv, &req, true, nb_ct_resp_cb, &r2, 0, NULL),
                   NB_OK);
  assert_true(nb_simnet_run_until_cond(p.net, 60000, nb_ct_resp_done, &r2));
  assert_int_equal(r2.calls, 1);
  assert_int_equal(r2.err[0], NB_ERR_COAP_TOO_LARGE); /* Size2 said 5000 > 3000 */
  nb_ct_resp_free(&r2);
  pair_free(&p);
  free(body);
}

/* A 4.13 carrying Block1 with a smaller SZX makes the client retry block-wise that size. */
static void test_413_retry_smaller(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(404);
  nb_coap_ep *cli;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, NULL, &cli));
  nb_simnet_node *peer = nb_simnet_add_recorder(net, &a2, &rec);
  uint8_t *body = nb_ct_body(600, 8);
  nb_coap_msg req, got, ans;
  nb_ct_request(&req, NB_COAP_POST, "/p", body, 600);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(cli, &a2, &req, true, nb_ct_resp_cb, &r, 0, NULL), NB_OK);
  nb_simnet_run_until(net, 100);
  nb_ct_parse_record(rec, 0, &got);
  nb_coap_block blk;
  assert_int_equal(nb_coap_block_get(&got, NB_COAP_OPT_BLOCK1, &blk), NB_ERR_NOT_FOUND);
  assert_int_equal(got.payload_len, 600);
  uint8_t buf[256];
  nb_coap_msg_init(&ans, NB_COAP_ACK, NB_COAP_REQUEST_ENTITY_TOO_LARGE, got.mid);
  nb_coap_msg_set_token(&ans, got.token, got.token_len);
  nb_coap_block pref = {0, false, 4};
  nb_coap_block_add(&ans, NB_COAP_OPT_BLOCK1, &pref);
  nb_simnet_send(peer, &a1, buf, nb_ct_serialize(&ans, buf, sizeof buf));
  nb_simnet_run_until(net, 200);
  assert_int_equal(r.calls, 0);
  assert_int_equal(nb_simnet_recorder_count(rec), 2);
  nb_ct_parse_record(rec, 1, &got);
  assert_int_equal(nb_coap_block_get(&got, NB_COAP_OPT_BLOCK1, &blk), NB_OK);
  assert_int_equal(blk.num, 0);
  assert_true(blk.more);
  assert_int_equal(blk.szx, 4);
  assert_int_equal(got.payload_len, 256);
  assert_memory_equal(got.payload, body, 256);
  /* A plain 4.13 (no Block1) goes to the caller. */
  nb_coap_msg_init(&ans, NB_COAP_ACK, NB_COAP_REQUEST_ENTITY_TOO_LARGE, got.mid);
  nb_coap_msg_set_token(&ans, got.token, got.token_len);
  nb_simnet_send(peer, &a1, buf, nb_ct_serialize(&ans, buf, sizeof buf));
  nb_simnet_run_until(net, 300);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.code[0], NB_COAP_REQUEST_ENTITY_TOO_LARGE);
  free(body);
  nb_ct_resp_free(&r);
  nb_simnet_free(net);
}

/* Block2 requests: served from the cache whatever the token; out of range -> 4.02; a client
 * asking for a smaller size mid-way gets the same bytes. */
static void test_block2_server_cache(void **state) {
  (void)state;
  scripted sc;
  scripted_setup(&sc, NULL);
  uint8_t *body = nb_ct_body(3000, 9);
  sc.s.body = body;
  sc.s.body_len = 3000;
  nb_coap_msg resp;
  nb_coap_block got;
  exchange(&sc, NB_COAP_GET, NULL, NULL, 0, NULL, 0, &resp);
  assert_int_equal(nb_coap_block_get(&resp, NB_COAP_OPT_BLOCK2, &got), NB_OK);
  assert_int_equal(got.num, 0);
  assert_true(got.more);
  assert_int_equal(got.szx, 6);
  assert_int_equal(resp.payload_len, 1024);
  const nb_coap_option *etag = nb_coap_msg_find(&resp, NB_COAP_OPT_ETAG);
  assert_non_null(etag);
  uint8_t tag[8];
  size_t tag_len = etag->len;
  memcpy(tag, etag->value, tag_len);
  /* Block 2 of 1024: the tail. */
  nb_coap_block want = {2, false, 6};
  exchange(&sc, NB_COAP_GET, NULL, &want, 0, NULL, 0, &resp);
  assert_int_equal(nb_coap_block_get(&resp, NB_COAP_OPT_BLOCK2, &got), NB_OK);
  assert_int_equal(got.num, 2);
  assert_false(got.more);
  assert_int_equal(resp.payload_len, 3000 - 2048);
  assert_memory_equal(resp.payload, body + 2048, 3000 - 2048);
  etag = nb_coap_msg_find(&resp, NB_COAP_OPT_ETAG);
  assert_non_null(etag);
  assert_memory_equal(etag->value, tag, tag_len);
  assert_false(nb_coap_msg_find(&resp, NB_COAP_OPT_SIZE2) != NULL);
  /* A smaller size: block 5 of 256 bytes = offset 1280. */
  want = (nb_coap_block){5, false, 4};
  exchange(&sc, NB_COAP_GET, NULL, &want, 0, NULL, 0, &resp);
  assert_int_equal(nb_coap_block_get(&resp, NB_COAP_OPT_BLOCK2, &got), NB_OK);
  assert_int_equal(got.num, 5);
  assert_int_equal(got.szx, 4);
  assert_int_equal(resp.payload_len, 256);
  assert_memory_equal(resp.payload, body + 1280, 256);
  /* Beyond the end. */
  want = (nb_coap_block){3, false, 6};
  exchange(&sc, NB_COAP_GET, NULL, &want, 0, NULL, 0, &resp);
  assert_int_equal(resp.code, NB_COAP_BAD_OPTION);
  assert_int_equal(sc.s.calls, 1);
  /* After the cache expired, a GET for a later block runs the handler again. */
  nb_simnet_run_until(sc.net, nb_simnet_now(sc.net) + 300000);
  want = (nb_coap_block){1, false, 6};
  exchange(&sc, NB_COAP_GET, NULL, &want, 0, NULL, 0, &resp);
  assert_int_equal(sc.s.calls, 2);
  assert_int_equal(nb_coap_block_get(&resp, NB_COAP_OPT_BLOCK2, &got), NB_OK);
  assert_int_equal(got.num, 1);
  assert_memory_equal(resp.payload, body + 1024, 1024);
  /* Same content, same ETag: a client could continue seamlessly. */
  etag = nb_coap_msg_find(&resp, NB_COAP_OPT_ETAG);
  assert_memory_equal(etag->value, tag, tag_len);
  /* Block 1 of a POST with no cached body: 4.08. */
  exchange(&sc, NB_COAP_POST, NULL, &want, 0, NULL, 0, &resp);
  assert_int_equal(resp.code, NB_COAP_REQUEST_ENTITY_INCOMPLETE);
  free(body);
  nb_ct_server_free(&sc.s);
  nb_simnet_free(sc.net);
}

/* Concurrent uploads are bounded: the least recently used one is dropped (its next block
 * then gets 4.08); a bad block leaves no stray state behind. */
static void test_block1_bounded(void **state) {
  (void)state;
  nb_coap_ep_config cfg = det_config();
  cfg.dedup_max = 16; /* -> at most 8 uploads in progress */
  scripted sc;
  scripted_setup(&sc, &cfg);
  uint8_t data[64] = {0};
  nb_coap_msg resp;
  /* Bad non-final block lengths on 20 paths: refused, nothing kept. */
  for (int i = 0; i < 20; i++) {
    nb_coap_block blk = {0, true, 2};
    exchange(&sc, NB_COAP_PUT, &blk, NULL, 0, data, 10, &resp);
    assert_int_equal(resp.code, NB_COAP_BAD_REQUEST);
  }
  /* Nine uploads from nine peers: the first one is evicted. */
  nb_simnet_node *peers[9];
  nb_simnet_recorder *recs[9];
  for (int i = 0; i < 9; i++) {
    nb_addr a = nb_simnet_addr(100 + (unsigned)i, 40000);
    peers[i] = nb_simnet_add_recorder(sc.net, &a, &recs[i]);
    assert_non_null(peers[i]);
  }
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 9; i++) {
      nb_coap_msg m;
      uint8_t buf[256];
      nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_PUT, (uint16_t)(1000 + round * 100 + i));
      nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/res");
      nb_coap_block blk = {(uint32_t)round, round == 0, 2};
      nb_coap_block_add(&m, NB_COAP_OPT_BLOCK1, &blk);
      nb_coap_msg_set_payload(&m, data, round == 0 ? 64 : 5);
      nb_simnet_send(peers[i], &sc.asrv, buf, nb_ct_serialize(&m, buf, sizeof buf));
      nb_simnet_run_until(sc.net, nb_simnet_now(sc.net) + 100);
      nb_ct_parse_record(recs[i], (size_t)round, &resp);
      uint8_t want = round == 0 ? NB_COAP_CONTINUE
                     : i == 0   ? NB_COAP_REQUEST_ENTITY_INCOMPLETE
                                : NB_COAP_CONTENT;
      assert_int_equal(resp.code, want);
    }
  }
  assert_int_equal(sc.s.calls, 8);
  nb_ct_server_free(&sc.s);
  nb_simnet_free(sc.net);
}

/* Uploads together hold at most max_block1_bytes: past it the least recently used one gives
 * way (4.08 on its next block) and the others complete. */
static void test_block1_bytes_bounded(void **state) {
  (void)state;
  nb_coap_ep_config cfg = det_config();
  cfg.max_body = 1024;
  cfg.max_block1_bytes = 1024; /* three uploads of 384 bytes do not fit together */
  scripted sc;
  scripted_setup(&sc, &cfg);
  uint8_t data[64] = {0};
  nb_simnet_node *peers[3];
  nb_simnet_recorder *recs[3];
  for (int i = 0; i < 3; i++) {
    nb_addr a = nb_simnet_addr(120 + (unsigned)i, 40000);
    peers[i] = nb_simnet_add_recorder(sc.net, &a, &recs[i]);
    assert_non_null(peers[i]);
  }
  for (uint32_t round = 0; round < 7; round++) {
    for (int i = 0; i < 3; i++) {
      nb_coap_msg m, resp;
      uint8_t buf[256];
      nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_PUT, (uint16_t)(2000 + round * 10 + (unsigned)i));
      nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/res");
      nb_coap_block blk = {round, round < 6, 2};
      nb_coap_block_add(&m, NB_COAP_OPT_BLOCK1, &blk);
      nb_coap_msg_set_payload(&m, data, round < 6 ? 64 : 5);
      nb_simnet_send(peers[i], &sc.asrv, buf, nb_ct_serialize(&m, buf, sizeof buf));
      nb_simnet_run_until(sc.net, nb_simnet_now(sc.net) + 100);
      nb_ct_parse_record(recs[i], round, &resp);
      /* Round 5 fills the budget: peer 1's block pushes peer 2's upload out. */
      uint8_t want = i == 2 && round >= 5 ? NB_COAP_REQUEST_ENTITY_INCOMPLETE
                     : round < 6          ? NB_COAP_CONTINUE
                                          : NB_COAP_CONTENT;
      assert_int_equal(resp.code, want);
    }
  }
  assert_int_equal(sc.s.calls, 2);
  assert_int_equal(sc.s.req_len, 6 * 64 + 5);
  nb_ct_server_free(&sc.s);
  nb_simnet_free(sc.net);
}

/* The client restarts a download when the ETag changes between blocks. */
static void test_block2_etag_change(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(405);
  nb_coap_ep *cli;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, NULL, &cli));
  nb_simnet_node *peer = nb_simnet_add_recorder(net, &a2, &rec);
  uint8_t *v1 = nb_ct_body(2048, 10), *v2 = nb_ct_body(1500, 11);
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/e", NULL, 0);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(cli, &a2, &req, true, nb_ct_resp_cb, &r, 0, NULL), NB_OK);
  /* Serves blocks of v1 (ETag "1") until told to switch to v2 (ETag "2"). */
  const uint8_t *cur = v1;
  size_t cur_len = 2048;
  const char *tag = "1";
  for (int step = 0; step < 6 && r.calls == 0; step++) {
    nb_simnet_run_until(net, nb_simnet_now(net) + 100);
    size_t n = nb_simnet_recorder_count(rec);
    nb_coap_msg got, ans;
    nb_ct_parse_record(rec, n - 1, &got);
    nb_coap_block want = {0, false, 6};
    nb_coap_block_get(&got, NB_COAP_OPT_BLOCK2, &want);
    if (step == 1) {
      assert_int_equal(want.num, 1);
      cur = v2;
      cur_len = 1500;
      tag = "2";
    }
    size_t off = nb_coap_block_offset(&want);
    size_t len = cur_len - off < 1024 ? cur_len - off : 1024;
    nb_coap_block blk = {want.num, off + len < cur_len, 6};
    nb_coap_msg_init(&ans, NB_COAP_ACK, NB_COAP_CONTENT, got.mid);
    nb_coap_msg_set_token(&ans, got.token, got.token_len);
    nb_coap_msg_add_option(&ans, NB_COAP_OPT_ETAG, tag, 1);
    nb_coap_block_add(&ans, NB_COAP_OPT_BLOCK2, &blk);
    nb_coap_msg_set_payload(&ans, cur + off, len);
    uint8_t buf[1200];
    nb_simnet_send(peer, &a1, buf, nb_ct_serialize(&ans, buf, sizeof buf));
  }
  nb_simnet_run_until(net, nb_simnet_now(net) + 100);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.err[0], NB_OK);
  assert_int_equal(r.payload_len, 1500);
  assert_memory_equal(r.payload, v2, 1500);
  free(v1);
  free(v2);
  nb_ct_resp_free(&r);
  nb_simnet_free(net);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_block2_download_lossy),
      cmocka_unit_test(test_block2_download_non),
      cmocka_unit_test(test_block1_upload_lossy),
      cmocka_unit_test(test_block1_then_block2),
      cmocka_unit_test(test_szx_client_prefers_small),
      cmocka_unit_test(test_szx_server_prefers_small),
      cmocka_unit_test(test_block1_incomplete),
      cmocka_unit_test(test_too_large_server),
      cmocka_unit_test(test_too_large_client),
      cmocka_unit_test(test_413_retry_smaller),
      cmocka_unit_test(test_block2_server_cache),
      cmocka_unit_test(test_block2_etag_change),
      cmocka_unit_test(test_block1_bounded),
      cmocka_unit_test(test_block1_bytes_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
