/*
 * Replay window: the properties the session layer relies on. Each test
 * would fail if the window accepted a replay, refused a fresh packet inside
 * the window, or cleared the wrong ring words on a jump.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/replay.h"

static int accept_pkt(struct replay *r, uint64_t seq)
{
	int rc = replay_check(r, seq);

	if (rc == 0)
		replay_update(r, seq);
	return rc;
}

static void test_in_order(void **state)
{
	struct replay r;

	(void)state;
	replay_init(&r);
	for (uint64_t s = 0; s < 3 * REPLAY_WINDOW; s++) {
		assert_int_equal(accept_pkt(&r, s), 0);
		assert_int_equal(replay_check(&r, s), -EALREADY);
	}
	assert_int_equal(r.top, 3 * REPLAY_WINDOW - 1);
}

static void test_seq_zero_first(void **state)
{
	struct replay r;

	(void)state;
	replay_init(&r);
	assert_int_equal(replay_check(&r, 0), 0);
	replay_update(&r, 0);
	assert_int_equal(replay_check(&r, 0), -EALREADY);
	assert_int_equal(accept_pkt(&r, 1), 0);
	assert_int_equal(replay_check(&r, 0), -EALREADY);
}

/* Packets arrive in reversed blocks of 1000 (two links, very unequal
 * delay): every one must be accepted exactly once. */
static void test_reordered_once(void **state)
{
	struct replay r;

	(void)state;
	replay_init(&r);
	for (uint64_t base = 0; base < 20000; base += 1000) {
		for (uint64_t i = 1000; i-- > 0;)
			assert_int_equal(accept_pkt(&r, base + i), 0);
		for (uint64_t i = 0; i < 1000; i++)
			assert_int_equal(accept_pkt(&r, base + i), -EALREADY);
	}
}

static void test_duplicates(void **state)
{
	struct replay r;

	(void)state;
	replay_init(&r);
	assert_int_equal(accept_pkt(&r, 100), 0);
	assert_int_equal(accept_pkt(&r, 100), -EALREADY);
	assert_int_equal(accept_pkt(&r, 50), 0);
	assert_int_equal(accept_pkt(&r, 50), -EALREADY);
	assert_int_equal(accept_pkt(&r, 51), 0);
	assert_int_equal(accept_pkt(&r, 100), -EALREADY);
}

static void test_too_old(void **state)
{
	struct replay r;
	uint64_t top = 100000;

	(void)state;
	replay_init(&r);
	assert_int_equal(accept_pkt(&r, top), 0);
	assert_int_equal(replay_check(&r, top - REPLAY_WINDOW), -ESTALE);
	assert_int_equal(replay_check(&r, 0), -ESTALE);
	assert_int_equal(replay_check(&r, top - REPLAY_WINDOW + 1), 0);
	/* A stale update changes nothing. */
	replay_update(&r, 5);
	assert_int_equal(r.top, top);
	assert_int_equal(replay_check(&r, top - REPLAY_WINDOW + 1), 0);
	assert_int_equal(accept_pkt(&r, top - REPLAY_WINDOW + 1), 0);
}

/* A jump of a few words keeps the old bits that are still in the window
 * and clears exactly the words that enter it. */
