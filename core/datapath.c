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
#include "link/pureack.h"
#include "link/retx.h"
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
 * token-bucket view of what the link still has queued (released, plus
 * what waits in its pacer queue), the prober's rate, the quota. The view
 * is rebuilt from the path, which also undoes what was booked ahead for
 * datagrams that did not leave. */
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
	v->backlog_bytes = p->backlog_bytes + p->pq_dgram + p->iq_dgram;
	v->backlog_ns = now;
	v->tx_packets = p->tx_packets + p->pq.n + p->iq.n;
	v->tx_bytes = p->tx_bytes + p->pq_dgram + p->iq_dgram;
	if (bytes) {
		if (p->tx_ctl)
			probe_on_tx_ctl_bytes(&p->probe, now, bytes);
		else
			probe_on_tx_bytes(&p->probe, now, bytes);
		if (p->metered)
			quota_account(s->d, p, bytes, 0);
	}
	v->quota_used_bytes =
	    p->quota_used_bytes + (p->metered ? p->pq_dgram + p->iq_dgram : 0);
	if (pkts)
		session_feedback(s, TTT_FB_SENT, p->id, (uint32_t)bytes,
				 (uint32_t)pkts, 0, 0, now);
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
		s->paths[id].pace_pending = 0;
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

/*
 * The pacer (docs/link-model.md). Each link has a pacer queue of packets
 * the scheduler gave it; they leave while the link's released backlog
 * (draining at the pacing rate) is under a burst of PACE_BURST_NS, so the
 * bottleneck's buffer stays nearly empty and the queue lives here. The
 * scheduler is asked for a packet only while some usable link is booked
 * less than PACE_GATE_BURSTS bursts ahead; otherwise packets wait in the
 * session's queue (core/queue/pktq.h), under CoDel. The scheduler sees what
 * waits on a link in its backlog, so its own rules (earliest arrival,
 * max_queue, weights) decide as before, with the pacer's real rate.
 */
#define PACE_BURST_NS	  2000000ull
#define PACE_GATE_BURSTS  2
#define PACE_HOLD_POLL_NS 5000000ull

/* What a pacer queue entry carries besides the inner packet. A resend
 * (kind PK_RETX) carries the original's seq and, in prev, its prev_gap.
 * The entry ends with room for the packet's header and DATA (or RETX)
 * sub-header, written there on release so that header and inner packet
 * lie in one piece and are sealed from the entry into the send batch
 * (wire_seal_to): the inner packet is never copied on the way out. */
enum { PK_DATA = 0, PK_RETX = 1 };
#define PACE_WIRE_LEN (WIRE_HDR_LEN + WIRE_DATA_HDR_LEN)
struct pace_meta {
	uint64_t seq, prev;
	uint64_t t0; /* when it came from the tun (per-class delay) */
	uint32_t len;
	uint16_t bucket;
	uint8_t klass;	   /* enum ttt_pkt_class */
	uint8_t kind;	   /* PK_DATA or PK_RETX */
	uint8_t lost_link; /* PK_RETX: the link that lost the original */
	uint8_t pad[7];
	uint8_t wire[PACE_WIRE_LEN]; /* filled on release; the inner follows */
};
_Static_assert(offsetof(struct pace_meta, wire) + PACE_WIRE_LEN ==
		   sizeof(struct pace_meta),
	       "the inner packet must follow the wire header");
/* session.c sizes a pacer slot buf_size + 32: the entry header in front
 * of an inner packet of at most buf_size - 48 (datapath_tun_cb's room). */
_Static_assert(sizeof(struct pace_meta) <=
		   32 + WIRE_HDR_LEN + WIRE_DATA_HDR_LEN + WIRE_TAG_LEN,
	       "a pacer slot must hold the entry header and the packet");

/* Until the far end has reported any delivery on a link in STARTUP, it lets a
 * TCP's initial window through at once (RFC 6928: 10 segments), as the
 * path would without us: paced at the 4 Mbit/s initial rate, 14 KB took
 * 29 ms, the second window found the first still queued, and CUBIC's
 * HyStart ended slow start at cwnd ~50 on the delay (docs/link-model.md). */
#define PACE_FIRST_BURST_PKTS 16

static uint64_t pace_burst(const struct path *p, const struct ttt_link_view *v)
{
	uint64_t b = v->pacing_bps * (PACE_BURST_NS / 1000) / 8000000ull;
	/* only before the far end reported any delivery: a link that is
	 * never driven hard has no capacity figure, and a 16-packet burst
	 * for good kept its pacer from ever holding back (no demand, so no
	 * figure: t-linkmodel's slower link stayed in STARTUP) */
	uint64_t pkts = p->lm.phase == LM_STARTUP && !p->lm.delivered_pkts
			    ? PACE_FIRST_BURST_PKTS
			    : 2;
	uint64_t min = pkts * (v->mtu + 100);
	return b > min ? b : min;
}

/* The released part of a link's backlog, aged to now (bytes). */
static uint64_t pace_released(const struct session *s, const struct path *p,
			      uint64_t now)
{
	struct ttt_link_view aged = s->views[p->id];
	aged.backlog_bytes = p->backlog_bytes;
	aged.backlog_ns = p->backlog_ns;
	return ttt_link_backlog(&aged, now) + p->pace_pending;
}

/* The view's backlog: released plus waiting in the pacer queue. */
static void pace_sync_view(struct session *s, struct path *p, uint64_t now)
{
	struct ttt_link_view *v = &s->views[p->id];
	struct ttt_link_view aged = *v;
	aged.backlog_bytes = p->backlog_bytes;
	aged.backlog_ns = p->backlog_ns;
	v->backlog_bytes = ttt_link_backlog(&aged, now) + p->pace_pending +
			   p->pq_dgram + p->iq_dgram;
	v->backlog_ns = now;
}

/* The links the gate looks at: UP ones while any is usable, else the
 * DEGRADED ones. An idle degraded (or standby) link must not open the gate
 * for traffic the scheduler would only put on it because the healthy
 * links are booked ahead: that traffic waits under CoDel instead. */
static bool gate_class(const struct session *s, const struct ttt_link_view *v)
{
	if (!ttt_link_usable(v))
		return false;
	return v->state == TTT_LINK_UP || !s->any_up;
}

/* True if the scheduler may be asked for a packet: a link of the gate's
 * class is booked less than the gate ahead, or none is usable (the
 * scheduler then drops, as before). */
static bool pace_gate_open(const struct session *s, uint64_t now)
{
	bool usable = false;
	for (uint32_t i = 0; i < s->n_paths; i++) {
		const struct ttt_link_view *v = &s->views[i];
		if (!gate_class(s, v))
			continue;
		if (!v->pacing_bps ||
		    ttt_link_backlog(v, now) <
			PACE_GATE_BURSTS * pace_burst(&s->paths[i], v))
			return true;
		usable = true;
	}
	return !usable;
}

/* Every usable link was wanted: packets wait for all of them. */
static void pace_mark_demand(struct session *s, uint64_t now)
{
	for (uint32_t i = 0; i < s->n_paths; i++)
		if (ttt_link_usable(&s->views[i]))
			s->paths[i].demand_ns = now;
}

/* Arms the pacing timer for the next moment something can move: a pacer
 * queue's head may leave, or the gate opens for the session's queue. */
static bool sessq_empty(const struct session *s)
{
	return s->fq_on ? fq_empty(&s->fq) : pktq_empty(&s->q);
}

