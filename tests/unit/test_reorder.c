/*
 * Unit tests of the reorder buffer: hand-written scenarios for each rule of
 * the contract in reorder.h, then a property test over thousands of random
 * two/three-link traces, because the bugs that matter here (a packet held
 * forever, delivered twice, or out of order after some rare interleaving)
 * only show up on traces nobody would write by hand.
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

#include "xorshift.h"

#include "reorder.h"

#define MS 1000000ull

/* A test packet; the buffer only ever sees its address. */
struct pk {
	uint64_t seq;
	uint32_t gap;
	int bucket;
};

#define MAX_OUT 64

/* Records deliveries and the simulated time at which they happened. */
struct rec {
	const struct pk *out[MAX_OUT];
	uint64_t at[MAX_OUT];
	size_t n;
	uint64_t now;
};

static void rec_deliver(void *arg, void *pkt, uint32_t len)
{
	struct rec *c = arg;
	const struct pk *p = pkt;
	assert_true(c->n < MAX_OUT);
	/* The length given at push must come back unchanged. */
	assert_int_equal(len, (uint32_t)(p->seq & 0xffff));
	c->at[c->n] = c->now;
	c->out[c->n++] = p;
}

static int push(struct reorder *r, struct rec *c, const struct pk *p,
		uint64_t now)
{
	c->now = now;
	return reorder_push(r, p->seq, p->gap, (void *)p,
			    (uint32_t)(p->seq & 0xffff), now);
}

static void tick(struct reorder *r, struct rec *c, uint64_t now)
{
	c->now = now;
	reorder_tick(r, now);
}

static struct reorder *mk(struct rec *c, uint32_t cap, uint64_t hold)
{
	struct reorder *r = NULL;
	memset(c, 0, sizeof(*c));
	assert_int_equal(reorder_create(&r, cap, hold, rec_deliver, c), 0);
	assert_non_null(r);
	return r;
}

static void expect_out(const struct rec *c, const uint64_t *seqs, size_t n)
{
	assert_int_equal(c->n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(c->out[i]->seq, seqs[i]);
}

/* A new session numbers from 1 again: after reorder_reset() its first
 * packets are taken and delivered at once, not refused as stale, and what
 * the old session still held was handed back first. */
static void test_reset_new_sequence_space(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 16, 30 * MS);
	struct pk a = {5000, 0, 0}, held = {5002, 1, 0}, n1 = {1, 0, 0},
		  n2 = {2, 1, 0}, n3 = {3, 0, 1};
	assert_int_equal(push(r, &c, &a, 0), 0);
	assert_int_equal(push(r, &c, &held, 1), 0);
	assert_int_equal(push(r, &c, &n1, 2), -ESTALE); /* without a reset */
	reorder_reset(r);
	assert_int_equal(c.n, 2); /* `held` flushed by the reset */
	assert_ptr_equal(c.out[1], &held);
	assert_int_equal(push(r, &c, &n1, 3), 0);
	assert_int_equal(push(r, &c, &n3, 4), 0);
	assert_int_equal(push(r, &c, &n2, 5), 0);
	const uint64_t want[] = {5000, 5002, 1, 3, 2};
	expect_out(&c, want, 5);
	reorder_destroy(r);
}

static void test_create_bad_args(void **state)
{
	struct reorder *r = NULL;
	struct rec c;
	assert_int_equal(reorder_create(&r, 0, 0, rec_deliver, &c), -EINVAL);
	assert_int_equal(reorder_create(&r, 1, 0, rec_deliver, &c), -EINVAL);
	assert_int_equal(reorder_create(&r, 3, 0, rec_deliver, &c), -EINVAL);
	assert_int_equal(reorder_create(&r, 1000, 0, rec_deliver, &c), -EINVAL);
	assert_int_equal(
	    reorder_create(&r, REORDER_MAX_CAPACITY * 2, 0, rec_deliver, &c),
	    -EINVAL);
	assert_int_equal(reorder_create(&r, 64, 0, NULL, &c), -EINVAL);
	assert_int_equal(reorder_create(NULL, 64, 0, rec_deliver, &c), -EINVAL);
	assert_null(r);
	assert_int_equal(
	    reorder_create(&r, REORDER_MIN_CAPACITY, 0, rec_deliver, &c), 0);
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.capacity, REORDER_MIN_CAPACITY);
	reorder_destroy(r);
	reorder_destroy(NULL);
}

/* Three interleaved flows sent and received in order: every packet leaves
 * during its own push, nothing is ever held, no timer is asked for. */
static void test_in_order_passthrough(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 64, 50 * MS);
	struct pk p[30];
	uint64_t last[3] = {0, 0, 0};
	for (int i = 0; i < 30; i++) {
		uint64_t seq = 5000 + (uint64_t)i;
		int b = i % 3;
		p[i] = (struct pk){seq, last[b] ? (uint32_t)(seq - last[b]) : 0,
				   b};
		last[b] = seq;
		assert_int_equal(push(r, &c, &p[i], (uint64_t)i * MS), 0);
		assert_int_equal(c.n, (size_t)i + 1);
		assert_ptr_equal(c.out[i], &p[i]);
		assert_int_equal(reorder_next_deadline(r), UINT64_MAX);
	}
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.delivered, 30);
	assert_int_equal(st.in_order, 30);
	assert_int_equal(st.held, 0);
	assert_int_equal(st.held_now, 0);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.hold_ns, 50 * MS);
	reorder_destroy(r);
	assert_int_equal(c.n, 30);
}

