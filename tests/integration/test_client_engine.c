/* The LwM2M client engine in-process over the simulated network against a scripted server:
 * registration (Register contents, Update timing, 4.04 -> Register, retry sequence,
 * De-register), device management with every error code, attributes and exact notification
 * times for pmin/pmax/gt/lt/st, cancellation, Send, ACL with two servers and a lossy cycle. */
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

/* strlen that accepts NULL (a request without a body). */
static size_t nb_test_len_or_zero(const char *s) { return s ? strlen(s) : 0; }

typedef struct {
  nb_simnet *net;
  nb_ss srv, srv2;
  nb_client *c;
  nb_simnet_node *node;
  int ev[8];
  nb_time_ms ev_at[8];
} fx;

static void on_event(void *user, nb_client_event ev, uint16_t ssid, nb_err err, nb_time_ms now) {
  fx *f = user;
  (void)ssid;
  (void)err;
  f->ev[ev]++;
  f->ev_at[ev] = now;
}

/* A temperature object 3303/0 with a sensor value the tests change. */
static void add_temperature(fx *f, double v) {
  nb_object *o = nb_store_object_new(nb_model_object(nb_client_model(f->c), 3303), NULL);
  assert_non_null(o);
  assert_int_equal(nb_store_object_add_instance(o, 0), NB_OK);
  nb_path p = nb_path_res(3303, 0, 5700);
  nb_value val = nb_value_float(v);
  assert_int_equal(nb_store_object_set(o, &p, &val), NB_OK);
  assert_int_equal(nb_client_add_object(f->c, o, 0), NB_OK);
}

static void set_temperature(fx *f, double v) {
  nb_path p = nb_path_res(3303, 0, 5700);
  nb_value val = nb_value_float(v);
  assert_int_equal(nb_store_object_set(nb_client_object(f->c, 3303), &p, &val), NB_OK);
  nb_client_value_changed(f->c, &p, nb_simnet_now(f->net));
}

static void fx_setup(fx *f, uint32_t lifetime, int servers, const char *version) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(42);
  assert_non_null(f->net);
  nb_addr sa = nb_simnet_addr(1, 5683), sb = nb_simnet_addr(2, 5683), ca = nb_simnet_addr(9, 56830);
  nb_ss_init(&f->srv, f->net, &sa);
  if (servers > 1) nb_ss_init(&f->srv2, f->net, &sb);
  f->node = nb_simnet_add(f->net, &ca, &nb_test_client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "dev-1";
  cfg.lwm2m_version = version;
  cfg.send = nb_simnet_send;
  cfg.send_user = f->node;
  cfg.on_event = on_event;
  cfg.event_user = f;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  assert_int_equal(nb_client_new(&cfg, &f->c), NB_OK);
  nb_simnet_node_set_user(f->node, f->c);
  nb_client_device_info d = {.manufacturer = "ACME",
                             .model = "N1",
                             .serial = "42",
                             .firmware_version = "1.0.0",
                             .battery_level = 80,
                             .memory_free_kb = -1,
                             .memory_total_kb = -1,
                             .bindings = "UQ"};
  assert_int_equal(nb_client_add_device(f->c, &d), NB_OK);
  nb_client_server_params p = {.uri = "coap://10.0.0.1:5683", .ssid = 101, .lifetime = lifetime};
  assert_int_equal(nb_client_add_server(f->c, &p), NB_OK);
  if (servers > 1) {
    p.uri = "coap://10.0.0.2:5683";
    p.ssid = 102;
    assert_int_equal(nb_client_add_server(f->c, &p), NB_OK);
  }
  add_temperature(f, 20.0);
}

static void fx_start(fx *f) {
  assert_int_equal(nb_client_start(f->c, nb_simnet_now(f->net)), NB_OK);
  nb_simnet_run_until(f->net, nb_simnet_now(f->net) + 1000);
}

static void fx_teardown(fx *f) {
  nb_ss_free(&f->srv);
  nb_ss_free(&f->srv2);
  nb_simnet_free(f->net); /* frees the client node too */
}

static nb_client_srv_state state_of(fx *f, uint16_t ssid) {
  nb_client_srv_state st;
  assert_int_equal(nb_client_server_state(f->c, ssid, &st, NULL, 0), NB_OK);
  return st;
}

/* ---- registration ---- */

