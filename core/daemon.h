/*
 * The daemon's shared state: one event loop, one tun, the sessions and the
 * paths (one per link per session) that carry them. Client and server share
 * all of it; a client simply has exactly one session and owns its links'
 * sockets, while a server has one listening socket per address family and a
 * session per authenticated client.
 *
 * Prototypes are grouped by the file that defines them (OpenBSD style).
 */
#ifndef TTT_DAEMON_H
#define TTT_DAEMON_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf/config.h"
#include "ctl/control.h"
#include "link/linkmodel.h"
#include "link/pmtu.h"
#include "link/probe.h"
#include "queue/fq.h"
#include "queue/pktq.h"
#include "wire/hello_faillog.h"
#include "wire/cookie.h"
#include "wire/rekey.h"
#include "wire/replay.h"
#include "wire/wire.h"
#include <tuntuntun/sched.h>

struct reorder;
struct retx_store;
struct sched_inst;
struct sched_registry;
struct ctl_server;
struct netif_undo;
struct daemon;
struct session;
struct hello_limiter;
struct hooks;
struct resolver;
struct tunio;
struct monitor;

/* Packet buffers: one slab per session, recycled through a free list, so
 * the hot path never allocates. Held packets (reorder) keep their buffer. */
struct pktbuf {
	struct pktbuf *next;  /* free-list link */
	struct session *sess; /* owner, to return it */
	uint32_t len;	      /* bytes of inner packet at data */
	uint8_t *data;	      /* inner packet inside raw */
	uint8_t raw[];	      /* datagram as received */
};

/* One link of one session: where to send, what we measured, what we sent. */
struct path {
	struct session *sess;
	uint32_t id;	 /* link id on the wire (config index) */
	bool known;	 /* server: peer address learned */
	bool admin_down; /* `tuntunctl link NAME down` */
	int fd;		 /* socket to send from (-1: none) */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint64_t peer_seq; /* highest authenticated seq from peer */
	char name[CFG_NAME_MAX];
	uint64_t rate_bps;
	uint32_t weight;
	bool metered, backup;
	uint64_t quota_bytes, quota_used_bytes;
	uint32_t link_mtu; /* outer datagram limit (IP packet size) */
	int family;	   /* AF_INET / AF_INET6 of the transport */
	struct probe_link probe;
	struct pmtu pmtu;
	uint32_t pmtu_probe_size; /* outstanding path-MTU probe (bytes) */
	uint32_t pmtu_probe_id;
	uint64_t pmtu_probe_sent_ns;
	/* token-bucket estimate of bytes not yet drained at the pacing rate
	 * (the pacer's state: datapath.c sends only while it is small) */
	uint64_t backlog_bytes, backlog_ns;
	/* link model, sending side (core/link/linkmodel.h) */
	struct lm lm;
	uint64_t demand_ns;    /* last time the pacer held this link full */
	struct pktq pq;	       /* pacer queue: picked, waiting for the pacer */
	struct pktq iq;	       /* interactive packets: leave before pq */
	uint64_t iq_dgram;     /* datagram bytes of what waits in iq */
	uint64_t pq_dgram;     /* datagram bytes of what waits in pq */
	uint64_t pq_drops;     /* picked onto a full pacer queue */
	uint64_t pace_pending; /* released into the batch, not yet booked */
	bool tx_ctl;	       /* datapath.c: a feedback report is being sent */
	bool fb_stalled;       /* feedback says it stopped delivering: DOWN in
				  the views until a probe answer or progress */
	/* receiving side: what arrived on the link, for WT_FEEDBACK */
	struct {
		bool active; /* a DATA packet with a path_seq arrived */
		uint16_t interval_pkts;
		uint32_t high_seq, rx_packets, rx_bytes, last_rx_us;
		uint32_t owd_min_us, owd_max_us;
		bool had;	    /* the last report counted DATA on it */
		uint64_t quiet_ns;  /* first report since it went quiet */
		uint32_t owd_us;    /* newest DATA packet's one-way delay */
		uint32_t owd_rx_us; /* when it arrived (receiver clock) */
		/* for a gap that may still be on this link (lagging.h) */
		uint64_t data_high_seq; /* highest session seq of its DATA */
		uint64_t data_rx_ns;	/* when its newest DATA arrived */
	} fbrx;
	/* loss recovery (docs/loss-recovery.md), about packets sent on this
	 * link (losses as the receiver saw them, in the direction it sent
	 * from its side): */
	struct {
		uint64_t losses;     /* receiver: path_seq gaps found */
		uint64_t nacks_sent; /* receiver: NACKs sent about this link */
		uint64_t nacks_rx;   /* sender: packets NACKed on this link */
		uint64_t recovered;  /* receiver: resends that filled a gap */
		uint64_t late;	     /* receiver: resends after the give-up */
		uint64_t dup;	     /* receiver: resends already there */
		uint64_t failover;   /* sender: resent because it died */
		uint64_t retx_pkts, retx_bytes; /* sender: resends sent ON it */
		uint64_t seen;	    /* nacks_rx + recovered at the last look */
		uint64_t active_ns; /* when they last moved */
	} rec;
	bool failover_pending; /* went DOWN: resend what it did not deliver */
	/* counters */
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
	uint64_t tx_errors, rx_errors;
	/* rates over the last stats interval */
	uint64_t last_tx_bytes, last_rx_bytes;
	double tx_bps, rx_bps;
	int last_state; /* enum ttt_link_state offered last time */
};

