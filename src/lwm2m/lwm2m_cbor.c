/* LwM2M CBOR codec. */
#include "lwm2m/lwm2m_cbor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coap/msg.h"
#include "lwm2m/cbor_io.h"
#include "lwm2m/cbor_value.h"
#include "lwm2m/fmtutil.h"

/* ---- reader ---- */

typedef struct {
  nb_fmt_dec *d;
  nb_cbor_reader r;
} nb_lc_dec;

static nb_err nb_lc_bad(const nb_lc_dec *c, const char *reason) {
  return nb_fmt_bad(c->d->err, NB_ERR_FMT_MALFORMED, reason);
}

static nb_err nb_lc_next(nb_lc_dec *c, nb_cbor_item *it) {
  nb_err e = nb_cbor_next(&c->r, it);
  if (e == NB_ERR_TRUNCATED) return nb_lc_bad(c, "LwM2M CBOR: payload ends inside an item");
  if (e != NB_OK) return nb_lc_bad(c, "LwM2M CBOR: malformed CBOR");
  return NB_OK;
}

/* The next element head of a container (k elements read so far); *end when it is over. */
static nb_err nb_lc_elem(nb_lc_dec *c, const nb_cbor_item *container, uint64_t k, nb_cbor_item *it,
                         bool *end) {
  *end = !container->indefinite && k >= container->u;
  if (*end) return NB_OK;
  nb_err e = nb_lc_next(c, it);
  if (e != NB_OK) return e;
  if (it->kind == NB_CBOR_BREAK) {
    if (!container->indefinite) return nb_lc_bad(c, "LwM2M CBOR: malformed CBOR");
    *end = true;
  }
  return NB_OK;
}

static nb_err nb_lc_push_id(nb_lc_dec *c, const nb_cbor_item *it, nb_path *p) {
  if (it->kind != NB_CBOR_UINT) return nb_lc_bad(c, "LwM2M CBOR: map key is not an ID");
  if (it->u > NB_ID_MAX) return nb_lc_bad(c, "LwM2M CBOR: ID above 65534");
  if (p->len == 4) return nb_lc_bad(c, "LwM2M CBOR: path deeper than a resource instance");
  p->ids[p->len++] = (uint16_t)it->u;
  return NB_OK;
}

/* A map key (an ID, or an array of at least one ID) extends the prefix path p. */
static nb_err nb_lc_key(nb_lc_dec *c, const nb_cbor_item *key, nb_path *p) {
  if (key->kind != NB_CBOR_ARRAY) return nb_lc_push_id(c, key, p);
  uint64_t k = 0;
  for (;; k++) {
    nb_cbor_item id;
    bool end;
    nb_err e = nb_lc_elem(c, key, k, &id, &end);
    if (e != NB_OK) return e;
    if (end) break;
    if ((e = nb_lc_push_id(c, &id, p)) != NB_OK) return e;
  }
  return k ? NB_OK : nb_lc_bad(c, "LwM2M CBOR: empty path array as a key");
}

/* A leaf at p: a value (under tag 1 for Time) or, in a path list, null. */
static nb_err nb_lc_leaf(nb_lc_dec *c, const nb_cbor_item *head, const nb_path *p) {
  nb_fmt_dec *d = c->d;
  nb_value v = nb_value_none();
  if (d->flags & NB_FORMAT_PATHS_ONLY) {
    if (head->kind != NB_CBOR_NULL) return nb_lc_bad(c, "LwM2M CBOR: a path list has null leaves");
    return nb_fmt_dec_add(d, p, &v, NAN);
  }
  if (p->len < 3) return nb_lc_bad(c, "LwM2M CBOR: a value at an object or object instance");
  nb_cbor_item it = *head;
  bool time_tag = false;
  if (it.kind == NB_CBOR_TAG) {
    if (it.u != 1) return nb_lc_bad(c, "LwM2M CBOR: only tag 1 (epoch time) is understood");
    nb_err e = nb_lc_next(c, &it);
    if (e != NB_OK) return e;
    time_tag = true;
  }
  if (it.kind == NB_CBOR_NULL) return nb_lc_bad(c, "LwM2M CBOR: null is not a resource value");
  const nb_resource_def *def = nb_fmt_def(d->model, p);
  nb_err e = nb_cbor_value_item(&it, time_tag, def ? def->type : NB_VT_NONE, &v, d->err);
  if (e != NB_OK) return e;
  return nb_fmt_dec_add(d, p, &v, NAN);
}

