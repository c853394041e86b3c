/* The fleet simulator's core: devices, their pacing, a deadline heap, wire accounting. */
#include "sim/fleet.h"

#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "dtls/keys.h"
#include "sim/scenario.h"

#define NB_SIM_LOG "sim"
#define NB_SIM_NO_POS UINT32_MAX
#define NB_SIM_PSK_LEN 16
#define NB_SIM_SLICES 10 /* a sample period is spread over this many slices of the fleet */
#define NB_SIM_RING 2    /* requests of a device in flight we can pair answers with */
#define NB_SIM_PEND 4    /* DTLS: messages waiting for their record */

typedef enum {
  NB_SIM_ST_IDLE,         /* not made yet */
  NB_SIM_ST_PROVISIONING, /* made; its credential is being installed */
  NB_SIM_ST_READY,        /* made; waits for its turn to start */
  NB_SIM_ST_BOOTSTRAPPING,
  NB_SIM_ST_REGISTERING,
  NB_SIM_ST_RETRYING, /* a Register failed; the engine tries again later */
  NB_SIM_ST_REGISTERED,
  NB_SIM_ST_FAILED,
  NB_SIM_ST_DEREGISTERING,
  NB_SIM_ST_DONE,
  NB_SIM_ST_COUNT
} nb_sim_dev_state;

static const char *const nb_sim_state_names[NB_SIM_ST_COUNT] = {
    "idle",     "provisioning", "ready",  "bootstrapping", "registering",
    "retrying", "registered",   "failed", "deregistering", "done"};

enum {
  NB_SIM_F_SLOT = 1,       /* holds a place in the window */
  NB_SIM_F_DTLS = 2,       /* it may talk DTLS (a secure account, or one a bootstrap wrote) */
  NB_SIM_F_BOOTSTRAP = 4,  /* started with a bootstrap account */
  NB_SIM_F_EVER_REG = 8,   /* registered at least once */
  NB_SIM_F_STOP_SLOT = 16, /* holds a place in the stop window */
  NB_SIM_F_WAS_REG = 32    /* counted as registered (for the De-register) */
};

typedef struct {
  nb_client *c;
  nb_sim_fleet *f;
  nb_time_ms due;
  uint32_t heap_pos;
  uint32_t started_at;          /* ms since the fleet's epoch */
  uint32_t req_at[NB_SIM_RING]; /* first transmission of a request in flight */
  uint16_t req_mid[NB_SIM_RING];
  uint8_t req_cls[NB_SIM_RING]; /* 0: free */
  uint8_t req_next;
  uint8_t state, flags, last_in, executes;
  uint8_t pend[NB_SIM_PEND], npend;
} nb_sim_dev;

struct nb_sim_fleet {
  nb_sim_config cfg; /* its strings point into the copies below */
  char prefix[32], uri[256], binding[8];
  nb_client_config ccfg; /* the engines' configuration, endpoint and users set per device */
  nb_sim_dev *devs;
  uint32_t *heap, heap_n;
  nb_time_ms epoch;
  uint32_t count[NB_SIM_ST_COUNT];
  /* pacing */
  uint32_t next_make, next_start, provisioning, inflight, window;
  nb_time_ms start_t0;
  /* sampling */
  nb_time_ms next_sample;
  uint32_t slice;
  /* stop */
  bool stopping;
  nb_time_ms quit_by;
  uint32_t next_stop, stop_inflight;
  /* servers */
  nb_addr bs_addr;
  bool has_bs;
  uint16_t ssid; /* the Short Server ID the devices registered with (one server per fleet) */
  uint64_t rng;
  /* the time of the call into an engine under way (its callbacks are not given it) */
  nb_time_ms now;
  /* DTLS receive: the class the trace gave the record being handed in */
  nb_sim_msg in_cls;
  nb_sim_stats st;
  nb_sim_wire wire;
  nb_sim_err_count errs[NB_SIM_ERR_KINDS];
  size_t nerrs;
};

const char *nb_sim_security_name(nb_sim_security s) {
  static const char *const names[] = {"nosec", "psk", "rpk", "x509"};
  return (unsigned)s < 4 ? names[s] : "?";
}

nb_err nb_sim_security_parse(const char *text, nb_sim_security *out) {
  for (unsigned i = 0; i < 4; i++)
    if (strcmp(text, nb_sim_security_name((nb_sim_security)i)) == 0) {
      *out = (nb_sim_security)i;
      return NB_OK;
    }
  return NB_ERR_INVAL;
}

void nb_sim_config_default(nb_sim_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->first = 1;
  cfg->digits = 6;
  cfg->lifetime = 300;
  cfg->window = 64;
  cfg->sample_ms = 1000;
  cfg->security = NB_SIM_NOSEC;
}

/* ---- bookkeeping ---- */

static uint32_t nb_sim_index(const nb_sim_fleet *f, const nb_sim_dev *d) {
  return (uint32_t)(d - f->devs);
}

static uint32_t nb_sim_since(const nb_sim_fleet *f, nb_time_ms now) {
  return now > f->epoch ? (uint32_t)(now - f->epoch) : 0;
}

static void nb_sim_set_state(nb_sim_fleet *f, nb_sim_dev *d, nb_sim_dev_state s) {
  f->count[d->state]--;
  f->count[s]++;
  d->state = (uint8_t)s;
  f->st.bootstrapping = f->count[NB_SIM_ST_BOOTSTRAPPING];
  f->st.registered = f->count[NB_SIM_ST_REGISTERED];
  f->st.retrying = f->count[NB_SIM_ST_RETRYING];
  f->st.failed = f->count[NB_SIM_ST_FAILED];
}

