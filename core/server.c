/*
 * Server role: one UDP socket (dual-stack when listening on ::), sessions
 * created only after a client proved it holds its key, links learned from
 * the authenticated packets that arrive on them, and inner packets routed
 * to the session whose allowlisted address they are for.
 *
 * Before a HELLO's MAC checks out the server keeps no state and answers
 * nothing but, under load, a COOKIE; its HELLO_ACK and COOKIE are never
 * larger than the HELLO, so it cannot be used to amplify traffic. HELLOs
 * are also budgeted per source address in a fixed-size table
 * (hello_limit.c), so a flood costs a hash and a compare per datagram and
 * never grows memory; under load (cookie.c) only HELLOs whose mac2 proves
 * that their source receives at its address are served, from a budget of
 * their own. A replayed HELLO (timestamp not newer than the last one
 * accepted for that key) cannot replace a live session.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "datapath.h"
#include "wire/hello_limit.h"
#include "base/log.h"
#include "os/udpsock.h"
#include "sched/sched_host.h"

/* A session that hears nothing for this long is freed. */
#define SESSION_IDLE_NS (180ull * 1000000000ull)

static int listener_open(struct daemon *d, struct err *e)
{
	const struct cfg_sockaddr *la = &d->cfg.listen;
	int family = la->ss.ss_family;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	char a[64];
	int ret;
	if (fd < 0)
		return err_set(e, -errno, "listen socket: %s", strerror(errno));
	if (family == AF_INET6) {
		int off = 0; /* also accept IPv4 on "::" */
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
				 sizeof(off));
	}
	if ((ret = udpsock_setup(fd, family)) < 0) {
		err_set(e, ret, "listen socket options: %s", strerror(-ret));
		goto fail;
	}
	(void)tunio_socket_setup(d, fd); /* without GRO: one datagram each */
	if (bind(fd, (const struct sockaddr *)&la->ss, la->len) < 0) {
		ret = err_set(e, -errno, "cannot listen on %s: %s",
			      sockaddr_str(&la->ss, a, sizeof(a)),
			      strerror(errno));
		goto fail;
	}
	struct listener *l = &d->listeners[d->n_listeners++];
	l->d = d;
	l->fd = fd;
	l->family = family;
	ev_io_init(&l->io, datapath_sockets_cb, fd, EV_READ);
	ev_set_priority(&l->io, EV_MAXPRI); /* see uplink_open */
	l->io.data = d;
	ev_io_start(d->loop, &l->io);
	log_info("server", "listening on %s",
		 sockaddr_str(&la->ss, a, sizeof(a)));
	return 0;
fail:
	close(fd);
	return ret;
}

int server_setup(struct daemon *d, struct err *e)
{
	uint32_t n = d->cfg.n_clients;
	int ret;
	if ((ret = daemon_check_cipher(d, e)) < 0)
		return ret;
	d->client_psk = calloc(n, sizeof(*d->client_psk));
	d->client_keyid = calloc(n, sizeof(*d->client_keyid));
	d->client_last_hello = calloc(n, sizeof(*d->client_last_hello));
	d->client_sched_refused = calloc(n, sizeof(*d->client_sched_refused));
	d->client_sess = calloc(n, sizeof(*d->client_sess));
	d->hello_rl = hello_limit_new(NULL);
	d->hello_fl = hello_faillog_new();
	d->hello_rl_proven = hello_limit_new(NULL);
	cookie_jar_init(&d->cookies, NULL, 0, mono_ns());
	if (!d->client_psk || !d->client_keyid || !d->client_last_hello ||
	    !d->client_sched_refused || !d->client_sess || !d->hello_rl ||
	    !d->hello_rl_proven || !d->hello_fl)
		return err_set(e, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		ret = wire_key_load(d->cfg.clients[i].key_file,
				    d->client_psk[i], e);
		if (ret < 0)
			return ret;
		wire_key_id(d->client_psk[i], d->client_keyid[i]);
		for (uint32_t j = 0; j < i; j++)
			if (!memcmp(d->client_keyid[i], d->client_keyid[j],
				    WIRE_KEYID_LEN))
				return err_set(e, -EINVAL,
					       "clients %s and %s use the same "
					       "key; each client needs its own",
					       d->cfg.clients[j].name,
					       d->cfg.clients[i].name);
	}
	return listener_open(d, e);
}

