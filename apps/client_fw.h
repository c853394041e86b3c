/* `niobium client`'s Firmware Update object (5): the options (--firmware-dir, --firmware-trust,
 * --firmware-allow-unsigned, --firmware-hook, --firmware-max-size, --firmware-ca) turned into
 * the engine's object over the package files and fetches of io/fw_device. Owns the fw_device,
 * the http client of its fetches and a private directory it made. */
#ifndef NB_APPS_CLIENT_FW_H
#define NB_APPS_CLIENT_FW_H

#include <stdbool.h>
#include <stdint.h>

#include "io/loop.h"
#include "niobium/client.h"

typedef struct {
  const char *dir;   /* NULL: a private directory made under $TMPDIR, removed at exit */
  const char *trust; /* public key file (SPKI or certificate, PEM or DER) or NULL */
  const char *hook;  /* install command or NULL (built-in) */
  const char *ca;    /* https:// Package URIs: trust anchors (PEM) or NULL (the system's) */
  bool allow_unsigned;
  uint64_t max_size;   /* 0: the engine's default (16 MiB) */
  const char *version; /* the running firmware's version (/5/0/7 until a package names one) */
} client_fw_options;

typedef struct client_fw client_fw;

/* Adds object 5 to c; prints what was wrong on stderr and returns -1 on failure. */
int client_fw_add(nb_client *c, nb_io_loop *loop, const client_fw_options *o, client_fw **out);
/* Before the client and the loop are freed. */
void client_fw_free(client_fw *f);

#endif
