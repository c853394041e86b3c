/* RFC 6690 link-format: `</path>;attr=value;attr="quoted",...`.
 * Parsing copies the text once; links and params point into that copy (three allocations in
 * all, whatever the number of links). Building writes straight into an nb_bytes. */
#ifndef NB_COAP_LINK_H
#define NB_COAP_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

typedef struct {
  const char *name;
  const char *value; /* NULL for a bare parameter such as ";obs" */
  bool quoted;       /* value was (or must be) a quoted-string */
} nb_link_param;

typedef struct {
  const char *target; /* the URI-Reference between < and > */
  size_t first_param; /* index into nb_links.params */
  size_t param_count;
} nb_link;

/* A parsed link-format document; owns all its memory. */
typedef struct {
  char *text;
  nb_link *links;
  size_t count;
  nb_link_param *params;
  size_t param_total;
} nb_links;

/* Parses len bytes of link-format. Empty input is zero links. On NB_ERR_SYNTAX, *err_pos
 * (if not NULL) is the offset of the first offending byte. Optional whitespace after ','
 * and ';' is tolerated, as many deployed peers emit it. */
nb_err nb_links_parse(const char *text, size_t len, nb_links *out, size_t *err_pos);
void nb_links_deinit(nb_links *links);

const nb_link_param *nb_link_param_at(const nb_links *links, const nb_link *link, size_t i);
/* First parameter of that name, or NULL. */
const nb_link_param *nb_link_find_param(const nb_links *links, const nb_link *link,
                                        const char *name);

/* Appends "<target>", preceded by ',' when out already holds a link. */
nb_err nb_link_write_target(nb_bytes *out, const char *target);
/* Appends ";name", ";name=value" or ';name="value"'; quoting is forced when the value is not
 * a valid ptoken (empty, or holding characters such as space, ',', ';' or '"'). */
nb_err nb_link_write_param(nb_bytes *out, const char *name, const char *value, bool quote);
/* Serializes a parsed document again (round trips keep quoting). */
nb_err nb_links_format(const nb_links *links, nb_bytes *out);

#endif