/* A flow's packets arriving backwards are held, then released in order the
 * moment the gap fills, not at the hold deadline. */
static void test_gap_fill_releases_at_once(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 64, 50 * MS);
	struct pk p[4] = {{10, 0, 0}, {11, 1, 0}, {12, 1, 0}, {13, 1, 0}};
	assert_int_equal(push(r, &c, &p[0], 0), 0);
	assert_int_equal(push(r, &c, &p[3], 1 * MS), 0);
	assert_int_equal(push(r, &c, &p[2], 2 * MS), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(reorder_next_deadline(r), 51 * MS);
	assert_int_equal(push(r, &c, &p[1], 3 * MS), 0);
	uint64_t want[] = {10, 11, 12, 13};
	expect_out(&c, want, 4);
	assert_int_equal(c.at[3], 3 * MS);
	assert_int_equal(reorder_next_deadline(r), UINT64_MAX);
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.held, 2);
	assert_int_equal(st.reordered, 2);
	assert_int_equal(st.in_order, 2);
	assert_int_equal(st.lost, 0);
	reorder_destroy(r);
}

/* A lost packet costs exactly the hold time: its successors leave at their
 * arrival + hold, and the loser is refused if it shows up afterwards. */
static void test_loss_costs_at_most_hold(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 64, 30 * MS);
	struct pk p1 = {1, 0, 0}, p2 = {2, 1, 0}, p3 = {3, 1, 0},
		  p4 = {4, 1, 0};
	assert_int_equal(push(r, &c, &p1, 90 * MS), 0);
	/* p2 is lost */
	assert_int_equal(push(r, &c, &p3, 100 * MS), 0);
	assert_int_equal(push(r, &c, &p4, 105 * MS), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(reorder_next_deadline(r), 130 * MS);
	tick(r, &c, 130 * MS - 1);
	assert_int_equal(c.n, 1);
	assert_int_equal(reorder_tick(r, 130 * MS - 1), 130 * MS);
	tick(r, &c, 130 * MS);
	uint64_t want[] = {1, 3, 4};
	expect_out(&c, want, 3);
	assert_int_equal(c.at[1], 130 * MS);
	assert_int_equal(c.at[2], 130 * MS);
	assert_int_equal(reorder_next_deadline(r), UINT64_MAX);
	assert_int_equal(push(r, &c, &p2, 131 * MS), -ESTALE);
	assert_int_equal(c.n, 3);
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.lost, 1);
	assert_int_equal(st.expired, 2);
	assert_int_equal(st.late, 1);
	reorder_destroy(r);
}

/* The later packet of a chain arrives first and times out first: the
 * chain's head (held, waiting for a lost seq) must go out before it, at the
 * first deadline, not at its own. */
static void test_chain_expiry_in_order(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 64, 30 * MS);
	struct pk p1 = {1, 0, 0}, b = {3, 1, 0}, cc = {4, 1, 0};
	assert_int_equal(push(r, &c, &p1, 0), 0);
	assert_int_equal(push(r, &c, &cc, 10 * MS), 0);
	assert_int_equal(push(r, &c, &b, 20 * MS), 0);
	assert_int_equal(reorder_next_deadline(r), 40 * MS);
	tick(r, &c, 40 * MS);
	uint64_t want[] = {1, 3, 4};
	expect_out(&c, want, 3);
	assert_int_equal(c.at[1], 40 * MS);
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.lost, 1);
	assert_int_equal(st.held_now, 0);
	reorder_destroy(r);
}

/* Regression (found by the property test): after giving up on seq 3, an
 * older packet of the same flow (2, on a slow link, whose predecessor 1 was
 * delivered) must be refused, or it would leave after 4. */
static void test_give_up_resolves_older_seqs(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 64, 30 * MS);
	struct pk p1 = {1, 0, 0}, p2 = {2, 1, 0}, p4 = {4, 1, 0}, o = {5, 0, 1};
	assert_int_equal(push(r, &c, &p1, 0), 0);
	assert_int_equal(push(r, &c, &p4, 1 * MS), 0); /* waits on 3 */
	tick(r, &c, 31 * MS);
	uint64_t want[] = {1, 4};
	expect_out(&c, want, 2);
	assert_int_equal(push(r, &c, &p2, 32 * MS), -ESTALE);
	/* newer seqs of any flow are still welcome */
	assert_int_equal(push(r, &c, &o, 33 * MS), 0);
	assert_int_equal(c.n, 3);
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.late, 1);
	assert_int_equal(st.lost, 1);
	reorder_destroy(r);
}

static void test_duplicates_and_stale(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 16, 30 * MS);
	struct pk a = {100, 0, 0}, held = {102, 1, 0}, old = {50, 0, 1},
		  edge = {85, 0, 1}, far = {84, 0, 1};
	assert_int_equal(push(r, &c, &a, 0), 0);
	assert_int_equal(push(r, &c, &a, 1), -EALREADY); /* delivered */
	assert_int_equal(push(r, &c, &held, 2), 0);
	assert_int_equal(push(r, &c, &held, 3), -EALREADY); /* held */
	assert_int_equal(push(r, &c, &old, 4), -ESTALE);
	/* window is [87, 103): 86 and below are too old */
	assert_int_equal(push(r, &c, &far, 5), -ESTALE);
	assert_int_equal(push(r, &c, &edge, 5), -ESTALE);
	struct pk inwin = {87, 0, 1};
	assert_int_equal(push(r, &c, &inwin, 6), 0);
	assert_int_equal(c.n, 2);
	assert_ptr_equal(c.out[1], &inwin);
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.duplicates, 2);
	assert_int_equal(st.late, 3);
	assert_int_equal(st.held_now, 1);
	reorder_destroy(r); /* hands `held` back */
	assert_int_equal(c.n, 3);
	assert_ptr_equal(c.out[2], &held);
}