/* The pairs of a map whose keys extend `prefix` (at most four levels deep, so the recursion is
 * bounded). An empty map at /o/i or /o/i/r is an empty container. */
static nb_err nb_lc_map(nb_lc_dec *c, const nb_cbor_item *map, const nb_path *prefix) {
  if (prefix->len == 4) return nb_lc_bad(c, "LwM2M CBOR: a map below a resource instance");
  uint64_t k = 0;
  for (;; k++) {
    nb_cbor_item key, val;
    bool end;
    nb_err e = nb_lc_elem(c, map, k, &key, &end);
    if (e != NB_OK) return e;
    if (end) break;
    nb_path p = *prefix;
    if ((e = nb_lc_key(c, &key, &p)) != NB_OK) return e;
    if ((e = nb_lc_next(c, &val)) != NB_OK) return e;
    if (val.kind == NB_CBOR_BREAK) return nb_lc_bad(c, "LwM2M CBOR: malformed CBOR");
    e = val.kind == NB_CBOR_MAP ? nb_lc_map(c, &val, &p) : nb_lc_leaf(c, &val, &p);
    if (e != NB_OK) return e;
  }
  bool container = prefix->len == 2 || prefix->len == 3;
  if (k == 0 && container && !(c->d->flags & NB_FORMAT_PATHS_ONLY)) {
    nb_value none = nb_value_none();
    return nb_fmt_dec_add(c->d, prefix, &none, NAN);
  }
  return NB_OK;
}

static nb_err nb_lc_records(nb_lc_dec *c) {
  nb_cbor_item top;
  nb_err e = nb_lc_next(c, &top);
  if (e != NB_OK) return e;
  if (top.kind != NB_CBOR_MAP) return nb_lc_bad(c, "LwM2M CBOR: payload is not a map");
  nb_path root = nb_path_root();
  if ((e = nb_lc_map(c, &top, &root)) != NB_OK) return e;
  if (c->r.pos != c->r.len) return nb_lc_bad(c, "LwM2M CBOR: bytes after the map");
  return NB_OK;
}

nb_err nb_lwm2m_cbor_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts,
                            nb_records *out, nb_format_error *err) {
  nb_fmt_dec d;
  nb_fmt_dec_begin(&d, opts, out, err);
  if (len == 0) return nb_fmt_dec_finish(&d, NB_OK);
  nb_lc_dec c = {&d, {0}};
  nb_cbor_reader_init(&c.r, buf, len);
  return nb_fmt_dec_finish(&d, nb_lc_records(&c));
}

/* ---- writer ---- */

typedef struct {
  const nb_record **recs; /* sorted by path */
  size_t n;
  bool paths_only;
  nb_bytes *out;
} nb_lc_enc;

static int nb_lc_rec_cmp(const void *a, const void *b) {
  const nb_record *ra = *(const nb_record *const *)a, *rb = *(const nb_record *const *)b;
  int c = nb_path_compare(&ra->path, &rb->path);
  if (c != 0) return c;
  return (ra > rb) - (ra < rb);
}

/* End of the run in [lo, limit) sharing recs[lo]'s ids[level]. */
static size_t nb_lc_group_end(const nb_lc_enc *e, size_t lo, size_t limit, uint8_t level) {
  uint16_t id = e->recs[lo]->path.ids[level];
  size_t hi = lo + 1;
  while (hi < limit && e->recs[hi]->path.ids[level] == id) hi++;
  return hi;
}

static nb_err nb_lc_put_leaf(const nb_lc_enc *e, const nb_record *r) {
  if (r->value.type != NB_VT_NONE) return nb_cbor_value_put(e->out, &r->value);
  if (e->paths_only) {
    static const uint8_t null_item = 0xf6;
    return nb_bytes_append(e->out, &null_item, 1);
  }
  return nb_cbor_put_map(e->out, 0); /* an empty container */
}

