/* libFuzzer target: the firmware service's parsers, the JSON body of POST /api/campaigns
 * (nb_fws_spec_parse) and the signed manifest at the head of an uploaded image
 * (nb_fws_manifest_sniff). Never a crash, leak or unbounded allocation. */
#include <stddef.h>
#include <stdint.h>

#include "fw/fwupdate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_fws_spec s;
  char why[160];
  nb_fws_spec_parse((const char *)data, size, &s, why, sizeof why);
  nb_fws_spec_deinit(&s);
  char version[NB_FWS_TEXT_MAX], vendor[NB_FWS_TEXT_MAX];
  nb_fws_manifest_sniff(data, size, version, vendor);
  return 0;
}
