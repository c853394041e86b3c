/* bench/client_footprint: heap of the client engine through Register and 100 notifications
 * (NoSec and DTLS-PSK), and the text size of the client libraries.
 *
 * A scripted LwM2M server (CoAP endpoint, behind a DTLS server for PSK) and one client engine
 * run in this process over an in-memory datagram queue on a virtual clock. Heap is counted by
 * allocation hooks that record only what is allocated while a client call runs (every
 * nb_client_* / object call and every datagram or tick handed to the client), with the
 * requested sizes (allocator overhead excluded), so the server's and the harness's memory is
 * left out; GnuTLS's allocations made inside client calls (the client's DTLS session) count.
 * Release builds interpose malloc/calloc/realloc/free; ASan builds use the sanitizer's
 * malloc/free hooks.
 *
 * Usage: bench_client_footprint [MINSIZEREL_BUILD_DIR]
 *   with a build dir (cmake -DCMAKE_BUILD_TYPE=MinSizeRel, targets nb_base nb_coap nb_lwm2m
 *   nb_client nb_dtls built), also prints `size` text figures of those static libraries. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "coap/endpoint.h"
#include "dtls/server.h"
#include "niobium/client.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NB_BENCH_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define NB_BENCH_ASAN 1
#endif

/* ---- counting: (pointer, size) of the blocks allocated inside client calls ---- */

#define NB_FP_SLOTS (1u << 16)
static struct {
  uintptr_t p; /* 0 empty, 1 tombstone */
  size_t size;
} nb_fp_tab[NB_FP_SLOTS];
static volatile int nb_fp_counting;
static size_t nb_fp_live, nb_fp_peak, nb_fp_allocs, nb_fp_lost;

static size_t nb_fp_hash(uintptr_t p) { return (size_t)((p >> 4) * 0x9E3779B97F4A7C15ull >> 48); }

static void nb_fp_add(const void *ptr, size_t size) {
  if (!ptr || !nb_fp_counting) return;
  size_t h = nb_fp_hash((uintptr_t)ptr);
  for (size_t i = 0; i < NB_FP_SLOTS; i++) {
    size_t k = (h + i) & (NB_FP_SLOTS - 1);
    if (nb_fp_tab[k].p > 1) continue;
    nb_fp_tab[k].p = (uintptr_t)ptr;
    nb_fp_tab[k].size = size;
    nb_fp_allocs++;
    nb_fp_live += size;
    if (nb_fp_live > nb_fp_peak) nb_fp_peak = nb_fp_live;
    return;
  }
  nb_fp_lost++;
}

static void nb_fp_del(const void *ptr) {
  if (!ptr) return;
  size_t h = nb_fp_hash((uintptr_t)ptr);
  for (size_t i = 0; i < NB_FP_SLOTS; i++) {
    size_t k = (h + i) & (NB_FP_SLOTS - 1);
    if (nb_fp_tab[k].p == 0) return;
    if (nb_fp_tab[k].p != (uintptr_t)ptr) continue;
    nb_fp_tab[k].p = 1;
    nb_fp_live -= nb_fp_tab[k].size;
    return;
  }
}

#ifdef NB_BENCH_ASAN
#include <sanitizer/allocator_interface.h>
static void nb_fp_malloc_hook(const volatile void *p, size_t size) {
  nb_fp_add((const void *)p, size);
}
static void nb_fp_free_hook(const volatile void *p) { nb_fp_del((const void *)p); }
static void nb_fp_install(void) {
  __sanitizer_install_malloc_and_free_hooks(nb_fp_malloc_hook, nb_fp_free_hook);
}
#define NB_FP_HOW "sanitizer malloc/free hooks (ASan build)"
#else
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
void *malloc(size_t size) {
  void *p = __libc_malloc(size);
  nb_fp_add(p, size);
  return p;
}
void *calloc(size_t n, size_t size) {
  void *p = __libc_calloc(n, size);
  nb_fp_add(p, n * size);
  return p;
}
void *realloc(void *old, size_t size) {
  void *p = __libc_realloc(old, size);
  if (p || size == 0) nb_fp_del(old);
  nb_fp_add(p, size);
  return p;
}
void free(void *p) {
  nb_fp_del(p);
  __libc_free(p);
}
static void nb_fp_install(void) {}
#define NB_FP_HOW "interposed malloc/calloc/realloc/free"
#endif

