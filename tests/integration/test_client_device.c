/* The Device object's live values (nb_client_set_device_source) in-process, over the simulated
 * network against the scripted server, with a fake source whose values the test moves: Battery
 * Level/Status, Memory Free/Total, UTC Offset and Timezone from the source (absent when it has
 * none), Current Time from the engine's clock and a written offset, Error Code from the
 * conditions and raised errors with Reset Error Code, and observers told of a raised error. */
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

#define UNIX0 1700000000 /* what the device's clock says at the start of each run */

/* What the fake platform reports; a level or total of -1 means "has none". */
typedef struct {
  int level, status;
  int64_t free_kb, total_kb;
  char tz[64], offset[16];
  int set_zone_calls;
} platform;

typedef struct {
  nb_simnet *net;
  nb_ss srv;
  nb_client *c;
  nb_simnet_node *node;
  platform p;
} fx;

static nb_err fake_battery(void *user, int *level, int *status) {
  platform *p = user;
  if (p->level < 0) return NB_ERR_NOT_FOUND;
  *level = p->level;
  *status = p->status;
  return NB_OK;
}

static nb_err fake_memory(void *user, int64_t *fr, int64_t *total) {
  platform *p = user;
  if (p->total_kb < 0) return NB_ERR_NOT_FOUND;
  *fr = p->free_kb;
  *total = p->total_kb;
  return NB_OK;
}

static nb_err fake_zone(void *user, int64_t unix_s, char *tz, size_t tz_cap, char *off,
                        size_t off_cap) {
  platform *p = user;
  (void)unix_s;
  if (!p->tz[0]) return NB_ERR_NOT_FOUND;
  snprintf(tz, tz_cap, "%s", p->tz);
  snprintf(off, off_cap, "%s", p->offset);
  return NB_OK;
}

/* Knows two zones; an offset is taken as written. */
static nb_err fake_set_zone(void *user, const char *tz, const char *off) {
  platform *p = user;
  p->set_zone_calls++;
  if (tz && strcmp(tz, "Asia/Kolkata") == 0) {
    snprintf(p->tz, sizeof p->tz, "%s", tz);
    snprintf(p->offset, sizeof p->offset, "+05:30");
    return NB_OK;
  }
  if (tz && strcmp(tz, "Europe/Paris") == 0) {
    snprintf(p->tz, sizeof p->tz, "%s", tz);
    snprintf(p->offset, sizeof p->offset, "+01:00");
    return NB_OK;
  }
  if (off) {
    snprintf(p->offset, sizeof p->offset, "%s", off);
    return NB_OK;
  }
  return NB_ERR_INVAL;
}

