/* Asynchronous credential install (the bootstrap server apart from the management server,
 * `--server-api`): the engine parks one device's bootstrap before Finish until the install
 * completes, while other devices' bootstraps proceed; a refused or never-completed install
 * fails that device (BOOTSTRAP_FAILED, step "install") without a Finish. The installer here
 * is a fake backend node on the simulated network that completes installs later under the
 * virtual clock, as the HTTP client does from the event loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bootstrap/bootstrap.h"
#include "bootstrap/config_store.h"
#include "niobium/client.h"
#include "simnet.h"

#define BS_N 1
#define NDEV 2
#define MAXJOBS 8

typedef struct {
  uint64_t ticket;
  char ep[64];
  nb_server_id_kind kind;
  nb_time_ms due; /* NB_TIME_NEVER: never completes */
  nb_err result;
  bool done;
} job;

typedef struct {
  nb_bs_event_type type;
  char ep[64];
  char step[40];
  nb_err err;
  nb_time_ms at;
} ev_rec;

typedef struct {
  nb_simnet *net;
  nb_bs_store *bst;
  nb_bs_engine *bs;
  nb_simnet_node *bsnode, *backend;
  nb_client *c[NDEV];
  nb_simnet_node *cnode[NDEV];
  nb_addr caddr[NDEV];
  nb_time_ms finish_sent[NDEV]; /* first Bootstrap-Finish sent to device i, 0 none */
  job jobs[MAXJOBS];
  size_t njobs;
  nb_time_ms delay[NDEV]; /* install latency per device (NB_TIME_NEVER: hangs) */
  nb_err result[NDEV];
  ev_rec ev[32];
  size_t nev;
  int late_not_found; /* completions the engine no longer waited for */
} fx;

static int dev_of(fx *f, const char *ep) {
  for (int i = 0; i < NDEV; i++) {
    char name[16];
    snprintf(name, sizeof name, "dev-%d", i);
    if (strcmp(ep, name) == 0) return i;
  }
  (void)f;
  return -1;
}

/* ---- the fake asynchronous installer ---- */

static nb_err fake_install(void *user, uint64_t ticket, const char *ep,
                           const nb_server_sec_info *cred) {
  fx *f = user;
  int d = dev_of(f, ep);
  if (d < 0 || f->njobs == MAXJOBS) return NB_ERR_BUSY;
  job *j = &f->jobs[f->njobs++];
  *j = (job){.ticket = ticket, .kind = cred->kind, .result = f->result[d]};
  snprintf(j->ep, sizeof j->ep, "%s", ep);
  j->due = f->delay[d] == NB_TIME_NEVER ? NB_TIME_NEVER : nb_simnet_now(f->net) + f->delay[d];
  return NB_OK;
}

static nb_time_ms backend_deadline(void *u) {
  fx *f = u;
  nb_time_ms d = NB_TIME_NEVER;
  for (size_t i = 0; i < f->njobs; i++)
    if (!f->jobs[i].done && f->jobs[i].due < d) d = f->jobs[i].due;
  return d;
}

static void backend_tick(void *u, nb_time_ms now) {
  fx *f = u;
  for (size_t i = 0; i < f->njobs; i++) {
    job *j = &f->jobs[i];
    if (j->done || j->due > now) continue;
    j->done = true;
    if (nb_bs_engine_install_done(f->bs, j->ticket, j->result, now) == NB_ERR_NOT_FOUND)
      f->late_not_found++;
  }
}

static void backend_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  (void)u, (void)from, (void)d, (void)n, (void)now;
}
static const nb_simnet_ops backend_ops = {backend_recv, backend_deadline, backend_tick, NULL};

/* ---- bootstrap server and devices ---- */

static void bs_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_bs_engine_receive(((fx *)u)->bs, from, NULL, d, n, now);
}
static nb_time_ms bs_deadline(void *u) { return nb_bs_engine_next_deadline(((fx *)u)->bs); }
static void bs_tick(void *u, nb_time_ms now) { nb_bs_engine_tick(((fx *)u)->bs, now); }
static const nb_simnet_ops bs_ops = {bs_recv, bs_deadline, bs_tick, NULL};

static void c_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_client_receive(u, from, d, n, now);
}
static nb_time_ms c_deadline(void *u) { return nb_client_next_deadline(u); }
static void c_tick(void *u, nb_time_ms now) { nb_client_tick(u, now); }
static const nb_simnet_ops client_ops = {c_recv, c_deadline, c_tick, NULL};

static void on_event(void *u, const nb_bs_event *e) {
  fx *f = u;
  if (f->nev == 32) return;
  ev_rec *r = &f->ev[f->nev++];
  r->type = e->type;
  snprintf(r->ep, sizeof r->ep, "%s", e->ep);
  snprintf(r->step, sizeof r->step, "%s", e->step ? e->step : "");
  r->err = e->err;
  r->at = e->now;
}

