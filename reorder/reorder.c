/*
 * Reorder buffer (contract in reorder.h).
 *
 * Why this shape: the receive hot path must not allocate nor scan, and a
 * loss in one flow must not delay the others. So the state is one array of
 * slots indexed by seq & mask, covering the window [head - cap, head), and
 * ordering is expressed by predecessor links rather than by a global
 * "next expected seq":
 *   - a held packet records its predecessor's distance (pred_gap), and the
 *     predecessor's slot records the distance back to it (waiter_gap), even
 *     while that predecessor has not arrived yet; delivering a packet then
 *     releases its successor in O(1), which releases the next, and so on;
 *   - held packets are also threaded, in arrival order, on a doubly linked
 *     list through the slots, so the oldest hold deadline is the list head
 *     (deadline = arrival + current hold, monotonic in arrival order).
 * Invariant: a HELD slot's predecessor is in the window, not yet resolved
 * (EMPTY or HELD), and its waiter_gap points back at it. Every release path
 * keeps it, which is what makes a packet wait for its predecessor.
 *
 * Giving up on a missing seq p is subtler: p's own predecessors are unknown
 * (p never arrived), so an older packet of the same flow could still turn
 * up and, finding its predecessor delivered, overtake what was released
 * behind p. Hence the resolved frontier: giving up on p resolves every seq
 * below it too (held ones released in order, missing ones marked LOST so
 * they are refused as late). That only refuses packets later than the hold
 * allows: p's successor waited hold_ns, and anything sent before p was due
 * by then if hold covers the links' delay spread, which is how the daemon
 * sets it. The frontier only moves forward: O(1) amortised per seq.
 *
 * Seqs are compared by unsigned differences only, so the arithmetic is
 * wrap-safe; the capacity divides 2^64 so seq & mask is too.
 */
#include "reorder.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#define NIL UINT32_MAX

enum slot_state {
	S_EMPTY = 0,	 /* in the window, not arrived (yet) */
	S_HELD = 1,	 /* arrived, waiting for its predecessor */
	S_DELIVERED = 2, /* handed to the callback */
	S_LOST = 3,	 /* given up on: refuse it if it still arrives */
};

/* Why a held packet was released: selects the counter. */
enum release_cause {
	C_REORDERED,
	C_EXPIRED,
	C_FLUSHED,
};

struct slot {
	void *pkt;
	uint64_t seq;	     /* which seq of the window this slot describes */
	uint64_t arrival_ns; /* HELD: when it arrived; LOST with `waited`:
				when the packet that waited on it arrived */
	uint32_t len;
	uint32_t pred_gap;   /* HELD: distance back to its predecessor */
	uint32_t waiter_gap; /* distance forward to the packet waiting on
				this seq, 0 = none */
	uint32_t arr_prev;   /* HELD: arrival-order list, slot indices */
	uint32_t arr_next;
	uint8_t state;
	bool waited; /* LOST: a packet waited on it (arrival_ns is valid) */
};

struct reorder {
	reorder_deliver_fn fn;
	void *arg;
	uint64_t mask;
	uint32_t cap;
	bool started;
	uint64_t head;	   /* one past the highest seq seen */
	uint64_t frontier; /* every seq below it is resolved */
	uint64_t now_ns;   /* latest time seen: keeps arrivals monotonic */
	uint64_t hold_ns;
	uint64_t recover_until;	  /* no give-up before this (recovery) */
	reorder_coming_fn coming; /* asked before a give-up, may be NULL */
	void *coming_arg;
	uint32_t arr_head; /* oldest held packet, NIL if none */
	uint32_t arr_tail;
	/* Windowed maximum of the waits gaps needed: the window starting at
	 * wait_start and the one before it. */
	uint64_t wait_start;
	uint64_t wait_cur;
	uint64_t wait_prev;
	struct reorder_stats st;
	struct slot slots[];
};

static inline struct slot *slot_of(struct reorder *r, uint64_t seq)
{
	return &r->slots[seq & r->mask];
}

static void list_append(struct reorder *r, uint32_t idx)
{
	struct slot *s = &r->slots[idx];
	s->arr_next = NIL;
	s->arr_prev = r->arr_tail;
	if (r->arr_tail != NIL)
		r->slots[r->arr_tail].arr_next = idx;
	else
		r->arr_head = idx;
	r->arr_tail = idx;
}

