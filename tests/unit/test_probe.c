/*
 * Unit tests of the link prober (core/link/probe.c) on synthetic timelines: a
 * small discrete-event simulator sends a probe every interval, delivers or
 * drops each reply as a scripted path says, and runs probe_tick exactly at
 * probe_next_deadline, so the times asserted are the module's own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "link/probe.h"

#define MS 1000000ull
#define US 1000ull

/* A scripted path: 1 = the reply to probe number n (0-based) arrives after
 * *rtt_ns; 0 = lost. */
typedef int (*path_fn)(void *ctx, uint64_t n, uint64_t *rtt_ns);

#define SIM_MAX_INFLIGHT 512

struct sim_reply {
	uint64_t at_ns;
	struct wire_probe_reply r;
};

struct sim {
	struct probe_link p;
	uint64_t now;
	uint64_t next_send;
	uint64_t n_sent;
	path_fn path;
	void *ctx;
	uint32_t hold_us;
	struct sim_reply q[SIM_MAX_INFLIGHT];
	size_t nq;
	/* honour PROBE_EV_SEND with an extra probe, as the daemon does */
	int honor_send;
	int send_now;
	uint64_t extra_sent;
	/* what the prober reported */
	int state_changes;
	uint64_t last_change_ns;
	int metric_events;
};

static struct cfg_probe cfg_default(void)
{
	struct cfg_probe c = {.interval_ms = 100,
			      .timeout_ms = 1000,
			      .degraded_loss_ppm = 50000,
			      .degraded_rtt_ms = 0,
			      .loss_window = 50};
	return c;
}

static void sim_init(struct sim *s, const struct cfg_probe *c, path_fn path,
		     void *ctx)
{
	memset(s, 0, sizeof(*s));
	s->path = path;
	s->ctx = ctx;
	probe_link_init(&s->p, c, 0);
}

static void sim_note(struct sim *s, int ev)
{
	if (ev & PROBE_EV_STATE) {
		s->state_changes++;
		s->last_change_ns = s->now;
	}
	if (ev & PROBE_EV_METRICS)
		s->metric_events++;
	if ((ev & PROBE_EV_SEND) && s->honor_send)
		s->send_now = 1;
}

/* Sends probe number n_sent at t; the scripted path decides its fate. */
static void sim_send(struct sim *s, uint64_t t)
{
	uint32_t id = probe_on_send(&s->p, t);
	uint64_t rtt;
	if (s->path(s->ctx, s->n_sent, &rtt)) {
		assert_true(s->nq < SIM_MAX_INFLIGHT);
		struct sim_reply *q = &s->q[s->nq++];
		q->at_ns = t + rtt + s->hold_us * US;
		q->r = (struct wire_probe_reply){
		    .probe_id = id,
		    .echo_tx_ns = t,
		    .rx_packets = s->n_sent,
		    .hold_us = s->hold_us,
		};
	}
	s->n_sent++;
}

/* Processes every event at or before `until`, in time order. */
static void sim_until(struct sim *s, uint64_t until)
{
	for (;;) {
		if (s->send_now) { /* asked by the last event: at its time */
			s->send_now = 0;
			s->extra_sent++;
			sim_send(s, s->now);
		}
		uint64_t t_reply = UINT64_MAX;
		size_t qi = 0;
		for (size_t i = 0; i < s->nq; i++)
			if (s->q[i].at_ns < t_reply) {
				t_reply = s->q[i].at_ns;
				qi = i;
			}
		uint64_t t_dl = probe_next_deadline(&s->p);
		uint64_t t = s->next_send;
		if (t_reply < t)
			t = t_reply;
		if (t_dl < t)
			t = t_dl;
		if (t > until)
			break;
		assert_true(t >= s->now); /* deadlines never in the past */
		s->now = t;
		if (t == t_reply) {
			struct wire_probe_reply r = s->q[qi].r;
			s->q[qi] = s->q[--s->nq];
			sim_note(s, probe_on_reply(&s->p, &r, t));
		} else if (t == s->next_send) {
			sim_send(s, t);
			s->next_send += s->p.interval_ns;
		} else {
			sim_note(s, probe_tick(&s->p, t));
		}
	}
	s->now = until;
}

/* ---- paths ---- */

struct fixed_path {
	uint64_t rtt_ns;
	uint64_t dead_from; /* probes n >= dead_from are lost */
	uint64_t dead_to;   /* ... and n < dead_to */
};

static int path_fixed(void *ctx, uint64_t n, uint64_t *rtt)
{
	struct fixed_path *f = ctx;
	*rtt = f->rtt_ns;
	return !(n >= f->dead_from && n < f->dead_to);
}

static struct fixed_path fixed(uint64_t rtt_ms)
{
	return (struct fixed_path){
	    .rtt_ns = rtt_ms * MS, .dead_from = UINT64_MAX, .dead_to = 0};
}

/* RTTs from a table, repeating its last entry. */
struct table_path {
	const uint64_t *rtt_ms;
	size_t n;
};

static int path_table(void *ctx, uint64_t n, uint64_t *rtt)
{
	struct table_path *t = ctx;
	*rtt = t->rtt_ms[n < t->n ? n : t->n - 1] * MS;
	return 1;
}

/* Loses probe n when lose[n] is set; 20 ms otherwise. */
struct mask_path {
	const uint8_t *lose;
	size_t n;
};

static int path_mask(void *ctx, uint64_t n, uint64_t *rtt)
{
	struct mask_path *m = ctx;
	*rtt = 20 * MS;
	return !(n < m->n && m->lose[n]);
}

/* ---- RTT ---- */

static void test_rtt_first_sample_and_convergence(void **state)
{
	struct cfg_probe c = cfg_default();
	struct fixed_path f = fixed(20);
	struct sim s;
	sim_init(&s, &c, path_fixed, &f);
	assert_int_equal(s.p.state, PLS_DOWN);

	sim_until(&s, 50 * MS); /* one probe, one reply */
	assert_int_equal(s.p.replies, 1);
	assert_int_equal(s.p.srtt_us, 20000);
	assert_int_equal(s.p.rttvar_us, 10000);
	assert_int_equal(s.p.state, PLS_UP);
	assert_int_equal(s.state_changes, 1);

	sim_until(&s, 5000 * MS);
	assert_int_equal(s.p.srtt_us, 20000);
	assert_true(s.p.rttvar_us < 100);
	assert_int_equal(s.p.jitter_us, 0);
	assert_int_equal(s.p.min_rtt_us, 20000);
	assert_int_equal(s.p.loss_ppm, 0);
	assert_int_equal(s.p.lost, 0);
	assert_int_equal(s.p.state, PLS_UP);
	assert_int_equal(s.state_changes, 1);
}

