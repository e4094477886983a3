/*
 * Anti-replay window (RFC 6479 style): a ring of 64-bit words indexed by
 * seq, so check and update are O(1) and a jump forward clears whole words
 * instead of shifting a bitmap. One per session and direction. Bonded links
 * deliver out of order (a slow LTE packet arrives after thousands of DSL
 * ones), hence a window far wider than IPsec's usual 64.
 */
#ifndef TTT_REPLAY_H
#define TTT_REPLAY_H

#include <stdint.h>

#define REPLAY_WORDS 256 /* power of two: the ring index is a mask */
/* One word is the partly-filled current block, so this many seqs below the
 * highest one seen are tracked: 16320 packets. */
#define REPLAY_WINDOW ((uint64_t)(REPLAY_WORDS - 1) * 64)

struct replay {
	uint64_t top; /* highest seq accepted (0 before any) */
	uint64_t bits[REPLAY_WORDS];
};

/* Empty window; seq 0 is a valid first packet. */
void replay_init(struct replay *r);
/* 0 = new, -EALREADY = seen, -ESTALE = older than the window. Read-only:
 * call it before authenticating to drop replays cheaply. */
int replay_check(const struct replay *r, uint64_t seq);
/* Marks seq seen; call only after the packet authenticated, or a forged seq
 * could slide the window and make real packets look stale. A stale seq is
 * ignored. */
void replay_update(struct replay *r, uint64_t seq);

#endif
