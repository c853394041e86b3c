/* A server restart with DTLS devices (issue 14 item 6), in process on the simulated network.
 * Engine level (scripted devices whose DTLS identity the harness reports): a DTLS device's
 * registration restored from the store is not reachable until it is heard from, so a request for
 * it is queued at once (not a 504 after the request timeout) and goes out when the device
 * updates; a NoSec one restored stays reachable.
 * Whole system (the client engine over PSK, the DTLS server context and the server engine, the
 * server's part freed and made anew on the same database): the client's next Update, sent into
 * the session the new process does not have, is followed within a few seconds by a new
 * handshake that carries it, the registration is confirmed (or, when the server lost it, made
 * anew at once), and what the API queued meanwhile is answered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dtls/server.h"
#include "dtls/sessfile.h"
#include "io/dtls_server_io.h"
#include "niobium/client.h"
#include "server/server.h"
#include "simnet.h"
#include "srv_harness.h"
#include "store/sqlite.h"

typedef nb_srv_rig rig;

/* The harness with "meter" authenticating with PSK identity "meter-id" (port 6001). */
static void rig_init(rig *g) {
  nb_srv_rig_init(g);
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

  nb_srv_rig_restart(&g);
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
  nb_srv_rig_deinit(&g);
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
  nb_srv_rig_restart(&g);
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
  nb_srv_rig_deinit(&g);
}

/* ---- the whole system: client engine, DTLS server, server engine ---- */

static const char PSK[] = "restart-psk-0123";

typedef struct {
  nb_simnet *net;
  char db[64];
  nb_store_sqlite *store;
  nb_server *srv;
  nb_dtls_server *dtls;
  nb_dtls_creds *creds;
  nb_simnet_node *snode, *cnode;
  nb_addr saddr, caddr;
  nb_client *c;
  int handshakes; /* sessions the server established */
} sys;

static void deliver(void *u, const nb_addr *p, const uint8_t *d, size_t n, nb_time_ms now) {
  sys *y = u;
  nb_server_identity id = {.kind = NB_SERVER_ID_NONE};
  nb_dtls_session *s = nb_dtls_server_find(y->dtls, p);
  if (s) nb_io_srv_identity(nb_dtls_session_peer(s), &id);
  nb_server_receive(y->srv, p, &id, d, n, now);
}
static void dtls_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  nb_simnet_send(((sys *)u)->snode, p, d, n);
}
static void dtls_event(void *u, const nb_addr *p, nb_dtls_session *s, const nb_dtls_event *ev,
                       nb_time_ms now) {
  (void)p, (void)s, (void)now;
  if (ev->type == NB_DTLS_EV_ESTABLISHED) ((sys *)u)->handshakes++;
}
static void srv_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  nb_dtls_server_send(((sys *)u)->dtls, p, d, n);
}
static void srv_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  sys *y = u;
  if (y->dtls) nb_dtls_server_receive(y->dtls, from, d, n, now);
}
static nb_time_ms srv_deadline(void *u) {
  sys *y = u;
  if (!y->srv) return NB_TIME_NEVER;
  nb_time_ms a = nb_server_next_deadline(y->srv), b = nb_dtls_server_next_deadline(y->dtls);
  return a < b ? a : b;
}
static void srv_tick(void *u, nb_time_ms now) {
  sys *y = u;
  if (!y->srv) return;
  nb_dtls_server_tick(y->dtls, now);
  nb_server_tick(y->srv, now);
}
static const nb_simnet_ops srv_ops = {srv_recv, srv_deadline, srv_tick, NULL};

static void c_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_client_receive(((sys *)u)->c, from, d, n, now);
}
static nb_time_ms c_deadline(void *u) { return nb_client_next_deadline(((sys *)u)->c); }
static void c_tick(void *u, nb_time_ms now) { nb_client_tick(((sys *)u)->c, now); }
static const nb_simnet_ops client_ops = {c_recv, c_deadline, c_tick, NULL};

