/* libuv shell: loop and signals, UDP sockets with recvmmsg batching, the CoAP endpoint driver. */
#include "io/loop.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#ifdef __linux__
#include <linux/errqueue.h>
#endif

#include "base/log.h"

#define NB_IO_MOD "io"
#define NB_IO_DEFAULT_BATCH 16
/* libuv caps one recvmmsg call at 20 messages (UV__MMSG_MAXWIDTH); more slots would be waste. */
#define NB_IO_MAX_BATCH 20
/* Replies held for one sendmmsg at the end of a receive batch: datagrams and bytes. */
#define NB_IO_OUT_MAX 32
#define NB_IO_OUT_BYTES 16384

struct nb_io_loop {
  uv_loop_t uv;
  uv_signal_t signals[2];
  bool signals_on;
  nb_io_signal_fn signal_fn;
  void *signal_user;
};

/* Datagrams sent while a recvmmsg batch of the socket is handed out, copied, to leave in one
 * sendmmsg when the batch ends. */
typedef struct {
  struct mmsghdr msg[NB_IO_OUT_MAX];
  struct iovec iov[NB_IO_OUT_MAX];
  struct sockaddr_storage to[NB_IO_OUT_MAX];
  unsigned n;
  size_t used;
  uint8_t data[NB_IO_OUT_BYTES];
} nb_io_out;

struct nb_io_udp {
  uv_udp_t handle;
  nb_io_loop *loop;
  nb_io_datagram_fn receiver;
  void *receiver_user;
  unsigned batch;
  uint8_t *buf; /* one buffer reused for every read: datagrams are consumed in the callback */
  size_t buf_len;
  uint64_t in_batch; /* datagrams seen so far in the current recvmmsg batch */
  nb_io_out *out;    /* allocated at the first batch that sends */
  bool deferring;    /* inside a recvmmsg batch: sends wait in out */
  bool closing;
  nb_io_udp_stats stats;
  nb_io_udp_error_fn on_error; /* ICMP errors asked for (nb_io_udp_report_errors) */
  void *error_user;
};

/* A datagram that could not be written at once, copied so the caller's buffer may go. */
typedef struct {
  uv_udp_send_t req;
  nb_io_udp *udp;
  size_t len;
  uint8_t data[];
} nb_io_send_req;

struct nb_io_coap {
  nb_io_loop *loop;
  nb_coap_ep *ep;
  nb_io_udp *udp; /* owned when made by nb_io_coap_open_udp */
  nb_io_deadline *deadline;
};

struct nb_io_deadline {
  uv_timer_t timer;
  uv_prepare_t prepare;
  nb_io_next_deadline_fn next;
  nb_io_tick_fn tick;
  void *user;
  nb_time_ms armed; /* deadline the timer is running for, NB_TIME_NEVER when stopped */
  int open_handles;
};

/* ---- loop ---- */

nb_err nb_io_loop_new(nb_io_loop **out) {
  nb_io_loop *loop = calloc(1, sizeof *loop);
  if (!loop) return NB_ERR_NOMEM;
  int r = uv_loop_init(&loop->uv);
  if (r != 0) {
    NB_LOG_ERROR(NB_IO_MOD, "event=loop_init_failed reason=\"%s\"", uv_strerror(r));
    free(loop);
    return NB_ERR_IO;
  }
  loop->uv.data = loop;
  *out = loop;
  return NB_OK;
}

static void nb_io_report_open_handle(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) {
    NB_LOG_WARN(NB_IO_MOD, "event=handle_left_open type=%s", uv_handle_type_name(h->type));
  }
}

void nb_io_loop_free(nb_io_loop *loop) {
  if (!loop) return;
  if (loop->signals_on) {
    for (size_t i = 0; i < 2; i++) uv_close((uv_handle_t *)&loop->signals[i], NULL);
  }
  /* Close callbacks run at the end of an iteration; two rounds also cover closes that a close
   * callback starts. */
  for (int round = 0; round < 2; round++) uv_run(&loop->uv, UV_RUN_NOWAIT);
  if (uv_loop_close(&loop->uv) == UV_EBUSY) {
    uv_walk(&loop->uv, nb_io_report_open_handle, NULL);
    return; /* handles still point into loop: leaking beats a use-after-free */
  }
  free(loop);
}

uv_loop_t *nb_io_loop_uv(nb_io_loop *loop) { return &loop->uv; }

