/*
 * ttt-linkemu command line. One option table drives getopt, the usage text
 * and the check that every option given belongs to the chosen mode, so a
 * typo in a test ("--delay" given to --sink) fails loudly with exit 2
 * instead of silently running an unimpaired link.
 */
#include "emu.h"
#include "base/log.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

enum mode {
	M_RELAY = 1,
	M_CTL = 2,
	M_ECHO = 4,
	M_SINK = 8,
	M_GEN = 16,
	M_ALL = 31,
};

enum opt_id {
	O_LISTEN,
	O_FORWARD,
	O_BIND,
	O_CONTROL,
	O_SEED,
	O_STATS_INTERVAL,
	O_SLOTS,
	O_MAX_PACKET,
	O_MAX_CLIENTS,
	O_DELAY,
	O_JITTER,
	O_JITTER_DIST,
	O_LOSS,
	O_LOSS_BURST,
	O_RATE,
	O_RATE_DOWN,
	O_RATE_SCHEDULE,
	O_RATE_WALK,
	O_QUEUE,
	O_OVERHEAD,
	O_DOWN,
	O_REORDER,
	O_CTL,
	O_ECHO,
	O_SINK,
	O_UDPGEN,
	O_IDLE,
	O_TIMEOUT,
	O_BIN,
	O_COUNT,
	O_SIZE,
	O_INTERVAL,
	O_WAIT,
	O_LOG_LEVEL,
	O_HELP,
	O_COUNT_OPTS,
};

struct emu_option {
	const char *name;
	const char *metavar; /* NULL: a flag */
	unsigned modes;	     /* modes it is valid in */
	bool setting;	     /* an impairment setting (emu_ctl.c table) */
	const char *help;
};

