/* `niobium fw`: firmware for LwM2M Firmware Update (object 5), docs/firmware.md. One table of
 * subcommands: sign and inspect make and check signed packages here (client/fw_image.h: a
 * COSE_Sign1 manifest followed by the image, never whole in memory); upload, list, delete, push
 * and campaign create, list, show, pause, resume, cancel, delete go through a running server's
 * REST API and print its JSON on stdout. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <gnutls/crypto.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_opts.h"
#include "appfile.h"
#include "base/buf.h"
#include "base/hex.h"
#include "client/fw_image.h"
#include "commands.h"
#include "dtls/cose.h"
#include "io/http_client.h"

#define CLI "niobium fw"
#define FW_KEY_MAX ((size_t)64 * 1024)
#define FW_CHUNK 65536
#define FW_ERR(...) (fprintf(stderr, CLI ": " __VA_ARGS__), NB_EXIT_FAILURE)
#define FW_USAGE(...) (fprintf(stderr, CLI ": " __VA_ARGS__), NB_EXIT_USAGE)

/* Kinds of options (a subcommand row's `takes`): one a subcommand does not take is refused. */
enum {
  T_API = 1u << 0,     /* --api, --api-ca, --api-token, --api-token-file */
  T_KEY = 1u << 1,     /* --key */
  T_SIGN = 1u << 2,    /* --version, --vendor, --out */
  T_NAME = 1u << 3,    /* --name */
  T_METHOD = 1u << 4,  /* --method, --retries */
  T_TARGETS = 1u << 5, /* --endpoint, --prefix, --object, --firmware-version, --concurrency */
  T_KINDS = 6,
};

typedef struct {
  const char *api, *api_ca, *name, *method, *prefix, *filter_version;
  const char *key, *version, *vendor, *out; /* sign, inspect */
  nb_api_opts token;                        /* --api-token, --api-token-file */
  json_t *endpoints;                        /* --endpoint, repeatable */
  int object;                               /* --object; -1 none */
  long concurrency, retries;                /* -1: the server's default */
  char **args;                              /* positional arguments after the subcommand */
  int nargs;
  unsigned given;          /* T_* of the options given */
  int given_code[T_KINDS]; /* the first option of each kind given, for the message */
  bool help;
} fw_opts;

/* ---- the API ---- */

/* One request to url (the API's path for messages); its answer (2xx) in *answer, the URL of
 * the next page of a list in *next (may be NULL). */
static int fetch(const fw_opts *o, const char *method, const char *url, const char *path,
                 const char *body, const char *file, char **answer, char **next) {
  char why[200] = "";
  nb_http_request rq = {.method = method,
                        .url = url,
                        .bearer_token = o->token.token,
                        .ca_file = o->api_ca,
                        .body = body,
                        .body_len = body ? strlen(body) : 0,
                        .body_file = file,
                        .timeout_ms = file ? 3600000 : 30000};
  long status = 0;
  nb_err e = nb_http_fetch_page(&rq, &status, answer, next, why, sizeof why);
  int rc = NB_EXIT_OK;
  if (e != NB_OK && file && status == 0)
    rc = FW_ERR("cannot send %s to %s (%s): check the file and that the server runs there\n", file,
                o->api, why);
  else if (e != NB_OK)
    rc = FW_ERR("cannot reach %s (%s): is the server running with --http there?\n", o->api, why);
  else if (status == 401)
    rc = FW_ERR("the API refused the token: give the server's --api-token\n");
  else if (status < 200 || status > 299)
    rc = FW_ERR("%s %s answered %ld: %s\n", method, path, status, *answer ? *answer : "");
  return rc;
}

/* The API's URL + path. */
static int api_url(const fw_opts *o, const char *path, char *url, size_t cap) {
  size_t n = strlen(o->api);
  while (n > 0 && o->api[n - 1] == '/') n--;
  if ((size_t)snprintf(url, cap, "%.*s%s", (int)n, o->api, path) >= cap)
    return FW_USAGE("--api URL is too long\n");
  return NB_EXIT_OK;
}

