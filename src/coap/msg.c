/* CoAP message codec, builder and option registry. */
#include "coap/msg.h"

#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/hex.h"

/* RFC 7252 5.10 table 4, RFC 7641 2, RFC 7959 2.1 and 4. */
static const nb_coap_option_def nb_coap_option_defs[] = {
    {NB_COAP_OPT_IF_MATCH, "If-Match", NB_COAP_FMT_OPAQUE, 0, 8, true},
    {NB_COAP_OPT_URI_HOST, "Uri-Host", NB_COAP_FMT_STRING, 1, 255, false},
    {NB_COAP_OPT_ETAG, "ETag", NB_COAP_FMT_OPAQUE, 1, 8, true},
    {NB_COAP_OPT_IF_NONE_MATCH, "If-None-Match", NB_COAP_FMT_EMPTY, 0, 0, false},
    {NB_COAP_OPT_OBSERVE, "Observe", NB_COAP_FMT_UINT, 0, 3, false},
    {NB_COAP_OPT_URI_PORT, "Uri-Port", NB_COAP_FMT_UINT, 0, 2, false},
    {NB_COAP_OPT_LOCATION_PATH, "Location-Path", NB_COAP_FMT_STRING, 0, 255, true},
    {NB_COAP_OPT_URI_PATH, "Uri-Path", NB_COAP_FMT_STRING, 0, 255, true},
    {NB_COAP_OPT_CONTENT_FORMAT, "Content-Format", NB_COAP_FMT_UINT, 0, 2, false},
    {NB_COAP_OPT_MAX_AGE, "Max-Age", NB_COAP_FMT_UINT, 0, 4, false},
    {NB_COAP_OPT_URI_QUERY, "Uri-Query", NB_COAP_FMT_STRING, 0, 255, true},
    {NB_COAP_OPT_ACCEPT, "Accept", NB_COAP_FMT_UINT, 0, 2, false},
    {NB_COAP_OPT_LOCATION_QUERY, "Location-Query", NB_COAP_FMT_STRING, 0, 255, true},
    {NB_COAP_OPT_BLOCK2, "Block2", NB_COAP_FMT_UINT, 0, 3, false},
    {NB_COAP_OPT_BLOCK1, "Block1", NB_COAP_FMT_UINT, 0, 3, false},
    {NB_COAP_OPT_SIZE2, "Size2", NB_COAP_FMT_UINT, 0, 4, false},
    {NB_COAP_OPT_PROXY_URI, "Proxy-Uri", NB_COAP_FMT_STRING, 1, 1034, false},
    {NB_COAP_OPT_PROXY_SCHEME, "Proxy-Scheme", NB_COAP_FMT_STRING, 1, 255, false},
    {NB_COAP_OPT_SIZE1, "Size1", NB_COAP_FMT_UINT, 0, 4, false},
};

const nb_coap_option_def *nb_coap_option_def_find(uint16_t number) {
  for (size_t i = 0; i < sizeof nb_coap_option_defs / sizeof nb_coap_option_defs[0]; i++) {
    if (nb_coap_option_defs[i].number == number) return &nb_coap_option_defs[i];
  }
  return NULL;
}

/* ---- parsing ---- */

/* Reads the extended form of a delta or length nibble (RFC 7252 3.1). */
static nb_err nb_coap_read_ext(nb_reader *r, uint8_t nibble, uint32_t *out) {
  if (nibble < 13) {
    *out = nibble;
    return NB_OK;
  }
  if (nibble == 15) return NB_ERR_COAP_OPT_RESERVED;
  uint64_t ext;
  if (nb_reader_uint_be(r, nibble == 13 ? 1 : 2, &ext) != NB_OK) return NB_ERR_COAP_TRUNCATED;
  *out = (uint32_t)ext + (nibble == 13 ? 13 : 269);
  return NB_OK;
}

/* Reads the options into opts[cap] (*count of them) and the payload into msg. Inlined into
 * each parser, so nb_coap_parse keeps a loop specialized for its fixed array. */
