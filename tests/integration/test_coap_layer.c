/* CoAP message layer over the simulated network, virtual time: retransmission timing,
 * deduplication, separate responses, RST handling, NSTART, timeouts, malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coap/endpoint.h"
#include "coaptest.h"
#include "nb_test.h"
#include "simnet.h"

#define PORT 5683

static nb_coap_ep_config det_config(void) {
  nb_coap_ep_config c;
  nb_coap_ep_config_default(&c);
  c.random = NULL; /* simnet supplies a seeded PRNG */
  return c;
}

/* ---- retransmission timing ---- */

/* Checks the transmissions a silent peer saw: original + max_retransmit copies, each gap
 * exactly twice the previous one and within [T*2^k, T*factor*2^k]. */
static void check_retransmissions(uint64_t seed, nb_time_ms T, double factor, unsigned max_rt) {
  nb_simnet *net = nb_simnet_new(seed);
  nb_simnet_link l = {0};
  nb_simnet_set_link(net, &l); /* zero delay: arrival time == send time */
  nb_coap_ep_config c = det_config();
  c.ack_timeout = T;
  c.ack_random_factor = factor;
  c.max_retransmit = max_rt;
  nb_coap_ep *cli;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, &c, &cli));
  assert_non_null(nb_simnet_add_recorder(net, &a2, &rec));

  nb_simnet_run_until(net, 1000);
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/a", NULL, 0);
  nb_ct_resp r = {0};
  nb_coap_req_id id;
  assert_int_equal(nb_coap_ep_request(cli, &a2, &req, true, nb_ct_resp_cb, &r, 1000, &id), NB_OK);
  assert_true(id != 0);
  nb_simnet_run_until(net, 1000 + (nb_time_ms)(T * factor * 64 * 2));

  size_t n = nb_simnet_recorder_count(rec);
  assert_int_equal(n, max_rt + 1);
  const nb_simnet_record *first = nb_simnet_recorder_get(rec, 0);
  assert_int_equal(first->at, 1000);
  nb_time_ms prev_gap = 0;
  for (size_t k = 1; k < n; k++) {
    const nb_simnet_record *cur = nb_simnet_recorder_get(rec, k);
    const nb_simnet_record *before = nb_simnet_recorder_get(rec, k - 1);
    assert_int_equal(cur->len, first->len);
    assert_memory_equal(cur->data, first->data, first->len); /* same MID, same bytes */
    nb_time_ms gap = cur->at - before->at;
    nb_time_ms lo = T << (k - 1);
    nb_time_ms hi = (nb_time_ms)((double)T * factor) << (k - 1);
    assert_in_range(gap, lo, hi);
    if (k > 1) assert_int_equal(gap, 2 * prev_gap);
    nb_time_ms since = cur->at - first->at;
    assert_in_range(since, T * ((1 << k) - 1), (nb_time_ms)((double)T * factor) * ((1 << k) - 1));
    prev_gap = gap;
  }
  /* Give-up after the last wait, reported once as a timeout. */
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.finals, 1);
  assert_int_equal(r.err[0], NB_ERR_TIMEOUT);
  nb_time_ms last_tx = nb_simnet_recorder_get(rec, n - 1)->at;
  nb_time_ms first_gap = n > 1 ? nb_simnet_recorder_get(rec, 1)->at - first->at : 0;
  if (n > 1) assert_int_equal(r.at[0] - last_tx, first_gap << max_rt);
  nb_coap_ep_stats st;
  nb_coap_ep_get_stats(cli, &st);
  assert_int_equal(st.retransmits, max_rt);
  assert_int_equal(st.timeouts, 1);
  assert_int_equal(nb_coap_ep_next_deadline(cli) >= r.at[0], true);
  nb_ct_resp_free(&r);
  nb_simnet_free(net);
}

static void test_retransmit_timing(void **state) {
  (void)state;
  check_retransmissions(1, 2000, 1.5, 4);
  /* The whole [T, 1.5T] window is used across seeds. */
  nb_time_ms min_first = INT64_MAX, max_first = 0;
  for (uint64_t seed = 1; seed <= 40; seed++) {
    nb_simnet *net = nb_simnet_new(seed);
    nb_simnet_link l = {0};
    nb_simnet_set_link(net, &l);
    nb_coap_ep_config c = det_config();
    nb_coap_ep *cli;
    nb_simnet_recorder *rec;
    nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
    assert_non_null(nb_simnet_add_coap(net, &a1, &c, &cli));
    assert_non_null(nb_simnet_add_recorder(net, &a2, &rec));
    nb_coap_msg req;
    nb_ct_request(&req, NB_COAP_GET, "/a", NULL, 0);
    nb_ct_resp r = {0};
    assert_int_equal(nb_coap_ep_request(cli, &a2, &req, true, nb_ct_resp_cb, &r, 0, NULL), NB_OK);
    nb_simnet_run_until(net, 4000);
    assert_int_equal(nb_simnet_recorder_count(rec), 2);
    nb_time_ms gap = nb_simnet_recorder_get(rec, 1)->at;
    assert_in_range(gap, 2000, 3000);
    if (gap < min_first) min_first = gap;
    if (gap > max_first) max_first = gap;
    nb_ct_resp_free(&r);
    nb_simnet_free(net);
  }
  assert_true(max_first - min_first > 500);
}

static void test_retransmit_configurable(void **state) {
  (void)state;
  check_retransmissions(7, 1000, 2.0, 2);
  check_retransmissions(9, 500, 1.0, 6);
}

/* ---- a client and a server endpoint ---- */

typedef struct {
  nb_simnet *net;
  nb_coap_ep *cli, *srv;
  nb_simnet_node *ncli, *nsrv;
  nb_addr acli, asrv;
  nb_ct_server s;
} pair;

static void pair_setup(pair *p, uint64_t seed, const nb_coap_ep_config *ccfg,
                       const nb_coap_ep_config *scfg) {
  memset(p, 0, sizeof *p);
  p->net = nb_simnet_new(seed);
  nb_coap_ep_config c = det_config();
  p->acli = nb_simnet_addr(1, 40000);
  p->asrv = nb_simnet_addr(2, PORT);
  p->ncli = nb_simnet_add_coap(p->net, &p->acli, ccfg ? ccfg : &c, &p->cli);
  p->nsrv = nb_simnet_add_coap(p->net, &p->asrv, scfg ? scfg : &c, &p->srv);
  assert_non_null(p->ncli);
  assert_non_null(p->nsrv);
  p->s.ep = p->srv;
  nb_coap_ep_set_handler(p->srv, nb_ct_handler, &p->s);
}

