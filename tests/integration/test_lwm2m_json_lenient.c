/* LwM2M JSON whose bn lacks its trailing "/" ("bn":"/1/0" with "n":"1"), as Leshan's client
 * sends it in OMA interop tests TD 204/220 and Leshan accepts: our client takes such a Write
 * from a server, and our server takes such an answer from a device, both through the shared
 * decoder's lenient reading (in-process, simulated network, virtual clock). */
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
#include "server/server.h"
#include "simnet.h"

/* TD 220's Write of the Server object's lifetime and periods, Leshan style. */
static const char k_td220[] =
    "{\"bn\":\"/1/"
    "0\",\"e\":[{\"n\":\"1\",\"v\":120},{\"n\":\"2\",\"v\":5},{\"n\":\"3\",\"v\":90}]}";

static const char k_factory[] =
    "{\"servers\": [{\"uri\": \"coap://10.0.0.1:5683\", \"ssid\": 101, \"lifetime\": 300,"
    " \"binding\": \"U\"}]}";

/* A server writes /1/0 in Leshan's LwM2M JSON: the client applies it. */
static void test_client_takes_leshan_write(void **state) {
  (void)state;
  nb_simnet *net = nb_simnet_new(5);
  assert_non_null(net);
  nb_ss srv;
  nb_addr sa = nb_simnet_addr(1, 5683), ca = nb_simnet_addr(9, 56830);
  nb_ss_init(&srv, net, &sa);
  nb_simnet_node *node = nb_simnet_add(net, &ca, &nb_test_client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "leshan-style";
  cfg.send = nb_simnet_send;
  cfg.send_user = node;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(net);
  nb_client *c = NULL;
  assert_int_equal(nb_client_new(&cfg, &c), NB_OK);
  nb_simnet_node_set_user(node, c);
  char err[160];
  assert_int_equal(
      nb_client_load_factory(c, (const uint8_t *)k_factory, strlen(k_factory), err, sizeof err),
      NB_OK);
  assert_int_equal(nb_client_start(c, nb_simnet_now(net)), NB_OK);
  nb_simnet_run_until(net, nb_simnet_now(net) + 2000);
  assert_int_equal(srv.registers, 1);
  nb_ss_answer a;
  nb_ss_request(&srv, NB_COAP_POST, "/1/0", NB_COAP_CF_LWM2M_JSON, NB_COAP_CF_NONE, NULL, k_td220,
                strlen(k_td220), &a);
  assert_int_equal(a.code, NB_COAP_CHANGED);
  nb_ss_answer_free(&a);
  nb_object *server_obj = nb_client_object(c, 1);
  assert_int_equal(nb_store_object_get_int(server_obj, 0, 1, -1), 120);
  assert_int_equal(nb_store_object_get_int(server_obj, 0, 2, -1), 5);
  assert_int_equal(nb_store_object_get_int(server_obj, 0, 3, -1), 90);
  /* Invalid either way (a string for the lifetime) stays a 4.00, and changes nothing. */
  static const char bad[] = "{\"bn\":\"/1/0\",\"e\":[{\"n\":\"1\",\"sv\":\"soon\"}]}";
  nb_ss_request(&srv, NB_COAP_POST, "/1/0", NB_COAP_CF_LWM2M_JSON, NB_COAP_CF_NONE, NULL, bad,
                strlen(bad), &a);
  assert_int_equal(a.code, NB_COAP_BAD_REQUEST);
  nb_ss_answer_free(&a);
  assert_int_equal(nb_store_object_get_int(server_obj, 0, 1, -1), 120);
  nb_ss_free(&srv);
  nb_simnet_free(net); /* frees the client with its node */
}

/* ---- the server side: a device answering a Read in Leshan's LwM2M JSON */

typedef struct {
  nb_server *srv;
  nb_coap_ep *dev;
  nb_addr srv_addr;
  int answered, registered;
  nb_err err;
  size_t nrec;
  int64_t lifetime;
} t_world;

static void srv_receive(void *user, const nb_addr *from, const uint8_t *data, size_t len,
                        nb_time_ms now) {
  nb_server_identity none = {0};
  nb_server_receive(((t_world *)user)->srv, from, &none, data, len, now);
}
static nb_time_ms srv_deadline(void *user) {
  return nb_server_next_deadline(((t_world *)user)->srv);
}
static void srv_tick(void *user, nb_time_ms now) { nb_server_tick(((t_world *)user)->srv, now); }

/* The device answers every request with TD 204's Read of /1/0 as Leshan's client writes it. */
static void dev_handler(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                        const nb_coap_msg *req, nb_time_ms now) {
  (void)user;
  (void)peer;
  (void)req;
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_CONTENT, 0);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LWM2M_JSON);
  nb_coap_msg_set_payload(&m, k_td220, strlen(k_td220));
  assert_int_equal(nb_coap_exchange_respond(ex, &m, now), NB_OK);
}

