/* The LwM2M client's object API: an object is a definition from the model plus handlers on
 * typed values (list, read, write, execute, create, delete). The engine does every encoding,
 * access-control and attribute decision, so handlers never see content formats or servers.
 * Also the generic in-memory "store" object most objects are built on, with hooks for dynamic
 * reads, write checks and executes. */
#ifndef NIOBIUM_OBJECT_H
#define NIOBIUM_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/time.h"
#include "lwm2m/model.h"
#include "lwm2m/path.h"
#include "lwm2m/value.h"

typedef struct nb_object nb_object;

/* Handlers of one object. Errors map to CoAP codes in the engine: NB_ERR_NOT_FOUND 4.04,
 * NB_ERR_INVAL / NB_ERR_RANGE / NB_ERR_EXISTS 4.00, NB_ERR_UNSUPPORTED 4.05, others 5.00. */
typedef struct {
  /* Ascending instance IDs into ids (at most cap); returns how many instances exist. */
  size_t (*instances)(nb_object *o, uint16_t *ids, size_t cap);
  /* Ascending IDs of the resources present in instance `inst` (at most cap) into ids, count in
   * *n. NB_ERR_NOT_FOUND when there is no such instance. */
  nb_err (*resources)(nb_object *o, uint16_t inst, uint16_t *ids, size_t cap, size_t *n);
  /* Appends the value of /o/inst/res: one record at /o/i/r, or one record per resource instance
   * /o/i/r/ri for a multiple resource (none when it has no instances). */
  nb_err (*read)(nb_object *o, uint16_t inst, uint16_t res, nb_records *out, nb_time_ms now);
  /* Stores values of one resource; recs all lie at /o/i/r (single) or /o/i/r/ri (multiple).
   * replace: a multiple resource keeps only the instances given. Values are typed already.
   * n == 0 (recs NULL) with replace: remove the resource, which a Write-replace of its instance
   * left out; return NB_ERR_UNSUPPORTED to keep it (e.g. a resource that always exists). */
  nb_err (*write)(nb_object *o, uint16_t inst, uint16_t res, const nb_record *recs, size_t n,
                  bool replace, nb_time_ms now);
  /* Executes /o/inst/res with the Execute arguments (text, possibly empty). */
  nb_err (*execute)(nb_object *o, uint16_t inst, uint16_t res, const uint8_t *args, size_t len,
                    nb_time_ms now);
  nb_err (*create)(nb_object *o, uint16_t inst); /* NB_ERR_EXISTS when taken */
  nb_err (*remove)(nb_object *o, uint16_t inst); /* NB_ERR_NOT_FOUND when absent */
  void (*destroy)(nb_object *o);                 /* frees o itself */
} nb_object_ops;

struct nb_object {
  const nb_object_def *def; /* from the model the client uses; outlives the object */
  const nb_object_ops *ops;
  void *user; /* the implementation's state */
};

/* ---- store object: instances held in memory as (path, value) records ---- */

/* Hooks of a store object; every one is optional. */
typedef struct {
  /* Dynamic value of a single resource /o/i/r: fill *out and return NB_OK, or NB_ERR_NOT_FOUND
   * to read the stored value. */
  nb_err (*read)(void *user, const nb_path *res, nb_value *out, nb_time_ms now);
  /* Called before a write is stored (values typed); an error refuses it (4.00 for INVAL). */
  nb_err (*write)(void *user, const nb_path *res, const nb_record *recs, size_t n, nb_time_ms now);
  /* Execute of an executable resource; without it Execute is 4.05. */
  nb_err (*execute)(void *user, const nb_path *res, const uint8_t *args, size_t len,
                    nb_time_ms now);
  void *user;
} nb_store_hooks;

/* A store object of definition def (hooks may be NULL); NULL when out of memory. */
nb_object *nb_store_object_new(const nb_object_def *def, const nb_store_hooks *hooks);
/* Adds an empty instance. NB_ERR_EXISTS when taken, NB_ERR_RANGE above NB_ID_MAX. */
nb_err nb_store_object_add_instance(nb_object *o, uint16_t inst);
bool nb_store_object_has_instance(const nb_object *o, uint16_t inst);
/* Sets (copies) the value at /o/i/r or /o/i/r/ri of an existing instance; for a multiple
 * resource a /o/i/r path is refused (NB_ERR_INVAL). The value is converted to the resource type
 * (NB_ERR_INVAL / NB_ERR_RANGE when it cannot be). */
nb_err nb_store_object_set(nb_object *o, const nb_path *p, const nb_value *v);
/* Removes a resource (/o/i/r) or resource instance; NB_ERR_NOT_FOUND when absent. */
nb_err nb_store_object_unset(nb_object *o, const nb_path *p);
/* The stored value at a /o/i/r or /o/i/r/ri path (borrowed until the next change), or NULL. */
const nb_value *nb_store_object_get(const nb_object *o, const nb_path *p);
/* Convenience getters on single resources; return the fallback when absent or mistyped. */
int64_t nb_store_object_get_int(const nb_object *o, uint16_t inst, uint16_t res, int64_t fallback);
bool nb_store_object_get_bool(const nb_object *o, uint16_t inst, uint16_t res, bool fallback);
/* The string at /o/i/r (borrowed) or NULL. */
const char *nb_store_object_get_str(const nb_object *o, uint16_t inst, uint16_t res);

void nb_object_free(nb_object *o); /* runs ops->destroy; NULL is fine */

#endif
