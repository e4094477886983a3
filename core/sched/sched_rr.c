/*
 * The built-in round robin: the scheduler that can never fail to load. It is
 * the host's fallback whenever a plugin answers badly, and the instance the
 * daemon runs as "builtin-rr" (or "roundrobin" when no plugin file exists).
 */
#include <errno.h>
#include <stdio.h>

#include "sched/sched_host.h"

/* One pass from the cursor, remembering the first DEGRADED link: an UP link
 * wins as soon as it is seen, so the common case stops after one step. */
int sched_rr_next(uint32_t *cursor, const struct ttt_sched_ctx *ctx)
{
	uint32_t n = ctx->n_links;
	int degraded = TTT_PICK_DROP;

	if (!n)
		return TTT_PICK_DROP;
	uint32_t i = *cursor < n ? *cursor : 0;
	for (uint32_t k = 0; k < n; k++) {
		uint8_t st = ctx->links[i].state;
		if (st == TTT_LINK_UP) {
			*cursor = i + 1 < n ? i + 1 : 0;
			return (int)i;
		}
		if (st == TTT_LINK_DEGRADED && degraded < 0)
			degraded = (int)i;
		i = i + 1 < n ? i + 1 : 0;
	}
	if (degraded >= 0)
		*cursor =
		    (uint32_t)degraded + 1 < n ? (uint32_t)degraded + 1 : 0;
	return degraded;
}

struct rr_priv {
	uint32_t next;
};

static int rr_init(void *priv, const struct ttt_sched_init *args, char *err,
		   size_t errlen)
{
	if (args->n_opts) {
		snprintf(err, errlen, "unknown option \"%s\" (%s takes none)",
			 args->opts[0].key, SCHED_BUILTIN_NAME);
		return -EINVAL;
	}
	return 0;
}

static int rr_pick(void *priv, const struct ttt_sched_ctx *ctx,
		   const struct ttt_pkt_info *pkt)
{
	struct rr_priv *p = priv;
	return sched_rr_next(&p->next, ctx);
}

static int rr_dump(void *priv, char *buf, size_t len)
{
	const struct rr_priv *p = priv;
	int n = snprintf(buf, len, "{\"next\":%u}", p->next);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

static const struct ttt_sched_ops rr_ops = {
    TTT_SCHED_OPS_HEADER,
    .name = SCHED_BUILTIN_NAME,
    .version = "1",
    .description = "built-in round robin over usable links, UP first",
    .priv_size = sizeof(struct rr_priv),
    .init = rr_init,
    .pick = rr_pick,
    .dump = rr_dump,
};

const struct ttt_sched_ops *sched_rr_ops(void)
{
	return &rr_ops;
}
