/* `niobium client`: the LwM2M client engine on a libuv loop. One UDP socket carries every
 * server's datagrams (the engine adds DTLS itself), one timer follows the engine's deadline,
 * SIGINT/SIGTERM de-register, a small command prompt reads stdin when it is a terminal, and
 * accounts persist to a state file (0600) once registered. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "base/log.h"
#include "base/privfile.h"
#include "base/rand.h"
#include "client_fw.h"
#include "commands.h"
#include "ddf_opts.h"
#include "dtls/cose_lwm2m.h"
#include "io/host_device.h"
#include "io/loop.h"
#include "niobium/client.h"
#include "niobium/objects.h"
#include "niobium/sensor.h"

#define CLI "niobium client"
#define DEREG_GRACE_MS 5000
#define NSENSORS 3

static void usage(FILE *out) {
  fprintf(
      out,
      "Usage: niobium client (--server URI | --bootstrap URI | --factory FILE) --endpoint NAME\n"
      "       [OPTIONS]\n"
      "An LwM2M 1.1 device: registers with a server (or bootstraps first), serves reads,\n"
      "writes, executes and observations, updates before its lifetime runs out.\n\n"
      "  --server URI          LwM2M server, coap://HOST:PORT or coaps://HOST:PORT\n"
      "  --bootstrap URI       bootstrap server instead (client-initiated bootstrap)\n"
      "  --factory FILE        factory bootstrap: the accounts (servers, bootstrap server, keys,\n"
      "                        access control) from a JSON file, or a --state file; instead of\n"
      "                        --server/--bootstrap and their key options; --ssid, --lifetime\n"
      "                        and --binding are then per account in the file (docs/client.md)\n"
      "  --endpoint NAME       endpoint client name (required)\n"
      "  --ssid N              short server ID of the --server account (default 1)\n"
      "  --psk-identity ID     DTLS PSK identity (with --psk-key-file or --psk-key)\n"
      "  --psk-key-file FILE   DTLS PSK key, hex digits in FILE (a final newline is fine); FILE\n"
      "                        must be readable by its owner only (chmod 600): refused else\n"
      "  --psk-key HEX         the same key on the command line, where any local user sees it\n"
      "                        (ps, /proc); prefer --psk-key-file\n"
      "  --rpk-key FILE        our P-256 private key (PEM/DER; a warning when group/world-\n"
      "                        readable): raw public key mode, with\n"
      "  --server-key FILE     the server's public key or certificate to pin, or\n"
      "  --server-secure-id ID its secure ID (30 hex digits, `niobium keys` prints it)\n"
      "  --cert FILE --key FILE  our X.509 certificate and its key, with\n"
      "  --ca FILE             a CA the server's certificate must chain to, or\n"
      "                        --server-key FILE: the server's own certificate (pinned)\n"
      "  --lifetime SECONDS    registration lifetime (default 86400)\n"
      "  --binding U|UQ        UDP, or UDP with queue mode (default U)\n"
      "  --queue-timeout S     queue mode: sleep after S idle seconds (default 93)\n"
      "  --objects SET         basic (0-3), ipso (basic + 3303, 3304, 3315), all (default ipso);\n"
      "                        the Device object (3) reports this host's clock, time zone\n"
      "                        (TZ), memory and battery (docs/client.md)\n"
      "  --location LAT,LON    serve the Location object (6) with this fix (degrees), e.g.\n"
      "                        for the console's map\n"
      "  --ddf PATH            OMA DDF XML object definitions (a file or a directory),\n"
      "                        repeatable: each object they define that the client does not\n"
      "                        implement is hosted with an empty instance 0, its values\n"
      "                        set with `set PATH VALUE` and written by servers, typed\n"
      "  --sensors SOURCE      what feeds the IPSO sensor values (default random):\n"
      "                        random       a random walk of every sensor\n"
      "                        csv:FILE:COL replay column COL (header name or 1-based number)\n"
      "                                     of FILE into 3303 temperature; rows at their\n"
      "                                     'time' column (seconds) or one per interval\n"
      "                        spi:DEV[:CH] MCP3004/3008 ADC channel CH (default 0) on a\n"
      "                                     spidev device, 3.3 V reference, as 3316 voltage\n"
      "                        none         fixed values\n"
      "  --sensor-interval S   seconds between sensor steps (default 10)\n"
      "  --state FILE          keep the server accounts here (written 0600 once registered;\n"
      "                        read at start, so a bootstrapped device skips bootstrap)\n"
      "  --version 1.0|1.1     LwM2M version to speak (default 1.1)\n"
      "  --signed-bootstrap    ask the bootstrap server to sign its writes (pct=18); needs a\n"
      "                        key pair for it (--rpk-key or --cert, or rpk/x509 in --factory)\n"
      "  --evidence-dir DIR    keep every signed payload accepted or sent (signed writes,\n"
      "                        bootstrap receipts, signed reads and notifications) as a file\n"
      "                        NNNN-KIND-PATH.cose (0600) in DIR, which must exist; the\n"
      "                        keys a signed write carries beside its signature are not\n"
      "                        kept, their signed digests are (docs/cose.md)\n"
      "  --firmware-dir DIR    Firmware Update (object 5; also with --objects all, then in a\n"
      "                        private temporary directory): packages pushed to /5/0/0 or\n"
      "                        pulled from the Package URI /5/0/1 (coap://, coaps:// to one\n"
      "                        of the device's servers, http(s)://) are streamed to DIR/\n"
      "                        package.bin (0600, renamed when complete); Execute /5/0/2\n"
      "                        installs it (docs/firmware.md)\n"
      "  --firmware-trust FILE the public key (PEM/DER, `niobium keys`) that signs packages\n"
      "                        (`niobium fw sign`); a package whose signature, size or\n"
      "                        SHA-256 does not check out ends with result 5\n"
      "  --firmware-allow-unsigned  also accept raw images without a signature (and, without\n"
      "                        --firmware-trust, signed ones unverified); a warning says so\n"
      "  --firmware-hook CMD   install command, run through /bin/sh with the package path as\n"
      "                        \"$1\" and NB_FW_VERSION, NB_FW_IMAGE_OFFSET, NB_FW_IMAGE_SIZE,\n"
      "                        NB_FW_SIGNED in its environment; exit 0 = success (result 1),\n"
      "                        5 = integrity (5), 6 = unsupported type (6), else failed (8).\n"
      "                        Without it: accept. On success /3/0/3 becomes the package's\n"
      "                        version and the device registers anew, as after a reboot\n"
      "  --firmware-max-size N largest package in bytes (default 16777216); beyond: result 2\n"
      "  --firmware-ca FILE    https:// Package URIs: CA certificates (PEM) to trust\n"
      "  --prompt              read commands from stdin even when it is no terminal\n"
      "  --log-level LEVEL     error, warn, info (default) or debug\n"
      "  -h, --help            this text\n\n"
      "The device answers its servers only (the addresses its server accounts resolve to, and\n"
      "its bootstrap server's): datagrams from any other address get no answer at all and are\n"
      "counted (`status`).\n\n"
      "Commands on stdin (when it is a terminal): set PATH VALUE, get PATH, update,\n"
      "send PATH..., status, quit (de-registers), help.\n"
      "SIGINT/SIGTERM de-register and exit. Exit codes: 0 ok, 1 failure, 2 usage.\n\n"
      "Examples:\n"
      "  niobium client --server coap://127.0.0.1:5683 --endpoint dev1\n"
      "  (umask 077; echo 000102030405060708090a0b0c0d0e0f > dev1.psk)\n"
      "  niobium client --server coaps://lwm2m.example:5684 --endpoint dev1 \\\n"
      "      --psk-identity dev1 --psk-key-file dev1.psk\n"
      "  niobium client --server coaps://10.0.0.5:5684 --endpoint dev1 \\\n"
      "      --rpk-key dev.key --server-key server.pub\n"
      "  niobium client --bootstrap coaps://127.0.0.1:5784 --endpoint dev1 \\\n"
      "      --cert dev.crt --key dev.key --ca ca.crt --state dev1.state\n"
      "  niobium client --factory dev1-factory.json --endpoint dev1 --state dev1.state\n"
      "  niobium client --server coap://127.0.0.1:5683 --endpoint dev1 \\\n"
      "      --firmware-dir /var/lib/dev1/fw --firmware-trust vendor.pub \\\n"
      "      --firmware-hook /usr/local/sbin/flash-image\n"
      "  niobium client --bootstrap coaps://127.0.0.1:5784 --endpoint dev1 \\\n"
      "      --rpk-key dev.key --server-key bs.pub --signed-bootstrap --evidence-dir ev/\n"
      "  niobium client --server coap://127.0.0.1:5683 --endpoint dev1 --binding UQ \\\n"
      "      --sensors csv:temps.csv:temp\n"
      "  niobium client --server coap://127.0.0.1:5683 --endpoint pi1 --sensors "
      "spi:/dev/spidev0.0:2\n");
}

typedef struct {
  const char *server, *bootstrap, *endpoint, *psk_id, *psk_hex, *psk_file, *rpk_key, *server_key;
  const char *server_sid, *cert, *key, *ca, *binding, *objects, *sensors, *state, *version;
  const char *factory, *evidence_dir;
  client_fw_options fw;
  bool firmware; /* object 5: --firmware-dir or --objects all */
  bool signed_bootstrap;
  unsigned long lifetime, ssid, sensor_interval, queue_timeout;
  bool prompt;
  nb_ddf_opts ddf;
  bool has_location; /* --location: the Location object (6) with this fix */
  double lat, lon;
} options;

