/*
 * libFuzzer harness over the offload parsers, from the shipping sources:
 * the first 10 bytes are a virtio_net_hdr as the tun would hand it, the
 * rest the packet behind it (gso_plan, then every segment gso_segment
 * writes), and the same bytes cut into inner packets for the coalescer
 * (gro_add/gro_flush: what a peer's hosts can put inside the tunnel).
 * Besides "no crash, no out-of-bounds access" it checks the contracts:
 * a plan's segments fit max_seg and cover the payload exactly; every
 * packet given to the coalescer is emitted exactly once, and a write is
 * never longer than 64 KiB plus the virtio header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "link/csum.h"
#include "link/gro.h"
#include "link/gso.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

static uint8_t seg[2048];
static int emitted[64];

static void emit(void *arg, void *owner, const struct iovec *iov, int iovcnt,
		 void *const *cookie, uint32_t nseg)
{
	size_t total = 0;
	(void)arg;
	(void)owner;
	for (int i = 0; i < iovcnt; i++) {
		fuzz_check(iov[i].iov_base != NULL || iov[i].iov_len == 0);
		/* touch every byte, so ASan sees a stale pointer */
		volatile const uint8_t *p = iov[i].iov_base;
		for (size_t j = 0; j < iov[i].iov_len; j++)
			(void)p[j];
		total += iov[i].iov_len;
	}
	fuzz_check(total <= VNET_HDR_LEN + 65535);
	fuzz_check(nseg >= 1);
	for (uint32_t i = 0; i < nseg; i++)
		emitted[(uintptr_t)cookie[i]]++;
}

/* Makes an IPv4/IPv6 TCP packet self-consistent (lengths, checksum), so
 * the coalescer's merge path is reached, not only its refusals. */
static void repair(uint8_t *b, size_t l)
{
	int v6 = b[0] >> 4 == 6;
	size_t l3 = v6 ? 40 : 20;
	if (l < l3 + 20 || l > 65535 || (!v6 && b[0] != 0x45))
		return;
	if (v6) {
		b[4] = (uint8_t)((l - 40) >> 8);
		b[5] = (uint8_t)(l - 40);
		b[6] = 6;
	} else {
		b[2] = (uint8_t)(l >> 8);
		b[3] = (uint8_t)l;
		b[6] &= 0x40;
		b[7] = 0;
		b[9] = 6;
	}
	b[l3 + 16] = b[l3 + 17] = 0;
	uint64_t sum = csum_pseudo(b, v6, 6, (uint32_t)(l - l3));
	csum_store(b + l3 + 16,
		   (uint16_t)~csum_fold(csum_add(sum, b + l3, l - l3)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < VNET_HDR_LEN)
		return 0;
	struct vnet_hdr vh;
	struct gso_plan p;
	vnet_hdr_decode(data, &vh);
	const uint8_t *pkt = data + VNET_HDR_LEN;
	size_t len = size - VNET_HDR_LEN;
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, pkt, len);
	if (gso_plan(&vh, copy, len, 1500, &p) == 0) {
		if (p.nseg == 1 && p.csum) {
			gso_csum_complete(&p, copy);
		} else if (p.nseg > 1 || p.proto) {
			size_t payload = 0;
			fuzz_check(p.hdr_len + p.gso_size <= 1500);
			for (uint32_t i = 0; i < p.nseg; i++) {
				size_t n = gso_segment(&p, copy, i, seg);
				fuzz_check(n > p.hdr_len && n <= 1500);
				payload += n - p.hdr_len;
			}
			fuzz_check(payload == len - p.hdr_len);
		}
	}
	free(copy);

	/* The bytes as inner packets: a length byte, then 40 + 8 * (byte
	 * >> 1) bytes, each a packet in its own buffer; an odd byte asks for
	 * the packet's lengths and TCP checksum to be made right. */
	struct gro g;
	uint8_t *bufs[64];
	int n = 0;
	gro_init(&g, emit, NULL);
	memset(emitted, 0, sizeof(emitted));
	for (size_t at = 0; at < len && n < 64;) {
		uint8_t lb = pkt[at++];
		size_t l = 40 + (size_t)(lb >> 1) * 8;
		if (l > len - at)
			l = len - at;
		bufs[n] = malloc(l ? l : 1);
		memcpy(bufs[n], pkt + at, l);
		if (lb & 1)
			repair(bufs[n], l);
		gro_add(&g, bufs[n], l, NULL, (void *)(uintptr_t)n);
		n++;
		at += l;
	}
	gro_flush(&g);
	fuzz_check(g.held == 0);
	for (int i = 0; i < n; i++) {
		fuzz_check(emitted[i] == 1);
		free(bufs[i]);
	}
	return 0;
}
