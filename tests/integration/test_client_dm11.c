/* LwM2M 1.1 device-management details of the client engine, in-process against the scripted
 * server with the virtual clock: Write-replace of an object instance and of a multiple resource
 * against partial update, the evaluation periods epmin/epmax (exact notification times, also
 * for values only a read handler knows), and Discover of resource instances (1.1 and 1.0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_node.h"
#include "lwm2m/format.h"
#include "lwm2m_scripted_server.h"
#include "niobium/client.h"
#include "simnet.h"

typedef struct {
  nb_simnet *net;
  nb_ss srv;
  nb_client *c;
  nb_simnet_node *node;
} fx;

/* The temperature a read hook of /3303/0/5700 reports: the application never says it changed,
 * so only sampling (epmax) can see it. */
static double g_sampled;

static nb_err sampled_read(void *user, const nb_path *res, nb_value *out, nb_time_ms now) {
  (void)user;
  (void)now;
  if (res->ids[2] != 5700) return NB_ERR_NOT_FOUND;
  *out = nb_value_float(g_sampled);
  return NB_OK;
}

/* 3303/0 with a stored 5700, or (sampled) one read through the hook above. */
static void add_temperature(fx *f, double v, bool sampled) {
  nb_store_hooks h = {.read = sampled_read};
  nb_object *o =
      nb_store_object_new(nb_model_object(nb_client_model(f->c), 3303), sampled ? &h : NULL);
  assert_non_null(o);
  assert_int_equal(nb_store_object_add_instance(o, 0), NB_OK);
  nb_path p = nb_path_res(3303, 0, 5700);
  nb_value val = nb_value_float(v);
  assert_int_equal(nb_store_object_set(o, &p, &val), NB_OK);
  assert_int_equal(nb_client_add_object(f->c, o, 0), NB_OK);
  g_sampled = v;
}

static void set_temperature(fx *f, double v) {
  nb_path p = nb_path_res(3303, 0, 5700);
  nb_value val = nb_value_float(v);
  assert_int_equal(nb_store_object_set(nb_client_object(f->c, 3303), &p, &val), NB_OK);
  nb_client_value_changed(f->c, &p, nb_simnet_now(f->net));
}

static void fx_setup(fx *f, const char *version, bool sampled) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(7);
  assert_non_null(f->net);
  nb_addr sa = nb_simnet_addr(1, 5683), ca = nb_simnet_addr(9, 56830);
  nb_ss_init(&f->srv, f->net, &sa);
  f->node = nb_simnet_add(f->net, &ca, &nb_test_client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "dev-11";
  cfg.lwm2m_version = version;
  cfg.send = nb_simnet_send;
  cfg.send_user = f->node;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  assert_int_equal(nb_client_new(&cfg, &f->c), NB_OK);
  nb_simnet_node_set_user(f->node, f->c);
  nb_client_device_info d = {.manufacturer = "ACME",
                             .model = "N1",
                             .battery_level = -1,
                             .memory_free_kb = -1,
                             .memory_total_kb = -1};
  assert_int_equal(nb_client_add_device(f->c, &d), NB_OK);
  nb_client_server_params p = {.uri = "coap://10.0.0.1:5683", .ssid = 101, .lifetime = 86400};
  assert_int_equal(nb_client_add_server(f->c, &p), NB_OK);
  add_temperature(f, 20.0, sampled);
  assert_int_equal(nb_client_start(f->c, nb_simnet_now(f->net)), NB_OK);
  nb_simnet_run_until(f->net, nb_simnet_now(f->net) + 1000);
  assert_int_equal(f->srv.registers, 1);
}

static void fx_teardown(fx *f) {
  nb_ss_free(&f->srv);
  nb_simnet_free(f->net);
}

static void req(fx *f, uint8_t m, const char *path, int cf, int accept, const char *q,
                const char *body, nb_ss_answer *a) {
  nb_ss_request(&f->srv, m, path, cf, accept, q, body, body ? strlen(body) : 0, a);
}

static void expect_code(fx *f, uint8_t m, const char *path, int cf, int accept, const char *q,
                        const char *body, uint8_t code) {
  nb_ss_answer a;
  req(f, m, path, cf, accept, q, body, &a);
  if (a.code != code) fprintf(stderr, "%s: got %u want %u\n", path, a.code, code);
  assert_int_equal(a.code, code);
  nb_ss_answer_free(&a);
}

