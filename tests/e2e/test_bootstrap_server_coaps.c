/* `niobium server --with-bootstrap --bs-coaps` end to end with the real binaries: the bootstrap
 * role over DTLS with raw public keys inside the server process. The operator registers a
 * device's secure ID and its config over REST; a `niobium client --bootstrap coaps://` with
 * that factory key is bootstrapped over DTLS and registers with the same process; a client
 * with a key nobody registered is refused at the handshake (BOOTSTRAP_ALERT) and never
 * registers. A client that asks for a signed bootstrap gets its configuration signed by the
 * bootstrap server and answers with a signed receipt: both sides keep the signed bytes, and
 * `niobium cose verify` checks each with the other side's public key alone. Devices with a
 * manufacturer's X.509 certificate: the server runs with --cert/--key/--ca, the operator gives
 * the certificate's CN a config and nothing else; that device bootstraps signed and
 * registers, one from another CA fails the handshake, one whose CN has no config is refused
 * with BOOTSTRAP_ALERT. */
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

/* creds: the client's credential options (NULL-terminated, at most 6); evidence_dir: NULL for
 * a plain bootstrap, else --signed-bootstrap keeping evidence there. */
static void start_client(const env *e, nb_test_proc *p, const char *ep, const char *const *creds,
                         const char *evidence_dir) {
  char uri[64];
  snprintf(uri, sizeof uri, "coaps://%s", e->bs);
  char *argv[16] = {e->bin, "client", "--bootstrap", uri, "--endpoint", (char *)ep};
  size_t n = 6;
  for (size_t i = 0; creds[i] && i < 6; i++) argv[n++] = (char *)creds[i];
  if (evidence_dir) {
    argv[n++] = "--signed-bootstrap";
    argv[n++] = "--evidence-dir";
    argv[n++] = (char *)evidence_dir;
  }
  argv[n] = NULL;
  assert_true(nb_test_proc_start(p, argv));
}

/* A device with its factory RPK key DIR/NAME.key.pem, pinning the server's secure ID. */
static void start_rpk_client(const env *e, nb_test_proc *p, const char *ep, const char *name,
                             const char *server_sid, const char *evidence_dir) {
  char key[192];
  snprintf(key, sizeof key, "%s/%s.key.pem", e->dir, name);
  const char *creds[] = {"--rpk-key", key, "--server-secure-id", server_sid, NULL};
  start_client(e, p, ep, creds, evidence_dir);
}

/* A device with the certificate DIR/NAME.crt.pem (key NAME.key.pem) from the maker's CA. */
static void start_x509_client(const env *e, nb_test_proc *p, const char *ep, const char *name,
                              const char *evidence_dir) {
  char cert[192], key[192], ca[192];
  snprintf(cert, sizeof cert, "%s/%s.crt.pem", e->dir, name);
  snprintf(key, sizeof key, "%s/%s.key.pem", e->dir, name);
  snprintf(ca, sizeof ca, "%s/maker.crt.pem", e->dir);
  const char *creds[] = {"--cert", cert, "--key", key, "--ca", ca, NULL};
  start_client(e, p, ep, creds, evidence_dir);
}

/* The server with the bootstrap role on coaps; creds: its credential options (NULL-terminated,
 * at most 6), shared by both roles. */
