/*
 * The server's per-source HELLO budget (hello_limit.c), on a clock the test
 * drives and a fixed hash key so colliding sources can be built on purpose.
 * Each test fails if the limiter lets a source exceed its budget, refuses a
 * source within it, lets sources disturb each other beyond what
 * hello_limit.h documents, confuses address families, or grows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/hello_limit.h"

#define MS  1000000ull
#define SEC (1000 * MS)
/* Time it takes one token to come back. */
#define TOKEN_NS (SEC / HELLO_LIMIT_PER_S)

/* From ASan's allocator interface (the header is not always installed);
 * weak so the test still links without ASan, minus the byte count. */
extern size_t __sanitizer_get_current_allocated_bytes(void)
    __attribute__((weak));

static size_t heap_bytes(void)
{
	return __sanitizer_get_current_allocated_bytes
		   ? __sanitizer_get_current_allocated_bytes()
		   : 0;
}

static const uint8_t test_key[HELLO_LIMIT_KEYBYTES] = "0123456789abcdef";

static struct sockaddr_storage v4(uint32_t host_order)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(host_order);
	a->sin_port = htons(5800);
	return ss;
}

static struct sockaddr_storage v6(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	a->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
	return ss;
}

/* Some 10.x.y.z address other than `not` whose slot is (or, with
 * same == false, is not) the slot of `ref`, starting the search at *next. */
static struct sockaddr_storage find_v4(const struct hello_limiter *rl,
				       const struct sockaddr_storage *ref,
				       bool same, uint32_t *next)
{
	unsigned want = hello_limit_slot(rl, ref);

	for (;; (*next)++) {
		struct sockaddr_storage c = v4(0x0a000000u + *next);
		if (!memcmp(&c, ref, sizeof(c)))
			continue;
		if ((hello_limit_slot(rl, &c) == want) == same) {
			(*next)++;
			return c;
		}
	}
}

static int setup(void **state)
{
	assert_true(sodium_init() >= 0);
	*state = hello_limit_new(test_key);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	hello_limit_free(*state);
	return 0;
}

/* A fresh source gets exactly BURST at once, then one per 1/PER_S. */
static void test_burst_then_rate(void **state)
{
	struct hello_limiter *rl = *state;
	struct sockaddr_storage a = v4(0xc0000201);
	uint64_t t = 5 * SEC;

	for (int i = 0; i < HELLO_LIMIT_BURST; i++)
		assert_int_equal(hello_limit_take(rl, &a, t), 0);
	assert_int_equal(hello_limit_take(rl, &a, t), -EAGAIN);
	assert_int_equal(hello_limit_take(rl, &a, t + TOKEN_NS - MS), -EAGAIN);
	assert_int_equal(hello_limit_take(rl, &a, t + TOKEN_NS), 0);
	assert_int_equal(hello_limit_take(rl, &a, t + TOKEN_NS), -EAGAIN);

	/* Over 10 s of hammering every millisecond, the source gets its
	 * steady rate and not one HELLO more. */
	uint64_t start = t + TOKEN_NS, ok = 0;
	for (uint64_t now = start + MS; now <= start + 10 * SEC; now += MS)
		ok += hello_limit_take(rl, &a, now) == 0;
	assert_int_equal(ok, 10 * HELLO_LIMIT_PER_S);
}

/* Sending at exactly the steady rate is never refused, also when the
 * gaps jitter around 1/PER_S by half a millisecond either way: no
 * sub-millisecond remainder may be lost between refills. */
static void test_steady_rate_never_refused(void **state)
{
	struct hello_limiter *rl = *state;
	struct sockaddr_storage a = v4(0xc0000202);
	uint64_t t = SEC;

	for (int i = 0; i < HELLO_LIMIT_BURST; i++)
		assert_int_equal(hello_limit_take(rl, &a, t), 0);
	for (int i = 0; i < 2000; i++) {
		t += i % 2 ? TOKEN_NS - MS / 2 : TOKEN_NS + MS / 2;
		assert_int_equal(hello_limit_take(rl, &a, t), 0);
	}
}