static inline __attribute__((always_inline)) nb_err nb_coap_parse_options(
    nb_reader *r, nb_coap_msg *msg, nb_coap_option *opts, size_t cap, size_t *count) {
  uint32_t number = 0;
  size_t n = 0;
  nb_err err = NB_OK;
  while (nb_reader_remaining(r) > 0) {
    uint8_t head;
    nb_reader_u8(r, &head);
    if (head == 0xff) {
      if (nb_reader_remaining(r) == 0) {
        err = NB_ERR_COAP_EMPTY_PAYLOAD;
        break;
      }
      msg->payload = nb_reader_cursor(r);
      msg->payload_len = nb_reader_remaining(r);
      break;
    }
    uint32_t delta, len;
    err = nb_coap_read_ext(r, head >> 4, &delta);
    if (err == NB_OK) err = nb_coap_read_ext(r, head & 0x0f, &len);
    if (err != NB_OK) break;
    number += delta;
    if (number > UINT16_MAX) {
      err = NB_ERR_COAP_OPT_NUMBER;
      break;
    }
    if (n == cap) {
      err = NB_ERR_COAP_TOO_MANY_OPTS;
      break;
    }
    nb_coap_option *opt = &opts[n];
    if (nb_reader_view(r, len, &opt->value) != NB_OK) {
      err = NB_ERR_COAP_TRUNCATED;
      break;
    }
    opt->number = (uint16_t)number;
    opt->len = (uint16_t)len;
    n++;
  }
  *count = n;
  return err;
}

/* Header and token into msg; r is left at the first option. */
static inline __attribute__((always_inline)) nb_err nb_coap_parse_head(const uint8_t *dgram,
                                                                       size_t len, nb_coap_msg *msg,
                                                                       nb_reader *r) {
  uint8_t head;
  nb_coap_msg_init(msg, 0, 0, 0);
  if (len < 4) return NB_ERR_COAP_SHORT;
  nb_reader_init(r, dgram, len);
  nb_reader_u8(r, &head);
  nb_reader_u8(r, &msg->code);
  nb_reader_u16be(r, &msg->mid);
  if ((head >> 6) != 1) return NB_ERR_COAP_VERSION;
  msg->type = (head >> 4) & 3;
  msg->token_len = head & 0x0f;
  if (msg->token_len > NB_COAP_MAX_TOKEN) return NB_ERR_COAP_TOKEN_LEN;
  /* RFC 7252 4.1: an Empty message has no token, options or payload. */
  if (msg->code == NB_COAP_EMPTY && (msg->token_len != 0 || len != 4)) {
    return NB_ERR_COAP_EMPTY_MSG;
  }
  if (nb_reader_copy(r, msg->token, msg->token_len) != NB_OK) return NB_ERR_COAP_TRUNCATED;
  return NB_OK;
}

nb_err nb_coap_parse(const uint8_t *dgram, size_t len, nb_coap_msg *msg) {
  nb_reader r;
  nb_err err = nb_coap_parse_head(dgram, len, msg, &r);
  if (err != NB_OK) return err;
  size_t count = 0;
  err = nb_coap_parse_options(&r, msg, msg->options, NB_COAP_MAX_OPTIONS, &count);
  msg->option_count = (uint16_t)count;
  return err;
}

nb_err nb_coap_parse_wide(const uint8_t *dgram, size_t len, nb_coap_msg *msg, nb_coap_option *opts,
                          size_t cap, nb_coap_optlist *out) {
  nb_reader r;
  size_t count = 0;
  nb_err err = nb_coap_parse_head(dgram, len, msg, &r);
  if (err == NB_OK) err = nb_coap_parse_options(&r, msg, opts, cap, &count);
  out->items = opts;
  out->count = count;
  return err;
}

/* ---- serializing ---- */

static uint8_t nb_coap_nibble(uint32_t v) { return v < 13 ? (uint8_t)v : v < 269 ? 13 : 14; }

static void nb_coap_write_ext(nb_writer *w, uint32_t v) {
  if (v >= 269) {
    nb_writer_u16be(w, (uint16_t)(v - 269));
  } else if (v >= 13) {
    nb_writer_u8(w, (uint8_t)(v - 13));
  }
}

