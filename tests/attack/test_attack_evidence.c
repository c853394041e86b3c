/* Attack item 1 (issue 13): the evidence of a signed bootstrap must not hand out the keys it
 * installed. The real binaries on loopback: `niobium server --with-bootstrap --bs-coaps` and a
 * `niobium client --signed-bootstrap --evidence-dir --state`, once with a management account
 * that gets a fresh PSK, once with one that gets a fresh RPK key pair and a fresh key for the
 * device's own bootstrap account. Every secret key the device holds afterwards (its state file:
 * each non-empty /0/x/5, the factory key included) must appear nowhere an attacker who reads an
 * API answer, a CLI output, an event, a log line or an evidence file could look: not raw, not in
 * hex, not in base64 (any alignment, both alphabets), not inside the base64 COSE blobs once
 * decoded. The kept evidence must still verify with the signer's public key alone, and the
 * digest each kept write signs for a withheld key must match the key the device installed.
 * The device's console (`get /0/x/5`) names a key without printing it. */
#include <dirent.h>
#include <gnutls/crypto.h>
#include <jansson.h>
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

#include "base/hex.h"
#include "dtls/keys.h"
#include "lwm2m/fmtutil.h"
#include "lwm2m/format.h"
#include "nb_test.h"

#define MAX_SECRETS 8
#define MAX_HAY 512

typedef struct {
  char ep[32];   /* the device that holds it */
  char path[32]; /* /0/x/5 */
  uint8_t *data;
  size_t len;
} secret;

/* A place an attacker could read: its name and bytes. */
typedef struct {
  char name[256];
  uint8_t *data;
  size_t len;
} hay;

typedef struct {
  char dir[64], db[128], coaps[32], bs[32], base[64];
  char *bin, *srv_sid, *srv_spki_hex;
  nb_test_proc srv, sse;
  secret secrets[MAX_SECRETS];
  size_t nsecrets;
  hay hays[MAX_HAY];
  size_t nhays;
} env;

static char *path_in(const env *e, const char *name) {
  static char p[4][256];
  static int i;
  i = (i + 1) % 4;
  snprintf(p[i], sizeof p[i], "%s/%s", e->dir, name);
  return p[i];
}

static void add_hay(env *e, const char *name, const void *data, size_t len) {
  assert_true(e->nhays < MAX_HAY);
  hay *h = &e->hays[e->nhays++];
  snprintf(h->name, sizeof h->name, "%s", name);
  h->data = malloc(len + 1);
  assert_non_null(h->data);
  if (len) memcpy(h->data, data, len);
  h->len = len;
}

/* A P-256 key pair as DIR/NAME.key.pem and .pub.pem; returns its secure ID (heap). */
static char *make_key(const env *e, const char *name) {
  static const char tag[] = "secure-id: ";
  char prefix[160];
  snprintf(prefix, sizeof prefix, "%s/%s", e->dir, name);
  char *argv[] = {e->bin, "keys", "ec", "--out", prefix, NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 30000, &out), 0);
  const char *found = strstr(out, tag);
  assert_non_null(found);
  char *sid = strndup(found + strlen(tag), 30);
  free(out);
  return sid;
}

static char *spki_hex(const env *e, const char *name) {
  size_t len;
  char *pem = nb_test_read_file(path_in(e, name), &len);
  assert_non_null(pem);
  nb_dtls_keypair kp;
  assert_int_equal(nb_dtls_keypair_load((const uint8_t *)pem, len, &kp), NB_OK);
  char *hex = malloc(2 * kp.spki_der.len + 1);
  assert_non_null(hex);
  nb_hex_encode(kp.spki_der.data, kp.spki_der.len, hex);
  nb_dtls_keypair_free(&kp);
  free(pem);
  return hex;
}

static void expect(const env *e, const char *method, const char *path, const char *body,
                   const char *status) {
  char *out = nb_test_http(e->base, method, path, body);
  assert_non_null(out);
  if (!strstr(out, status)) fail_msg("%s %s: got '%s', wanted %s", method, path, out, status);
  free(out);
}