static const struct emu_option emu_options[O_COUNT_OPTS] = {
    [O_LISTEN] = {"listen", "ADDR:PORT", M_RELAY, false,
		  "relay: where clients send (127.0.0.1:5000, [::1]:5000)"},
    [O_FORWARD] = {"forward", "ADDR:PORT", M_RELAY, false,
		   "relay: where their datagrams go"},
    [O_BIND] = {"bind", "ADDR", M_RELAY | M_GEN, false,
		"source address of upstream / generator sockets"},
    [O_CONTROL] = {"control", "PATH", M_RELAY, false,
		   "Unix stream socket for live control commands"},
    [O_SEED] = {"seed", "N", M_RELAY, false,
		"PRNG seed for loss and jitter (default: random)"},
    [O_STATS_INTERVAL] = {"stats-interval", "DURATION", M_RELAY, false,
			  "print stats JSON on stdout this often"},
    [O_SLOTS] = {"slots", "N", M_RELAY, false,
		 "packet buffers per direction and client (16384)"},
    [O_MAX_PACKET] = {"max-packet", "BYTES", M_RELAY, false,
		      "largest datagram relayed (2048); larger: dropped"},
    [O_MAX_CLIENTS] = {"max-clients", "N", M_RELAY, false,
		       "client addresses tracked (64)"},
    [O_DELAY] = {"delay", "DURATION", M_RELAY, true, "one-way delay (0)"},
    [O_JITTER] = {"jitter", "DURATION", M_RELAY, true,
		  "delay varies by +-this (0)"},
    [O_JITTER_DIST] = {"jitter-dist", "uniform|normal", M_RELAY, true,
		       "jitter distribution (uniform)"},
    [O_LOSS] = {"loss", "PERCENT", M_RELAY, true, "random loss (0%)"},
    [O_LOSS_BURST] = {"loss-burst", "PACKETS", M_RELAY, true,
		      "mean loss burst length (independent losses)"},
    [O_RATE] = {"rate", "RATE", M_RELAY, true,
		"serialization rate, e.g. 20mbit (unlimited)"},
    [O_RATE_DOWN] = {"rate-down", "RATE", M_RELAY, true,
		     "rate towards the client, if not --rate's"},
    [O_RATE_SCHEDULE] = {"rate-schedule", "T:R,T:R..", M_RELAY, true,
			 "rate steps from start, e.g. 0s:20mbit,10s:6mbit"},
    [O_RATE_WALK] = {"rate-walk", "PCT/INTERVAL", M_RELAY, true,
		     "random walk of the rate, e.g. 10%/1s (off)"},
    [O_QUEUE] = {"queue", "TIME|SIZE", M_RELAY, true,
		 "rate queue limit, e.g. 100ms or 64kb (100ms)"},
    [O_OVERHEAD] = {"overhead", "BYTES|auto", M_RELAY, true,
		    "header bytes per datagram in rate and queue (auto: "
		    "28 IPv4, 48 IPv6)"},
    [O_DOWN] = {"down", NULL, M_RELAY, true, "start with the link down"},
    [O_REORDER] = {"reorder", NULL, M_RELAY, true,
		   "let jitter reorder packets (default: keep FIFO)"},
    [O_CTL] = {"ctl", "PATH", M_CTL, false,
	       "send the remaining words as one control command"},
    [O_ECHO] = {"echo", "ADDR:PORT", M_ECHO, false, "run a UDP echo server"},
    [O_SINK] = {"sink", "ADDR:PORT", M_SINK, false,
		"count received datagrams, print a report"},
    [O_UDPGEN] = {"udpgen", "ADDR:PORT", M_GEN, false,
		  "send numbered, timestamped datagrams"},
    [O_IDLE] = {"idle", "DURATION", M_SINK, false,
		"sink: stop this long after the last packet (1s)"},
    [O_TIMEOUT] = {"timeout", "DURATION", M_SINK, false,
		   "sink: stop after this long in any case (30s)"},
    [O_BIN] = {"bin", "DURATION", M_SINK, false,
	       "sink: also report bytes per bin of this length"},
    [O_COUNT] = {"count", "N", M_GEN, false, "udpgen: packets (100)"},
    [O_SIZE] = {"size", "BYTES", M_GEN, false,
		"udpgen: datagram size, 16 to 65507 (1000)"},
    [O_INTERVAL] = {"interval", "DURATION", M_GEN, false,
		    "udpgen: time between packets (0: flat out)"},
    [O_WAIT] = {"wait", "DURATION", M_GEN, false,
		"udpgen: expect echoes; wait this long after sending"},
    [O_LOG_LEVEL] = {"log-level", "LEVEL", M_ALL, false,
		     "error, warning, notice, info (default), debug"},
    [O_HELP] = {"help", NULL, M_ALL, false, "this text"},
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ttt-linkemu --listen ADDR:PORT --forward ADDR:PORT "
		"[impairments] [options]\n"
		"       ttt-linkemu --ctl PATH COMMAND...\n"
		"       ttt-linkemu --echo ADDR:PORT\n"
		"       ttt-linkemu --sink ADDR:PORT [--idle D] [--timeout D] "
		"[--bin D]\n"
		"       ttt-linkemu --udpgen ADDR:PORT [--count N] [--size B] "
		"[--interval D] [--wait D]\n\n"
		"A UDP relay that emulates a link (delay, jitter, loss, rate, "
		"queue, up/down)\nin both directions, plus test traffic "
		"tools.\n\nOptions:\n");
	for (int i = 0; i < O_COUNT_OPTS; i++) {
		const struct emu_option *o = &emu_options[i];
		fprintf(out, "  --%-15s %-15s %s\n", o->name,
			o->metavar ? o->metavar : "", o->help);
	}
	fprintf(out, "\nUnits: durations ns|us|ms|s, rates bit|kbit|mbit|gbit, "
		     "sizes b|kb|kib|mb|mib,\npercentages N%%. Exit status: 0 "
		     "ok, 1 runtime error, 2 bad arguments.\n"
		     "Signals (relay): SIGUSR1 = down, SIGUSR2 = up, "
		     "SIGINT/SIGTERM = exit.\n\n");
	ctl_print_help(out);
}

__attribute__((format(printf, 1, 2))) static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ttt-linkemu: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ttt-linkemu --help'.\n");
	return EMU_EXIT_USAGE;
}

struct cli {
	unsigned mode;
	int mode_opt; /* the option that chose the mode */
	const char *mode_arg;
	const char *optval[O_COUNT_OPTS];
	bool seen[O_COUNT_OPTS];
	struct relay_opts relay;
	struct gen_opts gen;
	uint64_t idle_ns, timeout_ns, bin_ns;
};

static int set_mode(struct cli *c, unsigned mode, int opt, const char *arg)
{
	if (c->mode && c->mode != mode)
		return -EINVAL;
	c->mode = mode;
	c->mode_opt = opt;
	c->mode_arg = arg;
	return 0;
}

/* Converts the strings of the options seen into c->relay / c->gen.
 * Returns 0, or EMU_EXIT_USAGE after printing why. */
