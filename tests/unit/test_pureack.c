/*
 * Unit tests of core/link/pureack.c: which inner packets are pure TCP ACKs
 * (left out of their flow's order chain by the sender). A false positive
 * would let a data segment overtake its predecessor, so everything that
 * is not plainly an ACK without data must say no, malformed input too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "link/pureack.h"

/* IPv4 + TCP with doff words of header and `data` payload bytes. */
static size_t v4(uint8_t *p, uint8_t flags, unsigned doff, size_t data)
{
	size_t tcp = doff * 4, tot = 20 + tcp + data;
	memset(p, 0, tot);
	p[0] = 0x45;
	p[2] = (uint8_t)(tot >> 8), p[3] = (uint8_t)tot;
	p[8] = 64, p[9] = 6;
	p[20 + 12] = (uint8_t)(doff << 4);
	p[20 + 13] = flags;
	return tot;
}

static size_t v6(uint8_t *p, uint8_t next, uint8_t flags, size_t data)
{
	size_t plen = 20 + data;
	memset(p, 0, 40 + plen);
	p[0] = 0x60;
	p[4] = (uint8_t)(plen >> 8), p[5] = (uint8_t)plen;
	p[6] = next, p[7] = 64;
	p[40 + 12] = 5 << 4;
	p[40 + 13] = flags;
	return 40 + plen;
}

static void test_v4(void **st)
{
	(void)st;
	uint8_t p[1600];
	assert_true(tcp_pure_ack(p, v4(p, 0x10, 5, 0)));
	/* timestamps (doff 8), with ECE, CWR, PSH: still a pure ACK */
	assert_true(tcp_pure_ack(p, v4(p, 0x10 | 0x40 | 0x80 | 0x08, 8, 0)));
	/* data, SYN-ACK, FIN, RST, URG, no ACK at all */
	assert_false(tcp_pure_ack(p, v4(p, 0x10, 5, 1)));
	assert_false(tcp_pure_ack(p, v4(p, 0x12, 5, 0)));
	assert_false(tcp_pure_ack(p, v4(p, 0x11, 5, 0)));
	assert_false(tcp_pure_ack(p, v4(p, 0x14, 5, 0)));
	assert_false(tcp_pure_ack(p, v4(p, 0x30, 5, 0)));
	assert_false(tcp_pure_ack(p, v4(p, 0x00, 5, 0)));
	/* trailing bytes past the IP total length do not count as data */
	size_t n = v4(p, 0x10, 5, 0);
	assert_true(tcp_pure_ack(p, n + 6));
}

static void test_v4_refused(void **st)
{
	(void)st;
	uint8_t p[1600];
	size_t n = v4(p, 0x10, 5, 0);
	for (size_t l = 0; l < n; l++) /* every truncation */
		assert_false(tcp_pure_ack(p, l));
	p[6] = 0x20; /* more fragments */
	assert_false(tcp_pure_ack(p, n));
	p[6] = 0, p[7] = 1; /* fragment offset */
	assert_false(tcp_pure_ack(p, n));
	p[7] = 0;
	p[9] = 17; /* UDP */
	assert_false(tcp_pure_ack(p, n));
	p[9] = 6;
	p[0] = 0x44; /* IHL below 20 bytes */
	assert_false(tcp_pure_ack(p, n));
	p[0] = 0x45;
	p[20 + 12] = 4 << 4; /* TCP doff below 20 bytes */
	assert_false(tcp_pure_ack(p, n));
	p[20 + 12] = 6 << 4; /* doff past the segment */
	assert_false(tcp_pure_ack(p, n));
	p[20 + 12] = 5 << 4;
	p[3] = 10; /* total length below the IP header */
	assert_false(tcp_pure_ack(p, n));
	p[0] = 0x55; /* neither version 4 nor 6 */
	assert_false(tcp_pure_ack(p, n));
}

static void test_v6(void **st)
{
	(void)st;
	uint8_t p[1600];
	assert_true(tcp_pure_ack(p, v6(p, 6, 0x10, 0)));
	assert_false(tcp_pure_ack(p, v6(p, 6, 0x10, 100)));
	assert_false(tcp_pure_ack(p, v6(p, 6, 0x11, 0)));
	/* a hop-by-hop header first: not looked into, so not recognised */
	assert_false(tcp_pure_ack(p, v6(p, 0, 0x10, 0)));
	size_t n = v6(p, 6, 0x10, 0);
	for (size_t l = 0; l < n; l++)
		assert_false(tcp_pure_ack(p, l));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v4),
	    cmocka_unit_test(test_v4_refused),
	    cmocka_unit_test(test_v6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