enum sess_state {
	SESS_HANDSHAKE = 0, /* client: HELLO sent, no ACK yet */
	SESS_ESTABLISHED = 1,
};

struct session {
	struct daemon *d;
	uint32_t id;
	int client_idx; /* server: index in cfg->clients */
	enum sess_state state;
	struct wire_keys keys; /* current epoch: what we send with */
	struct wire_rekey rk;  /* the other epoch's keys, rekey state */
	/* the handshake's ephemeral public keys; the client also holds its
	 * secret (hs_eph) until the HELLO_ACK, then wipes it */
	uint8_t client_eph[WIRE_PUB_LEN];
	uint8_t server_eph[WIRE_PUB_LEN];
	struct wire_eph hs_eph;
	uint8_t ack[WIRE_HELLO_LEN]; /* server: the ACK, resent to retries */
	size_t ack_len;
	uint64_t tx_seq; /* next seq to send */
	struct replay replay;
	struct reorder *reorder;
	struct retx_store *retx; /* sender's copies for resends (NULL: off) */
	ev_timer reorder_timer;
	uint64_t reorder_deadline; /* what reorder_timer is armed for */
	uint64_t hold_ns;	   /* reorder hold last set */
	/* gaps held for a lagging link (gap_still_coming in session.c) */
	uint64_t lag_gap, lag_waits;
	/* links' one-way-delay spread (session_note_owd), two-bucket max */
	uint32_t spread_cur_us, spread_prev_us;
	uint64_t spread_start_ns;
	struct path paths[CFG_MAX_LINKS];
	uint32_t n_paths;
	struct ttt_link_view views[CFG_MAX_LINKS];
	bool views_dirty;
	bool any_up;		  /* a view is UP (session_refresh_views) */
	struct sched_inst *sched; /* schedules what this side sends */
	char sched_name[CFG_NAME_MAX];
	uint64_t bucket_last[WIRE_BUCKETS]; /* last DATA seq per flow bucket */
	uint64_t bucket_bulk_ns[WIRE_BUCKETS]; /* last bulk packet scheduled */
	uint64_t last_rx_ns;
	uint64_t created_ns;
	uint64_t established_ns;    /* last handshake (monotonic, 0: none) */
	int64_t established_wall_s; /* the same, as wall-clock seconds */
	char sched_fallback_from[CFG_NAME_MAX]; /* server: downstream asked
						 * for but missing here */
	uint32_t sched_fallback_told; /* server: notices sent to the client */
	/* packet pool */
	void *pool_mem;
	struct pktbuf *free_list;
	/* the packet rx_deliver() lends the reorder buffer from the receive
	 * batch, until it is delivered (datapath.c) */
	struct pktbuf *rx_borrow;
	uint32_t buf_size, pool_count, pool_free;
	/* server: last downstream swap asked by the client (idempotence) */
	int64_t last_sched_req;
	int last_sched_ret;
	char last_sched_err[sizeof(((struct err *)0)->msg)];
	/* counters */
	uint64_t rx_auth_fail, rx_replay, rx_bad, tx_drops, tun_write_errors;
	uint64_t rx_spoofed;
	uint64_t rx_late_delivered; /* past the reorder hold: sent on late */
	/* daemon-owned queue: packets no link's pacer can take yet; with
	 * flow_queue.enabled the flow queue fq, else the FIFO q */
	struct pktq q;
	struct fq fq;
	bool fq_on;
	/* per class (enum ttt_pkt_class): time from the tun to the wire */
	struct {
		uint64_t packets, bytes;
		uint64_t delay_ewma_ns, delay_max_ns;
		uint64_t drops; /* interactive: its queue on the link full */
	} cls[2];
	uint64_t dup_sent;   /* second copies of interactive packets */
	uint64_t rx_dup;     /* copies that arrived after the first */
	ev_timer pace_timer; /* when the first pacer has room again */
	/* receiver: WT_FEEDBACK pacing (datapath.c) */
	ev_timer fb_timer;
	uint64_t fb_last_ns;
	uint32_t fb_pkts; /* DATA packets since the last report */
	bool fb_follow;	  /* a link went quiet: report again, data or not */
	uint64_t fb_sent, fb_received, fb_bad;
	uint64_t tx_too_big;   /* larger than every usable path's MTU */
	uint64_t nack_bad;     /* NACKs that did not parse */
	uint64_t retx_dropped; /* resends that could not be queued or sent */
	uint64_t copies_ahead; /* recovery.copy_ahead copies sent */
};