static void start_server(env *e) {
  snprintf(e->db, sizeof e->db, "%s/nb.db", e->dir);
  snprintf(e->coaps, sizeof e->coaps, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  snprintf(e->bs, sizeof e->bs, "127.0.0.1:%u", nb_test_free_port(SOCK_DGRAM));
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  char http[32];
  snprintf(http, sizeof http, "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof e->base, "http://127.0.0.1:%u", hp);
  char *argv[] = {e->bin,
                  "server",
                  "--coaps",
                  e->coaps,
                  "--rpk-key",
                  path_in(e, "srv.key.pem"),
                  "--http",
                  http,
                  "--db",
                  e->db,
                  "--log-level",
                  "debug",
                  "--with-bootstrap",
                  "--bs-coaps",
                  e->bs,
                  NULL};
  assert_true(nb_test_proc_start(&e->srv, argv));
  assert_true(nb_test_proc_wait_output(&e->srv, true, "proto=http", 10000));
  char url[160];
  snprintf(url, sizeof url, "%s/api/events", e->base);
  char *cargv[] = {"curl", "-s", "-N", url, NULL};
  assert_true(nb_test_proc_start(&e->sse, cargv));
  assert_true(nb_test_proc_wait_output(&e->sse, false, ": connected", 10000));
}

static int setup(void **state) {
  env *e = calloc(1, sizeof *e);
  assert_non_null(e);
  if (!nb_test_have_program("curl")) {
    free(e);
    *state = NULL;
    return 0;
  }
  e->bin = (char *)nb_test_env("NB_BINARY");
  assert_non_null(e->bin);
  snprintf(e->dir, sizeof e->dir, "/tmp/nb-attack-evidence-XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  e->srv_sid = make_key(e, "srv");
  e->srv_spki_hex = spki_hex(e, "srv.key.pem");
  start_server(e);
  *state = e;
  return 0;
}

static int teardown(void **state) {
  env *e = *state;
  if (!e) return 0;
  nb_test_proc_stop(&e->sse);
  nb_test_proc_cleanup(&e->sse);
  nb_test_proc_stop(&e->srv);
  nb_test_proc_cleanup(&e->srv);
  for (size_t i = 0; i < e->nsecrets; i++) free(e->secrets[i].data);
  for (size_t i = 0; i < e->nhays; i++) free(e->hays[i].data);
  free(e->srv_sid);
  free(e->srv_spki_hex);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
  assert_int_equal(system(cmd), 0);
  free(e);
  return 0;
}

/* The config of ep (one management account, `security`) and the secure ID of its factory key
 * DIR/EP.key.pem (made here). */
static void provision(const env *e, const char *ep, const char *security, bool fresh_bs_key) {
  char *sid = make_key(e, ep);
  bool rpk = strcmp(security, "rpk") == 0;
  char body[1024], path[96];
  snprintf(body, sizeof body,
           "{\"servers\":[{\"uri\":\"coaps://%s\",\"ssid\":101,\"lifetime\":300,\"binding\":\"U\","
           "\"security\":\"%s\"%s%s%s}]%s}",
           e->coaps, security, rpk ? ",\"server_public_key\":\"" : "", rpk ? e->srv_spki_hex : "",
           rpk ? "\"" : "", fresh_bs_key ? ",\"bootstrap_account\":{\"fresh_key\":true}" : "");
  snprintf(path, sizeof path, "/api/bootstrap/configs/%s", ep);
  expect(e, "PUT", path, body, "|201");
  snprintf(body, sizeof body, "{\"secureId\":\"%s\"}", sid);
  snprintf(path, sizeof path, "/api/bootstrap/expected/%s", ep);
  expect(e, "PUT", path, body, "|200");
  free(sid);
}

/* The device: factory key DIR/EP.key.pem, signed bootstrap, evidence in DIR/ev-EP, state in
 * DIR/EP.state; runs until it registered with the management server, then stops. Its output
 * becomes haystacks. */
static void run_device(env *e, const char *ep) {
  char uri[64], evdir[160], state[160], key[160];
  snprintf(uri, sizeof uri, "coaps://%s", e->bs);
  snprintf(evdir, sizeof evdir, "%s/ev-%s", e->dir, ep);
  snprintf(state, sizeof state, "%s/%s.state", e->dir, ep);
  snprintf(key, sizeof key, "%s/%s.key.pem", e->dir, ep);
  assert_int_equal(mkdir(evdir, 0700), 0);
  char *argv[] = {e->bin,
                  "client",
                  "--bootstrap",
                  uri,
                  "--endpoint",
                  (char *)ep,
                  "--rpk-key",
                  key,
                  "--server-secure-id",
                  e->srv_sid,
                  "--signed-bootstrap",
                  "--evidence-dir",
                  evdir,
                  "--state",
                  state,
                  "--log-level",
                  "debug",
                  NULL};
  nb_test_proc dev;
  assert_true(nb_test_proc_start(&dev, argv));
  bool registered = nb_test_proc_wait_output(&dev, false, "registered ssid=101", 30000);
  if (!registered) {
    char *err = nb_test_proc_stderr(&dev);
    fprintf(stderr, "device log:\n%s\n", err);
    free(err);
  }
  assert_true(registered);
  nb_test_proc_stop(&dev);
  char *out = nb_test_proc_stdout(&dev), *err = nb_test_proc_stderr(&dev);
  char name[128];
  snprintf(name, sizeof name, "device %s stdout", ep);
  add_hay(e, name, out, strlen(out));
  snprintf(name, sizeof name, "device %s log", ep);
  add_hay(e, name, err, strlen(err));
  free(out);
  free(err);
  nb_test_proc_cleanup(&dev);
}

/* Every non-empty /0/x/5 the device holds after the bootstrap, from its state file (SenML CBOR
 * of objects 0-2). */
static void collect_secrets(env *e, const char *ep) {
  char state[160];
  snprintf(state, sizeof state, "%s/%s.state", e->dir, ep);
  size_t len;
  char *data = nb_test_read_file(state, &len);
  assert_non_null(data);
  nb_records recs;
  nb_records_init(&recs);
  nb_path root = nb_path_root();
  assert_int_equal(nb_format_decode(NB_COAP_CF_SENML_CBOR, (const uint8_t *)data, len, &root,
                                    nb_model_builtin(), &recs, NULL, NULL),
                   NB_OK);
  size_t before = e->nsecrets;
  for (size_t i = 0; i < recs.len; i++) {
    const nb_record *r = &recs.items[i];
    if (r->path.len != 3 || r->path.ids[0] != 0 || r->path.ids[2] != 5) continue;
    if (r->value.type != NB_VT_OPAQUE || r->value.v.bytes.len == 0) continue;
    assert_true(e->nsecrets < MAX_SECRETS);
    secret *s = &e->secrets[e->nsecrets++];
    snprintf(s->ep, sizeof s->ep, "%s", ep);
    nb_path_format(&r->path, s->path, sizeof s->path);
    s->len = r->value.v.bytes.len;
    s->data = malloc(s->len);
    assert_non_null(s->data);
    memcpy(s->data, r->value.v.bytes.data, s->len);
  }
  nb_records_deinit(&recs);
  free(data);
  assert_int_equal(e->nsecrets - before, 2); /* the bootstrap account and the management one */
}

/* ---- the haystacks ---- */

/* Each "cose" of an evidence JSON answer, base64-decoded, as a haystack of its own. */
static void add_cose_blobs(env *e, const char *what, const char *json_text) {
  json_error_t je;
  json_t *a = json_loads(json_text, 0, &je);
  if (!json_is_array(a)) fail_msg("%s is no JSON array: %s", what, json_text);
  size_t i;
  json_t *row;
  json_array_foreach(a, i, row) {
    const char *b64 = json_string_value(json_object_get(row, "cose"));
    assert_non_null(b64);
    nb_value v = nb_value_none();
    assert_int_equal(nb_fmt_b64_decode(b64, strlen(b64), false, &v), NB_OK);
    char name[128];
    snprintf(name, sizeof name, "%s, item %zu decoded", what, i);
    add_hay(e, name, v.v.bytes.data, v.v.bytes.len);
    nb_value_deinit(&v);
  }
  json_decref(a);
}

/* The API answer, the CLI's (over the database and over the API) and their decoded blobs. */
static void collect_evidence_answers(env *e, const char *ep) {
  char path[96], name[128];
  snprintf(path, sizeof path, "/api/bootstrap/evidence/%s", ep);
  char *api = nb_test_http(e->base, "GET", path, NULL);
  assert_non_null(api);
  char *bar = strrchr(api, '|');
  assert_non_null(bar);
  assert_string_equal(bar, "|200");
  *bar = '\0';
  snprintf(name, sizeof name, "GET %s", path);
  add_hay(e, name, api, strlen(api));
  add_cose_blobs(e, name, api);
  free(api);
  char *by_db[] = {e->bin, "bootstrap", "evidence", (char *)ep, "--db", e->db, NULL};
  char *by_api[] = {e->bin, "bootstrap", "evidence", (char *)ep, "--api", e->base, NULL};
  char *const *cmds[] = {by_db, by_api};
  for (size_t k = 0; k < 2; k++) {
    char *out = NULL, *err = NULL;
    assert_int_equal(nb_test_run_capture(cmds[k], 30000, &out, &err), 0);
    snprintf(name, sizeof name, "niobium bootstrap evidence %s %s", ep, k ? "--api" : "--db");
    add_hay(e, name, out, strlen(out));
    add_hay(e, name, err, strlen(err));
    add_cose_blobs(e, name, out);
    free(out);
    free(err);
  }
}

static void collect_device_files(env *e, const char *ep) {
  char evdir[160];
  snprintf(evdir, sizeof evdir, "%s/ev-%s", e->dir, ep);
  DIR *d = opendir(evdir);
  assert_non_null(d);
  for (struct dirent *de; (de = readdir(d));) {
    if (de->d_name[0] == '.') continue;
    char file[448];
    snprintf(file, sizeof file, "%s/%s", evdir, de->d_name);
    size_t len;
    char *data = nb_test_read_file(file, &len);
    assert_non_null(data);
    add_hay(e, file, data, len);
    free(data);
  }
  closedir(d);
}

/* ---- searching ---- */

static bool contains(const hay *h, const void *needle, size_t n) {
  return n && h->len >= n && memmem(h->data, h->len, needle, n) != NULL;
}

static void assert_absent(const env *e, const secret *s, const char *form, const void *needle,
                          size_t n) {
  for (size_t i = 0; i < e->nhays; i++)
    if (contains(&e->hays[i], needle, n))
      fail_msg("the secret key %s (%zu bytes) is in %s (%s)", s->path, s->len, e->hays[i].name,
               form);
}

/* Base64 of the secret from each of the three byte offsets, trimmed to whole groups, in both
 * alphabets: one of them is in any base64 text that encodes the secret. */
static void assert_absent_base64(const env *e, const secret *s) {
  for (size_t off = 0; off < 3; off++) {
    size_t n = (s->len - off) / 3 * 3;
    for (int url = 0; url < 2 && n >= 9; url++) {
      nb_bytes b;
      nb_bytes_init(&b);
      assert_int_equal(nb_fmt_b64_encode(&b, s->data + off, n, url), NB_OK);
      size_t len = b.len;
      while (len && b.data[len - 1] == '=') len--;
      assert_absent(e, s, url ? "base64url" : "base64", b.data, len);
      nb_bytes_free(&b);
    }
  }
}

static void assert_no_secret_anywhere(const env *e) {
  for (size_t i = 0; i < e->nsecrets; i++) {
    const secret *s = &e->secrets[i];
    assert_absent(e, s, "raw", s->data, s->len);
    char *hex = malloc(2 * s->len + 1);
    assert_non_null(hex);
    nb_hex_encode(s->data, s->len, hex);
    assert_absent(e, s, "hex", hex, strlen(hex));
    for (char *c = hex; *c; c++)
      if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 'a' + 'A');
    assert_absent(e, s, "HEX", hex, strlen(hex));
    free(hex);
    assert_absent_base64(e, s);
  }
}

/* ---- verifying what was kept ---- */

static const secret *secret_at(const env *e, const char *ep, const char *path) {
  for (size_t i = 0; i < e->nsecrets; i++)
    if (strcmp(e->secrets[i].ep, ep) == 0 && strcmp(e->secrets[i].path, path) == 0)
      return &e->secrets[i];
  return NULL;
}

/* SHA-256(salt || key) == digest, both from a verify line (hex). */
static void assert_digest_matches(const secret *s, const json_t *w) {
  uint8_t salt[16], digest[32], got[32];
  const char *salt_hex = json_string_value(json_object_get(w, "salt"));
  const char *dg_hex = json_string_value(json_object_get(w, "digest"));
  assert_non_null(salt_hex);
  assert_non_null(dg_hex);
  assert_int_equal(nb_test_unhex(salt_hex, salt, sizeof salt), 16);
  assert_int_equal(nb_test_unhex(dg_hex, digest, sizeof digest), 32);
  uint8_t *buf = malloc(16 + s->len);
  assert_non_null(buf);
  memcpy(buf, salt, 16);
  memcpy(buf + 16, s->data, s->len);
  assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, 16 + s->len, got), 0);
  free(buf);
  if (memcmp(got, digest, 32) != 0)
    fail_msg("digest of %s (%zu bytes) does not match", s->path, s->len);
}

