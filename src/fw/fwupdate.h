/* Firmware updates driven by the server (docs/firmware.md, "Server" and "Campaigns"): the list
 * of stored images (their metadata; the bytes stay with the shell), campaigns that update a set
 * of devices through object 5 (push: Block1 Writes of /5/0/0 read block by block from the
 * image; pull: a Write of /5/0/1 with the URI of the server's own CoAP resource /fw/{id}, which
 * this engine serves by Block2 to registered devices), each device's progress through State
 * (/5/0/3) and Update Result (/5/0/5), the Execute of /5/0/2 once downloaded, retries and a
 * concurrency limit. A push to one device is a campaign of one.
 * Sans-I/O like the server engine it drives: image bytes come through a read callback, state
 * goes to the store's documents after every change (a campaign resumes after a restart, even a
 * kill -9), time comes from the caller (tick and next_deadline). Owns campaigns, their device
 * jobs and the image list. */
#ifndef NB_FWS_FWUPDATE_H
#define NB_FWS_FWUPDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rand.h"
#include "base/time.h"
#include "server/server.h"
#include "server/store.h"

typedef struct nb_fws nb_fws;

#define NB_FWS_SHA_HEX 65     /* SHA-256 in hex plus NUL: an image's id */
#define NB_FWS_URI_ID_LEN 16  /* hex digits of the digest in the /fw/{id} URI */
#define NB_FWS_CAMP_ID_MAX 17 /* 16 hex digits plus NUL */
#define NB_FWS_TEXT_MAX 64    /* version, vendor, firmware version filter */
#define NB_FWS_NAME_MAX 128

/* An image as the server keeps it. */
typedef struct {
  char sha256[NB_FWS_SHA_HEX];
  uint64_t size;
  char name[NB_FWS_NAME_MAX];    /* what the uploader called it (may be "") */
  char version[NB_FWS_TEXT_MAX]; /* from its signed manifest; "" when unknown */
  char vendor[NB_FWS_TEXT_MAX];  /* idem */
  int64_t uploaded_at;           /* Unix ms */
} nb_fws_image;

/* Up to len bytes of image sha256 from offset into buf; *n gets the count (short only at the
 * end). The shell reads its file (io/fwrepo.h); tests read memory. */
typedef nb_err (*nb_fws_read_fn)(void *user, const char *sha256, uint64_t offset, uint8_t *buf,
                                 size_t len, size_t *n);

typedef struct {
  nb_server_store store; /* doc_put/doc_del/doc_each required (NB_ERR_INVAL otherwise) */
  nb_fws_read_fn read;
  void *read_user;
  /* Where devices reach the server for a pull: "coap://host:port" or "coaps://host:port"
   * (copied); NULL: pull campaigns are refused (NB_ERR_UNSUPPORTED). */
  const char *uri_base;
  nb_time_ms step_timeout;  /* a device that shows no progress this long: the attempt fails;
                               600000 */
  nb_time_ms poll_interval; /* no notification this long while waiting: /5/0 is read; 30000 */
  nb_time_ms retry_delay;   /* before a failed attempt's retry; 30000 */
  int64_t clock_offset;     /* now + offset = Unix ms */
  nb_random_fn random;      /* campaign IDs; default nb_random_system */
  void *random_user;
} nb_fws_config;
void nb_fws_config_default(nb_fws_config *cfg);

/* A device's progress in a campaign (the names in docs/firmware.md). */
typedef enum {
  NB_FWS_DEV_QUEUED,
  NB_FWS_DEV_DOWNLOADING,
  NB_FWS_DEV_DOWNLOADED,
  NB_FWS_DEV_UPDATING,
  NB_FWS_DEV_UPDATED,
  NB_FWS_DEV_FAILED,
  NB_FWS_DEV_SKIPPED, /* its Firmware Version did not match the campaign's filter */
  NB_FWS_DEV_CANCELLED,
} nb_fws_dev_state;
const char *nb_fws_dev_state_name(nb_fws_dev_state s);

typedef enum {
  NB_FWS_CAMP_RUNNING,
  NB_FWS_CAMP_PAUSED, /* nothing new starts; what is under way finishes */
  NB_FWS_CAMP_CANCELLED,
  NB_FWS_CAMP_DONE, /* every device updated, failed or skipped */
} nb_fws_camp_state;
const char *nb_fws_camp_state_name(nb_fws_camp_state s);

#define NB_FWS_CONCURRENCY_DEFAULT 10
#define NB_FWS_CONCURRENCY_MAX 10000
#define NB_FWS_RETRIES_MAX 100
#define NB_FWS_TARGETS_MAX 100000

