/* The generic in-memory object: each instance is a sorted list of (path, value) records at
 * /o/i/r or /o/i/r/ri. Hooks give dynamic reads, write checks and executes. */
#include <stdlib.h>
#include <string.h>

#include "niobium/object.h"

/* One stored value. The /o/i every record of an instance shares is not repeated: 32 bytes,
 * where a full nb_record is 40, and an instance holds a dozen of them for years. */
typedef struct {
  uint16_t res, ri; /* ri is 0 for a single resource */
  uint8_t len;      /* NB_PATH_RESOURCE or NB_PATH_RINSTANCE */
  nb_value value;
} nb_store_rec;

typedef struct {
  uint16_t id;
  uint32_t n, cap;
  nb_store_rec *recs; /* sorted by (res, len, ri), the order of their paths */
} nb_store_inst;

typedef struct {
  nb_object obj;
  nb_store_hooks hooks;
  nb_store_inst *insts; /* ascending id */
  uint32_t n, cap;      /* instance ids are 16-bit */
} nb_store;

static nb_store *nb_store_of(const nb_object *o) { return (nb_store *)o->user; }

static int nb_store_rec_cmp(const nb_store_rec *r, const nb_path *p) {
  uint16_t ri = p->len == NB_PATH_RINSTANCE ? p->ids[3] : 0;
  if (r->res != p->ids[2]) return r->res < p->ids[2] ? -1 : 1;
  if (r->len != p->len) return r->len < p->len ? -1 : 1;
  return r->ri == ri ? 0 : r->ri < ri ? -1 : 1;
}

static nb_path nb_store_rec_path(const nb_object *o, const nb_store_inst *in,
                                 const nb_store_rec *r) {
  return r->len == NB_PATH_RINSTANCE ? nb_path_rinst(o->def->id, in->id, r->res, r->ri)
                                     : nb_path_res(o->def->id, in->id, r->res);
}

static void nb_store_inst_deinit(nb_store_inst *in) {
  for (size_t i = 0; i < in->n; i++) nb_value_deinit(&in->recs[i].value);
  free(in->recs);
  in->recs = NULL;
  in->n = in->cap = 0;
}

static nb_store_inst *nb_store_find(const nb_store *s, uint16_t id) {
  for (size_t i = 0; i < s->n; i++)
    if (s->insts[i].id == id) return &s->insts[i];
  return NULL;
}

static size_t nb_store_instances(nb_object *o, uint16_t *ids, size_t cap) {
  nb_store *s = nb_store_of(o);
  for (size_t i = 0; i < s->n && i < cap; i++) ids[i] = s->insts[i].id;
  return s->n;
}

static nb_err nb_store_resources(nb_object *o, uint16_t inst, uint16_t *ids, size_t cap,
                                 size_t *n) {
  nb_store_inst *in = nb_store_find(nb_store_of(o), inst);
  if (!in) return NB_ERR_NOT_FOUND;
  size_t k = 0;
  for (size_t i = 0; i < in->n; i++) {
    uint16_t r = in->recs[i].res;
    if (k > 0 && ids[k - 1] == r) continue;
    if (k == cap) break;
    ids[k++] = r;
  }
  /* Executable resources hold no value but exist when the definition has them. */
  for (size_t d = 0; d < o->def->resource_count && k < cap; d++) {
    const nb_resource_def *rd = &o->def->resources[d];
    if (!(rd->ops & NB_OP_E)) continue;
    bool seen = false;
    for (size_t j = 0; j < k; j++) seen = seen || ids[j] == rd->id;
    if (!seen) ids[k++] = rd->id;
  }
  for (size_t i = 1; i < k; i++) /* insertion sort: executables were appended */
    for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
      uint16_t t = ids[j];
      ids[j] = ids[j - 1];
      ids[j - 1] = t;
    }
  *n = k;
  return NB_OK;
}

/* Index range [*lo, *hi) of the records of resource res. */
static void nb_store_range(const nb_store_inst *in, uint16_t res, size_t *lo, size_t *hi) {
  size_t i = 0;
  while (i < in->n && in->recs[i].res < res) i++;
  *lo = i;
  while (i < in->n && in->recs[i].res == res) i++;
  *hi = i;
}

static nb_err nb_store_read(nb_object *o, uint16_t inst, uint16_t res, nb_records *out,
                            nb_time_ms now) {
  nb_store *s = nb_store_of(o);
  nb_store_inst *in = nb_store_find(s, inst);
  if (!in) return NB_ERR_NOT_FOUND;
  nb_path rp = nb_path_res(o->def->id, inst, res);
  if (s->hooks.read) {
    nb_value v = nb_value_none();
    nb_err e = s->hooks.read(s->hooks.user, &rp, &v, now);
    if (e == NB_OK) return nb_records_add(out, &rp, &v);
    nb_value_deinit(&v);
    if (e != NB_ERR_NOT_FOUND) return e;
  }
  size_t lo, hi;
  nb_store_range(in, res, &lo, &hi);
  const nb_resource_def *rd = nb_object_def_resource(o->def, res);
  if (lo == hi && !(rd && rd->multiple)) return NB_ERR_NOT_FOUND;
  for (size_t i = lo; i < hi; i++) {
    nb_value v;
    if (nb_value_copy(&v, &in->recs[i].value) != NB_OK) return NB_ERR_NOMEM;
    nb_path p = nb_store_rec_path(o, in, &in->recs[i]);
    nb_err e = nb_records_add(out, &p, &v);
    if (e != NB_OK) return e;
  }
  return NB_OK;
}

