/*
 * CoDel's dequeue (RFC 8289 section 5), once for both daemon queues: the
 * single FIFO (pktq.c) and each flow of the flow queue (fq.c). A queue
 * keeps one struct codel_vars per CoDel instance and hands this module two
 * callbacks: take the head, and drop or mark a taken packet. Pure: the
 * caller passes `now` (ns); no clock, no allocation.
 */
#ifndef TTT_QUEUE_CODEL_H
#define TTT_QUEUE_CODEL_H

#include <stdbool.h>
#include <stdint.h>

struct codel_vars {
	bool dropping;
	uint32_t count, lastcount;
	uint64_t first_above_ns, drop_next_ns;
};

struct codel_params {
	uint64_t target_ns;   /* acceptable standing sojourn */
	uint64_t interval_ns; /* how long above target before dropping */
	uint64_t mtu;	      /* a backlog this small never drops */
};

/* Removes the head of the queue the CoDel instance watches; returns its
 * slot index (or -1 when empty) with its sojourn time and the backlog in
 * bytes before it was taken. */
typedef int (*codel_take_fn)(void *ctx, uint64_t now, uint64_t *sojourn_ns,
			     uint64_t *backlog);
/* Congestion signal on a taken packet: true when it was ECN-marked and
 * must still be sent, false when it was dropped (counted by the queue). */
typedef bool (*codel_signal_fn)(void *ctx, int slot);

/* RFC 8289's dequeue(): the slot to send, or -1. Packets CoDel drops on
 * the way were handed to signal(). With `paused` (the link model's
 * start-up) nothing is dropped and the state is reset. */
int codel_dequeue(struct codel_vars *v, const struct codel_params *p,
		  bool paused, uint64_t now, codel_take_fn take,
		  codel_signal_fn signal, void *ctx);

#endif
