/*
 * Unit tests of the path-MTU search (core/link/pmtu.c) against a simulated path
 * with a size limit and scripted or seeded-random loss.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "link/pmtu.h"

#define SEC 1000000000ull

struct path {
	uint32_t limit;	   /* largest size that passes */
	uint32_t loss_pct; /* random loss of any probe, 0..100 */
	uint64_t rng;	   /* xorshift state */
	int lose_first;	   /* drop the first try of every size that fits */
	uint32_t last_size;
	/* what the search cost */
	uint32_t packets;
	uint32_t sizes; /* distinct consecutive sizes */
};

static uint32_t rnd(struct path *p)
{
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return (uint32_t)(p->rng % 100);
}

/* Runs the search until it has nothing to send; returns pmtu_current. */
static uint32_t run(struct pmtu *m, struct path *p, uint64_t now)
{
	for (int guard = 0; guard < 200; guard++) {
		uint32_t size = pmtu_next_probe_size(m, now);
		if (!size)
			return pmtu_current(m);
		assert_true(size > pmtu_current(m));
		assert_true(size <= m->ceiling);
		p->packets++;
		int first = size != p->last_size;
		if (first)
			p->sizes++;
		p->last_size = size;
		int lost = (p->loss_pct && rnd(p) < p->loss_pct) ||
			   (p->lose_first && first);
		if (size <= p->limit && !lost)
			pmtu_on_ack(m, size);
		else
			pmtu_on_timeout(m, size);
		now += SEC / 10;
	}
	fail_msg("search did not converge");
	return 0;
}

static void test_converges_to_1400(void **state)
{
	struct pmtu m;
	assert_int_equal(pmtu_init(&m, 1280, 1500), 0);
	assert_int_equal(pmtu_current(&m), 1280);
	struct path p = {.limit = 1400};
	assert_int_equal(run(&m, &p, 0), 1400);
	assert_true(p.sizes <= 8);
	assert_true(p.packets <= 2 * p.sizes);
	assert_int_equal(pmtu_next_probe_size(&m, 60 * SEC), 0);
}

/* pmtu_limit: the datapath's bound. It starts at the ceiling (nothing has
 * failed yet) and falls only when a size is shown too big. */
static void test_limit_bounds_what_may_be_sent(void **state)
{
	struct pmtu m;
	struct pmtu zero;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(pmtu_limit(&zero), 0);
	pmtu_init(&m, 1280, 1500);
	assert_int_equal(pmtu_limit(&m), 1500);
	uint32_t sz = pmtu_next_probe_size(&m, 0);
	assert_int_equal(sz, 1500);
	pmtu_on_timeout(&m, sz);
	assert_int_equal(pmtu_limit(&m), 1500); /* one loss proves nothing */
	sz = pmtu_next_probe_size(&m, 0);
	assert_int_equal(sz, 1500);
	pmtu_on_timeout(&m, sz);
	assert_true(pmtu_limit(&m) < 1500); /* twice: too big */
	assert_true(pmtu_limit(&m) >= pmtu_current(&m));
	assert_int_equal(pmtu_on_emsgsize(&m, 1400), 0);
	assert_true(pmtu_limit(&m) < 1400);
}

static void test_first_probe_is_ceiling(void **state)
{
	struct pmtu m;
	pmtu_init(&m, 1280, 1500);
	assert_int_equal(pmtu_next_probe_size(&m, 0), 1500);
	pmtu_on_ack(&m, 1500);
	assert_int_equal(pmtu_current(&m), 1500);
	assert_int_equal(pmtu_next_probe_size(&m, 0), 0);
	/* Even after the re-probe period: already at the ceiling. */
	assert_int_equal(pmtu_next_probe_size(&m, 2 * PMTU_REPROBE_NS), 0);
}

