/*
 * Client role: one UDP socket per uplink (pinned with SO_BINDTODEVICE or a
 * source address), the handshake that opens the session, and recovery:
 * a link whose interface vanishes is closed and re-created with backoff, and
 * a session that hears nothing for long is re-opened with a fresh handshake.
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "datapath.h"
#include "base/log.h"
#include "os/netif.h"
#include "os/udpsock.h"
#include "reorder.h"
#include "sched/sched_host.h"

#define HELLO_INTERVAL 1.0
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

const struct cfg_sockaddr *uplink_peer(const struct daemon *d, uint32_t id)
{
	const struct cfg_link *l = &d->cfg.links[id];
	/* A link without `peer` follows server, which dns.c may re-resolve. */
	return l->peer_is_server || !l->peer.len ? &d->cfg.server : &l->peer;
}

uint32_t uplink_mtu(const struct daemon *d, uint32_t id)
{
	const struct cfg_link *l = &d->cfg.links[id];
	uint32_t mtu = l->mtu;
	if (!mtu && l->interface[0] &&
	    netif_get_mtu(l->interface, &mtu, NULL) < 0)
		mtu = 0;
	return mtu ? mtu : 1500;
}

int uplink_open(struct daemon *d, uint32_t id, struct err *e)
{
	const struct cfg_link *l = &d->cfg.links[id];
	const struct cfg_sockaddr *peer = uplink_peer(d, id);
	struct uplink *u = &d->uplinks[id];
	int family = peer->ss.ss_family;
	int ret;
	if (!peer->len)
		return err_set(e, -EAGAIN, "link %s: %s not resolved yet",
			       l->name, d->cfg.server_host);
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, -errno, "link %s: socket: %s", l->name,
			       strerror(errno));
	if (l->interface[0] &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, l->interface,
		       (socklen_t)strlen(l->interface)) < 0) {
		int er = errno;
		ret = err_set(e, -er, "link %s: bind to device %s: %s%s",
			      l->name, l->interface, strerror(er),
			      er == EPERM ? " (run as root, or with "
					    "CAP_NET_RAW)"
					  : "");
		goto fail;
	}
	if ((ret = udpsock_setup(fd, family)) < 0) {
		err_set(e, ret, "link %s: socket options: %s", l->name,
			strerror(-ret));
		goto fail;
	}
	(void)tunio_socket_setup(d, fd); /* without GRO: one datagram each */
	if (l->source.len && bind(fd, (const struct sockaddr *)&l->source.ss,
				  l->source.len) < 0) {
		char a[64];
		ret = err_set(e, -errno, "link %s: bind %s: %s", l->name,
			      sockaddr_str(&l->source.ss, a, sizeof(a)),
			      strerror(errno));
		goto fail;
	}
	if (connect(fd, (const struct sockaddr *)&peer->ss, peer->len) < 0) {
		char a[64];
		ret = err_set(e, -errno, "link %s: connect %s: %s", l->name,
			      sockaddr_str(&peer->ss, a, sizeof(a)),
			      strerror(errno));
		goto fail;
	}
	u->fd = fd;
	u->ifindex = l->interface[0] ? (int)if_nametoindex(l->interface) : 0;
	ev_io_init(&u->io, datapath_sockets_cb, fd, EV_READ);
	/* Packets before timers: after a stall of the loop, what arrived
	 * meanwhile is read before the prober judges the silence. */
	ev_set_priority(&u->io, EV_MAXPRI);
	u->io.data = d;
	ev_io_start(d->loop, &u->io);

	struct path *p = &d->sess->paths[id];
	p->fd = fd;
	p->known = true;
	memcpy(&p->peer, &peer->ss, peer->len);
	p->peer_len = peer->len;
	p->family = family;
	p->link_mtu = uplink_mtu(d, id);
	pmtu_init(&p->pmtu, family == AF_INET ? 576 : 1280, p->link_mtu);
	d->sess->views_dirty = true;
	return 0;
fail:
	close(fd);
	return ret;
}

void uplink_close(struct daemon *d, uint32_t id)
{
	struct uplink *u = &d->uplinks[id];
	if (u->fd < 0)
		return;
	ev_io_stop(d->loop, &u->io);
	close(u->fd);
	u->fd = -1;
	if (d->sess) {
		struct path *p = &d->sess->paths[id];
		p->fd = -1;
		probe_link_init(&p->probe, &d->cfg.probe, now_ns(d));
		d->sess->views_dirty = true;
	}
}

