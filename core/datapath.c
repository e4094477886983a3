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
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "datapath.h"
#include "peerctl.h"
#include "base/log.h"
#include "reorder.h"
#include "sched/sched_host.h"

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

/* Errors after which the rest of a path's batch is not tried: the socket
 * is full or the link is gone (and its socket closed). Anything else
 * concerns one datagram (too big, an ICMP error reported late). */
static bool send_err_fatal(int err)
{
	switch (err) {
	case EAGAIN:
	case ENOBUFS:
	case ENODEV:
	case ENETDOWN:
	case ENETUNREACH:
	case EADDRNOTAVAIL:
	case EBADF:
		return true;
	default:
		return false;
	}
}

/* Counts `count` datagrams of `len` bytes that failed with err on a path,
 * and reacts to the error; the client closes a link whose interface went
 * away (the server's single socket has no such hook). */
static void path_send_failed(struct session *s, struct path *p, int err,
			     size_t len, uint32_t count)
{
	struct daemon *d = s->d;
	p->tx_errors += count;
	switch (err) {
	case EAGAIN:
	case ENOBUFS:
		s->tx_drops += count;
		break;
	case EMSGSIZE:
		/* pmtu works in whole outer datagrams */
		pmtu_on_emsgsize(
		    &p->pmtu, (uint32_t)(len + wire_outer_overhead(p->family)));
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

/* Books `bytes` in `pkts` datagrams that left on a path: counters, the
 * token-bucket view of what the link still has queued, the prober's rate,
 * the quota. The view is rebuilt from the path, which also undoes what
 * txq_add() booked ahead for datagrams that did not leave. */
static void path_sent(struct session *s, struct path *p, uint64_t pkts,
		      uint64_t bytes, uint64_t now)
{
	struct ttt_link_view *v = &s->views[p->id];
	struct ttt_link_view aged = *v;
	aged.backlog_bytes = p->backlog_bytes;
	aged.backlog_ns = p->backlog_ns;
	p->tx_packets += pkts;
	p->tx_bytes += bytes;
	p->backlog_bytes = ttt_link_backlog(&aged, now) + bytes;
	p->backlog_ns = now;
	v->backlog_bytes = p->backlog_bytes;
	v->backlog_ns = now;
	v->tx_packets = p->tx_packets;
	v->tx_bytes = p->tx_bytes;
	if (bytes) {
		probe_on_tx_bytes(&p->probe, now, bytes);
		if (p->metered)
			quota_account(s->d, p, bytes, 0);
	}
	v->quota_used_bytes = p->quota_used_bytes;
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
		path_send_failed(s, p, err, len, 1);
		return -err;
	}
	path_sent(s, p, 1, (uint64_t)n, now);
	return 0;
}

/* Writes the header of packet `seq` of `type` on path p at buf. */
static void hdr_encode(uint8_t *buf, const struct session *s,
		       const struct path *p, uint8_t type, uint64_t seq)
{
	struct wire_hdr h = {
	    .version = WIRE_VERSION,
	    .type = type,
	    .link_id = (uint8_t)p->id,
	    .flags = s->keys.mode == CRYPTO_ENCRYPT ? WF_ENCRYPTED : 0,
	    .session_id = s->id,
	    .seq = seq,
	};
	wire_hdr_encode(buf, &h);
}

int datapath_send_msg(struct session *s, struct path *p, uint8_t type,
		      const uint8_t *body, size_t body_len, uint64_t now)
{
	struct daemon *d = s->d;
	if (p->fd < 0 || s->state != SESS_ESTABLISHED)
		return -ENOTCONN;
	if (WIRE_HDR_LEN + body_len + WIRE_TAG_LEN > d->buf_size)
		return -EMSGSIZE;
	uint8_t *buf = d->txbuf;
	hdr_encode(buf, s, p, type, s->tx_seq++);
	if (body_len)
		memmove(buf + WIRE_HDR_LEN, body, body_len);
	size_t len = wire_seal(&s->keys, buf, body_len);
	return path_send(s, p, buf, len, now);
}

/* Fills msg[m] with slots order[first .. first+k-1] of a path, as one UDP
 * GSO message when k > 1. */
static void txq_msg(struct txbatch *tb, struct path *p, bool client, uint32_t m,
		    uint32_t first, uint32_t k)
{
	struct msghdr *mh = &tb->msg[m].msg_hdr;
	for (uint32_t j = 0; j < k; j++) {
		struct txslot *sl = &tb->slot[tb->order[first + j]];
		tb->iov[first + j].iov_base = sl->buf;
		tb->iov[first + j].iov_len = sl->len;
	}
	memset(mh, 0, sizeof(*mh));
	if (!client) {
		mh->msg_name = &p->peer;
		mh->msg_namelen = p->peer_len;
	}
	mh->msg_iov = &tb->iov[first];
	mh->msg_iovlen = k;
	if (k > 1) {
		struct cmsghdr *cm = &tb->cmsg[m].align;
		uint16_t seg = (uint16_t)tb->lens[first];
		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(seg));
		memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
		mh->msg_control = cm;
		mh->msg_controllen = CMSG_SPACE(sizeof(seg));
	}
}

