/* Reads a whole file into memory for the fleet simulator's text loaders (load profiles, PSK
 * files), with a size bound and a message that names the file. The caller owns the buffer;
 * nb_sim_textfile_free wipes it first (a PSK file holds secrets). */
#ifndef NB_SIM_TEXTFILE_H
#define NB_SIM_TEXTFILE_H

#include <stddef.h>

#include "base/err.h"

/* The bytes of path (plus a NUL not counted in *len) in *out. NB_ERR_IO (cannot read it) or
 * NB_ERR_RANGE (larger than max bytes) with "path: why" in err; NB_ERR_NOMEM. */
nb_err nb_sim_textfile_read(const char *path, size_t max, char **out, size_t *len, char *err,
                            size_t errcap);
void nb_sim_textfile_free(char *buf, size_t len);

#endif
