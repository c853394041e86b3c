/* `niobium keys`: key material for DTLS credentials. PSKs, P-256 key pairs with their
 * SubjectPublicKeyInfo and secure ID, the QR code a device carries for out-of-band validation
 * (libqrencode), and a small X.509 CA for tests and first use. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/privfile.h"
#include "commands.h"
#include "dtls/keys.h"
#include "dtls/qr.h"

static void nb_keys_usage(FILE *out) {
  fprintf(out,
          "Usage: niobium keys psk [--identity ID | --hex] [--bytes N]\n"
          "       niobium keys ec [--out PREFIX] [--force]\n"
          "       niobium keys qr (--secure-id ID | --pubkey FILE) [--png FILE] [--scale N]\n"
          "       niobium keys cert ca --cn NAME --out PREFIX [--days N] [--force]\n"
          "       niobium keys cert issue --ca PREFIX --cn NAME --out PREFIX [--san NAME]...\n"
          "                               [--days N] [--force]\n"
          "Key material for the DTLS credential modes of LwM2M (PSK, raw public key, X.509).\n"
          "Keys come from the CSPRNG; private keys are written with mode 0600.\n\n"
          "  psk    a random pre-shared key, printed as \"key: HEX\" (default 16 bytes, 1-64);\n"
          "         --hex prints the hex digits alone, for files and scripts\n"
          "  ec     a P-256 key pair: private key (PKCS#8 PEM and DER), public key\n"
          "         (SubjectPublicKeyInfo PEM and DER) and its secure ID. Without --out it is\n"
          "         printed; with --out it goes to PREFIX.key.pem, PREFIX.key.der,\n"
          "         PREFIX.pub.pem and PREFIX.spki.der\n"
          "  qr     the QR code a device carries so an operator can check its key out of band.\n"
          "         Payload: \"" NB_DTLS_QR_PREFIX
          "\" followed by the 30-hex-digit secure ID\n"
          "         (SHA-256 of the SubjectPublicKeyInfo, first 120 bits). --pubkey takes a\n"
          "         public key, certificate or private key file (PEM or DER). Printed with\n"
          "         UTF-8 half blocks for a dark terminal, or written as a PNG with --png\n"
          "  cert   a self-signed CA (PREFIX.crt.pem, PREFIX.key.pem), or an end-entity\n"
          "         certificate with a new P-256 key issued by that CA; --san adds a\n"
          "         subjectAltName (an IP address or a DNS name), repeatable\n"
          "The files of one command are written all or none: when one of them exists\n"
          "(without --force) or cannot be written, none is (never a certificate without\n"
          "its key).\n\n"
          "Options:\n"
          "  -i, --identity ID    PSK identity to print beside the key (UTF-8)\n"
          "  -b, --bytes N        PSK length in bytes\n"
          "  -x, --hex            print the PSK's hex digits alone (no \"key: \")\n"
          "  -o, --out PREFIX     where to write files\n"
          "  -f, --force          overwrite existing files\n"
          "  -s, --secure-id ID   secure ID (30 hex digits) for the QR code\n"
          "  -p, --pubkey FILE    key or certificate whose secure ID goes in the QR code\n"
          "  -P, --png FILE       write the QR code as PNG instead of printing it\n"
          "  -S, --scale N        PNG pixels per module (default 8)\n"
          "  -c, --ca PREFIX      CA files written by 'keys cert ca'\n"
          "  -n, --cn NAME        certificate subject common name\n"
          "  -a, --san NAME       subjectAltName (repeatable)\n"
          "  -d, --days N         validity (default 3650 for a CA, 365 otherwise)\n"
          "  -h, --help           show this help\n\n"
          "Examples:\n"
          "  niobium keys psk --identity urn:imei:490154203237518 --bytes 16\n"
          "  (umask 077; niobium keys psk --hex > dev1.psk)\n"
          "  curl ... -d '{\"mode\":\"psk\",\"identity\":\"dev1\",\"key\":\"'\"$(niobium keys psk "
          "--hex)\"'\"}'\n"
          "  niobium keys ec --out device1\n"
          "  niobium keys qr --pubkey device1.pub.pem --png device1-qr.png\n"
          "  niobium keys qr --secure-id 3f2a9c0d11e4b5a6c7d8e9f0a1b2c3\n"
          "  niobium keys cert ca --cn \"Niobium test CA\" --out ca\n"
          "  niobium keys cert issue --ca ca --cn lwm2m.example.org --san 127.0.0.1 --out server\n"
          "  niobium keys cert issue --ca ca --cn urn:dev:ops:1234 --out device1\n\n"
          "Exit status: 0 ok, 1 a file could not be read or written, 2 usage error.\n");
}

typedef struct {
  const char *identity;
  long bytes;
  const char *out;
  bool force;
  const char *secure_id;
  const char *pubkey;
  const char *png;
  long scale;
  const char *ca;
  const char *cn;
  const char *sans[16];
  size_t n_sans;
  long days;
  bool hex;
} nb_keys_opts;

static int nb_keys_bad_usage(const char *msg) {
  fprintf(stderr, "niobium keys: %s\nRun 'niobium keys --help' for the options.\n", msg);
  return NB_EXIT_USAGE;
}

static bool nb_keys_number(const char *text, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || *text == 0 || *end != 0 || v < lo || v > hi) return false;
  *out = v;
  return true;
}

/* Parses options after the verb (argv[0] is the verb); returns NB_EXIT_OK or an exit code. */
static int nb_keys_parse(int argc, char **argv, nb_keys_opts *o, bool *help) {
  static const struct option longopts[] = {
      {"identity", required_argument, NULL, 'i'},
      {"bytes", required_argument, NULL, 'b'},
      {"out", required_argument, NULL, 'o'},
      {"force", no_argument, NULL, 'f'},
      {"secure-id", required_argument, NULL, 's'},
      {"pubkey", required_argument, NULL, 'p'},
      {"png", required_argument, NULL, 'P'},
      {"scale", required_argument, NULL, 'S'},
      {"ca", required_argument, NULL, 'c'},
      {"cn", required_argument, NULL, 'n'},
      {"san", required_argument, NULL, 'a'},
      {"days", required_argument, NULL, 'd'},
      {"hex", no_argument, NULL, 'x'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "i:b:o:fs:p:P:S:c:n:a:d:xh", longopts, NULL)) != -1) {
    switch (c) {
      case 'i':
        o->identity = optarg;
        break;
      case 'b':
        if (!nb_keys_number(optarg, 1, NB_DTLS_PSK_KEY_MAX, &o->bytes))
          return nb_keys_bad_usage("--bytes takes a number from 1 to 64");
        break;
      case 'o':
        o->out = optarg;
        break;
      case 'f':
        o->force = true;
        break;
      case 's':
        o->secure_id = optarg;
        break;
      case 'p':
        o->pubkey = optarg;
        break;
      case 'P':
        o->png = optarg;
        break;
      case 'S':
        if (!nb_keys_number(optarg, 1, 64, &o->scale))
          return nb_keys_bad_usage("--scale takes a number from 1 to 64");
        break;
      case 'c':
        o->ca = optarg;
        break;
      case 'n':
        o->cn = optarg;
        break;
      case 'a':
        if (o->n_sans == sizeof o->sans / sizeof o->sans[0])
          return nb_keys_bad_usage("too many --san options (16 at most)");
        o->sans[o->n_sans++] = optarg;
        break;
      case 'd':
        if (!nb_keys_number(optarg, 1, 36500, &o->days))
          return nb_keys_bad_usage("--days takes a number from 1 to 36500");
        break;
      case 'x':
        o->hex = true;
        break;
      case 'h':
        *help = true;
        return NB_EXIT_OK;
      default:
        return nb_keys_bad_usage("unknown option or missing value");
    }
  }
  if (optind != argc) return nb_keys_bad_usage("unexpected argument");
  return NB_EXIT_OK;
}

