/* The LwM2M client in-process against scripted servers on the simulated network:
 * - Access Control (Core 7.3) with two servers for every operation: Discover (no right needed,
 *   but none at all is 4.01; object level lists only instances with a right), Write-Attributes
 *   (R on instances, none on objects), Observe and Notify (R, checked again at each Notify),
 *   Execute (the right before 4.05), Create (the server's own C right, no default), Delete
 *   (takes the ACL instance with it), Read and Read-Composite (instances without R left out).
 * - Confirmable notifications: Server resource /1/x/26 (Default Notification Mode), exact
 *   retransmission times of an unacknowledged CON notification and the end of the
 *   observation when it fails, the 24-hour CON rule, and CON over a lossy link. */
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
#include "simnet.h"

typedef struct {
  nb_simnet *net;
  nb_ss srv, srv2;
  nb_client *c;
  nb_simnet_node *node;
  nb_addr caddr;
  /* tap: notifications (2.05 with Observe) from the client, and whether to drop them */
  int notes;
  nb_time_ms note_at[64];
  uint8_t note_type[64];
  uint16_t note_mid[64];
  bool drop_notes;
} fx;

static bool tap(void *user, const nb_addr *from, const nb_addr *to, const uint8_t *data, size_t len,
                nb_time_ms now) {
  fx *f = user;
  (void)to;
  nb_coap_msg m;
  uint32_t ov;
  if (!nb_addr_equal(from, &f->caddr) || nb_coap_parse(data, len, &m) != NB_OK ||
      m.type == NB_COAP_ACK || m.code != NB_COAP_CONTENT ||
      nb_coap_msg_get_uint(&m, NB_COAP_OPT_OBSERVE, &ov) != NB_OK)
    return true;
  if (f->notes < 64) {
    f->note_at[f->notes] = now;
    f->note_type[f->notes] = m.type;
    f->note_mid[f->notes] = m.mid;
    f->notes++;
  }
  return !f->drop_notes;
}

static void set_num(fx *f, uint16_t inst, double v, bool tell) {
  nb_path p = nb_path_res(3303, inst, 5700);
  nb_value val = nb_value_float(v);
  assert_int_equal(nb_store_object_set(nb_client_object(f->c, 3303), &p, &val), NB_OK);
  if (tell) nb_client_value_changed(f->c, &p, nb_simnet_now(f->net));
}

/* One or two NoSec servers (101 at 10.0.0.1, 102 at 10.0.0.2); temperatures /3303/0..n-1.
 * random_factor 1.0 makes CoAP retransmission times exact. */
static void fx_setup(fx *f, int servers, int ninst, bool exact_timers) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(7);
  assert_non_null(f->net);
  nb_addr sa = nb_simnet_addr(1, 5683), sb = nb_simnet_addr(2, 5683);
  f->caddr = nb_simnet_addr(9, 56830);
  nb_ss_init(&f->srv, f->net, &sa);
  if (servers > 1) nb_ss_init(&f->srv2, f->net, &sb);
  f->node = nb_simnet_add(f->net, &f->caddr, &nb_test_client_ops, NULL);
  nb_simnet_set_tap(f->net, tap, f);
  nb_coap_ep_config cc;
  nb_coap_ep_config_default(&cc);
  cc.ack_random_factor = 1.0;
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "dev-acl";
  cfg.send = nb_simnet_send;
  cfg.send_user = f->node;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  if (exact_timers) cfg.coap = &cc;
  assert_int_equal(nb_client_new(&cfg, &f->c), NB_OK);
  nb_simnet_node_set_user(f->node, f->c);
  nb_client_device_info d = {.manufacturer = "ACME",
                             .model = "N1",
                             .serial = "7",
                             .firmware_version = "1.0.0",
                             .battery_level = 80,
                             .memory_free_kb = -1,
                             .memory_total_kb = -1,
                             .bindings = "U"};
  assert_int_equal(nb_client_add_device(f->c, &d), NB_OK);
  nb_client_server_params p = {.uri = "coap://10.0.0.1:5683", .ssid = 101, .lifetime = 86400};
  assert_int_equal(nb_client_add_server(f->c, &p), NB_OK);
  if (servers > 1) {
    p.uri = "coap://10.0.0.2:5683";
    p.ssid = 102;
    assert_int_equal(nb_client_add_server(f->c, &p), NB_OK);
  }
  nb_object *o = nb_store_object_new(nb_model_object(nb_client_model(f->c), 3303), NULL);
  assert_non_null(o);
  for (int i = 0; i < ninst; i++) {
    assert_int_equal(nb_store_object_add_instance(o, (uint16_t)i), NB_OK);
    nb_path pv = nb_path_res(3303, (uint16_t)i, 5700);
    nb_value val = nb_value_float(20.0 + i);
    assert_int_equal(nb_store_object_set(o, &pv, &val), NB_OK);
  }
  assert_int_equal(nb_client_add_object(f->c, o, 0), NB_OK);
}

