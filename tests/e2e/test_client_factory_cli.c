/* `niobium client --factory FILE` with the real binaries on 127.0.0.1 (free ports): a factory
 * file with a mistake is refused with exit 2 and a message naming the field and never the
 * key; a good one (a NoSec server account with its lifetime, plus a PSK account and an ACL the
 * client keeps) makes the client register with `niobium server` with no server option on the
 * command line, and the accounts then persist to --state. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
}

static bool wait_for(const char *base, const char *path, const char *needle, int ms) {
  for (int t = 0; t < ms; t += 100) {
    char *out = nb_test_http(base, "GET", path, NULL);
    bool ok = out && strstr(out, needle) && strstr(out, "|200");
    free(out);
    if (ok) return true;
    usleep(100 * 1000);
  }
  return false;
}

static void test_factory_cli(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) {
    fprintf(stderr, "skipped: curl missing\n");
    skip();
  }
  char dir[64], db[128], bad[128], good[128], st[128];
  snprintf(dir, sizeof dir, "/tmp/nb-e2e-fac-XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(db, sizeof db, "%s/server.db", dir);
  snprintf(bad, sizeof bad, "%s/bad.json", dir);
  snprintf(good, sizeof good, "%s/factory.json", dir);
  snprintf(st, sizeof st, "%s/dev.state", dir);
  uint16_t cp = nb_test_free_port(SOCK_DGRAM), hp = nb_test_free_port(SOCK_STREAM);
  char coap[32], http[32], base[64], doc[1024];
  snprintf(coap, sizeof coap, "127.0.0.1:%u", cp);
  snprintf(http, sizeof http, "127.0.0.1:%u", hp);
  snprintf(base, sizeof base, "http://127.0.0.1:%u", hp);

  /* A mistake: refused before anything runs, the field named, the key never shown. */
  write_text(bad,
             "{\"servers\": [{\"uri\": \"coaps://127.0.0.1:1\", \"ssid\": 70000, "
             "\"security\": \"psk\", \"psk_identity\": \"d\", \"psk_key\": \"c0ffee5ec2e7\"}]}");
  char *bargv[] = {
      (char *)nb_test_env("NB_BINARY"), "client", "--factory", bad, "--endpoint", "e2e-fac", NULL};
  char *out = NULL, *err = NULL;
  assert_int_equal(nb_test_run_capture(bargv, 10000, &out, &err), 2);
  if (!strstr(err, "servers[0].ssid")) fail_msg("stderr: %s", err);
  assert_null(strstr(err, "c0ffee5ec2e7"));
  assert_null(strstr(out, "c0ffee5ec2e7"));
  free(out);
  free(err);
  /* Key options next to --factory are a usage error too. */
  char *kargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "client",
                   "--factory",
                   bad,
                   "--endpoint",
                   "e2e-fac",
                   "--psk-identity",
                   "x",
                   NULL};
  assert_int_equal(nb_test_run_capture(kargv, 10000, NULL, &err), 2);
  assert_non_null(strstr(err, "drop the key options"));
  free(err);

  char *sargv[] = {
      (char *)nb_test_env("NB_BINARY"), "server", "--coap", coap, "--http", http, "--db", db, NULL};
  nb_test_proc srv;
  assert_true(nb_test_proc_start(&srv, sargv));
  assert_true(nb_test_proc_wait_output(&srv, true, "proto=http", 10000));

  /* A second (PSK) account nobody answers on, and an ACL: the client registers with the
   * first and keeps the rest. */
  snprintf(
      doc, sizeof doc,
      "{\"servers\": [\n"
      "  {\"uri\": \"coap://127.0.0.1:%u\", \"ssid\": 7, \"lifetime\": 123},\n"
      "  {\"uri\": \"coaps://127.0.0.1:%u\", \"ssid\": 8, \"security\": \"psk\",\n"
      "   \"psk_identity\": \"e2e-fac\", \"psk_key\": \"00112233445566778899aabbccddeeff\"}],\n"
      " \"access_control\": [{\"object\": 3, \"instance\": 0, \"owner\": 7,\n"
      "   \"acl\": {\"8\": 1}}]}\n",
      cp, nb_test_free_port(SOCK_DGRAM));
  write_text(good, doc);
  char *cargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "client",
                   "--factory",
                   good,
                   "--endpoint",
                   "e2e-fac",
                   "--objects",
                   "basic",
                   "--state",
                   st,
                   NULL};
  nb_test_proc cl;
  assert_true(nb_test_proc_start(&cl, cargv));
  assert_true(nb_test_proc_wait_output(&cl, false, "registered ssid=7", 10000));
  assert_true(wait_for(base, "/api/clients", "\"endpoint\":\"e2e-fac\"", 10000));
  assert_true(wait_for(base, "/api/clients/e2e-fac", "123", 5000)); /* lifetime from the file */
  char *log = nb_test_proc_stdout(&cl);
  assert_null(strstr(log, "00112233445566778899aabbccddeeff"));
  free(log);
  log = nb_test_proc_stderr(&cl);
  assert_null(strstr(log, "00112233445566778899aabbccddeeff"));
  free(log);
  kill(cl.pid, SIGTERM);
  assert_int_equal(nb_test_proc_wait(&cl, 15000), 0);
  nb_test_proc_cleanup(&cl);
  /* The accounts persisted, and the state file is itself a valid factory file. */
  assert_int_equal(access(st, F_OK), 0);
  char *sfargv[] = {(char *)nb_test_env("NB_BINARY"),
                    "client",
                    "--factory",
                    st,
                    "--endpoint",
                    "e2e-fac",
                    "--objects",
                    "basic",
                    NULL};
  assert_true(nb_test_proc_start(&cl, sfargv));
  assert_true(nb_test_proc_wait_output(&cl, false, "registered ssid=7", 10000));
  kill(cl.pid, SIGTERM);
  assert_int_equal(nb_test_proc_wait(&cl, 15000), 0);
  nb_test_proc_cleanup(&cl);

  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  const char *files[] = {bad, good, st};
  for (size_t i = 0; i < 3; i++) unlink(files[i]);
  char p[160];
  const char *sfx[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", db, sfx[i]);
    unlink(p);
  }
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_factory_cli)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
