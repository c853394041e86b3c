/* Observe (RFC 7641) through the CoAP layer, virtual time: registration and notifications,
 * reordering and the 128 s rule, active and passive cancel, CON timeouts, re-registration,
 * the 24 h CON rule, error notifications, block-wise notifications (RFC 7959 2.6). */
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

typedef struct {
  nb_simnet *net;
  nb_coap_ep *cli, *srv;
  nb_simnet_node *ncli;
  nb_addr acli, asrv;
  nb_ct_server s;
  nb_ct_resp r;
  nb_coap_req_id id;
} pair;

/* Notification types and codes seen on the wire. */
typedef struct {
  int n;
  nb_addr from[1024];
  uint8_t type[1024], code[1024];
  nb_time_ms at[1024];
} taplog;

static bool tap_fn(void *user, const nb_addr *from, const nb_addr *to, const uint8_t *data,
                   size_t len, nb_time_ms now) {
  taplog *t = user;
  (void)to;
  nb_coap_msg m;
  if (t->n < 1024 && nb_coap_parse(data, len, &m) == NB_OK) {
    t->from[t->n] = *from;
    t->type[t->n] = m.type;
    t->code[t->n] = m.code;
    t->at[t->n] = now;
    t->n++;
  }
  return true;
}

static int tap_count(const taplog *t, const nb_addr *from, uint8_t type, uint8_t code) {
  int c = 0;
  for (int i = 0; i < t->n; i++) {
    c += nb_addr_equal(&t->from[i], from) && t->type[i] == type && t->code[i] == code;
  }
  return c;
}

static void observe_req(nb_coap_msg *m, const char *path) {
  nb_ct_request(m, NB_COAP_GET, path, NULL, 0);
  assert_int_equal(nb_coap_msg_add_uint(m, NB_COAP_OPT_OBSERVE, 0), NB_OK);
}

/* Client and server endpoints; the client registers on /obs. */
static void pair_setup(pair *p, uint64_t seed, bool confirmable) {
  memset(p, 0, sizeof *p);
  p->net = nb_simnet_new(seed);
  p->acli = nb_simnet_addr(1, 40000);
  p->asrv = nb_simnet_addr(2, PORT);
  p->ncli = nb_simnet_add_coap(p->net, &p->acli, NULL, &p->cli);
  assert_non_null(p->ncli);
  assert_non_null(nb_simnet_add_coap(p->net, &p->asrv, NULL, &p->srv));
  p->s.mode = NB_CT_OBSERVE;
  static const uint8_t v0[] = "v0";
  p->s.body = v0;
  p->s.body_len = 2;
  nb_coap_ep_set_handler(p->srv, nb_ct_handler, &p->s);
  nb_coap_msg req;
  observe_req(&req, "/obs");
  assert_int_equal(
      nb_coap_ep_request(p->cli, &p->asrv, &req, confirmable, nb_ct_resp_cb, &p->r, 0, &p->id),
      NB_OK);
  nb_simnet_run_until(p->net, 1000);
  assert_int_equal(p->s.nobs, 1);
  assert_non_null(p->s.obs[0]);
  assert_int_equal(p->r.calls, 1);
  assert_int_equal(p->r.err[0], NB_OK);
  assert_false(p->r.last[0]);
  assert_true(p->r.has_observe[0]);
}

static void pair_free(pair *p) {
  nb_ct_resp_free(&p->r);
  nb_ct_server_free(&p->s);
  nb_simnet_free(p->net);
}

static nb_err notify(pair *p, const char *text, bool con) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_NON, NB_COAP_CONTENT, 0);
  nb_coap_msg_set_payload(&m, text, strlen(text));
  return nb_coap_ep_notify(p->srv, p->s.obs[0], &m, con, nb_simnet_now(p->net));
}

static void test_observe_notifications(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 1, true);
  taplog t = {0};
  nb_simnet_set_tap(p.net, tap_fn, &t);
  static const char *texts[] = {"n1", "n2", "n3"};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(notify(&p, texts[i], false), NB_OK);
    nb_simnet_run_until(p.net, nb_simnet_now(p.net) + 1000);
    assert_int_equal(p.r.calls, 2 + i);
    assert_int_equal(p.r.err[1 + i], NB_OK);
    assert_false(p.r.last[1 + i]);
    assert_true(p.r.has_observe[1 + i]);
    assert_int_equal(p.r.observe[1 + i], (p.r.observe[i] + 1) & 0xffffff);
    assert_memory_equal(p.r.payload, texts[i], 2);
  }
  assert_int_equal(tap_count(&t, &p.asrv, NB_COAP_NON, NB_COAP_CONTENT), 3);
  /* A confirmable one is acknowledged, and not retransmitted. */
  assert_int_equal(notify(&p, "c4", true), NB_OK);
  nb_simnet_run_until(p.net, nb_simnet_now(p.net) + 100000);
  assert_int_equal(p.r.calls, 5);
  assert_int_equal(tap_count(&t, &p.asrv, NB_COAP_CON, NB_COAP_CONTENT), 1);
  assert_int_equal(tap_count(&t, &p.acli, NB_COAP_ACK, NB_COAP_EMPTY), 1);
  nb_coap_ep_stats st;
  nb_coap_ep_get_stats(p.srv, &st);
  assert_int_equal(st.retransmits, 0);
  assert_int_equal(p.s.gone, 0);
  pair_free(&p);
}

