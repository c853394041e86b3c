/* Whole-file reads for the fleet simulator's loaders. */
#include "sim/textfile.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nb_err nb_sim_textfile_read(const char *path, size_t max, char **out, size_t *len, char *err,
                            size_t errcap) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (err && errcap) snprintf(err, errcap, "%s: cannot read: %s", path, strerror(errno));
    return NB_ERR_IO;
  }
  char *buf = NULL;
  size_t n = 0, cap = 0;
  nb_err e = NB_OK;
  for (;;) {
    if (n + 1 >= cap) {
      size_t nc = cap ? cap * 2 : 65536;
      char *nb = cap <= max ? realloc(buf, nc) : NULL;
      if (!nb) {
        e = cap > max ? NB_ERR_RANGE : NB_ERR_NOMEM;
        break;
      }
      buf = nb;
      cap = nc;
    }
    size_t got = fread(buf + n, 1, cap - 1 - n, f);
    n += got;
    if (got == 0) break;
  }
  if (e == NB_OK && n > max) e = NB_ERR_RANGE;
  if (e == NB_OK && ferror(f)) e = NB_ERR_IO;
  fclose(f);
  if (e != NB_OK) {
    if (err && errcap)
      snprintf(err, errcap, "%s: %s", path,
               e == NB_ERR_RANGE ? "too large"
               : e == NB_ERR_IO  ? "read error"
                                 : "out of memory");
    nb_sim_textfile_free(buf, n);
    return e;
  }
  buf[n] = 0;
  *out = buf;
  *len = n;
  return NB_OK;
}

void nb_sim_textfile_free(char *buf, size_t len) {
  if (buf) gnutls_memset(buf, 0, len);
  free(buf);
}
