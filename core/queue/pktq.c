/*
 * Bounded FIFO with CoDel at the head (see pktq.h). The control law and
 * the state machine follow RFC 8289's pseudocode, with the daemon's
 * nanosecond clock passed in.
 */
#include "queue/pktq.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int pktq_init(struct pktq *q, const struct pktq_cfg *c)
{
	memset(q, 0, sizeof(*q));
	if (c->limit_pkts < 2 || !c->slot_size || !c->limit_bytes ||
	    !c->interval_ns)
		return -EINVAL;
	q->cfg = *c;
	/* malloc, not calloc: slots are written before they are read, and
	 * untouched pages of a queue that never fills cost nothing. */
	q->mem = malloc((size_t)c->limit_pkts * c->slot_size);
	q->slots = calloc(c->limit_pkts, sizeof(*q->slots));
	if (!q->mem || !q->slots) {
		pktq_free(q);
		memset(q, 0, sizeof(*q)); /* limit 0: every push refused */
		return -ENOMEM;
	}
	return 0;
}

void pktq_free(struct pktq *q)
{
	free(q->mem);
	free(q->slots);
	q->mem = NULL;
	q->slots = NULL;
	q->n = 0;
}

static uint8_t *slot_data(const struct pktq *q, uint32_t i)
{
	return q->mem + (size_t)i * q->cfg.slot_size;
}

int pktq_push_hdr(struct pktq *q, const void *hdr, uint32_t hlen,
		  const uint8_t *pkt, uint32_t len, uint64_t now)
{
	uint32_t total = hlen + len;
	if (total < len || total > q->cfg.slot_size)
		return -EMSGSIZE;
	if (q->n >= q->cfg.limit_pkts ||
	    q->bytes + total > q->cfg.limit_bytes) {
		q->drops_full++;
		return -ENOBUFS;
	}
	uint32_t t = (q->head + q->n) % q->cfg.limit_pkts;
	uint8_t *dst = slot_data(q, t);
	if (hlen)
		memcpy(dst, hdr, hlen);
	memcpy(dst + hlen, pkt, len);
	q->slots[t].len = total;
	q->slots[t].enq_ns = now;
	q->n++;
	q->bytes += total;
	q->enqueued++;
	return 0;
}

int pktq_push(struct pktq *q, const uint8_t *pkt, uint32_t len, uint64_t now)
{
	return pktq_push_hdr(q, NULL, 0, pkt, len, now);
}

uint64_t pktq_head_sojourn(const struct pktq *q, uint64_t now)
{
	if (!q->n || now <= q->slots[q->head].enq_ns)
		return 0;
	return now - q->slots[q->head].enq_ns;
}

/* Removes the head; returns its slot index. */
static uint32_t take_head(struct pktq *q)
{
	uint32_t i = q->head;
	q->head = (q->head + 1) % q->cfg.limit_pkts;
	q->n--;
	q->bytes -= q->slots[i].len;
	return i;
}

/* codel_take_fn: the head, its sojourn and the backlog before it. */
static int codel_take(void *ctx, uint64_t now, uint64_t *sojourn,
		      uint64_t *backlog)
{
	struct pktq *q = ctx;
	if (!q->n)
		return -1;
	*sojourn = pktq_head_sojourn(q, now);
	*backlog = q->bytes;
	return (int)take_head(q);
}

/* codel_signal_fn: marks slot i when ECN allows (kept, true), else drops
 * it (false). */
static bool codel_signal(void *ctx, int i)
{
	struct pktq *q = ctx;
	if (q->cfg.ecn &&
	    pktq_ecn_mark(slot_data(q, (uint32_t)i), q->slots[i].len)) {
		q->ecn_marks++;
		return true;
	}
	q->drops_codel++;
	return false;
}

uint8_t *pktq_pop(struct pktq *q, uint64_t now, uint32_t *len)
{
	const struct codel_params cp = {.target_ns = q->cfg.target_ns,
					.interval_ns = q->cfg.interval_ns,
					.mtu = q->cfg.slot_size};
	int i = codel_dequeue(&q->cd, &cp, q->aqm_paused, now, codel_take,
			      codel_signal, q);
	if (i < 0)
		return NULL;
	uint64_t soj = now > q->slots[i].enq_ns ? now - q->slots[i].enq_ns : 0;
	if (soj > q->max_sojourn_ns)
		q->max_sojourn_ns = soj;
	q->dequeued++;
	*len = q->slots[i].len;
	return slot_data(q, (uint32_t)i);
}

/* RFC 1624 incremental update of the IPv4 header checksum for one 16-bit
 * word changing from old to new. */
static void csum_fix(uint8_t *sum, uint16_t old, uint16_t new)
{
	uint32_t s = (uint32_t)(~((sum[0] << 8) | sum[1]) & 0xffff);
	s += (uint16_t)~old;
	s += new;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = ~s & 0xffff;
	sum[0] = (uint8_t)(s >> 8);
	sum[1] = (uint8_t)s;
}

bool pktq_ecn_mark(uint8_t *pkt, uint32_t len)
{
	if (len >= 20 && pkt[0] >> 4 == 4) {
		uint8_t ecn = pkt[1] & 3;
		if (ecn == 0)
			return false;
		if (ecn == 3)
			return true;
		uint16_t old = (uint16_t)((pkt[0] << 8) | pkt[1]);
		pkt[1] |= 3;
		csum_fix(pkt + 10, old, (uint16_t)((pkt[0] << 8) | pkt[1]));
		return true;
	}
	if (len >= 40 && pkt[0] >> 4 == 6) {
		uint8_t ecn = (pkt[1] >> 4) & 3;
		if (ecn == 0)
			return false;
		pkt[1] |= 0x30;
		return true;
	}
	return false;
}
