/* A device's side of firmware update in the I/O shell (docs/firmware.md, "Device"): the storage
 * of object 5 as files in a directory (the package streamed to a 0600 temporary file, fsynced and
 * renamed atomically when complete), the install (a hook command run with the package's path, or
 * the built-in behaviour: accept), and http(s) Package URIs fetched with libcurl, streamed to the
 * engine. Owns the open file, the hook command and the fetch in flight. */
#ifndef NB_IO_FW_DEVICE_H
#define NB_IO_FW_DEVICE_H

#include "base/err.h"
#include "io/http_client.h"
#include "io/loop.h"
#include "niobium/objects.h"

#define NB_FW_PACKAGE_NAME "package.bin"       /* the complete package in the directory */
#define NB_FW_PARTIAL_NAME ".package.bin.part" /* while it arrives */
#define NB_FW_INSTALLED_NAME "installed.bin"   /* the built-in install keeps it here */

typedef struct nb_fw_device nb_fw_device;

typedef struct {
  const char *dir;      /* an existing directory for packages (required) */
  const char *hook;     /* shell command run with the package path as "$1"; NULL: built-in */
  nb_io_loop *loop;     /* for http(s) fetches and their clock */
  nb_http_client *http; /* http(s) Package URIs; NULL: not supported (result 9) */
  const char *ca_file;  /* https://: trust anchors (PEM), NULL: the system's */
} nb_fw_device_config;

/* Copies cfg's strings. NB_ERR_IO when dir is not a directory we can write. */
nb_err nb_fw_device_new(const nb_fw_device_config *cfg, nb_fw_device **out);
/* Fills the storage, apply and fetch members of fc for client c (the rest is the caller's). */
void nb_fw_device_bind(nb_fw_device *d, nb_client *c, nb_client_firmware_config *fc);
/* Stops a fetch, closes the partial file (removed). */
void nb_fw_device_free(nb_fw_device *d);

#endif
