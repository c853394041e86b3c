/* The monitor's capture file reader (src/monitor/capture.c, pcapfile.c) on what fuzz/pcap.c
 * found: a pcapng timestamp is 64 bits in units of the file's choosing, so its seconds times a
 * million overflowed int64 (undefined behaviour; nonsense times in the events). Times far
 * outside any capture are now clamped (to 2^61 us, pcapfile.c) and the frames still decoded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "monitor/capture.h"
#include "monitor/monitor.h"
#include "pcap_craft.h"

typedef struct {
  size_t messages;
  int64_t ts[4];
} sink;

static void on_event(const nb_mon_event *ev, void *user) {
  sink *s = user;
  if (ev->kind != NB_MON_EV_MESSAGE) return;
  if (s->messages < 4) s->ts[s->messages] = ev->ts_us;
  s->messages++;
}

static void test_timestamps_past_int64_microseconds(void **state) {
  (void)state;
  char path[] = "/tmp/nb-capture-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  nb_pcap_craft *c = nb_craft_open(path, 1, true);
  assert_non_null(c);
  nb_coap_msg msg;
  nb_craft_msg(&msg, NB_COAP_CON, NB_COAP_GET, 1, 1, "/3/0/9", NULL, -1, NULL, 0);
  /* Normal, then 2^64-1 us and 2^63 us (pcapng times are unsigned: both far in the future). */
  const int64_t times[] = {INT64_C(1700000000000000), -1, INT64_MIN};
  for (size_t k = 0; k < 3; k++) {
    msg.mid = (uint16_t)(k + 1);
    assert_int_equal(nb_craft_coap(c, times[k], "10.0.0.1:5683", "10.0.0.5:40000", &msg, NULL),
                     NB_OK);
  }
  assert_true(nb_craft_close(c));
  sink s = {0};
  nb_mon_config cfg = {0};
  nb_monitor *m = nb_monitor_new(&cfg, on_event, &s);
  assert_non_null(m);
  char why[256] = "";
  assert_int_equal(nb_mon_read_file(m, path, NULL, why, sizeof why), NB_OK);
  nb_monitor_free(m);
  unlink(path);
  assert_int_equal(s.messages, 3);
  assert_int_equal(s.ts[0], INT64_C(1700000000000000));
  for (size_t k = 1; k < 3; k++) assert_true(s.ts[k] == INT64_C(1) << 61);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_timestamps_past_int64_microseconds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