static void test_jump_clears_words(void **state)
{
	struct replay r;
	uint64_t top;

	(void)state;
	replay_init(&r);
	for (uint64_t s = 0; s < 1000; s++)
		assert_int_equal(accept_pkt(&r, s), 0);
	top = 999 + 64 * 10;
	assert_int_equal(accept_pkt(&r, top), 0);
	for (uint64_t s = 0; s < 1000; s++)
		assert_int_equal(replay_check(&r, s), -EALREADY);
	for (uint64_t s = 1000; s < top; s++)
		assert_int_equal(replay_check(&r, s), 0);

	/* Slot reuse: seq 5 and seq 5 + 64 * REPLAY_WORDS share a word. */
	replay_init(&r);
	assert_int_equal(accept_pkt(&r, 4), 0);
	assert_int_equal(accept_pkt(&r, 5), 0);
	assert_int_equal(accept_pkt(&r, 64 * (REPLAY_WORDS - 1) + 10), 0);
	assert_int_equal(replay_check(&r, 5), -ESTALE);
	assert_int_equal(replay_check(&r, 64 * REPLAY_WORDS + 5), 0);
	assert_int_equal(accept_pkt(&r, 64 * REPLAY_WORDS + 5), 0);
	assert_int_equal(replay_check(&r, 64 * REPLAY_WORDS + 4), 0);
	assert_int_equal(replay_check(&r, 64 * (REPLAY_WORDS - 1) + 10),
			 -EALREADY);

	/* A jump past the whole ring forgets everything. */
	top = r.top + 5 * REPLAY_WINDOW;
	assert_int_equal(accept_pkt(&r, top), 0);
	for (uint64_t s = top - REPLAY_WINDOW + 1; s < top; s++)
		assert_int_equal(replay_check(&r, s), 0);
}

static void test_huge_seq(void **state)
{
	struct replay r;

	(void)state;
	replay_init(&r);
	assert_int_equal(accept_pkt(&r, UINT64_MAX - 1), 0);
	assert_int_equal(accept_pkt(&r, UINT64_MAX), 0);
	assert_int_equal(accept_pkt(&r, UINT64_MAX), -EALREADY);
	assert_int_equal(accept_pkt(&r, UINT64_MAX - 2), 0);
	assert_int_equal(replay_check(&r, 0), -ESTALE);
}

/* Naive model: one byte per seq, no ring, no words. */
struct model {
	uint8_t *seen;
	uint64_t top;
};

static int model_check(const struct model *m, uint64_t seq)
{
	if (seq > m->top)
		return 0;
	if (m->top - seq >= REPLAY_WINDOW)
		return -ESTALE;
	return m->seen[seq] ? -EALREADY : 0;
}

#define MODEL_SPAN (1u << 22)

static void test_random_vs_model(void **state)
{
	struct replay r;
	struct model m;
	unsigned n_new = 0, n_seen = 0, n_stale = 0;

	(void)state;
	m.seen = calloc(MODEL_SPAN, 1);
	assert_non_null(m.seen);
	for (unsigned seed = 1; seed <= 40; seed++) {
		uint64_t hi = 0;

		srand(seed);
		replay_init(&r);
		memset(m.seen, 0, MODEL_SPAN);
		m.top = 0;
		for (int i = 0; i < 20000; i++) {
			int pick = rand() % 100;
			uint64_t seq;
			int want;

			if (pick < 60) /* around the front */
				seq = hi + (uint64_t)(rand() % 8);
			else if (pick < 95) /* late, maybe too late */
				seq =
				    hi - (uint64_t)(rand() % 20000) % (hi + 1);
			else if (pick < 99) /* a jump of a few words */
				seq = hi + (uint64_t)(rand() % (64 * 40));
			else /* a jump past the window */
				seq = hi + REPLAY_WINDOW +
				      (uint64_t)(rand() % 70000);
			if (seq >= MODEL_SPAN)
				break;
			want = model_check(&m, seq);
			assert_int_equal(replay_check(&r, seq), want);
			n_new += want == 0;
			n_seen += want == -EALREADY;
			n_stale += want == -ESTALE;
			if (want == 0 && rand() % 10 != 0) { /* 10% fail auth */
				replay_update(&r, seq);
				m.seen[seq] = 1;
				if (seq > m.top)
					m.top = seq;
			}
			if (seq > hi)
				hi = seq;
		}
	}
	free(m.seen);
	/* The walk must have exercised every answer, or it proves nothing. */
	assert_true(n_new > 1000 && n_seen > 1000 && n_stale > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_in_order),
	    cmocka_unit_test(test_seq_zero_first),
	    cmocka_unit_test(test_reordered_once),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_too_old),
	    cmocka_unit_test(test_jump_clears_words),
	    cmocka_unit_test(test_huge_seq),
	    cmocka_unit_test(test_random_vs_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
