/* A gap that may still be on its way on a lagging link (lagging.h). */
#include "lagging.h"

uint64_t lagging_hold_until(const struct lag_link *v, uint32_t n,
			    uint64_t missing, uint64_t now_ns,
			    uint64_t active_ns, uint64_t cap_ns)
{
	uint64_t until = 0;
	if (now_ns >= cap_ns)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		if (!v[i].valid || v[i].high_seq >= missing ||
		    v[i].last_rx_ns > now_ns ||
		    now_ns - v[i].last_rx_ns >= active_ns)
			continue;
		uint64_t u = v[i].last_rx_ns + active_ns;
		if (u > until)
			until = u;
	}
	if (until > cap_ns)
		until = cap_ns;
	return until > now_ns ? until : 0;
}
