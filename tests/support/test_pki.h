/* Key material for the DTLS tests, made once per test program: raw P-256 key pairs for a
 * device, a server and a stranger, a test CA and a foreign CA, and certificates for the server
 * and the device from the test CA plus one for the server from the foreign CA (the "wrong
 * trust anchor" case). */
#ifndef NB_TEST_PKI_H
#define NB_TEST_PKI_H

#include <stddef.h>

#include "base/err.h"
#include "dtls/keys.h"

typedef struct {
  nb_dtls_keypair dev_key, srv_key, other_key;
  nb_dtls_certkey ca, other_ca, srv_cert, dev_cert, other_srv_cert;
} nb_test_pki;

/* The server certificate's CN is server_names[0]; all names go into its subjectAltName. */
nb_err nb_test_pki_make(nb_test_pki *k, const char *device_cn, const char *const *server_names,
                        size_t n_names);
void nb_test_pki_free(nb_test_pki *k);

#endif