static void fx_start(fx *f) {
  assert_int_equal(nb_client_start(f->c, nb_simnet_now(f->net)), NB_OK);
  nb_simnet_run_until(f->net, nb_simnet_now(f->net) + 1000);
  assert_int_equal(f->srv.registers, 1);
}

static void fx_teardown(fx *f) {
  nb_ss_free(&f->srv);
  nb_ss_free(&f->srv2);
  nb_simnet_free(f->net);
}

/* ACL instance ai for /obj/inst owned by owner; rights for ssid (ssid 0: the default). */
static void add_acl(fx *f, uint16_t ai, uint16_t obj, uint16_t inst, uint16_t owner, int ssid,
                    int64_t bits) {
  nb_object *acl = nb_client_object(f->c, 2);
  if (!nb_store_object_has_instance(acl, ai)) {
    assert_int_equal(nb_store_object_add_instance(acl, ai), NB_OK);
    nb_value v0 = nb_value_int(obj), v1 = nb_value_int(inst), v3 = nb_value_int(owner);
    nb_path p0 = nb_path_res(2, ai, 0), p1 = nb_path_res(2, ai, 1), p3 = nb_path_res(2, ai, 3);
    assert_int_equal(nb_store_object_set(acl, &p0, &v0), NB_OK);
    assert_int_equal(nb_store_object_set(acl, &p1, &v1), NB_OK);
    assert_int_equal(nb_store_object_set(acl, &p3, &v3), NB_OK);
  }
  if (ssid < 0) return;
  nb_value vb = nb_value_int(bits);
  nb_path pb = nb_path_rinst(2, ai, 2, (uint16_t)ssid);
  assert_int_equal(nb_store_object_set(acl, &pb, &vb), NB_OK);
}

/* A request; returns the code, the body (NUL-terminated) copied into buf when given. */
static uint8_t ask(nb_ss *s, uint8_t m, const char *path, int cf, int accept, const char *q,
                   const char *body, char *buf, size_t cap) {
  nb_ss_answer a;
  nb_ss_request(s, m, path, cf, accept, q, body, body ? strlen(body) : 0, &a);
  if (buf) snprintf(buf, cap, "%s", a.payload ? (const char *)a.payload : "");
  uint8_t code = a.code;
  nb_ss_answer_free(&a);
  return code;
}

/* ---- access control ---- */

/* /3303/0: 102 may read. /3303/1: 102 has no right at all (no entry, no default). /3303/2: 102
 * may only execute. Create on 3303: 101 by its own entry, everyone else by the default entry
 * (which Create must not use). */
static void acl_setup(fx *f) {
  add_acl(f, 0, 3303, 0, 101, 102, 1);
  add_acl(f, 1, 3303, 1, 101, -1, 0);
  add_acl(f, 2, 3303, 2, 101, 102, 4);
  add_acl(f, 3, 3303, 65535, 65535, 101, 16);
  add_acl(f, 3, 3303, 65535, 65535, 0, 16);
  add_acl(f, 4, 3, 0, 101, 102, 1);
}

