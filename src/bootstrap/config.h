/* Bootstrap configurations: what the bootstrap server provisions on one endpoint (or on any
 * endpoint, the default): server accounts (URI, short server ID, lifetime, binding, security
 * mode, given or per-bootstrap generated credentials), access-control instances, what to delete
 * first. Plain fixed-size values, plus their JSON form for import/export. Owns no heap memory. */
#ifndef NB_BOOTSTRAP_CONFIG_H
#define NB_BOOTSTRAP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "lwm2m/path.h"

#define NB_BS_EP_MAX 128      /* endpoint name plus NUL */
#define NB_BS_URI_MAX 256     /* server URI plus NUL */
#define NB_BS_SERVERS_MAX 4   /* server accounts in one config */
#define NB_BS_ACLS_MAX 8      /* Access Control instances in one config */
#define NB_BS_ACL_ENTRIES 4   /* (ssid, rights) pairs of one ACL instance */
#define NB_BS_DELETES_MAX 8   /* paths deleted before writing */
#define NB_BS_IDENT_MAX 128   /* PSK identity plus NUL */
#define NB_BS_KEY_MAX 64      /* PSK key bytes */
#define NB_BS_PUBKEY_MAX 2048 /* server SubjectPublicKeyInfo or certificate, DER */
#define NB_BS_CA_MAX 4096     /* CA certificate or key of X.509 accounts, PEM or DER */

/* Security Mode resource /0/x/2 values. */
typedef enum {
  NB_BS_SEC_PSK = 0,
  NB_BS_SEC_RPK = 1,
  NB_BS_SEC_X509 = 2,
  NB_BS_SEC_NOSEC = 3,
} nb_bs_sec_mode;

/* "psk", "rpk", "x509", "nosec" and back (NB_ERR_INVAL when unknown). */
const char *nb_bs_sec_mode_name(nb_bs_sec_mode m);
nb_err nb_bs_sec_mode_parse(const char *name, nb_bs_sec_mode *out);

/* One management server account written to /0/x and /1/y. */
typedef struct {
  char uri[NB_BS_URI_MAX];
  uint16_t ssid;     /* 1..65534 */
  uint32_t lifetime; /* seconds; 0 = 86400 */
  char binding[8];   /* "U" or "UQ"; "" = "U" */
  nb_bs_sec_mode mode;
  /* PSK: a given identity/key; when key_len is 0 a fresh 16-byte key is generated at every
   * bootstrap (identity: psk_identity, else the endpoint name). RPK: a fresh P-256 key pair is
   * generated at every bootstrap. */
  char psk_identity[NB_BS_IDENT_MAX];
  uint8_t psk_key[NB_BS_KEY_MAX];
  size_t psk_key_len;
  /* RPK: the management server's public key (SubjectPublicKeyInfo DER) for /0/x/4; X.509: its
   * certificate (DER). X.509 accounts get a fresh P-256 key and a certificate with subject CN
   * = endpoint signed by the config's CA at every bootstrap. */
  uint8_t server_pubkey[NB_BS_PUBKEY_MAX];
  size_t server_pubkey_len;
} nb_bs_server;

/* One Access Control instance (/2/x): who may do what on object instance (obj, inst). */
typedef struct {
  uint16_t obj, inst;
  uint16_t owner; /* Access Control Owner (ssid) */
  size_t n;
  uint16_t ssid[NB_BS_ACL_ENTRIES];   /* resource instance ID; 0 = default for every server */
  uint16_t rights[NB_BS_ACL_ENTRIES]; /* bits: 1 read, 2 write, 4 execute, 8 delete, 16 create */
} nb_bs_acl;

typedef struct {
  char ep[NB_BS_EP_MAX]; /* "" for the default config */
  nb_bs_server servers[NB_BS_SERVERS_MAX];
  size_t nservers;
  nb_bs_acl acls[NB_BS_ACLS_MAX];
  size_t nacls;
  nb_path deletes[NB_BS_DELETES_MAX]; /* Bootstrap-Delete targets; see nb_bs_config_init */
  size_t ndeletes;
  bool discover; /* Bootstrap-Discover /0 first, to place new accounts beside the bootstrap one */
  /* The device's own (factory) bootstrap account, found by the Discover: fresh credentials of
   * the same kind written into it at every bootstrap (the bootstrap server then accepts only
   * those: a leaked factory key stops working), and/or its Bootstrap-Server Account Timeout
   * (/0/x/12, seconds: the device purges the account that long after Finish); 0 = kept. */
  bool bs_fresh_key;
  uint32_t bs_account_timeout;
  /* CA signing the device certificates of X.509 accounts (PEM or DER); the key is a secret. */
  uint8_t ca_cert[NB_BS_CA_MAX];
  size_t ca_cert_len;
  uint8_t ca_key[NB_BS_CA_MAX];
  size_t ca_key_len;
} nb_bs_config;

/* An empty config for ep (NULL or "" = default) deleting /0 and /1 (and /2), discovering. */
void nb_bs_config_init(nb_bs_config *cfg, const char *ep);
/* Appends a server account (NB_ERR_BUSY when full, NB_ERR_INVAL for a bad ssid/URI/mode). */
nb_err nb_bs_config_add_server(nb_bs_config *cfg, const nb_bs_server *srv);

/* JSON form (one config object): {"endpoint": "dev1" | null, "servers": [{"uri", "ssid",
 * "lifetime", "binding", "security": "psk", "psk_identity", "psk_key" (hex),
 * "server_public_key" (hex DER)}], "acls": [{"object", "instance", "owner", "access": {"101":
 * 31}}], "delete": ["/0", "/1"], "discover": true, "bootstrap_account": {"fresh_key": true,
 * "timeout": 60}, "ca_cert": hex, "ca_key": hex}. to_json returns a heap string (free()). */
nb_err nb_bs_config_to_json(const nb_bs_config *cfg, char **out);
/* The same without its secrets, as the REST API and `config list` show it: a server's
 * "psk_key" becomes "psk_key_set": true, "ca_key" "ca_key_set": true (compact text, free()). */
nb_err nb_bs_config_to_public_json(const nb_bs_config *cfg, char **out);
nb_err nb_bs_config_from_json(const char *text, nb_bs_config *out, char *why, size_t why_cap);

#endif
