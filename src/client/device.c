/* The Device object (3) made live (nb_client_set_device_source, niobium/objects.h): an object
 * in front of the store object nb_client_add_device made, which answers Battery Level/Status,
 * Memory Free/Total, UTC Offset and Timezone from the application's source, Current Time from
 * the engine's clock (plus the offset a server's Write sets) and Error Code from the device's
 * conditions and raised errors, and hands everything else to the store. Owns the store object.
 * Nothing here is linked into a device that never calls nb_client_set_device_source. */
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

#define NB_DEV_ZONE_MAX 64
#define NB_DEV_ERR_MAX 32 /* Error Code 0..32 */

typedef struct {
  /* First: the engine holds &obj. obj.user is the store's own state, so that the
   * nb_store_object_* calls an application makes on nb_client_object(c, 3) reach the store. */
  nb_object obj;
  nb_object *store;
  nb_client *c;
  nb_client_device_source src;
  int64_t time_delta_ms; /* what a server's Write of Current Time moved the clock by */
  bool time_written;
  bool zone_written; /* without src.set_zone, written Timezone/UTC Offset are kept as given */
  uint64_t raised;   /* bit n: Error Code n raised by the application */
} nb_dev;

static nb_dev *nb_dev_of(nb_object *o) { return (nb_dev *)o; }

/* ---- what the source can tell right now ---- */

static bool nb_dev_battery(nb_dev *d, int *level, int *status) {
  *level = *status = -1;
  return d->src.battery && d->src.battery(d->src.user, level, status) == NB_OK && *level >= 0 &&
         *level <= 100;
}

static bool nb_dev_memory(nb_dev *d, int64_t *free_kb, int64_t *total_kb) {
  *free_kb = *total_kb = -1;
  return d->src.memory && d->src.memory(d->src.user, free_kb, total_kb) == NB_OK && *free_kb >= 0 &&
         *total_kb > 0;
}

static bool nb_dev_clock(nb_dev *d, nb_time_ms now, int64_t *unix_s) {
  if (!d->time_written && d->c->cfg.unix_offset_ms == 0) return false;
  *unix_s = (now + d->c->cfg.unix_offset_ms + d->time_delta_ms) / 1000;
  return true;
}

static bool nb_dev_zone(nb_dev *d, nb_time_ms now, char *tz, char *off) {
  int64_t t = 0;
  tz[0] = off[0] = 0;
  if (d->zone_written || !d->src.zone) return false;
  nb_dev_clock(d, now, &t);
  return d->src.zone(d->src.user, t, tz, NB_DEV_ZONE_MAX, off, NB_DEV_ZONE_MAX) == NB_OK;
}

/* Error Code bits present now: the conditions, then the raised ones. */
static uint64_t nb_dev_errors(nb_dev *d) {
  uint64_t bits = d->raised;
  int level, status;
  int64_t fr, total;
  int low_bat = d->src.low_battery_pct > 0 ? d->src.low_battery_pct : 10;
  int low_mem = d->src.low_memory_pct > 0 ? d->src.low_memory_pct : 5;
  if (nb_dev_battery(d, &level, &status) && level < low_bat) bits |= 1u << 1;
  if (nb_dev_memory(d, &fr, &total) && fr * 100 < total * low_mem) bits |= 1u << 5;
  return bits;
}

/* ---- object operations ---- */

static size_t nb_dev_instances(nb_object *o, uint16_t *ids, size_t cap) {
  nb_object *s = nb_dev_of(o)->store;
  return s->ops->instances(s, ids, cap);
}

/* Adds id to the ascending list ids[0..*n) unless it is there (cap permitting). */
static void nb_dev_list_add(uint16_t *ids, size_t cap, size_t *n, uint16_t id) {
  size_t at = 0;
  while (at < *n && ids[at] < id) at++;
  if ((at < *n && ids[at] == id) || *n == cap) return;
  memmove(&ids[at + 1], &ids[at], (*n - at) * sizeof ids[0]);
  ids[at] = id;
  (*n)++;
}

