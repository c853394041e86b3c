/* Content-format negotiation of the server engine (issue 14 item 1), with scripted devices that
 * take only some formats, as Wakaama builds without SenML CBOR do: the formats a device
 * advertises on its root link are parsed and kept; a request the caller left the format of goes
 * in the best one the device advertised; a device that advertised nothing and answers 4.06 (or
 * 4.15 to a body) gets the request once more in the next format, which is then preferred (and
 * kept across a restart); both attempts are audited; an explicit format is never changed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lwm2m/format.h"
#include "server/server.h"
#include "simnet.h"
#include "srv_harness.h"
#include "store/sqlite.h"

/* /3/0/1 = "ACME" in each format the devices answer in. */
static const char TLV_ACME[] =
    "\xC4\x01"
    "ACME";
static const char SENML_JSON_ACME[] = "[{\"bn\":\"/3/0/1\",\"vs\":\"ACME\"}]";
static const char ROOT_NO_CT[] = "</>;rt=\"oma.lwm2m\",</1/0>,</3/0>";
static const char ROOT_JSON_TLV[] = "</>;rt=\"oma.lwm2m\";ct=\"110 11542\",</1/0>,</3/0>";

typedef nb_srv_rig rig;

/* A device that takes only the formats given (0-terminated) and answers with `answer`. */
static void device_taking(nb_srv_device *d, rig *g, unsigned n, const int *formats, int answer_cf,
                          const char *answer, size_t answer_len) {
  nb_srv_dev_init(d, &g->h, n);
  for (; *formats && d->nformats < 4; formats++) d->formats[d->nformats++] = *formats;
  d->answer_cf = answer_cf;
  d->answer = answer;
  d->answer_len = answer_len;
}

typedef struct {
  int calls;
  nb_err err;
  uint8_t code;
  int format;
  char value[64];
  size_t nrec;
} result;

static void on_result(void *user, uint64_t id, const nb_server_result *res, bool last) {
  result *r = user;
  (void)id;
  (void)last;
  r->calls++;
  r->err = res->err;
  r->code = res->code;
  r->format = res->format;
  r->nrec = res->records ? res->records->len : 0;
  r->value[0] = '\0';
  if (r->nrec) nb_value_format(&res->records->items[0].value, r->value, sizeof r->value);
}

static bool answered(void *user) { return ((result *)user)->calls > 0; }

static void run(rig *g, const char *ep, const nb_server_request *rq, result *r) {
  memset(r, 0, sizeof *r);
  nb_time_ms now = nb_simnet_now(g->h.net);
  uint64_t id;
  bool queued = true;
  assert_int_equal(nb_server_send_request(g->h.srv, ep, rq, on_result, r, now, &id, &queued),
                   NB_OK);
  assert_false(queued);
  assert_true(nb_simnet_run_until_cond(g->h.net, now + 120000, answered, r));
}

static void read_res(rig *g, const char *ep, result *r) {
  nb_server_request rq = {.op = NB_SOP_READ, .path = nb_path_res(3, 0, 1)};
  run(g, ep, &rq, r);
}

static const nb_server_reg_info *reg_of(rig *g, const char *ep) {
  const nb_server_reg_info *i = nb_server_find(g->h.srv, ep);
  assert_non_null(i);
  return i;
}

/* The newest n audit results, newest first, joined by '|'. */
static nb_err audit_cat(void *user, const nb_server_audit_info *a) {
  char *out = user;
  if (*out) strcat(out, "|");
  strcat(out, a->result);
  return NB_OK;
}

static void audit_last(rig *g, size_t n, char *out) {
  out[0] = '\0';
  assert_int_equal(g->cfg.store.ops->audit_each(g->cfg.store.self, 0, n, audit_cat, out), NB_OK);
}

/* ---- tests ---- */

