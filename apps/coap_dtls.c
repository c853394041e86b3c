/* DTLS options of `niobium coap` and `niobium coap serve`: parsing, credentials, messages. */
#include "coap_dtls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/hex.h"
#include "dtls/keys.h"
#include "dtls/record.h"

#define NB_APP_PSK_MAX_ENTRIES 1024

typedef struct {
  char *identity;
  size_t identity_len;
  uint8_t key[NB_DTLS_PSK_KEY_MAX];
  size_t key_len;
} nb_app_psk;

struct nb_app_dtls {
  nb_dtls_creds *creds;
  nb_app_psk *psks; /* server: the identities it knows */
  size_t n_psks;
  char (*ids)[NB_DTLS_SECURE_ID_LEN + 1]; /* accepted raw public keys */
  size_t n_ids;
};

/* ---- options ---- */

static int nb_app_list_add(const char **list, size_t *n, const char *arg, const char *prog,
                           const char *what) {
  if (*n == NB_APP_DTLS_MAX_LIST) {
    fprintf(stderr, "%s: at most %d %s options\n", prog, NB_APP_DTLS_MAX_LIST, what);
    return -1;
  }
  list[(*n)++] = arg;
  return 1;
}

int nb_app_dtls_opt(nb_app_dtls_opts *o, int c, const char *arg, const char *prog) {
  switch (c) {
    case NB_APP_OPT_PSK_IDENTITY:
      o->psk_identity = arg;
      return 1;
    case NB_APP_OPT_PSK_KEY:
      o->psk_key = arg;
      return 1;
    case NB_APP_OPT_PSK_FILE:
      o->psk_file = arg;
      o->server_only_used = true;
      return 1;
    case NB_APP_OPT_RPK_KEY:
      o->rpk_key = arg;
      return 1;
    case NB_APP_OPT_CERT:
      o->cert = arg;
      return 1;
    case NB_APP_OPT_KEY:
      o->key = arg;
      return 1;
    case NB_APP_OPT_CA:
      o->ca = arg;
      return 1;
    case NB_APP_OPT_CIPHERS:
      o->ciphers = arg;
      return 1;
    case NB_APP_OPT_PEER_CERT:
      o->peer_cert = arg;
      o->client_only_used = true;
      return 1;
    case NB_APP_OPT_PEER_KEY:
    case NB_APP_OPT_CLIENT_KEY:
      if (c == NB_APP_OPT_PEER_KEY)
        o->client_only_used = true;
      else
        o->server_only_used = true;
      return nb_app_list_add(o->peer_keys, &o->n_peer_keys, arg, prog, "key");
    case NB_APP_OPT_PEER_SECURE_ID:
    case NB_APP_OPT_CLIENT_SECURE_ID:
      if (c == NB_APP_OPT_PEER_SECURE_ID)
        o->client_only_used = true;
      else
        o->server_only_used = true;
      return nb_app_list_add(o->peer_ids, &o->n_peer_ids, arg, prog, "secure ID");
    default:
      return 0;
  }
}

bool nb_app_dtls_given(const nb_app_dtls_opts *o) {
  return o->psk_identity || o->psk_key || o->psk_file || o->rpk_key || o->n_peer_keys ||
         o->n_peer_ids || o->cert || o->key || o->ca || o->peer_cert || o->ciphers;
}

/* ---- helpers ---- */

/* Hex (colons allowed, optional 0x) into key; false when malformed or out of 1..cap bytes. */
static bool nb_app_unhex(const char *text, size_t n, uint8_t *key, size_t cap, size_t *len) {
  if (n >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text += 2, n -= 2;
  return nb_hex_decode(text, n, ":", key, cap, len) == NB_OK && *len > 0;
}

static bool nb_app_read(const char *path, nb_bytes *out, const char *prog) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: cannot read '%s': %s\n", prog, path, strerror(errno));
    return false;
  }
  uint8_t chunk[4096];
  size_t n;
  bool ok = true;
  while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
    ok = nb_bytes_append(out, chunk, n) == NB_OK;
  ok = ok && !ferror(f);
  fclose(f);
  if (!ok) fprintf(stderr, "%s: cannot read '%s'\n", prog, path);
  return ok;
}

/* ---- PSK store (server) ---- */