/* ---- files ---- */

/* A private key goes to a 0600 file (made so when --force writes over an older one); public
 * things (public keys, certificates, QR codes) follow the umask. */
static bool nb_keys_write(const char *path, const void *data, size_t len, bool secret, bool force) {
  int flags = O_WRONLY | O_CREAT | O_TRUNC | (force ? 0 : O_EXCL);
  int fd = secret ? nb_privfile_open(path, flags) : open(path, flags, 0644);
  if (fd < 0) {
    if (errno == EEXIST) {
      fprintf(stderr,
              "niobium keys: %s exists; use --force to overwrite it or pick another --out\n", path);
    } else {
      fprintf(stderr, "niobium keys: cannot write %s: %s\n", path, strerror(errno));
    }
    return false;
  }
  const uint8_t *p = data;
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(fd, p + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fprintf(stderr, "niobium keys: cannot write %s: %s\n", path, strerror(errno));
      close(fd);
      return false;
    }
    done += (size_t)n;
  }
  return close(fd) == 0;
}

static bool nb_keys_read(const char *path, nb_bytes *out) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "niobium keys: cannot read %s: %s\n", path, strerror(errno));
    return false;
  }
  uint8_t buf[4096];
  size_t n;
  bool ok = true;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0 && ok) ok = nb_bytes_append(out, buf, n) == NB_OK;
  if (ferror(f)) ok = false;
  fclose(f);
  if (!ok) fprintf(stderr, "niobium keys: cannot read %s\n", path);
  return ok;
}

