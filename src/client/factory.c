/* Factory bootstrap (Core 5.2.2): the accounts a device leaves the factory with, from a JSON
 * document (servers with their security, optional Access Control instances), or from a state
 * file of nb_client_save_state. Everything is checked before objects 0-2 change; errors name
 * the offending field and never quote a value, since most of them are secrets. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "client_int.h"

#define NB_FACTORY_MAX_ACL 64

/* One account of the file, with the bytes its params point into (owned). */
typedef struct {
  nb_client_server_params p;
  nb_bytes identity, secret, server_key;
} nb_fac_account;

typedef struct {
  uint16_t obj, inst, owner;
  uint16_t ssid[NB_CLIENT_MAX_SERVERS + 1];
  uint8_t rights[NB_CLIENT_MAX_SERVERS + 1];
  size_t n;
} nb_fac_acl;

typedef struct {
  nb_fac_account acc[NB_CLIENT_MAX_SERVERS + 1]; /* servers plus one bootstrap account */
  size_t nacc;
  nb_fac_acl acl[NB_FACTORY_MAX_ACL];
  size_t nacl;
  json_t *root; /* the document: the params' strings point into it */
  char *err;
  size_t cap;
} nb_fac;

static nb_err nb_fac_fail(nb_fac *f, const char *fmt, ...) {
  if (f->err && f->cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->err, f->cap, fmt, ap);
    va_end(ap);
  }
  return NB_ERR_INVAL;
}

static bool nb_fac_known(const char *key, const char *const *keys) {
  for (size_t i = 0; keys[i]; i++)
    if (strcmp(key, keys[i]) == 0) return true;
  return false;
}

/* A misspelt field would silently be ignored: refuse what we do not know. */
static nb_err nb_fac_only(nb_fac *f, json_t *obj, const char *where, const char *const *keys) {
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    (void)v;
    if (!nb_fac_known(key, keys)) return nb_fac_fail(f, "%s.%s: unknown field", where, key);
  }
  return NB_OK;
}

/* Integer field in [lo, hi]; absent: *out = dflt (required: an error). */
static nb_err nb_fac_int(nb_fac *f, json_t *obj, const char *where, const char *key, long long lo,
                         long long hi, bool required, long long dflt, long long *out) {
  json_t *v = json_object_get(obj, key);
  *out = dflt;
  if (!v) return required ? nb_fac_fail(f, "%s.%s: missing", where, key) : NB_OK;
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
    return nb_fac_fail(f, "%s.%s: must be an integer %lld..%lld", where, key, lo, hi);
  *out = json_integer_value(v);
  return NB_OK;
}

static nb_err nb_fac_bool(nb_fac *f, json_t *obj, const char *where, const char *key, bool *out) {
  json_t *v = json_object_get(obj, key);
  if (!v) return NB_OK;
  if (!json_is_boolean(v)) return nb_fac_fail(f, "%s.%s: must be true or false", where, key);
  *out = json_is_true(v);
  return NB_OK;
}

/* String field (NULL when absent). */
static nb_err nb_fac_str(nb_fac *f, json_t *obj, const char *where, const char *key,
                         const char **out) {
  json_t *v = json_object_get(obj, key);
  *out = NULL;
  if (!v) return NB_OK;
  if (!json_is_string(v) || json_string_length(v) == 0)
    return nb_fac_fail(f, "%s.%s: must be a non-empty string", where, key);
  *out = json_string_value(v);
  return NB_OK;
}

static int nb_fac_hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

static nb_err nb_fac_hex(nb_fac *f, const char *where, const char *key, const char *hex,
                         nb_bytes *out) {
  size_t n = strlen(hex);
  if (n % 2 || n / 2 > 64) return nb_fac_fail(f, "%s.%s: must be 1..64 bytes in hex", where, key);
  for (size_t i = 0; i < n; i += 2) {
    int hi = nb_fac_hexval(hex[i]), lo = nb_fac_hexval(hex[i + 1]);
    if (hi < 0 || lo < 0) return nb_fac_fail(f, "%s.%s: not hex digits", where, key);
    uint8_t b = (uint8_t)(hi << 4 | lo);
    if (nb_bytes_append(out, &b, 1) != NB_OK) return NB_ERR_NOMEM;
  }
  return NB_OK;
}

