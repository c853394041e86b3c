/* The fleet simulator's core (src/sim/fleet.c) in-process on the simulated network with a
 * virtual clock, against the real server and bootstrap engines: a fleet bootstraps and
 * registers with 20 % of its datagrams lost each way (the fleet's own seeded loss) within a
 * bound of virtual time; an Execute the server sends once to each device, retransmitted under
 * the loss, is applied at most once and at least whenever the server saw it answered; the wire
 * accounting adds up (every datagram the devices got or sent is counted once, or counted as
 * lost); de-registration on stop; the same seed gives the same run. Deterministic: the engines'
 * randomness comes from the network's PRNG. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "bootstrap/bootstrap.h"
#include "bootstrap/config_store.h"
#include "server/server.h"
#include "sim/fleet.h"
#include "sim/profile.h"
#include "sim/scenario.h"
#include "simnet.h"
#include "store/sqlite.h"

#define DEVICES 40
#define DM_N 1
#define BS_N 2
#define FLEET_N 9
#define DEV_N(i) (1000 + (i))

typedef struct fx fx;

typedef struct {
  fx *f;
  uint32_t dev;
  nb_simnet_node *node;
} dev_node;

struct fx {
  nb_simnet *net;
  nb_store_sqlite *dmst;
  nb_bs_store *bst;
  nb_server *srv;
  nb_bs_engine *bs;
  nb_simnet_node *srv_node, *bs_node, *fleet_node;
  nb_sim_profiles *profiles;
  nb_sim_scenario scenario;
  nb_sim_fleet *fleet;
  dev_node dev[DEVICES];
  uint64_t delivered_to_devices, sent_by_devices;
  int exec_answered, exec_done;
};

/* ---- the servers on the network ---- */

static const nb_server_identity nosec = {.kind = NB_SERVER_ID_NONE};

static void srv_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_server_receive(((fx *)u)->srv, from, &nosec, d, n, now);
}
static nb_time_ms srv_deadline(void *u) { return nb_server_next_deadline(((fx *)u)->srv); }
static void srv_tick(void *u, nb_time_ms now) { nb_server_tick(((fx *)u)->srv, now); }
static const nb_simnet_ops srv_ops = {srv_recv, srv_deadline, srv_tick, NULL};
static void srv_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  nb_simnet_send(((fx *)u)->srv_node, p, d, n);
}

static void bs_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_bs_engine_receive(((fx *)u)->bs, from, &nosec, d, n, now);
}
static nb_time_ms bs_deadline(void *u) { return nb_bs_engine_next_deadline(((fx *)u)->bs); }
static void bs_tick(void *u, nb_time_ms now) { nb_bs_engine_tick(((fx *)u)->bs, now); }
static const nb_simnet_ops bs_ops = {bs_recv, bs_deadline, bs_tick, NULL};
static void bs_send(void *u, const nb_addr *p, const uint8_t *d, size_t n) {
  nb_simnet_send(((fx *)u)->bs_node, p, d, n);
}

/* ---- the fleet: a node per device address, one for its timers ---- */

static void dev_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  dev_node *dn = u;
  dn->f->delivered_to_devices++;
  nb_sim_fleet_receive(dn->f->fleet, dn->dev, from, d, n, now);
}
static const nb_simnet_ops dev_ops = {dev_recv, NULL, NULL, NULL};

static nb_time_ms fleet_deadline(void *u) { return nb_sim_fleet_next_deadline(((fx *)u)->fleet); }
static void fleet_tick(void *u, nb_time_ms now) { nb_sim_fleet_tick(((fx *)u)->fleet, now); }
static const nb_simnet_ops fleet_ops = {NULL, fleet_deadline, fleet_tick, NULL};

static void fleet_send(void *u, uint32_t dev, const nb_addr *peer, const uint8_t *d, size_t n) {
  fx *f = u;
  f->sent_by_devices++;
  nb_simnet_send(f->dev[dev].node, peer, d, n);
}

