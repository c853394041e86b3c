/* The LwM2M client engine over DTLS, in process: the scripted server behind a DTLS server
 * context on the simulated network. PSK, raw public keys pinned by key or secure ID, X.509
 * with a pinned server certificate or a trust anchor and a host name; a lossy link through the
 * whole cycle; wrong keys that must fail registration (promptly, through the DTLS failure);
 * a session the server closed being made anew; and plaintext from the server's address never
 * reaching the CoAP layer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_node.h"
#include "dtls/keys.h"
#include "lwm2m_scripted_server.h"
#include "niobium/client.h"
#include "simnet.h"
#include "test_pki.h"

static nb_test_pki K;

static int make_keys(void **state) {
  (void)state;
  const char *server_names[] = {"lwm2m.test"};
  size_t n = sizeof server_names / sizeof *server_names;
  return nb_test_pki_make(&K, "dev-1", server_names, n) == NB_OK ? 0 : -1;
}

static int free_keys(void **state) {
  (void)state;
  nb_test_pki_free(&K);
  return 0;
}

static const uint8_t PSK[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* ---- the server's side: PSK store and device key check ---- */

static nb_err psk_lookup(void *user, const uint8_t *id, size_t id_len, uint8_t *key, size_t cap,
                         size_t *key_len) {
  (void)user;
  if (id_len != 5 || memcmp(id, "dev-1", 5) != 0 || cap < sizeof PSK) return NB_ERR_NOT_FOUND;
  memcpy(key, PSK, sizeof PSK);
  *key_len = sizeof PSK;
  return NB_OK;
}

static nb_err dev_verify(void *user, const nb_dtls_peer *peer, const uint8_t *raw, size_t len) {
  (void)user, (void)raw, (void)len;
  return strcmp(peer->secure_id, K.dev_key.secure_id) == 0 ||
                 strcmp(peer->secure_id, K.dev_cert.key.secure_id) == 0
             ? NB_OK
             : NB_ERR_DTLS_PEER_REJECTED;
}

typedef enum { M_PSK, M_RPK, M_X509, M_X509_OTHER } srv_mode;

static nb_dtls_creds *server_creds(srv_mode m) {
  nb_dtls_creds *c;
  assert_int_equal(nb_dtls_creds_new(&c), NB_OK);
  nb_dtls_creds_set_psk_lookup(c, psk_lookup, NULL);
  nb_dtls_creds_set_verify(c, dev_verify, NULL);
  if (m == M_RPK)
    assert_int_equal(nb_dtls_creds_set_rpk(c, K.srv_key.key_pem.data, K.srv_key.key_pem.len),
                     NB_OK);
  if (m == M_X509 || m == M_X509_OTHER) {
    const nb_dtls_certkey *ck = m == M_X509 ? &K.srv_cert : &K.other_srv_cert;
    assert_int_equal(nb_dtls_creds_set_x509(c, ck->cert_pem.data, ck->cert_pem.len,
                                            ck->key.key_pem.data, ck->key.key_pem.len),
                     NB_OK);
    assert_int_equal(nb_dtls_creds_add_trust(c, K.ca.cert_pem.data, K.ca.cert_pem.len), NB_OK);
  }
  return c;
}

/* ---- fixture ---- */

typedef struct {
  nb_simnet *net;
  nb_dtls_creds *screds;
  nb_ss srv;
  nb_client *c;
  nb_simnet_node *node;
  int ev[8];
  nb_err last_err;
  nb_time_ms fail_at;
} fx;

static void on_event(void *user, nb_client_event ev, uint16_t ssid, nb_err err, nb_time_ms now) {
  fx *f = user;
  (void)ssid;
  f->ev[ev]++;
  if (ev == NB_CLIENT_EV_REG_FAILED) {
    f->last_err = err;
    if (!f->fail_at) f->fail_at = now;
  }
}

/* "lwm2m.test" is the server at 10.0.0.1 (what getaddrinfo does in the shell). */
static nb_err resolve(void *user, const char *host, uint16_t port, nb_addr *out) {
  (void)user;
  if (strcmp(host, "lwm2m.test") != 0) return NB_ERR_NOT_FOUND;
  *out = nb_simnet_addr(1, port);
  return NB_OK;
}

