/* SenML (RFC 8428) as LwM2M 1.1 uses it, the part shared by the JSON (110) and CBOR (112)
 * representations: a parsed record's fields, the base-field state that carries from record to
 * record (bn, bt, bv), name resolution and value typing into (path, value) records, and the
 * naming of records on output. senml_json.c and senml_cbor.c parse and write the bytes. */
#ifndef NB_LWM2M_SENML_H
#define NB_LWM2M_SENML_H

#include <stdbool.h>
#include <stddef.h>

#include "lwm2m/fmtutil.h"

typedef enum {
  NB_SENML_NOVALUE,
  NB_SENML_NUM,   /* v */
  NB_SENML_STR,   /* vs */
  NB_SENML_BOOL,  /* vb */
  NB_SENML_DATA,  /* vd: bytes (CBOR) or base64url text (JSON, data_b64) */
  NB_SENML_OBJLNK /* vlo: "o:i" */
} nb_senml_kind;

/* Field bits, to reject a field given twice in one record. */
enum {
  NB_SENML_F_BN = 1u << 0,
  NB_SENML_F_BT = 1u << 1,
  NB_SENML_F_BV = 1u << 2,
  NB_SENML_F_BVER = 1u << 3,
  NB_SENML_F_N = 1u << 4,
  NB_SENML_F_T = 1u << 5,
  NB_SENML_F_VALUE = 1u << 6,
};

/* One record as parsed; strings point into the payload (or the JSON tree). */
typedef struct {
  unsigned fields; /* NB_SENML_F_* present */
  const char *bn;
  size_t bn_len;
  nb_fmt_num bt, bv, t;
  const char *n;
  size_t n_len;
  nb_senml_kind kind;
  nb_fmt_num num;
  const char *str; /* vs, vlo, vd */
  size_t str_len;
  bool data_b64;
  bool b;
} nb_senml_rec;

/* Base fields in force, carried from one record to the next. */
typedef struct {
  nb_fmt_dec *d;
  const char *bn;
  size_t bn_len;
  bool has_bt, has_bv;
  double bt;
  nb_fmt_num bv;
} nb_senml_state;

void nb_senml_rec_init(nb_senml_rec *rec);
/* Marks a field present; 4.00 when it already was (or a second value field). */
nb_err nb_senml_rec_field(nb_senml_rec *rec, unsigned field, nb_format_error *err);
/* 4.00 for a label this implementation must understand but does not (names ending in '_'). */
bool nb_senml_must_understand(const char *label, size_t len);

void nb_senml_state_init(nb_senml_state *s, nb_fmt_dec *d);
/* Applies base fields, resolves the name against the request path, types the value with the
 * definitions and appends the record (NONE for path lists). */
nb_err nb_senml_apply(nb_senml_state *s, const nb_senml_rec *rec);

/* Output naming: the base name written in the first record ("" for none) and each record's
 * name relative to it, so that bn + n is the record's path. */
typedef struct {
  char bn[NB_PATH_STRLEN + 1];
  bool exact; /* some record sits at base itself: names get a leading "/" */
  nb_path base;
} nb_senml_names;

void nb_senml_names_init(nb_senml_names *nm, const nb_records *in, const nb_format_opts *opts);
/* Name of p into buf (NB_PATH_STRLEN + 1 bytes). */
void nb_senml_name(const nb_senml_names *nm, const nb_path *p, char *buf);
/* Encoder input checks shared by the SenML and LwM2M JSON writers: valid paths under base,
 * valid UTF-8 strings. 5.00 otherwise. */
nb_err nb_senml_check_input(const nb_records *in, const nb_format_opts *opts, bool allow_none,
                            nb_format_error *err);

#endif
