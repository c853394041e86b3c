/* libFuzzer: CoAP resource discovery (src/coap/wellknown.c), a datagram as the server and the
 * bootstrap server receive it, answered from a table holding their resources (/rd, /dp, /bs)
 * and links with bare, listed and empty attributes. Oracles: the answer parses as link-format
 * and lists the table's targets in order; a request without a query gets every link; the query
 * is a conjunction: a link is listed exactly when each Uri-Query alone would list it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coap/link.h"
#include "coap/msg.h"
#include "coap/wellknown.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const nb_coap_wk_link table[] = {
    {"/rd", {{"rt", "core.rd", true}, {"ct", "40", false}}, 2},
    {"/dp", {{"ct", "112 110 11543 11542", true}}, 1},
    {"/bs", {{0}}, 0},
    {"/s/t", {{"obs", NULL, false}, {"rt", "a b  c", true}, {"if", "", true}}, 3},
};
#define NLINKS (sizeof table / sizeof table[0])

/* Whether the table's link i is in the answer to req (the link alone as the table). */
static bool lists(const nb_coap_msg *req, size_t i) {
  nb_bytes out;
  nb_bytes_init(&out);
  if (nb_coap_wk_write(&table[i], 1, req, &out) != NB_OK) abort();
  bool listed = out.len > 0;
  nb_bytes_free(&out);
  return listed;
}

/* req with its Uri-Query options left out, or all but the one at index keep. */
static void with_query(const nb_coap_msg *req, size_t keep, nb_coap_msg *out) {
  *out = *req;
  out->option_count = 0;
  for (size_t i = 0; i < req->option_count; i++)
    if (req->options[i].number != NB_COAP_OPT_URI_QUERY || i == keep)
      out->options[out->option_count++] = req->options[i];
}

static void check_answer(const nb_coap_msg *req) {
  nb_bytes out;
  nb_bytes_init(&out);
  if (nb_coap_wk_write(table, NLINKS, req, &out) != NB_OK) abort();
  nb_links links;
  if (nb_links_parse((const char *)out.data, out.len, &links, NULL) != NB_OK) abort();
  size_t next = 0;
  nb_coap_msg one;
  for (size_t i = 0; i < NLINKS; i++) {
    bool listed = next < links.count && strcmp(links.links[next].target, table[i].target) == 0;
    if (listed) next++;
    if (listed != lists(req, i)) abort();
    bool every = true;
    for (size_t k = 0; k < req->option_count; k++) {
      if (req->options[k].number != NB_COAP_OPT_URI_QUERY) continue;
      with_query(req, k, &one);
      every = every && lists(&one, i);
    }
    if (listed != every) abort();
  }
  if (next != links.count) abort(); /* a target not in the table, or out of order */
  with_query(req, SIZE_MAX, &one);
  for (size_t i = 0; i < NLINKS; i++)
    if (!lists(&one, i)) abort();
  nb_links_deinit(&links);
  nb_bytes_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_coap_msg req;
  if (nb_coap_parse(data, size, &req) != NB_OK) return 0;
  (void)nb_coap_wk_is_request(&req);
  check_answer(&req);
  return 0;
}
