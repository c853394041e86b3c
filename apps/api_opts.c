/* REST API listener options and secret files: see api_opts.h. */
#include "api_opts.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "http/console.h"

#define PEM_MAX 65536 /* a certificate chain or a key file, bytes */

void nb_api_opts_init(nb_api_opts *o, const char *cmd) {
  memset(o, 0, sizeof(*o));
  o->cmd = cmd;
}

static void wipe_free(char *s) {
  if (s) memset(s, 0, strlen(s));
  free(s);
}

void nb_api_opts_free(nb_api_opts *o) {
  wipe_free(o->token);
  wipe_free(o->key);
  free(o->cert);
  o->token = o->key = o->cert = NULL;
}

bool nb_api_token_valid(const char *t) {
  size_t n = t ? strlen(t) : 0;
  if (n < NB_API_TOKEN_MIN || n > NB_API_TOKEN_MAX) return false;
  for (; *t; t++)
    if (*t <= 0x20 || *t >= 0x7f) return false;
  return true;
}

/* ---- files ---- */

/* The whole of a small file (at most cap - 1 bytes) as a string; NULL with why. */
static char *read_small(int fd, size_t cap, const char *path, char *why, size_t why_cap) {
  char *buf = malloc(cap);
  size_t n = 0;
  ssize_t r = 0;
  while (buf && n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0) n += (size_t)r;
  char extra;
  if (!buf || r < 0 || (n == cap - 1 && read(fd, &extra, 1) > 0)) {
    snprintf(why, why_cap, "cannot read %s (or it is larger than %zu bytes)", path, cap - 1);
    if (buf) memset(buf, 0, cap);
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  return buf;
}

char *nb_secret_file_read(const char *path, char *why, size_t cap) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    snprintf(why, cap, "cannot open %s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return NULL;
  }
  if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IRWXG | S_IRWXO))) {
    snprintf(why, cap,
             "%s must be a regular file that only its owner can read (chmod 600 %s): it "
             "holds a secret",
             path, path);
    close(fd);
    return NULL;
  }
  char *s = read_small(fd, NB_API_TOKEN_MAX + 4, path, why, cap);
  close(fd);
  if (!s) return NULL;
  size_t n = strlen(s);
  if (n && s[n - 1] == '\n') s[--n] = '\0';
  if (n && s[n - 1] == '\r') s[--n] = '\0';
  if (strchr(s, '\n')) {
    snprintf(why, cap, "%s must hold one line (the secret)", path);
    wipe_free(s);
    return NULL;
  }
  return s;
}

static char *read_pem(const char *path, const char *cmd) {
  char why[300];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  char *s = fd >= 0 ? read_small(fd, PEM_MAX, path, why, sizeof(why)) : NULL;
  if (fd < 0) snprintf(why, sizeof(why), "cannot open %s: %s", path, strerror(errno));
  if (fd >= 0) close(fd);
  if (!s) fprintf(stderr, "%s: %s\n", cmd, why);
  return s;
}

/* ---- options ---- */

static int set_token(nb_api_opts *o, const char *value, bool from_file) {
  char why[300];
  char *t = from_file ? nb_secret_file_read(value, why, sizeof(why)) : strdup(value);
  if (!t) {
    fprintf(stderr, "%s: %s\n", o->cmd, from_file ? why : "out of memory");
    return NB_EXIT_FAILURE;
  }
  wipe_free(o->token);
  o->token = t;
  return NB_EXIT_OK;
}

static int set_limit(nb_api_opts *o, size_t *field, const char *opt, const char *arg) {
  char *end;
  unsigned long v = strtoul(arg, &end, 10);
  if (end == arg || *end || arg[0] == '-' || v < 1 || v > 1000000) {
    fprintf(stderr, "%s: %s takes 1..1000000\n", o->cmd, opt);
    return NB_EXIT_USAGE;
  }
  *field = v;
  o->given = true;
  return NB_EXIT_OK;
}

static int add_host(nb_api_opts *o, const char *name) {
  nb_http_guard g;
  nb_http_guard_init(&g, false);
  if (nb_http_guard_add_name(&g, name) != NB_OK) {
    fprintf(stderr, "%s: --http-host '%s' is not a host name, NAME:PORT or an IP address\n", o->cmd,
            name);
    return NB_EXIT_USAGE;
  }
  if (o->nhosts == NB_HTTP_GUARD_NAMES_MAX) {
    fprintf(stderr, "%s: at most %d --http-host names\n", o->cmd, NB_HTTP_GUARD_NAMES_MAX);
    return NB_EXIT_USAGE;
  }
  o->hosts[o->nhosts++] = name;
  o->given = true;
  return NB_EXIT_OK;
}

static int set_tiles(nb_api_opts *o, const char *url) {
  char origin[NB_CONSOLE_TILES_MAX];
  const char *why;
  if (nb_console_tiles_check(url, origin, sizeof origin, &why) != NB_OK) {
    fprintf(stderr, "%s: --console-tiles: %s\n", o->cmd, why);
    return NB_EXIT_USAGE;
  }
  o->tiles = url;
  return NB_EXIT_OK;
}

