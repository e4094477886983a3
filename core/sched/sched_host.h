/*
 * Scheduler host: finds, checks and loads scheduler plugins (.so files with
 * the ABI of include/tuntuntun/sched.h), runs one instance per direction,
 * validates every answer of `pick` and falls back to a built-in round robin
 * that lives in the core and can never fail to load.
 *
 * Ownership: a registry owns the loaded plugins; an instance holds one
 * reference on its plugin; the last reference dlcloses it. Hot swap is done
 * by the caller: sched_inst_create() the new instance (nothing changes on
 * failure), switch the pointer between two packets, sched_inst_destroy() the
 * old one. Single-threaded, like the rest of the daemon.
 */
#ifndef TTT_SCHED_HOST_H
#define TTT_SCHED_HOST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "base/err.h"
#include <tuntuntun/sched.h>

/* Name of the round robin compiled into the core. "roundrobin" also maps to
 * it when roundrobin.so is absent from the plugin directory. */
#define SCHED_BUILTIN_NAME "builtin-rr"
#define SCHED_NAME_MAX	   32

struct sched_plugin;   /* a loaded .so (or the built-in): ops, file, refcount */
struct sched_registry; /* plugin directory + the plugins loaded from it */

/* One scheduler instance; the daemon keeps a pointer per direction. The
 * counters are read by `status`; the rest is the host's. */
struct sched_inst {
	int (*pick)(void *priv, const struct ttt_sched_ctx *ctx,
		    const struct ttt_pkt_info *pkt); /* cached ops->pick */
	void *priv; /* plugin state, 16-byte aligned */
	const struct ttt_sched_ops
	    *ops; /* host's copy, zero past struct_size */
	struct sched_plugin *plugin;
	uint32_t rr_next;   /* cursor of the fallback round robin */
	int dir;	    /* enum ttt_dir */
	uint64_t picks;	    /* calls of sched_pick */
	uint64_t faults;    /* bad answers (out of range, unusable link) */
	uint64_t drops;	    /* packets dropped (plugin said so / no link) */
	uint64_t fallbacks; /* packets the built-in round robin placed */
	char name[SCHED_NAME_MAX];
};

/* The directory the daemon uses when the config names none: plugins.d/ next
 * to the running binary if it exists, else the installed TTT_PLUGINDIR.
 * Returns buf. */
const char *sched_default_plugin_dir(char *buf, size_t len);

/* plugin_dir NULL or "" = sched_default_plugin_dir(). Opens the directory
 * and checks it with the trust rule (os/plugin_trust.h) now, so call it
 * before dropping root. The directory need not exist yet (only the
 * built-in works then; later look-ups try again). -ENAMETOOLONG, -ENOMEM,
 * -EPERM (untrusted), or the error opening it. */
int sched_registry_create(struct sched_registry **out, const char *plugin_dir,
			  struct err *e);
/* Destroy instances first; plugins still referenced are detached and freed
 * by their last sched_inst_destroy(). */
void sched_registry_destroy(struct sched_registry *r);
const char *sched_registry_dir(const struct sched_registry *r);

/* Every *.so in the directory plus the built-in, as a JSON array of
 * {name, file, version, description, abi, loaded, refs, error}. Files not
 * loaded are opened, checked and closed again (init is not called). NULL
 * only when out of memory. Caller owns the reference. */
json_t *sched_registry_list(struct sched_registry *r);

/* Whether s is a plugin name: 1..SCHED_NAME_MAX-1 characters of
 * [a-z0-9_-]. A name from the network must pass this before it reaches
 * sched_inst_create(), so the peer can only pick among <dir>/NAME.so. */
bool sched_name_valid(const char *s);

/*
 * Creates an instance of plugin `name` (entry <name>.so of the directory
 * opened at sched_registry_create(), found through that fd so it still
 * works after the daemon dropped root; or an absolute path, from local
 * configuration only, if name starts with '/'), reusing the loaded plugin
 * unless the file changed since (then the new file is loaded; instances of the
 * old one keep running it). Checks magic, ABI version, struct size, name, pick
 * and priv_size, allocates zeroed priv, calls init(opts) then
 * links_changed(ctx). ctx may be NULL (no links yet). On failure nothing is
 * left behind and the return is -ENOENT (no such file), -EPROTO (ABI version),
 * -EEXIST (name taken by another loaded file), -EBUSY (file rewritten in place
 * while in use), -EINVAL (anything else wrong, init failure, bad options) or
 * -ENOMEM, with e->msg like "plugins.d/foo.so: ABI version 7, this host speaks
 * 1".
 */
int sched_inst_create(struct sched_registry *r, const char *name, int dir,
		      const struct cfg_opt *opts, uint32_t n_opts,
		      const struct ttt_sched_ctx *ctx, struct sched_inst **out,
		      struct err *e);
/* Calls release, frees priv, drops the plugin reference (dlclose at 0).
 * NULL is a no-op. */
void sched_inst_destroy(struct sched_inst *s);

/* Slow path of sched_pick: counts the fault or drop and picks a link with
 * the built-in round robin (UP links first). */
int sched_pick_fallback(struct sched_inst *s, const struct ttt_sched_ctx *ctx,
			int answer);

/*
 * Hot path: the plugin's answer if it names a usable link; TTT_PICK_DROP if
 * the plugin asked for it or no link is usable; otherwise a fault is counted
 * and the built-in round robin answers. ctx->n_links <= TTT_SCHED_MAX_LINKS.
 */
static inline int sched_pick(struct sched_inst *s,
			     const struct ttt_sched_ctx *ctx,
			     const struct ttt_pkt_info *pkt)
{
	int i = s->pick(s->priv, ctx, pkt);
	s->picks++;
	if (__builtin_expect((unsigned)i < ctx->n_links &&
				 ttt_link_usable(&ctx->links[i]),
			     1))
		return i;
	return sched_pick_fallback(s, ctx, i);
}

void sched_links_changed(struct sched_inst *s, const struct ttt_sched_ctx *ctx);
/* Ignores samples whose link index is out of range. */
void sched_feedback(struct sched_inst *s, const struct ttt_sched_ctx *ctx,
		    const struct ttt_feedback *fb);

/* {plugin, version, file, builtin, dir, picks, faults, drops, fallbacks,
 *  state}: state is the plugin's dump parsed as JSON, or null (and
 *  dump_error says why). NULL only when out of memory. */
json_t *sched_inst_dump(struct sched_inst *s);

/* sched_rr.c: the built-in round robin, also the fallback. */
/* Next usable link after *cursor, UP links before DEGRADED ones, or
 * TTT_PICK_DROP if none is usable. Advances *cursor past the answer. */
int sched_rr_next(uint32_t *cursor, const struct ttt_sched_ctx *ctx);
/* The built-in's ops table (name SCHED_BUILTIN_NAME, priv = one cursor). */
const struct ttt_sched_ops *sched_rr_ops(void);

#endif
