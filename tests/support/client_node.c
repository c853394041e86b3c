#include "client_node.h"

#include "niobium/client.h"

static void client_receive(void *u, const nb_addr *from, const uint8_t *d, size_t n,
                           nb_time_ms now) {
  nb_client_receive(u, from, d, n, now);
}
static nb_time_ms client_deadline(void *u) { return nb_client_next_deadline(u); }
static void client_tick(void *u, nb_time_ms now) { nb_client_tick(u, now); }
static void client_destroy(void *u) { nb_client_free(u); }

const nb_simnet_ops nb_test_client_ops = {client_receive, client_deadline, client_tick,
                                          client_destroy};
