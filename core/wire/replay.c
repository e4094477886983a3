/*
 * RFC 6479 replay window. The bitmap is a ring of words; bit (seq % 64) of
 * word ((seq / 64) % REPLAY_WORDS) stands for seq. Advancing top zeroes only
 * the words entering the window, so a jump costs at most REPLAY_WORDS word
 * writes and the common in-order case touches one word.
 */
#include "wire/replay.h"

#include <errno.h>
#include <string.h>

#define REPLAY_MASK ((uint64_t)REPLAY_WORDS - 1)

_Static_assert((REPLAY_WORDS & (REPLAY_WORDS - 1)) == 0,
	       "REPLAY_WORDS must be a power of two");
_Static_assert(REPLAY_WINDOW >= 8192, "replay window too small for bonding");

void replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
}

int replay_check(const struct replay *r, uint64_t seq)
{
	uint64_t word;

	if (seq > r->top)
		return 0;
	if (r->top - seq >= REPLAY_WINDOW)
		return -ESTALE;
	word = r->bits[(seq >> 6) & REPLAY_MASK];
	return (word >> (seq & 63)) & 1 ? -EALREADY : 0;
}

void replay_update(struct replay *r, uint64_t seq)
{
	if (seq > r->top) {
		uint64_t cur = r->top >> 6, next = seq >> 6;

		if (next - cur >= REPLAY_WORDS) {
			memset(r->bits, 0, sizeof(r->bits));
		} else {
			for (uint64_t w = cur + 1; w <= next; w++)
				r->bits[w & REPLAY_MASK] = 0;
		}
		r->top = seq;
	} else if (r->top - seq >= REPLAY_WINDOW) {
		return;
	}
	r->bits[(seq >> 6) & REPLAY_MASK] |= (uint64_t)1 << (seq & 63);
}
