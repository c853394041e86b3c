/* `niobium bootstrap`: the LwM2M bootstrap server (CoAP and DTLS: PSK, RPK by secure ID, X.509
 * certificates chained to --ca and bound by secure ID or CN) over the
 * SQLite store it shares with `niobium server`, and its operator commands: config
 * add|list|rm|import|export, pending, approve, reject, expect. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_opts.h"
#include "base/log.h"
#include "base/privfile.h"
#include "bootstrap/bootstrap.h"
#include "bootstrap/config_store.h"
#include "bootstrap_ops.h"
#include "commands.h"
#include "dtls/cred.h"
#include "dtls/keys.h"
#include "http/api.h"
#include "http/bs_host.h"
#include "http/remote_store.h"
#include "io/http_client.h"
#include "io/loop.h"
#include "server/store_health.h"
#include "store/dbfile.h"
#include "store/sqlite.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: niobium bootstrap [run options]          run the bootstrap server\n"
          "       niobium bootstrap config add (--endpoint EP | --default) --server-uri URI\n"
          "                 --security nosec|psk|rpk|x509 [--short-server-id N] [--lifetime S]\n"
          "                 [--binding U|UQ] [--server-public-key FILE.der]\n"
          "                 [--ca-cert FILE --ca-key FILE --server-cert FILE.der]  (x509)\n"
          "                 [--bs-fresh-key] [--bs-account-timeout S]\n"
          "       niobium bootstrap config list [--json] | rm (--endpoint EP | --default)\n"
          "       niobium bootstrap config export [FILE] | import FILE\n"
          "       niobium bootstrap pending [--json] | approve EP | reject EP\n"
          "       niobium bootstrap expect --endpoint EP --secure-id ID\n"
          "       niobium bootstrap expect --endpoint EP --psk-identity ID --psk-key-file FILE\n"
          "       niobium bootstrap expect list [--json] | rm --endpoint EP\n"
          "       niobium bootstrap evidence EP [--out FILE]\n"
          "expect registers the key a device must show the bootstrap server before its first\n"
          "bootstrap: its raw public key's secure ID (30 hex digits, or the text of its QR\n"
          "code, nb:sid:...), or its factory PSK: the identity and the key (hex) read from\n"
          "FILE, which only its owner may read, or from stdin with --psk-key-file - (a key is\n"
          "never taken from the command line). The device may then ask only as EP. A PSK\n"
          "identity or secure ID belongs to one endpoint (another gets an error). expect\n"
          "list shows identities and secure IDs, never a key (also the fresh bootstrap-\n"
          "account keys of --bs-fresh-key, and one still pending the device's\n"
          "acknowledgement); expect rm forgets EP's keys (its handshakes fail from then).\n"
          "config list, pending and expect list print the same table with --db and --api;\n"
          "--json prints the API's JSON instead (with --db too).\n"
          "pending lists the requests waiting for a decision, also those a crash or restart\n"
          "of the server dropped (`request gone`: the device asks again, and an approval given\n"
          "meanwhile lets that next request through at once); approve/reject of an endpoint\n"
          "that is not pending fails (exit 1). With --db the decision is recorded and a\n"
          "running server applies it within a second (or the next one, at its start).\n"
          "every form takes --db FILE (default ./niobium.db, shared with `niobium server`;\n"
          "config list|export, pending, expect list and evidence only read it and never\n"
          "create it: a missing file is an error),\n"
          "or --api URL [--api-token T | --api-token-file F] [--api-ca FILE] to go through a\n"
          "running server's REST API instead (`niobium bootstrap --http` or `niobium server\n"
          "--with-bootstrap`; --api-ca: the trust anchors (PEM) of an https:// API; config\n"
          "export needs --db: the API never hands out the secrets an export holds); the\n"
          "database is created 0600 and refused when group or others may read it, and\n"
          "export FILE and --out FILE are written 0600\n"
          "run options:\n"
          "  --coap ADDR        CoAP (NoSec) listen address (default 0.0.0.0:5783 when no\n"
          "                     --coaps is given)\n"
          "  --coaps ADDR       CoAP over DTLS listen address (port default 5784): devices\n"
          "                     with a PSK or a raw public key registered with `expect`\n"
          "                     (or given at an earlier bootstrap); other keys fail the\n"
          "                     handshake\n"
          "  --rpk-key FILE     the bootstrap server's own P-256 private key (PEM/DER), needed\n"
          "                     for raw-public-key devices\n"
          "  --cert FILE        the bootstrap server's own X.509 certificate chain (PEM),\n"
          "                     with --key FILE (its P-256 private key), for devices with\n"
          "                     certificates; may be given beside --rpk-key\n"
          "  --ca FILE          trust anchors device certificates must chain to (e.g. the\n"
          "                     manufacturer's CA), repeatable (up to 8); a device whose\n"
          "                     certificate chains is still refused (BOOTSTRAP_ALERT) unless\n"
          "                     its key's secure ID was registered with `expect` (it may then\n"
          "                     ask only as that endpoint), or its subject CN is an endpoint\n"
          "                     with its own config and no registered secure ID (it must ask\n"
          "                     as its CN); another endpoint name gets 4.03\n"
          "  --x509-default-config  also let a certificate whose CN has no config of its own\n"
          "                     bootstrap with the default config (as its CN)\n"
          "  --policy P         auto (default): bootstrap every known endpoint;\n"
          "                     approve: requests wait for `niobium bootstrap approve EP`\n"
          "  --max-sessions N   bootstraps running at once (default 10000); NoSec requests\n"
          "                     only the default config matches get 5.03 beyond it\n"
          "  --max-pending N    such requests waiting for approval (default 1000); beyond\n"
          "                     it the oldest is dropped (5.03, BOOTSTRAP_EVICTED); devices\n"
          "                     with their own config or a registered key never are\n"
          "  --http ADDR        serve the REST API (/api/bootstrap: configs, pending,\n"
          "                     approve/reject, expected keys) and the event stream\n"
          "                     (/api/events: BOOTSTRAP_* events) on ADDR (e.g. 127.0.0.1:8081)\n"
          "  options of that API (the token is also sent to --server-api unless\n"
          "  --server-api-token is given):\n" NB_API_OPTS_HELP
          "  --server-api URL   the management server runs apart: install each device's fresh\n"
          "                     credential through its REST API (URL/api/security/clients)\n"
          "                     before Finish; when that fails, the bootstrap fails\n"
          "  --server-api-token TOKEN  that server's --api-token\n"
          "  --server-api-token-file FILE  the same, read from FILE (owner-only, one line)\n"
          "  --api-ca FILE      trust anchors (PEM) of an https:// --server-api or --api\n"
          "  (the API takes JSON bodies only, refuses requests from other origins and other\n"
          "  Host names, and pages its lists: docs/openapi.yaml)\n"
          "  --log-level LEVEL  error, warn, info (default) or debug\n"
          "signed bootstrap: a device asking with pct=18 over DTLS with its raw public key\n"
          "or certificate gets every Bootstrap-Write signed (COSE_Sign1, ES256) with the key\n"
          "of the credential it saw (--rpk-key, or --key when it authenticated with a\n"
          "certificate; with only one of them, that one) and must answer a signed receipt\n"
          "(Bootstrap-Read /1) before Finish; the signed writes and the receipt are kept as\n"
          "evidence (docs/cose.md). A key (PSK, private key) is never signed nor kept: a\n"
          "write signs a salted digest of it and carries the key beside the signature, and\n"
          "the kept copy is without it (rows of older versions that held one are deleted\n"
          "when the database is opened, and counted in the log):\n"
          "  evidence EP        prints them as JSON (kind, seq, path, cti, signer, at in Unix\n"
          "                     ms, cose in base64), newest bootstrap first; --out FILE\n"
          "                     writes the same JSON to FILE\n"
          "PSK and RPK credentials are generated afresh at every bootstrap and installed in\n"
          "the server's security store of the same database; x509 accounts get a fresh key\n"
          "and a certificate (subject CN = endpoint) signed by the config's CA.\n"
          "config options for the device's own bootstrap account (found by Discover):\n"
          "  --bs-fresh-key          write a fresh key of the same kind (PSK or RPK) into it\n"
          "                          at every bootstrap; only that key opens this server then,\n"
          "                          so a leaked factory key stops working\n"
          "  --bs-account-timeout S  the device deletes its bootstrap account S seconds after\n"
          "                          the bootstrap (Security resource 12)\n"
          "examples:\n"
          "  niobium bootstrap config add --default --server-uri coap://127.0.0.1:5683 "
          "--security nosec\n"
          "  niobium bootstrap config add --endpoint dev1 --server-uri coaps://10.0.0.2:5684 "
          "--security psk\n"
          "  niobium bootstrap config add --endpoint dev2 --server-uri coaps://10.0.0.2:5684 "
          "--security x509 --ca-cert ca.pem --ca-key ca.key.pem --server-cert server.der\n"
          "  niobium bootstrap config add --endpoint dev3 --server-uri coaps://10.0.0.2:5684 "
          "--security psk --bs-fresh-key --bs-account-timeout 3600\n"
          "  niobium bootstrap expect --endpoint dev1 --secure-id "
          "0123456789abcdef0123456789abcd\n"
          "  niobium bootstrap expect --endpoint meter7 --psk-identity meter7-factory "
          "--psk-key-file meter7.psk\n"
          "  niobium bootstrap expect list\n"
          "  niobium bootstrap --coap 127.0.0.1:5783 --policy approve &\n"
          "  niobium bootstrap --coaps 0.0.0.0:5784 --rpk-key bs.key.pem &\n"
          "  niobium bootstrap --coaps 0.0.0.0:5784 --cert bs.crt --key bs.key "
          "--ca maker-ca.crt &\n"
          "  niobium bootstrap pending; niobium bootstrap approve dev1\n"
          "  niobium bootstrap evidence dev1 --out dev1-evidence.json\n"
          "  niobium bootstrap --policy approve --http 127.0.0.1:8081 &\n"
          "  curl -X POST http://127.0.0.1:8081/api/bootstrap/pending/dev1/approve\n");
}

/* ---- the server ---- */

