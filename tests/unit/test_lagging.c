/*
 * Unit tests of reorder/lagging.c, alone and driving a reorder buffer the
 * way session.c does (reorder_set_coming), on a synthetic two-link trace: a
 * link whose packets wait behind the sender's pacer longer than the hold
 * must not have its gaps given up while it is still delivering, and a real
 * loss must still be given up once the lagging link has passed it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lagging.h"
#include "reorder.h"

#define MS 1000000ull

static void test_rule(void **state)
{
	(void)state;
	const uint64_t act = LAGGING_ACTIVE_NS, now = 100 * MS;
	struct lag_link v[3] = {
	    {.valid = true, .high_seq = 50, .last_rx_ns = now - 1 * MS},
	    {.valid = true, .high_seq = 41, .last_rx_ns = now - 2 * MS},
	    {.valid = false, .high_seq = 0, .last_rx_ns = 0},
	};
	/* 42 may still be on link 1, which delivered 2 ms ago */
	assert_int_equal(lagging_hold_until(v, 3, 42, now, act, UINT64_MAX),
			 now - 2 * MS + act);
	/* the cap bounds it; a cap that passed means no hold */
	assert_int_equal(lagging_hold_until(v, 3, 42, now, act, now + 1 * MS),
			 now + 1 * MS);
	assert_int_equal(lagging_hold_until(v, 3, 42, now, act, now), 0);
	/* both links passed 41: nobody can still carry it */
	assert_int_equal(lagging_hold_until(v, 3, 41, now, act, UINT64_MAX), 0);
	/* link 1 went quiet: no hold */
	v[1].last_rx_ns = now - act;
	assert_int_equal(lagging_hold_until(v, 3, 42, now, act, UINT64_MAX), 0);
	/* the latest of two lagging links wins */
	v[1].last_rx_ns = now - 3 * MS;
	assert_int_equal(lagging_hold_until(v, 3, 60, now, act, UINT64_MAX),
			 now - 1 * MS + act);
	/* a link never seen does not count, even with high_seq 0 */
	v[0].valid = v[1].valid = false;
	assert_int_equal(lagging_hold_until(v, 3, 60, now, act, UINT64_MAX), 0);
	/* a stamp from the future (clock read ahead) is ignored */
	v[0].valid = true;
	v[0].last_rx_ns = now + 1 * MS;
	assert_int_equal(lagging_hold_until(v, 3, 60, now, act, UINT64_MAX), 0);
}

/* ---- a reorder buffer fed a two-link trace ---- */

#define NPK 60

struct sim {
	uint64_t out[NPK], out_at[NPK], at[NPK + 1];
	uint64_t now;
	unsigned n;
	struct lag_link links[2];
	uint64_t max_hold;
};

static void deliver(void *arg, void *pkt, uint32_t len)
{
	(void)len;
	struct sim *m = arg;
	assert_true(m->n < NPK);
	m->out_at[m->n] = m->now;
	m->out[m->n++] = (uint64_t)(uintptr_t)pkt;
}

/* What gap_still_coming() in session.c answers the buffer. */
static uint64_t still_coming(void *arg, uint64_t missing, uint64_t arrival_ns,
			     uint64_t now_ns)
{
	struct sim *m = arg;
	return lagging_hold_until(m->links, 2, missing, now_ns,
				  LAGGING_ACTIVE_NS, arrival_ns + m->max_hold);
}

static void run_until(struct sim *m, struct reorder *r, uint64_t t)
{
	while (reorder_next_deadline(r) <= t) {
		m->now = reorder_next_deadline(r);
		reorder_tick(r, m->now);
	}
}

/*
 * Seqs 1..NPK in one flow, alternating links as roundrobin does: odd seqs
 * on link 1, whose packets wait behind the sender's pacer for up to
 * `lag` (it still delivers about every 1 ms), even ones on link 0 at once.
 * `drop` (0 = none) never arrives. Returns the reorder buffer's stats.
 */
static struct reorder_stats run(struct sim *m, bool rule, uint64_t lag,
				uint64_t drop)
{
	memset(m, 0, sizeof(*m));
	m->max_hold = 300 * MS;
	struct reorder *r = NULL;
	assert_int_equal(reorder_create(&r, 256, 12 * MS, deliver, m), 0);
	if (rule)
		reorder_set_coming(r, still_coming, m);
	uint64_t *at = m->at;
	for (uint64_t s = 1; s <= NPK; s++) {
		/* the pacer's backlog builds over the first half */
		uint64_t l = s < NPK / 2 ? lag * s / (NPK / 2) : lag;
		at[s] = 10 * MS + s * 500000ull + (s & 1 ? l : 0);
	}
	/* arrival order: by time */
	bool done[NPK + 1] = {false};
	for (unsigned k = 0; k < NPK; k++) {
		uint64_t best = 0;
		for (uint64_t s = 1; s <= NPK; s++)
			if (!done[s] && (!best || at[s] < at[best]))
				best = s;
		done[best] = true;
		if (best == drop)
			continue;
		uint64_t now = at[best];
		run_until(m, r, now);
		m->now = now;
		struct lag_link *l = &m->links[best & 1];
		l->valid = true;
		if (best > l->high_seq)
			l->high_seq = best;
		l->last_rx_ns = now;
		int ret = reorder_push(r, best, best > 1 ? 1 : 0,
				       (void *)(uintptr_t)best, 100, now);
		assert_true(ret == 0 || ret == -ESTALE);
	}
	run_until(m, r, UINT64_MAX - 1);
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	reorder_destroy(r);
	return st;
}

/* 18 ms behind the pacer against a 12 ms hold: without the rule the gaps
 * expire and the lagging link's packets come late (TCP would see them out
 * of order); with it every packet is delivered, in order. */
static void test_lagging_link_not_given_up(void **state)
{
	(void)state;
	struct sim m;
	struct reorder_stats st = run(&m, false, 18 * MS, 0);
	assert_true(st.expired > 0);
	assert_true(st.late > 0);

	st = run(&m, true, 18 * MS, 0);
	assert_int_equal(st.expired, 0);
	assert_int_equal(st.late, 0);
	assert_int_equal(st.lost, 0);
	assert_int_equal(m.n, NPK);
	for (unsigned i = 0; i < NPK; i++)
		assert_int_equal(m.out[i], i + 1);
}

/* A real loss on the fast link (seq 20) is still given up: once the
 * lagging link has delivered past it, not at the 300 ms cap. */
static void test_real_loss_still_given_up(void **state)
{
	(void)state;
	struct sim m;
	struct reorder_stats st = run(&m, true, 18 * MS, 20);
	assert_int_equal(st.lost, 1);
	assert_int_equal(st.late, 0);
	assert_int_equal(m.n, NPK - 1);
	for (unsigned i = 1; i < m.n; i++)
		assert_true(m.out[i] > m.out[i - 1]);
	/* given up on in time: 21, the packet after the loss, waited only
	 * until the lagging link had passed 20 (its own arrival) and the
	 * last wait it had asked for ran out, not to the 300 ms cap */
	for (unsigned i = 0; i < m.n; i++)
		if (m.out[i] == 21)
			assert_true(m.out_at[i] - m.at[21] <=
				    LAGGING_ACTIVE_NS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rule),
	    cmocka_unit_test(test_lagging_link_not_given_up),
	    cmocka_unit_test(test_real_loss_still_given_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
