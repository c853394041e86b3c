/* libFuzzer: CoAP datagrams. Oracle: a datagram that parses serializes back to the same
 * bytes (the encoding is canonical), and the readers never fault. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coap/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise_readers(const nb_coap_msg *msg) {
  char text[1300];
  uint32_t v;
  uint16_t bad;
  (void)nb_coap_msg_get_path(msg, NB_COAP_OPT_URI_PATH, text, sizeof text);
  (void)nb_coap_msg_get_query(msg, NB_COAP_OPT_URI_QUERY, "ep", text, sizeof text);
  (void)nb_coap_msg_get_uint(msg, NB_COAP_OPT_BLOCK2, &v);
  (void)nb_coap_msg_check_options(msg, &bad);
  (void)nb_coap_msg_content_format(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_coap_msg msg;
  if (nb_coap_parse(data, size, &msg) != NB_OK) return 0;
  exercise_readers(&msg);
  uint8_t *out = malloc(size);
  size_t len = 0;
  if (!out) return 0;
  if (nb_coap_serialize(&msg, out, size, &len) != NB_OK || len != size ||
      memcmp(out, data, size) != 0) {
    abort();
  }
  free(out);
  return 0;
}