/* The root link's ct, one value or a quoted list, is what the registration keeps. */
static void test_advertised_formats_parsed(void **state) {
  (void)state;
  rig g;
  nb_srv_rig_init(&g);
  nb_srv_device a, b, c;
  nb_srv_dev_init(&a, &g.h, 1);
  nb_srv_dev_init(&b, &g.h, 2);
  nb_srv_dev_init(&c, &g.h, 3);
  assert_int_equal(nb_srv_dev_register_links(&a, "a", ROOT_JSON_TLV, "lwm2m=1.1", NULL),
                   NB_COAP_CREATED);
  assert_int_equal(
      nb_srv_dev_register_links(&b, "b", "</>;rt=\"oma.lwm2m\";ct=112,</3/0>", "lwm2m=1.1", NULL),
      NB_COAP_CREATED);
  assert_int_equal(nb_srv_dev_register_links(&c, "c", ROOT_NO_CT, "lwm2m=1.1", NULL),
                   NB_COAP_CREATED);
  const nb_server_reg_info *i = reg_of(&g, "a");
  assert_int_equal(i->format_count, 2);
  assert_int_equal(i->formats[0], NB_COAP_CF_SENML_JSON);
  assert_int_equal(i->formats[1], NB_COAP_CF_LWM2M_TLV);
  assert_int_equal(i->preferred_format, NB_COAP_CF_NONE);
  i = reg_of(&g, "b");
  assert_int_equal(i->format_count, 1);
  assert_int_equal(i->formats[0], NB_COAP_CF_SENML_CBOR);
  assert_int_equal(reg_of(&g, "c")->format_count, 0);
  /* An Update with a new object list replaces them. */
  char loc[64];
  snprintf(loc, sizeof loc, "%s", a.location);
  assert_int_equal(nb_srv_dev_send(&a, NB_COAP_POST, loc, NULL, NB_COAP_CF_LINK_FORMAT,
                                   "</>;rt=\"oma.lwm2m\";ct=11542,</3/0>"),
                   NB_COAP_CHANGED);
  i = reg_of(&g, "a");
  assert_int_equal(i->format_count, 1);
  assert_int_equal(i->formats[0], NB_COAP_CF_LWM2M_TLV);
  nb_srv_rig_deinit(&g);
}

/* A 1.1 device that advertised SenML JSON and TLV (no SenML CBOR) is asked in SenML JSON: one
 * request, answered. Before, every default read went in SenML CBOR and got 4.06. */
static void test_read_in_best_advertised(void **state) {
  (void)state;
  rig g;
  nb_srv_rig_init(&g);
  nb_srv_device d;
  static const int takes[] = {NB_COAP_CF_SENML_JSON, NB_COAP_CF_LWM2M_TLV, 0};
  device_taking(&d, &g, 1, takes, NB_COAP_CF_SENML_JSON, SENML_JSON_ACME, 0);
  assert_int_equal(nb_srv_dev_register_links(&d, "wk", ROOT_JSON_TLV, "lwm2m=1.1", NULL),
                   NB_COAP_CREATED);
  result r;
  read_res(&g, "wk", &r);
  assert_int_equal(r.code, NB_COAP_CONTENT);
  assert_string_equal(r.value, "ACME");
  assert_int_equal(d.nreq, 1);
  assert_int_equal(d.seen[0], NB_COAP_CF_SENML_JSON);
  /* Composite operations too: SenML JSON, the SenML the device has. */
  nb_path paths[] = {nb_path_res(3, 0, 1)};
  nb_server_request rq = {.op = NB_SOP_READ_COMPOSITE, .paths = paths, .path_count = 1};
  run(&g, "wk", &rq, &r);
  assert_int_equal(r.code, NB_COAP_CONTENT);
  assert_int_equal(d.nreq, 2);
  assert_int_equal(d.seen[1], NB_COAP_CF_SENML_JSON);
  assert_int_equal(reg_of(&g, "wk")->preferred_format, NB_COAP_CF_SENML_JSON);
  nb_srv_rig_deinit(&g);
}

/* A 1.1 device that advertised nothing and takes only TLV: the default SenML CBOR read gets
 * 4.06, the engine asks once more in TLV, both attempts are audited, TLV is preferred from then
 * on (the next request goes in TLV at once), for reads, writes and observations alike, and the
 * preference outlives a restart of the server. */
