/* `niobium bootstrap` operator commands: see bootstrap_ops.h. */
#include "bootstrap_ops.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"
#include "base/privfile.h"
#include "bootstrap/config_store.h"
#include "commands.h"
#include "dtls/keys.h"
#include "io/http_client.h"
#include "store/dbfile.h"

typedef nb_bs_cli_opts bs_opts;

int nb_bs_read_file(const char *path, uint8_t *buf, size_t cap, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  *len = fread(buf, 1, cap, f);
  int more = fgetc(f) != EOF;
  fclose(f);
  return more ? -1 : 0;
}

#define read_file nb_bs_read_file

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

/* ---- output ---- */

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

/* ---- the same commands through a running server's REST API (--api URL) ---- */

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

/* GET of a list: every page (the API pages them, Link: rel="next") into one array (*out). */
static int api_list(const bs_opts *o, const char *path, json_t **out) {
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
  if (rc != NB_EXIT_OK) json_decref(all);
  *out = rc == NB_EXIT_OK ? all : NULL;
  return rc;
}

/* path + "/" + the name percent-encoded, or a usage error. */
static int api_path(const char *base, const char *name, const char *tail, char *out, size_t cap) {
  char esc[400];
  if (nb_http_url_escape(name, esc, sizeof esc) != NB_OK)
    return BS_USAGE("the endpoint name is too long\n");
  snprintf(out, cap, "%s/%s%s", base, esc, tail);
  return NB_EXIT_OK;
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

/* ---- configs ---- */

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
  nb_err e = st ? nb_bs_store_config_each(st, export_one, f) : NB_OK; /* NULL: no tables yet */
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

/* ---- lists: the same rows from the database as from the API ---- */

static nb_err add_config_row(void *user, const nb_bs_config *c) {
  char *text = NULL;
  nb_err e = nb_bs_config_to_public_json(c, &text);
  json_t *row = e == NB_OK ? json_loads(text, 0, NULL) : NULL;
  free(text);
  if (e == NB_OK && (!row || json_array_append_new(user, row) != 0)) e = NB_ERR_NOMEM;
  return e;
}

/* A row's state as GET /api/bootstrap/pending says it; decisions recorded with --db that no
 * running server took yet are said as such. */
static const char *pending_state(const char *decision) {
  if (!decision[0]) return "waiting";
  if (strcmp(decision, "gone") == 0) return "request-gone";
  if (strcmp(decision, "approved") == 0) return "approved";
  return strcmp(decision, "approve") == 0 ? "approve-recorded" : "reject-recorded";
}

static nb_err add_pending_row(void *user, const char *ep, const char *peer, int64_t at,
                              const char *decision) {
  json_t *row = json_pack("{s:s,s:s,s:I,s:s}", "endpoint", ep ? ep : "", "peer", peer ? peer : "",
                          "since", (json_int_t)at, "state", pending_state(decision));
  return row && json_array_append_new(user, row) == 0 ? NB_OK : NB_ERR_NOMEM;
}

typedef struct {
  nb_bs_store *st;
  json_t *arr;
} expected_walk;

static nb_err add_expected_row(void *user, const char *ep) {
  expected_walk *w = user;
  json_t *row = nb_bs_store_expected_json(w->st, ep);
  return !row || json_array_append_new(w->arr, row) == 0 ? NB_OK : NB_ERR_NOMEM;
}

static int by_endpoint(const void *a, const void *b) {
  const char *x = json_string_value(json_object_get(*(json_t *const *)a, "endpoint"));
  const char *y = json_string_value(json_object_get(*(json_t *const *)b, "endpoint"));
  return strcmp(x ? x : "", y ? y : "");
}

/* The API lists by name: rows read in another order are sorted the same way. */
static void sort_by_endpoint(json_t *arr) {
  size_t n = json_array_size(arr);
  json_t **rows = n ? calloc(n, sizeof(json_t *)) : NULL;
  if (!rows) return;
  for (size_t i = 0; i < n; i++) rows[i] = json_incref(json_array_get(arr, i));
  qsort((void *)rows, n, sizeof(json_t *), by_endpoint);
  json_array_clear(arr);
  for (size_t i = 0; i < n; i++) json_array_append_new(arr, rows[i]);
  free(rows);
}

typedef enum { LIST_CONFIGS, LIST_PENDING, LIST_EXPECTED } list_kind;

static const char *const list_paths[] = {"/api/bootstrap/configs", "/api/bootstrap/pending",
                                         "/api/bootstrap/expected"};

/* The rows of a list from the database (st NULL: a database without bootstrap tables yet,
 * so nothing). */
static nb_err db_list(nb_bs_store *st, list_kind k, json_t *arr) {
  if (!st) return NB_OK;
  if (k == LIST_CONFIGS) return nb_bs_store_config_each(st, add_config_row, arr);
  if (k == LIST_PENDING) {
    nb_err e = nb_bs_store_pending_each(st, add_pending_row, arr);
    sort_by_endpoint(arr);
    return e;
  }
  expected_walk w = {st, arr};
  return nb_bs_store_expected_each(st, add_expected_row, &w);
}

static const char *str_of(const json_t *row, const char *key, const char *dflt) {
  const char *s = json_string_value(json_object_get(row, key));
  return s ? s : dflt;
}

static void print_config_row(const json_t *row) {
  const char *ep = str_of(row, "endpoint", "(default)");
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(row, "servers"), i, s) {
    printf("%-32s ssid=%lld security=%s uri=%s lifetime=%lld binding=%s\n", ep,
           (long long)json_integer_value(json_object_get(s, "ssid")), str_of(s, "security", "?"),
           str_of(s, "uri", "?"), (long long)json_integer_value(json_object_get(s, "lifetime")),
           str_of(s, "binding", "U"));
  }
}