/* A client with the Device object made live from f->p; clock_known gives it Unix time. */
static void fx_setup(fx *f, bool clock_known, bool with_set_zone) {
  memset(f, 0, sizeof *f);
  f->p = (platform){.level = 57, .status = 1, .free_kb = 1000, .total_kb = 4000};
  snprintf(f->p.tz, sizeof f->p.tz, "Europe/Paris");
  snprintf(f->p.offset, sizeof f->p.offset, "+01:00");
  f->net = nb_simnet_new(11);
  assert_non_null(f->net);
  nb_addr sa = nb_simnet_addr(1, 5683), ca = nb_simnet_addr(9, 56830);
  nb_ss_init(&f->srv, f->net, &sa);
  f->node = nb_simnet_add(f->net, &ca, &nb_test_client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "dev-live";
  cfg.send = nb_simnet_send;
  cfg.send_user = f->node;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  if (clock_known) cfg.unix_offset_ms = (int64_t)UNIX0 * 1000 - nb_simnet_now(f->net);
  assert_int_equal(nb_client_new(&cfg, &f->c), NB_OK);
  nb_simnet_node_set_user(f->node, f->c);
  nb_client_device_info d = {
      .manufacturer = "ACME", .battery_level = -1, .memory_free_kb = -1, .memory_total_kb = -1};
  nb_client_device_source src = {.battery = fake_battery,
                                 .memory = fake_memory,
                                 .zone = fake_zone,
                                 .set_zone = with_set_zone ? fake_set_zone : NULL,
                                 .user = &f->p};
  assert_int_equal(nb_client_set_device_source(f->c, &src), NB_ERR_NOT_FOUND); /* no object */
  assert_int_equal(nb_client_device_error(f->c, 8, true, 0), NB_ERR_STATE);
  assert_int_equal(nb_client_add_device(f->c, &d), NB_OK);
  assert_int_equal(nb_client_set_device_source(f->c, &src), NB_OK);
  assert_int_equal(nb_client_set_device_source(f->c, &src), NB_ERR_EXISTS);
  nb_client_server_params p = {.uri = "coap://10.0.0.1:5683", .ssid = 1, .lifetime = 3600};
  assert_int_equal(nb_client_add_server(f->c, &p), NB_OK);
  assert_int_equal(nb_client_start(f->c, nb_simnet_now(f->net)), NB_OK);
  nb_simnet_run_until(f->net, nb_simnet_now(f->net) + 1000);
  assert_int_equal(f->srv.registers, 1);
}

static void fx_teardown(fx *f) {
  nb_ss_free(&f->srv);
  nb_simnet_free(f->net);
}

/* A request with an optional text/plain body; the answer's code, its payload in buf. */
static uint8_t req(fx *f, uint8_t method, const char *path, int accept, const char *body, char *buf,
                   size_t cap) {
  nb_ss_answer a;
  nb_ss_request(&f->srv, method, path, body ? NB_COAP_CF_TEXT : NB_COAP_CF_NONE, accept, NULL, body,
                body ? strlen(body) : 0, &a);
  uint8_t code = a.code;
  if (buf) snprintf(buf, cap, "%s", a.payload ? (char *)a.payload : "");
  nb_ss_answer_free(&a);
  return code;
}

static void expect_text(fx *f, const char *path, const char *value) {
  char buf[256];
  assert_int_equal(req(f, NB_COAP_GET, path, NB_COAP_CF_TEXT, NULL, buf, sizeof buf),
                   NB_COAP_CONTENT);
  if (strcmp(buf, value) != 0) fail_msg("%s: got '%s', wanted '%s'", path, buf, value);
}

static void expect_absent(fx *f, const char *path) {
  assert_int_equal(req(f, NB_COAP_GET, path, NB_COAP_CF_TEXT, NULL, NULL, 0), NB_COAP_NOT_FOUND);
}

/* The Error Code instances as SenML JSON values, "[0]" style: "1,5" for codes 1 and 5. */
static void expect_errors(fx *f, const char *codes) {
  char buf[512], got[64] = "";
  assert_int_equal(req(f, NB_COAP_GET, "/3/0/11", NB_COAP_CF_SENML_JSON, NULL, buf, sizeof buf),
                   NB_COAP_CONTENT);
  for (const char *v = strstr(buf, "\"v\":"); v; v = strstr(v + 1, "\"v\":")) {
    size_t n = strlen(got);
    snprintf(got + n, sizeof got - n, "%s%d", n ? "," : "", atoi(v + 4));
  }
  if (strcmp(got, codes) != 0) fail_msg("error codes: got '%s' (%s), wanted '%s'", got, buf, codes);
}

static void test_values_from_the_source(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, true, true);
  expect_text(&f, "/3/0/9", "57");
  expect_text(&f, "/3/0/20", "1");
  expect_text(&f, "/3/0/10", "1000");
  expect_text(&f, "/3/0/21", "4000");
  expect_text(&f, "/3/0/14", "+01:00");
  expect_text(&f, "/3/0/15", "Europe/Paris");
  expect_text(&f, "/3/0/11/0", "0");
  expect_text(&f, "/3/0/0", "ACME"); /* the stored values are still there */
  /* The values move with the platform. */
  f.p.level = 56;
  f.p.free_kb = 900;
  expect_text(&f, "/3/0/9", "56");
  expect_text(&f, "/3/0/10", "900");
  /* A read of the instance lists them all. */
  char buf[1024];
  assert_int_equal(req(&f, NB_COAP_GET, "/3/0", NB_COAP_CF_SENML_JSON, NULL, buf, sizeof buf),
                   NB_COAP_CONTENT);
  const char *names[] = {"\"n\":\"9\"",  "\"n\":\"10\"", "\"n\":\"11/0\"", "\"n\":\"13\"",
                         "\"n\":\"14\"", "\"n\":\"15\"", "\"n\":\"20\"",   "\"n\":\"21\""};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strstr(buf, names[i])) fail_msg("/3/0 lacks %s: %s", names[i], buf);
  /* Read-only ones stay read-only. */
  assert_int_equal(req(&f, NB_COAP_PUT, "/3/0/9", NB_COAP_CF_NONE, "5", NULL, 0),
                   NB_COAP_METHOD_NOT_ALLOWED);
  fx_teardown(&f);
}

