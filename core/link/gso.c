/*
 * Segmentation of tun super-packets (see gso.h). The kernel's rules, as
 * tcp_gso_segment()/__udp_gso_segment() apply them, are the spec: every
 * segment carries a copy of the headers; IPv4 IDs count up from the first;
 * the TCP sequence number advances by gso_size; CWR stays on the first
 * segment, FIN and PSH on the last; each segment gets its own checksum.
 * The kernel's hdr_len is not trusted for the header length (on the
 * forwarding path it can cover the whole linear part, i.e. payload too):
 * the length comes from the IP and TCP headers themselves.
 */
#include "link/gso.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_net.h>
#include <string.h>

#include "link/csum.h"

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static void wrle16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void vnet_hdr_decode(const uint8_t *b, struct vnet_hdr *h)
{
	h->flags = b[0];
	h->gso_type = b[1];
	h->hdr_len = le16(b + 2);
	h->gso_size = le16(b + 4);
	h->csum_start = le16(b + 6);
	h->csum_offset = le16(b + 8);
}

void vnet_hdr_encode(uint8_t *b, const struct vnet_hdr *h)
{
	b[0] = h->flags;
	b[1] = h->gso_type;
	wrle16(b + 2, h->hdr_len);
	wrle16(b + 4, h->gso_size);
	wrle16(b + 6, h->csum_start);
	wrle16(b + 8, h->csum_offset);
}

/* IP header length and L4 protocol of pkt, or -EINVAL. IPv6 extension
 * headers are not walked: a GSO packet from the kernel's TCP or UDP has
 * none, and anything else is refused rather than cut wrongly. */
static int ip_l3(const uint8_t *pkt, size_t len, bool *v6, uint8_t *proto)
{
	if (len < 20)
		return -EINVAL;
	if (pkt[0] >> 4 == 4) {
		size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
		if (ihl < 20 || ihl > len)
			return -EINVAL;
		/* a fragment cannot be a GSO packet */
		if ((rd16(pkt + 6) & 0x3fff) != 0)
			return -EINVAL;
		*v6 = false;
		*proto = pkt[9];
		return (int)ihl;
	}
	if (pkt[0] >> 4 == 6 && len >= 40) {
		*v6 = true;
		*proto = pkt[6];
		return 40;
	}
	return -EINVAL;
}

int gso_plan(const struct vnet_hdr *vh, const uint8_t *pkt, size_t len,
	     size_t max_seg, struct gso_plan *p)
{
	uint8_t type = vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	bool need = vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;

	memset(p, 0, sizeof(*p));
	if (len > 65535 + 40 || len == 0)
		return -EINVAL;
	p->len = (uint32_t)len;
	p->nseg = 1;
	if (vh->hdr_len > len)
		return -EINVAL;
	if (need) {
		/* the 2-byte field must lie inside the packet */
		if ((size_t)vh->csum_start + vh->csum_offset + 2 > len)
			return -EINVAL;
	}
	if (type == VIRTIO_NET_HDR_GSO_NONE) {
		p->csum = need;
		p->csum_start = vh->csum_start;
		p->csum_offset = vh->csum_offset;
		return 0;
	}
	if (type != VIRTIO_NET_HDR_GSO_TCPV4 &&
	    type != VIRTIO_NET_HDR_GSO_TCPV6 &&
	    type != VIRTIO_NET_HDR_GSO_UDP_L4)
		return -EPROTONOSUPPORT;
	if (vh->gso_size == 0)
		return -EINVAL;

	uint8_t proto;
	int l3 = ip_l3(pkt, len, &p->v6, &proto);
	if (l3 < 0)
		return l3;
	if ((type == VIRTIO_NET_HDR_GSO_TCPV4 && (p->v6 || proto != 6)) ||
	    (type == VIRTIO_NET_HDR_GSO_TCPV6 && (!p->v6 || proto != 6)) ||
	    (type == VIRTIO_NET_HDR_GSO_UDP_L4 && proto != 17))
		return -EINVAL;
	size_t l4;
	if (proto == IPPROTO_TCP_) {
		if ((size_t)l3 + 20 > len)
			return -EINVAL;
		l4 = (size_t)(pkt[l3 + 12] >> 4) * 4;
		if (l4 < 20)
			return -EINVAL;
		/* SYN and RST segments are never cut */
		if (pkt[l3 + 13] & 0x06)
			return -EINVAL;
	} else {
		l4 = 8;
	}
	if (need && (vh->csum_start != l3 ||
		     vh->csum_offset != (proto == IPPROTO_TCP_ ? 16 : 6)))
		return -EINVAL;
	size_t hdr = (size_t)l3 + l4;
	if (hdr >= len) /* no payload */
		return -EINVAL;
	if (hdr + vh->gso_size > max_seg)
		return -EMSGSIZE;
	p->l3_len = (uint16_t)l3;
	p->hdr_len = (uint16_t)hdr;
	p->gso_size = vh->gso_size;
	p->proto = proto;
	p->nseg = (uint32_t)((len - hdr + vh->gso_size - 1) / vh->gso_size);
	return 0;
}

