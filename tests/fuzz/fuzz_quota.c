/*
 * libFuzzer harness for the quota state file loader (core/quota.c): the
 * input is written as the state file of a client with two metered links,
 * then loaded with the shipping quota_load(). Whatever the file holds the
 * load must not fail (a bad file counts the period as used up, issue
 * #10.4), and the usage it gives must survive a save and a second load
 * unchanged; nothing may crash or leak. No .bak survives from one input
 * to the next, so each run depends on its input alone.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "base/log.h"
#include "sched/sched_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/ttt-fuzz-quota.XXXXXX";
static char path[64];
static struct ev_loop *loop;

static void fuzz_check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_quota: property broken: %s\n", what);
		abort();
	}
}

static void unlink_side_files(void)
{
	char tmp[80];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	snprintf(tmp, sizeof(tmp), "%s.bak", path);
	unlink(tmp);
}

static void cleanup(void)
{
	unlink(path);
	unlink_side_files();
	rmdir(dir);
}

static void write_file(const uint8_t *data, size_t size)
{
	unlink_side_files();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	while (size) {
		ssize_t w = write(fd, data, size);
		if (w <= 0)
			abort();
		data += w;
		size -= (size_t)w;
	}
	close(fd);
}

static int client_up(struct daemon *d)
{
	struct err e;
	memset(d, 0, sizeof(*d));
	config_defaults(&d->cfg);
	d->cfg.role = ROLE_CLIENT;
	d->client = true;
	d->loop = loop;
	d->tun_fd = -1;
	d->buf_size = 2048;
	d->cfg.reorder.enabled = false;
	d->cfg.reorder.capacity = 16;
	d->cfg.n_links = 2;
	snprintf(d->cfg.state_file, sizeof(d->cfg.state_file), "%s", path);
	for (uint32_t i = 0; i < 2; i++) {
		struct cfg_link *l = &d->cfg.links[i];
		snprintf(l->name, sizeof(l->name), i ? "lte" : "dsl");
		l->metered = true;
		l->quota_bytes = 1ull << 30;
		l->quota_reset_day = 1 + i * 14;
	}
	d->max_sessions = 1;
	d->sessions = calloc(1, sizeof(*d->sessions));
	if (!d->sessions || session_create(d, &d->sess, &e) < 0)
		return -1;
	d->sessions[0] = d->sess;
	for (uint32_t i = 0; i < 2; i++) {
		session_path_init(d->sess, i, d->cfg.links[i].name);
		d->sess->paths[i].metered = true;
		d->sess->paths[i].quota_bytes = d->cfg.links[i].quota_bytes;
	}
	return 0;
}

static void client_down(struct daemon *d)
{
	quota_close(d); /* the state directory's fd */
	session_destroy(d->sess);
	free(d->sessions);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct daemon d, d2;
	struct err e;

	if (!loop) {
		log_set_level(LOG_EMERG);
		if (!mkdtemp(dir))
			abort();
		snprintf(path, sizeof(path), "%s/state.json", dir);
		atexit(cleanup);
		loop = ev_default_loop(0);
	}
	write_file(data, size);
	if (client_up(&d) < 0)
		abort();
	int ret = quota_load(&d, &e);
	fuzz_check(ret == 0, "a bad state file stopped the start");
	if (ret == 0) {
		/* a save and a reload give the same figures */
		d.quota_dirty = true;
		if (quota_save(&d, &e) == 0) {
			if (client_up(&d2) < 0)
				abort();
			fuzz_check(quota_load(&d2, &e) == 0,
				   "a file we saved does not load");
			for (uint32_t i = 0; i < 2; i++)
				fuzz_check(
				    d2.sess->paths[i].quota_used_bytes ==
					d.sess->paths[i].quota_used_bytes,
				    "usage changed across save/load");
			client_down(&d2);
		}
	}
	client_down(&d);
	return 0;
}
