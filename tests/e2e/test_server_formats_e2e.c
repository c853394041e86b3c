/* Content-format negotiation end to end (issue 14 item 1): the real `niobium server` and its
 * REST API (curl) against a scripted UDP device that behaves like a Wakaama 1.1 client built
 * with TLV only (LWM2M_SUPPORT_TLV, no SenML, no LwM2M JSON): its Register's root link
 * `</>;rt="oma.lwm2m"` advertises no format, and it answers only TLV (4.06 to any other
 * Accept, 4.15 to any other body). A read and a write from the API without ?format= succeed
 * (before: 406), the registration shows the format that worked, and an explicit
 * ?format=senml-cbor is not changed behind the operator's back. */
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
#include "coap/endpoint.h"
#include "nb_test.h"

/* /3/0/1 (Model Number) = "WK-1" in TLV. */
static const uint8_t TLV_MODEL[] = {0xC4, 0x01, 'W', 'K', '-', '1'};

typedef struct {
  int fd;
  nb_addr server;
  nb_coap_ep *ep;
  pthread_mutex_t mu; /* the endpoint is used by the thread and, to register, by the test */
  atomic_bool stop;
  atomic_int refused, served, registered;
  pthread_t th;
} device;

static void dev_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  device *d = user;
  struct sockaddr_storage ss;
  size_t sl;
  if (nb_addr_to_sockaddr(peer, (struct sockaddr *)&ss, sizeof ss, &sl) == NB_OK)
    sendto(d->fd, data, len, 0, (struct sockaddr *)&ss, (socklen_t)sl);
}

/* TLV only, as a Wakaama built without SenML and LwM2M JSON. */
static void dev_handle(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                       const nb_coap_msg *req, nb_time_ms now) {
  device *d = user;
  (void)peer;
  bool reads = req->code == NB_COAP_GET;
  int cf = reads ? nb_coap_msg_accept(req) : nb_coap_msg_content_format(req);
  nb_coap_msg m;
  if (cf != NB_COAP_CF_NONE && cf != NB_COAP_CF_LWM2M_TLV) {
    atomic_fetch_add(&d->refused, 1);
    nb_coap_msg_init(&m, NB_COAP_ACK,
                     reads ? NB_COAP_NOT_ACCEPTABLE : NB_COAP_UNSUPPORTED_CONTENT_FORMAT, 0);
  } else if (reads) {
    atomic_fetch_add(&d->served, 1);
    nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_CONTENT, 0);
    nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LWM2M_TLV);
    nb_coap_msg_set_payload(&m, TLV_MODEL, sizeof TLV_MODEL);
  } else {
    atomic_fetch_add(&d->served, 1);
    nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_CHANGED, 0);
  }
  nb_coap_exchange_respond(ex, &m, now);
}

static void *dev_run(void *arg) {
  device *d = arg;
  while (!atomic_load(&d->stop)) {
    struct pollfd p = {.fd = d->fd, .events = POLLIN};
    if (poll(&p, 1, 20) > 0) {
      uint8_t buf[2048];
      struct sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      ssize_t n = recvfrom(d->fd, buf, sizeof buf, 0, (struct sockaddr *)&ss, &sl);
      nb_addr from;
      pthread_mutex_lock(&d->mu);
      if (n > 0 && nb_addr_from_sockaddr((struct sockaddr *)&ss, &from) == NB_OK)
        nb_coap_ep_receive(d->ep, &from, buf, (size_t)n, nb_time_now_ms());
      pthread_mutex_unlock(&d->mu);
    }
    pthread_mutex_lock(&d->mu);
    nb_coap_ep_tick(d->ep, nb_time_now_ms());
    pthread_mutex_unlock(&d->mu);
  }
  return NULL;
}

static void on_registered(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                          nb_time_ms now) {
  device *d = user;
  (void)last;
  (void)now;
  if (err == NB_OK && resp->code == NB_COAP_CREATED) atomic_store(&d->registered, 1);
}

