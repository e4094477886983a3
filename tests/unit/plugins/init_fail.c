/* Test plugin whose init fails with a message the host must pass on. */
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

static int fail_init(void *priv, const struct ttt_sched_init *a, char *err,
		     size_t errlen)
{
	snprintf(err, errlen, "the flux capacitor is missing");
	return -EINVAL;
}

static const struct ttt_sched_ops ops = {
    TTT_SCHED_OPS_HEADER,
    .name = "init_fail",
    .init = fail_init,
    .pick = first_usable,
};

TTT_SCHED_PLUGIN(ops)
