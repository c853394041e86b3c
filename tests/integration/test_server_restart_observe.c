/* Observations survive a server restart: a real client engine observed by the real server engine
 * (single and composite) over the simulated network; the server engine is freed, its SQLite file
 * closed and reopened, and a new engine restores from it. The device, which kept its observers,
 * notifies a change: the new engine's listener gets it (the device is not answered with RST),
 * active cancellation through the new engine reaches the device, and the store forgets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "niobium/client.h"
#include "server/server.h"
#include "simnet.h"
#include "store/sqlite.h"

#define MAX_OBS 4

typedef struct {
  nb_simnet *net;
  char db[64];
  nb_store_sqlite *store;
  nb_server *srv;
  nb_simnet_node *srv_node;
  nb_addr srv_addr;
  nb_client *c;
  nb_simnet_node *dev_node;
  nb_addr dev_addr;
  int rst_to_dev;    /* RSTs the server sent the device */
  int notifications; /* NOTIFICATION events */
  struct {
    uint64_t id;
    int count;
    double temp; /* last /3303/0/5700 seen */
    size_t nrec;
  } obs[MAX_OBS];
} rig;

/* ---- nodes ---- */

static void c_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_client_receive(((rig *)u)->c, from, d, n, now);
}
static nb_time_ms c_deadline(void *u) { return nb_client_next_deadline(((rig *)u)->c); }
static void c_tick(void *u, nb_time_ms now) { nb_client_tick(((rig *)u)->c, now); }
static const nb_simnet_ops client_ops = {c_recv, c_deadline, c_tick, NULL};

static void s_recv(void *u, const nb_addr *from, const uint8_t *d, size_t n, nb_time_ms now) {
  nb_server_receive(((rig *)u)->srv, from, NULL, d, n, now);
}
static nb_time_ms s_deadline(void *u) {
  rig *g = u;
  return g->srv ? nb_server_next_deadline(g->srv) : NB_TIME_NEVER;
}
static void s_tick(void *u, nb_time_ms now) {
  rig *g = u;
  if (g->srv) nb_server_tick(g->srv, now);
}
static const nb_simnet_ops server_ops = {s_recv, s_deadline, s_tick, NULL};

static bool tap(void *u, const nb_addr *from, const nb_addr *to, const uint8_t *d, size_t n,
                nb_time_ms now) {
  rig *g = u;
  (void)now;
  nb_coap_msg m;
  if (nb_addr_equal(from, &g->srv_addr) && nb_addr_equal(to, &g->dev_addr) &&
      nb_coap_parse(d, n, &m) == NB_OK && m.type == NB_COAP_RST)
    g->rst_to_dev++;
  return true;
}

static void on_event(void *u, const nb_server_event *ev) {
  rig *g = u;
  if (ev->type != NB_SEV_NOTIFICATION) return;
  g->notifications++;
  for (size_t i = 0; i < MAX_OBS; i++) {
    if (g->obs[i].id != ev->obs_id) continue;
    g->obs[i].count++;
    g->obs[i].nrec = ev->records ? ev->records->len : 0;
    nb_path want = nb_path_res(3303, 0, 5700);
    for (size_t k = 0; k < g->obs[i].nrec; k++) {
      const nb_record *rec = &ev->records->items[k];
      if (nb_path_equal(&rec->path, &want) && rec->value.type == NB_VT_FLOAT)
        g->obs[i].temp = rec->value.v.f;
    }
  }
}

static void server_start(rig *g) {
  assert_int_equal(nb_store_sqlite_open(g->db, &g->store), NB_OK);
  nb_server_config sc;
  nb_server_config_default(&sc);
  sc.store = nb_store_sqlite_iface(g->store);
  sc.random = nb_simnet_rng_fill;
  sc.random_user = nb_simnet_rng_of(g->net);
  sc.coap.random = NULL;
  assert_int_equal(nb_server_new(&sc, nb_simnet_send, g->srv_node, &g->srv), NB_OK);
  assert_int_equal(nb_server_add_listener(g->srv, on_event, g), NB_OK);
}

/* The process goes away: engine freed, database closed. */
static void server_stop(rig *g) {
  nb_server_free(g->srv);
  g->srv = NULL;
  nb_store_sqlite_close(g->store);
  g->store = NULL;
}

static bool registered(void *u) {
  rig *g = u;
  nb_client_srv_state st;
  return nb_client_server_state(g->c, 101, &st, NULL, 0) == NB_OK &&
         st == NB_CLIENT_SRV_REGISTERED && nb_server_count(g->srv) == 1;
}

