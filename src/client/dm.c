/* Device management interface, client side (LwM2M 1.1 Core 6.3): maps each CoAP request of a
 * server to Read, Discover, Write (replace/partial), Write-Attributes, Execute, Create, Delete,
 * Read-Composite, Write-Composite or Observe(-Composite), checks access control, and answers
 * with the code the specification names for each failure. */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "client_int.h"
#include "coap/block.h"
#include "lwm2m/linkfmt.h"

/* One request being served. */
typedef struct {
  nb_client *c;
  nb_account *a;
  nb_coap_exchange *ex;
  const nb_coap_msg *req;
  const nb_addr *peer;
  nb_path path;
  nb_time_ms now;
  uint8_t answered; /* the code answered */
  /* the request body, unwrapped once when it is signed (nb_dm_body) */
  nb_sig_body body;
  bool body_ready;
} nb_dm_ctx;

static void nb_dm_reply(nb_dm_ctx *x, uint8_t code, int cf, const uint8_t *body, size_t len) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, code, 0);
  if (cf != NB_COAP_CF_NONE) nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
  if (len) nb_coap_msg_set_payload(&m, body, len);
  x->answered = code;
  if (NB_COAP_CLASS(code) != 2) {
    char p[NB_PATH_STRLEN], cs[8];
    nb_path_format(&x->path, p, sizeof p);
    NB_LOG_DEBUG(NB_CLIENT_LOG, "event=dm-error ssid=%u method=%u path=%s code=%s",
                 x->a ? x->a->ssid : 0, x->req->code, p, nb_coap_code_format(code, cs));
  }
  nb_coap_exchange_respond(x->ex, &m, x->now);
}

static void nb_dm_code(nb_dm_ctx *x, uint8_t code) {
  nb_dm_reply(x, code, NB_COAP_CF_NONE, NULL, 0);
}

/* ---- access control (object 2) ---- */

/* The rights of server ssid from ACL instance ai (Core 7.3.2.1): its own ACL resource instance,
 * else full rights for the owner, else the default instance 0 when `defaults`. False when
 * none applies: the server has no access right at all. */
static bool nb_dm_acl_bits(nb_object *acl, uint16_t ai, uint16_t ssid, bool defaults,
                           unsigned *bits) {
  nb_path p = nb_path_rinst(2, ai, 2, ssid);
  const nb_value *v = nb_store_object_get(acl, &p);
  if (v && v->type == NB_VT_INT) {
    *bits = (unsigned)v->v.i;
    return true;
  }
  if (!defaults) return false;
  if (nb_store_object_get_int(acl, ai, 3, -1) == ssid) {
    *bits = NB_ACL_R | NB_ACL_W | NB_ACL_E | NB_ACL_D | NB_ACL_C;
    return true;
  }
  p = nb_path_rinst(2, ai, 2, 0);
  v = nb_store_object_get(acl, &p);
  if (v && v->type == NB_VT_INT) {
    *bits = (unsigned)v->v.i;
    return true;
  }
  return false;
}

/* The ACL instance that governs /obj/inst, or -1. */
static int32_t nb_dm_acl_instance(nb_object *acl, uint16_t obj, uint16_t inst) {
  uint16_t ids[NB_CLIENT_MAX_IDS];
  size_t n = acl->ops->instances(acl, ids, NB_CLIENT_MAX_IDS);
  for (size_t k = 0; k < n && k < NB_CLIENT_MAX_IDS; k++)
    if (nb_store_object_get_int(acl, ids[k], 0, -1) == obj &&
        nb_store_object_get_int(acl, ids[k], 1, -1) == inst)
      return ids[k];
  return -1;
}

bool nb_dm_acl_allows(nb_client *c, uint16_t ssid, uint16_t obj, uint16_t inst, unsigned right) {
  if (c->nacc <= 1) return true;
  nb_object *acl = nb_client_object(c, 2);
  if (obj == 1) { /* a server manages its own Server instance only */
    nb_object *srv = nb_client_object(c, 1);
    return inst != 65535 && nb_store_object_get_int(srv, inst, 0, -1) == ssid &&
           right != NB_ACL_D && right != NB_ACL_C;
  }
  if (obj == 2) { /* ACL instances: readable by all, changed by their owner */
    if (inst == 65535 || !nb_store_object_has_instance(acl, inst)) return false;
    return right == NB_ACL_ANY || right == NB_ACL_R ||
           nb_store_object_get_int(acl, inst, 3, -1) == ssid;
  }
  int32_t ai = nb_dm_acl_instance(acl, obj, inst);
  unsigned bits = 0;
  /* Create takes its right from the server's own ACL resource instance only (7.3.2.1). */
  if (ai < 0 || !nb_dm_acl_bits(acl, (uint16_t)ai, ssid, inst != 65535, &bits)) return false;
  return right == NB_ACL_ANY || (bits & right);
}

/* A deleted instance takes its ACL instance with it (Core 7.3.1.2.2). */
static void nb_dm_acl_deleted(nb_client *c, uint16_t obj, uint16_t inst) {
  if (obj == 2) return;
  nb_object *acl = nb_client_object(c, 2);
  int32_t ai = nb_dm_acl_instance(acl, obj, inst);
  if (ai >= 0) acl->ops->remove(acl, (uint16_t)ai);
}

