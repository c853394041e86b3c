/* `niobium decode --format F [--path P] HEX|-`: decodes an LwM2M payload (TLV, LwM2M JSON/CBOR,
 * SenML JSON/CBOR, CBOR, text, opaque or link-format) and prints one line per record with the
 * resource names of the definitions; malformed input exits 1 with the CoAP code a peer would
 * answer and the reason. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/hex.h"
#include "coap/msg.h"
#include "commands.h"
#include "ddf_opts.h"
#include "lwm2m/format.h"
#include "lwm2m/linkfmt.h"
#include "lwm2m/model.h"
#include "lwm2m/text.h"

#define NB_DECODE_MAX_INPUT ((size_t)16 * 1024 * 1024)

static void nb_decode_usage(FILE *out) {
  fprintf(out,
          "Usage: niobium decode --format FORMAT [--path PATH] [options] HEX|-\n"
          "Decodes an LwM2M payload and prints its records with the resource names of the\n"
          "object definitions. HEX is the payload in hexadecimal (spaces and ':' allowed);\n"
          "'-' reads the raw payload from standard input.\n\n"
          "Options:\n"
          "  -f, --format NAME  tlv (11542), json (LwM2M JSON, 11543), lwm2m-cbor (11544),\n"
          "                     senml-json (110), senml-cbor (112), cbor (60), text (0),\n"
          "                     opaque (42), link (40)\n"
          "  -p, --path PATH    the request path the payload belongs to (default \"/\"; TLV\n"
          "                     needs an object, text/cbor/opaque a resource)\n"
          "      --paths        the payload is a list of paths (Read-Composite: SenML or\n"
          "                     LwM2M CBOR)\n"
          "  -d, --ddf PATH     also load OMA DDF XML definitions (a file or a directory)\n"
          "  -h, --help         show this help\n\n"
          "Examples:\n"
          "  niobium decode --format tlv --path /3/0 'C8 00 14 "
          "4F70656E204D6F62696C6520416C6C69616E6365'\n"
          "  niobium decode -f tlv -p /3/0/7 88070842000ED842011388\n"
          "  echo -n '[{\"bn\":\"/3/0/\",\"n\":\"9\",\"v\":87}]' | niobium decode -f senml-json -\n"
          "  niobium decode -f link - < register-payload.txt\n"
          "  niobium decode -f text -p /3/0/13 31333637343931323135\n"
          "  niobium decode -f lwm2m-cbor -p /3/0 'A1 03 A1 00 A1 09 18 57'\n\n"
          "Output: one line per record, '/3/0/0 Manufacturer = \"Open Mobile Alliance\"'.\n"
          "A payload accepted although it breaks its format the way some peers send it (LwM2M\n"
          "JSON whose bn lacks its trailing '/') decodes with a note on stderr.\n"
          "Exit status: 0 decoded, 1 the payload is invalid (the CoAP error code a peer would\n"
          "answer and the reason are printed) or a DDF file failed, 2 usage error.\n");
}

static bool nb_decode_read_stdin(nb_bytes *out) {
  uint8_t buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
    if (out->len + n > NB_DECODE_MAX_INPUT || nb_bytes_append(out, buf, n) != NB_OK) return false;
  }
  return !ferror(stdin);
}

/* A string as a quoted, escaped literal. */
static void nb_decode_print_quoted(const uint8_t *s, size_t len) {
  putchar('"');
  for (size_t k = 0; k < len; k++) {
    unsigned char c = s[k];
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c == '\n')
      fputs("\\n", stdout);
    else if (c < 0x20 || c == 0x7f)
      printf("\\x%02x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static void nb_decode_print_value(const nb_value *v) {
  char buf[64];
  nb_bytes text;
  switch (v->type) {
    case NB_VT_NONE:
      fputs("(no value)", stdout);
      break;
    case NB_VT_STRING:
    case NB_VT_CORELNK:
      nb_decode_print_quoted(v->v.bytes.data, v->v.bytes.len);
      break;
    case NB_VT_OPAQUE:
      if (v->v.bytes.len == 0)
        fputs("(empty opaque)", stdout);
      else
        fputs("0x", stdout);
      for (size_t k = 0; k < v->v.bytes.len; k++) printf("%02x", v->v.bytes.data[k]);
      break;
    case NB_VT_BOOL:
      fputs(v->v.b ? "true" : "false", stdout);
      break;
    case NB_VT_TIME: {
      time_t t = (time_t)v->v.t;
      struct tm tm;
      printf("%" PRId64, v->v.t);
      if (gmtime_r(&t, &tm) && strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm)) {
        printf(" (%s)", buf);
      }
      break;
    }
    default:
      nb_bytes_init(&text);
      if (nb_text_format_value(v, &text) == NB_OK)
        fwrite(text.data, 1, text.len, stdout);
      else if (v->type == NB_VT_FLOAT)
        printf("%g", v->v.f);
      nb_bytes_free(&text);
      break;
  }
}

