/* The attack campaign of issue 13 against the REST API of the real `niobium server` (and of
 * `niobium bootstrap --http`), on loopback only, each flood bounded: one test per item.
 *   item 2  cross-site requests and DNS rebinding on the token-less loopback API
 *   item 4  slowloris connections and held event streams starving an authorised operator
 *   item 5  a list too large for one answer (registrations, credentials) must come in pages
 *   item 7  empty, short, file-borne tokens and the Bearer scheme
 *   item 8  HTTPS for the API, mandatory off loopback
 *   item 12 endpoint names and raw public keys the CoAP side would refuse
 *   item 13 one log line per failed event-stream write or refused connection
 * Every test fails against the code before the fixes (see docs/security.md). Requests are
 * written by hand on raw sockets so that every header is the attacker's choice. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_test.h"

#define TOKEN "attack-campaign-token-0123"
#define RESP_MAX 65536

/* ---- the server under attack ---- */

typedef struct {
  char dir[64], db[128];
  uint16_t http, coap, bs_coap;
  nb_test_proc p;
  bool running;
} server;

static void server_dir(server *s) {
  memset(s, 0, sizeof(*s));
  snprintf(s->dir, sizeof(s->dir), "/tmp/nb-attack-http-XXXXXX");
  assert_non_null(mkdtemp(s->dir));
  snprintf(s->db, sizeof(s->db), "%s/server.db", s->dir);
  s->http = nb_test_free_port(SOCK_STREAM);
  s->coap = nb_test_free_port(SOCK_DGRAM);
  s->bs_coap = nb_test_free_port(SOCK_DGRAM);
}

static char *path_in(const server *s, const char *name) {
  static char p[4][192];
  static int k;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof(p[k]), "%s/%s", s->dir, name);
  return p[k];
}

/* `niobium server` on loopback with extra arguments (NULL-terminated). */
static void server_start(server *s, const char *const *extra) {
  char coap[32], http[32];
  snprintf(coap, sizeof(coap), "127.0.0.1:%u", s->coap);
  snprintf(http, sizeof(http), "127.0.0.1:%u", s->http);
  char *argv[40] = {
      (char *)nb_test_env("NB_BINARY"), "server", "--coap", coap, "--http", http, "--db", s->db};
  int n = 8;
  for (; extra && *extra && n < 38; extra++) argv[n++] = (char *)*extra;
  argv[n] = NULL;
  assert_true(nb_test_proc_start(&s->p, argv));
  s->running = true;
  if (!nb_test_proc_wait_output(&s->p, true, "proto=http", 15000)) {
    char *err = nb_test_proc_stderr(&s->p);
    fail_msg("the server did not start: %s", err);
  }
}

static void server_stop(server *s) {
  if (s->running) {
    nb_test_proc_stop(&s->p);
    nb_test_proc_cleanup(&s->p);
    s->running = false;
  }
}

static void server_cleanup(server *s) {
  server_stop(s);
  char cmd[160];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
  char *argv[] = {"sh", "-c", cmd, NULL};
  char *out = NULL;
  nb_test_run(argv, 10000, &out);
  free(out);
}

/* ---- raw HTTP ---- */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A TCP connection to 127.0.0.1:port from src (another loopback address, NULL: any), within
 * timeout_ms (a server that no longer accepts leaves connect() waiting for minutes). */
static int tcp_connect_within(uint16_t port, const char *src, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  struct sockaddr_in me = {.sin_family = AF_INET};
  if (src && (inet_pton(AF_INET, src, &me.sin_addr) != 1 ||
              bind(fd, (struct sockaddr *)&me, sizeof(me)) != 0)) {
    close(fd);
    return -1;
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa)), err = 0;
  socklen_t len = sizeof(err);
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  if (rc != 0 && (errno != EINPROGRESS || poll(&p, 1, timeout_ms) != 1 ||
                  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)) {
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

static int tcp_connect(uint16_t port, const char *src) {
  return tcp_connect_within(port, src, 5000);
}

static bool send_all(int fd, const char *data, size_t len) {
  while (len) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    len -= (size_t)n;
  }
  return true;
}

/* Reads into resp until the peer closes, the buffer is full, timeout_ms pass, or (head_only)
 * the header is complete; the status of "HTTP/1.1 NNN", 0 when none came. */
static int read_reply(int fd, char *resp, size_t cap, int timeout_ms, bool head_only) {
  size_t got = 0;
  int64_t end = now_ms() + timeout_ms;
  resp[0] = '\0';
  while (got < cap - 1 && !(head_only && strstr(resp, "\r\n\r\n"))) {
    int left = (int)(end - now_ms());
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (left <= 0 || poll(&p, 1, left) <= 0) break;
    ssize_t n = recv(fd, resp + got, cap - 1 - got, 0);
    if (n <= 0) break;
    got += (size_t)n;
    resp[got] = '\0';
  }
  int status = 0;
  if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) status = 0;
  return status;
}

