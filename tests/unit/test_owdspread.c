/*
 * Unit tests of core/link/owdspread.c: one-way-delay differences across a
 * session's links on raw clocks near the 2^32 us wrap, stale links left
 * out of the spread, links not in use left out of the differences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "link/owdspread.h"

/* offset of the far clock: any value, here just below the wrap */
#define OFF 4294960000u

static void test_spread_across_wrap(void **st)
{
	(void)st;
	struct owd_sample v[3] = {
	    {.valid = true, .owd_us = OFF + 15000, .rx_us = 100},
	    {.valid = true, .owd_us = OFF + 40000, .rx_us = 200},
	    {.valid = true, .owd_us = OFF + 22000, .rx_us = 300},
	};
	/* 15 ms and 40 ms straddle the wrap of the raw values */
	assert_int_equal(owd_spread_us(v, 3, 400, 1000000), 25000);
}

static void test_spread_ignores_stale_and_single(void **st)
{
	(void)st;
	struct owd_sample v[3] = {
	    {.valid = true, .owd_us = OFF + 15000, .rx_us = 5000000},
	    /* carried data 2 s ago with a deep queue: not in the spread */
	    {.valid = true, .owd_us = OFF + 240000, .rx_us = 3000000},
	    {.valid = false, .owd_us = 0, .rx_us = 5000000},
	};
	assert_int_equal(owd_spread_us(v, 3, 5000100, 1000000), 0);
	v[1].rx_us = 4500000;
	assert_int_equal(owd_spread_us(v, 3, 5000100, 1000000), 225000);
	assert_int_equal(owd_spread_us(v, 0, 5000100, 1000000), 0);
}

static void test_diffs(void **st)
{
	(void)st;
	uint32_t raw[4] = {OFF + 30000, OFF + 5000, 7, OFF + 9000};
	bool use[4] = {true, true, false, true};
	int64_t out[4];
	owd_diffs_us(raw, use, 4, out);
	assert_int_equal(out[0], 25000);
	assert_int_equal(out[1], 0);
	assert_int_equal(out[2], 0); /* not in use */
	assert_int_equal(out[3], 4000);
	bool none[4] = {false, false, false, false};
	owd_diffs_us(raw, none, 4, out);
	assert_int_equal(out[0], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spread_across_wrap),
	    cmocka_unit_test(test_spread_ignores_stale_and_single),
	    cmocka_unit_test(test_diffs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
