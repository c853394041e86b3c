/* Factory bootstrap of the client engine (nb_client_load_factory), in-process against the
 * scripted server with the virtual clock: a client given nothing but a factory document
 * registers (or bootstraps), the Security/Server/Access Control values land where they belong,
 * a state file is a factory file too, and every invalid document is refused naming the field,
 * without quoting a secret and without changing anything. */
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
  nb_ss srv;
  nb_client *c;
  nb_simnet_node *node;
} fx;

/* A client with a Device object and no account at all; the scripted server at 10.0.0.1:5683. */
static void fx_setup(fx *f) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(11);
  assert_non_null(f->net);
  nb_addr sa = nb_simnet_addr(1, 5683), ca = nb_simnet_addr(9, 56830);
  nb_ss_init(&f->srv, f->net, &sa);
  f->node = nb_simnet_add(f->net, &ca, &nb_test_client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "factory-1";
  cfg.send = nb_simnet_send;
  cfg.send_user = f->node;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  assert_int_equal(nb_client_new(&cfg, &f->c), NB_OK);
  nb_simnet_node_set_user(f->node, f->c);
  nb_client_device_info d = {
      .manufacturer = "ACME", .battery_level = -1, .memory_free_kb = -1, .memory_total_kb = -1};
  assert_int_equal(nb_client_add_device(f->c, &d), NB_OK);
}

static void fx_teardown(fx *f) {
  nb_ss_free(&f->srv);
  nb_simnet_free(f->net);
}

static nb_err load(fx *f, const char *doc, char *err, size_t cap) {
  return nb_client_load_factory(f->c, (const uint8_t *)doc, strlen(doc), err, cap);
}

static size_t instances(fx *f, uint16_t obj) {
  nb_object *o = nb_client_object(f->c, obj);
  uint16_t ids[16];
  return o->ops->instances(o, ids, 16);
}

static const char k_two_servers[] =
    "{\"servers\": [\n"
    "  {\"uri\": \"coap://10.0.0.1:5683\", \"ssid\": 101, \"lifetime\": 300, \"binding\": \"U\",\n"
    "   \"pmin\": 5, \"pmax\": 60},\n"
    "  {\"uri\": \"coaps://10.0.0.2:5684\", \"ssid\": 102, \"security\": \"psk\",\n"
    "   \"psk_identity\": \"factory-1\", \"psk_key\": \"000102030405060708090a0b0c0d0e0f\"}],\n"
    " \"access_control\": [\n"
    "  {\"object\": 3, \"instance\": 0, \"owner\": 101, \"acl\": {\"102\": 1, \"0\": 1}}]}\n";

static void test_factory_registers(void **state) {
  (void)state;
  fx f;
  fx_setup(&f);
  char err[160];
  assert_int_equal(load(&f, k_two_servers, err, sizeof err), NB_OK);
  assert_string_equal(err, "");
  /* Security, Server and Access Control hold what the file says. */
  assert_int_equal(instances(&f, 0), 2);
  assert_int_equal(instances(&f, 1), 2);
  assert_int_equal(instances(&f, 2), 1);
  nb_object *sec = nb_client_object(f.c, 0), *srv = nb_client_object(f.c, 1),
            *acl = nb_client_object(f.c, 2);
  assert_string_equal(nb_store_object_get_str(sec, 0, 0), "coap://10.0.0.1:5683");
  assert_int_equal(nb_store_object_get_int(sec, 0, 2, -1), 3);
  assert_int_equal(nb_store_object_get_int(sec, 1, 2, -1), 0);
  assert_int_equal(nb_store_object_get_int(sec, 1, 10, -1), 102);
  nb_path key = nb_path_res(0, 1, 5);
  const nb_value *kv = nb_store_object_get(sec, &key);
  assert_non_null(kv);
  assert_int_equal(kv->v.bytes.len, 16);
  assert_int_equal(kv->v.bytes.data[15], 0x0f);
  assert_int_equal(nb_store_object_get_int(srv, 0, 1, -1), 300);
  assert_int_equal(nb_store_object_get_int(srv, 0, 2, -1), 5);
  assert_int_equal(nb_store_object_get_int(srv, 0, 3, -1), 60);
  assert_int_equal(nb_store_object_get_int(srv, 1, 1, -1), 86400);
  assert_int_equal(nb_store_object_get_int(acl, 0, 0, -1), 3);
  assert_int_equal(nb_store_object_get_int(acl, 0, 3, -1), 101);
  nb_path r102 = nb_path_rinst(2, 0, 2, 102);
  assert_non_null(nb_store_object_get(acl, &r102));
  assert_int_equal(nb_store_object_get(acl, &r102)->v.i, 1);
  /* Started with nothing else, it registers with the NoSec server from the file. */
  assert_int_equal(nb_client_start(f.c, nb_simnet_now(f.net)), NB_OK);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 2000);
  assert_int_equal(f.srv.registers, 1);
  assert_string_equal(f.srv.ep_name, "factory-1");
  assert_string_equal(f.srv.lt, "300");
  nb_client_srv_state st;
  assert_int_equal(nb_client_server_state(f.c, 101, &st, NULL, 0), NB_OK);
  assert_int_equal(st, NB_CLIENT_SRV_REGISTERED);
  /* Two servers: the ACL from the file is enforced (102 may only read /3/0, 101 owns it). */
  nb_ss_answer a;
  nb_ss_request(&f.srv, NB_COAP_PUT, "/3/0/15", NB_COAP_CF_TEXT, -1, NULL, "UTC", 3, &a);
  assert_int_equal(a.code, NB_COAP_CHANGED);
  nb_ss_answer_free(&a);
  fx_teardown(&f);
}

