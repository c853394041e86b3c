/* Signed device data with the real binaries: `niobium server --rpk-key` and `niobium client
 * --rpk-key` on free loopback ports (the device's key registered through the REST API). A
 * REST read with ?format=cose answers the records with a valid signature of the device's key;
 * GET /api/clients/{ep}/evidence hands the kept COSE_Sign1 out as base64, which `niobium cose
 * verify --key dev.pub.pem --iss EP` accepts offline and refuses with another key. A device
 * that answers a signed read with a payload the server cannot check (here a NoSec device
 * answering Content-Format 18: no key to check it with) gets 502, no value, nothing kept, and
 * an alert on /api/alerts. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "coap/msg.h"
#include "nb_test.h"

typedef struct {
  char dir[64], db[128];
  char coaps[32], http[32], base[64], uri[64];
} env;

static void env_init(env *e) {
  snprintf(e->dir, sizeof e->dir, "/tmp/nb-e2e-srvsig-XXXXXX");
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

static void make_ec(const env *e, const char *name) {
  char *argv[] = {(char *)nb_test_env("NB_BINARY"), "keys", "ec", "--out", path_in(e, name), NULL};
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

/* The JSON body of "BODY|STATUS", checking the status. */
static json_t *http_json(const env *e, const char *method, const char *path, const char *body,
                         const char *status) {
  char *out = nb_test_http(e->base, method, path, body);
  assert_non_null(out);
  char *bar = strrchr(out, '|');
  assert_non_null(bar);
  if (strcmp(bar + 1, status) != 0) fail_msg("%s %s: %s (wanted %s)", method, path, out, status);
  *bar = '\0';
  json_error_t je;
  json_t *j = json_loads(out, 0, &je);
  if (!j) fail_msg("%s %s: not JSON: %s", method, path, out);
  free(out);
  return j;
}

static int verify(const env *e, const char *key, const char *file, char **out) {
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "cose",
                  "verify",
                  "--key",
                  path_in(e, key),
                  "--iss",
                  "meter-7",
                  (char *)file,
                  NULL};
  return nb_test_run(argv, 30000, out);
}

static void test_signed_read_and_evidence(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  env_init(&e);
  make_ec(&e, "srv");
  make_ec(&e, "dev");
  make_ec(&e, "other");
  nb_test_proc srv, cli;
  char *sargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "server",
                   "--coaps",
                   e.coaps,
                   "--http",
                   e.http,
                   "--db",
                   e.db,
                   "--rpk-key",
                   path_in(&e, "srv.key.pem"),
                   NULL};
  assert_true(nb_test_proc_start(&srv, sargv));
  assert_true(nb_test_proc_wait_output(&srv, true, "proto=http", 10000));
  char *spki = hex_file(path_in(&e, "dev.spki.der"));
  char json[512];
  snprintf(json, sizeof json, "{\"mode\":\"rpk\",\"publicKey\":\"%s\"}", spki);
  free(spki);
  json_decref(http_json(&e, "PUT", "/api/security/clients/meter-7", json, "201"));

  char *cargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "client",
                   "--server",
                   e.uri,
                   "--endpoint",
                   "meter-7",
                   "--lifetime",
                   "60",
                   "--sensors",
                   "none",
                   "--rpk-key",
                   path_in(&e, "dev.key.pem"),
                   "--server-key",
                   path_in(&e, "srv.pub.pem"),
                   NULL};
  assert_true(nb_test_proc_start(&cli, cargv));
  assert_true(nb_test_proc_wait_output(&cli, true, "event=registered", 20000));

  /* The same records signed and unsigned; the signature from the device's key. */
  json_t *plain = http_json(&e, "GET", "/api/clients/meter-7/3/0?format=senml-cbor", NULL, "200");
  json_t *sig = http_json(&e, "GET", "/api/clients/meter-7/3/0?format=cose", NULL, "200");
  assert_null(json_object_get(plain, "signature"));
  json_t *s = json_object_get(sig, "signature");
  assert_non_null(s);
  assert_true(json_is_true(json_object_get(s, "valid")));
  assert_true(json_string_length(json_object_get(s, "kid")) == 30);
  assert_true(json_integer_value(json_object_get(s, "iat")) > 1600000000);
  json_t *pc = json_object_get(plain, "content"), *sc = json_object_get(sig, "content");
  assert_true(json_array_size(pc) > 3);
  assert_int_equal(json_array_size(pc), json_array_size(sc));
  /* Manufacturer and model do not change between the two reads. */
  for (size_t i = 0; i < 2; i++)
    assert_true(json_equal(json_array_get(pc, i), json_array_get(sc, i)));
  json_decref(plain);

  /* The evidence list: newest first, the read just made, verifiable offline. */
  json_t *ev = http_json(&e, "GET", "/api/clients/meter-7/evidence", NULL, "200");
  assert_int_equal(json_array_size(ev), 1);
  json_t *first = json_array_get(ev, 0);
  assert_string_equal(json_string_value(json_object_get(first, "kind")), "read");
  assert_string_equal(json_string_value(json_object_get(first, "path")), "/3/0");
  assert_string_equal(json_string_value(json_object_get(first, "kid")),
                      json_string_value(json_object_get(s, "kid")));
  const char *b64 = json_string_value(json_object_get(first, "cose"));
  assert_non_null(b64);
  assert_string_equal(b64, json_string_value(json_object_get(s, "cose")));
  char *file = path_in(&e, "read.cose");
  FILE *fp = fopen(file, "w");
  assert_non_null(fp);
  fputs(b64, fp);
  fclose(fp);
  char *out = NULL;
  assert_int_equal(verify(&e, "dev.pub.pem", file, &out), 0);
  assert_non_null(strstr(out, "\"valid\":true"));
  assert_non_null(strstr(out, "\"iss\":\"meter-7\""));
  free(out);
  out = NULL;
  assert_int_equal(verify(&e, "other.pub.pem", file, &out), 1);
  free(out);
  json_decref(sig);
  json_decref(ev);

  /* Unknown endpoint: an empty list, not an error (evidence outlives registrations). */
  ev = http_json(&e, "GET", "/api/clients/nobody/evidence", NULL, "200");
  assert_int_equal(json_array_size(ev), 0);
  json_decref(ev);

  nb_test_proc_stop(&cli);
  nb_test_proc_cleanup(&cli);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  env_cleanup(&e);
}

