/*
 * A gap that may still be on its way on a link that lags, pure.
 *
 * The sender numbers packets when it schedules them and each link's pacer
 * sends them in that order, so a link delivers increasing seqs (its
 * interactive queue may overtake: then it looks further ahead than it is,
 * and the rule below just does not apply). A missing seq above everything
 * a link has delivered so far may still be queued on that link: behind the
 * sender's pacer, which the data's one-way delay never shows (the stamp is
 * taken at the wire). While such a link keeps delivering, giving the gap
 * up is a guess that TCP pays for with a spurious fast retransmit (a
 * session's first 100 ms with roundrobin: two STARTUP pacers 2x apart, 15
 * packets given up 6 ms before they came, slow start ended at 40 of 100
 * Mbit/s; docs/link-model.md). Once the link passes the gap, or stops
 * delivering, or reveals a loss in its own sequence (recovery takes over),
 * the normal hold decides again.
 */
#ifndef TTT_REORDER_LAGGING_H
#define TTT_REORDER_LAGGING_H

#include <stdbool.h>
#include <stdint.h>

/* A link counts as still delivering this long after its newest packet. */
#define LAGGING_ACTIVE_NS 8000000ull

/* What the receiver last saw of one link's DATA packets. */
struct lag_link {
	bool valid;	     /* the link carries DATA to us */
	uint64_t high_seq;   /* highest session seq it delivered */
	uint64_t last_rx_ns; /* when its newest DATA packet arrived */
};

/*
 * Until when the gap at `missing` may still arrive on a lagging link: the
 * latest last_rx_ns + active_ns over the valid links that delivered within
 * active_ns before now_ns and nothing at or past `missing`, at most
 * cap_ns. 0 if no such link (or the cap has passed): give the gap up as
 * usual.
 */
uint64_t lagging_hold_until(const struct lag_link *v, uint32_t n,
			    uint64_t missing, uint64_t now_ns,
			    uint64_t active_ns, uint64_t cap_ns);

#endif