/* New instance of a multi-server client gets an ACL instance owned by its creator. */
static void nb_dm_acl_created(nb_client *c, uint16_t ssid, uint16_t obj, uint16_t inst) {
  if (c->nacc <= 1 || obj == 2) return;
  nb_object *acl = nb_client_object(c, 2);
  uint16_t ai = 0;
  while (nb_store_object_has_instance(acl, ai)) ai++;
  if (nb_store_object_add_instance(acl, ai) != NB_OK) return;
  nb_value v0 = nb_value_int(obj), v1 = nb_value_int(inst), v3 = nb_value_int(ssid);
  nb_path p0 = nb_path_res(2, ai, 0), p1 = nb_path_res(2, ai, 1), p3 = nb_path_res(2, ai, 3);
  nb_store_object_set(acl, &p0, &v0);
  nb_store_object_set(acl, &p1, &v1);
  nb_store_object_set(acl, &p3, &v3);
}

/* ---- reading ---- */

static nb_err nb_dm_read_instance(nb_client *c, nb_object *o, uint16_t inst, nb_records *out,
                                  nb_time_ms now) {
  uint16_t ids[NB_CLIENT_MAX_IDS];
  size_t n;
  nb_err e = o->ops->resources(o, inst, ids, NB_CLIENT_MAX_IDS, &n);
  (void)c;
  for (size_t k = 0; e == NB_OK && k < n; k++) {
    const nb_resource_def *rd = nb_object_def_resource(o->def, ids[k]);
    if (rd && !(rd->ops & NB_OP_R)) continue;
    nb_err r = o->ops->read(o, inst, ids[k], out, now);
    if (r != NB_OK && r != NB_ERR_NOT_FOUND) e = r;
  }
  return e;
}

static nb_err nb_dm_read_object(nb_client *c, nb_object *o, uint16_t ssid, nb_records *out,
                                nb_time_ms now) {
  uint16_t ids[NB_CLIENT_MAX_IDS];
  size_t n = o->ops->instances(o, ids, NB_CLIENT_MAX_IDS);
  nb_err e = NB_OK;
  for (size_t k = 0; e == NB_OK && k < n && k < NB_CLIENT_MAX_IDS; k++) {
    if (ssid && !nb_dm_acl_allows(c, ssid, o->def->id, ids[k], NB_ACL_R)) continue;
    e = nb_dm_read_instance(c, o, ids[k], out, now);
  }
  return e;
}

nb_err nb_dm_read_as(nb_client *c, uint16_t ssid, const nb_path *p, nb_records *out,
                     nb_time_ms now) {
  if (p->len == NB_PATH_ROOT) {
    for (size_t i = 0; i < c->nobjs; i++) {
      if (c->objs[i]->def->id == 0) continue;
      nb_err e = nb_dm_read_object(c, c->objs[i], ssid, out, now);
      if (e != NB_OK) return e;
    }
    return NB_OK;
  }
  nb_object *o = nb_client_object(c, p->ids[0]);
  if (!o) return NB_ERR_NOT_FOUND;
  if (p->len == NB_PATH_OBJECT) return nb_dm_read_object(c, o, ssid, out, now);
  if (p->len == NB_PATH_INSTANCE) return nb_dm_read_instance(c, o, p->ids[1], out, now);
  const nb_resource_def *rd = nb_object_def_resource(o->def, p->ids[2]);
  if (!rd) return NB_ERR_NOT_FOUND;
  if (!(rd->ops & NB_OP_R)) return NB_ERR_UNSUPPORTED;
  if (p->len == NB_PATH_RESOURCE) return o->ops->read(o, p->ids[1], p->ids[2], out, now);
  nb_records all;
  nb_records_init(&all);
  nb_err e = o->ops->read(o, p->ids[1], p->ids[2], &all, now);
  const nb_record *r = e == NB_OK ? nb_records_find(&all, p) : NULL;
  if (e == NB_OK && !r) e = NB_ERR_NOT_FOUND;
  if (e == NB_OK) {
    nb_value v;
    e = nb_value_copy(&v, &r->value);
    if (e == NB_OK) e = nb_records_add(out, p, &v);
  }
  nb_records_deinit(&all);
  return e;
}

nb_err nb_dm_read_path(nb_client *c, const nb_path *p, nb_records *out, nb_time_ms now) {
  return nb_dm_read_as(c, 0, p, out, now);
}

/* COSE_Sign1 of the SenML CBOR of recs, signed with a's key. */
static nb_err nb_dm_encode_signed(nb_client *c, const nb_account *a, const nb_path *base,
                                  const nb_records *recs, nb_bytes *out, uint8_t *code) {
  if (!a || !nb_sig_key(c, a->sec_inst)) {
    *code = NB_COAP_NOT_ACCEPTABLE;
    return NB_ERR_UNSUPPORTED;
  }
  nb_bytes inner;
  nb_bytes_init(&inner);
  nb_err e = nb_format_encode(NB_COAP_CF_SENML_CBOR, recs, base, c->model, &inner, code, NULL);
  if (e == NB_OK) e = nb_sig_wrap(c, a->sec_inst, NULL, 0, inner.data, inner.len, out);
  if (e != NB_OK && NB_COAP_CLASS(*code) == 2) *code = NB_COAP_INTERNAL_SERVER_ERROR;
  nb_bytes_free(&inner);
  return e;
}

/* The format of an answer without Accept: text/plain (octet-stream for an opaque value) for one
 * single value, TLV for anything else; a build without those formats (NB_CFG_FMT_*) answers in
 * the next one it has. */
static int nb_dm_default_format(nb_client *c, const nb_path *base, const nb_records *recs) {
  static const int multi[] = {NB_COAP_CF_LWM2M_TLV, NB_COAP_CF_SENML_CBOR, NB_COAP_CF_SENML_JSON,
                              NB_COAP_CF_LWM2M_JSON};
  int cf = nb_format_first_supported(multi, sizeof multi / sizeof multi[0]);
  if (base->len < NB_PATH_RESOURCE || recs->len != 1 || !nb_path_equal(&recs->items[0].path, base))
    return cf;
  const nb_resource_def *rd = nb_model_resource(c->model, base->ids[0], base->ids[2]);
  if (rd && rd->multiple && base->len == NB_PATH_RESOURCE) return cf;
  int one = recs->items[0].value.type == NB_VT_OPAQUE ? NB_COAP_CF_OCTET_STREAM : NB_COAP_CF_TEXT;
  return nb_format_is_supported(one) ? one : cf;
}

