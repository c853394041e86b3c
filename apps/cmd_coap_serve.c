/* `niobium coap serve`: a small CoAP server on the Niobium stack, for demos and interop tests.
 * Serves a fixed resource tree: /test (text), /large (a body that needs Block2), /obs (an
 * observable counter), /store (PUT/POST/GET/DELETE, observable) and /.well-known/core. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "coap/endpoint.h"
#include "coap/link.h"
#include "coap/msg.h"
#include "coap_dtls.h"
#include "commands.h"
#include "io/dtls_io.h"
#include "io/loop.h"

#define NB_SERVE_MAX_LISTEN 8
#define NB_SERVE_COAPS_MAX_MESSAGE 1120 /* fits a DTLS record in the 1200-byte MTU */
#define NB_SERVE_LARGE_LINES 64 /* 64 lines of 72 bytes: 4608 bytes, five 1024-byte blocks */
#define NB_SERVE_TICK_MS 1000
/* Every Nth notification is confirmable so vanished observers are noticed (RFC 7641 4.5). */
#define NB_SERVE_CON_EVERY 5

enum { NB_M_GET = 1, NB_M_POST = 2, NB_M_PUT = 4, NB_M_DELETE = 8 };

typedef struct nb_serve nb_serve;

/* One socket with its endpoint; requests from it are answered through it. */
typedef struct {
  nb_serve *srv;
  nb_io_coap *coap;
  nb_io_udp *udp;   /* coaps: the socket under the DTLS layer */
  nb_io_dtls *dtls; /* coaps */
} nb_serve_sock;

typedef struct {
  nb_serve_sock *sock;
  nb_coap_observer *obs; /* NULL once gone while notifying (swept afterwards) */
} nb_serve_watch;

typedef struct {
  const char *path;
  const char *rt;
  const char *title;
  unsigned methods;
  bool observable;
  int cf;        /* content format of what GET returns */
  nb_bytes body; /* current representation */
  nb_serve_watch *watches;
  size_t watch_count, watch_cap;
  bool notifying;
  unsigned notified;
} nb_serve_res;

enum { NB_RES_WELLKNOWN, NB_RES_TEST, NB_RES_LARGE, NB_RES_OBS, NB_RES_STORE, NB_RES_COUNT };

struct nb_serve {
  nb_io_loop *loop;
  nb_serve_sock socks[NB_SERVE_MAX_LISTEN];
  size_t sock_count;
  nb_serve_res res[NB_RES_COUNT];
  uv_timer_t tick;
  unsigned long counter;
  bool verbose;
  nb_app_dtls *creds; /* coaps */
};