static nb_err nb_dev_resources(nb_object *o, uint16_t inst, uint16_t *ids, size_t cap, size_t *n) {
  nb_dev *d = nb_dev_of(o);
  nb_err e = d->store->ops->resources(d->store, inst, ids, cap, n);
  if (e != NB_OK) return e;
  int level, status;
  int64_t fr, total, t;
  char tz[NB_DEV_ZONE_MAX], off[NB_DEV_ZONE_MAX];
  nb_time_ms now = d->c->now;
  if (nb_dev_battery(d, &level, &status)) {
    nb_dev_list_add(ids, cap, n, 9);
    if (status >= 0 && status <= 6) nb_dev_list_add(ids, cap, n, 20);
  }
  if (nb_dev_memory(d, &fr, &total)) {
    nb_dev_list_add(ids, cap, n, 10);
    nb_dev_list_add(ids, cap, n, 21);
  }
  nb_dev_list_add(ids, cap, n, 11);
  if (nb_dev_clock(d, now, &t)) nb_dev_list_add(ids, cap, n, 13);
  if (nb_dev_zone(d, now, tz, off)) {
    if (off[0]) nb_dev_list_add(ids, cap, n, 14);
    if (tz[0]) nb_dev_list_add(ids, cap, n, 15);
  }
  return NB_OK;
}

static nb_err nb_dev_add(nb_records *out, uint16_t inst, uint16_t res, nb_value v) {
  nb_path p = nb_path_res(3, inst, res);
  return nb_records_add(out, &p, &v);
}

static nb_err nb_dev_add_str(nb_records *out, uint16_t inst, uint16_t res, const char *s) {
  nb_value v = nb_value_none();
  nb_err e = s[0] ? nb_value_set_string(&v, s, strlen(s)) : NB_ERR_NOT_FOUND;
  if (e != NB_OK) return e;
  return nb_dev_add(out, inst, res, v);
}

static nb_err nb_dev_read_errors(nb_dev *d, uint16_t inst, nb_records *out) {
  uint64_t bits = nb_dev_errors(d);
  uint16_t ri = 0;
  nb_err e = NB_OK;
  for (int code = 1; code <= NB_DEV_ERR_MAX && e == NB_OK; code++) {
    if (!(bits >> code & 1)) continue;
    nb_path p = nb_path_rinst(3, inst, 11, ri++);
    nb_value v = nb_value_int(code);
    e = nb_records_add(out, &p, &v);
  }
  if (e == NB_OK && ri == 0) { /* no error: one instance, 0 */
    nb_path p = nb_path_rinst(3, inst, 11, 0);
    nb_value v = nb_value_int(0);
    e = nb_records_add(out, &p, &v);
  }
  return e;
}

static nb_err nb_dev_read(nb_object *o, uint16_t inst, uint16_t res, nb_records *out,
                          nb_time_ms now) {
  nb_dev *d = nb_dev_of(o);
  nb_object *s = d->store;
  if (!nb_store_object_has_instance(s, inst)) return NB_ERR_NOT_FOUND;
  int level, status;
  int64_t fr, total, t;
  char tz[NB_DEV_ZONE_MAX], off[NB_DEV_ZONE_MAX];
  switch (res) {
    case 9:
    case 20:
      if (!d->src.battery) break; /* the stored value, if any */
      if (!nb_dev_battery(d, &level, &status) || (res == 20 && (status < 0 || status > 6)))
        return NB_ERR_NOT_FOUND;
      return nb_dev_add(out, inst, res, nb_value_int(res == 9 ? level : status));
    case 10:
    case 21:
      if (!d->src.memory) break;
      if (!nb_dev_memory(d, &fr, &total)) return NB_ERR_NOT_FOUND;
      return nb_dev_add(out, inst, res, nb_value_int(res == 10 ? fr : total));
    case 11:
      return nb_dev_read_errors(d, inst, out);
    case 13:
      if (!nb_dev_clock(d, now, &t)) return NB_ERR_NOT_FOUND;
      return nb_dev_add(out, inst, res, nb_value_time(t));
    case 14:
    case 15:
      if (!nb_dev_zone(d, now, tz, off)) break; /* written, or no zone source */
      return nb_dev_add_str(out, inst, res, res == 15 ? tz : off);
    default:
      break;
  }
  return s->ops->read(s, inst, res, out, now);
}

/* Current Time written: the clock the device keeps moves by the difference. */
static nb_err nb_dev_write_time(nb_dev *d, const nb_record *r, nb_time_ms now) {
  if (r->value.type != NB_VT_TIME && r->value.type != NB_VT_INT) return NB_ERR_INVAL;
  d->time_delta_ms = r->value.v.i * 1000 - (now + d->c->cfg.unix_offset_ms);
  d->time_written = true;
  return NB_OK;
}