#define CLIENT(expr)    \
  do {                  \
    nb_fp_counting = 1; \
    expr;               \
    nb_fp_counting = 0; \
  } while (0)

/* ---- an in-memory network: a FIFO of datagrams, delivered at once ---- */

typedef struct {
  uint8_t data[1500];
  size_t len;
  bool to_client;
} nb_fp_dgram;

typedef struct {
  nb_fp_dgram q[64];
  size_t head, tail;
  nb_time_ms now;
  nb_addr caddr, saddr;
  nb_client *c;
  nb_coap_ep *sep;
  nb_dtls_server *dtls;
  nb_coap_req_id obs;
  int registered, notifications;
} nb_fp_net;

static void nb_fp_push(nb_fp_net *n, bool to_client, const uint8_t *d, size_t len) {
  if (len > sizeof n->q[0].data || n->tail - n->head == 64) return; /* dropped */
  nb_fp_dgram *g = &n->q[n->tail++ % 64];
  memcpy(g->data, d, len);
  g->len = len;
  g->to_client = to_client;
}

static void nb_fp_client_send(void *u, const nb_addr *peer, const uint8_t *d, size_t len) {
  (void)peer;
  nb_fp_push(u, false, d, len);
}
static void nb_fp_server_wire(void *u, const nb_addr *peer, const uint8_t *d, size_t len) {
  (void)peer;
  nb_fp_push(u, true, d, len);
}
static void nb_fp_coap_out(void *u, const nb_addr *peer, const uint8_t *d, size_t len) {
  nb_fp_net *n = u;
  if (n->dtls)
    nb_dtls_server_send(n->dtls, peer, d, len);
  else
    nb_fp_push(n, true, d, len);
}
static void nb_fp_dtls_plain(void *u, const nb_addr *peer, const uint8_t *d, size_t len,
                             nb_time_ms now) {
  nb_coap_ep_receive(((nb_fp_net *)u)->sep, peer, d, len, now);
}
static void nb_fp_dtls_event(void *u, const nb_addr *p, nb_dtls_session *s, const nb_dtls_event *ev,
                             nb_time_ms now) {
  (void)u, (void)p, (void)s, (void)ev, (void)now;
}

/* Delivers every queued datagram and runs due timers until the network is quiet. */
static void nb_fp_pump(nb_fp_net *n) {
  while (n->head != n->tail) {
    nb_fp_dgram g = n->q[n->head++ % 64];
    if (g.to_client)
      CLIENT(nb_client_receive(n->c, &n->saddr, g.data, g.len, n->now));
    else if (n->dtls)
      nb_dtls_server_receive(n->dtls, &n->caddr, g.data, g.len, n->now);
    else
      nb_coap_ep_receive(n->sep, &n->caddr, g.data, g.len, n->now);
    nb_time_ms cd;
    CLIENT(cd = nb_client_next_deadline(n->c));
    if (cd <= n->now) CLIENT(nb_client_tick(n->c, n->now));
  }
}

/* ---- the scripted server ---- */

static void nb_fp_answer(nb_coap_exchange *ex, uint8_t code, const char *loc, nb_time_ms now) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, code, 0);
  if (loc) nb_coap_msg_add_path(&m, NB_COAP_OPT_LOCATION_PATH, loc);
  nb_coap_exchange_respond(ex, &m, now);
}