static void pace_arm(struct session *s, uint64_t now)
{
	uint64_t wait = UINT64_MAX;
	bool gate = !sessq_empty(s);
	for (uint32_t i = 0; i < s->n_paths; i++) {
		struct path *p = &s->paths[i];
		const struct ttt_link_view *v = &s->views[i];
		if (p->failover_pending)
			wait = 0; /* a link died: resend what it took, now */
		if (!p->sess || !v->pacing_bps)
			continue;
		uint64_t burst = pace_burst(p, v), w;
		if ((!pktq_empty(&p->pq) || !pktq_empty(&p->iq)) &&
		    !ttt_link_usable(v)) {
			/* held while suspected (pace_release): look again
			 * in a while, not at once (a busy loop would starve
			 * the very loop that must hear the link again) */
			if (PACE_HOLD_POLL_NS < wait)
				wait = PACE_HOLD_POLL_NS;
		} else if (!pktq_empty(&p->pq) || !pktq_empty(&p->iq)) {
			uint64_t b = pace_released(s, p, now);
			w = b < burst ? 0
				      : (b - burst + 1) * 8000000000ull /
					    v->pacing_bps;
			if (w < wait)
				wait = w;
		}
		if (gate && gate_class(s, v)) {
			uint64_t b = ttt_link_backlog(v, now);
			uint64_t g = PACE_GATE_BURSTS * burst;
			w = b < g ? 0
				  : (b - g + 1) * 8000000000ull / v->pacing_bps;
			if (w < wait)
				wait = w;
		}
	}
	if (wait == UINT64_MAX) {
		ev_timer_stop(s->d->loop, &s->pace_timer);
		return;
	}
	if (wait < 100000)
		wait = 100000;
	ev_timer_stop(s->d->loop, &s->pace_timer);
	ev_timer_set(&s->pace_timer, (double)wait / 1e9, 0.0);
	ev_timer_start(s->d->loop, &s->pace_timer);
}

/* What every packet from the tun goes through before it is queued, bulk
 * or interactive: fresh link views, the MSS clamp, its flow hash and
 * class, and the next session seq (returned, also in info->seq). */
static uint64_t tx_prepare(struct session *s, uint8_t *inner, size_t len,
			   uint8_t klass, struct ttt_pkt_info *info,
			   uint64_t now)
{
	if (s->views_dirty)
		session_refresh_views(s, now);
	mss_clamp(inner, len, s->d->tun_mtu);
	*info = (struct ttt_pkt_info){.len = (uint32_t)len};
	info->flow_hash = wire_flow_hash(inner, len);
	pkt_classify(inner, len, info);
	info->klass = klass;
	info->seq = s->tx_seq++;
	return info->seq;
}

/*
 * Schedules one inner packet onto a link's pacer queue: seq, flow bucket
 * chain and the scheduler's pick happen here, the per-link seq, the send
 * stamp and the seal when the pacer releases it. The packet is booked in
 * the link view at once (backlog, bytes, quota) so the scheduler sees it
 * when it picks the next packet.
 */
static void sched_one(struct session *s, uint8_t *inner, size_t len,
		      uint64_t now, uint64_t t0)
{
	struct ttt_pkt_info info;
	uint64_t seq = tx_prepare(s, inner, len, TTT_CLASS_BULK, &info, now);

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
	/* A pure ACK is outside its flow's order chain (link/pureack.c): it
	 * waits for nothing at the far end, and nothing waits for it. */
	bool unchained = tcp_pure_ack(inner, len);
	struct pace_meta m = {
	    .seq = seq,
	    .prev = unchained ? 0 : s->bucket_last[bucket],
	    .t0 = t0,
	    .len = (uint32_t)len,
	    .bucket = (uint16_t)bucket,
	    .klass = TTT_CLASS_BULK,
	};
	if (pktq_push_hdr(&p->pq, &m, sizeof(m), inner, (uint32_t)len, now) <
	    0) {
		/* the scheduler keeps choosing a link that cannot keep up */
		s->tx_drops++;
		p->pq_drops++;
		return;
	}
	/* Provisional: txq_flush() rolls it back if the packet does not go. */
	if (!unchained) {
		s->bucket_last[bucket] = seq;
		s->bucket_bulk_ns[bucket] = now;
	}
	uint64_t dgram = wire_data_overhead(s->keys.mode) + len;
	p->pq_dgram += dgram;
	pace_sync_view(s, p, now);
	struct ttt_link_view *v = &s->views[idx];
	v->tx_packets++;
	v->tx_bytes += dgram;
	if (p->metered)
		v->quota_used_bytes += dgram;
}

static void rec_copy_ahead(struct session *s, struct path *p, uint32_t path_seq,
			   uint64_t now);

/* Seals the head of a path's pacer queue into the next batch slot. */
static void pace_release_one(struct session *s, struct path *p, bool iq,
			     uint64_t now)
{
	struct daemon *d = s->d;
	struct txbatch *tb = d->tx;
	uint32_t elen;
	uint8_t *e = pktq_pop(iq ? &p->iq : &p->pq, now, &elen);
	if (!e)
		return;
	struct pace_meta m;
	memcpy(&m, e, sizeof(m));
	uint64_t dgram = wire_data_overhead(s->keys.mode) + m.len;
	uint64_t *qd = iq ? &p->iq_dgram : &p->pq_dgram;
	*qd -= dgram < *qd ? dgram : *qd;
	/* per-class delay, tun to wire (EWMA 1/16 and max) */
	if (m.klass <= TTT_CLASS_INTERACTIVE && m.t0) {
		uint64_t dl = now > m.t0 ? now - m.t0 : 0;
		__typeof__(s->cls[0]) *c = &s->cls[m.klass];
		c->packets++;
		c->bytes += m.len;
		c->delay_ewma_ns =
		    c->packets == 1
			? dl
			: c->delay_ewma_ns - c->delay_ewma_ns / 16 + dl / 16;
		if (dl > c->delay_max_ns)
			c->delay_max_ns = dl;
	}
	struct txslot *sl = &tb->slot[tb->n];
	/* The headers go into the entry, in front of the inner packet,
	 * and the seal reads both there and writes the datagram into the
	 * batch (no copy first). */
	uint8_t *wire = e + offsetof(struct pace_meta, wire);
	const uint8_t *inner = e + sizeof(m);
	uint64_t hseq = m.seq;
	if (m.kind == PK_RETX) {
		/* A resend: a fresh seq for the nonce, the original's for
		 * the reorder buffer, `back` apart. */
		hseq = s->tx_seq++;
		if (hseq - m.seq > UINT16_MAX) {
			s->retx_dropped++;
			return;
		}
		struct wire_retx rh = {
		    .prev_gap = (uint32_t)m.prev,
		    .bucket = (uint8_t)m.bucket,
		    .lost_link = m.lost_link,
		    .back = (uint16_t)(hseq - m.seq),
		    .path_seq = lm_on_sent(&p->lm, (uint32_t)dgram, d->tx_us),
		    .tx_us = d->tx_us,
		};
		if (s->retx)
			retx_on_resent(s->retx, m.seq, p->id, rh.path_seq);
		p->rec.retx_pkts++;
		p->rec.retx_bytes += dgram;
		hdr_encode(wire, s, p, WT_RETX, hseq);
		wire_retx_encode(wire + WIRE_HDR_LEN, &rh);
	} else {
		uint64_t gap = m.prev ? m.seq - m.prev : 0;
		struct wire_data dh = {
		    .prev_gap = gap > DATAPATH_MAX_GAP ? 0 : (uint32_t)gap,
		    .bucket = m.bucket,
		    .path_seq = lm_on_sent(&p->lm, (uint32_t)dgram, d->tx_us),
		    .tx_us = d->tx_us,
		};
		/* the copy a NACK or this link's death resends */
		if (s->retx) {
			struct retx_ent *re = retx_on_sent(
			    s->retx, m.seq, p->id, dh.path_seq, m.bucket,
			    dh.prev_gap, inner, m.len, now);
			if (re)
				re->klass = m.klass;
		}
		hdr_encode(wire, s, p, WT_DATA, m.seq);
		wire_data_encode(wire + WIRE_HDR_LEN, &dh);
		if (s->retx && !iq)
			rec_copy_ahead(s, p, dh.path_seq, now);
	}
	size_t total =
	    wire_seal_to(&s->keys, sl->buf, wire, WIRE_DATA_HDR_LEN + m.len);
	if (!total) {
		s->tx_drops++;
		if (m.kind == PK_DATA && s->bucket_last[m.bucket] == m.seq)
			s->bucket_last[m.bucket] = m.prev;
		return;
	}
	sl->len = (uint32_t)total;
	sl->path = (uint16_t)p->id;
	sl->next = TX_NONE;
	sl->bucket = m.bucket;
	sl->sent = false;
	sl->seq = hseq; /* a resend never is a bucket's last */
	sl->prev = m.prev;
	uint16_t me = (uint16_t)tb->n++;
	if (tb->head[p->id] == TX_NONE)
		tb->head[p->id] = me;
	else
		tb->slot[tb->tail[p->id]].next = me;
	tb->tail[p->id] = me;
	tb->sess = s;
	p->pace_pending += total;
}

