/* A firmware update end to end through the real `niobium server`: a 1 MiB image uploaded with
 * curl, then pushed (Block1 Writes of /5/0/0 read from the server's file) and pulled (the
 * device fetches the server's /fw/{id} by Block2) to a device running the Niobium client
 * library with its Firmware Update object, in a thread of this test on a UDP socket; each time
 * the device applies exactly the uploaded bytes and the campaign ends with it updated.
 * Then the real `niobium client --firmware-dir --firmware-trust`: packages signed with
 * `niobium fw sign`, uploaded with `niobium fw upload` and sent with `niobium fw push`, by push
 * then by pull; each time /3/0/3 becomes the package's version and the campaign's report says
 * the device is updated. And `niobium fw` refuses an option its subcommand does not take. */
#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/time.h"
#include "nb_test.h"
#include "niobium/client.h"
#include "niobium/objects.h"

#define IMG (1 << 20)

typedef struct {
  int fd;
  nb_client *c;
  atomic_bool stop;
  atomic_int applied;
  gnutls_hash_hd_t stored; /* SHA-256 of the package as the storage receives it */
  uint64_t stored_len;
  char stored_sha[65], applied_sha[65];
  pthread_t th;
} device;

static void sha_hex(const uint8_t *data, size_t len, char out[65]) {
  uint8_t d[32];
  assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, d), 0);
  for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

static void dev_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  device *d = user;
  struct sockaddr_storage ss;
  size_t sl;
  if (nb_addr_to_sockaddr(peer, (struct sockaddr *)&ss, sizeof(ss), &sl) == NB_OK)
    sendto(d->fd, data, len, 0, (struct sockaddr *)&ss, (socklen_t)sl);
}

/* The device's storage keeps no bytes: it hashes them as they come, in order (the library
 * streams a package through it block by block, never whole). */
static nb_err store_begin(void *user) {
  device *d = user;
  if (d->stored) gnutls_hash_deinit(d->stored, NULL);
  d->stored = NULL;
  d->stored_len = 0;
  return gnutls_hash_init(&d->stored, GNUTLS_DIG_SHA256) == 0 ? NB_OK : NB_ERR_NOMEM;
}

static nb_err store_write(void *user, const uint8_t *data, size_t len) {
  device *d = user;
  if (!d->stored || gnutls_hash(d->stored, data, len) != 0) return NB_ERR_IO;
  d->stored_len += len;
  return NB_OK;
}

static nb_err store_finish(void *user) {
  device *d = user;
  uint8_t dg[32];
  if (!d->stored) return NB_ERR_IO;
  gnutls_hash_deinit(d->stored, dg);
  d->stored = NULL;
  for (int i = 0; i < 32; i++) sprintf(d->stored_sha + 2 * i, "%02x", dg[i]);
  return NB_OK;
}

static void store_discard(void *user) {
  device *d = user;
  if (d->stored) gnutls_hash_deinit(d->stored, NULL);
  d->stored = NULL;
}

/* Applies what the storage holds: the whole package (a raw image: it starts at offset 0). */
static nb_err dev_apply(void *user, const nb_client_fw_image *img, nb_time_ms now) {
  device *d = user;
  (void)now;
  if (img->is_signed || img->image_offset != 0 || img->image_size != d->stored_len)
    return NB_ERR_INVAL;
  memcpy(d->applied_sha, d->stored_sha, sizeof d->applied_sha);
  atomic_fetch_add(&d->applied, 1);
  return NB_OK;
}