static int read_answer(int fd, char *resp, size_t cap, int timeout_ms) {
  return read_reply(fd, resp, cap, timeout_ms, false);
}

/* One request; headers are extra "Name: value\r\n" lines (a Host among them replaces ours).
 * Returns the status (0: no answer within timeout_ms). */
static int request(uint16_t port, const char *method, const char *path, const char *headers,
                   const char *body, char *resp, int timeout_ms) {
  char *req = malloc(RESP_MAX);
  assert_non_null(req);
  int n = snprintf(req, RESP_MAX, "%s %s HTTP/1.1\r\n", method, path);
  if (!headers || !strstr(headers, "Host:"))
    n += snprintf(req + n, RESP_MAX - (size_t)n, "Host: 127.0.0.1:%u\r\n", port);
  n += snprintf(req + n, RESP_MAX - (size_t)n, "Connection: close\r\n%s", headers ? headers : "");
  if (body) n += snprintf(req + n, RESP_MAX - (size_t)n, "Content-Length: %zu\r\n", strlen(body));
  n += snprintf(req + n, RESP_MAX - (size_t)n, "\r\n%s", body ? body : "");
  int fd = tcp_connect(port, NULL), status = 0;
  if (fd >= 0 && send_all(fd, req, (size_t)n)) status = read_answer(fd, resp, RESP_MAX, timeout_ms);
  if (fd >= 0) close(fd);
  free(req);
  return status;
}

static char *resp_buf(void) {
  char *r = malloc(RESP_MAX);
  assert_non_null(r);
  return r;
}

/* As many descriptors as a flood needs; false when the system will not give them. */
static bool raise_fd_limit(rlim_t want) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
  if (rl.rlim_cur >= want) return true;
  if (rl.rlim_max < want) return false;
  rl.rlim_cur = want;
  return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

/* ---- CoAP datagrams ---- */

static void udp_send(uint16_t port, const uint8_t *data, size_t len) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sendto(fd, data, len, 0, (struct sockaddr *)&sa, sizeof(sa));
  close(fd);
}

/* CON POST /rd?ep=EP&lt=300 with the object list </1/0> (a NoSec Register). */
static void coap_register(uint16_t port, const char *ep, uint16_t mid) {
  uint8_t b[64];
  size_t n = 0, ql;
  char q[16];
  ql = (size_t)snprintf(q, sizeof(q), "ep=%s", ep);
  assert_true(ql <= 12);
  b[n++] = 0x40;
  b[n++] = 0x02;
  b[n++] = (uint8_t)(mid >> 8);
  b[n++] = (uint8_t)mid;
  b[n++] = 0xB2; /* Uri-Path "rd" */
  memcpy(b + n, "rd", 2);
  n += 2;
  b[n++] = 0x11; /* Content-Format 40 */
  b[n++] = 40;
  b[n++] = (uint8_t)(0x30 | ql); /* Uri-Query */
  memcpy(b + n, q, ql);
  n += ql;
  b[n++] = 0x06;
  memcpy(b + n, "lt=300", 6);
  n += 6;
  b[n++] = 0xFF;
  memcpy(b + n, "</1/0>", 6);
  n += 6;
  udp_send(port, b, n);
}

/* CON POST /bs?ep=EP (a NoSec Bootstrap-Request). */
static void coap_bootstrap(uint16_t port, const char *ep) {
  uint8_t b[64];
  size_t n = 0, ql = strlen(ep) + 3;
  assert_true(ql <= 12);
  b[n++] = 0x40;
  b[n++] = 0x02;
  b[n++] = 0x33;
  b[n++] = 0x44;
  b[n++] = 0xB2;
  memcpy(b + n, "bs", 2);
  n += 2;
  b[n++] = (uint8_t)(0x40 | ql); /* Uri-Query (15 = 11 + 4) */
  memcpy(b + n, "ep=", 3);
  memcpy(b + n + 3, ep, ql - 3);
  n += ql;
  udp_send(port, b, n);
}

/* Polls GET path until its answer holds needle. */
static bool wait_for(uint16_t port, const char *path, const char *headers, const char *needle,
                     int timeout_ms) {
  char *r = resp_buf();
  bool found = false;
  for (int64_t end = now_ms() + timeout_ms; !found && now_ms() < end;) {
    found = request(port, "GET", path, headers, NULL, r, 3000) == 200 && strstr(r, needle);
    if (!found) usleep(50000);
  }
  free(r);
  return found;
}

