/* Fuzzes the fleet simulator's PSK file reader (endpoint,identity,hexkey lines): what it accepts
 * can be looked up entry by entry; a refusal says where and never quotes the line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/credfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_sim_pskfile *p = NULL;
  char err[256] = "";
  if (nb_sim_pskfile_parse((const char *)data, size, "f.psk", &p, err, sizeof err) != NB_OK) {
    if (p || strncmp(err, "f.psk", 5) != 0) abort();
    return 0;
  }
  char id[128];
  uint8_t key[64];
  size_t kl = 0;
  if (nb_sim_pskfile_lookup(p, 0, "sim-000001", id, sizeof id, key, sizeof key, &kl) == NB_OK &&
      (kl == 0 || kl > 64))
    abort();
  nb_sim_pskfile_free(p);
  return 0;
}
