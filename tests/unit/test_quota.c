/*
 * Quota accounting (core/quota.c): only metered links count, the first
 * period of a fresh start keeps what was already counted, a new period
 * resets, and usage survives a save/load round trip through the state file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	char path[] = "/tmp/ttt-quota-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
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

	/* A corrupt state file is an error naming the file, not a reset. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{ not json", f);
	fclose(f);
	d = mk(path);
	assert_true(quota_load(d, &e) < 0);
	assert_non_null(strstr(e.msg, path));
	rm(d);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_only_metered_links_count),
	    cmocka_unit_test(test_first_roll_keeps_usage),
	    cmocka_unit_test(test_save_load_round_trip),
	};
	log_set_level(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
