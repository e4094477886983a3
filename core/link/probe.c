/*
 * Link prober: RTT/jitter/loss estimators and the UP/DEGRADED/DOWN state
 * machine of one link. Pure logic driven by the daemon's clock; the rules
 * and their reasons are in probe.h.
 */
#include "link/probe.h"

#include <string.h>

#include "base/log.h"

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define NS_PER_S  1000000000ull
#define PPM	  1000000ull
/* Metric moves smaller than this are not worth a links_changed. */
#define REPORT_SRTT_MIN_US 500
#define REPORT_LOSS_PPM	   10000

enum slot_status {
	SLOT_EMPTY = 0,
	SLOT_PENDING = 1,
	SLOT_ANSWERED = 2,
	SLOT_LOST = 3,
};

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t absdiff_u64(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/* x += (target - x) / den, in unsigned arithmetic without underflow. */
static uint64_t ewma_u64(uint64_t x, uint64_t target, uint64_t den)
{
	if (target >= x)
		return x + (target - x) / den;
	return x - (x - target) / den;
}

void probe_link_init(struct probe_link *p, const struct cfg_probe *cfg,
		     uint64_t now_ns)
{
	memset(p, 0, sizeof(*p));
	uint64_t interval_ms =
	    cfg->interval_ms ? cfg->interval_ms : PROBE_DEFAULT_INTERVAL_MS;
	p->interval_ns = interval_ms * NS_PER_MS;
	p->cap_ns =
	    max_u64((uint64_t)cfg->timeout_ms * NS_PER_MS, 3 * p->interval_ns);
	p->window = cfg->loss_window ? cfg->loss_window : PROBE_DEFAULT_WINDOW;
	if (p->window > PROBE_WINDOW_MAX) {
		log_warn("probe",
			 "loss window %u probes is above the %u supported,"
			 " using %u",
			 p->window, PROBE_WINDOW_MAX, PROBE_WINDOW_MAX);
		p->window = PROBE_WINDOW_MAX;
	}
	p->loss_enter_ppm = cfg->degraded_loss_ppm;
	p->loss_leave_ppm = cfg->degraded_loss_ppm / 2;
	p->rtt_enter_us = (uint64_t)cfg->degraded_rtt_ms * 1000;
	p->rtt_leave_us = p->rtt_enter_us * 3 / 4;

	p->state = PLS_DOWN;
	p->prev_state = PLS_DOWN;
	p->state_since_ns = now_ns;
	p->next_id = 1;
	p->need_replies = 1; /* a fresh link has no flapping history */
	p->rx.start_ns = now_ns;
	p->tx.start_ns = now_ns;
}

const char *probe_state_name(enum probe_link_state s)
{
	switch (s) {
	case PLS_DOWN:
		return "down";
	case PLS_DEGRADED:
		return "degraded";
	case PLS_UP:
		return "up";
	}
	return "?";
}

uint64_t probe_loss_timeout_ns(const struct probe_link *p)
{
	uint64_t srtt = p->srtt_us * NS_PER_US;
	uint64_t t = max_u64(2 * p->interval_ns, 3 * srtt);
	t = max_u64(t, srtt + 4 * p->rttvar_us * NS_PER_US);
	return min_u64(t, p->cap_ns);
}

uint64_t probe_down_timeout_ns(const struct probe_link *p)
{
	uint64_t adaptive =
	    (p->srtt_us + 4 * p->rttvar_us) * NS_PER_US + p->interval_ns;
	return min_u64(max_u64(3 * p->interval_ns, adaptive), p->cap_ns);
}

/*
 * srtt + 4 * rttvar already holds the queue a busy link carries (its probes
 * wait behind the data), so a multiple of srtt would count that queue twice:
 * under a full upload (srtt 65 ms over 20 ms of path) 2 * srtt was 130 ms.
 * What an idle link may still grow without it showing in rttvar is a queue
 * about one propagation delay deep: 2 * min RTT covers that.
 */
uint64_t probe_suspect_timeout_ns(const struct probe_link *p)
{
	uint64_t srtt = p->srtt_us * NS_PER_US;
	uint64_t t = srtt + 4 * p->rttvar_us * NS_PER_US;
	if (p->n_minrtt)
		t = max_u64(t, 2 * p->min_rtt_us * NS_PER_US);
	t = max_u64(t, PROBE_SUSPECT_MIN_NS);
	return min_u64(t, probe_down_timeout_ns(p));
}

uint64_t probe_suspect_silence_ns(const struct probe_link *p)
{
	return max_u64(probe_suspect_timeout_ns(p) / 2, PROBE_SUSPECT_MIN_NS);
}

uint64_t probe_ask_silence_ns(const struct probe_link *p)
{
	return max_u64(probe_suspect_timeout_ns(p) / 4, PROBE_SUSPECT_MIN_NS);
}

/* ---- windowed min RTT ---- */

/*
 * Kathleen Nichols' windowed min filter (as in BBR): keeps the best, second
 * best and third best samples from successive sub-windows, so the minimum
 * ages out after PROBE_MINRTT_WIN_NS without storing every sample.
 */
static void minrtt_update(struct probe_link *p, uint64_t now, uint64_t rtt)
{
	struct probe_minrtt v = {.t_ns = now, .rtt_us = rtt};
	struct probe_minrtt *m = p->minrtt;
	const uint64_t win = PROBE_MINRTT_WIN_NS;

	if (!p->n_minrtt || rtt <= m[0].rtt_us || now - m[2].t_ns > win) {
		m[0] = m[1] = m[2] = v;
		p->n_minrtt = 1;
		p->min_rtt_us = rtt;
		return;
	}
	if (rtt <= m[1].rtt_us)
		m[1] = m[2] = v;
	else if (rtt <= m[2].rtt_us)
		m[2] = v;

	uint64_t dt = now - m[0].t_ns;
	if (dt > win) {
		/* The best expired: promote the sub-window choices. */
		m[0] = m[1];
		m[1] = m[2];
		m[2] = v;
		if (now - m[0].t_ns > win) {
			m[0] = m[1];
			m[1] = m[2];
			m[2] = v;
		}
	} else if (m[1].t_ns == m[0].t_ns && dt > win / 4) {
		m[1] = m[2] = v;
	} else if (m[2].t_ns == m[1].t_ns && dt > win / 2) {
		m[2] = v;
	}
	p->min_rtt_us = m[0].rtt_us;
}

/* Roughly 1-2-5 steps from LAN to a congested satellite link. */
const uint64_t probe_rtt_bucket_us[PROBE_RTT_BUCKETS] = {
    1000,   2000,   5000,   10000,   20000,   50000,   100000,
    200000, 300000, 500000, 1000000, 2000000, 5000000, 10000000};

static void rtt_hist_add(struct probe_link *p, uint64_t r)
{
	size_t i = 0;
	while (i < PROBE_RTT_BUCKETS && r > probe_rtt_bucket_us[i])
		i++;
	p->rtt_hist[i]++;
	p->rtt_sum_us += r;
	p->rtt_samples++;
}

static void rtt_sample(struct probe_link *p, uint64_t now, uint64_t r)
{
	rtt_hist_add(p, r);
	if (!p->rtt_valid) {
		p->srtt_us = r;
		p->rttvar_us = r / 2;
		p->jitter_us = 0;
		p->rtt_valid = 1;
	} else {
		/* RFC 6298 2.3: rttvar first, from the old srtt. */
		p->rttvar_us =
		    ewma_u64(p->rttvar_us, absdiff_u64(p->srtt_us, r), 4);
		p->srtt_us = ewma_u64(p->srtt_us, r, 8);
		p->jitter_us =
		    ewma_u64(p->jitter_us, absdiff_u64(r, p->last_rtt_us), 16);
	}
	p->last_rtt_us = r;
	minrtt_update(p, now, r);
}

/* ---- loss window ---- */

static void update_loss(struct probe_link *p)
{
	uint32_t decided = p->window_answered + p->window_lost;
	p->loss_ppm = decided ? (uint32_t)(p->window_lost * PPM / decided) : 0;
}

/*
 * "Replies in a row" means replies to consecutive probe ids: a reply that
 * skips an id (lost, or merely not answered yet) starts a new streak. Loss
 * verdicts come a loss timeout late, so counting replies since the last
 * verdict would let a link answering every other probe look recovered.
 */
static void streak_reply(struct probe_link *p, uint32_t id)
{
	uint32_t next = p->streak_last_id + 1 ? p->streak_last_id + 1 : 1;
	if (p->consec_replies && id == next)
		p->consec_replies++;
	else
		p->consec_replies = 1;
	p->streak_last_id = id;
}

/* Takes a slot's verdict out of the window before the slot is reused. */
static void slot_retire(struct probe_link *p, struct probe_slot *s)
{
	if (s->status == SLOT_PENDING) {
		/* Never answered in a whole window: lost, but it leaves the
		 * window at once, so only the totals see it. */
		p->lost++;
	} else if (s->counted && s->status == SLOT_ANSWERED) {
		p->window_answered--;
	} else if (s->counted && s->status == SLOT_LOST) {
		p->window_lost--;
	}
	s->status = SLOT_EMPTY;
	s->counted = 0;
}

/* ---- state machine ---- */

static int loss_enough_samples(const struct probe_link *p)
{
	uint32_t need = p->window / 2 ? p->window / 2 : 1;
	return p->window_answered + p->window_lost >= need;
}

/* Loss that makes a link DEGRADED: the threshold, or above what the
 * tunnel recovers on it (a link whose random loss is resent elsewhere
 * delivers its capacity; demoting it would throw that away). */
static uint32_t loss_bar(const struct probe_link *p, uint32_t thr)
{
	return p->loss_excused_ppm > thr ? p->loss_excused_ppm : thr;
}

static int degrade_enter(const struct probe_link *p)
{
	if (p->loss_enter_ppm && loss_enough_samples(p) &&
	    p->loss_ppm >= loss_bar(p, p->loss_enter_ppm))
		return 1;
	if (p->rtt_enter_us && p->rtt_valid && p->srtt_us >= p->rtt_enter_us)
		return 1;
	return 0;
}

static int degrade_clear(const struct probe_link *p)
{
	uint32_t leave = p->loss_leave_ppm;
	if (p->loss_excused_ppm / 2 > leave)
		leave = p->loss_excused_ppm / 2; /* hysteresis, as without */
	if (p->loss_enter_ppm && p->loss_ppm >= leave)
		return 0;
	if (p->rtt_enter_us && p->rtt_valid && p->srtt_us >= p->rtt_leave_us)
		return 0;
	return 1;
}

static void set_state(struct probe_link *p, enum probe_link_state s,
		      uint64_t now)
{
	p->prev_state = p->state;
	p->state = s;
	p->state_since_ns = now;
	p->clear_streak = 0;
	p->reported_srtt_us = p->srtt_us;
	p->reported_loss_ppm = p->loss_ppm;
}

/* An outage is reported as DOWN, not as loss: restart what it would skew. */
static void enter_down(struct probe_link *p, uint64_t now)
{
	for (uint32_t i = 0; i < p->window; i++)
		p->ring[i].counted = 0;
	p->window_answered = 0;
	p->window_lost = 0;
	p->loss_ppm = 0;
	p->consec_replies = 0;
	p->need_replies = PROBE_RECOVER_REPLIES;
	p->rtt_valid = 0;
	p->n_minrtt = 0;
	if (p->suspect) {
		/* Confirmed: the change was reported when it was suspected. */
		p->suspect = 0;
		p->state_since_ns = now;
		return;
	}
	set_state(p, PLS_DOWN, now);
}

/* Early DOWN: estimators and window are kept, since it may be a false
 * alarm that the next packet heard undoes. */
static void enter_suspect(struct probe_link *p, uint64_t now)
{
	enum probe_link_state from = p->state;
	set_state(p, PLS_DOWN, now);
	p->suspect = 1;
	p->suspect_from = from;
	p->suspect_heard_ns = p->last_heard_ns;
	p->suspects++;
}

/* The peer was heard after all: back to where the suspicion started. */
static int suspect_clear(struct probe_link *p, uint64_t now)
{
	if (!p->suspect || p->last_heard_ns <= p->suspect_heard_ns)
		return 0;
	p->suspect = 0;
	p->suspects_cleared++;
	set_state(p, p->suspect_from, now);
	return PROBE_EV_STATE;
}

/* The link carried data since it last heard from the peer: only then does
 * silence at RTT scale mean anything (see the early DOWN in probe.h). */
static int in_use_unanswered(const struct probe_link *p)
{
	return p->state != PLS_DOWN && p->last_data_tx_ns > p->last_heard_ns;
}

/* Oldest probe still pending that was sent while the link was usable
 * (counted) and after the newest probe answered, UINT64_MAX if none.
 * Probes sent during an outage may never be answered, and one older than
 * an answered probe was merely lost: neither says the link is dead now. */
static uint64_t oldest_pending_probe(const struct probe_link *p)
{
	uint64_t t = UINT64_MAX;
	for (uint32_t i = 0; i < p->window; i++) {
		const struct probe_slot *s = &p->ring[i];
		if (s->status == SLOT_PENDING && s->counted &&
		    s->tx_ns > p->answered_tx_ns)
			t = min_u64(t, s->tx_ns);
	}
	return t;
}

/* No probe (nor an asked one) since the last packet heard. */
static int no_probe_since_heard(const struct probe_link *p)
{
	return p->last_probe_tx_ns <= p->last_heard_ns &&
	       p->early_probe_ns <= p->last_heard_ns;
}

/* A link that loses probes anyway (degraded, or any loss in the window):
 * there one overdue probe is as likely its loss as the link's death, so
 * the early DOWN waits for a second, asked probe to be overdue too. A busy
 * healthy link keeps the one-probe signal. */
static int lossy(const struct probe_link *p)
{
	return p->state == PLS_DEGRADED || p->loss_ppm > 0;
}

/* The probe whose overdue answer makes the early DOWN (see lossy()). */
static uint64_t early_evidence(const struct probe_link *p)
{
	uint64_t t = oldest_pending_probe(p);
	if (t != UINT64_MAX && lossy(p) && p->early_probe_ns > t)
		t = p->early_probe_ns;
	return t;
}

/* When the early signal next wants probe_tick (ns), UINT64_MAX if never:
 * a probe overdue by the suspect timeout AND silence of the suspect
 * silence make the early DOWN; silence of the ask silence with no probe
 * since the last packet heard asks for one. */
static uint64_t early_deadline(const struct probe_link *p)
{
	if (!in_use_unanswered(p))
		return UINT64_MAX;
	uint64_t d = UINT64_MAX;
	uint64_t t = early_evidence(p);
	if (t != UINT64_MAX)
		d = max_u64(t + probe_suspect_timeout_ns(p),
			    p->last_heard_ns + probe_suspect_silence_ns(p));
	if (no_probe_since_heard(p))
		d = min_u64(d, p->last_heard_ns + probe_ask_silence_ns(p));
	return d;
}

/*
 * The missed-probe early signal, run from probe_tick. The probe that
 * proves the death may have left before the last packet heard: packets
 * sent before it (or by the peer before the path broke) keep arriving for
 * up to a round trip. What matters is that its answer is overdue and that
 * the link, which the peer normally answers at once, has gone quiet.
 */
static int early_check(struct probe_link *p, uint64_t now)
{
	if (!in_use_unanswered(p) || now < p->last_heard_ns)
		return 0;
	uint64_t silence = now - p->last_heard_ns;
	uint64_t t = early_evidence(p);
	if (t != UINT64_MAX && now >= t &&
	    now - t >= probe_suspect_timeout_ns(p) &&
	    silence >= probe_suspect_silence_ns(p)) {
		if (lossy(p) && p->early_probe_ns <= oldest_pending_probe(p)) {
			/* the first overdue probe of a lossy link: ask once
			 * more before calling it dead */
			p->early_probe_ns = now;
			p->early_probes++;
			return PROBE_EV_SEND;
		}
		enter_suspect(p, now);
		/* A false alarm ends with the answer to this one. */
		p->early_probe_ns = now;
		p->early_probes++;
		return PROBE_EV_STATE | PROBE_EV_SEND;
	}
	if (no_probe_since_heard(p) && silence >= probe_ask_silence_ns(p)) {
		p->early_probe_ns = now;
		p->early_probes++;
		return PROBE_EV_SEND;
	}
	return 0;
}

/* Reports srtt/loss moves big enough to make schedulers re-plan. */
static int metrics_event(struct probe_link *p)
{
	uint64_t ds = absdiff_u64(p->srtt_us, p->reported_srtt_us);
	uint32_t dl = p->loss_ppm > p->reported_loss_ppm
			  ? p->loss_ppm - p->reported_loss_ppm
			  : p->reported_loss_ppm - p->loss_ppm;
	int srtt_moved =
	    (!p->reported_srtt_us && p->srtt_us) ||
	    (ds >= REPORT_SRTT_MIN_US && ds * 8 > p->reported_srtt_us);
	if (!srtt_moved && dl < REPORT_LOSS_PPM)
		return 0;
	p->reported_srtt_us = p->srtt_us;
	p->reported_loss_ppm = p->loss_ppm;
	return PROBE_EV_METRICS;
}

/* Runs after every decided probe (answered or lost). */
static int evaluate(struct probe_link *p, uint64_t now)
{
	update_loss(p);
	switch (p->state) {
	case PLS_DOWN:
		if (p->consec_replies >= p->need_replies) {
			set_state(p, degrade_enter(p) ? PLS_DEGRADED : PLS_UP,
				  now);
			return PROBE_EV_STATE;
		}
		return 0;
	case PLS_UP:
		if (degrade_enter(p)) {
			set_state(p, PLS_DEGRADED, now);
			return PROBE_EV_STATE;
		}
		break;
	case PLS_DEGRADED:
		if (!degrade_clear(p)) {
			p->clear_streak = 0;
			break;
		}
		if (++p->clear_streak >= PROBE_CLEAR_STREAK) {
			set_state(p, PLS_UP, now);
			return PROBE_EV_STATE;
		}
		break;
	}
	return metrics_event(p);
}

/* ---- events ---- */

uint32_t probe_on_send(struct probe_link *p, uint64_t now_ns)
{
	uint32_t id = p->next_id++;
	if (p->next_id == 0)
		p->next_id = 1;
	struct probe_slot *s = &p->ring[id % p->window];
	slot_retire(p, s);
	s->id = id;
	s->tx_ns = now_ns;
	s->status = SLOT_PENDING;
	s->counted = p->state != PLS_DOWN || p->suspect;
	p->probes_sent++;
	p->last_probe_tx_ns = now_ns;
	update_loss(p);
	return id;
}

int probe_on_reply(struct probe_link *p, const struct wire_probe_reply *r,
		   uint64_t now_ns)
{
	struct probe_slot *s = &p->ring[r->probe_id % p->window];
	if (r->probe_id == 0 || s->status == SLOT_EMPTY ||
	    s->id != r->probe_id || s->tx_ns != r->echo_tx_ns) {
		p->unknown_replies++;
		return 0;
	}
	if (s->status == SLOT_ANSWERED) {
		p->dup_replies++;
		return 0;
	}
	if (s->status == SLOT_LOST) {
		p->late_replies++;
		p->lost--;
		if (s->counted) {
			p->window_lost--;
			p->window_answered++;
		}
	} else if (s->counted) {
		p->window_answered++;
	}
	s->status = SLOT_ANSWERED;
	p->answered_tx_ns = max_u64(p->answered_tx_ns, s->tx_ns);
	p->replies++;
	streak_reply(p, r->probe_id);
	p->peer_rx_packets = r->rx_packets;
	p->last_reply_ns = now_ns;
	probe_on_rx(p, now_ns);
	int ev = suspect_clear(p, now_ns);

	/* A hold time longer than the round trip is a broken peer: keep the
	 * proof of life, drop the sample. */
	uint64_t hold = (uint64_t)r->hold_us * NS_PER_US;
	if (now_ns > s->tx_ns && now_ns - s->tx_ns > hold) {
		uint64_t us = (now_ns - s->tx_ns - hold) / NS_PER_US;
		rtt_sample(p, now_ns, us ? us : 1);
	}
	ev |= evaluate(p, now_ns);
	/* Coming back from DOWN: ask for the next reply of the streak now. */
	if (p->state == PLS_DOWN && p->consec_replies &&
	    p->consec_replies < p->need_replies)
		ev |= PROBE_EV_SEND;
	return ev;
}

void probe_on_rx(struct probe_link *p, uint64_t now_ns)
{
	if (now_ns > p->last_heard_ns)
		p->last_heard_ns = now_ns;
}

/*
 * Closes the rate bucket once it spans at least an interval: one EWMA step
 * (gain 1/4) per elapsed interval, each fed the bucket's average, so idle
 * time decays the estimate as if ticks had run on time.
 */
static void rate_roll(struct probe_rate *r, uint64_t *bps, uint64_t now,
		      uint64_t period)
{
	if (now < r->start_ns || now - r->start_ns < period)
		return;
	uint64_t span = now - r->start_ns;
	unsigned __int128 bits = (unsigned __int128)r->bytes * 8 * NS_PER_S;
	uint64_t sample = (uint64_t)(bits / span);
	uint64_t steps = span / period;
	if (!r->primed) {
		*bps = sample;
		r->primed = 1;
		steps--;
	}
	for (uint64_t i = 0; i < steps && i < 64; i++)
		*bps = (3 * *bps + sample) / 4;
	if (steps >= 64)
		*bps = sample;
	r->start_ns = now;
	r->bytes = 0;
}

void probe_on_rx_bytes(struct probe_link *p, uint64_t now_ns, uint64_t bytes)
{
	probe_on_rx(p, now_ns);
	rate_roll(&p->rx, &p->rx_rate_bps, now_ns, p->interval_ns);
	p->rx.bytes += bytes;
}

void probe_on_tx_bytes(struct probe_link *p, uint64_t now_ns, uint64_t bytes)
{
	/* Not the probe just sent, nor an answer to what was just heard. */
	if (now_ns != p->last_probe_tx_ns && now_ns != p->last_heard_ns &&
	    now_ns > p->last_data_tx_ns)
		p->last_data_tx_ns = now_ns;
	rate_roll(&p->tx, &p->tx_rate_bps, now_ns, p->interval_ns);
	p->tx.bytes += bytes;
}

void probe_on_tx_ctl_bytes(struct probe_link *p, uint64_t now_ns,
			   uint64_t bytes)
{
	rate_roll(&p->tx, &p->tx_rate_bps, now_ns, p->interval_ns);
	p->tx.bytes += bytes;
}

int probe_tick(struct probe_link *p, uint64_t now_ns)
{
	int ev = 0, decided = 0;
	uint64_t lost_after = probe_loss_timeout_ns(p);

	for (uint32_t i = 0; i < p->window; i++) {
		struct probe_slot *s = &p->ring[i];
		if (s->status != SLOT_PENDING || now_ns < s->tx_ns ||
		    now_ns - s->tx_ns < lost_after)
			continue;
		s->status = SLOT_LOST;
		p->lost++;
		if (s->counted)
			p->window_lost++;
		decided = 1;
	}
	ev |= suspect_clear(p, now_ns);
	/* A suspect link's verdicts wait until it is heard or confirmed. */
	if (decided && p->suspect)
		update_loss(p);
	else if (decided)
		ev |= evaluate(p, now_ns);
	if ((p->state != PLS_DOWN || p->suspect) &&
	    now_ns >= p->last_heard_ns &&
	    now_ns - p->last_heard_ns >= probe_down_timeout_ns(p)) {
		int was_suspect = p->suspect;
		enter_down(p, now_ns);
		if (!was_suspect)
			ev |= PROBE_EV_STATE;
	} else {
		ev |= early_check(p, now_ns);
	}
	rate_roll(&p->rx, &p->rx_rate_bps, now_ns, p->interval_ns);
	rate_roll(&p->tx, &p->tx_rate_bps, now_ns, p->interval_ns);
	return ev;
}

static uint64_t rate_deadline(const struct probe_rate *r, uint64_t bps,
			      uint64_t period)
{
	return r->bytes || bps ? r->start_ns + period : UINT64_MAX;
}

uint64_t probe_next_deadline(const struct probe_link *p)
{
	uint64_t d = UINT64_MAX;
	if (p->state != PLS_DOWN || p->suspect)
		d = p->last_heard_ns + probe_down_timeout_ns(p);
	d = min_u64(d, early_deadline(p));
	uint64_t lost_after = probe_loss_timeout_ns(p);
	for (uint32_t i = 0; i < p->window; i++)
		if (p->ring[i].status == SLOT_PENDING)
			d = min_u64(d, p->ring[i].tx_ns + lost_after);
	d = min_u64(d, rate_deadline(&p->rx, p->rx_rate_bps, p->interval_ns));
	d = min_u64(d, rate_deadline(&p->tx, p->tx_rate_bps, p->interval_ns));
	return d;
}

/* ---- reorder hold hint ---- */

void probe_hint_init(struct probe_hint *h)
{
	memset(h, 0, sizeof(*h));
	h->min_srtt_us = UINT64_MAX;
}

void probe_hint_add(struct probe_hint *h, const struct probe_link *p)
{
	if (p->state == PLS_DOWN || !p->rtt_valid)
		return;
	h->min_srtt_us = min_u64(h->min_srtt_us, p->srtt_us);
	h->max_srtt_us = max_u64(h->max_srtt_us, p->srtt_us);
	h->max_jitter_us = max_u64(h->max_jitter_us, p->jitter_us);
	h->n++;
}

uint64_t probe_hint_hold_us(const struct probe_hint *h)
{
	if (h->n < 2)
		return 0;
	return (h->max_srtt_us - h->min_srtt_us) / 2 + h->max_jitter_us;
}

int64_t probe_hint_owd_diff_us(const struct probe_hint *h,
			       const struct probe_link *p)
{
	if (!h->n || p->state == PLS_DOWN || !p->rtt_valid)
		return 0;
	return ((int64_t)p->srtt_us - (int64_t)h->min_srtt_us) / 2;
}

uint64_t probe_hold_hint_us(const struct probe_link *links, size_t n)
{
	struct probe_hint h;
	probe_hint_init(&h);
	for (size_t i = 0; i < n; i++)
		probe_hint_add(&h, &links[i]);
	return probe_hint_hold_us(&h);
}
