/* `niobium client` against `niobium server` over DTLS, both real binaries on free loopback
 * ports, in PSK (server credentials from a --psk file), RPK and X.509 (credentials through the
 * REST API, keys and certificates from `niobium keys`): the device registers (GET /api/clients),
 * a REST read reaches it, and SIGTERM on the client de-registers it (gone from the list). A
 * device with the wrong PSK key never registers. */
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

typedef struct {
  char dir[64], db[128];
  char coaps[32], http[32], base[64], uri[64];
} env;

static void env_init(env *e) {
  snprintf(e->dir, sizeof e->dir, "/tmp/nb-e2e-scdtls-XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  snprintf(e->db, sizeof e->db, "%s/server.db", e->dir);
  uint16_t cp = nb_test_free_port(SOCK_DGRAM);
  snprintf(e->coaps, sizeof e->coaps, "127.0.0.1:%u", cp);
  snprintf(e->uri, sizeof e->uri, "coaps://127.0.0.1:%u", cp);
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e->http, sizeof e->http, "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof e->base, "http://127.0.0.1:%u", hp);
}

static void env_cleanup(env *e) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
  assert_int_equal(system(cmd), 0);
}

static char *path_in(const env *e, const char *name) {
  static char p[8][192];
  static int i;
  i = (i + 1) % 8;
  snprintf(p[i], sizeof p[i], "%s/%s", e->dir, name);
  return p[i];
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void run_ok(char *const argv[]) {
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 30000, &out), 0);
  free(out);
}

static char *hex_file(const char *path) {
  size_t len = 0;
  char *raw = nb_test_read_file(path, &len);
  assert_non_null(raw);
  char *hex = malloc(2 * len + 1);
  assert_non_null(hex);
  for (size_t i = 0; i < len; i++) snprintf(hex + 2 * i, 3, "%02x", (uint8_t)raw[i]);
  hex[2 * len] = '\0';
  free(raw);
  return hex;
}

/* Starts the server with extra options (NULL-terminated). */
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

