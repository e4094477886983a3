/*
 * MSS clamping: SYNs of IPv4 and IPv6 get an MSS that fits the tun MTU and
 * a TCP checksum that is still right (checked by recomputing it over the
 * pseudo-header and the whole segment, not by trusting the incremental
 * update); everything else leaves byte for byte as it came. Packets are
 * copied into exact-size heap buffers so ASan catches any read past the end
 * of a truncated or malformed packet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "datapath.h"

#define MTU 1400

/* Ones'-complement sum of 16-bit big-endian words. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Full TCP checksum over pseudo-header and segment, the checksum field
 * included: a correct segment sums to 0xffff. */
static int tcp_csum_ok(const uint8_t *pkt, size_t len)
{
	uint32_t sum = 0;
	size_t l4;
	if ((pkt[0] >> 4) == 4) {
		l4 = (size_t)(pkt[0] & 0x0f) * 4;
		sum = sum16(sum, pkt + 12, 8); /* addresses */
		sum += 6;
		sum += (uint32_t)(len - l4);
	} else {
		l4 = 40;
		sum = sum16(sum, pkt + 8, 32);
		sum += (uint32_t)(len - l4);
		sum += 6;
	}
	sum = sum16(sum, pkt + l4, len - l4);
	return fold(sum) == 0xffff;
}

/* Writes a correct TCP checksum into a segment built by the helpers. */
static void tcp_csum_set(uint8_t *pkt, size_t len)
{
	size_t l4 = (pkt[0] >> 4) == 4 ? (size_t)(pkt[0] & 0x0f) * 4 : 40;
	uint32_t sum = 0;
	pkt[l4 + 16] = pkt[l4 + 17] = 0;
	if ((pkt[0] >> 4) == 4)
		sum = sum16(sum, pkt + 12, 8);
	else
		sum = sum16(sum, pkt + 8, 32);
	sum += 6 + (uint32_t)(len - l4);
	sum = sum16(sum, pkt + l4, len - l4);
	uint16_t c = (uint16_t)~fold(sum);
	pkt[l4 + 16] = (uint8_t)(c >> 8);
	pkt[l4 + 17] = (uint8_t)c;
}

/*
 * Builds an IPv4 (ihl words of header) or IPv6 TCP segment with the given
 * flags and TCP options (padded to 4 bytes) and `payload` zero bytes, with
 * a valid checksum. Returns the length.
 */
static size_t build(uint8_t *pkt, int v6, size_t ihl, uint8_t flags,
		    const uint8_t *opts, size_t olen, size_t payload)
{
	size_t l3 = v6 ? 40 : ihl * 4;
	size_t doff = 20 + ((olen + 3) & ~(size_t)3);
	size_t len = l3 + doff + payload;
	memset(pkt, 0, len);
	if (v6) {
		pkt[0] = 0x60;
		pkt[4] = (uint8_t)((len - 40) >> 8);
		pkt[5] = (uint8_t)(len - 40);
		pkt[6] = 6;
		pkt[7] = 64;
		for (int i = 0; i < 16; i++) {
			pkt[8 + i] = (uint8_t)(0x20 + i);
			pkt[24 + i] = (uint8_t)(0x90 + 3 * i);
		}
	} else {
		pkt[0] = (uint8_t)(0x40 | ihl);
		pkt[2] = (uint8_t)(len >> 8);
		pkt[3] = (uint8_t)len;
		pkt[6] = 0x40; /* DF */
		pkt[8] = 64;
		pkt[9] = 6;
		memcpy(pkt + 12, "\x0a\x4d\x00\x02\x0a\x63\x00\x02", 8);
		for (size_t i = 20; i < l3; i++)
			pkt[i] = 1; /* IP option NOPs */
	}
	uint8_t *t = pkt + l3;
	t[0] = 0xc3, t[1] = 0x51, t[2] = 0x00, t[3] = 0x50;
	t[4] = 0x12, t[5] = 0x34, t[6] = 0x56, t[7] = 0x78;
	t[12] = (uint8_t)((doff / 4) << 4);
	t[13] = flags;
	t[14] = 0xfa, t[15] = 0xf0;
	memcpy(t + 20, opts, olen);
	for (size_t i = payload; i > 0; i--)
		pkt[len - i] = (uint8_t)(i * 7);
	tcp_csum_set(pkt, len);
	return len;
}

/* Runs mss_clamp on an exact-size heap copy and copies the result back. */
static void clamp(uint8_t *pkt, size_t len, uint32_t mtu)
{
	uint8_t *h = malloc(len ? len : 1);
	assert_non_null(h);
	memcpy(h, pkt, len);
	mss_clamp(h, len, mtu);
	memcpy(pkt, h, len);
	free(h);
}

static uint16_t mss_at(const uint8_t *pkt, size_t off)
{
	return (uint16_t)(pkt[off] << 8 | pkt[off + 1]);
}

