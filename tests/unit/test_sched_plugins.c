/*
 * The four shipped schedulers, loaded from TTT_PLUGIN_DIR through the host
 * exactly as the daemon loads them, but called through their own pick so the
 * host's fallback cannot hide a wrong answer. Links are fixed arrays of
 * views; backlog is simulated by setting backlog_bytes/backlog_ns.
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

#define MS 1000000ull /* ns */

static struct ttt_link_view L[TTT_SCHED_MAX_LINKS];
static struct ttt_sched_ctx ctx;
static const char *const names[] = {"dsl", "lte", "wifi", "sat", "e4",
				    "e5",  "e6",  "e7",	  "e8",	 "e9"};

static void links_reset(uint32_t n)
{
	memset(L, 0, sizeof(L));
	for (uint32_t i = 0; i < n; i++) {
		L[i].id = i;
		L[i].name = names[i % 10];
		L[i].state = TTT_LINK_UP;
	}
	ctx = (struct ttt_sched_ctx){
	    .size = sizeof(ctx), .now_ns = 1000 * MS, .links = L, .n_links = n};
}

static void opt(struct cfg_opt *o, const char *key, const char *str,
		uint32_t type, double v)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->key, sizeof(o->key), "%s", key);
	snprintf(o->str, sizeof(o->str), "%s", str);
	o->type = type;
	o->i = (int64_t)v;
	o->d = v;
}

static struct sched_inst *load(const char *name, const struct cfg_opt *o,
			       uint32_t n)
{
	struct sched_inst *s = NULL;
	struct err e = {{0}};
	int ret =
	    sched_inst_create(reg, name, TTT_DIR_UPSTREAM, o, n, &ctx, &s, &e);
	if (ret != 0)
		fail_msg("%s: %d %s", name, ret, e.msg);
	assert_string_equal(s->name, name); /* the .so, not the built-in */
	return s;
}

/* Loading with these options fails with -EINVAL and a message with `msg`. */
static void refused(const char *name, const struct cfg_opt *o, uint32_t n,
		    const char *msg)
{
	struct sched_inst *s = NULL;
	struct err e = {{0}};
	assert_int_equal(
	    sched_inst_create(reg, name, TTT_DIR_UPSTREAM, o, n, &ctx, &s, &e),
	    -EINVAL);
	if (!strstr(e.msg, msg))
		fail_msg("%s: message \"%s\" lacks \"%s\"", name, e.msg, msg);
	assert_null(s);
}

/* The plugin's own answer, not the host's corrected one. */
static int raw_pick(struct sched_inst *s, uint32_t len)
{
	struct ttt_pkt_info pkt = {.len = len};
	return s->ops->pick(s->priv, &ctx, &pkt);
}

static void changed(struct sched_inst *s)
{
	sched_links_changed(s, &ctx);
}

/* The plugin's dump, parsed (the caller decrefs the returned dump). */
static json_t *state_of(struct sched_inst *s, json_t **dump)
{
	*dump = sched_inst_dump(s);
	json_t *st = json_object_get(*dump, "state");
	assert_true(json_is_object(st));
	return st;
}

/* ---- roundrobin ---- */

static void test_rr_cycles_up_links(void **state)
{
	links_reset(4);
	L[1].state = TTT_LINK_DEGRADED;
	L[3].state = TTT_LINK_STANDBY;
	struct sched_inst *s = load("roundrobin", NULL, 0);
	for (int k = 0; k < 8; k++)
		assert_int_equal(raw_pick(s, 100), k % 2 ? 2 : 0);
	L[0].state = L[2].state = TTT_LINK_DOWN;
	assert_int_equal(raw_pick(s, 100), 1);
	L[1].state = TTT_LINK_DOWN;
	assert_int_equal(raw_pick(s, 100), TTT_PICK_DROP);
	json_t *d;
	assert_int_equal(
	    json_integer_value(json_object_get(state_of(s, &d), "picks")), 9);
	json_decref(d);
	sched_inst_destroy(s);
	struct cfg_opt o;
	opt(&o, "speed", "fast", TTT_OPT_STRING, 0);
	refused("roundrobin", &o, 1, "unknown option \"speed\"");
}

/* ---- weighted ---- */

