/* DTLS sessions over memory: GnuTLS push/pull on the datagram being processed, timers in the
 * caller's time, events and plaintext through callbacks.
 *
 * How GnuTLS follows `now`: GnuTLS reads time through one process-wide function pointer
 * (gnutls_gettime) that its own test suite replaces through the exported private symbol
 * _gnutls_global_set_gettime_function. We look it up with dlsym at first use and install a
 * clock that answers with the `now` of the nb_dtls call in progress on this thread (and the
 * real clock outside our calls, so other GnuTLS users in the process are unaffected). GnuTLS
 * uses that clock only for differences (DTLS retransmission window, handshake timeout,
 * gnutls_dtls_get_timeout), so `now` may be any monotonic millisecond count. Deadlines are
 * now + gnutls_dtls_get_timeout(); when one passes, tick calls gnutls_handshake, which then
 * retransmits because its clock says the window passed. If the symbol is missing (another
 * GnuTLS build) the real clock is used and the same logic still works in real time.
 *
 * Wrong keys: in DTLS a record that fails authentication is silently dropped (RFC 6347
 * 4.1.2.7), so a wrong PSK would only show as a handshake timeout. GnuTLS reports each drop
 * to its audit log hook; during a handshake we treat "invalid decryption" of the peer's
 * Finished as fatal and send bad_record_mac, as 4.1.2.7 allows. After establishment such
 * records are still dropped silently. */
#include "dtls/session.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "dtls/rx.h"

#define NB_DTLS_MAX_RECORD 16384

struct nb_dtls_session {
  nb_dtls_auth auth; /* first: gnutls_session_get_ptr points here (cred.c) */
  gnutls_session_t gs;
  nb_addr peer;
  nb_dtls_handlers h;
  nb_dtls_session_params params;
  nb_dtls_state state;
  nb_time_ms now, hs_start, deadline, last_activity;
  const uint8_t *in; /* datagram GnuTLS may pull (once) during this call */
  size_t in_len;
  nb_dtls_counters counters;
  bool resumed;
  bool decrypt_failed;   /* set by the audit hook during a handshake */
  bool sent_finished;    /* client: our Finished went out; the server may be done */
  unsigned silent_ticks; /* client: retransmission deadlines that sent nothing since */
  unsigned restarts;     /* client: handshakes restarted after GnuTLS stalled */
  nb_bytes resume;       /* client: resumption data offered (kept for restarts) */
  unsigned busy;         /* nesting of public calls and callbacks */
  bool doomed;           /* freed while busy */
  nb_bytes queue;        /* client: [len u16][data] sent before establishment */
  nb_dtls_rx *rx;        /* established AES-128-CCM-8: application records opened by rx.c */
  nb_dtls_window window; /* application records of epoch 1 delivered so far, either path */
  /* A restored session (gs NULL): its saved state (keys, our next sequence number) and our
   * write keys; rx opens the peer's records. */
  nb_dtls_saved *kept;
  nb_dtls_rx *tx;
};

/* ---- GnuTLS clock and audit hooks ---- */

typedef void (*nb_dtls_gettime_fn)(struct timespec *);
typedef void (*nb_dtls_set_gettime_fn)(nb_dtls_gettime_fn);

static _Thread_local bool nb_dtls_clock_active;
static _Thread_local nb_time_ms nb_dtls_clock_now;
static _Thread_local nb_dtls_session *nb_dtls_current;
static bool nb_dtls_hooked;
static bool nb_dtls_hook_clock;

static void nb_dtls_gettime(struct timespec *t) {
  if (!nb_dtls_clock_active) {
    clock_gettime(CLOCK_REALTIME, t);
    return;
  }
  nb_time_ms now = nb_dtls_clock_now < 0 ? 0 : nb_dtls_clock_now;
  t->tv_sec = (time_t)(now / 1000);
  t->tv_nsec = (long)(now % 1000) * 1000000L;
}

static void nb_dtls_audit(gnutls_session_t gs, const char *msg) {
  nb_dtls_session *s = nb_dtls_current;
  if (!s || !gs || s->gs != gs || s->state != NB_DTLS_HANDSHAKING) return;
  /* "Discarded message[<epoch:16|seq:48>] due to invalid decryption": only a protected record
   * (epoch >= 1, i.e. the peer's Finished) that fails proves a key mismatch. Plaintext epoch-0
   * records that arrive late are also "undecryptable" once our read epoch moved on. */
  const char *num = strchr(msg, '[');
  if (!num || !strstr(msg, "invalid decryption")) return;
  unsigned long long seq = strtoull(num + 1, NULL, 10);
  if ((seq >> 48) >= 1) s->decrypt_failed = true;
}

static void nb_dtls_hooks_install(void) {
  if (nb_dtls_hooked) return;
  nb_dtls_hooked = true;
  nb_dtls_set_gettime_fn set = NULL;
  void *sym = dlsym(RTLD_DEFAULT, "_gnutls_global_set_gettime_function");
  memcpy(&set, &sym, sizeof set);
  if (set) {
    set(nb_dtls_gettime);
    nb_dtls_hook_clock = true;
  } else {
    NB_LOG_WARN("dtls", "event=no_clock_hook detail=\"GnuTLS timers use the real clock\"");
  }
  gnutls_global_set_audit_log_function(nb_dtls_audit);
}