static void pair_free(pair *p) {
  nb_simnet_free(p->net);
  nb_ct_server_free(&p->s);
}

/* Datagram log kept by a tap. */
typedef struct {
  int n;
  nb_addr from[512];
  nb_time_ms at[512];
  uint8_t type[512], code[512];
  uint16_t mid[512];
  uint8_t tok_len[512];
  bool drop; /* drop the first datagram with drop_code and drop_type */
  uint8_t drop_code;
  uint8_t drop_type;
  bool dropped;
} taplog;

static bool tap_fn(void *user, const nb_addr *from, const nb_addr *to, const uint8_t *data,
                   size_t len, nb_time_ms now) {
  taplog *t = user;
  (void)to;
  nb_coap_msg m;
  if (nb_coap_parse(data, len, &m) != NB_OK || t->n >= 512) return true;
  if (t->drop && !t->dropped && m.code == t->drop_code && m.type == t->drop_type) {
    t->dropped = true;
    return false;
  }
  t->from[t->n] = *from;
  t->at[t->n] = now;
  t->type[t->n] = m.type;
  t->code[t->n] = m.code;
  t->mid[t->n] = m.mid;
  t->tok_len[t->n] = m.token_len;
  t->n++;
  return true;
}

static int tap_count(const taplog *t, const nb_addr *from, uint8_t type, uint8_t code) {
  int c = 0;
  for (int i = 0; i < t->n; i++) {
    if (nb_addr_equal(&t->from[i], from) && t->type[i] == type && t->code[i] == code) c++;
  }
  return c;
}

static void test_piggybacked_roundtrip(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 3, NULL, NULL);
  static const uint8_t body[] = "hello";
  p.s.body = body;
  p.s.body_len = 5;
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/x", NULL, 0);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(p.cli, &p.asrv, &req, true, nb_ct_resp_cb, &r, 0, NULL),
                   NB_OK);
  assert_true(nb_simnet_run_until_cond(p.net, 10000, nb_ct_resp_done, &r));
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.err[0], NB_OK);
  assert_int_equal(r.code[0], NB_COAP_CONTENT);
  assert_int_equal(r.payload_len, 5);
  assert_memory_equal(r.payload, "hello", 5);
  assert_int_equal(r.at[0], 20); /* 10 ms each way */
  assert_int_equal(p.s.calls, 1);
  /* Idle afterwards except for the dedup entry's expiry (EXCHANGE_LIFETIME = 247 s). */
  assert_int_equal(nb_coap_ep_next_deadline(p.cli), NB_TIME_NEVER);
  assert_int_equal(nb_coap_ep_next_deadline(p.srv), 10 + 247000);
  nb_simnet_run_until(p.net, 300000);
  assert_int_equal(nb_coap_ep_next_deadline(p.srv), NB_TIME_NEVER);
  nb_ct_resp_free(&r);
  pair_free(&p);
}

/* ---- deduplication ---- */

static void test_dedup_con(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 4, NULL, NULL);
  nb_simnet_link dup = {.duplicate = 1.0, .delay_min = 10, .delay_max = 10};
  nb_simnet_set_link_between(p.net, &p.acli, &p.asrv, &dup);
  taplog t = {0};
  nb_simnet_set_tap(p.net, tap_fn, &t);
  static const uint8_t body[] = "v1";
  p.s.body = body;
  p.s.body_len = 2;
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_POST, "/counter", "x", 1);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(p.cli, &p.asrv, &req, true, nb_ct_resp_cb, &r, 0, NULL),
                   NB_OK);
  nb_simnet_run_until(p.net, 60000);
  assert_int_equal(p.s.calls, 1); /* the handler ran once */
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.err[0], NB_OK);
  /* Both copies were answered with the same cached ACK. */
  assert_int_equal(tap_count(&t, &p.asrv, NB_COAP_ACK, NB_COAP_CONTENT), 2);
  int first = -1;
  for (int i = 0; i < t.n; i++) {
    if (nb_addr_equal(&t.from[i], &p.asrv)) {
      if (first < 0) first = i;
      assert_int_equal(t.mid[i], t.mid[first]);
    }
  }
  nb_coap_ep_stats st;
  nb_coap_ep_get_stats(p.srv, &st);
  assert_int_equal(st.duplicates, 1);
  nb_ct_resp_free(&r);
  pair_free(&p);
}

static void test_dedup_non(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 5, NULL, NULL);
  nb_simnet_link dup = {.duplicate = 1.0, .delay_min = 10, .delay_max = 10};
  nb_simnet_set_link_between(p.net, &p.acli, &p.asrv, &dup);
  taplog t = {0};
  nb_simnet_set_tap(p.net, tap_fn, &t);
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/n", NULL, 0);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(p.cli, &p.asrv, &req, false, nb_ct_resp_cb, &r, 0, NULL),
                   NB_OK);
  nb_simnet_run_until(p.net, 60000);
  assert_int_equal(p.s.calls, 1);
  assert_int_equal(tap_count(&t, &p.asrv, NB_COAP_NON, NB_COAP_CONTENT), 1); /* dup dropped */
  assert_int_equal(tap_count(&t, &p.acli, NB_COAP_NON, NB_COAP_GET), 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.err[0], NB_OK);
  nb_ct_resp_free(&r);
  pair_free(&p);
}

/* A duplicate of a CON whose answer is still pending gets the empty ACK again. */
static void test_dedup_pending_separate(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 6, NULL, NULL);
  p.s.mode = NB_CT_ANSWER_LATER;
  nb_simnet_link dup = {.duplicate = 1.0, .delay_min = 10, .delay_max = 10};
  nb_simnet_set_link_between(p.net, &p.acli, &p.asrv, &dup);
  taplog t = {0};
  nb_simnet_set_tap(p.net, tap_fn, &t);
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/slow", NULL, 0);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(p.cli, &p.asrv, &req, true, nb_ct_resp_cb, &r, 0, NULL),
                   NB_OK);
  nb_simnet_run_until(p.net, 1000);
  assert_int_equal(p.s.calls, 1);
  assert_int_equal(tap_count(&t, &p.asrv, NB_COAP_ACK, NB_COAP_EMPTY), 2);
  assert_int_equal(r.calls, 0);
  pair_free(&p);
  nb_ct_resp_free(&r);
}

/* ---- separate responses ---- */

