/* OMA DDF loader: good documents, every kind of malformed one with its "file:line" message,
 * XXE and entity bombs, all-or-nothing loading of files and directories, and the whole OMA
 * registry: every object file loads and every built-in table agrees with it field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lwm2m/ddf/ddf.h"
#include "lwm2m/objects_builtin.h"
#include "nb_test.h"

/* A valid object; %s slots let tests splice in a resource or replace a line. */
#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LWM2M>\n"
#define OBJ_OPEN                                          \
  "  <Object ObjectType=\"MODefinition\">\n"              \
  "    <Name>Test Sensor</Name>\n"                        \
  "    <Description1>ignored</Description1>\n"            \
  "    <ObjectID>42000</ObjectID>\n"                      \
  "    <ObjectURN>urn:oma:lwm2m:x:42000</ObjectURN>\n"    \
  "    <LWM2MVersion>1.1</LWM2MVersion>\n"                \
  "    <ObjectVersion>1.2</ObjectVersion>\n"              \
  "    <MultipleInstances>Multiple</MultipleInstances>\n" \
  "    <Mandatory>Optional</Mandatory>\n"                 \
  "    <Resources>\n"
#define ITEM(id, name, ops, multi, mand, type, range, units)                                     \
  "      <Item ID=\"" id "\"><Name>" name "</Name><Operations>" ops                              \
  "</Operations><MultipleInstances>" multi "</MultipleInstances><Mandatory>" mand                \
  "</Mandatory><Type>" type "</Type><RangeEnumeration>" range "</RangeEnumeration><Units>" units \
  "</Units><Description>x</Description></Item>\n"
#define OBJ_CLOSE "    </Resources>\n  </Object>\n"
#define TAIL "</LWM2M>\n"

static const char good_doc[] =
    HEAD OBJ_OPEN ITEM("5700", "Sensor Value", "R", "Single", "Mandatory", "Float", "", "Cel")
        ITEM("1", " Padded Name \n", "RW", "Multiple", "Optional", "Unsigned Integer", "0..100", "")
            ITEM("5605", "Reset", "E", "Single", "Optional", "", "", "") OBJ_CLOSE TAIL;

static nb_err parse(const char *doc, nb_object_def ***defs, size_t *count, char *err, size_t cap) {
  return nb_ddf_parse(doc, strlen(doc), "t.xml", defs, count, err, cap);
}

static void free_defs(nb_object_def **defs, size_t count) {
  for (size_t k = 0; k < count; k++) nb_object_def_free(defs[k]);
  free(defs);
}

static void test_parse_good(void **state) {
  (void)state;
  nb_object_def **defs = NULL;
  size_t count = 0;
  char err[256] = "";
  assert_int_equal(parse(good_doc, &defs, &count, err, sizeof err), NB_OK);
  assert_int_equal(count, 1);
  const nb_object_def *o = defs[0];
  assert_int_equal(o->id, 42000);
  assert_string_equal(o->name, "Test Sensor");
  assert_string_equal(o->urn, "urn:oma:lwm2m:x:42000");
  assert_string_equal(o->version, "1.2");
  assert_string_equal(o->lwm2m_version, "1.1");
  assert_true(o->multiple);
  assert_false(o->mandatory);
  assert_int_equal(o->resource_count, 3);
  /* Sorted by id, text trimmed, empty range/units are NULL. */
  assert_int_equal(o->resources[0].id, 1);
  assert_string_equal(o->resources[0].name, "Padded Name");
  assert_int_equal(o->resources[0].ops, NB_OP_RW);
  assert_true(o->resources[0].multiple);
  assert_int_equal(o->resources[0].type, NB_VT_UINT);
  assert_string_equal(o->resources[0].range, "0..100");
  assert_null(o->resources[0].units);
  assert_int_equal(o->resources[1].id, 5605);
  assert_int_equal(o->resources[1].ops, NB_OP_E);
  assert_int_equal(o->resources[1].type, NB_VT_NONE);
  assert_int_equal(o->resources[2].id, 5700);
  assert_true(o->resources[2].mandatory);
  assert_string_equal(o->resources[2].units, "Cel");
  assert_null(o->resources[2].range);
  free_defs(defs, count);
}

