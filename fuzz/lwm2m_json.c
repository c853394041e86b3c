/* Fuzzes the LwM2M JSON (11543) decoder, and text/plain (its values are text too), under several
 * request paths, and the encode/decode round trip of whatever it accepts (see lwm2m_fuzz.h). */
#include "lwm2m_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_fuzz_codec(NB_COAP_CF_LWM2M_JSON, data, size, 0);
  nb_fuzz_codec(NB_COAP_CF_TEXT, data, size, 0);
  return 0;
}
