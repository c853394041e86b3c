/* `niobium server`: the LwM2M server (CoAP /rd, device management) with its store (SQLite, or
 * Redis with --store) and REST API, in one libuv loop; NoSec and DTLS (PSK, RPK, X.509)
 * listeners. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_opts.h"
#include "base/hex.h"
#include "base/log.h"
#include "base/privfile.h"
#include "commands.h"
#include "ddf_opts.h"
#include "dtls/cred.h"
#include "fw/fwupdate.h"
#include "http/api.h"
#include "io/dtls_server_io.h"
#include "io/fwrepo.h"
#include "io/loop.h"
#include "server/server.h"
#include "server/store_health.h"
#include "server_sessions.h"
#include "store/dbfile.h"
#include "store/redis_uri.h"
#include "store/sqlite.h"
#ifdef NB_HAVE_REDIS
#include "store/redis.h"
#endif

#define MAX_LISTEN 4
#define MAX_CA 8

typedef struct {
  nb_io_loop *loop;
  nb_server *srv;
  nb_io_srv *net;
  nb_dtls_creds *creds;
  nb_server_store store;   /* the backend's, through health: engine and API use this */
  nb_store_health *health; /* tracks the backend's failures (GET /api/health) */
  nb_store_sqlite *sqlite; /* the store's backend: one of these */
#ifdef NB_HAVE_REDIS
  nb_store_redis *redis;
#endif
  nb_dbfile_lock *locks[2]; /* the database's: server role (SQLite store), bootstrap role */
  nb_io_deadline *deadline;
  nb_fws *fw; /* firmware updates (docs/firmware.md) */
  nb_fws_repo *fw_repo;
  nb_io_deadline *fw_deadline;
  server_sessions sessions;
} server_app;

/* What the operator asked for on the command line. */
typedef struct {
  const char *coap[MAX_LISTEN], *coaps[MAX_LISTEN];
  size_t ncoap, ncoaps;
  const char *psk_file, *rpk_key, *cert, *key, *ca[MAX_CA];
  size_t nca;
  const char *db;
  bool db_given;
  const char *store, *store_password_file; /* --store redis://..., its password file */
  nb_addr http;
  nb_api_opts api; /* the REST API's token, names, HTTPS and bounds */
  bool with_bs;    /* the bootstrap role in this process */
  const char *bs_coap, *bs_coaps;
  bool bs_x509_default; /* --bs-x509-default-config */
  nb_bs_policy bs_policy;
  unsigned long queue_timeout; /* seconds a queue-mode client counts as awake; 0: default */
  const char *session_key_file, *session_file; /* sessions kept across a graceful restart */
  unsigned long session_max_age;               /* seconds; 0: the default */
  bool has_nudge_rate;
  unsigned long nudge_rate; /* --restart-nudge: alerts a second to restored DTLS devices */
  /* Bounds on unauthenticated registrations (engine defaults unless set). */
  bool has_max_lifetime, has_max_nosec, has_max_payload, pin_address;
  unsigned long max_lifetime, max_nosec, max_payload;
  const char *fw_dir, *fw_url; /* --firmware-dir, --firmware-url */
  uint64_t fw_max;             /* --firmware-max; 0: NB_HTTP_FIRMWARE_MAX */
  nb_ddf_opts ddf;             /* --ddf: object definitions beside the built-in ones */
  bool help;
} server_opts;

