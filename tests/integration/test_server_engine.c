/* LwM2M server engine over the simulated network with a virtual clock: scripted CoAP clients
 * register, update, de-register, expire, answer device-management requests, notify and Send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <unistd.h>
#include "coaptest.h"
#include "server/server.h"
#include "simnet.h"
#include "srv_harness.h"
#include "store/sqlite.h"

typedef nb_srv_harness harness;
typedef nb_srv_device device;

/* ---- request results ---- */

typedef struct {
  int calls, finals;
  nb_err err;
  uint8_t code;
  char value[128];
  size_t nrec;
  char links[256];
  char location[64];
} result;

static void on_result(void *user, uint64_t id, const nb_server_result *res, bool last) {
  result *r = user;
  (void)id;
  r->calls++;
  r->finals += last;
  r->err = res->err;
  r->code = res->code;
  r->value[0] = '\0';
  r->nrec = res->records ? res->records->len : 0;
  if (r->nrec) nb_value_format(&res->records->items[0].value, r->value, sizeof(r->value));
  if (res->links) snprintf(r->links, sizeof(r->links), "%s", res->links);
  snprintf(r->location, sizeof(r->location), "%s", res->location ? res->location : "");
}

static bool result_done(void *user) { return ((result *)user)->calls > 0; }

static void run_req(harness *h, const char *ep, const nb_server_request *req, result *r) {
  memset(r, 0, sizeof(*r));
  uint64_t id = 0;
  bool queued = true;
  nb_time_ms now = nb_simnet_now(h->net);
  assert_int_equal(nb_server_send_request(h->srv, ep, req, on_result, r, now, &id, &queued), NB_OK);
  assert_false(queued);
  assert_true(id != 0);
  assert_true(nb_simnet_run_until_cond(h->net, now + 300000, result_done, r));
}

/* ---- tests ---- */

static void test_register_update_deregister(void **state) {
  (void)state;
  harness h;
  nb_srv_harness_init(&h, NULL);
  device d;
  nb_srv_dev_init(&d, &h, 1);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lt=300", "lwm2m=1.1"), NB_COAP_CREATED);
  assert_int_equal(strlen(d.location), strlen("/rd/") + 11); /* 64 bits in base64url */
  assert_memory_equal(d.location, "/rd/", 4);
  const nb_server_reg_info *ri = nb_server_find(h.srv, "dev1");
  assert_non_null(ri);
  assert_int_equal(ri->lifetime, 300);
  assert_string_equal(ri->version, "1.1");
  assert_string_equal(ri->binding, "U");
  assert_string_equal(ri->links, "</1/0>,</3/0>,</3303/0>");
  assert_int_equal(h.ev[0], NB_SEV_REGISTRATION);
  assert_false(h.ev_replaced[0]);

  char loc[64];
  snprintf(loc, sizeof(loc), "%s", d.location);
  const char *lt[] = {"lt=600", NULL};
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, loc, lt, NB_COAP_CF_NONE, NULL),
                   NB_COAP_CHANGED);
  assert_int_equal(nb_server_find(h.srv, "dev1")->lifetime, 600);
  assert_int_equal(nb_srv_count_ev(&h, NB_SEV_UPDATED), 1);
  /* An Update may not rename the endpoint. */
  const char *ep[] = {"ep=other", NULL};
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, loc, ep, NB_COAP_CF_NONE, NULL),
                   NB_COAP_BAD_REQUEST);
  assert_int_equal(
      nb_srv_dev_send(&d, NB_COAP_POST, "/rd/0123456789abcdef", NULL, NB_COAP_CF_NONE, NULL),
      NB_COAP_NOT_FOUND);
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_GET, "/rd", NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_METHOD_NOT_ALLOWED);
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_DELETE, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_DELETED);
  assert_null(nb_server_find(h.srv, "dev1"));
  assert_int_equal(nb_srv_count_ev(&h, NB_SEV_DEREGISTRATION), 1);
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_DELETE, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_NOT_FOUND);
  nb_srv_harness_deinit(&h);
}

static void test_register_errors(void **state) {
  (void)state;
  harness h;
  nb_srv_harness_init(&h, NULL);
  device d;
  nb_srv_dev_init(&d, &h, 1);
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, "/rd", NULL, NB_COAP_CF_LINK_FORMAT, "</3/0>"),
                   NB_COAP_BAD_REQUEST); /* no ep */
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lwm2m=2.0", NULL), NB_COAP_PRECONDITION_FAILED);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lwm2m=1.x", NULL), NB_COAP_BAD_REQUEST);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lt=0", NULL), NB_COAP_BAD_REQUEST);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lt=99999999999", NULL), NB_COAP_BAD_REQUEST);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "b=X", NULL), NB_COAP_BAD_REQUEST);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lt=5", "lt=6"), NB_COAP_BAD_REQUEST);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "Q", NULL),
                   NB_COAP_BAD_REQUEST); /* 1.0 has no Q */
  assert_int_equal(nb_srv_dev_register(&d, "de/v", NULL, NULL), NB_COAP_BAD_REQUEST);
  const char *q[] = {"ep=dev1", NULL};
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, "/rd", q, NB_COAP_CF_LINK_FORMAT, "</3/0"),
                   NB_COAP_BAD_REQUEST);
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, "/rd", q, NB_COAP_CF_TEXT, "</3/0>"),
                   NB_COAP_BAD_REQUEST);
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, "/nothing", q, NB_COAP_CF_NONE, NULL),
                   NB_COAP_NOT_FOUND);
  assert_int_equal(nb_server_count(h.srv), 0);
  assert_int_equal(h.nev, 0);
  /* The defaults of a minimal Register. */
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, "/rd", q, NB_COAP_CF_NONE, "</3/0>"),
                   NB_COAP_CREATED);
  const nb_server_reg_info *ri = nb_server_find(h.srv, "dev1");
  assert_int_equal(ri->lifetime, 86400);
  assert_string_equal(ri->version, "1.0");
  nb_srv_harness_deinit(&h);
}

