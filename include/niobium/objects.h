/* Standard LwM2M objects the client engine provides ready-made: the Device object's live values
 * (3, from a source the application supplies), Connectivity Monitoring (4),
 * Firmware Update (5: push by Write of the package, pull by Package URI over CoAP/CoAPS with the
 * state machine and Update Result of the specification), Location (6) and Connectivity
 * Statistics (7, counting the datagrams the engine really sends and receives). */
#ifndef NIOBIUM_OBJECTS_H
#define NIOBIUM_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "niobium/client.h"

/* ---- Device (3): live values ----
 * Where the Device object's changing values come from: `niobium client` reads the Linux host
 * (nb_io_host_device_source), a device maker its own drivers. The library itself touches no
 * platform. Every callback is optional; one that is NULL or answers NB_ERR_NOT_FOUND leaves its
 * resources out of the object (never a made-up value). */
typedef struct {
  /* Battery Level (/3/0/9, percent 0..100) and Battery Status (/3/0/20, 0 normal, 1 charging,
   * 2 charge complete, 3 damaged, 4 low, 5 not installed, 6 unknown). */
  nb_err (*battery)(void *user, int *level_pct, int *status);
  /* Memory Free and Memory Total (/3/0/10, /3/0/21), in kilobytes of 1000 bytes. */
  nb_err (*memory)(void *user, int64_t *free_kb, int64_t *total_kb);
  /* Timezone (/3/0/15, IANA name, "Europe/Paris") into tz and the UTC offset in effect at Unix
   * time unix_s (/3/0/14, ISO 8601 "+01:00") into offset; both NUL-terminated. */
  nb_err (*zone)(void *user, int64_t unix_s, char *tz, size_t tz_cap, char *offset,
                 size_t offset_cap);
  /* A server wrote Timezone (tz, offset NULL) or UTC Offset (offset, tz NULL): apply it so that
   * zone() reports it from now on; NB_ERR_INVAL (4.00) when the platform does not know it.
   * NULL: the written value is kept as given. */
  nb_err (*set_zone)(void *user, const char *tz, const char *offset);
  /* Error Code 1 (low battery) while the battery level is below this; 0 means 10 (%). */
  int low_battery_pct;
  /* Error Code 5 (out of memory) while free memory is below this share of the total; 0 means
   * 5 (%). */
  int low_memory_pct;
  void *user;
} nb_client_device_source;

/* Makes the Device object (added first with nb_client_add_device) live, src copied:
 * - Battery Level/Status, Memory Free/Total, UTC Offset and Timezone read from src;
 * - Current Time (/3/0/13) from the engine's clock (nb_client_config.unix_offset_ms + now); a
 *   server's Write of it sets an offset the device keeps from then on; absent while the time
 *   is unknown (unix_offset_ms 0 and never written);
 * - Error Code (/3/0/11): one instance per error present, a single 0 when there is none: 1
 *   while the battery is low, 5 while memory is low (re-evaluated at every read), and those the
 *   application raises with nb_client_device_error;
 * - Reset Error Code (/3/0/12) clears the raised errors; the conditions still present are
 *   reported again at once (LwM2M Core, Device object: "re-evaluate all error conditions").
 * NB_ERR_NOT_FOUND without a Device object, NB_ERR_EXISTS when it is live already. Costs nothing
 * in a device that never calls it (its code is left out at link time). */
nb_err nb_client_set_device_source(nb_client *c, const nb_client_device_source *src);
/* Raises (present) or clears an error of the device's own (Error Code 1..32 of the Device
 * object: 2 external power off, 3 GPS failure, 4 low signal, 7 IP connectivity, 8 peripheral,
 * 16..32 device specific, ...); observers of /3/0/11 are told. NB_ERR_RANGE outside 1..32,
 * NB_ERR_STATE before nb_client_set_device_source. */
nb_err nb_client_device_error(nb_client *c, int code, bool present, nb_time_ms now);

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

