/* A server restart with DTLS devices (issue 14 item 6), in process on the simulated network.
 * Engine level (scripted devices whose DTLS identity the harness reports): a DTLS device's
 * registration restored from the store is not reachable until it is heard from, so a request for
 * it is queued at once (not a 504 after the request timeout) and goes out when the device
 * updates; a NoSec one restored stays reachable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/server.h"
#include "simnet.h"
#include "srv_harness.h"
#include "store/sqlite.h"

typedef struct {
  char db[64];
  nb_store_sqlite *store;
  nb_server_config cfg;
  nb_srv_harness h;
} rig;

static void rig_init(rig *g) {
  memset(g, 0, sizeof *g);
  snprintf(g->db, sizeof g->db, "/tmp/nb-restart-dtls-XXXXXX");
  int fd = mkstemp(g->db);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(nb_store_sqlite_open(g->db, &g->store), NB_OK);
  nb_server_config_default(&g->cfg);
  g->cfg.store = nb_store_sqlite_iface(g->store);
  nb_srv_harness_init(&g->h, &g->cfg);
  /* "meter" authenticates with PSK identity "meter-id" (port 6001 of the harness). */
  nb_server_sec_info sec;
  memset(&sec, 0, sizeof sec);
  snprintf(sec.ep, sizeof sec.ep, "meter");
  sec.kind = NB_SERVER_ID_PSK;
  snprintf(sec.identity, sizeof sec.identity, "meter-id");
  memcpy(sec.key, "0123456789abcdef", 16);
  sec.key_len = 16;
  assert_int_equal(g->cfg.store.ops->sec_put(g->cfg.store.self, &sec), NB_OK);
  g->h.ident[1].kind = NB_SERVER_ID_PSK;
  snprintf(g->h.ident[1].value, sizeof g->h.ident[1].value, "meter-id");
}

