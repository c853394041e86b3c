/* Issue 13 item 9, in process: a device answers its servers only. The client engine registered
 * with a scripted server (NoSec, then DTLS with a PSK) and bootstrapping from a scripted
 * bootstrap server gets requests from peers that are none of its servers (another host, the
 * server's host on another port, an IPv6 host): a Write of /3/0/14 (UTC Offset), an Execute of
 * /3/0/4 (Reboot), a Read, a ping, Bootstrap-Delete and Bootstrap-Finish. Nothing is applied,
 * nothing at all is answered (no error, no reset: nothing to reflect), each datagram is
 * counted; the real server is still obeyed afterwards. On the code before the fix the NoSec
 * client applied the Write and the Execute, and the others were answered 4.01. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_node.h"
#include "coaptest.h"
#include "lwm2m_scripted_server.h"
#include "niobium/client.h"
#include "simnet.h"

static const uint8_t PSK[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

typedef struct {
  nb_simnet *net;
  nb_ss srv;
  nb_dtls_creds *screds; /* DTLS runs */
  nb_client *c;
  nb_simnet_node *node;
  nb_addr caddr;
  /* the strangers: another host, the server's host on another port, an IPv6 host */
  nb_simnet_recorder *rec[3];
  nb_simnet_node *stranger[3];
  int reboots;
} fx;

static void on_event(void *user, nb_client_event ev, uint16_t ssid, nb_err err, nb_time_ms now) {
  fx *f = user;
  (void)ssid, (void)err, (void)now;
  if (ev == NB_CLIENT_EV_REBOOT) f->reboots++;
}

static nb_err psk_lookup(void *user, const uint8_t *id, size_t id_len, uint8_t *key, size_t cap,
                         size_t *key_len) {
  (void)user;
  if (id_len != 5 || memcmp(id, "dev-1", 5) != 0 || cap < sizeof PSK) return NB_ERR_NOT_FOUND;
  memcpy(key, PSK, sizeof PSK);
  *key_len = sizeof PSK;
  return NB_OK;
}

/* The server (or bootstrap server) at 10.0.0.1:port, the device at 10.0.0.9, the strangers. */
static void fx_setup(fx *f, const nb_client_server_params *p, uint16_t port, bool dtls) {
  memset(f, 0, sizeof *f);
  f->net = nb_simnet_new(13);
  nb_addr sa = nb_simnet_addr(1, port);
  f->caddr = nb_simnet_addr(9, 56830);
  if (dtls) {
    assert_int_equal(nb_dtls_creds_new(&f->screds), NB_OK);
    nb_dtls_creds_set_psk_lookup(f->screds, psk_lookup, NULL);
    nb_ss_init_dtls(&f->srv, f->net, &sa, f->screds);
  } else {
    nb_ss_init(&f->srv, f->net, &sa);
  }
  nb_addr strangers[3] = {nb_simnet_addr(66, port), nb_simnet_addr(1, 6000)};
  assert_int_equal(nb_addr_parse("[fd00::66]", port, &strangers[2]), NB_OK);
  for (size_t i = 0; i < 3; i++) {
    f->stranger[i] = nb_simnet_add_recorder(f->net, &strangers[i], &f->rec[i]);
    assert_non_null(f->stranger[i]);
  }
  f->node = nb_simnet_add(f->net, &f->caddr, &nb_test_client_ops, NULL);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "dev-1";
  cfg.send = nb_simnet_send;
  cfg.send_user = f->node;
  cfg.on_event = on_event;
  cfg.event_user = f;
  cfg.random = nb_simnet_rng_fill;
  cfg.random_user = nb_simnet_rng_of(f->net);
  assert_int_equal(nb_client_new(&cfg, &f->c), NB_OK);
  nb_simnet_node_set_user(f->node, f->c);
  nb_client_device_info d = {.manufacturer = "ACME",
                             .battery_level = -1,
                             .memory_free_kb = -1,
                             .memory_total_kb = -1,
                             .utc_offset = "+01:00"};
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
  return nb_client_server_state(f->c, 101, &st, NULL, 0) == NB_OK && st == NB_CLIENT_SRV_REGISTERED;
}

