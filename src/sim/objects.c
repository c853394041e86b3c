/* Computed objects of simulated devices, with a lazily made overlay for what servers change. */
#include "sim/objects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NB_SIM_OBJ_MAX_INST 512 /* instances listed at once (the engine's bound) */

static nb_sim_obj *nb_sim_obj_self(nb_object *o) { return (nb_sim_obj *)o->user; }

/* The overlay, made with the class's instances on the first change. */
static nb_object *nb_sim_obj_overlay(nb_sim_obj *so) {
  if (so->overlay) return so->overlay;
  nb_object *ov = nb_store_object_new(so->k->def, NULL);
  for (uint16_t i = 0; ov && i < so->k->instances; i++) {
    if (nb_store_object_add_instance(ov, i) != NB_OK) {
      nb_object_free(ov);
      ov = NULL;
    }
  }
  so->overlay = ov;
  return ov;
}

static bool nb_sim_obj_has(const nb_sim_obj *so, uint16_t inst) {
  return so->overlay ? nb_store_object_has_instance(so->overlay, inst) : inst < so->k->instances;
}

static bool nb_sim_class_has_res(const nb_sim_objclass *k, uint16_t res) {
  for (size_t i = 0; i < k->nres; i++)
    if (k->res[i] == res) return true;
  return false;
}

const nb_value *nb_sim_obj_written(const nb_sim_obj *so, uint16_t inst, uint16_t res) {
  if (!so->overlay) return NULL;
  nb_path p = nb_path_res(so->k->def->id, inst, res);
  return nb_store_object_get(so->overlay, &p);
}

nb_err nb_sim_obj_keep(nb_sim_obj *so, uint16_t inst, uint16_t res, const nb_value *v) {
  nb_object *ov = nb_sim_obj_overlay(so);
  if (!ov) return NB_ERR_NOMEM;
  nb_path p = nb_path_res(so->k->def->id, inst, res);
  return nb_store_object_set(ov, &p, v);
}

static size_t nb_sim_obj_instances(nb_object *o, uint16_t *ids, size_t cap) {
  nb_sim_obj *so = nb_sim_obj_self(o);
  if (so->overlay) return so->overlay->ops->instances(so->overlay, ids, cap);
  for (uint16_t i = 0; i < so->k->instances && i < cap; i++) ids[i] = i;
  return so->k->instances;
}

/* The class's resources, and those a server added in the overlay, ascending. */
static nb_err nb_sim_obj_resources(nb_object *o, uint16_t inst, uint16_t *ids, size_t cap,
                                   size_t *n) {
  nb_sim_obj *so = nb_sim_obj_self(o);
  if (!nb_sim_obj_has(so, inst)) return NB_ERR_NOT_FOUND;
  size_t k = 0;
  for (size_t i = 0; i < so->k->nres && k < cap; i++) ids[k++] = so->k->res[i];
  uint16_t extra[64];
  size_t ne = 0;
  if (so->overlay && so->overlay->ops->resources(so->overlay, inst, extra, 64, &ne) == NB_OK) {
    for (size_t i = 0; i < ne && k < cap; i++) {
      if (nb_sim_class_has_res(so->k, extra[i])) continue;
      size_t at = k++;
      while (at > 0 && ids[at - 1] > extra[i]) {
        ids[at] = ids[at - 1];
        at--;
      }
      ids[at] = extra[i];
    }
  }
  *n = k;
  return NB_OK;
}

static nb_err nb_sim_obj_read(nb_object *o, uint16_t inst, uint16_t res, nb_records *out,
                              nb_time_ms now) {
  nb_sim_obj *so = nb_sim_obj_self(o);
  if (!nb_sim_obj_has(so, inst)) return NB_ERR_NOT_FOUND;
  const nb_resource_def *rd = nb_object_def_resource(o->def, res);
  nb_value v = nb_value_none();
  nb_err e =
      nb_sim_class_has_res(so->k, res) ? so->k->read(so, inst, res, now, &v) : NB_ERR_NOT_FOUND;
  if (e == NB_OK) {
    /* A computed multiple resource has the one instance 0 (e.g. Device Error Code). */
    nb_path p = rd && rd->multiple ? nb_path_rinst(o->def->id, inst, res, 0)
                                   : nb_path_res(o->def->id, inst, res);
    return nb_records_add(out, &p, &v);
  }
  nb_value_deinit(&v);
  if (e != NB_ERR_NOT_FOUND || !so->overlay) return e;
  return so->overlay->ops->read(so->overlay, inst, res, out, now);
}

