/*
 * lowest-rtt: every packet on the link with the lowest smoothed RTT, for the
 * game that stalls when its packets queue behind a download. A link whose
 * queue is longer than `max_queue` ms (at its rate) is skipped for the next
 * best one, so a fast link does not become a slow one by being the only one
 * used. If every link is full, the one with the shortest queue is used.
 *
 * Ranking: UP before DEGRADED; links with an RTT sample before links without
 * one; then lower srtt. The preferred link changes only when another link in
 * the same rank is better by more than `hysteresis` percent of the current
 * one's srtt and at least `hysteresis_min` ms, so two links at 20.0 and 20.5
 * ms do not flap (flapping reorders packets, which costs more than 0.5 ms).
 * The ranking is recomputed in links_changed (RTTs only change there), so
 * pick only walks a short list.
 * Options: max_queue (ms, default 30), hysteresis (percent, default 10),
 * hysteresis_min (ms, default 2).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tuntuntun/sched.h>

#define LR_NAME_MAX 32

struct lr {
	uint64_t max_queue_us;
	uint64_t hyst_ppm; /* hysteresis as parts per million of srtt */
	uint64_t hyst_min_us;
	int32_t pref;	  /* preferred link index, -1 none */
	uint32_t pref_id; /* its link id, to notice a renumbered set */
	uint32_t n;	  /* ctx->n_links when order was made */
	uint32_t n_order;
	uint8_t order[TTT_SCHED_MAX_LINKS]; /* usable links, best first */
	uint64_t switches;		    /* changes of the preferred link */
	uint64_t picks;
	uint64_t not_preferred; /* picks that skipped the preferred link */
	uint64_t pref_srtt_us;
	char pref_name[LR_NAME_MAX];
};

_Static_assert(sizeof(struct lr) <= TTT_SCHED_MAX_PRIV, "priv too big");

/* A non-negative number option (INT or FLOAT) within [lo, hi]. */
static int opt_num(const struct ttt_opt *o, double lo, double hi,
		   const char *what, double *out, char *err, size_t errlen)
{
	double v = o->type == TTT_OPT_INT     ? (double)o->i
		   : o->type == TTT_OPT_FLOAT ? o->d
					      : -1;
	if (!(v >= lo && v <= hi)) {
		snprintf(err, errlen,
			 "option %s: expected %s (%g..%g), got \"%s\"", o->key,
			 what, lo, hi, o->str ? o->str : "");
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int lr_init(void *priv, const struct ttt_sched_init *args, char *err,
		   size_t errlen)
{
	struct lr *s = priv;
	s->max_queue_us = 30000;
	s->hyst_ppm = 100000;
	s->hyst_min_us = 2000;
	s->pref = -1;
	for (uint32_t i = 0; i < args->n_opts; i++) {
		const struct ttt_opt *o = &args->opts[i];
		double v;
		if (strcmp(o->key, "max_queue") == 0) {
			if (opt_num(o, 0.001, 10000, "milliseconds", &v, err,
				    errlen))
				return -EINVAL;
			s->max_queue_us = (uint64_t)(v * 1000);
		} else if (strcmp(o->key, "hysteresis") == 0) {
			if (opt_num(o, 0, 100, "a percentage", &v, err, errlen))
				return -EINVAL;
			s->hyst_ppm = (uint64_t)(v * 10000);
		} else if (strcmp(o->key, "hysteresis_min") == 0) {
			if (opt_num(o, 0, 10000, "milliseconds", &v, err,
				    errlen))
				return -EINVAL;
			s->hyst_min_us = (uint64_t)(v * 1000);
		} else {
			snprintf(err, errlen,
				 "unknown option \"%s\" (lowest-rtt takes "
				 "max_queue, hysteresis, hysteresis_min)",
				 o->key);
			return -EINVAL;
		}
	}
	return 0;
}

/* 0 = UP with sample, 1 = UP without, 2 = DEGRADED with, 3 = without. */
static unsigned tier(const struct ttt_link_view *l)
{
	return (l->state == TTT_LINK_UP ? 0u : 2u) + (l->srtt_us ? 0u : 1u);
}

/* True if link a ranks before link b. */
static int better(const struct ttt_link_view *a, const struct ttt_link_view *b)
{
	unsigned ta = tier(a), tb = tier(b);
	return ta != tb ? ta < tb : a->srtt_us < b->srtt_us;
}

static void copy_name(char *dst, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < LR_NAME_MAX; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = c < 0x20 || c == '"' || c == '\\' || c >= 0x7f
			     ? '?'
			     : (char)c;
	}
	dst[i] = '\0';
}

static void lr_links_changed(void *priv, const struct ttt_sched_ctx *ctx)
{
	struct lr *s = priv;
	const struct ttt_link_view *L = ctx->links;
	uint32_t n = ctx->n_links < TTT_SCHED_MAX_LINKS ? ctx->n_links
							: TTT_SCHED_MAX_LINKS;
	int best = -1;

	/* Insertion sort of the usable links: n is at most 32. */
	s->n_order = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (!ttt_link_usable(&L[i]))
			continue;
		uint32_t j = s->n_order++;
		while (j > 0 && better(&L[i], &L[s->order[j - 1]])) {
			s->order[j] = s->order[j - 1];
			j--;
		}
		s->order[j] = (uint8_t)i;
	}
	s->n = ctx->n_links;
	if (s->n_order)
		best = s->order[0];

	int p = s->pref;
	int keep = p >= 0 && (uint32_t)p < n && L[p].id == s->pref_id &&
		   ttt_link_usable(&L[p]) && best >= 0 &&
		   tier(&L[p]) == tier(&L[best]);
	if (keep && L[p].srtt_us) {
		uint64_t margin = L[p].srtt_us * s->hyst_ppm / 1000000;
		if (margin < s->hyst_min_us)
			margin = s->hyst_min_us;
		keep = L[p].srtt_us <= L[best].srtt_us + margin;
	}
	if (!keep) {
		if (best != s->pref && s->pref >= 0)
			s->switches++;
		p = best;
	}
	s->pref = p;
	s->pref_name[0] = '\0';
	if (p < 0)
		return;
	s->pref_id = L[p].id;
	s->pref_srtt_us = L[p].srtt_us;
	copy_name(s->pref_name, L[p].name);
	/* Move the preferred link to the front, keeping the rest in order. */
	uint32_t j = 0;
	while (s->order[j] != (uint8_t)p)
		j++;
	for (; j > 0; j--)
		s->order[j] = s->order[j - 1];
	s->order[0] = (uint8_t)p;
}