static nb_err psk_lookup(void *u, const uint8_t *ident, size_t len, uint8_t *key, size_t cap,
                         size_t *key_len) {
  (void)u;
  if (len != 8 || memcmp(ident, "meter-id", 8) != 0 || cap < strlen(PSK)) return NB_ERR_NOT_FOUND;
  memcpy(key, PSK, strlen(PSK));
  *key_len = strlen(PSK);
  return NB_OK;
}

/* The server process starts: database opened (the credential put in when fresh), engines made,
 * registrations restored. */
static void sys_up(sys *y) {
  assert_int_equal(nb_store_sqlite_open(y->db, &y->store), NB_OK);
  nb_server_store st = nb_store_sqlite_iface(y->store);
  nb_server_sec_info sec = {.ep = "meter", .kind = NB_SERVER_ID_PSK};
  snprintf(sec.identity, sizeof sec.identity, "meter-id");
  assert_int_equal(st.ops->sec_put(st.self, &sec), NB_OK);
  nb_server_config sc;
  nb_server_config_default(&sc);
  sc.random = nb_simnet_rng_fill;
  sc.random_user = nb_simnet_rng_of(y->net);
  sc.coap.random = NULL;
  sc.store = st;
  assert_int_equal(nb_server_new(&sc, srv_send, y, &y->srv), NB_OK);
  nb_dtls_server_config dc;
  nb_dtls_server_config_default(&dc);
  dc.random = nb_simnet_rng_fill;
  dc.random_user = nb_simnet_rng_of(y->net);
  nb_dtls_handlers h = {dtls_send, deliver, dtls_event, y};
  assert_int_equal(nb_dtls_server_new(&dc, y->creds, &h, &y->dtls), NB_OK);
  assert_int_equal(nb_server_restore(y->srv, nb_simnet_now(y->net), NULL), NB_OK);
  y->handshakes = 0;
}

/* The server process dies: nothing is sent, its sessions are gone. */
static void sys_down(sys *y) {
  nb_dtls_server_free(y->dtls);
  nb_server_free(y->srv);
  nb_store_sqlite_close(y->store);
  y->dtls = NULL;
  y->srv = NULL;
  y->store = NULL;
}

static void new_db(sys *y) {
  snprintf(y->db, sizeof y->db, "/tmp/nb-restart-sys-XXXXXX");
  int fd = mkstemp(y->db);
  assert_true(fd >= 0);
  close(fd);
}

static bool server_has_it(void *u) {
  sys *y = u;
  const nb_server_reg_info *r = y->srv ? nb_server_find(y->srv, "meter") : NULL;
  return r && !r->restored_unheard;
}

/* Both ends agree: the server heard the device, the device got its answer. */
static bool both_registered(void *u) {
  sys *y = u;
  nb_client_srv_state st;
  return server_has_it(u) && nb_client_server_state(y->c, 101, &st, NULL, 0) == NB_OK &&
         st == NB_CLIENT_SRV_REGISTERED;
}

