/*
 * The batched transmit path against real sockets: a client session with two
 * paths, one a loopback UDP socket that works and one a descriptor on which
 * every send fails, fed from a datagram socketpair standing in for the tun.
 * Checks what a batch must guarantee: per-path order, every packet on the
 * working path arriving once, failures counted, and the flow bucket's last
 * packet being one that really left (a failed packet must never become a
 * later packet's predecessor), also when nothing of the batch left.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"
#include "datapath.h"
#include "sched/sched_host.h"
#include "wire/wire_be.h"

struct fx {
	struct daemon d;
	struct session *s;
	int tun_peer; /* write inner packets here */
	int rx;	      /* loopback receiver of path 0 */
	uint32_t bucket;
};

static void ipv4_udp(uint8_t *pkt, size_t len)
{
	memset(pkt, 0, len);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
	pkt[8] = 64;
	pkt[9] = 17;
	memcpy(pkt + 12, "\x0a\x4d\x00\x02\x0a\x63\x00\x02", 8);
	pkt[20] = 0x30, pkt[21] = 0x39, pkt[22] = 0x00, pkt[23] = 0x35;
}

static bool fq_wanted;

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct err e;
	int sv[2];
	assert_non_null(f);
	struct daemon *d = &f->d;
	d->loop = ev_default_loop(0);
	d->client = true;
	d->tun_fd = -1;
	config_defaults(&d->cfg);
	d->cfg.reorder.enabled = false;
	/* The FIFO daemon queue, unless a test asks for flow queueing. */
	d->cfg.flow_queue.enabled = fq_wanted;
	/* These tests are about batching: a pacer fast enough never to hold
	 * a packet back (test_pacer lowers it). */
	d->cfg.link_model.initial_rate_bps = 10000000000ull;
	d->buf_size = 2048;
	d->tun_mtu = 1400;
	assert_int_equal(sched_registry_create(&d->reg, "/nonexistent", &e), 0);
	assert_int_equal(datapath_init(d, &e), 0);
	assert_int_equal(session_create(d, &f->s, &e), 0);
	d->sess = f->s;
	f->s->state = SESS_ESTABLISHED;
	f->s->keys.mode = CRYPTO_NONE;
	/* bucket_last 0 means "no predecessor": start where a real session
	 * is after its first probes. */
	f->s->tx_seq = 1;
	session_path_init(f->s, 0, "good");
	session_path_init(f->s, 1, "bad");

	/* Path 0: a UDP socket connected to a loopback receiver. */
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	f->rx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(f->rx >= 0);
	assert_int_equal(bind(f->rx, (struct sockaddr *)&a, al), 0);
	assert_int_equal(getsockname(f->rx, (struct sockaddr *)&a, &al), 0);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, al), 0);
	/* Path 1: not a socket, so every sendmmsg fails (ENOTSOCK). */
	int bad = open("/dev/null", O_WRONLY);
	assert_true(bad >= 0);
	int fds[2] = {fd, bad};
	for (int i = 0; i < 2; i++) {
		struct path *p = &f->s->paths[i];
		p->fd = fds[i];
		p->known = true;
		p->family = AF_INET;
		p->probe.state = PLS_UP;
	}
	f->s->views_dirty = true;
	assert_int_equal(
	    session_set_sched(f->s, SCHED_BUILTIN_NAME, NULL, 0, &e), 0);

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv),
			 0);
	d->tun_fd = sv[0];
	f->tun_peer = sv[1];
	uint8_t pkt[1000];
	ipv4_udp(pkt, sizeof(pkt));
	f->bucket = wire_flow_hash(pkt, sizeof(pkt)) % WIRE_BUCKETS;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	close(f->s->paths[0].fd);
	close(f->s->paths[1].fd);
	close(f->d.tun_fd);
	close(f->tun_peer);
	close(f->rx);
	session_destroy(f->s);
	sched_registry_destroy(f->d.reg);
	datapath_free(&f->d);
	free(f);
	return 0;
}