typedef struct {
  nb_io_loop *loop;
  nb_io_udp *udp4, *udp6;
  nb_client *c;
  nb_io_deadline *deadline;
  uv_timer_t sensor_timer;
  uv_poll_t input;
  bool input_on, sensors_on;
  nb_sensor *src;   /* csv: or spi: source (NULL: random walk or none) */
  uint16_t src_obj; /* the object it feeds (/x/0/5700) */
  nb_spidev spi;
  nb_time_ms src_start;
  const options *o;
  bool quitting, registered_once, failed;
  nb_time_ms quit_by;
  char line[512];
  size_t line_len;
  unsigned evidence_seq; /* last NNNN written to --evidence-dir */
  nb_host_device host;   /* the Device object's live values: this host's */
  client_fw *fw;         /* object 5 */
} app;

/* ---- helpers ---- */

static int read_file(const char *path, nb_bytes *out) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, CLI ": cannot read %s: %s\n", path, strerror(errno));
    return -1;
  }
  uint8_t buf[4096];
  size_t n;
  int rc = 0;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    if (nb_bytes_append(out, buf, n) != NB_OK) rc = -1;
  if (ferror(f)) rc = -1;
  fclose(f);
  return rc;
}

/* Reads a file that holds a secret. A group- or world-readable one is refused when strict (a
 * clear message says how to fix it), else only warned about (options that took such files
 * before the check existed). Not a regular file: refused. */
static int read_secret_file(const char *path, bool strict, nb_bytes *out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    fprintf(stderr, CLI ": cannot read %s: %s\n", path, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    fprintf(stderr, CLI ": %s is not a regular file\n", path);
    close(fd);
    return -1;
  }
  if (st.st_mode & 077) {
    fprintf(stderr, CLI ": %s holds a secret but is readable by %s (mode %04o): %s chmod 600 %s\n",
            path, st.st_mode & 07 ? "anyone" : "its group", (unsigned)(st.st_mode & 07777),
            strict ? "refused; run" : "run", path);
    if (strict) {
      close(fd);
      return -1;
    }
  }
  uint8_t buf[4096];
  ssize_t n;
  int rc = 0;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    if (nb_bytes_append(out, buf, (size_t)n) != NB_OK) rc = -1;
  if (n < 0) {
    fprintf(stderr, CLI ": cannot read %s: %s\n", path, strerror(errno));
    rc = -1;
  }
  memset(buf, 0, sizeof buf);
  close(fd);
  return rc;
}

static int hex_decode(const char *s, uint8_t *out, size_t cap, size_t *len) {
  size_t n = strlen(s);
  if (n == 0 || n % 2 || n / 2 > cap) return -1;
  for (size_t i = 0; i < n / 2; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
        !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
      return -1;
    out[i] = (uint8_t)v;
  }
  *len = n / 2;
  return 0;
}

static nb_err resolve(void *user, const char *host, uint16_t port, nb_addr *out) {
  (void)user;
  struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL;
  char ps[8];
  snprintf(ps, sizeof ps, "%u", port);
  int rc = getaddrinfo(host, ps, &hints, &res);
  if (rc != 0) {
    NB_LOG_ERROR("client", "event=resolve-failed host=%s reason=\"%s\"", host, gai_strerror(rc));
    return NB_ERR_NOT_FOUND;
  }
  nb_err e = NB_ERR_NOT_FOUND;
  for (struct addrinfo *ai = res; ai && e != NB_OK; ai = ai->ai_next)
    e = nb_addr_from_sockaddr(ai->ai_addr, out);
  freeaddrinfo(res);
  return e;
}

/* Writes the accounts to the state file: a temporary file 0600, then rename. */
static void save_state(app *a) {
  if (!a->o->state) return;
  nb_bytes b;
  nb_bytes_init(&b);
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", a->o->state);
  int fd = -1;
  bool ok = nb_client_save_state(a->c, &b) == NB_OK &&
            (fd = nb_privfile_open(tmp, O_WRONLY | O_CREAT | O_TRUNC)) >= 0 &&
            write(fd, b.data, b.len) == (ssize_t)b.len && fsync(fd) == 0;
  if (fd >= 0 && close(fd) != 0) ok = false;
  if (ok && rename(tmp, a->o->state) != 0) ok = false;
  if (!ok) {
    NB_LOG_ERROR("client", "event=state-save-failed file=%s reason=\"%s\"", a->o->state,
                 strerror(errno));
    unlink(tmp);
  }
  if (b.data) memset(b.data, 0, b.len); /* secrets */
  nb_bytes_free(&b);
}

/* ---- sensors: a random walk of every IPSO sensor value ---- */

static const struct {
  uint16_t obj;
  double start, lo, hi, step;
  const char *unit;
} sensors[NSENSORS + 1] = {
    {3303, 21.0, -20.0, 60.0, 0.5, "Cel"},
    {3304, 45.0, 0.0, 100.0, 1.0, "%RH"},
    {3315, 1013.0, 950.0, 1050.0, 0.8, "hPa"},
    {3316, 0.0, 0.0, 3.3, 0.0, "V"}, /* the spi: source only */
};

static nb_err set_num(nb_object *o, uint16_t res, double v) {
  nb_path p = nb_path_res(o->def->id, 0, res);
  nb_value val = nb_value_float(v);
  return nb_store_object_set(o, &p, &val);
}

