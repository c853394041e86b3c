/* Per-flow window profiles, learning and detection. */
#include "monitor/baseline.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/rand.h"
#include "coap/hmap.h"

#define NB_BASELINE_MAX_FLOWS 1000000u

typedef struct {
  nb_coap_hnode node;
  int64_t window_start; /* index of the running window */
  bool has_window;
  bool new_reported, exceeded_reported;
  nb_mon_flow_stats s;
  char key[]; /* NUL-terminated */
} nb_bflow;

struct nb_mon_baseline {
  nb_coap_hmap map;
  uint64_t seed;
  uint32_t window_s;
  nb_bflow **all; /* for saving and freeing */
  size_t count, cap;
};

nb_mon_baseline *nb_mon_baseline_new(uint32_t window_s) {
  nb_mon_baseline *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->window_s = window_s ? window_s : 60;
  if (nb_random_bytes(&b->seed, sizeof b->seed)) b->seed = 0x6a5e;
  if (nb_coap_hmap_init(&b->map)) {
    free(b);
    return NULL;
  }
  return b;
}

void nb_mon_baseline_free(nb_mon_baseline *b) {
  if (!b) return;
  for (size_t i = 0; i < b->count; i++) free(b->all[i]);
  free(b->all);
  nb_coap_hmap_deinit(&b->map);
  free(b);
}

uint32_t nb_mon_baseline_window(const nb_mon_baseline *b) { return b->window_s; }
size_t nb_mon_baseline_flows(const nb_mon_baseline *b) { return b->count; }

static bool nb_bflow_eq(const nb_coap_hnode *node, const void *key) {
  return strcmp(((const nb_bflow *)node)->key, key) == 0;
}

static nb_bflow *nb_bflow_find(const nb_mon_baseline *b, const char *key) {
  uint64_t h = nb_coap_hash_bytes(b->seed, key, strlen(key));
  return (nb_bflow *)nb_coap_hmap_find(&b->map, h, nb_bflow_eq, key);
}

static nb_bflow *nb_bflow_add(nb_mon_baseline *b, const char *key) {
  if (b->count >= NB_BASELINE_MAX_FLOWS) return NULL;
  if (b->count == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    nb_bflow **grown = realloc(b->all, cap * sizeof(nb_bflow *));
    if (!grown) return NULL;
    b->all = grown;
    b->cap = cap;
  }
  size_t n = strlen(key);
  nb_bflow *f = calloc(1, sizeof *f + n + 1);
  if (!f) return NULL;
  memcpy(f->key, key, n + 1);
  nb_coap_hmap_insert(&b->map, &f->node, nb_coap_hash_bytes(b->seed, key, n));
  b->all[b->count++] = f;
  return f;
}

/* Folds the running window into the profile. */
static void nb_bflow_close(nb_bflow *f) {
  if (!f->has_window || f->s.packets == 0) return;
  f->s.windows++;
  if (f->s.packets > f->s.max_packets) f->s.max_packets = f->s.packets;
  if (f->s.octets > f->s.max_octets) f->s.max_octets = f->s.octets;
  f->s.packets = f->s.octets = 0;
  f->exceeded_reported = false;
}

void nb_mon_baseline_flush(nb_mon_baseline *b) {
  for (size_t i = 0; i < b->count; i++) {
    nb_bflow_close(b->all[i]);
    b->all[i]->has_window = false;
  }
}

static nb_baseline_verdict nb_bflow_judge(nb_bflow *f, const nb_bflow *ref, uint32_t factor,
                                          uint32_t slack, nb_mon_flow_stats *stats) {
  if (stats) {
    *stats = f->s;
    if (ref) {
      stats->max_packets = ref->s.max_packets;
      stats->max_octets = ref->s.max_octets;
      stats->windows = ref->s.windows;
    }
  }
  if (!ref) {
    if (f->new_reported) return NB_BASELINE_OK;
    f->new_reported = true;
    return NB_BASELINE_NEW_FLOW;
  }
  bool over = f->s.packets > (uint64_t)factor * ref->s.max_packets + slack ||
              f->s.octets > (uint64_t)factor * ref->s.max_octets + (uint64_t)slack * 64;
  if (!over || f->exceeded_reported) return NB_BASELINE_OK;
  f->exceeded_reported = true;
  return NB_BASELINE_EXCEEDED;
}

