/* redis:// addresses: see redis_uri.h. */
#include "store/redis_uri.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define URI_MAX 2048

static nb_err fail(char *why, size_t cap, const char *reason) {
  if (why && cap) snprintf(why, cap, "%s", reason);
  return NB_ERR_SYNTAX;
}

bool nb_redis_uri_is_redis(const char *text) {
  return text && (strncasecmp(text, "redis://", 8) == 0 || strncasecmp(text, "rediss://", 9) == 0);
}

void nb_redis_uri_wipe(nb_redis_uri *u) {
  volatile char *p = u->password;
  for (size_t i = 0; i < sizeof(u->password); i++) p[i] = 0;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* src[0..len) with %XX escapes decoded into dst (NUL-terminated); false when an escape is
 * malformed, decodes to NUL, or the result does not fit. */
static bool percent_decode(const char *src, size_t len, char *dst, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    char c = src[i];
    if (c == '%') {
      if (len - i < 3) return false;
      int hi = hex_value(src[i + 1]);
      int lo = hex_value(src[i + 2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
      c = (char)(hi << 4 | lo);
      i += 2;
    }
    if (n + 1 >= cap) return false;
    dst[n++] = c;
  }
  dst[n] = '\0';
  return true;
}

/* USER:PASSWORD, :PASSWORD, or USER (the password then comes from elsewhere). */
static nb_err parse_userinfo(const char *s, size_t len, nb_redis_uri *u, char *why, size_t cap) {
  const char *colon = memchr(s, ':', len);
  if (!colon) {
    if (len == 0) return fail(why, cap, "nothing before '@'");
    if (!percent_decode(s, len, u->user, sizeof(u->user)))
      return fail(why, cap, "bad user name (too long, or a bad %XX escape)");
    return NB_OK;
  }
  size_t ulen = (size_t)(colon - s), plen = len - ulen - 1;
  if (plen == 0) return fail(why, cap, "empty password before '@'");
  if (!percent_decode(s, ulen, u->user, sizeof(u->user)))
    return fail(why, cap, "bad user name (too long, or a bad %XX escape)");
  if (!percent_decode(colon + 1, plen, u->password, sizeof(u->password)))
    return fail(why, cap, "bad password (too long, or a bad %XX escape)");
  return NB_OK;
}

/* Decimal digits only, value in [min, max]. */
static bool parse_number(const char *s, size_t len, unsigned long min, unsigned long max,
                         unsigned long *out) {
  if (len == 0 || len > 5) return false;
  unsigned long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v < min || v > max) return false;
  *out = v;
  return true;
}

static bool host_char(char c, bool bracketed) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  if (bracketed) return c == ':' || c == '.' || c == '%';
  return c == '.' || c == '-' || c == '_';
}

/* HOST[:PORT] or [IPV6][:PORT]. */
static nb_err parse_hostport(const char *s, size_t len, nb_redis_uri *u, char *why, size_t cap) {
  const char *host = s, *rest;
  size_t hlen;
  bool bracketed = len > 0 && s[0] == '[';
  if (bracketed) {
    const char *close = memchr(s, ']', len);
    if (!close) return fail(why, cap, "'[' of an IPv6 address without its ']'");
    host = s + 1;
    hlen = (size_t)(close - host);
    rest = close + 1;
  } else {
    const char *colon = memchr(s, ':', len);
    hlen = colon ? (size_t)(colon - s) : len;
    rest = s + hlen;
  }
  if (hlen == 0) return fail(why, cap, "no host");
  if (bracketed && !memchr(host, ':', hlen))
    return fail(why, cap, "brackets hold an IPv6 address (with its ':')");
  if (hlen >= sizeof(u->host)) return fail(why, cap, "host name too long");
  for (size_t i = 0; i < hlen; i++)
    if (!host_char(host[i], bracketed)) return fail(why, cap, "bad character in the host");
  memcpy(u->host, host, hlen);
  u->host[hlen] = '\0';
  size_t rlen = len - (size_t)(rest - s);
  u->port = 6379;
  if (rlen == 0) return NB_OK;
  unsigned long port;
  if (rest[0] != ':' || !parse_number(rest + 1, rlen - 1, 1, 65535, &port))
    return fail(why, cap, "the port must be a number from 1 to 65535");
  u->port = (uint16_t)port;
  return NB_OK;
}

