/*
 * libFuzzer harness for the control socket's request handling: the real
 * ctl_dispatch() (exactly what the server runs per line) on every line of
 * the input, checking the reply contract the clients rely on, and the
 * tuntunctl printers on the same bytes taken as a daemon reply, since a
 * client must survive whatever a daemon (or an impostor) sends.
 *
 * Build and run (60 s):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -Iinclude -Icore tests/fuzz/fuzz_control.c core/ctl/control.c \
 *     core/ctl/ctl_print.c core/base/log.c -ljansson -lev -o build/fuzz_control
 *   build/fuzz_control -max_total_time=60 -max_len=4096
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/control.h"
#include "ctl/ctl_print.h"
#include "base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *h_echo(void *arg, json_t *req, struct err *e)
{
	return json_pack("{s:O}", "req", req);
}

static json_t *h_opts(void *arg, json_t *req, struct err *e)
{
	/* what a real handler does: check members before using them */
	json_t *dir = json_object_get(req, "dir");
	json_t *opts = json_object_get(req, "options");
	if (!json_is_string(dir)) {
		err_set(e, -EINVAL, "\"dir\" must be a string");
		return NULL;
	}
	if (opts && !json_is_object(opts)) {
		err_set(e, -EINVAL, "\"options\" must be an object");
		return NULL;
	}
	return json_pack("{s:s, s:i}", "dir", json_string_value(dir),
			 "n_options", (int)json_object_size(opts));
}

static json_t *h_fail(void *arg, json_t *req, struct err *e)
{
	return NULL;
}

static json_t *h_array(void *arg, json_t *req, struct err *e)
{
	return json_array();
}

static const struct ctl_command cmds[] = {
    {"status", h_echo, "echo"}, {"scheduler-set", h_opts, "options"},
    {"fail", h_fail, "fails"},	{"array", h_array, "bad handler"},
    {NULL, NULL, NULL},
};

/* The contract: an object with a boolean "ok", and a string "error"
 * whenever ok is false; encodable on one line. */
static void check_reply(json_t *r)
{
	if (!json_is_object(r))
		abort();
	json_t *ok = json_object_get(r, "ok");
	if (!json_is_boolean(ok))
		abort();
	if (json_is_false(ok) && !json_is_string(json_object_get(r, "error")))
		abort();
	char *s = json_dumps(r, JSON_COMPACT);
	if (!s || strchr(s, '\n'))
		abort();
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (!sink) {
		log_init("fuzz", LOG_EMERG, 0);
		sink = fopen("/dev/null", "w");
		if (!sink)
			abort();
	}
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		json_t *r = ctl_dispatch(cmds, NULL, p, len);
		check_reply(r);
		json_decref(r);
		p += len + 1;
	}

	json_error_t jerr;
	json_t *j =
	    json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
	if (j) {
		ctl_print_status(sink, j);
		ctl_print_plugins(sink, j);
		json_t *copy = json_deep_copy(j);
		ctl_print_derive_rates(copy, j, 1.0);
		ctl_print_status(sink, copy);
		json_decref(copy);
		json_decref(j);
	}
	return 0;
}
