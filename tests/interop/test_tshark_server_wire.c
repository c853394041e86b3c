/* What `niobium server` puts on the wire for the REST API, judged by Wireshark's dissectors
 * (tshark 4.0) on a live capture of lo, with the real binaries (`niobium server` and `niobium
 * client` on free 127.0.0.1 ports), for two items of issue 14:
 *  - item 4: an Observe-Composite started with POST .../composite {"observe":true} is a FETCH
 *    with Observe 0; DELETE .../composite/observe?paths= cancels it actively (LwM2M 1.1 TS
 *    Transport 6.4.6 "Cancel Observation-Composite", RFC 7641 3.6): a FETCH with Observe 1,
 *    the observation's token, the same Content-Format and the same path list, answered 2.05;
 *  - item 7: the client's Device object (/3/0 read as TLV through the REST API) carries Current
 *    Time (13, within a minute of now), UTC Offset (14) and Timezone (15) from the client's TZ,
 *    Error Code (11) 0 and Memory Free (10) as Wireshark's lwm2mtlv dissector names them;
 *  - item 5: a read of a sleeping queue-mode client answers 202 QUEUED; the GET leaves only after
 *    the device's Update, and GET /api/requests/{id} then holds the very value tshark decodes
 *    from the device's 2.05.
 * Skips when tshark or curl is missing or may not capture here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "nb_capture.h"
#include "nb_test.h"

#define RUN_MS 30000
#define EP "wire1"

static nb_test_proc server, client;
static nb_capture cap;
static char dir[64], base[64];
static uint16_t coap_port;

static int cleanup(void **state) {
  (void)state;
  nb_test_proc_stop(&client);
  nb_test_proc_cleanup(&client);
  nb_test_proc_stop(&server);
  nb_test_proc_cleanup(&server);
  nb_capture_cleanup(&cap);
  memset(&client, 0, sizeof client);
  memset(&server, 0, sizeof server);
  if (!dir[0]) return 0;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  dir[0] = '\0';
  return system(cmd) == 0 ? 0 : -1;
}

/* Capture on, then the server and a registered client (TZ as given; with `queue`, both in
 * queue mode: asleep after 2 s, an Update every 10 s or so). Skips when it cannot. */
static void start(const char *tz, bool queue) {
  const char *nb = nb_test_env("NB_BINARY");
  if (!nb) fail_msg("NB_BINARY is not set");
  if (!nb_test_have_program("curl")) {
    fprintf(stderr, "skipped: curl not installed\n");
    skip();
  }
  coap_port = nb_test_free_port(SOCK_DGRAM);
  uint16_t http_port = nb_test_free_port(SOCK_STREAM);
  char bpf[64], why[300];
  snprintf(bpf, sizeof bpf, "udp port %u", coap_port);
  if (!nb_capture_start(&cap, bpf, why, sizeof why)) {
    fprintf(stderr, "skipped: %s\n", why);
    skip();
  }
  snprintf(dir, sizeof dir, "/tmp/nb-wire-XXXXXX");
  assert_non_null(mkdtemp(dir));
  char db[128], coap[32], http[32], uri[64];
  snprintf(db, sizeof db, "%s/server.db", dir);
  snprintf(coap, sizeof coap, "127.0.0.1:%u", coap_port);
  snprintf(http, sizeof http, "127.0.0.1:%u", http_port);
  snprintf(base, sizeof base, "http://127.0.0.1:%u", http_port);
  snprintf(uri, sizeof uri, "coap://%s", coap);
  char *srv[] = {(char *)nb, "server", "--coap",
                 coap,       "--http", http,
                 "--db",     db,       queue ? "--queue-timeout" : NULL,
                 "2",        NULL};
  assert_true(nb_test_proc_start(&server, srv));
  assert_true(nb_test_proc_wait_output(&server, true, "proto=http", 10000));
  /* The client inherits the environment: its Device object reports this time zone. */
  setenv("TZ", tz, 1);
  char *cli[] = {(char *)nb,
                 "client",
                 "--server",
                 uri,
                 "--endpoint",
                 EP,
                 "--objects",
                 "basic",
                 queue ? "--binding" : NULL,
                 "UQ",
                 "--queue-timeout",
                 "2",
                 "--lifetime",
                 "20",
                 NULL};
  bool started = nb_test_proc_start(&client, cli);
  unsetenv("TZ");
  assert_true(started);
  assert_true(nb_test_proc_wait_output(&client, true, "event=registered", 10000));
}

/* A REST call that must answer `status` ("200"); the body (heap). */
static char *rest(const char *method, const char *path, const char *body, const char *status) {
  char *out = nb_test_http(base, method, path, body);
  assert_non_null(out);
  const char *bar = strrchr(out, '|');
  if (!bar || strcmp(bar + 1, status) != 0)
    fail_msg("%s %s: wanted %s, got %s", method, path, status, out);
  return out;
}