/* Notes when a Bootstrap-Finish (POST /bs from the server) leaves for a device. */
static bool tap(void *u, const nb_addr *from, const nb_addr *to, const uint8_t *d, size_t n,
                nb_time_ms now) {
  fx *f = u;
  (void)from;
  nb_coap_msg m;
  char path[8];
  if (nb_coap_parse(d, n, &m) != NB_OK || m.code != NB_COAP_POST ||
      nb_coap_msg_get_path(&m, NB_COAP_OPT_URI_PATH, path, sizeof path) != NB_OK ||
      strcmp(path, "/bs") != 0)
    return true;
  for (int i = 0; i < NDEV; i++)
    if (nb_addr_equal(to, &f->caddr[i]) && !f->finish_sent[i]) f->finish_sent[i] = now;
  return true;
}

static void fx_setup(fx *f, uint64_t seed) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(seed);
  nb_simnet_set_tap(f->net, tap, f);
  assert_int_equal(nb_bs_store_open(":memory:", &f->bst), NB_OK);
  nb_bs_engine_config bc;
  nb_bs_engine_config_default(&bc);
  bc.source = nb_bs_store_source(f->bst);
  bc.install = fake_install;
  bc.install_user = f;
  bc.random = nb_simnet_rng_fill;
  bc.random_user = nb_simnet_rng_of(f->net);
  nb_addr ba = nb_simnet_addr(BS_N, 5783);
  f->bsnode = nb_simnet_add(f->net, &ba, &bs_ops, f);
  assert_int_equal(nb_bs_engine_new(&bc, nb_simnet_send, f->bsnode, &f->bs), NB_OK);
  assert_int_equal(nb_bs_engine_add_listener(f->bs, on_event, f), NB_OK);
  nb_addr ka = nb_simnet_addr(7, 8080);
  f->backend = nb_simnet_add(f->net, &ka, &backend_ops, f);
  for (int i = 0; i < NDEV; i++) {
    char ep[16];
    snprintf(ep, sizeof ep, "dev-%d", i);
    nb_bs_config cfg;
    nb_bs_config_init(&cfg, ep);
    nb_bs_server s = {.ssid = 101, .lifetime = 300, .mode = NB_BS_SEC_PSK};
    snprintf(s.uri, sizeof s.uri, "coaps://10.0.0.2:5684");
    assert_int_equal(nb_bs_config_add_server(&cfg, &s), NB_OK);
    assert_int_equal(nb_bs_store_config_put(f->bst, &cfg), NB_OK);
    f->delay[i] = 1000;
    f->result[i] = NB_OK;
  }
}

static void fx_device(fx *f, int i) {
  char ep[16];
  snprintf(ep, sizeof ep, "dev-%d", i);
  f->caddr[i] = nb_simnet_addr(10 + (unsigned)i, 56830);
  f->cnode[i] = nb_simnet_add(f->net, &f->caddr[i], &client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = ep;
  cfg.send = nb_simnet_send;
  cfg.send_user = f->cnode[i];
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  assert_int_equal(nb_client_new(&cfg, &f->c[i]), NB_OK);
  nb_simnet_node_set_user(f->cnode[i], f->c[i]);
  nb_client_device_info d = {
      .manufacturer = "ACME", .battery_level = -1, .memory_free_kb = -1, .memory_total_kb = -1};
  assert_int_equal(nb_client_add_device(f->c[i], &d), NB_OK);
  nb_client_server_params p = {.bootstrap = true, .uri = "coap://10.0.0.1:5783"};
  assert_int_equal(nb_client_add_server(f->c[i], &p), NB_OK);
}

static void fx_teardown(fx *f) {
  for (int i = 0; i < NDEV; i++) nb_client_free(f->c[i]);
  nb_bs_engine_free(f->bs);
  nb_simnet_free(f->net);
  nb_bs_store_close(f->bst);
}

static const ev_rec *find_ev(const fx *f, nb_bs_event_type t, const char *ep) {
  for (size_t i = 0; i < f->nev; i++)
    if (f->ev[i].type == t && strcmp(f->ev[i].ep, ep) == 0) return &f->ev[i];
  return NULL;
}

static bool both_finished(void *u) {
  fx *f = u;
  return find_ev(f, NB_BS_EV_FINISHED, "dev-0") && find_ev(f, NB_BS_EV_FINISHED, "dev-1");
}

/* dev-0's install takes 8 s; dev-1 starts 1 s later with a 0.5 s install and finishes while
 * dev-0 still waits; dev-0's Finish leaves only after its install completed. */
static void test_installs_interleave(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 71);
  f.delay[0] = 8000;
  f.delay[1] = 500;
  fx_device(&f, 0);
  fx_device(&f, 1);
  assert_int_equal(nb_client_start(f.c[0], 0), NB_OK);
  nb_simnet_run_until(f.net, 1000);
  assert_int_equal(nb_client_start(f.c[1], 1000), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 60000, both_finished, &f));
  assert_int_equal(f.njobs, 2);
  assert_string_equal(f.jobs[0].ep, "dev-0");
  assert_int_equal(f.jobs[0].kind, NB_SERVER_ID_PSK); /* the fresh PSK is what gets installed */
  const ev_rec *fin0 = find_ev(&f, NB_BS_EV_FINISHED, "dev-0");
  const ev_rec *fin1 = find_ev(&f, NB_BS_EV_FINISHED, "dev-1");
  assert_true(fin1->at < fin0->at);
  assert_true(fin1->at < f.jobs[0].due); /* dev-1 did not wait for dev-0's install */
  assert_true(f.finish_sent[0] >= f.jobs[0].due);
  assert_true(f.finish_sent[1] >= f.jobs[1].due);
  assert_null(find_ev(&f, NB_BS_EV_FAILED, "dev-0"));
  assert_null(find_ev(&f, NB_BS_EV_FAILED, "dev-1"));
  assert_int_equal(f.late_not_found, 0);
  fx_teardown(&f);
}

