/* `niobium monitor --interface lo` on live loopback traffic: datagrams sent from this test
 * to a free port show up as decoded events, and the monitor stops after --count packets.
 * Skipped where the test may not capture (no root / CAP_NET_RAW). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "coap/msg.h"
#include "nb_test.h"

static void t_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void test_live_loopback(void **state) {
  (void)state;
  const char *bin = nb_test_env("NB_BINARY");
  if (!bin) skip();
  uint16_t port = nb_test_free_port(SOCK_DGRAM);
  char filter[64], ports[16];
  snprintf(filter, sizeof filter, "udp dst port %u", port);
  snprintf(ports, sizeof ports, "%u", port);
  char *argv[] = {
      (char *)bin, "monitor", "--interface", "lo",       "--filter", filter, "--coap-ports",
      ports,       "--count", "3",           "--events", "-",        NULL};
  nb_test_proc p;
  assert_true(nb_test_proc_start(&p, argv));
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  nb_coap_msg msg;
  int status = -1;
  bool exited = false;
  /* The capture starts some time after the process: send until it has seen three. */
  for (int i = 0; i < 100 && !exited; i++) {
    nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_POST, (uint16_t)(100 + i));
    static const uint8_t tok[2] = {1, 2};
    nb_coap_msg_set_token(&msg, tok, 2);
    nb_coap_msg_add_path(&msg, NB_COAP_OPT_URI_PATH, "/rd");
    nb_coap_msg_add_query(&msg, NB_COAP_OPT_URI_QUERY, "ep=live-dev");
    uint8_t buf[128];
    size_t n;
    assert_int_equal(nb_coap_serialize(&msg, buf, sizeof buf, &n), NB_OK);
    sendto(fd, buf, n, 0, (struct sockaddr *)&to, sizeof to);
    t_sleep_ms(100);
    exited = waitpid(p.pid, &status, WNOHANG) == p.pid;
  }
  close(fd);
  if (!exited) {
    kill(p.pid, SIGKILL);
    waitpid(p.pid, &status, 0);
    fail_msg("monitor did not stop after 3 packets");
  }
  char *out = nb_test_proc_stdout(&p);
  char *err = nb_test_proc_stderr(&p);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 1 && strstr(err, "cannot capture")) {
    free(out);
    free(err);
    nb_test_proc_cleanup(&p);
    skip();
  }
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  size_t events = 0;
  for (const char *s = out; (s = strstr(s, "\"operation\":\"Register\"")) != NULL; s++) events++;
  assert_int_equal(events, 3);
  assert_non_null(strstr(out, "\"endpoint\":\"live-dev\""));
  assert_non_null(strstr(out, "\"event\":\"summary\""));
  free(out);
  free(err);
  nb_test_proc_cleanup(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_live_loopback)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
