/* Version 1 of a plugin named "swapme": the test installs it as swapme.so to
 * check that a rebuilt file is loaded next to the old one. pick returns 0 so
 * the tests can tell which runs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tuntuntun/sched.h>

static int swap_pick(void *priv, const struct ttt_sched_ctx *ctx,
		     const struct ttt_pkt_info *pkt)
{
	return 0;
}

static const struct ttt_sched_ops ops = {
    TTT_SCHED_OPS_HEADER,
    .name = "swapme",
    .version = "1",
    .pick = swap_pick,
};

TTT_SCHED_PLUGIN(ops)
