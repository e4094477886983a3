/*
 * TCP receive coalescing (see gro.h). The rules follow the kernel's own GRO
 * (tcp_gro_receive, inet_gro_receive, ipv6_gro_receive), so a super-packet
 * is one the kernel would have built itself: same addresses, ports, ACK
 * number, window, TCP options and IP header fields (TOS/traffic class,
 * TTL/hop limit, DF, flow label); sequence numbers exactly adjacent; equal
 * payload sizes except a shorter last one; PSH only on the last segment;
 * no SYN, FIN, RST, URG, CWR or ECE; no IPv4 options or fragments, no IPv6
 * extension headers; IPv4 IDs counting up unless DF is set. Every
 * segment's checksum is verified before it is merged: the super-packet is
 * handed over as CHECKSUM_PARTIAL, so a bad segment would otherwise be
 * laundered into a good one. Anything that does not qualify is passed on
 * unchanged, after what its flow holds, so a flow's order never changes.
 */
#include "link/gro.h"

#include <linux/virtio_net.h>
#include <string.h>

#include "link/csum.h"

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10

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

static const uint8_t zero_vh[VNET_HDR_LEN];

/* What gro_add needs to know about a TCP packet. */
struct seg {
	bool v6, df;
	uint8_t l3, l4, flags;
	uint16_t id;
	uint32_t seq, plen;
};

/* 1: a TCP segment that may be merged; 0: TCP, but to be passed on as it
 * is (after its flow); -1: not TCP or not parseable. */
static int seg_parse(const uint8_t *pkt, size_t len, struct seg *s)
{
	memset(s, 0, sizeof(*s));
	if (len < 40 || len > 65535)
		return -1;
	if (pkt[0] == 0x45) {
		if (pkt[9] != 6)
			return -1;
		s->l3 = 20;
		if (rd16(pkt + 2) != len || (rd16(pkt + 6) & 0x3fff))
			return -1; /* length lies, or a fragment */
		s->df = pkt[6] & 0x40;
		s->id = rd16(pkt + 4);
	} else if (pkt[0] >> 4 == 6) {
		if (len < 60 || pkt[6] != 6 || rd16(pkt + 4) != len - 40)
			return -1;
		s->v6 = true;
		s->l3 = 40;
	} else {
		return -1;
	}
	const uint8_t *th = pkt + s->l3;
	s->l4 = (uint8_t)((th[12] >> 4) * 4);
	if (s->l4 < 20 || (size_t)s->l3 + s->l4 > len)
		return -1;
	s->flags = th[13];
	s->seq = rd32(th + 4);
	s->plen = (uint32_t)(len - s->l3 - s->l4);
	if (s->flags != TCP_ACK && s->flags != (TCP_ACK | TCP_PSH))
		return 0;
	if (s->plen == 0)
		return 0;
	return 1;
}

/* Same 4-tuple (and family) as the flow's first segment. */
static bool same_flow(const struct gro_flow *f, const uint8_t *pkt,
		      const struct seg *s)
{
	const uint8_t *h = f->head + VNET_HDR_LEN;
	if (!f->used || f->v6 != s->v6)
		return false;
	if (s->v6 ? memcmp(h + 8, pkt + 8, 32) : memcmp(h + 12, pkt + 12, 8))
		return false;
	return memcmp(h + f->l3, pkt + s->l3, 4) == 0;
}

static bool can_append(const struct gro_flow *f, const uint8_t *pkt,
		       const struct seg *s, void *owner)
{
	const uint8_t *h = f->head + VNET_HDR_LEN;
	const uint8_t *th = pkt + s->l3, *fh = h + f->l3;
	if (f->closed || f->owner != owner || f->nseg >= GRO_MAX_SEGS)
		return false;
	if (s->seq != f->next_seq || s->plen > f->gso_size)
		return false;
	if ((size_t)f->l3 + f->l4 + f->bytes + s->plen > 65535)
		return false;
	if (s->l4 != f->l4 || memcmp(fh + 20, th + 20, s->l4 - 20u))
		return false; /* TCP options differ */
	if (memcmp(fh + 8, th + 8, 4) || memcmp(fh + 14, th + 14, 2))
		return false; /* ACK number or window differ */
	if (s->v6) {
		if (memcmp(h, pkt, 4) || h[7] != pkt[7])
			return false; /* class, flow label, hop limit */
	} else {
		if (h[1] != pkt[1] || h[8] != pkt[8] ||
		    (h[6] & 0xe0) != (pkt[6] & 0xe0))
			return false; /* TOS, TTL, DF */
		if (!s->df && s->id != f->next_id)
			return false;
	}
	return true;
}