/* Removes records [lo, hi) of an instance. */
static void nb_store_cut(nb_store_inst *in, size_t lo, size_t hi) {
  if (lo == hi) return;
  for (size_t i = lo; i < hi; i++) nb_value_deinit(&in->recs[i].value);
  memmove(&in->recs[lo], &in->recs[hi], (in->n - hi) * sizeof *in->recs);
  in->n -= (uint32_t)(hi - lo);
}

/* Inserts (p, *v_moved) at its sorted place. Grows one record at a time, not by doubling:
 * an instance holds a dozen values for years, is written rarely, and a spare slot is 32 bytes. */
static nb_err nb_store_insert(nb_store_inst *in, const nb_path *p, nb_value *v_moved) {
  if (in->n == in->cap) {
    nb_store_rec *recs =
        in->cap <= UINT32_MAX - 1 ? realloc(in->recs, (in->cap + 1) * sizeof *recs) : NULL;
    if (!recs) {
      nb_value_deinit(v_moved);
      return NB_ERR_NOMEM;
    }
    in->recs = recs;
    in->cap += 1;
  }
  size_t at = in->n;
  while (at > 0 && nb_store_rec_cmp(&in->recs[at - 1], p) > 0) at--;
  memmove(&in->recs[at + 1], &in->recs[at], (in->n - at) * sizeof in->recs[0]);
  nb_store_rec *r = &in->recs[at];
  r->res = p->ids[2];
  r->len = p->len;
  r->ri = p->len == NB_PATH_RINSTANCE ? p->ids[3] : 0;
  r->value = *v_moved;
  *v_moved = nb_value_none();
  in->n++;
  return NB_OK;
}

/* Stores one value (typed to the definition) at p, replacing what was there. */
static nb_err nb_store_put(nb_object *o, nb_store_inst *in, const nb_path *p, const nb_value *v) {
  if (p->len < NB_PATH_RESOURCE) return NB_ERR_INVAL;
  const nb_resource_def *rd = nb_object_def_resource(o->def, p->ids[2]);
  nb_value typed = nb_value_none();
  nb_err e = (rd && rd->type != NB_VT_NONE) ? nb_value_convert(v, rd->type, &typed)
                                            : nb_value_copy(&typed, v);
  if (e != NB_OK) return e;
  for (size_t i = 0; i < in->n; i++) {
    if (nb_store_rec_cmp(&in->recs[i], p) == 0) {
      nb_value_deinit(&in->recs[i].value);
      in->recs[i].value = typed;
      return NB_OK;
    }
  }
  return nb_store_insert(in, p, &typed);
}

static nb_err nb_store_write(nb_object *o, uint16_t inst, uint16_t res, const nb_record *recs,
                             size_t n, bool replace, nb_time_ms now) {
  nb_store *s = nb_store_of(o);
  nb_store_inst *in = nb_store_find(s, inst);
  if (!in) return NB_ERR_NOT_FOUND;
  nb_path rp = nb_path_res(o->def->id, inst, res);
  if (s->hooks.write) {
    nb_err e = s->hooks.write(s->hooks.user, &rp, recs, n, now);
    if (e != NB_OK) return e;
  }
  if (replace) {
    size_t lo, hi;
    nb_store_range(in, res, &lo, &hi);
    nb_store_cut(in, lo, hi);
  }
  for (size_t i = 0; i < n; i++) {
    nb_err e = nb_store_put(o, in, &recs[i].path, &recs[i].value);
    if (e != NB_OK) return e;
  }
  return NB_OK;
}

static nb_err nb_store_execute(nb_object *o, uint16_t inst, uint16_t res, const uint8_t *args,
                               size_t len, nb_time_ms now) {
  nb_store *s = nb_store_of(o);
  if (!nb_store_find(s, inst)) return NB_ERR_NOT_FOUND;
  if (!s->hooks.execute) return NB_ERR_UNSUPPORTED;
  nb_path rp = nb_path_res(o->def->id, inst, res);
  return s->hooks.execute(s->hooks.user, &rp, args, len, now);
}

static nb_err nb_store_create(nb_object *o, uint16_t inst) {
  return nb_store_object_add_instance(o, inst);
}

static nb_err nb_store_remove(nb_object *o, uint16_t inst) {
  nb_store *s = nb_store_of(o);
  nb_store_inst *in = nb_store_find(s, inst);
  if (!in) return NB_ERR_NOT_FOUND;
  nb_store_inst_deinit(in);
  size_t idx = (size_t)(in - s->insts);
  memmove(in, in + 1, (s->n - idx - 1) * sizeof *in);
  s->n--;
  return NB_OK;
}

