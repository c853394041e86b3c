/* A device with a factory bootstrap PSK, played by libcoap's coap-client (OpenSSL and GnuTLS
 * builds: two other DTLS implementations), against `niobium bootstrap --coaps` after the
 * operator registered the PSK with `niobium bootstrap expect --psk-identity --psk-key-file`:
 * its Bootstrap-Request (POST /bs?ep=) over DTLS-PSK is answered 2.04; the same PSK asking as
 * another endpoint gets 4.03 and a BOOTSTRAP_ALERT; an identity nobody registered fails the
 * handshake. libcoap's clients exit 0 whatever happens, so their output is what is checked
 * (-v 7 prints the response they received). Skips when libcoap3-bin is missing. */
#include <setjmp.h>
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

/* libcoap takes the PSK as text (-k); `expect` takes hex: the same 12 bytes. */
#define PSK_TEXT "secretPSK123"
#define PSK_HEX "73656372657450534b313233"

static char dir[64], db[128], url[96], other_url[96];
static const char *nb;
static nb_test_proc bs;

static int run(char *const argv[], char **out, char **err) {
  return nb_test_run_capture(argv, 60000, out, err);
}

static int setup(void **state) {
  (void)state;
  nb = nb_test_env("NB_BINARY");
  snprintf(dir, sizeof dir, "/tmp/nb-bspsk-interop-XXXXXX");
  if (!nb || !mkdtemp(dir)) return -1;
  snprintf(db, sizeof db, "%s/bs.db", dir);
  char key[128];
  snprintf(key, sizeof key, "%s/meter7.psk", dir);
  FILE *f = fopen(key, "w");
  if (!f) return -1;
  fputs(PSK_HEX "\n", f);
  fclose(f);
  chmod(key, 0600);
  char *cfg[] = {(char *)nb,
                 "bootstrap",
                 "--db",
                 db,
                 "config",
                 "add",
                 "--endpoint",
                 "meter7",
                 "--server-uri",
                 "coap://127.0.0.1:5683",
                 "--security",
                 "nosec",
                 NULL};
  char *exp[] = {(char *)nb,       "bootstrap",      "--db",   db,
                 "expect",         "--endpoint",     "meter7", "--psk-identity",
                 "meter7-factory", "--psk-key-file", key,      NULL};
  if (run(cfg, NULL, NULL) != 0 || run(exp, NULL, NULL) != 0) return -1;
  uint16_t port = nb_test_free_port(SOCK_DGRAM);
  char coaps[32];
  snprintf(coaps, sizeof coaps, "127.0.0.1:%u", port);
  snprintf(url, sizeof url, "coaps://127.0.0.1:%u/bs?ep=meter7", port);
  snprintf(other_url, sizeof other_url, "coaps://127.0.0.1:%u/bs?ep=meter8", port);
  char *argv[] = {(char *)nb, "bootstrap", "--db", db, "--coaps", coaps, NULL};
  if (!nb_test_proc_start(&bs, argv) ||
      !nb_test_proc_wait_output(&bs, true, "event=running", 10000))
    return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  nb_test_proc_stop(&bs);
  nb_test_proc_cleanup(&bs);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* One Bootstrap-Request by tool with identity and the PSK; what it printed (stdout, then
 * stderr with -v 7's trace of the messages), heap. */
static char *bootstrap_request(const char *tool, const char *identity, const char *target) {
  char *argv[] = {(char *)tool,     "-v", "7",      "-B",           "5", "-m", "post", "-u",
                  (char *)identity, "-k", PSK_TEXT, (char *)target, NULL};
  char *out = NULL, *err = NULL;
  run(argv, &out, &err);
  size_t n = strlen(out) + strlen(err) + 2;
  char *all = malloc(n);
  assert_non_null(all);
  snprintf(all, n, "%s\n%s", out, err);
  free(out);
  free(err);
  return all;
}

static void check_tool(const char *tool) {
  if (!nb_test_have_program(tool)) {
    fprintf(stderr, "skipped: %s not installed (Debian package libcoap3-bin)\n", tool);
    skip();
  }
  /* Its own endpoint: 2.04, and the sequence starts. */
  char *all = bootstrap_request(tool, "meter7-factory", url);
  if (!strstr(all, "c:2.04")) fail_msg("%s: no 2.04 to the Bootstrap-Request:\n%s", tool, all);
  free(all);
  assert_true(nb_test_proc_wait_output(&bs, true, "event=BOOTSTRAP_REQUEST ep=meter7", 5000));
  /* The same PSK asking as another endpoint: 4.03 and an alert. */
  all = bootstrap_request(tool, "meter7-factory", other_url);
  if (!strstr(all, "4.03")) fail_msg("%s: no 4.03 for another endpoint:\n%s", tool, all);
  free(all);
  assert_true(nb_test_proc_wait_output(&bs, true, "event=BOOTSTRAP_ALERT ep=meter8", 5000));
  /* An identity nobody registered: no answer at all (the handshake fails). */
  all = bootstrap_request(tool, "stranger", url);
  assert_null(strstr(all, "c:2.04"));
  assert_null(strstr(all, "4.03"));
  free(all);
}

static void test_openssl_device(void **state) {
  (void)state;
  check_tool("coap-client-openssl");
}

static void test_gnutls_device(void **state) {
  (void)state;
  check_tool("coap-client-gnutls");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_openssl_device),
      cmocka_unit_test(test_gnutls_device),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
