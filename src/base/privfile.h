/* Files that hold secrets (databases with PSKs and keys, private key files, a client's state,
 * evidence): created 0600 whatever the umask, made 0600 when written over, and a database
 * refused when its owner is not the only one who may read or write it. Owns nothing. The rule
 * and the list of files are in docs/security.md ("secrets at rest"). */
#ifndef NB_BASE_PRIVFILE_H
#define NB_BASE_PRIVFILE_H

#include <stddef.h>
#include <stdio.h>

#include "base/err.h"

#define NB_PRIVFILE_MODE 0600

/* open(2) for writing (flags hold O_WRONLY or O_RDWR, with O_CREAT, O_TRUNC, O_EXCL as
 * needed; O_CLOEXEC and O_NOFOLLOW are added) with mode 0600, and the file made 0600 even when
 * it existed with another mode. The descriptor, or -1 with errno set. */
int nb_privfile_open(const char *path, int flags);

/* The same as a stdio stream, truncated ("w"). NULL with errno set. */
FILE *nb_privfile_fopen(const char *path);

/* Before an SQLite database at `path` is opened for writing: creates it empty and 0600 when it
 * does not exist (SQLite then creates its -wal, -shm and -journal with the same mode), and
 * checks the mode of it and of those companions that exist. NB_ERR_PERM when one may be read or
 * written by group or others; `why` (may be NULL) then names the file, its mode and the fix
 * (chmod 600). NB_ERR_IO when the file cannot be created or examined (why says why). ":memory:"
 * and "" (SQLite's private databases) pass. */
nb_err nb_privfile_prepare_db(const char *path, char *why, size_t cap);

#endif