nb_time_ms nb_io_loop_now(nb_io_loop *loop) {
  uv_update_time(&loop->uv);
  return (nb_time_ms)uv_now(&loop->uv);
}

nb_time_ms nb_io_loop_time(const nb_io_loop *loop) { return (nb_time_ms)uv_now(&loop->uv); }

nb_err nb_io_loop_run(nb_io_loop *loop) {
  int r = uv_run(&loop->uv, UV_RUN_DEFAULT);
  (void)r; /* nonzero only means handles are still active after uv_stop */
  return NB_OK;
}

void nb_io_loop_stop(nb_io_loop *loop) { uv_stop(&loop->uv); }

static void nb_io_on_signal(uv_signal_t *h, int signum) {
  nb_io_loop *loop = h->data;
  if (loop->signal_fn) loop->signal_fn(loop->signal_user, signum);
}

nb_err nb_io_loop_on_signals(nb_io_loop *loop, nb_io_signal_fn fn, void *user) {
  static const int signums[2] = {SIGINT, SIGTERM};
  loop->signal_fn = fn;
  loop->signal_user = user;
  if (loop->signals_on) return NB_OK;
  int r = 0;
  size_t inited = 0;
  while (inited < 2 && (r = uv_signal_init(&loop->uv, &loop->signals[inited])) == 0) inited++;
  for (size_t i = 0; r == 0 && i < 2; i++) {
    uv_signal_t *h = &loop->signals[i];
    h->data = loop;
    uv_unref((uv_handle_t *)h);
    r = uv_signal_start(h, nb_io_on_signal, signums[i]);
  }
  if (r != 0) {
    NB_LOG_ERROR(NB_IO_MOD, "event=signal_failed reason=\"%s\"", uv_strerror(r));
    for (size_t i = 0; i < inited; i++) uv_close((uv_handle_t *)&loop->signals[i], NULL);
    return NB_ERR_IO;
  }
  loop->signals_on = true;
  return NB_OK;
}

/* ---- UDP socket ---- */

void nb_io_udp_config_default(nb_io_udp_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->batch = NB_IO_DEFAULT_BATCH;
}

/* libuv asks for a buffer before each read. With recvmmsg it splits the buffer into chunks of
 * the suggested size (64 KiB), one per datagram, so the buffer is batch chunks long; it must be
 * at least two chunks or libuv cannot use recvmmsg at all. The same buffer serves every read
 * because each datagram is consumed before the callback returns. */
static void nb_io_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out) {
  nb_io_udp *udp = h->data;
  if (!udp->buf) {
    size_t chunks = udp->stats.recvmmsg ? udp->batch : 1;
    udp->buf = malloc(suggested * chunks);
    udp->buf_len = udp->buf ? suggested * chunks : 0;
  }
  /* A NULL/0 buffer makes libuv report UV_ENOBUFS, counted as a drop. */
  *out = uv_buf_init((char *)udp->buf, (unsigned)udp->buf_len);
}

static void nb_io_udp_flush(nb_io_udp *udp);

static void nb_io_udp_end_read(nb_io_udp *udp, uint64_t datagrams) {
  udp->stats.rx_reads++;
  if (datagrams > udp->stats.rx_max_batch) udp->stats.rx_max_batch = datagrams;
}

/* ---- ICMP errors (Linux IP_RECVERR) ---- */

/* Reads the socket's error queue: each ICMP error names the destination of the datagram that
 * caused it. The queue must be emptied once asked for: EPOLLERR stays up while it holds
 * anything, and libuv would spin on it. Bounded per call. */
static void nb_io_udp_drain_errors(nb_io_udp *udp) {
#ifdef __linux__
  int fd = nb_io_udp_fd(udp);
  for (int i = 0; fd >= 0 && i < 64; i++) {
    struct sockaddr_storage dst;
    uint8_t data[64];
    union {
      struct cmsghdr align;
      uint8_t buf[512];
    } ctl;
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
    struct msghdr m = {.msg_name = &dst,
                       .msg_namelen = sizeof dst,
                       .msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = ctl.buf,
                       .msg_controllen = sizeof ctl.buf};
    if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return; /* EAGAIN: empty */
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
      bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
      if (!v4 && !v6) continue;
      struct sock_extended_err ee;
      memcpy(&ee, CMSG_DATA(c), sizeof ee);
      nb_addr peer;
      bool icmp = ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6;
      if (icmp && udp->on_error && m.msg_namelen > 0 &&
          nb_addr_from_sockaddr((const struct sockaddr *)&dst, &peer) == NB_OK)
        udp->on_error(udp->error_user, &peer, (int)ee.ee_errno);
    }
  }