/* MSS 1460, SACK-permitted, timestamps, NOP, window scale 7. */
static const uint8_t syn_opts[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2,
				   3, 4, 5,    6,    7, 8, 1, 3,  3, 7};

static void test_ipv4_syn_clamped(void **state)
{
	uint8_t pkt[128], before[128];
	(void)state;
	size_t len = build(pkt, 0, 5, 0x02, syn_opts, sizeof(syn_opts), 0);
	assert_true(tcp_csum_ok(pkt, len));
	memcpy(before, pkt, len);
	clamp(pkt, len, MTU);
	assert_int_equal(mss_at(pkt, 20 + 22), MTU - 40);
	assert_true(tcp_csum_ok(pkt, len));
	/* Only the MSS value and the checksum changed. */
	for (size_t i = 0; i < len; i++)
		if (i != 42 && i != 43 && i != 36 && i != 37)
			assert_int_equal(pkt[i], before[i]);
}

static void test_ipv4_synack_and_ip_options(void **state)
{
	uint8_t pkt[128];
	(void)state;
	/* SYN|ACK, 8 bytes of IP options, MSS after NOPs, some payload. */
	static const uint8_t opts[] = {1, 1, 4, 2, 2, 4, 0x23, 0x28}; /* 9000 */
	size_t len = build(pkt, 0, 7, 0x12, opts, sizeof(opts), 9);
	clamp(pkt, len, MTU);
	assert_int_equal(mss_at(pkt, 28 + 20 + 6), MTU - 40);
	assert_true(tcp_csum_ok(pkt, len));
}

static void test_ipv6_syn_clamped(void **state)
{
	uint8_t pkt[160];
	(void)state;
	size_t len = build(pkt, 1, 0, 0x02, syn_opts, sizeof(syn_opts), 0);
	assert_true(tcp_csum_ok(pkt, len));
	clamp(pkt, len, MTU);
	assert_int_equal(mss_at(pkt, 40 + 22), MTU - 60);
	assert_true(tcp_csum_ok(pkt, len));
}

/* Packets that must come out byte for byte as they went in. */
static void assert_untouched(uint8_t *pkt, size_t len, uint32_t mtu)
{
	uint8_t before[256];
	assert_true(len <= sizeof(before));
	memcpy(before, pkt, len);
	clamp(pkt, len, mtu);
	assert_memory_equal(pkt, before, len);
}

static void test_smaller_mss_kept(void **state)
{
	uint8_t pkt[160];
	static const uint8_t opts[] = {2, 4, 0x04, 0xb0}; /* 1200 */
	(void)state;
	size_t len = build(pkt, 0, 5, 0x02, opts, sizeof(opts), 0);
	assert_untouched(pkt, len, MTU);
	len = build(pkt, 1, 0, 0x02, opts, sizeof(opts), 0);
	assert_untouched(pkt, len, MTU);
	/* Exactly the limit is kept too. */
	static const uint8_t eq[] = {2, 4, (MTU - 40) >> 8, (MTU - 40) & 0xff};
	len = build(pkt, 0, 5, 0x02, eq, sizeof(eq), 0);
	assert_untouched(pkt, len, MTU);
}

static void test_non_syn_kept(void **state)
{
	uint8_t pkt[160];
	(void)state;
	/* An ACK (and a FIN|ACK, RST) carrying an MSS-looking option. */
	static const uint8_t flags[] = {0x10, 0x11, 0x04, 0x18};
	for (size_t i = 0; i < sizeof(flags); i++) {
		size_t len =
		    build(pkt, 0, 5, flags[i], syn_opts, sizeof(syn_opts), 20);
		assert_untouched(pkt, len, MTU);
		len =
		    build(pkt, 1, 0, flags[i], syn_opts, sizeof(syn_opts), 20);
		assert_untouched(pkt, len, MTU);
	}
}

static void test_non_tcp_kept(void **state)
{
	uint8_t pkt[160];
	(void)state;
	size_t len = build(pkt, 0, 5, 0x02, syn_opts, sizeof(syn_opts), 0);
	pkt[9] = 17; /* UDP with SYN-looking bytes */
	assert_untouched(pkt, len, MTU);
	len = build(pkt, 1, 0, 0x02, syn_opts, sizeof(syn_opts), 0);
	pkt[6] = 17;
	assert_untouched(pkt, len, MTU);
	len = build(pkt, 1, 0, 0x02, syn_opts, sizeof(syn_opts), 0);
	pkt[6] = 0; /* hop-by-hop header before TCP: not parsed */
	assert_untouched(pkt, len, MTU);
	len = build(pkt, 0, 5, 0x02, syn_opts, sizeof(syn_opts), 0);
	pkt[0] = 0x55; /* IP version 5 */
	assert_untouched(pkt, len, MTU);
}