/* Where a package goes while it arrives (the I/O shell's file, docs/firmware.md "Device"): the
 * engine writes every byte in order through these and never keeps the image in memory. write
 * appends (NB_ERR_NOMEM -> result 3, any other error -> result 2 not enough storage); finish
 * makes the complete package durable (fsync, atomic rename); discard forgets a partial or stored
 * one (also called on a reset and after a successful update). begin drops what was there. */
typedef struct {
  nb_err (*begin)(void *user);
  nb_err (*write)(void *user, const uint8_t *data, size_t len);
  nb_err (*finish)(void *user);
  void (*discard)(void *user);
  void *user;
} nb_client_fw_storage;

/* What was downloaded, handed to apply: the manifest's version and vendor/class (NULL for an
 * unsigned raw image), the image's bytes and where it starts in the stored package (after the
 * signed envelope; 0 for a raw image), and whether its signature was verified against the
 * trust anchor (false for a raw image, or a signed one accepted without a trust anchor). */
typedef struct {
  const char *version, *vendor;
  uint64_t image_offset, image_size;
  bool is_signed;
} nb_client_fw_image;

/* Installs the stored package (once per Execute Update, from the engine's tick right after the
 * state went Updating). NB_OK -> result 1 (success); NB_ERR_INVAL -> 5 (integrity check);
 * NB_ERR_UNSUPPORTED -> 6 (unsupported package type); anything else -> 8 (update failed). On
 * success the engine sets /3/0/3 Firmware Version to the manifest's version (when the device
 * object is a plain store object) and registers anew with every server, as after a reboot. */
typedef nb_err (*nb_client_fw_apply_fn)(void *user, const nb_client_fw_image *img, nb_time_ms now);
/* http:// and https:// Package URIs: the engine asks the application to fetch `uri` from byte
 * `from` on (a resumed download; 0 at first). The bytes come back through
 * nb_client_firmware_data, the end through nb_client_firmware_fetched. NB_OK when started. */
typedef nb_err (*nb_client_fw_fetch_fn)(void *user, const char *uri, uint64_t from, nb_time_ms now);
typedef void (*nb_client_fw_fetch_cancel_fn)(void *user); /* stop the fetch in progress, if any */

typedef struct {
  nb_client_fw_apply_fn apply;  /* required */
  nb_client_fw_storage storage; /* required: begin, write, finish and discard */
  void *user;                   /* for apply, fetch and fetch_cancel */
  uint64_t max_size; /* largest package accepted (0 = 16 MiB); beyond: result 2 (not enough
                        storage), known from Size1/Size2 before any byte is stored */
  const char *pkg_name, *pkg_version; /* reported in /5/0/6 and /5/0/7 until a signed package
                                         names its own (NULL absent), copied */
  nb_time_ms download_timeout;        /* a download that makes no progress for this long fails with
                                         result 4 (0 = 300 s) */
  /* Authenticity (docs/firmware.md, "Image format"): the public key (SubjectPublicKeyInfo or
   * certificate, PEM or DER; copied) a package's manifest must be signed with. Without one,
   * packages are refused with result 5 unless allow_unsigned, which also accepts raw images. */
  const uint8_t *trust;
  size_t trust_len;
  bool allow_unsigned;
  nb_client_fw_fetch_fn fetch; /* NULL: http(s) Package URIs end with result 9 */
  nb_client_fw_fetch_cancel_fn fetch_cancel;
} nb_client_firmware_config;
nb_err nb_client_add_firmware(nb_client *c, const nb_client_firmware_config *cfg);
/* The bytes of an http(s) fetch, in order from the offset asked for. An error means the engine
 * gave the download up (the fetch should stop). */
nb_err nb_client_firmware_data(nb_client *c, const uint8_t *data, size_t len, nb_time_ms now);
/* The fetch ended: err NB_OK with the HTTP status (200, or 206 for a resumed range), else the
 * transport error (the link was lost). */
void nb_client_firmware_fetched(nb_client *c, nb_err err, long status, nb_time_ms now);
nb_err nb_client_firmware_status(const nb_client *c, nb_fw_state *state, nb_fw_result *result);

#endif