#else
  (void)udp;
#endif
}

nb_err nb_io_udp_report_errors(nb_io_udp *udp, nb_io_udp_error_fn fn, void *user) {
#ifdef __linux__
  int fd = nb_io_udp_fd(udp), on = 1;
  nb_addr local;
  if (fd < 0 || nb_io_udp_local_addr(udp, &local) != NB_OK) return NB_ERR_IO;
  int r = local.family == NB_ADDR_V6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on)
                                     : setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
  if (r != 0) {
    NB_LOG_WARN(NB_IO_MOD, "event=recverr_failed reason=\"%s\"", strerror(errno));
    return NB_ERR_IO;
  }
  udp->on_error = fn;
  udp->error_user = user;
  return NB_OK;
#else
  (void)udp, (void)fn, (void)user;
  return NB_ERR_UNSUPPORTED;
#endif
}

static bool nb_io_is_icmp_error(int uverr) {
  return uverr == UV_ECONNREFUSED || uverr == UV_EHOSTUNREACH || uverr == UV_ENETUNREACH;
}

static void nb_io_udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                           const struct sockaddr *addr, unsigned flags) {
  nb_io_udp *udp = h->data;
  if (udp->closing) return;
  if (nread < 0) {
    if (udp->on_error && nb_io_is_icmp_error((int)nread)) {
      nb_io_udp_drain_errors(udp);
      return;
    }
    udp->stats.rx_dropped++;
    NB_LOG_DEBUG(NB_IO_MOD, "event=recv_error reason=\"%s\"", uv_strerror((int)nread));
    return;
  }
  /* libuv's "nothing to read": after an EPOLLERR whose error a send already took, the queue may
   * still hold its ICMP message. */
  if (!addr && nread == 0 && !(flags & UV_UDP_MMSG_FREE) && udp->on_error)
    nb_io_udp_drain_errors(udp);
  if (!addr) {
    /* Either "nothing more to read" or the end of a recvmmsg batch. */
    if (flags & UV_UDP_MMSG_FREE) {
      nb_io_udp_end_read(udp, udp->in_batch);
      udp->in_batch = 0;
    }
    udp->deferring = false;
    nb_io_udp_flush(udp);
    return;
  }
  if (flags & UV_UDP_MMSG_CHUNK) {
    udp->in_batch++;
    udp->deferring = true; /* libuv ends every batch with an addr-less callback */
  } else {
    nb_io_udp_end_read(udp, 1);
  }
  nb_addr peer;
  if ((flags & UV_UDP_PARTIAL) || !udp->receiver || nb_addr_from_sockaddr(addr, &peer) != NB_OK) {
    udp->stats.rx_dropped++;
    return;
  }
  udp->stats.rx++;
  udp->receiver(udp->receiver_user, &peer, (const uint8_t *)buf->base, (size_t)nread);
}

static void nb_io_udp_closed(uv_handle_t *h) {
  nb_io_udp *udp = h->data;
  free(udp->out);
  free(udp->buf);
  free(udp);
}

static nb_err nb_io_uv_to_err(int r) {
  if (r == UV_EADDRINUSE) return NB_ERR_EXISTS;
  if (r == UV_ENOMEM) return NB_ERR_NOMEM;
  return NB_ERR_IO;
}