static void usage(FILE *f) {
  fprintf(f,
          "usage: niobium server [options]\n"
          "  --coap ADDR        CoAP (NoSec) listen address, repeatable for IPv4 and IPv6\n"
          "                     (default 0.0.0.0:5683 when no --coaps is given)\n"
          "  --coaps ADDR       CoAP over DTLS listen address, repeatable (port default 5684);\n"
          "                     PSK clients are looked up in the security store\n"
          "  --psk FILE         load PSK credentials into the store at start: lines of\n"
          "                     endpoint,identity,hexkey ('#' starts a comment)\n"
          "  --rpk-key FILE     the server's own P-256 private key (PEM/DER) for raw public\n"
          "                     keys; client keys must be in the store (by secure ID)\n"
          "  --cert FILE        the server's X.509 certificate chain (PEM), with --key FILE\n"
          "  --key FILE         the private key of --cert\n"
          "  --ca FILE          trust anchors client certificates must chain to, repeatable\n"
          "                     (up to 8); the client's subject CN must be in the store for\n"
          "                     its endpoint\n"
          "  --http ADDR        REST API address (default 127.0.0.1:8080)\n" NB_API_OPTS_HELP
          "  --db FILE          SQLite database (default ./niobium.db); created 0600, and\n"
          "                     refused when group or others may read it (chmod 600)\n"
          "  --store URI        keep registrations, observations, credentials, the audit\n"
          "                     log and evidence in Redis instead of --db:\n"
          "                     redis://[[USER]:PASSWORD@ | USER@]HOST[:PORT][/DB] (port\n"
          "                     6379, DB 0 by default; %%XX escapes in USER and PASSWORD;\n"
          "                     --db then holds only --with-bootstrap's state);\n"
          "                     Redis must be protected: see docs/security.md\n"
          "  --store-password-file FILE  the Redis password, read from FILE (one line,\n"
          "                     owner-only), so that it is not in the command line\n"
          "  --log-level LEVEL  error, warn, info (default) or debug\n"
          "  --ddf PATH         load OMA DDF XML object definitions (a file, or every *.xml\n"
          "                     of a directory such as the OMA registry), repeatable: their\n"
          "                     values are decoded typed, and GET /api/objectspecs and the\n"
          "                     console name their resources and units\n"
          "  --with-bootstrap   also run the bootstrap server in this process (same loop and\n"
          "                     database; fresh credentials go straight into the store;\n"
          "                     REST routes under /api/bootstrap, events on /api/events)\n"
          "  --bs-coap ADDR     its CoAP address (default 0.0.0.0:5783 without --bs-coaps)\n"
          "  --bs-coaps ADDR    its DTLS address (port default 5784); it shares the server\n"
          "                     role's credentials: --rpk-key for raw-public-key devices,\n"
          "                     --cert/--key for devices with certificates, which must chain\n"
          "                     to a --ca and either have their key's secure ID registered\n"
          "                     (`niobium bootstrap expect`) or a subject CN that is an\n"
          "                     endpoint with its own bootstrap config (see `niobium\n"
          "                     bootstrap --help`)\n"
          "  --bs-x509-default-config  such a CN may also use the default bootstrap config\n"
          "  --bs-policy P      auto (default) or approve (requests wait for\n"
          "                     POST /api/bootstrap/pending/EP/approve)\n"
          "  --queue-timeout S  a queue-mode client counts as asleep S seconds after it last\n"
          "                     spoke; requests to it wait until it wakes (default 93)\n"
          "  --session-key-file FILE  keep the established DTLS sessions across a graceful\n"
          "                     restart: at SIGTERM or SIGINT they are written to the session\n"
          "                     file encrypted under this key (32 random bytes or 64 hex\n"
          "                     digits, file mode 0600: head -c 32 /dev/urandom > FILE), and\n"
          "                     restored at the next start, so devices go on without a new\n"
          "                     handshake (AES-128-CCM-8 sessions; the others are lost).\n"
          "                     Without it nothing is written (docs/server.md)\n"
          "  --session-file FILE  where (default: the database's path + .sessions); 0600,\n"
          "                     removed once read\n"
          "  --session-max-age S  a session file older than S seconds is not restored\n"
          "                     (default 300)\n"
          "  --restart-nudge N  at start, tell the DTLS devices restored from the database that\n"
          "                     their sessions are gone, N a second (default 500): each one\n"
          "                     handshakes again and updates at once; 0: none, a device is\n"
          "                     unreachable until its next Update (docs/server.md)\n"
          "  --max-lifetime S   refuse (4.00) a Register or Update whose lifetime is above S\n"
          "                     seconds (default 2592000, 30 days; 0: no maximum)\n"
          "  --max-nosec-registrations N  hold at most N registrations of unauthenticated\n"
          "                     (NoSec) devices; a new one beyond gets 5.03 with Max-Age 60\n"
          "                     (default 1000; 0: no cap); devices on DTLS never count\n"
          "  --max-register-payload B  refuse (4.13, Size1 B) a Register or Update object\n"
          "                     list longer than B bytes (default 8192; 1024 links, 8\n"
          "                     attributes of 128 bytes a link)\n"
          "  --nosec-pin-address  refuse (4.03) a NoSec registration's Register, Update or\n"
          "                     De-register from another address than it registered from\n"
          "                     (default: allowed, with a REGISTRATION_ADDRESS_CHANGED event\n"
          "                     and an alert); see docs/security.md\n"
          "  --firmware-dir DIR  where uploaded firmware images go (0700; default: the\n"
          "                     database's path plus .firmware, e.g. niobium.db.firmware)\n"
          "  --firmware-max N   largest image upload in bytes, suffix K, M or G allowed\n"
          "                     (default 256M; 413 beyond)\n"
          "  --firmware-url URI  coap://HOST:PORT or coaps://HOST:PORT at which devices reach\n"
          "                     this server, for pull updates (their Package URI is\n"
          "                     URI/fw/ID); default: the first --coaps (else --coap) address\n"
          "                     when it is not a wildcard (0.0.0.0, [::])\n"
          "  --help             this text\n"
          "firmware: POST /api/firmware (the image as the body), /api/campaigns and\n"
          "`niobium fw` update devices through object 5; see docs/firmware.md.\n"
          "credentials: POST /api/security/clients (see docs/openapi.yaml) or --psk; a device\n"
          "authenticated with a credential may only register as the endpoint it is bound to.\n"
          "signed data: GET /api/clients/EP/PATH?format=cose (and the observe routes) asks a\n"
          "device with a raw public key or certificate for signed values (COSE_Sign1); they\n"
          "are checked with the key of its DTLS session, and the newest 1000 per device are\n"
          "kept as evidence: GET /api/clients/EP/evidence, `niobium cose verify` (docs/cose.md).\n"
          "REST API: bodies are JSON (Content-Type: application/json, else 415); a request\n"
          "from another origin (Origin, Sec-Fetch-Site) gets 403 and one for a Host that is\n"
          "not this server's 421, so web pages cannot use it; lists come in pages (?limit=,\n"
          "Link: rel=\"next\"); see docs/openapi.yaml and docs/security.md.\n"
          "console: the web console is served at http://ADDRESS/ of --http (docs/console.md).\n"
          "health: GET /api/health (no token) answers 200, or 503 while the store fails\n"
          "(disk full, I/O error; Redis unreachable or refusing writes); Registers are then\n"
          "refused 5.03 and not kept, Updates written when it recovers (docs/server.md,\n"
          "\"Storage faults\"; docs/cluster.md for Redis).\n"
          "examples:\n"
          "  niobium server --coap 0.0.0.0:5683 --coap [::]:5683 --http 127.0.0.1:8080\n"
          "  niobium server --ddf /usr/share/lwm2m-registry --ddf my-meter.xml\n"
          "  niobium server --coaps 0.0.0.0:5684 --psk devices.psk\n"
          "  niobium server --store redis://niobium@redis-1:6379/2 \\\n"
          "      --store-password-file redis.pass\n"
          "  niobium server --coaps 0.0.0.0 --rpk-key server-key.pem\n"
          "  niobium server --coaps [::]:5684 --cert server.pem --key server-key.pem --ca ca.pem\n"
          "  niobium server --with-bootstrap --bs-coap 127.0.0.1:5783 --bs-policy approve\n"
          "  niobium server --with-bootstrap --bs-coaps 0.0.0.0:5784 --coaps 0.0.0.0:5684 \\\n"
          "      --cert server.pem --key server-key.pem --ca ca.pem --ca maker-ca.pem\n"
          "  niobium server --http 0.0.0.0:8443 --api-token-file token.txt \\\n"
          "      --http-cert api.crt.pem --http-key api.key.pem --db /var/lib/nb.db\n");
}

static void app_receive(void *user, const nb_addr *peer, const nb_server_identity *id,
                        const uint8_t *data, size_t len, nb_time_ms now) {
  server_app *a = user;
  nb_server_receive(a->srv, peer, id, data, len, now);
}

static void on_tick(void *user, nb_time_ms now) {
  server_app *a = user;
  nb_server_tick(a->srv, now);
}

static nb_time_ms next_deadline(void *user, nb_time_ms now) {
  (void)now;
  server_app *a = user;
  return nb_server_next_deadline(a->srv);
}