/* ==== item 2: cross-site requests and DNS rebinding ==== */

/* The operator's browser visits evil.example, whose page posts to the token-less loopback API
 * (simple requests need no preflight), or whose name is rebound to 127.0.0.1. */
static void test_item2_cross_site_and_rebinding(void **state) {
  server *s = *state;
  char bs[32], cfg[64];
  snprintf(bs, sizeof(bs), "127.0.0.1:%u", s->bs_coap);
  snprintf(cfg, sizeof(cfg), "coap://127.0.0.1:%u", s->coap);
  char *add[] = {(char *)nb_test_env("NB_BINARY"),
                 "bootstrap",
                 "config",
                 "add",
                 "--default",
                 "--server-uri",
                 cfg,
                 "--security",
                 "nosec",
                 "--db",
                 s->db,
                 NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(add, 20000, &out), 0);
  free(out);
  const char *extra[] = {"--with-bootstrap", "--bs-coap", bs, "--bs-policy", "approve", NULL};
  server_start(s, extra);
  char *r = resp_buf(), hdr[256];
  /* a rogue device waits for approval */
  coap_bootstrap(s->bs_coap, "rogue");
  assert_true(wait_for(s->http, "/api/bootstrap/pending", NULL, "\"rogue\"", 10000));

  /* text/plain POST from another origin: a "simple request", no preflight */
  const char *psk =
      "{\"endpoint\":\"victim\",\"mode\":\"psk\",\"identity\":\"evil\",\"key\":\"00112233\"}";
  int st = request(s->http, "POST", "/api/security/clients",
                   "Origin: http://evil.example\r\nContent-Type: text/plain\r\n", psk, r, 10000);
  if (st != 403) fail_msg("cross-origin text/plain POST: %d, wanted 403: %.300s", st, r);
  assert_int_equal(request(s->http, "GET", "/api/security/clients/victim", NULL, NULL, r, 10000),
                   404);
  /* an HTML form POST approves nothing */
  st = request(s->http, "POST", "/api/bootstrap/pending/rogue/approve",
               "Origin: http://evil.example\r\nContent-Type: application/x-www-form-urlencoded\r\n",
               "x=1", r, 10000);
  assert_int_equal(st, 403);
  /* nor does one whose browser only says cross-site */
  st = request(s->http, "POST", "/api/bootstrap/pending/rogue/approve",
               "Sec-Fetch-Site: cross-site\r\n", NULL, r, 10000);
  assert_int_equal(st, 403);
  assert_true(wait_for(s->http, "/api/bootstrap/pending", NULL, "\"rogue\"", 3000));
  /* DNS rebinding: attacker.example now resolves to 127.0.0.1 */
  snprintf(hdr, sizeof(hdr), "Host: attacker.example:%u\r\n", s->http);
  st = request(s->http, "GET", "/api/clients", hdr, NULL, r, 10000);
  assert_int_equal(st, 421);
  assert_non_null(strstr(r, "\"code\":\"4.21\""));
  /* JSON sent as something else */
  st = request(s->http, "PUT", "/api/security/clients/dev-x", "Content-Type: text/plain\r\n",
               "{\"mode\":\"x509\",\"identity\":\"dev-x\"}", r, 10000);
  assert_int_equal(st, 415);
  /* no CORS: a preflight is refused and no Access-Control-Allow-* is ever sent */
  st = request(s->http, "OPTIONS", "/api/security/clients",
               "Origin: http://evil.example\r\nAccess-Control-Request-Method: PUT\r\n", NULL, r,
               10000);
  assert_true(st >= 400);
  assert_null(strstr(r, "Access-Control-Allow"));
  /* the operator's own browser, same origin, still works; so does localhost */
  snprintf(hdr, sizeof(hdr),
           "Origin: http://127.0.0.1:%u\r\nSec-Fetch-Site: same-origin\r\n"
           "Content-Type: application/json; charset=utf-8\r\n",
           s->http);
  st = request(s->http, "PUT", "/api/security/clients/dev-ok", hdr,
               "{\"mode\":\"x509\",\"identity\":\"dev-ok\"}", r, 10000);
  assert_int_equal(st, 201);
  snprintf(hdr, sizeof(hdr), "Host: localhost:%u\r\n", s->http);
  assert_int_equal(request(s->http, "GET", "/api/clients", hdr, NULL, r, 10000), 200);
  assert_null(strstr(r, "Access-Control-Allow"));
  server_stop(s);

  /* the standalone bootstrap API: the same guard */
  char http[32];
  snprintf(http, sizeof(http), "127.0.0.1:%u", s->http);
  char *bargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "bootstrap",
                   "--coap",
                   bs,
                   "--http",
                   http,
                   "--policy",
                   "approve",
                   "--db",
                   s->db,
                   NULL};
  assert_true(nb_test_proc_start(&s->p, bargv));
  s->running = true;
  assert_true(nb_test_proc_wait_output(&s->p, true, "proto=http", 15000));
  coap_bootstrap(s->bs_coap, "rogue2");
  assert_true(wait_for(s->http, "/api/bootstrap/pending", NULL, "\"rogue2\"", 10000));
  st = request(s->http, "POST", "/api/bootstrap/pending/rogue2/approve",
               "Origin: http://evil.example\r\nContent-Type: text/plain\r\n", "x", r, 10000);
  assert_int_equal(st, 403);
  snprintf(hdr, sizeof(hdr), "Host: attacker.example:%u\r\n", s->http);
  assert_int_equal(request(s->http, "GET", "/api/bootstrap/pending", hdr, NULL, r, 10000), 421);
  assert_true(wait_for(s->http, "/api/bootstrap/pending", NULL, "\"rogue2\"", 3000));
  free(r);
}

