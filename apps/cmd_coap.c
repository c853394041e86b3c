/* `niobium coap get|put|post|delete URI`: a CoAP client on the Niobium stack (block-wise,
 * observe, confirmable or not). `niobium coap serve` is the test server in cmd_coap_serve.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/hex.h"
#include "base/log.h"
#include "coap/endpoint.h"
#include "coap/msg.h"
#include "coap_dtls.h"
#include "commands.h"
#include "io/dtls_io.h"
#include "io/loop.h"

#define NB_COAP_DEFAULT_PORT 5683
#define NB_COAPS_DEFAULT_PORT 5684
#define NB_COAPS_MAX_MESSAGE 1120
#define NB_COAP_DEFAULT_TIMEOUT 90.0
/* A proactive cancel sends a GET; this long at most is spent waiting for its outcome. */
#define NB_COAP_CANCEL_GRACE_MS 3000

typedef struct {
  const char *name;
  int number;
  bool text; /* printed as is; otherwise as hex unless --raw */
} nb_coap_cf_row;

static const nb_coap_cf_row nb_coap_cf_table[] = {
    {"text", NB_COAP_CF_TEXT, true},
    {"link", NB_COAP_CF_LINK_FORMAT, true},
    {"xml", 41, true},
    {"octet", NB_COAP_CF_OCTET_STREAM, false},
    {"json", 50, true},
    {"cbor", NB_COAP_CF_CBOR, false},
    {"senml-json", NB_COAP_CF_SENML_JSON, true},
    {"senml-cbor", NB_COAP_CF_SENML_CBOR, false},
    {"tlv", NB_COAP_CF_LWM2M_TLV, false},
    {"lwm2m-json", NB_COAP_CF_LWM2M_JSON, true},
    {"lwm2m-cbor", 11544, false},
};
#define NB_COAP_CF_COUNT (sizeof nb_coap_cf_table / sizeof nb_coap_cf_table[0])

typedef struct {
  const char *name;
  uint8_t code;
} nb_coap_method_row;

static const nb_coap_method_row nb_coap_methods[] = {
    {"get", NB_COAP_GET},
    {"post", NB_COAP_POST},
    {"put", NB_COAP_PUT},
    {"delete", NB_COAP_DELETE},
};

/* Everything the command line asks for. */
typedef struct {
  uint8_t method;
  const char *uri;
  bool observe;
  unsigned long count; /* 0 = unlimited */
  double duration;     /* seconds, 0 = unlimited */
  int accept;          /* NB_COAP_CF_NONE when absent */
  int content_format;
  unsigned block_size; /* 0 = the endpoint's default */
  nb_bytes payload;
  bool has_payload;
  bool non;
  double timeout;
  bool verbose;
  bool raw;
  bool secure; /* coaps:// */
  nb_app_dtls_opts dtls;
} nb_coap_opts;

/* One run of the client: the loop, the endpoint and where the exchange stands. */
typedef struct {
  const nb_coap_opts *opts;
  nb_io_loop *loop;
  nb_io_coap *coap;
  nb_io_udp *udp;     /* coaps: the socket under the DTLS layer */
  nb_io_dtls *dtls;   /* coaps */
  nb_app_dtls *creds; /* coaps */
  bool dtls_up;       /* coaps: a handshake completed */
  nb_coap_req_id id;
  uv_timer_t timeout_timer;  /* until the first response */
  uv_timer_t duration_timer; /* --duration of an observation */
  uv_timer_t finish_timer;   /* runs nb_coap_client_finish outside the endpoint's callbacks */
  unsigned long responses;
  bool request_done;
  bool finishing;
  int signals;
  int exit_code;
} nb_coap_client;

