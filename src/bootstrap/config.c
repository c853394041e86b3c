/* Bootstrap configurations: defaults, validation and the JSON form. */
#include "bootstrap/config.h"
#include "base/hex.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_modes[] = {"psk", "rpk", "x509", "nosec"};

const char *nb_bs_sec_mode_name(nb_bs_sec_mode m) { return (unsigned)m < 4 ? k_modes[m] : "?"; }

nb_err nb_bs_sec_mode_parse(const char *name, nb_bs_sec_mode *out) {
  for (int i = 0; i < 4; i++)
    if (name && strcmp(name, k_modes[i]) == 0) {
      *out = (nb_bs_sec_mode)i;
      return NB_OK;
    }
  return NB_ERR_INVAL;
}

void nb_bs_config_init(nb_bs_config *cfg, const char *ep) {
  memset(cfg, 0, sizeof *cfg);
  snprintf(cfg->ep, sizeof cfg->ep, "%s", ep ? ep : "");
  cfg->deletes[0] = nb_path_obj(0); /* the client keeps its bootstrap account */
  cfg->deletes[1] = nb_path_obj(1);
  cfg->ndeletes = 2;
  cfg->discover = true;
}

nb_err nb_bs_config_add_server(nb_bs_config *cfg, const nb_bs_server *srv) {
  if (cfg->nservers == NB_BS_SERVERS_MAX) return NB_ERR_BUSY;
  if (srv->ssid == 0 || srv->ssid > NB_ID_MAX || !srv->uri[0] || (unsigned)srv->mode > 3)
    return NB_ERR_INVAL;
  if (strncmp(srv->uri, "coap://", 7) != 0 && strncmp(srv->uri, "coaps://", 8) != 0)
    return NB_ERR_INVAL;
  if ((srv->mode == NB_BS_SEC_NOSEC) != (strncmp(srv->uri, "coap://", 7) == 0))
    return NB_ERR_INVAL; /* coap:// is NoSec, coaps:// is secured */
  if (srv->binding[0] && strcmp(srv->binding, "U") != 0 && strcmp(srv->binding, "UQ") != 0)
    return NB_ERR_INVAL;
  cfg->servers[cfg->nservers] = *srv;
  if (!srv->lifetime) cfg->servers[cfg->nservers].lifetime = 86400;
  cfg->nservers++;
  return NB_OK;
}

/* ---- JSON ---- */

static json_t *nb_hex_json(const uint8_t *d, size_t n) {
  char *s = malloc(2 * n + 1);
  if (!s) return NULL;
  json_t *j = json_string(nb_hex_encode(d, n, s));
  free(s);
  return j;
}

static nb_err nb_hex_parse(const char *s, uint8_t *out, size_t cap, size_t *len) {
  return nb_hex_decode(s, strlen(s), NULL, out, cap, len) == NB_OK ? NB_OK : NB_ERR_INVAL;
}

static json_t *nb_server_json(const nb_bs_server *s) {
  /* "I": lifetimes go up to UINT32_MAX, past an int. */
  json_t *o = json_pack("{s:s,s:i,s:I,s:s,s:s}", "uri", s->uri, "ssid", (int)s->ssid, "lifetime",
                        (json_int_t)s->lifetime, "binding", s->binding[0] ? s->binding : "U",
                        "security", nb_bs_sec_mode_name(s->mode));
  if (!o) return NULL;
  if (s->psk_identity[0]) json_object_set_new(o, "psk_identity", json_string(s->psk_identity));
  if (s->psk_key_len) json_object_set_new(o, "psk_key", nb_hex_json(s->psk_key, s->psk_key_len));
  if (s->server_pubkey_len)
    json_object_set_new(o, "server_public_key",
                        nb_hex_json(s->server_pubkey, s->server_pubkey_len));
  return o;
}