static void nb_store_destroy(nb_object *o) {
  nb_store *s = nb_store_of(o);
  for (size_t i = 0; i < s->n; i++) nb_store_inst_deinit(&s->insts[i]);
  free(s->insts);
  free(s);
}

static const nb_object_ops nb_store_ops = {
    nb_store_instances, nb_store_resources, nb_store_read,   nb_store_write,
    nb_store_execute,   nb_store_create,    nb_store_remove, nb_store_destroy,
};

nb_object *nb_store_object_new(const nb_object_def *def, const nb_store_hooks *hooks) {
  if (!def) return NULL;
  nb_store *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->obj.def = def;
  s->obj.ops = &nb_store_ops;
  s->obj.user = s;
  if (hooks) s->hooks = *hooks;
  return &s->obj;
}

nb_err nb_store_object_add_instance(nb_object *o, uint16_t inst) {
  nb_store *s = nb_store_of(o);
  if (inst > NB_ID_MAX) return NB_ERR_RANGE;
  if (nb_store_find(s, inst)) return NB_ERR_EXISTS;
  if (s->n == s->cap) {
    uint32_t nc = s->cap ? s->cap * 2 : 2;
    nb_store_inst *ni = realloc(s->insts, nc * sizeof *ni);
    if (!ni) return NB_ERR_NOMEM;
    s->insts = ni;
    s->cap = nc;
  }
  size_t at = 0;
  while (at < s->n && s->insts[at].id < inst) at++;
  memmove(&s->insts[at + 1], &s->insts[at], (s->n - at) * sizeof *s->insts);
  memset(&s->insts[at], 0, sizeof s->insts[at]);
  s->insts[at].id = inst;
  s->n++;
  return NB_OK;
}

bool nb_store_object_has_instance(const nb_object *o, uint16_t inst) {
  return nb_store_find(nb_store_of(o), inst) != NULL;
}

nb_err nb_store_object_set(nb_object *o, const nb_path *p, const nb_value *v) {
  if (p->len < NB_PATH_RESOURCE || p->ids[0] != o->def->id) return NB_ERR_INVAL;
  nb_store_inst *in = nb_store_find(nb_store_of(o), p->ids[1]);
  if (!in) return NB_ERR_NOT_FOUND;
  const nb_resource_def *rd = nb_object_def_resource(o->def, p->ids[2]);
  if (rd && rd->multiple != (p->len == NB_PATH_RINSTANCE)) return NB_ERR_INVAL;
  return nb_store_put(o, in, p, v);
}

nb_err nb_store_object_unset(nb_object *o, const nb_path *p) {
  nb_store_inst *in = nb_store_find(nb_store_of(o), p->ids[1]);
  if (!in || p->len < NB_PATH_RESOURCE) return NB_ERR_NOT_FOUND;
  size_t lo, hi;
  nb_store_range(in, p->ids[2], &lo, &hi);
  if (p->len == NB_PATH_RINSTANCE) {
    for (size_t i = lo; i < hi; i++)
      if (nb_store_rec_cmp(&in->recs[i], p) == 0) {
        nb_store_cut(in, i, i + 1);
        return NB_OK;
      }
    return NB_ERR_NOT_FOUND;
  }
  if (lo == hi) return NB_ERR_NOT_FOUND;
  nb_store_cut(in, lo, hi);
  return NB_OK;
}

const nb_value *nb_store_object_get(const nb_object *o, const nb_path *p) {
  nb_store_inst *in = nb_store_find(nb_store_of(o), p->ids[1]);
  if (!in || p->len < NB_PATH_RESOURCE || p->ids[0] != o->def->id) return NULL;
  for (size_t i = 0; i < in->n; i++)
    if (nb_store_rec_cmp(&in->recs[i], p) == 0) return &in->recs[i].value;
  return NULL;
}

int64_t nb_store_object_get_int(const nb_object *o, uint16_t inst, uint16_t res, int64_t fallback) {
  nb_path p = nb_path_res(o->def->id, inst, res);
  const nb_value *v = nb_store_object_get(o, &p);
  if (!v) return fallback;
  if (v->type == NB_VT_INT || v->type == NB_VT_TIME) return v->v.i;
  if (v->type == NB_VT_UINT && v->v.u <= INT64_MAX) return (int64_t)v->v.u;
  return fallback;
}

bool nb_store_object_get_bool(const nb_object *o, uint16_t inst, uint16_t res, bool fallback) {
  nb_path p = nb_path_res(o->def->id, inst, res);
  const nb_value *v = nb_store_object_get(o, &p);
  return v && v->type == NB_VT_BOOL ? v->v.b : fallback;
}

const char *nb_store_object_get_str(const nb_object *o, uint16_t inst, uint16_t res) {
  nb_path p = nb_path_res(o->def->id, inst, res);
  const nb_value *v = nb_store_object_get(o, &p);
  return v && v->type == NB_VT_STRING ? (const char *)v->v.bytes.data : NULL;
}

void nb_object_free(nb_object *o) {
  if (o && o->ops && o->ops->destroy) o->ops->destroy(o);
}