/* tshark over the capture, CoAP on the server's port, one line per frame of the fields (heap). */
static char *query(const char *filter, const char *const *fields) {
  char coap[64];
  snprintf(coap, sizeof coap, "udp.port==%u,coap", coap_port);
  char *argv[32] = {"tshark", "-r", cap.path, "-d", coap, "-Y", (char *)filter, "-T", "fields"};
  size_t n = 9;
  for (size_t i = 0; fields[i] && n + 3 < sizeof argv / sizeof argv[0]; i++) {
    argv[n++] = "-e";
    argv[n++] = (char *)fields[i];
  }
  argv[n] = NULL;
  char *out = NULL;
  assert_int_equal(nb_test_run(argv, RUN_MS, &out), 0);
  return out;
}

/* Lines of text, at most max, split in place on '\n'; their count. */
static size_t lines(char *text, char **line, size_t max) {
  size_t n = 0;
  for (char *s = strtok(text, "\n"); s && n < max; s = strtok(NULL, "\n")) line[n++] = s;
  return n;
}

static void test_observe_composite_cancel_on_the_wire(void **state) {
  (void)state;
  start("UTC", false);
  const char *obs = "{\"paths\":[\"/3/0/0\",\"/3/0/13\"],\"observe\":true}";
  free(rest("POST", "/api/clients/" EP "/composite?format=senml-json", obs, "200"));
  char *out =
      rest("DELETE", "/api/clients/" EP "/composite/observe?paths=/3/0/13,/3/0/0", NULL, "200");
  assert_non_null(strstr(out, "\"cancelled\":1"));
  free(out);
  nb_capture_stop(&cap);

  /* Two FETCHes (code 5), both confirmable requests to the device: Observe 0 then 1, the same
   * token, Content-Format, Accept and payload (the paths). */
  const char *fetch[] = {"coap.opt.observe", "coap.token",   "coap.opt.ctype",
                         "coap.opt.accept",  "coap.payload", NULL};
  char *fetches = query("coap.code==5", fetch);
  char *f[4];
  if (lines(fetches, f, 4) != 2) fail_msg("wanted 2 FETCH requests, tshark saw:\n%s", fetches);
  char obs_tok[64] = "", rest0[512] = "", rest1[512] = "", tok1[64] = "";
  int o0 = -1, o1 = -1;
  assert_int_equal(sscanf(f[0], "%d\t%63[^\t]\t%511[^\n]", &o0, obs_tok, rest0), 3);
  assert_int_equal(sscanf(f[1], "%d\t%63[^\t]\t%511[^\n]", &o1, tok1, rest1), 3);
  assert_int_equal(o0, 0);
  assert_int_equal(o1, 1);
  assert_string_equal(tok1, obs_tok);
  assert_string_equal(rest1, rest0); /* Content-Format, Accept, payload */
  /* SenML JSON as asked, for the paths sent and for the answer (Content-Format, Accept). */
  const char *senml = "application/senml+json\tapplication/senml+json\t";
  if (strncmp(rest0, senml, strlen(senml)) != 0) fail_msg("not SenML JSON: %s", rest0);
  free(fetches);

  /* The paths in the cancel's payload, through the json dissector. */
  const char *names[] = {"json.value.string", NULL};
  out = query("coap.code==5 && coap.opt.observe==1", names);
  assert_non_null(strstr(out, "/3/0/0"));
  assert_non_null(strstr(out, "/3/0/13"));
  free(out);

  /* On that token, after the two FETCHes: the 2.05 of the observation (Observe set), perhaps
   * notifications, and last the 2.05 of the cancel, without Observe: nothing after it. */
  const char *all[] = {"coap.token", "coap.code", "coap.opt.observe", NULL};
  out = query("coap", all);
  char *l[256];
  size_t nl = lines(out, l, 256), answers = 0;
  char tok[64], observe[16], *last = NULL;
  for (size_t i = 0; i < nl; i++) {
    int code = 0;
    observe[0] = '\0';
    if (sscanf(l[i], "%63[^\t]\t%d\t%15s", tok, &code, observe) < 2 || strcmp(tok, obs_tok))
      continue;
    if (code == 69) answers++;
    last = l[i];
  }
  assert_true(answers >= 2);
  assert_non_null(last);
  int code = 0;
  observe[0] = '\0';
  int got = sscanf(last, "%63[^\t]\t%d\t%15s", tok, &code, observe);
  if (code != 69 || got == 3)
    fail_msg("the last message on the token is not a plain 2.05: %s", last);
  free(out);
}