/* One request; prints the answer on stdout. */
static int call(const fw_opts *o, const char *method, const char *path, const char *body,
                const char *file) {
  char url[1024], *answer = NULL;
  int rc = api_url(o, path, url, sizeof url);
  if (rc == NB_EXIT_OK) rc = fetch(o, method, url, path, body, file, &answer, NULL);
  if (rc == NB_EXIT_OK) printf("%s\n", answer ? answer : "");
  free(answer);
  return rc;
}

/* GET of a list, every page (Link: rel="next"), printed as one array. */
static int list(const fw_opts *o, const char *path) {
  char first[1024];
  int rc = api_url(o, path, first, sizeof first);
  json_t *all = json_array();
  char *url = rc == NB_EXIT_OK ? strdup(first) : NULL;
  for (unsigned pages = 0; url && rc == NB_EXIT_OK && pages < 100000; pages++) {
    char *answer = NULL, *next = NULL;
    rc = fetch(o, "GET", url, path, NULL, NULL, &answer, &next);
    json_t *page = rc == NB_EXIT_OK ? json_loads(answer, 0, NULL) : NULL;
    if (rc == NB_EXIT_OK && (!json_is_array(page) || json_array_extend(all, page) != 0))
      rc = FW_ERR("GET %s did not answer a JSON array\n", path);
    json_decref(page);
    free(answer);
    free(url);
    url = next;
  }
  free(url);
  char *text = rc == NB_EXIT_OK ? json_dumps(all, JSON_COMPACT) : NULL;
  if (rc == NB_EXIT_OK && !text) rc = FW_ERR("out of memory\n");
  if (text) printf("%s\n", text);
  free(text);
  json_decref(all);
  return rc;
}

/* An argument that goes into a URL path: hex digests, campaign IDs, endpoint names. */
static int path_arg(const char *arg, char *out, size_t cap) {
  if (nb_http_url_escape(arg, out, cap) != NB_OK) return FW_USAGE("argument too long\n");
  return NB_EXIT_OK;
}

static int body_call(const fw_opts *o, const char *method, const char *path, json_t *body) {
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  int rc = text ? call(o, method, path, text, NULL) : FW_ERR("out of memory\n");
  free(text);
  return rc;
}

/* ---- sign ---- */

/* The image's size and SHA-256, read in chunks. */
static int fw_digest_file(const char *path, nb_fw_manifest *m) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, CLI ": cannot read %s: %s\n", path, strerror(errno));
    return -1;
  }
  gnutls_hash_hd_t hd;
  if (gnutls_hash_init(&hd, GNUTLS_DIG_SHA256) < 0) {
    fclose(f);
    return -1;
  }
  static uint8_t buf[FW_CHUNK];
  size_t n;
  m->size = 0;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    gnutls_hash(hd, buf, n);
    m->size += n;
  }
  gnutls_hash_deinit(hd, m->digest);
  int rc = ferror(f) ? -1 : 0;
  if (rc) fprintf(stderr, CLI ": cannot read %s: %s\n", path, strerror(errno));
  fclose(f);
  return rc;
}

/* out.tmp <- envelope + image, then renamed to out. */
static int fw_write_package(const char *image, const char *out, const nb_bytes *env) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", out) >= (int)sizeof tmp) return -1;
  FILE *in = fopen(image, "rb");
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FILE *o = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (!o && fd >= 0) close(fd);
  bool ok = in && o && fwrite(env->data, 1, env->len, o) == env->len;
  static uint8_t buf[FW_CHUNK];
  size_t n;
  while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, o) == n;
  ok = ok && !ferror(in);
  if (o) ok = fflush(o) == 0 && fsync(fileno(o)) == 0 && ok;
  if (o) ok = fclose(o) == 0 && ok;
  if (in) fclose(in);
  ok = ok && rename(tmp, out) == 0;
  if (!ok) {
    fprintf(stderr, CLI ": cannot write %s: %s\n", out, strerror(errno));
    unlink(tmp);
  }
  return ok ? 0 : -1;
}