static void fx_setup(fx *f, srv_mode m, const nb_client_server_params *p) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(7);
  f->screds = server_creds(m);
  nb_addr sa = nb_simnet_addr(1, 5684), ca = nb_simnet_addr(9, 56830);
  nb_ss_init_dtls(&f->srv, f->net, &sa, f->screds);
  f->node = nb_simnet_add(f->net, &ca, &nb_test_client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "dev-1";
  cfg.send = nb_simnet_send;
  cfg.send_user = f->node;
  cfg.on_event = on_event;
  cfg.event_user = f;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  cfg.resolve = resolve;
  assert_int_equal(nb_client_new(&cfg, &f->c), NB_OK);
  nb_simnet_node_set_user(f->node, f->c);
  nb_client_device_info d = {
      .manufacturer = "ACME", .battery_level = -1, .memory_free_kb = -1, .memory_total_kb = -1};
  assert_int_equal(nb_client_add_device(f->c, &d), NB_OK);
  assert_int_equal(nb_client_add_server(f->c, p), NB_OK);
}

static void fx_teardown(fx *f) {
  nb_ss_free(&f->srv);
  nb_simnet_free(f->net);
  nb_dtls_creds_free(f->screds);
}

static bool registered(void *u) {
  fx *f = u;
  nb_client_srv_state st;
  nb_client_server_state(f->c, 101, &st, NULL, 0);
  return st == NB_CLIENT_SRV_REGISTERED;
}

static bool failed_once(void *u) { return ((fx *)u)->ev[NB_CLIENT_EV_REG_FAILED] > 0; }

static void start_and_register(fx *f, nb_time_ms budget) {
  assert_int_equal(nb_client_start(f->c, nb_simnet_now(f->net)), NB_OK);
  assert_true(nb_simnet_run_until_cond(f->net, budget, registered, f));
  assert_int_equal(f->srv.registers, 1);
  assert_string_equal(f->srv.ep_name, "dev-1");
  assert_int_equal(f->srv.dtls_established, 1);
}

/* Read /3/0/0 through the session, then De-register. */
static void manage_and_leave(fx *f) {
  nb_ss_answer a;
  nb_ss_request(&f->srv, NB_COAP_GET, "/3/0/0", NB_COAP_CF_NONE, NB_COAP_CF_TEXT, NULL, NULL, 0,
                &a);
  assert_int_equal(a.err, NB_OK);
  assert_int_equal(a.code, NB_COAP_CONTENT);
  assert_string_equal((char *)a.payload, "ACME");
  nb_ss_answer_free(&a);
  assert_int_equal(nb_client_deregister(f->c, nb_simnet_now(f->net)), NB_OK);
  nb_simnet_run_until(f->net, nb_simnet_now(f->net) + 120000);
  assert_true(nb_client_done(f->c));
  assert_int_equal(f->srv.deregisters, 1);
  assert_int_equal(f->ev[NB_CLIENT_EV_DEREGISTERED], 1);
  /* close_notify reaches the server: its session is gone. */
  nb_client_close(f->c, nb_simnet_now(f->net));
  nb_simnet_run_until(f->net, nb_simnet_now(f->net) + 1000);
  assert_null(nb_dtls_server_find(f->srv.dtls, &f->srv.client));
}

static nb_client_server_params psk_params(void) {
  nb_client_server_params p = {.uri = "coaps://10.0.0.1:5684",
                               .ssid = 101,
                               .lifetime = 300,
                               .security_mode = 0,
                               .identity = (const uint8_t *)"dev-1",
                               .identity_len = 5,
                               .secret = PSK,
                               .secret_len = sizeof PSK};
  return p;
}

static nb_client_server_params rpk_params(const uint8_t *srv_key, size_t len) {
  nb_client_server_params p = {.uri = "coaps://10.0.0.1:5684",
                               .ssid = 101,
                               .lifetime = 300,
                               .security_mode = 1,
                               .identity = K.dev_key.spki_der.data,
                               .identity_len = K.dev_key.spki_der.len,
                               .secret = K.dev_key.key_der.data,
                               .secret_len = K.dev_key.key_der.len,
                               .server_key = srv_key,
                               .server_key_len = len};
  return p;
}

static nb_client_server_params x509_params(const nb_bytes *server_key, bool anchor) {
  nb_client_server_params p = {.uri = "coaps://10.0.0.1:5684",
                               .ssid = 101,
                               .lifetime = 300,
                               .security_mode = 2,
                               .identity = K.dev_cert.cert_der.data,
                               .identity_len = K.dev_cert.cert_der.len,
                               .secret = K.dev_cert.key.key_der.data,
                               .secret_len = K.dev_cert.key.key_der.len,
                               .server_key = server_key->data,
                               .server_key_len = server_key->len,
                               .trust_anchor = anchor};
  return p;
}

