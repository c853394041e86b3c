/* Signed LwM2M records with their secrets withheld. */
#include "dtls/cose_lwm2m.h"

#include "lwm2m/format.h"

/* (object, resource) pairs whose values are secret keys. */
static const struct {
  uint16_t obj, res;
} k_secrets[] = {
    {0, 5},  /* Security: Secret Key (PSK, private key) */
    {0, 8},  /* Security: SMS Binding Secret Key(s) */
    {21, 0}, /* OSCORE: Master Secret */
};

bool nb_cose_secret_resource(const nb_path *p) {
  if (p->len < NB_PATH_RESOURCE) return false;
  for (size_t i = 0; i < sizeof k_secrets / sizeof *k_secrets; i++)
    if (p->ids[0] == k_secrets[i].obj && p->ids[2] == k_secrets[i].res) return true;
  return false;
}

static bool nb_cose_value_empty(const nb_value *v) {
  switch (v->type) {
    case NB_VT_NONE:
      return true;
    case NB_VT_OPAQUE:
    case NB_VT_STRING:
    case NB_VT_CORELNK:
      return v->v.bytes.len == 0;
    default:
      return false;
  }
}

bool nb_cose_secret_in(const nb_record *r) {
  return nb_cose_secret_resource(&r->path) && !nb_cose_value_empty(&r->value);
}

const nb_record *nb_cose_secret_record(const nb_records *recs) {
  for (size_t i = 0; i < recs->len; i++)
    if (nb_cose_secret_in(&recs->items[i])) return &recs->items[i];
  return NULL;
}

/* Splits recs: secrets into w (pointing into recs), the rest copied into plain. */
static nb_err nb_cose_split(const nb_records *recs, nb_records *plain, nb_cose_secret *w,
                            size_t *n) {
  *n = 0;
  for (size_t i = 0; i < recs->len; i++) {
    const nb_record *r = &recs->items[i];
    if (nb_cose_secret_in(r)) {
      if (r->value.type != NB_VT_OPAQUE && r->value.type != NB_VT_STRING) return NB_ERR_FMT_TYPE;
      if (*n == NB_COSE_SECRETS_MAX || r->path.len != NB_PATH_RESOURCE) return NB_ERR_RANGE;
      w[(*n)++] = (nb_cose_secret){r->path, r->value.v.bytes.data, r->value.v.bytes.len};
      continue;
    }
    nb_value v;
    nb_err e = nb_value_copy(&v, &r->value);
    if (e == NB_OK) e = nb_records_add(plain, &r->path, &v);
    if (e != NB_OK) return e;
  }
  return NB_OK;
}

nb_err nb_cose_sign_records(const nb_cose_headers *h, const nb_records *recs, const nb_path *base,
                            const nb_model *model, const uint8_t *key, size_t key_len,
                            nb_bytes *out) {
  nb_records plain;
  nb_records_init(&plain);
  nb_bytes inner;
  nb_bytes_init(&inner);
  nb_cose_secret w[NB_COSE_SECRETS_MAX];
  size_t n = 0;
  nb_err e = nb_cose_split(recs, &plain, w, &n);
  if (e == NB_OK) e = nb_format_encode(h->content_format, &plain, base, model, &inner, NULL, NULL);
  if (e == NB_OK) e = nb_cose_sign1_withheld(h, inner.data, inner.len, w, n, key, key_len, out);
  nb_records_deinit(&plain);
  nb_bytes_free(&inner);
  return e;
}

nb_err nb_cose_add_withheld(const nb_cose_withheld *w, size_t n, const nb_path *base,
                            nb_records *recs) {
  for (size_t i = 0; i < n; i++)
    if (!w[i].value || !nb_cose_secret_resource(&w[i].path) ||
        !nb_path_is_prefix(base, &w[i].path) || nb_records_find(recs, &w[i].path))
      return NB_ERR_FMT_PATH;
  size_t before = recs->len;
  nb_err e = NB_OK;
  for (size_t i = 0; i < n && e == NB_OK; i++) {
    nb_value v = nb_value_none();
    e = nb_value_set_opaque(&v, w[i].value, w[i].value_len);
    if (e == NB_OK) e = nb_records_add(recs, &w[i].path, &v);
  }
  while (e != NB_OK && recs->len > before) nb_value_deinit(&recs->items[--recs->len].value);
  return e;
}

bool nb_cose_payload_has_secret(const nb_cose_sign1_msg *m, const nb_model *model) {
  int cf = m->h.content_format;
  if (cf < 0 || !nb_format_is_supported(cf)) return false;
  nb_records recs;
  nb_records_init(&recs);
  nb_format_opts o = {.model = model};
  bool found = nb_format_decode_ex(cf, m->payload, m->payload_len, &o, &recs, NULL) == NB_OK &&
               nb_cose_secret_record(&recs) != NULL;
  nb_records_deinit(&recs);
  return found;
}
