/* LwM2M paths: "/", /o, /o/i, /o/i/r and /o/i/r/ri with 16-bit IDs (65535 is reserved).
 * A path is a small value type; this module parses, formats, orders and compares paths and
 * converts them from and to CoAP Uri-Path options. It owns no memory. */
#ifndef NB_LWM2M_PATH_H
#define NB_LWM2M_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "coap/msg.h"

#define NB_ID_MAX 65534 /* 65535 is reserved */

/* Levels of a path, as its len. */
enum {
  NB_PATH_ROOT = 0,
  NB_PATH_OBJECT = 1,
  NB_PATH_INSTANCE = 2,
  NB_PATH_RESOURCE = 3,
  NB_PATH_RINSTANCE = 4
};

typedef struct {
  uint16_t ids[4];
  uint8_t len; /* 0 "/", 1 /o, 2 /o/i, 3 /o/i/r, 4 /o/i/r/ri */
} nb_path;

/* Longest formatted path ("/65534/65534/65534/65534" is 24 bytes) plus NUL, rounded up. */
#define NB_PATH_STRLEN 32

nb_path nb_path_root(void);
nb_path nb_path_obj(uint16_t o);
nb_path nb_path_inst(uint16_t o, uint16_t i);
nb_path nb_path_res(uint16_t o, uint16_t i, uint16_t r);
nb_path nb_path_rinst(uint16_t o, uint16_t i, uint16_t r, uint16_t ri);

/* True when every ID is at most NB_ID_MAX and len is 0..4. */
bool nb_path_is_valid(const nb_path *p);

/* Parses "/3/0/1" or "/" (a trailing "/" is accepted: "/3/" is /3). NB_ERR_SYNTAX for
 * anything but decimal IDs between single slashes ("/a", "//", "/1/2/3/4/5", "3", "/03x");
 * NB_ERR_RANGE for an ID above NB_ID_MAX. *out is unchanged on error. */
nb_err nb_path_parse(const char *text, nb_path *out);

/* Same, for a text of explicit length (need not be NUL-terminated). */
nb_err nb_path_parse_n(const char *text, size_t len, nb_path *out);

/* Formats "/3/0/1" ("/" for the root). NB_PATH_STRLEN is always enough; NB_ERR_OVERFLOW
 * when cap is too small, NB_ERR_INVAL for an invalid path. */
nb_err nb_path_format(const nb_path *p, char *buf, size_t cap);

/* Total order: by ids level by level, a prefix before what it prefixes (/3 < /3/0 < /4).
 * Returns <0, 0 or >0. */
int nb_path_compare(const nb_path *a, const nb_path *b);
bool nb_path_equal(const nb_path *a, const nb_path *b);

/* "/3" is a prefix of "/3/0/1" and of itself; "/" is a prefix of every path. */
bool nb_path_is_prefix(const nb_path *prefix, const nb_path *p);

/* Reads the Uri-Path options of msg: none is "/", each segment must be a decimal ID
 * (NB_ERR_SYNTAX otherwise, NB_ERR_RANGE above NB_ID_MAX, NB_ERR_SYNTAX for more than 4). */
nb_err nb_path_from_coap(const nb_coap_msg *msg, nb_path *out);
/* The same over any option list (a message parsed with nb_coap_parse_wide). */
nb_err nb_path_from_optlist(const nb_coap_optlist *opts, nb_path *out);

/* Adds one Uri-Path option per ID (none for the root). */
nb_err nb_path_to_coap(nb_coap_msg *msg, const nb_path *p);

#endif