typedef struct {
  nb_io_loop *loop;
} bs_app;

static void on_signal(void *user, int signum) {
  bs_app *a = user;
  NB_LOG_INFO("bootstrap", "event=stopping signal=%d", signum);
  nb_io_loop_stop(a->loop);
}

#define read_file nb_bs_read_file

/* The bootstrap server's own P-256 key (for RPK devices), checked before anything listens. */
static int load_rpk_key(const char *path, uint8_t *key, size_t cap, size_t *len) {
  nb_dtls_creds *creds = NULL;
  bool ok = read_file(path, key, cap, len) == 0 && *len > 0 && nb_dtls_creds_new(&creds) == NB_OK &&
            nb_dtls_creds_set_rpk(creds, key, *len) == NB_OK;
  nb_dtls_creds_free(creds);
  if (ok) return NB_EXIT_OK;
  return BS_ERR(
      "--rpk-key %s is not a readable P-256 private key (PEM or DER; `niobium keys "
      "ec` makes one)\n",
      path);
}

static int64_t clock_offset(nb_io_loop *loop) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - nb_io_loop_now(loop);
}

#define MAX_CA NB_BS_MAX_CA

typedef struct {
  const char *db, *coap, *coaps, *rpk_key, *http, *server_api, *server_token, *api_ca;
  const char *cert, *key, *ca[MAX_CA];
  size_t nca;
  nb_api_opts *api; /* the REST API's token, names, HTTPS and bounds (--http) */
  bool x509_default_config;
  nb_bs_policy policy;
  size_t max_sessions, max_pending;
} run_opts;

