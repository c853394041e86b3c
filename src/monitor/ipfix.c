/* IPFIX flow export with libfixbuf. */
#include "monitor/ipfix.h"

#include <fixbuf/public.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NB_IPFIX_SLOTS 4096u
#define NB_IPFIX_FILL 3072u /* flush early beyond this: bounded memory */

typedef struct {
  uint8_t family, code, type;
  uint8_t src[16], dst[16];
  uint16_t sport, dport;
  char path[NB_MON_URI_MAX];
} nb_ipfix_key;

typedef struct {
  nb_ipfix_key k;
  bool used;
  char endpoint[NB_MON_EP_MAX];
  const char *op, *transport;
  uint64_t first_ms, last_ms, packets, octets;
} nb_ipfix_flow;

/* The record as fixbuf reads it: the internal template below lists these members in order,
 * and the layout has no implicit padding. */
typedef struct {
  uint64_t start_ms, end_ms, packets, octets;
  fbVarfield_t path, endpoint, operation, transport;
  uint8_t src6[16], dst6[16];
  uint32_t src4, dst4;
  uint16_t sport, dport, object, instance, resource;
  uint8_t proto, code, type, pad[3];
} nb_ipfix_rec;

struct nb_mon_ipfix {
  fbInfoModel_t *model;
  fBuf_t *buf; /* owns the session and the exporter */
  nb_ipfix_flow *flows;
  size_t count;
  uint64_t records;
};

static fbInfoElement_t nb_ipfix_elements[] = {
    FB_IE_INIT_FULL("coapCode", NB_MON_IPFIX_PEN, 1, 1, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER, 0, 0,
                    FB_UINT_8, "CoAP code (class << 5 | detail)"),
    FB_IE_INIT_FULL("coapType", NB_MON_IPFIX_PEN, 2, 1, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER, 0, 0,
                    FB_UINT_8, "CoAP type: 0 CON, 1 NON, 2 ACK, 3 RST"),
    FB_IE_INIT_FULL("coapUriPath", NB_MON_IPFIX_PEN, 3, FB_IE_VARLEN, FB_IE_F_NONE, 0, 0, FB_STRING,
                    "Uri-Path of the request"),
    FB_IE_INIT_FULL("lwm2mEndpoint", NB_MON_IPFIX_PEN, 4, FB_IE_VARLEN, FB_IE_F_NONE, 0, 0,
                    FB_STRING, "LwM2M endpoint client name"),
    FB_IE_INIT_FULL("lwm2mOperation", NB_MON_IPFIX_PEN, 5, FB_IE_VARLEN, FB_IE_F_NONE, 0, 0,
                    FB_STRING, "LwM2M operation"),
    FB_IE_INIT_FULL("lwm2mObjectId", NB_MON_IPFIX_PEN, 6, 2, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER, 0,
                    0, FB_UINT_16, "LwM2M object ID, 65535 when absent"),
    FB_IE_INIT_FULL("lwm2mInstanceId", NB_MON_IPFIX_PEN, 7, 2, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER, 0,
                    0, FB_UINT_16, "LwM2M object instance ID, 65535 when absent"),
    FB_IE_INIT_FULL("lwm2mResourceId", NB_MON_IPFIX_PEN, 8, 2, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER, 0,
                    0, FB_UINT_16, "LwM2M resource ID, 65535 when absent"),
    FB_IE_INIT_FULL("coapTransport", NB_MON_IPFIX_PEN, 9, FB_IE_VARLEN, FB_IE_F_NONE, 0, 0,
                    FB_STRING, "coap or coaps (decrypted DTLS)"),
    FB_IE_NULL};

static fbInfoElementSpec_t nb_ipfix_spec[] = {{"flowStartMilliseconds", 8, 0},
                                              {"flowEndMilliseconds", 8, 0},
                                              {"packetDeltaCount", 8, 0},
                                              {"octetDeltaCount", 8, 0},
                                              {"coapUriPath", 0, 0},
                                              {"lwm2mEndpoint", 0, 0},
                                              {"lwm2mOperation", 0, 0},
                                              {"coapTransport", 0, 0},
                                              {"sourceIPv6Address", 16, 0},
                                              {"destinationIPv6Address", 16, 0},
                                              {"sourceIPv4Address", 4, 0},
                                              {"destinationIPv4Address", 4, 0},
                                              {"sourceTransportPort", 2, 0},
                                              {"destinationTransportPort", 2, 0},
                                              {"lwm2mObjectId", 2, 0},
                                              {"lwm2mInstanceId", 2, 0},
                                              {"lwm2mResourceId", 2, 0},
                                              {"protocolIdentifier", 1, 0},
                                              {"coapCode", 1, 0},
                                              {"coapType", 1, 0},
                                              {"paddingOctets", 3, 0},
                                              FB_IESPEC_NULL};

static void nb_ipfix_why(char *why, size_t cap, const char *what, GError *err) {
  snprintf(why, cap, "%s: %s", what, err && err->message ? err->message : "failed");
  if (err) g_error_free(err);
}

