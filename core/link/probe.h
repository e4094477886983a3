/*
 * Link prober estimators and link-health state machine, as pure logic.
 *
 * Why pure: the daemon owns sockets, clocks and timers; this module is given
 * `now_ns` (the daemon's monotonic clock) and events, so every timeline in
 * the unit tests is exact and nothing here can block or allocate.
 *
 * Contract with the daemon, per link:
 *  - every cfg_probe.interval_ms: id = probe_on_send(p, now) and send a
 *    WT_PROBE carrying that id and tx_ns = now. Ids are never 0: id 0 is free
 *    for path-MTU probes (core/link/pmtu.h), whose replies must not come here.
 *  - on a WT_PROBE_REPLY: probe_on_reply(p, &reply, now).
 *  - on any authenticated packet from the peer on the link:
 *    probe_on_rx(p, now) (or probe_on_rx_bytes(), which implies it).
 *  - on every packet sent on the link: probe_on_tx_bytes().
 *  - probe_tick(p, now) whenever now >= probe_next_deadline(p); the deadline
 *    moves with every event, so read it again after each call.
 * Calls returning an int return a mask of enum probe_event: PROBE_EV_STATE
 * when `state` changed (log it once, prev_state holds the old one) and
 * PROBE_EV_METRICS when srtt or loss moved enough to tell the schedulers
 * (links_changed), PROBE_EV_SEND when the link wants one probe sent now,
 * outside the interval. 0 means nothing worth reporting.
 *
 * Timing rules (all documented here, tested in tests/unit/test_probe.c):
 *  - RTT sample = now - echo_tx_ns - hold_us; srtt/rttvar as RFC 6298
 *    (alpha 1/8, beta 1/4, first sample srtt = R, rttvar = R/2); jitter as
 *    RFC 3550 (|R_i - R_i-1| smoothed with gain 1/16); min RTT is a 10 s
 *    windowed minimum (Kathleen Nichols' three-sample filter).
 *  - cap = max(timeout_ms, 3 * interval): timeout_ms is an upper bound.
 *  - A probe is lost when unanswered for
 *    min(cap, max(2 * interval, 3 * srtt, srtt + 4 * rttvar)). A reply that
 *    comes later but while the probe is still in the window repairs its bit.
 *  - DOWN when nothing was heard for
 *    min(cap, max(3 * interval, srtt + 4 * rttvar + interval)): about three
 *    intervals on a healthy path (300 ms at the default 100 ms), never more
 *    than the configured timeout unless that is below three intervals.
 *  - Early DOWN ("suspect", the missed-probe signal): three intervals of
 *    silence are far too slow for a link the scheduler is filling, so a
 *    link that carried data (not only probes) since it last heard from the
 *    peer is watched at RTT scale. rto = max(srtt + 4 * rttvar,
 *    2 * min RTT, 10 ms), below the DOWN timeout (srtt and rttvar already
 *    hold the queue of a busy link; a multiple of srtt would count it
 *    twice). After rto/4 (at least 10 ms) of silence with no probe sent
 *    since the last packet heard, probe_tick asks for one probe at once
 *    (PROBE_EV_SEND). A probe sent while the link was usable, unanswered
 *    for rto, newer than any probe answered, with nothing heard for rto/2
 *    (at least 10 ms), makes the link DOWN with `suspect` set and asks for
 *    one more probe (PROBE_EV_SEND), so a false alarm ends a round trip
 *    later. The probe may predate the last packet heard (what was in
 *    flight when the path broke still arrives): a busy link that is alive
 *    is never silent that long, and a reply to a later probe shows the
 *    link outlived a merely lost one. Idle links (nothing but probes) are
 *    never suspected, so a lossy idle link does not flap. Suspect keeps
 *    the estimators and loss window: anything heard from the peer (the
 *    next probe_tick or reply) restores the previous state at once, and a
 *    silence that reaches the DOWN timeout makes it a real DOWN. (A stall
 *    of the daemon itself looks like silence on every link at once: the
 *    sockets' watchers run before the timers after one, and a session
 *    whose links are all merely suspect keeps one usable (free first);
 *    see session_refresh_views.)
 *  - Start state DOWN; the first reply brings a fresh link UP. A link that
 *    went DOWN needs PROBE_RECOVER_REPLIES replies in a row (to consecutive
 *    probe ids, none skipped) to come back, so one stray packet does not make
 * it flap. While DOWN, a reply that starts or continues such a streak asks
 *    for the next probe at once (PROBE_EV_SEND), so a returning link is
 *    back after about two round trips instead of two intervals.
 *  - Entering DOWN restarts the loss window and the RTT estimators: the
 *    outage is reported as DOWN, not as loss, and a link that comes back may
 *    be on another path. Probes sent while DOWN do not count towards loss.
 *  - DEGRADED (from UP) when loss_ppm >= degraded_loss_ppm with at least
 *    half a window of decided probes, or srtt >= degraded_rtt_ms. Back to UP
 *    only after PROBE_CLEAR_STREAK decided probes in a row with loss_ppm
 *    below half the threshold and srtt below 3/4 of its threshold. A
 *    threshold of 0 is off.
 *  - Rates: bytes per interval, EWMA with gain 1/4 (a ~4 interval time
 *    constant); idle intervals decay the estimate towards 0.
 */
