/* Device object values of a Linux host: sysfs, procfs and the tz database. */
#include "io/host_device.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void nb_host_device_init(nb_host_device *h) {
  memset(h, 0, sizeof *h);
  snprintf(h->power_supply, sizeof h->power_supply, "/sys/class/power_supply");
  snprintf(h->meminfo, sizeof h->meminfo, "/proc/meminfo");
  snprintf(h->zoneinfo, sizeof h->zoneinfo, "/usr/share/zoneinfo");
}

/* The first line of a file without its newline; false when it cannot be read. */
static bool nb_host_line(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return false;
  bool ok = fgets(buf, (int)cap, f) != NULL;
  fclose(f);
  if (ok) buf[strcspn(buf, "\r\n")] = 0;
  return ok;
}

/* ---- battery: the first power supply of type Battery ---- */

#define NB_HOST_FILE_MAX (NB_HOST_PATH_MAX + 2 * 256)

/* The first line of dir/name; false when it cannot be read (or the path is too long). */
static bool nb_host_attr(const char *dir, const char *name, char *buf, size_t cap) {
  char p[NB_HOST_FILE_MAX];
  int n = snprintf(p, sizeof p, "%s/%s", dir, name);
  return n > 0 && (size_t)n < sizeof p && nb_host_line(p, buf, cap);
}

/* LwM2M Battery Status of a sysfs status (power_supply class ABI). */
static int nb_host_battery_status(const char *dir) {
  char s[32];
  if (nb_host_attr(dir, "present", s, sizeof s) && strcmp(s, "0") == 0) return 5; /* absent */
  if (nb_host_attr(dir, "health", s, sizeof s) &&
      (strcmp(s, "Dead") == 0 || strcmp(s, "Overheat") == 0 || strcmp(s, "Over voltage") == 0 ||
       strcmp(s, "Unspecified failure") == 0))
    return 3; /* damaged */
  if (!nb_host_attr(dir, "status", s, sizeof s)) return 6;
  if (strcmp(s, "Charging") == 0) return 1;
  if (strcmp(s, "Full") == 0) return 2;
  if (strcmp(s, "Discharging") == 0 || strcmp(s, "Not charging") == 0) return 0;
  return 6; /* Unknown */
}

/* Level and status of the battery in dir; false when dir is no battery or says no level. */
static bool nb_host_one_battery(const char *dir, int *level_pct, int *status) {
  char s[32], *end;
  if (!nb_host_attr(dir, "type", s, sizeof s) || strcmp(s, "Battery") != 0) return false;
  if (!nb_host_attr(dir, "capacity", s, sizeof s)) return false;
  long cap = strtol(s, &end, 10);
  if (end == s || *end || cap < 0 || cap > 100) return false;
  *level_pct = (int)cap;
  *status = nb_host_battery_status(dir);
  return true;
}

nb_err nb_host_battery(void *user, int *level_pct, int *status) {
  nb_host_device *h = user;
  DIR *d = opendir(h->power_supply);
  if (!d) return NB_ERR_NOT_FOUND;
  bool found = false;
  struct dirent *de;
  while (!found && (de = readdir(d))) {
    char dir[NB_HOST_FILE_MAX];
    int n = snprintf(dir, sizeof dir, "%s/%s", h->power_supply, de->d_name);
    if (de->d_name[0] == '.' || n <= 0 || (size_t)n >= sizeof dir) continue;
    found = nb_host_one_battery(dir, level_pct, status);
  }
  closedir(d);
  return found ? NB_OK : NB_ERR_NOT_FOUND;
}

/* ---- memory: MemAvailable and MemTotal, kibibytes in /proc/meminfo ---- */

nb_err nb_host_memory(void *user, int64_t *free_kb, int64_t *total_kb) {
  nb_host_device *h = user;
  FILE *f = fopen(h->meminfo, "r");
  if (!f) return NB_ERR_NOT_FOUND;
  char line[128];
  long long total = -1, avail = -1;
  while (fgets(line, sizeof line, f)) {
    long long v;
    if (sscanf(line, "MemTotal: %lld kB", &v) == 1) total = v;
    if (sscanf(line, "MemAvailable: %lld kB", &v) == 1) avail = v;
  }
  fclose(f);
  if (total <= 0 || avail < 0) return NB_ERR_NOT_FOUND;
  /* The Device object counts kilobytes of 1000 bytes. */
  *total_kb = (int64_t)(total * 1024 / 1000);
  *free_kb = (int64_t)(avail * 1024 / 1000);
  return NB_OK;
}

/* ---- time zone ---- */