static void test_device_object_on_the_wire(void **state) {
  (void)state;
  start("Europe/Berlin", false);
  char *out = rest("GET", "/api/clients/" EP "/3/0?format=tlv", NULL, "200");
  free(out);
  time_t now = time(NULL);
  nb_capture_stop(&cap);

  const char *fields[] = {"lwm2mtlv.resource.utc_offset", "lwm2mtlv.resource.timezone",
                          "lwm2mtlv.resource.error_code", "lwm2mtlv.resource.memory_free", NULL};
  char *got = query("coap.code==69 && lwm2mtlv", fields);
  char tz_off[32] = "", tz[64] = "", mem[32] = "";
  int err = -1;
  if (sscanf(got, "%31[^\t]\t%63[^\t]\t%d\t%31[^\n]", tz_off, tz, &err, mem) != 4)
    fail_msg("tshark's lwm2mtlv did not show the Device resources:\n%s", got);
  /* December and July: CET or CEST, whichever the host's tzdata says for today. */
  struct tm local;
  setenv("TZ", "Europe/Berlin", 1);
  tzset();
  localtime_r(&now, &local);
  unsetenv("TZ");
  tzset();
  assert_string_equal(tz_off, local.tm_isdst > 0 ? "+02:00" : "+01:00");
  assert_string_equal(tz, "Europe/Berlin");
  assert_int_equal(err, 0);
  assert_true(atoll(mem) > 0);
  free(got);

  /* Current Time, which tshark prints as UTC text ("Dec  7, 2026 22:10:01.000000000 UTC"):
   * within two minutes of when the read was made. */
  const char *when[] = {"lwm2mtlv.resource.current_time", NULL};
  char *t = query("coap.code==69 && lwm2mtlv", when);
  struct tm utc = {0};
  if (!strptime(t, "%b %d, %Y %H:%M:%S", &utc)) fail_msg("Current Time not decoded: %s", t);
  long long diff = (long long)timegm(&utc) - (long long)now;
  if (diff < -120 || diff > 120) fail_msg("Current Time %s is %lld s from now", t, diff);
  free(t);
}

static void test_queued_read_on_the_wire(void **state) {
  (void)state;
  start("UTC", true);
  /* Asleep 2 s after its last word. */
  char *out = NULL;
  for (int t = 0; t < 100 && !out; t++) {
    usleep(100 * 1000);
    char *c = rest("GET", "/api/clients/" EP, NULL, "200");
    if (strstr(c, "\"awake\":false"))
      out = c;
    else
      free(c);
  }
  if (!out) fail_msg("the queue-mode client never counted as asleep");
  free(out);
  out = rest("GET", "/api/clients/" EP "/3/0/0?format=tlv", NULL, "202");
  const char *id = strstr(out, "\"requestId\":");
  assert_non_null(id);
  char path[64];
  snprintf(path, sizeof path, "/api/requests/%lld", atoll(id + strlen("\"requestId\":")));
  free(out);
  char *done = NULL;
  for (int t = 0; t < 600 && !done; t++) {
    char *r = rest("GET", path, NULL, "200");
    if (strstr(r, "\"state\":\"DONE\""))
      done = r;
    else {
      free(r);
      usleep(100 * 1000);
    }
  }
  if (!done) fail_msg("the queued read never finished");
  nb_capture_stop(&cap);

  /* Register (rd), then no GET before the Update (rd/<location>), then the GET of /3/0/0. */
  const char *order[] = {"coap.code", "coap.opt.uri_path", NULL};
  char *seen = query("coap.code==1 || coap.code==2", order);
  char *copy = strdup(seen);
  assert_non_null(copy);
  char *l[64];
  size_t n = lines(seen, l, 64), update = n, get = n;
  for (size_t i = 0; i < n; i++) {
    if (update == n && !strncmp(l[i], "2\trd,", strlen("2\trd,"))) update = i;
    if (get == n && !strcmp(l[i], "1\t3,0,0")) get = i;
  }
  if (update == n || get == n || get < update)
    fail_msg("wanted the Update before the queued GET, tshark saw:\n%s", copy);
  free(copy);
  free(seen);

  /* The value the device sent, as Wireshark reads it, is the one the route gives. */
  const char *manufacturer[] = {"lwm2mtlv.resource.manufacturer", NULL};
  char *value = query("coap.code==69 && lwm2mtlv", manufacturer);
  value[strcspn(value, "\n")] = '\0';
  assert_true(value[0] != '\0');
  char want[128];
  snprintf(want, sizeof want, "\"value\":\"%s\"", value);
  if (!strstr(done, want)) fail_msg("tshark read %s, the route says %s", value, done);
  free(value);
  free(done);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_observe_composite_cancel_on_the_wire, cleanup),
      cmocka_unit_test_teardown(test_device_object_on_the_wire, cleanup),
      cmocka_unit_test_teardown(test_queued_read_on_the_wire, cleanup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