nb_err nb_redis_uri_parse(const char *text, nb_redis_uri *out, char *why, size_t why_cap) {
  memset(out, 0, sizeof(*out));
  if (why && why_cap) why[0] = '\0';
  if (!text) return fail(why, why_cap, "no address");
  size_t len = strnlen(text, URI_MAX + 1);
  if (len > URI_MAX) return fail(why, why_cap, "address too long");
  if (strncasecmp(text, "rediss://", 9) == 0) {
    if (why && why_cap)
      snprintf(why, why_cap,
               "rediss:// (TLS) needs hiredis 1.0 or newer; this build's hiredis has no TLS:"
               " reach Redis over a private network or a TLS tunnel (docs/security.md)");
    return NB_ERR_UNSUPPORTED;
  }
  if (strncasecmp(text, "redis://", 8) != 0)
    return fail(why, why_cap, "a Redis address starts with redis://");
  const char *auth = text + 8, *end = text + len;
  const char *slash = memchr(auth, '/', (size_t)(end - auth));
  const char *auth_end = slash ? slash : end;
  for (const char *p = auth; p < end; p++)
    if (*p == '?' || *p == '#' || (unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
      return fail(why, why_cap, "options (?, #), spaces and control characters are not taken");
  const char *at = NULL;
  for (const char *p = auth; p < auth_end; p++)
    if (*p == '@') at = p;
  nb_err rc = NB_OK;
  if (at) rc = parse_userinfo(auth, (size_t)(at - auth), out, why, why_cap);
  const char *hp = at ? at + 1 : auth;
  if (rc == NB_OK) rc = parse_hostport(hp, (size_t)(auth_end - hp), out, why, why_cap);
  unsigned long db = 0;
  if (rc == NB_OK && slash && slash + 1 < end &&
      !parse_number(slash + 1, (size_t)(end - slash - 1), 0, NB_REDIS_DB_MAX, &db))
    rc = fail(why, why_cap, "the database after '/' must be a number from 0 to 65535");
  out->db = (unsigned)db;
  if (rc != NB_OK) nb_redis_uri_wipe(out);
  return rc;
}

/* Appends src to out at *n, %XX-escaping what is not unreserved (RFC 3986). */
static bool append_escaped(char *out, size_t cap, size_t *n, const char *src) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
    bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '-' || *p == '.' || *p == '_' || *p == '~';
    if (*n + (plain ? 1 : 3) >= cap) return false;
    if (plain) {
      out[(*n)++] = (char)*p;
    } else {
      out[(*n)++] = '%';
      out[(*n)++] = hex[*p >> 4];
      out[(*n)++] = hex[*p & 15];
    }
  }
  out[*n] = '\0';
  return true;
}

nb_err nb_redis_uri_format(const nb_redis_uri *u, bool with_password, char *out, size_t cap) {
  if (cap == 0) return NB_ERR_OVERFLOW;
  size_t n = (size_t)snprintf(out, cap, "redis://");
  if (n >= cap) return NB_ERR_OVERFLOW;
  if (u->password[0] || u->user[0]) {
    if (!append_escaped(out, cap, &n, u->user) || n + 5 >= cap) return NB_ERR_OVERFLOW;
    if (u->password[0]) out[n++] = ':';
    if (!u->password[0]) {
      /* the user alone */
    } else if (!with_password) {
      memcpy(out + n, "***", 4);
      n += 3;
    } else if (!append_escaped(out, cap, &n, u->password)) {
      return NB_ERR_OVERFLOW;
    }
    if (n + 1 >= cap) return NB_ERR_OVERFLOW;
    out[n++] = '@';
  }
  bool v6 = strchr(u->host, ':') != NULL;
  int w = snprintf(out + n, cap - n, v6 ? "[%s]:%u/%u" : "%s:%u/%u", u->host, u->port, u->db);
  return w < 0 || (size_t)w >= cap - n ? NB_ERR_OVERFLOW : NB_OK;
}