/* Timezone (15) or UTC Offset (14) written: to the platform when it takes them, else kept. */
static nb_err nb_dev_write_zone(nb_dev *d, uint16_t inst, uint16_t res, const nb_record *r,
                                nb_time_ms now) {
  if (r->value.type != NB_VT_STRING) return NB_ERR_INVAL;
  const char *text = (const char *)r->value.v.bytes.data;
  if (d->src.set_zone) {
    nb_err e = d->src.set_zone(d->src.user, res == 15 ? text : NULL, res == 14 ? text : NULL);
    if (e == NB_OK) d->zone_written = false;
    return e;
  }
  nb_err e = d->store->ops->write(d->store, inst, res, r, 1, true, now);
  if (e == NB_OK && d->src.zone) {
    /* The other one of the pair stays as the platform last said, from now on kept too. */
    char tz[NB_DEV_ZONE_MAX], off[NB_DEV_ZONE_MAX];
    uint16_t other = res == 15 ? 14 : 15;
    nb_path p = nb_path_res(3, inst, other);
    if (!nb_store_object_get(d->store, &p) && nb_dev_zone(d, now, tz, off)) {
      nb_value v = nb_value_none();
      const char *s = other == 15 ? tz : off;
      if (s[0] && nb_value_set_string(&v, s, strlen(s)) == NB_OK)
        nb_store_object_set(d->store, &p, &v);
      nb_value_deinit(&v);
    }
    d->zone_written = true;
  }
  return e;
}

static nb_err nb_dev_write(nb_object *o, uint16_t inst, uint16_t res, const nb_record *recs,
                           size_t n, bool replace, nb_time_ms now) {
  nb_dev *d = nb_dev_of(o);
  if (!nb_store_object_has_instance(d->store, inst)) return NB_ERR_NOT_FOUND;
  bool live = res == 13 || ((res == 14 || res == 15) && (d->src.zone || d->src.set_zone));
  if (live && n == 0) return NB_ERR_UNSUPPORTED; /* left out of a Write-replace: it stays */
  if (live && n != 1) return NB_ERR_INVAL;
  if (res == 13) return nb_dev_write_time(d, &recs[0], now);
  if (live) return nb_dev_write_zone(d, inst, res, &recs[0], now);
  return d->store->ops->write(d->store, inst, res, recs, n, replace, now);
}

static nb_err nb_dev_execute(nb_object *o, uint16_t inst, uint16_t res, const uint8_t *args,
                             size_t len, nb_time_ms now) {
  nb_dev *d = nb_dev_of(o);
  if (res != 12) return d->store->ops->execute(d->store, inst, res, args, len, now);
  if (!nb_store_object_has_instance(d->store, inst)) return NB_ERR_NOT_FOUND;
  d->raised = 0; /* the conditions still present come back at the next read */
  nb_path p = nb_path_res(3, inst, 11);
  nb_client_value_changed(d->c, &p, now);
  return NB_OK;
}

static nb_err nb_dev_create(nb_object *o, uint16_t inst) {
  nb_object *s = nb_dev_of(o)->store;
  return s->ops->create(s, inst);
}

static nb_err nb_dev_remove(nb_object *o, uint16_t inst) {
  nb_object *s = nb_dev_of(o)->store;
  return s->ops->remove(s, inst);
}

static void nb_dev_destroy(nb_object *o) {
  nb_dev *d = nb_dev_of(o);
  nb_object_free(d->store);
  free(d);
}

static const nb_object_ops nb_dev_ops = {
    nb_dev_instances, nb_dev_resources, nb_dev_read,   nb_dev_write,
    nb_dev_execute,   nb_dev_create,    nb_dev_remove, nb_dev_destroy,
};

nb_err nb_client_set_device_source(nb_client *c, const nb_client_device_source *src) {
  if (!src) return NB_ERR_INVAL;
  for (size_t i = 0; i < c->nobjs; i++) {
    nb_object *o = c->objs[i];
    if (o->def->id != 3) continue;
    if (o->ops == &nb_dev_ops) return NB_ERR_EXISTS;
    nb_dev *d = calloc(1, sizeof *d);
    if (!d) return NB_ERR_NOMEM;
    d->obj.def = o->def;
    d->obj.ops = &nb_dev_ops;
    d->obj.user = o->user;
    d->store = o;
    d->c = c;
    d->src = *src;
    c->objs[i] = &d->obj;
    return NB_OK;
  }
  return NB_ERR_NOT_FOUND;
}

nb_err nb_client_device_error(nb_client *c, int code, bool present, nb_time_ms now) {
  if (code < 1 || code > NB_DEV_ERR_MAX) return NB_ERR_RANGE;
  nb_object *o = nb_client_object(c, 3);
  if (!o || o->ops != &nb_dev_ops) return NB_ERR_STATE;
  nb_dev *d = nb_dev_of(o);
  uint64_t before = d->raised;
  if (present)
    d->raised |= (uint64_t)1 << code;
  else
    d->raised &= ~((uint64_t)1 << code);
  if (d->raised != before) {
    nb_path p = nb_path_res(3, 0, 11);
    nb_client_value_changed(c, &p, now);
  }
  return NB_OK;
}