/* Every device gets a bootstrap config naming the server (NoSec), in the bootstrap store. */
static nb_err provision(void *u, nb_sim_fleet *fl, const nb_sim_cred *cred) {
  fx *f = u;
  nb_bs_config cfg;
  nb_bs_config_init(&cfg, cred->ep);
  nb_bs_server s = {.ssid = 101, .lifetime = 300, .mode = NB_BS_SEC_NOSEC};
  snprintf(s.uri, sizeof s.uri, "coap://10.0.0.%d:5683", DM_N);
  nb_err e = nb_bs_config_add_server(&cfg, &s);
  if (e == NB_OK) e = nb_bs_store_config_put(f->bst, &cfg);
  if (e == NB_OK) nb_sim_fleet_provisioned(fl, cred->dev, NB_OK, nb_simnet_now(f->net));
  return e;
}

/* binding: NULL for U. */
static void fx_setup(fx *f, uint64_t seed, bool bootstrap, double loss, const char *binding) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(seed);
  assert_int_equal(nb_store_sqlite_open(":memory:", &f->dmst), NB_OK);
  assert_int_equal(nb_bs_store_open(":memory:", &f->bst), NB_OK);
  nb_server_config sc;
  nb_server_config_default(&sc);
  sc.store = nb_store_sqlite_iface(f->dmst);
  sc.random = nb_simnet_rng_fill;
  sc.random_user = nb_simnet_rng_of(f->net);
  sc.coap.random = NULL;
  nb_addr sa = nb_simnet_addr(DM_N, 5683), ba = nb_simnet_addr(BS_N, 5783),
          fa = nb_simnet_addr(FLEET_N, 1);
  f->srv_node = nb_simnet_add(f->net, &sa, &srv_ops, f);
  f->bs_node = nb_simnet_add(f->net, &ba, &bs_ops, f);
  assert_int_equal(nb_server_new(&sc, srv_send, f, &f->srv), NB_OK);
  nb_bs_engine_config bc;
  nb_bs_engine_config_default(&bc);
  bc.source = nb_bs_store_source(f->bst);
  bc.dm_store = nb_store_sqlite_iface(f->dmst);
  bc.random = nb_simnet_rng_fill;
  bc.random_user = nb_simnet_rng_of(f->net);
  assert_int_equal(nb_bs_engine_new(&bc, bs_send, f, &f->bs), NB_OK);

  assert_int_equal(nb_sim_profiles_synthetic(20, 7, seed, &f->profiles), NB_OK);
  nb_sim_scenario_config scc = {.kind = NB_SIM_SCEN_SMART_METER,
                                .profiles = f->profiles,
                                .seed = seed,
                                .unix_offset_ms = 1700000000000LL};
  assert_int_equal(nb_sim_scenario_init(&f->scenario, &scc, 0), NB_OK);
  nb_sim_config cfg;
  nb_sim_config_default(&cfg);
  cfg.devices = DEVICES;
  cfg.scenario = &f->scenario;
  if (bootstrap) {
    cfg.bootstrap_uri = "coap://10.0.0.2:5783";
    cfg.provision = provision;
    cfg.provision_user = f;
  } else {
    cfg.server_uri = "coap://10.0.0.1:5683";
  }
  cfg.retry_timer = 5;
  cfg.binding = binding;
  cfg.window = DEVICES;
  cfg.loss = loss;
  cfg.seed = seed;
  cfg.send = fleet_send;
  cfg.send_user = f;
  cfg.random = nb_simnet_rng_fill; /* jitter and MIDs from the seed too: runs repeat */
  cfg.random_user = nb_simnet_rng_of(f->net);
  assert_int_equal(nb_sim_fleet_new(&cfg, 0, &f->fleet), NB_OK);
  for (uint32_t i = 0; i < DEVICES; i++) {
    nb_addr a = nb_simnet_addr(DEV_N(i), 40000);
    f->dev[i] = (dev_node){.f = f, .dev = i};
    f->dev[i].node = nb_simnet_add(f->net, &a, &dev_ops, &f->dev[i]);
    assert_non_null(f->dev[i].node);
  }
  f->fleet_node = nb_simnet_add(f->net, &fa, &fleet_ops, f);
  assert_non_null(f->fleet_node);
}

