/* libFuzzer: OMA DDF object definitions (libxml2 DOM, then the strict walk in lwm2m/ddf). Oracle:
 * what parses is a well-formed set of definitions, each one accepted by a model (resources in
 * ascending order, none twice, every name set). */
#include <stdint.h>
#include <stdlib.h>

#include "lwm2m/ddf/ddf.h"
#include "lwm2m/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const nb_object_def *def) {
  if (!def->name || !def->name[0] || !def->version) abort();
  for (size_t i = 0; i < def->resource_count; i++) {
    if (!def->resources[i].name || !def->resources[i].name[0]) abort();
    if (i && def->resources[i - 1].id >= def->resources[i].id) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_object_def **defs = NULL;
  size_t count = 0;
  char err[256];
  if (nb_ddf_parse((const char *)data, size, "fuzz.xml", &defs, &count, err, sizeof err) != NB_OK)
    return 0;
  if (count == 0) abort();
  nb_model *m = nb_model_new_empty();
  for (size_t i = 0; i < count; i++) {
    check(defs[i]);
    if (m && nb_model_add(m, defs[i]) != NB_OK) abort(); /* the model owns it now */
    if (!m) nb_object_def_free(defs[i]);
  }
  free(defs);
  nb_model_free(m);
  return 0;
}
