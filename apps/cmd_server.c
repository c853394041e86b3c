/* `niobium server`: the LwM2M server (CoAP /rd, device management) with its SQLite store and
 * REST API, in one libuv loop. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "commands.h"
#include "http/api.h"
#include "io/loop.h"
#include "server/server.h"
#include "store/sqlite.h"

#define MAX_COAP 4

typedef struct {
  nb_io_loop *loop;
  nb_server *srv;
  nb_io_udp *udp[MAX_COAP];
  nb_addr local[MAX_COAP];
  size_t nudp;
  uv_timer_t timer;
  uv_prepare_t prepare;
} server_app;

static void usage(FILE *f) {
  fprintf(f,
          "usage: niobium server [options]\n"
          "  --coap ADDR        CoAP (NoSec) listen address, repeatable for IPv4 and IPv6\n"
          "                     (default 0.0.0.0:5683)\n"
          "  --http ADDR        REST API address (default 127.0.0.1:8080)\n"
          "  --db FILE          SQLite database (default ./niobium.db)\n"
          "  --api-token TOKEN  require \"Authorization: Bearer TOKEN\" (mandatory when the\n"
          "                     API is not bound to loopback)\n"
          "  --log-level LEVEL  error, warn, info (default) or debug\n"
          "  --help             this text\n"
          "examples:\n"
          "  niobium server --coap 0.0.0.0:5683 --coap [::]:5683 --http 127.0.0.1:8080\n"
          "  niobium server --http 0.0.0.0:8080 --api-token \"$(cat token.txt)\" --db "
          "/var/lib/nb.db\n");
}

/* Engine datagrams leave through the socket of the peer's address family. */
static void app_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  server_app *a = user;
  for (size_t i = 0; i < a->nudp; i++)
    if (a->local[i].family == peer->family) {
      nb_io_udp_send(a->udp[i], peer, data, len);
      return;
    }
}

static void app_receive(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  server_app *a = user;
  nb_server_receive(a->srv, peer, NULL, data, len, nb_io_loop_now(a->loop));
}

static void on_tick(uv_timer_t *t) {
  server_app *a = t->data;
  nb_server_tick(a->srv, nb_io_loop_now(a->loop));
}

/* Before the loop sleeps, the engine's next deadline becomes the timer. */
static void on_prepare(uv_prepare_t *p) {
  server_app *a = p->data;
  nb_time_ms d = nb_server_next_deadline(a->srv);
  if (d == NB_TIME_NEVER) {
    uv_timer_stop(&a->timer);
    return;
  }
  nb_time_ms now = nb_io_loop_now(a->loop);
  uv_timer_start(&a->timer, on_tick, d > now ? (uint64_t)(d - now) : 0, 0);
}

static void on_signal(void *user, int signum) {
  server_app *a = user;
  NB_LOG_INFO("server", "event=stopping signal=%d", signum);
  nb_io_loop_stop(a->loop);
}

static bool is_loopback(const nb_addr *a) {
  static const uint8_t v6lo[16] = {[15] = 1};
  return a->family == NB_ADDR_V4 ? a->ip[0] == 127 : memcmp(a->ip, v6lo, 16) == 0;
}

static int64_t clock_offset(nb_io_loop *loop) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - nb_io_loop_now(loop);
}

