/*
 * tuntuntun scheduler plugin ABI: the one public header a plugin needs.
 *
 * A scheduler decides, packet by packet, which link carries a packet. It is a
 * shared object loaded with dlopen(RTLD_NOW|RTLD_LOCAL) that exports one
 * symbol, TTT_SCHED_ENTRY_SYMBOL ("ttt_sched_entry"), a function returning a
 * pointer to a constant `struct ttt_sched_ops`. Use TTT_SCHED_PLUGIN(ops) to
 * define it: the macro also stamps the magic, ABI version and struct size.
 *
 * Short review of the contract (modelled on the kernel's Qdisc_ops and
 * tcp_congestion_ops, nginx's and Redis's module checks):
 *
 *  - The host checks, in order: magic, abi_version (major must match, the
 *    host reads only the fields the plugin's struct_size covers), struct_size,
 *    name (non-empty, [a-z0-9-_], unique among loaded plugins, and equal
 *    to the file name without ".so": plugins.d/lowest-rtt.so must call
 *    itself "lowest-rtt"), `pick` present, priv_size <= TTT_SCHED_MAX_PRIV.
 * Anything wrong: refused with one log line naming the file and the reason;
 * whatever ran before keeps running.
 *  - One instance per direction (and, on a server, per client session). The
 *    host allocates priv_size bytes of zeroed, 16-byte aligned private state
 *    per instance and owns it. A plugin must not allocate in `pick`.
 *  - Plugins never read clocks, sockets or files: the host passes `now_ns` and
 *    read-only link views, so a plugin is deterministic and can be unit-tested
 *    with a fixed array of links.
 *  - All calls happen on the host's single event-loop thread, never
 *    concurrently for one instance. A plugin needs no locking.
 *  - The host validates every answer of `pick` (index out of range, a link
 *    that is not usable) and falls back to its built-in round robin, counting
 *    the fault in `tuntunctl status`.
 *  - Packets are never owned by a plugin: a hot swap between two packets
 *    loses none.
 *
 * Versioning: new fields are only ever appended (to ttt_sched_ops, and to the
 * structs the host passes, which carry their own size). TTT_SCHED_ABI_VERSION
 * changes only on an incompatible change.
 */
#ifndef TUNTUNTUN_SCHED_H
#define TUNTUNTUN_SCHED_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** "TTTS": the first word of every ops table. */
#define TTT_SCHED_MAGIC 0x54545453u
/** ABI version of this header. Bumped only on incompatible changes. */
#define TTT_SCHED_ABI_VERSION 1u
/** Name of the exported entry function. */
#define TTT_SCHED_ENTRY_SYMBOL "ttt_sched_entry"
/** The host never offers more links than this in one call. */
#define TTT_SCHED_MAX_LINKS 32
/** Largest priv_size the host accepts (bytes). */
#define TTT_SCHED_MAX_PRIV (64 * 1024)
/** Value `pick` returns to drop the packet instead of sending it. */
#define TTT_PICK_DROP (-1)

/** Direction of the traffic an instance schedules. */
enum ttt_dir {
	TTT_DIR_UPSTREAM = 0, /**< client -> server (scheduled on the client) */
	TTT_DIR_DOWNSTREAM =
	    1, /**< server -> client (scheduled on the server) */
};

/** Health of a link as the host's prober sees it, after host policy. */
enum ttt_link_state {
	TTT_LINK_DOWN = 0,     /**< not usable: no answer, or no socket */
	TTT_LINK_STANDBY = 1,  /**< healthy backup link held back while a
				    primary is up: not usable */
	TTT_LINK_DEGRADED = 2, /**< usable but lossy or slow: prefer UP links */
	TTT_LINK_UP = 3,       /**< usable and healthy */
};

