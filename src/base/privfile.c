/* Private files: see privfile.h. */
#include "base/privfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int nb_privfile_open(const char *path, int flags) {
  int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW, NB_PRIVFILE_MODE);
  if (fd < 0) return -1;
  /* open's mode counts only for a file it creates: one written over keeps its mode. */
  if (fchmod(fd, NB_PRIVFILE_MODE) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

FILE *nb_privfile_fopen(const char *path) {
  int fd = nb_privfile_open(path, O_WRONLY | O_CREAT | O_TRUNC);
  if (fd < 0) return NULL;
  FILE *f = fdopen(fd, "w");
  if (!f) {
    int e = errno;
    close(fd);
    errno = e;
  }
  return f;
}

/* path's mode: NB_OK (or NB_ERR_NOT_FOUND) when only its owner may use it. */
static nb_err check_mode(const char *path, char *why, size_t cap) {
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno == ENOENT) return NB_ERR_NOT_FOUND;
    if (why) snprintf(why, cap, "cannot examine %s: %s", path, strerror(errno));
    return NB_ERR_IO;
  }
  if (!(st.st_mode & 077)) return NB_OK;
  if (why)
    snprintf(why, cap,
             "%s holds keys and PSKs but its mode %04o lets group or others read or write it; "
             "refusing to use it: run `chmod 600 %s`",
             path, (unsigned)(st.st_mode & 07777), path);
  return NB_ERR_PERM;
}

/* Creates path empty with mode 0600 unless it exists. */
static nb_err create_private(const char *path, char *why, size_t cap) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, NB_PRIVFILE_MODE);
  if (fd < 0 && errno == EEXIST) return NB_OK;
  /* fchmod: a umask such as 0277 may have taken the owner's write bit. */
  bool ok = fd >= 0 && fchmod(fd, NB_PRIVFILE_MODE) == 0;
  int e = errno;
  if (fd >= 0) close(fd);
  if (ok) return NB_OK;
  if (why) snprintf(why, cap, "cannot create %s: %s", path, strerror(e));
  return NB_ERR_IO;
}

nb_err nb_privfile_prepare_db(const char *path, char *why, size_t cap) {
  if (why && cap) why[0] = '\0';
  if (!cap) why = NULL;
  if (!path || !*path || strcmp(path, ":memory:") == 0) return NB_OK;
  nb_err rc = create_private(path, why, cap);
  static const char *const companions[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; rc == NB_OK && i < sizeof(companions) / sizeof(companions[0]); i++) {
    char name[4096];
    if ((size_t)snprintf(name, sizeof(name), "%s%s", path, companions[i]) >= sizeof(name)) {
      if (why) snprintf(why, cap, "database path too long");
      return NB_ERR_IO;
    }
    rc = check_mode(name, why, cap);
    if (rc == NB_ERR_NOT_FOUND) rc = NB_OK;
  }
  return rc;
}