static void test_separate_response(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 7, NULL, NULL);
  p.s.mode = NB_CT_ANSWER_LATER;
  taplog t = {0};
  nb_simnet_set_tap(p.net, tap_fn, &t);
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/slow", NULL, 0);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(p.cli, &p.asrv, &req, true, nb_ct_resp_cb, &r, 0, NULL),
                   NB_OK);
  nb_simnet_run_until(p.net, 5000);
  assert_int_equal(p.s.npending, 1);
  assert_int_equal(tap_count(&t, &p.asrv, NB_COAP_ACK, NB_COAP_EMPTY), 1);
  assert_int_equal(tap_count(&t, &p.acli, NB_COAP_CON, NB_COAP_GET), 1); /* acked: no resend */
  assert_int_equal(r.calls, 0);
  /* Drop the first separate response: the server retransmits it. */
  t.drop = true;
  t.drop_code = NB_COAP_CHANGED;
  t.drop_type = NB_COAP_CON;
  nb_coap_msg resp;
  nb_coap_msg_init(&resp, NB_COAP_ACK, NB_COAP_CHANGED, 0);
  nb_coap_msg_set_payload(&resp, "late", 4);
  assert_true(nb_addr_equal(nb_coap_exchange_peer(p.s.pending[0]), &p.acli));
  assert_int_equal(nb_coap_exchange_respond(p.s.pending[0], &resp, 5000), NB_OK);
  assert_true(nb_simnet_run_until_cond(p.net, 20000, nb_ct_resp_done, &r));
  assert_true(t.dropped);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.err[0], NB_OK);
  assert_int_equal(r.code[0], NB_COAP_CHANGED);
  assert_memory_equal(r.payload, "late", 4);
  assert_in_range(r.at[0], 5000 + 2000, 5000 + 3000 + 10);
  nb_simnet_run_until(p.net, 100000);
  /* The client ACKed the separate CON (same MID), and the server stopped retransmitting. */
  int sep = -1;
  for (int i = 0; i < t.n; i++) {
    if (t.type[i] == NB_COAP_CON && t.code[i] == NB_COAP_CHANGED) sep = i;
  }
  assert_true(sep >= 0);
  bool acked = false;
  for (int i = sep; i < t.n; i++) {
    acked |=
        nb_addr_equal(&t.from[i], &p.acli) && t.type[i] == NB_COAP_ACK && t.mid[i] == t.mid[sep];
  }
  assert_true(acked);
  assert_int_equal(tap_count(&t, &p.asrv, NB_COAP_CON, NB_COAP_CHANGED), 1); /* + 1 dropped */
  nb_coap_ep_stats st;
  nb_coap_ep_get_stats(p.srv, &st);
  assert_int_equal(st.retransmits, 1);
  assert_int_equal(r.calls, 1);
  nb_ct_resp_free(&r);
  pair_free(&p);
}

/* The empty ACK is lost: the client retransmits, the dedup cache answers with an empty ACK. */
static void test_separate_lost_ack(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 8, NULL, NULL);
  p.s.mode = NB_CT_ANSWER_LATER;
  taplog t = {.drop = true, .drop_code = NB_COAP_EMPTY, .drop_type = NB_COAP_ACK};
  nb_simnet_set_tap(p.net, tap_fn, &t);
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/slow", NULL, 0);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(p.cli, &p.asrv, &req, true, nb_ct_resp_cb, &r, 0, NULL),
                   NB_OK);
  nb_simnet_run_until(p.net, 10000);
  assert_true(t.dropped);
  assert_int_equal(p.s.calls, 1);
  assert_int_equal(tap_count(&t, &p.acli, NB_COAP_CON, NB_COAP_GET), 2);
  assert_int_equal(tap_count(&t, &p.asrv, NB_COAP_ACK, NB_COAP_EMPTY), 1);
  nb_coap_msg resp;
  nb_coap_msg_init(&resp, NB_COAP_ACK, NB_COAP_CONTENT, 0);
  assert_int_equal(nb_coap_exchange_respond(p.s.pending[0], &resp, 10000), NB_OK);
  assert_true(nb_simnet_run_until_cond(p.net, 20000, nb_ct_resp_done, &r));
  assert_int_equal(r.err[0], NB_OK);
  assert_int_equal(r.code[0], NB_COAP_CONTENT);
  nb_ct_resp_free(&r);
  pair_free(&p);
}

/* No separate response ever comes after the empty ACK: NB_ERR_TIMEOUT after response_timeout. */
static void test_separate_timeout(void **state) {
  (void)state;
  nb_coap_ep_config c = det_config();
  c.response_timeout = 30000;
  pair p;
  pair_setup(&p, 9, &c, NULL);
  p.s.mode = NB_CT_ANSWER_LATER;
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/never", NULL, 0);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(p.cli, &p.asrv, &req, true, nb_ct_resp_cb, &r, 0, NULL),
                   NB_OK);
  nb_simnet_run_until(p.net, 100000);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.err[0], NB_ERR_TIMEOUT);
  assert_int_equal(r.at[0], 20 + 30000); /* empty ACK at 20 ms */
  nb_ct_resp_free(&r);
  pair_free(&p);
}

static void test_non_timeout(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(10);
  nb_coap_ep_config c = det_config();
  c.response_timeout = 45000;
  nb_coap_ep *cli;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, &c, &cli));
  assert_non_null(nb_simnet_add_recorder(net, &a2, &rec));
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/a", NULL, 0);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(cli, &a2, &req, false, nb_ct_resp_cb, &r, 500, NULL), NB_OK);
  nb_simnet_run_until(net, 200000);
  assert_int_equal(nb_simnet_recorder_count(rec), 1); /* NON: never retransmitted */
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.err[0], NB_ERR_TIMEOUT);
  assert_int_equal(r.at[0], 500 + 45000);
  /* Default: EXCHANGE_LIFETIME. */
  nb_coap_ep *cli2;
  nb_addr a3 = nb_simnet_addr(3, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a3, NULL, &cli2));
  nb_ct_resp r2 = {0};
  assert_int_equal(nb_coap_ep_request(cli2, &a2, &req, false, nb_ct_resp_cb, &r2, 200000, NULL),
                   NB_OK);
  nb_simnet_run_until(net, 1000000);
  assert_int_equal(r2.calls, 1);
  assert_int_equal(r2.at[0], 200000 + 247000);
  nb_ct_resp_free(&r);
  nb_ct_resp_free(&r2);
  nb_simnet_free(net);
}

/* ---- RST ---- */

