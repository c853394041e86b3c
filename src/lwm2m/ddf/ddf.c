/* OMA DDF loader: libxml2 DOM parse with network, DTDs and entities refused, then a strict walk
 * of <LWM2M><Object><Resources><Item> into heap nb_object_def. */
#include "lwm2m/ddf/ddf.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "lwm2m/path.h"

typedef struct {
  const char *name; /* file name for messages */
  char *errbuf;
  size_t errcap;
  bool unsafe; /* a DOCTYPE was seen: the parse was stopped */
  long unsafe_line;
  long xml_line; /* first XML error: its line and libxml2's message */
  char xml_msg[200];
} nb_ddf_ctx;

static nb_err nb_ddf_fail(nb_ddf_ctx *c, nb_err err, long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "file:line: what is wrong" into errbuf; returns err. Where a caller's NULL checks depend on
 * the code being an error, it returns the code itself: the analyzer does not see through this
 * variadic function. */
static nb_err nb_ddf_fail(nb_ddf_ctx *c, nb_err err, long line, const char *fmt, ...) {
  if (c->errbuf == NULL || c->errcap == 0) return err;
  /* Line 0: the problem is the file itself (open, read), not a place in it. */
  int n = line > 0 ? snprintf(c->errbuf, c->errcap, "%s:%ld: ", c->name, line)
                   : snprintf(c->errbuf, c->errcap, "%s: ", c->name);
  if (n >= 0 && (size_t)n < c->errcap) {
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): ap is started; clang-14 bug */
    vsnprintf(c->errbuf + n, c->errcap - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return err;
}

static long nb_ddf_line(const xmlNode *node) { return node ? (long)xmlGetLineNo(node) : 1; }

static bool nb_ddf_is(const xmlNode *node, const char *name) {
  return node->type == XML_ELEMENT_NODE && strcmp((const char *)node->name, name) == 0;
}

/* The only child element called `name`: NULL when absent, an error when repeated. */
static nb_err nb_ddf_child(nb_ddf_ctx *c, const xmlNode *parent, const char *name,
                           const xmlNode **out) {
  *out = NULL;
  for (const xmlNode *n = parent->children; n != NULL; n = n->next) {
    if (!nb_ddf_is(n, name)) continue;
    if (*out != NULL) {
      return nb_ddf_fail(c, NB_ERR_DDF, nb_ddf_line(n), "<%s> repeated in <%s> (first at line %ld)",
                         name, (const char *)parent->name, nb_ddf_line(*out));
    }
    *out = n;
  }
  return NB_OK;
}

/* Trimmed text of an element as a malloc string ("" for an empty element). */
static nb_err nb_ddf_node_text(nb_ddf_ctx *c, const xmlNode *node, char **out) {
  xmlChar *raw = xmlNodeGetContent(node);
  const char *s = raw ? (const char *)raw : "";
  while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
  size_t len = strlen(s);
  while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL) len--;
  *out = strndup(s, len);
  xmlFree(raw);
  if (*out == NULL) {
    nb_ddf_fail(c, NB_ERR_NOMEM, nb_ddf_line(node), "out of memory");
    return NB_ERR_NOMEM;
  }
  return NB_OK;
}

/* Text of child `tag`: required ones must exist; *out is NULL for an absent optional one. */
static nb_err nb_ddf_text(nb_ddf_ctx *c, const xmlNode *parent, const char *tag, bool required,
                          char **out, long *line) {
  const xmlNode *node = NULL;
  *out = NULL;
  nb_err err = nb_ddf_child(c, parent, tag, &node);
  if (err != NB_OK) return err;
  *line = nb_ddf_line(node ? node : parent);
  if (node == NULL) {
    if (!required) return NB_OK;
    nb_ddf_fail(c, NB_ERR_DDF, nb_ddf_line(parent), "<%s> lacks <%s>", (const char *)parent->name,
                tag);
    return NB_ERR_DDF;
  }
  return nb_ddf_node_text(c, node, out);
}

/* Optional free text (range, units, versions): absent or empty is NULL. */
static nb_err nb_ddf_opt_text(nb_ddf_ctx *c, const xmlNode *parent, const char *tag, char **out) {
  long line = 0;
  nb_err err = nb_ddf_text(c, parent, tag, false, out, &line);
  if (err == NB_OK && *out != NULL && (*out)[0] == '\0') {
    free(*out);
    *out = NULL;
  }
  return err;
}

/* Decimal ID 0..65534. */
static bool nb_ddf_parse_id(const char *s, uint16_t *out) {
  if (s == NULL || s[0] == '\0' || strlen(s) > 5) return false;
  uint32_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return false;
    v = v * 10 + (uint32_t)(*p - '0');
  }
  if (v > NB_ID_MAX) return false;
  *out = (uint16_t)v;
  return true;
}

