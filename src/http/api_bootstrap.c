/* Bootstrap routes: see api_bootstrap.h. The engine says what is pending; the store keeps the
 * configs, the expected keys, where and since when a request waits, and the evidence. */
#include "http/api_bootstrap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtls/cred.h"
#include "http/api_ctx.h"
#include "http/api_feed.h"

static nb_http_bs *host_of(const nb_http_req *rq) { return nb_api_of(rq)->bootstrap; }

/* The {name} of the route: "default" names the default config (""), other names are
 * endpoints; false when it does not fit. */
static bool name_param(const nb_http_req *rq, char *ep) {
  if (!nb_route_param(&rq->params, 0, ep, NB_BS_EP_MAX)) return false;
  if (strcmp(ep, "default") == 0) ep[0] = '\0';
  return true;
}

/* An endpoint's name (the default config excluded). */
static bool ep_param(const nb_http_req *rq, char *ep) { return name_param(rq, ep) && ep[0]; }

/* A name to store: the default config, or an endpoint name registration would take. */
static bool storable(const char *ep) { return !ep[0] || nb_api_ep_valid(ep); }

/* ---- configs ---- */

/* A config as the API shows it: a PSK an operator set is a secret, so only its presence is
 * shown, as for /api/security/clients (export through the CLI keeps it for backups). */
static json_t *config_json(const nb_bs_config *c) {
  char *text = NULL;
  if (nb_bs_config_to_public_json(c, &text) != NB_OK) return NULL;
  json_t *j = json_loads(text, 0, NULL);
  free(text);
  return j;
}

static nb_err offer_config(void *user, const nb_bs_config *c) {
  nb_page_keys_offer(user, c->ep);
  return NB_OK;
}

/* GET /api/bootstrap/configs: by name (the default config, "", first), a page at a time. */
enum MHD_Result nb_api_bs_configs_list(nb_http_req *rq) {
  nb_bs_store *st = nb_http_bs_store(host_of(rq));
  nb_page_keys page;
  enum MHD_Result ret;
  if (!nb_http_key_page(rq, &page, &ret)) return ret;
  if (nb_bs_store_config_each(st, offer_config, &page) != NB_OK) {
    nb_page_keys_deinit(&page);
    return nb_http_reply_error(rq, 500, "cannot read the configs", "5.00");
  }
  nb_page_keys_finish(&page);
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < page.n; i++) {
    nb_bs_config cfg;
    if (nb_bs_store_config_get(st, page.keys[i], &cfg) == NB_OK)
      json_array_append_new(arr, config_json(&cfg));
  }
  return nb_http_reply_key_page(rq, arr, &page);
}

enum MHD_Result nb_api_bs_config_get(nb_http_req *rq) {
  char ep[NB_BS_EP_MAX];
  if (!name_param(rq, ep)) return nb_http_reply_error(rq, 404, "not found", "4.04");
  nb_bs_config cfg;
  if (nb_bs_store_config_get(nb_http_bs_store(host_of(rq)), ep, &cfg) != NB_OK)
    return nb_http_reply_error(rq, 404, "no config for this endpoint", "4.04");
  return nb_http_reply_json(rq, 200, config_json(&cfg));
}

enum MHD_Result nb_api_bs_config_put(nb_http_req *rq) {
  nb_bs_store *st = nb_http_bs_store(host_of(rq));
  char ep[NB_BS_EP_MAX];
  if (!name_param(rq, ep)) return nb_http_reply_error(rq, 404, "not found", "4.04");
  if (!storable(ep)) return nb_http_reply_error(rq, 400, NB_API_EP_RULE, "4.00");
  nb_bs_config cfg;
  char why[160] = "";
  if (nb_bs_config_from_json(rq->body ? rq->body : "", &cfg, why, sizeof why) != NB_OK)
    return nb_http_reply_error(rq, 400, why[0] ? why : "bad bootstrap config", "4.00");
  snprintf(cfg.ep, sizeof cfg.ep, "%s", ep); /* the URL names the endpoint */
  nb_bs_config old;
  bool existed = nb_bs_store_config_get(st, ep, &old) == NB_OK;
  if (nb_bs_store_config_put(st, &cfg) != NB_OK)
    return nb_http_reply_error(rq, 500, "the store refused the config", "5.00");
  return nb_http_reply_json(rq, existed ? 200 : 201, config_json(&cfg));
}

enum MHD_Result nb_api_bs_config_delete(nb_http_req *rq) {
  char ep[NB_BS_EP_MAX];
  if (!name_param(rq, ep)) return nb_http_reply_error(rq, 404, "not found", "4.04");
  if (nb_bs_store_config_del(nb_http_bs_store(host_of(rq)), ep) != NB_OK)
    return nb_http_reply_error(rq, 404, "no config for this endpoint", "4.04");
  return nb_http_reply_json(rq, 200, json_pack("{s:s}", "deleted", ep[0] ? ep : "default"));
}

/* ---- pending requests ---- */

