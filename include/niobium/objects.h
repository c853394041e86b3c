/* Standard LwM2M objects the client engine provides ready-made: Connectivity Monitoring (4),
 * Firmware Update (5: push by Write of the package, pull by Package URI over CoAP/CoAPS with the
 * state machine and Update Result of the specification), Location (6) and Connectivity
 * Statistics (7, counting the datagrams the engine really sends and receives). */
#ifndef NIOBIUM_OBJECTS_H
#define NIOBIUM_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "niobium/client.h"

/* ---- Connectivity Monitoring (4), single instance ---- */
typedef struct {
  int bearer;         /* Network Bearer (0..50, e.g. 41 Ethernet, 6 LTE-FDD) */
  int rssi_dbm;       /* Radio Signal Strength around which reads vary (+-3 dB over time) */
  int link_quality;   /* -1 absent */
  const char *ip;     /* IP address (NULL absent) */
  const char *router; /* router IP address (NULL absent) */
  const char *apn;    /* NULL absent */
  int64_t cell_id;    /* -1 absent */
} nb_client_conn_info;
nb_err nb_client_add_conn_monitoring(nb_client *c, const nb_client_conn_info *info);

/* ---- Location (6), single instance ---- */
typedef struct {
  double latitude, longitude; /* degrees */
  double altitude;            /* metres */
  double radius;              /* accuracy, metres; < 0 absent */
  double speed;               /* m/s; < 0 absent */
  int64_t timestamp;          /* Unix seconds of the fix */
} nb_client_location;
nb_err nb_client_add_location(nb_client *c, const nb_client_location *loc);
/* A new fix: stores it and tells observers of /6/0. */
nb_err nb_client_set_location(nb_client *c, const nb_client_location *loc, nb_time_ms now);

/* ---- Connectivity Statistics (7), single instance ----
 * Tx/Rx Data (kB, rounded up) and Max/Average Message Size (bytes, both directions) count every
 * datagram the engine hands to or gets from the network (DTLS records included) while collecting.
 * Collection runs from the moment the object is added; Execute Start (/7/0/6) resets the counters
 * and collects, Stop (/7/0/7) stops; a Collection Period (/7/0/8, s, 0 = unlimited) stops
 * collecting that long after Start. */
nb_err nb_client_add_conn_stats(nb_client *c);
typedef struct {
  uint64_t tx_datagrams, rx_datagrams, tx_bytes, rx_bytes;
  size_t max_message;
  bool collecting;
} nb_client_stats;
void nb_client_get_stats(const nb_client *c, nb_client_stats *out);

/* ---- Firmware Update (5), single instance ---- */
typedef enum {
  NB_FW_STATE_IDLE = 0,
  NB_FW_STATE_DOWNLOADING = 1,
  NB_FW_STATE_DOWNLOADED = 2,
  NB_FW_STATE_UPDATING = 3
} nb_fw_state;
typedef enum {
  NB_FW_RESULT_INITIAL = 0,
  NB_FW_RESULT_SUCCESS = 1,
  NB_FW_RESULT_NO_STORAGE = 2,
  NB_FW_RESULT_NO_MEMORY = 3,
  NB_FW_RESULT_CONNECTION_LOST = 4,
  NB_FW_RESULT_INTEGRITY = 5,
  NB_FW_RESULT_UNSUPPORTED_TYPE = 6,
  NB_FW_RESULT_INVALID_URI = 7,
  NB_FW_RESULT_FAILED = 8,
  NB_FW_RESULT_UNSUPPORTED_PROTOCOL = 9
} nb_fw_result;

/* Installs a downloaded package (run once per Execute Update, from the engine's tick right after
 * the state went Updating). NB_OK -> result 1 (success); NB_ERR_INVAL -> 5 (integrity check);
 * NB_ERR_UNSUPPORTED -> 6 (unsupported package type); anything else -> 8 (update failed). */
typedef nb_err (*nb_client_fw_apply_fn)(void *user, const uint8_t *pkg, size_t len, nb_time_ms now);
typedef struct {
  nb_client_fw_apply_fn apply; /* required */
  void *user;
  size_t max_size;                    /* largest package accepted (0 = 1 MiB); beyond: result 2 */
  const char *pkg_name, *pkg_version; /* reported in /5/0/6 and /5/0/7 (NULL absent), copied */
  nb_time_ms download_timeout;        /* a pull not complete after this long fails with result
                                         4 (0 = 300 s); CoAP retransmission gives up earlier */
} nb_client_firmware_config;
nb_err nb_client_add_firmware(nb_client *c, const nb_client_firmware_config *cfg);
/* Current state and result (NB_ERR_NOT_FOUND without a firmware object). */
nb_err nb_client_firmware_status(const nb_client *c, nb_fw_state *state, nb_fw_result *result);

#endif