static void nb_sim_count_err(nb_sim_fleet *f, const char *kind) {
  for (size_t i = 0; i < f->nerrs; i++)
    if (strcmp(f->errs[i].kind, kind) == 0) {
      f->errs[i].count++;
      return;
    }
  size_t at = f->nerrs < NB_SIM_ERR_KINDS ? f->nerrs++ : NB_SIM_ERR_KINDS - 1;
  if (at == NB_SIM_ERR_KINDS - 1 && f->errs[at].kind) kind = "other";
  f->errs[at].kind = kind;
  f->errs[at].count++;
}

static void nb_sim_emit(nb_sim_fleet *f, nb_sim_dev *d, nb_sim_event ev, nb_err err,
                        const nb_path *p, nb_time_ms now) {
  if (f->cfg.on_event) f->cfg.on_event(f->cfg.event_user, f, nb_sim_index(f, d), ev, err, p, now);
}

/* Frees d's window place (registration or bootstrap done, failed, or waiting for a retry). */
static void nb_sim_release(nb_sim_fleet *f, nb_sim_dev *d) {
  if (d->flags & NB_SIM_F_SLOT) {
    d->flags &= (uint8_t)~NB_SIM_F_SLOT;
    f->inflight--;
  }
  if (d->flags & NB_SIM_F_STOP_SLOT) {
    d->flags &= (uint8_t)~NB_SIM_F_STOP_SLOT;
    f->stop_inflight--;
  }
}

/* ---- deadline heap ---- */

static bool nb_sim_before(const nb_sim_fleet *f, uint32_t a, uint32_t b) {
  return f->devs[a].due < f->devs[b].due;
}

static void nb_sim_heap_set(nb_sim_fleet *f, uint32_t pos, uint32_t dev) {
  f->heap[pos] = dev;
  f->devs[dev].heap_pos = pos;
}

static void nb_sim_heap_up(nb_sim_fleet *f, uint32_t pos) {
  uint32_t dev = f->heap[pos];
  while (pos > 0) {
    uint32_t parent = (pos - 1) / 2;
    if (!nb_sim_before(f, dev, f->heap[parent])) break;
    nb_sim_heap_set(f, pos, f->heap[parent]);
    pos = parent;
  }
  nb_sim_heap_set(f, pos, dev);
}

static void nb_sim_heap_down(nb_sim_fleet *f, uint32_t pos) {
  uint32_t dev = f->heap[pos];
  for (;;) {
    uint32_t l = 2 * pos + 1, r = l + 1, best = pos;
    uint32_t best_dev = dev;
    if (l < f->heap_n && nb_sim_before(f, f->heap[l], best_dev)) best = l, best_dev = f->heap[l];
    if (r < f->heap_n && nb_sim_before(f, f->heap[r], best_dev)) best = r, best_dev = f->heap[r];
    if (best == pos) break;
    nb_sim_heap_set(f, pos, best_dev);
    pos = best;
  }
  nb_sim_heap_set(f, pos, dev);
}

static void nb_sim_heap_remove(nb_sim_fleet *f, nb_sim_dev *d) {
  uint32_t pos = d->heap_pos;
  if (pos == NB_SIM_NO_POS) return;
  d->heap_pos = NB_SIM_NO_POS;
  uint32_t last = f->heap[--f->heap_n];
  if (pos == f->heap_n) return;
  nb_sim_heap_set(f, pos, last);
  nb_sim_heap_up(f, pos);
  nb_sim_heap_down(f, f->devs[last].heap_pos);
}

/* Puts d at its engine's next deadline (out of the heap when it has none). */
static void nb_sim_reschedule(nb_sim_fleet *f, nb_sim_dev *d) {
  nb_time_ms due =
      d->c && d->state != NB_SIM_ST_DONE ? nb_client_next_deadline(d->c) : NB_TIME_NEVER;
  if (due == NB_TIME_NEVER) {
    nb_sim_heap_remove(f, d);
    return;
  }
  d->due = due;
  if (d->heap_pos == NB_SIM_NO_POS) {
    nb_sim_heap_set(f, f->heap_n++, nb_sim_index(f, d));
    nb_sim_heap_up(f, d->heap_pos);
  } else {
    nb_sim_heap_up(f, d->heap_pos);
    nb_sim_heap_down(f, d->heap_pos);
  }
}

/* ---- the wire ---- */

