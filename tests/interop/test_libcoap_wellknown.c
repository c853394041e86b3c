/* Resource discovery on the LwM2M server and the bootstrap server (issue 14 item 3), judged by
 * libcoap's coap-client-notls on loopback: GET /.well-known/core answers 2.05 link-format with
 * </rd>;rt="core.rd" and </dp> (the server) or </bs> (the bootstrap server), filtered by the
 * RFC 6690 4.1 queries ?rt=, ?href= (with a trailing '*'); another method gets 4.05. Before,
 * the server answered 4.04. Skips when the libcoap tools are missing. */
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

#define CLIENT "coap-client-notls"

static nb_test_proc peer; /* the server under test, stopped even when an assertion fails */
static char dir[64];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/nb-wk-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  nb_test_proc_stop(&peer);
  nb_test_proc_cleanup(&peer);
  memset(&peer, 0, sizeof peer);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *require_tools(void) {
  const char *nb = nb_test_env("NB_BINARY");
  if (!nb) fail_msg("NB_BINARY is not set");
  if (!nb_test_have_program(CLIENT)) {
    fprintf(stderr, "skipped: %s not installed (Debian package libcoap3-bin)\n", CLIENT);
    skip();
  }
  return nb;
}

/* coap-client's stdout and stderr for METHOD coap://127.0.0.1:port/.well-known/core?query
 * (heap). */
static char *discover(uint16_t port, const char *method, const char *query) {
  char uri[128];
  snprintf(uri, sizeof uri, "coap://127.0.0.1:%u/.well-known/core%s%s", port, query ? "?" : "",
           query ? query : "");
  char *argv[] = {CLIENT, "-m", (char *)method, "-B", "5", uri, NULL};
  char *out = NULL, *err = NULL;
  nb_test_run_capture(argv, 10000, &out, &err);
  assert_non_null(out);
  assert_non_null(err);
  /* The payload goes to stdout, an error code ("4.05") to stderr. */
  char *all = malloc(strlen(out) + strlen(err) + 1);
  assert_non_null(all);
  strcpy(all, out);
  strcat(all, err);
  free(out);
  free(err);
  return all;
}

static void expect(uint16_t port, const char *method, const char *query, const char *want) {
  char *out = discover(port, method, query);
  size_t n = strlen(out);
  while (n && (out[n - 1] == '\n' || out[n - 1] == '\r')) out[--n] = '\0';
  if (strcmp(out, want) != 0)
    fail_msg("%s /.well-known/core?%s: got '%s', wanted '%s'", method, query ? query : "", out,
             want);
  free(out);
}

static void test_server_wellknown_core(void **state) {
  (void)state;
  const char *nb = require_tools();
  uint16_t port = nb_test_free_port(SOCK_DGRAM), http = nb_test_free_port(SOCK_STREAM);
  char coap[32], hp[32], db[128];
  snprintf(coap, sizeof coap, "127.0.0.1:%u", port);
  snprintf(hp, sizeof hp, "127.0.0.1:%u", http);
  snprintf(db, sizeof db, "%s/server.db", dir);
  char *argv[] = {(char *)nb, "server", "--coap", coap, "--http", hp, "--db", db, NULL};
  assert_true(nb_test_proc_start(&peer, argv));
  assert_true(nb_test_proc_wait_output(&peer, true, "proto=http", 10000));
  static const char rd[] = "</rd>;rt=\"core.rd\";ct=40";
  static const char dp[] = "</dp>;ct=\"112 110 11543 11542\"";
  char all[128];
  snprintf(all, sizeof all, "%s,%s", rd, dp);
  expect(port, "get", NULL, all);
  expect(port, "get", "rt=core.rd", rd);
  expect(port, "get", "rt=core.*", rd); /* RFC 9176 4.3: how a client finds a directory */
  expect(port, "get", "href=/dp", dp);
  expect(port, "get", "href=/*", all);
  expect(port, "get", "ct=11542", dp); /* one word of a list */
  expect(port, "get", "rt=oma.lwm2m", "");
  expect(port, "post", NULL, "4.05");
}

static void test_bootstrap_wellknown_core(void **state) {
  (void)state;
  const char *nb = require_tools();
  uint16_t port = nb_test_free_port(SOCK_DGRAM);
  char coap[32], db[128];
  snprintf(coap, sizeof coap, "127.0.0.1:%u", port);
  snprintf(db, sizeof db, "%s/bootstrap.db", dir);
  char *argv[] = {(char *)nb, "bootstrap", "--coap", coap, "--db", db, NULL};
  assert_true(nb_test_proc_start(&peer, argv));
  assert_true(nb_test_proc_wait_output(&peer, true, "event=listening", 10000));
  expect(port, "get", NULL, "</bs>");
  expect(port, "get", "href=/bs", "</bs>");
  expect(port, "get", "href=/rd", "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_server_wellknown_core, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bootstrap_wellknown_core, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