/* A two-valued element ("Multiple"/"Single", "Mandatory"/"Optional") into a bool. */
static nb_err nb_ddf_choice(nb_ddf_ctx *c, const xmlNode *parent, const char *tag, const char *yes,
                            const char *no, bool *out) {
  char *text = NULL;
  long line = 0;
  nb_err err = nb_ddf_text(c, parent, tag, true, &text, &line);
  if (err != NB_OK) return err;
  if (strcmp(text, yes) == 0 || strcmp(text, no) == 0) {
    *out = strcmp(text, yes) == 0;
  } else {
    err = nb_ddf_fail(c, NB_ERR_DDF, line, "<%s> is \"%.40s\", expected %s or %s", tag, text, yes,
                      no);
  }
  free(text);
  return err;
}

static void nb_ddf_resource_clear(nb_resource_def *r) {
  free((char *)r->name);
  free((char *)r->range);
  free((char *)r->units);
  memset(r, 0, sizeof *r);
}

static nb_err nb_ddf_ops(nb_ddf_ctx *c, const xmlNode *item, uint8_t *ops) {
  char *text = NULL;
  long line = 0;
  nb_err err = nb_ddf_text(c, item, "Operations", true, &text, &line);
  if (err != NB_OK) return err;
  if (nb_op_parse(text, ops) != NB_OK) {
    err = nb_ddf_fail(c, NB_ERR_DDF, line,
                      "<Operations> is \"%.40s\", expected R, W, RW, E or empty", text);
  }
  free(text);
  return err;
}

/* <Type>: the registry spellings; "CoreLnk" is the LWM2M-v1_1.xsd spelling of Corelnk. */
static nb_err nb_ddf_type(nb_ddf_ctx *c, const xmlNode *item, nb_value_type *type) {
  char *text = NULL;
  long line = 0;
  nb_err err = nb_ddf_text(c, item, "Type", true, &text, &line);
  if (err != NB_OK) return err;
  if (strcmp(text, "CoreLnk") == 0) {
    *type = NB_VT_CORELNK;
  } else if (strcmp(text, "none") == 0 || nb_value_type_parse(text, type) != NB_OK) {
    err = nb_ddf_fail(c, NB_ERR_DDF, line,
                      "<Type> is \"%.40s\", expected String, Integer, Unsigned Integer, Float, "
                      "Boolean, Opaque, Time, Objlnk, Corelnk or empty",
                      text);
  }
  free(text);
  return err;
}

/* One <Item ID="..."> into *r (cleared on error). */
static nb_err nb_ddf_item(nb_ddf_ctx *c, const xmlNode *item, nb_resource_def *r) {
  memset(r, 0, sizeof *r);
  xmlChar *id = xmlGetProp(item, (const xmlChar *)"ID");
  bool id_ok = id != NULL && nb_ddf_parse_id((const char *)id, &r->id);
  xmlFree(id);
  if (!id_ok) {
    return nb_ddf_fail(c, NB_ERR_DDF, nb_ddf_line(item),
                       "<Item> needs an ID attribute with a resource id 0..65534");
  }
  long line = 0;
  char *name = NULL;
  nb_err err = nb_ddf_text(c, item, "Name", true, &name, &line);
  r->name = name;
  if (err == NB_OK && name[0] == '\0') {
    err = nb_ddf_fail(c, NB_ERR_DDF, line, "resource %u has an empty <Name>", (unsigned)r->id);
  }
  if (err == NB_OK) err = nb_ddf_ops(c, item, &r->ops);
  if (err == NB_OK) {
    err = nb_ddf_choice(c, item, "MultipleInstances", "Multiple", "Single", &r->multiple);
  }
  if (err == NB_OK)
    err = nb_ddf_choice(c, item, "Mandatory", "Mandatory", "Optional", &r->mandatory);
  if (err == NB_OK) err = nb_ddf_type(c, item, &r->type);
  char *range = NULL, *units = NULL;
  if (err == NB_OK) err = nb_ddf_opt_text(c, item, "RangeEnumeration", &range);
  r->range = range;
  if (err == NB_OK) err = nb_ddf_opt_text(c, item, "Units", &units);
  r->units = units;
  if (err != NB_OK) nb_ddf_resource_clear(r);
  return err;
}