static void test_parse_defaults_and_many(void **state) {
  (void)state;
  /* No ObjectVersion: 1.0; no LWM2MVersion/URN: NULL; two objects in one file; CoreLnk. */
  const char *doc =
      HEAD "<Object><Name>A</Name><ObjectID>1000</ObjectID><MultipleInstances>Single"
           "</MultipleInstances><Mandatory>Mandatory</Mandatory><Resources>" ITEM(
               "0", "L", "R", "Single", "Optional", "CoreLnk", "", "")
               "</Resources></Object>"
               "<Object ObjectType=\"MODefinition\"><Name>B</Name><ObjectID>1001</ObjectID>"
               "<MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>"
               "<Resources></Resources></Object>" TAIL;
  nb_object_def **defs = NULL;
  size_t count = 0;
  char err[256] = "";
  assert_int_equal(parse(doc, &defs, &count, err, sizeof err), NB_OK);
  assert_int_equal(count, 2);
  assert_string_equal(defs[0]->version, "1.0");
  assert_null(defs[0]->lwm2m_version);
  assert_null(defs[0]->urn);
  assert_false(defs[0]->multiple);
  assert_true(defs[0]->mandatory);
  assert_int_equal(defs[0]->resources[0].type, NB_VT_CORELNK);
  assert_int_equal(defs[1]->id, 1001);
  assert_int_equal(defs[1]->resource_count, 0);
  free_defs(defs, count);
}

/* The document fails with `want`, and the message starts "t.xml:LINE: " and names `what`. */
static void expect_error(const char *doc, nb_err want, int line, const char *what, int at) {
  nb_object_def **defs = (nb_object_def **)&defs;
  size_t count = 99;
  char err[512] = "";
  nb_err got = parse(doc, &defs, &count, err, sizeof err);
  if (got != want) {
    fail_msg("test line %d: got %s (%s), want %s", at, nb_err_name(got), err, nb_err_name(want));
  }
  assert_null(defs);
  assert_int_equal(count, 0);
  char prefix[32];
  snprintf(prefix, sizeof prefix, "t.xml:%d: ", line);
  if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, what) == NULL) {
    fail_msg("test line %d: message '%s' lacks '%s' or '%s'", at, err, prefix, what);
  }
}
#define EXPECT_ERROR(doc, err, line, what) expect_error(doc, err, line, what, __LINE__)

static void test_parse_errors(void **state) {
  (void)state;
  /* Line numbers: HEAD is lines 1-2, OBJ_OPEN lines 3-12, so the first ITEM is line 13. */
  EXPECT_ERROR(HEAD OBJ_OPEN ITEM("1", "A", "RX", "Single", "Optional", "Integer", "", "")
                   OBJ_CLOSE TAIL,
               NB_ERR_DDF, 13, "<Operations> is \"RX\"");
  EXPECT_ERROR(HEAD OBJ_OPEN ITEM("1", "A", "R", "Single", "Optional", "Integer", "", "")
                   ITEM("2", "B", "R", "Single", "Optional", "Double", "", "") OBJ_CLOSE TAIL,
               NB_ERR_DDF, 14, "<Type> is \"Double\"");
  EXPECT_ERROR(HEAD OBJ_OPEN ITEM("1", "A", "R", "Once", "Optional", "Integer", "", "")
                   OBJ_CLOSE TAIL,
               NB_ERR_DDF, 13, "<MultipleInstances> is \"Once\"");
  EXPECT_ERROR(HEAD OBJ_OPEN ITEM("1", "A", "R", "Single", "Maybe", "Integer", "", "")
                   OBJ_CLOSE TAIL,
               NB_ERR_DDF, 13, "<Mandatory> is \"Maybe\"");
  EXPECT_ERROR(HEAD OBJ_OPEN ITEM("1", "A", "R", "Single", "Optional", "Integer", "", "")
                   ITEM("1", "B", "R", "Single", "Optional", "Integer", "", "") OBJ_CLOSE TAIL,
               NB_ERR_DDF, 14, "resource 1 of object 42000 defined twice");
  EXPECT_ERROR(HEAD OBJ_OPEN ITEM("65535", "A", "R", "Single", "Optional", "Integer", "", "")
                   OBJ_CLOSE TAIL,
               NB_ERR_DDF, 13, "ID attribute");
  EXPECT_ERROR(HEAD OBJ_OPEN ITEM("x1", "A", "R", "Single", "Optional", "Integer", "", "")
                   OBJ_CLOSE TAIL,
               NB_ERR_DDF, 13, "ID attribute");
  EXPECT_ERROR(HEAD OBJ_OPEN ITEM("1", "", "R", "Single", "Optional", "Integer", "", "")
                   OBJ_CLOSE TAIL,
               NB_ERR_DDF, 13, "empty <Name>");
  EXPECT_ERROR(HEAD OBJ_OPEN "<Item ID=\"3\"><Name>N</Name></Item>" OBJ_CLOSE TAIL, NB_ERR_DDF, 13,
               "<Item> lacks <Operations>");
  EXPECT_ERROR(HEAD OBJ_OPEN "<Other/>" OBJ_CLOSE TAIL, NB_ERR_DDF, 13, "holds <Other>");
  EXPECT_ERROR(HEAD "<Object><Name>A</Name><ObjectID>70000</ObjectID></Object>" TAIL, NB_ERR_DDF, 3,
               "<ObjectID> is \"70000\"");
  EXPECT_ERROR(HEAD "<Object><ObjectID>5</ObjectID>\n<Name>A</Name>\n<Name>B</Name></Object>" TAIL,
               NB_ERR_DDF, 5, "<Name> repeated in <Object> (first at line 4)");
  EXPECT_ERROR(HEAD "<Object><Name>A</Name></Object>" TAIL, NB_ERR_DDF, 3,
               "<Object> lacks <ObjectID>");
  EXPECT_ERROR(HEAD
               "<Object><Name>A</Name><ObjectID>5</ObjectID><MultipleInstances>Single"
               "</MultipleInstances><Mandatory>Optional</Mandatory></Object>" TAIL,
               NB_ERR_DDF, 3, "lacks <Resources>");
  EXPECT_ERROR(HEAD OBJ_OPEN OBJ_CLOSE OBJ_OPEN OBJ_CLOSE TAIL, NB_ERR_DDF, 15,
               "object 42000 defined twice");
  /* Not well-formed: libxml2's message with its line. */
  EXPECT_ERROR(HEAD OBJ_OPEN "<Item ID=\"1\">\n</Resources>" TAIL, NB_ERR_DDF, 14, "XML: ");
  EXPECT_ERROR("", NB_ERR_DDF, 1, "XML: ");
  EXPECT_ERROR("\x01\x02garbage", NB_ERR_DDF, 1, "XML: ");
}