/* The bootstrap server's certificate, its key and the trust anchors, read and checked before
 * anything listens (heap: a CA bundle may be large). */
typedef struct {
  uint8_t *cert, *key, *ca[MAX_CA];
  size_t cert_len, key_len, ca_len[MAX_CA], nca;
} x509_files;

static uint8_t *load_whole(const char *path, size_t *len) {
  uint8_t *buf = malloc(65536);
  if (buf && (read_file(path, buf, 65536, len) != 0 || *len == 0)) {
    free(buf);
    buf = NULL;
  }
  return buf;
}

static void x509_files_free(x509_files *x) {
  if (x->key) memset(x->key, 0, x->key_len);
  free(x->key);
  free(x->cert);
  for (size_t i = 0; i < x->nca; i++) free(x->ca[i]);
  memset(x, 0, sizeof *x);
}

static int load_x509(const run_opts *o, x509_files *x) {
  nb_dtls_creds *creds = NULL;
  if (nb_dtls_creds_new(&creds) != NB_OK) return BS_ERR("out of memory\n");
  int rc = NB_EXIT_OK;
  if (o->cert) {
    x->cert = load_whole(o->cert, &x->cert_len);
    x->key = load_whole(o->key, &x->key_len);
    if (!x->cert || !x->key ||
        nb_dtls_creds_set_x509(creds, x->cert, x->cert_len, x->key, x->key_len) != NB_OK)
      rc = BS_ERR(
          "cannot use --cert %s with --key %s (a PEM chain and its P-256 private key; "
          "`niobium keys cert` makes them)\n",
          o->cert, o->key);
  }
  for (size_t i = 0; i < o->nca && rc == NB_EXIT_OK; i++, x->nca++) {
    x->ca[i] = load_whole(o->ca[i], &x->ca_len[i]);
    if (!x->ca[i] || nb_dtls_creds_add_trust(creds, x->ca[i], x->ca_len[i]) != NB_OK)
      rc = BS_ERR("--ca %s holds no usable certificate (PEM or DER)\n", o->ca[i]);
  }
  nb_dtls_creds_free(creds);
  return rc;
}