static void earliest_links(const struct session *s, size_t len, uint64_t now,
			   int *first, int *second);

/* Hands what waits on a link that is no longer usable back to the
 * scheduler, packet by packet (failover must not strand packets, and the
 * plugin's policy, a metered link over quota say, still holds); each keeps
 * its seq and flow-bucket chain. */
static void pace_rescue(struct session *s, struct path *p, uint64_t now)
{
	uint32_t elen;
	uint8_t *e;
	/* interactive packets: to the earliest other link's interactive
	 * queue, as if they came from the tun now */
	while ((e = pktq_pop(&p->iq, now, &elen)) != NULL) {
		struct pace_meta m;
		memcpy(&m, e, sizeof(m));
		int t, t2;
		earliest_links(s, m.len, now, &t, &t2);
		if (t >= 0 && &s->paths[t] == p)
			t = t2;
		if (t < 0 || pktq_push_hdr(&s->paths[t].iq, &m, sizeof(m),
					   e + sizeof(m), m.len, now) < 0) {
			s->tx_drops++;
			continue;
		}
		s->paths[t].iq_dgram +=
		    wire_data_overhead(s->keys.mode) + m.len;
		pace_sync_view(s, &s->paths[t], now);
	}
	while ((e = pktq_pop(&p->pq, now, &elen)) != NULL) {
		struct pace_meta m;
		memcpy(&m, e, sizeof(m));
		uint8_t *inner = e + sizeof(m);
		struct ttt_pkt_info info = {.len = m.len, .seq = m.seq};
		info.flow_hash = wire_flow_hash(inner, m.len);
		pkt_classify(inner, m.len, &info);
		struct ttt_sched_ctx ctx;
		session_fill_ctx(s, &ctx, now);
		int t = sched_pick(s->sched, &ctx, &info);
		if (t >= 0 && (uint32_t)t < s->n_paths &&
		    m.len > s->views[t].mtu)
			t = fitting_path(s, m.len);
		if (t < 0 || (uint32_t)t >= s->n_paths || &s->paths[t] == p ||
		    pktq_push_hdr(&s->paths[t].pq, &m, sizeof(m), inner, m.len,
				  now) < 0) {
			s->tx_drops++;
			continue;
		}
		s->paths[t].pq_dgram +=
		    wire_data_overhead(s->keys.mode) + m.len;
		pace_sync_view(s, &s->paths[t], now);
	}
	p->pq_dgram = 0;
	p->iq_dgram = 0;
	pace_sync_view(s, p, now);
}

/*
 * Loss recovery, sending side (docs/loss-recovery.md): a packet the far
 * end reports missing, or one a dead link took with it, is queued again
 * on the usable link where it arrives first among those that have not lost
 * it, paced and counted like any packet.
 */
static uint32_t rec_usable_mask(const struct session *s)
{
	uint32_t m = 0;
	for (uint32_t i = 0; i < s->n_paths; i++)
		if (s->paths[i].sess && s->paths[i].fd >= 0 &&
		    ttt_link_usable(&s->views[i]))
			m |= 1u << i;
	return m;
}

/* The bond's capacity now, for the resend budget. */
static uint64_t rec_capacity(const struct session *s)
{
	uint64_t c = 0;
	for (uint32_t i = 0; i < s->n_paths; i++) {
		const struct ttt_link_view *v = &s->views[i];
		if (ttt_link_usable(v))
			c += v->pacing_bps ? v->pacing_bps : v->rate_bps;
	}
	return c;
}

static uint64_t arrival_us(const struct session *s, uint32_t i, uint64_t now);

/* Queues a stored packet (e) on link t as a resend of what lost_link
 * lost: in t's interactive queue (leaves at once) or its pacer queue, and
 * booked like any packet sent there (backlog, view counters, quota).
 * Returns what pktq_push_hdr() said. */
static int retx_enqueue(struct session *s, struct path *t,
			const struct retx_ent *e, uint32_t lost_link, bool iq,
			uint64_t dgram, uint64_t now)
{
	struct pace_meta m = {
	    .seq = e->seq,
	    .prev = e->prev_gap,
	    .len = e->len,
	    .bucket = e->bucket,
	    .klass = e->klass,
	    .kind = PK_RETX,
	    .lost_link = (uint8_t)lost_link,
	};
	if (pktq_push_hdr(iq ? &t->iq : &t->pq, &m, sizeof(m), e->data, e->len,
			  now) < 0)
		return -ENOBUFS;
	if (iq)
		t->iq_dgram += dgram;
	else
		t->pq_dgram += dgram;
	pace_sync_view(s, t, now);
	struct ttt_link_view *v = &s->views[t->id];
	v->tx_packets++;
	v->tx_bytes += dgram;
	if (t->metered)
		v->quota_used_bytes += dgram;
	return 0;
}

static void rec_resend(struct session *s, uint32_t link, uint32_t path_seq,
		       uint64_t now, bool failover)
{
	struct retx_ent *e;
	uint32_t allowed;
	if (retx_on_loss(s->retx, link, path_seq, rec_usable_mask(s), now, &e,
			 &allowed) != RETX_RESEND)
		return;
	/* A NACKed packet holds up everything behind it at the far end: it
	 * goes ahead of the link's bulk backlog (the interactive queue,
	 * released at once and booked in the link's backlog), so it arrives
	 * what is already released plus the link's one-way delay after now.
	 * A dead link's packets (failover) are many at once: they stay paced
	 * behind the bulk backlog, which is what arrival_us() then misses. */
	int best = -1;
	uint64_t at = UINT64_MAX;
	for (uint32_t i = 0; i < s->n_paths; i++) {
		if (!(allowed & (1u << i)) || e->len > s->views[i].mtu)
			continue;
		uint64_t a = arrival_us(s, i, now);
		if (failover && s->views[i].pacing_bps)
			a += s->paths[i].pq_dgram * 8000000ull /
			     s->views[i].pacing_bps;
		if (a < at)
			best = (int)i, at = a;
	}
	if (best < 0) {
		s->retx_dropped++;
		return;
	}
	struct path *t = &s->paths[best];
	uint64_t dgram = wire_data_overhead(s->keys.mode) + e->len;
	if (retx_commit(s->retx, e, (uint32_t)best, (uint32_t)dgram,
			rec_capacity(s), now, !failover) < 0)
		return;
	/* A NACK's resend leaves at once (main: the interactive queue); of a
	 * dead link's failover, the interactive packets (a ping, a game's
	 * tick) too, the bulk behind them at the pacing rate. */
	bool iq = !failover || e->klass == TTT_CLASS_INTERACTIVE;
	if (retx_enqueue(s, t, e, link, iq, dgram, now) < 0) {
		s->retx_dropped++;
		t->pq_drops++;
		return;
	}
	if (failover)
		s->paths[link].rec.failover++;
}