static void on_signal(void *user, int signum) {
  server_app *a = user;
  NB_LOG_INFO("server", "event=stopping signal=%d", signum);
  nb_io_loop_stop(a->loop);
}

static nb_time_ms fw_next_deadline(void *user, nb_time_ms now) {
  (void)now;
  return nb_fws_next_deadline(((server_app *)user)->fw);
}

static void fw_tick(void *user, nb_time_ms now) { nb_fws_tick(((server_app *)user)->fw, now); }

/* --firmware-url, or the first listen address of the devices' kind when it names a host. */
static bool firmware_url(const server_opts *o, char *out, size_t cap) {
  if (o->fw_url) {
    snprintf(out, cap, "%s", o->fw_url);
    return true;
  }
  bool secure = o->ncoaps > 0;
  nb_addr a;
  char host[NB_ADDR_STRLEN];
  if (nb_addr_parse(secure ? o->coaps[0] : o->coap[0], secure ? 5684 : 5683, &a) != NB_OK)
    return false;
  static const uint8_t zero[16] = {0};
  if (memcmp(a.ip, zero, a.family == NB_ADDR_V4 ? 4 : 16) == 0) return false;
  snprintf(out, cap, "%s://%s", secure ? "coaps" : "coap", nb_addr_format(&a, host, sizeof(host)));
  return true;
}

/* The firmware service: its image directory (next to the database), the engine over the
 * server's, its timer, and what it had under way before a restart. */
static int start_firmware(server_app *a, const server_opts *o, int64_t offset) {
  char dir[4096], url[300];
  if (!a->store.ops->doc_put) { /* the Redis store keeps no firmware documents yet */
    if (!o->fw_dir) return NB_EXIT_OK;
    fprintf(stderr,
            "niobium server: --firmware-dir: the firmware service needs the SQLite "
            "store (--db), not --store, for now\n");
    return NB_EXIT_USAGE;
  }
  if (o->fw_dir)
    snprintf(dir, sizeof(dir), "%s", o->fw_dir);
  else if (strcmp(o->db, ":memory:") != 0)
    snprintf(dir, sizeof(dir), "%s.firmware", o->db);
  else
    return NB_EXIT_OK; /* a private database keeps no images: no firmware routes */
  if (nb_fws_repo_open(dir, &a->fw_repo) != NB_OK) {
    fprintf(stderr, "niobium server: cannot use firmware directory %s (--firmware-dir)\n", dir);
    return NB_EXIT_FAILURE;
  }
  nb_fws_config fc;
  nb_fws_config_default(&fc);
  fc.store = a->store;
  fc.read = nb_fws_repo_read;
  fc.read_user = a->fw_repo;
  fc.clock_offset = offset;
  fc.uri_base = firmware_url(o, url, sizeof(url)) ? url : NULL;
  if (nb_fws_new(&fc, a->srv, &a->fw) != NB_OK ||
      nb_fws_restore(a->fw, nb_io_loop_now(a->loop)) != NB_OK ||
      nb_io_deadline_new(a->loop, fw_next_deadline, fw_tick, a, &a->fw_deadline) != NB_OK) {
    fprintf(stderr, "niobium server: cannot start the firmware service\n");
    return NB_EXIT_FAILURE;
  }
  NB_LOG_INFO("server", "event=firmware dir=%s url=%s", dir, fc.uri_base ? fc.uri_base : "none");
  return NB_EXIT_OK;
}

typedef struct {
  server_app *a;
  size_t nudged;
} nudge_ctx;

static void nudge_one(void *user, const nb_server_reg_info *r) {
  nudge_ctx *c = user;
  if (r->restored_unheard && nb_io_srv_nudge(c->a->net, &r->addr) == NB_OK) c->nudged++;
}

/* The DTLS devices restored from the store lost their sessions with the old process: each is
 * told so (a fatal alert in the clear, paced) and handshakes again at once, instead of being
 * unreachable until its next Update (docs/server.md, "Restart and DTLS sessions"). */
static void nudge_restored(server_app *a, const server_opts *o) {
  if (o->has_nudge_rate && o->nudge_rate == 0) return;
  nudge_ctx c = {a, 0};
  nb_server_each(a->srv, nudge_one, &c);
  if (c.nudged) NB_LOG_INFO("server", "event=dtls_nudge devices=%zu", c.nudged);
}

static int64_t clock_offset(nb_io_loop *loop) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - nb_io_loop_now(loop);
}