static void test_absent_when_the_platform_has_none(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, false, true);
  f.p.level = -1;
  f.p.total_kb = -1;
  f.p.tz[0] = 0;
  expect_absent(&f, "/3/0/9");
  expect_absent(&f, "/3/0/20");
  expect_absent(&f, "/3/0/10");
  expect_absent(&f, "/3/0/21");
  expect_absent(&f, "/3/0/13"); /* the clock is unknown */
  expect_absent(&f, "/3/0/14");
  expect_absent(&f, "/3/0/15");
  char buf[1024];
  assert_int_equal(req(&f, NB_COAP_GET, "/3/0", NB_COAP_CF_SENML_JSON, NULL, buf, sizeof buf),
                   NB_COAP_CONTENT);
  assert_null(strstr(buf, "\"n\":\"9\""));
  assert_null(strstr(buf, "\"n\":\"13\""));
  assert_null(strstr(buf, "\"n\":\"21\""));
  /* A battery without a known status: level only. */
  f.p.level = 30;
  f.p.status = -1;
  expect_text(&f, "/3/0/9", "30");
  expect_absent(&f, "/3/0/20");
  fx_teardown(&f);
}

static void test_current_time(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, true, true);
  char buf[64];
  assert_int_equal(req(&f, NB_COAP_GET, "/3/0/13", NB_COAP_CF_TEXT, NULL, buf, sizeof buf),
                   NB_COAP_CONTENT);
  long long t0 = atoll(buf);
  assert_true(t0 >= UNIX0 && t0 <= UNIX0 + 3);
  /* The device's clock runs with the engine's. */
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100000);
  assert_int_equal(req(&f, NB_COAP_GET, "/3/0/13", NB_COAP_CF_TEXT, NULL, buf, sizeof buf),
                   NB_COAP_CONTENT);
  assert_true(atoll(buf) >= t0 + 100 && atoll(buf) <= t0 + 103);
  /* A server sets it; the device keeps the offset and counts on from there. */
  assert_int_equal(req(&f, NB_COAP_PUT, "/3/0/13", NB_COAP_CF_NONE, "1600000000", NULL, 0),
                   NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 60000);
  assert_int_equal(req(&f, NB_COAP_GET, "/3/0/13", NB_COAP_CF_TEXT, NULL, buf, sizeof buf),
                   NB_COAP_CONTENT);
  assert_true(atoll(buf) >= 1600000060 && atoll(buf) <= 1600000063);
  fx_teardown(&f);
  /* Unknown until written when the engine has no Unix time. */
  fx_setup(&f, false, true);
  expect_absent(&f, "/3/0/13");
  assert_int_equal(req(&f, NB_COAP_PUT, "/3/0/13", NB_COAP_CF_NONE, "1600000000", NULL, 0),
                   NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 10000);
  assert_int_equal(req(&f, NB_COAP_GET, "/3/0/13", NB_COAP_CF_TEXT, NULL, buf, sizeof buf),
                   NB_COAP_CONTENT);
  assert_true(atoll(buf) >= 1600000010 && atoll(buf) <= 1600000013);
  fx_teardown(&f);
}

