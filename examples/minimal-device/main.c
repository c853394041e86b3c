/* A minimal LwM2M device on the Niobium client library: it registers with one server (NoSec),
 * serves Security (0), Server (1), Device (3) and a Temperature object (3303) whose Sensor Value
 * (/3303/0/5700) is read from a sensor file, and de-registers on SIGINT/SIGTERM. One UDP socket,
 * one poll loop: this is all the I/O a device needs around the sans-I/O engine.
 *
 *   minimal-device coap://192.0.2.10:5683 my-device-1 [SENSOR_FILE]
 *
 * SENSOR_FILE holds the temperature in millidegrees Celsius, as Linux's thermal zones give it
 * (default /sys/class/thermal/thermal_zone0/temp); it is read at every read of /3303/0/5700 and
 * every 10 s, and observers are told when the value changes. Built against the installed
 * library: `make` here (pkg-config niobium-client); the project's own build also makes it with
 * the feature switches of cmake/device-minimal.cmake (docs/client.md, "The device build"). */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "niobium/client.h"

#define SENSOR_PERIOD_MS 10000

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

typedef struct {
  int fd;
  const char *sensor_file;
  double last_celsius;
  bool has_last;
} device;

static void dev_send(void *user, const nb_addr *peer, const uint8_t *data, size_t len) {
  device *d = user;
  struct sockaddr_storage sa;
  size_t salen;
  if (nb_addr_to_sockaddr(peer, (struct sockaddr *)&sa, sizeof sa, &salen) != NB_OK) return;
  /* UDP may drop; the engine retransmits what must arrive. */
  (void)sendto(d->fd, data, len, 0, (struct sockaddr *)&sa, (socklen_t)salen);
}

/* The sensor value in degrees Celsius, or NB_ERR_IO when the file cannot be read. */
static nb_err sensor_read(const device *d, double *celsius) {
  FILE *f = fopen(d->sensor_file, "r");
  if (!f) return NB_ERR_IO;
  long milli;
  int n = fscanf(f, "%ld", &milli);
  fclose(f);
  if (n != 1) return NB_ERR_IO;
  *celsius = (double)milli / 1000.0;
  return NB_OK;
}

/* Reads of /3303/0/5700 come from the sensor; every other value is the one stored. */
static nb_err temp_read(void *user, const nb_path *res, nb_value *out, nb_time_ms now) {
  double celsius;
  (void)now;
  if (res->ids[2] != 5700) return NB_ERR_NOT_FOUND;
  nb_err e = sensor_read(user, &celsius);
  if (e == NB_OK) *out = nb_value_float(celsius);
  return e;
}

static nb_err add_temperature(nb_client *c, device *d) {
  nb_store_hooks hooks = {.read = temp_read, .user = d};
  nb_object *o = nb_store_object_new(nb_model_object(nb_client_model(c), 3303), &hooks);
  if (!o) return NB_ERR_NOMEM;
  nb_value unit = nb_value_none();
  nb_path unit_path = nb_path_res(3303, 0, 5701);
  nb_err e = nb_store_object_add_instance(o, 0);
  if (e == NB_OK) e = nb_value_set_string(&unit, "Cel", 3);
  if (e == NB_OK) e = nb_store_object_set(o, &unit_path, &unit);
  nb_value_deinit(&unit);
  if (e != NB_OK) {
    nb_object_free(o);
    return e;
  }
  return nb_client_add_object(c, o, nb_time_now_ms()); /* owns o */
}

/* One line on stdout per registration event, for whoever watches the device. */
static void on_event(void *user, nb_client_event ev, uint16_t ssid, nb_err err, nb_time_ms now) {
  static const char *const names[] = {"registered",   "updated", "registration-failed", "gave-up",
                                      "deregistered", "reboot",  "factory-reset"};
  (void)user, (void)now;
  printf("minimal-device: %s ssid=%u%s%s\n", names[ev], ssid, err ? " err=" : "",
         err ? nb_strerror(err) : "");
  fflush(stdout);
}