#ifndef TTT_PROBE_H
#define TTT_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "wire/wire.h"

/* Largest loss window supported; larger cfg values are clamped to it. */
#define PROBE_WINDOW_MAX 256
/* Used when cfg_probe.loss_window / interval_ms is 0. */
#define PROBE_DEFAULT_WINDOW	  50
#define PROBE_DEFAULT_INTERVAL_MS 100
/* Replies in a row that bring a link back from DOWN (after an outage). */
#define PROBE_RECOVER_REPLIES 2
/* Decided probes in a row under the exit thresholds to leave DEGRADED. */
#define PROBE_CLEAR_STREAK 5
/* Window of the min-RTT filter (ns). */
#define PROBE_MINRTT_WIN_NS (10ull * 1000000000ull)

/* RTT histogram buckets (upper bounds, us) for monitoring. */
#define PROBE_RTT_BUCKETS 14
extern const uint64_t probe_rtt_bucket_us[PROBE_RTT_BUCKETS];

/* Map to TTT_LINK_* in the daemon (DOWN, DEGRADED, UP). */
enum probe_link_state { PLS_DOWN = 0, PLS_DEGRADED = 1, PLS_UP = 2 };

enum probe_event {
	PROBE_EV_STATE = 1,   /* state changed */
	PROBE_EV_METRICS = 2, /* srtt/loss changed enough for schedulers */
	PROBE_EV_SEND = 4,    /* send one probe now (early signal, recovery) */
};
/* Floor of the suspect timeout (ns): below it, scheduling noise of a busy
 * host would look like a dead path. */
#define PROBE_SUSPECT_MIN_NS (10ull * 1000000ull)

/* One sent probe in the loss window (internal). */
struct probe_slot {
	uint64_t tx_ns;
	uint32_t id;
	uint8_t status;	 /* empty, pending, answered, lost (probe.c) */
	uint8_t counted; /* sent while not DOWN: counts towards loss */
	uint16_t pad;
};

/* One sample of the windowed min-RTT filter (internal). */
struct probe_minrtt {
	uint64_t t_ns;
	uint64_t rtt_us;
};

/* A byte-rate estimator's open bucket (internal). */
struct probe_rate {
	uint64_t start_ns; /* start of the bucket being filled */
	uint64_t bytes;	   /* bytes in it so far */
	int primed;	   /* a first sample was taken */
};

/*
 * Everything the prober knows about one link. The fields in the "read-only"
 * block are the public metrics: read them freely, never write them. Zeroed
 * and set up by probe_link_init(); no other resource to release.
 */