static void test_expiry_with_grace(void **state) {
  (void)state;
  harness h;
  nb_srv_harness_init(&h, NULL); /* grace 15 s */
  device d;
  nb_srv_dev_init(&d, &h, 1);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lt=60", NULL), NB_COAP_CREATED);
  nb_time_ms t0 = nb_simnet_now(h.net);
  nb_simnet_run_until(h.net, t0 + 60000 + 15000 - 100);
  assert_non_null(nb_server_find(h.srv, "dev1"));
  /* An Update restarts the lifetime. */
  char loc[64];
  snprintf(loc, sizeof(loc), "%s", d.location);
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_CHANGED);
  nb_time_ms t1 = nb_simnet_now(h.net);
  nb_simnet_run_until(h.net, t1 + 75000 - 100);
  assert_non_null(nb_server_find(h.srv, "dev1"));
  assert_int_equal(nb_srv_count_ev(&h, NB_SEV_EXPIRED), 0);
  nb_simnet_run_until(h.net, t1 + 75000 + 100);
  assert_null(nb_server_find(h.srv, "dev1"));
  assert_int_equal(nb_srv_count_ev(&h, NB_SEV_EXPIRED), 1);
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_NOT_FOUND);
  nb_srv_harness_deinit(&h);
}

static void test_reregistration_cancels_observations(void **state) {
  (void)state;
  harness h;
  nb_srv_harness_init(&h, NULL);
  device d;
  nb_srv_dev_init(&d, &h, 1);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lwm2m=1.1", NULL), NB_COAP_CREATED);
  char old_loc[64];
  snprintf(old_loc, sizeof(old_loc), "%s", d.location);
  d.answer_cf = NB_COAP_CF_TEXT;
  d.answer = "21.5";
  nb_server_request rq = {.op = NB_SOP_OBSERVE,
                          .path = nb_path_res(3303, 0, 5700),
                          .has_format = true,
                          .format = NB_COAP_CF_TEXT};
  result r;
  run_req(&h, "dev1", &rq, &r);
  assert_int_equal(r.code, NB_COAP_CONTENT);
  assert_int_equal(r.finals, 0);
  assert_string_equal(r.value, "21.5");
  nb_server_obs_info oi[4];
  assert_int_equal(nb_server_observations(h.srv, "dev1", oi, 4), 1);
  assert_string_equal(oi[0].paths, "/3303/0/5700");
  /* Notification: decoded and handed to listeners. */
  nb_coap_msg n;
  nb_coap_msg_init(&n, NB_COAP_NON, NB_COAP_CONTENT, 0);
  nb_coap_msg_add_uint(&n, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_TEXT);
  nb_coap_msg_set_payload(&n, "22.25", 5);
  assert_int_equal(nb_coap_ep_notify(d.ep, d.obs, &n, false, nb_simnet_now(h.net)), NB_OK);
  nb_simnet_run_until(h.net, nb_simnet_now(h.net) + 1000);
  assert_int_equal(r.calls, 2);
  assert_string_equal(r.value, "22.25");
  assert_int_equal(nb_srv_count_ev(&h, NB_SEV_NOTIFICATION), 2);
  assert_string_equal(h.ev_value[h.nev - 1], "22.25");
  /* The device reboots and registers again: the observation is gone. */
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lwm2m=1.1", NULL), NB_COAP_CREATED);
  assert_string_not_equal(d.location, old_loc);
  assert_int_equal(r.finals, 1);
  assert_int_equal(r.err, NB_ERR_CANCELLED);
  assert_true(h.ev_replaced[h.nev - 1]);
  assert_int_equal(nb_server_observations(h.srv, "dev1", oi, 4), 0);
  assert_int_equal(nb_server_count(h.srv), 1);
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, old_loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_NOT_FOUND);
  nb_srv_harness_deinit(&h);
}

