/* bench/client_footprint: heap of the client engine through a bootstrap, Register and 100
 * notifications (NoSec and DTLS-PSK), split between the engine and GnuTLS, per allocation
 * site; and the text size of the client libraries.
 *
 * A real bootstrap server (nb_bs_engine, behind a DTLS server for PSK), a scripted LwM2M
 * server (CoAP endpoint, behind a DTLS server for PSK) and one client engine run in this
 * process over an in-memory datagram queue on a virtual clock. Heap is counted by allocation
 * hooks that record only what is allocated while a client call runs (every nb_client_* /
 * object call and every datagram or tick handed to the client), with the requested sizes
 * (allocator overhead excluded), so the servers' and the harness's memory is left out.
 *
 * Attribution: every counted block is charged to the code that asked for it. The hook takes
 * a backtrace, finds the allocator's own frame (malloc/calloc/realloc/strdup: our interposer,
 * or ASan's interceptor), and walks outwards past frames in libc and the dynamic loader to the
 * first frame of anything else. A frame in this executable is the engine (our static
 * libraries: client, coap, lwm2m, dtls glue, base), and that return address is the allocation
 * site; a frame in a shared library of the TLS stack (libgnutls, nettle, hogweed, gmp,
 * tasn1, p11-kit, idn2, unistring) is GnuTLS, whoever called GnuTLS; a frame in libcbor or
 * jansson is charged to the engine frame that called the codec library; anything else is
 * "other". Sites are named with addr2line at the end.
 *
 * Usage: bench_client_footprint [MINSIZEREL_BUILD_DIR]
 *   with a build dir (cmake -DCMAKE_BUILD_TYPE=MinSizeRel, targets nb_base nb_coap nb_lwm2m
 *   nb_client nb_dtls built), also prints `size` text figures of those static libraries. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <execinfo.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "bootstrap/bootstrap.h"
#include "bootstrap/config_store.h"
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

/* ---- attribution of one allocation ---- */

enum { NB_FP_ENGINE, NB_FP_GNUTLS, NB_FP_OTHER, NB_FP_NCAT };

#define NB_FP_MAXSITES 2048
typedef struct {
  uintptr_t ra; /* return address in the engine (0: the category's catch-all site) */
  int cat;
  size_t allocs, bytes, live, at_peak, at_steady;
} nb_fp_site;
static nb_fp_site nb_fp_sites[NB_FP_MAXSITES];
static size_t nb_fp_nsites;
static uintptr_t nb_fp_exe_base;

static int nb_fp_lib_cat(const char *fname) {
  static const char *const tls[] = {"libgnutls", "libnettle", "libhogweed", "libgmp",
                                    "libtasn1",  "libp11",    "libidn2",    "libunistring"};
  static const char *const pass[] = {"libc.so",    "ld-linux", "libcbor",
                                     "libjansson", "libasan",  "libubsan"};
  const char *b = strrchr(fname, '/');
  b = b ? b + 1 : fname;
  for (size_t i = 0; i < sizeof tls / sizeof tls[0]; i++)
    if (strncmp(b, tls[i], strlen(tls[i])) == 0) return NB_FP_GNUTLS;
  for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++)
    if (strncmp(b, pass[i], strlen(pass[i])) == 0) return -1; /* walk on */
  return NB_FP_OTHER;
}

static bool nb_fp_is_allocator(const char *s) {
  static const char *const names[] = {"malloc", "calloc",  "realloc",  "reallocarray",
                                      "strdup", "strndup", "__strdup", "__strndup"};
  if (!s) return false;
  if (strncmp(s, "__interceptor_", 14) == 0) s += 14;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(s, names[i]) == 0) return true;
  return false;
}

