/*
 * Scheduler host: every refusal of a broken plugin (each with its message),
 * answer validation and fallback, reference counting across a swap, and
 * loading a rebuilt file next to the running one. Plugins are real .so
 * files from TTT_TEST_PLUGIN_DIR (built from tests/unit/plugins/), loaded by
 * dlopen.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "sched/sched_host.h"

static const char *test_dir(void)
{
	const char *d = getenv("TTT_TEST_PLUGIN_DIR");
	return d && *d ? d : "build/testplugins";
}

static struct ttt_link_view links[4];
static const char *const link_names[] = {"dsl", "lte", "wifi", "sat"};

static struct ttt_sched_ctx make_ctx(uint32_t n)
{
	memset(links, 0, sizeof(links));
	for (uint32_t i = 0; i < 4; i++) {
		links[i].id = i;
		links[i].name = link_names[i];
		links[i].state = TTT_LINK_UP;
	}
	return (struct ttt_sched_ctx){
	    .size = sizeof(struct ttt_sched_ctx), .links = links, .n_links = n};
}

static void set_opt(struct cfg_opt *o, const char *key, const char *str,
		    uint32_t type, int64_t i)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->key, sizeof(o->key), "%s", key);
	snprintf(o->str, sizeof(o->str), "%s", str);
	o->type = type;
	o->i = i;
	o->b = (int32_t)i;
	o->d = (double)i;
}

/* How many mappings of a file whose path ends in `suffix` this process has:
 * proves dlclose really happened (the kernel shows the real file). */
static int mapped(const char *suffix)
{
	FILE *f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	char line[PATH_MAX + 128];
	int n = 0;
	size_t sl = strlen(suffix);
	while (fgets(line, sizeof(line), f)) {
		size_t l = strcspn(line, "\n");
		line[l] = '\0';
		if (l >= sl && strcmp(line + l - sl, suffix) == 0)
			n++;
	}
	fclose(f);
	return n;
}

/* The registry's list entry for `name`, or NULL. */
static json_t *list_entry(json_t *arr, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "name")),
			   name) == 0)
			return v;
	}
	return NULL;
}

static struct sched_registry *reg_open(const char *dir)
{
	struct sched_registry *r = NULL;
	struct err e = {{0}};
	assert_int_equal(sched_registry_create(&r, dir, &e), 0);
	assert_non_null(r);
	return r;
}

static void test_good_plugin(void **state)
{
	struct sched_registry *r = reg_open(test_dir());
	struct ttt_sched_ctx ctx = make_ctx(3);
	struct ttt_pkt_info pkt = {.len = 100};
	struct sched_inst *s = NULL;
	struct err e = {{0}};

	assert_int_equal(sched_inst_create(r, "good", TTT_DIR_DOWNSTREAM, NULL,
					   0, &ctx, &s, &e),
			 0);
	assert_string_equal(s->name, "good");
	assert_string_equal(s->ops->version, "2.5");
	assert_int_equal(s->dir, TTT_DIR_DOWNSTREAM);
	assert_true(((uintptr_t)s->priv & 15) == 0);
	assert_int_equal(mapped("/good.so") > 0, 1);

	links[0].state = TTT_LINK_DOWN;
	assert_int_equal(sched_pick(s, &ctx, &pkt), 1);
	sched_links_changed(s, &ctx);
	struct ttt_feedback fb = {.kind = TTT_FB_SENT, .link = 1, .bytes = 100};
	sched_feedback(s, &ctx, &fb);
	fb.link = 3; /* out of range for 3 links: must not reach the plugin */
	sched_feedback(s, &ctx, &fb);

	json_t *d = sched_inst_dump(s);
	assert_non_null(d);
	assert_string_equal(json_string_value(json_object_get(d, "plugin")),
			    "good");
	assert_string_equal(json_string_value(json_object_get(d, "dir")),
			    "downstream");
	assert_int_equal(json_integer_value(json_object_get(d, "picks")), 1);
	assert_int_equal(json_integer_value(json_object_get(d, "faults")), 0);
	json_t *st = json_object_get(d, "state");
	assert_true(json_is_object(st));
	assert_int_equal(json_integer_value(json_object_get(st, "picks")), 1);
	/* once after init, once by us */
	assert_int_equal(
	    json_integer_value(json_object_get(st, "links_changed")), 2);
	assert_int_equal(json_integer_value(json_object_get(st, "feedback")),
			 1);
	json_decref(d);

	sched_inst_destroy(s);
	assert_int_equal(mapped("/good.so"), 0);
	sched_registry_destroy(r);
}