/* The first packet places the window: it does not wait for seq 0, and a
 * packet sent just before it (slower link) is still taken, in order. */
static void test_first_packet_sets_base(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 64, 30 * MS);
	struct pk a = {1000000, 0, 0}, early = {999999, 0, 1},
		  b = {1000001, 2, 1};
	assert_int_equal(push(r, &c, &a, 0), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(push(r, &c, &b, 1 * MS), 0); /* waits for early */
	assert_int_equal(c.n, 1);
	assert_int_equal(push(r, &c, &early, 2 * MS), 0);
	uint64_t want[] = {1000000, 999999, 1000001};
	expect_out(&c, want, 3);
	reorder_destroy(r);
}

/* Index arithmetic across 2^64: a permuted flow keeps its order and the
 * window slides over the wrap. */
static void test_seq_wrap(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 8, 30 * MS);
	struct pk p[24];
	uint64_t start = UINT64_MAX - 10;
	for (int i = 0; i < 24; i++)
		p[i] = (struct pk){start + (uint64_t)i, i ? 1 : 0, 0};
	/* pairs swapped: 1 0 3 2 5 4 ... */
	for (int i = 0; i < 24; i += 2) {
		assert_int_equal(push(r, &c, &p[i + 1], (uint64_t)i * MS), 0);
		assert_int_equal(push(r, &c, &p[i], (uint64_t)i * MS + 1), 0);
	}
	assert_int_equal(c.n, 24);
	for (int i = 0; i < 24; i++)
		assert_ptr_equal(c.out[i], &p[i]);
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.reordered, 12);
	/* the window is now past the wrap: a pre-wrap seq is stale */
	struct pk old = {UINT64_MAX - 1, 0, 1};
	assert_int_equal(push(r, &c, &old, 30 * MS), -ESTALE);
	reorder_destroy(r);
}

/* A jump far ahead (peer restart) flushes what is held, in order, and
 * restarts at the new seq instead of stalling. */
static void test_resync_on_big_jump(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 16, 30 * MS);
	struct pk a = {100, 0, 0}, h1 = {102, 1, 0}, h2 = {103, 1, 0},
		  o = {104, 0, 1}, j = {1100, 0, 0}, j2 = {1101, 1, 0},
		  lost = {101, 0, 2};
	assert_int_equal(push(r, &c, &a, 0), 0);
	assert_int_equal(push(r, &c, &h2, 1), 0);
	assert_int_equal(push(r, &c, &h1, 2), 0);
	assert_int_equal(push(r, &c, &o, 3), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(push(r, &c, &j, 4), 0);
	uint64_t want[] = {100, 104, 102, 103, 1100};
	expect_out(&c, want, 5);
	assert_int_equal(push(r, &c, &lost, 5), -ESTALE);
	assert_int_equal(push(r, &c, &j2, 6), 0);
	assert_int_equal(c.n, 6);
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.resyncs, 1);
	assert_int_equal(st.flushed, 2);
	assert_int_equal(st.lost, 1);
	assert_int_equal(st.held_now, 0);
	reorder_destroy(r);
}

/* When the window must slide over a gap, the packets waiting behind it are
 * released oldest first, before the newcomer, and the gap counts as lost. */
static void test_full_buffer_releases_in_order(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 8, 1000 * MS);
	struct pk p[8];
	p[0] = (struct pk){1, 0, 0};
	for (int i = 2; i < 8; i++)
		p[i] = (struct pk){(uint64_t)i + 1, 1, 0}; /* 3..8, wait on 2 */
	assert_int_equal(push(r, &c, &p[0], 0), 0);
	for (int i = 7; i >= 2; i--)
		assert_int_equal(push(r, &c, &p[i], 1), 0);
	assert_int_equal(c.n, 1);
	struct pk n9 = {9, 0, 1}, n10 = {10, 9, 1};
	assert_int_equal(push(r, &c, &n9, 2), 0); /* window [2,10): fits */
	assert_int_equal(c.n, 2);
	assert_int_equal(push(r, &c, &n10, 3), 0); /* 2 falls out */
	uint64_t want[] = {1, 9, 3, 4, 5, 6, 7, 8, 10};
	expect_out(&c, want, 9);
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.lost, 1);
	assert_int_equal(st.flushed, 6);
	assert_int_equal(st.held_now, 0);
	reorder_destroy(r);
}

/* Every second seq lost, each survivor waiting on it: the buffer never
 * holds more than its capacity and releases in seq order. */