struct listener {
	struct daemon *d;
	int fd;
	int family;
	ev_io io;
};

/* Client: where the last downstream swap asked of the server stands
 * (dswap.c has the state machine). */
enum dswap_state {
	DSWAP_NONE = 0, /* none asked since the daemon started */
	DSWAP_PENDING,	/* asked (or waiting for a session), no verdict yet */
	DSWAP_OK,	/* the server runs it; cfg's downstream follows */
	DSWAP_REFUSED,	/* the server said no; `error` says why */
	DSWAP_TIMEOUT,	/* no verdict after every retry */
};

/* Client: the downstream swap in flight (carried to the server). */
struct dswap {
	uint64_t req; /* request number, tuntunctl waits on it */
	char plugin[CFG_NAME_MAX];
	struct cfg_opt opts[CFG_MAX_OPTS];
	uint32_t n_opts;
	int tries; /* retries since the last send */
	enum dswap_state state;
	char error[sizeof(((struct err *)0)->msg)];
	ev_timer timer; /* retry */
};

struct uplink { /* client: one configured link's socket */
	struct daemon *d;
	uint32_t id;
	int fd;
	ev_io io;
	ev_timer retry; /* socket re-creation with backoff */
	uint32_t backoff_ms;
	int ifindex;
	/* cookie the server gave this link's address (HELLO under load) */
	uint8_t cookie[WIRE_COOKIE_LEN];
	uint64_t cookie_ns;		       /* when it came; 0 = none */
	uint8_t last_mac1[WIRE_HELLO_MAC_LEN]; /* of the last HELLO sent */
};

