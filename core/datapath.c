/*
 * The packet path. tun -> [seq, flow bucket] -> scheduler -> seal -> link
 * socket, and link socket -> header check -> replay window -> open -> reorder
 * buffer -> tun. It runs on the single event-loop thread and never
 * allocates: transmit uses one scratch buffer, receive a preallocated batch
 * for recvmmsg and the session's packet pool for packets the reorder buffer
 * has to hold.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "datapath.h"
#include "log.h"
#include "reorder.h"
#include "sched_host.h"

/* Packets read from the tun per wakeup: bounded so receive is not starved. */
#define TUN_BATCH 64

/* Link id of the inner-packet classification for the scheduler. */
static void pkt_classify(const uint8_t *pkt, size_t len,
			 struct ttt_pkt_info *info)
{
	info->ip_version = len ? pkt[0] >> 4 : 0;
	if (info->ip_version == 4 && len >= 20) {
		info->dscp = pkt[1] >> 2;
		info->ip_proto = pkt[9];
	} else if (info->ip_version == 6 && len >= 40) {
		info->dscp = (uint8_t)(((pkt[0] & 0x0f) << 2) | (pkt[1] >> 6));
		info->ip_proto = pkt[6];
	}
}

/* Client-side hook for link errors; the server's single socket has none. */
static void path_send_failed(struct session *s, struct path *p, int err,
			     size_t len)
{
	struct daemon *d = s->d;
	p->tx_errors++;
	switch (err) {
	case EAGAIN:
	case ENOBUFS:
		s->tx_drops++;
		break;
	case EMSGSIZE:
		/* pmtu works in whole outer datagrams */
		pmtu_on_emsgsize(&p->pmtu,
				 (uint32_t)len + 8 +
				     (p->family == AF_INET6 ? 40 : 20));
		break;
	case ECONNREFUSED:
	case EHOSTUNREACH:
		/* ICMP from the path: transient, the prober decides. */
		break;
	case ENODEV:
	case ENETDOWN:
	case ENETUNREACH:
	case EADDRNOTAVAIL:
		if (d->client)
			uplink_failed(d, p->id, err);
		break;
	default:
		log_debug("datapath", "%s: send: %s", p->name, strerror(err));
		break;
	}
}

/* Sends a sealed datagram on a path. Returns 0 or -errno. */
static int path_send(struct session *s, struct path *p, const uint8_t *buf,
		     size_t len, uint64_t now)
{
	ssize_t n;
	if (s->d->client)
		n = send(p->fd, buf, len, MSG_DONTWAIT);
	else
		n = sendto(p->fd, buf, len, MSG_DONTWAIT,
			   (const struct sockaddr *)&p->peer, p->peer_len);
	if (n < 0) {
		int err = errno;
		path_send_failed(s, p, err, len);
		return -err;
	}
	p->tx_packets++;
	p->tx_bytes += (uint64_t)n;
	/* Token-bucket view of what the link still has queued. */
	struct ttt_link_view *v = &s->views[p->id];
	p->backlog_bytes = ttt_link_backlog(v, now) + (uint64_t)n;
	p->backlog_ns = now;
	v->backlog_bytes = p->backlog_bytes;
	v->backlog_ns = now;
	v->tx_packets = p->tx_packets;
	v->tx_bytes = p->tx_bytes;
	probe_on_tx_bytes(&p->probe, now, (uint64_t)n);
	if (p->metered)
		quota_account(s->d, p, (uint64_t)n, 0);
	return 0;
}

