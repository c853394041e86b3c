/* Fuzzes the fleet simulator's load-profile CSV loader: whatever it accepts must give finite,
 * non-negative power at any time, energy that never decreases and a positive loop length;
 * whatever it refuses must say where ("name:line: ..."). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_sim_profiles *p = NULL;
  char err[256] = "";
  if (nb_sim_profiles_parse_csv((const char *)data, size, "f.csv", &p, err, sizeof err) != NB_OK) {
    if (p || strncmp(err, "f.csv:", 6) != 0) abort();
    return 0;
  }
  double period = nb_sim_profiles_period(p);
  if (!(period > 0) || nb_sim_profiles_households(p) == 0 || nb_sim_profiles_samples(p) < 2)
    abort();
  for (uint32_t h = 0; h < nb_sim_profiles_households(p) && h < 4; h++) {
    double last = 0;
    for (int k = 0; k <= 16; k++) {
      double t = period * k / 7.0;
      double w = nb_sim_profiles_power(p, h, t), e = nb_sim_profiles_energy(p, h, t);
      if (!isfinite(w) || w < 0 || !isfinite(e) || e < last - 1e-6 * (1 + fabs(last))) abort();
      last = e;
    }
  }
  nb_sim_profiles_free(p);
  return 0;
}
