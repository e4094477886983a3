/* Test plugin asking for more private state than the host gives. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tuntuntun/sched.h>

static int first_usable(void *priv, const struct ttt_sched_ctx *ctx,
			const struct ttt_pkt_info *pkt)
{
	for (uint32_t i = 0; i < ctx->n_links; i++)
		if (ttt_link_usable(&ctx->links[i]))
			return (int)i;
	return TTT_PICK_DROP;
}

static const struct ttt_sched_ops ops = {
    TTT_SCHED_OPS_HEADER,
    .name = "big_priv",
    .pick = first_usable,
    .priv_size = TTT_SCHED_MAX_PRIV + 1,
};

TTT_SCHED_PLUGIN(ops)
