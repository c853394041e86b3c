/* LwM2M's use of link-format (Content-Format 40, LwM2M 1.1 TS Core 6.2.1, 6.1.7.2, 5.4.2): the
 * Register/Update payload `</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>;ver=1.1`, Discover responses
 * `</3/0>;pmin=10,</3/0/7>;dim=2` and Bootstrap-Discover `</>;lwm2m=1.1,</0/0>;ssid=101;uri="..."`.
 * Parsing of RFC 6690 syntax is coap/link.h's; this layer maps link targets to nb_path (removing
 * an alternate root path such as "/lwm2m") and parameters to typed attributes (lwm2m/attr.h).
 * An nb_lwm2m_links owns its array. */
#ifndef NB_LWM2M_LINKFMT_H
#define NB_LWM2M_LINKFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "lwm2m/attr.h"
#include "lwm2m/format.h"
#include "lwm2m/path.h"

#define NB_LINKFMT_ROOT_MAX 64 /* alternate root path ("/lwm2m") plus NUL */
#define NB_LINKFMT_CT_MAX 16   /* Content-Formats listed in a root link's ct */

/* One link to an object, instance, resource or resource instance with its attributes. */
typedef struct {
  nb_path path;
  nb_attrs attrs; /* dim, ver, ssid, uri, pmin, pmax, gt, lt, st, epmin, epmax (attrs.set) */
} nb_lwm2m_link;

typedef struct {
  /* The root link (`</>` or the alternate root with rt="oma.lwm2m"), when present. */
  bool has_root;
  char root[NB_LINKFMT_ROOT_MAX];  /* "" for "/", else the alternate path without trailing '/' */
  bool rt_lwm2m;                   /* the root carries rt="oma.lwm2m" */
  uint16_t cts[NB_LINKFMT_CT_MAX]; /* the root's ct (one number or a quoted list) */
  size_t ct_count;
  char lwm2m[NB_ATTR_VER_MAX]; /* the root's lwm2m= enabler version (Bootstrap-Discover), "" */
  nb_lwm2m_link *items;
  size_t len;
  size_t cap;
} nb_lwm2m_links;

void nb_lwm2m_links_init(nb_lwm2m_links *l);
void nb_lwm2m_links_deinit(nb_lwm2m_links *l);
/* Appends a link (attributes copied). */
nb_err nb_lwm2m_links_add(nb_lwm2m_links *l, const nb_path *p, const nb_attrs *attrs);

/* Parses a payload into *out (initialized by the caller; on error it is left empty). Accepts
 * the legacy Bootstrap-Discover prefix `lwm2m="1.0",`. Unknown attributes are ignored (RFC 6690);
 * errors are 4.00: syntax, targets that are not LwM2M paths, ill-formed values of known
 * attributes, an attribute twice, a duplicate link, a second root. detail (may be NULL)
 * receives a sentence naming the offending link or attribute. */
nb_err nb_linkfmt_decode(const uint8_t *buf, size_t len, nb_lwm2m_links *out, nb_format_error *err,
                         char *detail, size_t detail_cap);

/* Appends the root link first (when has_root; rt="oma.lwm2m" is always written for an alternate
 * root), then each link in order, attributes in canonical order; targets are prefixed with the
 * alternate root. Links are separated by ',' (also from what out already holds). */
nb_err nb_linkfmt_encode(const nb_lwm2m_links *in, nb_bytes *out);
/* The same in pieces, for writers that stream links without building an nb_lwm2m_links: the
 * root link of `in` (its items are ignored; nothing when !has_root), then one link at a time
 * (target prefixed with root, may be NULL; attrs NULL for none). On error out may hold part
 * of the link: callers reset out->len. */
nb_err nb_linkfmt_encode_root(const nb_lwm2m_links *in, nb_bytes *out);
nb_err nb_linkfmt_encode_link(const char *root, const nb_path *p, const nb_attrs *attrs,
                              nb_bytes *out);

#endif
