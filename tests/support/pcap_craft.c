/* pcap/pcapng writer and frame builder for crafted test traffic. */
#include "pcap_craft.h"

#include <nettle/ccm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nb_pcap_craft {
  FILE *f;
  int linktype;
  bool pcapng;
  bool failed;
  uint64_t frames;
  uint16_t ip_id;
  uint32_t iface, ifaces; /* pcapng: interface of the next frames, interfaces written */
};

static void nb_w16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void nb_w32(uint8_t *p, uint32_t v) {
  nb_w16(p, (uint16_t)(v >> 16));
  nb_w16(p + 2, (uint16_t)v);
}

static void nb_put_le(FILE *f, uint64_t v, int n, bool *failed) {
  uint8_t b[8];
  for (int i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
  if (fwrite(b, 1, (size_t)n, f) != (size_t)n) *failed = true;
}

nb_pcap_craft *nb_craft_open(const char *path, int linktype, bool pcapng) {
  nb_pcap_craft *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->f = fopen(path, "wb");
  if (!c->f) {
    free(c);
    return NULL;
  }
  c->linktype = linktype;
  c->pcapng = pcapng;
  c->ip_id = 0x100;
  if (!pcapng) {
    nb_put_le(c->f, 0xa1b2c3d4u, 4, &c->failed);
    nb_put_le(c->f, 2, 2, &c->failed);
    nb_put_le(c->f, 4, 2, &c->failed);
    nb_put_le(c->f, 0, 4, &c->failed);
    nb_put_le(c->f, 0, 4, &c->failed);
    nb_put_le(c->f, 262144, 4, &c->failed);
    nb_put_le(c->f, (uint32_t)linktype, 4, &c->failed);
  } else {
    /* Section Header Block, then the first interface. */
    nb_put_le(c->f, 0x0a0d0d0au, 4, &c->failed);
    nb_put_le(c->f, 28, 4, &c->failed);
    nb_put_le(c->f, 0x1a2b3c4du, 4, &c->failed);
    nb_put_le(c->f, 1, 2, &c->failed);
    nb_put_le(c->f, 0, 2, &c->failed);
    nb_put_le(c->f, UINT64_MAX, 8, &c->failed);
    nb_put_le(c->f, 28, 4, &c->failed);
    c->ifaces = 0;
    nb_craft_interface(c, linktype);
  }
  return c;
}

nb_err nb_craft_interface(nb_pcap_craft *c, int linktype) {
  if (!c->pcapng) return NB_ERR_UNSUPPORTED;
  /* Interface Description Block without options (microsecond stamps). */
  nb_put_le(c->f, 1, 4, &c->failed);
  nb_put_le(c->f, 20, 4, &c->failed);
  nb_put_le(c->f, (uint32_t)linktype, 2, &c->failed);
  nb_put_le(c->f, 0, 2, &c->failed);
  nb_put_le(c->f, 262144, 4, &c->failed);
  nb_put_le(c->f, 20, 4, &c->failed);
  c->iface = c->ifaces++;
  c->linktype = linktype;
  return c->failed ? NB_ERR_IO : NB_OK;
}

bool nb_craft_close(nb_pcap_craft *c) {
  if (!c) return false;
  bool ok = !c->failed && fclose(c->f) == 0;
  free(c);
  return ok;
}

uint64_t nb_craft_frames(const nb_pcap_craft *c) { return c->frames; }

nb_err nb_craft_frame(nb_pcap_craft *c, int64_t ts_us, const uint8_t *frame, size_t len) {
  uint64_t ts = (uint64_t)ts_us;
  if (!c->pcapng) {
    nb_put_le(c->f, ts / 1000000, 4, &c->failed);
    nb_put_le(c->f, ts % 1000000, 4, &c->failed);
    nb_put_le(c->f, len, 4, &c->failed);
    nb_put_le(c->f, len, 4, &c->failed);
    if (len && fwrite(frame, 1, len, c->f) != len) c->failed = true;
  } else {
    size_t pad = (4 - len % 4) % 4;
    uint32_t total = (uint32_t)(32 + len + pad);
    nb_put_le(c->f, 6, 4, &c->failed);
    nb_put_le(c->f, total, 4, &c->failed);
    nb_put_le(c->f, c->iface, 4, &c->failed);
    nb_put_le(c->f, ts >> 32, 4, &c->failed);
    nb_put_le(c->f, ts & 0xffffffffu, 4, &c->failed);
    nb_put_le(c->f, len, 4, &c->failed);
    nb_put_le(c->f, len, 4, &c->failed);
    if (len && fwrite(frame, 1, len, c->f) != len) c->failed = true;
    nb_put_le(c->f, 0, (int)pad, &c->failed);
    nb_put_le(c->f, total, 4, &c->failed);
  }
  c->frames++;
  return c->failed ? NB_ERR_IO : NB_OK;
}

static uint32_t nb_csum_add(uint32_t sum, const uint8_t *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)((p[i] << 8) | p[i + 1]);
  if (n & 1) sum += (uint32_t)(p[n - 1] << 8);
  return sum;
}
static uint16_t nb_csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* Link-layer header for an IP packet of version v; returns its length. */
static size_t nb_link_header(int linktype, int v, const nb_craft_opts *o, uint8_t *out) {
  uint16_t et = v == 4 ? 0x0800 : 0x86dd;
  switch (linktype) {
    case 1: {
      static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
      memcpy(out, macs, 12);
      if (o && o->vlan) {
        nb_w16(out + 12, 0x8100);
        nb_w16(out + 14, o->vlan & 0x0fff);
        nb_w16(out + 16, et);
        return 18;
      }
      nb_w16(out + 12, et);
      return 14;
    }
    case 113:
      memset(out, 0, 16);
      nb_w16(out + 2, 772); /* ARPHRD_LOOPBACK */
      nb_w16(out + 4, 6);
      nb_w16(out + 14, et);
      return 16;
    case 276:
      memset(out, 0, 20);
      nb_w16(out, et);
      nb_w32(out + 4, 1);
      nb_w16(out + 8, 772);
      out[11] = 6;
      return 20;
    case 0: {
      uint32_t fam = v == 4 ? 2 : 30;
      for (int i = 0; i < 4; i++) out[i] = (uint8_t)(fam >> (8 * i)); /* host order: LE */
      return 4;
    }
    case 108:
      nb_w32(out, v == 4 ? 2 : 24);
      return 4;
    default:
      return 0;
  }
}