/* UDP GSO refused for a reason that will not go away (old kernel, no
 * checksum offload on the way, a tunnel device under the path): plain
 * sendmmsg from now on. EINVAL only means this run was too large for the
 * path MTU, so the run is resent datagram by datagram, which reports
 * EMSGSIZE to path MTU discovery as without GSO. */
static bool gso_refused(struct txbatch *tb, int err)
{
	if (err == EIO || err == ENOPROTOOPT || err == EOPNOTSUPP) {
		if (tb->gso)
			log_notice("datapath",
				   "UDP GSO not available (%s): sending "
				   "datagrams one by one",
				   strerror(err));
		tb->gso = false;
		return true;
	}
	return err == EINVAL;
}

/*
 * Sends every slot queued on one path, in order, with as few syscalls as
 * the kernel allows, and books what left. sendmmsg stops at the first
 * message that fails, so the loop resumes after it; a fatal error (full
 * socket, link gone) drops the rest of the path's batch.
 */
static void txq_flush_path(struct txbatch *tb, struct session *s,
			   struct path *p, uint64_t now)
{
	bool client = s->d->client;
	uint32_t n = 0;
	for (uint16_t i = tb->head[p->id]; i != TX_NONE; i = tb->slot[i].next) {
		tb->order[n] = i;
		tb->lens[n++] = tb->slot[i].len;
	}
	if (p->fd < 0) {
		s->tx_drops += n;
		return;
	}
	uint32_t nmsg;
	if (tb->gso) {
		nmsg = txbatch_group(tb->lens, n, TX_GSO_SEGS, TX_GSO_BYTES,
				     tb->count);
	} else {
		for (uint32_t j = 0; j < n; j++)
			tb->count[j] = 1;
		nmsg = n;
	}
	for (uint32_t m = 0, first = 0; m < nmsg; first += tb->count[m++])
		txq_msg(tb, p, client, m, first, tb->count[m]);

	uint64_t pkts = 0, bytes = 0;
	uint32_t m = 0, first = 0;
	while (m < nmsg) {
		int r = sendmmsg(p->fd, &tb->msg[m], nmsg - m, MSG_DONTWAIT);
		if (r > 0) {
			for (int j = 0; j < r; j++, first += tb->count[m++])
				for (uint32_t q = 0; q < tb->count[m]; q++) {
					tb->slot[tb->order[first + q]].sent =
					    true;
					bytes += tb->lens[first + q];
					pkts++;
				}
			continue;
		}
		int err = r < 0 ? errno : EAGAIN;
		if (err == EINTR)
			continue;
		uint32_t k = tb->count[m];
		if (k > 1 && gso_refused(tb, err)) {
			/* Resend this run as single datagrams. */
			for (uint32_t q = 0; q < k; q++) {
				struct txslot *sl =
				    &tb->slot[tb->order[first + q]];
				if (p->fd < 0) {
					s->tx_drops++;
					continue;
				}
				if (path_send(s, p, sl->buf, sl->len, now) == 0)
					sl->sent = true;
			}
		} else {
			path_send_failed(s, p, err, tb->lens[first], k);
			if (send_err_fatal(err) || p->fd < 0) {
				uint32_t rest = 0;
				for (uint32_t j = m + 1; j < nmsg; j++)
					rest += tb->count[j];
				if (err == EAGAIN || err == ENOBUFS)
					s->tx_drops += rest;
				else
					p->tx_errors += rest;
				break;
			}
		}
		first += tb->count[m++];
	}
	path_sent(s, p, pkts, bytes, now);
}

