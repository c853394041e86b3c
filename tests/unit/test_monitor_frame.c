/* Frame decoding down to UDP: every supported link type, VLAN tags, IPv4 options and
 * padding, IPv6 extension headers and fragments; every truncation of valid frames and
 * corrupted bytes decode to a verdict (never a crash), and feed the engine safely. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "monitor/frame.h"
#include "monitor/monitor.h"
#include "pcap_craft.h"

static const uint8_t t_coap[] = {0x40, 0x01, 0x12, 0x34, 0xb2, 'r', 'd'};

static void t_build(int lt, const char *src, const char *dst, const nb_craft_opts *o, uint8_t *buf,
                    size_t *len) {
  assert_int_equal(nb_craft_build(lt, src, dst, t_coap, sizeof t_coap, o, buf, 512, len), NB_OK);
}

static void test_link_types(void **state) {
  (void)state;
  static const int lts[] = {NB_LINK_ETHERNET, NB_LINK_SLL,  NB_LINK_SLL2,
                            NB_LINK_NULL,     NB_LINK_LOOP, NB_LINK_RAW};
  static const char *const ends[][2] = {{"192.0.2.1:40000", "192.0.2.2:5683"},
                                        {"[2001:db8::1]:40000", "[2001:db8::2]:5683"}};
  for (size_t i = 0; i < sizeof lts / sizeof lts[0]; i++) {
    for (size_t v = 0; v < 2; v++) {
      uint8_t buf[512];
      size_t len;
      t_build(lts[i], ends[v][0], ends[v][1], NULL, buf, &len);
      nb_frame f;
      assert_int_equal(nb_frame_decode(lts[i], buf, len, &f), NB_OK);
      assert_int_equal(f.kind, NB_FRAME_UDP);
      assert_int_equal(f.ip_version, v ? 6 : 4);
      assert_int_equal(f.src.port, 40000);
      assert_int_equal(f.dst.port, 5683);
      assert_int_equal(f.payload_len, sizeof t_coap);
      assert_memory_equal(f.payload, t_coap, sizeof t_coap);
    }
  }
  nb_frame f;
  assert_int_equal(nb_frame_decode(147, t_coap, sizeof t_coap, &f), NB_ERR_UNSUPPORTED);
}

static void test_vlan_and_extension_headers(void **state) {
  (void)state;
  uint8_t buf[512];
  size_t len;
  nb_craft_opts o = {.vlan = 100, .ipv6_ext = true};
  t_build(NB_LINK_ETHERNET, "[fd00::1]:1234", "[fd00::2]:5684", &o, buf, &len);
  nb_frame f;
  assert_int_equal(nb_frame_decode(NB_LINK_ETHERNET, buf, len, &f), NB_OK);
  assert_int_equal(f.kind, NB_FRAME_UDP);
  assert_int_equal(f.vlan, 100);
  assert_int_equal(f.ip_proto, 17);
  assert_int_equal(f.dst.port, 5684);
  /* An extension header claiming more bytes than the packet has. */
  buf[18 + 40 + 1] = 200;
  assert_int_equal(nb_frame_decode(NB_LINK_ETHERNET, buf, len, &f), NB_OK);
  assert_int_equal(f.kind, NB_FRAME_MALFORMED);
}

static void test_ethernet_padding_is_ignored(void **state) {
  (void)state;
  uint8_t buf[512];
  size_t len;
  t_build(NB_LINK_ETHERNET, "192.0.2.1:40000", "192.0.2.2:5683", NULL, buf, &len);
  memset(buf + len, 0, 20); /* minimum frame padding */
  nb_frame f;
  assert_int_equal(nb_frame_decode(NB_LINK_ETHERNET, buf, len + 20, &f), NB_OK);
  assert_int_equal(f.kind, NB_FRAME_UDP);
  assert_int_equal(f.payload_len, sizeof t_coap);
}

static void test_ipv4_fragment_fields(void **state) {
  (void)state;
  uint8_t buf[512];
  size_t len;
  t_build(NB_LINK_RAW, "192.0.2.1:40000", "192.0.2.2:5683", NULL, buf, &len);
  buf[6] = 0x20; /* MF, offset 0 */
  buf[7] = 0;
  nb_frame f;
  assert_int_equal(nb_frame_decode(NB_LINK_RAW, buf, len, &f), NB_OK);
  assert_int_equal(f.kind, NB_FRAME_FRAGMENT);
  assert_true(f.frag_more);
  assert_int_equal(f.frag_offset, 0);
  assert_int_equal(f.dst.port, 5683);
  buf[6] = 0x00;
  buf[7] = 0x03; /* last fragment at 24 */
  assert_int_equal(nb_frame_decode(NB_LINK_RAW, buf, len, &f), NB_OK);
  assert_int_equal(f.kind, NB_FRAME_FRAGMENT);
  assert_int_equal(f.frag_offset, 24);
  assert_false(f.frag_more);
  assert_int_equal(f.dst.port, 0);
}

static void t_ignore(const nb_mon_event *ev, void *user) {
  (void)ev;
  (*(size_t *)user)++;
}

static void test_truncations_and_corruption_never_crash(void **state) {
  (void)state;
  static const int lts[] = {NB_LINK_ETHERNET, NB_LINK_SLL, NB_LINK_SLL2, NB_LINK_NULL,
                            NB_LINK_LOOP,     NB_LINK_RAW, NB_LINK_IPV4, NB_LINK_IPV6};
  size_t events = 0;
  nb_monitor *m = nb_monitor_new(NULL, t_ignore, &events);
  assert_non_null(m);
  for (size_t i = 0; i < sizeof lts / sizeof lts[0]; i++) {
    for (int v6 = 0; v6 < 2; v6++) {
      uint8_t buf[512];
      size_t len;
      nb_craft_opts o = {.ipv6_ext = true, .vlan = 9};
      int build_lt = lts[i] == NB_LINK_IPV4 || lts[i] == NB_LINK_IPV6 ? NB_LINK_RAW : lts[i];
      t_build(build_lt, v6 ? "[fd00::1]:1" : "10.0.0.1:1", v6 ? "[fd00::2]:5683" : "10.0.0.2:5683",
              &o, buf, &len);
      for (size_t cut = 0; cut <= len; cut++) {
        nb_frame f;
        assert_int_equal(nb_frame_decode(lts[i], buf, cut, &f), NB_OK);
        if (f.kind == NB_FRAME_UDP) assert_true(f.payload + f.payload_len <= buf + cut);
        nb_monitor_feed(m, (int64_t)cut, lts[i], buf, cut);
      }
      for (size_t pos = 0; pos < len; pos++) {
        uint8_t copy[512];
        memcpy(copy, buf, len);
        copy[pos] ^= 0xff;
        nb_frame f;
        assert_int_equal(nb_frame_decode(lts[i], copy, len, &f), NB_OK);
        if (f.kind == NB_FRAME_UDP) assert_true(f.payload + f.payload_len <= copy + len);
        nb_monitor_feed(m, (int64_t)pos, lts[i], copy, len);
      }
    }
  }
  assert_true(nb_monitor_stats(m)->malformed > 0);
  assert_true(nb_monitor_stats(m)->coap > 0);
  nb_monitor_free(m);
  assert_true(events > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_link_types),
      cmocka_unit_test(test_vlan_and_extension_headers),
      cmocka_unit_test(test_ethernet_padding_is_ignored),
      cmocka_unit_test(test_ipv4_fragment_fields),
      cmocka_unit_test(test_truncations_and_corruption_never_crash),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
