/* LwM2M object definitions: the built-in tables (sorted, complete, spot facts), lookups, adding
 * and overriding heap definitions (ASan checks ownership), operation names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lwm2m/model.h"
#include "lwm2m/objects_builtin.h"

static void test_builtin_sorted_and_valid(void **state) {
  (void)state;
  size_t count = 0;
  const nb_object_def *defs = nb_objects_builtin(&count);
  assert_true(count >= 30);
  for (size_t k = 0; k < count; k++) {
    const nb_object_def *o = &defs[k];
    if (k > 0 && defs[k - 1].id >= o->id) fail_msg("object %u out of order", (unsigned)o->id);
    assert_non_null(o->name);
    assert_non_null(o->version);
    assert_non_null(o->urn);
    assert_true(o->resource_count > 0);
    for (size_t j = 0; j < o->resource_count; j++) {
      const nb_resource_def *r = &o->resources[j];
      if (j > 0 && o->resources[j - 1].id >= r->id) {
        fail_msg("object %u: resource %u out of order", (unsigned)o->id, (unsigned)r->id);
      }
      assert_non_null(r->name);
      assert_true(r->ops <= NB_OP_RW || r->ops == NB_OP_E);
      /* Executables carry no type; everything else readable or writable has one. */
      if (r->ops == NB_OP_E) assert_int_equal(r->type, NB_VT_NONE);
      if (r->ops == NB_OP_R || r->ops == NB_OP_RW) assert_int_not_equal(r->type, NB_VT_NONE);
      if (r->range) assert_true(r->range[0] != '\0');
      if (r->units) assert_true(r->units[0] != '\0');
    }
  }
}

static void test_builtin_required_objects(void **state) {
  (void)state;
  const uint16_t required[] = {0,    1,    2,    3,    4,    5,    6,    7,    3200, 3201,
                               3202, 3203, 3300, 3301, 3302, 3303, 3304, 3305, 3306, 3308,
                               3310, 3311, 3312, 3313, 3314, 3315, 3316, 3334, 3336, 3347};
  nb_model *m = nb_model_new();
  assert_non_null(m);
  for (size_t k = 0; k < sizeof required / sizeof required[0]; k++) {
    if (nb_model_object(m, required[k]) == NULL) {
      fail_msg("built-in object %u missing", (unsigned)required[k]);
    }
  }
  nb_model_free(m);
}

static void assert_res(const nb_model *m, uint16_t o, uint16_t id, const char *name, uint8_t ops,
                       bool multiple, bool mandatory, nb_value_type type, const char *units) {
  const nb_resource_def *r = nb_model_resource(m, o, id);
  if (r == NULL) fail_msg("/%u/%u missing", (unsigned)o, (unsigned)id);
  assert_int_equal(r->id, id);
  assert_string_equal(r->name, name);
  assert_int_equal(r->ops, ops);
  assert_int_equal(r->multiple, multiple);
  assert_int_equal(r->mandatory, mandatory);
  assert_int_equal(r->type, type);
  if (units) {
    assert_non_null(r->units);
    assert_string_equal(r->units, units);
  } else {
    assert_null(r->units);
  }
}

/* Facts checked against the LwM2M 1.1 specification text, independent of the registry files. */
static void test_builtin_spot_facts(void **state) {
  (void)state;
  nb_model *m = nb_model_new();
  assert_non_null(m);
  const nb_object_def *sec = nb_model_object(m, 0);
  assert_string_equal(sec->name, "LWM2M Security");
  assert_true(sec->multiple);
  assert_true(sec->mandatory);
  assert_res(m, 0, 2, "Security Mode", NB_OP_NONE, false, true, NB_VT_INT, NULL);
  assert_res(m, 0, 3, "Public Key or Identity", NB_OP_NONE, false, true, NB_VT_OPAQUE, NULL);
  assert_res(m, 0, 10, "Short Server ID", NB_OP_NONE, false, false, NB_VT_INT, NULL);
  assert_string_equal(nb_model_resource(m, 0, 10)->range, "1..65534");
  assert_res(m, 1, 1, "Lifetime", NB_OP_RW, false, true, NB_VT_INT, "s");
  assert_res(m, 1, 7, "Binding", NB_OP_RW, false, true, NB_VT_STRING, NULL);
  assert_res(m, 1, 8, "Registration Update Trigger", NB_OP_E, false, true, NB_VT_NONE, NULL);
  assert_res(m, 2, 2, "ACL", NB_OP_RW, true, false, NB_VT_INT, NULL);
  const nb_object_def *dev = nb_model_object(m, 3);
  assert_string_equal(dev->name, "Device");
  assert_false(dev->multiple);
  assert_true(dev->mandatory);
  assert_string_equal(dev->lwm2m_version, "1.1");
  assert_res(m, 3, 4, "Reboot", NB_OP_E, false, true, NB_VT_NONE, NULL);
  assert_res(m, 3, 11, "Error Code", NB_OP_R, true, true, NB_VT_INT, NULL);
  assert_res(m, 3, 13, "Current Time", NB_OP_RW, false, false, NB_VT_TIME, NULL);
  assert_res(m, 3, 16, "Supported Binding and Modes", NB_OP_R, false, true, NB_VT_STRING, NULL);
  assert_res(m, 4, 2, "Radio Signal Strength", NB_OP_R, false, true, NB_VT_INT, "dBm");
  assert_res(m, 5, 1, "Package URI", NB_OP_RW, false, true, NB_VT_STRING, NULL);
  assert_res(m, 5, 2, "Update", NB_OP_E, false, true, NB_VT_NONE, NULL);
  assert_res(m, 6, 0, "Latitude", NB_OP_R, false, true, NB_VT_FLOAT, "lat");
  assert_res(m, 7, 0, "SMS Tx Counter", NB_OP_R, false, false, NB_VT_INT, NULL);
  assert_res(m, 3303, 5700, "Sensor Value", NB_OP_R, false, true, NB_VT_FLOAT, NULL);
  assert_res(m, 3303, 5605, "Reset Min and Max Measured Values", NB_OP_E, false, false, NB_VT_NONE,
             NULL);
  assert_res(m, 3311, 5850, "On/Off", NB_OP_RW, false, true, NB_VT_BOOL, NULL);
  assert_res(m, 3200, 5500, "Digital Input State", NB_OP_R, false, true, NB_VT_BOOL, NULL);
  assert_res(m, 3347, 5500, "Digital Input State", NB_OP_R, false, true, NB_VT_BOOL, NULL);
  assert_null(nb_model_resource(m, 3, 9999));
  assert_null(nb_model_resource(m, 9999, 0));
  assert_null(nb_model_object(m, 65534));
  nb_model_free(m);
}

