/*
 * tuntunctl: the command-line face of the control socket. Subcommands live
 * in one table (as in wireguard-tools) that also writes --help, so usage can
 * never drift from what is implemented. Exit codes are part of the
 * interface for scripts: 0 ok, 1 the daemon (or a local action) reported an
 * error, 2 usage error, 3 cannot reach the daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <stdarg.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/control.h"
#include "ctl/ctl_print.h"
#include "base/err.h"
#include "base/log.h"
#include "wire/wire.h"

#ifndef TTT_VERSION
#error "TTT_VERSION is not defined: build with make, or pass -DTTT_VERSION"
#endif

enum {
	EXIT_OK = 0,
	EXIT_DAEMON = 1,
	EXIT_USAGE = 2,
	EXIT_CONNECT = 3,
};

#define TIMEOUT_MS 5000
#define DS_WAIT_S  4.0 /* downstream swap verdict, see wait_downstream */

static const char *prog = "tuntunctl";

struct verb {
	const char *name;
	int (*fn)(const char *sock, int argc, char **argv);
	const char *args;
	const char *desc;
};

static int cmd_status(const char *sock, int argc, char **argv);
static int cmd_watch(const char *sock, int argc, char **argv);
static int cmd_plugins(const char *sock, int argc, char **argv);
static int cmd_scheduler(const char *sock, int argc, char **argv);
static int cmd_link(const char *sock, int argc, char **argv);
static int cmd_genkey(const char *sock, int argc, char **argv);
static int cmd_raw(const char *sock, int argc, char **argv);
static int cmd_help(const char *sock, int argc, char **argv);

/* The one table: dispatch and --help both read it. */
static const struct verb verbs[] = {
    {"status", cmd_status, "[--json | --wide]",
     "role, session, schedulers and a table of links (--wide: counts)"},
    {"watch", cmd_watch, "[-i SECONDS] [-n COUNT] [--wide | --json]",
     "re-print status every interval with live per-link Mbit/s "
     "(--json: one status line per interval)"},
    {"plugins", cmd_plugins, "[--json]",
     "scheduler plugins found, loaded or refused"},
    {"scheduler", cmd_scheduler,
     "set upstream|downstream PLUGIN [key=value...]",
     "swap a direction's scheduler without dropping packets"},
    {"link", cmd_link, "NAME up|down",
     "administratively enable or disable a link (on a server NAME is "
     "CLIENT/LINK)"},
    {"genkey", cmd_genkey, "FILE",
     "write a new pre-shared key (no daemon needed)"},
    {"raw", cmd_raw, "'{\"cmd\":...}'",
     "send one JSON request, print the reply as is"},
    {"help", cmd_help, "", "this text"},
    {NULL, NULL, NULL, NULL},
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [-s SOCKET] COMMAND [ARGS...]\n"
		"       %s -h|--help | -V|--version\n\n"
		"Talks to a running tuntuntun daemon over its control socket\n"
		"(default %s; $TUNTUNTUN_SOCKET overrides it, -s overrides "
		"both).\n\nCommands:\n",
		prog, prog, CTL_DEFAULT_SOCKET);
	for (const struct verb *v = verbs; v->name; v++) {
		char head[80];
		snprintf(head, sizeof(head), "%s %s", v->name, v->args);
		if (strlen(head) > 30)
			fprintf(f, "  %s\n  %-30s %s\n", head, "", v->desc);
		else
			fprintf(f, "  %-30s %s\n", head, v->desc);
	}
	fprintf(f, "\nExit status: 0 ok, 1 error reported, 2 usage error, "
		   "3 cannot connect. See tuntunctl(8).\n");
}

/* Where tuntuntun@.service daemons put their sockets (its
 * RuntimeDirectory); there is no default socket then. */
#define UNIT_RUNDIR "/run/tuntuntun"

/* After a failed connect to the default socket: name the sockets of the
 * daemons the systemd unit runs, so `-s` is one copy away. */