static int nb_ddf_resource_cmp(const void *a, const void *b) {
  const nb_resource_def *x = a, *y = b;
  return (x->id > y->id) - (x->id < y->id);
}

/* Every <Item> of <Resources> into def->resources, sorted, unique ids. */
static nb_err nb_ddf_resources(nb_ddf_ctx *c, const xmlNode *object, nb_object_def *def) {
  const xmlNode *list = NULL;
  nb_err err = nb_ddf_child(c, object, "Resources", &list);
  if (err != NB_OK) return err;
  if (list == NULL) {
    return nb_ddf_fail(c, NB_ERR_DDF, nb_ddf_line(object), "object %u lacks <Resources>",
                       (unsigned)def->id);
  }
  size_t total = 0;
  for (const xmlNode *n = list->children; n != NULL; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    if (!nb_ddf_is(n, "Item")) {
      return nb_ddf_fail(c, NB_ERR_DDF, nb_ddf_line(n), "<Resources> holds <%s>, expected <Item>",
                         (const char *)n->name);
    }
    total++;
  }
  if (total == 0) return NB_OK;
  nb_resource_def *res = calloc(total, sizeof *res);
  uint8_t *seen = calloc(65536 / 8, 1); /* one bit per resource id */
  if (res == NULL || seen == NULL) {
    free(res);
    free(seen);
    return nb_ddf_fail(c, NB_ERR_NOMEM, nb_ddf_line(list), "out of memory");
  }
  def->resources = res; /* def owns it from here: nb_object_def_free frees the filled rows */
  for (const xmlNode *n = list->children; n != NULL && err == NB_OK; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    nb_resource_def row;
    err = nb_ddf_item(c, n, &row);
    if (err != NB_OK) break;
    if (seen[row.id / 8] & (1u << (row.id % 8))) {
      err = nb_ddf_fail(c, NB_ERR_DDF, nb_ddf_line(n), "resource %u of object %u defined twice",
                        (unsigned)row.id, (unsigned)def->id);
      nb_ddf_resource_clear(&row);
      break;
    }
    seen[row.id / 8] |= (uint8_t)(1u << (row.id % 8));
    res[def->resource_count++] = row;
  }
  free(seen);
  if (err == NB_OK) qsort(res, def->resource_count, sizeof *res, nb_ddf_resource_cmp);
  return err;
}

/* Object-level elements: ObjectID, Name, versions, URN, multiplicity, mandatory. */
static nb_err nb_ddf_object_header(nb_ddf_ctx *c, const xmlNode *object, nb_object_def *def) {
  long line = 0;
  char *text = NULL;
  nb_err err = nb_ddf_text(c, object, "ObjectID", true, &text, &line);
  if (err != NB_OK) return err;
  bool ok = nb_ddf_parse_id(text, &def->id);
  if (!ok) {
    err = nb_ddf_fail(c, NB_ERR_DDF, line, "<ObjectID> is \"%.40s\", expected 0..65534", text);
  }
  free(text);
  if (err != NB_OK) return err;
  char *name = NULL, *urn = NULL, *version = NULL, *lwm2m = NULL;
  err = nb_ddf_text(c, object, "Name", true, &name, &line);
  def->name = name;
  if (err == NB_OK && name[0] == '\0') {
    err = nb_ddf_fail(c, NB_ERR_DDF, line, "object %u has an empty <Name>", (unsigned)def->id);
  }
  if (err == NB_OK) err = nb_ddf_opt_text(c, object, "ObjectURN", &urn);
  def->urn = urn;
  if (err == NB_OK) err = nb_ddf_opt_text(c, object, "ObjectVersion", &version);
  if (err == NB_OK && version == NULL) {
    version = strdup("1.0"); /* LWM2M.xsd: an object without ObjectVersion is version 1.0 */
    if (version == NULL) err = nb_ddf_fail(c, NB_ERR_NOMEM, line, "out of memory");
  }
  def->version = version;
  if (err == NB_OK) err = nb_ddf_opt_text(c, object, "LWM2MVersion", &lwm2m);
  def->lwm2m_version = lwm2m;
  if (err == NB_OK) {
    err = nb_ddf_choice(c, object, "MultipleInstances", "Multiple", "Single", &def->multiple);
  }
  if (err == NB_OK) {
    err = nb_ddf_choice(c, object, "Mandatory", "Mandatory", "Optional", &def->mandatory);
  }
  return err;
}