/* A new reading of the csv:/spi: source into /obj/0/5700 with Min/Max Measured Value. */
static void source_step(app *a, nb_time_ms now) {
  double v;
  nb_err e = nb_sensor_read(a->src, now - a->src_start, &v);
  if (e != NB_OK) {
    NB_LOG_WARN("client", "event=sensor-read-failed obj=%u err=%s", a->src_obj, nb_err_name(e));
    return;
  }
  nb_object *o = nb_client_object(a->c, a->src_obj);
  nb_path p = nb_path_res(a->src_obj, 0, 5700);
  const nb_value *cur = o ? nb_store_object_get(o, &p) : NULL;
  if (!o || (cur && cur->type == NB_VT_FLOAT && cur->v.f == v)) return;
  set_num(o, 5700, v);
  nb_path pmin = nb_path_res(a->src_obj, 0, 5601), pmax = nb_path_res(a->src_obj, 0, 5602);
  const nb_value *mn = nb_store_object_get(o, &pmin), *mx = nb_store_object_get(o, &pmax);
  if (!mn || (mn->type == NB_VT_FLOAT && v < mn->v.f)) set_num(o, 5601, v);
  if (!mx || (mx->type == NB_VT_FLOAT && v > mx->v.f)) set_num(o, 5602, v);
  nb_client_value_changed(a->c, &p, now);
}

static void sensor_step(uv_timer_t *t) {
  app *a = t->data;
  nb_time_ms now = nb_io_loop_now(a->loop);
  if (a->src) {
    source_step(a, now);
    return;
  }
  for (size_t i = 0; i < NSENSORS; i++) {
    nb_object *o = nb_client_object(a->c, sensors[i].obj);
    nb_path p = nb_path_res(sensors[i].obj, 0, 5700);
    const nb_value *cur = o ? nb_store_object_get(o, &p) : NULL;
    if (!cur || cur->type != NB_VT_FLOAT) continue;
    uint32_t r;
    if (nb_random_system(NULL, &r, sizeof r) != NB_OK) continue;
    double v = cur->v.f + sensors[i].step * ((double)r / 4294967295.0 * 2.0 - 1.0);
    v = fmin(sensors[i].hi, fmax(sensors[i].lo, round(v * 100.0) / 100.0));
    set_num(o, 5700, v);
    nb_path pmin = nb_path_res(sensors[i].obj, 0, 5601),
            pmax = nb_path_res(sensors[i].obj, 0, 5602);
    const nb_value *mn = nb_store_object_get(o, &pmin), *mx = nb_store_object_get(o, &pmax);
    if (mn && mn->type == NB_VT_FLOAT && v < mn->v.f) set_num(o, 5601, v);
    if (mx && mx->type == NB_VT_FLOAT && v > mx->v.f) set_num(o, 5602, v);
    nb_client_value_changed(a->c, &p, now);
  }
}

/* Reset Min and Max Measured Values (5605). */
static nb_err sensor_execute(void *user, const nb_path *res, const uint8_t *args, size_t len,
                             nb_time_ms now) {
  app *a = user;
  (void)args, (void)len;
  if (res->ids[2] != 5605) return NB_ERR_UNSUPPORTED;
  nb_object *o = nb_client_object(a->c, res->ids[0]);
  nb_path p = nb_path_res(res->ids[0], res->ids[1], 5700);
  const nb_value *cur = nb_store_object_get(o, &p);
  if (!cur) return NB_ERR_NOT_FOUND;
  double v = cur->v.f;
  nb_err e = set_num(o, 5601, v);
  if (e == NB_OK) e = set_num(o, 5602, v);
  nb_path inst = nb_path_inst(res->ids[0], res->ids[1]);
  nb_client_value_changed(a->c, &inst, now);
  return e;
}

static int add_objects(app *a) {
  nb_client_device_info d = {.manufacturer = "Niobium",
                             .model = "niobium-client",
                             .serial = a->o->endpoint,
                             .firmware_version = "0.1",
                             .software_version = "0.1",
                             .device_type = "generic",
                             .battery_level = -1,
                             .memory_free_kb = -1,
                             .memory_total_kb = -1,
                             .bindings = "UQ"};
  if (nb_client_add_device(a->c, &d) != NB_OK) return -1;
  /* Battery, memory, time zone, clock and error codes of this host (docs/client.md). */
  nb_client_device_source src;
  nb_host_device_init(&a->host);
  nb_host_device_source(&a->host, &src);
  if (nb_client_set_device_source(a->c, &src) != NB_OK) return -1;
  if (a->o->has_location) {
    nb_client_location loc = {.latitude = a->o->lat,
                              .longitude = a->o->lon,
                              .radius = -1,
                              .speed = -1,
                              .timestamp = (int64_t)time(NULL)};
    if (nb_client_add_location(a->c, &loc) != NB_OK) return -1;
  }
  if (strcmp(a->o->objects, "basic") == 0) return 0;
  if (strcmp(a->o->objects, "all") == 0) {
    /* Connectivity Monitoring (Ethernet bearer) and Statistics counting our real datagrams. */
    nb_client_conn_info ci = {.bearer = 41, .rssi_dbm = -60, .link_quality = -1, .cell_id = -1};
    if (nb_client_add_conn_monitoring(a->c, &ci) != NB_OK) return -1;
    if (nb_client_add_conn_stats(a->c) != NB_OK) return -1;
  }
  size_t n = strcmp(a->o->objects, "all") == 0 ? NSENSORS : 2;
  for (size_t i = 0; i <= NSENSORS; i++) {
    if (i == NSENSORS ? a->src_obj != 3316 : i >= n) continue;
    nb_store_hooks h = {.execute = sensor_execute, .user = a};
    const nb_object_def *def = nb_model_object(nb_client_model(a->c), sensors[i].obj);
    nb_object *o = def ? nb_store_object_new(def, &h) : NULL;
    if (!o) return -1;
    nb_value unit = nb_value_none();
    nb_path up = nb_path_res(sensors[i].obj, 0, 5701);
    nb_err e = nb_store_object_add_instance(o, 0);
    if (e == NB_OK) e = set_num(o, 5700, sensors[i].start);
    if (e == NB_OK) e = set_num(o, 5601, sensors[i].start);
    if (e == NB_OK) e = set_num(o, 5602, sensors[i].start);
    if (e == NB_OK) e = set_num(o, 5603, sensors[i].lo);
    if (e == NB_OK) e = set_num(o, 5604, sensors[i].hi);
    if (e == NB_OK) e = nb_value_set_string(&unit, sensors[i].unit, strlen(sensors[i].unit));
    if (e == NB_OK) e = nb_store_object_set(o, &up, &unit);
    nb_value_deinit(&unit);
    if (e != NB_OK) {
      nb_object_free(o);
      return -1;
    }
    if (nb_client_add_object(a->c, o, 0) != NB_OK) return -1;
  }
  return 0;
}

/* Every object of --ddf that no built-in table defines: a store object with instance 0 (an
 * object the client implements keeps its implementation). */
static int host_ddf_objects(app *a, const nb_model *m) {
  for (size_t i = 0; m && i < nb_model_count(m); i++) {
    const nb_object_def *def = nb_model_at(m, i);
    if (nb_model_object(nb_model_builtin(), def->id) || nb_client_object(a->c, def->id)) continue;
    nb_object *o = nb_store_object_new(def, NULL);
    if (!o || nb_store_object_add_instance(o, 0) != NB_OK) {
      nb_object_free(o);
      return -1;
    }
    if (nb_client_add_object(a->c, o, 0) != NB_OK) return -1;
  }
  return 0;
}

/* ---- accounts from the command line ---- */

typedef struct {
  nb_bytes own, secret, server_key;
  uint8_t psk[64];
} key_material;

