/*
 * One-way-delay differences across a session's links (why in the header).
 */
#include "link/owdspread.h"

uint32_t owd_spread_us(const struct owd_sample *v, uint32_t n, uint32_t rx_now,
		       uint32_t recent_us)
{
	bool any = false;
	uint32_t ref = 0, links = 0;
	int32_t lo = 0, hi = 0; /* relative to the first recent sample */
	for (uint32_t i = 0; i < n; i++) {
		if (!v[i].valid || (uint32_t)(rx_now - v[i].rx_us) >= recent_us)
			continue;
		if (!any)
			ref = v[i].owd_us;
		any = true;
		links++;
		int32_t d = (int32_t)(v[i].owd_us - ref);
		if (d < lo)
			lo = d;
		if (d > hi)
			hi = d;
	}
	return links < 2 ? 0 : (uint32_t)(hi - lo);
}

void owd_diffs_us(const uint32_t *raw, const bool *use, uint32_t n,
		  int64_t *out)
{
	bool any = false;
	uint32_t ref = 0;
	int32_t lo = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (!use[i])
			continue;
		if (!any)
			ref = raw[i];
		any = true;
		int32_t d = (int32_t)(raw[i] - ref);
		if (d < lo)
			lo = d;
	}
	for (uint32_t i = 0; i < n; i++)
		out[i] = use[i] ? (int64_t)((int32_t)(raw[i] - ref) - lo) : 0;
}