/** Read-only view of one link, valid only for the duration of one call. */
struct ttt_link_view {
	uint32_t id;	 /**< stable link id (the link's index in the config) */
	uint8_t state;	 /**< enum ttt_link_state */
	uint8_t metered; /**< 1 if `metered: true` in the YAML */
	uint8_t backup;	 /**< 1 if `backup: true` in the YAML */
	uint8_t pad0;	 /**< zero */
	const char *name;  /**< link name from the YAML, NUL-terminated */
	uint32_t weight;   /**< `weight:` from the YAML, 0 if unset */
	uint32_t mtu;	   /**< largest inner packet (bytes) the link carries */
	uint64_t rate_bps; /**< configured rate (bit/s), 0 if unknown */
	uint64_t
	    est_rate_bps;    /**< what the link carried lately (bit/s, receive
				  rate, EWMA): a load figure, not a capacity */
	uint64_t srtt_us;    /**< smoothed round-trip time (us), 0 if none */
	uint64_t rttvar_us;  /**< round-trip time variation (us) */
	uint64_t jitter_us;  /**< inter-probe delay jitter (us) */
	uint32_t loss_ppm;   /**< loss over the recent window, per million */
	uint32_t pad1;	     /**< zero */
	uint64_t tx_packets; /**< packets sent on this link since start */
	uint64_t tx_bytes;   /**< bytes sent on this link since start */
	/**
	 * Bytes sent that the link cannot have drained yet at its rate (the
	 * host's token-bucket estimate), as of `backlog_ns`. Use
	 * ttt_link_backlog() to age it to `now`. 0 if the rate is unknown.
	 */
	uint64_t backlog_bytes;
	uint64_t backlog_ns;	   /**< host clock (ns) of backlog_bytes */
	uint64_t quota_bytes;	   /**< quota per period (bytes), 0 = none */
	uint64_t quota_used_bytes; /**< bytes used in the current period */
	/** One-way delay towards the far end minus the fastest usable link's
	 * (us, >= 0; 0 for links not usable). When every usable link has
	 * link-model feedback: the forward delay measured from it (base +
	 * current queueing delay, exact across links, as fresh as the last
	 * report); before that, half the difference of the probes' smoothed
	 * RTTs. */
	int64_t owd_diff_us;
	/* ---- link model (header of 2026-12: these took spare[0..3]) ----
	 * Measured from the far end's per-link feedback (docs/link-model.md).
	 * A host or plugin built against the older header sees zeros here
	 * (old host) or ignores them (old plugin): the struct's size is
	 * unchanged. */
	uint64_t capacity_bps;	 /**< estimated capacity (bit/s): windowed max
				      of the delivery rate, 0 until measured */
	uint64_t pacing_bps;	 /**< rate the host paces the link at (bit/s),
				      never above rate_bps when that is set */
	uint32_t queue_delay_us; /**< queueing delay at the bottleneck (us):
				      one-way delay above its windowed min */
	uint32_t base_rtt_us;	 /**< base round-trip time (us): windowed min
				      RTT of the probes, 0 if none yet */
	uint64_t inflight_bytes; /**< bytes sent the far end has not reported
				      receiving yet */
	/* ---- 2026-12, second pass: took spare[0]; a host built against
	 * the older header leaves it 0 (no flag set) ---- */
	uint32_t model_flags; /**< TTT_LINK_F_* bits about the link model */
	uint32_t pad2;	      /**< zero */
	uint64_t spare[1];    /**< reserved, zero */
};

/**
 * ttt_link_view.model_flags: the host's model is still searching for this
 * link's capacity (STARTUP, docs/link-model.md): pacing_bps is a floor
 * that grows about x3 per round trip while packets wait for the link, not
 * what the link can carry, and capacity_bps is what it delivered so far.
 * A backlog drained at that rate overstates how long a packet would wait.
 */
#define TTT_LINK_F_STARTUP 1u

/** What the host knows about the packet being scheduled. */
struct ttt_pkt_info {
	uint32_t len; /**< inner IP packet length (bytes) */
	uint32_t
	    flow_hash;	  /**< hash of the flow's addresses/ports/proto, or 0 */
	uint8_t dscp;	  /**< DSCP of the inner packet (0..63) */
	uint8_t ip_proto; /**< inner IP protocol (6 = TCP, 17 = UDP, ...) */
	uint8_t ip_version; /**< 4 or 6 */
	/**
	 * enum ttt_pkt_class (header of 2026-12: this took pad0, so a plugin
	 * built against the older header ignores it and an older host leaves
	 * it 0 = TTT_CLASS_BULK). The host's flow queue (docs/config.md,
	 * `flow_queue:`) calls a packet interactive when its flow is sparse
	 * or its DSCP is in `interactive_dscp`. The host places interactive
	 * packets itself (the link where they arrive first) and asks `pick`
	 * about them only if the plugin sets TTT_SCHED_F_INTERACTIVE.
	 */
	uint8_t klass;
	uint32_t pad1;	   /**< zero */
	uint64_t seq;	   /**< the packet's sequence number in its direction */
	uint64_t spare[2]; /**< reserved, zero */
};