/* A scripted peer: sends a crafted message to `to`. */
static void send_msg(nb_simnet_node *from, const nb_addr *to, const nb_coap_msg *m) {
  uint8_t buf[2048];
  size_t len = nb_ct_serialize(m, buf, sizeof buf);
  nb_simnet_send(from, to, buf, len);
}

static void test_rst_to_request(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(11);
  nb_coap_ep *cli;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, NULL, &cli));
  nb_simnet_node *peer = nb_simnet_add_recorder(net, &a2, &rec);
  nb_coap_msg req, got, rst;
  nb_ct_request(&req, NB_COAP_GET, "/a", NULL, 0);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(cli, &a2, &req, true, nb_ct_resp_cb, &r, 0, NULL), NB_OK);
  nb_simnet_run_until(net, 100);
  nb_ct_parse_record(rec, 0, &got);
  /* A RST with another MID means nothing. */
  nb_coap_msg_init(&rst, NB_COAP_RST, NB_COAP_EMPTY, (uint16_t)(got.mid + 1));
  send_msg(peer, &a1, &rst);
  nb_simnet_run_until(net, 200);
  assert_int_equal(r.calls, 0);
  nb_coap_msg_init(&rst, NB_COAP_RST, NB_COAP_EMPTY, got.mid);
  send_msg(peer, &a1, &rst);
  nb_simnet_run_until(net, 300);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.err[0], NB_ERR_RESET);
  assert_true(r.last[0]);
  nb_simnet_run_until(net, 100000);
  assert_int_equal(nb_simnet_recorder_count(rec), 1); /* no retransmission after the RST */
  nb_ct_resp_free(&r);
  nb_simnet_free(net);
}

static void test_rst_unknown_token_and_ping(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(12);
  nb_coap_ep *ep;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, NULL, &ep));
  nb_simnet_node *peer = nb_simnet_add_recorder(net, &a2, &rec);
  nb_coap_msg m, got;
  /* CON response with a token we never used -> RST with its MID. */
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_CONTENT, 0x1234);
  nb_coap_msg_set_token(&m, (const uint8_t *)"\1\2\3\4", 4);
  send_msg(peer, &a1, &m);
  /* NON response, unknown token -> RST too (ends a forgotten observation). */
  nb_coap_msg_init(&m, NB_COAP_NON, NB_COAP_CONTENT, 0x2345);
  nb_coap_msg_set_token(&m, (const uint8_t *)"\5", 1);
  send_msg(peer, &a1, &m);
  /* CoAP ping. */
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_EMPTY, 0x3456);
  send_msg(peer, &a1, &m);
  /* An ACK or RST nobody waits for: silence. */
  nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_EMPTY, 0x4567);
  send_msg(peer, &a1, &m);
  nb_coap_msg_init(&m, NB_COAP_RST, NB_COAP_EMPTY, 0x5678);
  send_msg(peer, &a1, &m);
  nb_simnet_run_until(net, 1000);
  assert_int_equal(nb_simnet_recorder_count(rec), 3);
  static const uint16_t mids[] = {0x1234, 0x2345, 0x3456};
  for (size_t i = 0; i < 3; i++) {
    nb_ct_parse_record(rec, i, &got);
    assert_int_equal(got.type, NB_COAP_RST);
    assert_int_equal(got.code, NB_COAP_EMPTY);
    assert_int_equal(got.mid, mids[i]);
    assert_int_equal(got.token_len, 0);
  }
  nb_simnet_free(net);
}

/* Piggybacked responses must match MID and token. */
static void test_ack_matching(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(13);
  nb_coap_ep *cli;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, NULL, &cli));
  nb_simnet_node *peer = nb_simnet_add_recorder(net, &a2, &rec);
  nb_coap_msg req, got, ack;
  nb_ct_request(&req, NB_COAP_GET, "/a", NULL, 0);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(cli, &a2, &req, true, nb_ct_resp_cb, &r, 0, NULL), NB_OK);
  nb_simnet_run_until(net, 100);
  nb_ct_parse_record(rec, 0, &got);
  assert_int_equal(got.token_len, NB_COAP_GEN_TOKEN_LEN); /* 4 CSPRNG bytes, not 8 */
  /* Right MID, wrong token. */
  nb_coap_msg_init(&ack, NB_COAP_ACK, NB_COAP_CONTENT, got.mid);
  nb_coap_msg_set_token(&ack, (const uint8_t *)"xxxxxxxx", 8);
  send_msg(peer, &a1, &ack);
  /* Right token, wrong MID. */
  nb_coap_msg_init(&ack, NB_COAP_ACK, NB_COAP_CONTENT, (uint16_t)(got.mid + 7));
  nb_coap_msg_set_token(&ack, got.token, got.token_len);
  send_msg(peer, &a1, &ack);
  nb_simnet_run_until(net, 200);
  assert_int_equal(r.calls, 0);
  nb_coap_msg_init(&ack, NB_COAP_ACK, NB_COAP_CONTENT, got.mid);
  nb_coap_msg_set_token(&ack, got.token, got.token_len);
  nb_coap_msg_set_payload(&ack, "ok", 2);
  send_msg(peer, &a1, &ack);
  nb_simnet_run_until(net, 300);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.err[0], NB_OK);
  assert_memory_equal(r.payload, "ok", 2);
  /* A second copy of the ACK is ignored. */
  send_msg(peer, &a1, &ack);
  nb_simnet_run_until(net, 100000);
  assert_int_equal(r.calls, 1);
  assert_int_equal(nb_simnet_recorder_count(rec), 1);
  nb_ct_resp_free(&r);
  nb_simnet_free(net);
}

/* ---- NSTART ---- */

