/* `niobium bootstrap` end to end in NoSec with the real binary and libcoap's coap-client-notls
 * as the device: config add/list/export/import/rm, auto policy (2.04 then our Bootstrap-Discover
 * towards the device), approve policy (the request waits; `pending` lists it; `approve` answers
 * 2.04; `reject` answers 4.03), and usage errors. */
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

typedef struct {
  char db[128], addr[64], url[128];
  const char *bin;
} env;

static int env_setup(void **state) {
  static env e;
  e.bin = nb_test_env("NB_BINARY");
  snprintf(e.db, sizeof e.db, "/tmp/nb_bs_e2e_%d.db", (int)getpid());
  unlink(e.db);
  *state = &e;
  return 0;
}

static int env_teardown(void **state) {
  env *e = *state;
  char p[160];
  unlink(e->db);
  snprintf(p, sizeof p, "%s-wal", e->db);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", e->db);
  unlink(p);
  return 0;
}

static int nb(env *e, char **out, const char *a1, const char *a2, const char *a3, const char *a4,
              const char *a5, const char *a6, const char *a7, const char *a8) {
  char *argv[] = {(char *)e->bin, "bootstrap", "--db",     e->db,      (char *)a1,
                  (char *)a2,     (char *)a3,  (char *)a4, (char *)a5, (char *)a6,
                  (char *)a7,     (char *)a8,  NULL};
  return nb_test_run(argv, 10000, out);
}

static void start_server(env *e, nb_test_proc *p, const char *policy) {
  uint16_t port = nb_test_free_port(SOCK_DGRAM);
  snprintf(e->addr, sizeof e->addr, "127.0.0.1:%u", port);
  snprintf(e->url, sizeof e->url, "coap://127.0.0.1:%u/bs?ep=dev1", port);
  char *argv[] = {(char *)e->bin, "bootstrap", "--db",         e->db, "--coap",
                  e->addr,        "--policy",  (char *)policy, NULL};
  assert_true(nb_test_proc_start(p, argv));
  assert_true(nb_test_proc_wait_output(p, true, "event=listening", 10000));
}

static void test_config_commands(void **state) {
  env *e = *state;
  char *out = NULL;
  assert_int_equal(nb(e, &out, "config", "add", "--default", "--server-uri",
                      "coap://127.0.0.1:5683", "--security", "nosec", NULL),
                   0);
  free(out);
  assert_int_equal(nb(e, &out, "config", "add", "--endpoint", "dev9", "--server-uri",
                      "coaps://127.0.0.1:5684", "--security", "psk"),
                   0);
  free(out);
  assert_int_equal(nb(e, &out, "config", "list", NULL, NULL, NULL, NULL, NULL, NULL), 0);
  assert_non_null(strstr(out, "(default)"));
  assert_non_null(strstr(out, "dev9"));
  assert_non_null(strstr(out, "security=psk"));
  free(out);
  char json[160];
  snprintf(json, sizeof json, "%s.json", e->db);
  assert_int_equal(nb(e, &out, "config", "export", json, NULL, NULL, NULL, NULL, NULL), 0);
  free(out);
  assert_int_equal(nb(e, &out, "config", "rm", "--endpoint", "dev9", NULL, NULL, NULL, NULL), 0);
  free(out);
  assert_int_equal(nb(e, &out, "config", "rm", "--endpoint", "dev9", NULL, NULL, NULL, NULL), 1);
  free(out);
  assert_int_equal(nb(e, &out, "config", "import", json, NULL, NULL, NULL, NULL, NULL), 0);
  assert_non_null(strstr(out, "2 configs imported"));
  free(out);
  unlink(json);
  assert_int_equal(nb(e, &out, "config", "list", NULL, NULL, NULL, NULL, NULL, NULL), 0);
  assert_non_null(strstr(out, "dev9")); /* back from the export */
  free(out);
  /* usage errors */
  assert_int_equal(nb(e, &out, "config", "add", "--endpoint", "x", "--server-uri", "coap://h:1",
                      "--security", "psk"),
                   2); /* coap:// with psk */
  free(out);
  assert_int_equal(nb(e, &out, "expect", "--endpoint", "x", "--secure-id", "zz", NULL, NULL, NULL),
                   2);
  free(out);
  assert_int_equal(nb(e, &out, "expect", "--endpoint", "x", "--secure-id",
                      "0123456789abcdef0123456789abcd", NULL, NULL, NULL),
                   0);
  free(out);
}

