/* Firmware image files: see fwrepo.h. */
#include "io/fwrepo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hex.h"
#include "base/log.h"
#include "base/privfile.h"
#include "base/rand.h"

#define MOD "fw"
#define TMP_PREFIX ".upload-"

struct nb_fws_repo {
  char *dir;
};

struct nb_fws_upload {
  nb_fws_repo *r;
  int fd;
  char tmp[4096];
  uint64_t size, max;
  gnutls_hash_hd_t hash;
  uint8_t head[4096]; /* the first bytes, for the manifest */
  size_t head_len;
};

static bool is_sha_hex(const char *s) {
  if (!s || strlen(s) != 64) return false;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return false;
  return true;
}

/* Temporary files of uploads a crash (or kill -9) cut short. */
static void sweep(nb_fws_repo *r) {
  DIR *d = opendir(r->dir);
  struct dirent *e;
  char path[4096];
  while (d && (e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0) continue;
    snprintf(path, sizeof(path), "%s/%s", r->dir, e->d_name);
    if (unlink(path) == 0) NB_LOG_INFO(MOD, "event=upload-leftover-removed file=%s", e->d_name);
  }
  if (d) closedir(d);
}

nb_err nb_fws_repo_open(const char *dir, nb_fws_repo **out) {
  struct stat st;
  if (!dir || !dir[0] || strlen(dir) > 3000) return NB_ERR_INVAL;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    NB_LOG_ERROR(MOD, "event=dir-failed dir=%s reason=\"%s\"", dir, strerror(errno));
    return NB_ERR_IO;
  }
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    NB_LOG_ERROR(MOD, "event=dir-failed dir=%s reason=\"not a directory\"", dir);
    return NB_ERR_IO;
  }
  if ((st.st_mode & 077) && chmod(dir, 0700) != 0) {
    NB_LOG_ERROR(MOD, "event=dir-failed dir=%s reason=\"%s\"", dir, strerror(errno));
    return NB_ERR_IO;
  }
  nb_fws_repo *r = calloc(1, sizeof(*r));
  if (!r || !(r->dir = strdup(dir))) {
    free(r);
    return NB_ERR_NOMEM;
  }
  sweep(r);
  *out = r;
  return NB_OK;
}

void nb_fws_repo_close(nb_fws_repo *r) {
  if (!r) return;
  free(r->dir);
  free(r);
}

const char *nb_fws_repo_dir(const nb_fws_repo *r) { return r->dir; }

nb_err nb_fws_upload_begin(nb_fws_repo *r, uint64_t max, nb_fws_upload **out) {
  nb_fws_upload *u = calloc(1, sizeof(*u));
  if (!u) return NB_ERR_NOMEM;
  uint8_t raw[8];
  char hex[17];
  u->fd = -1;
  u->r = r;
  u->max = max;
  nb_err rc = nb_random_bytes(raw, sizeof(raw));
  if (rc == NB_OK) {
    nb_hex_encode(raw, sizeof(raw), hex);
    snprintf(u->tmp, sizeof(u->tmp), "%s/%s%s", r->dir, TMP_PREFIX, hex);
    u->fd = nb_privfile_open(u->tmp, O_WRONLY | O_CREAT | O_EXCL);
    if (u->fd < 0) {
      NB_LOG_ERROR(MOD, "event=upload-failed reason=\"%s\"", strerror(errno));
      rc = NB_ERR_IO;
    }
  }
  if (rc == NB_OK && gnutls_hash_init(&u->hash, GNUTLS_DIG_SHA256) != 0) {
    u->hash = NULL;
    rc = NB_ERR_NOMEM;
  }
  if (rc != NB_OK) {
    nb_fws_upload_abort(u);
    return rc;
  }
  *out = u;
  return NB_OK;
}

nb_err nb_fws_upload_write(nb_fws_upload *u, const void *data, size_t n) {
  if (n > u->max - u->size) {
    u->size = u->max + 1;
    return NB_ERR_RANGE;
  }
  const uint8_t *p = data;
  if (u->head_len < sizeof(u->head)) {
    size_t k = sizeof(u->head) - u->head_len < n ? sizeof(u->head) - u->head_len : n;
    memcpy(u->head + u->head_len, p, k);
    u->head_len += k;
  }
  gnutls_hash(u->hash, p, n);
  for (size_t done = 0; done < n;) {
    ssize_t w = write(u->fd, p + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      NB_LOG_WARN(MOD, "event=upload-write-failed reason=\"%s\"", strerror(errno));
      return NB_ERR_IO;
    }
    done += (size_t)w;
  }
  u->size += n;
  return NB_OK;
}

uint64_t nb_fws_upload_size(const nb_fws_upload *u) { return u->size; }

static void image_path(const nb_fws_repo *r, const char *sha256, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s.img", r->dir, sha256);
}

nb_err nb_fws_upload_commit(nb_fws_upload *u, char sha256[65], uint8_t *head, size_t head_cap,
                            size_t *head_len) {
  uint8_t digest[32];
  char path[4096];
  gnutls_hash_deinit(u->hash, digest);
  u->hash = NULL;
  nb_hex_encode(digest, sizeof(digest), sha256);
  nb_err rc = fsync(u->fd) == 0 ? NB_OK : NB_ERR_IO;
  if (close(u->fd) != 0) rc = NB_ERR_IO;
  u->fd = -1;
  image_path(u->r, sha256, path, sizeof(path));
  if (rc == NB_OK && rename(u->tmp, path) != 0) rc = NB_ERR_IO;
  if (rc != NB_OK) {
    NB_LOG_ERROR(MOD, "event=upload-commit-failed reason=\"%s\"", strerror(errno));
  } else {
    u->tmp[0] = '\0'; /* in place: nothing to remove */
    size_t k = u->head_len < head_cap ? u->head_len : head_cap;
    if (head) memcpy(head, u->head, k);
    if (head_len) *head_len = k;
  }
  nb_fws_upload_abort(u);
  return rc;
}

void nb_fws_upload_abort(nb_fws_upload *u) {
  if (!u) return;
  if (u->hash) gnutls_hash_deinit(u->hash, NULL);
  if (u->fd >= 0) close(u->fd);
  if (u->tmp[0]) unlink(u->tmp);
  free(u);
}

nb_err nb_fws_repo_read(void *user, const char *sha256, uint64_t offset, uint8_t *buf, size_t len,
                        size_t *n) {
  nb_fws_repo *r = user;
  char path[4096];
  *n = 0;
  if (!is_sha_hex(sha256)) return NB_ERR_INVAL;
  image_path(r, sha256, path, sizeof(path));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? NB_ERR_NOT_FOUND : NB_ERR_IO;
  nb_err rc = NB_OK;
  while (*n < len) {
    ssize_t got = pread(fd, buf + *n, len - *n, (off_t)(offset + *n));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) rc = NB_ERR_IO;
    if (got <= 0) break;
    *n += (size_t)got;
  }
  close(fd);
  return rc;
}

nb_err nb_fws_repo_remove(nb_fws_repo *r, const char *sha256) {
  char path[4096];
  if (!is_sha_hex(sha256)) return NB_ERR_INVAL;
  image_path(r, sha256, path, sizeof(path));
  if (unlink(path) == 0) return NB_OK;
  return errno == ENOENT ? NB_ERR_NOT_FOUND : NB_ERR_IO;
}