static int cli_convert(struct cli *c)
{
	struct err e = {{0}};
	uint64_t v;
	const char *const *ov = c->optval;

/* Every message names the option the bad value was given to. */
#define CHECK(id, expr)                                                        \
	do {                                                                   \
		if ((expr) < 0)                                                \
			return bad_usage("--%s: %s", emu_options[id].name,     \
					 e.msg);                               \
	} while (0)

	for (int i = 0; i < O_COUNT_OPTS; i++) {
		if (!c->seen[i] || !emu_options[i].setting)
			continue;
		const char *val = ov[i];
		if (i == O_REORDER)
			val = "on";
		if (ctl_apply_setting(&c->relay.params, emu_options[i].name,
				      val, &e) < 0)
			return bad_usage("--%s: %s", emu_options[i].name,
					 e.msg);
	}
	if (c->mode == M_RELAY) {
		if (!c->seen[O_FORWARD])
			return bad_usage("--listen needs --forward ADDR:PORT");
		CHECK(O_LISTEN,
		      parse_addr_port(ov[O_LISTEN], &c->relay.listen, &e));
		CHECK(O_FORWARD,
		      parse_addr_port(ov[O_FORWARD], &c->relay.forward, &e));
	}
	if (c->mode == M_GEN)
		CHECK(c->mode_opt,
		      parse_addr_port(c->mode_arg, &c->gen.dest, &e));
	if (c->seen[O_BIND]) {
		int fam = c->mode == M_GEN ? c->gen.dest.ss.ss_family
					   : c->relay.forward.ss.ss_family;
		CHECK(O_BIND, parse_addr(ov[O_BIND], &c->relay.bind, &e));
		c->relay.have_bind = c->gen.have_bind = true;
		c->gen.bind = c->relay.bind;
		if (c->relay.bind.ss.ss_family != fam)
			return bad_usage("--bind %s: address family differs "
					 "from the destination's",
					 ov[O_BIND]);
	}
	c->relay.control_path = ov[O_CONTROL];
	if (c->seen[O_SEED])
		CHECK(O_SEED, parse_uint(ov[O_SEED], 0, UINT64_MAX,
					 &c->relay.seed, &e));
	else if (getrandom(&c->relay.seed, sizeof(c->relay.seed), 0) !=
		 sizeof(c->relay.seed))
		c->relay.seed = emu_now_ns();
	if (c->seen[O_STATS_INTERVAL]) {
		CHECK(O_STATS_INTERVAL,
		      parse_duration_ns(ov[O_STATS_INTERVAL],
					&c->relay.stats_interval_ns, &e));
		if (c->relay.stats_interval_ns < NS_PER_MS)
			return bad_usage("--stats-interval %s: at least 1ms",
					 ov[O_STATS_INTERVAL]);
	}
	if (c->seen[O_SLOTS]) {
		CHECK(O_SLOTS, parse_uint(ov[O_SLOTS], 1, 1 << 20, &v, &e));
		c->relay.slots = (uint32_t)v;
	}
	if (c->seen[O_MAX_PACKET]) {
		CHECK(O_MAX_PACKET,
		      parse_uint(ov[O_MAX_PACKET], 64, EMU_MAX_DGRAM, &v, &e));
		c->relay.max_packet = (uint32_t)v;
	}
	if (c->seen[O_MAX_CLIENTS]) {
		CHECK(O_MAX_CLIENTS,
		      parse_uint(ov[O_MAX_CLIENTS], 1, 4096, &v, &e));
		c->relay.max_clients = (uint32_t)v;
	}
	if (c->mode == M_SINK || c->mode == M_ECHO)
		CHECK(c->mode_opt,
		      parse_addr_port(c->mode_arg, &c->relay.listen, &e));
	if (c->seen[O_IDLE])
		CHECK(O_IDLE, parse_duration_ns(ov[O_IDLE], &c->idle_ns, &e));
	if (c->seen[O_TIMEOUT])
		CHECK(O_TIMEOUT,
		      parse_duration_ns(ov[O_TIMEOUT], &c->timeout_ns, &e));
	if (c->seen[O_BIN]) {
		CHECK(O_BIN, parse_duration_ns(ov[O_BIN], &c->bin_ns, &e));
		if (c->bin_ns < NS_PER_MS)
			return bad_usage("--bin %s: at least 1ms", ov[O_BIN]);
	}
	if (c->idle_ns == 0 || c->timeout_ns == 0)
		return bad_usage("--idle and --timeout must be positive");
	if (c->mode == M_GEN) {
		if (c->seen[O_COUNT])
			CHECK(O_COUNT, parse_uint(ov[O_COUNT], 1, UINT32_MAX,
						  &c->gen.count, &e));
		if (c->seen[O_SIZE])
			CHECK(O_SIZE,
			      parse_uint(ov[O_SIZE], sizeof(struct emu_probe),
					 65507, &c->gen.size, &e));
		if (c->seen[O_INTERVAL])
			CHECK(O_INTERVAL,
			      parse_duration_ns(ov[O_INTERVAL],
						&c->gen.interval_ns, &e));
		if (c->seen[O_WAIT])
			CHECK(O_WAIT, parse_duration_ns(ov[O_WAIT],
							&c->gen.wait_ns, &e));
	}
#undef CHECK
	return 0;
}