struct daemon {
	struct ev_loop *loop;
	struct config cfg;
	const char *exe_dir;
	uint64_t start_ns;
	bool client;
	uint8_t psk[WIRE_KEY_LEN];	     /* client */
	uint8_t (*client_psk)[WIRE_KEY_LEN]; /* server: per cfg client */
	uint8_t (*client_keyid)[WIRE_KEYID_LEN];
	uint64_t *client_last_hello; /* server: replay guard */
	/* server: hash of the last downstream-plugin refusal logged per
	 * client (0 = none), so a retried HELLO is not logged again */
	uint64_t *client_sched_refused;
	struct session **client_sess; /* server: by client index */
	/* tun */
	int tun_fd;
	char tun_name[IFNAMSIZ];
	uint32_t tun_mtu;
	ev_io tun_io;
	/* client */
	struct uplink uplinks[CFG_MAX_LINKS];
	struct session *sess; /* client's only session */
	ev_timer hello_timer;
	uint64_t hello_interval_ns;
	/* server */
	struct listener listeners[2];
	int n_listeners;
	struct hello_limiter
	    *hello_rl; /* per-source HELLO budget (hello_limit.c) */
	/* HELLOs: accepted, bad (no such key, bad MAC), replayed or stale
	 * timestamp, over the per-source rate; none of them leaves state */
	uint64_t hello_ok, hello_bad, hello_replayed, hello_ratelimited;
	struct hello_faillog *hello_fl; /* failed HELLOs, logged (diag.c) */
	/* client: the stretch without a session, for diag.c's reports */
	uint64_t hs_since_ns, hs_next_report_ns, hs_report_every_ns;
	uint32_t hs_reported;
	/* client: the server runs another downstream plugin than we asked */
	char ds_fallback_plugin[CFG_NAME_MAX], ds_fallback_from[CFG_NAME_MAX];
	/* under load: COOKIEs sent, HELLOs admitted by their cookie, and
	 * HELLOs of the refused protocol version 1 */
	uint64_t hello_cookie_sent, hello_cookie_ok, hello_old_version;
	struct cookie_jar cookies;
	struct hello_limiter *hello_rl_proven; /* cookie-proven sources */
	/* client: HELLOs sent, COOKIEs received */
	uint64_t hello_sent, cookies_received;
	/* common */
	struct session **sessions; /* server: by slot; client: [0] */
	uint32_t n_sessions, max_sessions;
	struct sched_registry *reg;
	ev_timer probe_timer;
	uint64_t probe_next_send_ns; /* prober.c: next regular probe round */
	ev_timer stats_timer;
	ev_signal sig_int, sig_term, sig_hup;
	ev_io mon_io;
	int mon_fd;
	struct ctl_server *ctl;
	struct hooks *hooks;	   /* hooks.c; NULL when none is configured */
	struct resolver *resolver; /* dns.c: client, server by host name */
	uint64_t dns_asked_ns;	   /* dns.c: last look-up started */
	struct monitor *mon; /* monitor.c: `http:` listener, NULL when off */
	struct netif_undo *undo;
	/* datapath scratch buffers (single-threaded) */
	uint8_t *txbuf;
	uint8_t *rdbuf; /* datapath.c: one inner packet read from the tun */
	uint32_t buf_size;
	struct rxbatch *rx;
	struct txbatch *tx; /* datapath.c: transmit batch */
	struct tunio *tio;  /* tunio.c: the tun's offload ends */
	uint64_t udp_gro_msgs, udp_gro_segs; /* GRO'd receives, datagrams */
	uint64_t rx_bad, rx_unknown_session, rx_truncated;
	uint32_t rx_us; /* monotonic us of the receive batch being handled */
	uint32_t tx_us; /* monotonic us stamped on the DATA being sent */
	struct dswap dswap; /* client: downstream swap (dswap.c) */
	bool quota_dirty;
	bool quota_save_failing;		  /* quota.c: logged once */
	uint64_t quota_saved_ns;		  /* quota.c: last good save */
	uint64_t quota_saved_used[CFG_MAX_LINKS]; /* usage in that save */
	int64_t quota_period[CFG_MAX_LINKS];
	int quota_dirfd;      /* quota.c: the state file's directory */
	bool quota_dir_open;  /* quota_dirfd is valid */
	bool quota_main_good; /* the state file on disk is a good one */
	uint32_t stats_ticks;
	/* counters */
	uint64_t tun_rx_packets, tun_tx_packets, tun_rx_dropped;
	int exit_code;
};