static void test_zone_writes(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, true, true);
  /* To the platform, which knows the zone and its offset. */
  assert_int_equal(req(&f, NB_COAP_PUT, "/3/0/15", NB_COAP_CF_NONE, "Asia/Kolkata", NULL, 0),
                   NB_COAP_CHANGED);
  expect_text(&f, "/3/0/15", "Asia/Kolkata");
  expect_text(&f, "/3/0/14", "+05:30");
  assert_int_equal(req(&f, NB_COAP_PUT, "/3/0/15", NB_COAP_CF_NONE, "Mars/Olympus", NULL, 0),
                   NB_COAP_BAD_REQUEST);
  expect_text(&f, "/3/0/15", "Asia/Kolkata");
  assert_int_equal(req(&f, NB_COAP_PUT, "/3/0/14", NB_COAP_CF_NONE, "+04:00", NULL, 0),
                   NB_COAP_CHANGED);
  expect_text(&f, "/3/0/14", "+04:00");
  assert_int_equal(f.p.set_zone_calls, 3);
  fx_teardown(&f);
  /* A platform that cannot change its zone: the written values are kept as given. */
  fx_setup(&f, true, false);
  assert_int_equal(req(&f, NB_COAP_PUT, "/3/0/15", NB_COAP_CF_NONE, "America/Lima", NULL, 0),
                   NB_COAP_CHANGED);
  expect_text(&f, "/3/0/15", "America/Lima");
  expect_text(&f, "/3/0/14", "+01:00"); /* what the platform said, now kept */
  assert_int_equal(req(&f, NB_COAP_PUT, "/3/0/14", NB_COAP_CF_NONE, "-05:00", NULL, 0),
                   NB_COAP_CHANGED);
  expect_text(&f, "/3/0/14", "-05:00");
  f.p.offset[0] = 'x'; /* the platform no longer has the say */
  expect_text(&f, "/3/0/15", "America/Lima");
  fx_teardown(&f);
}

static void test_error_codes(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, true, true);
  expect_errors(&f, "0");
  f.p.level = 5; /* below the default 10 % */
  expect_errors(&f, "1");
  f.p.free_kb = 100; /* 2.5 % of 4000, below the default 5 % */
  expect_errors(&f, "1,5");
  /* An observer of /3/0/11 hears of an error the application raises. */
  nb_ct_resp r;
  memset(&r, 0, sizeof r);
  nb_coap_req_id oid = nb_ss_observe(&f.srv, NB_COAP_GET, "/3/0/11", NB_COAP_CF_NONE,
                                     NB_COAP_CF_SENML_JSON, NULL, 0, &r);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  assert_int_equal(r.calls, 1);
  assert_int_equal(nb_client_device_error(f.c, 8, true, nb_simnet_now(f.net)), NB_OK);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  assert_int_equal(r.calls, 2);
  assert_non_null(strstr((char *)r.payload, "\"v\":8"));
  expect_errors(&f, "1,5,8");
  assert_int_equal(nb_client_device_error(f.c, 33, true, 0), NB_ERR_RANGE);
  assert_int_equal(nb_client_device_error(f.c, 0, true, 0), NB_ERR_RANGE);
  /* Reset Error Code: the raised error goes, the conditions still present come back. */
  assert_int_equal(req(&f, NB_COAP_POST, "/3/0/12", NB_COAP_CF_NONE, NULL, NULL, 0),
                   NB_COAP_CHANGED);
  expect_errors(&f, "1,5");
  f.p.level = 80;
  f.p.free_kb = 3000;
  expect_errors(&f, "0");
  /* An error cleared by the application goes too. */
  assert_int_equal(nb_client_device_error(f.c, 20, true, nb_simnet_now(f.net)), NB_OK);
  expect_errors(&f, "20");
  assert_int_equal(nb_client_device_error(f.c, 20, false, nb_simnet_now(f.net)), NB_OK);
  expect_errors(&f, "0");
  nb_coap_ep_cancel(f.srv.ep, oid, false, nb_simnet_now(f.net));
  free(r.payload);
  fx_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_values_from_the_source),
      cmocka_unit_test(test_absent_when_the_platform_has_none),
      cmocka_unit_test(test_current_time),
      cmocka_unit_test(test_zone_writes),
      cmocka_unit_test(test_error_codes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
