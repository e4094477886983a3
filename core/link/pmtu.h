/*
 * Path-MTU search for one link, as pure logic: a binary search for the
 * largest datagram that gets through, using padded probes.
 *
 * Why not ICMP: "fragmentation needed" messages are filtered on many mobile
 * and carrier-NAT paths, so the only reliable evidence is whether a probe of
 * a given size is answered (RFC 4821 packetization-layer PMTUD). The daemon
 * sets IP_MTU_DISCOVER = IP_PMTUDISC_PROBE so the kernel never fragments.
 *
 * Sizes are in whatever unit the caller uses consistently (the daemon uses
 * the whole outer IP datagram). Contract with the daemon:
 *  - when no PMTU probe is outstanding, size = pmtu_next_probe_size(m, now);
 *    if non-zero, send one probe padded to `size`;
 *  - its reply: pmtu_on_ack(m, size); no reply within the link's loss
 *    timeout: pmtu_on_timeout(m, size); sendto() failing with EMSGSIZE for
 *    any packet of `size` bytes: pmtu_on_emsgsize(m, size);
 *  - pmtu_current(m) is the largest size known to pass: never above the
 *    ceiling, never below the floor.
 *
 * Search rules:
 *  - The first probe of a search is the ceiling (most paths carry the full
 *    link MTU, so the common case converges in one probe); then bisection,
 *    on PMTU_GRAIN-byte multiples, until the gap between the largest size
 *    that passed and the smallest that did not is at most PMTU_GRAIN. From
 *    1280..1500 that is at most 8 sizes.
 *  - Loss is not "too big": a size counts as too big only after
 *    PMTU_TRIES timeouts in a row, or at once on EMSGSIZE. An ack, even a
 *    late one, always wins: it proves the size passes.
 *  - Converged: nothing to send for PMTU_REPROBE_NS, then a new upward
 *    search (the path may have grown). EMSGSIZE at or below the current
 *    value means the path shrank: current drops to the floor at once and a
 *    downward search starts.
 */
#ifndef TTT_PMTU_H
#define TTT_PMTU_H

#include <stdint.h>

/* Search resolution (bytes): finer buys nothing but probes. */
#define PMTU_GRAIN 4
/* Timeouts in a row before a size counts as too big. */
#define PMTU_TRIES 2
/* Pause between a converged search and the next upward one (ns). */
#define PMTU_REPROBE_NS (600ull * 1000000000ull)

struct pmtu {
	uint32_t floor;	  /* always assumed to pass */
	uint32_t ceiling; /* largest size ever tried (the link MTU) */
	uint32_t lo;	  /* largest size known to pass: pmtu_current() */
	uint32_t hi;	  /* smallest size known not to pass, ceiling + 1 if
			     none */
	uint32_t fails;	  /* timeouts in a row at `fail_size` */
	uint32_t fail_size;
	int top_first; /* next probe is hi - 1 rather than a midpoint */
	int converged; /* the end of the search was seen at converged_ns */
	uint64_t converged_ns;
	uint64_t probes;  /* sizes handed out */
	uint64_t acks;	  /* acks that taught something */
	uint64_t too_big; /* sizes judged too big (timeouts or EMSGSIZE) */
};

/*
 * Starts a search between floor and ceiling. Returns 0, or -EINVAL when
 * floor is 0 or above ceiling; m is then usable but pinned at the smaller
 * of the two (never probes).
 */
int pmtu_init(struct pmtu *m, uint32_t floor, uint32_t ceiling);

/* The size to probe now, or 0 when there is nothing to learn yet. */
uint32_t pmtu_next_probe_size(struct pmtu *m, uint64_t now_ns);

void pmtu_on_ack(struct pmtu *m, uint32_t size);
void pmtu_on_timeout(struct pmtu *m, uint32_t size);
/* Returns 0, or -ERANGE when even the floor does not fit (logged). */
int pmtu_on_emsgsize(struct pmtu *m, uint32_t size);

/* The largest size known to pass. */
uint32_t pmtu_current(const struct pmtu *m);
/* Largest size not shown to fail (the search's open upper bound): what the
 * datapath may send before probing has proven anything. 0 if m was never
 * initialised. */
uint32_t pmtu_limit(const struct pmtu *m);

#endif