static void test_dm_operations(void **state) {
  (void)state;
  harness h;
  nb_srv_harness_init(&h, NULL);
  device d10, d11;
  nb_srv_dev_init(&d10, &h, 1);
  nb_srv_dev_init(&d11, &h, 2);
  assert_int_equal(nb_srv_dev_register(&d10, "v10", NULL, NULL), NB_COAP_CREATED);
  assert_int_equal(nb_srv_dev_register(&d11, "v11", "lwm2m=1.1", NULL), NB_COAP_CREATED);
  result r;

  /* Read: TLV asked of a 1.0 client, SenML CBOR of a 1.1 client. */
  nb_server_request rd = {.op = NB_SOP_READ, .path = nb_path_inst(3, 0)};
  d10.code = NB_COAP_CONTENT;
  run_req(&h, "v10", &rd, &r);
  assert_int_equal(d10.method, NB_COAP_GET);
  assert_string_equal(d10.path, "/3/0");
  assert_int_equal(d10.accept, NB_COAP_CF_LWM2M_TLV);
  run_req(&h, "v11", &rd, &r);
  assert_int_equal(d11.accept, NB_COAP_CF_SENML_CBOR);
  /* Typed result: text decoded with the model (3/0/9 battery level is an Integer). */
  d11.answer_cf = NB_COAP_CF_TEXT;
  d11.answer = "87";
  nb_server_request rd9 = {.op = NB_SOP_READ,
                           .path = nb_path_res(3, 0, 9),
                           .has_format = true,
                           .format = NB_COAP_CF_TEXT};
  run_req(&h, "v11", &rd9, &r);
  assert_int_equal(r.err, NB_OK);
  assert_int_equal(r.nrec, 1);
  assert_string_equal(r.value, "87");
  /* A payload that does not decode as its type is reported, not trusted. */
  d11.answer = "eighty";
  run_req(&h, "v11", &rd9, &r);
  assert_int_equal(r.err, NB_ERR_FMT_MALFORMED);
  /* Error codes pass through. */
  d11.code = NB_COAP_NOT_FOUND;
  d11.answer = NULL;
  d11.answer_cf = NB_COAP_CF_NONE;
  run_req(&h, "v11", &rd9, &r);
  assert_int_equal(r.err, NB_OK);
  assert_int_equal(r.code, NB_COAP_NOT_FOUND);

  /* Write replace to a 1.0 client: PUT, TLV that decodes back to what was written. */
  nb_records recs;
  nb_records_init(&recs);
  nb_value v = nb_value_int(120);
  nb_path p13 = nb_path_res(1, 0, 1);
  assert_int_equal(nb_records_add(&recs, &p13, &v), NB_OK);
  d10.code = NB_COAP_CHANGED;
  nb_server_request wr = {
      .op = NB_SOP_WRITE_REPLACE, .path = nb_path_res(1, 0, 1), .records = &recs};
  run_req(&h, "v10", &wr, &r);
  assert_int_equal(r.code, NB_COAP_CHANGED);
  assert_int_equal(d10.method, NB_COAP_PUT);
  assert_int_equal(d10.cf, NB_COAP_CF_LWM2M_TLV);
  nb_records back;
  nb_records_init(&back);
  assert_int_equal(nb_format_decode(NB_COAP_CF_LWM2M_TLV, d10.body, d10.body_len, &p13,
                                    nb_server_model(h.srv), &back, NULL, NULL),
                   NB_OK);
  assert_int_equal(back.len, 1);
  assert_true(nb_value_equal(&back.items[0].value, &recs.items[0].value));
  nb_records_deinit(&back);
  /* Partial write: POST. */
  wr.op = NB_SOP_WRITE_PARTIAL;
  wr.path = nb_path_inst(1, 0);
  run_req(&h, "v10", &wr, &r);
  assert_int_equal(d10.method, NB_COAP_POST);
  assert_string_equal(d10.path, "/1/0");
  /* Write-Attributes: PUT with queries and no body. */
  nb_attrs at;
  nb_attrs_init(&at);
  assert_int_equal(nb_attrs_parse_list(&at, "pmin=10&pmax=60", 15, '&', NULL, 0), NB_OK);
  nb_server_request wa = {.op = NB_SOP_WRITE_ATTRS, .path = nb_path_res(3, 0, 9), .attrs = &at};
  run_req(&h, "v10", &wa, &r);
  assert_int_equal(d10.method, NB_COAP_PUT);
  assert_string_equal(d10.query, "pmin=10&pmax=60");
  assert_int_equal(d10.body_len, 0);
  /* Execute with arguments. */
  nb_server_request ex = {
      .op = NB_SOP_EXECUTE, .path = nb_path_res(3, 0, 4), .args = "0='x'", .args_len = 5};
  run_req(&h, "v10", &ex, &r);
  assert_int_equal(d10.method, NB_COAP_POST);
  assert_string_equal(d10.path, "/3/0/4");
  assert_int_equal(d10.body_len, 5);
  ex.path = nb_path_inst(3, 0); /* Execute needs a resource */
  uint64_t id;
  assert_int_equal(nb_server_send_request(h.srv, "v10", &ex, on_result, &r, 0, &id, NULL),
                   NB_ERR_INVAL);
  /* Create: Location-Path reported. */
  d10.code = NB_COAP_CREATED;
  nb_server_request cr = {.op = NB_SOP_CREATE, .path = nb_path_obj(1), .records = &recs};
  run_req(&h, "v10", &cr, &r);
  assert_int_equal(r.code, NB_COAP_CREATED);
  /* Delete. */
  d10.code = NB_COAP_DELETED;
  nb_server_request del = {.op = NB_SOP_DELETE, .path = nb_path_inst(1, 1)};
  run_req(&h, "v10", &del, &r);
  assert_int_equal(d10.method, NB_COAP_DELETE);
  assert_int_equal(r.code, NB_COAP_DELETED);
  /* Discover: link-format returned as text. */
  d10.code = NB_COAP_CONTENT;
  d10.answer_cf = NB_COAP_CF_LINK_FORMAT;
  d10.answer = "</3/0>,</3/0/9>;pmin=10";
  nb_server_request dis = {.op = NB_SOP_DISCOVER, .path = nb_path_inst(3, 0)};
  run_req(&h, "v10", &dis, &r);
  assert_int_equal(d10.accept, NB_COAP_CF_LINK_FORMAT);
  assert_string_equal(r.links, "</3/0>,</3/0/9>;pmin=10");

  /* Composite: refused for 1.0, FETCH / iPATCH with SenML CBOR for 1.1. */
  nb_path paths[2] = {nb_path_res(3, 0, 9), nb_path_res(3303, 0, 5700)};
  nb_server_request rc = {.op = NB_SOP_READ_COMPOSITE, .paths = paths, .path_count = 2};
  assert_int_equal(nb_server_send_request(h.srv, "v10", &rc, on_result, &r, 0, &id, NULL),
                   NB_ERR_UNSUPPORTED);
  d11.code = NB_COAP_CONTENT;
  d11.answer_cf = NB_COAP_CF_NONE;
  run_req(&h, "v11", &rc, &r);
  assert_int_equal(d11.method, NB_COAP_FETCH);
  assert_int_equal(d11.cf, NB_COAP_CF_SENML_CBOR);
  assert_int_equal(d11.accept, NB_COAP_CF_SENML_CBOR);
  nb_records pl;
  nb_records_init(&pl);
  nb_format_opts po = {.flags = NB_FORMAT_PATHS_ONLY};
  assert_int_equal(
      nb_format_decode_ex(NB_COAP_CF_SENML_CBOR, d11.body, d11.body_len, &po, &pl, NULL), NB_OK);
  assert_int_equal(pl.len, 2);
  nb_records_deinit(&pl);
  d11.code = NB_COAP_CHANGED;
  nb_server_request wc = {.op = NB_SOP_WRITE_COMPOSITE, .records = &recs};
  run_req(&h, "v11", &wc, &r);
  assert_int_equal(d11.method, NB_COAP_IPATCH);

  /* Unknown endpoint, missing records. */
  assert_int_equal(nb_server_send_request(h.srv, "nobody", &rd, on_result, &r, 0, &id, NULL),
                   NB_ERR_NOT_FOUND);
  nb_server_request bad = {.op = NB_SOP_WRITE_REPLACE, .path = nb_path_res(1, 0, 1)};
  assert_int_equal(nb_server_send_request(h.srv, "v10", &bad, on_result, &r, 0, &id, NULL),
                   NB_ERR_INVAL);
  nb_records_deinit(&recs);
  nb_srv_harness_deinit(&h);
}

