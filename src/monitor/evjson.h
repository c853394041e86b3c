/* JSON rendering of monitor events (one object per line of the --events stream). A direct
 * writer, not a DOM: the monitor writes one object per packet and must outpace tshark by far;
 * strings are escaped per RFC 8259 and invalid UTF-8 becomes U+FFFD, so every line parses
 * (the tests parse them back with jansson). Values arrive already redacted from the engine;
 * resource names come from the model. */
#ifndef NB_MONITOR_EVJSON_H
#define NB_MONITOR_EVJSON_H

#include "base/buf.h"
#include "lwm2m/model.h"
#include "monitor/monitor.h"

/* Appends one JSON object (no newline) for ev to out. */
nb_err nb_mon_event_to_json(const nb_mon_event *ev, const nb_model *model, nb_bytes *out);

#endif