static size_t nb_coap_ext_size(uint32_t v) { return v < 13 ? 0 : v < 269 ? 1 : 2; }

size_t nb_coap_serialized_size(const nb_coap_msg *msg) {
  size_t n = 4 + msg->token_len;
  uint16_t prev = 0;
  for (size_t i = 0; i < msg->option_count; i++) {
    const nb_coap_option *o = &msg->options[i];
    n += 1 + nb_coap_ext_size((uint32_t)(o->number - prev)) + nb_coap_ext_size(o->len) + o->len;
    prev = o->number;
  }
  if (msg->payload_len) n += 1 + msg->payload_len;
  return n;
}

nb_err nb_coap_serialize(const nb_coap_msg *msg, uint8_t *buf, size_t cap, size_t *out_len) {
  if (msg->token_len > NB_COAP_MAX_TOKEN || msg->type > 3) return NB_ERR_INVAL;
  nb_writer w;
  nb_writer_init(&w, buf, cap);
  nb_writer_u8(&w, (uint8_t)(0x40 | (msg->type << 4) | msg->token_len));
  nb_writer_u8(&w, msg->code);
  nb_writer_u16be(&w, msg->mid);
  nb_writer_bytes(&w, msg->token, msg->token_len);
  uint16_t prev = 0;
  for (size_t i = 0; i < msg->option_count; i++) {
    const nb_coap_option *o = &msg->options[i];
    if (o->number < prev) return NB_ERR_COAP_OPT_ORDER;
    uint32_t delta = (uint32_t)(o->number - prev);
    nb_writer_u8(&w, (uint8_t)(nb_coap_nibble(delta) << 4 | nb_coap_nibble(o->len)));
    nb_coap_write_ext(&w, delta);
    nb_coap_write_ext(&w, o->len);
    nb_writer_bytes(&w, o->value, o->len);
    prev = o->number;
  }
  if (msg->payload_len) {
    nb_writer_u8(&w, 0xff);
    nb_writer_bytes(&w, msg->payload, msg->payload_len);
  }
  if (nb_writer_status(&w) != NB_OK) return NB_ERR_OVERFLOW;
  *out_len = w.len;
  return NB_OK;
}

/* ---- builder ---- */

void nb_coap_msg_init(nb_coap_msg *msg, uint8_t type, uint8_t code, uint16_t mid) {
  msg->type = type;
  msg->code = code;
  msg->mid = mid;
  msg->token_len = 0;
  msg->option_count = 0;
  msg->payload = NULL;
  msg->payload_len = 0;
  msg->store_used = 0;
}

nb_err nb_coap_msg_set_token(nb_coap_msg *msg, const uint8_t *token, size_t len) {
  if (len > NB_COAP_MAX_TOKEN) return NB_ERR_COAP_TOKEN_LEN;
  if (len) memcpy(msg->token, token, len);
  msg->token_len = (uint8_t)len;
  return NB_OK;
}

nb_err nb_coap_msg_add_option(nb_coap_msg *msg, uint16_t number, const void *value, size_t len) {
  if (msg->option_count == NB_COAP_MAX_OPTIONS) return NB_ERR_COAP_TOO_MANY_OPTS;
  if (len > UINT16_MAX || len > (size_t)(NB_COAP_OPT_STORE - msg->store_used)) {
    return NB_ERR_OVERFLOW;
  }
  uint8_t *copy = msg->store + msg->store_used;
  if (len) memcpy(copy, value, len);
  msg->store_used = (uint16_t)(msg->store_used + len);
  /* Insert after every option with a number <= this one: sorted, repeats in order. */
  size_t at = msg->option_count;
  while (at > 0 && msg->options[at - 1].number > number) at--;
  memmove(&msg->options[at + 1], &msg->options[at],
          (msg->option_count - at) * sizeof msg->options[0]);
  msg->options[at] = (nb_coap_option){number, (uint16_t)len, copy};
  msg->option_count++;
  return NB_OK;
}