static int fw_sign(const fw_opts *o) {
  const char *image = o->args[0], *vendor = o->vendor ? o->vendor : "";
  if (!o->key || !o->version || !o->out)
    return FW_USAGE("sign needs --key, --version, --out and one IMAGE (see niobium fw --help)\n");
  nb_fw_manifest m;
  memset(&m, 0, sizeof m);
  if (!o->version[0] || strlen(o->version) >= sizeof m.version || strlen(vendor) >= sizeof m.vendor)
    return FW_USAGE("--version and --vendor must be 1..127 bytes\n");
  snprintf(m.version, sizeof m.version, "%s", o->version);
  snprintf(m.vendor, sizeof m.vendor, "%s", vendor);
  nb_bytes k, env;
  nb_bytes_init(&k);
  nb_bytes_init(&env);
  int rc = nb_app_read_small(CLI, "a key file", o->key, FW_KEY_MAX, &k) == 0 &&
                   fw_digest_file(image, &m) == 0
               ? NB_EXIT_OK
               : NB_EXIT_FAILURE;
  nb_err e = rc == NB_EXIT_OK ? nb_fw_envelope_sign(&m, k.data, k.len, &env) : NB_OK;
  if (e != NB_OK) {
    fprintf(stderr, CLI ": cannot sign with %s: %s (a P-256 private key is needed)\n", o->key,
            nb_strerror(e));
    rc = NB_EXIT_FAILURE;
  }
  if (rc == NB_EXIT_OK && fw_write_package(image, o->out, &env) != 0) rc = NB_EXIT_FAILURE;
  if (rc == NB_EXIT_OK)
    printf("%s: version %s, image %llu bytes, package %llu bytes\n", o->out, m.version,
           (unsigned long long)m.size, (unsigned long long)m.size + env.len);
  if (k.data) memset(k.data, 0, k.len);
  nb_bytes_free(&k);
  nb_bytes_free(&env);
  return rc;
}

/* ---- inspect ---- */

static int fw_feed_file(const char *path, nb_fw_check *k) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, CLI ": cannot read %s: %s\n", path, strerror(errno));
    return -1;
  }
  static uint8_t buf[FW_CHUNK];
  size_t n;
  int rc = 0;
  while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0)
    if (nb_fw_check_feed(k, buf, n) != NB_OK) rc = -1;
  if (ferror(f)) rc = -1;
  fclose(f);
  return rc;
}

static void fw_put_hex(json_t *o, const char *name, const uint8_t *b, size_t n) {
  char hex[2 * NB_COSE_ID_MAX + 1];
  if (n > NB_COSE_ID_MAX) return;
  nb_hex_encode(b, n, hex);
  json_object_set_new(o, name, json_string(hex));
}

/* The fields of a signed package's envelope and manifest. */
static void fw_put_manifest(json_t *o, const nb_fw_check *k) {
  const nb_fw_manifest *m = &k->manifest;
  nb_cose_sign1_msg msg;
  json_object_set_new(o, "envelope_bytes", json_integer((json_int_t)k->env_len));
  json_object_set_new(o, "version", json_string(m->version));
  if (m->vendor[0]) json_object_set_new(o, "vendor", json_string(m->vendor));
  json_object_set_new(o, "image_size", json_integer((json_int_t)m->size));
  fw_put_hex(o, "sha256", m->digest, sizeof m->digest);
  if (nb_cose_parse(k->head, k->env_len, &msg) == NB_OK)
    fw_put_hex(o, "kid", msg.h.kid, msg.h.kid_len);
}

static int fw_inspect(const fw_opts *o) {
  const char *key = o->key, *path = o->args[0];
  nb_bytes pub;
  nb_bytes_init(&pub);
  nb_fw_check k;
  nb_fw_check_init(&k);
  if ((key && nb_app_read_small(CLI, "a key file", key, FW_KEY_MAX, &pub) != 0) ||
      fw_feed_file(path, &k) != 0) {
    nb_fw_check_deinit(&k);
    nb_bytes_free(&pub);
    return NB_EXIT_FAILURE;
  }
  const char *why = "";
  /* Without a key the digest and size are still checked (unsigned allowed). */
  nb_fw_verdict v = nb_fw_check_finish(&k, key ? pub.data : NULL, pub.len, !key, &why);
  bool is_signed = nb_fw_check_signed(&k);
  json_t *out = json_object();
  json_object_set_new(out, "file", json_string(path));
  json_object_set_new(out, "signed", json_boolean(is_signed));
  if (is_signed) fw_put_manifest(out, &k);
  if (!is_signed) json_object_set_new(out, "image_size", json_integer((json_int_t)k.image_len));
  bool sig_bad = v == NB_FW_CHECK_INTEGRITY && strstr(why, "signature");
  json_object_set_new(out, "digest_ok", json_boolean(is_signed && v == NB_FW_CHECK_OK));
  json_object_set_new(out, "signature",
                      json_string(!is_signed ? "none"
                                  : !key     ? "not checked"
                                  : sig_bad  ? "invalid"
                                             : "valid"));
  bool valid = v == NB_FW_CHECK_OK && is_signed;
  json_object_set_new(out, "valid", json_boolean(valid));
  if (!valid)
    json_object_set_new(out, "error", json_string(is_signed ? why : "not a signed package"));
  char *s = json_dumps(out, JSON_COMPACT);
  if (s) puts(s);
  free(s);
  json_decref(out);
  nb_fw_check_deinit(&k);
  nb_bytes_free(&pub);
  return valid ? NB_EXIT_OK : NB_EXIT_FAILURE;
}

