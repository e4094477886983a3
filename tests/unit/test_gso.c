/*
 * Segmentation of tun super-packets (core/link/gso.c) on crafted packets:
 * IPv4 and IPv6 TCP with options, UDP, the short last segment, CWR on the
 * first and PSH/FIN on the last segment only, IPv4 IDs, sequence numbers,
 * and every checksum checked by the naive RFC 1071 sum below (big-endian
 * 16-bit words, nothing shared with csum.c). Malformed virtio headers are
 * refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <linux/virtio_net.h>

#include "link/csum.h"
#include "link/gso.h"

/* Independent checksum: sum of big-endian words, folded. */
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
/* ~sum over pseudo-header + L4 bytes: 0 when the checksum is right. */
static uint16_t l4_check(const uint8_t *ip, size_t len)
{
	int v6 = ip[0] >> 4 == 6;
	size_t l3 = v6 ? 40 : (size_t)(ip[0] & 15) * 4;
	uint8_t proto = v6 ? ip[6] : ip[9];
	uint32_t s = v6 ? naive_sum(ip + 8, 32, 0) : naive_sum(ip + 12, 8, 0);
	s += proto + (uint32_t)(len - l3);
	s = naive_sum(ip + l3, len - l3, s);
	return (uint16_t)~naive_fold(s);
}
static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint8_t pkt[70000], seg[2000];

/* A TCP super-packet as the kernel hands it: IPv4 (ID 0x1234, DF clear) or
 * IPv6, TCP with 12 bytes of options (NOP NOP timestamp), flags as given,
 * payload i*7 mod 251, the checksum field holding the pseudo-header sum
 * (CHECKSUM_PARTIAL). Returns the length. */
static size_t build_tcp(int v6, size_t payload, uint8_t flags)
{
	size_t l3 = v6 ? 40 : 20, l4 = 32, len = l3 + l4 + payload;
	memset(pkt, 0, l3 + l4);
	if (v6) {
		pkt[0] = 0x60;
		wr16(pkt + 4, (uint16_t)(len - 40)); /* kernel: any value */
		pkt[6] = 6;
		pkt[7] = 64;
		for (int i = 0; i < 16; i++) {
			pkt[8 + i] = (uint8_t)(0x20 + i);
			pkt[24 + i] = (uint8_t)(0x40 + i);
		}
	} else {
		pkt[0] = 0x45;
		wr16(pkt + 2, (uint16_t)len);
		wr16(pkt + 4, 0x1234);
		pkt[8] = 64;
		pkt[9] = 6;
		memcpy(pkt + 12, "\x0a\x4d\x00\x02\x0a\x63\x00\x02", 8);
	}
	uint8_t *th = pkt + l3;
	wr16(th, 40000);
	wr16(th + 2, 5201);
	memcpy(th + 4, "\xff\xff\xf0\x00", 4); /* seq wraps mid-packet */
	memcpy(th + 8, "\x00\x00\x10\x00", 4);
	th[12] = (uint8_t)(l4 / 4) << 4;
	th[13] = flags;
	wr16(th + 14, 512);
	memcpy(th + 20, "\x01\x01\x08\x0a\x11\x22\x33\x44\x55\x66\x77\x88", 12);
	for (size_t i = 0; i < payload; i++)
		pkt[l3 + l4 + i] = (uint8_t)(i * 7 % 251);
	uint32_t s = v6 ? naive_sum(pkt + 8, 32, 0) : naive_sum(pkt + 12, 8, 0);
	s += 6 + (uint32_t)(len - l3);
	wr16(th + 16, naive_fold(s));
	return len;
}

static struct vnet_hdr gso_hdr(int v6, uint16_t gso_size, size_t hdr)
{
	struct vnet_hdr vh = {
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .gso_type =
		v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4,
	    .hdr_len = (uint16_t)hdr,
	    .gso_size = gso_size,
	    .csum_start = v6 ? 40 : 20,
	    .csum_offset = 16,
	};
	return vh;
}