static void test_every_limit_in_range(void **state)
{
	for (uint32_t limit = 1280; limit <= 1500; limit++) {
		struct pmtu m;
		pmtu_init(&m, 1280, 1500);
		struct path p = {.limit = limit};
		uint32_t got = run(&m, &p, 0);
		assert_true(got <= limit);
		assert_true(got + PMTU_GRAIN > limit);
		assert_true(p.sizes <= 8);
	}
	/* IPv4 floor, wider range: still logarithmic. */
	for (uint32_t limit = 576; limit <= 9000; limit += 97) {
		struct pmtu m;
		pmtu_init(&m, 576, 9000);
		struct path p = {.limit = limit};
		uint32_t got = run(&m, &p, 0);
		assert_true(got <= limit && got + PMTU_GRAIN > limit);
		assert_true(p.sizes <= 13);
	}
}

static void test_single_loss_does_not_shrink(void **state)
{
	/* Every size that fits loses its first try: one retry each. */
	struct pmtu m;
	pmtu_init(&m, 1280, 1500);
	struct path p = {.limit = 1400, .lose_first = 1};
	assert_int_equal(run(&m, &p, 0), 1400);
	assert_true(p.packets == 2 * p.sizes);
}

static void test_random_loss(void **state)
{
	int exact = 0;
	for (uint64_t seed = 1; seed <= 200; seed++) {
		struct pmtu m;
		pmtu_init(&m, 1280, 1500);
		struct path p = {.limit = 1400, .loss_pct = 10, .rng = seed};
		uint32_t got = run(&m, &p, 0);
		assert_true(got <= 1400); /* never above the real limit */
		if (got == 1400)
			exact++;
	}
	/* Wrong only when a size that fits is lost twice in a row (1% per
	 * size at 10% loss). */
	assert_true(exact >= 190);
}

static void test_late_ack_undoes_too_big(void **state)
{
	struct pmtu m;
	pmtu_init(&m, 1280, 1500);
	assert_int_equal(pmtu_next_probe_size(&m, 0), 1500);
	pmtu_on_timeout(&m, 1500);
	assert_int_equal(pmtu_next_probe_size(&m, 0), 1500); /* retried */
	pmtu_on_timeout(&m, 1500);
	uint32_t next = pmtu_next_probe_size(&m, 0);
	assert_true(next < 1500 && next > 1280);
	/* Both 1500s were only delayed: the late ack wins. */
	pmtu_on_ack(&m, 1500);
	assert_int_equal(pmtu_current(&m), 1500);
	assert_int_equal(pmtu_next_probe_size(&m, 0), 0);

	/* A midpoint wrongly judged too big: its late ack reopens the
	 * search above it. */
	pmtu_init(&m, 1280, 1500);
	assert_int_equal(pmtu_next_probe_size(&m, 0), 1500);
	pmtu_on_timeout(&m, 1500);
	pmtu_on_timeout(&m, 1500);
	uint32_t mid = pmtu_next_probe_size(&m, 0);
	assert_true(mid < 1400);
	pmtu_on_timeout(&m, mid);
	pmtu_on_timeout(&m, mid);
	assert_true(pmtu_next_probe_size(&m, 0) < mid);
	pmtu_on_ack(&m, mid);
	assert_int_equal(pmtu_current(&m), mid);
	struct path p = {.limit = 1400};
	assert_int_equal(run(&m, &p, 0), 1400);
}

static void test_emsgsize_on_probe_is_immediate(void **state)
{
	struct pmtu m;
	pmtu_init(&m, 1280, 1500);
	assert_int_equal(pmtu_next_probe_size(&m, 0), 1500);
	assert_int_equal(pmtu_on_emsgsize(&m, 1500), 0);
	uint32_t next = pmtu_next_probe_size(&m, 0);
	assert_true(next <
		    1500); /* no second try of a size the kernel refused */
	assert_int_equal(pmtu_current(&m), 1280);
}

static void test_emsgsize_drops_and_searches_down(void **state)
{
	struct pmtu m;
	pmtu_init(&m, 1280, 1500);
	struct path p = {.limit = 1500};
	assert_int_equal(run(&m, &p, 0), 1500);

	/* The route shrank to 1400: a data packet of 1500 bounces. */
	assert_int_equal(pmtu_on_emsgsize(&m, 1500), 0);
	assert_int_equal(pmtu_current(&m), 1280); /* safe at once */
	p = (struct path){.limit = 1400};
	assert_int_equal(run(&m, &p, SEC), 1400);
	assert_true(p.sizes <= 8);

	/* EMSGSIZE above what we use already is no news. */
	assert_int_equal(pmtu_on_emsgsize(&m, 1450), 0);
	assert_int_equal(pmtu_current(&m), 1400);
}