/* --psk-key-file: hex digits, whitespace at the end ignored, nothing else. */
static int psk_from_file(const char *path, uint8_t *psk, size_t cap, size_t *n) {
  nb_bytes b;
  nb_bytes_init(&b);
  int rc = read_secret_file(path, true, &b) == 0 ? NB_EXIT_OK : NB_EXIT_FAILURE;
  while (rc == NB_EXIT_OK && b.len && strchr(" \t\r\n", b.data[b.len - 1])) b.len--;
  if (rc == NB_EXIT_OK && (nb_bytes_append(&b, (const uint8_t *)"", 1) != NB_OK ||
                           hex_decode((const char *)b.data, psk, cap, n) != 0)) {
    fprintf(stderr, CLI ": %s must hold the PSK as 2..128 hex digits (1..64 bytes)\n", path);
    rc = NB_EXIT_USAGE;
  }
  if (b.data) memset(b.data, 0, b.len);
  nb_bytes_free(&b);
  return rc;
}

static int build_account(const options *o, key_material *k, nb_client_server_params *p) {
  memset(p, 0, sizeof *p);
  p->uri = o->server ? o->server : o->bootstrap;
  p->bootstrap = !o->server;
  p->ssid = (uint16_t)o->ssid;
  p->lifetime = (uint32_t)o->lifetime;
  p->binding = o->binding;
  p->security_mode = 3;
  if (o->psk_id) {
    size_t n;
    if (o->psk_file) {
      int rc = psk_from_file(o->psk_file, k->psk, sizeof k->psk, &n);
      if (rc != NB_EXIT_OK) return rc;
    } else if (!o->psk_hex) {
      fprintf(stderr, CLI ": --psk-identity needs its key: --psk-key-file FILE\n");
      return NB_EXIT_USAGE;
    } else if (hex_decode(o->psk_hex, k->psk, sizeof k->psk, &n) != 0) {
      fprintf(stderr, CLI ": --psk-key needs 1..64 bytes as hex digits\n");
      return NB_EXIT_USAGE;
    }
    p->security_mode = 0;
    p->identity = (const uint8_t *)o->psk_id;
    p->identity_len = strlen(o->psk_id);
    p->secret = k->psk;
    p->secret_len = n;
  } else if (o->rpk_key) {
    if (!o->server_key && !o->server_sid) {
      fprintf(stderr, CLI ": --rpk-key needs --server-key FILE or --server-secure-id ID\n");
      return NB_EXIT_USAGE;
    }
    if (read_secret_file(o->rpk_key, false, &k->secret) ||
        (o->server_key && read_file(o->server_key, &k->server_key)))
      return NB_EXIT_FAILURE;
    if (o->server_sid) nb_bytes_append_str(&k->server_key, o->server_sid);
    p->security_mode = 1;
  } else if (o->cert) {
    if (!o->key || (!o->ca && !o->server_key)) {
      fprintf(stderr, CLI
              ": --cert needs --key and --ca (or --server-key with the server's "
              "certificate)\n");
      return NB_EXIT_USAGE;
    }
    if (read_file(o->cert, &k->own) || read_secret_file(o->key, false, &k->secret) ||
        read_file(o->ca ? o->ca : o->server_key, &k->server_key))
      return NB_EXIT_FAILURE;
    p->security_mode = 2;
    p->trust_anchor = o->ca != NULL;
  }
  if (p->security_mode != 3 && !p->identity) {
    p->identity = k->own.data ? k->own.data : k->secret.data;
    p->identity_len = k->own.data ? k->own.len : k->secret.len;
  }
  if (p->security_mode != 0) {
    p->secret = k->secret.data;
    p->secret_len = k->secret.len;
  }
  p->server_key = k->server_key.data;
  p->server_key_len = k->server_key.len;
  bool secure_uri = strncmp(p->uri, "coaps://", 8) == 0;
  if (secure_uri != (p->security_mode != 3)) {
    fprintf(stderr,
            secure_uri ? CLI
                ": %s needs keys (--psk-identity with --psk-key-file, --rpk-key or "
                "--cert)\n"
                       : CLI ": %s is plain coap://; use coaps:// with keys\n",
            p->uri);
    return NB_EXIT_USAGE;
  }
  return NB_EXIT_OK;
}

/* ---- evidence of signed payloads ---- */

/* DIR/NNNN-KIND-PATH.cose, a new file each time (never over an earlier run's). */
static void on_evidence(void *user, const char *kind, const nb_path *path, const uint8_t *cose,
                        size_t len) {
  app *a = user;
  char p[NB_PATH_STRLEN], name[4096] = "";
  nb_path_format(path, p, sizeof p);
  for (char *q = p; *q; q++)
    if (*q == '/') *q = '_';
  int fd = -1;
  for (unsigned tries = 0; fd < 0 && tries < 100000; tries++) {
    a->evidence_seq++;
    snprintf(name, sizeof name, "%s/%04u-%s-%s.cose", a->o->evidence_dir, a->evidence_seq, kind, p);
    fd = nb_privfile_open(name, O_WRONLY | O_CREAT | O_EXCL);
    if (fd < 0 && errno != EEXIST) break;
  }
  bool ok = fd >= 0;
  for (size_t off = 0; ok && off < len;) {
    ssize_t n = write(fd, cose + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) off += (size_t)n;
  }
  if (fd >= 0 && close(fd) != 0) ok = false;
  if (!ok)
    NB_LOG_ERROR("client", "event=evidence-not-written file=%s error=\"%s\"", name,
                 strerror(errno));
  else
    NB_LOG_INFO("client", "event=evidence kind=%s path=%s file=%s", kind, p, name);
}

/* Unix time minus the loop clock: what the engine signs as iat. */
static int64_t unix_offset(nb_io_loop *loop) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - nb_io_loop_now(loop);
}

/* ---- the loop ---- */

static void on_event(void *user, nb_client_event ev, uint16_t ssid, nb_err err, nb_time_ms now) {
  app *a = user;
  (void)now;
  switch (ev) {
    case NB_CLIENT_EV_REGISTERED:
      a->registered_once = true;
      save_state(a); /* before telling anyone, so the file is there when they look */
      printf("registered ssid=%u\n", ssid);
      fflush(stdout);
      break;
    case NB_CLIENT_EV_GAVE_UP:
      if (!nb_client_bootstrapping(a->c)) {
        fprintf(stderr, CLI ": registration with server %u failed for good (%s)\n", ssid,
                nb_strerror(err));
        a->failed = true;
        nb_io_loop_stop(a->loop);
      }
      break;
    case NB_CLIENT_EV_DEREGISTERED:
      printf("deregistered ssid=%u\n", ssid);
      fflush(stdout);
      break;
    case NB_CLIENT_EV_REBOOT:
    case NB_CLIENT_EV_FACTORY_RESET:
      /* A process cannot reboot its device: leave cleanly and let a supervisor restart it. */
      NB_LOG_WARN("client", "event=%s action=exit",
                  ev == NB_CLIENT_EV_REBOOT ? "reboot" : "factory-reset");
      if (ev == NB_CLIENT_EV_FACTORY_RESET && a->o->state) unlink(a->o->state);
      a->quitting = true;
      break;
    default:
      break;
  }
}

static void begin_quit(app *a) {
  nb_time_ms now = nb_io_loop_now(a->loop);
  if (a->quitting && a->quit_by) {
    nb_io_loop_stop(a->loop); /* second request: at once */
    return;
  }
  a->quitting = true;
  a->quit_by = now + DEREG_GRACE_MS;
  nb_client_deregister(a->c, now);
}

static void on_tick(void *user, nb_time_ms now) {
  app *a = user;
  nb_client_tick(a->c, now);
}

/* Before the loop waits: quit when done, else the engine's deadline (or the quit limit). */
static nb_time_ms next_deadline(void *user, nb_time_ms now) {
  app *a = user;
  if (a->quitting && !a->quit_by) begin_quit(a);
  if (a->quitting && (nb_client_done(a->c) || now >= a->quit_by)) {
    nb_client_close(a->c, now);
    nb_io_loop_stop(a->loop);
    return NB_TIME_NEVER;
  }
  nb_time_ms d = nb_client_next_deadline(a->c);
  return a->quitting ? nb_time_min(d, a->quit_by) : d;
}