static nb_err nb_sim_obj_write(nb_object *o, uint16_t inst, uint16_t res, const nb_record *recs,
                               size_t n, bool replace, nb_time_ms now) {
  nb_sim_obj *so = nb_sim_obj_self(o);
  if (!nb_sim_obj_has(so, inst)) return NB_ERR_NOT_FOUND;
  if (n == 0 && replace && nb_sim_class_has_res(so->k, res))
    return NB_ERR_UNSUPPORTED; /* a computed resource always exists */
  if (so->k->write) {
    nb_err e = so->k->write(so, inst, res, recs, n, now);
    if (e == NB_ERR_EXISTS) return NB_OK;
    if (e != NB_OK) return e;
  }
  nb_object *ov = nb_sim_obj_overlay(so);
  if (!ov) return NB_ERR_NOMEM;
  return ov->ops->write(ov, inst, res, recs, n, replace, now);
}

static nb_err nb_sim_obj_execute(nb_object *o, uint16_t inst, uint16_t res, const uint8_t *args,
                                 size_t len, nb_time_ms now) {
  nb_sim_obj *so = nb_sim_obj_self(o);
  if (!nb_sim_obj_has(so, inst)) return NB_ERR_NOT_FOUND;
  if (!so->k->execute || !nb_sim_class_has_res(so->k, res)) return NB_ERR_UNSUPPORTED;
  nb_err e = so->k->execute(so, inst, res, args, len, now);
  if (e == NB_OK && so->k->executed) {
    nb_path p = nb_path_res(o->def->id, inst, res);
    so->k->executed(so->k->executed_user, so->dev, &p, now);
  }
  return e;
}

static nb_err nb_sim_obj_create(nb_object *o, uint16_t inst) {
  nb_sim_obj *so = nb_sim_obj_self(o);
  if (!o->def->multiple && nb_sim_obj_instances(o, &(uint16_t){0}, 1) > 0) return NB_ERR_EXISTS;
  nb_object *ov = nb_sim_obj_overlay(so);
  return ov ? nb_store_object_add_instance(ov, inst) : NB_ERR_NOMEM;
}

static nb_err nb_sim_obj_remove(nb_object *o, uint16_t inst) {
  nb_sim_obj *so = nb_sim_obj_self(o);
  if (!nb_sim_obj_has(so, inst)) return NB_ERR_NOT_FOUND;
  nb_object *ov = nb_sim_obj_overlay(so);
  return ov ? ov->ops->remove(ov, inst) : NB_ERR_NOMEM;
}

static void nb_sim_obj_destroy(nb_object *o) {
  nb_sim_obj *so = nb_sim_obj_self(o);
  nb_object_free(so->overlay);
  free(so);
}

static const nb_object_ops nb_sim_obj_ops = {
    nb_sim_obj_instances, nb_sim_obj_resources, nb_sim_obj_read,   nb_sim_obj_write,
    nb_sim_obj_execute,   nb_sim_obj_create,    nb_sim_obj_remove, nb_sim_obj_destroy,
};

nb_sim_obj *nb_sim_obj_of(nb_object *o) {
  return o && o->ops == &nb_sim_obj_ops ? nb_sim_obj_self(o) : NULL;
}

nb_object *nb_sim_obj_new(const nb_sim_objclass *k, uint32_t dev) {
  if (!k->def) return NULL;
  nb_sim_obj *so = calloc(1, sizeof *so);
  if (!so) return NULL;
  so->obj.def = k->def;
  so->obj.ops = &nb_sim_obj_ops;
  so->obj.user = so;
  so->k = k;
  so->dev = dev;
  return &so->obj;
}

/* ---- Device (3) ---- */

static const uint16_t nb_sim_device_res[] = {0,  1,  2,  3,  4,  5,  10, 11, 12,
                                             13, 14, 15, 16, 17, 18, 19, 21};

