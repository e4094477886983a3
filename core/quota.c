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
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "base/log.h"

#define QUOTA_SAVE_EVERY_NS 2000000000ull /* while dirty */
#define QUOTA_SAVE_STEPS    100ull	  /* save per 1% of a quota */

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

int quota_load(struct daemon *d, struct err *e)
{
	json_error_t je;
	if (!d->cfg.state_file[0] || !d->client)
		return 0;
	json_t *root = json_load_file(d->cfg.state_file, 0, &je);
	if (!root) {
		if (access(d->cfg.state_file, F_OK) != 0)
			return 0; /* first run */
		return err_set(e, -EINVAL, "%s:%d: %s", d->cfg.state_file,
			       je.line, je.text);
	}
	json_t *links = json_object_get(root, "links");
	for (uint32_t i = 0; i < d->cfg.n_links; i++) {
		json_t *l = json_object_get(links, d->cfg.links[i].name);
		if (!json_is_object(l))
			continue;
		d->sess->paths[i].quota_used_bytes =
		    (uint64_t)json_integer_value(json_object_get(l, "used"));
		d->quota_period[i] =
		    json_integer_value(json_object_get(l, "period_start"));
	}
	json_decref(root);
	/* What the file holds counts as saved: the 1% steps run from it. */
	d->quota_saved_ns = now_ns(d);
	for (uint32_t i = 0; i < d->cfg.n_links; i++)
		d->quota_saved_used[i] = d->sess->paths[i].quota_used_bytes;
	quota_roll(d);
	return 0;
}

int quota_save(struct daemon *d, struct err *e)
{
	char tmp[CFG_STR_MAX + 8];
	int ret = 0, fd = -1;
	char *text = NULL;
	if (!d->cfg.state_file[0] || !d->client || !d->quota_dirty)
		return 0;
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
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->cfg.state_file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = err_set(e, -errno, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	if (n >= 0 && (size_t)n != len)
		errno = ENOSPC; /* a short write to a regular file: disk full */
	if (n != (ssize_t)len || fsync(fd) < 0) {
		ret = err_set(e, -errno, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = err_set(e, -errno, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, d->cfg.state_file) < 0) {
		ret = err_set(e, -errno, "rename to %s: %s", d->cfg.state_file,
			      strerror(errno));
		goto out;
	}
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
		unlink(tmp);
	}
	free(text);
	return ret;
}