static void test_register_contents(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 300, 1, NULL);
  fx_start(&f);
  assert_int_equal(f.srv.registers, 1);
  assert_string_equal(f.srv.ep_name, "dev-1");
  assert_string_equal(f.srv.lt, "300");
  assert_string_equal(f.srv.lwm2m, "1.1");
  assert_string_equal(f.srv.binding, "U");
  assert_non_null(strstr(f.srv.objects, "</>;rt=\"oma.lwm2m\""));
  assert_non_null(strstr(f.srv.objects, "</1/0>"));
  assert_non_null(strstr(f.srv.objects, "</3/0>"));
  assert_non_null(strstr(f.srv.objects, "</3303/0>"));
  assert_non_null(strstr(f.srv.objects, "</3>;ver="));
  assert_null(strstr(f.srv.objects, "</0")); /* Security is never announced */
  char loc[64];
  nb_client_srv_state st;
  assert_int_equal(nb_client_server_state(f.c, 101, &st, loc, sizeof loc), NB_OK);
  assert_int_equal(st, NB_CLIENT_SRV_REGISTERED);
  assert_string_equal(loc, "/rd/1");
  assert_int_equal(f.ev[NB_CLIENT_EV_REGISTERED], 1);
  fx_teardown(&f);
}

static void test_register_v10(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 300, 1, "1.0");
  fx_start(&f);
  assert_string_equal(f.srv.lwm2m, "1.0");
  assert_null(strstr(f.srv.objects, "</>"));
  fx_teardown(&f);
}

static void test_update_before_lifetime(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 100, 1, NULL);
  fx_start(&f);
  nb_time_ms reg = f.srv.register_at[0];
  nb_simnet_run_until(f.net, 250000);
  assert_int_equal(f.srv.updates, 2);
  /* 90 % of the lifetime after the 2.01 reached the client (10 ms link each way) */
  assert_int_equal(f.srv.update_at[0], reg + 10 + 90000 + 10);
  assert_int_equal(f.srv.update_at[1], f.srv.update_at[0] + 10 + 90000 + 10);
  assert_string_equal(f.srv.update_query, ""); /* nothing changed: a bare Update */
  fx_teardown(&f);
}

static void test_update_404_reregisters(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 100, 1, NULL);
  fx_start(&f);
  f.srv.update_code = NB_COAP_NOT_FOUND;
  nb_simnet_run_until(f.net, 95000);
  assert_int_equal(f.srv.updates, 1);
  assert_int_equal(f.srv.registers, 2);
  char loc[64];
  nb_client_srv_state st;
  nb_client_server_state(f.c, 101, &st, loc, sizeof loc);
  assert_int_equal(st, NB_CLIENT_SRV_REGISTERED);
  assert_string_equal(loc, "/rd/2");
  fx_teardown(&f);
}

static void test_register_retry_sequence(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 100, 1, NULL);
  /* Retry count 3, timer 10 s (10, 20), one sequence: then the client gives up. */
  nb_object *srv = nb_client_object(f.c, 1);
  nb_path p17 = nb_path_res(1, 0, 17), p18 = nb_path_res(1, 0, 18);
  nb_value three = nb_value_uint(3), ten = nb_value_uint(10);
  assert_int_equal(nb_store_object_set(srv, &p17, &three), NB_OK);
  assert_int_equal(nb_store_object_set(srv, &p18, &ten), NB_OK);
  f.srv.register_code = NB_COAP_FORBIDDEN;
  fx_start(&f);
  nb_simnet_run_until(f.net, 100000);
  assert_int_equal(f.srv.registers, 3);
  assert_int_equal(f.srv.register_at[1] - f.srv.register_at[0], 20 + 10000);
  assert_int_equal(f.srv.register_at[2] - f.srv.register_at[1], 20 + 20000);
  assert_int_equal(state_of(&f, 101), NB_CLIENT_SRV_FAILED);
  assert_int_equal(f.ev[NB_CLIENT_EV_GAVE_UP], 1);
  assert_int_equal(f.ev[NB_CLIENT_EV_REG_FAILED], 3);
  fx_teardown(&f);
}

static void test_deregister(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 100, 1, NULL);
  fx_start(&f);
  assert_false(nb_client_done(f.c));
  nb_client_deregister(f.c, nb_simnet_now(f.net));
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  assert_int_equal(f.srv.deregisters, 1);
  assert_true(nb_client_done(f.c));
  assert_int_equal(state_of(&f, 101), NB_CLIENT_SRV_DEREGISTERED);
  nb_simnet_run_until(f.net, 500000); /* no more Updates after De-register */
  assert_int_equal(f.srv.updates, 0);
  fx_teardown(&f);
}