static void check_tcp_split(int v6, size_t payload, uint16_t mss, uint8_t flags)
{
	size_t l3 = v6 ? 40 : 20, hdr = l3 + 32;
	size_t len = build_tcp(v6, payload, flags);
	struct vnet_hdr vh = gso_hdr(v6, mss, hdr);
	struct gso_plan p;
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), 0);
	uint32_t want = (uint32_t)((payload + mss - 1) / mss);
	assert_int_equal(p.nseg, want);
	assert_int_equal(p.hdr_len, hdr);
	size_t got = 0;
	for (uint32_t i = 0; i < p.nseg; i++) {
		size_t n = gso_segment(&p, pkt, i, seg);
		size_t plen = i + 1 < p.nseg ? mss : payload - (size_t)mss * i;
		assert_int_equal(n, hdr + plen);
		const uint8_t *th = seg + l3;
		if (v6) {
			assert_int_equal(rd16(seg + 4), n - 40);
		} else {
			assert_int_equal(rd16(seg + 2), n);
			assert_int_equal(rd16(seg + 4), 0x1234 + i);
			assert_int_equal(naive_fold(naive_sum(seg, 20, 0)),
					 0xffff);
		}
		assert_int_equal(rd32(th + 4), 0xfffff000u + i * mss);
		assert_int_equal(rd32(th + 8), 0x1000);
		uint8_t f = th[13];
		bool last = i + 1 == p.nseg;
		assert_int_equal(f & 0x80, i == 0 ? (flags & 0x80) : 0);
		assert_int_equal(f & 0x09, last ? (flags & 0x09) : 0);
		assert_int_equal(f & 0x10, 0x10);
		/* ports, ACK, offset, window, urgent pointer, options as sent
		 */
		assert_memory_equal(th, pkt + l3, 4);
		assert_memory_equal(th + 8, pkt + l3 + 8, 4);
		assert_int_equal(th[12], pkt[l3 + 12]);
		assert_memory_equal(th + 14, pkt + l3 + 14, 2);
		assert_memory_equal(th + 18, pkt + l3 + 18, 14);
		assert_int_equal(l4_check(seg, n), 0);
		assert_memory_equal(seg + hdr, pkt + hdr + got, plen);
		got += plen;
	}
	assert_int_equal(got, payload);
}

static void test_tcp4_split(void **st)
{
	(void)st;
	check_tcp_split(0, 10000, 1380, 0x10);		 /* short last */
	check_tcp_split(0, 4 * 1380, 1380, 0x10 | 0x08); /* exact, PSH */
	check_tcp_split(0, 65000, 1380, 0x10 | 0x80 | 0x01);
	check_tcp_split(0, 1, 1380, 0x18); /* one segment */
	check_tcp_split(0, 999, 100, 0x19);
}

static void test_tcp6_split(void **st)
{
	(void)st;
	check_tcp_split(1, 10000, 1360, 0x10);
	check_tcp_split(1, 65000, 1360, 0x10 | 0x08 | 0x80);
	check_tcp_split(1, 3 * 1360 + 1, 1360, 0x11);
}

/* The kernel's hdr_len may cover payload (forwarding path): the header
 * length comes from the headers, and the cut is the same. */
static void test_hdr_len_generous(void **st)
{
	(void)st;
	size_t len = build_tcp(0, 5000, 0x10);
	struct vnet_hdr vh = gso_hdr(0, 1000, 52 + 1000);
	struct gso_plan p;
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), 0);
	assert_int_equal(p.hdr_len, 52);
	assert_int_equal(p.nseg, 5);
}

static void test_udp_split(void **st)
{
	(void)st;
	for (int v6 = 0; v6 < 2; v6++) {
		size_t l3 = v6 ? 40 : 20, payload = 3000,
		       len = l3 + 8 + payload;
		build_tcp(v6, 0, 0); /* IP header, then make it UDP */
		pkt[v6 ? 6 : 9] = 17;
		uint8_t *uh = pkt + l3;
		wr16(uh, 4433);
		wr16(uh + 2, 443);
		wr16(uh + 4, (uint16_t)(8 + payload));
		for (size_t i = 0; i < payload; i++)
			uh[8 + i] = (uint8_t)(i * 13);
		struct vnet_hdr vh = {VIRTIO_NET_HDR_F_NEEDS_CSUM,
				      5,
				      (uint16_t)(l3 + 8),
				      1200,
				      (uint16_t)l3,
				      6};
		struct gso_plan p;
		assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), 0);
		assert_int_equal(p.nseg, 3);
		for (uint32_t i = 0; i < 3; i++) {
			size_t n = gso_segment(&p, pkt, i, seg);
			size_t plen = i < 2 ? 1200 : 600;
			assert_int_equal(n, l3 + 8 + plen);
			assert_int_equal(rd16(seg + l3 + 4), 8 + plen);
			assert_int_equal(l4_check(seg, n), 0);
			assert_memory_equal(seg + l3 + 8, uh + 8 + 1200 * i,
					    plen);
			if (!v6)
				assert_int_equal(
				    naive_fold(naive_sum(seg, 20, 0)), 0xffff);
		}
	}
}

/* No GSO, checksum left to the daemon (TUN_F_CSUM): completed in place. */
static void test_csum_complete(void **st)
{
	(void)st;
	for (int v6 = 0; v6 < 2; v6++) {
		size_t len = build_tcp(v6, 333, 0x18), l3 = v6 ? 40 : 20;
		struct vnet_hdr vh = {VIRTIO_NET_HDR_F_NEEDS_CSUM,
				      0,
				      (uint16_t)(l3 + 32),
				      0,
				      (uint16_t)l3,
				      16};
		struct gso_plan p;
		assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), 0);
		assert_int_equal(p.nseg, 1);
		assert_true(p.csum);
		assert_int_not_equal(l4_check(pkt, len), 0);
		gso_csum_complete(&p, pkt);
		assert_int_equal(l4_check(pkt, len), 0);
	}
	/* nothing to do: flags 0 */
	size_t len = build_tcp(0, 10, 0x18);
	struct vnet_hdr vh = {0};
	struct gso_plan p;
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), 0);
	assert_false(p.csum);
	assert_int_equal(p.nseg, 1);
}