static void fx_teardown(fx *f) {
  nb_sim_fleet_free(f->fleet);
  nb_simnet_free(f->net);
  nb_server_free(f->srv);
  nb_bs_engine_free(f->bs);
  nb_store_sqlite_close(f->dmst);
  nb_bs_store_close(f->bst);
  nb_sim_profiles_free(f->profiles);
}

static bool all_registered(void *u) {
  const nb_sim_stats *st = nb_sim_fleet_stats(((fx *)u)->fleet);
  return st->ever_registered == DEVICES && st->registered == DEVICES;
}

static bool finished(void *u) {
  fx *f = u;
  return nb_sim_fleet_finished(f->fleet, nb_simnet_now(f->net));
}

static bool executes_done(void *u) { return ((fx *)u)->exec_done == DEVICES; }

static void on_exec(void *u, uint64_t id, const nb_server_result *res, bool last) {
  fx *f = u;
  (void)id;
  if (!last) return;
  f->exec_done++;
  if (res->err == NB_OK && res->code == NB_COAP_CHANGED) f->exec_answered++;
}

/* The sum of one direction of the wire rows: datagrams counted. */
static uint64_t wire_datagrams(const nb_sim_wire *w, int dir) {
  uint64_t n = 0;
  for (int c = 0; c < NB_SIM_MSG_COUNT; c++) n += w->rows[c].datagrams[dir];
  return n;
}

/* Loss 20 % each way: bootstrap and registration within a bound of virtual time. */
static void run_lossy(bool bootstrap) {
  fx f;
  fx_setup(&f, 42, bootstrap, 0.2, NULL);
  /* bound: a few CoAP give-ups (MAX_TRANSMIT_WAIT, 93 s) and retries; a bootstrap that the
   * bootstrap server abandoned is asked again after the Finish timeout (300 s) */
  const nb_time_ms bound = 30 * 60 * 1000;
  assert_true(nb_simnet_run_until_cond(f.net, bound, all_registered, &f));
  printf("%s: all %d registered after %lld s of virtual time\n",
         bootstrap ? "bootstrap" : "register", DEVICES, (long long)nb_simnet_now(f.net) / 1000);
  const nb_sim_stats *st = nb_sim_fleet_stats(f.fleet);
  if (bootstrap) assert_int_equal(st->bootstrapped, DEVICES);
  assert_true(st->lost_up > 0 && st->lost_down > 0);
  /* Reset Error Code, sent once to every device by the server */
  nb_time_ms now = nb_simnet_now(f.net);
  for (uint32_t i = 0; i < DEVICES; i++) {
    char ep[32];
    nb_server_request rq = {.op = NB_SOP_EXECUTE, .path = nb_path_res(3, 0, 12)};
    uint64_t id;
    bool queued;
    assert_int_equal(nb_server_send_request(f.srv, nb_sim_fleet_endpoint(f.fleet, i, ep, sizeof ep),
                                            &rq, on_exec, &f, now, &id, &queued),
                     NB_OK);
  }
  assert_true(nb_simnet_run_until_cond(f.net, now + 10 * 60 * 1000, executes_done, &f));
  assert_true(st->execute_max <= 1);                      /* never twice on one device */
  assert_true(st->executes >= (uint64_t)f.exec_answered); /* every answered one was applied */
  assert_true(st->executes <= DEVICES);
  assert_true(f.exec_answered >= DEVICES / 2);
  printf("executes: %d answered, %llu applied, at most %u on a device\n", f.exec_answered,
         (unsigned long long)st->executes, st->execute_max);
  /* the wire: what reached the devices was counted once or lost; what they sent likewise */
  const nb_sim_wire *w = nb_sim_fleet_wire(f.fleet);
  assert_int_equal(wire_datagrams(w, 1) + st->lost_down, f.delivered_to_devices);
  assert_int_equal(wire_datagrams(w, 0), f.sent_by_devices);
  /* some Executes reached their device twice (the answer was lost, the server sent it again):
   * the once-only above is not for want of repeats */
  assert_true(w->rows[NB_SIM_MSG_EXECUTE].datagrams[1] > DEVICES);
  assert_true(w->rows[NB_SIM_MSG_REGISTER].datagrams[0] >= DEVICES);
  if (bootstrap) {
    assert_true(w->bs_rows[NB_SIM_MSG_BS_REQUEST].datagrams[0] >= DEVICES);
    assert_true(w->bs_rows[NB_SIM_MSG_BS_WRITE_SRV].datagrams[1] >= DEVICES);
    assert_int_equal(w->bs_rows[NB_SIM_MSG_REGISTER].datagrams[0], 0);
  }
  fx_teardown(&f);
}