/* ==== item 4: exhaustion ==== */

#define AUTH "Authorization: Bearer " TOKEN "\r\n"

/* How long an authorised GET /api/clients takes (ms); fails unless it is answered 200 within
 * bound_ms. */
static int64_t authorised_latency(const server *s, int bound_ms, const char *when) {
  char *r = resp_buf();
  int64_t t0 = now_ms();
  int st = request(s->http, "GET", "/api/clients", AUTH, NULL, r, bound_ms);
  int64_t took = now_ms() - t0;
  free(r);
  if (st != 200 || took > bound_ms)
    fail_msg("%s: an authorised request got %d after %lld ms (bound %d ms)", when, st,
             (long long)took, bound_ms);
  return took;
}

/* Connections from naddr loopback addresses in turn (127.0.0.1 first: the operator's own),
 * each sending `start` (the start of a request, or a whole one) and then holding. */
static const char *const from[] = {"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4",
                                   "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8",
                                   "127.0.0.9", "127.0.0.10"};

static int open_flood(int *fds, int n, uint16_t port, const char *start, int naddr) {
  int opened = 0;
  for (int i = 0; i < n; i++) fds[i] = -1;
  for (int i = 0; i < n; i++) {
    /* a server that stopped accepting: the rest of the flood would only wait */
    if ((fds[i] = tcp_connect_within(port, from[i % naddr], 500)) < 0) break;
    if (!send_all(fds[i], start, strlen(start))) {
      close(fds[i]);
      fds[i] = -1;
      continue;
    }
    opened++;
  }
  return opened;
}

static void close_flood(int *fds, int n) {
  for (int i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]);
}

/* The server with a token and the default bounds; the latency of an authorised request
 * before any flood. */
static int64_t start_for_flood(server *s, rlim_t fds) {
  if (!raise_fd_limit(fds + 256)) skip();
  const char *extra[] = {"--api-token", TOKEN, NULL};
  server_start(s, extra);
  return authorised_latency(s, 3000, "before the flood");
}

/* 1,100 slowloris connections from five loopback addresses (past the default bound of 1000
 * connections in all), with the default options: an authorised request is answered at once,
 * during the flood and right after it. */
static void test_item4_slowloris(void **state) {
  enum { FLOOD = 1100 };
  server *s = *state;
  int64_t base = start_for_flood(s, FLOOD);
  static int fds[FLOOD];
  char start[96];
  snprintf(start, sizeof(start),
           "GET /api/clients HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nX-a: ", s->http);
  int opened = open_flood(fds, FLOOD, s->http, start, 5);
  assert_true(opened > 1000);
  int64_t during = authorised_latency(s, 3000, "during the slowloris flood");
  close_flood(fds, FLOOD);
  int64_t after = authorised_latency(s, 3000, "right after the flood");
  print_message("slowloris: baseline %lld ms, during %lld ms, after %lld ms (%d connections)\n",
                (long long)base, (long long)during, (long long)after, opened);
}

/* 2,000 requests for /api/events held open (with the token), with the default options: the
 * first 100 from the operator's own address, the rest from ten. Streams beyond their own
 * bounds (32 per address, 256 in all) are refused with 429 and 503, and ordinary requests
 * still pass. */