/* Queues n packets of one flow on the "tun" and runs one wakeup. */
static void feed(struct fx *f, int n)
{
	uint8_t pkt[1000];
	ipv4_udp(pkt, sizeof(pkt));
	for (int i = 0; i < n; i++)
		assert_int_equal(send(f->tun_peer, pkt, sizeof(pkt), 0),
				 (ssize_t)sizeof(pkt));
	ev_io w;
	w.data = &f->d;
	datapath_tun_cb(f->d.loop, &w, EV_READ);
}

/* Round robin over both paths: half the batch fails. */
static void test_half_fails(void **state)
{
	struct fx *f = *state;
	struct session *s = f->s;
	feed(f, 20);

	uint8_t buf[2048];
	uint64_t last = 0;
	int got = 0;
	ssize_t n;
	while ((n = recv(f->rx, buf, sizeof(buf), 0)) > 0) {
		assert_int_equal(n, WIRE_HDR_LEN + WIRE_DATA_HDR_LEN + 1000);
		uint64_t seq = wire_get64(buf + 8);
		assert_int_equal(buf[2], 0); /* link id of path 0 */
		assert_true(seq > last);     /* per-path order kept */
		last = seq;
		got++;
	}
	assert_int_equal(got, 10);
	assert_int_equal(s->paths[0].tx_packets, 10);
	assert_int_equal(s->paths[1].tx_packets, 0);
	assert_int_equal(s->paths[1].tx_errors, 10);
	/* The bucket ends at the newest packet that left, not at the
	 * newest one queued (which went to the failing path). */
	assert_int_equal(s->bucket_last[f->bucket], last);
	assert_int_equal(s->views[0].tx_packets, 10);
	assert_int_equal(s->views[1].tx_packets, 0);

	/* The next batch chains to a packet that left. */
	s->paths[1].admin_down = true;
	s->views_dirty = true;
	feed(f, 1);
	n = recv(f->rx, buf, sizeof(buf), 0);
	assert_true(n > 0);
	uint64_t seq = wire_get64(buf + 8);
	assert_int_equal(wire_get32(buf + WIRE_HDR_LEN), seq - last);
	assert_int_equal(s->bucket_last[f->bucket], seq);
}

/* Everything goes to the failing path: the bucket keeps its old value. */
static void test_all_fail(void **state)
{
	struct fx *f = *state;
	struct session *s = f->s;
	s->paths[0].admin_down = true;
	s->views_dirty = true;
	s->bucket_last[f->bucket] = 3;
	s->tx_seq = 10;
	feed(f, 7);
	assert_int_equal(s->paths[1].tx_errors, 7);
	assert_int_equal(s->bucket_last[f->bucket], 3);
	assert_int_equal(s->tx_seq, 17);
	uint8_t buf[64];
	assert_true(recv(f->rx, buf, sizeof(buf), 0) < 0);
}

/* A full wakeup of one flow on the working path: all arrive, in order. */
static void test_full_batch_in_order(void **state)
{
	struct fx *f = *state;
	struct session *s = f->s;
	s->paths[1].admin_down = true;
	s->views_dirty = true;
	feed(f, TX_BATCH);
	uint8_t buf[2048];
	uint64_t prev = 0;
	int got = 0;
	while (recv(f->rx, buf, sizeof(buf), 0) > 0) {
		uint64_t seq = wire_get64(buf + 8);
		if (got)
			assert_int_equal(seq, prev + 1);
		if (got)
			assert_int_equal(wire_get32(buf + WIRE_HDR_LEN), 1);
		prev = seq;
		got++;
	}
	assert_int_equal(got, TX_BATCH);
	assert_int_equal(s->paths[0].tx_packets, TX_BATCH);
	assert_int_equal(s->bucket_last[f->bucket], prev);
}