nb_baseline_verdict nb_mon_baseline_count(nb_mon_baseline *b, const nb_mon_baseline *reference,
                                          int64_t ts_us, const char *key, size_t octets,
                                          uint32_t factor, uint32_t slack,
                                          nb_mon_flow_stats *stats) {
  nb_bflow *f = nb_bflow_find(b, key);
  if (!f && !(f = nb_bflow_add(b, key))) return NB_BASELINE_OK;
  int64_t w = ts_us / ((int64_t)b->window_s * 1000000);
  if (f->has_window && w != f->window_start) nb_bflow_close(f);
  f->window_start = w;
  f->has_window = true;
  f->s.packets++;
  f->s.octets += octets;
  if (!reference) return NB_BASELINE_OK;
  return nb_bflow_judge(f, nb_bflow_find(reference, key), factor, slack, stats);
}

nb_err nb_mon_baseline_save(const nb_mon_baseline *b, const char *path) {
  json_t *root = json_object(), *flows = json_array();
  if (!root || !flows) {
    json_decref(root);
    json_decref(flows);
    return NB_ERR_NOMEM;
  }
  json_object_set_new(root, "niobium_monitor_baseline", json_integer(1));
  json_object_set_new(root, "window", json_integer(b->window_s));
  json_object_set_new(root, "flows", flows);
  for (size_t i = 0; i < b->count; i++) {
    const nb_bflow *f = b->all[i];
    if (f->s.windows == 0) continue;
    json_array_append_new(
        flows, json_pack("{s:s,s:I,s:I,s:I}", "flow", f->key, "windows", (json_int_t)f->s.windows,
                         "max_packets", (json_int_t)f->s.max_packets, "max_octets",
                         (json_int_t)f->s.max_octets));
  }
  int rc = json_dump_file(root, path, JSON_INDENT(1));
  json_decref(root);
  return rc == 0 ? NB_OK : NB_ERR_IO;
}

static nb_err nb_baseline_from_json(json_t *root, nb_mon_baseline **out) {
  json_t *window = json_object_get(root, "window"), *flows = json_object_get(root, "flows");
  if (!json_is_integer(json_object_get(root, "niobium_monitor_baseline")) ||
      !json_is_integer(window) || !json_is_array(flows) || json_integer_value(window) <= 0 ||
      json_integer_value(window) > 86400)
    return NB_ERR_SYNTAX;
  nb_mon_baseline *b = nb_mon_baseline_new((uint32_t)json_integer_value(window));
  if (!b) return NB_ERR_NOMEM;
  size_t i;
  json_t *item;
  json_array_foreach(flows, i, item) {
    const char *key = json_string_value(json_object_get(item, "flow"));
    json_int_t w = json_integer_value(json_object_get(item, "windows"));
    json_int_t p = json_integer_value(json_object_get(item, "max_packets"));
    json_int_t o = json_integer_value(json_object_get(item, "max_octets"));
    nb_bflow *f =
        key && w > 0 && p >= 0 && o >= 0 && !nb_bflow_find(b, key) ? nb_bflow_add(b, key) : NULL;
    if (!f) {
      nb_mon_baseline_free(b);
      return NB_ERR_SYNTAX;
    }
    f->s.windows = (uint64_t)w;
    f->s.max_packets = (uint64_t)p;
    f->s.max_octets = (uint64_t)o;
  }
  *out = b;
  return NB_OK;
}

nb_err nb_mon_baseline_load(const char *path, nb_mon_baseline **out) {
  json_error_t err;
  json_t *root = json_load_file(path, 0, &err);
  if (!root) return err.line < 0 || err.position == 0 ? NB_ERR_IO : NB_ERR_SYNTAX;
  nb_err e = nb_baseline_from_json(root, out);
  json_decref(root);
  return e;
}
