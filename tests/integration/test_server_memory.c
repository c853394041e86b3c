/* What a registration costs the server engine and how its text is kept: the endpoint name,
 * identity and SMS number live in one block of the registration's own (only the text there is
 * takes room), survive Updates, re-registrations and a restart from the store, and a NoSec
 * registration costs a bounded number of heap bytes once the CoAP layer's per-exchange state
 * is gone. */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "coap/msg.h"
#include "server/server.h"
#include "srv_harness.h"
#include "store/sqlite.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NB_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define NB_TEST_ASAN 1
#endif
#ifdef NB_TEST_ASAN
#include <sanitizer/allocator_interface.h>
#endif

/* Heap bytes in use: exactly what was asked for under ASan, glibc's chunks otherwise. */
static size_t heap_used(void) {
#ifdef NB_TEST_ASAN
  return __sanitizer_get_current_allocated_bytes();
#else
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#endif
}

static void test_registration_text(void **state) {
  (void)state;
  nb_store_sqlite *db;
  assert_int_equal(nb_store_sqlite_open(":memory:", &db), NB_OK);
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.store = nb_store_sqlite_iface(db);
  nb_server_sec_info sec = {.kind = NB_SERVER_ID_PSK, .key_len = 4, .key = {1, 2, 3, 4}};
  strcpy(sec.ep, "psk-dev");
  strcpy(sec.identity, "identity-of-psk-dev");
  assert_int_equal(cfg.store.ops->sec_put(cfg.store.self, &sec), NB_OK);
  nb_srv_harness h;
  nb_srv_harness_init(&h, &cfg);
  nb_srv_device plain, psk;
  nb_srv_dev_init(&plain, &h, 1);
  nb_srv_dev_init(&psk, &h, 2);
  h.ident[2] = (nb_server_identity){.kind = NB_SERVER_ID_PSK, .value = "identity-of-psk-dev"};

  assert_int_equal(nb_srv_dev_register(&plain, "plain-dev", "sms=4412345", NULL), NB_COAP_CREATED);
  assert_int_equal(nb_srv_dev_register(&psk, "psk-dev", NULL, NULL), NB_COAP_CREATED);
  const nb_server_reg_info *a = nb_server_find(h.srv, "plain-dev");
  const nb_server_reg_info *b = nb_server_find(h.srv, "psk-dev");
  assert_non_null(a);
  assert_non_null(b);
  assert_string_equal(a->ep, "plain-dev");
  assert_string_equal(a->sms, "4412345");
  assert_int_equal(a->identity.kind, NB_SERVER_ID_NONE);
  assert_string_equal(a->identity.value, "");
  assert_string_equal(b->ep, "psk-dev");
  assert_string_equal(b->sms, "");
  assert_int_equal(b->identity.kind, NB_SERVER_ID_PSK);
  assert_string_equal(b->identity.value, "identity-of-psk-dev");

  /* An Update changes the SMS number and nothing else of the text. */
  char loc[64];
  snprintf(loc, sizeof(loc), "%s", plain.location);
  const char *sms[] = {"sms=4499", NULL};
  assert_int_equal(nb_srv_dev_send(&plain, NB_COAP_POST, loc, sms, NB_COAP_CF_NONE, NULL),
                   NB_COAP_CHANGED);
  a = nb_server_find(h.srv, "plain-dev");
  assert_string_equal(a->ep, "plain-dev");
  assert_string_equal(a->sms, "4499");
  assert_string_equal(a->links, "</1/0>,</3/0>,</3303/0>");
  /* A re-registration without one drops it. */
  assert_int_equal(nb_srv_dev_register(&plain, "plain-dev", NULL, NULL), NB_COAP_CREATED);
  assert_string_equal(nb_server_find(h.srv, "plain-dev")->sms, "");

  /* A restart: the text is copied out of the store's rows. */
  nb_server_free(h.srv);
  assert_int_equal(nb_server_new(&cfg, nb_simnet_send, h.node, &h.srv), NB_OK);
  size_t n = 0;
  assert_int_equal(nb_server_restore(h.srv, nb_simnet_now(h.net), &n), NB_OK);
  assert_int_equal(n, 2);
  b = nb_server_find(h.srv, "psk-dev");
  assert_non_null(b);
  assert_string_equal(b->ep, "psk-dev");
  assert_int_equal(b->identity.kind, NB_SERVER_ID_PSK);
  assert_string_equal(b->identity.value, "identity-of-psk-dev");
  assert_string_equal(nb_server_find(h.srv, "plain-dev")->ep, "plain-dev");
  nb_srv_harness_deinit(&h);
  nb_store_sqlite_close(db);
}

static void discard(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  (void)user, (void)peer, (void)data, (void)len;
}

/* A Register of device i ("dev-000042", three objects), as bench_engine sends it. */
static size_t register_datagram(unsigned i, uint8_t *buf, size_t cap) {
  nb_coap_msg m;
  char q[32];
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, (uint16_t)i);
  nb_coap_msg_set_token(&m, (const uint8_t *)&i, sizeof i);
  nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "rd");
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LINK_FORMAT);
  snprintf(q, sizeof(q), "ep=dev-%06u", i);
  nb_coap_msg_add_string(&m, NB_COAP_OPT_URI_QUERY, q);
  nb_coap_msg_add_string(&m, NB_COAP_OPT_URI_QUERY, "lt=86400");
  nb_coap_msg_add_string(&m, NB_COAP_OPT_URI_QUERY, "lwm2m=1.1");
  nb_coap_msg_add_string(&m, NB_COAP_OPT_URI_QUERY, "b=U");
  nb_coap_msg_set_payload(&m, "</1/0>,</3/0>,</3303/0>", 23);
  size_t n = 0;
  assert_int_equal(nb_coap_serialize(&m, buf, cap, &n), NB_OK);
  return n;
}

/* A million registrations must fit a server's memory: a NoSec one holds its record, its text
 * and object list, its share of three hash maps and two timer slots, nothing else once the
 * Register's exchange is over (about 380 bytes asked for; 800 for the record alone before). */
static void test_memory_per_registration(void **state) {
  (void)state;
  enum { N = 5000 };
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.max_nosec = 0;
  nb_server *s;
  assert_int_equal(nb_server_new(&cfg, discard, NULL, &s), NB_OK);
  nb_log_level level = nb_log_get_level();
  nb_log_set_level(NB_LOG_WARN); /* a line per Register otherwise */
  size_t before = heap_used();
  for (unsigned i = 0; i < N; i++) {
    uint8_t buf[128];
    size_t len = register_datagram(i, buf, sizeof(buf));
    nb_addr peer = {
        .family = NB_ADDR_V4, .port = 5683, .ip = {10, 1, (uint8_t)(i >> 8), (uint8_t)i}};
    nb_server_receive(s, &peer, NULL, buf, len, 1000 + i);
  }
  nb_log_set_level(level);
  assert_int_equal(nb_server_count(s), N);
  /* The Registers' deduplication entries and cached answers end with EXCHANGE_LIFETIME. */
  nb_server_tick(s, 1000 + N + 300000);
  double per = ((double)heap_used() - (double)before) / N;
  print_message("heap per registration: %.0f bytes\n", per);
  assert_true(per < 512);
  nb_server_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registration_text),
      cmocka_unit_test(test_memory_per_registration),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
