/* The --ddf option of the commands that type values from object definitions (`niobium server`,
 * `client`, `decode`): OMA DDF XML files or directories, repeatable, loaded beside the built-in
 * definitions with one clear message per failure. Owns nothing: the paths point into argv. */
#ifndef NB_APPS_DDF_OPTS_H
#define NB_APPS_DDF_OPTS_H

#include <stddef.h>

#include "lwm2m/model.h"

#define NB_DDF_OPTS_MAX 32

typedef struct {
  const char *paths[NB_DDF_OPTS_MAX];
  size_t n;
} nb_ddf_opts;

/* One --ddf PATH; NB_EXIT_USAGE (with a message naming cmd) past NB_DDF_OPTS_MAX. */
int nb_ddf_opts_add(nb_ddf_opts *o, const char *cmd, const char *path);
/* Loads every path into m, in order (a later definition of an object wins); an exit code, with
 * the file and line of the first error on stderr. *objects (may be NULL) gets how many
 * definitions were added or overridden. */
int nb_ddf_opts_load(const nb_ddf_opts *o, const char *cmd, nb_model *m, size_t *objects);

#endif