/* One TCP segment of a single flow: `data` payload bytes, TCP flags. */
static void feed_tcp(struct fx *f, size_t data, uint8_t flags)
{
	uint8_t pkt[1400];
	size_t len = 40 + data;
	ipv4_udp(pkt, len);
	pkt[9] = 6;
	pkt[20 + 12] = 5 << 4;
	pkt[20 + 13] = flags;
	assert_int_equal(send(f->tun_peer, pkt, len, 0), (ssize_t)len);
}

/* A pure ACK between two data segments of its flow (a flow with data
 * both ways) is outside the order chain: it leaves with prev_gap 0 (the
 * far end delivers it on arrival, never held behind a lost segment), and
 * the next data segment chains to the data segment before it, not to
 * the ACK (which may overtake). A data segment, SYN or FIN still chains. */
static void test_pure_ack_unchained(void **state)
{
	struct fx *f = *state;
	struct session *s = f->s;
	s->paths[1].admin_down = true;
	s->views_dirty = true;
	feed_tcp(f, 100, 0x18); /* data, PSH+ACK */
	feed_tcp(f, 0, 0x10);	/* pure ACK */
	feed_tcp(f, 200, 0x10); /* data */
	feed_tcp(f, 0, 0x11);	/* FIN+ACK: state, not a pure ACK */
	ev_io w;
	w.data = &f->d;
	datapath_tun_cb(f->d.loop, &w, EV_READ);
	uint8_t buf[2048];
	uint64_t seq[4];
	uint32_t gap[4];
	int got = 0;
	while (got < 4 && recv(f->rx, buf, sizeof(buf), 0) > 0) {
		seq[got] = wire_get64(buf + 8);
		gap[got] = wire_get32(buf + WIRE_HDR_LEN);
		got++;
	}
	assert_int_equal(got, 4);
	assert_int_equal(gap[1], 0); /* the ACK waits for nothing */
	assert_int_equal(gap[2], seq[2] - seq[0]); /* data chains to data */
	assert_int_equal(gap[3], seq[3] - seq[2]); /* the FIN chains */
	uint8_t tcp[40];
	ipv4_udp(tcp, sizeof(tcp));
	tcp[9] = 6;
	assert_int_equal(
	    s->bucket_last[wire_flow_hash(tcp, sizeof(tcp)) % WIRE_BUCKETS],
	    seq[3]);
}

/* The pacer: at 4 Mbit/s a link in STARTUP that has measured nothing yet
 * lets a TCP initial window through at once (16 packets, datapath.c), the
 * rest waits (in the link's pacer queue, and once that is booked ahead, in
 * the session's queue), in order, and leaves as the pacer drains; nothing
 * is lost. */
static void test_pacer(void **state)
{
	struct fx *f = *state;
	struct session *s = f->s;
	s->paths[1].admin_down = true;
	lm_init(&s->paths[0].lm, &(struct lm_cfg){.initial_bps = 4000000});
	s->views_dirty = true;
	feed(f, 48);
	uint8_t buf[2048];
	uint64_t prev = 0;
	int got = 0;
	while (recv(f->rx, buf, sizeof(buf), 0) > 0) {
		uint64_t seq = wire_get64(buf + 8);
		assert_true(seq > prev);
		prev = seq;
		got++;
	}
	assert_true(got > 0);
	assert_true(got >= 16); /* the initial window */
	assert_true(got < 48);
	assert_int_equal(got + (int)s->q.n + (int)s->paths[0].pq.n, 48);
	assert_true(s->q.n > 0); /* booked ahead: the session queue holds */
	assert_true(ev_is_active(&s->pace_timer));
	int first = got;
	/* let the pacer's budget refill, then run its timer */
	while (!pktq_empty(&s->q) || !pktq_empty(&s->paths[0].pq)) {
		usleep(5000);
		ev_now_update(f->d.loop);
		datapath_pace_cb(f->d.loop, &s->pace_timer, EV_TIMER);
		while (recv(f->rx, buf, sizeof(buf), 0) > 0) {
			uint64_t seq = wire_get64(buf + 8);
			assert_true(seq > prev); /* FIFO through the queue */
			prev = seq;
			got++;
		}
	}
	assert_true(got > first);
	assert_int_equal(got, 48);
	assert_int_equal(s->q.drops_full + s->q.drops_codel, 0);
	assert_int_equal(s->paths[0].lm.sent_pkts, 48);
	assert_false(ev_is_active(&s->pace_timer));
}