/* The monitoring histogram: each sample in its bucket (bounds inclusive),
 * counters that an outage (DOWN resets the estimators) does not reset. */
static void test_rtt_histogram(void **state)
{
	static const uint64_t rtts[] = {20, 20, 5, 7, 400, 3000};
	struct cfg_probe c = cfg_default();
	c.timeout_ms = 60000;
	struct table_path t = {rtts, 6};
	struct sim s;
	sim_init(&s, &c, path_table, &t);
	sim_until(&s, 949 * MS); /* replies to probes 0..4 are in */
	assert_int_equal(s.p.rtt_samples, 5);
	assert_int_equal(s.p.rtt_sum_us, (20 + 20 + 5 + 7 + 400) * 1000);
	assert_int_equal(s.p.rtt_hist[4], 2); /* 20 ms <= 20 ms */
	assert_int_equal(s.p.rtt_hist[2], 1); /* 5 ms <= 5 ms */
	assert_int_equal(s.p.rtt_hist[3], 1); /* 7 ms in (5, 10] */
	assert_int_equal(s.p.rtt_hist[9], 1); /* 400 ms in (300, 500] */
	uint64_t total = 0;
	for (int i = 0; i <= PROBE_RTT_BUCKETS; i++)
		total += s.p.rtt_hist[i];
	assert_int_equal(total, 5);
	/* The 3 s replies come after the link went DOWN, which restarts
	 * the estimators but not these counters. */
	sim_until(&s, 3600 * MS);
	assert_true(s.state_changes >= 2);  /* UP, then DOWN (maybe UP again) */
	assert_true(s.p.rtt_hist[12] >= 1); /* (2 s, 5 s] */
	assert_int_equal(s.p.rtt_hist[4], 2);
	assert_int_equal(s.p.rtt_hist[PROBE_RTT_BUCKETS], 0);
}

static void test_rtt_hold_time_subtracted(void **state)
{
	struct cfg_probe c = cfg_default();
	struct fixed_path f = fixed(20);
	struct sim s;
	sim_init(&s, &c, path_fixed, &f);
	s.hold_us = 3000; /* the replier sat on each probe for 3 ms */
	sim_until(&s, 2000 * MS);
	assert_int_equal(s.p.srtt_us, 20000);
	assert_int_equal(s.p.last_rtt_us, 20000);
}

static void test_rtt_spike_then_recovery(void **state)
{
	uint64_t rtts[200];
	for (size_t i = 0; i < 200; i++)
		rtts[i] = (i >= 50 && i < 60) ? 150 : 20;
	struct table_path t = {rtts, 200};
	struct cfg_probe c = cfg_default();
	struct sim s;
	sim_init(&s, &c, path_table, &t);

	sim_until(&s, 49 * 100 * MS + 50 * MS);
	assert_int_equal(s.p.srtt_us, 20000);
	uint64_t var0 = s.p.rttvar_us;

	/* First spike sample, exactly per RFC 6298. */
	sim_until(&s, 50 * 100 * MS + 160 * MS);
	assert_int_equal(s.p.last_rtt_us, 150000);
	assert_int_equal(s.p.rttvar_us, var0 - var0 / 4 + (130000 - var0) / 4);
	assert_int_equal(s.p.srtt_us, 20000 + 130000 / 8);

	sim_until(&s, 59 * 100 * MS + 160 * MS);
	assert_true(s.p.srtt_us > 100000);
	assert_true(s.p.rttvar_us > 20000);
	assert_int_equal(s.p.min_rtt_us, 20000); /* the floor did not move */
	assert_int_equal(s.p.lost, 0);		 /* 150 ms is late, not lost */

	sim_until(&s, 199 * 100 * MS + 50 * MS);
	assert_true(s.p.srtt_us >= 20000 && s.p.srtt_us < 20100);
	assert_true(s.p.rttvar_us < 1000);
	assert_true(s.metric_events >= 2); /* up and back down reported */
}

static void test_jitter_alternating(void **state)
{
	uint64_t rtts[400];
	for (size_t i = 0; i < 400; i++)
		rtts[i] = i % 2 ? 30 : 20;
	struct table_path t = {rtts, 400};
	struct cfg_probe c = cfg_default();
	struct sim s;
	sim_init(&s, &c, path_table, &t);
	sim_until(&s, 30 * 100 * MS);
	/* |D| = 10 ms every sample: gain 1/16 gets to ~85% in 30 samples. */
	assert_true(s.p.jitter_us > 8000 && s.p.jitter_us < 10000);
	sim_until(&s, 399 * 100 * MS + 50 * MS);
	assert_true(s.p.jitter_us > 9900 && s.p.jitter_us <= 10000);
	assert_int_equal(s.p.min_rtt_us, 20000);
	assert_true(s.p.srtt_us > 20000 && s.p.srtt_us < 30000);
}

static void test_min_rtt_window_expires(void **state)
{
	/* 10 ms for 5 s, then 30 ms: the 10 ms floor must age out after the
	 * 10 s window, not stick forever. */
	uint64_t rtts[400];
	for (size_t i = 0; i < 400; i++)
		rtts[i] = i < 50 ? 10 : 30;
	struct table_path t = {rtts, 400};
	struct cfg_probe c = cfg_default();
	struct sim s;
	sim_init(&s, &c, path_table, &t);
	sim_until(&s, 8000 * MS);
	assert_int_equal(s.p.min_rtt_us, 10000);
	sim_until(&s, 25000 * MS);
	assert_int_equal(s.p.min_rtt_us, 30000);
}

/* ---- loss ---- */

