/*
 * Closed-loop model of one link, as pure logic: what the far end reports
 * (WT_FEEDBACK) becomes a capacity estimate, a base one-way delay, a
 * queueing delay, a loss rate, and the rate the daemon paces the link at.
 *
 * Why pure: no clock, no socket, no allocation. The daemon passes its clock
 * (`now`, ns) and the reports; unit tests drive it with synthetic traces
 * (tests/unit/test_linkmodel.c). The design and what it borrows from BBR,
 * Copa/LEDBAT, GCC, cake-autorate and MPTCP is in docs/link-model.md.
 *
 * Contract with the daemon, per link of a session:
 *  - lm_init() once with the link's settings; lm_set_ceiling() when `rate:`
 *    changes. A link with a ceiling and no report yet starts paced at the
 *    ceiling, in STEADY; without one at the initial rate, in STARTUP.
 *  - lm_on_sent() for every DATA packet sent; it returns the path_seq to
 *    stamp in the packet (1, 2, ...: 0 is never used).
 *  - lm_on_feedback() for every report about the link, with `demand` true
 *    if the link was kept full by the pacer lately (so probing for more
 *    capacity happens only when there is traffic that wants it) and the
 *    prober's smoothed RTT. It returns a mask of enum lm_event.
 *  - Read the outputs in the "read-only" block freely.
 *
 * Rules (all tested):
 *  - Delivery rate: bytes the receiver got over its own clock, over the
 *    newest LM_RATE_WIN_US of reports (a short window, so a link that
 *    slows down shows it within one window).
 *  - Capacity: windowed max of delivery-rate samples (two buckets of
 *    LM_CAP_BUCKET_NS); samples taken without demand only raise it (an
 *    idle link does not look slow). The first estimate needs demand and
 *    a sample of at least 1/LM_FIRST_CAP_DIV of the pacing rate or a
 *    queue over half the target (a trickle is no measure of a link). A
 *    congestion event that delivered under 70% of the estimate restarts
 *    the filter at that rate (what was delivered while the queue stood is
 *    the capacity: a step down shows at once); a smaller dip leaves the
 *    filter to age.
 *  - Base OWD: windowed min of the reports' min OWD (two buckets of
 *    LM_BASE_BUCKET_NS); the clocks' offset cancels, only variation counts.
 *    Queueing delay = the report's min OWD - base (a standing queue shows
 *    in every packet of a report; jitter does not).
 *  - Loss: gaps in path_seq (highest minus received, per report), an
 *    EWMA weighted by packets (time constant LM_LOSS_PKTS).
 *  - Pacing: STARTUP grows about x2 per round trip while there is demand
 *    and the queueing delay stays under the target, and never paces below
 *    LM_STARTUP_GAIN x what the link delivers (BBR's startup gain: a TCP
 *    in slow start must not find its windows held here); it ends on the first
 *    queue, or (BBR's full-pipe test) when LM_FULL_ROUNDS round trips with
 *    demand and half a round trip at the estimate in flight (a full pipe, not
 *    app-limited) did not raise the capacity estimate by 25%: the pacing rate
 *    becomes the estimate (a rate far above what the link delivers would
 *    park the queue in the modem and keep the other links idle). Congestion =
 * queueing delay over the target in two reports in a row, or over 4 x the
 * target in one (or loss with a queue building, see lm_loss_congestion()):
 * pacing = LM_BACKOFF x the
 * capacity estimate (less the queueing delay in s), then a hold-off of one RTT
 * + 50 ms so the drained queue shows before the next decision. Without demand
 * nothing is cut (the queue is not ours). After LM_MAX_CUTS cuts the delay
 * still stands, flat (neither drained nor grown, so not a queue we feed): it is
 * taken as the new base (a longer route, a clock step; LEDBAT's lesson). STEADY
 * grows by LM_GROWTH_PER_S (multiplicative, per second) with demand, a queue
 * under half the target and the link delivering what it is given, at most
 * LM_PROBE_GAIN x the estimate (BBR's probe gain); once that growth, with no
 * queue or cut in between, has found LM_REPROBE_GAIN x the estimate it began
 * from, the link goes back to STARTUP (far from its limit: a model cut to an
 * ACK stream, a link back up after a step down). When the hold-off after a
 * cut ends with the queue drained, the rate goes straight back to LM_CRUISE x
 * min(estimate, rate before the cut) instead of regrowing from the cut (BBR
 * cruises at the estimate after its drain: regrowing leaves the link underused
 * for a tenth of a second per cut). The configured rate is a ceiling;
 * LM_MIN_BPS a floor.
 *  - Stall: a report in which nothing arrived on the link since the last
 *    one while its oldest LM_STALL_PKTS unreported packets are overdue
 *    (sent long enough ago to be in it: base delay + half an RTT + the largest
 *    recent queueing delay + a margin; one or two would be a tail loss)
 *    counts;
 *    two such reports in a row, at least LM_STALL_SPAN_US apart on the
 *    receiver's clock, make LM_EV_STALL, once per oldest packet.
 *    Only the receiver's clock and the packets' own send stamps are
 *    compared, so a stall of the sender's loop cannot fake one, and the
 *    second report rules out a receiver that was merely slow to read.
 */
