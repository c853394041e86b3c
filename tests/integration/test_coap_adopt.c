/* Adopting an observation after a restart (nb_coap_ep_adopt_observation): the observing
 * endpoint is freed and made anew at the same address while the device keeps its observer.
 * Without adoption the next notification is answered with RST and the device drops the
 * observer; with it notifications are delivered again (stale ones still dropped), and the
 * adopted observation can be cancelled actively. Bad arguments are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coap/endpoint.h"
#include "coaptest.h"
#include "simnet.h"

static const uint8_t TOKEN[4] = {0xa1, 0xb2, 0xc3, 0xd4};

/* The observing side on a node of our own so its endpoint can be replaced. */
typedef struct {
  nb_coap_ep *ep;
  nb_simnet_node *node;
} holder;

static void h_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_coap_ep_receive(((holder *)u)->ep, from, d, n, now);
}
static nb_time_ms h_deadline(void *u) { return nb_coap_ep_next_deadline(((holder *)u)->ep); }
static void h_tick(void *u, nb_time_ms now) { nb_coap_ep_tick(((holder *)u)->ep, now); }
static const nb_simnet_ops h_ops = {h_recv, h_deadline, h_tick, NULL};

typedef struct {
  nb_simnet *net;
  holder h;
  nb_coap_ep *dev;
  nb_addr adev, asrv;
  nb_ct_server s;
  nb_ct_resp r;
} fx;

static void make_ep(fx *f) {
  nb_coap_ep_config cfg;
  nb_coap_ep_config_default(&cfg);
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  assert_int_equal(nb_coap_ep_new(&cfg, nb_simnet_send, f->h.node, &f->h.ep), NB_OK);
}

static void observe_req(nb_coap_msg *m) {
  nb_ct_request(m, NB_COAP_GET, "/temp", NULL, 0);
  assert_int_equal(nb_coap_msg_add_uint(m, NB_COAP_OPT_OBSERVE, 0), NB_OK);
}

/* The server observes /temp on the device with TOKEN, then "restarts" (new endpoint). */
static void fx_setup(fx *f) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(5);
  f->adev = nb_simnet_addr(1, 56830);
  f->asrv = nb_simnet_addr(2, 5683);
  assert_non_null(nb_simnet_add_coap(f->net, &f->adev, NULL, &f->dev));
  f->h.node = nb_simnet_add(f->net, &f->asrv, &h_ops, &f->h);
  make_ep(f);
  f->s.mode = NB_CT_OBSERVE;
  static const uint8_t v0[] = "20";
  f->s.body = v0;
  f->s.body_len = 2;
  nb_coap_ep_set_handler(f->dev, nb_ct_handler, &f->s);
  nb_coap_msg req;
  observe_req(&req);
  assert_int_equal(nb_coap_msg_set_token(&req, TOKEN, sizeof TOKEN), NB_OK);
  nb_ct_resp first = {0};
  assert_int_equal(
      nb_coap_ep_request(f->h.ep, &f->adev, &req, true, nb_ct_resp_cb, &first, 0, NULL), NB_OK);
  nb_simnet_run_until(f->net, 1000);
  assert_int_equal(first.calls, 1);
  assert_int_equal(f->s.nobs, 1);
  nb_ct_resp_free(&first);
  nb_coap_ep_free(f->h.ep); /* kill -9: nothing said to the device */
  make_ep(f);
}

static void fx_teardown(fx *f) {
  nb_coap_ep_free(f->h.ep);
  nb_ct_resp_free(&f->r);
  nb_ct_server_free(&f->s);
  nb_simnet_free(f->net);
}

static void notify(fx *f, const char *text, bool con) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_NON, NB_COAP_CONTENT, 0);
  nb_coap_msg_set_payload(&m, text, strlen(text));
  assert_int_equal(nb_coap_ep_notify(f->dev, f->s.obs[0], &m, con, nb_simnet_now(f->net)), NB_OK);
  nb_simnet_run_until(f->net, nb_simnet_now(f->net) + 5000);
}