/* `niobium cose verify --key KEY` on file (evidence of ep), its output a haystack. With
 * check: it must be valid, show no key in its payload, and each withheld key's signed digest
 * must match the key ep holds; returns how many withheld keys it checked. */
static size_t verify_kept(env *e, const char *ep, const char *key, const char *file, bool check) {
  char *argv[] = {e->bin, "cose", "verify", "--key", (char *)key, (char *)file, NULL};
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, 30000, &out, &err);
  char name[320];
  snprintf(name, sizeof name, "niobium cose verify %s", file);
  add_hay(e, name, out, strlen(out));
  add_hay(e, name, err, strlen(err));
  size_t n = 0;
  if (check) {
    if (rc != 0) fail_msg("%s does not verify with %s: %s %s", file, key, out, err);
    json_error_t je;
    json_t *v = json_loads(out, 0, &je);
    assert_non_null(v);
    assert_true(json_is_true(json_object_get(v, "valid")));
    assert_null(json_object_get(v, "warning")); /* no key in the signed payload */
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(v, "withheld"), i, w) {
      const char *p = json_string_value(json_object_get(w, "path"));
      const secret *s = secret_at(e, ep, p ? p : "");
      if (!s) fail_msg("%s withholds %s, which the device does not hold", file, p);
      assert_digest_matches(s, w);
      n++;
    }
    json_decref(v);
  }
  free(out);
  free(err);
  return n;
}