static void test_reprobe_after_period(void **state)
{
	struct pmtu m;
	pmtu_init(&m, 1280, 1500);
	struct path p = {.limit = 1400};
	assert_int_equal(run(&m, &p, 0), 1400);
	uint64_t t = 10 * SEC;
	assert_int_equal(pmtu_next_probe_size(&m, t), 0);
	assert_int_equal(pmtu_next_probe_size(&m, PMTU_REPROBE_NS - 1), 0);

	/* The path grew meanwhile. */
	assert_int_equal(pmtu_next_probe_size(&m, t + PMTU_REPROBE_NS), 1500);
	pmtu_on_ack(&m, 1500);
	assert_int_equal(pmtu_current(&m), 1500);

	/* A re-probe on a path that did not grow comes back to the same. */
	pmtu_init(&m, 1280, 1500);
	p = (struct path){.limit = 1400};
	run(&m, &p, 0);
	p = (struct path){.limit = 1400};
	assert_int_equal(run(&m, &p, 2 * PMTU_REPROBE_NS), 1400);
	assert_true(p.sizes >= 1);
	assert_int_equal(pmtu_current(&m), 1400);
}

static void test_bad_input(void **state)
{
	struct pmtu m;
	assert_int_equal(pmtu_init(&m, 1500, 1280), -EINVAL);
	assert_int_equal(pmtu_current(&m), 1280);
	assert_int_equal(pmtu_next_probe_size(&m, 0), 0);
	assert_int_equal(pmtu_init(&m, 0, 1500), -EINVAL);
	assert_int_equal(pmtu_next_probe_size(&m, 0), 0);
	assert_int_equal(pmtu_current(&m), 0);

	assert_int_equal(pmtu_init(&m, 1280, 1280), 0);
	assert_int_equal(pmtu_next_probe_size(&m, 0), 0);
	assert_int_equal(pmtu_current(&m), 1280);

	pmtu_init(&m, 1280, 1500);
	pmtu_on_ack(&m, 9000); /* never probed: ignored */
	pmtu_on_ack(&m, 100);
	assert_int_equal(pmtu_current(&m), 1280);
	pmtu_on_timeout(&m, 1000); /* below what is known to pass */
	pmtu_on_timeout(&m, 1000);
	assert_int_equal(pmtu_current(&m), 1280);
	assert_int_equal(pmtu_next_probe_size(&m, 0), 1500);

	/* A stale timeout of another size does not count towards 1500. */
	pmtu_on_timeout(&m, 1500);
	pmtu_on_timeout(&m, 1490);
	assert_int_equal(pmtu_next_probe_size(&m, 0), 1500);
	pmtu_on_timeout(&m, 1500);
	assert_int_equal(pmtu_next_probe_size(&m, 0), 1500);
	pmtu_on_timeout(&m, 1500); /* now twice in a row */
	assert_true(pmtu_next_probe_size(&m, 0) < 1500);

	/* Even the floor does not fit: pinned there, no probing. */
	assert_int_equal(pmtu_on_emsgsize(&m, 1200), -ERANGE);
	assert_int_equal(pmtu_current(&m), 1280);
	assert_int_equal(pmtu_next_probe_size(&m, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_converges_to_1400),
	    cmocka_unit_test(test_first_probe_is_ceiling),
	    cmocka_unit_test(test_limit_bounds_what_may_be_sent),
	    cmocka_unit_test(test_every_limit_in_range),
	    cmocka_unit_test(test_single_loss_does_not_shrink),
	    cmocka_unit_test(test_random_loss),
	    cmocka_unit_test(test_late_ack_undoes_too_big),
	    cmocka_unit_test(test_emsgsize_on_probe_is_immediate),
	    cmocka_unit_test(test_emsgsize_drops_and_searches_down),
	    cmocka_unit_test(test_reprobe_after_period),
	    cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
