/* The server's REST API (Leshan-shaped JSON over libmicrohttpd in the process's libuv loop,
 * httpd.h): one route table in api.c that lists the paths of docs/openapi.yaml, handlers by
 * concern (api_clients.c, api_security.c, api_feed.c, api_bootstrap.c); requests that wait on
 * a device are held until the engine answers, and /api/events streams server-sent events.
 * Owns the daemon, the event feed and the alert ring. */
#ifndef NB_HTTP_API_H
#define NB_HTTP_API_H

#include "base/addr.h"
#include "base/err.h"
#include "fw/fwupdate.h"
#include "http/admit.h"
#include "http/alerts.h"
#include "http/bs_host.h"
#include "http/events.h"
#include "http/results.h"
#include "io/fwrepo.h"
#include "io/loop.h"
#include "server/server.h"
#include "server/store_health.h"

typedef struct nb_http_api nb_http_api;

#define NB_HTTP_FIRMWARE_MAX (256ull << 20) /* default --firmware-max: 256 MiB */

typedef struct {
  nb_addr listen;               /* HTTP address (port 0 = ephemeral) */
  const char *api_token;        /* required as "Authorization: Bearer <token>" when not NULL; never
                                   empty (NB_ERR_INVAL); only its SHA-256 is kept */
  nb_server_store store;        /* audit log and security credentials; ops NULL = not available */
  nb_store_health *health;      /* the health of that store (store wraps it) for GET
                                   /api/health, probed every probe_ms while unhealthy; NULL =
                                   none watched (always "ok") */
  uint64_t probe_ms;            /* 0 = 5000 */
  int64_t clock_offset;         /* loop time + offset = Unix ms (event timestamps) */
  size_t body_max;              /* largest request body accepted; 0 = 65536 */
  uint64_t keepalive_ms;        /* SSE keep-alive comment period; 0 = 15000 */
  nb_http_events_config events; /* zeroed = defaults */
  nb_http_bs *bootstrap;        /* bootstrap role in this process: /api/bootstrap routes and
                                   its events on /api/events; NULL = none (must outlive free) */
  size_t alerts_max;            /* monitor alerts kept for GET /api/alerts; 0 = 1000 */
  nb_http_results_config results; /* results of queued requests (GET /api/requests/{id});
                                     zeroes: results.h's defaults */
  /* Names a Host header may give besides the listener's own IP address (and localhost on
   * loopback): "name" or "name:port" (--http-host); see guard.h. */
  const char *const *hosts;
  size_t nhosts;
  nb_http_admit_config limits;    /* connection and stream bounds, deadlines; zeroes: admit.h's */
  const char *tls_cert, *tls_key; /* HTTPS: PEM chain and private key; NULL = plain HTTP */
  /* Firmware updates (/api/firmware, /api/campaigns, /api/clients/{ep}/firmware): the service
   * and its image files, both borrowed (they must outlive free); NULL = those routes answer
   * 404. Its events go to /api/events as FIRMWARE_CAMPAIGN and FIRMWARE_DEVICE frames. */
  nb_fws *fw;
  nb_fws_repo *fw_repo;
  uint64_t firmware_max; /* largest image upload (413 beyond); 0 = NB_HTTP_FIRMWARE_MAX */
  /* The console's map tiles: a URL template ("https://{s}.tile.example.org/{z}/{x}/{y}.png",
   * console.h's rules; NB_ERR_INVAL otherwise), its origin allowed by the console's CSP;
   * NULL = none (positions on a plain background). */
  const char *console_tiles;
} nb_http_api_config;

/* The web console (console.h) is served at / and /console/ without a token: its files hold
 * no secret; every /api/ route still needs it, but GET /api/health (a load balancer's probe,
 * which reveals no secret).
 * srv NULL: a bootstrap server's API alone (/api/bootstrap, /api/events, and /api/security and
 * /api/audit when a store is given); /api/clients then answers 404. */
nb_err nb_http_api_new(nb_io_loop *loop, nb_server *srv, const nb_http_api_config *cfg,
                       nb_http_api **out);
/* The live feed and value history (owned by the API). */
nb_http_events *nb_http_api_events(nb_http_api *api);
/* The bound port (useful with port 0). */
uint16_t nb_http_api_port(const nb_http_api *api);
/* Stops the daemon and closes the uv handles (freed once libuv has closed them). */
void nb_http_api_free(nb_http_api *api);

#endif
