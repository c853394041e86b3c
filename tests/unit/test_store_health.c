/* The store health tracker (server/store_health.h) over a scripted backend and a virtual
 * clock: which answers make a store unhealthy and which end the fault, the counters, the
 * probe, and the log: one line when a fault starts, a summary a minute at most however many
 * writes fail, one when it ends (audit losses are never silent, and never a flood). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "server/store_health.h"

static nb_err next_rc; /* what every backend operation answers */
static int64_t now_ms; /* the virtual clock (Unix ms) */
static int probes;     /* backend probe calls */
static int lines;      /* log lines of the tracker */
static char last_line[512];

static int64_t clock_fn(void *user) {
  (void)user;
  return now_ms;
}

static void sink(nb_log_level level, const char *line, void *user) {
  (void)level, (void)user;
  if (!strstr(line, "mod=store")) return;
  lines++;
  snprintf(last_line, sizeof last_line, "%s", line);
}

static nb_err b_reg_put(void *s, const nb_server_reg_info *r) { return (void)s, (void)r, next_rc; }
static nb_err b_del(void *s, const char *ep) { return (void)s, (void)ep, next_rc; }
static nb_err b_reg_each(void *s, nb_server_reg_each_fn f, void *u) {
  return (void)s, (void)f, (void)u, next_rc;
}
static nb_err b_obs_put(void *s, const nb_server_obs_info *o) { return (void)s, (void)o, next_rc; }
static nb_err b_obs_del(void *s, const char *ep, uint64_t id) {
  return (void)s, (void)ep, (void)id, next_rc;
}
static nb_err b_obs_each(void *s, nb_server_obs_each_fn f, void *u) {
  return (void)s, (void)f, (void)u, next_rc;
}
static nb_err b_sec_put(void *s, const nb_server_sec_info *c) { return (void)s, (void)c, next_rc; }
static nb_err b_sec_get(void *s, const char *ep, nb_server_sec_info *o) {
  return (void)s, (void)ep, (void)o, next_rc;
}
static nb_err b_sec_find(void *s, nb_server_id_kind k, const char *i, nb_server_sec_info *o) {
  return (void)s, (void)k, (void)i, (void)o, next_rc;
}
static nb_err b_sec_each(void *s, nb_server_sec_each_fn f, void *u) {
  return (void)s, (void)f, (void)u, next_rc;
}
static nb_err b_audit_add(void *s, const nb_server_audit_info *a) {
  return (void)s, (void)a, next_rc;
}
static nb_err b_audit_each(void *s, int64_t b, size_t l, nb_server_audit_each_fn f, void *u) {
  return (void)s, (void)b, (void)l, (void)f, (void)u, next_rc;
}
static nb_err b_probe(void *s, int64_t now) {
  (void)s, (void)now;
  probes++;
  return next_rc;
}
static const char *b_error(void *s) {
  (void)s;
  return "database or disk is full";
}

/* A backend without evidence, with a probe and an error text. */
static const nb_server_store_ops backend = {
    b_reg_put, b_del,     b_reg_each, b_obs_put, b_obs_del,  b_del,       b_obs_each,
    b_sec_put, b_sec_get, b_sec_find, b_del,     b_sec_each, b_audit_add, b_audit_each,
    NULL,      NULL,      b_probe,    b_error,   NULL,       NULL,        NULL};
/* One without the optional operations. */
static const nb_server_store_ops bare = {
    b_reg_put, b_del,     b_reg_each, b_obs_put, b_obs_del,  b_del,       b_obs_each,
    b_sec_put, b_sec_get, b_sec_find, b_del,     b_sec_each, b_audit_add, b_audit_each,
    NULL,      NULL,      NULL,       NULL,      NULL,       NULL,        NULL};

static nb_store_health *make(const nb_server_store_ops *ops) {
  nb_server_store inner = {ops, NULL};
  nb_store_health *h;
  assert_int_equal(nb_store_health_new(inner, clock_fn, NULL, &h), NB_OK);
  next_rc = NB_OK;
  now_ms = 1700000000000;
  probes = lines = 0;
  nb_log_set_sink(sink, NULL);
  return h;
}

static nb_store_health_state state_of(const nb_store_health *h) {
  nb_store_health_state st;
  nb_store_health_get(h, &st);
  return st;
}