/* The seal reads each packet where it waits (its pacer-queue entry, the
 * headers built in front of it there) and writes the datagram into the
 * send batch: every datagram opens under the peer's keys to exactly the
 * inner packet sent, DATA header included, in every crypto mode, up to
 * a packet of the tun's MTU (the largest the path takes). */
static void test_sealed_from_entry(void **state)
{
	static const int modes[] = {CRYPTO_ENCRYPT, CRYPTO_AUTH, CRYPTO_NONE};
	struct fx *f = *state;
	struct session *s = f->s;
	uint8_t cr[WIRE_RANDOM_LEN] = {1}, sr[WIRE_RANDOM_LEN] = {2};
	const uint8_t psk[WIRE_KEY_LEN] = {3};
	const size_t lens[] = {60, 1000, f->d.tun_mtu};
	s->paths[1].admin_down = true;
	s->views_dirty = true;
	for (size_t mi = 0; mi < 3; mi++) {
		struct wire_keys rx;
		wire_derive_keys(&s->keys, modes[mi], psk, cr, sr, 9, 1);
		wire_derive_keys(&rx, modes[mi], psk, cr, sr, 9, 0);
		for (size_t li = 0; li < 3; li++) {
			uint8_t pkt[2048], buf[2048];
			ipv4_udp(pkt, lens[li]);
			for (size_t j = 28; j < lens[li]; j++)
				pkt[j] = (uint8_t)(j * 13 + mi + li);
			assert_int_equal(send(f->tun_peer, pkt, lens[li], 0),
					 (ssize_t)lens[li]);
			ev_io w;
			w.data = &f->d;
			datapath_tun_cb(f->d.loop, &w, EV_READ);
			ssize_t n = recv(f->rx, buf, sizeof(buf), 0);
			assert_int_equal(n, (ssize_t)(WIRE_HDR_LEN +
						      WIRE_DATA_HDR_LEN +
						      lens[li] +
						      (modes[mi] == CRYPTO_NONE
							   ? 0
							   : WIRE_TAG_LEN)));
			struct wire_hdr h;
			uint8_t *body;
			size_t blen;
			assert_int_equal(wire_hdr_decode(buf, (size_t)n, &h),
					 0);
			assert_int_equal(h.type, WT_DATA);
			assert_int_equal(
			    wire_open(&rx, buf, (size_t)n, &h, &body, &blen),
			    0);
			struct wire_data dh;
			assert_int_equal(wire_data_decode(body, blen, &dh), 0);
			assert_int_equal(dh.bucket,
					 wire_flow_hash(pkt, lens[li]) %
					     WIRE_BUCKETS);
			assert_int_equal(dh.path_seq, mi * 3 + li + 1);
			assert_int_equal(blen - WIRE_DATA_HDR_LEN, lens[li]);
			assert_memory_equal(body + WIRE_DATA_HDR_LEN, pkt,
					    lens[li]);
		}
	}
	assert_int_equal(s->tx_drops, 0);
}

static int setup_fq(void **state)
{
	fq_wanted = true;
	int r = setup(state);
	fq_wanted = false;
	return r;
}

