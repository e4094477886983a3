/*
 * The daemon's configuration, loaded from one YAML file (libyaml). Every
 * field has a default; config_load() validates everything before anything
 * starts and names file:line:column and the key in each error.
 */
#ifndef TTT_CONFIG_H
#define TTT_CONFIG_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/err.h"
#include <tuntuntun/sched.h>

#define CFG_MAX_LINKS	16
#define CFG_MAX_CLIENTS 64
#define CFG_MAX_OPTS	32
#define CFG_NAME_MAX	32
#define CFG_STR_MAX	256

enum cfg_role { ROLE_CLIENT = 0, ROLE_SERVER = 1 };

/* `cipher:`: which AEADs this end offers or accepts. */
enum cfg_cipher {
	CFG_CIPHER_AUTO = 0,
	CFG_CIPHER_AES256GCM = 1,
	CFG_CIPHER_CHACHA20 = 2,
};

/* A socket address with its length; family AF_UNSPEC when unset. */
struct cfg_sockaddr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* An IP prefix such as 10.77.0.2/24 or fd77::2/64. */
struct cfg_prefix {
	int family; /* AF_INET, AF_INET6, or 0 when unset */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	uint8_t plen;
};

/* One plugin option, flattened ("weights.dsl": 3). Strings owned here. */
struct cfg_opt {
	char key[64];
	char str[128];
	uint32_t type; /* enum ttt_opt_type */
	int32_t b;
	int64_t i;
	double d;
	uint32_t line;
};

/* The scheduler for one direction. */
struct cfg_sched {
	char plugin[CFG_NAME_MAX]; /* default "earliest-arrival" */
	struct cfg_opt opts[CFG_MAX_OPTS];
	uint32_t n_opts;
};

struct cfg_link {
	char name[CFG_NAME_MAX];    /* required, unique */
	char interface[IFNAMSIZ];   /* SO_BINDTODEVICE; "" if unset */
	struct cfg_sockaddr source; /* local bind address[:port]; optional */
	struct cfg_sockaddr peer;   /* client: server endpoint for this link
				       (default: server.address:port) */
	uint64_t rate_bps;	    /* `rate: 20mbit`; 0 = unknown */
	bool metered;		    /* `metered: true` */
	bool backup;		    /* `backup: true` */
	uint32_t weight;	    /* `weight: 3`; 0 = unset */
	uint64_t quota_bytes;	    /* `quota: 5GiB`; 0 = none */
	uint32_t quota_reset_day;   /* 1..28, day of month; default 1 */
	uint32_t mtu;		    /* link MTU (bytes); 0 = from interface,
				       else 1500 */
	bool peer_is_server;	    /* client: no `peer`, so it follows `server`
				       (and its re-resolution) */
};

/* Server side: one allowed client. */
struct cfg_client {
	char name[CFG_NAME_MAX];
	char key_file[CFG_STR_MAX];
	struct cfg_prefix addr4; /* inner IPv4 address the client may use */
	struct cfg_prefix addr6; /* inner IPv6 address the client may use */
};

struct cfg_probe {
	uint32_t interval_ms; /* default 100 */
	uint32_t timeout_ms;  /* default 1000: no answer for this long = down
			       (config refuses less than 2 intervals) */
	uint32_t degraded_loss_ppm; /* default 50000 (5%) */
	uint32_t degraded_rtt_ms;   /* default 0 = off */
	uint32_t loss_window;	    /* probes in the loss window, default 50 */
};

struct cfg_reorder {
	bool enabled;	      /* default true */
	uint32_t capacity;    /* packets, default 4096 (power of two) */
	uint32_t min_hold_ms; /* floor, default 5 */
	uint32_t max_hold_ms; /* ceiling, default 300 */
};

/* `link_model:` the closed-loop link model and the daemon's queue
 * (docs/link-model.md). */
struct cfg_link_model {
	uint32_t queue_target_ms;  /* bottleneck queueing-delay target, 8 */
	uint64_t initial_rate_bps; /* first pacing rate, 4mbit */
	uint32_t feedback_ms;	   /* receiver's report interval, 20 */
	uint32_t queue_packets;	   /* daemon queue limit, 1024 */
	uint64_t queue_bytes;	   /* daemon queue limit, 1.5 MB */
	uint32_t aqm_target_ms;	   /* CoDel target, 5 */
	uint32_t aqm_interval_ms;  /* CoDel interval, 100 */
	bool ecn;		   /* CoDel marks ECT packets, true */
};

