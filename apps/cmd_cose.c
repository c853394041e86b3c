/* `niobium cose verify|sign`: the auditor's and operator's side of Niobium's signed payloads
 * (COSE_Sign1, ES256, see src/dtls/cose.h). verify checks kept evidence offline against the
 * signer's public key and prints one JSON object per file with the headers, the claims and the
 * inner payload decoded to records; sign makes a COSE_Sign1 the way the engines do. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/hex.h"
#include "commands.h"
#include "dtls/cose.h"
#include "dtls/cose_lwm2m.h"
#include "dtls/cred.h"
#include "dtls/keys.h"
#include "http/json.h"
#include "lwm2m/fmtutil.h"
#include "lwm2m/format.h"
#include "lwm2m/model.h"

#define NB_COSE_MAX_INPUT ((size_t)1024 * 1024) /* a signed LwM2M payload is far smaller */
#define NB_COSE_MAX_KEY ((size_t)64 * 1024)

static void nb_cose_usage(FILE *out) {
  fprintf(
      out,
      "Usage: niobium cose verify --key PUBKEY [--iss EP] [--sub EP] [--cti HEX] FILE...\n"
      "       niobium cose sign --key PRIVKEY --content-format CF [--iss S] [--sub S]\n"
      "                         [--cti HEX] [--iat N|now] [--base64] IN OUT\n"
      "Verifies or makes Niobium's signed payloads: COSE_Sign1 (RFC 9052) with ES256 over\n"
      "P-256, CoAP Content-Format 18. Devices sign what they report and the bootstrap\n"
      "server signs the configurations it writes, each with its DTLS private key, so anyone\n"
      "holding the signer's public key can check the kept bytes later (docs/cose.md).\n\n"
      "verify: FILE is a COSE_Sign1 as raw bytes or as base64 text (as the REST API gives\n"
      "it); '-' reads standard input. Prints one JSON object per file and line:\n"
      "  {\"file\", \"valid\", \"error\" (when not valid), \"kid\" (hex: the signer's secure ID),\n"
      "   \"iss\", \"sub\", \"iat\", \"cti\" (hex) when present, \"content_format\",\n"
      "   \"payload\": the inner payload as records [{\"path\",\"type\",\"value\"}] when it is an\n"
      "   LwM2M format, else \"payload_text\" or \"payload_hex\", \"withheld\": the secret keys\n"
      "   a signed write withholds, [{\"path\",\"salt\",\"digest\"}] (hex, digest =\n"
      "   SHA-256(salt || key)), never the keys themselves}. A secret key inside a signed\n"
      "   payload (evidence kept before withheld secrets) is never shown: its value is null,\n"
      "   with \"redacted\", and \"warning\" says so.\n"
      "  When valid is false the other fields are what the message claims, unauthenticated.\n"
      "  -k, --key FILE      the signer's public key: SubjectPublicKeyInfo or certificate,\n"
      "                      PEM or DER. A secure ID is NOT enough: it is a hash of the key\n"
      "                      and cannot check a signature.\n"
      "      --iss EP        also require this issuer (the device's endpoint name)\n"
      "      --sub EP        also require this subject (the endpoint a config is for)\n"
      "      --cti HEX       also require this exchange ID (the bootstrap's ID)\n"
      "      --secret PATH=FILE  a secret key shown to you later (FILE: its raw bytes, such as\n"
      "                      a DER private key or a 16-byte PSK): a message that withholds\n"
      "                      PATH is valid only when the key matches its signed digest\n"
      "                      (\"matches\": true); up to 4\n\n"
      "sign: signs the bytes of IN ('-': stdin) and writes the COSE_Sign1 to OUT ('-':\n"
      "stdout). The kid header is the key's secure ID. Secret keys in an LwM2M payload\n"
      "(/0/x/5, /0/x/8, /21/x/0) are withheld from what is signed, as the bootstrap server\n"
      "does (the payload is encoded again without them, their digests signed): OUT then\n"
      "carries them beside the signature for the device, and is written 0600 (docs/cose.md).\n"
      "  -k, --key FILE      P-256 private key, PEM or DER (SEC1 or PKCS#8)\n"
      "  -f, --content-format CF  the payload's Content-Format: a number or a name\n"
      "                      (senml-cbor = 112, senml-json, tlv, cbor, json, text, opaque)\n"
      "      --iss S, --sub S, --cti HEX  claims to state\n"
      "      --iat N|now     issued-at claim, Unix seconds (default: none)\n"
      "      --base64        write base64 text instead of raw bytes\n\n"
      "  -h, --help          show this help\n\n"
      "Input larger than 1 MiB is refused.\n\n"
      "Examples:\n"
      "  niobium keys ec --out dev        # dev.key.pem, dev.pub.pem (see 'niobium keys')\n"
      "  niobium cose sign --key dev.key.pem -f senml-cbor --iss meter-7 --iat now "
      "data.cbor data.cose\n"
      "  niobium cose verify --key dev.pub.pem --iss meter-7 data.cose\n"
      "  niobium cose verify --key bs-cert.pem --sub meter-7 --cti 0f1e... evidence/*.cose\n"
      "  niobium cose verify --key bs.pub.pem --secret /0/1/5=psk.bin 0003-write-_0_1.cose\n"
      "  curl -s .../evidence | jq -r '.[0].cose' | niobium cose verify --key bs.pem -\n\n"
      "Exit status: 0 every file valid (or signed), 1 a file is invalid or unreadable,\n"
      "2 usage error (unknown option, missing --key, a key that is not a P-256 key).\n");
}