static void test_weighted_3_to_1(void **state)
{
	links_reset(2);
	struct cfg_opt o[2];
	opt(&o[0], "weights.dsl", "3", TTT_OPT_INT, 3);
	opt(&o[1], "weights.lte", "1", TTT_OPT_INT, 1);
	struct sched_inst *s = load("weighted", o, 2);
	int n[2] = {0}, run = 0, max_run = 0, prev = -1;
	for (int k = 0; k < 10000; k++) {
		int i = raw_pick(s, 1000);
		assert_true(i == 0 || i == 1);
		n[i]++;
		run = i == 0 ? run + 1 : 0;
		max_run = run > max_run ? run : max_run;
		assert_false(i == 1 && prev == 1); /* light link never twice */
		prev = i;
	}
	assert_in_range(n[0], 7425, 7575); /* 75% within 1% */
	assert_in_range(n[1], 2425, 2575);
	assert_true(max_run <= 3);
	json_t *d;
	json_t *st = state_of(s, &d);
	assert_string_equal(json_string_value(json_object_get(st, "mode")),
			    "explicit");
	json_decref(d);
	sched_inst_destroy(s);
}

static int share_of_first(struct sched_inst *s, int picks)
{
	int n0 = 0;
	for (int k = 0; k < picks; k++) {
		int i = raw_pick(s, 1000);
		assert_true(i >= 0 && (uint32_t)i < ctx.n_links);
		assert_true(ttt_link_usable(&L[i]));
		n0 += i == 0;
	}
	return n0;
}

static void test_weighted_sources(void **state)
{
	/* the YAML weight: 2:1 */
	links_reset(2);
	L[0].weight = 2;
	L[1].weight = 1;
	struct sched_inst *s = load("weighted", NULL, 0);
	assert_int_equal(share_of_first(s, 3000), 2000);
	/* the option beats the view: 1:1 */
	sched_inst_destroy(s);
	struct cfg_opt o;
	opt(&o, "weights.dsl", "1", TTT_OPT_INT, 1);
	s = load("weighted", &o, 1);
	assert_int_equal(share_of_first(s, 3000), 1500);
	sched_inst_destroy(s);

	/* no weights: from the rates, 30 vs 10 mbit */
	links_reset(2);
	L[0].rate_bps = 30000000;
	L[1].rate_bps = 10000000;
	s = load("weighted", NULL, 0);
	assert_int_equal(share_of_first(s, 4000), 3000);
	/* a rate goes unknown: equal */
	L[1].rate_bps = 0;
	changed(s);
	assert_int_equal(share_of_first(s, 4000), 2000);
	/* a DEGRADED link is left out while one is UP */
	L[1].rate_bps = 10000000;
	L[1].state = TTT_LINK_DEGRADED;
	changed(s);
	assert_int_equal(share_of_first(s, 1000), 1000);
	/* only DEGRADED links: weight scaled by (1 - loss), 30*0.5 : 10 */
	L[0].state = TTT_LINK_DEGRADED;
	L[0].loss_ppm = 500000;
	changed(s);
	assert_int_equal(share_of_first(s, 2500), 1500);
	/* down and standby links get nothing */
	L[0].state = TTT_LINK_DOWN;
	L[1].state = TTT_LINK_UP;
	changed(s);
	assert_int_equal(share_of_first(s, 100), 0);
	sched_inst_destroy(s);
}

static void test_weighted_bad_options(void **state)
{
	links_reset(2);
	struct cfg_opt o;
	opt(&o, "weight.dsl", "3", TTT_OPT_INT, 3);
	refused("weighted", &o, 1, "unknown option \"weight.dsl\"");
	opt(&o, "weights.dsl", "0", TTT_OPT_INT, 0);
	refused("weighted", &o, 1,
		"option \"weights.dsl\": expected an integer");
	opt(&o, "weights.dsl", "-3", TTT_OPT_INT, -3);
	refused("weighted", &o, 1, "expected an integer 1..1000000");
	opt(&o, "weights.dsl", "heavy", TTT_OPT_STRING, 0);
	refused("weighted", &o, 1, "got \"heavy\"");
	opt(&o, "weights.dsl", "2.5", TTT_OPT_FLOAT, 2.5);
	refused("weighted", &o, 1, "got \"2.5\"");
	opt(&o, "weights.", "3", TTT_OPT_INT, 3);
	refused("weighted", &o, 1, "expected weights.<link name>");
	struct cfg_opt two[2];
	opt(&two[0], "weights.dsl", "3", TTT_OPT_INT, 3);
	opt(&two[1], "weights.dsl", "4", TTT_OPT_INT, 4);
	refused("weighted", two, 2, "given twice");
}

