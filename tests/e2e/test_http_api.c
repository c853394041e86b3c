/* The REST API and the event stream of the real `niobium server`, exercised with curl on
 * 127.0.0.1 against a real LwM2M device: the Niobium client engine on a UDP socket in a thread
 * of this test. Covers read/write/execute/discover/attributes/observe/composite, history, SSE
 * (NOTIFICATION, DEREGISTRATION, MONITOR 2.02), security CRUD, audit and the 4xx errors. */
#include <arpa/inet.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "base/time.h"
#include "nb_test.h"
#include "niobium/client.h"

typedef struct {
  int fd;
  nb_addr server;
  nb_client *c;
  atomic_bool stop;
  atomic_bool deregister;
  pthread_t th;
} device;

static void dev_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  device *d = user;
  struct sockaddr_storage ss;
  size_t sl;
  if (nb_addr_to_sockaddr(peer, (struct sockaddr *)&ss, sizeof(ss), &sl) == NB_OK)
    sendto(d->fd, data, len, 0, (struct sockaddr *)&ss, (socklen_t)sl);
}

static void *dev_run(void *arg) {
  device *d = arg;
  bool dereg_sent = false;
  while (!atomic_load(&d->stop)) {
    nb_time_ms now = nb_time_now_ms();
    if (atomic_load(&d->deregister) && !dereg_sent) {
      nb_client_deregister(d->c, now);
      dereg_sent = true;
    }
    nb_time_ms dl = nb_client_next_deadline(d->c);
    int wait = dl == NB_TIME_NEVER || dl - now > 50 ? 50 : (int)(dl > now ? dl - now : 0);
    struct pollfd p = {.fd = d->fd, .events = POLLIN};
    if (poll(&p, 1, wait) > 0) {
      uint8_t buf[2048];
      struct sockaddr_storage ss;
      socklen_t sl = sizeof(ss);
      ssize_t n = recvfrom(d->fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
      nb_addr from;
      if (n > 0 && nb_addr_from_sockaddr((struct sockaddr *)&ss, &from) == NB_OK)
        nb_client_receive(d->c, &from, buf, (size_t)n, nb_time_now_ms());
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
                                .model = "e2e",
                                .serial = "42",
                                .battery_level = 80,
                                .memory_free_kb = -1,
                                .memory_total_kb = -1};
  assert_int_equal(nb_client_add_device(d->c, &info), NB_OK);
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
  close(d->fd);
}

typedef struct {
  char dir[64], db[128], coap[32], http[32], base[64];
  uint16_t coap_port;
} env;

/* curl with method and optional body; returns "body|status" (heap). */
static char *req(const env *e, const char *method, const char *path, const char *body) {
  char *out = nb_test_http(e->base, method, path, body);
  assert_non_null(out);
  return out;
}

static void expect(const env *e, const char *method, const char *path, const char *body,
                   const char *status, const char *needle) {
  char *out = req(e, method, path, body);
  if (!strstr(out, status) || (needle && !strstr(out, needle)))
    fail_msg("%s %s: got '%s', wanted %s and '%s'", method, path, out, status,
             needle ? needle : "");
  free(out);
}

static bool wait_for(const env *e, const char *path, const char *needle, int ms) {
  for (int t = 0; t < ms; t += 100) {
    char *out = req(e, "GET", path, NULL);
    bool ok = strstr(out, needle) != NULL;
    free(out);
    if (ok) return true;
    usleep(100 * 1000);
  }
  return false;
}

static bool file_wait(const nb_test_proc *p, const char *needle, int ms) {
  return nb_test_proc_wait_output(p, false, needle, ms);
}

static void test_rest_api_and_events(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  env e;
  snprintf(e.dir, sizeof(e.dir), "/tmp/nb-e2e-http-XXXXXX");
  assert_non_null(mkdtemp(e.dir));
  snprintf(e.db, sizeof(e.db), "%s/server.db", e.dir);
  e.coap_port = nb_test_free_port(SOCK_DGRAM);
  snprintf(e.coap, sizeof(e.coap), "127.0.0.1:%u", e.coap_port);
  uint16_t hp = nb_test_free_port(SOCK_STREAM);
  snprintf(e.http, sizeof(e.http), "127.0.0.1:%u", hp);
  snprintf(e.base, sizeof(e.base), "http://127.0.0.1:%u", hp);
  char *sargv[] = {(char *)nb_test_env("NB_BINARY"),
                   "server",
                   "--coap",
                   e.coap,
                   "--http",
                   e.http,
                   "--db",
                   e.db,
                   NULL};
  nb_test_proc srv;
  assert_true(nb_test_proc_start(&srv, sargv));
  assert_true(nb_test_proc_wait_output(&srv, true, "proto=http", 10000));

  /* The event stream, filtered on our device, captured by a background curl. */
  char sse_url[160];
  snprintf(sse_url, sizeof(sse_url), "%s/api/events?ep=dev-e2e", e.base);
  char *cargv[] = {"curl", "-s", "-N", sse_url, NULL};
  nb_test_proc sse;
  assert_true(nb_test_proc_start(&sse, cargv));
  assert_true(file_wait(&sse, ": connected", 10000));

  device d;
  dev_start(&d, "dev-e2e", e.coap_port);
  assert_true(wait_for(&e, "/api/clients/dev-e2e", "\"endpoint\":\"dev-e2e\"", 10000));
  assert_true(file_wait(&sse, "event: REGISTRATION", 5000));
  assert_true(file_wait(&sse, "\"status\":\"2.01\"", 5000));

  /* Read, typed from the definitions. */
  expect(&e, "GET", "/api/clients/dev-e2e/3/0/0", NULL, "|200", "\"value\":\"Niobium\"");
  expect(&e, "GET", "/api/clients/dev-e2e/3/0/9", NULL, "|200", "\"type\":\"Integer\"");
  expect(&e, "GET", "/api/clients/dev-e2e/3/0?format=senml-json", NULL, "|200",
         "\"path\":\"/3/0/0\"");
  expect(&e, "GET", "/api/clients/dev-e2e/3/0/9?format=tlv", NULL, "|200", "\"value\":80");
  /* Write then read back; execute; discover; write-attributes. */
  expect(&e, "PUT", "/api/clients/dev-e2e/1/0/1", "{\"value\": 300}", "|200", "\"2.04\"");
  expect(&e, "GET", "/api/clients/dev-e2e/1/0/1", NULL, "|200", "\"value\":300");
  expect(&e, "PUT", "/api/clients/dev-e2e/1/0/1", "{\"value\": \"oops\"}", "|400",
         "\"code\":\"4.00\"");
  expect(&e, "POST", "/api/clients/dev-e2e/1/0/8", NULL, "|200", "\"2.04\"");
  expect(&e, "GET", "/api/clients/dev-e2e/3/0/discover", NULL, "|200", "</3/0/0>");
  expect(&e, "PUT", "/api/clients/dev-e2e/3/0/9/attributes?pmin=0&pmax=1", NULL, "|200",
         "\"2.04\"");
  expect(&e, "PUT", "/api/clients/dev-e2e/3/0/9/attributes?pmin=abc", NULL, "|400", "4.00");
  /* Observe: notifications reach the stream and the history ring. */
  expect(&e, "POST", "/api/clients/dev-e2e/3/0/9/observe", NULL, "|200", "\"observationId\":");
  expect(&e, "GET", "/api/clients/dev-e2e/observations", NULL, "|200", "\"paths\":\"/3/0/9\"");
  assert_true(file_wait(&sse, "event: NOTIFICATION", 10000));
  assert_true(wait_for(&e, "/api/clients/dev-e2e/3/0/9/history", "\"sequence\":2", 10000));
  expect(&e, "GET", "/api/clients/dev-e2e/3/0/history", NULL, "|200", "\"path\":\"/3/0/9\"");
  expect(&e, "DELETE", "/api/clients/dev-e2e/3/0/9/observe", NULL, "|200", "\"cancelled\":1");
  expect(&e, "DELETE", "/api/clients/dev-e2e/3/0/9/observe", NULL, "|404", "4.04");
  /* Composite read. */
  expect(&e, "POST", "/api/clients/dev-e2e/composite", "{\"paths\":[\"/3/0/0\",\"/3/0/9\"]}",
         "|200", "\"path\":\"/3/0/9\"");
  /* Errors. */
  expect(&e, "GET", "/api/clients/dev-e2e/3/0/99", NULL, "|404", "\"code\":\"4.04\"");
  expect(&e, "GET", "/api/clients/nobody/3/0/0", NULL, "|404", "\"code\":\"4.04\"");
  expect(&e, "GET", "/api/clients/dev-e2e/3/0/0?format=xml", NULL, "|400", "unknown format");
  expect(&e, "GET", "/api/clients/dev-e2e/3/0/0?timeout=0", NULL, "|400", "timeout");
  expect(&e, "PUT", "/api/clients/dev-e2e/1/0/1", "{not json", "|400", "bad JSON");
  expect(&e, "GET", "/api/nope", NULL, "|404", "\"code\":\"4.04\"");
  expect(&e, "GET", "/api/clients/dev-e2e/x/y", NULL, "|404", "4.04");
  expect(&e, "PATCH", "/api/clients", NULL, "|405", "4.05");
  char *huge = malloc(100001);
  assert_non_null(huge);
  memset(huge, 'a', 100000);
  huge[0] = '{';
  huge[100000] = '\0';
  expect(&e, "PUT", "/api/clients/dev-e2e/1/0/1", huge, "|413", "4.13");
  free(huge);
  /* Security credentials CRUD; the PSK never comes back. */
  expect(&e, "PUT", "/api/security/clients/sec1",
         "{\"mode\":\"psk\",\"identity\":\"id-1\",\"key\":\"00112233445566778899aabbccddeeff\"}",
         "|201", "\"identity\":\"id-1\"");
  expect(&e, "PUT", "/api/security/clients/sec1",
         "{\"mode\":\"psk\",\"identity\":\"id-2\",\"key\":\"0011\"}", "|200", "id-2");
  expect(&e, "PUT", "/api/security/clients/sec2", "{\"mode\":\"psk\",\"identity\":\"x\"}", "|400",
         "4.00");
  char *out = req(&e, "GET", "/api/security/clients", NULL);
  assert_non_null(strstr(out, "\"endpoint\":\"sec1\""));
  assert_null(strstr(out, "0011"));
  free(out);
  expect(&e, "DELETE", "/api/security/clients/sec1", NULL, "|200", "deleted");
  expect(&e, "GET", "/api/security/clients/sec1", NULL, "|404", "4.04");
  /* Every management operation is in the audit log. */
  out = req(&e, "GET", "/api/audit?limit=100", NULL);
  assert_non_null(strstr(out, "\"operation\":\"write\""));
  assert_non_null(strstr(out, "\"operation\":\"execute\""));
  assert_non_null(strstr(out, "\"operation\":\"security-put\""));
  assert_non_null(strstr(out, "\"operation\":\"observe-cancel\""));
  assert_non_null(strstr(out, "\"actor\":\"api@127.0.0.1"));
  free(out);

  /* De-register: DEREGISTRATION and the monitor's 2.02 on the stream. */
  atomic_store(&d.deregister, true);
  assert_true(file_wait(&sse, "event: DEREGISTRATION", 10000));
  assert_true(file_wait(&sse, "\"status\":\"2.02\"", 5000));
  dev_stop(&d);
  nb_test_proc_stop(&sse);
  nb_test_proc_cleanup(&sse);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  const char *sfx[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    char p[160];
    snprintf(p, sizeof(p), "%s%s", e.db, sfx[i]);
    unlink(p);
  }
  rmdir(e.dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_rest_api_and_events)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
