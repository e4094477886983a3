/*
 * Transmit batch grouping: how one path's datagrams are cut into UDP GSO
 * sends. The kernel refuses (or silently mis-splits) a GSO message whose
 * segments are not all the cmsg size except a shorter last one, so every
 * group is checked against that rule, against the segment and byte limits,
 * and for covering every datagram exactly once, in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "datapath.h"

/* Checks the kernel's GSO rule and the limits for every group. */
static void check_groups(const uint32_t *len, uint32_t n, uint32_t max_segs,
			 uint32_t max_bytes, const uint16_t *count,
			 uint32_t groups)
{
	uint32_t at = 0;
	for (uint32_t g = 0; g < groups; g++) {
		uint32_t k = count[g];
		uint64_t total = 0;
		assert_true(k >= 1);
		assert_true(k <= max_segs);
		for (uint32_t j = 0; j < k; j++) {
			total += len[at + j];
			if (j + 1 < k)
				assert_int_equal(len[at + j], len[at]);
			else
				assert_true(len[at + j] <= len[at]);
		}
		if (k > 1)
			assert_true(total <= max_bytes);
		at += k;
	}
	assert_int_equal(at, n);
}

static void test_equal_run(void **state)
{
	uint32_t len[TX_BATCH];
	uint16_t count[TX_BATCH];
	(void)state;
	for (int i = 0; i < TX_BATCH; i++)
		len[i] = 1472;
	uint32_t g = txbatch_group(len, 40, TX_GSO_SEGS, TX_GSO_BYTES, count);
	/* 40 * 1472 = 58880 bytes: one send. */
	assert_int_equal(g, 1);
	assert_int_equal(count[0], 40);
	/* 64 * 1472 > 65000: cut at 44 (64768 bytes). */
	g = txbatch_group(len, 64, TX_GSO_SEGS, TX_GSO_BYTES, count);
	assert_int_equal(g, 2);
	assert_int_equal(count[0], 44);
	assert_int_equal(count[1], 20);
	check_groups(len, 64, TX_GSO_SEGS, TX_GSO_BYTES, count, g);
}

static void test_short_last_joins(void **state)
{
	uint32_t len[] = {1400, 1400, 1400, 60, 1400, 1400, 80, 80, 200};
	uint16_t count[9];
	(void)state;
	uint32_t g = txbatch_group(len, 9, TX_GSO_SEGS, TX_GSO_BYTES, count);
	/* [1400 x3 + 60] [1400 x2 + 80] [80] [200] */
	assert_int_equal(g, 4);
	assert_int_equal(count[0], 4);
	assert_int_equal(count[1], 3);
	assert_int_equal(count[2], 1);
	assert_int_equal(count[3], 1);
	check_groups(len, 9, TX_GSO_SEGS, TX_GSO_BYTES, count, g);
}

static void test_segment_limit(void **state)
{
	uint32_t len[TX_BATCH];
	uint16_t count[TX_BATCH];
	(void)state;
	for (int i = 0; i < TX_BATCH; i++)
		len[i] = 100;
	uint32_t g = txbatch_group(len, TX_BATCH, 8, TX_GSO_BYTES, count);
	assert_int_equal(g, TX_BATCH / 8);
	check_groups(len, TX_BATCH, 8, TX_GSO_BYTES, count, g);
	/* One segment per send: GSO off in effect. */
	g = txbatch_group(len, TX_BATCH, 1, TX_GSO_BYTES, count);
	assert_int_equal(g, TX_BATCH);
	assert_int_equal(txbatch_group(len, 0, 8, TX_GSO_BYTES, count), 0);
}

/* Random lengths, mostly full-size as in bulk traffic: every grouping
 * obeys the rule, the limits and the order. */
static void test_random(void **state)
{
	uint32_t len[TX_BATCH];
	uint16_t count[TX_BATCH];
	(void)state;
	srand(777);
	for (int round = 0; round < 20000; round++) {
		uint32_t n = 1 + (uint32_t)(rand() % TX_BATCH);
		for (uint32_t i = 0; i < n; i++)
			len[i] =
			    rand() % 4 ? 1472 : 40 + (uint32_t)(rand() % 1500);
		uint32_t segs = 1 + (uint32_t)(rand() % TX_GSO_SEGS);
		uint32_t g = txbatch_group(len, n, segs, TX_GSO_BYTES, count);
		check_groups(len, n, segs, TX_GSO_BYTES, count, g);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_equal_run),
	    cmocka_unit_test(test_short_last_joins),
	    cmocka_unit_test(test_segment_limit),
	    cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
