/*
 * Scheduler host: plugin loading, checking, instances, answer validation.
 *
 * Why a plugin is opened through /proc/self/fd/N instead of by its path:
 * glibc hands back the already loaded object when dlopen() sees a path it
 * has loaded before, so a rebuilt plugins.d/foo.so could never be loaded
 * next to the old one during a hot swap. Loading the open fd gives every
 * file (inode) its own object, the checks apply to exactly the file that
 * was stat'ed, and the fd is kept open while loaded so its number (and so
 * the name glibc remembers) stays unique.
 *
 * Why plugins named by name are opened relative to a directory fd: the
 * registry opens its directory once, at start, while the daemon is still
 * root, and checks it with the trust rule then (the directory and all
 * above it). Every later look-up is openat(dirfd, "NAME.so") plus the rule
 * on the opened file and on the directory's own fstat, so a daemon that
 * dropped to `user:` still finds its plugins when a parent directory is
 * closed to that user (a clone under /root, mode 0700), and nothing a
 * rename above the directory does can redirect the look-up. Names from
 * the network are only ever such names (sched_name_valid()).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "os/plugin_trust.h"
#include "sched/sched_host.h"

#ifndef TTT_PLUGINDIR
#define TTT_PLUGINDIR "/usr/local/lib/tuntuntun/plugins.d"
#endif

/* Smallest table a version-1 plugin can have: everything before spare[]. */
#define OPS_MIN_SIZE offsetof(struct ttt_sched_ops, spare)
/* A struct_size beyond this is garbage, not a newer header. */
#define OPS_MAX_SIZE 4096u
#define DUMP_MAX     16384

struct sched_plugin {
	struct sched_plugin *next;  /* registry list */
	struct sched_registry *reg; /* NULL once the registry is gone */
	struct ttt_sched_ops ops;   /* copy; fields past struct_size zero */
	void *dl;		    /* dlopen handle, NULL for the built-in */
	int fd;			    /* the open .so, -1 for the built-in */
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	off_t size;
	unsigned refs;
	bool current; /* false once a rebuilt file replaced it */
	bool builtin;
	char path[PATH_MAX];
};

/* What `plugins` found for a file that is not loaded: checking it means
 * dlopen (and its constructors), far too slow to repeat on every request,
 * so the answer is kept while the file and its directory stay the same
 * (ctime included: a chmod can change the trust rule's verdict). */
struct list_entry {
	char name[NAME_MAX + 1];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	json_t *info;
};

struct sched_registry {
	struct sched_plugin *plugins; /* loaded, each with refs > 0 */
	int dirfd;		  /* the plugin directory, -1 until it exists */
	struct list_entry *cache; /* sched_registry_list's, see above */
	size_t n_cache;
	struct timespec cache_dir_ctime;
	char dir[PATH_MAX];
};

/* The built-in is shared by all registries and never unloaded. */
static struct sched_plugin *builtin_plugin(void)
{
	static struct sched_plugin b;
	if (!b.builtin) {
		b.ops = *sched_rr_ops();
		b.fd = -1;
		b.builtin = true;
		b.current = true;
		snprintf(b.path, sizeof(b.path), "(built-in)");
	}
	return &b;
}

const char *sched_default_plugin_dir(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			struct stat st;
			int w = snprintf(buf, len, "%s/plugins.d", exe);
			if (w > 0 && (size_t)w < len && stat(buf, &st) == 0 &&
			    S_ISDIR(st.st_mode))
				return buf;
		}
	}
	snprintf(buf, len, "%s", TTT_PLUGINDIR);
	return buf;
}

/* Opens and checks the plugin directory once: the trust rule by path (the
 * directory and everything above it), then on the opened directory itself,
 * so the fd is the directory that was checked. A missing directory is not
 * an error (only the built-in works until it exists; the next look-up
 * tries again). */