static void rig_deinit(rig *g) {
  nb_srv_harness_deinit(&g->h);
  nb_store_sqlite_close(g->store);
  char side[80];
  unlink(g->db);
  snprintf(side, sizeof side, "%s-wal", g->db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", g->db);
  unlink(side);
}

/* The server process goes and a new one starts on the same database. */
static void restart(rig *g) {
  nb_server_free(g->h.srv);
  assert_int_equal(nb_server_new(&g->cfg, nb_simnet_send, g->h.node, &g->h.srv), NB_OK);
  assert_int_equal(nb_server_restore(g->h.srv, nb_simnet_now(g->h.net), NULL), NB_OK);
}

typedef struct {
  int calls;
  nb_err err;
  uint8_t code;
} result;

static void on_result(void *user, uint64_t id, const nb_server_result *res, bool last) {
  result *r = user;
  (void)id;
  (void)last;
  r->calls++;
  r->err = res->err;
  r->code = res->code;
}

static bool answered(void *user) { return ((result *)user)->calls > 0; }

static void test_restored_dtls_device_queued_until_heard(void **state) {
  (void)state;
  rig g;
  rig_init(&g);
  nb_srv_device dtls, plain;
  nb_srv_dev_init(&dtls, &g.h, 1);
  nb_srv_dev_init(&plain, &g.h, 2);
  assert_int_equal(nb_srv_dev_register(&dtls, "meter", "lwm2m=1.1", NULL), NB_COAP_CREATED);
  assert_int_equal(nb_srv_dev_register(&plain, "plain", "lwm2m=1.1", NULL), NB_COAP_CREATED);
  assert_true(nb_server_is_awake(g.h.srv, "meter"));
  assert_false(nb_server_find(g.h.srv, "meter")->restored_unheard);

  restart(&g);
  const nb_server_reg_info *ri = nb_server_find(g.h.srv, "meter");
  assert_non_null(ri);
  assert_true(ri->restored_unheard);
  assert_false(nb_server_is_awake(g.h.srv, "meter"));
  assert_false(nb_server_find(g.h.srv, "plain")->restored_unheard);
  assert_true(nb_server_is_awake(g.h.srv, "plain"));

  /* A read for the DTLS device is queued at once, nothing goes to the device. */
  result r = {0};
  bool queued = false;
  uint64_t id;
  nb_server_request rq = {.op = NB_SOP_READ,
                          .path = nb_path_res(3, 0, 1),
                          .has_format = true,
                          .format = NB_COAP_CF_TEXT};
  nb_time_ms now = nb_simnet_now(g.h.net);
  assert_int_equal(nb_server_send_request(g.h.srv, "meter", &rq, on_result, &r, now, &id, &queued),
                   NB_OK);
  assert_true(queued);
  nb_simnet_run_until(g.h.net, now + 60000);
  assert_int_equal(dtls.nreq, 0);
  assert_int_equal(r.calls, 0);

  /* Its Update (over a new session) makes it reachable; the read goes out and is answered. */
  dtls.answer = "ACME";
  dtls.answer_cf = NB_COAP_CF_TEXT;
  char loc[64];
  snprintf(loc, sizeof loc, "%s", dtls.location);
  assert_int_equal(nb_srv_dev_send(&dtls, NB_COAP_POST, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_CHANGED);
  assert_true(nb_simnet_run_until_cond(g.h.net, nb_simnet_now(g.h.net) + 10000, answered, &r));
  assert_int_equal(r.err, NB_OK);
  assert_int_equal(r.code, NB_COAP_CONTENT);
  assert_int_equal(dtls.nreq, 1);
  assert_false(nb_server_find(g.h.srv, "meter")->restored_unheard);
  assert_true(nb_server_is_awake(g.h.srv, "meter"));

  /* The NoSec device was reachable all along. */
  result p = {0};
  queued = true;
  now = nb_simnet_now(g.h.net);
  plain.answer = "x";
  assert_int_equal(nb_server_send_request(g.h.srv, "plain", &rq, on_result, &p, now, &id, &queued),
                   NB_OK);
  assert_false(queued);
  assert_true(nb_simnet_run_until_cond(g.h.net, now + 10000, answered, &p));
  assert_int_equal(p.code, NB_COAP_CONTENT);
  rig_deinit(&g);
}

/* A restored DTLS device that registers anew is reachable again, and what was queued for it
 * goes out on the new registration (it is not cancelled by the re-registration). */
static void test_restored_dtls_device_registers_again(void **state) {
  (void)state;
  rig g;
  rig_init(&g);
  nb_srv_device d;
  nb_srv_dev_init(&d, &g.h, 1);
  assert_int_equal(nb_srv_dev_register(&d, "meter", "lwm2m=1.1", NULL), NB_COAP_CREATED);
  restart(&g);
  result r = {0};
  bool queued = false;
  uint64_t id;
  nb_server_request rq = {.op = NB_SOP_READ,
                          .path = nb_path_res(3, 0, 1),
                          .has_format = true,
                          .format = NB_COAP_CF_TEXT};
  assert_int_equal(nb_server_send_request(g.h.srv, "meter", &rq, on_result, &r,
                                          nb_simnet_now(g.h.net), &id, &queued),
                   NB_OK);
  assert_true(queued);
  d.answer = "ACME";
  d.answer_cf = NB_COAP_CF_TEXT;
  assert_int_equal(nb_srv_dev_register(&d, "meter", "lwm2m=1.1", NULL), NB_COAP_CREATED);
  assert_true(nb_simnet_run_until_cond(g.h.net, nb_simnet_now(g.h.net) + 10000, answered, &r));
  assert_int_equal(r.code, NB_COAP_CONTENT);
  assert_true(nb_server_is_awake(g.h.srv, "meter"));
  rig_deinit(&g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_restored_dtls_device_queued_until_heard),
      cmocka_unit_test(test_restored_dtls_device_registers_again),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