static nb_err nb_ddf_object(nb_ddf_ctx *c, const xmlNode *object, nb_object_def **out) {
  nb_object_def *def = calloc(1, sizeof *def);
  if (def == NULL) {
    nb_ddf_fail(c, NB_ERR_NOMEM, nb_ddf_line(object), "out of memory");
    return NB_ERR_NOMEM;
  }
  nb_err err = nb_ddf_object_header(c, object, def);
  if (err == NB_OK) err = nb_ddf_resources(c, object, def);
  if (err != NB_OK) {
    nb_object_def_free(def);
    return err;
  }
  *out = def;
  return NB_OK;
}

/* <Object> elements that define objects: ObjectType="MODefinition" or no ObjectType. */
static bool nb_ddf_is_definition(const xmlNode *node, char *type, size_t cap) {
  if (!nb_ddf_is(node, "Object")) return false;
  xmlChar *t = xmlGetProp(node, (const xmlChar *)"ObjectType");
  bool yes = t == NULL || strcmp((const char *)t, "MODefinition") == 0;
  if (t != NULL && !yes) snprintf(type, cap, "%s", (const char *)t);
  xmlFree(t);
  return yes;
}

static void nb_ddf_free_defs(nb_object_def **defs, size_t count) {
  for (size_t k = 0; k < count; k++) nb_object_def_free(defs[k]);
  free(defs);
}

/* The walk over a parsed document: every object or nothing. */
static nb_err nb_ddf_document(nb_ddf_ctx *c, const xmlDoc *doc, nb_object_def ***defs,
                              size_t *count) {
  const xmlNode *root = xmlDocGetRootElement(doc);
  if (root == NULL || !nb_ddf_is(root, "LWM2M")) {
    return nb_ddf_fail(c, NB_ERR_DDF_NOT_OBJECT, nb_ddf_line(root),
                       "root element <%s> is not <LWM2M>: not an object definition file",
                       root ? (const char *)root->name : "");
  }
  size_t total = 0;
  char other[64] = "";
  for (const xmlNode *n = root->children; n != NULL; n = n->next) {
    if (nb_ddf_is_definition(n, other, sizeof other)) total++;
  }
  if (total == 0) {
    if (other[0] != '\0') {
      return nb_ddf_fail(c, NB_ERR_DDF_NOT_OBJECT, nb_ddf_line(root),
                         "<Object ObjectType=\"%s\"> is not an object definition (MODefinition)",
                         other);
    }
    return nb_ddf_fail(c, NB_ERR_DDF_NOT_OBJECT, nb_ddf_line(root), "<LWM2M> holds no <Object>");
  }
  /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
  nb_object_def **list = calloc(total, sizeof *list);
  if (list == NULL) return nb_ddf_fail(c, NB_ERR_NOMEM, nb_ddf_line(root), "out of memory");
  size_t filled = 0;
  nb_err err = NB_OK;
  for (const xmlNode *n = root->children; n != NULL && err == NB_OK; n = n->next) {
    if (!nb_ddf_is_definition(n, other, sizeof other)) continue;
    err = nb_ddf_object(c, n, &list[filled]);
    if (err != NB_OK) break;
    for (size_t k = 0; k < filled; k++) {
      if (list[k]->id == list[filled]->id) {
        err = nb_ddf_fail(c, NB_ERR_DDF, nb_ddf_line(n), "object %u defined twice in the file",
                          (unsigned)list[k]->id);
      }
    }
    filled++;
  }
  if (err != NB_OK) {
    nb_ddf_free_defs(list, filled);
    return err;
  }
  *defs = list;
  *count = filled;
  return NB_OK;
}