nb_err nb_coap_msg_add_uint(nb_coap_msg *msg, uint16_t number, uint32_t value) {
  uint8_t bytes[4];
  size_t n = nb_uint_be_size(value);
  for (size_t i = 0; i < n; i++) bytes[i] = (uint8_t)(value >> (8 * (n - 1 - i)));
  return nb_coap_msg_add_option(msg, number, bytes, n);
}

nb_err nb_coap_msg_add_string(nb_coap_msg *msg, uint16_t number, const char *value) {
  return nb_coap_msg_add_option(msg, number, value, strlen(value));
}

void nb_coap_msg_remove_option(nb_coap_msg *msg, uint16_t number) {
  size_t out = 0;
  for (size_t i = 0; i < msg->option_count; i++) {
    if (msg->options[i].number != number) msg->options[out++] = msg->options[i];
  }
  msg->option_count = (uint16_t)out;
}

/* Percent-decodes one segment [s, s+n) into out (at least n bytes). */
static nb_err nb_coap_pct_decode(const char *s, size_t n, uint8_t *out, size_t cap,
                                 size_t *out_len) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (o == cap) return NB_ERR_RANGE;
    if (s[i] != '%') {
      out[o++] = (uint8_t)s[i];
      continue;
    }
    if (n - i < 3) return NB_ERR_SYNTAX;
    int hi = nb_hex_digit(s[i + 1]);
    int lo = nb_hex_digit(s[i + 2]);
    if (hi < 0 || lo < 0) return NB_ERR_SYNTAX;
    out[o++] = (uint8_t)(hi << 4 | lo);
    i += 2;
  }
  *out_len = o;
  return NB_OK;
}

nb_err nb_coap_msg_add_path(nb_coap_msg *msg, uint16_t number, const char *path) {
  const char *p = path;
  if (*p == '/') p++;
  while (*p) {
    const char *end = strchr(p, '/');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    uint8_t seg[256]; /* decoded: a segment's text may be three times as long (%XX) */
    size_t seg_len;
    nb_err err = nb_coap_pct_decode(p, n, seg, sizeof seg, &seg_len);
    if (err == NB_OK) err = nb_coap_msg_add_option(msg, number, seg, seg_len);
    if (err != NB_OK) return err;
    if (!end) break;
    p = end + 1;
  }
  return NB_OK;
}

nb_err nb_coap_msg_add_query(nb_coap_msg *msg, uint16_t number, const char *query) {
  return nb_coap_msg_add_string(msg, number, query);
}

void nb_coap_msg_set_payload(nb_coap_msg *msg, const void *payload, size_t len) {
  msg->payload = payload;
  msg->payload_len = payload ? len : 0;
}

/* ---- readers ---- */

const nb_coap_option *nb_coap_optlist_find(const nb_coap_optlist *o, uint16_t number) {
  for (size_t i = 0; i < o->count; i++) {
    if (o->items[i].number == number) return &o->items[i];
  }
  return NULL;
}

const nb_coap_option *nb_coap_msg_find(const nb_coap_msg *msg, uint16_t number) {
  nb_coap_optlist o = nb_coap_msg_opts(msg);
  return nb_coap_optlist_find(&o, number);
}

size_t nb_coap_optlist_count(const nb_coap_optlist *o, uint16_t number) {
  size_t n = 0;
  for (size_t i = 0; i < o->count; i++) n += o->items[i].number == number;
  return n;
}

size_t nb_coap_msg_count(const nb_coap_msg *msg, uint16_t number) {
  nb_coap_optlist o = nb_coap_msg_opts(msg);
  return nb_coap_optlist_count(&o, number);
}

nb_err nb_coap_optlist_get_uint(const nb_coap_optlist *o, uint16_t number, uint32_t *out) {
  const nb_coap_option *opt = nb_coap_optlist_find(o, number);
  if (!opt) return NB_ERR_NOT_FOUND;
  if (opt->len > 4) return NB_ERR_RANGE;
  uint32_t v = 0;
  for (size_t i = 0; i < opt->len; i++) v = (v << 8) | opt->value[i];
  *out = v;
  return NB_OK;
}

