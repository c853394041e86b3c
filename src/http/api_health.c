/* GET /api/health: see api_health.h. */
#include "http/api_health.h"

#include <jansson.h>

#include "http/api_ctx.h"

/* The counters every answer carries; a fault's details when there is one. */
static json_t *store_json(const nb_store_health_state *st, size_t unsaved) {
  json_t *j = json_pack("{s:I,s:I,s:I,s:I}", "failuresTotal", (json_int_t)st->total, "auditLost",
                        (json_int_t)st->audit_lost, "evidenceLost", (json_int_t)st->evidence_lost,
                        "unsaved", (json_int_t)unsaved);
  if (!j || st->healthy) return j;
  json_t *fault = json_pack("{s:s,s:s,s:I,s:I}", "error", st->error, "operation", st->operation,
                            "since", (json_int_t)st->since, "failures", (json_int_t)st->failures);
  if (!fault || json_object_update(j, fault) != 0) {
    json_decref(j);
    j = NULL;
  }
  json_decref(fault);
  return j;
}

enum MHD_Result nb_api_health(nb_http_req *rq) {
  const nb_api_ctx *api = nb_api_of(rq);
  if (!api->health) /* no store to fail: nothing it is told can be lost to one */
    return nb_http_reply_json(rq, 200, json_pack("{s:s,s:n}", "status", "ok", "store"));
  nb_store_health_state st;
  nb_store_health_get(api->health, &st);
  json_t *store = store_json(&st, api->srv ? nb_server_unsaved(api->srv) : 0);
  json_t *j =
      store ? json_pack("{s:s,s:o}", "status", st.healthy ? "ok" : "unhealthy", "store", store)
            : NULL;
  if (!j) return nb_http_reply_error(rq, 500, "out of memory", "5.00");
  return nb_http_reply_json(rq, st.healthy ? 200 : 503, j);
}
