/* Security credential routes: see api_security.h. A PSK key is a secret: it goes into the
 * store and is wiped from every buffer here, and answers only show that one is set. */
#include "http/api_security.h"

#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/hex.h"
#include "dtls/cred.h"
#include "dtls/keys.h"
#include "http/api_ctx.h"
#include "http/api_feed.h"

/* PSK keys are secrets: never shown, only their presence. */
static json_t *sec_json(const nb_server_sec_info *s) {
  json_t *j = json_pack("{s:s,s:s,s:s}", "endpoint", s->ep, "mode", nb_server_id_kind_name(s->kind),
                        "identity", s->identity);
  if (j && s->kind == NB_SERVER_ID_RPK) {
    char hex[NB_SERVER_KEY_MAX * 2 + 1];
    json_object_set_new(j, "publicKey", json_string(nb_hex_encode(s->key, s->key_len, hex)));
  }
  return j;
}

static nb_err offer_sec(void *user, const nb_server_sec_info *s) {
  nb_page_keys_offer(user, s->ep);
  return NB_OK;
}

/* A P-256 SubjectPublicKeyInfo, nothing more and nothing less: GnuTLS imports it and writes
 * back the very same DER (a truncated key, or one with bytes after it, is refused). */
static bool spki_p256_exact(const uint8_t *der, size_t len) {
  nb_bytes canon;
  nb_bytes_init(&canon);
  bool ok = nb_dtls_spki_is_p256(der, len) && nb_dtls_spki_load(der, len, &canon) == NB_OK &&
            canon.len == len && memcmp(canon.data, der, len) == 0;
  nb_bytes_free(&canon);
  return ok;
}

/* Non-empty strict hex. */
static bool unhex(const char *s, uint8_t *out, size_t cap, size_t *len) {
  return nb_hex_decode(s, strlen(s), NULL, out, cap, len) == NB_OK && *len > 0;
}

/* {"mode": "psk", "identity": "...", "key": "hex"} | {"mode": "rpk", "publicKey": "hex SPKI"}
 * | {"mode": "x509", "identity": "subject CN"} */
static bool sec_from_json(const json_t *b, const char *ep, nb_server_sec_info *s, char *reason,
                          size_t cap) {
  memset(s, 0, sizeof(*s));
  const char *mode = json_string_value(json_object_get(b, "mode"));
  const char *id = json_string_value(json_object_get(b, "identity"));
  const char *key = json_string_value(json_object_get(b, "key"));
  const char *pub = json_string_value(json_object_get(b, "publicKey"));
  if (!nb_api_ep_valid(ep)) {
    snprintf(reason, cap, "%s", NB_API_EP_RULE);
    return false;
  }
  snprintf(s->ep, sizeof(s->ep), "%s", ep);
  if (!mode || nb_server_id_kind_parse(mode, &s->kind) != NB_OK || s->kind == NB_SERVER_ID_NONE) {
    snprintf(reason, cap, "mode must be psk, rpk or x509");
    return false;
  }
  if (s->kind == NB_SERVER_ID_PSK) {
    if (!id || !id[0] || strlen(id) >= sizeof(s->identity) || !key ||
        !unhex(key, s->key, sizeof(s->key), &s->key_len)) {
      snprintf(reason, cap, "psk needs \"identity\" and \"key\" (hex, 1..%d bytes)",
               NB_SERVER_KEY_MAX);
      return false;
    }
    snprintf(s->identity, sizeof(s->identity), "%s", id);
  } else if (s->kind == NB_SERVER_ID_RPK) {
    char sid[NB_DTLS_SECURE_ID_LEN + 1];
    if (!pub || !unhex(pub, s->key, sizeof(s->key), &s->key_len) ||
        !spki_p256_exact(s->key, s->key_len) ||
        nb_dtls_secure_id(s->key, s->key_len, sid) != NB_OK) {
      snprintf(reason, cap,
               "rpk needs \"publicKey\": a whole P-256 SubjectPublicKeyInfo, DER in hex");
      return false;
    }
    snprintf(s->identity, sizeof(s->identity), "%s", sid);
  } else {
    if (!id || !id[0] || strlen(id) >= sizeof(s->identity)) {
      snprintf(reason, cap, "x509 needs \"identity\": the certificate subject CN");
      return false;
    }
    snprintf(s->identity, sizeof(s->identity), "%s", id);
  }
  return true;
}

/* The endpoint of /api/security/clients/{ep}; false when it is too long. */
static bool ep_param(const nb_http_req *rq, char *ep) {
  return nb_route_param(&rq->params, 0, ep, NB_SERVER_EP_MAX);
}