/* An open that failed: what is wrong with the file, in words (exit 1). */
static int db_error(const char *db) {
  char why[768];
  nb_dbfile_explain(db, why, sizeof why);
  return BS_ERR("%s\n", why);
}

/* Says at start what would make every install fail later: a token the server refuses, or a
 * server that cannot be reached (it may start later: not fatal either way). */
static void probe_server_api(const run_opts *o, const nb_http_remote_store *rs) {
  char why[256] = "";
  nb_err e = nb_http_remote_store_probe(rs, 3000, why, sizeof why);
  if (e == NB_ERR_DENIED)
    fprintf(stderr,
            "niobium bootstrap: error: the server API at %s refused the token (HTTP 401): give "
            "--server-api-token (or --server-api-token-file) the server's --api-token; until "
            "then every bootstrap fails before Finish (BOOTSTRAP_FAILED err=NB_ERR_DENIED)\n",
            o->server_api);
  else if (e != NB_OK)
    fprintf(stderr,
            "niobium bootstrap: warning: the server API at %s does not answer now (%s); "
            "bootstraps fail before Finish until it does\n",
            o->server_api, why[0] ? why : nb_strerror(e));
}

/* Where fresh credentials go: the server's store in the same database, or a server that runs
 * apart through its REST API (--server-api; the bootstrap host installs through it
 * asynchronously, and *out stays empty). */
static int open_dm_store(const run_opts *o, nb_store_sqlite **db, nb_http_remote_store **rs,
                         nb_server_store *out) {
  *out = (nb_server_store){0};
  if (o->server_api) {
    if (nb_http_remote_store_new(o->server_api, o->server_token, o->api_ca, 0, rs) != NB_OK)
      return BS_USAGE("--server-api must be the server's API base URL (http://HOST:PORT)\n");
    probe_server_api(o, *rs);
    return NB_EXIT_OK;
  }
  if (nb_store_sqlite_open(o->db, db) != NB_OK) return db_error(o->db);
  *out = nb_store_sqlite_iface(*db);
  return NB_EXIT_OK;
}

/* The listen addresses, parsed before anything opens. */
static int parse_addrs(const run_opts *o, nb_addr *coap, nb_addr *coaps, nb_addr *http) {
  int rc;
  if (o->coap && nb_addr_parse(o->coap, 5783, coap) != NB_OK)
    return BS_USAGE("bad --coap address '%s' (IP:PORT or [IPv6]:PORT)\n", o->coap);
  if (o->coaps && nb_addr_parse(o->coaps, 5784, coaps) != NB_OK)
    return BS_USAGE("bad --coaps address '%s' (IP:PORT or [IPv6]:PORT)\n", o->coaps);
  if (o->http && nb_addr_parse(o->http, 8080, http) != NB_OK)
    return BS_USAGE("bad --http address '%s' (IP:PORT or [IPv6]:PORT)\n", o->http);
  if (o->http && (rc = nb_api_opts_finish(o->api, http)) != NB_EXIT_OK) return rc;
  return NB_EXIT_OK;
}

/* The database (keys, PSKs) is created 0600 and refused when others may read it. */
static int check_db(const char *db) {
  char why[512];
  if (nb_privfile_prepare_db(db, why, sizeof why) != NB_OK) return BS_ERR("%s\n", why);
  return NB_EXIT_OK;
}

/* One bootstrap server per database (a server without --with-bootstrap may share it). */
static int lock_db(const char *db, nb_dbfile_lock **lock) {
  char why[768];
  if (nb_dbfile_lock_take(db, NB_DB_ROLE_BOOTSTRAP, lock, why, sizeof why) != NB_OK)
    return BS_ERR("%s\n", why);
  return NB_EXIT_OK;
}