/* GET path as plain text (or link-format for discover) into buf. */
static uint8_t get_text(fx *f, const char *path, int accept, char *buf, size_t cap) {
  nb_ss_answer a;
  req(f, NB_COAP_GET, path, -1, accept, NULL, NULL, &a);
  snprintf(buf, cap, "%s", a.payload ? (char *)a.payload : "");
  uint8_t code = a.code;
  nb_ss_answer_free(&a);
  return code;
}

/* ---- Write: replace and partial update ---- */

#define SRV_FULL                                                                    \
  "[{\"bn\":\"/1/0/"                                                                \
  "\",\"n\":\"1\",\"v\":600},{\"n\":\"6\",\"vb\":false},{\"n\":\"7\",\"vs\":\"U\"}" \
  "]"

static void test_write_replace_instance(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, NULL, false);
  char buf[512];
  /* Optional resources the server set earlier. */
  expect_code(&f, NB_COAP_POST, "/1/0", NB_COAP_CF_SENML_JSON, -1, NULL,
              "[{\"bn\":\"/1/0/\",\"n\":\"2\",\"v\":5},{\"n\":\"23\",\"vb\":true},"
              "{\"n\":\"25/0\",\"vs\":\"1.0\"},{\"n\":\"25/1\",\"vs\":\"1.1\"}]",
              NB_COAP_CHANGED);
  assert_int_equal(get_text(&f, "/1/0/2", -1, buf, sizeof buf), NB_COAP_CONTENT);
  assert_string_equal(buf, "5");
  /* A replace that leaves out the mandatory Binding (7) is refused and changes nothing. */
  expect_code(&f, NB_COAP_PUT, "/1/0", NB_COAP_CF_SENML_JSON, -1, NULL,
              "[{\"bn\":\"/1/0/\",\"n\":\"1\",\"v\":700},{\"n\":\"6\",\"vb\":false}]",
              NB_COAP_BAD_REQUEST);
  assert_int_equal(get_text(&f, "/1/0/1", -1, buf, sizeof buf), NB_COAP_CONTENT);
  assert_string_equal(buf, "86400");
  assert_int_equal(get_text(&f, "/1/0/2", -1, buf, sizeof buf), NB_COAP_CONTENT);
  /* The whole instance: writable resources left out are gone, read-only ones stay. */
  expect_code(&f, NB_COAP_PUT, "/1/0", NB_COAP_CF_SENML_JSON, -1, NULL, SRV_FULL, NB_COAP_CHANGED);
  assert_int_equal(get_text(&f, "/1/0/1", -1, buf, sizeof buf), NB_COAP_CONTENT);
  assert_string_equal(buf, "600");
  assert_int_equal(get_text(&f, "/1/0/2", -1, buf, sizeof buf), NB_COAP_NOT_FOUND);
  assert_int_equal(get_text(&f, "/1/0/23", -1, buf, sizeof buf), NB_COAP_NOT_FOUND);
  assert_int_equal(get_text(&f, "/1/0/25/0", -1, buf, sizeof buf), NB_COAP_NOT_FOUND);
  assert_int_equal(get_text(&f, "/1/0/0", -1, buf, sizeof buf), NB_COAP_CONTENT);
  assert_string_equal(buf, "101");
  /* The lifetime change reached the server as an Update. */
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(f.srv.updates, 1);
  assert_string_equal(f.srv.update_query, "lt=600");
  /* Partial update (POST) keeps everything it does not name. */
  expect_code(&f, NB_COAP_POST, "/1/0", NB_COAP_CF_SENML_JSON, -1, NULL,
              "[{\"n\":\"/1/0/3\",\"v\":50}]", NB_COAP_CHANGED);
  assert_int_equal(get_text(&f, "/1/0/3", -1, buf, sizeof buf), NB_COAP_CONTENT);
  assert_string_equal(buf, "50");
  assert_int_equal(get_text(&f, "/1/0/1", -1, buf, sizeof buf), NB_COAP_CONTENT);
  assert_string_equal(buf, "600");
  /* Device: every writable resource is optional, so an empty replace clears them. */
  expect_code(&f, NB_COAP_PUT, "/3/0/15", NB_COAP_CF_TEXT, -1, NULL, "UTC", NB_COAP_CHANGED);
  expect_code(&f, NB_COAP_PUT, "/3/0", NB_COAP_CF_SENML_JSON, -1, NULL,
              "[{\"n\":\"/3/0/14\",\"vs\":\"+01:00\"}]", NB_COAP_CHANGED);
  assert_int_equal(get_text(&f, "/3/0/15", -1, buf, sizeof buf), NB_COAP_NOT_FOUND);
  assert_int_equal(get_text(&f, "/3/0/14", -1, buf, sizeof buf), NB_COAP_CONTENT);
  assert_string_equal(buf, "+01:00");
  assert_int_equal(get_text(&f, "/3/0/0", -1, buf, sizeof buf), NB_COAP_CONTENT);
  fx_teardown(&f);
}

