/*
 * For tests of the shipped scheduler plugins: one registry over
 * $TTT_PLUGIN_DIR (make unit points it at plugins.d/), opened once per test
 * program, so each plugin is loaded through the host exactly as the daemon
 * loads it. Include after <cmocka.h> and sched/sched_host.h; pass
 * shipped_setup/shipped_teardown to cmocka_run_group_tests.
 */
#ifndef TTT_TEST_SHIPPED_PLUGINS_H
#define TTT_TEST_SHIPPED_PLUGINS_H

#include <stdlib.h>

#include "base/log.h"
#include "sched/sched_host.h"

static struct sched_registry *reg;

static inline int shipped_setup(void **state)
{
	const char *dir = getenv("TTT_PLUGIN_DIR");
	struct err e;
	log_set_level(LOG_ERR);
	return sched_registry_create(&reg, dir && *dir ? dir : "plugins.d", &e);
}

static inline int shipped_teardown(void **state)
{
	sched_registry_destroy(reg);
	return 0;
}

#endif