/* ---- input ---- */

/* The whole of path ('-': stdin) into out, at most cap bytes. why says what went wrong. */
static bool nb_cose_slurp(const char *path, size_t cap, nb_bytes *out, char *why, size_t why_cap) {
  bool is_stdin = strcmp(path, "-") == 0;
  FILE *f = is_stdin ? stdin : fopen(path, "rb");
  if (!f) {
    snprintf(why, why_cap, "cannot open: %s", strerror(errno));
    return false;
  }
  uint8_t buf[4096];
  size_t n;
  bool ok = true;
  while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0) {
    if (out->len + n > cap) {
      snprintf(why, why_cap, "larger than %zu KiB: not a signed LwM2M payload", cap / 1024);
      ok = false;
    } else if (nb_bytes_append(out, buf, n) != NB_OK) {
      snprintf(why, why_cap, "out of memory");
      ok = false;
    }
  }
  if (ok && ferror(f)) {
    snprintf(why, why_cap, "read error: %s", strerror(errno));
    ok = false;
  }
  if (!is_stdin) fclose(f);
  return ok;
}

static bool nb_cose_is_b64_char(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/' || c == '-' || c == '_' || c == '=';
}

static bool nb_cose_is_space(uint8_t c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

/* Base64 text (standard or url alphabet, whitespace around and between lines allowed) is
 * decoded in place; anything else is taken as raw bytes. A COSE_Sign1 starts with 0xd2 or 0x84,
 * never with a base64 character, so the two cannot be confused. */
static bool nb_cose_unbase64(nb_bytes *in, char *why, size_t why_cap) {
  size_t n = 0;
  for (size_t i = 0; i < in->len; i++) {
    if (nb_cose_is_space(in->data[i])) continue;
    if (!nb_cose_is_b64_char(in->data[i])) return true; /* raw bytes */
    in->data[n++] = in->data[i];
  }
  if (n == 0) {
    snprintf(why, why_cap, "empty input");
    return false;
  }
  nb_value v = nb_value_none();
  if (nb_fmt_b64_decode((const char *)in->data, n, false, &v) != NB_OK &&
      nb_fmt_b64_decode((const char *)in->data, n, true, &v) != NB_OK) {
    snprintf(why, why_cap, "text that is not valid base64, nor a binary COSE_Sign1");
    return false;
  }
  in->len = 0;
  nb_err e = nb_bytes_append(in, v.v.bytes.data, v.v.bytes.len);
  nb_value_deinit(&v);
  if (e != NB_OK) snprintf(why, why_cap, "out of memory");
  return e == NB_OK;
}

/* ---- verify ---- */

/* A secret key a verifier was shown, to check against a message's signed digest. */
typedef struct {
  nb_path path;
  const char *file;
} nb_cose_shown;

typedef struct {
  const char *key_path;
  const char *iss;
  const char *sub;
  uint8_t cti[NB_COSE_ID_MAX];
  size_t cti_len;
  bool has_cti;
  nb_cose_shown shown[NB_COSE_SECRETS_MAX]; /* --secret */
  size_t nshown;
  /* sign only */
  int cf;
  bool has_iat;
  int64_t iat;
  bool base64;
} nb_cose_args;

static void nb_cose_set_hex(json_t *o, const char *key, const uint8_t *b, size_t n) {
  char hex[2 * NB_COSE_ID_MAX + 1];
  if (n <= NB_COSE_ID_MAX) json_object_set_new(o, key, json_string(nb_hex_encode(b, n, hex)));
}

static void nb_cose_put_headers(json_t *o, const nb_cose_headers *h) {
  if (h->kid_len) nb_cose_set_hex(o, "kid", h->kid, h->kid_len);
  if (h->iss[0]) json_object_set_new(o, "iss", json_string(h->iss));
  if (h->sub[0]) json_object_set_new(o, "sub", json_string(h->sub));
  if (h->has_iat) json_object_set_new(o, "iat", json_integer(h->iat));
  if (h->cti_len) nb_cose_set_hex(o, "cti", h->cti, h->cti_len);
  if (h->content_format >= 0)
    json_object_set_new(o, "content_format", json_integer(h->content_format));
}

/* Takes every secret key out of r (evidence kept before withheld secrets held them in the
 * signed payload): redacted[k] and sizes[k] (bytes) for each record; returns the count. */
static size_t nb_cose_redact(nb_records *r, bool *redacted, size_t *sizes) {
  size_t n = 0;
  for (size_t k = 0; k < r->len; k++) {
    redacted[k] = nb_cose_secret_in(&r->items[k]);
    if (!redacted[k]) continue;
    bool bytes = r->items[k].value.type == NB_VT_OPAQUE || r->items[k].value.type == NB_VT_STRING;
    sizes[k] = bytes ? r->items[k].value.v.bytes.len : 0;
    nb_value_deinit(&r->items[k].value);
    r->items[k].value = nb_value_none();
    n++;
  }
  return n;
}

/* The JSON of records r, secret keys redacted (*nredacted: how many). */
static json_t *nb_cose_records_json(nb_records *r, size_t *nredacted) {
  bool *redacted = calloc(r->len + 1, sizeof *redacted);
  size_t *sizes = calloc(r->len + 1, sizeof *sizes);
  json_t *a = NULL;
  if (redacted && sizes) {
    *nredacted = nb_cose_redact(r, redacted, sizes);
    a = nb_http_json_records(r);
  }
  for (size_t k = 0; a && k < r->len; k++) {
    if (!redacted[k]) continue;
    char text[96];
    snprintf(text, sizeof text, "secret key (%zu bytes) in the signed payload: not shown",
             sizes[k]);
    json_object_set_new(json_array_get(a, k), "redacted", json_string(text));
  }
  free(redacted);
  free(sizes);
  return a;
}

/* Records of an LwM2M payload, with SenML/LwM2M JSON times as "t" where given. */
static json_t *nb_cose_records(const nb_model *m, int cf, const uint8_t *p, size_t len,
                               const char **reason, size_t *nredacted) {
  nb_records r;
  nb_records_init(&r);
  nb_times t;
  nb_times_init(&t);
  nb_format_opts opts = {NULL, m, 0, &t, NULL, NULL};
  nb_format_error fe = {0, "invalid"};
  json_t *a = NULL;
  if (nb_format_decode_ex(cf, p, len, &opts, &r, &fe) == NB_OK) {
    a = nb_cose_records_json(&r, nredacted);
    for (size_t k = 0; a && k < t.len && k < json_array_size(a); k++) {
      double tk = t.items[k];
      if (isnan(tk)) continue;
      bool whole = tk == floor(tk) && fabs(tk) < 9e15; /* seconds print as integers */
      json_object_set_new(json_array_get(a, k), "t",
                          whole ? json_integer((json_int_t)tk) : json_real(tk));
    }
  } else {
    *reason = fe.reason;
  }
  nb_times_deinit(&t);
  nb_records_deinit(&r);
  return a;
}

/* The inner payload as records, text or hex. Single-value formats (text, opaque, cbor) have
 * no path of their own, so they are shown as they are. */
static void nb_cose_put_payload(json_t *o, const nb_model *m, const nb_cose_sign1_msg *msg) {
  int cf = msg->h.content_format;
  const char *reason = NULL;
  if (cf >= 0 && nb_format_is_multi(cf)) {
    size_t nredacted = 0;
    json_t *a = nb_cose_records(m, cf, msg->payload, msg->payload_len, &reason, &nredacted);
    if (a) {
      json_object_set_new(o, "payload", a);
      if (nredacted)
        json_object_set_new(o, "warning",
                            json_string("this message holds a secret key in its signed payload "
                                        "(kept by a version before withheld secrets); it is not "
                                        "shown: delete copies that are not needed"));
      return;
    }
    json_object_set_new(o, "payload_error", json_string(reason ? reason : "undecodable"));
  }
  bool text = cf == 0 || cf == 40 || cf == 110 || cf == 11543;
  if (text && nb_fmt_utf8_valid(msg->payload, msg->payload_len)) {
    json_object_set_new(o, "payload_text",
                        json_stringn((const char *)msg->payload, msg->payload_len));
    return;
  }
  char *hex = malloc(2 * msg->payload_len + 1);
  if (hex)
    json_object_set_new(o, "payload_hex",
                        json_string(nb_hex_encode(msg->payload, msg->payload_len, hex)));
  free(hex);
}

/* The raw bytes of a --secret FILE, at most NB_COSE_SECRET_MAX. */
static bool nb_cose_shown_matches(const nb_cose_shown *sh, const nb_cose_withheld *w, char *why,
                                  size_t cap) {
  nb_bytes key;
  nb_bytes_init(&key);
  char err[256];
  bool read = nb_cose_slurp(sh->file, NB_COSE_SECRET_MAX, &key, err, sizeof err);
  bool ok = read && nb_cose_secret_matches(w, key.data, key.len);
  char p[NB_PATH_STRLEN];
  nb_path_format(&w->path, p, sizeof p);
  if (!read)
    snprintf(why, cap, "--secret %s=%s: %s", p, sh->file, err);
  else if (!ok)
    snprintf(why, cap, "the secret given for %s does not match its signed digest", p);
  if (key.data) memset(key.data, 0, key.len);
  nb_bytes_free(&key);
  return ok;
}

/* "withheld": the signed digests of the secret keys a write withholds (never the keys), each
 * checked against a key the verifier was shown (--secret); false when one does not match. */
static bool nb_cose_put_withheld(json_t *o, const nb_cose_args *a, const nb_cose_sign1_msg *msg,
                                 char *why, size_t cap) {
  if (!msg->nwithheld) return true;
  json_t *arr = json_array();
  bool ok = true;
  for (size_t i = 0; arr && i < msg->nwithheld; i++) {
    const nb_cose_withheld *w = &msg->withheld[i];
    char p[NB_PATH_STRLEN], salt[2 * NB_COSE_SALT_LEN + 1], dg[2 * NB_COSE_DIGEST_LEN + 1];
    nb_path_format(&w->path, p, sizeof p);
    json_t *e = json_pack("{s:s,s:s,s:s}", "path", p, "salt",
                          nb_hex_encode(w->salt, NB_COSE_SALT_LEN, salt), "digest",
                          nb_hex_encode(w->digest, NB_COSE_DIGEST_LEN, dg));
    for (size_t k = 0; e && k < a->nshown; k++) {
      if (!nb_path_equal(&a->shown[k].path, &w->path)) continue;
      bool match = nb_cose_shown_matches(&a->shown[k], w, why, cap);
      json_object_set_new(e, "matches", json_boolean(match));
      ok = ok && match;
    }
    json_array_append_new(arr, e);
  }
  json_object_set_new(o, "withheld", arr);
  return ok;
}

/* Why a parsed, correctly signed message still does not match what the caller required. */
static bool nb_cose_claims_match(const nb_cose_args *a, const nb_cose_headers *h, char *why,
                                 size_t cap) {
  if (a->iss && strcmp(a->iss, h->iss) != 0) {
    snprintf(why, cap, "iss is \"%s\", expected \"%s\"", h->iss, a->iss);
    return false;
  }
  if (a->sub && strcmp(a->sub, h->sub) != 0) {
    snprintf(why, cap, "sub is \"%s\", expected \"%s\"", h->sub, a->sub);
    return false;
  }
  if (a->has_cti && (h->cti_len != a->cti_len || memcmp(h->cti, a->cti, a->cti_len) != 0)) {
    char hex[2 * NB_COSE_ID_MAX + 1];
    snprintf(why, cap, "cti is \"%s\", not the expected one",
             h->cti_len ? nb_hex_encode(h->cti, h->cti_len, hex) : "(none)");
    return false;
  }
  return true;
}

static const char *nb_cose_parse_reason(nb_err e) {
  return e == NB_ERR_UNSUPPORTED
             ? "unsupported COSE_Sign1: an algorithm other than ES256 (-7), a detached payload "
               "or critical headers"
             : "not a COSE_Sign1: malformed CBOR or structure";
}

/* The signature failed: say whether the message names another key. */
static void nb_cose_bad_sig(const nb_cose_headers *h, const char *key_sid, char *why, size_t cap) {
  char kid[2 * NB_COSE_ID_MAX + 1];
  if (h->kid_len && strcmp(nb_hex_encode(h->kid, h->kid_len, kid), key_sid) != 0) {
    snprintf(why, cap,
             "signature does not verify with this key (secure ID %s); the message names the "
             "signer's key %s",
             key_sid, kid);
  } else {
    snprintf(why, cap, "signature does not verify with this key: the bytes were changed");
  }
}

/* Checks one file; fills o and returns true when valid. */
static bool nb_cose_check(const nb_cose_args *a, const nb_model *m, const nb_bytes *spki,
                          const char *sid, const char *path, json_t *o) {
  char why[512] = "";
  nb_bytes in;
  nb_bytes_init(&in);
  nb_cose_sign1_msg msg;
  bool ok = nb_cose_slurp(path, NB_COSE_MAX_INPUT, &in, why, sizeof why) &&
            nb_cose_unbase64(&in, why, sizeof why);
  if (ok) {
    nb_err e = nb_cose_parse(in.data, in.len, &msg);
    if (e != NB_OK) snprintf(why, sizeof why, "%s", nb_cose_parse_reason(e));
    ok = e == NB_OK;
  }
  if (ok) {
    nb_err e = nb_cose_verify(&msg, spki->data, spki->len);
    if (e == NB_ERR_DTLS_PEER_REJECTED)
      nb_cose_bad_sig(&msg.h, sid, why, sizeof why);
    else if (e != NB_OK)
      snprintf(why, sizeof why, "cannot verify: %s", nb_strerror(e));
    ok = e == NB_OK && nb_cose_claims_match(a, &msg.h, why, sizeof why);
    nb_cose_put_headers(o, &msg.h);
    if (ok) nb_cose_put_payload(o, m, &msg);
    if (ok) ok = nb_cose_put_withheld(o, a, &msg, why, sizeof why);
  }
  json_object_set_new(o, "valid", json_boolean(ok));
  if (!ok) json_object_set_new(o, "error", json_string(why));
  nb_bytes_free(&in);
  return ok;
}

/* The verification key as a P-256 SubjectPublicKeyInfo, or an exit code. */
static int nb_cose_load_pub(const char *path, nb_bytes *spki, char sid[NB_DTLS_SECURE_ID_LEN + 1]) {
  nb_bytes raw;
  nb_bytes_init(&raw);
  char why[256];
  if (!nb_cose_slurp(path, NB_COSE_MAX_KEY, &raw, why, sizeof why)) {
    bool looks_like_id = strlen(path) == NB_DTLS_SECURE_ID_LEN &&
                         strspn(path, "0123456789abcdefABCDEF") == NB_DTLS_SECURE_ID_LEN;
    fprintf(stderr, "niobium cose: --key %s: %s\n", path, why);
    if (looks_like_id)
      fprintf(stderr,
              "niobium cose: that looks like a secure ID; it is a hash of the key and cannot "
              "check a signature. Give the signer's public key or certificate file.\n");
    nb_bytes_free(&raw);
    return NB_EXIT_USAGE;
  }
  nb_err e = nb_dtls_spki_load(raw.data, raw.len, spki);
  nb_bytes_free(&raw);
  if (e == NB_OK && !nb_dtls_spki_is_p256(spki->data, spki->len)) e = NB_ERR_UNSUPPORTED;
  if (e == NB_OK) e = nb_dtls_secure_id(spki->data, spki->len, sid);
  if (e != NB_OK) {
    fprintf(stderr,
            "niobium cose: --key %s is not a P-256 public key, certificate or private key (PEM "
            "or DER): %s\n",
            path, nb_strerror(e));
    return NB_EXIT_USAGE;
  }
  return -1;
}

static int nb_cose_verify_files(const nb_cose_args *a, int nfiles, char **files) {
  nb_bytes spki;
  nb_bytes_init(&spki);
  char sid[NB_DTLS_SECURE_ID_LEN + 1];
  int rc = nb_cose_load_pub(a->key_path, &spki, sid);
  nb_model *m = NULL;
  if (rc < 0 && !(m = nb_model_new())) {
    fprintf(stderr, "niobium cose: out of memory\n");
    rc = NB_EXIT_FAILURE;
  }
  if (rc < 0) rc = NB_EXIT_OK;
  for (int i = 0; m && i < nfiles; i++) {
    json_t *o = json_object();
    if (o) json_object_set_new(o, "file", json_string(files[i]));
    if (o) json_object_set_new(o, "valid", json_false()); /* the verdict comes second */
    if (!o || !nb_cose_check(a, m, &spki, sid, files[i], o)) rc = NB_EXIT_FAILURE;
    char *text = o ? nb_http_json_text(o) : NULL;
    if (text)
      printf("%s\n", text);
    else
      rc = NB_EXIT_FAILURE;
    free(text);
    json_decref(o);
  }
  fflush(stdout);
  nb_model_free(m);
  nb_bytes_free(&spki);
  return rc;
}

/* ---- sign ---- */

/* Writes cose to path ('-': stdout); a file holding keys (secret) is made 0600. */
static int nb_cose_write(const char *path, const nb_bytes *cose, bool base64, bool secret) {
  nb_bytes text;
  nb_bytes_init(&text);
  const nb_bytes *out = cose;
  if (base64) {
    if (nb_fmt_b64_encode(&text, cose->data, cose->len, false) != NB_OK ||
        nb_bytes_append(&text, (const uint8_t *)"\n", 1) != NB_OK) {
      fprintf(stderr, "niobium cose: out of memory\n");
      nb_bytes_free(&text);
      return NB_EXIT_FAILURE;
    }
    out = &text;
  }
  bool is_stdout = strcmp(path, "-") == 0;
  int fd =
      is_stdout ? -1 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, secret ? 0600 : 0644);
  if (fd >= 0 && secret && fchmod(fd, 0600) != 0) { /* an existing file keeps its mode */
    close(fd);
    fd = -1;
  }
  FILE *f = is_stdout ? stdout : fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (!f && fd >= 0) close(fd);
  bool ok = f && fwrite(out->data, 1, out->len, f) == out->len;
  if (f) ok = (is_stdout ? fflush(f) : fclose(f)) == 0 && ok;
  if (!ok) fprintf(stderr, "niobium cose: cannot write %s: %s\n", path, strerror(errno));
  nb_bytes_free(&text);
  return ok ? NB_EXIT_OK : NB_EXIT_FAILURE;
}