static int registry_open_dir(struct sched_registry *r, struct err *e)
{
	struct stat st;
	int ret;
	if (r->dirfd >= 0)
		return 0;
	/* Path first: once it passed, nobody but root can re-point any
	 * component of the path before the open. */
	if ((ret = plugin_trust_check_dir(r->dir, e)) < 0)
		return ret;
	int fd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		return err_set(e, ret, "plugin directory %s: %s", r->dir,
			       ret == -ENOENT ? "no such directory"
					      : strerror(-ret));
	}
	if (fstat(fd, &st) != 0) {
		ret = err_set(e, -errno, "plugin directory %s: fstat: %s",
			      r->dir, strerror(errno));
		goto fail;
	}
	if ((ret = plugin_trust_check_stat(r->dir, &st, true, e)) < 0)
		goto fail;
	r->dirfd = fd;
	return 0;
fail:
	close(fd);
	return ret;
}

int sched_registry_create(struct sched_registry **out, const char *plugin_dir,
			  struct err *e)
{
	char def[PATH_MAX];
	if (!plugin_dir || !*plugin_dir)
		plugin_dir = sched_default_plugin_dir(def, sizeof(def));
	size_t len = strlen(plugin_dir);
	while (len > 1 && plugin_dir[len - 1] == '/')
		len--;
	if (len >= sizeof(((struct sched_registry *)0)->dir))
		return err_set(e, -ENAMETOOLONG, "plugin dir %s: name too long",
			       plugin_dir);
	struct sched_registry *r = calloc(1, sizeof(*r));
	if (!r)
		return err_set(e, -ENOMEM, "plugin registry: out of memory");
	memcpy(r->dir, plugin_dir, len);
	r->dir[len] = '\0';
	r->dirfd = -1;
	int ret = registry_open_dir(r, e);
	if (ret < 0 && ret != -ENOENT) {
		free(r);
		return ret;
	}
	*out = r;
	return 0;
}

const char *sched_registry_dir(const struct sched_registry *r)
{
	return r->dir;
}

static void plugin_close(struct sched_plugin *p)
{
	if (p->dl && dlclose(p->dl) != 0)
		log_warn("sched", "%s: dlclose: %s", p->path, dlerror());
	if (p->fd >= 0 && close(p->fd) != 0)
		log_warn("sched", "%s: close: %m", p->path);
	free(p);
}

void sched_registry_destroy(struct sched_registry *r)
{
	if (!r)
		return;
	struct sched_plugin *p = r->plugins, *next;
	for (; p; p = next) {
		next = p->next;
		p->next = NULL;
		p->reg = NULL;
		if (p->refs == 0)
			plugin_close(p);
		else
			log_warn("sched",
				 "%s: still used by %u instance(s) "
				 "when the registry went away",
				 p->path, p->refs);
	}
	if (r->dirfd >= 0 && close(r->dirfd) != 0)
		log_warn("sched", "%s: close: %m", r->dir);
	for (size_t i = 0; i < r->n_cache; i++)
		json_decref(r->cache[i].info);
	free(r->cache);
	free(r);
}

/* A plugin name: [a-z0-9_-], 1..SCHED_NAME_MAX-1 characters. */
bool sched_name_valid(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
		if (n + 1 >= SCHED_NAME_MAX)
			return false;
	}
	return n > 0;
}

/* The name a file should declare: its base name without ".so". */
static void file_stem(const char *path, char *out, size_t len)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 3 && strcmp(base + n - 3, ".so") == 0)
		n -= 3;
	if (n >= len)
		n = len - 1;
	memcpy(out, base, n);
	out[n] = '\0';
}

/* Checks a table in the order of the ABI contract and copies what this host
 * knows of it into p->ops. */
