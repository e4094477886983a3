/*
 * Swap latency: the time of session_set_sched(), the call a `scheduler set`
 * or a SIGHUP reload makes, on a real session with 4 links whose plugins are
 * dlopen'ed from plugins.d. A plugin is dlclosed when its last instance
 * goes, so two figures: swapping to a plugin nobody uses (the file is loaded
 * and the old one unloaded) and to one still loaded elsewhere. The packet
 * path waits only for the switch of one pointer; this measures the whole
 * call, which runs between two packets. Reported, never asserted.
 *
 * Usage: bench_swap [plugin-dir] [swaps]   (defaults: $TTT_PLUGIN_DIR or
 * plugins.d, 20000)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "base/log.h"
#include "sched/sched_host.h"

static const char *const plugins[] = {"roundrobin", "weighted",
				      "metered-overflow", "lowest-rtt"};
#define N_PLUGINS (sizeof(plugins) / sizeof(plugins[0]))
#define N_LINKS	  4

static uint64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A client-like session: 4 UP links with rates and RTTs, no sockets. */
static int setup(struct daemon *d, struct session **out, const char *dir,
		 struct err *e)
{
	int ret;
	config_defaults(&d->cfg);
	d->cfg.reorder.enabled = false;
	d->client = true;
	d->buf_size = 2048;
	d->tun_mtu = 1400;
	d->loop = ev_default_loop(EVFLAG_AUTO);
	if (!d->loop)
		return err_set(e, -ENOMEM, "cannot create the event loop");
	if ((ret = sched_registry_create(&d->reg, dir, e)) < 0)
		return ret;
	if ((ret = session_create(d, out, e)) < 0)
		return ret;
	for (uint32_t i = 0; i < N_LINKS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "link%u", i);
		session_path_init(*out, i, name);
		struct path *p = &(*out)->paths[i];
		p->fd = 100 + (int)i; /* never used: no packet is sent */
		p->known = true;
		p->probe.state = PLS_UP;
		p->rate_bps = 10000000ull * (i + 1);
		p->probe.srtt_us = 20000 + 5000 * i;
	}
	return 0;
}

/* Mean ns of session_set_sched() over n swaps cycling the plugins; -1 on
 * error (e set). */
static double swap_loop(struct session *s, long n, uint64_t *worst,
			struct err *e)
{
	uint64_t t0 = mono();
	for (long i = 0; i < n; i++) {
		uint64_t t1 = mono();
		if (session_set_sched(s, plugins[(size_t)i % N_PLUGINS], NULL,
				      0, e) < 0)
			return -1;
		uint64_t dt = mono() - t1;
		if (worst && dt > *worst)
			*worst = dt;
	}
	return (double)(mono() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : getenv("TTT_PLUGIN_DIR");
	long swaps = argc > 2 ? strtol(argv[2], NULL, 10) : 20000;
	struct daemon d;
	struct session *s = NULL;
	struct err e = {""};
	int rc = 1;
	memset(&d, 0, sizeof(d));
	log_init("bench_swap", LOG_ERR, 0);
	if (!dir || !dir[0])
		dir = "plugins.d";
	if (swaps < (long)N_PLUGINS) {
		fprintf(stderr,
			"usage: bench_swap [plugin-dir] [swaps >= %zu]\n",
			N_PLUGINS);
		return 2;
	}
	if (setup(&d, &s, dir, &e) < 0) {
		fprintf(stderr, "bench_swap: %s\n", e.msg);
		goto out;
	}
	/* Cycling with nothing else holding the plugins: the last reference
	 * goes with the old instance, so every swap dlopens the new file and
	 * dlcloses the old one (what a swap to a fresh plugin costs). */
	double cold = swap_loop(s, swaps / 10 + 1, NULL, &e);
	/* With one idle instance of each plugin kept alive, every swap reuses
	 * a loaded plugin: load, init, switch, release only. */
	struct sched_inst *hold[N_PLUGINS] = {NULL};
	for (size_t i = 0; i < N_PLUGINS; i++)
		if (sched_inst_create(d.reg, plugins[i], TTT_DIR_UPSTREAM, NULL,
				      0, NULL, &hold[i], &e) < 0) {
			fprintf(stderr, "bench_swap: %s\n", e.msg);
			goto out;
		}
	uint64_t worst = 0;
	double warm = cold < 0 ? -1 : swap_loop(s, swaps, &worst, &e);
	for (size_t i = 0; i < N_PLUGINS; i++)
		sched_inst_destroy(hold[i]);
	if (cold < 0 || warm < 0) {
		fprintf(stderr, "bench_swap: %s\n", e.msg);
		goto out;
	}
	printf("swap loading the plugin file (dlopen+init+dlclose, %d links): "
	       "%.1f us\n",
	       N_LINKS, cold / 1e3);
	printf(
	    "swap to a loaded plugin (%ld swaps over %zu plugins, %d links): "
	    "%.2f us mean, %.1f us worst\n",
	    swaps, N_PLUGINS, N_LINKS, warm / 1e3, worst / 1e3);
	rc = 0;
out:
	if (s)
		session_destroy(s);
	if (d.reg)
		sched_registry_destroy(d.reg);
	return rc;
}
