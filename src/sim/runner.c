/* A fleet on its sockets in a libuv loop, with progress and a graceful stop. */
#include "sim/runner.h"

#include <stdlib.h>
#include <string.h>

#include "sim/report.h"

#define NB_SIM_GRACE_MS 30000
#define NB_SIM_REDRAW_MS 500

struct nb_sim_runner {
  nb_sim_runner_config cfg;
  nb_io_loop *loop;
  nb_sim_net *net;
  nb_sim_fleet *fleet;
  nb_io_deadline *deadline;
  uv_timer_t stop_timer, progress_timer;
  unsigned open_timers;
  nb_sim_progress progress;
  nb_time_ms started;
  bool done, closing, redrawn;
};

nb_sim_fleet *nb_sim_runner_fleet(nb_sim_runner *r) { return r->fleet; }
nb_sim_net *nb_sim_runner_net(nb_sim_runner *r) { return r->net; }
nb_time_ms nb_sim_runner_started(const nb_sim_runner *r) { return r->started; }

static void nb_sim_runner_tick(void *user, nb_time_ms now) {
  nb_sim_runner *r = user;
  nb_sim_fleet_tick(r->fleet, now);
}

static void nb_sim_runner_show(nb_sim_runner *r, bool final) {
  if (!r->cfg.progress) return;
  char line[512];
  nb_time_ms now = nb_io_loop_now(r->loop);
  nb_sim_progress_line(&r->progress, r->fleet, r->started, now, line, sizeof line);
  if (r->cfg.progress_redraw) {
    fprintf(r->cfg.progress, "\r\033[K%s%s", line, final ? "\n" : "");
    r->redrawn = !final;
  } else {
    fprintf(r->cfg.progress, "%s\n", line);
  }
  fflush(r->cfg.progress);
}

/* Before the loop waits: what the iteration queued goes out, and the end is noticed. */
static nb_time_ms nb_sim_runner_next(void *user, nb_time_ms now) {
  nb_sim_runner *r = user;
  nb_sim_net_flush(r->net);
  if (!r->done && nb_sim_fleet_finished(r->fleet, now)) {
    r->done = true;
    nb_sim_fleet_close(r->fleet, now); /* close_notify: on the wire, and in the report */
    nb_sim_net_flush(r->net);
    nb_sim_runner_show(r, true);
    if (r->cfg.finished) r->cfg.finished(r->cfg.user, r);
    return NB_TIME_NEVER;
  }
  return r->done ? NB_TIME_NEVER : nb_sim_fleet_next_deadline(r->fleet);
}

static void nb_sim_runner_on_stop(uv_timer_t *t) { nb_sim_runner_stop(t->data); }

static void nb_sim_runner_on_progress(uv_timer_t *t) {
  nb_sim_runner *r = t->data;
  if (!r->done) nb_sim_runner_show(r, false);
}

void nb_sim_runner_stop(nb_sim_runner *r) {
  if (r->done) return;
  nb_time_ms now = nb_io_loop_now(r->loop);
  nb_sim_fleet_stop(r->fleet, now, r->cfg.grace ? r->cfg.grace : NB_SIM_GRACE_MS);
}

nb_err nb_sim_runner_new(nb_io_loop *loop, const nb_sim_runner_config *cfg, nb_sim_runner **out,
                         char *why, size_t cap) {
  nb_sim_runner *r = calloc(1, sizeof *r);
  if (!r) return NB_ERR_NOMEM;
  r->cfg = *cfg;
  r->loop = loop;
  r->started = nb_io_loop_now(loop);
  nb_sim_net_config nc = cfg->net;
  nc.devices = cfg->fleet.devices;
  nb_err e = nb_sim_net_new(loop, &nc, &r->net, why, cap);
  nb_sim_config fc = cfg->fleet;
  fc.send = nb_sim_net_send;
  fc.send_user = r->net;
  if (e == NB_OK) {
    e = nb_sim_fleet_new(&fc, r->started, &r->fleet);
    if (e != NB_OK) snprintf(why, cap, "cannot make the fleet: %s", nb_strerror(e));
  }
  if (e == NB_OK)
    e = nb_io_deadline_new(loop, nb_sim_runner_next, nb_sim_runner_tick, r, &r->deadline);
  if (e != NB_OK) {
    nb_sim_fleet_free(r->fleet);
    nb_sim_net_free(r->net);
    free(r);
    return e;
  }
  nb_sim_net_attach(r->net, r->fleet);
  uv_loop_t *uv = nb_io_loop_uv(loop);
  uv_timer_init(uv, &r->stop_timer);
  uv_timer_init(uv, &r->progress_timer);
  r->stop_timer.data = r->progress_timer.data = r;
  r->open_timers = 2;
  if (cfg->duration > 0)
    uv_timer_start(&r->stop_timer, nb_sim_runner_on_stop, (uint64_t)cfg->duration, 0);
  if (cfg->progress) {
    uint64_t every = cfg->progress_redraw  ? NB_SIM_REDRAW_MS
                     : cfg->progress_every ? (uint64_t)cfg->progress_every
                                           : 5000;
    uv_timer_start(&r->progress_timer, nb_sim_runner_on_progress, every, every);
    uv_unref((uv_handle_t *)&r->progress_timer); /* progress alone keeps nothing alive */
  }
  nb_sim_progress_init(&r->progress, r->started);
  *out = r;
  return NB_OK;
}

static void nb_sim_runner_closed(uv_handle_t *h) {
  nb_sim_runner *r = h->data;
  if (--r->open_timers > 0) return;
  nb_sim_fleet_free(r->fleet);
  free(r);
}

void nb_sim_runner_free(nb_sim_runner *r) {
  if (!r || r->closing) return;
  r->closing = true;
  if (!r->done) nb_sim_fleet_close(r->fleet, nb_io_loop_now(r->loop));
  nb_sim_net_free(r->net); /* sends what is queued (the close_notify alerts) first */
  nb_io_deadline_close(r->deadline);
  uv_close((uv_handle_t *)&r->stop_timer, nb_sim_runner_closed);
  uv_close((uv_handle_t *)&r->progress_timer, nb_sim_runner_closed);
}