/* The instances of /1/0/25 as "ri=value;" text, in order. */
static void versions(fx *f, char *out, size_t cap) {
  nb_ss_answer a;
  req(f, NB_COAP_GET, "/1/0/25", -1, NB_COAP_CF_SENML_JSON, NULL, NULL, &a);
  assert_int_equal(a.code, NB_COAP_CONTENT);
  nb_records r;
  nb_records_init(&r);
  nb_path base = nb_path_res(1, 0, 25);
  assert_int_equal(
      nb_format_decode(a.cf, a.payload, a.len, &base, nb_client_model(f->c), &r, NULL, NULL),
      NB_OK);
  out[0] = 0;
  for (size_t i = 0; i < r.len; i++) {
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "%u=%s;", r.items[i].path.ids[3],
             (char *)r.items[i].value.v.bytes.data);
  }
  nb_records_deinit(&r);
  nb_ss_answer_free(&a);
}

static void test_write_multiple_resource(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, NULL, false);
  char buf[256];
  expect_code(&f, NB_COAP_PUT, "/1/0/25", NB_COAP_CF_SENML_JSON, -1, NULL,
              "[{\"bn\":\"/1/0/25/\",\"n\":\"0\",\"vs\":\"1.0\"},{\"n\":\"1\",\"vs\":\"1.1\"},"
              "{\"n\":\"2\",\"vs\":\"1.2\"}]",
              NB_COAP_CHANGED);
  versions(&f, buf, sizeof buf);
  assert_string_equal(buf, "0=1.0;1=1.1;2=1.2;");
  /* Replace: the instances not in the payload go. */
  expect_code(&f, NB_COAP_PUT, "/1/0/25", NB_COAP_CF_SENML_JSON, -1, NULL,
              "[{\"n\":\"/1/0/25/4\",\"vs\":\"2.0\"},{\"n\":\"/1/0/25/1\",\"vs\":\"1.1.1\"}]",
              NB_COAP_CHANGED);
  versions(&f, buf, sizeof buf);
  assert_string_equal(buf, "1=1.1.1;4=2.0;");
  /* Partial update of the resource (POST, 1.1): the others stay. */
  expect_code(&f, NB_COAP_POST, "/1/0/25", NB_COAP_CF_SENML_JSON, -1, NULL,
              "[{\"n\":\"/1/0/25/7\",\"vs\":\"0.9\"}]", NB_COAP_CHANGED);
  versions(&f, buf, sizeof buf);
  assert_string_equal(buf, "1=1.1.1;4=2.0;7=0.9;");
  /* Partial update of the instance naming one resource instance keeps the rest too. */
  expect_code(&f, NB_COAP_POST, "/1/0", NB_COAP_CF_SENML_JSON, -1, NULL,
              "[{\"n\":\"/1/0/25/4\",\"vs\":\"2.1\"}]", NB_COAP_CHANGED);
  versions(&f, buf, sizeof buf);
  assert_string_equal(buf, "1=1.1.1;4=2.1;7=0.9;");
  /* Writing one resource instance (PUT /o/i/r/ri) changes only that one. */
  expect_code(&f, NB_COAP_PUT, "/1/0/25/7", NB_COAP_CF_TEXT, -1, NULL, "1.0", NB_COAP_CHANGED);
  versions(&f, buf, sizeof buf);
  assert_string_equal(buf, "1=1.1.1;4=2.1;7=1.0;");
  /* POST on an executable resource is still Execute. */
  expect_code(&f, NB_COAP_POST, "/1/0/8", -1, -1, NULL, NULL, NB_COAP_CHANGED);
  fx_teardown(&f);
}

