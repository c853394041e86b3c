/* The pure parts of the firmware service (fwupdate.h): the JSON body of a campaign, an image's
 * JSON and the version and vendor a signed image's manifest states. No state, no I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/fw_image.h"
#include "fw/fwupdate.h"
#include "server/regparse.h"

/* ---- campaign body ---- */

void nb_fws_spec_deinit(nb_fws_spec *s) {
  if (!s) return;
  for (size_t i = 0; i < s->nendpoints; i++) free(s->endpoints[i]);
  free(s->endpoints);
  s->endpoints = NULL;
  s->nendpoints = 0;
}

static nb_err bad(char *err, size_t cap, const char *msg) {
  snprintf(err, cap, "%s", msg);
  return NB_ERR_INVAL;
}

static bool hex64(const char *s) {
  if (strlen(s) != 64) return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
  return true;
}

static nb_err parse_endpoints(json_t *arr, nb_fws_spec *out, char *err, size_t cap) {
  size_t n = json_array_size(arr);
  if (!json_is_array(arr) || n == 0) return bad(err, cap, "targets.endpoints: a non-empty array");
  if (n > NB_FWS_TARGETS_MAX) return bad(err, cap, "targets.endpoints: too many (100000 at most)");
  if (out->endpoints) return bad(err, cap, "targets.endpoints: given twice");
  out->endpoints = calloc(n, sizeof(char *));
  if (!out->endpoints) return NB_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *ep = json_string_value(json_array_get(arr, i));
    if (!ep || !nb_server_ep_valid((const uint8_t *)ep, strlen(ep)))
      return bad(err, cap, "targets.endpoints: endpoint names as registration takes them");
    for (size_t j = 0; j < out->nendpoints; j++)
      if (out->endpoints[j] && strcmp(out->endpoints[j], ep) == 0)
        return bad(err, cap, "targets.endpoints: an endpoint listed twice");
    if (!(out->endpoints[out->nendpoints] = strdup(ep))) return NB_ERR_NOMEM;
    out->nendpoints++;
  }
  return NB_OK;
}

/* {"endpoints": [...]} or {"prefix", "object", "firmwareVersion"} (each optional, one at
 * least). */
static nb_err parse_targets(json_t *t, nb_fws_spec *out, char *err, size_t cap) {
  if (!json_is_object(t)) return bad(err, cap, "targets: an object");
  const char *key;
  json_t *v;
  bool filter = false;
  json_object_foreach(t, key, v) {
    if (strcmp(key, "endpoints") == 0) {
      nb_err rc = parse_endpoints(v, out, err, cap);
      if (rc != NB_OK) return rc;
    } else if (strcmp(key, "prefix") == 0) {
      const char *p = json_string_value(v);
      if (!p || strlen(p) >= sizeof(out->prefix) || strpbrk(p, " /?&#%\"\\"))
        return bad(err, cap, "targets.prefix: the start of an endpoint name");
      snprintf(out->prefix, sizeof(out->prefix), "%s", p);
      filter = true;
    } else if (strcmp(key, "object") == 0) {
      if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65534)
        return bad(err, cap, "targets.object: an object ID, 0 to 65534");
      out->object = (int)json_integer_value(v);
      filter = true;
    } else if (strcmp(key, "firmwareVersion") == 0) {
      const char *p = json_string_value(v);
      if (!p || strlen(p) >= sizeof(out->version))
        return bad(err, cap, "targets.firmwareVersion: a string of at most 63 bytes");
      snprintf(out->version, sizeof(out->version), "%s", p);
      out->has_version = true;
      filter = true;
    } else {
      return bad(err, cap, "targets: endpoints, or prefix / object / firmwareVersion");
    }
  }
  if (out->nendpoints && filter) return bad(err, cap, "targets: endpoints or a filter, not both");
  if (!out->nendpoints && !filter) return bad(err, cap, "targets: endpoints or a filter");
  return NB_OK;
}