static void test_acl_discover(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 2, 3, false);
  acl_setup(&f);
  fx_start(&f);
  char buf[2048];
  /* The owner sees every instance. */
  assert_int_equal(
      ask(&f.srv, NB_COAP_GET, "/3303", -1, NB_COAP_CF_LINK_FORMAT, NULL, NULL, buf, sizeof buf),
      NB_COAP_CONTENT);
  assert_non_null(strstr(buf, "</3303/1>"));
  /* 102: the object level answers, without the instance it has no right on. */
  assert_int_equal(
      ask(&f.srv2, NB_COAP_GET, "/3303", -1, NB_COAP_CF_LINK_FORMAT, NULL, NULL, buf, sizeof buf),
      NB_COAP_CONTENT);
  assert_non_null(strstr(buf, "</3303/0>"));
  assert_non_null(strstr(buf, "</3303/2>"));
  assert_null(strstr(buf, "</3303/1"));
  /* Discover needs no particular right (E alone will do), but none at all is 4.01. */
  assert_int_equal(
      ask(&f.srv2, NB_COAP_GET, "/3303/2", -1, NB_COAP_CF_LINK_FORMAT, NULL, NULL, buf, sizeof buf),
      NB_COAP_CONTENT);
  assert_non_null(strstr(buf, "</3303/2/5700>"));
  assert_int_equal(
      ask(&f.srv2, NB_COAP_GET, "/3303/1", -1, NB_COAP_CF_LINK_FORMAT, NULL, NULL, NULL, 0),
      NB_COAP_UNAUTHORIZED);
  assert_int_equal(
      ask(&f.srv2, NB_COAP_GET, "/3303/1/5700", -1, NB_COAP_CF_LINK_FORMAT, NULL, NULL, NULL, 0),
      NB_COAP_UNAUTHORIZED);
  /* An instance that does not exist has no ACL instance either: 4.01, not 4.04, so a server
   * without rights learns nothing about which instances exist. */
  assert_int_equal(
      ask(&f.srv2, NB_COAP_GET, "/3303/9", -1, NB_COAP_CF_LINK_FORMAT, NULL, NULL, NULL, 0),
      NB_COAP_UNAUTHORIZED);
  /* Server instances: each server discovers its own only. */
  assert_int_equal(
      ask(&f.srv2, NB_COAP_GET, "/1", -1, NB_COAP_CF_LINK_FORMAT, NULL, NULL, buf, sizeof buf),
      NB_COAP_CONTENT);
  assert_non_null(strstr(buf, "</1/1>"));
  assert_null(strstr(buf, "</1/0"));
  assert_int_equal(
      ask(&f.srv2, NB_COAP_GET, "/1/0", -1, NB_COAP_CF_LINK_FORMAT, NULL, NULL, NULL, 0),
      NB_COAP_UNAUTHORIZED);
  fx_teardown(&f);
}

