/*
 * The server's failed-HELLO log (hello_faillog.c): one line per source per
 * 10 s carrying every failure since the last line, sources kept apart
 * (IPv4 address, IPv6 /64, v4-mapped = IPv4), a full table reusing the
 * slot heard longest ago, and the reason text a person reads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "wire/hello_faillog.h"

#define S 1000000000ull

static struct sockaddr_storage v4(const char *a, uint16_t port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, a, &s->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *a, uint16_t port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, a, &s->sin6_addr), 1);
	return ss;
}

/* First failure: a line at once; then nothing for 10 s, whatever the
 * number; then one line with every count since. */
static void test_one_line_per_interval(void **state)
{
	struct hello_faillog *fl = hello_faillog_new();
	struct hello_fail_report r;
	struct sockaddr_storage a = v4("192.0.2.1", 4000);
	uint64_t t = 100 * S;
	assert_true(hello_faillog_note(fl, &a, HF_UNKNOWN_KEY, t, &r));
	assert_int_equal(r.total, 1);
	assert_int_equal(r.count[HF_UNKNOWN_KEY], 1);
	int lines = 0;
	for (int i = 1; i <= 100; i++)
		lines += hello_faillog_note(fl, &a,
					    i % 4 ? HF_UNKNOWN_KEY : HF_BAD_MAC,
					    t + (uint64_t)i * S / 11, &r);
	assert_int_equal(lines, 0); /* 100 in 9.1 s: silent */
	assert_true(
	    hello_faillog_note(fl, &a, HF_OLD_TIMESTAMP, t + 10 * S, &r));
	assert_int_equal(r.total, 101);
	assert_int_equal(r.count[HF_UNKNOWN_KEY], 75);
	assert_int_equal(r.count[HF_BAD_MAC], 25);
	assert_int_equal(r.count[HF_OLD_TIMESTAMP], 1);
	assert_int_equal(r.since_ns, t + S / 11);
	char buf[200];
	assert_string_equal(hello_fail_report_str(&r, buf, sizeof(buf)),
			    "unknown key id (75), bad MAC (25), "
			    "old timestamp (1)");
	/* counts start again after a line */
	assert_false(hello_faillog_note(fl, &a, HF_BAD_MAC, t + 11 * S, &r));
	assert_true(hello_faillog_note(fl, &a, HF_BAD_MAC, t + 21 * S, &r));
	assert_int_equal(r.total, 2);
	hello_faillog_free(fl);
}

/* Ports do not make a new source; other addresses do; an IPv6 /64 is
 * one source and v4-mapped IPv6 is the IPv4 address. */
static void test_sources(void **state)
{
	struct hello_faillog *fl = hello_faillog_new();
	struct hello_fail_report r;
	struct sockaddr_storage a1 = v4("192.0.2.1", 4000);
	struct sockaddr_storage a2 = v4("192.0.2.1", 4001);
	struct sockaddr_storage b = v4("192.0.2.2", 4000);
	struct sockaddr_storage m = v6("::ffff:192.0.2.1", 9);
	struct sockaddr_storage p1 = v6("2001:db8:1:2::1", 9);
	struct sockaddr_storage p2 = v6("2001:db8:1:2::ffff", 9);
	struct sockaddr_storage q = v6("2001:db8:1:3::1", 9);
	uint64_t t = 5 * S;
	assert_true(hello_faillog_note(fl, &a1, HF_MALFORMED, t, &r));
	assert_false(hello_faillog_note(fl, &a2, HF_MALFORMED, t, &r));
	assert_false(hello_faillog_note(fl, &m, HF_MALFORMED, t, &r));
	assert_true(hello_faillog_note(fl, &b, HF_MALFORMED, t, &r));
	assert_true(hello_faillog_note(fl, &p1, HF_MALFORMED, t, &r));
	assert_false(hello_faillog_note(fl, &p2, HF_MALFORMED, t, &r));
	assert_true(hello_faillog_note(fl, &q, HF_MALFORMED, t, &r));
	assert_true(hello_faillog_note(fl, &a1, HF_MALFORMED, t + 10 * S, &r));
	assert_int_equal(r.total, 3); /* a2 and the mapped one counted */
	hello_faillog_free(fl);
}

/* A flood of fresh sources cannot grow the table; the slot heard longest
 * ago is reused, and a source forgotten that way gets a line again. */
static void test_full_table(void **state)
{
	struct hello_faillog *fl = hello_faillog_new();
	struct hello_fail_report r;
	char a[32];
	uint64_t t = S;
	for (unsigned i = 0; i < HELLO_FAILLOG_SLOTS; i++) {
		snprintf(a, sizeof(a), "198.51.100.%u", i);
		struct sockaddr_storage x = v4(a, 1);
		assert_true(
		    hello_faillog_note(fl, &x, HF_UNKNOWN_KEY, t + i, &r));
	}
	struct sockaddr_storage keep = v4("198.51.100.1", 1);
	assert_false(hello_faillog_note(fl, &keep, HF_UNKNOWN_KEY, t + 100,
					&r)); /* refreshed, still known */
	struct sockaddr_storage fresh = v4("203.0.113.9", 1);
	assert_true(hello_faillog_note(fl, &fresh, HF_UNKNOWN_KEY, t + 200,
				       &r)); /* took 198.51.100.0's slot */
	assert_false(
	    hello_faillog_note(fl, &keep, HF_UNKNOWN_KEY, t + 300, &r));
	struct sockaddr_storage gone = v4("198.51.100.0", 1);
	assert_true(hello_faillog_note(fl, &gone, HF_UNKNOWN_KEY, t + 400, &r));
	hello_faillog_free(fl);
}

/* Bad input: an out-of-range reason counts as malformed; an unknown
 * family is one source of its own; a tiny buffer is still a string. */
static void test_bad_input(void **state)
{
	struct hello_faillog *fl = hello_faillog_new();
	struct hello_fail_report r;
	struct sockaddr_storage u;
	memset(&u, 0, sizeof(u));
	u.ss_family = AF_UNIX;
	assert_true(hello_faillog_note(fl, &u, (enum hello_fail)99, S, &r));
	assert_int_equal(r.count[HF_MALFORMED], 1);
	char buf[4];
	hello_fail_report_str(&r, buf, sizeof(buf));
	assert_true(strlen(buf) < sizeof(buf));
	assert_string_equal(hello_fail_name((enum hello_fail)99), "?");
	hello_faillog_free(fl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_line_per_interval),
	    cmocka_unit_test(test_sources),
	    cmocka_unit_test(test_full_table),
	    cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