static int ops_check(struct sched_plugin *p, const struct ttt_sched_ops *ops,
		     struct err *e)
{
	const char *f = p->path;
	if (ops->magic != TTT_SCHED_MAGIC)
		return err_set(e, -EINVAL,
			       "%s: bad magic 0x%08x (expected 0x%08x): not a "
			       "tuntuntun scheduler",
			       f, ops->magic, TTT_SCHED_MAGIC);
	if (ops->abi_version != TTT_SCHED_ABI_VERSION)
		return err_set(e, -EPROTO,
			       "%s: ABI version %u, this host speaks %u", f,
			       ops->abi_version, TTT_SCHED_ABI_VERSION);
	if (ops->struct_size < OPS_MIN_SIZE || ops->struct_size > OPS_MAX_SIZE)
		return err_set(e, -EINVAL,
			       "%s: ops struct_size %u, expected %zu..%u "
			       "(built against a broken header?)",
			       f, ops->struct_size, OPS_MIN_SIZE, OPS_MAX_SIZE);
	memset(&p->ops, 0, sizeof(p->ops));
	memcpy(&p->ops, ops,
	       ops->struct_size < sizeof(p->ops) ? ops->struct_size
						 : sizeof(p->ops));
	if (!p->ops.name || !*p->ops.name)
		return err_set(e, -EINVAL, "%s: plugin has an empty name", f);
	if (!sched_name_valid(p->ops.name))
		return err_set(e, -EINVAL,
			       "%s: plugin name \"%.40s\" is not 1..%d "
			       "characters of [a-z0-9_-]",
			       f, p->ops.name, SCHED_NAME_MAX - 1);
	char stem[PATH_MAX];
	file_stem(f, stem, sizeof(stem));
	if (strcmp(stem, p->ops.name) != 0)
		return err_set(
		    e, -EINVAL,
		    "%s: plugin calls itself \"%s\", expected \"%s\" "
		    "(the file name)",
		    f, p->ops.name, stem);
	if (!p->ops.pick)
		return err_set(e, -EINVAL, "%s: required op pick is missing",
			       f);
	if (p->ops.priv_size > TTT_SCHED_MAX_PRIV)
		return err_set(
		    e, -EINVAL,
		    "%s: priv_size %zu is over the limit of %d bytes", f,
		    p->ops.priv_size, TTT_SCHED_MAX_PRIV);
	return 0;
}

/* dlerror() names /proc/self/fd/N; the user wants the real file. */
static const char *dlerror_for(const char *procpath)
{
	const char *m = dlerror();
	if (!m)
		return "unknown dlopen error";
	size_t n = strlen(procpath);
	if (strncmp(m, procpath, n) == 0 && m[n] == ':' && m[n + 1] == ' ')
		m += n + 2;
	return m;
}

/*
 * Opens, loads and checks a file into a new unreferenced plugin: with
 * dirfd >= 0 the entry `file` of that directory (no symlink followed; path
 * is then only its name for messages), else the file at path. The trust
 * rule applies to the opened file, and either to the directory fd's own
 * fstat (checked all the way up when it was opened) or to path's
 * directories.
 */
static int plugin_load(const char *path, int dirfd, const char *file,
		       struct sched_plugin **out, struct err *e)
{
	int ret;
	struct sched_plugin *p = calloc(1, sizeof(*p));
	if (!p)
		return err_set(e, -ENOMEM, "%s: out of memory", path);
	p->fd = -1;
	if (strlen(path) >= sizeof(p->path)) {
		ret = err_set(e, -ENAMETOOLONG, "%s: path too long", path);
		goto fail;
	}
	strcpy(p->path, path);
	if (dirfd >= 0)
		p->fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	else
		p->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (p->fd < 0) {
		ret = -errno;
		err_set(e, ret, "%s: %s", path,
			ret == -ENOENT ? "no such plugin file"
				       : strerror(-ret));
		goto fail;
	}
	struct stat st;
	if (fstat(p->fd, &st) != 0) {
		ret = -errno;
		err_set(e, ret, "%s: fstat: %s", path, strerror(-ret));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = err_set(e, -EINVAL, "%s: not a regular file", path);
		goto fail;
	}
	if (dirfd >= 0) {
		struct stat dst;
		if (fstat(dirfd, &dst) != 0) {
			ret = -errno;
			err_set(e, ret, "%s: fstat of its directory: %s", path,
				strerror(-ret));
			goto fail;
		}
		if ((ret = plugin_trust_check_stat(path, &dst, true, e)) < 0 ||
		    (ret = plugin_trust_check_stat(path, &st, false, e)) < 0)
			goto fail;
	} else if ((ret = plugin_trust_check(path, &st, e)) < 0) {
		goto fail;
	}
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	p->mtime = st.st_mtim;
	p->size = st.st_size;

