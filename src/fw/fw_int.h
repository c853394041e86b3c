/* Internals of the firmware service shared by its files (not an API): campaign and device-job
 * records, the engine's state, and what fwupdate.c (engine, images, store), fwjob.c (one
 * device's update through object 5) and fwserve.c (the /fw CoAP resource) call in each other. */
#ifndef NB_FWS_FW_INT_H
#define NB_FWS_FW_INT_H

#include "fw/fwupdate.h"

#define NB_FWS_LOG "fw"

/* Where a device's job is (its public state says less). */
typedef enum {
  P_IDLE,        /* queued, or over */
  P_CHECK,       /* reading /3/0/3 for the campaign's firmwareVersion filter */
  P_PUSH,        /* Block1 Writes of /5/0/0 */
  P_URI,         /* Write of /5/0/1 */
  P_WAIT_DL,     /* waiting for State 2 (Downloaded) */
  P_EXECUTE,     /* Execute of /5/0/2 */
  P_WAIT_RESULT, /* updating: waiting for Update Result (or the device's return) */
  P_VERIFY,      /* reading /5/0 after the device came back (or after a restart) */
} nb_fws_phase;

typedef struct fw_camp fw_camp;

typedef struct fw_dev {
  fw_camp *c;
  struct fw_dev *anext, *aprev; /* the engine's list of active jobs */
  char ep[NB_SERVER_EP_MAX];
  nb_fws_dev_state state;
  nb_fws_phase phase;
  bool active;         /* holds one of the campaign's concurrency slots */
  bool verify_pending; /* restored while updating: ask for its result first */
  bool executed;
  bool checked; /* the firmwareVersion filter passed */
  unsigned attempts;
  int result; /* /5/0/5 as last seen; -1 unknown */
  char error[96];
  char version[NB_FWS_TEXT_MAX]; /* /3/0/3 as last read */
  uint64_t offset;               /* push: bytes the device acknowledged */
  uint8_t szx;                   /* push: block size exponent in use */
  unsigned restarts;             /* push: uploads started over in this attempt */
  uint64_t req, poll;            /* requests in flight (0: none) */
  uint64_t obs[2];               /* observations of /5/0/3 and /5/0/5 (0: none) */
  nb_time_ms deadline;           /* next poll or timeout check */
  nb_time_ms progress_at;        /* last sign of progress */
  nb_time_ms retry_at;
  /* What the server reported in an event, acted on in the next tick: a listener must not
   * cancel the observation that is notifying. -1: nothing. */
  int pend_state, pend_result;
  bool pend_reg; /* registered again */
} fw_dev;

struct fw_camp {
  fw_camp *next;
  nb_fws *f;
  char id[NB_FWS_CAMP_ID_MAX];
  char image[NB_FWS_SHA_HEX];
  uint64_t image_size;
  bool pull;
  unsigned concurrency, retries;
  bool has_version;
  char version[NB_FWS_TEXT_MAX];
  json_t *targets; /* as asked, shown back */
  nb_fws_camp_state state;
  int64_t created_at, updated_at;
  fw_dev *devs;
  size_t ndevs;
  size_t active;
  size_t open; /* devices before this index are over (updated, failed, skipped, cancelled) */
};

struct nb_fws {
  nb_fws_config cfg;
  char *uri_base;
  nb_server *srv;
  nb_fws_image *images;
  size_t nimages, images_cap;
  fw_camp *camps; /* newest first */
  fw_dev *active; /* jobs holding a slot */
  bool pump_due;  /* a device registered: queued jobs may start */
  bool pend_due;  /* an active job has an event to act on (fw_dev.pend_*) */
  nb_time_ms retry_wake;
  nb_fws_listener_fn listener;
  void *listener_user;
};

/* fwupdate.c */
void nb_fwi_save_dev(nb_fws *f, const fw_dev *d);
void nb_fwi_save_camp(nb_fws *f, fw_camp *c, nb_time_ms now);
void nb_fwi_emit_dev(nb_fws *f, const fw_dev *d, nb_time_ms now);
void nb_fwi_pump(fw_camp *c, nb_time_ms now);
const nb_fws_image *nb_fwi_image_by_prefix(const nb_fws *f, const char *hex, size_t len);

/* fwjob.c */
void nb_fwi_job_start(fw_dev *d, nb_time_ms now);
void nb_fwi_job_verify(fw_dev *d, nb_time_ms now);
/* Ends the job's requests and observations and gives its slot back (no state change). */
void nb_fwi_job_release(fw_dev *d, nb_time_ms now);
void nb_fwi_job_due(fw_dev *d, nb_time_ms now);
/* Values of /5/0/3 (state) and /5/0/5 (result) the device reported (-1: not in it). */
void nb_fwi_job_values(fw_dev *d, int state, int result, nb_time_ms now);
/* The device registered again (a new registration, or an update). */
void nb_fwi_job_registered(fw_dev *d, nb_time_ms now);

/* fwserve.c */
void nb_fwi_serve(void *user, nb_coap_exchange *ex, const nb_addr *peer, const nb_coap_msg *req,
                  const nb_server_reg_info *reg, nb_time_ms now);

#endif
