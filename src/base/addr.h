/* Transport addresses (IPv4/IPv6 + UDP port) as plain values. Protocol cores key peers by
 * nb_addr; only the I/O shells convert to and from struct sockaddr. */
#ifndef NB_BASE_ADDR_H
#define NB_BASE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum { NB_ADDR_V4 = 4, NB_ADDR_V6 = 6 };

typedef struct {
  uint8_t family; /* NB_ADDR_V4 or NB_ADDR_V6 */
  uint16_t port;  /* host byte order */
  uint8_t ip[16]; /* v4 uses the first 4 bytes */
  uint32_t scope; /* IPv6 scope id, 0 otherwise */
} nb_addr;

/* "[::1]:5683" or "127.0.0.1:5683" plus NUL. */
#define NB_ADDR_STRLEN 64

bool nb_addr_equal(const nb_addr *a, const nb_addr *b);
uint32_t nb_addr_hash(const nb_addr *a);
/* Formats into buf (NB_ADDR_STRLEN is always enough); returns buf. */
const char *nb_addr_format(const nb_addr *a, char *buf, size_t cap);
/* Parses a numeric "IP:PORT", "[IPv6]:PORT"; a bare IP takes default_port. */
nb_err nb_addr_parse(const char *text, uint16_t default_port, nb_addr *out);

struct sockaddr;
/* Conversions for the I/O shells; *len receives the sockaddr length. */
nb_err nb_addr_from_sockaddr(const struct sockaddr *sa, nb_addr *out);
nb_err nb_addr_to_sockaddr(const nb_addr *a, struct sockaddr *sa, size_t cap, size_t *len);

#endif