/* Splits [udp://|tcp://]HOST:PORT; host and port point into copy. */
static bool nb_ipfix_target(char *copy, fbConnSpec_t *spec) {
  spec->transport = FB_UDP;
  char *s = copy;
  if (!strncmp(s, "udp://", 6)) {
    s += 6;
  } else if (!strncmp(s, "tcp://", 6)) {
    spec->transport = FB_TCP;
    s += 6;
  }
  char *colon = strrchr(s, ':');
  if (!colon || colon == s || !colon[1]) return false;
  *colon = 0;
  if (*s == '[' && colon[-1] == ']') {
    colon[-1] = 0;
    s++;
  }
  spec->host = s;
  spec->svc = colon + 1;
  return true;
}

/* The buffer owns the session and the exporter from here on (fBufFree frees all three). */
static bool nb_ipfix_session(nb_mon_ipfix *x, fbExporter_t *exp, char *why, size_t cap) {
  GError *err = NULL;
  fbSession_t *session = fbSessionAlloc(x->model);
  x->buf = fBufAllocForExport(session, exp);
  fbTemplate_t *tmpl = fbTemplateAlloc(x->model);
  if (!fbTemplateAppendSpecArray(tmpl, nb_ipfix_spec, UINT32_MAX, &err)) {
    fbTemplateFreeUnused(tmpl);
    nb_ipfix_why(why, cap, "IPFIX template", err);
    return false;
  }
  if (!fbSessionAddTemplate(session, TRUE, NB_MON_IPFIX_TEMPLATE, tmpl, &err) ||
      !fbSessionAddTemplate(session, FALSE, NB_MON_IPFIX_TEMPLATE, tmpl, &err) ||
      !fBufSetInternalTemplate(x->buf, NB_MON_IPFIX_TEMPLATE, &err) ||
      !fBufSetExportTemplate(x->buf, NB_MON_IPFIX_TEMPLATE, &err)) {
    nb_ipfix_why(why, cap, "IPFIX session", err);
    return false;
  }
  return true;
}

nb_mon_ipfix *nb_mon_ipfix_open(const char *target, bool to_file, char *why, size_t why_cap) {
  _Static_assert(
      sizeof(nb_ipfix_rec) == 4 * sizeof(uint64_t) + 4 * sizeof(fbVarfield_t) + 32 + 8 + 10 + 6,
      "the record must have no implicit padding");
  nb_mon_ipfix *x = calloc(1, sizeof *x);
  if (x) x->flows = calloc(NB_IPFIX_SLOTS, sizeof *x->flows);
  if (!x || !x->flows) {
    free(x);
    snprintf(why, why_cap, "out of memory");
    return NULL;
  }
  x->model = fbInfoModelAlloc();
  fbInfoModelAddElementArray(x->model, nb_ipfix_elements);
  fbExporter_t *exp = NULL;
  char copy[300];
  fbConnSpec_t spec;
  memset(&spec, 0, sizeof spec);
  if (to_file) {
    exp = fbExporterAllocFile(target);
  } else if (snprintf(copy, sizeof copy, "%s", target) < (int)sizeof copy) {
    if (nb_ipfix_target(copy, &spec)) exp = fbExporterAllocNet(&spec);
  }
  if (!exp) {
    snprintf(why, why_cap, "cannot export IPFIX to %s%s", target,
             to_file ? "" : " (want HOST:PORT, udp://HOST:PORT or tcp://HOST:PORT)");
  } else if (nb_ipfix_session(x, exp, why, why_cap)) {
    return x;
  }
  if (x->buf) fBufFree(x->buf);
  fbInfoModelFree(x->model);
  free(x->flows);
  free(x);
  return NULL;
}

