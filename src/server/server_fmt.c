/* LwM2M server engine, content-format negotiation: which format a request for values goes in
 * when the caller did not choose one, from what the device advertised in its Register (the root
 * link's ct, TS Core 6.2.1), its LwM2M version, the format it last answered in and the ones it
 * refused (4.06, 4.15). See server_int.h; the rules are in docs/server.md, "Content formats". */
#include <string.h>

#include "base/log.h"
#include "server/server_int.h"

/* LwM2M CBOR (TS Core 1.2, 7.4.6): ranked when a codec handles it (nb_format_is_multi). */
#define CF_LWM2M_CBOR 11544

/* Formats for the values of several resources, best first: compact binary before text, the
 * SenML pair (which also carries Composite operations and timestamps) before TLV, LwM2M JSON
 * (1.0's optional format) last. Bit i of reg.refused_formats is rank[i]. */
static const int rank[] = {NB_COAP_CF_SENML_CBOR, CF_LWM2M_CBOR, NB_COAP_CF_SENML_JSON,
                           NB_COAP_CF_LWM2M_TLV, NB_COAP_CF_LWM2M_JSON};
#define NRANK (sizeof rank / sizeof rank[0])

/* A 1.1+ device that advertised nothing: SenML CBOR (the 1.1 default), then TLV (a Wakaama 1.1
 * client advertises its SenML or LwM2M JSON when it has one, so one that advertises nothing has
 * TLV; older stacks always had it), then SenML JSON. */
static const int guess[] = {NB_COAP_CF_SENML_CBOR, NB_COAP_CF_LWM2M_TLV, NB_COAP_CF_SENML_JSON};
static const int guess_v10[] = {NB_COAP_CF_LWM2M_TLV};

static int rank_index(int cf) {
  for (size_t i = 0; i < NRANK; i++)
    if (rank[i] == cf) return (int)i;
  return -1;
}

static bool advertised(const nb_server_reg_info *i, int cf) {
  for (size_t k = 0; k < i->format_count; k++)
    if (i->formats[k] == cf) return true;
  return false;
}

static bool fits_op(int cf, bool composite) {
  if (!nb_format_is_multi(cf)) return false;
  return !composite || cf == NB_COAP_CF_SENML_CBOR || cf == NB_COAP_CF_SENML_JSON;
}

static bool listed(const int *list, size_t n, int cf) {
  for (size_t k = 0; k < n; k++)
    if (list[k] == cf) return true;
  return false;
}

/* The formats r's device supports for the operation, in the order to try them before what it
 * answered and refused are taken into account. */
static size_t supported(const reg *r, bool composite, int *out) {
  const nb_server_reg_info *i = &r->info;
  bool v10 = strcmp(i->version, "1.0") == 0;
  size_t n = 0;
  for (size_t k = 0; k < NRANK; k++) {
    /* TLV is mandatory for a 1.0 client (TS 1.0 6.4), whatever its root link says. */
    bool has = advertised(i, rank[k]) || (v10 && rank[k] == NB_COAP_CF_LWM2M_TLV);
    if (has && fits_op(rank[k], composite)) out[n++] = rank[k];
  }
  if (n > 0) return n;
  const int *from = v10 ? guess_v10 : guess;
  size_t len = v10 ? sizeof guess_v10 / sizeof guess_v10[0] : sizeof guess / sizeof guess[0];
  for (size_t k = 0; k < len; k++)
    if (fits_op(from[k], composite)) out[n++] = from[k];
  if (n == 0) out[n++] = NB_COAP_CF_SENML_CBOR; /* composite: the SenML pair is all there is */
  return n;
}

static bool refused(const reg *r, int cf) {
  int k = rank_index(cf);
  return k >= 0 && (r->refused_formats & (1u << k));
}

size_t nb_srvi_fmt_candidates(const reg *r, nb_server_op op, int *out, size_t cap) {
  bool composite =
      op == NB_SOP_READ_COMPOSITE || op == NB_SOP_WRITE_COMPOSITE || op == NB_SOP_OBSERVE_COMPOSITE;
  int all[NRANK + 1];
  size_t nall = supported(r, composite, all);
  size_t n = 0;
  int pref = r->info.preferred_format;
  /* What worked last, then the rest in order, the ones refused since at the end. */
  if (listed(all, nall, pref) && n < cap) out[n++] = pref;
  for (int pass = 0; pass < 2; pass++)
    for (size_t k = 0; k < nall && n < cap; k++)
      if (all[k] != pref && refused(r, all[k]) == (pass == 1)) out[n++] = all[k];
  return n;
}

void nb_srvi_fmt_refused(nb_server *s, reg *r, int cf, uint8_t code, int next) {
  int k = rank_index(cf);
  if (k >= 0) r->refused_formats |= 1u << k;
  if (r->info.preferred_format == cf) {
    r->info.preferred_format = NB_COAP_CF_NONE;
    nb_srvi_store_reg(s, r);
  }
  NB_LOG_INFO(NB_SRV_LOG, "event=format_refused ep=%s format=%s code=%u.%02u retry_format=%s",
              r->info.ep, nb_format_name(cf), NB_COAP_CLASS(code), NB_COAP_DETAIL(code),
              next == NB_COAP_CF_NONE ? "none" : nb_format_name(next));
}

void nb_srvi_fmt_worked(nb_server *s, reg *r, int cf) {
  int k = rank_index(cf);
  if (k >= 0) r->refused_formats &= ~(1u << k);
  if (r->info.preferred_format == cf || k < 0) return;
  r->info.preferred_format = cf;
  nb_srvi_store_reg(s, r);
  NB_LOG_INFO(NB_SRV_LOG, "event=format_preferred ep=%s format=%s", r->info.ep, nb_format_name(cf));
}

void nb_srvi_fmt_reset(reg *r, const uint16_t *formats, size_t count, bool new_registration) {
  r->info.format_count = count;
  for (size_t k = 0; k < count; k++) r->info.formats[k] = formats[k];
  if (!new_registration) return;
  /* A Register may come from new firmware: what the old one answered says nothing. */
  r->refused_formats = 0;
  r->info.preferred_format = NB_COAP_CF_NONE;
}