static void test_request_timeout_and_cancel(void **state) {
  (void)state;
  harness h;
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.request_timeout = 5000;
  nb_srv_harness_init(&h, &cfg);
  device d;
  nb_srv_dev_init(&d, &h, 1);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", NULL, NULL), NB_COAP_CREATED);
  d.silent = true; /* the layer ACKs, the device never answers */
  nb_server_request rd = {.op = NB_SOP_READ, .path = nb_path_res(3, 0, 0)};
  result r;
  nb_time_ms t0 = nb_simnet_now(h.net);
  run_req(&h, "dev1", &rd, &r);
  assert_int_equal(r.err, NB_ERR_TIMEOUT);
  assert_int_equal(r.finals, 1);
  nb_time_ms took = nb_simnet_now(h.net) - t0;
  assert_true(took >= 5000 && took <= 5100);
  /* Cancelling a pending request. */
  memset(&r, 0, sizeof(r));
  uint64_t id;
  assert_int_equal(
      nb_server_send_request(h.srv, "dev1", &rd, on_result, &r, nb_simnet_now(h.net), &id, NULL),
      NB_OK);
  assert_int_equal(nb_server_cancel(h.srv, id, false, nb_simnet_now(h.net)), NB_OK);
  assert_int_equal(r.err, NB_ERR_CANCELLED);
  assert_int_equal(r.finals, 1);
  assert_int_equal(nb_server_cancel(h.srv, id, false, nb_simnet_now(h.net)), NB_ERR_NOT_FOUND);
  nb_srv_harness_deinit(&h);
}

static void test_observe_cancel_active(void **state) {
  (void)state;
  harness h;
  nb_srv_harness_init(&h, NULL);
  device d;
  nb_srv_dev_init(&d, &h, 1);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lwm2m=1.1", NULL), NB_COAP_CREATED);
  d.answer_cf = NB_COAP_CF_SENML_JSON;
  d.answer = "[{\"bn\":\"/3/0/\",\"n\":\"9\",\"v\":80},{\"n\":\"0\",\"vs\":\"Acme\"}]";
  nb_path paths[2] = {nb_path_res(3, 0, 9), nb_path_res(3, 0, 0)};
  nb_server_request ob = {.op = NB_SOP_OBSERVE_COMPOSITE,
                          .paths = paths,
                          .path_count = 2,
                          .has_format = true,
                          .format = NB_COAP_CF_SENML_JSON};
  result r;
  run_req(&h, "dev1", &ob, &r);
  assert_int_equal(d.method, NB_COAP_FETCH);
  assert_true(d.has_observe);
  assert_int_equal(r.nrec, 2);
  assert_string_equal(r.value, "80");
  nb_server_obs_info oi[2];
  assert_int_equal(nb_server_observations(h.srv, "dev1", oi, 2), 1);
  assert_true(oi[0].composite);
  assert_string_equal(oi[0].paths, "/3/0/9,/3/0/0");
  /* Active cancel: the device sees a FETCH with Observe=1. */
  int before = d.nreq;
  uint64_t id = oi[0].id;
  assert_int_equal(nb_server_cancel(h.srv, id, true, nb_simnet_now(h.net)), NB_OK);
  assert_int_equal(r.err, NB_ERR_CANCELLED);
  nb_simnet_run_until(h.net, nb_simnet_now(h.net) + 1000);
  assert_int_equal(d.nreq, before + 1);
  assert_true(d.has_observe);
  assert_int_equal(d.observe, 1);
  nb_srv_harness_deinit(&h);
}

