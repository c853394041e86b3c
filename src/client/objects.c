/* Ready-made standard objects on the store object: Connectivity Monitoring (4), Location (6)
 * and Connectivity Statistics (7, fed by the engine's transport through nb_obj_count). */
#include <string.h>

#include "client/client_int.h"

static nb_err nb_obj_set(nb_object *o, uint16_t r, nb_value v) {
  nb_path p = nb_path_res(o->def->id, 0, r);
  nb_err e = nb_store_object_set(o, &p, &v);
  nb_value_deinit(&v);
  return e;
}

static nb_err nb_obj_set_str(nb_object *o, uint16_t r, int ri, const char *s) {
  if (!s) return NB_OK;
  nb_value v = nb_value_none();
  nb_err e = nb_value_set_string(&v, s, strlen(s));
  nb_path p =
      ri < 0 ? nb_path_res(o->def->id, 0, r) : nb_path_rinst(o->def->id, 0, r, (uint16_t)ri);
  if (e == NB_OK) e = nb_store_object_set(o, &p, &v);
  nb_value_deinit(&v);
  return e;
}

/* A store object of id with instance 0, or NULL (out of memory / unknown definition). */
static nb_object *nb_obj_new(nb_client *c, uint16_t id, const nb_store_hooks *h) {
  const nb_object_def *def = nb_model_object(c->model, id);
  nb_object *o = def ? nb_store_object_new(def, h) : NULL;
  if (o && nb_store_object_add_instance(o, 0) != NB_OK) {
    nb_object_free(o);
    o = NULL;
  }
  return o;
}

static nb_err nb_obj_add(nb_client *c, nb_object *o, nb_err e) {
  if (e != NB_OK) {
    nb_object_free(o);
    return e;
  }
  return nb_client_add_object(c, o, c->now);
}

/* ---- 4 Connectivity Monitoring ---- */

/* Signal strength and link quality drift slowly around the configured values (a 70 s cycle),
 * as a real radio's would; everything else is as configured. */
static nb_err nb_conn_read(void *user, const nb_path *res, nb_value *out, nb_time_ms now) {
  nb_object *o = nb_client_object(user, 4);
  int64_t step = (int64_t)((now / 10000) % 7) - 3;
  if (!o || (res->ids[2] != 2 && res->ids[2] != 3)) return NB_ERR_NOT_FOUND;
  const nb_value *base = nb_store_object_get(o, res);
  if (!base || base->type != NB_VT_INT) return NB_ERR_NOT_FOUND;
  *out = nb_value_int(base->v.i + (res->ids[2] == 2 ? step : -step));
  return NB_OK;
}

nb_err nb_client_add_conn_monitoring(nb_client *c, const nb_client_conn_info *info) {
  nb_store_hooks h = {.read = nb_conn_read, .user = c};
  nb_object *o = nb_obj_new(c, 4, &h);
  if (!o) return NB_ERR_NOMEM;
  nb_err e = nb_obj_set(o, 0, nb_value_int(info->bearer));
  nb_path ab = nb_path_rinst(4, 0, 1, 0);
  nb_value b = nb_value_int(info->bearer);
  if (e == NB_OK) e = nb_store_object_set(o, &ab, &b);
  if (e == NB_OK) e = nb_obj_set(o, 2, nb_value_int(info->rssi_dbm));
  if (e == NB_OK && info->link_quality >= 0) e = nb_obj_set(o, 3, nb_value_int(info->link_quality));
  if (e == NB_OK) e = nb_obj_set_str(o, 4, 0, info->ip ? info->ip : "0.0.0.0");
  if (e == NB_OK) e = nb_obj_set_str(o, 5, 0, info->router);
  if (e == NB_OK) e = nb_obj_set_str(o, 7, 0, info->apn);
  if (e == NB_OK && info->cell_id >= 0) e = nb_obj_set(o, 8, nb_value_int(info->cell_id));
  return nb_obj_add(c, o, e);
}

/* ---- 6 Location ---- */

static nb_err nb_loc_store(nb_object *o, const nb_client_location *l) {
  nb_err e = nb_obj_set(o, 0, nb_value_float(l->latitude));
  if (e == NB_OK) e = nb_obj_set(o, 1, nb_value_float(l->longitude));
  if (e == NB_OK) e = nb_obj_set(o, 2, nb_value_float(l->altitude));
  if (e == NB_OK && l->radius >= 0) e = nb_obj_set(o, 3, nb_value_float(l->radius));
  if (e == NB_OK) e = nb_obj_set(o, 5, nb_value_time(l->timestamp));
  if (e == NB_OK && l->speed >= 0) e = nb_obj_set(o, 6, nb_value_float(l->speed));
  return e;
}

