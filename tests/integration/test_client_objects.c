/* The client's ready-made objects in-process over the simulated network against the scripted
 * server: Connectivity Monitoring (4), Location (6), Connectivity Statistics (7: counts checked
 * against every datagram the network saw, Start/Stop, Collection Period) and Firmware Update (5):
 * push (Block1 Write of the package, Execute Update, result), pull over CoAP (Block2 from a file
 * server node), the URI errors and a pull interrupted by a dead link (result 4 at CoAP's
 * give-up time). */
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
  /* firmware */
  int applied;
  nb_err apply_result;
  nb_fw_state state_at_apply;
  uint8_t *applied_pkg;
  size_t applied_len;
  /* file server */
  nb_coap_ep *files;
  nb_simnet_node *files_node;
  uint8_t *blob;
  size_t blob_len;
  nb_addr faddr;
  int file_answers; /* datagrams the file server sent */
  int drop_after;   /* the file server's datagrams are lost after this many (0 = never) */
} fx;

static bool tap(void *user, const nb_addr *from, const nb_addr *to, const uint8_t *data, size_t len,
                nb_time_ms now) {
  fx *f = user;
  (void)data;
  (void)now;
  if (nb_addr_equal(from, &f->faddr)) {
    f->file_answers++;
    return !f->drop_after || f->file_answers <= f->drop_after;
  }
  if (nb_addr_equal(from, &f->caddr)) {
    f->tx_n++;
    f->tx_b += len;
  } else if (nb_addr_equal(to, &f->caddr)) {
    f->rx_n++;
    f->rx_b += len;
  }
  return true;
}

static nb_err fw_apply(void *user, const uint8_t *pkg, size_t len, nb_time_ms now) {
  fx *f = user;
  (void)now;
  f->applied++;
  nb_client_firmware_status(f->c, &f->state_at_apply, NULL);
  free(f->applied_pkg);
  f->applied_pkg = malloc(len ? len : 1);
  assert_non_null(f->applied_pkg);
  memcpy(f->applied_pkg, pkg, len);
  f->applied_len = len;
  return f->apply_result;
}

static void files_handler(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                          const nb_coap_msg *req, nb_time_ms now) {
  fx *f = user;
  (void)peer;
  char path[64];
  nb_coap_msg r;
  nb_coap_msg_init(&r, NB_COAP_ACK, NB_COAP_NOT_FOUND, 0);
  if (nb_coap_msg_get_path(req, NB_COAP_OPT_URI_PATH, path, sizeof path) == NB_OK &&
      strcmp(path, "/fw/pkg") == 0) {
    r.code = NB_COAP_CONTENT;
    nb_coap_msg_set_payload(&r, f->blob, f->blob_len);
  }
  nb_coap_exchange_respond(ex, &r, now);
}

static void fx_setup(fx *f) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(7);
  assert_non_null(f->net);
  nb_addr sa = nb_simnet_addr(1, 5683), fa = nb_simnet_addr(3, 5683);
  f->faddr = fa;
  f->caddr = nb_simnet_addr(9, 56830);
  nb_ss_init(&f->srv, f->net, &sa);
  f->node = nb_simnet_add(f->net, &f->caddr, &nb_test_client_ops, NULL);
  f->files_node = nb_simnet_add_coap(f->net, &fa, NULL, &f->files);
  nb_coap_ep_set_handler(f->files, files_handler, f);
  f->blob_len = 5000;
  f->blob = malloc(f->blob_len);
  assert_non_null(f->blob);
  for (size_t i = 0; i < f->blob_len; i++) f->blob[i] = (uint8_t)(i * 7 + 3);
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
  nb_client_firmware_config fc = {
      .apply = fw_apply, .user = f, .max_size = 8000, .pkg_name = "nb-fw", .pkg_version = "2.0"};
  assert_int_equal(nb_client_add_firmware(f->c, &fc), NB_OK);
  assert_int_equal(nb_client_add_firmware(f->c, &fc), NB_ERR_EXISTS);
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
  free(f->blob);
  free(f->applied_pkg);
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

