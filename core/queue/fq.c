/*
 * Flow queueing with per-flow CoDel (see fq.h). DRR and the new/old flow
 * lists follow RFC 8290 section 4 (fq_codel's dequeue); each flow's CoDel
 * follows RFC 8289 as core/queue/pktq.c does for the single FIFO.
 */
#include "queue/fq.h"
#include "queue/pktq.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int fq_init(struct fq *q, const struct fq_cfg *c)
{
	memset(q, 0, sizeof(*q));
	if (c->limit_pkts < 2 || !c->slot_size || !c->limit_bytes ||
	    !c->interval_ns || !c->flows || (c->flows & (c->flows - 1)) ||
	    c->quantum < 64 || c->limit_pkts == FQ_NONE)
		return -EINVAL;
	q->cfg = *c;
	q->mem = malloc((size_t)c->limit_pkts * c->slot_size);
	q->slots = calloc(c->limit_pkts, sizeof(*q->slots));
	q->flows = calloc(c->flows, sizeof(*q->flows));
	if (!q->mem || !q->slots || !q->flows) {
		fq_free(q);
		memset(q, 0, sizeof(*q));
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < c->limit_pkts; i++)
		q->slots[i].next = i + 1 < c->limit_pkts ? i + 1 : FQ_NONE;
	q->free_head = 0;
	for (uint32_t i = 0; i < c->flows; i++) {
		q->flows[i].head = q->flows[i].tail = FQ_NONE;
		q->flows[i].next = FQ_NONE;
	}
	q->newl.head = q->newl.tail = FQ_NONE;
	q->oldl.head = q->oldl.tail = FQ_NONE;
	return 0;
}

void fq_free(struct fq *q)
{
	free(q->mem);
	free(q->slots);
	free(q->flows);
	q->mem = NULL;
	q->slots = NULL;
	q->flows = NULL;
	q->n = 0;
	q->cfg.limit_pkts = 0;
}

uint32_t fq_flow_of(const struct fq *q, uint32_t hash)
{
	/* mix, so a hash whose low bits vary little still spreads */
	uint32_t h = hash * 2654435761u;
	h ^= h >> 16;
	return h & (q->cfg.flows - 1);
}

uint32_t fq_flow_pkts(const struct fq *q, uint32_t flow)
{
	return flow < q->cfg.flows ? q->flows[flow].n : 0;
}

static uint8_t *slot_data(const struct fq *q, uint32_t i)
{
	return q->mem + (size_t)i * q->cfg.slot_size;
}

/* ---- flow lists ---- */

static void list_push_tail(struct fq *q, struct fq_list *l, uint32_t f)
{
	q->flows[f].next = FQ_NONE;
	if (l->tail == FQ_NONE)
		l->head = f;
	else
		q->flows[l->tail].next = f;
	l->tail = f;
}

static uint32_t list_pop_head(struct fq *q, struct fq_list *l)
{
	uint32_t f = l->head;
	if (f == FQ_NONE)
		return f;
	l->head = q->flows[f].next;
	if (l->head == FQ_NONE)
		l->tail = FQ_NONE;
	q->flows[f].next = FQ_NONE;
	return f;
}

/* ---- one flow's packets ---- */

/* Unlinks the flow's head slot and returns it to the free list; the data
 * stay readable until the slot is reused (the next push). */
static uint32_t flow_take_head(struct fq *q, struct fq_flow *fl)
{
	uint32_t i = fl->head;
	fl->head = q->slots[i].next;
	if (fl->head == FQ_NONE)
		fl->tail = FQ_NONE;
	fl->n--;
	fl->bytes -= q->slots[i].len;
	q->n--;
	q->bytes -= q->slots[i].len;
	q->slots[i].next = q->free_head;
	q->free_head = i;
	return i;
}

/* The flow with the most bytes queued (the one an overflow punishes).
 * Only flows on a list can hold packets, so only they are scanned. */
static uint32_t fattest(const struct fq *q)
{
	uint32_t best = FQ_NONE, most = 0;
	const struct fq_list *ls[2] = {&q->newl, &q->oldl};
	for (int k = 0; k < 2; k++)
		for (uint32_t f = ls[k]->head; f != FQ_NONE;
		     f = q->flows[f].next)
			if (q->flows[f].bytes > most)
				most = q->flows[f].bytes, best = f;
	return best;
}