/*
 * recovery.copy_ahead (docs/loss-recovery.md): while the bond has room
 * (nothing waits in the session queue), a packet sent on a link that
 * loses is also sent at once, as a resend, on a link without demand, so
 * its loss costs no NACK round trip. A NACK round trip holds everything
 * behind the gap about one RTT, which a single CUBIC flow's HyStart takes
 * for the end of slow start; once the bond is full no copy is made and
 * NACKs recover. The copy is booked in the store (a NACK of the original
 * finds it PENDING) outside the budget: it only uses idle capacity.
 */
#define COPY_AHEAD_LOSS_PPM 5000u

static void rec_copy_ahead(struct session *s, struct path *p, uint32_t path_seq,
			   uint64_t now)
{
	if (!s->d->cfg.recovery.copy_ahead || !sessq_empty(s))
		return;
	if (p->lm.loss_ppm < COPY_AHEAD_LOSS_PPM &&
	    p->probe.loss_ppm < COPY_AHEAD_LOSS_PPM)
		return;
	struct retx_ent *e = retx_lookup(s->retx, p->id, path_seq);
	if (!e)
		return;
	int best = -1;
	uint64_t at = UINT64_MAX;
	for (uint32_t i = 0; i < s->n_paths; i++) {
		struct path *q = &s->paths[i];
		if (q == p || !q->sess || q->fd < 0 ||
		    !ttt_link_usable(&s->views[i]) ||
		    e->len > s->views[i].mtu || !pktq_empty(&q->pq) ||
		    (q->demand_ns && now - q->demand_ns < 100000000ull))
			continue;
		uint64_t a = arrival_us(s, i, now);
		if (a < at)
			best = (int)i, at = a;
	}
	if (best < 0)
		return;
	struct path *t = &s->paths[best];
	uint64_t dgram = wire_data_overhead(s->keys.mode) + e->len;
	if (retx_commit(s->retx, e, (uint32_t)best, (uint32_t)dgram,
			rec_capacity(s), now, false) < 0)
		return;
	if (retx_enqueue(s, t, e, p->id, true, dgram, now) == 0)
		s->copies_ahead++;
}

/* A link went DOWN: everything sent on it after the newest packet the far
 * end reported, as far as the store still has it, goes out on the others
 * at once (the far end may have some of it: it drops the duplicates). */
static void rec_failover(struct session *s, struct path *p, uint64_t now)
{
	uint32_t hi = p->lm.tx_seq;
	uint32_t lo = p->lm.have_fb ? p->lm.last.high_seq : 0;
	uint32_t n = hi - lo, cap = s->d->cfg.recovery.store_packets;
	if ((int32_t)n <= 0)
		return;
	if (n > cap)
		n = cap;
	uint64_t before = p->rec.failover;
	for (uint32_t k = n; k > 0; k--)
		rec_resend(s, p->id, hi - k + 1, now, true);
	/* not under "link": that subsystem's "NAME:" lines are state changes */
	log_info("recovery",
		 "%s went down: %u of its %u unacknowledged packets resent on "
		 "the other links",
		 p->name, (unsigned)(p->rec.failover - before), (unsigned)n);
}

static void rec_failover_pending(struct session *s, uint64_t now)
{
	for (uint32_t i = 0; i < s->n_paths; i++) {
		struct path *p = &s->paths[i];
		if (!p->failover_pending)
			continue;
		p->failover_pending = false;
		if (p->sess && s->retx)
			rec_failover(s, p, now);
	}
}

/* Releases from every pacer queue what the pacers allow, then sends. */
static void pace_release(struct session *s, uint64_t now)
{
	struct daemon *d = s->d;
	struct txbatch *tb = d->tx;
	if (tb->n && tb->sess != s)
		txq_flush(d, now);
	for (uint32_t i = 0; i < s->n_paths; i++) {
		struct path *p = &s->paths[i];
		if (!p->sess || (pktq_empty(&p->pq) && pktq_empty(&p->iq)))
			continue;
		const struct ttt_link_view *v = &s->views[i];
		if (!ttt_link_usable(v) && v->state != TTT_LINK_STANDBY) {
			/* Only a link really down hands its queue over: a
			 * suspicion lasts a round trip and is often wrong,
			 * and re-picking a whole queue then would spill it
			 * onto whatever the policy allows last. */
			if (!p->probe.suspect && !p->fb_stalled)
				pace_rescue(s, p, now);
			continue;
		}
		uint64_t burst = pace_burst(p, v);
		/* Interactive packets first and at once: each sparse flow
		 * sends little by definition, and what they send is booked
		 * in the released backlog, so bulk yields to them. Gating
		 * them on the pacer made them wait seconds behind the
		 * feedback and probes of a link paced at its floor. */
		while (!pktq_empty(&p->iq)) {
			if (tb->n == TX_BATCH)
				txq_flush(d, now);
			pace_release_one(s, p, true, now);
		}
		while (!pktq_empty(&p->pq)) {
			if (v->pacing_bps &&
			    pace_released(s, p, now) >= burst) {
				p->demand_ns =
				    now; /* the pacer holds it back */
				break;
			}
			if (tb->n == TX_BATCH)
				txq_flush(d, now);
			pace_release_one(s, p, false, now);
		}
	}
	txq_flush(d, now);
}

/* Moves packets along: from the session's queue to the scheduler while the
 * gate is open, out of the pacer queues, onto the wire; re-arms the timer. */
static void pace_service(struct session *s, uint64_t now)
{
	struct daemon *d = s->d;
	d->tx_us = (uint32_t)(mono_ns() / 1000);
	if (s->views_dirty)
		session_refresh_views(s, now);
	rec_failover_pending(s, now);
	/* While a link the queue waits for is still in startup, the queue
	 * stands because the pacer is still learning, not because the links
	 * are full: no AQM signal to TCP then. */
	s->q.aqm_paused = false;
	uint64_t rtt_us = 0;
	for (uint32_t i = 0; i < s->n_paths; i++) {
		if (!gate_class(s, &s->views[i]))
			continue;
		if (s->paths[i].lm.phase == LM_STARTUP)
			s->q.aqm_paused = true;
		if (s->paths[i].probe.min_rtt_us > rtt_us)
			rtt_us = s->paths[i].probe.min_rtt_us;
	}
	/* CoDel's target grows with the bond's RTT (docs/link-model.md:
	 * one flow needs a fraction of a BDP queued to keep the links full
	 * through its own backoff): max(aqm_target, RTT / 4); the interval
	 * is at least 4 targets, longer while losses are being recovered
	 * (lm_aqm_interval_ns). */
	const struct cfg_link_model *lc = &s->d->cfg.link_model;
	uint64_t tgt =
	    lm_aqm_target_ns((uint64_t)lc->aqm_target_ms * 1000000, rtt_us);
	uint64_t ivl =
	    lm_aqm_interval_ns((uint64_t)lc->aqm_interval_ms * 1000000, tgt,
			       retx_recent_nack_delay(s->retx, now));
	s->q.cfg.target_ns = s->fq.cfg.target_ns = tgt;
	s->q.cfg.interval_ns = s->fq.cfg.interval_ns = ivl;
	s->fq.aqm_paused = s->q.aqm_paused;
	for (;;) {
		while (!sessq_empty(s)) {
			if (s->views_dirty)
				session_refresh_views(s, now);
			if (!pace_gate_open(s, now))
				break;
			uint32_t len;
			uint64_t t0 = now;
			uint8_t *pkt = s->fq_on ? fq_pop(&s->fq, now, &len, &t0)
						: pktq_pop(&s->q, now, &len);
			if (!pkt)
				break;
			sched_one(s, pkt, len, now, t0);
		}
		pace_release(s, now);
		/* releasing may have opened the gate again */
		if (sessq_empty(s) || !pace_gate_open(s, now))
			break;
	}
	if (!sessq_empty(s))
		pace_mark_demand(s, now);
	pace_arm(s, now);
}