static void test_nstart_queue(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(14);
  nb_coap_ep *cli;
  nb_simnet_recorder *rec, *rec3;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT), a3 = nb_simnet_addr(3, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, NULL, &cli));
  nb_simnet_node *peer = nb_simnet_add_recorder(net, &a2, &rec);
  assert_non_null(nb_simnet_add_recorder(net, &a3, &rec3));
  nb_ct_resp r[3] = {{0}};
  nb_coap_msg req;
  for (int i = 0; i < 3; i++) {
    nb_ct_request(&req, NB_COAP_GET, i == 0 ? "/0" : i == 1 ? "/1" : "/2", NULL, 0);
    assert_int_equal(nb_coap_ep_request(cli, &a2, &req, true, nb_ct_resp_cb, &r[i], 0, NULL),
                     NB_OK);
  }
  /* Another peer is not held up. */
  nb_ct_resp r3 = {0};
  nb_ct_request(&req, NB_COAP_GET, "/other", NULL, 0);
  assert_int_equal(nb_coap_ep_request(cli, &a3, &req, true, nb_ct_resp_cb, &r3, 0, NULL), NB_OK);
  nb_simnet_run_until(net, 1000);
  assert_int_equal(nb_simnet_recorder_count(rec), 1);
  assert_int_equal(nb_simnet_recorder_count(rec3), 1);
  char path[32];
  for (int i = 0; i < 3; i++) {
    nb_coap_msg got, ack;
    size_t n = nb_simnet_recorder_count(rec);
    nb_ct_parse_record(rec, n - 1, &got);
    assert_int_equal(nb_coap_msg_get_path(&got, NB_COAP_OPT_URI_PATH, path, sizeof path), NB_OK);
    char want[4] = {'/', (char)('0' + i), 0};
    assert_string_equal(path, want);
    nb_time_ms t = nb_simnet_now(net);
    nb_coap_msg_init(&ack, NB_COAP_ACK, NB_COAP_CONTENT, got.mid);
    nb_coap_msg_set_token(&ack, got.token, got.token_len);
    send_msg(peer, &a1, &ack);
    nb_simnet_run_until(net, t + 1000);
    assert_int_equal(r[i].calls, 1);
    assert_int_equal(r[i].err[0], NB_OK);
    assert_int_equal(nb_simnet_recorder_count(rec), (size_t)(i < 2 ? i + 2 : 3));
  }
  nb_ct_resp_free(&r3);
  for (int i = 0; i < 3; i++) nb_ct_resp_free(&r[i]);
  nb_simnet_free(net);
}

/* NSTART 2 lets two go; an empty ACK frees the slot (RFC 7252 4.7); a timeout frees it too. */
static void test_nstart_two_and_timeout(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(15);
  nb_coap_ep_config c = det_config();
  c.nstart = 2;
  nb_coap_ep *cli;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, &c, &cli));
  nb_simnet_node *peer = nb_simnet_add_recorder(net, &a2, &rec);
  nb_ct_resp r[4] = {{0}};
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/q", NULL, 0);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(nb_coap_ep_request(cli, &a2, &req, true, nb_ct_resp_cb, &r[i], 0, NULL),
                     NB_OK);
  }
  nb_simnet_run_until(net, 100);
  assert_int_equal(nb_simnet_recorder_count(rec), 2);
  nb_coap_msg got, ack;
  nb_ct_parse_record(rec, 0, &got);
  nb_coap_msg_init(&ack, NB_COAP_ACK, NB_COAP_EMPTY, got.mid);
  send_msg(peer, &a1, &ack);
  nb_simnet_run_until(net, 200);
  assert_int_equal(nb_simnet_recorder_count(rec), 3);
  /* Nobody answers more: the first unacknowledged one to time out (~93 s) releases the
   * slot the last request waits for. */
  nb_simnet_run_until(net, 100000);
  assert_int_equal(r[1].calls + r[2].calls, 2);
  assert_int_equal(r[1].err[0], NB_ERR_TIMEOUT);
  nb_time_ms freed = r[1].at[0] < r[2].at[0] ? r[1].at[0] : r[2].at[0];
  uint16_t mids[8];
  int nmids = 0;
  nb_time_ms fourth_at = -1;
  for (size_t i = 0; i < nb_simnet_recorder_count(rec); i++) {
    nb_ct_parse_record(rec, i, &got);
    bool seen = false;
    for (int k = 0; k < nmids; k++) seen |= mids[k] == got.mid;
    if (seen) continue;
    assert_true(nmids < 8);
    mids[nmids++] = got.mid;
    if (nmids == 4) fourth_at = nb_simnet_recorder_get(rec, i)->at;
  }
  assert_int_equal(nmids, 4);
  assert_int_equal(fourth_at, freed + 10);
  nb_simnet_run_until(net, 400000);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(r[i].calls, 1);
    assert_int_equal(r[i].err[0], NB_ERR_TIMEOUT);
    nb_ct_resp_free(&r[i]);
  }
  nb_simnet_free(net);
}

/* Cancel: the callback runs with NB_ERR_CANCELLED, a queued one never goes out. */
static void test_cancel_request(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(16);
  nb_coap_ep *cli;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, NULL, &cli));
  assert_non_null(nb_simnet_add_recorder(net, &a2, &rec));
  nb_ct_resp r[2] = {{0}};
  nb_coap_req_id id[2];
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/c", NULL, 0);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(nb_coap_ep_request(cli, &a2, &req, true, nb_ct_resp_cb, &r[i], 0, &id[i]),
                     NB_OK);
  }
  assert_int_equal(nb_coap_ep_cancel(cli, id[1], true, 10), NB_OK);
  assert_int_equal(r[1].calls, 1);
  assert_int_equal(r[1].err[0], NB_ERR_CANCELLED);
  assert_int_equal(nb_coap_ep_cancel(cli, id[1], true, 10), NB_ERR_NOT_FOUND);
  assert_int_equal(nb_coap_ep_cancel(cli, id[0], false, 10), NB_OK);
  nb_simnet_run_until(net, 200000);
  assert_int_equal(nb_simnet_recorder_count(rec), 1);
  assert_int_equal(r[0].calls, 1);
  assert_int_equal(r[0].err[0], NB_ERR_CANCELLED);
  assert_int_equal(nb_coap_ep_next_deadline(cli), NB_TIME_NEVER);
  nb_simnet_free(net);
}

/* ---- malformed input ---- */

typedef struct {
  const char *hex;
  bool rst; /* expect a RST with MID 0x1234 */
} malformed_case;