/* SAX hook: a DOCTYPE opens the door to entity expansion and external fetches; stop there. */
static void nb_ddf_on_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
                              const xmlChar *system_id) {
  (void)name;
  (void)external_id;
  (void)system_id;
  xmlParserCtxtPtr parser = ctx;
  nb_ddf_ctx *c = parser->_private;
  c->unsafe = true;
  c->unsafe_line = parser->input ? parser->input->line : 1;
  xmlStopParser(parser);
}

/* libxml2 reports every error here (XML_PARSE_NOERROR silences only its printing); the first
 * one is the cause, later ones are consequences ("premature end of data"). */
static void nb_ddf_on_error(void *ctx, xmlErrorPtr e) {
  xmlParserCtxtPtr parser = ctx;
  nb_ddf_ctx *c = parser ? parser->_private : NULL;
  if (c == NULL || e == NULL || e->level < XML_ERR_ERROR || c->xml_msg[0] != '\0') return;
  snprintf(c->xml_msg, sizeof c->xml_msg, "%s", e->message ? e->message : "not well-formed");
  size_t len = strlen(c->xml_msg);
  while (len > 0 && (c->xml_msg[len - 1] == '\n' || c->xml_msg[len - 1] == ' ')) {
    c->xml_msg[--len] = '\0';
  }
  c->xml_line = e->line;
}

static nb_err nb_ddf_xml_error(nb_ddf_ctx *c, xmlParserCtxtPtr parser) {
  if (c->xml_msg[0] == '\0') {
    const xmlError *e = xmlCtxtGetLastError(parser);
    c->xml_line = e ? e->line : 1;
    snprintf(c->xml_msg, sizeof c->xml_msg, "%s",
             e && e->message ? e->message : "not well-formed XML");
  }
  return nb_ddf_fail(c, NB_ERR_DDF, c->xml_line > 0 ? c->xml_line : 1, "XML: %s", c->xml_msg);
}

nb_err nb_ddf_parse(const char *data, size_t len, const char *name, nb_object_def ***defs,
                    size_t *count, char *errbuf, size_t errcap) {
  nb_ddf_ctx c = {name ? name : "(memory)", errbuf, errcap, false, 0, 0, ""};
  *defs = NULL;
  *count = 0;
  if (len > NB_DDF_MAX_FILE) {
    return nb_ddf_fail(&c, NB_ERR_DDF, 1, "larger than %u bytes", (unsigned)NB_DDF_MAX_FILE);
  }
  xmlInitParser();
  xmlParserCtxtPtr parser = xmlNewParserCtxt();
  if (parser == NULL) return nb_ddf_fail(&c, NB_ERR_NOMEM, 1, "out of memory");
  parser->_private = &c;
  parser->sax->internalSubset = nb_ddf_on_doctype;
  parser->sax->serror = nb_ddf_on_error;
  /* No XML_PARSE_NOENT, DTDLOAD, DTDATTR or XINCLUDE: nothing is fetched or expanded. */
  int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES;
  xmlDocPtr doc = xmlCtxtReadMemory(parser, data, (int)len, c.name, NULL, options);
  nb_err err = NB_OK;
  if (c.unsafe) {
    err = nb_ddf_fail(&c, NB_ERR_DDF_UNSAFE, c.unsafe_line,
                      "<!DOCTYPE> is not accepted in a DDF file (DTDs and entities are refused)");
  } else if (doc == NULL || !parser->wellFormed) {
    err = nb_ddf_xml_error(&c, parser);
  } else {
    err = nb_ddf_document(&c, doc, defs, count);
  }
  xmlFreeDoc(doc);
  xmlFreeParserCtxt(parser);
  return err;
}

/* ---- files and directories ---- */