/*
 * The interactive class (flow_queue, docs/config.md): a packet of a sparse
 * flow or of a DSCP in the set skips the session's queue and the pacer
 * queues, and goes on the link where it arrives first.
 */
/* How long after a bulk packet of its bucket an interactive packet keeps
 * the chain to it (the bulk one may still be queued on a link). */
#define INTERACTIVE_CHAIN_NS 500000000ull

static bool is_interactive(struct session *s, const uint8_t *pkt, size_t len,
			   uint32_t hash, uint64_t now)
{
	const struct cfg_flow_queue *fc = &s->d->cfg.flow_queue;
	if (fc->interactive == CFG_INTERACTIVE_OFF)
		return false;
	struct ttt_pkt_info info = {0};
	pkt_classify(pkt, len, &info);
	if (fc->interactive == CFG_INTERACTIVE_DSCP)
		return (fc->dscp_mask >> info.dscp) & 1;
	return fq_interactive(&s->fq, hash, info.dscp, (uint32_t)len, now);
}

/* When a packet sent now on link i would arrive (us, on the link's own
 * one-way clock, comparable between links): half the base RTT, the
 * bottleneck's queueing delay, and what the pacer must send ahead of it. */
static uint64_t arrival_us(const struct session *s, uint32_t i, uint64_t now)
{
	const struct path *p = &s->paths[i];
	const struct ttt_link_view *v = &s->views[i];
	uint64_t rtt = v->base_rtt_us ? v->base_rtt_us : v->srtt_us;
	uint64_t t = rtt / 2 + v->queue_delay_us;
	uint64_t ahead = pace_released(s, p, now) + p->iq_dgram;
	if (v->pacing_bps)
		t += ahead * 8000000ull / v->pacing_bps;
	return t;
}

/* The usable links (MTU fits) with the earliest and second earliest
 * arrival, unmetered ones first; -1 where there is none. */
static void earliest_links(const struct session *s, size_t len, uint64_t now,
			   int *first, int *second)
{
	uint64_t best[2] = {UINT64_MAX, UINT64_MAX};
	*first = *second = -1;
	for (uint32_t i = 0; i < s->n_paths; i++) {
		const struct ttt_link_view *v = &s->views[i];
		if (!s->paths[i].sess || !ttt_link_usable(v) || len > v->mtu)
			continue;
		uint64_t t = arrival_us(s, i, now);
		/* a degraded (lossy) link only when no healthy one is left: a
		 * game's packet there is a lost packet as often as not; and a
		 * metered link only when no unmetered one is left */
		if (v->state == TTT_LINK_DEGRADED)
			t += 1ull << 39;
		if (v->metered)
			t += 1ull << 40;
		if (t < best[0]) {
			best[1] = best[0], *second = *first;
			best[0] = t, *first = (int)i;
		} else if (t < best[1]) {
			best[1] = t, *second = (int)i;
		}
	}
}

/* Queues one copy on link idx's interactive queue; false if it is full. */
static bool interactive_push(struct session *s, uint32_t idx,
			     const struct pace_meta *m, const uint8_t *inner,
			     uint64_t now)
{
	struct path *p = &s->paths[idx];
	if (pktq_push_hdr(&p->iq, m, sizeof(*m), inner, m->len, now) < 0)
		return false;
	uint64_t dgram = wire_data_overhead(s->keys.mode) + m->len;
	p->iq_dgram += dgram;
	pace_sync_view(s, p, now);
	struct ttt_link_view *v = &s->views[idx];
	v->tx_packets++;
	v->tx_bytes += dgram;
	if (p->metered)
		v->quota_used_bytes += dgram;
	return true;
}

static void interactive_one(struct session *s, uint8_t *inner, size_t len,
			    uint64_t now)
{
	struct daemon *d = s->d;
	const struct cfg_flow_queue *fc = &d->cfg.flow_queue;
	struct ttt_pkt_info info;
	uint64_t seq =
	    tx_prepare(s, inner, len, TTT_CLASS_INTERACTIVE, &info, now);

	int a, b;
	earliest_links(s, len, now, &a, &b);
	/* A metered link (earliest_links puts them last) carries interactive
	 * packets only as the plugin says, as for bulk: its quota policy is
	 * the plugin's. */
	if (b >= 0 && s->views[b].metered)
		b = -1;
	if (s->sched->ops->flags & TTT_SCHED_F_INTERACTIVE ||
	    (a >= 0 && s->views[a].metered)) {
		struct ttt_sched_ctx ctx;
		session_fill_ctx(s, &ctx, now);
		int idx = sched_pick(s->sched, &ctx, &info);
		if (idx >= 0 && (uint32_t)idx < s->n_paths &&
		    len > s->views[idx].mtu)
			idx = fitting_path(s, len);
		if (idx < 0 || (uint32_t)idx >= s->n_paths) {
			s->tx_drops++;
			return;
		}
		if (idx == b)
			b = a;
		a = idx;
	}
	if (a < 0) {
		s->tx_drops++;
		return;
	}
	uint32_t bucket = info.flow_hash % WIRE_BUCKETS;
	/* No predecessor (prev_gap 0) unless a bulk packet of the bucket was
	 * scheduled lately (it may still wait in a pacer queue: this one
	 * must not overtake it): the far end's reorder buffer then delivers
	 * it at once. A sparse flow's packets are tens of ms apart and do
	 * not overtake each other; what the chain would buy is a hold of up
	 * to max_hold after each of its own losses, the stall a game must
	 * not see. Later packets of the bucket still chain to this one. */
	bool unchained = tcp_pure_ack(inner, len);
	bool recent_bulk =
	    !unchained && s->bucket_bulk_ns[bucket] &&
	    now - s->bucket_bulk_ns[bucket] < INTERACTIVE_CHAIN_NS;
	struct pace_meta m = {
	    .seq = seq,
	    .prev = recent_bulk ? s->bucket_last[bucket] : 0,
	    .t0 = now,
	    .len = (uint32_t)len,
	    .bucket = (uint16_t)bucket,
	    .klass = TTT_CLASS_INTERACTIVE,
	};
	bool dup = b >= 0 && (fc->duplicate == CFG_DUP_INTERACTIVE ||
			      (fc->duplicate == CFG_DUP_DSCP &&
			       ((fc->dscp_mask >> info.dscp) & 1)));
	bool sent = interactive_push(s, (uint32_t)a, &m, inner, now);
	if (dup) {
		/* the second copy: same seq, so the far end's replay window
		 * keeps whichever arrives first */
		m.t0 = 0; /* counted once in the class figures */
		if (interactive_push(s, (uint32_t)b, &m, inner, now)) {
			s->dup_sent++;
			sent = true;
		}
	}
	if (!sent) {
		s->tx_drops++;
		s->cls[TTT_CLASS_INTERACTIVE].drops++;
		return;
	}
	if (!unchained)
		s->bucket_last[bucket] = seq;
}

void datapath_pace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = w->data;
	(void)loop;
	(void)revents;
	pace_service(s, now_ns(s->d));
}

/*
 * Reads up to TX_BATCH packets from the tun, each scheduled onto a link's
 * pacer queue (or into the session's queue while every link is booked
 * ahead), then lets the pacers send what they may, per session.
 */
