/* The file a DTLS server keeps its established sessions in across a restart (session.h,
 * nb_dtls_saved; docs/server.md "Restart and DTLS sessions", docs/security.md): the sessions'
 * keys, sequence numbers, replay windows and authenticated peers, encrypted at rest under a
 * 32-byte key the operator supplies (AES-256-GCM, nettle), with the time it was written, so
 * that a file older than a maximum age, written under another key, or altered in any byte is
 * refused whole. Owns the format (writing, opening, parsing) and the key file's reading; the
 * file itself is written 0600 by nb_dtls_sessfile_save and removed by nb_dtls_sessfile_load
 * once read, whatever it held.
 *
 * Layout: "NBDTLSS1" | written_ms u64 | count u32 | nonce[12] | AES-256-GCM(records) | tag[16],
 * the first 32 bytes being the associated data. Records, each: peer (family u8, ip[16], port
 * u16, scope u32), peer identity (mode u8, identity, secure ID, subject, common name: u16
 * length + bytes each; SubjectPublicKeyInfo u16 + bytes), suite (u8 + bytes), epoch u16, read
 * key[16] + salt[4], write key[16] + salt[4], next write sequence u64, replay window (max u64,
 * bits u64, any u8), credential digest[32]. */
#ifndef NB_DTLS_SESSFILE_H
#define NB_DTLS_SESSFILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "dtls/session.h"

#define NB_DTLS_SESSFILE_KEY_LEN 32
#define NB_DTLS_SESSFILE_MAX_RECORDS 1000000u

/* Appends one session's record to plain (the body before it is sealed). */
nb_err nb_dtls_sessfile_add(nb_bytes *plain, const nb_dtls_saved *sv);
/* The whole file of `count` records in plain, written at written_ms (Unix ms), into out. */
nb_err nb_dtls_sessfile_seal(const uint8_t key[NB_DTLS_SESSFILE_KEY_LEN], int64_t written_ms,
                             uint32_t count, const uint8_t *plain, size_t plain_len, nb_bytes *out);
/* Checks and decrypts a file into plain (which then holds keys: the caller wipes it):
 * NB_ERR_SYNTAX for what is not such a file, NB_ERR_DTLS_EXPIRED when it was written more
 * than max_age_ms before now_ms (or in the future, past a minute of clock skew),
 * NB_ERR_DTLS_BAD_MAC when the key is another or a byte changed. */
nb_err nb_dtls_sessfile_open(const uint8_t key[NB_DTLS_SESSFILE_KEY_LEN], const uint8_t *file,
                             size_t len, int64_t now_ms, int64_t max_age_ms, nb_bytes *plain,
                             uint32_t *count);
/* Calls fn for each of the count records of plain (sv wiped after each call); stops at the
 * first error of fn. NB_ERR_SYNTAX for a record that does not parse or bytes left over. */
nb_err nb_dtls_sessfile_parse(const uint8_t *plain, size_t len, uint32_t count,
                              nb_err (*fn)(void *user, const nb_dtls_saved *sv), void *user);

/* ---- files ---- */

/* The key: 64 hex digits (a trailing newline allowed) or 32 raw bytes, in a file no one but
 * its owner may read (NB_ERR_PERM otherwise). */
nb_err nb_dtls_sessfile_key_load(const char *path, uint8_t key[NB_DTLS_SESSFILE_KEY_LEN]);
/* Writes the sealed bytes to path: created 0600 beside it and renamed over it. */
nb_err nb_dtls_sessfile_save(const char *path, const uint8_t *data, size_t len);
/* Reads path into out and removes it (a session is never restored twice, even when the
 * restart that follows fails). NB_ERR_NOT_FOUND when there is none; NB_ERR_PERM when group
 * or others may read it (it is removed all the same). */
nb_err nb_dtls_sessfile_load(const char *path, nb_bytes *out);

#endif