/* A page of names whose rows a second walk fills in: slot i for the page's name i. */
typedef struct {
  nb_page_keys page;
  json_t **slots;
} key_rows;

static void offer_ep(void *user, const char *ep) { nb_page_keys_offer(user, ep); }

static json_t **row_of(key_rows *k, const char *ep) {
  long i = nb_page_keys_find(&k->page, ep);
  return i >= 0 ? &k->slots[i] : NULL;
}

/* What a pending request waits for (docs/openapi.yaml). */
static const char *pending_state(nb_bs_pend_state st) {
  return st == NB_BS_PEND_GONE       ? "request-gone"
         : st == NB_BS_PEND_APPROVED ? "approved"
                                     : "waiting";
}

static nb_err add_pending(void *user, const char *ep, const char *peer, int64_t at,
                          const char *decision) {
  (void)decision;
  json_t **slot = row_of(user, ep);
  if (slot && !*slot)
    *slot = json_pack("{s:s,s:s,s:I}", "endpoint", ep, "peer", peer, "since", (json_int_t)at);
  return NB_OK;
}

/* Every row of the page says what its request waits for, as the engine knows it. */
static void add_states(key_rows *k, const nb_bs_engine *bs) {
  for (size_t i = 0; i < k->page.n; i++) {
    if (!k->slots[i]) k->slots[i] = json_pack("{s:s}", "endpoint", k->page.keys[i]);
    if (k->slots[i])
      json_object_set_new(
          k->slots[i], "state",
          json_string(pending_state(nb_bs_engine_pending_state(bs, k->page.keys[i]))));
  }
}

/* The page's rows in order (a row not filled in: {"endpoint"} alone); frees the slots. */
static enum MHD_Result reply_rows(nb_http_req *rq, key_rows *k) {
  json_t *arr = json_array();
  for (size_t i = 0; i < k->page.n; i++) {
    json_t *row = k->slots[i] ? k->slots[i] : json_pack("{s:s}", "endpoint", k->page.keys[i]);
    if (arr) json_array_append_new(arr, row);
  }
  free(k->slots);
  return nb_http_reply_key_page(rq, arr, &k->page);
}

static bool rows_start(nb_http_req *rq, key_rows *k, enum MHD_Result *ret) {
  if (!nb_http_key_page(rq, &k->page, ret)) return false;
  if ((k->slots = calloc(k->page.limit, sizeof(json_t *)))) return true;
  nb_page_keys_deinit(&k->page);
  *ret = nb_http_reply_error(rq, 500, "out of memory", "5.00");
  return false;
}

/* GET /api/bootstrap/pending: the engine says what is pending; the store adds where from and
 * since when. By name, a page at a time. */
enum MHD_Result nb_api_bs_pending_list(nb_http_req *rq) {
  nb_http_bs *h = host_of(rq);
  key_rows k;
  enum MHD_Result ret;
  if (!rows_start(rq, &k, &ret)) return ret;
  nb_bs_engine_pending_each(nb_http_bs_engine(h), offer_ep, &k.page);
  nb_page_keys_finish(&k.page);
  nb_bs_store_pending_each(nb_http_bs_store(h), add_pending, &k);
  add_states(&k, nb_http_bs_engine(h));
  return reply_rows(rq, &k);
}

static enum MHD_Result decide(nb_http_req *rq, bool approve) {
  char ep[NB_BS_EP_MAX];
  if (!ep_param(rq, ep)) return nb_http_reply_error(rq, 404, "not found", "4.04");
  nb_http_bs *h = host_of(rq);
  bool gone = nb_bs_engine_pending_state(nb_http_bs_engine(h), ep) >= NB_BS_PEND_GONE;
  nb_err e = nb_http_bs_decide(h, ep, approve);
  if (e == NB_ERR_NOT_FOUND)
    return nb_http_reply_error(rq, 404, "this endpoint is not pending", "4.04");
  if (e != NB_OK) return nb_http_reply_error(rq, 500, nb_strerror(e), "5.00");
  /* A request a restart dropped: the approval waits for the device's next request. */
  return nb_http_reply_json(
      rq, 200,
      json_pack("{s:s,s:s,s:s}", "endpoint", ep, "decision", approve ? "approved" : "rejected",
                "applies", gone && approve ? "next-request" : "now"));
}

enum MHD_Result nb_api_bs_approve(nb_http_req *rq) { return decide(rq, true); }

enum MHD_Result nb_api_bs_reject(nb_http_req *rq) { return decide(rq, false); }

/* ---- expected keys ---- */

static nb_err offer_expected(void *user, const char *ep) {
  nb_page_keys_offer(user, ep);
  return NB_OK;
}

/* GET /api/bootstrap/expected: the credentials devices must present (secure IDs registered
 * with `expect`, factory PSKs, fresh bootstrap-account keys), by name; identities only. */