static void test_not_object_files(void **state) {
  (void)state;
  EXPECT_ERROR("<?xml version=\"1.0\"?>\n<DDFList><Item/></DDFList>", NB_ERR_DDF_NOT_OBJECT, 2,
               "root element <DDFList>");
  EXPECT_ERROR(HEAD "<Object ObjectType=\"CommonResources\"><Resources/></Object>" TAIL,
               NB_ERR_DDF_NOT_OBJECT, 2, "ObjectType=\"CommonResources\"");
  EXPECT_ERROR(HEAD TAIL, NB_ERR_DDF_NOT_OBJECT, 2, "holds no <Object>");
}

/* XXE, external DTDs and entity bombs are refused before anything is fetched or expanded. */
static void test_unsafe(void **state) {
  (void)state;
  EXPECT_ERROR(
      "<?xml version=\"1.0\"?>\n<!DOCTYPE LWM2M [ <!ENTITY xxe SYSTEM "
      "\"file:///etc/passwd\"> ]>\n<LWM2M><Object><Name>&xxe;</Name></Object></LWM2M>",
      NB_ERR_DDF_UNSAFE, 2, "<!DOCTYPE> is not accepted");
  EXPECT_ERROR(
      "<?xml version=\"1.0\"?>\n\n<!DOCTYPE LWM2M SYSTEM \"http://127.0.0.1:9/x.dtd\">"
      "<LWM2M/>",
      NB_ERR_DDF_UNSAFE, 3, "DOCTYPE");
  EXPECT_ERROR(
      "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">"
      "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;\">]><LWM2M>&lol3;</LWM2M>",
      NB_ERR_DDF_UNSAFE, 1, "DOCTYPE");
  /* The same in UTF-16: the refusal does not depend on a byte scan. */
  const char *ascii =
      "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "
      "\"file:///etc/passwd\">]><LWM2M>&e;</LWM2M>";
  size_t n = strlen(ascii);
  char *wide = malloc(2 * n + 2);
  wide[0] = (char)0xff; /* little-endian BOM */
  wide[1] = (char)0xfe;
  for (size_t k = 0; k < n; k++) {
    wide[2 + 2 * k] = ascii[k];
    wide[3 + 2 * k] = 0;
  }
  nb_object_def **defs = NULL;
  size_t count = 0;
  char err[256];
  assert_int_equal(nb_ddf_parse(wide, 2 * n + 2, "w.xml", &defs, &count, err, sizeof err),
                   NB_ERR_DDF_UNSAFE);
  free(wide);
  /* Oversized input is refused before parsing. */
  assert_int_equal(
      nb_ddf_parse(good_doc, NB_DDF_MAX_FILE + 1, "big.xml", &defs, &count, err, sizeof err),
      NB_ERR_DDF);
  assert_non_null(strstr(err, "larger than"));
}