static nb_err nb_sim_str(nb_value *out, const char *s) {
  return s ? nb_value_set_string(out, s, strlen(s)) : NB_ERR_NOT_FOUND;
}

static int64_t nb_sim_unix_s(const nb_sim_device_info *in, nb_time_ms now) {
  return (in->unix_offset_ms + now) / 1000;
}

static nb_err nb_sim_device_read(const nb_sim_obj *so, uint16_t inst, uint16_t res, nb_time_ms now,
                                 nb_value *out) {
  const nb_sim_device_info *in = so->k->ctx;
  char buf[48];
  const nb_value *w = nb_sim_obj_written(so, inst, res);
  switch (res) {
    case 0:
      return nb_sim_str(out, in->manufacturer);
    case 1:
      return nb_sim_str(out, in->model);
    case 2:
      snprintf(buf, sizeof buf, "%s%07u", in->serial_prefix ? in->serial_prefix : "", so->dev + 1);
      return nb_sim_str(out, buf);
    case 3:
      return nb_sim_str(out, in->firmware);
    case 10: /* a little under the total, moving with the device's activity */
      *out = nb_value_int(in->memory_total_kb - 8 - (((int64_t)so->dev * 7 + now / 60000) % 16));
      return NB_OK;
    case 11:
      *out = nb_value_int(0); /* no error */
      return NB_OK;
    case 13: /* kept as the offset a server set, so the clock keeps running */
      *out = nb_value_time(nb_sim_unix_s(in, now) + (w ? w->v.t : 0));
      return NB_OK;
    case 14:
      return w ? NB_ERR_NOT_FOUND : nb_sim_str(out, "+00:00");
    case 15:
      return w ? NB_ERR_NOT_FOUND : nb_sim_str(out, "Etc/UTC");
    case 16:
      return nb_sim_str(out, in->bindings ? in->bindings : "U");
    case 17:
      return nb_sim_str(out, in->device_type);
    case 18:
      return nb_sim_str(out, in->hardware);
    case 19:
      return nb_sim_str(out, in->software);
    case 21:
      *out = nb_value_int(in->memory_total_kb);
      return NB_OK;
    default:
      return NB_ERR_NOT_FOUND;
  }
}

/* Current Time: the server sets the clock; what is kept is the offset to ours. */
static nb_err nb_sim_device_write(nb_sim_obj *so, uint16_t inst, uint16_t res,
                                  const nb_record *recs, size_t n, nb_time_ms now) {
  if (res != 13 || n != 1) return NB_OK;
  const nb_sim_device_info *in = so->k->ctx;
  nb_value t;
  nb_err e = nb_value_convert(&recs[0].value, NB_VT_TIME, &t);
  if (e != NB_OK) return NB_ERR_INVAL;
  nb_value delta = nb_value_time(t.v.t - nb_sim_unix_s(in, now));
  e = nb_sim_obj_keep(so, inst, 13, &delta);
  return e == NB_OK ? NB_ERR_EXISTS : e;
}

static nb_err nb_sim_device_execute(nb_sim_obj *so, uint16_t inst, uint16_t res,
                                    const uint8_t *args, size_t len, nb_time_ms now) {
  (void)so, (void)inst, (void)args, (void)len, (void)now;
  /* Reboot and Factory Reset are the fleet's to carry out (k->executed); the error code
   * (always 0 here) has nothing to clear. */
  return res == 4 || res == 5 || res == 12 ? NB_OK : NB_ERR_UNSUPPORTED;
}

nb_err nb_sim_device_class(nb_sim_objclass *k, const nb_model *model,
                           const nb_sim_device_info *info) {
  memset(k, 0, sizeof *k);
  k->def = nb_model_object(model, 3);
  if (!k->def) return NB_ERR_NOT_FOUND;
  k->res = nb_sim_device_res;
  k->nres = sizeof nb_sim_device_res / sizeof nb_sim_device_res[0];
  k->instances = 1;
  k->read = nb_sim_device_read;
  k->write = nb_sim_device_write;
  k->execute = nb_sim_device_execute;
  k->ctx = (void *)info;
  return NB_OK;
}