static void test_malformed(void **state) {
  (void)state;
  static const malformed_case cases[] = {
      {"49 01 12 34 00", true},    /* CON, token length 9 */
      {"44 01 12 34 01 02", true}, /* CON, token runs past the end */
      {"40 01 12 34 d1", true},    /* CON, option delta ext byte missing */
      {"40 01 12 34 f1 00", true}, /* CON, delta nibble 15 */
      {"40 01 12 34 ff", true},    /* CON, payload marker, no payload */
      {"40 00 12 34 ff 01", true}, /* CON empty message with payload */
      {"40 20 12 34", true},       /* CON, class 1 */
      {"40 c5 12 34", true},       /* CON, class 6 */
      {"40 e0 12 34", true},       /* CON, class 7 */
      {"50 e0 12 34", false},      /* NON, class 7 */
      {"59 01 12 34", false},      /* NON, token length 9 */
      {"69 01 12 34", false},      /* ACK, token length 9 */
      {"79 00 12 34", false},      /* RST, malformed */
      {"80 01 12 34", false},      /* version 2 */
      {"40 01 12", false},         /* shorter than a header */
      {"", false},                 /* empty datagram */
  };
  nb_simnet *net = nb_simnet_new(17);
  nb_coap_ep *ep;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, NULL, &ep));
  nb_simnet_node *peer = nb_simnet_add_recorder(net, &a2, &rec);
  nb_ct_server s = {0};
  nb_coap_ep_set_handler(ep, nb_ct_handler, &s);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t buf[64];
    ssize_t len = nb_test_unhex(cases[i].hex, buf, sizeof buf);
    assert_true(len >= 0);
    nb_simnet_recorder_clear(rec);
    nb_simnet_send(peer, &a1, buf, (size_t)len);
    nb_simnet_run_until(net, nb_simnet_now(net) + 100);
    if (cases[i].rst) {
      nb_coap_msg got;
      assert_int_equal(nb_simnet_recorder_count(rec), 1);
      nb_ct_parse_record(rec, 0, &got);
      assert_int_equal(got.type, NB_COAP_RST);
      assert_int_equal(got.mid, 0x1234);
    } else {
      assert_int_equal(nb_simnet_recorder_count(rec), 0);
    }
  }
  assert_int_equal(s.calls, 0);
  nb_coap_ep_stats st;
  nb_coap_ep_get_stats(ep, &st);
  assert_int_equal(st.malformed, sizeof cases / sizeof cases[0]);
  nb_ct_server_free(&s);
  nb_simnet_free(net);
}

/* Unknown critical option in a request: 4.02; unknown elective: ignored. */
static void test_bad_option(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(18);
  nb_coap_ep *ep;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, NULL, &ep));
  nb_simnet_node *peer = nb_simnet_add_recorder(net, &a2, &rec);
  nb_ct_server s = {0};
  nb_coap_ep_set_handler(ep, nb_ct_handler, &s);
  nb_coap_msg m, got;
  for (int type = NB_COAP_CON; type <= NB_COAP_NON; type++) {
    nb_coap_msg_init(&m, (uint8_t)type, NB_COAP_GET, (uint16_t)(0x100 + type));
    nb_coap_msg_set_token(&m, (const uint8_t *)"tk", 2);
    nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/a");
    nb_coap_msg_add_uint(&m, 2049, 7); /* unknown, critical (odd) */
    nb_simnet_recorder_clear(rec);
    send_msg(peer, &a1, &m);
    nb_simnet_run_until(net, nb_simnet_now(net) + 100);
    assert_int_equal(nb_simnet_recorder_count(rec), 1);
    nb_ct_parse_record(rec, 0, &got);
    assert_int_equal(got.code, NB_COAP_BAD_OPTION);
    assert_int_equal(got.type, type == NB_COAP_CON ? NB_COAP_ACK : NB_COAP_NON);
    if (type == NB_COAP_CON) assert_int_equal(got.mid, m.mid);
    assert_int_equal(got.token_len, 2);
    assert_memory_equal(got.token, "tk", 2);
  }
  /* A critical known option with a bad length (Uri-Host empty) is a bad option too. */
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_GET, 0x200);
  nb_coap_msg_add_option(&m, NB_COAP_OPT_URI_HOST, "", 0);
  nb_simnet_recorder_clear(rec);
  send_msg(peer, &a1, &m);
  nb_simnet_run_until(net, nb_simnet_now(net) + 100);
  nb_ct_parse_record(rec, 0, &got);
  assert_int_equal(got.code, NB_COAP_BAD_OPTION);
  assert_int_equal(s.calls, 0);
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_GET, 0x300);
  nb_coap_msg_add_uint(&m, 2048, 7); /* unknown, elective */
  nb_simnet_recorder_clear(rec);
  send_msg(peer, &a1, &m);
  nb_simnet_run_until(net, nb_simnet_now(net) + 100);
  assert_int_equal(s.calls, 1);
  nb_ct_parse_record(rec, 0, &got);
  assert_int_equal(got.code, NB_COAP_CONTENT);
  nb_ct_server_free(&s);
  nb_simnet_free(net);
}

/* A response to our request with an unknown critical option is rejected. */
static void test_bad_option_in_response(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(19);
  nb_coap_ep *cli;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, NULL, &cli));
  nb_simnet_node *peer = nb_simnet_add_recorder(net, &a2, &rec);
  nb_coap_msg req, got, resp;
  nb_ct_request(&req, NB_COAP_GET, "/a", NULL, 0);
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(cli, &a2, &req, true, nb_ct_resp_cb, &r, 0, NULL), NB_OK);
  nb_simnet_run_until(net, 100);
  nb_ct_parse_record(rec, 0, &got);
  nb_coap_msg_init(&resp, NB_COAP_CON, NB_COAP_CONTENT, 0x999);
  nb_coap_msg_set_token(&resp, got.token, got.token_len);
  nb_coap_msg_add_uint(&resp, 2049, 1);
  send_msg(peer, &a1, &resp);
  nb_simnet_run_until(net, 200);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.err[0], NB_ERR_COAP_BAD_OPTION);
  nb_ct_parse_record(rec, 1, &got);
  assert_int_equal(got.type, NB_COAP_RST);
  assert_int_equal(got.mid, 0x999);
  nb_ct_resp_free(&r);
  nb_simnet_free(net);
}

static void test_no_handler(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(20);
  nb_coap_ep *ep;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, NULL, &ep));
  nb_simnet_node *peer = nb_simnet_add_recorder(net, &a2, &rec);
  nb_coap_msg m, got;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_PUT, 0x42);
  send_msg(peer, &a1, &m);
  nb_simnet_run_until(net, 100);
  assert_int_equal(nb_simnet_recorder_count(rec), 1);
  nb_ct_parse_record(rec, 0, &got);
  assert_int_equal(got.type, NB_COAP_ACK);
  assert_int_equal(got.code, NB_COAP_NOT_FOUND);
  assert_int_equal(got.mid, 0x42);
  nb_simnet_free(net);
}

/* Random garbage never crashes (ASan/UBSan watch) and CONs are answered with at most one
 * datagram each. */