/* Every observation must survive a restart through the store, so a path list longer than the
 * store keeps is refused rather than stored cut short; the longest list that fits is accepted. */
static void test_observe_composite_path_list_bound(void **state) {
  (void)state;
  harness h;
  nb_srv_harness_init(&h, NULL);
  device d;
  nb_srv_dev_init(&d, &h, 1);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lwm2m=1.1", NULL), NB_COAP_CREATED);
  enum { LONG = 30 }; /* "/3303/100/5700" is 14 characters: 30 of them need 449 with commas */
  nb_path many[LONG + 10];
  for (size_t i = 0; i < LONG + 10; i++) many[i] = nb_path_res(3303, 100 + (uint16_t)i, 5700);
  nb_server_request ob = {.op = NB_SOP_OBSERVE_COMPOSITE, .paths = many, .path_count = LONG + 10};
  uint64_t id;
  result r = {0};
  assert_int_equal(
      nb_server_send_request(h.srv, "dev1", &ob, on_result, &r, nb_simnet_now(h.net), &id, NULL),
      NB_ERR_RANGE);
  int before = d.nreq;
  nb_simnet_run_until(h.net, nb_simnet_now(h.net) + 1000);
  assert_int_equal(d.nreq, before); /* nothing went to the device */
  ob.path_count = LONG;
  assert_int_equal(
      nb_server_send_request(h.srv, "dev1", &ob, on_result, &r, nb_simnet_now(h.net), &id, NULL),
      NB_OK);
  nb_simnet_run_until(h.net, nb_simnet_now(h.net) + 1000);
  assert_int_equal(d.nreq, before + 1);
  nb_srv_harness_deinit(&h);
}

static void test_queue_mode(void **state) {
  (void)state;
  harness h;
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.awake_time = 10000;
  cfg.queue_max = 2;
  cfg.queue_ttl = 600000;
  nb_srv_harness_init(&h, &cfg);
  device d;
  nb_srv_dev_init(&d, &h, 1);
  assert_int_equal(nb_srv_dev_register(&d, "q1", "lwm2m=1.1", "Q"), NB_COAP_CREATED);
  assert_true(nb_server_find(h.srv, "q1")->queue);
  assert_int_equal(nb_srv_count_ev(&h, NB_SEV_AWAKE), 1);
  assert_true(nb_server_is_awake(h.srv, "q1"));
  nb_simnet_run_until(h.net, nb_simnet_now(h.net) + 10500);
  assert_int_equal(nb_srv_count_ev(&h, NB_SEV_SLEEPING), 1);
  assert_false(nb_server_is_awake(h.srv, "q1"));
  /* Requests wait for the client; the queue is bounded. */
  d.answer_cf = NB_COAP_CF_TEXT;
  d.answer = "Acme";
  nb_server_request rd = {.op = NB_SOP_READ,
                          .path = nb_path_res(3, 0, 0),
                          .has_format = true,
                          .format = NB_COAP_CF_TEXT};
  result r1, r2, r3;
  memset(&r1, 0, sizeof(r1));
  memset(&r2, 0, sizeof(r2));
  uint64_t id1, id2, id3;
  bool queued = false;
  nb_time_ms now = nb_simnet_now(h.net);
  assert_int_equal(nb_server_send_request(h.srv, "q1", &rd, on_result, &r1, now, &id1, &queued),
                   NB_OK);
  assert_true(queued);
  assert_int_equal(nb_server_send_request(h.srv, "q1", &rd, on_result, &r2, now, &id2, &queued),
                   NB_OK);
  assert_int_equal(nb_server_send_request(h.srv, "q1", &rd, on_result, &r3, now, &id3, &queued),
                   NB_ERR_BUSY);
  int before = d.nreq;
  nb_simnet_run_until(h.net, now + 60000);
  assert_int_equal(d.nreq, before); /* nothing sent while asleep */
  assert_int_equal(r1.calls, 0);
  /* Cancelling a queued request frees its slot. */
  assert_int_equal(nb_server_cancel(h.srv, id2, false, nb_simnet_now(h.net)), NB_OK);
  assert_int_equal(r2.err, NB_ERR_CANCELLED);
  /* The Update wakes it up and the queue drains. */
  char loc[64];
  snprintf(loc, sizeof(loc), "%s", d.location);
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_CHANGED);
  assert_int_equal(nb_srv_count_ev(&h, NB_SEV_AWAKE), 2);
  assert_true(nb_simnet_run_until_cond(h.net, nb_simnet_now(h.net) + 5000, result_done, &r1));
  assert_int_equal(r1.err, NB_OK);
  assert_string_equal(r1.value, "Acme");
  /* A queued request expires after queue_ttl. */
  nb_simnet_run_until(h.net, nb_simnet_now(h.net) + 20000);
  assert_false(nb_server_is_awake(h.srv, "q1"));
  memset(&r3, 0, sizeof(r3));
  now = nb_simnet_now(h.net);
  assert_int_equal(nb_server_send_request(h.srv, "q1", &rd, on_result, &r3, now, &id3, &queued),
                   NB_OK);
  assert_true(queued);
  /* keep the registration alive across the TTL by moving the lifetime out of the way */
  nb_simnet_run_until(h.net, now + 600000 + 10);
  assert_int_equal(r3.err, NB_ERR_TIMEOUT);
  nb_srv_harness_deinit(&h);
}

