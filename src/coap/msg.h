/* CoAP message model and codec (RFC 7252 section 3, option registry of 7252/7641/7959).
 * Parsing is zero-copy: options and payload of a parsed message point into the datagram.
 * Options added with the builder functions are copied into the message's own store, so a
 * built message must not be copied by assignment while its copy outlives the original. */
#ifndef NB_COAP_MSG_H
#define NB_COAP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum { NB_COAP_CON = 0, NB_COAP_NON = 1, NB_COAP_ACK = 2, NB_COAP_RST = 3 };

#define NB_COAP_CODE(cls, detail) ((uint8_t)(((cls) << 5) | (detail)))
#define NB_COAP_CLASS(code) ((uint8_t)((code) >> 5))
#define NB_COAP_DETAIL(code) ((uint8_t)((code)&0x1f))

enum {
  NB_COAP_EMPTY = 0,
  NB_COAP_GET = 1,
  NB_COAP_POST = 2,
  NB_COAP_PUT = 3,
  NB_COAP_DELETE = 4,
  NB_COAP_FETCH = 5,
  NB_COAP_PATCH = 6,
  NB_COAP_IPATCH = 7,
  NB_COAP_CREATED = NB_COAP_CODE(2, 1),
  NB_COAP_DELETED = NB_COAP_CODE(2, 2),
  NB_COAP_VALID = NB_COAP_CODE(2, 3),
  NB_COAP_CHANGED = NB_COAP_CODE(2, 4),
  NB_COAP_CONTENT = NB_COAP_CODE(2, 5),
  NB_COAP_CONTINUE = NB_COAP_CODE(2, 31),
  NB_COAP_BAD_REQUEST = NB_COAP_CODE(4, 0),
  NB_COAP_UNAUTHORIZED = NB_COAP_CODE(4, 1),
  NB_COAP_BAD_OPTION = NB_COAP_CODE(4, 2),
  NB_COAP_FORBIDDEN = NB_COAP_CODE(4, 3),
  NB_COAP_NOT_FOUND = NB_COAP_CODE(4, 4),
  NB_COAP_METHOD_NOT_ALLOWED = NB_COAP_CODE(4, 5),
  NB_COAP_NOT_ACCEPTABLE = NB_COAP_CODE(4, 6),
  NB_COAP_REQUEST_ENTITY_INCOMPLETE = NB_COAP_CODE(4, 8),
  NB_COAP_PRECONDITION_FAILED = NB_COAP_CODE(4, 12),
  NB_COAP_REQUEST_ENTITY_TOO_LARGE = NB_COAP_CODE(4, 13),
  NB_COAP_UNSUPPORTED_CONTENT_FORMAT = NB_COAP_CODE(4, 15),
  NB_COAP_INTERNAL_SERVER_ERROR = NB_COAP_CODE(5, 0),
  NB_COAP_NOT_IMPLEMENTED = NB_COAP_CODE(5, 1),
  NB_COAP_BAD_GATEWAY = NB_COAP_CODE(5, 2),
  NB_COAP_SERVICE_UNAVAILABLE = NB_COAP_CODE(5, 3),
  NB_COAP_GATEWAY_TIMEOUT = NB_COAP_CODE(5, 4),
  NB_COAP_PROXYING_NOT_SUPPORTED = NB_COAP_CODE(5, 5),
};

enum {
  NB_COAP_OPT_IF_MATCH = 1,
  NB_COAP_OPT_URI_HOST = 3,
  NB_COAP_OPT_ETAG = 4,
  NB_COAP_OPT_IF_NONE_MATCH = 5,
  NB_COAP_OPT_OBSERVE = 6,
  NB_COAP_OPT_URI_PORT = 7,
  NB_COAP_OPT_LOCATION_PATH = 8,
  NB_COAP_OPT_URI_PATH = 11,
  NB_COAP_OPT_CONTENT_FORMAT = 12,
  NB_COAP_OPT_MAX_AGE = 14,
  NB_COAP_OPT_URI_QUERY = 15,
  NB_COAP_OPT_ACCEPT = 17,
  NB_COAP_OPT_LOCATION_QUERY = 20,
  NB_COAP_OPT_BLOCK2 = 23,
  NB_COAP_OPT_BLOCK1 = 27,
  NB_COAP_OPT_SIZE2 = 28,
  NB_COAP_OPT_PROXY_URI = 35,
  NB_COAP_OPT_PROXY_SCHEME = 39,
  NB_COAP_OPT_SIZE1 = 60,
};

