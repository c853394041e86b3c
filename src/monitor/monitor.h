/* Passive LwM2M security monitor engine (sans-I/O): fed captured frames (timestamp, link type,
 * bytes), it decodes CoAP and LwM2M with the project's codecs, reads DTLS metadata, matches
 * requests with responses, tracks devices and observations, applies the alert rules and hands
 * every event to a callback. It never sends anything and never reads a clock. Owns its tables. */
#ifndef NB_MONITOR_MONITOR_H
#define NB_MONITOR_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "lwm2m/model.h"
#include "lwm2m/value.h"
#include "monitor/baseline.h"
#include "monitor/dtlsdec.h"
#include "monitor/rules.h"

typedef enum {
  NB_MON_EV_MESSAGE,   /* one CoAP message, with its LwM2M meaning */
  NB_MON_EV_MALFORMED, /* a datagram or frame that does not decode */
  NB_MON_EV_FRAGMENT,  /* an IP fragment (not reassembled) */
  NB_MON_EV_DTLS,      /* one DTLS record's metadata */
  NB_MON_EV_STATE,     /* a device changed state */
  NB_MON_EV_ALERT,     /* a rule fired */
  NB_MON_EV_SUMMARY    /* periodic counters */
} nb_mon_event_kind;

typedef enum {
  NB_MON_DEV_UNKNOWN,
  NB_MON_DEV_BOOTSTRAPPING,
  NB_MON_DEV_BOOTSTRAPPED,
  NB_MON_DEV_REGISTERED,
  NB_MON_DEV_EXPIRED,
  NB_MON_DEV_DEREGISTERED
} nb_mon_dev_state;

#define NB_MON_EP_MAX 128
#define NB_MON_URI_MAX 160
#define NB_MON_EVIDENCE_MAX 8
#define NB_MON_ID_MAX 168 /* "psk:<identity>", "rpk:<secure ID>", "x509:<subject>" */

typedef struct {
  uint64_t packets, coap, dtls, fragments, malformed, other, alerts, devices, registered;
} nb_mon_stats;

/* Everything an event says. Strings point to static text or into the event; `values` is
 * borrowed for the callback's duration. Secret values are already redacted. */
typedef struct {
  nb_mon_event_kind kind;
  uint64_t packet; /* capture frame number, 1-based */
  int64_t ts_us;
  nb_addr src, dst;
  const char *transport; /* "coap", "coaps" */
  /* CoAP */
  uint8_t type, code;
  uint16_t mid;
  uint8_t token[8];
  uint8_t token_len;
  int content_format; /* -1 when absent */
  size_t payload_len;
  char uri[NB_MON_URI_MAX]; /* Uri-Path of a request (or its request's, for a response) */
  const char *iface; /* "bootstrap", "registration", "dm", "reporting"; NULL when not LwM2M */
  const char *op;    /* "Register", "Read", "Notify"...; the method ("GET", "POST"...) of CoAP
                        outside LwM2M paths; NULL for a response matching nothing */
  bool is_response;
  bool retransmission;
  int64_t latency_us;      /* response after request; -1 when not a matched response */
  uint64_t request_packet; /* frame of the matched request, 0 when none */
  char endpoint[NB_MON_EP_MAX];
  char identity[NB_MON_ID_MAX]; /* DTLS identity of the flow (Register/Bootstrap-Request) or of
                                   the device the event concerns; "" when none is known */
  char location[NB_MON_URI_MAX];
  int64_t lifetime; /* -1 when not given */
  char version[16], binding[16];
  char objects[NB_MON_URI_MAX]; /* object list of Register/Update: "</1/0>,</3/0>" abridged */
  const nb_records *values;     /* decoded payload, NULL when none */
  const char *decode_error;     /* why the payload did not decode, NULL when fine */
  const char *nonconformance;   /* how a payload decoded leniently breaks its format, or NULL */
  char query_error[96];         /* an invalid Uri-Query value (lt=abc), "" when none */
  /* malformed / fragment; summary: why the capture ended early (NULL: it did not) */
  const char *error;
  uint32_t frag_id, frag_offset;
  bool frag_more;
  /* DTLS */
  uint8_t dtls_content_type;
  uint16_t dtls_version, dtls_epoch;
  uint64_t dtls_seq;
  size_t dtls_len;
  int dtls_handshake;    /* handshake type, -1 none/encrypted */
  char dtls_detail[256]; /* suites offered/chosen, PSK identity, alert, cookie */
  /* state */
  nb_mon_dev_state state;
  /* alert */
  nb_rule_id rule;
  const char *severity;
  char message[256];
  uint64_t evidence[NB_MON_EVIDENCE_MAX];
  size_t evidence_count;
  uint64_t count;                     /* aggregated alert: occurrences (0: a single alert) */
  uint64_t first_packet, last_packet; /* aggregated alert: its first and last occurrence */
  /* summary */
  nb_mon_stats stats;
} nb_mon_event;

