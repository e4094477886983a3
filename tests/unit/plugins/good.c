/* Test plugin that loads: counts calls so the tests can see init,
 * links_changed, feedback and pick reach it. Option "drop: true" makes it
 * drop every packet. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tuntuntun/sched.h>

struct good {
	int drop;
	uint32_t links_changed;
	uint32_t feedback;
	uint32_t by_kind[4]; /* enum ttt_feedback_kind */
	uint64_t picks;
};

static int good_init(void *priv, const struct ttt_sched_init *a, char *err,
		     size_t errlen)
{
	struct good *g = priv;
	for (uint32_t i = 0; i < a->n_opts; i++) {
		if (strcmp(a->opts[i].key, "drop") != 0 ||
		    a->opts[i].type != TTT_OPT_BOOL) {
			snprintf(err, errlen, "unknown option \"%s\"",
				 a->opts[i].key);
			return -EINVAL;
		}
		g->drop = a->opts[i].b;
	}
	return 0;
}

/* The host frees priv after this: poisoning it lets ASan catch a host
 * that touches priv after release. */
static void good_release(void *priv)
{
	memset(priv, 0xa5, sizeof(struct good));
}

static int good_pick(void *priv, const struct ttt_sched_ctx *ctx,
		     const struct ttt_pkt_info *pkt)
{
	struct good *g = priv;
	g->picks++;
	if (g->drop)
		return TTT_PICK_DROP;
	for (uint32_t i = 0; i < ctx->n_links; i++)
		if (ttt_link_usable(&ctx->links[i]))
			return (int)i;
	return TTT_PICK_DROP;
}

static void good_links_changed(void *priv, const struct ttt_sched_ctx *ctx)
{
	((struct good *)priv)->links_changed++;
}

static void good_feedback(void *priv, const struct ttt_sched_ctx *ctx,
			  const struct ttt_feedback *fb)
{
	struct good *g = priv;
	g->feedback++;
	if (fb->kind < 4)
		g->by_kind[fb->kind]++;
}

static int good_dump(void *priv, char *buf, size_t len)
{
	const struct good *g = priv;
	return snprintf(buf, len,
			"{\"picks\":%llu,\"links_changed\":%u,\"feedback\":%u,"
			"\"sent\":%u,\"lost\":%u,\"rtt\":%u,\"delivered\":%u}",
			(unsigned long long)g->picks, g->links_changed,
			g->feedback, g->by_kind[TTT_FB_SENT],
			g->by_kind[TTT_FB_LOST], g->by_kind[TTT_FB_RTT],
			g->by_kind[TTT_FB_DELIVERED]);
}

static const struct ttt_sched_ops ops = {
    TTT_SCHED_OPS_HEADER,
    .name = "good",
    .version = "2.5",
    .description = "test plugin",
    .priv_size = sizeof(struct good),
    .init = good_init,
    .release = good_release,
    .pick = good_pick,
    .links_changed = good_links_changed,
    .feedback = good_feedback,
    .dump = good_dump,
};

TTT_SCHED_PLUGIN(ops)