static json_t *nb_acl_json(const nb_bs_acl *a) {
  json_t *acc = json_object();
  for (size_t k = 0; acc && k < a->n; k++) {
    char key[8];
    snprintf(key, sizeof key, "%u", a->ssid[k]);
    json_object_set_new(acc, key, json_integer(a->rights[k]));
  }
  return json_pack("{s:i,s:i,s:i,s:o}", "object", a->obj, "instance", a->inst, "owner", a->owner,
                   "access", acc);
}

static json_t *nb_config_json(const nb_bs_config *cfg) {
  json_t *root = json_object(), *srv = json_array(), *acl = json_array(), *del = json_array();
  if (!root || !srv || !acl || !del) {
    json_decref(root), json_decref(srv), json_decref(acl), json_decref(del);
    return NULL;
  }
  json_object_set_new(root, "endpoint", cfg->ep[0] ? json_string(cfg->ep) : json_null());
  for (size_t i = 0; i < cfg->nservers; i++)
    json_array_append_new(srv, nb_server_json(&cfg->servers[i]));
  for (size_t i = 0; i < cfg->nacls; i++) json_array_append_new(acl, nb_acl_json(&cfg->acls[i]));
  for (size_t i = 0; i < cfg->ndeletes; i++) {
    char p[NB_PATH_STRLEN];
    nb_path_format(&cfg->deletes[i], p, sizeof p);
    json_array_append_new(del, json_string(p));
  }
  json_object_set_new(root, "servers", srv);
  json_object_set_new(root, "acls", acl);
  json_object_set_new(root, "delete", del);
  json_object_set_new(root, "discover", json_boolean(cfg->discover));
  if (cfg->bs_fresh_key || cfg->bs_account_timeout)
    json_object_set_new(root, "bootstrap_account",
                        json_pack("{s:b,s:I}", "fresh_key", cfg->bs_fresh_key, "timeout",
                                  (json_int_t)cfg->bs_account_timeout));
  if (cfg->ca_cert_len)
    json_object_set_new(root, "ca_cert", nb_hex_json(cfg->ca_cert, cfg->ca_cert_len));
  if (cfg->ca_key_len)
    json_object_set_new(root, "ca_key", nb_hex_json(cfg->ca_key, cfg->ca_key_len));
  return root;
}

nb_err nb_bs_config_to_json(const nb_bs_config *cfg, char **out) {
  json_t *root = nb_config_json(cfg);
  *out = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(root);
  return *out ? NB_OK : NB_ERR_NOMEM;
}

nb_err nb_bs_config_to_public_json(const nb_bs_config *cfg, char **out) {
  json_t *root = nb_config_json(cfg);
  if (root && json_object_del(root, "ca_key") == 0)
    json_object_set_new(root, "ca_key_set", json_true());
  size_t i;
  json_t *server;
  json_array_foreach(json_object_get(root, "servers"), i, server) {
    if (json_object_del(server, "psk_key") == 0)
      json_object_set_new(server, "psk_key_set", json_true());
  }
  *out = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(root);
  return *out ? NB_OK : NB_ERR_NOMEM;
}

#define NB_WHY(...) (snprintf(why, why_cap, __VA_ARGS__), NB_ERR_SYNTAX)

