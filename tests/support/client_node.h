/* A client engine as a node of the simulated network (simnet.h): datagrams, deadline and ticks
 * go to the nb_client given as the node's user pointer, which the network frees with the node. */
#ifndef NB_TEST_CLIENT_NODE_H
#define NB_TEST_CLIENT_NODE_H

#include "simnet.h"

extern const nb_simnet_ops nb_test_client_ops;

#endif