int nb_api_opts_parse(nb_api_opts *o, int code, const char *arg) {
  switch (code) {
    case NB_AO_CONSOLE_TILES:
      return set_tiles(o, arg);
    case NB_AO_TOKEN:
      return set_token(o, arg, false);
    case NB_AO_TOKEN_FILE:
      return set_token(o, arg, true);
    case NB_AO_HOST:
      return add_host(o, arg);
    case NB_AO_CERT:
      o->cert_path = arg;
      o->given = true;
      return NB_EXIT_OK;
    case NB_AO_KEY:
      o->key_path = arg;
      o->given = true;
      return NB_EXIT_OK;
    case NB_AO_INSECURE:
      o->insecure = true;
      o->given = true;
      return NB_EXIT_OK;
    case NB_AO_MAX_CONNS:
      return set_limit(o, &o->limits.max_conns, "--http-max-conns", arg);
    case NB_AO_MAX_CONNS_ADDR:
      return set_limit(o, &o->limits.max_conns_per_addr, "--http-max-conns-per-addr", arg);
    case NB_AO_MAX_STREAMS:
      return set_limit(o, &o->limits.max_streams, "--http-max-streams", arg);
    case NB_AO_MAX_STREAMS_ADDR:
      return set_limit(o, &o->limits.max_streams_per_addr, "--http-max-streams-per-addr", arg);
    default:
      return -1;
  }
}

static bool is_loopback(const nb_addr *a) {
  static const uint8_t v6lo[16] = {[15] = 1};
  return a->family == NB_ADDR_V4 ? a->ip[0] == 127 : memcmp(a->ip, v6lo, 16) == 0;
}

/* The certificate and key load together in GnuTLS (as libmicrohttpd will load them). */
static int load_tls(nb_api_opts *o) {
  if (!(o->cert = read_pem(o->cert_path, o->cmd)) || !(o->key = read_pem(o->key_path, o->cmd)))
    return NB_EXIT_FAILURE;
  gnutls_certificate_credentials_t cr;
  if (gnutls_certificate_allocate_credentials(&cr) != GNUTLS_E_SUCCESS) return NB_EXIT_FAILURE;
  gnutls_datum_t c = {(unsigned char *)o->cert, (unsigned)strlen(o->cert)};
  gnutls_datum_t k = {(unsigned char *)o->key, (unsigned)strlen(o->key)};
  int rc = gnutls_certificate_set_x509_key_mem(cr, &c, &k, GNUTLS_X509_FMT_PEM);
  gnutls_certificate_free_credentials(cr);
  if (rc < 0) {
    fprintf(stderr,
            "%s: cannot use --http-cert %s with --http-key %s (%s): PEM chain and its key\n",
            o->cmd, o->cert_path, o->key_path, gnutls_strerror(rc));
    return NB_EXIT_FAILURE;
  }
  return NB_EXIT_OK;
}

int nb_api_opts_finish(nb_api_opts *o, const nb_addr *listen) {
  char addr[NB_ADDR_STRLEN];
  nb_addr_format(listen, addr, sizeof(addr));
  if (o->token && !nb_api_token_valid(o->token)) {
    fprintf(stderr,
            "%s: the API token must be %d to %d visible ASCII characters without spaces "
            "(e.g. the hex of `niobium keys psk --bytes 24`)\n",
            o->cmd, NB_API_TOKEN_MIN, NB_API_TOKEN_MAX);
    return NB_EXIT_USAGE;
  }
  if (!o->cert_path != !o->key_path) {
    fprintf(stderr, "%s: --http-cert and --http-key go together\n", o->cmd);
    return NB_EXIT_USAGE;
  }
  if (!is_loopback(listen) && !o->token) {
    fprintf(stderr,
            "%s: the API on %s needs --api-token or --api-token-file (or bind it to "
            "127.0.0.1)\n",
            o->cmd, addr);
    return NB_EXIT_USAGE;
  }
  if (!is_loopback(listen) && !o->cert_path && !o->insecure) {
    fprintf(stderr,
            "%s: the API on %s would carry its token and credentials in clear: give "
            "--http-cert FILE --http-key FILE (PEM) to serve HTTPS, or --insecure-http if a "
            "TLS proxy on this host fronts it (or bind it to 127.0.0.1)\n",
            o->cmd, addr);
    return NB_EXIT_USAGE;
  }
  return o->cert_path ? load_tls(o) : NB_EXIT_OK;
}

void nb_api_opts_apply(const nb_api_opts *o, nb_http_api_config *hc) {
  hc->api_token = o->token;
  hc->hosts = o->hosts;
  hc->nhosts = o->nhosts;
  hc->limits = o->limits;
  hc->tls_cert = o->cert;
  hc->tls_key = o->key;
  hc->console_tiles = o->tiles;
}
