/*
 * roundrobin: one packet per usable link in turn. DEGRADED links are used
 * only while no link is UP, so a lossy link does not take an equal share
 * when a healthy one is there. Takes no options.
 */
#include <errno.h>
#include <stdio.h>

#include <tuntuntun/sched.h>

struct rr {
	uint32_t next;	/* index to try first */
	uint64_t picks; /* answers given, for dump */
};

_Static_assert(sizeof(struct rr) <= TTT_SCHED_MAX_PRIV, "priv too big");

static int rr_init(void *priv, const struct ttt_sched_init *args, char *err,
		   size_t errlen)
{
	if (args->n_opts) {
		snprintf(err, errlen,
			 "unknown option \"%s\": roundrobin "
			 "takes no options",
			 args->opts[0].key);
		return -EINVAL;
	}
	return 0;
}

/* One pass from the cursor: the first UP link wins at once, the first
 * DEGRADED one is kept in case no UP link follows. */
static int rr_pick(void *priv, const struct ttt_sched_ctx *ctx,
		   const struct ttt_pkt_info *pkt)
{
	struct rr *s = priv;
	uint32_t n = ctx->n_links;
	int found = TTT_PICK_DROP;

	if (!n)
		return TTT_PICK_DROP;
	uint32_t i = s->next < n ? s->next : 0;
	for (uint32_t k = 0; k < n; k++) {
		uint8_t st = ctx->links[i].state;
		if (st == TTT_LINK_UP) {
			found = (int)i;
			break;
		}
		if (st == TTT_LINK_DEGRADED && found < 0)
			found = (int)i;
		i = i + 1 < n ? i + 1 : 0;
	}
	if (found >= 0) {
		s->next = (uint32_t)found + 1 < n ? (uint32_t)found + 1 : 0;
		s->picks++;
	}
	return found;
}

static int rr_dump(void *priv, char *buf, size_t len)
{
	const struct rr *s = priv;
	int n = snprintf(buf, len, "{\"next\":%u,\"picks\":%llu}", s->next,
			 (unsigned long long)s->picks);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

static const struct ttt_sched_ops rr_ops = {
    TTT_SCHED_OPS_HEADER,
    .name = "roundrobin",
    .version = "1.0",
    .description = "one packet per usable link in turn, UP links first",
    .priv_size = sizeof(struct rr),
    .init = rr_init,
    .pick = rr_pick,
    .dump = rr_dump,
};

TTT_SCHED_PLUGIN(rr_ops)