static void test_garbage(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(21);
  nb_coap_ep *ep;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, NULL, &ep));
  nb_simnet_node *peer = nb_simnet_add_recorder(net, &a2, &rec);
  nb_ct_server s = {0};
  nb_coap_ep_set_handler(ep, nb_ct_handler, &s);
  nb_simnet_rng rng;
  nb_simnet_rng_seed(&rng, 99);
  for (int i = 0; i < 20000; i++) {
    uint8_t buf[48];
    size_t len = (size_t)(nb_simnet_rng_next(&rng) % sizeof buf);
    nb_simnet_rng_fill(&rng, buf, len);
    if (len > 0 && (i & 1)) buf[0] = (uint8_t)(0x40 | (buf[0] & 0x3f)); /* version 1 */
    nb_simnet_send(peer, &a1, buf, len);
    if (i % 100 == 0) nb_simnet_run_until(net, nb_simnet_now(net) + 50);
  }
  nb_simnet_run_until(net, nb_simnet_now(net) + 500000);
  nb_coap_ep_stats st;
  nb_coap_ep_get_stats(ep, &st);
  assert_true(st.malformed > 1000);
  assert_true(nb_simnet_recorder_count(rec) <= 20000 + st.retransmits);
  nb_ct_server_free(&s);
  nb_simnet_free(net);
}

/* ---- many peers, driven directly (no simnet) ---- */

typedef struct {
  size_t n;
  uint16_t port[65536];
  uint8_t code[65536];
  uint8_t type[65536];
} sink;

static void sink_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  sink *k = user;
  nb_coap_msg m;
  assert_int_equal(nb_coap_parse(data, len, &m), NB_OK);
  if (k->n < 65536) {
    k->port[k->n] = peer->port;
    k->code[k->n] = m.code;
    k->type[k->n] = m.type;
  }
  k->n++;
}

static void answer_now(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                       const nb_coap_msg *req, nb_time_ms now) {
  (void)user;
  (void)peer;
  (void)req;
  nb_coap_msg resp;
  nb_coap_msg_init(&resp, NB_COAP_ACK, NB_COAP_CONTENT, 0);
  assert_int_equal(nb_coap_exchange_respond(ex, &resp, now), NB_OK);
}

/* 30000 peers each send a request and a duplicate; 30000 requests go to 30000 peers. */
static void test_many_peers(void **state) {
  (void)state;
  enum { PEERS = 30000 };
  sink *k = calloc(1, sizeof *k);
  assert_non_null(k);
  nb_simnet_rng rng;
  nb_simnet_rng_seed(&rng, 5);
  nb_coap_ep_config c;
  nb_coap_ep_config_default(&c);
  c.random = nb_simnet_rng_fill;
  c.random_user = &rng;
  c.dedup_max = 2 * PEERS;
  nb_coap_ep *srv;
  assert_int_equal(nb_coap_ep_new(&c, sink_send, k, &srv), NB_OK);
  nb_coap_ep_set_handler(srv, answer_now, NULL);
  uint8_t buf[64];
  for (int round = 0; round < 2; round++) {
    for (uint32_t i = 0; i < PEERS; i++) {
      nb_addr a = nb_simnet_addr(i / 60000 + 1, (uint16_t)(1024 + i % 60000));
      nb_coap_msg m;
      nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_GET, (uint16_t)i);
      nb_coap_msg_set_token(&m, (const uint8_t *)&i, sizeof i);
      nb_coap_ep_receive(srv, &a, buf, nb_ct_serialize(&m, buf, sizeof buf), round * 1000);
    }
  }
  assert_int_equal(k->n, 2 * PEERS); /* each duplicate got the cached answer */
  for (size_t i = 0; i < k->n; i++) {
    assert_int_equal(k->type[i], NB_COAP_ACK);
    assert_int_equal(k->code[i], NB_COAP_CONTENT);
    assert_int_equal(k->port[i], 1024 + i % PEERS);
  }
  nb_coap_ep_stats st;
  nb_coap_ep_get_stats(srv, &st);
  assert_int_equal(st.duplicates, PEERS);
  nb_coap_ep_free(srv);

  k->n = 0;
  nb_coap_ep *cli;
  assert_int_equal(nb_coap_ep_new(&c, sink_send, k, &cli), NB_OK);
  nb_ct_resp *r = calloc(PEERS, sizeof *r);
  assert_non_null(r);
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/x", NULL, 0);
  for (uint32_t i = 0; i < PEERS; i++) {
    nb_addr a = nb_simnet_addr(7, (uint16_t)(1024 + i));
    assert_int_equal(nb_coap_ep_request(cli, &a, &req, true, nb_ct_resp_cb, &r[i], 0, NULL), NB_OK);
  }
  assert_int_equal(k->n, PEERS); /* NSTART is per peer: nobody waits */
  int ticks = 0;
  for (nb_time_ms t = nb_coap_ep_next_deadline(cli); t <= 400000;
       t = nb_coap_ep_next_deadline(cli)) {
    nb_coap_ep_tick(cli, t);
    ticks++;
  }
  assert_int_equal(k->n, 5 * PEERS); /* 4 retransmissions each */
  assert_true(ticks >= 5);
  assert_int_equal(nb_coap_ep_next_deadline(cli), NB_TIME_NEVER);
  for (uint32_t i = 0; i < PEERS; i++) {
    assert_int_equal(r[i].calls, 1);
    assert_int_equal(r[i].err[0], NB_ERR_TIMEOUT);
  }
  nb_coap_ep_free(cli);
  free(r);
  free(k);
}

/* ---- Message IDs per peer (RFC 7252 4.4) ---- */

enum { MIDLOG_MAX = 256 };

/* Every datagram the endpoint sends; the MIDs (and times) of those to `watched`. */
typedef struct {
  nb_addr watched;
  nb_time_ms now;
  size_t total, n;
  uint16_t mid[MIDLOG_MAX];
  nb_time_ms at[MIDLOG_MAX];
} mid_log;

static void mid_log_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  mid_log *l = user;
  l->total++;
  if (!nb_addr_equal(peer, &l->watched)) return;
  nb_coap_msg m;
  assert_int_equal(nb_coap_parse(data, len, &m), NB_OK);
  assert_true(l->n < MIDLOG_MAX);
  l->mid[l->n] = m.mid;
  l->at[l->n] = l->now;
  l->n++;
}

static void ignore_response(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                            nb_time_ms now) {
  (void)user;
  (void)err;
  (void)resp;
  (void)last;
  (void)now;
}

enum { MID_OTHERS = 1023, MID_ROUNDS = 80, MID_PERIOD = 3000 };

