/*
 * Retransmission store (contract in retx.h).
 *
 * Why this shape: the send path must not allocate, and a loss report names
 * (link, path_seq), not the session seq. So one ring of packet copies is
 * indexed by seq & mask (the session seq grows by one per packet of any
 * type, so the ring holds at most `capacity` recent packets), and each link
 * has a ring of path_seq -> seq indexed by path_seq & mask. An entry is
 * valid only while the slot it points to still holds that seq, which is
 * how overwriting ages out both rings at once without any scan.
 */
#include "link/retx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct retx_map {
	uint64_t seq;
	uint32_t path_seq;
	bool used;
};

struct retx_store {
	struct retx_cfg cfg;
	uint32_t mask;
	struct retx_ent *ents;
	uint8_t *mem;
	struct retx_map *maps; /* RETX_MAX_LINKS * capacity */
	/* budget: token bucket in bytes */
	uint64_t tokens, tok_ns;
	bool tok_started;
	struct retx_stats st;
	/* recent NACK delay: EWMA and when its last sample came */
	uint64_t nd_ewma_ns, nd_at_ns;
};

int retx_create(struct retx_store **out, const struct retx_cfg *c)
{
	if (!out || !c || c->capacity < 16 ||
	    (c->capacity & (c->capacity - 1)) || !c->max_len ||
	    c->max_len > 65535)
		return -EINVAL;
	struct retx_store *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->cfg = *c;
	st->mask = c->capacity - 1;
	st->ents = calloc(c->capacity, sizeof(*st->ents));
	st->mem = malloc((size_t)c->capacity * c->max_len);
	st->maps =
	    calloc((size_t)RETX_MAX_LINKS * c->capacity, sizeof(*st->maps));
	if (!st->ents || !st->mem || !st->maps) {
		retx_destroy(st);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < c->capacity; i++)
		st->ents[i].data = st->mem + (size_t)i * c->max_len;
	*out = st;
	return 0;
}

void retx_destroy(struct retx_store *st)
{
	if (!st)
		return;
	free(st->ents);
	free(st->mem);
	free(st->maps);
	free(st);
}

void retx_set_max_age(struct retx_store *st, uint64_t max_age_ns)
{
	st->cfg.max_age_ns = max_age_ns;
}

uint64_t retx_max_age(const struct retx_store *st)
{
	return st->cfg.max_age_ns;
}

static void map_put(struct retx_store *st, uint32_t link, uint32_t path_seq,
		    uint64_t seq)
{
	if (link >= RETX_MAX_LINKS)
		return;
	struct retx_map *m =
	    &st->maps[(size_t)link * st->cfg.capacity + (path_seq & st->mask)];
	m->seq = seq;
	m->path_seq = path_seq;
	m->used = true;
}

struct retx_ent *retx_on_sent(struct retx_store *st, uint64_t seq,
			      uint32_t link, uint32_t path_seq, uint16_t bucket,
			      uint32_t prev_gap, const uint8_t *data,
			      uint32_t len, uint64_t now_ns)
{
	struct retx_ent *e = &st->ents[seq & st->mask];
	if (len > st->cfg.max_len || link >= RETX_MAX_LINKS) {
		e->used = false; /* whatever was there is older anyway */
		return NULL;
	}
	e->seq = seq;
	e->sent_ns = now_ns;
	e->prev_gap = prev_gap;
	e->bucket = bucket;
	e->len = (uint16_t)len;
	e->sent_mask = (uint16_t)(1u << link);
	e->lost_mask = 0;
	e->first_link = (uint8_t)link;
	e->resends = 0;
	e->klass = 0;
	e->used = true;
	memcpy(e->data, data, len);
	map_put(st, link, path_seq, seq);
	st->st.stored++;
	return e;
}

void retx_on_resent(struct retx_store *st, uint64_t seq, uint32_t link,
		    uint32_t path_seq)
{
	struct retx_ent *e = &st->ents[seq & st->mask];
	if (!e->used || e->seq != seq)
		return;
	map_put(st, link, path_seq, seq);
}

struct retx_ent *retx_lookup(struct retx_store *st, uint32_t link,
			     uint32_t path_seq)
{
	if (link >= RETX_MAX_LINKS)
		return NULL;
	const struct retx_map *m =
	    &st->maps[(size_t)link * st->cfg.capacity + (path_seq & st->mask)];
	if (!m->used || m->path_seq != path_seq)
		return NULL;
	struct retx_ent *e = &st->ents[m->seq & st->mask];
	if (!e->used || e->seq != m->seq || !(e->sent_mask & (1u << link)))
		return NULL;
	return e;
}

