/*
 * The impairment model of one direction of one emulated link. It never reads
 * a clock or touches a socket: the relay passes `now`, so the unit test can
 * check delays, rates and ordering exactly with made-up times.
 *
 * A packet admitted at `now` goes through, in order: down check, random loss
 * (Bernoulli or Gilbert bursts), size check, the rate limiter and finally the
 * propagation delay:
 *   wire    = len + overhead           headers the real link also carries
 *   start   = max(now, wire idle)      serialization on a wire of `rate`
 *   finish  = start + wire * 8 / rate  (tail drop if the backlog exceeds
 *                                       the queue limit)
 *   release = finish + delay + jitter, and, unless reorder is on,
 *   release = max(release, previous release)   real links keep FIFO order.
 * When the rate changes, packets still queued are re-timed at the new rate
 * (imp_retime): a capacity drop slows down what is already waiting, as it
 * does on a real link, instead of taking effect a full queue later.
 * Buffers come from a preallocated pool (a free stack, so recently used and
 * thus resident buffers are reused first); a min-heap on (release, arrival)
 * orders them for release, so --reorder needs no second code path.
 */
#include "emu.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** seeded through splitmix64: fast, and the same seed gives the
 * same losses and jitter run after run, so a failing test can be replayed. */
uint64_t imp_rand(uint64_t s[4])
{
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

void imp_seed(uint64_t s[4], uint64_t seed)
{
	for (int i = 0; i < 4; i++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		s[i] = z ^ (z >> 31);
	}
}

/* Uniform in [0, 1). */
static double rand01(struct imp_dir *d)
{
	return (double)(imp_rand(d->rng) >> 11) * 0x1.0p-53;
}

int imp_dir_init(struct imp_dir *d, const struct imp_params *p, uint32_t nslots,
		 uint32_t slot_size, uint64_t seed, struct err *e)
{
	memset(d, 0, sizeof(*d));
	if (nslots == 0 || slot_size == 0)
		return err_set(e, -EINVAL, "queue needs at least one slot");
	d->p = p;
	d->nslots = nslots;
	d->slot_size = slot_size;
	imp_seed(d->rng, seed);
	d->bufs = malloc((size_t)nslots * slot_size);
	d->meta = calloc(nslots, sizeof(*d->meta));
	d->free_stack = calloc(nslots, sizeof(*d->free_stack));
	d->heap = calloc(nslots, sizeof(*d->heap));
	d->scratch = calloc(nslots, sizeof(*d->scratch));
	d->rate_bps = p->rate_bps;
	if (!d->bufs || !d->meta || !d->free_stack || !d->heap || !d->scratch) {
		imp_dir_free(d);
		return err_set(e, -ENOMEM,
			       "cannot allocate %u packet buffers of %u bytes",
			       nslots, slot_size);
	}
	for (uint32_t i = 0; i < nslots; i++)
		d->free_stack[i] = nslots - 1 - i;
	d->nfree = nslots;
	return 0;
}

void imp_dir_free(struct imp_dir *d)
{
	free(d->bufs);
	free(d->meta);
	free(d->free_stack);
	free(d->heap);
	free(d->scratch);
	d->bufs = NULL;
	d->meta = NULL;
	d->free_stack = d->heap = d->scratch = NULL;
	d->nfree = d->nheap = 0;
}

/* In wire bytes (overhead included), like the backlog it is compared with. */
uint64_t imp_queue_limit_bytes(const struct imp_params *p)
{
	if (p->queue_bytes)
		return p->queue_bytes;
	return (uint64_t)((double)p->rate_bps * (double)p->queue_ns / 8e9);
}

/* Time a datagram of `len` payload bytes occupies the wire; 0 if unlimited. */
uint64_t imp_serialize_ns(const struct imp_params *p, size_t len)
{
	if (!p->rate_bps)
		return 0;
	return (uint64_t)((double)(len + p->overhead) * 8e9 /
			  (double)p->rate_bps);
}

static bool heap_less(const struct imp_dir *d, uint32_t a, uint32_t b)
{
	const struct imp_slot *x = &d->meta[a], *y = &d->meta[b];
	return x->release_ns < y->release_ns ||
	       (x->release_ns == y->release_ns && x->seq < y->seq);
}

static void heap_push(struct imp_dir *d, uint32_t slot)
{
	uint32_t i = d->nheap++;

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!heap_less(d, slot, d->heap[parent]))
			break;
		d->heap[i] = d->heap[parent];
		i = parent;
	}
	d->heap[i] = slot;
}