/* ---- metered-overflow ---- */

/* dsl: free, 10 mbit (50 ms = 62500 bytes); lte: metered, 20 mbit. */
static void mo_links(void)
{
	links_reset(2);
	L[0].rate_bps = 10000000;
	L[1].rate_bps = 20000000;
	L[1].metered = 1;
	L[0].backlog_ns = L[1].backlog_ns = ctx.now_ns;
}

static void test_mo_threshold(void **state)
{
	mo_links();
	struct sched_inst *s = load("metered-overflow", NULL, 0);
	for (int k = 0; k < 100; k++)
		assert_int_equal(raw_pick(s, 1000), 0);
	L[0].backlog_bytes = 61500; /* + 1000 = 62500: still fits */
	assert_int_equal(raw_pick(s, 1000), 0);
	L[0].backlog_bytes = 61501;
	assert_int_equal(raw_pick(s, 1000), 1);
	/* 1 ms later 1250 bytes drained: room again */
	ctx.now_ns += 1 * MS;
	assert_int_equal(raw_pick(s, 1000), 0);
	/* the free link down: metered */
	L[0].state = TTT_LINK_DOWN;
	assert_int_equal(raw_pick(s, 1000), 1);
	sched_inst_destroy(s);

	/* max_queue 10 ms: 12500 bytes */
	mo_links();
	struct cfg_opt o;
	opt(&o, "max_queue", "10", TTT_OPT_INT, 10);
	s = load("metered-overflow", &o, 1);
	L[0].backlog_bytes = 12000;
	assert_int_equal(raw_pick(s, 1000), 1);
	L[0].backlog_bytes = 11000;
	assert_int_equal(raw_pick(s, 1000), 0);
	sched_inst_destroy(s);
}

/* Offer 15 mbit/s for 2 s to 10 mbit free + 20 mbit metered: the free link
 * carries its rate (plus its 50 ms queue), the metered one only the rest. */
static void test_mo_overflow_simulated(void **state)
{
	mo_links();
	struct sched_inst *s = load("metered-overflow", NULL, 0);
	uint64_t sent[2] = {0}, start = ctx.now_ns;
	const uint32_t len = 1250;				/* 10000 bits */
	const uint64_t step = 10000ull * 1000000000 / 15000000; /* ns */
	for (int k = 0; k < 3000; k++) {
		int i = raw_pick(s, len);
		assert_true(i == 0 || i == 1);
		L[i].backlog_bytes = ttt_link_backlog(&L[i], ctx.now_ns) + len;
		L[i].backlog_ns = ctx.now_ns;
		sent[i] += len;
		ctx.now_ns += step;
	}
	double secs = (double)(ctx.now_ns - start) / 1e9;
	double free_bps = (double)sent[0] * 8 / secs;
	double metered_bps = (double)sent[1] * 8 / secs;
	/* 10 mbit + the 62500-byte queue spread over 2 s = 10.25 mbit */
	assert_true(free_bps > 10.0e6 && free_bps < 10.5e6);
	assert_true(metered_bps > 4.5e6 && metered_bps < 5.0e6);
	json_t *d;
	json_t *st = state_of(s, &d);
	assert_int_equal(
	    json_integer_value(json_object_get(st, "picks_unmetered")) +
		json_integer_value(json_object_get(st, "picks_metered")),
	    3000);
	assert_true(json_integer_value(json_object_get(st, "picks_metered")) >
		    0);
	json_decref(d);
	sched_inst_destroy(s);
}

