/*
 * Unit tests of the retransmission store (core/link/retx.c): what a loss
 * report finds and decides (resend, duplicate, pending copy, gone, too old,
 * no link left), a resend that is itself lost, ageing by memory (ring
 * overwrite) and by time, and the budget's token bucket.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "link/retx.h"

#define MS 1000000ull

static struct retx_store *mk(uint32_t cap, uint64_t age, uint32_t ppm)
{
	struct retx_cfg c = {.capacity = cap,
			     .max_len = 1500,
			     .max_age_ns = age,
			     .budget_ppm = ppm};
	struct retx_store *st = NULL;
	assert_int_equal(retx_create(&st, &c), 0);
	return st;
}

static void put(struct retx_store *st, uint64_t seq, uint32_t link, uint32_t ps,
		uint64_t now)
{
	uint8_t pkt[100];
	memset(pkt, (int)(seq & 0xff), sizeof(pkt));
	retx_on_sent(st, seq, link, ps, (uint16_t)(seq % 256), 3, pkt,
		     sizeof(pkt), now);
}

static void test_create_bad(void **state)
{
	(void)state;
	struct retx_store *st = NULL;
	struct retx_cfg c = {.capacity = 100, .max_len = 1500};
	assert_int_equal(retx_create(&st, &c), -EINVAL); /* not 2^n */
	c.capacity = 8;
	assert_int_equal(retx_create(&st, &c), -EINVAL); /* too small */
	c.capacity = 64;
	c.max_len = 0;
	assert_int_equal(retx_create(&st, &c), -EINVAL);
	assert_int_equal(retx_create(NULL, &c), -EINVAL);
	retx_destroy(NULL);
}

/* The basic path: a loss on link 1 is resent on a link that did not lose
 * it, with the original's bytes; the same report again is a duplicate. */
static void test_resend_and_duplicate(void **state)
{
	(void)state;
	struct retx_store *st = mk(64, 100 * MS, 100000);
	struct retx_ent *e = NULL;
	uint32_t allowed = 0;
	put(st, 10, 1, 5, 0);
	put(st, 11, 0, 7, 0);
	assert_int_equal(retx_on_loss(st, 1, 5, 0x3, 1 * MS, &e, &allowed),
			 RETX_RESEND);
	assert_non_null(e);
	assert_int_equal(e->seq, 10);
	assert_int_equal(e->len, 100);
	assert_int_equal(e->prev_gap, 3);
	assert_int_equal(e->data[0], 10);
	assert_int_equal(allowed, 0x1); /* never the link that lost it */
	assert_int_equal(retx_commit(st, e, 0, 148, 10000000, 1 * MS, true), 0);
	retx_on_resent(st, 10, 0, 8);
	/* the NACK's copy on the other link */
	assert_int_equal(retx_on_loss(st, 1, 5, 0x3, 2 * MS, &e, &allowed),
			 RETX_DUP);
	/* a path_seq never sent, or on another link */
	assert_int_equal(retx_on_loss(st, 1, 6, 0x3, 2 * MS, &e, &allowed),
			 RETX_GONE);
	assert_int_equal(retx_on_loss(st, 2, 5, 0x3, 2 * MS, &e, &allowed),
			 RETX_GONE);
	struct retx_stats s;
	retx_get_stats(st, &s);
	assert_int_equal(s.stored, 2);
	assert_int_equal(s.resent, 1);
	assert_int_equal(s.resent_bytes, 148);
	assert_int_equal(s.dup, 1);
	assert_int_equal(s.gone, 2);
	retx_destroy(st);
}

/* The NACK delay (original send -> first resend) is what FEC would save:
 * counted for first resends of NACKed packets only, not for failover
 * resends or a resend of a resend. */