nb_err nb_io_udp_open(nb_io_loop *loop, const nb_addr *local, const nb_io_udp_config *cfg,
                      nb_io_udp **out) {
  nb_io_udp_config defaults;
  if (!cfg) {
    nb_io_udp_config_default(&defaults);
    cfg = &defaults;
  }
  struct sockaddr_storage ss;
  size_t sslen;
  if (nb_addr_to_sockaddr(local, (struct sockaddr *)&ss, sizeof ss, &sslen) != NB_OK) {
    return NB_ERR_INVAL;
  }
  nb_io_udp *udp = calloc(1, sizeof *udp);
  if (!udp) return NB_ERR_NOMEM;
  udp->loop = loop;
  udp->batch = cfg->batch < 1 ? 1 : cfg->batch > NB_IO_MAX_BATCH ? NB_IO_MAX_BATCH : cfg->batch;
  unsigned flags = (unsigned)ss.ss_family | (udp->batch > 1 ? UV_UDP_RECVMMSG : 0);
  int r = uv_udp_init_ex(&loop->uv, &udp->handle, flags);
  if (r != 0) {
    free(udp);
    NB_LOG_ERROR(NB_IO_MOD, "event=udp_init_failed reason=\"%s\"", uv_strerror(r));
    return nb_io_uv_to_err(r);
  }
  udp->handle.data = udp;
  unsigned bind_flags = ss.ss_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0;
  r = uv_udp_bind(&udp->handle, (const struct sockaddr *)&ss, bind_flags);
  if (r == 0) r = uv_udp_recv_start(&udp->handle, nb_io_udp_alloc, nb_io_udp_recv);
  if (r != 0) {
    char text[NB_ADDR_STRLEN];
    NB_LOG_ERROR(NB_IO_MOD, "event=udp_bind_failed addr=%s reason=\"%s\"",
                 nb_addr_format(local, text, sizeof text), uv_strerror(r));
    udp->closing = true;
    uv_close((uv_handle_t *)&udp->handle, nb_io_udp_closed);
    return nb_io_uv_to_err(r);
  }
  udp->stats.recvmmsg = uv_udp_using_recvmmsg(&udp->handle) == 1;
  *out = udp;
  return NB_OK;
}

void nb_io_udp_set_receiver(nb_io_udp *udp, nb_io_datagram_fn fn, void *user) {
  udp->receiver = fn;
  udp->receiver_user = user;
}

static void nb_io_udp_sent(uv_udp_send_t *req, int status) {
  nb_io_send_req *s = req->data;
  if (status < 0 && status != UV_ECANCELED) {
    s->udp->stats.tx_errors++;
    NB_LOG_DEBUG(NB_IO_MOD, "event=send_error reason=\"%s\"", uv_strerror(status));
  }
  free(s);
}

/* The socket is full: hand libuv a copy to write when it can. */
static void nb_io_udp_queue(nb_io_udp *udp, const struct sockaddr *sa, const uint8_t *data,
                            size_t len) {
  nb_io_send_req *s = malloc(sizeof *s + len);
  if (!s) {
    udp->stats.tx_errors++;
    return;
  }
  s->udp = udp;
  s->len = len;
  if (len) memcpy(s->data, data, len);
  s->req.data = s;
  uv_buf_t b = uv_buf_init((char *)s->data, (unsigned)len);
  int r = uv_udp_send(&s->req, &udp->handle, &b, 1, sa, nb_io_udp_sent);
  if (r != 0) {
    udp->stats.tx_errors++;
    free(s);
    return;
  }
  udp->stats.tx_queued++;
}

/* Sends what waits in out: one sendmmsg while the socket takes it (what it refuses is counted
 * and skipped), the rest behind libuv's queue when the socket is full or the queue is not empty
 * (order is kept). */
static void nb_io_udp_flush(nb_io_udp *udp) {
  nb_io_out *o = udp->out;
  if (!o || o->n == 0) return;
  unsigned n = o->n, done = 0;
  int fd = nb_io_udp_fd(udp);
  if (fd >= 0 && uv_udp_get_send_queue_count(&udp->handle) == 0) {
    bool drained = false;
    while (done < n) {
      int r = sendmmsg(fd, o->msg + done, n - done, 0);
      if (r > 0) {
        udp->stats.tx += (unsigned)r;
        udp->stats.tx_calls++;
        done += (unsigned)r;
        drained = false;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        break;
      } else if (!drained && udp->on_error && nb_io_is_icmp_error(uv_translate_sys_error(errno))) {
        /* An earlier datagram's ICMP error (the send took it): tell it, send this one after all,
         * as nb_io_udp_send does. */
        nb_io_udp_drain_errors(udp);
        drained = true;
      } else if (errno != EINTR) {
        udp->stats.tx_errors++;
        NB_LOG_DEBUG(NB_IO_MOD, "event=send_error reason=\"%s\"", strerror(errno));
        done++;
      }
    }
  }
  for (; fd >= 0 && done < n; done++)
    nb_io_udp_queue(udp, (const struct sockaddr *)&o->to[done], o->iov[done].iov_base,
                    o->iov[done].iov_len);
  o->n = 0;
  o->used = 0;
}

/* Keeps a copy of the datagram for the flush at the end of the batch; false when it must go now
 * (too large to hold, or no memory for the buffer). */