static void test_mo_quota(void **state)
{
	mo_links();
	links_reset(3);
	L[0].rate_bps = 10000000;
	L[1].rate_bps = L[2].rate_bps = 20000000;
	L[1].metered = L[2].metered = 1;
	L[1].quota_bytes = 1000000;
	L[1].quota_used_bytes = 1000000; /* lte: used up */
	L[2].quota_bytes = 1000000;
	L[2].quota_used_bytes = 10; /* wifi (metered): quota left */
	for (int k = 0; k < 3; k++)
		L[k].backlog_ns = ctx.now_ns;
	struct sched_inst *s = load("metered-overflow", NULL, 0);
	L[0].backlog_bytes = 100000; /* free link full */
	for (int k = 0; k < 50; k++)
		assert_int_equal(raw_pick(s, 1000), 2);
	/* the one with quota is full too: back to the free one, not lte */
	L[2].backlog_bytes = 200000;
	for (int k = 0; k < 50; k++)
		assert_int_equal(raw_pick(s, 1000), 0);
	/* free link down: the metered one with quota, full or not */
	L[0].state = TTT_LINK_DOWN;
	assert_int_equal(raw_pick(s, 1000), 2);
	/* only the exhausted one is left: it is used rather than dropping */
	L[2].state = TTT_LINK_STANDBY;
	assert_int_equal(raw_pick(s, 1000), 1);
	L[1].state = TTT_LINK_DOWN;
	assert_int_equal(raw_pick(s, 1000), TTT_PICK_DROP);
	json_t *d;
	json_t *st = state_of(s, &d);
	assert_int_equal(
	    json_integer_value(json_object_get(st, "picks_over_quota")), 1);
	json_decref(d);
	sched_inst_destroy(s);
}

static void test_mo_spreads_free_links(void **state)
{
	/* two idle free links of unknown rate share round robin; a DEGRADED
	 * free link is used only when no UP free link has room */
	links_reset(3);
	L[2].metered = 1;
	struct sched_inst *s = load("metered-overflow", NULL, 0);
	int n[3] = {0};
	for (int k = 0; k < 100; k++)
		n[raw_pick(s, 100)]++;
	assert_int_equal(n[0], 50);
	assert_int_equal(n[1], 50);
	L[1].state = TTT_LINK_DEGRADED;
	for (int k = 0; k < 10; k++)
		assert_int_equal(raw_pick(s, 100), 0);
	L[0].state = TTT_LINK_DOWN;
	assert_int_equal(raw_pick(s, 100), 1); /* degraded free < metered */
	sched_inst_destroy(s);
}

static void test_mo_bad_options(void **state)
{
	links_reset(2);
	struct cfg_opt o;
	opt(&o, "max_queue", "soon", TTT_OPT_STRING, 0);
	refused("metered-overflow", &o, 1, "max_queue: expected milliseconds");
	opt(&o, "max_queue", "0", TTT_OPT_INT, 0);
	refused("metered-overflow", &o, 1, "got \"0\"");
	opt(&o, "max_queue", "20000", TTT_OPT_INT, 20000);
	refused("metered-overflow", &o, 1, "got \"20000\"");
	opt(&o, "quota", "1", TTT_OPT_INT, 1);
	refused("metered-overflow", &o, 1, "unknown option \"quota\"");
	opt(&o, "max_queue", "12.5", TTT_OPT_FLOAT, 12.5);
	struct sched_inst *s = load("metered-overflow", &o, 1);
	json_t *d;
	assert_true(json_real_value(json_object_get(state_of(s, &d),
						    "max_queue_ms")) == 12.5);
	json_decref(d);
	sched_inst_destroy(s);
}

/* ---- lowest-rtt ---- */

static void rtt_links(void)
{
	links_reset(3);
	L[0].srtt_us = 30000;
	L[1].srtt_us = 20000;
	L[2].srtt_us = 40000;
	for (int k = 0; k < 3; k++) {
		L[k].rate_bps = 10000000; /* 30 ms = 37500 bytes */
		L[k].backlog_ns = ctx.now_ns;
	}
}