/*
 * Sends the whole batch, then settles the flow buckets: txq_add() chained
 * every packet to the previous one queued in its bucket, but only a packet
 * that left may stay a bucket's last (a successor must not make the
 * receiver wait for a packet that was never sent). Walking back in seq
 * order undoes each unsent tail, so bucket_last ends at the newest sent
 * packet, or where it was before the batch.
 */
static void txq_flush(struct daemon *d, uint64_t now)
{
	struct txbatch *tb = d->tx;
	struct session *s = tb->sess;
	if (!tb->n)
		return;
	for (uint32_t i = 0; i < tb->n; i++) {
		uint16_t id = tb->slot[i].path;
		if (tb->head[id] == TX_NONE)
			continue;
		txq_flush_path(tb, s, &s->paths[id], now);
		tb->head[id] = TX_NONE;
	}
	for (uint32_t i = tb->n; i-- > 0;) {
		struct txslot *sl = &tb->slot[i];
		if (!sl->sent && s->bucket_last[sl->bucket] == sl->seq)
			s->bucket_last[sl->bucket] = sl->prev;
	}
	tb->n = 0;
	tb->sess = NULL;
}

/*
 * Schedules and seals one inner packet that was read into the next free
 * slot at WIRE_HDR_LEN + WIRE_DATA_HDR_LEN, and queues it on its path. The
 * packet is booked in the link view at once (backlog, bytes, quota) so the
 * scheduler sees it when it picks the next packet of the same batch.
 */
/*
 * The scheduler chose a link whose path MTU (as probing found it) is too
 * small for this packet: rather than send a datagram the path drops, use
 * the usable link (UP before DEGRADED) that carries it, or drop it here.
 */
static int fitting_path(struct session *s, size_t len)
{
	int best = -1;
	for (uint32_t i = 0; i < s->n_paths; i++) {
		const struct ttt_link_view *v = &s->views[i];
		if (!ttt_link_usable(v) || len > v->mtu)
			continue;
		if (best < 0 || (v->state == TTT_LINK_UP &&
				 s->views[best].state != TTT_LINK_UP))
			best = (int)i;
	}
	if (best < 0)
		s->tx_too_big++;
	return best;
}

static void txq_add(struct session *s, size_t len, uint64_t now)
{
	struct daemon *d = s->d;
	struct txbatch *tb = d->tx;
	struct txslot *sl = &tb->slot[tb->n];
	uint8_t *buf = sl->buf;
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
	if (idx >= 0 && (uint32_t)idx < s->n_paths && len > s->views[idx].mtu)
		idx = fitting_path(s, len);
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
	hdr_encode(buf, s, p, WT_DATA, seq);
	wire_data_encode(buf + WIRE_HDR_LEN, &dh);
	size_t total = wire_seal(&s->keys, buf, WIRE_DATA_HDR_LEN + len);
	if (!total) {
		s->tx_drops++;
		return;
	}

	sl->len = (uint32_t)total;
	sl->path = (uint16_t)p->id;
	sl->next = TX_NONE;
	sl->bucket = (uint16_t)bucket;
	sl->sent = false;
	sl->seq = seq;
	sl->prev = prev;
	uint16_t me = (uint16_t)tb->n++;
	if (tb->head[p->id] == TX_NONE)
		tb->head[p->id] = me;
	else
		tb->slot[tb->tail[p->id]].next = me;
	tb->tail[p->id] = me;
	tb->sess = s;
	/* Provisional: txq_flush() rolls it back if the packet does not go. */
	s->bucket_last[bucket] = seq;

	struct ttt_link_view *v = &s->views[p->id];
	v->backlog_bytes = ttt_link_backlog(v, now) + total;
	v->backlog_ns = now;
	v->tx_packets++;
	v->tx_bytes += total;
	if (p->metered)
		v->quota_used_bytes += total;
}

/*
 * Reads up to TX_BATCH packets from the tun, each straight into its own
 * batch slot, and sends them per path at the end (or earlier when the
 * next packet belongs to another session, since a batch has one owner).
 */
