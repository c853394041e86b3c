/* Monitor events as JSON objects, written directly into an nb_bytes. */
#include "monitor/evjson.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "coap/msg.h"

typedef struct {
  nb_bytes *b;
  bool first;
  bool failed;
} nb_js;

/* Most pieces are a few bytes: copy in place when they fit, grow otherwise. */
static inline void nb_js_raw(nb_js *j, const char *s, size_t n) {
  nb_bytes *b = j->b;
  if (b->len + n < b->cap) {
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return;
  }
  if (nb_bytes_append(b, s, n)) j->failed = true;
}

/* Length of the valid UTF-8 sequence at s (1-4), 0 when invalid. */
static size_t nb_utf8_len(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  size_t len;
  uint32_t min;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0)
    len = 2, min = 0x80;
  else if ((c & 0xf0) == 0xe0)
    len = 3, min = 0x800;
  else if ((c & 0xf8) == 0xf0)
    len = 4, min = 0x10000;
  else
    return 0;
  if (len > n) return 0;
  uint32_t cp = c & (0x7f >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

static void nb_js_string(nb_js *j, const char *str, size_t n) {
  const uint8_t *s = (const uint8_t *)str;
  if (nb_bytes_reserve(j->b, n + 2)) {
    j->failed = true;
    return;
  }
  nb_js_raw(j, "\"", 1);
  size_t run = 0; /* bytes copied as they are, flushed in one append */
  for (size_t i = 0; i < n;) {
    uint8_t c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') { /* plain ASCII: most of it */
      run++;
      i++;
      continue;
    }
    size_t ulen = c >= 0x80 ? nb_utf8_len(s + i, n - i) : 0;
    if (ulen) {
      run += ulen;
      i += ulen;
      continue;
    }
    nb_js_raw(j, (const char *)s + i - run, run);
    run = 0;
    char esc[8];
    if (c == '"' || c == '\\')
      esc[0] = '\\', esc[1] = (char)c, esc[2] = 0;
    else if (c == '\n')
      memcpy(esc, "\\n", 3);
    else if (c == '\r')
      memcpy(esc, "\\r", 3);
    else if (c == '\t')
      memcpy(esc, "\\t", 3);
    else if (c < 0x20)
      snprintf(esc, sizeof esc, "\\u%04x", c);
    else
      memcpy(esc, "\\ufffd", 7); /* invalid UTF-8 byte */
    nb_js_raw(j, esc, strlen(esc));
    i++;
  }
  nb_js_raw(j, (const char *)s + n - run, run);
  nb_js_raw(j, "\"", 1);
}

/* `,"key":` in one copy (keys are literals), without the comma for an object's first key. */
static inline void nb_js_key_n(nb_js *j, const char *comma_key, size_t n) {
  if (j->first)
    nb_js_raw(j, comma_key + 1, n - 1);
  else
    nb_js_raw(j, comma_key, n);
  j->first = false;
}
#define nb_js_key(j, k) nb_js_key_n((j), ",\"" k "\":", sizeof(",\"" k "\":") - 1)

static void nb_js_str(nb_js *j, const char *v) { nb_js_string(j, v, strlen(v)); }
#define nb_js_kstr(j, k, v) (nb_js_key((j), k), nb_js_str((j), (v)))

/* A word of our own (operation, type, rule... names: ASCII, nothing to escape) as a string. */
static void nb_js_word(nb_js *j, const char *w) {
  char buf[64];
  size_t n = strlen(w);
  if (n + 2 > sizeof buf) {
    nb_js_str(j, w);
    return;
  }
  buf[0] = '"';
  for (size_t i = 0; i < n; i++) buf[i + 1] = w[i]; /* a few bytes: no call */
  buf[n + 1] = '"';
  nb_js_raw(j, buf, n + 2);
}
#define nb_js_kword(j, k, v) (nb_js_key((j), k), nb_js_word((j), (v)))

/* Decimal digits two at a time (numbers are in every line: MIDs, ports, packets, sizes). */
static void nb_js_u64(nb_js *j, uint64_t v) {
  static const char pairs[] =
      "00010203040506070809101112131415161718192021222324252627282930"
      "31323334353637383940414243444546474849505152535455565758596061"
      "62636465666768697071727374757677787980818283848586878889909192"
      "93949596979899";
  char buf[24];
  size_t k = sizeof buf;
  while (v >= 100) {
    size_t d = (size_t)(v % 100);
    v /= 100;
    buf[--k] = pairs[2 * d + 1];
    buf[--k] = pairs[2 * d];
  }
  if (v >= 10) {
    buf[--k] = pairs[2 * v + 1];
    buf[--k] = pairs[2 * v];
  } else {
    buf[--k] = (char)('0' + v);
  }
  nb_js_raw(j, buf + k, sizeof buf - k);
}