static void *dev_run(void *arg) {
  device *d = arg;
  while (!atomic_load(&d->stop)) {
    nb_time_ms now = nb_time_now_ms();
    nb_time_ms dl = nb_client_next_deadline(d->c);
    int wait = dl == NB_TIME_NEVER || dl - now > 20 ? 20 : (int)(dl > now ? dl - now : 0);
    struct pollfd p = {.fd = d->fd, .events = POLLIN};
    while (poll(&p, 1, wait) > 0) {
      uint8_t buf[2048];
      struct sockaddr_storage ss;
      socklen_t sl = sizeof(ss);
      ssize_t n = recvfrom(d->fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
      nb_addr from;
      if (n > 0 && nb_addr_from_sockaddr((struct sockaddr *)&ss, &from) == NB_OK)
        nb_client_receive(d->c, &from, buf, (size_t)n, nb_time_now_ms());
      wait = 0;
    }
    nb_client_tick(d->c, nb_time_now_ms());
  }
  return NULL;
}

static void dev_start(device *d, const char *ep, uint16_t port) {
  memset(d, 0, sizeof(*d));
  d->fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(d->fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(d->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = ep;
  cfg.send = dev_send;
  cfg.send_user = d;
  assert_int_equal(nb_client_new(&cfg, &d->c), NB_OK);
  nb_client_device_info info = {.manufacturer = "Niobium",
                                .model = "fw-e2e",
                                .serial = "7",
                                .firmware_version = "1.0",
                                .battery_level = 80,
                                .memory_free_kb = -1,
                                .memory_total_kb = -1};
  assert_int_equal(nb_client_add_device(d->c, &info), NB_OK);
  /* a raw image (no signed envelope): the library's e2e of the server; the signed package goes
   * to the real `niobium client` in test_client_firmware_cli */
  nb_client_firmware_config fc = {
      .apply = dev_apply,
      .storage = {store_begin, store_write, store_finish, store_discard, d},
      .user = d,
      .max_size = 2 * IMG,
      .allow_unsigned = true};
  assert_int_equal(nb_client_add_firmware(d->c, &fc), NB_OK);
  char uri[64];
  snprintf(uri, sizeof(uri), "coap://127.0.0.1:%u", port);
  nb_client_server_params sp = {.uri = uri, .ssid = 1, .lifetime = 600, .security_mode = 3};
  assert_int_equal(nb_client_add_server(d->c, &sp), NB_OK);
  assert_int_equal(nb_client_start(d->c, nb_time_now_ms()), NB_OK);
  assert_int_equal(pthread_create(&d->th, NULL, dev_run, d), 0);
}

static void dev_stop(device *d) {
  atomic_store(&d->stop, true);
  pthread_join(d->th, NULL);
  nb_client_free(d->c);
  store_discard(d);
  close(d->fd);
}

typedef struct {
  char dir[64], db[128], coap[32], http[32], base[64];
  uint16_t coap_port;
} env;

static bool wait_for(const env *e, const char *path, const char *needle, int ms) {
  for (int t = 0; t < ms; t += 200) {
    char *out = nb_test_http(e->base, "GET", path, NULL);
    bool ok = out && strstr(out, needle) != NULL;
    free(out);
    if (ok) return true;
    usleep(200 * 1000);
  }
  return false;
}

/* `niobium server` on loopback ports chosen now, its database and images in a new directory. */
static void server_start(env *e, nb_test_proc *srv) {
  snprintf(e->dir, sizeof e->dir, "/tmp/nb-e2e-fwup-XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  snprintf(e->db, sizeof e->db, "%s/server.db", e->dir);
  e->coap_port = nb_test_free_port(SOCK_DGRAM);
  snprintf(e->coap, sizeof e->coap, "127.0.0.1:%u", e->coap_port);
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e->http, sizeof e->http, "127.0.0.1:%u", hp);
  snprintf(e->base, sizeof e->base, "http://127.0.0.1:%u", hp);
  char *sargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "server",
                   "--coap",
                   e->coap,
                   "--http",
                   e->http,
                   "--db",
                   e->db,
                   NULL};
  assert_true(nb_test_proc_start(srv, sargv));
  assert_true(nb_test_proc_wait_output(srv, true, "proto=http", 10000));
}

/* POST /api/clients/dev-fw/firmware; the campaign's path. */
static void update(const env *e, const char *sha, const char *method, char *cpath, size_t cap) {
  char body[200];
  snprintf(body, sizeof body, "{\"image\":\"%s\",\"method\":\"%s\",\"retries\":0}", sha, method);
  char *out = nb_test_http(e->base, "POST", "/api/clients/dev-fw/firmware", body);
  assert_non_null(out);
  const char *at = strstr(out, "\"id\":\"");
  if (!strstr(out, "|201") || !at) fail_msg("%s update: %s", method, out);
  snprintf(cpath, cap, "/api/campaigns/%.16s", at + 6);
  free(out);
}

static void test_push_and_pull(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  nb_test_proc srv;
  server_start(&e, &srv);

  uint8_t *img = malloc(IMG);
  assert_int_equal(gnutls_rnd(GNUTLS_RND_NONCE, img, IMG), 0);
  char sha[65], file[128], data[140], url[128];
  sha_hex(img, IMG, sha);
  snprintf(file, sizeof file, "%s/image.bin", e.dir);
  FILE *f = fopen(file, "wb");
  assert_int_equal(fwrite(img, 1, IMG, f), IMG);
  fclose(f);
  snprintf(data, sizeof data, "@%s", file);
  snprintf(url, sizeof url, "%s/api/firmware", e.base);
  char *up[] = {"curl",
                "-s",
                "-w",
                "|%{http_code}",
                "-H",
                "Content-Type: application/octet-stream",
                "--data-binary",
                data,
                url,
                NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(up, 60000, &out), 0);
  if (!strstr(out, "|201") || !strstr(out, sha)) fail_msg("upload: %s", out);
  free(out);

  device d;
  dev_start(&d, "dev-fw", e.coap_port);
  assert_true(wait_for(&e, "/api/clients/dev-fw", "\"endpoint\":\"dev-fw\"", 10000));

  char sse_url[160];
  snprintf(sse_url, sizeof sse_url, "%s/api/events?ep=dev-fw", e.base);
  char *cargv[] = {"curl", "-s", "-N", sse_url, NULL};
  nb_test_proc sse;
  assert_true(nb_test_proc_start(&sse, cargv));
  assert_true(nb_test_proc_wait_output(&sse, false, ": connected", 10000));

  const char *methods[] = {"push", "pull"};
  for (int i = 0; i < 2; i++) {
    char cpath[64];
    update(&e, sha, methods[i], cpath, sizeof cpath);
    if (!wait_for(&e, cpath, "\"state\":\"done\"", 120000)) {
      char *st = nb_test_http(e.base, "GET", cpath, NULL);
      fail_msg("%s: the campaign did not end: %s", methods[i], st ? st : "");
    }
    assert_true(wait_for(&e, cpath, "\"state\":\"updated\"", 1000));
    assert_int_equal(atomic_load(&d.applied), i + 1);
    assert_string_equal(d.applied_sha, sha);
  }

  /* the device's progress on the event stream */
  assert_true(nb_test_proc_wait_output(&sse, false, "event: FIRMWARE_DEVICE", 5000));
  assert_true(nb_test_proc_wait_output(&sse, false, "\"state\":\"downloading\"", 5000));
  assert_true(nb_test_proc_wait_output(&sse, false, "\"state\":\"updated\"", 5000));
  nb_test_proc_stop(&sse);
  nb_test_proc_cleanup(&sse);
  dev_stop(&d);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  free(img);
  char *rm[] = {"rm", "-rf", e.dir, NULL};
  nb_test_run(rm, 10000, NULL);
}

/* ---- the real `niobium client` ---- */

/* Runs `niobium ARGS...`; its stdout (heap) when it exits 0, else the test fails. */
static char *niobium(char *const args[]) {
  char *argv[24] = {(char *)nb_test_env("NB_BINARY")};
  size_t n = 1;
  for (size_t i = 0; args[i] && n < 23; i++) argv[n++] = args[i];
  argv[n] = NULL;
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, 120000, &out, &err);
  if (rc != 0) fail_msg("niobium %s %s: exit %d: %s%s", args[0], args[1], rc, out, err);
  free(err);
  return out;
}

/* The value of "name":"..." in json into out. */
static void json_text(const char *json, const char *name, char *out, size_t cap) {
  char key[64];
  snprintf(key, sizeof key, "\"%s\":\"", name);
  const char *at = strstr(json, key);
  if (!at) fail_msg("no %s in %s", name, json);
  at += strlen(key);
  const char *end = strchr(at, '"');
  assert_non_null(end);
  snprintf(out, cap, "%.*s", (int)(end - at), at);
}

/* Signs the image as `version`, checks the package with `fw inspect`, uploads it with `fw
 * upload`: its sha256 on the server into sha. */
static void package(const env *e, const char *key, const char *pub, const char *image,
                    const char *version, char sha[65]) {
  char pkg[160];
  snprintf(pkg, sizeof pkg, "%s/fw-%s.nbfw", e->dir, version);
  char *sign[] = {"fw",          "sign",  "--key", (char *)key, "--version", (char *)version,
                  (char *)image, "--out", pkg,     NULL};
  free(niobium(sign));
  char *inspect[] = {"fw", "inspect", "--key", (char *)pub, pkg, NULL};
  char *out = niobium(inspect);
  if (!strstr(out, "\"valid\":true")) fail_msg("inspect: %s", out);
  free(out);
  char *upload[] = {"fw", "upload", pkg, "--name", (char *)version, "--api", (char *)e->base, NULL};
  out = niobium(upload);
  char want[80];
  snprintf(want, sizeof want, "\"version\":\"%s\"", version); /* the manifest, sniffed */
  if (!strstr(out, want)) fail_msg("upload: %s", out);
  json_text(out, "sha256", sha, 65);
  free(out);
}

/* `fw push EP SHA --method M`, then the campaign's report (`fw campaign show`) until it is
 * done: the device updated, and /3/0/3 read through the API is the package's version. */
static void push_and_check(const env *e, const char *sha, const char *method, const char *version) {
  char *push[] = {"fw",        "push", "fw-real", (char *)sha,     "--method", (char *)method,
                  "--retries", "0",    "--api",   (char *)e->base, NULL};
  char *out = niobium(push), id[40];
  json_text(out, "id", id, sizeof id);
  free(out);
  char *show[] = {"fw", "campaign", "show", id, "--api", (char *)e->base, NULL};
  for (int t = 0; t < 600; t++) {
    out = niobium(show);
    if (strstr(out, "\"state\":\"done\"")) break;
    free(out);
    out = NULL;
    usleep(200 * 1000);
  }
  if (!out) fail_msg("%s: the campaign %s did not end", method, id);
  if (!strstr(out, "\"state\":\"updated\"") || !strstr(out, "\"updateResult\":1"))
    fail_msg("%s: %s", method, out);
  free(out);
  char want[80];
  snprintf(want, sizeof want, "\"%s\"", version);
  assert_true(wait_for(e, "/api/clients/fw-real/3/0/3", want, 20000));
}

static void test_real_client_signed(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  nb_test_proc srv, dev;
  server_start(&e, &srv);
  char prefix[100], key[128], pub[128], image[128], fwdir[128], uri[64];
  snprintf(prefix, sizeof prefix, "%s/vendor", e.dir);
  snprintf(key, sizeof key, "%s.key.pem", prefix);
  snprintf(pub, sizeof pub, "%s.pub.pem", prefix);
  snprintf(image, sizeof image, "%s/image.bin", e.dir);
  snprintf(fwdir, sizeof fwdir, "%s/device-fw", e.dir);
  char *keys[] = {"keys", "ec", "--out", prefix, NULL};
  free(niobium(keys));
  FILE *f = fopen(image, "wb");
  assert_non_null(f);
  for (size_t i = 0; i < 300 * 1024; i++) fputc((int)((i * 2654435761u) >> 13) & 0xff, f);
  fclose(f);
  assert_int_equal(mkdir(fwdir, 0700), 0);

  snprintf(uri, sizeof uri, "coap://%s", e.coap);
  char *dargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "client",
                   "--server",
                   uri,
                   "--endpoint",
                   "fw-real",
                   "--sensors",
                   "none",
                   "--firmware-dir",
                   fwdir,
                   "--firmware-trust",
                   pub,
                   NULL};
  assert_true(nb_test_proc_start(&dev, dargv));
  assert_true(wait_for(&e, "/api/clients/fw-real", "\"endpoint\":\"fw-real\"", 20000));
  char *before = nb_test_http(e.base, "GET", "/api/clients/fw-real/3/0/3", NULL);
  assert_non_null(before);
  if (strstr(before, "\"2.0.0\"") || strstr(before, "\"3.0.0\"")) fail_msg("%s", before);
  free(before);

  char sha2[65], sha3[65];
  package(&e, key, pub, image, "2.0.0", sha2);
  push_and_check(&e, sha2, "push", "2.0.0");
  package(&e, key, pub, image, "3.0.0", sha3);
  push_and_check(&e, sha3, "pull", "3.0.0");

  nb_test_proc_stop(&dev);
  nb_test_proc_cleanup(&dev);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  char *rm[] = {"rm", "-rf", e.dir, NULL};
  nb_test_run(rm, 10000, NULL);
}