static void uplink_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct uplink *u = w->data;
	struct daemon *d = u->d;
	struct err e;
	if (u->fd >= 0)
		return;
	if (uplink_open(d, u->id, &e) < 0) {
		log_debug("link", "%s (retry in %u ms)", e.msg, u->backoff_ms);
		ev_timer_set(&u->retry, u->backoff_ms / 1000.0, 0.0);
		ev_timer_start(loop, &u->retry);
		u->backoff_ms = u->backoff_ms * 2 > BACKOFF_MAX_MS
				    ? BACKOFF_MAX_MS
				    : u->backoff_ms * 2;
		return;
	}
	log_notice("link", "%s: socket re-created", d->cfg.links[u->id].name);
	u->backoff_ms = BACKOFF_MIN_MS;
	prober_send_now(d->sess, &d->sess->paths[u->id], now_ns(d));
}

/* A send or receive said the interface is gone: close now, retry later. */
void uplink_failed(struct daemon *d, uint32_t id, int err)
{
	struct uplink *u = &d->uplinks[id];
	if (u->fd < 0)
		return;
	log_warn("link", "%s: %s; closing the socket and retrying",
		 d->cfg.links[id].name, strerror(err));
	uplink_close(d, id);
	ev_timer_stop(d->loop, &u->retry);
	ev_timer_set(&u->retry, u->backoff_ms / 1000.0, 0.0);
	ev_timer_start(d->loop, &u->retry);
}

/* Netlink said an interface changed: react at once instead of waiting for
 * the prober or a failing send. */