nb_err nb_client_add_location(nb_client *c, const nb_client_location *loc) {
  if (!loc || loc->latitude < -90 || loc->latitude > 90 || loc->longitude < -180 ||
      loc->longitude > 180)
    return NB_ERR_INVAL;
  nb_object *o = nb_obj_new(c, 6, NULL);
  if (!o) return NB_ERR_NOMEM;
  return nb_obj_add(c, o, nb_loc_store(o, loc));
}

nb_err nb_client_set_location(nb_client *c, const nb_client_location *loc, nb_time_ms now) {
  nb_object *o = nb_client_object(c, 6);
  if (!o) return NB_ERR_NOT_FOUND;
  if (!loc || loc->latitude < -90 || loc->latitude > 90 || loc->longitude < -180 ||
      loc->longitude > 180)
    return NB_ERR_INVAL;
  nb_err e = nb_loc_store(o, loc);
  nb_path p = nb_path_inst(6, 0);
  if (e == NB_OK) nb_client_value_changed(c, &p, now);
  return e;
}

/* ---- 7 Connectivity Statistics ---- */

/* Stops collecting once the Collection Period since Start is over. */
static void nb_stats_expire(nb_client *c, nb_time_ms now) {
  if (c->stats.collecting && c->stats_period_s > 0 &&
      now - c->stats_since >= c->stats_period_s * 1000)
    c->stats.collecting = false;
}

void nb_obj_count(nb_client *c, bool tx, size_t len) {
  nb_stats_expire(c, c->now);
  if (!c->stats.collecting) return;
  if (tx) {
    c->stats.tx_datagrams++;
    c->stats.tx_bytes += len;
  } else {
    c->stats.rx_datagrams++;
    c->stats.rx_bytes += len;
  }
  if (len > c->stats.max_message) c->stats.max_message = len;
}

void nb_client_get_stats(const nb_client *c, nb_client_stats *out) { *out = c->stats; }

static int64_t nb_kb_up(uint64_t bytes) { return (int64_t)((bytes + 1023) / 1024); }

static nb_err nb_stats_read(void *user, const nb_path *res, nb_value *out, nb_time_ms now) {
  nb_client *c = user;
  nb_stats_expire(c, now);
  const nb_client_stats *s = &c->stats;
  uint64_t n = s->tx_datagrams + s->rx_datagrams;
  switch (res->ids[2]) {
    case 2:
      *out = nb_value_int(nb_kb_up(s->tx_bytes));
      return NB_OK;
    case 3:
      *out = nb_value_int(nb_kb_up(s->rx_bytes));
      return NB_OK;
    case 4:
      *out = nb_value_int((int64_t)s->max_message);
      return NB_OK;
    case 5:
      *out = nb_value_int(n ? (int64_t)((s->tx_bytes + s->rx_bytes) / n) : 0);
      return NB_OK;
    default:
      return NB_ERR_NOT_FOUND;
  }
}

static nb_err nb_stats_write(void *user, const nb_path *res, const nb_record *recs, size_t n,
                             nb_time_ms now) {
  nb_client *c = user;
  (void)now;
  if (res->ids[2] != 8 || n != 1 || recs[0].value.type != NB_VT_INT) return NB_OK;
  if (recs[0].value.v.i < 0) return NB_ERR_INVAL;
  c->stats_period_s = recs[0].value.v.i;
  return NB_OK;
}

static nb_err nb_stats_execute(void *user, const nb_path *res, const uint8_t *args, size_t len,
                               nb_time_ms now) {
  nb_client *c = user;
  (void)args;
  (void)len;
  if (res->ids[2] == 6) {
    memset(&c->stats, 0, sizeof c->stats);
    c->stats.collecting = true;
    c->stats_since = now;
    return NB_OK;
  }
  if (res->ids[2] == 7) {
    c->stats.collecting = false;
    return NB_OK;
  }
  return NB_ERR_UNSUPPORTED;
}

nb_err nb_client_add_conn_stats(nb_client *c) {
  nb_store_hooks h = {
      .read = nb_stats_read, .write = nb_stats_write, .execute = nb_stats_execute, .user = c};
  nb_object *o = nb_obj_new(c, 7, &h);
  if (!o) return NB_ERR_NOMEM;
  nb_err e = NB_OK;
  for (uint16_t r = 2; e == NB_OK && r <= 5; r++) e = nb_obj_set(o, r, nb_value_int(0));
  if (e == NB_OK) e = nb_obj_set(o, 8, nb_value_int(0));
  if (e == NB_OK) {
    memset(&c->stats, 0, sizeof c->stats);
    c->stats.collecting = true;
    c->stats_since = c->now;
    c->stats_period_s = 0;
  }
  return nb_obj_add(c, o, e);
}
