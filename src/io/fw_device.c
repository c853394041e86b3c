/* Firmware update glue of a device process: package files, the install hook, http(s) fetches. */
#include "io/fw_device.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"

#define NB_FW_LOG "firmware"
#define NB_FW_PATH_MAX 4096
#define NB_FW_HTTP_TIMEOUT_MS (6u * 3600u * 1000u) /* a whole download at most */
#define NB_FW_HTTP_STALL_MS 60000u                 /* nothing for a minute: the link is gone */

extern char **environ;

struct nb_fw_device {
  char *dir, *hook, *ca_file;
  nb_io_loop *loop;
  nb_http_client *http;
  nb_client *c;
  int fd; /* the partial package, -1 when none */
  nb_http_req *fetch;
  uint64_t fetch_from;
  bool cancelling; /* the engine stopped the fetch: its end is not news to it */
  bool in_sink;    /* inside libcurl's write callback, where a transfer cannot be removed */
  bool stop_fetch; /* the engine stopped the fetch from there: the sink ends it */
};

static nb_err nb_fw_path(const nb_fw_device *d, const char *name, char *out) {
  int n = snprintf(out, NB_FW_PATH_MAX, "%s/%s", d->dir, name);
  return n > 0 && n < NB_FW_PATH_MAX ? NB_OK : NB_ERR_OVERFLOW;
}

/* ---- storage: a 0600 temporary file, renamed when complete ---- */

static void nb_fw_close(nb_fw_device *d) {
  if (d->fd >= 0) close(d->fd);
  d->fd = -1;
}

static void nb_fw_unlink(const nb_fw_device *d, const char *name) {
  char p[NB_FW_PATH_MAX];
  if (nb_fw_path(d, name, p) == NB_OK && unlink(p) != 0 && errno != ENOENT)
    NB_LOG_WARN(NB_FW_LOG, "event=unlink-failed file=%s errno=%d", p, errno);
}

static void st_discard(void *user) {
  nb_fw_device *d = user;
  nb_fw_close(d);
  nb_fw_unlink(d, NB_FW_PARTIAL_NAME);
  nb_fw_unlink(d, NB_FW_PACKAGE_NAME);
}

static nb_err st_begin(void *user) {
  nb_fw_device *d = user;
  char p[NB_FW_PATH_MAX];
  st_discard(d);
  nb_err e = nb_fw_path(d, NB_FW_PARTIAL_NAME, p);
  if (e != NB_OK) return e;
  d->fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (d->fd < 0) {
    NB_LOG_ERROR(NB_FW_LOG, "event=open-failed file=%s errno=%d", p, errno);
    return NB_ERR_IO;
  }
  return NB_OK;
}

static nb_err st_write(void *user, const uint8_t *data, size_t len) {
  nb_fw_device *d = user;
  if (d->fd < 0) return NB_ERR_STATE;
  while (len) {
    ssize_t n = write(d->fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      NB_LOG_ERROR(NB_FW_LOG, "event=write-failed dir=%s errno=%d", d->dir, errno);
      return errno == ENOMEM ? NB_ERR_NOMEM : NB_ERR_IO;
    }
    data += n;
    len -= (size_t)n;
  }
  return NB_OK;
}

/* fsync, then the atomic rename, then fsync of the directory so the name survives a crash. */
static nb_err st_finish(void *user) {
  nb_fw_device *d = user;
  char from[NB_FW_PATH_MAX], to[NB_FW_PATH_MAX];
  if (d->fd < 0) return NB_ERR_STATE;
  bool ok = fsync(d->fd) == 0;
  nb_fw_close(d);
  ok = ok && nb_fw_path(d, NB_FW_PARTIAL_NAME, from) == NB_OK &&
       nb_fw_path(d, NB_FW_PACKAGE_NAME, to) == NB_OK && rename(from, to) == 0;
  int dfd = ok ? open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  if (!ok) NB_LOG_ERROR(NB_FW_LOG, "event=store-failed dir=%s errno=%d", d->dir, errno);
  return ok ? NB_OK : NB_ERR_IO;
}

/* ---- install ---- */

/* The hook's exit status: 0 success, 5 integrity, 6 unsupported type, else update failed. */
static nb_err nb_fw_hook_status(int status) {
  if (!WIFEXITED(status)) return NB_ERR_IO;
  switch (WEXITSTATUS(status)) {
    case 0:
      return NB_OK;
    case 5:
      return NB_ERR_INVAL;
    case 6:
      return NB_ERR_UNSUPPORTED;
    default:
      return NB_ERR_IO;
  }
}

/* Runs the hook (through /bin/sh, the package path as "$1", the image's place in it and the
 * manifest's version in the environment) and waits for it: the device is updating. */