/* A zone name the tz database has: relative, no "..", a regular file under zoneinfo. */
static bool nb_host_zone_known(const nb_host_device *h, const char *tz) {
  if (!tz[0] || tz[0] == '/' || strstr(tz, "..") || strlen(tz) >= NB_HOST_ZONE_MAX) return false;
  for (const char *c = tz; *c; c++)
    if (!(*c == '/' || *c == '_' || *c == '-' || *c == '+' || (*c >= '0' && *c <= '9') ||
          (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z')))
      return false;
  char p[NB_HOST_PATH_MAX + NB_HOST_ZONE_MAX + 2];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s", h->zoneinfo, tz);
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The host's zone: TZ, then /etc/timezone, then where /etc/localtime points; glibc's own
 * default, UTC, when none says. */
static void nb_host_own_zone(const nb_host_device *h, char *tz, size_t cap) {
  const char *env = getenv("TZ");
  if (env && *env == ':') env++;
  if (env && *env && nb_host_zone_known(h, env)) {
    snprintf(tz, cap, "%s", env);
    return;
  }
  char buf[NB_HOST_PATH_MAX];
  if (nb_host_line("/etc/timezone", buf, sizeof buf) && nb_host_zone_known(h, buf)) {
    snprintf(tz, cap, "%s", buf);
    return;
  }
  ssize_t n = readlink("/etc/localtime", buf, sizeof buf - 1);
  const char *z = NULL;
  if (n > 0) {
    buf[n] = 0;
    z = strstr(buf, "zoneinfo/");
  }
  snprintf(tz, cap, "%s", z && nb_host_zone_known(h, z + 9) ? z + 9 : "UTC");
}

/* The UTC offset of zone tz at unix_s, from the tz database (through glibc with TZ set for the
 * call, then put back), as ISO 8601 "+01:00". */
static void nb_host_zone_offset(const char *tz, int64_t unix_s, char *out, size_t cap) {
  const char *old = getenv("TZ");
  char *saved = old ? strdup(old) : NULL;
  setenv("TZ", tz, 1);
  tzset();
  time_t t = (time_t)unix_s;
  struct tm tm;
  long off = localtime_r(&t, &tm) ? tm.tm_gmtoff : 0;
  if (saved)
    setenv("TZ", saved, 1);
  else
    unsetenv("TZ");
  free(saved);
  tzset();
  long a = off < 0 ? -off : off;
  snprintf(out, cap, "%c%02ld:%02ld", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

nb_err nb_host_zone(void *user, int64_t unix_s, char *tz, size_t tz_cap, char *offset,
                    size_t offset_cap) {
  nb_host_device *h = user;
  if (h->tz[0])
    snprintf(tz, tz_cap, "%s", h->tz);
  else
    nb_host_own_zone(h, tz, tz_cap);
  if (h->offset[0])
    snprintf(offset, offset_cap, "%s", h->offset);
  else
    nb_host_zone_offset(tz, unix_s, offset, offset_cap);
  return NB_OK;
}

static bool nb_host_digit(char c) { return c >= '0' && c <= '9'; }

/* "+HH:MM" / "-HH:MM" (optionally "UTC" before it), hours up to 14. */
static bool nb_host_offset_valid(const char *s, char *norm, size_t cap) {
  if (strncmp(s, "UTC", 3) == 0) s += 3;
  if (strlen(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' || !nb_host_digit(s[1]) ||
      !nb_host_digit(s[2]) || !nb_host_digit(s[4]) || !nb_host_digit(s[5]))
    return false;
  int hh = (s[1] - '0') * 10 + (s[2] - '0'), mm = (s[4] - '0') * 10 + (s[5] - '0');
  if (hh > 14 || mm > 59) return false;
  snprintf(norm, cap, "%c%02d:%02d", s[0], hh, mm);
  return true;
}

nb_err nb_host_set_zone(void *user, const char *tz, const char *offset) {
  nb_host_device *h = user;
  if (tz) {
    if (!nb_host_zone_known(h, tz)) return NB_ERR_INVAL;
    snprintf(h->tz, sizeof h->tz, "%s", tz);
    h->offset[0] = 0; /* the zone's own offset from now on */
    return NB_OK;
  }
  char norm[sizeof h->offset];
  if (!offset || !nb_host_offset_valid(offset, norm, sizeof norm)) return NB_ERR_INVAL;
  memcpy(h->offset, norm, sizeof norm);
  return NB_OK;
}

void nb_host_device_source(nb_host_device *h, nb_client_device_source *out) {
  memset(out, 0, sizeof *out);
  out->battery = nb_host_battery;
  out->memory = nb_host_memory;
  out->zone = nb_host_zone;
  out->set_zone = nb_host_set_zone;
  out->user = h;
}
