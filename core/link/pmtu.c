/*
 * Path-MTU binary search over padded probes (RFC 4821 style). The search
 * keeps two bounds: lo, the largest size that got an answer, and hi, the
 * smallest size judged too big; every probe falls strictly between them.
 */
#include "link/pmtu.h"

#include <errno.h>
#include <string.h>

#include "base/log.h"

int pmtu_init(struct pmtu *m, uint32_t floor, uint32_t ceiling)
{
	memset(m, 0, sizeof(*m));
	int ret = 0;
	if (floor == 0 || floor > ceiling) {
		uint32_t v = floor < ceiling ? floor : ceiling;
		floor = ceiling = v;
		ret = -EINVAL;
	}
	m->floor = floor;
	m->ceiling = ceiling;
	m->lo = floor;
	m->hi = ceiling + 1;
	m->top_first = 1;
	return ret;
}

/* The next size that would teach something, 0 when the gap is closed. */
static uint32_t pmtu_candidate(const struct pmtu *m)
{
	if (m->hi <= m->lo + PMTU_GRAIN)
		return m->hi > m->lo + 1 && m->top_first ? m->hi - 1 : 0;
	if (m->top_first)
		return m->hi - 1;
	uint32_t mid = m->lo + (m->hi - m->lo) / 2;
	uint32_t aligned = mid - mid % PMTU_GRAIN;
	/* Aligned sizes keep the search short; an unaligned lo near the
	 * midpoint falls back to the exact midpoint, still strictly inside. */
	return aligned > m->lo ? aligned : mid;
}

/* Closing the gap (or a new search) resets the retry bookkeeping. */
static void pmtu_moved(struct pmtu *m)
{
	m->fails = 0;
	m->fail_size = 0;
	m->converged = 0;
}

uint32_t pmtu_next_probe_size(struct pmtu *m, uint64_t now_ns)
{
	uint32_t c = pmtu_candidate(m);
	if (!c) {
		if (!m->converged) {
			m->converged = 1;
			m->converged_ns = now_ns;
		}
		if (m->lo >= m->ceiling ||
		    now_ns < m->converged_ns + PMTU_REPROBE_NS)
			return 0;
		/* Time to see whether the path grew. */
		m->hi = m->ceiling + 1;
		m->top_first = 1;
		pmtu_moved(m);
		c = pmtu_candidate(m);
	}
	m->probes++;
	return c;
}

void pmtu_on_ack(struct pmtu *m, uint32_t size)
{
	if (size <= m->lo || size > m->ceiling)
		return; /* nothing new, or not a size we ever probe */
	m->acks++;
	m->lo = size;
	if (m->hi <= size)
		m->hi = m->ceiling + 1; /* an earlier "too big" was only loss */
	if (size >= m->hi - 1)
		m->top_first = 0;
	pmtu_moved(m);
}

void pmtu_on_timeout(struct pmtu *m, uint32_t size)
{
	if (size <= m->lo || size >= m->hi)
		return; /* already known either way */
	if (m->fail_size != size) {
		m->fail_size = size;
		m->fails = 0;
	}
	if (++m->fails < PMTU_TRIES)
		return; /* once may be plain loss: the same size goes again */
	m->hi = size;
	m->top_first = 0;
	m->too_big++;
	pmtu_moved(m);
}

int pmtu_on_emsgsize(struct pmtu *m, uint32_t size)
{
	if (size <= m->floor) {
		if (m->lo > m->floor || m->hi > m->floor + 1)
			log_warn("pmtu",
				 "a %u-byte datagram does not fit the local "
				 "route, below the %u-byte floor",
				 size, m->floor);
		m->lo = m->floor;
		m->hi = m->floor + 1;
		m->top_first = 0;
		pmtu_moved(m);
		return -ERANGE;
	}
	if (size > m->lo) {
		if (size < m->hi) {
			m->hi = size;
			m->top_first = 0;
			m->too_big++;
			pmtu_moved(m);
		}
		return 0;
	}
	/* Something we believed fits does not any more: the path shrank. */
	m->lo = m->floor;
	m->hi = size;
	m->top_first = 0;
	m->too_big++;
	pmtu_moved(m);
	return 0;
}

uint32_t pmtu_current(const struct pmtu *m)
{
	return m->lo;
}

uint32_t pmtu_limit(const struct pmtu *m)
{
	return m->hi ? m->hi - 1 : 0;
}
