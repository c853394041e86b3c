/* Wireshark's view of our DTLS: a live capture on lo (tshark 4.0) of two PSK sessions between
 * `niobium coap` and `niobium coap serve --coaps` (one per mandatory PSK suite, forced with
 * --ciphers). The ServerHello must choose a mandatory LwM2M suite, and with the PSK given to
 * tshark (`-o dtls.psk:HEX`) the records must decrypt to the very CoAP requests and responses
 * that were sent (codes and Uri-Path); without the key nothing decodes as CoAP. Skips when
 * tshark is missing or may not capture here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "nb_capture.h"
#include "nb_test.h"

#define RUN_MS 30000
#define PSK_HEX "00112233445566778899aabbccddeeff" /* tshark takes at most 16 bytes */

static nb_test_proc server;
static nb_capture cap;

static int cleanup(void **state) {
  (void)state;
  nb_test_proc_cleanup(&server);
  nb_capture_cleanup(&cap);
  return 0;
}

/* tshark over the capture with DTLS decoded on `port` (and CoAP inside it); stdout (heap). */
static char *query(uint16_t port, bool with_key, const char *filter, const char *const *fields) {
  char dtls[64], coap[64], key[64];
  snprintf(dtls, sizeof dtls, "udp.port==%u,dtls", port);
  snprintf(coap, sizeof coap, "dtls.port==%u,coap", port);
  snprintf(key, sizeof key, "dtls.psk:%s", PSK_HEX);
  char *argv[32] = {"tshark", "-r", cap.path,       "-d", dtls,    "-d",
                    coap,     "-Y", (char *)filter, "-T", "fields"};
  size_t n = 11;
  if (with_key) {
    argv[n++] = "-o";
    argv[n++] = key;
  }
  for (size_t i = 0; fields[i]; i++) {
    argv[n++] = "-e";
    argv[n++] = (char *)fields[i];
  }
  argv[n] = NULL;
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, RUN_MS, &out), 0);
  return out;
}

static void test_psk_session_decrypts(void **state) {
  (void)state;
  const char *nb = nb_test_env("NB_BINARY");
  if (!nb) fail_msg("NB_BINARY is not set");
  uint16_t port = nb_test_free_port(SOCK_DGRAM);
  char bpf[64], why[300], listen[32], base[64];
  snprintf(bpf, sizeof bpf, "udp port %u", port);
  if (!nb_capture_start(&cap, bpf, why, sizeof why)) {
    fprintf(stderr, "skipped: %s\n", why);
    skip();
  }
  snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
  char *srv[] = {(char *)nb,       "coap", "serve",     "--coaps", listen,
                 "--psk-identity", "dev1", "--psk-key", PSK_HEX,   NULL};
  assert_true(nb_test_proc_start(&server, srv));
  assert_true(nb_test_proc_wait_output(&server, false, "listening on coaps://", 10000));

  snprintf(base, sizeof base, "coaps://127.0.0.1:%u/store", port);
  char *put[] = {(char *)nb,
                 "coap",
                 "put",
                 "--psk-identity",
                 "dev1",
                 "--psk-key",
                 PSK_HEX,
                 "--ciphers",
                 "TLS_PSK_WITH_AES_128_CCM_8",
                 "--content-format",
                 "text",
                 "--payload",
                 "sealed-in-dtls",
                 base,
                 NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(put, RUN_MS, &out), 0);
  free(out);
  snprintf(base, sizeof base, "coaps://127.0.0.1:%u/test", port);
  char *get[] = {(char *)nb,
                 "coap",
                 "get",
                 "--psk-identity",
                 "dev1",
                 "--psk-key",
                 PSK_HEX,
                 "--ciphers",
                 "TLS_PSK_WITH_AES_128_CBC_SHA256",
                 base,
                 NULL};
  assert_int_equal(nb_test_run(get, RUN_MS, &out), 0);
  assert_string_equal(out, "Hello from Niobium\n");
  free(out);
  nb_test_proc_cleanup(&server);
  nb_capture_stop(&cap);

  /* The suites the server chose, one ServerHello per session, both mandatory PSK suites. */
  const char *suite[] = {"dtls.handshake.ciphersuite", NULL};
  out = query(port, false, "dtls.handshake.type==2", suite);
  assert_string_equal(out, "0xc0a8\n0x00ae\n"); /* CCM_8, then CBC_SHA256 */
  free(out);

  /* Ciphertext only without the key. */
  const char *fields[] = {"coap.type", "coap.code", "coap.opt.uri_path", NULL};
  out = query(port, false, "coap", fields);
  assert_string_equal(out, "");
  free(out);

  /* With it: PUT /store -> 2.04, GET /test -> 2.05, in order, and nothing else. */
  out = query(port, true, "coap", fields);
  assert_string_equal(out,
                      "0\t3\tstore\n"
                      "2\t68\t\n"
                      "0\t1\ttest\n"
                      "2\t69\t\n");
  free(out);
  const char *payload[] = {"coap.payload", NULL};
  out = query(port, true, "coap.code==69", payload);
  assert_non_null(strstr(out, "Length: 18"));
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_psk_session_decrypts, cleanup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