static uint32_t nb_ipfix_hash(const nb_ipfix_key *k) {
  const uint8_t *p = (const uint8_t *)k;
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < offsetof(nb_ipfix_key, path); i++) h = (h ^ p[i]) * 16777619u;
  for (const char *s = k->path; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

static void nb_ipfix_key_of(const nb_mon_event *ev, nb_ipfix_key *k) {
  memset(k, 0, sizeof *k);
  k->family = ev->src.family;
  memcpy(k->src, ev->src.ip, 16);
  memcpy(k->dst, ev->dst.ip, 16);
  k->sport = ev->src.port;
  k->dport = ev->dst.port;
  k->code = ev->code;
  k->type = ev->type;
  snprintf(k->path, sizeof k->path, "%s", ev->uri);
}

/* Member by member: the key has padding bytes. */
static bool nb_ipfix_key_equal(const nb_ipfix_key *a, const nb_ipfix_key *b) {
  return a->family == b->family && a->code == b->code && a->type == b->type &&
         memcmp(a->src, b->src, sizeof a->src) == 0 && memcmp(a->dst, b->dst, sizeof a->dst) == 0 &&
         a->sport == b->sport && a->dport == b->dport && strcmp(a->path, b->path) == 0;
}

nb_err nb_mon_ipfix_add(nb_mon_ipfix *x, const nb_mon_event *ev) {
  if (ev->kind != NB_MON_EV_MESSAGE) return NB_OK;
  if (x->count >= NB_IPFIX_FILL) {
    char why[128];
    nb_err e = nb_mon_ipfix_flush(x, why, sizeof why);
    if (e) return e;
  }
  nb_ipfix_key k;
  nb_ipfix_key_of(ev, &k);
  size_t i = nb_ipfix_hash(&k) % NB_IPFIX_SLOTS;
  while (x->flows[i].used && !nb_ipfix_key_equal(&x->flows[i].k, &k)) i = (i + 1) % NB_IPFIX_SLOTS;
  nb_ipfix_flow *f = &x->flows[i];
  uint64_t ms = ev->ts_us > 0 ? (uint64_t)ev->ts_us / 1000 : 0;
  if (!f->used) {
    memset(f, 0, sizeof *f);
    f->used = true;
    f->k = k;
    f->first_ms = ms;
    x->count++;
  }
  if (!f->endpoint[0] && ev->endpoint[0])
    snprintf(f->endpoint, sizeof f->endpoint, "%s", ev->endpoint);
  if (!f->op && ev->op) f->op = ev->op;
  f->transport = ev->transport;
  f->last_ms = ms;
  f->packets++;
  f->octets += ev->dtls_len;
  return NB_OK;
}

/* /obj/inst/res of an LwM2M path; NB_MON_IPFIX_NONE for what is absent or not numeric. */
static void nb_ipfix_ids(const char *path, uint16_t ids[3]) {
  ids[0] = ids[1] = ids[2] = NB_MON_IPFIX_NONE;
  const char *s = path;
  for (int i = 0; i < 3 && *s == '/'; i++) {
    char *end;
    unsigned long v = strtoul(s + 1, &end, 10);
    if (end == s + 1 || (*end && *end != '/') || v >= NB_MON_IPFIX_NONE) {
      ids[0] = ids[1] = ids[2] = NB_MON_IPFIX_NONE;
      return;
    }
    ids[i] = (uint16_t)v;
    s = end;
  }
  if (*s) ids[0] = ids[1] = ids[2] = NB_MON_IPFIX_NONE; /* deeper or not LwM2M */
}

static void nb_ipfix_str(fbVarfield_t *v, const char *s) {
  v->buf = (uint8_t *)(s ? s : "");
  v->len = s ? strlen(s) : 0;
}

static void nb_ipfix_fill(const nb_ipfix_flow *f, nb_ipfix_rec *r) {
  memset(r, 0, sizeof *r);
  r->start_ms = f->first_ms;
  r->end_ms = f->last_ms;
  r->packets = f->packets;
  r->octets = f->octets;
  nb_ipfix_str(&r->path, f->k.path);
  nb_ipfix_str(&r->endpoint, f->endpoint);
  nb_ipfix_str(&r->operation, f->op);
  nb_ipfix_str(&r->transport, f->transport);
  if (f->k.family == NB_ADDR_V6) {
    memcpy(r->src6, f->k.src, 16);
    memcpy(r->dst6, f->k.dst, 16);
  } else {
    r->src4 = (uint32_t)f->k.src[0] << 24 | (uint32_t)f->k.src[1] << 16 |
              (uint32_t)f->k.src[2] << 8 | f->k.src[3];
    r->dst4 = (uint32_t)f->k.dst[0] << 24 | (uint32_t)f->k.dst[1] << 16 |
              (uint32_t)f->k.dst[2] << 8 | f->k.dst[3];
  }
  r->sport = f->k.sport;
  r->dport = f->k.dport;
  uint16_t ids[3];
  nb_ipfix_ids(f->k.path, ids);
  r->object = ids[0];
  r->instance = ids[1];
  r->resource = ids[2];
  r->proto = 17;
  r->code = f->k.code;
  r->type = f->k.type;
}

nb_err nb_mon_ipfix_flush(nb_mon_ipfix *x, char *why, size_t why_cap) {
  GError *err = NULL;
  nb_err e = NB_OK;
  for (size_t i = 0; i < NB_IPFIX_SLOTS; i++) {
    nb_ipfix_flow *f = &x->flows[i];
    if (!f->used) continue;
    nb_ipfix_rec r;
    nb_ipfix_fill(f, &r);
    if (!e && !fBufAppend(x->buf, (uint8_t *)&r, sizeof r, &err)) {
      nb_ipfix_why(why, why_cap, "IPFIX export", err);
      err = NULL;
      e = NB_ERR_IO;
    }
    if (!e) x->records++;
    f->used = false;
  }
  x->count = 0;
  if (!e && !fBufEmit(x->buf, &err)) {
    nb_ipfix_why(why, why_cap, "IPFIX export", err);
    e = NB_ERR_IO;
  }
  return e;
}

nb_err nb_mon_ipfix_close(nb_mon_ipfix *x, char *why, size_t why_cap) {
  if (!x) return NB_OK;
  nb_err e = nb_mon_ipfix_flush(x, why, why_cap);
  fBufFree(x->buf);
  fbInfoModelFree(x->model);
  free(x->flows);
  free(x);
  return e;
}

uint64_t nb_mon_ipfix_records(const nb_mon_ipfix *x) { return x->records; }
