/*
 * libFuzzer harness for the config loader: the shipped parser compiled in
 * directly (as wireguard-tools' fuzz/config.c does), fed arbitrary bytes.
 * Besides crashes and leaks it checks the loader's own contract: every
 * failure leaves a message, and every success is internally consistent.
 */
#include "conf/config.h"
#include "base/log.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	struct err e;

	/* Warnings such as "crypto: none" would flood the fuzzer's output. */
	log_set_level(LOG_ERR);
	memset(&e, 0, sizeof(e));
	int ret =
	    config_load_string(&cfg, "fuzz.yaml", (const char *)data, size, &e);
	if (ret != 0) {
		/* A failure must explain itself and use a negative errno. */
		if (ret > 0 || e.msg[0] == '\0')
			abort();
		return 0;
	}
	if (cfg.role == ROLE_CLIENT &&
	    (cfg.n_links == 0 || cfg.n_links > CFG_MAX_LINKS))
		abort();
	if (cfg.role == ROLE_SERVER &&
	    (cfg.n_clients == 0 || cfg.n_clients > CFG_MAX_CLIENTS))
		abort();
	if (cfg.probe.timeout_ms < 2 * cfg.probe.interval_ms)
		abort();
	if (cfg.reorder.capacity & (cfg.reorder.capacity - 1))
		abort();
	for (int d = 0; d < 2; d++)
		if (cfg.sched[d].n_opts > CFG_MAX_OPTS)
			abort();
	return 0;
}
