/*
 * earliest-arrival: each packet on the link where it is expected to reach
 * the far end first: the time to drain what the link already has queued
 * (host's backlog estimate at the link's rate), plus the packet's own
 * serialisation, plus the link's extra one-way delay over the fastest link.
 *
 * Why: spreading packets by rate alone (weighted) over links of different
 * delay makes the far end wait for the slow link's packets; packets placed
 * by expected arrival already arrive nearly in order, so the reorder buffer
 * holds less and TCP sees less delay variation. At light load everything
 * goes on the fastest link; the slow link takes packets only once the fast
 * one's queue is deeper than the delay difference, which is when it really
 * helps.
 *
 * UP links are preferred over DEGRADED ones. A link with no known rate has
 * no backlog term (only its delay counts). Option: none.
 *
 * While the link with the least delay is still searching for its capacity
 * (TTT_LINK_F_STARTUP), a slower link that carries nothing yet is not
 * started on (see slow_start_limit()).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tuntuntun/sched.h>

struct ea {
	uint64_t picks;
	uint64_t per_link[TTT_SCHED_MAX_LINKS];
};

_Static_assert(sizeof(struct ea) <= TTT_SCHED_MAX_PRIV, "priv too big");

static int ea_init(void *priv, const struct ttt_sched_init *args, char *err,
		   size_t errlen)
{
	if (args->n_opts) {
		snprintf(err, errlen,
			 "earliest-arrival takes no options, got \"%s\"",
			 args->opts[0].key);
		return -EINVAL;
	}
	(void)priv;
	return 0;
}

/* Expected arrival of `len` more bytes on l, in ns after now. */
static uint64_t arrival_ns(const struct ttt_link_view *l, uint64_t now,
			   uint32_t len)
{
	uint64_t t = l->owd_diff_us > 0 ? (uint64_t)l->owd_diff_us * 1000 : 0;
	uint64_t rate = ttt_link_rate(l);
	if (rate)
		t += (ttt_link_backlog(l, now) + len) * 8000000000ull / rate;
	return t;
}

/*
 * The largest one-way delay (owd_diff_us) a link that carries nothing yet
 * may have to be started on, INT64_MAX for no limit. While the link with
 * the least delay is in STARTUP, its backlog at the STARTUP pacing rate
 * overstates its wait (that rate grows ~x3 per round trip), and spilling a
 * transfer's first windows onto a link slower by more than HyStart's
 * threshold, clamp(RTT / 8, 4 ms, 16 ms), raises the flow's RTT by the
 * difference while its slow start runs: CUBIC then ends slow start there,
 * at a fraction of the bond's BDP, and needs seconds to grow the rest
 * (measured on 30 Mbit/s 15 ms + 10 Mbit/s 40 ms: slow start ended at
 * cwnd 28-50 where ~190 were needed; docs/link-model.md). Once the fast
 * link's STARTUP ends, its backlog is real and the slower link is used
 * as before; a slower link already in use stays in use.
 */
static int64_t slow_start_limit(const struct ttt_sched_ctx *ctx)
{
	/* the fastest UP link, or the fastest usable one when none is UP
	 * (the same preference ea_pick() applies) */
	const struct ttt_link_view *fast = NULL;
	for (uint32_t i = 0; i < ctx->n_links; i++) {
		const struct ttt_link_view *l = &ctx->links[i];
		if (!ttt_link_usable(l))
			continue;
		int up = l->state == TTT_LINK_UP;
		int fast_up = fast && fast->state == TTT_LINK_UP;
		if (!fast || (up && !fast_up) ||
		    (up == fast_up && l->owd_diff_us < fast->owd_diff_us))
			fast = l;
	}
	if (!fast || !(fast->model_flags & TTT_LINK_F_STARTUP))
		return INT64_MAX;
	int64_t rtt = fast->base_rtt_us ? (int64_t)fast->base_rtt_us
					: (int64_t)fast->srtt_us;
	int64_t th = rtt / 8;
	if (th < 4000)
		th = 4000;
	if (th > 16000)
		th = 16000;
	return fast->owd_diff_us + th;
}

static int ea_pick(void *priv, const struct ttt_sched_ctx *ctx,
		   const struct ttt_pkt_info *pkt)
{
	struct ea *s = priv;
	int best = TTT_PICK_DROP;
	uint64_t best_t = UINT64_MAX;
	int best_up = 0;
	int64_t limit = slow_start_limit(ctx);
	for (uint32_t i = 0; i < ctx->n_links; i++) {
		const struct ttt_link_view *l = &ctx->links[i];
		if (!ttt_link_usable(l))
			continue;
		if (l->owd_diff_us > limit && !l->inflight_bytes &&
		    !ttt_link_backlog(l, ctx->now_ns))
			continue;
		int up = l->state == TTT_LINK_UP;
		if (best_up && !up)
			continue;
		uint64_t t = arrival_ns(l, ctx->now_ns, pkt->len);
		if ((up && !best_up) || t < best_t) {
			best = (int)i;
			best_t = t;
			best_up = up;
		}
	}
	if (best >= 0) {
		s->picks++;
		s->per_link[best]++;
	}
	return best;
}

static int ea_dump(void *priv, char *buf, size_t len)
{
	struct ea *s = priv;
	int n = snprintf(buf, len, "{\"picks\":%llu,\"per_link\":[",
			 (unsigned long long)s->picks);
	for (uint32_t i = 0; i < 4 && n > 0 && (size_t)n < len; i++)
		n += snprintf(buf + n, len - (size_t)n, "%s%llu", i ? "," : "",
			      (unsigned long long)s->per_link[i]);
	if (n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, "]}");
	return n > 0 && (size_t)n < len ? n : -ENOSPC;
}

static const struct ttt_sched_ops ea_ops = {
    TTT_SCHED_OPS_HEADER,
    .name = "earliest-arrival",
    .version = "1.0",
    .description = "each packet on the link where it arrives first "
		   "(queue at rate + extra one-way delay)",
    .priv_size = sizeof(struct ea),
    .init = ea_init,
    .pick = ea_pick,
    .dump = ea_dump,
};

TTT_SCHED_PLUGIN(ea_ops)
