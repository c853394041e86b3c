/* LwM2M resource values: one tagged union for every data type of LwM2M 1.1 (Integer, Unsigned
 * Integer, Float, Boolean, String, Opaque, Time, Objlnk, Corelnk), the conversions the
 * specification allows between them, and lists of (path, value) records that every content
 * format decodes into and encodes from. A value owns its bytes (string/opaque/corelnk). */
#ifndef NB_LWM2M_VALUE_H
#define NB_LWM2M_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "lwm2m/path.h"

typedef enum {
  NB_VT_NONE,
  NB_VT_INT,
  NB_VT_UINT,
  NB_VT_FLOAT,
  NB_VT_BOOL,
  NB_VT_STRING,
  NB_VT_OPAQUE,
  NB_VT_TIME,
  NB_VT_OBJLNK,
  NB_VT_CORELNK
} nb_value_type;

typedef struct {
  nb_value_type type;
  union {
    int64_t i;
    uint64_t u;
    double f;
    bool b;
    int64_t t; /* TIME: seconds since the Unix epoch */
    struct {
      uint16_t obj, inst;
    } lnk;
    struct {
      uint8_t *data; /* STRING, OPAQUE, CORELNK: heap, owned, NUL-terminated (NULL never) */
      size_t len;    /* not counting the NUL */
    } bytes;
  } v;
} nb_value;

/* Frees owned bytes and sets the value to NONE. Safe on NONE and scalar values. */
void nb_value_deinit(nb_value *v);
/* Deep copy; dst is overwritten (not freed first), NB_ERR_NOMEM leaves it NONE. */
nb_err nb_value_copy(nb_value *dst, const nb_value *src);

nb_value nb_value_none(void);
nb_value nb_value_int(int64_t i);
nb_value nb_value_uint(uint64_t u);
nb_value nb_value_float(double f);
nb_value nb_value_bool(bool b);
nb_value nb_value_time(int64_t t);
nb_value nb_value_objlnk(uint16_t obj, uint16_t inst);

/* These replace v's content (freeing what it owned) with a heap copy of the bytes, plus a NUL.
 * s/data may be NULL when len is 0. On NB_ERR_NOMEM v is left NONE. */
nb_err nb_value_set_string(nb_value *v, const char *s, size_t len);
nb_err nb_value_set_opaque(nb_value *v, const uint8_t *data, size_t len);
nb_err nb_value_set_corelnk(nb_value *v, const char *s, size_t len);

/* Converts `in` to type `to` into *out (overwritten, not freed first; NONE on error; out must
 * not be in).
 * Allowed (LwM2M 1.1 Appendix C and the sensible text forms):
 *   same type -> copy; INT <-> UINT when in range; INT/UINT/TIME -> FLOAT when exact;
 *   FLOAT -> INT/UINT/TIME when integral and in range; INT/UINT <-> TIME (in range);
 *   BOOL <-> INT/UINT (0/1 only); anything scalar -> STRING (canonical text);
 *   STRING -> INT/UINT/FLOAT/BOOL("true"/"false"/"1"/"0")/TIME/OBJLNK("o:i") when the whole
 *   string parses; STRING <-> CORELNK; STRING <-> OPAQUE (bytes as is).
 * NB_ERR_RANGE when the number does not fit, NB_ERR_INVAL for a conversion that makes no
 * sense (e.g. OPAQUE -> INT, BOOL -> OBJLNK, NONE -> anything but NONE) or unparsable text. */
nb_err nb_value_convert(const nb_value *in, nb_value_type to, nb_value *out);

/* Same type and same content (floats compare with ==, so NaN != NaN). */
bool nb_value_equal(const nb_value *a, const nb_value *b);

/* "Integer", "Unsigned Integer", "Float", "Boolean", "String", "Opaque", "Time", "Objlnk",
 * "Corelnk", "none": the spelling of the DDF <Type> element. */
const char *nb_value_type_name(nb_value_type t);
/* Inverse of nb_value_type_name (case-sensitive; "" is NONE). NB_ERR_INVAL if unknown. */
nb_err nb_value_type_parse(const char *name, nb_value_type *out);

/* Canonical text of a value into buf (NUL-terminated): integers in decimal, floats shortest
 * round-trip ("%.17g" trimmed), booleans "true"/"false", time as seconds, objlnk "o:i",
 * string/corelnk as is, opaque as lowercase hex. NB_ERR_OVERFLOW when cap is short. */
nb_err nb_value_format(const nb_value *v, char *buf, size_t cap);

typedef struct {
  nb_path path;
  nb_value value;
} nb_record;

/* A growable list of records; owns the items and their values. */
typedef struct {
  nb_record *items;
  size_t len;
  size_t cap;
} nb_records;

void nb_records_init(nb_records *r);
void nb_records_deinit(nb_records *r);
/* Appends (path, *v_moved): takes ownership of v's bytes and sets *v_moved to NONE (also on
 * error, when the value is freed). */
nb_err nb_records_add(nb_records *r, const nb_path *p, nb_value *v_moved);
/* Stable sort by path. */
void nb_records_sort(nb_records *r);
/* First record with exactly this path, or NULL. */
const nb_record *nb_records_find(const nb_records *r, const nb_path *p);

#endif
