/* `niobium fw`: firmware packages and their delivery (docs/firmware.md). Subcommands come from
 * one table: sign and inspect make and check the signed image format (client/fw_image.h: a
 * COSE_Sign1 manifest followed by the image) without holding the image in memory; the server
 * side's subcommands join the same table. */
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

#include "appfile.h"
#include "base/buf.h"
#include "base/hex.h"
#include "client/fw_image.h"
#include "commands.h"
#include "dtls/cose.h"
#include "dtls/cred.h"
#include "dtls/keys.h"

#define CLI "niobium fw"
#define FW_KEY_MAX ((size_t)64 * 1024)
#define FW_CHUNK 65536

typedef struct {
  const char *name, *summary;
  int (*run)(int argc, char **argv);
} fw_sub;

static int fw_sign(int argc, char **argv);
static int fw_inspect(int argc, char **argv);

static const fw_sub fw_subs[] = {
    {"sign", "make a signed package: manifest (version, size, SHA-256) signed, then the image",
     fw_sign},
    {"inspect", "show a package's manifest and check its digest, size and signature", fw_inspect},
};
#define FW_NSUBS (sizeof fw_subs / sizeof fw_subs[0])

static void fw_usage(FILE *out) {
  fprintf(out,
          "Usage: niobium fw sign --key PRIVKEY --version V [--vendor S] IMAGE --out FILE\n"
          "       niobium fw inspect [--key PUBKEY] FILE\n"
          "Firmware packages for LwM2M Firmware Update (object 5), docs/firmware.md.\n"
          "A signed package is one file: a COSE_Sign1 (RFC 9052, ES256, CBOR tag 18) whose\n"
          "payload is the manifest {1: version, 2: image size, 3: SHA-256 of the image,\n"
          "4: vendor/class}, followed by the image bytes. A device given the signer's public\n"
          "key (niobium client --firmware-trust) installs only packages that verify.\n\n"
          "Subcommands:\n");
  for (size_t i = 0; i < FW_NSUBS; i++)
    fprintf(out, "  %-9s %s\n", fw_subs[i].name, fw_subs[i].summary);
  fprintf(
      out,
      "\nsign:\n"
      "  -k, --key FILE      the signer's P-256 private key (PEM or DER, `niobium keys ec`)\n"
      "  -V, --version V     the image's version (1..127 bytes): the device reports it in\n"
      "                      /5/0/7 and, once installed, in /3/0/3\n"
      "      --vendor S      vendor or device class (/5/0/6), optional\n"
      "  -o, --out FILE      the package (written beside, then renamed)\n"
      "inspect: prints one JSON object {\"file\", \"signed\", \"version\", \"vendor\",\n"
      "  \"image_size\", \"sha256\" (hex, of the image), \"envelope_bytes\", \"kid\" (the\n"
      "  signer's secure ID), \"digest_ok\", \"signature\" (\"valid\", \"invalid\" or\n"
      "  \"not checked\" without --key), \"valid\", \"error\"}.\n"
      "  -k, --key FILE      the signer's public key (or certificate), PEM or DER\n"
      "  -h, --help          this text\n\n"
      "Exit codes: 0 ok (inspect: the package checks out), 1 failure or a package that\n"
      "does not, 2 usage.\n\n"
      "Examples:\n"
      "  niobium keys ec --out vendor\n"
      "  niobium fw sign --key vendor.key.pem --version 2.1.0 firmware.bin --out fw-2.1.0.nbfw\n"
      "  niobium fw inspect --key vendor.pub.pem fw-2.1.0.nbfw\n"
      "  niobium client --server coap://127.0.0.1 --endpoint dev1 --firmware-dir /tmp/fw \\\n"
      "      --firmware-trust vendor.pub.pem\n");
}