static bool nb_sim_lose(nb_sim_fleet *f) {
  if (f->cfg.loss <= 0) return false;
  uint64_t z = (f->rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0 < f->cfg.loss;
}

static bool nb_sim_is_bs(const nb_sim_fleet *f, const nb_addr *peer) {
  return f->has_bs && nb_addr_equal(&f->bs_addr, peer);
}

/* A message the device sends: its class, and the request remembered to pair the answer. */
static nb_sim_msg nb_sim_dev_out(nb_sim_fleet *f, nb_sim_dev *d, const nb_sim_coap_info *in,
                                 nb_time_ms now) {
  if (!in->parsed) return NB_SIM_MSG_UNPARSED;
  if (in->is_request) {
    if (in->cls == NB_SIM_MSG_REGISTER && d->state == NB_SIM_ST_BOOTSTRAPPING) {
      f->st.bootstrapped++;
      nb_sim_set_state(f, d, NB_SIM_ST_REGISTERING);
      nb_sim_emit(f, d, NB_SIM_EV_BOOTSTRAPPED, NB_OK, NULL, now);
    }
    if (in->cls == NB_SIM_MSG_NOTIFY) f->st.notifications++;
    if (!in->confirmable) return in->cls;
    for (unsigned i = 0; i < NB_SIM_RING; i++)
      if (d->req_cls[i] && d->req_mid[i] == in->mid) return in->cls; /* a retransmission */
    unsigned slot = d->req_next++ % NB_SIM_RING;
    d->req_cls[slot] = (uint8_t)in->cls;
    d->req_mid[slot] = in->mid;
    d->req_at[slot] = nb_sim_since(f, now);
    return in->cls;
  }
  if (in->is_response) return nb_sim_msg_resp((nb_sim_msg)d->last_in);
  return in->cls;
}

/* A message the device receives: its class; an answer closes the request it pairs with. */
static nb_sim_msg nb_sim_dev_in(nb_sim_fleet *f, nb_sim_dev *d, const nb_sim_coap_info *in,
                                nb_time_ms now) {
  if (!in->parsed) return NB_SIM_MSG_UNPARSED;
  if (in->is_request) {
    d->last_in = (uint8_t)in->cls;
    return in->cls;
  }
  for (unsigned i = 0; i < NB_SIM_RING; i++) {
    if (!d->req_cls[i] || d->req_mid[i] != in->mid) continue;
    nb_sim_msg req = (nb_sim_msg)d->req_cls[i];
    d->req_cls[i] = 0;
    uint32_t since = nb_sim_since(f, now);
    uint64_t ms = since > d->req_at[i] ? since - d->req_at[i] : 0;
    nb_sim_hist_add(&f->wire.latency[req], ms);
    nb_sim_hist_add(&f->wire.all_latency, ms);
    return in->is_rst ? NB_SIM_MSG_RST : nb_sim_msg_resp(req);
  }
  return in->cls; /* a separate response, or an answer we no longer wait for */
}

static nb_sim_msg nb_sim_dtls_class(uint8_t type) {
  return type == 22 || type == 20 ? NB_SIM_MSG_DTLS_HS
         : type == 21             ? NB_SIM_MSG_DTLS_ALERT
                                  : NB_SIM_MSG_UNPARSED;
}

/* client -> socket: every datagram of every device (a DTLS record starts with its content
 * type 20..25, CoAP with its version 1: 0x40..0x7F). Each CoAP message the engine sent went
 * through the trace first (classed there, in order); a plain datagram or a DTLS application
 * record carries the oldest of them, handshake records none. */
static void nb_sim_on_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  nb_sim_dev *d = user;
  nb_sim_fleet *f = d->f;
  uint8_t type = nb_sim_dtls_content_type(data, len);
  nb_sim_msg cls = nb_sim_dtls_class(type);
  if (!type || type == 23) {
    cls = d->npend ? (nb_sim_msg)d->pend[0] : NB_SIM_MSG_UNPARSED;
    if (d->npend) memmove(d->pend, d->pend + 1, --d->npend);
  }
  if (nb_sim_lose(f)) {
    f->st.lost_up++;
    return;
  }
  nb_sim_wire_count(&f->wire, cls, true, nb_sim_is_bs(f, peer), len);
  f->cfg.send(f->cfg.send_user, nb_sim_index(f, d), peer, data, len);
}

/* The plaintext on its way into or out of the engine's transport (before DTLS encrypts it,
 * after it decrypted it, or plain CoAP). */
static void nb_sim_on_trace(void *user, bool out, const nb_addr *peer, const uint8_t *data,
                            size_t len) {
  nb_sim_dev *d = user;
  nb_sim_fleet *f = d->f;
  nb_sim_coap_info in;
  nb_sim_classify(data, len, out, nb_sim_is_bs(f, peer), &in);
  if (!out) {
    f->in_cls = nb_sim_dev_in(f, d, &in, f->now);
    return;
  }
  nb_sim_msg cls = nb_sim_dev_out(f, d, &in, f->now);
  if (d->npend == NB_SIM_PEND) memmove(d->pend, d->pend + 1, --d->npend); /* never sent */
  d->pend[d->npend++] = (uint8_t)cls;
}

/* ---- engine events ---- */

static void nb_sim_registered(nb_sim_fleet *f, nb_sim_dev *d, nb_time_ms now) {
  nb_sim_release(f, d);
  if (d->state == NB_SIM_ST_BOOTSTRAPPING) f->st.bootstrapped++;
  nb_sim_set_state(f, d, NB_SIM_ST_REGISTERED);
  d->flags |= NB_SIM_F_WAS_REG;
  f->st.registrations++;
  f->st.last_registered = now;
  if (!(d->flags & NB_SIM_F_EVER_REG)) {
    d->flags |= NB_SIM_F_EVER_REG;
    f->st.ever_registered++;
    uint32_t since = nb_sim_since(f, now);
    nb_sim_hist_add(&f->st.time_to_register, since > d->started_at ? since - d->started_at : 0);
  }
  nb_sim_emit(f, d, NB_SIM_EV_REGISTERED, NB_OK, NULL, now);
}

