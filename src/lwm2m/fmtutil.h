/* Helpers shared by the LwM2M content-format codecs (format.h): the decode session that appends
 * records and rolls them back on error, the checks every decoded payload must pass, typing of
 * numbers against definitions, name resolution, base64, UTF-8, number text and JSON strings.
 * Owns nothing beyond what each call documents. */
#ifndef NB_LWM2M_FMTUTIL_H
#define NB_LWM2M_FMTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "lwm2m/format.h"

/* Records an error (when err is not NULL) and returns e. */
nb_err nb_fmt_fail(nb_format_error *err, nb_err e, uint8_t coap_code, const char *reason);
/* 4.00 Bad Request shorthand. */
nb_err nb_fmt_bad(nb_format_error *err, nb_err e, const char *reason);
/* 5.00 for NB_ERR_NOMEM. */
nb_err nb_fmt_nomem(nb_format_error *err);

/* One decode call: where records go, what the payload may address, how to undo on failure. */
typedef struct {
  nb_path base;
  const nb_model *model;
  unsigned flags;
  nb_records *out;
  nb_times *times; /* may be NULL */
  size_t start;
  size_t times_start;
  nb_format_error *err;
  const char **note_out; /* opts->note_out: set on a lenient success */
} nb_fmt_dec;

void nb_fmt_dec_begin(nb_fmt_dec *d, const nb_format_opts *opts, nb_records *out,
                      nb_format_error *err);
/* Appends (p, *v_moved) and its time (NAN for none); *v_moved is NONE afterwards. */
nb_err nb_fmt_dec_add(nb_fmt_dec *d, const nb_path *p, nb_value *v_moved, double t);
/* Ends the call: with status NB_OK runs nb_fmt_check_records over the new records; on any
 * failure removes what this call appended. Returns the final status. */
nb_err nb_fmt_dec_finish(nb_fmt_dec *d, nb_err status);

/* The checks of format.h over records [start, len): under base, resource level, multiplicity
 * as defined, no duplicate and no resource both single and instantiated. times may be NULL. */
nb_err nb_fmt_check_records(const nb_records *r, size_t start, const double *times,
                            const nb_path *base, const nb_model *model, unsigned flags,
                            nb_format_error *err);

/* Single-value formats (text/plain, octet-stream, CBOR): the request path must address a
 * resource or resource instance, not a multiple-instance resource as a whole; 4.15 otherwise.
 * *def is the resource's definition or NULL. */
nb_err nb_fmt_single_target(const nb_fmt_dec *d, const char *reason, const nb_resource_def **def);
/* The one record a single-value encoder writes: exactly one record with a value, at base when
 * base addresses a resource (instance). 4.06 otherwise. */
nb_err nb_fmt_single_record(const nb_records *in, const nb_format_opts *opts, const nb_record **rec,
                            nb_format_error *err);

/* Definition of the resource p addresses (p->len >= 3), or NULL without model/definition or for
 * an executable (untyped) resource. */
const nb_resource_def *nb_fmt_def(const nb_model *model, const nb_path *p);

/* Resolves a SenML/JSON name against base: "" is base, "/..." is absolute, anything else is
 * relative to base ("6/0" under /3/0). NB_ERR_FMT_PATH when it is not an LwM2M path. */
nb_err nb_fmt_resolve_name(const nb_path *base, const char *name, size_t len, nb_path *out);

/* A number as a text or binary format states it. */
typedef enum { NB_NUM_INT, NB_NUM_UINT, NB_NUM_REAL } nb_num_kind;
typedef struct {
  nb_num_kind kind; /* INT: i; UINT: u (only above INT64_MAX); REAL: d */
  int64_t i;
  uint64_t u;
  double d;
} nb_fmt_num;

struct json_t;
/* A JSON number (jansson integer or real) as an nb_fmt_num; false for any other JSON type. */
bool nb_fmt_json_num(const struct json_t *v, nb_fmt_num *n);

/* Types a number for a resource of type `type` (NB_VT_NONE: no definition): INT/TIME need an
 * integral value in int64 range, UINT a non-negative integral value, FLOAT takes any; without a
 * definition integers stay INT (UINT above INT64_MAX) and reals FLOAT. 4.00 otherwise. */
nb_err nb_fmt_num_value(const nb_fmt_num *n, nb_value_type type, nb_value *out,
                        nb_format_error *err);

/* Valid UTF-8 (shortest forms, no surrogates, <= U+10FFFF) without NUL bytes. */
bool nb_fmt_utf8_valid(const uint8_t *s, size_t len);

/* Base64 of RFC 4648: the standard alphabet with padding, or base64url without padding. */
nb_err nb_fmt_b64_encode(nb_bytes *out, const uint8_t *data, size_t len, bool url);
/* Strict decode into *out (an OPAQUE value): the alphabet, padding (required for standard,
 * optional for url), and zero trailing bits are checked. NB_ERR_SYNTAX on any violation. */
nb_err nb_fmt_b64_decode(const char *text, size_t len, bool url, nb_value *out);

/* The shortest digits that strtod reads back to exactly d, laid out as ECMAScript's
 * Number::toString does: plain decimal for 1e-7 <= |d| < 1e21 ("0.1", "100000", "-0"),
 * exponent form beyond ("1e+21", "5e-324"). With json, an integral value gets ".0" so it stays a
 * real, and NaN/infinities are NB_ERR_RANGE (always: no format here writes them as text). buf
 * needs NB_FMT_DOUBLE_LEN bytes; *len receives the text length. */
#define NB_FMT_DOUBLE_LEN 40
nb_err nb_fmt_double(double d, bool json, char *buf, size_t *len);

/* Strict decimal parsers over (s, len): optional '-' (signed only), digits only, in range. */
nb_err nb_fmt_parse_i64(const char *s, size_t len, int64_t *out);
nb_err nb_fmt_parse_u64(const char *s, size_t len, uint64_t *out);
/* Decimal float ("1", "-2.5", "1e3"); no hex, inf, nan, spaces. */
nb_err nb_fmt_parse_double(const char *s, size_t len, double *out);
/* "o:i" with two decimal IDs 0..65535. */
nb_err nb_fmt_parse_objlnk(const char *s, size_t len, uint16_t *obj, uint16_t *inst);
/* Writes "o:i" into buf (at least 12 bytes), returns its length. */
size_t nb_fmt_objlnk(uint16_t obj, uint16_t inst, char *buf);

/* Appends s as a JSON string literal (quotes and escapes). s must be valid UTF-8. */
nb_err nb_fmt_json_string(nb_bytes *out, const char *s, size_t len);

/* The path relative to base as SenML/JSON names it ("6/0" for /3/0/6/0 under /3/0), into buf of
 * NB_PATH_STRLEN bytes; "" when p equals base. */
void nb_fmt_relative_name(const nb_path *base, const nb_path *p, char *buf);

#endif
