/*
 * libFuzzer harness for the reorder buffer (reorder/reorder.c) alone: a
 * fuzzed sequence of pushes (new, duplicate, old and far-future seqs,
 * honest or lying prev_gap chains across four flow buckets), clock steps,
 * ticks, hold changes, flushes and resets.
 *
 * Properties:
 *  - every packet the buffer accepted is delivered exactly once (at the
 *    latest when the buffer is destroyed), and a refused one never;
 *  - it never holds more than its capacity;
 *  - while every prev_gap told the truth, each bucket is delivered in
 *    increasing seq order (the promise TCP relies on);
 *  - the next deadline is never in the past after a tick.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reorder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXP 4096
#define CAP  64

struct pkt {
	uint64_t seq;
	uint8_t bucket;
	uint8_t accepted, delivered;
};

static struct pkt pk[MAXP];
static uint64_t last_out[4];
static int honest;

static void fuzz_check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_reorder: property broken: %s\n", what);
		abort();
	}
}

static void deliver(void *arg, void *p, uint32_t len)
{
	struct pkt *k = p;
	(void)arg;
	fuzz_check(len == 100, "length changed");
	fuzz_check(k->accepted, "delivered a refused packet");
	fuzz_check(!k->delivered, "delivered twice");
	k->delivered = 1;
	if (honest) {
		fuzz_check(k->seq > last_out[k->bucket] || !last_out[k->bucket],
			   "bucket delivered out of order");
		last_out[k->bucket] = k->seq;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reorder *r;
	uint64_t now = 1000000000ull, top = 0, bucket_last[4] = {0};
	uint32_t n = 0;
	struct reorder_stats st;

	memset(pk, 0, sizeof(pk));
	memset(last_out, 0, sizeof(last_out));
	honest = 1;
	if (reorder_create(&r, CAP, 20000000ull, deliver, NULL) < 0)
		abort();
	for (size_t off = 0; off + 3 <= size && n < MAXP; off += 3) {
		uint8_t op = data[off], a = data[off + 1], b = data[off + 2];
		switch (op & 7) {
		case 0:
		case 1:
		case 2: { /* push */
			struct pkt *k = &pk[n];
			uint64_t seq;
			if (op & 8)
				seq = top + 1 + (a & 15); /* ahead, small gap */
			else if (op & 16)
				seq = top > a ? top - a : 1; /* late / dup */
			else
				seq = top + 1 + (uint64_t)a * b; /* far */
			uint8_t bk = b & 3;
			uint32_t gap;
			if (op & 32) {
				gap = (uint32_t)(a | (uint32_t)b << 8);
				honest = 0;
			} else {
				gap = bucket_last[bk] && seq > bucket_last[bk]
					  ? (uint32_t)(seq - bucket_last[bk])
					  : 0;
				if (bucket_last[bk] && seq <= bucket_last[bk])
					honest = 0; /* a bucket went back */
			}
			k->seq = seq;
			k->bucket = bk;
			k->accepted = 1; /* the callback may run inside push */
			int rc = reorder_push(r, seq, gap, k, 100, now);
			if (rc < 0) {
				k->accepted = 0;
				fuzz_check(!k->delivered,
					   "refused packet delivered");
			} else {
				if (seq > top)
					top = seq;
				if (seq > bucket_last[bk])
					bucket_last[bk] = seq;
			}
			n++;
			break;
		}
		case 3: /* time passes */
			now += (uint64_t)a * 1000000ull + b;
			break;
		case 4: {
			uint64_t next = reorder_tick(r, now);
			fuzz_check(next == UINT64_MAX || next > now,
				   "deadline in the past after a tick");
			break;
		}
		case 5:
			reorder_set_hold(r, (uint64_t)a * 1000000ull);
			break;
		case 6:
			if (a & 1)
				reorder_flush(r);
			else
				break;
			break;
		case 7:
			if (a == 0x7f) { /* rare: a new sequence space */
				reorder_reset(r);
				top = 0;
				memset(bucket_last, 0, sizeof(bucket_last));
				memset(last_out, 0, sizeof(last_out));
				honest = 1;
				for (uint32_t i = 0; i < n; i++)
					fuzz_check(!pk[i].accepted ||
						       pk[i].delivered,
						   "reset lost a packet");
			}
			break;
		}
		reorder_get_stats(r, &st);
		fuzz_check(st.held_now <= CAP, "holds more than its capacity");
	}
	reorder_destroy(r);
	for (uint32_t i = 0; i < n; i++)
		fuzz_check(!pk[i].accepted || pk[i].delivered,
			   "accepted packet never delivered");
	return 0;
}