static void nb_coap_usage(FILE *out) {
  fprintf(out,
          "Usage: niobium coap get|put|post|delete [OPTIONS] URI\n"
          "       niobium coap serve [--listen ADDR:PORT]...   (test/demo server, see "
          "'niobium coap serve --help')\n"
          "A CoAP client on the Niobium stack: block-wise transfers, observe, CON or NON.\n"
          "URI: coap://HOST[:PORT]/path?query or coaps://... (DTLS 1.2) with HOST a numeric\n"
          "IPv4 address, a bracketed IPv6 address or a name such as localhost; PORT defaults\n"
          "to 5683 (coap) or 5684 (coaps).\n\n"
          "Options:\n"
          "  --observe             observe the resource: print every notification until Ctrl-C,\n"
          "                        --count or --duration\n"
          "  --count N             with --observe: stop after N responses (the first counts)\n"
          "  --duration S          with --observe: stop after S seconds\n"
          "  --accept CF           ask for this content format\n"
          "  --content-format CF   content format of the payload\n"
          "                        CF: a number or text, link, xml, octet, json, cbor, "
          "senml-json,\n"
          "                        senml-cbor, tlv, lwm2m-json, lwm2m-cbor\n"
          "  --block-size N        block size for block-wise transfers: 16, 32, ... 1024\n"
          "  --payload STRING      request payload\n"
          "  --payload-file FILE   request payload read from FILE ('-' for stdin)\n"
          "  --payload-hex HEX     request payload given in hex\n"
          "  --non                 send a non-confirmable request\n"
          "  --timeout S           give up when no response came in S seconds (default %.0f)\n"
          "  --raw                 print binary payloads as raw bytes instead of hex\n"
          "  -v, --verbose         print the request, the response code, options and payload "
          "size\n"
          "                        on stderr; for coaps also the cipher suite and the server's\n"
          "                        identity\n"
          "coaps (DTLS) options, one credential mode:\n"
          "  --psk-identity ID --psk-key HEX   pre-shared key (key in hex)\n"
          "  --rpk-key FILE        our raw public key: a P-256 private key (PEM or DER); the\n"
          "                        server's key must be given, it is never accepted blindly:\n"
          "    --peer-key FILE       the server's public key (or its private key/certificate)\n"
          "    --peer-secure-id ID   or its secure ID (30 hex digits, 'niobium keys')\n"
          "  --cert FILE --key FILE our certificate and its P-256 private key, with\n"
          "    --ca FILE             trust anchors the server's certificate must chain to\n"
          "    --peer-cert FILE      and/or the exact certificate the server must present\n"
          "  --ciphers LIST        only these suites (comma-separated):\n"
          "                        TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CBC_SHA256,\n"
          "                        TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,\n"
          "                        TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 (or _GCM_SHA256 ones)\n"
          "  -h, --help            show this help\n\n"
          "The payload goes to stdout (text as is, binary as hex unless --raw). Exit status: 0 on\n"
          "a 2.xx response, 1 on 4.xx/5.xx, timeout or network failure, 2 on usage errors.\n\n"
          "Examples:\n"
          "  niobium coap get coap://127.0.0.1/.well-known/core\n"
          "  niobium coap get -v --accept text 'coap://[::1]:5683/test'\n"
          "  niobium coap put --content-format text --payload hello coap://localhost/store\n"
          "  niobium coap post --payload-file fw.bin --content-format octet --block-size 256 \\\n"
          "      coap://127.0.0.1/store\n"
          "  niobium coap get --observe --count 5 coap://127.0.0.1/obs\n"
          "  niobium coap get -v --psk-identity dev1 \\\n"
          "      --psk-key 000102030405060708090a0b0c0d0e0f coaps://127.0.0.1/test\n"
          "  niobium coap get --rpk-key dev.key.pem --peer-key srv.pub.pem coaps://127.0.0.1/test\n"
          "  niobium coap get --cert dev.crt.pem --key dev.key.pem --ca ca.crt.pem \\\n"
          "      --ciphers TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 coaps://127.0.0.1/large\n",
          NB_COAP_DEFAULT_TIMEOUT);
}

static int nb_coap_usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "niobium coap: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nRun 'niobium coap --help' for the options.\n");
  return NB_EXIT_USAGE;
}

/* ---- argument parsing ---- */

static const nb_coap_cf_row *nb_coap_cf_find(int number) {
  for (size_t i = 0; i < NB_COAP_CF_COUNT; i++) {
    if (nb_coap_cf_table[i].number == number) return &nb_coap_cf_table[i];
  }
  return NULL;
}

/* A content format by name or number (0..65535). */
static bool nb_coap_cf_parse(const char *text, int *out) {
  for (size_t i = 0; i < NB_COAP_CF_COUNT; i++) {
    if (strcmp(text, nb_coap_cf_table[i].name) == 0) {
      *out = nb_coap_cf_table[i].number;
      return true;
    }
  }
  char *end;
  errno = 0;
  unsigned long v = strtoul(text, &end, 10);
  if (errno || end == text || *end || v > 65535 || text[0] == '-') return false;
  *out = (int)v;
  return true;
}

static bool nb_coap_seconds_parse(const char *text, double *out) {
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (errno || end == text || *end || !isfinite(v) || v <= 0 || v > 86400.0 * 365) return false;
  *out = v;
  return true;
}

static bool nb_coap_file_read(const char *path, nb_bytes *out) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) return false;
  uint8_t chunk[8192];
  size_t n;
  bool ok = true;
  while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
    ok = nb_bytes_append(out, chunk, n) == NB_OK;
  ok = ok && !ferror(f);
  if (f != stdin) fclose(f);
  return ok;
}

static bool nb_coap_block_size_parse(const char *text, unsigned *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(text, &end, 10);
  if (errno || end == text || *end) return false;
  for (unsigned size = 16; size <= 1024; size *= 2) {
    if (v == size) {
      *out = size;
      return true;
    }
  }
  return false;
}

static bool nb_coap_method_parse(const char *text, uint8_t *out) {
  for (size_t i = 0; i < sizeof nb_coap_methods / sizeof nb_coap_methods[0]; i++) {
    if (strcmp(text, nb_coap_methods[i].name) == 0) {
      *out = nb_coap_methods[i].code;
      return true;
    }
  }
  return false;
}