static void nb_js_i64(nb_js *j, int64_t v) {
  if (v < 0) {
    nb_js_raw(j, "-", 1);
    nb_js_u64(j, (uint64_t)0 - (uint64_t)v);
  } else {
    nb_js_u64(j, (uint64_t)v);
  }
}

#define nb_js_kint(j, k, v) (nb_js_key((j), k), nb_js_i64((j), (int64_t)(v)))

static void nb_js_bool(nb_js *j, bool v) { nb_js_raw(j, v ? "true" : "false", v ? 4 : 5); }
#define nb_js_kbool(j, k, v) (nb_js_key((j), k), nb_js_bool((j), (v)))

/* micro-units as a decimal with `digits` fraction digits (6: seconds from microseconds). */
static void nb_js_fixed(nb_js *j, int64_t v, int64_t scale, int digits) {
  if (v < 0) {
    nb_js_raw(j, "-", 1);
    v = -v;
  }
  nb_js_u64(j, (uint64_t)(v / scale));
  char frac[8];
  int64_t f = v % scale;
  for (int i = digits - 1; i >= 0; i--, f /= 10) frac[i] = (char)('0' + f % 10);
  nb_js_raw(j, ".", 1);
  nb_js_raw(j, frac, (size_t)digits);
}

/* The IP alone (the port has its own key): dotted quad written by hand (the hot path), IPv6 through
 * inet_ntop. */
static void nb_js_ip(nb_js *j, const nb_addr *a) {
  char buf[INET6_ADDRSTRLEN + 2];
  if (a->family == NB_ADDR_V4) {
    size_t n = 0;
    buf[n++] = '"';
    for (int i = 0; i < 4; i++) {
      uint8_t b = a->ip[i];
      if (i) buf[n++] = '.';
      if (b >= 100) buf[n++] = (char)('0' + b / 100);
      if (b >= 10) buf[n++] = (char)('0' + b / 10 % 10);
      buf[n++] = (char)('0' + b % 10);
    }
    buf[n++] = '"';
    nb_js_raw(j, buf, n);
    return;
  }
  if (!inet_ntop(AF_INET6, a->ip, buf, sizeof buf)) memcpy(buf, "?", 2);
  nb_js_string(j, buf, strlen(buf));
}

/* "/3/0/1" without printf. */
static void nb_js_path(nb_js *j, const nb_path *p) {
  char buf[NB_PATH_STRLEN];
  size_t n = 0;
  if (p->len == 0) buf[n++] = '/';
  for (uint8_t i = 0; i < p->len && i < 4; i++) {
    char digits[6];
    size_t k = sizeof digits;
    uint16_t id = p->ids[i];
    do digits[--k] = (char)('0' + id % 10);
    while ((id /= 10) != 0);
    buf[n++] = '/';
    memcpy(buf + n, digits + k, sizeof digits - k);
    n += sizeof digits - k;
  }
  nb_js_raw(j, "\"", 1);
  nb_js_raw(j, buf, n);
  nb_js_raw(j, "\"", 1);
}

static void nb_js_value(nb_js *j, const nb_value *v) {
  char buf[512];
  switch (v->type) {
    case NB_VT_INT:
      nb_js_i64(j, v->v.i);
      return;
    case NB_VT_UINT:
      nb_js_u64(j, v->v.u);
      return;
    case NB_VT_TIME:
      nb_js_i64(j, v->v.t);
      return;
    case NB_VT_BOOL:
      nb_js_raw(j, v->v.b ? "true" : "false", v->v.b ? 4 : 5);
      return;
    case NB_VT_NONE:
      nb_js_raw(j, "null", 4);
      return;
    case NB_VT_FLOAT:
      if (!isfinite(v->v.f)) {
        nb_js_raw(j, "null", 4);
      } else {
        int n = snprintf(buf, sizeof buf, "%.17g", v->v.f);
        nb_js_raw(j, buf, (size_t)n);
        if (!strpbrk(buf, ".eE")) nb_js_raw(j, ".0", 2);
      }
      return;
    case NB_VT_STRING:
    case NB_VT_CORELNK:
      nb_js_string(j, (const char *)v->v.bytes.data, v->v.bytes.len);
      return;
    case NB_VT_OPAQUE:
      if (v->v.bytes.len * 2 + 1 > sizeof buf) {
        int n = snprintf(buf, sizeof buf, "[%zu bytes]", v->v.bytes.len);
        nb_js_string(j, buf, (size_t)n);
        return;
      }
      /* fallthrough */
    default:
      if (nb_value_format(v, buf, sizeof buf) != NB_OK)
        nb_js_raw(j, "null", 4);
      else
        nb_js_string(j, buf, strlen(buf));
      return;
  }
}