/* ---- tests ---- */

static void test_psk_cycle(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = psk_params();
  fx_setup(&f, M_PSK, &p);
  start_and_register(&f, 10000);
  assert_int_equal(f.srv.peer.mode, NB_DTLS_MODE_PSK);
  assert_string_equal(f.srv.peer.identity, "dev-1");
  /* Updates ride the same session: no second handshake. */
  assert_int_equal(nb_client_update(f.c, 0, nb_simnet_now(f.net)), NB_OK);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 5000);
  assert_int_equal(f.srv.updates, 1);
  assert_int_equal(f.srv.dtls_established, 1);
  manage_and_leave(&f);
  fx_teardown(&f);
}

static void test_rpk_pinned_key(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = rpk_params(K.srv_key.spki_pem.data, K.srv_key.spki_pem.len);
  fx_setup(&f, M_RPK, &p);
  start_and_register(&f, 10000);
  assert_int_equal(f.srv.peer.mode, NB_DTLS_MODE_RPK);
  assert_string_equal(f.srv.peer.secure_id, K.dev_key.secure_id);
  manage_and_leave(&f);
  fx_teardown(&f);
}

static void test_rpk_pinned_secure_id(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p =
      rpk_params((const uint8_t *)K.srv_key.secure_id, strlen(K.srv_key.secure_id));
  fx_setup(&f, M_RPK, &p);
  start_and_register(&f, 10000);
  fx_teardown(&f);
}

/* The server shows a key that is not the pinned one: no registration, and the failure comes
 * from the handshake (seconds), not from CoAP giving up (93 s). */
static void test_rpk_wrong_server_key_fails(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = rpk_params(K.other_key.spki_der.data, K.other_key.spki_der.len);
  fx_setup(&f, M_RPK, &p);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 20000, failed_once, &f));
  assert_true(f.fail_at < 20000);
  assert_int_equal(f.last_err, NB_ERR_DTLS_PEER_REJECTED);
  assert_int_equal(f.srv.registers, 0);
  nb_client_srv_state st;
  assert_int_equal(nb_client_server_state(f.c, 101, &st, NULL, 0), NB_OK);
  assert_int_equal(st, NB_CLIENT_SRV_WAIT_RETRY);
  /* The retry sequence goes on (new sessions) and never registers. */
  nb_simnet_run_until(f.net, 600000);
  assert_int_equal(f.srv.registers, 0);
  assert_true(f.ev[NB_CLIENT_EV_REG_FAILED] >= 3);
  fx_teardown(&f);
}

static void test_psk_wrong_key_fails(void **state) {
  (void)state;
  fx f;
  static const uint8_t bad[16] = {9};
  nb_client_server_params p = psk_params();
  p.secret = bad;
  fx_setup(&f, M_PSK, &p);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 20000, failed_once, &f));
  assert_int_equal(f.srv.registers, 0);
  assert_int_equal(f.srv.dtls_established, 0);
  fx_teardown(&f);
}

static void test_x509_pinned_cert(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = x509_params(&K.srv_cert.cert_pem, false);
  fx_setup(&f, M_X509, &p);
  start_and_register(&f, 10000);
  assert_int_equal(f.srv.peer.mode, NB_DTLS_MODE_X509);
  assert_string_equal(f.srv.peer.common_name, "dev-1");
  manage_and_leave(&f);
  fx_teardown(&f);
}

static void test_x509_trust_anchor_with_name(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = x509_params(&K.ca.cert_der, true);
  p.uri = "coaps://lwm2m.test:5684";
  fx_setup(&f, M_X509, &p);
  start_and_register(&f, 10000);
  fx_teardown(&f);
}

/* A certificate from another CA (same name) is refused under the trust anchor. */
static void test_x509_untrusted_server_fails(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = x509_params(&K.ca.cert_der, true);
  p.uri = "coaps://lwm2m.test:5684";
  fx_setup(&f, M_X509_OTHER, &p);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 20000, failed_once, &f));
  assert_int_equal(f.last_err, NB_ERR_DTLS_UNTRUSTED);
  assert_int_equal(f.srv.registers, 0);
  fx_teardown(&f);
}