static void test_loss_burst_and_slide(void **state)
{
	uint8_t lose[200] = {0};
	/* 10 of probes 10..59, spread out (ten in a row would be an outage,
	 * reported as DOWN rather than as loss). */
	for (int i = 10; i < 60; i += 5)
		lose[i] = 1;
	struct mask_path m = {lose, sizeof(lose)};
	struct cfg_probe c = cfg_default();
	struct sim s;
	sim_init(&s, &c, path_mask, &m);

	/* Probe n is sent at n * 100 ms; its reply comes 20 ms later. */
	sim_until(&s, 59 * 100 * MS + 50 * MS);
	assert_int_equal(s.p.window_lost, 10);
	assert_int_equal(s.p.window_answered, 40);
	assert_int_equal(s.p.loss_ppm, 200000);
	assert_int_equal(s.p.lost, 10);
	assert_int_equal(s.p.state, PLS_DEGRADED);

	/* Window now holds probes 35..84: five losses left. */
	sim_until(&s, 84 * 100 * MS + 50 * MS);
	assert_int_equal(s.p.loss_ppm, 100000);
	assert_int_equal(s.p.state, PLS_DEGRADED);

	/* 51..100: one loss, 2%, under half the threshold since probe 100. */
	sim_until(&s, 100 * 100 * MS + 50 * MS);
	assert_int_equal(s.p.loss_ppm, 20000);
	assert_int_equal(s.p.state, PLS_DEGRADED);
	sim_until(&s, 103 * 100 * MS + 50 * MS);
	assert_int_equal(s.p.state, PLS_DEGRADED);
	/* ... for PROBE_CLEAR_STREAK decided probes in a row: up again. */
	sim_until(&s, 104 * 100 * MS + 50 * MS);
	assert_int_equal(s.p.state, PLS_UP);
	sim_until(&s, 106 * 100 * MS + 50 * MS);
	assert_int_equal(s.p.loss_ppm, 0);
	assert_int_equal(s.state_changes, 3); /* up, degraded, up */
}

static void test_lost_only_after_deadline(void **state)
{
	uint8_t lose[20] = {0};
	lose[10] = 1;
	struct mask_path m = {lose, sizeof(lose)};
	struct cfg_probe c = cfg_default();
	struct sim s;
	sim_init(&s, &c, path_mask, &m);
	/* Probe 10 sent at 1000 ms; loss deadline max(2 * 100, 3 * 20) ms. */
	assert_int_equal(probe_loss_timeout_ns(&s.p), 200 * MS);
	sim_until(&s, 1199 * MS);
	assert_int_equal(s.p.lost, 0);
	sim_until(&s, 1200 * MS);
	assert_int_equal(s.p.lost, 1);
	assert_int_equal(s.p.window_lost, 1);
}

static void test_late_reply_repairs_loss(void **state)
{
	uint64_t rtts[100];
	for (size_t i = 0; i < 100; i++)
		rtts[i] = i == 20 ? 350 : 20;
	struct table_path t = {rtts, 100};
	struct cfg_probe c = cfg_default();
	struct sim s;
	sim_init(&s, &c, path_table, &t);

	sim_until(&s, 2000 * MS + 250 * MS);
	assert_int_equal(s.p.lost, 1);
	assert_int_equal(s.p.window_lost, 1);
	assert_true(s.p.loss_ppm > 0);

	sim_until(&s, 2000 * MS + 360 * MS);
	assert_int_equal(s.p.lost, 0);
	assert_int_equal(s.p.window_lost, 0);
	assert_int_equal(s.p.late_replies, 1);
	assert_int_equal(s.p.loss_ppm, 0);
	assert_int_equal(s.p.last_rtt_us, 350000);
}

static void test_unknown_and_duplicate_replies(void **state)
{
	struct cfg_probe c = cfg_default();
	struct probe_link p;
	probe_link_init(&p, &c, 0);

	/* A reply before anything was sent. */
	struct wire_probe_reply r = {.probe_id = 1, .echo_tx_ns = 0};
	assert_int_equal(probe_on_reply(&p, &r, 5 * MS), 0);
	assert_int_equal(p.unknown_replies, 1);

	uint32_t id = probe_on_send(&p, 10 * MS);
	assert_int_not_equal(id, 0);

	r = (struct wire_probe_reply){.probe_id = id + 1,
				      .echo_tx_ns = 10 * MS};
	assert_int_equal(probe_on_reply(&p, &r, 30 * MS), 0); /* unknown id */
	r = (struct wire_probe_reply){.probe_id = 0, .echo_tx_ns = 10 * MS};
	assert_int_equal(probe_on_reply(&p, &r, 30 * MS), 0); /* PMTU id */
	r = (struct wire_probe_reply){.probe_id = id, .echo_tx_ns = 11 * MS};
	assert_int_equal(probe_on_reply(&p, &r, 30 * MS), 0); /* bad echo */
	assert_int_equal(p.unknown_replies, 4);
	assert_int_equal(p.replies, 0);
	assert_int_equal(p.state, PLS_DOWN);
	assert_int_equal(p.last_heard_ns, 0);

	r.echo_tx_ns = 10 * MS;
	assert_true(probe_on_reply(&p, &r, 30 * MS) & PROBE_EV_STATE);
	assert_int_equal(p.state, PLS_UP);
	assert_int_equal(p.replies, 1);
	assert_int_equal(p.srtt_us, 20000);

	assert_int_equal(probe_on_reply(&p, &r, 90 * MS), 0);
	assert_int_equal(p.dup_replies, 1);
	assert_int_equal(p.replies, 1);
	assert_int_equal(p.srtt_us, 20000); /* the duplicate took no sample */

	/* A reply to a probe pushed out of the window by newer ones. */
	for (uint32_t i = 0; i < c.loss_window; i++)
		probe_on_send(&p, 100 * MS + i);
	assert_int_equal(probe_on_reply(&p, &r, 200 * MS), 0);
	assert_int_equal(p.unknown_replies, 5);
}

static void test_bogus_hold_time_keeps_life_drops_sample(void **state)
{
	struct cfg_probe c = cfg_default();
	struct probe_link p;
	probe_link_init(&p, &c, 0);
	uint32_t id = probe_on_send(&p, 0);
	struct wire_probe_reply r = {
	    .probe_id = id, .echo_tx_ns = 0, .hold_us = 50000};
	probe_on_reply(&p, &r, 20 * MS); /* held 50 ms in a 20 ms trip? */
	assert_int_equal(p.replies, 1);
	assert_int_equal(p.last_heard_ns, 20 * MS);
	assert_int_equal(p.srtt_us, 0);
	assert_int_equal(p.last_rtt_us, 0);
}