	char procpath[64];
	snprintf(procpath, sizeof(procpath), "/proc/self/fd/%d", p->fd);
	p->dl = dlopen(procpath, RTLD_NOW | RTLD_LOCAL);
	if (!p->dl) {
		ret = err_set(e, -EINVAL, "%s: cannot load: %s", path,
			      dlerror_for(procpath));
		goto fail;
	}
	dlerror();
	ttt_sched_entry_fn entry;
	*(void **)&entry = dlsym(p->dl, TTT_SCHED_ENTRY_SYMBOL);
	if (!entry) {
		ret = err_set(e, -EINVAL,
			      "%s: no entry symbol %s (use TTT_SCHED_PLUGIN)",
			      path, TTT_SCHED_ENTRY_SYMBOL);
		goto fail;
	}
	const struct ttt_sched_ops *ops = entry();
	if (!ops) {
		ret = err_set(e, -EINVAL, "%s: %s returned NULL", path,
			      TTT_SCHED_ENTRY_SYMBOL);
		goto fail;
	}
	ret = ops_check(p, ops, e);
	if (ret < 0)
		goto fail;
	*out = p;
	return 0;
fail:
	plugin_close(p);
	return ret;
}

static bool same_file(const struct sched_plugin *p, const struct stat *st)
{
	return p->dev == st->st_dev && p->ino == st->st_ino;
}

