/* Household load profiles for the smart-meter scenario: active power (W) of H households
 * sampled at the same times (the seed report used 200 households sampled every 10 minutes),
 * read from a CSV file in the layout of NREL's residential load data (a time column, then one
 * column of watts per household) or made by a synthetic generator of plausible households
 * (base load, morning and evening peaks, weekday and weekend, appliance spikes, a scale per
 * household), deterministic under its seed. Between samples the power is interpolated
 * linearly, the profile loops, and energy is its exact integral, so a meter's value is a
 * function of (household, time) and nothing is kept per device. Owns the samples and the
 * cumulative energies. */
#ifndef NB_SIM_PROFILE_H
#define NB_SIM_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct nb_sim_profiles nb_sim_profiles;

/* The CSV layout: a header line whose first column is the time and every other column a
 * household; then one line per sample. Time: seconds (a number, e.g. 0, 600, ...) or a
 * date-time "YYYY-MM-DD HH:MM[:SS]" (a 'T' and a final 'Z' allowed), strictly increasing.
 * Values: watts, numbers from 0 to 10,000,000. Blank lines and lines starting with '#' are skipped;
 * fields may be double-quoted. At most NB_SIM_PROFILE_MAX_COLS households and
 * NB_SIM_PROFILE_MAX_ROWS samples. Errors: NB_ERR_SYNTAX with "file:line: what is wrong"
 * in err, NB_ERR_IO when the file cannot be read. */
#define NB_SIM_PROFILE_MAX_COLS 100000
#define NB_SIM_PROFILE_MAX_ROWS 1000000
nb_err nb_sim_profiles_parse_csv(const char *text, size_t len, const char *name,
                                 nb_sim_profiles **out, char *err, size_t errcap);
nb_err nb_sim_profiles_load_csv(const char *path, nb_sim_profiles **out, char *err, size_t errcap);

/* `households` synthetic households over `days` days sampled every 10 minutes. */
nb_err nb_sim_profiles_synthetic(uint32_t households, uint32_t days, uint64_t seed,
                                 nb_sim_profiles **out);
void nb_sim_profiles_free(nb_sim_profiles *p);

uint32_t nb_sim_profiles_households(const nb_sim_profiles *p);
uint32_t nb_sim_profiles_samples(const nb_sim_profiles *p);
/* Length of one loop of the profile in seconds (last sample plus one interval). */
double nb_sim_profiles_period(const nb_sim_profiles *p);
/* Power (W) of household h at t seconds after the first sample (any t >= 0: it loops). */
double nb_sim_profiles_power(const nb_sim_profiles *p, uint32_t h, double t);
/* Energy (Wh) household h used from time 0 to t. */
double nb_sim_profiles_energy(const nb_sim_profiles *p, uint32_t h, double t);
/* Mean power (W) of household h over one loop. */
double nb_sim_profiles_mean(const nb_sim_profiles *p, uint32_t h);

#endif
