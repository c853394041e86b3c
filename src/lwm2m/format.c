/* Content-format front door: one table row per format. */
#include "lwm2m/format.h"

#include <stdlib.h>
#include <string.h>

#include "coap/msg.h"
#include "lwm2m/cbor_value.h"
#include "lwm2m/fmtutil.h"
#include "lwm2m/lwm2m_cbor.h"
#include "lwm2m/lwm2m_json.h"
#include "lwm2m/senml_cbor.h"
#include "lwm2m/senml_json.h"
#include "lwm2m/text.h"
#include "lwm2m/tlv.h"
#include "niobium/config.h"

typedef nb_err (*nb_format_decode_fn)(const uint8_t *buf, size_t len, const nb_format_opts *opts,
                                      nb_records *out, nb_format_error *err);
typedef nb_err (*nb_format_encode_fn)(const nb_records *in, const nb_format_opts *opts,
                                      nb_bytes *out, nb_format_error *err);

typedef struct {
  int cf;
  const char *name;
  const char *media_type;
  bool multi;
  nb_format_decode_fn decode; /* NULL for link-format, which has its own API */
  nb_format_encode_fn encode;
} nb_format_row;

/* A format switched off in the build (NB_CFG_FMT_*, docs/client.md "The device build") has no
 * row: it is refused like any unknown Content-Format (4.15 to decode, 4.06 to encode). */
static const nb_format_row nb_format_rows[] = {
#if NB_CFG_FMT_TEXT
    {NB_COAP_CF_TEXT, "text", "text/plain", false, nb_text_decode, nb_text_encode},
#endif
    {NB_COAP_CF_LINK_FORMAT, "link", "application/link-format", true, NULL, NULL},
#if NB_CFG_FMT_OPAQUE
    {NB_COAP_CF_OCTET_STREAM, "opaque", "application/octet-stream", false, nb_opaque_decode,
     nb_opaque_encode},
#endif
#if NB_CFG_FMT_CBOR
    {NB_COAP_CF_CBOR, "cbor", "application/cbor", false, nb_cbor_value_decode,
     nb_cbor_value_encode},
#endif
#if NB_CFG_FMT_SENML_JSON
    {NB_COAP_CF_SENML_JSON, "senml-json", "application/senml+json", true, nb_senml_json_decode,
     nb_senml_json_encode},
#endif
#if NB_CFG_FMT_SENML_CBOR
    {NB_COAP_CF_SENML_CBOR, "senml-cbor", "application/senml+cbor", true, nb_senml_cbor_decode,
     nb_senml_cbor_encode},
#endif
#if NB_CFG_FMT_TLV
    {NB_COAP_CF_LWM2M_TLV, "tlv", "application/vnd.oma.lwm2m+tlv", true, nb_tlv_decode,
     nb_tlv_encode},
#endif
#if NB_CFG_FMT_LWM2M_JSON
    {NB_COAP_CF_LWM2M_JSON, "json", "application/vnd.oma.lwm2m+json", true, nb_lwm2m_json_decode,
     nb_lwm2m_json_encode},
#endif
#if NB_CFG_FMT_LWM2M_CBOR
    {NB_COAP_CF_LWM2M_CBOR, "lwm2m-cbor", "application/vnd.oma.lwm2m+cbor", true,
     nb_lwm2m_cbor_decode, nb_lwm2m_cbor_encode},
#endif
};

#define NB_FORMAT_ROWS (sizeof nb_format_rows / sizeof nb_format_rows[0])

static const nb_format_row *nb_format_row_of(int cf) {
  for (size_t k = 0; k < NB_FORMAT_ROWS; k++) {
    if (nb_format_rows[k].cf == cf) return &nb_format_rows[k];
  }
  return NULL;
}

void nb_times_init(nb_times *t) { memset(t, 0, sizeof *t); }

void nb_times_deinit(nb_times *t) {
  free(t->items);
  nb_times_init(t);
}

