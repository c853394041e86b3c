/* The client's ready-made objects in-process over the simulated network against the scripted
 * server: Connectivity Monitoring (4), Location (6) and Connectivity Statistics (7: counts
 * checked against every datagram the network saw, Start/Stop, Collection Period). Firmware
 * Update (5) has its own test, test_client_firmware. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_node.h"
#include "lwm2m_scripted_server.h"
#include "niobium/client.h"
#include "niobium/objects.h"
#include "simnet.h"

typedef struct {
  nb_simnet *net;
  nb_ss srv;
  nb_client *c;
  nb_simnet_node *node;
  nb_addr caddr;
  /* datagrams to/from the client seen by the network tap */
  uint64_t tx_n, rx_n, tx_b, rx_b;
} fx;

static bool tap(void *user, const nb_addr *from, const nb_addr *to, const uint8_t *data, size_t len,
                nb_time_ms now) {
  fx *f = user;
  (void)data;
  (void)now;
  if (nb_addr_equal(from, &f->caddr)) {
    f->tx_n++;
    f->tx_b += len;
  } else if (nb_addr_equal(to, &f->caddr)) {
    f->rx_n++;
    f->rx_b += len;
  }
  return true;
}

static void fx_setup(fx *f) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(7);
  assert_non_null(f->net);
  nb_addr sa = nb_simnet_addr(1, 5683);
  f->caddr = nb_simnet_addr(9, 56830);
  nb_ss_init(&f->srv, f->net, &sa);
  f->node = nb_simnet_add(f->net, &f->caddr, &nb_test_client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "dev-obj";
  cfg.send = nb_simnet_send;
  cfg.send_user = f->node;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  assert_int_equal(nb_client_new(&cfg, &f->c), NB_OK);
  nb_simnet_node_set_user(f->node, f->c);
  nb_client_device_info d = {.manufacturer = "ACME",
                             .model = "N1",
                             .battery_level = -1,
                             .memory_free_kb = -1,
                             .memory_total_kb = -1};
  assert_int_equal(nb_client_add_device(f->c, &d), NB_OK);
  nb_client_conn_info ci = {.bearer = 41,
                            .rssi_dbm = -70,
                            .link_quality = 80,
                            .ip = "10.0.0.9",
                            .router = "10.0.0.254",
                            .cell_id = -1};
  assert_int_equal(nb_client_add_conn_monitoring(f->c, &ci), NB_OK);
  nb_client_location loc = {.latitude = 48.85,
                            .longitude = 2.35,
                            .altitude = 35,
                            .radius = 5,
                            .speed = -1,
                            .timestamp = 1700000000};
  assert_int_equal(nb_client_add_location(f->c, &loc), NB_OK);
  loc.latitude = 91;
  assert_int_equal(nb_client_set_location(f->c, &loc, 0), NB_ERR_INVAL);
  assert_int_equal(nb_client_add_conn_stats(f->c), NB_OK);
  nb_client_server_params p = {.uri = "coap://10.0.0.1:5683", .ssid = 1, .lifetime = 3600};
  assert_int_equal(nb_client_add_server(f->c, &p), NB_OK);
  nb_simnet_set_tap(f->net, tap, f);
  assert_int_equal(nb_client_start(f->c, nb_simnet_now(f->net)), NB_OK);
  nb_simnet_run_until(f->net, nb_simnet_now(f->net) + 1000);
  assert_int_equal(f->srv.registers, 1);
}

static void fx_teardown(fx *f) {
  nb_ss_free(&f->srv);
  nb_simnet_free(f->net);
}

/* A text/plain request; returns the code and copies the payload into buf. */
static uint8_t txt(fx *f, uint8_t method, const char *path, const char *body, char *buf,
                   size_t cap) {
  nb_ss_answer a;
  nb_ss_request(&f->srv, method, path, body ? NB_COAP_CF_TEXT : NB_COAP_CF_NONE,
                method == NB_COAP_GET ? NB_COAP_CF_TEXT : NB_COAP_CF_NONE, NULL, body,
                body ? strlen(body) : 0, &a);
  uint8_t code = a.code;
  if (buf) snprintf(buf, cap, "%s", a.payload ? (char *)a.payload : "");
  nb_ss_answer_free(&a);
  return code;
}

static void expect_read(fx *f, const char *path, const char *value) {
  char buf[256];
  assert_int_equal(txt(f, NB_COAP_GET, path, NULL, buf, sizeof buf), NB_COAP_CONTENT);
  if (strcmp(buf, value) != 0) fail_msg("%s: got '%s', wanted '%s'", path, buf, value);
}