static void nb_serve_usage(FILE *out) {
  fprintf(out,
          "Usage: niobium coap serve [--listen ADDR:PORT]... [--coaps ADDR:PORT CREDENTIALS]... "
          "[-v]\n"
          "A small CoAP server on the Niobium stack, to try the client and for interop tests.\n"
          "Resources:\n"
          "  /.well-known/core  the resource list in link-format (RFC 6690)\n"
          "  /test              GET: a short text\n"
          "  /large             GET: a 4.5 kB text, served block-wise (Block2)\n"
          "  /obs               GET, observable: a counter that changes every second\n"
          "  /store             PUT/POST store a body (block-wise too, with its Content-Format),\n"
          "                     GET returns it, DELETE empties it; observable\n\n"
          "Options:\n"
          "  --listen ADDR:PORT  address to serve on (default 127.0.0.1:5683); repeat for more,\n"
          "                      e.g. IPv4 and IPv6; port 0 picks a free port\n"
          "  --coaps ADDR:PORT   serve CoAP over DTLS 1.2 there (port 0: a free one); repeatable,\n"
          "                      all coaps sockets share the credentials below\n"
          "  -v, --verbose       log every request on stderr, and each DTLS handshake (suite and\n"
          "                      client identity, or why it failed)\n"
          "DTLS credentials (PSK may be combined with a raw public key or a certificate):\n"
          "  --psk-identity ID --psk-key HEX   one client identity and its key (hex)\n"
          "  --psk-file FILE     more of them, one 'identity,hexkey' line each ('#' comments)\n"
          "  --rpk-key FILE      our raw public key (P-256 private key, PEM or DER); clients'\n"
          "                      keys are never accepted blindly, each must be listed with\n"
          "    --client-key FILE       a client's public key (or private key/certificate)\n"
          "    --client-secure-id ID   or its secure ID (30 hex digits); both repeatable\n"
          "  --cert FILE --key FILE    our certificate and its P-256 private key, with\n"
          "    --ca FILE               the CA(s) client certificates must chain to\n"
          "  --ciphers LIST      only these suites (see 'niobium coap --help')\n"
          "  -h, --help          show this help\n\n"
          "Prints 'listening on coap://ADDR:PORT' (or coaps://) per socket on stdout once ready;\n"
          "stops on Ctrl-C or SIGTERM.\n\n"
          "Examples:\n"
          "  niobium coap serve\n"
          "  niobium coap serve --listen 127.0.0.1:5683 --listen '[::1]:5683' -v\n"
          "  niobium coap get coap://127.0.0.1/.well-known/core\n"
          "  niobium coap serve --coaps 127.0.0.1:5684 --psk-identity dev1 \\\n"
          "      --psk-key 000102030405060708090a0b0c0d0e0f -v\n"
          "  niobium coap serve --coaps 127.0.0.1:5684 --rpk-key srv.key.pem --client-key "
          "dev.pub.pem\n"
          "  niobium coap serve --coaps 127.0.0.1:5684 --cert server.crt.pem --key server.key.pem "
          "\\\n"
          "      --ca ca.crt.pem --psk-file psk.csv\n");
}

/* ---- resources ---- */

static nb_err nb_serve_res_init(nb_serve *srv) {
  static const struct {
    const char *path, *rt, *title;
    unsigned methods;
    bool observable;
  } rows[NB_RES_COUNT] = {
      [NB_RES_WELLKNOWN] = {"/.well-known/core", NULL, NULL, NB_M_GET, false},
      [NB_RES_TEST] = {"/test", "test", "Hello", NB_M_GET, false},
      [NB_RES_LARGE] = {"/large", "test", "Large text (Block2)", NB_M_GET, false},
      [NB_RES_OBS] = {"/obs", "counter", "Counter, +1 per second", NB_M_GET, true},
      [NB_RES_STORE] = {"/store", "store", "Stores what is PUT or POSTed",
                        NB_M_GET | NB_M_PUT | NB_M_POST | NB_M_DELETE, true},
  };
  nb_err err = NB_OK;
  for (size_t i = 0; i < NB_RES_COUNT; i++) {
    nb_serve_res *r = &srv->res[i];
    r->path = rows[i].path;
    r->rt = rows[i].rt;
    r->title = rows[i].title;
    r->methods = rows[i].methods;
    r->observable = rows[i].observable;
    r->cf = NB_COAP_CF_TEXT;
    nb_bytes_init(&r->body);
  }
  srv->res[NB_RES_WELLKNOWN].cf = NB_COAP_CF_LINK_FORMAT;
  for (size_t i = 1; i < NB_RES_COUNT && err == NB_OK; i++) {
    nb_serve_res *r = &srv->res[i];
    err = nb_link_write_target(&srv->res[0].body, r->path);
    if (err == NB_OK) err = nb_link_write_param(&srv->res[0].body, "rt", r->rt, true);
    if (err == NB_OK) err = nb_link_write_param(&srv->res[0].body, "title", r->title, true);
    if (err == NB_OK) err = nb_link_write_param(&srv->res[0].body, "ct", "0", false);
    if (err == NB_OK && r->observable)
      err = nb_link_write_param(&srv->res[0].body, "obs", NULL, false);
  }
  if (err == NB_OK) err = nb_bytes_append_str(&srv->res[NB_RES_TEST].body, "Hello from Niobium");
  for (int line = 0; line < NB_SERVE_LARGE_LINES && err == NB_OK; line++) {
    /* 72 bytes per line, each line numbered so a misplaced block shows. */
    err = nb_bytes_appendf(&srv->res[NB_RES_LARGE].body, "%04d %-66s\n", line,
                           "Niobium block-wise transfer test line: the quick brown fox jumps");
  }
  if (err == NB_OK) err = nb_bytes_append_str(&srv->res[NB_RES_OBS].body, "0");
  return err;
}