nb_err nb_dm_encode(nb_client *c, const nb_account *a, const nb_path *base, const nb_records *recs,
                    int cf, int *cf_used, nb_bytes *out, uint8_t *code) {
  if (cf == NB_COSE_CF_SIGN1) {
    *cf_used = cf;
    return nb_dm_encode_signed(c, a, base, recs, out, code);
  }
  if (cf == NB_COAP_CF_NONE) cf = nb_dm_default_format(c, base, recs);
  *cf_used = cf;
  const char *reason = NULL;
  return nb_format_encode(cf, recs, base, c->model, out, code, &reason);
}

/* Accept option: NB_COAP_CF_NONE, or a format we encode, or signed SenML CBOR when the
 * account has a key to sign with; false (4.06 sent) otherwise. */
static bool nb_dm_accept(nb_dm_ctx *x, int *cf) {
  *cf = nb_coap_msg_accept(x->req);
  if (*cf == NB_COAP_CF_NONE || nb_format_is_supported(*cf)) return true;
  if (*cf == NB_COSE_CF_SIGN1 && x->a && nb_sig_key(x->c, x->a->sec_inst)) return true;
  nb_dm_code(x, NB_COAP_NOT_ACCEPTABLE);
  return false;
}

/* Answers 2.05 with recs, and starts an observation first when asked. */
static void nb_dm_answer_records(nb_dm_ctx *x, const nb_path *paths, size_t np, bool composite,
                                 const nb_records *recs, int cf) {
  nb_bytes body;
  nb_bytes_init(&body);
  uint8_t code = NB_COAP_INTERNAL_SERVER_ERROR;
  int used;
  nb_path root = nb_path_root();
  const nb_path *base = composite ? &root : &x->path;
  nb_err e = nb_dm_encode(x->c, x->a, base, recs, cf, &used, &body, &code);
  if (e != NB_OK) {
    nb_bytes_free(&body);
    nb_dm_code(x, code);
    return;
  }
  uint32_t ov;
  nb_obs *obs = NULL;
  if (nb_coap_msg_get_uint(x->req, NB_COAP_OPT_OBSERVE, &ov) == NB_OK && ov == 0 && x->a)
    nb_rep_observe(x->c, x->a, x->ex, paths, np, composite, used, x->now, &obs);
  nb_dm_reply(x, NB_COAP_CONTENT, used, body.data, body.len);
  if (obs) nb_rep_answered(obs, recs, x->now);
  if (used == NB_COSE_CF_SIGN1)
    nb_sig_evidence(x->c, obs ? "notify" : "read", base, body.data, body.len);
  nb_bytes_free(&body);
}

static void nb_dm_read(nb_dm_ctx *x) {
  int cf;
  if (!nb_dm_accept(x, &cf)) return;
  if (x->path.len == NB_PATH_ROOT) return nb_dm_code(x, NB_COAP_METHOD_NOT_ALLOWED);
  if (x->path.len >= NB_PATH_INSTANCE &&
      !nb_dm_acl_allows(x->c, x->a->ssid, x->path.ids[0], x->path.ids[1], NB_ACL_R))
    return nb_dm_code(x, NB_COAP_UNAUTHORIZED);
  nb_records recs;
  nb_records_init(&recs);
  nb_err e = nb_dm_read_as(x->c, x->a->ssid, &x->path, &recs, x->now);
  if (e != NB_OK)
    nb_dm_code(x, nb_client_err_code(e));
  else
    nb_dm_answer_records(x, &x->path, 1, false, &recs, cf);
  nb_records_deinit(&recs);
}

/* ---- discover ---- */

/* The attributes a Discover reports at p: those attached there. LwM2M 1.0.2 (5.4.2) adds, for
 * a Discover that targets a resource, the ones it inherits from its object and object instance
 * (the resource's own win); 1.1 reports attached attributes only. */
static void nb_dm_link_attrs(nb_dm_ctx *x, const nb_path *p, nb_attrs *at) {
  bool inherit = x->c->v10 && x->path.len == NB_PATH_RESOURCE && p->len == NB_PATH_RESOURCE;
  nb_attrs_init(at);
  for (uint8_t len = inherit ? 1 : p->len; len <= p->len; len++) {
    nb_path lvl = *p;
    lvl.len = len;
    const nb_attrs *stored = nb_rep_attrs_at(x->c, x->a->ssid, &lvl, false);
    if (stored) nb_attrs_merge(at, stored);
  }
  at->unset = 0;
}

static nb_err nb_dm_link(nb_dm_ctx *x, nb_lwm2m_links *l, const nb_path *p, uint32_t dim,
                         bool with_dim) {
  nb_attrs at;
  nb_dm_link_attrs(x, p, &at);
  if (with_dim) {
    at.set |= NB_ATTR_DIM;
    at.dim = dim;
  }
  if (p->len == NB_PATH_OBJECT) {
    const nb_object_def *d = nb_model_object(x->c->model, p->ids[0]);
    if (d && d->version && strcmp(d->version, "1.0") != 0) {
      at.set |= NB_ATTR_VER;
      snprintf(at.ver, sizeof at.ver, "%s", d->version);
    }
  }
  return nb_lwm2m_links_add(l, p, &at);
}

