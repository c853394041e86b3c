/* Firmware Update (object 5) internals shared by firmware.c (object, state machine, storage,
 * Block1 push, install) and fw_pull.c (Package URI downloads: CoAP Block2, http(s) through the
 * application). One nb_fw per client, owned by object 5. */
#ifndef NB_CLIENT_FW_INT_H
#define NB_CLIENT_FW_INT_H

#include "client/client_int.h"
#include "client/fw_image.h"
#include "coap/block.h"

#define NB_FW_URI_MAX 256

typedef enum { NB_FW_SRC_NONE, NB_FW_SRC_PUSH, NB_FW_SRC_COAP, NB_FW_SRC_HTTP } nb_fw_source;

typedef struct nb_fw {
  nb_object obj;
  nb_client *c;
  nb_client_firmware_config cfg; /* trust points at the copy below */
  uint8_t *trust;
  char *name, *version; /* /5/0/6, /5/0/7 */
  nb_fw_state state;
  nb_fw_result result;
  char uri[NB_FW_URI_MAX];
  /* the download in progress (state Downloading) */
  nb_fw_source src;
  nb_fw_check check;
  uint64_t received;        /* bytes stored */
  nb_time_ms idle_deadline; /* no progress until then: result 4 */
  nb_addr push_peer;        /* push: the server sending Block1 */
  uint32_t push_next;       /* push: the block number expected next */
  nb_coap_req_id req;       /* CoAP pull: the block request in flight */
  nb_addr req_peer;         /* where req went: its answers are let in (engine.c) */
  uint8_t szx;              /* CoAP pull: block size exponent in use */
  uint8_t etag[8], etag_len;
  bool have_etag;
  unsigned retries, restarts;
  /* the downloaded package (state Downloaded / Updating) */
  nb_client_fw_image img;
  char img_version[NB_FW_TEXT_MAX], img_vendor[NB_FW_TEXT_MAX];
  bool install_due;
} nb_fw;

/* firmware.c */
void nb_fw_set(nb_fw *f, nb_fw_state st, nb_fw_result res, nb_time_ms now);
/* Starts a download from src: drops what was stored, state Downloading. False (result set) when
 * storage cannot begin. */
bool nb_fw_begin(nb_fw *f, nb_fw_source src, nb_time_ms now);
/* Stores and checks the next bytes; false when the download failed (state and result set). */
bool nb_fw_store(nb_fw *f, const uint8_t *data, size_t len, nb_time_ms now);
/* All bytes in: finish storage and verify; Downloaded, or Idle with result 5 or 6. */
void nb_fw_complete(nb_fw *f, nb_time_ms now);
/* Ends the download with result (state Idle), forgetting the partial package. */
void nb_fw_fail(nb_fw *f, nb_fw_result result, nb_time_ms now);
/* Whether a package of `size` bytes fits the configured limit (result 2 is set when not). */
bool nb_fw_fits(nb_fw *f, uint64_t size, nb_time_ms now);

/* fw_pull.c */
/* Starts the download of f->uri; a URI that cannot be used ends in Idle with its result. */
void nb_fw_pull(nb_fw *f, nb_time_ms now);
/* Stops a pull in progress without changing state. */
void nb_fw_pull_stop(nb_fw *f, nb_time_ms now);
/* The pull's link has been silent past its deadline: resume or give up. */
void nb_fw_pull_stalled(nb_fw *f, nb_time_ms now);

#endif