/* Moves the slot at heap position i down until its children are later. */
static void heap_sift_down(struct imp_dir *d, uint32_t i)
{
	uint32_t x = d->heap[i];

	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= d->nheap)
			break;
		if (c + 1 < d->nheap &&
		    heap_less(d, d->heap[c + 1], d->heap[c]))
			c++;
		if (!heap_less(d, d->heap[c], x))
			break;
		d->heap[i] = d->heap[c];
		i = c;
	}
	d->heap[i] = x;
}

static void heap_pop(struct imp_dir *d)
{
	uint32_t last = d->heap[--d->nheap];

	if (d->nheap) {
		d->heap[0] = last;
		heap_sift_down(d, 0);
	}
}

/*
 * The rate changed at `now`: the packets still waiting for (or on) the wire
 * leave it at the new rate. They form a back-to-back chain in arrival order
 * (each started when the one before finished; every later arrival queues
 * behind them), headed by the one being serialized, whose remaining time
 * scales by old/new; the others take their full time at the new rate. Each
 * keeps the delay and jitter it drew, FIFO order is kept unless reorder is
 * on, and the heap is rebuilt. Packets already past the wire (in their
 * propagation delay) are not touched. O(packets held), once per change.
 */
static void imp_retime(struct imp_dir *d, uint64_t now)
{
	const struct imp_params *p = d->p;
	uint64_t old = d->rate_bps, first = UINT64_MAX, max_rel = 0, t = now;
	uint32_t nq = 0;

	d->rate_bps = p->rate_bps;
	if (d->link_free_ns <= now)
		return; /* nothing waiting for the wire */
	for (uint32_t i = 0; i < d->nheap; i++) {
		const struct imp_slot *m = &d->meta[d->heap[i]];
		if (m->finish_ns > now) {
			nq++;
			first = m->seq < first ? m->seq : first;
		} else if (m->release_ns > max_rel) {
			max_rel = m->release_ns;
		}
	}
	/* Waiting packets are the last nq admitted (seq first..seq-1); were
	 * that ever not so, keeping the old times beats corrupting them. */
	if (nq == 0 || d->seq - first != nq)
		return;
	for (uint32_t i = 0; i < d->nheap; i++) {
		uint32_t slot = d->heap[i];
		if (d->meta[slot].finish_ns > now)
			d->scratch[d->meta[slot].seq - first] = slot;
	}
	for (uint32_t k = 0; k < nq; k++) {
		struct imp_slot *m = &d->meta[d->scratch[k]];
		uint64_t rel;
		/* Unlimited: the whole queue is on its way at once. */
		if (!p->rate_bps)
			t = now;
		else if (k == 0)
			t = now + (uint64_t)((double)(m->finish_ns - now) *
					     (double)old / (double)p->rate_bps);
		else
			t += (uint64_t)((double)m->wire_len * 8e9 /
					(double)p->rate_bps);
		m->finish_ns = t;
		rel = t + m->lat_ns;
		if (!p->reorder && rel < max_rel)
			rel = max_rel;
		m->release_ns = rel;
		max_rel = rel > max_rel ? rel : max_rel;
	}
	d->link_free_ns = t;
	/* Everything released so far left by `now`, before any of these. */
	d->last_release_ns = max_rel;
	for (uint32_t i = d->nheap / 2; i-- > 0;)
		heap_sift_down(d, i);
}

/* Brings queued packets in line with the current rate; the relay calls it
 * right when it changes the rate so the change takes effect at that time.
 * Enqueue and release call it too, so a model driven directly (the unit
 * test) needs no extra call. */
void imp_sync(struct imp_dir *d, uint64_t now_ns)
{
	if (d->rate_bps != d->p->rate_bps)
		imp_retime(d, now_ns);
}

/* Gilbert two-state model when a burst length is set: the bad state lasts
 * loss_burst packets on average and the good->bad probability is chosen so
 * the long-run loss rate is still `loss`. */
static bool imp_lost(struct imp_dir *d)
{
	const struct imp_params *p = d->p;

	if (p->loss <= 0)
		return false;
	if (p->loss >= 1)
		return true;
	if (p->loss_burst <= 1)
		return rand01(d) < p->loss;
	if (d->burst_bad) {
		if (rand01(d) < 1.0 / p->loss_burst)
			d->burst_bad = false;
	} else {
		double p_gb = p->loss / (p->loss_burst * (1 - p->loss));
		if (rand01(d) < p_gb)
			d->burst_bad = true;
	}
	return d->burst_bad;
}

