/* Queue mode of the client engine over the simulated network (10 ms links) in virtual time:
 * exact sleep times after the queue timeout, requests of the server dropped while asleep and
 * served while awake, the wake-up Update ahead of the held notifications (one per
 * observation, latest value), Send waking the client, 1.1's b=U&Q and 1.0's b=UQ. */
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

static void fx_setup(fx *f, const char *version, const char *binding, nb_time_ms queue_timeout) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(7);
  assert_non_null(f->net);
  nb_addr sa = nb_simnet_addr(1, 5683), ca = nb_simnet_addr(9, 56830);
  nb_ss_init(&f->srv, f->net, &sa);
  f->node = nb_simnet_add(f->net, &ca, &nb_test_client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "q-1";
  cfg.lwm2m_version = version;
  cfg.send = nb_simnet_send;
  cfg.send_user = f->node;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  cfg.queue_timeout = queue_timeout;
  assert_int_equal(nb_client_new(&cfg, &f->c), NB_OK);
  nb_simnet_node_set_user(f->node, f->c);
  nb_client_device_info d = {.manufacturer = "ACME",
                             .battery_level = -1,
                             .memory_free_kb = -1,
                             .memory_total_kb = -1,
                             .bindings = "UQ"};
  assert_int_equal(nb_client_add_device(f->c, &d), NB_OK);
  nb_client_server_params p = {
      .uri = "coap://10.0.0.1:5683", .ssid = 101, .lifetime = 86400, .binding = binding};
  assert_int_equal(nb_client_add_server(f->c, &p), NB_OK);
  nb_object *o = nb_store_object_new(nb_model_object(nb_client_model(f->c), 3303), NULL);
  assert_non_null(o);
  assert_int_equal(nb_store_object_add_instance(o, 0), NB_OK);
  nb_path tp = nb_path_res(3303, 0, 5700);
  nb_value v = nb_value_float(20.0);
  assert_int_equal(nb_store_object_set(o, &tp, &v), NB_OK);
  assert_int_equal(nb_client_add_object(f->c, o, 0), NB_OK);
  assert_int_equal(nb_client_start(f->c, 0), NB_OK);
  nb_simnet_run_until(f->net, 1000);
  assert_int_equal(f->srv.registers, 1);
}

static void fx_teardown(fx *f) {
  nb_ss_free(&f->srv);
  nb_simnet_free(f->net);
}

static void set_temperature(fx *f, double v) {
  nb_path p = nb_path_res(3303, 0, 5700);
  nb_value val = nb_value_float(v);
  assert_int_equal(nb_store_object_set(nb_client_object(f->c, 3303), &p, &val), NB_OK);
  nb_client_value_changed(f->c, &p, nb_simnet_now(f->net));
}

static void test_register_q(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, NULL, "UQ", 0);
  assert_true(f.srv.q); /* 1.1: the Q parameter, and no Q among the binding letters */
  assert_string_equal(f.srv.binding, "U");
  fx_teardown(&f);
  fx_setup(&f, "1.0", "UQ", 0);
  assert_false(f.srv.q); /* 1.0: the binding alone says it */
  assert_string_equal(f.srv.binding, "UQ");
  fx_teardown(&f);
}

static void test_sleep_wake_cycle(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, NULL, "UQ", 0);
  /* The 2.01 reached the client 10 ms after the server got the Register; nothing since. */
  nb_time_ms last = f.srv.register_at[0] + 10;
  nb_simnet_run_until(f.net, last + 93000 - 1);
  assert_true(nb_client_awake(f.c, 101));
  nb_simnet_run_until(f.net, last + 93000);
  assert_false(nb_client_awake(f.c, 101));

  /* Asleep: the server's request never gets an answer (the client gets no datagram). */
  nb_ss_answer a;
  nb_ss_request(&f.srv, NB_COAP_GET, "/3/0/0", -1, -1, NULL, NULL, 0, &a);
  assert_int_not_equal(a.err, NB_OK);
  nb_ss_answer_free(&a);
  assert_false(nb_client_awake(f.c, 101));
  assert_int_equal(f.srv.updates, 0);

  /* The application calls for an Update: awake again, the server's requests are served. */
  nb_time_ms t = nb_simnet_now(f.net) + 1000;
  nb_simnet_run_until(f.net, t);
  assert_int_equal(nb_client_update(f.c, 101, t), NB_OK);
  assert_true(nb_client_awake(f.c, 101));
  nb_simnet_run_until(f.net, t + 100);
  assert_int_equal(f.srv.updates, 1);
  assert_int_equal(f.srv.update_at[0], t + 10);
  nb_ss_request(&f.srv, NB_COAP_GET, "/3/0/0", -1, -1, NULL, NULL, 0, &a);
  assert_int_equal(a.code, NB_COAP_CONTENT);
  assert_string_equal((char *)a.payload, "ACME");
  nb_ss_answer_free(&a);
  /* The answer left the client 10 ms before it arrived; it sleeps 93 s after that. */
  last = nb_simnet_now(f.net) - 10;
  nb_simnet_run_until(f.net, last + 92999);
  assert_true(nb_client_awake(f.c, 101));
  nb_simnet_run_until(f.net, last + 93000);
  assert_false(nb_client_awake(f.c, 101));
  fx_teardown(&f);
}

