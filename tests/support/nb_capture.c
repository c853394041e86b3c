/* tshark-driven captures on lo for the interop tests. */
#include "nb_capture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NB_CAPTURE_START_MS 15000
#define NB_CAPTURE_READ_MS 60000

/* Sends probes to the spare port until tshark prints one of them. */
static bool nb_capture_wait_live(nb_capture *c) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  struct sockaddr_in to = {.sin_family = AF_INET,
                           .sin_port = htons(c->probe_port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  char seen[32];
  snprintf(seen, sizeof seen, "%u Len=", c->probe_port);
  bool live = false;
  for (int waited = 0; !live && waited < NB_CAPTURE_START_MS; waited += 100) {
    sendto(fd, "probe", 5, 0, (struct sockaddr *)&to, sizeof to);
    live = nb_test_proc_wait_output(&c->proc, false, seen, 100);
  }
  close(fd);
  return live;
}

bool nb_capture_start(nb_capture *c, const char *bpf, char *why, size_t why_cap) {
  static unsigned seq;
  memset(c, 0, sizeof *c);
  if (!nb_test_have_program("tshark")) {
    snprintf(why, why_cap, "tshark is not installed");
    return false;
  }
  c->probe_port = nb_test_free_port(SOCK_DGRAM);
  char filter[512];
  snprintf(filter, sizeof filter, "(%s) or udp port %u", bpf, c->probe_port);
  snprintf(c->path, sizeof c->path, "/tmp/nb-capture-%d-%u.pcapng", getpid(), seq++);
  /* -P -l: also print each packet at once, which is how readiness is seen. */
  char *argv[] = {"tshark", "-l", "-P", "-i", "lo", "-f", filter, "-w", c->path, NULL};
  if (!nb_test_proc_start(&c->proc, argv)) {
    snprintf(why, why_cap, "tshark does not start");
    return false;
  }
  if (!nb_test_proc_wait_output(&c->proc, true, "Capturing on", NB_CAPTURE_START_MS) ||
      !nb_capture_wait_live(c)) {
    char *err = nb_test_proc_stderr(&c->proc);
    snprintf(why, why_cap, "tshark cannot capture on lo (not permitted here?): %.200s", err);
    free(err);
    nb_test_proc_cleanup(&c->proc);
    unlink(c->path);
    return false;
  }
  c->running = true;
  return true;
}

void nb_capture_stop(nb_capture *c) {
  if (!c->running) return;
  /* Packets still in the kernel's buffer reach tshark before it handles SIGTERM. */
  usleep(300 * 1000);
  nb_test_proc_stop(&c->proc);
  c->running = false;
}

int nb_capture_count(const nb_capture *c, const uint16_t *coap_ports, size_t port_count,
                     const char *filter, char **lines) {
  char *argv[16 + 2 * 8];
  char decode[8][32];
  size_t n = 0;
  argv[n++] = "tshark";
  argv[n++] = "-r";
  argv[n++] = (char *)c->path;
  for (size_t i = 0; i < port_count && i < 8; i++) {
    snprintf(decode[i], sizeof decode[i], "udp.port==%u,coap", coap_ports[i]);
    argv[n++] = "-d";
    argv[n++] = decode[i];
  }
  char display[1024];
  snprintf(display, sizeof display, "!(udp.port == %u) && (%s)", c->probe_port, filter);
  argv[n++] = "-Y";
  argv[n++] = display;
  argv[n] = NULL;
  char *out = NULL;
  int rc = nb_test_run(argv, NB_CAPTURE_READ_MS, &out);
  if (rc != 0 || !out) {
    free(out);
    return -1;
  }
  int count = 0;
  for (const char *p = out; *p; p++) count += *p == '\n';
  if (lines) {
    *lines = out;
  } else {
    free(out);
  }
  return count;
}

void nb_capture_cleanup(nb_capture *c) {
  nb_capture_stop(c);
  nb_test_proc_cleanup(&c->proc);
  if (c->path[0]) unlink(c->path);
}