/* A plugin built against the header before the link-model fields were
 * appended (tests/unit/sched_v1.h) loads, sees a view of the same size and
 * reads every field it knows where the host wrote it. */
static void test_old_abi_plugin(void **state)
{
	struct sched_registry *r = reg_open(test_dir());
	struct ttt_sched_ctx ctx = make_ctx(3);
	struct ttt_pkt_info pkt = {.len = 100};
	struct sched_inst *s = NULL;
	struct err e = {{0}};

	(void)state;
	assert_int_equal(sched_inst_create(r, "old_abi", TTT_DIR_UPSTREAM, NULL,
					   0, &ctx, &s, &e),
			 0);
	for (uint32_t i = 0; i < 3; i++) {
		links[i].srtt_us = 30000 - i * 1000; /* link 2 is fastest */
		links[i].capacity_bps = 50000000;    /* new fields, set */
		links[i].pacing_bps = 45000000;
		links[i].queue_delay_us = 7000;
		links[i].inflight_bytes = 99999;
	}
	links[0].tx_bytes = 123456789;
	links[0].owd_diff_us = -42;
	links[0].rate_bps = 20000000;
	assert_int_equal(sched_pick(s, &ctx, &pkt), 2);
	links[2].state = TTT_LINK_DOWN;
	assert_int_equal(sched_pick(s, &ctx, &pkt), 1);
	assert_int_equal(s->faults, 0);
	json_t *d = sched_inst_dump(s);
	json_t *st = json_object_get(d, "state");
	assert_int_equal(json_integer_value(json_object_get(st, "view_size")),
			 sizeof(struct ttt_link_view));
	assert_int_equal(json_integer_value(json_object_get(st, "tx_bytes")),
			 123456789);
	assert_int_equal(json_integer_value(json_object_get(st, "owd_diff_us")),
			 -42);
	/* the old inline helper: the configured rate */
	assert_int_equal(json_integer_value(json_object_get(st, "rate")),
			 20000000);
	json_decref(d);
	sched_inst_destroy(s);
	sched_registry_destroy(r);
}

/* The header's helpers: the rate is the estimate capped by `rate:`, the
 * backlog drains at the pacing rate, the queue delay saturates. */
static void test_header_helpers(void **state)
{
	struct ttt_link_view l;
	(void)state;
	memset(&l, 0, sizeof(l));
	assert_int_equal(ttt_link_rate(&l), 0);
	l.rate_bps = 10000000;
	assert_int_equal(ttt_link_rate(&l), 10000000); /* configured only */
	l.pacing_bps = 4000000;
	assert_int_equal(ttt_link_rate(&l), 4000000); /* not measured yet */
	l.capacity_bps = 30000000;
	assert_int_equal(ttt_link_rate(&l), 10000000); /* capped */
	l.capacity_bps = 8000000;
	assert_int_equal(ttt_link_rate(&l), 8000000);
	l.rate_bps = 0;
	assert_int_equal(ttt_link_rate(&l), 8000000);
	/* 4 Mbit/s pacing: 500 kB/s, so 1 ms drains 500 bytes */
	l.backlog_bytes = 10000;
	l.backlog_ns = 1000000000;
	assert_int_equal(ttt_link_backlog(&l, 1001000000), 9500);
	/* queue: 9500 bytes at the 8 Mbit/s estimate = 9500 us */
	assert_int_equal(ttt_link_queue_us(&l, 1001000000), 9500);
	l.backlog_bytes = UINT64_MAX / 2;
	assert_int_equal(ttt_link_queue_us(&l, 1000000000), UINT64_MAX);
	l.capacity_bps = l.pacing_bps = 0;
	assert_int_equal(ttt_link_queue_us(&l, 1000000000), 0);
}