static void test_never_above_capacity(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 8, 1000 * MS);
	struct pk p[40];
	struct reorder_stats st;
	for (int i = 0; i < 40; i++) {
		p[i] = (struct pk){2 * (uint64_t)i + 2, 1, i % 4};
		assert_int_equal(push(r, &c, &p[i], (uint64_t)i), 0);
		reorder_get_stats(r, &st);
		assert_true(st.held_now <= 8);
	}
	assert_int_equal(st.held_now, 4);
	assert_int_equal(c.n, 36);
	for (size_t i = 0; i < c.n; i++)
		assert_ptr_equal(c.out[i], &p[i]);
	reorder_destroy(r);
	assert_int_equal(c.n, 40);
}

/* Two flows, one with a lost packet: the other flow's packets leave on
 * arrival, never waiting for the gap. */
static void test_other_bucket_not_held(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 64, 40 * MS);
	struct pk a1 = {1, 0, 0}, b1 = {2, 0, 1}, b2 = {4, 2, 1},
		  a3 = {5, 2, 0}, b3 = {6, 2, 1}, a4 = {7, 2, 0},
		  b4 = {8, 2, 1};
	/* a2 (seq 3) is lost */
	const struct pk *order[] = {&a1, &b1, &b2, &a3, &b3, &a4, &b4};
	for (int i = 0; i < 7; i++) {
		size_t before = c.n;
		assert_int_equal(push(r, &c, order[i], (uint64_t)i * MS), 0);
		if (order[i]->bucket == 1) {
			assert_int_equal(c.n, before + 1);
			assert_ptr_equal(c.out[c.n - 1], order[i]);
			assert_int_equal(c.at[c.n - 1], (uint64_t)i * MS);
		}
	}
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.held_now, 2);
	assert_int_equal(st.held, 2);
	tick(r, &c, 43 * MS);
	assert_ptr_equal(c.out[c.n - 2], &a3);
	assert_ptr_equal(c.out[c.n - 1], &a4);
	reorder_destroy(r);
}

/* The buffer measures how long gaps took to fill (the daemon sets the hold
 * from it): the longest wait of a packet released because its gap filled. */
static void test_wait_measures_fill_delay(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 64, 50 * MS);
	assert_int_equal(reorder_wait_ns(r), 0);
	struct pk p[6] = {{10, 0, 0}, {11, 1, 0}, {12, 1, 0},
			  {13, 1, 0}, {14, 1, 0}, {15, 1, 0}};
	assert_int_equal(push(r, &c, &p[0], 1 * MS), 0);
	assert_int_equal(push(r, &c, &p[2], 2 * MS), 0);
	assert_int_equal(push(r, &c, &p[3], 4 * MS), 0);
	/* 12 waited 7 ms, 13 waited 5 ms: the longest counts. */
	assert_int_equal(push(r, &c, &p[1], 9 * MS), 0);
	assert_int_equal(reorder_wait_ns(r), 7 * MS);
	/* A shorter wait later does not lower it. */
	assert_int_equal(push(r, &c, &p[5], 10 * MS), 0);
	assert_int_equal(push(r, &c, &p[4], 12 * MS), 0);
	assert_int_equal(reorder_wait_ns(r), 7 * MS);
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.wait_ns, 7 * MS);
	assert_int_equal(c.n, 6);
	reorder_destroy(r);
}

/* A hold that was too short must still teach the right wait: a packet
 * refused as late reports how long its successor would have had to wait
 * (otherwise a hold set from the measurement could never grow past
 * itself). Counted once, and only for a seq someone waited on. */
static void test_wait_counts_late_arrivals(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 64, 10 * MS);
	struct pk p1 = {1, 0, 0}, p2 = {2, 1, 0}, p3 = {3, 1, 0};
	assert_int_equal(push(r, &c, &p1, 1 * MS), 0);
	assert_int_equal(push(r, &c, &p3, 2 * MS), 0);
	tick(r, &c, 12 * MS); /* 2 given up on, 3 released */
	assert_int_equal(c.n, 2);
	assert_int_equal(reorder_wait_ns(r), 0);
	assert_int_equal(push(r, &c, &p2, 20 * MS), -ESTALE);
	assert_int_equal(reorder_wait_ns(r), 18 * MS);
	/* The same late packet again is not a new measurement. */
	assert_int_equal(push(r, &c, &p2, 40 * MS), -ESTALE);
	assert_int_equal(reorder_wait_ns(r), 18 * MS);
	/* Giving up on 2 resolved seq 0 too, though nobody waited on it:
	 * refused as late, but no figure. */
	struct pk p0 = {0, 0, 2};
	assert_int_equal(push(r, &c, &p0, 90 * MS), -ESTALE);
	assert_int_equal(reorder_wait_ns(r), 18 * MS);
	reorder_destroy(r);
}

/* The measurement is a windowed maximum: one spike is forgotten after one
 * to two windows, so the hold can come down again when the links do. */
