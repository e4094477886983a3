/*
 * The daemon side of the prober: sends a PROBE on every path each interval,
 * answers the peer's probes, feeds replies to the per-link estimators
 * (probe.c) and path-MTU search (pmtu.c), and tells the scheduler when link
 * state or metrics change. Both ends probe, so each has fresh figures for
 * the direction it schedules.
 */
#include <errno.h>
#include <string.h>

#include "daemon.h"
#include "datapath.h"
#include "base/log.h"
#include "peerctl.h"
#include "reorder.h"
#include "sched/sched_host.h"

/* Path-MTU probes carry this bit in their id so their loss (which is how a
 * too-large size shows) never counts as link loss. */
#define PMTU_PROBE_FLAG 0x80000000u

/* Bytes of outer packet around a probe body. */
static uint32_t probe_overhead(const struct session *s, const struct path *p)
{
	return (uint32_t)wire_outer_overhead(p->family) + WIRE_HDR_LEN +
	       (s->keys.mode == CRYPTO_NONE ? 0 : WIRE_TAG_LEN);
}

void prober_send_now(struct session *s, struct path *p, uint64_t now)
{
	uint8_t body[WIRE_PROBE_LEN];
	if (s->state != SESS_ESTABLISHED || p->fd < 0 || p->admin_down)
		return;
	struct wire_probe pr = {
	    .probe_id = probe_on_send(&p->probe, now) & ~PMTU_PROBE_FLAG,
	    .tx_ns = now,
	    .rx_packets = p->rx_packets,
	    .pad_to = 0,
	};
	size_t len = wire_probe_encode(body, sizeof(body), &pr);
	datapath_send_msg(s, p, WT_PROBE, body, len, now);
}

/* One padded probe of the size the PMTU search wants next, if any. */
static void pmtu_send(struct session *s, struct path *p, uint64_t now)
{
	struct daemon *d = s->d;
	if (p->pmtu_probe_size) {
		uint64_t timeout = probe_loss_timeout_ns(&p->probe);
		if (now - p->pmtu_probe_sent_ns < timeout)
			return;
		pmtu_on_timeout(&p->pmtu, p->pmtu_probe_size);
		p->pmtu_probe_size = 0;
	}
	if (p->probe.state == PLS_DOWN)
		return;
	uint32_t size = pmtu_next_probe_size(&p->pmtu, now);
	uint32_t over = probe_overhead(s, p);
	if (!size || size <= over + WIRE_PROBE_LEN ||
	    size - over > d->buf_size - WIRE_HDR_LEN - WIRE_TAG_LEN)
		return;
	uint32_t body_len = size - over;
	uint8_t *body = d->rx->buf; /* scratch: not in a receive batch now */
	struct wire_probe pr = {
	    .probe_id = ++p->pmtu_probe_id | PMTU_PROBE_FLAG,
	    .tx_ns = now,
	    .rx_packets = p->rx_packets,
	    .pad_to = (uint16_t)body_len,
	};
	size_t len = wire_probe_encode(body, body_len, &pr);
	if (datapath_send_msg(s, p, WT_PROBE, body, len, now) == 0) {
		p->pmtu_probe_size = size;
		p->pmtu_probe_sent_ns = now;
	} else {
		p->pmtu_probe_size = 0;
	}
}

void prober_on_probe(struct session *s, struct path *p, const uint8_t *body,
		     size_t len, uint64_t now)
{
	struct wire_probe pr;
	uint8_t out[WIRE_PROBE_REPLY_LEN];
	if (wire_probe_decode(body, len, &pr) < 0) {
		s->rx_bad++;
		return;
	}
	struct wire_probe_reply r = {
	    .probe_id = pr.probe_id,
	    .echo_tx_ns = pr.tx_ns,
	    .rx_packets = p->rx_packets,
	    .hold_us = 0,
	    .probe_len = (uint16_t)len,
	};
	size_t n = wire_probe_reply_encode(out, &r);
	datapath_send_msg(s, p, WT_PROBE_REPLY, out, n, now);
}

void prober_on_reply(struct session *s, struct path *p, const uint8_t *body,
		     size_t len, uint64_t now)
{
	struct wire_probe_reply r;
	if (wire_probe_reply_decode(body, len, &r) < 0) {
		s->rx_bad++;
		return;
	}
	if (r.probe_id & PMTU_PROBE_FLAG) {
		if (r.probe_id == (p->pmtu_probe_id | PMTU_PROBE_FLAG) &&
		    p->pmtu_probe_size) {
			uint32_t size = r.probe_len + probe_overhead(s, p);
			pmtu_on_ack(&p->pmtu, size);
			p->pmtu_probe_size = 0;
		}
		return;
	}
	uint64_t replies = p->probe.replies;
	int ev = probe_on_reply(&p->probe, &r, now);
	if (p->fb_stalled) {
		/* The path answers: the stall the feedback saw is over (or
		 * was a false alarm); the prober judges it from here. */
		p->fb_stalled = false;
		p->lm.stalled = false;
		ev |= PROBE_EV_STATE;
	}
	if (ev)
		s->views_dirty = true;
	if (p->probe.replies != replies)
		session_feedback(s, TTT_FB_RTT, p->id, 0, 0,
				 p->probe.last_rtt_us, 0, now);
	if (ev & PROBE_EV_STATE) {
		/* A link came back: tell the scheduler now, not next tick. */
		session_refresh_views(s, now);
		struct ttt_sched_ctx ctx;
		session_fill_ctx(s, &ctx, now);
		sched_links_changed(s->sched, &ctx);
	}
	/* A returning link wants the rest of its proof now. */
	if (ev & PROBE_EV_SEND)
		prober_send_now(s, p, now);
}

