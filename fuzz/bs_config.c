/* libFuzzer: bootstrap configurations in JSON (src/bootstrap/config.c), as PUT
 * /api/bootstrap/configs/{ep} and `niobium bootstrap config set` take one and `config import`
 * takes an array of them (each element read on its own, as the import does).
 * Oracles: a refusal says why; an accepted config is valid (servers with their URI scheme
 * matching their security, IDs in range) and survives export and import unchanged:
 * from_json(to_json(c)) == c, field by field. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_valid(const nb_bs_config *c) {
  if (c->nservers < 1 || c->nservers > NB_BS_SERVERS_MAX || c->nacls > NB_BS_ACLS_MAX ||
      c->ndeletes > NB_BS_DELETES_MAX)
    abort();
  for (size_t i = 0; i < c->nservers; i++) {
    const nb_bs_server *s = &c->servers[i];
    bool plain = strncmp(s->uri, "coap://", 7) == 0;
    if (s->ssid < 1 || s->ssid > NB_ID_MAX || !s->lifetime || plain != (s->mode == NB_BS_SEC_NOSEC))
      abort();
    if (!plain && strncmp(s->uri, "coaps://", 8) != 0) abort();
  }
  for (size_t i = 0; i < c->nacls; i++)
    for (size_t k = 0; k < c->acls[i].n; k++)
      if (c->acls[i].rights[k] > 31) abort();
}

static bool same_server(const nb_bs_server *a, const nb_bs_server *b) {
  return !strcmp(a->uri, b->uri) && a->ssid == b->ssid && a->lifetime == b->lifetime &&
         !strcmp(a->binding[0] ? a->binding : "U", b->binding[0] ? b->binding : "U") &&
         a->mode == b->mode && !strcmp(a->psk_identity, b->psk_identity) &&
         a->psk_key_len == b->psk_key_len && !memcmp(a->psk_key, b->psk_key, a->psk_key_len) &&
         a->server_pubkey_len == b->server_pubkey_len &&
         !memcmp(a->server_pubkey, b->server_pubkey, a->server_pubkey_len);
}

static bool same_acl(const nb_bs_acl *a, const nb_bs_acl *b) {
  return a->obj == b->obj && a->inst == b->inst && a->owner == b->owner && a->n == b->n &&
         !memcmp(a->ssid, b->ssid, a->n * sizeof a->ssid[0]) &&
         !memcmp(a->rights, b->rights, a->n * sizeof a->rights[0]);
}

static void check_same(const nb_bs_config *a, const nb_bs_config *b) {
  if (strcmp(a->ep, b->ep) || a->nservers != b->nservers || a->nacls != b->nacls ||
      a->ndeletes != b->ndeletes || a->discover != b->discover ||
      a->bs_fresh_key != b->bs_fresh_key || a->bs_account_timeout != b->bs_account_timeout ||
      a->ca_cert_len != b->ca_cert_len || memcmp(a->ca_cert, b->ca_cert, a->ca_cert_len) ||
      a->ca_key_len != b->ca_key_len || memcmp(a->ca_key, b->ca_key, a->ca_key_len))
    abort();
  for (size_t i = 0; i < a->nservers; i++)
    if (!same_server(&a->servers[i], &b->servers[i])) abort();
  for (size_t i = 0; i < a->nacls; i++)
    if (!same_acl(&a->acls[i], &b->acls[i])) abort();
  for (size_t i = 0; i < a->ndeletes; i++)
    if (!nb_path_equal(&a->deletes[i], &b->deletes[i])) abort();
}

static void one_config(const char *text) {
  nb_bs_config c, back;
  char why[200] = "";
  if (nb_bs_config_from_json(text, &c, why, sizeof why) != NB_OK) {
    if (!why[0]) abort();
    return;
  }
  check_valid(&c);
  char *out = NULL;
  if (nb_bs_config_to_json(&c, &out) != NB_OK) abort();
  if (nb_bs_config_from_json(out, &back, why, sizeof why) != NB_OK) abort();
  free(out);
  check_same(&c, &back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  one_config(text);
  json_t *arr = json_loads(text, 0, NULL);
  if (json_is_array(arr)) {
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
      char *one = json_dumps(v, 0);
      if (one) one_config(one);
      free(one);
    }
  }
  json_decref(arr);
  free(text);
  return 0;
}