/* Signs in; an LwM2M payload's secret keys are withheld (encoded again without them, carried
 * beside the signature: *withheld says so). */
static nb_err nb_cose_sign_in(const nb_cose_headers *h, const nb_bytes *in, const nb_bytes *key,
                              nb_bytes *out, bool *withheld) {
  nb_records r;
  nb_records_init(&r);
  nb_path root = nb_path_root();
  bool lwm2m = h->content_format >= 0 && nb_format_is_multi(h->content_format) &&
               nb_format_decode(h->content_format, in->data, in->len, &root, nb_model_builtin(), &r,
                                NULL, NULL) == NB_OK;
  nb_err e;
  *withheld = lwm2m && nb_cose_secret_record(&r);
  if (*withheld) {
    e = nb_cose_sign_records(h, &r, &root, nb_model_builtin(), key->data, key->len, out);
    if (e == NB_OK)
      fprintf(stderr,
              "niobium cose sign: secret keys withheld from the signed payload; OUT carries them "
              "beside the signature, as a write does inside DTLS: keep it like the keys (it is "
              "written 0600). See docs/cose.md, \"Secrets in signed writes\".\n");
  } else {
    e = nb_cose_sign1(h, in->data, in->len, key->data, key->len, out);
  }
  nb_records_deinit(&r);
  return e;
}