static void test_item4_event_streams(void **state) {
  enum { FLOOD = 2000, FIRST = 100 };
  server *s = *state;
  int64_t base = start_for_flood(s, FLOOD);
  static int fds[FLOOD];
  char req[160];
  snprintf(req, sizeof(req), "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n" AUTH "\r\n",
           s->http);
  int opened = open_flood(fds, FIRST, s->http, req, 1);
  opened += open_flood(fds + FIRST, FLOOD - FIRST, s->http, req, 10);
  assert_true(opened > 1900);
  int64_t during = authorised_latency(s, 3000, "during the event-stream flood");
  /* what the flood got: 256 streams at most, the rest refused with a JSON error */
  int ok = 0, busy = 0, full = 0;
  char *r = resp_buf();
  for (int i = 0; i < FLOOD; i++) {
    if (fds[i] < 0) continue;
    int st = read_reply(fds[i], r, 1024, 1, true);
    ok += st == 200;
    busy += st == 429;
    full += st == 503;
  }
  free(r);
  print_message("streams: %d held, %d refused 429, %d refused 503\n", ok, busy, full);
  assert_true(ok <= 256);
  assert_true(busy > 0 && full > 0);
  close_flood(fds, FLOOD);
  int64_t after = authorised_latency(s, 3000, "right after the flood");
  print_message("event streams: baseline %lld ms, during %lld ms, after %lld ms\n", (long long)base,
                (long long)during, (long long)after);
}

/* ==== item 5: lists in pages ==== */

/* Follows the Link header of each page; returns how many items came, checks their order. */
static int walk_pages(const server *s, const char *first, const char *key, int *pages) {
  char *r = resp_buf(), path[600], last[160] = "";
  snprintf(path, sizeof(path), "%s", first);
  int items = 0;
  *pages = 0;
  for (;;) {
    assert_int_equal(request(s->http, "GET", path, NULL, NULL, r, 10000), 200);
    (*pages)++;
    char *body = strstr(r, "\r\n\r\n");
    assert_non_null(body);
    for (char *k = strstr(body, key); k; k = strstr(k + 1, key)) {
      char name[160];
      assert_int_equal(sscanf(k + strlen(key), "%159[^\"]", name), 1);
      if (strcmp(name, last) <= 0) fail_msg("'%s' after '%s'", name, last);
      snprintf(last, sizeof(last), "%s", name);
      items++;
    }
    char *link = strstr(r, "\r\nLink: <");
    if (!link) break;
    assert_int_equal(sscanf(link + 9, "%599[^>]", path), 1);
    assert_non_null(strstr(link, "rel=\"next\""));
    if (*pages > 100) fail_msg("the pages never end");
  }
  free(r);
  return items;
}

static void test_item5_lists_in_pages(void **state) {
  enum { CLIENTS = 250, CREDS = 130 };
  server *s = *state;
  FILE *f = fopen(path_in(s, "psk.txt"), "w");
  assert_non_null(f);
  for (int i = 0; i < CREDS; i++) fprintf(f, "cred-%04d,id-%04d,00112233445566778899\n", i, i);
  fclose(f);
  const char *extra[] = {"--psk", path_in(s, "psk.txt"), NULL};
  server_start(s, extra);
  char *r = resp_buf();
  bool present[CLIENTS] = {false};
  for (int round = 0, missing = CLIENTS; missing && round < 20; round++) {
    missing = 0;
    for (int i = 0; i < CLIENTS; i++) {
      char path[64], ep[16];
      snprintf(ep, sizeof(ep), "pg-%04d", i);
      snprintf(path, sizeof(path), "/api/clients/%s", ep);
      if (present[i] ||
          (round && (present[i] = request(s->http, "GET", path, NULL, NULL, r, 5000) == 200)))
        continue;
      coap_register(s->coap, ep, (uint16_t)(1000 * round + i));
      usleep(1000); /* datagrams a loaded server can take */
      missing++;
    }
    usleep(100000);
  }
  /* one default page, not the whole list */
  assert_int_equal(request(s->http, "GET", "/api/clients", NULL, NULL, r, 10000), 200);
  int n = 0;
  for (char *k = strstr(r, "\"endpoint\":\"pg-"); k; k = strstr(k + 1, "\"endpoint\":\"pg-")) n++;
  if (n != 100) fail_msg("GET /api/clients gave %d registrations in one answer, wanted 100", n);
  assert_non_null(strstr(r, "rel=\"next\""));
  assert_int_equal(request(s->http, "GET", "/api/clients?limit=1001", NULL, NULL, r, 10000), 400);
  free(r);
  int pages;
  assert_int_equal(walk_pages(s, "/api/clients?limit=64", "\"endpoint\":\"", &pages), CLIENTS);
  assert_int_equal(pages, 4);
  assert_int_equal(walk_pages(s, "/api/security/clients?limit=60", "\"endpoint\":\"", &pages),
                   CREDS);
  assert_int_equal(pages, 3);
}

