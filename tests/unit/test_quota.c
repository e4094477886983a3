/*
 * Quota accounting (core/quota.c): only metered links count, the first
 * period of a fresh start keeps what was already counted, a new period
 * resets, and usage survives a save/load round trip through the state file.
 * The state file (#10.4): a corrupt, truncated, empty, wrongly typed or
 * negative file never reads as zero (the .bak, else the period counts as
 * used up), a symlink at the temporary name or at the file is never
 * followed, and a directory others can write (or owned by another user)
 * is refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"
#include "base/log.h"

static struct daemon *mk(const char *state_file)
{
	struct daemon *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	d->client = true;
	d->loop = ev_default_loop(0);
	d->cfg.n_links = 2;
	snprintf(d->cfg.links[0].name, CFG_NAME_MAX, "dsl");
	snprintf(d->cfg.links[1].name, CFG_NAME_MAX, "lte");
	d->cfg.links[1].metered = true;
	d->cfg.links[1].quota_bytes = 1000000;
	d->cfg.links[1].quota_reset_day = 1;
	snprintf(d->cfg.state_file, sizeof(d->cfg.state_file), "%s",
		 state_file ? state_file : "");
	d->sess = calloc(1, sizeof(*d->sess));
	assert_non_null(d->sess);
	d->sess->d = d;
	d->sess->n_paths = 2;
	d->sess->paths[1].metered = true;
	d->sess->paths[1].id = 1;
	return d;
}

static void rm(struct daemon *d)
{
	quota_close(d);
	free(d->sess);
	free(d);
}

static void test_only_metered_links_count(void **state)
{
	struct daemon *d = mk(NULL);
	quota_account(d, &d->sess->paths[0], 5000, 0);
	quota_account(d, &d->sess->paths[1], 7000, 0);
	assert_int_equal(d->sess->paths[0].quota_used_bytes, 0);
	assert_int_equal(d->sess->paths[1].quota_used_bytes, 7000);
	assert_int_equal(d->sess->views[1].quota_used_bytes, 7000);
	rm(d);
}

/* Regression: the first roll after a fresh start zeroed what the first
 * second of traffic had used. */
static void test_first_roll_keeps_usage(void **state)
{
	struct daemon *d = mk(NULL);
	quota_account(d, &d->sess->paths[1], 7000, 0);
	quota_roll(d);
	assert_int_equal(d->sess->paths[1].quota_used_bytes, 7000);
	assert_true(d->quota_period[1] > 0);
	quota_roll(d); /* same period: nothing changes */
	assert_int_equal(d->sess->paths[1].quota_used_bytes, 7000);
	/* A period that started before the current one: reset. */
	d->quota_period[1] -= 40 * 86400;
	quota_roll(d);
	assert_int_equal(d->sess->paths[1].quota_used_bytes, 0);
	rm(d);
}

static void test_save_load_round_trip(void **state)
{
	/* Not straight in /tmp: a shared sticky directory is refused. */
	char dir[] = "/tmp/ttt-quota-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
	struct err e;
	struct daemon *d = mk(path);
	quota_account(d, &d->sess->paths[1], 123456, 0);
	quota_roll(d);
	d->quota_dirty = true;
	assert_int_equal(quota_save(d, &e), 0);
	int64_t period = d->quota_period[1];
	rm(d);

	d = mk(path);
	assert_int_equal(quota_load(d, &e), 0);
	assert_int_equal(d->sess->paths[1].quota_used_bytes, 123456);
	assert_int_equal(d->quota_period[1], period);
	rm(d);

	unlink(path);
	char bak[80];
	snprintf(bak, sizeof(bak), "%s.bak", path);
	unlink(bak);
	assert_int_equal(rmdir(dir), 0);

	/* Straight in /tmp (sticky, world-writable): refused. */
	d = mk("/tmp/ttt-quota-in-tmp.json");
	assert_int_equal(quota_load(d, &e), -EPERM);
	rm(d);
}

