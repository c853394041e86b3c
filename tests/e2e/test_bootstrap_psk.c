/* Devices provisioned with a factory bootstrap PSK (the common case for NB-IoT meters), end to
 * end with the real binaries: the operator registers the PSK over REST (PUT
 * /api/bootstrap/expected/{ep} with pskIdentity and pskKey) on `niobium server --with-bootstrap
 * --bs-coaps`; a `niobium client --bootstrap coaps://` holding that PSK bootstraps over DTLS,
 * gets a fresh bootstrap-account PSK (--bs-fresh-key) and a fresh server PSK, and registers.
 * The expected-keys list shows identities only, never a key; another endpoint cannot take the
 * same identity (409); delete forgets it. The same through the CLI: `niobium bootstrap expect
 * --psk-identity --psk-key-file` (the key from an owner-only file or stdin, never argv),
 * `expect list`, `expect rm`, with --db and with --api. */
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

#define KEY_HEX "6e622d666163746f72792d6d6574657237" /* "nb-factory-meter7" */

typedef struct {
  char dir[64], db[128], coaps[32], bs[32], http[32], base[64];
  char *bin;
  nb_test_proc srv;
} env;

static char *in_dir(const env *e, const char *name) {
  static char p[4][192];
  static int i;
  i = (i + 1) % 4;
  snprintf(p[i], sizeof p[i], "%s/%s", e->dir, name);
  return p[i];
}

/* A file only its owner may read, holding text. */
static void write_private(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  assert_int_equal(chmod(path, 0600), 0);
}

/* METHOD path [body]: the answer must hold status ("|200"); returns the answer (heap). */
static char *call(const env *e, const char *method, const char *path, const char *body,
                  const char *status) {
  char *out = nb_test_http(e->base, method, path, body);
  assert_non_null(out);
  if (!strstr(out, status)) fail_msg("%s %s: got '%s', wanted %s", method, path, out, status);
  return out;
}

static bool wait_for(const env *e, const char *path, const char *needle, int ms) {
  for (int t = 0; t < ms; t += 100) {
    char *out = nb_test_http(e->base, "GET", path, NULL);
    bool ok = out && strstr(out, needle) != NULL;
    free(out);
    if (ok) return true;
    usleep(100 * 1000);
  }
  return false;
}

