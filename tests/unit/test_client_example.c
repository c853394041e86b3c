/* The embedding example of docs/client.md, compiled and run: a client with the Device object,
 * a temperature object whose value a hook reads from "hardware", and one NoSec server; the
 * datagrams it hands to the send callback are checked (a Register to /rd, then the answer to a
 * read of the dynamic value). Keep the part between the markers identical to the document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "coap/msg.h"

/* ---- docs/client.md example begins ---- */
#include "niobium/client.h"

typedef struct {
  uint8_t last[1500]; /* a real device would sendto() its UDP socket here */
  size_t last_len;
  int sent;
} my_net;

static void my_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  my_net *net = user;
  (void)peer;
  if (len <= sizeof net->last) memcpy(net->last, data, len);
  net->last_len = len;
  net->sent++;
}

static double my_sensor_celsius(void) { return 21.5; } /* your driver */

/* Reads of /3303/0/5700 come from the sensor; everything else is stored by the engine. */
static nb_err my_read(void *user, const nb_path *res, nb_value *out, nb_time_ms now) {
  (void)user, (void)now;
  if (res->ids[2] != 5700) return NB_ERR_NOT_FOUND; /* use the stored value */
  *out = nb_value_float(my_sensor_celsius());
  return NB_OK;
}

static nb_client *my_client_new(my_net *net, nb_time_ms now) {
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "my-device-1";
  cfg.send = my_send;
  cfg.send_user = net;
  nb_client *c;
  if (nb_client_new(&cfg, &c) != NB_OK) return NULL;
  nb_client_device_info dev = {.manufacturer = "ACME",
                               .model = "T-1000",
                               .serial = "0001",
                               .firmware_version = "1.0.0",
                               .battery_level = -1,
                               .memory_free_kb = -1,
                               .memory_total_kb = -1};
  nb_store_hooks hooks = {.read = my_read};
  nb_object *temp = nb_store_object_new(nb_model_object(nb_client_model(c), 3303), &hooks);
  nb_value unit = nb_value_none();
  nb_value_set_string(&unit, "Cel", 3);
  nb_path unit_path = nb_path_res(3303, 0, 5701);
  nb_client_server_params srv = {.uri = "coap://192.0.2.10:5683", .ssid = 1, .lifetime = 300};
  bool ok = nb_client_add_device(c, &dev) == NB_OK && temp &&
            nb_store_object_add_instance(temp, 0) == NB_OK &&
            nb_store_object_set(temp, &unit_path, &unit) == NB_OK &&
            nb_client_add_object(c, temp, now) == NB_OK && /* owns temp, also on error */
            nb_client_add_server(c, &srv) == NB_OK && nb_client_start(c, now) == NB_OK;
  nb_value_deinit(&unit);
  if (!ok) {
    nb_client_free(c);
    return NULL;
  }
  return c; /* then: nb_client_receive() per datagram, nb_client_tick() at the deadline */
}
/* ---- docs/client.md example ends ---- */

static void test_example_registers_and_serves(void **state) {
  (void)state;
  my_net net = {0};
  nb_client *c = my_client_new(&net, 0);
  assert_non_null(c);
  assert_int_equal(net.sent, 1);
  nb_coap_msg m;
  assert_int_equal(nb_coap_parse(net.last, net.last_len, &m), NB_OK);
  assert_int_equal(m.code, NB_COAP_POST);
  char path[32];
  assert_int_equal(nb_coap_msg_get_path(&m, NB_COAP_OPT_URI_PATH, path, sizeof path), NB_OK);
  assert_string_equal(path, "/rd");
  assert_non_null(memmem(m.payload, m.payload_len, "</3303/0>", 9));
  /* The server answers 2.01 /rd/7, then reads the temperature as text. */
  nb_coap_msg ack;
  nb_coap_msg_init(&ack, NB_COAP_ACK, NB_COAP_CREATED, m.mid);
  nb_coap_msg_set_token(&ack, m.token, m.token_len);
  nb_coap_msg_add_path(&ack, NB_COAP_OPT_LOCATION_PATH, "/rd/7");
  uint8_t buf[256];
  size_t n;
  assert_int_equal(nb_coap_serialize(&ack, buf, sizeof buf, &n), NB_OK);
  nb_addr srv;
  nb_addr_parse("192.0.2.10", 5683, &srv);
  nb_client_receive(c, &srv, buf, n, 10);
  nb_client_srv_state st;
  char loc[16];
  assert_int_equal(nb_client_server_state(c, 1, &st, loc, sizeof loc), NB_OK);
  assert_int_equal(st, NB_CLIENT_SRV_REGISTERED);
  assert_string_equal(loc, "/rd/7");
  nb_coap_msg get;
  nb_coap_msg_init(&get, NB_COAP_CON, NB_COAP_GET, 0x1234);
  nb_coap_msg_add_path(&get, NB_COAP_OPT_URI_PATH, "/3303/0/5700");
  nb_coap_msg_add_uint(&get, NB_COAP_OPT_ACCEPT, NB_COAP_CF_TEXT);
  assert_int_equal(nb_coap_serialize(&get, buf, sizeof buf, &n), NB_OK);
  nb_client_receive(c, &srv, buf, n, 20);
  assert_int_equal(net.sent, 2);
  assert_int_equal(nb_coap_parse(net.last, net.last_len, &m), NB_OK);
  assert_int_equal(m.code, NB_COAP_CONTENT);
  assert_int_equal(m.payload_len, 4);
  assert_memory_equal(m.payload, "21.5", 4);
  nb_client_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_example_registers_and_serves)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