/* The engine, its sockets and the decision poll are the same bootstrap host `niobium server
 * --with-bootstrap` runs (src/http/bs_host.c); --http adds the REST API and event stream. */
static int run_server(const run_opts *o) {
  nb_addr coap, coaps, http;
  nb_dbfile_lock *lock = NULL;
  int rc = parse_addrs(o, &coap, &coaps, &http);
  if (rc != NB_EXIT_OK || (rc = check_db(o->db)) != NB_EXIT_OK ||
      (rc = lock_db(o->db, &lock)) != NB_EXIT_OK)
    return rc;
  uint8_t key[8192];
  size_t key_len = 0;
  if (o->rpk_key && (rc = load_rpk_key(o->rpk_key, key, sizeof key, &key_len)) != NB_EXIT_OK) {
    nb_dbfile_lock_release(lock);
    return rc;
  }
  x509_files x = {0};
  if ((rc = load_x509(o, &x)) != NB_EXIT_OK) {
    x509_files_free(&x);
    memset(key, 0, sizeof key);
    nb_dbfile_lock_release(lock);
    return rc;
  }
  bs_app a = {0};
  nb_store_sqlite *dm = NULL;
  nb_http_remote_store *remote = NULL;
  nb_server_store dm_store;
  nb_store_health *health = NULL; /* of the database file, through the server's tables */
  nb_http_bs *host = NULL;
  nb_http_api *api = NULL;
  if ((rc = open_dm_store(o, &dm, &remote, &dm_store)) != NB_EXIT_OK) goto out;
  if (dm && nb_store_health_new(dm_store, NULL, NULL, &health) != NB_OK) {
    rc = NB_EXIT_FAILURE;
    goto out;
  }
  if (health) dm_store = nb_store_health_store(health);
  nb_bs_store *probe = NULL; /* a database that cannot be used is told as such, not as ports */
  if (nb_bs_store_open(o->db, &probe) != NB_OK) {
    rc = db_error(o->db);
    goto out;
  }
  nb_bs_store_close(probe);
  rc = NB_EXIT_FAILURE;
  if (nb_io_loop_new(&a.loop) != NB_OK) goto out;
  nb_http_bs_config bc = {.db = o->db,
                          .dm_store = dm_store,
                          .remote = remote,
                          .policy = o->policy,
                          .coap = o->coap ? &coap : NULL,
                          .coaps = o->coaps ? &coaps : NULL,
                          .rpk_key = key_len ? key : NULL,
                          .rpk_key_len = key_len,
                          .cert = x.cert,
                          .cert_len = x.cert_len,
                          .cert_key = x.key,
                          .cert_key_len = x.key_len,
                          .ca = (const uint8_t *const *)x.ca,
                          .ca_len = x.ca_len,
                          .nca = x.nca,
                          .x509_default_config = o->x509_default_config,
                          .max_sessions = o->max_sessions,
                          .max_pending = o->max_pending};
  nb_err e = nb_http_bs_new(a.loop, &bc, &host);
  if (e != NB_OK) {
    rc = BS_ERR("cannot start (%s): is another bootstrap server running on these ports?\n",
                nb_strerror(e));
    goto out;
  }
  if (o->http) {
    nb_http_api_config hc = {
        .listen = http, .health = health, .clock_offset = clock_offset(a.loop), .bootstrap = host};
    nb_api_opts_apply(o->api, &hc);
    if (nb_http_api_new(a.loop, NULL, &hc, &api) != NB_OK) {
      rc = BS_ERR("cannot serve the API on %s: is the port in use?\n", o->http);
      goto out;
    }
    NB_LOG_INFO("bootstrap", "event=listening proto=http port=%u", nb_http_api_port(api));
  }
  nb_io_loop_on_signals(a.loop, on_signal, &a);
  rc = nb_io_loop_run(a.loop) == NB_OK ? NB_EXIT_OK : NB_EXIT_FAILURE;
out:
  memset(key, 0, sizeof key);
  x509_files_free(&x);
  nb_http_api_free(api);
  nb_http_bs_free(host);
  if (a.loop) nb_io_loop_free(a.loop);
  nb_store_health_free(health);
  nb_store_sqlite_close(dm);
  nb_http_remote_store_free(remote);
  nb_dbfile_lock_release(lock);
  return rc;
}