/* A server that does not accept the observation answers without Observe: the request ends. */
static void test_observe_not_accepted(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(2);
  nb_coap_ep *cli, *srv;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, NULL, &cli));
  assert_non_null(nb_simnet_add_coap(net, &a2, NULL, &srv));
  nb_ct_server s = {0};
  nb_coap_ep_set_handler(srv, nb_ct_handler, &s);
  nb_coap_msg req;
  observe_req(&req, "/plain");
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(cli, &a2, &req, true, nb_ct_resp_cb, &r, 0, NULL), NB_OK);
  nb_simnet_run_until(net, 1000);
  assert_int_equal(r.calls, 1);
  assert_true(r.last[0]);
  assert_false(r.has_observe[0]);
  nb_ct_resp_free(&r);
  nb_ct_server_free(&s);
  nb_simnet_free(net);
}

/* ---- ordering, with a scripted server ---- */

static void send_notification(nb_simnet_node *from, const nb_addr *to, const nb_coap_msg *reg,
                              uint8_t type, uint16_t mid, uint32_t seq) {
  nb_coap_msg m;
  uint8_t buf[128];
  nb_coap_msg_init(&m, type, NB_COAP_CONTENT, mid);
  nb_coap_msg_set_token(&m, reg->token, reg->token_len);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_OBSERVE, seq);
  nb_coap_msg_set_payload(&m, &seq, sizeof seq);
  nb_simnet_send(from, to, buf, nb_ct_serialize(&m, buf, sizeof buf));
}

static void test_observe_ordering(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(3);
  nb_coap_ep *cli;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, NULL, &cli));
  nb_simnet_node *peer = nb_simnet_add_recorder(net, &a2, &rec);
  nb_coap_msg req, reg, ack;
  observe_req(&req, "/o");
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(cli, &a2, &req, true, nb_ct_resp_cb, &r, 0, NULL), NB_OK);
  nb_simnet_run_until(net, 100);
  nb_ct_parse_record(rec, 0, &reg);
  uint32_t ov;
  assert_int_equal(nb_coap_msg_get_uint(&reg, NB_COAP_OPT_OBSERVE, &ov), NB_OK);
  assert_int_equal(ov, 0);
  uint8_t buf[128];
  nb_coap_msg_init(&ack, NB_COAP_ACK, NB_COAP_CONTENT, reg.mid);
  nb_coap_msg_set_token(&ack, reg.token, reg.token_len);
  nb_coap_msg_add_uint(&ack, NB_COAP_OPT_OBSERVE, 10);
  nb_simnet_send(peer, &a1, buf, nb_ct_serialize(&ack, buf, sizeof buf));
  nb_simnet_run_until(net, 200);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.observe[0], 10);

  struct {
    uint32_t seq;
    nb_time_ms wait; /* before sending */
    bool fresh;
  } steps[] = {
      {12, 0, true},        {11, 0, false}, /* reordered: older */
      {12, 0, false},                       /* same number */
      {0x80000b, 0, true},                  /* 12 -> 2^23 + 11: still ahead (diff < 2^23) */
      {3, 0, true},                         /* wrapped around */
      {0x800004, 0, false},                 /* from 3, more than 2^23 ahead: counts as older */
      {2, 127000, false},                   /* older, and only 127 s later */
      {1, 2000, true}, /* older by number, but more than 128 s after the last */
      {1, 100, false}, /* the same number again */
  };
  int expect = 1;
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    nb_simnet_run_until(net, nb_simnet_now(net) + steps[i].wait);
    send_notification(peer, &a1, &reg, NB_COAP_CON, (uint16_t)(0x500 + i), steps[i].seq);
    nb_simnet_run_until(net, nb_simnet_now(net) + 100);
    if (steps[i].fresh) expect++;
    assert_int_equal(r.calls, expect);
    if (steps[i].fresh) {
      assert_int_equal(r.observe[expect - 1], steps[i].seq);
      assert_false(r.last[expect - 1]);
    }
    /* Dropped or not, the CON was acknowledged. */
    nb_coap_msg got;
    nb_ct_parse_record(rec, nb_simnet_recorder_count(rec) - 1, &got);
    assert_int_equal(got.type, NB_COAP_ACK);
    assert_int_equal(got.mid, 0x500 + i);
  }
  nb_ct_resp_free(&r);
  nb_simnet_free(net);
}

