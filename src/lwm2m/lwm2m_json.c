/* LwM2M JSON (1.0) codec. */
#include "lwm2m/lwm2m_json.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "coap/msg.h"
#include "lwm2m/fmtutil.h"
#include "lwm2m/senml.h"

typedef enum { NB_LJ_NONE, NB_LJ_V, NB_LJ_SV, NB_LJ_BV, NB_LJ_OV } nb_lj_kind;

static nb_err nb_lj_type(nb_format_error *err) {
  return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "LwM2M JSON: field has the wrong JSON type");
}

static double nb_lj_double(const nb_fmt_num *n) {
  return n->kind == NB_NUM_INT ? (double)n->i : n->d;
}

/* The value of one entry (exactly one of v, sv, bv, ov) typed for the resource. */
static nb_err nb_lj_value(const json_t *entry, nb_value_type type, nb_value *v,
                          nb_format_error *err) {
  static const char *const keys[] = {"v", "sv", "bv", "ov"};
  nb_lj_kind kind = NB_LJ_NONE;
  const json_t *val = NULL;
  for (int k = 0; k < 4; k++) {
    const json_t *x = json_object_get(entry, keys[k]);
    if (!x) continue;
    if (kind != NB_LJ_NONE) {
      return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "LwM2M JSON: entry has more than one value");
    }
    kind = (nb_lj_kind)(k + 1);
    val = x;
  }
  nb_fmt_num n;
  nb_err e = NB_OK;
  uint16_t o, i;
  switch (kind) {
    case NB_LJ_V:
      if (!nb_fmt_json_num(val, &n)) return nb_lj_type(err);
      return nb_fmt_num_value(&n, type, v, err);
    case NB_LJ_BV:
      if (!json_is_boolean(val)) return nb_lj_type(err);
      if (type != NB_VT_NONE && type != NB_VT_BOOL) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE,
                          "LwM2M JSON: bv given for a resource that is not a Boolean");
      }
      *v = nb_value_bool(json_is_true(val));
      return NB_OK;
    case NB_LJ_OV:
      if (!json_is_string(val)) return nb_lj_type(err);
      if (type != NB_VT_NONE && type != NB_VT_OBJLNK) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE,
                          "LwM2M JSON: ov given for a resource that is not an Objlnk");
      }
      if (nb_fmt_parse_objlnk(json_string_value(val), json_string_length(val), &o, &i) != NB_OK) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "LwM2M JSON: ov is not \"object:instance\"");
      }
      *v = nb_value_objlnk(o, i);
      return NB_OK;
    case NB_LJ_SV: {
      if (!json_is_string(val)) return nb_lj_type(err);
      const char *s = json_string_value(val);
      size_t len = json_string_length(val);
      if (type == NB_VT_OPAQUE) {
        e = nb_fmt_b64_decode(s, len, false, v);
        if (e == NB_ERR_SYNTAX)
          return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "LwM2M JSON: opaque sv is not valid base64");
      } else if (type == NB_VT_NONE || type == NB_VT_STRING) {
        e = nb_value_set_string(v, s, len);
      } else if (type == NB_VT_CORELNK) {
        e = nb_value_set_corelnk(v, s, len);
      } else {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "LwM2M JSON: sv given for a non-string resource");
      }
      return e == NB_OK ? NB_OK : nb_fmt_nomem(err);
    }
    default:
      return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "LwM2M JSON: entry without a value");
  }
}

/* How names are formed from bn and n. */
typedef struct {
  const char *bn;
  size_t bn_len;
  const json_t *bt;
  bool join; /* lenient: bn is a path without its trailing "/", n a path below it */
} nb_lj_base;

