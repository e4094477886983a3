/*
 * The daemon-owned packet queue: where inner packets wait when no link's
 * pacer has room, bounded in packets and bytes, with CoDel (RFC 8289) at
 * the head so TCP gets its congestion signal from us, early, and not from
 * a modem buffer hundreds of milliseconds deep.
 *
 * Why a module of its own, pure (no clock, no socket): the flow-queueing
 * (fq_codel) and retransmission work builds on it. A FIFO of fixed-size
 * slots allocated once (pages are only touched when used); the caller
 * passes `now` (ns) to every call. Single-threaded.
 *
 * CoDel as in RFC 8289 section 5: a packet whose sojourn time stayed above
 * `target` for a whole `interval` is dropped from the head (or, with `ecn`
 * and an ECN-capable IPv4/IPv6 packet, marked CE and sent), then drops
 * come at interval / sqrt(count) until the sojourn falls below target. A
 * queue holding no more than one MTU never drops.
 */
#ifndef TTT_PKTQ_H
#define TTT_PKTQ_H

#include <stdbool.h>
#include <stdint.h>

#include "queue/codel.h"

struct pktq_cfg {
	uint32_t limit_pkts;  /* slots (>= 2) */
	uint64_t limit_bytes; /* packet bytes held at most */
	uint32_t slot_size;   /* largest packet (bytes) */
	uint64_t target_ns;   /* CoDel target sojourn */
	uint64_t interval_ns; /* CoDel interval */
	bool ecn;	      /* mark ECT packets instead of dropping them */
};
/* (q->aqm_paused, set by the caller: pop without CoDel and forget its
 * state, for while the queue stands because the links are still being
 * measured, not because they are full.) */

struct pktq_slot {
	uint64_t enq_ns;
	uint32_t len;
	uint32_t pad;
};

struct pktq {
	struct pktq_cfg cfg;
	uint8_t *mem;		 /* limit_pkts * slot_size */
	struct pktq_slot *slots; /* limit_pkts */
	uint32_t head, n;
	uint64_t bytes;
	bool aqm_paused;      /* caller's switch, see above */
	struct codel_vars cd; /* CoDel state (queue/codel.h) */
	/* counters */
	uint64_t enqueued, dequeued, drops_full, drops_codel, ecn_marks;
	uint64_t max_sojourn_ns; /* longest wait of a packet sent */
};

/* -EINVAL (bad cfg) or -ENOMEM; on failure nothing is left to free. */
int pktq_init(struct pktq *q, const struct pktq_cfg *c);
void pktq_free(struct pktq *q);

static inline bool pktq_empty(const struct pktq *q)
{
	return q->n == 0;
}

/*
 * Copies a packet in at the tail. Returns 0, or -ENOBUFS when the queue
 * is at its packet or byte limit (the packet is dropped and counted), or
 * -EMSGSIZE if len exceeds slot_size.
 */
int pktq_push(struct pktq *q, const uint8_t *pkt, uint32_t len, uint64_t now);
/* The same with a caller's header of hlen bytes stored in front of the
 * packet (popped as one: header then packet); limits count both. */
int pktq_push_hdr(struct pktq *q, const void *hdr, uint32_t hlen,
		  const uint8_t *pkt, uint32_t len, uint64_t now);

/*
 * Takes the head packet through CoDel: returns a pointer to it (valid
 * until the next pktq call) and its length, or NULL when the queue is
 * empty (possibly after CoDel dropped what was left).
 */
uint8_t *pktq_pop(struct pktq *q, uint64_t now, uint32_t *len);

/* How long the head packet has waited (ns), 0 if empty. */
uint64_t pktq_head_sojourn(const struct pktq *q, uint64_t now);

/* Sets CE on an ECN-capable IPv4 (fixing the header checksum) or IPv6
 * packet; returns true if it was marked, false if not ECT (or not IP). */
bool pktq_ecn_mark(uint8_t *pkt, uint32_t len);

#endif