/* ---- DOWN detection and recovery ---- */

static void run_silence(uint32_t interval_ms, uint32_t timeout_ms)
{
	struct cfg_probe c = cfg_default();
	c.interval_ms = interval_ms;
	c.timeout_ms = timeout_ms;
	struct fixed_path f = fixed(20);
	f.dead_from = 20;
	f.dead_to = UINT64_MAX;
	struct sim s;
	sim_init(&s, &c, path_fixed, &f);

	uint64_t iv = interval_ms * MS;
	sim_until(&s, 20 * iv - 1);
	assert_int_equal(s.p.state, PLS_UP);
	uint64_t last = s.p.last_heard_ns;
	assert_int_equal(last, 19 * iv + 20 * MS);

	sim_until(&s, 20 * iv + 10 * 3 * iv + 10 * timeout_ms * MS);
	assert_int_equal(s.p.state, PLS_DOWN);
	assert_int_equal(s.p.prev_state, PLS_UP);
	assert_int_equal(s.state_changes, 2); /* up once, down once */
	uint64_t bound = 3 * iv > timeout_ms * MS ? 3 * iv : timeout_ms * MS;
	uint64_t took = s.last_change_ns - last;
	assert_true(took <= bound);
	/* ... and not before three intervals of silence either. */
	assert_true(took >= 3 * iv);
	/* Nothing to wait for once down and every probe decided. */
	assert_true(probe_next_deadline(&s.p) > s.now);
}

static void test_silence_down_within_three_intervals(void **state)
{
	run_silence(100, 1000);
	/* The exact default: 300 ms after the last reply. */
	struct cfg_probe c = cfg_default();
	struct probe_link p;
	probe_link_init(&p, &c, 0);
	assert_int_equal(probe_down_timeout_ns(&p), 300 * MS);
}

static void test_silence_down_slow_interval(void **state)
{
	run_silence(1000, 1000);
	run_silence(1000, 5000);
}

static void test_down_timeout_capped_by_config(void **state)
{
	/* A wildly varying path inflates srtt + 4 * rttvar, but the
	 * configured timeout stays the upper bound. */
	uint64_t rtts[100];
	for (size_t i = 0; i < 100; i++)
		rtts[i] = i % 2 ? 20 : 900;
	struct table_path t = {rtts, 100};
	struct cfg_probe c = cfg_default();
	struct sim s;
	sim_init(&s, &c, path_table, &t);
	sim_until(&s, 5000 * MS);
	assert_true(s.p.srtt_us + 4 * s.p.rttvar_us > 1000000);
	assert_int_equal(probe_down_timeout_ns(&s.p), 1000 * MS);
	assert_int_equal(probe_loss_timeout_ns(&s.p), 1000 * MS);
}

static void test_rx_keeps_alive_but_does_not_recover(void **state)
{
	struct cfg_probe c = cfg_default();
	struct fixed_path f = fixed(20);
	f.dead_from = 10; /* probes die, data keeps flowing */
	f.dead_to = 40;
	struct sim s;
	sim_init(&s, &c, path_fixed, &f);
	sim_until(&s, 10 * 100 * MS);
	for (uint64_t t = 1000; t < 2000; t += 50) {
		sim_until(&s, t * MS);
		probe_on_rx_bytes(&s.p, t * MS, 1200);
	}
	/* Heard from all along: not down, but losing every probe. */
	assert_int_not_equal(s.p.state, PLS_DOWN);
	assert_true(s.p.window_lost >= 5);

	sim_until(&s, 2500 * MS); /* data stops too: down */
	assert_int_equal(s.p.state, PLS_DOWN);
	probe_on_rx(&s.p, 2500 * MS); /* one stray packet */
	assert_int_equal(probe_tick(&s.p, 2500 * MS), 0);
	assert_int_equal(s.p.state, PLS_DOWN);
}

static void test_recovery_needs_two_replies(void **state)
{
	struct cfg_probe c = cfg_default();
	struct fixed_path f = fixed(20);
	f.dead_from = 20;
	f.dead_to = 40; /* probes 20..39 lost: 2 s outage */
	struct sim s;
	sim_init(&s, &c, path_fixed, &f);
	sim_until(&s, 3999 * MS);
	assert_int_equal(s.p.state, PLS_DOWN);
	int changes = s.state_changes;

	/* Probe 40 at 4000 ms answered at 4020: one reply is not enough. */
	sim_until(&s, 4050 * MS);
	assert_int_equal(s.p.state, PLS_DOWN);
	sim_until(&s, 4150 * MS);
	assert_int_equal(s.p.state, PLS_UP);
	assert_int_equal(s.last_change_ns, 4120 * MS);
	assert_int_equal(s.state_changes, changes + 1);
	/* The outage was reported as DOWN, not as loss: a fresh window. */
	assert_int_equal(s.p.loss_ppm, 0);
	assert_int_equal(s.p.window_lost, 0);
	assert_int_equal(s.p.srtt_us, 20000);
	sim_until(&s, 10000 * MS);
	assert_int_equal(s.p.state, PLS_UP);
	assert_int_equal(s.state_changes, changes + 1);
}

static void test_flapping_replies_do_not_recover(void **state)
{
	/* After an outage, every other probe lost: never two in a row. */
	uint8_t lose[300] = {0};
	for (int i = 20; i < 40; i++)
		lose[i] = 1;
	for (int i = 40; i < 100; i += 2)
		lose[i] = 1;
	struct mask_path m = {lose, sizeof(lose)};
	struct cfg_probe c = cfg_default();
	struct sim s;
	sim_init(&s, &c, path_mask, &m);
	sim_until(&s, 3999 * MS);
	assert_int_equal(s.p.state, PLS_DOWN);
	sim_until(&s, 9999 * MS);
	assert_int_equal(s.p.state, PLS_DOWN);
	sim_until(&s, 10250 * MS);
	assert_int_equal(s.p.state, PLS_UP);
}

