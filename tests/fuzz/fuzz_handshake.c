/*
 * libFuzzer harness for the server's handshake: the real server_on_hello()
 * (core/server.c, with the shipping session, key and wire code linked in)
 * fed a sequence of datagrams from several source addresses. Random bytes
 * never carry a valid MAC, so the input also asks for well-formed HELLOs
 * built with a client's real key and fuzzed fields (timestamp steps,
 * ephemeral key, crypto mode, downstream plugin name, link id, with or
 * without a valid cookie), which reach the session creation, retry,
 * replay, refusal and, once more than HELLO_LOAD_PER_S arrive within a
 * second, the cookie (under load) paths.
 *
 * Properties checked after every datagram, the ones the server promises:
 *  - a datagram without a valid MAC changes no state at all (sessions,
 *    replay timestamps);
 *  - a HELLO whose timestamp is not newer than the last accepted one for
 *    that key never replaces that client's session;
 *  - the session table never holds more than one session per client;
 *  - counters account for every HELLO exactly once.
 *
 * Built and run by scripts/fuzz.sh (make fuzz).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "base/log.h"
#include "sched/sched_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_CLIENTS 2

static char keydir[] = "/tmp/ttt-fuzz-hs.XXXXXX";
static uint8_t psk[N_CLIENTS][WIRE_KEY_LEN];
static struct ev_loop *loop;

static void fuzz_check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_handshake: property broken: %s\n", what);
		abort();
	}
}

static void remove_keys(void)
{
	char p[64];
	for (int i = 0; i < N_CLIENTS; i++) {
		snprintf(p, sizeof(p), "%s/k%d", keydir, i);
		unlink(p);
	}
	rmdir(keydir);
}

static void init_once(void)
{
	struct err e;
	char p[64];
	log_set_level(LOG_EMERG);
	if (!mkdtemp(keydir))
		abort();
	atexit(remove_keys);
	for (int i = 0; i < N_CLIENTS; i++) {
		snprintf(p, sizeof(p), "%s/k%d", keydir, i);
		if (wire_key_generate(p, &e) < 0 ||
		    wire_key_load(p, psk[i], &e) < 0)
			abort();
	}
	loop = ev_default_loop(0);
	if (!loop)
		abort();
}

/* A server daemon as daemon_setup() would make it, minus tun and routes. */
static int server_up(struct daemon *d)
{
	struct err e;
	memset(d, 0, sizeof(*d));
	config_defaults(&d->cfg);
	d->cfg.role = ROLE_SERVER;
	d->cfg.crypto_mode = CRYPTO_ENCRYPT;
	d->cfg.reorder.enabled = false;
	d->cfg.reorder.capacity = 16;
	struct sockaddr_in *la = (struct sockaddr_in *)&d->cfg.listen.ss;
	la->sin_family = AF_INET;
	la->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	la->sin_port = 0;
	d->cfg.listen.len = sizeof(*la);
	d->cfg.n_clients = N_CLIENTS;
	for (int i = 0; i < N_CLIENTS; i++) {
		struct cfg_client *c = &d->cfg.clients[i];
		snprintf(c->name, sizeof(c->name), "c%d", i);
		snprintf(c->key_file, sizeof(c->key_file), "%s/k%d", keydir, i);
		c->addr4.family = AF_INET;
		c->addr4.addr.v4.s_addr = htonl(0x0a4d0002u + (uint32_t)i);
		c->addr4.plen = 32;
	}
	d->loop = loop;
	d->buf_size = 2048;
	d->tun_fd = -1;
	d->max_sessions = N_CLIENTS;
	d->sessions = calloc(N_CLIENTS, sizeof(*d->sessions));
	if (!d->sessions)
		return -1;
	if (sched_registry_create(&d->reg, "/nonexistent-ttt-fuzz", &e) < 0)
		return -1;
	return server_setup(d, &e);
}

static void server_down(struct daemon *d)
{
	server_teardown(d);
	sched_registry_destroy(d->reg);
	free(d->sessions);
}

struct snap {
	struct session *sess[N_CLIENTS];
	uint32_t id[N_CLIENTS];
	uint64_t last[N_CLIENTS];
	uint32_t n_sessions;
};

static void take(const struct daemon *d, struct snap *s)
{
	for (int i = 0; i < N_CLIENTS; i++) {
		s->sess[i] = d->client_sess[i];
		s->id[i] = d->client_sess[i] ? d->client_sess[i]->id : 0;
		s->last[i] = d->client_last_hello[i];
	}
	s->n_sessions = d->n_sessions;
}

