/* Parsing of LwM2M Register and Update requests (TS Core 6.2.1, 6.2.2; Transport 6.4): the
 * query parameters ep, lt, lwm2m, b, Q, sms and the link-format object list. Pure functions
 * over a parsed CoAP message, separate from the engine so they can be fuzzed alone. Owns the
 * object-list text of an nb_server_reg_params (freed by nb_server_reg_params_deinit). */
#ifndef NB_SERVER_REGPARSE_H
#define NB_SERVER_REGPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "coap/msg.h"

#define NB_SERVER_EP_MAX 128    /* endpoint name plus NUL */
#define NB_SERVER_VER_MAX 8     /* "1.1" plus NUL */
#define NB_SERVER_BINDING_MAX 8 /* "UQS", "UNT" plus NUL */
#define NB_SERVER_SMS_MAX 32    /* MSISDN plus NUL */
#define NB_SERVER_DEFAULT_LIFETIME 86400u
#define NB_SERVER_FORMATS_MAX 8 /* Content-Formats kept from the root link's ct */

/* Defaults of nb_server_reg_limits: what one Register or Update may make the server keep. */
#define NB_SERVER_REG_PAYLOAD_MAX 8192 /* object list, bytes */
#define NB_SERVER_REG_LINKS_MAX 1024   /* links in the object list */
#define NB_SERVER_REG_ATTRS_MAX 8      /* attributes of one link */
#define NB_SERVER_REG_ATTR_LEN_MAX 128 /* one attribute, name=value, bytes */

/* Bits of nb_server_reg_params.present: which parameters the request carried. */
enum {
  NB_REGP_EP = 1u << 0,
  NB_REGP_LT = 1u << 1,
  NB_REGP_VER = 1u << 2,
  NB_REGP_BINDING = 1u << 3,
  NB_REGP_QUEUE = 1u << 4,
  NB_REGP_SMS = 1u << 5,
  NB_REGP_LINKS = 1u << 6,
};

typedef struct {
  unsigned present; /* NB_REGP_* */
  char ep[NB_SERVER_EP_MAX];
  uint32_t lifetime; /* seconds, >= 1 */
  char version[NB_SERVER_VER_MAX];
  char binding[NB_SERVER_BINDING_MAX];
  bool queue; /* Q parameter (1.1) or Q in the 1.0 binding */
  char sms[NB_SERVER_SMS_MAX];
  char *links; /* object list as received (heap, NUL-terminated), NULL when absent */
  size_t links_len;
  uint32_t *objects; /* distinct object IDs listed, ascending (heap) */
  size_t object_count;
  /* The Content-Formats the client says it supports: the ct of the object list's root link
   * (`</>;rt="oma.lwm2m";ct="110 11542"`, TS Core 6.2.1), first NB_SERVER_FORMATS_MAX as
   * listed; none when the list has no root link or it has no ct. */
  uint16_t formats[NB_SERVER_FORMATS_MAX];
  size_t format_count;
} nb_server_reg_params;

void nb_server_reg_params_init(nb_server_reg_params *p);
void nb_server_reg_params_deinit(nb_server_reg_params *p);

/* Why a request was refused: the CoAP code to answer and a static reason. */
typedef struct {
  uint8_t code; /* NB_COAP_BAD_REQUEST, NB_COAP_PRECONDITION_FAILED or
                   NB_COAP_REQUEST_ENTITY_TOO_LARGE */
  const char *reason;
} nb_server_reg_error;

/* Bounds on the object list, so a peer cannot make the server keep more than this (0: no
 * bound). Every link's attributes count, known or not, since the list is kept verbatim. */
typedef struct {
  size_t payload;  /* bytes (NB_SERVER_REG_PAYLOAD_MAX) */
  size_t links;    /* links (NB_SERVER_REG_LINKS_MAX) */
  size_t attrs;    /* attributes of one link (NB_SERVER_REG_ATTRS_MAX) */
  size_t attr_len; /* one attribute as name=value without quotes (NB_SERVER_REG_ATTR_LEN_MAX) */
} nb_server_reg_limits;

/* The defaults above. */
void nb_server_reg_limits_default(nb_server_reg_limits *l);

/* Parses a Register (register=true: ep is mandatory, defaults lt=86400, lwm2m=1.0, b=U) or an
 * Update (only what is present). On error *out is left empty and err (may be NULL) says what to
 * answer: 4.00 for malformed, duplicate or out-of-range parameters and a malformed object list
 * or one past limits' links, attrs or attr_len; 4.12 for a well-formed LwM2M version other than
 * 1.0, 1.1 or 1.2; 4.13 for an object list longer than limits->payload (NB_ERR_RANGE). limits
 * NULL: no bounds. Unknown parameters are ignored, as extensions are allowed. */
nb_err nb_server_reg_parse(const nb_coap_msg *msg, bool register_req,
                           const nb_server_reg_limits *limits, nb_server_reg_params *out,
                           nb_server_reg_error *err);

/* Endpoint names as registration takes them: 1 to NB_SERVER_EP_MAX - 1 bytes of printable
 * ASCII without space and the characters that would break a URL path, a query or a log line
 * (/ ? & # % " \). The REST API checks the names it is given with the same rule. */
bool nb_server_ep_valid(const uint8_t *s, size_t len);
/* The root link's ct of an object list already accepted once (a stored registration's): up to
 * cap formats into out, in the order listed; 0 when there is none or the list does not parse. */
size_t nb_server_reg_formats(const char *links, size_t len, uint16_t *out, size_t cap);

/* True for a binding string LwM2M 1.0 or 1.1 allows ("U", "UQ", "S", "SQ", "US", "UQS", "N",
 * "T" and combinations of U, S, N, T in 1.1). */
bool nb_server_binding_valid(const char *b, const char *version);

#endif
