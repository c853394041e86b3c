/* Firmware update of the real `niobium client` over loopback (issue 20, device side). The test
 * process is the device's LwM2M server on a UDP socket of its own (the device answers its
 * servers only), driving the library's CoAP endpoint:
 *  - `--objects all` exposes object 5 (it did not: /5/0/3 read 4.04);
 *  - a 1 MiB package signed with `niobium fw sign` pushed by a Block1 Write of /5/0/0 lands in
 *    --firmware-dir (0600, identical), Execute /5/0/2 installs it: /3/0/3 becomes the
 *    manifest's version and the device registers anew;
 *  - the same package pulled from `niobium coap serve` (Block2) through /5/0/1, installed by a
 *    --firmware-hook that gets the package path and the version;
 *  - the same pulled over http:// from Python's http.server (libcurl, streamed);
 *  - a tampered package and one signed by another key end with Update Result 5;
 *  - libcoap's coap-client as the judge of the Block1 push (it takes the server's port over
 *    while the test's socket steps aside, so the device sees its server). */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "coap/endpoint.h"
#include "coaptest.h"
#include "nb_test.h"

#define PKG_IMAGE ((size_t)1024 * 1024 - 1024) /* with its envelope: 1 MiB at most */

/* ---- the test's LwM2M server ---- */

typedef struct {
  int fd;
  uint16_t port;
  nb_coap_ep *ep;
  int registers;
  nb_addr dev;
  char links[2048]; /* the latest Register's object links */
} mini;

static nb_time_ms mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (nb_time_ms)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void mini_send(void *user, const nb_addr *peer, const uint8_t *d, size_t len) {
  mini *m = user;
  struct sockaddr_storage ss;
  size_t sl;
  if (nb_addr_to_sockaddr(peer, (struct sockaddr *)&ss, sizeof ss, &sl) == NB_OK)
    sendto(m->fd, d, len, 0, (struct sockaddr *)&ss, (socklen_t)sl);
}

static void mini_handler(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                         const nb_coap_msg *req, nb_time_ms now) {
  mini *m = user;
  char path[64] = "";
  nb_coap_msg_get_path(req, NB_COAP_OPT_URI_PATH, path, sizeof path);
  nb_coap_msg r;
  nb_coap_msg_init(&r, NB_COAP_ACK, NB_COAP_CHANGED, 0);
  if (req->code == NB_COAP_POST && strcmp(path, "/rd") == 0) {
    m->registers++;
    m->dev = *peer;
    size_t n = req->payload_len < sizeof m->links - 1 ? req->payload_len : sizeof m->links - 1;
    memcpy(m->links, req->payload, n);
    m->links[n] = 0;
    r.code = NB_COAP_CREATED;
    nb_coap_msg_add_path(&r, NB_COAP_OPT_LOCATION_PATH, "/rd/1");
  } else if (req->code == NB_COAP_DELETE) {
    r.code = NB_COAP_DELETED;
  }
  nb_coap_exchange_respond(ex, &r, now);
}

