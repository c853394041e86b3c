/* The server engine when its store is gone altogether (Redis unreachable: reads fail as well
 * as writes, unlike a full disk, test_server_store_faults.c), over the simulated network with
 * the virtual clock. A Register whose credential cannot be read is refused as the server's
 * failure (5.03 with Max-Age), not the device's (4.03); an Update is acknowledged and written
 * once the store is back, so a restart then finds the lifetime the device was told. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/store_health.h"
#include "srv_harness.h"

/* ---- the rig's SQLite store behind a switch: while `down`, what the engine reads and writes
 * of registrations and credentials fails as an unreachable Redis does (NB_ERR_IO) ---- */

static bool down;
static nb_server_store_ops outage_ops;
static nb_server_store_ops real_ops;

static nb_err down_reg_put(void *self, const nb_server_reg_info *r) {
  return down ? NB_ERR_IO : real_ops.reg_put(self, r);
}

static nb_err down_sec_get(void *self, const char *ep, nb_server_sec_info *out) {
  return down ? NB_ERR_IO : real_ops.sec_get(self, ep, out);
}

static nb_err down_sec_find(void *self, nb_server_id_kind kind, const char *identity,
                            nb_server_sec_info *out) {
  return down ? NB_ERR_IO : real_ops.sec_find(self, kind, identity, out);
}

typedef struct {
  nb_srv_rig g;
  nb_store_health *health;
} fixture;

static void fx_init(fixture *f) {
  down = false;
  nb_srv_rig_init(&f->g);
  nb_server_store real = nb_store_sqlite_iface(f->g.store);
  real_ops = outage_ops = *real.ops;
  outage_ops.reg_put = down_reg_put;
  outage_ops.sec_get = down_sec_get;
  outage_ops.sec_find = down_sec_find;
  nb_server_store outage = {&outage_ops, real.self};
  assert_int_equal(nb_store_health_new(outage, NULL, NULL, &f->health), NB_OK);
  f->g.cfg.store = nb_store_health_store(f->health);
  nb_srv_rig_restart(&f->g);
}

static void fx_deinit(fixture *f) {
  nb_srv_rig_deinit(&f->g);
  nb_store_health_free(f->health);
}

static bool healthy(const fixture *f) {
  nb_store_health_state st;
  nb_store_health_get(f->health, &st);
  return st.healthy;
}

typedef struct {
  const char *ep;
  uint32_t lifetime; /* of ep's row, 0 when none */
} row_probe;

static nb_err find_row(void *user, const nb_server_reg_info *r) {
  row_probe *p = user;
  if (strcmp(r->ep, p->ep) == 0) p->lifetime = r->lifetime;
  return NB_OK;
}

/* The lifetime the store holds for ep (what a restart would find), 0 when it has no row. */
static uint32_t stored_lifetime(const fixture *f, const char *ep) {
  row_probe p = {ep, 0};
  assert_int_equal(real_ops.reg_each(f->g.store, find_row, &p), NB_OK);
  return p.lifetime;
}

/* The store cannot say whether the endpoint has a credential: refused (fail closed), but as
 * the server's failure, 5.03 with Max-Age, not 4.03 (which tells a device its name is not its
 * own, and may stop it for good); nothing kept, the refusal counted; the retry once the store
 * is back is acknowledged. */
static void test_credential_unreadable_is_503_not_403(void **state) {
  (void)state;
  fixture f;
  fx_init(&f);
  nb_srv_device d;
  nb_srv_dev_init(&d, &f.g.h, 1);
  down = true;
  assert_int_equal(nb_srv_dev_register(&d, "dev1", NULL, NULL), NB_COAP_SERVICE_UNAVAILABLE);
  assert_int_equal(d.resp_max_age, NB_SERVER_STORE_RETRY_AFTER);
  assert_null(nb_server_find(f.g.h.srv, "dev1"));
  assert_int_equal(nb_srv_count_ev(&f.g.h, NB_SEV_REGISTRATION), 0);
  nb_server_stats stats;
  nb_server_get_stats(f.g.h.srv, &stats);
  assert_int_equal(stats.store_refused, 1);
  assert_false(healthy(&f));
  down = false;
  assert_int_equal(nb_srv_dev_register(&d, "dev1", NULL, NULL), NB_COAP_CREATED);
  assert_true(healthy(&f));
  assert_int_equal(stored_lifetime(&f, "dev1"), 86400);
  fx_deinit(&f);
}

/* An Update while the store is gone is acknowledged (its registration is stored, and refusing
 * it would let registrations expire for an outage of ours); the store still holds the old
 * lifetime until it is back, then the engine's retry writes the new one, and a restart finds
 * what the device was told. */
static void test_update_during_outage_written_after_recovery(void **state) {
  (void)state;
  fixture f;
  fx_init(&f);
  nb_srv_device d;
  nb_srv_dev_init(&d, &f.g.h, 1);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lt=600", NULL), NB_COAP_CREATED);
  char loc[64];
  snprintf(loc, sizeof(loc), "%s", d.location);
  const char *longer[] = {"lt=3600", NULL};
  down = true;
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, loc, longer, NB_COAP_CF_NONE, NULL),
                   NB_COAP_CHANGED);
  assert_int_equal(nb_server_find(f.g.h.srv, "dev1")->lifetime, 3600);
  assert_int_equal(nb_server_unsaved(f.g.h.srv), 1);
  assert_false(healthy(&f));
  nb_simnet_run_until(f.g.h.net, nb_simnet_now(f.g.h.net) + 2 * NB_SERVER_STORE_RETRY);
  assert_int_equal(nb_server_unsaved(f.g.h.srv), 1); /* retried, refused again */
  assert_int_equal(stored_lifetime(&f, "dev1"), 600);
  down = false;
  nb_simnet_run_until(f.g.h.net, nb_simnet_now(f.g.h.net) + NB_SERVER_STORE_RETRY + 1000);
  assert_int_equal(nb_server_unsaved(f.g.h.srv), 0);
  assert_true(healthy(&f));
  assert_int_equal(stored_lifetime(&f, "dev1"), 3600);
  nb_srv_rig_restart(&f.g);
  assert_int_equal(nb_server_find(f.g.h.srv, "dev1")->lifetime, 3600);
  fx_deinit(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_credential_unreadable_is_503_not_403),
      cmocka_unit_test(test_update_during_outage_written_after_recovery),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