void server_teardown(struct daemon *d)
{
	for (uint32_t i = 0; i < d->max_sessions; i++) {
		if (d->sessions[i]) {
			server_session_close(d, d->sessions[i]);
		}
	}
	for (int i = 0; i < d->n_listeners; i++) {
		ev_io_stop(d->loop, &d->listeners[i].io);
		close(d->listeners[i].fd);
	}
	d->n_listeners = 0;
	if (d->client_psk)
		sodium_memzero(d->client_psk,
			       d->cfg.n_clients * sizeof(*d->client_psk));
	free(d->client_psk);
	free(d->client_keyid);
	free(d->client_last_hello);
	free(d->client_sched_refused);
	free(d->client_sess);
	hello_limit_free(d->hello_rl);
	hello_limit_free(d->hello_rl_proven);
	cookie_jar_wipe(&d->cookies);
	d->hello_rl = NULL;
	hello_faillog_free(d->hello_fl);
	d->hello_fl = NULL;
	d->hello_rl_proven = NULL;
	d->client_psk = NULL;
	d->client_keyid = NULL;
	d->client_last_hello = NULL;
	d->client_sched_refused = NULL;
	d->client_sess = NULL;
}

struct session *server_session_by_id(struct daemon *d, uint32_t id)
{
	for (uint32_t i = 0; i < d->max_sessions; i++) {
		struct session *s = d->sessions[i];
		if (s && s->id == id)
			return s;
	}
	return NULL;
}

void server_session_close(struct daemon *d, struct session *s)
{
	for (uint32_t i = 0; i < d->max_sessions; i++)
		if (d->sessions[i] == s)
			d->sessions[i] = NULL;
	if (s->client_idx >= 0 && d->client_sess[s->client_idx] == s)
		d->client_sess[s->client_idx] = NULL;
	d->n_sessions--;
	hooks_fire(d, CFG_HOOK_SESSION_DOWN, s, NULL);
	log_info("session", "%08x: closed (client %s)", s->id,
		 s->client_idx >= 0 ? d->cfg.clients[s->client_idx].name : "?");
	session_destroy(s);
}

/* Inner packet addresses: offset of the source, length of an address. */
static int inner_addr(const uint8_t *pkt, size_t len, int dst,
		      const uint8_t **addr)
{
	if (len >= 20 && (pkt[0] >> 4) == 4) {
		*addr = pkt + (dst ? 16 : 12);
		return AF_INET;
	}
	if (len >= 40 && (pkt[0] >> 4) == 6) {
		*addr = pkt + (dst ? 24 : 8);
		return AF_INET6;
	}
	return 0;
}

static int client_owns(const struct cfg_client *c, int family,
		       const uint8_t *addr)
{
	if (family == AF_INET)
		return c->addr4.family == AF_INET &&
		       memcmp(&c->addr4.addr.v4, addr, 4) == 0;
	if (family == AF_INET6)
		return c->addr6.family == AF_INET6 &&
		       memcmp(&c->addr6.addr.v6, addr, 16) == 0;
	return 0;
}

struct session *server_session_by_inner(struct daemon *d, const uint8_t *pkt,
					size_t len)
{
	const uint8_t *a;
	int family = inner_addr(pkt, len, 1, &a);
	if (!family)
		return NULL;
	for (uint32_t i = 0; i < d->cfg.n_clients; i++)
		if (d->client_sess[i] &&
		    client_owns(&d->cfg.clients[i], family, a))
			return d->client_sess[i];
	return NULL;
}

