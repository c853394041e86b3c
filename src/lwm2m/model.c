/* LwM2M object definitions: a sorted set of built-in (static) and added (heap) definitions. */
#include "lwm2m/model.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/objects_builtin.h"
#include "lwm2m/path.h"

typedef struct {
  const nb_object_def *def;
  bool owned; /* heap definition to free with nb_object_def_free */
} nb_model_entry;

struct nb_model {
  nb_model_entry *items; /* ascending def->id, unique */
  size_t len;
  size_t cap;
  const nb_object_def *view; /* nb_model_builtin: the built-in table itself, items NULL */
};

static const nb_object_def *nb_model_def(const nb_model *m, size_t k) {
  return m->view ? &m->view[k] : m->items[k].def;
}

static nb_model nb_model_builtin_view;
static pthread_once_t nb_model_builtin_once = PTHREAD_ONCE_INIT;

static void nb_model_builtin_init(void) {
  nb_model_builtin_view.view = nb_objects_builtin(&nb_model_builtin_view.len);
}

const nb_model *nb_model_builtin(void) {
  pthread_once(&nb_model_builtin_once, nb_model_builtin_init);
  return &nb_model_builtin_view;
}

nb_model *nb_model_new_empty(void) { return calloc(1, sizeof(nb_model)); }

nb_model *nb_model_new(void) {
  nb_model *m = nb_model_new_empty();
  if (m == NULL) return NULL;
  size_t count = 0;
  const nb_object_def *defs = nb_objects_builtin(&count);
  m->items = calloc(count, sizeof *m->items);
  if (m->items == NULL) {
    free(m);
    return NULL;
  }
  /* The built-in table is sorted by id (a unit test checks it), so it fills the set as is. */
  for (size_t k = 0; k < count; k++) m->items[k] = (nb_model_entry){&defs[k], false};
  m->len = m->cap = count;
  return m;
}

void nb_model_free(nb_model *m) {
  if (m == NULL) return;
  for (size_t k = 0; k < m->len; k++) {
    if (m->items[k].owned) nb_object_def_free((nb_object_def *)m->items[k].def);
  }
  free(m->items);
  free(m);
}

/* Index of obj, or of where it would be inserted; *found says which. */
static size_t nb_model_find(const nb_model *m, uint16_t obj, bool *found) {
  size_t lo = 0, hi = m->len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    uint16_t id = nb_model_def(m, mid)->id;
    if (id == obj) {
      *found = true;
      return mid;
    }
    if (id < obj) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *found = false;
  return lo;
}

const nb_object_def *nb_model_object(const nb_model *m, uint16_t obj) {
  bool found = false;
  size_t k = nb_model_find(m, obj, &found);
  return found ? nb_model_def(m, k) : NULL;
}

const nb_resource_def *nb_object_def_resource(const nb_object_def *def, uint16_t res) {
  size_t lo = 0, hi = def->resource_count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    uint16_t id = def->resources[mid].id;
    if (id == res) return &def->resources[mid];
    if (id < res) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return NULL;
}

const nb_resource_def *nb_model_resource(const nb_model *m, uint16_t obj, uint16_t res) {
  const nb_object_def *def = nb_model_object(m, obj);
  return def ? nb_object_def_resource(def, res) : NULL;
}

size_t nb_model_count(const nb_model *m) { return m->len; }

const nb_object_def *nb_model_at(const nb_model *m, size_t i) {
  return i < m->len ? nb_model_def(m, i) : NULL;
}

static bool nb_ops_valid(uint8_t ops) { return ops <= NB_OP_RW || ops == NB_OP_E; }

/* What nb_model_add accepts: sane ids, names, operations, types and sorted resources. */
static bool nb_object_def_valid(const nb_object_def *def) {
  if (def->id > NB_ID_MAX || def->name == NULL) return false;
  if (def->resource_count > 0 && def->resources == NULL) return false;
  for (size_t k = 0; k < def->resource_count; k++) {
    const nb_resource_def *r = &def->resources[k];
    if (r->id > NB_ID_MAX || r->name == NULL || !nb_ops_valid(r->ops)) return false;
    if ((unsigned)r->type > NB_VT_CORELNK) return false;
    if (k > 0 && def->resources[k - 1].id >= r->id) return false;
  }
  return true;
}