/* Loss the tunnel recovers (loss_excused_ppm, set by the daemon while
 * resends flow for the link) does not make a link DEGRADED below that
 * share; above it, or once no longer excused, the threshold holds. */
static void test_loss_excused(void **state)
{
	(void)state;
	static uint8_t lose[400];
	memset(lose, 0, sizeof(lose));
	for (int i = 10; i < 400; i += 12) /* ~8%: over the 5% threshold */
		lose[i] = 1;
	struct mask_path m = {lose, sizeof(lose)};
	struct cfg_probe c = cfg_default();
	struct sim s;
	sim_init(&s, &c, path_mask, &m);
	s.p.loss_excused_ppm = 100000; /* 10% recovered */
	sim_until(&s, 150 * 100 * MS);
	assert_true(s.p.loss_ppm >= c.degraded_loss_ppm);
	assert_int_equal(s.p.state, PLS_UP);
	/* recovery stopped: the same loss demotes it */
	s.p.loss_excused_ppm = 0;
	sim_until(&s, 160 * 100 * MS);
	assert_int_equal(s.p.state, PLS_DEGRADED);
}

/* ---- DEGRADED with hysteresis ---- */

static void test_degraded_hysteresis_no_flap(void **state)
{
	/* Phase 1 (probes 10..109): 1 in 10 lost -> degraded.
	 * Phase 2 (110..1109): 1 in 20 lost, loss hovering at the 5%
	 * threshold (2 or 3 losses in a 50-probe window: 4% or 6%).
	 * Phase 3: clean -> up again, once. */
	static uint8_t lose[1400];
	memset(lose, 0, sizeof(lose));
	for (int i = 10; i < 110; i += 10)
		lose[i] = 1;
	for (int i = 110; i < 1110; i++)
		lose[i] = i % 20 == 7;
	struct mask_path m = {lose, sizeof(lose)};
	struct cfg_probe c = cfg_default();
	struct sim s;
	sim_init(&s, &c, path_mask, &m);

	sim_until(&s, 110 * 100 * MS);
	assert_int_equal(s.p.state, PLS_DEGRADED);
	assert_int_equal(s.state_changes, 2);

	/* The loss rate really does cross the threshold both ways. */
	int above = 0, below = 0;
	for (uint64_t n = 160; n < 1110; n++) {
		sim_until(&s, n * 100 * MS + 50 * MS);
		if (s.p.loss_ppm >= c.degraded_loss_ppm)
			above++;
		else
			below++;
		assert_int_equal(s.p.state, PLS_DEGRADED);
	}
	assert_true(above > 50 && below > 50);
	assert_int_equal(s.state_changes, 2);

	sim_until(&s, 1250 * 100 * MS);
	assert_int_equal(s.p.state, PLS_UP);
	assert_int_equal(s.state_changes, 3);
}

static void test_degraded_on_rtt(void **state)
{
	uint64_t rtts[600];
	for (size_t i = 0; i < 600; i++)
		rtts[i] = (i >= 100 && i < 300) ? 160 : (i >= 300 ? 120 : 60);
	struct table_path t = {rtts, 600};
	struct cfg_probe c = cfg_default();
	c.degraded_rtt_ms = 150;
	struct sim s;
	sim_init(&s, &c, path_table, &t);
	sim_until(&s, 99 * 100 * MS);
	assert_int_equal(s.p.state, PLS_UP);
	sim_until(&s, 299 * 100 * MS);
	assert_int_equal(s.p.state, PLS_DEGRADED);
	/* 120 ms is under the threshold but not under 3/4 of it: stays. */
	sim_until(&s, 599 * 100 * MS);
	assert_true(s.p.srtt_us < 150000);
	assert_int_equal(s.p.state, PLS_DEGRADED);
	assert_int_equal(s.state_changes, 2);
}

static void test_degraded_rtt_leaves_below_three_quarters(void **state)
{
	uint64_t rtts[400];
	for (size_t i = 0; i < 400; i++)
		rtts[i] = (i >= 100 && i < 200) ? 160 : 60;
	struct table_path t = {rtts, 400};
	struct cfg_probe c = cfg_default();
	c.degraded_rtt_ms = 150;
	struct sim s;
	sim_init(&s, &c, path_table, &t);
	sim_until(&s, 399 * 100 * MS);
	assert_int_equal(s.p.state, PLS_UP);
	assert_int_equal(s.state_changes, 3);
}

static void test_zero_threshold_is_off(void **state)
{
	uint8_t lose[200] = {0};
	for (int i = 10; i < 200; i += 3)
		lose[i] = 1;
	struct mask_path m = {lose, sizeof(lose)};
	struct cfg_probe c = cfg_default();
	c.degraded_loss_ppm = 0;
	struct sim s;
	sim_init(&s, &c, path_mask, &m);
	sim_until(&s, 150 * 100 * MS);
	assert_true(s.p.loss_ppm > 300000);
	assert_int_equal(s.p.state, PLS_UP);
}

/* ---- config edge cases ---- */

static void test_config_zero_and_oversized(void **state)
{
	struct cfg_probe c = {0};
	struct probe_link p;
	probe_link_init(&p, &c, 0);
	assert_int_equal(p.interval_ns, PROBE_DEFAULT_INTERVAL_MS * MS);
	assert_int_equal(p.window, PROBE_DEFAULT_WINDOW);
	assert_int_equal(p.cap_ns, 3 * PROBE_DEFAULT_INTERVAL_MS * MS);

	c = cfg_default();
	c.loss_window = 100000;
	probe_link_init(&p, &c, 0);
	assert_int_equal(p.window, PROBE_WINDOW_MAX);
	/* The clamped ring still works end to end. */
	for (int i = 0; i < 3 * PROBE_WINDOW_MAX; i++) {
		uint64_t t = (uint64_t)i * 100 * MS;
		uint32_t id = probe_on_send(&p, t);
		struct wire_probe_reply r = {.probe_id = id, .echo_tx_ns = t};
		probe_on_reply(&p, &r, t + 10 * MS);
	}
	assert_int_equal(p.window_answered, PROBE_WINDOW_MAX);
	assert_int_equal(p.unknown_replies, 0);
	assert_string_equal(probe_state_name(p.state), "up");
}