/* `flow_queue:` flow queueing and the interactive class
 * (docs/config.md, issue 12). */
enum cfg_interactive {
	CFG_INTERACTIVE_OFF = 0,  /* no bypass: every packet is bulk */
	CFG_INTERACTIVE_AUTO = 1, /* sparse flows and the DSCP set */
	CFG_INTERACTIVE_DSCP = 2, /* the DSCP set only */
};
enum cfg_duplicate {
	CFG_DUP_NONE = 0,	 /* one copy of everything */
	CFG_DUP_INTERACTIVE = 1, /* every interactive packet on two links */
	CFG_DUP_DSCP = 2,	 /* only packets whose DSCP is in the set */
};
struct cfg_flow_queue {
	bool enabled;	  /* flow queueing in the daemon queue, true */
	uint32_t flows;	  /* flow buckets, power of two, 1024 */
	uint64_t quantum; /* DRR bytes per round, 1514 */
	int interactive;  /* enum cfg_interactive, auto */
	char interactive_dscp[CFG_STR_MAX]; /* "ef,cs5,cs6,cs7" */
	uint64_t dscp_mask;		    /* parsed interactive_dscp */
	uint64_t sparse_rate_bps; /* a sparse flow sends under this, 1mbit */
	uint64_t sparse_burst;	  /* ... beyond this burst, 3000 bytes */
	int duplicate;		  /* enum cfg_duplicate, none */
};

/* `recovery:` loss recovery inside the tunnel (docs/loss-recovery.md). */
struct cfg_recovery {
	bool enabled;		/* default true */
	uint32_t budget_pct;	/* resends, % of the bond's capacity, 10 */
	uint32_t store_packets; /* retransmission store, power of two, 2048 */
	uint32_t max_wait_ms;	/* longest reorder wait for a resend, 200 */
	bool copy_ahead; /* copy a lossy link's packets while the bond has
			    room (docs/loss-recovery.md), default false */
};

/* client: when to rekey (wire/rekey.h); 0 turns a limit off */
struct cfg_rekey {
	uint32_t interval_ms; /* default 120000, at least 1000 */
	uint64_t bytes;	      /* default 0 (off) */
	uint32_t packets;     /* default 8388608 (2^23) */
};

struct cfg_control {
	char socket[CFG_STR_MAX]; /* default /run/tuntuntun.sock ("" = off) */
	uint32_t mode;		  /* default 0600 */
	char group[CFG_NAME_MAX]; /* optional group owning the socket */
};

/* hooks: a command per link/session event (core/hooks.c runs them without
 * a shell; os/hookcmd.h has the quoting rules). "" = none. */
enum cfg_hook_event {
	CFG_HOOK_LINK_UP = 0,
	CFG_HOOK_LINK_DOWN,
	CFG_HOOK_SESSION_UP,
	CFG_HOOK_SESSION_DOWN,
	CFG_HOOK_NEVENTS,
};

struct cfg_hooks {
	char cmd[CFG_HOOK_NEVENTS][CFG_STR_MAX];
	uint32_t timeout_ms;  /* default 10000: then the hook is killed */
	uint32_t max_running; /* default 4 at once; later events queue */
};

/* `http:`: the monitoring listener (core/ctl/httpd.c). Off unless the
 * section is present. A non-loopback `listen` needs a token or basic auth. */
#define CFG_HTTP_DEFAULT_PORT 9580
struct cfg_http {
	bool enabled; /* section present and not `enabled: false` */
	struct cfg_sockaddr listen;   /* default 127.0.0.1:9580 */
	char token[CFG_STR_MAX];      /* bearer token; "" = none */
	char token_file[CFG_STR_MAX]; /* file whose first line is the token */
	char user[CFG_NAME_MAX];      /* basic auth user; "" = none */
	char password[CFG_STR_MAX];
	char password_file[CFG_STR_MAX];
};