/* The command line into *op (op->help: --help was given and printed). */
typedef nb_bs_cli_opts bs_opts;

static int parse_args(int argc, char **argv, bs_opts *op) {
  static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                       {"coap", required_argument, NULL, 'c'},
                                       {"coaps", required_argument, NULL, 'T'},
                                       {"rpk-key", required_argument, NULL, 'R'},
                                       {"cert", required_argument, NULL, 'E'},
                                       {"key", required_argument, NULL, 'Y'},
                                       {"ca", required_argument, NULL, 'V'},
                                       {"x509-default-config", no_argument, NULL, 'W'},
                                       {"policy", required_argument, NULL, 'p'},
                                       {"endpoint", required_argument, NULL, 'e'},
                                       {"default", no_argument, NULL, 'D'},
                                       {"server-uri", required_argument, NULL, 'u'},
                                       {"security", required_argument, NULL, 's'},
                                       {"short-server-id", required_argument, NULL, 'i'},
                                       {"lifetime", required_argument, NULL, 'l'},
                                       {"binding", required_argument, NULL, 'b'},
                                       {"secure-id", required_argument, NULL, 'S'},
                                       {"psk-identity", required_argument, NULL, 'I'},
                                       {"psk-key-file", required_argument, NULL, 'G'},
                                       {"json", no_argument, NULL, 'J'},
                                       {"server-public-key", required_argument, NULL, 'k'},
                                       {"http", required_argument, NULL, 'H'},
                                       {"server-api", required_argument, NULL, 'A'},
                                       {"api", required_argument, NULL, 'a'},
                                       {"server-api-token", required_argument, NULL, 'P'},
                                       {"server-api-token-file", required_argument, NULL, 'Q'},
                                       {"api-ca", required_argument, NULL, 'Z'},
                                       {"bs-fresh-key", no_argument, NULL, 'F'},
                                       {"bs-account-timeout", required_argument, NULL, 'O'},
                                       {"ca-cert", required_argument, NULL, 'C'},
                                       {"ca-key", required_argument, NULL, 'K'},
                                       {"server-cert", required_argument, NULL, 'X'},
                                       {"max-sessions", required_argument, NULL, 'M'},
                                       {"max-pending", required_argument, NULL, 'N'},
                                       {"log-level", required_argument, NULL, 'L'},
                                       {"out", required_argument, NULL, 'o'},
                                       {"help", no_argument, NULL, 'h'},
                                       NB_API_LONG_OPTS,
                                       {NULL, 0, NULL, 0}};
  int c, rc;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'd':
        op->db = optarg;
        break;
      case 'c':
        op->coap = optarg;
        break;
      case 'T':
        op->coaps = optarg;
        break;
      case 'R':
        op->rpk_key = optarg;
        break;
      case 'E':
        op->cert = optarg;
        break;
      case 'Y':
        op->key = optarg;
        break;
      case 'V':
        if (op->nca == MAX_CA) return BS_USAGE("at most %d --ca files\n", MAX_CA);
        op->ca[op->nca++] = optarg;
        break;
      case 'W':
        op->x509_default_config = true;
        break;
      case 'p':
        op->policy = optarg;
        break;
      case 'e':
        op->ep = optarg;
        break;
      case 'D':
        op->dflt = true;
        break;
      case 'u':
        op->uri = optarg;
        break;
      case 's':
        op->security = optarg;
        break;
      case 'i':
        op->ssid = strtol(optarg, NULL, 10);
        break;
      case 'l':
        op->lifetime = strtol(optarg, NULL, 10);
        break;
      case 'b':
        op->binding = optarg;
        break;
      case 'S':
        op->secure_id = optarg;
        break;
      case 'I':
        op->psk_identity = optarg;
        break;
      case 'G':
        op->psk_key_file = optarg;
        break;
      case 'J':
        op->json = true;
        break;
      case 'k':
        op->server_key = optarg;
        break;
      case 'H':
        op->http = optarg;
        break;

      case 'A':
        op->server_api = optarg;
        break;
      case 'a':
        op->api = optarg;
        break;
      case 'P':
      case 'Q': {
        char why[300] = "out of memory";
        free(op->server_token);
        op->server_token = c == 'P' ? strdup(optarg) : nb_secret_file_read(optarg, why, sizeof why);
        if (!op->server_token) return BS_ERR("%s\n", why);
        break;
      }
      case 'Z':
        op->api_ca = optarg;
        break;
      case 'F':
        op->bs_fresh_key = true;
        break;
      case 'O':
        op->bs_timeout = strtol(optarg, NULL, 10);
        break;
      case 'C':
        op->ca_cert = optarg;
        break;
      case 'K':
        op->ca_key = optarg;
        break;
      case 'X':
        op->server_cert = optarg;
        break;
      case 'o':
        op->out = optarg;
        break;
      case 'M':
      case 'N': {
        char *end;
        unsigned long v = strtoul(optarg, &end, 10);
        if (end == optarg || *end || optarg[0] == '-' || v < 1 || v > 1000000)
          return BS_USAGE("--max-sessions and --max-pending take 1..1000000\n");
        *(c == 'M' ? &op->max_sessions : &op->max_pending) = v;
        break;
      }
      case 'L': {
        nb_log_level lvl;
        if (nb_log_level_parse(optarg, &lvl) != NB_OK)
          return BS_USAGE("--log-level must be error, warn, info or debug\n");
        nb_log_set_level(lvl);
        break;
      }
      case 'h':
        usage(stdout);
        op->help = true;
        return NB_EXIT_OK;
      default:
        if ((rc = nb_api_opts_parse(&op->token_etc, c, optarg)) == -1) {
          usage(stderr);
          return NB_EXIT_USAGE;
        }
        if (rc != NB_EXIT_OK) return rc;
    }
  }
  return NB_EXIT_OK;
}