/* Sends one inner packet of UDP source port `sport`, `len` bytes, DSCP. */
static void feed_one(struct fx *f, uint16_t sport, size_t len, uint8_t dscp)
{
	uint8_t pkt[1400];
	ipv4_udp(pkt, len);
	pkt[1] = (uint8_t)(dscp << 2);
	pkt[20] = (uint8_t)(sport >> 8), pkt[21] = (uint8_t)sport;
	assert_int_equal(send(f->tun_peer, pkt, len, 0), (ssize_t)len);
}

/* Flow queueing: with the pacer holding a bulk flow back, a packet of a
 * sparse flow, and one marked EF, leave at once, ahead of the bulk still
 * waiting; the bulk all leaves later, nothing lost; the class figures
 * count them. */
static void test_fq_interactive(void **state)
{
	struct fx *f = *state;
	struct session *s = f->s;
	assert_true(s->fq_on);
	s->paths[1].admin_down = true;
	lm_init(&s->paths[0].lm, &(struct lm_cfg){.initial_bps = 4000000});
	s->views_dirty = true;
	for (int i = 0; i < 30; i++)
		feed_one(f, 1000, 1000, 0);
	feed_one(f, 2000, 100, 0);   /* sparse */
	feed_one(f, 1000, 1000, 46); /* the bulk flow, but EF */
	ev_io w;
	w.data = &f->d;
	datapath_tun_cb(f->d.loop, &w, EV_READ);
	uint8_t buf[2048];
	ssize_t n;
	int got = 0, small = 0, ef = 0;
	while ((n = recv(f->rx, buf, sizeof(buf), 0)) > 0) {
		const uint8_t *in = buf + WIRE_HDR_LEN + WIRE_DATA_HDR_LEN;
		struct wire_data dh;
		assert_int_equal(wire_data_decode(buf + WIRE_HDR_LEN,
						  (size_t)n - WIRE_HDR_LEN,
						  &dh),
				 0);
		bool is_small = n == WIRE_HDR_LEN + WIRE_DATA_HDR_LEN + 100;
		bool is_ef = (in[1] >> 2) == 46;
		/* a sparse flow's packet: no predecessor, never held behind
		 * a loss; an EF packet of the bulk flow keeps its chain (its
		 * flow's bulk packets may still wait: no overtaking them) */
		if (is_small)
			assert_int_equal(dh.prev_gap, 0);
		if (is_ef)
			assert_int_not_equal(dh.prev_gap, 0);
		small += is_small;
		ef += is_ef;
		got++;
	}
	assert_int_equal(small, 1);
	assert_int_equal(ef, 1);
	assert_true(got < 32);
	assert_true(s->fq.n + s->paths[0].pq.n > 0); /* bulk still waits */
	assert_true(s->cls[TTT_CLASS_INTERACTIVE].packets >= 2);
	while (!fq_empty(&s->fq) || !pktq_empty(&s->paths[0].pq)) {
		usleep(5000);
		ev_now_update(f->d.loop);
		datapath_pace_cb(f->d.loop, &s->pace_timer, EV_TIMER);
		while (recv(f->rx, buf, sizeof(buf), 0) > 0)
			got++;
	}
	assert_int_equal(got, 32);
	assert_int_equal(s->cls[0].packets + s->cls[1].packets, 32);
	assert_true(s->cls[TTT_CLASS_BULK].packets >= 25);
}

/* Every link only suspected (what a stall of the daemon itself does to
 * all of them at once, #10.5): the one heard last stays usable, so the
 * packets go out instead of being dropped; one confirmed DOWN is not kept,
 * and nothing is kept while a link is really usable. */
