/* Link, IP and UDP headers of captured frames (RFC 791, RFC 8200 4, RFC 768). */
#include "monitor/frame.h"

#include <string.h>

static uint16_t nb_rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t nb_rd32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static nb_err nb_frame_bad(nb_frame *out, const char *reason) {
  out->kind = NB_FRAME_MALFORMED;
  out->reason = reason;
  return NB_OK;
}

static nb_err nb_frame_udp(const uint8_t *p, size_t len, nb_frame *out) {
  if (len < 8) return nb_frame_bad(out, "UDP header cut short");
  uint16_t ulen = nb_rd16(p + 4);
  if (ulen < 8 || ulen > len) return nb_frame_bad(out, "UDP length disagrees with the packet");
  out->src.port = nb_rd16(p);
  out->dst.port = nb_rd16(p + 2);
  out->payload = p + 8;
  out->payload_len = (size_t)ulen - 8;
  out->kind = NB_FRAME_UDP;
  return NB_OK;
}

static nb_err nb_frame_transport(const uint8_t *p, size_t len, nb_frame *out) {
  if (out->ip_proto != 17) {
    out->kind = NB_FRAME_OTHER;
    return NB_OK;
  }
  return nb_frame_udp(p, len, out);
}

static nb_err nb_frame_ipv4(const uint8_t *p, size_t len, nb_frame *out) {
  if (len < 20) return nb_frame_bad(out, "IPv4 header cut short");
  if ((p[0] >> 4) != 4) return nb_frame_bad(out, "IP version is not 4");
  size_t ihl = (size_t)(p[0] & 0x0f) * 4;
  uint16_t total = nb_rd16(p + 2);
  if (ihl < 20 || total < ihl || total > len) return nb_frame_bad(out, "IPv4 lengths invalid");
  out->ip_version = 4;
  out->src.family = out->dst.family = NB_ADDR_V4;
  memcpy(out->src.ip, p + 12, 4);
  memcpy(out->dst.ip, p + 16, 4);
  out->ip_proto = p[9];
  uint16_t frag = nb_rd16(p + 6);
  out->frag_offset = (uint32_t)(frag & 0x1fff) * 8;
  out->frag_more = (frag & 0x2000) != 0;
  out->frag_id = nb_rd16(p + 4);
  const uint8_t *body = p + ihl;
  size_t body_len = total - ihl; /* drops Ethernet padding */
  if (out->frag_offset != 0 || out->frag_more) {
    out->kind = NB_FRAME_FRAGMENT;
    if (out->frag_offset == 0 && out->ip_proto == 17 && body_len >= 4) {
      out->src.port = nb_rd16(body);
      out->dst.port = nb_rd16(body + 2);
    }
    out->payload = body;
    out->payload_len = body_len;
    return NB_OK;
  }
  return nb_frame_transport(body, body_len, out);
}

/* Walks the extension header chain up to the transport header (RFC 8200 4.1). */
static nb_err nb_frame_ipv6(const uint8_t *p, size_t len, nb_frame *out) {
  if (len < 40) return nb_frame_bad(out, "IPv6 header cut short");
  if ((p[0] >> 4) != 6) return nb_frame_bad(out, "IP version is not 6");
  size_t plen = nb_rd16(p + 4);
  /* 0 is only valid in a jumbogram (RFC 2675, over 65535 bytes, never LwM2M); elsewhere the
   * packet is malformed, as Wireshark says too. */
  if (plen == 0) return nb_frame_bad(out, "IPv6 payload length 0 (jumbograms are not decoded)");
  if (plen > len - 40) return nb_frame_bad(out, "IPv6 payload length exceeds the packet");
  out->ip_version = 6;
  out->src.family = out->dst.family = NB_ADDR_V6;
  memcpy(out->src.ip, p + 8, 16);
  memcpy(out->dst.ip, p + 24, 16);
  uint8_t next = p[6];
  const uint8_t *q = p + 40;
  size_t rest = plen;
  bool fragment = false;
  for (int hops = 0; hops < 16; hops++) {
    size_t hlen;
    switch (next) {
      case 0:   /* hop-by-hop */
      case 43:  /* routing */
      case 60:  /* destination options */
      case 135: /* mobility */
      case 139: /* HIP */
      case 140: /* shim6 */
        if (rest < 8) return nb_frame_bad(out, "IPv6 extension header cut short");
        hlen = ((size_t)q[1] + 1) * 8;
        break;
      case 51: /* AH */
        if (rest < 8) return nb_frame_bad(out, "IPv6 AH cut short");
        hlen = ((size_t)q[1] + 2) * 4;
        break;
      case 44: { /* fragment */
        if (rest < 8) return nb_frame_bad(out, "IPv6 fragment header cut short");
        uint16_t off = nb_rd16(q + 2);
        out->frag_offset = off & 0xfff8u;
        out->frag_more = (off & 1) != 0;
        out->frag_id = nb_rd32(q + 4);
        fragment = out->frag_offset != 0 || out->frag_more;
        hlen = 8;
        break;
      }
      default:
        out->ip_proto = next;
        if (fragment) {
          out->kind = NB_FRAME_FRAGMENT;
          if (out->frag_offset == 0 && next == 17 && rest >= 4) {
            out->src.port = nb_rd16(q);
            out->dst.port = nb_rd16(q + 2);
          }
          out->payload = q;
          out->payload_len = rest;
          return NB_OK;
        }
        return nb_frame_transport(q, rest, out);
    }
    if (hlen > rest) return nb_frame_bad(out, "IPv6 extension header runs past the packet");
    next = q[0];
    q += hlen;
    rest -= hlen;
    if (fragment && next != 44) {
      /* Later headers of a non-first fragment are not in this packet. */
      if (out->frag_offset != 0) {
        out->ip_proto = next;
        out->kind = NB_FRAME_FRAGMENT;
        out->payload = q;
        out->payload_len = rest;
        return NB_OK;
      }
    }
  }
  return nb_frame_bad(out, "IPv6 extension header chain too long");
}