/* One table holds the package and the server subcommands: an option of the other kind is a
 * usage error (exit 2) naming it, never silently dropped. */
static void test_cli_options_per_subcommand(void **state) {
  (void)state;
  char *bin = (char *)nb_test_env("NB_BINARY");
  char *sign_api[] = {bin,         "fw", "sign",  "img", "--key", "k",
                      "--version", "1",  "--out", "o",   "--api", "http://127.0.0.1:1",
                      NULL};
  char *list_key[] = {bin, "fw", "list", "--key", "k", NULL};
  char *inspect_retries[] = {bin, "fw", "inspect", "p", "--retries", "1", NULL};
  char *unknown[] = {bin, "fw", "flash", NULL};
  char *const *cases[] = {sign_api, list_key, inspect_retries, unknown};
  const char *says[] = {"sign does not take --api", "list does not take --key",
                        "inspect does not take --retries", "unknown subcommand 'flash'"};
  for (size_t i = 0; i < 4; i++) {
    char *out = NULL, *err = NULL;
    assert_int_equal(nb_test_run_capture(cases[i], 30000, &out, &err), 2);
    if (!strstr(err, says[i])) fail_msg("%s: %s", says[i], err);
    free(out);
    free(err);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_push_and_pull),
                                     cmocka_unit_test(test_real_client_signed),
                                     cmocka_unit_test(test_cli_options_per_subcommand)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
