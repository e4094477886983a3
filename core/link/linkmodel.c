/*
 * Link model: estimator and pacing controller of one link (rules in
 * linkmodel.h, reasons in docs/link-model.md). Pure: no clock, no I/O.
 */
#include "link/linkmodel.h"

#include <string.h>

/* a < b on a wrapping 32-bit clock */
static bool lt32(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static uint64_t clamp_rate(const struct lm *m, uint64_t r)
{
	if (m->cfg.ceiling_bps && r > m->cfg.ceiling_bps)
		r = m->cfg.ceiling_bps;
	if (r < LM_MIN_BPS)
		r = LM_MIN_BPS;
	return r;
}

void lm_init(struct lm *m, const struct lm_cfg *c)
{
	memset(m, 0, sizeof(*m));
	m->cfg = *c;
	if (!m->cfg.initial_bps)
		m->cfg.initial_bps = LM_DEFAULT_INITIAL;
	if (!m->cfg.target_us)
		m->cfg.target_us = LM_DEFAULT_TARGET;
	m->phase = LM_STARTUP;
	m->pacing_bps = clamp_rate(m, m->cfg.initial_bps);
	lm_set_ceiling(m, m->cfg.ceiling_bps);
}

/* A link with a configured rate and nothing measured yet starts there, in
 * STEADY: the user's figure is the best guess until feedback corrects it
 * (down, if it was too high). */
void lm_set_ceiling(struct lm *m, uint64_t ceiling_bps)
{
	bool first = ceiling_bps && !m->cfg.ceiling_bps;
	m->cfg.ceiling_bps = ceiling_bps;
	if (ceiling_bps && (!m->have_fb || (first && m->phase == LM_STARTUP &&
					    m->pacing_bps < ceiling_bps))) {
		m->pacing_bps = ceiling_bps;
		m->phase = LM_STEADY;
	}
	m->pacing_bps = clamp_rate(m, m->pacing_bps);
}

uint32_t lm_on_sent(struct lm *m, uint32_t bytes, uint32_t tx_us)
{
	uint32_t seq = ++m->tx_seq;
	if (!seq) /* 0 is never a path_seq */
		seq = ++m->tx_seq;
	m->sent_pkts++;
	m->sent_bytes += bytes;
	struct lm_sent *e = &m->sent[seq & (LM_SENT_RING - 1)];
	e->seq = seq;
	e->tx_us = tx_us;
	e->cum_bytes = m->sent_bytes;
	return seq;
}

uint64_t lm_aqm_target_ns(uint64_t cfg_ns, uint64_t rtt_us)
{
	uint64_t t = rtt_us * 1000 / LM_AQM_RTT_DIV;
	return t > cfg_ns ? t : cfg_ns;
}

uint64_t lm_aqm_interval_ns(uint64_t cfg_ns, uint64_t target_ns,
			    uint64_t hold_ns)
{
	uint64_t ivl = cfg_ns > 4 * target_ns ? cfg_ns : 4 * target_ns;
	return ivl + LM_AQM_HOLD_MULT * hold_ns;
}

uint32_t lm_base_owd(const struct lm *m)
{
	if (!m->have_base)
		return 0;
	return lt32(m->base_prev, m->base_cur) ? m->base_prev : m->base_cur;
}

/* Two-bucket windowed minimum of the report's min OWD. */
static void base_update(struct lm *m, uint64_t now, uint32_t owd)
{
	if (!m->have_base) {
		m->have_base = true;
		m->base_cur = m->base_prev = owd;
		m->base_start_ns = now;
		return;
	}
	if (now - m->base_start_ns >= LM_BASE_BUCKET_NS) {
		m->base_prev = m->base_cur;
		m->base_cur = owd;
		m->base_start_ns = now;
	} else if (lt32(owd, m->base_cur)) {
		m->base_cur = owd;
	}
}

static void cap_reset(struct lm *m, uint64_t now, uint64_t r)
{
	m->cap_cur = m->cap_prev = r;
	m->cap_start_ns = now;
	m->capacity_bps = r;
	m->cap_reset_rx_us = m->rx_us64;
}

/* Two-bucket windowed maximum of delivery-rate samples. */
static void cap_update(struct lm *m, uint64_t now, uint64_t r, bool demand)
{
	if (!m->capacity_bps) {
		/* A capacity is only what a full link delivered: with
		 * demand, and either a fair share of what the pacer offered
		 * or a queue standing. `demand` alone (the pacer held a
		 * packet lately) is also the first initial-window burst of a
		 * session: a link with `rate:` paced at 24 Mbit/s took the
		 * handshake's trickle, 0.04 Mbit/s, for its capacity, and
		 * earliest-arrival, which plans with the estimate, left it
		 * unused for 7 s (a download on the other link alone). */
		if (demand && (r >= m->pacing_bps / LM_FIRST_CAP_DIV ||
			       m->qdelay_us > m->cfg.target_us / 2))
			cap_reset(m, now, r);
		return;
	}
	if (now - m->cap_start_ns >= LM_CAP_BUCKET_NS) {
		/* App-limited buckets do not age a measured capacity out. */
		if (m->cap_cur || demand) {
			m->cap_prev = m->cap_cur;
			m->cap_cur = 0;
		}
		m->cap_start_ns = now;
	}
	if ((demand || r > m->capacity_bps) && r > m->cap_cur)
		m->cap_cur = r;
	m->capacity_bps = m->cap_cur > m->cap_prev ? m->cap_cur : m->cap_prev;
}

/* Delivery rate over the newest LM_RATE_WIN_US of reports, 0 if unknown.
 * The window never reaches back past the last reset of the capacity
 * estimate: one that did mixed in what the link delivered before a step
 * down (12.8 Mbit/s on a link just fallen from 20 to 6), raised the
 * filter again right after the cut, and held it there for the filter's
 * two seconds. */
static uint64_t rate_window(const struct lm *m)
{
	if (m->hist_n < 2)
		return 0;
	uint32_t newest = (m->hist_head + LM_HIST - 1) % LM_HIST;
	uint32_t pick = newest;
	for (uint32_t k = 1; k < m->hist_n; k++) {
		uint32_t i = (newest + LM_HIST - k) % LM_HIST;
		if (m->capacity_bps && m->hist[i].rx_us < m->cap_reset_rx_us)
			break;
		pick = i;
		if (m->hist[newest].rx_us - m->hist[i].rx_us >= LM_RATE_WIN_US)
			break;
	}
	uint64_t dt = m->hist[newest].rx_us - m->hist[pick].rx_us;
	if (dt < 5000) /* too short to mean anything */
		return 0;
	return (m->hist[newest].bytes - m->hist[pick].bytes) * 8000000ull / dt;
}

static void hist_push(struct lm *m, uint64_t rx_us, uint64_t bytes)
{
	m->hist[m->hist_head].rx_us = rx_us;
	m->hist[m->hist_head].bytes = bytes;
	m->hist_head = (m->hist_head + 1) % LM_HIST;
	if (m->hist_n < LM_HIST)
		m->hist_n++;
}

/* How late past its base delay a packet may arrive and still be on its
 * way: half an RTT, the largest queueing delay seen lately, a margin. */
static uint32_t late_us(const struct lm *m, uint64_t srtt_us)
{
	return (uint32_t)(srtt_us < 1000000 ? srtt_us : 1000000) /
		   LM_STALL_RTT_DIV +
	       m->qdelay_max_us + LM_STALL_MARGIN_US;
}

/*
 * Is even the newest packet sent on the link overdue at this report? Then
 * what the far end has not got is lost, not in flight. Why it matters: a
 * link stepping down from 20 to 6 Mbit/s overflowed its modem buffer, its
 * last two packets were dropped, and the scheduler, which counts a link's
 * queueing delay while it has bytes in flight, saw it 99 ms slower for
 * good (the last report's delay) and never fed it again: no new report
 * could correct the delay, and the bond ran on the other link alone for
 * the whole 10 s of the step (status samples, docs/link-model.md).
 */
static bool overdue_lost(const struct lm *m, const struct lm_fb *fb,
			 uint64_t srtt_us)
{
	const struct lm_sent *e = &m->sent[m->tx_seq & (LM_SENT_RING - 1)];
	if (!m->have_base || e->seq != m->tx_seq ||
	    !lt32(fb->high_seq, m->tx_seq))
		return false;
	return lt32(e->tx_us + lm_base_owd(m) + late_us(m, srtt_us),
		    fb->gen_us);
}

/*
 * Overdue check of the packets the report does not cover. A tail loss (the
 * last packet or two of a burst lost, nothing after them) also leaves an
 * overdue packet behind, so it takes LM_STALL_PKTS overdue packets: a busy
 * link that died has many, a lossy one that still delivers has none after
 * its losses. A verdict lifted by a probe answer is not made again for the
 * same packets.
 */
static int stall_check(struct lm *m, const struct lm_fb *fb, uint64_t srtt_us)
{
	uint32_t next = fb->high_seq + 1;
	if (!m->have_base || !lt32(fb->high_seq, m->tx_seq) ||
	    fb->interval_pkts) {
		/* all in, or something arrived since the last report: alive
		 * (perhaps lossy or slow, which is the prober's business) */
		m->stall_n = 0;
		m->stalled = false;
		return 0;
	}
	/* late = half an RTT (the delay's variation beyond what the queue
	 * shows: a path at most that much longer one way) plus the largest
	 * queueing delay seen lately plus a margin past the base. A full RTT
	 * here made the verdict come ~85 ms after a busy link died, the
	 * prober's early DOWN as late; the second report still rules out a
	 * receiver slow to read, and a sender's stall sends nothing to be
	 * overdue. */
	uint32_t late = late_us(m, srtt_us);
	uint32_t base = lm_base_owd(m), overdue = 0;
	for (uint32_t seq = next;
	     overdue < LM_STALL_PKTS && !lt32(m->tx_seq, seq); seq++) {
		const struct lm_sent *e = &m->sent[seq & (LM_SENT_RING - 1)];
		if (e->seq != seq)
			return 0; /* too old to judge: leave the verdict */
		if (!lt32(e->tx_us + base + late, fb->gen_us))
			break;
		overdue++;
	}
	if (overdue < LM_STALL_PKTS) {
		m->stall_n = 0;
		m->stalled = false;
		return 0;
	}
	if (!m->stall_n++) {
		m->stall_us = fb->gen_us;
		return 0;
	}
	if ((uint32_t)(fb->gen_us - m->stall_us) < LM_STALL_SPAN_US ||
	    m->stalled || m->stall_seq == next)
		return 0;
	m->stalled = true;
	m->stall_seq = next;
	m->stalls++;
	return LM_EV_STALL;
}

bool lm_loss_congestion(uint32_t round_loss_ppm, uint32_t q0_us, uint32_t q_us,
			uint32_t target_us)
{
	if (round_loss_ppm <= LM_LOSS_CONG_PPM || q_us <= target_us / 4)
		return false;
	return q_us > target_us / 2 || q_us > q0_us + target_us / 4;
}

/* Closes a loss round (one smoothed RTT, at least 20 ms, of reports) and
 * says whether its loss was congestion; false while a round is open. */
static bool loss_round(struct lm *m, uint64_t now, uint32_t lost,
		       uint32_t dhigh, uint64_t rtt_ns)
{
	m->lr_lost += lost;
	m->lr_pkts += dhigh;
	if (!m->lr_start_ns) {
		m->lr_start_ns = now;
		m->lr_q0_us = m->qdelay_us;
		return false;
	}
	if (now - m->lr_start_ns < rtt_ns || !m->lr_pkts)
		return false;
	m->round_loss_ppm =
	    (uint32_t)((uint64_t)m->lr_lost * 1000000 / m->lr_pkts);
	bool cong = lm_loss_congestion(m->round_loss_ppm, m->lr_q0_us,
				       m->qdelay_us, m->cfg.target_us);
	if (!cong && m->round_loss_ppm > LM_LOSS_CONG_PPM)
		m->loss_ignored++;
	m->lr_start_ns = now;
	m->lr_q0_us = m->qdelay_us;
	m->lr_lost = m->lr_pkts = 0;
	return cong;
}

static void control(struct lm *m, uint64_t now, uint64_t rate, uint64_t inst,
		    uint64_t cut_inst, bool demand, bool lossy_queue,
		    uint64_t srtt_us, uint64_t dt_ns)
{
	uint64_t target = m->cfg.target_us;
	/* a standing queue shows in two reports in a row; one report's worth
	 * of delay is as likely a CPU hiccup at either end, unless it is
	 * large (a step down filling a deep buffer must be met at once) */
	bool queue = (m->qdelay_us > target && m->prev_qdelay_us > target) ||
		     m->qdelay_us > 4 * target;
	uint64_t rtt_ns = srtt_us > 20000 ? srtt_us * 1000 : 20000000ull;
	double p = (double)m->pacing_bps;
	if (m->backoff_qdelay_us && m->qdelay_us > m->qpeak_since_cut_us)
		m->qpeak_since_cut_us = m->qdelay_us;
	/* A queue is ours only while our own bytes can fill it: a standing
	 * delay of q at the delivery rate holds rate x q bytes, and those are
	 * bytes we sent that the far end has not reported. A link the
	 * scheduler stopped feeding (its queue made it look slow) still
	 * reports what its last packets met; cutting then to what that
	 * trickle delivered put the link at the 100 kbit/s floor, where its
	 * estimate could only regrow from what the floor delivers: unused
	 * for good after a step down. */
	uint64_t standing = rate * m->qdelay_us / 8000000ull;
	bool ours = m->inflight_bytes && 2 * m->inflight_bytes >= standing;

	if ((queue || lossy_queue) && (!demand || !ours) &&
	    m->phase == LM_STEADY) {
		/* Not a queue of ours: the pacer was not filling the link.
		 * Cutting to what app-limited traffic delivered would
		 * collapse the rate for nothing. */
	} else if (queue || lossy_queue) {
		m->grow_from_bps = 0; /* a queue: the growth found the limit */
		/* A step down into a deep buffer: the queue still grows past
		 * 4 x the target after a cut and the newest interval shows
		 * the link delivering under 70% of the estimate. The
		 * hold-off is for a queue that drains; this one fills (at 3x
		 * overload a 200 ms buffer overflows 70 ms after the step),
		 * so the cut to what arrives is not put off. */
		bool falling = m->qdelay_us > 4 * target &&
			       m->prev_qdelay_us > target && cut_inst &&
			       m->backoff_qdelay_us &&
			       m->qdelay_us > m->backoff_qdelay_us * 3 / 2 &&
			       cut_inst < m->capacity_bps * 7 / 10;
		if (m->phase == LM_STARTUP || now >= m->holdoff_ns || falling) {
			/* A queue already draining since the last backoff
			 * needs time, not another cut (cuts would compound
			 * while a deep buffer empties). Draining from its
			 * peak since the cut, not from the delay at the cut:
			 * the reports lag the pacer by the one-way delay, so
			 * a queue still rises for a report or two after a
			 * cut that already drains it (11 ms at the cut, 17
			 * ms a report later, 10.6 ms at the hold-off's end:
			 * measured on 20 Mbit/s 20 ms links, where that read
			 * as "not draining" cut the link a second time, to
			 * 79% of its capacity, in every 450 ms cycle). A
			 * deep queue still filling (`falling`) is cut. */
			bool draining =
			    m->backoff_qdelay_us && !falling &&
			    m->qdelay_us < m->qpeak_since_cut_us * 9 / 10;
			/* flat: neither drained nor grew since the cut */
			if (!draining && m->backoff_qdelay_us &&
			    m->qdelay_us <= m->backoff_qdelay_us * 11 / 10)
				m->cuts_in_row++;
			else
				m->cuts_in_row = 0;
			if (!draining && m->cuts_in_row >= LM_MAX_CUTS) {
				/* Cut after cut and the delay stands: it is
				 * not a queue we build (a longer route, a
				 * clock step): it is the new base. */
				m->base_cur = m->base_prev = m->last.owd_min_us;
				m->base_start_ns = now;
				m->qdelay_us = 0;
				m->cuts_in_row = 0;
				m->rebases++;
				draining = true;
			}
			if (!draining) {
				/* The estimate follows a real drop at once
				 * (what was delivered while the queue stood
				 * is the capacity); a dip of the sawtooth
				 * (the window saw the drained queue's idle
				 * moments) leaves the max filter alone. */
				uint64_t r = rate;
				/* A deep queue: what the newest interval
				 * delivered while it stood is the capacity;
				 * the 100 ms window still mixes in the rate
				 * from before a step down, and the first cut
				 * to 0.9 x that left the pacer at 3x a link
				 * that had fallen to 6 Mbit/s for a hold-off
				 * more, until its 200 ms buffer overflowed.
				 * Only for a queue that stood in the report
				 * before too: one report's spike (a Wi-Fi
				 * retry burst) with few packets in it is no
				 * measure of the link. */
				if (m->qdelay_us > 4 * target &&
				    m->prev_qdelay_us > target && cut_inst &&
				    cut_inst < r)
					r = cut_inst;
				if (r && (!m->capacity_bps ||
					  r < m->capacity_bps * 7 / 10))
					cap_reset(m, now, r);
				uint64_t ref =
				    m->capacity_bps ? m->capacity_bps : r;
				uint64_t base = ref && ref < m->pacing_bps
						    ? ref
						    : m->pacing_bps;
				/* deeper queue, deeper cut: drain it within
				 * about a second (BBR's drain, bounded) */
				double f =
				    LM_BACKOFF - (double)m->qdelay_us / 1e6;
				if (f < 0.5)
					f = 0.5;
				p = (double)base * f;
				if (!m->cut_from_bps) { /* first of a series */
					m->cut_from_bps = m->pacing_bps;
					m->cut_from_rx_us = m->rx_us64;
				}
				m->backoffs++;
				if (!queue)
					m->loss_cuts++;
			}
			m->backoff_qdelay_us = m->qdelay_us;
			m->qpeak_since_cut_us = m->qdelay_us;
			m->phase = LM_STEADY;
			m->holdoff_ns = now + rtt_ns + 50000000ull;
		}
	} else if (demand && now >= m->holdoff_ns) {
		m->backoff_qdelay_us = 0;
		m->qpeak_since_cut_us = 0;
		if (m->qdelay_us < target / 2)
			m->cuts_in_row = 0;
		uint64_t ref = m->capacity_bps > rate ? m->capacity_bps : rate;
		if (m->phase == LM_STARTUP &&
		    m->capacity_bps >= m->cfg.initial_bps &&
		    p >= 1.5 * (double)m->capacity_bps &&
		    (double)m->inflight_bytes * 8 >=
			(double)m->capacity_bps * (double)rtt_ns / 2e9 &&
		    now - m->round_ns >= rtt_ns) {
			/* BBR's full pipe: a round trip with demand that did
			 * not raise the estimate by 25% counts; three end
			 * the startup at the estimate. Only while the pacer
			 * offers well over what arrives (the link, not the
			 * pacer or the sender's window, is the limit), the
			 * link carried at least the initial rate, and the
			 * pipe is full: at least half a round trip at the
			 * estimate in flight. BBR skips app-limited rounds,
			 * and `demand` (the pacer held a packet in the last
			 * 100 ms) is too coarse to tell them: one held burst
			 * of a gigabit upload's ACKs made 100 ms of demand,
			 * five 20 ms rounds of a link with ~1 KB in flight,
			 * and STARTUP ended at the ACK stream's ~10 Mbit/s;
			 * the download that followed regrew from there at
			 * 100%/s, 5 s to a gigabit. */
			m->round_ns = now;
			if (m->capacity_bps >= m->full_bw + m->full_bw / 4) {
				m->full_bw = m->capacity_bps;
				m->full_cnt = 0;
			} else if (++m->full_cnt >= LM_FULL_ROUNDS) {
				m->phase = LM_STEADY;
				m->startup_full_exits++;
				p = (double)m->capacity_bps;
				goto out;
			}
		}
		if (m->phase == LM_STEADY && m->cut_from_bps &&
		    m->qdelay_us < target / 2) {
			/* the cut's hold-off is over and the queue is gone:
			 * cruise at the estimate again (BBR after drain) */
			uint64_t c = m->capacity_bps < m->cut_from_bps
					 ? m->capacity_bps
					 : m->cut_from_bps;
			m->cut_from_bps = 0;
			/* unless the link now delivers far less than that
			 * (a step down the max filter has not seen yet). An
			 * estimate reset during this series of cuts was
			 * measured while the queue stood, so it is the link
			 * even though the drain delivered less: regrowing
			 * from a deep buffer's drain rate (a third of the
			 * link after a step into 200 ms) took over a second
			 * at 100%/s. */
			bool fresh = m->cap_reset_rx_us >= m->cut_from_rx_us;
			if ((fresh || rate >= c * 8 / 10) &&
			    p < LM_CRUISE * (double)c) {
				p = LM_CRUISE * (double)c;
				goto out;
			}
		}
		if (m->phase == LM_STARTUP) {
			double g = 1.0 + (double)dt_ns / (double)rtt_ns;
			if (g > 1.5)
				g = 1.5;
			p *= g;
			if (inst > ref)
				ref = inst;
			/* BBR's STARTUP gain: at least 2/ln 2 x what arrives.
			 * A TCP in its own slow start doubles per round trip;
			 * a pacer that only grows from its own last rate held
			 * each new window in our queue for 10-25 ms, CUBIC's
			 * HyStart read that as the path's delay rising and
			 * ended slow start at a fraction of the BDP (cwnd 28
			 * or 50 where the bond needed ~190: seconds of slow
			 * congestion-avoidance growth; docs/link-model.md). */
			if (p < LM_STARTUP_GAIN * (double)ref)
				p = LM_STARTUP_GAIN * (double)ref;
			if (ref && p > 3.0 * (double)ref)
				p = 3.0 * (double)ref;
			/* A sender in its own slow start delivers a few
			 * packets per round trip: 3x that is not a link's
			 * limit. STARTUP has seen no congestion yet, so it
			 * never paces below where it began (a pacer at
			 * 3x a TCP's initial window held the next windows
			 * back for 180 ms, and the skew between the links
			 * made the far end's reorder buffer give packets
			 * up: spurious retransmissions, a collapsed
			 * cwnd for the rest of the transfer). */
			if (p < (double)m->cfg.initial_bps)
				p = (double)m->cfg.initial_bps;
		} else if (m->qdelay_us >= target / 2) {
			m->grow_from_bps = 0; /* near the limit */
		} else if (!rate || (double)rate >= 0.8 * p) {
			/* The link delivers all it is paced at and shows no
			 * queue. Once this growth has found LM_REPROBE_GAIN x
			 * the estimate it began from, the link is far from
			 * its limit (a model cut to an ACK stream, a link
			 * back up after a step down): probe as STARTUP does,
			 * x2 per round trip, until a queue or a full pipe
			 * ends it (BBRv3's probe-up also grows
			 * exponentially per round). At 100%/s, 50 Mbit/s
			 * took 5 s to reach a gigabit. A link at its limit
			 * never gets here twice over: its estimate cannot
			 * double without a queue. */
			uint64_t ref0 =
			    m->capacity_bps > rate ? m->capacity_bps : rate;
			if (!m->grow_from_bps) {
				m->grow_from_bps = ref0;
			} else if ((double)ref0 >=
				   LM_REPROBE_GAIN * (double)m->grow_from_bps) {
				m->phase = LM_STARTUP;
				m->startup_reentries++;
				m->grow_from_bps = 0;
				m->full_bw = m->capacity_bps;
				m->full_cnt = 0;
				m->round_ns = now;
				m->cut_from_bps = 0;
			}
			double dt = (double)dt_ns / 1e9;
			if (dt > 0.1)
				dt = 0.1;
			/* The probe gain bounds the growth; it never lowers
			 * the rate: no queue and no loss say nothing against
			 * it. A link with `rate:` paced there, whose first
			 * estimate was the handshake's trickle (0.04 Mbit/s)
			 * and whose next delivery window was too short to
			 * give a rate, was cut by this clamp to the floor. */
			double grown = p * (1.0 + LM_GROWTH_PER_S * dt);
			if (ref && grown > LM_PROBE_GAIN * (double)ref)
				grown = LM_PROBE_GAIN * (double)ref;
			if (grown > p)
				p = grown;
		}
	}
out:
	if (p < (double)LM_MIN_BPS)
		p = (double)LM_MIN_BPS;
	m->pacing_bps = clamp_rate(m, (uint64_t)p);
}

int lm_on_feedback(struct lm *m, uint64_t now_ns, const struct lm_fb *fb,
		   bool demand, uint64_t srtt_us)
{
	int ev = 0;
	if (m->have_fb && !lt32(m->last.gen_us, fb->gen_us)) {
		m->stale_reports++; /* a copy, or overtaken by a newer one */
		return 0;
	}
	if (m->have_fb && lt32(fb->high_seq, m->last.high_seq)) {
		m->stale_reports++;
		return 0;
	}
	m->reports++;
	uint64_t prev_pacing = m->pacing_bps;
	uint64_t dt_ns = m->last_fb_ns && now_ns > m->last_fb_ns
			     ? now_ns - m->last_fb_ns
			     : 0;
	m->last_fb_ns = now_ns;

	/* in flight: sent after the newest packet the far end has */
	uint64_t prev_inflight = m->inflight_bytes;
	const struct lm_sent *e = &m->sent[fb->high_seq & (LM_SENT_RING - 1)];
	if (e->seq == fb->high_seq && fb->high_seq)
		m->inflight_bytes = m->sent_bytes - e->cum_bytes;
	else if (fb->high_seq == m->tx_seq)
		m->inflight_bytes = 0;
	if (m->inflight_bytes && overdue_lost(m, fb, srtt_us))
		m->inflight_bytes = 0;

	if (!m->have_fb) {
		m->have_fb = true;
		m->last = *fb;
		m->rx_us64 = fb->last_rx_us;
		m->delivered_pkts = fb->rx_packets;
		m->delivered_bytes = fb->rx_bytes;
		hist_push(m, m->rx_us64, m->delivered_bytes);
		if (fb->interval_pkts)
			base_update(m, now_ns, fb->owd_min_us);
		return LM_EV_RATE;
	}
	uint32_t dpk = fb->rx_packets - m->last.rx_packets;
	uint32_t dbytes = fb->rx_bytes - m->last.rx_bytes;
	uint32_t dhigh = fb->high_seq - m->last.high_seq;
	uint32_t interval_loss = 0, lost = 0;
	m->delivered_pkts += dpk;
	m->delivered_bytes += dbytes;
	if (dhigh) {
		lost = dhigh > dpk ? dhigh - dpk : 0;
		m->lost_pkts += lost;
		interval_loss = (uint32_t)((uint64_t)lost * 1000000 / dhigh);
		/* EWMA weighted by packets (a time constant of about
		 * LM_LOSS_PKTS packets), so small reports do not swing it */
		uint64_t w = dhigh < LM_LOSS_PKTS ? dhigh : LM_LOSS_PKTS;
		m->loss_ppm =
		    (uint32_t)(((uint64_t)m->loss_ppm * (LM_LOSS_PKTS - w) +
				(uint64_t)interval_loss * w) /
			       LM_LOSS_PKTS);
	}
	if (dpk) {
		m->rx_us64 += (uint32_t)(fb->last_rx_us - m->last.last_rx_us);
		hist_push(m, m->rx_us64, m->delivered_bytes);
	}
	if (fb->interval_pkts) {
		base_update(m, now_ns, fb->owd_min_us);
		int32_t q = (int32_t)(fb->owd_min_us - lm_base_owd(m));
		m->prev_qdelay_us = m->qdelay_us;
		m->qdelay_us = q > 0 ? (uint32_t)q : 0;
		/* largest delay above base lately (decays by 1/8 a report) */
		int32_t qm = (int32_t)(fb->owd_max_us - lm_base_owd(m));
		uint32_t qmax = qm > 0 ? (uint32_t)qm : 0;
		m->qdelay_max_us -= m->qdelay_max_us / 8;
		if (qmax > m->qdelay_max_us)
			m->qdelay_max_us = qmax;
	}
	m->last = *fb;

	uint64_t rate = dpk ? rate_window(m) : 0;
	/* the newest interval alone: startup grows faster than a 100 ms
	 * average can follow */
	uint64_t inst = 0;
	if (dpk && m->hist_n >= 2) {
		uint32_t a = (m->hist_head + LM_HIST - 1) % LM_HIST;
		uint32_t b = (m->hist_head + LM_HIST - 2) % LM_HIST;
		uint64_t dt = m->hist[a].rx_us - m->hist[b].rx_us;
		if (dt >= 2000)
			inst = (m->hist[a].bytes - m->hist[b].bytes) *
			       8000000ull / dt;
	}
	if (rate) {
		m->delivery_bps = rate;
		cap_update(m, now_ns, rate, demand);
	}
	if (fb->interval_pkts) {
		uint64_t rtt_ns =
		    srtt_us > 20000 ? srtt_us * 1000 : 20000000ull;
		bool lossy_queue = loss_round(m, now_ns, lost, dhigh, rtt_ns);
		/* the newest interval's rate, when it holds enough packets
		 * to stand for the link (a deep queue's cut uses it) */
		uint64_t cut_inst =
		    fb->interval_pkts >= LM_CUT_INST_PKTS ? inst : 0;
		control(m, now_ns, rate, inst, cut_inst, demand, lossy_queue,
			srtt_us, dt_ns);
	}
	ev |= stall_check(m, fb, srtt_us);
	if (m->pacing_bps != prev_pacing || rate ||
	    m->inflight_bytes != prev_inflight)
		ev |= LM_EV_RATE;
	return ev;
}