/* A secure account without the keys its mode needs is never contacted in the clear. */
static void test_missing_keys_never_plaintext(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = rpk_params(NULL, 0);
  fx_setup(&f, M_RPK, &p);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 1000, failed_once, &f));
  assert_int_equal(f.last_err, NB_ERR_DTLS_CREDENTIALS);
  nb_simnet_stats st;
  nb_simnet_get_stats(f.net, &st);
  assert_int_equal(st.sent, 0);
  fx_teardown(&f);
}

static void test_lossy_link_cycle(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = psk_params();
  fx_setup(&f, M_PSK, &p);
  nb_simnet_link l = {.drop = 0.25,
                      .duplicate = 0.05,
                      .delay_min = 5,
                      .delay_max = 80,
                      .reorder = 0.1,
                      .reorder_delay = 100};
  nb_simnet_set_link(f.net, &l);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 300000, registered, &f));
  assert_int_equal(f.srv.registers, 1);
  /* Several Updates over lifetimes, every one answered. */
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 12 * 300000);
  assert_true(f.srv.updates >= 12);
  assert_true(registered(&f));
  nb_simnet_stats st;
  nb_simnet_get_stats(f.net, &st);
  assert_true(st.dropped >= 5);
  manage_and_leave(&f);
  fx_teardown(&f);
}

/* The server forgets the session (close_notify): the next Update makes a new one. */
static void test_session_made_anew_after_close(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = psk_params();
  fx_setup(&f, M_PSK, &p);
  start_and_register(&f, 10000);
  nb_dtls_server_close(f.srv.dtls, &f.srv.client, nb_simnet_now(f.net));
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 1000);
  assert_int_equal(nb_client_update(f.c, 0, nb_simnet_now(f.net)), NB_OK);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 10000);
  assert_int_equal(f.srv.updates, 1);
  assert_int_equal(f.srv.dtls_established, 2);
  assert_true(registered(&f));
  fx_teardown(&f);
}

/* A plaintext CoAP request from the secure server's address is not served. */
static void test_plaintext_from_secure_server_dropped(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = psk_params();
  fx_setup(&f, M_PSK, &p);
  start_and_register(&f, 10000);
  const uint8_t get[] = {0x40, 0x01, 0x12, 0x34, 0xb1, '3'}; /* CON GET /3 */
  nb_addr ca = nb_simnet_addr(9, 56830);
  nb_simnet_stats before, after;
  nb_simnet_get_stats(f.net, &before);
  assert_int_equal(
      nb_simnet_inject(f.net, &f.srv.addr, &ca, get, sizeof get, nb_simnet_now(f.net) + 1), NB_OK);
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 2000);
  nb_simnet_get_stats(f.net, &after);
  assert_int_equal(after.sent, before.sent); /* no answer of any kind */
  fx_teardown(&f);
}

/* A bootstrap-server account over PSK: the Bootstrap-Request goes through a DTLS session. */
static bool bs_requested(void *u) { return ((fx *)u)->srv.bs_requests > 0; }

static void test_bootstrap_request_over_psk(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = psk_params();
  p.bootstrap = true;
  fx_setup(&f, M_PSK, &p);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 10000, bs_requested, &f));
  assert_int_equal(f.srv.dtls_established, 1);
  assert_string_equal(f.srv.peer.identity, "dev-1");
  assert_string_equal(f.srv.ep_name, "dev-1");
  assert_true(nb_client_bootstrapping(f.c));
  fx_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_psk_cycle),
      cmocka_unit_test(test_rpk_pinned_key),
      cmocka_unit_test(test_rpk_pinned_secure_id),
      cmocka_unit_test(test_rpk_wrong_server_key_fails),
      cmocka_unit_test(test_psk_wrong_key_fails),
      cmocka_unit_test(test_x509_pinned_cert),
      cmocka_unit_test(test_x509_trust_anchor_with_name),
      cmocka_unit_test(test_x509_untrusted_server_fails),
      cmocka_unit_test(test_missing_keys_never_plaintext),
      cmocka_unit_test(test_lossy_link_cycle),
      cmocka_unit_test(test_session_made_anew_after_close),
      cmocka_unit_test(test_plaintext_from_secure_server_dropped),
      cmocka_unit_test(test_bootstrap_request_over_psk),
  };
  return cmocka_run_group_tests(tests, make_keys, free_keys);
}
