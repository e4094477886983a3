/*
 * Unit tests of the daemon's packet queue (core/queue/pktq.c): limits,
 * FIFO order, and CoDel (RFC 8289) on a synthetic clock: no drop while the
 * sojourn stays under target or lasts less than an interval, head drops
 * once it stays above for an interval, drops closer together while it
 * persists, none once it falls back; ECN marking instead of dropping.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "queue/pktq.h"

#define MS 1000000ull

static const struct pktq_cfg cfg = {
    .limit_pkts = 256,
    .limit_bytes = 256 * 1500,
    .slot_size = 1500,
    .target_ns = 5 * MS,
    .interval_ns = 100 * MS,
    .ecn = false,
};

/* An IPv4 header with the given ECN bits and a valid checksum; the id
 * field carries n so order can be checked. */
static void ip4(uint8_t *p, uint32_t len, uint8_t ecn, uint16_t n)
{
	memset(p, 0, len);
	p[0] = 0x45;
	p[1] = ecn;
	p[2] = (uint8_t)(len >> 8), p[3] = (uint8_t)len;
	p[4] = (uint8_t)(n >> 8), p[5] = (uint8_t)n;
	p[8] = 64, p[9] = 17;
	uint32_t s = 0;
	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	s = ~s & 0xffff;
	p[10] = (uint8_t)(s >> 8), p[11] = (uint8_t)s;
}

static int csum_ok(const uint8_t *p)
{
	uint32_t s = 0;
	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

static void test_limits_fifo(void **st)
{
	(void)st;
	struct pktq q;
	uint8_t p[1500];
	struct pktq_cfg c = cfg;
	c.limit_pkts = 4;
	c.limit_bytes = 3000;
	assert_int_equal(pktq_init(&q, &c), 0);
	for (uint16_t i = 0; i < 3; i++) {
		ip4(p, 1000, 0, i);
		assert_int_equal(pktq_push(&q, p, 1000, 0),
				 i < 3 ? 0 : -ENOBUFS);
	}
	ip4(p, 1000, 0, 9);
	assert_int_equal(pktq_push(&q, p, 1000, 0), -ENOBUFS); /* bytes */
	assert_int_equal(pktq_push(&q, p, 1501, 0), -EMSGSIZE);
	assert_int_equal(q.drops_full, 1);
	uint32_t len;
	for (uint16_t i = 0; i < 3; i++) {
		uint8_t *o = pktq_pop(&q, MS, &len);
		assert_non_null(o);
		assert_int_equal(len, 1000);
		assert_int_equal(o[5], i);
	}
	assert_null(pktq_pop(&q, MS, &len));
	assert_true(pktq_empty(&q));
	pktq_free(&q);
	c.limit_pkts = 1;
	assert_int_equal(pktq_init(&q, &c), -EINVAL);
}

/* Fills the queue so that every packet has waited `wait` when popped at a
 * steady rate of one per ms; returns the drops seen over `ms`. */
static uint64_t steady(struct pktq *q, uint64_t *now, uint64_t wait_ms,
		       uint64_t ms)
{
	uint8_t p[1000];
	uint32_t len;
	uint64_t d0 = q->drops_codel + q->ecn_marks;
	for (uint64_t i = 0; i < ms; i++) {
		ip4(p, sizeof(p), 0, (uint16_t)i);
		/* keep wait_ms packets queued ahead (one enqueued per ms) */
		while (q->n < wait_ms + 1)
			pktq_push(q, p, sizeof(p), *now);
		pktq_pop(q, *now, &len);
		*now += MS;
	}
	return q->drops_codel + q->ecn_marks - d0;
}

static void test_codel(void **st)
{
	(void)st;
	struct pktq q;
	uint64_t now = 1000 * MS;
	assert_int_equal(pktq_init(&q, &cfg), 0);
	/* a 2 ms standing queue: under target, never a drop */
	assert_int_equal(steady(&q, &now, 2, 1000), 0);
	/* drain, then a 20 ms standing queue: the first drop after about one
	 * interval, then more, closer together */
	uint32_t len;
	while (pktq_pop(&q, now, &len))
		;
	uint64_t first = steady(&q, &now, 20, 90);
	assert_int_equal(first, 0); /* less than an interval above target */
	uint64_t later = steady(&q, &now, 20, 1000);
	assert_true(later >= 5);
	assert_true(q.cd.dropping);
	uint64_t more = steady(&q, &now, 20, 1000);
	assert_true(more > later); /* interval / sqrt(count): faster */
	/* back under target: drops stop */
	while (pktq_pop(&q, now, &len))
		;
	assert_int_equal(steady(&q, &now, 2, 1000), 0);
	assert_false(q.cd.dropping);
	assert_true(q.max_sojourn_ns >= 20 * MS);
	/* paused (links still being measured): a standing queue is not
	 * signalled, and CoDel starts afresh when it resumes */
	while (pktq_pop(&q, now, &len))
		;
	q.aqm_paused = true;
	assert_int_equal(steady(&q, &now, 20, 1000), 0);
	q.aqm_paused = false;
	assert_int_equal(steady(&q, &now, 20, 90), 0);
	assert_true(steady(&q, &now, 20, 1000) > 0);
	pktq_free(&q);
}

static void test_ecn(void **st)
{
	(void)st;
	uint8_t p[40];
	ip4(p, 20, 2, 1); /* ECT(0) */
	assert_true(pktq_ecn_mark(p, 20));
	assert_int_equal(p[1] & 3, 3);
	assert_true(csum_ok(p));
	ip4(p, 20, 0, 1); /* not ECT */
	assert_false(pktq_ecn_mark(p, 20));
	assert_int_equal(p[1] & 3, 0);
	memset(p, 0, sizeof(p));
	p[0] = 0x60, p[1] = 0x10; /* IPv6 ECT(1) */
	assert_true(pktq_ecn_mark(p, 40));
	assert_int_equal((p[1] >> 4) & 3, 3);
	assert_false(pktq_ecn_mark(p, 10)); /* too short */

	/* with ecn on, a persistent queue of ECT packets is marked, not
	 * dropped */
	struct pktq q;
	struct pktq_cfg c = cfg;
	c.ecn = true;
	assert_int_equal(pktq_init(&q, &c), 0);
	uint64_t now = 1000 * MS;
	uint8_t b[1000];
	uint32_t len;
	for (int i = 0; i < 2000; i++) {
		ip4(b, sizeof(b), 2, (uint16_t)i);
		while (q.n < 21)
			pktq_push(&q, b, sizeof(b), now);
		uint8_t *o = pktq_pop(&q, now, &len);
		assert_non_null(o);
		assert_true(csum_ok(o));
		now += MS;
	}
	assert_true(q.ecn_marks > 0);
	assert_int_equal(q.drops_codel, 0);
	pktq_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limits_fifo),
	    cmocka_unit_test(test_codel),
	    cmocka_unit_test(test_ecn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
