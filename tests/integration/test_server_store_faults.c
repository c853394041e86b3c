/* Storage faults (issue 19, item 6), in-process over the simulated network with a virtual
 * clock: the engine's SQLite store on a VFS that fails every write like a full disk
 * (support/faultvfs.h), seen through the health tracker (server/store_health.h). A Register
 * the store does not take is refused 5.03 and not kept; an Update is acknowledged and written
 * once the store takes writes again; the health flips to unhealthy and back; after the fault
 * and a restart nothing that was acknowledged is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "faultvfs.h"
#include "server/store_health.h"
#include "srv_harness.h"

#define CLOCK_BASE 1700000000000LL /* Unix ms at virtual time 0 */

typedef struct {
  nb_srv_rig g;
  nb_store_health *health;
} fixture;

static int64_t virtual_unix_ms(void *user) {
  fixture *f = user;
  return CLOCK_BASE + nb_simnet_now(f->g.h.net);
}

/* The rig's database on the faulty VFS, the engine seeing it through the tracker. */
static void fx_init(fixture *f) {
  nb_faultvfs_install();
  nb_faultvfs_set_full(false);
  nb_srv_rig_init(&f->g);
  assert_int_equal(
      nb_store_health_new(nb_store_sqlite_iface(f->g.store), virtual_unix_ms, f, &f->health),
      NB_OK);
  f->g.cfg.store = nb_store_health_store(f->health);
  f->g.cfg.clock_offset = CLOCK_BASE;
  nb_srv_rig_restart(&f->g);
}

static void fx_deinit(fixture *f) {
  nb_faultvfs_set_full(false);
  nb_srv_rig_deinit(&f->g);
  nb_store_health_free(f->health);
}

static nb_store_health_state health(const fixture *f) {
  nb_store_health_state st;
  nb_store_health_get(f->health, &st);
  return st;
}

static void run_for(fixture *f, nb_time_ms ms) {
  nb_simnet_run_until(f->g.h.net, nb_simnet_now(f->g.h.net) + ms);
}