static nb_err nb_lj_entry(nb_fmt_dec *d, const json_t *entry, const nb_lj_base *b) {
  const char *bn = b->bn;
  size_t bn_len = b->bn_len;
  const json_t *bt = b->bt;
  if (!json_is_object(entry)) {
    return nb_fmt_bad(d->err, NB_ERR_FMT_MALFORMED, "LwM2M JSON: entry is not an object");
  }
  const json_t *n = json_object_get(entry, "n"), *t = json_object_get(entry, "t");
  if (n && !json_is_string(n)) return nb_lj_type(d->err);
  nb_fmt_num tn = {0}, btn = {0};
  if ((t && !nb_fmt_json_num(t, &tn)) || (bt && !nb_fmt_json_num(bt, &btn)))
    return nb_lj_type(d->err);
  char name[2 * NB_PATH_STRLEN + 1];
  size_t n_len = n ? json_string_length(n) : 0;
  const char *ns = n ? json_string_value(n) : "";
  size_t slash = b->join && n_len && ns[0] != '/' ? 1 : 0;
  if (bn_len + slash + n_len > sizeof name) {
    return nb_fmt_bad(d->err, NB_ERR_FMT_PATH, "LwM2M JSON: name is not an LwM2M path");
  }
  if (bn_len) memcpy(name, bn, bn_len);
  if (slash) name[bn_len] = '/';
  if (n_len) memcpy(name + bn_len + slash, ns, n_len);
  nb_path p;
  if (nb_fmt_resolve_name(&d->base, name, bn_len + slash + n_len, &p) != NB_OK || p.len < 3) {
    return nb_fmt_bad(d->err, NB_ERR_FMT_PATH, "LwM2M JSON: name is not a resource path");
  }
  const nb_resource_def *def = nb_fmt_def(d->model, &p);
  nb_value v = nb_value_none();
  nb_err e = nb_lj_value(entry, def ? def->type : NB_VT_NONE, &v, d->err);
  if (e != NB_OK) return e;
  double time = (t || bt) ? (bt ? nb_lj_double(&btn) : 0) + (t ? nb_lj_double(&tn) : 0) : NAN;
  return nb_fmt_dec_add(d, &p, &v, time);
}

static nb_err nb_lj_records(nb_fmt_dec *d, const json_t *root, bool join) {
  if (!json_is_object(root)) {
    return nb_fmt_bad(d->err, NB_ERR_FMT_MALFORMED, "LwM2M JSON: payload is not an object");
  }
  const json_t *bn = json_object_get(root, "bn"), *bt = json_object_get(root, "bt");
  const json_t *e = json_object_get(root, "e");
  if ((bn && !json_is_string(bn)) || (bt && !json_is_number(bt))) return nb_lj_type(d->err);
  if (!e) return nb_fmt_bad(d->err, NB_ERR_FMT_MALFORMED, "LwM2M JSON: missing \"e\" array");
  if (!json_is_array(e)) return nb_lj_type(d->err);
  nb_lj_base b = {bn ? json_string_value(bn) : "", bn ? json_string_length(bn) : 0, bt, join};
  size_t idx;
  const json_t *entry;
  json_array_foreach(e, idx, entry) {
    nb_err err = nb_lj_entry(d, entry, &b);
    if (err != NB_OK) return err;
  }
  return NB_OK;
}

/* A base name that names a path but lacks the trailing "/" TS 1.0 6.4.4 puts before the
 * names ("bn":"/1/0" with "n":"1", as Leshan's client sends it): read as written, "/1/01"
 * is no resource of the target; read as Leshan reads it, the names are path segments under
 * bn ("/1/0/1"). */
static bool nb_lj_bn_unslashed(const json_t *root) {
  const json_t *bn = json_is_object(root) ? json_object_get(root, "bn") : NULL;
  size_t len = json_is_string(bn) ? json_string_length(bn) : 0;
  return len > 0 && json_string_value(bn)[len - 1] != '/';
}

nb_err nb_lwm2m_json_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts,
                            nb_records *out, nb_format_error *err) {
  nb_fmt_dec d;
  nb_fmt_dec_begin(&d, opts, out, err);
  if (d.flags & NB_FORMAT_PATHS_ONLY) {
    return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_UNSUPPORTED_CONTENT_FORMAT,
                       "LwM2M JSON cannot carry a list of paths");
  }
  if (len == 0) return nb_fmt_dec_finish(&d, NB_OK);
  json_error_t jerr;
  json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    return nb_fmt_dec_finish(&d, nb_fmt_bad(err, NB_ERR_FMT_MALFORMED,
                                            "LwM2M JSON: invalid JSON (syntax, encoding, "
                                            "duplicate key or number out of range)"));
  }
  nb_err e = nb_fmt_dec_finish(&d, nb_lj_records(&d, root, false));
  /* Lenient, where unambiguous: only when the literal reading is no valid payload for the
   * target, the segment reading is tried, and its success is flagged through note_out. */
  if (e != NB_OK && e != NB_ERR_NOMEM && nb_lj_bn_unslashed(root)) {
    nb_fmt_dec_begin(&d, opts, out, err);
    e = nb_fmt_dec_finish(&d, nb_lj_records(&d, root, true));
    if (e == NB_OK && d.note_out) *d.note_out = NB_LWM2M_JSON_NOTE_BN;
  }
  json_decref(root);
  return e;
}