/* `niobium bootstrap` with run options: the server. */
static int run_cmd(bs_opts *op) {
  bs_opts o = *op; /* a copy for reading; the API options stay op's (they are filled in) */
  nb_bs_policy policy;
  if (strcmp(o.policy, "auto") == 0)
    policy = NB_BS_POLICY_AUTO;
  else if (strcmp(o.policy, "approve") == 0)
    policy = NB_BS_POLICY_APPROVE;
  else
    return BS_USAGE("--policy must be auto or approve\n");
  if (o.rpk_key && !o.coaps) return BS_USAGE("--rpk-key needs a --coaps address\n");
  if (!o.cert != !o.key) return BS_USAGE("--cert and --key go together\n");
  if ((o.cert || o.nca) && !o.coaps) return BS_USAGE("--cert/--ca need a --coaps address\n");
  if (o.nca && !o.cert)
    return BS_USAGE("--ca needs --cert/--key (devices with certificates see a certificate)\n");
  if (o.x509_default_config && !o.nca)
    return BS_USAGE("--x509-default-config goes with --ca (device certificates)\n");
  if (o.token_etc.token && !o.http && !o.server_api)
    return BS_USAGE("--api-token goes with --http ADDR or --server-api URL\n");
  if (o.token_etc.given && !o.http)
    return BS_USAGE(
        "--http-host, --http-cert, --http-key, --insecure-http and --http-max-* go "
        "with --http ADDR\n");
  if (!o.coap && !o.coaps) o.coap = "0.0.0.0:5783";
  run_opts r = {.db = o.db,
                .coap = o.coap,
                .coaps = o.coaps,
                .rpk_key = o.rpk_key,
                .cert = o.cert,
                .key = o.key,
                .nca = o.nca,
                .x509_default_config = o.x509_default_config,
                .http = o.http,
                .api = &op->token_etc,
                .api_ca = o.api_ca,
                .server_api = o.server_api,
                .server_token = o.server_token ? o.server_token : o.token_etc.token,
                .policy = policy,
                .max_sessions = o.max_sessions,
                .max_pending = o.max_pending};
  memcpy(r.ca, o.ca, sizeof r.ca);
  return run_server(&r);
}

int nb_cmd_bootstrap(int argc, char **argv) {
  bs_opts o = {.db = "niobium.db", .policy = "auto", .ssid = 101, .lifetime = 86400};
  nb_api_opts_init(&o.token_etc, "niobium bootstrap");
  int rc = parse_args(argc, argv, &o);
  if (rc == NB_EXIT_OK && !o.help)
    rc = optind < argc ? nb_bs_ops_run(&o, argc - optind, argv + optind) : run_cmd(&o);
  nb_api_opts_free(&o.token_etc);
  if (o.server_token) memset(o.server_token, 0, strlen(o.server_token));
  free(o.server_token);
  return rc;
}
