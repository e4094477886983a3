/*
 * weighted: smooth weighted round robin (nginx's upstream algorithm). Every
 * pick adds each link's weight to its credit, sends on the link with the
 * most credit and takes the total weight off that link, so 3:1 comes out as
 * a a b a a a b a ...: spread evenly, never more than 3 in a row, where a
 * plain weighted round robin would send bursts of 3 then 1.
 *
 * Weight of a link, first that applies:
 *  1. option `weights.<link name>: N` (integer 1..1000000);
 *  2. the link's `weight:` from the YAML;
 *  3. if no link has 1 or 2 and every link in use has a rate: its rate;
 *  4. otherwise equal weights (links without 1 or 2 next to links with one
 *     get weight 1).
 * DEGRADED links are left out while any link is UP (a lossy link would
 * otherwise keep its full share); when only DEGRADED links remain, each
 * gets its weight scaled by (1 - loss).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tuntuntun/sched.h>

#define W_NAME_MAX   32
#define W_MAX_WEIGHT 1000000
#define W_SCALE	     1024 /* fixed point, so (1 - loss) scaling keeps precision */

enum w_mode { W_EQUAL = 0, W_EXPLICIT = 1, W_RATE = 2 };
static const char *const mode_names[] = {"equal", "explicit", "rate"};

struct w_link {
	int64_t cur;   /* credit */
	uint64_t eff;  /* scaled weight in use now, 0 = not eligible */
	uint64_t base; /* weight before scaling (for dump) */
	uint32_t id;   /* link id seen at this index */
	char name[W_NAME_MAX];
};

struct w_opt {
	char name[W_NAME_MAX];
	uint32_t weight;
};

struct wrr {
	struct w_link l[TTT_SCHED_MAX_LINKS];
	struct w_opt opt[TTT_SCHED_MAX_LINKS];
	uint32_t n; /* links known from links_changed */
	uint32_t n_opt;
	uint32_t mode; /* enum w_mode */
	uint64_t picks;
};

_Static_assert(sizeof(struct wrr) <= TTT_SCHED_MAX_PRIV, "priv too big");

static int w_init(void *priv, const struct ttt_sched_init *args, char *err,
		  size_t errlen)
{
	struct wrr *s = priv;
	static const char prefix[] = "weights.";

	for (uint32_t i = 0; i < args->n_opts; i++) {
		const struct ttt_opt *o = &args->opts[i];
		if (strncmp(o->key, prefix, sizeof(prefix) - 1) != 0) {
			snprintf(err, errlen,
				 "unknown option \"%s\" (weighted takes "
				 "weights.<link>)",
				 o->key);
			return -EINVAL;
		}
		const char *link = o->key + sizeof(prefix) - 1;
		size_t len = strlen(link);
		if (len == 0 || len >= W_NAME_MAX) {
			snprintf(err, errlen,
				 "option \"%s\": expected weights.<link name>",
				 o->key);
			return -EINVAL;
		}
		if (o->type != TTT_OPT_INT || o->i < 1 || o->i > W_MAX_WEIGHT) {
			snprintf(err, errlen,
				 "option \"%s\": expected an integer 1..%d, "
				 "got \"%s\"",
				 o->key, W_MAX_WEIGHT, o->str ? o->str : "");
			return -EINVAL;
		}
		for (uint32_t j = 0; j < s->n_opt; j++) {
			if (strcmp(s->opt[j].name, link) == 0) {
				snprintf(err, errlen,
					 "option \"%s\" given twice", o->key);
				return -EINVAL;
			}
		}
		if (s->n_opt == TTT_SCHED_MAX_LINKS) {
			snprintf(err, errlen, "more than %d weights",
				 TTT_SCHED_MAX_LINKS);
			return -EINVAL;
		}
		memcpy(s->opt[s->n_opt].name, link, len + 1);
		s->opt[s->n_opt].weight = (uint32_t)o->i;
		s->n_opt++;
	}
	return 0;
}

/* Explicit weight of a link: the option, else the view's, else 0. */
static uint32_t explicit_weight(const struct wrr *s,
				const struct ttt_link_view *l)
{
	if (l->name)
		for (uint32_t j = 0; j < s->n_opt; j++)
			if (strcmp(s->opt[j].name, l->name) == 0)
				return s->opt[j].weight;
	return l->weight;
}

/* Keeps the name for dump, with anything JSON would need escaped replaced. */
static void copy_name(char *dst, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < W_NAME_MAX; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = c < 0x20 || c == '"' || c == '\\' || c >= 0x7f
			     ? '?'
			     : (char)c;
	}
	dst[i] = '\0';
}