static const char *utc_offset(fx *f) {
  nb_path p = nb_path_res(3, 0, 14);
  const nb_value *v = nb_store_object_get(nb_client_object(f->c, 3), &p);
  assert_non_null(v);
  assert_int_equal(v->type, NB_VT_STRING);
  return (const char *)v->v.bytes.data;
}

/* One CON request from stranger i with message ID mid. */
static void from_stranger(fx *f, size_t i, uint8_t method, const char *path, const char *body,
                          int cf, uint16_t mid) {
  nb_coap_msg m;
  nb_ct_request(&m, method, path, body, body ? strlen(body) : 0);
  m.mid = mid;
  if (cf != NB_COAP_CF_NONE) nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
  uint8_t buf[256];
  size_t n = nb_ct_serialize(&m, buf, sizeof buf);
  assert_int_equal(nb_simnet_inject(f->net, nb_simnet_node_addr(f->stranger[i]), &f->caddr, buf, n,
                                    nb_simnet_now(f->net) + 10),
                   NB_OK);
}

/* A CoAP ping (empty CON), which a listening endpoint answers with a reset. */
static void ping_from_stranger(fx *f, size_t i, uint16_t mid) {
  uint8_t ping[4] = {0x40, 0x00, (uint8_t)(mid >> 8), (uint8_t)mid};
  assert_int_equal(nb_simnet_inject(f->net, nb_simnet_node_addr(f->stranger[i]), &f->caddr, ping,
                                    sizeof ping, nb_simnet_now(f->net) + 10),
                   NB_OK);
}

/* Every stranger writes the UTC Offset, executes Reboot, reads the manufacturer and pings. */
static uint64_t attack_device(fx *f) {
  uint64_t before = nb_client_foreign_dropped(f->c);
  for (size_t i = 0; i < 3; i++) {
    uint16_t mid = (uint16_t)(0x100 * (i + 1));
    from_stranger(f, i, NB_COAP_PUT, "/3/0/14", "+13:00", NB_COAP_CF_TEXT, mid);
    from_stranger(f, i, NB_COAP_POST, "/3/0/4", NULL, NB_COAP_CF_NONE, (uint16_t)(mid + 1));
    from_stranger(f, i, NB_COAP_GET, "/3/0/0", NULL, NB_COAP_CF_NONE, (uint16_t)(mid + 2));
    ping_from_stranger(f, i, (uint16_t)(mid + 3));
  }
  nb_simnet_run_until(f->net, nb_simnet_now(f->net) + 10000);
  return nb_client_foreign_dropped(f->c) - before;
}

static void assert_unanswered(fx *f) {
  for (size_t i = 0; i < 3; i++)
    if (nb_simnet_recorder_count(f->rec[i]) != 0)
      fail_msg("stranger %zu got %zu answers", i, nb_simnet_recorder_count(f->rec[i]));
}

/* The server still manages the device: its Write is applied. */
static void server_still_obeyed(fx *f) {
  nb_ss_answer a;
  nb_ss_request(&f->srv, NB_COAP_PUT, "/3/0/14", NB_COAP_CF_TEXT, NB_COAP_CF_NONE, NULL, "+02:00",
                6, &a);
  assert_int_equal(a.code, NB_COAP_CHANGED);
  nb_ss_answer_free(&a);
  assert_string_equal(utc_offset(f), "+02:00");
}

static void test_nosec_device_ignores_strangers(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = {.uri = "coap://10.0.0.1:5683", .ssid = 101, .lifetime = 300};
  fx_setup(&f, &p, 5683, false);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 10000, registered, &f));
  assert_int_equal(attack_device(&f), 12);
  assert_unanswered(&f);
  assert_string_equal(utc_offset(&f), "+01:00");
  assert_int_equal(f.reboots, 0);
  assert_true(registered(&f));
  server_still_obeyed(&f);
  assert_unanswered(&f);
  fx_teardown(&f);
}