/* ---- cancellation ---- */

static void test_cancel_active(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 4, true);
  taplog t = {0};
  nb_simnet_set_tap(p.net, tap_fn, &t);
  assert_int_equal(nb_coap_ep_cancel(p.cli, p.id, true, nb_simnet_now(p.net)), NB_OK);
  assert_int_equal(p.r.calls, 2);
  assert_int_equal(p.r.err[1], NB_ERR_CANCELLED);
  assert_true(p.r.last[1]);
  nb_simnet_run_until(p.net, nb_simnet_now(p.net) + 1000);
  /* The server saw GET Observe=1 with the registration's token: observer removed, and the
   * GET itself answered normally. */
  assert_int_equal(p.s.gone, 1);
  assert_int_equal(p.s.gone_why, NB_ERR_CANCELLED);
  assert_null(p.s.obs[0]);
  assert_int_equal(p.s.calls, 2);
  assert_int_equal(tap_count(&t, &p.acli, NB_COAP_CON, NB_COAP_GET), 1);
  assert_int_equal(tap_count(&t, &p.asrv, NB_COAP_ACK, NB_COAP_CONTENT), 1);
  assert_int_equal(tap_count(&t, &p.acli, NB_COAP_RST, NB_COAP_EMPTY), 0);
  assert_int_equal(p.r.calls, 2);
  pair_free(&p);
}

static void test_cancel_passive(void **state) {
  (void)state;
  for (int con = 0; con <= 1; con++) {
    pair p;
    pair_setup(&p, 5, true);
    assert_int_equal(nb_coap_ep_cancel(p.cli, p.id, false, nb_simnet_now(p.net)), NB_OK);
    assert_int_equal(p.r.calls, 2);
    assert_int_equal(p.r.err[1], NB_ERR_CANCELLED);
    nb_simnet_run_until(p.net, nb_simnet_now(p.net) + 1000);
    assert_int_equal(p.s.gone, 0); /* nothing sent yet */
    assert_int_equal(notify(&p, "x", con), NB_OK);
    nb_simnet_run_until(p.net, nb_simnet_now(p.net) + 1000);
    assert_int_equal(p.s.gone, 1); /* the client answered RST */
    assert_int_equal(p.s.gone_why, NB_ERR_RESET);
    assert_int_equal(p.r.calls, 2);
    pair_free(&p);
  }
}

/* ---- server side lifetime ---- */

static void test_con_notification_timeout(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 6, true);
  taplog t = {0};
  nb_simnet_set_tap(p.net, tap_fn, &t);
  nb_simnet_node_set_reachable(p.ncli, false);
  nb_time_ms t0 = nb_simnet_now(p.net);
  assert_int_equal(notify(&p, "a", true), NB_OK);
  /* RFC 7641 4.5.2: a newer notification replaces the unacknowledged one, keeping its
   * retransmission state. */
  nb_simnet_run_until(p.net, t0 + 1000);
  assert_int_equal(notify(&p, "b", false), NB_OK); /* becomes CON: one is in flight */
  nb_simnet_run_until(p.net, t0 + 200000);
  assert_int_equal(p.s.gone, 1);
  assert_int_equal(p.s.gone_why, NB_ERR_TIMEOUT);
  assert_int_equal(tap_count(&t, &p.asrv, NB_COAP_CON, NB_COAP_CONTENT), 2 + 4);
  assert_int_equal(tap_count(&t, &p.asrv, NB_COAP_NON, NB_COAP_CONTENT), 0);
  nb_time_ms last = 0;
  for (int i = 0; i < t.n; i++) {
    if (t.type[i] == NB_COAP_CON) last = t.at[i];
  }
  assert_in_range(last - t0, 2000 * 15, 3000 * 15);
  pair_free(&p);
}