/* Content-Format numbers used by LwM2M. */
enum {
  NB_COAP_CF_TEXT = 0,
  NB_COAP_CF_LINK_FORMAT = 40,
  NB_COAP_CF_OCTET_STREAM = 42,
  NB_COAP_CF_CBOR = 60,
  NB_COAP_CF_SENML_JSON = 110,
  NB_COAP_CF_SENML_CBOR = 112,
  NB_COAP_CF_LWM2M_TLV = 11542,
  NB_COAP_CF_LWM2M_JSON = 11543,
  NB_COAP_CF_LWM2M_CBOR = 11544,
  NB_COAP_CF_NONE = -1, /* "no Content-Format option" in APIs that take an int */
};

typedef enum {
  NB_COAP_FMT_EMPTY,
  NB_COAP_FMT_OPAQUE,
  NB_COAP_FMT_UINT,
  NB_COAP_FMT_STRING
} nb_coap_opt_format;

/* One row of the option registry. */
typedef struct {
  uint16_t number;
  const char *name;
  nb_coap_opt_format format;
  uint16_t min_len;
  uint16_t max_len;
  bool repeatable;
} nb_coap_option_def;

typedef struct {
  uint16_t number;
  uint16_t len;
  const uint8_t *value;
} nb_coap_option;

#define NB_COAP_MAX_TOKEN 8
/* Length of the tokens we choose: 32 CSPRNG bits, the randomness RFC 7252 5.3.1 asks of an
 * unsecured endpoint (and more than a DTLS session needs); peers accept any length 0-8. */
#define NB_COAP_GEN_TOKEN_LEN 4
#define NB_COAP_MAX_OPTIONS 48
#define NB_COAP_OPT_STORE 640

typedef struct {
  uint8_t type;
  uint8_t code;
  uint16_t mid;
  uint8_t token_len;
  uint8_t token[NB_COAP_MAX_TOKEN];
  uint16_t option_count;
  nb_coap_option options[NB_COAP_MAX_OPTIONS]; /* ascending by number, repeats in order */
  const uint8_t *payload;
  size_t payload_len;
  uint16_t store_used;
  uint8_t store[NB_COAP_OPT_STORE]; /* copies of values added by the builder */
} nb_coap_msg;

/* A message's options wherever they are stored: in the message's own array, or in a larger
 * array of the caller's (nb_coap_parse_wide). Every reader below has a form for each. */
typedef struct {
  const nb_coap_option *items; /* ascending by number, repeats in order */
  size_t count;
} nb_coap_optlist;

static inline nb_coap_optlist nb_coap_msg_opts(const nb_coap_msg *msg) {
  nb_coap_optlist o = {msg->options, msg->option_count};
  return o;
}

/* ---- codec ---- */

/* Parses a datagram. On success msg's options and payload point into dgram. Each RFC 7252
 * format error has its own NB_ERR_COAP_* code; more than NB_COAP_MAX_OPTIONS options is
 * NB_ERR_COAP_TOO_MANY_OPTS (the bound of the server's and client's message store). */
nb_err nb_coap_parse(const uint8_t *dgram, size_t len, nb_coap_msg *msg);

/* Parses like nb_coap_parse with no fixed option count: the options go into the caller's
 * opts[cap] and *out (msg->options stays empty), so any number a datagram can hold is read.
 * cap >= len is always enough (every option takes at least one byte); a smaller cap that
 * fills up is NB_ERR_COAP_TOO_MANY_OPTS. For observers (the monitor) that must read what any
 * peer would accept. */
nb_err nb_coap_parse_wide(const uint8_t *dgram, size_t len, nb_coap_msg *msg, nb_coap_option *opts,
                          size_t cap, nb_coap_optlist *out);

/* Serializes msg; NB_ERR_OVERFLOW when cap is too small, NB_ERR_COAP_OPT_ORDER when the
 * options array is not sorted (only possible if it was edited by hand). */
nb_err nb_coap_serialize(const nb_coap_msg *msg, uint8_t *buf, size_t cap, size_t *out_len);

/* Exact serialized length of msg. */
size_t nb_coap_serialized_size(const nb_coap_msg *msg);

/* ---- builder ---- */

void nb_coap_msg_init(nb_coap_msg *msg, uint8_t type, uint8_t code, uint16_t mid);
nb_err nb_coap_msg_set_token(nb_coap_msg *msg, const uint8_t *token, size_t len);
/* Adds an option (value copied), keeping options sorted; repeats keep insertion order. */
nb_err nb_coap_msg_add_option(nb_coap_msg *msg, uint16_t number, const void *value, size_t len);
/* Adds a uint option in its shortest encoding (0 is zero bytes). */
nb_err nb_coap_msg_add_uint(nb_coap_msg *msg, uint16_t number, uint32_t value);
nb_err nb_coap_msg_add_string(nb_coap_msg *msg, uint16_t number, const char *value);
/* Removes every occurrence of an option number (their store bytes are not reclaimed). */
void nb_coap_msg_remove_option(nb_coap_msg *msg, uint16_t number);
/* Splits "/a/b" (or "a/b") into Uri-Path or Location-Path options; "/" adds none.
 * Segments are percent-decoded. */