static int setup(void **state) {
  static env e;
  memset(&e, 0, sizeof e);
  e.bin = (char *)nb_test_env("NB_BINARY");
  snprintf(e.dir, sizeof e.dir, "/tmp/nb-e2e-bspsk-XXXXXX");
  if (!e.bin || !mkdtemp(e.dir)) return -1;
  snprintf(e.db, sizeof e.db, "%s/nb.db", e.dir);
  snprintf(e.coaps, sizeof e.coaps, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  snprintf(e.bs, sizeof e.bs, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e.http, sizeof e.http, "127.0.0.1:%u", hp);
  snprintf(e.base, sizeof e.base, "http://127.0.0.1:%u", hp);
  char *argv[] = {e.bin,  "server", "--coaps",          e.coaps,      "--http", e.http,
                  "--db", e.db,     "--with-bootstrap", "--bs-coaps", e.bs,     NULL};
  if (!nb_test_proc_start(&e.srv, argv) ||
      !nb_test_proc_wait_output(&e.srv, true, "proto=http", 10000))
    return -1;
  *state = &e;
  return 0;
}

static int teardown(void **state) {
  env *e = *state;
  nb_test_proc_stop(&e->srv);
  nb_test_proc_cleanup(&e->srv);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* A config for ep: the management server over DTLS with a fresh PSK, and a fresh key for the
 * device's own bootstrap account. */
static void config(const env *e, const char *ep) {
  char body[320], path[96];
  snprintf(body, sizeof body,
           "{\"servers\":[{\"uri\":\"coaps://%s\",\"ssid\":101,\"lifetime\":300,"
           "\"binding\":\"U\",\"security\":\"psk\"}],\"bootstrap_account\":{\"fresh_key\":true}}",
           e->coaps);
  snprintf(path, sizeof path, "/api/bootstrap/configs/%s", ep);
  free(call(e, "PUT", path, body, "|201"));
}

static void start_device(const env *e, nb_test_proc *p, const char *ep, const char *identity,
                         const char *key_file) {
  char uri[64];
  snprintf(uri, sizeof uri, "coaps://%s", e->bs);
  char *argv[] = {e->bin,
                  "client",
                  "--bootstrap",
                  uri,
                  "--endpoint",
                  (char *)ep,
                  "--psk-identity",
                  (char *)identity,
                  "--psk-key-file",
                  (char *)key_file,
                  NULL};
  assert_true(nb_test_proc_start(p, argv));
}

static void test_factory_psk_over_rest(void **state) {
  env *e = *state;
  if (!nb_test_have_program("curl")) skip();
  config(e, "meter7");
  char *out = call(e, "PUT", "/api/bootstrap/expected/meter7",
                   "{\"pskIdentity\":\"meter7-factory\",\"pskKey\":\"" KEY_HEX "\"}", "|200");
  assert_non_null(strstr(out, "\"pskIdentity\":\"meter7-factory\""));
  assert_non_null(strstr(out, "\"kind\":\"psk\""));
  assert_null(strstr(out, KEY_HEX)); /* never a key */
  free(out);
  out = call(e, "GET", "/api/bootstrap/expected", NULL, "|200");
  assert_non_null(strstr(out, "\"endpoint\":\"meter7\""));
  assert_null(strstr(out, KEY_HEX));
  free(out);
  /* The identity belongs to meter7: another endpoint cannot take it. */
  out = call(e, "PUT", "/api/bootstrap/expected/meter8",
             "{\"pskIdentity\":\"meter7-factory\",\"pskKey\":\"00112233\"}", "|409");
  assert_non_null(strstr(out, "meter7"));
  free(out);
  free(call(e, "PUT", "/api/bootstrap/expected/meter8", "{\"pskIdentity\":\"x\"}", "|400"));
  free(call(e, "PUT", "/api/bootstrap/expected/meter8",
            "{\"pskIdentity\":\"x\",\"pskKey\":\"nothex\"}", "|400"));

  /* The device with its factory PSK bootstraps over DTLS and registers with its new PSK. */
  char *key_file = in_dir(e, "meter7.psk");
  write_private(key_file, KEY_HEX "\n");
  nb_test_proc dev;
  start_device(e, &dev, "meter7", "meter7-factory", key_file);
  assert_true(wait_for(e, "/api/clients", "\"endpoint\":\"meter7\"", 20000));
  assert_true(wait_for(e, "/api/clients/meter7", "\"securityMode\":\"psk\"", 1000));
  assert_true(nb_test_proc_wait_output(&e->srv, true, "event=BOOTSTRAP_FINISHED ep=meter7", 5000));
  /* Its factory PSK is replaced by the fresh one it acknowledged: only identities shown. */
  assert_true(wait_for(e, "/api/bootstrap/expected", "\"pskIdentity\":\"meter7#", 5000));
  out = call(e, "GET", "/api/bootstrap/expected", NULL, "|200");
  assert_null(strstr(out, "meter7-factory"));
  free(out);
  nb_test_proc_stop(&dev);
  nb_test_proc_cleanup(&dev);

  free(call(e, "DELETE", "/api/bootstrap/expected/meter7", NULL, "|200"));
  out = call(e, "GET", "/api/bootstrap/expected", NULL, "|200");
  assert_null(strstr(out, "\"endpoint\":\"meter7\""));
  free(out);
  free(call(e, "DELETE", "/api/bootstrap/expected/meter7", NULL, "|404"));
  /* No key in the server's log either. */
  char *log = nb_test_proc_stderr(&e->srv);
  assert_null(strstr(log, KEY_HEX));
  free(log);
}

/* `niobium bootstrap` with args after the common ones; exit status, stdout and stderr. */
static int bs(const env *e, char **out, char **err, const char *a1, const char *a2, const char *a3,
              const char *a4, const char *a5, const char *a6, const char *a7, const char *a8) {
  const char *args[] = {a1, a2, a3, a4, a5, a6, a7, a8};
  char *argv[16] = {e->bin, "bootstrap"};
  size_t n = 2;
  for (size_t i = 0; i < 8 && args[i]; i++) argv[n++] = (char *)args[i];
  argv[n] = NULL;
  return nb_test_run_capture(argv, 20000, out, err);
}

/* `niobium bootstrap expect --endpoint ep --psk-identity id --psk-key-file file` with --db DB
 * or --api URL (where). */
static int expect_psk(const env *e, const char *where, const char *ep, const char *id,
                      const char *file, char **out, char **err) {
  char *argv[] = {e->bin,
                  "bootstrap",
                  "expect",
                  "--endpoint",
                  (char *)ep,
                  "--psk-identity",
                  (char *)id,
                  "--psk-key-file",
                  (char *)file,
                  (char *)where,
                  strcmp(where, "--db") == 0 ? (char *)e->db : (char *)e->base,
                  NULL};
  return nb_test_run_capture(argv, 20000, out, err);
}

static void test_factory_psk_cli(void **state) {
  env *e = *state;
  if (!nb_test_have_program("curl")) skip();
  char *key_file = in_dir(e, "dev9.psk"), *out = NULL, *err = NULL;
  write_private(key_file, KEY_HEX "\n");
  /* --db: the key from an owner-only file. */
  assert_int_equal(expect_psk(e, "--db", "dev9", "dev9-fac", key_file, &out, &err), 0);
  assert_non_null(strstr(out, "dev9 will be accepted only with the PSK of identity dev9-fac"));
  free(out);
  free(err);
  /* The list with --db and through the running server's API: the same table, no key. */
  char *db_table = NULL, *api_table = NULL;
  assert_int_equal(bs(e, &db_table, NULL, "expect", "list", "--db", e->db, NULL, NULL, NULL, NULL),
                   0);
  assert_non_null(strstr(db_table, "dev9"));
  assert_non_null(strstr(db_table, "dev9-fac"));
  assert_null(strstr(db_table, KEY_HEX));
  assert_int_equal(
      bs(e, &api_table, NULL, "expect", "list", "--api", e->base, NULL, NULL, NULL, NULL), 0);
  assert_string_equal(db_table, api_table);
  free(db_table);
  free(api_table);
  /* A key file others may read is refused. */
  char *open_file = in_dir(e, "open.psk");
  write_private(open_file, KEY_HEX "\n");
  assert_int_equal(chmod(open_file, 0644), 0);
  assert_int_equal(expect_psk(e, "--db", "dev10", "dev10-fac", open_file, &out, &err), 1);
  assert_non_null(strstr(err, "chmod 600"));
  free(out);
  free(err);
  /* The same identity for another endpoint: refused, naming the owner. */
  assert_int_equal(expect_psk(e, "--db", "dev10", "dev9-fac", key_file, &out, &err), 1);
  assert_non_null(strstr(err, "already registered for endpoint dev9"));
  free(out);
  free(err);
  /* Through the API: registered (the answer shows no key), listed, removed. */
  assert_int_equal(expect_psk(e, "--api", "dev11", "dev11-fac", key_file, &out, &err), 0);
  assert_null(strstr(out, KEY_HEX));
  free(out);
  free(err);
  out = call(e, "GET", "/api/bootstrap/expected", NULL, "|200");
  assert_non_null(strstr(out, "\"pskIdentity\":\"dev11-fac\""));
  free(out);
  assert_int_equal(
      bs(e, &out, &err, "expect", "rm", "--endpoint", "dev11", "--api", e->base, NULL, NULL), 0);
  free(out);
  free(err);
  assert_int_equal(
      bs(e, &out, &err, "expect", "rm", "--endpoint", "dev9", "--db", e->db, NULL, NULL), 0);
  free(out);
  free(err);
  assert_int_equal(
      bs(e, &out, &err, "expect", "rm", "--endpoint", "dev9", "--db", e->db, NULL, NULL), 1);
  assert_non_null(strstr(err, "nothing is registered for dev9"));
  free(out);
  free(err);
}

/* The secure ID as its QR code holds it ("nb:sid:..."), over REST and on the command line. */
static void test_secure_id_from_qr_text(void **state) {
  env *e = *state;
  if (!nb_test_have_program("curl")) skip();
  char *out = call(e, "PUT", "/api/bootstrap/expected/qr1",
                   "{\"secureId\":\"nb:sid:0123456789ABCDEF0123456789abcd\"}", "|200");
  assert_non_null(strstr(out, "\"secureId\":\"0123456789abcdef0123456789abcd\""));
  free(out);
  char *err = NULL;
  assert_int_equal(bs(e, &out, &err, "expect", "--endpoint", "qr2", "--secure-id",
                      "nb:sid:fedcba9876543210fedcba98765432", "--db", e->db, NULL),
                   0);
  assert_non_null(strstr(out, "fedcba9876543210fedcba98765432"));
  free(out);
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_factory_psk_over_rest),
      cmocka_unit_test(test_factory_psk_cli),
      cmocka_unit_test(test_secure_id_from_qr_text),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
