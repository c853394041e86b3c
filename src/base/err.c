/* Error code names and messages. */
#include "base/err.h"

#include <stddef.h>

#include "niobium/config.h"

struct nb_err_entry {
  nb_err code;
  const char *name;
#if NB_CFG_ERROR_TEXT
  const char *text;
#endif
};

/* Without NB_CFG_ERROR_TEXT (a device build) the messages are left out and nb_strerror gives
 * the name: "NB_ERR_TIMEOUT" says as much to whoever reads a device's log. */
#if NB_CFG_ERROR_TEXT
#define NB_ERR_ROW(name, value, text) {(value), #name, (text)},
#else
#define NB_ERR_ROW(name, value, text) {(value), #name},
#endif
static const struct nb_err_entry nb_err_table[] = {NB_ERRORS(NB_ERR_ROW)};
#undef NB_ERR_ROW

static const struct nb_err_entry *nb_err_find(nb_err err) {
  for (size_t i = 0; i < sizeof nb_err_table / sizeof nb_err_table[0]; i++) {
    if (nb_err_table[i].code == err) return &nb_err_table[i];
  }
  return NULL;
}

const char *nb_strerror(nb_err err) {
  const struct nb_err_entry *e = nb_err_find(err);
#if NB_CFG_ERROR_TEXT
  return e ? e->text : "unknown error";
#else
  return e ? e->name : "NB_ERR_UNKNOWN";
#endif
}

const char *nb_err_name(nb_err err) {
  const struct nb_err_entry *e = nb_err_find(err);
  return e ? e->name : "NB_ERR_UNKNOWN";
}
