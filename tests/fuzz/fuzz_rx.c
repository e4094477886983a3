/*
 * libFuzzer harness over the real receive path, datapath_rx() (core/
 * datapath.c, with session, prober, peer control, reorder and rekey code
 * linked in as they ship), on a client or a server daemon holding an
 * established session. The harness plays the peer: it holds the peer's
 * half of a real version-2 key exchange, seals the packets it sends, and
 * answers the daemon's REKEY / REKEY_ACK, so fuzzed input reaches
 * everything past authentication: the replay window (old, repeated and
 * far-future seqs), the reorder buffer (gaps, prev_gap chains, timeouts),
 * probes and probe replies, in-session CONTROL JSON, REKEY in both
 * directions with the epoch switch, CLOSE, and unauthenticated bytes.
 *
 * Properties checked after every datagram:
 *  - a datagram the harness did not seal changes no replay state and no
 *    key epoch;
 *  - the key epoch only moves forward, by one at a time;
 *  - a sealed packet is never counted as an authentication failure while
 *    its epoch's keys are live on both sides.
 *
 * Input: records of [op][arg][len][bytes...]. Built and run by
 * scripts/fuzz.sh (make fuzz).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "datapath.h"
#include "base/log.h"
#include "reorder.h"
#include "sched/sched_host.h"
#include "wire/hello_limit.h"
#include "wire/wire_be.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ev_loop *loop;
static uint8_t psk[WIRE_KEY_LEN] = {0x5a, 0x17};

static void fuzz_check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_rx: property broken: %s\n", what);
		abort();
	}
}

/* The peer as the harness plays it. */
struct peer {
	struct wire_keys k;
	struct wire_rekey rk;
	uint64_t seq; /* next seq the peer seals with */
	int sink;     /* UDP socket the daemon's answers arrive at */
	int dfd;      /* the daemon's socket towards it */
	struct sockaddr_storage
	    addr; /* sink's address, as seen by the daemon */
};

struct world {
	struct daemon d;
	struct session *s;
	struct peer p;
	uint64_t now;
};

/* Two UDP sockets on loopback connected to each other: the daemon's
 * socket and the harness's sink. */
static void socket_pair(int *dfd, int *sink, struct sockaddr_storage *sink_addr)
{
	struct sockaddr_in a = {.sin_family = AF_INET},
			   b = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	a.sin_addr.s_addr = b.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*dfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	*sink = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (*dfd < 0 || *sink < 0 || bind(*dfd, (void *)&a, al) < 0 ||
	    bind(*sink, (void *)&b, al) < 0 ||
	    getsockname(*dfd, (void *)&a, &al) < 0 ||
	    getsockname(*sink, (void *)&b, &al) < 0 ||
	    connect(*dfd, (void *)&b, al) < 0 ||
	    connect(*sink, (void *)&a, al) < 0)
		abort();
	memset(sink_addr, 0, sizeof(*sink_addr));
	memcpy(sink_addr, &b, sizeof(b));
}

/* What is expensive and the same for every input, made once: the key
 * exchange (4 X25519 operations), sockets, the plugin registry and the
 * datapath's buffers. Everything an input can change is made anew. */
static struct {
	struct wire_keys kd[2], kp[2]; /* [client?]: daemon's and peer's */
	uint8_t ck[WIRE_CK_LEN];
	int dfd, sink;
	struct sockaddr_storage addr;
	struct sched_registry *reg;
	struct daemon dp; /* holds the datapath buffers */
	int tun_fd;
} once;

static void once_up(void)
{
	struct wire_eph ce, se;
	uint8_t ck[WIRE_CK_LEN];
	struct err e;

	wire_eph_generate(&ce);
	wire_eph_generate(&se);
	for (int client = 0; client < 2; client++)
		if (wire_kx_session(&once.kd[client], once.ck, CRYPTO_ENCRYPT,
				    psk, client ? ce.sk : se.sk, ce.pk, se.pk,
				    0x01020304, client) < 0 ||
		    wire_kx_session(&once.kp[client], ck, CRYPTO_ENCRYPT, psk,
				    client ? se.sk : ce.sk, ce.pk, se.pk,
				    0x01020304, !client) < 0)
			abort();
	wire_eph_wipe(&ce);
	wire_eph_wipe(&se);
	socket_pair(&once.dfd, &once.sink, &once.addr);
	once.tun_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	once.dp.buf_size = 2048;
	if (once.tun_fd < 0 ||
	    sched_registry_create(&once.reg, "/nonexistent-ttt-fuzz", &e) < 0 ||
	    datapath_init(&once.dp, &e) < 0)
		abort();
}

/* A daemon of either role with an established session whose keys come
 * from a real exchange with the harness's peer. */