void client_on_netif_event(struct daemon *d, const struct netif_event *ev)
{
	for (uint32_t i = 0; i < d->cfg.n_links; i++) {
		const struct cfg_link *l = &d->cfg.links[i];
		struct uplink *u = &d->uplinks[i];
		if (!l->interface[0] || strcmp(l->interface, ev->ifname) != 0)
			continue;
		if (!ev->exists || !ev->up) {
			if (u->fd >= 0)
				uplink_failed(d, i, ENODEV);
		} else if (u->fd < 0 || ev->ifindex != u->ifindex) {
			/* Back (or re-created with a new index): a socket
			 * bound to the old index is useless. */
			uplink_close(d, i);
			u->backoff_ms = BACKOFF_MIN_MS;
			ev_timer_stop(d->loop, &u->retry);
			ev_timer_set(&u->retry, 0.05, 0.0);
			ev_timer_start(d->loop, &u->retry);
		}
	}
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One HELLO on one link, with mac2 when the server gave this link's
 * address a cookie recently (it asks for one only under load). */
static void client_send_hello_link(struct daemon *d, uint32_t i, uint64_t now)
{
	static uint64_t last_ts;
	struct session *s = d->sess;
	struct uplink *u = &d->uplinks[i];
	uint8_t buf[WIRE_HELLO_LEN];
	struct wire_hello m;
	if (u->fd < 0 || s->paths[i].admin_down)
		return;
	memset(&m, 0, sizeof(m));
	memcpy(m.client_eph, s->client_eph, WIRE_PUB_LEN);
	m.crypto_mode = (uint8_t)d->cfg.crypto_mode;
	m.ciphers = d->cfg.cipher == CFG_CIPHER_CHACHA20 ? WIRE_CIPHERS_CHACHA20
		    : d->cfg.cipher == CFG_CIPHER_AES256GCM
			? WIRE_CIPHERS_AES256GCM
			: wire_ciphers_local();
	snprintf(m.downstream, sizeof(m.downstream), "%s",
		 d->cfg.sched[TTT_DIR_DOWNSTREAM].plugin);
	uint64_t ts = wall_ns();
	m.timestamp_ns = ts > last_ts ? ts : last_ts + 1;
	last_ts = m.timestamp_ns;
	m.link_id = (uint8_t)i;
	m.link_mtu = (uint16_t)s->paths[i].link_mtu;
	bool fresh = u->cookie_ns && now - u->cookie_ns < COOKIE_CLIENT_TTL_NS;
	size_t len = wire_hello_build(buf, d->psk, &m, fresh ? u->cookie : NULL,
				      u->last_mac1);
	d->hello_sent++;
	if (send(u->fd, buf, len, MSG_DONTWAIT) < 0 && errno != EAGAIN)
		log_debug("handshake", "%s: hello: %s", d->cfg.links[i].name,
			  strerror(errno));
}

static void client_send_hello(struct daemon *d)
{
	uint64_t now = now_ns(d);
	for (uint32_t i = 0; i < d->cfg.n_links; i++)
		client_send_hello_link(d, i, now);
}

/* A new attempt: a new ephemeral key pair (also what names the attempt). */
static void start_handshake(struct daemon *d)
{
	struct session *s = d->sess;
	s->state = SESS_HANDSHAKE;
	diag_client_handshake_start(d, now_ns(d));
	rekey_wipe(&s->rk);
	wire_eph_wipe(&s->hs_eph);
	wire_eph_generate(&s->hs_eph);
	memcpy(s->client_eph, s->hs_eph.pk, WIRE_PUB_LEN);
	client_send_hello(d);
}

/*
 * The server is under load and wants this link's address proven: keep the
 * cookie and send this link's HELLO again at once, now with mac2. The
 * COOKIE must echo the mac1 of the last HELLO sent on the link, and that
 * changes with every HELLO, so one COOKIE triggers at most one resend.
 */
void client_on_cookie(struct daemon *d, int uplink_id, const uint8_t *buf,
		      size_t len, uint64_t now)
{
	struct session *s = d->sess;
	if (s->state != SESS_HANDSHAKE || uplink_id < 0 ||
	    (uint32_t)uplink_id >= d->cfg.n_links)
		return;
	struct uplink *u = &d->uplinks[uplink_id];
	if (wire_cookie_parse(buf, len, u->last_mac1, u->cookie) < 0) {
		d->rx_bad++;
		return;
	}
	u->cookie_ns = now ? now : 1;
	d->cookies_received++;
	log_debug("handshake", "%s: server under load, answering its cookie",
		  d->cfg.links[uplink_id].name);
	client_send_hello_link(d, (uint32_t)uplink_id, now);
}

void client_session_lost(struct daemon *d)
{
	struct session *s = d->sess;
	if (s->state != SESS_ESTABLISHED)
		return;
	log_warn("session",
		 "%08x: no answer from the server for %.1f s; "
		 "opening a new session",
		 s->id, (now_ns(d) - s->last_rx_ns) / 1e9);
	hooks_fire(d, CFG_HOOK_SESSION_DOWN, s, NULL);
	if (s->reorder)
		reorder_flush(s->reorder);
	tunio_flush(d); /* what the flush handed to the tun leaves now */
	sodium_memzero(&s->keys, sizeof(s->keys));
	start_handshake(d); /* also wipes the rekey state */
}

void client_on_hello_ack(struct daemon *d, const uint8_t *buf, size_t len,
			 uint64_t now)
{
	struct session *s = d->sess;
	struct wire_hello_ack a;
	if (s->state != SESS_HANDSHAKE)
		return;
	if (wire_hello_ack_parse(buf, len, d->psk, &a) < 0) {
		d->rx_bad++;
		return;
	}
	if (memcmp(a.client_eph, s->client_eph, WIRE_PUB_LEN) != 0)
		return; /* an answer to an older attempt */
	if (a.status != WR_OK) {
		static uint64_t last_log;
		if (now - last_log > 10000000000ull) {
			if (a.status == WR_SCHEDULER)
				log_err(
				    "handshake",
				    "server refused the session: "
				    "downstream plugin %s could not be "
				    "loaded on the server (its log says "
				    "why)",
				    d->cfg.sched[TTT_DIR_DOWNSTREAM].plugin);
			else
				log_err("handshake",
					"server refused the session: %s",
					a.status == WR_CRYPTO_MODE
					    ? "crypto mode differs from the "
					      "server's"
					    : "unknown reason");
			last_log = now;
		}
		return;
	}
	uint8_t ck[WIRE_CK_LEN];
	if (wire_kx_session(&s->keys, ck, d->cfg.crypto_mode, d->psk,
			    s->hs_eph.sk, s->client_eph, a.server_eph,
			    a.session_id, 1) < 0) {
		d->rx_bad++;
		return;
	}
	s->id = a.session_id;
	memcpy(s->server_eph, a.server_eph, WIRE_PUB_LEN);
	if (d->cfg.cipher == CFG_CIPHER_AES256GCM &&
	    a.cipher != WIRE_CIPHER_AES256GCM) {
		log_err("handshake",
			"server chose %s; this client's YAML "
			"asks for aes-256-gcm only",
			wire_cipher_name(a.cipher));
		sodium_memzero(ck, sizeof(ck));
		sodium_memzero(&s->keys, sizeof(s->keys));
		return;
	}
	if (wire_keys_set_cipher(&s->keys, a.cipher) < 0) {
		log_err("handshake",
			"server chose %s, which this machine "
			"cannot run",
			wire_cipher_name(a.cipher));
		sodium_memzero(ck, sizeof(ck));
		sodium_memzero(&s->keys, sizeof(s->keys));
		return;
	}
	/* Keys in hand: the ephemeral secret goes (forward secrecy). */
	wire_eph_wipe(&s->hs_eph);
	uint64_t bytes, packets;
	session_traffic(s, &bytes, &packets);
	rekey_init(&s->rk, ck, now, bytes, packets);
	sodium_memzero(ck, sizeof(ck));
	s->tx_seq = 1;
	replay_init(&s->replay);
	if (s->reorder)
		reorder_reset(s->reorder); /* the new session counts from 1 */
	for (uint32_t i = 0; i < s->n_paths; i++) { /* and so its links */
		s->paths[i].fbrx.data_high_seq = 0;
		s->paths[i].fbrx.data_rx_ns = 0;
	}
	s->lag_gap = 0;
	tunio_flush(d);
	memset(s->bucket_last, 0, sizeof(s->bucket_last));
	s->state = SESS_ESTABLISHED;
	s->last_rx_ns = now;
	s->established_ns = now;
	s->established_wall_s = (int64_t)time(NULL);
	d->ds_fallback_from[0] = d->ds_fallback_plugin[0] = 0;
	diag_client_established(d, now);
	hooks_fire(d, CFG_HOOK_SESSION_UP, s, NULL);
	log_notice("session", "%08x: established (%s, %s)", s->id,
		   d->cfg.crypto_mode == CRYPTO_ENCRYPT ? "encrypted"
		   : d->cfg.crypto_mode == CRYPTO_AUTH	? "authenticated"
							: "no crypto",
		   wire_cipher_name(s->keys.cipher));
	for (uint32_t i = 0; i < s->n_paths; i++)
		prober_send_now(s, &s->paths[i], now);
	dswap_session_established(s, now);
}

/* Once a second: hellos while no session; session liveness otherwise. */
static void hello_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	struct session *s = d->sess;
	uint64_t now = now_ns(d);
	if (s->state == SESS_HANDSHAKE) {
		client_send_hello(d);
		diag_client_hello_tick(d, now);
		dns_tick(d, now);
		return;
	}
	uint64_t dead_after = 3ull * d->cfg.probe.timeout_ms * 1000000ull;
	if (dead_after < 3000000000ull)
		dead_after = 3000000000ull;
	if (now - s->last_rx_ns > dead_after)
		client_session_lost(d);
}