static void nb_sim_on_client_event(void *user, nb_client_event ev, uint16_t ssid, nb_err err,
                                   nb_time_ms now) {
  nb_sim_dev *d = user;
  nb_sim_fleet *f = d->f;
  switch (ev) {
    case NB_CLIENT_EV_REGISTERED:
      f->ssid = ssid;
      nb_sim_registered(f, d, now);
      break;
    case NB_CLIENT_EV_UPDATED:
      f->st.updates++;
      nb_sim_emit(f, d, NB_SIM_EV_UPDATED, NB_OK, NULL, now);
      break;
    case NB_CLIENT_EV_REG_FAILED:
      f->st.reg_failures++;
      nb_sim_count_err(f, nb_err_name(err));
      if (d->state != NB_SIM_ST_DEREGISTERING && d->state != NB_SIM_ST_DONE) {
        nb_sim_release(f, d);
        nb_sim_set_state(f, d, NB_SIM_ST_RETRYING);
      }
      nb_sim_emit(f, d, NB_SIM_EV_REG_FAILED, err, NULL, now);
      break;
    case NB_CLIENT_EV_GAVE_UP:
      nb_sim_release(f, d);
      nb_sim_set_state(f, d, NB_SIM_ST_FAILED);
      nb_sim_emit(f, d, NB_SIM_EV_GAVE_UP, err, NULL, now);
      break;
    case NB_CLIENT_EV_DEREGISTERED:
      if (err != NB_OK) nb_sim_count_err(f, "deregister-unanswered");
      if (d->flags & NB_SIM_F_WAS_REG) f->st.deregistered++;
      nb_sim_release(f, d);
      nb_sim_set_state(f, d, NB_SIM_ST_DONE);
      nb_sim_emit(f, d, NB_SIM_EV_DEREGISTERED, err, NULL, now);
      break;
    default: /* Reboot and Factory Reset come from our Device object (nb_sim_executed) */
      break;
  }
}

static void nb_sim_executed(void *user, uint32_t dev, const nb_path *res, nb_time_ms now) {
  nb_sim_fleet *f = user;
  nb_sim_dev *d = &f->devs[dev];
  if (d->executes < UINT8_MAX) d->executes++;
  if (d->executes > f->st.execute_max) f->st.execute_max = d->executes;
  f->st.executes++;
  if (res->ids[0] == 3 && res->ids[2] == 4) f->st.reboots++;
  nb_sim_emit(f, d, NB_SIM_EV_EXECUTED, NB_OK, res, now);
}

/* ---- making devices ---- */

const char *nb_sim_fleet_endpoint(const nb_sim_fleet *f, uint32_t dev, char *buf, size_t cap) {
  snprintf(buf, cap, "%s%0*u", f->prefix, f->cfg.digits, f->cfg.first + dev);
  return buf;
}

bool nb_sim_fleet_device_of(const nb_sim_fleet *f, const char *ep, uint32_t *dev) {
  size_t n = strlen(f->prefix);
  if (strncmp(ep, f->prefix, n) != 0 || !ep[n]) return false;
  char *end;
  unsigned long v = strtoul(ep + n, &end, 10);
  if (*end || v < f->cfg.first || v - f->cfg.first >= f->cfg.devices) return false;
  char back[64];
  nb_sim_fleet_endpoint(f, (uint32_t)(v - f->cfg.first), back, sizeof back);
  if (strcmp(back, ep) != 0) return false; /* "sim-1" is not "sim-000001" */
  *dev = (uint32_t)(v - f->cfg.first);
  return true;
}

/* Key material of one device: made, used for its Security instance and its provisioning,
 * then wiped. */
typedef struct {
  char identity[64];
  uint8_t psk[64];
  size_t psk_len;
  nb_dtls_keypair kp;
  nb_dtls_certkey ck;
  bool has_kp, has_ck;
} nb_sim_keys;

static void nb_sim_keys_free(nb_sim_keys *k) {
  if (k->has_kp) nb_dtls_keypair_free(&k->kp);
  if (k->has_ck) nb_dtls_certkey_free(&k->ck);
  gnutls_memset(k, 0, sizeof *k);
}

static nb_err nb_sim_make_keys(nb_sim_fleet *f, uint32_t dev, const char *ep, nb_sim_keys *k,
                               nb_client_server_params *p, nb_sim_cred *cred) {
  switch (f->cfg.security) {
    case NB_SIM_NOSEC:
      p->security_mode = 3;
      return NB_OK;
    case NB_SIM_PSK: {
      nb_err e = NB_OK;
      if (f->cfg.psk_source) {
        e = f->cfg.psk_source(f->cfg.psk_user, dev, ep, k->identity, sizeof k->identity, k->psk,
                              sizeof k->psk, &k->psk_len);
      } else {
        snprintf(k->identity, sizeof k->identity, "%s", ep);
        k->psk_len = NB_SIM_PSK_LEN;
        e = nb_dtls_psk_generate(k->psk, k->psk_len);
      }
      p->security_mode = 0;
      p->identity = (const uint8_t *)k->identity;
      p->identity_len = strlen(k->identity);
      p->secret = k->psk;
      p->secret_len = k->psk_len;
      cred->identity = k->identity;
      cred->key = k->psk;
      cred->key_len = k->psk_len;
      return e;
    }
    case NB_SIM_RPK: {
      nb_err e = nb_dtls_keypair_generate(&k->kp);
      if (e != NB_OK) return e;
      k->has_kp = true;
      p->security_mode = 1;
      p->secret = k->kp.key_der.data;
      p->secret_len = k->kp.key_der.len;
      cred->spki = k->kp.spki_der.data;
      cred->spki_len = k->kp.spki_der.len;
      cred->secure_id = k->kp.secure_id;
      return NB_OK;
    }
    case NB_SIM_X509: {
      const char *names[] = {ep};
      nb_dtls_cert_request req = {.cn = ep, .names = names, .n_names = 0};
      nb_err e = nb_dtls_cert_issue(f->cfg.ca_cert, f->cfg.ca_cert_len, f->cfg.ca_key,
                                    f->cfg.ca_key_len, &req, &k->ck);
      if (e != NB_OK) return e;
      k->has_ck = true;
      p->security_mode = 2;
      p->identity = k->ck.cert_der.data;
      p->identity_len = k->ck.cert_der.len;
      p->secret = k->ck.key.key_der.data;
      p->secret_len = k->ck.key.key_der.len;
      p->trust_anchor = f->cfg.server_key_ca;
      cred->identity = ep;
      cred->spki = k->ck.key.spki_der.data;
      cred->spki_len = k->ck.key.spki_der.len;
      cred->secure_id = k->ck.key.secure_id;
      return NB_OK;
    }
  }
  return NB_ERR_INVAL;
}