static bool nb_io_udp_defer(nb_io_udp *udp, const struct sockaddr_storage *ss, size_t sslen,
                            const uint8_t *data, size_t len) {
  if (len > NB_IO_OUT_BYTES) return false;
  if (!udp->out && !(udp->out = calloc(1, sizeof *udp->out))) return false;
  nb_io_out *o = udp->out;
  if (o->n == NB_IO_OUT_MAX || o->used + len > NB_IO_OUT_BYTES) nb_io_udp_flush(udp);
  unsigned i = o->n++;
  if (len) memcpy(o->data + o->used, data, len);
  o->to[i] = *ss;
  o->iov[i] = (struct iovec){.iov_base = o->data + o->used, .iov_len = len};
  o->msg[i].msg_hdr = (struct msghdr){.msg_name = &o->to[i],
                                      .msg_namelen = (socklen_t)sslen,
                                      .msg_iov = &o->iov[i],
                                      .msg_iovlen = 1};
  o->used += len;
  return true;
}

void nb_io_udp_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  nb_io_udp *udp = user;
  struct sockaddr_storage ss;
  size_t sslen;
  if (udp->closing) return;
  if (nb_addr_to_sockaddr(peer, (struct sockaddr *)&ss, sizeof ss, &sslen) != NB_OK) {
    udp->stats.tx_errors++;
    return;
  }
  if (udp->deferring && nb_io_udp_defer(udp, &ss, sslen, data, len)) return;
  nb_io_udp_flush(udp); /* whatever waits goes first */
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  /* try_send also answers EAGAIN while earlier datagrams wait in libuv's queue, so queued
   * datagrams are never overtaken. */
  int r = uv_udp_try_send(&udp->handle, &b, 1, (const struct sockaddr *)&ss);
  if (udp->on_error && nb_io_is_icmp_error(r)) {
    /* The send only reported an earlier datagram's ICMP error (and cleared it): tell it, and
     * send this one after all. */
    nb_io_udp_drain_errors(udp);
    r = uv_udp_try_send(&udp->handle, &b, 1, (const struct sockaddr *)&ss);
  }
  if (r >= 0) {
    udp->stats.tx++;
    udp->stats.tx_calls++;
  } else if (r == UV_EAGAIN) {
    nb_io_udp_queue(udp, (const struct sockaddr *)&ss, data, len);
  } else {
    udp->stats.tx_errors++;
    char text[NB_ADDR_STRLEN];
    NB_LOG_DEBUG(NB_IO_MOD, "event=send_error peer=%s reason=\"%s\"",
                 nb_addr_format(peer, text, sizeof text), uv_strerror(r));
  }
}

nb_err nb_io_udp_local_addr(const nb_io_udp *udp, nb_addr *out) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_udp_getsockname(&udp->handle, (struct sockaddr *)&ss, &len) != 0) return NB_ERR_IO;
  return nb_addr_from_sockaddr((const struct sockaddr *)&ss, out);
}

void nb_io_udp_get_stats(const nb_io_udp *udp, nb_io_udp_stats *out) { *out = udp->stats; }

int nb_io_udp_fd(const nb_io_udp *udp) {
  uv_os_fd_t fd;
  if (udp->closing || uv_fileno((const uv_handle_t *)&udp->handle, &fd) != 0) return -1;
  return fd;
}

void nb_io_udp_close(nb_io_udp *udp) {
  if (!udp || udp->closing) return;
  udp->closing = true;
  uv_close((uv_handle_t *)&udp->handle, nb_io_udp_closed);
}

/* ---- deadline timer ---- */

static nb_time_ms nb_io_uv_now(uv_handle_t *h) { return (nb_time_ms)uv_now(h->loop); }

static void nb_io_deadline_on_timer(uv_timer_t *h) {
  nb_io_deadline *d = h->data;
  d->armed = NB_TIME_NEVER; /* a one-shot timer is stopped once it has fired */
  uv_update_time(h->loop);
  d->tick(d->user, nb_io_uv_now((uv_handle_t *)h));
}

static void nb_io_deadline_rearm(uv_prepare_t *h) {
  nb_io_deadline *d = h->data;
  uv_update_time(h->loop);
  nb_time_ms now = nb_io_uv_now((uv_handle_t *)h);
  nb_time_ms deadline = d->next(d->user, now);
  if (uv_is_closing((uv_handle_t *)h) || deadline == d->armed) return;
  if (deadline == NB_TIME_NEVER) {
    uv_timer_stop(&d->timer);
  } else {
    /* libuv timers count from the cached loop time, which is also what `now` was based on. */
    uint64_t delay = deadline > now ? (uint64_t)(deadline - now) : 0;
    uv_timer_start(&d->timer, nb_io_deadline_on_timer, delay, 0);
  }
  d->armed = deadline;
}