static void test_nack_delay(void **state)
{
	(void)state;
	struct retx_store *st = mk(64, 500 * MS, 1000000);
	struct retx_ent *e = NULL;
	uint32_t allowed = 0;
	put(st, 30, 1, 5, 10 * MS);
	put(st, 31, 1, 6, 20 * MS);
	put(st, 32, 1, 7, 20 * MS);
	assert_int_equal(retx_on_loss(st, 1, 5, 0x3, 50 * MS, &e, &allowed),
			 RETX_RESEND);
	assert_int_equal(retx_commit(st, e, 0, 148, 10000000, 50 * MS, true),
			 0);
	retx_on_resent(st, 30, 0, 9);
	assert_int_equal(retx_on_loss(st, 1, 6, 0x3, 80 * MS, &e, &allowed),
			 RETX_RESEND);
	assert_int_equal(retx_commit(st, e, 0, 148, 10000000, 80 * MS, true),
			 0);
	/* a failover resend: not a NACK round trip */
	assert_int_equal(retx_on_loss(st, 1, 7, 0x3, 90 * MS, &e, &allowed),
			 RETX_RESEND);
	assert_int_equal(retx_commit(st, e, 0, 148, 10000000, 90 * MS, false),
			 0);
	/* the first resend lost again: its second resend does not count */
	assert_int_equal(retx_on_loss(st, 0, 9, 0x7, 100 * MS, &e, &allowed),
			 RETX_RESEND);
	assert_int_equal(retx_commit(st, e, 2, 148, 10000000, 100 * MS, true),
			 0);
	struct retx_stats s;
	retx_get_stats(st, &s);
	assert_int_equal(s.nack_delay_n, 2);
	assert_int_equal(s.nack_delay_sum_ns, 40 * MS + 60 * MS);
	assert_int_equal(s.nack_delay_max_ns, 60 * MS);
	/* the recent figure: EWMA of the two counted (40 then 60 ms), and
	 * nothing once no resend came for RETX_RECENT_NS */
	assert_int_equal(retx_recent_nack_delay(st, 100 * MS),
			 40 * MS - 40 * MS / 8 + 60 * MS / 8);
	assert_int_equal(retx_recent_nack_delay(st, 80 * MS + RETX_RECENT_NS),
			 40 * MS - 40 * MS / 8 + 60 * MS / 8);
	assert_int_equal(
	    retx_recent_nack_delay(st, 80 * MS + RETX_RECENT_NS + 1), 0);
	assert_int_equal(retx_recent_nack_delay(NULL, 100 * MS), 0);
	retx_destroy(st);
	/* a store that never resent: 0 */
	st = mk(64, 500 * MS, 1000000);
	assert_int_equal(retx_recent_nack_delay(st, 100 * MS), 0);
	retx_destroy(st);
}

/* (link, path_seq) reported lost at `now` with `usable` links up: must be
 * resent on one of `allowed`; resent on `to` as `to_pseq`. Returns the
 * entry. */
static struct retx_ent *lose_resend(struct retx_store *st, uint32_t link,
				    uint32_t pseq, uint32_t usable,
				    uint32_t allowed, uint32_t to,
				    uint32_t to_pseq, uint64_t now)
{
	struct retx_ent *e = NULL;
	uint32_t ok = 0;
	assert_int_equal(retx_on_loss(st, link, pseq, usable, now, &e, &ok),
			 RETX_RESEND);
	assert_int_equal(ok, allowed);
	assert_int_equal(retx_commit(st, e, to, 148, 10000000, now, true), 0);
	retx_on_resent(st, e->seq, to, to_pseq);
	return e;
}

/* A resend that is itself lost is found through the link it went on and
 * resent again, first on links that never lost it; when every link has
 * lost a copy, once more on the original's link (it lost the original
 * only, never a resend); after that it is given up: no link carries two
 * resends of a packet. */