static void test_acl_read_attributes_observe(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 2, 3, false);
  acl_setup(&f);
  fx_start(&f);
  char buf[2048];
  /* Object-level Read: only the instance with R. */
  assert_int_equal(
      ask(&f.srv2, NB_COAP_GET, "/3303", -1, NB_COAP_CF_SENML_JSON, NULL, NULL, buf, sizeof buf),
      NB_COAP_CONTENT);
  assert_non_null(strstr(buf, "\"0/5700\""));
  assert_null(strstr(buf, "\"1/5700\""));
  assert_null(strstr(buf, "\"2/5700\""));
  assert_int_equal(ask(&f.srv2, NB_COAP_GET, "/3303/2/5700", -1, -1, NULL, NULL, NULL, 0),
                   NB_COAP_UNAUTHORIZED);
  /* Read-Composite leaves out what 102 may not read. */
  const char *paths = "[{\"n\":\"/3303/1/5700\"},{\"n\":\"/3303/0/5700\"}]";
  assert_int_equal(ask(&f.srv2, NB_COAP_FETCH, "/", NB_COAP_CF_SENML_JSON, NB_COAP_CF_SENML_JSON,
                       NULL, paths, buf, sizeof buf),
                   NB_COAP_CONTENT);

  assert_non_null(strstr(buf, "/3303/0/5700"));
  assert_null(strstr(buf, "/3303/1/"));
  /* Write-Attributes: R on the instance (or below), nothing on the object level. */
  assert_int_equal(ask(&f.srv2, NB_COAP_PUT, "/3303/2/5700", -1, -1, "pmin=5", NULL, NULL, 0),
                   NB_COAP_UNAUTHORIZED);
  assert_int_equal(ask(&f.srv2, NB_COAP_PUT, "/3303/1", -1, -1, "pmax=50", NULL, NULL, 0),
                   NB_COAP_UNAUTHORIZED);
  assert_int_equal(ask(&f.srv2, NB_COAP_PUT, "/3303/0/5700", -1, -1, "pmin=5", NULL, NULL, 0),
                   NB_COAP_CHANGED);
  assert_int_equal(ask(&f.srv2, NB_COAP_PUT, "/3303", -1, -1, "pmax=50", NULL, NULL, 0),
                   NB_COAP_CHANGED);
  /* Observe: R needed. */
  nb_ct_resp r = {0};
  nb_ss_observe(&f.srv2, NB_COAP_GET, "/3303/2/5700", -1, -1, NULL, 0, &r);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.code[0], NB_COAP_UNAUTHORIZED);
  assert_int_equal(nb_client_observation_count(f.c), 0);
  /* An object-level observation reports only the readable instance. */
  nb_ct_resp ro = {0};
  nb_ss_observe(&f.srv2, NB_COAP_GET, "/3303", -1, NB_COAP_CF_SENML_JSON, NULL, 0, &ro);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(ro.calls, 1);
  set_num(&f, 1, 55.0, true);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 6000); /* past pmin=5 (object: none) */
  assert_true(ro.calls >= 2);
  assert_null(memmem(ro.payload, ro.payload_len, "\"1/5700\"", 8));
  assert_non_null(memmem(ro.payload, ro.payload_len, "\"0/5700\"", 8));
  /* Notify checks the Read right again: once the owner takes R away, nothing more is sent. */
  nb_ct_resp rn = {0};
  nb_ss_observe(&f.srv2, NB_COAP_GET, "/3303/0/5700", -1, -1, NULL, 0, &rn);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(rn.calls, 1);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 6000);
  set_num(&f, 0, 30.0, true);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(rn.calls, 2);
  assert_int_equal(ask(&f.srv, NB_COAP_PUT, "/2/0/2/102", NB_COAP_CF_TEXT, -1, NULL, "0", NULL, 0),
                   NB_COAP_CHANGED);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 6000);
  set_num(&f, 0, 31.0, true);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 60000); /* a change and pmax=50 */
  assert_int_equal(rn.calls, 2);
  fx_teardown(&f);
  nb_ct_resp_free(&r); /* the observations stay to the end: free what they filled after it */
  nb_ct_resp_free(&ro);
  nb_ct_resp_free(&rn);
}

static void test_acl_execute_create_delete(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 2, 3, false);
  acl_setup(&f);
  fx_start(&f);
  /* Execute (with arguments) on /3/0 where 102 may only read: 4.01. */
  assert_int_equal(ask(&f.srv2, NB_COAP_POST, "/3/0/4", -1, -1, NULL, "0='now'", NULL, 0),
                   NB_COAP_UNAUTHORIZED);
  /* The right is checked before the resource: no E on /3303/0 is 4.01 even for a resource
   * that cannot execute; with E (on /3303/2) the same request is 4.05. */
  assert_int_equal(ask(&f.srv2, NB_COAP_POST, "/3303/0/5700", -1, -1, NULL, NULL, NULL, 0),
                   NB_COAP_UNAUTHORIZED);
  assert_int_equal(ask(&f.srv2, NB_COAP_POST, "/3303/2/5700", -1, -1, NULL, NULL, NULL, 0),
                   NB_COAP_METHOD_NOT_ALLOWED);
  /* Create: from the server's own C entry only, never from the default one. */
  const char *inst = "[{\"n\":\"5700\",\"v\":1}]";
  assert_int_equal(
      ask(&f.srv2, NB_COAP_POST, "/3303", NB_COAP_CF_SENML_JSON, -1, NULL, inst, NULL, 0),
      NB_COAP_UNAUTHORIZED);
  assert_int_equal(
      ask(&f.srv, NB_COAP_POST, "/3303", NB_COAP_CF_SENML_JSON, -1, NULL, inst, NULL, 0),
      NB_COAP_CREATED);
  /* Delete: 102 has no D on /3303/2; the owner deletes it and its ACL instance goes too. */
  assert_int_equal(ask(&f.srv2, NB_COAP_DELETE, "/3303/2", -1, -1, NULL, NULL, NULL, 0),
                   NB_COAP_UNAUTHORIZED);
  nb_object *acl = nb_client_object(f.c, 2);
  assert_true(nb_store_object_has_instance(acl, 2));
  assert_int_equal(ask(&f.srv, NB_COAP_DELETE, "/3303/2", -1, -1, NULL, NULL, NULL, 0),
                   NB_COAP_DELETED);
  assert_false(nb_store_object_has_instance(acl, 2));
  assert_true(nb_store_object_has_instance(acl, 0)); /* the others stay */
  fx_teardown(&f);
}