static void test_refused_format_retried_and_learnt(void **state) {
  (void)state;
  rig g;
  nb_srv_rig_init(&g);
  nb_srv_device d;
  static const int takes[] = {NB_COAP_CF_LWM2M_TLV, 0};
  device_taking(&d, &g, 1, takes, NB_COAP_CF_LWM2M_TLV, TLV_ACME, sizeof TLV_ACME - 1);
  assert_int_equal(nb_srv_dev_register_links(&d, "wk", ROOT_NO_CT, "lwm2m=1.1", NULL),
                   NB_COAP_CREATED);
  result r;
  read_res(&g, "wk", &r);
  assert_int_equal(r.err, NB_OK);
  assert_int_equal(r.code, NB_COAP_CONTENT);
  assert_int_equal(r.format, NB_COAP_CF_LWM2M_TLV);
  assert_string_equal(r.value, "ACME");
  assert_int_equal(d.nreq, 2);
  assert_int_equal(d.seen[0], NB_COAP_CF_SENML_CBOR);
  assert_int_equal(d.seen[1], NB_COAP_CF_LWM2M_TLV);
  assert_int_equal(reg_of(&g, "wk")->preferred_format, NB_COAP_CF_LWM2M_TLV);
  char audit[128];
  audit_last(&g, 2, audit);
  assert_string_equal(audit, "2.05 cf=11542|4.06 cf=112");

  /* Learnt: the next read and a write go in TLV at once. */
  read_res(&g, "wk", &r);
  assert_int_equal(r.code, NB_COAP_CONTENT);
  assert_int_equal(d.nreq, 3);
  assert_int_equal(d.seen[2], NB_COAP_CF_LWM2M_TLV);
  nb_records recs;
  nb_records_init(&recs);
  nb_value v = nb_value_int(120);
  nb_path lt = nb_path_res(1, 0, 1);
  assert_int_equal(nb_records_add(&recs, &lt, &v), NB_OK);
  d.code = NB_COAP_CHANGED;
  nb_server_request w = {.op = NB_SOP_WRITE_REPLACE, .path = lt, .records = &recs};
  run(&g, "wk", &w, &r);
  assert_int_equal(r.code, NB_COAP_CHANGED);
  assert_int_equal(d.nreq, 4);
  assert_int_equal(d.seen[3], NB_COAP_CF_LWM2M_TLV);
  nb_records_deinit(&recs);

  /* The preference is stored: a restarted server (same database) starts with TLV. */
  nb_srv_rig_restart(&g);
  assert_int_equal(nb_server_count(g.h.srv), 1);
  assert_int_equal(reg_of(&g, "wk")->preferred_format, NB_COAP_CF_LWM2M_TLV);
  d.code = NB_COAP_CONTENT;
  read_res(&g, "wk", &r);
  assert_int_equal(r.code, NB_COAP_CONTENT);
  assert_int_equal(d.nreq, 5);
  assert_int_equal(d.seen[4], NB_COAP_CF_LWM2M_TLV);
  nb_srv_rig_deinit(&g);
}

/* An Observe the device refuses in SenML CBOR is retried in TLV and established. */
static void test_observe_retried(void **state) {
  (void)state;
  rig g;
  nb_srv_rig_init(&g);
  nb_srv_device d;
  static const int takes[] = {NB_COAP_CF_LWM2M_TLV, 0};
  device_taking(&d, &g, 1, takes, NB_COAP_CF_LWM2M_TLV, TLV_ACME, sizeof TLV_ACME - 1);
  assert_int_equal(nb_srv_dev_register_links(&d, "wk", ROOT_NO_CT, "lwm2m=1.1", NULL),
                   NB_COAP_CREATED);
  result r;
  nb_server_request rq = {.op = NB_SOP_OBSERVE, .path = nb_path_res(3, 0, 1)};
  run(&g, "wk", &rq, &r);
  assert_int_equal(r.code, NB_COAP_CONTENT);
  assert_string_equal(r.value, "ACME");
  assert_int_equal(d.nreq, 2);
  assert_non_null(d.obs);
  nb_server_obs_info oi[2];
  assert_int_equal(nb_server_observations(g.h.srv, "wk", oi, 2), 1);
  assert_int_equal(oi[0].format, NB_COAP_CF_LWM2M_TLV);
  nb_srv_rig_deinit(&g);
}

/* A write whose body the device refuses (4.15) is sent again with a TLV body, which decodes to
 * the same records. */
static void test_write_refused_415_retried(void **state) {
  (void)state;
  rig g;
  nb_srv_rig_init(&g);
  nb_srv_device d;
  static const int takes[] = {NB_COAP_CF_LWM2M_TLV, 0};
  device_taking(&d, &g, 1, takes, NB_COAP_CF_NONE, NULL, 0);
  d.code = NB_COAP_CHANGED;
  assert_int_equal(nb_srv_dev_register_links(&d, "wk", ROOT_NO_CT, "lwm2m=1.1", NULL),
                   NB_COAP_CREATED);
  nb_records recs;
  nb_records_init(&recs);
  nb_value v = nb_value_int(300);
  nb_path lt = nb_path_res(1, 0, 1);
  assert_int_equal(nb_records_add(&recs, &lt, &v), NB_OK);
  result r;
  nb_server_request w = {.op = NB_SOP_WRITE_REPLACE, .path = lt, .records = &recs};
  run(&g, "wk", &w, &r);
  nb_records_deinit(&recs);
  assert_int_equal(r.code, NB_COAP_CHANGED);
  assert_int_equal(d.nreq, 2);
  assert_int_equal(d.seen[0], NB_COAP_CF_SENML_CBOR);
  assert_int_equal(d.seen[1], NB_COAP_CF_LWM2M_TLV);
  nb_records got;
  nb_records_init(&got);
  assert_int_equal(nb_format_decode(NB_COAP_CF_LWM2M_TLV, d.body, d.body_len, &lt,
                                    nb_server_model(g.h.srv), &got, NULL, NULL),
                   NB_OK);
  assert_int_equal(got.len, 1);
  assert_int_equal(got.items[0].value.v.i, 300);
  nb_records_deinit(&got);
  char audit[128];
  audit_last(&g, 2, audit);
  assert_string_equal(audit, "2.04 cf=11542|4.15 cf=112");
  nb_srv_rig_deinit(&g);
}