/* Every MID_PERIOD: one NON request to each of MID_OTHERS busy peers, then one to the watched
 * peer, so the watched peer gets every 1024th message the endpoint sends. Requests end
 * unanswered after 1 s, so none of the watched peer's IDs is still tracked when the next goes. */
static void mid_rounds(nb_coap_ep *ep, mid_log *l, nb_time_ms start) {
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/n", NULL, 0);
  for (int round = 0; round < MID_ROUNDS; round++) {
    nb_time_ms now = start + (nb_time_ms)round * MID_PERIOD;
    l->now = now;
    nb_coap_ep_tick(ep, now);
    for (uint16_t i = 0; i < MID_OTHERS; i++) {
      nb_addr a = nb_simnet_addr(4, (uint16_t)(1024 + i));
      assert_int_equal(nb_coap_ep_request(ep, &a, &req, false, ignore_response, NULL, now, NULL),
                       NB_OK);
    }
    assert_int_equal(
        nb_coap_ep_request(ep, &l->watched, &req, false, ignore_response, NULL, now, NULL), NB_OK);
  }
}

/* An endpoint sending more than 65536 messages within EXCHANGE_LIFETIME (here 81920 in 240 s),
 * one every 3 s to a quiet peer: the quiet peer never gets a Message ID twice within
 * EXCHANGE_LIFETIME, which one counter shared by all peers would do after 64 rounds. */
static void test_mid_per_peer(void **state) {
  (void)state;
  nb_simnet_rng rng;
  nb_simnet_rng_seed(&rng, 9);
  nb_coap_ep_config c;
  nb_coap_ep_config_default(&c);
  c.random = nb_simnet_rng_fill;
  c.random_user = &rng;
  c.response_timeout = 1000;
  mid_log *l = calloc(1, sizeof *l);
  assert_non_null(l);
  l->watched = nb_simnet_addr(3, PORT);
  nb_coap_ep *ep;
  assert_int_equal(nb_coap_ep_new(&c, mid_log_send, l, &ep), NB_OK);
  const nb_time_ms lifetime = 247000; /* EXCHANGE_LIFETIME derived from the defaults */
  mid_rounds(ep, l, 0);
  assert_int_equal(l->total, (size_t)MID_ROUNDS * (MID_OTHERS + 1));
  assert_true(l->total > 65536);
  assert_true((nb_time_ms)(MID_ROUNDS - 1) * MID_PERIOD < lifetime);
  assert_int_equal(l->n, MID_ROUNDS);
  size_t repeats = 0;
  for (size_t i = 0; i < l->n; i++) {
    for (size_t j = i + 1; j < l->n; j++) {
      repeats += l->at[j] - l->at[i] < lifetime && l->mid[i] == l->mid[j];
    }
  }
  nb_coap_ep_stats st;
  nb_coap_ep_get_stats(ep, &st);
  nb_coap_ep_free(ep);
  free(l);
  assert_int_equal(repeats, 0);
  assert_int_equal(st.mid_peers, MID_OTHERS + 1);
}

/* Per-peer counters are bounded: a peer quiet for EXCHANGE_LIFETIME loses its counter (at a
 * tick, or when any peer is given an ID), and gets a fresh one when it is addressed again. */
static void test_mid_counters_expire(void **state) {
  (void)state;
  nb_simnet_rng rng;
  nb_simnet_rng_seed(&rng, 10);
  nb_coap_ep_config c;
  nb_coap_ep_config_default(&c);
  c.random = nb_simnet_rng_fill;
  c.random_user = &rng;
  c.response_timeout = 1000;
  mid_log *l = calloc(1, sizeof *l);
  assert_non_null(l);
  l->watched = nb_simnet_addr(3, PORT);
  nb_coap_ep *ep;
  assert_int_equal(nb_coap_ep_new(&c, mid_log_send, l, &ep), NB_OK);
  const nb_time_ms lifetime = 247000;
  nb_coap_ep_stats st;
  nb_coap_ep_get_stats(ep, &st);
  assert_int_equal(st.mid_peers, 0);
  mid_rounds(ep, l, 0);
  const nb_time_ms last = (nb_time_ms)(MID_ROUNDS - 1) * MID_PERIOD;

  /* Requests are over, but the peers may still remember our IDs: counters stay. */
  nb_coap_ep_tick(ep, last + 2000);
  assert_int_equal(nb_coap_ep_next_deadline(ep), NB_TIME_NEVER);
  nb_coap_ep_tick(ep, last + lifetime - 1);
  nb_coap_ep_get_stats(ep, &st);
  assert_int_equal(st.mid_peers, MID_OTHERS + 1);
  nb_coap_ep_tick(ep, last + lifetime);
  nb_coap_ep_get_stats(ep, &st);
  assert_int_equal(st.mid_peers, 0);

  /* Without ticks: handing out an ID forgets the stale counters first. */
  mid_rounds(ep, l, 2 * last + 2 * lifetime);
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/n", NULL, 0);
  nb_time_ms later = 3 * last + 3 * lifetime;
  assert_int_equal(
      nb_coap_ep_request(ep, &l->watched, &req, false, ignore_response, NULL, later, NULL), NB_OK);
  nb_coap_ep_get_stats(ep, &st);
  assert_int_equal(st.mid_peers, 1);
  assert_int_equal(l->n, 2 * MID_ROUNDS + 1);
  nb_coap_ep_free(ep);
  free(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_retransmit_timing),
      cmocka_unit_test(test_retransmit_configurable),
      cmocka_unit_test(test_piggybacked_roundtrip),
      cmocka_unit_test(test_dedup_con),
      cmocka_unit_test(test_dedup_non),
      cmocka_unit_test(test_dedup_pending_separate),
      cmocka_unit_test(test_separate_response),
      cmocka_unit_test(test_separate_lost_ack),
      cmocka_unit_test(test_separate_timeout),
      cmocka_unit_test(test_non_timeout),
      cmocka_unit_test(test_rst_to_request),
      cmocka_unit_test(test_rst_unknown_token_and_ping),
      cmocka_unit_test(test_ack_matching),
      cmocka_unit_test(test_nstart_queue),
      cmocka_unit_test(test_nstart_two_and_timeout),
      cmocka_unit_test(test_cancel_request),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_bad_option),
      cmocka_unit_test(test_bad_option_in_response),
      cmocka_unit_test(test_no_handler),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_many_peers),
      cmocka_unit_test(test_mid_per_peer),
      cmocka_unit_test(test_mid_counters_expire),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