static nb_err nb_ddf_read_file(nb_ddf_ctx *c, const char *path, char **data, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    int e = errno;
    return nb_ddf_fail(c, e == ENOENT ? NB_ERR_NOT_FOUND : NB_ERR_IO, 0, "cannot open: %s",
                       strerror(e));
  }
  size_t cap = (size_t)64 * 1024, used = 0;
  char *buf = malloc(cap);
  nb_err err = buf ? NB_OK : NB_ERR_NOMEM;
  while (err == NB_OK) {
    if (used == cap) {
      if (cap > NB_DDF_MAX_FILE) {
        err = nb_ddf_fail(c, NB_ERR_DDF, 1, "larger than %u bytes", (unsigned)NB_DDF_MAX_FILE);
        break;
      }
      char *bigger = realloc(buf, cap * 2);
      if (bigger == NULL) {
        err = NB_ERR_NOMEM;
        break;
      }
      buf = bigger;
      cap *= 2;
    }
    size_t n = fread(buf + used, 1, cap - used, f);
    used += n;
    if (n == 0) {
      if (ferror(f)) err = nb_ddf_fail(c, NB_ERR_IO, 0, "read error");
      break;
    }
  }
  fclose(f);
  if (err == NB_ERR_NOMEM) nb_ddf_fail(c, err, 0, "out of memory");
  if (err != NB_OK) {
    free(buf);
    return err;
  }
  *data = buf;
  *len = used;
  return NB_OK;
}

/* Parses one file and adds all its objects, or none. */
static nb_err nb_ddf_load_file(nb_model *m, const char *path, size_t *objects, char *errbuf,
                               size_t errcap) {
  nb_ddf_ctx c = {path, errbuf, errcap, false, 0, 0, ""};
  char *data = NULL;
  size_t len = 0;
  nb_err err = nb_ddf_read_file(&c, path, &data, &len);
  if (err != NB_OK) return err;
  nb_object_def **defs = NULL;
  size_t count = 0;
  err = nb_ddf_parse(data, len, path, &defs, &count, errbuf, errcap);
  free(data);
  if (err != NB_OK) return err;
  /* Reserve first so that no add can fail half way through the file. */
  err = nb_model_reserve(m, count);
  if (err != NB_OK) {
    nb_ddf_free_defs(defs, count);
    return nb_ddf_fail(&c, err, 0, "out of memory");
  }
  for (size_t k = 0; k < count; k++) {
    nb_err add = nb_model_add(m, defs[k]);
    if (add != NB_OK && err == NB_OK) err = nb_ddf_fail(&c, add, 0, "%s", nb_strerror(add));
  }
  free(defs);
  if (err == NB_OK) *objects = count;
  return err;
}

static bool nb_ddf_has_xml_suffix(const char *name) {
  size_t len = strlen(name);
  return len > 4 && strcasecmp(name + len - 4, ".xml") == 0;
}

static int nb_ddf_name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of dir (without "." and ".."). */
static nb_err nb_ddf_list_dir(const char *dir, char ***names, size_t *count) {
  DIR *d = opendir(dir);
  if (d == NULL) return NB_ERR_IO;
  char **list = NULL;
  size_t len = 0, cap = 0;
  nb_err err = NB_OK;
  for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (len == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      char **bigger = realloc(list, ncap * sizeof *bigger);
      if (bigger == NULL) {
        err = NB_ERR_NOMEM;
        break;
      }
      list = bigger;
      cap = ncap;
    }
    list[len] = strdup(e->d_name);
    if (list[len] == NULL) {
      err = NB_ERR_NOMEM;
      break;
    }
    len++;
  }
  closedir(d);
  if (err != NB_OK) {
    for (size_t k = 0; k < len; k++) free(list[k]);
    free(list);
    return err;
  }
  if (len > 0) qsort(list, len, sizeof *list, nb_ddf_name_cmp);
  *names = list;
  *count = len;
  return NB_OK;
}

typedef struct {
  nb_model *m;
  nb_ddf_notice_fn notice;
  void *ctx;
  nb_ddf_stats *stats;
  nb_err first_err;
  char first_msg[512];
} nb_ddf_dir_state;