static void test_factory_bootstrap_only(void **state) {
  (void)state;
  fx f;
  fx_setup(&f);
  assert_int_equal(
      load(&f, "{\"servers\":[{\"uri\":\"coap://10.0.0.1:5683\",\"bootstrap\":true}]}", NULL, 0),
      NB_OK);
  assert_int_equal(instances(&f, 0), 1);
  assert_int_equal(instances(&f, 1), 0);
  assert_int_equal(nb_client_start(f.c, nb_simnet_now(f.net)), NB_OK);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 2000);
  assert_int_equal(f.srv.bs_requests, 1);
  assert_int_equal(f.srv.registers, 0);
  assert_true(nb_client_bootstrapping(f.c));
  fx_teardown(&f);
}

static void test_state_file_is_factory_file(void **state) {
  (void)state;
  fx f;
  fx_setup(&f);
  assert_int_equal(load(&f, k_two_servers, NULL, 0), NB_OK);
  nb_bytes st;
  nb_bytes_init(&st);
  assert_int_equal(nb_client_save_state(f.c, &st), NB_OK);
  fx_teardown(&f);

  fx g;
  fx_setup(&g);
  char err[160];
  assert_int_equal(nb_client_load_factory(g.c, st.data, st.len, err, sizeof err), NB_OK);
  assert_int_equal(instances(&g, 0), 2);
  assert_int_equal(instances(&g, 2), 1);
  assert_int_equal(nb_client_start(g.c, nb_simnet_now(g.net)), NB_OK);
  nb_simnet_run_until(g.net, nb_simnet_now(g.net) + 2000);
  assert_int_equal(g.srv.registers, 1);
  assert_string_equal(g.srv.lt, "300");
  /* Neither JSON nor a state file. */
  assert_int_not_equal(nb_client_load_factory(g.c, (const uint8_t *)"\x01\x02", 2, err, sizeof err),
                       NB_OK);
  assert_non_null(strstr(err, "neither a JSON factory file nor a state file"));
  nb_bytes_free(&st);
  fx_teardown(&g);
}

