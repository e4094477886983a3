/* Test plugin that answers badly on purpose, by packet seq: an index past the
 * end, a negative index that is not DROP, then the first link that is not
 * usable. The host must catch each. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tuntuntun/sched.h>

static int liar_pick(void *priv, const struct ttt_sched_ctx *ctx,
		     const struct ttt_pkt_info *pkt)
{
	switch (pkt->seq % 3) {
	case 0:
		return (int)ctx->n_links + 5;
	case 1:
		return -7;
	default:
		for (uint32_t i = 0; i < ctx->n_links; i++)
			if (!ttt_link_usable(&ctx->links[i]))
				return (int)i;
		return 0;
	}
}

static const struct ttt_sched_ops ops = {
    TTT_SCHED_OPS_HEADER,
    .name = "liar",
    .pick = liar_pick,
};

TTT_SCHED_PLUGIN(ops)
