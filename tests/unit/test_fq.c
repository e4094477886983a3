/*
 * Unit tests of the flow queue (core/queue/fq.c) on a synthetic clock:
 * DRR fairness between bulk flows, a sparse flow served before bulk ones,
 * overflow dropping the head of the fattest flow, bounded memory under a
 * flood of distinct flows (and colliding hashes), per-flow CoDel, and the
 * interactive classification (DSCP set, sparseness) with its parser.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "queue/fq.h"

#define MS 1000000ull

static struct fq_cfg base_cfg(void)
{
	struct fq_cfg c = {
	    .limit_pkts = 256,
	    .limit_bytes = 256 * 1500,
	    .slot_size = 1500,
	    .flows = 64,
	    .quantum = 1514,
	    .target_ns = 5 * MS,
	    .interval_ns = 100 * MS,
	    .ecn = false,
	    .sparse_rate = 125000, /* 1 Mbit/s */
	    .sparse_burst = 3000,
	    .dscp_mask = 1ull << 46,
	};
	return c;
}

/* A packet whose first 4 bytes carry the flow tag and next 4 a number. */
static void mk(uint8_t *p, uint32_t len, uint32_t flow, uint32_t n)
{
	memset(p, 0, len);
	memcpy(p, &flow, 4);
	memcpy(p + 4, &n, 4);
}

/* Distinct hashes that land in distinct buckets of q. */
static uint32_t hash_for(const struct fq *q, uint32_t bucket)
{
	for (uint32_t h = 1;; h++)
		if (fq_flow_of(q, h) == bucket)
			return h;
}

static void test_bad_cfg(void **st)
{
	(void)st;
	struct fq q;
	struct fq_cfg c = base_cfg();
	c.flows = 48; /* not a power of two */
	assert_int_equal(fq_init(&q, &c), -EINVAL);
	c = base_cfg();
	c.quantum = 10;
	assert_int_equal(fq_init(&q, &c), -EINVAL);
	c = base_cfg();
	c.limit_pkts = 1;
	assert_int_equal(fq_init(&q, &c), -EINVAL);
	/* a refused queue refuses packets instead of crashing */
	uint8_t p[100] = {0};
	assert_true(fq_push(&q, 1, p, sizeof(p), 0) < 0);
	fq_free(&q);
}

/* Two bulk flows, one of 1500-byte packets and one of 500-byte ones, both
 * backlogged: DRR gives each the same bytes, not the same packets. */
static void test_fairness_bytes(void **st)
{
	(void)st;
	struct fq q;
	struct fq_cfg c = base_cfg();
	c.target_ns = UINT64_MAX / 4; /* no CoDel here */
	assert_int_equal(fq_init(&q, &c), 0);
	uint32_t ha = hash_for(&q, 1), hb = hash_for(&q, 2);
	uint8_t p[1500];
	for (uint32_t i = 0; i < 60; i++) {
		mk(p, 1500, 1, i);
		assert_int_equal(fq_push(&q, ha, p, 1500, 0), 0);
	}
	for (uint32_t i = 0; i < 180; i++) {
		mk(p, 500, 2, i);
		assert_int_equal(fq_push(&q, hb, p, 500, 0), 0);
	}
	uint64_t bytes[3] = {0};
	/* take the first 60 KB: both flows are still backlogged */
	uint64_t took = 0;
	uint32_t lastn[3] = {0, 0, 0};
	bool first[3] = {true, true, true};
	while (took < 60000) {
		uint32_t len, flow, n;
		uint8_t *e = fq_pop(&q, 1, &len, NULL);
		assert_non_null(e);
		memcpy(&flow, e, 4);
		memcpy(&n, e + 4, 4);
		assert_true(flow == 1 || flow == 2);
		/* in order within each flow */
		if (!first[flow])
			assert_int_equal(n, lastn[flow] + 1);
		first[flow] = false;
		lastn[flow] = n;
		bytes[flow] += len;
		took += len;
	}
	/* equal shares within one quantum plus a packet */
	uint64_t d =
	    bytes[1] > bytes[2] ? bytes[1] - bytes[2] : bytes[2] - bytes[1];
	assert_true(d <= 1514 + 1500);
	fq_free(&q);
}

