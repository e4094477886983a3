/*
 * Unit tests of ttt-linkemu's parsers and impairment model. The model takes
 * `now` as an argument, so delays, serialization and drops are checked
 * exactly here; tests/emu/test-linkemu.sh checks the same with real traffic.
 * Built and run by test-linkemu.sh (this directory is outside the Makefile's
 * tests/emu/ *.c wildcard so it stays out of the emulator binary).
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "emu.h"

#define MS NS_PER_MS

static void test_duration(void **st)
{
	static const struct {
		const char *s;
		uint64_t ns;
	} good[] = {
	    {"20ms", 20 * MS},
	    {"1.5s", 1500 * MS},
	    {"500us", 500000},
	    {"7ns", 7},
	    {"0", 0},
	    {".5ms", 500000},
	    {"3600s", 3600 * NS_PER_SEC},
	};
	static const char *const bad[] = {
	    "",
	    "20",
	    "ms",
	    "20 ms",
	    " 20ms",
	    "-5ms",
	    "0x10ms",
	    "1e3ms",
	    "nan",
	    "20msx",
	    "3601s",
	    "1..5ms",
	    "20MS",
	    "5m",
	    "20ms ",
	    ".ms",
	    "1234567890123456ms",
	};
	struct err e;
	uint64_t ns;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(parse_duration_ns(good[i].s, &ns, &e), 0);
		assert_int_equal(ns, good[i].ns);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ns = 12345;
		e.msg[0] = '\0';
		assert_true(parse_duration_ns(bad[i], &ns, &e) < 0);
		assert_int_equal(ns, 12345); /* untouched on error */
		assert_non_null(strstr(e.msg, bad[i]));
	}
	assert_true(parse_duration_ns(NULL, &ns, NULL) < 0);
}

static void test_rate(void **st)
{
	struct err e;
	uint64_t bps;

	assert_int_equal(parse_rate_bps("20mbit", &bps, &e), 0);
	assert_int_equal(bps, 20000000);
	assert_int_equal(parse_rate_bps("1.5gbit", &bps, &e), 0);
	assert_int_equal(bps, 1500000000);
	assert_int_equal(parse_rate_bps("64kbit", &bps, &e), 0);
	assert_int_equal(bps, 64000);
	assert_int_equal(parse_rate_bps("off", &bps, &e), 0);
	assert_int_equal(bps, 0);
	assert_int_equal(parse_rate_bps("0", &bps, &e), 0);
	assert_int_equal(bps, 0);
	static const char *const bad[] = {"20mbps",  "20",     "500bit",
					  "101gbit", "-1mbit", "mbit",
					  "20 mbit", "20Mbit", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bps = 7;
		assert_true(parse_rate_bps(bad[i], &bps, &e) < 0);
		assert_int_equal(bps, 7);
		assert_non_null(strstr(e.msg, "rate"));
	}
}

