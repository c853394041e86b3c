/* Small files read whole by the commands. */
#include "appfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int nb_app_read_small(const char *cmd, const char *what, const char *path, size_t cap,
                      nb_bytes *out) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: cannot read %s: %s\n", cmd, path, strerror(errno));
    return -1;
  }
  uint8_t buf[4096];
  size_t n, start = out->len;
  int rc = 0;
  while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0)
    if (out->len - start + n > cap || nb_bytes_append(out, buf, n) != NB_OK) rc = -1;
  if (ferror(f) || out->len == start) rc = -1;
  fclose(f);
  if (rc) fprintf(stderr, "%s: %s is not %s\n", cmd, path, what);
  return rc;
}