/* One directory entry: skipped, loaded or failed. */
static void nb_ddf_dir_entry(nb_ddf_dir_state *s, const char *dir, const char *name) {
  char path[PATH_MAX];
  char msg[512] = "";
  int n = snprintf(path, sizeof path, "%s/%s", dir, name);
  struct stat st;
  nb_err err = NB_OK;
  if (n < 0 || (size_t)n >= sizeof path) {
    err = NB_ERR_OVERFLOW;
    snprintf(msg, sizeof msg, "%.200s/%.200s: path too long", dir, name);
  } else if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
    err = NB_ERR_DDF_NOT_OBJECT;
    snprintf(msg, sizeof msg, "%.400s: not a regular file", path);
  } else if (!nb_ddf_has_xml_suffix(name)) {
    err = NB_ERR_DDF_NOT_OBJECT;
    snprintf(msg, sizeof msg, "%.400s: not an .xml file (schemas and other files are ignored)",
             path);
  } else {
    size_t objects = 0;
    err = nb_ddf_load_file(s->m, path, &objects, msg, sizeof msg);
    if (err == NB_OK) {
      s->stats->files_loaded++;
      s->stats->objects_loaded += objects;
      return;
    }
  }
  if (err == NB_ERR_DDF_NOT_OBJECT) {
    s->stats->files_skipped++;
  } else {
    s->stats->files_failed++;
    if (s->first_err == NB_OK) {
      s->first_err = err;
      snprintf(s->first_msg, sizeof s->first_msg, "%s", msg);
    }
  }
  if (s->notice != NULL) s->notice(s->ctx, path, err, msg);
}

static nb_err nb_ddf_load_dir(nb_model *m, const char *dir, nb_ddf_notice_fn notice, void *ctx,
                              nb_ddf_stats *stats, char *errbuf, size_t errcap) {
  char **names = NULL;
  size_t count = 0;
  nb_err err = nb_ddf_list_dir(dir, &names, &count);
  if (err != NB_OK) {
    if (errbuf && errcap) snprintf(errbuf, errcap, "%s: cannot list the directory", dir);
    return err;
  }
  nb_ddf_dir_state s = {m, notice, ctx, stats, NB_OK, ""};
  for (size_t k = 0; k < count; k++) {
    nb_ddf_dir_entry(&s, dir, names[k]);
    free(names[k]);
  }
  free(names);
  if (s.first_err != NB_OK && errbuf && errcap) {
    if (stats->files_failed > 1) {
      snprintf(errbuf, errcap, "%s (and %zu more files failed)", s.first_msg,
               stats->files_failed - 1);
    } else {
      snprintf(errbuf, errcap, "%s", s.first_msg);
    }
  }
  return s.first_err;
}

nb_err nb_model_load_ddf_ex(nb_model *m, const char *file_or_dir, nb_ddf_notice_fn notice,
                            void *ctx, nb_ddf_stats *stats, char *errbuf, size_t errcap) {
  nb_ddf_stats local;
  if (stats == NULL) stats = &local;
  memset(stats, 0, sizeof *stats);
  if (errbuf && errcap) errbuf[0] = '\0';
  struct stat st;
  if (stat(file_or_dir, &st) != 0) {
    int e = errno;
    if (errbuf && errcap) snprintf(errbuf, errcap, "%s: %s", file_or_dir, strerror(e));
    return e == ENOENT ? NB_ERR_NOT_FOUND : NB_ERR_IO;
  }
  if (S_ISDIR(st.st_mode)) {
    return nb_ddf_load_dir(m, file_or_dir, notice, ctx, stats, errbuf, errcap);
  }
  size_t objects = 0;
  nb_err err = nb_ddf_load_file(m, file_or_dir, &objects, errbuf, errcap);
  if (err == NB_OK) {
    stats->files_loaded = 1;
    stats->objects_loaded = objects;
  } else {
    stats->files_failed = 1;
  }
  return err;
}

nb_err nb_model_load_ddf(nb_model *m, const char *file_or_dir, char *errbuf, size_t errcap) {
  return nb_model_load_ddf_ex(m, file_or_dir, NULL, NULL, NULL, errbuf, errcap);
}