/* Each bad document, and what the error must name. */
static const struct {
  const char *doc, *needle;
} k_bad[] = {
    {"{\"servers\": [", "not valid JSON"},
    {"[1]", "(top): must be a JSON object"},
    {"{}", "servers: missing"},
    {"{\"servers\": []}", "servers: no account"},
    {"{\"servers\": [], \"colour\": 1}", "(top).colour: unknown field"},
    {"{\"servers\": [{\"ssid\": 1}]}", "servers[0].uri: missing"},
    {"{\"servers\": [{\"uri\": \"http://x:1\", \"ssid\": 1}]}",
     "servers[0].uri: must start with coap:// or coaps://"},
    {"{\"servers\": [{\"uri\": \"coap://1.2.3.4:5683\"}]}", "servers[0].ssid: missing"},
    {"{\"servers\": [{\"uri\": \"coap://1.2.3.4:5683\", \"ssid\": 0}]}",
     "servers[0].ssid: must be an integer 1..65534"},
    {"{\"servers\": [{\"uri\": \"coap://1.2.3.4:5683\", \"ssid\": \"7\"}]}",
     "servers[0].ssid: must be an integer"},
    {"{\"servers\": [{\"uri\": \"coap://1.2.3.4:5683\", \"ssid\": 1, \"lifetme\": 3}]}",
     "servers[0].lifetme: unknown field"},
    {"{\"servers\": [{\"uri\": \"coap://1.2.3.4:5683\", \"ssid\": 1, \"binding\": \"S\"}]}",
     "servers[0].binding: must be U or UQ"},
    {"{\"servers\": [{\"uri\": \"coap://1.2.3.4:5683\", \"ssid\": 1, \"pmin\": 9, \"pmax\": 5}]}",
     "servers[0].pmin: above pmax"},
    {"{\"servers\": [{\"uri\": \"coaps://1.2.3.4:5684\", \"ssid\": 1}]}",
     "servers[0].security: coaps:// needs psk, rpk or x509"},
    {"{\"servers\": [{\"uri\": \"coap://1.2.3.4:5683\", \"ssid\": 1, \"security\": \"psk\"}]}",
     "servers[0].security: coap:// is nosec"},
    {"{\"servers\": [{\"uri\": \"coaps://1.2.3.4:5684\", \"ssid\": 1, \"security\": \"tls\"}]}",
     "servers[0].security: must be nosec, psk, rpk or x509"},
    {"{\"servers\": [{\"uri\": \"coaps://1.2.3.4:5684\", \"ssid\": 1, \"security\": \"psk\", "
     "\"psk_identity\": \"d\"}]}",
     "servers[0].psk_key: missing"},
    {"{\"servers\": [{\"uri\": \"coaps://1.2.3.4:5684\", \"ssid\": 1, \"security\": \"psk\", "
     "\"psk_identity\": \"d\", \"psk_key\": \"zz5ecre7\"}]}",
     "servers[0].psk_key: not hex digits"},
    {"{\"servers\": [{\"uri\": \"coaps://1.2.3.4:5684\", \"ssid\": 1, \"security\": \"rpk\", "
     "\"private_key\": \"PEM\"}]}",
     "servers[0]: rpk needs one of server_key and server_secure_id"},
    {"{\"servers\": [{\"uri\": \"coaps://1.2.3.4:5684\", \"ssid\": 1, \"security\": \"x509\", "
     "\"private_key\": \"PEM\", \"server_key\": \"PEM\"}]}",
     "servers[0].certificate: missing"},
    {"{\"servers\": [{\"uri\": \"coap://1.2.3.4:5683\", \"ssid\": 1, \"private_key\": \"k\"}]}",
     "servers[0]: nosec takes no keys"},
    {"{\"servers\": [{\"uri\": \"coap://1.2.3.4:5683\", \"ssid\": 1}, "
     "{\"uri\": \"coap://1.2.3.5:5683\", \"ssid\": 1}]}",
     "servers[1].ssid: the same as servers[0]"},
    {"{\"servers\": [{\"uri\": \"coap://1.2.3.4:5683\", \"bootstrap\": true}, "
     "{\"uri\": \"coap://1.2.3.5:5683\", \"bootstrap\": true}]}",
     "servers[1].bootstrap: a second one"},
    {"{\"servers\": [{\"uri\": \"coap://1.2.3.4:5683\", \"bootstrap\": true, \"ssid\": 4}]}",
     "servers[0].ssid: a bootstrap account has none"},
    {"{\"servers\": [{\"uri\": \"coap://1.2.3.4:5683\", \"ssid\": 1}], \"access_control\": "
     "[{\"object\": 3, \"instance\": 0}]}",
     "access_control[0].owner: missing"},
    {"{\"servers\": [{\"uri\": \"coap://1.2.3.4:5683\", \"ssid\": 1}], \"access_control\": "
     "[{\"object\": 3, \"instance\": 0, \"owner\": 1, \"acl\": {\"1\": 64}}]}",
     "access_control[0].acl.1: rights must be 0..31"},
    {"{\"servers\": [{\"uri\": \"coap://1.2.3.4:5683\", \"ssid\": 1}], \"access_control\": "
     "[{\"object\": 3, \"instance\": 0, \"owner\": 1, \"acl\": {\"x\": 1}}]}",
     "access_control[0].acl.x: the key must be a short server ID"},
};

static void test_factory_validation(void **state) {
  (void)state;
  fx f;
  fx_setup(&f);
  /* Accounts from an earlier good file must survive every refused one. */
  assert_int_equal(load(&f, k_two_servers, NULL, 0), NB_OK);
  for (size_t i = 0; i < sizeof k_bad / sizeof k_bad[0]; i++) {
    char err[160] = "";
    nb_err e = load(&f, k_bad[i].doc, err, sizeof err);
    if (e != NB_ERR_INVAL || !strstr(err, k_bad[i].needle))
      fail_msg("doc %zu: got %d '%s', wanted '%s'", i, e, err, k_bad[i].needle);
    assert_null(strstr(err, "5ecre7")); /* a secret is never quoted */
    assert_int_equal(instances(&f, 0), 2);
    assert_int_equal(instances(&f, 1), 2);
    assert_int_equal(instances(&f, 2), 1);
  }
  /* jansson's own message would quote the token near a syntax error: ours does not. */
  char err[160];
  assert_int_equal(load(&f, "{\"servers\": [{\"psk_key\": 5ecre7}]}", err, sizeof err),
                   NB_ERR_INVAL);
  assert_non_null(strstr(err, "line 1 column"));
  assert_null(strstr(err, "5ecre7"));
  fx_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_factory_registers),
      cmocka_unit_test(test_factory_bootstrap_only),
      cmocka_unit_test(test_state_file_is_factory_file),
      cmocka_unit_test(test_factory_validation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
