/* PSK files for the fleet simulator: read for lookups, written 0600. */
#include "sim/credfile.h"

#include <fcntl.h>
#include <gnutls/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hex.h"
#include "sim/textfile.h"

#define NB_SIM_PSK_MAX 64
#define NB_SIM_FIELD 128

typedef struct {
  char ep[NB_SIM_FIELD], identity[NB_SIM_FIELD];
  uint8_t key[NB_SIM_PSK_MAX];
  uint8_t key_len;
} nb_sim_psk_entry;

struct nb_sim_pskfile {
  nb_sim_psk_entry *e; /* sorted by endpoint */
  size_t n, cap;
};

static int nb_sim_psk_cmp(const void *a, const void *b) {
  return strcmp(((const nb_sim_psk_entry *)a)->ep, ((const nb_sim_psk_entry *)b)->ep);
}

/* "ep,identity,hexkey" into e; false when malformed. */
static bool nb_sim_psk_parse(char *line, nb_sim_psk_entry *e) {
  line[strcspn(line, "\r\n")] = 0;
  char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
  if (!c1 || !c2 || strchr(c2 + 1, ',')) return false;
  size_t el = (size_t)(c1 - line), il = (size_t)(c2 - c1 - 1);
  if (el == 0 || el >= sizeof e->ep || il == 0 || il >= sizeof e->identity) return false;
  memcpy(e->ep, line, el);
  e->ep[el] = 0;
  memcpy(e->identity, c1 + 1, il);
  e->identity[il] = 0;
  size_t kl = 0;
  char *hex = c2 + 1;
  size_t hl = strlen(hex);
  while (hl > 0 && (hex[hl - 1] == ' ' || hex[hl - 1] == '\t')) hl--;
  if (nb_hex_decode(hex, hl, NULL, e->key, sizeof e->key, &kl) != NB_OK || kl == 0) return false;
  e->key_len = (uint8_t)kl;
  return true;
}

static nb_err nb_sim_psk_add(nb_sim_pskfile *p, const nb_sim_psk_entry *e) {
  if (p->n == p->cap) {
    size_t nc = p->cap ? p->cap * 2 : 64;
    nb_sim_psk_entry *ne = malloc(nc * sizeof *ne);
    if (!ne) return NB_ERR_NOMEM;
    if (p->n) memcpy(ne, p->e, p->n * sizeof *ne);
    if (p->e) gnutls_memset(p->e, 0, p->n * sizeof *p->e);
    free(p->e);
    p->e = ne;
    p->cap = nc;
  }
  p->e[p->n++] = *e;
  return NB_OK;
}

nb_err nb_sim_pskfile_parse(const char *text, size_t len, const char *name, nb_sim_pskfile **out,
                            char *err, size_t errcap) {
  nb_sim_pskfile *p = calloc(1, sizeof *p);
  char line[512];
  nb_sim_psk_entry e;
  nb_err rc = p ? NB_OK : NB_ERR_NOMEM;
  const char *s = text, *end = text + len;
  for (unsigned lineno = 1; rc == NB_OK && s < end; lineno++) {
    const char *nl = memchr(s, '\n', (size_t)(end - s)), *le = nl ? nl : end;
    size_t n = (size_t)(le - s);
    const char *ls = s;
    s = nl ? nl + 1 : end;
    if (n >= sizeof line || memchr(ls, 0, n)) {
      snprintf(err, errcap, "%s:%u: %s", name, lineno,
               n >= sizeof line ? "line too long" : "a NUL byte");
      rc = NB_ERR_SYNTAX;
      break;
    }
    memcpy(line, ls, n);
    line[n] = 0;
    char *t = line + strspn(line, " \t");
    if (*t == '#' || *t == '\r' || *t == 0) continue;
    if (!nb_sim_psk_parse(t, &e)) {
      snprintf(err, errcap, "%s:%u: expected endpoint,identity,hexkey (a key of 1-64 bytes)", name,
               lineno);
      rc = NB_ERR_SYNTAX;
    } else {
      rc = nb_sim_psk_add(p, &e);
    }
  }
  gnutls_memset(line, 0, sizeof line);
  gnutls_memset(&e, 0, sizeof e);
  if (rc == NB_OK && p->n > 1) {
    qsort(p->e, p->n, sizeof *p->e, nb_sim_psk_cmp);
    for (size_t i = 1; i < p->n && rc == NB_OK; i++)
      if (strcmp(p->e[i - 1].ep, p->e[i].ep) == 0) {
        snprintf(err, errcap, "%s: endpoint %s is listed twice", name, p->e[i].ep);
        rc = NB_ERR_EXISTS;
      }
  }
  if (rc != NB_OK) {
    nb_sim_pskfile_free(p);
    return rc;
  }
  *out = p;
  return NB_OK;
}