static void expect_fw(fx *f, nb_fw_state st, nb_fw_result res) {
  nb_fw_state s;
  nb_fw_result r;
  assert_int_equal(nb_client_firmware_status(f->c, &s, &r), NB_OK);
  if (s != st || r != res) fail_msg("firmware state %d result %d, wanted %d %d", s, r, st, res);
  char want[8];
  snprintf(want, sizeof want, "%d", (int)st);
  expect_read(f, "/5/0/3", want);
  snprintf(want, sizeof want, "%d", (int)res);
  expect_read(f, "/5/0/5", want);
}

static void test_firmware_push(void **state) {
  (void)state;
  fx f;
  fx_setup(&f);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INITIAL);
  expect_read(&f, "/5/0/6", "nb-fw");
  expect_read(&f, "/5/0/9", "2");
  /* Execute with nothing downloaded is refused. */
  assert_int_equal(txt(&f, NB_COAP_POST, "/5/0/2", NULL, NULL, 0), NB_COAP_BAD_REQUEST);
  /* The package (5000 bytes: Block1 by the server's CoAP layer). */
  nb_ss_answer a;
  nb_ss_request(&f.srv, NB_COAP_PUT, "/5/0/0", NB_COAP_CF_OCTET_STREAM, NB_COAP_CF_NONE, NULL,
                f.blob, f.blob_len, &a);
  assert_int_equal(a.code, NB_COAP_CHANGED);
  nb_ss_answer_free(&a);
  expect_fw(&f, NB_FW_STATE_DOWNLOADED, NB_FW_RESULT_INITIAL);
  /* Update: Updating while installing, then Idle with success. */
  nb_ct_resp r;
  memset(&r, 0, sizeof r);
  nb_coap_req_id oid =
      nb_ss_observe(&f.srv, NB_COAP_GET, "/5/0/3", NB_COAP_CF_NONE, NB_COAP_CF_TEXT, NULL, 0, &r);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  f.apply_result = NB_OK;
  assert_int_equal(txt(&f, NB_COAP_POST, "/5/0/2", NULL, NULL, 0), NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  assert_int_equal(f.applied, 1);
  assert_int_equal(f.state_at_apply, NB_FW_STATE_UPDATING);
  assert_int_equal(f.applied_len, f.blob_len);
  assert_memory_equal(f.applied_pkg, f.blob, f.blob_len);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_SUCCESS);
  assert_true(r.calls >= 3); /* 2 (answer), 3 (updating), 0 (idle) */
  assert_int_equal(r.payload_len, 1);
  assert_memory_equal(r.payload, "0", 1);
  nb_coap_ep_cancel(f.srv.ep, oid, false, nb_simnet_now(f.net));
  free(r.payload);
  /* A failing install: integrity result, the package stays Downloaded. */
  nb_ss_request(&f.srv, NB_COAP_PUT, "/5/0/0", NB_COAP_CF_OCTET_STREAM, NB_COAP_CF_NONE, NULL,
                f.blob, 100, &a);
  nb_ss_answer_free(&a);
  f.apply_result = NB_ERR_INVAL;
  assert_int_equal(txt(&f, NB_COAP_POST, "/5/0/2", NULL, NULL, 0), NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  expect_fw(&f, NB_FW_STATE_DOWNLOADED, NB_FW_RESULT_INTEGRITY);
  /* An empty package resets. */
  nb_ss_request(&f.srv, NB_COAP_PUT, "/5/0/0", NB_COAP_CF_OCTET_STREAM, NB_COAP_CF_NONE, NULL, "",
                0, &a);
  assert_int_equal(a.code, NB_COAP_CHANGED);
  nb_ss_answer_free(&a);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INITIAL);
  /* Too large for the device (8000 bytes max). */
  uint8_t *big = calloc(1, 9000);
  assert_non_null(big);
  nb_ss_request(&f.srv, NB_COAP_PUT, "/5/0/0", NB_COAP_CF_OCTET_STREAM, NB_COAP_CF_NONE, NULL, big,
                9000, &a);
  nb_ss_answer_free(&a);
  free(big);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_NO_STORAGE);
  fx_teardown(&f);
}