static void test_lrtt_follows_lowest(void **state)
{
	rtt_links();
	struct sched_inst *s = load("lowest-rtt", NULL, 0);
	for (int k = 0; k < 10; k++)
		assert_int_equal(raw_pick(s, 1000), 1);
	L[0].srtt_us = 10000;
	changed(s);
	assert_int_equal(raw_pick(s, 1000), 0);
	/* saturated: the next best that has room */
	L[0].backlog_bytes = 37000;
	assert_int_equal(raw_pick(s, 1000), 1);
	L[1].backlog_bytes = 40000;
	assert_int_equal(raw_pick(s, 1000), 2);
	/* all full: the shortest queue (backlog / rate) */
	L[2].backlog_bytes = 50000;
	assert_int_equal(raw_pick(s, 1000), 0);
	L[0].rate_bps = 1000000; /* 37000 bytes at 1 mbit: 296 ms */
	assert_int_equal(raw_pick(s, 1000), 1);
	json_t *d;
	json_t *st = state_of(s, &d);
	assert_string_equal(json_string_value(json_object_get(st, "preferred")),
			    "dsl");
	assert_int_equal(json_integer_value(json_object_get(st, "switches")),
			 1);
	json_decref(d);
	sched_inst_destroy(s);
}

static void test_lrtt_hysteresis(void **state)
{
	links_reset(2);
	L[0].srtt_us = 20000;
	L[1].srtt_us = 20500;
	struct sched_inst *s = load("lowest-rtt", NULL, 0);
	assert_int_equal(raw_pick(s, 100), 0);
	for (int k = 0; k < 200; k++) {
		L[0].srtt_us = k % 2 ? 20000 : 20500;
		L[1].srtt_us = k % 2 ? 20500 : 20000;
		changed(s);
		assert_int_equal(raw_pick(s, 100), 0);
	}
	/* 3 ms better is above 2 ms and 10%: switch */
	L[0].srtt_us = 23100;
	L[1].srtt_us = 20000;
	changed(s);
	assert_int_equal(raw_pick(s, 100), 1);
	json_t *d;
	assert_int_equal(
	    json_integer_value(json_object_get(state_of(s, &d), "switches")),
	    1);
	json_decref(d);
	/* at 200 ms, 10% is the larger margin: 15 ms better is not enough */
	L[0].srtt_us = 185000;
	L[1].srtt_us = 200000;
	changed(s);
	assert_int_equal(raw_pick(s, 100), 1);
	L[0].srtt_us = 179000;
	changed(s);
	assert_int_equal(raw_pick(s, 100), 0);
	sched_inst_destroy(s);

	/* hysteresis 0 and hysteresis_min 0 follow every change */
	struct cfg_opt o[2];
	opt(&o[0], "hysteresis", "0", TTT_OPT_INT, 0);
	opt(&o[1], "hysteresis_min", "0", TTT_OPT_INT, 0);
	L[0].srtt_us = 20000;
	L[1].srtt_us = 20500;
	s = load("lowest-rtt", o, 2);
	L[0].srtt_us = 20600;
	changed(s);
	assert_int_equal(raw_pick(s, 100), 1);
	sched_inst_destroy(s);
}

static void test_lrtt_ranking(void **state)
{
	links_reset(3);
	L[0].srtt_us = 0; /* no sample yet */
	L[1].srtt_us = 100000;
	L[2].srtt_us = 5000;
	L[2].state = TTT_LINK_DEGRADED;
	struct sched_inst *s = load("lowest-rtt", NULL, 0);
	assert_int_equal(raw_pick(s, 100), 1); /* UP with sample first */
	L[1].state = TTT_LINK_DOWN;
	changed(s);
	assert_int_equal(raw_pick(s, 100), 0); /* UP without sample next */
	L[0].state = TTT_LINK_STANDBY;
	changed(s);
	assert_int_equal(raw_pick(s, 100), 2);
	L[2].state = TTT_LINK_DOWN;
	changed(s);
	assert_int_equal(raw_pick(s, 100), TTT_PICK_DROP);
	json_t *d, *st = state_of(s, &d); /* json_is_* evaluate twice */
	assert_true(json_is_null(json_object_get(st, "preferred")));
	json_decref(d);
	sched_inst_destroy(s);
}

