/*
 * ttt-linkemu: the link emulator every end-to-end test puts in each emulated
 * uplink, because these machines have no netem qdisc. One program, several
 * modes (relay, control client, UDP echo, sink and generator) so shell tests
 * need nothing else. Prototypes are grouped by the file that defines them.
 */
#ifndef TTT_EMU_H
#define TTT_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include <ev.h>

#include "base/err.h"

/* Exit status for bad arguments, so scripts can tell usage from failure. */
#define EMU_EXIT_USAGE 2

/* Largest datagram any mode will read; IPv4/IPv6 UDP cannot carry more. */
#define EMU_MAX_DGRAM 65535

/* What --overhead auto means: IPv4 + UDP headers, IPv6 + UDP headers. */
#define EMU_OVERHEAD_IPV4 28
#define EMU_OVERHEAD_IPV6 48
#define EMU_OVERHEAD_MAX  1500

/* Packet buffers per direction and client unless --slots says otherwise:
 * enough for a modem-like 2 s queue plus 100 ms delay at 85 Mbit/s of
 * 1400-byte datagrams (16384 x 1428 x 8 bits = 187 Mbit in flight), so the
 * queue limit, not the pool, decides what is dropped. Buffers are touched
 * only when used (LIFO reuse), so the unused part costs address space. */
#define EMU_DEFAULT_SLOTS 16384

#define NS_PER_SEC 1000000000ull
#define NS_PER_MS  1000000ull

/* Payload header written by the generator and read by the sink and the
 * generator's echo receiver; native byte order (it never leaves the host). */
struct emu_probe {
	uint32_t magic;
	uint32_t seq;
	uint64_t sent_ns; /* CLOCK_MONOTONIC at send time */
};
#define EMU_PROBE_MAGIC 0x54544545u /* "TTEE" */

struct emu_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

struct imp_sched;

/* emu_parse.c: every string the user can type goes through here. */
int parse_duration_ns(const char *s, uint64_t *ns, struct err *e);
int parse_rate_bps(const char *s, uint64_t *bps, struct err *e);
int parse_percent(const char *s, double *frac, struct err *e);
int parse_size_bytes(const char *s, uint64_t *bytes, struct err *e);
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out,
	       struct err *e);
int parse_on_off(const char *s, bool *on, struct err *e);
int parse_addr_port(const char *s, struct emu_addr *a, struct err *e);
int parse_addr(const char *s, struct emu_addr *a, struct err *e);
int parse_rate_schedule(const char *s, struct imp_sched *out, struct err *e);
int parse_rate_walk(const char *s, double *pct, uint64_t *interval_ns,
		    struct err *e);

/* emu_addr.c: socket-address helpers shared by every mode. */
const char *addr_str(const struct emu_addr *a, char *buf, size_t len);
bool addr_equal(const struct sockaddr_storage *x, socklen_t xlen,
		const struct sockaddr_storage *y, socklen_t ylen);
int addr_udp_socket(const struct emu_addr *bind_to, int family, struct err *e);

