/* libFuzzer: RFC 6690 link-format. Oracle: what parses formats to text that parses to the
 * same links and parameters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coap/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_strings(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void assert_same(const nb_links *a, const nb_links *b) {
  if (a->count != b->count || a->param_total != b->param_total) abort();
  for (size_t i = 0; i < a->count; i++) {
    if (strcmp(a->links[i].target, b->links[i].target) != 0) abort();
  }
  for (size_t i = 0; i < a->param_total; i++) {
    if (!same_strings(a->params[i].name, b->params[i].name)) abort();
    if (!same_strings(a->params[i].value, b->params[i].value)) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_links links, again;
  if (nb_links_parse((const char *)data, size, &links, NULL) != NB_OK) return 0;
  nb_bytes text;
  nb_bytes_init(&text);
  if (nb_links_format(&links, &text) == NB_OK) {
    if (nb_links_parse((const char *)text.data, text.len, &again, NULL) != NB_OK) abort();
    assert_same(&links, &again);
    nb_links_deinit(&again);
  }
  nb_bytes_free(&text);
  nb_links_deinit(&links);
  return 0;
}