/* ---- device management ---- */

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

static void test_read_and_errors(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 300, 1, NULL);
  fx_start(&f);
  nb_ss_answer a;
  req(&f, NB_COAP_GET, "/3/0/0", -1, -1, NULL, NULL, &a);
  assert_int_equal(a.code, NB_COAP_CONTENT);
  assert_int_equal(a.cf, NB_COAP_CF_TEXT);
  assert_string_equal((char *)a.payload, "ACME");
  nb_ss_answer_free(&a);
  /* Whole instance in SenML JSON when asked, decoded back with the model. */
  req(&f, NB_COAP_GET, "/3/0", -1, NB_COAP_CF_SENML_JSON, NULL, NULL, &a);
  assert_int_equal(a.code, NB_COAP_CONTENT);
  assert_int_equal(a.cf, NB_COAP_CF_SENML_JSON);
  nb_records r;
  nb_records_init(&r);
  nb_path base = nb_path_inst(3, 0);
  assert_int_equal(
      nb_format_decode(a.cf, a.payload, a.len, &base, nb_client_model(f.c), &r, NULL, NULL), NB_OK);
  nb_path p9 = nb_path_res(3, 0, 9);
  const nb_record *bat = nb_records_find(&r, &p9);
  assert_non_null(bat);
  assert_int_equal(bat->value.v.i, 80);
  nb_records_deinit(&r);
  nb_ss_answer_free(&a);
  /* Default multi-value format: TLV. */
  req(&f, NB_COAP_GET, "/3303", -1, -1, NULL, NULL, &a);
  assert_int_equal(a.cf, NB_COAP_CF_LWM2M_TLV);
  nb_ss_answer_free(&a);
  expect_code(&f, NB_COAP_GET, "/3/0/11/0", -1, -1, NULL, NULL, NB_COAP_CONTENT);
  expect_code(&f, NB_COAP_GET, "/3/0/11/7", -1, -1, NULL, NULL, NB_COAP_NOT_FOUND);
  expect_code(&f, NB_COAP_GET, "/3/0/99", -1, -1, NULL, NULL, NB_COAP_NOT_FOUND);
  expect_code(&f, NB_COAP_GET, "/3/1", -1, -1, NULL, NULL, NB_COAP_NOT_FOUND);
  expect_code(&f, NB_COAP_GET, "/4242", -1, -1, NULL, NULL, NB_COAP_NOT_FOUND);
  expect_code(&f, NB_COAP_GET, "/rd", -1, -1, NULL, NULL, NB_COAP_NOT_FOUND);
  expect_code(&f, NB_COAP_GET, "/3/0/4", -1, -1, NULL, NULL, NB_COAP_METHOD_NOT_ALLOWED);
  expect_code(&f, NB_COAP_GET, "/3/0/0", -1, 9999, NULL, NULL, NB_COAP_NOT_ACCEPTABLE);
  expect_code(&f, NB_COAP_GET, "/3/0", -1, NB_COAP_CF_TEXT, NULL, NULL, NB_COAP_NOT_ACCEPTABLE);
  expect_code(&f, NB_COAP_GET, "/0/0", -1, -1, NULL, NULL, NB_COAP_UNAUTHORIZED);
  expect_code(&f, NB_COAP_GET, "/0", -1, NB_COAP_CF_LINK_FORMAT, NULL, NULL, NB_COAP_UNAUTHORIZED);
  fx_teardown(&f);
}