/* A whole small file (keys, certificates) into a heap buffer the caller wipes and frees. */
static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 65536, n = 0;
  uint8_t *buf = malloc(cap);
  if (buf) n = fread(buf, 1, cap, f);
  bool too_big = buf && n == cap && fgetc(f) != EOF;
  fclose(f);
  if (!buf || too_big || n == 0) {
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

/* One "endpoint,identity,hexkey" line into a PSK credential. */
static bool parse_psk_line(char *line, nb_server_sec_info *out) {
  char *ep = strtok(line, ","), *id = strtok(NULL, ","), *hex = strtok(NULL, ", \t\r\n");
  if (!ep || !id || !hex || strtok(NULL, ", \t\r\n")) return false;
  if (!ep[0] || strlen(ep) >= sizeof out->ep || !id[0] || strlen(id) > NB_DTLS_PSK_IDENTITY_MAX)
    return false;
  memset(out, 0, sizeof *out);
  out->kind = NB_SERVER_ID_PSK;
  snprintf(out->ep, sizeof out->ep, "%s", ep);
  snprintf(out->identity, sizeof out->identity, "%s", id);
  return nb_hex_decode(hex, strlen(hex), NULL, out->key, NB_DTLS_PSK_KEY_MAX, &out->key_len) ==
             NB_OK &&
         out->key_len > 0;
}

/* The first line of path (before `before`) that gives identity to endpoint ep; 0 when none. */
static unsigned psk_line_of(const char *path, const char *ep, const char *identity,
                            unsigned before) {
  FILE *f = fopen(path, "r");
  char line[1024];
  unsigned lineno = 0, found = 0;
  while (f && !found && fgets(line, sizeof line, f) && ++lineno < before) {
    nb_server_sec_info sec;
    char *p = line + strspn(line, " \t");
    if (*p != '#' && parse_psk_line(p, &sec) && strcmp(sec.ep, ep) == 0 &&
        strcmp(sec.identity, identity) == 0)
      found = lineno;
    memset(&sec, 0, sizeof sec);
  }
  memset(line, 0, sizeof line);
  if (f) fclose(f);
  return found;
}

/* Why the credential of line lineno could not be stored, said on stderr: its identity is
 * another endpoint's (an earlier line, or the database), or the store failed. */
static void psk_store_error(const nb_server_store *st, const char *path, unsigned lineno,
                            const nb_server_sec_info *sec) {
  nb_server_sec_info owner;
  bool clash = st->ops->sec_find(st->self, NB_SERVER_ID_PSK, sec->identity, &owner) == NB_OK &&
               strcmp(owner.ep, sec->ep) != 0;
  memset(owner.key, 0, sizeof owner.key);
  if (!clash) {
    fprintf(stderr, "niobium server: %s line %u: the database refused the PSK of %s\n", path,
            lineno, sec->ep);
    return;
  }
  unsigned first = psk_line_of(path, owner.ep, sec->identity, lineno);
  if (first)
    fprintf(stderr,
            "niobium server: %s line %u: PSK identity \"%s\" of endpoint %s is already that of "
            "endpoint %s on line %u; each device needs its own identity\n",
            path, lineno, sec->identity, sec->ep, owner.ep, first);
  else
    fprintf(stderr,
            "niobium server: %s line %u: PSK identity \"%s\" of endpoint %s already belongs to "
            "endpoint %s in the database; give %s another identity, or drop the old one with "
            "DELETE /api/security/clients/%s\n",
            path, lineno, sec->identity, sec->ep, owner.ep, sec->ep, owner.ep);
}

static int load_psk_file(const nb_server_store *st, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "niobium server: cannot read --psk %s\n", path);
    return NB_EXIT_FAILURE;
  }
  char line[1024];
  unsigned lineno = 0, loaded = 0;
  int rc = NB_EXIT_OK;
  while (rc == NB_EXIT_OK && fgets(line, sizeof line, f)) {
    lineno++;
    char *p = line + strspn(line, " \t");
    if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0') continue;
    nb_server_sec_info sec;
    if (!parse_psk_line(p, &sec)) {
      fprintf(stderr,
              "niobium server: %s line %u: expected endpoint,identity,hexkey (key 1-64 bytes "
              "as hex)\n",
              path, lineno);
      rc = NB_EXIT_USAGE;
    } else if (st->ops->sec_put(st->self, &sec) != NB_OK) {
      psk_store_error(st, path, lineno, &sec);
      rc = NB_EXIT_FAILURE;
    } else {
      loaded++;
    }
    memset(&sec, 0, sizeof sec);
  }
  memset(line, 0, sizeof line);
  fclose(f);
  if (rc == NB_EXIT_OK) NB_LOG_INFO("server", "event=psk_loaded count=%u", loaded);
  return rc;
}

/* Our DTLS credentials: PSKs from the store always, plus our RPK and/or X.509 chain. */
static int make_creds(const server_opts *o, nb_server_store *st, nb_dtls_creds **out) {
  nb_dtls_creds *c;
  if (nb_dtls_creds_new(&c) != NB_OK) return NB_EXIT_FAILURE;
  nb_dtls_creds_set_psk_lookup(c, nb_io_srv_store_psk_lookup, st);
  nb_dtls_creds_set_verify(c, nb_io_srv_store_verify, st);
  int rc = NB_EXIT_OK;
  size_t klen = 0, clen = 0;
  uint8_t *key = NULL, *chain = NULL;
  if (o->rpk_key) {
    key = slurp(o->rpk_key, &klen);
    if (!key || nb_dtls_creds_set_rpk(c, key, klen) != NB_OK) {
      fprintf(stderr,
              "niobium server: --rpk-key %s is not a readable P-256 private key (PEM or "
              "DER; `niobium keys` makes one)\n",
              o->rpk_key);
      rc = NB_EXIT_FAILURE;
    }
    if (key) memset(key, 0, klen);
    free(key);
    key = NULL;
  }
  if (rc == NB_EXIT_OK && o->cert) {
    chain = slurp(o->cert, &clen);
    key = slurp(o->key, &klen);
    if (!chain || !key || nb_dtls_creds_set_x509(c, chain, clen, key, klen) != NB_OK) {
      fprintf(stderr,
              "niobium server: cannot use --cert %s with --key %s (PEM chain and its "
              "P-256 private key)\n",
              o->cert, o->key);
      rc = NB_EXIT_FAILURE;
    }
    if (key) memset(key, 0, klen);
  }
  for (size_t i = 0; i < o->nca && rc == NB_EXIT_OK; i++) {
    free(chain);
    chain = slurp(o->ca[i], &clen);
    if (!chain || nb_dtls_creds_add_trust(c, chain, clen) != NB_OK) {
      fprintf(stderr, "niobium server: --ca %s holds no usable certificate\n", o->ca[i]);
      rc = NB_EXIT_FAILURE;
    }
  }
  free(key);
  free(chain);
  if (rc != NB_EXIT_OK) {
    nb_dtls_creds_free(c);
    return rc;
  }
  *out = c;
  return NB_EXIT_OK;
}

/* Binds every --coap and --coaps address. */
static int listen_all(server_app *a, const server_opts *o) {
  for (size_t i = 0; i < o->ncoap + o->ncoaps; i++) {
    bool secure = i >= o->ncoap;
    const char *text = secure ? o->coaps[i - o->ncoap] : o->coap[i];
    nb_addr local, bound;
    if (nb_addr_parse(text, secure ? 5684 : 5683, &local) != NB_OK) {
      fprintf(stderr, "niobium server: bad --%s address '%s' (IP:PORT or [IPv6]:PORT)\n",
              secure ? "coaps" : "coap", text);
      return NB_EXIT_USAGE;
    }
    nb_err e = secure ? nb_io_srv_listen_coaps(a->net, &local, a->creds, &bound)
                      : nb_io_srv_listen_coap(a->net, &local, &bound);
    if (e != NB_OK) {
      fprintf(stderr, "niobium server: cannot bind %s: is another server running?\n", text);
      return NB_EXIT_FAILURE;
    }
    char buf[NB_ADDR_STRLEN];
    NB_LOG_INFO("server", "event=listening proto=%s addr=%s", secure ? "coaps" : "coap",
                nb_addr_format(&bound, buf, sizeof(buf)));
  }
  return NB_EXIT_OK;
}

