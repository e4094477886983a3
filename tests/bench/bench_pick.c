/*
 * ns per sched_pick() for each shipped scheduler (and the built-in) at 2, 4
 * and 16 links, through the real path: plugins dlopen'ed from plugins.d by
 * the host, every answer validated. Link views are static during a run and
 * the clock advances 1 us per packet, so queues never fill: this measures
 * the decision, not a traffic pattern. Speed is reported, never asserted.
 *
 * Usage: bench_pick [plugin-dir] [picks]   (defaults: $TTT_PLUGIN_DIR or
 * plugins.d, 10000000)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "sched/sched_host.h"

static const char *const plugins[] = {SCHED_BUILTIN_NAME, "roundrobin",
				      "weighted", "metered-overflow",
				      "lowest-rtt"};
static const uint32_t link_counts[] = {2, 4, 16};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A plausible mix: rates 10..160 mbit, RTTs 20..80 ms, every third link
 * metered, one DEGRADED link when there are more than two. */
static void make_links(struct ttt_link_view *l, uint32_t n, char names[][16])
{
	memset(l, 0, sizeof(*l) * n);
	for (uint32_t i = 0; i < n; i++) {
		snprintf(names[i], 16, "link%u", i);
		l[i].id = i;
		l[i].name = names[i];
		l[i].state = TTT_LINK_UP;
		l[i].rate_bps = 10000000ull * (1 + i % 16);
		l[i].srtt_us = 20000 + 4000 * ((i * 7) % 16);
		l[i].metered = i % 3 == 2;
		l[i].mtu = 1400;
	}
	if (n > 2)
		l[1].state = TTT_LINK_DEGRADED;
}

static int bench_one(struct sched_registry *r, const char *name, uint32_t n,
		     uint64_t picks)
{
	struct ttt_link_view links[TTT_SCHED_MAX_LINKS];
	char names[TTT_SCHED_MAX_LINKS][16];
	make_links(links, n, names);
	struct ttt_sched_ctx ctx = {.size = sizeof(ctx),
				    .dir = TTT_DIR_UPSTREAM,
				    .now_ns = 1000000000,
				    .links = links,
				    .n_links = n};
	struct sched_inst *s;
	struct err e;
	int ret =
	    sched_inst_create(r, name, TTT_DIR_UPSTREAM, NULL, 0, &ctx, &s, &e);
	if (ret < 0) {
		fprintf(stderr, "bench_pick: %s\n", e.msg);
		return ret;
	}
	struct ttt_pkt_info pkt = {.len = 1200, .ip_version = 4};
	uint64_t sum = 0, t0 = now_ns();
	for (uint64_t k = 0; k < picks; k++) {
		pkt.seq = k;
		ctx.now_ns += 1000;
		sum += (uint64_t)sched_pick(s, &ctx, &pkt);
	}
	uint64_t dt = now_ns() - t0;
	printf("pick %s links=%u: %.1f ns%s\n", name, n, (double)dt / picks,
	       s->faults ? " (faults!)" : "");
	if (s->faults)
		fprintf(stderr, "bench_pick: %s: %llu faults\n", name,
			(unsigned long long)s->faults);
	/* the sum keeps the loop from being optimised away */
	if (sum == UINT64_MAX)
		printf("%llu\n", (unsigned long long)sum);
	sched_inst_destroy(s);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : getenv("TTT_PLUGIN_DIR");
	uint64_t picks = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000000;
	struct sched_registry *r;
	struct err e;
	int fails = 0;

	if (!dir || !*dir)
		dir = "plugins.d";
	if (!picks) {
		fprintf(stderr, "usage: bench_pick [plugin-dir] [picks > 0]\n");
		return 2;
	}
	log_init("bench_pick", LOG_WARNING, 0);
	if (sched_registry_create(&r, dir, &e) < 0) {
		fprintf(stderr, "bench_pick: %s\n", e.msg);
		return 1;
	}
	for (size_t p = 0; p < sizeof(plugins) / sizeof(plugins[0]); p++)
		for (size_t k = 0;
		     k < sizeof(link_counts) / sizeof(*link_counts); k++)
			fails +=
			    bench_one(r, plugins[p], link_counts[k], picks) < 0;
	sched_registry_destroy(r);
	return fails ? 1 : 0;
}