bool nb_format_is_supported(int cf) {
  const nb_format_row *row = nb_format_row_of(cf);
  return row && row->decode;
}

int nb_format_first_supported(const int *cfs, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (nb_format_is_supported(cfs[k])) return cfs[k];
  return NB_COAP_CF_NONE;
}

bool nb_format_is_multi(int cf) {
  const nb_format_row *row = nb_format_row_of(cf);
  return row && row->decode && row->multi;
}

const char *nb_format_media_type(int cf) {
  const nb_format_row *row = nb_format_row_of(cf);
  return row ? row->media_type : "unknown";
}

const char *nb_format_name(int cf) {
  const nb_format_row *row = nb_format_row_of(cf);
  return row ? row->name : "unknown";
}

int nb_format_from_name(const char *name) {
  for (size_t k = 0; k < NB_FORMAT_ROWS; k++) {
    if (!strcmp(nb_format_rows[k].name, name)) return nb_format_rows[k].cf;
  }
  return NB_COAP_CF_NONE;
}

static nb_err nb_format_check_opts(const nb_format_opts *opts, nb_format_error *err) {
  if (opts && opts->base && !nb_path_is_valid(opts->base)) {
    return nb_fmt_fail(err, NB_ERR_INVAL, NB_COAP_INTERNAL_SERVER_ERROR, "invalid request path");
  }
  return NB_OK;
}

nb_err nb_format_decode_ex(int cf, const uint8_t *buf, size_t len, const nb_format_opts *opts,
                           nb_records *out, nb_format_error *err) {
  const nb_format_row *row = nb_format_row_of(cf);
  if (!row || !row->decode) {
    return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_UNSUPPORTED_CONTENT_FORMAT,
                       "Content-Format not supported for resource values");
  }
  nb_err e = nb_format_check_opts(opts, err);
  if (e != NB_OK) return e;
  /* A message without a payload has none at all (NULL): the decoders get an empty one. */
  return row->decode(buf ? buf : (const uint8_t *)"", buf ? len : 0, opts, out, err);
}

nb_err nb_format_encode_ex(int cf, const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                           nb_format_error *err) {
  const nb_format_row *row = nb_format_row_of(cf);
  if (!row || !row->encode) {
    return nb_fmt_fail(err, NB_ERR_FMT_UNSUPPORTED, NB_COAP_NOT_ACCEPTABLE,
                       "Content-Format not supported for resource values");
  }
  nb_err e = nb_format_check_opts(opts, err);
  if (e != NB_OK) return e;
  size_t before = out->len;
  e = row->encode(in, opts, out, err);
  if (e != NB_OK) out->len = before;
  return e;
}

static void nb_format_report(const nb_format_error *fe, uint8_t *code, const char **reason) {
  if (code) *code = fe->code;
  if (reason) *reason = fe->reason;
}

nb_err nb_format_decode(int cf, const uint8_t *buf, size_t len, const nb_path *base,
                        const nb_model *model, nb_records *out, uint8_t *coap_code_on_error,
                        const char **reason) {
  nb_format_opts opts = {base, model, 0, NULL, NULL, NULL};
  nb_format_error fe = {NB_COAP_INTERNAL_SERVER_ERROR, "internal error"};
  nb_err e = nb_format_decode_ex(cf, buf, len, &opts, out, &fe);
  if (e != NB_OK) nb_format_report(&fe, coap_code_on_error, reason);
  return e;
}

nb_err nb_format_encode(int cf, const nb_records *in, const nb_path *base, const nb_model *model,
                        nb_bytes *out, uint8_t *coap_code_on_error, const char **reason) {
  nb_format_opts opts = {base, model, 0, NULL, NULL, NULL};
  nb_format_error fe = {NB_COAP_INTERNAL_SERVER_ERROR, "internal error"};
  nb_err e = nb_format_encode_ex(cf, in, &opts, out, &fe);
  if (e != NB_OK) nb_format_report(&fe, coap_code_on_error, reason);
  return e;
}