static inline uint64_t now_ns(struct daemon *d)
{
	return (uint64_t)(ev_now(d->loop) * 1e9);
}

/* daemon.c */
int daemon_setup(struct daemon *d, struct err *e);
void daemon_teardown(struct daemon *d);
/* One line for systemd's STATUS=: the server (or listen address), the
 * session(s), how many links are up and, on a client, each link's state. */
void daemon_status_line(struct daemon *d, char *buf, size_t len);
/* Sends that line if it changed (os/sdnotify.c). */
void daemon_notify_status(struct daemon *d);
uint64_t mono_ns(void);
/* libsodium runs AES-256-GCM only on CPUs with AES instructions, so
 * `cipher: aes-256-gcm` without them is refused at start (either role). */
int daemon_check_cipher(const struct daemon *d, struct err *e);

/* session.c */
int session_create(struct daemon *d, struct session **out, struct err *e);
void session_destroy(struct session *s);
struct pktbuf *session_buf_get(struct session *s);
void session_buf_put(struct pktbuf *b);
void session_refresh_views(struct session *s, uint64_t now);
int session_set_sched(struct session *s, const char *name,
		      const struct cfg_opt *opts, uint32_t n_opts,
		      struct err *e);
/* The same for a plugin name that came from the peer (HELLO, sched-set):
 * only a plugin name (sched_name_valid()), looked up in the plugin
 * directory; never a path. -EINVAL otherwise, nothing loaded. */
int session_set_sched_remote(struct session *s, const char *name,
			     const struct cfg_opt *opts, uint32_t n_opts,
			     struct err *e);
void session_path_init(struct session *s, uint32_t id, const char *name);
void session_paths_release(struct session *s);
void session_arm_reorder(struct session *s, uint64_t deadline, uint64_t now);
void session_fill_ctx(struct session *s, struct ttt_sched_ctx *ctx,
		      uint64_t now);
/* Hands the scheduler one struct ttt_feedback sample (if it takes them). */
void session_feedback(struct session *s, uint32_t kind, uint32_t link,
		      uint32_t bytes, uint32_t count, uint64_t rtt_us,
		      uint64_t queue_delay_us, uint64_t now);
const char *link_state_name(int st);
uint32_t path_inner_mtu(const struct session *s, const struct path *p);
/* Reorder hold from the prober's delay figures, within the YAML bounds. */
void session_update_hold(struct session *s);
/* Receiver: the one-way delay of a DATA packet that arrived on p at rx_us;
 * raises the reorder hold at once when the links' spread outgrows it. */
void session_note_owd(struct session *s, struct path *p, uint32_t owd_us,
		      uint32_t rx_us, uint64_t now);
/* Retransmission store's age limit from max_wait and the links' RTTs. */
void session_update_retx_age(struct session *s);
/* Rekeying glue (wire/rekey.h): timers, REKEY on the server, REKEY_ACK on
 * the client, and the keys that open a received packet. */
void session_rekey_tick(struct session *s, uint64_t now);
void session_on_rekey(struct session *s, struct path *p, const uint8_t *body,
		      size_t len, uint64_t now);
void session_on_rekey_ack(struct session *s, const uint8_t *body, size_t len,
			  uint64_t now);
void session_traffic(const struct session *s, uint64_t *bytes,
		     uint64_t *packets);
/* Server: the client's first packet under the next epoch arrived. */
void session_rekey_confirmed(struct session *s);
/* Server: keys past the hard limits (wire/rekey.h); the session must end. */
bool session_keys_expired(struct session *s, uint64_t now);

