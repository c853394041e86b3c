/* Scenarios of the fleet simulator: classes of computed objects and their value functions. */
#include "sim/scenario.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/profile.h"

static const char *const nb_sim_scen_names[] = {"idle", "ipso", "smart-meter", "thesis"};

const char *nb_sim_scenario_name(nb_sim_scenario_kind k) {
  return (unsigned)k < sizeof nb_sim_scen_names / sizeof *nb_sim_scen_names ? nb_sim_scen_names[k]
                                                                            : "?";
}

nb_err nb_sim_scenario_parse(const char *text, nb_sim_scenario_kind *out) {
  for (unsigned i = 0; i < sizeof nb_sim_scen_names / sizeof *nb_sim_scen_names; i++)
    if (strcmp(text, nb_sim_scen_names[i]) == 0) {
      *out = (nb_sim_scenario_kind)i;
      return NB_OK;
    }
  return NB_ERR_INVAL;
}

/* ---- deterministic per-device numbers (not secrets: the CSPRNG is for keys) ---- */

static uint64_t nb_sim_hash(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t z = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xBF58476D1CE4E5B9ull ^
               (c + 0x8CB92BA72F3D8DD7ull) * 0x94D049BB133111EBull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [0, 1) from (a, b, c). */
static double nb_sim_u(uint64_t a, uint64_t b, uint64_t c) {
  return (double)(nb_sim_hash(a, b, c) >> 11) / 9007199254740992.0;
}

/* Noise in [-1, 1] that changes once a second. */
static double nb_sim_noise(const nb_sim_scenario *s, uint32_t dev, uint32_t salt, nb_time_ms now) {
  return 2.0 * nb_sim_u(s->cfg.seed ^ salt, dev, (uint64_t)(now / 1000)) - 1.0;
}

static double nb_sim_round(double v, double unit) { return round(v / unit) * unit; }

/* Seconds of scenario time (real seconds times the speed) since the scenario started. */
static double nb_sim_elapsed(const nb_sim_scenario *s, nb_time_ms now) {
  double speed = s->cfg.speed > 0 ? s->cfg.speed : 1.0;
  return (double)(now - s->start) / 1000.0 * speed;
}

static nb_err nb_sim_set_str(nb_value *out, const char *text) {
  return nb_value_set_string(out, text, strlen(text));
}

/* ---- smart meter ---- */

/* Unix seconds of a profile's time 0: a Monday at midnight UTC (1970-01-05). */
#define NB_SIM_PROFILE_ORIGIN 345600.0

/* A meter's instance reports one household; meters that share a household are whole days
 * apart (so the fleet keeps one daily rhythm) with a few minutes of their own. */
typedef struct {
  uint32_t household;
  double t; /* profile time, s */
} nb_sim_meter_at;

static nb_sim_meter_at nb_sim_meter(const nb_sim_scenario *s, uint32_t dev, uint16_t inst,
                                    nb_time_ms now) {
  const nb_sim_profiles *p = s->cfg.profiles;
  uint16_t k = s->cfg.households_per_device ? s->cfg.households_per_device : 1;
  uint64_t who = (uint64_t)dev * k + inst;
  double period = nb_sim_profiles_period(p);
  double days = floor(period / 86400.0);
  double unix0 = (double)(s->cfg.unix_offset_ms + s->start) / 1000.0;
  double t = fmod(unix0 - NB_SIM_PROFILE_ORIGIN, period) + nb_sim_elapsed(s, now);
  if (days >= 1) t += floor(nb_sim_u(s->cfg.seed, who, 1) * days) * 86400.0;
  t += nb_sim_u(s->cfg.seed, who, 2) * 600.0;
  nb_sim_meter_at m = {(uint32_t)(nb_sim_hash(s->cfg.seed, who, 3) % nb_sim_profiles_households(p)),
                       t};
  return m;
}

static double nb_sim_watts(const nb_sim_scenario *s, uint32_t dev, uint16_t inst, nb_time_ms now) {
  nb_sim_meter_at m = nb_sim_meter(s, dev, inst, now);
  double w = nb_sim_profiles_power(s->cfg.profiles, m.household, m.t);
  return w * (1.0 + 0.02 * nb_sim_noise(s, dev * 256u + inst, 11, now));
}

static double nb_sim_volts(const nb_sim_scenario *s, uint32_t dev, uint16_t inst, nb_time_ms now) {
  double phase = nb_sim_u(s->cfg.seed, dev, 4) * 6.283185307179586;
  double slow = sin(nb_sim_elapsed(s, now) / 3600.0 * 6.283185307179586 + phase);
  return 230.0 + 2.0 * slow + 0.4 * nb_sim_noise(s, dev * 256u + inst, 12, now);
}

/* Energy (Wh) on the meter: a reading it had when installed plus what the household used. */
static double nb_sim_wh(const nb_sim_scenario *s, uint32_t dev, uint16_t inst, nb_time_ms now) {
  nb_sim_meter_at m = nb_sim_meter(s, dev, inst, now);
  double installed = 1e6 + nb_sim_u(s->cfg.seed, (uint64_t)dev * 65536 + inst, 5) * 2e7;
  return installed + nb_sim_profiles_energy(s->cfg.profiles, m.household, m.t);
}

/* 10243 Single-Phase Power Meter (units of the registry file: V, A, kW, kWh, Hz). */
static const uint16_t nb_sim_10243_res[] = {1, 2, 3, 4, 5, 6, 14, 17};

static nb_err nb_sim_10243_read(const nb_sim_obj *so, uint16_t inst, uint16_t res, nb_time_ms now,
                                nb_value *out) {
  const nb_sim_scenario *s = so->k->ctx;
  char buf[48];
  switch (res) {
    case 1:
      return nb_sim_set_str(out, "NB-SPM-1");
    case 2:
      snprintf(buf, sizeof buf, "NBM%07u-%u", so->dev + 1, inst);
      return nb_sim_set_str(out, buf);
    case 3:
      snprintf(buf, sizeof buf, "household %u", nb_sim_meter(s, so->dev, inst, now).household + 1);
      return nb_sim_set_str(out, buf);
    case 4:
      *out = nb_value_float(nb_sim_round(nb_sim_volts(s, so->dev, inst, now), 0.1));
      return NB_OK;
    case 5:
      *out = nb_value_float(nb_sim_round(
          nb_sim_watts(s, so->dev, inst, now) / nb_sim_volts(s, so->dev, inst, now), 0.001));
      return NB_OK;
    case 6:
      *out = nb_value_float(nb_sim_round(nb_sim_watts(s, so->dev, inst, now) / 1000.0, 0.001));
      return NB_OK;
    case 14:
      *out = nb_value_float(nb_sim_round(nb_sim_wh(s, so->dev, inst, now) / 1000.0, 0.001));
      return NB_OK;
    case 17:
      *out = nb_value_float(nb_sim_round(50.0 + 0.03 * nb_sim_noise(s, so->dev, 13, now), 0.01));
      return NB_OK;
    default:
      return NB_ERR_NOT_FOUND;
  }
}

/* 3305 Power Measurement (W, Wh) with 5822 Reset Cumulative energy. */
static const uint16_t nb_sim_3305_res[] = {5750, 5800, 5805, 5822};

static nb_err nb_sim_3305_read(const nb_sim_obj *so, uint16_t inst, uint16_t res, nb_time_ms now,
                               nb_value *out) {
  const nb_sim_scenario *s = so->k->ctx;
  const nb_value *w = nb_sim_obj_written(so, inst, res);
  switch (res) {
    case 5750:
      return w ? NB_ERR_NOT_FOUND : nb_sim_set_str(out, "household");
    case 5800:
      *out = nb_value_float(nb_sim_round(nb_sim_watts(s, so->dev, inst, now), 0.1));
      return NB_OK;
    case 5805: /* since the last reset: the overlay keeps the reading then, negated */
      *out =
          nb_value_float(nb_sim_round(nb_sim_wh(s, so->dev, inst, now) + (w ? w->v.f : 0.0), 0.1));
      return NB_OK;
    default:
      return NB_ERR_NOT_FOUND;
  }
}

static nb_err nb_sim_3305_execute(nb_sim_obj *so, uint16_t inst, uint16_t res, const uint8_t *args,
                                  size_t len, nb_time_ms now) {
  (void)args, (void)len;
  if (res != 5822) return NB_ERR_UNSUPPORTED;
  nb_value off = nb_value_float(-nb_sim_wh(so->k->ctx, so->dev, inst, now));
  return nb_sim_obj_keep(so, inst, 5805, &off);
}

/* 3316 Voltage beside 3305. */
static const uint16_t nb_sim_3316_res[] = {5700, 5701};

static nb_err nb_sim_3316_read(const nb_sim_obj *so, uint16_t inst, uint16_t res, nb_time_ms now,
                               nb_value *out) {
  if (res == 5701) return nb_sim_set_str(out, "V");
  if (res != 5700) return NB_ERR_NOT_FOUND;
  *out = nb_value_float(nb_sim_round(nb_sim_volts(so->k->ctx, so->dev, inst, now), 0.1));
  return NB_OK;
}

/* ---- weather for the IPSO and thesis devices ---- */

static const uint16_t nb_sim_sensor_res[] = {5603, 5604, 5700, 5701};

static double nb_sim_daily(const nb_sim_scenario *s, uint32_t dev, nb_time_ms now, uint32_t salt) {
  double day = nb_sim_elapsed(s, now) / 86400.0 + nb_sim_u(s->cfg.seed, dev, salt);
  return sin(day * 6.283185307179586);
}

static nb_err nb_sim_sensor_read(const nb_sim_obj *so, uint16_t inst, uint16_t res, nb_time_ms now,
                                 nb_value *out) {
  const nb_sim_scenario *s = so->k->ctx;
  bool temp = so->k->def->id == 3303;
  (void)inst;
  switch (res) {
    case 5603:
      *out = nb_value_float(temp ? -40.0 : 0.0);
      return NB_OK;
    case 5604:
      *out = nb_value_float(temp ? 85.0 : 100.0);
      return NB_OK;
    case 5700: {
      double v = temp ? 21.0 + 4.0 * nb_sim_daily(s, so->dev, now, 21) +
                            0.2 * nb_sim_noise(s, so->dev, 22, now)
                      : 50.0 + 15.0 * nb_sim_daily(s, so->dev, now, 23) +
                            1.0 * nb_sim_noise(s, so->dev, 24, now);
      *out = nb_value_float(nb_sim_round(v, 0.01));
      return NB_OK;
    }
    case 5701:
      return nb_sim_set_str(out, temp ? "Cel" : "%RH");
    default:
      return NB_ERR_NOT_FOUND;
  }
}

/* ---- scenarios ---- */

static nb_err nb_sim_class(nb_sim_scenario *s, uint16_t id, const uint16_t *res, size_t nres,
                           uint16_t instances,
                           nb_err (*read)(const nb_sim_obj *, uint16_t, uint16_t, nb_time_ms,
                                          nb_value *)) {
  const nb_model *m = s->cfg.model ? s->cfg.model : nb_model_builtin();
  nb_sim_objclass *k = &s->classes[s->nclasses];
  memset(k, 0, sizeof *k);
  k->def = nb_model_object(m, id);
  if (!k->def) return NB_ERR_NOT_FOUND;
  k->res = res;
  k->nres = nres;
  k->instances = instances;
  k->read = read;
  k->ctx = s;
  s->nclasses++;
  return NB_OK;
}

#define NB_SIM_N(a) (sizeof(a) / sizeof(a)[0])

static nb_err nb_sim_meter_classes(nb_sim_scenario *s) {
  const nb_model *m = s->cfg.model ? s->cfg.model : nb_model_builtin();
  uint16_t k = s->cfg.households_per_device ? s->cfg.households_per_device : 1;
  if (!s->cfg.profiles) return NB_ERR_INVAL;
  if (nb_model_object(m, 10243)) {
    s->what = "smart meter (OMA 10243 Single-Phase Power Meter, from DDF)";
    s->sampled = nb_path_obj(10243);
    s->observed = nb_path_res(10243, 0, 6);
    s->attrs = "pmin=10&pmax=300&st=0.05"; /* kW: a change of 50 W */
    return nb_sim_class(s, 10243, nb_sim_10243_res, NB_SIM_N(nb_sim_10243_res), k,
                        nb_sim_10243_read);
  }
  s->what = "smart meter (IPSO 3305 Power Measurement and 3316 Voltage)";
  s->sampled = nb_path_obj(3305);
  s->observed = nb_path_res(3305, 0, 5800);
  s->attrs = "pmin=10&pmax=300&st=50"; /* W */
  nb_err e = nb_sim_class(s, 3305, nb_sim_3305_res, NB_SIM_N(nb_sim_3305_res), k, nb_sim_3305_read);
  if (e != NB_OK) return e;
  s->classes[s->nclasses - 1].execute = nb_sim_3305_execute;
  return nb_sim_class(s, 3316, nb_sim_3316_res, NB_SIM_N(nb_sim_3316_res), k, nb_sim_3316_read);
}

nb_err nb_sim_scenario_init(nb_sim_scenario *s, const nb_sim_scenario_config *cfg, nb_time_ms now) {
  memset(s, 0, sizeof *s);
  s->cfg = *cfg;
  s->start = now;
  const nb_model *m = cfg->model ? cfg->model : nb_model_builtin();
  bool meter = cfg->kind == NB_SIM_SCEN_SMART_METER;
  s->device = (nb_sim_device_info){.manufacturer = "Niobium",
                                   .model = meter ? "NB-SIM meter" : "NB-SIM sensor",
                                   .device_type = meter ? "smart meter" : "sensor",
                                   .firmware = "1.0.0",
                                   .hardware = "sim-1",
                                   .software = "niobium-sim",
                                   .serial_prefix = "NB-SIM-",
                                   .bindings = cfg->bindings,
                                   .unix_offset_ms = cfg->unix_offset_ms,
                                   .memory_total_kb = 256};
  nb_err e = nb_sim_device_class(&s->classes[0], m, &s->device);
  if (e != NB_OK) return e;
  s->nclasses = 1;
  switch (cfg->kind) {
    case NB_SIM_SCEN_IDLE:
      s->what = "idle (Device object only)";
      return NB_OK;
    case NB_SIM_SCEN_IPSO:
      s->what = "IPSO sensors (3303 Temperature, 3304 Humidity)";
      s->sampled = nb_path_obj(3303);
      s->observed = nb_path_res(3303, 0, 5700);
      s->attrs = "pmin=10&pmax=300&st=0.5"; /* Cel */
      e = nb_sim_class(s, 3303, nb_sim_sensor_res, NB_SIM_N(nb_sim_sensor_res), 1,
                       nb_sim_sensor_read);
      return e == NB_OK ? nb_sim_class(s, 3304, nb_sim_sensor_res, NB_SIM_N(nb_sim_sensor_res), 1,
                                       nb_sim_sensor_read)
                        : e;
    case NB_SIM_SCEN_THESIS:
      s->what = "the seed thesis's device (3303 Temperature)";
      s->sampled = nb_path_obj(3303);
      s->observed = nb_path_res(3303, 0, 5700);
      return nb_sim_class(s, 3303, nb_sim_sensor_res, NB_SIM_N(nb_sim_sensor_res), 1,
                          nb_sim_sensor_read);
    case NB_SIM_SCEN_SMART_METER:
      return nb_sim_meter_classes(s);
  }
  return NB_ERR_INVAL;
}

void nb_sim_scenario_on_execute(nb_sim_scenario *s, nb_sim_executed_fn fn, void *user) {
  for (size_t i = 0; i < s->nclasses; i++) {
    s->classes[i].executed = fn;
    s->classes[i].executed_user = user;
  }
}

nb_err nb_sim_scenario_add(const nb_sim_scenario *s, nb_client *c, uint32_t dev) {
  for (size_t i = 0; i < s->nclasses; i++) {
    nb_object *o = nb_sim_obj_new(&s->classes[i], dev);
    nb_err e = o ? nb_client_add_object(c, o, 0) : NB_ERR_NOMEM;
    if (e != NB_OK) return e;
  }
  return NB_OK;
}