int client_setup(struct daemon *d, struct err *e)
{
	int ret = wire_key_load(d->cfg.key_file, d->psk, e);
	if (ret < 0)
		return ret;
	if ((ret = daemon_check_cipher(d, e)) < 0)
		return ret;
	struct session *s;
	if ((ret = session_create(d, &s, e)) < 0)
		return ret;
	d->sess = s;
	d->sessions[0] = s;
	d->n_sessions = 1;
	for (uint32_t i = 0; i < d->cfg.n_links; i++) {
		const struct cfg_link *l = &d->cfg.links[i];
		session_path_init(s, i, l->name);
		struct path *p = &s->paths[i];
		p->rate_bps = l->rate_bps;
		p->weight = l->weight;
		p->metered = l->metered;
		p->backup = l->backup;
		p->quota_bytes = l->quota_bytes;
		struct uplink *u = &d->uplinks[i];
		u->d = d;
		u->id = i;
		u->fd = -1;
		u->backoff_ms = BACKOFF_MIN_MS;
		ev_init(&u->retry, uplink_retry_cb);
		u->retry.data = u;
	}
	if ((ret = dns_setup(d, e)) < 0)
		return ret;
	const struct cfg_sched *up = &d->cfg.sched[TTT_DIR_UPSTREAM];
	if ((ret = session_set_sched(s, up->plugin, up->opts, up->n_opts, e)) <
	    0)
		return ret;
	for (uint32_t i = 0; i < d->cfg.n_links; i++) {
		struct err le;
		if (uplink_open(d, i, &le) < 0) {
			log_warn("link", "%s; retrying", le.msg);
			ev_timer_set(&d->uplinks[i].retry, 0.1, 0.0);
			ev_timer_start(d->loop, &d->uplinks[i].retry);
		}
	}
	ev_timer_init(&d->hello_timer, hello_timer_cb, HELLO_INTERVAL,
		      HELLO_INTERVAL);
	d->hello_timer.data = d;
	ev_timer_start(d->loop, &d->hello_timer);
	start_handshake(d);
	return 0;
}

void client_teardown(struct daemon *d)
{
	ev_timer_stop(d->loop, &d->hello_timer);
	dns_teardown(d);
	if (d->sess && d->sess->state == SESS_ESTABLISHED) {
		/* Tell the server at once, so it frees the session. */
		for (uint32_t i = 0; i < d->sess->n_paths; i++)
			datapath_send_msg(d->sess, &d->sess->paths[i], WT_CLOSE,
					  NULL, 0, now_ns(d));
	}
	for (uint32_t i = 0; i < d->cfg.n_links; i++) {
		ev_timer_stop(d->loop, &d->uplinks[i].retry);
		uplink_close(d, i);
	}
	sodium_memzero(d->psk, sizeof(d->psk));
}
