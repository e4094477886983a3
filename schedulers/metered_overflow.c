/*
 * metered-overflow: keep paid-per-byte links idle until the free ones are
 * full. Order of preference for each packet (UP before DEGRADED in each):
 *   1. unmetered links with room (queue under `max_queue` ms at their rate);
 *   2. metered links with quota left and room;
 *   3. everything is full: unmetered, then metered with quota left, the one
 *      with the shortest queue (sending more costs delay, not money);
 *   4. metered links whose quota is used up, only when nothing else is usable.
 * Within one class the link with the shortest queue (backlog / rate) wins;
 * ties (idle links, unknown rates) go round robin. Cost comes before health:
 * a DEGRADED free link is used before an UP metered one. Quota accounting
 * belongs to the host; this only reads quota_bytes and quota_used_bytes.
 * Option: max_queue (ms, default 50).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tuntuntun/sched.h>

#define MO_DEFAULT_QUEUE_MS 50
#define MO_MAX_QUEUE_MS	    10000
#define MO_RANKS	    10

struct mo {
	uint64_t max_queue_us;
	uint32_t next; /* round-robin start for ties */
	uint32_t pad;
	uint64_t by_class[4]; /* picks per class 1..4 above, for dump */
};

_Static_assert(sizeof(struct mo) <= TTT_SCHED_MAX_PRIV, "priv too big");

static int mo_init(void *priv, const struct ttt_sched_init *args, char *err,
		   size_t errlen)
{
	struct mo *s = priv;
	s->max_queue_us = MO_DEFAULT_QUEUE_MS * 1000ull;
	for (uint32_t i = 0; i < args->n_opts; i++) {
		const struct ttt_opt *o = &args->opts[i];
		if (strcmp(o->key, "max_queue") != 0) {
			snprintf(err, errlen,
				 "unknown option \"%s\" (metered-overflow "
				 "takes max_queue)",
				 o->key);
			return -EINVAL;
		}
		double ms = o->type == TTT_OPT_INT     ? (double)o->i
			    : o->type == TTT_OPT_FLOAT ? o->d
						       : -1;
		if (!(ms > 0 && ms <= MO_MAX_QUEUE_MS)) {
			snprintf(err, errlen,
				 "option max_queue: expected milliseconds "
				 "(0 < ms <= %d), got \"%s\"",
				 MO_MAX_QUEUE_MS, o->str ? o->str : "");
			return -EINVAL;
		}
		s->max_queue_us = (uint64_t)(ms * 1000);
	}
	return 0;
}

static int mo_pick(void *priv, const struct ttt_sched_ctx *ctx,
		   const struct ttt_pkt_info *pkt)
{
	struct mo *s = priv;
	uint32_t n = ctx->n_links, len = pkt ? pkt->len : 0;
	int best = TTT_PICK_DROP, best_rank = MO_RANKS;
	uint64_t best_delay = UINT64_MAX;

	if (!n)
		return TTT_PICK_DROP;
	uint32_t i = s->next < n ? s->next : 0;
	for (uint32_t k = 0; k < n; k++, i = i + 1 < n ? i + 1 : 0) {
		const struct ttt_link_view *l = &ctx->links[i];
		if (!ttt_link_usable(l))
			continue;
		int deg = l->state != TTT_LINK_UP;
		uint64_t rate = ttt_link_rate(l);
		uint64_t backlog = ttt_link_backlog(l, ctx->now_ns);
		/* ttt_link_full() with the backlog computed once */
		int full = rate && backlog + len >
				       (rate / 8) * s->max_queue_us / 1000000;
		int rank;
		if (l->metered && l->quota_bytes &&
		    l->quota_used_bytes >= l->quota_bytes)
			rank = 8 + deg;
		else
			rank = (full ? 4 : 0) + (l->metered ? 2 : 0) + deg;
		if (rank > best_rank)
			continue;
		uint64_t d = ttt_link_queue_us(l, ctx->now_ns);
		if (rank < best_rank || d < best_delay) {
			best = (int)i;
			best_rank = rank;
			best_delay = d;
			/* nothing can beat an idle free UP link; later ties
			 * lose anyway, so stop (same answer, O(1) when idle) */
			if (!rank && !d)
				break;
		}
	}
	if (best >= 0) {
		s->next = (uint32_t)best + 1 < n ? (uint32_t)best + 1 : 0;
		s->by_class[best_rank < 4   ? best_rank / 2
			    : best_rank < 8 ? 2
					    : 3]++;
	}
	return best;
}

static int mo_dump(void *priv, char *buf, size_t len)
{
	const struct mo *s = priv;
	int n = snprintf(buf, len,
			 "{\"max_queue_ms\":%.3f,\"picks_unmetered\":%llu,"
			 "\"picks_metered\":%llu,\"picks_all_full\":%llu,"
			 "\"picks_over_quota\":%llu}",
			 (double)s->max_queue_us / 1000,
			 (unsigned long long)s->by_class[0],
			 (unsigned long long)s->by_class[1],
			 (unsigned long long)s->by_class[2],
			 (unsigned long long)s->by_class[3]);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

static const struct ttt_sched_ops mo_ops = {
    TTT_SCHED_OPS_HEADER,
    .name = "metered-overflow",
    .version = "1.0",
    .description = "free links first; metered only when they are full",
    .priv_size = sizeof(struct mo),
    .init = mo_init,
    .pick = mo_pick,
    .dump = mo_dump,
};

TTT_SCHED_PLUGIN(mo_ops)