/* The files of the credentials the bootstrap role shares with the server role. */
typedef struct {
  uint8_t *rpk_key, *cert, *key, *ca[MAX_CA];
  size_t rpk_key_len, cert_len, key_len, ca_len[MAX_CA], nca;
} bs_files;

static void bs_files_free(bs_files *f) {
  if (f->rpk_key) memset(f->rpk_key, 0, f->rpk_key_len);
  if (f->key) memset(f->key, 0, f->key_len);
  free(f->rpk_key);
  free(f->key);
  free(f->cert);
  for (size_t i = 0; i < f->nca; i++) free(f->ca[i]);
}

/* Reads them (make_creds checked their contents when the server role has --coaps; the
 * bootstrap host checks them again). */
static bool bs_files_load(const server_opts *o, bs_files *f) {
  bool ok = true;
  if (o->rpk_key) ok = (f->rpk_key = slurp(o->rpk_key, &f->rpk_key_len)) != NULL;
  if (ok && o->cert)
    ok = (f->cert = slurp(o->cert, &f->cert_len)) && (f->key = slurp(o->key, &f->key_len));
  for (; ok && f->nca < o->nca; f->nca++)
    ok = (f->ca[f->nca] = slurp(o->ca[f->nca], &f->ca_len[f->nca])) != NULL;
  return ok;
}

/* The bootstrap role beside the server (--with-bootstrap). */
static int start_bootstrap(server_app *a, const server_opts *o, nb_http_bs **out) {
  nb_addr coap, coaps;
  const char *coap_text = o->bs_coap ? o->bs_coap : (o->bs_coaps ? NULL : "0.0.0.0:5783");
  if ((coap_text && nb_addr_parse(coap_text, 5783, &coap) != NB_OK) ||
      (o->bs_coaps && nb_addr_parse(o->bs_coaps, 5784, &coaps) != NB_OK)) {
    fprintf(stderr, "niobium server: bad --bs-coap/--bs-coaps address (IP:PORT)\n");
    return NB_EXIT_USAGE;
  }
  nb_http_bs_config bc = {.db = o->db,
                          .dm_store = a->store,
                          .policy = o->bs_policy,
                          .coap = coap_text ? &coap : NULL,
                          .coaps = o->bs_coaps ? &coaps : NULL,
                          .server = a->srv};
  bs_files f = {0};
  if (o->bs_coaps && !bs_files_load(o, &f)) {
    bs_files_free(&f);
    fprintf(stderr, "niobium server: cannot read --rpk-key/--cert/--key/--ca for the bootstrap\n");
    return NB_EXIT_FAILURE;
  }
  bc.rpk_key = f.rpk_key;
  bc.rpk_key_len = f.rpk_key_len;
  bc.cert = f.cert;
  bc.cert_len = f.cert_len;
  bc.cert_key = f.key;
  bc.cert_key_len = f.key_len;
  bc.ca = (const uint8_t *const *)f.ca;
  bc.ca_len = f.ca_len;
  bc.nca = f.nca;
  bc.x509_default_config = o->bs_x509_default;
  nb_err e = nb_http_bs_new(a->loop, &bc, out);
  bs_files_free(&f);
  if (e != NB_OK) {
    fprintf(stderr,
            "niobium server: cannot start the bootstrap server (%s): are its ports in "
            "use?\n",
            nb_strerror(e));
    return NB_EXIT_FAILURE;
  }
  return NB_EXIT_OK;
}

/* The database, once no other server (nor, with the bootstrap role, other bootstrap server)
 * uses it: a->locks hold it for the process's life. */
static int open_sqlite(const server_opts *o, server_app *a) {
  char why[768];
  if (nb_privfile_prepare_db(o->db, why, sizeof(why)) != NB_OK ||
      nb_dbfile_lock_take(o->db, NB_DB_ROLE_SERVER, &a->locks[0], why, sizeof(why)) != NB_OK ||
      (o->with_bs &&
       nb_dbfile_lock_take(o->db, NB_DB_ROLE_BOOTSTRAP, &a->locks[1], why, sizeof(why)) != NB_OK)) {
    fprintf(stderr, "niobium server: %s\n", why); /* it holds keys: 0600 or nothing */
    return NB_EXIT_FAILURE;
  }
  if (nb_store_sqlite_open(o->db, &a->sqlite) != NB_OK) {
    nb_dbfile_explain(o->db, why, sizeof(why));
    fprintf(stderr, "niobium server: %s\n", why);
    return NB_EXIT_FAILURE;
  }
  a->store = nb_store_sqlite_iface(a->sqlite);
  return NB_EXIT_OK;
}

/* --store with --with-bootstrap: the bootstrap role keeps its state in --db still, and one
 * bootstrap server at a time uses a database. */
static int lock_bootstrap_db(const server_opts *o, server_app *a) {
  char why[768];
  if (nb_privfile_prepare_db(o->db, why, sizeof(why)) != NB_OK ||
      nb_dbfile_lock_take(o->db, NB_DB_ROLE_BOOTSTRAP, &a->locks[1], why, sizeof(why)) != NB_OK) {
    fprintf(stderr, "niobium server: %s\n", why);
    return NB_EXIT_FAILURE;
  }
  return NB_EXIT_OK;
}

#ifdef NB_HAVE_REDIS
static void secret_free(char *s) {
  volatile char *p = s;
  while (*p) *p++ = '\0';
  free(s);
}
#endif

/* --store redis://...: the address (checked when parsing the options), its password from
 * --store-password-file when given. */
