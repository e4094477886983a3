/*
 * earliest-arrival, loaded from TTT_PLUGIN_DIR through the host and called
 * through its own pick: the fastest link while it is idle, the slower link
 * once the fast one's queue outweighs the delay difference (but not onto
 * an unused slower link while the fast one is in STARTUP), a rate-shaped
 * split under saturation, and never an unusable link.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "sched/sched_host.h"
#include "shipped_plugins.h"

#define MS 1000000ull

static struct ttt_link_view L[4];
static struct ttt_sched_ctx ctx;

static void links_reset(void)
{
	memset(L, 0, sizeof(L));
	const char *names[] = {"fast", "slow", "c", "d"};
	for (uint32_t i = 0; i < 2; i++) {
		L[i].id = i;
		L[i].name = names[i];
		L[i].state = TTT_LINK_UP;
	}
	/* 30 Mbit/s with 15 ms one way, 10 Mbit/s with 40 ms. */
	L[0].rate_bps = 30000000;
	L[1].rate_bps = 10000000;
	L[1].owd_diff_us = 25000;
	ctx = (struct ttt_sched_ctx){
	    .size = sizeof(ctx), .now_ns = 1000 * MS, .links = L, .n_links = 2};
}

static struct sched_inst *load(const struct cfg_opt *o, uint32_t n, int *ret,
			       struct err *e)
{
	struct sched_inst *s = NULL;
	*ret = sched_inst_create(reg, "earliest-arrival", TTT_DIR_UPSTREAM, o,
				 n, &ctx, &s, e);
	return s;
}

static int pick(struct sched_inst *s, uint32_t len)
{
	struct ttt_pkt_info pkt = {.len = len};
	return s->ops->pick(s->priv, &ctx, &pkt);
}

/* What the host does after a send: the link's backlog grows. */
static void sent(int i, uint32_t len)
{
	L[i].backlog_bytes = ttt_link_backlog(&L[i], ctx.now_ns) + len;
	L[i].backlog_ns = ctx.now_ns;
}

static void test_idle_uses_fastest(void **state)
{
	struct err e;
	int ret;
	links_reset();
	struct sched_inst *s = load(NULL, 0, &ret, &e);
	assert_int_equal(ret, 0);
	assert_string_equal(s->name, "earliest-arrival");
	/* Spaced-out packets never queue: all on the fast link. */
	for (int k = 0; k < 100; k++) {
		int i = pick(s, 1400);
		assert_int_equal(i, 0);
		sent(i, 1400);
		ctx.now_ns += 10 * MS;
	}
	sched_inst_destroy(s);
}

static void test_queue_moves_to_slow_link(void **state)
{
	struct err e;
	int ret;
	links_reset();
	struct sched_inst *s = load(NULL, 0, &ret, &e);
	/* 25 ms of delay difference at 30 Mbit/s is ~93 750 bytes: with
	 * less queued the fast link still wins, with more the slow one. */
	L[0].backlog_bytes = 80000;
	L[0].backlog_ns = ctx.now_ns;
	assert_int_equal(pick(s, 1400), 0);
	L[0].backlog_bytes = 110000;
	assert_int_equal(pick(s, 1400), 1);
	sched_inst_destroy(s);
}

static void test_saturated_split_follows_rates(void **state)
{
	struct err e;
	int ret;
	links_reset();
	struct sched_inst *s = load(NULL, 0, &ret, &e);
	int n[2] = {0, 0};
	/* Offer 60 Mbit/s for 2 s: the fast link gets about 3/4. */
	uint64_t gap = 1400ull * 8 * 1000000000ull / 60000000;
	for (int k = 0; k < 10000; k++) {
		int i = pick(s, 1400);
		assert_true(i == 0 || i == 1);
		n[i]++;
		sent(i, 1400);
		ctx.now_ns += gap;
	}
	double share = (double)n[0] / (n[0] + n[1]);
	if (share < 0.70 || share > 0.80)
		fail_msg("fast link share %.3f, expected about 0.75", share);
	sched_inst_destroy(s);
}