enum retx_verdict retx_on_loss(struct retx_store *st, uint32_t link,
			       uint32_t path_seq, uint32_t usable,
			       uint64_t now_ns, struct retx_ent **out,
			       uint32_t *allowed)
{
	st->st.reports++;
	struct retx_ent *e = retx_lookup(st, link, path_seq);
	if (!e) {
		st->st.gone++;
		return RETX_GONE;
	}
	uint16_t bit = (uint16_t)(1u << link);
	if (e->lost_mask & bit) {
		st->st.dup++;
		return RETX_DUP;
	}
	e->lost_mask |= bit;
	if (now_ns - e->sent_ns > st->cfg.max_age_ns) {
		st->st.too_old++;
		return RETX_TOO_OLD;
	}
	if (e->sent_mask & ~e->lost_mask) {
		st->st.pending++;
		return RETX_PENDING;
	}
	uint32_t ok = usable & ~(uint32_t)e->lost_mask & 0xffffu;
	/* Every usable link lost a copy. The original's link lost only the
	 * original: random loss hits packets, not a packet again, so it may
	 * carry one resend (no link ever carries two resends of a packet).
	 * With two links both losing, giving up here left every lost resend
	 * to TCP, each a window cut. */
	if (!ok)
		ok = usable & (1u << e->first_link) & ~(uint32_t)e->resent_mask;
	if (!ok) {
		st->st.no_link++;
		return RETX_NO_LINK;
	}
	*out = e;
	*allowed = ok;
	return RETX_RESEND;
}

/* Refills the bucket at budget_ppm of capacity_bps; holds at most a
 * quarter second of it, and never less than 16 full packets (unless the
 * budget is 0), so a loss burst is recovered at once while the average
 * stays in the budget. */
static void tok_refill(struct retx_store *st, uint64_t capacity_bps,
		       uint64_t now_ns)
{
	uint64_t rate = capacity_bps / 1000000 * st->cfg.budget_ppm +
			capacity_bps % 1000000 * st->cfg.budget_ppm / 1000000;
	if (!st->cfg.budget_ppm) { /* budget 0: no resend but failover */
		st->tokens = 0;
		return;
	}
	uint64_t cap = rate / 8 / 4; /* bytes in 250 ms */
	uint64_t floor = 16ull * st->cfg.max_len;
	if (cap < floor)
		cap = floor;
	if (!st->tok_started) {
		st->tok_started = true;
		st->tokens = cap;
		st->tok_ns = now_ns;
		return;
	}
	uint64_t dt = now_ns - st->tok_ns;
	st->tok_ns = now_ns;
	if (dt > 1000000000ull)
		dt = 1000000000ull;
	st->tokens += rate / 8 * dt / 1000000000ull;
	if (st->tokens > cap)
		st->tokens = cap;
}

int retx_commit(struct retx_store *st, struct retx_ent *e, uint32_t link,
		uint32_t bytes, uint64_t capacity_bps, uint64_t now_ns,
		bool budgeted)
{
	if (link >= RETX_MAX_LINKS)
		return -EINVAL;
	tok_refill(st, capacity_bps, now_ns);
	if (budgeted) {
		if (st->tokens < bytes) {
			/* the loss stays booked: this one is left to TCP */
			st->st.over_budget++;
			return -ENOBUFS;
		}
		st->tokens -= bytes;
	}
	if (budgeted && !e->resends && now_ns > e->sent_ns) {
		/* send -> loss noticed -> NACK back: how long the far end
		 * waits before the resend even leaves (FEC's case) */
		uint64_t d = now_ns - e->sent_ns;
		st->st.nack_delay_n++;
		st->st.nack_delay_sum_ns += d;
		if (d > st->st.nack_delay_max_ns)
			st->st.nack_delay_max_ns = d;
		st->nd_ewma_ns =
		    st->nd_at_ns ? st->nd_ewma_ns - st->nd_ewma_ns / 8 + d / 8
				 : d;
		st->nd_at_ns = now_ns;
	}
	e->sent_mask |= (uint16_t)(1u << link);
	e->resent_mask |= (uint16_t)(1u << link);
	if (e->resends < UINT8_MAX)
		e->resends++;
	st->st.resent++;
	st->st.resent_bytes += bytes;
	return 0;
}

uint64_t retx_recent_nack_delay(const struct retx_store *st, uint64_t now_ns)
{
	if (!st || !st->nd_at_ns || now_ns - st->nd_at_ns > RETX_RECENT_NS)
		return 0;
	return st->nd_ewma_ns;
}

void retx_get_stats(const struct retx_store *st, struct retx_stats *out)
{
	*out = st->st;
}