/* The account every device starts with, and its key material. */
static nb_err nb_sim_add_account(nb_sim_fleet *f, nb_sim_dev *d, const char *ep, nb_sim_keys *k,
                                 nb_sim_cred *cred) {
  bool bs = f->cfg.bootstrap_uri != NULL;
  nb_client_server_params p = {.uri = bs ? f->cfg.bootstrap_uri : f->cfg.server_uri,
                               .bootstrap = bs,
                               .ssid = 1,
                               .lifetime = f->cfg.lifetime ? f->cfg.lifetime : 300,
                               .binding = f->cfg.binding,
                               .server_key = f->cfg.server_key,
                               .server_key_len = f->cfg.server_key_len};
  *cred =
      (nb_sim_cred){.dev = nb_sim_index(f, d), .ep = ep, .mode = f->cfg.security, .bootstrap = bs};
  nb_err e = nb_sim_make_keys(f, cred->dev, ep, k, &p, cred);
  if (e == NB_OK) e = nb_client_add_server(d->c, &p);
  if (e == NB_OK && !bs && f->cfg.retry_timer) {
    nb_path rt = nb_path_res(1, 0, 18);
    nb_value v = nb_value_int(f->cfg.retry_timer);
    e = nb_store_object_set(nb_client_object(d->c, 1), &rt, &v);
  }
  return e;
}

static void nb_sim_fail(nb_sim_fleet *f, nb_sim_dev *d, const char *kind, nb_err err,
                        nb_time_ms now) {
  nb_sim_count_err(f, kind);
  nb_sim_release(f, d);
  nb_sim_set_state(f, d, NB_SIM_ST_FAILED);
  char ep[64];
  NB_LOG_WARN(NB_SIM_LOG, "event=device-failed ep=%s step=%s err=%s",
              nb_sim_fleet_endpoint(f, nb_sim_index(f, d), ep, sizeof ep), kind, nb_err_name(err));
  nb_sim_emit(f, d, NB_SIM_EV_FAILED, err, NULL, now);
}

/* Makes device d's engine, objects and account, and hands its credential to provisioning. */
static void nb_sim_make(nb_sim_fleet *f, nb_sim_dev *d, nb_time_ms now) {
  char ep[64];
  nb_sim_fleet_endpoint(f, nb_sim_index(f, d), ep, sizeof ep);
  nb_client_config cc = f->ccfg;
  cc.endpoint = ep;
  cc.send_user = cc.event_user = cc.trace_user = d;
  f->st.created++;
  nb_sim_keys k;
  memset(&k, 0, sizeof k);
  nb_sim_cred cred;
  nb_err e = nb_client_new(&cc, &d->c);
  if (e == NB_OK) e = nb_sim_scenario_add(f->cfg.scenario, d->c, nb_sim_index(f, d));
  if (e == NB_OK) e = nb_sim_add_account(f, d, ep, &k, &cred);
  if (e != NB_OK) {
    nb_sim_keys_free(&k);
    nb_sim_fail(f, d, "device-setup", e, now);
    return;
  }
  if (f->cfg.security != NB_SIM_NOSEC || f->cfg.bootstrap_uri) d->flags |= NB_SIM_F_DTLS;
  if (f->cfg.bootstrap_uri) d->flags |= NB_SIM_F_BOOTSTRAP;
  if (!f->cfg.provision) {
    nb_sim_keys_free(&k);
    nb_sim_set_state(f, d, NB_SIM_ST_READY);
    f->st.provisioned++;
    return;
  }
  nb_sim_set_state(f, d, NB_SIM_ST_PROVISIONING);
  f->provisioning++;
  e = f->cfg.provision(f->cfg.provision_user, f, &cred);
  nb_sim_keys_free(&k);
  if (e != NB_OK && d->state == NB_SIM_ST_PROVISIONING) {
    f->provisioning--;
    nb_sim_fail(f, d, "provision", e, now);
  }
}

void nb_sim_fleet_provisioned(nb_sim_fleet *f, uint32_t dev, nb_err err, nb_time_ms now) {
  if (dev >= f->cfg.devices) return;
  nb_sim_dev *d = &f->devs[dev];
  if (d->state != NB_SIM_ST_PROVISIONING) return;
  f->provisioning--;
  if (err != NB_OK) {
    nb_sim_fail(f, d, "provision", err, now);
    return;
  }
  f->st.provisioned++;
  nb_sim_set_state(f, d, NB_SIM_ST_READY);
}

static void nb_sim_start(nb_sim_fleet *f, nb_sim_dev *d, nb_time_ms now) {
  f->now = now;
  if (!f->st.first_start) f->st.first_start = now;
  d->started_at = nb_sim_since(f, now);
  d->flags |= NB_SIM_F_SLOT;
  f->inflight++;
  f->st.started++;
  nb_sim_set_state(
      f, d, (d->flags & NB_SIM_F_BOOTSTRAP) ? NB_SIM_ST_BOOTSTRAPPING : NB_SIM_ST_REGISTERING);
  nb_err e = nb_client_start(d->c, now);
  if (e != NB_OK) {
    nb_sim_fail(f, d, "start", e, now);
    return;
  }
  nb_sim_emit(f, d, NB_SIM_EV_STARTED, NB_OK, NULL, now);
  nb_sim_reschedule(f, d);
}