/* What a pending request waits for (docs/security.md step 4). */
static void print_pending_row(const json_t *row) {
  const char *state = str_of(row, "state", "waiting");
  const char *text = strcmp(state, "waiting") == 0 ? "waiting for a decision"
                     : strcmp(state, "request-gone") == 0
                         ? "request gone with a restart (approve lets its next request through)"
                     : strcmp(state, "approved") == 0 ? "approved: its next request goes ahead"
                     : strcmp(state, "approve-recorded") == 0
                         ? "decided=approve (the running bootstrap server applies it)"
                         : "decided=reject (the running bootstrap server applies it)";
  json_t *at = json_object_get(row, "since");
  char since[32] = "-";
  if (json_is_integer(at)) snprintf(since, sizeof since, "%lld", (long long)json_integer_value(at));
  printf("%-32s peer=%s since=%s %s\n", str_of(row, "endpoint", "?"), str_of(row, "peer", "-"),
         since, text);
}

static const char *identity_of(const json_t *c) {
  return str_of(c, "pskIdentity", str_of(c, "secureId", "?"));
}

static void print_expected_row(const json_t *row) {
  const json_t *p = json_object_get(row, "pending");
  printf("%-32s %-4s %s", str_of(row, "endpoint", "?"), str_of(row, "kind", "-"),
         json_object_get(row, "kind") ? identity_of(row) : "-");
  if (p)
    printf(" (fresh %s %s pending the device's acknowledgement)", str_of(p, "kind", "?"),
           identity_of(p));
  printf("\n");
}

static int print_list(const bs_opts *o, list_kind k, json_t *arr) {
  static void (*const printers[])(const json_t *) = {print_config_row, print_pending_row,
                                                     print_expected_row};
  if (o->json) {
    char *text = json_dumps(arr, JSON_COMPACT);
    int rc = text ? write_text(o->out, text) : BS_ERR("out of memory\n");
    free(text);
    return rc;
  }
  size_t i;
  json_t *row;
  json_array_foreach(arr, i, row) printers[k](row);
  return NB_EXIT_OK;
}