/* A client may only send from its own inner address(es). */
int server_check_inner_src(struct session *s, const uint8_t *pkt, size_t len)
{
	const uint8_t *a;
	int family = inner_addr(pkt, len, 0, &a);
	if (!family || s->client_idx < 0)
		return -EPERM;
	return client_owns(&s->d->cfg.clients[s->client_idx], family, a)
		   ? 0
		   : -EPERM;
}

void server_expire_sessions(struct daemon *d, uint64_t now)
{
	for (uint32_t i = 0; i < d->max_sessions; i++) {
		struct session *s = d->sessions[i];
		if (s)
			session_rekey_tick(s, now); /* wipes expired keys */
		if (s && session_keys_expired(s, now)) {
			server_session_close(d, s);
			continue;
		}
		if (s && now - s->last_rx_ns > SESSION_IDLE_NS) {
			log_info("session", "%08x: idle for %llu s", s->id,
				 (unsigned long long)(SESSION_IDLE_NS /
						      1000000000ull));
			server_session_close(d, s);
		}
	}
}

static void send_ack(int fd, const uint8_t *ack, size_t len,
		     const struct sockaddr_storage *to, socklen_t tolen)
{
	if (sendto(fd, ack, len, MSG_DONTWAIT, (const struct sockaddr *)to,
		   tolen) < 0)
		log_debug("handshake", "ack: %s", strerror(errno));
}

static void refuse(struct daemon *d, int fd, int idx,
		   const struct wire_hello *m, uint8_t status,
		   const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct wire_hello_ack a;
	uint8_t buf[WIRE_HELLO_LEN];
	memset(&a, 0, sizeof(a));
	memcpy(a.client_eph, m->client_eph, WIRE_PUB_LEN);
	a.link_id = m->link_id;
	a.status = status;
	size_t len = wire_hello_ack_build(buf, d->client_psk[idx], &a);
	send_ack(fd, buf, len, from, fromlen);
}

/* A client whose downstream plugin cannot be loaded retries its HELLO
 * every second or so: the reason is logged once per client and cause
 * (again when it changes), the rest at debug level. The client only hears
 * WR_SCHEDULER: what the server's file system holds stays here. */
static void log_sched_refusal(struct daemon *d, int idx, const char *msg)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const char *c = msg; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ull;
	h |= 1;
	const char *who = d->cfg.clients[idx].name;
	if (d->client_sched_refused[idx] == h) {
		log_debug("handshake", "%s: downstream scheduler: %s", who,
			  msg);
		return;
	}
	d->client_sched_refused[idx] = h;
	log_warn("handshake",
		 "%s: downstream scheduler: %s; refusing the session (logged "
		 "once until the cause changes)",
		 who, msg);
}

static int session_slot(struct daemon *d)
{
	for (uint32_t i = 0; i < d->max_sessions; i++)
		if (!d->sessions[i])
			return (int)i;
	return -1;
}

/* Version 1 clients get no answer they could parse; say why, once in a
 * while, instead of dropping their HELLOs silently. */
void server_on_old_version(struct daemon *d, const uint8_t *buf, size_t len,
			   const struct sockaddr_storage *from, uint64_t now)
{
	static uint64_t last_log;
	char a[64];

	if (len < WIRE_HDR_LEN || buf[1] != WT_HELLO)
		return;
	d->hello_old_version++;
	if (last_log && now - last_log < 10000000000ull)
		return;
	last_log = now;
	log_warn("handshake",
		 "HELLO of protocol version %u from %s refused: this server "
		 "speaks version %u (forward-secret handshake, link model); "
		 "upgrade the "
		 "client",
		 buf[0], sockaddr_str(from, a, sizeof(a)), WIRE_VERSION);
}

/*
 * Admit: whether a length-checked HELLO may cost a key look-up. Normally
 * the per-source budget decides; under load (cookie.c) only a HELLO with a
 * valid mac2 goes on (budgeted per proven source), and any other gets a
 * COOKIE for its source address and nothing else. Returns 0 to go on.
 */