static nb_err nb_frame_ip(const uint8_t *p, size_t len, nb_frame *out) {
  if (len < 1) return nb_frame_bad(out, "IP header missing");
  switch (p[0] >> 4) {
    case 4:
      return nb_frame_ipv4(p, len, out);
    case 6:
      return nb_frame_ipv6(p, len, out);
    default:
      return nb_frame_bad(out, "IP version neither 4 nor 6");
  }
}

static nb_err nb_frame_ethertype(uint16_t type, const uint8_t *p, size_t len, nb_frame *out) {
  switch (type) {
    case 0x0800:
      return nb_frame_ipv4(p, len, out);
    case 0x86dd:
      return nb_frame_ipv6(p, len, out);
    default:
      out->kind = NB_FRAME_OTHER;
      return NB_OK;
  }
}

static nb_err nb_frame_ethernet(const uint8_t *p, size_t len, nb_frame *out) {
  if (len < 14) return nb_frame_bad(out, "Ethernet header cut short");
  uint16_t type = nb_rd16(p + 12);
  size_t off = 14;
  for (int tags = 0; tags < 4 && (type == 0x8100 || type == 0x88a8 || type == 0x9100); tags++) {
    if (len < off + 4) return nb_frame_bad(out, "VLAN tag cut short");
    if (tags == 0) out->vlan = nb_rd16(p + off) & 0x0fff;
    type = nb_rd16(p + off + 2);
    off += 4;
  }
  return nb_frame_ethertype(type, p + off, len - off, out);
}

/* BSD loopback: the address family in the capturing host's byte order (NULL) or network
 * order (LOOP); IPv6 is 24, 28 or 30 depending on the BSD. */
static nb_err nb_frame_null(const uint8_t *p, size_t len, bool network_order, nb_frame *out) {
  if (len < 4) return nb_frame_bad(out, "loopback header cut short");
  uint32_t fam = network_order ? nb_rd32(p)
                               : ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) |
                                     ((uint32_t)p[1] << 8) | p[0];
  if (!network_order && fam > 0xffff) fam = nb_rd32(p);
  if (fam == 2) return nb_frame_ipv4(p + 4, len - 4, out);
  if (fam == 24 || fam == 28 || fam == 30 || fam == 10) return nb_frame_ipv6(p + 4, len - 4, out);
  out->kind = NB_FRAME_OTHER;
  return NB_OK;
}

bool nb_frame_linktype_supported(int linktype) {
  switch (linktype) {
    case NB_LINK_NULL:
    case NB_LINK_ETHERNET:
    case NB_LINK_RAW:
    case 12: /* DLT_RAW on some BSDs */
    case 14:
    case NB_LINK_LOOP:
    case NB_LINK_SLL:
    case NB_LINK_IPV4:
    case NB_LINK_IPV6:
    case NB_LINK_SLL2:
      return true;
    default:
      return false;
  }
}

nb_err nb_frame_decode(int linktype, const uint8_t *data, size_t len, nb_frame *out) {
  memset(out, 0, sizeof *out);
  if (!data && len) return NB_ERR_INVAL;
  switch (linktype) {
    case NB_LINK_ETHERNET:
      return nb_frame_ethernet(data, len, out);
    case NB_LINK_NULL:
      return nb_frame_null(data, len, false, out);
    case NB_LINK_LOOP:
      return nb_frame_null(data, len, true, out);
    case NB_LINK_RAW:
    case 12:
    case 14:
      return nb_frame_ip(data, len, out);
    case NB_LINK_IPV4:
      return nb_frame_ipv4(data, len, out);
    case NB_LINK_IPV6:
      return nb_frame_ipv6(data, len, out);
    case NB_LINK_SLL:
      if (len < 16) return nb_frame_bad(out, "Linux cooked header cut short");
      return nb_frame_ethertype(nb_rd16(data + 14), data + 16, len - 16, out);
    case NB_LINK_SLL2:
      if (len < 20) return nb_frame_bad(out, "Linux cooked v2 header cut short");
      return nb_frame_ethertype(nb_rd16(data), data + 20, len - 20, out);
    default:
      return NB_ERR_UNSUPPORTED;
  }
}
