/* SenML JSON, Content-Format 110 (RFC 8428 with the LwM2M 1.1 additions `vlo`), parsed with
 * jansson: an array of records with bn, bt, bv, bver, n, v, vs, vb, vd (base64url), vlo, t.
 * Conventions in format.h; record semantics in senml.h. */
#ifndef NB_LWM2M_SENML_JSON_H
#define NB_LWM2M_SENML_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "lwm2m/format.h"

/* Rejects (4.00) invalid JSON, duplicate keys, fields of the wrong JSON type, records with no or
 * several values, unknown must-understand fields (ending in '_'), names that are not paths.
 * Integers beyond the int64 range are invalid JSON to jansson and are rejected too. */
nb_err nb_senml_json_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts,
                            nb_records *out, nb_format_error *err);
/* Writes `[{"bn":"/3/0/","n":"0","vs":"..."},{"n":"1",...}]` (bn omitted under "/"), with
 * "t" for timestamped records and name-only records for NONE values. NaN/infinite floats: 4.06. */
nb_err nb_senml_json_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                            nb_format_error *err);

#endif