static void test_notifications_held(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, NULL, "UQ", 20000);
  nb_ct_resp r = {0};
  nb_ss_observe(&f.srv, NB_COAP_GET, "/3303/0/5700", -1, -1, NULL, 0, &r);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 100);
  assert_int_equal(r.calls, 1);
  nb_time_ms answered = r.at[0] - 10;
  /* A configured queue timeout of 20 s */
  nb_simnet_run_until(f.net, answered + 19999);
  assert_true(nb_client_awake(f.c, 101));
  nb_simnet_run_until(f.net, answered + 20000);
  assert_false(nb_client_awake(f.c, 101));

  /* Two changes while asleep: the first wakes the client with an Update, the notification
   * waits for its 2.04 and carries the latest value only. */
  nb_time_ms t = answered + 30000;
  nb_simnet_run_until(f.net, t);
  set_temperature(&f, 21.0);
  assert_true(nb_client_awake(f.c, 101));
  nb_simnet_run_until(f.net, t + 5);
  set_temperature(&f, 22.5);
  nb_simnet_run_until(f.net, t + 19);
  assert_int_equal(f.srv.updates, 1);
  assert_int_equal(f.srv.update_at[0], t + 10);
  assert_int_equal(r.calls, 1); /* nothing before the Update was answered (at t + 20) */
  nb_simnet_run_until(f.net, t + 1000);
  assert_int_equal(r.calls, 2);
  assert_int_equal(r.at[1], t + 20 + 10);
  assert_int_equal(r.payload_len, 4);
  assert_memory_equal(r.payload, "22.5", 4);
  /* Awake, a change goes at once. */
  set_temperature(&f, 23.0);
  nb_simnet_run_until(f.net, t + 1100);
  assert_int_equal(r.calls, 3);
  assert_int_equal(r.at[2], t + 1000 + 10);
  assert_int_equal(f.srv.updates, 1);
  /* and 20 s after that notification the client sleeps again */
  nb_simnet_run_until(f.net, t + 1000 + 19999);
  assert_true(nb_client_awake(f.c, 101));
  nb_simnet_run_until(f.net, t + 1000 + 20000);
  assert_false(nb_client_awake(f.c, 101));
  nb_ct_resp_free(&r);
  fx_teardown(&f);
}

static void test_send_and_lifetime_wake(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, NULL, "UQ", 0);
  nb_simnet_run_until(f.net, 200000);
  assert_false(nb_client_awake(f.c, 101));
  nb_path p = nb_path_res(3303, 0, 5700);
  assert_int_equal(nb_client_send(f.c, 101, &p, 1, 200000), NB_OK);
  nb_simnet_run_until(f.net, 200100);
  assert_int_equal(f.srv.updates, 1);
  assert_int_equal(f.srv.update_at[0], 200010);
  assert_int_equal(f.srv.sends, 1);
  /* Asleep again, the Update due at 90 % of the lifetime wakes it too. */
  nb_simnet_run_until(f.net, 300000);
  assert_false(nb_client_awake(f.c, 101));
  nb_simnet_run_until(f.net, 200020 + 77760000 + 100);
  assert_int_equal(f.srv.updates, 2);
  assert_int_equal(f.srv.update_at[1], 200020 + 77760000 + 10);
  fx_teardown(&f);
}

static void test_plain_binding_never_sleeps(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, NULL, "U", 0);
  nb_simnet_run_until(f.net, 500000);
  assert_true(nb_client_awake(f.c, 101));
  nb_ss_answer a;
  nb_ss_request(&f.srv, NB_COAP_GET, "/3/0/0", -1, -1, NULL, NULL, 0, &a);
  assert_int_equal(a.code, NB_COAP_CONTENT);
  nb_ss_answer_free(&a);
  fx_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_q),
      cmocka_unit_test(test_sleep_wake_cycle),
      cmocka_unit_test(test_notifications_held),
      cmocka_unit_test(test_send_and_lifetime_wake),
      cmocka_unit_test(test_plain_binding_never_sleeps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