static void test_bootstrap_under_loss(void **state) {
  (void)state;
  run_lossy(true);
}

static void test_register_under_loss(void **state) {
  (void)state;
  run_lossy(false);
}

/* Without loss: every device registers at the first attempt, every request pairs with its
 * answer (latency), the stop de-registers the fleet and the server has nobody left. */
static void test_stop_deregisters(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 7, false, 0, NULL);
  assert_true(nb_simnet_run_until_cond(f.net, 60000, all_registered, &f));
  const nb_sim_stats *st = nb_sim_fleet_stats(f.fleet);
  const nb_sim_wire *w = nb_sim_fleet_wire(f.fleet);
  assert_int_equal(w->rows[NB_SIM_MSG_REGISTER].datagrams[0], DEVICES);
  assert_int_equal(w->latency[NB_SIM_MSG_REGISTER].count, DEVICES);
  assert_int_equal(st->reg_failures, 0);
  nb_sim_fleet_stop(f.fleet, nb_simnet_now(f.net), 30000);
  assert_true(nb_simnet_run_until_cond(f.net, nb_simnet_now(f.net) + 60000, finished, &f));
  assert_int_equal(st->deregistered, DEVICES);
  assert_int_equal(w->rows[NB_SIM_MSG_DEREGISTER + NB_SIM_MSG_RESP_OFFSET].datagrams[1], DEVICES);
  nb_server_stats ss;
  nb_server_get_stats(f.srv, &ss);
  assert_int_equal(ss.deregistrations, DEVICES);
  fx_teardown(&f);
}

/* Queue mode: registered devices that exchanged nothing for the queue timeout (93 s) are
 * counted asleep, and wake for the Update before their lifetime ends; without Q none sleeps. */
static void test_queue_mode_sleeping(void **state) {
  (void)state;
  const char *bindings[] = {"UQ", "U"};
  for (int k = 0; k < 2; k++) {
    fx f;
    fx_setup(&f, 5, false, 0, bindings[k]);
    assert_true(nb_simnet_run_until_cond(f.net, 60000, all_registered, &f));
    assert_int_equal(nb_sim_fleet_sleeping(f.fleet), 0);
    nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 120000);
    assert_int_equal(nb_sim_fleet_stats(f.fleet)->registered, DEVICES);
    assert_int_equal(nb_sim_fleet_sleeping(f.fleet), k == 0 ? DEVICES : 0);
    fx_teardown(&f);
  }
}

/* The same seed, the same run: datagrams lost and counted alike. */
static void test_seeded(void **state) {
  (void)state;
  uint64_t lost[2][2], sent[2];
  for (int k = 0; k < 2; k++) {
    fx f;
    fx_setup(&f, 99, false, 0.2, NULL);
    nb_simnet_run_until(f.net, 120000);
    lost[k][0] = nb_sim_fleet_stats(f.fleet)->lost_up;
    lost[k][1] = nb_sim_fleet_stats(f.fleet)->lost_down;
    sent[k] = f.sent_by_devices;
    fx_teardown(&f);
  }
  assert_int_equal(lost[0][0], lost[1][0]);
  assert_int_equal(lost[0][1], lost[1][1]);
  assert_int_equal(sent[0], sent[1]);
}

int main(void) {
  nb_log_set_level(NB_LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stop_deregisters),     cmocka_unit_test(test_register_under_loss),
      cmocka_unit_test(test_bootstrap_under_loss), cmocka_unit_test(test_seeded),
      cmocka_unit_test(test_queue_mode_sleeping),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