static nb_err nb_fac_text(nb_bytes *out, const char *s) {
  return nb_bytes_append(out, (const uint8_t *)s, strlen(s));
}

static const int nb_fac_no_mode = -1;

static int nb_fac_mode(const char *s) {
  static const char *const names[] = {"psk", "rpk", "x509", "nosec"};
  for (int i = 0; i < 4; i++)
    if (s && strcmp(s, names[i]) == 0) return i;
  return s ? nb_fac_no_mode : 3;
}

/* Keys of one account by security mode: which fields are required, which allowed. */
static nb_err nb_fac_keys(nb_fac *f, json_t *o, const char *w, nb_fac_account *a) {
  const char *psk_id, *psk_key, *key, *cert, *srv_key, *sid;
  nb_err e = nb_fac_str(f, o, w, "psk_identity", &psk_id);
  if (e == NB_OK) e = nb_fac_str(f, o, w, "psk_key", &psk_key);
  if (e == NB_OK) e = nb_fac_str(f, o, w, "private_key", &key);
  if (e == NB_OK) e = nb_fac_str(f, o, w, "certificate", &cert);
  if (e == NB_OK) e = nb_fac_str(f, o, w, "server_key", &srv_key);
  if (e == NB_OK) e = nb_fac_str(f, o, w, "server_secure_id", &sid);
  if (e == NB_OK) e = nb_fac_bool(f, o, w, "trust_anchor", &a->p.trust_anchor);
  if (e != NB_OK) return e;
  int m = a->p.security_mode;
  bool psk = psk_id || psk_key, rpk = sid != NULL, x509 = cert || a->p.trust_anchor;
  if (m != 0 && psk) return nb_fac_fail(f, "%s: psk_identity/psk_key need security psk", w);
  if (m != 1 && rpk) return nb_fac_fail(f, "%s.server_secure_id: needs security rpk", w);
  if (m != 2 && x509) return nb_fac_fail(f, "%s: certificate/trust_anchor need security x509", w);
  if (m == 3 && (key || srv_key)) return nb_fac_fail(f, "%s: nosec takes no keys", w);
  if (m == 0) {
    if (!psk_id) return nb_fac_fail(f, "%s.psk_identity: missing", w);
    if (!psk_key) return nb_fac_fail(f, "%s.psk_key: missing", w);
    e = nb_fac_text(&a->identity, psk_id);
    if (e == NB_OK) e = nb_fac_hex(f, w, "psk_key", psk_key, &a->secret);
    return e;
  }
  if (m == 3) return NB_OK;
  if (!key) return nb_fac_fail(f, "%s.private_key: missing (PEM text)", w);
  if (m == 1 && !srv_key == !sid)
    return nb_fac_fail(f, "%s: rpk needs one of server_key and server_secure_id", w);
  if (m == 2 && !cert) return nb_fac_fail(f, "%s.certificate: missing (PEM text)", w);
  if (m == 2 && !srv_key) return nb_fac_fail(f, "%s.server_key: missing (PEM text)", w);
  e = nb_fac_text(&a->secret, key);
  if (e == NB_OK) e = nb_fac_text(&a->identity, m == 2 ? cert : key);
  if (e == NB_OK) e = nb_fac_text(&a->server_key, srv_key ? srv_key : sid);
  return e;
}