static void test_wait_window_forgets(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 1024, 500 * MS);
	const uint64_t W = REORDER_WAIT_WINDOW_NS;
	struct pk p[8];
	for (int i = 0; i < 8; i++)
		p[i] = (struct pk){(uint64_t)(100 + i), i ? 1u : 0u, 0};
	/* A 40 ms wait at t = 1 ms. */
	assert_int_equal(push(r, &c, &p[0], 0), 0);
	assert_int_equal(push(r, &c, &p[2], 1 * MS), 0);
	assert_int_equal(push(r, &c, &p[1], 41 * MS), 0);
	assert_int_equal(reorder_wait_ns(r), 40 * MS);
	/* A 3 ms wait one window later: the old spike still counts. */
	assert_int_equal(push(r, &c, &p[4], W + 50 * MS), 0);
	assert_int_equal(push(r, &c, &p[3], W + 53 * MS), 0);
	assert_int_equal(reorder_wait_ns(r), 40 * MS);
	/* Another window on: only the recent one. */
	assert_int_equal(push(r, &c, &p[6], 2 * W + 60 * MS), 0);
	assert_int_equal(push(r, &c, &p[5], 2 * W + 61 * MS), 0);
	assert_int_equal(reorder_wait_ns(r), 3 * MS);
	/* Two quiet windows: nothing recent at all. */
	assert_int_equal(push(r, &c, &p[7], 5 * W), 0);
	assert_int_equal(reorder_wait_ns(r), 0);
	reorder_destroy(r);
}

/* Seqs taken by probes and control packets leave holes in data seq space;
 * correct prev_gap links step over them without any hold. */
static void test_probe_gaps_no_hold(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 64, 40 * MS);
	/* bucket 0: 1 2 _ 4 _ _ 7 8 ; bucket 1: 10 _ 12 */
	struct pk p[] = {{1, 0, 0}, {2, 1, 0},	{4, 2, 0}, {7, 3, 0},
			 {8, 1, 0}, {10, 0, 1}, {12, 2, 1}};
	for (int i = 0; i < 7; i++) {
		assert_int_equal(push(r, &c, &p[i], (uint64_t)i), 0);
		assert_int_equal(c.n, (size_t)i + 1);
	}
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.held, 0);
	/* a wrong link to a probe's seq is held only until the deadline */
	struct pk bad = {14, 1, 1};
	assert_int_equal(push(r, &c, &bad, 100), 0);
	assert_int_equal(c.n, 7);
	tick(r, &c, 100 + 40 * MS);
	assert_int_equal(c.n, 8);
	reorder_destroy(r);
}

/* Lowering the hold shortens the wait of packets already held. */
static void test_set_hold_moves_deadline(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 64, 100 * MS);
	struct pk a = {1, 0, 0}, h = {3, 1, 0};
	assert_int_equal(push(r, &c, &a, 0), 0);
	assert_int_equal(push(r, &c, &h, 5 * MS), 0);
	assert_int_equal(reorder_next_deadline(r), 105 * MS);
	reorder_set_hold(r, 10 * MS);
	assert_int_equal(reorder_next_deadline(r), 15 * MS);
	assert_int_equal(reorder_tick(r, 14 * MS), 15 * MS);
	assert_int_equal(c.n, 1);
	tick(r, &c, 15 * MS);
	assert_int_equal(c.n, 2);
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.hold_ns, 10 * MS);
	reorder_destroy(r);
}

/* hold 0 turns reordering off: a packet with a missing predecessor leaves
 * during its own push. */
static void test_hold_zero(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 64, 0);
	struct pk a = {1, 0, 0}, h = {3, 1, 0}, g = {2, 1, 0};
	assert_int_equal(push(r, &c, &a, 0), 0);
	assert_int_equal(push(r, &c, &h, 1), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(push(r, &c, &g, 2), -ESTALE);
	reorder_destroy(r);
}

/* flush() hands everything back in seq order and gives up on the gaps;
 * destroy() hands back what is still held. */
static void test_flush_and_destroy(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 64, 100 * MS);
	struct pk a = {10, 0, 0}, a2 = {12, 1, 0}, b = {13, 0, 1},
		  b2 = {14, 1, 1}, gap = {11, 0, 0}, late = {15, 1, 2};
	assert_int_equal(push(r, &c, &a, 0), 0);
	assert_int_equal(push(r, &c, &b2, 1), 0);
	assert_int_equal(push(r, &c, &a2, 2), 0);
	assert_int_equal(push(r, &c, &b, 3), 0); /* releases b2 */
	assert_int_equal(c.n, 3);
	reorder_flush(r);
	uint64_t want[] = {10, 13, 14, 12};
	expect_out(&c, want, 4);
	assert_int_equal(reorder_next_deadline(r), UINT64_MAX);
	assert_int_equal(push(r, &c, &gap, 4), -ESTALE);
	/* its predecessor 14 was delivered: no wait */
	assert_int_equal(push(r, &c, &late, 5), 0);
	assert_int_equal(c.n, 5);
	struct pk h = {17, 1, 3};
	assert_int_equal(push(r, &c, &h, 6), 0);
	assert_int_equal(c.n, 5);
	reorder_destroy(r);
	assert_int_equal(c.n, 6);
	assert_ptr_equal(c.out[5], &h);
}

/* Inputs a broken peer could send: two packets naming the same
 * predecessor, a huge prev_gap, time going backwards. None may crash, hold
 * forever or deliver twice. */
