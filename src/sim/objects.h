/* Objects of simulated devices whose values are computed, not stored: a class (shared by the
 * whole fleet, read-only) says which instances and resources every device has and computes a
 * value from (device, instance, resource, time); a device's object is a few dozen bytes that
 * name the class and the device. What a server writes, and instances it creates or deletes, go
 * to an overlay (a store object, include/niobium/object.h) made for that device on its first
 * change, so a fleet of 100,000 meters costs nothing per value until someone writes one.
 * Also the Device object (3) class. Implements the client's nb_object_ops (the engine does the
 * encoding, access control and observation); owns each device object and its overlay. */
#ifndef NB_SIM_OBJECTS_H
#define NB_SIM_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/time.h"
#include "lwm2m/model.h"
#include "lwm2m/value.h"
#include "niobium/object.h"

typedef struct nb_sim_objclass nb_sim_objclass;
typedef struct nb_sim_obj nb_sim_obj;

/* Told about every Execute a device's object applied (after it was applied). */
typedef void (*nb_sim_executed_fn)(void *user, uint32_t dev, const nb_path *res, nb_time_ms now);

struct nb_sim_objclass {
  const nb_object_def *def;
  const uint16_t *res; /* resources every instance has, ascending (executables included) */
  size_t nres;
  uint16_t instances; /* instances 0 .. instances - 1 exist until a server changes that */
  /* The value of single resource `res` of instance `inst` of device so at now; NB_ERR_NOT_FOUND
   * to fall back to what a server wrote there (nb_sim_obj_written), if anything. */
  nb_err (*read)(const nb_sim_obj *so, uint16_t inst, uint16_t res, nb_time_ms now, nb_value *out);
  /* Optional: checks (or takes over) a write before it is kept in the overlay: NB_OK to keep
   * it, NB_ERR_EXISTS when the hook kept what it needed itself, another error to refuse it. */
  nb_err (*write)(nb_sim_obj *so, uint16_t inst, uint16_t res, const nb_record *recs, size_t n,
                  nb_time_ms now);
  /* Optional: an Execute (NB_ERR_UNSUPPORTED when the resource cannot be executed). */
  nb_err (*execute)(nb_sim_obj *so, uint16_t inst, uint16_t res, const uint8_t *args, size_t len,
                    nb_time_ms now);
  void *ctx; /* the class's shared data (a scenario, a profile set) */
  nb_sim_executed_fn executed;
  void *executed_user;
};

/* One device's object (its nb_object is what the client engine holds). */
struct nb_sim_obj {
  nb_object obj; /* obj.user points back here */
  const nb_sim_objclass *k;
  uint32_t dev;
  nb_object *overlay; /* NULL until a server writes, creates or deletes */
};

/* A device's object of class k (owned by whoever adds it to a client); NULL when out of
 * memory. */
nb_object *nb_sim_obj_new(const nb_sim_objclass *k, uint32_t dev);
/* What a server wrote at /o/inst/res (a single resource), or NULL. */
const nb_value *nb_sim_obj_written(const nb_sim_obj *so, uint16_t inst, uint16_t res);
/* Keeps v at /o/inst/res in the overlay (made when missing), as a server write would. */
nb_err nb_sim_obj_keep(nb_sim_obj *so, uint16_t inst, uint16_t res, const nb_value *v);
/* The nb_sim_obj behind a client's object, NULL when it is not one. */
nb_sim_obj *nb_sim_obj_of(nb_object *o);

/* ---- Device (3) ---- */
typedef struct {
  const char *manufacturer, *model, *device_type, *firmware, *hardware, *software;
  const char *serial_prefix; /* serial number: prefix + device number */
  const char *bindings;      /* Supported Binding and Modes ("U", "UQ") */
  int64_t unix_offset_ms;    /* Unix ms = now + this: Current Time (13) */
  int64_t memory_total_kb;
} nb_sim_device_info;

/* Fills k as the Device object class (definition from model); info and its strings must
 * outlive k. Reboot (4) and Factory Reset (5) are reported through k->executed; Reset Error
 * Code (12) clears the error code. NB_ERR_NOT_FOUND when the model has no object 3. */
nb_err nb_sim_device_class(nb_sim_objclass *k, const nb_model *model,
                           const nb_sim_device_info *info);

#endif