/* How many devices the ramp lets have started by now. */
static uint64_t nb_sim_ramp_allows(const nb_sim_fleet *f, nb_time_ms now) {
  if (f->cfg.ramp <= 0) return UINT64_MAX;
  return 1 + (uint64_t)((double)(now - f->start_t0) / 1000.0 * f->cfg.ramp);
}

/* Devices are made (and provisioned) at most this far ahead of the ones started. */
static uint32_t nb_sim_ahead(const nb_sim_fleet *f) { return f->window < 64 ? 64 : f->window; }

static bool nb_sim_can_make(const nb_sim_fleet *f) {
  uint32_t ahead = nb_sim_ahead(f);
  return !f->stopping && f->next_make < f->cfg.devices && f->next_make < f->next_start + ahead &&
         f->provisioning < ahead;
}

/* Makes, provisions and starts what the ramp and the windows allow. */
static void nb_sim_pace(nb_sim_fleet *f, nb_time_ms now) {
  if (f->stopping) return;
  while (nb_sim_can_make(f)) nb_sim_make(f, &f->devs[f->next_make++], now);
  while (f->next_start < f->next_make) {
    nb_sim_dev *d = &f->devs[f->next_start];
    if (d->state == NB_SIM_ST_FAILED) {
      f->next_start++;
      continue;
    }
    if (d->state != NB_SIM_ST_READY || f->inflight >= f->window ||
        f->st.started >= nb_sim_ramp_allows(f, now))
      break;
    f->next_start++;
    nb_sim_start(f, d, now);
  }
  while (nb_sim_can_make(f)) nb_sim_make(f, &f->devs[f->next_make++], now); /* room made */
}

static nb_time_ms nb_sim_pace_deadline(const nb_sim_fleet *f) {
  if (f->stopping || f->next_start >= f->next_make) return NB_TIME_NEVER;
  const nb_sim_dev *d = &f->devs[f->next_start];
  if (d->state == NB_SIM_ST_FAILED) return f->now;
  if (d->state != NB_SIM_ST_READY || f->inflight >= f->window) return NB_TIME_NEVER;
  if (f->cfg.ramp <= 0) return f->now;
  return f->start_t0 + (nb_time_ms)((double)f->st.started * 1000.0 / f->cfg.ramp);
}

/* ---- sampling: values change, observations are evaluated ---- */

static void nb_sim_sample(nb_sim_fleet *f, nb_time_ms now) {
  const nb_sim_scenario *s = f->cfg.scenario;
  uint32_t slice = f->slice;
  f->slice = (f->slice + 1) % NB_SIM_SLICES;
  f->next_sample = now + f->cfg.sample_ms / NB_SIM_SLICES;
  if (s->sampled.len == 0 || f->cfg.manual_sampling) return;
  for (uint32_t i = slice; i < f->next_start; i += NB_SIM_SLICES) {
    nb_sim_dev *d = &f->devs[i];
    if (d->state != NB_SIM_ST_REGISTERED || nb_client_observation_count(d->c) == 0) continue;
    nb_client_value_changed(d->c, &s->sampled, now);
    nb_sim_reschedule(f, d);
  }
}

void nb_sim_fleet_value_changed(nb_sim_fleet *f, uint32_t dev, nb_time_ms now) {
  if (dev >= f->cfg.devices || !f->devs[dev].c) return;
  f->now = now;
  nb_client_value_changed(f->devs[dev].c, &f->cfg.scenario->sampled, now);
  nb_sim_reschedule(f, &f->devs[dev]);
}

nb_err nb_sim_fleet_update(nb_sim_fleet *f, uint32_t dev, nb_time_ms now) {
  if (dev >= f->cfg.devices || !f->devs[dev].c) return NB_ERR_NOT_FOUND;
  f->now = now;
  nb_err e = nb_client_update(f->devs[dev].c, 0, now);
  nb_sim_reschedule(f, &f->devs[dev]);
  return e;
}

/* ---- stopping ---- */

static bool nb_sim_has_engine_running(const nb_sim_dev *d) {
  return d->state == NB_SIM_ST_BOOTSTRAPPING || d->state == NB_SIM_ST_REGISTERING ||
         d->state == NB_SIM_ST_RETRYING || d->state == NB_SIM_ST_REGISTERED ||
         d->state == NB_SIM_ST_FAILED;
}

static void nb_sim_dereg_one(nb_sim_fleet *f, nb_sim_dev *d, nb_time_ms now) {
  f->now = now;
  if (!d->c || !nb_sim_has_engine_running(d)) {
    if (d->state == NB_SIM_ST_PROVISIONING) f->provisioning--;
    nb_sim_release(f, d);
    nb_sim_set_state(f, d, NB_SIM_ST_DONE);
    nb_sim_reschedule(f, d);
    return;
  }
  nb_sim_release(f, d);
  nb_sim_set_state(f, d, NB_SIM_ST_DEREGISTERING);
  d->flags |= NB_SIM_F_STOP_SLOT;
  f->stop_inflight++;
  nb_client_deregister(d->c, now);
  if (d->state == NB_SIM_ST_DEREGISTERING && nb_client_done(d->c)) {
    nb_sim_release(f, d); /* nothing was registered: nothing to send */
    nb_sim_set_state(f, d, NB_SIM_ST_DONE);
  }
  nb_sim_reschedule(f, d);
}