void datapath_tun_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon *d = w->data;
	uint64_t now = now_ns(d);
	size_t room =
	    d->buf_size - WIRE_HDR_LEN - WIRE_DATA_HDR_LEN - WIRE_TAG_LEN;
	struct session *cur = NULL;
	uint8_t *inner = d->rdbuf;

	/* A super-packet's segments are all taken before returning: the
	 * tun will not wake the loop again for them (tunio.c). */
	for (int i = 0; i < TX_BATCH || tunio_pending(d); i++) {
		ssize_t n = tunio_read(d, inner, room);
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
		if (cur && cur != s)
			pace_service(cur, now);
		cur = s;
		if (s->views_dirty)
			session_refresh_views(s, now);
		if (s->fq_on) {
			uint32_t h = wire_flow_hash(inner, (size_t)n);
			if (is_interactive(s, inner, (size_t)n, h, now)) {
				interactive_one(s, inner, (size_t)n, now);
				continue;
			}
			if (!fq_empty(&s->fq) || !pace_gate_open(s, now)) {
				if (fq_push(&s->fq, h, inner, (uint32_t)n,
					    now) < 0)
					s->tx_drops++;
				continue;
			}
			sched_one(s, inner, (size_t)n, now, now);
			continue;
		}
		/* FIFO: once packets wait, newcomers wait behind them. */
		if (!pktq_empty(&s->q) || !pace_gate_open(s, now)) {
			if (pktq_push(&s->q, inner, (uint32_t)n, now) < 0)
				s->tx_drops++;
			continue;
		}
		sched_one(s, inner, (size_t)n, now, now);
	}
	if (cur)
		pace_service(cur, now);
}

/* The one place an inner packet goes to the tun: straight from
 * rx_data(), or in order from the reorder buffer (session.c). b is the
 * packet's pool buffer, released once written; NULL when pkt lies in the
 * receive batch, which stays valid until the batch's tunio_flush(). With
 * offloads the packet may wait there to leave inside a super-packet
 * (tunio.c). A failed write loses that packet only and is counted; a
 * session torn down after the tun closed (its reorder buffer hands back
 * what it held) writes nothing. */
void datapath_tun_write(struct session *s, const uint8_t *pkt, size_t len,
			struct pktbuf *b)
{
	if (b && b == s->rx_borrow)
		s->rx_borrow = NULL; /* delivered on arrival (rx_deliver) */
	tunio_write(s->d, s, pkt, len, b);
}

/*
 * Receiver side of the link model: what arrived on each link, reported to
 * the sender in WT_FEEDBACK while data flows, every feedback_interval or
 * every FB_PKTS packets (but not more often than FB_MIN_NS), so reports
 * stay a small fraction of the reverse traffic (docs/link-model.md).
 */
#define FB_PKTS	  32
#define FB_MIN_NS 5000000ull
/* A link that goes quiet after carrying data is reported every
 * FB_FOLLOW_NS for its RTT + FB_FOLLOW_EXTRA_NS, data or not: the sender
 * needs two reports showing it silent (docs/link-model.md, failover), and
 * when a dead link holds up the flows (the reorder buffer waits for what it
 * took, TCP stops) nothing else may arrive to make them. */
#define FB_FOLLOW_NS	   10000000ull
#define FB_FOLLOW_EXTRA_NS 50000000ull

static void fb_note(struct session *s, struct path *p,
		    const struct wire_data *dh, size_t dgram)
{
	uint32_t rx_us = s->d->rx_us;
	uint32_t owd = rx_us - dh->tx_us;
	if (!dh->path_seq)
		return;
	if (!p->fbrx.active) {
		p->fbrx.active = true;
		p->fbrx.high_seq = dh->path_seq;
	} else if ((int32_t)(dh->path_seq - p->fbrx.high_seq) > 0) {
		p->fbrx.high_seq = dh->path_seq;
	}
	p->fbrx.rx_packets++;
	p->fbrx.rx_bytes += (uint32_t)dgram;
	p->fbrx.last_rx_us = rx_us;
	if (!p->fbrx.interval_pkts || (int32_t)(owd - p->fbrx.owd_min_us) < 0)
		p->fbrx.owd_min_us = owd;
	if (!p->fbrx.interval_pkts || (int32_t)(owd - p->fbrx.owd_max_us) > 0)
		p->fbrx.owd_max_us = owd;
	if (p->fbrx.interval_pkts < UINT16_MAX)
		p->fbrx.interval_pkts++;
	s->fb_pkts++;
}

/* Sends one report with every link that ever got DATA (a link that went
 * silent is in it too: that is how the sender sees it stop), on each
 * usable link that got data since the last one, else on every usable
 * link. */
static void fb_send(struct session *s, uint64_t now)
{
	struct wire_feedback f = {.gen_us = (uint32_t)(mono_ns() / 1000)};
	uint32_t carry = 0;
	uint32_t usable = 0;
	bool follow = false;
	for (uint32_t i = 0; i < s->n_paths && f.n_links < WIRE_FB_MAX_LINKS;
	     i++) {
		struct path *p = &s->paths[i];
		if (!p->sess || !p->fbrx.active)
			continue;
		struct wire_fb_link *l = &f.links[f.n_links++];
		l->link_id = (uint8_t)p->id;
		l->interval_pkts = p->fbrx.interval_pkts;
		l->high_seq = p->fbrx.high_seq;
		l->rx_packets = p->fbrx.rx_packets;
		l->rx_bytes = p->fbrx.rx_bytes;
		l->last_rx_us = p->fbrx.last_rx_us;
		l->owd_min_us = p->fbrx.interval_pkts ? p->fbrx.owd_min_us : 0;
		l->owd_max_us = p->fbrx.interval_pkts ? p->fbrx.owd_max_us : 0;
		bool quiet = !p->fbrx.interval_pkts;
		if (!quiet) {
			p->fbrx.had = true;
		} else if (p->fbrx.had) {
			/* went quiet: follow it up for about a round trip */
			p->fbrx.had = false;
			p->fbrx.quiet_ns = now;
			follow = true;
		} else if (p->fbrx.quiet_ns &&
			   now - p->fbrx.quiet_ns <
			       p->probe.srtt_us * 1000 + FB_FOLLOW_EXTRA_NS) {
			follow = true;
		} else {
			p->fbrx.quiet_ns = 0;
		}
		if (ttt_link_usable(&s->views[i]) && p->fd >= 0) {
			usable |= 1u << i;
			if (!quiet)
				carry |= 1u << i;
		}
		p->fbrx.interval_pkts = 0;
	}
	s->fb_pkts = 0;
	s->fb_last_ns = now;
	s->fb_follow = follow;
	ev_timer_stop(s->d->loop, &s->fb_timer);
	if (follow) {
		ev_timer_set(&s->fb_timer, (double)FB_FOLLOW_NS / 1e9, 0.0);
		ev_timer_start(s->d->loop, &s->fb_timer);
	}
	uint8_t body[WIRE_FB_HDR_LEN + WIRE_FB_MAX_LINKS * WIRE_FB_LINK_LEN];
	size_t len = wire_feedback_encode(body, sizeof(body), &f);
	if (!len)
		return;
	/* Nothing arrived on a usable link (a follow-up, or data only on
	 * links we think down): on every usable one, since the one with the
	 * lowest RTT may be the link that just died. */
	if (!carry)
		carry = usable;
	for (uint32_t i = 0; i < s->n_paths; i++)
		if (carry & (1u << i)) {
			s->paths[i].tx_ctl = true;
			if (datapath_send_msg(s, &s->paths[i], WT_FEEDBACK,
					      body, len, now) == 0)
				s->fb_sent++;
			s->paths[i].tx_ctl = false;
		}
}

void datapath_fb_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = w->data;
	(void)loop;
	(void)revents;
	if (s->fb_pkts || s->fb_follow)
		fb_send(s, now_ns(s->d));
}

/* After a DATA packet: report now if enough arrived, else by the timer. */
static void fb_maybe_send(struct session *s, uint64_t now)
{
	uint64_t iv = (uint64_t)s->d->cfg.link_model.feedback_ms * 1000000;
	uint64_t since = now - s->fb_last_ns;
	if ((s->fb_pkts >= FB_PKTS && since >= FB_MIN_NS) || since >= iv) {
		fb_send(s, now);
		return;
	}
	if (!ev_is_active(&s->fb_timer)) {
		ev_timer_set(&s->fb_timer, (double)(iv - since) / 1e9, 0.0);
		ev_timer_start(s->d->loop, &s->fb_timer);
	}
}