#ifndef TTT_LINKMODEL_H
#define TTT_LINKMODEL_H

#include <stdbool.h>
#include <stdint.h>

#define LM_RATE_WIN_US	   100000u /* delivery-rate window */
#define LM_CAP_BUCKET_NS   1000000000ull
#define LM_BASE_BUCKET_NS  5000000000ull
#define LM_MIN_BPS	   100000ull
#define LM_DEFAULT_INITIAL 4000000ull
#define LM_DEFAULT_TARGET  8000u /* queueing-delay target (us) */
#define LM_BACKOFF	   0.9
#define LM_MAX_CUTS	   3 /* cuts that leave the delay standing */
#define LM_GROWTH_PER_S	   1.0
#define LM_PROBE_GAIN	   1.25 /* STEADY pacing at most this x the estimate */
#define LM_FULL_ROUNDS	   3	/* STARTUP rounds without 25% more delivered */
#define LM_AQM_RTT_DIV	   4 /* daemon CoDel target >= the bond's RTT / this */
#define LM_CRUISE	   0.95 /* after a cut's hold-off, back to this x est. */
#define LM_STARTUP_GAIN	   2.885 /* STARTUP pacing >= this x delivered */
#define LM_CUT_INST_PKTS   8 /* a deep queue's cut trusts a report this big */
#define LM_FIRST_CAP_DIV   4 /* a first estimate >= pacing / this, or a queue */
#define LM_REPROBE_GAIN	   2.0 /* STEADY growth that found this x: STARTUP */
#define LM_STALL_MARGIN_US 10000u
#define LM_STALL_SPAN_US   10000u
#define LM_STALL_PKTS	   3 /* overdue packets that make a stall */
#define LM_STALL_RTT_DIV   2 /* deadline: base + RTT / this + queue + margin */
#define LM_HIST		   32
#define LM_LOSS_PKTS	   1000	 /* loss EWMA time constant (packets) */
#define LM_LOSS_CONG_PPM   20000 /* round loss that may be congestion */
#define LM_SENT_RING	   2048	 /* power of two */

enum lm_phase { LM_STARTUP = 0, LM_STEADY = 1 };

enum lm_event {
	LM_EV_RATE = 1,	 /* pacing rate or estimates moved: refresh views */
	LM_EV_STALL = 2, /* the link stopped delivering (see above) */
};

struct lm_cfg {
	uint64_t ceiling_bps; /* `rate:`; 0 = none */
	uint64_t initial_bps; /* first pacing rate (0 = LM_DEFAULT_INITIAL) */
	uint32_t target_us;   /* queueing-delay target (0 = default) */
};

/* One report about this link (wire_fb_link plus the report's time). */
struct lm_fb {
	uint32_t gen_us; /* receiver clock when the report was made */
	uint32_t high_seq, rx_packets, rx_bytes, last_rx_us;
	uint32_t owd_min_us, owd_max_us;
	uint16_t interval_pkts;
};

struct lm_sent {
	uint32_t seq;
	uint32_t tx_us;
	uint64_t cum_bytes; /* bytes sent up to and including this one */
};