enum {
  NB_OPT_OBSERVE = 256,
  NB_OPT_COUNT,
  NB_OPT_DURATION,
  NB_OPT_ACCEPT,
  NB_OPT_CONTENT_FORMAT,
  NB_OPT_BLOCK_SIZE,
  NB_OPT_PAYLOAD,
  NB_OPT_PAYLOAD_FILE,
  NB_OPT_PAYLOAD_HEX,
  NB_OPT_NON,
  NB_OPT_TIMEOUT,
  NB_OPT_RAW,
};

static const struct option nb_coap_long_opts[] = {
    {"observe", no_argument, NULL, NB_OPT_OBSERVE},
    {"count", required_argument, NULL, NB_OPT_COUNT},
    {"duration", required_argument, NULL, NB_OPT_DURATION},
    {"accept", required_argument, NULL, NB_OPT_ACCEPT},
    {"content-format", required_argument, NULL, NB_OPT_CONTENT_FORMAT},
    {"block-size", required_argument, NULL, NB_OPT_BLOCK_SIZE},
    {"payload", required_argument, NULL, NB_OPT_PAYLOAD},
    {"payload-file", required_argument, NULL, NB_OPT_PAYLOAD_FILE},
    {"payload-hex", required_argument, NULL, NB_OPT_PAYLOAD_HEX},
    {"non", no_argument, NULL, NB_OPT_NON},
    {"timeout", required_argument, NULL, NB_OPT_TIMEOUT},
    {"raw", no_argument, NULL, NB_OPT_RAW},
    NB_APP_DTLS_LONG_OPTS,
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Takes the payload from one of the three payload options. */
static int nb_coap_opt_payload(nb_coap_opts *o, int which, const char *arg) {
  if (o->has_payload) {
    return nb_coap_usage_error("%s: give the payload only once",
                               "--payload/--payload-file/--payload-hex");
  }
  o->has_payload = true;
  bool ok;
  if (which == NB_OPT_PAYLOAD) {
    ok = nb_bytes_append(&o->payload, arg, strlen(arg)) == NB_OK;
  } else if (which == NB_OPT_PAYLOAD_HEX) {
    if (nb_hex_decode_append(arg, strlen(arg), " :", &o->payload) != NB_OK) {
      return nb_coap_usage_error("--payload-hex '%s': expected pairs of hex digits", arg);
    }
    ok = true;
  } else {
    if (!nb_coap_file_read(arg, &o->payload)) {
      fprintf(stderr, "niobium coap: cannot read payload file '%s': %s\n", arg, strerror(errno));
      return NB_EXIT_FAILURE;
    }
    ok = true;
  }
  if (!ok) {
    fprintf(stderr, "niobium coap: out of memory\n");
    return NB_EXIT_FAILURE;
  }
  return NB_EXIT_OK;
}

/* One option; returns NB_EXIT_OK to go on, else the exit code. */
static int nb_coap_opt_apply(nb_coap_opts *o, int c, const char *arg) {
  switch (c) {
    case NB_OPT_OBSERVE:
      o->observe = true;
      return NB_EXIT_OK;
    case NB_OPT_COUNT: {
      char *end;
      errno = 0;
      o->count = strtoul(arg, &end, 10);
      if (errno || end == arg || *end || o->count == 0 || arg[0] == '-') {
        return nb_coap_usage_error("--count '%s': expected a positive number", arg);
      }
      return NB_EXIT_OK;
    }
    case NB_OPT_DURATION:
      if (!nb_coap_seconds_parse(arg, &o->duration)) {
        return nb_coap_usage_error("--duration '%s': expected a positive number of seconds", arg);
      }
      return NB_EXIT_OK;
    case NB_OPT_TIMEOUT:
      if (!nb_coap_seconds_parse(arg, &o->timeout)) {
        return nb_coap_usage_error("--timeout '%s': expected a positive number of seconds", arg);
      }
      return NB_EXIT_OK;
    case NB_OPT_ACCEPT:
    case NB_OPT_CONTENT_FORMAT:
      if (!nb_coap_cf_parse(arg, c == NB_OPT_ACCEPT ? &o->accept : &o->content_format)) {
        return nb_coap_usage_error(
            "unknown content format '%s': use a number (0-65535) or text, link, xml, octet, json,"
            " cbor, senml-json, senml-cbor, tlv, lwm2m-json, lwm2m-cbor",
            arg);
      }
      return NB_EXIT_OK;
    case NB_OPT_BLOCK_SIZE:
      if (!nb_coap_block_size_parse(arg, &o->block_size)) {
        return nb_coap_usage_error("--block-size '%s': must be 16, 32, 64, 128, 256, 512 or 1024",
                                   arg);
      }
      return NB_EXIT_OK;
    case NB_OPT_PAYLOAD:
    case NB_OPT_PAYLOAD_FILE:
    case NB_OPT_PAYLOAD_HEX:
      return nb_coap_opt_payload(o, c, arg);
    case NB_OPT_NON:
      o->non = true;
      return NB_EXIT_OK;
    case NB_OPT_RAW:
      o->raw = true;
      return NB_EXIT_OK;
    case 'v':
      o->verbose = true;
      return NB_EXIT_OK;
    default: {
      int dtls = nb_app_dtls_opt(&o->dtls, c, arg, "niobium coap");
      if (dtls == 1) return NB_EXIT_OK;
      if (dtls == 0) fprintf(stderr, "Run 'niobium coap --help' for the options.\n");
      return NB_EXIT_USAGE;
    }
  }
}

/* argv[0] is the method. Returns NB_EXIT_OK to go on, or the exit code (-1 for --help). */
static int nb_coap_opts_parse(int argc, char **argv, nb_coap_opts *o) {
  o->accept = NB_COAP_CF_NONE;
  o->content_format = NB_COAP_CF_NONE;
  o->timeout = NB_COAP_DEFAULT_TIMEOUT;
  if (!nb_coap_method_parse(argv[0], &o->method)) {
    return nb_coap_usage_error("unknown method '%s': use get, put, post, delete or serve", argv[0]);
  }
  optind = 1;
  opterr = 1;
  int c;
  while ((c = getopt_long(argc, argv, "vh", nb_coap_long_opts, NULL)) != -1) {
    if (c == 'h') {
      nb_coap_usage(stdout);
      return -1;
    }
    int rc = nb_coap_opt_apply(o, c, optarg);
    if (rc != NB_EXIT_OK) return rc;
  }
  if (optind != argc - 1) {
    return nb_coap_usage_error("%s", optind >= argc ? "missing URI" : "expected exactly one URI");
  }
  o->uri = argv[optind];
  o->secure = strncasecmp(o->uri, "coaps://", 8) == 0;
  if (!o->secure && nb_app_dtls_given(&o->dtls)) {
    return nb_coap_usage_error("%s: the DTLS options need a coaps:// URI", o->uri);
  }
  if (!o->observe && (o->count || o->duration > 0)) {
    return nb_coap_usage_error("%s only make sense with --observe", "--count and --duration");
  }
  if (o->observe && o->method != NB_COAP_GET) {
    return nb_coap_usage_error("%s: only GET can observe", "--observe");
  }
  return NB_EXIT_OK;
}

/* ---- URI ---- */

/* Percent-decodes [s, s+n) into out (NUL-terminated); false on a bad escape or overflow. */
static bool nb_coap_pct_decode(const char *s, size_t n, char *out, size_t cap, size_t *len) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      if (i + 2 >= n) return false;
      int hi = nb_hex_digit(s[i + 1]), lo = nb_hex_digit(s[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = hi << 4 | lo;
      i += 2;
    }
    if (k + 1 >= cap) return false;
    out[k++] = (char)c;
  }
  out[k] = 0;
  *len = k;
  return true;
}

