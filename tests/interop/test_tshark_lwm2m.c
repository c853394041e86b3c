/* Interop with Wireshark's dissectors (tshark 4.0): TLV, SenML JSON and SenML CBOR payloads we
 * encode are carried in CoAP requests (built with the nb_coap_msg builder, Content-Format set),
 * written into a classic pcap file (raw IPv4 + UDP to port 5683) and read back with
 * `tshark -T pdml`; tshark must decode them to the values we encoded: through the lwm2mtlv
 * dissector's typed per-resource fields for TLV, and the json/cbor dissectors for SenML.
 * Skips when tshark is missing. Everything happens in a temporary directory, offline. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "coap/msg.h"
#include "lwm2m/format.h"
#include "lwm2m/model.h"
#include "nb_test.h"

/* ---- pcap writing (classic format, LINKTYPE_RAW: each record is an IPv4 packet) ---- */

static void put_le32(uint8_t *p, uint32_t v) {
  for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k));
}

static void put_le16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

static void put_be16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void pcap_header(FILE *f) {
  uint8_t h[24];
  put_le32(h, 0xa1b2c3d4); /* microsecond timestamps, written little-endian */
  put_le16(h + 4, 2);
  put_le16(h + 6, 4);
  put_le32(h + 8, 0);  /* thiszone */
  put_le32(h + 12, 0); /* sigfigs */
  put_le32(h + 16, 65535);
  put_le32(h + 20, 101); /* LINKTYPE_RAW */
  assert_int_equal(fwrite(h, 1, sizeof h, f), sizeof h);
}

static uint16_t ip_checksum(const uint8_t *h, size_t n) {
  uint32_t sum = 0;
  for (size_t k = 0; k < n; k += 2) sum += (uint32_t)h[k] << 8 | h[k + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* One record: IPv4 127.0.0.1 -> 127.0.0.1, UDP 56830 -> 5683, the CoAP datagram. */
static void pcap_udp(FILE *f, uint32_t ts, const uint8_t *dgram, size_t len) {
  size_t total = 20 + 8 + len;
  uint8_t *pkt = calloc(1, total);
  assert_non_null(pkt);
  pkt[0] = 0x45;
  put_be16(pkt + 2, (uint16_t)total);
  put_be16(pkt + 4, (uint16_t)ts);
  pkt[8] = 64;
  pkt[9] = 17;
  pkt[12] = pkt[16] = 127;
  pkt[15] = pkt[19] = 1;
  put_be16(pkt + 10, ip_checksum(pkt, 20));
  put_be16(pkt + 20, 56830);
  put_be16(pkt + 22, 5683);
  put_be16(pkt + 24, (uint16_t)(8 + len)); /* checksum 0: none, as IPv4 allows */
  memcpy(pkt + 28, dgram, len);
  uint8_t rec[16];
  put_le32(rec, 1700000000u + ts);
  put_le32(rec + 4, 0);
  put_le32(rec + 8, (uint32_t)total);
  put_le32(rec + 12, (uint32_t)total);
  assert_int_equal(fwrite(rec, 1, sizeof rec, f), sizeof rec);
  assert_int_equal(fwrite(pkt, 1, total, f), total);
  free(pkt);
}

/* A confirmable PUT of `payload` to `path` with its Content-Format, into the pcap. */
static void pcap_put(FILE *f, uint16_t mid, const char *path, int cf, const nb_bytes *payload) {
  nb_coap_msg msg;
  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_PUT, mid);
  uint8_t token[2] = {0x4e, (uint8_t)mid};
  assert_int_equal(nb_coap_msg_set_token(&msg, token, sizeof token), NB_OK);
  assert_int_equal(nb_coap_msg_add_path(&msg, NB_COAP_OPT_URI_PATH, path), NB_OK);
  assert_int_equal(nb_coap_msg_add_uint(&msg, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)cf), NB_OK);
  nb_coap_msg_set_payload(&msg, payload->data, payload->len);
  uint8_t dgram[4096];
  size_t len = 0;
  assert_int_equal(nb_coap_serialize(&msg, dgram, sizeof dgram, &len), NB_OK);
  pcap_udp(f, mid, dgram, len);
}

/* ---- PDML reading: per packet, its fields in document order ---- */

typedef struct {
  char *name;
  char *show;
  char *showname;
} pdml_field;

typedef struct {
  pdml_field *f;
  size_t n;
} pdml_packet;

