/* `niobium monitor --ipfix` and `--ipfix-file` on a crafted capture: a device registers and
 * is read three times (8 messages in 4 flows). Exported over UDP to a local port while tshark
 * captures, tshark's IPFIX (cflow) dissector must decode 4 flow records of template 256 whose
 * packet counts add up to 8, with the LwM2M endpoint and operation in the enterprise-specific
 * elements; the file export must be a sequence of whole IPFIX version-10 messages. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_capture.h"
#include "nb_test.h"
#include "pcap_craft.h"

#define SRV "10.0.0.1:5683"
#define DEV "10.1.0.5:40000"

static void t_write_capture(const char *file) {
  nb_pcap_craft *c = nb_craft_open(file, 1, false);
  assert_non_null(c);
  nb_craft_session s = {.c = c, .t_us = 1700000000000000ll};
  static const char links[] = "</1/0>,</3/0>";
  nb_craft_exchange(&s, DEV, SRV, NB_COAP_POST, "/rd", "ep=ipfix-dev&lt=120&lwm2m=1.1", 40, links,
                    sizeof links - 1, NB_COAP_CREATED, -1, NULL, 0, "/rd/x1", -1);
  for (int i = 0; i < 3; i++)
    nb_craft_exchange(&s, SRV, DEV, NB_COAP_GET, "/3/0/9", NULL, -1, NULL, 0, NB_COAP_CONTENT, 0,
                      "50", 2, NULL, -1);
  assert_true(nb_craft_close(c));
}

/* Sum of tshark's comma/line separated numbers; *values: how many there were. */
static size_t t_sum(const char *list, size_t *values) {
  size_t sum = 0;
  *values = 0;
  const char *p = list;
  for (;;) {
    while (*p == ',' || *p == '\t' || *p == '\n') p++;
    if (*p < '0' || *p > '9') break;
    sum += strtoul(p, (char **)&p, 10);
    (*values)++;
  }
  return sum;
}

static size_t t_count(const char *s, const char *needle) {
  size_t n = 0;
  for (; (s = strstr(s, needle)) != NULL; s++) n++;
  return n;
}

static void test_ipfix_udp_decoded_by_tshark(void **state) {
  (void)state;
  const char *bin = nb_test_env("NB_BINARY");
  if (!bin) skip();
  char pcap[64];
  snprintf(pcap, sizeof pcap, "/tmp/nb-ipfix-%d.pcap", getpid());
  t_write_capture(pcap);
  uint16_t port = nb_test_free_port(SOCK_DGRAM);
  /* A collector socket, so the datagrams are not refused. */
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  char bpf[32], target[48];
  snprintf(bpf, sizeof bpf, "udp port %u", port);
  snprintf(target, sizeof target, "udp://127.0.0.1:%u", port);
  nb_capture cap;
  char why[300];
  if (!nb_capture_start(&cap, bpf, why, sizeof why)) {
    fprintf(stderr, "skipped: %s\n", why);
    close(fd);
    unlink(pcap);
    skip();
  }
  char *argv[] = {(char *)bin, "monitor", "--read", pcap, "--alerts-only", "--ipfix", target, NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 30000, &out), 0);
  free(out);
  nb_capture_stop(&cap);
  close(fd);

  char decode[32], display[64];
  snprintf(decode, sizeof decode, "udp.port==%u,cflow", port);
  snprintf(display, sizeof display, "cflow && udp.dstport==%u", port);
  char *targv[] = {"tshark", "-r", cap.path, "-d", decode,          "-Y",
                   display,  "-T", "fields", "-e", "cflow.packets", NULL};
  assert_int_equal(nb_test_run(targv, 60000, &out), 0);
  size_t flows = 0;
  assert_int_equal(t_sum(out, &flows), 8);
  assert_int_equal(flows, 4);
  free(out);
  char *vargv[] = {"tshark", "-r", cap.path, "-d", decode, "-Y", display, "-V", NULL};
  assert_int_equal(nb_test_run(vargv, 60000, &out), 0);
  assert_non_null(strstr(out, "Template Id: 256"));
  assert_int_equal(t_count(out, "Packets: 3"), 2); /* the three reads and their answers */
  assert_int_equal(t_count(out, "Packets: 1"), 2); /* Register and its 2.01 */
  /* Type 4 lwm2mEndpoint "ipfix-dev", type 5 lwm2mOperation "Read". */
  assert_int_equal(t_count(out, "Type 4: Value (hex bytes): 69 70 66 69 78 2d 64 65 76"), 4);
  assert_int_equal(t_count(out, "Type 5: Value (hex bytes): 52 65 61 64"), 2);
  /* /3/0/9 as object 3, instance 0, resource 9. */
  assert_int_equal(t_count(out, "Type 6: Value (hex bytes): 00 03"), 2);
  assert_int_equal(t_count(out, "Type 8: Value (hex bytes): 00 09"), 2);
  free(out);
  nb_capture_cleanup(&cap);
  unlink(pcap);
}

static void test_ipfix_file(void **state) {
  (void)state;
  const char *bin = nb_test_env("NB_BINARY");
  if (!bin) skip();
  char pcap[64], file[64];
  snprintf(pcap, sizeof pcap, "/tmp/nb-ipfix-f-%d.pcap", getpid());
  snprintf(file, sizeof file, "/tmp/nb-ipfix-f-%d.ipfix", getpid());
  t_write_capture(pcap);
  char *argv[] = {(char *)bin, "monitor",      "--read", pcap, "--events",
                  "/dev/null", "--ipfix-file", file,     NULL};
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, 30000, &out), 0);
  free(out);
  size_t len = 0;
  uint8_t *d = (uint8_t *)nb_test_read_file(file, &len);
  assert_non_null(d);
  size_t messages = 0;
  for (size_t off = 0; off < len; messages++) {
    assert_true(off + 16 <= len);
    assert_int_equal(d[off] << 8 | d[off + 1], 10);
    size_t mlen = (size_t)(d[off + 2] << 8 | d[off + 3]);
    assert_true(mlen >= 16);
    off += mlen;
    assert_true(off <= len);
  }
  assert_true(messages >= 1);
  free(d);
  /* Both targets at once is a usage error. */
  char *bad[] = {(char *)bin,      "monitor",      "--read", pcap, "--ipfix",
                 "127.0.0.1:4739", "--ipfix-file", file,     NULL};
  assert_int_equal(nb_test_run_capture(bad, 30000, NULL, NULL), 2);
  unlink(file);
  unlink(pcap);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_ipfix_udp_decoded_by_tshark),
                                     cmocka_unit_test(test_ipfix_file)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