/* ---- evaluation periods ---- */

static void test_epmin_epmax_validation(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, NULL, false);
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "epmin=10&epmax=5", NULL,
              NB_COAP_BAD_REQUEST);
  expect_code(&f, NB_COAP_PUT, "/3303", -1, -1, "epmax=20", NULL, NB_COAP_CHANGED);
  /* epmin above the inherited epmax is refused too; below it is fine. */
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "epmin=30", NULL, NB_COAP_BAD_REQUEST);
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "epmin=2&st=1", NULL, NB_COAP_CHANGED);
  char buf[512];
  assert_int_equal(get_text(&f, "/3303", NB_COAP_CF_LINK_FORMAT, buf, sizeof buf), NB_COAP_CONTENT);
  assert_non_null(strstr(buf, "</3303>;ver=1.1;epmax=20,"));
  assert_non_null(strstr(buf, "</3303/0/5700>;st=1;epmin=2"));
  /* Removing epmax again, then a malformed value. */
  expect_code(&f, NB_COAP_PUT, "/3303", -1, -1, "epmax", NULL, NB_COAP_CHANGED);
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "epmin=-1", NULL, NB_COAP_BAD_REQUEST);
  fx_teardown(&f);
}

static void test_epmin_v10_refused(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, "1.0", false);
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "epmin=2", NULL, NB_COAP_BAD_REQUEST);
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "pmin=2", NULL, NB_COAP_CHANGED);
  fx_teardown(&f);
}

/* Starts observing /3303/0/5700; returns the time the client answered. */
static nb_time_ms observe_temp(fx *f, nb_ct_resp *r) {
  nb_ss_observe(&f->srv, NB_COAP_GET, "/3303/0/5700", -1, -1, NULL, 0, r);
  nb_simnet_run_until(f->net, nb_simnet_now(f->net) + 100);
  assert_int_equal(r->calls, 1);
  return r->at[0] - 10; /* answers take 10 ms on the simulated link */
}

static void test_epmin_holds_evaluation(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, NULL, false);
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "st=1&epmin=5", NULL, NB_COAP_CHANGED);
  nb_ct_resp r = {0};
  nb_time_ms t0 = observe_temp(&f, &r);
  /* A change 1 s in is evaluated only 5 s after the last evaluation (the answer). */
  nb_simnet_run_until(f.net, t0 + 1000);
  set_temperature(&f, 25);
  nb_simnet_run_until(f.net, t0 + 4999);
  assert_int_equal(r.calls, 1);
  nb_simnet_run_until(f.net, t0 + 5100);
  assert_int_equal(r.calls, 2);
  assert_int_equal(r.at[1], t0 + 5000 + 10);
  assert_memory_equal(r.payload, "25", 2);
  /* Again at +6 s: the next evaluation may come at +10 s. */
  nb_simnet_run_until(f.net, t0 + 6000);
  set_temperature(&f, 30);
  nb_simnet_run_until(f.net, t0 + 9999);
  assert_int_equal(r.calls, 2);
  nb_simnet_run_until(f.net, t0 + 10100);
  assert_int_equal(r.calls, 3);
  assert_int_equal(r.at[2], t0 + 10000 + 10);
  /* After a quiet spell longer than epmin a change is evaluated (and sent) at once. */
  nb_simnet_run_until(f.net, t0 + 20000);
  set_temperature(&f, 40);
  nb_simnet_run_until(f.net, t0 + 20100);
  assert_int_equal(r.calls, 4);
  assert_int_equal(r.at[3], t0 + 20000 + 10);
  /* Changes inside epmin are evaluated on the value at its end: 45 then back to 40.2 is less
   * than st away from the 40 reported, so nothing goes. */
  nb_simnet_run_until(f.net, t0 + 21000);
  set_temperature(&f, 45);
  nb_simnet_run_until(f.net, t0 + 22000);
  set_temperature(&f, 40.2);
  nb_simnet_run_until(f.net, t0 + 40000);
  assert_int_equal(r.calls, 4);
  nb_ct_resp_free(&r);
  fx_teardown(&f);
}

