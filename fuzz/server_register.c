/* Fuzzes Register/Update parsing: a CoAP datagram whose queries and link-format payload go
 * through nb_server_reg_parse as a Register and as an Update, with and without bounds.
 * Oracle: the Content-Formats of the root link's ct read back from the kept object list (as a
 * restored registration reads them, nb_server_reg_formats) are the ones the parse gave. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coap/msg.h"
#include "server/regparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_coap_msg msg;
  if (nb_coap_parse(data, size, &msg) != NB_OK) return 0;
  nb_server_reg_limits limits;
  nb_server_reg_limits_default(&limits);
  for (int reg = 0; reg < 4; reg++) {
    nb_server_reg_params p;
    nb_server_reg_error err;
    if (nb_server_reg_parse(&msg, reg % 2 == 1, reg < 2 ? &limits : NULL, &p, &err) != NB_OK)
      continue;
    if (p.present & NB_REGP_LINKS) {
      uint16_t again[NB_SERVER_FORMATS_MAX];
      size_t n = nb_server_reg_formats(p.links, p.links_len, again, NB_SERVER_FORMATS_MAX);
      if (n != p.format_count || memcmp(again, p.formats, n * sizeof again[0]) != 0) abort();
    } else if (p.format_count) {
      abort();
    }
    nb_server_reg_params_deinit(&p);
  }
  return 0;
}
