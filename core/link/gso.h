/*
 * Segmentation of the tun's super-packets (gso.c). With IFF_VNET_HDR and
 * TUNSETOFFLOAD the kernel hands the daemon TCP (and UDP) packets of up to
 * 64 KiB, each behind a virtio_net_hdr saying how to cut it (gso_size bytes
 * of payload per segment) and where a checksum is still to be computed.
 * The tunnel carries MTU-sized packets, so the daemon cuts them itself:
 * what a NIC's TSO engine does, in software, per tunnel packet. Pure code
 * (no sockets, no clock) so it is unit-tested on crafted packets.
 */
#ifndef TTT_LINK_GSO_H
#define TTT_LINK_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The virtio_net_hdr as it sits in front of each tun packet (10 bytes,
 * little-endian fields: the daemon sets TUNSETVNETLE). */
#define VNET_HDR_LEN 10
struct vnet_hdr {
	uint8_t flags;	   /* VIRTIO_NET_HDR_F_NEEDS_CSUM, ... */
	uint8_t gso_type;  /* VIRTIO_NET_HDR_GSO_*, maybe | _ECN */
	uint16_t hdr_len;  /* IP + L4 header bytes (the kernel may say more) */
	uint16_t gso_size; /* payload bytes per segment */
	uint16_t csum_start;  /* where the checksummed part starts */
	uint16_t csum_offset; /* where in it the checksum goes */
};

/* Decodes/encodes the 10 wire bytes. */
void vnet_hdr_decode(const uint8_t *b, struct vnet_hdr *h);
void vnet_hdr_encode(uint8_t *b, const struct vnet_hdr *h);

/* How one packet read from the tun becomes tunnel packets. */
struct gso_plan {
	uint32_t len;	   /* bytes of the whole packet */
	uint32_t nseg;	   /* segments it makes (1: send as it is) */
	uint16_t l3_len;   /* IP header bytes */
	uint16_t hdr_len;  /* IP + TCP/UDP header bytes, copied per segment */
	uint16_t gso_size; /* payload bytes per segment but the last */
	uint8_t proto;	   /* IPPROTO_TCP or IPPROTO_UDP (nseg > 1) */
	bool v6;
	bool csum; /* nseg == 1: a partial checksum to complete in place */
	uint16_t csum_start, csum_offset; /* for csum */
};

/*
 * Checks a virtio header against the packet it came with and plans the
 * cut. Refuses, with -EINVAL, what the kernel never sends: a GSO type
 * whose IP version or protocol does not match the packet, gso_size 0,
 * csum_start/csum_offset outside the packet or not at the L4 header of a
 * GSO packet, hdr_len beyond the packet, L4 headers that do not fit, a
 * GSO packet with no payload. -EPROTONOSUPPORT for a GSO type it does not
 * handle (UFO, SCTP, ...), -EMSGSIZE when one segment would exceed max_seg
 * bytes. Segments are counted but never limited otherwise.
 */
int gso_plan(const struct vnet_hdr *vh, const uint8_t *pkt, size_t len,
	     size_t max_seg, struct gso_plan *p);

/*
 * Writes segment i (0 <= i < p->nseg) of pkt to out: the headers with IP
 * length, IPv4 ID (+i) and header checksum, TCP sequence number, flags
 * (CWR on the first segment only, FIN and PSH on the last only) or UDP
 * length fixed, and a complete TCP/UDP checksum. out has room for
 * p->hdr_len + p->gso_size bytes. Returns the segment's length.
 */
size_t gso_segment(const struct gso_plan *p, const uint8_t *pkt, uint32_t i,
		   uint8_t *out);

/* Completes the partial checksum of a plan with csum set, in place (the
 * field holds the pseudo-header sum, as with CHECKSUM_PARTIAL). */
void gso_csum_complete(const struct gso_plan *p, uint8_t *pkt);

#endif
