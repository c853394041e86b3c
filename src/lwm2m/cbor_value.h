/* Plain CBOR, Content-Format 60 (LwM2M 1.1 TS Core 7.4.5): one resource or resource instance value
 * as a single CBOR item. Conventions in format.h. */
#ifndef NB_LWM2M_CBOR_VALUE_H
#define NB_LWM2M_CBOR_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "lwm2m/cbor_io.h"
#include "lwm2m/fmtutil.h"
#include "lwm2m/format.h"

/* Accepted by resource type: Integer an int (major 0/1) in int64 range; Unsigned a major-0 int;
 * Float a float or an int; Boolean true/false; String/Corelnk a text string; Opaque a byte
 * string; Time an int or integral float, optionally under tag 1; Objlnk a text "o:i". Without a
 * definition the item's own type is kept (tag 1 gives TIME). Chunked strings, other tags,
 * containers and trailing bytes are 4.00. */
nb_err nb_cbor_value_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts,
                            nb_records *out, nb_format_error *err);
/* Shortest integers, float16/32/64 only when exact, Time as tag 1 + integer. */
nb_err nb_cbor_value_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                            nb_format_error *err);
/* The value of one item (its head just read; time_tag: it came under tag 1) typed for a
 * resource of `type` (NB_VT_NONE: no definition), by the rules of nb_cbor_value_decode. */
nb_err nb_cbor_value_item(const nb_cbor_item *it, bool time_tag, nb_value_type type, nb_value *v,
                          nb_format_error *err);
/* The CBOR item of one value, appended to out. */
nb_err nb_cbor_value_put(nb_bytes *out, const nb_value *v);
/* A numeric CBOR item (major 0/1 or float) as an nb_fmt_num: false for other items and for
 * negative integers below INT64_MIN. */
bool nb_cbor_value_num(const nb_cbor_item *it, nb_fmt_num *n);

#endif