static void nb_js_values(nb_js *j, const nb_records *recs, const nb_model *model) {
  nb_js_key(j, "values");
  nb_js_raw(j, "[", 1);
  for (size_t i = 0; i < recs->len; i++) {
    const nb_record *r = &recs->items[i];
    nb_js_raw(j, i ? ",{" : "{", i ? 2 : 1);
    j->first = true;
    nb_js_key(j, "path");
    nb_js_path(j, &r->path);
    const nb_resource_def *def =
        model && r->path.len >= 3 ? nb_model_resource(model, r->path.ids[0], r->path.ids[2]) : NULL;
    if (def && def->name) nb_js_kstr(j, "name", def->name);
    nb_js_key(j, "value");
    nb_js_value(j, &r->value);
    nb_js_raw(j, "}", 1);
  }
  nb_js_raw(j, "]", 1);
  j->first = false;
}

static void nb_js_coap(nb_js *j, const nb_mon_event *ev, const nb_model *model) {
  char code[8] = {'"',
                  (char)('0' + NB_COAP_CLASS(ev->code)),
                  '.',
                  (char)('0' + NB_COAP_DETAIL(ev->code) / 10),
                  (char)('0' + NB_COAP_DETAIL(ev->code) % 10),
                  '"'};
  char tok[17] = {0}; /* hex of a token of up to 8 bytes */
  nb_js_kword(j, "coap_type", nb_coap_type_name(ev->type));
  nb_js_key(j, "coap_code");
  nb_js_raw(j, code, 6);
  nb_js_kint(j, "mid", ev->mid);
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < ev->token_len; i++) {
    tok[2 * i] = hex[ev->token[i] >> 4];
    tok[2 * i + 1] = hex[ev->token[i] & 15];
  }
  tok[2 * (size_t)ev->token_len] = 0;
  nb_js_kword(j, "token", tok);
  if (ev->content_format >= 0) nb_js_kint(j, "content_format", ev->content_format);
  nb_js_kint(j, "payload_size", (int64_t)ev->payload_len);
  if (ev->iface) nb_js_kword(j, "interface", ev->iface);
  if (ev->op) nb_js_kword(j, "operation", ev->op);
  nb_js_kbool(j, "response", ev->is_response);
  if (ev->retransmission) nb_js_kbool(j, "retransmission", true);
  if (ev->uri[0]) nb_js_kstr(j, "path", ev->uri);
  if (ev->latency_us >= 0) {
    nb_js_key(j, "latency_ms");
    nb_js_fixed(j, ev->latency_us, 1000, 3);
  }
  if (ev->request_packet) nb_js_kint(j, "request_packet", (int64_t)ev->request_packet);
  if (ev->lifetime >= 0) nb_js_kint(j, "lifetime", ev->lifetime);
  if (ev->query_error[0]) nb_js_kstr(j, "query_error", ev->query_error);
  if (ev->version[0]) nb_js_kstr(j, "lwm2m_version", ev->version);
  if (ev->binding[0]) nb_js_kstr(j, "binding", ev->binding);
  if (ev->objects[0]) nb_js_kstr(j, "objects", ev->objects);
  if (ev->location[0]) nb_js_kstr(j, "location", ev->location);
  if (ev->values) nb_js_values(j, ev->values, model);
  if (ev->decode_error) nb_js_kstr(j, "decode_error", ev->decode_error);
  if (ev->nonconformance) nb_js_kstr(j, "nonconformance", ev->nonconformance);
}

static void nb_js_dtls(nb_js *j, const nb_mon_event *ev) {
  static const char *const ct[] = {"change_cipher_spec", "alert", "handshake", "application_data"};
  unsigned t = ev->dtls_content_type;
  if (t >= 20 && t <= 23)
    nb_js_kword(j, "dtls_content", ct[t - 20]);
  else
    nb_js_kint(j, "dtls_content", t);
  nb_js_kstr(j, "dtls_version",
             ev->dtls_version == 0xfefd   ? "1.2"
             : ev->dtls_version == 0xfeff ? "1.0"
                                          : "other");
  nb_js_kint(j, "epoch", ev->dtls_epoch);
  nb_js_kint(j, "seq", (int64_t)ev->dtls_seq);
  nb_js_kint(j, "record_size", (int64_t)ev->dtls_len);
  if (ev->dtls_handshake >= 0) nb_js_kint(j, "handshake", ev->dtls_handshake);
  if (ev->dtls_detail[0]) nb_js_kstr(j, "detail", ev->dtls_detail);
}