static void test_up_before_degraded_never_down(void **state)
{
	struct err e;
	int ret;
	links_reset();
	struct sched_inst *s = load(NULL, 0, &ret, &e);
	L[0].state = TTT_LINK_DEGRADED;
	assert_int_equal(pick(s, 1400), 1); /* slow but UP beats DEGRADED */
	L[1].state = TTT_LINK_DOWN;
	assert_int_equal(pick(s, 1400), 0); /* degraded beats nothing */
	L[0].state = TTT_LINK_STANDBY;
	assert_int_equal(pick(s, 1400), TTT_PICK_DROP);
	sched_inst_destroy(s);
}

static void test_no_rate_uses_delay_only(void **state)
{
	struct err e;
	int ret;
	links_reset();
	L[0].rate_bps = L[1].rate_bps = 0;
	L[0].owd_diff_us = 3000;
	L[1].owd_diff_us = 0;
	struct sched_inst *s = load(NULL, 0, &ret, &e);
	assert_int_equal(pick(s, 1400), 1);
	sched_inst_destroy(s);
}

/* While the fast link is in STARTUP, its backlog at the STARTUP pacing
 * rate does not push a transfer onto a slower link that carries nothing
 * yet (a TCP in slow start would see its RTT jump by the difference); a
 * slower link already in use stays in use, and a slower link within
 * HyStart's threshold (4 ms here) is used as before. */
static void test_startup_keeps_slow_link_unstarted(void **state)
{
	struct err e;
	int ret;
	links_reset();
	struct sched_inst *s = load(NULL, 0, &ret, &e);
	L[0].rate_bps = L[1].rate_bps = 0;
	L[0].pacing_bps = L[1].pacing_bps = 4000000;
	L[0].base_rtt_us = 30000;
	L[0].model_flags = L[1].model_flags = TTT_LINK_F_STARTUP;
	/* 30 KB at 4 Mbit/s is 60 ms: more than the 25 ms difference */
	L[0].backlog_bytes = 30000;
	L[0].backlog_ns = ctx.now_ns;
	assert_int_equal(pick(s, 1400), 0);
	/* already in use: the backlog rule decides as before */
	L[1].inflight_bytes = 1400;
	assert_int_equal(pick(s, 1400), 1);
	L[1].inflight_bytes = 0;
	/* the fast link's STARTUP is over: its backlog is real */
	L[0].model_flags = 0;
	assert_int_equal(pick(s, 1400), 1);
	/* within the threshold the slower link is used as before */
	L[0].model_flags = TTT_LINK_F_STARTUP;
	L[1].owd_diff_us = 3000;
	assert_int_equal(pick(s, 1400), 1);
	sched_inst_destroy(s);
}

static void test_options_refused(void **state)
{
	struct err e = {{0}};
	struct cfg_opt o;
	int ret;
	links_reset();
	memset(&o, 0, sizeof(o));
	snprintf(o.key, sizeof(o.key), "speed");
	snprintf(o.str, sizeof(o.str), "fast");
	struct sched_inst *s = load(&o, 1, &ret, &e);
	assert_int_equal(ret, -EINVAL);
	assert_null(s);
	assert_non_null(strstr(e.msg, "takes no options"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_idle_uses_fastest),
	    cmocka_unit_test(test_queue_moves_to_slow_link),
	    cmocka_unit_test(test_saturated_split_follows_rates),
	    cmocka_unit_test(test_up_before_degraded_never_down),
	    cmocka_unit_test(test_no_rate_uses_delay_only),
	    cmocka_unit_test(test_startup_keeps_slow_link_unstarted),
	    cmocka_unit_test(test_options_refused),
	};
	return cmocka_run_group_tests(tests, shipped_setup, shipped_teardown);
}