static void test_write_execute(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 300, 1, NULL);
  fx_start(&f);
  /* Read-only resource, unknown format, malformed value, unknown instance. */
  expect_code(&f, NB_COAP_PUT, "/3/0/0", NB_COAP_CF_TEXT, -1, NULL, "X",
              NB_COAP_METHOD_NOT_ALLOWED);
  expect_code(&f, NB_COAP_PUT, "/3/0/13", 9999, -1, NULL, "5", NB_COAP_UNSUPPORTED_CONTENT_FORMAT);
  expect_code(&f, NB_COAP_PUT, "/3/0/13", NB_COAP_CF_TEXT, -1, NULL, "abc", NB_COAP_BAD_REQUEST);
  expect_code(&f, NB_COAP_PUT, "/3/7/13", NB_COAP_CF_TEXT, -1, NULL, "5", NB_COAP_NOT_FOUND);
  expect_code(&f, NB_COAP_PUT, "/3", NB_COAP_CF_TEXT, -1, NULL, "5", NB_COAP_METHOD_NOT_ALLOWED);
  /* A good write is read back. */
  expect_code(&f, NB_COAP_PUT, "/3/0/15", NB_COAP_CF_TEXT, -1, NULL, "Europe/Paris",
              NB_COAP_CHANGED);
  nb_ss_answer a;
  req(&f, NB_COAP_GET, "/3/0/15", -1, -1, NULL, NULL, &a);
  assert_string_equal((char *)a.payload, "Europe/Paris");
  nb_ss_answer_free(&a);
  /* Partial update of an instance (POST) with SenML JSON. */
  expect_code(&f, NB_COAP_POST, "/3/0", NB_COAP_CF_SENML_JSON, -1, NULL,
              "[{\"n\":\"/3/0/14\",\"vs\":\"+02:00\"}]", NB_COAP_CHANGED);
  req(&f, NB_COAP_GET, "/3/0/14", -1, -1, NULL, NULL, &a);
  assert_string_equal((char *)a.payload, "+02:00");
  nb_ss_answer_free(&a);
  /* Lifetime written by the server: the client sends an Update with lt. */
  expect_code(&f, NB_COAP_PUT, "/1/0/1", NB_COAP_CF_TEXT, -1, NULL, "600", NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(f.srv.updates, 1);
  assert_string_equal(f.srv.update_query, "lt=600");
  /* Execute: reboot with arguments, not executable, unknown. */
  expect_code(&f, NB_COAP_POST, "/3/0/4", -1, -1, NULL, "0='now'", NB_COAP_CHANGED);
  assert_int_equal(f.ev[NB_CLIENT_EV_REBOOT], 1);
  expect_code(&f, NB_COAP_POST, "/3/0/0", -1, -1, NULL, NULL, NB_COAP_METHOD_NOT_ALLOWED);
  expect_code(&f, NB_COAP_POST, "/3/0/77", -1, -1, NULL, NULL, NB_COAP_NOT_FOUND);
  /* Registration Update Trigger. */
  expect_code(&f, NB_COAP_POST, "/1/0/8", -1, -1, NULL, NULL, NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(f.srv.updates, 2);
  fx_teardown(&f);
}

static void test_create_delete_discover(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 300, 1, NULL);
  fx_start(&f);
  nb_ss_answer a;
  req(&f, NB_COAP_POST, "/3303", NB_COAP_CF_SENML_JSON, -1, NULL,
      "[{\"n\":\"/3303/4/5700\",\"v\":1.5}]", &a);
  assert_int_equal(a.code, NB_COAP_CREATED);
  assert_string_equal(a.location, "/3303/4");
  nb_ss_answer_free(&a);
  req(&f, NB_COAP_GET, "/3303/4/5700", -1, -1, NULL, NULL, &a);
  assert_string_equal((char *)a.payload, "1.5");
  nb_ss_answer_free(&a);
  /* A Create without an instance ID takes the lowest free one. */
  req(&f, NB_COAP_POST, "/3303", NB_COAP_CF_SENML_JSON, -1, NULL, "[{\"n\":\"5700\",\"v\":2}]", &a);
  assert_int_equal(a.code, NB_COAP_CREATED);
  assert_string_equal(a.location, "/3303/1");
  nb_ss_answer_free(&a);
  expect_code(&f, NB_COAP_POST, "/3303", NB_COAP_CF_SENML_JSON, -1, NULL,
              "[{\"n\":\"/3303/4/5700\",\"v\":1}]", NB_COAP_BAD_REQUEST); /* exists */
  expect_code(&f, NB_COAP_POST, "/3", NB_COAP_CF_SENML_JSON, -1, NULL, "[]",
              NB_COAP_BAD_REQUEST); /* single-instance object */
  /* Object list changed: the client Updates with the new list. */
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_true(f.srv.updates >= 1);
  assert_non_null(strstr(f.srv.objects, "</3303/4>"));
  /* Discover. */
  req(&f, NB_COAP_GET, "/3/0", -1, NB_COAP_CF_LINK_FORMAT, NULL, NULL, &a);
  assert_int_equal(a.code, NB_COAP_CONTENT);
  assert_int_equal(a.cf, NB_COAP_CF_LINK_FORMAT);
  assert_non_null(strstr((char *)a.payload, "</3/0>"));
  assert_non_null(strstr((char *)a.payload, "</3/0/11>;dim=1"));
  assert_non_null(strstr((char *)a.payload, "</3/0/4>"));
  nb_ss_answer_free(&a);
  /* Delete. */
  expect_code(&f, NB_COAP_DELETE, "/3303/4", -1, -1, NULL, NULL, NB_COAP_DELETED);
  expect_code(&f, NB_COAP_DELETE, "/3303/4", -1, -1, NULL, NULL, NB_COAP_NOT_FOUND);
  expect_code(&f, NB_COAP_DELETE, "/3/0/1", -1, -1, NULL, NULL, NB_COAP_METHOD_NOT_ALLOWED);
  expect_code(&f, NB_COAP_DELETE, "/3303", -1, -1, NULL, NULL, NB_COAP_METHOD_NOT_ALLOWED);
  fx_teardown(&f);
}