static nb_err nb_server_from_json(json_t *j, nb_bs_server *s, char *why, size_t why_cap) {
  memset(s, 0, sizeof *s);
  const char *uri = NULL, *sec = "nosec", *binding = "U", *ident = "", *key = "", *spk = "";
  json_int_t ssid = 0, lt = 86400;
  json_error_t err;
  if (json_unpack_ex(j, &err, JSON_STRICT, "{s:s,s:I,s?I,s?s,s?s,s?s,s?s,s?s}", "uri", &uri, "ssid",
                     &ssid, "lifetime", &lt, "binding", &binding, "security", &sec, "psk_identity",
                     &ident, "psk_key", &key, "server_public_key", &spk) != 0)
    return NB_WHY("server: %s", err.text);
  if (strlen(uri) >= sizeof s->uri || strlen(ident) >= sizeof s->psk_identity ||
      strlen(binding) >= sizeof s->binding)
    return NB_WHY("server: a text field is too long");
  if (ssid < 1 || ssid > NB_ID_MAX || lt < 1 || lt > UINT32_MAX)
    return NB_WHY("server: ssid must be 1..65534 and lifetime positive");
  if (nb_bs_sec_mode_parse(sec, &s->mode) != NB_OK)
    return NB_WHY("server: security must be psk, rpk, x509 or nosec");
  snprintf(s->uri, sizeof s->uri, "%s", uri);
  snprintf(s->binding, sizeof s->binding, "%s", binding);
  snprintf(s->psk_identity, sizeof s->psk_identity, "%s", ident);
  s->ssid = (uint16_t)ssid;
  s->lifetime = (uint32_t)lt;
  if (nb_hex_parse(key, s->psk_key, sizeof s->psk_key, &s->psk_key_len) != NB_OK ||
      nb_hex_parse(spk, s->server_pubkey, sizeof s->server_pubkey, &s->server_pubkey_len) != NB_OK)
    return NB_WHY("server: psk_key/server_public_key must be even-length hex within limits");
  return NB_OK;
}

static nb_err nb_acl_from_json(json_t *j, nb_bs_acl *a, char *why, size_t why_cap) {
  memset(a, 0, sizeof *a);
  json_int_t o = 0, i = 0, owner = 0;
  json_t *acc = NULL;
  json_error_t err;
  if (json_unpack_ex(j, &err, JSON_STRICT, "{s:I,s:I,s:I,s?o}", "object", &o, "instance", &i,
                     "owner", &owner, "access", &acc) != 0)
    return NB_WHY("acl: %s", err.text);
  if (o < 0 || o > NB_ID_MAX || i < 0 || i > NB_ID_MAX || owner < 0 || owner > NB_ID_MAX)
    return NB_WHY("acl: IDs must be 0..65534");
  a->obj = (uint16_t)o, a->inst = (uint16_t)i, a->owner = (uint16_t)owner;
  const char *k;
  json_t *v;
  if (acc && !json_is_object(acc)) return NB_WHY("acl: access must be an object");
  json_object_foreach(acc, k, v) {
    char *end;
    long id = strtol(k, &end, 10);
    if (*end || id < 0 || id > NB_ID_MAX || !json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > 31 || a->n == NB_BS_ACL_ENTRIES)
      return NB_WHY("acl: access maps ssid to rights 0..31 (at most %d)", NB_BS_ACL_ENTRIES);
    for (size_t prev = 0; prev < a->n; prev++) /* "5" and "05" are one server: which rights? */
      if (a->ssid[prev] == id) return NB_WHY("acl: ssid %ld is given twice in access", id);
    a->ssid[a->n] = (uint16_t)id;
    a->rights[a->n++] = (uint16_t)json_integer_value(v);
  }
  return NB_OK;
}

/* The bootstrap account policy and the X.509 CA. */
static nb_err nb_config_extras_from_json(json_t *root, nb_bs_config *cfg, char *why,
                                         size_t why_cap) {
  json_t *acc = json_object_get(root, "bootstrap_account");
  if (acc) {
    int fresh = 0;
    json_int_t timeout = 0;
    json_error_t err;
    if (json_unpack_ex(acc, &err, JSON_STRICT, "{s?b,s?I}", "fresh_key", &fresh, "timeout",
                       &timeout) != 0)
      return NB_WHY("bootstrap_account: %s", err.text);
    if (timeout < 0 || timeout > UINT32_MAX)
      return NB_WHY("bootstrap_account: timeout is seconds, 0 = kept");
    cfg->bs_fresh_key = fresh;
    cfg->bs_account_timeout = (uint32_t)timeout;
  }
  json_t *ca = json_object_get(root, "ca_cert"), *key = json_object_get(root, "ca_key");
  if ((ca && !json_is_string(ca)) || (key && !json_is_string(key)) ||
      (ca && nb_hex_parse(json_string_value(ca), cfg->ca_cert, sizeof cfg->ca_cert,
                          &cfg->ca_cert_len) != NB_OK) ||
      (key && nb_hex_parse(json_string_value(key), cfg->ca_key, sizeof cfg->ca_key,
                           &cfg->ca_key_len) != NB_OK))
    return NB_WHY("ca_cert/ca_key must be hex within %d bytes", NB_BS_CA_MAX);
  if ((cfg->bs_fresh_key || cfg->bs_account_timeout) && !cfg->discover)
    return NB_WHY("bootstrap_account needs discover (to find the account on the device)");
  for (size_t i = 0; i < cfg->nservers; i++)
    if (cfg->servers[i].mode == NB_BS_SEC_X509 && (!cfg->ca_cert_len || !cfg->ca_key_len))
      return NB_WHY(
          "x509 accounts need ca_cert and ca_key (the CA that signs device certificates)");
  return NB_OK;
}

