/*
 * Quota accounting for metered links (client side, where the links are):
 * bytes both ways count against the link's quota for the current period
 * (a month starting on `quota_reset_day`). The counters are persisted
 * atomically (temp file, fsync, rename) to `state_file` at shutdown and,
 * while they change, from the daemon's 1 s stats tick: every 2 s, and at
 * the next tick whenever a link's usage crossed another 1% of its quota.
 * So a crash forgets at most the last ~2 s of metered traffic, and never
 * more than 1% of a quota plus one second's traffic: neither a restart nor
 * a crash gives a user a fresh allowance they did not pay for, and a slow
 * trickle costs one small write per 2 s, not one per packet.
 *
 * The file lives in a directory the daemon opens once (as root, at start)
 * and then only uses through that fd: the directory and everything above
 * it must be owned by root or the daemon's `user:` and not writable by
 * group or others (above it a root-owned sticky directory such as /tmp is
 * fine; the directory itself may not be sticky-shared, where others could
 * pre-create our names). The temporary file is created with
 * O_EXCL|O_NOFOLLOW, fsynced, the previous file kept as `<file>.bak` (a
 * hard link), renamed over the file, and the directory fsynced. A state
 * file that is corrupt, truncated, empty or holds a wrong type or a
 * negative number is never read as zero: the daemon starts, warns, and
 * takes `.bak`, or if that is bad too counts every metered link's period
 * as used up (the safe side for a user who pays per byte).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "base/log.h"
#include "os/nss.h"

#define QUOTA_SAVE_EVERY_NS 2000000000ull /* while dirty */
#define QUOTA_SAVE_STEPS    100ull	  /* save per 1% of a quota */
#define QUOTA_FILE_MAX	    (1u << 20)	  /* larger is not ours */

