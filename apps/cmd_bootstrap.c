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
#include "commands.h"
#include "dtls/cred.h"
#include "dtls/keys.h"
#include "http/api.h"
#include "http/bs_host.h"
#include "http/remote_store.h"
#include "io/http_client.h"
#include "io/loop.h"
#include "store/sqlite.h"

#define BS_ERR(...) (fprintf(stderr, "niobium bootstrap: " __VA_ARGS__), NB_EXIT_FAILURE)
#define BS_USAGE(...) (fprintf(stderr, "niobium bootstrap: " __VA_ARGS__), NB_EXIT_USAGE)

static void usage(FILE *f) {
  fprintf(f,
          "usage: niobium bootstrap [run options]          run the bootstrap server\n"
          "       niobium bootstrap config add (--endpoint EP | --default) --server-uri URI\n"
          "                 --security nosec|psk|rpk|x509 [--short-server-id N] [--lifetime S]\n"
          "                 [--binding U|UQ] [--server-public-key FILE.der]\n"
          "                 [--ca-cert FILE --ca-key FILE --server-cert FILE.der]  (x509)\n"
          "                 [--bs-fresh-key] [--bs-account-timeout S]\n"
          "       niobium bootstrap config list | rm (--endpoint EP | --default)\n"
          "       niobium bootstrap config export [FILE] | import FILE\n"
          "       niobium bootstrap pending | approve EP | reject EP\n"
          "       niobium bootstrap expect --endpoint EP --secure-id ID\n"
          "       niobium bootstrap evidence EP [--out FILE]\n"
          "pending lists the requests waiting for a decision, also those a crash or restart\n"
          "of the server dropped (`request gone`: the device asks again, and an approval given\n"
          "meanwhile lets that next request through at once); approve/reject of an endpoint\n"
          "that is not pending fails (exit 1). With --db the decision is recorded and a\n"
          "running server applies it within a second (or the next one, at its start).\n"
          "every form takes --db FILE (default ./niobium.db, shared with `niobium server`),\n"
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
          "                     with a PSK, or a raw public key whose secure ID was\n"
          "                     registered with `expect`; other keys fail the handshake\n"
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
          "                     approve/reject, expected secure IDs) and the event stream\n"
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

static int read_file(const char *path, uint8_t *buf, size_t cap, size_t *len);

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

#define MAX_CA 8

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

/* Where fresh credentials go: the server's store in the same database, or a server that runs
 * apart through its REST API (--server-api; the bootstrap host installs through it
 * asynchronously, and *out stays empty). */
static int open_dm_store(const run_opts *o, nb_store_sqlite **db, nb_http_remote_store **rs,
                         nb_server_store *out) {
  *out = (nb_server_store){0};
  if (o->server_api) {
    if (nb_http_remote_store_new(o->server_api, o->server_token, o->api_ca, 0, rs) != NB_OK)
      return BS_USAGE("--server-api must be the server's API base URL (http://HOST:PORT)\n");
    return NB_EXIT_OK;
  }
  if (nb_store_sqlite_open(o->db, db) != NB_OK)
    return BS_ERR("cannot open database %s: check the path and permissions\n", o->db);
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

/* The engine, its sockets and the decision poll are the same bootstrap host `niobium server
 * --with-bootstrap` runs (src/http/bs_host.c); --http adds the REST API and event stream. */
static int run_server(const run_opts *o) {
  nb_addr coap, coaps, http;
  int rc = parse_addrs(o, &coap, &coaps, &http);
  if (rc != NB_EXIT_OK || (rc = check_db(o->db)) != NB_EXIT_OK) return rc;
  uint8_t key[8192];
  size_t key_len = 0;
  if (o->rpk_key && (rc = load_rpk_key(o->rpk_key, key, sizeof key, &key_len)) != NB_EXIT_OK)
    return rc;
  x509_files x = {0};
  if ((rc = load_x509(o, &x)) != NB_EXIT_OK) {
    x509_files_free(&x);
    memset(key, 0, sizeof key);
    return rc;
  }
  bs_app a = {0};
  nb_store_sqlite *dm = NULL;
  nb_http_remote_store *remote = NULL;
  nb_server_store dm_store;
  nb_http_bs *host = NULL;
  nb_http_api *api = NULL;
  if ((rc = open_dm_store(o, &dm, &remote, &dm_store)) != NB_EXIT_OK) goto out;
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
        .listen = http, .clock_offset = clock_offset(a.loop), .bootstrap = host};
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
  nb_store_sqlite_close(dm);
  nb_http_remote_store_free(remote);
  return rc;
}

/* ---- operator commands ---- */

typedef struct {
  const char *db, *ep, *uri, *security, *binding, *secure_id, *server_key, *coap, *policy;
  const char *coaps, *rpk_key, *http, *ca_cert, *ca_key, *server_cert, *server_api;
  const char *api, *api_ca, *out, *cert, *key, *ca[MAX_CA];
  size_t nca;
  nb_api_opts token_etc; /* --api-token[-file] and the options of the --http listener */
  char *server_token;    /* --server-api-token[-file] (heap, wiped) */
  bool help;
  bool dflt, bs_fresh_key, x509_default_config;
  long ssid, lifetime, bs_timeout;
  size_t max_sessions, max_pending;
} bs_opts;

static int read_file(const char *path, uint8_t *buf, size_t cap, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  *len = fread(buf, 1, cap, f);
  int more = fgetc(f) != EOF;
  fclose(f);
  return more ? -1 : 0;
}

/* X.509 accounts: the CA (stored with the config) and the server's certificate for /0/x/4. */
static int x509_parts(const bs_opts *o, nb_bs_config *cfg, nb_bs_server *s) {
  if (!o->ca_cert || !o->ca_key || !o->server_cert)
    return BS_USAGE(
        "--security x509 needs --ca-cert FILE --ca-key FILE (the CA that signs device "
        "certificates; `niobium keys ca` makes one) and --server-cert FILE.der (the server's "
        "certificate)\n");
  if (read_file(o->ca_cert, cfg->ca_cert, sizeof cfg->ca_cert, &cfg->ca_cert_len) != 0 ||
      read_file(o->ca_key, cfg->ca_key, sizeof cfg->ca_key, &cfg->ca_key_len) != 0 ||
      read_file(o->server_cert, s->server_pubkey, sizeof s->server_pubkey, &s->server_pubkey_len) !=
          0)
    return BS_ERR("cannot read --ca-cert, --ca-key or --server-cert (each at most %d bytes)\n",
                  NB_BS_CA_MAX);
  nb_dtls_certkey probe; /* the CA must be able to sign: try it once now */
  nb_dtls_cert_request req = {.cn = "probe"};
  if (nb_dtls_cert_issue(cfg->ca_cert, cfg->ca_cert_len, cfg->ca_key, cfg->ca_key_len, &req,
                         &probe) != NB_OK)
    return BS_USAGE("--ca-cert and --ca-key are not a CA certificate with its P-256 key\n");
  nb_dtls_certkey_free(&probe);
  return NB_EXIT_OK;
}

/* ---- the same commands through a running server's REST API (--api URL) ---- */

/* text and a newline to path (--out), or to stdout when path is NULL. */
static int write_text(const char *path, const char *text) {
  FILE *f = path ? nb_privfile_fopen(path) : stdout; /* evidence, configs: 0600 */
  if (!f) return BS_ERR("cannot write %s: check the path and permissions\n", path);
  bool ok = fprintf(f, "%s\n", text) >= 0;
  if (path && fclose(f) != 0) ok = false;
  if (!ok) return BS_ERR("cannot write %s\n", path ? path : "to stdout");
  if (path) fprintf(stderr, "niobium bootstrap: wrote %s\n", path);
  return NB_EXIT_OK;
}

/* One call to URL + path; prints the answer body (JSON) on success. */
/* One request to url; the answer (2xx) in *answer and the next page's URL in *next. */
static int api_fetch(const bs_opts *o, const char *method, const char *url, const char *path,
                     const char *body, char **answer, char **next) {
  char why[200] = "";
  nb_http_request rq = {.method = method,
                        .url = url,
                        .bearer_token = o->token_etc.token,
                        .ca_file = o->api_ca,
                        .body = body,
                        .body_len = body ? strlen(body) : 0};
  long status = 0;
  nb_err e = nb_http_fetch_page(&rq, &status, answer, next, why, sizeof why);
  int rc = NB_EXIT_OK;
  if (e != NB_OK)
    rc = BS_ERR("cannot reach %s (%s): is the server running with --http there?\n", o->api, why);
  else if (status == 401)
    rc = BS_ERR("the API refused the token: give the server's --api-token\n");
  else if (status < 200 || status > 299)
    rc = BS_ERR("%s %s answered %ld: %s\n", method, path, status, *answer ? *answer : "");
  return rc;
}

/* --api URL + path, or a usage error. */
static int api_url(const bs_opts *o, const char *path, char *url, size_t cap) {
  if (!o->api) return BS_USAGE("this needs --api URL\n");
  size_t n = strlen(o->api);
  while (n > 0 && o->api[n - 1] == '/') n--;
  if ((size_t)snprintf(url, cap, "%.*s%s", (int)n, o->api, path) >= cap)
    return BS_USAGE("--api URL is too long\n");
  return NB_EXIT_OK;
}

/* One call to URL + path; prints the answer body (JSON) on success. */
static int api_call(const bs_opts *o, const char *method, const char *path, const char *body) {
  char url[1024], *answer = NULL, *next = NULL;
  int rc = api_url(o, path, url, sizeof url);
  if (rc == NB_EXIT_OK) rc = api_fetch(o, method, url, path, body, &answer, &next);
  if (rc == NB_EXIT_OK) rc = write_text(o->out, answer ? answer : "");
  free(answer);
  free(next);
  return rc;
}

/* GET of a list: every page (the API pages them, Link: rel="next"), printed as one array. */
static int api_list(const bs_opts *o, const char *path) {
  char first[1024];
  int rc = api_url(o, path, first, sizeof first);
  json_t *all = json_array();
  char *url = rc == NB_EXIT_OK ? strdup(first) : NULL;
  for (unsigned pages = 0; url && rc == NB_EXIT_OK; pages++) {
    if (pages == 100000) { /* a server whose links never end */
      rc = BS_ERR("GET %s: more than 100000 pages\n", path);
      break;
    }
    char *answer = NULL, *next = NULL;
    rc = api_fetch(o, "GET", url, path, NULL, &answer, &next);
    json_t *page = rc == NB_EXIT_OK ? json_loads(answer, 0, NULL) : NULL;
    if (rc == NB_EXIT_OK && (!json_is_array(page) || json_array_extend(all, page) != 0))
      rc = BS_ERR("GET %s did not answer a JSON array\n", path);
    json_decref(page);
    free(answer);
    free(url);
    url = next;
  }
  free(url);
  char *text = rc == NB_EXIT_OK ? json_dumps(all, JSON_COMPACT) : NULL;
  if (rc == NB_EXIT_OK) rc = text ? write_text(o->out, text) : BS_ERR("out of memory\n");
  free(text);
  json_decref(all);
  return rc;
}

/* PUT of one config; its endpoint name "" is the default config. */
static int api_config_put(const bs_opts *o, const nb_bs_config *cfg) {
  char *json = NULL, path[600], ep[400];
  if (nb_http_url_escape(cfg->ep[0] ? cfg->ep : "default", ep, sizeof ep) != NB_OK)
    return BS_USAGE("the endpoint name is too long\n");
  if (nb_bs_config_to_json(cfg, &json) != NB_OK) return BS_ERR("out of memory\n");
  snprintf(path, sizeof path, "/api/bootstrap/configs/%s", ep);
  int rc = api_call(o, "PUT", path, json);
  memset(json, 0, strlen(json)); /* may hold a PSK or CA key */
  free(json);
  return rc;
}

/* Everything but config add (which builds its config first): pending, approve, reject, expect,
 * config list|rm. */
static int api_cmd(const bs_opts *o, const char *verb, const char *sub) {
  char path[600], ep[400], body[160];
  if (strcmp(verb, "config") == 0 && sub && strcmp(sub, "list") == 0)
    return api_list(o, "/api/bootstrap/configs");
  if (strcmp(verb, "config") == 0 && sub && strcmp(sub, "rm") == 0) {
    if (!o->dflt && !o->ep) return BS_USAGE("config rm needs --endpoint EP or --default\n");
    if (nb_http_url_escape(o->dflt ? "default" : o->ep, ep, sizeof ep) != NB_OK)
      return BS_USAGE("the endpoint name is too long\n");
    snprintf(path, sizeof path, "/api/bootstrap/configs/%s", ep);
    return api_call(o, "DELETE", path, NULL);
  }
  if (strcmp(verb, "pending") == 0) return api_list(o, "/api/bootstrap/pending");
  if (strcmp(verb, "evidence") == 0 && sub) {
    if (nb_http_url_escape(sub, ep, sizeof ep) != NB_OK)
      return BS_USAGE("the endpoint name is too long\n");
    snprintf(path, sizeof path, "/api/bootstrap/evidence/%s", ep);
    return api_call(o, "GET", path, NULL);
  }
  if ((strcmp(verb, "approve") == 0 || strcmp(verb, "reject") == 0) && sub) {
    if (nb_http_url_escape(sub, ep, sizeof ep) != NB_OK)
      return BS_USAGE("the endpoint name is too long\n");
    snprintf(path, sizeof path, "/api/bootstrap/pending/%s/%s", ep, verb);
    return api_call(o, "POST", path, NULL);
  }
  if (strcmp(verb, "expect") == 0) {
    if (!o->ep || !o->secure_id || strlen(o->secure_id) != NB_DTLS_SECURE_ID_LEN)
      return BS_USAGE("expect needs --endpoint EP --secure-id ID (30 hex digits)\n");
    if (nb_http_url_escape(o->ep, ep, sizeof ep) != NB_OK)
      return BS_USAGE("the endpoint name is too long\n");
    snprintf(path, sizeof path, "/api/bootstrap/expected/%s", ep);
    snprintf(body, sizeof body, "{\"secureId\":\"%s\"}", o->secure_id);
    return api_call(o, "PUT", path, body);
  }
  usage(stderr);
  return NB_EXIT_USAGE;
}

static int config_add(nb_bs_store *st, const bs_opts *o) {
  if (!o->dflt && !o->ep) return BS_USAGE("config add needs --endpoint EP or --default\n");
  if (!o->uri || !o->security) return BS_USAGE("config add needs --server-uri and --security\n");
  nb_bs_config cfg;
  nb_bs_config_init(&cfg, o->dflt ? "" : o->ep);
  nb_bs_server s = {.ssid = (uint16_t)o->ssid, .lifetime = (uint32_t)o->lifetime};
  if (o->ssid < 1 || o->ssid > NB_ID_MAX || o->lifetime < 1)
    return BS_USAGE("--short-server-id must be 1..65534 and --lifetime positive\n");
  if (nb_bs_sec_mode_parse(o->security, &s.mode) != NB_OK)
    return BS_USAGE("--security must be nosec, psk, rpk or x509\n");
  if (o->bs_timeout < 0) return BS_USAGE("--bs-account-timeout is seconds (0 = kept)\n");
  cfg.bs_fresh_key = o->bs_fresh_key;
  cfg.bs_account_timeout = (uint32_t)o->bs_timeout;
  if (s.mode == NB_BS_SEC_X509) {
    int rc = x509_parts(o, &cfg, &s);
    if (rc != NB_EXIT_OK) return rc;
  } else if (o->ca_cert || o->ca_key || o->server_cert) {
    return BS_USAGE("--ca-cert, --ca-key and --server-cert go with --security x509\n");
  }
  snprintf(s.uri, sizeof s.uri, "%s", o->uri);
  snprintf(s.binding, sizeof s.binding, "%s", o->binding ? o->binding : "U");
  if (o->server_key &&
      read_file(o->server_key, s.server_pubkey, sizeof s.server_pubkey, &s.server_pubkey_len) != 0)
    return BS_ERR("cannot read --server-public-key %s (a DER SubjectPublicKeyInfo)\n",
                  o->server_key);
  if (s.mode == NB_BS_SEC_RPK && !s.server_pubkey_len)
    return BS_USAGE("--security rpk needs --server-public-key FILE.der (the server's key)\n");
  if (nb_bs_config_add_server(&cfg, &s) != NB_OK)
    return BS_USAGE(
        "invalid server: coap:// goes with nosec, coaps:// with psk/rpk; binding "
        "U or UQ\n");
  if (o->api) return api_config_put(o, &cfg);
  if (nb_bs_store_config_put(st, &cfg) != NB_OK) return BS_ERR("cannot write the config\n");
  printf("config for %s saved\n", o->dflt ? "the default" : o->ep);
  return NB_EXIT_OK;
}

static nb_err print_config(void *user, const nb_bs_config *c) {
  (void)user;
  for (size_t i = 0; i < c->nservers; i++)
    printf("%-32s ssid=%u security=%s uri=%s lifetime=%u binding=%s\n",
           c->ep[0] ? c->ep : "(default)", c->servers[i].ssid,
           nb_bs_sec_mode_name(c->servers[i].mode), c->servers[i].uri, c->servers[i].lifetime,
           c->servers[i].binding[0] ? c->servers[i].binding : "U");
  return NB_OK;
}

static nb_err export_one(void *user, const nb_bs_config *c) {
  char *json;
  nb_err e = nb_bs_config_to_json(c, &json);
  if (e != NB_OK) return e;
  fprintf(user, "%s%s", ftell(user) > 2 ? ",\n" : "", json);
  free(json);
  return NB_OK;
}

static int config_export(nb_bs_store *st, const char *path) {
  FILE *f = path ? nb_privfile_fopen(path) : stdout; /* the configs' keys: 0600 */
  if (!f) return BS_ERR("cannot write %s\n", path);
  fputs("[\n", f);
  nb_err e = nb_bs_store_config_each(st, export_one, f);
  fputs("\n]\n", f);
  if (path) fclose(f);
  return e == NB_OK ? NB_EXIT_OK : BS_ERR("export failed: %s\n", nb_strerror(e));
}

/* Imports into the database, or through the API when st is NULL (--api). */
static int config_import(nb_bs_store *st, const bs_opts *o, const char *path) {
  json_error_t err;
  json_t *arr = json_load_file(path, 0, &err);
  if (!arr || !json_is_array(arr)) {
    json_decref(arr);
    return BS_USAGE("%s: expected a JSON array of configs (line %d: %s)\n", path, err.line,
                    err.text);
  }
  size_t i, n = 0;
  json_t *v;
  int rc = NB_EXIT_OK;
  json_array_foreach(arr, i, v) {
    char *text = json_dumps(v, 0), why[160] = "";
    nb_bs_config cfg;
    nb_err e = text ? nb_bs_config_from_json(text, &cfg, why, sizeof why) : NB_ERR_NOMEM;
    free(text);
    if (e == NB_OK && st) e = nb_bs_store_config_put(st, &cfg);
    if (e != NB_OK) {
      rc = BS_USAGE("%s: config %zu: %s\n", path, i, why[0] ? why : nb_strerror(e));
      break;
    }
    if (!st && (rc = api_config_put(o, &cfg)) != NB_EXIT_OK) break;
    n++;
  }
  json_decref(arr);
  if (rc == NB_EXIT_OK) printf("%zu configs imported\n", n);
  return rc;
}

/* One row as the operator reads it: what the request waits for (docs/security.md step 4). */
static nb_err print_pending(void *user, const char *ep, const char *peer, int64_t at,
                            const char *decision) {
  (void)user;
  const char *state = !decision[0]                        ? "waiting for a decision"
                      : strcmp(decision, "gone") == 0     ? "request gone with a restart (approve "
                                                            "lets its next request through)"
                      : strcmp(decision, "approved") == 0 ? "approved: its next request goes ahead"
                                                          : NULL;
  if (state)
    printf("%-32s peer=%s since=%lld %s\n", ep, peer, (long long)at, state);
  else
    printf("%-32s peer=%s since=%lld decided=%s (the running bootstrap server applies it)\n", ep,
           peer, (long long)at, decision);
  return NB_OK;
}

static int expect(nb_bs_store *st, const bs_opts *o) {
  if (!o->ep || !o->secure_id) return BS_USAGE("expect needs --endpoint EP --secure-id ID\n");
  size_t n = strlen(o->secure_id);
  bool hex = n == NB_DTLS_SECURE_ID_LEN;
  for (size_t i = 0; hex && i < n; i++) hex = strchr("0123456789abcdef", o->secure_id[i]) != NULL;
  if (!hex)
    return BS_USAGE("--secure-id must be %d lowercase hex digits (`niobium keys` prints it)\n",
                    NB_DTLS_SECURE_ID_LEN);
  nb_server_sec_info c = {.kind = NB_SERVER_ID_RPK};
  snprintf(c.ep, sizeof c.ep, "%s", o->ep);
  snprintf(c.identity, sizeof c.identity, "%s", o->secure_id);
  if (nb_bs_store_cred_put(st, &c) != NB_OK) return BS_ERR("cannot write the database\n");
  printf("%s will be accepted only with the key of secure ID %s\n", o->ep, o->secure_id);
  return NB_EXIT_OK;
}

static int operator_cmd(const bs_opts *o, int argc, char **argv) {
  const char *verb = argv[0], *sub = argc > 1 ? argv[1] : NULL;
  if (o->api && strcmp(verb, "config") == 0 && sub && strcmp(sub, "add") == 0)
    return config_add(NULL, o);
  if (o->api && strcmp(verb, "config") == 0 && sub && strcmp(sub, "import") == 0 && argc > 2)
    return config_import(NULL, o, argv[2]);
  if (o->api) return api_cmd(o, verb, sub);
  nb_bs_store *st;
  int checked = check_db(o->db);
  if (checked != NB_EXIT_OK) return checked;
  if (nb_bs_store_open(o->db, &st) != NB_OK)
    return BS_ERR("cannot open database %s: check the path and permissions\n", o->db);
  int rc = NB_EXIT_USAGE;
  if (strcmp(verb, "config") == 0 && sub && strcmp(sub, "add") == 0) {
    rc = config_add(st, o);
  } else if (strcmp(verb, "config") == 0 && sub && strcmp(sub, "list") == 0) {
    rc = nb_bs_store_config_each(st, print_config, NULL) == NB_OK ? NB_EXIT_OK : NB_EXIT_FAILURE;
  } else if (strcmp(verb, "config") == 0 && sub && strcmp(sub, "rm") == 0) {
    if (!o->dflt && !o->ep)
      rc = BS_USAGE("config rm needs --endpoint EP or --default\n");
    else if (nb_bs_store_config_del(st, o->dflt ? "" : o->ep) != NB_OK)
      rc = BS_ERR("no config for %s (see `niobium bootstrap config list`)\n",
                  o->dflt ? "the default" : o->ep);
    else
      rc = NB_EXIT_OK;
  } else if (strcmp(verb, "config") == 0 && sub && strcmp(sub, "export") == 0) {
    rc = config_export(st, argc > 2 ? argv[2] : NULL);
  } else if (strcmp(verb, "config") == 0 && sub && strcmp(sub, "import") == 0 && argc > 2) {
    rc = config_import(st, o, argv[2]);
  } else if (strcmp(verb, "pending") == 0) {
    rc = nb_bs_store_pending_each(st, print_pending, NULL) == NB_OK ? NB_EXIT_OK : NB_EXIT_FAILURE;
  } else if ((strcmp(verb, "approve") == 0 || strcmp(verb, "reject") == 0) && sub) {
    nb_err e = nb_bs_store_decide(st, sub, verb[0] == 'a');
    rc = e == NB_OK ? NB_EXIT_OK
                    : BS_ERR("%s is not pending (see `niobium bootstrap pending`)\n", sub);
    if (rc == NB_EXIT_OK)
      printf(
          "%s %s: recorded; the running bootstrap server applies it within a second (or the "
          "next one at its start)\n",
          verb, sub);
  } else if (strcmp(verb, "expect") == 0) {
    rc = expect(st, o);
  } else if (strcmp(verb, "evidence") == 0 && sub) {
    char *json = NULL;
    nb_err e = nb_bs_store_evidence_json(st, sub, &json);
    rc = e == NB_OK ? write_text(o->out, json)
                    : BS_ERR("cannot read the evidence: %s\n", nb_strerror(e));
    free(json);
  } else {
    usage(stderr);
  }
  nb_bs_store_close(st);
  return rc;
}

/* The command line into *op (op->help: --help was given and printed). */
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
    rc = optind < argc ? operator_cmd(&o, argc - optind, argv + optind) : run_cmd(&o);
  nb_api_opts_free(&o.token_etc);
  if (o.server_token) memset(o.server_token, 0, strlen(o.server_token));
  free(o.server_token);
  return rc;
}
