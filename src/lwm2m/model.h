/* LwM2M object definitions: what each object and resource is (IDs, names, operations,
 * multiplicity, mandatory, type, range, units). A model is a set of definitions, preloaded with
 * the built-in tables (objects_builtin.h) and extended by DDF files (ddf/ddf.h). The model owns
 * the definitions added to it; built-in definitions are static and never freed. */
#ifndef NB_LWM2M_MODEL_H
#define NB_LWM2M_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "lwm2m/value.h"

/* Operations of a resource (a bit set; E never combines with R/W in LwM2M). */
enum { NB_OP_NONE = 0, NB_OP_R = 1, NB_OP_W = 2, NB_OP_RW = 3, NB_OP_E = 4 };

typedef struct {
  uint16_t id;
  const char *name;
  uint8_t ops; /* NB_OP_* */
  bool multiple;
  bool mandatory;
  nb_value_type type; /* NB_VT_NONE for executables */
  const char *range;  /* DDF RangeEnumeration text ("0..100", "1-65534"), NULL when none */
  const char *units;  /* DDF Units text ("Cel", "%"), NULL when none */
} nb_resource_def;

typedef struct {
  uint16_t id;
  const char *name;
  const char *version; /* ObjectVersion, "1.0" when the DDF has none */
  const char *urn;     /* ObjectURN ("urn:oma:lwm2m:oma:3:1.1"), NULL when none */
  bool multiple;
  bool mandatory;
  const nb_resource_def *resources; /* ascending id */
  size_t resource_count;
  const char *lwm2m_version; /* LWM2MVersion ("1.1"), NULL when none */
} nb_object_def;

typedef struct nb_model nb_model;

/* A model preloaded with the built-in tables; NULL when out of memory. */
nb_model *nb_model_new(void);
/* The built-in tables as a model that costs no heap (shared, read-only, never freed): for
 * engines that add no definitions of their own, such as a device's client. */
const nb_model *nb_model_builtin(void);
/* An empty model (no built-in definitions); NULL when out of memory. */
nb_model *nb_model_new_empty(void);
void nb_model_free(nb_model *m);

const nb_object_def *nb_model_object(const nb_model *m, uint16_t obj);
const nb_resource_def *nb_model_resource(const nb_model *m, uint16_t obj, uint16_t res);
/* Number of objects and the i-th in ascending id order. */
size_t nb_model_count(const nb_model *m);
const nb_object_def *nb_model_at(const nb_model *m, size_t i);

/* Adds or overrides (same id) a definition. def_owned, each of its strings and its resources
 * array (with each resource's strings) must come from malloc: the model frees them with
 * nb_object_def_free when overridden or when the model is freed, and also on error. Resources
 * must be in ascending id order without duplicates (NB_ERR_INVAL otherwise). Pointers
 * obtained earlier to an overridden definition become invalid. */
nb_err nb_model_add(nb_model *m, nb_object_def *def_owned);

/* Makes room for `extra` more objects so that the next `extra` nb_model_add calls of valid
 * definitions cannot fail (lets a loader add a whole file or nothing). */
nb_err nb_model_reserve(nb_model *m, size_t extra);

/* Resource `res` of `def`, or NULL (binary search). */
const nb_resource_def *nb_object_def_resource(const nb_object_def *def, uint16_t res);
/* Deep heap copy of any definition (built-in or not), for nb_model_add; NULL on NOMEM. */
nb_object_def *nb_object_def_dup(const nb_object_def *def);
/* Frees a heap definition made as nb_model_add describes. NULL is fine. */
void nb_object_def_free(nb_object_def *def);

/* "R", "W", "RW", "E" or "" (none); "?" for an impossible set. */
const char *nb_op_name(uint8_t ops);
/* Inverse of nb_op_name: the DDF <Operations> spellings R, W, RW, E and "" (none);
 * NB_ERR_INVAL otherwise. */
nb_err nb_op_parse(const char *text, uint8_t *out);

#endif