static int open_redis(const server_opts *o, server_app *a) {
#ifdef NB_HAVE_REDIS
  nb_redis_uri u;
  char why[300];
  if (nb_redis_uri_parse(o->store, &u, why, sizeof(why)) != NB_OK) return NB_EXIT_FAILURE;
  if (o->store_password_file) {
    char *pw = nb_secret_file_read(o->store_password_file, why, sizeof(why));
    if (!pw || !pw[0] || strlen(pw) >= sizeof(u.password)) {
      fprintf(stderr, "niobium server: --store-password-file: %s\n",
              pw ? "the password is empty or too long" : why);
      if (pw) secret_free(pw);
      nb_redis_uri_wipe(&u);
      return NB_EXIT_FAILURE;
    }
    snprintf(u.password, sizeof(u.password), "%s", pw);
    secret_free(pw);
  }
  if (u.user[0] && !u.password[0]) {
    fprintf(stderr,
            "niobium server: --store names a user: give its password in the address or "
            "with --store-password-file\n");
    return NB_EXIT_FAILURE;
  }
  nb_err rc = nb_store_redis_open(&u, &a->redis);
  char shown[NB_REDIS_HOST_MAX + 64];
  if (rc != NB_OK && nb_redis_uri_format(&u, false, shown, sizeof(shown)) == NB_OK)
    fprintf(stderr,
            "niobium server: cannot use Redis at %s (see the log above): is it running, and "
            "are the address and password right?\n",
            shown);
  nb_redis_uri_wipe(&u);
  if (rc != NB_OK) return NB_EXIT_FAILURE;
  a->store = nb_store_redis_iface(a->redis);
  return NB_EXIT_OK;
#else
  (void)a;
  fprintf(stderr,
          "niobium server: --store %.8s...: this build has no Redis backend (built with "
          "NB_WITH_REDIS=OFF or without libhiredis-dev; scripts/install-deps, then build "
          "again)\n",
          o->store);
  return NB_EXIT_FAILURE;
#endif
}

static void close_store(server_app *a) {
  nb_store_health_free(a->health);
  nb_store_sqlite_close(a->sqlite);
#ifdef NB_HAVE_REDIS
  nb_store_redis_close(a->redis);
#endif
  nb_dbfile_lock_release(a->locks[0]);
  nb_dbfile_lock_release(a->locks[1]);
}

/* The built-in definitions and those of --ddf (NULL without --ddf: the engine's own). */
static int load_model(const server_opts *o, nb_model **out) {
  *out = NULL;
  if (!o->ddf.n) return NB_EXIT_OK;
  nb_model *m = nb_model_new();
  size_t objects = 0;
  int rc = m ? nb_ddf_opts_load(&o->ddf, "niobium server", m, &objects) : NB_EXIT_FAILURE;
  if (rc != NB_EXIT_OK) {
    nb_model_free(m);
    return rc;
  }
  NB_LOG_INFO("server", "event=ddf_loaded objects=%zu total=%zu", objects, nb_model_count(m));
  *out = m;
  return NB_EXIT_OK;
}

static int run(const server_opts *o) {
  int rc = NB_EXIT_FAILURE;
  server_app a;
  memset(&a, 0, sizeof(a));
  nb_model *model = NULL;
  nb_http_api *api = NULL;
  nb_http_bs *bs = NULL;
  if ((rc = o->store ? open_redis(o, &a) : open_sqlite(o, &a)) != NB_EXIT_OK) goto out;
  if (o->store && o->with_bs && (rc = lock_bootstrap_db(o, &a)) != NB_EXIT_OK) goto out;
  if (nb_store_health_new(a.store, NULL, NULL, &a.health) != NB_OK) {
    rc = NB_EXIT_FAILURE;
    goto out;
  }
  a.store = nb_store_health_store(a.health);
  if (o->psk_file && (rc = load_psk_file(&a.store, o->psk_file)) != NB_EXIT_OK) goto out;
  if ((rc = load_model(o, &model)) != NB_EXIT_OK) goto out;
  if (o->ncoaps && (rc = make_creds(o, &a.store, &a.creds)) != NB_EXIT_OK) goto out;
  rc = NB_EXIT_FAILURE;
  if (nb_io_loop_new(&a.loop) != NB_OK) goto out;
  nb_server_config cfg;
  nb_server_config_default(&cfg);
  cfg.store = a.store;
  cfg.model = model;
  cfg.clock_offset = clock_offset(a.loop);
  /* Request IDs (GET /api/requests/{id}) from the clock: those of an earlier run are never
   * given again (1024 a millisecond of uptime, below 2^53 for JSON readers until 2249). */
  cfg.first_request_id = (uint64_t)(nb_io_loop_now(a.loop) + cfg.clock_offset) << 10;
  if (o->queue_timeout) cfg.awake_time = (nb_time_ms)o->queue_timeout * 1000;
  if (o->has_max_lifetime) cfg.max_lifetime = (uint32_t)o->max_lifetime;
  if (o->has_max_nosec) cfg.max_nosec = o->max_nosec;
  if (o->has_max_payload) cfg.reg_limits.payload = o->max_payload;
  cfg.nosec_pin_address = o->pin_address;
  if (!server_sessions_init(&a.sessions, o->session_key_file, o->session_file, o->db,
                            o->session_max_age ? o->session_max_age : 300, cfg.clock_offset,
                            &a.store)) {
    rc = NB_EXIT_USAGE;
    goto out;
  }
  if (nb_io_srv_new(a.loop, app_receive, &a, &a.net) != NB_OK) goto out;
  if (nb_server_new(&cfg, nb_io_srv_send, a.net, &a.srv) != NB_OK) goto out;
  size_t restored = 0;
  nb_server_restore(a.srv, nb_io_loop_now(a.loop), &restored);
  if ((rc = start_firmware(&a, o, cfg.clock_offset)) != NB_EXIT_OK) goto out;
  if (o->nudge_rate) nb_io_srv_set_nudge_rate(a.net, (unsigned)o->nudge_rate);
  if ((rc = listen_all(&a, o)) != NB_EXIT_OK) goto out;
  server_sessions_restore(&a.sessions, a.net, a.srv, nb_io_loop_now(a.loop));
  nudge_restored(&a, o);
  if (o->with_bs && (rc = start_bootstrap(&a, o, &bs)) != NB_EXIT_OK) goto out;
  rc = NB_EXIT_FAILURE;
  nb_http_api_config hc = {.listen = o->http,
                           .store = cfg.store,
                           .health = a.health,
                           .clock_offset = cfg.clock_offset,
                           .bootstrap = bs,
                           .fw = a.fw,
                           .fw_repo = a.fw_repo,
                           .firmware_max = o->fw_max};
  nb_api_opts_apply(&o->api, &hc);
  if (nb_http_api_new(a.loop, a.srv, &hc, &api) != NB_OK) {
    fprintf(stderr, "niobium server: cannot start the HTTP API: is the port in use?\n");
    goto out;
  }
  if (nb_io_deadline_new(a.loop, next_deadline, on_tick, &a, &a.deadline) != NB_OK) goto out;
  nb_io_loop_on_signals(a.loop, on_signal, &a);
  NB_LOG_INFO("server", "event=listening proto=http port=%u restored=%zu", nb_http_api_port(api),
              restored);
  rc = nb_io_loop_run(a.loop) == NB_OK ? NB_EXIT_OK : NB_EXIT_FAILURE;
  server_sessions_save(&a.sessions, a.net, nb_io_loop_now(a.loop));
out:
  server_sessions_forget(&a.sessions);
  nb_http_api_free(api);
  nb_http_bs_free(bs);
  nb_io_deadline_close(a.deadline);
  nb_io_deadline_close(a.fw_deadline);
  nb_io_srv_free(a.net);
  /* The API finishes closing (and leaves the server's listeners) inside nb_io_loop_free. */
  if (a.loop) nb_io_loop_free(a.loop);
  nb_fws_free(a.fw);
  nb_fws_repo_close(a.fw_repo);
  nb_server_free(a.srv);
  nb_dtls_creds_free(a.creds);
  nb_model_free(model);
  close_store(&a);
  return rc;
}

