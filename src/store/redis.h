/* Redis backend of the server store (server/store.h), over hiredis with synchronous calls: the
 * same records as the SQLite backend, so several server processes can share them; this file
 * owns the key layout and the records' encoding. Owns its connection (store/redis_conn.h:
 * reopened on failure with bounded retries and a growing back-off; the address, password
 * included, wiped on close).
 *
 * Key layout (every key starts with "nb:"; EP is the endpoint name as bytes, never escaped:
 * Redis keys are binary-safe, every command is sent as an argument vector, and no key is
 * ever matched with a pattern, so ':', '*' or spaces in a name are plain bytes; each family
 * below ends in a separator or is a fixed name, so no two families share a key):
 *   nb:reg:EP                hash: one registration (fields as in reg_fields in redis.c)
 *   nb:regs                  set: the endpoint names that have a registration
 *   nb:obs:EP                hash: EP's observations, field = the id (decimal), value =
 *                            "FORMAT COMPOSITE CREATED_AT TOKEN_HEX PATHS"
 *   nb:obseps                set: the endpoint names that have (or had) observations
 *   nb:sec:EP                hash: EP's credential (ep, kind, identity, key: the PSK in the
 *                            clear, as the SQLite file holds it)
 *   nb:secid:KIND:IDENTITY   string: the EP whose credential it is (KIND a digit; "none"
 *                            credentials have no index): the O(1) lookup of a DTLS handshake
 *   nb:secs                  sorted set, every score 0: the endpoint names with a credential,
 *                            in byte order
 *   nb:seq:audit             counter: the last audit seq handed out
 *   nb:audit                 sorted set: audit seqs, score = seq
 *   nb:audit:SEQ             hash: one audit entry
 *   nb:seq:evidence          counter: the last evidence seq handed out
 *   nb:evidence:EP           sorted set: EP's evidence seqs, score = seq (trimmed to `keep`)
 *   nb:ev:SEQ                hash: one piece of evidence (the COSE_Sign1 bytes as received)
 *   nb:probe                 string: Unix ms of the last health probe (the write that shows
 *                            whether Redis takes writes again after a failure)
 * Multi-key updates (a registration and its index entry, a credential and its identity
 * index) are one MULTI/EXEC, pipelined in one round trip; a credential's update also WATCHes
 * its keys and retries when another process changed them in between. */
#ifndef NB_STORE_REDIS_H
#define NB_STORE_REDIS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "server/store.h"
#include "store/redis_uri.h"

typedef struct nb_store_redis nb_store_redis;

/* Connects to the Redis server at uri (AUTH and SELECT as it says), trying a few times with
 * a growing pause; NB_ERR_IO with the reason logged when it cannot be reached or refuses the
 * password, NB_ERR_NOMEM. uri is copied. */
nb_err nb_store_redis_open(const nb_redis_uri *uri, nb_store_redis **out);
void nb_store_redis_close(nb_store_redis *st);
/* The store interface over this backend (valid until close). Each operation returns NB_ERR_IO
 * while Redis cannot be reached or refuses it; it reconnects on its own. probe is a SET of
 * nb:probe; error_text a fixed description ("Redis does not answer", "Redis is out of memory
 * (maxmemory)"), never Redis's own words, which may quote a key. */
nb_server_store nb_store_redis_iface(nb_store_redis *st);
/* Whether the last attempt to reach Redis succeeded. */
bool nb_store_redis_connected(const nb_store_redis *st);
/* Round trips to Redis so far (each pipeline of commands counts once): what an operation
 * costs, for the tests and the benchmark. */
uint64_t nb_store_redis_round_trips(const nb_store_redis *st);

#endif