static nb_err nb_dm_discover_instance(nb_dm_ctx *x, nb_object *o, uint16_t inst, nb_lwm2m_links *l,
                                      int only_res) {
  uint16_t ids[NB_CLIENT_MAX_IDS];
  size_t n;
  nb_err e = o->ops->resources(o, inst, ids, NB_CLIENT_MAX_IDS, &n);
  for (size_t k = 0; e == NB_OK && k < n; k++) {
    if (only_res >= 0 && ids[k] != only_res) continue;
    const nb_resource_def *rd = nb_object_def_resource(o->def, ids[k]);
    nb_path rp = nb_path_res(o->def->id, inst, ids[k]);
    nb_records r;
    nb_records_init(&r);
    if (rd && rd->multiple) o->ops->read(o, inst, ids[k], &r, x->now);
    e = nb_dm_link(x, l, &rp, (uint32_t)r.len, rd && rd->multiple);
    /* 1.1: the Discover of a resource also lists its instances, each with the attributes
     * attached to it (1.0 knows no resource-instance links). */
    for (size_t i = 0; e == NB_OK && only_res >= 0 && !x->c->v10 && i < r.len; i++)
      if (r.items[i].path.len == NB_PATH_RINSTANCE)
        e = nb_dm_link(x, l, &r.items[i].path, 0, false);
    nb_records_deinit(&r);
  }
  if (e == NB_OK && only_res >= 0 && l->len == 0) e = NB_ERR_NOT_FOUND;
  return e;
}

/* 1.1 Discover of one resource instance: its link with the attributes attached to it. */
static nb_err nb_dm_discover_rinstance(nb_dm_ctx *x, nb_object *o, nb_lwm2m_links *l) {
  const nb_resource_def *rd = nb_object_def_resource(o->def, x->path.ids[2]);
  if (!rd || !rd->multiple) return NB_ERR_NOT_FOUND;
  nb_records r;
  nb_records_init(&r);
  nb_err e = o->ops->read(o, x->path.ids[1], x->path.ids[2], &r, x->now);
  if (e == NB_OK && !nb_records_find(&r, &x->path)) e = NB_ERR_NOT_FOUND;
  if (e == NB_OK) e = nb_dm_link(x, l, &x->path, 0, false);
  nb_records_deinit(&r);
  return e;
}

static void nb_dm_discover(nb_dm_ctx *x) {
  if (x->path.len == NB_PATH_ROOT || (x->path.len == NB_PATH_RINSTANCE && x->c->v10))
    return nb_dm_code(x, NB_COAP_BAD_REQUEST);
  /* Discover needs no particular right, but a server with none on the instance (no ACL entry
   * of its own, not the owner, no default) is refused (Core 7.3.2, 7.3.2.1). */
  if (x->path.len >= NB_PATH_INSTANCE &&
      !nb_dm_acl_allows(x->c, x->a->ssid, x->path.ids[0], x->path.ids[1], NB_ACL_ANY))
    return nb_dm_code(x, NB_COAP_UNAUTHORIZED);
  nb_object *o = nb_client_object(x->c, x->path.ids[0]);
  nb_lwm2m_links l;
  nb_lwm2m_links_init(&l);
  nb_err e = NB_OK;
  if (x->path.len == NB_PATH_OBJECT) {
    e = nb_dm_link(x, &l, &x->path, 0, false);
    uint16_t ids[NB_CLIENT_MAX_IDS];
    size_t n = o->ops->instances(o, ids, NB_CLIENT_MAX_IDS);
    for (size_t k = 0; e == NB_OK && k < n && k < NB_CLIENT_MAX_IDS; k++) {
      /* The object level always answers, listing only instances the server has a right on. */
      if (!nb_dm_acl_allows(x->c, x->a->ssid, o->def->id, ids[k], NB_ACL_ANY)) continue;
      nb_path ip = nb_path_inst(o->def->id, ids[k]);
      e = nb_dm_link(x, &l, &ip, 0, false);
      if (e == NB_OK) e = nb_dm_discover_instance(x, o, ids[k], &l, -1);
    }
  } else if (x->path.len == NB_PATH_INSTANCE) {
    e = nb_dm_link(x, &l, &x->path, 0, false);
    if (e == NB_OK) e = nb_dm_discover_instance(x, o, x->path.ids[1], &l, -1);
  } else if (x->path.len == NB_PATH_RESOURCE) {
    e = nb_dm_discover_instance(x, o, x->path.ids[1], &l, x->path.ids[2]);
  } else {
    e = nb_dm_discover_rinstance(x, o, &l);
  }
  nb_bytes body;
  nb_bytes_init(&body);
  if (e == NB_OK) e = nb_linkfmt_encode(&l, &body);
  if (e == NB_OK)
    nb_dm_reply(x, NB_COAP_CONTENT, NB_COAP_CF_LINK_FORMAT, body.data, body.len);
  else
    nb_dm_code(x, nb_client_err_code(e));
  nb_bytes_free(&body);
  nb_lwm2m_links_deinit(&l);
}

/* ---- writing ---- */

/* After a write to the Server object: lifetime or binding changes need an Update. */
static void nb_dm_after_write(nb_client *c, const nb_path *p, nb_time_ms now) {
  if (p->ids[0] == 1) {
    for (size_t i = 0; i < c->nacc; i++)
      if (c->acc[i]->srv_inst == p->ids[1] && (p->len < 3 || p->ids[2] == 1 || p->ids[2] == 7))
        c->acc[i]->update_pending = true;
  }
  nb_rep_changed(c, p, now);
}