/** Traffic class of a packet (ttt_pkt_info.klass). */
enum ttt_pkt_class {
	TTT_CLASS_BULK = 0,	   /**< everything else: queued, fair shared */
	TTT_CLASS_INTERACTIVE = 1, /**< latency-sensitive: past the queues */
};

/**
 * ttt_sched_ops.flags: the plugin places interactive packets itself. The
 * host then calls `pick` for them too (klass = TTT_CLASS_INTERACTIVE) and
 * sends them on the link chosen, still ahead of the bulk packets waiting
 * there. Without it (every plugin built before 2026-12) the host sends
 * them on the usable link where they arrive first and never asks.
 */
#define TTT_SCHED_F_INTERACTIVE 1u

/** Context for every call that sees the links. */
struct ttt_sched_ctx {
	uint32_t size; /**< sizeof(struct ttt_sched_ctx) as the host knows it */
	uint32_t dir;  /**< enum ttt_dir of this instance */
	uint64_t
	    now_ns; /**< host monotonic clock (ns); the only clock to use */
	const struct ttt_link_view *links; /**< n_links views, index = answer */
	uint32_t n_links; /**< number of views (<= TTT_SCHED_MAX_LINKS) */
	uint32_t pad0;	  /**< zero */
};

/** Type of one plugin option value, as the YAML scalar parses. */
enum ttt_opt_type {
	TTT_OPT_STRING = 0, /**< any other scalar; only `str` is set */
	TTT_OPT_INT = 1,    /**< a decimal integer; `i` and `str` set */
	TTT_OPT_BOOL = 2,   /**< true/false/yes/no/on/off; `b` and `str` set */
	TTT_OPT_FLOAT = 3,  /**< a decimal number; `d` and `str` set */
};

/**
 * One option from the plugin's YAML mapping. Nested mappings are flattened
 * with dots: `weights: {dsl: 3}` arrives as key "weights.dsl", INT 3.
 */
struct ttt_opt {
	const char *key; /**< option name, NUL-terminated */
	const char *str; /**< the scalar as written, NUL-terminated */
	uint32_t type;	 /**< enum ttt_opt_type */
	int32_t b;	 /**< boolean value if type == TTT_OPT_BOOL */
	int64_t i;	 /**< integer value if type == TTT_OPT_INT */
	double d;	 /**< number if type == TTT_OPT_FLOAT (or INT) */
	uint32_t line;	 /**< 1-based YAML line, for messages (0 if unknown) */
	uint32_t pad0;	 /**< zero */
};

/** Arguments of `init`. Valid only during the call: copy what you keep. */
struct ttt_sched_init {
	uint32_t size;		    /**< sizeof(struct ttt_sched_init) */
	uint32_t dir;		    /**< enum ttt_dir of the new instance */
	const struct ttt_opt *opts; /**< n_opts options from the YAML */
	uint32_t n_opts;
	uint32_t pad0;
	const struct ttt_sched_ctx *ctx; /**< the links at init time */
};

/** Kinds of per-packet sample passed to `feedback`. */
enum ttt_feedback_kind {
	TTT_FB_SENT = 0,      /**< packets left on `link`: once per link per
				   transmit batch, `bytes` = datagram bytes,
				   `count` = packets */
	TTT_FB_LOST = 1,      /**< the far end's feedback showed `count` packets
				   lost on `link` (gaps in the per-link seq) */
	TTT_FB_RTT = 2,	      /**< a probe gave a new RTT sample `rtt_us` */
	TTT_FB_DELIVERED = 3, /**< a feedback report: the far end received
				   `bytes` in `count` packets on `link` since
				   the previous one; `queue_delay_us` is the
				   link's queueing delay it showed */
};

