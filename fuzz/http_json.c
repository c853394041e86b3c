/* libFuzzer: REST API request bodies to records (src/http/json.c), the bodies of
 * PUT/POST /api/clients/{ep}/{path} and Write-Composite: {"value": v, "type"?} or
 * {"content": [{"path", "value", "type"?}...]}, under several targets and without one.
 * Oracles: a refusal says why; what is accepted lies under the target, and the records shown
 * as the API shows them ({"path","type","value"} items) read back to the same records. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const nb_model *fuzz_model(void) {
  static nb_model *m;
  if (!m && !(m = nb_model_new())) abort();
  return m;
}

/* nb_value_equal, with NaN equal to NaN. */
static int same_value(const nb_value *a, const nb_value *b) {
  if (a->type == NB_VT_FLOAT && b->type == NB_VT_FLOAT && isnan(a->v.f) && isnan(b->v.f)) return 1;
  return nb_value_equal(a, b);
}

/* The records as GET answers show them, read back as a Write-Composite body. */
static void check_round_trip(const nb_records *recs) {
  /* An unsigned integer past INT64_MAX is shown as a JSON real (jansson has no uint64): it
   * does not come back exactly, so such records are not checked. */
  for (size_t k = 0; k < recs->len; k++)
    if (recs->items[k].value.type == NB_VT_UINT && recs->items[k].value.v.u > INT64_MAX) return;
  json_t *shown = nb_http_json_records(recs);
  if (!shown) abort();
  /* Values JSON cannot hold (NaN, infinities) are left out of what the API shows. */
  if (json_array_size(shown) != recs->len) {
    json_decref(shown);
    return;
  }
  json_t *body = json_pack("{s:o}", "content", shown);
  if (!body) abort();
  nb_records back;
  nb_records_init(&back);
  char reason[160] = "";
  if (nb_http_json_to_records(fuzz_model(), NULL, body, &back, reason, sizeof reason) != NB_OK)
    abort();
  if (back.len != recs->len) abort();
  for (size_t k = 0; k < back.len; k++) {
    if (!nb_path_equal(&back.items[k].path, &recs->items[k].path)) abort();
    if (!same_value(&recs->items[k].value, &back.items[k].value)) abort();
  }
  nb_records_deinit(&back);
  json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *body = json_loadb((const char *)data, size, 0, NULL);
  if (!body) return 0;
  static const char *const targets[] = {NULL,     "/3/0/1",     "/3/0/13", "/3/0/7/1", "/1/0",
                                        "/5/0/0", "/65000/0/1", "/3303/0", "/"};
  for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
    nb_path base;
    if (targets[t] && nb_path_parse(targets[t], &base) != NB_OK) abort();
    nb_records recs;
    nb_records_init(&recs);
    char reason[160] = "";
    nb_err e = nb_http_json_to_records(fuzz_model(), targets[t] ? &base : NULL, body, &recs, reason,
                                       sizeof reason);
    if (e != NB_OK) {
      if (e != NB_ERR_INVAL && e != NB_ERR_NOMEM) abort();
      if (!reason[0] || !memchr(reason, '\0', sizeof reason)) abort();
    } else {
      for (size_t k = 0; k < recs.len; k++) {
        if (recs.items[k].path.len < NB_PATH_RESOURCE) abort();
        if (targets[t] && !nb_path_is_prefix(&base, &recs.items[k].path)) abort();
      }
      check_round_trip(&recs);
    }
    nb_records_deinit(&recs);
  }
  json_decref(body);
  return 0;
}
