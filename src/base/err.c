/* Error code names and messages. */
#include "base/err.h"

#include <stddef.h>

struct nb_err_entry {
  nb_err code;
  const char *name;
  const char *text;
};

static const struct nb_err_entry nb_err_table[] = {
#define NB_ERR_ROW(name, value, text) {(value), #name, (text)},
    NB_ERRORS(NB_ERR_ROW)
#undef NB_ERR_ROW
};

static const struct nb_err_entry *nb_err_find(nb_err err) {
  for (size_t i = 0; i < sizeof nb_err_table / sizeof nb_err_table[0]; i++) {
    if (nb_err_table[i].code == err) return &nb_err_table[i];
  }
  return NULL;
}

const char *nb_strerror(nb_err err) {
  const struct nb_err_entry *e = nb_err_find(err);
  return e ? e->text : "unknown error";
}

const char *nb_err_name(nb_err err) {
  const struct nb_err_entry *e = nb_err_find(err);
  return e ? e->name : "NB_ERR_UNKNOWN";
}