struct refusal {
	const char *name;
	int code;
	const char *msg;
};

static const struct refusal refusals[] = {
    {"bad_magic", -EINVAL, "bad_magic.so: bad magic 0xdeadbeef"},
    {"bad_abi", -EPROTO, "bad_abi.so: ABI version 7, this host speaks 1"},
    {"bad_size", -EINVAL, "bad_size.so: ops struct_size 16, expected"},
    {"no_entry", -EINVAL, "no_entry.so: no entry symbol ttt_sched_entry"},
    {"no_pick", -EINVAL, "no_pick.so: required op pick is missing"},
    {"empty_name", -EINVAL, "empty_name.so: plugin has an empty name"},
    {"wrong_name", -EINVAL,
     "wrong_name.so: plugin calls itself \"somebody-else\", expected "
     "\"wrong_name\""},
    {"big_priv", -EINVAL, "big_priv.so: priv_size 65537 is over the limit"},
    {"init_fail", -EINVAL,
     "init_fail.so: init failed: the flux capacitor is missing"},
    {"not_there", -ENOENT, "not_there.so: no such plugin file"},
    {"../evil", -EINVAL, "plugin name \"../evil\": expected"},
    {"Upper", -EINVAL, "plugin name \"Upper\": expected"},
};

/* Each broken plugin is refused with its own code and message, leaves
 * nothing mapped, and the instance already running is untouched. */
static void test_refusals(void **state)
{
	struct sched_registry *r = reg_open(test_dir());
	struct ttt_sched_ctx ctx = make_ctx(2);
	struct ttt_pkt_info pkt = {.len = 100};
	struct sched_inst *running = NULL;
	struct err e = {{0}};

	assert_int_equal(sched_inst_create(r, "good", TTT_DIR_UPSTREAM, NULL, 0,
					   &ctx, &running, &e),
			 0);
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *t = &refusals[i];
		struct sched_inst *s = (struct sched_inst *)0x1;
		memset(&e, 0, sizeof(e));
		int ret = sched_inst_create(r, t->name, TTT_DIR_UPSTREAM, NULL,
					    0, &ctx, &s, &e);
		if (ret != t->code || !strstr(e.msg, t->msg))
			fail_msg("%s: got %d \"%s\", expected %d \"%s\"",
				 t->name, ret, e.msg, t->code, t->msg);
		assert_ptr_equal(s, (struct sched_inst *)0x1);
		char suffix[64];
		snprintf(suffix, sizeof(suffix), "/%s.so", t->name);
		assert_int_equal(mapped(suffix), 0);
		/* the running one still works */
		links[0].state = i % 2 ? TTT_LINK_UP : TTT_LINK_DOWN;
		assert_int_equal(sched_pick(running, &ctx, &pkt),
				 i % 2 ? 0 : 1);
	}
	json_t *l = sched_registry_list(r);
	json_t *g = list_entry(l, "good");
	assert_non_null(g);
	assert_true(json_is_true(json_object_get(g, "loaded")));
	assert_int_equal(json_integer_value(json_object_get(g, "refs")), 1);
	json_decref(l);
	assert_int_equal(running->faults, 0);
	sched_inst_destroy(running);
	sched_registry_destroy(r);
}