/* Records [lo, hi) share ids[0..level); each is longer than level. */
static nb_err nb_lc_put_map(const nb_lc_enc *e, size_t lo, size_t hi, uint8_t level) {
  size_t groups = 0;
  for (size_t k = lo; k < hi; k = nb_lc_group_end(e, k, hi, level)) groups++;
  nb_err err = nb_cbor_put_map(e->out, groups);
  for (size_t k = lo; k < hi && err == NB_OK;) {
    size_t end = nb_lc_group_end(e, k, hi, level);
    const nb_record *r = e->recs[k];
    err = nb_cbor_put_uint(e->out, r->path.ids[level]);
    if (err == NB_OK)
      err = end == k + 1 && r->path.len == level + 1 ? nb_lc_put_leaf(e, r)
                                                     : nb_lc_put_map(e, k, end, level + 1);
    k = end;
  }
  return err;
}

/* What cannot be written: paths outside base or of the wrong level, timestamps, bad strings. */
static nb_err nb_lc_check_input(const nb_records *in, const nb_format_opts *opts,
                                nb_format_error *err) {
  nb_path base = (opts && opts->base) ? *opts->base : nb_path_root();
  bool paths_only = opts && (opts->flags & NB_FORMAT_PATHS_ONLY);
  for (size_t k = 0; k < in->len; k++) {
    const nb_record *r = &in->items[k];
    bool none = r->value.type == NB_VT_NONE;
    bool level_ok = paths_only ? none && r->path.len >= 1
                               : (none ? r->path.len == 2 || r->path.len == 3 : r->path.len >= 3);
    if (!nb_path_is_valid(&r->path) || !nb_path_is_prefix(&base, &r->path) || !level_ok) {
      return nb_fmt_fail(err, NB_ERR_FMT_PATH, NB_COAP_INTERNAL_SERVER_ERROR,
                         "LwM2M CBOR: record outside the request path or not a resource");
    }
    if (opts && opts->times_in && !isnan(opts->times_in[k])) {
      return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_NOT_ACCEPTABLE,
                         "LwM2M CBOR carries no timestamps");
    }
    const nb_value *v = &r->value;
    if ((v->type == NB_VT_STRING || v->type == NB_VT_CORELNK) &&
        !nb_fmt_utf8_valid(v->v.bytes.data, v->v.bytes.len)) {
      return nb_fmt_fail(err, NB_ERR_FMT_TYPE, NB_COAP_INTERNAL_SERVER_ERROR,
                         "LwM2M CBOR: string value is not valid UTF-8");
    }
  }
  return NB_OK;
}

nb_err nb_lwm2m_cbor_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                            nb_format_error *err) {
  nb_err e = nb_lc_check_input(in, opts, err);
  if (e != NB_OK) return e;
  /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
  const nb_record **recs = in->len ? malloc(in->len * sizeof *recs) : NULL;
  if (in->len && !recs) return nb_fmt_nomem(err);
  nb_lc_enc enc = {recs, in->len, opts && (opts->flags & NB_FORMAT_PATHS_ONLY), out};
  for (size_t k = 0; k < in->len; k++) enc.recs[k] = &in->items[k];
  /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
  if (in->len) qsort(enc.recs, enc.n, sizeof *enc.recs, nb_lc_rec_cmp);
  for (size_t k = 1; k < enc.n; k++) {
    if (nb_path_is_prefix(&enc.recs[k - 1]->path, &enc.recs[k]->path)) {
      free(recs);
      return nb_fmt_fail(err, NB_ERR_FMT_DUPLICATE, NB_COAP_INTERNAL_SERVER_ERROR,
                         "LwM2M CBOR: duplicate or overlapping record paths");
    }
  }
  size_t before = out->len;
  e = nb_lc_put_map(&enc, 0, enc.n, 0);
  free(recs);
  if (e == NB_OK) return NB_OK;
  out->len = before;
  if (e == NB_ERR_NOMEM) return nb_fmt_nomem(err);
  return nb_fmt_fail(err, NB_ERR_FMT_TYPE, NB_COAP_INTERNAL_SERVER_ERROR,
                     "LwM2M CBOR: value cannot be written");
}
