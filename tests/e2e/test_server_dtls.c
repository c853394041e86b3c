/* `niobium server --coaps` end to end on 127.0.0.1 with libcoap's DTLS clients: PSK from a
 * --psk file, raw public keys and X.509 certificates bound through the REST API. A registered
 * credential registers (seen in GET /api/clients), a wrong key or unknown certificate is refused
 * at the handshake, and identity A registering as endpoint B gets 4.03. */
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
  char dir[64], db[128];
  char coaps[32], http[32], base[64];
} env;

static void env_init(env *e) {
  snprintf(e->dir, sizeof(e->dir), "/tmp/nb-e2e-sdtls-XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  snprintf(e->db, sizeof(e->db), "%s/server.db", e->dir);
  snprintf(e->coaps, sizeof(e->coaps), "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e->http, sizeof(e->http), "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%u", hp);
}

static void env_cleanup(env *e) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
  assert_int_equal(system(cmd), 0);
}

static char *path_in(const env *e, const char *name) {
  static char p[4][192];
  static int i;
  i = (i + 1) % 4;
  snprintf(p[i], sizeof(p[i]), "%s/%s", e->dir, name);
  return p[i];
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* Starts the server with extra options (NULL-terminated list of up to 8). */
static void start_server(nb_test_proc *p, const env *e, char *const extra[]) {
  char *argv[24] = {(char *)nb_test_env("NB_BINARY"),
                    "server",
                    "--coaps",
                    (char *)e->coaps,
                    "--http",
                    (char *)e->http,
                    "--db",
                    (char *)e->db};
  size_t n = 8;
  for (size_t i = 0; extra[i]; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  assert_true(nb_test_proc_start(p, argv));
  assert_true(nb_test_proc_wait_output(p, true, "proto=http", 10000));
}

/* "BODY|STATUS" of a request to a full URL. */
static char *curl(const char *method, const char *url, const char *body) {
  char *out = nb_test_http(url, method, "", body);
  assert_non_null(out);
  return out;
}

static char *clients(const env *e) {
  char url[96];
  snprintf(url, sizeof(url), "%s/api/clients", e->base);
  return curl("GET", url, NULL);
}

static void put_security(const env *e, const char *ep, const char *json) {
  char url[160];
  snprintf(url, sizeof(url), "%s/api/security/clients/%s", e->base, ep);
  char *out = curl("PUT", url, json);
  assert_non_null(strstr(out, "|201"));
  free(out);
}

/* Runs a libcoap client (argv up to the URI), Register as ep; returns its combined output. */
static char *coap_register(const env *e, char *const client[], const char *ep) {
  char uri[160];
  snprintf(uri, sizeof(uri), "coaps://%s/rd?ep=%s&lt=60&lwm2m=1.1", e->coaps, ep);
  char *argv[24];
  size_t n = 0;
  for (; client[n]; n++) argv[n] = client[n];
  char *tail[] = {"-m", "post", "-B", "8", "-e", "</1/0>,</3/0>", uri, NULL};
  for (size_t i = 0; tail[i]; i++) argv[n++] = tail[i];
  argv[n] = NULL;
  char *out = NULL, *err = NULL;
  nb_test_run_capture(argv, 30000, &out, &err);
  size_t len = strlen(out) + strlen(err) + 2;
  char *all = malloc(len);
  assert_non_null(all);
  snprintf(all, len, "%s\n%s", out, err);
  free(out);
  free(err);
  return all;
}

static void run_ok(char *const argv[]) {
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 30000, &out), 0);
  free(out);
}

static void test_psk(void **state) {
  (void)state;
  if (!nb_test_have_program("coap-client-openssl") || !nb_test_have_program("curl")) skip();
  env e;
  env_init(&e);
  /* ASCII keys as coap-client's -k takes them: "secret-alpha-01" and "secret-bravo-02". */
  write_file(path_in(&e, "psk.txt"),
             "# endpoint,identity,hexkey\n"
             "dev-a,id-a,7365637265742d616c7068612d3031\n"
             "dev-b,id-b,7365637265742d627261766f2d3032\n");
  nb_test_proc srv;
  char *extra[] = {"--psk", path_in(&e, "psk.txt"), NULL};
  start_server(&srv, &e, extra);

  char *good[] = {"coap-client-openssl", "-u", "id-a", "-k", "secret-alpha-01", NULL};
  char *out = coap_register(&e, good, "dev-a");
  assert_null(strstr(out, "4.0"));
  free(out);
  char *body = clients(&e);
  assert_non_null(strstr(body, "\"endpoint\":\"dev-a\""));
  assert_non_null(strstr(body, "\"securityMode\":\"psk\""));
  assert_non_null(strstr(body, "\"identity\":\"id-a\""));
  free(body);

  /* Right identity, wrong key: the handshake fails and nothing registers. */
  char *wrong[] = {"coap-client-openssl", "-u", "id-b", "-k", "not-the-key-000", NULL};
  out = coap_register(&e, wrong, "dev-b");
  free(out);
  /* Unknown identity. */
  char *unknown[] = {"coap-client-openssl", "-u", "nobody", "-k", "secret-bravo-02", NULL};
  out = coap_register(&e, unknown, "dev-b");
  free(out);
  body = clients(&e);
  assert_null(strstr(body, "\"endpoint\":\"dev-b\""));
  free(body);

  /* id-a's key is genuine but dev-b is not its endpoint. */
  out = coap_register(&e, good, "dev-b");
  assert_non_null(strstr(out, "4.03"));
  free(out);
  body = clients(&e);
  assert_null(strstr(body, "\"endpoint\":\"dev-b\""));
  free(body);

  /* And the genuine dev-b does register. */
  char *b[] = {"coap-client-openssl", "-u", "id-b", "-k", "secret-bravo-02", NULL};
  out = coap_register(&e, b, "dev-b");
  free(out);
  body = clients(&e);
  assert_non_null(strstr(body, "\"endpoint\":\"dev-b\""));
  free(body);
  nb_test_proc_stop(&srv);
  char *log = nb_test_proc_stderr(&srv);
  assert_null(strstr(log, "secret")); /* keys never logged */
  assert_null(strstr(log, "7365637265742d"));
  free(log);
  nb_test_proc_cleanup(&srv);
  env_cleanup(&e);
}

static char *hex_file(const char *path) {
  size_t len = 0;
  char *raw = nb_test_read_file(path, &len);
  assert_non_null(raw);
  char *hex = malloc(2 * len + 1);
  assert_non_null(hex);
  for (size_t i = 0; i < len; i++) snprintf(hex + 2 * i, 3, "%02x", (uint8_t)raw[i]);
  free(raw);
  return hex;
}

/* PUBLIC KEY + PRIVATE KEY in one PEM, as coap-client-gnutls -M takes them. */
static void make_rpk(const env *e, const char *name) {
  char prefix[160], cmd[3 * sizeof prefix + 64];
  snprintf(prefix, sizeof(prefix), "%s/%s", e->dir, name);
  char *keys[] = {(char *)nb_test_env("NB_BINARY"), "keys", "ec", "--out", prefix, NULL};
  run_ok(keys);
  snprintf(cmd, sizeof(cmd), "cat '%s.pub.pem' '%s.key.pem' > '%s.rpk.pem'", prefix, prefix,
           prefix);
  assert_int_equal(system(cmd), 0);
}

static void test_rpk(void **state) {
  (void)state;
  if (!nb_test_have_program("coap-client-gnutls") || !nb_test_have_program("curl")) skip();
  env e;
  env_init(&e);
  make_rpk(&e, "srv");
  make_rpk(&e, "dev");
  make_rpk(&e, "rogue");
  nb_test_proc srv;
  char *extra[] = {"--rpk-key", path_in(&e, "srv.key.pem"), NULL};
  start_server(&srv, &e, extra);
  char *spki = hex_file(path_in(&e, "dev.spki.der"));
  char json[512];
  snprintf(json, sizeof(json), "{\"mode\":\"rpk\",\"publicKey\":\"%s\"}", spki);
  free(spki);
  put_security(&e, "rpk-dev", json);

  char *rogue[] = {"coap-client-gnutls", "-M", path_in(&e, "rogue.rpk.pem"), NULL};
  char *out = coap_register(&e, rogue, "rpk-dev");
  free(out);
  char *body = clients(&e);
  assert_null(strstr(body, "\"endpoint\":\"rpk-dev\""));
  free(body);

  char *dev[] = {"coap-client-gnutls", "-M", path_in(&e, "dev.rpk.pem"), NULL};
  out = coap_register(&e, dev, "someone-else");
  assert_non_null(strstr(out, "4.03"));
  free(out);
  out = coap_register(&e, dev, "rpk-dev");
  assert_null(strstr(out, "4.0"));
  free(out);
  body = clients(&e);
  assert_non_null(strstr(body, "\"endpoint\":\"rpk-dev\""));
  assert_non_null(strstr(body, "\"securityMode\":\"rpk\""));
  assert_null(strstr(body, "someone-else"));
  free(body);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  env_cleanup(&e);
}

static void test_x509(void **state) {
  (void)state;
  if (!nb_test_have_program("coap-client-gnutls") || !nb_test_have_program("curl")) skip();
  env e;
  env_init(&e);
  char *bin = (char *)nb_test_env("NB_BINARY");
  char *ca[] = {bin, "keys", "cert", "ca", "--cn", "Test CA", "--out", path_in(&e, "ca"), NULL};
  run_ok(ca);
  char *srvc[] = {bin,    "keys",   "cert",  "issue",     "--ca",  path_in(&e, "ca"),
                  "--cn", "server", "--san", "127.0.0.1", "--out", path_in(&e, "srv"),
                  NULL};
  run_ok(srvc);
  char *devc[] = {bin,     "keys",
                  "cert",  "issue",
                  "--ca",  path_in(&e, "ca"),
                  "--cn",  "x509-dev",
                  "--out", path_in(&e, "dev"),
                  NULL};
  run_ok(devc);
  char *other[] = {bin,     "keys",
                   "cert",  "issue",
                   "--ca",  path_in(&e, "ca"),
                   "--cn",  "stranger",
                   "--out", path_in(&e, "other"),
                   NULL};
  run_ok(other);
  nb_test_proc srv;
  char *extra[] = {"--cert", path_in(&e, "srv.crt.pem"), "--key", path_in(&e, "srv.key.pem"),
                   "--ca",   path_in(&e, "ca.crt.pem"),  NULL};
  start_server(&srv, &e, extra);
  put_security(&e, "x509-dev", "{\"mode\":\"x509\",\"identity\":\"x509-dev\"}");

  /* Chains to the CA but its CN is bound to no endpoint: refused at the handshake. */
  char *stranger[] = {"coap-client-gnutls",         "-c", path_in(&e, "other.crt.pem"), "-j",
                      path_in(&e, "other.key.pem"), "-C", path_in(&e, "ca.crt.pem"),    NULL};
  char *out = coap_register(&e, stranger, "x509-dev");
  free(out);
  char *body = clients(&e);
  assert_null(strstr(body, "\"endpoint\":\"x509-dev\""));
  free(body);

  char *dev[] = {"coap-client-gnutls",       "-c", path_in(&e, "dev.crt.pem"), "-j",
                 path_in(&e, "dev.key.pem"), "-C", path_in(&e, "ca.crt.pem"),  NULL};
  out = coap_register(&e, dev, "x509-dev");
  assert_null(strstr(out, "4.0"));
  free(out);
  body = clients(&e);
  assert_non_null(strstr(body, "\"endpoint\":\"x509-dev\""));
  assert_non_null(strstr(body, "\"securityMode\":\"x509\""));
  free(body);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  env_cleanup(&e);
}

static void test_usage(void **state) {
  (void)state;
  char *out = NULL, *err = NULL;
  char *a1[] = {(char *)nb_test_env("NB_BINARY"), "server", "--rpk-key", "/nonexistent", NULL};
  assert_int_equal(nb_test_run_capture(a1, 10000, &out, &err), 2);
  assert_non_null(strstr(err, "--coaps"));
  free(out);
  free(err);
  char *a2[] = {(char *)nb_test_env("NB_BINARY"),
                "server",
                "--coaps",
                "127.0.0.1:0",
                "--http",
                "127.0.0.1:0",
                "--db",
                "/tmp/nb-e2e-sdtls-unused.db",
                "--psk",
                "/nonexistent.psk",
                NULL};
  assert_int_equal(nb_test_run_capture(a2, 10000, &out, &err), 1);
  assert_non_null(strstr(err, "--psk"));
  free(out);
  free(err);
  unlink("/tmp/nb-e2e-sdtls-unused.db");
  unlink("/tmp/nb-e2e-sdtls-unused.db-wal");
  unlink("/tmp/nb-e2e-sdtls-unused.db-shm");
  char *a3[] = {(char *)nb_test_env("NB_BINARY"), "server", "--help", NULL};
  assert_int_equal(nb_test_run_capture(a3, 10000, &out, &err), 0);
  assert_non_null(strstr(out, "--coaps"));
  assert_non_null(strstr(out, "--rpk-key"));
  free(out);
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_psk),
      cmocka_unit_test(test_rpk),
      cmocka_unit_test(test_x509),
      cmocka_unit_test(test_usage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