/* One file of a set a command writes together. */
typedef struct {
  const char *suffix; /* after the --out prefix */
  const nb_bytes *data;
  bool secret; /* a private key: 0600 */
} nb_keys_file;

#define NB_KEYS_SET_MAX 4

/* Writes data to a new temporary file beside path (0600, or 0644 minus the umask for public
 * things); its name into tmp. */
static bool nb_keys_write_temp(const char *path, const nb_keys_file *f, char *tmp, size_t cap) {
  if ((size_t)snprintf(tmp, cap, "%s.tmp-XXXXXX", path) >= cap) return false;
  int fd = mkstemp(tmp);
  if (fd < 0) {
    fprintf(stderr, "niobium keys: cannot write %s: %s\n", path, strerror(errno));
    tmp[0] = '\0';
    return false;
  }
  mode_t mask = umask(0);
  umask(mask);
  bool ok = fchmod(fd, f->secret ? 0600 : 0644 & ~mask) == 0;
  for (size_t done = 0; ok && done < f->data->len;) {
    ssize_t n = write(fd, f->data->data + done, f->data->len - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += (size_t)n;
  }
  if (close(fd) != 0) ok = false;
  if (!ok) fprintf(stderr, "niobium keys: cannot write %s: %s\n", path, strerror(errno));
  return ok;
}

/* The files of one command, all or none: each goes to a temporary file first, and only when
 * every one is written are they moved into place (without --force, linked so that a file that
 * exists, or appears meanwhile, is never replaced; then nothing of the set stays). */
static bool nb_keys_write_set(const char *prefix, const nb_keys_file *files, size_t n, bool force) {
  char paths[NB_KEYS_SET_MAX][4096], tmps[NB_KEYS_SET_MAX][4200];
  size_t placed = 0, made = 0;
  bool ok = n <= NB_KEYS_SET_MAX;
  for (size_t i = 0; ok && i < n; i++) {
    ok = (size_t)snprintf(paths[i], sizeof paths[i], "%s%s", prefix, files[i].suffix) <
         sizeof paths[i];
    if (!ok) fprintf(stderr, "niobium keys: --out prefix too long\n");
    if (ok && !force && access(paths[i], F_OK) == 0) {
      fprintf(stderr,
              "niobium keys: %s exists; nothing was written (use --force to overwrite, or pick "
              "another --out)\n",
              paths[i]);
      ok = false;
    }
  }
  for (; ok && made < n; made++)
    ok = nb_keys_write_temp(paths[made], &files[made], tmps[made], sizeof tmps[made]);
  for (; ok && placed < n; placed++) {
    ok = force ? rename(tmps[placed], paths[placed]) == 0 : link(tmps[placed], paths[placed]) == 0;
    if (!ok)
      fprintf(stderr, "niobium keys: cannot write %s: %s; %s\n", paths[placed], strerror(errno),
              force && placed ? "the files before it were replaced" : "nothing was written");
  }
  for (size_t i = 0; i < made; i++)
    if (tmps[i][0] && (!force || !ok)) unlink(tmps[i]);
  for (size_t i = 0; !ok && !force && i < placed; i++) unlink(paths[i]); /* ours: they were new */
  for (size_t i = 0; ok && i < n; i++) printf("wrote %s\n", paths[i]);
  return ok;
}

static void nb_keys_print_hex(const char *label, const uint8_t *d, size_t n) {
  printf("%s", label);
  for (size_t i = 0; i < n; i++) printf("%02x", d[i]);
  printf("\n");
}

/* ---- verbs ---- */

static int nb_keys_psk(const nb_keys_opts *o) {
  uint8_t key[NB_DTLS_PSK_KEY_MAX];
  size_t n = o->bytes ? (size_t)o->bytes : 16;
  if (nb_dtls_psk_generate(key, n) != NB_OK) {
    fprintf(stderr, "niobium keys: the random generator failed; try again\n");
    return NB_EXIT_FAILURE;
  }
  if (o->identity) printf("identity: %s\n", o->identity);
  nb_keys_print_hex(o->hex ? "" : "key: ", key, n);
  memset(key, 0, sizeof key);
  return NB_EXIT_OK;
}

static int nb_keys_ec(const nb_keys_opts *o) {
  nb_dtls_keypair kp;
  if (nb_dtls_keypair_generate(&kp) != NB_OK) {
    fprintf(stderr, "niobium keys: key generation failed\n");
    return NB_EXIT_FAILURE;
  }
  int rc = NB_EXIT_OK;
  if (o->out) {
    const nb_keys_file files[] = {{".key.pem", &kp.key_pem, true},
                                  {".key.der", &kp.key_der, true},
                                  {".pub.pem", &kp.spki_pem, false},
                                  {".spki.der", &kp.spki_der, false}};
    if (!nb_keys_write_set(o->out, files, 4, o->force)) rc = NB_EXIT_FAILURE;
  } else {
    fwrite(kp.key_pem.data, 1, kp.key_pem.len, stdout);
    fwrite(kp.spki_pem.data, 1, kp.spki_pem.len, stdout);
    nb_keys_print_hex("spki: ", kp.spki_der.data, kp.spki_der.len);
  }
  if (rc == NB_EXIT_OK) printf("secure-id: %s\n", kp.secure_id);
  nb_dtls_keypair_free(&kp);
  return rc;
}

/* The secure ID from --secure-id or --pubkey; NB_EXIT_OK or an exit code. */
static int nb_keys_qr_sid(const nb_keys_opts *o, char sid[NB_DTLS_SECURE_ID_LEN + 1]) {
  if (!o->secure_id == !o->pubkey) {
    return nb_keys_bad_usage("qr needs exactly one of --secure-id or --pubkey");
  }
  if (o->secure_id) {
    snprintf(sid, NB_DTLS_SECURE_ID_LEN + 1, "%s", o->secure_id);
    return strlen(o->secure_id) == NB_DTLS_SECURE_ID_LEN
               ? NB_EXIT_OK
               : nb_keys_bad_usage("--secure-id takes 30 hex digits");
  }
  nb_bytes file, spki;
  nb_bytes_init(&file);
  nb_bytes_init(&spki);
  int rc = NB_EXIT_FAILURE;
  if (nb_keys_read(o->pubkey, &file)) {
    if (nb_dtls_spki_load(file.data, file.len, &spki) == NB_OK &&
        nb_dtls_secure_id(spki.data, spki.len, sid) == NB_OK) {
      rc = NB_EXIT_OK;
    } else {
      fprintf(stderr,
              "niobium keys: %s holds no public key, certificate or private key (PEM or DER)\n",
              o->pubkey);
    }
  }
  nb_bytes_free(&file);
  nb_bytes_free(&spki);
  return rc;
}

static int nb_keys_qr(const nb_keys_opts *o) {
  char sid[NB_DTLS_SECURE_ID_LEN + 1], payload[64];
  int rc = nb_keys_qr_sid(o, sid);
  if (rc != NB_EXIT_OK) return rc;
  if (nb_dtls_qr_payload(sid, payload, sizeof payload) != NB_OK) {
    return nb_keys_bad_usage("--secure-id takes 30 hex digits");
  }
  QRcode *qr = QRcode_encodeString(payload, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (!qr) {
    fprintf(stderr, "niobium keys: QR encoding failed: %s\n", strerror(errno));
    return NB_EXIT_FAILURE;
  }
  nb_dtls_qr_matrix m = {qr->data, qr->width};
  nb_bytes out;
  nb_bytes_init(&out);
  rc = NB_EXIT_FAILURE;
  if (o->png) {
    if (nb_dtls_qr_png(&m, o->scale ? (int)o->scale : 8, 4, &out) == NB_OK &&
        nb_keys_write(o->png, out.data, out.len, false, true)) {
      printf("wrote %s\n", o->png);
      rc = NB_EXIT_OK;
    }
  } else if (nb_dtls_qr_text(&m, 2, &out) == NB_OK) {
    fwrite(out.data, 1, out.len, stdout);
    rc = NB_EXIT_OK;
  }
  if (rc == NB_EXIT_OK) printf("payload: %s\n", payload);
  nb_bytes_free(&out);
  QRcode_free(qr);
  return rc;
}

/* The certificate and its key: both or neither. */
static bool nb_keys_write_certkey(const char *prefix, const nb_dtls_certkey *ck, bool force) {
  const nb_keys_file files[] = {{".crt.pem", &ck->cert_pem, false},
                                {".key.pem", &ck->key.key_pem, true}};
  return nb_keys_write_set(prefix, files, 2, force);
}

static int nb_keys_cert_ca(const nb_keys_opts *o) {
  nb_dtls_cert_request req = {o->cn, (unsigned)o->days, o->sans, o->n_sans};
  nb_dtls_certkey ck;
  nb_err err = nb_dtls_cert_make_ca(&req, &ck);
  if (err != NB_OK) {
    fprintf(stderr, "niobium keys: cannot make the CA: %s\n", nb_strerror(err));
    return NB_EXIT_FAILURE;
  }
  int rc = nb_keys_write_certkey(o->out, &ck, o->force) ? NB_EXIT_OK : NB_EXIT_FAILURE;
  if (rc == NB_EXIT_OK) printf("secure-id: %s\n", ck.key.secure_id);
  nb_dtls_certkey_free(&ck);
  return rc;
}

static int nb_keys_cert_issue(const nb_keys_opts *o) {
  char path[4096];
  nb_bytes ca_cert, ca_key;
  nb_bytes_init(&ca_cert);
  nb_bytes_init(&ca_key);
  int rc = NB_EXIT_FAILURE;
  snprintf(path, sizeof path, "%s.crt.pem", o->ca);
  bool ok = nb_keys_read(path, &ca_cert);
  snprintf(path, sizeof path, "%s.key.pem", o->ca);
  ok = ok && nb_keys_read(path, &ca_key);
  if (ok) {
    nb_dtls_cert_request req = {o->cn, (unsigned)o->days, o->sans, o->n_sans};
    nb_dtls_certkey ck;
    nb_err err = nb_dtls_cert_issue(ca_cert.data, ca_cert.len, ca_key.data, ca_key.len, &req, &ck);
    if (err == NB_OK) {
      rc = nb_keys_write_certkey(o->out, &ck, o->force) ? NB_EXIT_OK : NB_EXIT_FAILURE;
      if (rc == NB_EXIT_OK) printf("secure-id: %s\n", ck.key.secure_id);
      nb_dtls_certkey_free(&ck);
    } else {
      fprintf(stderr,
              "niobium keys: cannot issue the certificate with CA '%s': %s (are %s.crt.pem and "
              "%s.key.pem from 'keys cert ca'?)\n",
              o->ca, nb_strerror(err), o->ca, o->ca);
    }
  } else {
    fprintf(stderr, "niobium keys: --ca %s must name files written by 'niobium keys cert ca'\n",
            o->ca);
  }
  if (ca_key.data) memset(ca_key.data, 0, ca_key.len);
  nb_bytes_free(&ca_cert);
  nb_bytes_free(&ca_key);
  return rc;
}

static int nb_keys_cert(int argc, char **argv, const nb_keys_opts *o) {
  (void)argc;
  const char *what = argv[0];
  if (!o->cn || !*o->cn) return nb_keys_bad_usage("cert needs --cn NAME");
  if (!o->out) return nb_keys_bad_usage("cert needs --out PREFIX");
  if (strcmp(what, "ca") == 0) return nb_keys_cert_ca(o);
  if (strcmp(what, "issue") != 0) return nb_keys_bad_usage("cert takes 'ca' or 'issue'");
  if (!o->ca) return nb_keys_bad_usage("cert issue needs --ca PREFIX");
  return nb_keys_cert_issue(o);
}

int nb_cmd_keys(int argc, char **argv) {
  if (argc < 2) {
    nb_keys_usage(stderr);
    return NB_EXIT_USAGE;
  }
  const char *verb = argv[1];
  if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 || strcmp(verb, "help") == 0) {
    nb_keys_usage(stdout);
    return NB_EXIT_OK;
  }
  /* `cert` has a second word (ca|issue) before its options. */
  bool cert = strcmp(verb, "cert") == 0;
  int skip = cert ? 2 : 1;
  if (cert && argc < 3) return nb_keys_bad_usage("cert takes 'ca' or 'issue'");
  nb_keys_opts o;
  memset(&o, 0, sizeof o);
  bool help = false;
  int rc = nb_keys_parse(argc - skip, argv + skip, &o, &help);
  if (rc != NB_EXIT_OK) return rc;
  if (help) {
    nb_keys_usage(stdout);
    return NB_EXIT_OK;
  }
  if (strcmp(verb, "psk") == 0 && o.hex && o.identity)
    return nb_keys_bad_usage("--hex prints the key alone: give --identity or --hex, not both");
  if (strcmp(verb, "psk") == 0) return nb_keys_psk(&o);
  if (strcmp(verb, "ec") == 0) return nb_keys_ec(&o);
  if (strcmp(verb, "qr") == 0) return nb_keys_qr(&o);
  if (cert) return nb_keys_cert(argc - 2, argv + 2, &o);
  return nb_keys_bad_usage("unknown verb (psk, ec, qr, cert)");
}