/* Datagram out: the socket of the peer's address family. */
static void send_datagram(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  app *a = user;
  nb_io_udp *u = peer->family == NB_ADDR_V6 ? a->udp6 : a->udp4;
  if (u) nb_io_udp_send(u, peer, data, len);
}

static void on_datagram(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  app *a = user;
  nb_client_receive(a->c, peer, data, len, nb_io_loop_now(a->loop));
}

/* An ICMP error for a datagram to peer: the engine says it against the request in flight. */
static void on_unreachable(void *user, const nb_addr *peer, int err) {
  app *a = user;
  nb_client_peer_unreachable(a->c, peer,
                             err == ECONNREFUSED ? "ICMP port unreachable" : strerror(err));
}

static void on_signal(void *user, int signum) {
  app *a = user;
  NB_LOG_INFO("client", "event=signal signum=%d action=deregister", signum);
  begin_quit(a);
}

static void reply(const char *fmt, const char *arg) {
  printf(fmt, arg);
  fflush(stdout);
}

static void cmd_get(app *a, const char *path) {
  nb_path p;
  if (nb_path_parse(path, &p) != NB_OK || p.len != NB_PATH_RESOURCE) {
    reply("error: '%s' is no resource path (/O/I/R)\n", path);
    return;
  }
  nb_object *o = nb_client_object(a->c, p.ids[0]);
  nb_records r;
  nb_records_init(&r);
  if (!o || o->ops->read(o, p.ids[1], p.ids[2], &r, nb_io_loop_now(a->loop)) != NB_OK) {
    reply("error: %s not found\n", path);
  } else {
    for (size_t i = 0; i < r.len; i++) {
      char text[256];
      if (nb_cose_secret_in(&r.items[i])) /* a key is never printed, not even here */
        snprintf(text, sizeof text, "(secret key, not shown)");
      else if (nb_value_format(&r.items[i].value, text, sizeof text) != NB_OK)
        strcpy(text, "...");
      printf("%s = %s\n", path, text);
    }
    fflush(stdout);
  }
  nb_records_deinit(&r);
}

static void cmd_set(app *a, const char *path, const char *text) {
  nb_path p;
  if (nb_path_parse(path, &p) != NB_OK || p.len < NB_PATH_RESOURCE) {
    reply("error: '%s' is no resource path (/O/I/R)\n", path);
    return;
  }
  nb_object *o = nb_client_object(a->c, p.ids[0]);
  nb_value v = nb_value_none();
  nb_err e = o ? nb_value_set_string(&v, text, strlen(text)) : NB_ERR_NOT_FOUND;
  if (e == NB_OK) e = nb_store_object_set(o, &p, &v);
  nb_value_deinit(&v);
  if (e != NB_OK) {
    printf("error: cannot set %s: %s\n", path, nb_strerror(e));
    fflush(stdout);
    return;
  }
  nb_client_value_changed(a->c, &p, nb_io_loop_now(a->loop));
  reply("ok\n", "");
}

/* Whether this device has what p names: an object, an instance, a resource (with a value). */
static bool path_exists(app *a, const nb_path *p) {
  nb_object *o = nb_client_object(a->c, p->ids[0]);
  if (!o || p->len == NB_PATH_OBJECT) return o != NULL;
  uint16_t ids[1];
  size_t n = 0;
  if (o->ops->resources(o, p->ids[1], ids, 1, &n) != NB_OK) return false;
  if (p->len == NB_PATH_INSTANCE) return true;
  nb_records r;
  nb_records_init(&r);
  bool ok = o->ops->read(o, p->ids[1], p->ids[2], &r, nb_io_loop_now(a->loop)) == NB_OK;
  nb_records_deinit(&r);
  return ok;
}

static void cmd_send(app *a, char *rest) {
  nb_path paths[16];
  size_t n = 0;
  for (char *tok = strtok(rest, " \t"); tok && n < 16; tok = strtok(NULL, " \t")) {
    if (nb_path_parse(tok, &paths[n]) != NB_OK || paths[n].len == 0) {
      reply("error: send: '%s' is no LwM2M path (/O, /O/I, /O/I/R)\n", tok);
      return;
    }
    if (!path_exists(a, &paths[n])) {
      reply(
          "error: send: %s not found on this device (no such object, instance or resource; "
          "`get` reads a resource)\n",
          tok);
      return;
    }
    n++;
  }
  nb_err e = n ? nb_client_send(a->c, 0, paths, n, nb_io_loop_now(a->loop)) : NB_ERR_INVAL;
  if (e == NB_OK)
    printf("ok\n");
  else if (e == NB_ERR_NOT_FOUND) /* every path exists: no server took it */
    printf(
        "error: send: no registered server accepts Send now (muted, or not registered: see "
        "`status`)\n");
  else if (e == NB_ERR_UNSUPPORTED)
    printf("error: send: LwM2M 1.0 has no Send (--version 1.1)\n");
  else
    printf("error: send: %s\n", nb_strerror(e));
  fflush(stdout);
}

static void cmd_status(app *a) {
  for (uint16_t ssid = 1; ssid < 65535; ssid++) {
    nb_client_srv_state st;
    char loc[64] = "";
    if (nb_client_server_state(a->c, ssid, &st, loc, sizeof loc) != NB_OK) continue;
    printf("server %u: %s %s\n", ssid, nb_client_srv_state_name(st), loc);
  }
  printf("observations: %zu%s\n", nb_client_observation_count(a->c),
         nb_client_bootstrapping(a->c) ? " (bootstrapping)" : "");
  printf("dropped from strangers: %llu\n", (unsigned long long)nb_client_foreign_dropped(a->c));
  fflush(stdout);
}

static void run_command(app *a, char *line) {
  char *cmd = strtok(line, " \t");
  if (!cmd) return;
  char *rest = strtok(NULL, "");
  char *arg1 = rest ? strtok(rest, " \t") : NULL;
  char *arg2 = arg1 ? strtok(NULL, "") : NULL;
  while (arg2 && (*arg2 == ' ' || *arg2 == '\t')) arg2++;
  if (strcmp(cmd, "set") == 0 && arg1 && arg2 && *arg2) {
    cmd_set(a, arg1, arg2);
  } else if (strcmp(cmd, "get") == 0 && arg1) {
    cmd_get(a, arg1);
  } else if (strcmp(cmd, "update") == 0) {
    nb_err e = nb_client_update(a->c, 0, nb_io_loop_now(a->loop));
    reply(e == NB_OK ? "ok\n" : "error: not registered\n", "");
  } else if (strcmp(cmd, "send") == 0 && arg1) {
    if (arg2) arg1[strlen(arg1)] = ' '; /* rejoin the paths */
    cmd_send(a, arg1);
  } else if (strcmp(cmd, "status") == 0) {
    cmd_status(a);
  } else if (strcmp(cmd, "quit") == 0 || strcmp(cmd, "exit") == 0) {
    begin_quit(a);
  } else {
    reply("commands: set PATH VALUE | get PATH | update | send PATH... | status | quit%s\n", "");
  }
}

static void on_input(uv_poll_t *h, int status, int events) {
  app *a = h->data;
  (void)events;
  ssize_t n = status < 0 ? -1 : read(0, a->line + a->line_len, sizeof a->line - 1 - a->line_len);
  if (n <= 0) { /* end of input: stop reading, keep running (signals still stop us) */
    uv_poll_stop(h);
    return;
  }
  a->line_len += (size_t)n;
  a->line[a->line_len] = 0;
  char *nl;
  while ((nl = strchr(a->line, '\n')) != NULL) {
    *nl = 0;
    run_command(a, a->line);
    size_t used = (size_t)(nl + 1 - a->line);
    memmove(a->line, nl + 1, a->line_len - used + 1);
    a->line_len -= used;
  }
  if (a->line_len == sizeof a->line - 1) a->line_len = 0; /* an overlong line is dropped */
}