static void test_options(void **state)
{
	struct sched_registry *r = reg_open(test_dir());
	struct ttt_sched_ctx ctx = make_ctx(2);
	struct ttt_pkt_info pkt = {.len = 100};
	struct sched_inst *s = NULL;
	struct err e = {{0}};
	struct cfg_opt o[CFG_MAX_OPTS + 1];

	set_opt(&o[0], "colour", "blue", TTT_OPT_STRING, 0);
	assert_int_equal(
	    sched_inst_create(r, "good", TTT_DIR_UPSTREAM, o, 1, &ctx, &s, &e),
	    -EINVAL);
	assert_non_null(strstr(e.msg, "good.so: init failed: unknown option "
				      "\"colour\""));
	assert_int_equal(mapped("/good.so"), 0);

	for (int i = 0; i <= CFG_MAX_OPTS; i++)
		set_opt(&o[i], "drop", "true", TTT_OPT_BOOL, 1);
	assert_int_equal(sched_inst_create(r, "good", TTT_DIR_UPSTREAM, o,
					   CFG_MAX_OPTS + 1, &ctx, &s, &e),
			 -EINVAL);
	assert_non_null(strstr(e.msg, "options, at most"));

	/* an unterminated key from a careless caller is refused, not read */
	memset(o[1].key, 'k', sizeof(o[1].key));
	assert_int_equal(
	    sched_inst_create(r, "good", TTT_DIR_UPSTREAM, o, 2, &ctx, &s, &e),
	    -EINVAL);
	assert_non_null(strstr(e.msg, "not terminated"));

	/* the plugin gets its options: drop everything, counted as drops */
	assert_int_equal(
	    sched_inst_create(r, "good", TTT_DIR_UPSTREAM, o, 1, &ctx, &s, &e),
	    0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(sched_pick(s, &ctx, &pkt), TTT_PICK_DROP);
	assert_int_equal(s->drops, 10);
	assert_int_equal(s->faults, 0);
	sched_inst_destroy(s);

	/* the built-in takes no options */
	assert_int_equal(sched_inst_create(r, SCHED_BUILTIN_NAME,
					   TTT_DIR_UPSTREAM, o, 1, &ctx, &s,
					   &e),
			 -EINVAL);
	assert_non_null(strstr(e.msg, "unknown option \"drop\""));
	sched_registry_destroy(r);
}

static void test_bad_args(void **state)
{
	struct sched_registry *r = reg_open(test_dir());
	struct ttt_sched_ctx ctx = make_ctx(2);
	struct sched_inst *s = NULL;
	struct err e = {{0}};

	assert_int_equal(sched_inst_create(r, "good", 2, NULL, 0, &ctx, &s, &e),
			 -EINVAL);
	assert_non_null(strstr(e.msg, "bad direction 2"));
	assert_int_equal(sched_inst_create(r, "", 0, NULL, 0, &ctx, &s, &e),
			 -EINVAL);
	ctx.n_links = TTT_SCHED_MAX_LINKS + 1;
	assert_int_equal(sched_inst_create(r, "good", 0, NULL, 0, &ctx, &s, &e),
			 -EINVAL);
	assert_non_null(strstr(e.msg, "at most 32"));
	/* no links yet is fine; the instance drops until links exist */
	assert_int_equal(sched_inst_create(r, "good", 0, NULL, 0, NULL, &s, &e),
			 0);
	ctx.n_links = 0;
	struct ttt_pkt_info pkt = {0};
	assert_int_equal(sched_pick(s, &ctx, &pkt), TTT_PICK_DROP);
	sched_inst_destroy(s);

	char longdir[PATH_MAX + 10];
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[sizeof(longdir) - 1] = '\0';
	struct sched_registry *r2 = NULL;
	assert_int_equal(sched_registry_create(&r2, longdir, &e),
			 -ENAMETOOLONG);
	assert_null(r2);
	sched_registry_destroy(r);
}

/* Out-of-range and unusable answers are caught, counted and replaced by the
 * built-in round robin over usable links only. */
static void test_liar_falls_back(void **state)
{
	struct sched_registry *r = reg_open(test_dir());
	struct ttt_sched_ctx ctx = make_ctx(4);
	struct sched_inst *s = NULL;
	struct err e = {{0}};

	links[1].state = TTT_LINK_DOWN;
	links[3].state = TTT_LINK_STANDBY;
	assert_int_equal(sched_inst_create(r, "liar", TTT_DIR_UPSTREAM, NULL, 0,
					   &ctx, &s, &e),
			 0);
	int count[4] = {0};
	for (uint64_t seq = 0; seq < 300; seq++) {
		struct ttt_pkt_info pkt = {.len = 1000, .seq = seq};
		int i = sched_pick(s, &ctx, &pkt);
		assert_true(i == 0 || i == 2);
		count[i]++;
	}
	assert_int_equal(count[0], 150);
	assert_int_equal(count[2], 150);
	assert_int_equal(s->picks, 300);
	assert_int_equal(s->faults, 300);
	assert_int_equal(s->fallbacks, 300);
	assert_int_equal(s->drops, 0);

	/* DEGRADED only when nothing is UP */
	links[2].state = TTT_LINK_DEGRADED;
	for (uint64_t seq = 0; seq < 10; seq++) {
		struct ttt_pkt_info pkt = {.seq = seq};
		assert_int_equal(sched_pick(s, &ctx, &pkt), 0);
	}
	links[0].state = TTT_LINK_DOWN;
	struct ttt_pkt_info pkt = {.seq = 0};
	assert_int_equal(sched_pick(s, &ctx, &pkt), 2);
	/* nothing usable: drop */
	links[2].state = TTT_LINK_DOWN;
	assert_int_equal(sched_pick(s, &ctx, &pkt), TTT_PICK_DROP);
	assert_int_equal(s->drops, 1);

	json_t *d = sched_inst_dump(s);
	assert_int_equal(json_integer_value(json_object_get(d, "faults")), 312);
	assert_true(json_is_null(json_object_get(d, "state")));
	json_decref(d);
	sched_inst_destroy(s);
	sched_registry_destroy(r);
}

/* Swap as the daemon does it: new first, then the old one goes. The plugin
 * stays loaded while any instance uses it and is dlclosed after the last. */
static void test_swap_refcount(void **state)
{
	struct sched_registry *r = reg_open(test_dir());
	struct ttt_sched_ctx ctx = make_ctx(2);
	struct ttt_pkt_info pkt = {.len = 1};
	struct sched_inst *up = NULL, *down = NULL, *next = NULL;
	struct err e = {{0}};

	assert_int_equal(sched_inst_create(r, "good", TTT_DIR_UPSTREAM, NULL, 0,
					   &ctx, &up, &e),
			 0);
	assert_int_equal(sched_inst_create(r, "good", TTT_DIR_DOWNSTREAM, NULL,
					   0, &ctx, &down, &e),
			 0);
	assert_ptr_equal(up->plugin, down->plugin); /* reused, not reloaded */
	assert_ptr_not_equal(up->priv, down->priv);
	json_t *l = sched_registry_list(r);
	assert_int_equal(
	    json_integer_value(json_object_get(list_entry(l, "good"), "refs")),
	    2);
	json_decref(l);

	assert_int_equal(sched_inst_create(r, SCHED_BUILTIN_NAME,
					   TTT_DIR_UPSTREAM, NULL, 0, &ctx,
					   &next, &e),
			 0);
	struct sched_inst *old = up;
	up = next;
	sched_inst_destroy(old);
	assert_int_equal(sched_pick(up, &ctx, &pkt), 0);
	assert_int_equal(sched_pick(up, &ctx, &pkt), 1);
	assert_int_equal(sched_pick(down, &ctx, &pkt), 0);
	assert_true(mapped("/good.so") > 0);

	l = sched_registry_list(r);
	assert_int_equal(
	    json_integer_value(json_object_get(list_entry(l, "good"), "refs")),
	    1);
	json_decref(l);
	sched_inst_destroy(down);
	assert_int_equal(mapped("/good.so"), 0);
	l = sched_registry_list(r);
	json_t *g = list_entry(l, "good");
	assert_true(json_is_false(json_object_get(g, "loaded")));
	assert_string_equal(json_string_value(json_object_get(g, "version")),
			    "2.5");
	json_decref(l);
	sched_inst_destroy(up);
	sched_registry_destroy(r);
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY);
	assert_true(in >= 0);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	assert_true(out >= 0);
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	assert_int_equal(close(out), 0);
}

