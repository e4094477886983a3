/*
 * `tuntuntun -n`, the part that needs the daemon's machinery: the plugin
 * directory passes the trust rule, and each scheduler the file names loads
 * and accepts its options: an instance is created against the configured
 * links exactly as at start (session_set_sched), then released. The file-
 * system and account checks are in conf/config_check.c.
 */
#include <errno.h>
#include <string.h>

#include "conf/config_check.h"
#include "daemon.h"
#include "os/plugin_trust.h"
#include "sched/sched_host.h"

/* Link views as a fresh client session has them: configured facts, every
 * link down until the prober has heard from it. */
static uint32_t fill_views(const struct config *cfg, struct ttt_link_view *v)
{
	uint32_t n = cfg->role == ROLE_CLIENT ? cfg->n_links : 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct cfg_link *l = &cfg->links[i];
		memset(&v[i], 0, sizeof(v[i]));
		v[i].id = i;
		v[i].state = TTT_LINK_DOWN;
		v[i].metered = l->metered;
		v[i].backup = l->backup;
		v[i].name = l->name;
		v[i].weight = l->weight;
		v[i].mtu = 1400;
		v[i].rate_bps = l->rate_bps;
		v[i].quota_bytes = l->quota_bytes;
	}
	return n;
}

/* Where to point at for a plugin's refusal: the option its message quotes
 * ("weights.dsl" -> scheduler.upstream.weights.dsl), else the plugin. */
static const char *refused_key(const struct cfg_sched *s, const char *msg,
			       const char *dkey, const char *pkey, char *buf)
{
	char q[sizeof(s->opts[0].key) + 2];
	for (uint32_t i = 0; i < s->n_opts; i++) {
		snprintf(q, sizeof(q), "\"%s\"", s->opts[i].key);
		if (strstr(msg, q)) {
			sprintf(buf, "%s.%s", dkey, s->opts[i].key);
			return buf;
		}
	}
	return pkey;
}

/* One direction: `local` false when the plugin runs at the other end (a
 * client's downstream): absent here is then only a warning. */
static void check_sched(struct cfgchk *c, struct sched_registry *reg, int dir,
			bool local)
{
	const struct cfg_sched *s = &c->cfg->sched[dir];
	const char *key = dir == TTT_DIR_UPSTREAM ? "scheduler.upstream"
						  : "scheduler.downstream";
	char pkey[40], okey[sizeof(s->opts[0].key) + 24];
	struct ttt_link_view views[CFG_MAX_LINKS];
	struct ttt_sched_ctx ctx = {.size = sizeof(ctx), .dir = (uint32_t)dir};
	struct sched_inst *inst = NULL;
	struct err e = {""};

	snprintf(pkey, sizeof(pkey), "%s.plugin", key);
	ctx.links = views;
	ctx.n_links = fill_views(c->cfg, views);
	ctx.now_ns = mono_ns();
	int ret = sched_inst_create(reg, s->plugin, dir, s->opts, s->n_opts,
				    &ctx, &inst, &e);
	if (ret == 0) {
		sched_inst_destroy(inst);
		return;
	}
	if (ret == -ENOENT && !local) {
		cfgchk_add(c, false, pkey,
			   "\"%s\" is not in this machine's plugin directory "
			   "%s; the server must have it",
			   s->plugin, sched_registry_dir(reg));
		return;
	}
	if (ret == -ENOENT)
		cfgchk_add(c, true, pkey,
			   "\"%s\": no such plugin in %s (expected one that "
			   "`tuntunctl plugins` lists, or a file %s.so there)",
			   s->plugin, sched_registry_dir(reg), s->plugin);
	else
		cfgchk_add(c, true, refused_key(s, e.msg, key, pkey, okey),
			   "plugin \"%s\" refused: %s", s->plugin, e.msg);
}

void confcheck_plugins(struct cfgchk *c)
{
	const struct config *cfg = c->cfg;
	char dirbuf[CFG_STR_MAX];
	struct sched_registry *reg = NULL;
	struct err e = {""};
	const char *pdir =
	    cfg->plugin_dir[0]
		? cfg->plugin_dir
		: sched_default_plugin_dir(dirbuf, sizeof(dirbuf));

	/* As daemon_setup(): a missing directory leaves the built-in only. */
	int ret = plugin_trust_check_dir(pdir, &e);
	if (ret < 0 && ret != -ENOENT) {
		cfgchk_add(c, true, "plugin_dir", "%s", e.msg);
		return;
	}
	if (sched_registry_create(&reg, pdir, &e) < 0) {
		cfgchk_add(c, true, "plugin_dir", "%s", e.msg);
		return;
	}
	if (cfg->role == ROLE_CLIENT) {
		check_sched(c, reg, TTT_DIR_UPSTREAM, true);
		check_sched(c, reg, TTT_DIR_DOWNSTREAM, false);
	} else {
		check_sched(c, reg, TTT_DIR_DOWNSTREAM, true);
	}
	sched_registry_destroy(reg);
}

int confcheck_run(const struct config *cfg, struct cfgchk *c)
{
	int ret = cfgchk_open(c, cfg);
	if (ret < 0)
		return ret;
	cfgchk_all(c);
	confcheck_plugins(c);
	return 0;
}