nb_err nb_io_deadline_new(nb_io_loop *loop, nb_io_next_deadline_fn next, nb_io_tick_fn tick,
                          void *user, nb_io_deadline **out) {
  nb_io_deadline *d = calloc(1, sizeof *d);
  if (!d) return NB_ERR_NOMEM;
  d->next = next;
  d->tick = tick;
  d->user = user;
  d->armed = NB_TIME_NEVER;
  /* Neither init can fail on Unix for a valid loop. */
  uv_timer_init(&loop->uv, &d->timer);
  uv_prepare_init(&loop->uv, &d->prepare);
  d->timer.data = d->prepare.data = d;
  d->open_handles = 2;
  uv_prepare_start(&d->prepare, nb_io_deadline_rearm);
  uv_unref((uv_handle_t *)&d->prepare);
  *out = d;
  return NB_OK;
}

static void nb_io_deadline_closed(uv_handle_t *h) {
  nb_io_deadline *d = h->data;
  if (--d->open_handles == 0) free(d);
}

void nb_io_deadline_close(nb_io_deadline *d) {
  if (!d || uv_is_closing((uv_handle_t *)&d->timer)) return;
  uv_close((uv_handle_t *)&d->timer, nb_io_deadline_closed);
  uv_close((uv_handle_t *)&d->prepare, nb_io_deadline_closed);
}

/* ---- CoAP endpoint driver ---- */

static void nb_io_coap_tick(void *user, nb_time_ms now) {
  nb_io_coap *c = user;
  nb_coap_ep_tick(c->ep, now);
}

static nb_time_ms nb_io_coap_next(void *user, nb_time_ms now) {
  (void)now;
  nb_io_coap *c = user;
  return nb_coap_ep_next_deadline(c->ep);
}

nb_err nb_io_coap_new(nb_io_loop *loop, const nb_coap_ep_config *cfg, nb_io_datagram_fn out,
                      void *out_user, nb_io_coap **res) {
  nb_coap_ep_config defaults;
  if (!cfg) {
    nb_coap_ep_config_default(&defaults);
    cfg = &defaults;
  }
  nb_io_coap *c = calloc(1, sizeof *c);
  if (!c) return NB_ERR_NOMEM;
  c->loop = loop;
  nb_err err = nb_coap_ep_new(cfg, out, out_user, &c->ep);
  if (err == NB_OK)
    err = nb_io_deadline_new(loop, nb_io_coap_next, nb_io_coap_tick, c, &c->deadline);
  if (err != NB_OK) {
    nb_coap_ep_free(c->ep);
    free(c);
    return err;
  }
  *res = c;
  return NB_OK;
}

nb_err nb_io_coap_open_udp(nb_io_loop *loop, const nb_addr *local, const nb_coap_ep_config *cfg,
                           nb_io_coap **res) {
  nb_io_udp *udp;
  nb_err err = nb_io_udp_open(loop, local, NULL, &udp);
  if (err != NB_OK) return err;
  nb_io_coap *c;
  err = nb_io_coap_new(loop, cfg, nb_io_udp_send, udp, &c);
  if (err != NB_OK) {
    nb_io_udp_close(udp);
    return err;
  }
  c->udp = udp;
  nb_io_udp_set_receiver(udp, nb_io_coap_input, c);
  *res = c;
  return NB_OK;
}

void nb_io_coap_input(void *coap, const nb_addr *peer, const uint8_t *data, size_t len) {
  nb_io_coap *c = coap;
  nb_coap_ep_receive(c->ep, peer, data, len, nb_io_loop_time(c->loop));
}

nb_coap_ep *nb_io_coap_ep(nb_io_coap *coap) { return coap->ep; }

nb_io_udp *nb_io_coap_udp(nb_io_coap *coap) { return coap->udp; }

void nb_io_coap_free(nb_io_coap *coap) {
  if (!coap) return;
  nb_io_deadline_close(coap->deadline);
  nb_coap_ep_free(coap->ep);
  if (coap->udp) {
    nb_io_udp_set_receiver(coap->udp, NULL, NULL);
    nb_io_udp_close(coap->udp);
  }
  free(coap);
}