nb_err nb_coap_msg_get_uint(const nb_coap_msg *msg, uint16_t number, uint32_t *out) {
  nb_coap_optlist o = nb_coap_msg_opts(msg);
  return nb_coap_optlist_get_uint(&o, number, out);
}

static int nb_coap_optlist_uint_or_none(const nb_coap_optlist *o, uint16_t number) {
  uint32_t v;
  if (nb_coap_optlist_get_uint(o, number, &v) != NB_OK || v > UINT16_MAX) return NB_COAP_CF_NONE;
  return (int)v;
}

int nb_coap_optlist_content_format(const nb_coap_optlist *o) {
  return nb_coap_optlist_uint_or_none(o, NB_COAP_OPT_CONTENT_FORMAT);
}

int nb_coap_optlist_accept(const nb_coap_optlist *o) {
  return nb_coap_optlist_uint_or_none(o, NB_COAP_OPT_ACCEPT);
}

int nb_coap_msg_content_format(const nb_coap_msg *msg) {
  nb_coap_optlist o = nb_coap_msg_opts(msg);
  return nb_coap_optlist_content_format(&o);
}

int nb_coap_msg_accept(const nb_coap_msg *msg) {
  nb_coap_optlist o = nb_coap_msg_opts(msg);
  return nb_coap_optlist_accept(&o);
}

/* RFC 3986 pchar minus '%' and '/': bytes that can stand in a path segment unescaped. */
static bool nb_coap_path_char_plain(uint8_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != 0 && strchr("-._~!$&'()*+,;=:@", c) != NULL;
}

nb_err nb_coap_optlist_get_path(const nb_coap_optlist *opts, uint16_t number, char *buf,
                                size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  nb_writer w;
  bool any = false;
  nb_writer_init(&w, (uint8_t *)buf, cap);
  for (size_t i = 0; i < opts->count; i++) {
    const nb_coap_option *o = &opts->items[i];
    if (o->number != number) continue;
    any = true;
    nb_writer_u8(&w, '/');
    for (size_t k = 0; k < o->len; k++) {
      uint8_t c = o->value[k];
      if (nb_coap_path_char_plain(c)) {
        nb_writer_u8(&w, c);
      } else {
        uint8_t esc[3] = {'%', (uint8_t)hex[c >> 4], (uint8_t)hex[c & 15]};
        nb_writer_bytes(&w, esc, 3);
      }
    }
  }
  if (!any) nb_writer_u8(&w, '/');
  nb_writer_u8(&w, 0);
  return nb_writer_status(&w);
}

nb_err nb_coap_msg_get_path(const nb_coap_msg *msg, uint16_t number, char *buf, size_t cap) {
  nb_coap_optlist o = nb_coap_msg_opts(msg);
  return nb_coap_optlist_get_path(&o, number, buf, cap);
}

nb_err nb_coap_optlist_get_query(const nb_coap_optlist *opts, uint16_t number, const char *key,
                                 char *buf, size_t cap) {
  size_t klen = strlen(key);
  for (size_t i = 0; i < opts->count; i++) {
    const nb_coap_option *o = &opts->items[i];
    if (o->number != number || o->len < klen || memcmp(o->value, key, klen) != 0) continue;
    if (o->len != klen && o->value[klen] != '=') continue;
    size_t vlen = o->len == klen ? 0 : o->len - klen - 1;
    if (vlen + 1 > cap) return NB_ERR_OVERFLOW;
    memcpy(buf, o->value + o->len - vlen, vlen);
    buf[vlen] = 0;
    return NB_OK;
  }
  return NB_ERR_NOT_FOUND;
}

nb_err nb_coap_msg_get_query(const nb_coap_msg *msg, uint16_t number, const char *key, char *buf,
                             size_t cap) {
  nb_coap_optlist o = nb_coap_msg_opts(msg);
  return nb_coap_optlist_get_query(&o, number, key, buf, cap);
}

/* ---- semantic checks ---- */