/* csum_add (its AVX2 steps and the scalar tail) against RFC 1071 done
 * the slow way, 16-bit big-endian words: every length from 0 to 700 at
 * every start offset 0..7, and chained from even offsets. */
static uint16_t ref_fold(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void test_csum_add(void **st)
{
	static uint8_t buf[4096];
	(void)st;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(rand() & 0xff);
	memset(buf + 2000, 0xff, 1000); /* carries everywhere */
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 700; len++) {
			uint16_t c = csum_fold(csum_add(0, buf + off, len));
			uint16_t r = ref_fold(buf + off, len);
			c = (uint16_t)(c >> 8 |
				       c << 8); /* host to wire order */
			if (len &&
			    (c == 0 ? 0xffff : c) != (r == 0 ? 0xffff : r))
				fail_msg("off %zu len %zu: %04x != %04x", off,
					 len, c, r);
		}
	for (size_t cut = 0; cut <= 3000; cut += 2) {
		uint64_t s = csum_add(0, buf + 1000, cut);
		s = csum_add(s, buf + 1000 + cut, 3000 - cut);
		uint16_t c = csum_fold(s);
		c = (uint16_t)(c >> 8 | c << 8);
		uint16_t r = ref_fold(buf + 1000, 3000);
		assert_int_equal(c == 0 ? 0xffff : c, r == 0 ? 0xffff : r);
	}
}

static void test_refused(void **st)
{
	(void)st;
	struct gso_plan p;
	size_t len = build_tcp(0, 5000, 0x10);
	struct vnet_hdr vh;

	vh = gso_hdr(0, 0, 52); /* gso_size 0 */
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), -EINVAL);
	vh = gso_hdr(0, 1000, 52);
	vh.csum_start = (uint16_t)len; /* beyond the packet */
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), -EINVAL);
	vh = gso_hdr(0, 1000, 52);
	vh.csum_offset = (uint16_t)(len - 20 - 1); /* field half outside */
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), -EINVAL);
	vh = gso_hdr(0, 1000, 52);
	vh.csum_start = 24; /* inside the packet but not at TCP */
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), -EINVAL);
	vh = gso_hdr(0, 1000, 52);
	vh.csum_offset = 6; /* UDP's place in a TCP packet */
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), -EINVAL);
	vh = gso_hdr(0, 1000, (uint16_t)(len + 1)); /* hdr_len lies */
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), -EINVAL);
	vh = gso_hdr(0, 1000, 52);
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP; /* UFO: not handled */
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), -EPROTONOSUPPORT);
	vh.gso_type = 0x42; /* unknown */
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), -EPROTONOSUPPORT);
	vh = gso_hdr(1, 1000, 52); /* TCPV6 on an IPv4 packet */
	vh.csum_start = 20;
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), -EINVAL);
	vh = gso_hdr(0, 1000, 52);
	vh.gso_type = 5; /* UDP_L4 on TCP */
	vh.csum_offset = 6;
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), -EINVAL);
	vh = gso_hdr(0, 1460, 52); /* segments too big for the slot */
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), -EMSGSIZE);
	vh = gso_hdr(0, 1000, 52); /* no payload */
	assert_int_equal(gso_plan(&vh, pkt, 52, 1500, &p), -EINVAL);
	vh = gso_hdr(0, 1000, 52); /* TCP header cut short */
	assert_int_equal(gso_plan(&vh, pkt, 45, 1500, &p), -EINVAL);
	pkt[20 + 12] = 0x30; /* doff 12 bytes */
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), -EINVAL);
	build_tcp(0, 5000, 0x12); /* SYN in a GSO packet */
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), -EINVAL);
	build_tcp(0, 5000, 0x10);
	pkt[6] = 0x20; /* a fragment */
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), -EINVAL);
	build_tcp(0, 5000, 0x10);
	pkt[0] = 0x44; /* IHL 16 */
	assert_int_equal(gso_plan(&vh, pkt, len, 1500, &p), -EINVAL);
	/* no GSO, partial checksum pointing outside */
	struct vnet_hdr nv = {VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 60, 16};
	assert_int_equal(gso_plan(&nv, pkt, 70, 1500, &p), -EINVAL);
}

static void test_vnet_hdr_codec(void **st)
{
	(void)st;
	uint8_t b[VNET_HDR_LEN];
	struct vnet_hdr a = {1, 4, 0x0102, 0x0304, 0x0506, 0x0708}, c;
	vnet_hdr_encode(b, &a);
	assert_memory_equal(b, "\x01\x04\x02\x01\x04\x03\x06\x05\x08\x07",
			    VNET_HDR_LEN); /* little-endian */
	vnet_hdr_decode(b, &c);
	assert_memory_equal(&a, &c, sizeof(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tcp4_split),
	    cmocka_unit_test(test_tcp6_split),
	    cmocka_unit_test(test_hdr_len_generous),
	    cmocka_unit_test(test_udp_split),
	    cmocka_unit_test(test_csum_complete),
	    cmocka_unit_test(test_csum_add),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_vnet_hdr_codec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
