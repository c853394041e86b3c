/* SenML CBOR, Content-Format 112 (RFC 8428 section 6 with the LwM2M 1.1 text label "vlo"):
 * an array of maps keyed by integer labels bver -1, bn -2, bt -3, bv -5, n 0, v 2, vs 3, vb 4,
 * t 6, vd 8 (byte string). Read with libcbor's streaming decoder; conventions in format.h. */
#ifndef NB_LWM2M_SENML_CBOR_H
#define NB_LWM2M_SENML_CBOR_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "lwm2m/format.h"

/* Rejects (4.00) malformed or truncated CBOR, wrong major types for known labels, duplicate
 * labels, chunked strings in known fields, nesting deeper than 8 in unknown fields, trailing
 * bytes, and everything SenML JSON rejects. Indefinite-length arrays and maps are accepted. */
nb_err nb_senml_cbor_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts,
                            nb_records *out, nb_format_error *err);
/* Definite-length array of maps; shortest integers, float16/32/64 only when exact. */
nb_err nb_senml_cbor_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                            nb_format_error *err);

#endif
