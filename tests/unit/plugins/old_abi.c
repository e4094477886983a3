/* Test plugin built against the plugin header as it was before the link
 * model appended fields to struct ttt_link_view (tests/unit/sched_v1.h, a
 * verbatim copy): the host must load it and it must read every field it
 * knows at the offset it knows. Picks the usable link with the lowest
 * srtt; its dump shows what it saw. */
#include <stdio.h>

#include "../sched_v1.h"

struct old {
	uint64_t picks;
	uint64_t seen_tx_bytes;	  /* links[0].tx_bytes at the last pick */
	int64_t seen_owd_diff_us; /* links[0].owd_diff_us */
	uint64_t seen_rate; /* ttt_link_rate(links[0]) (old: configured) */
};

static int old_pick(void *priv, const struct ttt_sched_ctx *ctx,
		    const struct ttt_pkt_info *pkt)
{
	struct old *o = priv;
	int best = TTT_PICK_DROP;
	(void)pkt;
	for (uint32_t i = 0; i < ctx->n_links; i++) {
		const struct ttt_link_view *l = &ctx->links[i];
		if (ttt_link_usable(l) &&
		    (best < 0 || l->srtt_us < ctx->links[best].srtt_us))
			best = (int)i;
	}
	if (ctx->n_links) {
		o->seen_tx_bytes = ctx->links[0].tx_bytes;
		o->seen_owd_diff_us = ctx->links[0].owd_diff_us;
		o->seen_rate = ttt_link_rate(&ctx->links[0]);
	}
	o->picks++;
	return best;
}

static int old_dump(void *priv, char *buf, size_t len)
{
	const struct old *o = priv;
	return snprintf(
	    buf, len,
	    "{\"view_size\":%zu,\"picks\":%llu,\"tx_bytes\":%llu,"
	    "\"owd_diff_us\":%lld,\"rate\":%llu}",
	    sizeof(struct ttt_link_view), (unsigned long long)o->picks,
	    (unsigned long long)o->seen_tx_bytes,
	    (long long)o->seen_owd_diff_us, (unsigned long long)o->seen_rate);
}

static const struct ttt_sched_ops ops = {
    TTT_SCHED_OPS_HEADER,
    .name = "old_abi",
    .version = "1.0",
    .description = "built against the previous header",
    .priv_size = sizeof(struct old),
    .pick = old_pick,
    .dump = old_dump,
};

TTT_SCHED_PLUGIN(ops)