static int hello_admit(struct daemon *d, int fd, const uint8_t *buf,
		       const struct sockaddr_storage *from, socklen_t fromlen,
		       uint64_t now)
{
	uint8_t c[WIRE_COOKIE_LEN], msg[WIRE_COOKIE_MSG_LEN];

	if (!cookie_under_load(&d->cookies, now)) {
		if (hello_limit_take(d->hello_rl, from, now) < 0) {
			d->hello_ratelimited++;
			diag_hello_failed(d, from, HF_RATE_LIMITED, now);
			return -1;
		}
		return 0;
	}
	if (cookie_check_hello(&d->cookies, buf, from, now)) {
		if (hello_limit_take(d->hello_rl_proven, from, now) < 0) {
			d->hello_ratelimited++;
			return -1;
		}
		d->hello_cookie_ok++;
		return 0;
	}
	cookie_make(&d->cookies, from, now, c);
	size_t n = wire_cookie_build(msg, buf[2], wire_hello_mac1(buf), c);
	send_ack(fd, msg, n, from, fromlen);
	d->hello_cookie_sent++;
	return -1;
}

/*
 * Authenticate: which client's key signed this HELLO, once it was
 * admitted. The blinded key id is tried against every client's key
 * (wire_hello_identify). Returns the client's index with *m parsed, or -1
 * (counted) for a datagram that earns no answer (or only a COOKIE) and
 * leaves no state.
 */
static int hello_authenticate(struct daemon *d, int fd, const uint8_t *buf,
			      size_t len, const struct sockaddr_storage *from,
			      socklen_t fromlen, uint64_t now,
			      struct wire_hello *m)
{
	int idx;

	if (wire_hello_check(buf, len) < 0) {
		d->hello_bad++;
		d->rx_bad++;
		diag_hello_failed(d, from, HF_MALFORMED, now);
		return -1;
	}
	if (hello_admit(d, fd, buf, from, fromlen, now) < 0)
		return -1;
	idx = wire_hello_identify(buf, len, d->client_psk, d->cfg.n_clients);
	if (idx < 0 || wire_hello_parse(buf, len, d->client_psk[idx], m) < 0) {
		d->hello_bad++;
		d->rx_bad++;
		diag_hello_failed(d, from,
				  idx < 0 ? HF_UNKNOWN_KEY : HF_BAD_MAC, now);
		return -1;
	}
	return idx;
}

/*
 * A genuine HELLO may still be old news: a retry of the attempt we answered
 * gets the same answer and no new state (a replay of it gains an attacker
 * nothing), and one whose timestamp is not newer than the last accepted for
 * this key is a replay that must not replace the live session. Returns true
 * when the HELLO has been dealt with.
 */
static bool hello_seen(struct daemon *d, int fd, int idx,
		       const struct wire_hello *m,
		       const struct sockaddr_storage *from, socklen_t fromlen,
		       uint64_t now)
{
	struct session *old = d->client_sess[idx];
	char a[64];

	if (old && !memcmp(old->client_eph, m->client_eph, WIRE_PUB_LEN)) {
		send_ack(fd, old->ack, old->ack_len, from, fromlen);
		return true;
	}
	if (m->timestamp_ns <= d->client_last_hello[idx]) {
		/* Counted as a bad datagram too, so `status` shows it. */
		d->hello_replayed++;
		d->rx_bad++;
		log_debug("handshake", "%s: replayed or stale hello from %s",
			  d->cfg.clients[idx].name,
			  sockaddr_str(from, a, sizeof(a)));
		diag_hello_failed(d, from, HF_OLD_TIMESTAMP, now);
		return true;
	}
	return false;
}

/*
 * Negotiate: the client's crypto mode must be ours, and a server that
 * requires AES-256-GCM needs a client that offers it. On WR_OK *cipher is
 * the AEAD the session runs; anything else is the refusal to send.
 */