static void test_resend_lost_again(void **state)
{
	(void)state;
	struct retx_store *st = mk(64, 100 * MS, 1000000);
	struct retx_ent *e = NULL;
	uint32_t allowed = 0;
	put(st, 20, 1, 5, 0);
	e = lose_resend(st, 1, 5, 0x7, 0x5, 0, 30, 1 * MS);
	/* link 0 lost the resend: only link 2 is left */
	assert_int_equal(lose_resend(st, 0, 30, 0x7, 0x4, 2, 40, 3 * MS), e);
	assert_int_equal(e->seq, 20);
	assert_int_equal(e->resends, 2);
	/* and link 2 lost it too: every link has; the original's link 1
	 * carried no resend yet */
	assert_int_equal(retx_on_loss(st, 2, 40, 0x7, 5 * MS, &e, &allowed),
			 RETX_RESEND);
	assert_int_equal(allowed, 0x2);
	/* not if link 1 is not usable now */
	put(st, 22, 1, 7, 0);
	lose_resend(st, 1, 7, 0x3, 0x1, 0, 32, 1 * MS);
	assert_int_equal(retx_on_loss(st, 0, 32, 0x1, 3 * MS, &e, &allowed),
			 RETX_NO_LINK);
	/* only two links: the resend on 0 lost, one more on 1, then none */
	put(st, 21, 1, 6, 0);
	e = lose_resend(st, 1, 6, 0x3, 0x1, 0, 31, 1 * MS);
	assert_int_equal(lose_resend(st, 0, 31, 0x3, 0x2, 1, 9, 3 * MS), e);
	assert_int_equal(e->resends, 2);
	/* the second resend, on link 1, lost as well: link 1's loss of this
	 * packet is known already, and both links carried a resend */
	assert_int_equal(retx_on_loss(st, 1, 9, 0x3, 5 * MS, &e, &allowed),
			 RETX_DUP);
	retx_destroy(st);
}

/* While some copy is still on its way, a loss of another is no reason to
 * send a third. */
static void test_pending_copy(void **state)
{
	(void)state;
	struct retx_store *st = mk(64, 100 * MS, 1000000);
	struct retx_ent *e = NULL;
	uint32_t allowed = 0;
	put(st, 30, 1, 5, 0);
	assert_int_equal(retx_on_loss(st, 1, 5, 0x7, 1 * MS, &e, &allowed),
			 RETX_RESEND);
	/* sent on two links (failover and NACK can both do that) */
	assert_int_equal(retx_commit(st, e, 0, 148, 10000000, 1 * MS, false),
			 0);
	retx_on_resent(st, 30, 0, 9);
	assert_int_equal(retx_commit(st, e, 2, 148, 10000000, 1 * MS, false),
			 0);
	retx_on_resent(st, 30, 2, 4);
	assert_int_equal(retx_on_loss(st, 0, 9, 0x7, 2 * MS, &e, &allowed),
			 RETX_PENDING);
	retx_destroy(st);
}

/* Ageing: by time (a resend could not arrive within the far end's wait)
 * and by memory (the ring slot or the link's map slot was reused). */
static void test_ageing(void **state)
{
	(void)state;
	struct retx_store *st = mk(16, 50 * MS, 1000000);
	struct retx_ent *e = NULL;
	uint32_t allowed = 0;
	put(st, 1, 0, 1, 0);
	assert_int_equal(retx_on_loss(st, 0, 1, 0x3, 51 * MS, &e, &allowed),
			 RETX_TOO_OLD);
	/* a later max age (the RTTs grew) keeps the next one resendable */
	put(st, 2, 0, 2, 0);
	retx_set_max_age(st, 200 * MS);
	assert_int_equal(retx_max_age(st), 200 * MS);
	assert_int_equal(retx_on_loss(st, 0, 2, 0x3, 51 * MS, &e, &allowed),
			 RETX_RESEND);
	/* 16 later packets overwrite seq 3's slot: gone */
	put(st, 3, 0, 3, 0);
	for (uint64_t q = 4; q < 20; q++)
		put(st, q, 1, (uint32_t)q, 0);
	assert_null(retx_lookup(st, 0, 3));
	assert_int_equal(retx_on_loss(st, 0, 3, 0x3, 1 * MS, &e, &allowed),
			 RETX_GONE);
	assert_non_null(retx_lookup(st, 1, 19));
	/* the link's map slot reused by a newer path_seq */
	put(st, 40, 1, 100, 0);
	put(st, 41, 1, 116, 0);
	assert_null(retx_lookup(st, 1, 100));
	assert_non_null(retx_lookup(st, 1, 116));
	/* too long to keep: a report finds nothing */
	uint8_t big[1600] = {0};
	retx_on_sent(st, 42, 0, 200, 0, 0, big, sizeof(big), 0);
	assert_null(retx_lookup(st, 0, 200));
	retx_destroy(st);
}