static nb_err nb_fac_account_parse(nb_fac *f, json_t *o, size_t idx) {
  static const char *const keys[] = {
      "uri",          "bootstrap", "ssid",        "lifetime",    "binding",    "security",
      "psk_identity", "psk_key",   "private_key", "certificate", "server_key", "server_secure_id",
      "trust_anchor", "pmin",      "pmax",        NULL};
  char w[32];
  snprintf(w, sizeof w, "servers[%zu]", idx);
  if (!json_is_object(o)) return nb_fac_fail(f, "%s: must be an object", w);
  if (f->nacc == NB_CLIENT_MAX_SERVERS + 1)
    return nb_fac_fail(f, "%s: more than %d accounts", w, NB_CLIENT_MAX_SERVERS + 1);
  nb_fac_account *a = &f->acc[f->nacc++];
  nb_client_server_params *p = &a->p;
  const char *mode;
  long long ssid, lt, pmin, pmax;
  nb_err e = nb_fac_only(f, o, w, keys);
  if (e == NB_OK) e = nb_fac_str(f, o, w, "uri", &p->uri);
  if (e == NB_OK && !p->uri) e = nb_fac_fail(f, "%s.uri: missing", w);
  if (e == NB_OK) e = nb_fac_bool(f, o, w, "bootstrap", &p->bootstrap);
  if (e == NB_OK) e = nb_fac_int(f, o, w, "ssid", 1, 65534, !p->bootstrap, 0, &ssid);
  if (e == NB_OK) e = nb_fac_int(f, o, w, "lifetime", 1, 0xFFFFFFFFLL, false, 86400, &lt);
  if (e == NB_OK) e = nb_fac_int(f, o, w, "pmin", 0, 0xFFFFFFFFLL, false, 0, &pmin);
  if (e == NB_OK) e = nb_fac_int(f, o, w, "pmax", 0, 0xFFFFFFFFLL, false, 0, &pmax);
  if (e == NB_OK) e = nb_fac_str(f, o, w, "binding", &p->binding);
  if (e == NB_OK) e = nb_fac_str(f, o, w, "security", &mode);
  if (e != NB_OK) return e;
  bool secure = strncmp(p->uri, "coaps://", 8) == 0;
  if (!secure && strncmp(p->uri, "coap://", 7) != 0)
    return nb_fac_fail(f, "%s.uri: must start with coap:// or coaps://", w);
  if (p->binding && strcmp(p->binding, "U") != 0 && strcmp(p->binding, "UQ") != 0)
    return nb_fac_fail(f, "%s.binding: must be U or UQ", w);
  if (p->bootstrap && json_object_get(o, "ssid"))
    return nb_fac_fail(f, "%s.ssid: a bootstrap account has none", w);
  if (pmax && pmin > pmax) return nb_fac_fail(f, "%s.pmin: above pmax", w);
  p->security_mode = nb_fac_mode(mode);
  if (p->security_mode == nb_fac_no_mode)
    return nb_fac_fail(f, "%s.security: must be nosec, psk, rpk or x509", w);
  if (secure != (p->security_mode != 3))
    return nb_fac_fail(f, "%s.security: %s", w,
                       secure ? "coaps:// needs psk, rpk or x509" : "coap:// is nosec");
  p->ssid = (uint16_t)ssid;
  p->lifetime = (uint32_t)lt;
  p->pmin = (uint32_t)pmin;
  p->pmax = (uint32_t)pmax;
  return nb_fac_keys(f, o, w, a);
}