static void test_register_refused_while_full(void **state) {
  (void)state;
  fixture f;
  fx_init(&f);
  nb_srv_device d1, d2;
  nb_srv_dev_init(&d1, &f.g.h, 1);
  nb_srv_dev_init(&d2, &f.g.h, 2);
  assert_int_equal(nb_srv_dev_register(&d1, "kept", "lt=600", NULL), NB_COAP_CREATED);
  char kept_id[NB_SERVER_REGID_MAX];
  snprintf(kept_id, sizeof kept_id, "%s", nb_server_find(f.g.h.srv, "kept")->reg_id);
  char loc1[64];
  snprintf(loc1, sizeof loc1, "%s", d1.location);
  assert_true(health(&f).healthy);
  int regs_before = nb_srv_count_ev(&f.g.h, NB_SEV_REGISTRATION);

  nb_faultvfs_set_full(true);
  int64_t fault_at = CLOCK_BASE + nb_simnet_now(f.g.h.net);
  /* A new registration: refused 5.03 with Max-Age, not listed, no event. */
  assert_int_equal(nb_srv_dev_register(&d2, "lost", "lt=600", NULL), NB_COAP_SERVICE_UNAVAILABLE);
  assert_int_equal(d2.resp_max_age, NB_SERVER_STORE_RETRY_AFTER);
  assert_null(nb_server_find(f.g.h.srv, "lost"));
  assert_int_equal(nb_server_count(f.g.h.srv), 1);
  assert_int_equal(nb_srv_count_ev(&f.g.h, NB_SEV_REGISTRATION), regs_before);
  nb_server_stats stats;
  nb_server_get_stats(f.g.h.srv, &stats);
  assert_int_equal(stats.store_refused, 1);
  nb_store_health_state st = health(&f);
  assert_false(st.healthy);
  assert_string_equal(st.operation, "reg_put");
  assert_string_equal(st.error, "database or disk is full");
  assert_in_range(st.since, fault_at, CLOCK_BASE + nb_simnet_now(f.g.h.net));
  assert_int_equal(st.failures, 1);
  assert_true(nb_faultvfs_refused() > 0);

  /* A re-Register of a registered endpoint: refused too, and its registration stays as it
   * was (the same ID, still reachable for Updates). */
  assert_int_equal(nb_srv_dev_register(&d1, "kept", "lt=600", NULL), NB_COAP_SERVICE_UNAVAILABLE);
  assert_string_equal(nb_server_find(f.g.h.srv, "kept")->reg_id, kept_id);

  /* An Update of it is acknowledged (the registration is stored; its device must not lose it
   * to a full disk) and waits to be written. */
  const char *lt[] = {"lt=1200", NULL};
  assert_int_equal(nb_srv_dev_send(&d1, NB_COAP_POST, loc1, lt, -1, NULL), NB_COAP_CHANGED);
  assert_int_equal(nb_server_find(f.g.h.srv, "kept")->lifetime, 1200);
  assert_int_equal(nb_server_unsaved(f.g.h.srv), 1);
  run_for(&f, 2 * NB_SERVER_STORE_RETRY); /* retried and refused again */
  assert_int_equal(nb_server_unsaved(f.g.h.srv), 1);
  assert_false(health(&f).healthy);
  assert_true(health(&f).failures >= 3);

  /* Space returns: the engine's next retry writes the Update and ends the fault. */
  nb_faultvfs_set_full(false);
  run_for(&f, NB_SERVER_STORE_RETRY + 1000);
  assert_int_equal(nb_server_unsaved(f.g.h.srv), 0);
  st = health(&f);
  assert_true(st.healthy);
  assert_int_equal(st.since, 0);
  assert_true(st.total >= 3);
  assert_int_equal(nb_srv_dev_register(&d2, "lost", "lt=600", NULL), NB_COAP_CREATED);

  /* A restart finds what was acknowledged, as it was acknowledged. */
  nb_srv_rig_restart(&f.g);
  assert_int_equal(nb_server_count(f.g.h.srv), 2);
  const nb_server_reg_info *k = nb_server_find(f.g.h.srv, "kept");
  assert_non_null(k);
  assert_string_equal(k->reg_id, kept_id);
  assert_int_equal(k->lifetime, 1200);
  assert_non_null(nb_server_find(f.g.h.srv, "lost"));
  fx_deinit(&f);
}

static void count_result(void *user, uint64_t id, const nb_server_result *res, bool last) {
  (void)id, (void)last;
  if (res->err == NB_OK) (*(int *)user)++;
}

/* A De-register and a new observation while the store refuses writes: both take effect at once
 * and reach the store once it takes writes again, so a restart neither brings the ended
 * registration back nor forgets the observation. */
static void test_deregister_and_observe_while_full(void **state) {
  (void)state;
  fixture f;
  fx_init(&f);
  nb_srv_device da, db;
  nb_srv_dev_init(&da, &f.g.h, 1);
  nb_srv_dev_init(&db, &f.g.h, 2);
  assert_int_equal(nb_srv_dev_register(&da, "watched", "lt=600", NULL), NB_COAP_CREATED);
  assert_int_equal(nb_srv_dev_register(&db, "leaving", "lt=600", NULL), NB_COAP_CREATED);
  char loc_b[64];
  snprintf(loc_b, sizeof loc_b, "%s", db.location);

  nb_faultvfs_set_full(true);
  da.code = NB_COAP_CONTENT;
  da.answer_cf = NB_COAP_CF_TEXT;
  da.answer = "21";
  nb_server_request rq = {.op = NB_SOP_OBSERVE, .path = nb_path_res(3, 0, 9)};
  int notified = 0;
  uint64_t id = 0;
  bool queued = false;
  assert_int_equal(nb_server_send_request(f.g.h.srv, "watched", &rq, count_result, &notified,
                                          nb_simnet_now(f.g.h.net), &id, &queued),
                   NB_OK);
  run_for(&f, 1000);
  assert_int_equal(notified, 1);
  assert_int_equal(nb_server_unsaved(f.g.h.srv), 1);
  assert_int_equal(nb_srv_dev_send(&db, NB_COAP_DELETE, loc_b, NULL, -1, NULL), NB_COAP_DELETED);
  assert_null(nb_server_find(f.g.h.srv, "leaving"));
  assert_int_equal(nb_server_unsaved(f.g.h.srv), 2);
  assert_false(health(&f).healthy);

  nb_faultvfs_set_full(false);
  run_for(&f, NB_SERVER_STORE_RETRY + 1000);
  assert_int_equal(nb_server_unsaved(f.g.h.srv), 0);
  assert_true(health(&f).healthy);

  nb_srv_rig_restart(&f.g);
  assert_null(nb_server_find(f.g.h.srv, "leaving"));
  nb_server_obs_info obs[2];
  assert_int_equal(nb_server_observations(f.g.h.srv, "watched", obs, 2), 1);
  assert_int_equal(obs[0].id, id);
  fx_deinit(&f);
}