/* Sender side: a report from the far end feeds each link's model. */
static void rx_feedback(struct session *s, const uint8_t *body, size_t blen,
			uint64_t now)
{
	struct wire_feedback f;
	if (wire_feedback_decode(body, blen, &f) < 0) {
		s->fb_bad++;
		s->rx_bad++;
		return;
	}
	s->fb_received++;
	bool changed = false;
	for (uint32_t k = 0; k < f.n_links; k++) {
		const struct wire_fb_link *l = &f.links[k];
		if (l->link_id >= s->n_paths || !s->paths[l->link_id].sess)
			continue;
		struct path *p = &s->paths[l->link_id];
		struct lm_fb fb = {
		    .gen_us = f.gen_us,
		    .high_seq = l->high_seq,
		    .rx_packets = l->rx_packets,
		    .rx_bytes = l->rx_bytes,
		    .last_rx_us = l->last_rx_us,
		    .owd_min_us = l->owd_min_us,
		    .owd_max_us = l->owd_max_us,
		    .interval_pkts = l->interval_pkts,
		};
		uint64_t dp = p->lm.delivered_pkts, db = p->lm.delivered_bytes;
		uint64_t lost = p->lm.lost_pkts;
		bool demand = p->demand_ns && now - p->demand_ns < 100000000ull;
		int ev =
		    lm_on_feedback(&p->lm, now, &fb, demand, p->probe.srtt_us);
		if (!ev)
			continue;
		changed = true;
		s->views_dirty = true;
		if ((ev & LM_EV_STALL) && !p->fb_stalled &&
		    ttt_link_usable(&s->views[p->id])) {
			p->fb_stalled = true;
			log_info("link",
				 "%s: feedback shows nothing delivered for "
				 "%u ms: suspended until it answers a probe",
				 p->name,
				 (unsigned)((f.gen_us - p->lm.stall_us) / 1000 +
					    LM_STALL_MARGIN_US / 1000));
			prober_send_now(s, p, now);
		} else if (p->fb_stalled && !p->lm.stalled) {
			p->fb_stalled = false;
		}
		if (p->lm.delivered_pkts != dp)
			session_feedback(s, TTT_FB_DELIVERED, p->id,
					 (uint32_t)(p->lm.delivered_bytes - db),
					 (uint32_t)(p->lm.delivered_pkts - dp),
					 0, p->lm.qdelay_us, now);
		if (p->lm.lost_pkts != lost)
			session_feedback(s, TTT_FB_LOST, p->id, 0,
					 (uint32_t)(p->lm.lost_pkts - lost), 0,
					 0, now);
	}
	if (changed) {
		session_refresh_views(s, now);
		pace_arm(s, now);
	}
}

/*
 * Loss recovery, receiving side: a jump in a link's path_seq is a loss
 * (a link keeps its packets in order); the newest WIRE_NACK_MAX_COUNT of
 * the run are asked for at once on every usable link (a NACK is 12 bytes
 * of body; copies are harmless, the sender counts each loss once), and the
 * reorder buffer waits for them as long as a resend can still come.
 */
static uint64_t rec_wait_ns(const struct session *s)
{
	uint64_t rtt = 0;
	for (uint32_t i = 0; i < s->n_paths; i++) {
		const struct path *p = &s->paths[i];
		if (p->sess && p->fd >= 0 && ttt_link_usable(&s->views[i]) &&
		    p->probe.srtt_us > rtt)
			rtt = p->probe.srtt_us;
	}
	uint64_t w = rtt * 1000 + 20000000ull;
	uint64_t max = (uint64_t)s->d->cfg.recovery.max_wait_ms * 1000000;
	return w < max ? w : max;
}

static void rec_on_rx(struct session *s, struct path *p, uint32_t path_seq,
		      uint64_t now)
{
	if (!path_seq || !p->fbrx.active ||
	    (int32_t)(path_seq - p->fbrx.high_seq) <= 1)
		return;
	uint32_t gap = path_seq - p->fbrx.high_seq - 1;
	p->rec.losses += gap;
	if (!s->d->cfg.recovery.enabled)
		return;
	uint32_t count = gap < WIRE_NACK_MAX_COUNT ? gap : WIRE_NACK_MAX_COUNT;
	struct wire_nack n = {.n_runs = 1};
	n.runs[0].link_id = (uint8_t)p->id;
	n.runs[0].count = (uint16_t)count;
	n.runs[0].first = path_seq - count;
	uint8_t body[WIRE_NACK_HDR_LEN + WIRE_NACK_RUN_LEN];
	size_t len = wire_nack_encode(body, sizeof(body), &n);
	bool sent = false;
	for (uint32_t i = 0; i < s->n_paths && len; i++)
		if (s->paths[i].sess && s->paths[i].fd >= 0 &&
		    ttt_link_usable(&s->views[i]) &&
		    datapath_send_msg(s, &s->paths[i], WT_NACK, body, len,
				      now) == 0)
			sent = true;
	if (sent)
		p->rec.nacks_sent++;
	if (s->reorder) {
		reorder_hold_until(s->reorder, now + rec_wait_ns(s));
		session_arm_reorder(s, reorder_next_deadline(s->reorder), now);
	}
}

/* Sending side: the far end lists what it misses. */
static void rx_nack(struct session *s, const uint8_t *body, size_t blen,
		    uint64_t now)
{
	struct wire_nack n;
	if (wire_nack_decode(body, blen, &n) < 0) {
		s->nack_bad++;
		s->rx_bad++;
		return;
	}
	if (s->views_dirty)
		session_refresh_views(s, now);
	for (uint32_t k = 0; k < n.n_runs; k++) {
		const struct wire_nack_run *r = &n.runs[k];
		if (r->link_id >= s->n_paths || !s->paths[r->link_id].sess)
			continue;
		s->paths[r->link_id].rec.nacks_rx += r->count;
		for (uint32_t j = 0; s->retx && j < r->count; j++)
			rec_resend(s, r->link_id, r->first + j, now, false);
	}
	if (s->retx)
		pace_service(s, now);
}

/* Hands an inner packet to the reorder buffer under its original seq (or
 * to the tun without one). Returns what reorder_push said (0 without a
 * buffer); a late packet is delivered anyway (see rx_data). */
static int rx_deliver(struct session *s, uint64_t seq, uint32_t prev_gap,
		      const uint8_t *inner, size_t ilen, uint64_t now)
{
	if (!s->reorder) {
		datapath_tun_write(s, inner, ilen, NULL);
		return 0;
	}
	struct pktbuf *b = session_buf_get(s);
	if (!b) {
		/* Pool exhausted (cannot happen while the pool is larger than
		 * the reorder capacity): deliver rather than lose it. */
		datapath_tun_write(s, inner, ilen, NULL);
		return 0;
	}
	/* Lent, not copied: the packet stays in the receive batch, valid
	 * until the batch's tunio_flush(). Most packets are delivered on
	 * arrival (written or coalesced from there); only one the buffer
	 * holds is copied into its pool buffer, before the batch moves on. */
	b->data = (uint8_t *)inner;
	b->len = (uint32_t)ilen;
	s->rx_borrow = b;
	int ret =
	    reorder_push(s->reorder, seq, prev_gap, b, (uint32_t)ilen, now);
	if (ret == 0 && s->rx_borrow == b) {
		memcpy(b->raw, inner, ilen);
		b->data = b->raw;
	}
	s->rx_borrow = NULL;
	if (ret == -ESTALE) {
		/* Arrived after its gap was given up on. The replay window
		 * already vouched it is no duplicate, and for TCP a late
		 * segment is worth far more than a lost one: deliver it. */
		datapath_tun_write(s, b->data, ilen, b);
		s->rx_late_delivered++;
	} else if (ret < 0) {
		session_buf_put(b);
	}
	session_arm_reorder(s, reorder_next_deadline(s->reorder), now);
	return ret;
}