/* A notification goes CON at least once every 24 hours (RFC 7641 4.5). */
static void test_con_every_24h(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 7, true);
  taplog t = {0};
  nb_simnet_set_tap(p.net, tap_fn, &t);
  nb_time_ms start = nb_simnet_now(p.net);
  for (int h = 1; h <= 50; h++) {
    nb_simnet_run_until(p.net, start + (nb_time_ms)h * 3600000);
    assert_int_equal(notify(&p, "h", false), NB_OK);
  }
  nb_simnet_run_until(p.net, nb_simnet_now(p.net) + 10000);
  assert_int_equal(p.r.calls, 51);
  int cons = 0;
  for (int i = 0; i < t.n; i++) {
    if (!nb_addr_equal(&t.from[i], &p.asrv) || t.code[i] != NB_COAP_CONTENT) continue;
    if (t.type[i] == NB_COAP_CON) {
      cons++;
      assert_true(t.at[i] - start == 24 * 3600000LL || t.at[i] - start == 48 * 3600000LL);
    }
  }
  assert_int_equal(cons, 2);
  pair_free(&p);
}

/* An error notification ends the observation on both sides. */
static void test_error_notification(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 8, true);
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_NON, NB_COAP_NOT_FOUND, 0);
  assert_int_equal(nb_coap_ep_notify(p.srv, p.s.obs[0], &m, false, nb_simnet_now(p.net)), NB_OK);
  nb_simnet_run_until(p.net, nb_simnet_now(p.net) + 10000);
  assert_int_equal(p.r.calls, 2);
  assert_true(p.r.last[1]);
  assert_int_equal(p.r.code[1], NB_COAP_NOT_FOUND);
  assert_int_equal(p.s.gone, 0); /* the server ended it itself */
  assert_int_equal(nb_coap_ep_cancel(p.cli, p.id, true, nb_simnet_now(p.net)), NB_ERR_NOT_FOUND);
  pair_free(&p);
}

/* A registration with the same (client, token) replaces the observer; numbers go on. */
static void test_reregistration(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(9);
  nb_coap_ep *srv;
  nb_simnet_recorder *rec;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a2, NULL, &srv));
  nb_simnet_node *peer = nb_simnet_add_recorder(net, &a1, &rec);
  nb_ct_server s = {.mode = NB_CT_OBSERVE};
  nb_coap_ep_set_handler(srv, nb_ct_handler, &s);
  uint32_t seq[2];
  for (int i = 0; i < 2; i++) {
    nb_coap_msg m, got;
    uint8_t buf[64];
    observe_req(&m, "/r");
    m.mid = (uint16_t)(7 + i);
    nb_coap_msg_set_token(&m, (const uint8_t *)"TT", 2);
    nb_simnet_send(peer, &a2, buf, nb_ct_serialize(&m, buf, sizeof buf));
    nb_simnet_run_until(net, nb_simnet_now(net) + 100);
    nb_ct_parse_record(rec, nb_simnet_recorder_count(rec) - 1, &got);
    assert_int_equal(nb_coap_msg_get_uint(&got, NB_COAP_OPT_OBSERVE, &seq[i]), NB_OK);
    if (i == 0) {
      nb_coap_msg n;
      nb_coap_msg_init(&n, NB_COAP_NON, NB_COAP_CONTENT, 0);
      assert_int_equal(nb_coap_ep_notify(srv, s.obs[0], &n, false, nb_simnet_now(net)), NB_OK);
      nb_simnet_run_until(net, nb_simnet_now(net) + 100);
    }
  }
  assert_int_equal(s.nobs, 2);
  assert_int_equal(s.gone, 1);
  assert_int_equal(s.gone_why, NB_ERR_CANCELLED);
  assert_null(s.obs[0]);
  assert_non_null(s.obs[1]);
  /* The notification in between took seq[0] + 1; the new registration's answer is newer. */
  assert_int_equal(seq[1], seq[0] + 2);
  nb_ct_server_free(&s);
  nb_simnet_free(net);
}

/* ---- block-wise notifications ---- */

static void large_notification(uint64_t seed, bool lossy) {
  pair p;
  pair_setup(&p, seed, true);
  if (lossy) {
    nb_simnet_link l = {.drop = 0.1, .duplicate = 0.1, .delay_min = 5, .delay_max = 60};
    nb_simnet_set_link(p.net, &l);
  }
  uint8_t *body = nb_ct_body(3000, (uint32_t)seed);
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_NON, NB_COAP_CONTENT, 0);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_OCTET_STREAM);
  nb_coap_msg_set_payload(&m, body, 3000);
  assert_int_equal(nb_coap_ep_notify(p.srv, p.s.obs[0], &m, true, nb_simnet_now(p.net)), NB_OK);
  nb_simnet_run_until(p.net, nb_simnet_now(p.net) + 600000);
  assert_int_equal(p.r.calls, 2);
  assert_int_equal(p.r.err[1], NB_OK);
  assert_false(p.r.last[1]);
  assert_true(p.r.has_observe[1]); /* options of the notification itself */
  assert_int_equal(p.r.observe[1], p.r.observe[0] + 1);
  assert_int_equal(p.r.len[1], 3000);
  assert_memory_equal(p.r.payload, body, 3000);
  assert_int_equal(p.s.calls, 1); /* the rest came from the server's cache */
  /* Still observing: a small notification arrives normally. */
  assert_int_equal(notify(&p, "small", true), NB_OK);
  nb_simnet_run_until(p.net, nb_simnet_now(p.net) + 600000);
  assert_int_equal(p.r.calls, 3);
  assert_int_equal(p.r.len[2], 5);
  free(body);
  pair_free(&p);
}

