/* The remote security store: see remote_store.h. */
#include "http/remote_store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"
#include "base/log.h"

#define MOD "bootstrap"

struct nb_http_remote_store {
  char *base, *token, *ca_file;
  unsigned timeout_ms;
};

nb_err nb_http_remote_store_new(const char *base, const char *token, const char *ca_file,
                                unsigned timeout_ms, nb_http_remote_store **out) {
  if (!base || (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0))
    return NB_ERR_INVAL;
  nb_http_remote_store *rs = calloc(1, sizeof *rs);
  if (!rs) return NB_ERR_NOMEM;
  size_t n = strlen(base);
  while (n > 0 && base[n - 1] == '/') n--; /* "http://h:1/" and "http://h:1" alike */
  rs->base = strndup(base, n);
  rs->token = token ? strdup(token) : NULL;
  rs->ca_file = ca_file ? strdup(ca_file) : NULL;
  rs->timeout_ms = timeout_ms ? timeout_ms : 5000;
  if (!rs->base || (token && !rs->token) || (ca_file && !rs->ca_file)) {
    nb_http_remote_store_free(rs);
    return NB_ERR_NOMEM;
  }
  *out = rs;
  return NB_OK;
}

void nb_http_remote_store_free(nb_http_remote_store *rs) {
  if (!rs) return;
  free(rs->base);
  free(rs->ca_file);
  if (rs->token) memset(rs->token, 0, strlen(rs->token));
  free(rs->token);
  free(rs);
}

static nb_http_request rs_request(const nb_http_remote_store *rs, const char *method,
                                  const char *url, const char *body);

nb_err nb_http_remote_store_probe(const nb_http_remote_store *rs, unsigned timeout_ms, char *why,
                                  size_t cap) {
  char url[1024];
  if ((size_t)snprintf(url, sizeof url, "%s/api/security/clients?limit=1", rs->base) >= sizeof url)
    return NB_ERR_OVERFLOW;
  nb_http_request rq = rs_request(rs, "GET", url, NULL);
  rq.timeout_ms = timeout_ms;
  long status = 0;
  nb_err e = nb_http_fetch(&rq, &status, NULL, why, cap);
  if (e != NB_OK) return e;
  if (status == 401 || status == 403) return NB_ERR_DENIED;
  if (status != 200) {
    snprintf(why, cap, "it answered HTTP %ld to GET /api/security/clients", status);
    return NB_ERR_IO;
  }
  return NB_OK;
}

/* base + "/api/security/clients/" + the endpoint name percent-encoded. */
static nb_err rs_url(const nb_http_remote_store *rs, const char *ep, char *out, size_t cap) {
  int n = snprintf(out, cap, "%s/api/security/clients/", rs->base);
  if (n < 0 || (size_t)n >= cap) return NB_ERR_OVERFLOW;
  return nb_http_url_escape(ep, out + n, cap - (size_t)n);
}

static nb_http_request rs_request(const nb_http_remote_store *rs, const char *method,
                                  const char *url, const char *body) {
  nb_http_request rq = {.method = method,
                        .url = url,
                        .bearer_token = rs->token,
                        .body = body,
                        .body_len = body ? strlen(body) : 0,
                        .timeout_ms = rs->timeout_ms,
                        .ca_file = rs->ca_file};
  return rq;
}

/* The body /api/security/clients takes (the API's own format; keys as hex). */
static char *rs_body(const nb_server_sec_info *s) {
  char hex[NB_SERVER_KEY_MAX * 2 + 1];
  json_t *j = NULL;
  if (s->kind == NB_SERVER_ID_PSK)
    j = json_pack("{s:s,s:s,s:s}", "mode", "psk", "identity", s->identity, "key",
                  nb_hex_encode(s->key, s->key_len, hex));
  else if (s->kind == NB_SERVER_ID_RPK)
    j = json_pack("{s:s,s:s}", "mode", "rpk", "publicKey", nb_hex_encode(s->key, s->key_len, hex));
  else if (s->kind == NB_SERVER_ID_X509)
    j = json_pack("{s:s,s:s}", "mode", "x509", "identity", s->identity);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  memset(hex, 0, sizeof hex);
  return text;
}

/* What an answer's status means for a PUT (200/201) or a DELETE (200; 404 NOT_FOUND). */
static nb_err rs_status(bool put, const char *ep, long status) {
  if (put ? status == 200 || status == 201 : status == 200) return NB_OK;
  if (!put && status == 404) return NB_ERR_NOT_FOUND;
  bool denied = status == 401 || status == 403;
  NB_LOG_WARN(MOD, "event=server-api-refused method=%s ep=%s status=%ld reason=\"%s\"",
              put ? "PUT" : "DELETE", ep, status,
              denied ? "the server API refused the token: give --server-api-token the server's "
                       "--api-token"
                     : "the server API did not store the credential");
  return denied ? NB_ERR_DENIED : NB_ERR_IO;
}

static void rs_body_free(char *body) {
  if (!body) return;
  memset(body, 0, strlen(body)); /* holds the PSK */
  free(body);
}

typedef struct {
  nb_http_remote_done_fn done;
  void *user;
  uint64_t ticket;
  bool put;
  char ep[NB_SERVER_EP_MAX];
} rs_pending;

static void rs_install_done(void *user, const nb_http_response *res) {
  rs_pending *p = user;
  nb_err e = res->err;
  if (e == NB_OK) {
    e = rs_status(p->put, p->ep, res->status);
    if (e == NB_ERR_NOT_FOUND) e = NB_OK; /* nothing to drop */
  } else {
    NB_LOG_WARN(MOD, "event=server-api-failed method=%s ep=%s err=%s why=\"%s\"",
                p->put ? "PUT" : "DELETE", p->ep, nb_err_name(e), res->error ? res->error : "");
  }
  p->done(p->user, p->ticket, e);
  free(p);
}

nb_err nb_http_remote_store_install(nb_http_remote_store *rs, nb_http_client *client,
                                    uint64_t ticket, const char *ep, const nb_server_sec_info *cred,
                                    nb_http_remote_done_fn done, void *user) {
  if (!rs || !client || !ep || !cred || !done) return NB_ERR_INVAL;
  char url[1024];
  nb_err e = rs_url(rs, ep, url, sizeof url);
  if (e != NB_OK) return e;
  rs_pending *p = calloc(1, sizeof *p);
  if (!p) return NB_ERR_NOMEM;
  *p = (rs_pending){.done = done, .user = user, .ticket = ticket};
  p->put = cred->kind != NB_SERVER_ID_NONE;
  snprintf(p->ep, sizeof p->ep, "%s", ep);
  char *body = p->put ? rs_body(cred) : NULL;
  if (p->put && !body) e = NB_ERR_NOMEM;
  nb_http_request rq = rs_request(rs, p->put ? "PUT" : "DELETE", url, body);
  if (e == NB_OK) e = nb_http_client_request(client, &rq, rs_install_done, p); /* copies body */
  rs_body_free(body);
  if (e != NB_OK) free(p);
  return e;
}