/* What POST /api/campaigns asks for (nb_fws_spec_parse). */
typedef struct {
  char image[NB_FWS_SHA_HEX]; /* the image's sha256 (hex) */
  bool pull;                  /* "method": "pull" (else "push") */
  char **endpoints;           /* "targets": {"endpoints": [...]} (owned); or the filter: */
  size_t nendpoints;
  char prefix[NB_SERVER_EP_MAX]; /* "targets": {"prefix": "...", */
  int object;                    /*  "object": 5 (-1: any), */
  bool has_version;              /*  "firmwareVersion": "1.0"} */
  char version[NB_FWS_TEXT_MAX];
  unsigned concurrency; /* 1..NB_FWS_CONCURRENCY_MAX; NB_FWS_CONCURRENCY_DEFAULT */
  unsigned retries;     /* attempts after the first, 0..NB_FWS_RETRIES_MAX; 2 */
} nb_fws_spec;
/* Parses the JSON body of POST /api/campaigns into out (deinit it after, whatever the result).
 * NB_ERR_INVAL with a reason in err for anything not as docs/openapi.yaml says: unknown keys,
 * wrong types, an endpoint name registration would refuse, both or neither target forms. */
nb_err nb_fws_spec_parse(const char *json, size_t len, nb_fws_spec *out, char *err, size_t cap);
void nb_fws_spec_deinit(nb_fws_spec *s);

/* Events for the live feed: a campaign's or a device's state changed. */
typedef struct {
  const char *campaign; /* its id */
  const char *ep;       /* NULL for a campaign event */
  const char *state;    /* nb_fws_camp_state_name or nb_fws_dev_state_name */
  int update_result;    /* the device's /5/0/5, -1 unknown */
  const char *error;    /* why it failed, "" */
  nb_time_ms now;
} nb_fws_event;
typedef void (*nb_fws_listener_fn)(void *user, const nb_fws_event *ev);

/* Listens to srv (which must outlive the engine) and registers the /fw CoAP resource on it. */
nb_err nb_fws_new(const nb_fws_config *cfg, nb_server *srv, nb_fws **out);
void nb_fws_free(nb_fws *f); /* requests still under way are cancelled; nothing is stored */
void nb_fws_set_listener(nb_fws *f, nb_fws_listener_fn fn, void *user);
/* Loads images and campaigns from the store; campaigns that were running go on (a device in
 * the middle of a download starts it again, one that was updating is asked for its result). */
nb_err nb_fws_restore(nb_fws *f, nb_time_ms now);
void nb_fws_tick(nb_fws *f, nb_time_ms now);
nb_time_ms nb_fws_next_deadline(const nb_fws *f);

/* ---- images ---- */

/* Adds (or replaces) an image whose bytes the reader now serves; stored. */
nb_err nb_fws_image_add(nb_fws *f, const nb_fws_image *img);
/* NULL when unknown. */
const nb_fws_image *nb_fws_image_find(const nb_fws *f, const char *sha256);
size_t nb_fws_image_count(const nb_fws *f);
const nb_fws_image *nb_fws_image_at(const nb_fws *f, size_t i); /* in upload order */
/* NB_ERR_BUSY while a running or paused campaign uses it, NB_ERR_NOT_FOUND. */
nb_err nb_fws_image_remove(nb_fws *f, const char *sha256);
json_t *nb_fws_image_json(const nb_fws_image *img);
/* The image's version and vendor from its signed manifest (a COSE_Sign1, tag 18, over the CBOR
 * map {1: version, 2: size, 3: sha-256, 4: vendor}, read by the device's own decoder,
 * nb_fw_manifest_peek) when head, the first bytes of the file, starts with one and they are
 * printable ASCII; "" otherwise. Not a verification: the device verifies. */
void nb_fws_manifest_sniff(const uint8_t *head, size_t len, char *version, char *vendor);

/* ---- campaigns ---- */

/* Starts a campaign: the targets are resolved now (the endpoint list as given; the filter over
 * the current registrations). NB_ERR_NOT_FOUND: no such image; NB_ERR_UNSUPPORTED: pull without
 * uri_base; NB_ERR_RANGE: no target matches. id gets the new campaign's id. */
nb_err nb_fws_campaign_start(nb_fws *f, const nb_fws_spec *spec, nb_time_ms now,
                             char id[NB_FWS_CAMP_ID_MAX]);
/* pause / resume / cancel: NB_ERR_NOT_FOUND, NB_ERR_STATE when the campaign is over (or not
 * paused, for resume). Cancel ends what is under way (the devices keep what they got). */
nb_err nb_fws_campaign_pause(nb_fws *f, const char *id, nb_time_ms now);
nb_err nb_fws_campaign_resume(nb_fws *f, const char *id, nb_time_ms now);
nb_err nb_fws_campaign_cancel(nb_fws *f, const char *id, nb_time_ms now);
/* NB_ERR_STATE while it runs or is paused (cancel it first). */
nb_err nb_fws_campaign_delete(nb_fws *f, const char *id);
/* The campaign as the API shows it, with its devices when asked; NULL when unknown. */
json_t *nb_fws_campaign_json(const nb_fws *f, const char *id, bool devices);
/* Visits every campaign's id, newest first. */
void nb_fws_campaign_each(const nb_fws *f, void (*fn)(void *user, const char *id), void *user);
/* Counts of a campaign's devices by state (index nb_fws_dev_state); false when unknown. */
bool nb_fws_campaign_counts(const nb_fws *f, const char *id, size_t counts[8],
                            nb_fws_camp_state *state);

#endif