static void list_remove(struct reorder *r, uint32_t idx)
{
	struct slot *s = &r->slots[idx];
	if (s->arr_prev != NIL)
		r->slots[s->arr_prev].arr_next = s->arr_next;
	else
		r->arr_head = s->arr_next;
	if (s->arr_next != NIL)
		r->slots[s->arr_next].arr_prev = s->arr_prev;
	else
		r->arr_tail = s->arr_prev;
	s->arr_prev = s->arr_next = NIL;
}

static void slot_reset(struct reorder *r, uint64_t seq)
{
	struct slot *s = slot_of(r, seq);
	s->pkt = NULL;
	s->seq = seq;
	s->arrival_ns = 0;
	s->waited = false;
	s->len = 0;
	s->pred_gap = 0;
	s->waiter_gap = 0;
	s->arr_prev = s->arr_next = NIL;
	s->state = S_EMPTY;
}

/* Saturating, so a huge hold means "until the window slides" rather than a
 * deadline that wrapped into the past. */
static uint64_t deadline_of(const struct reorder *r, const struct slot *s)
{
	uint64_t d = s->arrival_ns + r->hold_ns;
	if (d < s->arrival_ns)
		return UINT64_MAX;
	/* A constant floor keeps deadlines monotonic in arrival order. */
	return d < r->recover_until ? r->recover_until : d;
}

/* Rolls the two windows of the wait maximum forward to now. */
static void wait_roll(struct reorder *r, uint64_t now_ns)
{
	if (now_ns - r->wait_start < REORDER_WAIT_WINDOW_NS)
		return;
	r->wait_prev = now_ns - r->wait_start < 2 * REORDER_WAIT_WINDOW_NS
			   ? r->wait_cur
			   : 0;
	r->wait_cur = 0;
	r->wait_start = now_ns;
}

/* One packet waited (or would have had to wait) from arrival_ns to now. */
static void wait_sample(struct reorder *r, uint64_t arrival_ns)
{
	if (arrival_ns > r->now_ns)
		return;
	wait_roll(r, r->now_ns);
	uint64_t w = r->now_ns - arrival_ns;
	if (w > r->wait_cur)
		r->wait_cur = w;
}

/* Delivers the held packet at seq and then, in order, every packet whose
 * wait this unblocks (the waiter chain). */
static void release_chain(struct reorder *r, uint64_t seq,
			  enum release_cause cause)
{
	for (;;) {
		struct slot *s = slot_of(r, seq);
		if (s->state != S_HELD || s->seq != seq)
			return;
		void *pkt = s->pkt;
		uint32_t len = s->len;
		uint32_t w = s->waiter_gap;
		list_remove(r, (uint32_t)(seq & r->mask));
		s->state = S_DELIVERED;
		s->pkt = NULL;
		s->pred_gap = 0;
		s->waiter_gap = 0;
		r->st.held_now--;
		r->st.delivered++;
		if (cause == C_REORDERED) {
			r->st.reordered++;
			wait_sample(r, s->arrival_ns);
		} else if (cause == C_EXPIRED)
			r->st.expired++;
		else
			r->st.flushed++;
		r->fn(r->arg, pkt, len);
		if (!w)
			return;
		seq += w;
	}
}

/*
 * Resolves seq for good, as if it were leaving the window: a missing seq
 * that someone waits on is declared lost and its waiter chain released; a
 * held one (only reachable if the invariant was broken) is released too.
 */
static void settle(struct reorder *r, uint64_t seq, enum release_cause cause)
{
	struct slot *s = slot_of(r, seq);
	if (s->seq != seq)
		return;
	if (s->state == S_HELD) {
		release_chain(r, seq, cause);
	} else if (s->state == S_EMPTY && s->waiter_gap) {
		uint32_t w = s->waiter_gap;
		s->waiter_gap = 0;
		s->state = S_LOST;
		/* Remembered so that, if it still comes, we learn how long
		 * the wait should have been. */
		s->arrival_ns = slot_of(r, seq + w)->arrival_ns;
		s->waited = true;
		r->st.lost++;
		release_chain(r, seq + w, cause);
	}
}

/*
 * Gives up on every unresolved seq below `end`, oldest first: missing ones
 * become LOST (counted when a packet was waiting on them), held ones are
 * released with the chains behind them.
 */