/* Resolves a host: numeric forms first, then getaddrinfo (localhost and other names). */
static int nb_coap_resolve(const char *host, bool bracketed, uint16_t port, nb_addr *out) {
  memset(out, 0, sizeof *out);
  out->port = port;
  if (bracketed) {
    if (inet_pton(AF_INET6, host, out->ip) != 1) {
      return nb_coap_usage_error("bad IPv6 address '%s' in the URI", host);
    }
    out->family = NB_ADDR_V6;
    return NB_EXIT_OK;
  }
  if (inet_pton(AF_INET, host, out->ip) == 1) {
    out->family = NB_ADDR_V4;
    return NB_EXIT_OK;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0 || !res) {
    fprintf(stderr, "niobium coap: cannot resolve host '%s': %s\n", host, gai_strerror(rc));
    return NB_EXIT_FAILURE;
  }
  nb_err err = nb_addr_from_sockaddr(res->ai_addr, out);
  freeaddrinfo(res);
  if (err != NB_OK) {
    fprintf(stderr, "niobium coap: host '%s' has no IPv4 or IPv6 address\n", host);
    return NB_EXIT_FAILURE;
  }
  out->port = port;
  return NB_EXIT_OK;
}

/* Adds one Uri-Query option per '&'-separated field of [q, q+n), percent-decoded. */
static int nb_coap_uri_queries(const char *q, size_t n, nb_coap_msg *req) {
  while (n > 0) {
    const char *amp = memchr(q, '&', n);
    size_t field = amp ? (size_t)(amp - q) : n;
    char value[256];
    size_t len;
    if (!nb_coap_pct_decode(q, field, value, sizeof value, &len)) {
      return nb_coap_usage_error("bad query field in the URI near '%s'", q);
    }
    if (nb_coap_msg_add_option(req, NB_COAP_OPT_URI_QUERY, value, len) != NB_OK) {
      return nb_coap_usage_error("%s: too many or too long query fields", "URI");
    }
    if (!amp) break;
    n -= field + 1;
    q = amp + 1;
  }
  return NB_EXIT_OK;
}

