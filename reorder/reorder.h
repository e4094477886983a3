/*
 * Reorder buffer: puts the packets of each flow back in send order after
 * they were spread over links of different latency, without letting a loss
 * in one flow delay any other flow.
 *
 * Model. Every packet carries the sender's 64-bit seq (strictly increasing
 * over all packet types, so data seqs have gaps) and prev_gap, the seq
 * distance to the previous DATA packet of the same flow bucket (0 = no
 * predecessor constraint). A packet is deliverable as soon as its
 * predecessor (seq - prev_gap) has been delivered, declared lost, or is
 * older than the window. Ordering is per bucket only, so a gap in one bucket
 * never holds another bucket's packets.
 *
 * Window. The buffer tracks the `capacity` most recent seqs, ending at the
 * highest seq seen. The first packet seen places the window (it does not
 * wait for seq 0; seqs just below it that are still in flight are accepted).
 * A packet older than the window is stale. A packet ahead of the window
 * slides it forward: held packets that fall out are released in seq order,
 * declaring their missing predecessors lost, so no more than `capacity`
 * packets are ever held. A jump of more than `capacity` (peer restart)
 * releases everything in order and restarts the window at the new seq.
 *
 * Hold. A packet waiting for a missing predecessor is held at most hold_ns
 * after its own arrival: then the predecessor (or the first missing one up
 * its chain) is declared lost and the packet is delivered with everything
 * queued behind it. Every seq older than the one given up on is resolved at
 * the same time (held ones released in order, missing ones refused as late
 * if they still come): an older packet of the same flow could otherwise
 * overtake what was just released, and the receiver cannot tell flows of
 * packets it has not seen. With hold_ns above the links' delay spread, such
 * packets are later than the hold allows anyway. The deadline uses the
 * current hold_ns, so lowering it with reorder_set_hold() also shortens the
 * wait of packets already held.
 *
 * Ownership. The buffer stores opaque handles and never touches payloads.
 * Every packet accepted by reorder_push() (return 0) is handed back exactly
 * once through the deliver callback: on delivery, on timeout, on flush, on
 * window slide, or from reorder_destroy(). A packet refused (negative
 * return) stays the caller's. The callback must not call into the same
 * reorder buffer.
 *
 * Time. The caller passes now_ns (any monotonic clock in ns); the module
 * never reads a clock, allocates only in reorder_create(), and does O(1)
 * amortised work per packet. Single-threaded: one buffer per session and
 * direction, used from one thread. Depends on libc only.
 */
#ifndef TTT_REORDER_H
#define TTT_REORDER_H

#include <stdint.h>

/* Accepted capacities: powers of two in [MIN, MAX]. */
#define REORDER_MIN_CAPACITY 2u
#define REORDER_MAX_CAPACITY (1u << 20)

struct reorder; /* opaque */

/*
 * Counters, since creation. Every packet pushed ends up in exactly one of:
 *   duplicates, late (refused), in_order (delivered on arrival),
 *   or held, which later ends in exactly one of:
 *   reordered (its gap filled), expired (gap given up on hold timeout),
 *   flushed (gap given up by flush, destroy, window slide or resync),
 *   or is still held (held_now).
 * So: delivered = in_order + reordered + expired + flushed and
 *     held = reordered + expired + flushed + held_now.
 * A packet released behind a gap that was given up counts with the event
 * that released the chain (expired or flushed), not as reordered.
 */
struct reorder_stats {
	uint64_t delivered; /* packets handed to the deliver callback */
	uint64_t in_order;  /* delivered on arrival, never held */
	uint64_t held;	    /* had to wait for a predecessor */
	uint64_t reordered; /* held, released because the gap filled */
	uint64_t expired;   /* held, released by the hold timeout */
	uint64_t flushed;   /* held, released by flush/destroy/slide/resync */
	uint64_t late;	    /* refused: older than the window, or its seq was
			       already given up on (-ESTALE) */
	uint64_t
	    duplicates;	  /* refused: seq already held/delivered (-EALREADY) */
	uint64_t lost;	  /* missing predecessors given up on */
	uint64_t resyncs; /* jumps of more than the capacity ahead */
	uint64_t recovery_waits; /* gaps that waited past their hold for
				    reorder_hold_until(): a packet being
				    recovered, or one on a lagging link */
	uint64_t hold_ns;	 /* current hold time */
	uint64_t wait_ns;	 /* longest wait a gap needed recently (see
				    reorder_wait_ns()) */
	uint32_t held_now;	 /* packets held right now (<= capacity) */
	uint32_t capacity;
};