static nb_err nb_app_psk_lookup(void *user, const uint8_t *identity, size_t identity_len,
                                uint8_t *key, size_t cap, size_t *key_len) {
  const nb_app_dtls *a = user;
  for (size_t i = 0; i < a->n_psks; i++) {
    const nb_app_psk *p = &a->psks[i];
    if (p->identity_len != identity_len || memcmp(p->identity, identity, identity_len) != 0)
      continue;
    if (p->key_len > cap) return NB_ERR_OVERFLOW;
    memcpy(key, p->key, p->key_len);
    *key_len = p->key_len;
    return NB_OK;
  }
  return NB_ERR_NOT_FOUND;
}

static int nb_app_psk_add(nb_app_dtls *a, const char *id, size_t id_len, const char *hex,
                          size_t hex_len, const char *prog, const char *where) {
  if (a->n_psks == NB_APP_PSK_MAX_ENTRIES) {
    fprintf(stderr, "%s: %s: more than %d PSK identities\n", prog, where, NB_APP_PSK_MAX_ENTRIES);
    return 2;
  }
  if (id_len == 0 || id_len > NB_DTLS_PSK_IDENTITY_MAX) {
    fprintf(stderr, "%s: %s: the PSK identity must be 1-%d bytes\n", prog, where,
            NB_DTLS_PSK_IDENTITY_MAX);
    return 2;
  }
  nb_app_psk *grown = realloc(a->psks, (a->n_psks + 1) * sizeof *grown);
  if (!grown) return 1;
  a->psks = grown;
  nb_app_psk *p = &a->psks[a->n_psks];
  memset(p, 0, sizeof *p);
  if (!nb_app_unhex(hex, hex_len, p->key, sizeof p->key, &p->key_len)) {
    fprintf(stderr, "%s: %s: the PSK key must be 1-%d bytes in hex\n", prog, where,
            NB_DTLS_PSK_KEY_MAX);
    return 2;
  }
  p->identity = malloc(id_len + 1);
  if (!p->identity) return 1;
  memcpy(p->identity, id, id_len);
  p->identity[id_len] = 0;
  p->identity_len = id_len;
  a->n_psks++;
  return 0;
}

/* Lines "identity,hexkey"; blank lines and lines starting with '#' are skipped. */
static int nb_app_psk_file(nb_app_dtls *a, const char *path, const char *prog) {
  nb_bytes text;
  nb_bytes_init(&text);
  if (!nb_app_read(path, &text, prog)) {
    nb_bytes_free(&text);
    return 1;
  }
  int rc = 0;
  const char *p = (const char *)text.data, *end = p + text.len;
  for (unsigned line = 1; rc == 0 && p < end; line++) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *stop = eol ? eol : end;
    size_t n = (size_t)(stop - p);
    if (n > 0 && p[n - 1] == '\r') n--;
    if (n > 0 && p[0] != '#') {
      const char *comma = memchr(p, ',', n);
      char where[300];
      snprintf(where, sizeof where, "%s line %u", path, line);
      if (!comma) {
        fprintf(stderr, "%s: %s: expected 'identity,hexkey'\n", prog, where);
        rc = 2;
      } else {
        rc = nb_app_psk_add(a, p, (size_t)(comma - p), comma + 1, (size_t)(p + n - comma - 1), prog,
                            where);
      }
    }
    p = stop + 1;
  }
  nb_bytes_free(&text);
  if (rc == 0 && a->n_psks == 0) {
    fprintf(stderr, "%s: %s holds no 'identity,hexkey' line\n", prog, path);
    rc = 2;
  }
  return rc;
}

/* ---- raw public keys accepted from the peer ---- */

static nb_err nb_app_verify(void *user, const nb_dtls_peer *peer, const uint8_t *raw, size_t len) {
  (void)raw, (void)len;
  const nb_app_dtls *a = user;
  if (peer->mode != NB_DTLS_MODE_RPK) return NB_OK; /* certificates: the CA or pin decides */
  for (size_t i = 0; i < a->n_ids; i++) {
    if (strcmp(a->ids[i], peer->secure_id) == 0) return NB_OK;
  }
  return NB_ERR_NOT_FOUND;
}

