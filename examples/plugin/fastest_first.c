/*
 * fastest-first: a third-party scheduler plugin for tuntuntun, written from
 * the public header alone. Every packet goes to the usable link with the
 * highest rate (the host's estimate, capped by `rate:`) that still has room for
 * `max_queue` ms of data; when all are full, to the one that drains first.
 * Build: make (see Makefile); install: copy fastest-first.so to plugins.d/.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tuntuntun/sched.h>

struct ff {
	uint64_t max_queue_us; /* from option max_queue (ms), default 20 */
	uint64_t picks;
	uint64_t overflow; /* picks that went to a slower link */
};

/* Fail the build, not the daemon, if the state outgrows the host's limit. */
_Static_assert(sizeof(struct ff) <= TTT_SCHED_MAX_PRIV, "priv too big");

static int ff_init(void *priv, const struct ttt_sched_init *args, char *err,
		   size_t errlen)
{
	struct ff *s = priv; /* zeroed by the host */
	s->max_queue_us = 20000;
	for (uint32_t i = 0; i < args->n_opts; i++) {
		const struct ttt_opt *o = &args->opts[i];
		if (strcmp(o->key, "max_queue") != 0) {
			snprintf(err, errlen, "unknown option \"%s\"", o->key);
			return -EINVAL;
		}
		if (o->type != TTT_OPT_INT || o->i < 1 || o->i > 10000) {
			snprintf(
			    err, errlen,
			    "max_queue: expected 1..10000 (ms), got \"%s\"",
			    o->str);
			return -EINVAL;
		}
		s->max_queue_us = (uint64_t)o->i * 1000;
	}
	return 0;
}

static int ff_pick(void *priv, const struct ttt_sched_ctx *ctx,
		   const struct ttt_pkt_info *pkt)
{
	struct ff *s = priv;
	int best = TTT_PICK_DROP, fastest = TTT_PICK_DROP,
	    drains = TTT_PICK_DROP;
	uint64_t best_rate = 0, fastest_rate = 0, least = UINT64_MAX;

	for (uint32_t i = 0; i < ctx->n_links; i++) {
		const struct ttt_link_view *l = &ctx->links[i];
		if (!ttt_link_usable(l)) /* never answer DOWN or STANDBY */
			continue;
		uint64_t rate = ttt_link_rate(l);
		if (fastest < 0 || rate > fastest_rate) {
			fastest = (int)i;
			fastest_rate = rate;
		}
		if (!ttt_link_full(l, ctx->now_ns, pkt->len, s->max_queue_us) &&
		    (best < 0 || rate > best_rate)) {
			best = (int)i;
			best_rate = rate;
		}
		/* microseconds until the queue drains */
		uint64_t t = ttt_link_queue_us(l, ctx->now_ns);
		if (drains < 0 || t < least) {
			drains = (int)i;
			least = t;
		}
	}
	if (best < 0)
		best = drains; /* all full, or nothing usable (DROP) */
	if (best >= 0) {
		s->picks++;
		s->overflow += best != fastest;
	}
	return best;
}

static int ff_dump(void *priv, char *buf, size_t len)
{
	const struct ff *s = priv;
	int n = snprintf(buf, len,
			 "{\"max_queue_ms\":%llu,\"picks\":%llu,"
			 "\"overflow\":%llu}",
			 (unsigned long long)(s->max_queue_us / 1000),
			 (unsigned long long)s->picks,
			 (unsigned long long)s->overflow);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

static const struct ttt_sched_ops ff_ops = {
    TTT_SCHED_OPS_HEADER,    /* magic, ABI version, struct size */
    .name = "fastest-first", /* must match the file name fastest-first.so */
    .version = "1.0",
    .description =
	"highest-rate link with room, else the one that drains first",
    .priv_size = sizeof(struct ff),
    .init = ff_init,
    .pick = ff_pick,
    .dump = ff_dump,
};

TTT_SCHED_PLUGIN(ff_ops)