static void resolve_below(struct reorder *r, uint64_t end,
			  enum release_cause cause)
{
	uint64_t base = r->head - r->cap;
	if ((int64_t)(r->frontier - base) < 0)
		r->frontier = base;
	while ((int64_t)(end - r->frontier) > 0) {
		uint64_t seq = r->frontier++;
		struct slot *s = slot_of(r, seq);
		settle(r, seq, cause);
		if (s->state == S_EMPTY)
			s->state = S_LOST;
	}
}

/* Places the window so that it ends at seq. */
static void window_init(struct reorder *r, uint64_t seq)
{
	r->head = seq + 1;
	r->frontier = r->head - r->cap;
	for (uint32_t i = 0; i < r->cap; i++)
		slot_reset(r, r->head - r->cap + i);
}

/* Slides the window so that it ends at seq (seq >= head). Seqs falling out
 * are settled oldest first, which releases held packets in order. */
static void window_advance(struct reorder *r, uint64_t seq)
{
	uint64_t steps = seq - r->head + 1;
	if (steps > r->cap) {
		for (uint32_t i = 0; i < r->cap; i++)
			settle(r, r->head - r->cap + i, C_FLUSHED);
		r->st.resyncs++;
		window_init(r, seq);
		return;
	}
	while (steps--) {
		settle(r, r->head - r->cap, C_FLUSHED);
		slot_reset(r, r->head);
		r->head++;
	}
}

/* The first held packet up the chain of the held packet `seq`: the one
 * whose missing predecessor the chain waits for. */
static uint64_t chain_root(struct reorder *r, uint64_t seq)
{
	uint64_t x = seq;
	for (;;) {
		const struct slot *s = slot_of(r, x);
		if (!s->pred_gap)
			return x;
		uint64_t p = x - s->pred_gap;
		const struct slot *ps = slot_of(r, p);
		if (ps->seq != p || ps->state != S_HELD ||
		    ps->waiter_gap != s->pred_gap)
			return x;
		x = p;
	}
}

/*
 * The oldest held packet timed out. It may wait on a predecessor that is
 * itself held (the chain's first packet is missing), so the caller walked
 * back to x, the first held packet of the chain (chain_root()); give up
 * on the seq it waits for and release the whole chain: the walk costs no
 * more than what it delivers.
 */
static void expire_root(struct reorder *r, uint64_t x)
{
	struct slot *root = slot_of(r, x);
	uint64_t p = x - root->pred_gap;
	struct slot *ps = slot_of(r, p);
	if (root->pred_gap && ps->seq == p && ps->state == S_EMPTY &&
	    ps->waiter_gap == root->pred_gap)
		resolve_below(r, p + 1, C_EXPIRED);
	else
		release_chain(r, x, C_EXPIRED);
}

static void expire(struct reorder *r, uint64_t now_ns)
{
	while (r->arr_head != NIL &&
	       deadline_of(r, &r->slots[r->arr_head]) <= now_ns) {
		const struct slot *h = &r->slots[r->arr_head];
		uint64_t x = chain_root(r, h->seq);
		if (r->coming) {
			/* the gap may still be on its way: wait, as for a
			 * resend (every later head waits behind it) */
			uint64_t u = r->coming(r->coming_arg,
					       x - slot_of(r, x)->pred_gap,
					       h->arrival_ns, now_ns);
			if (u > now_ns) {
				if (u > r->recover_until)
					r->recover_until = u;
				break;
			}
		}
		uint64_t plain = h->arrival_ns + r->hold_ns;
		if (plain >= h->arrival_ns && plain < r->recover_until)
			r->st.recovery_waits++;
		expire_root(r, x);
	}
}

int reorder_create(struct reorder **out, uint32_t capacity, uint64_t hold_ns,
		   reorder_deliver_fn fn, void *arg)
{
	if (!out || !fn || capacity < REORDER_MIN_CAPACITY ||
	    capacity > REORDER_MAX_CAPACITY || (capacity & (capacity - 1)))
		return -EINVAL;
	struct reorder *r =
	    calloc(1, sizeof(*r) + (size_t)capacity * sizeof(struct slot));
	if (!r)
		return -ENOMEM;
	r->fn = fn;
	r->arg = arg;
	r->cap = capacity;
	r->mask = capacity - 1;
	r->hold_ns = hold_ns;
	r->arr_head = r->arr_tail = NIL;
	for (uint32_t i = 0; i < capacity; i++)
		r->slots[i].arr_prev = r->slots[i].arr_next = NIL;
	*out = r;
	return 0;
}