/* Checks then stores decoded records, one resource at a time (records are sorted). */
static nb_err nb_dm_store(nb_client *c, const nb_records *recs, bool replace, uint8_t *code,
                          nb_time_ms now) {
  for (size_t i = 0; i < recs->len; i++) { /* validate everything before changing anything */
    const nb_path *p = &recs->items[i].path;
    nb_object *o = nb_client_object(c, p->ids[0]);
    uint16_t tmp[1];
    size_t n;
    if (!o || p->len < NB_PATH_RESOURCE ||
        o->ops->resources(o, p->ids[1], tmp, 1, &n) == NB_ERR_NOT_FOUND) {
      *code = NB_COAP_NOT_FOUND;
      return NB_ERR_NOT_FOUND;
    }
    const nb_resource_def *rd = nb_object_def_resource(o->def, p->ids[2]);
    if (!rd) {
      *code = NB_COAP_NOT_FOUND;
      return NB_ERR_NOT_FOUND;
    }
    if (!(rd->ops & NB_OP_W)) {
      *code = NB_COAP_METHOD_NOT_ALLOWED;
      return NB_ERR_UNSUPPORTED;
    }
  }
  for (size_t i = 0; i < recs->len;) {
    const nb_path *p = &recs->items[i].path;
    size_t j = i + 1;
    while (j < recs->len && recs->items[j].path.ids[0] == p->ids[0] &&
           recs->items[j].path.ids[1] == p->ids[1] && recs->items[j].path.ids[2] == p->ids[2])
      j++;
    nb_object *o = nb_client_object(c, p->ids[0]);
    nb_err e = o->ops->write(o, p->ids[1], p->ids[2], &recs->items[i], j - i, replace, now);
    if (e != NB_OK) {
      *code = nb_client_err_code(e);
      return e;
    }
    nb_path rp = nb_path_res(p->ids[0], p->ids[1], p->ids[2]);
    nb_dm_after_write(c, &rp, now);
    i = j;
  }
  return NB_OK;
}

/* Whether the sorted records hold a value for resource res of /o/i. */
static bool nb_dm_recs_have(const nb_records *recs, uint16_t res) {
  for (size_t i = 0; i < recs->len; i++)
    if (recs->items[i].path.ids[2] == res) return true;
  return false;
}

/* Write-replace of an object instance (Core 6.3.3, "Replace"): the payload is the whole new
 * instance. A mandatory writable resource it leaves out is a 4.00 (checked before anything
 * changes); the optional writable resources it leaves out are removed afterwards, through the
 * object's write handler with no value. Handlers that cannot remove one say NB_ERR_UNSUPPORTED
 * and keep it. */
static nb_err nb_dm_replace_check(nb_object *o, const nb_records *recs, uint8_t *code) {
  for (size_t d = 0; d < o->def->resource_count; d++) {
    const nb_resource_def *rd = &o->def->resources[d];
    if (!(rd->ops & NB_OP_W) || !rd->mandatory || nb_dm_recs_have(recs, rd->id)) continue;
    NB_LOG_DEBUG(NB_CLIENT_LOG, "event=write-replace-refused object=%u missing=%u", o->def->id,
                 rd->id);
    *code = NB_COAP_BAD_REQUEST;
    return NB_ERR_INVAL;
  }
  return NB_OK;
}

static nb_err nb_dm_replace_prune(nb_client *c, nb_object *o, uint16_t inst, const nb_records *recs,
                                  uint8_t *code, nb_time_ms now) {
  uint16_t ids[NB_CLIENT_MAX_IDS];
  size_t n;
  nb_err e = o->ops->resources(o, inst, ids, NB_CLIENT_MAX_IDS, &n);
  for (size_t k = 0; e == NB_OK && k < n; k++) {
    const nb_resource_def *rd = nb_object_def_resource(o->def, ids[k]);
    if (!rd || !(rd->ops & NB_OP_W) || nb_dm_recs_have(recs, ids[k])) continue;
    e = o->ops->write(o, inst, ids[k], NULL, 0, true, now);
    if (e == NB_ERR_UNSUPPORTED) {
      e = NB_OK;
      continue;
    }
    nb_path rp = nb_path_res(o->def->id, inst, ids[k]);
    if (e == NB_OK) nb_dm_after_write(c, &rp, now);
  }
  if (e != NB_OK) *code = nb_client_err_code(e);
  return e;
}

/* The body to decode, its signature checked once when it is signed; false (answered) when
 * it is refused or in a format the client does not decode. */
static bool nb_dm_body(nb_dm_ctx *x, const nb_sig_body **out) {
  if (!x->body_ready) {
    uint8_t refused = nb_sig_unwrap(x->c, x->peer, x->req, false, &x->body);
    if (refused) {
      nb_dm_code(x, refused);
      return false;
    }
    x->body_ready = true;
  }
  if (x->body.cf == NB_COAP_CF_NONE || !nb_format_is_supported(x->body.cf)) {
    nb_dm_code(x, NB_COAP_UNSUPPORTED_CONTENT_FORMAT);
    return false;
  }
  *out = &x->body;
  return true;
}

static bool nb_dm_decode(nb_dm_ctx *x, const nb_path *base, unsigned flags, nb_records *out) {
  const nb_sig_body *b;
  if (!nb_dm_body(x, &b)) return false;
  nb_format_opts o = {.base = base, .model = x->c->model, .flags = flags};
  nb_format_error fe = {0};
  if (nb_format_decode_ex(b->cf, b->data, b->len, &o, out, &fe) != NB_OK) {
    nb_dm_code(x, fe.code ? fe.code : NB_COAP_BAD_REQUEST);
    return false;
  }
  nb_records_sort(out);
  return true;
}

