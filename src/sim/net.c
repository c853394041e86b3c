/* The fleet simulator's sockets: shared sockets with per-device loopback addresses, or one
 * socket per device. */
#include "sim/net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "io/srcaddr.h"

#define NB_SIM_NET_LOG "sim"
#define NB_SIM_BATCH 64
#define NB_SIM_SLOT 2048
#define NB_SIM_DEVICES_PER_SOCKET 4096
#define NB_SIM_MAX_SHARED 16
#define NB_SIM_SOCKBUF (4 << 20)

typedef struct {
  nb_sim_net *n;
  uv_poll_t poll;
  int fd;
  uint32_t dev; /* per-device sockets */
  nb_addr local;
  nb_srcaddr_batch *out; /* shared sockets */
} nb_sim_sock;

struct nb_sim_net {
  nb_io_loop *loop;
  nb_sim_net_config cfg;
  nb_sim_fleet *fleet;
  nb_sim_sock **socks; /* shared: K sockets; per-device: one slot per device (NULL until used) */
  uint32_t nsocks;
  nb_srcaddr_batch *in;
  nb_addr bind;
  unsigned open_handles;
  bool closing;
  nb_sim_net_stats st;
};

nb_err nb_sim_sockets_parse(const char *text, nb_sim_sockets *out) {
  if (strcmp(text, "auto") == 0)
    *out = NB_SIM_SOCK_AUTO;
  else if (strcmp(text, "shared") == 0)
    *out = NB_SIM_SOCK_SHARED;
  else if (strcmp(text, "per-device") == 0)
    *out = NB_SIM_SOCK_PER_DEVICE;
  else
    return NB_ERR_INVAL;
  return NB_OK;
}

static bool nb_sim_is_v4_loopback(const nb_addr *a) {
  return a->family == NB_ADDR_V4 && a->ip[0] == 127;
}

static bool nb_sim_is_loopback(const nb_addr *a) {
  static const uint8_t v6lo[16] = {[15] = 1};
  return nb_sim_is_v4_loopback(a) || (a->family == NB_ADDR_V6 && !memcmp(a->ip, v6lo, 16));
}

/* ---- receiving ---- */

static void nb_sim_net_read(nb_sim_net *n, nb_sim_sock *s) {
  for (int rounds = 0; rounds < 16; rounds++) { /* then let the loop breathe */
    unsigned got = nb_srcaddr_batch_recv(n->in, s->fd);
    if (got == 0) return;
    nb_time_ms now = nb_io_loop_now(n->loop);
    for (unsigned i = 0; i < got; i++) {
      size_t len;
      nb_addr from, to;
      const uint8_t *data = nb_srcaddr_batch_get(n->in, i, &len, &from, &to);
      uint32_t dev = s->dev, idx;
      if (!s->out) {
        /* a per-device socket */
      } else if (nb_srcaddr_index(&to, &idx) && idx >= n->cfg.first_addr &&
                 idx - n->cfg.first_addr < n->cfg.devices) {
        dev = idx - n->cfg.first_addr;
      } else {
        dev = UINT32_MAX;
      }
      if (!data || dev == UINT32_MAX || !n->fleet) {
        n->st.rx_stray++;
        continue;
      }
      n->st.rx++;
      nb_sim_fleet_receive(n->fleet, dev, &from, data, len, now);
    }
    if (got < NB_SIM_BATCH) return;
  }
}

static void nb_sim_on_poll(uv_poll_t *h, int status, int events) {
  nb_sim_sock *s = h->data;
  if (status < 0 || !(events & UV_READABLE) || s->n->closing) return;
  nb_sim_net_read(s->n, s);
}

/* ---- sockets ---- */

static void nb_sim_sock_closed(uv_handle_t *h) {
  nb_sim_sock *s = h->data;
  nb_sim_net *n = s->n;
  if (s->fd >= 0) close(s->fd);
  nb_srcaddr_batch_free(s->out);
  free(s);
  if (--n->open_handles == 0 && n->closing) {
    nb_srcaddr_batch_free(n->in);
    free(n->socks);
    free(n);
  }
}

static nb_err nb_sim_sock_watch(nb_sim_net *n, nb_sim_sock *s) {
  s->n = n;
  s->poll.data = s;
  if (uv_poll_init_socket(nb_io_loop_uv(n->loop), &s->poll, s->fd) != 0) return NB_ERR_IO;
  n->open_handles++;
  n->st.sockets++;
  uv_poll_start(&s->poll, UV_READABLE, nb_sim_on_poll);
  return NB_OK;
}