/* Finds the site of the allocation being made now (see the top comment). */
static size_t nb_fp_site_of(void) {
  void *fr[48];
  int n = backtrace(fr, 48);
  int i = 0;
  Dl_info di;
  for (; i < n; i++)
    if (dladdr(fr[i], &di) && (uintptr_t)di.dli_fbase == nb_fp_exe_base &&
        nb_fp_is_allocator(di.dli_sname))
      break;
  int cat = NB_FP_OTHER;
  uintptr_t ra = 0;
  for (i++; i < n; i++) {
    if (!dladdr(fr[i], &di)) break;
    if ((uintptr_t)di.dli_fbase == nb_fp_exe_base) {
      cat = NB_FP_ENGINE;
      ra = (uintptr_t)fr[i];
      break;
    }
    int c = nb_fp_lib_cat(di.dli_fname ? di.dli_fname : "");
    if (c >= 0) {
      cat = c;
      break;
    }
  }
  /* GnuTLS's blocks: the site is the engine call that went into GnuTLS (nb_dtls_*). */
  for (i++; cat == NB_FP_GNUTLS && i < n; i++)
    if (dladdr(fr[i], &di) && (uintptr_t)di.dli_fbase == nb_fp_exe_base) {
      ra = (uintptr_t)fr[i];
      break;
    }
  for (size_t k = 0; k < nb_fp_nsites; k++)
    if (nb_fp_sites[k].ra == ra && nb_fp_sites[k].cat == cat) return k;
  if (nb_fp_nsites == NB_FP_MAXSITES) return 0;
  nb_fp_sites[nb_fp_nsites].ra = ra;
  nb_fp_sites[nb_fp_nsites].cat = cat;
  return nb_fp_nsites++;
}

/* ---- counting: (pointer, size, site) of the blocks allocated inside client calls ---- */

#define NB_FP_SLOTS (1u << 16)
static struct {
  uintptr_t p; /* 0 empty, 1 tombstone */
  size_t size;
  size_t site;
} nb_fp_tab[NB_FP_SLOTS];
static volatile int nb_fp_counting;
static int nb_fp_busy; /* inside the hook: the unwinder's own allocations are not counted */

typedef struct {
  size_t live, peak, allocs;
} nb_fp_cnt;
static nb_fp_cnt nb_fp_cat[NB_FP_NCAT], nb_fp_total;
static size_t nb_fp_lost;
/* per phase: peaks since the phase began */
static size_t nb_fp_ph_peak[NB_FP_NCAT + 1];

static void nb_fp_bump(nb_fp_cnt *c, size_t size) {
  c->allocs++;
  c->live += size;
  if (c->live > c->peak) c->peak = c->live;
}

static void nb_fp_add(const void *ptr, size_t size) {
  if (!ptr || !nb_fp_counting || nb_fp_busy) return;
  nb_fp_busy = 1;
  size_t site = nb_fp_site_of();
  nb_fp_busy = 0;
  size_t h = (size_t)(((uintptr_t)ptr >> 4) * 0x9E3779B97F4A7C15ull >> 48);
  for (size_t i = 0; i < NB_FP_SLOTS; i++) {
    size_t k = (h + i) & (NB_FP_SLOTS - 1);
    if (nb_fp_tab[k].p > 1) continue;
    nb_fp_tab[k].p = (uintptr_t)ptr;
    nb_fp_tab[k].size = size;
    nb_fp_tab[k].site = site;
    nb_fp_site *s = &nb_fp_sites[site];
    s->allocs++;
    s->bytes += size;
    s->live += size;
    nb_fp_bump(&nb_fp_total, size);
    size_t before = nb_fp_cat[s->cat].peak;
    nb_fp_bump(&nb_fp_cat[s->cat], size);
    if (s->cat == NB_FP_ENGINE && nb_fp_cat[s->cat].peak > before)
      for (size_t j = 0; j < nb_fp_nsites; j++) nb_fp_sites[j].at_peak = nb_fp_sites[j].live;
    for (int c = 0; c < NB_FP_NCAT; c++)
      if (nb_fp_cat[c].live > nb_fp_ph_peak[c]) nb_fp_ph_peak[c] = nb_fp_cat[c].live;
    if (nb_fp_total.live > nb_fp_ph_peak[NB_FP_NCAT]) nb_fp_ph_peak[NB_FP_NCAT] = nb_fp_total.live;
    return;
  }
  nb_fp_lost++;
}