static int load_state(app *a) {
  if (!a->o->state || access(a->o->state, F_OK) != 0) return 0;
  nb_bytes b;
  nb_bytes_init(&b);
  int rc = read_file(a->o->state, &b);
  nb_err e = rc == 0 ? nb_client_load_state(a->c, b.data, b.len) : NB_ERR_IO;
  if (b.data) memset(b.data, 0, b.len);
  nb_bytes_free(&b);
  if (e != NB_OK) {
    fprintf(stderr, CLI ": %s is no usable state file (%s); remove it to start afresh\n",
            a->o->state, nb_strerror(e));
    return -1;
  }
  NB_LOG_INFO("client", "event=state-loaded file=%s", a->o->state);
  return 1;
}

static bool parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out);

/* --factory FILE: the accounts the device leaves the factory with (its keys are wiped from
 * memory once the engine holds them; the engine never quotes them in errors). */
static int load_factory(app *a) {
  nb_bytes b;
  nb_bytes_init(&b);
  char err[256] = "";
  int rc = read_secret_file(a->o->factory, false, &b);
  nb_err e = rc == 0 ? nb_client_load_factory(a->c, b.data, b.len, err, sizeof err) : NB_ERR_IO;
  if (b.data) memset(b.data, 0, b.len);
  nb_bytes_free(&b);
  if (rc != 0) return NB_EXIT_FAILURE;
  if (e != NB_OK) {
    fprintf(stderr, CLI ": %s: %s; fix the file (docs/client.md describes it)\n", a->o->factory,
            err[0] ? err : nb_strerror(e));
    return NB_EXIT_USAGE;
  }
  NB_LOG_INFO("client", "event=factory-loaded file=%s", a->o->factory);
  return NB_EXIT_OK;
}

/* --sensors csv:FILE:COLUMN or spi:DEV[:CH]: opens the source (a clear error when it cannot). */
static int open_source(app *a) {
  const char *spec = a->o->sensors;
  char buf[1024], err[256];
  if (strlen(spec) >= sizeof buf) {
    fprintf(stderr, CLI ": --sensors value too long\n");
    return NB_EXIT_USAGE;
  }
  if (strncmp(spec, "csv:", 4) == 0) {
    snprintf(buf, sizeof buf, "%s", spec + 4);
    char *col = strrchr(buf, ':');
    *col++ = 0;
    nb_time_ms iv = (nb_time_ms)a->o->sensor_interval * 1000;
    if (nb_sensor_csv_open(buf, col, iv, &a->src, err, sizeof err) != NB_OK) {
      fprintf(stderr, CLI ": --sensors csv: %s%s%s\n", strncmp(err, "line", 4) ? "" : buf,
              strncmp(err, "line", 4) ? "" : " ", err);
      return NB_EXIT_FAILURE;
    }
    a->src_obj = 3303;
  } else if (strncmp(spec, "spi:", 4) == 0) {
    snprintf(buf, sizeof buf, "%s", spec + 4);
    unsigned long ch = 0;
    char *colon = strrchr(buf, ':');
    if (colon) {
      if (!parse_ulong(colon + 1, 0, 7, &ch)) {
        fprintf(stderr, CLI ": --sensors spi: channel '%s' must be 0..7\n", colon + 1);
        return NB_EXIT_USAGE;
      }
      *colon = 0;
    }
    nb_err e = nb_spidev_open(&a->spi, buf);
    if (e != NB_OK) {
      fprintf(stderr,
              CLI ": cannot open SPI device %s: %s (is spidev enabled, e.g. dtparam=spi=on?)\n",
              buf, strerror(errno));
      return NB_EXIT_FAILURE;
    }
    if (nb_sensor_mcp300x_new(nb_spidev_transfer, &a->spi, (unsigned)ch, 3.3, &a->src) != NB_OK)
      return NB_EXIT_FAILURE;
    a->src_obj = 3316;
  }
  return NB_EXIT_OK;
}

static int run(const options *o) {
  app a;
  memset(&a, 0, sizeof a);
  a.o = o;
  key_material k;
  memset(&k, 0, sizeof k);
  nb_bytes_init(&k.own);
  nb_bytes_init(&k.secret);
  nb_bytes_init(&k.server_key);
  nb_client_server_params p;
  memset(&p, 0, sizeof p);
  p.uri = o->factory ? o->factory : "";
  int rc = o->factory ? NB_EXIT_OK : build_account(o, &k, &p);
  bool handles = false;
  nb_model *model = NULL;
  if (rc == NB_EXIT_OK && o->ddf.n) {
    model = nb_model_new();
    rc = model ? nb_ddf_opts_load(&o->ddf, CLI, model, NULL) : NB_EXIT_FAILURE;
  }
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.model = model;
  cfg.endpoint = o->endpoint;
  cfg.lwm2m_version = o->version;
  cfg.send = send_datagram;
  cfg.send_user = &a;
  cfg.on_event = on_event;
  cfg.event_user = &a;
  cfg.resolve = resolve;
  cfg.queue_timeout = (nb_time_ms)o->queue_timeout * 1000;
  cfg.signed_bootstrap = o->signed_bootstrap;
  if (o->evidence_dir) {
    cfg.evidence = on_evidence;
    cfg.evidence_user = &a;
  }
  a.spi.fd = -1;
  nb_addr local4, local6;
  nb_addr_parse("0.0.0.0", 0, &local4);
  nb_addr_parse("[::]", 0, &local6);
  nb_io_udp_config ucfg;
  nb_io_udp_config_default(&ucfg);
  ucfg.batch = 1; /* a device gets a trickle of datagrams: 64 KiB, not 1 MiB, of buffer */
  if (rc == NB_EXIT_OK && nb_io_loop_new(&a.loop) != NB_OK) rc = NB_EXIT_FAILURE;
  if (rc == NB_EXIT_OK) cfg.unix_offset_ms = unix_offset(a.loop);
  if (rc == NB_EXIT_OK && nb_client_new(&cfg, &a.c) != NB_OK) rc = NB_EXIT_FAILURE;
  if (rc == NB_EXIT_OK) {
    /* Both families: a bootstrap server may hand out a server of either. */
    bool v4 = nb_io_udp_open(a.loop, &local4, &ucfg, &a.udp4) == NB_OK;
    bool v6 = nb_io_udp_open(a.loop, &local6, &ucfg, &a.udp6) == NB_OK;
    if (!v4 && !v6) {
      fprintf(stderr, CLI ": cannot open a UDP socket\n");
      rc = NB_EXIT_FAILURE;
    }
    if (v4) nb_io_udp_set_receiver(a.udp4, on_datagram, &a);
    if (v6) nb_io_udp_set_receiver(a.udp6, on_datagram, &a);
    if (v4) nb_io_udp_report_errors(a.udp4, on_unreachable, &a);
    if (v6) nb_io_udp_report_errors(a.udp6, on_unreachable, &a);
  }
  int loaded = 0;
  if (rc == NB_EXIT_OK) rc = open_source(&a);
  if (rc == NB_EXIT_OK && add_objects(&a) != 0) rc = NB_EXIT_FAILURE;
  if (rc == NB_EXIT_OK && o->firmware && client_fw_add(a.c, a.loop, &o->fw, &a.fw) != 0)
    rc = NB_EXIT_FAILURE;
  if (rc == NB_EXIT_OK && host_ddf_objects(&a, model) != 0) rc = NB_EXIT_FAILURE;
  if (rc == NB_EXIT_OK && (loaded = load_state(&a)) < 0) rc = NB_EXIT_FAILURE;
  if (rc == NB_EXIT_OK && !loaded && o->factory) rc = load_factory(&a);
  if (rc == NB_EXIT_OK && !loaded && !o->factory && nb_client_add_server(a.c, &p) != NB_OK) {
    fprintf(stderr, CLI ": the server account is not valid (check the URI)\n");
    rc = NB_EXIT_USAGE;
  }
  if (rc == NB_EXIT_OK && nb_io_deadline_new(a.loop, next_deadline, on_tick, &a, &a.deadline))
    rc = NB_EXIT_FAILURE;
  if (rc == NB_EXIT_OK) {
    uv_loop_t *uv = nb_io_loop_uv(a.loop);
    uv_timer_init(uv, &a.sensor_timer);
    a.sensor_timer.data = &a;
    handles = true;
    a.src_start = nb_io_loop_now(a.loop);
    if (a.src) source_step(&a, a.src_start);
    if (strcmp(o->objects, "basic") != 0 && strcmp(o->sensors, "none") != 0) {
      uint64_t ms = o->sensor_interval * 1000;
      uv_timer_start(&a.sensor_timer, sensor_step, ms, ms);
    }
    if ((o->prompt || isatty(0)) && uv_poll_init(uv, &a.input, 0) == 0) {
      a.input.data = &a;
      a.input_on = true;
      uv_poll_start(&a.input, UV_READABLE, on_input);
    }
    nb_io_loop_on_signals(a.loop, on_signal, &a);
    char l4[NB_ADDR_STRLEN] = "-", l6[NB_ADDR_STRLEN] = "-";
    nb_addr la;
    if (a.udp4 && nb_io_udp_local_addr(a.udp4, &la) == NB_OK) nb_addr_format(&la, l4, sizeof l4);
    if (a.udp6 && nb_io_udp_local_addr(a.udp6, &la) == NB_OK) nb_addr_format(&la, l6, sizeof l6);
    NB_LOG_INFO("client", "event=started ep=%s local4=%s local6=%s", o->endpoint, l4, l6);
    if (nb_client_start(a.c, nb_io_loop_now(a.loop)) != NB_OK) {
      fprintf(stderr, CLI ": no usable server account (does the host of %s%s resolve?)\n",
              o->factory ? "each server in " : "", p.uri);
      rc = NB_EXIT_FAILURE;
    }
  }
  if (rc == NB_EXIT_OK) {
    nb_io_loop_run(a.loop);
    if (a.failed) rc = NB_EXIT_FAILURE;
  }
  nb_io_deadline_close(a.deadline);
  if (handles) {
    uv_close((uv_handle_t *)&a.sensor_timer, NULL);
    if (a.input_on) uv_close((uv_handle_t *)&a.input, NULL);
  }
  if (a.udp4) nb_io_udp_close(a.udp4);
  if (a.udp6) nb_io_udp_close(a.udp6);
  client_fw_free(a.fw);
  nb_client_free(a.c);
  nb_model_free(model);
  nb_sensor_free(a.src);
  nb_spidev_close(&a.spi);
  if (a.loop) nb_io_loop_free(a.loop);
  if (k.secret.data) memset(k.secret.data, 0, k.secret.len);
  memset(k.psk, 0, sizeof k.psk);
  nb_bytes_free(&k.own);
  nb_bytes_free(&k.secret);
  nb_bytes_free(&k.server_key);
  return rc;
}