static void nb_js_summary(nb_js *j, const nb_mon_stats *s, const char *error) {
  nb_js_kint(j, "packets", (int64_t)s->packets);
  nb_js_kint(j, "coap", (int64_t)s->coap);
  nb_js_kint(j, "dtls", (int64_t)s->dtls);
  nb_js_kint(j, "fragments", (int64_t)s->fragments);
  nb_js_kint(j, "malformed", (int64_t)s->malformed);
  nb_js_kint(j, "other", (int64_t)s->other);
  nb_js_kint(j, "alerts", (int64_t)s->alerts);
  nb_js_kint(j, "devices", (int64_t)s->devices);
  nb_js_kint(j, "registered", (int64_t)s->registered);
  if (error) nb_js_kstr(j, "capture_error", error);
}

static void nb_js_alert(nb_js *j, const nb_mon_event *ev) {
  nb_js_kword(j, "rule", nb_rule_name(ev->rule));
  nb_js_kword(j, "severity", ev->severity ? ev->severity : "low");
  nb_js_kstr(j, "message", ev->message);
  nb_js_key(j, "evidence");
  nb_js_raw(j, "[", 1);
  for (size_t i = 0; i < ev->evidence_count; i++) {
    if (i) nb_js_raw(j, ",", 1);
    nb_js_u64(j, ev->evidence[i]);
  }
  nb_js_raw(j, "]", 1);
  if (ev->count) {
    nb_js_kint(j, "count", (int64_t)ev->count);
    nb_js_kint(j, "first_packet", (int64_t)ev->first_packet);
    nb_js_kint(j, "last_packet", (int64_t)ev->last_packet);
  }
  if (ev->uri[0]) nb_js_kstr(j, "path", ev->uri);
}

static void nb_js_kind(nb_js *j, const nb_mon_event *ev, const nb_model *model) {
  switch (ev->kind) {
    case NB_MON_EV_MESSAGE:
      nb_js_coap(j, ev, model);
      break;
    case NB_MON_EV_DTLS:
      nb_js_dtls(j, ev);
      break;
    case NB_MON_EV_ALERT:
      nb_js_alert(j, ev);
      break;
    case NB_MON_EV_SUMMARY:
      nb_js_summary(j, &ev->stats, ev->error);
      break;
    case NB_MON_EV_STATE:
      nb_js_kword(j, "state", nb_mon_dev_state_name(ev->state));
      if (ev->location[0]) nb_js_kstr(j, "location", ev->location);
      if (ev->lifetime >= 0) nb_js_kint(j, "lifetime", ev->lifetime);
      break;
    case NB_MON_EV_MALFORMED:
      nb_js_kstr(j, "error", ev->error ? ev->error : "");
      break;
    case NB_MON_EV_FRAGMENT:
      nb_js_kint(j, "fragment_id", ev->frag_id);
      nb_js_kint(j, "fragment_offset", ev->frag_offset);
      nb_js_kbool(j, "more_fragments", ev->frag_more);
      nb_js_kint(j, "size", (int64_t)ev->payload_len);
      break;
  }
}

nb_err nb_mon_event_to_json(const nb_mon_event *ev, const nb_model *model, nb_bytes *out) {
  size_t start = out->len;
  nb_js j = {out, true, nb_bytes_reserve(out, 1024) != NB_OK};
  nb_js_raw(&j, "{", 1);
  nb_js_key(&j, "ts");
  nb_js_fixed(&j, ev->ts_us, 1000000, 6);
  nb_js_kword(&j, "event", nb_mon_event_kind_name(ev->kind));
  if (ev->packet) nb_js_kint(&j, "packet", (int64_t)ev->packet);
  if (ev->src.family) {
    nb_js_key(&j, "src");
    nb_js_ip(&j, &ev->src);
    nb_js_kint(&j, "sport", ev->src.port);
  }
  if (ev->dst.family) {
    nb_js_key(&j, "dst");
    nb_js_ip(&j, &ev->dst);
    nb_js_kint(&j, "dport", ev->dst.port);
  }
  if (ev->transport) nb_js_kword(&j, "transport", ev->transport);
  if (ev->endpoint[0]) nb_js_kstr(&j, "endpoint", ev->endpoint);
  if (ev->identity[0]) nb_js_kstr(&j, "dtls_identity", ev->identity);
  nb_js_kind(&j, ev, model);
  nb_js_raw(&j, "}", 1);
  if (!j.failed) out->data[out->len] = 0;
  if (j.failed) {
    out->len = start;
    if (out->data) out->data[start] = 0;
    return NB_ERR_NOMEM;
  }
  return NB_OK;
}