static void nb_fp_handle(void *u, nb_coap_exchange *ex, const nb_addr *peer, const nb_coap_msg *req,
                         nb_time_ms now) {
  nb_fp_net *n = u;
  (void)peer;
  char path[64];
  nb_coap_msg_get_path(req, NB_COAP_OPT_URI_PATH, path, sizeof path);
  if (req->code == NB_COAP_POST && strcmp(path, "/rd") == 0) {
    n->registered++;
    return nb_fp_answer(ex, NB_COAP_CREATED, "/rd/1", now);
  }
  if (req->code == NB_COAP_POST) return nb_fp_answer(ex, NB_COAP_CHANGED, NULL, now);
  if (req->code == NB_COAP_DELETE) return nb_fp_answer(ex, NB_COAP_DELETED, NULL, now);
  nb_fp_answer(ex, NB_COAP_NOT_FOUND, NULL, now);
}

static void nb_fp_notified(void *u, nb_err err, const nb_coap_msg *resp, bool last,
                           nb_time_ms now) {
  nb_fp_net *n = u;
  (void)last, (void)now;
  if (err == NB_OK && resp && resp->code == NB_COAP_CONTENT) n->notifications++;
}

static const uint8_t nb_fp_psk[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static nb_err nb_fp_psk_lookup(void *u, const uint8_t *id, size_t idlen, uint8_t *key, size_t cap,
                               size_t *klen) {
  (void)u;
  if (idlen != 5 || memcmp(id, "bench", 5) != 0 || cap < sizeof nb_fp_psk) return NB_ERR_NOT_FOUND;
  memcpy(key, nb_fp_psk, sizeof nb_fp_psk);
  *klen = sizeof nb_fp_psk;
  return NB_OK;
}

typedef struct {
  size_t after_new, after_register, after_notify, peak, allocs, end_live;
  int notifications;
  bool ok;
} nb_fp_result;

static void nb_fp_reset(void) {
  memset(nb_fp_tab, 0, sizeof nb_fp_tab);
  nb_fp_live = nb_fp_peak = nb_fp_allocs = nb_fp_lost = 0;
}

static nb_fp_result nb_fp_run(bool psk) {
  nb_fp_result r;
  memset(&r, 0, sizeof r);
  nb_fp_net *n = calloc(1, sizeof *n);
  if (!n) return r;
  nb_addr_parse("10.0.0.9", 56830, &n->caddr);
  nb_addr_parse("10.0.0.1", psk ? 5684 : 5683, &n->saddr);
  n->now = 1000;
  nb_dtls_creds *creds = NULL;
  nb_coap_ep_config ec;
  nb_coap_ep_config_default(&ec);
  nb_coap_ep_new(&ec, nb_fp_coap_out, n, &n->sep);
  nb_coap_ep_set_handler(n->sep, nb_fp_handle, n);
  if (psk) {
    nb_dtls_creds_new(&creds);
    nb_dtls_creds_set_psk_lookup(creds, nb_fp_psk_lookup, NULL);
    nb_dtls_server_config sc;
    nb_dtls_server_config_default(&sc);
    nb_dtls_handlers h = {nb_fp_server_wire, nb_fp_dtls_plain, nb_fp_dtls_event, n};
    nb_dtls_server_new(&sc, creds, &h, &n->dtls);
  }
  nb_fp_reset();
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "bench";
  cfg.send = nb_fp_client_send;
  cfg.send_user = n;
  nb_err e;
  CLIENT(e = nb_client_new(&cfg, &n->c));
  if (e != NB_OK) return r;
  r.after_new = nb_fp_live; /* the engine with objects 0-2 and its built-in object model */
  nb_client_device_info d = {.manufacturer = "ACME",
                             .model = "N1",
                             .serial = "1",
                             .firmware_version = "1.0",
                             .battery_level = 90,
                             .memory_free_kb = -1,
                             .memory_total_kb = -1};
  CLIENT(e = nb_client_add_device(n->c, &d));
  nb_path tp = nb_path_res(3303, 0, 5700);
  CLIENT({
    nb_object *o = nb_store_object_new(nb_model_object(nb_client_model(n->c), 3303), NULL);
    nb_value v = nb_value_float(20.0);
    if (o) nb_store_object_add_instance(o, 0);
    if (o) nb_store_object_set(o, &tp, &v);
    e = o ? nb_client_add_object(n->c, o, n->now) : NB_ERR_NOMEM;
  });
  char uri[40];
  snprintf(uri, sizeof uri, "%s://10.0.0.1:%u", psk ? "coaps" : "coap", n->saddr.port);
  nb_client_server_params sp = {.uri = uri, .ssid = 1, .lifetime = 86400};
  if (psk) {
    sp.security_mode = 0;
    sp.identity = (const uint8_t *)"bench";
    sp.identity_len = 5;
    sp.secret = nb_fp_psk;
    sp.secret_len = sizeof nb_fp_psk;
  }
  CLIENT(nb_client_add_server(n->c, &sp));
  CLIENT(nb_client_start(n->c, n->now));
  nb_fp_pump(n);
  r.after_register = nb_fp_live;
  /* the server observes the temperature */
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_GET, 0);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_OBSERVE, 0);
  nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/3303/0/5700");
  nb_coap_ep_request(n->sep, &n->caddr, &m, true, nb_fp_notified, n, n->now, &n->obs);
  nb_fp_pump(n);
  for (int i = 0; i < 100; i++) {
    n->now += 1000;
    CLIENT({
      nb_value v = nb_value_float(20.0 + i * 0.1);
      nb_store_object_set(nb_client_object(n->c, 3303), &tp, &v);
      nb_client_value_changed(n->c, &tp, n->now);
    });
    nb_fp_pump(n);
  }
  r.after_notify = nb_fp_live;
  r.notifications = n->notifications;
  n->now += 1000;
  CLIENT(nb_client_deregister(n->c, n->now));
  nb_fp_pump(n);
  CLIENT(nb_client_close(n->c, n->now));
  CLIENT(nb_client_free(n->c));
  r.end_live = nb_fp_live;
  r.peak = nb_fp_peak;
  r.allocs = nb_fp_allocs;
  r.ok = n->registered == 1 && nb_fp_lost == 0;
  nb_coap_ep_free(n->sep);
  nb_dtls_server_free(n->dtls);
  nb_dtls_creds_free(creds);
  free(n);
  return r;
}