/* ==== item 7: tokens ==== */

static void expect_refused(char **argv, int want, const char *needle) {
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, 8000, &out, &err);
  if (rc != want || !err || !strstr(err, needle))
    fail_msg("%s %s: exit %d (wanted %d), stderr '%s' (wanted '%s')", argv[1], argv[2], rc, want,
             err ? err : "", needle);
  free(out);
  free(err);
}

static void test_item7_tokens(void **state) {
  server *s = *state;
  char http[32], *bin = (char *)nb_test_env("NB_BINARY");
  snprintf(http, sizeof(http), "127.0.0.1:%u", s->http);
  /* an empty token would let "Authorization: Bearer " in; a short one is guessable */
  char coap[32];
  snprintf(coap, sizeof(coap), "127.0.0.1:%u", s->coap);
  char *a1[] = {bin,    "server", "--coap",      coap, "--http", http,
                "--db", s->db,    "--api-token", "",   NULL};
  expect_refused(a1, 2, "16");
  char *a2[] = {bin,    "server", "--coap",      coap,    "--http", http,
                "--db", s->db,    "--api-token", "short", NULL};
  expect_refused(a2, 2, "16");
  /* a token file others can read is refused */
  const char *tf = path_in(s, "token");
  FILE *f = fopen(tf, "w");
  assert_non_null(f);
  fprintf(f, "%s\n", TOKEN);
  fclose(f);
  chmod(tf, 0644);
  char *a3[] = {bin,    "server", "--coap",           coap,       "--http", http,
                "--db", s->db,    "--api-token-file", (char *)tf, NULL};
  expect_refused(a3, 1, "chmod 600");
  chmod(tf, 0600);
  char bs[32];
  snprintf(bs, sizeof(bs), "127.0.0.1:%u", s->bs_coap);
  const char *extra[] = {"--api-token-file", tf, "--with-bootstrap", "--bs-coap", bs, NULL};
  server_start(s, extra);
  char *r = resp_buf();
  assert_int_equal(
      request(s->http, "GET", "/api/clients", "Authorization: Bearer \r\n", NULL, r, 10000), 401);
  assert_int_equal(request(s->http, "GET", "/api/clients", NULL, NULL, r, 10000), 401);
  assert_int_equal(request(s->http, "GET", "/api/clients", "Authorization: Bearer " TOKEN "x\r\n",
                           NULL, r, 10000),
                   401);
  assert_int_equal(request(s->http, "GET", "/api/clients",
                           "Authorization: Bearer attack-campaign-token-012\r\n", NULL, r, 10000),
                   401);
  assert_int_equal(request(s->http, "GET", "/api/clients", AUTH, NULL, r, 10000), 200);
  /* the scheme is case-insensitive (RFC 9110 11.1) */
  assert_int_equal(request(s->http, "GET", "/api/clients", "Authorization: bearer " TOKEN "\r\n",
                           NULL, r, 10000),
                   200);
  free(r);
  /* a CLI client reads the token from the file too */
  char api[48];
  snprintf(api, sizeof(api), "http://%s", http);
  char *cli[] = {bin,        "bootstrap", "--api", api, "--api-token-file",
                 (char *)tf, "config",    "list",  NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(cli, 20000, &out), 0);
  free(out);
}

/* ==== item 8: HTTPS ==== */

