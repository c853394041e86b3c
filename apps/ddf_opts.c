/* --ddf: see ddf_opts.h. */
#include "ddf_opts.h"

#include <stdio.h>

#include "commands.h"
#include "lwm2m/ddf/ddf.h"

int nb_ddf_opts_add(nb_ddf_opts *o, const char *cmd, const char *path) {
  if (o->n == NB_DDF_OPTS_MAX) {
    fprintf(stderr, "%s: at most %d --ddf options; use a directory\n", cmd, NB_DDF_OPTS_MAX);
    return NB_EXIT_USAGE;
  }
  o->paths[o->n++] = path;
  return NB_EXIT_OK;
}

int nb_ddf_opts_load(const nb_ddf_opts *o, const char *cmd, nb_model *m, size_t *objects) {
  size_t added = 0;
  for (size_t i = 0; i < o->n; i++) {
    char why[768];
    nb_ddf_stats stats = {0};
    if (nb_model_load_ddf_ex(m, o->paths[i], NULL, NULL, &stats, why, sizeof why) != NB_OK) {
      fprintf(stderr, "%s: %s\n%s: check the --ddf path and run again\n", cmd, why, cmd);
      return NB_EXIT_FAILURE;
    }
    added += stats.objects_loaded;
  }
  if (objects) *objects = added;
  return NB_EXIT_OK;
}