static nb_serve_res *nb_serve_res_find(nb_serve *srv, const char *path) {
  for (size_t i = 0; i < NB_RES_COUNT; i++) {
    if (strcmp(srv->res[i].path, path) == 0) return &srv->res[i];
  }
  return NULL;
}

static nb_err nb_serve_watch_add(nb_serve_res *r, nb_serve_sock *sock, nb_coap_observer *obs) {
  if (r->watch_count == r->watch_cap) {
    size_t cap = r->watch_cap ? r->watch_cap * 2 : 8;
    nb_serve_watch *w = realloc(r->watches, cap * sizeof *w);
    if (!w) return NB_ERR_NOMEM;
    r->watches = w;
    r->watch_cap = cap;
  }
  r->watches[r->watch_count++] = (nb_serve_watch){sock, obs};
  return NB_OK;
}

/* Drops emptied slots (observers gone while a notification round was running). */
static void nb_serve_watch_sweep(nb_serve_res *r) {
  size_t k = 0;
  for (size_t i = 0; i < r->watch_count; i++) {
    if (r->watches[i].obs) r->watches[k++] = r->watches[i];
  }
  r->watch_count = k;
}

static void nb_serve_observer_gone(void *user, nb_coap_observer *obs, nb_err why) {
  nb_serve_res *r = user;
  (void)why;
  for (size_t i = 0; i < r->watch_count; i++) {
    if (r->watches[i].obs == obs) r->watches[i].obs = NULL;
  }
  if (!r->notifying) nb_serve_watch_sweep(r);
}

/* The resource's representation as a 2.05 (or `code`) message; borrows the body. */
static void nb_serve_representation(const nb_serve_res *r, uint8_t code, nb_coap_msg *m) {
  nb_coap_msg_init(m, NB_COAP_ACK, code, 0);
  if (r->cf != NB_COAP_CF_NONE)
    nb_coap_msg_add_uint(m, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)r->cf);
  nb_coap_msg_set_payload(m, r->body.data, r->body.len);
}

/* Sends the current representation to every observer of r. */
static void nb_serve_notify(nb_serve *srv, nb_serve_res *r) {
  nb_time_ms now = nb_io_loop_now(srv->loop);
  bool con = ++r->notified % NB_SERVE_CON_EVERY == 0;
  r->notifying = true;
  for (size_t i = 0; i < r->watch_count; i++) {
    nb_serve_watch *w = &r->watches[i];
    if (!w->obs) continue;
    nb_coap_msg m;
    nb_serve_representation(r, NB_COAP_CONTENT, &m);
    nb_err err = nb_coap_ep_notify(nb_io_coap_ep(w->sock->coap), w->obs, &m, con, now);
    if (err != NB_OK) {
      NB_LOG_WARN("coap-serve", "event=notify_failed path=%s err=%s", r->path, nb_err_name(err));
    }
  }
  r->notifying = false;
  nb_serve_watch_sweep(r);
}

static void nb_serve_on_tick(uv_timer_t *t) {
  nb_serve *srv = t->data;
  nb_serve_res *r = &srv->res[NB_RES_OBS];
  nb_bytes_clear(&r->body);
  if (nb_bytes_appendf(&r->body, "%lu", ++srv->counter) == NB_OK) nb_serve_notify(srv, r);
}

/* ---- requests ---- */

static unsigned nb_serve_method_bit(uint8_t code) {
  switch (code) {
    case NB_COAP_GET:
      return NB_M_GET;
    case NB_COAP_POST:
      return NB_M_POST;
    case NB_COAP_PUT:
      return NB_M_PUT;
    case NB_COAP_DELETE:
      return NB_M_DELETE;
    default:
      return 0;
  }
}