static void test_item8_https(void **state) {
  if (!nb_test_have_program("curl")) skip();
  server *s = *state;
  char *bin = (char *)nb_test_env("NB_BINARY"), *out = NULL;
  /* off loopback, plain HTTP would carry the token in clear: refused before anything binds
   * (192.0.2.1 is TEST-NET-1, never ours) */
  char off[32], coap[32], bs[32];
  snprintf(off, sizeof(off), "192.0.2.1:%u", s->http);
  snprintf(coap, sizeof(coap), "127.0.0.1:%u", s->coap);
  snprintf(bs, sizeof(bs), "127.0.0.1:%u", s->bs_coap);
  char *a1[] = {bin,    "server", "--coap",      coap,  "--http", off,
                "--db", s->db,    "--api-token", TOKEN, NULL};
  expect_refused(a1, 2, "--http-cert");
  char *a2[] = {bin,    "bootstrap", "--coap",      bs,    "--http", off,
                "--db", s->db,       "--api-token", TOKEN, NULL};
  expect_refused(a2, 2, "--http-cert");
  /* a CA and a certificate for 127.0.0.1 */
  char *ca[] = {bin, "keys", "cert", "ca", "--cn", "attack-ca", "--out", path_in(s, "ca"), NULL};
  assert_int_equal(nb_test_run(ca, 20000, &out), 0);
  free(out);
  char *ee[] = {bin,    "keys",      "cert",  "issue",     "--ca",  path_in(s, "ca"),
                "--cn", "127.0.0.1", "--san", "127.0.0.1", "--out", path_in(s, "api"),
                NULL};
  assert_int_equal(nb_test_run(ee, 20000, &out), 0);
  free(out);
  const char *extra[] = {"--api-token",
                         TOKEN,
                         "--http-cert",
                         path_in(s, "api.crt.pem"),
                         "--http-key",
                         path_in(s, "api.key.pem"),
                         "--with-bootstrap",
                         "--bs-coap",
                         bs,
                         NULL};
  server_start(s, extra);
  char url[64];
  snprintf(url, sizeof(url), "https://127.0.0.1:%u/api/clients", s->http);
  char *c1[] = {"curl",     "-s",
                "-m",       "10",
                "-w",       "|%{http_code}",
                "--cacert", path_in(s, "ca.crt.pem"),
                "-H",       "Authorization: Bearer " TOKEN,
                url,        NULL};
  assert_int_equal(nb_test_run(c1, 20000, &out), 0);
  assert_non_null(strstr(out, "[]|200"));
  free(out);
  /* the token never crosses in clear: plain HTTP gets no answer */
  char *r = resp_buf();
  assert_int_equal(request(s->http, "GET", "/api/clients", AUTH, NULL, r, 3000), 0);
  free(r);
  /* the project's own clients speak HTTPS with the CA given */
  char api[48];
  snprintf(api, sizeof(api), "https://127.0.0.1:%u", s->http);
  char *cli[] = {bin,           "bootstrap", "--api",  api,    "--api-ca", path_in(s, "ca.crt.pem"),
                 "--api-token", TOKEN,       "config", "list", NULL};
  assert_int_equal(nb_test_run(cli, 20000, &out), 0);
  free(out);
  char *cli2[] = {bin, "bootstrap", "--api", api, "--api-token", TOKEN, "config", "list", NULL};
  assert_int_equal(nb_test_run(cli2, 20000, &out), 1); /* an unknown CA */
  free(out);
}

/* ==== item 12: names and keys the CoAP side refuses ==== */

static void test_item12_validation(void **state) {
  server *s = *state;
  char bs[32];
  snprintf(bs, sizeof(bs), "127.0.0.1:%u", s->bs_coap);
  const char *extra[] = {"--with-bootstrap", "--bs-coap", bs, NULL};
  server_start(s, extra);
  char *r = resp_buf();
  const char *json = "Content-Type: application/json\r\n";
  int st = request(s->http, "POST", "/api/security/clients", json,
                   "{\"endpoint\":\"a/b\",\"mode\":\"x509\",\"identity\":\"cn\"}", r, 10000);
  if (st != 400) fail_msg("endpoint \"a/b\": %d, wanted 400", st);
  assert_int_equal(
      request(s->http, "POST", "/api/security/clients", json,
              "{\"endpoint\":\"a\\u0001b\",\"mode\":\"x509\",\"identity\":\"cn\"}", r, 10000),
      400);
  assert_int_equal(request(s->http, "PUT", "/api/security/clients/a%0Ab", json,
                           "{\"mode\":\"x509\",\"identity\":\"cn\"}", r, 10000),
                   400);
  /* a P-256 SubjectPublicKeyInfo cut short, and one with bytes after it */
  static const char spki[] =
      "3059301306072a8648ce3d020106082a8648ce3d03010703420004b0d44ddd78df88e3c656e1d8681db61970"
      "48afb5e7c4c419af468bfac5cfc17036fd4af438a7c513742e04f697019d7106d845d8e86cd361856aa8a324"
      "b4db0d";
  char body[400];
  snprintf(body, sizeof(body), "{\"mode\":\"rpk\",\"publicKey\":\"%.100s\"}", spki);
  assert_int_equal(request(s->http, "PUT", "/api/security/clients/dev-rpk", json, body, r, 10000),
                   400);
  snprintf(body, sizeof(body), "{\"mode\":\"rpk\",\"publicKey\":\"%s00\"}", spki);
  assert_int_equal(request(s->http, "PUT", "/api/security/clients/dev-rpk", json, body, r, 10000),
                   400);
  snprintf(body, sizeof(body), "{\"mode\":\"rpk\",\"publicKey\":\"%s\"}", spki);
  assert_int_equal(request(s->http, "PUT", "/api/security/clients/dev-rpk", json, body, r, 10000),
                   201);
  /* the bootstrap routes take the same names */
  assert_int_equal(request(s->http, "PUT", "/api/bootstrap/expected/a%01b", json,
                           "{\"secureId\":\"0123456789abcdef0123456789abcd\"}", r, 10000),
                   400);
  assert_int_equal(request(s->http, "PUT", "/api/bootstrap/configs/a%20b", json, "{}", r, 10000),
                   400);
  free(r);
}