static void test_count_at(void **state) {
  (void)state;
  nb_model *m = nb_model_new();
  size_t builtin = 0;
  nb_objects_builtin(&builtin);
  assert_int_equal(nb_model_count(m), builtin);
  for (size_t k = 0; k < nb_model_count(m); k++) {
    assert_non_null(nb_model_at(m, k));
    if (k > 0) assert_true(nb_model_at(m, k - 1)->id < nb_model_at(m, k)->id);
  }
  assert_null(nb_model_at(m, nb_model_count(m)));
  nb_model_free(m);
  nb_model *empty = nb_model_new_empty();
  assert_int_equal(nb_model_count(empty), 0);
  assert_null(nb_model_object(empty, 3));
  nb_model_free(empty);
  nb_model_free(NULL);
}

/* The shared view of the built-in tables answers as nb_model_new's copy does, with the very
 * definitions of the static table (no copies). */
static void test_builtin_view(void **state) {
  (void)state;
  const nb_model *v = nb_model_builtin();
  nb_model *m = nb_model_new();
  size_t builtin = 0;
  const nb_object_def *defs = nb_objects_builtin(&builtin);
  assert_ptr_equal(nb_model_builtin(), v);
  assert_int_equal(nb_model_count(v), builtin);
  for (size_t k = 0; k < builtin; k++) {
    assert_ptr_equal(nb_model_at(v, k), &defs[k]);
    assert_ptr_equal(nb_model_object(v, defs[k].id), nb_model_object(m, defs[k].id));
  }
  assert_null(nb_model_at(v, builtin));
  assert_null(nb_model_object(v, 65000));
  assert_non_null(nb_model_resource(v, 3303, 5700));
  nb_model_free(m);
}

/* A heap definition with n resources, ids given. */
static nb_object_def *make_def(uint16_t id, const char *name, const uint16_t *rids, size_t n) {
  nb_object_def *d = calloc(1, sizeof *d);
  d->id = id;
  d->name = strdup(name);
  d->version = strdup("1.0");
  d->multiple = true;
  nb_resource_def *res = calloc(n ? n : 1, sizeof *res);
  for (size_t k = 0; k < n; k++) {
    res[k].id = rids[k];
    res[k].name = strdup("Value");
    res[k].ops = NB_OP_R;
    res[k].type = NB_VT_FLOAT;
    res[k].units = strdup("Cel");
  }
  d->resources = res;
  d->resource_count = n;
  return d;
}

