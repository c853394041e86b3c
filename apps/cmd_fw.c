/* `niobium fw`: firmware images and update campaigns through a running server's REST API
 * (docs/firmware.md): upload, list, delete, push to one device, and campaign create, list,
 * show, pause, resume, cancel, delete. One table of subcommands; each row takes its
 * positional arguments and answers with the API's JSON on stdout. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_opts.h"
#include "commands.h"
#include "io/http_client.h"

#define FW_ERR(...) (fprintf(stderr, "niobium fw: " __VA_ARGS__), NB_EXIT_FAILURE)
#define FW_USAGE(...) (fprintf(stderr, "niobium fw: " __VA_ARGS__), NB_EXIT_USAGE)

typedef struct {
  const char *api, *api_ca, *name, *method, *prefix, *version;
  nb_api_opts token;         /* --api-token, --api-token-file */
  json_t *endpoints;         /* --endpoint, repeatable */
  int object;                /* --object; -1 none */
  long concurrency, retries; /* -1: the server's default */
  char **args;               /* positional arguments after the subcommand */
  int nargs;
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
  if (o->version) json_object_set_new(t, "firmwareVersion", json_string(o->version));
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

/* The subcommands: words, positional arguments, what they do. */
static const struct {
  const char *words; /* "upload", "campaign create" */
  int nargs;
  const char *args;
  const char *help;
  int (*run)(const fw_opts *o);
} subcommands[] = {
    {"upload", 1, "FILE [--name NAME]", "upload an image (any size; its sha256 is its ID)",
     fw_upload},
    {"list", 0, "", "the images on the server", fw_list},
    {"delete", 1, "SHA256", "delete an image (refused while a campaign uses it)", fw_delete},
    {"push", 2, "EP SHA256 [--method push|pull] [--retries N]",
     "update one device (a campaign of one)", fw_push},
    {"campaign create", 1,
     "SHA256 (--endpoint EP... | [--prefix P] [--object N] [--firmware-version V])\n"
     "                 [--method push|pull] [--concurrency N] [--retries N]",
     "update a set of devices", campaign_create},
    {"campaign list", 0, "", "every campaign (all pages), without devices", campaign_list},
    {"campaign show", 1, "ID", "a campaign with its devices' progress", campaign_show},
    {"campaign pause", 1, "ID", "start no new device", campaign_pause},
    {"campaign resume", 1, "ID", "go on", campaign_resume},
    {"campaign cancel", 1, "ID", "stop (devices keep what they got)", campaign_cancel},
    {"campaign delete", 1, "ID", "forget a campaign that is over", campaign_delete},
};
#define NSUB (sizeof subcommands / sizeof subcommands[0])

static void usage(FILE *f) {
  fprintf(f,
          "usage: niobium fw SUBCOMMAND [ARGS] [--api URL] [--api-token T | --api-token-file F]"
          " [--api-ca FILE]\n");
  for (size_t i = 0; i < NSUB; i++)
    fprintf(f, "  %-16s %s\n  %-16s   %s\n", subcommands[i].words, subcommands[i].args, "",
            subcommands[i].help);
  fprintf(f,
          "  --api URL          the server's REST API (default http://127.0.0.1:8080)\n"
          "  --api-token T, --api-token-file F  its token (the file: one line, 0600)\n"
          "  --api-ca FILE      trust anchors (PEM) of an https:// API\n"
          "answers are the API's JSON on stdout (docs/openapi.yaml); see docs/firmware.md.\n"
          "examples:\n"
          "  niobium fw upload meter-2.1.0.fw --name meter-2.1.0\n"
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

static int parse_opt(fw_opts *o, int c) {
  switch (c) {
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
      o->version = optarg;
      return NB_EXIT_OK;
    case 'o': {
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
  static const struct option opts[] = {
      {"api", required_argument, NULL, 'a'},
      {"api-ca", required_argument, NULL, 'C'},
      {"api-token", required_argument, NULL, NB_AO_TOKEN},
      {"api-token-file", required_argument, NULL, NB_AO_TOKEN_FILE},
      {"name", required_argument, NULL, 'n'},
      {"method", required_argument, NULL, 'm'},
      {"endpoint", required_argument, NULL, 'e'},
      {"prefix", required_argument, NULL, 'p'},
      {"object", required_argument, NULL, 'o'},
      {"firmware-version", required_argument, NULL, 'v'},
      {"concurrency", required_argument, NULL, 'c'},
      {"retries", required_argument, NULL, 'r'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int c, rc;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
    if ((rc = parse_opt(o, c)) != NB_EXIT_OK || o->help) return rc;
  o->args = argv + optind;
  o->nargs = argc - optind;
  return NB_EXIT_OK;
}

int nb_cmd_fw(int argc, char **argv) {
  fw_opts o = {.api = "http://127.0.0.1:8080", .object = -1, .concurrency = -1, .retries = -1};
  nb_api_opts_init(&o.token, "niobium fw");
  o.endpoints = json_array();
  int rc = o.endpoints ? parse_args(argc, argv, &o) : NB_EXIT_FAILURE;
  int used = 0, i = -1;
  if (rc == NB_EXIT_OK && !o.help) {
    i = find_subcommand(&o, &used);
    if (i < 0) {
      usage(stderr);
      rc = NB_EXIT_USAGE;
    } else if (o.nargs - used != subcommands[i].nargs) {
      rc = FW_USAGE("usage: niobium fw %s %s\n", subcommands[i].words, subcommands[i].args);
    }
  }
  if (rc == NB_EXIT_OK && !o.help) {
    o.args += used;
    o.nargs -= used;
    rc = subcommands[i].run(&o);
  }
  json_decref(o.endpoints);
  nb_api_opts_free(&o.token);
  return rc;
}