bool nb_dtls_virtual_clock_available(void) {
  nb_dtls_hooks_install();
  return nb_dtls_hook_clock;
}

/* Saved per-thread context so calls may nest (a callback driving another session). */
typedef struct {
  bool active;
  nb_time_ms now;
  nb_dtls_session *current;
} nb_dtls_frame;

static nb_dtls_frame nb_dtls_enter(nb_dtls_session *s, nb_time_ms now) {
  nb_dtls_frame f = {nb_dtls_clock_active, nb_dtls_clock_now, nb_dtls_current};
  /* GnuTLS subtracts times unsigned: never let its clock run backwards. */
  if (now > s->now) s->now = now;
  nb_dtls_clock_active = true;
  nb_dtls_clock_now = s->now;
  nb_dtls_current = s;
  s->busy++;
  return f;
}

static void nb_dtls_destroy(nb_dtls_session *s) {
  nb_dtls_rx_free(s->rx);
  nb_dtls_rx_free(s->tx);
  if (s->kept) gnutls_memset(s->kept, 0, sizeof *s->kept);
  free(s->kept);
  if (s->gs) gnutls_deinit(s->gs);
  nb_dtls_auth_reset(&s->auth);
  nb_bytes_free(&s->resume);
  if (s->queue.data) gnutls_memset(s->queue.data, 0, s->queue.len);
  nb_bytes_free(&s->queue);
  free(s);
}

/* Restores the caller's context; s must not be used afterwards (it may be freed here). */
static void nb_dtls_leave(nb_dtls_session *s, nb_dtls_frame f) {
  nb_dtls_clock_active = f.active;
  nb_dtls_clock_now = f.now;
  nb_dtls_current = f.current;
  if (--s->busy == 0 && s->doomed) nb_dtls_destroy(s);
}

/* ---- transport over memory ---- */

static ssize_t nb_dtls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t cap) {
  nb_dtls_session *s = ptr;
  if (!s->in) {
    gnutls_transport_set_errno(s->gs, EAGAIN);
    errno = EAGAIN;
    return -1;
  }
  size_t n = s->in_len < cap ? s->in_len : cap;
  memcpy(buf, s->in, n);
  s->in = NULL;
  return (ssize_t)n;
}

static int nb_dtls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms) {
  (void)ms;
  return ((nb_dtls_session *)ptr)->in ? 1 : 0;
}

/* True when the datagram carries an encrypted handshake record (a Finished). */
static bool nb_dtls_has_finished(const uint8_t *data, size_t len) {
  nb_reader r;
  nb_dtls_record rec;
  nb_reader_init(&r, data, len);
  while (nb_reader_remaining(&r) > 0 && nb_dtls_record_next(&r, &rec) == NB_OK) {
    if (rec.type == NB_DTLS_CT_HANDSHAKE && rec.epoch > 0) return true;
  }
  return false;
}

static ssize_t nb_dtls_push(gnutls_transport_ptr_t ptr, const void *data, size_t len) {
  nb_dtls_session *s = ptr;
  nb_dtls_counters_add(&s->counters, true, data, len);
  if (!s->auth.server && s->state == NB_DTLS_HANDSHAKING && nb_dtls_has_finished(data, len)) {
    s->sent_finished = true;
  }
  s->h.send(s->h.user, &s->peer, data, len);
  return (ssize_t)len;
}

/* ---- events and failure ---- */

static void nb_dtls_emit(nb_dtls_session *s, nb_dtls_event_type type, nb_err err, int alert,
                         bool sent) {
  if (!s->h.event) return;
  nb_dtls_event ev = {type, err, alert, sent, s->resumed};
  s->h.event(s->h.user, &s->peer, s, &ev, s->now);
}

static void nb_dtls_fail(nb_dtls_session *s, nb_err err, int alert, bool sent) {
  char addr[NB_ADDR_STRLEN];
  s->state = NB_DTLS_FAILED;
  s->deadline = NB_TIME_NEVER;
  /* A server context logs its sessions' failures itself, within a budget (server.c). */
  nb_logf(s->auth.server ? NB_LOG_DEBUG : NB_LOG_INFO, "dtls",
          "event=failed peer=%s role=%s err=%s alert=%s alert_by=%s",
          nb_addr_format(&s->peer, addr, sizeof addr), s->auth.server ? "server" : "client",
          nb_err_name(err), alert >= 0 ? nb_dtls_alert_name(alert) : "none",
          alert < 0 ? "none"
          : sent    ? "us"
                    : "peer");
  nb_dtls_emit(s, NB_DTLS_EV_FAILED, err, alert, sent);
}

/* A failure our side detected: tell the peer with a fatal alert. */
static void nb_dtls_fail_local(nb_dtls_session *s, int alert, nb_err err) {
  gnutls_alert_send(s->gs, GNUTLS_AL_FATAL, (gnutls_alert_description_t)alert);
  nb_dtls_fail(s, err, alert, true);
}