static void flow_emit(struct gro *g, struct gro_flow *f)
{
	uint8_t *ip = f->head + VNET_HDR_LEN;
	struct vnet_hdr vh = {0};
	if (f->nseg > 1) {
		uint32_t total = f->l3 + f->l4 + f->bytes;
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.gso_type =
		    f->v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
		vh.hdr_len = (uint16_t)(f->l3 + f->l4);
		vh.gso_size = f->gso_size;
		vh.csum_start = f->l3;
		vh.csum_offset = 16;
		if (f->v6) {
			wr16(ip + 4, (uint16_t)(total - 40));
		} else {
			wr16(ip + 2, (uint16_t)total);
			ip[10] = ip[11] = 0;
			csum_store(ip + 10, (uint16_t)~csum_fold(
						csum_add(0, ip, f->l3)));
		}
		/* CHECKSUM_PARTIAL: the field holds the pseudo-header sum */
		csum_store(ip + f->l3 + 16,
			   csum_fold(csum_pseudo(ip, f->v6, 6, total - f->l3)));
		g->supers++;
		g->merged += f->nseg;
	}
	vnet_hdr_encode(f->head, &vh);
	f->used = false;
	g->held -= f->nseg;
	g->emit(g->arg, f->owner, f->iov, (int)(1 + f->nseg), f->cookie,
		f->nseg);
}

static void pass_on(struct gro *g, const uint8_t *pkt, size_t len, void *owner,
		    void *cookie)
{
	struct iovec iov[2] = {{(void *)zero_vh, VNET_HDR_LEN},
			       {(void *)pkt, len}};
	g->emit(g->arg, owner, iov, 2, &cookie, 1);
}

static void flow_start(struct gro *g, struct gro_flow *f, const uint8_t *pkt,
		       const struct seg *s, void *owner, void *cookie)
{
	f->used = true;
	f->v6 = s->v6;
	f->l3 = s->l3;
	f->l4 = s->l4;
	f->gso_size = (uint16_t)s->plen;
	f->closed = s->flags & TCP_PSH;
	f->next_seq = s->seq + s->plen;
	f->next_id = (uint16_t)(s->id + 1);
	f->bytes = s->plen;
	f->nseg = 1;
	f->owner = owner;
	memcpy(f->head + VNET_HDR_LEN, pkt, (size_t)s->l3 + s->l4);
	f->iov[0].iov_base = f->head;
	f->iov[0].iov_len = VNET_HDR_LEN + (size_t)s->l3 + s->l4;
	f->iov[1].iov_base = (void *)(pkt + s->l3 + s->l4);
	f->iov[1].iov_len = s->plen;
	f->cookie[0] = cookie;
	g->held++;
}

void gro_init(struct gro *g, gro_emit_fn emit, void *arg)
{
	memset(g, 0, sizeof(*g));
	g->emit = emit;
	g->arg = arg;
}

void gro_add(struct gro *g, const uint8_t *pkt, size_t len, void *owner,
	     void *cookie)
{
	struct seg s;
	int c = seg_parse(pkt, len, &s);
	if (c < 0) {
		pass_on(g, pkt, len, owner, cookie);
		return;
	}
	struct gro_flow *f = NULL, *free_f = NULL;
	for (int i = 0; i < GRO_FLOWS; i++) {
		if (same_flow(&g->flow[i], pkt, &s)) {
			f = &g->flow[i];
			break;
		}
		if (!g->flow[i].used && !free_f)
			free_f = &g->flow[i];
	}
	if (c == 1) {
		uint64_t sum = csum_pseudo(pkt, s.v6, 6, (uint32_t)len - s.l3);
		if (csum_fold(csum_add(sum, pkt + s.l3, len - s.l3)) !=
		    0xffff) {
			g->bad_csum++;
			c = 0;
		}
	}
	if (c == 0) {
		if (f)
			flow_emit(g, f);
		pass_on(g, pkt, len, owner, cookie);
		return;
	}
	if (f && can_append(f, pkt, &s, owner)) {
		uint32_t n = f->nseg++;
		f->iov[1 + n].iov_base = (void *)(pkt + s.l3 + s.l4);
		f->iov[1 + n].iov_len = s.plen;
		f->cookie[n] = cookie;
		f->bytes += s.plen;
		f->next_seq += s.plen;
		f->next_id++;
		g->held++;
		if (s.flags & TCP_PSH) {
			f->head[VNET_HDR_LEN + f->l3 + 13] |= TCP_PSH;
			f->closed = true;
		}
		if (s.plen < f->gso_size)
			f->closed = true;
		return;
	}
	if (f) {
		flow_emit(g, f);
	} else if (!free_f) {
		gro_flush(g);
		free_f = &g->flow[0];
	}
	flow_start(g, f ? f : free_f, pkt, &s, owner, cookie);
}

void gro_flush(struct gro *g)
{
	for (int i = 0; i < GRO_FLOWS; i++)
		if (g->flow[i].used)
			flow_emit(g, &g->flow[i]);
}