/* ---- subcommands ---- */

static int fw_upload(const fw_opts *o) {
  char path[400], name[300];
  if (o->name && path_arg(o->name, name, sizeof name) != NB_EXIT_OK) return NB_EXIT_USAGE;
  snprintf(path, sizeof path, "/api/firmware%s%s", o->name ? "?name=" : "", o->name ? name : "");
  return call(o, "POST", path, NULL, o->args[0]);
}

static int fw_list(const fw_opts *o) { return list(o, "/api/firmware"); }

static int one_arg(const fw_opts *o, const char *method, const char *prefix, const char *suffix) {
  char arg[400], path[512];
  if (path_arg(o->args[0], arg, sizeof arg) != NB_EXIT_OK) return NB_EXIT_USAGE;
  snprintf(path, sizeof path, "%s/%s%s", prefix, arg, suffix);
  return call(o, method, path, NULL, NULL);
}

static int fw_delete(const fw_opts *o) { return one_arg(o, "DELETE", "/api/firmware", ""); }

static int fw_push(const fw_opts *o) {
  char ep[400], path[512];
  if (path_arg(o->args[0], ep, sizeof ep) != NB_EXIT_OK) return NB_EXIT_USAGE;
  snprintf(path, sizeof path, "/api/clients/%s/firmware", ep);
  json_t *b = json_pack("{s:s,s:s}", "image", o->args[1], "method", o->method ? o->method : "push");
  if (b && o->retries >= 0) json_object_set_new(b, "retries", json_integer(o->retries));
  return body_call(o, "POST", path, b);
}

static int campaign_create(const fw_opts *o) {
  json_t *t = json_object();
  if (json_array_size(o->endpoints)) json_object_set(t, "endpoints", o->endpoints);
  if (o->prefix) json_object_set_new(t, "prefix", json_string(o->prefix));
  if (o->object >= 0) json_object_set_new(t, "object", json_integer(o->object));
  if (o->filter_version) json_object_set_new(t, "firmwareVersion", json_string(o->filter_version));
  if (!json_object_size(t)) {
    json_decref(t);
    return FW_USAGE(
        "campaign create needs --endpoint EP (repeatable) or a filter: --prefix, "
        "--object, --firmware-version\n");
  }
  json_t *b = json_pack("{s:s,s:s,s:o}", "image", o->args[0], "method",
                        o->method ? o->method : "push", "targets", t);
  if (b && o->concurrency >= 0) json_object_set_new(b, "concurrency", json_integer(o->concurrency));
  if (b && o->retries >= 0) json_object_set_new(b, "retries", json_integer(o->retries));
  return body_call(o, "POST", "/api/campaigns", b);
}

static int campaign_list(const fw_opts *o) { return list(o, "/api/campaigns"); }
static int campaign_show(const fw_opts *o) { return one_arg(o, "GET", "/api/campaigns", ""); }
static int campaign_pause(const fw_opts *o) {
  return one_arg(o, "POST", "/api/campaigns", "/pause");
}
static int campaign_resume(const fw_opts *o) {
  return one_arg(o, "POST", "/api/campaigns", "/resume");
}
static int campaign_cancel(const fw_opts *o) {
  return one_arg(o, "POST", "/api/campaigns", "/cancel");
}
static int campaign_delete(const fw_opts *o) { return one_arg(o, "DELETE", "/api/campaigns", ""); }

