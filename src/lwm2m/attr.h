/* LwM2M 1.1 attributes (Core 5.1.2): notification attributes pmin, pmax, gt, lt, st, epmin,
 * epmax and property attributes dim, ver, ssid, uri. Parses them from CoAP Uri-Query options or
 * query/link-format text, formats them back, validates the rules whose violation is a 4.00 Bad
 * Request, and merges levels for inheritance (object -> instance -> resource). Owns no memory. */
#ifndef NB_LWM2M_ATTR_H
#define NB_LWM2M_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "coap/msg.h"
#include "lwm2m/model.h"
#include "lwm2m/path.h"

/* One bit per attribute, in canonical output order. */
typedef enum {
  NB_ATTR_DIM = 1u << 0,
  NB_ATTR_VER = 1u << 1,
  NB_ATTR_SSID = 1u << 2,
  NB_ATTR_URI = 1u << 3,
  NB_ATTR_PMIN = 1u << 4,
  NB_ATTR_PMAX = 1u << 5,
  NB_ATTR_GT = 1u << 6,
  NB_ATTR_LT = 1u << 7,
  NB_ATTR_ST = 1u << 8,
  NB_ATTR_EPMIN = 1u << 9,
  NB_ATTR_EPMAX = 1u << 10,
} nb_attr_id;

#define NB_ATTR_PROPERTY_MASK (NB_ATTR_DIM | NB_ATTR_VER | NB_ATTR_SSID | NB_ATTR_URI)
#define NB_ATTR_NOTIFY_MASK                                                             \
  (NB_ATTR_PMIN | NB_ATTR_PMAX | NB_ATTR_GT | NB_ATTR_LT | NB_ATTR_ST | NB_ATTR_EPMIN | \
   NB_ATTR_EPMAX)
#define NB_ATTR_ALL_MASK (NB_ATTR_PROPERTY_MASK | NB_ATTR_NOTIFY_MASK)

#define NB_ATTR_VER_MAX 16  /* "major.minor" plus NUL */
#define NB_ATTR_URI_MAX 256 /* server URI plus NUL */

typedef struct {
  uint32_t set;          /* NB_ATTR_* bits present with a value */
  uint32_t unset;        /* NB_ATTR_* bits named bare ("pmin"): Write-Attributes removes them */
  uint32_t pmin, pmax;   /* seconds */
  uint32_t epmin, epmax; /* seconds */
  double gt, lt, st;
  uint32_t dim;  /* 0..255 */
  uint16_t ssid; /* 1..65534 */
  char ver[NB_ATTR_VER_MAX];
  char uri[NB_ATTR_URI_MAX];
} nb_attrs;

void nb_attrs_init(nb_attrs *a);

/* Attribute name ("pmin") of one bit, or NULL; and the bit of a name, or 0 when unknown. */
const char *nb_attr_name(nb_attr_id id);
uint32_t nb_attr_from_name(const char *name, size_t len);

/* Parses one "k=v" or bare "k" (len bytes, need not be NUL-terminated) into a. NB_ERR_INVAL
 * with a reason for an unknown name, a malformed or out-of-range value, or an attribute named
 * twice. reason (may be NULL) receives an English sentence. */
nb_err nb_attrs_parse_one(nb_attrs *a, const char *kv, size_t len, char *reason, size_t cap);

/* Every Uri-Query option of msg, each one "k=v" or "k". */
nb_err nb_attrs_parse_query(nb_attrs *a, const nb_coap_msg *msg, char *reason, size_t cap);

/* A list separated by sep: '&' for "pmin=10&gt=20.5", ';' for link-format parameters
 * ";pmin=10;gt=20.5" (leading separator allowed; uri may be double-quoted). */
nb_err nb_attrs_parse_list(nb_attrs *a, const char *text, size_t len, char sep, char *reason,
                           size_t cap);

/* The LwM2M 1.1 rules between values: pmin <= pmax, epmin <= epmax, lt < gt, lt + 2*st < gt,
 * st >= 0. NB_ERR_INVAL (a 4.00 Bad Request) with a reason, NB_OK otherwise. */
nb_err nb_attrs_validate(const nb_attrs *a, char *reason, size_t cap);

/* Write-Attributes may set or unset only notification attributes (dim, ver, ssid and uri are
 * read-only properties): NB_ERR_INVAL with a reason otherwise. */
nb_err nb_attrs_check_writable(const nb_attrs *a, char *reason, size_t cap);

/* Whether the attributes fit the target of path p (def: the resource definition there, may be
 * NULL when unknown): gt/lt/st only on numeric resources or resource instances, dim only on
 * multiple resources, ver only on objects, ssid/uri only on object instances, nothing on "/".
 * NB_ERR_INVAL with a reason otherwise. */
nb_err nb_attrs_check_target(const nb_attrs *a, const nb_path *p, const nb_resource_def *def,
                             char *reason, size_t cap);

/* Query form "pmin=10&gt=20.5" (bare "pmin" for unset bits), canonical order; a uri holding
 * "&" is double-quoted so the text parses back. */
nb_err nb_attrs_format_query(const nb_attrs *a, char *buf, size_t cap);
/* Link-format parameters ";pmin=10;gt=20.5" (uri double-quoted; unset bits are not shown). */
nb_err nb_attrs_format_link(const nb_attrs *a, char *buf, size_t cap);
/* One Uri-Query option per set or unset attribute. */
nb_err nb_attrs_to_coap(nb_coap_msg *msg, const nb_attrs *a);

/* Inheritance: every attribute set in `over` replaces dst's (object -> instance -> resource:
 * start from the object level and merge each lower level over it). Unset bits are ignored. */
void nb_attrs_merge(nb_attrs *dst, const nb_attrs *over);

/* Write-Attributes: applies `update` to the stored attributes of one level: its set values
 * replace, its unset bits remove. */
void nb_attrs_apply(nb_attrs *stored, const nb_attrs *update);

#endif