typedef struct {
  nb_addr src, dst;
} nb_craft_ends;

static size_t nb_ipv4_header(const nb_craft_ends *e, size_t body, uint16_t id, uint16_t frag,
                             uint8_t *out) {
  memset(out, 0, 20);
  out[0] = 0x45;
  nb_w16(out + 2, (uint16_t)(20 + body));
  nb_w16(out + 4, id);
  nb_w16(out + 6, frag);
  out[8] = 64;
  out[9] = 17;
  memcpy(out + 12, e->src.ip, 4);
  memcpy(out + 16, e->dst.ip, 4);
  nb_w16(out + 10, nb_csum_fold(nb_csum_add(0, out, 20)));
  return 20;
}

/* IPv6 header plus optional extension headers and fragment header; returns the length. */
static size_t nb_ipv6_header(const nb_craft_ends *e, size_t body, const nb_craft_opts *o, bool frag,
                             uint16_t frag_field, uint32_t id, uint8_t *out) {
  size_t ext = (o && o->ipv6_ext) ? 16 : 0;
  size_t fh = frag ? 8 : 0;
  memset(out, 0, 40 + ext + fh);
  out[0] = 0x60;
  nb_w16(out + 4, (uint16_t)(ext + fh + body));
  out[7] = 64;
  memcpy(out + 8, e->src.ip, 16);
  memcpy(out + 24, e->dst.ip, 16);
  uint8_t *next = out + 6;
  uint8_t *p = out + 40;
  if (ext) {
    *next = 0; /* hop-by-hop: PadN filling 6 bytes */
    p[2] = 1;
    p[3] = 4;
    next = p;
    p += 8;
    *next = 60; /* destination options */
    p[2] = 1;
    p[3] = 4;
    next = p;
    p += 8;
  }
  if (frag) {
    *next = 44;
    nb_w16(p + 2, frag_field);
    nb_w32(p + 4, id);
    next = p;
    p += 8;
  }
  *next = 17;
  return (size_t)(p - out);
}