static nb_err nb_fac_acl_parse(nb_fac *f, json_t *o, size_t idx) {
  static const char *const keys[] = {"object", "instance", "owner", "acl", NULL};
  char w[40];
  snprintf(w, sizeof w, "access_control[%zu]", idx);
  if (!json_is_object(o)) return nb_fac_fail(f, "%s: must be an object", w);
  if (f->nacl == NB_FACTORY_MAX_ACL)
    return nb_fac_fail(f, "%s: more than %d entries", w, NB_FACTORY_MAX_ACL);
  nb_fac_acl *a = &f->acl[f->nacl++];
  long long obj, inst, owner;
  nb_err e = nb_fac_only(f, o, w, keys);
  if (e == NB_OK) e = nb_fac_int(f, o, w, "object", 1, 65534, true, 0, &obj);
  if (e == NB_OK) e = nb_fac_int(f, o, w, "instance", 0, 65535, true, 0, &inst);
  if (e == NB_OK) e = nb_fac_int(f, o, w, "owner", 1, 65535, true, 0, &owner);
  if (e != NB_OK) return e;
  if (obj == 2) return nb_fac_fail(f, "%s.object: Access Control instances have no ACL", w);
  a->obj = (uint16_t)obj;
  a->inst = (uint16_t)inst;
  a->owner = (uint16_t)owner;
  json_t *acl = json_object_get(o, "acl"), *v;
  const char *key;
  if (acl && !json_is_object(acl))
    return nb_fac_fail(f, "%s.acl: must be an object {\"SSID\": RIGHTS}", w);
  json_object_foreach(acl, key, v) {
    char *end;
    long s = strtol(key, &end, 10);
    if (*end || end == key || s < 0 || s > 65534)
      return nb_fac_fail(f, "%s.acl.%s: the key must be a short server ID 0..65534", w, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 31)
      return nb_fac_fail(f, "%s.acl.%s: rights must be 0..31 (R1 W2 E4 D8 C16)", w, key);
    if (a->n == NB_CLIENT_MAX_SERVERS + 1) return nb_fac_fail(f, "%s.acl: too many entries", w);
    a->ssid[a->n] = (uint16_t)s;
    a->rights[a->n++] = (uint8_t)json_integer_value(v);
  }
  return NB_OK;
}

/* Cross-account rules: distinct short server IDs, one bootstrap account, something to use. */
static nb_err nb_fac_check(nb_fac *f) {
  size_t boot = 0, servers = 0;
  for (size_t i = 0; i < f->nacc; i++) {
    if (f->acc[i].p.bootstrap) {
      if (++boot > 1) return nb_fac_fail(f, "servers[%zu].bootstrap: a second one", i);
      continue;
    }
    if (++servers > NB_CLIENT_MAX_SERVERS)
      return nb_fac_fail(f, "servers[%zu]: more than %d servers", i, NB_CLIENT_MAX_SERVERS);
    for (size_t j = 0; j < i; j++)
      if (!f->acc[j].p.bootstrap && f->acc[j].p.ssid == f->acc[i].p.ssid)
        return nb_fac_fail(f, "servers[%zu].ssid: the same as servers[%zu]", i, j);
  }
  if (f->nacc == 0) return nb_fac_fail(f, "servers: no account (a server or a bootstrap server)");
  return NB_OK;
}

static nb_err nb_fac_parse(nb_fac *f, const uint8_t *data, size_t len) {
  json_error_t je;
  json_t *root = f->root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) /* jansson's text may quote the input, and the input holds secrets */
    return nb_fac_fail(f, "line %d column %d: not valid JSON", je.line, je.column);
  static const char *const keys[] = {"servers", "access_control", NULL};
  nb_err e = json_is_object(root) ? nb_fac_only(f, root, "(top)", keys)
                                  : nb_fac_fail(f, "(top): must be a JSON object");
  json_t *servers = json_object_get(root, "servers"),
         *acl = json_object_get(root, "access_control");
  if (e == NB_OK && !json_is_array(servers))
    e = nb_fac_fail(f, "servers: missing (an array of accounts)");
  if (e == NB_OK && acl && !json_is_array(acl))
    e = nb_fac_fail(f, "access_control: must be an array");
  for (size_t i = 0; e == NB_OK && i < json_array_size(servers); i++)
    e = nb_fac_account_parse(f, json_array_get(servers, i), i);
  for (size_t i = 0; e == NB_OK && i < json_array_size(acl); i++)
    e = nb_fac_acl_parse(f, json_array_get(acl, i), i);
  if (e == NB_OK) e = nb_fac_check(f);
  return e;
}

