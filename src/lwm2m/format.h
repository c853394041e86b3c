/* LwM2M content formats: the front door that maps a CoAP Content-Format number to its codec
 * (text/plain 0, octet-stream 42, CBOR 60, SenML JSON 110, SenML CBOR 112, TLV 11542, LwM2M JSON
 * 11543, LwM2M CBOR 11544) and the types every codec shares. A codec turns bytes into (path, value)
 * records and back, typing values with the object definitions; link-format (40) has its own API
 * (linkfmt.h).
 *
 * Conventions shared by every decoder:
 * - `base` is the request path (the Uri-Path of the Write/Create, or of the Read whose response is
 *   decoded); NULL means "/". Single-value formats (0, 42, 60) need a resource or resource
 *   instance path; TLV needs at least an object; LwM2M CBOR carries absolute paths from the
 *   root, which must lie under `base`; SenML and LwM2M JSON carry their own names,
 *   absolute ("/3/0/1") or relative to `base` ("1", "6/0") when they do not start with "/".
 * - Every record of the result lies under `base` and addresses a resource (/o/i/r) or resource
 *   instance (/o/i/r/ri); no path appears twice (for timestamped data: no (path, time) pair);
 *   a resource never appears both as a single value and as instances.
 * - Values are typed with nb_model_resource(model, o, r). When there is no model or no definition,
 *   the most faithful raw type is kept: TLV and octet-stream give OPAQUE bytes, text/plain a
 *   STRING, JSON numbers INT when written as integer literals (UINT above INT64_MAX in CBOR) and
 *   FLOAT otherwise, `vs`/`sv` STRING, `vb`/`bv` BOOL, `vd` OPAQUE, `vlo`/`ov` OBJLNK.
 * - With a definition the value must have that type: a mismatch (a string for an Integer, 3 bytes
 *   for a TLV Integer, 1.5 for an Integer, -1 for an Unsigned Integer) is 4.00 Bad Request.
 *   Executable resources have no type and are treated as undefined.
 * - SenML JSON and LwM2M JSON integers must fit int64 (jansson's range): an Unsigned Integer above
 *   INT64_MAX is written correctly but cannot be read back from JSON (4.00); the binary formats
 *   carry the full range.
 * - The exceptions to "every record has a value": TLV's empty containers decode to a NONE value
 *   at /o/i (an object instance without resources, under /o) or /o/i/r (a multiple-instance
 *   resource without instances), and encode back from it; path lists (NB_FORMAT_PATHS_ONLY).
 * - An empty payload decodes to no records in TLV, SenML and LwM2M JSON.
 * - On error *out is left exactly as it was before the call and code/reason say what to answer:
 *   4.00 Bad Request (malformed, mistyped, duplicate, outside the target), 4.15 Unsupported
 *   Content-Format (unknown number, or a format that cannot carry the target, e.g. text/plain for
 *   an object instance or octet-stream for a String resource), 5.00 on memory exhaustion.
 *   Reasons are static English strings naming the format and the problem.
 *
 * Encoders append to an nb_bytes and choose the smallest valid representation (TLV integer
 * widths 1/2/4/8 and float width 4 only when lossless, CBOR shortest integers and float16/32/64
 * only when lossless). Their errors: 4.06 Not Acceptable when the format cannot express the data
 * (several records in text/plain, a String in octet-stream, a root path in TLV, NaN in JSON),
 * 5.00 for invalid records (outside `base`, invalid UTF-8) or memory exhaustion. */
#ifndef NB_LWM2M_FORMAT_H
#define NB_LWM2M_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "lwm2m/model.h"
#include "lwm2m/path.h"
#include "lwm2m/value.h"

/* Why a codec call failed: the CoAP response code to answer with and a static reason. */
typedef struct {
  uint8_t code;       /* NB_COAP_BAD_REQUEST, NB_COAP_NOT_ACCEPTABLE, ... */
  const char *reason; /* static English text, never NULL after a failure */
} nb_format_error;

/* Timestamps of decoded records, one per record of the nb_records they come with (same index),
 * in seconds as the payload states them (SenML: bt + t; LwM2M JSON: bt + t). NAN when the record
 * carries no time. SenML times below 2^28 are relative to "now" (RFC 8428 4.5.3): the codec has
 * no clock, so the caller resolves them. Owns the array. */
typedef struct {
  double *items;
  size_t len;
  size_t cap;
} nb_times;

void nb_times_init(nb_times *t);
void nb_times_deinit(nb_times *t);

/* Flags of nb_format_opts. */
enum {
  /* Decode a list of paths (Read-Composite / Observe-Composite requests, SenML only): every
   * record must have a name and no value; paths may address any level, "/" included, and the
   * result has NONE values. Encoding NONE values always writes name-only records. */
  NB_FORMAT_PATHS_ONLY = 1u << 0,
};

/* Everything a codec call needs besides the bytes and the records. */
typedef struct {
  const nb_path *base;    /* request path; NULL is "/" */
  const nb_model *model;  /* definitions that type values; NULL types nothing */
  unsigned flags;         /* NB_FORMAT_* */
  nb_times *times_out;    /* decode: filled in step with the records when not NULL */
  const double *times_in; /* encode: in->len times (NAN for none) or NULL; SenML/LwM2M JSON */
  /* decode: when not NULL, set to a static text when the payload was accepted although it
   * breaks its format in a way real peers send and the reading is unambiguous (LwM2M JSON's
   * `bn` without its trailing "/"); left alone otherwise. */
  const char **note_out;
} nb_format_opts;

/* Decodes a payload of Content-Format `cf` into records appended to *out (see the conventions
 * above). coap_code_on_error and reason may be NULL. */
nb_err nb_format_decode(int cf, const uint8_t *buf, size_t len, const nb_path *base,
                        const nb_model *model, nb_records *out, uint8_t *coap_code_on_error,
                        const char **reason);

/* Encodes records as Content-Format `cf`, appending to *out; records are laid out relative to
 * `base` (TLV: object instances under /o, resources under /o/i, ...; SenML/JSON: `bn` is `base`).
 * On error *out keeps its previous length. */
nb_err nb_format_encode(int cf, const nb_records *in, const nb_path *base, const nb_model *model,
                        nb_bytes *out, uint8_t *coap_code_on_error, const char **reason);

/* The same with every option (timestamps, path lists). err may be NULL. */
nb_err nb_format_decode_ex(int cf, const uint8_t *buf, size_t len, const nb_format_opts *opts,
                           nb_records *out, nb_format_error *err);
nb_err nb_format_encode_ex(int cf, const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                           nb_format_error *err);

/* True for the Content-Formats nb_format_decode/encode handle (not 40: see linkfmt.h). */
bool nb_format_is_supported(int cf);
/* The first of cfs[0..n) this build decodes and encodes, or NB_COAP_CF_NONE: a preference
 * list that holds in every configuration of the format switches (NB_CFG_FMT_*). */
int nb_format_first_supported(const int *cfs, size_t n);
/* True for formats that carry several records (TLV, LwM2M JSON/CBOR, SenML JSON/CBOR). */
bool nb_format_is_multi(int cf);
/* "text/plain", "application/vnd.oma.lwm2m+tlv", ...; "unknown" otherwise. */
const char *nb_format_media_type(int cf);
/* Short names used by the CLI: "text", "opaque", "cbor", "senml-json", "senml-cbor", "tlv",
 * "json", "lwm2m-cbor", "link"; returns the Content-Format or NB_COAP_CF_NONE. */
int nb_format_from_name(const char *name);
const char *nb_format_name(int cf);

#endif