static int list_cmd(nb_bs_store *st, const bs_opts *o, list_kind k) {
  json_t *arr = NULL;
  int rc = NB_EXIT_OK;
  if (o->api) {
    rc = api_list(o, list_paths[k], &arr);
  } else {
    arr = json_array();
    nb_err e = arr ? db_list(st, k, arr) : NB_ERR_NOMEM;
    if (e != NB_OK) rc = BS_ERR("cannot read %s: %s\n", o->db, nb_strerror(e));
  }
  if (rc == NB_EXIT_OK) rc = print_list(o, k, arr);
  json_decref(arr);
  return rc;
}

/* ---- expected keys ---- */

/* The factory PSK's key (hex) from --psk-key-file: a file only its owner may read, or "-" for
 * one line on stdin (never the command line, which `ps` shows). Heap, wiped by the caller. */
static char *read_psk_key(const char *path) {
  char why[300] = "out of memory";
  if (strcmp(path, "-") != 0) {
    char *key = nb_secret_file_read(path, why, sizeof why);
    if (!key) fprintf(stderr, "niobium bootstrap: --psk-key-file: %s\n", why);
    return key;
  }
  char *line = calloc(1, 256);
  if (line && !fgets(line, 256, stdin)) line[0] = '\0';
  if (line && !line[0]) {
    fprintf(stderr, "niobium bootstrap: --psk-key-file -: no key (hex digits) on stdin\n");
    free(line);
    line = NULL;
  }
  return line;
}

/* The credential expect registers, from --secure-id or --psk-identity and --psk-key-file. */
static int expected_cred(const bs_opts *o, nb_server_sec_info *c) {
  char why[200];
  if (!o->ep || !o->secure_id == !o->psk_identity)
    return BS_USAGE(
        "expect needs --endpoint EP and either --secure-id ID or --psk-identity ID "
        "--psk-key-file FILE\n");
  if (o->secure_id) {
    if (nb_bs_expected_secure_id(o->ep, o->secure_id, c, why, sizeof why) != NB_OK)
      return BS_USAGE("--secure-id: %s\n", why);
    return NB_EXIT_OK;
  }
  if (!o->psk_key_file)
    return BS_USAGE(
        "--psk-identity needs --psk-key-file FILE (hex, owner-only) or --psk-key-file - "
        "(hex on stdin): a key is never taken from the command line\n");
  char *key = read_psk_key(o->psk_key_file);
  if (!key) return NB_EXIT_FAILURE;
  nb_err e = nb_bs_expected_psk(o->ep, o->psk_identity, key, c, why, sizeof why);
  memset(key, 0, strlen(key));
  free(key);
  return e == NB_OK ? NB_EXIT_OK : BS_USAGE("%s\n", why);
}

/* The body of PUT /api/bootstrap/expected/{ep} (it holds the key: wiped by the caller). */
static char *expected_body(const nb_server_sec_info *c) {
  char hex[NB_SERVER_KEY_MAX * 2 + 1];
  json_t *j = c->kind == NB_SERVER_ID_PSK
                  ? json_pack("{s:s,s:s}", "pskIdentity", c->identity, "pskKey",
                              nb_hex_encode(c->key, c->key_len, hex))
                  : json_pack("{s:s}", "secureId", c->identity);
  memset(hex, 0, sizeof hex);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  return text;
}