/* Splits the URI into the peer address and Uri-Host/Uri-Path/Uri-Query options (RFC 7252 6.4). */
static int nb_coap_uri_parse(const char *uri, nb_coap_msg *req, nb_addr *peer) {
  bool secure = strncasecmp(uri, "coaps://", 8) == 0;
  if (!secure && strncasecmp(uri, "coap://", 7) != 0) {
    return nb_coap_usage_error("'%s': the URI must start with coap:// or coaps://", uri);
  }
  if (strchr(uri, '#')) return nb_coap_usage_error("'%s': CoAP URIs have no #fragment", uri);
  const char *p = uri + (secure ? 8 : 7);
  const char *authority_end = p + strcspn(p, "/?");
  char host[256];
  const char *port_text = NULL;
  bool bracketed = *p == '[';
  if (bracketed) {
    const char *close = memchr(p, ']', (size_t)(authority_end - p));
    if (!close || (size_t)(close - p - 1) >= sizeof host) {
      return nb_coap_usage_error("'%s': unterminated [IPv6] host", uri);
    }
    memcpy(host, p + 1, (size_t)(close - p - 1));
    host[close - p - 1] = 0;
    if (close + 1 < authority_end) {
      if (close[1] != ':') return nb_coap_usage_error("'%s': junk after ]", uri);
      port_text = close + 2;
    }
  } else {
    const char *colon = memchr(p, ':', (size_t)(authority_end - p));
    const char *host_end = colon ? colon : authority_end;
    if ((size_t)(host_end - p) >= sizeof host)
      return nb_coap_usage_error("'%s': host too long", uri);
    memcpy(host, p, (size_t)(host_end - p));
    host[host_end - p] = 0;
    if (colon) port_text = colon + 1;
  }
  if (!host[0]) return nb_coap_usage_error("'%s': no host", uri);
  unsigned long port = secure ? NB_COAPS_DEFAULT_PORT : NB_COAP_DEFAULT_PORT;
  if (port_text) {
    char *end;
    port = strtoul(port_text, &end, 10);
    if (end == port_text || end != authority_end || port == 0 || port > 65535) {
      return nb_coap_usage_error("'%s': bad port", uri);
    }
  }
  int rc = nb_coap_resolve(host, bracketed, (uint16_t)port, peer);
  if (rc != NB_EXIT_OK) return rc;
  /* A name (not an IP literal) goes in Uri-Host so virtual hosts work. */
  uint8_t scratch[16];
  if (!bracketed && inet_pton(AF_INET, host, scratch) != 1 &&
      nb_coap_msg_add_string(req, NB_COAP_OPT_URI_HOST, host) != NB_OK) {
    return nb_coap_usage_error("'%s': host name too long", uri);
  }
  const char *query = strchr(authority_end, '?');
  size_t path_len = query ? (size_t)(query - authority_end) : strlen(authority_end);
  char path[1024];
  if (path_len >= sizeof path) return nb_coap_usage_error("'%s': path too long", uri);
  memcpy(path, authority_end, path_len);
  path[path_len] = 0;
  if (path_len > 0 && nb_coap_msg_add_path(req, NB_COAP_OPT_URI_PATH, path) != NB_OK) {
    return nb_coap_usage_error("'%s': bad or too long path", uri);
  }
  if (query) return nb_coap_uri_queries(query + 1, strlen(query + 1), req);
  return NB_EXIT_OK;
}

/* ---- output ---- */

/* Valid UTF-8 without control characters other than tab, CR and LF. */
static bool nb_coap_is_text(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n;) {
    uint8_t c = p[i];
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return false;
      i++;
      continue;
    }
    size_t extra = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 0;
    if (extra == 0 || c == 0xc0 || c == 0xc1 || c > 0xf4 || i + extra >= n) return false;
    for (size_t k = 1; k <= extra; k++) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

static void nb_coap_print_payload(const nb_coap_opts *o, const nb_coap_msg *resp) {
  if (resp->payload_len == 0) return;
  int cf = nb_coap_msg_content_format(resp);
  const nb_coap_cf_row *row = cf == NB_COAP_CF_NONE ? NULL : nb_coap_cf_find(cf);
  bool text =
      row ? row->text : cf == NB_COAP_CF_NONE && nb_coap_is_text(resp->payload, resp->payload_len);
  if (text || o->raw) {
    fwrite(resp->payload, 1, resp->payload_len, stdout);
    if (text && resp->payload[resp->payload_len - 1] != '\n') putchar('\n');
  } else {
    for (size_t i = 0; i < resp->payload_len; i++) printf("%02x", resp->payload[i]);
    putchar('\n');
  }
  fflush(stdout);
}

static const char *nb_coap_cf_name(int cf) {
  const nb_coap_cf_row *row = nb_coap_cf_find(cf);
  return row ? row->name : "?";
}