static void rig_setup(rig *g) {
  memset(g, 0, sizeof *g);
  snprintf(g->db, sizeof g->db, "/tmp/nb-restart-obs-XXXXXX");
  int fd = mkstemp(g->db);
  assert_true(fd >= 0);
  close(fd);
  g->net = nb_simnet_new(7171);
  nb_simnet_set_tap(g->net, tap, g);
  g->srv_addr = nb_simnet_addr(1, 5683);
  g->srv_node = nb_simnet_add(g->net, &g->srv_addr, &server_ops, g);
  assert_non_null(g->srv_node);
  server_start(g);

  g->dev_addr = nb_simnet_addr(2, 56830);
  g->dev_node = nb_simnet_add(g->net, &g->dev_addr, &client_ops, g);
  assert_non_null(g->dev_node);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "thermo-1";
  cfg.send = nb_simnet_send;
  cfg.send_user = g->dev_node;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(g->net);
  assert_int_equal(nb_client_new(&cfg, &g->c), NB_OK);
  nb_client_device_info d = {.manufacturer = "ACME",
                             .model = "T-1",
                             .battery_level = 80,
                             .memory_free_kb = -1,
                             .memory_total_kb = -1,
                             .timezone = "UTC"};
  assert_int_equal(nb_client_add_device(g->c, &d), NB_OK);
  nb_object *t = nb_store_object_new(nb_model_object(nb_client_model(g->c), 3303), NULL);
  assert_non_null(t);
  assert_int_equal(nb_store_object_add_instance(t, 0), NB_OK);
  nb_value v = nb_value_float(21.5);
  nb_path p = nb_path_res(3303, 0, 5700);
  assert_int_equal(nb_store_object_set(t, &p, &v), NB_OK);
  assert_int_equal(nb_client_add_object(g->c, t, 0), NB_OK);
  nb_client_server_params sp = {
      .uri = "coap://10.0.0.1:5683", .ssid = 101, .lifetime = 3600, .security_mode = 3};
  assert_int_equal(nb_client_add_server(g->c, &sp), NB_OK);
  assert_int_equal(nb_client_start(g->c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(g->net, 60000, registered, g));
}

static void rig_teardown(rig *g) {
  nb_client_free(g->c);
  if (g->srv) server_stop(g);
  nb_simnet_free(g->net);
  unlink(g->db);
  char side[80];
  snprintf(side, sizeof side, "%s-wal", g->db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", g->db);
  unlink(side);
}

/* ---- helpers ---- */

static void set_temp(rig *g, double t) {
  nb_object *o = nb_client_object(g->c, 3303);
  nb_path p = nb_path_res(3303, 0, 5700);
  nb_value v = nb_value_float(t);
  assert_int_equal(nb_store_object_set(o, &p, &v), NB_OK);
  nb_client_value_changed(g->c, &p, nb_simnet_now(g->net));
}

typedef struct {
  rig *g;
  size_t slot;
  double temp;
} want_temp;

static bool saw_temp(void *u) {
  want_temp *w = u;
  return w->g->obs[w->slot].temp == w->temp;
}

static void wait_temp(rig *g, size_t slot, double t) {
  want_temp w = {g, slot, t};
  assert_true(nb_simnet_run_until_cond(g->net, nb_simnet_now(g->net) + 20000, saw_temp, &w));
}

static void on_result(void *user, uint64_t id, const nb_server_result *res, bool last) {
  (void)id, (void)last;
  *(nb_err *)user = res->err;
}

static uint64_t observe(rig *g, size_t slot, const nb_server_request *req) {
  uint64_t id = 0;
  nb_err err = NB_ERR_INVAL;
  assert_int_equal(nb_server_send_request(g->srv, "thermo-1", req, on_result, &err,
                                          nb_simnet_now(g->net), &id, NULL),
                   NB_OK);
  g->obs[slot].id = id;
  wait_temp(g, slot, 21.5);
  assert_int_equal(err, NB_OK);
  return id;
}

static nb_err count_rows(void *user, const nb_server_obs_info *o) {
  (void)o;
  (*(size_t *)user)++;
  return NB_OK;
}

static size_t stored_observations(rig *g) {
  nb_server_store st = nb_store_sqlite_iface(g->store);
  size_t n = 0;
  assert_int_equal(st.ops->obs_each(st.self, count_rows, &n), NB_OK);
  return n;
}

/* ---- the test ---- */

static void test_observations_survive_restart(void **state) {
  (void)state;
  static rig g;
  rig_setup(&g);

  nb_server_request single = {.op = NB_SOP_OBSERVE, .path = nb_path_res(3303, 0, 5700)};
  uint64_t id_single = observe(&g, 0, &single);
  nb_path cpaths[2] = {nb_path_res(3303, 0, 5700), nb_path_res(3, 0, 9)};
  nb_server_request comp = {.op = NB_SOP_OBSERVE_COMPOSITE, .paths = cpaths, .path_count = 2};
  uint64_t id_comp = observe(&g, 1, &comp);
  assert_int_equal(g.obs[1].nrec, 2);
  assert_int_equal(nb_client_observation_count(g.c), 2);
  assert_int_equal(stored_observations(&g), 2);

  /* Restart: nothing of the old engine is left but the database file. */
  server_stop(&g);
  memset(g.obs, 0, sizeof g.obs);
  g.obs[0].id = id_single;
  g.obs[1].id = id_comp;
  nb_simnet_run_until(g.net, nb_simnet_now(g.net) + 5000);
  server_start(&g);
  size_t nreg = 0;
  assert_int_equal(nb_server_restore(g.srv, nb_simnet_now(g.net), &nreg), NB_OK);
  assert_int_equal(nreg, 1);

  /* The API lists both, the composite with its whole path list. */
  nb_server_obs_info list[4];
  assert_int_equal(nb_server_observations(g.srv, "thermo-1", list, 4), 2);
  for (size_t i = 0; i < 2; i++) {
    if (list[i].id == id_single) {
      assert_false(list[i].composite);
      assert_string_equal(list[i].paths, "/3303/0/5700");
    } else {
      assert_int_equal(list[i].id, id_comp);
      assert_true(list[i].composite);
      assert_string_equal(list[i].paths, "/3303/0/5700,/3/0/9");
    }
  }

  /* The device notifies the new engine; it is heard, not reset. */
  set_temp(&g, 24.0);
  wait_temp(&g, 0, 24.0);
  wait_temp(&g, 1, 24.0);
  assert_int_equal(g.obs[1].nrec, 2);
  assert_int_equal(g.rst_to_dev, 0);
  assert_int_equal(nb_client_observation_count(g.c), 2);

  /* New requests get ids above the restored ones. */
  uint64_t rid = 0;
  nb_err rerr = NB_ERR_INVAL;
  nb_server_request rd = {.op = NB_SOP_READ, .path = nb_path_res(3, 0, 9)};
  assert_int_equal(nb_server_send_request(g.srv, "thermo-1", &rd, on_result, &rerr,
                                          nb_simnet_now(g.net), &rid, NULL),
                   NB_OK);
  assert_true(rid > id_single && rid > id_comp);
  nb_simnet_run_until(g.net, nb_simnet_now(g.net) + 2000);
  assert_int_equal(rerr, NB_OK);

  /* Active cancel through the new engine reaches the device. */
  assert_int_equal(nb_server_cancel(g.srv, id_single, true, nb_simnet_now(g.net)), NB_OK);
  nb_simnet_run_until(g.net, nb_simnet_now(g.net) + 5000);
  assert_int_equal(nb_client_observation_count(g.c), 1);
  assert_int_equal(stored_observations(&g), 1);
  int single_before = g.obs[0].count;
  set_temp(&g, 26.5);
  wait_temp(&g, 1, 26.5);
  assert_int_equal(g.obs[0].count, single_before); /* the device stopped notifying it */
  assert_int_equal(nb_server_cancel(g.srv, id_single, true, nb_simnet_now(g.net)),
                   NB_ERR_NOT_FOUND);

  /* And the composite one too. */
  assert_int_equal(nb_server_cancel(g.srv, id_comp, true, nb_simnet_now(g.net)), NB_OK);
  nb_simnet_run_until(g.net, nb_simnet_now(g.net) + 5000);
  assert_int_equal(nb_client_observation_count(g.c), 0);
  assert_int_equal(stored_observations(&g), 0);
  g.notifications = 0;
  set_temp(&g, 28.0);
  nb_simnet_run_until(g.net, nb_simnet_now(g.net) + 5000);
  assert_int_equal(g.notifications, 0); /* no observer, no notification */
  assert_int_equal(g.rst_to_dev, 0);
  rig_teardown(&g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_observations_survive_restart),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