/* PUT (ep_in from the URL) or POST (the body's "endpoint"). */
static enum MHD_Result security_store(nb_http_req *rq, const char *ep_in) {
  const nb_server_store *st = &nb_api_of(rq)->store;
  char reason[160];
  json_t *body = nb_http_req_json(rq, reason, sizeof(reason));
  if (!body) return nb_http_reply_error(rq, 400, reason, "4.00");
  const char *ep = ep_in ? ep_in : json_string_value(json_object_get(body, "endpoint"));
  nb_server_sec_info s, old;
  bool ok = json_is_object(body) && sec_from_json(body, ep ? ep : "", &s, reason, sizeof(reason));
  json_decref(body);
  if (!ok) return nb_http_reply_error(rq, 400, reason, "4.00");
  bool existed = st->ops->sec_get(st->self, s.ep, &old) == NB_OK;
  memset(&old, 0, sizeof(old));
  /* An identity is one device's: the handshake finds the endpoint by it. */
  if (st->ops->sec_find(st->self, s.kind, s.identity, &old) == NB_OK && strcmp(old.ep, s.ep) != 0) {
    snprintf(reason, sizeof(reason), "this identity already belongs to endpoint %.100s", old.ep);
    memset(&old, 0, sizeof(old));
    memset(&s, 0, sizeof(s));
    return nb_http_reply_error(rq, 409, reason, "4.09");
  }
  nb_err rc = st->ops->sec_put(st->self, &s);
  json_t *j = sec_json(&s);
  memset(&s, 0, sizeof(s)); /* the PSK */
  nb_api_audit(rq, "security-put", json_string_value(json_object_get(j, "endpoint")), NULL,
               rc == NB_OK ? (existed ? "2.04" : "2.01") : "5.00");
  if (rc != NB_OK) {
    json_decref(j);
    return nb_http_reply_error(rq, 500, "the store refused the credential", "5.00");
  }
  return nb_http_reply_json(rq, existed ? 200 : 201, j);
}

/* GET /api/security/clients: by endpoint name, a page at a time. */
enum MHD_Result nb_api_security_list(nb_http_req *rq) {
  const nb_server_store *st = &nb_api_of(rq)->store;
  nb_page_keys page;
  enum MHD_Result ret;
  if (!nb_http_key_page(rq, &page, &ret)) return ret;
  if (st->ops->sec_each(st->self, offer_sec, &page) != NB_OK) {
    nb_page_keys_deinit(&page);
    return nb_http_reply_error(rq, 500, "the store could not list the credentials", "5.00");
  }
  nb_page_keys_finish(&page);
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < page.n; i++) {
    nb_server_sec_info s;
    if (st->ops->sec_get(st->self, page.keys[i], &s) == NB_OK)
      json_array_append_new(arr, sec_json(&s));
    memset(&s, 0, sizeof(s)); /* the PSK */
  }
  return nb_http_reply_key_page(rq, arr, &page);
}

enum MHD_Result nb_api_security_post(nb_http_req *rq) { return security_store(rq, NULL); }

enum MHD_Result nb_api_security_put(nb_http_req *rq) {
  char ep[NB_SERVER_EP_MAX];
  if (!ep_param(rq, ep)) return nb_http_reply_error(rq, 404, "not found", "4.04");
  return security_store(rq, ep);
}

enum MHD_Result nb_api_security_get(nb_http_req *rq) {
  const nb_server_store *st = &nb_api_of(rq)->store;
  char ep[NB_SERVER_EP_MAX];
  if (!ep_param(rq, ep)) return nb_http_reply_error(rq, 404, "not found", "4.04");
  nb_server_sec_info s;
  nb_err rc = st->ops->sec_get(st->self, ep, &s);
  json_t *j = rc == NB_OK ? sec_json(&s) : NULL;
  memset(&s, 0, sizeof(s));
  if (rc != NB_OK && rc != NB_ERR_NOT_FOUND)
    return nb_http_reply_error(rq, 500, "the store could not read the credential", "5.00");
  if (!j) return nb_http_reply_error(rq, 404, "no credential for this endpoint", "4.04");
  return nb_http_reply_json(rq, 200, j);
}

enum MHD_Result nb_api_security_delete(nb_http_req *rq) {
  const nb_server_store *st = &nb_api_of(rq)->store;
  char ep[NB_SERVER_EP_MAX];
  if (!ep_param(rq, ep)) return nb_http_reply_error(rq, 404, "not found", "4.04");
  nb_server_sec_info s;
  nb_err rc = st->ops->sec_get(st->self, ep, &s);
  memset(&s, 0, sizeof(s));
  if (rc == NB_OK) rc = st->ops->sec_del(st->self, ep);
  bool gone = rc == NB_ERR_NOT_FOUND;
  nb_api_audit(rq, "security-delete", ep, NULL, rc == NB_OK ? "2.02" : gone ? "4.04" : "5.00");
  if (rc != NB_OK && !gone)
    return nb_http_reply_error(rq, 500, "the store could not delete the credential", "5.00");
  if (rc != NB_OK) return nb_http_reply_error(rq, 404, "no credential for this endpoint", "4.04");
  return nb_http_reply_json(rq, 200, json_pack("{s:s}", "deleted", ep));
}