nb_err nb_model_reserve(nb_model *m, size_t extra) {
  if (extra > SIZE_MAX / sizeof *m->items - m->len) return NB_ERR_NOMEM;
  if (m->len + extra <= m->cap) return NB_OK;
  size_t cap = m->cap ? m->cap : 16;
  while (cap < m->len + extra)
    cap = cap > SIZE_MAX / 2 / sizeof *m->items ? m->len + extra : cap * 2;
  nb_model_entry *items = realloc(m->items, cap * sizeof *items);
  if (items == NULL) return NB_ERR_NOMEM;
  m->items = items;
  m->cap = cap;
  return NB_OK;
}

nb_err nb_model_add(nb_model *m, nb_object_def *def_owned) {
  if (def_owned == NULL) return NB_ERR_INVAL;
  if (!nb_object_def_valid(def_owned)) {
    nb_object_def_free(def_owned);
    return NB_ERR_INVAL;
  }
  bool found = false;
  size_t k = nb_model_find(m, def_owned->id, &found);
  if (found) {
    if (m->items[k].owned) nb_object_def_free((nb_object_def *)m->items[k].def);
    m->items[k] = (nb_model_entry){def_owned, true};
    return NB_OK;
  }
  if (nb_model_reserve(m, 1) != NB_OK) {
    nb_object_def_free(def_owned);
    return NB_ERR_NOMEM;
  }
  memmove(&m->items[k + 1], &m->items[k], (m->len - k) * sizeof *m->items);
  m->items[k] = (nb_model_entry){def_owned, true};
  m->len++;
  return NB_OK;
}

/* strdup that keeps NULL as NULL; *ok turns false on allocation failure. */
static char *nb_dup(const char *s, bool *ok) {
  if (s == NULL) return NULL;
  char *copy = strdup(s);
  if (copy == NULL) *ok = false;
  return copy;
}

nb_object_def *nb_object_def_dup(const nb_object_def *def) {
  nb_object_def *copy = calloc(1, sizeof *copy);
  if (copy == NULL) return NULL;
  bool ok = true;
  *copy = *def;
  copy->name = nb_dup(def->name, &ok);
  copy->version = nb_dup(def->version, &ok);
  copy->urn = nb_dup(def->urn, &ok);
  copy->lwm2m_version = nb_dup(def->lwm2m_version, &ok);
  copy->resources = NULL;
  copy->resource_count = 0;
  nb_resource_def *res = NULL;
  if (def->resource_count > 0) {
    res = calloc(def->resource_count, sizeof *res);
    if (res == NULL) ok = false;
  }
  if (res != NULL) {
    /* Count as we go so a failure frees exactly what was copied. */
    for (size_t k = 0; k < def->resource_count; k++) {
      res[k] = def->resources[k];
      res[k].name = nb_dup(def->resources[k].name, &ok);
      res[k].range = nb_dup(def->resources[k].range, &ok);
      res[k].units = nb_dup(def->resources[k].units, &ok);
      copy->resource_count = k + 1;
    }
    copy->resources = res;
  }
  if (!ok) {
    nb_object_def_free(copy);
    return NULL;
  }
  return copy;
}

void nb_object_def_free(nb_object_def *def) {
  if (def == NULL) return;
  nb_resource_def *res = (nb_resource_def *)def->resources;
  for (size_t k = 0; res != NULL && k < def->resource_count; k++) {
    free((char *)res[k].name);
    free((char *)res[k].range);
    free((char *)res[k].units);
  }
  free(res);
  free((char *)def->name);
  free((char *)def->version);
  free((char *)def->urn);
  free((char *)def->lwm2m_version);
  free(def);
}

static const char *const nb_op_names[] = {
    [NB_OP_NONE] = "", [NB_OP_R] = "R", [NB_OP_W] = "W", [NB_OP_RW] = "RW", [NB_OP_E] = "E",
};

const char *nb_op_name(uint8_t ops) { return nb_ops_valid(ops) ? nb_op_names[ops] : "?"; }

nb_err nb_op_parse(const char *text, uint8_t *out) {
  for (size_t k = 0; k < sizeof nb_op_names / sizeof nb_op_names[0]; k++) {
    if (nb_ops_valid((uint8_t)k) && strcmp(text, nb_op_names[k]) == 0) {
      *out = (uint8_t)k;
      return NB_OK;
    }
  }
  return NB_ERR_INVAL;
}