int datapath_send_msg(struct session *s, struct path *p, uint8_t type,
		      const uint8_t *body, size_t body_len, uint64_t now)
{
	struct daemon *d = s->d;
	if (p->fd < 0 || s->state != SESS_ESTABLISHED)
		return -ENOTCONN;
	if (WIRE_HDR_LEN + body_len + WIRE_TAG_LEN > d->buf_size)
		return -EMSGSIZE;
	struct wire_hdr h = {
	    .version = WIRE_VERSION,
	    .type = type,
	    .link_id = (uint8_t)p->id,
	    .flags = s->keys.mode == CRYPTO_ENCRYPT ? WF_ENCRYPTED : 0,
	    .session_id = s->id,
	    .seq = s->tx_seq++,
	};
	uint8_t *buf = d->txbuf;
	wire_hdr_encode(buf, &h);
	if (body_len)
		memmove(buf + WIRE_HDR_LEN, body, body_len);
	size_t len = wire_seal(&s->keys, buf, body_len);
	return path_send(s, p, buf, len, now);
}

/*
 * Schedules and sends one inner packet that already sits in d->txbuf at
 * WIRE_HDR_LEN + WIRE_DATA_HDR_LEN.
 */
static void send_data(struct session *s, size_t len, uint64_t now)
{
	struct daemon *d = s->d;
	uint8_t *buf = d->txbuf;
	uint8_t *inner = buf + WIRE_HDR_LEN + WIRE_DATA_HDR_LEN;

	if (s->views_dirty)
		session_refresh_views(s, now);
	mss_clamp(inner, len, d->tun_mtu);

	struct ttt_pkt_info info = {.len = (uint32_t)len};
	info.flow_hash = wire_flow_hash(inner, len);
	pkt_classify(inner, len, &info);
	uint64_t seq = s->tx_seq++;
	info.seq = seq;

	struct ttt_sched_ctx ctx;
	session_fill_ctx(s, &ctx, now);
	int idx = sched_pick(s->sched, &ctx, &info);
	if (idx < 0 || (uint32_t)idx >= s->n_paths) {
		s->tx_drops++;
		return;
	}
	struct path *p = &s->paths[idx];
	uint32_t bucket = info.flow_hash % WIRE_BUCKETS;
	uint64_t prev = s->bucket_last[bucket];
	uint64_t gap = prev ? seq - prev : 0;
	struct wire_data dh = {
	    .prev_gap = gap > DATAPATH_MAX_GAP ? 0 : (uint32_t)gap,
	    .bucket = (uint16_t)bucket,
	};
	struct wire_hdr h = {
	    .version = WIRE_VERSION,
	    .type = WT_DATA,
	    .link_id = (uint8_t)p->id,
	    .flags = s->keys.mode == CRYPTO_ENCRYPT ? WF_ENCRYPTED : 0,
	    .session_id = s->id,
	    .seq = seq,
	};
	wire_hdr_encode(buf, &h);
	wire_data_encode(buf + WIRE_HDR_LEN, &dh);
	size_t total = wire_seal(&s->keys, buf, WIRE_DATA_HDR_LEN + len);
	/* Only a packet that left may be a successor's predecessor: a drop
	 * here must not make the receiver wait for it. */
	if (path_send(s, p, buf, total, now) == 0)
		s->bucket_last[bucket] = seq;
}

void datapath_tun_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon *d = w->data;
	uint64_t now = now_ns(d);
	uint8_t *inner = d->txbuf + WIRE_HDR_LEN + WIRE_DATA_HDR_LEN;
	size_t room =
	    d->buf_size - WIRE_HDR_LEN - WIRE_DATA_HDR_LEN - WIRE_TAG_LEN;

	for (int i = 0; i < TUN_BATCH; i++) {
		ssize_t n = read(d->tun_fd, inner, room);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("tun", "read: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		d->tun_rx_packets++;
		struct session *s =
		    d->client ? d->sess
			      : server_session_by_inner(d, inner, (size_t)n);
		if (!s || s->state != SESS_ESTABLISHED || !s->sched) {
			d->tun_rx_dropped++;
			continue;
		}
		send_data(s, (size_t)n, now);
	}
}

static void deliver_direct(struct daemon *d, struct session *s,
			   const uint8_t *pkt, size_t len)
{
	if (write(d->tun_fd, pkt, len) < 0)
		s->tun_write_errors++;
	else
		d->tun_tx_packets++;
}