/* Weights are worked out here, not in pick: they only change with links. */
static void w_links_changed(void *priv, const struct ttt_sched_ctx *ctx)
{
	struct wrr *s = priv;
	uint32_t n = ctx->n_links < TTT_SCHED_MAX_LINKS ? ctx->n_links
							: TTT_SCHED_MAX_LINKS;
	int any_up = 0, any_explicit = 0, all_rate = 1;

	for (uint32_t i = 0; i < n; i++) {
		const struct ttt_link_view *l = &ctx->links[i];
		any_up |= l->state == TTT_LINK_UP;
		any_explicit |= explicit_weight(s, l) != 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct ttt_link_view *l = &ctx->links[i];
		if (ttt_link_usable(l) && (!any_up || l->state == TTT_LINK_UP))
			all_rate &= ttt_link_rate(l) != 0;
	}
	s->mode = any_explicit ? W_EXPLICIT : all_rate ? W_RATE : W_EQUAL;

	for (uint32_t i = 0; i < n; i++) {
		const struct ttt_link_view *l = &ctx->links[i];
		struct w_link *w = &s->l[i];
		uint64_t base = 1;
		if (s->mode == W_EXPLICIT) {
			uint32_t x = explicit_weight(s, l);
			base = x ? x : 1;
		} else if (s->mode == W_RATE) {
			base = ttt_link_rate(l) / 1000; /* kbit/s */
			base = base < 1		   ? 1
			       : base > (1u << 30) ? (1u << 30)
						   : base;
		}
		uint64_t eff = base * W_SCALE;
		if (!ttt_link_usable(l) ||
		    (any_up && l->state != TTT_LINK_UP)) {
			eff = 0;
		} else if (l->state == TTT_LINK_DEGRADED) {
			uint64_t keep =
			    l->loss_ppm >= 1000000 ? 0 : 1000000 - l->loss_ppm;
			eff = eff * keep / 1000000;
			eff = eff ? eff : 1;
		}
		if (w->id != l->id || !eff || i >= s->n)
			w->cur = 0;
		w->id = l->id;
		w->base = base;
		w->eff = eff;
		copy_name(w->name, l->name);
	}
	s->n = n;
}

static int w_pick(void *priv, const struct ttt_sched_ctx *ctx,
		  const struct ttt_pkt_info *pkt)
{
	struct wrr *s = priv;
	uint32_t n = ctx->n_links < s->n ? ctx->n_links : s->n;
	int64_t total = 0;
	int best = -1;

	for (uint32_t i = 0; i < n; i++) {
		struct w_link *w = &s->l[i];
		if (!w->eff || !ttt_link_usable(&ctx->links[i]))
			continue;
		w->cur += (int64_t)w->eff;
		total += (int64_t)w->eff;
		if (best < 0 || w->cur > s->l[best].cur)
			best = (int)i;
	}
	if (best >= 0) {
		s->l[best].cur -= total;
		s->picks++;
		return best;
	}
	/* The links changed without links_changed: any usable one, UP first. */
	for (uint32_t i = 0; i < ctx->n_links; i++)
		if (ctx->links[i].state == TTT_LINK_UP)
			return (int)i;
	for (uint32_t i = 0; i < ctx->n_links; i++)
		if (ttt_link_usable(&ctx->links[i]))
			return (int)i;
	return TTT_PICK_DROP;
}

/* Appends to buf at *off; returns -ENOSPC once it no longer fits. */
static int put(char *buf, size_t len, size_t *off, int n)
{
	if (n < 0 || (size_t)n >= len - *off)
		return -ENOSPC;
	*off += (size_t)n;
	return 0;
}

static int w_dump(void *priv, char *buf, size_t len)
{
	const struct wrr *s = priv;
	size_t off = 0;
	if (put(buf, len, &off,
		snprintf(buf, len,
			 "{\"mode\":\"%s\",\"picks\":%llu,\"links\":[",
			 mode_names[s->mode], (unsigned long long)s->picks)))
		return -ENOSPC;
	for (uint32_t i = 0; i < s->n; i++) {
		const struct w_link *w = &s->l[i];
		if (put(buf, len, &off,
			snprintf(buf + off, len - off,
				 "%s{\"name\":\"%s\",\"weight\":%llu,"
				 "\"effective\":%.3f,\"credit\":%lld}",
				 i ? "," : "", w->name,
				 (unsigned long long)w->base,
				 (double)w->eff / W_SCALE, (long long)w->cur)))
			return -ENOSPC;
	}
	if (put(buf, len, &off, snprintf(buf + off, len - off, "]}")))
		return -ENOSPC;
	return (int)off;
}

static const struct ttt_sched_ops w_ops = {
    TTT_SCHED_OPS_HEADER,
    .name = "weighted",
    .version = "1.0",
    .description = "smooth weighted round robin (weights, else rates)",
    .priv_size = sizeof(struct wrr),
    .init = w_init,
    .pick = w_pick,
    .links_changed = w_links_changed,
    .dump = w_dump,
};

TTT_SCHED_PLUGIN(w_ops)