static int nb_cose_sign_file(const nb_cose_args *a, const char *in_path, const char *out_path) {
  nb_bytes key, in, out;
  nb_bytes_init(&key);
  nb_bytes_init(&in);
  nb_bytes_init(&out);
  char why[256];
  int rc = NB_EXIT_OK;
  if (!nb_cose_slurp(a->key_path, NB_COSE_MAX_KEY, &key, why, sizeof why)) {
    fprintf(stderr, "niobium cose: --key %s: %s\n", a->key_path, why);
    rc = NB_EXIT_USAGE;
  } else if (!nb_cose_slurp(in_path, NB_COSE_MAX_INPUT, &in, why, sizeof why)) {
    fprintf(stderr, "niobium cose: %s: %s\n", in_path, why);
    rc = NB_EXIT_FAILURE;
  }
  nb_cose_headers h;
  nb_cose_headers_init(&h);
  h.content_format = a->cf;
  snprintf(h.iss, sizeof h.iss, "%s", a->iss ? a->iss : "");
  snprintf(h.sub, sizeof h.sub, "%s", a->sub ? a->sub : "");
  h.has_iat = a->has_iat;
  h.iat = a->iat;
  memcpy(h.cti, a->cti, a->cti_len);
  h.cti_len = a->cti_len;
  bool withheld = false;
  nb_err e = rc == NB_EXIT_OK ? nb_cose_sign_in(&h, &in, &key, &out, &withheld) : NB_OK;
  if (e != NB_OK) {
    fprintf(stderr,
            "niobium cose: cannot sign with --key %s (%s); it must be a P-256 private key, PEM or "
            "DER\n",
            a->key_path, nb_strerror(e));
    rc = NB_EXIT_USAGE;
  }
  if (rc == NB_EXIT_OK) rc = nb_cose_write(out_path, &out, a->base64, withheld);
  if (withheld) memset(out.data, 0, out.len);
  nb_bytes_free(&key);
  nb_bytes_free(&in);
  nb_bytes_free(&out);
  return rc;
}