static void test_fragments_kept(void **state)
{
	uint8_t pkt[160];
	(void)state;
	size_t len = build(pkt, 0, 5, 0x02, syn_opts, sizeof(syn_opts), 0);
	pkt[6] = 0x00, pkt[7] = 0x03; /* offset 24 bytes: not a TCP header */
	assert_untouched(pkt, len, MTU);
	len = build(pkt, 0, 5, 0x02, syn_opts, sizeof(syn_opts), 0);
	pkt[6] = 0x21, pkt[7] = 0x00; /* MF and offset 2048 */
	assert_untouched(pkt, len, MTU);
}

static void test_truncated_kept(void **state)
{
	uint8_t pkt[160], full[160];
	(void)state;
	size_t len = build(full, 0, 5, 0x02, syn_opts, sizeof(syn_opts), 0);
	/* Every prefix short of the MSS option's end is left alone. */
	for (size_t cut = 0; cut < 20 + 24; cut++) {
		memcpy(pkt, full, len);
		assert_untouched(pkt, cut, MTU);
	}
	len = build(full, 1, 0, 0x02, syn_opts, sizeof(syn_opts), 0);
	for (size_t cut = 0; cut < 40 + 24; cut++) {
		memcpy(pkt, full, len);
		assert_untouched(pkt, cut, MTU);
	}
	/* IHL below 5, and an IHL pointing past the packet. */
	len = build(pkt, 0, 5, 0x02, syn_opts, sizeof(syn_opts), 0);
	pkt[0] = 0x44;
	assert_untouched(pkt, len, MTU);
	pkt[0] = 0x4f;
	assert_untouched(pkt, len, MTU);
}

static void test_malformed_options_kept(void **state)
{
	uint8_t pkt[160];
	(void)state;
	static const struct {
		uint8_t o[12];
		size_t n;
	} bad[] = {
	    {{0, 0, 0, 0, 2, 4, 0x05, 0xb4}, 8}, /* EOL before MSS */
	    {{3, 0, 2, 4, 0x05, 0xb4}, 6},	 /* option length 0 */
	    {{3, 1, 2, 4, 0x05, 0xb4}, 6},	 /* option length 1 */
	    {{8, 40, 2, 4, 0x05, 0xb4}, 6},	 /* length past doff */
	    {{2, 3, 0x05, 0xb4}, 4},		 /* MSS with length 3 */
	    {{2, 6, 0x05, 0xb4, 0, 0}, 6},	 /* MSS with length 6 */
	    {{1, 1, 1, 2}, 4},			 /* kind at the last byte */
	    {{8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 2, 4}, 12}, /* MSS cut by doff */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = build(pkt, 0, 5, 0x02, bad[i].o, bad[i].n, 0);
		assert_untouched(pkt, len, MTU);
		len = build(pkt, 1, 0, 0x02, bad[i].o, bad[i].n, 0);
		assert_untouched(pkt, len, MTU);
	}
	/* Data offset below 5 words, and past the end of the packet. */
	size_t len = build(pkt, 0, 5, 0x02, syn_opts, sizeof(syn_opts), 0);
	pkt[20 + 12] = 0x40;
	assert_untouched(pkt, len, MTU);
	len = build(pkt, 0, 5, 0x02, syn_opts, sizeof(syn_opts), 0);
	pkt[20 + 12] = 0xf0;
	assert_untouched(pkt, len, MTU);
}

/* Many random MSS values, checksums and MTUs: the result is always
 * min(mss, limit) with a checksum that verifies. */
static void test_random_checksums(void **state)
{
	uint8_t pkt[160];
	(void)state;
	srand(12345);
	for (int i = 0; i < 20000; i++) {
		int v6 = i & 1;
		uint16_t mss = (uint16_t)rand();
		uint32_t mtu = 576 + (uint32_t)(rand() % 9000);
		uint8_t opts[8] = {
		    1, 1, 2, 4, (uint8_t)(mss >> 8), (uint8_t)mss, 1, 1};
		size_t len = build(pkt, v6, 5, 0x02, opts, sizeof(opts),
				   (size_t)(rand() % 40));
		/* Vary the checksum: random ports and sequence number. */
		size_t l4 = v6 ? 40 : 20;
		for (int b = 0; b < 8; b++)
			pkt[l4 + b] = (uint8_t)rand();
		tcp_csum_set(pkt, len);
		clamp(pkt, len, mtu);
		uint32_t limit = mtu - (v6 ? 60 : 40);
		uint16_t want = mss > limit ? (uint16_t)limit : mss;
		assert_int_equal(mss_at(pkt, l4 + 24), want);
		assert_true(tcp_csum_ok(pkt, len));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4_syn_clamped),
	    cmocka_unit_test(test_ipv4_synack_and_ip_options),
	    cmocka_unit_test(test_ipv6_syn_clamped),
	    cmocka_unit_test(test_smaller_mss_kept),
	    cmocka_unit_test(test_non_syn_kept),
	    cmocka_unit_test(test_non_tcp_kept),
	    cmocka_unit_test(test_fragments_kept),
	    cmocka_unit_test(test_truncated_kept),
	    cmocka_unit_test(test_malformed_options_kept),
	    cmocka_unit_test(test_random_checksums),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