static void world_up(struct world *w, int client, int mode, int cipher)
{
	struct err e;
	struct daemon *d = &w->d;
	uint8_t junk[2048];

	memset(w, 0, sizeof(*w));
	while (recv(once.sink, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	d->loop = loop;
	d->client = client;
	config_defaults(&d->cfg);
	d->cfg.role = client ? ROLE_CLIENT : ROLE_SERVER;
	d->cfg.crypto_mode = mode;
	d->cfg.reorder.enabled = true;
	d->cfg.reorder.capacity = 64;
	d->cfg.rekey.interval_ms = 1000;
	d->cfg.n_clients = 1;
	snprintf(d->cfg.clients[0].name, CFG_NAME_MAX, "c0");
	d->cfg.clients[0].addr4.family = AF_INET;
	d->cfg.clients[0].addr4.addr.v4.s_addr = htonl(0x0a4d0002u);
	d->cfg.clients[0].addr4.plen = 32;
	d->cfg.n_links = 2;
	snprintf(d->cfg.links[0].name, CFG_NAME_MAX, "a");
	snprintf(d->cfg.links[1].name, CFG_NAME_MAX, "b");
	d->buf_size = 2048;
	d->tun_mtu = 1400;
	d->max_sessions = 1;
	d->txbuf = once.dp.txbuf;
	d->rx = once.dp.rx;
	d->tx = once.dp.tx;
	d->reg = once.reg;
	d->tun_fd = once.tun_fd;
	d->sessions = calloc(1, sizeof(*d->sessions));
	d->client_sess = calloc(1, sizeof(*d->client_sess));
	d->client_psk = calloc(1, sizeof(*d->client_psk));
	if (!d->sessions || !d->client_sess || !d->client_psk)
		abort();
	memcpy(d->client_psk[0], psk, WIRE_KEY_LEN);
	/* What server_on_hello needs when a HELLO comes in. */
	d->client_keyid = calloc(1, sizeof(*d->client_keyid));
	d->client_last_hello = calloc(1, sizeof(*d->client_last_hello));
	d->hello_rl = hello_limit_new(NULL);
	d->hello_rl_proven = hello_limit_new(NULL);
	if (!d->client_keyid || !d->client_last_hello || !d->hello_rl ||
	    !d->hello_rl_proven)
		abort();
	wire_key_id(psk, d->client_keyid[0]);
	cookie_jar_init(&d->cookies, NULL, 0, 1);
	for (uint32_t i = 0; i < CFG_MAX_LINKS; i++)
		d->uplinks[i].fd = -1; /* a client's HELLOs go nowhere */
	if (session_create(d, &w->s, &e) < 0)
		abort();
	struct session *s = w->s;
	d->sessions[0] = s;
	d->n_sessions = 1;
	if (client)
		d->sess = s;
	else
		d->client_sess[0] = s;
	s->client_idx = client ? -1 : 0;
	s->id = 0x01020304;
	s->state = SESS_ESTABLISHED;
	s->tx_seq = 1;

	s->keys = once.kd[client];
	w->p.k = once.kp[client];
	s->keys.mode = w->p.k.mode = mode;
	(void)wire_keys_set_cipher(&s->keys, cipher);
	(void)wire_keys_set_cipher(&w->p.k, cipher);
	w->now = 1000000000ull;
	rekey_init(&s->rk, once.ck, w->now, 0, 0);
	rekey_init(&w->p.rk, once.ck, w->now, 0, 0);
	w->p.seq = 1;
	w->p.dfd = once.dfd;
	w->p.sink = once.sink;
	w->p.addr = once.addr;
	for (uint32_t i = 0; i < 2; i++) {
		session_path_init(s, i, i ? "b" : "a");
		if (client) { /* a client's paths are its uplinks */
			struct path *p = &s->paths[i];
			p->fd = w->p.dfd;
			p->known = true;
			p->family = AF_INET;
			memcpy(&p->peer, &w->p.addr,
			       sizeof(struct sockaddr_in));
			p->peer_len = sizeof(struct sockaddr_in);
			p->link_mtu = 1500;
		}
	}
	s->views_dirty = true;
	if (session_set_sched(s, SCHED_BUILTIN_NAME, NULL, 0, &e) < 0)
		abort();
}

static void world_down(struct world *w)
{
	struct daemon *d = &w->d;
	if (d->sessions[0])
		session_destroy(d->sessions[0]);
	free(d->sessions);
	free(d->client_sess);
	free(d->client_psk);
	free(d->client_keyid);
	free(d->client_last_hello);
	hello_limit_free(d->hello_rl);
	hello_limit_free(d->hello_rl_proven);
	sodium_memzero(&w->p, sizeof(w->p));
}

/* Seals type/body with the peer's keys at `seq` into buf. */
static size_t peer_seal(struct world *w, uint8_t *buf, uint8_t type,
			uint8_t link, uint64_t seq, const uint8_t *body,
			size_t blen)
{
	struct wire_hdr h = {.version = WIRE_VERSION,
			     .type = type,
			     .link_id = link,
			     .session_id = w->s->id,
			     .seq = seq};
	wire_hdr_encode(buf, &h);
	if (blen)
		memcpy(buf + WIRE_HDR_LEN, body, blen);
	return wire_seal(&w->p.k, buf, blen);
}

/* A DATA body: sub-header plus an IPv4 packet from the client's address
 * (so the server's source check passes) with fuzzed contents. */
static size_t data_body(uint8_t *out, const uint8_t *in, size_t n, uint32_t gap)
{
	struct wire_data dh = {.prev_gap = gap,
			       .bucket = (uint16_t)(gap % 256)};
	size_t ilen = 20 + n;
	wire_data_encode(out, &dh);
	uint8_t *ip = out + WIRE_DATA_HDR_LEN;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ilen >> 8);
	ip[3] = (uint8_t)ilen;
	ip[8] = 64;
	ip[9] = 17;
	wire_put32(ip + 12, 0x0a4d0002u);
	wire_put32(ip + 16, 0x0a630002u);
	memcpy(ip + 20, in, n);
	return WIRE_DATA_HDR_LEN + ilen;
}

/* Reads what the daemon sent the peer and plays the peer's rekey part. */
static void peer_drain(struct world *w)
{
	uint8_t buf[4096], *body;
	size_t blen;
	ssize_t n;
	while ((n = recv(w->p.sink, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		struct wire_hdr h;
		if (wire_hdr_decode(buf, (size_t)n, &h) < 0)
			continue;
		struct wire_keys *k = rekey_rx_keys(&w->p.k, &w->p.rk, h.flags);
		if (!k || wire_open(k, buf, (size_t)n, &h, &body, &blen) < 0)
			continue;
		(void)rekey_opened(&w->p.k, &w->p.rk, k, w->now);
		if (h.type == WT_REKEY_ACK && !w->d.client) {
			(void)rekey_on_ack(&w->p.k, &w->p.rk, body, blen,
					   w->now, 0, 0);
		} else if (h.type == WT_REKEY && w->d.client) {
			uint8_t ack[REKEY_ACK_BODY_LEN], out[256];
			if (rekey_on_request(&w->p.k, &w->p.rk, body, blen,
					     ack) == 0) {
				size_t len =
				    peer_seal(w, out, WT_REKEY_ACK, 0,
					      w->p.seq++, ack, sizeof(ack));
				datapath_rx(
				    &w->d, w->p.dfd, out, len, &w->p.addr,
				    sizeof(struct sockaddr_in), 0, w->now);
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct world w;
	static uint8_t last[2048];
	static size_t last_len;
	size_t off = 1;

	if (!loop) {
		log_set_level(LOG_EMERG);
		(void)wire_init();
		loop = ev_default_loop(0);
		if (!loop)
			abort();
		once_up();
	}
	if (size < 1)
		return 0;
	int cipher =
	    (data[0] & 4) && (wire_ciphers_local() & WIRE_CIPHERS_AES256GCM)
		? WIRE_CIPHER_AES256GCM
		: WIRE_CIPHER_CHACHA20;
	world_up(&w, data[0] & 1,
		 (data[0] >> 1) & 1 ? CRYPTO_AUTH : CRYPTO_ENCRYPT, cipher);
	last_len = 0;

	while (off + 3 <= size && w.d.sessions[0]) {
		uint8_t op = data[off], arg = data[off + 1];
		size_t n = data[off + 2];
		off += 3;
		if (n > size - off)
			n = size - off;
		const uint8_t *in = data + off;
		off += n;
		struct session *s = w.s;
		uint64_t top = s->replay.top;
		uint32_t epoch = s->keys.epoch;
		uint64_t auth = s->rx_auth_fail;
		uint8_t buf[2048], body[1600];
		size_t len = 0, blen = 0;
		bool sealed = true;
		uint8_t link = arg & 1;
		/* seq: next, a repeat, far back, or a jump ahead */
		uint64_t seq = w.p.seq;
		switch ((arg >> 1) & 3) {
		case 1:
			seq = w.p.seq > (uint64_t)(arg >> 3) + 1
				  ? w.p.seq - (arg >> 3) - 1
				  : 1;
			break;
		case 2:
			seq = w.p.seq + ((uint64_t)arg << 6);
			break;
		default:
			break;
		}
		switch (op % 12) {
		case 0: /* DATA */
			blen = data_body(body, in, n, (uint32_t)(arg >> 3));
			break;
		case 1: /* PROBE: well-formed, fuzzed fields */ {
			struct wire_probe pr = {.probe_id = arg,
						.tx_ns = w.now,
						.pad_to = (uint16_t)(n * 4)};
			blen = wire_probe_encode(body, sizeof(body), &pr);
			if (!blen)
				blen =
				    wire_probe_encode(body, sizeof(body),
						      &(struct wire_probe){0});
			break;
		}
		case 2: /* any type, fuzzed body */
			memcpy(body, in, n);
			blen = n;
			len = peer_seal(&w, buf, (uint8_t)(arg % 12), link, seq,
					body, blen);
			break;
		case 3: /* CONTROL with fuzzed JSON text */
			memcpy(body, in, n);
			blen = n;
			len = peer_seal(&w, buf, WT_CONTROL, link, seq, body,
					blen);
			break;
		case 4: /* raw bytes, unsealed */
			memcpy(buf, in, n);
			len = n;
			sealed = false;
			break;
		case 5: /* the last datagram again (replay) */
			memcpy(buf, last, last_len);
			len = last_len;
			sealed = false;
			break;
		case 6: /* time passes: timers of the reorder buffer and rekey
			 */
			w.now += (uint64_t)(arg + 1) * 5000000ull;
			if (ev_is_active(&s->reorder_timer) ||
			    s->reorder_deadline)
				ev_invoke(loop, &s->reorder_timer, EV_TIMER);
			session_rekey_tick(s, w.now);
			rekey_tick(&w.p.rk, w.now);
			peer_drain(&w);
			continue;
		case 7: /* the peer (a client) starts a rekey */
			if (!w.d.client && w.p.k.mode != CRYPTO_NONE) {
				blen =
				    rekey_request(&w.p.k, &w.p.rk, w.now, body);
				len = peer_seal(&w, buf, WT_REKEY, link, seq,
						body, blen);
			}
			break;
		case 8: /* a flipped bit in an otherwise sealed packet */
			blen = data_body(body, in, n, 0);
			len =
			    peer_seal(&w, buf, WT_DATA, link, seq, body, blen);
			if (len)
				buf[(arg * 7u) % len] ^=
				    (uint8_t)(1u << (arg & 7));
			sealed = false;
			break;
		case 9: /* CLOSE */
			len = peer_seal(&w, buf, WT_CLOSE, link, seq, NULL, 0);
			break;
		case 10: /* PROBE_REPLY, fuzzed */
			memcpy(body, in, n < 28 ? n : 28);
			blen = 28;
			len = peer_seal(&w, buf, WT_PROBE_REPLY, link, seq,
					body, blen);
			break;
		default: /* a handshake type inside the session's space */
			memcpy(buf, in, n);
			len = n;
			if (len >= 2) {
				buf[0] = WIRE_VERSION;
				buf[1] = (uint8_t)(arg % 3 ? WT_HELLO_ACK
							   : WT_COOKIE);
			}
			sealed = false;
			break;
		}
		if (!len && blen) {
			uint8_t type = op % 12 == 1 ? WT_PROBE : WT_DATA;
			len = peer_seal(&w, buf, type, link, seq, body, blen);
		}
		if (!len)
			continue;
		if (sealed && seq >= w.p.seq)
			w.p.seq = seq + 1;
		memcpy(last, buf, len);
		last_len = len;
		uint8_t peer_epoch_parity = (uint8_t)(w.p.k.epoch & 1);
		datapath_rx(&w.d, w.p.dfd, buf, len, &w.p.addr,
			    sizeof(struct sockaddr_in), w.d.client ? link : -1,
			    w.now);
		peer_drain(&w);
		if (!w.d.sessions[0] || s->state != SESS_ESTABLISHED)
			break; /* CLOSE: freed (server) or back to HELLOs */
		fuzz_check(s->keys.epoch == epoch || s->keys.epoch == epoch + 1,
			   "key epoch jumped");
		if (!sealed && op % 12 != 5 && op % 12 != 11)
			fuzz_check(s->replay.top == top &&
				       s->keys.epoch == epoch,
				   "unauthenticated datagram changed state");
		/* Sealed under a live epoch of ours: it must open. */
		if (sealed && s->rx_auth_fail != auth)
			fuzz_check(
			    !rekey_rx_keys(&s->keys, &s->rk,
					   peer_epoch_parity ? WF_EPOCH : 0),
			    "sealed packet failed to open under live "
			    "keys");
	}
	world_down(&w);
	return 0;
}