/* ---- options ---- */

static bool nb_cose_parse_cf(const char *s, int *cf) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s && !*end) {
    *cf = (int)v;
    return v >= 0 && v <= 65535;
  }
  *cf = nb_format_from_name(s);
  return *cf >= 0;
}

static bool nb_cose_parse_iat(const char *s, int64_t *iat) {
  if (!strcmp(s, "now")) {
    *iat = (int64_t)time(NULL);
    return true;
  }
  char *end;
  long long v = strtoll(s, &end, 10);
  *iat = v;
  return *s && !*end;
}

static bool nb_cose_name_ok(const char *s) { return strlen(s) > 0 && strlen(s) < NB_COSE_NAME_MAX; }

/* --secret PATH=FILE. */
static bool nb_cose_parse_shown(const char *arg, nb_cose_args *a) {
  const char *eq = strchr(arg, '=');
  nb_path p;
  if (!eq || !eq[1] || nb_path_parse_n(arg, (size_t)(eq - arg), &p) != NB_OK ||
      p.len != NB_PATH_RESOURCE) {
    fprintf(stderr, "niobium cose: --secret takes PATH=FILE, PATH a resource (/0/1/5)\n");
    return false;
  }
  if (a->nshown == NB_COSE_SECRETS_MAX) {
    fprintf(stderr, "niobium cose: at most %d --secret\n", NB_COSE_SECRETS_MAX);
    return false;
  }
  a->shown[a->nshown++] = (nb_cose_shown){p, eq + 1};
  return true;
}