/* ---- writer ---- */

static nb_err nb_lj_put_value(nb_bytes *out, const nb_value *v) {
  char buf[NB_FMT_DOUBLE_LEN];
  size_t n;
  nb_err e;
  switch (v->type) {
    case NB_VT_INT:
      return nb_bytes_appendf(out, "\"v\":%" PRId64, v->v.i);
    case NB_VT_TIME:
      return nb_bytes_appendf(out, "\"v\":%" PRId64, v->v.t);
    case NB_VT_UINT:
      return nb_bytes_appendf(out, "\"v\":%" PRIu64, v->v.u);
    case NB_VT_FLOAT:
      if ((e = nb_fmt_double(v->v.f, true, buf, &n)) != NB_OK) return e;
      if ((e = nb_bytes_append_str(out, "\"v\":")) != NB_OK) return e;
      return nb_bytes_append(out, buf, n);
    case NB_VT_BOOL:
      return nb_bytes_append_str(out, v->v.b ? "\"bv\":true" : "\"bv\":false");
    case NB_VT_OBJLNK:
      n = nb_fmt_objlnk(v->v.lnk.obj, v->v.lnk.inst, buf);
      if ((e = nb_bytes_append_str(out, "\"ov\":")) != NB_OK) return e;
      return nb_fmt_json_string(out, buf, n);
    case NB_VT_OPAQUE:
      if ((e = nb_bytes_append_str(out, "\"sv\":\"")) != NB_OK) return e;
      if ((e = nb_fmt_b64_encode(out, v->v.bytes.data, v->v.bytes.len, false)) != NB_OK) return e;
      return nb_bytes_append(out, "\"", 1);
    default: /* STRING, CORELNK */
      if ((e = nb_bytes_append_str(out, "\"sv\":")) != NB_OK) return e;
      return nb_fmt_json_string(out, (const char *)v->v.bytes.data, v->v.bytes.len);
  }
}

static nb_err nb_lj_put_entry(nb_bytes *out, const nb_senml_names *nm, const nb_record *r,
                              double t) {
  char name[NB_PATH_STRLEN + 1];
  nb_senml_name(nm, &r->path, name);
  nb_err e = nb_bytes_append(out, "{", 1);
  if (e == NB_OK && name[0]) {
    if ((e = nb_bytes_append_str(out, "\"n\":")) == NB_OK &&
        (e = nb_fmt_json_string(out, name, strlen(name))) == NB_OK) {
      e = nb_bytes_append(out, ",", 1);
    }
  }
  if (e == NB_OK) e = nb_lj_put_value(out, &r->value);
  if (e == NB_OK && !isnan(t)) {
    char buf[NB_FMT_DOUBLE_LEN];
    size_t n;
    if ((e = nb_fmt_double(t, false, buf, &n)) == NB_OK &&
        (e = nb_bytes_append_str(out, ",\"t\":")) == NB_OK) {
      e = nb_bytes_append(out, buf, n);
    }
  }
  if (e == NB_OK) e = nb_bytes_append(out, "}", 1);
  return e;
}

nb_err nb_lwm2m_json_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                            nb_format_error *err) {
  nb_err e = nb_senml_check_input(in, opts, false, err);
  if (e != NB_OK) return e;
  nb_senml_names nm;
  nb_senml_names_init(&nm, in, opts);
  size_t before = out->len;
  e = nb_bytes_append(out, "{", 1);
  if (e == NB_OK && nm.bn[0]) {
    if ((e = nb_bytes_append_str(out, "\"bn\":")) == NB_OK &&
        (e = nb_fmt_json_string(out, nm.bn, strlen(nm.bn))) == NB_OK) {
      e = nb_bytes_append(out, ",", 1);
    }
  }
  if (e == NB_OK) e = nb_bytes_append_str(out, "\"e\":[");
  for (size_t k = 0; k < in->len && e == NB_OK; k++) {
    if (k && (e = nb_bytes_append(out, ",", 1)) != NB_OK) break;
    double t = (opts && opts->times_in) ? opts->times_in[k] : NAN;
    e = nb_lj_put_entry(out, &nm, &in->items[k], t);
  }
  if (e == NB_OK) e = nb_bytes_append_str(out, "]}");
  if (e == NB_OK) return NB_OK;
  out->len = before;
  if (e == NB_ERR_NOMEM) return nb_fmt_nomem(err);
  return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_NOT_ACCEPTABLE,
                     "LwM2M JSON cannot write NaN or infinity");
}