static void test_epmax_samples(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, NULL, true);
  /* epmax inherited from the object, the step on the resource. */
  expect_code(&f, NB_COAP_PUT, "/3303", -1, -1, "epmax=10", NULL, NB_COAP_CHANGED);
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "st=1", NULL, NB_COAP_CHANGED);
  nb_ct_resp r = {0};
  nb_time_ms t0 = observe_temp(&f, &r);
  /* The handler's value moves at +3 s without anyone telling the engine: the sample at +10 s
   * sees it. */
  nb_simnet_run_until(f.net, t0 + 3000);
  g_sampled = 25;
  nb_simnet_run_until(f.net, t0 + 9999);
  assert_int_equal(r.calls, 1);
  nb_simnet_run_until(f.net, t0 + 10100);
  assert_int_equal(r.calls, 2);
  assert_int_equal(r.at[1], t0 + 10000 + 10);
  assert_memory_equal(r.payload, "25", 2);
  /* Less than st: the sample at +20 s sends nothing; the one at +30 s sees 27. */
  nb_simnet_run_until(f.net, t0 + 12000);
  g_sampled = 25.5;
  nb_simnet_run_until(f.net, t0 + 25000);
  assert_int_equal(r.calls, 2);
  g_sampled = 27;
  nb_simnet_run_until(f.net, t0 + 29999);
  assert_int_equal(r.calls, 2);
  nb_simnet_run_until(f.net, t0 + 30100);
  assert_int_equal(r.calls, 3);
  assert_int_equal(r.at[2], t0 + 30000 + 10);
  /* Without conditions a sample notifies on any change, and only on one. */
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "st", NULL, NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, t0 + 50100);
  assert_int_equal(r.calls, 3);
  g_sampled = 27.25;
  nb_simnet_run_until(f.net, t0 + 60100);
  assert_int_equal(r.calls, 4);
  assert_int_equal(r.at[3], t0 + 60000 + 10);
  nb_ct_resp_free(&r);
  fx_teardown(&f);
}

/* ---- Discover of resource instances ---- */

static void setup_versions(fx *f) {
  expect_code(f, NB_COAP_PUT, "/1/0/25", NB_COAP_CF_SENML_JSON, -1, NULL,
              "[{\"bn\":\"/1/0/25/\",\"n\":\"0\",\"vs\":\"1.0\"},{\"n\":\"3\",\"vs\":\"1.1\"}]",
              NB_COAP_CHANGED);
}

static void test_discover_resource_instances(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, NULL, false);
  setup_versions(&f);
  char buf[1024];
  assert_int_equal(get_text(&f, "/1/0/25", NB_COAP_CF_LINK_FORMAT, buf, sizeof buf),
                   NB_COAP_CONTENT);
  assert_string_equal(buf, "</1/0/25>;dim=2,</1/0/25/0>,</1/0/25/3>");
  /* Attributes attached to the resource and to one instance show where they were written. */
  expect_code(&f, NB_COAP_PUT, "/1/0/25", -1, -1, "pmin=10", NULL, NB_COAP_CHANGED);
  expect_code(&f, NB_COAP_PUT, "/1/0/25/3", -1, -1, "pmax=60", NULL, NB_COAP_CHANGED);
  assert_int_equal(get_text(&f, "/1/0/25", NB_COAP_CF_LINK_FORMAT, buf, sizeof buf),
                   NB_COAP_CONTENT);
  assert_string_equal(buf, "</1/0/25>;dim=2;pmin=10,</1/0/25/0>,</1/0/25/3>;pmax=60");
  assert_int_equal(get_text(&f, "/1/0/25/3", NB_COAP_CF_LINK_FORMAT, buf, sizeof buf),
                   NB_COAP_CONTENT);
  assert_string_equal(buf, "</1/0/25/3>;pmax=60");
  assert_int_equal(get_text(&f, "/1/0/25/0", NB_COAP_CF_LINK_FORMAT, buf, sizeof buf),
                   NB_COAP_CONTENT);
  assert_string_equal(buf, "</1/0/25/0>");
  /* Instance and object levels list resources (with dim), not resource instances. */
  assert_int_equal(get_text(&f, "/1/0", NB_COAP_CF_LINK_FORMAT, buf, sizeof buf), NB_COAP_CONTENT);
  assert_non_null(strstr(buf, "</1/0/25>;dim=2;pmin=10"));
  assert_null(strstr(buf, "</1/0/25/"));
  /* Absent instance, single resource, unknown resource. */
  assert_int_equal(get_text(&f, "/1/0/25/1", NB_COAP_CF_LINK_FORMAT, buf, sizeof buf),
                   NB_COAP_NOT_FOUND);
  assert_int_equal(get_text(&f, "/1/0/1/0", NB_COAP_CF_LINK_FORMAT, buf, sizeof buf),
                   NB_COAP_NOT_FOUND);
  assert_int_equal(get_text(&f, "/1/0/99/0", NB_COAP_CF_LINK_FORMAT, buf, sizeof buf),
                   NB_COAP_NOT_FOUND);
  assert_int_equal(get_text(&f, "/1/7/25/0", NB_COAP_CF_LINK_FORMAT, buf, sizeof buf),
                   NB_COAP_NOT_FOUND);
  /* A single resource: just its link. */
  assert_int_equal(get_text(&f, "/1/0/1", NB_COAP_CF_LINK_FORMAT, buf, sizeof buf),
                   NB_COAP_CONTENT);
  assert_string_equal(buf, "</1/0/1>");
  fx_teardown(&f);
}