enum MHD_Result nb_api_bs_expected_list(nb_http_req *rq) {
  nb_bs_store *st = nb_http_bs_store(host_of(rq));
  nb_page_keys page;
  enum MHD_Result ret;
  if (!nb_http_key_page(rq, &page, &ret)) return ret;
  if (nb_bs_store_expected_each(st, offer_expected, &page) != NB_OK) {
    nb_page_keys_deinit(&page);
    return nb_http_reply_error(rq, 500, "cannot read the expected keys", "5.00");
  }
  nb_page_keys_finish(&page);
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < page.n; i++) {
    json_t *row = nb_bs_store_expected_json(st, page.keys[i]);
    if (row) json_array_append_new(arr, row);
  }
  return nb_http_reply_key_page(rq, arr, &page);
}

/* {"secureId": "30 hex digits" | "nb:sid:..."} or {"pskIdentity": "...", "pskKey": "hex"}. */
static bool expected_from_json(const json_t *b, const char *ep, nb_server_sec_info *c, char *why,
                               size_t cap) {
  const json_t *sid = json_object_get(b, "secureId"), *pid = json_object_get(b, "pskIdentity");
  const json_t *key = json_object_get(b, "pskKey");
  if (!json_is_object(b) || (sid != NULL) == (pid != NULL || key != NULL)) {
    snprintf(why, cap,
             "body must be {\"secureId\": \"<30 hex digits>\"} or {\"pskIdentity\": \"...\", "
             "\"pskKey\": \"<hex>\"}");
    return false;
  }
  if (sid) return nb_bs_expected_secure_id(ep, json_string_value(sid), c, why, cap) == NB_OK;
  /* An identity with a NUL inside is not the identity a handshake would carry. */
  if (json_is_string(pid) && strlen(json_string_value(pid)) != json_string_length(pid)) pid = NULL;
  return nb_bs_expected_psk(ep, json_string_value(pid), json_string_value(key), c, why, cap) ==
         NB_OK;
}

/* PUT /api/bootstrap/expected/{ep}: registers the device's secure ID or its factory PSK. */
enum MHD_Result nb_api_bs_expected_put(nb_http_req *rq) {
  char ep[NB_BS_EP_MAX], why[320], owner[NB_BS_EP_MAX];
  if (!ep_param(rq, ep)) return nb_http_reply_error(rq, 404, "not found", "4.04");
  if (!storable(ep)) return nb_http_reply_error(rq, 400, NB_API_EP_RULE, "4.00");
  json_t *b = json_loadb(rq->body ? rq->body : "", rq->body_len, 0, NULL);
  nb_server_sec_info c;
  bool ok = expected_from_json(b, ep, &c, why, sizeof why);
  json_decref(b); /* it held the key */
  if (!ok) return nb_http_reply_error(rq, 400, why, "4.00");
  nb_bs_store *st = nb_http_bs_store(host_of(rq));
  nb_err e = nb_bs_store_expect_put(st, &c, owner);
  bool psk = c.kind == NB_SERVER_ID_PSK;
  memset(&c, 0, sizeof c);
  nb_api_audit(rq, psk ? "bootstrap-expect-psk" : "bootstrap-expect", ep, NULL,
               e == NB_OK           ? "2.04"
               : e == NB_ERR_EXISTS ? "4.09"
                                    : "5.00");
  if (e == NB_ERR_EXISTS) {
    snprintf(why, sizeof why,
             "this %s is already registered for endpoint %s (each device needs its own)",
             psk ? "PSK identity" : "secure ID", owner);
    return nb_http_reply_error(rq, 409, why, "4.09");
  }
  if (e != NB_OK) return nb_http_reply_error(rq, 500, "the store refused the credential", "5.00");
  return nb_http_reply_json(rq, 200, nb_bs_store_expected_json(st, ep));
}

enum MHD_Result nb_api_bs_expected_delete(nb_http_req *rq) {
  char ep[NB_BS_EP_MAX];
  if (!ep_param(rq, ep)) return nb_http_reply_error(rq, 404, "not found", "4.04");
  nb_err e = nb_bs_store_expect_del(nb_http_bs_store(host_of(rq)), ep);
  nb_api_audit(rq, "bootstrap-unexpect", ep, NULL, e == NB_OK ? "2.02" : "4.04");
  if (e != NB_OK)
    return nb_http_reply_error(rq, 404, "nothing registered for this endpoint", "4.04");
  return nb_http_reply_json(rq, 200, json_pack("{s:s}", "deleted", ep));
}

/* ---- evidence ---- */

enum MHD_Result nb_api_bs_evidence(nb_http_req *rq) {
  char ep[NB_BS_EP_MAX], *text = NULL;
  if (!ep_param(rq, ep))
    return nb_http_reply_error(rq, 404, "not found (use /api/bootstrap/evidence/{endpoint})",
                               "4.04");
  if (nb_bs_store_evidence_json(nb_http_bs_store(host_of(rq)), ep, &text) != NB_OK)
    return nb_http_reply_error(rq, 500, "cannot read the evidence", "5.00");
  json_t *j = json_loads(text, 0, NULL);
  free(text);
  if (!j) return nb_http_reply_error(rq, 500, "out of memory", "5.00");
  return nb_http_reply_json(rq, 200, j);
}