typedef void (*nb_mon_event_fn)(const nb_mon_event *ev, void *user);

typedef struct {
  const nb_mon_rules *rules;        /* NULL: defaults */
  const nb_model *model;            /* names and types for payloads; NULL: built-in */
  uint16_t coap_ports[8];           /* plain CoAP; zeros: 5683, 5783 */
  uint16_t dtls_ports[8];           /* DTLS; zeros: 5684, 5784 */
  uint16_t bootstrap_ports[4];      /* ports of bootstrap servers; zeros: 5783, 5784 */
  uint32_t summary_interval_s;      /* 0: no summaries */
  bool no_messages;                 /* only alerts/state/summaries reach the callback */
  nb_mon_baseline *learn;           /* learning: every message is counted into this profile */
  const nb_mon_baseline *reference; /* detection: the `baseline` rule compares with this */
  const nb_mon_psks *psks;          /* known PSKs: plain-PSK DTLS 1.2 sessions are decrypted */
  /* Called when a session's PSK identity is not in psks, at most once per second of capture
   * time: may add keys to the table psks points to (re-reading a database that changed) and
   * returns true when it did, then the engine looks again. NULL: the keys are fixed. */
  bool (*psks_refresh)(void *user);
  void *psks_refresh_user;
} nb_mon_config;

typedef struct nb_monitor nb_monitor;

/* NULL when out of memory. The config and what it points to must outlive the monitor. */
nb_monitor *nb_monitor_new(const nb_mon_config *cfg, nb_mon_event_fn fn, void *user);
void nb_monitor_free(nb_monitor *m);
/* One captured frame. NB_ERR_UNSUPPORTED for an unknown link type (the frame is counted as
 * malformed); everything else, however broken, is NB_OK and becomes events. */
nb_err nb_monitor_feed(nb_monitor *m, int64_t ts_us, int linktype, const uint8_t *frame,
                       size_t len);
/* One UDP datagram already taken out of its frame (for tests and decrypted payloads). */
void nb_monitor_feed_udp(nb_monitor *m, int64_t ts_us, const nb_addr *src, const nb_addr *dst,
                         const uint8_t *data, size_t len);
/* End of capture: expires registrations up to ts_us, closes pending aggregated alerts and emits
 * a last summary. */
void nb_monitor_finish(nb_monitor *m, int64_t ts_us);
/* The same when the capture ended early: the summary carries `why` (may be NULL) as its
 * error (a file cut short, a read error). */
void nb_monitor_finish_error(nb_monitor *m, int64_t ts_us, const char *why);
const nb_mon_stats *nb_monitor_stats(const nb_monitor *m);
/* State of an endpoint's device, NB_MON_DEV_UNKNOWN when never seen. */
nb_mon_dev_state nb_monitor_device_state(const nb_monitor *m, const char *endpoint);
/* DTLS identity the endpoint last registered with ("psk:...", "rpk:...", "x509:..."); "" when
 * it registered over NoSec or its session's identity was not seen, NULL when never seen. */
const char *nb_monitor_device_identity(const nb_monitor *m, const char *endpoint);

const char *nb_mon_event_kind_name(nb_mon_event_kind k);
const char *nb_mon_dev_state_name(nb_mon_dev_state s);

#endif