/** One feedback sample. */
struct ttt_feedback {
	uint32_t kind;	 /**< enum ttt_feedback_kind */
	uint32_t link;	 /**< index into ctx->links */
	uint32_t bytes;	 /**< bytes for SENT and DELIVERED, else 0 */
	uint32_t count;	 /**< packets for SENT, LOST and DELIVERED (was pad0,
			      zero for older hosts) */
	uint64_t rtt_us; /**< RTT sample for TTT_FB_RTT */
	uint64_t queue_delay_us; /**< queueing delay for TTT_FB_DELIVERED
				      (was spare[0]) */
	uint64_t spare[1];
};

/** The table a plugin exports. Fields after `struct_size` may grow. */
struct ttt_sched_ops {
	uint32_t magic;	      /**< TTT_SCHED_MAGIC (set by TTT_SCHED_PLUGIN) */
	uint32_t abi_version; /**< TTT_SCHED_ABI_VERSION (set by the macro) */
	uint32_t
	    struct_size;     /**< sizeof(struct ttt_sched_ops) (set by macro) */
	uint32_t flags;	     /**< TTT_SCHED_F_* bits, else zero */
	const char *name;    /**< (required) unique name, e.g. "lowest-rtt" */
	const char *version; /**< (optional) plugin's own version, e.g. "1.2" */
	const char
	    *description; /**< (optional) one line for `tuntunctl plugins` */
	size_t priv_size; /**< bytes of private state per instance (may be 0) */

	/**
	 * (optional) Set up a zeroed instance. Validate every option: an
	 * unknown key or a bad value must fail with a message in err
	 * (NUL-terminated, at most errlen bytes) and a negative errno
	 * (-EINVAL). On failure the host does not call release. Returns 0 on
	 * success.
	 */
	int (*init)(void *priv, const struct ttt_sched_init *args, char *err,
		    size_t errlen);
	/** (optional) Undo init. The host frees priv afterwards. */
	void (*release)(void *priv);
	/**
	 * (required) Choose the link for one packet: return an index in
	 * [0, ctx->n_links) of a usable link (ttt_link_usable), or
	 * TTT_PICK_DROP. Must be fast (tens of ns) and must not allocate.
	 */
	int (*pick)(void *priv, const struct ttt_sched_ctx *ctx,
		    const struct ttt_pkt_info *pkt);
	/**
	 * (optional) The link set or a link's metrics or state changed. Called
	 * once after init, before the first pick, then on every change.
	 */
	void (*links_changed)(void *priv, const struct ttt_sched_ctx *ctx);
	/**
	 * (optional) A sample about one link (enum ttt_feedback_kind): SENT
	 * after each transmit batch, RTT on each probe answer, DELIVERED and
	 * LOST on each feedback report from the far end. Called after the
	 * host updated the views, so ctx already reflects the sample.
	 */
	void (*feedback)(void *priv, const struct ttt_sched_ctx *ctx,
			 const struct ttt_feedback *fb);
	/**
	 * (optional) Write the instance's own state for `status` as a JSON
	 * object into buf (at most len bytes, NUL-terminated). Returns the
	 * length written, or a negative errno.
	 */
	int (*dump)(void *priv, char *buf, size_t len);
	void *spare[8]; /**< reserved, NULL */
};

/** Type of the exported entry function. */
typedef const struct ttt_sched_ops *(*ttt_sched_entry_fn)(void);

/**
 * Define the plugin's entry point from a `static struct ttt_sched_ops`
 * initialiser (without magic/version/size, which this macro fills in):
 *
 *   static const struct ttt_sched_ops my_ops = {
 *       TTT_SCHED_OPS_HEADER, .name = "mine", .pick = my_pick };
 *   TTT_SCHED_PLUGIN(my_ops)
 */
#define TTT_SCHED_OPS_HEADER                                                   \
	.magic = TTT_SCHED_MAGIC, .abi_version = TTT_SCHED_ABI_VERSION,        \
	.struct_size = sizeof(struct ttt_sched_ops)