struct cfg_tun {
	char name[IFNAMSIZ]; /* default "ttt0" */
	struct cfg_prefix
	    addr4; /* client: its inner IPv4/plen; server: its own */
	struct cfg_prefix addr6;
	uint32_t mtu; /* 0 = auto: min link MTU - overhead */
	int offload;  /* enum cfg_offload: `offload: auto` (default) | off */
};

/* tun.offload: auto = tun offloads and UDP GRO where the kernel has them;
 * off = one packet per tun read/write, no UDP GRO (core/tunio.c). */
enum cfg_offload {
	CFG_OFFLOAD_AUTO = 0,
	CFG_OFFLOAD_OFF = 1,
};

struct config {
	char path[CFG_STR_MAX]; /* the file it came from */
	enum cfg_role role;
	/* client: server.address/port; server: listen address/port */
	struct cfg_sockaddr server;
	struct cfg_sockaddr listen;
	/* client: server.address when it is a host name, resolved at start
	 * and again after a while without a session (core/resolve.c);
	 * server then stays empty (len 0) until the first answer. */
	char server_host[CFG_STR_MAX];
	uint16_t server_port;
	char key_file[CFG_STR_MAX]; /* client: its pre-shared key file */
	int cipher; /* enum cfg_cipher, `cipher:` auto (default: AES-256-GCM
		     if both ends have hardware AES), aes-256-gcm or
		     chacha20-poly1305 */
	int crypto_mode; /* enum crypto_mode (core/wire/wire.h): `crypto:
			    encrypt` (default) | auth | none */
	struct cfg_tun tun;
	struct cfg_sched sched[2]; /* indexed by enum ttt_dir */
	struct cfg_link links[CFG_MAX_LINKS];
	uint32_t n_links;
	struct cfg_client clients[CFG_MAX_CLIENTS];
	uint32_t n_clients;
	struct cfg_probe probe;
	struct cfg_reorder reorder;
	struct cfg_link_model link_model;
	struct cfg_flow_queue flow_queue;
	struct cfg_recovery recovery;
	struct cfg_rekey rekey;
	struct cfg_control control;
	struct cfg_hooks hooks;
	struct cfg_http http;
	char plugin_dir[CFG_STR_MAX]; /* "" = next to the binary, then installed
				       */
	char state_file[CFG_STR_MAX]; /* quota counters; "" = none */
	char user[CFG_NAME_MAX]; /* drop privileges to this user; "" = no */
	bool default_route;	 /* client: route all traffic via tunnel */
	int log_level;		 /* syslog level, default LOG_INFO */
	uint32_t keepalive_ms;	 /* default 10000 */
};

/* Fills cfg with defaults. */
void config_defaults(struct config *cfg);

/*
 * Loads and validates `path`. On error returns -EINVAL (or -errno for I/O)
 * with e->msg like "client.yaml:7:12: links[1].rate: expected a rate such as
 * 20mbit, got \"fast\"". cfg is undefined on failure.
 */
int config_load(struct config *cfg, const char *path, struct err *e);

/* Same, from a string in memory; `name` stands for the file in messages. */
int config_load_string(struct config *cfg, const char *name, const char *text,
		       size_t len, struct err *e);

/* Same plugin and the same options (keys and values as written, in order):
 * what a reload compares to decide whether anything changed. */
bool config_sched_equal(const struct cfg_sched *a, const struct cfg_sched *b);
/* Makes `plugin` with opts[0..n) the choice in s (n <= CFG_MAX_OPTS). */
void config_sched_set(struct cfg_sched *s, const char *plugin,
		      const struct cfg_opt *opts, uint32_t n);

/* Parsers shared with the control socket (`key=value` plugin options). */
int config_parse_rate(const char *s, uint64_t *bps);
int config_parse_size(const char *s, uint64_t *bytes);
int config_parse_duration_ms(const char *s, uint32_t *ms);
/* "5%" -> 50000 parts per million; at most 100%. */
int config_parse_percent_ppm(const char *s, uint32_t *ppm);
/* Classifies a scalar into a cfg_opt (type, i, b, d); copies key and str. */
int config_opt_set(struct cfg_opt *o, const char *key, const char *str,
		   uint32_t line);

#endif