nb_err nb_sim_fleet_deregister(nb_sim_fleet *f, uint32_t dev, nb_time_ms now) {
  if (dev >= f->cfg.devices) return NB_ERR_NOT_FOUND;
  nb_sim_dereg_one(f, &f->devs[dev], now);
  return NB_OK;
}

static void nb_sim_stop_pace(nb_sim_fleet *f, nb_time_ms now) {
  while (f->next_stop < f->cfg.devices && f->stop_inflight < f->window) {
    nb_sim_dev *d = &f->devs[f->next_stop++];
    if (d->state == NB_SIM_ST_DONE || d->state == NB_SIM_ST_DEREGISTERING) continue;
    nb_sim_dereg_one(f, d, now);
  }
}

void nb_sim_fleet_stop(nb_sim_fleet *f, nb_time_ms now, nb_time_ms grace_ms) {
  if (f->stopping) {
    f->quit_by = now;
    return;
  }
  f->stopping = true;
  f->quit_by = now + grace_ms;
  nb_sim_stop_pace(f, now);
}

bool nb_sim_fleet_stopping(const nb_sim_fleet *f) { return f->stopping; }

bool nb_sim_fleet_finished(const nb_sim_fleet *f, nb_time_ms now) {
  if (!f->stopping) return false;
  return now >= f->quit_by || (f->next_stop >= f->cfg.devices && f->stop_inflight == 0);
}

void nb_sim_fleet_close(nb_sim_fleet *f, nb_time_ms now) {
  f->now = now;
  for (uint32_t i = 0; i < f->cfg.devices; i++)
    if (f->devs[i].c && (f->devs[i].flags & NB_SIM_F_DTLS)) nb_client_close(f->devs[i].c, now);
}

/* ---- the driver's entry points ---- */

void nb_sim_fleet_receive(nb_sim_fleet *f, uint32_t dev, const nb_addr *peer, const uint8_t *data,
                          size_t len, nb_time_ms now) {
  if (dev >= f->cfg.devices) return;
  nb_sim_dev *d = &f->devs[dev];
  if (!d->c || d->state == NB_SIM_ST_DONE || d->state == NB_SIM_ST_IDLE ||
      d->state == NB_SIM_ST_PROVISIONING || d->state == NB_SIM_ST_READY)
    return;
  if (nb_sim_lose(f)) {
    f->st.lost_down++;
    return;
  }
  f->now = now;
  uint8_t type = nb_sim_dtls_content_type(data, len);
  /* the trace classes what reaches the engine's CoAP layer; what does not (handshake
   * records, datagrams the engine drops) keeps this class */
  f->in_cls = type ? nb_sim_dtls_class(type) : NB_SIM_MSG_UNPARSED;
  nb_client_receive(d->c, peer, data, len, now);
  nb_sim_msg cls = f->in_cls;
  if (!type && cls == NB_SIM_MSG_UNPARSED) { /* plain CoAP the engine did not take */
    nb_sim_coap_info in;
    nb_sim_classify(data, len, false, nb_sim_is_bs(f, peer), &in);
    cls = in.cls;
  }
  nb_sim_wire_count(&f->wire, cls, false, nb_sim_is_bs(f, peer), len);
  nb_sim_reschedule(f, d);
}

void nb_sim_fleet_tick(nb_sim_fleet *f, nb_time_ms now) {
  f->now = now;
  while (f->heap_n > 0 && f->devs[f->heap[0]].due <= now) {
    nb_sim_dev *d = &f->devs[f->heap[0]];
    nb_client_tick(d->c, now);
    nb_sim_reschedule(f, d);
    if (d->heap_pos == 0 && d->due <= now) break; /* the engine wants more now: next round */
  }
  if (now >= f->next_sample) nb_sim_sample(f, now);
  if (f->stopping)
    nb_sim_stop_pace(f, now);
  else
    nb_sim_pace(f, now);
}

nb_time_ms nb_sim_fleet_next_deadline(const nb_sim_fleet *f) {
  nb_time_ms t = f->heap_n ? f->devs[f->heap[0]].due : NB_TIME_NEVER;
  if (f->cfg.scenario->sampled.len && !f->cfg.manual_sampling) t = nb_time_min(t, f->next_sample);
  if (f->stopping) {
    if (f->next_stop < f->cfg.devices && f->stop_inflight < f->window) t = f->now;
    return nb_time_min(t, f->quit_by);
  }
  t = nb_time_min(t, nb_sim_pace_deadline(f));
  return nb_sim_can_make(f) ? f->now : t;
}

/* ---- lifecycle ---- */

static nb_err nb_sim_resolve_bs(nb_sim_fleet *f) {
  if (!f->cfg.bootstrap_uri) return NB_OK;
  const char *uri = f->cfg.bootstrap_uri;
  const char *rest = strstr(uri, "://");
  if (!rest) return NB_ERR_SYNTAX;
  rest += 3;
  uint16_t port = strncmp(uri, "coaps", 5) == 0 ? 5684 : 5683;
  char host[NB_ADDR_STRLEN];
  size_t n = strcspn(rest, "/?");
  if (n >= sizeof host) return NB_ERR_SYNTAX;
  memcpy(host, rest, n);
  host[n] = 0;
  nb_err e = nb_addr_parse(host, port, &f->bs_addr);
  if (e != NB_OK && f->cfg.resolve) {
    char *colon = strrchr(host, ':');
    if (colon && host[0] != '[') {
      port = (uint16_t)strtoul(colon + 1, NULL, 10);
      *colon = 0;
    }
    e = f->cfg.resolve(f->cfg.resolve_user, host, port, &f->bs_addr);
  }
  f->has_bs = e == NB_OK;
  return e;
}