void datapath_tun_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon *d = w->data;
	struct txbatch *tb = d->tx;
	uint64_t now = now_ns(d);
	size_t room =
	    d->buf_size - WIRE_HDR_LEN - WIRE_DATA_HDR_LEN - WIRE_TAG_LEN;

	for (int i = 0; i < TX_BATCH; i++) {
		uint8_t *inner =
		    tb->slot[tb->n].buf + WIRE_HDR_LEN + WIRE_DATA_HDR_LEN;
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
		if (tb->n && tb->sess != s) {
			/* Flushing reuses slot 0: move this packet there. */
			txq_flush(d, now);
			if (inner !=
			    tb->slot[0].buf + WIRE_HDR_LEN + WIRE_DATA_HDR_LEN)
				memcpy(tb->slot[0].buf + WIRE_HDR_LEN +
					   WIRE_DATA_HDR_LEN,
				       inner, (size_t)n);
		}
		txq_add(s, (size_t)n, now);
	}
	txq_flush(d, now);
}

/* The one place an inner packet is written to the tun: straight from
 * rx_data(), or in order from the reorder buffer (session.c). A failed
 * write loses that packet only and is counted; a session torn down after
 * the tun closed (its reorder buffer hands back what it held) writes
 * nothing. */
void datapath_tun_write(struct session *s, const uint8_t *pkt, size_t len)
{
	struct daemon *d = s->d;
	if (d->tun_fd < 0)
		return;
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
		datapath_tun_write(s, inner, ilen);
		return;
	}
	struct pktbuf *b = session_buf_get(s);
	if (!b) {
		/* Pool exhausted (cannot happen while the pool is larger than
		 * the reorder capacity): deliver rather than lose it. */
		datapath_tun_write(s, inner, ilen);
		return;
	}
	b->data = b->raw;
	memcpy(b->data, inner, ilen);
	b->len = (uint32_t)ilen;
	int ret = reorder_push(s->reorder, h->seq, dh.prev_gap, b,
			       (uint32_t)ilen, now);
	if (ret == -ESTALE) {
		/* Arrived after its gap was given up on. The replay window
		 * already vouched it is no duplicate, and for TCP a late
		 * segment is worth far more than a lost one: deliver it. */
		datapath_tun_write(s, b->data, ilen);
		s->rx_late_delivered++;
	}
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
		if (p->family == AF_INET6 &&
		    IN6_IS_ADDR_V4MAPPED(
			&((const struct sockaddr_in6 *)from)->sin6_addr))
			p->family = AF_INET; /* dual-stack socket, IPv4 wire */
		/* Probe this path's MTU up from the protocol minimum to
		 * what a full-size tunnel packet needs. */
		pmtu_init(&p->pmtu, p->family == AF_INET ? 576 : 1280,
			  s->d->tun_mtu + (uint32_t)wire_tunnel_overhead(
					      p->family, s->keys.mode));
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
	int hrc = wire_hdr_decode(buf, len, &h);
	if (hrc < 0) {
		if (hrc == -EPROTONOSUPPORT && !d->client)
			server_on_old_version(d, buf, len, from, now);
		d->rx_bad++;
		return;
	}
	if (h.type == WT_COOKIE) {
		if (d->client)
			client_on_cookie(d, uplink_id, buf, len, now);
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
	/* The epoch bit picks the current keys or the other live set (the
	 * previous epoch in its grace time, or the next one the server holds
	 * until this packet confirms it). */
	struct wire_keys *k = rekey_rx_keys(&s->keys, &s->rk, h.flags);
	if (!k || wire_open(k, buf, len, &h, &body, &blen) < 0) {
		s->rx_auth_fail++;
		return;
	}
	replay_update(&s->replay, h.seq);
	if (rekey_opened(&s->keys, &s->rk, k, now))
		session_rekey_confirmed(s);
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
	case WT_REKEY:
		session_on_rekey(s, p, body, blen, now);
		break;
	case WT_REKEY_ACK:
		session_on_rekey_ack(s, body, blen, now);
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
	d->tx = calloc(1, sizeof(*d->tx));
	if (d->tx)
		d->tx->mem = aligned_alloc(64, (size_t)TX_BATCH * d->buf_size);
	if (!d->txbuf || !d->rx || !d->rx->buf || !d->tx || !d->tx->mem)
		return err_set(e, -ENOMEM, "cannot allocate packet buffers");
	for (uint32_t i = 0; i < TX_BATCH; i++)
		d->tx->slot[i].buf = d->tx->mem + (size_t)i * d->buf_size;
	for (uint32_t i = 0; i < CFG_MAX_LINKS; i++)
		d->tx->head[i] = TX_NONE;
	d->tx->gso = true;
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
	if (d->tx) {
		free(d->tx->mem);
		free(d->tx);
		d->tx = NULL;
	}
}