static void nb_dm_write(nb_dm_ctx *x, bool partial) {
  if (x->path.len < NB_PATH_INSTANCE) return nb_dm_code(x, NB_COAP_METHOD_NOT_ALLOWED);
  if (!nb_dm_acl_allows(x->c, x->a->ssid, x->path.ids[0], x->path.ids[1], NB_ACL_W))
    return nb_dm_code(x, NB_COAP_UNAUTHORIZED);
  nb_object *o = nb_client_object(x->c, x->path.ids[0]);
  uint16_t tmp[1];
  size_t n;
  if (o->ops->resources(o, x->path.ids[1], tmp, 1, &n) == NB_ERR_NOT_FOUND)
    return nb_dm_code(x, NB_COAP_NOT_FOUND);
  if (x->path.len >= NB_PATH_RESOURCE) {
    const nb_resource_def *rd = nb_object_def_resource(o->def, x->path.ids[2]);
    if (!rd) return nb_dm_code(x, NB_COAP_NOT_FOUND);
    if (!(rd->ops & NB_OP_W)) return nb_dm_code(x, NB_COAP_METHOD_NOT_ALLOWED);
  }
  nb_coap_block b1;
  const nb_fw_hooks *fw = x->c->fw_hooks;
  if (fw && nb_coap_block_get(x->req, NB_COAP_OPT_BLOCK1, &b1) == NB_OK &&
      fw->streams(x->c, x->peer, x->req)) { /* a firmware package, block by block */
    x->answered = NB_COAP_CHANGED;
    return fw->push_block(x->c, x->ex, x->peer, x->req, x->now);
  }
  nb_records recs;
  nb_records_init(&recs);
  if (nb_dm_decode(x, &x->path, 0, &recs)) {
    uint8_t code = NB_COAP_CHANGED;
    bool whole = !partial && x->path.len == NB_PATH_INSTANCE;
    nb_err e = whole ? nb_dm_replace_check(o, &recs, &code) : NB_OK;
    if (e == NB_OK) e = nb_dm_store(x->c, &recs, !partial, &code, x->now);
    if (e == NB_OK && whole) nb_dm_replace_prune(x->c, o, x->path.ids[1], &recs, &code, x->now);
    nb_dm_code(x, code);
  }
  nb_records_deinit(&recs);
}

static void nb_dm_write_attributes(nb_dm_ctx *x) {
  char reason[128];
  nb_attrs upd;
  nb_attrs_init(&upd);
  if (x->path.len == NB_PATH_ROOT) return nb_dm_code(x, NB_COAP_METHOD_NOT_ALLOWED);
  /* The R right covers Write-Attributes on an instance or below; on an object it needs none
   * (Core 7.3.2, 7.3.2.4). */
  if (x->path.len >= NB_PATH_INSTANCE &&
      !nb_dm_acl_allows(x->c, x->a->ssid, x->path.ids[0], x->path.ids[1], NB_ACL_R))
    return nb_dm_code(x, NB_COAP_UNAUTHORIZED);
  const nb_resource_def *rd = x->path.len >= NB_PATH_RESOURCE
                                  ? nb_model_resource(x->c->model, x->path.ids[0], x->path.ids[2])
                                  : NULL;
  if (x->path.len >= NB_PATH_RESOURCE && !rd) return nb_dm_code(x, NB_COAP_NOT_FOUND);
  if (nb_attrs_parse_query(&upd, x->req, reason, sizeof reason) != NB_OK ||
      nb_attrs_check_writable(&upd, reason, sizeof reason) != NB_OK ||
      nb_attrs_check_target(&upd, &x->path, rd, reason, sizeof reason) != NB_OK) {
    NB_LOG_DEBUG(NB_CLIENT_LOG, "event=write-attributes-refused reason=\"%s\"", reason);
    return nb_dm_code(x, NB_COAP_BAD_REQUEST);
  }
  if (x->c->v10 && ((upd.set | upd.unset) & (NB_ATTR_EPMIN | NB_ATTR_EPMAX))) {
    NB_LOG_DEBUG(NB_CLIENT_LOG, "event=write-attributes-refused reason=\"epmin/epmax are 1.1\"");
    return nb_dm_code(x, NB_COAP_BAD_REQUEST);
  }
  nb_attrs *stored = nb_rep_attrs_at(x->c, x->a->ssid, &x->path, true);
  if (!stored) return nb_dm_code(x, NB_COAP_INTERNAL_SERVER_ERROR);
  nb_attrs trial = *stored, eff;
  nb_attrs_apply(&trial, &upd);
  nb_rep_effective_attrs(x->c, x->a->ssid, &x->path, &eff);
  nb_attrs_merge(&eff, &trial);
  if (nb_attrs_validate(&trial, reason, sizeof reason) != NB_OK ||
      nb_attrs_validate(&eff, reason, sizeof reason) != NB_OK) {
    NB_LOG_DEBUG(NB_CLIENT_LOG, "event=write-attributes-refused reason=\"%s\"", reason);
    return nb_dm_code(x, NB_COAP_BAD_REQUEST);
  }
  *stored = trial;
  nb_dm_code(x, NB_COAP_CHANGED);
}

/* ---- execute, create, delete ---- */

