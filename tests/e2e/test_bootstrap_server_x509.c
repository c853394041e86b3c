/* Devices with X.509 certificates bootstrapped by `niobium server --with-bootstrap --bs-coaps`
 * end to end with the real binaries. `niobium keys cert` makes a manufacturer CA, the
 * bootstrap server's certificate and the devices' certificates; the server runs with --cert,
 * --key and --ca (the manufacturer's CA), shared with its bootstrap role. The operator gives
 * the device's endpoint (its certificate's CN) a config over REST, nothing else: a
 * `niobium client --bootstrap coaps:// --cert --key --ca --signed-bootstrap` is bootstrapped
 * and registers, and every signed write it kept verifies with the bootstrap server's
 * certificate, its receipt with its own. A device whose certificate comes from another CA is
 * refused at the handshake and never registers; one whose certificate names an endpoint
 * without a config is refused with BOOTSTRAP_ALERT. */
#include <dirent.h>
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

/* `niobium keys cert ca|issue`: DIR/NAME.crt.pem and DIR/NAME.key.pem. */
static void make_ca(const env *e, const char *name, const char *cn) {
  char prefix[160];
  snprintf(prefix, sizeof prefix, "%s/%s", e->dir, name);
  char *argv[] = {e->bin, "keys", "cert", "ca", "--cn", (char *)cn, "--out", prefix, NULL};
  assert_int_equal(nb_test_run(argv, 30000, NULL), 0);
}