static int same(const struct snap *a, const struct snap *b)
{
	return !memcmp(a->sess, b->sess, sizeof(a->sess)) &&
	       !memcmp(a->id, b->id, sizeof(a->id)) &&
	       !memcmp(a->last, b->last, sizeof(a->last)) &&
	       a->n_sessions == b->n_sessions;
}

static uint64_t hello_total(const struct daemon *d)
{
	return d->hello_ok + d->hello_bad + d->hello_replayed +
	       d->hello_ratelimited + d->hello_cookie_sent;
}

/* Input: records of [op][source][...]. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	static struct daemon d;
	uint64_t now = 1000000000ull, ts[N_CLIENTS] = {5000, 5000};
	size_t off = 0;

	if (!inited) {
		init_once();
		inited = 1;
	}
	if (server_up(&d) < 0)
		abort();
	while (off + 2 <= size) {
		uint8_t op = data[off++], src = data[off++];
		struct sockaddr_storage from;
		struct sockaddr_in *fa = (struct sockaddr_in *)&from;
		memset(&from, 0, sizeof(from));
		fa->sin_family = AF_INET;
		/* 127.0.0.x: any ACK goes to loopback's discard port */
		fa->sin_addr.s_addr = htonl(0x7f000000u | (src & 7u) + 1);
		fa->sin_port = htons(9);
		struct snap before, after;
		take(&d, &before);
		uint64_t total = hello_total(&d), ok = d.hello_ok;
		int fd = d.listeners[0].fd;

		if ((op & 3) == 3) { /* time passes */
			now += (uint64_t)src * 10000000ull;
			continue;
		}
		if ((op & 3) != 1) { /* raw bytes: no valid MAC possible */
			size_t n = src % 200;
			if (n > size - off)
				n = size - off;
			uint8_t buf[256];
			memcpy(buf, data + off, n);
			off += n;
			server_on_hello(&d, fd, buf, n, &from, sizeof(*fa),
					now);
			take(&d, &after);
			fuzz_check(same(&before, &after),
				   "unauthenticated datagram changed state");
		} else { /* a well-formed HELLO from client (op >> 2) & 1 */
			struct wire_hello m;
			uint8_t buf[WIRE_HELLO_LEN];
			int c = (op >> 2) & 1;
			if (size - off < 8)
				break;
			memset(&m, 0, sizeof(m));
			/* timestamp moves by a signed step: replays and
			 * stale ones included */
			int8_t step = (int8_t)data[off];
			uint64_t t = ts[c] + (uint64_t)(int64_t)step;
			/* a real point for most values of the byte, a
			 * low-order one (all zero) for 0 */
			if (data[off + 1]) {
				memset(m.client_eph, data[off + 1],
				       sizeof(m.client_eph));
				crypto_scalarmult_base(m.client_eph,
						       m.client_eph);
			}
			m.crypto_mode = data[off + 2] % 4;
			m.link_id = data[off + 3] % 20;
			m.link_mtu =
			    (uint16_t)(data[off + 4] << 8 | data[off + 5]);
			static const char *names[] = {"", "roundrobin",
						      "no-such-plugin",
						      SCHED_BUILTIN_NAME};
			snprintf(m.downstream, sizeof(m.downstream), "%s",
				 names[data[off + 6] % 4]);
			m.timestamp_ns = t;
			off += 8;
			if (t > ts[c])
				ts[c] = t;
			/* bit 3: with the cookie of this source, as a
			 * client answering a COOKIE would send it */
			uint8_t cookie[WIRE_COOKIE_LEN];
			cookie_make(&d.cookies, &from, now, cookie);
			wire_hello_build(buf, psk[c], &m,
					 (op & 8) ? cookie : NULL, NULL);
			uint64_t last = d.client_last_hello[c];
			server_on_hello(&d, fd, buf, sizeof(buf), &from,
					sizeof(*fa), now);
			take(&d, &after);
			/* A retry of the live attempt gets the same ACK;
			 * anything else not newer is a replay: no change. */
			if (m.timestamp_ns <= last)
				fuzz_check(same(&before, &after),
					   "replayed HELLO changed state");
			if (d.hello_ok > ok)
				fuzz_check(after.last[c] == m.timestamp_ns &&
					       after.sess[c] &&
					       after.sess[c]->id != 0,
					   "accepted HELLO without session");
		}
		fuzz_check(hello_total(&d) <= total + 1,
			   "one HELLO counted twice");
		uint32_t n = 0;
		for (uint32_t i = 0; i < d.max_sessions; i++)
			n += d.sessions[i] != NULL;
		fuzz_check(n == d.n_sessions && n <= N_CLIENTS,
			   "session table and count disagree");
	}
	server_down(&d);
	return 0;
}