nb_err nb_coap_msg_add_path(nb_coap_msg *msg, uint16_t number, const char *path);
/* Adds one Uri-Query or Location-Query option ("ep=dev1"). */
nb_err nb_coap_msg_add_query(nb_coap_msg *msg, uint16_t number, const char *query);
/* Borrows the payload: it must live until the message is serialized. */
void nb_coap_msg_set_payload(nb_coap_msg *msg, const void *payload, size_t len);

/* ---- readers (nb_coap_msg_*: the message's options; nb_coap_optlist_*: any option list) ---- */

/* First occurrence of an option, or NULL. */
const nb_coap_option *nb_coap_msg_find(const nb_coap_msg *msg, uint16_t number);
const nb_coap_option *nb_coap_optlist_find(const nb_coap_optlist *o, uint16_t number);
size_t nb_coap_msg_count(const nb_coap_msg *msg, uint16_t number);
size_t nb_coap_optlist_count(const nb_coap_optlist *o, uint16_t number);
/* Value of a uint option (up to 4 bytes): NB_ERR_NOT_FOUND, or NB_ERR_RANGE if too long. */
nb_err nb_coap_msg_get_uint(const nb_coap_msg *msg, uint16_t number, uint32_t *out);
nb_err nb_coap_optlist_get_uint(const nb_coap_optlist *o, uint16_t number, uint32_t *out);
/* Content-Format or Accept, NB_COAP_CF_NONE when absent. */
int nb_coap_msg_content_format(const nb_coap_msg *msg);
int nb_coap_msg_accept(const nb_coap_msg *msg);
int nb_coap_optlist_content_format(const nb_coap_optlist *o);
int nb_coap_optlist_accept(const nb_coap_optlist *o);
/* Joins the Uri-Path or Location-Path options into "/a/b" ("/" when none); bytes that
 * cannot stand in a path segment are percent-encoded. NB_ERR_OVERFLOW when cap is short. */
nb_err nb_coap_msg_get_path(const nb_coap_msg *msg, uint16_t number, char *buf, size_t cap);
nb_err nb_coap_optlist_get_path(const nb_coap_optlist *o, uint16_t number, char *buf, size_t cap);
/* Finds "key=value" (or a bare "key", value "") among Uri-Query/Location-Query options
 * and copies the value, NUL-terminated. NB_ERR_NOT_FOUND when absent. */
nb_err nb_coap_msg_get_query(const nb_coap_msg *msg, uint16_t number, const char *key, char *buf,
                             size_t cap);
nb_err nb_coap_optlist_get_query(const nb_coap_optlist *o, uint16_t number, const char *key,
                                 char *buf, size_t cap);

/* ---- option registry and semantic checks ---- */

/* Registry row of a known option, or NULL for an unknown number. */
const nb_coap_option_def *nb_coap_option_def_find(uint16_t number);
static inline bool nb_coap_option_is_critical(uint16_t number) { return (number & 1) != 0; }
static inline bool nb_coap_option_is_unsafe(uint16_t number) { return (number & 2) != 0; }
static inline bool nb_coap_option_is_nocachekey(uint16_t number) { return (number & 0x1e) == 0x1c; }

/* RFC 7252 5.4.1/5.4.5: NB_ERR_COAP_BAD_OPTION (and *bad_number) when a critical option
 * is unknown, has a length outside its range, or repeats though it is not repeatable.
 * Elective problems are ignored, as the RFC says. */
nb_err nb_coap_msg_check_options(const nb_coap_msg *msg, uint16_t *bad_number);
nb_err nb_coap_optlist_check(const nb_coap_optlist *o, uint16_t *bad_number);

/* ---- codes ---- */

static inline bool nb_coap_is_request(uint8_t code) {
  return NB_COAP_CLASS(code) == 0 && code != NB_COAP_EMPTY;
}
static inline bool nb_coap_is_response(uint8_t code) {
  uint8_t c = NB_COAP_CLASS(code);
  return c == 2 || c == 4 || c == 5;
}
/* "2.05" into buf (at least 5 bytes); returns buf. */
const char *nb_coap_code_format(uint8_t code, char *buf);
/* "Content", "GET", "Not Found"...; "Unknown" otherwise. */
const char *nb_coap_code_name(uint8_t code);
const char *nb_coap_type_name(uint8_t type);

#endif