static void test_bad_input(void **state)
{
	struct rec c;
	struct reorder *r = mk(&c, 16, 20 * MS);
	struct pk a = {5, 0, 0}, x = {8, 1, 0}, y = {9, 2, 1},
		  huge = {10, UINT32_MAX, 2};
	assert_int_equal(push(r, &c, &a, 100 * MS), 0);
	assert_int_equal(push(r, &c, &x, 100 * MS), 0); /* waits on 7 */
	assert_int_equal(push(r, &c, &y, 100 * MS), 0); /* also names 7 */
	assert_int_equal(c.n, 2);
	assert_ptr_equal(c.out[1], &y);
	assert_int_equal(push(r, &c, &huge, 100 * MS), 0);
	assert_int_equal(c.n, 3);
	/* time going backwards must not postpone the deadline */
	struct pk z = {12, 1, 3};
	assert_int_equal(push(r, &c, &z, 50 * MS), 0);
	assert_int_equal(reorder_next_deadline(r), 120 * MS);
	tick(r, &c, 120 * MS);
	assert_int_equal(c.n, 5);
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.held_now, 0);
	assert_int_equal(st.delivered, 5);
	reorder_destroy(r);
	assert_int_equal(c.n, 5);
}

/* ---- property test ---- */

#define P_MAX  600
#define EV_MAX (2 * P_MAX)

struct ppk {
	uint64_t seq;
	uint32_t gap;
	int bucket;
	uint64_t accepted_at;
	int accepted;
	int delivered;
};

struct event {
	uint64_t t;
	int idx;
	int order;
};

struct prop {
	struct ppk p[P_MAX];
	uint64_t last_seq[8];
	int have_last[8];
	uint64_t now;
	uint64_t max_hold;
	size_t ndelivered;
	int failed_order, failed_twice, failed_unaccepted, failed_latency;
};

static void prop_deliver(void *arg, void *pkt, uint32_t len)
{
	struct prop *pr = arg;
	struct ppk *p = pkt;
	if (p->delivered)
		pr->failed_twice++;
	if (!p->accepted)
		pr->failed_unaccepted++;
	if (pr->now > p->accepted_at + pr->max_hold)
		pr->failed_latency++;
	if (len != (uint32_t)(p - pr->p))
		pr->failed_unaccepted++;
	p->delivered = 1;
	if (pr->have_last[p->bucket] &&
	    (int64_t)(p->seq - pr->last_seq[p->bucket]) <= 0)
		pr->failed_order++;
	pr->have_last[p->bucket] = 1;
	pr->last_seq[p->bucket] = p->seq;
	pr->ndelivered++;
}

static int ev_cmp(const void *a, const void *b)
{
	const struct event *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->order - y->order;
}

/*
 * One random trace: a sender numbering packets (with probe holes) over
 * random flows, each packet on one of 1-3 links with its own delay and
 * jitter, random loss and duplication; the receiver runs the buffer with a
 * timer that fires exactly at each deadline. Returns nonzero on failure so
 * the caller can print the seed.
 */