static size_t nb_udp_build(const nb_craft_ends *e, const uint8_t *payload, size_t len,
                           uint8_t *out) {
  nb_w16(out, e->src.port);
  nb_w16(out + 2, e->dst.port);
  nb_w16(out + 4, (uint16_t)(8 + len));
  nb_w16(out + 6, 0);
  memcpy(out + 8, payload, len);
  size_t iplen = e->src.family == NB_ADDR_V4 ? 4 : 16;
  uint32_t sum = nb_csum_add(0, e->src.ip, iplen);
  sum = nb_csum_add(sum, e->dst.ip, iplen);
  sum += 17 + (uint32_t)(8 + len);
  sum = nb_csum_add(sum, out, 8 + len);
  uint16_t c = nb_csum_fold(sum);
  nb_w16(out + 6, c ? c : 0xffff);
  return 8 + len;
}

static nb_err nb_ends(const char *src, const char *dst, nb_craft_ends *e) {
  if (nb_addr_parse(src, 0, &e->src) || nb_addr_parse(dst, 0, &e->dst)) return NB_ERR_INVAL;
  if (e->src.family != e->dst.family) return NB_ERR_INVAL;
  return NB_OK;
}

/* One IP packet (whole or a fragment) wrapped in the link header. */
static nb_err nb_frame_one(int linktype, const nb_craft_ends *e, const uint8_t *body, size_t len,
                           const nb_craft_opts *o, bool frag, uint32_t off, bool more, uint16_t id,
                           uint8_t *out, size_t cap, size_t *out_len) {
  if (cap < 128 + len) return NB_ERR_OVERFLOW;
  int v = e->src.family == NB_ADDR_V4 ? 4 : 6;
  size_t n = nb_link_header(linktype, v, o, out);
  if (v == 4)
    n += nb_ipv4_header(e, len, id, frag ? (uint16_t)((off / 8) | (more ? 0x2000 : 0)) : 0x4000,
                        out + n);
  else
    n += nb_ipv6_header(e, len, o, frag, (uint16_t)(off | (more ? 1 : 0)), id, out + n);
  memcpy(out + n, body, len);
  *out_len = n + len;
  return NB_OK;
}

nb_err nb_craft_build(int linktype, const char *src, const char *dst, const uint8_t *payload,
                      size_t len, const nb_craft_opts *opts, uint8_t *out, size_t cap,
                      size_t *out_len) {
  nb_craft_ends e;
  if (nb_ends(src, dst, &e) || len > 65000) return NB_ERR_INVAL;
  uint8_t *udp = malloc(len + 8);
  if (!udp) return NB_ERR_NOMEM;
  size_t ulen = nb_udp_build(&e, payload, len, udp);
  nb_err err = nb_frame_one(linktype, &e, udp, ulen, opts, false, 0, false, 1, out, cap, out_len);
  free(udp);
  return err;
}