static void mini_start(mini *m) {
  memset(m, 0, sizeof *m);
  m->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  assert_true(m->fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(m->fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t al = sizeof a;
  getsockname(m->fd, (struct sockaddr *)&a, &al);
  m->port = ntohs(a.sin_port);
  nb_coap_ep_config cfg;
  nb_coap_ep_config_default(&cfg);
  cfg.max_body = 4u << 20;
  assert_int_equal(nb_coap_ep_new(&cfg, mini_send, m, &m->ep), NB_OK);
  nb_coap_ep_set_handler(m->ep, mini_handler, m);
}

/* The socket steps aside (another program takes the port) and comes back. */
static void mini_unbind(mini *m) {
  close(m->fd);
  m->fd = -1;
}

static void mini_rebind(mini *m) {
  m->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  assert_true(m->fd >= 0);
  struct sockaddr_in a = {
      .sin_family = AF_INET, .sin_port = htons(m->port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(m->fd, (struct sockaddr *)&a, sizeof a), 0);
}

static void mini_stop(mini *m) {
  nb_coap_ep_free(m->ep);
  if (m->fd >= 0) close(m->fd);
}

/* Runs the endpoint until *cond (checked between datagrams) or timeout_ms. */
static bool mini_pump(mini *m, bool (*cond)(void *), void *arg, int timeout_ms) {
  nb_time_ms end = mono_ms() + timeout_ms;
  static uint8_t buf[2048];
  while (!(cond && cond(arg))) {
    nb_time_ms now = mono_ms();
    if (now >= end) return false;
    struct pollfd p = {.fd = m->fd, .events = POLLIN};
    if (poll(&p, 1, 20) > 0) {
      struct sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      ssize_t n = recvfrom(m->fd, buf, sizeof buf, 0, (struct sockaddr *)&ss, &sl);
      nb_addr from;
      if (n > 0 && nb_addr_from_sockaddr((struct sockaddr *)&ss, &from) == NB_OK)
        nb_coap_ep_receive(m->ep, &from, buf, (size_t)n, mono_ms());
    }
    nb_coap_ep_tick(m->ep, mono_ms());
  }
  return true;
}

typedef struct {
  mini *m;
  int n;
} reg_wait;

static bool registered_n(void *arg) {
  reg_wait *w = arg;
  return w->m->registers >= w->n;
}

static void wait_registers(mini *m, int n, int timeout_ms) {
  reg_wait w = {m, n};
  if (!mini_pump(m, registered_n, &w, timeout_ms))
    fail_msg("%d Register(s) wanted, %d came", n, m->registers);
}

/* A request to the device; returns the code, the payload (text) into out. */
static uint8_t dm(mini *m, uint8_t method, const char *path, int cf, const void *body, size_t len,
                  char *out, size_t cap) {
  nb_coap_msg q;
  nb_coap_msg_init(&q, NB_COAP_CON, method, 0);
  nb_coap_msg_add_path(&q, NB_COAP_OPT_URI_PATH, path);
  if (method == NB_COAP_GET) nb_coap_msg_add_uint(&q, NB_COAP_OPT_ACCEPT, NB_COAP_CF_TEXT);
  if (cf >= 0) nb_coap_msg_add_uint(&q, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
  if (len) nb_coap_msg_set_payload(&q, body, len);
  nb_ct_resp r;
  memset(&r, 0, sizeof r);
  assert_int_equal(nb_coap_ep_request(m->ep, &m->dev, &q, true, nb_ct_resp_cb, &r, mono_ms(), NULL),
                   NB_OK);
  if (!mini_pump(m, nb_ct_resp_done, &r, 120000)) fail_msg("no answer to %s", path);
  nb_err err = r.err[r.calls - 1];
  uint8_t code = err == NB_OK ? r.code[r.calls - 1] : 0;
  if (err != NB_OK) fail_msg("%s: no answer (%s): did the device die?", path, nb_err_name(err));
  if (out) {
    size_t n = r.payload && r.payload_len < cap ? r.payload_len : 0;
    if (n) memcpy(out, r.payload, n);
    out[n] = 0;
  }
  nb_ct_resp_free(&r);
  return code;
}

static void expect_text(mini *m, const char *path, const char *want) {
  char got[256];
  uint8_t code = dm(m, NB_COAP_GET, path, -1, NULL, 0, got, sizeof got);
  if (code != NB_COAP_CONTENT || strcmp(got, want) != 0)
    fail_msg("%s: code %u.%02u '%s', wanted '%s'", path, code >> 5, code & 31, got, want);
}

/* Polls path until it reads want (a download in progress). */
static void wait_text(mini *m, const char *path, const char *want, int timeout_ms) {
  char got[256] = "";
  nb_time_ms end = mono_ms() + timeout_ms;
  while (mono_ms() < end) {
    if (dm(m, NB_COAP_GET, path, -1, NULL, 0, got, sizeof got) == NB_COAP_CONTENT &&
        strcmp(got, want) == 0)
      return;
    mini_pump(m, NULL, NULL, 200);
  }
  fail_msg("%s stayed '%s', wanted '%s'", path, got, want);
}

/* ---- fixtures: keys, packages, the device ---- */

typedef struct {
  char dir[64], fwdir[96];
  char key[256], pub[256], other[256], img[256], pkg[256];
  nb_test_proc dev, files, web;
  bool dev_on, files_on, web_on;
  mini m;
} fx;

static fx F;

static void run_ok(char *const argv[]) {
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, 120000, &out, &err);
  if (rc != 0) fail_msg("%s %s failed (%d): %s%s", argv[1], argv[2], rc, out, err);
  free(out);
  free(err);
}

static int setup(void **state) {
  (void)state;
  memset(&F, 0, sizeof F);
  snprintf(F.dir, sizeof F.dir, "/tmp/nb-fw-e2e-XXXXXX");
  assert_non_null(mkdtemp(F.dir));
  snprintf(F.fwdir, sizeof F.fwdir, "%s/fw", F.dir);
  assert_int_equal(mkdir(F.fwdir, 0700), 0);
  char prefix[128], oprefix[128];
  snprintf(prefix, sizeof prefix, "%s/vendor", F.dir);
  snprintf(oprefix, sizeof oprefix, "%s/other", F.dir);
  snprintf(F.key, sizeof F.key, "%s.key.pem", prefix);
  snprintf(F.pub, sizeof F.pub, "%s.pub.pem", prefix);
  snprintf(F.other, sizeof F.other, "%s.key.pem", oprefix);
  snprintf(F.img, sizeof F.img, "%s/image.bin", F.dir);
  snprintf(F.pkg, sizeof F.pkg, "%s/image.nbfw", F.dir);
  const char *bin = nb_test_env("NB_BINARY");
  char *k1[] = {(char *)bin, "keys", "ec", "--out", prefix, NULL};
  char *k2[] = {(char *)bin, "keys", "ec", "--out", oprefix, NULL};
  run_ok(k1);
  run_ok(k2);
  FILE *f = fopen(F.img, "wb");
  assert_non_null(f);
  for (size_t i = 0; i < PKG_IMAGE; i++) fputc((int)((i * 2654435761u) >> 13) & 0xff, f);
  fclose(f);
  mini_start(&F.m);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  if (F.dev_on) nb_test_proc_stop(&F.dev);
  if (F.files_on) nb_test_proc_stop(&F.files);
  if (F.web_on) nb_test_proc_stop(&F.web);
  if (F.web_on) nb_test_proc_cleanup(&F.web);
  if (F.dev_on) nb_test_proc_cleanup(&F.dev);
  if (F.files_on) nb_test_proc_cleanup(&F.files);
  mini_stop(&F.m);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", F.dir);
  if (system(cmd) != 0) return -1;
  return 0;
}

static void sign(const char *key, const char *version) {
  char *argv[] = {(char *)nb_test_env("NB_BINARY"),
                  "fw",
                  "sign",
                  "--key",
                  (char *)key,
                  "--version",
                  (char *)version,
                  F.img,
                  "--out",
                  F.pkg,
                  NULL};
  run_ok(argv);
}

/* Starts the device against the test's server with extra options; waits for its Register. */
static void start_device(char *const extra[]) {
  char uri[64];
  snprintf(uri, sizeof uri, "coap://127.0.0.1:%u", F.m.port);
  char *argv[32] = {(char *)nb_test_env("NB_BINARY"),
                    "client",
                    "--server",
                    uri,
                    "--endpoint",
                    "fw-dev",
                    "--sensors",
                    "none",
                    "--log-level",
                    "debug"};
  size_t n = 10;
  for (size_t i = 0; extra[i]; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  assert_true(nb_test_proc_start(&F.dev, argv));
  F.dev_on = true;
  wait_registers(&F.m, F.m.registers + 1, 20000);
}

static char *slurp(const char *path, size_t *len) { return nb_test_read_file(path, len); }

/* path holds exactly the package. */
static void expect_same_as_package(const char *path) {
  size_t a, b;
  char *x = slurp(path, &a), *y = slurp(F.pkg, &b);
  assert_non_null(x);
  assert_non_null(y);
  assert_int_equal(a, b);
  assert_memory_equal(x, y, a);
  free(x);
  free(y);
}

/* Execute Update: success, the new version in /3/0/3, a new Register. */
static void expect_install(const char *version) {
  int regs = F.m.registers;
  assert_int_equal(dm(&F.m, NB_COAP_POST, "/5/0/2", -1, NULL, 0, NULL, 0), NB_COAP_CHANGED);
  wait_registers(&F.m, regs + 1, 30000);
  expect_text(&F.m, "/5/0/5", "1");
  expect_text(&F.m, "/5/0/3", "0");
  expect_text(&F.m, "/3/0/3", version);
}

/* ---- tests ---- */

static void test_objects_all_has_firmware(void **state) {
  (void)state;
  char *extra[] = {"--objects", "all", NULL};
  start_device(extra);
  if (!strstr(F.m.links, "</5/0>")) fail_msg("no </5/0> in the Register: %s", F.m.links);
  expect_text(&F.m, "/5/0/3", "0");
  /* A Package URI the device cannot use is answered 2.04 and reported in the Update Result. */
  const char *ftp = "ftp://127.0.0.1/fw.bin";
  assert_int_equal(dm(&F.m, NB_COAP_PUT, "/5/0/1", NB_COAP_CF_TEXT, ftp, strlen(ftp), NULL, 0),
                   NB_COAP_CHANGED);
  expect_text(&F.m, "/5/0/5", "9");
}

static void test_push_1mib(void **state) {
  (void)state;
  sign(F.key, "2.0.0");
  char *extra[] = {"--objects", "basic", "--firmware-dir", F.fwdir, "--firmware-trust",
                   F.pub,       NULL};
  start_device(extra);
  expect_text(&F.m, "/3/0/3", "0.1");
  size_t len;
  char *pkg = slurp(F.pkg, &len);
  assert_non_null(pkg);
  assert_true(len <= 1024 * 1024 && len > PKG_IMAGE);
  assert_int_equal(dm(&F.m, NB_COAP_PUT, "/5/0/0", NB_COAP_CF_OCTET_STREAM, pkg, len, NULL, 0),
                   NB_COAP_CHANGED);
  free(pkg);
  expect_text(&F.m, "/5/0/3", "2");
  expect_text(&F.m, "/5/0/7", "2.0.0");
  char stored[256];
  snprintf(stored, sizeof stored, "%s/package.bin", F.fwdir);
  struct stat st;
  assert_int_equal(stat(stored, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  expect_same_as_package(stored);
  expect_install("2.0.0");
  snprintf(stored, sizeof stored, "%s/installed.bin", F.fwdir);
  expect_same_as_package(stored);
}

static void test_pull_from_coap_serve_with_hook(void **state) {
  (void)state;
  sign(F.key, "3.0.0");
  const char *bin = nb_test_env("NB_BINARY");
  char *serve[] = {(char *)bin, "coap", "serve", "--listen", "127.0.0.1:0", NULL};
  assert_true(nb_test_proc_start(&F.files, serve));
  F.files_on = true;
  assert_true(nb_test_proc_wait_output(&F.files, false, "listening on coap://127.0.0.1:", 10000));
  char *out = nb_test_proc_stdout(&F.files);
  unsigned port = 0;
  assert_int_equal(sscanf(strstr(out, "coap://127.0.0.1:"), "coap://127.0.0.1:%u", &port), 1);
  free(out);
  char store[80];
  snprintf(store, sizeof store, "coap://127.0.0.1:%u/store", port);
  char *put[] = {(char *)bin, "coap", "put", "--content-format", "octet", "--payload-file",
                 F.pkg,       store,  NULL};
  run_ok(put);
  char hook[400], hooked[200];
  snprintf(hooked, sizeof hooked, "%s/hooked.bin", F.dir);
  snprintf(hook, sizeof hook, "sh -c 'test \"$NB_FW_VERSION\" = 3.0.0 && cp \"$0\" %s'", hooked);
  char *extra[] = {
      "--objects", "basic", "--firmware-dir", F.fwdir, "--firmware-trust", F.pub, "--firmware-hook",
      hook,        NULL};
  start_device(extra);
  assert_int_equal(dm(&F.m, NB_COAP_PUT, "/5/0/1", NB_COAP_CF_TEXT, store, strlen(store), NULL, 0),
                   NB_COAP_CHANGED);
  wait_text(&F.m, "/5/0/3", "2", 120000);
  expect_text(&F.m, "/5/0/1", store);
  expect_install("3.0.0");
  expect_same_as_package(hooked);
}

/* Whether something accepts TCP connections on 127.0.0.1:port within timeout_ms. */
static bool tcp_listening(uint16_t port, int timeout_ms) {
  struct sockaddr_in a = {
      .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (int waited = 0; waited < timeout_ms; waited += 100) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    if (ok) return true;
    usleep(100 * 1000);
  }
  return false;
}

/* Python's http.server serving F.dir; its port. */
static uint16_t start_web(void) {
  char py[256];
  if (!nb_test_find_python("http.server", py, sizeof py)) {
    print_message("no python3 with http.server: skipped\n");
    skip();
  }
  uint16_t port = nb_test_free_port(SOCK_STREAM);
  char ps[8];
  snprintf(ps, sizeof ps, "%u", port);
  char *web[] = {py, "-m", "http.server", "--bind", "127.0.0.1", "--directory", F.dir, ps, NULL};
  assert_true(nb_test_proc_start(&F.web, web));
  F.web_on = true;
  if (!tcp_listening(port, 10000)) fail_msg("http.server did not listen on %u", port);
  return port;
}

static void test_pull_over_http(void **state) {
  (void)state;
  uint16_t port = start_web();
  char url[128];
  sign(F.key, "5.0.0");
  snprintf(url, sizeof url, "http://127.0.0.1:%u/image.nbfw", port);
  char *extra[] = {"--objects", "basic", "--firmware-dir", F.fwdir, "--firmware-trust",
                   F.pub,       NULL};
  start_device(extra);
  expect_text(&F.m, "/5/0/8/3", "3");
  assert_int_equal(dm(&F.m, NB_COAP_PUT, "/5/0/1", NB_COAP_CF_TEXT, url, strlen(url), NULL, 0),
                   NB_COAP_CHANGED);
  wait_text(&F.m, "/5/0/3", "2", 60000);
  char stored[256];
  snprintf(stored, sizeof stored, "%s/package.bin", F.fwdir);
  expect_same_as_package(stored);
  expect_install("5.0.0");
  /* A missing file: 404, result 7. */
  snprintf(url, sizeof url, "http://127.0.0.1:%u/none.nbfw", port);
  assert_int_equal(dm(&F.m, NB_COAP_PUT, "/5/0/1", NB_COAP_CF_TEXT, url, strlen(url), NULL, 0),
                   NB_COAP_CHANGED);
  wait_text(&F.m, "/5/0/5", "7", 30000);
}

/* Too large for --firmware-max-size: the device stops the transfer mid-stream, result 2. */
static void test_pull_over_http_too_large(void **state) {
  (void)state;
  uint16_t port = start_web();
  char url[128];
  sign(F.key, "5.0.1");
  snprintf(url, sizeof url, "http://127.0.0.1:%u/image.nbfw", port);
  char *extra[] = {"--objects",
                   "basic",
                   "--firmware-dir",
                   F.fwdir,
                   "--firmware-trust",
                   F.pub,
                   "--firmware-max-size",
                   "300000",
                   NULL};
  start_device(extra);
  assert_int_equal(dm(&F.m, NB_COAP_PUT, "/5/0/1", NB_COAP_CF_TEXT, url, strlen(url), NULL, 0),
                   NB_COAP_CHANGED);
  wait_text(&F.m, "/5/0/5", "2", 60000);
  expect_text(&F.m, "/5/0/3", "0");
  char part[256];
  snprintf(part, sizeof part, "%s/.package.bin.part", F.fwdir);
  assert_int_not_equal(access(part, F_OK), 0);
}

static void test_refused_packages(void **state) {
  (void)state;
  char *extra[] = {"--objects", "basic", "--firmware-dir", F.fwdir, "--firmware-trust",
                   F.pub,       NULL};
  start_device(extra);
  size_t len;
  /* Signed by a key the device does not trust. */
  sign(F.other, "6.6.6");
  char *pkg = slurp(F.pkg, &len);
  assert_int_equal(dm(&F.m, NB_COAP_PUT, "/5/0/0", NB_COAP_CF_OCTET_STREAM, pkg, len, NULL, 0),
                   NB_COAP_CHANGED);
  free(pkg);
  expect_text(&F.m, "/5/0/3", "0");
  expect_text(&F.m, "/5/0/5", "5");
  /* Signed by the right key, one image byte changed on the way. */
  sign(F.key, "2.0.0");
  pkg = slurp(F.pkg, &len);
  pkg[len / 2] ^= 0x40;
  assert_int_equal(dm(&F.m, NB_COAP_PUT, "/5/0/0", NB_COAP_CF_OCTET_STREAM, pkg, len, NULL, 0),
                   NB_COAP_CHANGED);
  free(pkg);
  expect_text(&F.m, "/5/0/5", "5");
  char stored[256];
  snprintf(stored, sizeof stored, "%s/package.bin", F.fwdir);
  assert_int_not_equal(access(stored, F_OK), 0);
  assert_int_equal(dm(&F.m, NB_COAP_POST, "/5/0/2", -1, NULL, 0, NULL, 0), NB_COAP_BAD_REQUEST);
  expect_text(&F.m, "/3/0/3", "0.1");
}

static void test_push_by_libcoap_client(void **state) {
  (void)state;
  if (!nb_test_have_program("coap-client-notls")) {
    print_message("coap-client-notls (libcoap3-bin) not installed: skipped\n");
    skip();
  }
  sign(F.key, "4.0.0");
  char *extra[] = {"--objects", "basic", "--firmware-dir", F.fwdir, "--firmware-trust",
                   F.pub,       NULL};
  start_device(extra);
  char port[8], uri[96], a[NB_ADDR_STRLEN];
  snprintf(port, sizeof port, "%u", F.m.port);
  snprintf(uri, sizeof uri, "coap://%s/5/0/0", nb_addr_format(&F.m.dev, a, sizeof a));
  mini_unbind(&F.m);
  char *put[] = {"coap-client-notls",
                 "-p",
                 port,
                 "-U",
                 "-m",
                 "put",
                 "-b",
                 "1024",
                 "-t",
                 "42",
                 "-B",
                 "120",
                 "-f",
                 F.pkg,
                 uri,
                 NULL};
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(put, 180000, &out, &err);
  mini_rebind(&F.m);
  if (rc != 0) fail_msg("coap-client failed (%d): %s%s", rc, out, err);
  free(out);
  free(err);
  expect_text(&F.m, "/5/0/3", "2");
  expect_text(&F.m, "/5/0/7", "4.0.0");
  char stored[256];
  snprintf(stored, sizeof stored, "%s/package.bin", F.fwdir);
  expect_same_as_package(stored);
  expect_install("4.0.0");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_objects_all_has_firmware, setup, teardown),
      cmocka_unit_test_setup_teardown(test_push_1mib, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pull_from_coap_serve_with_hook, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pull_over_http, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pull_over_http_too_large, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused_packages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_push_by_libcoap_client, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
