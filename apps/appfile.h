/* Small files the commands read whole (keys, trust anchors): bounded, with one message on stderr
 * that names the command, the file and what was wrong. Owns nothing. */
#ifndef NB_APPS_APPFILE_H
#define NB_APPS_APPFILE_H

#include <stddef.h>

#include "base/buf.h"

/* Appends the file to out; -1 (after the message) when it cannot be read, is empty or is larger
 * than cap. `cmd` prefixes the message ("niobium fw"), `what` says what the file should be. */
int nb_app_read_small(const char *cmd, const char *what, const char *path, size_t cap,
                      nb_bytes *out);

#endif