static int nb_app_id_add(nb_app_dtls *a, const char *id) {
  char(*grown)[NB_DTLS_SECURE_ID_LEN + 1] = realloc(a->ids, (a->n_ids + 1) * sizeof *grown);
  if (!grown) return 1;
  a->ids = grown;
  snprintf(a->ids[a->n_ids++], NB_DTLS_SECURE_ID_LEN + 1, "%s", id);
  return 0;
}

static int nb_app_accepted_keys(nb_app_dtls *a, const nb_app_dtls_opts *o, const char *prog) {
  for (size_t i = 0; i < o->n_peer_ids; i++) {
    const char *id = o->peer_ids[i];
    bool ok = strlen(id) == NB_DTLS_SECURE_ID_LEN;
    for (size_t k = 0; ok && id[k]; k++) ok = nb_hex_digit(id[k]) >= 0;
    if (!ok) {
      fprintf(stderr, "%s: secure ID '%s': expected %d hex digits (see 'niobium keys ec')\n", prog,
              id, NB_DTLS_SECURE_ID_LEN);
      return 2;
    }
    char lower[NB_DTLS_SECURE_ID_LEN + 1];
    for (size_t k = 0; k <= NB_DTLS_SECURE_ID_LEN; k++)
      lower[k] = (char)(id[k] >= 'A' && id[k] <= 'F' ? id[k] + 32 : id[k]);
    if (nb_app_id_add(a, lower)) return 1;
  }
  for (size_t i = 0; i < o->n_peer_keys; i++) {
    nb_bytes file, spki;
    nb_bytes_init(&file);
    nb_bytes_init(&spki);
    char id[NB_DTLS_SECURE_ID_LEN + 1];
    int rc = nb_app_read(o->peer_keys[i], &file, prog) ? 0 : 1;
    if (rc == 0 && (nb_dtls_spki_load(file.data, file.len, &spki) != NB_OK ||
                    !nb_dtls_spki_is_p256(spki.data, spki.len) ||
                    nb_dtls_secure_id(spki.data, spki.len, id) != NB_OK)) {
      fprintf(stderr, "%s: '%s' is not a P-256 public key, private key or certificate\n", prog,
              o->peer_keys[i]);
      rc = 1;
    }
    if (rc == 0) rc = nb_app_id_add(a, id);
    nb_bytes_free(&file);
    nb_bytes_free(&spki);
    if (rc) return rc;
  }
  return 0;
}

/* ---- cipher suites ---- */

typedef struct {
  const char *name;
  bool psk;
  const char *cipher, *mac;
} nb_app_suite;

static const nb_app_suite nb_app_suites[] = {
    {"TLS_PSK_WITH_AES_128_CCM_8", true, "AES-128-CCM-8", "AEAD"},
    {"TLS_PSK_WITH_AES_128_CBC_SHA256", true, "AES-128-CBC", "SHA256"},
    {"TLS_PSK_WITH_AES_128_GCM_SHA256", true, "AES-128-GCM", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", false, "AES-128-CCM-8", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", false, "AES-128-CBC", "SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", false, "AES-128-GCM", "AEAD"},
};
#define NB_APP_SUITE_COUNT (sizeof nb_app_suites / sizeof nb_app_suites[0])

static void nb_app_suites_list(FILE *out) {
  for (size_t i = 0; i < NB_APP_SUITE_COUNT; i++) fprintf(out, "  %s\n", nb_app_suites[i].name);
}