static int prop_run(uint64_t seed)
{
	static struct prop pr;
	static struct event ev[EV_MAX];
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
	memset(&pr, 0, sizeof(pr));

	int n = 50 + (int)rng_below(&s, P_MAX - 50);
	int nb = 1 + (int)rng_below(&s, 8);
	int nl = 1 + (int)rng_below(&s, 3);
	uint64_t delay[3], jitter[3];
	for (int l = 0; l < nl; l++) {
		delay[l] = rng_below(&s, 50 * MS);
		jitter[l] = rng_below(&s, 5 * MS + 1);
	}
	static const unsigned loss_pm[] = {0, 0, 10, 50, 200};
	unsigned loss = loss_pm[rng_below(&s, 5)];
	unsigned dup = rng_below(&s, 3) == 0 ? 20 : 0;
	uint32_t cap = 1u << (3 + rng_below(&s, 7));
	uint64_t hold = rng_below(&s, 80 * MS);
	uint64_t interval = 50000 + rng_below(&s, 1 * MS);
	uint64_t seq = rng_below(&s, 8) == 0 ? UINT64_MAX - rng_below(&s, 500)
					     : rng_below(&s, 1ull << 40);
	bool change_hold = rng_below(&s, 4) == 0;

	uint64_t last[8];
	bool have[8] = {false};
	int nev = 0, netlost = 0;
	for (int i = 0; i < n; i++) {
		seq += 1 + (rng_below(&s, 4) == 0 ? rng_below(&s, 3) : 0);
		int b = (int)rng_below(&s, (uint64_t)nb);
		pr.p[i].seq = seq;
		pr.p[i].bucket = b;
		pr.p[i].gap = have[b] ? (uint32_t)(seq - last[b]) : 0;
		last[b] = seq;
		have[b] = true;
		uint64_t sent = 1 * MS + (uint64_t)i * interval;
		int copies = rng_below(&s, 1000) < dup ? 2 : 1;
		bool arrived = false;
		for (int k = 0; k < copies; k++) {
			if (rng_below(&s, 1000) < loss)
				continue;
			int l = (int)rng_below(&s, (uint64_t)nl);
			ev[nev] = (struct event){
			    sent + delay[l] + rng_below(&s, jitter[l] + 1), i,
			    nev};
			nev++;
			arrived = true;
		}
		if (!arrived)
			netlost++;
	}
	qsort(ev, (size_t)nev, sizeof(ev[0]), ev_cmp);

	struct reorder *r = NULL;
	pr.max_hold = hold;
	if (reorder_create(&r, cap, hold, prop_deliver, &pr))
		return 1;
	int fails = 0, n_dup = 0, n_stale = 0, n_acc = 0, first_refused = 0;
	struct reorder_stats st;
	for (int e = 0; e < nev; e++) {
		uint64_t dl;
		while ((dl = reorder_next_deadline(r)) <= ev[e].t) {
			pr.now = dl;
			if (reorder_tick(r, dl) == dl)
				fails++; /* a deadline must make progress */
		}
		if (change_hold && e == nev / 2) {
			hold = rng_below(&s, 80 * MS);
			if (hold > pr.max_hold)
				pr.max_hold = hold;
			reorder_set_hold(r, hold);
			while ((dl = reorder_next_deadline(r)) <= ev[e].t) {
				pr.now = dl;
				reorder_tick(r, dl);
			}
		}
		pr.now = ev[e].t;
		struct ppk *p = &pr.p[ev[e].idx];
		bool was_accepted = p->accepted;
		p->accepted = 1; /* the callback may fire inside push */
		p->accepted_at = ev[e].t;
		int ret = reorder_push(r, p->seq, p->gap, p,
				       (uint32_t)ev[e].idx, ev[e].t);
		if (ret == 0) {
			if (was_accepted)
				fails++; /* a duplicate got in */
			n_acc++;
		} else {
			p->accepted = was_accepted;
			if (ret == -EALREADY) {
				n_dup++;
				if (!was_accepted)
					fails++; /* refused a new packet */
			} else if (ret == -ESTALE) {
				n_stale++;
				if (!was_accepted)
					first_refused++;
			} else {
				fails++;
			}
		}
		reorder_get_stats(r, &st);
		if (st.held_now > cap)
			fails++;
	}
	uint64_t dl;
	while ((dl = reorder_next_deadline(r)) != UINT64_MAX) {
		pr.now = dl;
		reorder_tick(r, dl);
	}
	reorder_get_stats(r, &st);
	reorder_destroy(r);

	fails += pr.failed_order + pr.failed_twice + pr.failed_unaccepted +
		 pr.failed_latency;
	if (st.held_now != 0 || pr.ndelivered != (size_t)n_acc ||
	    st.delivered != (uint64_t)n_acc)
		fails++;
	for (int i = 0; i < n; i++)
		if (pr.p[i].accepted && !pr.p[i].delivered)
			fails++;
	if (st.in_order + st.reordered + st.expired + st.flushed !=
	    st.delivered)
		fails++;
	if (st.held != st.reordered + st.expired + st.flushed)
		fails++;
	if (st.duplicates != (uint64_t)n_dup || st.late != (uint64_t)n_stale)
		fails++;
	/* a seq is only declared lost if it never came or came too late */
	if (st.lost > (uint64_t)(netlost + first_refused))
		fails++;

	/* Easy traces (no loss, hold above the delay spread, window wider than
	 * what is in flight) must lose nothing at all. */
	uint64_t dmin = UINT64_MAX, dmax = 0;
	for (int l = 0; l < nl; l++) {
		if (delay[l] < dmin)
			dmin = delay[l];
		if (delay[l] + jitter[l] > dmax)
			dmax = delay[l] + jitter[l];
	}
	uint64_t spread = dmax - dmin;
	if (loss == 0 && !change_hold && hold > spread &&
	    (uint64_t)cap > 3 * (spread / interval + 2) + 3 * 2) {
		if (st.lost != 0 || first_refused != 0 || st.expired != 0)
			fails++;
	}
	return fails;
}

