/* libFuzzer: the client's state file (objects 0, 1 and 2 as SenML CBOR, what `niobium client
 * --state` keeps across restarts; nb_client_load_state in src/client), then the start that
 * builds the server accounts from it.
 * Oracles: a refused file leaves objects 0-2 as they were; an accepted one saves back to a file
 * that loads into a fresh client as the same accounts (state(load(state(c))) == state(c)). */
#include "fuzz_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_fuzz_client f;
  nb_fuzz_client_init(&f, false);
  nb_bytes before, after;
  nb_fuzz_client_state(&f, &before);
  nb_err e = nb_client_load_state(f.c, data, size);
  nb_fuzz_client_state(&f, &after);
  if (e != NB_OK) {
    if (!nb_fuzz_same_bytes(&before, &after)) abort();
  } else {
    nb_fuzz_client g;
    nb_fuzz_client_init(&g, false);
    nb_bytes again;
    if (nb_client_load_state(g.c, after.data, after.len) != NB_OK) abort();
    nb_fuzz_client_state(&g, &again);
    if (!nb_fuzz_same_bytes(&after, &again)) abort();
    nb_bytes_free(&again);
    nb_client_free(g.c);
    (void)nb_client_start(f.c, 0);
    nb_client_tick(f.c, 5000);
  }
  nb_bytes_free(&before);
  nb_bytes_free(&after);
  nb_client_free(f.c);
  return 0;
}