/* A GnuTLS priority string allowing exactly the comma-separated suites of `list`. */
static int nb_app_priority(const char *list, bool rpk, bool x509, char *out, size_t cap,
                           const char *prog) {
  nb_writer w;
  nb_writer_init(&w, (uint8_t *)out, cap - 1);
  nb_writer_str(&w, "NONE:+VERS-DTLS1.2:+COMP-NULL");
  bool psk = false, ecdsa = false;
  for (const char *p = list; *p;) {
    size_t n = strcspn(p, ",");
    const nb_app_suite *s = NULL;
    for (size_t i = 0; i < NB_APP_SUITE_COUNT; i++) {
      if (strlen(nb_app_suites[i].name) == n && strncasecmp(nb_app_suites[i].name, p, n) == 0)
        s = &nb_app_suites[i];
    }
    if (!s) {
      fprintf(stderr, "%s: --ciphers: unknown suite '%.*s'; known suites:\n", prog, (int)n, p);
      nb_app_suites_list(stderr);
      return 2;
    }
    nb_writer_str(&w, ":+");
    nb_writer_str(&w, s->cipher);
    nb_writer_str(&w, ":+");
    nb_writer_str(&w, s->mac);
    if (s->psk)
      psk = true;
    else
      ecdsa = true;
    p += n + (p[n] == ',');
  }
  if (psk) nb_writer_str(&w, ":+PSK");
  if (ecdsa) nb_writer_str(&w, ":+ECDHE-ECDSA");
  nb_writer_str(&w, ":+GROUP-SECP256R1:+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-ECDSA-SHA256");
  if (x509) nb_writer_str(&w, ":+SIGN-ALL:+CTYPE-CLI-X509:+CTYPE-SRV-X509");
  if (rpk) nb_writer_str(&w, ":+CTYPE-CLI-RAWPK:+CTYPE-SRV-RAWPK");
  nb_writer_str(&w, ":%SERVER_PRECEDENCE");
  if (nb_writer_status(&w) != NB_OK) return 2;
  out[w.len] = 0;
  return 0;
}

/* ---- building ---- */

static int nb_app_usage(const char *prog, const char *msg) {
  fprintf(stderr, "%s: %s\nRun '%s --help' for the options.\n", prog, msg, prog);
  return 2;
}

/* Which modes the options ask for, and whether they fit the role. */
static int nb_app_check(const nb_app_dtls_opts *o, bool server, const char *prog) {
  bool psk = o->psk_identity || o->psk_key || o->psk_file;
  bool rpk = o->rpk_key != NULL;
  bool x509 = o->cert || o->key;
  if (server && o->client_only_used)
    return nb_app_usage(prog,
                        "--peer-key, --peer-secure-id and --peer-cert are client options "
                        "(the server takes --client-key, --client-secure-id, --ca)");
  if (!server && o->server_only_used)
    return nb_app_usage(prog,
                        "--client-key, --client-secure-id and --psk-file are server "
                        "options (the client takes --peer-key, --peer-secure-id)");
  if (!psk && !rpk && !x509)
    return nb_app_usage(prog,
                        "coaps needs credentials: --psk-identity/--psk-key, --rpk-key or "
                        "--cert/--key");
  if (rpk && x509) return nb_app_usage(prog, "give either --rpk-key or --cert/--key, not both");
  if (!server && psk && (rpk || x509))
    return nb_app_usage(prog, "give one credential mode: PSK, raw public key or certificate");
  if ((o->psk_identity || o->psk_key) && !(o->psk_identity && o->psk_key))
    return nb_app_usage(prog, "--psk-identity and --psk-key go together");
  if (x509 && !(o->cert && o->key)) return nb_app_usage(prog, "--cert and --key go together");
  if (rpk && o->n_peer_keys + o->n_peer_ids == 0)
    return nb_app_usage(prog, server ? "a raw public key client is never accepted blindly: give "
                                       "--client-key FILE or --client-secure-id ID"
                                     : "a raw public key server is never accepted blindly: give "
                                       "--peer-key FILE or --peer-secure-id ID");
  if (!rpk && o->n_peer_keys + o->n_peer_ids > 0)
    return nb_app_usage(prog, "--peer-key/--client-key and the secure ID options need --rpk-key");
  if (x509 && !o->ca && !o->peer_cert)
    return nb_app_usage(prog, server ? "certificate mode needs --ca FILE to check clients against"
                                     : "certificate mode needs --ca FILE (or --peer-cert FILE) to "
                                       "check the server against");
  if (!x509 && (o->ca || o->peer_cert))
    return nb_app_usage(prog, "--ca and --peer-cert need --cert/--key");
  return 0;
}