static void nb_fp_sizes(const char *dir) {
  static const char *libs[] = {"nb_base", "nb_coap", "nb_lwm2m", "nb_client", "nb_dtls"};
  unsigned long total = 0;
  printf("\ntext size (size -t, MinSizeRel build in %s):\n", dir);
  for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "size -t '%s/lib%s.a' 2>/dev/null | tail -1", dir, libs[i]);
    FILE *p = popen(cmd, "r");
    unsigned long text = 0;
    if (!p || fscanf(p, "%lu", &text) != 1) text = 0;
    if (p) pclose(p);
    printf("  lib%-10s %8lu bytes%s\n", libs[i], text, text ? "" : " (not found: build it first)");
    if (i < 4) total += text;
  }
  printf("  client without DTLS (base+coap+lwm2m+client): %lu bytes\n", total);
}

int main(int argc, char **argv) {
  nb_log_set_level(NB_LOG_ERROR);
  nb_fp_install();
  printf("client_footprint: heap counted with %s, requested bytes\n", NB_FP_HOW);
  printf("%-8s %8s %10s %12s %12s %8s %8s %8s\n", "mode", "new", "peak", "registered", "after-100",
         "allocs", "notifs", "left");
  nb_fp_result base = {0};
  for (int psk = 0; psk <= 1; psk++) {
    nb_fp_result r = nb_fp_run(psk);
    if (!psk) base = r;
    printf("%-8s %8zu %10zu %12zu %12zu %8zu %8d %8zu%s\n", psk ? "DTLS-PSK" : "NoSec", r.after_new,
           r.peak, r.after_register, r.after_notify, r.allocs, r.notifications, r.end_live,
           r.ok ? "" : "  (run failed)");
    if (psk && base.peak)
      printf(
          "ratio DTLS-PSK / NoSec peak: %.2f; seed thesis client peaks: 18.1 KB NoSec, 22.9 KB "
          "DTLS\n",
          (double)r.peak / (double)base.peak);
  }
  if (argc > 1) nb_fp_sizes(argv[1]);
  return 0;
}