/* One option of either subcommand; false for a bad value (message printed). */
static bool nb_cose_option(int c, const char *arg, nb_cose_args *a) {
  switch (c) {
    case 'k':
      a->key_path = arg;
      return true;
    case 'i':
    case 's':
      if (!nb_cose_name_ok(arg)) {
        fprintf(stderr, "niobium cose: --%s takes 1 to %d characters\n", c == 'i' ? "iss" : "sub",
                NB_COSE_NAME_MAX - 1);
        return false;
      }
      *(c == 'i' ? &a->iss : &a->sub) = arg;
      return true;
    case 'c':
      a->has_cti =
          nb_hex_decode(arg, strlen(arg), ":", a->cti, sizeof a->cti, &a->cti_len) == NB_OK &&
          a->cti_len > 0;
      if (!a->has_cti) fprintf(stderr, "niobium cose: --cti takes 1 to 32 bytes in hex\n");
      return a->has_cti;
    case 'f':
      if (nb_cose_parse_cf(arg, &a->cf)) return true;
      fprintf(stderr,
              "niobium cose: --content-format '%s' is neither a number 0-65535 nor a format name "
              "(senml-cbor, senml-json, tlv, json, cbor, text, opaque, link)\n",
              arg);
      return false;
    case 't':
      a->has_iat = nb_cose_parse_iat(arg, &a->iat);
      if (!a->has_iat) fprintf(stderr, "niobium cose: --iat takes Unix seconds or 'now'\n");
      return a->has_iat;
    case 'b':
      a->base64 = true;
      return true;
    case 'S':
      return nb_cose_parse_shown(arg, a);
    default:
      return false;
  }
}