static void rx_data(struct session *s, uint8_t *body, size_t blen,
		    const struct wire_hdr *h, uint64_t now)
{
	struct daemon *d = s->d;
	struct wire_data dh;
	if (wire_data_decode(body, blen, &dh) < 0) {
		s->rx_bad++;
		return;
	}
	uint8_t *inner = body + WIRE_DATA_HDR_LEN;
	size_t ilen = blen - WIRE_DATA_HDR_LEN;
	if (!d->client && server_check_inner_src(s, inner, ilen) < 0) {
		s->rx_spoofed++;
		return;
	}
	if (!s->reorder) {
		deliver_direct(d, s, inner, ilen);
		return;
	}
	struct pktbuf *b = session_buf_get(s);
	if (!b) {
		/* Pool exhausted (cannot happen while the pool is larger than
		 * the reorder capacity): deliver rather than lose it. */
		deliver_direct(d, s, inner, ilen);
		return;
	}
	b->data = b->raw;
	memcpy(b->data, inner, ilen);
	b->len = (uint32_t)ilen;
	int ret = reorder_push(s->reorder, h->seq, dh.prev_gap, b,
			       (uint32_t)ilen, now);
	if (ret < 0)
		session_buf_put(b);
	session_arm_reorder(s, reorder_next_deadline(s->reorder), now);
}

/* Learns or follows the peer address of a path from an authenticated
 * packet (NAT rebinding): only a packet newer than any seen may move it. */
static void path_learn(struct session *s, struct path *p, int fd,
		       const struct sockaddr_storage *from, socklen_t fromlen,
		       uint64_t seq)
{
	if (!p->known) {
		p->known = true;
		p->fd = fd;
		memcpy(&p->peer, from, fromlen);
		p->peer_len = fromlen;
		p->peer_seq = seq;
		p->family = from->ss_family;
		if (p->id >= s->n_paths)
			s->n_paths = p->id + 1;
		s->views_dirty = true;
		char a[INET6_ADDRSTRLEN + 8];
		log_info("session", "%08x: link %u (%s) registered from %s",
			 s->id, p->id, p->name,
			 sockaddr_str(from, a, sizeof(a)));
		return;
	}
	if (seq > p->peer_seq) {
		p->peer_seq = seq;
		if (!sockaddr_equal(&p->peer, from)) {
			memcpy(&p->peer, from, fromlen);
			p->peer_len = fromlen;
			p->fd = fd;
			char a[INET6_ADDRSTRLEN + 8];
			log_info("session", "%08x: link %s moved to %s", s->id,
				 p->name, sockaddr_str(from, a, sizeof(a)));
		}
	}
}