static void test_send_dp(void **state) {
  (void)state;
  harness h;
  nb_srv_harness_init(&h, NULL);
  device d, stranger;
  nb_srv_dev_init(&d, &h, 1);
  nb_srv_dev_init(&stranger, &h, 2);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lwm2m=1.1", NULL), NB_COAP_CREATED);
  const char *senml = "[{\"n\":\"/3303/0/5700\",\"v\":23.5}]";
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, "/dp", NULL, NB_COAP_CF_SENML_JSON, senml),
                   NB_COAP_CHANGED);
  assert_int_equal(nb_srv_count_ev(&h, NB_SEV_SEND), 1);
  assert_string_equal(h.ev_value[h.nev - 1], "23.5");
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, "/dp", NULL, NB_COAP_CF_SENML_JSON, "[{"),
                   NB_COAP_BAD_REQUEST);
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, "/dp", NULL, NB_COAP_CF_TEXT, "1"),
                   NB_COAP_UNSUPPORTED_CONTENT_FORMAT);
  assert_int_equal(
      nb_srv_dev_send(&stranger, NB_COAP_POST, "/dp", NULL, NB_COAP_CF_SENML_JSON, senml),
      NB_COAP_NOT_FOUND);
  assert_int_equal(nb_srv_count_ev(&h, NB_SEV_SEND), 1);
  /* A Security key is never reported (events, history, API): refused, nothing emitted. */
  const char *key = "[{\"n\":\"/0/1/5\",\"vd\":\"AAECAwQFBgcICQoLDA0ODw\"}]";
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, "/dp", NULL, NB_COAP_CF_SENML_JSON, key),
                   NB_COAP_BAD_REQUEST);
  assert_int_equal(nb_srv_count_ev(&h, NB_SEV_SEND), 1);
  nb_srv_harness_deinit(&h);
}

/* ---- credential binding through a minimal in-memory store ---- */

static nb_server_sec_info mem_sec[4];
static size_t mem_nsec;
static nb_err mem_ok(void) { return NB_OK; }
static nb_err m_reg_put(void *s, const nb_server_reg_info *r) {
  (void)s, (void)r;
  return mem_ok();
}
static nb_err m_del(void *s, const char *ep) {
  (void)s, (void)ep;
  return mem_ok();
}
static nb_err m_reg_each(void *s, nb_server_reg_each_fn f, void *u) {
  (void)s, (void)f, (void)u;
  return mem_ok();
}
static nb_err m_obs_put(void *s, const nb_server_obs_info *o) {
  (void)s, (void)o;
  return mem_ok();
}
static nb_err m_obs_del(void *s, const char *ep, uint64_t id) {
  (void)s, (void)ep, (void)id;
  return mem_ok();
}
static nb_err m_obs_each(void *s, nb_server_obs_each_fn f, void *u) {
  (void)s, (void)f, (void)u;
  return mem_ok();
}
static nb_err m_sec_put(void *s, const nb_server_sec_info *x) {
  (void)s, (void)x;
  return mem_ok();
}
static nb_err m_sec_get(void *s, const char *ep, nb_server_sec_info *out) {
  (void)s;
  for (size_t i = 0; i < mem_nsec; i++)
    if (strcmp(mem_sec[i].ep, ep) == 0) {
      *out = mem_sec[i];
      return NB_OK;
    }
  return NB_ERR_NOT_FOUND;
}
static nb_err m_sec_find(void *s, nb_server_id_kind k, const char *id, nb_server_sec_info *o) {
  (void)s, (void)k, (void)id, (void)o;
  return NB_ERR_NOT_FOUND;
}
static nb_err m_sec_each(void *s, nb_server_sec_each_fn f, void *u) {
  (void)s, (void)f, (void)u;
  return mem_ok();
}
static nb_err m_audit_add(void *s, const nb_server_audit_info *a) {
  (void)s, (void)a;
  return mem_ok();
}
static nb_err m_audit_each(void *s, int64_t b, size_t l, nb_server_audit_each_fn f, void *u) {
  (void)s, (void)b, (void)l, (void)f, (void)u;
  return mem_ok();
}
static const nb_server_store_ops mem_ops = {
    m_reg_put, m_del,     m_reg_each, m_obs_put, m_obs_del,  m_del,       m_obs_each,
    m_sec_put, m_sec_get, m_sec_find, m_del,     m_sec_each, m_audit_add, m_audit_each,
    NULL,      NULL,      NULL,       NULL,      NULL,       NULL,        NULL};