size_t gso_segment(const struct gso_plan *p, const uint8_t *pkt, uint32_t i,
		   uint8_t *out)
{
	size_t off = p->hdr_len + (size_t)i * p->gso_size;
	size_t plen = p->len - off < p->gso_size ? p->len - off : p->gso_size;
	size_t seg = p->hdr_len + plen;
	uint8_t *l4 = out + p->l3_len;
	uint32_t l4_len = (uint32_t)(seg - p->l3_len);

	memcpy(out, pkt, p->hdr_len);
	memcpy(out + p->hdr_len, pkt + off, plen);
	if (!p->v6) {
		wr16(out + 2, (uint16_t)seg);
		wr16(out + 4, (uint16_t)(rd16(pkt + 4) + i));
		out[10] = out[11] = 0;
		csum_store(out + 10,
			   (uint16_t)~csum_fold(csum_add(0, out, p->l3_len)));
	} else {
		wr16(out + 4, (uint16_t)l4_len);
	}
	if (p->proto == IPPROTO_TCP_) {
		uint32_t seq = (uint32_t)l4[4] << 24 | (uint32_t)l4[5] << 16 |
			       (uint32_t)l4[6] << 8 | l4[7];
		seq += i * (uint32_t)p->gso_size;
		l4[4] = (uint8_t)(seq >> 24);
		l4[5] = (uint8_t)(seq >> 16);
		l4[6] = (uint8_t)(seq >> 8);
		l4[7] = (uint8_t)seq;
		if (i > 0)
			l4[13] &= (uint8_t)~0x80; /* CWR */
		if (i + 1 < p->nseg)
			l4[13] &= (uint8_t)~0x09; /* PSH, FIN */
		l4[16] = l4[17] = 0;
		uint64_t s = csum_pseudo(out, p->v6, IPPROTO_TCP_, l4_len);
		csum_store(l4 + 16,
			   (uint16_t)~csum_fold(csum_add(s, l4, l4_len)));
	} else {
		wr16(l4 + 4, (uint16_t)l4_len);
		l4[6] = l4[7] = 0;
		uint64_t s = csum_pseudo(out, p->v6, IPPROTO_UDP_, l4_len);
		uint16_t c = (uint16_t)~csum_fold(csum_add(s, l4, l4_len));
		csum_store(l4 + 6, c ? c : 0xffff); /* 0 means "none" */
	}
	return seg;
}

void gso_csum_complete(const struct gso_plan *p, uint8_t *pkt)
{
	uint8_t *at = pkt + p->csum_start + p->csum_offset;
	uint16_t c = (uint16_t)~csum_fold(
	    csum_add(0, pkt + p->csum_start, p->len - p->csum_start));
	csum_store(at, c ? c : 0xffff); /* as the kernel: 0 is "none" to UDP */
}