/* A format the caller chose is never changed: the 4.06 goes back, one request only. */
static void test_explicit_format_not_retried(void **state) {
  (void)state;
  rig g;
  nb_srv_rig_init(&g);
  nb_srv_device d;
  static const int takes[] = {NB_COAP_CF_LWM2M_TLV, 0};
  device_taking(&d, &g, 1, takes, NB_COAP_CF_LWM2M_TLV, TLV_ACME, sizeof TLV_ACME - 1);
  assert_int_equal(nb_srv_dev_register_links(&d, "wk", ROOT_NO_CT, "lwm2m=1.1", NULL),
                   NB_COAP_CREATED);
  result r;
  nb_server_request rq = {.op = NB_SOP_READ,
                          .path = nb_path_res(3, 0, 1),
                          .has_format = true,
                          .format = NB_COAP_CF_SENML_CBOR};
  run(&g, "wk", &rq, &r);
  assert_int_equal(r.code, NB_COAP_NOT_ACCEPTABLE);
  assert_int_equal(d.nreq, 1);
  assert_int_equal(reg_of(&g, "wk")->preferred_format, NB_COAP_CF_NONE);
  nb_srv_rig_deinit(&g);
}

/* A 1.0 device is asked in TLV, its mandatory format, even when it also advertised LwM2M
 * JSON; one that advertised only LwM2M JSON (1.1) gets LwM2M JSON. */
static void test_version_and_lwm2m_json(void **state) {
  (void)state;
  rig g;
  nb_srv_rig_init(&g);
  nb_srv_device a, b;
  static const int tlv[] = {NB_COAP_CF_LWM2M_TLV, 0};
  static const int json[] = {NB_COAP_CF_LWM2M_JSON, 0};
  device_taking(&a, &g, 1, tlv, NB_COAP_CF_LWM2M_TLV, TLV_ACME, sizeof TLV_ACME - 1);
  device_taking(&b, &g, 2, json, NB_COAP_CF_LWM2M_JSON,
                "{\"bn\":\"/3/0/1\",\"e\":[{\"n\":\"\",\"sv\":\"ACME\"}]}", 0);
  assert_int_equal(
      nb_srv_dev_register_links(&a, "old", "</>;rt=\"oma.lwm2m\";ct=11543,</3/0>", NULL, NULL),
      NB_COAP_CREATED);
  assert_int_equal(nb_srv_dev_register_links(&b, "js", "</>;rt=\"oma.lwm2m\";ct=11543,</3/0>",
                                             "lwm2m=1.1", NULL),
                   NB_COAP_CREATED);
  result r;
  read_res(&g, "old", &r);
  assert_int_equal(r.code, NB_COAP_CONTENT);
  assert_int_equal(a.nreq, 1);
  assert_int_equal(a.seen[0], NB_COAP_CF_LWM2M_TLV);
  read_res(&g, "js", &r);
  assert_int_equal(r.code, NB_COAP_CONTENT);
  assert_string_equal(r.value, "ACME");
  assert_int_equal(b.nreq, 1);
  assert_int_equal(b.seen[0], NB_COAP_CF_LWM2M_JSON);
  nb_srv_rig_deinit(&g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_advertised_formats_parsed),
      cmocka_unit_test(test_read_in_best_advertised),
      cmocka_unit_test(test_refused_format_retried_and_learnt),
      cmocka_unit_test(test_observe_retried),
      cmocka_unit_test(test_write_refused_415_retried),
      cmocka_unit_test(test_explicit_format_not_retried),
      cmocka_unit_test(test_version_and_lwm2m_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
