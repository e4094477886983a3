/*
 * The plugin trust rule (see plugin_trust.h): root-owned, not group- or
 * world-writable, all the way up. Without it a root daemon told to use
 * plugins.d in a user's home would run whatever that user drops there.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "os/plugin_trust.h"
#include "os/privdrop.h"

bool plugin_trust_enforced(void)
{
	return geteuid() == 0 || getuid() == 0 || privdrop_done();
}

/* One object: what is wrong with it, or NULL. Sticky root-owned
 * directories may be world-writable (others cannot replace our entries). */
static const char *why_untrusted(const struct stat *st, bool is_dir)
{
	if (st->st_uid != 0)
		return "is not owned by root";
	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return NULL;
	if (is_dir && (st->st_mode & S_ISVTX))
		return NULL;
	return "is writable by group or others";
}

/* Every directory from `dir` (made absolute, symlinks resolved) up to /. */
int plugin_trust_check_dir(const char *dir, struct err *e)
{
	char real[PATH_MAX];
	struct stat st;
	if (!plugin_trust_enforced())
		return 0;
	if (!realpath(dir, real))
		return err_set(e, -errno, "plugin directory %s: %s", dir,
			       strerror(errno));
	for (;;) {
		if (lstat(real, &st) < 0)
			return err_set(e, -errno, "plugin directory %s: %s",
				       real, strerror(errno));
		const char *why = why_untrusted(&st, true);
		if (why)
			return err_set(e, -EPERM,
				       "refusing plugins under %s: %s %s "
				       "(mode %04o, uid %d); a root daemon "
				       "loads plugins only from root-owned "
				       "directories nobody else can write",
				       dir, real, why,
				       (unsigned)(st.st_mode & 07777),
				       (int)st.st_uid);
		char *slash = strrchr(real, '/');
		if (!slash || slash == real) {
			if (strcmp(real, "/") == 0)
				break;
			strcpy(real, "/");
			continue;
		}
		*slash = '\0';
	}
	return 0;
}

int plugin_trust_check_stat(const char *what, const struct stat *st,
			    bool is_dir, struct err *e)
{
	if (!plugin_trust_enforced())
		return 0;
	const char *why = why_untrusted(st, is_dir);
	if (!why)
		return 0;
	return err_set(e, -EPERM,
		       "%s: refusing to load: the %s %s (mode %04o, uid %d); a "
		       "root daemon loads only root-owned plugins nobody else "
		       "can write",
		       what, is_dir ? "directory" : "file", why,
		       (unsigned)(st->st_mode & 07777), (int)st->st_uid);
}

int plugin_trust_check(const char *path, const struct stat *st, struct err *e)
{
	char dir[PATH_MAX];
	char real[PATH_MAX];
	if (!plugin_trust_enforced())
		return 0;
	const char *why = why_untrusted(st, false);
	if (why)
		return err_set(e, -EPERM,
			       "%s: refusing to load: the file %s (mode %04o, "
			       "uid %d); a root daemon loads only root-owned "
			       "plugins nobody else can write",
			       path, why, (unsigned)(st->st_mode & 07777),
			       (int)st->st_uid);
	/* The directory the file really lives in (after symlinks). */
	if (!realpath(path, real))
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	snprintf(dir, sizeof(dir), "%s", real);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	else
		strcpy(dir, "/");
	return plugin_trust_check_dir(dir, e);
}
