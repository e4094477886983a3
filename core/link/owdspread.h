/*
 * One-way-delay arithmetic across the links of one session, pure.
 *
 * Every link of a session carries one sender's stamps to one receiver's
 * clock, so a link's one-way delay is "far clock minus near clock" plus an
 * offset that is the same for every link: the offset cancels in any
 * difference between links, which is therefore exact without synchronised
 * clocks (docs/link-model.md). Values are raw microsecond clocks mod 2^32;
 * only their differences are used. Used by session.c for the reorder hold
 * (receiver) and for earliest-arrival's per-link delay (sender).
 */
#ifndef TTT_LINK_OWDSPREAD_H
#define TTT_LINK_OWDSPREAD_H

#include <stdbool.h>
#include <stdint.h>

/* One link's newest DATA packet, as the receiver saw it. */
struct owd_sample {
	bool valid;
	uint32_t owd_us; /* receiver clock - sender stamp (raw) */
	uint32_t rx_us;	 /* receiver clock when it arrived */
};

/* Largest minus smallest delay of the samples that arrived less than
 * recent_us before rx_now; 0 with fewer than two such links. */
uint32_t owd_spread_us(const struct owd_sample *v, uint32_t n, uint32_t rx_now,
		       uint32_t recent_us);

/* out[i] = raw[i] minus the smallest raw of the links with use[i] (us, >= 0)
 * for those links, 0 for the others. */
void owd_diffs_us(const uint32_t *raw, const bool *use, uint32_t n,
		  int64_t *out);

#endif
