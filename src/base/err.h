/* Error codes shared by every Niobium module.
 * Functions return nb_err: NB_OK (0) or a negative code; nb_strerror names it. */
#ifndef NB_BASE_ERR_H
#define NB_BASE_ERR_H

typedef int nb_err;

/* X-macro so the enum and the message table cannot drift apart. */
#define NB_ERRORS(X)                                                                      \
  X(NB_OK, 0, "success")                                                                  \
  X(NB_ERR_NOMEM, -1, "out of memory")                                                    \
  X(NB_ERR_INVAL, -2, "invalid argument")                                                 \
  X(NB_ERR_TRUNCATED, -3, "input ends before the data it announces")                      \
  X(NB_ERR_OVERFLOW, -4, "output buffer too small")                                       \
  X(NB_ERR_RANGE, -5, "value out of range")                                               \
  X(NB_ERR_NOT_FOUND, -6, "not found")                                                    \
  X(NB_ERR_EXISTS, -7, "already exists")                                                  \
  X(NB_ERR_TIMEOUT, -8, "timed out")                                                      \
  X(NB_ERR_BUSY, -9, "resource busy or limit reached")                                    \
  X(NB_ERR_STATE, -10, "operation not valid in this state")                               \
  X(NB_ERR_IO, -11, "input/output error")                                                 \
  X(NB_ERR_UNSUPPORTED, -12, "not supported")                                             \
  X(NB_ERR_RESET, -13, "peer answered with a reset")                                      \
  X(NB_ERR_CANCELLED, -14, "cancelled")                                                   \
  X(NB_ERR_SYNTAX, -15, "syntax error")                                                   \
  X(NB_ERR_PERM, -16, "file open to group or others")                                     \
  X(NB_ERR_DENIED, -17, "the peer refused our credentials (a wrong token?)")              \
  X(NB_ERR_COAP_VERSION, -100, "CoAP: version is not 1")                                  \
  X(NB_ERR_COAP_TOKEN_LEN, -101, "CoAP: token length 9-15 is reserved")                   \
  X(NB_ERR_COAP_OPT_RESERVED, -102, "CoAP: option delta or length nibble 15 is reserved") \
  X(NB_ERR_COAP_EMPTY_PAYLOAD, -103, "CoAP: payload marker followed by no payload")       \
  X(NB_ERR_COAP_TRUNCATED, -104, "CoAP: option or token runs past the datagram end")      \
  X(NB_ERR_COAP_OPT_NUMBER, -105, "CoAP: option number exceeds 65535")                    \
  X(NB_ERR_COAP_EMPTY_MSG, -106, "CoAP: empty message (0.00) with token or content")      \
  X(NB_ERR_COAP_SHORT, -107, "CoAP: datagram shorter than the 4-byte header")             \
  X(NB_ERR_COAP_TOO_MANY_OPTS, -108, "CoAP: more options than this stack accepts")        \
  X(NB_ERR_COAP_BAD_OPTION, -109, "CoAP: unrecognized or malformed critical option")      \
  X(NB_ERR_COAP_OPT_ORDER, -110, "CoAP: options not in ascending number order")           \
  X(NB_ERR_COAP_CODE, -111, "CoAP: code in a reserved class")                             \
  X(NB_ERR_COAP_BLOCK, -112, "CoAP: block-wise transfer out of sequence")                 \
  X(NB_ERR_COAP_TOO_LARGE, -113, "CoAP: entity exceeds the reassembly limit")             \
  X(NB_ERR_DTLS_HANDSHAKE, -200, "DTLS: handshake failed")                                \
  X(NB_ERR_DTLS_ALERT, -201, "DTLS: the peer sent a fatal alert")                         \
  X(NB_ERR_DTLS_TIMEOUT, -202, "DTLS: handshake timed out")                               \
  X(NB_ERR_DTLS_PEER_REJECTED, -203, "DTLS: peer key or certificate rejected")            \
  X(NB_ERR_DTLS_UNKNOWN_IDENTITY, -204, "DTLS: unknown PSK identity")                     \
  X(NB_ERR_DTLS_BAD_MAC, -205, "DTLS: peer records fail authentication (wrong key?)")     \
  X(NB_ERR_DTLS_CLOSED, -206, "DTLS: session closed (close_notify)")                      \
  X(NB_ERR_DTLS_EXPIRED, -207, "DTLS: session expired after being idle")                  \
  X(NB_ERR_DTLS_LIMIT, -208, "DTLS: session or handshake limit reached")                  \
  X(NB_ERR_DTLS_REPLACED, -209, "DTLS: replaced by a new handshake from the same peer")   \
  X(NB_ERR_DTLS_CREDENTIALS, -210, "DTLS: credentials missing or unusable")               \
  X(NB_ERR_DTLS_GNUTLS, -211, "DTLS: GnuTLS reported an internal error")                  \
  X(NB_ERR_DTLS_NOT_ESTABLISHED, -212, "DTLS: session not established")                   \
  X(NB_ERR_DTLS_BAD_KEY, -213, "DTLS: key or certificate could not be parsed")            \
  X(NB_ERR_DTLS_UNTRUSTED, -214, "DTLS: certificate chain not trusted")                   \
  X(NB_ERR_DTLS_REPLAY, -215, "DTLS: record received before (replay) or too old")         \
  X(NB_ERR_FMT_MALFORMED, -350, "content format: malformed payload")                      \
  X(NB_ERR_FMT_TYPE, -351, "content format: value does not match the resource type")      \
  X(NB_ERR_FMT_UNSUPPORTED, -352, "content format: not usable for this target or data")   \
  X(NB_ERR_FMT_DUPLICATE, -353, "content format: the same path appears twice")            \
  X(NB_ERR_FMT_PATH, -354, "content format: record path invalid or outside the target")   \
  X(NB_ERR_FMT_SECRET, -355, "content format: holds a secret key (never shown)")          \
  X(NB_ERR_DDF, -300, "LwM2M DDF: malformed object definition file")                      \
  X(NB_ERR_DDF_UNSAFE, -301, "LwM2M DDF: DTD or entity declarations are not accepted")    \
  X(NB_ERR_DDF_NOT_OBJECT, -302, "LwM2M DDF: file holds no object definition")            \
  X(NB_ERR_SIG_NO_KEY, -400, "signed data: the device has no public key to verify with")  \
  X(NB_ERR_SIG_INVALID, -401, "signed data: the signature does not verify")               \
  X(NB_ERR_SIG_ISSUER, -402, "signed data: the issuer is not the registered endpoint")

enum {
#define NB_ERR_ENUM(name, value, text) name = (value),
  NB_ERRORS(NB_ERR_ENUM)
#undef NB_ERR_ENUM
};

/* Static English text for an error code; never NULL. */
const char *nb_strerror(nb_err err);

/* Symbolic name ("NB_ERR_NOMEM") for logs and tests; never NULL. */
const char *nb_err_name(nb_err err);

#endif