static int lr_pick(void *priv, const struct ttt_sched_ctx *ctx,
		   const struct ttt_pkt_info *pkt)
{
	struct lr *s = priv;
	uint32_t len = pkt ? pkt->len : 0;
	const struct ttt_link_view *L = ctx->links;

	if (ctx->n_links == s->n) {
		for (uint32_t k = 0; k < s->n_order; k++) {
			const struct ttt_link_view *l = &L[s->order[k]];
			if (ttt_link_usable(l) &&
			    !ttt_link_full(l, ctx->now_ns, len,
					   s->max_queue_us)) {
				s->picks++;
				s->not_preferred += k != 0;
				return s->order[k];
			}
		}
	}
	/* All full (or the set changed unannounced): shortest queue, UP first.
	 */
	int best = TTT_PICK_DROP;
	unsigned best_tier = 2;
	uint64_t best_q = UINT64_MAX;
	for (uint32_t i = 0; i < ctx->n_links; i++) {
		if (!ttt_link_usable(&L[i]))
			continue;
		unsigned t = L[i].state == TTT_LINK_UP ? 0 : 1;
		uint64_t q = ttt_link_queue_us(&L[i], ctx->now_ns);
		if (t < best_tier || (t == best_tier && q < best_q)) {
			best = (int)i;
			best_tier = t;
			best_q = q;
		}
	}
	if (best >= 0) {
		s->picks++;
		s->not_preferred += best != s->pref;
	}
	return best;
}

static int lr_dump(void *priv, char *buf, size_t len)
{
	const struct lr *s = priv;
	int n;
	if (s->pref >= 0)
		n = snprintf(
		    buf, len,
		    "{\"preferred\":\"%s\",\"preferred_srtt_us\":%llu,",
		    s->pref_name, (unsigned long long)s->pref_srtt_us);
	else
		n = snprintf(buf, len, "{\"preferred\":null,");
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	int m = snprintf(
	    buf + n, len - (size_t)n,
	    "\"switches\":%llu,\"picks\":%llu,"
	    "\"not_preferred\":%llu,\"max_queue_ms\":%.3f,"
	    "\"hysteresis_pct\":%.2f,\"hysteresis_min_ms\":%.3f}",
	    (unsigned long long)s->switches, (unsigned long long)s->picks,
	    (unsigned long long)s->not_preferred,
	    (double)s->max_queue_us / 1000, (double)s->hyst_ppm / 10000,
	    (double)s->hyst_min_us / 1000);
	if (m < 0 || (size_t)m >= len - (size_t)n)
		return -ENOSPC;
	return n + m;
}

static const struct ttt_sched_ops lr_ops = {
    TTT_SCHED_OPS_HEADER,
    .name = "lowest-rtt",
    .version = "1.0",
    .description = "lowest RTT link that is not full, with hysteresis",
    .priv_size = sizeof(struct lr),
    .init = lr_init,
    .pick = lr_pick,
    .links_changed = lr_links_changed,
    .dump = lr_dump,
};

TTT_SCHED_PLUGIN(lr_ops)
