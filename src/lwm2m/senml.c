/* SenML record semantics shared by the JSON and CBOR representations. */
#include "lwm2m/senml.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "coap/msg.h"

void nb_senml_rec_init(nb_senml_rec *rec) {
  memset(rec, 0, sizeof *rec);
  rec->kind = NB_SENML_NOVALUE;
}

nb_err nb_senml_rec_field(nb_senml_rec *rec, unsigned field, nb_format_error *err) {
  if (rec->fields & field) {
    return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED,
                      field == NB_SENML_F_VALUE ? "SenML: record has more than one value field"
                                                : "SenML: field given twice in one record");
  }
  rec->fields |= field;
  return NB_OK;
}

bool nb_senml_must_understand(const char *label, size_t len) {
  return len > 0 && label[len - 1] == '_';
}

void nb_senml_state_init(nb_senml_state *s, nb_fmt_dec *d) {
  memset(s, 0, sizeof *s);
  s->d = d;
  s->bn = "";
}

static double nb_senml_num_double(const nb_fmt_num *n) {
  if (n->kind == NB_NUM_INT) return (double)n->i;
  if (n->kind == NB_NUM_UINT) return (double)n->u;
  return n->d;
}

/* v + bv (RFC 8428 4.5.3): integers stay integers while the sum fits. */
static nb_fmt_num nb_senml_add(const nb_fmt_num *a, const nb_fmt_num *b) {
  nb_fmt_num r;
  if (a->kind == NB_NUM_INT && b->kind == NB_NUM_INT &&
      !((b->i > 0 && a->i > INT64_MAX - b->i) || (b->i < 0 && a->i < INT64_MIN - b->i))) {
    r.kind = NB_NUM_INT;
    r.i = a->i + b->i;
    return r;
  }
  r.kind = NB_NUM_REAL;
  r.d = nb_senml_num_double(a) + nb_senml_num_double(b);
  return r;
}

static nb_err nb_senml_value(const nb_senml_rec *rec, const nb_senml_state *s, nb_value_type type,
                             nb_value *v, nb_format_error *err) {
  nb_err e = NB_OK;
  uint16_t o, i;
  switch (rec->kind) {
    case NB_SENML_NUM: {
      nb_fmt_num n = s->has_bv ? nb_senml_add(&rec->num, &s->bv) : rec->num;
      return nb_fmt_num_value(&n, type, v, err);
    }
    case NB_SENML_STR:
      if (type != NB_VT_NONE && type != NB_VT_STRING && type != NB_VT_CORELNK) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE,
                          "SenML: vs given for a resource that is not a String");
      }
      e = type == NB_VT_CORELNK ? nb_value_set_corelnk(v, rec->str, rec->str_len)
                                : nb_value_set_string(v, rec->str, rec->str_len);
      break;
    case NB_SENML_BOOL:
      if (type != NB_VT_NONE && type != NB_VT_BOOL) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE,
                          "SenML: vb given for a resource that is not a Boolean");
      }
      *v = nb_value_bool(rec->b);
      return NB_OK;
    case NB_SENML_DATA:
      if (type != NB_VT_NONE && type != NB_VT_OPAQUE) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE,
                          "SenML: vd given for a resource that is not Opaque");
      }
      if (!rec->data_b64) {
        e = nb_value_set_opaque(v, (const uint8_t *)rec->str, rec->str_len);
        break;
      }
      e = nb_fmt_b64_decode(rec->str, rec->str_len, true, v);
      if (e == NB_ERR_SYNTAX)
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "SenML: vd is not valid base64url");
      break;
    case NB_SENML_OBJLNK:
      if (type != NB_VT_NONE && type != NB_VT_OBJLNK) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE,
                          "SenML: vlo given for a resource that is not an Objlnk");
      }
      if (nb_fmt_parse_objlnk(rec->str, rec->str_len, &o, &i) != NB_OK) {
        return nb_fmt_bad(err, NB_ERR_FMT_TYPE, "SenML: vlo is not \"object:instance\"");
      }
      *v = nb_value_objlnk(o, i);
      return NB_OK;
    default:
      return nb_fmt_bad(err, NB_ERR_FMT_MALFORMED, "SenML: record without a value");
  }
  return e == NB_OK ? NB_OK : nb_fmt_nomem(err);
}

