/* LwM2M TLV, Content-Format 11542 (LwM2M 1.1 TS Core 7.4.3): binary type-length-value with four
 * identifier types (object instance, resource instance, multiple resource, resource with value),
 * 8/16-bit identifiers and 0/8/16/24-bit lengths. Decoding and encoding follow format.h; this
 * header adds the raw TLV reader that tools (decode command, monitor) use to walk a payload. */
#ifndef NB_LWM2M_TLV_H
#define NB_LWM2M_TLV_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "lwm2m/format.h"

/* The two top bits of the type byte. */
typedef enum {
  NB_TLV_OBJECT_INSTANCE = 0,
  NB_TLV_RESOURCE_INSTANCE = 1,
  NB_TLV_MULTIPLE_RESOURCE = 2,
  NB_TLV_RESOURCE = 3
} nb_tlv_type;

/* Largest value a TLV length field can state (24 bits). */
#define NB_TLV_MAX_LEN 0xffffffu

typedef struct {
  nb_tlv_type type;
  uint16_t id;
  const uint8_t *value; /* points into the payload */
  size_t len;
} nb_tlv;

/* Reads one TLV header and borrows its value from r. NB_ERR_TRUNCATED when the header or the
 * value runs past the reader's end. */
nb_err nb_tlv_read(nb_reader *r, nb_tlv *out);

/* Decodes a TLV payload relative to opts->base (see format.h). Accepted at the top level:
 * under /o object instances; under /o/i resources and multiple resources, or that one object
 * instance; under /o/i/r that resource (single or multiple) or its resource instances; under
 * /o/i/r/ri that resource instance. Values are typed by the definitions: Integer and Time
 * 1/2/4/8-byte signed, Unsigned 1/2/4/8-byte unsigned, Float 4/8 bytes, Boolean one byte 0/1,
 * Objlnk 4 bytes, String/Corelnk UTF-8; undefined resources stay OPAQUE. */
nb_err nb_tlv_decode(const uint8_t *buf, size_t len, const nb_format_opts *opts, nb_records *out,
                     nb_format_error *err);

/* Encodes records (any order; sorted on output) under opts->base, which must address at least
 * an object: under /o object instance TLVs, under /o/i resource TLVs, under /o/i/r that resource
 * (a multiple-resource TLV when its records are instances), under /o/i/r/ri one resource
 * instance TLV. Integers use the smallest of 1/2/4/8 bytes, floats 4 bytes when exact. */
nb_err nb_tlv_encode(const nb_records *in, const nb_format_opts *opts, nb_bytes *out,
                     nb_format_error *err);

#endif