/* Idle time refills up to BURST and never banks more. */
static void test_refill_capped(void **state)
{
	struct hello_limiter *rl = *state;
	struct sockaddr_storage a = v4(0xc0000203);
	uint64_t t = SEC;

	for (int i = 0; i < HELLO_LIMIT_BURST; i++)
		assert_int_equal(hello_limit_take(rl, &a, t), 0);
	assert_int_equal(hello_limit_take(rl, &a, t), -EAGAIN);
	/* Half the burst back after half the refill time. */
	t += (HELLO_LIMIT_BURST / 2) * TOKEN_NS;
	for (int i = 0; i < HELLO_LIMIT_BURST / 2; i++)
		assert_int_equal(hello_limit_take(rl, &a, t), 0);
	assert_int_equal(hello_limit_take(rl, &a, t), -EAGAIN);
	/* An hour idle is still just one burst. */
	t += 3600 * SEC;
	for (int i = 0; i < HELLO_LIMIT_BURST; i++)
		assert_int_equal(hello_limit_take(rl, &a, t), 0);
	assert_int_equal(hello_limit_take(rl, &a, t), -EAGAIN);
}

/* A clock that steps back refills nothing (and does not wrap into a huge
 * refill). */
static void test_clock_back(void **state)
{
	struct hello_limiter *rl = *state;
	struct sockaddr_storage a = v4(0xc0000204);
	uint64_t t = 100 * SEC;

	for (int i = 0; i < HELLO_LIMIT_BURST; i++)
		assert_int_equal(hello_limit_take(rl, &a, t), 0);
	assert_int_equal(hello_limit_take(rl, &a, t - 50 * SEC), -EAGAIN);
	assert_int_equal(hello_limit_take(rl, &a, t - 50 * SEC + TOKEN_NS),
			 -EAGAIN);
	assert_int_equal(hello_limit_take(rl, &a, t), -EAGAIN);
	assert_int_equal(hello_limit_take(rl, &a, t + TOKEN_NS), 0);
	assert_int_equal(hello_limit_take(rl, &a, t + TOKEN_NS), -EAGAIN);
}

/* Sources in different slots do not share anything: 200 of them each get
 * their full burst, in any interleaving. */