void reorder_destroy(struct reorder *r)
{
	if (!r)
		return;
	reorder_flush(r);
	free(r);
}

void reorder_set_hold(struct reorder *r, uint64_t hold_ns)
{
	r->hold_ns = hold_ns;
}

void reorder_set_coming(struct reorder *r, reorder_coming_fn fn, void *arg)
{
	r->coming = fn;
	r->coming_arg = arg;
}

void reorder_hold_until(struct reorder *r, uint64_t until_ns)
{
	if (until_ns > r->recover_until)
		r->recover_until = until_ns;
}

int reorder_push(struct reorder *r, uint64_t seq, uint32_t prev_gap, void *pkt,
		 uint32_t len, uint64_t now_ns)
{
	if (now_ns < r->now_ns)
		now_ns = r->now_ns;
	r->now_ns = now_ns;
	if (!r->started) {
		window_init(r, seq);
		r->started = true;
	}
	if ((int64_t)(seq - r->head) >= 0) {
		window_advance(r, seq);
	} else if (r->head - seq > r->cap) {
		r->st.late++;
		return -ESTALE;
	}

	struct slot *s = slot_of(r, seq);
	if (s->state == S_HELD || s->state == S_DELIVERED) {
		r->st.duplicates++;
		return -EALREADY;
	}
	if (s->state == S_LOST) {
		r->st.late++;
		if (s->waited)
			wait_sample(r, s->arrival_ns);
		s->waited = false;
		return -ESTALE;
	}

	/* Wait only for a predecessor inside the window that is not resolved
	 * yet and not already claimed: a second claimant can only come from a
	 * broken sender, and is not worth holding for. */
	bool wait = false;
	struct slot *ps = NULL;
	if (prev_gap && (uint64_t)(r->head - seq) + prev_gap <= r->cap) {
		ps = slot_of(r, seq - prev_gap);
		wait = (ps->state == S_EMPTY || ps->state == S_HELD) &&
		       !ps->waiter_gap;
	}
	s->pkt = pkt;
	s->len = len;
	if (wait) {
		s->state = S_HELD;
		s->pred_gap = prev_gap;
		s->arrival_ns = now_ns;
		ps->waiter_gap = prev_gap;
		list_append(r, (uint32_t)(seq & r->mask));
		r->st.held++;
		r->st.held_now++;
	} else {
		uint32_t w = s->waiter_gap;
		s->state = S_DELIVERED;
		s->pkt = NULL;
		s->waiter_gap = 0;
		r->st.in_order++;
		r->st.delivered++;
		r->fn(r->arg, pkt, len);
		if (w)
			release_chain(r, seq + w, C_REORDERED);
	}
	/* After the insert, so a packet that fills a gap is used rather than
	 * declared lost because its successor's hold ran out meanwhile. */
	expire(r, now_ns);
	return 0;
}

uint64_t reorder_tick(struct reorder *r, uint64_t now_ns)
{
	if (now_ns < r->now_ns)
		now_ns = r->now_ns;
	r->now_ns = now_ns;
	expire(r, now_ns);
	return reorder_next_deadline(r);
}

uint64_t reorder_next_deadline(const struct reorder *r)
{
	if (r->arr_head == NIL)
		return UINT64_MAX;
	return deadline_of(r, &r->slots[r->arr_head]);
}

void reorder_flush(struct reorder *r)
{
	if (!r->started)
		return;
	resolve_below(r, r->head, C_FLUSHED);
}

void reorder_reset(struct reorder *r)
{
	reorder_flush(r);
	/* The next packet places a fresh window (window_init clears every
	 * slot), wherever its sequence space starts. */
	r->started = false;
	r->arr_head = r->arr_tail = NIL;
	r->recover_until = 0;
}

void reorder_get_stats(const struct reorder *r, struct reorder_stats *st)
{
	*st = r->st;
	st->hold_ns = r->hold_ns;
	st->wait_ns = reorder_wait_ns(r);
	st->capacity = r->cap;
}

uint64_t reorder_wait_ns(const struct reorder *r)
{
	/* Read-only: windows that ended long ago count as empty. */
	uint64_t age = r->now_ns - r->wait_start;
	if (age >= 2 * REORDER_WAIT_WINDOW_NS)
		return 0;
	uint64_t w = r->wait_cur;
	if (age < REORDER_WAIT_WINDOW_NS && r->wait_prev > w)
		w = r->wait_prev;
	return w;
}