static void test_large_notification(void **state) {
  (void)state;
  large_notification(10, false);
  large_notification(11, true);
}

/* A newer notification during the fetch of an older one wins. */
static void test_large_notification_superseded(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 12, true);
  nb_simnet_link slow = {.delay_min = 200, .delay_max = 200};
  nb_simnet_set_link(p.net, &slow);
  uint8_t *b1 = nb_ct_body(5000, 1), *b2 = nb_ct_body(2500, 2);
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_NON, NB_COAP_CONTENT, 0);
  nb_coap_msg_set_payload(&m, b1, 5000);
  assert_int_equal(nb_coap_ep_notify(p.srv, p.s.obs[0], &m, false, nb_simnet_now(p.net)), NB_OK);
  nb_simnet_run_until(p.net, nb_simnet_now(p.net) + 500); /* first block in, fetch going */
  nb_coap_msg_set_payload(&m, b2, 2500);
  assert_int_equal(nb_coap_ep_notify(p.srv, p.s.obs[0], &m, false, nb_simnet_now(p.net)), NB_OK);
  nb_simnet_run_until(p.net, nb_simnet_now(p.net) + 60000);
  assert_int_equal(p.r.calls, 2);
  assert_int_equal(p.r.len[1], 2500);
  assert_memory_equal(p.r.payload, b2, 2500);
  free(b1);
  free(b2);
  pair_free(&p);
}

/* notify on an observer whose registration answer has not gone out is refused. */
static void test_notify_before_registered(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(13);
  nb_coap_ep *cli, *srv;
  nb_addr a1 = nb_simnet_addr(1, PORT), a2 = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(net, &a1, NULL, &cli));
  assert_non_null(nb_simnet_add_coap(net, &a2, NULL, &srv));
  nb_ct_server s = {.mode = NB_CT_ANSWER_LATER};
  nb_coap_ep_set_handler(srv, nb_ct_handler, &s);
  nb_coap_msg req, m;
  observe_req(&req, "/late");
  nb_ct_resp r = {0};
  assert_int_equal(nb_coap_ep_request(cli, &a2, &req, true, nb_ct_resp_cb, &r, 0, NULL), NB_OK);
  nb_simnet_run_until(net, 1000);
  assert_int_equal(s.npending, 1);
  nb_coap_observer *obs;
  assert_int_equal(nb_coap_exchange_observe(s.pending[0], NULL, NULL, &obs), NB_OK);
  nb_coap_msg_init(&m, NB_COAP_NON, NB_COAP_CONTENT, 0);
  assert_int_equal(nb_coap_ep_notify(srv, obs, &m, false, 1000), NB_ERR_STATE);
  /* Separate (CON) registration answer, then notifications work. */
  assert_int_equal(nb_coap_exchange_respond(s.pending[0], &m, 1000), NB_OK);
  assert_int_equal(nb_coap_ep_notify(srv, obs, &m, false, 1000), NB_OK);
  nb_simnet_run_until(net, 5000);
  assert_int_equal(r.calls, 2);
  assert_true(r.has_observe[0]);
  assert_true(r.has_observe[1]);
  assert_false(r.last[1]);
  nb_ct_resp_free(&r);
  nb_ct_server_free(&s);
  nb_simnet_free(net);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_observe_notifications),
      cmocka_unit_test(test_observe_not_accepted),
      cmocka_unit_test(test_observe_ordering),
      cmocka_unit_test(test_cancel_active),
      cmocka_unit_test(test_cancel_passive),
      cmocka_unit_test(test_con_notification_timeout),
      cmocka_unit_test(test_con_every_24h),
      cmocka_unit_test(test_error_notification),
      cmocka_unit_test(test_reregistration),
      cmocka_unit_test(test_large_notification),
      cmocka_unit_test(test_large_notification_superseded),
      cmocka_unit_test(test_notify_before_registered),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