nb_err nb_craft_udp(nb_pcap_craft *c, int64_t ts_us, const char *src, const char *dst,
                    const uint8_t *payload, size_t len, const nb_craft_opts *opts) {
  nb_craft_ends e;
  if (nb_ends(src, dst, &e) || len > 65000) return NB_ERR_INVAL;
  uint8_t *udp = malloc(len + 8), *frame = malloc(len + 8 + 256);
  nb_err err = NB_ERR_NOMEM;
  if (!udp || !frame) goto out;
  size_t ulen = nb_udp_build(&e, payload, len, udp);
  size_t step = opts && opts->frag_size ? (opts->frag_size & ~(size_t)7) : 0;
  uint16_t id = c->ip_id++;
  if (!step || step >= ulen) {
    size_t flen;
    err = nb_frame_one(c->linktype, &e, udp, ulen, opts, false, 0, false, id, frame, len + 264,
                       &flen);
    if (!err) err = nb_craft_frame(c, ts_us, frame, flen);
    goto out;
  }
  for (size_t off = 0; off < ulen; off += step) {
    size_t n = ulen - off < step ? ulen - off : step;
    size_t flen;
    err = nb_frame_one(c->linktype, &e, udp + off, n, opts, true, (uint32_t)off, off + n < ulen, id,
                       frame, len + 264, &flen);
    if (!err) err = nb_craft_frame(c, ts_us, frame, flen);
    if (err) break;
  }
out:
  free(udp);
  free(frame);
  return err;
}

nb_err nb_craft_coap(nb_pcap_craft *c, int64_t ts_us, const char *src, const char *dst,
                     const nb_coap_msg *msg, const nb_craft_opts *opts) {
  uint8_t buf[4096];
  size_t n;
  nb_err e = nb_coap_serialize(msg, buf, sizeof buf, &n);
  if (e) return e;
  return nb_craft_udp(c, ts_us, src, dst, buf, n, opts);
}