/* ==== item 13: logs under a flood ==== */

static int count_lines(const char *text, const char *needle) {
  int n = 0;
  for (const char *l = text; l && *l;) {
    const char *nl = strchr(l, '\n');
    size_t len = nl ? (size_t)(nl - l) : strlen(l);
    char line[1024];
    snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), l);
    n += strstr(line, needle) != NULL;
    l = nl ? nl + 1 : NULL;
  }
  return n;
}

/* Event streams whose clients vanish (reset) while frames are written to them, and a slowloris
 * flood past the bounds: the log gets a summary with the counts, not a line for each. */
static void test_item13_log_flood(void **state) {
  enum { STREAMS = 150, SLOW = 1100 };
  if (!raise_fd_limit(STREAMS + SLOW + 256)) skip();
  server *s = *state;
  server_start(s, NULL);
  int fds[STREAMS];
  char req[128];
  snprintf(req, sizeof(req), "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n", s->http);
  char *r = resp_buf();
  for (int i = 0; i < STREAMS; i++) { /* within the stream bounds: 30 from each address */
    fds[i] = tcp_connect(s->http, from[i % 5]);
    assert_true(fds[i] >= 0);
    assert_true(send_all(fds[i], req, strlen(req)));
    assert_int_equal(read_reply(fds[i], r, 1024, 3000, true), 200);
  }
  /* the clients go away with a reset... */
  for (int i = 0; i < STREAMS; i++) {
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fds[i]);
  }
  /* ...and devices register: a REGISTRATION frame for every stream */
  for (int i = 0; i < 5; i++) {
    char ep[16];
    snprintf(ep, sizeof(ep), "log-%d", i);
    coap_register(s->coap, ep, (uint16_t)(500 + i));
  }
  assert_true(wait_for(s->http, "/api/clients/log-4", NULL, "log-4", 10000));
  /* a slowloris flood past the connection bound: evictions */
  static int slow[SLOW];
  char start[96];
  snprintf(start, sizeof(start), "GET /api/clients HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nX: ", s->http);
  open_flood(slow, SLOW, s->http, start, 5);
  request(s->http, "GET", "/api/clients", NULL, NULL, r, 3000); /* (item 4 checks the answer) */
  close_flood(slow, SLOW);
  free(r);
  /* the summary is written every minute, and once more on the way out */
  kill(s->p.pid, SIGTERM);
  assert_true(nb_test_proc_wait(&s->p, 15000) >= 0);
  char *err = nb_test_proc_stderr(&s->p);
  nb_test_proc_cleanup(&s->p);
  s->running = false;
  int failed = count_lines(err, "Failed"), warns = count_lines(err, "level=warn");
  print_message("log lines: %d 'Failed', %d warn\n", failed, warns);
  char head[1500];
  snprintf(head, sizeof(head), "%s", err);
  if (failed > 0 || warns > 3) {
    free(err);
    fail_msg("%d lines about failed writes and %d warnings for one flood:\n%s", failed, warns,
             head);
  }
  const char *sum = strstr(err, "event=http_summary");
  assert_non_null(sum);
  assert_null(strstr(sum, "evicted=0 "));
  free(err);
}

static int setup(void **state) {
  server *s = calloc(1, sizeof(*s));
  if (!s) return -1;
  server_dir(s);
  *state = s;
  return 0;
}

/* Runs after a failed test too: no server outlives its test. */
static int teardown(void **state) {
  server_cleanup(*state);
  free(*state);
  return 0;
}

int main(void) {
  if (!nb_test_env("NB_BINARY")) return 0;
  signal(SIGPIPE, SIG_IGN);
  if (getenv("NB_TEST_FILTER")) cmocka_set_test_filter(getenv("NB_TEST_FILTER"));
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_item2_cross_site_and_rebinding, setup, teardown),
      cmocka_unit_test_setup_teardown(test_item4_slowloris, setup, teardown),
      cmocka_unit_test_setup_teardown(test_item4_event_streams, setup, teardown),
      cmocka_unit_test_setup_teardown(test_item5_lists_in_pages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_item7_tokens, setup, teardown),
      cmocka_unit_test_setup_teardown(test_item8_https, setup, teardown),
      cmocka_unit_test_setup_teardown(test_item12_validation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_item13_log_flood, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