/* A resend: counted on the link it came on like any DATA, delivered under
 * the original's seq, and credited to the link that lost the original. */
static void rx_retx(struct session *s, struct path *p, uint8_t *body,
		    size_t blen, size_t dgram, const struct wire_hdr *h,
		    uint64_t now)
{
	struct wire_retx rh;
	if (wire_retx_decode(body, blen, &rh) < 0 || rh.back > h->seq) {
		s->rx_bad++;
		return;
	}
	struct wire_data dh = {.path_seq = rh.path_seq, .tx_us = rh.tx_us};
	rec_on_rx(s, p, rh.path_seq, now);
	fb_note(s, p, &dh, dgram);
	fb_maybe_send(s, now);
	uint8_t *inner = body + WIRE_DATA_HDR_LEN;
	size_t ilen = blen - WIRE_DATA_HDR_LEN;
	if (!s->d->client && server_check_inner_src(s, inner, ilen) < 0) {
		s->rx_spoofed++;
		return;
	}
	struct path *lost =
	    rh.lost_link < CFG_MAX_LINKS && s->paths[rh.lost_link].sess
		? &s->paths[rh.lost_link]
		: p;
	int ret =
	    rx_deliver(s, h->seq - rh.back, rh.prev_gap, inner, ilen, now);
	if (ret == 0)
		lost->rec.recovered++;
	else if (ret == -ESTALE)
		lost->rec.late++;
	else
		lost->rec.dup++;
}

static void rx_data(struct session *s, struct path *p, uint8_t *body,
		    size_t blen, size_t dgram, const struct wire_hdr *h,
		    uint64_t now)
{
	struct daemon *d = s->d;
	struct wire_data dh;
	if (wire_data_decode(body, blen, &dh) < 0) {
		s->rx_bad++;
		return;
	}
	rec_on_rx(s, p, dh.path_seq, now);
	fb_note(s, p, &dh, dgram);
	if (dh.path_seq)
		session_note_owd(s, p, d->rx_us - dh.tx_us, d->rx_us, now);
	fb_maybe_send(s, now);
	uint8_t *inner = body + WIRE_DATA_HDR_LEN;
	size_t ilen = blen - WIRE_DATA_HDR_LEN;
	if (!d->client && server_check_inner_src(s, inner, ilen) < 0) {
		s->rx_spoofed++;
		return;
	}
	if (h->seq > p->fbrx.data_high_seq)
		p->fbrx.data_high_seq = h->seq;
	p->fbrx.data_rx_ns = now;
	rx_deliver(s, h->seq, dh.prev_gap, inner, ilen, now);
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

/*
 * An authentic DATA packet whose seq the replay window has seen: the second
 * copy of a duplicated interactive packet (flow_queue.duplicate), or a
 * replay. Its payload is dropped, but its link did carry it: the per-link
 * feedback must count it, or the link model would read the copy's path_seq
 * as a loss on that link. Counted in rx_replay (every seq seen before) and
 * rx_dup (of those, a fresh copy on its link).
 */
static void rx_dup_data(struct session *s, uint8_t *body, size_t blen,
			size_t dgram, const struct wire_hdr *h, int uplink_id,
			uint64_t now)
{
	struct path *p = NULL;
	if (s->d->client) {
		if (uplink_id >= 0 && (uint32_t)uplink_id < s->n_paths)
			p = &s->paths[uplink_id];
	} else if (s->paths[h->link_id].sess) {
		p = &s->paths[h->link_id];
	}
	struct wire_data dh;
	s->rx_replay++;
	if (!p || !p->sess || wire_data_decode(body, blen, &dh) < 0)
		return;
	/* A copy sent on this link carries a path_seq the link has not shown
	 * yet; a captured packet replayed carries an old one and must not
	 * inflate what the link seems to deliver. */
	if (p->fbrx.active && (int32_t)(dh.path_seq - p->fbrx.high_seq) <= 0)
		return;
	s->rx_dup++;
	p->rx_packets++;
	p->rx_bytes += dgram;
	fb_note(s, p, &dh, dgram);
	fb_maybe_send(s, now);
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
	bool seen = replay_check(&s->replay, h.seq) < 0;
	if (seen && h.type != WT_DATA) {
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
	if (seen) {
		rx_dup_data(s, body, blen, len, &h, uplink_id, now);
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
		rx_data(s, p, body, blen, len, &h, now);
		break;
	case WT_FEEDBACK:
		rx_feedback(s, body, blen, now);
		break;
	case WT_NACK:
		rx_nack(s, body, blen, now);
		break;
	case WT_RETX:
		rx_retx(s, p, body, blen, len, &h, now);
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

static size_t rx_gro_size(const struct msghdr *mh);

/* Reads a batch of datagrams with one recvmmsg and processes each; with
 * UDP GRO one slot may hold a train of them. */
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
			rx->iov[i].iov_base =
			    rx->buf + (size_t)i * rx->buf_size;
			rx->iov[i].iov_len = rx->buf_size;
			rx->msg[i].msg_hdr.msg_name = &rx->from[i];
			rx->msg[i].msg_hdr.msg_namelen = sizeof(rx->from[i]);
			rx->msg[i].msg_hdr.msg_iov = &rx->iov[i];
			rx->msg[i].msg_hdr.msg_iovlen = 1;
			rx->msg[i].msg_hdr.msg_control = rx->cmsg[i].buf;
			rx->msg[i].msg_hdr.msg_controllen = sizeof(rx->cmsg[i]);
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
		d->rx_us = (uint32_t)(mono_ns() / 1000);
		for (int i = 0; i < n; i++) {
			if (rx->msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
				d->rx_truncated++;
				continue;
			}
			uint8_t *buf = rx->iov[i].iov_base;
			size_t len = rx->msg[i].msg_len;
			size_t seg = rx_gro_size(&rx->msg[i].msg_hdr);
			if (seg && seg < len) {
				d->udp_gro_msgs++;
				d->udp_gro_segs += (len + seg - 1) / seg;
			} else {
				seg = len;
			}
			/* UDP GRO: the peer's datagrams back to back, each
			 * seg bytes but the last */
			for (size_t at = 0; at < len; at += seg)
				datapath_rx(d, fd, buf + at,
					    len - at < seg ? len - at : seg,
					    &rx->from[i],
					    rx->msg[i].msg_hdr.msg_namelen,
					    uplink_id, now);
		}
		/* the inner packets delivered point into the batch */
		tunio_flush(d);
		if (n < RX_BATCH)
			return;
	}
}

/* The datagram size of a UDP GRO receive (its UDP_GRO cmsg), or 0. */
static size_t rx_gro_size(const struct msghdr *mh)
{
	for (const struct cmsghdr *c = CMSG_FIRSTHDR(mh); c;
	     c = CMSG_NXTHDR((struct msghdr *)mh, (struct cmsghdr *)c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int v;
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v > 0 ? (size_t)v : 0;
		}
	}
	return 0;
}

int datapath_init(struct daemon *d, struct err *e)
{
	d->txbuf = aligned_alloc(64, (d->buf_size + 63) & ~63u);
	d->rdbuf = aligned_alloc(64, (d->buf_size + 63) & ~63u);
	d->rx = calloc(1, sizeof(*d->rx));
	if (d->rx) {
		/* a GRO'd receive is up to 64 KiB */
		d->rx->buf_size = tunio_udp_gro(d) ? 65536 : d->buf_size;
		d->rx->buf =
		    aligned_alloc(64, (size_t)RX_BATCH * d->rx->buf_size);
	}
	d->tx = calloc(1, sizeof(*d->tx));
	if (d->tx)
		d->tx->mem = aligned_alloc(64, (size_t)TX_BATCH * d->buf_size);
	if (!d->txbuf || !d->rdbuf || !d->rx || !d->rx->buf || !d->tx ||
	    !d->tx->mem)
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
	free(d->rdbuf);
	d->rdbuf = NULL;
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
