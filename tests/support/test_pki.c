#include "test_pki.h"

#include <string.h>

static nb_err issue(const nb_dtls_certkey *ca, const nb_dtls_cert_request *req,
                    nb_dtls_certkey *out) {
  return nb_dtls_cert_issue(ca->cert_pem.data, ca->cert_pem.len, ca->key.key_pem.data,
                            ca->key.key_pem.len, req, out);
}

nb_err nb_test_pki_make(nb_test_pki *k, const char *device_cn, const char *const *server_names,
                        size_t n_names) {
  memset(k, 0, sizeof(*k));
  nb_dtls_cert_request ca = {"Test CA", 0, NULL, 0}, other_ca = {"Other CA", 0, NULL, 0};
  nb_dtls_cert_request srv = {server_names[0], 0, server_names, n_names};
  nb_dtls_cert_request dev = {device_cn, 0, NULL, 0};
  nb_err e = nb_dtls_keypair_generate(&k->dev_key);
  if (!e) e = nb_dtls_keypair_generate(&k->srv_key);
  if (!e) e = nb_dtls_keypair_generate(&k->other_key);
  if (!e) e = nb_dtls_cert_make_ca(&ca, &k->ca);
  if (!e) e = nb_dtls_cert_make_ca(&other_ca, &k->other_ca);
  if (!e) e = issue(&k->ca, &srv, &k->srv_cert);
  if (!e) e = issue(&k->ca, &dev, &k->dev_cert);
  if (!e) e = issue(&k->other_ca, &srv, &k->other_srv_cert);
  if (e) nb_test_pki_free(k);
  return e;
}

void nb_test_pki_free(nb_test_pki *k) {
  nb_dtls_keypair_free(&k->dev_key);
  nb_dtls_keypair_free(&k->srv_key);
  nb_dtls_keypair_free(&k->other_key);
  nb_dtls_certkey_free(&k->ca);
  nb_dtls_certkey_free(&k->other_ca);
  nb_dtls_certkey_free(&k->srv_cert);
  nb_dtls_certkey_free(&k->dev_cert);
  nb_dtls_certkey_free(&k->other_srv_cert);
}