static bool file_unchanged(const struct sched_plugin *p, const struct stat *st)
{
	return same_file(p, st) && p->size == st->st_size &&
	       p->mtime.tv_sec == st->st_mtim.tv_sec &&
	       p->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static struct sched_plugin *find_current(struct sched_registry *r,
					 const char *path)
{
	for (struct sched_plugin *p = r->plugins; p; p = p->next)
		if (p->current && strcmp(p->path, path) == 0)
			return p;
	return NULL;
}

static int plugin_path(struct sched_registry *r, const char *name, char *buf,
		       size_t len, struct err *e)
{
	int n;
	if (name[0] == '/')
		n = snprintf(buf, len, "%s", name);
	else if (!sched_name_valid(name))
		return err_set(
		    e, -EINVAL,
		    "plugin name \"%.40s\": expected 1..%d characters "
		    "of [a-z0-9_-]",
		    name, SCHED_NAME_MAX - 1);
	else
		n = snprintf(buf, len, "%s/%s.so", r->dir, name);
	if (n < 0 || (size_t)n >= len)
		return err_set(e, -ENAMETOOLONG, "plugin %s: path too long",
			       name);
	return 0;
}

/*
 * Finds the plugin for `name`: the built-in, the loaded one if its file is
 * unchanged, or a freshly loaded (unreferenced, unlisted) one in *fresh.
 */
static int plugin_get(struct sched_registry *r, const char *name,
		      struct sched_plugin **out, bool *fresh, struct err *e)
{
	char path[PATH_MAX];
	struct stat st;
	*fresh = false;
	if (strcmp(name, SCHED_BUILTIN_NAME) == 0) {
		*out = builtin_plugin();
		return 0;
	}
	int ret = plugin_path(r, name, path, sizeof(path), e);
	if (ret < 0)
		return ret;
	/* A name is looked up in the directory opened at start (see the top
	 * of this file); a path, or a symlink in the directory (root put it
	 * there; its target is checked by path), by path. */
	int dirfd = -1;
	const char *file = strrchr(path, '/') + 1;
	if (name[0] != '/' && registry_open_dir(r, e) == 0)
		dirfd = r->dirfd;
	int sret;
	if (dirfd >= 0) {
		sret = fstatat(dirfd, file, &st, AT_SYMLINK_NOFOLLOW);
		if (sret == 0 && S_ISLNK(st.st_mode)) {
			dirfd = -1;
			sret = stat(path, &st);
		}
	} else {
		sret = stat(path, &st);
	}
	if (sret != 0) {
		ret = -errno;
		if (ret == -ENOENT && strcmp(name, "roundrobin") == 0) {
			log_notice("sched",
				   "%s: not found, using the built-in "
				   "round robin",
				   path);
			*out = builtin_plugin();
			return 0;
		}
		return err_set(e, ret, "%s: %s", path,
			       ret == -ENOENT ? "no such plugin file"
					      : strerror(-ret));
	}
	struct sched_plugin *old = find_current(r, path);
	if (old && file_unchanged(old, &st)) {
		*out = old;
		return 0;
	}
	if (old && same_file(old, &st))
		return err_set(e, -EBUSY,
			       "%s: rewritten in place while in use; install a "
			       "new file instead (write elsewhere, then mv)",
			       path);
	struct sched_plugin *p;
	ret = plugin_load(path, dirfd, file, &p, e);
	if (ret < 0)
		return ret;
	for (struct sched_plugin *q = r->plugins; q; q = q->next) {
		if (q->current && q != old &&
		    strcmp(q->ops.name, p->ops.name) == 0) {
			ret = err_set(e, -EEXIST,
				      "%s: plugin name \"%s\" is already "
				      "taken by %s",
				      path, p->ops.name, q->path);
			plugin_close(p);
			return ret;
		}
	}
	*out = p;
	*fresh = true;
	return 0;
}

static const struct ttt_sched_ctx *ctx_or_empty(const struct ttt_sched_ctx *c,
						struct ttt_sched_ctx *empty,
						int dir)
{
	if (c)
		return c;
	memset(empty, 0, sizeof(*empty));
	empty->size = sizeof(*empty);
	empty->dir = (uint32_t)dir;
	return empty;
}

/* Allocates the instance and runs init + links_changed for plugin p. */
static int inst_start(struct sched_plugin *p, int dir,
		      const struct cfg_opt *opts, uint32_t n_opts,
		      const struct ttt_sched_ctx *ctx, struct sched_inst **out,
		      struct err *e)
{
	struct ttt_opt topts[CFG_MAX_OPTS];
	const char *f = p->path;

	if (n_opts > CFG_MAX_OPTS)
		return err_set(e, -EINVAL, "%s: %u options, at most %d", f,
			       n_opts, CFG_MAX_OPTS);
	for (uint32_t i = 0; i < n_opts; i++) {
		const struct cfg_opt *o = &opts[i];
		if (!memchr(o->key, 0, sizeof(o->key)) ||
		    !memchr(o->str, 0, sizeof(o->str)))
			return err_set(e, -EINVAL,
				       "%s: option %u is not terminated", f, i);
		topts[i] = (struct ttt_opt){
		    .key = o->key,
		    .str = o->str,
		    .type = o->type,
		    .b = o->b,
		    .i = o->i,
		    .d = o->type == TTT_OPT_INT ? (double)o->i : o->d,
		    .line = o->line,
		};
	}
	struct sched_inst *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, -ENOMEM, "%s: out of memory", f);
	size_t psz = (p->ops.priv_size + 15) & ~(size_t)15;
	if (posix_memalign(&s->priv, 16, psz ? psz : 16) != 0) {
		free(s);
		return err_set(e, -ENOMEM, "%s: out of memory", f);
	}
	memset(s->priv, 0, psz ? psz : 16);
	s->ops = &p->ops;
	s->pick = p->ops.pick;
	s->plugin = p;
	s->dir = dir;
	snprintf(s->name, sizeof(s->name), "%s", p->ops.name);

	struct ttt_sched_ctx empty;
	ctx = ctx_or_empty(ctx, &empty, dir);
	if (p->ops.init) {
		char msg[256] = "";
		struct ttt_sched_init args = {
		    .size = sizeof(args),
		    .dir = (uint32_t)dir,
		    .opts = topts,
		    .n_opts = n_opts,
		    .ctx = ctx,
		};
		int ret = p->ops.init(s->priv, &args, msg, sizeof(msg));
		msg[sizeof(msg) - 1] = '\0';
		if (ret != 0) {
			ret = ret < 0 && ret > -4096 ? ret : -EINVAL;
			err_set(e, ret, "%s: init failed: %s", f,
				*msg ? msg : strerror(-ret));
			free(s->priv);
			free(s);
			return ret;
		}
	}
	if (p->ops.links_changed)
		p->ops.links_changed(s->priv, ctx);
	*out = s;
	return 0;
}