static void test_percent_size_uint_switch(void **st)
{
	struct err e;
	double f;
	uint64_t v;
	bool on;

	assert_int_equal(parse_percent("2%", &f, &e), 0);
	assert_true(f > 0.0199 && f < 0.0201);
	assert_int_equal(parse_percent("100%", &f, &e), 0);
	assert_true(f == 1.0);
	assert_int_equal(parse_percent("0", &f, &e), 0);
	assert_true(f == 0);
	static const char *const badp[] = {"2",	  "101%", "%",	  "-1%",
					   "2 %", "2%%",  "0x1%", ""};
	for (size_t i = 0; i < sizeof(badp) / sizeof(badp[0]); i++)
		assert_true(parse_percent(badp[i], &f, &e) < 0);

	assert_int_equal(parse_size_bytes("64kb", &v, &e), 0);
	assert_int_equal(v, 64000);
	assert_int_equal(parse_size_bytes("1kib", &v, &e), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(parse_size_bytes("2mib", &v, &e), 0);
	assert_int_equal(v, 2 * 1048576);
	static const char *const bads[] = {"64", "64kbit", "2gib", "kb", "-1b"};
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
		assert_true(parse_size_bytes(bads[i], &v, &e) < 0);

	assert_int_equal(parse_uint("123", 0, 1000, &v, &e), 0);
	assert_int_equal(v, 123);
	assert_int_equal(
	    parse_uint("18446744073709551615", 0, UINT64_MAX, &v, &e), 0);
	assert_true(v == UINT64_MAX);
	static const char *const badu[] = {"",	 "12a", "-1",
					   "+1", " 1",	"18446744073709551616"};
	for (size_t i = 0; i < sizeof(badu) / sizeof(badu[0]); i++)
		assert_true(parse_uint(badu[i], 0, UINT64_MAX, &v, &e) < 0);
	assert_int_equal(parse_uint("1001", 0, 1000, &v, &e), -ERANGE);
	assert_int_equal(parse_uint("0", 1, 1000, &v, &e), -ERANGE);

	assert_int_equal(parse_on_off("on", &on, &e), 0);
	assert_true(on);
	assert_int_equal(parse_on_off("off", &on, &e), 0);
	assert_false(on);
	assert_true(parse_on_off("maybe", &on, &e) < 0);
	assert_true(parse_on_off(NULL, &on, &e) < 0);
}

static void test_addr(void **st)
{
	struct emu_addr a;
	struct err e;
	char buf[80];

	assert_int_equal(parse_addr_port("127.0.0.1:5000", &a, &e), 0);
	assert_int_equal(a.ss.ss_family, AF_INET);
	assert_string_equal(addr_str(&a, buf, sizeof(buf)), "127.0.0.1:5000");
	assert_int_equal(parse_addr_port("[::1]:65535", &a, &e), 0);
	assert_int_equal(a.ss.ss_family, AF_INET6);
	assert_string_equal(addr_str(&a, buf, sizeof(buf)), "[::1]:65535");
	static const char *const bad[] = {
	    "127.0.0.1",
	    "127.0.0.1:",
	    ":5000",
	    "127.0.0.1:0",
	    "127.0.0.1:65536",
	    "::1:5000",
	    "[::1]5000",
	    "[127.0.0.1]:5",
	    "[::1]:",
	    "localhost:80",
	    "1.2.3:4",
	    "[::1:80",
	    "",
	    "127.0.0.1:80x",
	    "127.0.0.1:-80",
	    "[]:80",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(parse_addr_port(bad[i], &a, &e) < 0);
		assert_non_null(strstr(e.msg, bad[i]));
	}
	assert_int_equal(parse_addr("127.0.0.2", &a, &e), 0);
	assert_int_equal(a.ss.ss_family, AF_INET);
	assert_int_equal(parse_addr("[::1]", &a, &e), 0);
	assert_int_equal(a.ss.ss_family, AF_INET6);
	assert_int_equal(parse_addr("::1", &a, &e), 0);
	static const char *const bada[] = {"127.0.0.1:5", "", "[127.0.0.1]",
					   "abc", "[::1"};
	for (size_t i = 0; i < sizeof(bada) / sizeof(bada[0]); i++)
		assert_true(parse_addr(bada[i], &a, &e) < 0);

	struct emu_addr b;
	assert_int_equal(parse_addr_port("127.0.0.1:5000", &a, &e), 0);
	assert_int_equal(parse_addr_port("127.0.0.1:5000", &b, &e), 0);
	((struct sockaddr_in *)&b.ss)->sin_zero[3] = 9; /* padding ignored */
	assert_true(addr_equal(&a.ss, a.len, &b.ss, b.len));
	assert_int_equal(parse_addr_port("127.0.0.1:5001", &b, &e), 0);
	assert_false(addr_equal(&a.ss, a.len, &b.ss, b.len));
}

static void test_settings(void **st)
{
	struct imp_params p = {0};
	struct err e;

	assert_int_equal(ctl_apply_setting(&p, "delay", "40ms", &e), 0);
	assert_int_equal(p.delay_ns, 40 * MS);
	assert_int_equal(ctl_apply_setting(&p, "queue", "64kb", &e), 0);
	assert_int_equal(p.queue_bytes, 64000);
	assert_int_equal(ctl_apply_setting(&p, "queue", "50ms", &e), 0);
	assert_int_equal(p.queue_ns, 50 * MS);
	assert_int_equal(p.queue_bytes, 0); /* time limit replaces bytes */
	assert_true(ctl_apply_setting(&p, "queue", "0", &e) < 0);
	assert_true(ctl_apply_setting(&p, "queue", "fast", &e) < 0);
	assert_int_equal(ctl_apply_setting(&p, "down", NULL, &e), 0);
	assert_true(p.down);
	assert_int_equal(ctl_apply_setting(&p, "up", NULL, &e), 0);
	assert_false(p.down);
	assert_int_equal(ctl_apply_setting(&p, "jitter-dist", "normal", &e), 0);
	assert_int_equal(p.jitter_dist, IMP_JITTER_NORMAL);
	assert_true(ctl_apply_setting(&p, "jitter-dist", "gauss", &e) < 0);
	assert_int_equal(ctl_apply_setting(&p, "bogus", "1", &e), -ENOENT);
	assert_true(ctl_apply_setting(&p, "delay", NULL, &e) < 0);
	assert_non_null(strstr(e.msg, "needs a value"));
	assert_int_equal(ctl_apply_setting(&p, "overhead", "48", &e), 0);
	assert_int_equal(p.overhead, 48);
	assert_false(p.overhead_auto);
	assert_int_equal(ctl_apply_setting(&p, "overhead", "auto", &e), 0);
	assert_true(p.overhead_auto);
	assert_int_equal(ctl_apply_setting(&p, "overhead", "0", &e), 0);
	assert_int_equal(p.overhead, 0);
	assert_false(p.overhead_auto);
	static const char *const bado[] = {"-1", "1501", "28b", "", "Auto"};
	for (size_t i = 0; i < sizeof(bado) / sizeof(bado[0]); i++) {
		assert_true(ctl_apply_setting(&p, "overhead", bado[i], &e) < 0);
		assert_non_null(strstr(e.msg, bado[i]));
		assert_int_equal(p.overhead, 0); /* untouched on error */
		assert_false(p.overhead_auto);
	}
	assert_int_equal(ctl_apply_setting(&p, "rate", "20mbit", &e), 0);
	assert_int_equal(imp_rate_now(&p, true), 20000000); /* follows */
	assert_int_equal(ctl_apply_setting(&p, "rate-down", "5mbit", &e), 0);
	assert_int_equal(imp_rate_now(&p, false), 20000000);
	assert_int_equal(imp_rate_now(&p, true), 5000000);
	assert_int_equal(ctl_apply_setting(&p, "rate", "30mbit", &e), 0);
	assert_int_equal(imp_rate_now(&p, true), 5000000); /* stays set */
	assert_true(ctl_apply_setting(&p, "rate-down", "5mbps", &e) < 0);
	assert_non_null(strstr(e.msg, "'5mbps'"));
	assert_int_equal(imp_rate_now(&p, true), 5000000);
	assert_int_equal(ctl_apply_setting(&p, "rate-down", "same", &e), 0);
	assert_int_equal(imp_rate_now(&p, true), 30000000);
	assert_true(ctl_setting_takes_value("rate"));
	assert_false(ctl_setting_takes_value("down"));
	assert_false(ctl_setting_takes_value("nope"));
}

static void test_rate_schedule_parse(void **st)
{
	struct imp_sched sc;
	struct err e;

	assert_int_equal(
	    parse_rate_schedule("0s:20mbit,10s:6mbit,20s:20mbit", &sc, &e), 0);
	assert_int_equal(sc.n, 3);
	assert_int_equal(sc.at_ns[0], 0);
	assert_int_equal(sc.bps[0], 20000000);
	assert_int_equal(sc.at_ns[1], 10 * NS_PER_SEC);
	assert_int_equal(sc.bps[1], 6000000);
	assert_int_equal(sc.at_ns[2], 20 * NS_PER_SEC);
	assert_string_equal(sc.text, "0s:20mbit,10s:6mbit,20s:20mbit");
	assert_false(sc.started);
	assert_int_equal(parse_rate_schedule("0:1mbit", &sc, &e), 0);
	assert_int_equal(sc.n, 1);
	assert_int_equal(parse_rate_schedule("500ms:off,1.5s:64kbit", &sc, &e),
			 0);
	assert_int_equal(sc.bps[0], 0); /* unlimited */
	assert_int_equal(sc.at_ns[1], 1500 * MS);
	assert_int_equal(sc.bps[1], 64000);

	static const char *const bad[] = {
	    "",
	    "10s",
	    "10s:",
	    ":5mbit",
	    "10s:6mbit,",
	    ",10s:6mbit",
	    "0s:1mbit,,2s:3mbit",
	    "10s:6mbit,5s:1mbit",
	    "1s:6mbit,1s:1mbit",
	    "10:6mbit",
	    "10s:6mbps",
	    "10s:6mbit:7",
	    "10s;6mbit",
	    "1s6mbit",
	    "-1s:1mbit",
	    "0s:20mbit 10s:6mbit",
	    "off,1s:1mbit",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sc.n = 77;
		e.msg[0] = '\0';
		assert_true(parse_rate_schedule(bad[i], &sc, &e) < 0);
		assert_int_equal(sc.n, 77); /* untouched on error */
		assert_non_null(strstr(e.msg, bad[i]));
		assert_non_null(strstr(e.msg, "schedule"));
	}
	assert_true(parse_rate_schedule(NULL, &sc, &e) < 0);

	/* 64 steps fit, 65 do not; nor does text beyond the line length. */
	char many[1024];
	size_t off = 0;
	for (int i = 0; i < 65; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off,
					"%s%dus:0", i ? "," : "", i + 1);
	assert_true(off < IMP_SCHED_TEXT - 1);
	assert_int_equal(parse_rate_schedule(many, &sc, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "more than 64 steps"));
	*strrchr(many, ',') = '\0';
	assert_int_equal(parse_rate_schedule(many, &sc, &e), 0);
	assert_int_equal(sc.n, 64);
	char longs[600];
	memset(longs, '1', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	assert_int_equal(parse_rate_schedule(longs, &sc, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "too long"));
}

/* The schedule starts when applied (here at 1 s of a fake clock), steps at
 * start + its times, catches up after a late call, and holds its last
 * value. An explicit rate ends it; "off" leaves the rate where it was. */
static void test_rate_schedule_steps(void **st)
{
	struct imp_params p = {0};
	struct err e;
	uint64_t t0 = NS_PER_SEC;

	assert_int_equal(ctl_apply_setting(&p, "rate", "10mbit", &e), 0);
	assert_int_equal(ctl_apply_setting(&p, "rate-schedule",
					   "0s:20mbit,10s:6mbit,20s:20mbit",
					   &e),
			 0);
	assert_int_equal(p.rate_bps, 10000000); /* not applied yet */
	assert_true(imp_rate_advance(&p, t0));
	assert_int_equal(p.rate_bps, 20000000);
	assert_int_equal(imp_rate_now(&p, false), 20000000);
	assert_int_equal(imp_rate_now(&p, true), 20000000);
	assert_int_equal(imp_rate_next(&p), t0 + 10 * NS_PER_SEC);
	assert_false(imp_rate_advance(&p, t0 + 10 * NS_PER_SEC - 1));
	assert_int_equal(p.rate_bps, 20000000);
	assert_true(imp_rate_advance(&p, t0 + 10 * NS_PER_SEC));
	assert_int_equal(p.rate_bps, 6000000);
	assert_int_equal(p.sched.pos, 2);
	assert_int_equal(imp_rate_next(&p), t0 + 20 * NS_PER_SEC);
	assert_true(imp_rate_advance(&p, t0 + 99 * NS_PER_SEC));
	assert_int_equal(p.rate_bps, 20000000);
	assert_true(imp_rate_next(&p) == UINT64_MAX); /* last one holds */
	assert_false(imp_rate_advance(&p, t0 + 999 * NS_PER_SEC));

	/* Before its first step the rate is what it was; a late call applies
	 * every step due, the last one winning. Re-setting restarts it. */
	uint64_t t1 = 2000 * NS_PER_SEC;
	assert_int_equal(ctl_apply_setting(&p, "rate-schedule",
					   "5s:1mbit,6s:2mbit,7s:3mbit", &e),
			 0);
	assert_false(imp_rate_advance(&p, t1));
	assert_int_equal(p.rate_bps, 20000000);
	assert_int_equal(imp_rate_next(&p), t1 + 5 * NS_PER_SEC);
	assert_true(imp_rate_advance(&p, t1 + 6500 * MS));
	assert_int_equal(p.rate_bps, 2000000);
	assert_int_equal(ctl_apply_setting(&p, "rate-schedule", "off", &e), 0);
	assert_false(imp_rate_advance(&p, t1 + 8 * NS_PER_SEC));
	assert_int_equal(p.rate_bps, 2000000);
	assert_true(imp_rate_next(&p) == UINT64_MAX);

	assert_int_equal(
	    ctl_apply_setting(&p, "rate-schedule", "0s:1mbit,1s:9mbit", &e), 0);
	imp_rate_advance(&p, t1 + 10 * NS_PER_SEC);
	assert_int_equal(p.rate_bps, 1000000);
	assert_int_equal(ctl_apply_setting(&p, "rate", "7mbit", &e), 0);
	assert_false(imp_rate_advance(&p, t1 + 20 * NS_PER_SEC));
	assert_int_equal(p.rate_bps, 7000000);

	/* A bad schedule leaves the running one alone. */
	assert_int_equal(
	    ctl_apply_setting(&p, "rate-schedule", "0s:1mbit,1s:9mbit", &e), 0);
	assert_true(ctl_apply_setting(&p, "rate-schedule", "1s:x", &e) < 0);
	assert_int_equal(p.sched.n, 2);
	assert_non_null(strstr(e.msg, "'1s:x'"));
}

/* The walk stays in [1/2, 2] times its base, moves through that whole
 * range, is centred on the base in log terms, and is the same sequence for
 * the same seed. */
static void test_rate_walk_bounds(void **st)
{
	uint64_t a[4], b[4], c[4];
	double fa = 1, fb = 1, fc = 1, lo = 1, hi = 1, logsum = 0;
	int diff = 0;

	imp_seed(a, 11);
	imp_seed(b, 11);
	imp_seed(c, 12);
	for (int i = 0; i < 100000; i++) {
		double prev = fa;
		fa = imp_walk_step(fa, 0.5, a);
		fb = imp_walk_step(fb, 0.5, b);
		fc = imp_walk_step(fc, 0.5, c);
		assert_true(fa >= IMP_WALK_MIN && fa <= IMP_WALK_MAX);
		assert_true(fa == fb);
		diff += fa != fc;
		/* One step is at most x1.5 or /1.5 (less at a bound). */
		assert_true(fa <= prev * 1.5 + 1e-12 &&
			    fa >= prev / 1.5 - 1e-12);
		lo = fa < lo ? fa : lo;
		hi = fa > hi ? fa : hi;
	}
	assert_true(diff > 1000);
	assert_true(lo == IMP_WALK_MIN && hi == IMP_WALK_MAX);

	/* 10% steps: no drift towards either bound (a plain factor in
	 * [0.9, 1.1] would sink towards 1/2). */
	fa = 1;
	imp_seed(a, 5);
	for (int i = 0; i < 200000; i++) {
		fa = imp_walk_step(fa, 0.1, a);
		logsum += log(fa);
	}
	assert_true(fabs(logsum / 200000) < 0.1);
}

/* Through imp_rate_advance with a fake clock: one step per interval from
 * when it was applied, both directions scaled alike, the same factor
 * whether the clock is followed tick by tick or jumps, back to the base
 * when turned off, and an unlimited rate untouched. */
static void test_rate_walk_steps(void **st)
{
	struct imp_params p = {0}, q;
	struct err e;
	uint64_t t0 = 5 * NS_PER_SEC;

	assert_int_equal(ctl_apply_setting(&p, "rate", "10mbit", &e), 0);
	assert_int_equal(ctl_apply_setting(&p, "rate-down", "40mbit", &e), 0);
	assert_int_equal(ctl_apply_setting(&p, "rate-walk", "10%/1s", &e), 0);
	assert_int_equal(p.walk.interval_ns, NS_PER_SEC);
	imp_seed(p.walk.rng, 99);
	q = p;
	assert_true(imp_rate_advance(&p, t0));
	assert_int_equal(imp_rate_now(&p, false), 10000000);
	assert_int_equal(imp_rate_next(&p), t0 + NS_PER_SEC);
	assert_false(imp_rate_advance(&p, t0 + NS_PER_SEC - 1));
	assert_true(imp_rate_advance(&p, t0 + NS_PER_SEC));
	assert_int_equal(p.walk.steps, 1);
	uint64_t r1 = imp_rate_now(&p, false);
	assert_true(r1 != 10000000 && r1 >= 9000000 && r1 <= 11000000);
	for (uint64_t t = 2; t <= 100; t++) {
		imp_rate_advance(&p, t0 + t * NS_PER_SEC);
		uint64_t up = imp_rate_now(&p, false),
			 dn = imp_rate_now(&p, true);
		assert_true(up >= 5000000 && up <= 20000000);
		assert_true(dn >= 20000000 && dn <= 80000000);
		/* one factor for both directions */
		assert_true(llabs((long long)dn - 4 * (long long)up) <= 4);
	}
	assert_int_equal(p.walk.steps, 100);
	imp_rate_advance(&q, t0);
	imp_rate_advance(&q, t0 + 100 * NS_PER_SEC + 5);
	assert_int_equal(q.walk.steps, 100);
	assert_true(q.walk.factor == p.walk.factor);
	assert_int_equal(imp_rate_now(&q, false), imp_rate_now(&p, false));

	assert_int_equal(ctl_apply_setting(&p, "rate-walk", "off", &e), 0);
	assert_true(imp_rate_advance(&p, t0 + 101 * NS_PER_SEC) ||
		    p.walk.factor == 1);
	assert_int_equal(imp_rate_now(&p, false), 10000000);
	assert_int_equal(imp_rate_now(&p, true), 40000000);
	assert_true(imp_rate_next(&p) == UINT64_MAX);

	p = (struct imp_params){0};
	assert_int_equal(ctl_apply_setting(&p, "rate-walk", "50%/10ms", &e), 0);
	for (uint64_t t = 0; t < 100; t++)
		imp_rate_advance(&p, t * 10 * MS);
	assert_int_equal(imp_rate_now(&p, false), 0); /* unlimited */

	static const char *const bad[] = {
	    "10%",   "10%/",	"/1s",	   "10/1s", "0%/1s", "51%/1s",
	    "10%/0", "10%/5ms", "10%/1sx", "",	    "10%1s", "10%/1s/2s",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(ctl_apply_setting(&p, "rate-walk", bad[i], &e) < 0);
		assert_non_null(strstr(e.msg, bad[i]));
		assert_true(p.walk.pct == 0.5); /* untouched */
	}
}

/* Records what the model releases. */
struct sent {
	uint32_t seq[4096];
	uint64_t at[4096];
	unsigned n;
	uint64_t now;
	int fail;
};

static int rec_send(void *ctx, const void *buf, size_t len)
{
	struct sent *s = ctx;
	uint32_t seq;

	if (s->fail)
		return -EIO;
	memcpy(&seq, buf, sizeof(seq));
	s->seq[s->n] = seq;
	s->at[s->n++] = s->now;
	return 0;
}

static void put(struct imp_dir *d, uint32_t seq, size_t len, uint64_t now,
		enum imp_verdict want)
{
	uint8_t pkt[4096] = {0};

	memcpy(pkt, &seq, sizeof(seq));
	assert_int_equal(imp_enqueue(d, pkt, len, now), want);
}

/* Steps time 0.1 ms at a time, releasing what is due. */
static void run_until(struct imp_dir *d, struct sent *s, uint64_t end)
{
	for (; s->now <= end; s->now += 100000)
		imp_release_due(d, s->now, rec_send, s);
}

static void test_delay(void **st)
{
	struct imp_params p = {.delay_ns = 20 * MS};
	struct imp_dir d;
	static struct sent s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(imp_dir_init(&d, &p, 16, 2048, 1, NULL), 0);
	assert_true(imp_next_release(&d) == UINT64_MAX);
	put(&d, 0, 100, 0, IMP_QUEUED);
	assert_int_equal(imp_next_release(&d), 20 * MS);
	assert_int_equal(imp_release_due(&d, 20 * MS - 1, rec_send, &s), 0);
	s.now = 20 * MS;
	assert_int_equal(imp_release_due(&d, 20 * MS, rec_send, &s), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(d.c.fwd_pkts, 1);
	assert_int_equal(d.c.fwd_bytes, 100);
	assert_int_equal(d.nfree, 16); /* slot returned */
	imp_dir_free(&d);
}

static void test_fifo_with_jitter(void **st)
{
	struct imp_params p = {.delay_ns = 10 * MS, .jitter_ns = 8 * MS};
	struct imp_dir d;
	static struct sent s;

	for (int dist = 0; dist < 2; dist++) {
		memset(&s, 0, sizeof(s));
		p.jitter_dist = dist;
		assert_int_equal(imp_dir_init(&d, &p, 4096, 64, 7, NULL), 0);
		for (uint32_t i = 0; i < 2000; i++)
			put(&d, i, 64, i * 100000ull, IMP_QUEUED);
		s.now = 0;
		run_until(&d, &s, 400 * MS);
		assert_int_equal(s.n, 2000);
		for (unsigned i = 0; i < s.n; i++) {
			assert_int_equal(s.seq[i], i);
			/* never earlier than delay - jitter after arrival */
			assert_true(s.at[i] >= i * 100000ull + 2 * MS);
		}
		imp_dir_free(&d);
	}

	/* Same traffic with reorder on must reorder: the check above could
	 * otherwise pass because jitter did nothing. */
	p.reorder = true;
	p.jitter_dist = IMP_JITTER_UNIFORM;
	memset(&s, 0, sizeof(s));
	assert_int_equal(imp_dir_init(&d, &p, 4096, 64, 7, NULL), 0);
	for (uint32_t i = 0; i < 2000; i++)
		put(&d, i, 64, i * 100000ull, IMP_QUEUED);
	run_until(&d, &s, 400 * MS);
	assert_int_equal(s.n, 2000);
	unsigned inversions = 0;
	for (unsigned i = 1; i < s.n; i++)
		inversions += s.seq[i] < s.seq[i - 1];
	assert_true(inversions > 100);
	imp_dir_free(&d);
}

static void test_rate_serialization(void **st)
{
	/* 8 mbit/s = 1 byte per us: a 1000-byte packet takes 1 ms. */
	struct imp_params p = {.rate_bps = 8000000, .queue_bytes = 1000000};
	struct imp_dir d;
	static struct sent s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(imp_dir_init(&d, &p, 64, 2048, 1, NULL), 0);
	for (uint32_t i = 0; i < 10; i++)
		put(&d, i, 1000, 0, IMP_QUEUED);
	for (uint32_t i = 0; i < 10; i++) {
		assert_int_equal(imp_next_release(&d), (i + 1) * MS);
		assert_int_equal(
		    imp_release_due(&d, (i + 1) * MS, rec_send, &s), 1);
	}
	/* An idle wire does not bank credit: a packet arriving later still
	 * takes its full serialization time. */
	put(&d, 10, 1000, 100 * MS, IMP_QUEUED);
	assert_int_equal(imp_next_release(&d), 101 * MS);
	imp_dir_free(&d);
}

/* The headers count: at 8 mbit/s (1 byte/us) a 1000-byte datagram with 28
 * bytes of overhead takes 1028 us, with 48 bytes 1048 us. */
static void test_overhead_serialization(void **st)
{
	struct imp_params p = {.rate_bps = 8000000, .queue_bytes = 1000000};
	static const uint32_t ov[] = {0, 28, 48, 1500};
	struct imp_dir d;
	static struct sent s;

	for (size_t k = 0; k < sizeof(ov) / sizeof(ov[0]); k++) {
		uint64_t per = (1000 + ov[k]) * 1000ull; /* ns */
		memset(&s, 0, sizeof(s));
		p.overhead = ov[k];
		assert_int_equal(imp_serialize_ns(&p, 1000), per);
		assert_int_equal(imp_dir_init(&d, &p, 64, 2048, 1, NULL), 0);
		for (uint32_t i = 0; i < 10; i++)
			put(&d, i, 1000, 0, IMP_QUEUED);
		for (uint32_t i = 0; i < 10; i++) {
			assert_int_equal(imp_next_release(&d), (i + 1) * per);
			s.now = (i + 1) * per;
			assert_int_equal(
			    imp_release_due(&d, (i + 1) * per, rec_send, &s),
			    1);
		}
		/* Payload bytes and wire bytes are counted apart. */
		assert_int_equal(d.c.fwd_bytes, 10000);
		assert_int_equal(d.c.fwd_wire_bytes, 10 * (1000 + ov[k]));
		assert_int_equal(d.c.in_bytes, 10000);
		imp_dir_free(&d);
	}

	/* The overhead is fixed at admission: changing it later neither
	 * re-times queued packets nor changes what they are counted as. */
	memset(&s, 0, sizeof(s));
	p.overhead = 28;
	assert_int_equal(imp_dir_init(&d, &p, 64, 2048, 1, NULL), 0);
	put(&d, 0, 1000, 0, IMP_QUEUED);
	p.overhead = 0;
	put(&d, 1, 1000, 0, IMP_QUEUED);
	assert_int_equal(imp_next_release(&d), 1028000);
	s.now = 3 * MS;
	assert_int_equal(imp_release_due(&d, s.now, rec_send, &s), 2);
	assert_int_equal(s.at[1], 3 * MS);
	assert_int_equal(d.c.fwd_wire_bytes, 2028);
	imp_dir_free(&d);

	/* Without a rate limit the overhead costs nothing. */
	p = (struct imp_params){.overhead = 48, .delay_ns = MS};
	assert_int_equal(imp_serialize_ns(&p, 1000), 0);
	assert_int_equal(imp_dir_init(&d, &p, 4, 2048, 1, NULL), 0);
	put(&d, 0, 1000, 0, IMP_QUEUED);
	assert_int_equal(imp_next_release(&d), MS);
	imp_dir_free(&d);
}

/* A queue limit holds wire bytes: a 4800-byte (or 4.8 ms at 1 byte/us)
 * queue takes four 1000-byte datagrams bare, but only three with 250 bytes
 * of overhead each (3 x 1250 + 1250 > 4800 >= 3 x 1250 + 1000, so counting
 * the newcomer without its headers would wrongly admit a fourth). */
static void test_queue_counts_overhead(void **st)
{
	struct imp_params p = {.rate_bps = 8000000};
	struct imp_dir d;

	for (int k = 0; k < 4; k++) {
		bool by_time = k & 1;
		p.overhead = k < 2 ? 0 : 250;
		p.queue_bytes = by_time ? 0 : 4800;
		p.queue_ns = by_time ? 4800000 : 0;
		uint32_t fit = p.overhead ? 3 : 4;
		assert_int_equal(imp_dir_init(&d, &p, 64, 2048, 1, NULL), 0);
		for (uint32_t i = 0; i < 10; i++)
			put(&d, i, 1000, 0,
			    i < fit ? IMP_QUEUED : IMP_DROP_QUEUE);
		assert_int_equal(d.c.drop_queue, 10 - fit);
		/* One serialization time later one has left: exactly one
		 * fits again. */
		uint64_t t = imp_serialize_ns(&p, 1000);
		put(&d, 10, 1000, t, IMP_QUEUED);
		put(&d, 11, 1000, t, IMP_DROP_QUEUE);
		imp_dir_free(&d);
	}
}

/* A modem-like 2 s queue at 50 Mbit/s of 1400-byte datagrams (plus 28 bytes
 * of headers) holds 12.5 MB = 8753 datagrams: with the default pool the
 * queue limit decides, not the number of buffers (8192 used to). */
static void test_deep_queue_default_slots(void **st)
{
	struct imp_params p = {.rate_bps = 50000000,
			       .queue_ns = 2 * NS_PER_SEC,
			       .overhead = 28,
			       .delay_ns = 50 * MS};
	struct imp_dir d;
	uint32_t fit = 12500000 / 1428; /* 8753: the first one plus 8752 */

	assert_int_equal(imp_queue_limit_bytes(&p), 12500000);
	assert_int_equal(imp_dir_init(&d, &p, EMU_DEFAULT_SLOTS, 2048, 1, NULL),
			 0);
	for (uint32_t i = 0; i < 10000; i++)
		put(&d, i, 1400, 0, i < fit ? IMP_QUEUED : IMP_DROP_QUEUE);
	assert_int_equal(d.c.drop_nobuf, 0);
	assert_int_equal(d.c.drop_queue, 10000 - fit);
	assert_int_equal(d.nheap, fit);
	/* The first one leaves after its serialization plus the delay. */
	assert_int_equal(imp_next_release(&d), 228480 + 50 * MS);
	imp_dir_free(&d);
}

/* A capacity drop slows down what is already queued: at 8 mbit/s (1 byte/us)
 * ten 1000-byte datagrams finish at 1..10 ms; the rate halves at 2.5 ms, so
 * the one on the wire needs 1 ms for its last 500 bytes and each after it
 * 2 ms. The two already past the wire keep their times. */
static void test_rate_change_retimes_queue(void **st)
{
	struct imp_params p = {
	    .rate_bps = 8000000, .queue_bytes = 1000000, .delay_ns = 10 * MS};
	struct imp_dir d;
	static struct sent s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(imp_dir_init(&d, &p, 64, 2048, 1, NULL), 0);
	for (uint32_t i = 0; i < 10; i++)
		put(&d, i, 1000, 0, IMP_QUEUED);
	assert_int_equal(imp_next_release(&d), 11 * MS);
	p.rate_bps = 4000000;
	imp_sync(&d, 2500000);
	assert_int_equal(d.link_free_ns, 17500000);
	run_until(&d, &s, 40 * MS);
	assert_int_equal(s.n, 10);
	assert_int_equal(s.at[0], 11 * MS);
	assert_int_equal(s.at[1], 12 * MS);
	for (uint32_t k = 2; k < 10; k++) {
		assert_int_equal(s.seq[k], k);
		assert_int_equal(s.at[k], 13500000 + (k - 2) * 2 * MS);
	}
	imp_dir_free(&d);

	/* Going up works the same way, and "unlimited" empties the queue onto
	 * the wire at once; the next arrival is then not delayed by it. */
	memset(&s, 0, sizeof(s));
	p.rate_bps = 8000000;
	assert_int_equal(imp_dir_init(&d, &p, 64, 2048, 1, NULL), 0);
	for (uint32_t i = 0; i < 10; i++)
		put(&d, i, 1000, 0, IMP_QUEUED);
	p.rate_bps = 16000000; /* at 2.5 ms: 0.25 ms left, then 0.5 ms each */
	imp_sync(&d, 2500000);
	assert_int_equal(d.link_free_ns, 2750000 + 7 * 500000);
	p.rate_bps = 0; /* at 3 ms: packet 3 was on the wire */
	imp_sync(&d, 3 * MS);
	assert_int_equal(d.link_free_ns, 3 * MS);
	put(&d, 10, 1000, 3 * MS, IMP_QUEUED);
	run_until(&d, &s, 40 * MS);
	assert_int_equal(s.n, 11);
	/* Packet 2 left the wire at 2.75 ms, before "unlimited": due at
	 * 12.75 ms, seen on the next 0.1 ms step. */
	assert_int_equal(s.at[2], 12800000);
	for (uint32_t k = 3; k < 11; k++)
		assert_int_equal(s.at[k], 13 * MS);
	imp_dir_free(&d);
}

/* A time-given queue follows the rate, and so does the backlog it is compared
 * with: 5 ms at 8 mbit/s holds five 1000-byte datagrams; after the rate
 * halves the same five are 10 ms of work against a 5 ms (2500-byte) limit,
 * so nothing fits until the backlog drops below 1500 bytes, i.e. 3 ms of the
 * new rate, which is 7 ms later. */
static void test_rate_change_queue_limit(void **st)
{
	struct imp_params p = {.rate_bps = 8000000, .queue_ns = 5 * MS};
	struct imp_dir d;

	assert_int_equal(imp_dir_init(&d, &p, 64, 2048, 1, NULL), 0);
	for (uint32_t i = 0; i < 6; i++)
		put(&d, i, 1000, 0, i < 5 ? IMP_QUEUED : IMP_DROP_QUEUE);
	p.rate_bps = 4000000;
	assert_int_equal(imp_queue_limit_bytes(&p), 2500);
	put(&d, 6, 1000, 0, IMP_DROP_QUEUE);
	put(&d, 7, 1000, 7 * MS - 1000, IMP_DROP_QUEUE);
	put(&d, 8, 1000, 7 * MS, IMP_QUEUED);
	assert_int_equal(d.link_free_ns, 12 * MS);
	imp_dir_free(&d);
}

/* Rate changes under jitter never break FIFO order or lose a packet. */
static void test_rate_changes_keep_fifo(void **st)
{
	struct imp_params p = {.rate_bps = 8000000,
			       .queue_bytes = 10000000,
			       .delay_ns = 10 * MS,
			       .jitter_ns = 8 * MS,
			       .overhead = 28};
	static const uint64_t rates[] = {2000000, 30000000, 500000, 0, 8000000};
	struct imp_dir d;
	static struct sent s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(imp_dir_init(&d, &p, 4096, 2048, 5, NULL), 0);
	for (uint32_t i = 0; i < 2000; i++) {
		if (i % 400 == 399) {
			p.rate_bps = rates[i / 400];
			imp_sync(&d, i * 100000ull);
		}
		put(&d, i, 500, i * 100000ull, IMP_QUEUED);
		s.now = i * 100000ull;
		imp_release_due(&d, s.now, rec_send, &s);
	}
	run_until(&d, &s, 2000 * MS);
	assert_int_equal(s.n, 2000);
	for (unsigned i = 0; i < s.n; i++)
		assert_int_equal(s.seq[i], i);
	assert_int_equal(d.nfree, 4096);
	imp_dir_free(&d);
}

static void test_queue_tail_drop(void **st)
{
	struct imp_params p = {.rate_bps = 8000000, .queue_bytes = 5000};
	struct imp_dir d;

	for (int by_time = 0; by_time < 2; by_time++) {
		if (by_time) {
			p.queue_bytes = 0;
			p.queue_ns = 5 * MS; /* 5 ms at 1 byte/us */
		}
		assert_int_equal(imp_queue_limit_bytes(&p), 5000);
		assert_int_equal(imp_dir_init(&d, &p, 64, 2048, 1, NULL), 0);
		for (uint32_t i = 0; i < 20; i++)
			put(&d, i, 1000, 0,
			    i < 5 ? IMP_QUEUED : IMP_DROP_QUEUE);
		assert_int_equal(d.c.drop_queue, 15);
		assert_int_equal(d.c.in_pkts, 20);
		assert_int_equal(d.nheap, 5);
		/* 2 ms later two packets have left: two fit again. */
		put(&d, 20, 1000, 2 * MS, IMP_QUEUED);
		put(&d, 21, 1000, 2 * MS, IMP_QUEUED);
		put(&d, 22, 1000, 2 * MS, IMP_DROP_QUEUE);
		imp_dir_free(&d);
	}
}

static void test_loss(void **st)
{
	struct imp_params p = {.loss = 0.2};
	struct imp_dir d;
	uint64_t lost = 0;

	assert_int_equal(imp_dir_init(&d, &p, 1, 64, 42, NULL), 0);
	for (int i = 0; i < 20000; i++) {
		enum imp_verdict v = imp_enqueue(&d, "x", 1, 0);
		if (v == IMP_QUEUED) {
			d.nheap = 0; /* discard without releasing */
			d.nfree = 1;
		} else {
			assert_int_equal(v, IMP_DROP_LOSS);
			lost++;
		}
	}
	assert_int_equal(d.c.drop_loss, lost);
	assert_true(lost > 3600 && lost < 4400);
	imp_dir_free(&d);

	p.loss = 1;
	assert_int_equal(imp_dir_init(&d, &p, 1, 64, 42, NULL), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(imp_enqueue(&d, "x", 1, 0), IMP_DROP_LOSS);
	imp_dir_free(&d);
}

static void test_loss_burst(void **st)
{
	struct imp_params p = {.loss = 0.1, .loss_burst = 5};
	struct imp_dir d;
	uint64_t lost = 0, bursts = 0;
	bool prev = false;

	assert_int_equal(imp_dir_init(&d, &p, 1, 64, 3, NULL), 0);
	for (int i = 0; i < 50000; i++) {
		bool l = imp_enqueue(&d, "x", 1, 0) == IMP_DROP_LOSS;
		d.nheap = 0;
		d.nfree = 1;
		lost += l;
		bursts += l && !prev;
		prev = l;
	}
	assert_true(lost > 4000 && lost < 6000);
	double mean = (double)lost / (double)bursts;
	assert_true(mean > 4 && mean < 6);
	imp_dir_free(&d);
}

static void test_seed_determinism(void **st)
{
	struct imp_params p = {.loss = 0.5};
	struct imp_dir a, b, c;
	int same = 1, diff = 0;

	assert_int_equal(imp_dir_init(&a, &p, 1, 64, 9, NULL), 0);
	assert_int_equal(imp_dir_init(&b, &p, 1, 64, 9, NULL), 0);
	assert_int_equal(imp_dir_init(&c, &p, 1, 64, 10, NULL), 0);
	for (int i = 0; i < 200; i++) {
		enum imp_verdict va = imp_enqueue(&a, "x", 1, 0);
		enum imp_verdict vb = imp_enqueue(&b, "x", 1, 0);
		enum imp_verdict vc = imp_enqueue(&c, "x", 1, 0);
		same &= va == vb;
		diff += va != vc;
		a.nheap = b.nheap = c.nheap = 0;
		a.nfree = b.nfree = c.nfree = 1;
	}
	assert_true(same);
	assert_true(diff > 0);
	imp_dir_free(&a);
	imp_dir_free(&b);
	imp_dir_free(&c);
}

static void test_down_nobuf_oversize_senderr(void **st)
{
	struct imp_params p = {.delay_ns = 5 * MS};
	struct imp_dir d;
	static struct sent s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(imp_dir_init(&d, &p, 4, 100, 1, NULL), 0);
	put(&d, 0, 101, 0, IMP_DROP_OVERSIZE);
	for (uint32_t i = 1; i <= 4; i++)
		put(&d, i, 100, 0, IMP_QUEUED);
	put(&d, 5, 100, 0, IMP_DROP_NOBUF);
	assert_int_equal(d.c.drop_oversize, 1);
	assert_int_equal(d.c.drop_nobuf, 1);

	/* Going down loses what is in flight, too. */
	p.down = true;
	put(&d, 6, 100, 1 * MS, IMP_DROP_DOWN);
	s.now = 5 * MS;
	assert_int_equal(imp_release_due(&d, 5 * MS, rec_send, &s), 4);
	assert_int_equal(s.n, 0);
	assert_int_equal(d.c.drop_down, 5);
	assert_int_equal(d.nfree, 4);

	/* Up again: slots are reusable; a failing send is counted. */
	p.down = false;
	put(&d, 7, 100, 10 * MS, IMP_QUEUED);
	put(&d, 8, 100, 10 * MS, IMP_QUEUED);
	s.fail = 1;
	assert_int_equal(imp_release_due(&d, 15 * MS, rec_send, &s), 2);
	assert_int_equal(d.c.send_err, 2);
	assert_int_equal(d.c.fwd_pkts, 0);
	assert_int_equal(d.c.in_pkts, 9);

	struct imp_counters sum = {0};
	imp_counters_add(&sum, &d.c);
	imp_counters_add(&sum, &d.c);
	assert_int_equal(sum.in_pkts, 18);
	assert_int_equal(sum.drop_down, 10);
	imp_dir_free(&d);

	struct err e;
	assert_int_equal(imp_dir_init(&d, &p, 0, 100, 1, &e), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_percent_size_uint_switch),
	    cmocka_unit_test(test_addr),
	    cmocka_unit_test(test_settings),
	    cmocka_unit_test(test_rate_schedule_parse),
	    cmocka_unit_test(test_rate_schedule_steps),
	    cmocka_unit_test(test_rate_walk_bounds),
	    cmocka_unit_test(test_rate_walk_steps),
	    cmocka_unit_test(test_delay),
	    cmocka_unit_test(test_fifo_with_jitter),
	    cmocka_unit_test(test_rate_serialization),
	    cmocka_unit_test(test_overhead_serialization),
	    cmocka_unit_test(test_queue_tail_drop),
	    cmocka_unit_test(test_queue_counts_overhead),
	    cmocka_unit_test(test_deep_queue_default_slots),
	    cmocka_unit_test(test_rate_change_retimes_queue),
	    cmocka_unit_test(test_rate_change_queue_limit),
	    cmocka_unit_test(test_rate_changes_keep_fifo),
	    cmocka_unit_test(test_loss),
	    cmocka_unit_test(test_loss_burst),
	    cmocka_unit_test(test_seed_determinism),
	    cmocka_unit_test(test_down_nobuf_oversize_senderr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