/* Called once per packet, in per-bucket order. Ownership of pkt returns to
 * the caller. Must not call any reorder_*() function on the same buffer. */
typedef void (*reorder_deliver_fn)(void *arg, void *pkt, uint32_t len);

/*
 * Creates a buffer tracking `capacity` seqs (a power of two within
 * [REORDER_MIN_CAPACITY, REORDER_MAX_CAPACITY]). Returns 0, -EINVAL (bad
 * capacity, NULL out or fn) or -ENOMEM.
 */
int reorder_create(struct reorder **out, uint32_t capacity, uint64_t hold_ns,
		   reorder_deliver_fn fn, void *arg);

/* Delivers every still-held packet (as reorder_flush()) and frees the
 * buffer, so no packet handle is ever leaked. NULL is accepted. */
void reorder_destroy(struct reorder *r);

/* Sets the hold time for all held and future packets. The next deadline may
 * move: the caller re-reads reorder_next_deadline() afterwards. */
void reorder_set_hold(struct reorder *r, uint64_t hold_ns);

/*
 * A packet is being recovered (the caller asked the sender to resend a
 * loss it detected): no held packet is given up before until_ns, even if
 * its hold ran out, because its gap may be the packet on its way. Only as
 * long as recovery can still succeed: the caller bounds until_ns by the
 * time a resend takes to arrive. Later calls only move it forward; a
 * packet that arrives after until_ns waits its normal hold. The next
 * deadline may move: re-read reorder_next_deadline().
 */
void reorder_hold_until(struct reorder *r, uint64_t until_ns);

/*
 * Asked just before a gap is given up on hold timeout: `missing` is the seq
 * that would be declared lost (the first missing packet up the chain of
 * the oldest held packet, which arrived at arrival_ns). Returns a time
 * until which it may still arrive (the buffer then waits until then, as
 * after reorder_hold_until(), and asks again), or anything <= now_ns to
 * give it up. Must not call into the buffer. See reorder/lagging.h.
 */
typedef uint64_t (*reorder_coming_fn)(void *arg, uint64_t missing,
				      uint64_t arrival_ns, uint64_t now_ns);

/* Sets (fn NULL: clears) the function asked before each give-up. */
void reorder_set_coming(struct reorder *r, reorder_coming_fn fn, void *arg);

/*
 * Inserts one packet; may deliver it and others (of any bucket) before
 * returning, and also releases packets whose hold expired by now_ns.
 * Returns 0 if accepted (delivered or held), -EALREADY if a duplicate,
 * -ESTALE if too old or its seq was already declared lost. On a negative
 * return the packet was not taken and the caller frees it.
 */
int reorder_push(struct reorder *r, uint64_t seq, uint32_t prev_gap, void *pkt,
		 uint32_t len, uint64_t now_ns);

/* Releases what timed out by now_ns; returns the next deadline (ns) at which
 * to call again, or UINT64_MAX if nothing is held. */
uint64_t reorder_tick(struct reorder *r, uint64_t now_ns);

/* The earliest hold deadline, or UINT64_MAX if nothing is held. O(1). */
uint64_t reorder_next_deadline(const struct reorder *r);

/* Delivers everything held, in seq order, declaring every missing seq of
 * the window lost (refused as late if it still arrives). The window stays
 * where it is: newer seqs are accepted as usual. */
void reorder_flush(struct reorder *r);

/* Flushes, then forgets the sequence space: the next packet starts a new
 * window as the first one did. For a peer that restarted its numbering (a
 * new session), whose packets would otherwise all look stale. */
void reorder_reset(struct reorder *r);

void reorder_get_stats(const struct reorder *r, struct reorder_stats *st);

/*
 * The longest time a held packet had to wait for its gap to fill, over
 * the last one to two REORDER_WAIT_WINDOW_NS (a windowed maximum, so one
 * old spike is forgotten). It also counts gaps that were filled too late:
 * a packet refused as late because its seq had been given up reports how
 * long its successor would have had to wait. So it measures the links'
 * real delay spread as this receiver sees it (queueing included, which
 * probes sample only every interval), whatever the hold was: a caller may
 * set the hold from it without feeding back on itself. 0 = no sample yet.
 */
#define REORDER_WAIT_WINDOW_NS 4000000000ull
uint64_t reorder_wait_ns(const struct reorder *r);

#endif