int sched_inst_create(struct sched_registry *r, const char *name, int dir,
		      const struct cfg_opt *opts, uint32_t n_opts,
		      const struct ttt_sched_ctx *ctx, struct sched_inst **out,
		      struct err *e)
{
	struct sched_plugin *p;
	bool fresh;

	if (!name || !*name)
		return err_set(e, -EINVAL, "no scheduler plugin named");
	if (dir != TTT_DIR_UPSTREAM && dir != TTT_DIR_DOWNSTREAM)
		return err_set(e, -EINVAL, "%s: bad direction %d", name, dir);
	if (ctx && (ctx->n_links > TTT_SCHED_MAX_LINKS ||
		    (ctx->n_links && !ctx->links)))
		return err_set(e, -EINVAL, "%s: %u links, at most %d", name,
			       ctx->n_links, TTT_SCHED_MAX_LINKS);
	int ret = plugin_get(r, name, &p, &fresh, e);
	if (ret < 0)
		goto fail;
	ret = inst_start(p, dir, opts, n_opts, ctx, out, e);
	if (ret < 0) {
		if (fresh)
			plugin_close(p);
		goto fail;
	}
	if (fresh) {
		struct sched_plugin *old = find_current(r, p->path);
		if (old) {
			old->current = false;
			log_info("sched",
				 "%s: rebuilt file loaded; %u "
				 "instance(s) keep the old one",
				 p->path, old->refs);
		}
		p->reg = r;
		p->current = true;
		p->next = r->plugins;
		r->plugins = p;
	}
	if (!p->builtin)
		p->refs++;
	log_info("sched", "%s %s: %s %s started",
		 dir == TTT_DIR_UPSTREAM ? "upstream" : "downstream",
		 p->ops.name, p->path,
		 p->ops.version ? p->ops.version : "(no version)");
	return 0;
fail:
	/* The caller reports it (once, where the cause repeats). */
	log_debug("sched", "%s", e ? e->msg : "instance not created");
	return ret;
}

static void plugin_unref(struct sched_plugin *p)
{
	if (p->builtin || --p->refs > 0)
		return;
	struct sched_registry *r = p->reg;
	if (r) {
		struct sched_plugin **pp = &r->plugins;
		while (*pp && *pp != p)
			pp = &(*pp)->next;
		if (*pp)
			*pp = p->next;
	}
	log_info("sched", "%s: unloaded", p->path);
	plugin_close(p);
}

void sched_inst_destroy(struct sched_inst *s)
{
	if (!s)
		return;
	if (s->ops->release)
		s->ops->release(s->priv);
	free(s->priv);
	plugin_unref(s->plugin);
	free(s);
}

int sched_pick_fallback(struct sched_inst *s, const struct ttt_sched_ctx *ctx,
			int answer)
{
	if (answer == TTT_PICK_DROP) {
		s->drops++;
		return TTT_PICK_DROP;
	}
	s->faults++;
	/* One line for the 1st, 2nd, 4th, 8th... fault: visible, not a flood.
	 */
	if ((s->faults & (s->faults - 1)) == 0)
		log_warn("sched",
			 "%s: pick answered %d of %u links%s; using the "
			 "built-in round robin (%llu faults so far)",
			 s->name, answer, ctx->n_links,
			 (unsigned)answer < ctx->n_links ? " (not usable)" : "",
			 (unsigned long long)s->faults);
	int i = sched_rr_next(&s->rr_next, ctx);
	if (i < 0) {
		s->drops++;
		return TTT_PICK_DROP;
	}
	s->fallbacks++;
	return i;
}