#define QUOTA 1000000

/* A private state directory under /tmp (root-owned 0700, sticky /tmp
 * above it), with the state file "q.json" in it. */
struct sdir {
	char dir[64];
	char file[96], bak[96], tmp[96];
};

static void sdir_make(struct sdir *s)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/ttt-quota-d.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->file, sizeof(s->file), "%s/q.json", s->dir);
	snprintf(s->bak, sizeof(s->bak), "%s/q.json.bak", s->dir);
	snprintf(s->tmp, sizeof(s->tmp), "%s/q.json.tmp", s->dir);
}

static void sdir_rm(struct sdir *s)
{
	unlink(s->file);
	unlink(s->bak);
	unlink(s->tmp);
	assert_int_equal(rmdir(s->dir), 0);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Saves `used` bytes on lte through the real quota_save. */
static void save_used(const char *file, uint64_t used)
{
	struct err e;
	struct daemon *d = mk(file);
	assert_int_equal(quota_load(d, &e), 0);
	d->sess->paths[1].quota_used_bytes = used;
	d->quota_dirty = true;
	assert_int_equal(quota_save(d, &e), 0);
	rm(d);
}

/* Loads the file into a fresh daemon: returns lte's usage (and asserts
 * the load did not keep the daemon from starting). */
static uint64_t load_used(const char *file, int64_t *period)
{
	struct err e = {{0}};
	struct daemon *d = mk(file);
	assert_int_equal(quota_load(d, &e), 0);
	uint64_t u = d->sess->paths[1].quota_used_bytes;
	if (period)
		*period = d->quota_period[1];
	rm(d);
	return u;
}

/* Bad contents, each with no .bak: never zero, the period is used up. */
static void test_bad_file_counts_as_used_up(void **state)
{
	struct sdir s;
	sdir_make(&s);
	const char *bad[] = {
	    "{ not json",
	    "",
	    "{\"version\": 1, \"links\": {\"lte\": {\"used\": 12",
	    "{\"version\": 1, \"links\": {\"lte\": {\"used\": \"12\", "
	    "\"period_start\": 1}}}",
	    "{\"version\": 1, \"links\": {\"lte\": {\"used\": -5, "
	    "\"period_start\": 1}}}",
	    "{\"version\": 1, \"links\": {\"lte\": {\"used\": 5, "
	    "\"period_start\": -1}}}",
	    "{\"version\": 1, \"links\": {\"lte\": {\"used\": 5}}}",
	    "{\"version\": 1, \"links\": {\"lte\": 7}}",
	    "{\"version\": 1, \"links\": []}",
	    "{\"version\": 2, \"links\": {}}",
	    "[1, 2]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(s.file, bad[i]);
		int64_t period = 0;
		assert_int_equal(load_used(s.file, &period), QUOTA);
		assert_true(period > 0);
	}
	/* ... and a truncated good file too. */
	save_used(s.file, 4242);
	unlink(s.bak);
	struct stat st;
	assert_int_equal(stat(s.file, &st), 0);
	assert_int_equal(truncate(s.file, st.st_size / 2), 0);
	assert_int_equal(load_used(s.file, NULL), QUOTA);
	/* A good file with a link this config does not meter is fine. */
	put(s.file, "{\"version\": 1, \"links\": {\"lte\": {\"used\": 5, "
		    "\"period_start\": 1}, \"old\": \"x\"}}");
	assert_int_equal(load_used(s.file, NULL), 0); /* period 1 is over */
	sdir_rm(&s);
}

/* The previous good file is kept as .bak and taken when the file is bad. */
static void test_bak_fallback(void **state)
{
	struct sdir s;
	sdir_make(&s);
	save_used(s.file, 100);
	save_used(s.file, 200);
	assert_int_equal(load_used(s.file, NULL), 200);
	assert_int_equal(access(s.bak, F_OK), 0);
	put(s.file, "{ garbage");
	assert_int_equal(load_used(s.file, NULL), 100);
	/* The file gone (deleted by hand): the .bak, not a fresh start. */
	unlink(s.file);
	assert_int_equal(load_used(s.file, NULL), 100);
	/* Both bad: used up. */
	put(s.file, "");
	put(s.bak, "nope");
	assert_int_equal(load_used(s.file, NULL), QUOTA);
	/* Neither there: a first run. */
	unlink(s.file);
	unlink(s.bak);
	assert_int_equal(load_used(s.file, NULL), 0);
	sdir_rm(&s);
}

/* A symlink planted at the temporary name: the save neither writes
 * through it nor fails for good; the target keeps its contents. */
static void test_symlink_at_tmp_name(void **state)
{
	struct sdir s;
	sdir_make(&s);
	char victim[] = "/tmp/ttt-quota-victim.XXXXXX";
	int fd = mkstemp(victim);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);
	assert_int_equal(symlink(victim, s.tmp), 0);
	save_used(s.file, 777);
	char buf[32] = "";
	fd = open(victim, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 8);
	close(fd);
	assert_string_equal(buf, "precious");
	struct stat st;
	assert_int_equal(lstat(s.file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(lstat(s.tmp, &st), -1); /* no leftover */
	assert_int_equal(load_used(s.file, NULL), 777);

	/* A symlink as the state file itself is not followed either: it
	 * reads as bad (used up), and the next save replaces the link. */
	unlink(s.file);
	unlink(s.bak);
	assert_int_equal(symlink(victim, s.file), 0);
	assert_int_equal(load_used(s.file, NULL), QUOTA);
	save_used(s.file, 5);
	assert_int_equal(lstat(s.file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	fd = open(victim, O_RDONLY);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 8);
	close(fd);
	assert_string_equal(buf, "precious");
	unlink(victim);
	sdir_rm(&s);
}

/* A state directory others could write, or another user's, is refused. */
static void test_untrusted_dir(void **state)
{
	struct sdir s;
	struct err e;
	sdir_make(&s);
	const mode_t modes[] = {0777, 0770, 01777, 0722};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(chmod(s.dir, modes[i]), 0);
		struct daemon *d = mk(s.file);
		assert_int_equal(quota_load(d, &e), -EPERM);
		assert_non_null(strstr(e.msg, "writable by group or others"));
		d->quota_dirty = true;
		assert_int_equal(quota_save(d, &e), -EPERM);
		assert_int_equal(access(s.file, F_OK), -1);
		rm(d);
	}
	assert_int_equal(chmod(s.dir, 0700), 0);
	/* Owned by another user: refused, unless that is the daemon's. */
	assert_int_equal(chown(s.dir, 65534, 65534), 0);
	struct daemon *d = mk(s.file);
	assert_int_equal(quota_load(d, &e), -EPERM);
	assert_non_null(strstr(e.msg, "owned by another user"));
	rm(d);
	d = mk(s.file);
	snprintf(d->cfg.user, sizeof(d->cfg.user), "nobody");
	assert_int_equal(quota_load(d, &e), 0);
	rm(d);
	assert_int_equal(chown(s.dir, 0, 0), 0);
	/* A missing directory does not stop the start. */
	char gone[128];
	snprintf(gone, sizeof(gone), "%s/none/q.json", s.dir);
	assert_int_equal(load_used(gone, NULL), 0);
	sdir_rm(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_only_metered_links_count),
	    cmocka_unit_test(test_first_roll_keeps_usage),
	    cmocka_unit_test(test_save_load_round_trip),
	    cmocka_unit_test(test_bad_file_counts_as_used_up),
	    cmocka_unit_test(test_bak_fallback),
	    cmocka_unit_test(test_symlink_at_tmp_name),
	    cmocka_unit_test(test_untrusted_dir),
	};
	log_set_level(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
