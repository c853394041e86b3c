/* `niobium client`'s Firmware Update object: options to io/fw_device and the engine. */
#include "client_fw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "appfile.h"
#include "base/buf.h"
#include "base/log.h"
#include "io/fw_device.h"
#include "niobium/objects.h"

#define CLI "niobium client"
#define NB_FW_TRUST_MAX ((size_t)64 * 1024)

struct client_fw {
  nb_fw_device *dev;
  nb_http_client *http;
  char tmpdir[256]; /* the private directory we made, "" when --firmware-dir gave one */
};

static int make_tmpdir(client_fw *f) {
  const char *t = getenv("TMPDIR");
  snprintf(f->tmpdir, sizeof f->tmpdir, "%s/niobium-fw-XXXXXX", t && t[0] ? t : "/tmp");
  if (!mkdtemp(f->tmpdir)) { /* mkdtemp makes it 0700 */
    fprintf(stderr, CLI ": cannot make a firmware directory: %s\n", strerror(errno));
    f->tmpdir[0] = 0;
    return -1;
  }
  return 0;
}

void client_fw_free(client_fw *f) {
  if (!f) return;
  nb_fw_device_free(f->dev);
  nb_http_client_free(f->http);
  if (f->tmpdir[0]) {
    static const char *const names[] = {NB_FW_PACKAGE_NAME, NB_FW_PARTIAL_NAME,
                                        NB_FW_INSTALLED_NAME};
    char p[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
      snprintf(p, sizeof p, "%s/%s", f->tmpdir, names[i]);
      unlink(p);
    }
    rmdir(f->tmpdir);
  }
  free(f);
}

/* The engine's object over the device's files; trust copied by the engine. */
static int add_object(client_fw *f, nb_client *c, nb_io_loop *loop, const client_fw_options *o,
                      const nb_bytes *trust) {
  nb_fw_device_config dc = {.dir = o->dir ? o->dir : f->tmpdir,
                            .hook = o->hook,
                            .loop = loop,
                            .http = f->http,
                            .ca_file = o->ca};
  nb_err e = nb_fw_device_new(&dc, &f->dev);
  if (e != NB_OK) {
    fprintf(stderr, CLI ": --firmware-dir %s is not a writable directory\n", dc.dir);
    return -1;
  }
  nb_client_firmware_config fc = {.max_size = o->max_size,
                                  .pkg_version = o->version,
                                  .trust = trust->len ? trust->data : NULL,
                                  .trust_len = trust->len,
                                  .allow_unsigned = o->allow_unsigned};
  nb_fw_device_bind(f->dev, c, &fc);
  e = nb_client_add_firmware(c, &fc);
  if (e != NB_OK) fprintf(stderr, CLI ": cannot add the firmware object: %s\n", nb_strerror(e));
  return e == NB_OK ? 0 : -1;
}

int client_fw_add(nb_client *c, nb_io_loop *loop, const client_fw_options *o, client_fw **out) {
  client_fw *f = calloc(1, sizeof *f);
  if (!f) return -1;
  nb_bytes trust;
  nb_bytes_init(&trust);
  int rc = o->trust ? nb_app_read_small(CLI, "a public key file (--firmware-trust)", o->trust,
                                        NB_FW_TRUST_MAX, &trust)
                    : 0;
  if (rc == 0 && !o->dir) rc = make_tmpdir(f);
  if (rc == 0 && nb_http_client_new(nb_io_loop_uv(loop), 4, &f->http) != NB_OK) rc = -1;
  if (rc == 0) rc = add_object(f, c, loop, o, &trust);
  nb_bytes_free(&trust);
  if (rc != 0) {
    client_fw_free(f);
    return -1;
  }
  if (!o->trust)
    NB_LOG_WARN("client", "event=firmware-unverified hint=\"%s\"",
                o->allow_unsigned ? "no --firmware-trust: packages are accepted WITHOUT any "
                                    "signature check (--firmware-allow-unsigned)"
                                  : "no --firmware-trust: every package will be refused "
                                    "(result 5); give the signer's public key");
  else if (o->allow_unsigned)
    NB_LOG_WARN("client",
                "event=firmware-unsigned-allowed hint=\"raw images without a "
                "signature are accepted (--firmware-allow-unsigned)\"");
  NB_LOG_INFO("client", "event=firmware dir=%s hook=%s", o->dir ? o->dir : f->tmpdir,
              o->hook ? "yes" : "built-in");
  *out = f;
  return 0;
}