nb_err nb_senml_apply(nb_senml_state *s, const nb_senml_rec *rec) {
  nb_fmt_dec *d = s->d;
  if (rec->fields & NB_SENML_F_BN) {
    s->bn = rec->bn;
    s->bn_len = rec->bn_len;
  }
  if (rec->fields & NB_SENML_F_BT) {
    s->has_bt = true;
    s->bt = nb_senml_num_double(&rec->bt);
  }
  if (rec->fields & NB_SENML_F_BV) {
    s->has_bv = true;
    s->bv = rec->bv;
  }
  char name[2 * NB_PATH_STRLEN];
  size_t n_len = (rec->fields & NB_SENML_F_N) ? rec->n_len : 0;
  if (s->bn_len + n_len > sizeof name) {
    return nb_fmt_bad(d->err, NB_ERR_FMT_PATH, "SenML: name is not an LwM2M path");
  }
  if (s->bn_len) memcpy(name, s->bn, s->bn_len);
  if (n_len) memcpy(name + s->bn_len, rec->n, n_len);
  nb_path p;
  if (nb_fmt_resolve_name(&d->base, name, s->bn_len + n_len, &p) != NB_OK) {
    return nb_fmt_bad(d->err, NB_ERR_FMT_PATH, "SenML: name is not an LwM2M path");
  }
  double t = NAN;
  if (s->has_bt || (rec->fields & NB_SENML_F_T)) {
    t = (s->has_bt ? s->bt : 0) + ((rec->fields & NB_SENML_F_T) ? nb_senml_num_double(&rec->t) : 0);
  }
  nb_value v = nb_value_none();
  if (d->flags & NB_FORMAT_PATHS_ONLY) {
    if (rec->kind != NB_SENML_NOVALUE) {
      return nb_fmt_bad(d->err, NB_ERR_FMT_MALFORMED, "SenML: a path list carries no values");
    }
    if (!(rec->fields & (NB_SENML_F_N | NB_SENML_F_BN))) {
      return nb_fmt_bad(d->err, NB_ERR_FMT_PATH, "SenML: path list record without a name");
    }
  } else {
    if (p.len < 3) {
      return nb_fmt_bad(d->err, NB_ERR_FMT_PATH,
                        "SenML: a value must address a resource or resource instance");
    }
    const nb_resource_def *def = nb_fmt_def(d->model, &p);
    nb_err e = nb_senml_value(rec, s, def ? def->type : NB_VT_NONE, &v, d->err);
    if (e != NB_OK) return e;
  }
  return nb_fmt_dec_add(d, &p, &v, t);
}

/* ---- output ---- */

void nb_senml_names_init(nb_senml_names *nm, const nb_records *in, const nb_format_opts *opts) {
  nm->base = (opts && opts->base) ? *opts->base : nb_path_root();
  nm->bn[0] = '\0';
  nm->exact = false;
  if (nm->base.len == 0) return;
  for (size_t k = 0; k < in->len && !nm->exact; k++) {
    nm->exact = nb_path_equal(&in->items[k].path, &nm->base);
  }
  nb_path_format(&nm->base, nm->bn, sizeof nm->bn);
  if (!nm->exact) {
    size_t len = strlen(nm->bn); /* at most 24 ("/65535" four times) of NB_PATH_STRLEN */
    snprintf(nm->bn + len, sizeof nm->bn - len, "/");
  }
}

void nb_senml_name(const nb_senml_names *nm, const nb_path *p, char *buf) {
  if (nm->base.len == 0) {
    nb_path_format(p, buf, NB_PATH_STRLEN + 1);
    return;
  }
  char rel[NB_PATH_STRLEN];
  nb_fmt_relative_name(&nm->base, p, rel);
  snprintf(buf, NB_PATH_STRLEN + 1, "%s%s", rel[0] && nm->exact ? "/" : "", rel);
}

nb_err nb_senml_check_input(const nb_records *in, const nb_format_opts *opts, bool allow_none,
                            nb_format_error *err) {
  nb_path base = (opts && opts->base) ? *opts->base : nb_path_root();
  for (size_t k = 0; k < in->len; k++) {
    const nb_record *r = &in->items[k];
    if (!nb_path_is_valid(&r->path) || !nb_path_is_prefix(&base, &r->path)) {
      return nb_fmt_fail(err, NB_ERR_FMT_PATH, NB_COAP_INTERNAL_SERVER_ERROR,
                         "record path outside the request path");
    }
    const nb_value *v = &r->value;
    if (v->type == NB_VT_NONE && !allow_none) {
      return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_NOT_ACCEPTABLE,
                         "this format cannot write a record without value");
    }
    if ((v->type == NB_VT_STRING || v->type == NB_VT_CORELNK) &&
        !nb_fmt_utf8_valid(v->v.bytes.data, v->v.bytes.len)) {
      return nb_fmt_fail(err, NB_ERR_FMT_TYPE, NB_COAP_INTERNAL_SERVER_ERROR,
                         "string value is not valid UTF-8");
    }
  }
  return NB_OK;
}