static void dev_registered(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                           nb_time_ms now) {
  (void)err, (void)last, (void)now;
  ((t_world *)user)->registered = resp && resp->code == NB_COAP_CREATED;
}

static bool registered(void *user) { return ((t_world *)user)->registered; }

static void on_result(void *user, uint64_t id, const nb_server_result *res, bool last) {
  t_world *w = user;
  (void)id, (void)last;
  w->answered++;
  w->err = res->err;
  w->nrec = res->records ? res->records->len : 0;
  for (size_t k = 0; k < w->nrec; k++)
    if (nb_path_equal(&res->records->items[k].path, &(nb_path){{1, 0, 1, 0}, 3}))
      w->lifetime = res->records->items[k].value.v.i;
}

static bool answered(void *user) { return ((t_world *)user)->answered > 0; }

static void test_server_takes_leshan_answer(void **state) {
  (void)state;
  static const nb_simnet_ops ops = {srv_receive, srv_deadline, srv_tick, NULL};
  t_world w = {0};
  nb_simnet *net = nb_simnet_new(6);
  assert_non_null(net);
  w.srv_addr = nb_simnet_addr(1, 5683);
  nb_simnet_node *node = nb_simnet_add(net, &w.srv_addr, &ops, &w);
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(net);
  assert_int_equal(nb_server_new(&cfg, nb_simnet_send, node, &w.srv), NB_OK);
  nb_addr da = nb_simnet_addr(11, 6001);
  assert_non_null(nb_simnet_add_coap(net, &da, NULL, &w.dev));
  nb_coap_ep_set_handler(w.dev, dev_handler, &w);
  nb_coap_msg reg;
  nb_coap_msg_init(&reg, NB_COAP_CON, NB_COAP_POST, 0);
  assert_int_equal(nb_coap_msg_add_path(&reg, NB_COAP_OPT_URI_PATH, "/rd"), NB_OK);
  assert_int_equal(nb_coap_msg_add_query(&reg, NB_COAP_OPT_URI_QUERY, "ep=leshan-dev"), NB_OK);
  assert_int_equal(nb_coap_msg_add_uint(&reg, NB_COAP_OPT_CONTENT_FORMAT, 40), NB_OK);
  nb_coap_msg_set_payload(&reg, "</1/0>,</3/0>", 13);
  nb_time_ms now = nb_simnet_now(net);
  assert_int_equal(
      nb_coap_ep_request(w.dev, &w.srv_addr, &reg, true, dev_registered, &w, now, NULL), NB_OK);
  assert_true(nb_simnet_run_until_cond(net, now + 60000, registered, &w));
  nb_server_request rd = {.op = NB_SOP_READ,
                          .path = nb_path_inst(1, 0),
                          .has_format = true,
                          .format = NB_COAP_CF_LWM2M_JSON};
  uint64_t id = 0;
  bool queued = true;
  now = nb_simnet_now(net);
  assert_int_equal(
      nb_server_send_request(w.srv, "leshan-dev", &rd, on_result, &w, now, &id, &queued), NB_OK);
  assert_true(nb_simnet_run_until_cond(net, now + 60000, answered, &w));
  assert_int_equal(w.err, NB_OK);
  assert_int_equal(w.nrec, 3);
  assert_int_equal(w.lifetime, 120);
  nb_server_free(w.srv);
  nb_simnet_free(net);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_client_takes_leshan_write),
      cmocka_unit_test(test_server_takes_leshan_answer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