static void start_server(env *e, nb_test_proc *srv, const char *const *creds) {
  e->bin = (char *)nb_test_env("NB_BINARY");
  snprintf(e->db, sizeof e->db, "%s/nb.db", e->dir);
  snprintf(e->coap, sizeof e->coap, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  snprintf(e->bs, sizeof e->bs, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e->http, sizeof e->http, "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof e->base, "http://127.0.0.1:%u", hp);
  char *argv[20] = {e->bin, "server", "--coap", e->coap, "--http", e->http, "--db", e->db};
  size_t n = 8;
  for (size_t i = 0; creds[i] && i < 6; i++) argv[n++] = (char *)creds[i];
  argv[n++] = "--with-bootstrap";
  argv[n++] = "--bs-coaps";
  argv[n++] = e->bs;
  argv[n] = NULL;
  assert_true(nb_test_proc_start(srv, argv));
  assert_true(nb_test_proc_wait_output(srv, true, "proto=http", 10000));
}

/* Its raw public key DIR/srv.key.pem. */
static void start_rpk_server(env *e, nb_test_proc *srv) {
  const char *creds[] = {"--rpk-key", path_in(e, "srv.key.pem"), NULL};
  start_server(e, srv, creds);
}

/* Its certificate DIR/bs.crt.pem, trusting the maker's CA for device certificates. */
static void start_x509_server(env *e, nb_test_proc *srv) {
  char cert[192], key[192], ca[192];
  snprintf(cert, sizeof cert, "%s/bs.crt.pem", e->dir);
  snprintf(key, sizeof key, "%s/bs.key.pem", e->dir);
  snprintf(ca, sizeof ca, "%s/maker.crt.pem", e->dir);
  const char *creds[] = {"--cert", cert, "--key", key, "--ca", ca, NULL};
  start_server(e, srv, creds);
}

/* A NoSec management account for ep and, unless NULL, the device's secure ID, over REST. */
static void provision(const env *e, const char *ep, const char *dev_sid) {
  char body[256], path[96];
  snprintf(body, sizeof body,
           "{\"servers\":[{\"uri\":\"coap://%s\",\"ssid\":101,\"lifetime\":300,"
           "\"binding\":\"U\",\"security\":\"nosec\"}]}",
           e->coap);
  snprintf(path, sizeof path, "/api/bootstrap/configs/%s", ep);
  expect(e, "PUT", path, body, "|201");
  if (!dev_sid) return;
  snprintf(body, sizeof body, "{\"secureId\":\"%s\"}", dev_sid);
  snprintf(path, sizeof path, "/api/bootstrap/expected/%s", ep);
  expect(e, "PUT", path, body, "|200");
}

static void remove_dir(const env *e) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
  assert_int_equal(system(cmd), 0);
}

static void test_rpk_bootstrap_in_server(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  memset(&e, 0, sizeof e);
  e.bin = (char *)nb_test_env("NB_BINARY");
  snprintf(e.dir, sizeof e.dir, "/tmp/nb-e2e-bscoaps-XXXXXX");
  assert_non_null(mkdtemp(e.dir));
  char *srv_sid = make_key(&e, "srv");
  char *dev_sid = make_key(&e, "dev");
  free(make_key(&e, "rogue"));
  nb_test_proc srv;
  start_rpk_server(&e, &srv);
  provision(&e, "factory-1", dev_sid);

  /* A key nobody registered: refused at the handshake, never registers. */
  nb_test_proc rogue, dev;
  start_rpk_client(&e, &rogue, "factory-1", "rogue", srv_sid, NULL);
  assert_true(nb_test_proc_wait_output(&srv, true, "BOOTSTRAP_ALERT", 15000));

  start_rpk_client(&e, &dev, "factory-1", "dev", srv_sid, NULL);
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
  remove_dir(&e);
}

/* `niobium cose verify` on one file: its exit status, its JSON line into out (heap). */
static int cose_verify(const env *e, const char *key, const char *claim, const char *value,
                       const char *file, char **out) {
  char *argv[] = {e->bin,        "cose",        "verify",     "--key", (char *)key,
                  (char *)claim, (char *)value, (char *)file, NULL};
  return nb_test_run(argv, 30000, out);
}

/* The "cti" of a verify JSON line, into cti[65]. */
static void cti_of(const char *json, char *cti) {
  const char *at = strstr(json, "\"cti\":\"");
  assert_non_null(at);
  snprintf(cti, 65, "%.*s", (int)strcspn(at + 7, "\""), at + 7);
}

/* The device kept its evidence in DIR/ev: every write checks with the bootstrap server's
 * public key (or certificate) DIR/bs_pub only, the receipt with the device's DIR/dev_pub only;
 * the receipt's cti into cti when not NULL. */
static void check_device_evidence(const env *e, const char *ep, const char *dev_pub,
                                  const char *bs_pub, char *cti) {
  DIR *d = opendir(path_in(e, "ev"));
  assert_non_null(d);
  size_t writes = 0, receipts = 0;
  for (struct dirent *de; (de = readdir(d));) {
    if (de->d_name[0] == '.') continue;
    char file[384];
    snprintf(file, sizeof file, "%s/ev/%s", e->dir, de->d_name);
    bool receipt = strstr(de->d_name, "-receipt-") != NULL;
    const char *own = receipt ? dev_pub : bs_pub;
    const char *other = receipt ? bs_pub : dev_pub;
    char *out = NULL;
    int rc = cose_verify(e, path_in(e, own), receipt ? "--iss" : "--sub", ep, file, &out);
    if (rc != 0) fail_msg("%s: %s", de->d_name, out);
    assert_non_null(strstr(out, "\"valid\":true"));
    if (receipt && cti) cti_of(out, cti);
    free(out);
    assert_int_equal(cose_verify(e, path_in(e, other), "--iss", ep, file, &out), 1);
    assert_non_null(strstr(out, "\"valid\":false"));
    free(out);
    receipt ? receipts++ : writes++;
  }
  closedir(d);
  assert_int_equal(receipts, 1);
  assert_true(writes >= 2); /* Security and Server instances */
}

/* The receipt the bootstrap server kept (REST, base64) checks with the device's public key and
 * names the same bootstrap as the device's copy. */
static void check_server_evidence(const env *e, const char *ep, const char *cti) {
  char path[96];
  snprintf(path, sizeof path, "/api/bootstrap/evidence/%s", ep);
  char *json = nb_test_http(e->base, "GET", path, NULL);
  assert_non_null(json);
  const char *r = strstr(json, "\"kind\":\"receipt\"");
  assert_non_null(r);
  const char *c = strstr(r, "\"cose\":\"");
  assert_non_null(c);
  c += 8;
  char *file = path_in(e, "receipt.b64");
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fprintf(f, "%.*s\n", (int)strcspn(c, "\""), c);
  fclose(f);
  free(json);
  char *out = NULL;
  assert_int_equal(cose_verify(e, path_in(e, "dev.pub.pem"), "--cti", cti, file, &out), 0);
  assert_non_null(strstr(out, "\"valid\":true"));
  free(out);
}

static void test_signed_bootstrap_evidence(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  memset(&e, 0, sizeof e);
  e.bin = (char *)nb_test_env("NB_BINARY");
  snprintf(e.dir, sizeof e.dir, "/tmp/nb-e2e-bssigned-XXXXXX");
  assert_non_null(mkdtemp(e.dir));
  char *srv_sid = make_key(&e, "srv");
  char *dev_sid = make_key(&e, "dev");
  assert_int_equal(mkdir(path_in(&e, "ev"), 0700), 0);
  nb_test_proc srv, dev;
  start_rpk_server(&e, &srv);
  provision(&e, "signed-1", dev_sid);
  start_rpk_client(&e, &dev, "signed-1", "dev", srv_sid, path_in(&e, "ev"));
  assert_true(wait_for(&e, "/api/clients", "\"endpoint\":\"signed-1\"", 20000));
  char *log = nb_test_proc_stderr(&srv);
  assert_non_null(strstr(log, "event=BOOTSTRAP_FINISHED ep=signed-1"));
  free(log);
  nb_test_proc_stop(&dev);
  nb_test_proc_cleanup(&dev);

  char cti[65] = "";
  check_device_evidence(&e, "signed-1", "dev.pub.pem", "srv.pub.pem", cti);
  check_server_evidence(&e, "signed-1", cti);

  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  free(srv_sid);
  free(dev_sid);
  remove_dir(&e);
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
  start_x509_server(&e, &srv);
  provision(&e, "x509-dev-1", NULL);
  provision(&e, "x509-dev-2", NULL);

  /* Another CA: the handshake fails although the CN has a config. No config for the CN of a
   * certificate from the right CA: refused with an alert. */
  start_x509_client(&e, &forged, "x509-dev-2", "forged", NULL);
  start_x509_client(&e, &stray, "x509-dev-3", "stray", NULL);
  assert_true(nb_test_proc_wait_output(&srv, true, "event=BOOTSTRAP_ALERT", 15000));
  assert_true(nb_test_proc_wait_output(&srv, true, "alert=unknown_ca", 15000));

  start_x509_client(&e, &dev, "x509-dev-1", "dev1", path_in(&e, "ev"));
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
  check_device_evidence(&e, "x509-dev-1", "dev1.crt.pem", "bs.crt.pem", NULL);

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
      cmocka_unit_test(test_rpk_bootstrap_in_server),
      cmocka_unit_test(test_signed_bootstrap_evidence),
      cmocka_unit_test(test_x509_bootstrap_in_server),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