/* True when option i breaks its registry row (unknown, bad length, bad repeat). */
static bool nb_coap_option_unrecognized(const nb_coap_optlist *opts, size_t i) {
  const nb_coap_option *o = &opts->items[i];
  const nb_coap_option_def *def = nb_coap_option_def_find(o->number);
  if (!def) return true;
  if (o->len < def->min_len || o->len > def->max_len) return true;
  return !def->repeatable && i > 0 && opts->items[i - 1].number == o->number;
}

nb_err nb_coap_optlist_check(const nb_coap_optlist *opts, uint16_t *bad_number) {
  for (size_t i = 0; i < opts->count; i++) {
    uint16_t n = opts->items[i].number;
    if (nb_coap_option_is_critical(n) && nb_coap_option_unrecognized(opts, i)) {
      if (bad_number) *bad_number = n;
      return NB_ERR_COAP_BAD_OPTION;
    }
  }
  return NB_OK;
}

nb_err nb_coap_msg_check_options(const nb_coap_msg *msg, uint16_t *bad_number) {
  nb_coap_optlist o = nb_coap_msg_opts(msg);
  return nb_coap_optlist_check(&o, bad_number);
}

/* ---- codes ---- */

const char *nb_coap_code_format(uint8_t code, char *buf) {
  snprintf(buf, 5, "%u.%02u", NB_COAP_CLASS(code), NB_COAP_DETAIL(code));
  return buf;
}

struct nb_coap_code_row {
  uint8_t code;
  const char *name;
};

static const struct nb_coap_code_row nb_coap_code_names[] = {
    {NB_COAP_EMPTY, "Empty"},
    {NB_COAP_GET, "GET"},
    {NB_COAP_POST, "POST"},
    {NB_COAP_PUT, "PUT"},
    {NB_COAP_DELETE, "DELETE"},
    {NB_COAP_FETCH, "FETCH"},
    {NB_COAP_PATCH, "PATCH"},
    {NB_COAP_IPATCH, "iPATCH"},
    {NB_COAP_CREATED, "Created"},
    {NB_COAP_DELETED, "Deleted"},
    {NB_COAP_VALID, "Valid"},
    {NB_COAP_CHANGED, "Changed"},
    {NB_COAP_CONTENT, "Content"},
    {NB_COAP_CONTINUE, "Continue"},
    {NB_COAP_BAD_REQUEST, "Bad Request"},
    {NB_COAP_UNAUTHORIZED, "Unauthorized"},
    {NB_COAP_BAD_OPTION, "Bad Option"},
    {NB_COAP_FORBIDDEN, "Forbidden"},
    {NB_COAP_NOT_FOUND, "Not Found"},
    {NB_COAP_METHOD_NOT_ALLOWED, "Method Not Allowed"},
    {NB_COAP_NOT_ACCEPTABLE, "Not Acceptable"},
    {NB_COAP_REQUEST_ENTITY_INCOMPLETE, "Request Entity Incomplete"},
    {NB_COAP_PRECONDITION_FAILED, "Precondition Failed"},
    {NB_COAP_REQUEST_ENTITY_TOO_LARGE, "Request Entity Too Large"},
    {NB_COAP_UNSUPPORTED_CONTENT_FORMAT, "Unsupported Content-Format"},
    {NB_COAP_INTERNAL_SERVER_ERROR, "Internal Server Error"},
    {NB_COAP_NOT_IMPLEMENTED, "Not Implemented"},
    {NB_COAP_BAD_GATEWAY, "Bad Gateway"},
    {NB_COAP_SERVICE_UNAVAILABLE, "Service Unavailable"},
    {NB_COAP_GATEWAY_TIMEOUT, "Gateway Timeout"},
    {NB_COAP_PROXYING_NOT_SUPPORTED, "Proxying Not Supported"},
};

const char *nb_coap_code_name(uint8_t code) {
  for (size_t i = 0; i < sizeof nb_coap_code_names / sizeof nb_coap_code_names[0]; i++) {
    if (nb_coap_code_names[i].code == code) return nb_coap_code_names[i].name;
  }
  return "Unknown";
}

const char *nb_coap_type_name(uint8_t type) {
  static const char *const names[] = {"CON", "NON", "ACK", "RST"};
  return type < 4 ? names[type] : "?";
}