void datapath_rx(struct daemon *d, int fd, uint8_t *buf, size_t len,
		 const struct sockaddr_storage *from, socklen_t fromlen,
		 int uplink_id, uint64_t now)
{
	struct wire_hdr h;
	if (wire_hdr_decode(buf, len, &h) < 0) {
		d->rx_bad++;
		return;
	}
	if (h.type == WT_HELLO) {
		if (!d->client)
			server_on_hello(d, fd, buf, len, from, fromlen, now);
		return;
	}
	if (h.type == WT_HELLO_ACK) {
		if (d->client)
			client_on_hello_ack(d, buf, len, now);
		return;
	}
	struct session *s =
	    d->client ? d->sess : server_session_by_id(d, h.session_id);
	if (!s || s->state != SESS_ESTABLISHED || s->id != h.session_id ||
	    h.link_id >= CFG_MAX_LINKS) {
		d->rx_unknown_session++;
		return;
	}
	if (replay_check(&s->replay, h.seq) < 0) {
		s->rx_replay++;
		return;
	}
	uint8_t *body;
	size_t blen;
	if (wire_open(&s->keys, buf, len, &h, &body, &blen) < 0) {
		s->rx_auth_fail++;
		return;
	}
	replay_update(&s->replay, h.seq);
	s->last_rx_ns = now;

	struct path *p;
	if (d->client) {
		/* The client's paths are its uplinks: trust the socket. */
		if (uplink_id < 0 || (uint32_t)uplink_id >= s->n_paths)
			return;
		p = &s->paths[uplink_id];
	} else {
		p = &s->paths[h.link_id];
		if (!p->sess) {
			char nm[16];
			snprintf(nm, sizeof(nm), "link%u", h.link_id);
			session_path_init(s, h.link_id, nm);
		}
		path_learn(s, p, fd, from, fromlen, h.seq);
	}
	p->rx_packets++;
	p->rx_bytes += len;
	probe_on_rx_bytes(&p->probe, now, len);
	if (p->metered)
		quota_account(d, p, len, 0);

	switch (h.type) {
	case WT_DATA:
		rx_data(s, body, blen, &h, now);
		break;
	case WT_PROBE:
		prober_on_probe(s, p, body, blen, now);
		break;
	case WT_PROBE_REPLY:
		prober_on_reply(s, p, body, blen, now);
		break;
	case WT_CONTROL:
		peerctl_on_message(s, p, body, blen, now);
		break;
	case WT_CLOSE:
		log_notice("session", "%08x: peer closed the session", s->id);
		if (d->client)
			client_session_lost(d);
		else
			server_session_close(d, s);
		break;
	default:
		s->rx_bad++;
		break;
	}
}

/* Reads a batch of datagrams with one recvmmsg and processes each. */
void datapath_sockets_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon *d = w->data;
	struct rxbatch *rx = d->rx;
	int fd = w->fd;
	int uplink_id = -1;
	if (d->client) {
		struct uplink *u =
		    (struct uplink *)((char *)w - offsetof(struct uplink, io));
		uplink_id = (int)u->id;
	}
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < RX_BATCH; i++) {
			rx->iov[i].iov_base = rx->buf + (size_t)i * d->buf_size;
			rx->iov[i].iov_len = d->buf_size;
			rx->msg[i].msg_hdr.msg_name = &rx->from[i];
			rx->msg[i].msg_hdr.msg_namelen = sizeof(rx->from[i]);
			rx->msg[i].msg_hdr.msg_iov = &rx->iov[i];
			rx->msg[i].msg_hdr.msg_iovlen = 1;
			rx->msg[i].msg_hdr.msg_control = NULL;
			rx->msg[i].msg_hdr.msg_controllen = 0;
			rx->msg[i].msg_hdr.msg_flags = 0;
		}
		int n = recvmmsg(fd, rx->msg, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (d->client && (errno == ENODEV || errno == ENETDOWN))
				uplink_failed(d, (uint32_t)uplink_id, errno);
			/* ECONNREFUSED etc.: ICMP errors on a connected
			 * socket; the prober tracks link health. */
			return;
		}
		uint64_t now = now_ns(d);
		for (int i = 0; i < n; i++) {
			if (rx->msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
				d->rx_truncated++;
				continue;
			}
			datapath_rx(d, fd, rx->iov[i].iov_base,
				    rx->msg[i].msg_len, &rx->from[i],
				    rx->msg[i].msg_hdr.msg_namelen, uplink_id,
				    now);
		}
		if (n < RX_BATCH)
			return;
	}
}

int datapath_init(struct daemon *d, struct err *e)
{
	d->txbuf = aligned_alloc(64, (d->buf_size + 63) & ~63u);
	d->rx = calloc(1, sizeof(*d->rx));
	if (d->rx)
		d->rx->buf = aligned_alloc(64, (size_t)RX_BATCH * d->buf_size);
	if (!d->txbuf || !d->rx || !d->rx->buf)
		return err_set(e, -ENOMEM, "cannot allocate packet buffers");
	return 0;
}

void datapath_free(struct daemon *d)
{
	free(d->txbuf);
	d->txbuf = NULL;
	if (d->rx) {
		free(d->rx->buf);
		free(d->rx);
		d->rx = NULL;
	}
}
