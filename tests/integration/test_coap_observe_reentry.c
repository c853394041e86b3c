/* Observe registrations answered later (separate response): the observer-gone callback of a
 * registration that never got its 2.xx answer runs while the layer is still inside
 * nb_coap_exchange_respond / nb_coap_exchange_free; an application that cleans up its pending
 * exchange from that callback must not make the layer use or free the exchange twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "coap/endpoint.h"
#include "coaptest.h"
#include "simnet.h"

#define PORT 5683

/* What the application does with its pending exchange when the observer goes. */
typedef enum {
  APP_GONE_FREE,    /* drops it */
  APP_GONE_RESPOND, /* answers it 5.03 */
} app_gone_action;

typedef struct {
  app_gone_action action;
  nb_coap_exchange *pending; /* the deferred registration, until the app lets go of it */
  nb_coap_observer *obs;
  int requests;
  int gone;
  nb_err gone_why;
  nb_err gone_respond_err;
  nb_time_ms now;
} app;

static void app_gone(void *user, nb_coap_observer *obs, nb_err why) {
  app *a = user;
  assert_ptr_equal(obs, a->obs);
  a->gone++;
  a->gone_why = why;
  a->obs = NULL;
  nb_coap_exchange *ex = a->pending;
  a->pending = NULL;
  if (!ex) return;
  if (a->action == APP_GONE_FREE) {
    nb_coap_exchange_free(ex);
  } else {
    nb_coap_msg m;
    nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_SERVICE_UNAVAILABLE, 0);
    a->gone_respond_err = nb_coap_exchange_respond(ex, &m, a->now);
  }
}

/* Accepts the registration and keeps the exchange to answer later. */
static void app_handler(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                        const nb_coap_msg *req, nb_time_ms now) {
  app *a = user;
  (void)peer;
  (void)req;
  (void)now;
  a->requests++;
  assert_int_equal(nb_coap_exchange_observe(ex, app_gone, a, &a->obs), NB_OK);
  a->pending = ex;
}

typedef struct {
  nb_simnet *net;
  nb_coap_ep *cli, *srv;
  nb_addr acli, asrv;
  nb_ct_resp r;
  app a;
} pair;

/* The client registers on /obs; the server acknowledges and holds the exchange. */
static void pair_setup(pair *p, uint64_t seed, app_gone_action action) {
  memset(p, 0, sizeof *p);
  p->a.action = action;
  p->a.gone_respond_err = NB_OK;
  p->net = nb_simnet_new(seed);
  p->acli = nb_simnet_addr(1, 40000);
  p->asrv = nb_simnet_addr(2, PORT);
  assert_non_null(nb_simnet_add_coap(p->net, &p->acli, NULL, &p->cli));
  assert_non_null(nb_simnet_add_coap(p->net, &p->asrv, NULL, &p->srv));
  nb_coap_ep_set_handler(p->srv, app_handler, &p->a);
  nb_coap_msg req;
  nb_ct_request(&req, NB_COAP_GET, "/obs", NULL, 0);
  assert_int_equal(nb_coap_msg_add_uint(&req, NB_COAP_OPT_OBSERVE, 0), NB_OK);
  nb_coap_req_id id;
  assert_int_equal(nb_coap_ep_request(p->cli, &p->asrv, &req, true, nb_ct_resp_cb, &p->r, 0, &id),
                   NB_OK);
  nb_simnet_run_until(p->net, 1000);
  assert_int_equal(p->a.requests, 1);
  assert_non_null(p->a.pending);
  assert_non_null(p->a.obs);
  assert_int_equal(p->r.calls, 0);
  p->a.now = nb_simnet_now(p->net);
}

static void pair_free(pair *p) {
  nb_ct_resp_free(&p->r);
  nb_simnet_free(p->net);
}

/* 4.04 to the registration: gone runs inside respond and the app drops the exchange there. */
static void test_respond_error_gone_frees(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 11, APP_GONE_FREE);
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_NOT_FOUND, 0);
  assert_int_equal(nb_coap_exchange_respond(p.a.pending, &m, p.a.now), NB_OK);
  assert_int_equal(p.a.gone, 1);
  assert_int_equal(p.a.gone_why, NB_ERR_CANCELLED);
  nb_simnet_run_until(p.net, nb_simnet_now(p.net) + 10000);
  /* The 4.04 went out as the separate response and ended the request. */
  assert_int_equal(p.r.calls, 1);
  assert_int_equal(p.r.code[0], NB_COAP_NOT_FOUND);
  assert_true(p.r.last[0]);
  pair_free(&p);
}

/* 4.04 to the registration: the app answers the same exchange again from gone. */
static void test_respond_error_gone_responds(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 12, APP_GONE_RESPOND);
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_NOT_FOUND, 0);
  assert_int_equal(nb_coap_exchange_respond(p.a.pending, &m, p.a.now), NB_OK);
  assert_int_equal(p.a.gone, 1);
  assert_int_equal(p.a.gone_respond_err, NB_ERR_STATE); /* already answered */
  nb_simnet_run_until(p.net, nb_simnet_now(p.net) + 10000);
  assert_int_equal(p.r.calls, 1);
  assert_int_equal(p.r.code[0], NB_COAP_NOT_FOUND);
  pair_free(&p);
}

/* The app drops the registration; gone runs inside exchange_free and drops it again. */
static void test_drop_gone_frees(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 13, APP_GONE_FREE);
  nb_coap_exchange *ex = p.a.pending;
  nb_coap_exchange_free(ex);
  assert_int_equal(p.a.gone, 1);
  assert_int_equal(p.a.gone_why, NB_ERR_CANCELLED);
  nb_simnet_run_until(p.net, nb_simnet_now(p.net) + 1000);
  assert_int_equal(p.r.calls, 0); /* dropped: nothing more goes to the client */
  pair_free(&p);
}

/* The app drops the registration; gone tries to answer it: a dropped exchange stays silent. */
static void test_drop_gone_responds(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 14, APP_GONE_RESPOND);
  nb_coap_exchange *ex = p.a.pending;
  nb_coap_exchange_free(ex);
  assert_int_equal(p.a.gone, 1);
  assert_int_equal(p.a.gone_respond_err, NB_ERR_STATE);
  nb_simnet_run_until(p.net, nb_simnet_now(p.net) + 1000);
  assert_int_equal(p.r.calls, 0);
  pair_free(&p);
}

/* The endpoint is freed with the registration still pending: no callback, no leak. */
static void test_free_endpoint_pending(void **state) {
  (void)state;
  pair p;
  pair_setup(&p, 15, APP_GONE_FREE);
  pair_free(&p);
  assert_int_equal(p.a.gone, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_respond_error_gone_frees),
      cmocka_unit_test(test_respond_error_gone_responds),
      cmocka_unit_test(test_drop_gone_frees),
      cmocka_unit_test(test_drop_gone_responds),
      cmocka_unit_test(test_free_endpoint_pending),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
