/* Fuzzes the LwM2M link-format decoder (Register, Discover and Bootstrap-Discover payloads) and
 * checks that whatever it accepts encodes and decodes back to the same links and attributes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/linkfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void nb_fuzz_same_links(const nb_lwm2m_links *a, const nb_lwm2m_links *b) {
  if (a->len != b->len || a->has_root != b->has_root || a->rt_lwm2m != b->rt_lwm2m ||
      a->ct_count != b->ct_count || strcmp(a->root, b->root) != 0 || strcmp(a->lwm2m, b->lwm2m)) {
    abort();
  }
  if (a->ct_count && memcmp(a->cts, b->cts, a->ct_count * sizeof a->cts[0]) != 0) abort();
  for (size_t k = 0; k < a->len; k++) {
    const nb_attrs *x = &a->items[k].attrs, *y = &b->items[k].attrs;
    if (!nb_path_equal(&a->items[k].path, &b->items[k].path) || x->set != y->set) abort();
    if (x->pmin != y->pmin || x->pmax != y->pmax || x->epmin != y->epmin || x->epmax != y->epmax ||
        x->dim != y->dim || x->ssid != y->ssid || strcmp(x->ver, y->ver) ||
        strcmp(x->uri, y->uri)) {
      abort();
    }
    if (((x->set & NB_ATTR_GT) && x->gt != y->gt) || ((x->set & NB_ATTR_LT) && x->lt != y->lt) ||
        ((x->set & NB_ATTR_ST) && x->st != y->st)) {
      abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_lwm2m_links links;
  nb_lwm2m_links_init(&links);
  nb_format_error fe = {0, NULL};
  char detail[128];
  if (nb_linkfmt_decode(data, size, &links, &fe, detail, sizeof detail) != NB_OK) {
    if (links.len != 0 || links.items != NULL || fe.reason == NULL) abort();
    return 0;
  }
  nb_bytes out;
  nb_bytes_init(&out);
  if (nb_linkfmt_encode(&links, &out) == NB_OK) {
    nb_lwm2m_links back;
    nb_lwm2m_links_init(&back);
    if (nb_linkfmt_decode(out.data, out.len, &back, &fe, NULL, 0) != NB_OK) abort();
    nb_fuzz_same_links(&links, &back);
    nb_lwm2m_links_deinit(&back);
  }
  nb_bytes_free(&out);
  nb_lwm2m_links_deinit(&links);
  return 0;
}