static nb_err nb_config_from_json(json_t *root, nb_bs_config *cfg, char *why, size_t why_cap) {
  json_t *ep = json_object_get(root, "endpoint"), *v;
  if (ep && !json_is_null(ep) && !json_is_string(ep)) return NB_WHY("endpoint must be a string");
  const char *eps = json_is_string(ep) ? json_string_value(ep) : "";
  if (strlen(eps) >= NB_BS_EP_MAX) return NB_WHY("endpoint is too long");
  nb_bs_config_init(cfg, eps);
  size_t i;
  json_t *srv = json_object_get(root, "servers");
  if (!json_is_array(srv) || json_array_size(srv) == 0)
    return NB_WHY("servers must be a non-empty array");
  json_array_foreach(srv, i, v) {
    nb_bs_server s;
    nb_err e = nb_server_from_json(v, &s, why, why_cap);
    if (e != NB_OK) return e;
    if (nb_bs_config_add_server(cfg, &s) != NB_OK)
      return NB_WHY("server %zu: invalid or too many (uri scheme must match security)", i);
  }
  json_t *acl = json_object_get(root, "acls");
  if (acl && (!json_is_array(acl) || json_array_size(acl) > NB_BS_ACLS_MAX))
    return NB_WHY("acls must be an array of at most %d", NB_BS_ACLS_MAX);
  json_array_foreach(acl, i, v) {
    nb_err e = nb_acl_from_json(v, &cfg->acls[cfg->nacls], why, why_cap);
    if (e != NB_OK) return e;
    cfg->nacls++;
  }
  json_t *del = json_object_get(root, "delete");
  if (del) {
    if (!json_is_array(del) || json_array_size(del) > NB_BS_DELETES_MAX)
      return NB_WHY("delete must be an array of at most %d paths", NB_BS_DELETES_MAX);
    cfg->ndeletes = 0;
    json_array_foreach(del, i, v) {
      if (!json_is_string(v) || nb_path_parse(json_string_value(v), &cfg->deletes[i]) != NB_OK)
        return NB_WHY("delete: \"%s\" is not an LwM2M path",
                      json_is_string(v) ? json_string_value(v) : "?");
      cfg->ndeletes++;
    }
  }
  json_t *disc = json_object_get(root, "discover");
  if (disc) {
    if (!json_is_boolean(disc)) return NB_WHY("discover must be true or false");
    cfg->discover = json_is_true(disc);
  }
  return nb_config_extras_from_json(root, cfg, why, why_cap);
}

nb_err nb_bs_config_from_json(const char *text, nb_bs_config *out, char *why, size_t why_cap) {
  json_error_t err;
  json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
  if (!root) return NB_WHY("JSON line %d: %s", err.line, err.text);
  nb_err e = json_is_object(root) ? nb_config_from_json(root, out, why, why_cap)
                                  : NB_WHY("a config is a JSON object");
  json_decref(root);
  return e;
}