/* A sparse flow's packet that arrives behind a deep bulk backlog leaves
 * next (the new-flows list), not after the backlog. */
static void test_sparse_first(void **st)
{
	(void)st;
	struct fq q;
	struct fq_cfg c = base_cfg();
	c.target_ns = UINT64_MAX / 4;
	assert_int_equal(fq_init(&q, &c), 0);
	uint32_t hb = hash_for(&q, 3), hs = hash_for(&q, 4);
	uint8_t p[1500];
	for (uint32_t i = 0; i < 100; i++) {
		mk(p, 1500, 1, i);
		assert_int_equal(fq_push(&q, hb, p, 1500, 0), 0);
	}
	uint32_t len, flow;
	/* the bulk flow used its first quantum: it is an old flow now */
	assert_non_null(fq_pop(&q, 0, &len, NULL));
	assert_non_null(fq_pop(&q, 0, &len, NULL));
	mk(p, 80, 2, 0);
	assert_int_equal(fq_push(&q, hs, p, 80, 1 * MS), 0);
	uint64_t enq = 0;
	uint8_t *e = fq_pop(&q, 2 * MS, &len, &enq);
	assert_non_null(e);
	memcpy(&flow, e, 4);
	assert_int_equal(flow, 2);
	assert_int_equal(len, 80);
	assert_int_equal(enq, 1 * MS);
	/* and the bulk flow goes on */
	e = fq_pop(&q, 2 * MS, &len, NULL);
	memcpy(&flow, e, 4);
	assert_int_equal(flow, 1);
	fq_free(&q);
}

/* Overflow drops the head of the fattest flow, not the newcomer, and not
 * a thin flow's packets. */
static void test_overflow_fattest(void **st)
{
	(void)st;
	struct fq q;
	struct fq_cfg c = base_cfg();
	c.limit_pkts = 32;
	c.target_ns = UINT64_MAX / 4;
	assert_int_equal(fq_init(&q, &c), 0);
	uint32_t hf = hash_for(&q, 5), ht = hash_for(&q, 6);
	uint8_t p[1500];
	mk(p, 100, 2, 0);
	assert_int_equal(fq_push(&q, ht, p, 100, 0), 0);
	mk(p, 100, 2, 1);
	assert_int_equal(fq_push(&q, ht, p, 100, 0), 0);
	for (uint32_t i = 0; i < 40; i++) {
		mk(p, 1000, 1, i);
		assert_int_equal(fq_push(&q, hf, p, 1000, 0), 0);
	}
	assert_int_equal(q.n, 32);
	assert_int_equal(q.drops_overflow, 10);
	assert_int_equal(fq_flow_pkts(&q, fq_flow_of(&q, ht)), 2);
	assert_int_equal(fq_flow_pkts(&q, fq_flow_of(&q, hf)), 30);
	/* the fat flow lost its oldest: its first packet out is number 10 */
	uint32_t len, flow, n;
	bool seen_fat = false;
	while (!seen_fat) {
		uint8_t *e = fq_pop(&q, 0, &len, NULL);
		assert_non_null(e);
		memcpy(&flow, e, 4);
		memcpy(&n, e + 4, 4);
		if (flow == 1) {
			assert_int_equal(n, 10);
			seen_fat = true;
		}
	}
	fq_free(&q);
}

/* A flood of distinct flows (far more than buckets: collisions) never
 * holds more than the limits, and every slot comes back. */