static void nb_dm_execute(nb_dm_ctx *x) {
  /* The right first, then whether the resource executes (Core 7.3.2.2). */
  if (!nb_dm_acl_allows(x->c, x->a->ssid, x->path.ids[0], x->path.ids[1], NB_ACL_E))
    return nb_dm_code(x, NB_COAP_UNAUTHORIZED);
  nb_object *o = nb_client_object(x->c, x->path.ids[0]);
  const nb_resource_def *rd = nb_object_def_resource(o->def, x->path.ids[2]);
  if (!rd) return nb_dm_code(x, NB_COAP_NOT_FOUND);
  if (!(rd->ops & NB_OP_E)) return nb_dm_code(x, NB_COAP_METHOD_NOT_ALLOWED);
  uint16_t tmp[1];
  size_t n;
  if (o->ops->resources(o, x->path.ids[1], tmp, 1, &n) == NB_ERR_NOT_FOUND)
    return nb_dm_code(x, NB_COAP_NOT_FOUND);
  if (x->path.ids[0] == 1 && x->path.ids[2] == 8) { /* Registration Update Trigger */
    for (size_t i = 0; i < x->c->nacc; i++)
      if (x->c->acc[i]->srv_inst == x->path.ids[1]) x->c->acc[i]->update_pending = true;
    return nb_dm_code(x, NB_COAP_CHANGED);
  }
  if (x->path.ids[0] == 1 && x->path.ids[2] == 9) /* Bootstrap-Request Trigger */
    return nb_dm_code(x,
                      nb_bs_trigger(x->c, x->now) == NB_OK ? NB_COAP_CHANGED : NB_COAP_BAD_REQUEST);
  nb_err e = o->ops->execute(o, x->path.ids[1], x->path.ids[2], x->req->payload,
                             x->req->payload_len, x->now);
  nb_dm_code(x, e == NB_OK ? NB_COAP_CHANGED : nb_client_err_code(e));
}

static void nb_dm_objects_changed(nb_client *c) {
  for (size_t i = 0; i < c->nacc; i++)
    c->acc[i]->update_pending = c->acc[i]->objects_changed = true;
}

static void nb_dm_create(nb_dm_ctx *x) {
  nb_object *o = nb_client_object(x->c, x->path.ids[0]);
  if (!nb_dm_acl_allows(x->c, x->a->ssid, x->path.ids[0], 65535, NB_ACL_C))
    return nb_dm_code(x, NB_COAP_UNAUTHORIZED);
  uint16_t ids[NB_CLIENT_MAX_IDS];
  size_t n = o->ops->instances(o, ids, NB_CLIENT_MAX_IDS);
  if (!o->def->multiple && n > 0) return nb_dm_code(x, NB_COAP_BAD_REQUEST);
  uint16_t inst = 0;
  for (size_t k = 0; k < n && k < NB_CLIENT_MAX_IDS && ids[k] == inst; k++) inst++;
  nb_records recs;
  nb_records_init(&recs);
  bool ok = true;
  const nb_sig_body *b;
  if (x->req->payload_len > 0) {
    /* TLV/SenML may name the instance (/o/i/...); a bare resource list goes to a new one. */
    nb_format_opts fo = {.base = &x->path, .model = x->c->model};
    if (!nb_dm_body(x, &b)) {
      ok = false;
    } else if (nb_format_decode_ex(b->cf, b->data, b->len, &fo, &recs, NULL) == NB_OK &&
               recs.len > 0 && recs.items[0].path.len >= NB_PATH_INSTANCE) {
      inst = recs.items[0].path.ids[1];
    } else {
      nb_records_deinit(&recs);
      nb_records_init(&recs);
      nb_path ip = nb_path_inst(x->path.ids[0], inst);
      ok = nb_dm_decode(x, &ip, 0, &recs);
    }
  }
  for (size_t i = 0; ok && i < recs.len; i++)
    if (recs.items[i].path.ids[1] != inst) {
      ok = false; /* one instance per Create */
      nb_dm_code(x, NB_COAP_BAD_REQUEST);
    }
  if (ok) {
    nb_err e = o->ops->create(o, inst);
    bool created = e == NB_OK;
    /* Create may set read-only resources too: write through the object directly. */
    for (size_t i = 0; e == NB_OK && i < recs.len;) {
      size_t j = i + 1;
      while (j < recs.len && recs.items[j].path.ids[2] == recs.items[i].path.ids[2]) j++;
      e = o->ops->write(o, inst, recs.items[i].path.ids[2], &recs.items[i], j - i, true, x->now);
      i = j;
    }
    if (e != NB_OK) {
      if (created) o->ops->remove(o, inst);
      nb_dm_code(x, nb_client_err_code(e));
    } else {
      nb_dm_acl_created(x->c, x->a->ssid, x->path.ids[0], inst);
      nb_dm_objects_changed(x->c);
      nb_rep_changed(x->c, &x->path, x->now);
      char loc[NB_PATH_STRLEN];
      nb_path ip = nb_path_inst(x->path.ids[0], inst);
      nb_path_format(&ip, loc, sizeof loc);
      nb_coap_msg m;
      nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_CREATED, 0);
      nb_coap_msg_add_path(&m, NB_COAP_OPT_LOCATION_PATH, loc);
      x->answered = NB_COAP_CREATED;
      nb_coap_exchange_respond(x->ex, &m, x->now);
    }
  }
  nb_records_deinit(&recs);
}

static void nb_dm_delete(nb_dm_ctx *x) {
  if (x->path.len != NB_PATH_INSTANCE) return nb_dm_code(x, NB_COAP_METHOD_NOT_ALLOWED);
  if (!nb_dm_acl_allows(x->c, x->a->ssid, x->path.ids[0], x->path.ids[1], NB_ACL_D))
    return nb_dm_code(x, NB_COAP_UNAUTHORIZED);
  nb_object *o = nb_client_object(x->c, x->path.ids[0]);
  nb_err e = o->ops->remove(o, x->path.ids[1]);
  if (e == NB_OK) {
    nb_dm_acl_deleted(x->c, x->path.ids[0], x->path.ids[1]);
    nb_dm_objects_changed(x->c);
    nb_rep_changed(x->c, &x->path, x->now);
  }
  nb_dm_code(x, e == NB_OK ? NB_COAP_DELETED : nb_client_err_code(e));
}

/* ---- composite ---- */