static int expect_put(nb_bs_store *st, const bs_opts *o) {
  nb_server_sec_info c;
  int rc = expected_cred(o, &c);
  if (rc != NB_EXIT_OK) return rc;
  bool psk = c.kind == NB_SERVER_ID_PSK;
  if (o->api) {
    char path[600], *body = expected_body(&c);
    rc = body ? api_path("/api/bootstrap/expected", o->ep, "", path, sizeof path)
              : BS_ERR("out of memory\n");
    if (rc == NB_EXIT_OK) rc = api_call(o, "PUT", path, body);
    if (body) memset(body, 0, strlen(body));
    free(body);
  } else {
    char owner[NB_BS_EP_MAX];
    nb_err e = nb_bs_store_expect_put(st, &c, owner);
    if (e == NB_ERR_EXISTS)
      rc = BS_ERR(
          "%s %s is already registered for endpoint %s: each device needs its own (`expect "
          "rm --endpoint %s` frees it)\n",
          psk ? "PSK identity" : "secure ID", c.identity, owner, owner);
    else if (e != NB_OK)
      rc = BS_ERR("cannot write %s: %s\n", o->db, nb_strerror(e));
    else if (psk)
      printf("%s will be accepted only with the PSK of identity %s\n", o->ep, c.identity);
    else
      printf("%s will be accepted only with the key of secure ID %s\n", o->ep, c.identity);
  }
  memset(&c, 0, sizeof c);
  return rc;
}

static int expect_rm(nb_bs_store *st, const bs_opts *o) {
  if (!o->ep) return BS_USAGE("expect rm needs --endpoint EP\n");
  if (o->api) {
    char path[600];
    int rc = api_path("/api/bootstrap/expected", o->ep, "", path, sizeof path);
    return rc == NB_EXIT_OK ? api_call(o, "DELETE", path, NULL) : rc;
  }
  nb_err e = nb_bs_store_expect_del(st, o->ep);
  if (e == NB_ERR_NOT_FOUND)
    return BS_ERR("nothing is registered for %s (see `niobium bootstrap expect list`)\n", o->ep);
  if (e != NB_OK) return BS_ERR("cannot write %s: %s\n", o->db, nb_strerror(e));
  printf("%s: its expected key is forgotten; its handshakes are refused from now on\n", o->ep);
  return NB_EXIT_OK;
}

/* ---- the rest, with --db or --api ---- */

static int decide(nb_bs_store *st, const bs_opts *o, const char *verb, const char *ep) {
  if (o->api) {
    char path[600], tail[16];
    snprintf(tail, sizeof tail, "/%s", verb);
    int rc = api_path("/api/bootstrap/pending", ep, tail, path, sizeof path);
    return rc == NB_EXIT_OK ? api_call(o, "POST", path, NULL) : rc;
  }
  if (nb_bs_store_decide(st, ep, verb[0] == 'a') != NB_OK)
    return BS_ERR("%s is not pending (see `niobium bootstrap pending`)\n", ep);
  printf(
      "%s %s: recorded; the running bootstrap server applies it within a second (or the next "
      "one at its start)\n",
      verb, ep);
  return NB_EXIT_OK;
}

static int config_rm(nb_bs_store *st, const bs_opts *o) {
  if (!o->dflt && !o->ep) return BS_USAGE("config rm needs --endpoint EP or --default\n");
  const char *name = o->dflt ? "" : o->ep;
  if (o->api) {
    char path[600];
    int rc = api_path("/api/bootstrap/configs", name[0] ? name : "default", "", path, sizeof path);
    return rc == NB_EXIT_OK ? api_call(o, "DELETE", path, NULL) : rc;
  }
  if (nb_bs_store_config_del(st, name) != NB_OK)
    return BS_ERR("no config for %s (see `niobium bootstrap config list`)\n",
                  name[0] ? name : "the default");
  return NB_EXIT_OK;
}

static int evidence(nb_bs_store *st, const bs_opts *o, const char *ep) {
  char *json = NULL;
  if (o->api) {
    char path[600];
    int rc = api_path("/api/bootstrap/evidence", ep, "", path, sizeof path);
    return rc == NB_EXIT_OK ? api_call(o, "GET", path, NULL) : rc;
  }
  nb_err e = st ? nb_bs_store_evidence_json(st, ep, &json) : NB_OK;
  int rc = e == NB_OK ? write_text(o->out, json ? json : "[]")
                      : BS_ERR("cannot read the evidence: %s\n", nb_strerror(e));
  free(json);
  return rc;
}

typedef enum { DB_READ, DB_CHANGE, DB_CREATE } db_use;

