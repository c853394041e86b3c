/* Client bootstrap in-process over the simulated network: client-initiated bootstrap
 * (Bootstrap-Request, -Delete, -Write, -Discover, -Read, -Finish) then registration with the
 * provisioned server, Finish refused with 4.06 without a usable account, fallback to bootstrap
 * when registration fails, and persisted accounts that register without bootstrap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lwm2m_scripted_server.h"
#include "niobium/client.h"
#include "simnet.h"

typedef struct {
  nb_simnet *net;
  nb_ss bs, dm;
  nb_client *c;
  nb_simnet_node *node;
} fx;

static void node_receive(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_client_receive(u, from, d, n, now);
}
static nb_time_ms node_deadline(void *u) { return nb_client_next_deadline(u); }
static void node_tick(void *u, nb_time_ms now) { nb_client_tick(u, now); }
static void node_destroy(void *u) { nb_client_free(u); }
static const nb_simnet_ops client_ops = {node_receive, node_deadline, node_tick, node_destroy};

static void fx_client(fx *f, unsigned n) {
  nb_addr ca = nb_simnet_addr(n, 56830);
  f->node = nb_simnet_add(f->net, &ca, &client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "dev-bs";
  cfg.send = nb_simnet_send;
  cfg.send_user = f->node;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  assert_int_equal(nb_client_new(&cfg, &f->c), NB_OK);
  nb_simnet_node_set_user(f->node, f->c);
  nb_client_device_info d = {
      .manufacturer = "ACME", .battery_level = -1, .memory_free_kb = -1, .memory_total_kb = -1};
  assert_int_equal(nb_client_add_device(f->c, &d), NB_OK);
}

static void fx_setup(fx *f) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(7);
  nb_addr ba = nb_simnet_addr(1, 5783), da = nb_simnet_addr(2, 5683);
  nb_ss_init(&f->bs, f->net, &ba);
  nb_ss_init(&f->dm, f->net, &da);
  fx_client(f, 9);
  nb_client_server_params p = {.uri = "coap://10.0.0.1:5783", .bootstrap = true};
  assert_int_equal(nb_client_add_server(f->c, &p), NB_OK);
}

static void fx_teardown(fx *f) {
  nb_ss_free(&f->bs);
  nb_ss_free(&f->dm);
  nb_simnet_free(f->net);
}

static uint8_t bs_op(fx *f, uint8_t m, const char *path, int cf, int accept, const char *body,
                     nb_ss_answer *keep) {
  nb_ss_answer a;
  nb_ss_request(&f->bs, m, path, cf, accept, NULL, body, body ? strlen(body) : 0, &a);
  uint8_t code = a.code;
  if (keep)
    *keep = a;
  else
    nb_ss_answer_free(&a);
  return code;
}

static const char *k_security =
    "[{\"bn\":\"/0/1/\",\"n\":\"0\",\"vs\":\"coap://10.0.0.2:5683\"},{\"n\":\"1\",\"vb\":false},"
    "{\"n\":\"2\",\"v\":3},{\"n\":\"10\",\"v\":101}]";
static const char *k_server =
    "[{\"bn\":\"/1/0/\",\"n\":\"0\",\"v\":101},{\"n\":\"1\",\"v\":300},{\"n\":\"6\",\"vb\":false},"
    "{\"n\":\"7\",\"vs\":\"U\"}]";

static void provision(fx *f) {
  assert_int_equal(bs_op(f, NB_COAP_DELETE, "/", -1, -1, NULL, NULL), NB_COAP_DELETED);
  assert_int_equal(bs_op(f, NB_COAP_PUT, "/0/1", NB_COAP_CF_SENML_JSON, -1, k_security, NULL),
                   NB_COAP_CHANGED);
  assert_int_equal(bs_op(f, NB_COAP_PUT, "/1/0", NB_COAP_CF_SENML_JSON, -1, k_server, NULL),
                   NB_COAP_CHANGED);
}

static void test_client_initiated_bootstrap(void **state) {
  (void)state;
  fx f;
  fx_setup(&f);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  nb_simnet_run_until(f.net, 1000);
  assert_int_equal(f.bs.bs_requests, 1);
  assert_string_equal(f.bs.ep_name, "dev-bs");
  assert_string_equal(f.bs.pct, "112");
  assert_true(nb_client_bootstrapping(f.c));
  /* Finish with no server account yet: 4.06 */
  assert_int_equal(bs_op(&f, NB_COAP_POST, "/bs", -1, -1, NULL, NULL), NB_COAP_NOT_ACCEPTABLE);
  provision(&f);
  nb_ss_answer a;
  assert_int_equal(bs_op(&f, NB_COAP_GET, "/", -1, NB_COAP_CF_LINK_FORMAT, NULL, &a),
                   NB_COAP_CONTENT);
  assert_non_null(strstr((char *)a.payload, "</>;lwm2m=1.1"));
  assert_non_null(strstr((char *)a.payload, "</0/1>;ssid=101;uri=\"coap://10.0.0.2:5683\""));
  assert_non_null(strstr((char *)a.payload, "</0/0>")); /* the bootstrap account stays */
  assert_non_null(strstr((char *)a.payload, "</1/0>;ssid=101"));
  nb_ss_answer_free(&a);
  assert_int_equal(bs_op(&f, NB_COAP_GET, "/1/0", -1, NB_COAP_CF_SENML_JSON, NULL, &a),
                   NB_COAP_CONTENT);
  assert_non_null(strstr((char *)a.payload, "300"));
  nb_ss_answer_free(&a);
  assert_int_equal(bs_op(&f, NB_COAP_GET, "/0/1", -1, -1, NULL, NULL), NB_COAP_BAD_REQUEST);
  assert_int_equal(bs_op(&f, NB_COAP_PUT, "/0/1", 9999, -1, "x", NULL),
                   NB_COAP_UNSUPPORTED_CONTENT_FORMAT);
  assert_int_equal(f.dm.registers, 0);
  assert_int_equal(bs_op(&f, NB_COAP_POST, "/bs", -1, -1, NULL, NULL), NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  assert_false(nb_client_bootstrapping(f.c));
  assert_int_equal(f.dm.registers, 1);
  assert_string_equal(f.dm.lt, "300");
  nb_client_srv_state st;
  assert_int_equal(nb_client_server_state(f.c, 101, &st, NULL, 0), NB_OK);
  assert_int_equal(st, NB_CLIENT_SRV_REGISTERED);
  /* The DM server cannot see the Security object. */
  nb_ss_request(&f.dm, NB_COAP_GET, "/0/1", -1, -1, NULL, NULL, 0, &a);
  assert_int_equal(a.code, NB_COAP_UNAUTHORIZED);
  nb_ss_answer_free(&a);
  fx_teardown(&f);
}