static void nb_fp_del(const void *ptr) {
  if (!ptr) return;
  size_t h = (size_t)(((uintptr_t)ptr >> 4) * 0x9E3779B97F4A7C15ull >> 48);
  for (size_t i = 0; i < NB_FP_SLOTS; i++) {
    size_t k = (h + i) & (NB_FP_SLOTS - 1);
    if (nb_fp_tab[k].p == 0) return;
    if (nb_fp_tab[k].p != (uintptr_t)ptr) continue;
    nb_fp_tab[k].p = 1;
    nb_fp_site *s = &nb_fp_sites[nb_fp_tab[k].site];
    s->live -= nb_fp_tab[k].size;
    nb_fp_cat[s->cat].live -= nb_fp_tab[k].size;
    nb_fp_total.live -= nb_fp_tab[k].size;
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
  nb_addr from, to;
} nb_fp_dgram;

#define NB_FP_QCAP 64
typedef struct {
  nb_fp_dgram q[NB_FP_QCAP];
  size_t head, tail;
  nb_time_ms now;
  nb_addr caddr, saddr, baddr; /* client, management server, bootstrap server */
  nb_client *c;
  nb_coap_ep *sep;
  nb_dtls_server *dtls;  /* management server's (PSK) */
  nb_dtls_server *bdtls; /* bootstrap server's (PSK) */
  nb_bs_engine *bs;
  nb_bs_store *bst;
  nb_coap_req_id obs;
  int registered, notifications, bs_finished;
} nb_fp_net;

static void nb_fp_push(nb_fp_net *n, const nb_addr *from, const nb_addr *to, const uint8_t *d,
                       size_t len) {
  if (len > sizeof n->q[0].data || n->tail - n->head == NB_FP_QCAP) return; /* dropped */
  nb_fp_dgram *g = &n->q[n->tail++ % NB_FP_QCAP];
  memcpy(g->data, d, len);
  g->len = len;
  g->from = *from;
  g->to = *to;
}

static void nb_fp_client_send(void *u, const nb_addr *peer, const uint8_t *d, size_t len) {
  nb_fp_net *n = u;
  nb_fp_push(n, &n->caddr, peer, d, len);
}
static void nb_fp_server_wire(void *u, const nb_addr *peer, const uint8_t *d, size_t len) {
  nb_fp_net *n = u;
  nb_fp_push(n, &n->saddr, peer, d, len);
}
static void nb_fp_coap_out(void *u, const nb_addr *peer, const uint8_t *d, size_t len) {
  nb_fp_net *n = u;
  if (n->dtls)
    nb_dtls_server_send(n->dtls, peer, d, len);
  else
    nb_fp_push(n, &n->saddr, peer, d, len);
}
static void nb_fp_dtls_plain(void *u, const nb_addr *peer, const uint8_t *d, size_t len,
                             nb_time_ms now) {
  nb_coap_ep_receive(((nb_fp_net *)u)->sep, peer, d, len, now);
}
static void nb_fp_dtls_event(void *u, const nb_addr *p, nb_dtls_session *s, const nb_dtls_event *ev,
                             nb_time_ms now) {
  (void)u, (void)p, (void)s, (void)ev, (void)now;
}

/* the bootstrap server's side */
static void nb_fp_bs_wire(void *u, const nb_addr *peer, const uint8_t *d, size_t len) {
  nb_fp_net *n = u;
  nb_fp_push(n, &n->baddr, peer, d, len);
}
static void nb_fp_bs_out(void *u, const nb_addr *peer, const uint8_t *d, size_t len) {
  nb_fp_net *n = u;
  if (n->bdtls)
    nb_dtls_server_send(n->bdtls, peer, d, len);
  else
    nb_fp_push(n, &n->baddr, peer, d, len);
}
static void nb_fp_bs_plain(void *u, const nb_addr *peer, const uint8_t *d, size_t len,
                           nb_time_ms now) {
  nb_fp_net *n = u;
  nb_server_identity id = {.kind = NB_SERVER_ID_NONE};
  nb_dtls_session *s = nb_dtls_server_find(n->bdtls, peer);
  const nb_dtls_peer *p = s ? nb_dtls_session_peer(s) : NULL;
  if (p && p->mode == NB_DTLS_MODE_PSK) {
    id.kind = NB_SERVER_ID_PSK;
    snprintf(id.value, sizeof id.value, "%s", p->identity);
  }
  nb_bs_engine_receive(n->bs, peer, &id, d, len, now);
}
static void nb_fp_bs_event(void *u, const nb_bs_event *ev) {
  if (ev->type == NB_BS_EV_FINISHED) ((nb_fp_net *)u)->bs_finished++;
}

static void nb_fp_deliver(nb_fp_net *n, const nb_fp_dgram *g) {
  if (nb_addr_equal(&g->to, &n->caddr)) {
    CLIENT(nb_client_receive(n->c, &g->from, g->data, g->len, n->now));
  } else if (nb_addr_equal(&g->to, &n->baddr)) {
    if (n->bdtls)
      nb_dtls_server_receive(n->bdtls, &g->from, g->data, g->len, n->now);
    else
      nb_bs_engine_receive(n->bs, &g->from, NULL, g->data, g->len, n->now);
  } else if (n->dtls) {
    nb_dtls_server_receive(n->dtls, &g->from, g->data, g->len, n->now);
  } else {
    nb_coap_ep_receive(n->sep, &g->from, g->data, g->len, n->now);
  }
}

static bool nb_fp_client_registered(nb_fp_net *n) {
  nb_client_srv_state st;
  return nb_client_server_state(n->c, 1, &st, NULL, 0) == NB_OK && st == NB_CLIENT_SRV_REGISTERED;
}

/* Delivers every queued datagram and runs due timers until the network is quiet; with
 * `until_registered`, virtual time also moves on to the next deadline (at most a minute)
 * until the client is registered with the management server. */
static void nb_fp_pump(nb_fp_net *n, bool until_registered) {
  nb_time_ms limit = n->now + 60000;
  for (;;) {
    while (n->head != n->tail) {
      nb_fp_dgram g = n->q[n->head++ % NB_FP_QCAP];
      nb_fp_deliver(n, &g);
      nb_time_ms cd;
      CLIENT(cd = nb_client_next_deadline(n->c));
      if (cd <= n->now) CLIENT(nb_client_tick(n->c, n->now));
    }
    if (!until_registered || nb_fp_client_registered(n)) return;
    nb_time_ms d;
    CLIENT(d = nb_client_next_deadline(n->c));
    d = nb_time_min(d, nb_bs_engine_next_deadline(n->bs));
    if (n->bdtls) d = nb_time_min(d, nb_dtls_server_next_deadline(n->bdtls));
    if (d == NB_TIME_NEVER || d > limit) return;
    if (d > n->now) n->now = d;
    if (n->bdtls) nb_dtls_server_tick(n->bdtls, n->now);
    nb_bs_engine_tick(n->bs, n->now);
    CLIENT(nb_client_tick(n->c, n->now));
  }
}

/* ---- the scripted management server ---- */

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
static const uint8_t nb_fp_bs_psk[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};

static nb_err nb_fp_psk_lookup(void *u, const uint8_t *id, size_t idlen, uint8_t *key, size_t cap,
                               size_t *klen) {
  (void)u;
  if (idlen != 5 || memcmp(id, "bench", 5) != 0 || cap < sizeof nb_fp_psk) return NB_ERR_NOT_FOUND;
  memcpy(key, nb_fp_psk, sizeof nb_fp_psk);
  *klen = sizeof nb_fp_psk;
  return NB_OK;
}

/* ---- one run ---- */

enum { NB_FP_PH_SETUP, NB_FP_PH_REGISTER, NB_FP_PH_NOTIFY, NB_FP_PH_END, NB_FP_NPH };
static const char *const nb_fp_phase_names[NB_FP_NPH] = {
    "new + objects", "bootstrap + register", "observe + 100 notifications", "de-register + free"};

typedef struct {
  size_t after_new, after_register, after_notify; /* engine live */
  size_t ph_peak[NB_FP_NPH][NB_FP_NCAT + 1];
  nb_fp_cnt cat[NB_FP_NCAT], total;
  int notifications;
  bool ok;
} nb_fp_result;

static void nb_fp_reset(void) {
  memset(nb_fp_tab, 0, sizeof nb_fp_tab);
  memset(nb_fp_sites, 0, sizeof nb_fp_sites);
  memset(nb_fp_cat, 0, sizeof nb_fp_cat);
  memset(&nb_fp_total, 0, sizeof nb_fp_total);
  nb_fp_nsites = 1; /* site 0: overflow */
  nb_fp_sites[0].cat = NB_FP_OTHER;
  nb_fp_lost = 0;
}

static void nb_fp_phase_end(nb_fp_result *r, int ph) {
  memcpy(r->ph_peak[ph], nb_fp_ph_peak, sizeof nb_fp_ph_peak);
  for (int c = 0; c < NB_FP_NCAT; c++) nb_fp_ph_peak[c] = nb_fp_cat[c].live;
  nb_fp_ph_peak[NB_FP_NCAT] = nb_fp_total.live;
}

static void nb_fp_servers_new(nb_fp_net *n, bool psk, nb_dtls_creds **creds,
                              nb_dtls_creds **bcreds) {
  nb_coap_ep_config ec;
  nb_coap_ep_config_default(&ec);
  nb_coap_ep_new(&ec, nb_fp_coap_out, n, &n->sep);
  nb_coap_ep_set_handler(n->sep, nb_fp_handle, n);
  /* bootstrap server: provisions the management server account */
  nb_bs_store_open(":memory:", &n->bst);
  nb_bs_config bc;
  nb_bs_config_init(&bc, "");
  nb_bs_server s = {.ssid = 1, .lifetime = 86400, .binding = "U"};
  s.mode = psk ? NB_BS_SEC_PSK : NB_BS_SEC_NOSEC;
  snprintf(s.uri, sizeof s.uri, "%s://10.0.0.1:%u", psk ? "coaps" : "coap", n->saddr.port);
  if (psk) {
    snprintf(s.psk_identity, sizeof s.psk_identity, "bench");
    memcpy(s.psk_key, nb_fp_psk, sizeof nb_fp_psk);
    s.psk_key_len = sizeof nb_fp_psk;
  }
  nb_bs_config_add_server(&bc, &s);
  nb_bs_store_config_put(n->bst, &bc);
  nb_bs_engine_config bec;
  nb_bs_engine_config_default(&bec);
  bec.source = nb_bs_store_source(n->bst);
  nb_bs_engine_new(&bec, nb_fp_bs_out, n, &n->bs);
  nb_bs_engine_add_listener(n->bs, nb_fp_bs_event, n);
  if (!psk) return;
  nb_server_sec_info cred = {.ep = "bench", .kind = NB_SERVER_ID_PSK, .identity = "bench-bs"};
  memcpy(cred.key, nb_fp_bs_psk, sizeof nb_fp_bs_psk);
  cred.key_len = sizeof nb_fp_bs_psk;
  nb_bs_store_cred_put(n->bst, &cred);
  nb_dtls_server_config sc;
  nb_dtls_server_config_default(&sc);
  nb_dtls_creds_new(creds);
  nb_dtls_creds_set_psk_lookup(*creds, nb_fp_psk_lookup, NULL);
  nb_dtls_handlers h = {nb_fp_server_wire, nb_fp_dtls_plain, nb_fp_dtls_event, n};
  nb_dtls_server_new(&sc, *creds, &h, &n->dtls);
  nb_dtls_creds_new(bcreds);
  nb_dtls_creds_set_psk_lookup(*bcreds, nb_bs_engine_psk_lookup, n->bs);
  nb_dtls_handlers bh = {nb_fp_bs_wire, nb_fp_bs_plain, nb_fp_dtls_event, n};
  nb_dtls_server_new(&sc, *bcreds, &bh, &n->bdtls);
}

static nb_fp_result nb_fp_run(bool psk) {
  nb_fp_result r;
  memset(&r, 0, sizeof r);
  nb_fp_net *n = calloc(1, sizeof *n);
  if (!n) return r;
  nb_addr_parse("10.0.0.9", 56830, &n->caddr);
  nb_addr_parse("10.0.0.1", psk ? 5684 : 5683, &n->saddr);
  nb_addr_parse("10.0.0.3", psk ? 5784 : 5783, &n->baddr);
  n->now = 1000;
  nb_dtls_creds *creds = NULL, *bcreds = NULL;
  nb_fp_servers_new(n, psk, &creds, &bcreds);
  nb_fp_reset();
  memset(nb_fp_ph_peak, 0, sizeof nb_fp_ph_peak);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "bench";
  cfg.send = nb_fp_client_send;
  cfg.send_user = n;
  nb_err e;
  CLIENT(e = nb_client_new(&cfg, &n->c));
  if (e != NB_OK) return r;
  r.after_new = nb_fp_cat[NB_FP_ENGINE].live;
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
  snprintf(uri, sizeof uri, "%s://10.0.0.3:%u", psk ? "coaps" : "coap", n->baddr.port);
  nb_client_server_params sp = {.uri = uri, .bootstrap = true, .security_mode = 3};
  if (psk) {
    sp.security_mode = 0;
    sp.identity = (const uint8_t *)"bench-bs";
    sp.identity_len = 8;
    sp.secret = nb_fp_bs_psk;
    sp.secret_len = sizeof nb_fp_bs_psk;
  }
  CLIENT(nb_client_add_server(n->c, &sp));
  nb_fp_phase_end(&r, NB_FP_PH_SETUP);
  CLIENT(nb_client_start(n->c, n->now));
  /* bootstrap, then the client registers with the account it was given */
  nb_fp_pump(n, true);
  r.after_register = nb_fp_cat[NB_FP_ENGINE].live;
  nb_fp_phase_end(&r, NB_FP_PH_REGISTER);
  /* the server observes the temperature */
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_CON, NB_COAP_GET, 0);
  nb_coap_msg_add_uint(&m, NB_COAP_OPT_OBSERVE, 0);
  nb_coap_msg_add_path(&m, NB_COAP_OPT_URI_PATH, "/3303/0/5700");
  nb_coap_ep_request(n->sep, &n->caddr, &m, true, nb_fp_notified, n, n->now, &n->obs);
  nb_fp_pump(n, false);
  for (int i = 0; i < 100; i++) {
    n->now += 1000;
    CLIENT({
      nb_value v = nb_value_float(20.0 + i * 0.1);
      nb_store_object_set(nb_client_object(n->c, 3303), &tp, &v);
      nb_client_value_changed(n->c, &tp, n->now);
    });
    nb_fp_pump(n, false);
  }
  r.after_notify = nb_fp_cat[NB_FP_ENGINE].live;
  for (size_t j = 0; j < nb_fp_nsites; j++) nb_fp_sites[j].at_steady = nb_fp_sites[j].live;
  nb_fp_phase_end(&r, NB_FP_PH_NOTIFY);
  r.notifications = n->notifications;
  n->now += 1000;
  CLIENT(nb_client_deregister(n->c, n->now));
  nb_fp_pump(n, false);
  CLIENT(nb_client_close(n->c, n->now));
  CLIENT(nb_client_free(n->c));
  nb_fp_phase_end(&r, NB_FP_PH_END);
  memcpy(r.cat, nb_fp_cat, sizeof nb_fp_cat);
  r.total = nb_fp_total;
  r.ok = n->bs_finished == 1 && n->registered == 1 && nb_fp_lost == 0;
  nb_coap_ep_free(n->sep);
  nb_dtls_server_free(n->dtls);
  nb_dtls_server_free(n->bdtls);
  nb_bs_engine_free(n->bs);
  nb_bs_store_close(n->bst);
  nb_dtls_creds_free(creds);
  nb_dtls_creds_free(bcreds);
  free(n);
  return r;
}

