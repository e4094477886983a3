/* Test plugin whose struct_size is too small to hold the version 1 fields. */
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
    .magic = TTT_SCHED_MAGIC,
    .abi_version = TTT_SCHED_ABI_VERSION,
    .struct_size = 16,
    .name = "bad_size",
    .pick = first_usable,
};

TTT_SCHED_PLUGIN(ops)