/* Alert for a local GnuTLS failure our own checks did not already choose. */
static int nb_dtls_error_alert(int rc) {
  int level;
  /* A peer that sends no certificate where one is required (RFC 5246 7.4.6). */
  if (rc == GNUTLS_E_NO_CERTIFICATE_FOUND) return GNUTLS_A_HANDSHAKE_FAILURE;
  return gnutls_error_to_alert(rc, &level);
}

static nb_err nb_dtls_map_error(int rc) {
  switch (rc) {
    case GNUTLS_E_NO_CERTIFICATE_FOUND:
    case GNUTLS_E_CERTIFICATE_ERROR:
    case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
      return NB_ERR_DTLS_PEER_REJECTED;
    case GNUTLS_E_MEMORY_ERROR:
      return NB_ERR_NOMEM;
    case GNUTLS_E_INTERNAL_ERROR:
      return NB_ERR_DTLS_GNUTLS;
    default:
      return NB_ERR_DTLS_HANDSHAKE;
  }
}

/* Handles a fatal or alert result of gnutls_handshake/record_recv; false if it was benign. */
static bool nb_dtls_handle_error(nb_dtls_session *s, int rc) {
  if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) return false;
  if (rc == GNUTLS_E_WARNING_ALERT_RECEIVED) {
    int alert = (int)gnutls_alert_get(s->gs);
    if (alert != GNUTLS_A_CLOSE_NOTIFY) return false;
    s->state = NB_DTLS_CLOSED;
    nb_dtls_emit(s, NB_DTLS_EV_CLOSED, NB_ERR_DTLS_CLOSED, alert, false);
    return true;
  }
  if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED) {
    nb_dtls_fail(s, NB_ERR_DTLS_ALERT, (int)gnutls_alert_get(s->gs), false);
    return true;
  }
  if (rc == GNUTLS_E_TIMEDOUT) {
    nb_dtls_fail(s, NB_ERR_DTLS_TIMEOUT, -1, false);
    return true;
  }
  if (!gnutls_error_is_fatal(rc)) return false;
  int alert = s->auth.fail_alert >= 0 ? s->auth.fail_alert : nb_dtls_error_alert(rc);
  nb_err err = s->auth.fail_err != NB_OK ? s->auth.fail_err : nb_dtls_map_error(rc);
  NB_LOG_DEBUG("dtls", "event=gnutls_error code=%d text=\"%s\"", rc, gnutls_strerror(rc));
  nb_dtls_fail_local(s, alert, err);
  return true;
}

/* ---- handshake and records ---- */

static void nb_dtls_flush_queue(nb_dtls_session *s) {
  nb_reader r;
  nb_reader_init(&r, s->queue.data, s->queue.len);
  while (nb_reader_remaining(&r) >= 2 && s->state == NB_DTLS_ESTABLISHED) {
    uint16_t n;
    const uint8_t *p;
    nb_reader_u16be(&r, &n);
    if (nb_reader_view(&r, n, &p) != NB_OK) break;
    gnutls_record_send(s->gs, p, n);
  }
  if (s->queue.data) gnutls_memset(s->queue.data, 0, s->queue.len);
  nb_bytes_free(&s->queue);
}

static void nb_dtls_handshake_done(nb_dtls_session *s) {
  char addr[NB_ADDR_STRLEN];
  s->resumed = gnutls_session_is_resumed(s->gs) != 0;
  if (nb_dtls_auth_finish(&s->auth, s->gs) != NB_OK) {
    nb_dtls_fail_local(s, s->auth.fail_alert, s->auth.fail_err);
    return;
  }
  s->state = NB_DTLS_ESTABLISHED;
  s->last_activity = s->now;
  s->rx = nb_dtls_rx_new(s->gs); /* NULL: GnuTLS opens every record, as before */
  NB_LOG_INFO("dtls", "event=established peer=%s role=%s mode=%s suite=%s resumed=%d",
              nb_addr_format(&s->peer, addr, sizeof addr), s->auth.server ? "server" : "client",
              nb_dtls_mode_name(s->auth.mode), nb_dtls_session_suite(s), s->resumed);
  nb_dtls_emit(s, NB_DTLS_EV_ESTABLISHED, NB_OK, -1, false);
  if (s->state == NB_DTLS_ESTABLISHED && s->queue.len > 0) nb_dtls_flush_queue(s);
}

static void nb_dtls_step_handshake(nb_dtls_session *s) {
  int rc = gnutls_handshake(s->gs);
  if (rc == GNUTLS_E_SUCCESS) {
    nb_dtls_handshake_done(s);
    return;
  }
  if (nb_dtls_handle_error(s, rc)) return;
  if (s->decrypt_failed) nb_dtls_fail_local(s, GNUTLS_A_BAD_RECORD_MAC, NB_ERR_DTLS_BAD_MAC);
}

/* Reads every record GnuTLS can give us now, delivering application data (each one's sequence
 * number goes into the window, so rx.c never accepts it again). */