static void test_composite(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 300, 1, NULL);
  fx_start(&f);
  nb_ss_answer a;
  req(&f, NB_COAP_FETCH, "/", NB_COAP_CF_SENML_JSON, -1, NULL,
      "[{\"n\":\"/3/0/0\"},{\"n\":\"/3303/0/5700\"}]", &a);
  assert_int_equal(a.code, NB_COAP_CONTENT);
  assert_int_equal(a.cf, NB_COAP_CF_SENML_JSON);
  assert_non_null(strstr((char *)a.payload, "ACME"));
  assert_non_null(strstr((char *)a.payload, "5700"));
  nb_ss_answer_free(&a);
  expect_code(&f, NB_COAP_IPATCH, "/", NB_COAP_CF_SENML_JSON, -1, NULL,
              "[{\"n\":\"/3/0/15\",\"vs\":\"UTC\"},{\"n\":\"/3/0/14\",\"vs\":\"Z\"}]",
              NB_COAP_CHANGED);
  req(&f, NB_COAP_GET, "/3/0/15", -1, -1, NULL, NULL, &a);
  assert_string_equal((char *)a.payload, "UTC");
  nb_ss_answer_free(&a);
  expect_code(&f, NB_COAP_IPATCH, "/", NB_COAP_CF_SENML_JSON, -1, NULL,
              "[{\"n\":\"/3/0/15\",\"vs\":\"X\"},{\"n\":\"/3/0/0\",\"vs\":\"Y\"}]",
              NB_COAP_METHOD_NOT_ALLOWED);
  req(&f, NB_COAP_GET, "/3/0/15", -1, -1, NULL, NULL, &a); /* nothing applied */
  assert_string_equal((char *)a.payload, "UTC");
  nb_ss_answer_free(&a);
  fx_teardown(&f);
}

/* ---- attributes and observation ---- */

static void test_write_attributes_validation(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 300, 1, NULL);
  fx_start(&f);
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "pmin=10&pmax=5", NULL, NB_COAP_BAD_REQUEST);
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "gt=10&lt=20", NULL, NB_COAP_BAD_REQUEST);
  expect_code(&f, NB_COAP_PUT, "/3/0/0", -1, -1, "gt=1", NULL, NB_COAP_BAD_REQUEST);
  expect_code(&f, NB_COAP_PUT, "/3303/0", -1, -1, "pmax=5", NULL, NB_COAP_CHANGED);
  /* pmin above the inherited pmax is refused too */
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "pmin=9", NULL, NB_COAP_BAD_REQUEST);
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "pmin=2&gt=30", NULL, NB_COAP_CHANGED);
  nb_ss_answer a;
  req(&f, NB_COAP_GET, "/3303/0", -1, NB_COAP_CF_LINK_FORMAT, NULL, NULL, &a);
  assert_non_null(strstr((char *)a.payload, "</3303/0>;pmax=5"));
  assert_non_null(strstr((char *)a.payload, "</3303/0/5700>;pmin=2;gt=30"));
  nb_ss_answer_free(&a);
  fx_teardown(&f);
}