static void test_flood_bounded(void **st)
{
	(void)st;
	struct fq q;
	struct fq_cfg c = base_cfg();
	c.limit_bytes = 100 * 1000;
	assert_int_equal(fq_init(&q, &c), 0);
	uint8_t p[1500];
	uint64_t now = 0;
	for (uint32_t i = 0; i < 20000; i++) {
		mk(p, 1000, i, i);
		assert_int_equal(fq_push(&q, i * 7919u + 1, p, 1000, now), 0);
		assert_true(q.n <= c.limit_pkts);
		assert_true(q.bytes <= c.limit_bytes);
		if (i % 3 == 0) {
			uint32_t len;
			fq_pop(&q, now, &len, NULL);
		}
		now += 10000;
	}
	assert_true(q.drops_overflow > 0);
	assert_int_equal(q.enqueued,
			 q.dequeued + q.n + q.drops_overflow + q.drops_codel);
	uint32_t len;
	while (fq_pop(&q, now, &len, NULL))
		;
	assert_int_equal(q.n, 0);
	assert_int_equal(q.bytes, 0);
	/* every slot is on the free list again */
	uint32_t free_n = 0;
	for (uint32_t i = q.free_head; i != FQ_NONE; i = q.slots[i].next)
		free_n++;
	assert_int_equal(free_n, c.limit_pkts);
	/* all hashes colliding into one bucket: still bounded */
	for (uint32_t i = 0; i < 1000; i++) {
		mk(p, 1000, 0, i);
		assert_int_equal(fq_push(&q, 42, p, 1000, now), 0);
		assert_true(q.bytes <= c.limit_bytes);
	}
	assert_int_equal(q.n, 100);
	fq_free(&q);
}

/* CoDel per flow: a bulk flow whose sojourn stays above target for an
 * interval loses head packets; a thin flow on the same queue does not. */
static void test_codel_per_flow(void **st)
{
	(void)st;
	struct fq q;
	struct fq_cfg c = base_cfg();
	c.limit_pkts = 1024;
	c.limit_bytes = 1024 * 1500;
	assert_int_equal(fq_init(&q, &c), 0);
	uint32_t hb = hash_for(&q, 7), hs = hash_for(&q, 8);
	uint8_t p[1500];
	uint64_t now = 0;
	uint32_t n = 0, sn = 0, sgot = 0;
	/* the bulk flow arrives at 2x the service rate for a second */
	for (int t = 0; t < 1000; t++, now += MS) {
		mk(p, 1500, 1, n);
		fq_push(&q, hb, p, 1500, now);
		n++;
		mk(p, 1500, 1, n);
		fq_push(&q, hb, p, 1500, now);
		n++;
		if (t % 20 == 0) {
			mk(p, 80, 2, sn++);
			fq_push(&q, hs, p, 80, now);
		}
		uint32_t len, flow;
		uint8_t *e = fq_pop(&q, now, &len, NULL);
		if (e) {
			memcpy(&flow, e, 4);
			sgot += flow == 2;
		}
	}
	assert_true(q.drops_codel > 0);
	/* the sparse flow lost nothing and waited for nothing */
	assert_int_equal(sgot, sn);
	assert_int_equal(fq_flow_pkts(&q, fq_flow_of(&q, hs)), 0);
	fq_free(&q);
	/* with ECN, ECT packets are marked instead */
	c.ecn = true;
	assert_int_equal(fq_init(&q, &c), 0);
	now = 0;
	for (int t = 0; t < 1000; t++, now += MS) {
		for (int k = 0; k < 2; k++) {
			memset(p, 0, 1500);
			p[0] = 0x45, p[1] = 0x02; /* ECT(0) */
			p[2] = 1500 >> 8, p[3] = 1500 & 0xff;
			fq_push(&q, hb, p, 1500, now);
		}
		uint32_t len;
		fq_pop(&q, now, &len, NULL);
	}
	assert_true(q.ecn_marks > 0);
	assert_int_equal(q.drops_codel, 0);
	fq_free(&q);
	/* paused (links still being measured): no signal at all */
	c.ecn = false;
	assert_int_equal(fq_init(&q, &c), 0);
	q.aqm_paused = true;
	now = 0;
	for (int t = 0; t < 2000; t++, now += MS) {
		mk(p, 1500, 1, 0);
		fq_push(&q, hb, p, 1500, now);
		fq_push(&q, hb, p, 1500, now);
		uint32_t len;
		fq_pop(&q, now, &len, NULL);
	}
	assert_int_equal(q.drops_codel, 0);
	assert_true(q.drops_overflow > 0); /* the limit still holds */
	fq_free(&q);
}

