/* `niobium client` pointed at a port where nothing listens (issue 14 item 10): within a few
 * seconds its log names the server and says why (the ICMP port unreachable that loopback
 * returns), and each retransmission of the Register gets one line, instead of nothing until the
 * CoAP layer gives up 78 s later. Over coaps too, where the DTLS handshake is what goes
 * unanswered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

static nb_test_proc cli;

static int teardown(void **state) {
  (void)state;
  nb_test_proc_stop(&cli);
  nb_test_proc_cleanup(&cli);
  return 0;
}

static void dead_port(const char *scheme, char *const extra[]) {
  uint16_t port = nb_test_free_port(SOCK_DGRAM); /* free: nothing listens there */
  char uri[64], unreachable[160], retransmit[160];
  snprintf(uri, sizeof uri, "%s://127.0.0.1:%u", scheme, port);
  char *argv[16] = {(char *)nb_test_env("NB_BINARY"),
                    "client",
                    "--server",
                    uri,
                    "--endpoint",
                    "lost-dev",
                    "--sensors",
                    "none"};
  size_t n = 8;
  for (size_t i = 0; extra && extra[i]; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  assert_true(nb_test_proc_start(&cli, argv));
  snprintf(unreachable, sizeof unreachable,
           "event=server-unreachable ssid=1 server=%s during=register "
           "reason=\"ICMP port unreachable\"",
           uri);
  snprintf(retransmit, sizeof retransmit,
           "event=register-retransmit ssid=1 server=%s retransmission=1", uri);
  /* At once (the first datagram's ICMP error), then at the first retransmission (2-3 s). */
  if (!nb_test_proc_wait_output(&cli, true, unreachable, 5000) ||
      !nb_test_proc_wait_output(&cli, true, retransmit, 8000)) {
    char *log = nb_test_proc_stderr(&cli);
    fail_msg("wanted '%s' and '%s' in:\n%s", unreachable, retransmit, log);
  }
  char *log = nb_test_proc_stderr(&cli);
  /* One line per attempt, not one per datagram: a single unreachable line so far. */
  const char *first = strstr(log, "event=server-unreachable");
  assert_non_null(first);
  assert_null(strstr(first + 1, "event=server-unreachable"));
  free(log);
}

static void test_nosec_dead_port(void **state) {
  (void)state;
  dead_port("coap", NULL);
}

static void test_dtls_dead_port(void **state) {
  (void)state;
  char *extra[] = {"--psk-identity", "lost-id", "--psk-key", "000102030405060708090a0b0c0d0e0f",
                   NULL};
  dead_port("coaps", extra);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_nosec_dead_port, teardown),
      cmocka_unit_test_teardown(test_dtls_dead_port, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
