/* LwM2M JSON of LwM2M 1.0, Content-Format 11543 (TS 1.0 section 6.4.4):
 * `{"bn":"/3/0/","bt":T,"e":[{"n":"0","sv":"..."},{"n":"6/0","v":1,"t":-5},...]}` with values
 * in v (numbers, Time), sv (strings; Opaque as base64), bv (booleans), ov (objlnk "o:i").
 * Parsed with jansson; conventions in format.h. */
#ifndef NB_LWM2M_LWM2M_JSON_H
#define NB_LWM2M_LWM2M_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "lwm2m/format.h"

/* "e" is required (an empty array is fine); bn is optional and names are bn + n. Rejects (4.00)
 * invalid JSON, duplicate keys, wrong JSON types, entries with no or several values, names that
 * are not paths, and values that do not match the resource type. Times are bt + t.
 * Lenient where real peers need it and the reading is unambiguous: a bn without its trailing
 * "/" ("bn":"/1/0","n":"1", Leshan's client in OMA interop TD 204/220) whose literal
 * concatenation ("/1/01") gives no valid payload for the target is read with the names as path
 * segments below bn (/1/0/1), as Leshan does; opts->note_out then receives
 * NB_LWM2M_JSON_NOTE_BN. A literal reading that is valid always wins. */
#define NB_LWM2M_JSON_NOTE_BN \
  "LwM2M JSON: bn lacks its trailing \"/\" (names read as path segments below it)"

nb_err nb_lwm2m_json_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts,
                            nb_records *out, nb_format_error *err);
/* Writes bn from the request path (omitted under "/"), one entry per record, "t" for
 * timestamped records. NaN/infinite floats and NONE values: 4.06. */
nb_err nb_lwm2m_json_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                            nb_format_error *err);

#endif