static void test_independent_sources(void **state)
{
	struct hello_limiter *rl = *state;
	struct sockaddr_storage src[HELLO_LIMIT_SLOTS];
	bool taken[HELLO_LIMIT_SLOTS] = {0};
	int n = 0;

	for (uint32_t i = 0; n < 200; i++) {
		struct sockaddr_storage c = v4(0xac100000u + i);
		unsigned s = hello_limit_slot(rl, &c);
		if (taken[s])
			continue;
		taken[s] = true;
		src[n++] = c;
	}
	for (int round = 0; round < HELLO_LIMIT_BURST; round++)
		for (int i = 0; i < n; i++)
			assert_int_equal(hello_limit_take(rl, &src[i], SEC), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(hello_limit_take(rl, &src[i], SEC), -EAGAIN);
	assert_int_equal(hello_limit_used(rl), n);
}

/* IPv4, IPv4-mapped IPv6 and IPv6 keys: mapped = plain IPv4; an IPv6 /64
 * is one source; the family is part of the key; ports do not matter. */
static void test_address_families(void **state)
{
	struct hello_limiter *rl = *state;
	struct sockaddr_storage a4 = v4(0x01020304);
	struct sockaddr_storage a4port = a4;
	struct sockaddr_storage mapped = v6("::ffff:1.2.3.4");
	struct sockaddr_storage lookalike = v6("102:304::");
	struct sockaddr_storage n1 = v6("2001:db8:1:2::1");
	struct sockaddr_storage n2 = v6("2001:db8:1:2:ffff:ffff:ffff:ffff");
	struct sockaddr_storage other64 = v6("2001:db8:1:3::1");
	uint64_t t = SEC;

	((struct sockaddr_in *)&a4port)->sin_port = htons(40000);
	assert_int_equal(hello_limit_slot(rl, &a4),
			 hello_limit_slot(rl, &mapped));
	assert_int_equal(hello_limit_slot(rl, &n1), hello_limit_slot(rl, &n2));

	/* Half the burst as IPv4, the other half as mapped on another port:
	 * one budget. */
	for (int i = 0; i < HELLO_LIMIT_BURST / 2; i++)
		assert_int_equal(hello_limit_take(rl, &a4, t), 0);
	for (int i = 0; i < HELLO_LIMIT_BURST / 2; i++)
		assert_int_equal(hello_limit_take(rl, &mapped, t), 0);
	assert_int_equal(hello_limit_take(rl, &a4port, t), -EAGAIN);
	/* 102:304:: starts with the same four bytes but is another source. */
	if (hello_limit_slot(rl, &lookalike) != hello_limit_slot(rl, &a4))
		assert_int_equal(hello_limit_take(rl, &lookalike, t), 0);
	else
		assert_int_equal(hello_limit_take(rl, &lookalike, t), -EBUSY);

	/* Any address in a /64 draws from the /64's budget. */
	for (int i = 0; i < HELLO_LIMIT_BURST; i++)
		assert_int_equal(hello_limit_take(rl, i % 2 ? &n1 : &n2, t), 0);
	assert_int_equal(hello_limit_take(rl, &n1, t), -EAGAIN);
	assert_int_equal(hello_limit_take(rl, &n2, t), -EAGAIN);
	if (hello_limit_slot(rl, &other64) != hello_limit_slot(rl, &n1))
		assert_int_equal(hello_limit_take(rl, &other64, t), 0);
}

/* The key makes the mapping: two tables with different keys place the same
 * 1000 sources differently (nobody can precompute collisions). */
static void test_key_changes_slots(void **state)
{
	static const uint8_t other[HELLO_LIMIT_KEYBYTES] = "fedcba9876543210";
	struct hello_limiter *rl = *state;
	struct hello_limiter *r2 = hello_limit_new(other);
	struct hello_limiter *r3 = hello_limit_new(NULL);
	int differ2 = 0, differ3 = 0;

	assert_non_null(r2);
	assert_non_null(r3);
	for (uint32_t i = 0; i < 1000; i++) {
		struct sockaddr_storage c = v4(0x0a000000u + i);
		differ2 += hello_limit_slot(rl, &c) != hello_limit_slot(r2, &c);
		differ3 += hello_limit_slot(rl, &c) != hello_limit_slot(r3, &c);
	}
	/* Equal slot by chance: ~1000/256 each. */
	assert_true(differ2 > 900);
	assert_true(differ3 > 900);
	hello_limit_free(r2);
	hello_limit_free(r3);
}

/* A source holding its slot is never refused because of a colliding
 * source, however hard that one pushes: a holder sending at its steady
 * rate keeps the slot for good, and the other one gets -EBUSY until the
 * holder has been quiet for 1/PER_S. */
static void test_holder_keeps_slot(void **state)
{
	struct hello_limiter *rl = *state;
	struct sockaddr_storage legit = v4(0xc6336401);
	uint32_t next = 0;
	struct sockaddr_storage evil = find_v4(rl, &legit, true, &next);
	uint64_t t = SEC, now;

	for (now = t; now < t + 20 * SEC; now += MS) {
		if ((now - t) % TOKEN_NS == 0)
			assert_int_equal(hello_limit_take(rl, &legit, now), 0);
		assert_int_equal(hello_limit_take(rl, &evil, now), -EBUSY);
	}
	/* legit last sent exactly 1/PER_S ago: full again. */
	assert_int_equal(hello_limit_take(rl, &evil, now), 0);
	assert_int_equal(hello_limit_take(rl, &legit, now), -EBUSY);
}

/* The documented bound: a slot changes hands only once its holder is
 * full again: 1/PER_S after a single HELLO, BURST/PER_S after a burst. */
static void test_takeover_bound(void **state)
{
	struct hello_limiter *rl = *state;
	struct sockaddr_storage legit = v4(0xc6336402);
	uint32_t next = 0;
	struct sockaddr_storage a = find_v4(rl, &legit, true, &next);
	struct sockaddr_storage b = find_v4(rl, &legit, true, &next);
	uint64_t t = SEC;

	/* a sends one HELLO: legit waits 1/PER_S at most. */
	assert_int_equal(hello_limit_take(rl, &a, t), 0);
	assert_int_equal(hello_limit_take(rl, &legit, t + TOKEN_NS - MS),
			 -EBUSY);
	assert_int_equal(hello_limit_take(rl, &legit, t + TOKEN_NS), 0);

	/* b bursts once legit is full again: legit waits BURST/PER_S. */
	t += 10 * SEC;
	for (int i = 0; i < HELLO_LIMIT_BURST; i++)
		assert_int_equal(hello_limit_take(rl, &b, t), 0);
	uint64_t bound = (uint64_t)HELLO_LIMIT_BURST * TOKEN_NS;
	assert_int_equal(hello_limit_take(rl, &legit, t + bound - MS), -EBUSY);
	assert_int_equal(hello_limit_take(rl, &a, t + bound - MS), -EBUSY);
	assert_int_equal(hello_limit_take(rl, &legit, t + bound), 0);
	/* ... and the new holder has a full budget of its own. */
	for (int i = 1; i < HELLO_LIMIT_BURST; i++)
		assert_int_equal(hello_limit_take(rl, &legit, t + bound), 0);
	assert_int_equal(hello_limit_take(rl, &legit, t + bound), -EAGAIN);
}

/* A flood of a million distinct forged sources: memory does not move, at
 * most SLOTS entries exist, and once the flood stops for BURST/PER_S every
 * source gets its full budget back. */
static void test_flood_never_grows(void **state)
{
	struct hello_limiter *rl = *state;
	size_t before = heap_bytes();
	uint64_t t = SEC;
	unsigned ok = 0;

	for (uint32_t i = 0; i < 1000000; i++) {
		struct sockaddr_storage c = v4(0x64000000u + i);
		if (i & 1) { /* every other one from its own IPv6 /64 */
			uint32_t be = htonl(i);
			c = v6("2001:db8::1");
			memcpy(
			    &((struct sockaddr_in6 *)&c)->sin6_addr.s6_addr[4],
			    &be, 4);
		}
		ok += hello_limit_take(rl, &c, t + i * 1000ull) == 0;
		if (i % 4096 == 0)
			assert_true(hello_limit_used(rl) <= HELLO_LIMIT_SLOTS);
	}
	assert_int_equal(heap_bytes(), before);
	assert_int_equal(hello_limit_used(rl), HELLO_LIMIT_SLOTS);
	assert_true(ok > 0);

	/* After the flood, a newcomer is admitted with a full burst. */
	t += 1000000 * 1000ull + (uint64_t)HELLO_LIMIT_BURST * TOKEN_NS;
	struct sockaddr_storage legit = v4(0xc0a80001);
	for (int i = 0; i < HELLO_LIMIT_BURST; i++)
		assert_int_equal(hello_limit_take(rl, &legit, t), 0);
	assert_int_equal(hello_limit_take(rl, &legit, t), -EAGAIN);
}

/* Spray R forged HELLOs/s from fresh addresses and let legit newcomers
 * retry once per second, as a client does: every -EBUSY a newcomer gets
 * must be explained by another source taking a HELLO in its slot within
 * the last BURST/PER_S, and under a moderate spray (1000/s, ~18% refusal
 * per attempt by the header's estimate) every newcomer is in within 10
 * tries. Deterministic: fixed key, fixed address sequence, simulated time. */
static void test_spray_vs_newcomers(void **state)
{
	enum { N_LEGIT = 100, RATE = 1000, MAX_TRIES = 10 };
	struct hello_limiter *rl = *state;
	uint64_t last_taken[HELLO_LIMIT_SLOTS] = {0};
	struct sockaddr_storage legit[N_LEGIT];
	int tries[N_LEGIT] = {0};
	bool in[N_LEGIT] = {0};
	uint32_t spray = 0;
	unsigned refusals = 0, attempts = 0;
	int admitted = 0;

	for (int i = 0; i < N_LEGIT; i++)
		legit[i] = v6("2001:db8:ffff::1");
	for (int i = 0; i < N_LEGIT; i++)
		((struct sockaddr_in6 *)&legit[i])->sin6_addr.s6_addr[7] =
		    (uint8_t)i; /* 100 distinct /64s */

	uint64_t t0 = SEC;
	for (uint64_t now = t0; now < t0 + (MAX_TRIES + 1) * SEC;
	     now += SEC / RATE) {
		struct sockaddr_storage f = v4(0x0b000000u + spray++);
		if (hello_limit_take(rl, &f, now) == 0)
			last_taken[hello_limit_slot(rl, &f)] = now;
		/* Newcomer i tries at t0 + i*10ms + k seconds. */
		uint64_t off = (now - t0) % SEC;
		if (off % (10 * MS) != 0)
			continue;
		int i = (int)(off / (10 * MS));
		if (i >= N_LEGIT || in[i])
			continue;
		unsigned s = hello_limit_slot(rl, &legit[i]);
		int rc = hello_limit_take(rl, &legit[i], now);
		attempts++;
		tries[i]++;
		if (rc == 0) {
			in[i] = true;
			admitted++;
			last_taken[s] = now;
			continue;
		}
		assert_int_equal(rc, -EBUSY);
		refusals++;
		assert_true(last_taken[s] != 0);
		assert_true(now - last_taken[s] <
			    (uint64_t)HELLO_LIMIT_BURST * TOKEN_NS);
		assert_true(tries[i] < MAX_TRIES);
	}
	assert_int_equal(admitted, N_LEGIT);
	/* The flood did bite (the bound is not vacuous)... */
	assert_true(refusals > 0);
	/* ... but far less than it would above SLOTS * PER_S. */
	assert_true(refusals * 2 < attempts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_burst_then_rate, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_steady_rate_never_refused,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refill_capped, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_clock_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_independent_sources, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_address_families, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_key_changes_slots, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_holder_keeps_slot, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_takeover_bound, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_flood_never_grows, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_spray_vs_newcomers, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