static int fw_bad(const char *what, const char *arg) {
  fprintf(stderr, CLI ": %s%s (see niobium fw --help)\n", what, arg);
  return NB_EXIT_USAGE;
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

static int fw_sign(int argc, char **argv) {
  static const struct option opts[] = {
      {"key", required_argument, NULL, 'k'},    {"version", required_argument, NULL, 'V'},
      {"vendor", required_argument, NULL, 'd'}, {"out", required_argument, NULL, 'o'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  const char *key = NULL, *version = NULL, *vendor = "", *out = NULL;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "k:V:o:h", opts, NULL)) != -1) {
    switch (ch) {
      case 'k':
        key = optarg;
        break;
      case 'V':
        version = optarg;
        break;
      case 'd':
        vendor = optarg;
        break;
      case 'o':
        out = optarg;
        break;
      case 'h':
        fw_usage(stdout);
        return NB_EXIT_OK;
      default:
        return fw_bad("bad option", "");
    }
  }
  if (!key || !version || !out || optind != argc - 1)
    return fw_bad("sign needs --key, --version, --out and one IMAGE", "");
  nb_fw_manifest m;
  memset(&m, 0, sizeof m);
  if (!version[0] || strlen(version) >= sizeof m.version || strlen(vendor) >= sizeof m.vendor)
    return fw_bad("--version and --vendor must be 1..127 bytes", "");
  snprintf(m.version, sizeof m.version, "%s", version);
  snprintf(m.vendor, sizeof m.vendor, "%s", vendor);
  nb_bytes k, env;
  nb_bytes_init(&k);
  nb_bytes_init(&env);
  int rc = nb_app_read_small(CLI, "a key file", key, FW_KEY_MAX, &k) == 0 &&
                   fw_digest_file(argv[optind], &m) == 0
               ? NB_EXIT_OK
               : NB_EXIT_FAILURE;
  nb_err e = rc == NB_EXIT_OK ? nb_fw_envelope_sign(&m, k.data, k.len, &env) : NB_OK;
  if (e != NB_OK) {
    fprintf(stderr, CLI ": cannot sign with %s: %s (a P-256 private key is needed)\n", key,
            nb_strerror(e));
    rc = NB_EXIT_FAILURE;
  }
  if (rc == NB_EXIT_OK && fw_write_package(argv[optind], out, &env) != 0) rc = NB_EXIT_FAILURE;
  if (rc == NB_EXIT_OK)
    printf("%s: version %s, image %llu bytes, package %llu bytes\n", out, m.version,
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

static int fw_inspect(int argc, char **argv) {
  static const struct option opts[] = {
      {"key", required_argument, NULL, 'k'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  const char *key = NULL;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
    if (ch == 'k') {
      key = optarg;
    } else if (ch == 'h') {
      fw_usage(stdout);
      return NB_EXIT_OK;
    } else {
      return fw_bad("bad option", "");
    }
  }
  if (optind != argc - 1) return fw_bad("inspect needs one FILE", "");
  const char *path = argv[optind];
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
  json_t *o = json_object();
  json_object_set_new(o, "file", json_string(path));
  json_object_set_new(o, "signed", json_boolean(is_signed));
  if (is_signed) fw_put_manifest(o, &k);
  if (!is_signed) json_object_set_new(o, "image_size", json_integer((json_int_t)k.image_len));
  bool sig_bad = v == NB_FW_CHECK_INTEGRITY && strstr(why, "signature");
  json_object_set_new(o, "digest_ok", json_boolean(is_signed && v == NB_FW_CHECK_OK));
  json_object_set_new(o, "signature",
                      json_string(!is_signed ? "none"
                                  : !key     ? "not checked"
                                  : sig_bad  ? "invalid"
                                             : "valid"));
  bool valid = v == NB_FW_CHECK_OK && is_signed;
  json_object_set_new(o, "valid", json_boolean(valid));
  if (!valid)
    json_object_set_new(o, "error", json_string(is_signed ? why : "not a signed package"));
  char *s = json_dumps(o, JSON_COMPACT);
  if (s) puts(s);
  free(s);
  json_decref(o);
  nb_fw_check_deinit(&k);
  nb_bytes_free(&pub);
  return valid ? NB_EXIT_OK : NB_EXIT_FAILURE;
}

int nb_cmd_fw(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fw_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? NB_EXIT_USAGE : NB_EXIT_OK;
  }
  for (size_t i = 0; i < FW_NSUBS; i++)
    if (strcmp(argv[1], fw_subs[i].name) == 0) return fw_subs[i].run(argc - 1, argv + 1);
  return fw_bad("unknown subcommand ", argv[1]);
}