static uint8_t hello_negotiate(struct daemon *d, int idx,
			       const struct wire_hello *m, int *cipher)
{
	if (m->crypto_mode != d->cfg.crypto_mode) {
		log_warn("handshake",
			 "%s: client asks for crypto mode %u, this "
			 "server uses %u",
			 d->cfg.clients[idx].name, m->crypto_mode,
			 d->cfg.crypto_mode);
		return WR_CRYPTO_MODE;
	}
	if (d->cfg.cipher == CFG_CIPHER_AES256GCM &&
	    wire_cipher_choose(m->ciphers) != WIRE_CIPHER_AES256GCM) {
		log_warn("handshake",
			 "%s: this server requires aes-256-gcm, which the "
			 "client does not offer",
			 d->cfg.clients[idx].name);
		return WR_CRYPTO_MODE;
	}
	*cipher = d->cfg.cipher == CFG_CIPHER_CHACHA20
		      ? WIRE_CIPHER_CHACHA20
		      : wire_cipher_choose(m->ciphers);
	return WR_OK;
}

/*
 * A new session for client idx: a fresh id and ephemeral key pair, keys
 * from the X25519 exchange mixed with the PSK (wire_kx.c; the ephemeral
 * secret lives only for the derivation: forward secrecy), and the
 * downstream scheduler: the client's choice, with options from our YAML
 * when it is the plugin configured here. A valid name we lack (not in the
 * plugin directory, failed to load, bad options) falls back to our own
 * default, noted in sched_fallback_from for the client. Returns 0 with
 * *out set, WR_SCHEDULER to refuse (not a plugin name, or our default
 * fails too), or -1 when it could not be created (logged; no answer).
 */
static int hello_session_new(struct daemon *d, int idx,
			     const struct wire_hello *m, int cipher,
			     uint64_t now, struct session **out)
{
	struct wire_eph eph;
	uint8_t ck[WIRE_CK_LEN];
	const struct cfg_sched *cs = &d->cfg.sched[TTT_DIR_DOWNSTREAM];
	struct session *s;
	struct err e;

	if (session_create(d, &s, &e) < 0) {
		log_err("handshake", "%s", e.msg);
		return -1;
	}
	s->client_idx = idx;
	do {
		randombytes_buf(&s->id, sizeof(s->id));
	} while (s->id == 0 || server_session_by_id(d, s->id));
	wire_eph_generate(&eph);
	memcpy(s->client_eph, m->client_eph, WIRE_PUB_LEN);
	memcpy(s->server_eph, eph.pk, WIRE_PUB_LEN);
	int kx = wire_kx_session(&s->keys, ck, d->cfg.crypto_mode,
				 d->client_psk[idx], eph.sk, s->client_eph,
				 s->server_eph, s->id, 0);
	wire_eph_wipe(&eph);
	if (kx < 0) {
		log_warn("handshake", "%s: unusable ephemeral key",
			 d->cfg.clients[idx].name);
		sodium_memzero(ck, sizeof(ck));
		session_destroy(s);
		return -1;
	}
	rekey_init(&s->rk, ck, now, 0, 0);
	sodium_memzero(ck, sizeof(ck));
	(void)wire_keys_set_cipher(&s->keys, cipher); /* choose() checked it */
	s->tx_seq = 1;

	/* The client's choice is a plugin name only, from our plugin
	 * directory; no choice means ours (which may be a path). */
	const char *name = m->downstream[0] ? m->downstream : cs->plugin;
	bool own = strcmp(name, cs->plugin) == 0;
	int sret =
	    m->downstream[0]
		? session_set_sched_remote(s, name, own ? cs->opts : NULL,
					   own ? cs->n_opts : 0, &e)
		: session_set_sched(s, name, cs->opts, cs->n_opts, &e);
	if (sret < 0) {
		/* The client's choice is not here (or not usable): run our
		 * own default rather than leave the client without a
		 * tunnel, and tell it (peerctl "sched-fallback"). */
		struct err e2;
		/* A path or a malformed name is no plugin we lack but a bad
		 * request: refused as before (never loaded). */
		if (!m->downstream[0] || own || !sched_name_valid(name) ||
		    session_set_sched(s, cs->plugin, cs->opts, cs->n_opts,
				      &e2) < 0) {
			log_sched_refusal(d, idx, e.msg);
			session_destroy(s);
			return WR_SCHEDULER;
		}
		log_warn("handshake",
			 "%s: the client asks for downstream plugin \"%s\", "
			 "which this server cannot run (%s); using this "
			 "server's %s instead",
			 d->cfg.clients[idx].name, name, e.msg, cs->plugin);
		snprintf(s->sched_fallback_from, sizeof(s->sched_fallback_from),
			 "%.*s", CFG_NAME_MAX - 1, name);
	}
	*out = s;
	return 0;
}