static void test_fallback_and_persistence(void **state) {
  (void)state;
  fx f;
  fx_setup(&f);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  nb_simnet_run_until(f.net, 1000);
  provision(&f);
  /* Registration will fail twice (retry count 2, timer 5 s), then the client bootstraps. */
  assert_int_equal(bs_op(&f, NB_COAP_PUT, "/1/0", NB_COAP_CF_SENML_JSON, -1,
                         "[{\"bn\":\"/1/0/\",\"n\":\"17\",\"v\":2},{\"n\":\"18\",\"v\":5}]", NULL),
                   NB_COAP_CHANGED);
  f.dm.register_code = NB_COAP_FORBIDDEN;
  assert_int_equal(bs_op(&f, NB_COAP_POST, "/bs", -1, -1, NULL, NULL), NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 20000);
  assert_int_equal(f.dm.registers, 2);
  assert_int_equal(f.bs.bs_requests, 2);
  assert_true(nb_client_bootstrapping(f.c));
  /* Persist the accounts, reboot: the new client registers without bootstrap. */
  f.dm.register_code = 0;
  assert_int_equal(bs_op(&f, NB_COAP_POST, "/bs", -1, -1, NULL, NULL), NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  assert_int_equal(f.dm.registers, 3);
  nb_bytes st;
  nb_bytes_init(&st);
  assert_int_equal(nb_client_save_state(f.c, &st), NB_OK);
  nb_simnet_node_set_reachable(f.node, false);
  fx f2 = f;
  fx_client(&f2, 10);
  assert_int_equal(nb_client_load_state(f2.c, st.data, st.len), NB_OK);
  assert_int_equal(nb_client_start(f2.c, nb_simnet_now(f.net)), NB_OK);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  assert_int_equal(f.dm.registers, 4);
  assert_int_equal(f.bs.bs_requests, 2);
  assert_int_equal(nb_client_load_state(f2.c, (const uint8_t *)"\xff", 1) != NB_OK, true);
  nb_bytes_free(&st);
  fx_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_client_initiated_bootstrap),
      cmocka_unit_test(test_fallback_and_persistence),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