static void add_psk(const char *ep, const char *identity) {
  nb_server_sec_info *s = &mem_sec[mem_nsec++];
  memset(s, 0, sizeof(*s));
  snprintf(s->ep, sizeof(s->ep), "%s", ep);
  s->kind = NB_SERVER_ID_PSK;
  snprintf(s->identity, sizeof(s->identity), "%s", identity);
}

static void test_credential_binding(void **state) {
  (void)state;
  mem_nsec = 0;
  add_psk("devA", "identA");
  add_psk("devB", "identB");
  harness h;
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.store.ops = &mem_ops;
  nb_srv_harness_init(&h, &cfg);
  device a, b, plain;
  nb_srv_dev_init(&a, &h, 1);
  nb_srv_dev_init(&b, &h, 2);
  nb_srv_dev_init(&plain, &h, 3);
  h.ident[1] = (nb_server_identity){.kind = NB_SERVER_ID_PSK, .value = "identA"};
  h.ident[2] = (nb_server_identity){.kind = NB_SERVER_ID_PSK, .value = "identB"};
  /* Identity A claiming endpoint B: 4.03. */
  assert_int_equal(nb_srv_dev_register(&a, "devB", NULL, NULL), NB_COAP_FORBIDDEN);
  /* A secured peer with no credential bound to the name: 4.03. */
  assert_int_equal(nb_srv_dev_register(&a, "devC", NULL, NULL), NB_COAP_FORBIDDEN);
  /* An unauthenticated peer may not take a name that has credentials. */
  assert_int_equal(nb_srv_dev_register(&plain, "devA", NULL, NULL), NB_COAP_FORBIDDEN);
  assert_int_equal(nb_server_count(h.srv), 0);
  assert_int_equal(nb_srv_dev_register(&a, "devA", NULL, NULL), NB_COAP_CREATED);
  assert_int_equal(nb_srv_dev_register(&b, "devB", NULL, NULL), NB_COAP_CREATED);
  assert_int_equal(nb_server_find(h.srv, "devA")->identity.kind, NB_SERVER_ID_PSK);
  /* B may not update or de-register A's registration. */
  char loc[64];
  snprintf(loc, sizeof(loc), "%s", a.location);
  assert_int_equal(nb_srv_dev_send(&b, NB_COAP_DELETE, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_FORBIDDEN);
  assert_int_equal(nb_srv_dev_send(&b, NB_COAP_POST, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_FORBIDDEN);
  assert_non_null(nb_server_find(h.srv, "devA"));
  /* NoSec for names without credentials, unless refused by configuration. */
  assert_int_equal(nb_srv_dev_register(&plain, "free", NULL, NULL), NB_COAP_CREATED);
  nb_server_stats st;
  nb_server_get_stats(h.srv, &st);
  assert_int_equal(st.rejected, 3);
  nb_srv_harness_deinit(&h);
  cfg.allow_nosec = false;
  nb_srv_harness_init(&h, &cfg);
  nb_srv_dev_init(&plain, &h, 3);
  assert_int_equal(nb_srv_dev_register(&plain, "free", NULL, NULL), NB_COAP_FORBIDDEN);
  nb_srv_harness_deinit(&h);
}

static void test_fleet_lossy(void **state) {
  (void)state;
  harness h;
  nb_srv_harness_init(&h, NULL);
  nb_simnet_link lossy = {.drop = 0.2,
                          .duplicate = 0.1,
                          .delay_min = 5,
                          .delay_max = 80,
                          .reorder = 0.1,
                          .reorder_delay = 50};
  nb_simnet_set_link(h.net, &lossy);
  enum { N = 40 };
  static device devs[N];
  for (unsigned i = 0; i < N; i++) {
    memset(&devs[i], 0, sizeof(devs[i]));
    devs[i].h = &h;
    devs[i].addr = nb_simnet_addr(100 + i, 7000);
    assert_non_null(nb_simnet_add_coap(h.net, &devs[i].addr, NULL, &devs[i].ep));
    nb_coap_ep_set_handler(devs[i].ep, nb_srv_dev_handler, &devs[i]);
    devs[i].code = NB_COAP_CONTENT;
    devs[i].answer_cf = NB_COAP_CF_NONE;
  }
  int ok = 0;
  for (unsigned i = 0; i < N; i++) {
    char ep[32];
    snprintf(ep, sizeof(ep), "fleet-%u", i);
    uint8_t code = nb_srv_dev_register(&devs[i], ep, "lt=120", NULL);
    ok += code == NB_COAP_CREATED;
  }
  assert_int_equal(ok, N); /* CON retransmissions get through 20% loss */
  assert_int_equal(nb_server_count(h.srv), N);
  /* Half de-register, the rest expire. */
  for (unsigned i = 0; i < N / 2; i++) {
    char loc[64];
    snprintf(loc, sizeof(loc), "%s", devs[i].location);
    assert_int_equal(nb_srv_dev_send(&devs[i], NB_COAP_DELETE, loc, NULL, NB_COAP_CF_NONE, NULL),
                     NB_COAP_DELETED);
  }
  assert_int_equal(nb_server_count(h.srv), N / 2);
  nb_simnet_run_until(h.net, nb_simnet_now(h.net) + 140000);
  assert_int_equal(nb_server_count(h.srv), 0);
  nb_server_stats st;
  nb_server_get_stats(h.srv, &st);
  assert_int_equal(st.registrations, N);
  assert_int_equal(st.deregistrations, N / 2);
  assert_int_equal(st.expirations, N / 2);
  nb_srv_harness_deinit(&h);
}

static int audit_count;
static nb_err count_audit(void *user, const nb_server_audit_info *a) {
  (void)user;
  if (strcmp(a->op, "read") == 0 && strcmp(a->result, "2.05") == 0) audit_count++;
  return NB_OK;
}

/* The server process dies without a word (kill -9): a new one on the same database knows the
 * device, which keeps updating at its old location; expired registrations are not restored. */
static void test_restart_restores_registrations(void **state) {
  (void)state;
  char dir[] = "/tmp/nb-srv-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[64];
  snprintf(path, sizeof(path), "%s/s.db", dir);
  nb_store_sqlite *db;
  assert_int_equal(nb_store_sqlite_open(path, &db), NB_OK);
  harness h;
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.store = nb_store_sqlite_iface(db);
  cfg.clock_offset = 1700000000000; /* Unix ms at virtual time 0 */
  nb_srv_harness_init(&h, &cfg);
  device d, old;
  nb_srv_dev_init(&d, &h, 1);
  nb_srv_dev_init(&old, &h, 2);
  assert_int_equal(nb_srv_dev_register(&old, "short", "lt=10", NULL), NB_COAP_CREATED);
  assert_int_equal(nb_srv_dev_register(&d, "dev1", "lt=3600", "lwm2m=1.1"), NB_COAP_CREATED);
  char loc[64];
  snprintf(loc, sizeof(loc), "%s", d.location);
  d.answer_cf = NB_COAP_CF_TEXT;
  d.answer = "Acme";
  nb_server_request rd = {.op = NB_SOP_READ,
                          .path = nb_path_res(3, 0, 0),
                          .has_format = true,
                          .format = NB_COAP_CF_TEXT,
                          .actor = "tester"};
  result r;
  run_req(&h, "dev1", &rd, &r);
  assert_int_equal(r.code, NB_COAP_CONTENT);
  nb_time_ms died_at = nb_simnet_now(h.net);
  nb_server_free(h.srv); /* no de-registration, no flush beyond what is committed */
  nb_store_sqlite_close(db);

  /* The new process starts 60 s later: "short" has expired meanwhile. */
  assert_int_equal(nb_store_sqlite_open(path, &db), NB_OK);
  cfg.store = nb_store_sqlite_iface(db);
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(h.net);
  assert_int_equal(nb_server_new(&cfg, nb_simnet_send, h.node, &h.srv), NB_OK);
  nb_simnet_run_until(h.net, died_at + 60000);
  size_t n = 0;
  assert_int_equal(nb_server_restore(h.srv, nb_simnet_now(h.net), &n), NB_OK);
  assert_int_equal(n, 1);
  const nb_server_reg_info *ri = nb_server_find(h.srv, "dev1");
  assert_non_null(ri);
  assert_string_equal(ri->version, "1.1");
  assert_string_equal(ri->links, "</1/0>,</3/0>,</3303/0>");
  assert_null(nb_server_find(h.srv, "short"));
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_POST, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_CHANGED);
  run_req(&h, "dev1", &rd, &r);
  assert_string_equal(r.value, "Acme");
  audit_count = 0;
  assert_int_equal(cfg.store.ops->audit_each(cfg.store.self, 0, 10, count_audit, NULL), NB_OK);
  assert_int_equal(audit_count, 2);
  /* De-registration removes it from the store too. */
  assert_int_equal(nb_srv_dev_send(&d, NB_COAP_DELETE, loc, NULL, NB_COAP_CF_NONE, NULL),
                   NB_COAP_DELETED);
  nb_srv_harness_deinit(&h);
  nb_store_sqlite_close(db);
  assert_int_equal(nb_store_sqlite_open(path, &db), NB_OK);
  nb_server_config_default(&cfg);
  cfg.store = nb_store_sqlite_iface(db);
  nb_server *s2;
  assert_int_equal(nb_server_new(&cfg, nb_simnet_send, NULL, &s2), NB_OK);
  assert_int_equal(nb_server_restore(s2, 0, &n), NB_OK);
  assert_int_equal(n, 0);
  nb_server_free(s2);
  nb_store_sqlite_close(db);
  char p2[80];
  const char *sfx[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    snprintf(p2, sizeof(p2), "%s%s", path, sfx[i]);
    unlink(p2);
  }
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_update_deregister),
      cmocka_unit_test(test_register_errors),
      cmocka_unit_test(test_expiry_with_grace),
      cmocka_unit_test(test_reregistration_cancels_observations),
      cmocka_unit_test(test_dm_operations),
      cmocka_unit_test(test_request_timeout_and_cancel),
      cmocka_unit_test(test_observe_cancel_active),
      cmocka_unit_test(test_observe_composite_path_list_bound),
      cmocka_unit_test(test_queue_mode),
      cmocka_unit_test(test_send_dp),
      cmocka_unit_test(test_credential_binding),
      cmocka_unit_test(test_fleet_lossy),
      cmocka_unit_test(test_restart_restores_registrations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
