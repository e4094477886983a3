/*
 * xorshift64* (Vigna): a fast, seedable generator for tests and benches that
 * must replay the same "random" run from a printed seed. Not for anything
 * that needs unpredictability.
 */
#ifndef TTT_TEST_XORSHIFT_H
#define TTT_TEST_XORSHIFT_H

#include <stdint.h>

/* Next value; *s is the state and must not be 0. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* A value in [0, n), n > 0 (modulo bias is fine for tests). */
static inline uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

#endif