struct lm {
	/* ---- read-only outputs ---- */
	enum lm_phase phase;
	uint64_t pacing_bps;	/* rate to pace the link at */
	uint64_t capacity_bps;	/* estimate, 0 until measured */
	uint64_t delivery_bps;	/* delivered over the last window */
	uint32_t qdelay_us;	/* queueing delay of the newest report */
	uint32_t qdelay_max_us; /* largest delay above base lately (decaying) */
	uint32_t loss_ppm;	/* EWMA of per-report loss */
	uint64_t inflight_bytes;
	uint64_t sent_pkts, sent_bytes;
	uint64_t delivered_pkts, delivered_bytes, lost_pkts;
	uint64_t reports, stale_reports, backoffs, stalls, rebases;
	uint64_t loss_cuts;	 /* cuts for loss with a queue (congestion) */
	uint64_t loss_ignored;	 /* lossy rounds taken as random (no queue) */
	uint32_t round_loss_ppm; /* loss over the last round trip */
	bool stalled; /* last verdict: not delivering (cleared by progress) */
	/* ---- internal ---- */
	struct lm_cfg cfg;
	bool have_fb, have_base;
	struct lm_fb last;
	uint64_t rx_us64; /* unwrapped last_rx_us */
	struct {
		uint64_t rx_us, bytes;
	} hist[LM_HIST];
	uint32_t hist_n, hist_head;
	uint32_t base_cur, base_prev; /* raw OWD minima (mod 2^32) */
	uint64_t base_start_ns;
	uint64_t cap_cur, cap_prev, cap_start_ns;
	uint64_t cap_reset_rx_us; /* receiver clock at the last reset */
	uint64_t holdoff_ns, last_fb_ns;
	uint32_t backoff_qdelay_us;  /* queueing delay at the last cut */
	uint32_t qpeak_since_cut_us; /* largest queueing delay since it */
	uint32_t prev_qdelay_us;     /* the report before the newest */
	uint32_t cuts_in_row;	     /* cuts after which the delay stood flat */
	uint64_t full_bw, round_ns;  /* STARTUP full-pipe check (BBR) */
	uint32_t full_cnt;	     /* rounds without 25% more capacity */
	uint64_t cut_from_bps;	     /* pacing rate before the last cut */
	uint64_t cut_from_rx_us;     /* receiver clock at its first cut */
	uint64_t startup_full_exits; /* STARTUP ended on a full pipe */
	uint64_t startup_reentries;  /* STEADY found far more: STARTUP again */
	uint64_t grow_from_bps;	     /* estimate when STEADY growth began */
	uint32_t tx_seq;	     /* last path_seq sent */
	uint32_t stall_n;	     /* overdue reports in a row */
	uint32_t stall_us;	     /* gen_us of the first of them */
	uint32_t stall_seq;   /* oldest unreported packet at the last verdict */
	uint64_t lr_start_ns; /* loss round: start */
	uint32_t lr_lost, lr_pkts; /* loss round: lost, sent (path_seq) */
	uint32_t lr_q0_us;	   /* loss round: queueing delay at start */
	struct lm_sent sent[LM_SENT_RING];
};

void lm_init(struct lm *m, const struct lm_cfg *c);
void lm_set_ceiling(struct lm *m, uint64_t ceiling_bps);
/* Books one DATA packet of `bytes` (datagram) sent at tx_us (the stamp it
 * carries); returns its path_seq. */
uint32_t lm_on_sent(struct lm *m, uint32_t bytes, uint32_t tx_us);
int lm_on_feedback(struct lm *m, uint64_t now_ns, const struct lm_fb *fb,
		   bool demand, uint64_t srtt_us);
/* The daemon queue's CoDel target for a bond whose largest link RTT is
 * rtt_us: max(cfg_ns, rtt / LM_AQM_RTT_DIV) (docs/link-model.md: a single
 * flow needs a fraction of its BDP queued to stay at full rate through
 * its own backoff; 5 ms is tuned for one link's short RTT). */
uint64_t lm_aqm_target_ns(uint64_t cfg_ns, uint64_t rtt_us);
/*
 * The daemon queue's CoDel interval: max(cfg_ns, 4 targets), plus
 * LM_AQM_HOLD_MULT times hold_ns, the head-of-line wait each recovered
 * loss costs the flows at the far end (retx_recent_nack_delay(); 0 while
 * nothing is being recovered). Why: every such wait stops a flow's ACKs
 * for a recovery round trip and then returns them at once, so the flow's
 * sender refills our queue in bursts. With losses every few tens of ms
 * the queue then never dips under the target within a 100 ms interval
 * and CoDel drops for a queue that drains in one hold
 * (docs/loss-recovery.md, "The AQM and recovery").
 */
#define LM_AQM_HOLD_MULT 4
uint64_t lm_aqm_interval_ns(uint64_t cfg_ns, uint64_t target_ns,
			    uint64_t hold_ns);
/*
 * Loss classification (docs/loss-recovery.md): is a round trip that lost
 * round_loss_ppm of its packets, with the queueing delay at q0_us at its
 * start and q_us at its end, congestion? Only with the delay signal:
 * more than LM_LOSS_CONG_PPM lost (BBRv2's loss threshold, judged per
 * round trip, not per report, where one loss in 30 packets already reads
 * 3%) while a queue stands at half the target or grew by a quarter of it
 * in the round (a shallow drop-tail buffer overflowing fills first).
 * Loss on an empty or steady short queue is random (radio, Wi-Fi): the
 * resend recovers it and the rate is not cut (Copa and LEDBAT read
 * congestion from delay alone; BBRv2 needs loss and a full inflight).
 */
bool lm_loss_congestion(uint32_t round_loss_ppm, uint32_t q0_us, uint32_t q_us,
			uint32_t target_us);
/* Base one-way delay as the raw clock-offset minimum (only differences of
 * these values mean anything); 0 before any report. */
uint32_t lm_base_owd(const struct lm *m);

#endif