/* The management server refuses dev-0's credential: dev-0 fails before Finish, dev-1 (whose
 * install succeeds at the same time) finishes. */
static void test_install_refused(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 72);
  f.result[0] = NB_ERR_IO;
  f.delay[0] = 3000;
  fx_device(&f, 0);
  fx_device(&f, 1);
  assert_int_equal(nb_client_start(f.c[0], 0), NB_OK);
  assert_int_equal(nb_client_start(f.c[1], 0), NB_OK);
  nb_simnet_run_until(f.net, 30000);
  const ev_rec *fail = find_ev(&f, NB_BS_EV_FAILED, "dev-0");
  assert_non_null(fail);
  assert_string_equal(fail->step, "install");
  assert_int_equal(fail->err, NB_ERR_IO);
  assert_null(find_ev(&f, NB_BS_EV_FINISHED, "dev-0"));
  assert_int_equal(f.finish_sent[0], 0); /* never told to use a key the server lacks */
  assert_non_null(find_ev(&f, NB_BS_EV_FINISHED, "dev-1"));
  fx_teardown(&f);
}

/* An install that never completes times out (install_timeout, 15 s by default) and fails the
 * device; its late completion finds nothing to resume. */
static void test_install_timeout(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 73);
  f.delay[0] = NB_TIME_NEVER;
  fx_device(&f, 0);
  assert_int_equal(nb_client_start(f.c[0], 0), NB_OK);
  nb_simnet_run_until(f.net, 10000);
  assert_null(find_ev(&f, NB_BS_EV_FAILED, "dev-0")); /* still waiting */
  nb_simnet_run_until(f.net, 25000);
  const ev_rec *fail = find_ev(&f, NB_BS_EV_FAILED, "dev-0");
  assert_non_null(fail);
  assert_string_equal(fail->step, "install");
  assert_int_equal(fail->err, NB_ERR_TIMEOUT);
  assert_int_equal(f.finish_sent[0], 0);
  assert_int_equal(f.njobs, 1);
  assert_int_equal(nb_bs_engine_install_done(f.bs, f.jobs[0].ticket, NB_OK, 25000),
                   NB_ERR_NOT_FOUND);
  assert_false(nb_bs_engine_busy(f.bs, "dev-0"));
  fx_teardown(&f);
}

/* The device starts over while its install is in flight: the old completion is ignored and the
 * new sequence installs its own credential. */
static void test_restart_during_install(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 74);
  f.delay[0] = 6000;
  fx_device(&f, 0);
  assert_int_equal(nb_client_start(f.c[0], 0), NB_OK);
  nb_simnet_run_until(f.net, 3000);
  assert_int_equal(f.njobs, 1);
  assert_true(nb_bs_engine_busy(f.bs, "dev-0"));
  /* A fresh Bootstrap-Request from the same endpoint (a reboot) replaces the session. */
  nb_client_free(f.c[0]);
  f.c[0] = NULL;
  f.delay[0] = 500;
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "dev-0";
  cfg.send = nb_simnet_send;
  cfg.send_user = f.cnode[0];
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f.net);
  assert_int_equal(nb_client_new(&cfg, &f.c[0]), NB_OK);
  nb_simnet_node_set_user(f.cnode[0], f.c[0]);
  nb_client_server_params p = {.bootstrap = true, .uri = "coap://10.0.0.1:5783"};
  assert_int_equal(nb_client_add_server(f.c[0], &p), NB_OK);
  assert_int_equal(nb_client_start(f.c[0], 3000), NB_OK);
  nb_simnet_run_until(f.net, 30000);
  assert_int_equal(f.njobs, 2);
  assert_int_equal(f.late_not_found, 1); /* the first install's completion */
  assert_non_null(find_ev(&f, NB_BS_EV_FINISHED, "dev-0"));
  assert_null(find_ev(&f, NB_BS_EV_FAILED, "dev-0"));
  fx_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_installs_interleave),
      cmocka_unit_test(test_install_refused),
      cmocka_unit_test(test_install_timeout),
      cmocka_unit_test(test_restart_during_install),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