static void hint_unit_sockets(const char *sock, int err)
{
	glob_t g;
	if (err != -ENOENT || strcmp(sock, CTL_DEFAULT_SOCKET) != 0 ||
	    glob(UNIT_RUNDIR "/*.sock", 0, NULL, &g) != 0)
		return;
	fprintf(stderr,
		"%s: daemons run by tuntuntun@.service listen in %s/:", prog,
		UNIT_RUNDIR);
	for (size_t i = 0; i < g.gl_pathc && i < 8; i++)
		fprintf(stderr, "%s -s %s", i ? " or" : " try", g.gl_pathv[i]);
	fputc('\n', stderr);
	globfree(&g);
}

static int verb_usage(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints one problem and the command's usage line; returns EXIT_USAGE. */
static int verb_usage(const char *name, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	for (const struct verb *v = verbs; v->name; v++)
		if (strcmp(v->name, name) == 0)
			fprintf(stderr, "Usage: %s [-s SOCKET] %s %s\n", prog,
				v->name, v->args);
	return EXIT_USAGE;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

/*
 * One request, one reply. Returns an exit code; on EXIT_OK or EXIT_DAEMON
 * *reply (parsed) and *raw (the exact line) are set and owned by the caller.
 * A daemon error is printed on stderr here, once for every caller.
 */
static int call(const char *sock, const char *line, json_t **reply, char **raw)
{
	struct ctl_client c;
	struct err e = {{0}};
	char *text = NULL;
	*reply = NULL;
	if (raw)
		*raw = NULL;
	int oret;
	if ((oret = ctl_client_open(&c, sock, &e)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, e.msg);
		hint_unit_sockets(sock, oret);
		return EXIT_CONNECT;
	}
	int rc = ctl_client_call_raw(&c, line, &text, TIMEOUT_MS, &e);
	ctl_client_close(&c);
	if (rc < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, sock, e.msg);
		return EXIT_CONNECT;
	}
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	if (!json_is_object(j)) {
		fprintf(stderr, "%s: %s: malformed reply: %.200s\n", prog, sock,
			text);
		json_decref(j);
		free(text);
		return EXIT_DAEMON;
	}
	*reply = j;
	if (raw)
		*raw = text;
	else
		free(text);
	if (!json_is_true(json_object_get(j, "ok"))) {
		const char *msg =
		    json_string_value(json_object_get(j, "error"));
		fprintf(stderr, "%s: %s\n", prog,
			msg ? msg : "the daemon reported an error");
		return EXIT_DAEMON;
	}
	return EXIT_OK;
}

/* Sends a request object (consumed) and returns the exit code. */
static int call_json(const char *sock, json_t *req, json_t **reply)
{
	char *line = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!line) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return EXIT_DAEMON;
	}
	int rc = call(sock, line, reply, NULL);
	free(line);
	return rc;
}

/* `status [--json|--wide]` and `plugins [--json]`: one verb, one printer
 * (print_wide, when there is one, takes --wide). */
static int show(const char *sock, int argc, char **argv, const char *cmd,
		void (*print)(FILE *, const json_t *),
		void (*print_wide)(FILE *, const json_t *))
{
	bool as_json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			as_json = true;
		else if (print_wide && strcmp(argv[i], "--wide") == 0)
			print = print_wide;
		else
			return verb_usage(argv[0], "unexpected argument \"%s\"",
					  argv[i]);
	}
	char line[64];
	snprintf(line, sizeof(line), "{\"cmd\":\"%s\"}", cmd);
	json_t *reply = NULL;
	char *raw = NULL;
	int rc = call(sock, line, &reply, &raw);
	if (rc == EXIT_OK || (rc == EXIT_DAEMON && as_json && raw)) {
		if (as_json)
			printf("%s\n", raw);
		else
			print(stdout, reply);
	}
	json_decref(reply);
	free(raw);
	return rc;
}

static void print_status_wide(FILE *f, const json_t *st)
{
	ctl_print_status_opts(f, st, CTL_PRINT_WIDE);
}

static int cmd_status(const char *sock, int argc, char **argv)
{
	return show(sock, argc, argv, "status", ctl_print_status,
		    print_status_wide);
}