static void test_discover_v10_form(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, "1.0", false);
  setup_versions(&f);
  char buf[1024];
  assert_int_equal(get_text(&f, "/1/0/25", NB_COAP_CF_LINK_FORMAT, buf, sizeof buf),
                   NB_COAP_CONTENT);
  assert_string_equal(buf, "</1/0/25>;dim=2");
  assert_int_equal(get_text(&f, "/1/0/25/0", NB_COAP_CF_LINK_FORMAT, buf, sizeof buf),
                   NB_COAP_BAD_REQUEST);
  fx_teardown(&f);
}

/* Discover of a resource: LwM2M 1.0.2 (5.4.2) reports the attributes attached to it and those
 * it inherits from its object and object instance (its own win); 1.1 only the attached ones.
 * The object and instance levels report only what is attached there in both. */
static void discover_inherited(const char *version, const char *want_res) {
  fx f;
  fx_setup(&f, version, false);
  expect_code(&f, NB_COAP_PUT, "/3303", -1, -1, "pmin=10&pmax=90", NULL, NB_COAP_CHANGED);
  expect_code(&f, NB_COAP_PUT, "/3303/0", -1, -1, "pmax=60", NULL, NB_COAP_CHANGED);
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "gt=50&lt=20", NULL, NB_COAP_CHANGED);
  char buf[1024];
  assert_int_equal(get_text(&f, "/3303/0/5700", NB_COAP_CF_LINK_FORMAT, buf, sizeof buf),
                   NB_COAP_CONTENT);
  assert_string_equal(buf, want_res);
  assert_int_equal(get_text(&f, "/3303/0", NB_COAP_CF_LINK_FORMAT, buf, sizeof buf),
                   NB_COAP_CONTENT);
  assert_non_null(strstr(buf, "</3303/0>;pmax=60,"));
  assert_non_null(strstr(buf, "</3303/0/5700>;gt=50;lt=20"));
  assert_null(strstr(buf, "pmin")); /* attached to the object only */
  fx_teardown(&f);
}

static void test_discover_resource_v10_inherits(void **state) {
  (void)state;
  discover_inherited("1.0", "</3303/0/5700>;pmin=10;pmax=60;gt=50;lt=20");
}

static void test_discover_resource_v11_attached(void **state) {
  (void)state;
  discover_inherited(NULL, "</3303/0/5700>;gt=50;lt=20");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_write_replace_instance),
      cmocka_unit_test(test_write_multiple_resource),
      cmocka_unit_test(test_epmin_epmax_validation),
      cmocka_unit_test(test_epmin_v10_refused),
      cmocka_unit_test(test_epmin_holds_evaluation),
      cmocka_unit_test(test_epmax_samples),
      cmocka_unit_test(test_discover_resource_instances),
      cmocka_unit_test(test_discover_v10_form),
      cmocka_unit_test(test_discover_resource_v10_inherits),
      cmocka_unit_test(test_discover_resource_v11_attached),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
