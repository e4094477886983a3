/*
 * Coalescing of received TCP segments before the tun write (gro.c): the
 * inverse of gso.h. Consecutive in-order segments of one TCP flow become
 * one super-packet behind a virtio_net_hdr (GSO TCPV4/TCPV6, CHECKSUM_
 * PARTIAL), which the kernel takes in one write and one trip through its
 * stack, as a NIC's GRO would have handed it. Pure code: it never writes;
 * it hands each packet or super-packet to an emit callback as an iovec
 * (virtio header + headers first, then each segment's payload where it
 * lies), so nothing is copied and the caller owns every buffer.
 *
 * Contract: every packet given to gro_add() is emitted exactly once, by
 * gro_add() itself or by a later gro_add()/gro_flush(), in the order of its
 * flow; the caller keeps the packet's bytes valid until then (the cookie
 * says which buffer to release). Packets of different flows may be emitted
 * in another order than they came, as a NIC's GRO does.
 */
#ifndef TTT_LINK_GRO_H
#define TTT_LINK_GRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "link/gso.h"

#define GRO_FLOWS    8	 /* flows held at once */
#define GRO_MAX_SEGS 64	 /* segments per super-packet */
#define GRO_HDR_MAX  120 /* IP (<= 60) + TCP (<= 60) header bytes */
/* Most packets held at once: what a caller's buffer pool must spare. */
#define GRO_HOLD_MAX (GRO_FLOWS * GRO_MAX_SEGS)

/*
 * Called for each packet or super-packet: iov[0] starts with the 10-byte
 * virtio header; the iovec holds the whole write. owner is what gro_add()
 * got with the first packet (all packets of one write share it); cookie
 * has one entry per packet inside, nseg of them.
 */
typedef void (*gro_emit_fn)(void *arg, void *owner, const struct iovec *iov,
			    int iovcnt, void *const *cookie, uint32_t nseg);

struct gro_flow {
	bool used;
	bool v6;
	bool closed; /* a short or PSH segment ended it */
	uint8_t l3, l4;
	uint16_t gso_size; /* payload of the first segment */
	uint16_t next_id;  /* IPv4 ID the next segment must have (no DF) */
	uint32_t next_seq;
	uint32_t bytes; /* payload bytes held */
	uint32_t nseg;
	void *owner;
	uint8_t head[VNET_HDR_LEN + GRO_HDR_MAX]; /* virtio hdr + headers */
	struct iovec iov[1 + GRO_MAX_SEGS];
	void *cookie[GRO_MAX_SEGS];
};

struct gro {
	gro_emit_fn emit;
	void *arg;
	uint32_t held; /* packets held in all flows */
	struct gro_flow flow[GRO_FLOWS];
	/* counters */
	uint64_t supers;   /* super-packets emitted (2+ segments) */
	uint64_t merged;   /* segments inside them */
	uint64_t bad_csum; /* TCP segments passed on unmerged: bad checksum */
};

void gro_init(struct gro *g, gro_emit_fn emit, void *arg);

/* Takes one IP packet (len bytes, owner and cookie as above). */
void gro_add(struct gro *g, const uint8_t *pkt, size_t len, void *owner,
	     void *cookie);

/* Emits everything held. */
void gro_flush(struct gro *g);

#endif