/* No write comes while the store is unhealthy: the probe (the shell runs it periodically)
 * finds out when it takes writes again; while it does not, the state stays. */
static void test_probe_ends_idle_fault(void **state) {
  (void)state;
  fixture f;
  fx_init(&f);
  nb_srv_device d;
  nb_srv_dev_init(&d, &f.g.h, 1);
  nb_faultvfs_set_full(true);
  assert_int_equal(nb_srv_dev_register(&d, "dev", NULL, NULL), NB_COAP_SERVICE_UNAVAILABLE);
  assert_false(nb_store_health_probe(f.health));
  assert_string_equal(health(&f).operation, "probe");
  assert_int_equal(health(&f).failures, 2);
  nb_faultvfs_set_full(false);
  assert_true(nb_store_health_probe(f.health));
  assert_true(health(&f).healthy);
  assert_int_equal(nb_srv_dev_register(&d, "dev", NULL, NULL), NB_COAP_CREATED);
  fx_deinit(&f);
}

/* Audit entries and evidence the store refuses are counted (GET /api/health shows them) and
 * make the store unhealthy: never lost silently. */
static void test_audit_loss_counted(void **state) {
  (void)state;
  fixture f;
  fx_init(&f);
  nb_server_store st = nb_store_health_store(f.health);
  nb_server_audit_info a;
  memset(&a, 0, sizeof a);
  snprintf(a.actor, sizeof a.actor, "api");
  snprintf(a.op, sizeof a.op, "read");
  assert_int_equal(st.ops->audit_add(st.self, &a), NB_OK);
  nb_faultvfs_set_full(true);
  assert_int_equal(st.ops->audit_add(st.self, &a), NB_ERR_IO);
  assert_int_equal(st.ops->audit_add(st.self, &a), NB_ERR_IO);
  nb_server_evidence_info e;
  memset(&e, 0, sizeof e);
  static const uint8_t cose[] = {0xd2, 0x84};
  e.cose = cose;
  e.cose_len = sizeof cose;
  assert_int_equal(st.ops->evidence_add(st.self, &e, 10), NB_ERR_IO);
  nb_store_health_state h = health(&f);
  assert_false(h.healthy);
  assert_int_equal(h.audit_lost, 2);
  assert_int_equal(h.evidence_lost, 1);
  assert_int_equal(h.failures, 3);
  /* Reads still work (a full disk does not stop them) and do not end the fault. */
  nb_server_sec_info sec;
  assert_int_equal(st.ops->sec_get(st.self, "nobody", &sec), NB_ERR_NOT_FOUND);
  assert_false(health(&f).healthy);
  nb_faultvfs_set_full(false);
  assert_int_equal(st.ops->audit_add(st.self, &a), NB_OK);
  h = health(&f);
  assert_true(h.healthy);
  assert_int_equal(h.audit_lost, 2); /* counted since start */
  fx_deinit(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_refused_while_full),
      cmocka_unit_test(test_deregister_and_observe_while_full),
      cmocka_unit_test(test_probe_ends_idle_fault),
      cmocka_unit_test(test_audit_loss_counted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