/* Auto policy: coap-client gets 2.04, and our Bootstrap-Discover goes out to the device. */
static void test_auto_with_libcoap(void **state) {
  env *e = *state;
  if (!nb_test_have_program("coap-client-notls")) skip();
  nb_test_proc srv;
  start_server(e, &srv, "auto");
  char *out = NULL;
  char *argv[] = {"coap-client-notls", "-m", "post", "-B", "5", e->url, NULL};
  int rc = nb_test_run(argv, 15000, &out);
  free(out);
  assert_int_equal(rc, 0);
  assert_true(nb_test_proc_wait_output(&srv, true, "event=BOOTSTRAP_REQUEST ep=dev1", 5000));
  nb_test_proc_stop(&srv);
  char *err = nb_test_proc_stderr(&srv);
  assert_null(strstr(err, "BOOTSTRAP_FINISHED")); /* coap-client never answers our requests */
  free(err);
  nb_test_proc_cleanup(&srv);
}

static void approve_or_reject(env *e, const char *verb, const char *want) {
  nb_test_proc srv, cli;
  start_server(e, &srv, "approve");
  char *argv[] = {"coap-client-notls", "-m", "post", "-B", "20", e->url, NULL};
  assert_true(nb_test_proc_start(&cli, argv));
  assert_true(nb_test_proc_wait_output(&srv, true, "event=BOOTSTRAP_PENDING ep=dev1", 10000));
  /* The log line comes before the server stores the request: wait for the stored row. */
  char *out = NULL;
  bool listed = false;
  for (int tries = 0; tries < 100 && !listed; tries++) {
    assert_int_equal(nb(e, &out, "pending", NULL, NULL, NULL, NULL, NULL, NULL, NULL), 0);
    listed = strstr(out, "dev1") != NULL;
    free(out);
    if (!listed) usleep(100 * 1000);
  }
  assert_true(listed);
  assert_int_equal(nb(e, &out, verb, "dev1", NULL, NULL, NULL, NULL, NULL, NULL), 0);
  free(out);
  assert_true(nb_test_proc_wait_output(&srv, true, want, 10000));
  int rc = nb_test_proc_wait(&cli, 20000);
  char *cout = nb_test_proc_stdout(&cli), *cerr = nb_test_proc_stderr(&cli);
  if (strcmp(verb, "reject") == 0) /* libcoap prints the error code of a 4.xx */
    assert_true(strstr(cout, "4.03") || strstr(cerr, "4.03"));
  else
    assert_int_equal(rc, 0);
  free(cout);
  free(cerr);
  assert_int_equal(nb(e, &out, verb, "dev1", NULL, NULL, NULL, NULL, NULL, NULL), 1); /* done */
  free(out);
  nb_test_proc_cleanup(&cli);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
}

static void test_approve_with_libcoap(void **state) {
  if (!nb_test_have_program("coap-client-notls")) skip();
  approve_or_reject(*state, "approve", "event=BOOTSTRAP_APPROVED ep=dev1");
}

static void test_reject_with_libcoap(void **state) {
  if (!nb_test_have_program("coap-client-notls")) skip();
  approve_or_reject(*state, "reject", "event=BOOTSTRAP_REJECTED ep=dev1");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_commands),
      cmocka_unit_test(test_auto_with_libcoap),
      cmocka_unit_test(test_approve_with_libcoap),
      cmocka_unit_test(test_reject_with_libcoap),
  };
  return cmocka_run_group_tests(tests, env_setup, env_teardown);
}