/* One option as "Name: value" on stderr. */
static void nb_coap_print_option(const nb_coap_option *opt) {
  const nb_coap_option_def *def = nb_coap_option_def_find(opt->number);
  uint64_t v = 0;
  for (size_t i = 0; i < opt->len && i < 8; i++) v = v << 8 | opt->value[i];
  if (def) {
    fprintf(stderr, "   %s: ", def->name);
  } else {
    fprintf(stderr, "   Option %u: ", opt->number);
  }
  if (opt->number == NB_COAP_OPT_CONTENT_FORMAT || opt->number == NB_COAP_OPT_ACCEPT) {
    fprintf(stderr, "%llu (%s)\n", (unsigned long long)v, nb_coap_cf_name((int)v));
  } else if (opt->number == NB_COAP_OPT_BLOCK1 || opt->number == NB_COAP_OPT_BLOCK2) {
    fprintf(stderr, "num=%llu more=%u size=%u\n", (unsigned long long)(v >> 4),
            (unsigned)((v >> 3) & 1), 16u << (v & 7));
  } else if (def && def->format == NB_COAP_FMT_UINT) {
    fprintf(stderr, "%llu\n", (unsigned long long)v);
  } else if (def && def->format == NB_COAP_FMT_STRING) {
    fprintf(stderr, "\"%.*s\"\n", (int)opt->len, (const char *)opt->value);
  } else {
    for (size_t i = 0; i < opt->len; i++) fprintf(stderr, "%02x", opt->value[i]);
    fputc('\n', stderr);
  }
}

static void nb_coap_print_options(const nb_coap_msg *m) {
  for (size_t i = 0; i < m->option_count; i++) nb_coap_print_option(&m->options[i]);
  fprintf(stderr, "   payload: %zu bytes\n", m->payload_len);
}

static void nb_coap_print_request(const nb_coap_opts *o, const nb_coap_msg *req) {
  fprintf(stderr, "-> %s %s %s\n", o->non ? "NON" : "CON", nb_coap_code_name(req->code), o->uri);
  nb_coap_print_options(req);
}

static void nb_coap_print_response(const nb_coap_msg *resp) {
  char code[8];
  fprintf(stderr, "<- %s %s\n", nb_coap_code_format(resp->code, code),
          nb_coap_code_name(resp->code));
  nb_coap_print_options(resp);
}

/* ---- running the request ---- */

static void nb_coap_client_stop(nb_coap_client *cl) { nb_io_loop_stop(cl->loop); }

static void nb_coap_on_finish_timer(uv_timer_t *t);

/* Ends the run with exit_code: an active observation is cancelled (GET with Observe=1) first. */
static void nb_coap_client_finish(nb_coap_client *cl, int exit_code) {
  cl->exit_code = exit_code;
  if (cl->finishing) return;
  cl->finishing = true;
  uv_timer_stop(&cl->timeout_timer);
  uv_timer_stop(&cl->duration_timer);
  if (cl->request_done) {
    nb_coap_client_stop(cl);
    return;
  }
  nb_coap_ep *ep = nb_io_coap_ep(cl->coap);
  bool active = cl->opts->observe && cl->responses > 0;
  if (nb_coap_ep_cancel(ep, cl->id, active, nb_io_loop_now(cl->loop)) != NB_OK || !active) {
    nb_coap_client_stop(cl);
    return;
  }
  /* The cancellation ends the run (NB_ERR_CANCELLED); this bounds the wait for it. */
  uv_timer_start(&cl->finish_timer, nb_coap_on_finish_timer, NB_COAP_CANCEL_GRACE_MS, 0);
}

static void nb_coap_on_finish_timer(uv_timer_t *t) {
  nb_coap_client *cl = t->data;
  if (!cl->finishing) {
    nb_coap_client_finish(cl, cl->exit_code);
  } else {
    nb_coap_client_stop(cl); /* the cancellation did not complete in time */
  }
}

/* Calls finish after the current endpoint callback has returned. */
static void nb_coap_client_finish_later(nb_coap_client *cl, int exit_code) {
  cl->exit_code = exit_code;
  uv_timer_start(&cl->finish_timer, nb_coap_on_finish_timer, 0, 0);
}

static void nb_coap_on_response(void *user, nb_err err, const nb_coap_msg *resp, bool last,
                                nb_time_ms now) {
  (void)now;
  nb_coap_client *cl = user;
  const nb_coap_opts *o = cl->opts;
  if (last) cl->request_done = true;
  if (err == NB_OK) {
    cl->responses++;
    uv_timer_stop(&cl->timeout_timer);
    bool ok = NB_COAP_CLASS(resp->code) == 2;
    if (o->verbose) nb_coap_print_response(resp);
    nb_coap_print_payload(o, resp);
    if (!ok) {
      char code[8];
      fprintf(stderr, "niobium coap: server answered %s %s\n",
              nb_coap_code_format(resp->code, code), nb_coap_code_name(resp->code));
    }
    if (!ok || last || (o->count && cl->responses >= o->count)) {
      nb_coap_client_finish_later(cl, ok ? NB_EXIT_OK : NB_EXIT_FAILURE);
    }
    return;
  }
  if (err == NB_ERR_CANCELLED) {
    if (cl->finishing) nb_coap_client_stop(cl);
    return;
  }
  if (err == NB_ERR_TIMEOUT) {
    fprintf(stderr, "niobium coap: no response from the server (retransmissions exhausted)\n");
  } else {
    fprintf(stderr, "niobium coap: request failed: %s\n", nb_strerror(err));
  }
  nb_coap_client_finish_later(cl, NB_EXIT_FAILURE);
}