/* All emulator times are CLOCK_MONOTONIC nanoseconds. */
static inline uint64_t emu_now_ns(void)
{
	struct timespec ts;
	/* Cannot fail with a valid clock id and pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* emu_impair.c: the impairment model of one direction, free of sockets and
 * clocks so it can be tested with made-up times. */
enum imp_jitter_dist {
	IMP_JITTER_UNIFORM = 0, /* uniform in [-jitter, +jitter] */
	IMP_JITTER_NORMAL = 1,	/* normal, sigma = jitter, cut at 3 sigma */
};

/* A step profile of the rate: at start + at_ns[i] the rate becomes bps[i];
 * the last step holds. Set by --rate-schedule (start = relay start) or the
 * control command (start = the command). */
#define IMP_SCHED_MAX  64
#define IMP_SCHED_TEXT 512
struct imp_sched {
	uint32_t n;   /* steps; 0 = no schedule */
	uint32_t pos; /* steps applied so far */
	bool started; /* false: starts when next applied (imp_rate_advance) */
	uint64_t start_ns;
	uint64_t at_ns[IMP_SCHED_MAX]; /* from start, strictly increasing */
	uint64_t bps[IMP_SCHED_MAX];   /* 0 = unlimited */
	char text[IMP_SCHED_TEXT];     /* as given, for show */
};

/* Bounds of the random walk's factor: symmetric in log terms, so over a
 * long run the rate is as often above its base as below. */
#define IMP_WALK_MIN 0.5
#define IMP_WALK_MAX 2.0

/* A slow random walk of the capacity around the base rate: every interval
 * the factor is multiplied by 1+u or divided by 1+u (u uniform in [0, pct],
 * each way equally likely), clamped to [IMP_WALK_MIN, IMP_WALK_MAX]. */
struct imp_walk {
	double pct; /* largest step as a fraction; 0 = off */
	uint64_t interval_ns;
	bool started; /* false: (re)starts at factor 1 when next applied */
	uint64_t start_ns, steps;
	double factor;
	uint64_t rng[4]; /* seeded from --seed: the same walk every run */
};

/* Shared by both directions of every client and changed live by the control
 * channel; a change applies to packets admitted after it. */
struct imp_params {
	uint64_t delay_ns;
	uint64_t jitter_ns;
	int jitter_dist;   /* enum imp_jitter_dist */
	double loss;	   /* probability 0..1 */
	double loss_burst; /* mean loss burst in packets; <= 1: independent */
	uint64_t rate_bps; /* bits per second; 0 = unlimited */
	uint64_t rate_down_bps; /* to_client rate if rate_down_set */
	bool rate_down_set;	/* false: to_client has rate_bps too */
	uint64_t queue_ns; /* queue limit as time at rate (if queue_bytes 0) */
	uint64_t queue_bytes; /* queue limit in bytes; 0 = use queue_ns */
	/* Bytes the wire carries per datagram beyond its UDP payload (IP and
	 * UDP headers, PPPoE, radio framing): counted in serialization time
	 * and queue occupancy only. The model uses `overhead`; the relay
	 * resolves `overhead_auto` (28 or 48 by address family) into it. */
	uint32_t overhead;
	bool overhead_auto;
	bool reorder; /* allow jitter to reorder packets */
	bool down;    /* drop everything, including what is queued */
	/* How the rate moves by itself (emu_rate.c; the model ignores these:
	 * the relay hands it the resulting rate). */
	struct imp_sched sched;
	struct imp_walk walk;
};

struct imp_counters {
	uint64_t in_pkts, in_bytes;
	uint64_t fwd_pkts, fwd_bytes;
	uint64_t fwd_wire_bytes; /* fwd_bytes plus each packet's overhead */
	uint64_t drop_loss;	 /* random loss */
	uint64_t drop_queue;	 /* tail drop: rate queue full */
	uint64_t drop_down;	 /* link down (at arrival or at release) */
	uint64_t drop_nobuf;	 /* all preallocated slots in use */
	uint64_t drop_oversize;	 /* larger than --max-packet */
	uint64_t send_err;	 /* sendto failed at release */
};

enum imp_verdict {
	IMP_QUEUED = 0,
	IMP_DROP_DOWN,
	IMP_DROP_LOSS,
	IMP_DROP_OVERSIZE,
	IMP_DROP_QUEUE,
	IMP_DROP_NOBUF,
};

struct imp_slot {
	uint64_t release_ns;
	uint64_t finish_ns; /* end of serialization: until then it is queued */
	uint64_t lat_ns;    /* delay + jitter drawn for it (release - finish
			       before FIFO order is enforced) */
	uint64_t seq;
	uint32_t len;
	uint32_t wire_len; /* len + overhead at admission */
};

/* One direction: a pool of preallocated fixed-size buffers, a free stack
 * and a min-heap ordered by (release time, arrival order). */
struct imp_dir {
	const struct imp_params *p;
	uint64_t rng[4];
	bool burst_bad;	       /* Gilbert model: in a loss burst */
	uint64_t link_free_ns; /* when the emulated wire is idle again */
	uint64_t rate_bps;     /* rate the queued packets were timed at */
	uint64_t last_release_ns;
	uint64_t seq;
	uint32_t nslots, slot_size;
	uint8_t *bufs;
	struct imp_slot *meta;
	uint32_t *free_stack, nfree;
	uint32_t *heap, nheap;
	uint32_t *scratch; /* re-timing: queued slots in arrival order */
	struct imp_counters c;
};

/* Sends one released packet; returns 0 or a negative errno. */
typedef int (*imp_send_fn)(void *ctx, const void *buf, size_t len);

int imp_dir_init(struct imp_dir *d, const struct imp_params *p, uint32_t nslots,
		 uint32_t slot_size, uint64_t seed, struct err *e);
void imp_dir_free(struct imp_dir *d);
enum imp_verdict imp_enqueue(struct imp_dir *d, const void *pkt, size_t len,
			     uint64_t now_ns);
void imp_sync(struct imp_dir *d, uint64_t now_ns);
uint64_t imp_next_release(const struct imp_dir *d);
unsigned imp_release_due(struct imp_dir *d, uint64_t now_ns, imp_send_fn send,
			 void *ctx);
uint64_t imp_queue_limit_bytes(const struct imp_params *p);
uint64_t imp_serialize_ns(const struct imp_params *p, size_t len);
void imp_counters_add(struct imp_counters *sum, const struct imp_counters *c);
uint64_t imp_rand(uint64_t s[4]);
void imp_seed(uint64_t s[4], uint64_t seed);

/* emu_rate.c: the link's capacity over time, clock-free like the model. */
uint64_t imp_rate_base(const struct imp_params *p, bool to_client);
uint64_t imp_rate_now(const struct imp_params *p, bool to_client);
bool imp_rate_advance(struct imp_params *p, uint64_t now_ns);
uint64_t imp_rate_next(const struct imp_params *p);
double imp_walk_step(double factor, double pct, uint64_t rng[4]);

/* emu_relay.c: the NAT-like UDP relay with both directions impaired. */
struct relay_opts {
	struct emu_addr listen, forward, bind;
	bool have_bind;
	const char *control_path;
	uint64_t seed;
	uint64_t stats_interval_ns; /* 0 = no periodic stats */
	uint32_t slots, max_packet, max_clients;
	struct imp_params params;
};
struct relay;

int relay_run(const struct relay_opts *o, struct err *e);
const struct imp_params *relay_params(struct relay *r);
void relay_apply(struct relay *r, const struct imp_params *next);
void relay_set_down(struct relay *r, bool down);
int relay_stats_json(struct relay *r, char *buf, size_t len);
int relay_params_json(struct relay *r, char *buf, size_t len);
void relay_reset_counters(struct relay *r);

/* emu_ctl.c: control channel (server side) and the --ctl client. */
struct ctl;
int ctl_apply_setting(struct imp_params *p, const char *name, const char *value,
		      struct err *e);
bool ctl_setting_takes_value(const char *name);
int ctl_exec_line(struct relay *r, char *line, char *reply, size_t len);
void ctl_print_help(FILE *out);
int ctl_open(struct ctl **out, struct relay *r, void *loop, const char *path,
	     struct err *e);
void ctl_close(struct ctl *c);
int ctl_client(const char *path, int argc, char **argv);

/* emu_echo.c, emu_sink.c, emu_gen.c: traffic tools for tests. */
struct gen_opts {
	struct emu_addr dest, bind;
	bool have_bind;
	uint64_t count;
	uint64_t size;
	uint64_t interval_ns; /* between packets; 0 = as fast as possible */
	uint64_t wait_ns;     /* > 0: expect echoes, wait this long after */
};
/* emu_loop.c: SIGINT/SIGTERM break the loop (echo, sink, generator). */
struct emu_stop {
	ev_signal sint, sterm;
};
void emu_stop_start(struct ev_loop *loop, struct emu_stop *st);
void emu_stop_stop(struct ev_loop *loop, struct emu_stop *st);

int echo_run(const struct emu_addr *a, struct err *e);
int sink_run(const struct emu_addr *a, uint64_t idle_ns, uint64_t timeout_ns,
	     uint64_t bin_ns, struct err *e);
int gen_run(const struct gen_opts *o, struct err *e);

#endif
