/* LwM2M CBOR, Content-Format 11544 (LwM2M 1.2 TS Core 7.4.6): nested CBOR maps keyed by path
 * components from the root, `{3: {0: {0: "ACME", 6: {0: 1, 1: 5}}}}`; a key is one ID (an
 * unsigned integer) or an array of IDs standing for several levels at once (`{[3, 0]: {...}}`),
 * and a leaf is a resource or resource instance value encoded as in the CBOR format (7.4.5:
 * integers, floats, booleans, text, byte strings, Time optionally under tag 1, Objlnk as text
 * "o:i"). Read with the streaming CBOR reader of cbor_io.h; conventions in format.h. */
#ifndef NB_LWM2M_LWM2M_CBOR_H
#define NB_LWM2M_LWM2M_CBOR_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "lwm2m/format.h"

/* Paths are absolute: every record must lie under the request path. An empty map at /o/i or
 * /o/i/r is an empty container (a NONE record, as TLV's); with NB_FORMAT_PATHS_ONLY
 * (Read-/Observe-Composite requests) leaves are null and name paths of any level. Rejects (4.00)
 * malformed or truncated CBOR, keys that are not IDs or arrays of IDs, IDs above 65534, paths
 * deeper than four levels, values at an object or instance, null values outside path lists,
 * tags other than 1, chunked strings, duplicate paths, trailing bytes, and values that do not
 * match the resource type. */
nb_err nb_lwm2m_cbor_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts,
                            nb_records *out, nb_format_error *err);
/* Definite-length maps with one ID per key, in path order; values as nb_cbor_value_put writes
 * them; NONE records as empty maps (/o/i, /o/i/r) or, with NB_FORMAT_PATHS_ONLY, as null.
 * Timestamps cannot be written (4.06); records outside the request path, overlapping paths and
 * invalid strings are 5.00. */
nb_err nb_lwm2m_cbor_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                            nb_format_error *err);

#endif