static nb_err nb_fw_run_hook(nb_fw_device *d, const char *path, const nb_client_fw_image *img) {
  char script[NB_FW_PATH_MAX + 8], off[32], size[32];
  snprintf(script, sizeof script, "%s \"$1\"", d->hook);
  snprintf(off, sizeof off, "%" PRIu64, img->image_offset);
  snprintf(size, sizeof size, "%" PRIu64, img->image_size);
  setenv("NB_FW_IMAGE_OFFSET", off, 1);
  setenv("NB_FW_IMAGE_SIZE", size, 1);
  setenv("NB_FW_SIGNED", img->is_signed ? "1" : "0", 1);
  setenv("NB_FW_VERSION", img->version ? img->version : "", 1);
  char *argv[] = {"/bin/sh", "-c", script, "niobium-fw-hook", (char *)path, NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
  unsetenv("NB_FW_IMAGE_OFFSET");
  unsetenv("NB_FW_IMAGE_SIZE");
  unsetenv("NB_FW_SIGNED");
  unsetenv("NB_FW_VERSION");
  if (rc != 0) {
    NB_LOG_ERROR(NB_FW_LOG, "event=hook-failed reason=spawn errno=%d", rc);
    return NB_ERR_IO;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  nb_err e = nb_fw_hook_status(status);
  NB_LOG_INFO(NB_FW_LOG, "event=hook-done status=%d result=%s",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1, nb_err_name(e));
  return e;
}

static nb_err fw_apply(void *user, const nb_client_fw_image *img, nb_time_ms now) {
  nb_fw_device *d = user;
  (void)now;
  char path[NB_FW_PATH_MAX], kept[NB_FW_PATH_MAX];
  nb_err e = nb_fw_path(d, NB_FW_PACKAGE_NAME, path);
  if (e != NB_OK) return e;
  if (d->hook) return nb_fw_run_hook(d, path, img);
  /* Built-in: accept the package and keep it as the installed one. */
  e = nb_fw_path(d, NB_FW_INSTALLED_NAME, kept);
  if (e == NB_OK && rename(path, kept) != 0) e = NB_ERR_IO;
  NB_LOG_INFO(NB_FW_LOG, "event=installed file=%s version=%s", kept,
              img->version ? img->version : "-");
  return e;
}

/* ---- http(s) fetch ---- */

static bool fw_sink(void *user, long status, const uint8_t *data, size_t len) {
  nb_fw_device *d = user;
  if (status != 200 && status != 206) return true;      /* an error page: its status tells */
  if (status == 200 && d->fetch_from > 0) return false; /* the server cannot resume */
  d->in_sink = true;
  nb_err e = nb_client_firmware_data(d->c, data, len, nb_io_loop_now(d->loop));
  d->in_sink = false;
  return e == NB_OK && !d->stop_fetch;
}

static void fw_fetched(void *user, const nb_http_response *res) {
  nb_fw_device *d = user;
  d->fetch = NULL;
  bool stopped = d->stop_fetch;
  d->stop_fetch = false;
  if (d->cancelling || stopped) return; /* the engine ended it: not news to it */
  if (res->err != NB_OK)
    NB_LOG_WARN(NB_FW_LOG, "event=fetch-failed err=%s why=\"%s\"", nb_err_name(res->err),
                res->error ? res->error : "-");
  nb_client_firmware_fetched(d->c, res->err, res->status, nb_io_loop_now(d->loop));
}

static void fw_fetch_cancel(void *user) {
  nb_fw_device *d = user;
  if (d->in_sink) { /* libcurl forbids removing the transfer here: the sink's false ends it */
    d->stop_fetch = d->fetch != NULL;
    return;
  }
  nb_http_req *r = d->fetch;
  d->fetch = NULL;
  d->cancelling = true;
  if (r) nb_http_client_cancel(r);
  d->cancelling = false;
}

static nb_err fw_fetch(void *user, const char *uri, uint64_t from, nb_time_ms now) {
  nb_fw_device *d = user;
  (void)now;
  fw_fetch_cancel(d);
  nb_http_request req = {.method = "GET",
                         .url = uri,
                         .timeout_ms = NB_FW_HTTP_TIMEOUT_MS,
                         .ca_file = d->ca_file,
                         .sink = fw_sink,
                         .sink_user = d,
                         .range_from = from,
                         .stall_ms = NB_FW_HTTP_STALL_MS};
  d->fetch_from = from;
  NB_LOG_INFO(NB_FW_LOG, "event=fetch from=%" PRIu64, from);
  return nb_http_client_start(d->http, &req, fw_fetched, d, &d->fetch);
}

/* ---- lifetime ---- */

static char *nb_fw_dup(const char *s) { return s ? strdup(s) : NULL; }

nb_err nb_fw_device_new(const nb_fw_device_config *cfg, nb_fw_device **out) {
  struct stat st;
  if (!cfg->dir || stat(cfg->dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(cfg->dir, W_OK) != 0)
    return NB_ERR_IO;
  nb_fw_device *d = calloc(1, sizeof *d);
  if (!d) return NB_ERR_NOMEM;
  d->fd = -1;
  d->loop = cfg->loop;
  d->http = cfg->http;
  d->dir = nb_fw_dup(cfg->dir);
  d->hook = nb_fw_dup(cfg->hook);
  d->ca_file = nb_fw_dup(cfg->ca_file);
  if (!d->dir || (cfg->hook && !d->hook) || (cfg->ca_file && !d->ca_file)) {
    nb_fw_device_free(d);
    return NB_ERR_NOMEM;
  }
  /* A package left by an earlier run is not trusted: the state machine starts Idle. */
  nb_fw_unlink(d, NB_FW_PARTIAL_NAME);
  nb_fw_unlink(d, NB_FW_PACKAGE_NAME);
  *out = d;
  return NB_OK;
}

void nb_fw_device_bind(nb_fw_device *d, nb_client *c, nb_client_firmware_config *fc) {
  d->c = c;
  fc->storage = (nb_client_fw_storage){st_begin, st_write, st_finish, st_discard, d};
  fc->apply = fw_apply;
  fc->user = d;
  fc->fetch = d->http && d->loop ? fw_fetch : NULL;
  fc->fetch_cancel = d->http && d->loop ? fw_fetch_cancel : NULL;
}

void nb_fw_device_free(nb_fw_device *d) {
  if (!d) return;
  fw_fetch_cancel(d);
  nb_fw_close(d);
  nb_fw_unlink(d, NB_FW_PARTIAL_NAME);
  free(d->dir);
  free(d->hook);
  free(d->ca_file);
  free(d);
}