nb_err nb_sim_fleet_new(const nb_sim_config *cfg, nb_time_ms now, nb_sim_fleet **out) {
  if (!cfg->devices || !cfg->send || !cfg->scenario || (!cfg->server_uri == !cfg->bootstrap_uri))
    return NB_ERR_INVAL;
  if (cfg->security == NB_SIM_X509 && (!cfg->ca_cert || !cfg->ca_key)) return NB_ERR_INVAL;
  nb_sim_fleet *f = calloc(1, sizeof *f);
  if (!f) return NB_ERR_NOMEM;
  f->cfg = *cfg;
  if (!f->cfg.window) f->cfg.window = 64;
  if (f->cfg.digits < 0 || f->cfg.digits > 9) f->cfg.digits = 6;
  if (!f->cfg.sample_ms) f->cfg.sample_ms = 1000;
  f->window = f->cfg.window;
  snprintf(f->prefix, sizeof f->prefix, "%s", cfg->prefix ? cfg->prefix : "sim-");
  const char *uri = cfg->server_uri ? cfg->server_uri : cfg->bootstrap_uri;
  if (strlen(uri) >= sizeof f->uri || (cfg->binding && strlen(cfg->binding) >= sizeof f->binding)) {
    free(f);
    return NB_ERR_INVAL;
  }
  snprintf(f->uri, sizeof f->uri, "%s", uri);
  snprintf(f->binding, sizeof f->binding, "%s", cfg->binding ? cfg->binding : "U");
  if (cfg->server_uri) f->cfg.server_uri = f->uri;
  if (cfg->bootstrap_uri) f->cfg.bootstrap_uri = f->uri;
  f->cfg.binding = f->binding;
  f->cfg.prefix = f->prefix;
  f->devs = calloc(cfg->devices, sizeof *f->devs);
  f->heap = malloc((size_t)cfg->devices * sizeof *f->heap);
  if (!f->devs || !f->heap || nb_sim_resolve_bs(f) != NB_OK) {
    nb_err e = f->devs && f->heap ? NB_ERR_SYNTAX : NB_ERR_NOMEM;
    nb_sim_fleet_free(f);
    return e;
  }
  for (uint32_t i = 0; i < cfg->devices; i++) {
    f->devs[i].f = f;
    f->devs[i].heap_pos = NB_SIM_NO_POS;
  }
  f->count[NB_SIM_ST_IDLE] = cfg->devices;
  f->st.devices = cfg->devices;
  f->epoch = f->now = f->start_t0 = f->next_sample = now;
  f->rng = cfg->seed ^ 0x5DEECE66Dull;
  nb_client_config_default(&f->ccfg);
  f->ccfg.model = cfg->model;
  f->ccfg.coap = cfg->coap;
  f->ccfg.send = nb_sim_on_send;
  f->ccfg.on_event = nb_sim_on_client_event;
  f->ccfg.trace = nb_sim_on_trace;
  f->ccfg.resolve = cfg->resolve;
  f->ccfg.resolve_user = cfg->resolve_user;
  f->ccfg.random = cfg->random;
  f->ccfg.random_user = cfg->random_user;
  f->ccfg.signed_bootstrap = cfg->signed_bootstrap;
  f->ccfg.unix_offset_ms = cfg->unix_offset_ms;
  nb_sim_scenario_on_execute(cfg->scenario, nb_sim_executed, f);
  *out = f;
  return NB_OK;
}

void nb_sim_fleet_free(nb_sim_fleet *f) {
  if (!f) return;
  for (uint32_t i = 0; f->devs && i < f->cfg.devices; i++) nb_client_free(f->devs[i].c);
  free(f->devs);
  free(f->heap);
  free(f);
}

const nb_sim_stats *nb_sim_fleet_stats(const nb_sim_fleet *f) { return &f->st; }

const nb_sim_wire *nb_sim_fleet_wire(const nb_sim_fleet *f) { return &f->wire; }

const nb_sim_err_count *nb_sim_fleet_errors(const nb_sim_fleet *f, size_t *n) {
  *n = f->nerrs;
  return f->errs;
}

uint32_t nb_sim_fleet_size(const nb_sim_fleet *f) { return f->cfg.devices; }

uint32_t nb_sim_fleet_sleeping(const nb_sim_fleet *f) {
  if (!strchr(f->binding, 'Q')) return 0; /* only queue mode sleeps */
  uint32_t n = 0;
  for (uint32_t i = 0; i < f->cfg.devices; i++) {
    const nb_sim_dev *d = &f->devs[i];
    n += d->state == NB_SIM_ST_REGISTERED && d->c && !nb_client_awake(d->c, f->ssid);
  }
  return n;
}

nb_client *nb_sim_fleet_client(nb_sim_fleet *f, uint32_t dev) {
  return dev < f->cfg.devices ? f->devs[dev].c : NULL;
}

const char *nb_sim_fleet_state(const nb_sim_fleet *f, uint32_t dev) {
  return dev < f->cfg.devices ? nb_sim_state_names[f->devs[dev].state] : "?";
}

bool nb_sim_fleet_is_registered(const nb_sim_fleet *f, uint32_t dev) {
  return dev < f->cfg.devices && f->devs[dev].state == NB_SIM_ST_REGISTERED;
}