/* ---- options ---- */

static int bad(const char *msg, const char *arg) {
  fprintf(stderr, CLI ": ");
  fprintf(stderr, msg, arg);
  fprintf(stderr, " (see niobium client --help)\n");
  return NB_EXIT_USAGE;
}

static bool parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi || s[0] == '-') return false;
  *out = v;
  return true;
}

/* "LAT,LON" in degrees. */
static bool parse_location(const char *s, double *lat, double *lon) {
  char *end;
  errno = 0;
  *lat = strtod(s, &end);
  if (errno || end == s || *end != ',') return false;
  const char *rest = end + 1;
  *lon = strtod(rest, &end);
  return !errno && end != rest && !*end && isfinite(*lat) && isfinite(*lon) && fabs(*lat) <= 90 &&
         fabs(*lon) <= 180;
}

enum { OPT_FW_DIR = 1000, OPT_FW_TRUST, OPT_FW_UNSIGNED, OPT_FW_HOOK, OPT_FW_MAX, OPT_FW_CA };

/* The firmware options; false when ch is not one. */
static bool fw_option(int ch, const char *arg, client_fw_options *fw, int *rc) {
  unsigned long v;
  *rc = 0;
  switch (ch) {
    case OPT_FW_DIR:
      fw->dir = arg;
      return true;
    case OPT_FW_TRUST:
      fw->trust = arg;
      return true;
    case OPT_FW_UNSIGNED:
      fw->allow_unsigned = true;
      return true;
    case OPT_FW_HOOK:
      fw->hook = arg;
      return true;
    case OPT_FW_CA:
      fw->ca = arg;
      return true;
    case OPT_FW_MAX:
      if (parse_ulong(arg, 1, 0xFFFFFFFFUL, &v))
        fw->max_size = v;
      else
        *rc = bad("--firmware-max-size '%s' must be 1..4294967295 bytes", arg);
      return true;
    default:
      return false;
  }
}