/* The XML attribute `attr` of the element starting at tag (before its '>'), unescaped. */
static char *pdml_attr(const char *tag, const char *end, const char *attr) {
  char key[32];
  snprintf(key, sizeof key, " %s=\"", attr);
  const char *p = strstr(tag, key);
  if (!p || p > end) return strdup("");
  p += strlen(key);
  const char *q = strchr(p, '"');
  char *out = malloc((size_t)(q - p) + 1);
  size_t n = 0;
  while (p < q) {
    if (*p == '&') {
      static const struct {
        const char *ent;
        char c;
      } ents[] = {{"&quot;", '"'}, {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&apos;", '\''}};
      bool done = false;
      for (size_t k = 0; k < 5 && !done; k++) {
        size_t l = strlen(ents[k].ent);
        if (!strncmp(p, ents[k].ent, l)) out[n++] = ents[k].c, p += l, done = true;
      }
      if (!done && p[1] == '#') {
        char *e;
        long v = p[2] == 'x' ? strtol(p + 3, &e, 16) : strtol(p + 2, &e, 10);
        out[n++] = (char)v;
        p = e + 1;
        done = true;
      }
      if (!done) out[n++] = *p++;
    } else {
      out[n++] = *p++;
    }
  }
  out[n] = '\0';
  return out;
}

static size_t pdml_parse(const char *xml, pdml_packet *pkts, size_t cap) {
  size_t count = 0;
  const char *p = xml;
  while ((p = strstr(p, "<packet>")) && count < cap) {
    const char *end = strstr(p, "</packet>");
    assert_non_null(end);
    pdml_packet *pk = &pkts[count++];
    pk->f = NULL;
    pk->n = 0;
    size_t fcap = 0;
    for (const char *t = strstr(p, "<field "); t && t < end; t = strstr(t + 1, "<field ")) {
      const char *tend = strchr(t, '>');
      if (pk->n == fcap) {
        fcap = fcap ? fcap * 2 : 64;
        pk->f = realloc(pk->f, fcap * sizeof *pk->f);
        assert_non_null(pk->f);
      }
      pdml_field *f = &pk->f[pk->n++];
      f->name = pdml_attr(t, tend, "name");
      f->show = pdml_attr(t, tend, "show");
      f->showname = pdml_attr(t, tend, "showname");
    }
    p = end;
  }
  return count;
}

static void pdml_free(pdml_packet *pkts, size_t n) {
  for (size_t k = 0; k < n; k++) {
    for (size_t j = 0; j < pkts[k].n; j++) {
      free(pkts[k].f[j].name);
      free(pkts[k].f[j].show);
      free(pkts[k].f[j].showname);
    }
    free(pkts[k].f);
  }
}

/* The shows of every field called `name` in the packet, in order. */
static size_t pdml_values(const pdml_packet *pk, const char *name, const char **out, size_t cap) {
  size_t n = 0;
  for (size_t k = 0; k < pk->n && n < cap; k++) {
    if (!strcmp(pk->f[k].name, name)) out[n++] = pk->f[k].show;
  }
  return n;
}

/* ---- fixtures ---- */

static nb_model *model;
static char dir[64];
static char pcap_path[128];
static pdml_packet packets[16];
static size_t packet_count;

static void add(nb_records *r, const char *path, nb_value v) {
  nb_path p;
  assert_int_equal(nb_path_parse(path, &p), NB_OK);
  assert_int_equal(nb_records_add(r, &p, &v), NB_OK);
}

static void add_str(nb_records *r, const char *path, const char *s) {
  nb_value v = nb_value_none();
  assert_int_equal(nb_value_set_string(&v, s, strlen(s)), NB_OK);
  add(r, path, v);
}

static void device_records(nb_records *r) {
  add_str(r, "/3/0/0", "Open Mobile Alliance");
  add_str(r, "/3/0/1", "Lightweight M2M Client");
  add_str(r, "/3/0/2", "345000123");
  add_str(r, "/3/0/3", "1.0");
  add(r, "/3/0/6/0", nb_value_int(1));
  add(r, "/3/0/6/1", nb_value_int(5));
  add(r, "/3/0/7/0", nb_value_int(3800));
  add(r, "/3/0/7/1", nb_value_int(5000));
  add(r, "/3/0/8/0", nb_value_int(125));
  add(r, "/3/0/8/1", nb_value_int(900));
  add(r, "/3/0/9", nb_value_int(100));
  add(r, "/3/0/10", nb_value_int(15));
  add(r, "/3/0/11/0", nb_value_int(0));
  add(r, "/3/0/13", nb_value_time(1367491215));
  add_str(r, "/3/0/14", "+02:00");
  add_str(r, "/3/0/16", "U");
}

static void server_records(nb_records *r) {
  add(r, "/1/0/0", nb_value_int(101));
  add(r, "/1/0/1", nb_value_int(86400));
  add(r, "/1/0/2", nb_value_int(-1)); /* a negative value: sign extension */
  add(r, "/1/0/6", nb_value_bool(true));
  add_str(r, "/1/0/7", "UQ");
  add(r, "/1/0/11", nb_value_uint(200)); /* Unsigned: one byte 0xC8, not -56 */
}

static void location_records(nb_records *r) {
  add(r, "/6/0/0", nb_value_float(48.5));   /* exact in 4 bytes */
  add(r, "/6/0/1", nb_value_float(2.2945)); /* needs 8 bytes */
  add(r, "/6/0/2", nb_value_float(-12.25));
  add(r, "/6/0/5", nb_value_time(1700000000));
}

/* Types Wireshark has no object definition for: checked through the generic json/cbor trees. */
static void typed_records(nb_records *r) {
  add(r, "/65000/0/0", nb_value_int(-70000));
  add(r, "/65000/0/1", nb_value_uint(4000000000u));
  add(r, "/65000/0/2", nb_value_float(1.5));
  add(r, "/65000/0/12/0", nb_value_float(100000.0));
  add(r, "/65000/0/12/1", nb_value_float(0.1));
  add(r, "/65000/0/3", nb_value_bool(true));
  add_str(r, "/65000/0/4", "quote \" backslash \\ caf\xc3\xa9");
  nb_value v = nb_value_none();
  assert_int_equal(nb_value_set_opaque(&v, (const uint8_t *)"\x01\x02\xfe\xff", 4), NB_OK);
  add(r, "/65000/0/5", v);
  add(r, "/65000/0/7", nb_value_objlnk(3, 0));
}

static void encode(int cf, const nb_records *r, const char *base, nb_bytes *out) {
  nb_path p;
  assert_int_equal(nb_path_parse(base, &p), NB_OK);
  uint8_t code;
  const char *reason = NULL;
  nb_err e = nb_format_encode(cf, r, &p, model, out, &code, &reason);
  if (e != NB_OK) fprintf(stderr, "encode: %s\n", reason);
  assert_int_equal(e, NB_OK);
}

enum {
  F_TLV_DEVICE,
  F_TLV_SERVER,
  F_TLV_LOCATION,
  F_SJ_DEVICE,
  F_SC_DEVICE,
  F_SJ_TYPED,
  F_SC_TYPED,
  F_COUNT
};

typedef struct {
  int cf;
  const char *base;
  void (*fill)(nb_records *);
} frame_def;

static const frame_def frames[F_COUNT] = {
    {NB_COAP_CF_LWM2M_TLV, "/3/0", device_records},
    {NB_COAP_CF_LWM2M_TLV, "/1/0", server_records},
    {NB_COAP_CF_LWM2M_TLV, "/6/0", location_records},
    {NB_COAP_CF_SENML_JSON, "/3/0", device_records},
    {NB_COAP_CF_SENML_CBOR, "/3/0", device_records},
    {NB_COAP_CF_SENML_JSON, "/", typed_records},
    {NB_COAP_CF_SENML_CBOR, "/65000/0", typed_records},
};

static int setup(void **state) {
  (void)state;
  if (!nb_test_have_program("tshark")) return 0;
  model = nb_model_new();
  snprintf(dir, sizeof dir, "/tmp/nb-tshark.XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(pcap_path, sizeof pcap_path, "%s/lwm2m.pcap", dir);
  FILE *f = fopen(pcap_path, "wb");
  if (!f) return -1;
  pcap_header(f);
  for (int k = 0; k < F_COUNT; k++) {
    nb_records r;
    nb_records_init(&r);
    frames[k].fill(&r);
    nb_bytes b;
    nb_bytes_init(&b);
    encode(frames[k].cf, &r, frames[k].base, &b);
    pcap_put(f, (uint16_t)(k + 1), frames[k].base, frames[k].cf, &b);
    nb_bytes_free(&b);
    nb_records_deinit(&r);
  }
  fclose(f);
  char *argv[] = {"tshark", "-n", "-r", pcap_path, "-T", "pdml", NULL};
  char *out = NULL, *err = NULL;
  int rc = nb_test_run_capture(argv, 120000, &out, &err);
  if (rc != 0) fprintf(stderr, "tshark failed (%d): %s\n", rc, err ? err : "");
  if (rc == 0) packet_count = pdml_parse(out, packets, 16);
  free(out);
  free(err);
  return rc == 0 ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  pdml_free(packets, packet_count);
  if (model) nb_model_free(model);
  if (pcap_path[0]) unlink(pcap_path);
  if (dir[0]) rmdir(dir);
  return 0;
}

static void require_tshark(void) {
  if (!nb_test_have_program("tshark")) {
    fprintf(stderr, "skipped: tshark not installed (Debian package tshark)\n");
    skip();
  }
  assert_int_equal(packet_count, F_COUNT);
}

/* ---- expectations ---- */

/* Wireshark's field name for a resource: "lwm2mtlv.resource." + lower-case name with '_' for
 * ' ' and '-' ("TLS-DTLS Alert Code" is tls_dtls_alert_code). */
static void wireshark_field(const nb_resource_def *def, char *buf, size_t cap) {
  size_t n = (size_t)snprintf(buf, cap, "lwm2mtlv.resource.");
  for (const char *c = def->name; *c && n + 1 < cap; c++) {
    buf[n++] =
        (*c == ' ' || *c == '-') ? '_' : (char)((*c >= 'A' && *c <= 'Z') ? *c - 'A' + 'a' : *c);
  }
  buf[n] = '\0';
}

/* Whether tshark's text for a typed TLV field says the same as our value. */
static bool same_as_tshark(const nb_value *v, const char *show) {
  char buf[128];
  struct tm tm;
  time_t t;
  switch (v->type) {
    case NB_VT_STRING:
      return strlen(show) == v->v.bytes.len && !memcmp(show, v->v.bytes.data, v->v.bytes.len);
    case NB_VT_INT:
      return strtoll(show, NULL, 10) == v->v.i && show[0];
    case NB_VT_UINT:
      return strtoull(show, NULL, 10) == v->v.u && show[0];
    case NB_VT_BOOL:
      return !strcmp(show, v->v.b ? "1" : "0") || !strcasecmp(show, v->v.b ? "true" : "false");
    case NB_VT_FLOAT: {
      /* FT_FLOAT fields show 7 significant digits; 8-byte values must not be cut to 4. */
      double d = strtod(show, NULL);
      return show[0] && fabs(d - v->v.f) <= 1e-6 * fabs(v->v.f);
    }
    case NB_VT_TIME:
      t = (time_t)v->v.t;
      gmtime_r(&t, &tm);
      strftime(buf, sizeof buf, "%b %e, %Y %H:%M:%S.000000000 UTC", &tm);
      return !strcmp(show, buf);
    default:
      return false;
  }
}

/* Every record of a TLV frame appears, typed, in the lwm2mtlv dissector's resource fields. */
static void check_tlv_frame(int frame) {
  require_tshark();
  const pdml_packet *pk = &packets[frame];
  const char *protos[1] = {NULL};
  assert_int_equal(pdml_values(pk, "frame.protocols", protos, 1), 1);
  assert_non_null(strstr(protos[0], "lwm2mtlv"));
  nb_records r;
  nb_records_init(&r);
  frames[frame].fill(&r);
  size_t k = 0;
  while (k < r.len) {
    const nb_path *p = &r.items[k].path;
    const nb_resource_def *def = nb_model_resource(model, p->ids[0], p->ids[2]);
    assert_non_null(def);
    char field[128];
    wireshark_field(def, field, sizeof field);
    const char *shows[16];
    size_t n = pdml_values(pk, field, shows, 16);
    /* The records of one resource (its instances) are consecutive in our lists. */
    size_t j = 0;
    for (; k + j < r.len && r.items[k + j].path.ids[2] == p->ids[2]; j++) {
      if (j >= n || !same_as_tshark(&r.items[k + j].value, shows[j])) {
        char buf[64] = "";
        nb_value_format(&r.items[k + j].value, buf, sizeof buf);
        fail_msg("%s[%zu]: tshark shows '%s', we encoded %s", field, j, j < n ? shows[j] : "(none)",
                 buf);
      }
    }
    assert_int_equal(n, j);
    k += j;
  }
  /* No dissector complaint anywhere in the packet. */
  for (size_t f = 0; f < pk->n; f++) assert_null(strstr(pk->f[f].name, "_ws.expert"));
  nb_records_deinit(&r);
}

static void test_tlv_device(void **state) {
  (void)state;
  check_tlv_frame(F_TLV_DEVICE);
}

static void test_tlv_server(void **state) {
  (void)state;
  check_tlv_frame(F_TLV_SERVER);
}

static void test_tlv_location(void **state) {
  (void)state;
  check_tlv_frame(F_TLV_LOCATION);
}

/* A record rebuilt from what a dissector shows: name (bn + n) and the value as text. */
typedef struct {
  char name[64];
  char key[8];
  char value[256];
} seen_record;

static void base64url(const nb_value *v, char *out, size_t cap) {
  static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t n = 0, k = 0, len = v->v.bytes.len;
  const uint8_t *d = v->v.bytes.data;
  for (; k + 3 <= len && n + 5 < cap; k += 3) {
    uint32_t x = (uint32_t)d[k] << 16 | (uint32_t)d[k + 1] << 8 | d[k + 2];
    for (int s = 18; s >= 0; s -= 6) out[n++] = a[(x >> s) & 63];
  }
  if (len - k == 1) out[n++] = a[d[k] >> 2], out[n++] = a[(d[k] & 3) << 4];
  if (len - k == 2) {
    out[n++] = a[d[k] >> 2];
    out[n++] = a[((d[k] & 3) << 4) | d[k + 1] >> 4];
    out[n++] = a[(d[k + 1] & 15) << 2];
  }
  out[n] = '\0';
}

/* Compares the records a dissector showed with ours: same paths in order, same values. */
static void check_seen(const seen_record *seen, size_t n, const nb_records *r) {
  assert_int_equal(n, r->len);
  for (size_t k = 0; k < n; k++) {
    nb_path p;
    if (nb_path_parse(seen[k].name, &p) != NB_OK || !nb_path_equal(&p, &r->items[k].path)) {
      fail_msg("record %zu: tshark shows name '%s'", k, seen[k].name);
    }
    const nb_value *v = &r->items[k].value;
    char want[256];
    const char *key;
    switch (v->type) {
      case NB_VT_STRING:
        key = "vs";
        snprintf(want, sizeof want, "%s", (const char *)v->v.bytes.data);
        break;
      case NB_VT_OPAQUE:
        key = "vd";
        base64url(v, want, sizeof want);
        break;
      case NB_VT_BOOL:
        key = "vb";
        snprintf(want, sizeof want, "%s", v->v.b ? "true" : "false");
        break;
      case NB_VT_OBJLNK:
        key = "vlo";
        snprintf(want, sizeof want, "%u:%u", (unsigned)v->v.lnk.obj, (unsigned)v->v.lnk.inst);
        break;
      default:
        key = "v";
        nb_value_format(v, want, sizeof want);
        break;
    }
    if (strcmp(seen[k].key, key) != 0)
      fail_msg("record %s: key %s, want %s", seen[k].name, seen[k].key, key);
    bool same = !strcmp(seen[k].value, want);
    if (!same && v->type == NB_VT_FLOAT) same = strtod(seen[k].value, NULL) == v->v.f;
    if (!same && v->type == NB_VT_OPAQUE) { /* the CBOR dissector shows bytes as "01:02:fe" */
      char hex[256] = "";
      size_t pos = 0;
      for (size_t j = 0; j < v->v.bytes.len && j < 80; j++) {
        pos +=
            (size_t)snprintf(hex + pos, sizeof hex - pos, j ? ":%02x" : "%02x", v->v.bytes.data[j]);
      }
      same = !strcasecmp(seen[k].value, hex);
    }
    if (!same)
      fail_msg("record %s: tshark shows '%s', we encoded '%s'", seen[k].name, seen[k].value, want);
  }
}

/* SenML JSON through the json dissector: "key:value" members, records end with their value. */
static void check_senml_json_frame(int frame) {
  require_tshark();
  const pdml_packet *pk = &packets[frame];
  nb_records r;
  nb_records_init(&r);
  frames[frame].fill(&r);
  seen_record seen[32];
  size_t n = 0;
  char bn[64] = "", name[64] = "";
  for (size_t k = 0; k < pk->n && n < 32; k++) {
    if (strcmp(pk->f[k].name, "json.member_with_value") != 0) continue;
    const char *mv = pk->f[k].show;
    const char *colon = strchr(mv, ':');
    assert_non_null(colon);
    char key[8];
    snprintf(key, sizeof key, "%.*s", (int)(colon - mv), mv);
    if (!strcmp(key, "bn"))
      snprintf(bn, sizeof bn, "%s", colon + 1);
    else if (!strcmp(key, "n"))
      snprintf(name, sizeof name, "%s", colon + 1);
    else {
      snprintf(seen[n].name, sizeof seen[n].name, "%s%s", bn, name);
      snprintf(seen[n].key, sizeof seen[n].key, "%s", key);
      snprintf(seen[n].value, sizeof seen[n].value, "%s", colon + 1);
      name[0] = '\0';
      n++;
    }
  }
  check_seen(seen, n, &r);
  nb_records_deinit(&r);
}

static void test_senml_json_device(void **state) {
  (void)state;
  check_senml_json_frame(F_SJ_DEVICE);
}

static void test_senml_json_typed(void **state) {
  (void)state;
  check_senml_json_frame(F_SJ_TYPED);
}

/* The text after "Label: " in a showname. */
static const char *after_colon(const char *showname) {
  const char *c = strstr(showname, ": ");
  return c ? c + 2 : "";
}

/* SenML CBOR through the cbor dissector: the item tree (array of maps of label/value pairs) is
 * read back from the cbor.item.* fields, whose shownames carry the decoded values. */
static void check_senml_cbor_frame(int frame) {
  require_tshark();
  const pdml_packet *pk = &packets[frame];
  nb_records r;
  nb_records_init(&r);
  frames[frame].fill(&r);
  seen_record seen[32];
  size_t n = 0;
  char bn[64] = "", name[64] = "", label[16] = "";
  bool want_key = true;
  for (size_t k = 0; k < pk->n && n < 32; k++) {
    const char *fname = pk->f[k].name;
    if (strncmp(fname, "cbor.item.", 10) != 0) continue;
    const char *kind = fname + 10;
    if (!strcmp(kind, "array") || !strcmp(kind, "map") || !strcmp(kind, "major_type") ||
        !strcmp(kind, "items") || !strcmp(kind, "pairs") || !strcmp(kind, "size") ||
        !strcmp(kind, "length") || !strcmp(kind, "float_simple_type")) {
      if (!strcmp(kind, "map")) want_key = true;
      continue;
    }
    const char *text = after_colon(pk->f[k].showname);
    /* A byte string's item shows its length; its bytes are in the next cbor.type.bytestring. */
    for (size_t j = k + 1; !strcmp(kind, "bytestring") && j < pk->n; j++) {
      if (!strcmp(pk->f[j].name, "cbor.type.bytestring")) {
        text = pk->f[j].show;
        break;
      }
    }
    if (want_key) {
      snprintf(label, sizeof label, "%s", text);
      want_key = false;
      continue;
    }
    want_key = true;
    if (!strcmp(label, "-2"))
      snprintf(bn, sizeof bn, "%s", text);
    else if (!strcmp(label, "0"))
      snprintf(name, sizeof name, "%s", text);
    else {
      const char *key = !strcmp(label, "2")     ? "v"
                        : !strcmp(label, "3")   ? "vs"
                        : !strcmp(label, "4")   ? "vb"
                        : !strcmp(label, "8")   ? "vd"
                        : !strcmp(label, "vlo") ? "vlo"
                                                : "?";
      snprintf(seen[n].name, sizeof seen[n].name, "%s%s", bn, name);
      snprintf(seen[n].key, sizeof seen[n].key, "%s", key);
      snprintf(seen[n].value, sizeof seen[n].value, "%s", text);
      name[0] = '\0';
      n++;
    }
  }
  /* Simple values show as "True" or "true (21)": keep the name, in lower case. */
  for (size_t k = 0; k < n; k++) {
    if (strcmp(seen[k].key, "vb") != 0) continue;
    seen[k].value[strcspn(seen[k].value, " ")] = '\0';
    for (char *c = seen[k].value; *c; c++)
      *c = (char)((*c >= 'A' && *c <= 'Z') ? *c - 'A' + 'a' : *c);
  }
  check_seen(seen, n, &r);
  nb_records_deinit(&r);
}

static void test_senml_cbor_device(void **state) {
  (void)state;
  check_senml_cbor_frame(F_SC_DEVICE);
}

static void test_senml_cbor_typed(void **state) {
  (void)state;
  check_senml_cbor_frame(F_SC_TYPED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tlv_device),       cmocka_unit_test(test_tlv_server),
      cmocka_unit_test(test_tlv_location),     cmocka_unit_test(test_senml_json_device),
      cmocka_unit_test(test_senml_json_typed), cmocka_unit_test(test_senml_cbor_device),
      cmocka_unit_test(test_senml_cbor_typed),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