/* Each evidence file of the device: writes verify with the bootstrap server's public key,
 * the receipt with the device's factory key (its public half). */
static size_t verify_device_files(env *e, const char *ep, bool check) {
  char evdir[160], dev_pub[96];
  snprintf(evdir, sizeof evdir, "%s/ev-%s", e->dir, ep);
  snprintf(dev_pub, sizeof dev_pub, "%s.pub.pem", ep);
  DIR *d = opendir(evdir);
  assert_non_null(d);
  size_t withheld = 0, files = 0;
  for (struct dirent *de; (de = readdir(d));) {
    if (de->d_name[0] == '.') continue;
    char file[448];
    snprintf(file, sizeof file, "%s/%s", evdir, de->d_name);
    bool receipt = strstr(de->d_name, "-receipt-") != NULL;
    withheld += verify_kept(e, ep, path_in(e, receipt ? dev_pub : "srv.pub.pem"), file, check);
    files++;
  }
  closedir(d);
  assert_true(files >= 3); /* Security and Server writes, the receipt */
  return withheld;
}

/* Each item the server serves (base64, as `niobium cose verify` reads it). */
static size_t verify_server_items(env *e, const char *ep, bool check) {
  char path[96], dev_pub[96];
  snprintf(path, sizeof path, "/api/bootstrap/evidence/%s", ep);
  snprintf(dev_pub, sizeof dev_pub, "%s.pub.pem", ep);
  char *api = nb_test_http(e->base, "GET", path, NULL);
  assert_non_null(api);
  *strrchr(api, '|') = '\0';
  json_error_t je;
  json_t *a = json_loads(api, 0, &je);
  assert_true(json_is_array(a));
  assert_true(json_array_size(a) >= 3);
  size_t i, withheld = 0;
  json_t *row;
  json_array_foreach(a, i, row) {
    char file[64];
    snprintf(file, sizeof file, "item-%s-%zu.b64", ep, i);
    FILE *f = fopen(path_in(e, file), "w");
    assert_non_null(f);
    fprintf(f, "%s\n", json_string_value(json_object_get(row, "cose")));
    fclose(f);
    bool receipt = strcmp(json_string_value(json_object_get(row, "kind")), "receipt") == 0;
    withheld +=
        verify_kept(e, ep, path_in(e, receipt ? dev_pub : "srv.pub.pem"), path_in(e, file), check);
  }
  json_decref(a);
  free(api);
  return withheld;
}

