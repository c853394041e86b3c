/* Shared by the LwM2M content-format fuzz targets (header-only; each target includes it once):
 * decodes the input under several request paths with the built-in definitions and, whenever a
 * decode succeeds, checks the round trip property: encoding the records and decoding them again
 * gives the same records. Any crash, leak, sanitizer report or broken property aborts. */
#ifndef NB_FUZZ_LWM2M_FUZZ_H
#define NB_FUZZ_LWM2M_FUZZ_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/format.h"
#include "lwm2m/model.h"

static const nb_model *nb_fuzz_model(void) {
  static nb_model *m;
  if (!m) m = nb_model_new();
  if (!m) abort();
  return m;
}

/* nb_value_equal, except that NaN equals NaN (CBOR carries NaN). */
static int nb_fuzz_same_value(const nb_value *a, const nb_value *b) {
  if (a->type == NB_VT_FLOAT && b->type == NB_VT_FLOAT && isnan(a->v.f) && isnan(b->v.f)) return 1;
  return nb_value_equal(a, b);
}

static void nb_fuzz_check_same(const nb_records *a, const nb_records *b) {
  if (a->len != b->len) abort();
  for (size_t k = 0; k < a->len; k++) {
    if (!nb_path_equal(&a->items[k].path, &b->items[k].path)) abort();
    if (!nb_fuzz_same_value(&a->items[k].value, &b->items[k].value)) abort();
  }
}

/* Decodes under each base (an empty input as NULL); on success re-encodes and decodes again.
 * Encoding may refuse what the format cannot write back (NaN in JSON, for instance); that is not a
 * failure. */
static void nb_fuzz_codec(int cf, const uint8_t *data, size_t size, unsigned flags) {
  if (size == 0) data = NULL; /* as a CoAP message without a payload has it */
  static const char *const bases[] = {"/",        "/3", "/3/0", "/3/0/7", "/3/0/7/1",
                                      "/65000/0", "/1", "/2",   "/3/0/0", "/3/0/13"};
  for (size_t k = 0; k < sizeof bases / sizeof bases[0]; k++) {
    nb_path base;
    if (nb_path_parse(bases[k], &base) != NB_OK) abort();
    nb_format_opts opts = {&base, nb_fuzz_model(), flags, NULL, NULL, NULL};
    nb_records r;
    nb_records_init(&r);
    nb_format_error fe = {0, NULL};
    nb_err e = nb_format_decode_ex(cf, data, size, &opts, &r, &fe);
    if (e != NB_OK) {
      if (r.len != 0 || fe.reason == NULL || fe.code == 0) abort();
      nb_records_deinit(&r);
      continue;
    }
    nb_bytes out;
    nb_bytes_init(&out);
    if (nb_format_encode_ex(cf, &r, &opts, &out, &fe) == NB_OK) {
      nb_records back;
      nb_records_init(&back);
      if (nb_format_decode_ex(cf, out.data, out.len, &opts, &back, &fe) != NB_OK) abort();
      nb_records_sort(&r);
      nb_records_sort(&back);
      nb_fuzz_check_same(&r, &back);
      nb_records_deinit(&back);
    }
    nb_bytes_free(&out);
    nb_records_deinit(&r);
  }
}

#endif