/*
 * Install: s replaces the client's old session (if any) in the table, and
 * the HELLO_ACK, kept for retries, goes back to where the HELLO came from.
 */
static void hello_install(struct daemon *d, int fd, int idx, int slot,
			  struct session *s, const struct wire_hello *m,
			  const struct sockaddr_storage *from,
			  socklen_t fromlen, uint64_t now)
{
	struct session *old = d->client_sess[idx];
	struct wire_hello_ack ack;
	char a[64];

	d->client_last_hello[idx] = m->timestamp_ns;
	d->client_sched_refused[idx] = 0;
	if (old) {
		if (!diag_duplicate_key(d, old, idx, from, now))
			log_info("session",
				 "%08x: client %s opened a new session",
				 old->id, d->cfg.clients[idx].name);
		server_session_close(d, old);
		if (slot == -2)
			slot = session_slot(d);
	}
	d->sessions[slot] = s;
	d->client_sess[idx] = s;
	d->n_sessions++;
	s->state = SESS_ESTABLISHED;
	s->last_rx_ns = now;
	s->established_ns = now;
	s->established_wall_s = (int64_t)time(NULL);

	memset(&ack, 0, sizeof(ack));
	ack.session_id = s->id;
	memcpy(ack.client_eph, s->client_eph, WIRE_PUB_LEN);
	memcpy(ack.server_eph, s->server_eph, WIRE_PUB_LEN);
	ack.link_id = m->link_id;
	ack.status = WR_OK;
	ack.cipher = (uint8_t)s->keys.cipher;
	s->ack_len = wire_hello_ack_build(s->ack, d->client_psk[idx], &ack);
	send_ack(fd, s->ack, s->ack_len, from, fromlen);
	d->hello_ok++;
	hooks_fire(d, CFG_HOOK_SESSION_UP, s, NULL);
	log_notice("session",
		   "%08x: client %s connected from %s (downstream "
		   "%s)",
		   s->id, d->cfg.clients[idx].name,
		   sockaddr_str(from, a, sizeof(a)), s->sched_name);
}

/* A HELLO: authenticate, negotiate, then install a session (see above). */
void server_on_hello(struct daemon *d, int fd, const uint8_t *buf, size_t len,
		     const struct sockaddr_storage *from, socklen_t fromlen,
		     uint64_t now)
{
	struct wire_hello m;
	struct session *s;
	int cipher = 0, ret;

	int idx = hello_authenticate(d, fd, buf, len, from, fromlen, now, &m);
	if (idx < 0 || hello_seen(d, fd, idx, &m, from, fromlen, now))
		return;
	uint8_t status = hello_negotiate(d, idx, &m, &cipher);
	if (status != WR_OK) {
		refuse(d, fd, idx, &m, status, from, fromlen);
		return;
	}
	int slot = session_slot(d);
	if (slot < 0 && d->client_sess[idx])
		slot = -2; /* will reuse the old one's slot */
	if (slot == -1) {
		log_warn("handshake", "session table full");
		return;
	}
	ret = hello_session_new(d, idx, &m, cipher, now, &s);
	if (ret == WR_SCHEDULER)
		refuse(d, fd, idx, &m, WR_SCHEDULER, from, fromlen);
	if (ret)
		return;
	hello_install(d, fd, idx, slot, s, &m, from, fromlen, now);
}