/* PUT/POST replace /store's body, DELETE empties it; observers hear of the change. */
static uint8_t nb_serve_store_write(nb_serve *srv, nb_serve_res *r, const nb_coap_msg *req) {
  nb_bytes_clear(&r->body);
  if (req->code == NB_COAP_DELETE) {
    r->cf = NB_COAP_CF_TEXT;
  } else {
    int cf = nb_coap_msg_content_format(req);
    r->cf = cf == NB_COAP_CF_NONE ? NB_COAP_CF_OCTET_STREAM : cf;
    if (nb_bytes_append(&r->body, req->payload, req->payload_len) != NB_OK) {
      return NB_COAP_INTERNAL_SERVER_ERROR;
    }
  }
  nb_serve_notify(srv, r);
  return req->code == NB_COAP_DELETE ? NB_COAP_DELETED : NB_COAP_CHANGED;
}

/* Decides the answer to one request; fills resp. */
static void nb_serve_answer(nb_serve_sock *sock, nb_coap_exchange *ex, const nb_coap_msg *req,
                            nb_coap_msg *resp) {
  nb_serve *srv = sock->srv;
  char path[512];
  nb_serve_res *r = NULL;
  if (nb_coap_msg_get_path(req, NB_COAP_OPT_URI_PATH, path, sizeof path) == NB_OK) {
    r = nb_serve_res_find(srv, path);
  }
  nb_coap_msg_init(resp, NB_COAP_ACK, NB_COAP_NOT_FOUND, 0);
  if (!r) return;
  if (!(r->methods & nb_serve_method_bit(req->code))) {
    resp->code = NB_COAP_METHOD_NOT_ALLOWED;
    return;
  }
  if (req->code != NB_COAP_GET) {
    resp->code = nb_serve_store_write(srv, r, req);
    return;
  }
  int accept = nb_coap_msg_accept(req);
  if (accept != NB_COAP_CF_NONE && accept != r->cf) {
    resp->code = NB_COAP_NOT_ACCEPTABLE;
    return;
  }
  uint32_t observe;
  if (r->observable && nb_coap_msg_get_uint(req, NB_COAP_OPT_OBSERVE, &observe) == NB_OK &&
      observe == 0) {
    nb_coap_observer *obs;
    if (nb_coap_exchange_observe(ex, nb_serve_observer_gone, r, &obs) == NB_OK &&
        nb_serve_watch_add(r, sock, obs) != NB_OK) {
      nb_coap_ep_observer_cancel(nb_io_coap_ep(sock->coap), obs);
    }
  }
  nb_serve_representation(r, NB_COAP_CONTENT, resp);
}

static void nb_serve_on_request(void *user, nb_coap_exchange *ex, const nb_addr *peer,
                                const nb_coap_msg *req, nb_time_ms now) {
  nb_serve_sock *sock = user;
  nb_coap_msg resp;
  nb_serve_answer(sock, ex, req, &resp);
  if (sock->srv->verbose) {
    char who[NB_ADDR_STRLEN], path[512], code[8];
    if (nb_coap_msg_get_path(req, NB_COAP_OPT_URI_PATH, path, sizeof path) != NB_OK) {
      snprintf(path, sizeof path, "?");
    }
    fprintf(stderr, "%s %s %s -> %s %s (%zu bytes)\n", nb_addr_format(peer, who, sizeof who),
            nb_coap_code_name(req->code), path, nb_coap_code_format(resp.code, code),
            nb_coap_code_name(resp.code), resp.payload_len);
  }
  nb_err err = nb_coap_exchange_respond(ex, &resp, now);
  if (err != NB_OK) NB_LOG_WARN("coap-serve", "event=respond_failed err=%s", nb_err_name(err));
}

/* ---- process ---- */

static void nb_serve_on_signal(void *user, int signum) {
  nb_serve *srv = user;
  (void)signum;
  nb_io_loop_stop(srv->loop);
}