static void issue(const env *e, const char *ca, const char *name, const char *cn) {
  char prefix[160], ca_prefix[160];
  snprintf(prefix, sizeof prefix, "%s/%s", e->dir, name);
  snprintf(ca_prefix, sizeof ca_prefix, "%s/%s", e->dir, ca);
  char *argv[] = {e->bin,     "keys",  "cert",      "issue", "--ca", ca_prefix, "--cn",
                  (char *)cn, "--san", "127.0.0.1", "--out", prefix, NULL};
  assert_int_equal(nb_test_run(argv, 30000, NULL), 0);
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

/* A device with DIR/NAME.crt.pem, trusting the manufacturer CA for the bootstrap server's
 * certificate; signed bootstrap with evidence in DIR/ev when signed. */
static void start_client(const env *e, nb_test_proc *p, const char *ep, const char *name,
                         bool signed_) {
  char uri[64], cert[192], key[192];
  snprintf(uri, sizeof uri, "coaps://%s", e->bs);
  snprintf(cert, sizeof cert, "%s/%s.crt.pem", e->dir, name);
  snprintf(key, sizeof key, "%s/%s.key.pem", e->dir, name);
  char *argv[16] = {e->bin,       "client",   "--bootstrap", uri,
                    "--endpoint", (char *)ep, "--cert",      cert,
                    "--key",      key,        "--ca",        path_in(e, "maker.crt.pem"),
                    NULL};
  if (signed_) {
    argv[12] = "--signed-bootstrap";
    argv[13] = "--evidence-dir";
    argv[14] = path_in(e, "ev");
    argv[15] = NULL;
  }
  assert_true(nb_test_proc_start(p, argv));
}

/* The server with its bootstrap role on coaps, both with DIR/bs.crt.pem, trusting the
 * manufacturer's CA for device certificates. */
static void start_server(env *e, nb_test_proc *srv) {
  snprintf(e->db, sizeof e->db, "%s/nb.db", e->dir);
  snprintf(e->coap, sizeof e->coap, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  snprintf(e->bs, sizeof e->bs, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e->http, sizeof e->http, "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof e->base, "http://127.0.0.1:%u", hp);
  char cert[192], key[192], ca[192];
  snprintf(cert, sizeof cert, "%s/bs.crt.pem", e->dir);
  snprintf(key, sizeof key, "%s/bs.key.pem", e->dir);
  snprintf(ca, sizeof ca, "%s/maker.crt.pem", e->dir);
  char *argv[] = {e->bin, "server", "--coap",           e->coap,      "--http", e->http,
                  "--db", e->db,    "--cert",           cert,         "--key",  key,
                  "--ca", ca,       "--with-bootstrap", "--bs-coaps", e->bs,    NULL};
  assert_true(nb_test_proc_start(srv, argv));
  assert_true(nb_test_proc_wait_output(srv, true, "proto=http", 10000));
}

/* A NoSec management account for ep, over REST; no secure ID registered. */
static void provision(const env *e, const char *ep) {
  char body[256], path[96];
  snprintf(body, sizeof body,
           "{\"servers\":[{\"uri\":\"coap://%s\",\"ssid\":101,\"lifetime\":300,"
           "\"binding\":\"U\",\"security\":\"nosec\"}]}",
           e->coap);
  snprintf(path, sizeof path, "/api/bootstrap/configs/%s", ep);
  expect(e, "PUT", path, body, "|201");
}

/* `niobium cose verify` on one file: its exit status, its JSON line into out (heap). */
static int cose_verify(const env *e, const char *key, const char *claim, const char *value,
                       const char *file, char **out) {
  char *argv[] = {e->bin,        "cose",        "verify",     "--key", (char *)key,
                  (char *)claim, (char *)value, (char *)file, NULL};
  return nb_test_run(argv, 30000, out);
}

/* Every write the device kept checks with the bootstrap server's certificate only, the
 * receipt with the device's certificate only. */
static void check_device_evidence(const env *e, const char *ep) {
  DIR *d = opendir(path_in(e, "ev"));
  assert_non_null(d);
  size_t writes = 0, receipts = 0;
  for (struct dirent *de; (de = readdir(d));) {
    if (de->d_name[0] == '.') continue;
    char file[384];
    snprintf(file, sizeof file, "%s/ev/%s", e->dir, de->d_name);
    bool receipt = strstr(de->d_name, "-receipt-") != NULL;
    const char *own = receipt ? "dev1.crt.pem" : "bs.crt.pem";
    const char *other = receipt ? "bs.crt.pem" : "dev1.crt.pem";
    char *out = NULL;
    int rc = cose_verify(e, path_in(e, own), receipt ? "--iss" : "--sub", ep, file, &out);
    if (rc != 0) fail_msg("%s: %s", de->d_name, out);
    assert_non_null(strstr(out, "\"valid\":true"));
    free(out);
    assert_int_equal(cose_verify(e, path_in(e, other), "--iss", ep, file, &out), 1);
    free(out);
    if (receipt)
      receipts++;
    else
      writes++;
  }
  closedir(d);
  assert_int_equal(receipts, 1);
  assert_true(writes >= 2); /* Security and Server instances */
}

static void remove_dir(const env *e) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
  assert_int_equal(system(cmd), 0);
}

static void test_x509_bootstrap_in_server(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  memset(&e, 0, sizeof e);
  e.bin = (char *)nb_test_env("NB_BINARY");
  snprintf(e.dir, sizeof e.dir, "/tmp/nb-e2e-bsx509-XXXXXX");
  assert_non_null(mkdtemp(e.dir));
  make_ca(&e, "maker", "Maker CA");
  make_ca(&e, "other", "Other CA");
  issue(&e, "maker", "bs", "bootstrap.example");
  issue(&e, "maker", "dev1", "x509-dev-1");
  issue(&e, "other", "forged", "x509-dev-2");
  issue(&e, "maker", "stray", "x509-dev-3");
  assert_int_equal(mkdir(path_in(&e, "ev"), 0700), 0);
  nb_test_proc srv, forged, stray, dev;
  start_server(&e, &srv);
  provision(&e, "x509-dev-1");
  provision(&e, "x509-dev-2");

  /* Another CA: the handshake fails although the CN has a config. No config for the CN of a
   * certificate from the right CA: refused with an alert. */
  start_client(&e, &forged, "x509-dev-2", "forged", false);
  start_client(&e, &stray, "x509-dev-3", "stray", false);
  assert_true(nb_test_proc_wait_output(&srv, true, "event=BOOTSTRAP_ALERT", 15000));
  assert_true(nb_test_proc_wait_output(&srv, true, "alert=unknown_ca", 15000));

  start_client(&e, &dev, "x509-dev-1", "dev1", true);
  assert_true(wait_for(&e, "/api/clients", "\"endpoint\":\"x509-dev-1\"", 20000));
  char *log = nb_test_proc_stderr(&srv);
  assert_non_null(strstr(log, "event=BOOTSTRAP_FINISHED ep=x509-dev-1"));
  assert_non_null(strstr(log, "event=certificate-refused cn=\"x509-dev-3\""));
  assert_null(strstr(log, "event=BOOTSTRAP_REQUEST ep=x509-dev-2"));
  assert_null(strstr(log, "event=BOOTSTRAP_REQUEST ep=x509-dev-3"));
  free(log);
  char *clients = nb_test_http(e.base, "GET", "/api/clients", NULL);
  assert_non_null(clients);
  assert_null(strstr(clients, "x509-dev-2"));
  assert_null(strstr(clients, "x509-dev-3"));
  free(clients);
  nb_test_proc_stop(&dev);
  nb_test_proc_cleanup(&dev);
  check_device_evidence(&e, "x509-dev-1");

  nb_test_proc_stop(&stray);
  nb_test_proc_cleanup(&stray);
  nb_test_proc_stop(&forged);
  nb_test_proc_cleanup(&forged);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  remove_dir(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_x509_bootstrap_in_server),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
