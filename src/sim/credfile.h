/* PSK files of the fleet simulator, in the layout `niobium server --psk` reads: one line
 * "endpoint,identity,hexkey" per device, '#' comments and blank lines allowed. Read: the
 * fleet's devices take their PSK from it instead of the CSPRNG (a server that already knows
 * them needs nothing installed). Written: the PSKs the fleet made, for a server to load next
 * time; the file is created 0600 (it holds secrets) and never follows a symbolic link. Owns
 * the entries (keys wiped when freed) and the open file. */
#ifndef NB_SIM_CREDFILE_H
#define NB_SIM_CREDFILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "sim/fleet.h"

typedef struct nb_sim_pskfile nb_sim_pskfile;

/* NB_ERR_SYNTAX with "file:line: what is wrong" in err (a key is never quoted), NB_ERR_IO when
 * it cannot be read, NB_ERR_EXISTS for an endpoint listed twice. */
nb_err nb_sim_pskfile_load(const char *path, nb_sim_pskfile **out, char *err, size_t errcap);
/* The same from text in memory; name is used in messages. */
nb_err nb_sim_pskfile_parse(const char *text, size_t len, const char *name, nb_sim_pskfile **out,
                            char *err, size_t errcap);
void nb_sim_pskfile_free(nb_sim_pskfile *p);
size_t nb_sim_pskfile_count(const nb_sim_pskfile *p);
/* nb_sim_psk_fn: the identity and key of endpoint ep (user is the nb_sim_pskfile). */
nb_err nb_sim_pskfile_lookup(void *user, uint32_t dev, const char *ep, char *identity, size_t idcap,
                             uint8_t *key, size_t keycap, size_t *key_len);

typedef struct nb_sim_pskout nb_sim_pskout;
/* Creates (or empties) path with mode 0600. */
nb_err nb_sim_pskout_open(const char *path, nb_sim_pskout **out);
/* Appends cred's line (PSK credentials only; others are NB_ERR_UNSUPPORTED). */
nb_err nb_sim_pskout_write(nb_sim_pskout *w, const nb_sim_cred *cred);
/* Flushes and closes; NB_ERR_IO when something could not be written. */
nb_err nb_sim_pskout_close(nb_sim_pskout *w);

#endif
