/* `niobium server --with-bootstrap --bs-coaps` end to end with the real binaries: the bootstrap
 * role over DTLS with raw public keys inside the server process. The operator registers a
 * device's secure ID and its config over REST; a `niobium client --bootstrap coaps://` with
 * that factory key is bootstrapped over DTLS and registers with the same process; a client
 * with a key nobody registered is refused at the handshake (BOOTSTRAP_ALERT) and never
 * registers. */
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
  char dir[64], db[128], coap[32], bs[32], http[32], base[64];
  char *bin;
} env;

static char *path_in(const env *e, const char *name) {
  static char p[4][192];
  static int i;
  i = (i + 1) % 4;
  snprintf(p[i], sizeof(p[i]), "%s/%s", e->dir, name);
  return p[i];
}

/* A P-256 key pair as DIR/NAME.*; returns its secure ID (heap). */
static char *make_key(const env *e, const char *name) {
  static const char tag[] = "secure-id: ";
  char prefix[160];
  snprintf(prefix, sizeof(prefix), "%s/%s", e->dir, name);
  char *argv[] = {e->bin, "keys", "ec", "--out", prefix, NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 30000, &out), 0);
  char sid[31] = "";
  const char *found = strstr(out, tag);
  if (found) snprintf(sid, sizeof sid, "%s", found + strlen(tag));
  free(out);
  assert_int_equal(strlen(sid), 30);
  return strdup(sid);
}

static void expect(const env *e, const char *method, const char *path, const char *body,
                   const char *status) {
  char *out = nb_test_http(e->base, method, path, body);
  assert_non_null(out);
  if (!strstr(out, status)) fail_msg("%s %s: got '%s', wanted %s", method, path, out, status);
  free(out);
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

static void start_client(const env *e, nb_test_proc *p, const char *ep, const char *key,
                         const char *server_sid) {
  char uri[64];
  snprintf(uri, sizeof uri, "coaps://%s", e->bs);
  char *argv[] = {e->bin,
                  "client",
                  "--bootstrap",
                  uri,
                  "--endpoint",
                  (char *)ep,
                  "--rpk-key",
                  (char *)key,
                  "--server-secure-id",
                  (char *)server_sid,
                  NULL};
  assert_true(nb_test_proc_start(p, argv));
}

static void test_rpk_bootstrap_in_server(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  memset(&e, 0, sizeof e);
  e.bin = (char *)nb_test_env("NB_BINARY");
  snprintf(e.dir, sizeof e.dir, "/tmp/nb-e2e-bscoaps-XXXXXX");
  assert_non_null(mkdtemp(e.dir));
  snprintf(e.db, sizeof e.db, "%s/nb.db", e.dir);
  snprintf(e.coap, sizeof e.coap, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  snprintf(e.bs, sizeof e.bs, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e.http, sizeof e.http, "127.0.0.1:%u", hp);
  snprintf(e.base, sizeof e.base, "http://127.0.0.1:%u", hp);
  char *srv_sid = make_key(&e, "srv");
  char *dev_sid = make_key(&e, "dev");
  free(make_key(&e, "rogue"));

  nb_test_proc srv;
  char *argv[] = {e.bin,
                  "server",
                  "--coap",
                  e.coap,
                  "--http",
                  e.http,
                  "--db",
                  e.db,
                  "--rpk-key",
                  path_in(&e, "srv.key.pem"),
                  "--with-bootstrap",
                  "--bs-coaps",
                  e.bs,
                  NULL};
  assert_true(nb_test_proc_start(&srv, argv));
  assert_true(nb_test_proc_wait_output(&srv, true, "proto=http", 10000));

  char body[256];
  snprintf(body, sizeof body,
           "{\"servers\":[{\"uri\":\"coap://%s\",\"ssid\":101,\"lifetime\":300,"
           "\"binding\":\"U\",\"security\":\"nosec\"}]}",
           e.coap);
  expect(&e, "PUT", "/api/bootstrap/configs/factory-1", body, "|201");
  snprintf(body, sizeof body, "{\"secureId\":\"%s\"}", dev_sid);
  expect(&e, "PUT", "/api/bootstrap/expected/factory-1", body, "|200");

  /* A key nobody registered: refused at the handshake, never registers. */
  nb_test_proc rogue, dev;
  start_client(&e, &rogue, "factory-1", path_in(&e, "rogue.key.pem"), srv_sid);
  assert_true(nb_test_proc_wait_output(&srv, true, "BOOTSTRAP_ALERT", 15000));

  start_client(&e, &dev, "factory-1", path_in(&e, "dev.key.pem"), srv_sid);
  assert_true(wait_for(&e, "/api/clients", "\"endpoint\":\"factory-1\"", 20000));
  char *log = nb_test_proc_stderr(&srv);
  assert_non_null(strstr(log, "event=BOOTSTRAP_FINISHED ep=factory-1"));
  free(log);

  nb_test_proc_stop(&dev);
  nb_test_proc_cleanup(&dev);
  nb_test_proc_stop(&rogue);
  nb_test_proc_cleanup(&rogue);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  free(srv_sid);
  free(dev_sid);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e.dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rpk_bootstrap_in_server),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
