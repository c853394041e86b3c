/* The server's own firmware resource (fw_int.h): GET /fw/{id}, id the first 16 hex digits (or
 * more) of a stored image's SHA-256, answered block by block (RFC 7959 Block2) straight from
 * the image, at the block size the device asks for (1024 at most), with Size2 and the digest's
 * first 8 bytes as ETag, so a device pulling it can resume and notice a changed image. Only
 * registered devices get it (a datagram from a registration's address, of its DTLS identity);
 * anyone else gets 4.01. */
#include <string.h>

#include "base/hex.h"
#include "base/log.h"
#include "coap/block.h"
#include "fw/fw_int.h"

static void answer(nb_coap_exchange *ex, uint8_t code, nb_time_ms now) {
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, code, 0);
  nb_coap_exchange_respond(ex, &m, now);
}

/* The image a /fw/{id} request names, or NULL. */
static const nb_fws_image *requested(const nb_fws *f, const nb_coap_msg *req) {
  const nb_coap_option *o = NULL;
  size_t n = 0;
  for (size_t i = 0; i < req->option_count; i++) {
    if (req->options[i].number != NB_COAP_OPT_URI_PATH) continue;
    if (++n == 2) o = &req->options[i];
  }
  if (n != 2 || !o || o->len < NB_FWS_URI_ID_LEN || o->len > 64) return NULL;
  char id[NB_FWS_SHA_HEX];
  memcpy(id, o->value, o->len);
  id[o->len] = '\0';
  return nb_fwi_image_by_prefix(f, id, o->len);
}

void nb_fwi_serve(void *user, nb_coap_exchange *ex, const nb_addr *peer, const nb_coap_msg *req,
                  const nb_server_reg_info *reg, nb_time_ms now) {
  nb_fws *f = user;
  (void)peer;
  if (req->code != NB_COAP_GET) {
    answer(ex, NB_COAP_METHOD_NOT_ALLOWED, now);
    return;
  }
  if (!reg) {
    answer(ex, NB_COAP_UNAUTHORIZED, now);
    return;
  }
  const nb_fws_image *img = requested(f, req);
  if (!img) {
    answer(ex, NB_COAP_NOT_FOUND, now);
    return;
  }
  nb_coap_block want = {0, false, NB_COAP_BLOCK_MAX_SZX};
  if (nb_coap_block_get(req, NB_COAP_OPT_BLOCK2, &want) == NB_OK &&
      want.szx > NB_COAP_BLOCK_MAX_SZX)
    want.szx = NB_COAP_BLOCK_MAX_SZX;
  size_t size = nb_coap_block_size(want.szx);
  uint64_t offset = (uint64_t)want.num * size;
  if (offset > img->size || (offset == img->size && img->size > 0)) {
    answer(ex, NB_COAP_BAD_OPTION, now); /* RFC 7959 2.4: a block past the end */
    return;
  }
  uint8_t buf[1024], etag[8];
  size_t len = img->size - offset < size ? (size_t)(img->size - offset) : size, got = 0, elen = 0;
  nb_err rc = f->cfg.read(f->cfg.read_user, img->sha256, offset, buf, len, &got);
  if (rc == NB_OK && got != len) rc = NB_ERR_IO;
  if (rc == NB_OK) rc = nb_hex_decode(img->sha256, 16, NULL, etag, sizeof(etag), &elen);
  if (rc != NB_OK) {
    NB_LOG_WARN(NB_FWS_LOG, "event=image-unreadable sha256=%s err=%s", img->sha256,
                nb_err_name(rc));
    answer(ex, NB_COAP_INTERNAL_SERVER_ERROR, now);
    return;
  }
  nb_coap_block b = {want.num, offset + len < img->size, want.szx};
  nb_coap_msg m;
  nb_coap_msg_init(&m, NB_COAP_ACK, NB_COAP_CONTENT, 0);
  rc = nb_coap_msg_add_option(&m, NB_COAP_OPT_ETAG, etag, sizeof(etag));
  if (rc == NB_OK)
    rc = nb_coap_msg_add_uint(&m, NB_COAP_OPT_CONTENT_FORMAT, NB_COAP_CF_OCTET_STREAM);
  if (rc == NB_OK) rc = nb_coap_block_add(&m, NB_COAP_OPT_BLOCK2, &b);
  if (rc == NB_OK && img->size <= UINT32_MAX)
    rc = nb_coap_msg_add_uint(&m, NB_COAP_OPT_SIZE2, (uint32_t)img->size);
  nb_coap_msg_set_payload(&m, buf, len);
  if (rc != NB_OK) {
    answer(ex, NB_COAP_INTERNAL_SERVER_ERROR, now);
    return;
  }
  nb_coap_exchange_respond_block(ex, &m, now);
}