/* ---- confirmable notifications ---- */

static void observe_temp(fx *f, nb_ct_resp *r, const char *pmax) {
  if (pmax)
    assert_int_equal(ask(&f->srv, NB_COAP_PUT, "/3303/0/5700", -1, -1, pmax, NULL, NULL, 0),
                     NB_COAP_CHANGED);
  nb_ss_observe(&f->srv, NB_COAP_GET, "/3303/0/5700", -1, -1, NULL, 0, r);
  nb_simnet_run_until(f->net, nb_simnet_now(f->net) + 100);
  assert_int_equal(r->calls, 1);
  assert_int_equal(nb_client_observation_count(f->c), 1);
}

static void test_con_mode_from_server_object(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 1, 1, true);
  fx_start(&f);
  nb_ct_resp r = {0};
  observe_temp(&f, &r, NULL);
  /* Default Notification Mode absent: NON. */
  set_num(&f, 0, 21.0, true);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(r.calls, 2);
  assert_int_equal(f.notes, 1);
  assert_int_equal(f.note_type[0], NB_COAP_NON);
  /* The server asks for CON: the next one is CON, acknowledged, never sent again. */
  assert_int_equal(ask(&f.srv, NB_COAP_PUT, "/1/0/26", NB_COAP_CF_TEXT, -1, NULL, "1", NULL, 0),
                   NB_COAP_CHANGED);
  set_num(&f, 0, 22.0, true);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100000);
  assert_int_equal(r.calls, 3);
  assert_int_equal(f.notes, 2);
  assert_int_equal(f.note_type[1], NB_COAP_CON);
  assert_int_equal(nb_client_observation_count(f.c), 1);
  /* The `con` attribute is LwM2M 1.2: this 1.1 client refuses it. */
  assert_int_equal(ask(&f.srv, NB_COAP_PUT, "/3303/0/5700", -1, -1, "con=1", NULL, NULL, 0),
                   NB_COAP_BAD_REQUEST);
  /* Back to 0: NON again. */
  assert_int_equal(ask(&f.srv, NB_COAP_PUT, "/1/0/26", NB_COAP_CF_TEXT, -1, NULL, "0", NULL, 0),
                   NB_COAP_CHANGED);
  set_num(&f, 0, 23.0, true);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(f.notes, 3);
  assert_int_equal(f.note_type[2], NB_COAP_NON);
  nb_ct_resp_free(&r);
  fx_teardown(&f);
}

static void test_con_unacked_retransmitted_then_cancelled(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 1, 1, true);
  fx_start(&f);
  assert_int_equal(ask(&f.srv, NB_COAP_PUT, "/1/0/26", NB_COAP_CF_TEXT, -1, NULL, "1", NULL, 0),
                   NB_COAP_CHANGED);
  nb_ct_resp r = {0};
  observe_temp(&f, &r, NULL);
  /* The server never gets it (so never acknowledges): ACK_TIMEOUT 2 s, doubling, 4 retries. */
  f.drop_notes = true;
  nb_time_ms t = nb_simnet_now(f.net);
  set_num(&f, 0, 25.0, true);
  nb_simnet_run_until(f.net, t + 61999);
  assert_int_equal(f.notes, 5);
  nb_time_ms expect[] = {0, 2000, 6000, 14000, 30000};
  for (int i = 0; i < 5; i++) {
    assert_int_equal(f.note_at[i], t + expect[i]);
    assert_int_equal(f.note_type[i], NB_COAP_CON);
    assert_int_equal(f.note_mid[i], f.note_mid[0]); /* the same message again */
  }
  assert_int_equal(nb_client_observation_count(f.c), 1);
  /* It fails for good 62 s after the first try: the observation ends (RFC 7641 4.5). */
  nb_simnet_run_until(f.net, t + 62000);
  assert_int_equal(nb_client_observation_count(f.c), 0);
  /* Nothing more is sent for it. */
  f.drop_notes = false;
  set_num(&f, 0, 26.0, true);
  nb_simnet_run_until(f.net, t + 200000);
  assert_int_equal(f.notes, 5);
  assert_int_equal(r.calls, 1);
  nb_ct_resp_free(&r);
  fx_teardown(&f);
}

