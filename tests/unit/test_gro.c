/*
 * TCP receive coalescing (core/link/gro.c) on crafted segments: in-order
 * segments of one flow become one super-packet whose virtio header, IP
 * length, IPv4 header checksum and pseudo-header sum (CHECKSUM_PARTIAL) are
 * checked by the naive RFC 1071 sum below; the short last segment and PSH
 * end a group; gaps, other ACKs, IPv4 ID jumps, bad checksums, FIN and
 * non-TCP packets are passed on unmerged, after what their flow holds;
 * every packet is emitted exactly once and a flow's bytes stay in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <linux/virtio_net.h>

#include "link/gro.h"

static uint32_t naive_sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}
static uint16_t naive_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}
static uint32_t pseudo(const uint8_t *ip, int v6, size_t l4len)
{
	uint32_t s = v6 ? naive_sum(ip + 8, 32, 0) : naive_sum(ip + 12, 8, 0);
	return s + 6 + (uint32_t)l4len;
}
static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

/* Crafted segments live here until emitted. */
#define NPKT 200
static uint8_t pk[NPKT][1600];
static size_t pklen[NPKT];

/* Segment n of a flow: IPv4 (DF, ID 100+n) or IPv6, TCP port sport->80,
 * 12 bytes of options, seq, flags, plen payload bytes that continue the
 * flow's byte stream (byte at stream offset o is o*11 mod 253), a right
 * checksum. */
static uint8_t *mkseg(int n, int v6, uint16_t sport, uint32_t seq,
		      uint8_t flags, size_t plen)
{
	uint8_t *p = pk[n];
	size_t l3 = v6 ? 40 : 20, len = l3 + 32 + plen;
	memset(p, 0, l3 + 32);
	if (v6) {
		p[0] = 0x60;
		wr16(p + 4, (uint16_t)(len - 40));
		p[6] = 6;
		p[7] = 63;
		memset(p + 8, 0xaa, 16);
		memset(p + 24, 0xbb, 16);
	} else {
		p[0] = 0x45;
		wr16(p + 2, (uint16_t)len);
		wr16(p + 4, (uint16_t)(100 + n));
		p[6] = 0x40;
		p[8] = 63;
		p[9] = 6;
		memcpy(p + 12, "\x0a\x63\x00\x02\x0a\x4d\x00\x02", 8);
		wr16(p + 10, (uint16_t)~naive_fold(naive_sum(p, 20, 0)));
	}
	uint8_t *th = p + l3;
	wr16(th, sport);
	wr16(th + 2, 80);
	wr32(th + 4, seq);
	wr32(th + 8, 777);
	th[12] = 0x80;
	th[13] = flags;
	wr16(th + 14, 1000);
	memcpy(th + 20, "\x01\x01\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x02", 12);
	for (size_t i = 0; i < plen; i++)
		th[32 + i] = (uint8_t)((uint32_t)(seq + i) * 11 % 253);
	wr16(th + 16, (uint16_t)~naive_fold(
			  naive_sum(th, 32 + plen, pseudo(p, v6, 32 + plen))));
	pklen[n] = len;
	return p;
}

/* What was emitted, flattened. */
#define NOUT 200
static uint8_t out[NOUT][70000];
static size_t outlen[NOUT];
static uint32_t outseg[NOUT];
static int nout;
static int seen[NPKT];

static void emit(void *arg, void *owner, const struct iovec *iov, int iovcnt,
		 void *const *cookie, uint32_t nseg)
{
	(void)arg;
	assert_ptr_equal(owner, (void *)0x5e55);
	assert_true(nout < NOUT);
	assert_int_equal((int)nseg + 1, iovcnt == 2 && nseg == 1 ? 2 : iovcnt);
	size_t at = 0;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(out[nout] + at, iov[i].iov_base, iov[i].iov_len);
		at += iov[i].iov_len;
	}
	for (uint32_t i = 0; i < nseg; i++)
		seen[(uintptr_t)cookie[i]]++;
	outlen[nout] = at;
	outseg[nout] = nseg;
	nout++;
}

