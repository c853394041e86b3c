/* Helpers shared by every store backend and the engine: identity kinds and ownership. */
#include "server/store.h"

#include <string.h>

#include "dtls/cose_lwm2m.h"

static const char *const kind_names[] = {"none", "psk", "rpk", "x509"};

const char *nb_server_id_kind_name(nb_server_id_kind k) {
  return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "unknown";
}

nb_err nb_server_id_kind_parse(const char *name, nb_server_id_kind *out) {
  for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
    if (strcmp(name, kind_names[i]) == 0) {
      *out = (nb_server_id_kind)i;
      return NB_OK;
    }
  return NB_ERR_INVAL;
}

bool nb_server_identity_owns(const nb_server_identity *id, const nb_server_sec_info *sec,
                             bool allow_nosec) {
  bool secured = id && id->kind != NB_SERVER_ID_NONE;
  if (!secured) return allow_nosec && (!sec || sec->kind == NB_SERVER_ID_NONE);
  if (!sec) return false; /* an authenticated peer must be bound to the name it uses */
  return sec->kind == id->kind && strcmp(sec->identity, id->value) == 0;
}

bool nb_server_evidence_has_secret(const void *cose, size_t len) {
  nb_cose_sign1_msg m;
  if (!cose || nb_cose_parse(cose, len, &m) != NB_OK) return false;
  return m.nvalues > 0 || nb_cose_payload_has_secret(&m, nb_model_builtin());
}
