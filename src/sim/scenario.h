/* What the simulated devices are: the objects each one has besides Security, Server and
 * Access Control, built from classes shared by the whole fleet (src/sim/objects.h), and the
 * resource whose value changes every second (observations over it are evaluated then).
 * Scenarios: idle (Device only), ipso (Device, Temperature 3303, Humidity 3304 with smooth
 * synthetic weather), smart-meter (Device and a power meter per household: OMA 10243
 * Single-Phase Power Meter when the model has it (DDF), else IPSO Power Measurement 3305 with
 * Voltage 3316, values from load profiles: src/sim/profile.h) and thesis (the seed thesis's
 * device: Device and Temperature). Owns the classes and the Device information. */
#ifndef NB_SIM_SCENARIO_H
#define NB_SIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "lwm2m/model.h"
#include "lwm2m/path.h"
#include "niobium/client.h"
#include "sim/objects.h"

typedef struct nb_sim_profiles nb_sim_profiles;
typedef struct nb_sim_scenario nb_sim_scenario;

typedef enum {
  NB_SIM_SCEN_IDLE,
  NB_SIM_SCEN_IPSO,
  NB_SIM_SCEN_SMART_METER,
  NB_SIM_SCEN_THESIS
} nb_sim_scenario_kind;
const char *nb_sim_scenario_name(nb_sim_scenario_kind k);
nb_err nb_sim_scenario_parse(const char *text, nb_sim_scenario_kind *out);

typedef struct {
  nb_sim_scenario_kind kind;
  const nb_model *model;           /* NULL = built-in */
  const nb_sim_profiles *profiles; /* smart-meter: required (not owned) */
  uint16_t households_per_device;  /* smart-meter: instances per meter; 0 = 1 */
  uint64_t seed;                   /* which household each meter reports, offsets, noise */
  double speed;                    /* profile time per real second; 0 = 1 */
  int64_t unix_offset_ms;          /* Unix ms minus `now` (Device Current Time) */
  const char *bindings;            /* Device Supported Binding and Modes */
} nb_sim_scenario_config;

/* The objects of every device and what changes. */
struct nb_sim_scenario {
  nb_sim_scenario_config cfg;
  nb_sim_device_info device;
  nb_sim_objclass classes[4]; /* [0] Device, then the scenario's own */
  size_t nclasses;
  nb_path sampled;   /* the instance whose values change every sample (len 0: none) */
  nb_path observed;  /* the resource a server observes by default (power, temperature) */
  const char *attrs; /* the attributes it writes there first ("pmin=10&pmax=300&st=50") */
  const char *what;  /* "smart meter (10243 Single-Phase Power Meter)" */
  nb_time_ms start;  /* loop time of profile time 0 */
};

/* Fills s; NB_ERR_NOT_FOUND when the model lacks an object the scenario needs. */
nb_err nb_sim_scenario_init(nb_sim_scenario *s, const nb_sim_scenario_config *cfg, nb_time_ms now);
/* Adds device dev's objects to its engine; executes are reported to fn. */
nb_err nb_sim_scenario_add(const nb_sim_scenario *s, nb_client *c, uint32_t dev);
/* Sets where Executes are reported (before any device is made). */
void nb_sim_scenario_on_execute(nb_sim_scenario *s, nb_sim_executed_fn fn, void *user);

#endif