static void nb_dtls_read_records(nb_dtls_session *s) {
  uint8_t buf[NB_DTLS_MAX_RECORD]; /* on the stack: callbacks may drive other sessions */
  while (s->state == NB_DTLS_ESTABLISHED && !s->doomed) {
    unsigned char seq[8];
    ssize_t n = gnutls_record_recv_seq(s->gs, buf, sizeof buf, seq);
    if (n > 0) {
      uint64_t es = 0;
      for (int i = 0; i < 8; i++) es = es << 8 | seq[i];
      if (es >> 48 == NB_DTLS_RX_EPOCH) nb_dtls_window_mark(&s->window, es & 0xFFFFFFFFFFFFull);
      s->last_activity = s->now;
      s->h.recv(s->h.user, &s->peer, buf, (size_t)n, s->now);
      continue;
    }
    if (n == 0) {
      s->state = NB_DTLS_CLOSED;
      nb_dtls_emit(s, NB_DTLS_EV_CLOSED, NB_ERR_DTLS_CLOSED, GNUTLS_A_CLOSE_NOTIFY, false);
      return;
    }
    if (n == GNUTLS_E_REHANDSHAKE) {
      /* Renegotiation is not offered: refuse it and keep the session. */
      gnutls_alert_send(s->gs, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
      return;
    }
    if (n == GNUTLS_E_WARNING_ALERT_RECEIVED && gnutls_alert_get(s->gs) != GNUTLS_A_CLOSE_NOTIFY) {
      continue; /* e.g. the peer's no_renegotiation: nothing changes */
    }
    if (!nb_dtls_handle_error(s, (int)n)) return;
  }
}

/* A restored session has no GnuTLS: application data and alerts of its epoch are opened
 * here (a close_notify closes it, a fatal alert fails it); anything else is dropped (a new
 * ClientHello from the peer is the server context's, which replaces this session). */
static void nb_dtls_read_restored(nb_dtls_session *s, const nb_dtls_record *rec, uint8_t *plain,
                                  size_t cap) {
  bool app = rec->type == NB_DTLS_CT_APPLICATION_DATA, alert = rec->type == NB_DTLS_CT_ALERT;
  size_t n = 0;
  if ((!app && !alert) || rec->epoch != s->kept->epoch || rec->body_len > cap ||
      nb_dtls_rx_open(s->rx, &s->window, rec, plain, &n) != NB_OK) {
    char addr[NB_ADDR_STRLEN];
    NB_LOG_DEBUG("dtls", "event=record_dropped peer=%s restored=1 type=%u epoch=%u",
                 nb_addr_format(&s->peer, addr, sizeof addr), rec->type, rec->epoch);
    return;
  }
  s->last_activity = s->now;
  if (app) {
    s->h.recv(s->h.user, &s->peer, plain, n, s->now);
  } else if (n == 2 && plain[1] == GNUTLS_A_CLOSE_NOTIFY) {
    s->state = NB_DTLS_CLOSED;
    nb_dtls_emit(s, NB_DTLS_EV_CLOSED, NB_ERR_DTLS_CLOSED, GNUTLS_A_CLOSE_NOTIFY, false);
  } else if (n == 2 && plain[0] == GNUTLS_AL_FATAL) {
    nb_dtls_fail(s, NB_ERR_DTLS_ALERT, plain[1], false);
  }
}

/* An established session with rx: its application records are opened here, one by one in
 * the order they came, and any other record (an alert, a retransmitted Finished) goes to
 * GnuTLS alone. A record that is replayed, too old or does not authenticate is dropped
 * silently (RFC 6347 4.1.2.6, 4.1.2.7). */
static void nb_dtls_read_datagram(nb_dtls_session *s, const uint8_t *data, size_t len) {
  uint8_t plain[NB_DTLS_MAX_RECORD]; /* on the stack: callbacks may drive other sessions */
  nb_reader r;
  nb_dtls_record rec;
  nb_reader_init(&r, data, len);
  while (s->state == NB_DTLS_ESTABLISHED && !s->doomed && nb_reader_remaining(&r) > 0) {
    size_t start = r.pos;
    if (nb_dtls_record_next(&r, &rec) != NB_OK) break;
    if (!s->gs) {
      nb_dtls_read_restored(s, &rec, plain, sizeof plain);
      continue;
    }
    if (!nb_dtls_rx_takes(&rec)) {
      s->in = data + start;
      s->in_len = r.pos - start;
      nb_dtls_read_records(s);
      s->in = NULL;
      continue;
    }
    size_t n = 0;
    nb_err err = rec.body_len <= sizeof plain ? nb_dtls_rx_open(s->rx, &s->window, &rec, plain, &n)
                                              : NB_ERR_RANGE;
    if (err != NB_OK) {
      char addr[NB_ADDR_STRLEN];
      NB_LOG_DEBUG("dtls", "event=record_dropped peer=%s seq=%llu err=%s",
                   nb_addr_format(&s->peer, addr, sizeof addr), (unsigned long long)rec.seq,
                   nb_err_name(err));
      continue;
    }
    s->last_activity = s->now;
    s->h.recv(s->h.user, &s->peer, plain, n, s->now);
  }
}

static void nb_dtls_update_deadline(nb_dtls_session *s) {
  if (s->state != NB_DTLS_HANDSHAKING) {
    s->deadline = NB_TIME_NEVER;
    return;
  }
  nb_time_ms wait = gnutls_dtls_get_timeout(s->gs);
  /* 0 right after gnutls_handshake ran means nothing is in flight yet (e.g. only part of a
   * fragmented ClientHello arrived): check back after one retransmission interval. */
  if (wait == 0) wait = s->params.retransmit_ms;
  nb_time_ms give_up = s->hs_start + s->params.handshake_timeout_ms;
  s->deadline = nb_time_min(s->now + wait, give_up);
}

/* ---- construction ---- */

void nb_dtls_session_params_default(nb_dtls_session_params *p) {
  p->mtu = 1200;
  p->retransmit_ms = 1000;
  p->handshake_timeout_ms = 60000;
  p->max_queued = 8192;
  p->session_ticket = true;
}

/* The GnuTLS half of a session: flags, credentials, memory transport, MTU, timers. */
static nb_err nb_dtls_gnutls_new(nb_dtls_session *s) {
  unsigned flags = (s->auth.server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_DATAGRAM |
                   GNUTLS_NONBLOCK | GNUTLS_ENABLE_RAWPK;
  if (!s->auth.server && !s->params.session_ticket) flags |= GNUTLS_NO_TICKETS;
  if (gnutls_init(&s->gs, flags) < 0) {
    s->gs = NULL;
    return NB_ERR_NOMEM;
  }
  nb_err err = nb_dtls_creds_attach(s->auth.creds, s->gs, s->auth.server);
  if (err != NB_OK) return err;
  gnutls_session_set_ptr(s->gs, &s->auth);
  gnutls_transport_set_ptr(s->gs, s);
  gnutls_transport_set_push_function(s->gs, nb_dtls_push);
  gnutls_transport_set_pull_function(s->gs, nb_dtls_pull);
  gnutls_transport_set_pull_timeout_function(s->gs, nb_dtls_pull_timeout);
  gnutls_dtls_set_mtu(s->gs, s->params.mtu);
  gnutls_dtls_set_timeouts(s->gs, (unsigned)s->params.retransmit_ms,
                           (unsigned)s->params.handshake_timeout_ms);
  return NB_OK;
}

static nb_err nb_dtls_session_alloc(const nb_dtls_creds *creds,
                                    const nb_dtls_session_params *params, const nb_dtls_handlers *h,
                                    const nb_addr *peer, bool server, nb_time_ms now,
                                    nb_dtls_session **out) {
  if (!creds || !h || !h->send || !h->recv || !peer) return NB_ERR_INVAL;
  nb_dtls_hooks_install();
  nb_dtls_session *s = calloc(1, sizeof *s);
  if (!s) return NB_ERR_NOMEM;
  s->auth.creds = creds;
  s->auth.server = server;
  s->auth.fail_alert = -1;
  s->auth.addr = &s->peer;
  s->auth.now = &s->now;
  s->peer = *peer;
  s->h = *h;
  if (params) {
    s->params = *params;
  } else {
    nb_dtls_session_params_default(&s->params);
  }
  s->now = now;
  s->deadline = NB_TIME_NEVER;
  nb_err err = nb_dtls_gnutls_new(s);
  if (err != NB_OK) {
    nb_dtls_destroy(s);
    return err;
  }
  *out = s;
  return NB_OK;
}

nb_err nb_dtls_client_new(const nb_dtls_creds *creds, const nb_dtls_session_params *params,
                          const nb_dtls_handlers *h, const nb_addr *server, nb_time_ms now,
                          nb_dtls_session **out) {
  return nb_dtls_session_alloc(creds, params, h, server, false, now, out);
}

nb_err nb_dtls_client_set_resume(nb_dtls_session *s, const uint8_t *data, size_t len) {
  if (s->auth.server || s->state != NB_DTLS_IDLE) return NB_ERR_STATE;
  if (gnutls_session_set_data(s->gs, data, len) != 0) return NB_ERR_INVAL;
  nb_bytes_clear(&s->resume);
  return nb_bytes_append(&s->resume, data, len);
}

nb_err nb_dtls_client_connect(nb_dtls_session *s, nb_time_ms now) {
  if (s->auth.server || s->state != NB_DTLS_IDLE) return NB_ERR_STATE;
  nb_dtls_frame f = nb_dtls_enter(s, now);
  s->state = NB_DTLS_HANDSHAKING;
  s->hs_start = s->now;
  nb_dtls_step_handshake(s);
  nb_dtls_update_deadline(s);
  nb_err err = s->state == NB_DTLS_FAILED ? NB_ERR_DTLS_HANDSHAKE : NB_OK;
  nb_dtls_leave(s, f);
  return err;
}

nb_err nb_dtls_session_new_server(const nb_dtls_creds *creds, const nb_dtls_session_params *params,
                                  const nb_dtls_handlers *h, const nb_addr *peer,
                                  const gnutls_datum_t *ticket_key,
                                  gnutls_dtls_prestate_st *prestate, nb_time_ms now,
                                  nb_dtls_session **out) {
  nb_dtls_session *s;
  nb_err err = nb_dtls_session_alloc(creds, params, h, peer, true, now, &s);
  if (err != NB_OK) return err;
  if (ticket_key && gnutls_session_ticket_enable_server(s->gs, ticket_key) < 0) {
    nb_dtls_destroy(s);
    return NB_ERR_DTLS_GNUTLS;
  }
  if (prestate) gnutls_dtls_prestate_set(s->gs, prestate);
  s->state = NB_DTLS_HANDSHAKING;
  s->hs_start = now;
  *out = s;
  return NB_OK;
}

/* ---- driving ---- */

nb_err nb_dtls_session_receive(nb_dtls_session *s, const uint8_t *data, size_t len,
                               nb_time_ms now) {
  if (s->state == NB_DTLS_CLOSED || s->state == NB_DTLS_FAILED) return NB_ERR_STATE;
  if (s->state == NB_DTLS_IDLE) return NB_ERR_STATE; /* nothing asked for: not ours */
  /* Only whole records reach GnuTLS: it would take an empty datagram for the end of the
   * transport, and keep a cut record's bytes to prepend to the next datagram. */
  size_t whole = nb_dtls_record_prefix(data, len);
  if (whole == 0) return NB_ERR_TRUNCATED;
  nb_dtls_frame f = nb_dtls_enter(s, now);
  nb_dtls_counters_add(&s->counters, false, data, len);
  if (s->state == NB_DTLS_ESTABLISHED && s->rx) {
    nb_dtls_read_datagram(s, data, whole);
  } else {
    /* The datagram that completes a handshake stays with GnuTLS to its last record. */
    s->in = data;
    s->in_len = whole;
    if (s->state == NB_DTLS_HANDSHAKING) nb_dtls_step_handshake(s);
    if (s->state == NB_DTLS_ESTABLISHED) nb_dtls_read_records(s);
  }
  s->in = NULL;
  nb_dtls_update_deadline(s);
  nb_err err = s->state == NB_DTLS_FAILED ? NB_ERR_DTLS_HANDSHAKE : NB_OK;
  nb_dtls_leave(s, f);
  return err;
}

static nb_err nb_dtls_enqueue(nb_dtls_session *s, const uint8_t *data, size_t len) {
  if (len > 0xFFFF || s->queue.len + 2 + len > s->params.max_queued) return NB_ERR_BUSY;
  uint8_t head[2] = {(uint8_t)(len >> 8), (uint8_t)len};
  nb_err err = nb_bytes_append(&s->queue, head, 2);
  if (err == NB_OK) err = nb_bytes_append(&s->queue, data, len);
  return err;
}

/* One record sealed under a restored session's write keys, at its next sequence number (inside
 * a public call's frame). */
static nb_err nb_dtls_seal_out(nb_dtls_session *s, uint8_t type, const uint8_t *data, size_t len) {
  if (len + NB_DTLS_CCM8_OVERHEAD > s->params.mtu) return NB_ERR_OVERFLOW;
  if (s->kept->write_seq > 0xFFFFFFFFFFFFull) return NB_ERR_DTLS_LIMIT; /* never wraps */
  uint8_t *rec = malloc(len + NB_DTLS_CCM8_OVERHEAD);
  if (!rec) return NB_ERR_NOMEM;
  size_t n = nb_dtls_rx_seal(s->tx, type, s->kept->epoch, s->kept->write_seq++, data, len, rec);
  nb_dtls_counters_add(&s->counters, true, rec, n);
  if (type == NB_DTLS_CT_APPLICATION_DATA) s->last_activity = s->now;
  s->h.send(s->h.user, &s->peer, rec, n);
  free(rec);
  return NB_OK;
}

nb_err nb_dtls_session_send(nb_dtls_session *s, const uint8_t *data, size_t len) {
  if (s->state == NB_DTLS_IDLE || (s->state == NB_DTLS_HANDSHAKING && !s->auth.server)) {
    nb_err err = nb_dtls_enqueue(s, data, len);
    if (err == NB_OK && s->state == NB_DTLS_IDLE) err = nb_dtls_client_connect(s, s->now);
    return err;
  }
  if (s->state != NB_DTLS_ESTABLISHED) return NB_ERR_DTLS_NOT_ESTABLISHED;
  nb_dtls_frame f = nb_dtls_enter(s, s->now);
  if (!s->gs) {
    nb_err err = nb_dtls_seal_out(s, NB_DTLS_CT_APPLICATION_DATA, data, len);
    nb_dtls_leave(s, f);
    return err;
  }
  ssize_t rc = gnutls_record_send(s->gs, data, len);
  if (rc >= 0) s->last_activity = s->now;
  nb_dtls_leave(s, f);
  if (rc == GNUTLS_E_LARGE_PACKET) return NB_ERR_OVERFLOW;
  return rc < 0 ? NB_ERR_DTLS_GNUTLS : NB_OK;
}

/* GnuTLS 3.7's client can stop retransmitting for good after some reorderings of the server's
 * last flight (it believes unprocessed records are pending while it waits for Finished; see
 * test_lossy_links). The server already finished and only answers a retransmission, so the
 * only way out is a fresh handshake: a new ClientHello, which the server answers by replacing
 * the session. Earlier in the handshake a silent client is normal (GnuTLS stops retransmitting
 * once part of the server's flight arrived and lets the server's own timer resend it). */
static void nb_dtls_restart(nb_dtls_session *s) {
  char addr[NB_ADDR_STRLEN];
  NB_LOG_INFO("dtls", "event=restart peer=%s reason=stalled restarts=%u",
              nb_addr_format(&s->peer, addr, sizeof addr), s->restarts + 1);
  gnutls_deinit(s->gs);
  s->gs = NULL;
  nb_dtls_auth_reset(&s->auth);
  s->decrypt_failed = false;
  s->sent_finished = false;
  s->silent_ticks = 0;
  s->restarts++;
  if (nb_dtls_gnutls_new(s) != NB_OK ||
      (s->resume.len > 0 && gnutls_session_set_data(s->gs, s->resume.data, s->resume.len) != 0)) {
    nb_dtls_fail(s, NB_ERR_DTLS_GNUTLS, -1, false);
    return;
  }
  nb_dtls_step_handshake(s);
}

enum { NB_DTLS_MAX_RESTARTS = 4, NB_DTLS_STALL_TICKS = 2 };

void nb_dtls_session_tick(nb_dtls_session *s, nb_time_ms now) {
  if (s->state != NB_DTLS_HANDSHAKING || now < s->deadline) return;
  nb_dtls_frame f = nb_dtls_enter(s, now);
  if (now >= s->hs_start + s->params.handshake_timeout_ms) {
    nb_dtls_fail(s, NB_ERR_DTLS_TIMEOUT, -1, false);
  } else {
    uint64_t sent = s->counters.hs_out.datagrams;
    nb_dtls_step_handshake(s);
    bool silent =
        s->state == NB_DTLS_HANDSHAKING && s->sent_finished && s->counters.hs_out.datagrams == sent;
    s->silent_ticks = silent ? s->silent_ticks + 1 : 0;
    if (!s->auth.server && s->silent_ticks >= NB_DTLS_STALL_TICKS &&
        s->restarts < NB_DTLS_MAX_RESTARTS) {
      nb_dtls_restart(s);
    }
  }
  nb_dtls_update_deadline(s);
  nb_dtls_leave(s, f);
}

nb_time_ms nb_dtls_session_next_deadline(const nb_dtls_session *s) { return s->deadline; }

nb_err nb_dtls_session_close(nb_dtls_session *s, nb_time_ms now) {
  if (s->state == NB_DTLS_CLOSED || s->state == NB_DTLS_FAILED) return NB_OK;
  nb_dtls_frame f = nb_dtls_enter(s, now);
  if (s->state == NB_DTLS_ESTABLISHED && !s->gs) {
    static const uint8_t close_notify[2] = {GNUTLS_AL_WARNING, GNUTLS_A_CLOSE_NOTIFY};
    nb_dtls_seal_out(s, NB_DTLS_CT_ALERT, close_notify, sizeof close_notify);
  } else if (s->state == NB_DTLS_ESTABLISHED) {
    gnutls_bye(s->gs, GNUTLS_SHUT_WR);
  } else if (s->state == NB_DTLS_HANDSHAKING) {
    gnutls_alert_send(s->gs, GNUTLS_AL_WARNING, GNUTLS_A_CLOSE_NOTIFY);
  }
  s->state = NB_DTLS_CLOSED;
  s->deadline = NB_TIME_NEVER;
  nb_dtls_leave(s, f);
  return NB_OK;
}

void nb_dtls_session_free(nb_dtls_session *s) {
  if (!s) return;
  if (s->busy > 0) {
    s->doomed = true;
    return;
  }
  nb_dtls_destroy(s);
}

/* ---- queries ---- */

const char *nb_dtls_state_name(nb_dtls_state state) {
  static const char *const names[] = {"idle", "handshaking", "established", "closed", "failed"};
  return (unsigned)state < sizeof names / sizeof names[0] ? names[state] : "?";
}

nb_dtls_state nb_dtls_session_state(const nb_dtls_session *s) { return s->state; }
bool nb_dtls_session_is_server(const nb_dtls_session *s) { return s->auth.server; }
const nb_addr *nb_dtls_session_addr(const nb_dtls_session *s) { return &s->peer; }

const nb_dtls_peer *nb_dtls_session_peer(nb_dtls_session *s) {
  return s->state == NB_DTLS_ESTABLISHED && s->auth.verified ? nb_dtls_auth_peer(&s->auth) : NULL;
}

bool nb_dtls_session_resumed(const nb_dtls_session *s) { return s->resumed; }

bool nb_dtls_session_offloaded(const nb_dtls_session *s) {
  return s->state == NB_DTLS_ESTABLISHED && s->rx != NULL;
}

const char *nb_dtls_session_suite(const nb_dtls_session *s) {
  if (s->state != NB_DTLS_ESTABLISHED) return "";
  if (!s->gs) return s->kept->suite;
  const char *name = gnutls_ciphersuite_get(s->gs);
  return name ? name : "";
}

void nb_dtls_session_counters(const nb_dtls_session *s, nb_dtls_counters *out) {
  *out = s->counters;
}

nb_time_ms nb_dtls_session_last_activity(const nb_dtls_session *s) { return s->last_activity; }
nb_time_ms nb_dtls_session_started(const nb_dtls_session *s) { return s->hs_start; }

nb_err nb_dtls_session_resume_data(const nb_dtls_session *s, nb_bytes *out) {
  gnutls_datum_t d = {0};
  if (s->state != NB_DTLS_ESTABLISHED || s->auth.server) return NB_ERR_STATE;
  if (gnutls_session_get_data2(s->gs, &d) < 0) return NB_ERR_DTLS_GNUTLS;
  nb_err err = nb_bytes_append(out, d.data, d.size);
  gnutls_free(d.data);
  return err;
}

unsigned nb_dtls_session_discarded(const nb_dtls_session *s) {
  return s->gs ? gnutls_record_get_discarded(s->gs) : 0;
}

bool nb_dtls_session_restored(const nb_dtls_session *s) { return s->gs == NULL && s->kept; }

/* ---- kept across a restart ---- */

/* One direction's keys of an established GnuTLS session (1 = read, 0 = write). */
static bool nb_dtls_state_keys(gnutls_session_t gs, int read, uint8_t key[NB_DTLS_CCM8_KEY],
                               uint8_t salt[NB_DTLS_CCM8_SALT], uint64_t *seq) {
  gnutls_datum_t mac = {NULL, 0}, iv = {NULL, 0}, k = {NULL, 0};
  unsigned char sq[8];
  if (gnutls_record_get_state(gs, (unsigned)read, &mac, &iv, &k, sq) < 0) return false;
  if (k.size != NB_DTLS_CCM8_KEY || iv.size != NB_DTLS_CCM8_SALT) return false;
  memcpy(key, k.data, NB_DTLS_CCM8_KEY);
  memcpy(salt, iv.data, NB_DTLS_CCM8_SALT);
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | sq[i];
  *seq = v & 0xFFFFFFFFFFFFull; /* GnuTLS may keep the epoch in the top 16 bits */
  return true;
}

nb_err nb_dtls_session_export(nb_dtls_session *s, nb_dtls_saved *out) {
  if (!s->auth.server || s->state != NB_DTLS_ESTABLISHED || !s->auth.verified) return NB_ERR_STATE;
  if (!s->gs) {
    *out = *s->kept;
    out->window = s->window;
    return NB_OK;
  }
  if (!s->rx) return NB_ERR_UNSUPPORTED; /* not AES-128-CCM-8 */
  memset(out, 0, sizeof *out);
  const nb_dtls_peer *who = nb_dtls_auth_peer(&s->auth);
  if (!who) return NB_ERR_NOMEM;
  uint64_t read_seq = 0;
  if (!nb_dtls_state_keys(s->gs, 1, out->read_key, out->read_salt, &read_seq) ||
      !nb_dtls_state_keys(s->gs, 0, out->write_key, out->write_salt, &out->write_seq)) {
    gnutls_memset(out, 0, sizeof *out);
    return NB_ERR_UNSUPPORTED;
  }
  out->peer = s->peer;
  out->who = *who;
  snprintf(out->suite, sizeof out->suite, "%s", nb_dtls_session_suite(s));
  out->epoch = NB_DTLS_RX_EPOCH;
  out->window = s->window;
  return NB_OK;
}

nb_err nb_dtls_session_new_restored(const nb_dtls_creds *creds,
                                    const nb_dtls_session_params *params, const nb_dtls_handlers *h,
                                    const nb_dtls_saved *sv, nb_time_ms now,
                                    nb_dtls_session **out) {
  if (!creds || !h || !h->send || !h->recv || !sv || sv->epoch == 0) return NB_ERR_INVAL;
  nb_dtls_session *s = calloc(1, sizeof *s);
  if (!s) return NB_ERR_NOMEM;
  s->auth.creds = creds;
  s->auth.server = true;
  s->auth.fail_alert = -1;
  s->auth.addr = &s->peer;
  s->auth.now = &s->now;
  s->auth.mode = sv->who.mode;
  s->peer = sv->peer;
  s->h = *h;
  if (params) {
    s->params = *params;
  } else {
    nb_dtls_session_params_default(&s->params);
  }
  s->now = s->hs_start = s->last_activity = now;
  s->deadline = NB_TIME_NEVER;
  s->kept = malloc(sizeof *s->kept);
  s->auth.peer = malloc(sizeof *s->auth.peer);
  if (s->kept) *s->kept = *sv;
  if (s->auth.peer) *s->auth.peer = sv->who;
  s->rx = nb_dtls_rx_from_keys(sv->read_key, sv->read_salt);
  s->tx = nb_dtls_rx_from_keys(sv->write_key, sv->write_salt);
  if (!s->kept || !s->auth.peer || !s->rx || !s->tx) {
    nb_dtls_destroy(s);
    return NB_ERR_NOMEM;
  }
  s->kept->write_seq += NB_DTLS_RESTORE_SEQ_GAP;
  s->kept->suite[NB_DTLS_SUITE_MAX - 1] = '\0';
  s->window = sv->window;
  s->auth.verified = true;
  s->state = NB_DTLS_ESTABLISHED;
  *out = s;
  return NB_OK;
}