static void nb_dm_read_composite(nb_dm_ctx *x) {
  int cf;
  if (!nb_dm_accept(x, &cf)) return;
  /* Without Accept, the request's format; a signed request's inner one. */
  if (cf == NB_COAP_CF_NONE) {
    cf = nb_coap_msg_content_format(x->req);
    if (cf == NB_COSE_CF_SIGN1) cf = NB_COAP_CF_SENML_CBOR;
  }
  nb_path root = nb_path_root();
  nb_records req, recs;
  nb_records_init(&req);
  nb_records_init(&recs);
  if (nb_dm_decode(x, &root, NB_FORMAT_PATHS_ONLY, &req)) {
    nb_path paths[64];
    size_t np = 0;
    nb_err e = NB_OK;
    for (size_t i = 0; i < req.len && e == NB_OK; i++) {
      const nb_path *p = &req.items[i].path;
      if (p->len >= NB_PATH_INSTANCE &&
          !nb_dm_acl_allows(x->c, x->a->ssid, p->ids[0], p->ids[1], NB_ACL_R))
        continue;
      nb_err r = nb_dm_read_as(x->c, x->a->ssid, p, &recs, x->now);
      if (r != NB_OK && r != NB_ERR_NOT_FOUND) e = r; /* absent paths are skipped */
      if (np < 64) paths[np++] = *p;
    }
    nb_records_sort(&recs);
    if (e != NB_OK)
      nb_dm_code(x, nb_client_err_code(e));
    else
      nb_dm_answer_records(x, paths, np, true, &recs, cf);
  }
  nb_records_deinit(&req);
  nb_records_deinit(&recs);
}

static void nb_dm_write_composite(nb_dm_ctx *x) {
  nb_path root = nb_path_root();
  nb_records recs;
  nb_records_init(&recs);
  if (nb_dm_decode(x, &root, 0, &recs)) {
    for (size_t i = 0; i < recs.len; i++) {
      const nb_path *p = &recs.items[i].path;
      if (!nb_dm_acl_allows(x->c, x->a->ssid, p->ids[0], p->ids[1], NB_ACL_W)) {
        nb_records_deinit(&recs);
        return nb_dm_code(x, NB_COAP_UNAUTHORIZED);
      }
    }
    uint8_t code = NB_COAP_CHANGED;
    nb_dm_store(x->c, &recs, true, &code, x->now);
    nb_dm_code(x, code);
  }
  nb_records_deinit(&recs);
}

/* ---- dispatch ---- */

/* POST with a payload on a multiple resource that is not executable: a partial update of its
 * instances (1.1), which keeps the instances the payload does not name. */
static bool nb_dm_is_partial_rwrite(nb_dm_ctx *x) {
  const nb_resource_def *rd = nb_model_resource(x->c->model, x->path.ids[0], x->path.ids[2]);
  return !x->c->v10 && rd && rd->multiple && !(rd->ops & NB_OP_E) &&
         nb_coap_msg_content_format(x->req) != NB_COAP_CF_NONE;
}

static void nb_dm_dispatch(nb_dm_ctx *x) {
  const nb_coap_msg *req = x->req;
  nb_err pe = nb_path_from_coap(req, &x->path);
  if (pe != NB_OK)
    return nb_dm_code(x, pe == NB_ERR_RANGE ? NB_COAP_BAD_REQUEST : NB_COAP_NOT_FOUND);
  if (req->code == NB_COAP_FETCH) return nb_dm_read_composite(x);
  if (req->code == NB_COAP_IPATCH) return nb_dm_write_composite(x);
  if (x->path.len >= NB_PATH_OBJECT) {
    if (x->path.ids[0] == 0) return nb_dm_code(x, NB_COAP_UNAUTHORIZED); /* bootstrap only */
    if (!nb_client_object(x->c, x->path.ids[0])) return nb_dm_code(x, NB_COAP_NOT_FOUND);
  }
  switch (req->code) {
    case NB_COAP_GET:
      if (nb_coap_msg_accept(req) == NB_COAP_CF_LINK_FORMAT) return nb_dm_discover(x);
      return nb_dm_read(x);
    case NB_COAP_PUT:
      if (req->payload_len == 0 && nb_coap_msg_content_format(req) == NB_COAP_CF_NONE)
        return nb_dm_write_attributes(x);
      return nb_dm_write(x, x->path.len == NB_PATH_RINSTANCE);
    case NB_COAP_POST:
      if (x->path.len == NB_PATH_OBJECT) return nb_dm_create(x);
      if (x->path.len == NB_PATH_INSTANCE) return nb_dm_write(x, true);
      if (x->path.len == NB_PATH_RESOURCE && nb_dm_is_partial_rwrite(x))
        return nb_dm_write(x, true);
      if (x->path.len == NB_PATH_RESOURCE) return nb_dm_execute(x);
      return nb_dm_code(x, NB_COAP_METHOD_NOT_ALLOWED);
    case NB_COAP_DELETE:
      return nb_dm_delete(x);
    default:
      return nb_dm_code(x, NB_COAP_METHOD_NOT_ALLOWED);
  }
}

void nb_dm_handle(void *user, nb_coap_exchange *ex, const nb_addr *peer, const nb_coap_msg *req,
                  nb_time_ms now) {
  nb_dm_ctx x = {.c = user, .ex = ex, .req = req, .peer = peer, .now = now};
  if (nb_bs_handle(x.c, ex, peer, req, now)) return;
  x.a = nb_client_account_by_addr(x.c, peer);
  if (!x.a) return nb_dm_code(&x, NB_COAP_UNAUTHORIZED);
  nb_dm_dispatch(&x);
  /* A signed write that was applied is evidence of what the server asked for. */
  bool write = req->code == NB_COAP_PUT || req->code == NB_COAP_POST || req->code == NB_COAP_IPATCH;
  if (write && x.body_ready && x.body.cose && NB_COAP_CLASS(x.answered) == 2)
    nb_sig_evidence(x.c, "write", &x.path, x.body.cose, x.body.cose_len);
}