static void test_observe_pmin_pmax(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 86400, 1, NULL);
  fx_start(&f);
  /* pmax at the object level (inherited), pmin at the resource */
  expect_code(&f, NB_COAP_PUT, "/3303", -1, -1, "pmax=30", NULL, NB_COAP_CHANGED);
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "pmin=10", NULL, NB_COAP_CHANGED);
  nb_ct_resp r = {0};
  nb_ss_observe(&f.srv, NB_COAP_GET, "/3303/0/5700", -1, -1, NULL, 0, &r);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(r.calls, 1);
  assert_true(r.has_observe[0]);
  nb_time_ms t0 = r.at[0] - 10; /* the client answered 10 ms earlier */
  assert_int_equal(nb_client_observation_count(f.c), 1);
  /* A change at t0+3 s waits for pmin: the notification goes at t0+10 s. */
  nb_simnet_run_until(f.net, t0 + 3000);
  set_temperature(&f, 21.0);
  nb_simnet_run_until(f.net, t0 + 9999);
  assert_int_equal(r.calls, 1);
  nb_simnet_run_until(f.net, t0 + 10100);
  assert_int_equal(r.calls, 2);
  assert_int_equal(r.at[1], t0 + 10000 + 10);
  /* Nothing changes: pmax sends 30 s after the last one. */
  nb_simnet_run_until(f.net, t0 + 40100);
  assert_int_equal(r.calls, 3);
  assert_int_equal(r.at[2], t0 + 40000 + 10);
  /* A change after pmin went by is sent at once. */
  nb_simnet_run_until(f.net, t0 + 55000);
  set_temperature(&f, 22.5);
  nb_simnet_run_until(f.net, t0 + 55100);
  assert_int_equal(r.calls, 4);
  assert_int_equal(r.at[3], t0 + 55000 + 10);
  assert_int_equal(r.payload_len, 4);
  assert_memory_equal(r.payload, "22.5", 4);
  nb_ct_resp_free(&r);
  fx_teardown(&f);
}

static void test_observe_gt_lt_st(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 86400, 1, NULL);
  fx_start(&f);
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "gt=25&lt=10", NULL, NB_COAP_CHANGED);
  nb_ct_resp r = {0};
  nb_ss_observe(&f.srv, NB_COAP_GET, "/3303/0/5700", -1, -1, NULL, 0, &r);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(r.calls, 1);
  double steps[] = {22, 24.9, 26, 30, 24, 12, 9, 9.5, 11};
  int expect[] = {1, 1, 2, 2, 3, 3, 4, 4, 5}; /* crossings of 25 and 10 only */
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    set_temperature(&f, steps[i]);
    nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
    assert_int_equal(r.calls, expect[i]);
  }
  /* Step: replace gt/lt by st=2 */
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "gt&lt&st=2", NULL, NB_COAP_CHANGED);
  int base = r.calls;
  double steps2[] = {12, 12.9, 13.1, 14, 15.2};
  int expect2[] = {0, 0, 1, 1, 2}; /* |v - last reported| >= 2 */
  for (size_t i = 0; i < sizeof steps2 / sizeof steps2[0]; i++) {
    set_temperature(&f, steps2[i]);
    nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
    assert_int_equal(r.calls - base, expect2[i]);
  }
  nb_ct_resp_free(&r);
  fx_teardown(&f);
}

static void test_observe_cancel(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 86400, 1, NULL);
  fx_start(&f);
  nb_ct_resp r = {0};
  nb_coap_req_id id = nb_ss_observe(&f.srv, NB_COAP_GET, "/3303/0/5700", -1, -1, NULL, 0, &r);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(nb_client_observation_count(f.c), 1);
  /* Passive cancel: the next notification is answered RST. */
  assert_int_equal(nb_coap_ep_cancel(f.srv.ep, id, false, nb_simnet_now(f.net)), NB_OK);
  set_temperature(&f, 30);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(nb_client_observation_count(f.c), 0);
  /* Active cancel: GET with Observe=1. */
  nb_ct_resp r2 = {0};
  id = nb_ss_observe(&f.srv, NB_COAP_GET, "/3303/0", -1, -1, NULL, 0, &r2);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(nb_client_observation_count(f.c), 1);
  assert_int_equal(nb_coap_ep_cancel(f.srv.ep, id, true, nb_simnet_now(f.net)), NB_OK);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(nb_client_observation_count(f.c), 0);
  nb_ct_resp_free(&r);
  nb_ct_resp_free(&r2);
  fx_teardown(&f);
}

