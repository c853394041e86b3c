/* Database files: see dbfile.h. */
#include "store/dbfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/privfile.h"
#include "store/sqlite.h"

#ifndef F_OFD_SETLK
#define F_OFD_SETLK F_SETLK /* per-process locks: still one holder per role across processes */
#endif

#define SLOT 32 /* bytes of the lock file per role: its owner's process ID */

struct nb_dbfile_lock {
  int fd;
  nb_db_role role;
  char path[4096]; /* the lock file */
};

static bool in_memory(const char *path) { return !path[0] || strcmp(path, ":memory:") == 0; }

static const char *role_name(nb_db_role role) {
  return role == NB_DB_ROLE_SERVER ? "`niobium server`"
                                   : "bootstrap server (`niobium bootstrap` or `niobium server "
                                     "--with-bootstrap`)";
}

/* The process ID the holder of role wrote into its slot, or 0. */
static long holder_pid(int fd, nb_db_role role) {
  char buf[SLOT + 1];
  ssize_t n = pread(fd, buf, SLOT, (off_t)role * SLOT);
  if (n <= 0) return 0;
  buf[n] = '\0';
  return strtol(buf, NULL, 10);
}

/* Whether fd is still the file at path (a releasing holder may have unlinked it). */
static bool same_file(int fd, const char *path) {
  struct stat a, b;
  return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int lock_range(int fd, short type, off_t start, off_t len) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  return fcntl(fd, F_OFD_SETLK, &fl);
}

/* Refused: who holds role's lock, and what to do. */
static nb_err busy(int fd, const char *path, nb_db_role role, char *why, size_t cap) {
  long pid = holder_pid(fd, role);
  char who[32] = "";
  if (pid > 0) snprintf(who, sizeof who, " (pid %ld)", pid);
  snprintf(why, cap,
           "the database %s is in use by another %s%s: two of them on one database would "
           "overwrite each other's state; stop that one, or give this one its own --db",
           path, role_name(role), who);
  return NB_ERR_BUSY;
}

nb_err nb_dbfile_lock_take(const char *path, nb_db_role role, nb_dbfile_lock **out, char *why,
                           size_t cap) {
  *out = NULL;
  if (in_memory(path)) return NB_OK;
  nb_dbfile_lock *l = calloc(1, sizeof *l);
  if (!l || (size_t)snprintf(l->path, sizeof l->path, "%s.lock", path) >= sizeof l->path) {
    free(l);
    snprintf(why, cap, "cannot lock the database %s: path too long or out of memory", path);
    return NB_ERR_IO;
  }
  /* The file may be unlinked by its last holder between our open and our lock: then again. */
  for (int tries = 0;; tries++) {
    int fd = nb_privfile_open(l->path, O_RDWR | O_CREAT);
    if (fd < 0) {
      snprintf(why, cap, "cannot create the lock file %s: %s (check the directory of --db)",
               l->path, strerror(errno));
      free(l);
      return NB_ERR_IO;
    }
    if (lock_range(fd, F_WRLCK, (off_t)role * SLOT, SLOT) != 0) {
      int err = errno;
      nb_err e = err == EAGAIN || err == EACCES ? busy(fd, path, role, why, cap) : NB_ERR_IO;
      if (e == NB_ERR_IO) snprintf(why, cap, "cannot lock %s: %s", l->path, strerror(err));
      close(fd);
      free(l);
      return e;
    }
    if (same_file(fd, l->path) || tries == 8) {
      l->fd = fd;
      l->role = role;
      break;
    }
    close(fd);
  }
  char slot[SLOT];
  memset(slot, ' ', sizeof slot);
  int n = snprintf(slot, sizeof slot, "%ld", (long)getpid());
  slot[n] = ' ';
  slot[SLOT - 1] = '\n';
  /* Only for the message of a process refused later: a failed write changes nothing else. */
  (void)!pwrite(l->fd, slot, SLOT, (off_t)role * SLOT);
  *out = l;
  return NB_OK;
}

void nb_dbfile_lock_release(nb_dbfile_lock *lock) {
  if (!lock) return;
  /* The last holder removes the file, holding every range while it does (a newcomer that
   * opened it meanwhile finds it unlinked once it has its lock, and starts over). */
  if (lock_range(lock->fd, F_WRLCK, 0, (off_t)2 * SLOT) == 0 && same_file(lock->fd, lock->path))
    unlink(lock->path);
  close(lock->fd);
  free(lock);
}

nb_err nb_dbfile_require(const char *path, char *why, size_t cap) {
  struct stat st;
  if (in_memory(path)) return NB_OK;
  if (stat(path, &st) != 0) {
    if (errno == ENOENT)
      snprintf(why, cap, "no such database: %s (check --db)", path);
    else
      snprintf(why, cap, "cannot use the database %s: %s", path, strerror(errno));
    return NB_ERR_NOT_FOUND;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(why, cap, "%s is not a database file (a directory or device; check --db)", path);
    return NB_ERR_NOT_FOUND;
  }
  return NB_OK;
}

/* What SQLite says when it reads the file: NULL when it reads it fine (*version then set). */
static const char *sqlite_reason(const char *path, int *version, char *buf, size_t cap) {
  sqlite3 *db = NULL;
  sqlite3_stmt *q = NULL;
  const char *reason = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK ||
      sqlite3_step(q) != SQLITE_ROW) {
    snprintf(buf, cap, "%s", db ? sqlite3_errmsg(db) : "out of memory");
    reason = buf;
  } else {
    *version = sqlite3_column_int(q, 0);
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  return reason;
}

void nb_dbfile_explain(const char *path, char *why, size_t cap) {
  if (nb_dbfile_require(path, why, cap) != NB_OK) return;
  if (access(path, R_OK | W_OK) != 0) {
    snprintf(why, cap, "cannot read and write the database %s: %s (check its owner and mode)", path,
             strerror(errno));
    return;
  }
  char sq[256];
  int version = 0;
  const char *reason = sqlite_reason(path, &version, sq, sizeof sq);
  if (reason)
    snprintf(why, cap,
             "%s is not a usable niobium database: %s (is --db the right file? a new path "
             "creates a new database)",
             path, reason);
  else if (version > NB_STORE_SQLITE_SCHEMA)
    snprintf(why, cap,
             "%s was written by a newer niobium (schema %d; this build knows up to %d): use "
             "that version",
             path, version, NB_STORE_SQLITE_SCHEMA);
  else
    snprintf(why, cap,
             "cannot open the database %s (another process may hold it locked; the log line "
             "above says what SQLite reported)",
             path);
}