static void test_all_suspect_keeps_last_heard(void **state)
{
	struct fx *f = *state;
	struct session *s = f->s;
	uint64_t now = now_ns(&f->d);
	for (int i = 0; i < 2; i++) {
		s->paths[i].probe.state = PLS_DOWN;
		s->paths[i].probe.suspect = 1;
	}
	s->paths[0].probe.last_heard_ns = now - 5000000;
	s->paths[1].probe.last_heard_ns = now - 9000000;
	session_refresh_views(s, now);
	assert_int_equal(s->views[0].state, TTT_LINK_DEGRADED);
	assert_int_equal(s->views[1].state, TTT_LINK_DOWN);
	feed(f, 3);
	uint8_t buf[2048];
	int got = 0;
	while (recv(f->rx, buf, sizeof(buf), 0) > 0)
		got++;
	assert_int_equal(got, 3);
	/* Path 1 heard last now: it is the one kept. */
	s->paths[1].probe.last_heard_ns = now;
	session_refresh_views(s, now);
	assert_int_equal(s->views[0].state, TTT_LINK_DOWN);
	assert_int_equal(s->views[1].state, TTT_LINK_DEGRADED);
	/* A metered one is kept only when no free one is suspect. */
	s->paths[1].metered = true;
	session_refresh_views(s, now);
	assert_int_equal(s->views[0].state, TTT_LINK_DEGRADED);
	assert_int_equal(s->views[1].state, TTT_LINK_DOWN);
	s->paths[0].probe.suspect = 0;
	session_refresh_views(s, now);
	assert_int_equal(s->views[0].state, TTT_LINK_DOWN);
	assert_int_equal(s->views[1].state, TTT_LINK_DEGRADED);
	s->paths[1].metered = false;
	/* Confirmed dead, not suspect: nothing is kept. */
	s->paths[0].probe.suspect = 0;
	s->paths[1].probe.suspect = 0;
	session_refresh_views(s, now);
	assert_int_equal(s->views[0].state, TTT_LINK_DOWN);
	assert_int_equal(s->views[1].state, TTT_LINK_DOWN);
	/* One really usable: the suspect one is not promoted. */
	s->paths[0].probe.state = PLS_UP;
	s->paths[1].probe.suspect = 1;
	session_refresh_views(s, now);
	assert_int_equal(s->views[0].state, TTT_LINK_UP);
	assert_int_equal(s->views[1].state, TTT_LINK_DOWN);
}

/* The model's figures reach the scheduler: the view carries each link's
 * capacity, pacing rate, queueing delay and in-flight bytes, and the
 * STARTUP bit follows the model's phase (earliest-arrival reads it to
 * keep a slower link unstarted while the fast one is still searching). */
static void test_view_carries_model(void **state)
{
	struct fx *f = *state;
	struct session *s = f->s;
	uint64_t now = now_ns(&f->d);
	struct lm *m0 = &s->paths[0].lm, *m1 = &s->paths[1].lm;
	m0->phase = LM_STARTUP;
	m1->phase = LM_STEADY;
	m0->capacity_bps = 0;
	m1->capacity_bps = 19000000;
	m1->pacing_bps = 18000000;
	m1->qdelay_us = 4321;
	m1->inflight_bytes = 65432;
	session_refresh_views(s, now);
	assert_int_equal(s->views[0].model_flags & TTT_LINK_F_STARTUP,
			 TTT_LINK_F_STARTUP);
	assert_int_equal(s->views[1].model_flags & TTT_LINK_F_STARTUP, 0);
	assert_int_equal(s->views[1].capacity_bps, 19000000);
	assert_int_equal(s->views[1].pacing_bps, 18000000);
	assert_int_equal(s->views[1].queue_delay_us, 4321);
	assert_int_equal(s->views[1].inflight_bytes, 65432);
	/* The phases swap: so do the bits. */
	m0->phase = LM_STEADY;
	m1->phase = LM_STARTUP;
	session_refresh_views(s, now);
	assert_int_equal(s->views[0].model_flags & TTT_LINK_F_STARTUP, 0);
	assert_int_equal(s->views[1].model_flags & TTT_LINK_F_STARTUP,
			 TTT_LINK_F_STARTUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_half_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_all_fail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_batch_in_order, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pacer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pure_ack_unchained, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_sealed_from_entry, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_fq_interactive, setup_fq,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_all_suspect_keeps_last_heard,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_view_carries_model, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