/* The subcommands: words, positional arguments, the options they take, what they do. */
static const struct {
  const char *words; /* "upload", "campaign create" */
  int nargs;
  const char *args;
  unsigned takes; /* T_* */
  const char *help;
  int (*run)(const fw_opts *o);
} subcommands[] = {
    {"sign", 1, "IMAGE --key PRIVKEY --version V [--vendor S] --out FILE", T_KEY | T_SIGN,
     "make a signed package: the signed manifest (version, size, SHA-256), the image", fw_sign},
    {"inspect", 1, "FILE [--key PUBKEY]", T_KEY,
     "show a package's manifest and check its digest, size and signature", fw_inspect},
    {"upload", 1, "FILE [--name NAME]", T_API | T_NAME,
     "upload an image or package to the server (any size; its sha256 is its ID)", fw_upload},
    {"list", 0, "", T_API, "the images on the server", fw_list},
    {"delete", 1, "SHA256", T_API, "delete an image (refused while a campaign uses it)", fw_delete},
    {"push", 2, "EP SHA256 [--method push|pull] [--retries N]", T_API | T_METHOD,
     "update one device (a campaign of one)", fw_push},
    {"campaign create", 1,
     "SHA256 (--endpoint EP... | [--prefix P] [--object N] [--firmware-version V])\n"
     "                   [--method push|pull] [--concurrency N] [--retries N]",
     T_API | T_METHOD | T_TARGETS, "update a set of devices", campaign_create},
    {"campaign list", 0, "", T_API, "every campaign (all pages), without devices", campaign_list},
    {"campaign show", 1, "ID", T_API, "a campaign with its devices' progress", campaign_show},
    {"campaign pause", 1, "ID", T_API, "start no new device", campaign_pause},
    {"campaign resume", 1, "ID", T_API, "go on", campaign_resume},
    {"campaign cancel", 1, "ID", T_API, "stop (devices keep what they got)", campaign_cancel},
    {"campaign delete", 1, "ID", T_API, "forget a campaign that is over", campaign_delete},
};
#define NSUB (sizeof subcommands / sizeof subcommands[0])

static void usage(FILE *f) {
  fprintf(f,
          "usage: niobium fw SUBCOMMAND [ARGS] [OPTIONS]\n"
          "Firmware for LwM2M Firmware Update (object 5), docs/firmware.md: sign and inspect\n"
          "packages here; upload images to a server and update its devices through its REST API.\n"
          "\nsubcommands:\n");
  for (size_t i = 0; i < NSUB; i++)
    fprintf(f, "  %s%*s%s\n  %-16s   %s\n", subcommands[i].words,
            subcommands[i].args[0] ? 17 - (int)strlen(subcommands[i].words) : 0, "",
            subcommands[i].args, "", subcommands[i].help);
  fprintf(
      f,
      "\npackages: a signed package is one file: a COSE_Sign1 (RFC 9052, ES256, CBOR tag 18)\n"
      "whose payload is the manifest {1: version, 2: image size, 3: SHA-256 of the image,\n"
      "4: vendor/class}, followed by the image bytes. A device given the signer's public\n"
      "key (niobium client --firmware-trust) installs only packages that verify.\n"
      "sign and inspect:\n"
      "  -k, --key FILE      sign: the signer's P-256 private key (PEM or DER, `niobium keys\n"
      "                      ec`); inspect: its public key (or certificate), PEM or DER\n"
      "  -V, --version V     the image's version (1..127 bytes): the device reports it in\n"
      "                      /5/0/7 and, once installed, in /3/0/3\n"
      "      --vendor S      vendor or device class (/5/0/6), optional\n"
      "  -o, --out FILE      the package (written beside, then renamed)\n"
      "  inspect prints one JSON object {\"file\", \"signed\", \"version\", \"vendor\",\n"
      "  \"image_size\", \"sha256\" (hex, of the image), \"envelope_bytes\", \"kid\" (the\n"
      "  signer's secure ID), \"digest_ok\", \"signature\" (\"valid\", \"invalid\" or\n"
      "  \"not checked\" without --key), \"valid\", \"error\"}.\n"
      "the server's subcommands:\n"
      "  --api URL           the server's REST API (default http://127.0.0.1:8080)\n"
      "  --api-token T, --api-token-file F  its token (the file: one line, 0600)\n"
      "  --api-ca FILE       trust anchors (PEM) of an https:// API\n"
      "  answers are the API's JSON on stdout (docs/openapi.yaml).\n"
      "  -h, --help          this text\n\n"
      "exit codes: 0 ok (inspect: the package checks out), 1 failure or a package that\n"
      "does not, 2 usage.\n\n"
      "examples:\n"
      "  niobium keys ec --out vendor\n"
      "  niobium fw sign --key vendor.key.pem --version 2.1.0 firmware.bin --out fw-2.1.0.nbfw\n"
      "  niobium fw inspect --key vendor.pub.pem fw-2.1.0.nbfw\n"
      "  niobium client --server coap://127.0.0.1 --endpoint dev1 --firmware-dir /tmp/fw \\\n"
      "      --firmware-trust vendor.pub.pem\n"
      "  niobium fw upload fw-2.1.0.nbfw --name meter-2.1.0\n"
      "  niobium fw push meter-0001 SHA256 --method pull\n"
      "  niobium fw campaign create SHA256 --prefix meter- --firmware-version 2.0.0 \\\n"
      "      --concurrency 50 --retries 3\n"
      "  niobium fw campaign show ID\n");
}