static void dev_start(device *d, uint16_t port) {
  memset(d, 0, sizeof *d);
  pthread_mutex_init(&d->mu, NULL);
  d->fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(d->fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(d->fd, (struct sockaddr *)&sa, sizeof sa), 0);
  char srv[32];
  snprintf(srv, sizeof srv, "127.0.0.1:%u", port);
  assert_int_equal(nb_addr_parse(srv, 0, &d->server), NB_OK);
  assert_int_equal(nb_coap_ep_new(NULL, dev_send, d, &d->ep), NB_OK);
  nb_coap_ep_set_handler(d->ep, dev_handle, d);
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_POST, 0);
  assert_int_equal(nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/rd"), NB_OK);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_LINK_FORMAT);
  nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, "ep=wakaama-like");
  nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, "lt=300");
  nb_coap_msg_add_query(&m, NB_COAP_OPT_URI_QUERY, "lwm2m=1.1");
  static const char links[] = "</>;rt=\"oma.lwm2m\",</1/0>,</3/0>";
  nb_coap_msg_set_payload(&m, links, sizeof links - 1);
  assert_int_equal(
      nb_coap_ep_request(d->ep, &d->server, &m, true, on_registered, d, nb_time_now_ms(), NULL),
      NB_OK);
  assert_int_equal(pthread_create(&d->th, NULL, dev_run, d), 0);
}

static void dev_stop(device *d) {
  atomic_store(&d->stop, true);
  pthread_join(d->th, NULL);
  nb_coap_ep_free(d->ep);
  close(d->fd);
  pthread_mutex_destroy(&d->mu);
}

static char *http(const char *base, const char *method, const char *path, const char *body) {
  char *out = nb_test_http(base, method, path, body);
  assert_non_null(out);
  return out;
}

static void expect(const char *base, const char *method, const char *path, const char *body,
                   const char *status, const char *needle) {
  char *out = http(base, method, path, body);
  if (!strstr(out, status) || (needle && !strstr(out, needle)))
    fail_msg("%s %s: got '%s', wanted %s and '%s'", method, path, out, status,
             needle ? needle : "");
  free(out);
}

/* Static: after a failed assertion the device thread may outlive the test's frame. */
static device d;

static void test_wakaama_like_device_through_rest(void **state) {
  (void)state;
  if (!nb_test_have_program("curl")) skip();
  char dir[64], db[128], coap[32], hp[32], base[64];
  snprintf(dir, sizeof dir, "/tmp/nb-e2e-fmt-XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(db, sizeof db, "%s/server.db", dir);
  uint16_t port = nb_test_free_port(SOCK_DGRAM);
  snprintf(coap, sizeof coap, "127.0.0.1:%u", port);
  uint16_t http_port = nb_test_free_port(SOCK_STREAM);
  snprintf(hp, sizeof hp, "127.0.0.1:%u", http_port);
  snprintf(base, sizeof base, "http://127.0.0.1:%u", http_port);
  char *sargv[] = {
      (char *)nb_test_env("NB_BINARY"), "server", "--coap", coap, "--http", hp, "--db", db, NULL};
  nb_test_proc srv;
  assert_true(nb_test_proc_start(&srv, sargv));
  assert_true(nb_test_proc_wait_output(&srv, true, "proto=http", 10000));

  dev_start(&d, port);
  for (int i = 0; i < 100 && !atomic_load(&d.registered); i++) usleep(50 * 1000);
  assert_true(atomic_load(&d.registered));

  /* A read without ?format=: answered (the engine asked in TLV after the 4.06). */
  expect(base, "GET", "/api/clients/wakaama-like/3/0/1", NULL, "|200", "\"value\":\"WK-1\"");
  assert_int_equal(atomic_load(&d.refused), 1);
  expect(base, "GET", "/api/clients/wakaama-like", NULL, "|200", "\"preferredFormat\":\"tlv\"");
  /* Learnt: the next read and a write go in TLV at once. */
  expect(base, "GET", "/api/clients/wakaama-like/3/0/1", NULL, "|200", "\"value\":\"WK-1\"");
  expect(base, "PUT", "/api/clients/wakaama-like/1/0/1", "{\"value\":120}", "|200", NULL);
  assert_int_equal(atomic_load(&d.refused), 1);
  assert_int_equal(atomic_load(&d.served), 3);
  /* What the operator asks for is what goes: the refusal comes back. */
  expect(base, "GET", "/api/clients/wakaama-like/3/0/1?format=senml-cbor", NULL, "|406", NULL);
  assert_int_equal(atomic_load(&d.refused), 2);

  dev_stop(&d);
  nb_test_proc_stop(&srv);
  nb_test_proc_cleanup(&srv);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wakaama_like_device_through_rest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