static int cmd_plugins(const char *sock, int argc, char **argv)
{
	return show(sock, argc, argv, "plugins", ctl_print_plugins, NULL);
}

static double mono_s(void);

/*
 * A client carries a downstream swap to the server, which decides: the
 * control reply only says "pending" with a request number. Polls the
 * client's status until that request's verdict is there, so the user (and a
 * script's exit status) learns whether the server accepted it. Refused or
 * unanswered: exit 1 with the server's reason; what ran keeps running.
 */
static int wait_downstream(const char *sock, const char *plugin, uint64_t req)
{
	struct ctl_client c;
	struct err e = {{0}};
	json_t *ask = json_pack("{s:s}", "cmd", "status");
	int rc = EXIT_DAEMON;
	if (!ask)
		return EXIT_DAEMON;
	int oret;
	if ((oret = ctl_client_open(&c, sock, &e)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, e.msg);
		hint_unit_sockets(sock, oret);
		json_decref(ask);
		return EXIT_CONNECT;
	}
	/* The daemon gives up after 15 retries 0.2 s apart: wait past it. */
	double deadline = mono_s() + DS_WAIT_S;
	for (;;) {
		json_t *st = NULL;
		if (ctl_client_call(&c, ask, &st, TIMEOUT_MS, &e) < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, sock, e.msg);
			rc = EXIT_CONNECT;
			break;
		}
		json_t *ds = json_object_get(
		    json_object_get(json_object_get(st, "scheduler"),
				    "downstream"),
		    "last_swap");
		json_t *jreq = json_object_get(ds, "req");
		const char *state =
		    json_string_value(json_object_get(ds, "state"));
		const char *error =
		    json_string_value(json_object_get(ds, "error"));
		const char *running = json_string_value(json_object_get(
		    json_object_get(json_object_get(st, "scheduler"),
				    "downstream"),
		    "plugin"));
		bool mine = json_is_integer(jreq) &&
			    (uint64_t)json_integer_value(jreq) == req;
		if (mine && state && strcmp(state, "ok") == 0) {
			printf("downstream scheduler: %s (accepted by the "
			       "server)\n",
			       plugin);
			rc = EXIT_OK;
		} else if (mine && state && strcmp(state, "pending") != 0) {
			fprintf(stderr,
				"%s: the server %s downstream %s: %s; "
				"downstream keeps running %s\n",
				prog,
				strcmp(state, "refused") == 0 ? "refused"
							      : "did not take",
				plugin, error && error[0] ? error : state,
				running ? running : "the previous plugin");
		} else if (!mine && json_is_integer(jreq) &&
			   (uint64_t)json_integer_value(jreq) > req) {
			fprintf(stderr,
				"%s: a later swap (request %lld) replaced "
				"this one before the server answered\n",
				prog, (long long)json_integer_value(jreq));
		} else if (mono_s() < deadline) {
			json_decref(st);
			struct timespec ts = {0, 50 * 1000 * 1000};
			nanosleep(&ts, NULL);
			continue;
		} else {
			fprintf(stderr,
				"%s: no verdict from the server on downstream "
				"%s after %.0f s; see `%s status`\n",
				prog, plugin, DS_WAIT_S, prog);
		}
		json_decref(st);
		break;
	}
	ctl_client_close(&c);
	json_decref(ask);
	return rc;
}