static void test_next_deadline(void **state)
{
	struct cfg_probe c = cfg_default();
	struct probe_link p;
	probe_link_init(&p, &c, 0);
	assert_int_equal(probe_next_deadline(&p), UINT64_MAX);
	probe_on_send(&p, 1000 * MS);
	assert_int_equal(probe_next_deadline(&p), 1200 * MS);
	/* Running early changes nothing. */
	assert_int_equal(probe_tick(&p, 1199 * MS), 0);
	assert_int_equal(p.lost, 0);
	assert_int_equal(probe_tick(&p, 1200 * MS), 0); /* lost while down */
	assert_int_equal(p.lost, 1);
	assert_int_equal(p.window_lost, 0); /* sent while down: not counted */
	assert_int_equal(probe_next_deadline(&p), UINT64_MAX);
}

/* ---- early DOWN (missed-probe signal) ---- */

/* Probes sent in [from, to) are lost, whatever their number (the extra
 * probes of the early signal shift the numbering). */
struct window_path {
	struct sim *s;
	uint64_t rtt_ns, dead_from_ns, dead_to_ns;
	const uint8_t *lose; /* optional per-number loss mask */
	size_t n_lose;
};

static int path_window(void *ctx, uint64_t n, uint64_t *rtt)
{
	struct window_path *w = ctx;
	*rtt = w->rtt_ns;
	if (w->s->now >= w->dead_from_ns && w->s->now < w->dead_to_ns)
		return 0;
	return !(n < w->n_lose && w->lose[n]);
}

/*
 * A link the scheduler fills: data out every 5 ms; data back every 5 ms
 * while rx_alive says so (one-way delay 10 ms, so packets sent before the
 * death still arrive for 10 ms).
 */
static void sim_busy(struct sim *s, uint64_t from, uint64_t to,
		     const struct window_path *w, int rx_flows)
{
	for (uint64_t t = from; t < to; t += 5 * MS) {
		sim_until(s, t);
		probe_on_tx_bytes(&s->p, t, 1200);
		int alive = t < 10 * MS || !(t - 10 * MS >= w->dead_from_ns &&
					     t - 10 * MS < w->dead_to_ns);
		if (rx_flows && alive)
			probe_on_rx_bytes(&s->p, t, 1200);
	}
	sim_until(s, to);
}

static void test_early_down_busy_link(void **state)
{
	struct cfg_probe c = cfg_default();
	struct sim s;
	struct window_path w = {.s = &s,
				.rtt_ns = 20 * MS,
				.dead_from_ns = 1003 * MS,
				.dead_to_ns = UINT64_MAX};
	sim_init(&s, &c, path_window, &w);
	s.honor_send = 1;
	sim_busy(&s, 0, 1003 * MS, &w, 1);
	assert_int_equal(s.p.state, PLS_UP);
	assert_int_equal(s.state_changes, 1);
	assert_int_equal(s.p.suspects, 0); /* never a false alarm */
	assert_int_equal(probe_suspect_timeout_ns(&s.p), 40 * MS);

	/* Both directions die at 1003 ms (after the probe of 1000 ms). */
	sim_busy(&s, 1003 * MS, 1200 * MS, &w, 1);
	assert_int_equal(s.p.state, PLS_DOWN);
	assert_int_equal(s.p.suspect, 1);
	assert_int_equal(s.state_changes, 2);
	/* Data heard last at 1008 ms: rto/4 = 10 ms of silence with data
	 * going out asks for a probe at 1018 ms (lost). The reply to the
	 * probe of 1000 ms still comes at 1020 ms and the silence starts
	 * again: another probe at 1030 ms. The probe of 1018 ms, newer than
	 * any answered, is rto = 40 ms overdue at 1058 ms, with 38 ms of
	 * silence (>= rto/2): down 55 ms after the death, a fifth of the
	 * three-interval timeout, and one more probe asked with it. */
	assert_int_equal(s.p.early_probes, 3);
	assert_int_equal(s.last_change_ns, 1058 * MS);
	assert_int_equal(s.p.srtt_us, 20000); /* kept while suspected */

	/* Silence goes on: confirmed DOWN at 1010 + 300 ms, not reported
	 * again, estimators restarted. */
	sim_busy(&s, 1200 * MS, 2000 * MS, &w, 1);
	assert_int_equal(s.p.state, PLS_DOWN);
	assert_int_equal(s.p.suspect, 0);
	assert_int_equal(s.state_changes, 2);
	assert_int_equal(s.p.suspects_cleared, 0);
	assert_int_equal(s.p.srtt_us, 20000); /* value kept, not valid */
	assert_int_equal(s.p.window_lost, 0);
}

/* The same death on a lossy (degraded) link: one overdue probe there is
 * as likely its loss, so the early DOWN asks once more and waits for that
 * probe to be overdue too. Still early, but later than on a healthy link;
 * and a lossy link that is alive is never taken for dead by one loss. */
static void test_early_down_lossy_link_waits_for_two(void **state)
{
	struct cfg_probe c = cfg_default();
	struct sim s;
	struct window_path w = {.s = &s,
				.rtt_ns = 20 * MS,
				.dead_from_ns = 1003 * MS,
				.dead_to_ns = UINT64_MAX};
	(void)state;
	sim_init(&s, &c, path_window, &w);
	s.honor_send = 1;
	sim_busy(&s, 0, 1003 * MS, &w, 1);
	assert_int_equal(s.p.state, PLS_UP);
	s.p.state = PLS_DEGRADED; /* as the loss window would make it */
	sim_busy(&s, 1003 * MS, 1200 * MS, &w, 1);
	assert_int_equal(s.p.state, PLS_DOWN);
	assert_int_equal(s.p.suspect, 1);
	/* later than the healthy link's 1058 ms, long before 1310 ms */
	assert_true(s.last_change_ns > 1058 * MS);
	assert_true(s.last_change_ns < 1150 * MS);
}