static void nb_fac_clear_object(nb_object *o) {
  uint16_t ids[NB_CLIENT_MAX_IDS];
  size_t n = o->ops->instances(o, ids, NB_CLIENT_MAX_IDS);
  for (size_t k = n < NB_CLIENT_MAX_IDS ? n : NB_CLIENT_MAX_IDS; k > 0; k--)
    o->ops->remove(o, ids[k - 1]);
}

static nb_err nb_fac_set_int(nb_object *o, nb_path p, int64_t x) {
  nb_value v = nb_value_int(x);
  return nb_store_object_set(o, &p, &v);
}

static nb_err nb_fac_apply(nb_client *c, nb_fac *f) {
  for (uint16_t id = 0; id <= 2; id++) nb_fac_clear_object(nb_client_object(c, id));
  nb_err e = NB_OK;
  for (size_t i = 0; e == NB_OK && i < f->nacc; i++) {
    nb_fac_account *a = &f->acc[i];
    a->p.identity = a->identity.data;
    a->p.identity_len = a->identity.len;
    a->p.secret = a->secret.data;
    a->p.secret_len = a->secret.len;
    a->p.server_key = a->server_key.data;
    a->p.server_key_len = a->server_key.len;
    e = nb_client_add_server(c, &a->p);
  }
  nb_object *acl = nb_client_object(c, 2);
  for (uint16_t i = 0; e == NB_OK && i < f->nacl; i++) {
    const nb_fac_acl *a = &f->acl[i];
    e = nb_store_object_add_instance(acl, i);
    if (e == NB_OK) e = nb_fac_set_int(acl, nb_path_res(2, i, 0), a->obj);
    if (e == NB_OK) e = nb_fac_set_int(acl, nb_path_res(2, i, 1), a->inst);
    if (e == NB_OK) e = nb_fac_set_int(acl, nb_path_res(2, i, 3), a->owner);
    for (size_t k = 0; e == NB_OK && k < a->n; k++)
      e = nb_fac_set_int(acl, nb_path_rinst(2, i, 2, a->ssid[k]), a->rights[k]);
  }
  return e;
}

static void nb_fac_wipe(nb_bytes *b) {
  if (b->data) memset(b->data, 0, b->len);
  nb_bytes_free(b);
}

nb_err nb_client_load_factory(nb_client *c, const uint8_t *data, size_t len, char *err,
                              size_t cap) {
  if (err && cap) err[0] = 0;
  size_t i = 0;
  while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')) i++;
  if (i == len || (data[i] != '{' && data[i] != '[')) { /* a state file (SenML CBOR) */
    nb_err e = nb_client_load_state(c, data, len);
    if (e != NB_OK && err && cap)
      snprintf(err, cap, "neither a JSON factory file nor a state file (%s)", nb_strerror(e));
    return e;
  }
  nb_fac *f = calloc(1, sizeof *f);
  if (!f) return NB_ERR_NOMEM;
  f->err = err;
  f->cap = cap;
  for (size_t k = 0; k < NB_CLIENT_MAX_SERVERS + 1; k++) {
    nb_bytes_init(&f->acc[k].identity);
    nb_bytes_init(&f->acc[k].secret);
    nb_bytes_init(&f->acc[k].server_key);
  }
  nb_err e = nb_fac_parse(f, data, len);
  if (e == NB_OK) e = nb_fac_apply(c, f);
  if (e == NB_OK)
    NB_LOG_INFO(NB_CLIENT_LOG, "event=factory-bootstrap accounts=%zu acl=%zu", f->nacc, f->nacl);
  else if (err && cap && !err[0])
    snprintf(err, cap, "cannot apply it (%s)", nb_strerror(e));
  for (size_t k = 0; k < NB_CLIENT_MAX_SERVERS + 1; k++) {
    nb_fac_wipe(&f->acc[k].identity);
    nb_fac_wipe(&f->acc[k].secret);
    nb_fac_wipe(&f->acc[k].server_key);
  }
  json_decref(f->root);
  free(f);
  return e;
}