/* The row the positional words name (two words for "campaign ..."), or -1. */
static int find_subcommand(const fw_opts *o, int *used) {
  for (size_t i = 0; i < NSUB; i++) {
    const char *w = subcommands[i].words, *sp = strchr(w, ' ');
    if (!sp && o->nargs >= 1 && strcmp(o->args[0], w) == 0) {
      *used = 1;
      return (int)i;
    }
    if (sp && o->nargs >= 2 && strncmp(o->args[0], w, (size_t)(sp - w)) == 0 &&
        o->args[0][sp - w] == '\0' && strcmp(o->args[1], sp + 1) == 0) {
      *used = 2;
      return (int)i;
    }
  }
  return -1;
}

static int parse_count(const char *text, const char *opt, long max, long *out) {
  char *end;
  long v = strtol(text, &end, 10);
  if (*text < '0' || *text > '9' || *end || v > max)
    return FW_USAGE("%s takes a number from 0 to %ld\n", opt, max);
  *out = v;
  return NB_EXIT_OK;
}

static const struct option fw_long_opts[] = {
    {"api", required_argument, NULL, 'a'},
    {"api-ca", required_argument, NULL, 'C'},
    {"api-token", required_argument, NULL, NB_AO_TOKEN},
    {"api-token-file", required_argument, NULL, NB_AO_TOKEN_FILE},
    {"key", required_argument, NULL, 'k'},
    {"version", required_argument, NULL, 'V'},
    {"vendor", required_argument, NULL, 'd'},
    {"out", required_argument, NULL, 'o'},
    {"name", required_argument, NULL, 'n'},
    {"method", required_argument, NULL, 'm'},
    {"retries", required_argument, NULL, 'r'},
    {"endpoint", required_argument, NULL, 'e'},
    {"prefix", required_argument, NULL, 'p'},
    {"object", required_argument, NULL, 'O'},
    {"firmware-version", required_argument, NULL, 'v'},
    {"concurrency", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* The kind (T_*) of option code c; 0 for --help. */
static unsigned opt_kind(int c) {
  switch (c) {
    case 'a':
    case 'C':
    case NB_AO_TOKEN:
    case NB_AO_TOKEN_FILE:
      return T_API;
    case 'k':
      return T_KEY;
    case 'V':
    case 'd':
    case 'o':
      return T_SIGN;
    case 'n':
      return T_NAME;
    case 'm':
    case 'r':
      return T_METHOD;
    case 'e':
    case 'p':
    case 'O':
    case 'v':
    case 'c':
      return T_TARGETS;
    default:
      return 0;
  }
}

/* The long name of option code c, for messages. */
static const char *opt_name(int c) {
  for (const struct option *p = fw_long_opts; p->name; p++)
    if (p->val == c) return p->name;
  return "?";
}

/* Remembers which kind of option was given (the subcommand is known only once all are read). */
static void note_given(fw_opts *o, int c) {
  unsigned k = opt_kind(c);
  for (int bit = 0; bit < T_KINDS; bit++)
    if ((k & (1u << bit)) && !(o->given & (1u << bit))) o->given_code[bit] = c;
  o->given |= k;
}

static int parse_opt(fw_opts *o, int c) {
  note_given(o, c);
  switch (c) {
    case 'k':
      o->key = optarg;
      return NB_EXIT_OK;
    case 'V':
      o->version = optarg;
      return NB_EXIT_OK;
    case 'd':
      o->vendor = optarg;
      return NB_EXIT_OK;
    case 'o':
      o->out = optarg;
      return NB_EXIT_OK;
    case 'a':
      o->api = optarg;
      return NB_EXIT_OK;
    case 'C':
      o->api_ca = optarg;
      return NB_EXIT_OK;
    case 'n':
      o->name = optarg;
      return NB_EXIT_OK;
    case 'm':
      if (strcmp(optarg, "push") != 0 && strcmp(optarg, "pull") != 0)
        return FW_USAGE("--method is push or pull\n");
      o->method = optarg;
      return NB_EXIT_OK;
    case 'e':
      json_array_append_new(o->endpoints, json_string(optarg));
      return NB_EXIT_OK;
    case 'p':
      o->prefix = optarg;
      return NB_EXIT_OK;
    case 'v':
      o->filter_version = optarg;
      return NB_EXIT_OK;
    case 'O': {
      long v = -1;
      int rc = parse_count(optarg, "--object", 65534, &v);
      o->object = (int)v;
      return rc;
    }
    case 'c':
      return parse_count(optarg, "--concurrency", 10000, &o->concurrency);
    case 'r':
      return parse_count(optarg, "--retries", 100, &o->retries);
    case 'h':
      usage(stdout);
      o->help = true;
      return NB_EXIT_OK;
    case NB_AO_TOKEN:
    case NB_AO_TOKEN_FILE:
      return nb_api_opts_parse(&o->token, c, optarg);
    default:
      usage(stderr);
      return NB_EXIT_USAGE;
  }
}

static int parse_args(int argc, char **argv, fw_opts *o) {
  int c, rc;
  optind = 1;
  while ((c = getopt_long(argc, argv, "k:V:o:h", fw_long_opts, NULL)) != -1)
    if ((rc = parse_opt(o, c)) != NB_EXIT_OK || o->help) return rc;
  o->args = argv + optind;
  o->nargs = argc - optind;
  return NB_EXIT_OK;
}

/* The row the arguments name (*row), with the right number of positional arguments and only
 * options it takes; NB_EXIT_USAGE after a message otherwise. */
static int pick_subcommand(fw_opts *o, int *row) {
  int used = 0, i = find_subcommand(o, &used);
  if (i < 0 && o->nargs == 0) {
    usage(stderr);
    return NB_EXIT_USAGE;
  }
  if (i < 0) return FW_USAGE("unknown subcommand '%s' (see niobium fw --help)\n", o->args[0]);
  unsigned extra = o->given & ~subcommands[i].takes;
  for (int bit = 0; bit < T_KINDS; bit++)
    if (extra & (1u << bit))
      return FW_USAGE("%s does not take --%s (see niobium fw --help)\n", subcommands[i].words,
                      opt_name(o->given_code[bit]));
  if (o->nargs - used != subcommands[i].nargs)
    return FW_USAGE("usage: niobium fw %s %s\n", subcommands[i].words, subcommands[i].args);
  o->args += used;
  o->nargs -= used;
  *row = i;
  return NB_EXIT_OK;
}

int nb_cmd_fw(int argc, char **argv) {
  fw_opts o = {.api = "http://127.0.0.1:8080", .object = -1, .concurrency = -1, .retries = -1};
  nb_api_opts_init(&o.token, CLI);
  o.endpoints = json_array();
  int rc = o.endpoints ? parse_args(argc, argv, &o) : NB_EXIT_FAILURE;
  if (rc == NB_EXIT_OK && !o.help) {
    int i = 0;
    rc = pick_subcommand(&o, &i);
    if (rc == NB_EXIT_OK) rc = subcommands[i].run(&o);
  }
  json_decref(o.endpoints);
  nb_api_opts_free(&o.token);
  return rc;
}