static void test_early_down_false_alarm_clears(void **state)
{
	/* Upload only: data goes out, nothing but replies comes back, and
	 * the probes sent in [1999, 2025) ms are lost (the regular one of
	 * 2000 ms and the one asked at 2020 ms). The link looks dead for a
	 * moment and is back with the reply to the probe asked with the
	 * suspicion, estimators intact. */
	struct cfg_probe c = cfg_default();
	struct sim s;
	struct window_path w = {.s = &s,
				.rtt_ns = 20 * MS,
				.dead_from_ns = 1999 * MS,
				.dead_to_ns = 2025 * MS};
	sim_init(&s, &c, path_window, &w);
	s.honor_send = 1;
	sim_busy(&s, 0, 1900 * MS, &w, 0);
	assert_int_equal(s.p.state, PLS_UP);
	uint64_t srtt = s.p.srtt_us;
	int changes = s.state_changes;
	sim_busy(&s, 1900 * MS, 3000 * MS, &w, 0);
	assert_int_equal(s.p.suspects, 1);
	assert_int_equal(s.p.suspects_cleared, 1);
	assert_int_equal(s.p.state, PLS_UP);
	assert_int_equal(s.state_changes, changes + 2); /* down, up */
	assert_true(s.p.early_probes > 0); /* silence between replies */
	assert_int_equal(s.p.srtt_us, srtt);
	assert_int_equal(s.p.lost, 2);
}

static void test_lost_probe_answered_later_is_no_alarm(void **state)
{
	/* Upload only, the probe of 2000 ms alone is lost: the probe asked
	 * at 2020 ms on silence is answered before the lost one is overdue,
	 * so the link outlived it and is never suspected. */
	struct cfg_probe c = cfg_default();
	struct sim s;
	struct window_path w = {.s = &s,
				.rtt_ns = 20 * MS,
				.dead_from_ns = 1999 * MS,
				.dead_to_ns = 2001 * MS};
	sim_init(&s, &c, path_window, &w);
	s.honor_send = 1;
	sim_busy(&s, 0, 3000 * MS, &w, 0);
	assert_int_equal(s.p.suspects, 0);
	assert_int_equal(s.state_changes, 1);
	assert_int_equal(s.p.lost, 1);
	assert_int_equal(s.p.state, PLS_UP);
}

static void test_suspect_timeout_counts_queue_once(void **state)
{
	/* A busy link: 20 ms of path, probes queued behind data up to
	 * 65 ms. srtt + 4 * rttvar holds that queue; 2 * srtt (130 ms)
	 * would count it twice. An idle path whose rttvar decayed keeps
	 * room for a queue of one propagation delay: 2 * min RTT. */
	static const uint64_t busy[] = {20, 40, 60, 65, 62, 66, 64, 65};
	struct table_path t = {.rtt_ms = busy, .n = 8};
	struct cfg_probe c = cfg_default();
	struct sim s;
	sim_init(&s, &c, path_table, &t);
	sim_until(&s, 3000 * MS);
	assert_int_equal(s.p.min_rtt_us, 20000);
	uint64_t rto = probe_suspect_timeout_ns(&s.p);
	uint64_t want = (s.p.srtt_us + 4 * s.p.rttvar_us) * US;
	assert_int_equal(rto, want);
	assert_true(rto < 2 * s.p.srtt_us * US);
	assert_true(rto > 65 * MS); /* above the queued probes' RTT */
	assert_int_equal(probe_suspect_silence_ns(&s.p), rto / 2);
	assert_int_equal(probe_ask_silence_ns(&s.p), rto / 4);

	struct fixed_path f = fixed(20);
	sim_init(&s, &c, path_fixed, &f);
	sim_until(&s, 3000 * MS);
	assert_int_equal(probe_suspect_timeout_ns(&s.p), 40 * MS);
	assert_int_equal(probe_ask_silence_ns(&s.p), 10 * MS);
}

static void test_idle_lossy_link_never_suspected(void **state)
{
	/* Probes only, one in 25 lost: the regular machinery's business. */
	uint8_t lose[400] = {0};
	for (int i = 30; i < 400; i += 25)
		lose[i] = 1;
	struct cfg_probe c = cfg_default();
	struct sim s;
	struct window_path w = {.s = &s,
				.rtt_ns = 20 * MS,
				.dead_from_ns = UINT64_MAX,
				.lose = lose,
				.n_lose = sizeof(lose)};
	sim_init(&s, &c, path_window, &w);
	s.honor_send = 1;
	sim_until(&s, 40000 * MS);
	assert_int_equal(s.p.suspects, 0);
	assert_int_equal(s.p.early_probes, 0);
	assert_int_equal(s.state_changes, 1);
	assert_true(s.p.lost >= 14);
}

static void test_recovery_asks_next_probe_at_once(void **state)
{
	struct cfg_probe c = cfg_default();
	struct sim s;
	struct window_path w = {.s = &s,
				.rtt_ns = 20 * MS,
				.dead_from_ns = 1000 * MS,
				.dead_to_ns = 2950 * MS};
	sim_init(&s, &c, path_window, &w);
	s.honor_send = 1;
	sim_until(&s, 2990 * MS);
	assert_int_equal(s.p.state, PLS_DOWN);
	/* Probe of 3000 ms answered at 3020 ms asks for another at once,
	 * answered at 3040 ms: up two round trips after the first probe
	 * got through, not an interval later. */
	sim_until(&s, 3100 * MS);
	assert_int_equal(s.p.state, PLS_UP);
	assert_int_equal(s.last_change_ns, 3040 * MS);
	assert_int_equal(s.extra_sent, 1);
}

static void test_data_tx_marks_use(void **state)
{
	struct cfg_probe c = cfg_default();
	struct probe_link p;
	probe_link_init(&p, &c, 0);
	probe_on_send(&p, 100 * MS);
	probe_on_tx_bytes(&p, 100 * MS, 80); /* the probe itself */
	assert_int_equal(p.last_data_tx_ns, 0);
	probe_on_rx(&p, 150 * MS);
	probe_on_tx_bytes(&p, 150 * MS, 80); /* an answer to it */
	assert_int_equal(p.last_data_tx_ns, 0);
	probe_on_tx_bytes(&p, 151 * MS, 1200);
	assert_int_equal(p.last_data_tx_ns, 151 * MS);
	/* a link-model feedback report: in the rate, not "in use" (a link
	 * idle this way but reporting on the other stays idle) */
	uint64_t bytes = p.tx.bytes;
	probe_on_tx_ctl_bytes(&p, 170 * MS, 96);
	assert_int_equal(p.last_data_tx_ns, 151 * MS);
	assert_int_equal(p.tx.bytes, bytes + 96);
}

