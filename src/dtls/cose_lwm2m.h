/* Signed LwM2M records without their secrets (docs/cose.md "Secrets in signed writes"): which
 * resources hold secret keys, a COSE_Sign1 of records whose secrets are withheld from the signed
 * payload (their salted digests signed instead), and the way back to records on the receiving
 * side. Used by the bootstrap server's signed writes, the device that applies them, the stores
 * and tools that keep or show evidence. Owns nothing. */
#ifndef NB_DTLS_COSE_LWM2M_H
#define NB_DTLS_COSE_LWM2M_H

#include <stdbool.h>

#include "dtls/cose.h"
#include "lwm2m/model.h"
#include "lwm2m/value.h"

/* Whether p (a resource or one of its instances) holds a secret key: Security /0/x/5 (Secret
 * Key: PSK or private key), /0/x/8 (SMS Binding Secret Keys), OSCORE /21/x/0 (Master Secret). */
bool nb_cose_secret_resource(const nb_path *p);

/* Whether r holds a secret in the clear: a secret resource with a value that is not empty. */
bool nb_cose_secret_in(const nb_record *r);
/* The first record of recs that holds a secret in the clear, or NULL. */
const nb_record *nb_cose_secret_record(const nb_records *recs);

/* Appends a COSE_Sign1 of recs (at base) to out: the payload is the SenML CBOR of every record
 * but the secrets, each secret is withheld (nb_cose_sign1_withheld). NB_ERR_RANGE beyond
 * NB_COSE_SECRETS_MAX secrets, NB_ERR_FMT_TYPE for a secret that is not a byte value. */
nb_err nb_cose_sign_records(const nb_cose_headers *h, const nb_records *recs, const nb_path *base,
                            const nb_model *model, const uint8_t *key, size_t key_len,
                            nb_bytes *out);

/* Adds the n withheld secrets w (values present, checked against their digests) to recs as
 * opaque values. Each must be a secret resource under base that recs does not hold already:
 * NB_ERR_FMT_PATH otherwise, recs unchanged. */
nb_err nb_cose_add_withheld(const nb_cose_withheld *w, size_t n, const nb_path *base,
                            nb_records *recs);

/* Whether the payload of m (SenML CBOR or another LwM2M format) holds a secret in the clear:
 * what evidence kept before withheld secrets could hold. False when it does not decode. */
bool nb_cose_payload_has_secret(const nb_cose_sign1_msg *m, const nb_model *model);

#endif
