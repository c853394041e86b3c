/* Built-in object definitions: the LwM2M core objects 0-7 and the common IPSO smart objects,
 * as static tables (one row per resource) whose facts follow the OMA registry DDF files.
 * nb_model_new() preloads them; nothing here is allocated or freed. */
#ifndef NB_LWM2M_OBJECTS_BUILTIN_H
#define NB_LWM2M_OBJECTS_BUILTIN_H

#include <stddef.h>

#include "lwm2m/model.h"

/* The built-in definitions in ascending object id; *count receives how many. */
const nb_object_def *nb_objects_builtin(size_t *count);

#endif