/* Signed jitter in ns: uniform in [-j, j] or normal (sigma j, cut at 3j). */
static int64_t imp_jitter(struct imp_dir *d)
{
	const struct imp_params *p = d->p;
	double j = (double)p->jitter_ns, x;

	if (p->jitter_ns == 0)
		return 0;
	if (p->jitter_dist == IMP_JITTER_NORMAL) {
		double u1 = 1.0 - rand01(d), u2 = rand01(d);
		x = sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2);
		x = x > 3 ? 3 : (x < -3 ? -3 : x);
		return (int64_t)(x * j);
	}
	return (int64_t)((2 * rand01(d) - 1) * j);
}

enum imp_verdict imp_enqueue(struct imp_dir *d, const void *pkt, size_t len,
			     uint64_t now_ns)
{
	const struct imp_params *p = d->p;
	uint64_t finish = now_ns, release;
	size_t wire;
	int64_t delay;

	imp_sync(d, now_ns);
	d->c.in_pkts++;
	d->c.in_bytes += len;
	if (p->down) {
		d->c.drop_down++;
		return IMP_DROP_DOWN;
	}
	if (imp_lost(d)) {
		d->c.drop_loss++;
		return IMP_DROP_LOSS;
	}
	if (len > d->slot_size) {
		d->c.drop_oversize++;
		return IMP_DROP_OVERSIZE;
	}
	wire = len + p->overhead;
	if (p->rate_bps) {
		uint64_t start = now_ns;
		if (d->link_free_ns > now_ns) {
			/* Wire bytes still waiting, headers included. */
			double backlog = (double)(d->link_free_ns - now_ns) *
					 (double)p->rate_bps / 8e9;
			if ((double)wire + backlog >
			    (double)imp_queue_limit_bytes(p)) {
				d->c.drop_queue++;
				return IMP_DROP_QUEUE;
			}
			start = d->link_free_ns;
		}
		finish = start + imp_serialize_ns(p, len);
	}
	if (d->nfree == 0) {
		d->c.drop_nobuf++;
		return IMP_DROP_NOBUF;
	}
	if (p->rate_bps)
		d->link_free_ns = finish;
	delay = (int64_t)p->delay_ns + imp_jitter(d);
	delay = delay > 0 ? delay : 0;
	release = finish + (uint64_t)delay;
	if (!p->reorder && release < d->last_release_ns)
		release = d->last_release_ns;
	if (release > d->last_release_ns)
		d->last_release_ns = release;

	uint32_t slot = d->free_stack[--d->nfree];
	memcpy(d->bufs + (size_t)slot * d->slot_size, pkt, len);
	d->meta[slot] = (struct imp_slot){.release_ns = release,
					  .finish_ns = finish,
					  .lat_ns = (uint64_t)delay,
					  .seq = d->seq++,
					  .len = (uint32_t)len,
					  .wire_len = (uint32_t)wire};
	heap_push(d, slot);
	return IMP_QUEUED;
}

uint64_t imp_next_release(const struct imp_dir *d)
{
	return d->nheap ? d->meta[d->heap[0]].release_ns : UINT64_MAX;
}

/* Releases every packet due at now_ns, in order, through send (or drops it
 * if the link went down while it was in flight: a cut cable loses what is on
 * it). Bounded per call so a huge backlog cannot starve the receive side;
 * the caller re-arms its timer from imp_next_release(). */
unsigned imp_release_due(struct imp_dir *d, uint64_t now_ns, imp_send_fn send,
			 void *ctx)
{
	unsigned n = 0;

	imp_sync(d, now_ns);
	while (d->nheap && n < 1024) {
		uint32_t slot = d->heap[0];
		const struct imp_slot *m = &d->meta[slot];
		if (m->release_ns > now_ns)
			break;
		if (d->p->down) {
			d->c.drop_down++;
		} else if (send(ctx, d->bufs + (size_t)slot * d->slot_size,
				m->len) < 0) {
			d->c.send_err++;
		} else {
			d->c.fwd_pkts++;
			d->c.fwd_bytes += m->len;
			d->c.fwd_wire_bytes += m->wire_len;
		}
		heap_pop(d);
		d->free_stack[d->nfree++] = slot;
		n++;
	}
	return n;
}

void imp_counters_add(struct imp_counters *sum, const struct imp_counters *c)
{
	sum->in_pkts += c->in_pkts;
	sum->in_bytes += c->in_bytes;
	sum->fwd_pkts += c->fwd_pkts;
	sum->fwd_bytes += c->fwd_bytes;
	sum->fwd_wire_bytes += c->fwd_wire_bytes;
	sum->drop_loss += c->drop_loss;
	sum->drop_queue += c->drop_queue;
	sum->drop_down += c->drop_down;
	sum->drop_nobuf += c->drop_nobuf;
	sum->drop_oversize += c->drop_oversize;
	sum->send_err += c->send_err;
}
