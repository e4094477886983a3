/*
 * tuntuntun: the bonding daemon (client or server, from the YAML's `role`).
 *
 *   tuntuntun -c FILE        run
 *   tuntuntun -n -c FILE     check the configuration (and what it names:
 *                            keys, plugins, users, directories) and exit
 *   tuntuntun -V | -h        version, help
 *
 * Exit status: 0 after a clean shutdown, 1 when something failed at run
 * time, 2 for a bad command line or configuration (nothing was started).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config_check.h"
#include "daemon.h"
#include "base/log.h"
#include "os/sdnotify.h"

#ifndef TTT_VERSION
#error "TTT_VERSION is not defined: build with make, or pass -DTTT_VERSION"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tuntuntun [-v] [-s] -c CONFIG\n"
		"       tuntuntun -n -c CONFIG\n"
		"  -c CONFIG      YAML configuration file (tuntuntun.yaml(5))\n"
		"  -n             check the configuration and everything it "
		"names (keys,\n"
		"                 plugins, users, directories), then exit: "
		"0 ok, 2 not\n"
		"  -v             verbose (debug) logging\n"
		"  -s             log to syslog instead of stderr\n"
		"  -h, --help     this help\n"
		"  -V, --version  print the version\n"
		"Signals: HUP re-reads the configuration, INT/TERM stop. "
		"See tuntuntun(8).\n");
}

/* -n: everything that would fail at start, each problem on its own line;
 * 0 if it would start, 2 if not (as for a YAML error). */
static int check_config(const struct config *cfg, const char *path)
{
	static struct cfgchk c;
	/* Plugin loading logs at info; only the findings matter here. */
	log_init("tuntuntun", LOG_ERR, 0);
	if (confcheck_run(cfg, &c) < 0) {
		fprintf(stderr, "tuntuntun: %s: out of memory\n", path);
		return 1;
	}
	for (unsigned i = 0; i < c.n_msgs; i++)
		fprintf(stderr, "tuntuntun: %s%s\n",
			c.msgs[i].error ? "" : "warning: ", c.msgs[i].text);
	if (c.n_errors + c.n_warnings > c.n_msgs)
		fprintf(stderr, "tuntuntun: (%u more not shown)\n",
			c.n_errors + c.n_warnings - c.n_msgs);
	cfgchk_close(&c);
	if (c.n_errors) {
		fprintf(stderr,
			"tuntuntun: %s: %u problem%s; the daemon would not "
			"start\n",
			path, c.n_errors, c.n_errors == 1 ? "" : "s");
		return 2;
	}
	if (c.n_warnings)
		printf("%s: configuration OK (%u warning%s)\n", path,
		       c.n_warnings, c.n_warnings == 1 ? "" : "s");
	else
		printf("%s: configuration OK\n", path);
	return 0;
}

int main(int argc, char **argv)
{
	static struct daemon d;
	const char *path = NULL;
	int check = 0, verbose = 0, use_syslog = 0, c;
	struct err e = {""};

	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	while ((c = getopt_long(argc, argv, "c:nvshV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 's':
			use_syslog = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("tuntuntun %s\n", TTT_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (config_load(&d.cfg, path, &e) < 0) {
		fprintf(stderr, "tuntuntun: %s\n", e.msg);
		return 2;
	}
	if (check)
		return check_config(&d.cfg, path);
	log_init("tuntuntun", verbose ? LOG_DEBUG : d.cfg.log_level,
		 use_syslog);
	signal(SIGPIPE, SIG_IGN);
	if (daemon_setup(&d, &e) < 0) {
		log_err("daemon", "%s", e.msg);
		daemon_teardown(&d);
		return 1;
	}
	log_notice("daemon", "%s started (%s)", d.client ? "client" : "server",
		   path);
	/* Set up means: server listening; client's tun up, links opened. */
	char line[256];
	daemon_status_line(&d, line, sizeof(line));
	sdnotify_ready(line);
	ev_run(d.loop, 0);
	sdnotify_stopping();
	daemon_teardown(&d);
	log_notice("daemon", "stopped");
	return d.exit_code;
}