static void test_lrtt_bad_options(void **state)
{
	links_reset(2);
	struct cfg_opt o;
	opt(&o, "hysteresis", "150", TTT_OPT_INT, 150);
	refused("lowest-rtt", &o, 1,
		"option hysteresis: expected a percentage");
	opt(&o, "max_queue", "-1", TTT_OPT_INT, -1);
	refused("lowest-rtt", &o, 1, "got \"-1\"");
	opt(&o, "hysteresis_min", "lots", TTT_OPT_STRING, 0);
	refused("lowest-rtt", &o, 1, "got \"lots\"");
	opt(&o, "hysteris", "10", TTT_OPT_INT, 10);
	refused("lowest-rtt", &o, 1, "unknown option \"hysteris\"");
}

/* ---- all plugins ---- */

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static const char *const shipped[] = {"roundrobin", "weighted",
				      "metered-overflow", "lowest-rtt"};

/* Random link sets and states: the answer is a usable link whenever one
 * exists, TTT_PICK_DROP only when none does. */
static void test_never_unusable(void **state)
{
	for (size_t p = 0; p < 4; p++) {
		links_reset(8);
		struct sched_inst *s = load(shipped[p], NULL, 0);
		for (int it = 0; it < 20000; it++) {
			if (it % 7 == 0) {
				ctx.n_links = 1 + (uint32_t)(rnd() % 8);
				for (uint32_t i = 0; i < ctx.n_links; i++) {
					struct ttt_link_view *l = &L[i];
					l->state = (uint8_t)(rnd() % 4);
					l->metered = rnd() % 2;
					l->rate_bps =
					    rnd() % 3 ? rnd() % 100000000 : 0;
					l->srtt_us =
					    rnd() % 4 ? rnd() % 300000 : 0;
					l->loss_ppm =
					    (uint32_t)(rnd() % 1100000);
					l->weight = (uint32_t)(rnd() % 4);
					l->quota_bytes = rnd() % 2 ? 1000 : 0;
					l->quota_used_bytes = rnd() % 2000;
					l->backlog_bytes = rnd() % 200000;
					l->backlog_ns = ctx.now_ns;
				}
				/* mostly announced, as the host does; some
				 * not, which the plugins must survive */
				if (it % 3)
					changed(s);
			}
			ctx.now_ns += rnd() % (2 * MS);
			int any = 0;
			for (uint32_t i = 0; i < ctx.n_links; i++)
				any |= ttt_link_usable(&L[i]);
			int i = raw_pick(s, (uint32_t)(rnd() % 1500));
			if (!any) {
				assert_int_equal(i, TTT_PICK_DROP);
				continue;
			}
			if (i < 0 || (uint32_t)i >= ctx.n_links ||
			    !ttt_link_usable(&L[i]))
				fail_msg("%s: iteration %d: answered %d",
					 shipped[p], it, i);
		}
		sched_inst_destroy(s);
	}
}

static void test_dumps_are_json(void **state)
{
	links_reset(TTT_SCHED_MAX_LINKS);
	for (size_t p = 0; p < 4; p++) {
		struct sched_inst *s = load(shipped[p], NULL, 0);
		raw_pick(s, 100);
		json_t *d = sched_inst_dump(s);
		assert_null(json_object_get(d, "dump_error"));
		assert_true(json_is_object(json_object_get(d, "state")));
		assert_string_equal(
		    json_string_value(json_object_get(d, "version")), "1.0");
		json_decref(d);
		sched_inst_destroy(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rr_cycles_up_links),
	    cmocka_unit_test(test_weighted_3_to_1),
	    cmocka_unit_test(test_weighted_sources),
	    cmocka_unit_test(test_weighted_bad_options),
	    cmocka_unit_test(test_mo_threshold),
	    cmocka_unit_test(test_mo_overflow_simulated),
	    cmocka_unit_test(test_mo_quota),
	    cmocka_unit_test(test_mo_spreads_free_links),
	    cmocka_unit_test(test_mo_bad_options),
	    cmocka_unit_test(test_lrtt_follows_lowest),
	    cmocka_unit_test(test_lrtt_hysteresis),
	    cmocka_unit_test(test_lrtt_ranking),
	    cmocka_unit_test(test_lrtt_bad_options),
	    cmocka_unit_test(test_never_unusable),
	    cmocka_unit_test(test_dumps_are_json),
	};
	return cmocka_run_group_tests(tests, shipped_setup, shipped_teardown);
}