/* DTLS events: with -v, who connected with which suite, and why a handshake failed. */
static void nb_serve_on_dtls_event(void *user, const nb_addr *peer, nb_dtls_session *s,
                                   const nb_dtls_event *ev, nb_time_ms now) {
  (void)now;
  nb_serve *srv = user;
  if (!srv->verbose) return;
  char who[NB_ADDR_STRLEN], text[512];
  nb_addr_format(peer, who, sizeof who);
  if (ev->type == NB_DTLS_EV_ESTABLISHED) {
    nb_app_dtls_describe_peer(nb_dtls_session_peer(s), text, sizeof text);
    fprintf(stderr, "%s DTLS %s: suite %s, client %s\n", who,
            ev->resumed ? "resumed" : "established", nb_dtls_session_suite(s), text);
  } else {
    nb_app_dtls_describe_failure(ev, text, sizeof text);
    fprintf(stderr, "%s DTLS %s: %s\n", who, ev->type == NB_DTLS_EV_FAILED ? "failed" : "closed",
            text);
  }
}

/* A CoAP endpoint over a DTLS server context on `local`. */
static nb_err nb_serve_open_dtls(nb_serve *srv, nb_serve_sock *sock, const nb_addr *local) {
  nb_io_dtls_config dcfg;
  nb_io_dtls_config_default(&dcfg, NB_IO_DTLS_SERVER);
  dcfg.creds = nb_app_dtls_creds(srv->creds);
  dcfg.event = nb_serve_on_dtls_event;
  dcfg.event_user = srv;
  nb_coap_ep_config ccfg;
  nb_coap_ep_config_default(&ccfg);
  ccfg.max_message = NB_SERVE_COAPS_MAX_MESSAGE;
  return nb_io_dtls_coap_open(srv->loop, local, &dcfg, &ccfg, &sock->udp, &sock->dtls, &sock->coap);
}

static int nb_serve_listen(nb_serve *srv, const char *text, bool secure) {
  nb_addr local;
  const char *opt = secure ? "--coaps" : "--listen";
  if (srv->sock_count == NB_SERVE_MAX_LISTEN) {
    fprintf(stderr, "niobium coap serve: at most %d --listen/--coaps addresses\n",
            NB_SERVE_MAX_LISTEN);
    return NB_EXIT_USAGE;
  }
  if (nb_addr_parse(text, secure ? 5684 : 5683, &local) != NB_OK) {
    fprintf(stderr,
            "niobium coap serve: %s '%s': expected a numeric IPv4 ADDR:PORT or "
            "[IPv6]:PORT\n",
            opt, text);
    return NB_EXIT_USAGE;
  }
  nb_serve_sock *sock = &srv->socks[srv->sock_count];
  nb_err err = secure ? nb_serve_open_dtls(srv, sock, &local)
                      : nb_io_coap_open_udp(srv->loop, &local, NULL, &sock->coap);
  if (err != NB_OK) {
    fprintf(stderr, "niobium coap serve: cannot listen on %s: %s%s\n", text, nb_strerror(err),
            err == NB_ERR_EXISTS ? " (the port is in use: pick another port)" : "");
    return NB_EXIT_FAILURE;
  }
  sock->srv = srv;
  srv->sock_count++;
  nb_coap_ep_set_handler(nb_io_coap_ep(sock->coap), nb_serve_on_request, sock);
  nb_addr bound;
  char shown[NB_ADDR_STRLEN];
  if (nb_io_udp_local_addr(secure ? sock->udp : nb_io_coap_udp(sock->coap), &bound) == NB_OK) {
    printf("listening on %s://%s\n", secure ? "coaps" : "coap",
           nb_addr_format(&bound, shown, sizeof shown));
  }
  return NB_EXIT_OK;
}