static int add_listen(const char **list, size_t *n, const char *addr, const char *opt) {
  if (*n == MAX_LISTEN) {
    fprintf(stderr, "niobium server: at most %d %s addresses\n", MAX_LISTEN, opt);
    return NB_EXIT_USAGE;
  }
  list[(*n)++] = addr;
  return NB_EXIT_OK;
}

/* Cross-option rules, after parsing. */
static int check_opts(server_opts *o, const char *http) {
  if (o->ncoap == 0 && o->ncoaps == 0) o->coap[o->ncoap++] = "0.0.0.0:5683";
  if (nb_addr_parse(http, 8080, &o->http) != NB_OK) {
    fprintf(stderr, "niobium server: bad --http address '%s' (IP:PORT)\n", http);
    return NB_EXIT_USAGE;
  }
  int rc = nb_api_opts_finish(&o->api, &o->http);
  if (rc != NB_EXIT_OK) return rc;
  if (!o->cert != !o->key) {
    fprintf(stderr, "niobium server: --cert and --key go together\n");
    return NB_EXIT_USAGE;
  }
  if ((o->bs_coap || o->bs_coaps) && !o->with_bs) {
    fprintf(stderr, "niobium server: --bs-coap/--bs-coaps need --with-bootstrap\n");
    return NB_EXIT_USAGE;
  }
  if (o->bs_x509_default && !(o->bs_coaps && o->nca)) {
    fprintf(stderr, "niobium server: --bs-x509-default-config needs --bs-coaps and --ca\n");
    return NB_EXIT_USAGE;
  }
  if (o->store) {
    nb_redis_uri u;
    char why[300];
    nb_err e = nb_redis_uri_parse(o->store, &u, why, sizeof(why));
    nb_redis_uri_wipe(&u);
    if (e != NB_OK) {
      fprintf(stderr, "niobium server: bad --store address: %s\n", why);
      return NB_EXIT_USAGE;
    }
    if (o->db_given && !o->with_bs) {
      fprintf(stderr,
              "niobium server: --db and --store: with --store the server keeps its "
              "records in Redis; --db is only for --with-bootstrap\n");
      return NB_EXIT_USAGE;
    }
  } else if (o->store_password_file) {
    fprintf(stderr, "niobium server: --store-password-file needs --store redis://...\n");
    return NB_EXIT_USAGE;
  }
  if ((o->rpk_key || o->cert || o->nca) && o->ncoaps == 0 && !o->bs_coaps) {
    fprintf(stderr, "niobium server: --rpk-key/--cert/--ca need a --coaps address\n");
    return NB_EXIT_USAGE;
  }
  return NB_EXIT_OK;
}

/* --max-lifetime, --max-nosec-registrations, --max-register-payload: a decimal number in
 * range. */
static int parse_bound(int opt, const char *text, server_opts *o) {
  static const struct {
    int opt;
    const char *name;
    unsigned long min, max;
  } bounds[] = {{'L', "--max-lifetime", 0, UINT32_MAX},
                {'N', "--max-nosec-registrations", 0, 100000000},
                {'Y', "--max-register-payload", 64, 1048576}};
  size_t i = 0;
  while (bounds[i].opt != opt) i++;
  char *end;
  errno = 0;
  unsigned long v = strtoul(text, &end, 10);
  if (*text < '0' || *text > '9' || *end || errno || v < bounds[i].min || v > bounds[i].max) {
    fprintf(stderr, "niobium server: %s takes a number from %lu to %lu\n", bounds[i].name,
            bounds[i].min, bounds[i].max);
    return NB_EXIT_USAGE;
  }
  if (opt == 'L') o->max_lifetime = v, o->has_max_lifetime = true;
  if (opt == 'N') o->max_nosec = v, o->has_max_nosec = true;
  if (opt == 'Y') o->max_payload = v, o->has_max_payload = true;
  return NB_EXIT_OK;
}

/* "N", "NK", "NM" or "NG" bytes, 1K to 64G. */
static bool parse_size(const char *text, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  unsigned shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
  if (shift) end++;
  if (*text < '0' || *text > '9' || *end || errno || v > (64ull << 30) >> shift) return false;
  *out = (uint64_t)v << shift;
  return *out >= 1024;
}

