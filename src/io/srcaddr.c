/* Loopback source addresses per device through one socket: IP_PKTINFO with sendmmsg/recvmmsg. */
#include "io/srcaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef union {
  char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
  struct cmsghdr align;
} nb_srcaddr_ctl;

struct nb_srcaddr_batch {
  unsigned n, count;
  size_t slot;
  struct mmsghdr *msg;
  struct iovec *iov;
  struct sockaddr_in *name;
  nb_srcaddr_ctl *ctl;
  uint8_t *buf; /* n slots */
};

void nb_srcaddr_of(uint32_t index, nb_addr *out) {
  uint32_t a = index / 250, b = index % 250;
  memset(out, 0, sizeof *out);
  out->family = NB_ADDR_V4;
  out->ip[0] = 127;
  out->ip[1] = (uint8_t)(10 + a / 256);
  out->ip[2] = (uint8_t)(a % 256);
  out->ip[3] = (uint8_t)(b + 1);
}

bool nb_srcaddr_index(const nb_addr *a, uint32_t *index) {
  if (a->family != NB_ADDR_V4 || a->ip[0] != 127 || a->ip[1] < 10 || a->ip[3] < 1 || a->ip[3] > 250)
    return false;
  uint32_t i = ((uint32_t)(a->ip[1] - 10) * 256 + a->ip[2]) * 250 + (uint32_t)(a->ip[3] - 1);
  if (i >= NB_SRCADDR_MAX) return false;
  *index = i;
  return true;
}

int nb_srcaddr_socket(const nb_addr *local, int bufsize) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(local->port)};
  if (local->family != NB_ADDR_V4) {
    errno = EAFNOSUPPORT;
    return -1;
  }
  memcpy(&sa.sin_addr, local->ip, 4);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
  if (fd < 0) return -1;
  if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0 ||
      bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  if (bufsize > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
  }
  return fd;
}

nb_err nb_srcaddr_batch_new(unsigned n, size_t slot, nb_srcaddr_batch **out) {
  nb_srcaddr_batch *b = calloc(1, sizeof *b);
  if (!b || n == 0) {
    free(b);
    return n == 0 ? NB_ERR_INVAL : NB_ERR_NOMEM;
  }
  b->n = n;
  b->slot = slot;
  b->msg = calloc(n, sizeof *b->msg);
  b->iov = calloc(n, sizeof *b->iov);
  b->name = calloc(n, sizeof *b->name);
  b->ctl = calloc(n, sizeof *b->ctl);
  b->buf = malloc((size_t)n * slot);
  if (!b->msg || !b->iov || !b->name || !b->ctl || !b->buf) {
    nb_srcaddr_batch_free(b);
    return NB_ERR_NOMEM;
  }
  for (unsigned i = 0; i < n; i++) {
    struct msghdr *h = &b->msg[i].msg_hdr;
    b->iov[i].iov_base = b->buf + (size_t)i * slot;
    h->msg_iov = &b->iov[i];
    h->msg_iovlen = 1;
    h->msg_name = &b->name[i];
    h->msg_control = b->ctl[i].buf;
  }
  *out = b;
  return NB_OK;
}

void nb_srcaddr_batch_free(nb_srcaddr_batch *b) {
  if (!b) return;
  free(b->msg);
  free(b->iov);
  free(b->name);
  free(b->ctl);
  free(b->buf);
  free(b);
}

unsigned nb_srcaddr_batch_count(const nb_srcaddr_batch *b) { return b->count; }

bool nb_srcaddr_batch_full(const nb_srcaddr_batch *b) { return b->count == b->n; }

nb_err nb_srcaddr_batch_push(nb_srcaddr_batch *b, const nb_addr *src, const nb_addr *dst,
                             const uint8_t *data, size_t len) {
  if (b->count == b->n) return NB_ERR_BUSY;
  if (len > b->slot) return NB_ERR_OVERFLOW;
  if (src->family != NB_ADDR_V4 || dst->family != NB_ADDR_V4) return NB_ERR_INVAL;
  unsigned i = b->count++;
  struct msghdr *h = &b->msg[i].msg_hdr;
  memcpy(b->iov[i].iov_base, data, len);
  b->iov[i].iov_len = len;
  b->name[i] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(dst->port)};
  memcpy(&b->name[i].sin_addr, dst->ip, 4);
  h->msg_namelen = sizeof b->name[i];
  h->msg_controllen = sizeof b->ctl[i].buf;
  struct cmsghdr *c = CMSG_FIRSTHDR(h);
  c->cmsg_level = IPPROTO_IP;
  c->cmsg_type = IP_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
  struct in_pktinfo info;
  memset(&info, 0, sizeof info);
  memcpy(&info.ipi_spec_dst, src->ip, 4);
  memcpy(CMSG_DATA(c), &info, sizeof info);
  return NB_OK;
}

unsigned nb_srcaddr_batch_send(nb_srcaddr_batch *b, int fd, unsigned *dropped, int *err) {
  unsigned done = 0, lost = 0;
  *err = 0;
  while (done + lost < b->count) {
    int n = sendmmsg(fd, b->msg + done + lost, b->count - done - lost, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!*err) *err = n < 0 ? errno : EIO;
      lost++; /* skip the datagram the kernel refused; the others may still go */
      continue;
    }
    done += (unsigned)n;
  }
  b->count = 0;
  *dropped = lost;
  return done;
}

unsigned nb_srcaddr_batch_recv(nb_srcaddr_batch *b, int fd) {
  for (unsigned i = 0; i < b->n; i++) {
    b->iov[i].iov_len = b->slot;
    b->msg[i].msg_hdr.msg_namelen = sizeof b->name[i];
    b->msg[i].msg_hdr.msg_controllen = sizeof b->ctl[i].buf;
    b->msg[i].msg_hdr.msg_flags = 0;
  }
  int n;
  do {
    n = recvmmsg(fd, b->msg, b->n, MSG_DONTWAIT, NULL);
  } while (n < 0 && errno == EINTR);
  b->count = n > 0 ? (unsigned)n : 0;
  return b->count;
}

const uint8_t *nb_srcaddr_batch_get(const nb_srcaddr_batch *b, unsigned i, size_t *len,
                                    nb_addr *from, nb_addr *to) {
  struct msghdr *h = &b->msg[i].msg_hdr;
  if (i >= b->count || (h->msg_flags & MSG_TRUNC) ||
      nb_addr_from_sockaddr((const struct sockaddr *)&b->name[i], from) != NB_OK)
    return NULL;
  memset(to, 0, sizeof *to);
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
    if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_PKTINFO) continue;
    struct in_pktinfo info;
    memcpy(&info, CMSG_DATA(c), sizeof info);
    to->family = NB_ADDR_V4;
    memcpy(to->ip, &info.ipi_addr, 4);
  }
  *len = b->msg[i].msg_len;
  return b->iov[i].iov_base;
}