/* What a command does to the database: only reads (never creating it), changes what must
 * already be there, or may be the first to write (creating it). evidence changes: its first
 * open purges the signed rows an older version kept with a key inside (never handed out). */
static db_use use_of(const char *verb, const char *sub) {
  bool config = strcmp(verb, "config") == 0, expect = strcmp(verb, "expect") == 0;
  if (strcmp(verb, "pending") == 0 ||
      (config && sub && (strcmp(sub, "list") == 0 || strcmp(sub, "export") == 0)) ||
      (expect && sub && strcmp(sub, "list") == 0))
    return DB_READ;
  if ((config && sub && (strcmp(sub, "add") == 0 || strcmp(sub, "import") == 0)) ||
      (expect && !sub))
    return DB_CREATE;
  return DB_CHANGE;
}

/* Opens --db as the command needs it; *st stays NULL for a read of a database that holds no
 * bootstrap tables yet (a server's, before any bootstrap config: empty lists). */
static int open_store(const bs_opts *o, db_use use, nb_bs_store **st) {
  char why[768];
  *st = NULL;
  if (use != DB_CREATE && nb_dbfile_require(o->db, why, sizeof why) != NB_OK)
    return BS_ERR("%s\n", why);
  /* Keys: 0600 or nothing, for a read too (an existing file is never created here). */
  if (nb_privfile_prepare_db(o->db, why, sizeof why) != NB_OK) return BS_ERR("%s\n", why);
  nb_err e;
  if (use == DB_READ) {
    e = nb_bs_store_open_readonly(o->db, st);
    if (e == NB_ERR_NOT_FOUND) return NB_EXIT_OK;
  } else {
    e = nb_bs_store_open(o->db, st);
  }
  if (e == NB_OK) return NB_EXIT_OK;
  nb_dbfile_explain(o->db, why, sizeof why);
  return BS_ERR("%s\n", why);
}

int nb_bs_ops_run(const bs_opts *o, int argc, char **argv) {
  const char *verb = argv[0], *sub = argc > 1 ? argv[1] : NULL, *arg = argc > 2 ? argv[2] : NULL;
  bool config = strcmp(verb, "config") == 0, expect = strcmp(verb, "expect") == 0;
  nb_bs_store *st = NULL;
  if (!o->api) {
    int rc = open_store(o, use_of(verb, sub), &st);
    if (rc != NB_EXIT_OK) return rc;
  }
  int rc;
  if (config && sub && strcmp(sub, "add") == 0)
    rc = config_add(st, o);
  else if (config && sub && strcmp(sub, "list") == 0)
    rc = list_cmd(st, o, LIST_CONFIGS);
  else if (config && sub && strcmp(sub, "rm") == 0)
    rc = config_rm(st, o);
  else if (config && sub && strcmp(sub, "export") == 0)
    rc = o->api ? BS_USAGE(
                      "config export needs --db: the API never hands out the keys an "
                      "export holds\n")
                : config_export(st, arg);
  else if (config && sub && strcmp(sub, "import") == 0 && arg)
    rc = config_import(st, o, arg);
  else if (strcmp(verb, "pending") == 0)
    rc = list_cmd(st, o, LIST_PENDING);
  else if ((strcmp(verb, "approve") == 0 || strcmp(verb, "reject") == 0) && sub)
    rc = decide(st, o, verb, sub);
  else if (expect && sub && strcmp(sub, "list") == 0)
    rc = list_cmd(st, o, LIST_EXPECTED);
  else if (expect && sub && strcmp(sub, "rm") == 0)
    rc = expect_rm(st, o);
  else if (expect && !sub)
    rc = expect_put(st, o);
  else if (strcmp(verb, "evidence") == 0 && sub)
    rc = evidence(st, o, sub);
  else
    rc = BS_USAGE("unknown command '%s%s%s' (see `niobium bootstrap --help`)\n", verb,
                  sub ? " " : "", sub ? sub : "");
  nb_bs_store_close(st);
  return rc;
}