static void test_conn_monitoring_and_location(void **state) {
  (void)state;
  fx f;
  fx_setup(&f);
  expect_read(&f, "/4/0/0", "41");
  expect_read(&f, "/4/0/4/0", "10.0.0.9");
  expect_read(&f, "/4/0/5/0", "10.0.0.254");
  /* The signal drifts with time around -70 dBm, within +-3, and link quality opposite. */
  char a[32], b[32];
  int seen_distinct = 0;
  int prev = 0;
  for (int i = 0; i < 7; i++) {
    assert_int_equal(txt(&f, NB_COAP_GET, "/4/0/2", NULL, a, sizeof a), NB_COAP_CONTENT);
    assert_int_equal(txt(&f, NB_COAP_GET, "/4/0/3", NULL, b, sizeof b), NB_COAP_CONTENT);
    int rssi = atoi(a), lq = atoi(b);
    assert_true(rssi >= -73 && rssi <= -67);
    assert_int_equal(rssi + 70, 80 - lq);
    if (i && rssi != prev) seen_distinct++;
    prev = rssi;
    nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 10000);
  }
  assert_true(seen_distinct >= 5);
  assert_int_equal(txt(&f, NB_COAP_PUT, "/4/0/0", "1", NULL, 0), NB_COAP_METHOD_NOT_ALLOWED);
  assert_int_equal(txt(&f, NB_COAP_GET, "/4/0/8", NULL, NULL, 0), NB_COAP_NOT_FOUND);
  /* Location: stored fix, and a new fix notifies an observer of /6/0/0. */
  expect_read(&f, "/6/0/0", "48.85");
  expect_read(&f, "/6/0/5", "1700000000");
  nb_ct_resp r;
  memset(&r, 0, sizeof r);
  nb_coap_req_id oid =
      nb_ss_observe(&f.srv, NB_COAP_GET, "/6/0/0", NB_COAP_CF_NONE, NB_COAP_CF_TEXT, NULL, 0, &r);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  assert_int_equal(r.calls, 1);
  nb_client_location loc = {
      .latitude = 50.5, .longitude = 3, .radius = -1, .speed = 2, .timestamp = 1700000100};
  assert_int_equal(nb_client_set_location(f.c, &loc, nb_simnet_now(f.net)), NB_OK);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  assert_int_equal(r.calls, 2);
  assert_int_equal(r.payload_len, 4);
  assert_memory_equal(r.payload, "50.5", 4);
  expect_read(&f, "/6/0/6", "2");
  nb_coap_ep_cancel(f.srv.ep, oid, false, nb_simnet_now(f.net));
  free(r.payload);
  fx_teardown(&f);
}

static void test_conn_stats(void **state) {
  (void)state;
  fx f;
  fx_setup(&f);
  /* Counting since the start: the tap saw exactly what the engine counted. */
  nb_client_stats s;
  nb_client_get_stats(f.c, &s);
  assert_true(s.collecting);
  assert_int_equal(s.tx_datagrams, f.tx_n);
  assert_int_equal(s.rx_datagrams, f.rx_n);
  assert_int_equal(s.tx_bytes, f.tx_b);
  assert_int_equal(s.rx_bytes, f.rx_b);
  assert_true(s.tx_datagrams >= 1 && s.rx_datagrams >= 1);
  /* Start resets; afterwards a read sees one request in (counted before the answer) and the
   * Start's answer out. */
  assert_int_equal(txt(&f, NB_COAP_POST, "/7/0/6", NULL, NULL, 0), NB_COAP_CHANGED);
  uint64_t tx0 = f.tx_n, rx0 = f.rx_n, txb0 = f.tx_b, rxb0 = f.rx_b;
  nb_client_get_stats(f.c, &s);
  assert_int_equal(s.tx_datagrams, 1); /* the answer to Start */
  assert_int_equal(s.rx_datagrams, 0);
  char buf[32];
  assert_int_equal(txt(&f, NB_COAP_GET, "/7/0/5", NULL, buf, sizeof buf), NB_COAP_CONTENT);
  nb_client_get_stats(f.c, &s);
  assert_int_equal(s.tx_datagrams, 2);
  assert_int_equal(s.rx_datagrams, 1);
  assert_int_equal(s.rx_bytes, f.rx_b - rxb0);
  assert_int_equal(f.rx_n - rx0, 1);
  assert_int_equal(f.tx_n - tx0, 1);
  (void)txb0;
  /* The average the read answered covered the Start answer and the read request. */
  nb_client_get_stats(f.c, &s);
  uint64_t start_answer = s.tx_bytes - (f.tx_b - txb0);
  assert_int_equal(atoi(buf), (int)((start_answer + s.rx_bytes) / 2));
  expect_read(&f, "/7/0/2", "1"); /* under a kB, rounded up */
  /* Stop freezes the counters. */
  assert_int_equal(txt(&f, NB_COAP_POST, "/7/0/7", NULL, NULL, 0), NB_COAP_CHANGED);
  nb_client_stats frozen;
  nb_client_get_stats(f.c, &frozen);
  assert_false(frozen.collecting);
  expect_read(&f, "/7/0/3", "1");
  nb_client_get_stats(f.c, &s);
  assert_int_equal(s.rx_datagrams, frozen.rx_datagrams);
  assert_int_equal(s.tx_bytes, frozen.tx_bytes);
  /* A collection period of 10 s stops collecting 10 s after Start. */
  assert_int_equal(txt(&f, NB_COAP_PUT, "/7/0/8", "10", NULL, 0), NB_COAP_CHANGED);
  assert_int_equal(txt(&f, NB_COAP_POST, "/7/0/6", NULL, NULL, 0), NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 5000);
  assert_int_equal(txt(&f, NB_COAP_GET, "/7/0/4", NULL, NULL, 0), NB_COAP_CONTENT);
  nb_client_get_stats(f.c, &s);
  assert_true(s.collecting);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 6000);
  expect_read(&f, "/7/0/2", "1");
  nb_client_get_stats(f.c, &s);
  assert_false(s.collecting);
  assert_int_equal(txt(&f, NB_COAP_PUT, "/7/0/8", "-1", NULL, 0), NB_COAP_BAD_REQUEST);
  fx_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conn_monitoring_and_location),
      cmocka_unit_test(test_conn_stats),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
