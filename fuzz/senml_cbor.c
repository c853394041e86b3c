/* Fuzzes the SenML CBOR (112) decoder, and the plain CBOR (60) one that shares its reader, under
 * several request paths, and the encode/decode round trip of whatever it accepts (see
 * lwm2m_fuzz.h). */
#include "lwm2m_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_fuzz_codec(NB_COAP_CF_SENML_CBOR, data, size, 0);
  nb_fuzz_codec(NB_COAP_CF_SENML_CBOR, data, size, NB_FORMAT_PATHS_ONLY);
  nb_fuzz_codec(NB_COAP_CF_CBOR, data, size, 0);
  return 0;
}