static int cmd_scheduler(const char *sock, int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[1], "set") != 0)
		return verb_usage(argv[0], "expected \"set\", a direction and "
					   "a plugin name");
	const char *dir = argv[2], *plugin = argv[3];
	if (strcmp(dir, "upstream") != 0 && strcmp(dir, "downstream") != 0)
		return verb_usage(argv[0],
				  "direction \"%s\": expected upstream or "
				  "downstream",
				  dir);
	if (!plugin[0])
		return verb_usage(argv[0], "the plugin name is empty");
	json_t *opts = json_object();
	if (!opts)
		return EXIT_DAEMON;
	for (int i = 4; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i]) {
			json_decref(opts);
			return verb_usage(argv[0],
					  "option \"%s\": expected key=value",
					  argv[i]);
		}
		*eq = 0;
		if (json_object_get(opts, argv[i])) {
			json_decref(opts);
			return verb_usage(argv[0], "option \"%s\" given twice",
					  argv[i]);
		}
		json_object_set_new(opts, argv[i], json_string(eq + 1));
	}
	json_t *reply = NULL;
	int rc =
	    call_json(sock,
		      json_pack("{s:s, s:s, s:s, s:o}", "cmd", "scheduler-set",
				"dir", dir, "plugin", plugin, "options", opts),
		      &reply);
	if (rc == EXIT_OK && json_is_integer(json_object_get(reply, "req")))
		rc = wait_downstream(sock, plugin,
				     (uint64_t)json_integer_value(
					 json_object_get(reply, "req")));
	else if (rc == EXIT_OK) {
		const char *now =
		    json_string_value(json_object_get(reply, "plugin"));
		printf("%s scheduler: %s\n", dir, now ? now : plugin);
	}
	json_decref(reply);
	return rc;
}

static int cmd_link(const char *sock, int argc, char **argv)
{
	if (argc != 3)
		return verb_usage(argv[0], "expected a link name and up or "
					   "down");
	const char *name = argv[1], *admin = argv[2];
	if (strcmp(admin, "up") != 0 && strcmp(admin, "down") != 0)
		return verb_usage(argv[0], "\"%s\": expected up or down",
				  admin);
	json_t *reply = NULL;
	int rc = call_json(sock,
			   json_pack("{s:s, s:s, s:s}", "cmd", "link-set",
				     "link", name, "admin", admin),
			   &reply);
	if (rc == EXIT_OK)
		printf("link %s: administratively %s\n", name, admin);
	json_decref(reply);
	return rc;
}

static int cmd_genkey(const char *sock, int argc, char **argv)
{
	if (argc != 2)
		return verb_usage(argv[0], "expected the key file to create");
	struct err e = {{0}};
	if (wire_key_generate(argv[1], &e) < 0) {
		fprintf(stderr, "%s: %s\n", prog, e.msg);
		return EXIT_DAEMON;
	}
	printf("new pre-shared key written to %s; copy it to the other end "
	       "over a secure channel\n",
	       argv[1]);
	return EXIT_OK;
}

