/* `niobium objects [ID] [--ddf PATH]`: lists the object definitions the tools know (built-in
 * tables plus DDF files), or one object's resources as a table. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "lwm2m/ddf/ddf.h"
#include "lwm2m/model.h"
#include "lwm2m/path.h"

static void nb_objects_usage(FILE *out) {
  fprintf(out,
          "Usage: niobium objects [ID] [--ddf FILE|DIR]... [--verbose]\n"
          "Lists the LwM2M object definitions (built-in: objects 0-7 and common IPSO objects),\n"
          "one line per object, or with ID the resources of that object.\n\n"
          "Options:\n"
          "  -d, --ddf PATH   also load OMA DDF XML definitions from a file or a directory\n"
          "                   (every *.xml in it; later definitions override earlier ones)\n"
          "  -v, --verbose    say which files of a directory were skipped and why\n"
          "  -h, --help       show this help\n\n"
          "Examples:\n"
          "  niobium objects                       # all built-in objects\n"
          "  niobium objects 3                     # resources of the Device object\n"
          "  niobium objects 3303                  # resources of the IPSO Temperature object\n"
          "  niobium objects --ddf ./registry 10241  # an object from the OMA registry files\n\n"
          "Exit status: 0 ok, 1 unknown ID or a DDF file could not be loaded, 2 usage error.\n");
}

typedef struct {
  bool verbose;
  size_t failures_shown;
} nb_objects_report;

static void nb_objects_notice(void *ctx, const char *file, nb_err err, const char *message) {
  nb_objects_report *report = ctx;
  (void)file; /* every message starts with the file name already */
  if (err == NB_ERR_DDF_NOT_OBJECT) {
    if (report->verbose) fprintf(stderr, "niobium objects: skipped %s\n", message);
    return;
  }
  fprintf(stderr, "niobium objects: %s\n", message);
  report->failures_shown++;
}

/* Loads one --ddf path; messages on stderr; false when any file failed. */
static bool nb_objects_load(nb_model *m, const char *path, bool verbose) {
  char err_text[768];
  nb_ddf_stats stats;
  nb_objects_report report = {verbose, 0};
  nb_err err =
      nb_model_load_ddf_ex(m, path, nb_objects_notice, &report, &stats, err_text, sizeof err_text);
  if (err == NB_OK) {
    if (verbose) {
      fprintf(stderr, "niobium objects: %s: %zu objects from %zu files (%zu skipped)\n", path,
              stats.objects_loaded, stats.files_loaded, stats.files_skipped);
    }
    return true;
  }
  /* A directory's failed files were each reported by the notice callback already. */
  if (report.failures_shown == 0) fprintf(stderr, "niobium objects: %s\n", err_text);
  fprintf(stderr,
          "niobium objects: check the --ddf path and the file(s) named above, then run again\n");
  return false;
}

static void nb_objects_list(const nb_model *m) {
  printf("%5s  %-48s  %-7s  %s\n", "ID", "NAME", "VERSION", "INSTANCES");
  for (size_t k = 0; k < nb_model_count(m); k++) {
    const nb_object_def *o = nb_model_at(m, k);
    printf("%5u  %-48s  %-7s  %s\n", (unsigned)o->id, o->name, o->version ? o->version : "",
           o->multiple ? "multiple" : "single");
  }
}

static void nb_objects_show(const nb_object_def *o) {
  printf("Object %u: %s, version %s%s%s, %s instance%s, %s\n", (unsigned)o->id, o->name,
         o->version ? o->version : "1.0", o->lwm2m_version ? " for LwM2M " : "",
         o->lwm2m_version ? o->lwm2m_version : "", o->multiple ? "multiple" : "single",
         o->multiple ? "s" : "", o->mandatory ? "mandatory" : "optional");
  if (o->urn) printf("URN: %s\n", o->urn);
  printf("\n%5s  %-44s  %-3s  %-9s  %-9s  %-16s  %s\n", "ID", "NAME", "OPS", "INSTANCES",
         "MANDATORY", "TYPE", "UNITS");
  for (size_t k = 0; k < o->resource_count; k++) {
    const nb_resource_def *r = &o->resources[k];
    char line[512];
    snprintf(line, sizeof line, "%5u  %-44s  %-3s  %-9s  %-9s  %-16s  %s", (unsigned)r->id, r->name,
             r->ops == NB_OP_NONE ? "-" : nb_op_name(r->ops), r->multiple ? "multiple" : "single",
             r->mandatory ? "mandatory" : "optional",
             r->type == NB_VT_NONE ? "-" : nb_value_type_name(r->type), r->units ? r->units : "");
    size_t len = strlen(line);
    while (len > 0 && line[len - 1] == ' ')
      line[--len] = '\0'; /* no padding after the last column */
    puts(line);
  }
}

/* Decimal 0..65534 only. */
static bool nb_objects_parse_id(const char *s, uint16_t *out) {
  if (s[0] == '\0' || strlen(s) > 5) return false;
  unsigned v = 0;
  for (const char *c = s; *c; c++) {
    if (*c < '0' || *c > '9') return false;
    v = v * 10 + (unsigned)(*c - '0');
  }
  if (v > NB_ID_MAX) return false;
  *out = (uint16_t)v;
  return true;
}

int nb_cmd_objects(int argc, char **argv) {
  static const struct option options[] = {{"ddf", required_argument, NULL, 'd'},
                                          {"verbose", no_argument, NULL, 'v'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
  const char *ddf[32];
  size_t ddf_count = 0;
  bool verbose = false;
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "d:vh", options, NULL)) != -1;) {
    switch (c) {
      case 'd':
        if (ddf_count == sizeof ddf / sizeof ddf[0]) {
          fprintf(stderr, "niobium objects: at most 32 --ddf options; use a directory\n");
          return NB_EXIT_USAGE;
        }
        ddf[ddf_count++] = optarg;
        break;
      case 'v':
        verbose = true;
        break;
      case 'h':
        nb_objects_usage(stdout);
        return NB_EXIT_OK;
      default:
        fprintf(stderr, "Run 'niobium objects --help' for the options.\n");
        return NB_EXIT_USAGE;
    }
  }
  if (argc - optind > 1) {
    fprintf(stderr, "niobium objects: one object ID at most (got '%s' and '%s')\n", argv[optind],
            argv[optind + 1]);
    return NB_EXIT_USAGE;
  }
  uint16_t id = 0;
  bool one = argc - optind == 1;
  if (one && !nb_objects_parse_id(argv[optind], &id)) {
    fprintf(stderr, "niobium objects: '%s' is not an object ID (a number 0..65534)\n",
            argv[optind]);
    return NB_EXIT_USAGE;
  }
  nb_model *m = nb_model_new();
  if (m == NULL) {
    fprintf(stderr, "niobium objects: out of memory\n");
    return NB_EXIT_FAILURE;
  }
  int rc = NB_EXIT_OK;
  for (size_t k = 0; k < ddf_count && rc == NB_EXIT_OK; k++) {
    if (!nb_objects_load(m, ddf[k], verbose)) rc = NB_EXIT_FAILURE;
  }
  if (rc == NB_EXIT_OK && !one) nb_objects_list(m);
  if (rc == NB_EXIT_OK && one) {
    const nb_object_def *o = nb_model_object(m, id);
    if (o == NULL) {
      fprintf(stderr,
              "niobium objects: no definition for object %u; run 'niobium objects' for the known "
              "ones or load its DDF file with --ddf FILE\n",
              (unsigned)id);
      rc = NB_EXIT_FAILURE;
    } else {
      nb_objects_show(o);
    }
  }
  nb_model_free(m);
  return rc;
}