/* ---- rates ---- */

static void test_rates_converge_and_decay(void **state)
{
	struct cfg_probe c = cfg_default();
	struct probe_link p;
	probe_link_init(&p, &c, 0);
	/* 1250 bytes every 1 ms = 10 Mbit/s in, 5 Mbit/s out. */
	uint64_t t;
	for (t = 1; t <= 3000; t++) {
		probe_on_rx_bytes(&p, t * MS, 1250);
		probe_on_tx_bytes(&p, t * MS, 625);
	}
	assert_true(p.rx_rate_bps > 9900000 && p.rx_rate_bps < 10100000);
	assert_true(p.tx_rate_bps > 4950000 && p.tx_rate_bps < 5050000);
	assert_int_equal(p.last_heard_ns, 3000 * MS);

	/* Idle: ticks at the deadlines decay both towards zero. */
	t = 3000 * MS;
	for (int i = 0; i < 60; i++) {
		uint64_t d = probe_next_deadline(&p);
		if (d == UINT64_MAX)
			break;
		t = d;
		probe_tick(&p, t);
	}
	assert_true(p.rx_rate_bps < 100000);
	assert_true(p.tx_rate_bps < 50000);

	/* A long gap decays at once on the next event. */
	probe_link_init(&p, &c, 0);
	for (t = 1; t <= 1000; t++)
		probe_on_rx_bytes(&p, t * MS, 1250);
	assert_true(p.rx_rate_bps > 9000000);
	probe_on_rx_bytes(&p, 60000 * MS, 1250);
	assert_true(p.rx_rate_bps < 1000000);
}

/* ---- reorder hold hint ---- */

static void test_hold_hint_two_links(void **state)
{
	struct cfg_probe c = cfg_default();
	struct fixed_path f15 = fixed(15), f40 = fixed(40);
	static struct sim a, b;
	sim_init(&a, &c, path_fixed, &f15);
	sim_init(&b, &c, path_fixed, &f40);
	sim_until(&a, 3000 * MS);
	sim_until(&b, 3000 * MS);
	struct probe_link links[2] = {a.p, b.p};
	assert_int_equal(probe_hold_hint_us(links, 2), 12500);

	struct probe_hint h;
	probe_hint_init(&h);
	probe_hint_add(&h, &a.p);
	probe_hint_add(&h, &b.p);
	assert_int_equal(probe_hint_owd_diff_us(&h, &a.p), 0);
	assert_int_equal(probe_hint_owd_diff_us(&h, &b.p), 12500);

	/* One link alone: nothing to reorder against. */
	assert_int_equal(probe_hold_hint_us(links, 1), 0);
	/* A DOWN link does not count. */
	links[1].state = PLS_DOWN;
	assert_int_equal(probe_hold_hint_us(links, 2), 0);
}

static void test_hold_hint_adds_jitter(void **state)
{
	uint64_t rtts[400];
	for (size_t i = 0; i < 400; i++)
		rtts[i] = i % 2 ? 36 : 44;
	struct table_path t = {rtts, 400};
	struct cfg_probe c = cfg_default();
	struct fixed_path f15 = fixed(15);
	static struct sim a, b;
	sim_init(&a, &c, path_fixed, &f15);
	sim_init(&b, &c, path_table, &t);
	sim_until(&a, 20000 * MS);
	sim_until(&b, 20000 * MS);
	struct probe_link links[2] = {a.p, b.p};
	uint64_t hint = probe_hold_hint_us(links, 2);
	uint64_t owd = (b.p.srtt_us - 15000) / 2;
	assert_true(b.p.jitter_us > 7500);
	assert_int_equal(hint, owd + b.p.jitter_us);
	assert_true(hint > 12500 + 7500 && hint < 12500 + 8000 + 2500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rtt_first_sample_and_convergence),
	    cmocka_unit_test(test_rtt_histogram),
	    cmocka_unit_test(test_rtt_hold_time_subtracted),
	    cmocka_unit_test(test_rtt_spike_then_recovery),
	    cmocka_unit_test(test_jitter_alternating),
	    cmocka_unit_test(test_min_rtt_window_expires),
	    cmocka_unit_test(test_loss_burst_and_slide),
	    cmocka_unit_test(test_loss_excused),
	    cmocka_unit_test(test_lost_only_after_deadline),
	    cmocka_unit_test(test_late_reply_repairs_loss),
	    cmocka_unit_test(test_unknown_and_duplicate_replies),
	    cmocka_unit_test(test_bogus_hold_time_keeps_life_drops_sample),
	    cmocka_unit_test(test_silence_down_within_three_intervals),
	    cmocka_unit_test(test_silence_down_slow_interval),
	    cmocka_unit_test(test_down_timeout_capped_by_config),
	    cmocka_unit_test(test_rx_keeps_alive_but_does_not_recover),
	    cmocka_unit_test(test_recovery_needs_two_replies),
	    cmocka_unit_test(test_flapping_replies_do_not_recover),
	    cmocka_unit_test(test_degraded_hysteresis_no_flap),
	    cmocka_unit_test(test_degraded_on_rtt),
	    cmocka_unit_test(test_degraded_rtt_leaves_below_three_quarters),
	    cmocka_unit_test(test_zero_threshold_is_off),
	    cmocka_unit_test(test_config_zero_and_oversized),
	    cmocka_unit_test(test_next_deadline),
	    cmocka_unit_test(test_early_down_busy_link),
	    cmocka_unit_test(test_early_down_lossy_link_waits_for_two),
	    cmocka_unit_test(test_early_down_false_alarm_clears),
	    cmocka_unit_test(test_lost_probe_answered_later_is_no_alarm),
	    cmocka_unit_test(test_suspect_timeout_counts_queue_once),
	    cmocka_unit_test(test_idle_lossy_link_never_suspected),
	    cmocka_unit_test(test_recovery_asks_next_probe_at_once),
	    cmocka_unit_test(test_data_tx_marks_use),
	    cmocka_unit_test(test_rates_converge_and_decay),
	    cmocka_unit_test(test_hold_hint_two_links),
	    cmocka_unit_test(test_hold_hint_adds_jitter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
