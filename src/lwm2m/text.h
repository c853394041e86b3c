/* Single-resource plain formats: text/plain (Content-Format 0) and application/octet-stream (42)
 * of LwM2M 1.1 TS Core 7.4.1/7.4.2. One value at the request path (a resource or resource
 * instance); conventions in format.h. */
#ifndef NB_LWM2M_TEXT_H
#define NB_LWM2M_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "lwm2m/format.h"

/* text/plain by the resource's type: Integer/Time "-12" (decimal, no sign '+', no spaces),
 * Unsigned "12", Float decimal or exponent ("1.5", "-2e3"; no inf/nan), Boolean "0"/"1",
 * Objlnk "o:i", String/Corelnk UTF-8 as is, Opaque base64 (RFC 4648, padded). Without a
 * definition the text is a STRING. */
nb_err nb_text_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts, nb_records *out,
                      nb_format_error *err);
/* Writes the one value (floats in their shortest round-trip form). */
nb_err nb_text_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                      nb_format_error *err);
/* The text/plain form of one value, appended to out (used by the encoder and by tools). */
nb_err nb_text_format_value(const nb_value *v, nb_bytes *out);

/* octet-stream: only for Opaque resources (or undefined ones, which become OPAQUE). */
nb_err nb_opaque_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts, nb_records *out,
                        nb_format_error *err);
nb_err nb_opaque_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                        nb_format_error *err);

#endif