/* ---- reporting ---- */

typedef struct {
  char name[80];
  size_t allocs, bytes, at_peak, at_steady;
} nb_fp_row;

static int nb_fp_row_cmp(const void *a, const void *b) {
  const nb_fp_row *x = a, *y = b;
  if (x->at_peak != y->at_peak) return x->at_peak < y->at_peak ? 1 : -1;
  return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* Engine sites by function (addr2line on this executable), largest at the engine's peak
 * first; only with `NB_FP_SITES=1` or when asked for the mode's table. */
static void nb_fp_print_sites(int cat) {
  static nb_fp_row rows[NB_FP_MAXSITES];
  size_t nrows = 0;
  memset(rows, 0, sizeof rows);
  char cmd[64 + 20 * 64];
  FILE *tmp = tmpfile();
  if (!tmp) return;
  for (size_t k = 0; k < nb_fp_nsites; k++) {
    if (nb_fp_sites[k].cat != cat || !nb_fp_sites[k].ra) continue;
    fprintf(tmp, "0x%lx\n", (unsigned long)(nb_fp_sites[k].ra - 1 - nb_fp_exe_base));
  }
  fflush(tmp);
  rewind(tmp);
  snprintf(cmd, sizeof cmd, "addr2line -f -e /proc/%d/exe < /dev/fd/%d", (int)getpid(),
           fileno(tmp));
  FILE *p = popen(cmd, "r");
  for (size_t k = 0; k < nb_fp_nsites; k++) {
    nb_fp_site *s = &nb_fp_sites[k];
    if (s->cat != cat) continue;
    char fn[256] = "?", loc[256];
    if (s->ra && p && fgets(fn, sizeof fn, p) && fgets(loc, sizeof loc, p))
      fn[strcspn(fn, "\n")] = 0;
    size_t i = 0;
    while (i < nrows && strcmp(rows[i].name, fn) != 0) i++;
    if (i == nrows) snprintf(rows[nrows++].name, sizeof rows[0].name, "%s", fn);
    rows[i].allocs += s->allocs;
    rows[i].bytes += s->bytes;
    rows[i].at_peak += s->at_peak;
    rows[i].at_steady += s->at_steady;
  }
  if (p) pclose(p);
  fclose(tmp);
  qsort(rows, nrows, sizeof rows[0], nb_fp_row_cmp);
  if (!nrows) return;
  printf(
      "| %s | allocs | bytes | live at engine peak | live after 100 notifications |\n"
      "|---|---:|---:|---:|---:|\n",
      cat == NB_FP_ENGINE ? "engine allocation site (function)"
                          : "GnuTLS blocks, by the engine function that called GnuTLS");
  for (size_t i = 0; i < nrows; i++)
    printf("| %s | %zu | %zu | %zu | %zu |\n", rows[i].name, rows[i].allocs, rows[i].bytes,
           rows[i].at_peak, rows[i].at_steady);
}

static void nb_fp_print(const char *mode, const nb_fp_result *r) {
  printf("\n%s%s: %d notifications\n", mode, r->ok ? "" : " (RUN FAILED)", r->notifications);
  printf("| | engine | gnutls | other | all |\n|---|---:|---:|---:|---:|\n");
  printf("| heap peak over the run (B) | %zu | %zu | %zu | %zu |\n", r->cat[0].peak, r->cat[1].peak,
         r->cat[2].peak, r->total.peak);
  for (int ph = 0; ph < NB_FP_NPH; ph++) {
    printf("| peak in phase: %s | %zu | %zu | %zu | %zu |\n", nb_fp_phase_names[ph],
           r->ph_peak[ph][0], r->ph_peak[ph][1], r->ph_peak[ph][2], r->ph_peak[ph][3]);
  }
  printf("| allocations over the run | %zu | %zu | %zu | %zu |\n", r->cat[0].allocs,
         r->cat[1].allocs, r->cat[2].allocs, r->total.allocs);
  printf("| left allocated after nb_client_free (B) | %zu | %zu | %zu | %zu |\n", r->cat[0].live,
         r->cat[1].live, r->cat[2].live, r->total.live);
  printf(
      "engine live: after nb_client_new %zu B, registered %zu B, after 100 notifications %zu B\n",
      r->after_new, r->after_register, r->after_notify);
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
  Dl_info di;
  if (!dladdr((void *)nb_fp_run, &di)) return 1;
  nb_fp_exe_base = (uintptr_t)di.dli_fbase;
  void *prime[4];
  backtrace(prime, 4); /* the unwinder loads itself (and allocates) before counting starts */
  nb_fp_install();
  printf("client_footprint: heap counted with %s, requested bytes, attributed by backtrace\n",
         NB_FP_HOW);
  nb_fp_result res[2];
  for (int psk = 0; psk <= 1; psk++) {
    res[psk] = nb_fp_run(psk);
    nb_fp_print(psk ? "DTLS-PSK" : "NoSec", &res[psk]);
    nb_fp_print_sites(NB_FP_ENGINE);
    nb_fp_print_sites(NB_FP_GNUTLS);
  }
  printf(
      "\nseed thesis client peaks: 18.1 KB NoSec, 22.9 KB DTLS; engine peak / thesis: %.2f "
      "(NoSec), %.2f (DTLS-PSK); all (with GnuTLS) / thesis: %.2f, %.2f\n",
      res[0].cat[0].peak / 18100.0, res[1].cat[0].peak / 22900.0, res[0].total.peak / 18100.0,
      res[1].total.peak / 22900.0);
  if (argc > 1) nb_fp_sizes(argv[1]);
  return res[0].ok && res[1].ok ? 0 : 1;
}