/* Floor of the polling period while a link carries data (ns). */
#define PROBER_BUSY_POLL_MIN_NS (5ull * 1000000ull)
/* A timer firing this early still counts as the probe round (ns). */
#define PROBER_ROUND_SLACK_NS (1000000ull)

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * One pass over a session's paths. On a probe round (every interval) it
 * sends the probes and refreshes every view; between rounds it only runs
 * the estimators' deadlines (early DOWN, lost probes) and tells the
 * scheduler when something changed. Returns when it wants to run next.
 * A path that carried data in the last interval is also polled at half its
 * ask silence (at least every PROBER_BUSY_POLL_MIN_NS): the early DOWN's
 * deadlines only exist while data goes unanswered, which starts with a
 * packet sent after this pass, and nothing here sees the sends.
 */
/*
 * A link whose losses are being recovered (the far end NACKs what we send
 * on it, or we get resends of what it lost, within the last few seconds)
 * carries its capacity despite them: its probe loss up to the recovery
 * budget does not make it DEGRADED (schedulers would move traffic off a
 * link whose capacity recovery makes usable). Above the budget, recovery
 * cannot keep up and the usual threshold applies again.
 */
#define PROBER_REC_ACTIVE_NS 10000000000ull

static void prober_excuse_loss(struct session *s, struct path *p, uint64_t now)
{
	const struct cfg_recovery *rc = &s->d->cfg.recovery;
	uint64_t seen = p->rec.nacks_rx + p->rec.recovered;
	if (seen != p->rec.seen) {
		p->rec.seen = seen;
		p->rec.active_ns = now;
	}
	bool active = rc->enabled && p->rec.active_ns &&
		      now - p->rec.active_ns < PROBER_REC_ACTIVE_NS;
	p->probe.loss_excused_ppm =
	    active ? (uint32_t)rc->budget_pct * 10000u : 0;
}

static uint64_t session_probe_tick(struct session *s, uint64_t now, bool round)
{
	uint64_t next = UINT64_MAX;
	bool changed = false;
	for (uint32_t i = 0; i < s->n_paths; i++) {
		struct path *p = &s->paths[i];
		if (!p->sess)
			continue;
		bool can_send = p->known && p->fd >= 0 && !p->admin_down;
		if (round && can_send) {
			prober_send_now(s, p, now);
			pmtu_send(s, p, now);
		}
		prober_excuse_loss(s, p, now);
		int ev = probe_tick(&p->probe, now);
		if ((ev & PROBE_EV_SEND) && can_send)
			prober_send_now(s, p, now);
		if (ev & (PROBE_EV_STATE | PROBE_EV_METRICS))
			changed = true;
		next = min_u64(next, probe_next_deadline(&p->probe));
		uint64_t last_data = p->probe.last_data_tx_ns;
		if (can_send && last_data &&
		    now - last_data < p->probe.interval_ns) {
			uint64_t poll = probe_ask_silence_ns(&p->probe) / 2;
			if (poll < PROBER_BUSY_POLL_MIN_NS)
				poll = PROBER_BUSY_POLL_MIN_NS;
			next = min_u64(next, now + poll);
		}
	}
	if (!round && !changed)
		return next;
	/* Metrics drift every round, so schedulers get fresh views each round
	 * whether or not a state changed (refresh logs state changes). */
	session_refresh_views(s, now);
	session_update_hold(s);
	session_update_retx_age(s);
	if (s->sched) {
		struct ttt_sched_ctx ctx;
		session_fill_ctx(s, &ctx, now);
		sched_links_changed(s->sched, &ctx);
	}
	if (s->reorder)
		session_arm_reorder(s, reorder_next_deadline(s->reorder), now);
	return next;
}

/*
 * The prober's one timer: probe rounds every interval, and in between
 * whatever deadline the estimators or the busy-link polling ask for.
 */
void prober_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	uint64_t now = now_ns(d);
	uint64_t iv =
	    (uint64_t)(d->cfg.probe.interval_ms ? d->cfg.probe.interval_ms
						: PROBE_DEFAULT_INTERVAL_MS) *
	    1000000ull;
	bool round = now + PROBER_ROUND_SLACK_NS >= d->probe_next_send_ns;
	if (round) {
		/* Keep the cadence; after a stall, restart it from now. */
		uint64_t t = d->probe_next_send_ns + iv;
		d->probe_next_send_ns = t > now ? t : now + iv;
	}
	uint64_t next = d->probe_next_send_ns;
	for (uint32_t i = 0; i < d->max_sessions; i++) {
		struct session *s = d->sessions[i];
		if (s && s->state == SESS_ESTABLISHED) {
			next = min_u64(next, session_probe_tick(s, now, round));
			session_rekey_tick(s, now); /* rekey.c: due? */
		}
	}
	double after = next > now ? (double)(next - now) / 1e9 : 0.0;
	if (after < 0.001)
		after = 0.001;
	w->repeat = after;
	ev_timer_again(loop, w);
}