static void test_con_every_24_hours(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 1, 1, true);
  fx_start(&f);
  nb_ct_resp r = {0};
  observe_temp(&f, &r, "pmax=3600");
  nb_time_ms t0 = r.at[0] - 10; /* the answer left the client 10 ms before it arrived */
  nb_simnet_run_until(f.net, t0 + 25 * 3600000 + 100);
  /* One notification an hour; the 24th comes 24 h after the last CON (the registration of the
   * observation) and goes CON, the others NON. */
  assert_int_equal(f.notes, 25);
  for (int i = 0; i < 25; i++) {
    assert_int_equal(f.note_at[i], t0 + (nb_time_ms)(i + 1) * 3600000);
    assert_int_equal(f.note_type[i], i == 23 ? NB_COAP_CON : NB_COAP_NON);
  }
  assert_int_equal(r.calls, 26);
  nb_ct_resp_free(&r);
  fx_teardown(&f);
}

/* Ten minutes of pmax=20 notifications over a link losing 30 % of datagrams each way: how
 * many distinct notifications the client started, how many reached the server, and whether
 * every transmission had the type asked for. */
static void run_lossy(bool con, int *started, int *delivered, bool *all_typed, bool *alive) {
  fx f;
  fx_setup(&f, 1, 1, false);
  fx_start(&f);
  assert_int_equal(
      ask(&f.srv, NB_COAP_PUT, "/1/0/26", NB_COAP_CF_TEXT, -1, NULL, con ? "1" : "0", NULL, 0),
      NB_COAP_CHANGED);
  nb_ct_resp r = {0};
  observe_temp(&f, &r, "pmax=20");
  nb_simnet_link lossy = {.drop = 0.3, .delay_min = 5, .delay_max = 60};
  nb_simnet_set_link(f.net, &lossy);
  nb_time_ms t0 = nb_simnet_now(f.net);
  nb_simnet_run_until(f.net, t0 + 590000);
  nb_simnet_link clean = {.delay_min = 10, .delay_max = 10};
  nb_simnet_set_link(f.net, &clean); /* the last one gets through or is superseded */
  nb_simnet_run_until(f.net, t0 + 600000);
  *started = 0;
  *all_typed = true;
  for (int i = 0; i < f.notes && i < 64; i++) {
    bool repeat = false;
    for (int j = 0; j < i; j++) repeat = repeat || f.note_mid[j] == f.note_mid[i];
    if (!repeat) ++*started;
    *all_typed = *all_typed && f.note_type[i] == (con ? NB_COAP_CON : NB_COAP_NON);
  }
  *delivered = r.calls - 1;
  *alive = nb_client_observation_count(f.c) == 1;
  nb_ct_resp_free(&r);
  fx_teardown(&f);
}

static void test_con_over_lossy_link(void **state) {
  (void)state;
  int s_con, d_con, s_non, d_non;
  bool typed_con, typed_non, alive_con, alive_non;
  run_lossy(true, &s_con, &d_con, &typed_con, &alive_con);
  run_lossy(false, &s_non, &d_non, &typed_non, &alive_non);
  /* Both start one notification every 20 s. NON ones that are lost stay lost; CON ones are
   * repeated until acknowledged, so all arrive unless a newer notification took over from one
   * still unacknowledged (RFC 7641 4.5.2; with this seed none is), and the observation
   * survives the losses. */
  assert_int_equal(s_con, 30);
  assert_int_equal(s_non, 30);
  assert_true(typed_con);
  assert_true(typed_non);
  assert_true(alive_con);
  assert_true(alive_non);
  assert_int_equal(d_con, 30);
  assert_true(d_non <= 25);
  assert_true(d_con > d_non);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_acl_discover),
      cmocka_unit_test(test_acl_read_attributes_observe),
      cmocka_unit_test(test_acl_execute_create_delete),
      cmocka_unit_test(test_con_mode_from_server_object),
      cmocka_unit_test(test_con_unacked_retransmitted_then_cancelled),
      cmocka_unit_test(test_con_every_24_hours),
      cmocka_unit_test(test_con_over_lossy_link),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