/* "Manufacturer", "Power Source Voltage[1]", "Device" (object), "Device/0" (instance). */
static void nb_decode_print_name(const nb_model *m, const nb_path *p) {
  if (p->len == 0) return;
  const nb_object_def *o = nb_model_object(m, p->ids[0]);
  if (p->len <= 2) {
    if (o) printf(" %s", o->name);
    if (o && p->len == 2) printf("/%u", (unsigned)p->ids[1]);
    return;
  }
  const nb_resource_def *r = nb_model_resource(m, p->ids[0], p->ids[2]);
  if (!r) {
    fputs(" (undefined)", stdout);
    return;
  }
  printf(" %s", r->name);
  if (p->len == 4) printf("[%u]", (unsigned)p->ids[3]);
}

static void nb_decode_print_records(const nb_model *m, const nb_records *r, const nb_times *t) {
  for (size_t k = 0; k < r->len; k++) {
    char path[NB_PATH_STRLEN];
    nb_path_format(&r->items[k].path, path, sizeof path);
    fputs(path, stdout);
    nb_decode_print_name(m, &r->items[k].path);
    fputs(" = ", stdout);
    nb_decode_print_value(&r->items[k].value);
    if (t && k < t->len && !isnan(t->items[k])) {
      char num[40];
      snprintf(num, sizeof num, "%.17g", t->items[k]);
      printf("  @ t=%s", num);
    }
    putchar('\n');
  }
}

static int nb_decode_fail(uint8_t code, const char *reason, const char *detail) {
  char c[8];
  fprintf(stderr, "niobium decode: %s %s: %s\n", nb_coap_code_format(code, c),
          nb_coap_code_name(code), detail && detail[0] ? detail : reason);
  fprintf(stderr,
          "niobium decode: the payload is not valid for this format and path; a peer would "
          "answer %s. Check --format and --path.\n",
          c);
  return NB_EXIT_FAILURE;
}

static int nb_decode_links(const nb_model *m, const nb_bytes *in) {
  nb_lwm2m_links links;
  nb_lwm2m_links_init(&links);
  nb_format_error fe = {NB_COAP_BAD_REQUEST, "invalid"};
  char detail[256];
  if (nb_linkfmt_decode(in->data, in->len, &links, &fe, detail, sizeof detail) != NB_OK) {
    return nb_decode_fail(fe.code, fe.reason, detail);
  }
  if (links.has_root) {
    printf("%s (root)", links.root[0] ? links.root : "/");
    if (links.rt_lwm2m) fputs(" rt=\"oma.lwm2m\"", stdout);
    for (size_t k = 0; k < links.ct_count; k++) {
      printf("%s%u", k ? "," : " ct=", (unsigned)links.cts[k]);
    }
    if (links.lwm2m[0]) printf(" lwm2m=%s", links.lwm2m);
    putchar('\n');
  }
  for (size_t k = 0; k < links.len; k++) {
    char path[NB_PATH_STRLEN], attrs[NB_ATTR_URI_MAX + 256];
    nb_path_format(&links.items[k].path, path, sizeof path);
    fputs(path, stdout);
    nb_decode_print_name(m, &links.items[k].path);
    if (nb_attrs_format_link(&links.items[k].attrs, attrs, sizeof attrs) == NB_OK) {
      for (char *c = attrs; *c; c++) {
        if (*c == ';') *c = ' ';
      }
      fputs(attrs, stdout);
    }
    putchar('\n');
  }
  nb_lwm2m_links_deinit(&links);
  return NB_EXIT_OK;
}

