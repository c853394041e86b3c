/* Differential fuzzing of the built-in CBOR head reader (lwm2m/cbor_head.c, used by builds
 * without libcbor) against libcbor's streaming decoder through nb_cbor_next: both read the input
 * item by item and must agree on every item, length and error. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/cbor_head.h"
#include "lwm2m/cbor_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool nb_same(const nb_cbor_item *a, const nb_cbor_item *b) {
  if (a->kind != b->kind || a->indefinite != b->indefinite || a->b != b->b || a->u != b->u ||
      a->len != b->len || a->data != b->data)
    return false;
  if (isnan(a->d) || isnan(b->d)) return isnan(a->d) && isnan(b->d);
  return a->d == b->d && signbit(a->d) == signbit(b->d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_cbor_reader r;
  nb_cbor_reader_init(&r, data, size);
  size_t pos = 0;
  for (;;) {
    nb_cbor_item lib, own;
    size_t used = 0;
    nb_err el = nb_cbor_next(&r, &lib);
    nb_err eo = nb_cbor_head_decode(data + pos, size - pos, &own, &used);
    if (el != eo) abort();
    if (el != NB_OK) return 0;
    if (!nb_same(&lib, &own) || r.pos != pos + used) abort();
    pos += used;
  }
}