/* 10,000 audit writes refused over two minutes: three lines, every loss counted. */
static void test_audit_failures_counted_and_rate_limited(void **state) {
  (void)state;
  nb_store_health *h = make(&backend);
  nb_server_store st = nb_store_health_store(h);
  assert_null(st.ops->evidence_add); /* the backend has none: neither has the tracker */
  nb_server_audit_info a;
  memset(&a, 0, sizeof a);
  next_rc = NB_ERR_IO;
  for (int i = 0; i < 10000; i++) {
    now_ms += 13; /* 130 s in all */
    assert_int_equal(st.ops->audit_add(st.self, &a), NB_ERR_IO);
  }
  nb_store_health_state s = state_of(h);
  assert_false(s.healthy);
  assert_int_equal(s.audit_lost, 10000);
  assert_int_equal(s.failures, 10000);
  assert_string_equal(s.operation, "audit_add");
  assert_string_equal(s.error, "database or disk is full");
  assert_int_equal(lines, 3); /* the start, a summary at 60 s and at 120 s */
  assert_non_null(strstr(last_line, "event=store_still_unhealthy"));
  assert_non_null(strstr(last_line, "audit_lost=9233")); /* as of that line, 120.029 s in */
  next_rc = NB_OK;
  assert_int_equal(st.ops->audit_add(st.self, &a), NB_OK);
  assert_true(state_of(h).healthy);
  assert_int_equal(lines, 4);
  assert_non_null(strstr(last_line, "event=store_recovered"));
  assert_non_null(strstr(last_line, "audit_lost=10000"));
  assert_int_equal(state_of(h).audit_lost, 10000);
  nb_log_set_sink(NULL, NULL);
  nb_store_health_free(h);
}

/* What ends a fault: a write the backend answered (done, or refused for its data), not a
 * read; the probe only while unhealthy. */
static void test_what_ends_a_fault(void **state) {
  (void)state;
  nb_store_health *h = make(&backend);
  nb_server_store st = nb_store_health_store(h);
  nb_server_sec_info sec;
  assert_true(nb_store_health_probe(h));
  assert_int_equal(probes, 0); /* healthy: nothing probed */
  next_rc = NB_ERR_NOT_FOUND;
  assert_int_equal(st.ops->sec_get(st.self, "x", &sec), NB_ERR_NOT_FOUND);
  assert_true(state_of(h).healthy);
  next_rc = NB_ERR_IO;
  assert_int_equal(st.ops->sec_get(st.self, "x", &sec), NB_ERR_IO); /* a read fault counts */
  assert_false(state_of(h).healthy);
  assert_int_equal(state_of(h).since, now_ms);
  next_rc = NB_OK;
  assert_int_equal(st.ops->sec_get(st.self, "x", &sec), NB_OK);
  assert_false(state_of(h).healthy); /* reads say nothing about writes */
  next_rc = NB_ERR_EXISTS;           /* refused for its data */
  assert_int_equal(st.ops->sec_put(st.self, &sec), NB_ERR_EXISTS); /* but answered */
  assert_true(state_of(h).healthy);
  next_rc = NB_ERR_IO;
  assert_int_equal(st.ops->reg_del(st.self, "x"), NB_ERR_IO);
  assert_false(nb_store_health_probe(h));
  assert_int_equal(probes, 1);
  next_rc = NB_OK;
  assert_true(nb_store_health_probe(h));
  assert_int_equal(state_of(h).total, 3);
  nb_log_set_sink(NULL, NULL);
  nb_store_health_free(h);

  /* Without a probe or an error text: the next write ends it; the error is generic. */
  h = make(&bare);
  st = nb_store_health_store(h);
  next_rc = NB_ERR_IO;
  assert_int_equal(st.ops->obs_put(st.self, NULL), NB_ERR_IO);
  assert_string_equal(state_of(h).error, nb_strerror(NB_ERR_IO));
  assert_false(nb_store_health_probe(h));
  next_rc = NB_OK;
  assert_int_equal(st.ops->obs_del(st.self, "x", 1), NB_OK);
  assert_true(state_of(h).healthy);
  nb_log_set_sink(NULL, NULL);
  nb_store_health_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_audit_failures_counted_and_rate_limited),
      cmocka_unit_test(test_what_ends_a_fault),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