static int run(const char **coap, size_t ncoap, const nb_addr *http, const char *db_path,
               const char *token) {
  int rc = NB_EXIT_FAILURE;
  server_app a;
  memset(&a, 0, sizeof(a));
  nb_store_sqlite *db = NULL;
  nb_http_api *api = NULL;
  bool handles = false;
  if (nb_store_sqlite_open(db_path, &db) != NB_OK) {
    fprintf(stderr, "niobium server: cannot open database %s: check the path and permissions\n",
            db_path);
    return NB_EXIT_FAILURE;
  }
  if (nb_io_loop_new(&a.loop) != NB_OK) goto out;
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.store = nb_store_sqlite_iface(db);
  cfg.clock_offset = clock_offset(a.loop);
  if (nb_server_new(&cfg, app_send, &a, &a.srv) != NB_OK) goto out;
  size_t restored = 0;
  nb_server_restore(a.srv, nb_io_loop_now(a.loop), &restored);
  for (size_t i = 0; i < ncoap; i++) {
    if (nb_addr_parse(coap[i], 5683, &a.local[i]) != NB_OK) {
      fprintf(stderr, "niobium server: bad --coap address '%s' (IP:PORT or [IPv6]:PORT)\n",
              coap[i]);
      rc = NB_EXIT_USAGE;
      goto out;
    }
    if (nb_io_udp_open(a.loop, &a.local[i], NULL, &a.udp[i]) != NB_OK) {
      fprintf(stderr, "niobium server: cannot bind %s: is another server running?\n", coap[i]);
      goto out;
    }
    nb_io_udp_local_addr(a.udp[i], &a.local[i]);
    nb_io_udp_set_receiver(a.udp[i], app_receive, &a);
    a.nudp++;
  }
  nb_http_api_config hc = {
      .listen = *http, .api_token = token, .store = cfg.store, .clock_offset = cfg.clock_offset};
  if (nb_http_api_new(a.loop, a.srv, &hc, &api) != NB_OK) {
    fprintf(stderr, "niobium server: cannot start the HTTP API: is the port in use?\n");
    goto out;
  }
  uv_timer_init(nb_io_loop_uv(a.loop), &a.timer);
  uv_prepare_init(nb_io_loop_uv(a.loop), &a.prepare);
  a.timer.data = a.prepare.data = &a;
  uv_prepare_start(&a.prepare, on_prepare);
  handles = true;
  nb_io_loop_on_signals(a.loop, on_signal, &a);
  char buf[NB_ADDR_STRLEN];
  for (size_t i = 0; i < a.nudp; i++)
    NB_LOG_INFO("server", "event=listening proto=coap addr=%s",
                nb_addr_format(&a.local[i], buf, sizeof(buf)));
  NB_LOG_INFO("server", "event=listening proto=http port=%u restored=%zu", nb_http_api_port(api),
              restored);
  rc = nb_io_loop_run(a.loop) == NB_OK ? NB_EXIT_OK : NB_EXIT_FAILURE;
out:
  nb_http_api_free(api);
  if (handles) {
    uv_close((uv_handle_t *)&a.timer, NULL);
    uv_close((uv_handle_t *)&a.prepare, NULL);
  }
  for (size_t i = 0; i < a.nudp; i++) nb_io_udp_close(a.udp[i]);
  nb_server_free(a.srv);
  if (a.loop) nb_io_loop_free(a.loop);
  nb_store_sqlite_close(db);
  return rc;
}

int nb_cmd_server(int argc, char **argv) {
  static const struct option opts[] = {{"coap", required_argument, NULL, 'c'},
                                       {"http", required_argument, NULL, 'H'},
                                       {"db", required_argument, NULL, 'd'},
                                       {"api-token", required_argument, NULL, 't'},
                                       {"log-level", required_argument, NULL, 'l'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *coap[MAX_COAP];
  size_t ncoap = 0;
  const char *http = "127.0.0.1:8080", *db = "niobium.db", *token = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'c':
        if (ncoap == MAX_COAP) {
          fprintf(stderr, "niobium server: at most %d --coap addresses\n", MAX_COAP);
          return NB_EXIT_USAGE;
        }
        coap[ncoap++] = optarg;
        break;
      case 'H':
        http = optarg;
        break;
      case 'd':
        db = optarg;
        break;
      case 't':
        token = optarg;
        break;
      case 'l': {
        nb_log_level lvl;
        if (nb_log_level_parse(optarg, &lvl) != NB_OK) {
          fprintf(stderr, "niobium server: unknown log level '%s' (error, warn, info, debug)\n",
                  optarg);
          return NB_EXIT_USAGE;
        }
        nb_log_set_level(lvl);
        break;
      }
      case 'h':
        usage(stdout);
        return NB_EXIT_OK;
      default:
        usage(stderr);
        return NB_EXIT_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "niobium server: unexpected argument '%s'\n", argv[optind]);
    return NB_EXIT_USAGE;
  }
  if (ncoap == 0) coap[ncoap++] = "0.0.0.0:5683";
  nb_addr haddr;
  if (nb_addr_parse(http, 8080, &haddr) != NB_OK) {
    fprintf(stderr, "niobium server: bad --http address '%s' (IP:PORT)\n", http);
    return NB_EXIT_USAGE;
  }
  if (!token && !is_loopback(&haddr)) {
    fprintf(stderr,
            "niobium server: the API on %s needs --api-token (or bind it to "
            "127.0.0.1)\n",
            http);
    return NB_EXIT_USAGE;
  }
  return run(coap, ncoap, &haddr, db, token);
}
