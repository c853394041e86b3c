/* Server URIs of the client (nb_client_parse_uri / nb_client_resolve_uri in
 * src/client/engine.c): what fuzz/uri.c found. A URI whose scheme is not coap:// or coaps://
 * went to the resolver all the same (the host taken after the first "://" anywhere in it), so
 * a Security object URI "http://name" made the client talk CoAP to name:5683. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/client_int.h"

static int resolved;

static nb_err resolve(void *user, const char *host, uint16_t port, nb_addr *out) {
  (void)user;
  resolved++;
  if (strcmp(host, "lwm2m.test") != 0) return NB_ERR_NOT_FOUND;
  return nb_addr_parse("192.0.2.7", port, out);
}

static void noop_send(void *user, const nb_addr *peer, const uint8_t *d, size_t len) {
  (void)user, (void)peer, (void)d, (void)len;
}

static void test_only_coap_uris_are_resolved(void **state) {
  (void)state;
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "dev";
  cfg.send = noop_send;
  cfg.resolve = resolve;
  nb_client *c;
  assert_int_equal(nb_client_new(&cfg, &c), NB_OK);
  nb_addr a;
  char host[64];
  const char *refused[] = {"http://lwm2m.test:5683", "[::ffff:1://lwm2m.test]5683",
                           "xcoap://lwm2m.test", "lwm2m.test://lwm2m.test"};
  for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
    resolved = 0;
    assert_int_equal(nb_client_resolve_uri(c, refused[k], &a, host, sizeof host), NB_ERR_SYNTAX);
    assert_int_equal(resolved, 0);
  }
  resolved = 0;
  assert_int_equal(nb_client_resolve_uri(c, "coaps://lwm2m.test", &a, host, sizeof host), NB_OK);
  assert_int_equal(resolved, 1);
  assert_int_equal(a.port, 5684);
  assert_string_equal(host, "lwm2m.test");
  assert_int_equal(nb_client_resolve_uri(c, "coap://lwm2m.test:6000/x", &a, NULL, 0), NB_OK);
  assert_int_equal(a.port, 6000);
  assert_int_equal(nb_client_resolve_uri(c, "coap://192.0.2.9", &a, NULL, 0), NB_OK);
  assert_int_equal(resolved, 2); /* numeric hosts need no resolver */
  nb_client_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_only_coap_uris_are_resolved),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