static nb_err nb_sim_open_shared(nb_sim_net *n, uint32_t k) {
  nb_sim_sock *s = calloc(1, sizeof *s);
  if (!s) return NB_ERR_NOMEM;
  nb_addr any = {.family = NB_ADDR_V4};
  s->fd = nb_srcaddr_socket(&any, NB_SIM_SOCKBUF);
  s->dev = UINT32_MAX;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (s->fd < 0 || getsockname(s->fd, (struct sockaddr *)&ss, &sl) != 0 ||
      nb_addr_from_sockaddr((struct sockaddr *)&ss, &s->local) != NB_OK ||
      nb_srcaddr_batch_new(NB_SIM_BATCH, NB_SIM_SLOT, &s->out) != NB_OK) {
    if (s->fd >= 0) close(s->fd);
    nb_srcaddr_batch_free(s->out);
    free(s);
    return NB_ERR_IO;
  }
  n->socks[k] = s;
  if (nb_sim_sock_watch(n, s) != NB_OK) {
    n->socks[k] = NULL;
    close(s->fd);
    nb_srcaddr_batch_free(s->out);
    free(s);
    return NB_ERR_IO;
  }
  return NB_OK;
}

/* Device dev's own socket, opened on its first datagram. */
static nb_sim_sock *nb_sim_device_sock(nb_sim_net *n, uint32_t dev) {
  if (n->socks[dev]) return n->socks[dev];
  nb_sim_sock *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  struct sockaddr_storage ss;
  size_t sl;
  socklen_t gl = sizeof ss;
  nb_addr_to_sockaddr(&n->bind, (struct sockaddr *)&ss, sizeof ss, &sl);
  s->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  s->dev = dev;
  if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&ss, (socklen_t)sl) != 0 ||
      getsockname(s->fd, (struct sockaddr *)&ss, &gl) != 0 ||
      nb_addr_from_sockaddr((struct sockaddr *)&ss, &s->local) != NB_OK ||
      nb_sim_sock_watch(n, s) != NB_OK) {
    n->st.tx_errno = errno;
    if (s->fd >= 0) close(s->fd);
    free(s);
    return NULL;
  }
  n->socks[dev] = s;
  return s;
}

/* Raises the descriptor limit to cover `need`; false (with why) when the hard limit is lower. */
static bool nb_sim_raise_nofile(rlim_t need, char *why, size_t cap) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
  if (rl.rlim_cur >= need) return true;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
    snprintf(why, cap,
             "one socket per device needs %llu file descriptors but the hard limit is %llu: "
             "raise it (ulimit -Hn, or LimitNOFILE= for a service), use fewer devices, or "
             "--sockets shared with a server on 127.0.0.0/8",
             (unsigned long long)need, (unsigned long long)rl.rlim_max);
    return false;
  }
  rl.rlim_cur = need;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    snprintf(why, cap, "cannot raise the file descriptor limit to %llu: %s",
             (unsigned long long)need, strerror(errno));
    return false;
  }
  NB_LOG_INFO(NB_SIM_NET_LOG, "event=nofile-raised limit=%llu", (unsigned long long)need);
  return true;
}

static nb_err nb_sim_net_pick(nb_sim_net *n, char *why, size_t cap) {
  nb_sim_net_config *c = &n->cfg;
  bool v4lo = nb_sim_is_v4_loopback(&c->server);
  if (c->mode == NB_SIM_SOCK_AUTO) c->mode = v4lo ? NB_SIM_SOCK_SHARED : NB_SIM_SOCK_PER_DEVICE;
  if (c->mode == NB_SIM_SOCK_SHARED) {
    if (!v4lo) {
      snprintf(why, cap,
               "shared sockets give each device an address of 127.0.0.0/8, which only a server "
               "on IPv4 loopback can answer: use --sockets per-device");
      return NB_ERR_UNSUPPORTED;
    }
    if ((uint64_t)c->first_addr + c->devices > NB_SRCADDR_MAX) {
      snprintf(why, cap, "at most %u devices have a loopback address", NB_SRCADDR_MAX);
      return NB_ERR_UNSUPPORTED;
    }
    return NB_OK;
  }
  if (c->local) {
    n->bind = *c->local;
  } else {
    memset(&n->bind, 0, sizeof n->bind);
    n->bind.family = c->server.family;
    if (nb_sim_is_loopback(&c->server)) {
      if (c->server.family == NB_ADDR_V4)
        n->bind.ip[0] = 127, n->bind.ip[3] = 1;
      else
        n->bind.ip[15] = 1;
    }
  }
  n->bind.port = 0;
  return nb_sim_raise_nofile((rlim_t)c->devices + 256, why, cap) ? NB_OK : NB_ERR_BUSY;
}

