/* Fuzzes Register/Update parsing: a CoAP datagram whose queries and link-format payload go
 * through nb_server_reg_parse as a Register and as an Update, with and without bounds. */
#include <stddef.h>
#include <stdint.h>

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
    if (nb_server_reg_parse(&msg, reg % 2 == 1, reg < 2 ? &limits : NULL, &p, &err) == NB_OK)
      nb_server_reg_params_deinit(&p);
  }
  return 0;
}
