/* Offline traffic crafter for the monitor's tests: writes classic pcap or pcapng files
 * directly (no sockets) with Ethernet (optionally VLAN-tagged), Linux SLL/SLL2, BSD loopback
 * or raw IP framing, IPv4/IPv6 (optionally with extension headers), UDP, IP fragments, and
 * CoAP messages built with the project's codec. Owns its FILE. */
#ifndef NB_PCAP_CRAFT_H
#define NB_PCAP_CRAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/err.h"
#include "coap/msg.h"
#include "lwm2m/format.h"
#include "lwm2m/path.h"

typedef struct nb_pcap_craft nb_pcap_craft;

typedef struct {
  uint16_t vlan;    /* Ethernet only: 802.1Q tag when non-zero */
  bool ipv6_ext;    /* IPv6: hop-by-hop + destination options headers before UDP */
  size_t frag_size; /* >0: split the IP payload into fragments of this size (multiple of 8) */
} nb_craft_opts;

/* linktype: 1 Ethernet, 113 SLL, 276 SLL2, 0 NULL, 108 LOOP, 101 raw. */
nb_pcap_craft *nb_craft_open(const char *path, int linktype, bool pcapng);
/* pcapng only: declares another interface of link type `linktype` (an Interface Description
 * Block) and writes the next frames on it, framed for that link type. */
nb_err nb_craft_interface(nb_pcap_craft *c, int linktype);
/* Flushes and closes; false when any write failed. */
bool nb_craft_close(nb_pcap_craft *c);
/* Frames written so far (the next frame's number is this plus one). */
uint64_t nb_craft_frames(const nb_pcap_craft *c);

/* A raw link-layer frame as is (for malformed input). */
nb_err nb_craft_frame(nb_pcap_craft *c, int64_t ts_us, const uint8_t *frame, size_t len);
/* A UDP datagram between "IP:PORT" endpoints ("[::1]:5683" for IPv6). */
nb_err nb_craft_udp(nb_pcap_craft *c, int64_t ts_us, const char *src, const char *dst,
                    const uint8_t *payload, size_t len, const nb_craft_opts *opts);
/* A serialized CoAP message in a UDP datagram. */
nb_err nb_craft_coap(nb_pcap_craft *c, int64_t ts_us, const char *src, const char *dst,
                     const nb_coap_msg *msg, const nb_craft_opts *opts);

/* Builds a CoAP message: path "/rd" or "/3/0/1" (may be NULL), query "ep=a&lt=60" (NULL: none),
 * cf -1 for none, token as up to 4 bytes (0 gives a 1-byte token 0). */
void nb_craft_msg(nb_coap_msg *msg, uint8_t type, uint8_t code, uint16_t mid, uint32_t token,
                  const char *path, const char *query, int cf, const void *payload, size_t len);

/* Builds the whole Ethernet/IP/UDP frame into out (for fuzz seeds and benchmarks). */
nb_err nb_craft_build(int linktype, const char *src, const char *dst, const uint8_t *payload,
                      size_t len, const nb_craft_opts *opts, uint8_t *out, size_t cap,
                      size_t *out_len);

/* A conversation: frames advance a virtual clock, MIDs and tokens count up. */
typedef struct {
  nb_pcap_craft *c;
  int64_t t_us;
  uint16_t mid;
  uint32_t token;
  const nb_craft_opts *opts;
} nb_craft_session;

/* A CON request from `from` to `to` and its piggybacked ACK response (rcode 0: no answer).
 * location (may be NULL) becomes Location-Path options of the response; observe >= 0 adds
 * an Observe option to the response. Returns the request's frame number. */
uint64_t nb_craft_exchange(nb_craft_session *s, const char *from, const char *to, uint8_t code,
                           const char *path, const char *query, int cf, const void *payload,
                           size_t len, uint8_t rcode, int rcf, const void *rpayload, size_t rlen,
                           const char *location, int observe);
/* Encodes (path, string/int) pairs as Content-Format cf under base into out (heap, caller
 * frees); pairs is "/0/0/0=s:coap://x;/0/0/2=i:3;/0/0/5=h:00112233" (s string, i integer,
 * b bool 0/1, h opaque hex). NULL on error. */
uint8_t *nb_craft_payload(int cf, const char *base, const char *pairs, size_t *len);

/* DTLS 1.2 records with epoch 0 handshake messages (unencrypted). Return the length. */
size_t nb_craft_dtls_client_hello(uint8_t *out, uint64_t seq, size_t cookie_len,
                                  const uint16_t *suites, size_t n);
size_t nb_craft_dtls_server_hello(uint8_t *out, uint64_t seq, uint16_t suite, int cert_type);
size_t nb_craft_dtls_psk_cke(uint8_t *out, uint64_t seq, const char *identity);
/* Certificate of a raw public key (one SubjectPublicKeyInfo, DER) or, with x509, a list of one
 * DER certificate. */
size_t nb_craft_dtls_certificate(uint8_t *out, uint64_t seq, const uint8_t *der, size_t len,
                                 bool x509);
/* An AES-128-CCM-8 protected record (RFC 6655): explicit nonce = epoch and seq, AAD = seq_num,
 * type, version, length. out needs 13 + 8 + n + 8 bytes. */
size_t nb_craft_dtls_ccm8(uint8_t *out, uint8_t type, uint16_t epoch, uint64_t seq,
                          const uint8_t key[16], const uint8_t iv[4], const uint8_t *plain,
                          size_t n);
size_t nb_craft_dtls_alert(uint8_t *out, uint16_t epoch, uint64_t seq, uint8_t level, uint8_t desc);

#endif
