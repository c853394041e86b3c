/* The server engine when its store fails (Redis unreachable, a full disk), over the simulated
 * network: a Register or Update the store could not keep is not acknowledged (5.03 with
 * Max-Age), so no registration is acknowledged and then lost at the next restart, and one
 * whose credential cannot be read is refused as the server's failure (5.03), not the device's;
 * once the store works again the device's retry succeeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "srv_harness.h"
#include "store/sqlite.h"

/* ---- a store whose writes of registrations fail while `broken` ---- */

static bool broken;
static nb_server_store_ops failing_ops;
static nb_err (*real_reg_put)(void *self, const nb_server_reg_info *r);

static nb_err failing_reg_put(void *self, const nb_server_reg_info *r) {
  return broken ? NB_ERR_IO : real_reg_put(self, r);
}

/* Reads of credentials fail too while `reads_broken`. */
static bool reads_broken;
static nb_err (*real_sec_get)(void *self, const char *ep, nb_server_sec_info *out);

static nb_err failing_sec_get(void *self, const char *ep, nb_server_sec_info *out) {
  return reads_broken ? NB_ERR_IO : real_sec_get(self, ep, out);
}

typedef struct {
  nb_srv_harness h;
  nb_store_sqlite *db;
  nb_server_store store;
} fixture;

static void fx_init(fixture *f) {
  assert_int_equal(nb_store_sqlite_open(":memory:", &f->db), NB_OK);
  nb_server_store real = nb_store_sqlite_iface(f->db);
  failing_ops = *real.ops;
  real_reg_put = real.ops->reg_put;
  failing_ops.reg_put = failing_reg_put;
  real_sec_get = real.ops->sec_get;
  failing_ops.sec_get = failing_sec_get;
  reads_broken = false;
  f->store.ops = &failing_ops;
  f->store.self = real.self;
  broken = false;
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.store = f->store;
  nb_srv_harness_init(&f->h, &cfg);
}

static void fx_deinit(fixture *f) {
  nb_srv_harness_deinit(&f->h);
  nb_store_sqlite_close(f->db);
}

static nb_err count_row(void *user, const nb_server_reg_info *r) {
  (void)r;
  (*(size_t *)user)++;
  return NB_OK;
}

static size_t stored(const fixture *f) {
  size_t n = 0;
  assert_int_equal(f->store.ops->reg_each(f->store.self, count_row, &n), NB_OK);
  return n;
}

/* A Register the store refuses gets 5.03 with Max-Age and leaves nothing behind; the retry,
 * with the store back, is acknowledged and stored. */
static void test_register_not_acknowledged_unless_stored(void **state) {
  (void)state;
  fixture f;
  fx_init(&f);
  nb_srv_device d;
  nb_srv_dev_init(&d, &f.h, 1);
  broken = true;
  assert_int_equal(nb_srv_dev_register(&d, "dev1", NULL, NULL), NB_COAP_SERVICE_UNAVAILABLE);
  assert_int_equal(d.resp_max_age, 30);
  assert_int_equal(nb_server_count(f.h.srv), 0);
  assert_null(nb_server_find(f.h.srv, "dev1"));
  assert_int_equal(nb_srv_count_ev(&f.h, NB_SEV_REGISTRATION), 0);
  broken = false;
  assert_int_equal(nb_srv_dev_register(&d, "dev1", NULL, NULL), NB_COAP_CREATED);
  assert_int_equal(nb_server_count(f.h.srv), 1);
  assert_int_equal(stored(&f), 1);
  fx_deinit(&f);
}

/* A re-registration the store refuses: the device restarted, its old registration is gone
 * (the listeners hear of it), and the new one is not acknowledged. */
static void test_reregister_refused_drops_the_old(void **state) {
  (void)state;
  fixture f;
  fx_init(&f);
  nb_srv_device d;
  nb_srv_dev_init(&d, &f.h, 1);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", NULL, NULL), NB_COAP_CREATED);
  broken = true;
  assert_int_equal(nb_srv_dev_register(&d, "dev1", NULL, NULL), NB_COAP_SERVICE_UNAVAILABLE);
  assert_null(nb_server_find(f.h.srv, "dev1"));
  assert_int_equal(nb_srv_count_ev(&f.h, NB_SEV_DEREGISTRATION), 1);
  assert_int_equal(nb_server_nosec_count(f.h.srv), 0);
  broken = false;
  assert_int_equal(nb_srv_dev_register(&d, "dev1", NULL, NULL), NB_COAP_CREATED);
  assert_int_equal(nb_server_nosec_count(f.h.srv), 1);
  fx_deinit(&f);
}

/* An Update the store refuses gets 5.03 (the stored copy would expire before the lifetime
 * the device was told); with the store back, the next Update is acknowledged and stored. */
static void test_update_not_acknowledged_unless_stored(void **state) {
  (void)state;
  fixture f;
  fx_init(&f);
  nb_srv_device d;
  nb_srv_dev_init(&d, &f.h, 1);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lt=600", NULL), NB_COAP_CREATED);
  char loc[64];
  snprintf(loc, sizeof(loc), "%s", d.location);
  const char *longer[] = {"lt=3600", NULL};
  broken = true;
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, loc, longer, NB_COAP_CF_NONE, NULL),
                   NB_COAP_SERVICE_UNAVAILABLE);
  assert_int_equal(d.resp_max_age, 30);
  broken = false;
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, loc, longer, NB_COAP_CF_NONE, NULL),
                   NB_COAP_CHANGED);
  assert_int_equal(nb_server_find(f.h.srv, "dev1")->lifetime, 3600);
  assert_int_equal(stored(&f), 1);
  fx_deinit(&f);
}

/* The store cannot say whether the endpoint has a credential: refused (fail closed), but as
 * the server's failure, 5.03 with Max-Age, not 4.03 (which tells a device its name is not its
 * own, and may stop it for good). */
static void test_credential_unreadable_is_503_not_403(void **state) {
  (void)state;
  fixture f;
  fx_init(&f);
  nb_srv_device d;
  nb_srv_dev_init(&d, &f.h, 1);
  reads_broken = true;
  assert_int_equal(nb_srv_dev_register(&d, "dev1", NULL, NULL), NB_COAP_SERVICE_UNAVAILABLE);
  assert_int_equal(d.resp_max_age, 30);
  assert_null(nb_server_find(f.h.srv, "dev1"));
  reads_broken = false;
  assert_int_equal(nb_srv_dev_register(&d, "dev1", NULL, NULL), NB_COAP_CREATED);
  fx_deinit(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_not_acknowledged_unless_stored),
      cmocka_unit_test(test_reregister_refused_drops_the_old),
      cmocka_unit_test(test_update_not_acknowledged_unless_stored),
      cmocka_unit_test(test_credential_unreadable_is_503_not_403),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
