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

static bool owns(nb_server_id_kind kind, const char *value, const nb_server_sec_info *sec,
                 bool allow_nosec) {
  if (kind == NB_SERVER_ID_NONE) return allow_nosec && (!sec || sec->kind == NB_SERVER_ID_NONE);
  if (!sec) return false; /* an authenticated peer must be bound to the name it uses */
  return sec->kind == kind && strcmp(sec->identity, value) == 0;
}

bool nb_server_identity_owns(const nb_server_identity *id, const nb_server_sec_info *sec,
                             bool allow_nosec) {
  return id ? owns(id->kind, id->value, sec, allow_nosec)
            : owns(NB_SERVER_ID_NONE, "", sec, allow_nosec);
}

bool nb_server_reg_identity_owns(const nb_server_reg_identity *id, const nb_server_sec_info *sec,
                                 bool allow_nosec) {
  return id ? owns(id->kind, id->value ? id->value : "", sec, allow_nosec)
            : owns(NB_SERVER_ID_NONE, "", sec, allow_nosec);
}

bool nb_server_reg_identity_is(const nb_server_reg_identity *reg, const nb_server_identity *id) {
  nb_server_id_kind kind = id ? id->kind : NB_SERVER_ID_NONE;
  const char *value = id ? id->value : "";
  return reg->kind == kind && strcmp(reg->value ? reg->value : "", value) == 0;
}

bool nb_server_evidence_has_secret(const void *cose, size_t len) {
  nb_cose_sign1_msg m;
  if (!cose || nb_cose_parse(cose, len, &m) != NB_OK) return false;
  return m.nvalues > 0 || nb_cose_payload_has_secret(&m, nb_model_builtin());
}