static void cli_defaults(struct cli *c)
{
	memset(c, 0, sizeof(*c));
	c->relay.slots = EMU_DEFAULT_SLOTS;
	c->relay.max_packet = 2048;
	c->relay.max_clients = 64;
	c->relay.params.queue_ns = 100 * NS_PER_MS;
	c->relay.params.overhead_auto = true;
	c->gen.count = 100;
	c->gen.size = 1000;
	c->idle_ns = NS_PER_SEC;
	c->timeout_ns = 30 * NS_PER_SEC;
}

int main(int argc, char **argv)
{
	struct option lopts[O_COUNT_OPTS + 1];
	static const unsigned mode_of[O_COUNT_OPTS] = {
	    [O_LISTEN] = M_RELAY, [O_CTL] = M_CTL,    [O_ECHO] = M_ECHO,
	    [O_SINK] = M_SINK,	  [O_UDPGEN] = M_GEN,
	};
	struct cli c;
	struct err e = {{0}};
	int opt, idx, ret;

	cli_defaults(&c);
	log_init("ttt-linkemu", LOG_INFO, 0);
	memset(lopts, 0, sizeof(lopts));
	for (int i = 0; i < O_COUNT_OPTS; i++)
		lopts[i] = (struct option){
		    emu_options[i].name,
		    emu_options[i].metavar ? required_argument : no_argument,
		    NULL, i};
	/* Our own messages, so every usage error has the same form. */
	opterr = 0;
	/* "+": stop at the first word, which starts the --ctl command;
	 * ":": report a missing value apart from an unknown option. */
	while ((opt = getopt_long(argc, argv, "+:h", lopts, &idx)) != -1) {
		if (opt == 'h')
			opt = O_HELP;
		if (opt == ':')
			return bad_usage("option '%s' needs a value",
					 argv[optind - 1]);
		if (opt < 0 || opt >= O_COUNT_OPTS)
			return bad_usage("unknown option '%s'",
					 argv[optind - 1]);
		if (opt == O_HELP) {
			usage(stdout);
			return 0;
		}
		if (c.seen[opt])
			return bad_usage("--%s given twice",
					 emu_options[opt].name);
		c.seen[opt] = true;
		c.optval[opt] = optarg;
		if (mode_of[opt] && set_mode(&c, mode_of[opt], opt, optarg) < 0)
			return bad_usage("choose one mode: --listen, --ctl, "
					 "--echo, --sink or --udpgen");
	}
	if (!c.mode)
		return bad_usage("no mode: give --listen ADDR:PORT --forward "
				 "ADDR:PORT, --ctl, --echo, --sink or "
				 "--udpgen");
	for (int i = 0; i < O_COUNT_OPTS; i++)
		if (c.seen[i] && !(emu_options[i].modes & c.mode))
			return bad_usage(
			    "--%s does not apply to --%s", emu_options[i].name,
			    c.mode == M_RELAY ? "listen"
			    : c.mode == M_CTL ? "ctl"
			    : c.mode == M_ECHO
				? "echo"
				: (c.mode == M_SINK ? "sink" : "udpgen"));
	if (c.mode == M_CTL) {
		if (optind >= argc)
			return bad_usage("--ctl needs a command, e.g. "
					 "'--ctl %s stats'",
					 c.mode_arg);
		return ctl_client(c.mode_arg, argc - optind, argv + optind);
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (c.seen[O_LOG_LEVEL]) {
		int lvl = log_level_from_name(c.optval[O_LOG_LEVEL]);
		if (lvl < 0)
			return bad_usage("invalid --log-level '%s': expected "
					 "error, warning, notice, info or "
					 "debug",
					 c.optval[O_LOG_LEVEL]);
		log_set_level(lvl);
	}
	ret = cli_convert(&c);
	if (ret)
		return ret;

	switch (c.mode) {
	case M_RELAY:
		log_info("emu", "seed %llu", (unsigned long long)c.relay.seed);
		ret = relay_run(&c.relay, &e);
		break;
	case M_ECHO:
		ret = echo_run(&c.relay.listen, &e);
		break;
	case M_SINK:
		ret = sink_run(&c.relay.listen, c.idle_ns, c.timeout_ns,
			       c.bin_ns, &e);
		break;
	default:
		ret = gen_run(&c.gen, &e);
	}
	if (ret < 0) {
		fprintf(stderr, "ttt-linkemu: %s\n", e.msg);
		return 1;
	}
	return 0;
}