static int nb_app_load_own(nb_app_dtls *a, const nb_app_dtls_opts *o, bool server,
                           const char *prog) {
  nb_bytes k, c;
  nb_bytes_init(&k);
  nb_bytes_init(&c);
  int rc = 0;
  nb_err err = NB_OK;
  if (o->rpk_key) {
    rc = nb_app_read(o->rpk_key, &k, prog) ? 0 : 1;
    if (rc == 0) err = nb_dtls_creds_set_rpk(a->creds, k.data, k.len);
    if (rc == 0 && err != NB_OK) {
      fprintf(stderr, "%s: --rpk-key '%s': not a P-256 private key (%s)\n", prog, o->rpk_key,
              nb_strerror(err));
      rc = 1;
    }
  } else if (o->cert) {
    rc = nb_app_read(o->cert, &c, prog) && nb_app_read(o->key, &k, prog) ? 0 : 1;
    if (rc == 0) err = nb_dtls_creds_set_x509(a->creds, c.data, c.len, k.data, k.len);
    if (rc == 0 && err != NB_OK) {
      fprintf(stderr, "%s: --cert '%s' / --key '%s': %s\n", prog, o->cert, o->key,
              nb_strerror(err));
      rc = 1;
    }
  }
  if (rc == 0 && o->psk_identity && !server) {
    uint8_t key[NB_DTLS_PSK_KEY_MAX];
    size_t len;
    if (!nb_app_unhex(o->psk_key, strlen(o->psk_key), key, sizeof key, &len)) {
      rc = nb_app_usage(prog, "--psk-key: expected 1-64 bytes in hex");
    } else if (nb_dtls_creds_set_psk(a->creds, o->psk_identity, strlen(o->psk_identity), key,
                                     len) != NB_OK) {
      rc = nb_app_usage(prog, "--psk-identity: expected 1-256 bytes of UTF-8");
    }
    memset(key, 0, sizeof key);
  }
  nb_bytes_free(&k);
  nb_bytes_free(&c);
  return rc;
}

static int nb_app_load_file_into(nb_app_dtls *a, const char *path, bool pin, const char *prog) {
  nb_bytes b;
  nb_bytes_init(&b);
  int rc = nb_app_read(path, &b, prog) ? 0 : 1;
  if (rc == 0) {
    nb_err err = pin ? nb_dtls_creds_pin_cert(a->creds, b.data, b.len)
                     : nb_dtls_creds_add_trust(a->creds, b.data, b.len);
    if (err != NB_OK) {
      fprintf(stderr, "%s: '%s' is not a certificate (PEM or DER)\n", prog, path);
      rc = 1;
    }
  }
  nb_bytes_free(&b);
  return rc;
}

static int nb_app_load_peer(nb_app_dtls *a, const nb_app_dtls_opts *o, bool server,
                            const char *prog) {
  int rc = 0;
  if (server && (o->psk_identity || o->psk_file)) {
    if (o->psk_identity) {
      rc = nb_app_psk_add(a, o->psk_identity, strlen(o->psk_identity), o->psk_key,
                          strlen(o->psk_key), prog, "--psk-identity/--psk-key");
    }
    if (rc == 0 && o->psk_file) rc = nb_app_psk_file(a, o->psk_file, prog);
    nb_dtls_creds_set_psk_lookup(a->creds, nb_app_psk_lookup, a);
  }
  if (rc == 0) rc = nb_app_accepted_keys(a, o, prog);
  if (rc == 0 && a->n_ids > 0) nb_dtls_creds_set_verify(a->creds, nb_app_verify, a);
  if (rc == 0 && o->ca) rc = nb_app_load_file_into(a, o->ca, false, prog);
  if (rc == 0 && o->peer_cert) rc = nb_app_load_file_into(a, o->peer_cert, true, prog);
  return rc;
}

int nb_app_dtls_build(const nb_app_dtls_opts *o, bool server, const char *prog, nb_app_dtls **out) {
  *out = NULL;
  int rc = nb_app_check(o, server, prog);
  if (rc) return rc;
  nb_app_dtls *a = calloc(1, sizeof *a);
  if (!a || nb_dtls_creds_new(&a->creds) != NB_OK) {
    free(a);
    fprintf(stderr, "%s: out of memory\n", prog);
    return 1;
  }
  rc = nb_app_load_own(a, o, server, prog);
  if (rc == 0) rc = nb_app_load_peer(a, o, server, prog);
  if (rc == 0 && o->ciphers) {
    char prio[512];
    rc = nb_app_priority(o->ciphers, o->rpk_key != NULL, o->cert != NULL, prio, sizeof prio, prog);
    if (rc == 0 && nb_dtls_creds_set_priority(a->creds, prio) != NB_OK) {
      fprintf(stderr, "%s: --ciphers '%s': GnuTLS does not accept these suites\n", prog,
              o->ciphers);
      rc = 2;
    }
  }
  if (rc) {
    nb_app_dtls_free(a);
    return rc;
  }
  *out = a;
  return 0;
}