void sched_links_changed(struct sched_inst *s, const struct ttt_sched_ctx *ctx)
{
	if (s->ops->links_changed)
		s->ops->links_changed(s->priv, ctx);
}

void sched_feedback(struct sched_inst *s, const struct ttt_sched_ctx *ctx,
		    const struct ttt_feedback *fb)
{
	if (s->ops->feedback && fb->link < ctx->n_links)
		s->ops->feedback(s->priv, ctx, fb);
}

/* The plugin's dump as JSON, or NULL with *why set. */
static json_t *inst_state(struct sched_inst *s, const char **why)
{
	*why = NULL;
	if (!s->ops->dump)
		return NULL;
	char *buf = malloc(DUMP_MAX);
	if (!buf) {
		*why = "out of memory";
		return NULL;
	}
	buf[0] = '\0';
	json_t *state = NULL;
	int n = s->ops->dump(s->priv, buf, DUMP_MAX);
	buf[DUMP_MAX - 1] = '\0';
	if (n < 0 || n >= DUMP_MAX) {
		*why = "dump failed";
	} else {
		json_error_t jerr;
		state = json_loadb(buf, (size_t)n, 0, &jerr);
		if (!state)
			*why = "dump is not valid JSON";
		else if (!json_is_object(state)) {
			json_decref(state);
			state = NULL;
			*why = "dump is not a JSON object";
		}
	}
	free(buf);
	return state;
}

json_t *sched_inst_dump(struct sched_inst *s)
{
	const char *why;
	json_t *state = inst_state(s, &why);
	json_t *o = json_pack(
	    "{s:s, s:s?, s:s?, s:b, s:s, s:I, s:I, s:I, s:I, s:o}", "plugin",
	    s->name, "version", s->ops->version, "file",
	    s->plugin->builtin ? NULL : s->plugin->path, "builtin",
	    s->plugin->builtin, "dir",
	    s->dir == TTT_DIR_UPSTREAM ? "upstream" : "downstream", "picks",
	    (json_int_t)s->picks, "faults", (json_int_t)s->faults, "drops",
	    (json_int_t)s->drops, "fallbacks", (json_int_t)s->fallbacks,
	    "state", state ? state : json_null());
	if (o && why)
		json_object_set_new(o, "dump_error", json_string(why));
	return o;
}

static json_t *plugin_info(const struct sched_plugin *p, bool loaded)
{
	return json_pack("{s:s, s:s?, s:s?, s:s?, s:i, s:b, s:i, s:n}", "name",
			 p->ops.name, "file", p->builtin ? NULL : p->path,
			 "version", p->ops.version, "description",
			 p->ops.description, "abi", (int)p->ops.abi_version,
			 "loaded", loaded, "refs", (int)p->refs, "error");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the *.so files in the directory fd; *n = 0 if it cannot
 * be read. A fresh open of "." so the registry's fd keeps its offset. */
static char **list_files(int dirfd, const char *dir, size_t *n)
{
	char **names = NULL;
	size_t cap = 0;
	*n = 0;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return NULL;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len <= 3 || strcmp(de->d_name + len - 3, ".so") != 0)
			continue;
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nn = realloc(names, ncap * sizeof(*names));
			if (!nn)
				break;
			names = nn;
			cap = ncap;
		}
		names[*n] = strdup(de->d_name);
		if (names[*n])
			(*n)++;
	}
	if (closedir(d) != 0)
		log_warn("sched", "%s: closedir: %m", dir);
	if (*n)
		qsort(names, *n, sizeof(*names), cmp_str);
	return names;
}

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* The cached answer for a file in this state, or NULL. */
static json_t *cache_get(const struct sched_registry *r, const char *name,
			 const struct stat *st)
{
	for (size_t i = 0; i < r->n_cache; i++) {
		const struct list_entry *c = &r->cache[i];
		if (strcmp(c->name, name) == 0 && c->dev == st->st_dev &&
		    c->ino == st->st_ino && c->size == st->st_size &&
		    ts_eq(c->mtime, st->st_mtim) &&
		    ts_eq(c->ctime, st->st_ctim))
			return c->info;
	}
	return NULL;
}

