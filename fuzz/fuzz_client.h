/* Shared by the client fuzz targets (header-only; each target includes it once): a client
 * engine made the same way for every input, with deterministic randomness (tokens, MIDs), log
 * lines formatted but dropped, the datagrams it sends kept for the target to look at, and the
 * standard objects (device, connectivity, location, statistics, firmware, a temperature). */
#ifndef NB_FUZZ_CLIENT_H
#define NB_FUZZ_CLIENT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "niobium/client.h"
#include "niobium/object.h"
#include "niobium/objects.h"

#define NB_FUZZ_SENT_MAX 64

typedef struct {
  nb_client *c;
  uint64_t rng;
  size_t nsent; /* datagrams sent since the target last cleared them */
  nb_addr sent_to[NB_FUZZ_SENT_MAX];
  uint8_t sent[NB_FUZZ_SENT_MAX][1500];
  size_t sent_len[NB_FUZZ_SENT_MAX];
} nb_fuzz_client;

static nb_err nb_fuzz_client_random(void *user, void *buf, size_t len) {
  uint64_t *s = user;
  for (size_t i = 0; i < len; i++) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    ((uint8_t *)buf)[i] = (uint8_t)*s;
  }
  return NB_OK;
}

static void nb_fuzz_client_send(void *user, const nb_addr *peer, const uint8_t *d, size_t len) {
  nb_fuzz_client *f = user;
  if (f->nsent == NB_FUZZ_SENT_MAX) return;
  size_t n = len < sizeof f->sent[0] ? len : sizeof f->sent[0];
  f->sent_to[f->nsent] = *peer;
  memcpy(f->sent[f->nsent], d, n);
  f->sent_len[f->nsent++] = n;
}

static void nb_fuzz_log_sink(nb_log_level level, const char *line, void *user) {
  (void)level, (void)line, (void)user;
}

/* The package store of the fuzzed device: only its size is kept (the engine streams every byte
 * through it), bounded like a small flash partition. */
static size_t nb_fuzz_fw_stored;
static nb_err nb_fuzz_fw_begin(void *user) {
  (void)user;
  nb_fuzz_fw_stored = 0;
  return NB_OK;
}
static nb_err nb_fuzz_fw_write(void *user, const uint8_t *d, size_t len) {
  (void)user, (void)d;
  if (nb_fuzz_fw_stored + len > 4096) return NB_ERR_IO; /* full: result 2 */
  nb_fuzz_fw_stored += len;
  return NB_OK;
}
static nb_err nb_fuzz_fw_finish(void *user) {
  (void)user;
  return NB_OK;
}
static void nb_fuzz_fw_discard(void *user) {
  (void)user;
  nb_fuzz_fw_stored = 0;
}

static nb_err nb_fuzz_fw_apply(void *user, const nb_client_fw_image *img, nb_time_ms now) {
  (void)user, (void)now;
  return img->image_size % 2 ? NB_ERR_INVAL : NB_OK;
}

/* A temperature sensor 3303/0 whose value the target may change. */
static nb_err nb_fuzz_client_temperature(nb_client *c, double v) {
  nb_object *o = nb_store_object_new(nb_model_object(nb_client_model(c), 3303), NULL);
  if (!o) return NB_ERR_NOMEM;
  nb_path p = nb_path_res(3303, 0, 5700);
  nb_value val = nb_value_float(v);
  nb_err e = nb_store_object_add_instance(o, 0);
  if (e == NB_OK) e = nb_store_object_set(o, &p, &val);
  if (e != NB_OK) {
    nb_object_free(o);
    return e;
  }
  return nb_client_add_object(c, o, 0);
}

/* objects: also 4-7 and 3303 (the device object 3 is always there). */
static void nb_fuzz_client_init(nb_fuzz_client *f, bool objects) {
  memset(f, 0, sizeof *f);
  f->rng = 0x9e3779b97f4a7c15ull;
  nb_log_set_sink(nb_fuzz_log_sink, NULL);
  nb_log_set_level(NB_LOG_INFO);
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = "fuzz-dev";
  cfg.send = nb_fuzz_client_send;
  cfg.send_user = f;
  cfg.random = nb_fuzz_client_random;
  cfg.random_user = &f->rng;
  if (nb_client_new(&cfg, &f->c) != NB_OK) abort();
  nb_client_device_info d = {.manufacturer = "ACME",
                             .model = "N1",
                             .serial = "42",
                             .firmware_version = "1.0.0",
                             .battery_level = 80,
                             .memory_free_kb = 100,
                             .memory_total_kb = 512,
                             .utc_offset = "+01:00",
                             .timezone = "Europe/Paris",
                             .bindings = "UQ"};
  if (nb_client_add_device(f->c, &d) != NB_OK) abort();
  if (!objects) return;
  nb_client_conn_info ci = {41, -70, 90, "192.0.2.10", "192.0.2.254", "apn", 1234};
  nb_client_location loc = {48.85, 2.35, 35.0, 10.0, 1.5, 1700000000};
  nb_client_firmware_config fw = {
      .apply = nb_fuzz_fw_apply,
      .storage = {nb_fuzz_fw_begin, nb_fuzz_fw_write, nb_fuzz_fw_finish, nb_fuzz_fw_discard, NULL},
      .allow_unsigned = true,
      .max_size = 4096,
      .pkg_name = "fw",
      .pkg_version = "2.0",
      .download_timeout = 60000};
  if (nb_client_add_conn_monitoring(f->c, &ci) != NB_OK || nb_client_add_location(f->c, &loc) ||
      nb_client_add_conn_stats(f->c) || nb_client_add_firmware(f->c, &fw) ||
      nb_fuzz_client_temperature(f->c, 20.5))
    abort();
}

/* The accounts (objects 0-2) as the state file has them. */
static inline void nb_fuzz_client_state(nb_fuzz_client *f, nb_bytes *out) {
  nb_bytes_init(out);
  if (nb_client_save_state(f->c, out) != NB_OK) abort();
}

static inline int nb_fuzz_same_bytes(const nb_bytes *a, const nb_bytes *b) {
  return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

#endif