const nb_dtls_creds *nb_app_dtls_creds(const nb_app_dtls *a) { return a->creds; }

nb_err nb_app_dtls_set_peer_name(nb_app_dtls *a, const char *host) {
  return nb_dtls_creds_set_peer_name(a->creds, host);
}

bool nb_app_dtls_uri_host(const char *uri, char *out, size_t cap) {
  const char *p = strstr(uri, "://");
  if (!p) return false;
  p += 3;
  size_t n;
  if (*p == '[') {
    p++;
    n = strcspn(p, "]");
  } else {
    n = strcspn(p, ":/?");
  }
  if (n == 0 || n >= cap) return false;
  memcpy(out, p, n);
  out[n] = 0;
  return true;
}

void nb_app_dtls_free(nb_app_dtls *a) {
  if (!a) return;
  nb_dtls_creds_free(a->creds);
  for (size_t i = 0; i < a->n_psks; i++) {
    free(a->psks[i].identity);
    memset(a->psks[i].key, 0, sizeof a->psks[i].key);
  }
  free(a->psks);
  free(a->ids);
  free(a);
}

/* ---- messages ---- */

void nb_app_dtls_describe_peer(const nb_dtls_peer *p, char *buf, size_t cap) {
  if (!p) {
    snprintf(buf, cap, "unknown");
  } else if (p->mode == NB_DTLS_MODE_PSK) {
    snprintf(buf, cap, "psk identity '%s'", p->identity);
  } else if (p->mode == NB_DTLS_MODE_RPK) {
    snprintf(buf, cap, "raw public key, secure ID %s", p->secure_id);
  } else {
    snprintf(buf, cap, "certificate '%s', secure ID %s", p->subject, p->secure_id);
  }
}

static const char *nb_app_failure_hint(const nb_dtls_event *ev) {
  switch (ev->err) {
    case NB_ERR_DTLS_PEER_REJECTED:
      return ev->alert_sent ? "the peer's key or certificate is not the expected one (check "
                              "--peer-key/--peer-secure-id/--peer-cert)"
                            : "the peer refused our key or certificate";
    case NB_ERR_DTLS_UNTRUSTED:
      return ev->alert_sent ? "the peer's certificate does not verify against --ca"
                            : "the peer does not trust our certificate";
    case NB_ERR_DTLS_UNKNOWN_IDENTITY:
      return "the PSK identity is not known";
    case NB_ERR_DTLS_BAD_MAC:
      return "wrong PSK key?";
    case NB_ERR_DTLS_TIMEOUT:
      return "no DTLS answer: is a coaps server listening there?";
    default:
      break;
  }
  if (ev->alert == GNUTLS_A_UNKNOWN_PSK_IDENTITY) return "the PSK identity is not known";
  if (ev->alert == GNUTLS_A_BAD_RECORD_MAC || ev->alert == GNUTLS_A_DECRYPT_ERROR)
    return "wrong PSK key?";
  if (ev->alert == GNUTLS_A_HANDSHAKE_FAILURE)
    return "no common cipher suite or credential type (check --ciphers and the mode)";
  if (ev->alert == GNUTLS_A_UNKNOWN_CA) return "the certificate's issuer is not trusted";
  if (ev->alert == GNUTLS_A_BAD_CERTIFICATE) return "a key or certificate was refused";
  return "";
}

void nb_app_dtls_describe_failure(const nb_dtls_event *ev, char *buf, size_t cap) {
  char alert[96] = "";
  if (ev->alert >= 0) {
    snprintf(alert, sizeof alert, ", alert %s %s", nb_dtls_alert_name(ev->alert),
             ev->alert_sent ? "sent" : "received");
  }
  const char *hint = nb_app_failure_hint(ev);
  snprintf(buf, cap, "%s%s%s%s", nb_strerror(ev->err), alert, hint[0] ? ": " : "", hint);
}