void nb_craft_msg(nb_coap_msg *msg, uint8_t type, uint8_t code, uint16_t mid, uint32_t token,
                  const char *path, const char *query, int cf, const void *payload, size_t len) {
  nb_coap_msg_init(msg, type, code, mid);
  if (code != NB_COAP_EMPTY) {
    uint8_t t[4] = {(uint8_t)(token >> 24), (uint8_t)(token >> 16), (uint8_t)(token >> 8),
                    (uint8_t)token};
    size_t tl = token > 0xffffff ? 4 : token > 0xffff ? 3 : token > 0xff ? 2 : 1;
    nb_coap_msg_set_token(msg, t + 4 - tl, tl);
  }
  if (path) nb_coap_msg_add_path(msg, NB_COAP_OPT_URI_PATH, path);
  if (cf >= 0) nb_coap_msg_add_uint(msg, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
  while (query && *query) {
    char q[128];
    size_t n = strcspn(query, "&");
    if (n >= sizeof q) n = sizeof q - 1;
    memcpy(q, query, n);
    q[n] = 0;
    nb_coap_msg_add_query(msg, NB_COAP_OPT_URI_QUERY, q);
    query += n;
    if (*query == '&') query++;
  }
  if (len) nb_coap_msg_set_payload(msg, payload, len);
}

/* ---- conversations ---- */

uint64_t nb_craft_exchange(nb_craft_session *s, const char *from, const char *to, uint8_t code,
                           const char *path, const char *query, int cf, const void *payload,
                           size_t len, uint8_t rcode, int rcf, const void *rpayload, size_t rlen,
                           const char *location, int observe) {
  static nb_coap_msg msg; /* large: keep off the stack */
  uint16_t mid = ++s->mid;
  uint32_t token = ++s->token;
  nb_craft_msg(&msg, NB_COAP_CON, code, mid, token, path, query, cf, payload, len);
  if (code == NB_COAP_GET && observe >= 0) nb_coap_msg_add_uint(&msg, NB_COAP_OPT_OBSERVE, 0);
  nb_craft_coap(s->c, s->t_us, from, to, &msg, s->opts);
  uint64_t frame = nb_craft_frames(s->c);
  s->t_us += 10000;
  if (rcode) {
    nb_craft_msg(&msg, NB_COAP_ACK, rcode, mid, token, NULL, NULL, rcf, rpayload, rlen);
    if (observe >= 0) nb_coap_msg_add_uint(&msg, NB_COAP_OPT_OBSERVE, (uint32_t)observe);
    if (location) nb_coap_msg_add_path(&msg, NB_COAP_OPT_LOCATION_PATH, location);
    nb_craft_coap(s->c, s->t_us, to, from, &msg, s->opts);
  }
  s->t_us += 90000;
  return frame;
}

static int nb_hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static nb_err nb_craft_pair(nb_records *recs, const char *item) {
  const char *eq = strchr(item, '=');
  if (!eq || eq[1] == 0 || eq[2] != ':') return NB_ERR_SYNTAX;
  nb_path p;
  nb_err e = nb_path_parse_n(item, (size_t)(eq - item), &p);
  if (e) return e;
  const char *v = eq + 3;
  nb_value val = nb_value_none();
  switch (eq[1]) {
    case 's':
      e = nb_value_set_string(&val, v, strlen(v));
      break;
    case 'i':
      val = nb_value_int(strtoll(v, NULL, 10));
      break;
    case 'b':
      val = nb_value_bool(*v == '1');
      break;
    case 'h': {
      uint8_t bytes[256];
      size_t n = 0;
      for (; v[0] && v[1] && n < sizeof bytes; v += 2) {
        int hi = nb_hexval(v[0]), lo = nb_hexval(v[1]);
        if (hi < 0 || lo < 0) return NB_ERR_SYNTAX;
        bytes[n++] = (uint8_t)(hi * 16 + lo);
      }
      e = nb_value_set_opaque(&val, bytes, n);
      break;
    }
    default:
      return NB_ERR_SYNTAX;
  }
  if (e) return e;
  return nb_records_add(recs, &p, &val);
}

uint8_t *nb_craft_payload(int cf, const char *base, const char *pairs, size_t *len) {
  nb_records recs;
  nb_records_init(&recs);
  nb_err e = NB_OK;
  char item[512];
  while (!e && *pairs) {
    size_t n = strcspn(pairs, ";");
    if (n >= sizeof item) e = NB_ERR_SYNTAX;
    if (e) break;
    memcpy(item, pairs, n);
    item[n] = 0;
    e = nb_craft_pair(&recs, item);
    pairs += n;
    if (*pairs == ';') pairs++;
  }
  nb_path b;
  if (!e) e = nb_path_parse(base, &b);
  nb_bytes out;
  nb_bytes_init(&out);
  nb_model *model = nb_model_new();
  if (!e) e = model ? nb_format_encode(cf, &recs, &b, model, &out, NULL, NULL) : NB_ERR_NOMEM;
  nb_model_free(model);
  nb_records_deinit(&recs);
  if (e) {
    nb_bytes_free(&out);
    return NULL;
  }
  uint8_t *data = nb_bytes_steal(&out, len);
  if (!data) data = calloc(1, 1);
  return data;
}

/* ---- DTLS ---- */

static size_t nb_dtls_wrap(uint8_t *out, uint8_t type, uint16_t epoch, uint64_t seq,
                           size_t body_len) {
  out[0] = type;
  nb_w16(out + 1, 0xfefd);
  nb_w16(out + 3, epoch);
  nb_w16(out + 5, (uint16_t)(seq >> 32));
  nb_w32(out + 7, (uint32_t)seq);
  nb_w16(out + 11, (uint16_t)body_len);
  return 13 + body_len;
}

static size_t nb_dtls_hs(uint8_t *out, uint64_t seq, uint8_t hs_type, const uint8_t *body,
                         size_t n) {
  uint8_t *h = out + 13;
  h[0] = hs_type;
  h[1] = (uint8_t)(n >> 16);
  nb_w16(h + 2, (uint16_t)n);
  nb_w16(h + 4, (uint16_t)seq);
  memset(h + 6, 0, 3);
  h[9] = (uint8_t)(n >> 16);
  nb_w16(h + 10, (uint16_t)n);
  memcpy(h + 12, body, n);
  return nb_dtls_wrap(out, 22, 0, seq, 12 + n);
}

size_t nb_craft_dtls_client_hello(uint8_t *out, uint64_t seq, size_t cookie_len,
                                  const uint16_t *suites, size_t n) {
  uint8_t body[512];
  size_t k = 0;
  nb_w16(body, 0xfefd);
  k = 2;
  for (int i = 0; i < 32; i++) body[k++] = (uint8_t)(i * 7);
  body[k++] = 0;
  body[k++] = (uint8_t)cookie_len;
  for (size_t i = 0; i < cookie_len; i++) body[k++] = (uint8_t)(0xc0 + i);
  nb_w16(body + k, (uint16_t)(2 * n));
  k += 2;
  for (size_t i = 0; i < n; i++, k += 2) nb_w16(body + k, suites[i]);
  body[k++] = 1;
  body[k++] = 0;
  return nb_dtls_hs(out, seq, 1, body, k);
}

size_t nb_craft_dtls_server_hello(uint8_t *out, uint64_t seq, uint16_t suite, int cert_type) {
  uint8_t body[128];
  size_t k = 0;
  nb_w16(body, 0xfefd);
  k = 2;
  for (int i = 0; i < 32; i++) body[k++] = (uint8_t)(i * 3);
  body[k++] = 0;
  nb_w16(body + k, suite);
  k += 2;
  body[k++] = 0;
  if (cert_type >= 0) {
    nb_w16(body + k, 5);
    nb_w16(body + k + 2, 20);
    nb_w16(body + k + 4, 1);
    body[k + 6] = (uint8_t)cert_type;
    k += 7;
  }
  return nb_dtls_hs(out, seq, 2, body, k);
}

size_t nb_craft_dtls_psk_cke(uint8_t *out, uint64_t seq, const char *identity) {
  uint8_t body[300];
  size_t n = strlen(identity);
  if (n > 256) n = 256;
  nb_w16(body, (uint16_t)n);
  memcpy(body + 2, identity, n);
  return nb_dtls_hs(out, seq, 16, body, n + 2);
}

size_t nb_craft_dtls_certificate(uint8_t *out, uint64_t seq, const uint8_t *der, size_t len,
                                 bool x509) {
  static uint8_t body[4096];
  size_t k = 0, total = len + (x509 ? 3 : 0);
  if (total + 3 > sizeof body) return 0;
  body[k++] = (uint8_t)(total >> 16);
  nb_w16(body + k, (uint16_t)total);
  k += 2;
  if (x509) {
    body[k++] = (uint8_t)(len >> 16);
    nb_w16(body + k, (uint16_t)len);
    k += 2;
  }
  memcpy(body + k, der, len);
  return nb_dtls_hs(out, seq, 11, body, k + len);
}

size_t nb_craft_dtls_ccm8(uint8_t *out, uint8_t type, uint16_t epoch, uint64_t seq,
                          const uint8_t key[16], const uint8_t iv[4], const uint8_t *plain,
                          size_t n) {
  uint8_t explicit_nonce[8], nonce[12], ad[13];
  nb_w16(explicit_nonce, epoch);
  nb_w16(explicit_nonce + 2, (uint16_t)(seq >> 32));
  nb_w32(explicit_nonce + 4, (uint32_t)seq);
  memcpy(nonce, iv, 4);
  memcpy(nonce + 4, explicit_nonce, 8);
  memcpy(ad, explicit_nonce, 8);
  ad[8] = type;
  nb_w16(ad + 9, 0xfefd);
  nb_w16(ad + 11, (uint16_t)n);
  struct ccm_aes128_ctx ctx;
  ccm_aes128_set_key(&ctx, key);
  memcpy(out + 13, explicit_nonce, 8);
  ccm_aes128_encrypt_message(&ctx, sizeof nonce, nonce, sizeof ad, ad, 8, n + 8, out + 21, plain);
  return nb_dtls_wrap(out, type, epoch, seq, 8 + n + 8);
}

size_t nb_craft_dtls_alert(uint8_t *out, uint16_t epoch, uint64_t seq, uint8_t level,
                           uint8_t desc) {
  if (epoch == 0) {
    out[13] = level;
    out[14] = desc;
    return nb_dtls_wrap(out, 21, 0, seq, 2);
  }
  for (int i = 0; i < 26; i++) out[13 + i] = (uint8_t)(i * 11 + desc);
  return nb_dtls_wrap(out, 21, epoch, seq, 26);
}