nb_err nb_sim_net_new(nb_io_loop *loop, const nb_sim_net_config *cfg, nb_sim_net **out, char *why,
                      size_t cap) {
  nb_sim_net *n = calloc(1, sizeof *n);
  if (!n) return NB_ERR_NOMEM;
  n->loop = loop;
  n->cfg = *cfg;
  nb_err e = nb_sim_net_pick(n, why, cap);
  if (e == NB_OK) e = nb_srcaddr_batch_new(NB_SIM_BATCH, NB_SIM_SLOT, &n->in);
  if (e == NB_OK) {
    n->st.mode = n->cfg.mode;
    n->nsocks = n->cfg.mode == NB_SIM_SOCK_SHARED
                    ? (cfg->devices + NB_SIM_DEVICES_PER_SOCKET - 1) / NB_SIM_DEVICES_PER_SOCKET
                    : cfg->devices;
    if (n->cfg.mode == NB_SIM_SOCK_SHARED && n->nsocks > NB_SIM_MAX_SHARED)
      n->nsocks = NB_SIM_MAX_SHARED;
    n->socks = calloc(n->nsocks ? n->nsocks : 1, sizeof(nb_sim_sock *));
    if (!n->socks) e = NB_ERR_NOMEM;
  }
  for (uint32_t k = 0; e == NB_OK && n->cfg.mode == NB_SIM_SOCK_SHARED && k < n->nsocks; k++) {
    e = nb_sim_open_shared(n, k);
    if (e != NB_OK) snprintf(why, cap, "cannot open a UDP socket: %s", strerror(errno));
  }
  if (e != NB_OK) {
    nb_sim_net_free(n);
    return e;
  }
  *out = n;
  return NB_OK;
}

void nb_sim_net_attach(nb_sim_net *n, nb_sim_fleet *f) { n->fleet = f; }

/* ---- sending ---- */

static void nb_sim_flush_sock(nb_sim_net *n, nb_sim_sock *s) {
  if (!s->out || nb_srcaddr_batch_count(s->out) == 0) return;
  unsigned dropped = 0;
  int err = 0;
  n->st.tx += nb_srcaddr_batch_send(s->out, s->fd, &dropped, &err);
  if (dropped) {
    n->st.tx_dropped += dropped;
    n->st.tx_errno = err;
  }
}

void nb_sim_net_send(void *user, uint32_t dev, const nb_addr *peer, const uint8_t *data,
                     size_t len) {
  nb_sim_net *n = user;
  if (n->closing || dev >= n->cfg.devices) return;
  if (n->cfg.mode == NB_SIM_SOCK_SHARED) {
    nb_sim_sock *s = n->socks[dev % n->nsocks];
    nb_addr src;
    nb_srcaddr_of(n->cfg.first_addr + dev, &src);
    if (nb_srcaddr_batch_full(s->out)) nb_sim_flush_sock(n, s);
    if (nb_srcaddr_batch_push(s->out, &src, peer, data, len) != NB_OK) n->st.tx_dropped++;
    return;
  }
  nb_sim_sock *s = nb_sim_device_sock(n, dev);
  struct sockaddr_storage ss;
  size_t sl;
  if (!s || nb_addr_to_sockaddr(peer, (struct sockaddr *)&ss, sizeof ss, &sl) != NB_OK) {
    n->st.tx_dropped++;
    return;
  }
  ssize_t r;
  do {
    r = sendto(s->fd, data, len, 0, (struct sockaddr *)&ss, (socklen_t)sl);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    n->st.tx_dropped++;
    n->st.tx_errno = errno;
  } else {
    n->st.tx++;
  }
}

void nb_sim_net_flush(nb_sim_net *n) {
  if (n->cfg.mode != NB_SIM_SOCK_SHARED || !n->socks) return;
  for (uint32_t k = 0; k < n->nsocks; k++)
    if (n->socks[k]) nb_sim_flush_sock(n, n->socks[k]);
}

void nb_sim_net_get_stats(const nb_sim_net *n, nb_sim_net_stats *out) { *out = n->st; }

void nb_sim_net_device_addr(const nb_sim_net *n, uint32_t dev, nb_addr *out) {
  memset(out, 0, sizeof *out);
  if (dev >= n->cfg.devices) return;
  if (n->cfg.mode == NB_SIM_SOCK_SHARED) {
    nb_srcaddr_of(n->cfg.first_addr + dev, out);
    out->port = n->socks[dev % n->nsocks]->local.port;
  } else if (n->socks[dev]) {
    *out = n->socks[dev]->local;
  }
}

void nb_sim_net_free(nb_sim_net *n) {
  if (!n || n->closing) return;
  nb_sim_net_flush(n);
  n->closing = true;
  for (uint32_t k = 0; n->socks && k < n->nsocks; k++) {
    if (!n->socks[k]) continue;
    uv_close((uv_handle_t *)&n->socks[k]->poll, nb_sim_sock_closed);
    n->socks[k] = NULL;
  }
  if (n->open_handles == 0) {
    nb_srcaddr_batch_free(n->in);
    free(n->socks);
    free(n);
  }
}