static struct gro g;
static int setup(void **st)
{
	(void)st;
	gro_init(&g, emit, NULL);
	nout = 0;
	memset(seen, 0, sizeof(seen));
	return 0;
}
static void add(int n)
{
	gro_add(&g, pk[n], pklen[n], (void *)0x5e55, (void *)(uintptr_t)n);
}

/* Checks emitted write w as a super-packet of nseg segments carrying the
 * stream from seq for bytes bytes, gso_size gs, and returns its flags. */
static uint8_t check_super(int w, int v6, uint32_t seq, size_t bytes,
			   uint16_t gs, uint32_t nseg)
{
	size_t l3 = v6 ? 40 : 20;
	struct vnet_hdr vh;
	vnet_hdr_decode(out[w], &vh);
	const uint8_t *ip = out[w] + VNET_HDR_LEN;
	size_t len = outlen[w] - VNET_HDR_LEN;
	assert_int_equal(outseg[w], nseg);
	assert_int_equal(len, l3 + 32 + bytes);
	const uint8_t *th = ip + l3;
	assert_int_equal((uint32_t)rd16(th + 4) << 16 | rd16(th + 6), seq);
	for (size_t i = 0; i < bytes; i++)
		assert_int_equal(th[32 + i],
				 (uint8_t)((uint32_t)(seq + i) * 11 % 253));
	if (nseg == 1) {
		assert_int_equal(vh.flags, 0);
		assert_int_equal(vh.gso_type, 0);
		assert_int_equal(naive_fold(naive_sum(
				     th, len - l3, pseudo(ip, v6, len - l3))),
				 0xffff);
		return th[13];
	}
	assert_int_equal(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(vh.gso_type, v6 ? VIRTIO_NET_HDR_GSO_TCPV6
					 : VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(vh.hdr_len, l3 + 32);
	assert_int_equal(vh.gso_size, gs);
	assert_int_equal(vh.csum_start, l3);
	assert_int_equal(vh.csum_offset, 16);
	if (v6) {
		assert_int_equal(rd16(ip + 4), len - 40);
	} else {
		assert_int_equal(rd16(ip + 2), len);
		assert_int_equal(naive_fold(naive_sum(ip, 20, 0)), 0xffff);
	}
	/* partial: the pseudo-header sum, not complemented */
	assert_int_equal(rd16(th + 16), naive_fold(pseudo(ip, v6, len - l3)));
	return th[13];
}

static void test_merge_in_order(void **st)
{
	(void)st;
	for (int v6 = 0; v6 < 2; v6++) {
		setup(NULL);
		uint32_t seq = 0xfffffc00u; /* wraps */
		for (int i = 0; i < 5; i++)
			mkseg(i, v6, 1000, seq + 1000u * (uint32_t)i, 0x10,
			      i < 4 ? 1000 : 300); /* short last */
		for (int i = 0; i < 5; i++)
			add(i);
		assert_int_equal(nout, 0); /* held until the flush */
		gro_flush(&g);
		assert_int_equal(nout, 1);
		uint8_t f = check_super(0, v6, seq, 4300, 1000, 5);
		assert_int_equal(f, 0x10);
		for (int i = 0; i < 5; i++)
			assert_int_equal(seen[i], 1);
		assert_int_equal(g.held, 0);
	}
}

/* After the short segment nothing more is appended: a new write. */
static void test_short_ends(void **st)
{
	(void)st;
	setup(NULL);
	mkseg(0, 0, 1, 0, 0x10, 1000);
	mkseg(1, 0, 1, 1000, 0x10, 500);
	mkseg(2, 0, 1, 1500, 0x10, 500);
	for (int i = 0; i < 3; i++)
		add(i);
	gro_flush(&g);
	assert_int_equal(nout, 2);
	check_super(0, 0, 0, 1500, 1000, 2);
	check_super(1, 0, 1500, 500, 0, 1);
}

/* PSH on the last segment is kept (and only there); a PSH segment closes
 * the group; a PSH first segment stands alone. */
static void test_psh(void **st)
{
	(void)st;
	setup(NULL);
	mkseg(0, 1, 2, 0, 0x10, 1000);
	mkseg(1, 1, 2, 1000, 0x18, 1000);
	mkseg(2, 1, 2, 2000, 0x10, 1000);
	mkseg(3, 1, 2, 3000, 0x10, 1000);
	for (int i = 0; i < 4; i++)
		add(i);
	gro_flush(&g);
	assert_int_equal(nout, 2);
	assert_int_equal(check_super(0, 1, 0, 2000, 1000, 2), 0x18);
	assert_int_equal(check_super(1, 1, 2000, 2000, 1000, 2), 0x10);
}

/* A FIN (or anything unmergeable of the flow) goes out after what the
 * flow holds, unchanged. */
static void test_fin_after_flow(void **st)
{
	(void)st;
	setup(NULL);
	mkseg(0, 0, 3, 0, 0x10, 1000);
	mkseg(1, 0, 3, 1000, 0x10, 1000);
	mkseg(2, 0, 3, 2000, 0x11, 1000);
	for (int i = 0; i < 3; i++)
		add(i);
	assert_int_equal(nout, 2); /* both out at once, flow first */
	check_super(0, 0, 0, 2000, 1000, 2);
	assert_int_equal(check_super(1, 0, 2000, 1000, 0, 1), 0x11);
	gro_flush(&g);
	assert_int_equal(nout, 2);
}

static void test_not_merged(void **st)
{
	(void)st;
	/* a gap */
	setup(NULL);
	mkseg(0, 0, 4, 0, 0x10, 1000);
	mkseg(1, 0, 4, 2000, 0x10, 1000);
	add(0);
	add(1);
	gro_flush(&g);
	assert_int_equal(nout, 2);
	check_super(0, 0, 0, 1000, 0, 1);
	check_super(1, 0, 2000, 1000, 0, 1);

	/* another ACK number */
	setup(NULL);
	mkseg(0, 0, 4, 0, 0x10, 1000);
	uint8_t *p = mkseg(1, 0, 4, 1000, 0x10, 1000);
	p[20 + 11] ^= 1;
	wr16(p + 20 + 16, 0);
	wr16(p + 20 + 16, (uint16_t)~naive_fold(
			      naive_sum(p + 20, 1032, pseudo(p, 0, 1032))));
	add(0);
	add(1);
	gro_flush(&g);
	assert_int_equal(nout, 2);

	/* IPv4 without DF: IDs must count up */
	setup(NULL);
	for (int i = 0; i < 3; i++) {
		p = mkseg(i, 0, 5, 1000u * (uint32_t)i, 0x10, 1000);
		p[6] = 0;
		if (i == 2)
			wr16(p + 4, 999);
		wr16(p + 10, 0);
		wr16(p + 10, (uint16_t)~naive_fold(naive_sum(p, 20, 0)));
	}
	for (int i = 0; i < 3; i++)
		add(i);
	gro_flush(&g);
	assert_int_equal(nout, 2);
	check_super(0, 0, 0, 2000, 1000, 2);

	/* a bad checksum is never merged: passed on for the kernel to drop */
	setup(NULL);
	mkseg(0, 0, 6, 0, 0x10, 1000);
	p = mkseg(1, 0, 6, 1000, 0x10, 1000);
	p[100] ^= 0x40;
	mkseg(2, 0, 6, 2000, 0x10, 1000);
	for (int i = 0; i < 3; i++)
		add(i);
	gro_flush(&g);
	assert_int_equal(nout, 3);
	assert_int_equal(g.bad_csum, 1);
	assert_int_equal(outseg[1], 1);
	assert_memory_equal(out[1] + VNET_HDR_LEN, pk[1], pklen[1]);
}

/* Other protocols pass straight through, at once and byte for byte. */
static void test_passthrough(void **st)
{
	(void)st;
	setup(NULL);
	uint8_t *p = mkseg(0, 0, 7, 0, 0x10, 100);
	p[9] = 17; /* UDP */
	add(0);
	assert_int_equal(nout, 1);
	assert_int_equal(outlen[0], VNET_HDR_LEN + pklen[0]);
	assert_memory_equal(out[0], "\0\0\0\0\0\0\0\0\0\0", VNET_HDR_LEN);
	assert_memory_equal(out[0] + VNET_HDR_LEN, pk[0], pklen[0]);
	/* a pure ACK (no payload) too */
	mkseg(1, 1, 7, 0, 0x10, 0);
	add(1);
	assert_int_equal(nout, 2);
	/* garbage shorter than any header */
	pklen[2] = 3;
	add(2);
	assert_int_equal(nout, 3);
}

/* Interleaved flows each coalesce; more flows than the table holds still
 * emit every packet exactly once, each flow's stream in order. */
static void test_many_flows(void **st)
{
	(void)st;
	setup(NULL);
	int n = 0;
	for (int r = 0; r < 4; r++)
		for (int fl = 0; fl < 2; fl++)
			mkseg(n++, fl, (uint16_t)(10 + fl), 1000u * (uint32_t)r,
			      0x10, 1000);
	for (int i = 0; i < n; i++)
		add(i);
	gro_flush(&g);
	assert_int_equal(nout, 2);
	check_super(0, 0, 0, 4000, 1000, 4);
	check_super(1, 1, 0, 4000, 1000, 4);

	setup(NULL);
	n = 0;
	for (int r = 0; r < 3; r++)
		for (int fl = 0; fl < GRO_FLOWS + 3; fl++)
			mkseg(n++, 0, (uint16_t)(100 + fl), 1000u * (uint32_t)r,
			      0x10, 1000);
	for (int i = 0; i < n; i++)
		add(i);
	gro_flush(&g);
	for (int i = 0; i < n; i++)
		assert_int_equal(seen[i], 1);
	/* per flow (sport), the writes' sequence numbers only go up */
	uint32_t next[GRO_FLOWS + 3] = {0};
	for (int w = 0; w < nout; w++) {
		const uint8_t *th = out[w] + VNET_HDR_LEN + 20;
		int fl = rd16(th) - 100;
		uint32_t seq = (uint32_t)rd16(th + 4) << 16 | rd16(th + 6);
		assert_int_equal(seq, next[fl]);
		next[fl] += (uint32_t)(outlen[w] - VNET_HDR_LEN - 52);
	}
	for (int fl = 0; fl < GRO_FLOWS + 3; fl++)
		assert_int_equal(next[fl], 3000);
}

/* At most GRO_MAX_SEGS segments and 64 KiB per write. */
static void test_limits(void **st)
{
	(void)st;
	setup(NULL);
	for (int i = 0; i < GRO_MAX_SEGS + 2; i++)
		mkseg(i, 1, 9, 500u * (uint32_t)i, 0x10, 500);
	for (int i = 0; i < GRO_MAX_SEGS + 2; i++)
		add(i);
	gro_flush(&g);
	assert_int_equal(nout, 2);
	assert_int_equal(outseg[0], GRO_MAX_SEGS);
	setup(NULL);
	for (int i = 0; i < 50; i++)
		mkseg(i, 0, 9, 1400u * (uint32_t)i, 0x10, 1400);
	for (int i = 0; i < 50; i++)
		add(i);
	gro_flush(&g);
	assert_int_equal(nout, 2);
	assert_true(outlen[0] - VNET_HDR_LEN <= 65535);
	assert_int_equal(outseg[0], (65535 - 52) / 1400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_merge_in_order, setup),
	    cmocka_unit_test_setup(test_short_ends, setup),
	    cmocka_unit_test_setup(test_psh, setup),
	    cmocka_unit_test_setup(test_fin_after_flow, setup),
	    cmocka_unit_test_setup(test_not_merged, setup),
	    cmocka_unit_test_setup(test_passthrough, setup),
	    cmocka_unit_test_setup(test_many_flows, setup),
	    cmocka_unit_test_setup(test_limits, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