/* The command line into o (o->help: --help was given and printed). */
static int parse_args(int argc, char **argv, server_opts *o, const char **http) {
  static const struct option opts[] = {{"coap", required_argument, NULL, 'c'},
                                       {"coaps", required_argument, NULL, 's'},
                                       {"psk", required_argument, NULL, 'P'},
                                       {"rpk-key", required_argument, NULL, 'R'},
                                       {"cert", required_argument, NULL, 'C'},
                                       {"key", required_argument, NULL, 'K'},
                                       {"ca", required_argument, NULL, 'A'},
                                       {"http", required_argument, NULL, 'H'},
                                       {"db", required_argument, NULL, 'd'},
                                       {"store", required_argument, NULL, 'O'},
                                       {"store-password-file", required_argument, NULL, 'Z'},
                                       {"log-level", required_argument, NULL, 'l'},
                                       {"with-bootstrap", no_argument, NULL, 'B'},
                                       {"bs-coap", required_argument, NULL, 'b'},
                                       {"bs-coaps", required_argument, NULL, 'S'},
                                       {"bs-policy", required_argument, NULL, 'p'},
                                       {"bs-x509-default-config", no_argument, NULL, 'X'},
                                       {"queue-timeout", required_argument, NULL, 'Q'},
                                       {"restart-nudge", required_argument, NULL, 'u'},
                                       {"session-key-file", required_argument, NULL, 'k'},
                                       {"session-file", required_argument, NULL, 'F'},
                                       {"session-max-age", required_argument, NULL, 'G'},
                                       {"max-lifetime", required_argument, NULL, 'L'},
                                       {"max-nosec-registrations", required_argument, NULL, 'N'},
                                       {"max-register-payload", required_argument, NULL, 'Y'},
                                       {"nosec-pin-address", no_argument, NULL, 'I'},
                                       {"firmware-dir", required_argument, NULL, 'W'},
                                       {"firmware-max", required_argument, NULL, 'M'},
                                       {"firmware-url", required_argument, NULL, 'U'},
                                       {"ddf", required_argument, NULL, 'D'},
                                       {"help", no_argument, NULL, 'h'},
                                       NB_API_LONG_OPTS,
                                       {NULL, 0, NULL, 0}};
  int c, rc;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'c':
        if ((rc = add_listen(o->coap, &o->ncoap, optarg, "--coap")) != NB_EXIT_OK) return rc;
        break;
      case 's':
        if ((rc = add_listen(o->coaps, &o->ncoaps, optarg, "--coaps")) != NB_EXIT_OK) return rc;
        break;
      case 'P':
        o->psk_file = optarg;
        break;
      case 'R':
        o->rpk_key = optarg;
        break;
      case 'C':
        o->cert = optarg;
        break;
      case 'K':
        o->key = optarg;
        break;
      case 'A':
        if (o->nca == MAX_CA) {
          fprintf(stderr, "niobium server: at most %d --ca files\n", MAX_CA);
          return NB_EXIT_USAGE;
        }
        o->ca[o->nca++] = optarg;
        break;
      case 'X':
        o->bs_x509_default = true;
        break;
      case 'H':
        *http = optarg;
        break;
      case 'd':
        o->db = optarg;
        o->db_given = true;
        break;
      case 'O':
        o->store = optarg;
        break;
      case 'Z':
        o->store_password_file = optarg;
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
      case 'B':
        o->with_bs = true;
        break;
      case 'b':
        o->bs_coap = optarg;
        break;
      case 'S':
        o->bs_coaps = optarg;
        break;
      case 'p':
        if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "approve") != 0) {
          fprintf(stderr, "niobium server: --bs-policy must be auto or approve\n");
          return NB_EXIT_USAGE;
        }
        o->bs_policy = optarg[1] == 'u' ? NB_BS_POLICY_AUTO : NB_BS_POLICY_APPROVE;
        break;
      case 'Q': {
        char *end;
        o->queue_timeout = strtoul(optarg, &end, 10);
        if (*optarg < '1' || *optarg > '9' || *end || o->queue_timeout > 86400) {
          fprintf(stderr, "niobium server: --queue-timeout takes 1 to 86400 seconds\n");
          return NB_EXIT_USAGE;
        }
        break;
      }
      case 'u': {
        char *end;
        o->nudge_rate = strtoul(optarg, &end, 10);
        o->has_nudge_rate = true;
        if (*optarg < '0' || *optarg > '9' || *end || o->nudge_rate > 100000) {
          fprintf(stderr, "niobium server: --restart-nudge takes 0 to 100000 a second\n");
          return NB_EXIT_USAGE;
        }
        break;
      }
      case 'k':
        o->session_key_file = optarg;
        break;
      case 'F':
        o->session_file = optarg;
        break;
      case 'G': {
        char *end;
        o->session_max_age = strtoul(optarg, &end, 10);
        if (*optarg < '1' || *optarg > '9' || *end || o->session_max_age > 86400) {
          fprintf(stderr, "niobium server: --session-max-age takes 1 to 86400 seconds\n");
          return NB_EXIT_USAGE;
        }
        break;
      }
      case 'L':
      case 'N':
      case 'Y':
        if ((rc = parse_bound(c, optarg, o)) != NB_EXIT_OK) return rc;
        break;
      case 'I':
        o->pin_address = true;
        break;
      case 'W':
        o->fw_dir = optarg;
        break;
      case 'M':
        if (!parse_size(optarg, &o->fw_max)) {
          fprintf(stderr, "niobium server: --firmware-max takes bytes (1K to 64G), e.g. 512M\n");
          return NB_EXIT_USAGE;
        }
        break;
      case 'U':
        if ((strncmp(optarg, "coap://", 7) != 0 && strncmp(optarg, "coaps://", 8) != 0) ||
            strlen(optarg) > 200 || optarg[strlen(optarg) - 1] == '/') {
          fprintf(stderr,
                  "niobium server: --firmware-url is coap://HOST:PORT or "
                  "coaps://HOST:PORT (no path)\n");
          return NB_EXIT_USAGE;
        }
        o->fw_url = optarg;
        break;
      case 'D':
        if ((rc = nb_ddf_opts_add(&o->ddf, "niobium server", optarg)) != NB_EXIT_OK) return rc;
        break;
      case 'h':
        usage(stdout);
        o->help = true;
        return NB_EXIT_OK;
      default:
        if ((rc = nb_api_opts_parse(&o->api, c, optarg)) == -1) {
          usage(stderr);
          return NB_EXIT_USAGE;
        }
        if (rc != NB_EXIT_OK) return rc;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "niobium server: unexpected argument '%s'\n", argv[optind]);
    return NB_EXIT_USAGE;
  }
  return NB_EXIT_OK;
}

int nb_cmd_server(int argc, char **argv) {
  server_opts o;
  memset(&o, 0, sizeof o);
  nb_api_opts_init(&o.api, "niobium server");
  o.db = "niobium.db";
  const char *http = "127.0.0.1:8080";
  int rc = parse_args(argc, argv, &o, &http);
  if (rc == NB_EXIT_OK && !o.help) rc = check_opts(&o, http);
  if (rc == NB_EXIT_OK && !o.help) rc = run(&o);
  nb_api_opts_free(&o.api);
  return rc;
}