static void test_firmware_pull(void **state) {
  (void)state;
  fx f;
  fx_setup(&f);
  assert_int_equal(txt(&f, NB_COAP_PUT, "/5/0/1", "coap://10.0.0.3:5683/fw/pkg", NULL, 0),
                   NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 5000);
  expect_fw(&f, NB_FW_STATE_DOWNLOADED, NB_FW_RESULT_INITIAL);
  expect_read(&f, "/5/0/1", "coap://10.0.0.3:5683/fw/pkg");
  assert_int_equal(f.file_answers, 5); /* 5000 bytes in 1024-byte Block2 blocks */
  f.apply_result = NB_OK;
  assert_int_equal(txt(&f, NB_COAP_POST, "/5/0/2", NULL, NULL, 0), NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  assert_int_equal(f.applied_len, f.blob_len);
  assert_memory_equal(f.applied_pkg, f.blob, f.blob_len);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_SUCCESS);
  /* URI errors: answered 2.04, reported in the Update Result. */
  assert_int_equal(txt(&f, NB_COAP_PUT, "/5/0/1", "http://10.0.0.3/fw", NULL, 0), NB_COAP_CHANGED);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_UNSUPPORTED_PROTOCOL);
  assert_int_equal(txt(&f, NB_COAP_PUT, "/5/0/1", "not a uri", NULL, 0), NB_COAP_CHANGED);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INVALID_URI);
  assert_int_equal(txt(&f, NB_COAP_PUT, "/5/0/1", "coap://no.such.host/fw", NULL, 0),
                   NB_COAP_CHANGED);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INVALID_URI);
  assert_int_equal(txt(&f, NB_COAP_PUT, "/5/0/1", "coap://10.0.0.3:5683/missing", NULL, 0),
                   NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 5000);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INVALID_URI);
  fx_teardown(&f);
}

static void test_firmware_pull_interrupted(void **state) {
  (void)state;
  fx f;
  fx_setup(&f);
  f.drop_after = 2; /* the link from the file server dies after the second block */
  nb_time_ms t0 = nb_simnet_now(f.net);
  assert_int_equal(txt(&f, NB_COAP_PUT, "/5/0/1", "coap://10.0.0.3:5683/fw/pkg", NULL, 0),
                   NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, t0 + 30000);
  expect_fw(&f, NB_FW_STATE_DOWNLOADING, NB_FW_RESULT_INITIAL);
  /* A second URI while downloading is refused. */
  assert_int_equal(txt(&f, NB_COAP_PUT, "/5/0/1", "coap://10.0.0.3:5683/fw/pkg", NULL, 0),
                   NB_COAP_BAD_REQUEST);
  /* CoAP gives up after MAX_TRANSMIT_WAIT (93 s at the defaults) at the latest. */
  nb_simnet_run_until(f.net, t0 + 100000);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_CONNECTION_LOST);
  assert_int_equal(f.applied, 0);
  assert_int_equal(txt(&f, NB_COAP_POST, "/5/0/2", NULL, NULL, 0), NB_COAP_BAD_REQUEST);
  /* Writing an empty URI during a download cancels it. */
  f.drop_after = f.file_answers + 2;
  assert_int_equal(txt(&f, NB_COAP_PUT, "/5/0/1", "coap://10.0.0.3:5683/fw/pkg", NULL, 0),
                   NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 10000);
  expect_fw(&f, NB_FW_STATE_DOWNLOADING, NB_FW_RESULT_INITIAL);
  assert_int_equal(txt(&f, NB_COAP_PUT, "/5/0/1", "", NULL, 0), NB_COAP_CHANGED);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INITIAL);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 200000);
  expect_fw(&f, NB_FW_STATE_IDLE, NB_FW_RESULT_INITIAL);
  fx_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conn_monitoring_and_location),
      cmocka_unit_test(test_conn_stats),
      cmocka_unit_test(test_firmware_push),
      cmocka_unit_test(test_firmware_pull),
      cmocka_unit_test(test_firmware_pull_interrupted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
