/* libFuzzer: LwM2M attribute parsing (query strings, link-format parameters, Uri-Query options).
 * Oracles: never crash; what parses formats to text that parses back to the same attributes,
 * through the query form, the link form and CoAP options; validation is deterministic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/attr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const nb_attrs *x, const nb_attrs *y) {
  if (x->set != y->set || x->unset != y->unset) return 0;
  uint32_t s = x->set;
  if ((s & NB_ATTR_PMIN) && x->pmin != y->pmin) return 0;
  if ((s & NB_ATTR_PMAX) && x->pmax != y->pmax) return 0;
  if ((s & NB_ATTR_EPMIN) && x->epmin != y->epmin) return 0;
  if ((s & NB_ATTR_EPMAX) && x->epmax != y->epmax) return 0;
  if ((s & NB_ATTR_GT) && x->gt != y->gt) return 0;
  if ((s & NB_ATTR_LT) && x->lt != y->lt) return 0;
  if ((s & NB_ATTR_ST) && x->st != y->st) return 0;
  if ((s & NB_ATTR_DIM) && x->dim != y->dim) return 0;
  if ((s & NB_ATTR_SSID) && x->ssid != y->ssid) return 0;
  if ((s & NB_ATTR_VER) && strcmp(x->ver, y->ver) != 0) return 0;
  if ((s & NB_ATTR_URI) && strcmp(x->uri, y->uri) != 0) return 0;
  return 1;
}

static void check_roundtrips(const nb_attrs *a) {
  char text[2048], reason[128];
  nb_attrs b;
  if (nb_attrs_format_query(a, text, sizeof text) != NB_OK) abort();
  nb_attrs_init(&b);
  if (nb_attrs_parse_list(&b, text, strlen(text), '&', reason, sizeof reason) != NB_OK) abort();
  if (!same(a, &b)) abort();
  if (nb_attrs_format_link(a, text, sizeof text) != NB_OK) abort();
  nb_attrs_init(&b);
  if (nb_attrs_parse_list(&b, text, strlen(text), ';', reason, sizeof reason) != NB_OK) abort();
  nb_attrs set_only = *a;
  set_only.unset = 0;
  if (!same(&set_only, &b)) abort();
  nb_coap_msg msg;
  nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_PUT, 1);
  if (nb_attrs_to_coap(&msg, a) != NB_OK) return; /* the option store may be full: fine */
  nb_attrs_init(&b);
  if (nb_attrs_parse_query(&b, &msg, reason, sizeof reason) != NB_OK) abort();
  if (!same(a, &b)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  /* First byte picks the form: query string, link parameters, or one CoAP option per line. */
  char sep = (data[0] & 3) == 0 ? ';' : '&';
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  nb_attrs a;
  nb_attrs_init(&a);
  char reason[128] = "";
  nb_err err;
  if ((data[0] & 3) == 1) {
    nb_coap_msg msg;
    nb_coap_msg_init(&msg, NB_COAP_CON, NB_COAP_PUT, 1);
    size_t pos = 0;
    while (pos <= len) {
      const char *nl = memchr(text + pos, '\n', len - pos);
      size_t end = nl ? (size_t)(nl - text) : len;
      if (nb_coap_msg_add_option(&msg, NB_COAP_OPT_URI_QUERY, text + pos, end - pos) != NB_OK) {
        return 0;
      }
      pos = end + 1;
    }
    err = nb_attrs_parse_query(&a, &msg, reason, sizeof reason);
  } else {
    err = nb_attrs_parse_list(&a, text, len, sep, reason, sizeof reason);
  }
  if (err != NB_OK) {
    if (err != NB_ERR_INVAL || memchr(reason, '\0', sizeof reason) == NULL) abort();
    return 0;
  }
  nb_err v1 = nb_attrs_validate(&a, reason, sizeof reason);
  nb_err v2 = nb_attrs_validate(&a, NULL, 0);
  if (v1 != v2 || (v1 != NB_OK && v1 != NB_ERR_INVAL)) abort();
  check_roundtrips(&a);
  nb_attrs merged;
  nb_attrs_init(&merged);
  nb_attrs_merge(&merged, &a);
  nb_attrs_apply(&merged, &a);
  if (merged.set != (a.set & ~a.unset)) abort();
  return 0;
}