/* The budget: 10% of 8 Mbit/s is 100 kB/s, the bucket holds 250 ms of it
 * (25 kB); a burst takes what the bucket holds, then the refill paces it.
 * A dead link's resends do not draw on it. */
static void test_budget(void **state)
{
	(void)state;
	struct retx_store *st = mk(1024, 1000 * MS, 100000);
	struct retx_ent *e = NULL;
	uint32_t allowed = 0;
	uint32_t ok = 0, refused = 0;
	for (uint32_t q = 1; q <= 40; q++) {
		put(st, q, 1, q, 0);
		assert_int_equal(
		    retx_on_loss(st, 1, q, 0x3, 1 * MS, &e, &allowed),
		    RETX_RESEND);
		if (retx_commit(st, e, 0, 1500, 8000000, 1 * MS, true) == 0)
			ok++;
		else
			refused++;
	}
	assert_int_equal(ok, 16); /* 25000 / 1500 */
	assert_int_equal(refused, 24);
	struct retx_stats s;
	retx_get_stats(st, &s);
	assert_int_equal(s.over_budget, 24);
	/* 15 ms later: 1500 bytes more */
	put(st, 100, 1, 100, 10 * MS);
	put(st, 101, 1, 101, 10 * MS);
	put(st, 102, 1, 102, 10 * MS);
	assert_int_equal(retx_on_loss(st, 1, 100, 0x3, 16 * MS, &e, &allowed),
			 RETX_RESEND);
	assert_int_equal(retx_commit(st, e, 0, 1500, 8000000, 16 * MS, true),
			 0);
	assert_int_equal(retx_on_loss(st, 1, 101, 0x3, 16 * MS, &e, &allowed),
			 RETX_RESEND);
	assert_int_equal(retx_commit(st, e, 0, 1500, 8000000, 16 * MS, true),
			 -ENOBUFS);
	/* a failover resend is booked without tokens */
	assert_int_equal(retx_on_loss(st, 1, 102, 0x3, 16 * MS, &e, &allowed),
			 RETX_RESEND);
	assert_int_equal(retx_commit(st, e, 0, 1500, 8000000, 16 * MS, false),
			 0);
	retx_get_stats(st, &s);
	assert_int_equal(s.resent, 18);
	assert_int_equal(s.resent_bytes, 18 * 1500);
	/* a budget of 0 resends nothing but failover */
	retx_destroy(st);
	st = mk(64, 1000 * MS, 0);
	put(st, 1, 1, 1, 0);
	put(st, 2, 1, 2, 0);
	assert_int_equal(retx_on_loss(st, 1, 1, 0x3, 1 * MS, &e, &allowed),
			 RETX_RESEND);
	assert_int_equal(retx_commit(st, e, 0, 1500, 8000000, 1 * MS, true),
			 -ENOBUFS);
	assert_int_equal(retx_on_loss(st, 1, 2, 0x3, 1 * MS, &e, &allowed),
			 RETX_RESEND);
	assert_int_equal(retx_commit(st, e, 0, 1500, 8000000, 1 * MS, false),
			 0);
	retx_destroy(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_bad),
	    cmocka_unit_test(test_resend_and_duplicate),
	    cmocka_unit_test(test_nack_delay),
	    cmocka_unit_test(test_resend_lost_again),
	    cmocka_unit_test(test_pending_copy),
	    cmocka_unit_test(test_ageing),
	    cmocka_unit_test(test_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