static void nb_coap_on_timeout(uv_timer_t *t) {
  nb_coap_client *cl = t->data;
  if (cl->dtls && !cl->dtls_up) {
    fprintf(stderr,
            "niobium coap: DTLS handshake failed: no answer within %g s (no coaps server there, "
            "or it silently dropped our credentials, e.g. a wrong PSK key?)\n",
            cl->opts->timeout);
  } else {
    fprintf(stderr, "niobium coap: no response within %g s (use --timeout to wait longer)\n",
            cl->opts->timeout);
  }
  nb_coap_client_finish(cl, NB_EXIT_FAILURE);
}

static void nb_coap_on_duration(uv_timer_t *t) {
  nb_coap_client *cl = t->data;
  nb_coap_client_finish(cl, cl->responses > 0 ? NB_EXIT_OK : NB_EXIT_FAILURE);
}

static void nb_coap_on_signal(void *user, int signum) {
  (void)signum;
  nb_coap_client *cl = user;
  if (++cl->signals > 1) {
    nb_coap_client_stop(cl);
    return;
  }
  /* Ctrl-C is how an open-ended observation ends: a success if something was observed. */
  bool ok = cl->opts->observe && cl->responses > 0;
  if (!ok) fprintf(stderr, "niobium coap: interrupted\n");
  nb_coap_client_finish(cl, ok ? NB_EXIT_OK : NB_EXIT_FAILURE);
}

static uint64_t nb_coap_ms(double seconds) { return (uint64_t)llround(seconds * 1000.0); }

/* Builds the request message (options from the URI and the command line). */
static int nb_coap_build_request(const nb_coap_opts *o, nb_coap_msg *req, nb_addr *peer) {
  nb_coap_msg_init(req, o->non ? NB_COAP_NON : NB_COAP_CON, o->method, 0);
  int rc = nb_coap_uri_parse(o->uri, req, peer);
  if (rc != NB_EXIT_OK) return rc;
  nb_err err = NB_OK;
  if (o->observe) err = nb_coap_msg_add_uint(req, NB_COAP_OPT_OBSERVE, 0);
  if (err == NB_OK && o->content_format != NB_COAP_CF_NONE) {
    err = nb_coap_msg_add_uint(req, NB_COAP_OPT_CONTENT_FORMAT, (uint32_t)o->content_format);
  }
  if (err == NB_OK && o->accept != NB_COAP_CF_NONE) {
    err = nb_coap_msg_add_uint(req, NB_COAP_OPT_ACCEPT, (uint32_t)o->accept);
  }
  if (err == NB_OK && o->block_size && !o->has_payload) {
    /* Ask for the block size up front (RFC 7959 2.4) so the server never sends larger ones. */
    unsigned szx = 0;
    while ((16u << szx) < o->block_size) szx++;
    err = nb_coap_msg_add_uint(req, NB_COAP_OPT_BLOCK2, szx);
  }
  if (err != NB_OK) return nb_coap_usage_error("%s: too many options", "request");
  nb_coap_msg_set_payload(req, o->payload.data, o->payload.len);
  return NB_EXIT_OK;
}

/* DTLS outcome: -v tells the suite and who answered; a failed or closed session ends the run. */
static void nb_coap_on_dtls_event(void *user, const nb_addr *peer, nb_dtls_session *s,
                                  const nb_dtls_event *ev, nb_time_ms now) {
  (void)peer, (void)now;
  nb_coap_client *cl = user;
  char text[512];
  if (ev->type == NB_DTLS_EV_ESTABLISHED) {
    cl->dtls_up = true;
    if (cl->opts->verbose) {
      nb_app_dtls_describe_peer(nb_dtls_session_peer(s), text, sizeof text);
      fprintf(stderr, "DTLS %s: suite %s, server %s\n", ev->resumed ? "resumed" : "established",
              nb_dtls_session_suite(s), text);
    }
    return;
  }
  if (cl->request_done || cl->finishing) return;
  nb_app_dtls_describe_failure(ev, text, sizeof text);
  fprintf(stderr, "niobium coap: DTLS %s: %s\n",
          ev->type == NB_DTLS_EV_FAILED ? "handshake failed" : "session closed", text);
  nb_coap_client_finish_later(cl, NB_EXIT_FAILURE);
}

/* coaps: CoAP over a DTLS client session on a new socket. */
static nb_err nb_coap_client_open_dtls(nb_coap_client *cl, const nb_addr *local,
                                       const nb_coap_ep_config *cfg) {
  nb_io_dtls_config dcfg;
  nb_io_dtls_config_default(&dcfg, NB_IO_DTLS_CLIENT);
  dcfg.creds = nb_app_dtls_creds(cl->creds);
  dcfg.event = nb_coap_on_dtls_event;
  dcfg.event_user = cl;
  return nb_io_dtls_coap_open(cl->loop, local, &dcfg, cfg, &cl->udp, &cl->dtls, &cl->coap);
}