/* Classification: DSCP in the set is interactive whatever the flow does;
 * a flow with a packet every 20 ms is sparse; a bulk flow is not once its
 * burst is spent, nor while it has packets queued; it becomes sparse again
 * after going quiet. */
static void test_classify(void **st)
{
	(void)st;
	struct fq q;
	struct fq_cfg c = base_cfg();
	assert_int_equal(fq_init(&q, &c), 0);
	uint32_t hg = hash_for(&q, 9), hb = hash_for(&q, 10);
	uint64_t now = 0;
	int game_int = 0, bulk_int = 0;
	for (int i = 0; i < 500; i++, now += MS) {
		if (i % 20 == 0)
			game_int += fq_interactive(&q, hg, 0, 120, now);
		for (int k = 0; k < 4; k++) /* ~48 Mbit/s */
			bulk_int += fq_interactive(&q, hb, 0, 1500, now);
	}
	assert_int_equal(game_int, 25);
	assert_true(bulk_int <= 2); /* its first burst only */
	/* EF on the bulk flow: interactive all the same */
	assert_true(fq_interactive(&q, hb, 46, 1500, now));
	assert_false(fq_interactive(&q, hb, 0, 1500, now));
	/* the bulk flow goes quiet for a second: sparse again */
	now += 1000 * MS;
	assert_true(fq_interactive(&q, hb, 0, 100, now));
	/* a flow with packets queued is not sparse */
	uint8_t p[200] = {0};
	assert_int_equal(fq_push(&q, hg, p, 100, now), 0);
	now += 100 * MS;
	assert_false(fq_interactive(&q, hg, 0, 100, now));
	/* an empty DSCP set: only sparseness counts */
	fq_free(&q);
	c.dscp_mask = 0;
	assert_int_equal(fq_init(&q, &c), 0);
	for (int k = 0; k < 10; k++)
		fq_interactive(&q, hb, 46, 1500, 0);
	assert_false(fq_interactive(&q, hb, 46, 1500, 0));
	fq_free(&q);
}

static void test_dscp_parse(void **st)
{
	(void)st;
	uint64_t m;
	const char *bad;
	assert_int_equal(fq_dscp_mask_parse("ef, cs5,CS6 cs7", &m, &bad), 0);
	assert_true(
	    m == ((1ull << 46) | (1ull << 40) | (1ull << 48) | (1ull << 56)));
	assert_int_equal(fq_dscp_mask_parse("none", &m, &bad), 0);
	assert_true(m == 0);
	assert_int_equal(fq_dscp_mask_parse("0,63", &m, &bad), 0);
	assert_true(m == (1ull | (1ull << 63)));
	const char *bads[] = {"ef,cs8", "64",	"-1",
			      "ef;cs5", "af44", "averyveryverylongword",
			      "0x2e"};
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		assert_int_equal(fq_dscp_mask_parse(bads[i], &m, &bad),
				 -EINVAL);
		assert_non_null(bad);
	}
	uint8_t v;
	assert_int_equal(fq_dscp_parse("", &v), -EINVAL);
	assert_int_equal(fq_dscp_parse("va", &v), 0);
	assert_int_equal(v, 44);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_cfg),
	    cmocka_unit_test(test_fairness_bytes),
	    cmocka_unit_test(test_sparse_first),
	    cmocka_unit_test(test_overflow_fattest),
	    cmocka_unit_test(test_flood_bounded),
	    cmocka_unit_test(test_codel_per_flow),
	    cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_dscp_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