/* datapath.c */
void datapath_tun_cb(struct ev_loop *loop, ev_io *w, int revents);
void datapath_tun_write(struct session *s, const uint8_t *pkt, size_t len,
			struct pktbuf *b);
void datapath_rx(struct daemon *d, int fd, uint8_t *buf, size_t len,
		 const struct sockaddr_storage *from, socklen_t fromlen,
		 int uplink_id, uint64_t now);
int datapath_send_msg(struct session *s, struct path *p, uint8_t type,
		      const uint8_t *body, size_t body_len, uint64_t now);
void datapath_sockets_cb(struct ev_loop *loop, ev_io *w, int revents);
void datapath_pace_cb(struct ev_loop *loop, ev_timer *w, int revents);
void datapath_fb_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* tunio.c: the tun's read and write ends, with or without offloads */
int tunio_init(struct daemon *d, struct err *e);
void tunio_free(struct daemon *d);
int tunio_open(struct daemon *d, struct err *e);
bool tunio_udp_gro(const struct daemon *d);
int tunio_socket_setup(struct daemon *d, int fd);
/* Next inner packet (a whole one or a super-packet's next segment) into
 * out; -1 with errno EAGAIN when the tun is drained. */
ssize_t tunio_read(struct daemon *d, uint8_t *out, size_t room);
/* Segments of a super-packet still to be taken: read before returning. */
bool tunio_pending(const struct daemon *d);
/* Hands an inner packet to the tun (b: its pool buffer, released once
 * written; NULL when pkt lives in the receive batch). Held packets leave
 * at tunio_flush(), which every callback that writes calls before it
 * returns. */
void tunio_write(struct daemon *d, struct session *s, const uint8_t *pkt,
		 size_t len, struct pktbuf *b);
void tunio_flush(struct daemon *d);
json_t *tunio_status(const struct daemon *d);

/* prober.c */
void prober_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
void prober_on_probe(struct session *s, struct path *p, const uint8_t *body,
		     size_t len, uint64_t now);
void prober_on_reply(struct session *s, struct path *p, const uint8_t *body,
		     size_t len, uint64_t now);
void prober_send_now(struct session *s, struct path *p, uint64_t now);

/* client.c */
int client_setup(struct daemon *d, struct err *e);
void client_teardown(struct daemon *d);
void client_on_hello_ack(struct daemon *d, const uint8_t *buf, size_t len,
			 uint64_t now);
void client_on_cookie(struct daemon *d, int uplink_id, const uint8_t *buf,
		      size_t len, uint64_t now);
void client_session_lost(struct daemon *d);
/* Link id's server endpoint: its own `peer`, else server.address:port. */
const struct cfg_sockaddr *uplink_peer(const struct daemon *d, uint32_t id);
/* Link id's MTU: `mtu:`, else its interface's, else 1500. */
uint32_t uplink_mtu(const struct daemon *d, uint32_t id);
int uplink_open(struct daemon *d, uint32_t id, struct err *e);
void uplink_close(struct daemon *d, uint32_t id);
void uplink_failed(struct daemon *d, uint32_t id, int err);
struct netif_event;
void client_on_netif_event(struct daemon *d, const struct netif_event *ev);

/* server.c */
int server_setup(struct daemon *d, struct err *e);
void server_teardown(struct daemon *d);
void server_on_hello(struct daemon *d, int fd, const uint8_t *buf, size_t len,
		     const struct sockaddr_storage *from, socklen_t fromlen,
		     uint64_t now);
/* A datagram of a protocol version this server does not speak. */
void server_on_old_version(struct daemon *d, const uint8_t *buf, size_t len,
			   const struct sockaddr_storage *from, uint64_t now);
struct session *server_session_by_id(struct daemon *d, uint32_t id);
struct session *server_session_by_inner(struct daemon *d, const uint8_t *pkt,
					size_t len);
void server_expire_sessions(struct daemon *d, uint64_t now);
void server_session_close(struct daemon *d, struct session *s);
int server_check_inner_src(struct session *s, const uint8_t *pkt, size_t len);