int fq_push(struct fq *q, uint32_t hash, const uint8_t *pkt, uint32_t len,
	    uint64_t now)
{
	if (len > q->cfg.slot_size || !q->cfg.limit_pkts) {
		q->drops_full++;
		return -EMSGSIZE;
	}
	if (len > q->cfg.limit_bytes) {
		q->drops_full++;
		return -ENOBUFS;
	}
	while (q->n >= q->cfg.limit_pkts ||
	       q->bytes + len > q->cfg.limit_bytes) {
		uint32_t f = fattest(q);
		if (f == FQ_NONE)
			break;
		flow_take_head(q, &q->flows[f]);
		q->drops_overflow++;
		/* an empty flow stays on its list: fq_pop retires it */
	}
	uint32_t fi = fq_flow_of(q, hash);
	struct fq_flow *fl = &q->flows[fi];
	uint32_t i = q->free_head;
	q->free_head = q->slots[i].next;
	memcpy(slot_data(q, i), pkt, len);
	q->slots[i].len = len;
	q->slots[i].enq_ns = now;
	q->slots[i].next = FQ_NONE;
	if (fl->tail == FQ_NONE)
		fl->head = i;
	else
		q->slots[fl->tail].next = i;
	fl->tail = i;
	fl->n++;
	fl->bytes += len;
	q->n++;
	q->bytes += len;
	q->enqueued++;
	if (fl->list == FQ_LIST_NONE) {
		fl->list = FQ_LIST_NEW;
		fl->deficit = (int32_t)q->cfg.quantum;
		list_push_tail(q, &q->newl, fi);
	}
	return 0;
}

/* ---- CoDel per flow (RFC 8289 section 5, as in pktq.c) ---- */

static int codel_dodequeue(struct fq *q, struct fq_flow *fl, uint64_t now,
			   bool *ok_to_drop)
{
	*ok_to_drop = false;
	if (fl->head == FQ_NONE) {
		fl->cd.first_above_ns = 0;
		return -1;
	}
	uint64_t enq = q->slots[fl->head].enq_ns;
	uint64_t sojourn = now > enq ? now - enq : 0;
	uint32_t len = q->slots[fl->head].len;
	int i = (int)flow_take_head(q, fl);
	if (sojourn < q->cfg.target_ns || fl->bytes + len <= q->cfg.slot_size) {
		fl->cd.first_above_ns = 0;
	} else if (!fl->cd.first_above_ns) {
		fl->cd.first_above_ns = now + q->cfg.interval_ns;
	} else if (now >= fl->cd.first_above_ns) {
		*ok_to_drop = true;
	}
	return i;
}

static uint64_t control_law(const struct fq *q, uint64_t t, uint32_t count)
{
	return t + (uint64_t)((double)q->cfg.interval_ns / sqrt((double)count));
}

/* Drops slot i, or marks it when ECN allows; true if it is kept. */
static bool codel_signal(struct fq *q, int i)
{
	if (q->cfg.ecn &&
	    pktq_ecn_mark(slot_data(q, (uint32_t)i), q->slots[i].len)) {
		q->ecn_marks++;
		return true;
	}
	q->drops_codel++;
	return false;
}

static int codel_dequeue(struct fq *q, struct fq_flow *fl, uint64_t now)
{
	struct fq_codel *cd = &fl->cd;
	bool ok;
	int i = codel_dodequeue(q, fl, now, &ok);
	if (i < 0) {
		cd->dropping = false;
		return -1;
	}
	if (q->aqm_paused) {
		cd->dropping = false;
		cd->first_above_ns = 0;
		return i;
	}
	if (cd->dropping) {
		if (!ok) {
			cd->dropping = false;
		} else if (now >= cd->drop_next_ns) {
			while (cd->dropping && now >= cd->drop_next_ns) {
				cd->count++;
				if (codel_signal(q, i)) {
					cd->drop_next_ns = control_law(
					    q, cd->drop_next_ns, cd->count);
					return i;
				}
				i = codel_dodequeue(q, fl, now, &ok);
				if (i < 0) {
					cd->dropping = false;
					return -1;
				}
				if (!ok)
					cd->dropping = false;
				else
					cd->drop_next_ns = control_law(
					    q, cd->drop_next_ns, cd->count);
			}
		}
	} else if (ok) {
		if (!codel_signal(q, i))
			i = codel_dodequeue(q, fl, now, &ok);
		cd->dropping = true;
		uint32_t delta = cd->count - cd->lastcount;
		cd->count = delta > 1 && now - cd->drop_next_ns <
					     16 * q->cfg.interval_ns
				? delta
				: 1;
		cd->drop_next_ns = control_law(q, now, cd->count);
		cd->lastcount = cd->count;
	}
	return i;
}

/* ---- DRR over the flows (RFC 8290 section 4.2) ---- */