static void test_observe_composite_and_send(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 86400, 1, NULL);
  fx_start(&f);
  nb_ct_resp r = {0};
  const char *body = "[{\"n\":\"/3303/0/5700\"},{\"n\":\"/3/0/9\"}]";
  nb_ss_observe(&f.srv, NB_COAP_FETCH, "/", NB_COAP_CF_SENML_JSON, -1, body, strlen(body), &r);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.code[0], NB_COAP_CONTENT);
  set_temperature(&f, 33);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(r.calls, 2);
  assert_non_null(memmem(r.payload, r.payload_len, "33", 2));
  /* A change elsewhere does not notify. */
  nb_path p = nb_path_res(3, 0, 0);
  nb_client_value_changed(f.c, &p, nb_simnet_now(f.net));
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(r.calls, 2);
  /* Send */
  nb_path paths[] = {nb_path_res(3303, 0, 5700)};
  assert_int_equal(nb_client_send(f.c, 0, paths, 1, nb_simnet_now(f.net)), NB_OK);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(f.srv.sends, 1);
  assert_int_equal(f.srv.send_cf, NB_COAP_CF_SENML_CBOR);
  nb_records rec;
  nb_records_init(&rec);
  assert_int_equal(nb_format_decode(NB_COAP_CF_SENML_CBOR, f.srv.send_body, f.srv.send_len, NULL,
                                    nb_client_model(f.c), &rec, NULL, NULL),
                   NB_OK);
  assert_int_equal(rec.len, 1);
  assert_true(rec.items[0].value.v.f == 33.0);
  nb_records_deinit(&rec);
  nb_ct_resp_free(&r);
  fx_teardown(&f);
}

/* ---- access control with two servers ---- */

static void add_acl(fx *f, uint16_t ai, uint16_t obj, uint16_t inst, uint16_t owner, uint16_t ssid,
                    int64_t bits) {
  nb_object *acl = nb_client_object(f->c, 2);
  assert_int_equal(nb_store_object_add_instance(acl, ai), NB_OK);
  nb_value v0 = nb_value_int(obj), v1 = nb_value_int(inst), v3 = nb_value_int(owner),
           vb = nb_value_int(bits);
  nb_path p0 = nb_path_res(2, ai, 0), p1 = nb_path_res(2, ai, 1), p3 = nb_path_res(2, ai, 3),
          pb = nb_path_rinst(2, ai, 2, ssid);
  assert_int_equal(nb_store_object_set(acl, &p0, &v0), NB_OK);
  assert_int_equal(nb_store_object_set(acl, &p1, &v1), NB_OK);
  assert_int_equal(nb_store_object_set(acl, &p3, &v3), NB_OK);
  assert_int_equal(nb_store_object_set(acl, &pb, &vb), NB_OK);
}

static void test_acl_two_servers(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 300, 2, NULL);
  /* /3/0: 101 owns it; 102 may only read. /3303/0: 101 read+write. Create on 3303: 102. */
  add_acl(&f, 0, 3, 0, 101, 102, 1);
  add_acl(&f, 1, 3303, 0, 102, 101, 3);
  add_acl(&f, 2, 3303, 65535, 102, 102, 16);
  fx_start(&f);
  assert_int_equal(f.srv.registers, 1);
  assert_int_equal(f.srv2.registers, 1);
  nb_ss *s1 = &f.srv, *s2 = &f.srv2;
  nb_ss_answer a;