/* ctlcmd.c */
extern const struct ctl_command daemon_ctl_commands[];
json_t *status_json(struct daemon *d);

/* dswap.c (client) */
/* Carries a downstream choice to the server, for `scheduler set
 * downstream`, SIGHUP and session start alike, so all three go through the
 * same retries and land their verdict in status. Without a session it waits,
 * pending, until dswap_session_established(). Returns the request number. */
uint64_t dswap_request(struct daemon *d, const char *plugin,
		       const struct cfg_opt *opts, uint32_t n);
/* The server answered a sched-set. */
void dswap_on_reply(struct session *s, json_t *msg);
/* SIGHUP: a changed `scheduler.downstream` (ns) is the server's to apply. */
void dswap_reload(struct daemon *d, const struct cfg_sched *ns);
/* The HELLO named only the downstream plugin, so the server runs it with
 * its own YAML's options (when it configures the same plugin) or none: sends
 * link facts, then the YAML's (or an accepted swap's) options, or a swap
 * asked while the session was down. */
void dswap_session_established(struct session *s, uint64_t now);
/* status: {req, plugin, state, error} of the last swap, NULL if none. */
json_t *dswap_status_json(struct daemon *d);
const char *dswap_state_name(enum dswap_state st);
void dswap_stop(struct daemon *d);

/* diag.c: lines that say why a tunnel is not up */
/* Server: one failed HELLO from `from`, logged rate-limited per source. */
void diag_hello_failed(struct daemon *d, const struct sockaddr_storage *from,
		       enum hello_fail why, uint64_t now);
/* Server: true (and warned) when a HELLO for client idx from `from` comes
 * from a second machine while `old` is still in use (heuristic in diag.c). */
bool diag_duplicate_key(struct daemon *d, const struct session *old, int idx,
			const struct sockaddr_storage *from, uint64_t now);
/* Client: a handshake began, one more HELLO round, or the server answered. */
void diag_client_handshake_start(struct daemon *d, uint64_t now);
void diag_client_hello_tick(struct daemon *d, uint64_t now);
void diag_client_established(struct daemon *d, uint64_t now);

/* hooks.c: `hooks:` commands per link/session event, never blocking */
int hooks_init(struct daemon *d, struct err *e);
/* event: enum cfg_hook_event; s and p may be NULL (p: link events). */
void hooks_fire(struct daemon *d, int event, const struct session *s,
		const struct path *p);
void hooks_teardown(struct daemon *d);
const char *hooks_event_name(int event);

/* dns.c (client): server.address as a host name, resolved off the loop */
int dns_setup(struct daemon *d, struct err *e);
/* Once a second: re-resolve when there has been no session for a while. */
void dns_tick(struct daemon *d, uint64_t now);
void dns_teardown(struct daemon *d);
/* monitor.c: the `http:` listener's life and its snapshots */
int monitor_setup(struct daemon *d, struct err *e);
void monitor_start(struct daemon *d);
void monitor_teardown(struct daemon *d);
struct httpd_stats;
/* The listener's request counters; false when it is off. */
bool monitor_http_stats(struct daemon *d, struct httpd_stats *st);

/* confcheck.c: `tuntuntun -n` (conf/config_check.h) plus the plugins:
 * each direction's scheduler is instantiated with its options, released. */
struct cfgchk;
void confcheck_plugins(struct cfgchk *c);
/* cfgchk_open + every check; the caller prints c's messages and closes. */
int confcheck_run(const struct config *cfg, struct cfgchk *c);

/* quota.c */
int quota_load(struct daemon *d, struct err *e);
int quota_save(struct daemon *d, struct err *e);
/* Closes the state directory (after the last quota_save). */
void quota_close(struct daemon *d);
void quota_roll(struct daemon *d);
void quota_account(struct daemon *d, struct path *p, uint64_t bytes,
		   uint64_t now_wall);

#endif