struct probe_link {
	/* ---- read-only metrics ---- */
	enum probe_link_state state;
	enum probe_link_state prev_state; /* before the last change */
	uint64_t state_since_ns;	  /* when `state` was entered */
	uint64_t srtt_us;		  /* smoothed RTT, 0 until a sample */
	uint64_t rttvar_us;		  /* RTT variation */
	uint64_t jitter_us;   /* RFC 3550 jitter of the RTT samples */
	uint64_t min_rtt_us;  /* min RTT over PROBE_MINRTT_WIN_NS, 0 if none */
	uint64_t last_rtt_us; /* latest sample */
	uint32_t loss_ppm;    /* lost / decided probes in the window */
	uint32_t window_answered; /* counted probes answered in the window */
	uint32_t window_lost;	  /* counted probes lost in the window */
	uint32_t pad0;
	uint64_t last_heard_ns; /* last packet of any kind from the peer */
	uint64_t last_reply_ns; /* last valid probe reply */
	uint64_t probes_sent;
	uint64_t replies;	  /* valid first replies (incl. late ones) */
	uint64_t lost;		  /* probes lost, net of late repairs */
	uint64_t late_replies;	  /* replies after the probe was counted lost */
	uint64_t dup_replies;	  /* second replies to a probe: ignored */
	uint64_t unknown_replies; /* unknown id / too old / bad echo: ignored */
	uint64_t peer_rx_packets; /* the peer's rx count from the last reply */
	uint64_t rx_rate_bps;	  /* received bit/s (EWMA) */
	uint64_t tx_rate_bps;	  /* sent bit/s (EWMA) */
	uint32_t suspect;	  /* DOWN early, not confirmed (see above) */
	uint32_t pad4;
	uint64_t suspects;	   /* early DOWNs entered */
	uint64_t suspects_cleared; /* ... that turned out alive */
	uint64_t early_probes;	   /* extra probes asked (EV_SEND) */
	uint64_t last_data_tx_ns;  /* last send that was not a probe */
	uint64_t last_probe_tx_ns; /* last probe sent */
	uint64_t answered_tx_ns;   /* send time of the newest probe answered */
	/* Every RTT sample since init, by bucket (not cumulative): sample r
	 * lands in the first i with r <= probe_rtt_bucket_us[i], else in the
	 * last (+Inf) slot. Never reset by DOWN, so they are counters. */
	uint64_t rtt_hist[PROBE_RTT_BUCKETS + 1];
	uint64_t rtt_sum_us; /* sum of those samples */
	uint64_t rtt_samples;

	/* ---- configuration, derived at init ---- */
	uint64_t interval_ns;
	uint64_t cap_ns; /* max(timeout_ms, 3 * interval) */
	uint32_t window; /* slots used in ring[] */
	uint32_t loss_enter_ppm, loss_leave_ppm;
	/* set by the daemon: loss up to this much is being recovered inside
	 * the tunnel (docs/loss-recovery.md), so it alone does not make the
	 * link DEGRADED; 0 = none */
	uint32_t loss_excused_ppm;
	uint64_t rtt_enter_us, rtt_leave_us;

	/* ---- private ---- */
	uint32_t next_id;
	uint32_t consec_replies; /* replies to consecutive probe ids */
	uint32_t streak_last_id; /* last probe id of that streak */
	uint32_t need_replies;	 /* consec_replies needed to leave DOWN */
	uint32_t clear_streak;	 /* decisions in a row below exit thresholds */
	int rtt_valid;		 /* srtt holds a sample since the last reset */
	uint32_t pad3;
	uint32_t n_minrtt; /* 0 until the filter has a sample */
	struct probe_minrtt minrtt[3];
	uint64_t reported_srtt_us;
	uint32_t reported_loss_ppm;
	uint32_t pad2;
	enum probe_link_state suspect_from; /* state to restore */
	uint32_t pad5;
	uint64_t suspect_heard_ns; /* last_heard_ns when suspected */
	uint64_t early_probe_ns;   /* when EV_SEND was last asked */
	struct probe_rate rx, tx;
	struct probe_slot ring[PROBE_WINDOW_MAX];
};

