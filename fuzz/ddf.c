/* libFuzzer: OMA DDF object definition files (src/lwm2m/ddf/ddf.c over libxml2), as
 * `--ddf` of the server, client and monitor and `niobium objects` read them.
 * Oracles: a refusal names the place ("fuzz.xml:LINE: ...") and returns nothing; what is
 * accepted is a set of sound definitions (names, ids ascending and unique, operations and
 * types that go together) that a model takes and finds again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/ddf/ddf.h"
#include "lwm2m/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_def(const nb_object_def *d) {
  if (!d->name || !d->name[0] || !d->version || d->id > NB_ID_MAX) abort();
  for (size_t k = 0; k < d->resource_count; k++) {
    const nb_resource_def *r = &d->resources[k];
    if (!r->name || !r->name[0] || r->id > NB_ID_MAX) abort();
    if (k && r->id <= d->resources[k - 1].id) abort();
    if (r->ops & ~(NB_OP_RW | NB_OP_E)) abort();
    if (r->range && !r->range[0]) abort();
    if (r->units && !r->units[0]) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_object_def **defs = NULL;
  size_t count = 99;
  char err[256] = "";
  nb_err e = nb_ddf_parse((const char *)data, size, "fuzz.xml", &defs, &count, err, sizeof err);
  if (e != NB_OK) {
    if (defs || count || strncmp(err, "fuzz.xml:", 9) != 0) abort();
    return 0;
  }
  if (!defs || !count) abort();
  nb_model *m = nb_model_new_empty();
  if (!m) abort();
  for (size_t k = 0; k < count; k++) {
    check_def(defs[k]);
    nb_object_def *copy = nb_object_def_dup(defs[k]);
    if (!copy || nb_model_add(m, copy) != NB_OK) abort();
  }
  for (size_t k = 0; k < count; k++) {
    const nb_object_def *d = nb_model_object(m, defs[k]->id);
    if (!d || d->resource_count != defs[k]->resource_count) abort();
    for (size_t r = 0; r < d->resource_count; r++) {
      const nb_resource_def *rd = nb_model_resource(m, d->id, defs[k]->resources[r].id);
      if (!rd || strcmp(rd->name, defs[k]->resources[r].name) != 0) abort();
    }
    nb_object_def_free(defs[k]);
  }
  free(defs);
  nb_model_free(m);
  return 0;
}