/* What an attacker could read about one device after its bootstrap, as haystacks. */
static void collect_device(env *e, const char *ep) {
  collect_secrets(e, ep);
  collect_device_files(e, ep);
  collect_evidence_answers(e, ep);
  verify_device_files(e, ep, false);
  verify_server_items(e, ep, false);
}

/* The logs of the server and the event stream, read at the end. */
static void collect_server_output(env *e) {
  char *err = nb_test_proc_stderr(&e->srv), *out = nb_test_proc_stdout(&e->srv);
  add_hay(e, "server log", err, strlen(err));
  add_hay(e, "server stdout", out, strlen(out));
  free(err);
  free(out);
  char *events = nb_test_proc_stdout(&e->sse);
  assert_non_null(strstr(events, "event: BOOTSTRAP_FINISHED"));
  add_hay(e, "event stream", events, strlen(events));
  free(events);
}

/* A management account with a fresh PSK, and one with a fresh RPK key pair plus a fresh key
 * for the device's bootstrap account: no key anywhere, all evidence still verifies with the
 * signers' public keys, and its signed digests match the keys the devices installed. */
static void test_evidence_holds_no_secret_key(void **state) {
  env *e = *state;
  if (!e) skip();
  provision(e, "ev-psk", "psk", false);
  run_device(e, "ev-psk");
  provision(e, "ev-rpk", "rpk", true);
  run_device(e, "ev-rpk");
  collect_device(e, "ev-psk");
  collect_device(e, "ev-rpk");
  collect_server_output(e);
  /* ev-psk: its factory key and the fresh PSK; ev-rpk: its fresh bootstrap-account and
   * management private keys. */
  assert_int_equal(e->nsecrets, 4);
  assert_no_secret_anywhere(e);
  /* ev-psk's writes withhold the PSK of /0/1/5 (its factory key /0/0/5 is never sent); ev-rpk's
   * the management key and the new bootstrap-account key. */
  assert_int_equal(verify_device_files(e, "ev-psk", true), 1);
  assert_int_equal(verify_server_items(e, "ev-psk", true), 1);
  assert_int_equal(verify_device_files(e, "ev-rpk", true), 2);
  assert_int_equal(verify_server_items(e, "ev-rpk", true), 2);
}

/* The device's own console (`get` on stdin) is a CLI output too: it names a key, never
 * prints it. */
static void test_client_console_hides_keys(void **state) {
  (void)state;
  static const char psk_hex[] = "5ec7e7ba11ad0b1e5ec7e7ba11ad0b1e";
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "printf 'get /0/0/5\\nget /0/0/3\\nquit\\n' | exec '%s' client --server "
           "coaps://127.0.0.1:9 --endpoint console-1 --psk-identity console-1 --psk-key %s "
           "--prompt",
           nb_test_env("NB_BINARY"), psk_hex);
  char *argv[] = {"sh", "-c", cmd, NULL};
  char *out = NULL, *err = NULL;
  assert_int_equal(nb_test_run_capture(argv, 30000, &out, &err), 0);
  if (!strstr(out, "/0/0/5 = (secret key, not shown)")) fail_msg("console said: %s", out);
  assert_non_null(strstr(out, "/0/0/3 = 636f6e736f6c652d31")); /* the identity is no secret */
  assert_null(strcasestr(out, psk_hex));
  assert_null(strcasestr(err, psk_hex));
  free(out);
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_evidence_holds_no_secret_key, setup, teardown),
      cmocka_unit_test(test_client_console_hides_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
