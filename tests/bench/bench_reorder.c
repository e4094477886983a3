/*
 * Reorder buffer benchmark: ns per packet through reorder_push() (and the
 * timer ticks a daemon would run) for in-order traffic and for traffic
 * split over two links of 15 ms and 40 ms, with and without loss. The trace
 * is generated before the clock starts so only the buffer is measured.
 * Speed lives here, never in a unit test's assertion.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reorder.h"
#include "../unit/xorshift.h"

#define NPKT	 1000000u
#define NBUCKETS 256u
#define MS	 1000000ull

struct arrival {
	uint64_t seq;
	uint64_t t_ns;
	uint32_t gap;
};

struct sink {
	uint64_t n;
	uint64_t bytes;
};

static void sink_deliver(void *arg, void *pkt, uint32_t len)
{
	struct sink *s = arg;
	s->n++;
	s->bytes += len + (uint64_t)(uintptr_t)pkt;
}

static int mono_ns(uint64_t *out)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return -errno;
	*out = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	return 0;
}

/*
 * Builds the arrival order of NPKT packets sent every `interval` ns, seq
 * numbers with a probe hole every 64 packets, random flow buckets, and
 * packets alternating between two links (delays d0, d1) with `loss_pm`
 * per-mille loss. Each link is FIFO, so arrival order is a merge. Returns
 * the number of arrivals.
 */
static size_t make_trace(struct arrival *out, struct arrival *l0,
			 struct arrival *l1, uint64_t interval, uint64_t d0,
			 uint64_t d1, unsigned loss_pm, int one_bucket_rr)
{
	static uint64_t last[NBUCKETS];
	static int have[NBUCKETS];
	memset(have, 0, sizeof(have));
	uint64_t rs = 0x1234567ull, seq = 1000;
	size_t n0 = 0, n1 = 0;
	for (uint32_t i = 0; i < NPKT; i++) {
		seq += (i % 64 == 63) ? 2 : 1;
		uint32_t b = one_bucket_rr
				 ? i % NBUCKETS
				 : (uint32_t)(rng_next(&rs) % NBUCKETS);
		uint32_t gap = have[b] ? (uint32_t)(seq - last[b]) : 0;
		last[b] = seq;
		have[b] = 1;
		uint64_t sent = (uint64_t)i * interval;
		if (loss_pm && rng_next(&rs) % 1000 < loss_pm)
			continue;
		if (i & 1)
			l1[n1++] = (struct arrival){seq, sent + d1, gap};
		else
			l0[n0++] = (struct arrival){seq, sent + d0, gap};
	}
	size_t i0 = 0, i1 = 0, n = 0;
	while (i0 < n0 || i1 < n1) {
		if (i1 >= n1 || (i0 < n0 && l0[i0].t_ns <= l1[i1].t_ns))
			out[n++] = l0[i0++];
		else
			out[n++] = l1[i1++];
	}
	return n;
}

/* Runs one trace through a fresh buffer, ticking at each deadline the way
 * the daemon's timer does; prints ns/packet. Returns 0 or -errno. */
static int run(const char *name, const struct arrival *a, size_t n,
	       uint64_t hold)
{
	struct sink sink = {0, 0};
	struct reorder *r = NULL;
	int ret = reorder_create(&r, 4096, hold, sink_deliver, &sink);
	if (ret < 0) {
		fprintf(stderr, "bench_reorder: reorder_create: %s\n",
			strerror(-ret));
		return ret;
	}
	uint64_t t0, t1;
	if ((ret = mono_ns(&t0)) < 0)
		goto out;
	uint64_t next = UINT64_MAX;
	size_t accepted = 0;
	for (size_t i = 0; i < n; i++) {
		while (next <= a[i].t_ns)
			next = reorder_tick(r, next);
		if (reorder_push(r, a[i].seq, a[i].gap,
				 (void *)(uintptr_t)(i + 1), 1200,
				 a[i].t_ns) == 0)
			accepted++;
		next = reorder_next_deadline(r);
	}
	while (next != UINT64_MAX)
		next = reorder_tick(r, next);
	if ((ret = mono_ns(&t1)) < 0)
		goto out;
	struct reorder_stats st;
	reorder_get_stats(r, &st);
	/* A lossless trace within the hold must lose nothing; otherwise
	 * every accepted packet must have come out. */
	if (sink.n != accepted || (!st.lost && accepted != n)) {
		fprintf(stderr,
			"bench_reorder: %s: delivered %" PRIu64
			" of %zu accepted, %zu pushed\n",
			name, sink.n, accepted, n);
		ret = -EPROTO;
		goto out;
	}
	printf("reorder %s: %.1f ns/packet (%zu packets, held %" PRIu64
	       ", lost %" PRIu64 ")\n",
	       name, (double)(t1 - t0) / (double)n, n, st.held, st.lost);
out:
	reorder_destroy(r);
	return ret;
}

int main(void)
{
	int rc = 1;
	struct arrival *a = calloc(NPKT, sizeof(*a));
	struct arrival *l0 = calloc(NPKT, sizeof(*l0));
	struct arrival *l1 = calloc(NPKT, sizeof(*l1));
	if (!a || !l0 || !l1) {
		fprintf(stderr, "bench_reorder: out of memory\n");
		goto out;
	}
	/* 100k packets/s: the 25 ms delay gap puts ~2500 packets in flight,
	 * inside the default capacity of 4096. */
	size_t n = make_trace(a, l0, l1, 10000, 15 * MS, 15 * MS, 0, 1);
	if (run("in-order", a, n, 30 * MS) < 0)
		goto out;
	n = make_trace(a, l0, l1, 10000, 15 * MS, 40 * MS, 0, 0);
	if (run("two-link interleaved", a, n, 30 * MS) < 0)
		goto out;
	n = make_trace(a, l0, l1, 10000, 15 * MS, 40 * MS, 10, 0);
	if (run("two-link interleaved 1% loss", a, n, 30 * MS) < 0)
		goto out;
	rc = 0;
out:
	free(a);
	free(l0);
	free(l1);
	return rc;
}
