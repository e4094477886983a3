/*
 * Retransmission store: the sender's copy of what it sent recently, so a
 * packet the far end reports missing (WT_NACK) can be sent again on another
 * link before TCP notices (docs/loss-recovery.md).
 *
 * Bounded twice: by memory (a preallocated ring of `capacity` packets
 * indexed by the session seq, each slot `max_len` bytes: nothing is
 * allocated per packet) and by age (a packet older than `max_age_ns` is not
 * resent: the receiver's reorder buffer has given up on it by then). Each
 * link has a ring mapping its per-link seq (path_seq) to the session seq, so
 * a loss report, which names a link and a path_seq, finds the packet.
 *
 * Rules (per packet): a loss reported twice for the same link counts once
 * (NACK copies travel on several links); a packet is resent only when every
 * copy sent so far was reported lost (a retransmission that is itself lost
 * is resent again), never on a link that lost it; resends draw on a token
 * bucket of `budget_ppm` of the capacity the caller passes.
 *
 * Pure: the caller passes now_ns and link masks; no clock, no socket, no
 * daemon state. Single-threaded.
 */
#ifndef TTT_RETX_H
#define TTT_RETX_H

#include <stdbool.h>
#include <stdint.h>

#define RETX_MAX_LINKS 16

struct retx_cfg {
	uint32_t capacity;   /* packets, power of two >= 16 */
	uint32_t max_len;    /* largest inner packet stored (bytes) */
	uint64_t max_age_ns; /* older packets are not resent */
	uint32_t budget_ppm; /* resend share of the capacity, parts/million */
};

/* One stored packet: what a resend needs to rebuild its DATA body. */
struct retx_ent {
	uint64_t seq;	  /* session seq of the original */
	uint64_t sent_ns; /* first send */
	uint32_t prev_gap;
	uint16_t bucket;
	uint16_t len;
	uint16_t sent_mask;   /* links a copy went out on (or is queued on) */
	uint16_t lost_mask;   /* links that reported their copy lost */
	uint16_t resent_mask; /* links a resend (or copy) went out on */
	uint8_t first_link;
	bool used;
	uint8_t resends;
	uint8_t klass; /* enum ttt_pkt_class, set by the caller in the entry
			* retx_on_sent returns (0 = bulk): a resend keeps it */
	uint8_t *data; /* len bytes of inner packet */
};

/* Outcome of a loss report (retx_on_loss). */
enum retx_verdict {
	RETX_RESEND = 0,  /* resend on one of *allowed, then retx_commit() */
	RETX_DUP = 1,	  /* this link's loss of it was reported already */
	RETX_PENDING = 2, /* another copy is still on its way */
	RETX_GONE = 3,	  /* not in the store (overwritten or never kept) */
	RETX_TOO_OLD = 4, /* past max_age: it could not arrive in time */
	RETX_NO_LINK = 5, /* every usable link already lost it */
};

struct retx_stats {
	uint64_t stored, reports, resent, resent_bytes;
	uint64_t dup, pending, gone, too_old, no_link, over_budget;
	/* first resends of NACKed packets: time from the original's send to
	 * the resend (the far end's detection plus the NACK's trip) */
	uint64_t nack_delay_n, nack_delay_sum_ns, nack_delay_max_ns;
};

struct retx_store;

/* -EINVAL (capacity not a power of two >= 16, max_len 0) or -ENOMEM. */
int retx_create(struct retx_store **out, const struct retx_cfg *c);
void retx_destroy(struct retx_store *st);
void retx_set_max_age(struct retx_store *st, uint64_t max_age_ns);
uint64_t retx_max_age(const struct retx_store *st);

/* Keeps a copy of the original packet seq, sent on link as path_seq, and
 * returns its entry (for the caller's klass), or NULL: a packet longer than
 * max_len is not kept. */
struct retx_ent *retx_on_sent(struct retx_store *st, uint64_t seq,
			      uint32_t link, uint32_t path_seq, uint16_t bucket,
			      uint32_t prev_gap, const uint8_t *data,
			      uint32_t len, uint64_t now_ns);

/* A resend of seq left on link as path_seq: a later loss report for it
 * finds the packet too. */
void retx_on_resent(struct retx_store *st, uint64_t seq, uint32_t link,
		    uint32_t path_seq);

/* The packet sent on link as path_seq, or NULL if no longer stored. */
struct retx_ent *retx_lookup(struct retx_store *st, uint32_t link,
			     uint32_t path_seq);

/*
 * The far end reports path_seq on link missing (or link died with it).
 * Records the loss and says what to do; on RETX_RESEND, *out is the packet
 * and *allowed the usable links (of `usable`) that have not lost it.
 */
enum retx_verdict retx_on_loss(struct retx_store *st, uint32_t link,
			       uint32_t path_seq, uint32_t usable,
			       uint64_t now_ns, struct retx_ent **out,
			       uint32_t *allowed);

/* Books a resend of e on link (bytes on the wire) against the budget,
 * capacity_bps being the bond's capacity now. 0, or -ENOBUFS when over the
 * budget (the loss stays booked: that packet is left to TCP). A resend
 * that is not `budgeted` (a dead link's packets: no extra data, the dead
 * link's share is free) is booked and counted without drawing tokens. */
int retx_commit(struct retx_store *st, struct retx_ent *e, uint32_t link,
		uint32_t bytes, uint64_t capacity_bps, uint64_t now_ns,
		bool budgeted);

void retx_get_stats(const struct retx_store *st, struct retx_stats *out);

/* The NACK delay of the recent first resends (EWMA over 8, same measure as
 * nack_delay_*): about how long the far end holds a flow behind each loss
 * it recovers. 0 when no resend came in the last RETX_RECENT_NS (or st is
 * NULL): losses are not being recovered now. */
#define RETX_RECENT_NS 2000000000ull
uint64_t retx_recent_nack_delay(const struct retx_store *st, uint64_t now_ns);

#endif