#define REQ(S, M, P, CF, Q, B)                                                                    \
  do {                                                                                            \
    nb_ss_request((S), (M), (P), (CF), -1, (Q), (B), nb_test_len_or_zero((const char *)(B)), &a); \
  } while (0)
  REQ(s1, NB_COAP_GET, "/3/0/0", -1, NULL, NULL);
  assert_int_equal(a.code, NB_COAP_CONTENT); /* owner */
  nb_ss_answer_free(&a);
  REQ(s2, NB_COAP_GET, "/3/0/0", -1, NULL, NULL);
  assert_int_equal(a.code, NB_COAP_CONTENT);
  nb_ss_answer_free(&a);
  REQ(s2, NB_COAP_PUT, "/3/0/15", NB_COAP_CF_TEXT, NULL, "UTC");
  assert_int_equal(a.code, NB_COAP_UNAUTHORIZED);
  nb_ss_answer_free(&a);
  REQ(s2, NB_COAP_POST, "/3/0/4", -1, NULL, NULL);
  assert_int_equal(a.code, NB_COAP_UNAUTHORIZED);
  nb_ss_answer_free(&a);
  REQ(s1, NB_COAP_PUT, "/3303/0/5750", NB_COAP_CF_TEXT, NULL, "room");
  assert_int_equal(a.code, NB_COAP_CHANGED);
  nb_ss_answer_free(&a);
  REQ(s1, NB_COAP_DELETE, "/3303/0", -1, NULL, NULL);
  assert_int_equal(a.code, NB_COAP_UNAUTHORIZED); /* no D right */
  nb_ss_answer_free(&a);
  REQ(s1, NB_COAP_POST, "/3303", NB_COAP_CF_SENML_JSON, NULL, "[{\"n\":\"5700\",\"v\":1}]");
  assert_int_equal(a.code, NB_COAP_UNAUTHORIZED); /* no C right for 101 */
  nb_ss_answer_free(&a);
  REQ(s2, NB_COAP_POST, "/3303", NB_COAP_CF_SENML_JSON, NULL, "[{\"n\":\"5700\",\"v\":1}]");
  assert_int_equal(a.code, NB_COAP_CREATED);
  nb_ss_answer_free(&a);
  /* The creator owns the new instance (an ACL instance was made): 102 deletes it, 101 cannot
   * even read it. */
  REQ(s1, NB_COAP_GET, "/3303/1", -1, NULL, NULL);
  assert_int_equal(a.code, NB_COAP_UNAUTHORIZED);
  nb_ss_answer_free(&a);
  REQ(s2, NB_COAP_DELETE, "/3303/1", -1, NULL, NULL);
  assert_int_equal(a.code, NB_COAP_DELETED);
  nb_ss_answer_free(&a);
  /* Server instances: each server sees its own only. */
  REQ(s2, NB_COAP_GET, "/1/0", -1, NULL, NULL);
  assert_int_equal(a.code, NB_COAP_UNAUTHORIZED);
  nb_ss_answer_free(&a);
  REQ(s2, NB_COAP_GET, "/1/1", -1, NULL, NULL);
  assert_int_equal(a.code, NB_COAP_CONTENT);
  nb_ss_answer_free(&a);
#undef REQ
  fx_teardown(&f);
}

/* ---- the whole cycle over a lossy network ---- */

static void test_lossy_cycle(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 120, 1, NULL);
  nb_simnet_link lossy = {.drop = 0.25,
                          .duplicate = 0.1,
                          .delay_min = 5,
                          .delay_max = 80,
                          .reorder = 0.1,
                          .reorder_delay = 50};
  nb_simnet_set_link(f.net, &lossy);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  nb_simnet_run_until(f.net, 100000);
  assert_int_equal(state_of(&f, 101), NB_CLIENT_SRV_REGISTERED);
  nb_ss_answer a;
  req(&f, NB_COAP_GET, "/3/0/2", -1, -1, NULL, NULL, &a);
  assert_int_equal(a.code, NB_COAP_CONTENT);
  assert_string_equal((char *)a.payload, "42");
  nb_ss_answer_free(&a);
  nb_ct_resp r = {0};
  expect_code(&f, NB_COAP_PUT, "/3303/0/5700", -1, -1, "pmax=20", NULL, NB_COAP_CHANGED);
  nb_ss_observe(&f.srv, NB_COAP_GET, "/3303/0/5700", -1, -1, NULL, 0, &r);
  nb_time_ms until = nb_simnet_now(f.net) + 600000;
  nb_simnet_run_until(f.net, until);
  /* NON notifications every 20 s: most get through */
  assert_true(r.calls > 10);
  assert_true(f.srv.updates >= 4); /* lifetime 120 s over 10 minutes */
  assert_int_equal(state_of(&f, 101), NB_CLIENT_SRV_REGISTERED);
  nb_client_deregister(f.c, nb_simnet_now(f.net));
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 200000);
  assert_true(nb_client_done(f.c));
  assert_int_equal(f.srv.deregisters, 1);
  nb_ct_resp_free(&r);
  fx_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_contents),
      cmocka_unit_test(test_register_v10),
      cmocka_unit_test(test_update_before_lifetime),
      cmocka_unit_test(test_update_404_reregisters),
      cmocka_unit_test(test_register_retry_sequence),
      cmocka_unit_test(test_deregister),
      cmocka_unit_test(test_read_and_errors),
      cmocka_unit_test(test_write_execute),
      cmocka_unit_test(test_create_delete_discover),
      cmocka_unit_test(test_composite),
      cmocka_unit_test(test_write_attributes_validation),
      cmocka_unit_test(test_observe_pmin_pmax),
      cmocka_unit_test(test_observe_gt_lt_st),
      cmocka_unit_test(test_observe_cancel),
      cmocka_unit_test(test_observe_composite_and_send),
      cmocka_unit_test(test_acl_two_servers),
      cmocka_unit_test(test_lossy_cycle),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
