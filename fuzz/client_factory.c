/* libFuzzer: the client's factory bootstrap file (`niobium client --factory`, JSON, or a state
 * file told apart by its first byte; src/client/factory.c), then the start that builds the
 * server accounts, their URIs and credentials from it.
 * Oracles: a refusal names the field, never quotes a value, and leaves objects 0-2 as they
 * were; what is accepted is saved as a state file that loads into a fresh client as the same
 * accounts (state(load(state(c))) == state(c)). */
#include "fuzz_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_fuzz_client f;
  nb_fuzz_client_init(&f, false);
  nb_bytes before, after;
  nb_fuzz_client_state(&f, &before);
  char err[256] = "";
  nb_err e = nb_client_load_factory(f.c, data, size, err, sizeof err);
  nb_fuzz_client_state(&f, &after);
  if (e != NB_OK) {
    if (!err[0] || !memchr(err, 0, sizeof err)) abort();
    if (!nb_fuzz_same_bytes(&before, &after)) abort(); /* nothing changed */
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