static int nb_cose_sub(int argc, char **argv, bool sign) {
  static const struct option options[] = {{"key", required_argument, NULL, 'k'},
                                          {"iss", required_argument, NULL, 'i'},
                                          {"sub", required_argument, NULL, 's'},
                                          {"cti", required_argument, NULL, 'c'},
                                          {"content-format", required_argument, NULL, 'f'},
                                          {"iat", required_argument, NULL, 't'},
                                          {"base64", no_argument, NULL, 'b'},
                                          {"secret", required_argument, NULL, 'S'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
  nb_cose_args a = {.cf = -1};
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "k:f:h", options, NULL)) != -1;) {
    if (c == 'h') {
      nb_cose_usage(stdout);
      return NB_EXIT_OK;
    }
    bool sign_only = c == 'f' || c == 't' || c == 'b';
    if (c == '?' || (sign_only && !sign) || (c == 'S' && sign)) {
      if (c != '?')
        fprintf(stderr, "niobium cose: that option is for 'cose %s' only\n",
                sign ? "verify" : "sign");
      fprintf(stderr, "Run 'niobium cose --help' for the options.\n");
      return NB_EXIT_USAGE;
    }
    if (!nb_cose_option(c, optarg, &a)) return NB_EXIT_USAGE;
  }
  if (!a.key_path) {
    fprintf(stderr, "niobium cose: --key is required (%s)\n",
            sign ? "the signer's private key" : "the signer's public key or certificate");
    return NB_EXIT_USAGE;
  }
  int rest = argc - optind;
  if (!sign) {
    if (rest >= 1) return nb_cose_verify_files(&a, rest, argv + optind);
    fprintf(stderr, "niobium cose verify: give at least one FILE ('-' for stdin)\n");
    return NB_EXIT_USAGE;
  }
  if (a.cf < 0) {
    fprintf(stderr, "niobium cose sign: --content-format is required (e.g. senml-cbor)\n");
    return NB_EXIT_USAGE;
  }
  if (rest != 2) {
    fprintf(stderr, "niobium cose sign: give IN and OUT ('-' for stdin / stdout)\n");
    return NB_EXIT_USAGE;
  }
  return nb_cose_sign_file(&a, argv[optind], argv[optind + 1]);
}

int nb_cmd_cose(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "verify")) return nb_cose_sub(argc - 1, argv + 1, false);
  if (argc >= 2 && !strcmp(argv[1], "sign")) return nb_cose_sub(argc - 1, argv + 1, true);
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    nb_cose_usage(stdout);
    return NB_EXIT_OK;
  }
  if (argc >= 2)
    fprintf(stderr, "niobium cose: unknown action '%s'; use verify or sign\n", argv[1]);
  else
    fprintf(stderr, "niobium cose: give an action: verify or sign\n");
  fprintf(stderr, "Run 'niobium cose --help' for the options.\n");
  return NB_EXIT_USAGE;
}
