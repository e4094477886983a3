/* Test plugin whose name does not match its file name. */
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
    .name = "somebody-else",
    .pick = first_usable,
};

TTT_SCHED_PLUGIN(ops)