static void nb_serve_close(nb_serve *srv) {
  for (size_t i = 0; i < srv->sock_count; i++) {
    nb_io_coap_free(srv->socks[i].coap);
    nb_io_dtls_free(srv->socks[i].dtls);
    nb_io_udp_close(srv->socks[i].udp);
  }
  uv_close((uv_handle_t *)&srv->tick, NULL);
  nb_io_loop_free(srv->loop);
  for (size_t i = 0; i < NB_RES_COUNT; i++) {
    nb_bytes_free(&srv->res[i].body);
    free(srv->res[i].watches);
  }
}

static int nb_serve_run(nb_serve *srv, const char **listen, const bool *secure,
                        size_t listen_count) {
  int rc = NB_EXIT_OK;
  for (size_t i = 0; i < listen_count && rc == NB_EXIT_OK; i++)
    rc = nb_serve_listen(srv, listen[i], secure[i]);
  if (rc == NB_EXIT_OK && nb_io_loop_on_signals(srv->loop, nb_serve_on_signal, srv) != NB_OK) {
    rc = NB_EXIT_FAILURE;
  }
  if (rc != NB_EXIT_OK) return rc;
  fflush(stdout);
  uv_timer_start(&srv->tick, nb_serve_on_tick, NB_SERVE_TICK_MS, NB_SERVE_TICK_MS);
  nb_io_loop_run(srv->loop);
  return NB_EXIT_OK;
}

int nb_cmd_coap_serve(int argc, char **argv) {
  static const struct option opts[] = {
      {"listen", required_argument, NULL, 'l'},
      {"coaps", required_argument, NULL, 'S'},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      NB_APP_DTLS_LONG_OPTS,
      {NULL, 0, NULL, 0},
  };
  const char *listen[NB_SERVE_MAX_LISTEN + 1];
  bool secure[NB_SERVE_MAX_LISTEN + 1];
  size_t listen_count = 0, coaps_count = 0;
  nb_app_dtls_opts dtls = {0};
  nb_serve srv = {0};
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "l:S:vh", opts, NULL)) != -1) {
    if (c == 'h') {
      nb_serve_usage(stdout);
      return NB_EXIT_OK;
    }
    if (c == 'v') {
      srv.verbose = true;
    } else if ((c == 'l' || c == 'S') && listen_count <= NB_SERVE_MAX_LISTEN) {
      secure[listen_count] = c == 'S';
      coaps_count += c == 'S';
      listen[listen_count++] = optarg;
    } else if (c != 'l' && c != 'S') {
      int used = nb_app_dtls_opt(&dtls, c, optarg, "niobium coap serve");
      if (used == 1) continue;
      if (used == 0) fprintf(stderr, "Run 'niobium coap serve --help' for the options.\n");
      return NB_EXIT_USAGE;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "niobium coap serve: unexpected argument '%s'\n", argv[optind]);
    return NB_EXIT_USAGE;
  }
  if (coaps_count == 0 && nb_app_dtls_given(&dtls)) {
    fprintf(stderr, "niobium coap serve: the DTLS options need --coaps ADDR:PORT\n");
    return NB_EXIT_USAGE;
  }
  if (coaps_count > 0) {
    int rc = nb_app_dtls_build(&dtls, true, "niobium coap serve", &srv.creds);
    if (rc != NB_EXIT_OK) return rc;
  }
  if (listen_count == 0) {
    secure[listen_count] = false;
    listen[listen_count++] = "127.0.0.1:5683";
  }
  if (nb_serve_res_init(&srv) != NB_OK || nb_io_loop_new(&srv.loop) != NB_OK) {
    fprintf(stderr, "niobium coap serve: out of memory\n");
    for (size_t i = 0; i < NB_RES_COUNT; i++) nb_bytes_free(&srv.res[i].body);
    nb_app_dtls_free(srv.creds);
    return NB_EXIT_FAILURE;
  }
  uv_timer_init(nb_io_loop_uv(srv.loop), &srv.tick);
  srv.tick.data = &srv;
  int rc = nb_serve_run(&srv, listen, secure, listen_count);
  nb_serve_close(&srv);
  nb_app_dtls_free(srv.creds);
  return rc;
}