/* Sets up p for a link starting at now_ns, in state DOWN. cfg is copied. */
void probe_link_init(struct probe_link *p, const struct cfg_probe *cfg,
		     uint64_t now_ns);

/* Records a probe sent at now_ns. Returns its id (never 0) for the packet. */
uint32_t probe_on_send(struct probe_link *p, uint64_t now_ns);

/* A probe reply arrived. Returns a mask of enum probe_event. */
int probe_on_reply(struct probe_link *p, const struct wire_probe_reply *r,
		   uint64_t now_ns);

/* Any authenticated packet heard from the peer on this link: proof of life.
 * It keeps an UP link from going DOWN but cannot bring a DOWN link up (that
 * needs probe replies, which prove both directions). */
void probe_on_rx(struct probe_link *p, uint64_t now_ns);

/* `bytes` received on the link (implies probe_on_rx) / sent on it. A send
 * at the same now_ns as the last probe_on_send (that probe) or as the last
 * packet heard (an answer to it) is not data; any other send marks the link
 * as carrying data (last_data_tx_ns, see the early DOWN). */
void probe_on_rx_bytes(struct probe_link *p, uint64_t now_ns, uint64_t bytes);
void probe_on_tx_bytes(struct probe_link *p, uint64_t now_ns, uint64_t bytes);
/* The same for a control message (a link-model feedback report): counted
 * in the rate, but it does not make the link "in use" for the early DOWN
 * (an idle link carrying reports about the other direction is idle). */
void probe_on_tx_ctl_bytes(struct probe_link *p, uint64_t now_ns,
			   uint64_t bytes);

/* Declares lost probes and dead links. Returns a mask of enum probe_event. */
int probe_tick(struct probe_link *p, uint64_t now_ns);

/* When probe_tick must run next (ns), UINT64_MAX if nothing is pending. */
uint64_t probe_next_deadline(const struct probe_link *p);

/* Current loss deadline of a probe (ns after its send): also a sensible
 * timeout for the link's path-MTU probes. */
uint64_t probe_loss_timeout_ns(const struct probe_link *p);
/* Current silence after which the link is declared DOWN (ns). */
uint64_t probe_down_timeout_ns(const struct probe_link *p);
/* Current round-trip timeout of the early DOWN (ns), see above. */
uint64_t probe_suspect_timeout_ns(const struct probe_link *p);
/* Silence (ns) that, with a probe overdue, makes the early DOWN. */
uint64_t probe_suspect_silence_ns(const struct probe_link *p);
/* Silence (ns) after which a link carrying data asks for a probe. */
uint64_t probe_ask_silence_ns(const struct probe_link *p);

/* "down", "degraded", "up". */
const char *probe_state_name(enum probe_link_state s);

/*
 * Reorder hold hint over a set of links, for any container: init, add every
 * link, then read. Only links that are not DOWN and have an RTT sample
 * count. One-way delay differences are estimated as (srtt_i - srtt_min) / 2
 * (a symmetric-path assumption: the prober only sees round trips).
 */
struct probe_hint {
	uint64_t min_srtt_us;
	uint64_t max_srtt_us;
	uint64_t max_jitter_us;
	uint32_t n; /* links counted */
	uint32_t pad;
};
void probe_hint_init(struct probe_hint *h);
void probe_hint_add(struct probe_hint *h, const struct probe_link *p);
/* Max one-way-delay difference + max jitter (us); 0 with fewer than two
 * usable links, since one path alone does not reorder by itself. */
uint64_t probe_hint_hold_us(const struct probe_hint *h);
/* p's one-way delay minus the fastest counted link's (us), for
 * ttt_link_view.owd_diff_us; 0 when p or the set has no estimate. */
int64_t probe_hint_owd_diff_us(const struct probe_hint *h,
			       const struct probe_link *p);
/* The same hold hint for an array of links. */
uint64_t probe_hold_hint_us(const struct probe_link *links, size_t n);

#endif