static void test_property_random_traces(void **state)
{
	int bad = 0;
	for (uint64_t seed = 1; seed <= 3000; seed++) {
		int f = prop_run(seed);
		if (f) {
			print_error("seed %llu: %d failed checks\n",
				    (unsigned long long)seed, f);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/*
 * The function asked before a give-up (reorder_set_coming) is told the seq
 * the expiry would give up on: the first missing packet up the oldest held
 * packet's chain, whatever order the chain's packets arrived in. While it
 * answers "still coming" nothing is given up; then exactly that seq is.
 */
struct coming {
	uint64_t missing, arrival, until;
	unsigned asked;
};

static uint64_t coming_fn(void *arg, uint64_t missing, uint64_t arrival_ns,
			  uint64_t now_ns)
{
	struct coming *k = arg;
	(void)now_ns;
	k->missing = missing;
	k->arrival = arrival_ns;
	k->asked++;
	return k->until;
}

static void test_still_coming(void **state)
{
	(void)state;
	struct rec c;
	struct coming k = {.until = 30 * MS};
	struct pk p1 = {.seq = 1}, p3 = {.seq = 3, .gap = 1},
		  p4 = {.seq = 4, .gap = 1}, p2 = {.seq = 2, .gap = 1};
	struct reorder *r = mk(&c, 64, 10 * MS);
	reorder_set_coming(r, coming_fn, &k);
	assert_int_equal(push(r, &c, &p1, 0), 0);
	/* 4 first (waits for 3), then 3 (waits for 2): the oldest held is
	 * 4, its chain leads to 2 */
	assert_int_equal(push(r, &c, &p4, 1 * MS), 0);
	assert_int_equal(push(r, &c, &p3, 2 * MS), 0);
	assert_int_equal(k.asked, 0); /* not before the hold ran out */
	tick(r, &c, 11 * MS);
	assert_int_equal(k.asked, 1);
	assert_int_equal(k.missing, 2);
	assert_int_equal(k.arrival, 1 * MS);
	expect_out(&c, (const uint64_t[]){1}, 1);
	assert_int_equal(reorder_next_deadline(r), 30 * MS);
	/* asked again at 30 ms: now it gives up 2, exactly */
	k.until = 0;
	tick(r, &c, 30 * MS);
	expect_out(&c, (const uint64_t[]){1, 3, 4}, 3);
	assert_int_equal(push(r, &c, &p2, 31 * MS), -ESTALE);
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	assert_int_equal(st.lost, 1);
	assert_int_equal(st.recovery_waits, 1);
	reorder_destroy(r);

	/* and while it says "coming", the gap can still fill */
	k = (struct coming){.until = 30 * MS};
	r = mk(&c, 64, 10 * MS);
	reorder_set_coming(r, coming_fn, &k);
	assert_int_equal(push(r, &c, &p1, 0), 0);
	assert_int_equal(push(r, &c, &p3, 1 * MS), 0);
	tick(r, &c, 11 * MS);
	assert_int_equal(push(r, &c, &p2, 20 * MS), 0);
	expect_out(&c, (const uint64_t[]){1, 2, 3}, 3);
	reorder_get_stats(r, &st);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.reordered, 1);
	reorder_destroy(r);
}

/*
 * A packet being recovered: reorder_hold_until() keeps a gap open past the
 * hold, so the resend (pushed under the original's seq) fills it; and only
 * until then: a resend that never comes costs the hold-until, not more.
 */
static void test_hold_until_recovery(void **state)
{
	(void)state;
	struct rec c;
	struct pk p1 = {.seq = 1}, p2 = {.seq = 2, .gap = 1},
		  p3 = {.seq = 3, .gap = 1};
	struct reorder_stats st;

	/* without: seq 3 gives up on 2 after the 10 ms hold */
	struct reorder *r = mk(&c, 64, 10 * MS);
	assert_int_equal(push(r, &c, &p1, 0), 0);
	assert_int_equal(push(r, &c, &p3, 1 * MS), 0);
	assert_int_equal(reorder_next_deadline(r), 11 * MS);
	tick(r, &c, 11 * MS);
	expect_out(&c, (const uint64_t[]){1, 3}, 2);
	assert_int_equal(push(r, &c, &p2, 30 * MS), -ESTALE);
	reorder_destroy(r);

	/* with: the loss was found and a resend asked for at 2 ms, due by
	 * 50 ms; nothing is given up before, the resend fills the gap */
	r = mk(&c, 64, 10 * MS);
	assert_int_equal(push(r, &c, &p1, 0), 0);
	assert_int_equal(push(r, &c, &p3, 1 * MS), 0);
	reorder_hold_until(r, 50 * MS);
	reorder_hold_until(r, 20 * MS); /* only ever moves forward */
	assert_int_equal(reorder_next_deadline(r), 50 * MS);
	tick(r, &c, 11 * MS);
	tick(r, &c, 49 * MS);
	expect_out(&c, (const uint64_t[]){1}, 1);
	assert_int_equal(push(r, &c, &p2, 30 * MS), 0);
	expect_out(&c, (const uint64_t[]){1, 2, 3}, 3);
	reorder_get_stats(r, &st);
	assert_int_equal(st.reordered, 1);
	assert_int_equal(st.expired, 0);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.recovery_waits, 0);
	reorder_destroy(r);

	/* the resend never comes: given up at the hold-until, counted */
	r = mk(&c, 64, 10 * MS);
	assert_int_equal(push(r, &c, &p1, 0), 0);
	assert_int_equal(push(r, &c, &p3, 1 * MS), 0);
	reorder_hold_until(r, 50 * MS);
	tick(r, &c, 49 * MS);
	expect_out(&c, (const uint64_t[]){1}, 1);
	tick(r, &c, 50 * MS);
	expect_out(&c, (const uint64_t[]){1, 3}, 2);
	reorder_get_stats(r, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.recovery_waits, 1);
	/* a packet arriving after the hold-until waits its own hold only */
	struct pk p5 = {.seq = 5, .gap = 1};
	assert_int_equal(push(r, &c, &p5, 60 * MS), 0);
	assert_int_equal(reorder_next_deadline(r), 70 * MS);
	reorder_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_bad_args),
	    cmocka_unit_test(test_reset_new_sequence_space),
	    cmocka_unit_test(test_in_order_passthrough),
	    cmocka_unit_test(test_gap_fill_releases_at_once),
	    cmocka_unit_test(test_loss_costs_at_most_hold),
	    cmocka_unit_test(test_chain_expiry_in_order),
	    cmocka_unit_test(test_give_up_resolves_older_seqs),
	    cmocka_unit_test(test_duplicates_and_stale),
	    cmocka_unit_test(test_first_packet_sets_base),
	    cmocka_unit_test(test_seq_wrap),
	    cmocka_unit_test(test_resync_on_big_jump),
	    cmocka_unit_test(test_full_buffer_releases_in_order),
	    cmocka_unit_test(test_never_above_capacity),
	    cmocka_unit_test(test_other_bucket_not_held),
	    cmocka_unit_test(test_probe_gaps_no_hold),
	    cmocka_unit_test(test_wait_measures_fill_delay),
	    cmocka_unit_test(test_wait_counts_late_arrivals),
	    cmocka_unit_test(test_wait_window_forgets),
	    cmocka_unit_test(test_set_hold_moves_deadline),
	    cmocka_unit_test(test_hold_zero),
	    cmocka_unit_test(test_flush_and_destroy),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_hold_until_recovery),
	    cmocka_unit_test(test_still_coming),
	    cmocka_unit_test(test_property_random_traces),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