/* ---- files and directories ---- */

typedef struct {
  char dir[64];
  char paths[8][128];
  int count;
} tmpdir;

static void tmp_make(tmpdir *t) {
  memset(t, 0, sizeof *t);
  snprintf(t->dir, sizeof t->dir, "/tmp/nb_ddf_XXXXXX");
  assert_non_null(mkdtemp(t->dir));
}

static const char *tmp_write(tmpdir *t, const char *name, const char *text) {
  char full[sizeof t->paths[0]];
  snprintf(full, sizeof full, "%s/%s", t->dir, name);
  char *path = t->paths[t->count++];
  memcpy(path, full, sizeof full);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

static void tmp_remove(tmpdir *t) {
  for (int k = 0; k < t->count; k++) unlink(t->paths[k]);
  rmdir(t->dir);
}

typedef struct {
  int skipped;
  int failed;
  char last_failed[512];
} notices;

static void on_notice(void *ctx, const char *file, nb_err err, const char *message) {
  notices *n = ctx;
  assert_non_null(file);
  if (err == NB_ERR_DDF_NOT_OBJECT) {
    n->skipped++;
  } else {
    n->failed++;
    snprintf(n->last_failed, sizeof n->last_failed, "%s", message);
  }
}

static void test_file_all_or_nothing(void **state) {
  (void)state;
  tmpdir t;
  tmp_make(&t);
  /* Object 42000 is fine, 42001 (second in the file) is broken: neither may be added. */
  const char *path =
      tmp_write(&t, "two.xml",
                HEAD OBJ_OPEN OBJ_CLOSE
                "<Object><Name>B</Name><ObjectID>42001</ObjectID><MultipleInstances>Single"
                "</MultipleInstances><Mandatory>Bad</Mandatory><Resources/></Object>" TAIL);
  nb_model *m = nb_model_new();
  size_t before = nb_model_count(m);
  char err[512] = "";
  assert_int_equal(nb_model_load_ddf(m, path, err, sizeof err), NB_ERR_DDF);
  assert_int_equal(nb_model_count(m), before);
  assert_null(nb_model_object(m, 42000));
  assert_null(nb_model_object(m, 42001));
  assert_non_null(strstr(err, "two.xml:15: <Mandatory> is \"Bad\""));
  /* A broken override of a built-in leaves the built-in in place. */
  const char *bad3 = tmp_write(
      &t, "dev.xml",
      HEAD
      "<Object><Name>Fake Device</Name><ObjectID>3</ObjectID>"
      "<MultipleInstances>Single</MultipleInstances>"
      "<Mandatory>Mandatory</Mandatory><Resources>" ITEM(
          "0", "M", "Q", "Single", "Optional", "String", "", "") "</Resources></Object>" TAIL);
  assert_int_equal(nb_model_load_ddf(m, bad3, err, sizeof err), NB_ERR_DDF);
  assert_string_equal(nb_model_object(m, 3)->name, "Device");
  /* A good file adds and overrides. */
  const char *good3 = tmp_write(
      &t, "dev2.xml",
      HEAD
      "<Object><Name>Fake Device</Name><ObjectID>3</ObjectID>"
      "<MultipleInstances>Single</MultipleInstances>"
      "<Mandatory>Mandatory</Mandatory><Resources>" ITEM(
          "0", "M", "R", "Single", "Optional", "String", "", "") "</Resources></Object>" TAIL);
  assert_int_equal(nb_model_load_ddf(m, good3, err, sizeof err), NB_OK);
  assert_string_equal(nb_model_object(m, 3)->name, "Fake Device");
  assert_int_equal(nb_model_object(m, 3)->resource_count, 1);
  /* Missing files and non-object files given directly are errors. */
  assert_int_equal(nb_model_load_ddf(m, "/nonexistent/x.xml", err, sizeof err), NB_ERR_NOT_FOUND);
  assert_non_null(strstr(err, "/nonexistent/x.xml"));
  const char *list = tmp_write(&t, "DDF.xml", "<DDFList/>");
  assert_int_equal(nb_model_load_ddf(m, list, err, sizeof err), NB_ERR_DDF_NOT_OBJECT);
  nb_model_free(m);
  tmp_remove(&t);
}

static void test_directory(void **state) {
  (void)state;
  tmpdir t;
  tmp_make(&t);
  tmp_write(&t, "a.xml", good_doc);
  tmp_write(&t, "b.xml", HEAD OBJ_OPEN "<Item ID=\"1\"><Name>N</Name></Item>" OBJ_CLOSE TAIL);
  tmp_write(&t, "Common.xml",
            HEAD "<Object ObjectType=\"CommonResources\"><Resources/></Object>" TAIL);
  tmp_write(&t, "LWM2M.xsd", "<xs:schema/>");
  tmp_write(&t, "c.XML",
            HEAD
            "<Object><Name>C</Name><ObjectID>42002</ObjectID><MultipleInstances>Single"
            "</MultipleInstances><Mandatory>Optional</Mandatory><Resources/></Object>" TAIL);
  nb_model *m = nb_model_new_empty();
  nb_ddf_stats stats;
  notices n = {0, 0, ""};
  char err[512] = "";
  assert_int_equal(nb_model_load_ddf_ex(m, t.dir, on_notice, &n, &stats, err, sizeof err),
                   NB_ERR_DDF);
  assert_int_equal(stats.files_loaded, 2);
  assert_int_equal(stats.objects_loaded, 2);
  assert_int_equal(stats.files_skipped, 2);
  assert_int_equal(stats.files_failed, 1);
  assert_int_equal(n.skipped, 2);
  assert_int_equal(n.failed, 1);
  assert_non_null(strstr(err, "/b.xml:13: <Item> lacks <Operations>"));
  assert_string_equal(err, n.last_failed);
  /* The good files loaded, the bad one left nothing behind. */
  assert_non_null(nb_model_object(m, 42002));
  assert_non_null(nb_model_object(m, 42000));
  assert_int_equal(nb_model_object(m, 42000)->resource_count, 3); /* a.xml, not b.xml */
  assert_int_equal(nb_model_count(m), 2);
  nb_model_free(m);
  tmp_remove(&t);
}

/* ---- the OMA registry ---- */

typedef struct {
  char what[512];
} mismatch;

static bool same_text(const char *a, const char *b) {
  if (a == NULL || b == NULL) return a == b;
  return strcmp(a, b) == 0;
}

/* Field-by-field comparison of a built-in definition with the registry's; false and a message
 * naming the first difference otherwise. */
static bool defs_agree(const nb_object_def *b, const nb_object_def *r, mismatch *out) {
#define DIFF(...)                                       \
  do {                                                  \
    snprintf(out->what, sizeof out->what, __VA_ARGS__); \
    return false;                                       \
  } while (0)
  if (b->id != r->id) DIFF("object id %u vs %u", b->id, r->id);
  if (!same_text(b->name, r->name)) DIFF("/%u name '%s' vs '%s'", b->id, b->name, r->name);
  if (!same_text(b->version, r->version)) DIFF("/%u version differs", b->id);
  if (!same_text(b->urn, r->urn)) DIFF("/%u urn differs", b->id);
  if (!same_text(b->lwm2m_version, r->lwm2m_version)) DIFF("/%u LWM2MVersion differs", b->id);
  if (b->multiple != r->multiple) DIFF("/%u multiple differs", b->id);
  if (b->mandatory != r->mandatory) DIFF("/%u mandatory differs", b->id);
  if (b->resource_count != r->resource_count) {
    DIFF("/%u has %zu resources, registry %zu", b->id, b->resource_count, r->resource_count);
  }
  for (size_t k = 0; k < b->resource_count; k++) {
    const nb_resource_def *x = &b->resources[k];
    const nb_resource_def *y = nb_object_def_resource(r, x->id);
    if (y == NULL) DIFF("/%u/%u not in the registry", b->id, x->id);
    if (!same_text(x->name, y->name))
      DIFF("/%u/%u name '%s' vs '%s'", b->id, x->id, x->name, y->name);
    if (x->ops != y->ops)
      DIFF("/%u/%u ops %s vs %s", b->id, x->id, nb_op_name(x->ops), nb_op_name(y->ops));
    if (x->multiple != y->multiple) DIFF("/%u/%u multiple differs", b->id, x->id);
    if (x->mandatory != y->mandatory) DIFF("/%u/%u mandatory differs", b->id, x->id);
    if (x->type != y->type) {
      DIFF("/%u/%u type %s vs %s", b->id, x->id, nb_value_type_name(x->type),
           nb_value_type_name(y->type));
    }
    if (!same_text(x->range, y->range)) DIFF("/%u/%u range differs", b->id, x->id);
    if (!same_text(x->units, y->units)) DIFF("/%u/%u units differ", b->id, x->id);
  }
  return true;
#undef DIFF
}

static nb_model *load_registry(char *dir, size_t cap) {
  const char *shared = nb_test_shared_dir();
  if (shared == NULL) return NULL;
  snprintf(dir, cap, "%s/lwm2m-registry", shared);
  if (access(dir, R_OK) != 0) return NULL;
  return nb_model_new_empty();
}

static void test_registry_loads(void **state) {
  (void)state;
  char dir[512];
  nb_model *m = load_registry(dir, sizeof dir);
  if (m == NULL) {
    print_message("NB_SHARED_DIR/lwm2m-registry absent: registry test skipped\n");
    skip();
  }
  nb_ddf_stats stats;
  notices n = {0, 0, ""};
  char err[512] = "";
  nb_err rc = nb_model_load_ddf_ex(m, dir, on_notice, &n, &stats, err, sizeof err);
  if (rc != NB_OK) fail_msg("registry load failed: %s (%s)", nb_err_name(rc), err);
  assert_int_equal(stats.files_failed, 0);
  /* Every numbered file is an object; only Common.xml, DDF.xml, the units and xsd files skip. */
  assert_int_equal(stats.files_skipped, 5);
  assert_true(stats.files_loaded >= 300);
  assert_int_equal(stats.objects_loaded, nb_model_count(m));
  assert_int_equal(stats.files_loaded, nb_model_count(m));
  nb_model_free(m);
}

static void test_registry_agrees_with_builtin(void **state) {
  (void)state;
  char dir[512];
  nb_model *m = load_registry(dir, sizeof dir);
  if (m == NULL) {
    print_message("NB_SHARED_DIR/lwm2m-registry absent: registry test skipped\n");
    skip();
  }
  char err[512] = "";
  assert_int_equal(nb_model_load_ddf(m, dir, err, sizeof err), NB_OK);
  size_t count = 0;
  const nb_object_def *builtin = nb_objects_builtin(&count);
  size_t compared = 0;
  for (size_t k = 0; k < count; k++) {
    const nb_object_def *reg = nb_model_object(m, builtin[k].id);
    if (reg == NULL) fail_msg("built-in object %u is not in the registry", builtin[k].id);
    mismatch why;
    if (!defs_agree(&builtin[k], reg, &why)) fail_msg("built-in disagrees: %s", why.what);
    compared += builtin[k].resource_count;
  }
  assert_true(compared > 300);
  /* The comparison itself can fail: change one field of a copy at a time. */
  const nb_object_def *reg3 = nb_model_object(m, 3);
  for (int field = 0; field < 6; field++) {
    nb_object_def *copy = nb_object_def_dup(&builtin[3]);
    assert_int_equal(copy->id, 3);
    nb_resource_def *r = (nb_resource_def *)&copy->resources[9];
    switch (field) {
      case 0:
        r->ops = NB_OP_RW;
        break;
      case 1:
        r->type = NB_VT_FLOAT;
        break;
      case 2:
        r->multiple = !r->multiple;
        break;
      case 3:
        r->mandatory = !r->mandatory;
        break;
      case 4:
        free((char *)r->units);
        r->units = NULL;
        break;
      case 5:
        ((char *)r->name)[0] = 'X';
        break;
    }
    mismatch why;
    assert_false(defs_agree(copy, reg3, &why));
    assert_non_null(strstr(why.what, "/3/9"));
    nb_object_def_free(copy);
  }
  nb_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_good),
      cmocka_unit_test(test_parse_defaults_and_many),
      cmocka_unit_test(test_parse_errors),
      cmocka_unit_test(test_not_object_files),
      cmocka_unit_test(test_unsafe),
      cmocka_unit_test(test_file_all_or_nothing),
      cmocka_unit_test(test_directory),
      cmocka_unit_test(test_registry_loads),
      cmocka_unit_test(test_registry_agrees_with_builtin),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