/* A secure device: a plaintext request from another address never reached the session, but
 * was answered 4.01 in clear; a DTLS record from a stranger must not be answered either. */
static void test_dtls_device_ignores_strangers(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = {.uri = "coaps://10.0.0.1:5684",
                               .ssid = 101,
                               .lifetime = 300,
                               .security_mode = 0,
                               .identity = (const uint8_t *)"dev-1",
                               .identity_len = 5,
                               .secret = PSK,
                               .secret_len = sizeof PSK};
  fx_setup(&f, &p, 5684, true);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  assert_true(nb_simnet_run_until_cond(f.net, 30000, registered, &f));
  /* A ClientHello-shaped record (content type 22, DTLS 1.2, epoch 0). */
  static const uint8_t hello[] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 4, 1, 0, 0, 0};
  assert_int_equal(nb_simnet_inject(f.net, nb_simnet_node_addr(f.stranger[0]), &f.caddr, hello,
                                    sizeof hello, nb_simnet_now(f.net) + 10),
                   NB_OK);
  assert_int_equal(attack_device(&f), 13);
  assert_unanswered(&f);
  assert_string_equal(utc_offset(&f), "+01:00");
  assert_int_equal(f.reboots, 0);
  server_still_obeyed(&f);
  assert_unanswered(&f);
  fx_teardown(&f);
}

/* During a bootstrap the bootstrap server is obeyed, a stranger is not: its Bootstrap-Delete
 * and its Bootstrap-Finish are dropped and the bootstrap goes on. */
static void test_bootstrap_ignores_strangers(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = {.uri = "coap://10.0.0.1:5783", .bootstrap = true};
  fx_setup(&f, &p, 5783, false);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  nb_simnet_run_until(f.net, 2000);
  assert_int_equal(f.srv.bs_requests, 1);
  assert_true(nb_client_bootstrapping(f.c));
  uint64_t before = nb_client_foreign_dropped(f.c);
  for (size_t i = 0; i < 3; i++) {
    from_stranger(&f, i, NB_COAP_DELETE, "/", NULL, NB_COAP_CF_NONE, (uint16_t)(0x300 + i));
    from_stranger(&f, i, NB_COAP_POST, "/bs", NULL, NB_COAP_CF_NONE, (uint16_t)(0x310 + i));
  }
  nb_simnet_run_until(f.net, nb_simnet_now(f.net) + 10000);
  assert_int_equal(nb_client_foreign_dropped(f.c) - before, 6);
  assert_unanswered(&f);
  assert_true(nb_client_bootstrapping(f.c));
  uint16_t ids[4];
  nb_object *sec = nb_client_object(f.c, 0);
  assert_int_equal(sec->ops->instances(sec, ids, 4), 1); /* the bootstrap account is still there */
  /* The bootstrap server itself is obeyed. */
  nb_ss_answer a;
  nb_ss_request(&f.srv, NB_COAP_DELETE, "/1", NB_COAP_CF_NONE, NB_COAP_CF_NONE, NULL, NULL, 0, &a);
  assert_int_equal(a.code, NB_COAP_DELETED);
  nb_ss_answer_free(&a);
  fx_teardown(&f);
}

/* ---- issue 13 item 11c, the device's side ---- */

static int g_to_bs; /* datagrams from the device to the bootstrap server */

static bool count_to_bs(void *u, const nb_addr *from, const nb_addr *to, const uint8_t *d, size_t n,
                        nb_time_ms now) {
  fx *f = u;
  (void)d, (void)n, (void)now;
  if (nb_addr_equal(from, &f->caddr) && nb_addr_equal(to, &f->srv.addr)) g_to_bs++;
  return true;
}

/* Bootstrap-Finish as the bootstrap server sends it, with a fixed Message ID: sent again, it is
 * the retransmission of a Finish whose answer was lost. */
static size_t finish_msg(uint8_t *buf, size_t cap) {
  nb_coap_msg m;
  nb_ct_request(&m, NB_COAP_POST, "/bs", NULL, 0);
  m.mid = 0x4242;
  m.token_len = 2;
  m.token[0] = 0xf1;
  m.token[1] = 0x17;
  return nb_ct_serialize(&m, buf, cap);
}