static nb_err nb_coap_client_open(nb_coap_client *cl, const nb_addr *peer) {
  const nb_coap_opts *o = cl->opts;
  nb_coap_ep_config cfg;
  nb_coap_ep_config_default(&cfg);
  if (o->block_size) {
    cfg.block_szx = 0;
    while ((16u << cfg.block_szx) < o->block_size) cfg.block_szx++;
  }
  /* A NON request, or a CON one answered by an empty ACK, waits for its response this long. */
  cfg.response_timeout = (nb_time_ms)nb_coap_ms(o->timeout);
  nb_addr local = {.family = peer->family};
  nb_err err = nb_io_loop_new(&cl->loop);
  if (err != NB_OK) return err;
  if (o->secure) {
    /* Room for the record header, IV, MAC and padding within the DTLS MTU (1200). */
    cfg.max_message = NB_COAPS_MAX_MESSAGE;
    err = nb_coap_client_open_dtls(cl, &local, &cfg);
  } else {
    err = nb_io_coap_open_udp(cl->loop, &local, &cfg, &cl->coap);
  }
  if (err != NB_OK) return err;
  uv_loop_t *uv = nb_io_loop_uv(cl->loop);
  uv_timer_init(uv, &cl->timeout_timer);
  uv_timer_init(uv, &cl->duration_timer);
  uv_timer_init(uv, &cl->finish_timer);
  cl->timeout_timer.data = cl->duration_timer.data = cl->finish_timer.data = cl;
  return nb_io_loop_on_signals(cl->loop, nb_coap_on_signal, cl);
}

static void nb_coap_client_close(nb_coap_client *cl) {
  if (!cl->loop) return;
  if (cl->coap) {
    if (cl->dtls) nb_io_dtls_close_peers(cl->dtls, NULL);
    nb_io_coap_free(cl->coap);
    nb_io_dtls_free(cl->dtls);
    nb_io_udp_close(cl->udp);
    uv_close((uv_handle_t *)&cl->timeout_timer, NULL);
    uv_close((uv_handle_t *)&cl->duration_timer, NULL);
    uv_close((uv_handle_t *)&cl->finish_timer, NULL);
  }
  nb_io_loop_free(cl->loop);
  nb_app_dtls_free(cl->creds);
}

/* coaps credentials from the options; the server's name (from the URI) is checked against its
 * certificate. */
static int nb_coap_client_creds(const nb_coap_opts *o, nb_app_dtls **out) {
  int rc = nb_app_dtls_build(&o->dtls, false, "niobium coap", out);
  if (rc != NB_EXIT_OK) return rc;
  char host[256];
  if (nb_app_dtls_uri_host(o->uri, host, sizeof host) &&
      nb_app_dtls_set_peer_name(*out, host) != NB_OK) {
    nb_app_dtls_free(*out);
    *out = NULL;
    fprintf(stderr, "niobium coap: out of memory\n");
    return NB_EXIT_FAILURE;
  }
  return NB_EXIT_OK;
}

static int nb_coap_client_run(const nb_coap_opts *o) {
  nb_coap_msg req;
  nb_addr peer;
  int rc = nb_coap_build_request(o, &req, &peer);
  if (rc != NB_EXIT_OK) return rc;
  nb_coap_client cl = {.opts = o, .exit_code = NB_EXIT_FAILURE};
  if (o->secure) {
    /* The DTLS outcome is reported in plain words below; its log lines only with -v. */
    if (!o->verbose) nb_log_set_level(NB_LOG_WARN);
    rc = nb_coap_client_creds(o, &cl.creds);
    if (rc != NB_EXIT_OK) return rc;
  }
  nb_err err = nb_coap_client_open(&cl, &peer);
  if (err != NB_OK) {
    fprintf(stderr, "niobium coap: cannot open a UDP socket: %s\n", nb_strerror(err));
    nb_coap_client_close(&cl);
    return NB_EXIT_FAILURE;
  }
  if (o->verbose) nb_coap_print_request(o, &req);
  nb_time_ms now = nb_io_loop_now(cl.loop);
  err = nb_coap_ep_request(nb_io_coap_ep(cl.coap), &peer, &req, !o->non, nb_coap_on_response, &cl,
                           now, &cl.id);
  if (err != NB_OK) {
    fprintf(stderr, "niobium coap: cannot send the request: %s\n", nb_strerror(err));
    nb_coap_client_close(&cl);
    return NB_EXIT_FAILURE;
  }
  uv_timer_start(&cl.timeout_timer, nb_coap_on_timeout, nb_coap_ms(o->timeout), 0);
  if (o->duration > 0) {
    uv_timer_start(&cl.duration_timer, nb_coap_on_duration, nb_coap_ms(o->duration), 0);
  }
  nb_io_loop_run(cl.loop);
  nb_coap_client_close(&cl);
  return cl.exit_code;
}

int nb_cmd_coap(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    nb_coap_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? NB_EXIT_USAGE : NB_EXIT_OK;
  }
  if (strcmp(argv[1], "serve") == 0) return nb_cmd_coap_serve(argc - 1, argv + 1);
  nb_coap_opts o = {0};
  nb_bytes_init(&o.payload);
  int rc = nb_coap_opts_parse(argc - 1, argv + 1, &o);
  if (rc == NB_EXIT_OK) rc = nb_coap_client_run(&o);
  nb_bytes_free(&o.payload);
  return rc < 0 ? NB_EXIT_OK : rc;
}