/* Start (epoch seconds, local time) of the period that contains `now`. */
static int64_t period_start(time_t now, uint32_t reset_day)
{
	struct tm tm;
	localtime_r(&now, &tm);
	if (reset_day < 1 || reset_day > 28)
		reset_day = 1;
	if ((uint32_t)tm.tm_mday < reset_day)
		tm.tm_mon -= 1;
	tm.tm_mday = (int)reset_day;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

void quota_account(struct daemon *d, struct path *p, uint64_t bytes,
		   uint64_t now_wall)
{
	/* Only metered links have an allowance to spend; counting the
	 * others would rewrite the state file for nothing. */
	if (!d->client || !p->metered)
		return;
	p->quota_used_bytes += bytes;
	d->sess->views[p->id].quota_used_bytes = p->quota_used_bytes;
	d->quota_dirty = true;
	(void)now_wall;
}

/* Has link i's usage crossed another 1% of its quota since the last save? */
static bool step_crossed(struct daemon *d, uint32_t i)
{
	uint64_t q = d->cfg.links[i].quota_bytes;
	uint64_t step = q / QUOTA_SAVE_STEPS;
	if (!d->cfg.links[i].metered || !step)
		return false;
	return d->sess->paths[i].quota_used_bytes / step !=
	       d->quota_saved_used[i] / step;
}

/* Saves when the crash bound in the header comment says it is time. */
static void quota_save_due(struct daemon *d)
{
	if (!d->quota_dirty || !d->cfg.state_file[0])
		return;
	uint64_t now = now_ns(d);
	bool due = now - d->quota_saved_ns >= QUOTA_SAVE_EVERY_NS;
	for (uint32_t i = 0; !due && i < d->cfg.n_links; i++)
		due = step_crossed(d, i);
	if (!due)
		return;
	struct err e;
	if (quota_save(d, &e) < 0) {
		/* Retried on the 2 s cadence; one line until it works. */
		d->quota_saved_ns = now;
		if (!d->quota_save_failing)
			log_warn("quota", "%s (retrying every 2 s)", e.msg);
		d->quota_save_failing = true;
	}
}

/* Called from the 1 s stats timer: starts a new period when one began and
 * saves the counters when due. */
void quota_roll(struct daemon *d)
{
	if (!d->client)
		return;
	time_t now = time(NULL);
	for (uint32_t i = 0; i < d->cfg.n_links; i++) {
		struct path *p = &d->sess->paths[i];
		const struct cfg_link *l = &d->cfg.links[i];
		if (!l->metered)
			continue;
		int64_t ps = period_start(now, l->quota_reset_day);
		if (!d->quota_period[i]) {
			/* First run (no state yet): this period started
			 * now for us; what was counted so far is in it. */
			d->quota_period[i] = ps;
			d->quota_dirty = true;
		} else if (ps > d->quota_period[i]) {
			log_notice("quota",
				   "%s: new period, %llu bytes used in the "
				   "last one",
				   l->name,
				   (unsigned long long)p->quota_used_bytes);
			d->quota_period[i] = ps;
			p->quota_used_bytes = 0;
			d->quota_dirty = true;
		}
	}
	quota_save_due(d);
}

/* The uid the daemon runs as once it dropped to `user:`. Only a root
 * daemon that has not dropped yet (start, before the loop runs) asks NSS;
 * afterwards the effective uid is that user's. */
static uid_t runtime_uid(const struct daemon *d)
{
	struct passwd pw;
	char *buf = NULL;
	uid_t uid = geteuid();
	if (uid == 0 && d->cfg.user[0] &&
	    nss_passwd_by_name(d->cfg.user, &pw, &buf) == 0)
		uid = pw.pw_uid;
	free(buf);
	return uid;
}

/* What is wrong with a directory on the state file's path, or NULL. */
static const char *dir_untrusted(const struct stat *st, uid_t uid, bool self)
{
	if (st->st_uid != 0 && st->st_uid != uid)
		return "is owned by another user";
	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return NULL;
	if (!self && st->st_uid == 0 && (st->st_mode & S_ISVTX))
		return NULL;
	return "is writable by group or others";
}

/* Splits state_file into its directory and base name. */
static int split_path(const char *path, char *dir, size_t dlen,
		      const char **base, struct err *e)
{
	const char *slash = strrchr(path, '/');
	*base = slash ? slash + 1 : path;
	if (!**base)
		return err_set(e, -EINVAL, "state_file %s names a directory",
			       path);
	size_t n = slash ? (size_t)(slash - path) : 1;
	if (n >= dlen)
		return err_set(e, -ENAMETOOLONG, "state_file %s: too long",
			       path);
	if (!slash)
		memcpy(dir, ".", 2);
	else if (n == 0)
		memcpy(dir, "/", 2);
	else {
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	return 0;
}

/*
 * Opens the state file's directory into d->quota_dirfd once and checks it
 * and every directory above it (see the top of this file). -ENOENT if the
 * directory does not exist, -EPERM if it is not trusted.
 */
static int state_dir_open(struct daemon *d, struct err *e)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *base;
	struct stat st;
	int ret;
	if (d->quota_dir_open)
		return 0;
	if ((ret = split_path(d->cfg.state_file, dir, sizeof(dir), &base, e)) <
	    0)
		return ret;
	uid_t uid = runtime_uid(d);
	if (!realpath(dir, real))
		return err_set(e, -errno, "state directory %s: %s", dir,
			       strerror(errno));
	for (bool self = true;; self = false) {
		if (lstat(real, &st) < 0)
			return err_set(e, -errno, "state directory %s: %s",
				       real, strerror(errno));
		const char *why = dir_untrusted(&st, uid, self);
		if (why)
			return err_set(e, -EPERM,
				       "refusing state_file %s: %s %s (mode "
				       "%04o, uid %d); it must be owned by "
				       "root or the daemon's user and "
				       "writable by nobody else",
				       d->cfg.state_file, real, why,
				       (unsigned)(st.st_mode & 07777),
				       (int)st.st_uid);
		char *slash = strrchr(real, '/');
		if (!slash || strcmp(real, "/") == 0)
			break;
		if (slash == real)
			strcpy(real, "/");
		else
			*slash = '\0';
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "state directory %s: %s", dir,
			       strerror(errno));
	/* The fd is what we checked by path only if it passes on its own. */
	const char *why = fstat(fd, &st) < 0 ? "cannot be examined"
					     : dir_untrusted(&st, uid, true);
	if (why) {
		close(fd);
		return err_set(e, -EPERM, "refusing state_file %s: %s %s",
			       d->cfg.state_file, dir, why);
	}
	d->quota_dirfd = fd;
	d->quota_dir_open = true;
	return 0;
}

void quota_close(struct daemon *d)
{
	if (d->quota_dir_open && close(d->quota_dirfd) < 0)
		log_warn("quota", "close: %s", strerror(errno));
	d->quota_dir_open = false;
	d->quota_dirfd = -1;
}

static const char *state_base(const struct daemon *d)
{
	const char *slash = strrchr(d->cfg.state_file, '/');
	return slash ? slash + 1 : d->cfg.state_file;
}

/* Reads file `name` of the state directory (no symlink followed) into a
 * NUL-terminated buffer. -ENOENT if absent. */
static int read_state(struct daemon *d, const char *name, char **out,
		      size_t *len, struct err *e)
{
	struct stat st;
	int ret = 0;
	char *buf = NULL;
	int fd = openat(d->quota_dirfd, name,
			O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_set(e, -errno, "%s: %s", name,
			       errno == ELOOP ? "is a symbolic link"
					      : strerror(errno));
	if (fstat(fd, &st) < 0) {
		ret = err_set(e, -errno, "%s: %s", name, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > QUOTA_FILE_MAX) {
		ret = err_set(e, -EINVAL,
			      "%s: not a regular file of at most "
			      "1 MiB",
			      name);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret =
			    err_set(e, -errno, "%s: %s", name, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return ret;
}

/* An integer member >= 0, else -EINVAL naming it. */
static int get_count(json_t *o, const char *link, const char *key, int64_t *v,
		     struct err *e)
{
	json_t *j = json_object_get(o, key);
	if (!json_is_integer(j))
		return err_set(e, -EINVAL, "links.%s.%s: %s", link, key,
			       j ? "expected an integer" : "missing");
	if (json_integer_value(j) < 0)
		return err_set(e, -EINVAL, "links.%s.%s: %lld is negative",
			       link, key, (long long)json_integer_value(j));
	*v = json_integer_value(j);
	return 0;
}

/*
 * Parses and checks a whole state file; applies it to d only if all of it
 * is good, so a bad file never leaves half its numbers behind.
 */
static int parse_state(struct daemon *d, const char *name, const char *text,
		       size_t len, struct err *e)
{
	json_error_t je;
	uint64_t used[CFG_MAX_LINKS];
	int64_t period[CFG_MAX_LINKS];
	bool have[CFG_MAX_LINKS] = {false};
	int ret = 0;
	if (len == 0)
		return err_set(e, -EINVAL, "%s: empty", name);
	json_t *root = json_loadb(text, len, 0, &je);
	if (!root)
		return err_set(e, -EINVAL, "%s:%d: %s", name, je.line, je.text);
	json_t *ver = json_object_get(root, "version");
	json_t *links = json_object_get(root, "links");
	if (!json_is_object(root) || !json_is_integer(ver) ||
	    json_integer_value(ver) != 1) {
		ret = err_set(e, -EINVAL,
			      "%s: expected an object with "
			      "\"version\": 1",
			      name);
		goto out;
	}
	if (!json_is_object(links)) {
		ret = err_set(e, -EINVAL, "%s: \"links\": expected an object",
			      name);
		goto out;
	}
	for (uint32_t i = 0; i < d->cfg.n_links; i++) {
		const char *ln = d->cfg.links[i].name;
		json_t *l = json_object_get(links, ln);
		if (!l || !d->cfg.links[i].metered)
			continue; /* a link new to this file starts at 0 */
		int64_t u, p;
		if (!json_is_object(l)) {
			ret = err_set(e, -EINVAL,
				      "%s: links.%s: expected an "
				      "object",
				      name, ln);
			goto out;
		}
		if ((ret = get_count(l, ln, "used", &u, e)) < 0 ||
		    (ret = get_count(l, ln, "period_start", &p, e)) < 0) {
			char m[sizeof(e->msg)];
			snprintf(m, sizeof(m), "%s", e->msg);
			err_set(e, ret, "%s: %s", name, m);
			goto out;
		}
		used[i] = (uint64_t)u;
		period[i] = p;
		have[i] = true;
	}
	for (uint32_t i = 0; i < d->cfg.n_links; i++) {
		if (!have[i])
			continue;
		d->sess->paths[i].quota_used_bytes = used[i];
		d->quota_period[i] = period[i];
	}
out:
	json_decref(root);
	return ret;
}

/* Reads and applies `name`; 0, -ENOENT (absent) or another error. */
static int load_one(struct daemon *d, const char *name, struct err *e)
{
	char *text = NULL;
	size_t len = 0;
	int ret = read_state(d, name, &text, &len, e);
	if (ret == 0)
		ret = parse_state(d, name, text, len, e);
	free(text);
	return ret;
}

/* Neither the file nor its .bak can be trusted: every metered link's
 * current period counts as used up, so nobody gets an allowance twice. */
static void assume_used_up(struct daemon *d)
{
	time_t now = time(NULL);
	for (uint32_t i = 0; i < d->cfg.n_links; i++) {
		const struct cfg_link *l = &d->cfg.links[i];
		if (!l->metered)
			continue;
		struct path *p = &d->sess->paths[i];
		if (p->quota_used_bytes < l->quota_bytes)
			p->quota_used_bytes = l->quota_bytes;
		d->quota_period[i] = period_start(now, l->quota_reset_day);
		log_warn("quota",
			 "%s: counted as used up (%llu bytes) for this period "
			 "until it ends",
			 l->name, (unsigned long long)p->quota_used_bytes);
	}
	d->quota_dirty = true;
}

int quota_load(struct daemon *d, struct err *e)
{
	char bak[CFG_STR_MAX + 8];
	struct err le;
	if (!d->cfg.state_file[0] || !d->client)
		return 0;
	int ret = state_dir_open(d, e);
	if (ret == -ENOENT) {
		/* Not fatal: saving retries and says so every time. */
		log_warn("quota",
			 "%s; usage starts at 0 and is not saved "
			 "until the directory exists",
			 e->msg);
		return 0;
	}
	if (ret < 0)
		return ret;
	const char *base = state_base(d);
	snprintf(bak, sizeof(bak), "%s.bak", base);
	ret = load_one(d, base, &le);
	if (ret == 0) {
		d->quota_main_good = true;
	} else if (ret == -ENOENT && load_one(d, bak, e) == -ENOENT) {
		ret = 0; /* first run */
	} else {
		if (ret != -ENOENT)
			log_warn("quota", "%s: cannot use it: %s",
				 d->cfg.state_file, le.msg);
		if (load_one(d, bak, e) == 0) {
			log_warn("quota",
				 "%s: using the last good copy %s.bak "
				 "(at most one save older)",
				 d->cfg.state_file, d->cfg.state_file);
		} else {
			log_warn("quota", "%s.bak: cannot use it either: %s",
				 d->cfg.state_file, e->msg);
			assume_used_up(d);
		}
	}
	/* What the file holds counts as saved: the 1% steps run from it. */
	d->quota_saved_ns = now_ns(d);
	for (uint32_t i = 0; i < d->cfg.n_links; i++)
		d->quota_saved_used[i] = d->sess->paths[i].quota_used_bytes;
	quota_roll(d);
	return 0;
}

/* Creates `name` in the state directory exclusively (O_EXCL|O_NOFOLLOW:
 * nothing already there, a planted symlink included, is ever opened). A
 * leftover is removed once: in a directory only we can write, it is ours
 * from a crash (unlinkat removes a symlink itself, not its target). */
static int create_tmp(struct daemon *d, const char *name)
{
	for (int tries = 0;; tries++) {
		int fd = openat(
		    d->quota_dirfd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST || tries > 0)
			return fd < 0 ? -errno : fd;
		if (unlinkat(d->quota_dirfd, name, 0) < 0 && errno != ENOENT)
			return -errno;
	}
}

int quota_save(struct daemon *d, struct err *e)
{
	char tmp[CFG_STR_MAX + 8], bak[CFG_STR_MAX + 8];
	int ret = 0, fd = -1;
	char *text = NULL;
	if (!d->cfg.state_file[0] || !d->client || !d->quota_dirty)
		return 0;
	if ((ret = state_dir_open(d, e)) < 0)
		return ret;
	const char *base = state_base(d);
	snprintf(tmp, sizeof(tmp), "%s.tmp", base);
	snprintf(bak, sizeof(bak), "%s.bak", base);
	json_t *links = json_object();
	for (uint32_t i = 0; i < d->cfg.n_links; i++) {
		if (!d->cfg.links[i].metered)
			continue;
		json_object_set_new(
		    links, d->cfg.links[i].name,
		    json_pack("{s:I,s:I}", "used",
			      (json_int_t)d->sess->paths[i].quota_used_bytes,
			      "period_start", (json_int_t)d->quota_period[i]));
	}
	json_t *root = json_pack("{s:i,s:o}", "version", 1, "links", links);
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!text)
		return err_set(e, -ENOMEM, "out of memory");
	fd = create_tmp(d, tmp);
	if (fd < 0) {
		ret = err_set(e, fd, "%s.tmp: %s", d->cfg.state_file,
			      strerror(-fd));
		fd = -1;
		goto out;
	}
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	if (n >= 0 && (size_t)n != len)
		errno = ENOSPC; /* a short write to a regular file: disk full */
	if (n != (ssize_t)len || fsync(fd) < 0) {
		ret = err_set(e, -errno, "%s.tmp: %s", d->cfg.state_file,
			      strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = err_set(e, -errno, "%s.tmp: %s", d->cfg.state_file,
			      strerror(errno));
		goto out;
	}
	fd = -1;
	/* The file being replaced becomes .bak, if it was good: a crash
	 * anywhere here leaves the old or the new file in place. */
	if (d->quota_main_good) {
		if (unlinkat(d->quota_dirfd, bak, 0) < 0 && errno != ENOENT)
			log_debug("quota", "%s.bak: %s", d->cfg.state_file,
				  strerror(errno));
		if (linkat(d->quota_dirfd, base, d->quota_dirfd, bak, 0) < 0 &&
		    errno != ENOENT)
			log_debug("quota", "%s.bak: %s", d->cfg.state_file,
				  strerror(errno));
	}
	if (renameat(d->quota_dirfd, tmp, d->quota_dirfd, base) < 0) {
		ret = err_set(e, -errno, "rename to %s: %s", d->cfg.state_file,
			      strerror(errno));
		unlinkat(d->quota_dirfd, tmp, 0);
		goto out;
	}
	/* The rename is durable only once the directory is. */
	if (fsync(d->quota_dirfd) < 0) {
		ret = err_set(e, -errno, "fsync of the directory of %s: %s",
			      d->cfg.state_file, strerror(errno));
		goto out;
	}
	d->quota_main_good = true;
	d->quota_dirty = false;
	d->quota_saved_ns = now_ns(d);
	for (uint32_t i = 0; i < d->cfg.n_links; i++)
		d->quota_saved_used[i] = d->sess->paths[i].quota_used_bytes;
	if (d->quota_save_failing)
		log_notice("quota", "%s saved again", d->cfg.state_file);
	d->quota_save_failing = false;
out:
	if (fd >= 0) {
		close(fd);
		unlinkat(d->quota_dirfd, tmp, 0);
	}
	free(text);
	return ret;
}
