/* `niobium client` end to end on 127.0.0.1: usage errors (exit 2), registration with libcoap's
 * resource directory `coap-rd-notls` (smoke test: the RD lists the registration), a read of the
 * running client by `coap-client-notls` from a port that is not its server's left unanswered
 * (a device answers its servers only, docs/security.md), the state file written 0600, and
 * SIGTERM ending it with exit 0.
 * Note: coap-rd-notls 4.3.1 answers Update (POST /rd/x) with 4.05, so the client registers
 * anew, and it aborts (double free) on a DELETE of a registration, so the De-register at
 * SIGTERM gets no answer; the client still leaves within its grace period. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

static int run_client(char **extra, size_t n, char **err) {
  char *argv[32] = {(char *)nb_test_env("NB_BINARY"), "client"};
  assert_true(n < 29);
  for (size_t i = 0; i < n; i++) argv[2 + i] = extra[i];
  argv[2 + n] = NULL;
  char *out = NULL;
  int rc = nb_test_run_capture(argv, 20000, &out, err);
  free(out);
  return rc;
}

static void expect_usage(char **args, size_t n, const char *needle) {
  char *err = NULL;
  assert_int_equal(run_client(args, n, &err), 2);
  if (!strstr(err, needle)) fail_msg("stderr lacks '%s': %s", needle, err);
  free(err);
}

static void test_usage_errors(void **state) {
  (void)state;
  char *a1[] = {"--server", "coap://127.0.0.1:5683"};
  expect_usage(a1, 2, "--endpoint");
  char *a2[] = {"--endpoint", "x"};
  expect_usage(a2, 2, "--server");
  char *a3[] = {"--server", "http://x", "--endpoint", "x"};
  expect_usage(a3, 4, "coap://");
  char *a4[] = {"--server", "coaps://127.0.0.1:5684", "--endpoint", "x"};
  expect_usage(a4, 4, "needs keys");
  char *a5[] = {"--server", "coap://127.0.0.1:5683", "--endpoint", "x", "--binding", "S"};
  expect_usage(a5, 6, "--binding");
  char *a6[] = {
      "--server", "coaps://127.0.0.1:5684", "--endpoint", "x", "--psk-identity", "x", "--psk-key",
      "zz"};
  expect_usage(a6, 8, "hex");
  char *a7[] = {"--server", "coaps://127.0.0.1:5684", "--endpoint", "x", "--rpk-key", "/dev/null"};
  expect_usage(a7, 6, "--server-key");
  char *a8[] = {"--server", "coap://127.0.0.1:5683", "--endpoint", "x", "--lifetime", "-3"};
  expect_usage(a8, 6, "--lifetime");
  char *a9[] = {"--server", "coap://127.0.0.1:5683", "--endpoint", "x", "--version", "2.0"};
  expect_usage(a9, 6, "--version");
  char *a10[] = {"--server", "coap://1.2.3.4", "--bootstrap", "coap://1.2.3.4", "--endpoint", "x"};
  expect_usage(a10, 6, "exactly one");
  char *a11[] = {"--server", "coap://127.0.0.1:5683", "--endpoint", "x", "--bogus"};
  expect_usage(a11, 5, "Usage");
  char *a12[] = {"--bootstrap", "coap://127.0.0.1:5783", "--endpoint", "x", "--signed-bootstrap"};
  expect_usage(a12, 5, "--rpk-key or --cert");
  char *a13[] = {"--server", "coap://127.0.0.1:5683", "--endpoint", "x", "--signed-bootstrap"};
  expect_usage(a13, 5, "needs a bootstrap server");
  char *a14[] = {"--server", "coap://127.0.0.1:5683", "--endpoint",
                 "x",        "--evidence-dir",        "/nonexistent-evidence-dir"};
  expect_usage(a14, 6, "not an existing directory");

  char *help[] = {(char *)nb_test_env("NB_BINARY"), "client", "--help", NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(help, 10000, &out), 0);
  assert_non_null(strstr(out, "Examples"));
  assert_non_null(strstr(out, "--psk-identity"));
  free(out);
}

/* The local IPv4 port the client logged at start ("local4=0.0.0.0:PORT"). */
static unsigned client_port(const nb_test_proc *p) {
  char *err = nb_test_proc_stderr(p);
  const char *s = strstr(err, "local4=0.0.0.0:");
  unsigned port = s ? (unsigned)atoi(s + strlen("local4=0.0.0.0:")) : 0;
  free(err);
  return port;
}