static nb_err parse_count(json_t *v, const char *what, unsigned lo, unsigned hi, unsigned *out,
                          char *err, size_t cap) {
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
    snprintf(err, cap, "%s: an integer from %u to %u", what, lo, hi);
    return NB_ERR_INVAL;
  }
  *out = (unsigned)json_integer_value(v);
  return NB_OK;
}

static nb_err parse_member(const char *key, json_t *v, nb_fws_spec *out, char *err, size_t cap) {
  if (strcmp(key, "image") == 0) {
    const char *s = json_string_value(v);
    if (!s || !hex64(s)) return bad(err, cap, "image: the image's sha256, 64 lowercase hex digits");
    snprintf(out->image, sizeof(out->image), "%s", s);
    return NB_OK;
  }
  if (strcmp(key, "method") == 0) {
    const char *s = json_string_value(v);
    if (!s || (strcmp(s, "push") != 0 && strcmp(s, "pull") != 0))
      return bad(err, cap, "method: \"push\" or \"pull\"");
    out->pull = strcmp(s, "pull") == 0;
    return NB_OK;
  }
  if (strcmp(key, "targets") == 0) return parse_targets(v, out, err, cap);
  if (strcmp(key, "concurrency") == 0)
    return parse_count(v, "concurrency", 1, NB_FWS_CONCURRENCY_MAX, &out->concurrency, err, cap);
  if (strcmp(key, "retries") == 0)
    return parse_count(v, "retries", 0, NB_FWS_RETRIES_MAX, &out->retries, err, cap);
  snprintf(err, cap, "unknown member \"%.40s\"", key);
  return NB_ERR_INVAL;
}

nb_err nb_fws_spec_parse(const char *json, size_t len, nb_fws_spec *out, char *err, size_t cap) {
  memset(out, 0, sizeof(*out));
  out->object = -1;
  out->concurrency = NB_FWS_CONCURRENCY_DEFAULT;
  out->retries = 2;
  json_error_t je;
  json_t *root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    snprintf(err, cap, "bad JSON: %.100s", je.text);
    return NB_ERR_INVAL;
  }
  nb_err rc = json_is_object(root) ? NB_OK : bad(err, cap, "the body: a JSON object");
  const char *key;
  json_t *v;
  json_object_foreach(root, key, v) {
    if (rc == NB_OK) rc = parse_member(key, v, out, err, cap);
  }
  json_decref(root);
  if (rc == NB_OK && !out->image[0]) rc = bad(err, cap, "image: required");
  if (rc == NB_OK && !out->nendpoints && !out->prefix[0] && out->object < 0 && !out->has_version)
    rc = bad(err, cap, "targets: required");
  return rc;
}

/* ---- images ---- */

json_t *nb_fws_image_json(const nb_fws_image *img) {
  json_t *j = json_pack("{s:s,s:I,s:s,s:I}", "sha256", img->sha256, "size", (json_int_t)img->size,
                        "name", img->name, "uploadedAt", (json_int_t)img->uploaded_at);
  if (!j) return NULL;
  json_object_set_new(j, "version", img->version[0] ? json_string(img->version) : json_null());
  json_object_set_new(j, "vendor", img->vendor[0] ? json_string(img->vendor) : json_null());
  return j;
}

/* A manifest's text as the server shows it: printable ASCII only, shorter than
 * NB_FWS_TEXT_MAX ("" otherwise: the image JSON says null). */
static void shown_text(const char *text, char *out) {
  size_t n = strlen(text);
  out[0] = '\0';
  if (n >= NB_FWS_TEXT_MAX) return;
  for (size_t i = 0; i < n; i++)
    if (text[i] < 0x20 || text[i] > 0x7e) return;
  memcpy(out, text, n + 1);
}

void nb_fws_manifest_sniff(const uint8_t *head, size_t len, char *version, char *vendor) {
  version[0] = vendor[0] = '\0';
  nb_fw_manifest m; /* the device's own decoder (client/fw_image.h): one format, one reader */
  if (nb_fw_manifest_peek(head, len, &m) != NB_OK) return;
  shown_text(m.version, version);
  shown_text(m.vendor, vendor);
}
