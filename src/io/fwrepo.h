/* The server's firmware image files (docs/firmware.md, "Server"): one directory (0700) holding
 * each image as <sha256>.img (0600), written by streaming uploads (a temporary file in the same
 * directory whose SHA-256 grows with it, renamed into place once complete: a reader never sees
 * half an image, a crash leaves only a temporary file that the next open removes) and read back
 * block by block for pushes and the /fw CoAP resource. Owns the directory's files and the
 * uploads under way; the images' metadata live in the store (fw/fwupdate.h). */
#ifndef NB_IO_FWREPO_H
#define NB_IO_FWREPO_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct nb_fws_repo nb_fws_repo;
typedef struct nb_fws_upload nb_fws_upload;

/* Creates dir (0700) when missing and removes the temporary files of uploads a crash cut
 * short. NB_ERR_IO (logged) when it cannot be made or is not a directory. */
nb_err nb_fws_repo_open(const char *dir, nb_fws_repo **out);
void nb_fws_repo_close(nb_fws_repo *r);
const char *nb_fws_repo_dir(const nb_fws_repo *r);

/* Starts an upload of at most max bytes. */
nb_err nb_fws_upload_begin(nb_fws_repo *r, uint64_t max, nb_fws_upload **out);
/* Appends bytes. NB_ERR_RANGE past max (the upload then takes nothing more), NB_ERR_IO when the
 * disk refuses (full: the file is removed at abort). */
nb_err nb_fws_upload_write(nb_fws_upload *u, const void *data, size_t n);
uint64_t nb_fws_upload_size(const nb_fws_upload *u);
/* Flushes the file to disk and renames it <sha256>.img (an image already there with that digest
 * is the same image: it stays). sha256 gets the digest in hex, head its first head_cap bytes
 * (head_len how many). Frees u whatever the outcome. */
nb_err nb_fws_upload_commit(nb_fws_upload *u, char sha256[65], uint8_t *head, size_t head_cap,
                            size_t *head_len);
/* Removes the temporary file and frees u (NULL is fine). */
void nb_fws_upload_abort(nb_fws_upload *u);

/* nb_fws_read_fn over the repository (user: the nb_fws_repo). */
nb_err nb_fws_repo_read(void *user, const char *sha256, uint64_t offset, uint8_t *buf, size_t len,
                        size_t *n);
/* Removes the image file; NB_ERR_NOT_FOUND when there is none. */
nb_err nb_fws_repo_remove(nb_fws_repo *r, const char *sha256);

#endif