/* Installs test plugin `src` as dir/name.so the way make or cp+mv does:
 * a new file (new inode) renamed over the old name. */
static void install(const char *dir, const char *src, const char *name)
{
	char from[PATH_MAX], tmp[PATH_MAX], to[PATH_MAX];
	snprintf(from, sizeof(from), "%s/%s.so", test_dir(), src);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(to, sizeof(to), "%s/%s.so", dir, name);
	copy_file(from, tmp);
	assert_int_equal(rename(tmp, to), 0);
}

static void rm_dir(const char *dir)
{
	char p[PATH_MAX];
	const char *files[] = {"swapme.so", "good.so"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	assert_int_equal(rmdir(dir), 0);
}

static void test_rebuilt_file(void **state)
{
	char dir[] = "/tmp/ttt-sched-XXXXXX";
	assert_non_null(mkdtemp(dir));
	install(dir, "swap_v1", "swapme");
	struct sched_registry *r = reg_open(dir);
	struct ttt_sched_ctx ctx = make_ctx(2);
	struct ttt_pkt_info pkt = {.len = 1};
	struct sched_inst *a = NULL, *a2 = NULL, *b = NULL;
	struct err e = {{0}};

	assert_int_equal(
	    sched_inst_create(r, "swapme", 0, NULL, 0, &ctx, &a, &e), 0);
	assert_string_equal(a->ops->version, "1");
	assert_int_equal(sched_pick(a, &ctx, &pkt), 0);
	assert_int_equal(
	    sched_inst_create(r, "swapme", 1, NULL, 0, &ctx, &a2, &e), 0);
	assert_ptr_equal(a->plugin, a2->plugin);

	install(dir, "swap_v2", "swapme"); /* "make" rebuilt it */
	assert_int_equal(
	    sched_inst_create(r, "swapme", 0, NULL, 0, &ctx, &b, &e), 0);
	assert_ptr_not_equal(a->plugin, b->plugin);
	assert_string_equal(b->ops->version, "2");
	assert_int_equal(sched_pick(b, &ctx, &pkt), 1);
	assert_int_equal(sched_pick(a, &ctx, &pkt), 0); /* old code runs on */
	assert_int_equal(mapped("/swapme.so (deleted)") > 0, 1);
	assert_int_equal(a->faults + b->faults, 0);

	json_t *l = sched_registry_list(r);
	json_t *s = list_entry(l, "swapme");
	assert_string_equal(json_string_value(json_object_get(s, "version")),
			    "2");
	assert_int_equal(json_integer_value(json_object_get(s, "refs")), 1);
	json_decref(l);

	sched_inst_destroy(a);
	sched_inst_destroy(a2);
	assert_int_equal(mapped("/swapme.so (deleted)"), 0);
	assert_int_equal(sched_pick(b, &ctx, &pkt), 1);

	/* Rewritten in place (same inode, new mtime): glibc would hand back
	 * the old code, so the host says so instead. */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/swapme.so", dir);
	struct timespec ts[2] = {{.tv_sec = 1000000}, {.tv_sec = 1000000}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	struct sched_inst *c = NULL;
	assert_int_equal(
	    sched_inst_create(r, "swapme", 0, NULL, 0, &ctx, &c, &e), -EBUSY);
	assert_non_null(strstr(e.msg, "swapme.so: rewritten in place"));

	/* Same name from another file while the first is loaded: -EEXIST. */
	struct sched_registry *rt = reg_open(test_dir());
	struct sched_inst *g = NULL, *g2 = NULL;
	assert_int_equal(
	    sched_inst_create(rt, "good", 0, NULL, 0, &ctx, &g, &e), 0);
	install(dir, "good", "good");
	char gpath[PATH_MAX];
	snprintf(gpath, sizeof(gpath), "%s/good.so", dir);
	assert_int_equal(
	    sched_inst_create(rt, gpath, 0, NULL, 0, &ctx, &g2, &e), -EEXIST);
	assert_non_null(strstr(e.msg, "plugin name \"good\" is already taken"));
	assert_int_equal(mapped(gpath), 0);
	sched_inst_destroy(g);
	/* by path it loads once the name is free */
	assert_int_equal(
	    sched_inst_create(rt, gpath, 0, NULL, 0, &ctx, &g2, &e), 0);
	assert_int_equal(mapped(gpath) > 0, 1);
	sched_inst_destroy(g2);
	sched_registry_destroy(rt);

	sched_inst_destroy(b);
	sched_registry_destroy(r);
	rm_dir(dir);
}

static void test_builtin(void **state)
{
	char dir[] = "/tmp/ttt-sched-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct sched_registry *r = reg_open(dir);
	struct ttt_sched_ctx ctx = make_ctx(3);
	struct ttt_pkt_info pkt = {.len = 1};
	struct sched_inst *s = NULL;
	struct err e = {{0}};

	/* "roundrobin" never fails: without the file it is the built-in */
	assert_int_equal(
	    sched_inst_create(r, "roundrobin", 0, NULL, 0, &ctx, &s, &e), 0);
	assert_string_equal(s->name, SCHED_BUILTIN_NAME);
	links[1].state = TTT_LINK_DEGRADED;
	for (int k = 0; k < 6; k++)
		assert_int_equal(sched_pick(s, &ctx, &pkt), k % 2 ? 2 : 0);
	links[0].state = links[2].state = TTT_LINK_DOWN;
	assert_int_equal(sched_pick(s, &ctx, &pkt), 1);
	json_t *d = sched_inst_dump(s);
	assert_true(json_is_true(json_object_get(d, "builtin")));
	assert_true(json_is_null(json_object_get(d, "file")));
	assert_true(json_is_object(json_object_get(d, "state")));
	json_decref(d);
	sched_inst_destroy(s);
	/* other missing names stay errors */
	assert_int_equal(
	    sched_inst_create(r, "weighted", 0, NULL, 0, &ctx, &s, &e),
	    -ENOENT);
	json_t *l = sched_registry_list(r);
	assert_int_equal(json_array_size(l), 1);
	assert_non_null(list_entry(l, SCHED_BUILTIN_NAME));
	json_decref(l);
	sched_registry_destroy(r);
	rm_dir(dir);
}

static void test_list_reports_errors(void **state)
{
	struct sched_registry *r = reg_open(test_dir());
	json_t *l = sched_registry_list(r);
	assert_non_null(l);
	json_t *g = list_entry(l, "good");
	assert_non_null(g);
	assert_string_equal(
	    json_string_value(json_object_get(g, "description")),
	    "test plugin");
	assert_int_equal(json_integer_value(json_object_get(g, "abi")), 1);
	assert_true(json_is_null(json_object_get(g, "error")));
	json_t *b = list_entry(l, "bad_abi");
	assert_non_null(b);
	assert_non_null(strstr(json_string_value(json_object_get(b, "error")),
			       "ABI version 7, this host speaks 1"));
	json_t *n = list_entry(l, "no_entry");
	assert_non_null(strstr(json_string_value(json_object_get(n, "error")),
			       "no entry symbol"));
	/* listing loads nothing for good */
	assert_int_equal(mapped("/good.so"), 0);
	json_decref(l);
	sched_registry_destroy(r);
}

static long marker_lines(const char *f)
{
	FILE *fp = fopen(f, "r");
	long n = 0;
	int ch;
	if (!fp)
		return 0;
	while ((ch = fgetc(fp)) != EOF)
		n += ch == '\n';
	fclose(fp);
	return n;
}

/* `plugins` keeps what it learnt about a file that is not loaded until
 * the file changes (#10.5: every request dlopen'ed every file), and still
 * sees a changed file or a changed verdict of the trust rule. */
static void test_list_cached(void **state)
{
	char dir[] = "/tmp/ttt-sched-XXXXXX", marker[64], path[PATH_MAX];
	assert_non_null(mkdtemp(dir));
	snprintf(marker, sizeof(marker), "%s-marker", dir);
	setenv("TTT_MARKER_FILE", marker, 1);
	install(dir, "marker", "marker");
	snprintf(path, sizeof(path), "%s/marker.so", dir);
	struct sched_registry *r = reg_open(dir);
	json_t *l = sched_registry_list(r);
	assert_non_null(list_entry(l, "marker"));
	json_decref(l);
	assert_int_equal(marker_lines(marker), 1); /* checked once */
	for (int i = 0; i < 5; i++) {
		l = sched_registry_list(r);
		json_t *m = list_entry(l, "marker");
		assert_non_null(m);
		assert_true(json_is_null(json_object_get(m, "error")));
		json_decref(l);
	}
	assert_int_equal(marker_lines(marker), 1); /* from the cache */
	/* Rewritten: checked again. */
	struct timespec ts[2] = {{.tv_sec = 2000000}, {.tv_sec = 2000000}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	l = sched_registry_list(r);
	json_decref(l);
	assert_int_equal(marker_lines(marker), 2);
	/* Made group-writable (ctime moves, mtime does not): refused now. */
	if (geteuid() == 0) {
		assert_int_equal(chmod(path, 0775), 0);
		l = sched_registry_list(r);
		json_t *m = list_entry(l, "marker");
		assert_non_null(
		    strstr(json_string_value(json_object_get(m, "error")),
			   "writable"));
		json_decref(l);
	}
	sched_registry_destroy(r);
	unlink(path);
	unlink(marker);
	unsetenv("TTT_MARKER_FILE");
	assert_int_equal(rmdir(dir), 0);
}

/* The registry may go first; its plugins live until their last instance. */
static void test_registry_destroyed_first(void **state)
{
	struct sched_registry *r = reg_open(test_dir());
	struct ttt_sched_ctx ctx = make_ctx(2);
	struct ttt_pkt_info pkt = {.len = 1};
	struct sched_inst *s = NULL;
	struct err e = {{0}};
	assert_int_equal(sched_inst_create(r, "good", 0, NULL, 0, &ctx, &s, &e),
			 0);
	sched_registry_destroy(r);
	assert_int_equal(sched_pick(s, &ctx, &pkt), 0);
	assert_true(mapped("/good.so") > 0);
	sched_inst_destroy(s);
	assert_int_equal(mapped("/good.so"), 0);
}

static void test_default_dir(void **state)
{
	char buf[PATH_MAX];
	/* no plugins.d next to the test binary: the installed one */
	assert_string_equal(sched_default_plugin_dir(buf, sizeof(buf)),
			    TTT_PLUGINDIR);
	struct sched_registry *r = NULL;
	struct err e;
	assert_int_equal(sched_registry_create(&r, "", &e), 0);
	assert_string_equal(sched_registry_dir(r), TTT_PLUGINDIR);
	sched_registry_destroy(r);
	assert_int_equal(sched_registry_create(&r, "/some/dir///", &e), 0);
	assert_string_equal(sched_registry_dir(r), "/some/dir");
	sched_registry_destroy(r);
}

int main(void)
{
	log_set_level(LOG_ERR);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_plugin),
	    cmocka_unit_test(test_old_abi_plugin),
	    cmocka_unit_test(test_header_helpers),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_options),
	    cmocka_unit_test(test_bad_args),
	    cmocka_unit_test(test_liar_falls_back),
	    cmocka_unit_test(test_swap_refcount),
	    cmocka_unit_test(test_rebuilt_file),
	    cmocka_unit_test(test_builtin),
	    cmocka_unit_test(test_list_reports_errors),
	    cmocka_unit_test(test_list_cached),
	    cmocka_unit_test(test_registry_destroyed_first),
	    cmocka_unit_test(test_default_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
