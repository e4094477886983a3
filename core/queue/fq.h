/*
 * Flow queueing for the daemon's queue, in the spirit of fq_codel (RFC
 * 8290) and CAKE: packets that wait because no link's pacer has room are
 * kept in per-flow queues (flow = the wire flow hash folded onto `flows`
 * buckets), served by deficit round robin with a byte quantum, flows that
 * just became active (the "new" list) before flows that stayed busy (the
 * "old" list), each flow's queue kept short by its own CoDel (head drops,
 * or CE marks on ECN-capable packets), and on overflow the head of the
 * fattest flow dropped. So one bulk download cannot make a game, a call or
 * the ACKs of the upload wait behind its queue.
 *
 * The module also classifies: fq_interactive() says whether a packet is
 * latency-sensitive (its flow is sparse: nothing queued and little sent
 * lately; or its DSCP is in a configured set), which the datapath sends
 * past the queue on the link where it arrives first.
 *
 * Pure (no clock, no socket): the caller passes `now` (ns). Memory is
 * allocated once in fq_init (packet slots, the flow table) and bounded by
 * the configuration; no allocation per packet. Single-threaded.
 */
#ifndef TTT_FQ_H
#define TTT_FQ_H

#include <stdbool.h>
#include <stdint.h>

#define FQ_NONE UINT32_MAX

struct fq_cfg {
	uint32_t limit_pkts;  /* packet slots shared by all flows (>= 2) */
	uint64_t limit_bytes; /* packet bytes held at most */
	uint32_t slot_size;   /* largest packet (bytes) */
	uint32_t flows;	      /* flow buckets, a power of two (>= 1) */
	uint32_t quantum;     /* DRR bytes per round (>= 64) */
	uint64_t target_ns;   /* CoDel target sojourn, per flow */
	uint64_t interval_ns; /* CoDel interval */
	bool ecn;	      /* mark ECT packets instead of dropping them */
	/* sparseness: a flow stays sparse while its recent bytes (draining
	 * at sparse_rate bytes/s) stay within sparse_burst */
	uint64_t sparse_rate;  /* bytes per second */
	uint32_t sparse_burst; /* bytes */
	uint64_t dscp_mask;    /* bit d set: DSCP d is interactive */
};

struct fq_codel {
	bool dropping;
	uint32_t count, lastcount;
	uint64_t first_above_ns, drop_next_ns;
};

struct fq_flow {
	uint32_t head, tail; /* slot list, FQ_NONE when empty */
	uint32_t n;	     /* packets queued */
	uint32_t bytes;	     /* bytes queued */
	int32_t deficit;
	uint8_t list;  /* FQ_LIST_* */
	uint32_t next; /* next flow on its list */
	struct fq_codel cd;
	uint64_t recent; /* sparseness: bytes, drained at sparse_rate */
	uint64_t recent_ns;
};

enum { FQ_LIST_NONE = 0, FQ_LIST_NEW = 1, FQ_LIST_OLD = 2 };

struct fq_slot {
	uint64_t enq_ns;
	uint32_t len;
	uint32_t next; /* next slot of the flow, or of the free list */
};

struct fq_list {
	uint32_t head, tail;
};

struct fq {
	struct fq_cfg cfg;
	uint8_t *mem;	       /* limit_pkts * slot_size */
	struct fq_slot *slots; /* limit_pkts */
	struct fq_flow *flows; /* cfg.flows */
	uint32_t free_head;
	uint32_t n;	/* packets queued, all flows */
	uint64_t bytes; /* bytes queued, all flows */
	struct fq_list newl, oldl;
	/* caller's switch: pop without CoDel and forget its state, while the
	 * queue stands because the links are still being measured (as
	 * pktq's aqm_paused) */
	bool aqm_paused;
	/* counters */
	uint64_t enqueued, dequeued, drops_full, drops_codel, ecn_marks;
	uint64_t drops_overflow; /* head drops from the fattest flow */
	uint64_t max_sojourn_ns;
	uint64_t classified_interactive, classified_bulk;
};

/* -EINVAL (bad cfg) or -ENOMEM; on failure nothing is left to free. */
int fq_init(struct fq *q, const struct fq_cfg *c);
void fq_free(struct fq *q);

static inline bool fq_empty(const struct fq *q)
{
	return q->n == 0;
}

/* The bucket a flow hash falls in. */
uint32_t fq_flow_of(const struct fq *q, uint32_t hash);

/*
 * Copies a packet in at the tail of its flow. When the queue is at its
 * packet or byte limit, the fattest flow (most bytes queued, possibly
 * this one) loses its head packet(s) until this one fits. Returns 0, or
 * -EMSGSIZE if len exceeds slot_size (dropped, counted in drops_full),
 * -ENOBUFS if it cannot fit at all (larger than limit_bytes).
 */
int fq_push(struct fq *q, uint32_t hash, const uint8_t *pkt, uint32_t len,
	    uint64_t now);

/*
 * Next packet by DRR (new flows first) through the flow's CoDel: a
 * pointer to it (valid until the next fq call), its length and when it was
 * queued; NULL when nothing is left (possibly after CoDel drops).
 */
uint8_t *fq_pop(struct fq *q, uint64_t now, uint32_t *len, uint64_t *enq_ns);

/*
 * Whether a packet of flow `hash` with this DSCP is latency-sensitive:
 * its DSCP is in the configured set, or its flow has nothing queued and
 * has sent no more than sparse_burst lately (draining at sparse_rate).
 * Call once per packet: it accounts the packet to its flow's recent bytes.
 */
bool fq_interactive(struct fq *q, uint32_t hash, uint8_t dscp, uint32_t len,
		    uint64_t now);

/* Packets queued in a flow bucket (for tests and status). */
uint32_t fq_flow_pkts(const struct fq *q, uint32_t flow);

/* DSCP names: "ef", "cs0".."cs7", "af11".."af43", "va", or a number
 * 0..63. Returns 0 and the value, -EINVAL if unknown. */
int fq_dscp_parse(const char *s, uint8_t *out);
/* A comma/space-separated list of DSCP names into a 64-bit mask; on error
 * -EINVAL and *bad points at the offending word. "" or "none" = 0. */
int fq_dscp_mask_parse(const char *s, uint64_t *mask, const char **bad);

#endif