#define TTT_SCHED_PLUGIN(ops)                                                  \
	__attribute__((visibility("default"))) const struct ttt_sched_ops *    \
	ttt_sched_entry(void);                                                 \
	__attribute__((visibility("default"))) const struct ttt_sched_ops *    \
	ttt_sched_entry(void)                                                  \
	{                                                                      \
		return &(ops);                                                 \
	}

/** True if the link may carry packets (UP or DEGRADED). */
static inline int ttt_link_usable(const struct ttt_link_view *l)
{
	return l->state == TTT_LINK_UP || l->state == TTT_LINK_DEGRADED;
}

/**
 * The link's capacity to schedule against (bit/s): the host's estimate
 * (capacity_bps; before the first measurement the pacing rate it starts
 * with), capped by the configured rate_bps; the configured rate alone when
 * the host measures nothing; 0 when nothing is known. est_rate_bps is
 * deliberately not used: it says what the link carried lately, not what it
 * can carry, and an idle link would look full.
 */
static inline uint64_t ttt_link_rate(const struct ttt_link_view *l)
{
	uint64_t r = l->capacity_bps ? l->capacity_bps : l->pacing_bps;
	if (l->rate_bps && (!r || r > l->rate_bps))
		r = l->rate_bps;
	return r;
}

/**
 * Bytes still queued on the link at `now_ns`: the backlog drains at the
 * pacing rate when the host paces the link (which is how fast it really
 * leaves), else at ttt_link_rate().
 */
static inline uint64_t ttt_link_backlog(const struct ttt_link_view *l,
					uint64_t now_ns)
{
	uint64_t rate = l->pacing_bps ? l->pacing_bps : ttt_link_rate(l);
	if (!rate || !l->backlog_bytes || now_ns <= l->backlog_ns)
		return l->backlog_bytes;
	uint64_t dt = now_ns - l->backlog_ns;
	/* 64-bit math (a multiply, no division call) in the usual case of a
	 * rate under 4 Gbit/s and a backlog stamped under 4 s ago. */
	if (rate <= 0xffffffffu && dt <= 0xffffffffu) {
		uint64_t drained = rate * dt / 8000000000u;
		return drained >= l->backlog_bytes ? 0
						   : l->backlog_bytes - drained;
	}
	__extension__ unsigned __int128 drained128 =
	    (unsigned __int128)rate * dt / 8000000000u;
	return drained128 >= l->backlog_bytes
		   ? 0
		   : l->backlog_bytes - (uint64_t)drained128;
}

/**
 * How long (us) the link's backlog at `now_ns` takes to drain at
 * ttt_link_rate(); 0 when the backlog or the rate is 0. Saturates at
 * UINT64_MAX instead of overflowing on a huge backlog.
 */
static inline uint64_t ttt_link_queue_us(const struct ttt_link_view *l,
					 uint64_t now_ns)
{
	uint64_t rate = ttt_link_rate(l);
	uint64_t backlog = ttt_link_backlog(l, now_ns);
	if (!backlog || !rate)
		return 0;
	if (backlog >= UINT64_MAX / 8000000u)
		return UINT64_MAX;
	return backlog * 8000000u / rate;
}

/**
 * True if sending `len` more bytes would queue more than `max_delay_us` worth
 * of data on the link. Links without a known rate are never full.
 */
static inline int ttt_link_full(const struct ttt_link_view *l, uint64_t now_ns,
				uint32_t len, uint64_t max_delay_us)
{
	uint64_t rate = ttt_link_rate(l);
	if (!rate)
		return 0;
	uint64_t limit = (rate / 8) * max_delay_us / 1000000;
	return ttt_link_backlog(l, now_ns) + len > limit;
}

/** Find an option by key; NULL if absent. */
static inline const struct ttt_opt *ttt_opt_find(const struct ttt_sched_init *a,
						 const char *key)
{
	for (uint32_t i = 0; i < a->n_opts; i++) {
		const char *p = a->opts[i].key, *q = key;
		while (*p && *p == *q)
			p++, q++;
		if (*p == *q)
			return &a->opts[i];
	}
	return NULL;
}

#ifdef __cplusplus
}
#endif
#endif /* TUNTUNTUN_SCHED_H */