/* Over DTLS the device keeps its bootstrap server's session until EXCHANGE_LIFETIME (247 s)
 * after Finish, so a Finish the server repeats late (its answers lost; a repeat may arrive up to
 * then) is answered again from the duplicate cache; then it lets the session go. Before the
 * fix it closed the session after MAX_TRANSMIT_SPAN (45 s): a repeat at 100 s went unanswered
 * and the server, seeing no answer, failed a bootstrap that had worked. */
static void test_late_finish_repeat_answered(void **state) {
  (void)state;
  fx f;
  nb_client_server_params p = {.uri = "coaps://10.0.0.1:5784",
                               .bootstrap = true,
                               .security_mode = 0,
                               .identity = (const uint8_t *)"dev-1",
                               .identity_len = 5,
                               .secret = PSK,
                               .secret_len = sizeof PSK};
  fx_setup(&f, &p, 5784, true);
  nb_ss dm;
  nb_addr da = nb_simnet_addr(2, 5683);
  nb_ss_init(&dm, f.net, &da);
  nb_simnet_set_tap(f.net, count_to_bs, &f);
  assert_int_equal(nb_client_start(f.c, 0), NB_OK);
  nb_simnet_run_until(f.net, 5000);
  assert_int_equal(f.srv.bs_requests, 1);
  static const char *ops[][3] = {
      {"/0/1",
       "[{\"bn\":\"/0/1/\",\"n\":\"0\",\"vs\":\"coap://10.0.0.2:5683\"},"
       "{\"n\":\"1\",\"vb\":false},{\"n\":\"2\",\"v\":3},{\"n\":\"10\",\"v\":101}]"},
      {"/1/0",
       "[{\"bn\":\"/1/0/\",\"n\":\"0\",\"v\":101},{\"n\":\"1\",\"v\":300},"
       "{\"n\":\"6\",\"vb\":false},{\"n\":\"7\",\"vs\":\"U\"}]"}};
  for (size_t i = 0; i < 2; i++) {
    nb_ss_answer a;
    nb_ss_request(&f.srv, NB_COAP_PUT, ops[i][0], NB_COAP_CF_SENML_JSON, NB_COAP_CF_NONE, NULL,
                  ops[i][1], strlen(ops[i][1]), &a);
    assert_int_equal(a.code, NB_COAP_CHANGED);
    nb_ss_answer_free(&a);
  }
  uint8_t fin[64];
  size_t n = finish_msg(fin, sizeof fin);
  assert_int_equal(nb_dtls_server_send(f.srv.dtls, &f.caddr, fin, n), NB_OK);
  nb_time_ms t0 = nb_simnet_now(f.net);
  nb_simnet_run_until(f.net, t0 + 3000);
  assert_false(nb_client_bootstrapping(f.c));
  assert_int_equal(dm.registers, 1);
  /* The server repeats the Finish 100 s on: answered again, over the same session. */
  nb_simnet_run_until(f.net, t0 + 100000);
  int before = g_to_bs;
  assert_int_equal(nb_dtls_server_send(f.srv.dtls, &f.caddr, fin, n), NB_OK);
  nb_simnet_run_until(f.net, t0 + 102000);
  assert_true(g_to_bs > before);
  assert_int_equal(dm.registers, 1); /* a duplicate: nothing done twice */
  /* Past EXCHANGE_LIFETIME the session goes (close_notify). */
  nb_simnet_run_until(f.net, t0 + 260000);
  nb_dtls_session *s = nb_dtls_server_find(f.srv.dtls, &f.caddr);
  assert_true(!s || nb_dtls_session_state(s) != NB_DTLS_ESTABLISHED);
  nb_ss_free(&dm);
  fx_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nosec_device_ignores_strangers),
      cmocka_unit_test(test_dtls_device_ignores_strangers),
      cmocka_unit_test(test_bootstrap_ignores_strangers),
      cmocka_unit_test(test_late_finish_repeat_answered),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