uint8_t *fq_pop(struct fq *q, uint64_t now, uint32_t *len, uint64_t *enq_ns)
{
	for (;;) {
		struct fq_list *l = q->newl.head != FQ_NONE   ? &q->newl
				    : q->oldl.head != FQ_NONE ? &q->oldl
							      : NULL;
		if (!l)
			return NULL;
		uint32_t fi = l->head;
		struct fq_flow *fl = &q->flows[fi];
		if (fl->deficit <= 0) {
			fl->deficit += (int32_t)q->cfg.quantum;
			list_pop_head(q, l);
			fl->list = FQ_LIST_OLD;
			list_push_tail(q, &q->oldl, fi);
			continue;
		}
		int i = codel_dequeue(q, fl, now);
		if (i < 0) {
			list_pop_head(q, l);
			/* an emptied new flow goes to the old list once, so a
			 * flow cannot stay "new" by arriving in bursts */
			if (l == &q->newl && q->oldl.head != FQ_NONE) {
				fl->list = FQ_LIST_OLD;
				list_push_tail(q, &q->oldl, fi);
			} else {
				fl->list = FQ_LIST_NONE;
			}
			continue;
		}
		uint32_t plen = q->slots[i].len;
		fl->deficit -= (int32_t)plen;
		uint64_t enq = q->slots[i].enq_ns;
		uint64_t soj = now > enq ? now - enq : 0;
		if (soj > q->max_sojourn_ns)
			q->max_sojourn_ns = soj;
		q->dequeued++;
		*len = plen;
		if (enq_ns)
			*enq_ns = enq;
		return slot_data(q, (uint32_t)i);
	}
}

bool fq_interactive(struct fq *q, uint32_t hash, uint8_t dscp, uint32_t len,
		    uint64_t now)
{
	struct fq_flow *fl = &q->flows[fq_flow_of(q, hash)];
	/* drain the flow's recent bytes at sparse_rate */
	if (now > fl->recent_ns) {
		uint64_t dt = now - fl->recent_ns;
		uint64_t drained = dt >= 1000000000ull * 16
				       ? UINT64_MAX
				       : (uint64_t)((double)q->cfg.sparse_rate *
						    (double)dt / 1e9);
		fl->recent = drained >= fl->recent ? 0 : fl->recent - drained;
		fl->recent_ns = now;
	}
	bool sparse = fl->n == 0 && fl->recent + len <= q->cfg.sparse_burst;
	/* bounded, so a flow that stops being bulk is sparse again within
	 * about 2 * burst / rate */
	uint64_t cap = 2ull * q->cfg.sparse_burst + len;
	fl->recent += len;
	if (fl->recent > cap)
		fl->recent = cap;
	bool in = sparse || (dscp < 64 && (q->cfg.dscp_mask >> dscp) & 1);
	if (in)
		q->classified_interactive++;
	else
		q->classified_bulk++;
	return in;
}

static const struct {
	const char *name;
	uint8_t v;
} dscp_names[] = {
    {"cs0", 0},	  {"cs1", 8},	{"cs2", 16},  {"cs3", 24},  {"cs4", 32},
    {"cs5", 40},  {"cs6", 48},	{"cs7", 56},  {"af11", 10}, {"af12", 12},
    {"af13", 14}, {"af21", 18}, {"af22", 20}, {"af23", 22}, {"af31", 26},
    {"af32", 28}, {"af33", 30}, {"af41", 34}, {"af42", 36}, {"af43", 38},
    {"ef", 46},	  {"va", 44},	{"le", 1},
};

int fq_dscp_parse(const char *s, uint8_t *out)
{
	for (size_t i = 0; i < sizeof(dscp_names) / sizeof(dscp_names[0]); i++)
		if (!strcasecmp(s, dscp_names[i].name)) {
			*out = dscp_names[i].v;
			return 0;
		}
	if (!*s || strlen(s) > 2)
		return -EINVAL;
	unsigned v = 0;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v > 63)
		return -EINVAL;
	*out = (uint8_t)v;
	return 0;
}

int fq_dscp_mask_parse(const char *s, uint64_t *mask, const char **bad)
{
	char word[16];
	uint64_t m = 0;
	*bad = NULL;
	if (!strcasecmp(s, "none")) {
		*mask = 0;
		return 0;
	}
	const char *p = s;
	while (*p) {
		while (*p == ',' || *p == ' ')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, ", ");
		if (n >= sizeof(word)) {
			*bad = p;
			return -EINVAL;
		}
		memcpy(word, p, n);
		word[n] = 0;
		uint8_t v;
		if (fq_dscp_parse(word, &v) < 0) {
			*bad = p;
			return -EINVAL;
		}
		m |= 1ull << v;
		p += n;
	}
	*mask = m;
	return 0;
}