static char *coap_get(const char *url, const char *extra1, const char *extra2) {
  char *argv[] = {"coap-client-notls", "-m", "get", "-B", "20", (char *)url, NULL, NULL, NULL};
  if (extra1) {
    argv[5] = (char *)extra1;
    argv[6] = (char *)extra2;
    argv[7] = (char *)url;
  }
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 30000, &out), 0);
  return out;
}

static void test_register_with_libcoap_rd(void **state) {
  (void)state;
  if (!nb_test_have_program("coap-rd-notls") || !nb_test_have_program("coap-client-notls")) {
    fprintf(stderr,
            "skipped: coap-rd-notls/coap-client-notls missing (apt install libcoap3-bin)\n");
    skip();
  }
  char port[8], server[64], dir[] = "/tmp/nb-e2e-client-XXXXXX", statef[96];
  assert_non_null(mkdtemp(dir));
  snprintf(statef, sizeof statef, "%s/dev.state", dir);
  snprintf(port, sizeof port, "%u", nb_test_free_port(SOCK_DGRAM));
  snprintf(server, sizeof server, "coap://127.0.0.1:%s", port);
  nb_test_proc rd, cl;
  char *rd_argv[] = {"coap-rd-notls", "-A", "127.0.0.1", "-p", port, NULL};
  assert_true(nb_test_proc_start(&rd, rd_argv));
  usleep(300000);
  char *cl_argv[] = {(char *)nb_test_env("NB_BINARY"),
                     "client",
                     "--server",
                     server,
                     "--endpoint",
                     "e2e-dev",
                     "--lifetime",
                     "300",
                     "--objects",
                     "ipso",
                     "--sensor-interval",
                     "1",
                     "--state",
                     statef,
                     NULL};
  assert_true(nb_test_proc_start(&cl, cl_argv));
  assert_true(nb_test_proc_wait_output(&cl, false, "registered ssid=1", 10000));

  /* The RD lists one registration besides /rd itself. */
  char url[128];
  snprintf(url, sizeof url, "coap://127.0.0.1:%s/.well-known/core", port);
  char *wk = coap_get(url, NULL, NULL);
  assert_non_null(strstr(wk, "</rd/"));
  free(wk);

  /* The state file holds the account, private to its owner. */
  struct stat st;
  assert_int_equal(stat(statef, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_true(st.st_size > 10);

  /* coap-client is none of its servers: no answer at all (it gives up after 3 s). */
  unsigned cport = client_port(&cl);
  assert_true(cport > 0);
  snprintf(url, sizeof url, "coap://127.0.0.1:%u/3/0/0", cport);
  char *man = NULL, *man_err = NULL;
  char *man_argv[] = {"coap-client-notls", "-m", "get", "-B", "3", url, NULL};
  nb_test_run_capture(man_argv, 20000, &man, &man_err);
  assert_null(strstr(man, "Niobium"));
  assert_null(strstr(man_err, "4.01"));
  free(man);
  free(man_err);

  /* SIGTERM: de-register and leave with 0. */
  kill(cl.pid, SIGTERM);
  assert_int_equal(nb_test_proc_wait(&cl, 15000), 0);
  char *err = nb_test_proc_stderr(&cl);
  assert_non_null(strstr(err, "action=deregister"));
  free(err);
  nb_test_proc_cleanup(&cl);
  nb_test_proc_stop(&rd);
  nb_test_proc_cleanup(&rd);
  unlink(statef);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_usage_errors),
      cmocka_unit_test(test_register_with_libcoap_rd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