/* One CoAP datagram from fd (within ms), parsed into m over buf; false on timeout. */
static bool recv_coap(int fd, uint8_t *buf, size_t cap, nb_coap_msg *m, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, ms) <= 0) return false;
  ssize_t n = recv(fd, buf, cap, 0);
  return n > 0 && nb_coap_parse(buf, (size_t)n, m) == NB_OK;
}

static void send_coap(int fd, const nb_coap_msg *m) {
  uint8_t out[512];
  size_t n;
  assert_int_equal(nb_coap_serialize(m, out, sizeof out, &n), NB_OK);
  assert_int_equal(send(fd, out, n, 0), (ssize_t)n);
}

static void test_unverifiable_signed_answer(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  env_init(&e);
  uint16_t cp = nb_test_free_port(SOCK_DGRAM);
  char coap[32];
  snprintf(coap, sizeof coap, "127.0.0.1:%u", cp);
  char *sargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "server",
                   "--coap",
                   coap,
                   "--http",
                   e.http,
                   "--db",
                   e.db,
                   NULL};
  nb_test_proc srv, get;
  assert_true(nb_test_proc_start(&srv, sargv));
  assert_true(nb_test_proc_wait_output(&srv, true, "proto=http", 10000));

  /* A hand-made NoSec device: it registers, then answers whatever comes with ct 18. */
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa = {
      .sin_family = AF_INET, .sin_port = htons(cp), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  nb_coap_msg reg, m;
  nb_coap_msg_init(&reg, NB_COAP_CON, NB_COAP_POST, 0x1234);
  assert_int_equal(nb_coap_msg_set_token(&reg, (const uint8_t *)"\x01\x02", 2), NB_OK);
  assert_int_equal(nb_coap_msg_add_path(&reg, NB_COAP_OPT_URI_PATH, "/rd"), NB_OK);
  assert_int_equal(nb_coap_msg_add_query(&reg, NB_COAP_OPT_URI_QUERY, "ep=forger"), NB_OK);
  assert_int_equal(nb_coap_msg_add_query(&reg, NB_COAP_OPT_URI_QUERY, "lwm2m=1.1"), NB_OK);
  assert_int_equal(nb_coap_msg_add_uint(&reg, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LINK_FORMAT),
                   NB_OK);
  nb_coap_msg_set_payload(&reg, (const uint8_t *)"</3303/0>", 9);
  send_coap(fd, &reg);
  uint8_t buf[1500];
  assert_true(recv_coap(fd, buf, sizeof buf, &m, 5000));
  assert_int_equal(m.code, NB_COAP_CREATED);

  char url[160];
  snprintf(url, sizeof url, "%s/api/clients/forger/3303/0/5700?format=cose", e.base);
  char *cargv[] = {"curl", "-s", "-w", "|%{http_code}", url, NULL};
  assert_true(nb_test_proc_start(&get, cargv));
  assert_true(recv_coap(fd, buf, sizeof buf, &m, 10000));
  assert_int_equal(m.code, NB_COAP_GET);
  assert_int_equal(nb_coap_msg_accept(&m), 18);
  nb_coap_msg ack;
  nb_coap_msg_init(&ack, NB_COAP_ACK, NB_COAP_CONTENT, m.mid);
  assert_int_equal(nb_coap_msg_set_token(&ack, m.token, m.token_len), NB_OK);
  assert_int_equal(nb_coap_msg_add_uint(&ack, NB_COAP_OPT_CONTENT_FORMAT, 18), NB_OK);
  static const uint8_t fake[] = {0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x41, 0x00, 0x41, 0x00};
  nb_coap_msg_set_payload(&ack, fake, sizeof fake);
  send_coap(fd, &ack);
  assert_int_equal(nb_test_proc_wait(&get, 10000), 0);
  char *out = nb_test_proc_stdout(&get);
  if (!strstr(out, "|502") || strstr(out, "\"value\"")) fail_msg("signed read: %s", out);
  free(out);
  nb_test_proc_cleanup(&get);

  json_t *alerts = http_json(&e, "GET", "/api/alerts", NULL, "200");
  char *text = json_dumps(alerts, 0);
  assert_non_null(strstr(text, "signed-data-rejected"));
  assert_non_null(strstr(text, "forger"));
  free(text);
  json_decref(alerts);
  json_t *kept = http_json(&e, "GET", "/api/clients/forger/evidence", NULL, "200");
  assert_int_equal(json_array_size(kept), 0);
  json_decref(kept);
  close(fd);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  env_cleanup(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signed_read_and_evidence),
      cmocka_unit_test(test_unverifiable_signed_answer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