/* Starts `niobium client --server <coaps uri> --endpoint ep` with extra options. */
static void start_client(nb_test_proc *p, const env *e, const char *ep, char *const extra[]) {
  char *argv[24] = {(char *)nb_test_env("NB_BINARY"),
                    "client",
                    "--server",
                    (char *)e->uri,
                    "--endpoint",
                    (char *)ep,
                    "--lifetime",
                    "60",
                    "--sensors",
                    "none"};
  size_t n = 10;
  for (size_t i = 0; extra[i]; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  assert_true(nb_test_proc_start(p, argv));
}

/* "BODY|STATUS" of a request to a full URL. */
static char *curl(const char *method, const char *url, const char *body) {
  char *out = nb_test_http(url, method, "", body);
  assert_non_null(out);
  return out;
}

static bool listed(const env *e, const char *ep) {
  char url[96], needle[96];
  snprintf(url, sizeof url, "%s/api/clients", e->base);
  snprintf(needle, sizeof needle, "\"endpoint\":\"%s\"", ep);
  char *body = curl("GET", url, NULL);
  bool yes = strstr(body, needle) != NULL;
  free(body);
  return yes;
}

static void put_security(const env *e, const char *ep, const char *json) {
  char url[160];
  snprintf(url, sizeof url, "%s/api/security/clients/%s", e->base, ep);
  char *out = curl("PUT", url, json);
  assert_non_null(strstr(out, "|201"));
  free(out);
}

/* The whole cycle for a started client: registered and listed with the security mode, a REST
 * read of the manufacturer reaches it, SIGTERM de-registers it and it leaves the list. */
static void cycle(const env *e, nb_test_proc *cli, const char *ep, const char *mode) {
  assert_true(nb_test_proc_wait_output(cli, true, "event=registered", 20000));
  char url[192], needle[64];
  snprintf(url, sizeof url, "%s/api/clients/%s", e->base, ep);
  char *body = curl("GET", url, NULL);
  assert_non_null(strstr(body, "|200"));
  snprintf(needle, sizeof needle, "\"securityMode\":\"%s\"", mode);
  assert_non_null(strstr(body, needle));
  free(body);
  assert_true(listed(e, ep));

  snprintf(url, sizeof url, "%s/api/clients/%s/3/0/0", e->base, ep);
  body = curl("GET", url, NULL); /* the manufacturer, typed String by the definitions */
  assert_non_null(strstr(body, "|200"));
  assert_non_null(strstr(body, "\"Niobium\""));
  assert_non_null(strstr(body, "\"type\":\"String\""));
  free(body);

  assert_int_equal(kill(cli->pid, SIGTERM), 0);
  assert_int_equal(nb_test_proc_wait(cli, 20000), 0);
  char *log = nb_test_proc_stderr(cli);
  assert_non_null(strstr(log, "event=deregistered"));
  free(log);
  assert_false(listed(e, ep));
}

static void stop_server(nb_test_proc *srv) {
  nb_test_proc_stop(srv);
  nb_test_proc_cleanup(srv);
}

static bool have_tools(void) { return nb_test_have_program("curl"); }

static void test_psk(void **state) {
  (void)state;
  if (!have_tools()) skip();
  env e;
  env_init(&e);
  write_file(path_in(&e, "psk.txt"),
             "# endpoint,identity,hexkey\n"
             "psk-dev,psk-id-1,000102030405060708090a0b0c0d0e0f\n");
  nb_test_proc srv, cli;
  char *sx[] = {"--psk", path_in(&e, "psk.txt"), NULL};
  start_server(&srv, &e, sx);
  char *cx[] = {"--psk-identity", "psk-id-1", "--psk-key", "000102030405060708090a0b0c0d0e0f",
                NULL};
  start_client(&cli, &e, "psk-dev", cx);
  cycle(&e, &cli, "psk-dev", "psk");
  nb_test_proc_cleanup(&cli);
  stop_server(&srv);
  env_cleanup(&e);
}

static void test_psk_wrong_key(void **state) {
  (void)state;
  if (!have_tools()) skip();
  env e;
  env_init(&e);
  write_file(path_in(&e, "psk.txt"), "psk-dev,psk-id-1,000102030405060708090a0b0c0d0e0f\n");
  nb_test_proc srv, cli;
  char *sx[] = {"--psk", path_in(&e, "psk.txt"), NULL};
  start_server(&srv, &e, sx);
  char *cx[] = {"--psk-identity", "psk-id-1", "--psk-key", "ffeeddccbbaa99887766554433221100",
                NULL};
  start_client(&cli, &e, "psk-dev", cx);
  /* The handshake fails (bad Finished MAC), so no Register ever reaches the server. */
  assert_false(nb_test_proc_wait_output(&cli, true, "event=registered", 6000));
  assert_false(listed(&e, "psk-dev"));
  nb_test_proc_stop(&cli);
  char *log = nb_test_proc_stderr(&cli);
  assert_null(strstr(log, "event=registered"));
  assert_null(strstr(log, "ffeeddccbbaa")); /* keys never logged */
  free(log);
  nb_test_proc_cleanup(&cli);
  stop_server(&srv);
  env_cleanup(&e);
}

static void make_ec(const env *e, const char *name) {
  char *keys[] = {(char *)nb_test_env("NB_BINARY"), "keys", "ec", "--out", path_in(e, name), NULL};
  run_ok(keys);
}

static void test_rpk(void **state) {
  (void)state;
  if (!have_tools()) skip();
  env e;
  env_init(&e);
  make_ec(&e, "srv");
  make_ec(&e, "dev");
  nb_test_proc srv, cli;
  char *sx[] = {"--rpk-key", path_in(&e, "srv.key.pem"), NULL};
  start_server(&srv, &e, sx);
  char *spki = hex_file(path_in(&e, "dev.spki.der"));
  char json[512];
  snprintf(json, sizeof json, "{\"mode\":\"rpk\",\"publicKey\":\"%s\"}", spki);
  free(spki);
  put_security(&e, "rpk-dev", json);
  char *cx[] = {"--rpk-key", path_in(&e, "dev.key.pem"), "--server-key", path_in(&e, "srv.pub.pem"),
                NULL};
  start_client(&cli, &e, "rpk-dev", cx);
  cycle(&e, &cli, "rpk-dev", "rpk");
  nb_test_proc_cleanup(&cli);
  stop_server(&srv);
  env_cleanup(&e);
}

static void test_x509(void **state) {
  (void)state;
  if (!have_tools()) skip();
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
  nb_test_proc srv, cli;
  char *sx[] = {"--cert", path_in(&e, "srv.crt.pem"), "--key", path_in(&e, "srv.key.pem"),
                "--ca",   path_in(&e, "ca.crt.pem"),  NULL};
  start_server(&srv, &e, sx);
  put_security(&e, "x509-dev", "{\"mode\":\"x509\",\"identity\":\"x509-dev\"}");
  char *cx[] = {"--cert", path_in(&e, "dev.crt.pem"), "--key", path_in(&e, "dev.key.pem"),
                "--ca",   path_in(&e, "ca.crt.pem"),  NULL};
  start_client(&cli, &e, "x509-dev", cx);
  cycle(&e, &cli, "x509-dev", "x509");
  nb_test_proc_cleanup(&cli);
  stop_server(&srv);
  env_cleanup(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_psk),
      cmocka_unit_test(test_psk_wrong_key),
      cmocka_unit_test(test_rpk),
      cmocka_unit_test(test_x509),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