int nb_cmd_client(int argc, char **argv) {
  static const struct option opts[] = {
      {"server", required_argument, NULL, 's'},
      {"bootstrap", required_argument, NULL, 'b'},
      {"endpoint", required_argument, NULL, 'e'},
      {"ssid", required_argument, NULL, 'i'},
      {"psk-identity", required_argument, NULL, 'I'},
      {"psk-key", required_argument, NULL, 'K'},
      {"psk-key-file", required_argument, NULL, 'P'},
      {"rpk-key", required_argument, NULL, 'r'},
      {"server-key", required_argument, NULL, 'S'},
      {"server-secure-id", required_argument, NULL, 'D'},
      {"cert", required_argument, NULL, 'c'},
      {"key", required_argument, NULL, 'k'},
      {"ca", required_argument, NULL, 'a'},
      {"lifetime", required_argument, NULL, 't'},
      {"binding", required_argument, NULL, 'B'},
      {"objects", required_argument, NULL, 'o'},
      {"sensors", required_argument, NULL, 'n'},
      {"sensor-interval", required_argument, NULL, 'N'},
      {"queue-timeout", required_argument, NULL, 'Q'},
      {"state", required_argument, NULL, 'f'},
      {"factory", required_argument, NULL, 'F'},
      {"version", required_argument, NULL, 'v'},
      {"prompt", no_argument, NULL, 'p'},
      {"signed-bootstrap", no_argument, NULL, 'G'},
      {"ddf", required_argument, NULL, 'd'},
      {"location", required_argument, NULL, 'L'},
      {"evidence-dir", required_argument, NULL, 'E'},
      {"firmware-dir", required_argument, NULL, OPT_FW_DIR},
      {"firmware-trust", required_argument, NULL, OPT_FW_TRUST},
      {"firmware-allow-unsigned", no_argument, NULL, OPT_FW_UNSIGNED},
      {"firmware-hook", required_argument, NULL, OPT_FW_HOOK},
      {"firmware-max-size", required_argument, NULL, OPT_FW_MAX},
      {"firmware-ca", required_argument, NULL, OPT_FW_CA},
      {"log-level", required_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  options o = {.binding = "U",
               .objects = "ipso",
               .sensors = "random",
               .version = "1.1",
               .lifetime = 86400,
               .ssid = 1,
               .sensor_interval = 10,
               .queue_timeout = 93};
  static char psk_hex[2 * 64 + 2];
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    int fw_rc;
    if (fw_option(ch, optarg, &o.fw, &fw_rc)) {
      if (fw_rc) return fw_rc;
      continue;
    }
    switch (ch) {
      case 's':
        o.server = optarg;
        break;
      case 'b':
        o.bootstrap = optarg;
        break;
      case 'e':
        o.endpoint = optarg;
        break;
      case 'I':
        o.psk_id = optarg;
        break;
      case 'K':
        /* Our copy; the argument is blanked so later readers of /proc/PID/cmdline miss it
         * (those before cannot be helped: --psk-key-file keeps it out entirely). */
        if (strlen(optarg) >= sizeof psk_hex) return bad("--psk-key is too long%s", "");
        snprintf(psk_hex, sizeof psk_hex, "%s", optarg);
        memset(optarg, 'x', strlen(optarg));
        o.psk_hex = psk_hex;
        break;
      case 'P':
        o.psk_file = optarg;
        break;
      case 'r':
        o.rpk_key = optarg;
        break;
      case 'S':
        o.server_key = optarg;
        break;
      case 'D':
        o.server_sid = optarg;
        break;
      case 'c':
        o.cert = optarg;
        break;
      case 'k':
        o.key = optarg;
        break;
      case 'a':
        o.ca = optarg;
        break;
      case 'B':
        o.binding = optarg;
        break;
      case 'o':
        o.objects = optarg;
        break;
      case 'n':
        o.sensors = optarg;
        break;
      case 'f':
        o.state = optarg;
        break;
      case 'F':
        o.factory = optarg;
        break;
      case 'v':
        o.version = optarg;
        break;
      case 'p':
        o.prompt = true;
        break;
      case 'L':
        if (!parse_location(optarg, &o.lat, &o.lon))
          return bad("--location '%s' must be LAT,LON in degrees (-90..90, -180..180)", optarg);
        o.has_location = true;
        break;
      case 'd':
        if (nb_ddf_opts_add(&o.ddf, CLI, optarg) != NB_EXIT_OK) return NB_EXIT_USAGE;
        break;
      case 'G':
        o.signed_bootstrap = true;
        break;
      case 'E':
        o.evidence_dir = optarg;
        break;
      case 'i':
        if (!parse_ulong(optarg, 1, 65534, &o.ssid)) return bad("--ssid must be 1..65534", "");
        break;
      case 't':
        if (!parse_ulong(optarg, 1, 0xFFFFFFFFUL, &o.lifetime))
          return bad("--lifetime '%s' must be a positive number of seconds", optarg);
        break;
      case 'Q':
        if (!parse_ulong(optarg, 1, 86400, &o.queue_timeout))
          return bad("--queue-timeout '%s' must be 1..86400 seconds", optarg);
        break;
      case 'N':
        if (!parse_ulong(optarg, 1, 86400, &o.sensor_interval))
          return bad("--sensor-interval '%s' must be 1..86400 seconds", optarg);
        break;
      case 'l': {
        nb_log_level lvl;
        if (nb_log_level_parse(optarg, &lvl) != NB_OK)
          return bad("unknown log level '%s' (error, warn, info, debug)", optarg);
        nb_log_set_level(lvl);
        break;
      }
      case 'h':
        usage(stdout);
        return NB_EXIT_OK;
      default:
        usage(stderr);
        return NB_EXIT_USAGE;
    }
  }
  if (optind < argc) return bad("unexpected argument '%s'", argv[optind]);
  if (!o.endpoint || !o.endpoint[0]) return bad("--endpoint NAME is required%s", "");
  if ((o.server != NULL) + (o.bootstrap != NULL) + (o.factory != NULL) != 1)
    return bad("give exactly one of --server, --bootstrap and --factory%s", "");
  if (o.factory && (o.psk_id || o.psk_hex || o.psk_file || o.rpk_key || o.server_key ||
                    o.server_sid || o.cert || o.key || o.ca))
    return bad("--factory %s holds the keys: drop the key options", o.factory);
  const char *uri = o.server ? o.server : o.bootstrap;
  if (uri && strncmp(uri, "coap://", 7) != 0 && strncmp(uri, "coaps://", 8) != 0)
    return bad("'%s' must start with coap:// or coaps://", uri);
  if (strcmp(o.binding, "U") != 0 && strcmp(o.binding, "UQ") != 0)
    return bad("--binding '%s' must be U or UQ", o.binding);
  if (strcmp(o.objects, "basic") != 0 && strcmp(o.objects, "ipso") != 0 &&
      strcmp(o.objects, "all") != 0)
    return bad("--objects '%s' must be basic, ipso or all", o.objects);
  if (strcmp(o.sensors, "random") != 0 && strcmp(o.sensors, "none") != 0 &&
      !(strncmp(o.sensors, "csv:", 4) == 0 && strchr(o.sensors + 4, ':')) &&
      !(strncmp(o.sensors, "spi:", 4) == 0 && o.sensors[4]))
    return bad("--sensors '%s' must be random, none, csv:FILE:COLUMN or spi:/dev/spidevB.C[:CH]",
               o.sensors);
  if (strcmp(o.objects, "basic") == 0 && strcmp(o.sensors, "random") != 0 &&
      strcmp(o.sensors, "none") != 0)
    return bad("--sensors %s needs --objects ipso or all", o.sensors);
  if (strcmp(o.version, "1.0") != 0 && strcmp(o.version, "1.1") != 0)
    return bad("--version '%s' must be 1.0 or 1.1", o.version);
  int modes =
      (o.psk_id || o.psk_hex || o.psk_file) + (o.rpk_key != NULL) + (o.cert || o.key || o.ca);
  if (modes > 1) return bad("use one of PSK, --rpk-key and --cert%s", "");
  if ((o.psk_hex || o.psk_file) && !o.psk_id)
    return bad("--psk-key and --psk-key-file need --psk-identity%s", "");
  if (o.psk_hex && o.psk_file) return bad("give the PSK once: --psk-key-file or --psk-key%s", "");
  if (o.psk_hex)
    NB_LOG_WARN("client",
                "event=psk-on-command-line hint=\"any local user can read it from the "
                "process list; use --psk-key-file\"");
  if (o.server_sid && o.server_key)
    return bad("--server-key and --server-secure-id exclude each other%s", "");
  if (o.signed_bootstrap && o.server)
    return bad("--signed-bootstrap needs a bootstrap server (--bootstrap or --factory)%s", "");
  if (o.signed_bootstrap && o.bootstrap && !o.rpk_key && !o.cert)
    return bad(
        "--signed-bootstrap needs a key pair to verify the bootstrap server with: "
        "--rpk-key or --cert%s",
        "");
  o.firmware = o.fw.dir || strcmp(o.objects, "all") == 0;
  if (!o.firmware && (o.fw.trust || o.fw.hook || o.fw.allow_unsigned || o.fw.max_size || o.fw.ca))
    return bad("the --firmware-* options need --firmware-dir DIR (or --objects all)%s", "");
  struct stat st;
  if (o.fw.dir && (stat(o.fw.dir, &st) != 0 || !S_ISDIR(st.st_mode)))
    return bad("--firmware-dir '%s' is not an existing directory (create it first)", o.fw.dir);
  if (o.evidence_dir && (stat(o.evidence_dir, &st) != 0 || !S_ISDIR(st.st_mode)))
    return bad("--evidence-dir '%s' is not an existing directory (create it first)",
               o.evidence_dir);
  if (o.evidence_dir && access(o.evidence_dir, W_OK | X_OK) != 0)
    return bad("--evidence-dir '%s' is not writable", o.evidence_dir);
  return run(&o);
}