static int cmd_raw(const char *sock, int argc, char **argv)
{
	if (argc != 2)
		return verb_usage(argv[0], "expected one JSON request");
	char *line = NULL;
	/* Pretty-printed requests are folded onto one line; a one-line
	 * request goes out byte for byte so scripts can test bad input. */
	if (strchr(argv[1], '\n')) {
		json_error_t jerr;
		json_t *j = json_loads(argv[1], JSON_DECODE_ANY, &jerr);
		if (!j)
			return verb_usage(argv[0],
					  "request is not valid JSON (line %d "
					  "column %d: %s)",
					  jerr.line, jerr.column, jerr.text);
		line = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(j);
		if (!line)
			return EXIT_DAEMON;
	} else {
		line = strdup(argv[1]);
		if (!line)
			return EXIT_DAEMON;
	}
	json_t *reply = NULL;
	char *raw = NULL;
	int rc = call(sock, line, &reply, &raw);
	if (raw)
		printf("%s\n", raw);
	free(raw);
	free(line);
	json_decref(reply);
	return rc;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleeps until an absolute monotonic time, so the period does not drift
 * by the time each round takes. */
static void sleep_until(double t)
{
	struct timespec ts = {.tv_sec = (time_t)t,
			      .tv_nsec = (long)((t - floor(t)) * 1e9)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static int cmd_watch(const char *sock, int argc, char **argv)
{
	double interval = 1.0;
	long count = 0; /* 0 = until interrupted */
	unsigned flags = 0;
	bool as_json = false;
	int opt;
	static const struct option watch_opts[] = {
	    {"wide", no_argument, NULL, 'w'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+i:n:", watch_opts, NULL)) !=
	       -1) {
		char *end = NULL;
		switch (opt) {
		case 'i':
			interval = strtod(optarg, &end);
			if (!end || *end || !isfinite(interval) ||
			    interval < 0.05 || interval > 3600)
				return verb_usage(argv[0],
						  "interval \"%s\": expected "
						  "seconds between 0.05 and "
						  "3600",
						  optarg);
			break;
		case 'n':
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (errno || !end || *end || count < 1)
				return verb_usage(argv[0],
						  "count \"%s\": expected a "
						  "positive number",
						  optarg);
			break;
		case 'w':
			flags |= CTL_PRINT_WIDE;
			break;
		case 'j':
			as_json = true;
			break;
		default:
			return verb_usage(argv[0], "unknown option");
		}
	}
	if (optind != argc)
		return verb_usage(argv[0], "unexpected argument \"%s\"",
				  argv[optind]);

	struct ctl_client c;
	struct err e = {{0}};
	int oret;
	if ((oret = ctl_client_open(&c, sock, &e)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, e.msg);
		hint_unit_sockets(sock, oret);
		return EXIT_CONNECT;
	}
	bool tty = isatty(STDOUT_FILENO);
	json_t *req = json_pack("{s:s}", "cmd", "status");
	json_t *prev = NULL;
	double prev_t = 0, next = mono_s();
	int rc = EXIT_OK;
	for (long round = 0; count == 0 || round < count; round++) {
		if (round > 0)
			sleep_until(next);
		next += interval;
		json_t *cur = NULL;
		if (ctl_client_call(&c, req, &cur, TIMEOUT_MS, &e) < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, sock, e.msg);
			rc = EXIT_CONNECT;
			break;
		}
		double t = mono_s();
		if (!json_is_true(json_object_get(cur, "ok"))) {
			const char *msg =
			    json_string_value(json_object_get(cur, "error"));
			fprintf(stderr, "%s: %s\n", prog, msg ? msg : "error");
			json_decref(cur);
			rc = EXIT_DAEMON;
			break;
		}
		if (prev)
			ctl_print_derive_rates(cur, prev, t - prev_t);
		if (as_json) {
			/* For scripts (the demo): the status with the rates
			 * derived, one line per round. */
			char *line = json_dumps(cur, JSON_COMPACT);
			if (line)
				printf("%s\n", line);
			free(line);
			bool gone = fflush(stdout) == EOF;
			json_decref(prev);
			prev = cur;
			prev_t = t;
			if (gone)
				break;
			continue;
		}
		time_t now = time(NULL);
		struct tm tm;
		char stamp[32] = "";
		if (localtime_r(&now, &tm))
			strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		if (tty)
			fputs("\033[H\033[2J", stdout);
		else if (round > 0)
			fputc('\n', stdout);
		printf("%s  every %.2gs  %s\n\n", sock, interval, stamp);
		ctl_print_status_opts(stdout, cur, flags);
		if (fflush(stdout) == EOF) {
			json_decref(cur);
			break; /* e.g. `| head`: the reader is gone */
		}
		json_decref(prev);
		prev = cur;
		prev_t = t;
	}
	json_decref(prev);
	json_decref(req);
	ctl_client_close(&c);
	return rc;
}

static int cmd_help(const char *sock, int argc, char **argv)
{
	usage(stdout);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *sock = getenv("TUNTUNTUN_SOCKET");
	if (!sock || !sock[0])
		sock = CTL_DEFAULT_SOCKET;
	/* Library code logs to stderr; keep the CLI's output to its own. */
	log_init("tuntunctl", LOG_ERR, 0);

	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "+s:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("%s %s\n", prog, TTT_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	for (const struct verb *v = verbs; v->name; v++) {
		if (strcmp(v->name, argv[0]) != 0)
			continue;
		if (wants_help(argc, argv) && v->fn != cmd_raw) {
			printf("Usage: %s [-s SOCKET] %s %s\n  %s\n", prog,
			       v->name, v->args, v->desc);
			return EXIT_OK;
		}
		return v->fn(sock, argc, argv);
	}
	fprintf(stderr, "%s: unknown command \"%s\"; try \"%s help\"\n", prog,
		argv[0], prog);
	return EXIT_USAGE;
}