static nb_client *device_client_new(device *d, const char *uri, const char *endpoint) {
  nb_client_config cfg;
  nb_client_config_default(&cfg);
  cfg.endpoint = endpoint;
  cfg.send = dev_send;
  cfg.send_user = d;
  cfg.on_event = on_event;
  nb_client *c;
  if (nb_client_new(&cfg, &c) != NB_OK) return NULL;
  nb_client_device_info info = {.manufacturer = "Niobium example",
                                .model = "minimal-device",
                                .serial = endpoint,
                                .firmware_version = "1.0",
                                .battery_level = -1,
                                .memory_free_kb = -1,
                                .memory_total_kb = -1};
  nb_client_server_params srv = {.uri = uri, .ssid = 1, .lifetime = 300};
  nb_err e = nb_client_add_device(c, &info);
  if (e == NB_OK) e = add_temperature(c, d);
  if (e == NB_OK) e = nb_client_add_server(c, &srv);
  if (e == NB_OK) e = nb_client_start(c, nb_time_now_ms());
  if (e != NB_OK) {
    fprintf(stderr, "minimal-device: cannot start: %s\n", nb_strerror(e));
    nb_client_free(c);
    return NULL;
  }
  return c;
}

static int open_socket(const char *uri) {
  nb_addr peer;
  if (strncmp(uri, "coap://", 7) != 0 || nb_addr_parse(uri + 7, 5683, &peer) != NB_OK) {
    fprintf(stderr, "minimal-device: '%s' is not coap://NUMERIC-HOST[:PORT]\n", uri);
    return -1;
  }
  int fd = socket(peer.family == NB_ADDR_V6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) perror("minimal-device: socket");
  return fd;
}

/* Tells observers of the temperature when the sensor's value has moved. */
static void sensor_poll(nb_client *c, device *d, nb_time_ms now) {
  double celsius;
  if (sensor_read(d, &celsius) != NB_OK) return;
  if (d->has_last && celsius == d->last_celsius) return;
  d->last_celsius = celsius;
  d->has_last = true;
  nb_path p = nb_path_res(3303, 0, 5700);
  nb_client_value_changed(c, &p, now);
}

/* One datagram from the socket into the engine. */
static void receive_one(nb_client *c, device *d) {
  uint8_t buf[1500];
  struct sockaddr_storage sa;
  socklen_t salen = sizeof sa;
  ssize_t n = recvfrom(d->fd, buf, sizeof buf, 0, (struct sockaddr *)&sa, &salen);
  nb_addr from;
  if (n < 0 || nb_addr_from_sockaddr((struct sockaddr *)&sa, &from) != NB_OK) return;
  nb_client_receive(c, &from, buf, (size_t)n, nb_time_now_ms());
}

/* Runs until stopped, then de-registers (for at most the engine's retransmissions). */
static void run(nb_client *c, device *d) {
  nb_time_ms next_sensor = 0;
  bool leaving = false;
  while (!(leaving && nb_client_done(c))) {
    nb_time_ms now = nb_time_now_ms();
    if (stop_requested && !leaving) {
      leaving = true;
      nb_client_deregister(c, now);
      continue;
    }
    if (now >= next_sensor) {
      sensor_poll(c, d, now);
      next_sensor = now + SENSOR_PERIOD_MS;
    }
    nb_time_ms deadline = nb_time_min(nb_client_next_deadline(c), next_sensor);
    if (deadline <= now) {
      nb_client_tick(c, now);
      continue;
    }
    struct pollfd pfd = {.fd = d->fd, .events = POLLIN};
    int rc = poll(&pfd, 1, (int)nb_time_min(deadline - now, 1000));
    if (rc > 0) receive_one(c, d);
    if (rc < 0 && errno != EINTR) break;
  }
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr,
            "usage: minimal-device coap://HOST:PORT ENDPOINT [SENSOR_FILE]\n"
            "  SENSOR_FILE: millidegrees Celsius (default "
            "/sys/class/thermal/thermal_zone0/temp)\n");
    return 2;
  }
  device d = {.sensor_file = argc == 4 ? argv[3] : "/sys/class/thermal/thermal_zone0/temp"};
  d.fd = open_socket(argv[1]);
  if (d.fd < 0) return 1;
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  nb_client *c = device_client_new(&d, argv[1], argv[2]);
  if (!c) {
    close(d.fd);
    return 1;
  }
  run(c, &d);
  nb_client_free(c);
  close(d.fd);
  return 0;
}