nb_err nb_sim_pskfile_load(const char *path, nb_sim_pskfile **out, char *err, size_t errcap) {
  char *buf;
  size_t len;
  nb_err e = nb_sim_textfile_read(path, (size_t)1 << 30, &buf, &len, err, errcap);
  if (e != NB_OK) return e;
  e = nb_sim_pskfile_parse(buf, len, path, out, err, errcap);
  nb_sim_textfile_free(buf, len);
  return e;
}

void nb_sim_pskfile_free(nb_sim_pskfile *p) {
  if (!p) return;
  if (p->e) gnutls_memset(p->e, 0, p->cap * sizeof *p->e);
  free(p->e);
  free(p);
}

size_t nb_sim_pskfile_count(const nb_sim_pskfile *p) { return p->n; }

nb_err nb_sim_pskfile_lookup(void *user, uint32_t dev, const char *ep, char *identity, size_t idcap,
                             uint8_t *key, size_t keycap, size_t *key_len) {
  const nb_sim_pskfile *p = user;
  (void)dev;
  nb_sim_psk_entry want;
  snprintf(want.ep, sizeof want.ep, "%s", ep);
  if (p->n == 0) return NB_ERR_NOT_FOUND;
  const nb_sim_psk_entry *e = bsearch(&want, p->e, p->n, sizeof *p->e, nb_sim_psk_cmp);
  if (!e) return NB_ERR_NOT_FOUND;
  if (strlen(e->identity) >= idcap || e->key_len > keycap) return NB_ERR_OVERFLOW;
  memcpy(identity, e->identity, strlen(e->identity) + 1);
  memcpy(key, e->key, e->key_len);
  *key_len = e->key_len;
  return NB_OK;
}

/* ---- writing ---- */

struct nb_sim_pskout {
  FILE *f;
  bool failed;
};

nb_err nb_sim_pskout_open(const char *path, nb_sim_pskout **out) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return NB_ERR_IO;
  if (fchmod(fd, 0600) != 0) { /* an existing file keeps its mode otherwise */
    close(fd);
    return NB_ERR_IO;
  }
  nb_sim_pskout *w = calloc(1, sizeof *w);
  if (!w || !(w->f = fdopen(fd, "w"))) {
    free(w);
    close(fd);
    return NB_ERR_NOMEM;
  }
  fprintf(w->f, "# endpoint,identity,hexkey (niobium sim; load with niobium server --psk)\n");
  *out = w;
  return NB_OK;
}

nb_err nb_sim_pskout_write(nb_sim_pskout *w, const nb_sim_cred *c) {
  if (c->mode != NB_SIM_PSK) return NB_ERR_UNSUPPORTED;
  char hex[NB_SIM_PSK_MAX * 2 + 1];
  if (c->key_len > NB_SIM_PSK_MAX) return NB_ERR_OVERFLOW;
  nb_hex_encode(c->key, c->key_len, hex);
  if (fprintf(w->f, "%s,%s,%s\n", c->ep, c->identity, hex) < 0) w->failed = true;
  gnutls_memset(hex, 0, sizeof hex);
  return w->failed ? NB_ERR_IO : NB_OK;
}

nb_err nb_sim_pskout_close(nb_sim_pskout *w) {
  if (!w) return NB_OK;
  bool failed = w->failed || fclose(w->f) != 0;
  free(w);
  return failed ? NB_ERR_IO : NB_OK;
}
