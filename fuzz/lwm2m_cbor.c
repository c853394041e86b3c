/* Fuzzes the LwM2M CBOR (11544) decoder under several request paths, as values and as path
 * lists, and the encode/decode round trip of whatever it accepts (see lwm2m_fuzz.h). */
#include "lwm2m_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_fuzz_codec(NB_COAP_CF_LWM2M_CBOR, data, size, 0);
  nb_fuzz_codec(NB_COAP_CF_LWM2M_CBOR, data, size, NB_FORMAT_PATHS_ONLY);
  return 0;
}