static void test_add_and_override(void **state) {
  (void)state;
  nb_model *m = nb_model_new();
  size_t before = nb_model_count(m);
  const uint16_t rids[] = {1, 5, 9};
  assert_int_equal(nb_model_add(m, make_def(40000, "Custom", rids, 3)), NB_OK);
  assert_int_equal(nb_model_count(m), before + 1);
  assert_string_equal(nb_model_object(m, 40000)->name, "Custom");
  assert_string_equal(nb_model_resource(m, 40000, 5)->units, "Cel");
  assert_null(nb_model_resource(m, 40000, 4));
  /* Insertion keeps the order. */
  assert_int_equal(nb_model_add(m, make_def(1000, "Middle", rids, 1)), NB_OK);
  for (size_t k = 1; k < nb_model_count(m); k++) {
    assert_true(nb_model_at(m, k - 1)->id < nb_model_at(m, k)->id);
  }
  /* Override a built-in, then the heap one again (the old heap def is freed: ASan). */
  assert_int_equal(nb_model_add(m, make_def(3, "My Device", rids, 2)), NB_OK);
  assert_string_equal(nb_model_object(m, 3)->name, "My Device");
  assert_null(nb_model_resource(m, 3, 0));
  assert_int_equal(nb_model_add(m, make_def(3, "My Device 2", rids, 3)), NB_OK);
  assert_string_equal(nb_model_object(m, 3)->name, "My Device 2");
  assert_int_equal(nb_model_count(m), before + 2);
  /* A definition without resources is fine. */
  assert_int_equal(nb_model_add(m, make_def(41000, "Empty", NULL, 0)), NB_OK);
  nb_model_free(m);
}

static void test_add_rejects(void **state) {
  (void)state;
  nb_model *m = nb_model_new_empty();
  const uint16_t unsorted[] = {5, 1};
  const uint16_t dup[] = {1, 1};
  const uint16_t reserved[] = {65535};
  /* Each rejected definition is freed by the model (ASan reports a leak otherwise). */
  assert_int_equal(nb_model_add(m, make_def(10, "Bad", unsorted, 2)), NB_ERR_INVAL);
  assert_int_equal(nb_model_add(m, make_def(10, "Bad", dup, 2)), NB_ERR_INVAL);
  assert_int_equal(nb_model_add(m, make_def(10, "Bad", reserved, 1)), NB_ERR_INVAL);
  assert_int_equal(nb_model_add(m, make_def(65535, "Bad", NULL, 0)), NB_ERR_INVAL);
  nb_object_def *bad_ops = make_def(10, "Bad", unsorted, 1);
  ((nb_resource_def *)bad_ops->resources)[0].ops = NB_OP_R | NB_OP_E;
  assert_int_equal(nb_model_add(m, bad_ops), NB_ERR_INVAL);
  nb_object_def *bad_type = make_def(10, "Bad", unsorted, 1);
  ((nb_resource_def *)bad_type->resources)[0].type = (nb_value_type)42;
  assert_int_equal(nb_model_add(m, bad_type), NB_ERR_INVAL);
  nb_object_def *no_name = make_def(10, "Bad", unsorted, 1);
  free((char *)no_name->name);
  no_name->name = NULL;
  assert_int_equal(nb_model_add(m, no_name), NB_ERR_INVAL);
  assert_int_equal(nb_model_add(m, NULL), NB_ERR_INVAL);
  assert_int_equal(nb_model_count(m), 0);
  nb_model_free(m);
}

static void test_dup_builtin(void **state) {
  (void)state;
  nb_model *m = nb_model_new();
  const nb_object_def *dev = nb_model_object(m, 3);
  nb_object_def *copy = nb_object_def_dup(dev);
  assert_non_null(copy);
  assert_ptr_not_equal(copy->name, dev->name);
  assert_string_equal(copy->name, dev->name);
  assert_int_equal(copy->resource_count, dev->resource_count);
  for (size_t k = 0; k < dev->resource_count; k++) {
    assert_int_equal(copy->resources[k].id, dev->resources[k].id);
    assert_string_equal(copy->resources[k].name, dev->resources[k].name);
  }
  /* Re-adding the copy overrides the static one; the model then owns and frees it. */
  assert_int_equal(nb_model_add(m, copy), NB_OK);
  assert_ptr_equal(nb_model_object(m, 3), copy);
  nb_model_free(m);
  nb_object_def_free(NULL);
}

static void test_op_names(void **state) {
  (void)state;
  const char *names[] = {"", "R", "W", "RW", "E"};
  for (uint8_t k = 0; k <= NB_OP_E; k++) {
    assert_string_equal(nb_op_name(k), names[k]);
    uint8_t back = 99;
    assert_int_equal(nb_op_parse(names[k], &back), NB_OK);
    assert_int_equal(back, k);
  }
  assert_string_equal(nb_op_name(NB_OP_R | NB_OP_E), "?");
  assert_string_equal(nb_op_name(200), "?");
  uint8_t ops;
  assert_int_equal(nb_op_parse("RWE", &ops), NB_ERR_INVAL);
  assert_int_equal(nb_op_parse("WR", &ops), NB_ERR_INVAL);
  assert_int_equal(nb_op_parse("r", &ops), NB_ERR_INVAL);
  assert_int_equal(nb_op_parse("X", &ops), NB_ERR_INVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_builtin_sorted_and_valid),
      cmocka_unit_test(test_builtin_required_objects),
      cmocka_unit_test(test_builtin_view),
      cmocka_unit_test(test_builtin_spot_facts),
      cmocka_unit_test(test_count_at),
      cmocka_unit_test(test_add_and_override),
      cmocka_unit_test(test_add_rejects),
      cmocka_unit_test(test_dup_builtin),
      cmocka_unit_test(test_op_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