/* Remembers info (a reference is taken) for the next listing. */
static void cache_put(struct list_entry *fresh, size_t *n, const char *name,
		      const struct stat *st, json_t *info)
{
	struct list_entry *c = &fresh[(*n)++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->size = st->st_size;
	c->mtime = st->st_mtim;
	c->ctime = st->st_ctim;
	c->info = json_incref(info);
}

/* A file that is not loaded: its checked description, or why not. */
static json_t *probe_file(const char *path, int dirfd, const char *name)
{
	struct sched_plugin *p;
	struct err e;
	if (plugin_load(path, dirfd, name, &p, &e) == 0) {
		json_t *info = plugin_info(p, false);
		plugin_close(p);
		return info;
	}
	char stem[PATH_MAX];
	file_stem(path, stem, sizeof(stem));
	return json_pack("{s:s, s:s, s:n, s:n, s:n, s:b, s:i, s:s}", "name",
			 stem, "file", path, "version", "description", "abi",
			 "loaded", 0, "refs", 0, "error", e.msg);
}

json_t *sched_registry_list(struct sched_registry *r)
{
	json_t *arr = json_array();
	if (!arr)
		return NULL;
	json_array_append_new(arr, plugin_info(builtin_plugin(), true));
	size_t n = 0, n_fresh = 0;
	struct err e;
	struct stat dst;
	char **names = registry_open_dir(r, &e) == 0
			   ? list_files(r->dirfd, r->dir, &n)
			   : NULL;
	/* A directory whose mode or owner changed may fail the rule now. */
	if (r->dirfd >= 0 && fstat(r->dirfd, &dst) == 0 &&
	    !ts_eq(dst.st_ctim, r->cache_dir_ctime)) {
		for (size_t i = 0; i < r->n_cache; i++)
			json_decref(r->cache[i].info);
		r->n_cache = 0;
		r->cache_dir_ctime = dst.st_ctim;
	}
	struct list_entry *fresh = n ? calloc(n, sizeof(*fresh)) : NULL;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct stat st;
		int dirfd = r->dirfd;
		int w = snprintf(path, sizeof(path), "%s/%s", r->dir, names[i]);
		int sret = fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW);
		bool link = sret == 0 && S_ISLNK(st.st_mode);
		if (link) {
			dirfd = -1; /* as plugin_get: a symlink by path */
			sret = stat(path, &st);
		}
		if (w < 0 || (size_t)w >= sizeof(path) || sret != 0) {
			free(names[i]);
			continue;
		}
		struct sched_plugin *p = find_current(r, path);
		if (p && file_unchanged(p, &st)) {
			free(names[i]);
			json_array_append_new(arr, plugin_info(p, true));
			continue;
		}
		/* A symlink's target directories are not covered by the
		 * cache key: always checked afresh. */
		json_t *info = link ? NULL : cache_get(r, names[i], &st);
		if (info)
			json_incref(info);
		else
			info = probe_file(path, dirfd, names[i]);
		if (info && fresh && !link)
			cache_put(fresh, &n_fresh, names[i], &st, info);
		free(names[i]);
		json_array_append_new(arr, info);
	}
	free(names);
	/* Only what is still in the directory stays cached. */
	for (size_t i = 0; i < r->n_cache; i++)
		json_decref(r->cache[i].info);
	free(r->cache);
	r->cache = fresh;
	r->n_cache = n_fresh;
	return arr;
}