static void sys_setup(sys *y) {
  memset(y, 0, sizeof *y);
  y->net = nb_simnet_new(1414);
  new_db(y);
  assert_int_equal(nb_dtls_creds_new(&y->creds), NB_OK);
  nb_dtls_creds_set_psk_lookup(y->creds, psk_lookup, y);
  y->saddr = nb_simnet_addr(1, 5684);
  y->snode = nb_simnet_add(y->net, &y->saddr, &srv_ops, y);
  sys_up(y);
  y->caddr = nb_simnet_addr(9, 56830);
  y->cnode = nb_simnet_add(y->net, &y->caddr, &client_ops, y);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "meter";
  cfg.send = nb_simnet_send;
  cfg.send_user = y->cnode;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(y->net);
  assert_int_equal(nb_client_new(&cfg, &y->c), NB_OK);
  nb_client_device_info d = {
      .manufacturer = "ACME", .battery_level = -1, .memory_free_kb = -1, .memory_total_kb = -1};
  assert_int_equal(nb_client_add_device(y->c, &d), NB_OK);
  nb_client_server_params sp = {.uri = "coaps://10.0.0.1:5684",
                                .ssid = 101,
                                .lifetime = 60,
                                .security_mode = 0,
                                .identity = (const uint8_t *)"meter-id",
                                .identity_len = 8,
                                .secret = (const uint8_t *)PSK,
                                .secret_len = strlen(PSK)};
  assert_int_equal(nb_client_add_server(y->c, &sp), NB_OK);
  assert_int_equal(nb_client_start(y->c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(y->net, 30000, both_registered, y));
  assert_int_equal(y->handshakes, 1);
}

static void sys_teardown(sys *y) {
  nb_simnet_free(y->net);
  nb_client_free(y->c);
  if (y->srv) sys_down(y);
  nb_dtls_creds_free(y->creds);
  nb_srv_db_remove(y->db);
}

/* The Update is due at 90 % of the 60 s lifetime after the registration (54 s). */
#define UPDATE_DUE 54000
/* A first transmission unanswered (2-3 s with the CoAP defaults), a handshake, the answer. */
#define BOUND_MS 8000

static void test_client_renews_session_after_server_restart(void **state) {
  (void)state;
  sys y;
  sys_setup(&y);
  nb_time_ms registered_at = nb_simnet_now(y.net);
  char before[64], after[64];
  nb_client_srv_state st;
  assert_int_equal(nb_client_server_state(y.c, 101, &st, before, sizeof before), NB_OK);
  nb_simnet_run_until(y.net, registered_at + 1000);
  sys_down(&y);
  sys_up(&y);
  const nb_server_reg_info *ri = nb_server_find(y.srv, "meter");
  assert_non_null(ri);
  assert_true(ri->restored_unheard);

  /* What the API asks meanwhile is queued at once, not answered 504 after 30 s. */
  result r = {0};
  bool queued = false;
  uint64_t id;
  nb_server_request rq = {.op = NB_SOP_READ, .path = nb_path_res(3, 0, 0)};
  assert_int_equal(nb_server_send_request(y.srv, "meter", &rq, on_result, &r, nb_simnet_now(y.net),
                                          &id, &queued),
                   NB_OK);
  assert_true(queued);

  /* The device's next Update goes into its old session; a few seconds later a new handshake
   * carries it, the server has the registration and answers, the read goes out. */
  nb_time_ms due = registered_at + UPDATE_DUE;
  assert_true(nb_simnet_run_until_cond(y.net, due + BOUND_MS, answered, &r));
  assert_int_equal(r.err, NB_OK);
  assert_int_equal(r.code, NB_COAP_CONTENT);
  assert_true(nb_simnet_run_until_cond(y.net, due + BOUND_MS, both_registered, &y));
  assert_int_equal(y.handshakes, 1); /* the new process's first */
  assert_int_equal(nb_client_server_state(y.c, 101, &st, after, sizeof after), NB_OK);
  assert_int_equal(st, NB_CLIENT_SRV_REGISTERED);
  assert_string_equal(before, after); /* the same registration, confirmed by the Update */
  sys_teardown(&y);
}

/* The server came back without the registration (another database): the Update over the new
 * session gets 4.04 and the client registers again at once. */
static void test_client_registers_again_when_server_lost_it(void **state) {
  (void)state;
  sys y;
  sys_setup(&y);
  nb_time_ms registered_at = nb_simnet_now(y.net);
  nb_simnet_run_until(y.net, registered_at + 1000);
  sys_down(&y);
  char old[64];
  snprintf(old, sizeof old, "%s", y.db);
  new_db(&y);
  sys_up(&y);
  assert_null(nb_server_find(y.srv, "meter"));
  assert_true(
      nb_simnet_run_until_cond(y.net, registered_at + UPDATE_DUE + BOUND_MS, both_registered, &y));
  nb_client_srv_state st;
  assert_int_equal(nb_client_server_state(y.c, 101, &st, NULL, 0), NB_OK);
  assert_int_equal(st, NB_CLIENT_SRV_REGISTERED);
  nb_srv_db_remove(old);
  sys_teardown(&y);
}

/* What `niobium server` does once it listens: every DTLS device restored unheard is told that
 * its session is gone (nb_dtls_server_nudge). */
static void nudge_one(void *u, const nb_server_reg_info *r) {
  sys *y = u;
  if (r->restored_unheard) assert_int_equal(nb_dtls_server_nudge(y->dtls, &r->addr), NB_OK);
}

/* A restarted server's alert reaches the device, which handshakes again and updates: heard
 * within a few seconds of the restart, not at its Update (54 s after registering). */
#define NUDGE_BOUND_MS 5000

static void test_nudged_device_reachable_at_once(void **state) {
  (void)state;
  sys y;
  sys_setup(&y);
  nb_time_ms registered_at = nb_simnet_now(y.net);
  char before[64], after[64];
  nb_client_srv_state st;
  assert_int_equal(nb_client_server_state(y.c, 101, &st, before, sizeof before), NB_OK);
  nb_simnet_run_until(y.net, registered_at + 1000);
  sys_down(&y);
  sys_up(&y);
  nb_time_ms restarted = nb_simnet_now(y.net);
  result r = {0};
  bool queued = false;
  uint64_t id;
  nb_server_request rq = {.op = NB_SOP_READ, .path = nb_path_res(3, 0, 0)};
  assert_int_equal(
      nb_server_send_request(y.srv, "meter", &rq, on_result, &r, restarted, &id, &queued), NB_OK);
  assert_true(queued);
  nb_server_each(y.srv, nudge_one, &y);
  assert_true(nb_simnet_run_until_cond(y.net, restarted + NUDGE_BOUND_MS, answered, &r));
  assert_int_equal(r.code, NB_COAP_CONTENT);
  assert_true(nb_simnet_run_until_cond(y.net, restarted + NUDGE_BOUND_MS, both_registered, &y));
  assert_int_equal(y.handshakes, 1);
  nb_dtls_server_stats ds;
  nb_dtls_server_get_stats(y.dtls, &ds);
  assert_int_equal(ds.nudged, 1);
  assert_int_equal(nb_client_server_state(y.c, 101, &st, after, sizeof after), NB_OK);
  assert_string_equal(before, after); /* the same registration, confirmed by an Update */
  /* A second alert soon after (forged: the server has the session) is not acted on; one past
   * the client's interval is (a forger costs one handshake per interval). */
  uint8_t forged[NB_DTLS_PLAIN_ALERT_LEN];
  nb_dtls_plain_alert(NB_DTLS_LOST_ALERT, 7, forged);
  nb_time_ms t = nb_simnet_now(y.net);
  nb_client_receive(y.c, &y.saddr, forged, sizeof forged, t);
  nb_simnet_run_until(y.net, t + 5000);
  assert_int_equal(y.handshakes, 1);
  t = restarted + 31000;
  nb_simnet_run_until(y.net, t);
  nb_client_receive(y.c, &y.saddr, forged, sizeof forged, t);
  assert_true(nb_simnet_run_until_cond(y.net, t + NUDGE_BOUND_MS, both_registered, &y));
  nb_simnet_run_until(y.net, t + NUDGE_BOUND_MS);
  assert_int_equal(y.handshakes, 2);
  sys_teardown(&y);
}

/* Without the nudge, the first datagram the device sends into its dead session (here a Send)
 * is answered with the alert: heard again within seconds of it. */
static void test_record_of_lost_session_answered_with_alert(void **state) {
  (void)state;
  sys y;
  sys_setup(&y);
  nb_time_ms registered_at = nb_simnet_now(y.net);
  nb_simnet_run_until(y.net, registered_at + 1000);
  sys_down(&y);
  sys_up(&y);
  nb_time_ms t = nb_simnet_now(y.net) + 2000;
  nb_simnet_run_until(y.net, t);
  assert_false(server_has_it(&y));
  nb_path p = nb_path_res(3, 0, 0);
  assert_int_equal(nb_client_send(y.c, 101, &p, 1, t), NB_OK);
  assert_true(nb_simnet_run_until_cond(y.net, t + NUDGE_BOUND_MS, both_registered, &y));
  nb_dtls_server_stats ds;
  nb_dtls_server_get_stats(y.dtls, &ds);
  assert_true(ds.lost_alerts >= 1);
  assert_int_equal(ds.nudged, 0);
  assert_true(nb_simnet_now(y.net) < registered_at + UPDATE_DUE);
  sys_teardown(&y);
}

/* ---- graceful restart: sessions kept (issue 19 item 1) ---- */

static const uint8_t FILE_KEY[NB_DTLS_SESSFILE_KEY_LEN] = "0123456789abcdef0123456789abcdef";

typedef struct {
  nb_bytes plain;
  uint32_t count;
} saved_set;

static void keep_one(void *u, const nb_dtls_saved *sv) {
  saved_set *k = u;
  assert_int_equal(nb_dtls_sessfile_add(&k->plain, sv), NB_OK);
  k->count++;
}

static nb_err restore_one(void *u, const nb_dtls_saved *sv) {
  sys *y = u;
  nb_err err = nb_dtls_server_restore(y->dtls, sv, nb_simnet_now(y->net));
  if (err != NB_OK) return err;
  nb_server_identity id;
  nb_io_srv_identity(&sv->who, &id);
  assert_true(nb_server_session_kept(y->srv, &sv->peer, &id, nb_simnet_now(y->net)));
  return NB_OK;
}

/* What `niobium server` does at SIGTERM and at its next start, through the session file. */
static void restart_keeping_sessions(sys *y) {
  saved_set k = {.count = 0};
  nb_bytes_init(&k.plain);
  size_t other = 9;
  assert_int_equal(nb_dtls_server_export(y->dtls, keep_one, &k, &other), 1);
  assert_int_equal(other, 0);
  nb_bytes file, plain;
  nb_bytes_init(&file);
  nb_bytes_init(&plain);
  int64_t at = 1800000000000LL + nb_simnet_now(y->net);
  assert_int_equal(nb_dtls_sessfile_seal(FILE_KEY, at, k.count, k.plain.data, k.plain.len, &file),
                   NB_OK);
  sys_down(y);
  sys_up(y);
  uint32_t count = 0;
  assert_int_equal(
      nb_dtls_sessfile_open(FILE_KEY, file.data, file.len, at + 1000, 300000, &plain, &count),
      NB_OK);
  assert_int_equal(nb_dtls_sessfile_parse(plain.data, plain.len, count, restore_one, y), NB_OK);
  nb_bytes_free(&file);
  nb_bytes_free(&plain);
  nb_bytes_free(&k.plain);
}

/* The device never notices: the read right after the restart goes out at once over the
 * restored session and is answered; the Update at its time is answered over it too; no
 * handshake, no renewal; the server's records continue above the old sequence numbers and the
 * client's are accepted in order. */
static void test_graceful_restart_keeps_session(void **state) {
  (void)state;
  sys y;
  sys_setup(&y);
  nb_time_ms registered_at = nb_simnet_now(y.net);
  char before[64], after[64];
  nb_client_srv_state st;
  assert_int_equal(nb_client_server_state(y.c, 101, &st, before, sizeof before), NB_OK);
  nb_simnet_run_until(y.net, registered_at + 1000);
  restart_keeping_sessions(&y);
  nb_time_ms restarted = nb_simnet_now(y.net);
  assert_true(server_has_it(&y));
  nb_dtls_session *ds = nb_dtls_server_find(y.dtls, &y.caddr);
  assert_non_null(ds);
  assert_true(nb_dtls_session_restored(ds));
  assert_string_equal(nb_dtls_session_suite(ds), "TLS_PSK_WITH_AES_128_CCM_8");

  for (int i = 0; i < 3; i++) {
    result r = {0};
    bool queued = true;
    uint64_t id;
    nb_server_request rq = {.op = NB_SOP_READ, .path = nb_path_res(3, 0, 0)};
    nb_time_ms now = nb_simnet_now(y.net);
    assert_int_equal(nb_server_send_request(y.srv, "meter", &rq, on_result, &r, now, &id, &queued),
                     NB_OK);
    assert_false(queued);
    assert_true(nb_simnet_run_until_cond(y.net, now + 500, answered, &r));
    assert_int_equal(r.code, NB_COAP_CONTENT);
  }
  /* The Update at its time: over the same session, answered. */
  nb_simnet_run_until(y.net, registered_at + UPDATE_DUE + 2000);
  assert_true(both_registered(&y));
  assert_int_equal(y.handshakes, 0);
  assert_int_equal(nb_client_server_state(y.c, 101, &st, after, sizeof after), NB_OK);
  assert_string_equal(before, after);
  nb_dtls_server_stats stats;
  nb_dtls_server_get_stats(y.dtls, &stats);
  assert_int_equal(stats.restored, 1);
  assert_int_equal(stats.lost_alerts, 0);
  /* Saved again from the restored session and restored once more: still going. */
  restart_keeping_sessions(&y);
  result r = {0};
  bool queued = true;
  uint64_t id;
  nb_server_request rq = {.op = NB_SOP_READ, .path = nb_path_res(3, 0, 0)};
  nb_time_ms now = nb_simnet_now(y.net);
  assert_int_equal(nb_server_send_request(y.srv, "meter", &rq, on_result, &r, now, &id, &queued),
                   NB_OK);
  assert_false(queued);
  assert_true(nb_simnet_run_until_cond(y.net, now + 500, answered, &r));
  assert_int_equal(r.code, NB_COAP_CONTENT);
  assert_int_equal(y.handshakes, 0);
  (void)restarted;
  sys_teardown(&y);
}

/* The restored session ends like any: the device's own new handshake replaces it. */
static void test_restored_session_replaced_by_handshake(void **state) {
  (void)state;
  sys y;
  sys_setup(&y);
  nb_simnet_run_until(y.net, nb_simnet_now(y.net) + 1000);
  restart_keeping_sessions(&y);
  uint8_t forged[NB_DTLS_PLAIN_ALERT_LEN];
  nb_dtls_plain_alert(NB_DTLS_LOST_ALERT, 1, forged);
  nb_time_ms t = nb_simnet_now(y.net);
  nb_client_receive(y.c, &y.saddr, forged, sizeof forged, t); /* renews at once */
  assert_true(nb_simnet_run_until_cond(y.net, t + NUDGE_BOUND_MS, both_registered, &y));
  nb_simnet_run_until(y.net, t + NUDGE_BOUND_MS);
  assert_int_equal(y.handshakes, 1);
  nb_dtls_session *ds = nb_dtls_server_find(y.dtls, &y.caddr);
  assert_non_null(ds);
  assert_false(nb_dtls_session_restored(ds));
  sys_teardown(&y);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_restored_dtls_device_queued_until_heard),
      cmocka_unit_test(test_restored_dtls_device_registers_again),
      cmocka_unit_test(test_client_renews_session_after_server_restart),
      cmocka_unit_test(test_client_registers_again_when_server_lost_it),
      cmocka_unit_test(test_nudged_device_reachable_at_once),
      cmocka_unit_test(test_record_of_lost_session_answered_with_alert),
      cmocka_unit_test(test_graceful_restart_keeps_session),
      cmocka_unit_test(test_restored_session_replaced_by_handshake),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
