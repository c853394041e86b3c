/* A SQLite VFS for tests that wraps the default one and, while switched on, fails every write
 * (xWrite, xTruncate) with SQLITE_FULL, as a full disk does: a store opened after
 * nb_faultvfs_install sees the fault on the next write, and recovers when it is switched off. */
#ifndef NB_TEST_FAULTVFS_H
#define NB_TEST_FAULTVFS_H

#include <stdbool.h>

/* Registers the VFS as SQLite's default (once per process; later calls do nothing). */
void nb_faultvfs_install(void);
/* Full disk from now on (true) or not (false). */
void nb_faultvfs_set_full(bool full);
/* Writes refused since install. */
unsigned long nb_faultvfs_refused(void);

#endif