static int nb_decode_values(int cf, const nb_model *m, const nb_path *base, bool paths,
                            const nb_bytes *in) {
  nb_records r;
  nb_records_init(&r);
  nb_times t;
  nb_times_init(&t);
  const char *note = NULL;
  nb_format_opts opts = {base, m, paths ? NB_FORMAT_PATHS_ONLY : 0, &t, NULL, &note};
  nb_format_error fe = {NB_COAP_BAD_REQUEST, "invalid"};
  int rc = NB_EXIT_OK;
  if (nb_format_decode_ex(cf, in->data, in->len, &opts, &r, &fe) != NB_OK) {
    rc = nb_decode_fail(fe.code, fe.reason, NULL);
  } else {
    if (note) fprintf(stderr, "niobium decode: note: %s\n", note);
    nb_decode_print_records(m, &r, &t);
  }
  nb_times_deinit(&t);
  nb_records_deinit(&r);
  return rc;
}

typedef struct {
  int cf;
  const char *path;
  bool paths;
  nb_ddf_opts ddf;
} nb_decode_args;

/* Parses the options; returns -1 to go on, or the exit code. */
static int nb_decode_parse_args(int argc, char **argv, nb_decode_args *a) {
  static const struct option options[] = {
      {"format", required_argument, NULL, 'f'}, {"path", required_argument, NULL, 'p'},
      {"paths", no_argument, NULL, 'P'},        {"ddf", required_argument, NULL, 'd'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "f:p:d:h", options, NULL)) != -1;) {
    switch (c) {
      case 'f':
        a->cf = nb_format_from_name(strcmp(optarg, "lwm2m-json") ? optarg : "json");
        if (a->cf == NB_COAP_CF_NONE) {
          fprintf(stderr,
                  "niobium decode: unknown format '%s'; use tlv, json, lwm2m-cbor, senml-json, "
                  "senml-cbor, cbor, text, opaque or link\n",
                  optarg);
          return NB_EXIT_USAGE;
        }
        break;
      case 'p':
        a->path = optarg;
        break;
      case 'P':
        a->paths = true;
        break;
      case 'd':
        if (nb_ddf_opts_add(&a->ddf, "niobium decode", optarg) != NB_EXIT_OK) return NB_EXIT_USAGE;
        break;
      case 'h':
        nb_decode_usage(stdout);
        return NB_EXIT_OK;
      default:
        fprintf(stderr, "Run 'niobium decode --help' for the options.\n");
        return NB_EXIT_USAGE;
    }
  }
  if (a->cf == NB_COAP_CF_NONE) {
    fprintf(stderr, "niobium decode: --format is required (e.g. --format tlv)\n");
    return NB_EXIT_USAGE;
  }
  if (argc - optind != 1) {
    fprintf(stderr, "niobium decode: give the payload as one HEX argument, or '-' for stdin\n");
    return NB_EXIT_USAGE;
  }
  return -1;
}

int nb_cmd_decode(int argc, char **argv) {
  nb_decode_args a = {NB_COAP_CF_NONE, "/", false, {{0}, 0}};
  int rc = nb_decode_parse_args(argc, argv, &a);
  if (rc >= 0) return rc;
  nb_path base;
  if (nb_path_parse(a.path, &base) != NB_OK) {
    fprintf(stderr, "niobium decode: '%s' is not an LwM2M path such as /3/0 or /3/0/7/1\n", a.path);
    return NB_EXIT_USAGE;
  }
  nb_bytes in;
  nb_bytes_init(&in);
  const char *arg = argv[optind];
  if (!strcmp(arg, "-")) {
    if (!nb_decode_read_stdin(&in)) {
      fprintf(stderr, "niobium decode: cannot read the payload from stdin (at most 16 MiB)\n");
      nb_bytes_free(&in);
      return NB_EXIT_FAILURE;
    }
  } else if (nb_hex_decode_append(arg, strlen(arg), " :\t\r\n", &in) != NB_OK) {
    fprintf(stderr,
            "niobium decode: '%.40s' is not hexadecimal; pass raw bytes on stdin with '-'\n", arg);
    nb_bytes_free(&in);
    return NB_EXIT_USAGE;
  }
  nb_model *m = nb_model_new();
  if (!m) {
    fprintf(stderr, "niobium decode: out of memory\n");
    nb_bytes_free(&in);
    return NB_EXIT_FAILURE;
  }
  rc = nb_ddf_opts_load(&a.ddf, "niobium decode", m, NULL);
  if (rc == NB_EXIT_OK) {
    rc = a.cf == NB_COAP_CF_LINK_FORMAT ? nb_decode_links(m, &in)
                                        : nb_decode_values(a.cf, m, &base, a.paths, &in);
  }
  nb_model_free(m);
  nb_bytes_free(&in);
  return rc;
}