static void test_without_adoption_rst(void **state) {
  (void)state;
  fx f;
  fx_setup(&f);
  notify(&f, "21", true);
  assert_int_equal(f.s.gone, 1);
  assert_int_equal(f.s.gone_why, NB_ERR_RESET);
  f.s.nobs = 0;
  fx_teardown(&f);
}

static void test_adopted_notifications_delivered(void **state) {
  (void)state;
  fx f;
  fx_setup(&f);
  nb_coap_msg req;
  observe_req(&req);
  nb_coap_req_id id = 0;
  assert_int_equal(nb_coap_ep_adopt_observation(f.h.ep, &f.adev, &req, TOKEN, sizeof TOKEN, true,
                                                nb_ct_resp_cb, &f.r, nb_simnet_now(f.net), &id),
                   NB_OK);
  assert_true(id != 0);
  /* The same token again is refused; nothing was sent by adopting. */
  nb_ct_resp other = {0};
  assert_int_equal(nb_coap_ep_adopt_observation(f.h.ep, &f.adev, &req, TOKEN, sizeof TOKEN, true,
                                                nb_ct_resp_cb, &other, nb_simnet_now(f.net), NULL),
                   NB_ERR_EXISTS);
  assert_int_equal(f.s.calls, 1);
  notify(&f, "21", true);
  notify(&f, "22", false);
  assert_int_equal(f.s.gone, 0);
  assert_int_equal(f.r.calls, 2);
  assert_int_equal(f.r.err[0], NB_OK);
  assert_false(f.r.last[1]);
  assert_int_equal(f.r.code[1], NB_COAP_CONTENT);
  assert_int_equal(f.r.payload_len, 2);
  assert_memory_equal(f.r.payload, "22", 2);
  /* Active cancel of the adopted observation: the device hears a GET with Observe=1. */
  assert_int_equal(nb_coap_ep_cancel(f.h.ep, id, true, nb_simnet_now(f.net)), NB_OK);
  assert_int_equal(f.r.finals, 1);
  assert_int_equal(f.r.err[2], NB_ERR_CANCELLED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 5000);
  assert_int_equal(f.s.gone, 1);
  assert_int_equal(f.s.gone_why, NB_ERR_CANCELLED);
  f.s.nobs = 0;
  fx_teardown(&f);
}

static void test_adopt_bad_arguments(void **state) {
  (void)state;
  fx f;
  fx_setup(&f);
  nb_coap_msg plain;
  nb_ct_request(&plain, NB_COAP_GET, "/temp", NULL, 0); /* no Observe: not an observation */
  assert_int_equal(nb_coap_ep_adopt_observation(f.h.ep, &f.adev, &plain, TOKEN, sizeof TOKEN, true,
                                                nb_ct_resp_cb, &f.r, 0, NULL),
                   NB_ERR_INVAL);
  nb_coap_msg req;
  observe_req(&req);
  assert_int_equal(nb_coap_ep_adopt_observation(f.h.ep, &f.adev, &req, TOKEN, 0, true,
                                                nb_ct_resp_cb, &f.r, 0, NULL),
                   NB_ERR_INVAL);
  uint8_t long_tok[9] = {0};
  assert_int_equal(nb_coap_ep_adopt_observation(f.h.ep, &f.adev, &req, long_tok, 9, true,
                                                nb_ct_resp_cb, &f.r, 0, NULL),
                   NB_ERR_INVAL);
  /* A wrong token adopts nothing useful: the real one still gets RST. */
  static const uint8_t other[4] = {1, 2, 3, 4};
  assert_int_equal(nb_coap_ep_adopt_observation(f.h.ep, &f.adev, &req, other, sizeof other, true,
                                                nb_ct_resp_cb, &f.r, 0, NULL),
                   NB_OK);
  notify(&f, "21", true);
  assert_int_equal(f.s.gone, 1);
  assert_int_equal(f.r.calls, 0);
  f.s.nobs = 0;
  fx_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_without_adoption_rst),
      cmocka_unit_test(test_adopted_notifications_delivered),
      cmocka_unit_test(test_adopt_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
