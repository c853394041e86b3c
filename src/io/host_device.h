/* The Linux host's values for the Device object's live resources (nb_client_device_source,
 * niobium/objects.h), what `niobium client` reports: battery from /sys/class/power_supply (the
 * resources are absent when the host has none), memory from /proc/meminfo, time zone from TZ,
 * /etc/timezone or /etc/localtime and its UTC offset from the tz database. Owns the zone and
 * offset a server wrote; the paths are fields so that tests can point them at fixtures. */
#ifndef NB_IO_HOST_DEVICE_H
#define NB_IO_HOST_DEVICE_H

#include "niobium/objects.h"

#define NB_HOST_PATH_MAX 256
#define NB_HOST_ZONE_MAX 64

typedef struct {
  char power_supply[NB_HOST_PATH_MAX]; /* /sys/class/power_supply */
  char meminfo[NB_HOST_PATH_MAX];      /* /proc/meminfo */
  char zoneinfo[NB_HOST_PATH_MAX];     /* /usr/share/zoneinfo */
  char tz[NB_HOST_ZONE_MAX];           /* the zone a server wrote ("" = the host's) */
  char offset[16];                     /* the UTC offset a server wrote ("" = the zone's) */
} nb_host_device;

/* The host's paths, nothing written yet. */
void nb_host_device_init(nb_host_device *h);
/* The source reading h (which must outlive the client). */
void nb_host_device_source(nb_host_device *h, nb_client_device_source *out);

/* The parts (user is the nb_host_device), for tests and other shells. */
nb_err nb_host_battery(void *user, int *level_pct, int *status);
nb_err nb_host_memory(void *user, int64_t *free_kb, int64_t *total_kb);
nb_err nb_host_zone(void *user, int64_t unix_s, char *tz, size_t tz_cap, char *offset,
                    size_t offset_cap);
nb_err nb_host_set_zone(void *user, const char *tz, const char *offset);

#endif
