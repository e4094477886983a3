/*
 * Handshake crypto of protocol version 2 (wire_kx.c, rekey.c, cookie.c):
 * the two ends derive the same keys from a real HELLO / HELLO_ACK
 * exchange, a wrong PSK or a tampered ephemeral yields keys that open
 * nothing, keys differ per session and per epoch, the PSK alone does not
 * reproduce them (forward secrecy), a rekey keeps both epochs open during
 * the switch and wipes the old ones, and cookies verify, rotate and expire.
 * Every test drives the real module functions; none can pass if the
 * corresponding property broke.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wire/cookie.h"
#include "wire/rekey.h"
#include "wire/wire.h"

#define SEC 1000000000ull

static uint8_t psk[WIRE_KEY_LEN], psk2[WIRE_KEY_LEN];

static int setup(void **state)
{
	(void)state;
	assert_int_equal(wire_init(), 0);
	randombytes_buf(psk, sizeof(psk));
	randombytes_buf(psk2, sizeof(psk2));
	return 0;
}

/* One sealed DATA-like packet with `k`, opened with `r`: 0 or -EBADMSG. */
static int roundtrip(const struct wire_keys *k, const struct wire_keys *r,
		     uint64_t seq)
{
	uint8_t buf[256];
	struct wire_hdr h = {.version = WIRE_VERSION,
			     .type = WT_DATA,
			     .session_id = 7,
			     .seq = seq};
	struct wire_hdr got;
	uint8_t *body;
	size_t blen;

	wire_hdr_encode(buf, &h);
	memcpy(buf + WIRE_HDR_LEN, "twelve bytes", 12);
	size_t len = wire_seal(k, buf, 12);
	assert_true(len > 0);
	assert_int_equal(wire_hdr_decode(buf, len, &got), 0);
	int rc = wire_open(r, buf, len, &got, &body, &blen);
	if (rc == 0) {
		assert_int_equal(blen, 12);
		assert_memory_equal(body, "twelve bytes", 12);
	}
	return rc;
}

/* Both ends of a handshake: HELLO and ACK built and parsed for real. */
struct pair {
	struct wire_keys c, s;
	uint8_t ck_c[WIRE_CK_LEN], ck_s[WIRE_CK_LEN];
	struct wire_eph ce, se;
};

static int handshake(struct pair *p, const uint8_t *cpsk, const uint8_t *spsk,
		     int tamper_server_eph)
{
	struct wire_hello m, mo;
	struct wire_hello_ack a, ao;
	uint8_t hello[WIRE_HELLO_LEN], ack[WIRE_HELLO_ACK_LEN];
	int rc;

	memset(p, 0, sizeof(*p));
	wire_eph_generate(&p->ce);
	memset(&m, 0, sizeof(m));
	memcpy(m.client_eph, p->ce.pk, WIRE_PUB_LEN);
	m.timestamp_ns = 1;
	wire_hello_build(hello, cpsk, &m, NULL, NULL);
	rc = wire_hello_parse(hello, sizeof(hello), spsk, &mo);
	if (rc < 0)
		return rc;
	wire_eph_generate(&p->se);
	assert_int_equal(wire_kx_session(&p->s, p->ck_s, CRYPTO_ENCRYPT, spsk,
					 p->se.sk, mo.client_eph, p->se.pk, 99,
					 0),
			 0);
	memset(&a, 0, sizeof(a));
	a.session_id = 99;
	memcpy(a.client_eph, mo.client_eph, WIRE_PUB_LEN);
	memcpy(a.server_eph, p->se.pk, WIRE_PUB_LEN);
	wire_hello_ack_build(ack, spsk, &a);
	if (tamper_server_eph)
		ack[52] ^= 0x01; /* server_eph's first byte */
	rc = wire_hello_ack_parse(ack, sizeof(ack), cpsk, &ao);
	if (rc < 0)
		return rc;
	return wire_kx_session(&p->c, p->ck_c, CRYPTO_ENCRYPT, cpsk, p->ce.sk,
			       p->ce.pk, ao.server_eph, ao.session_id, 1);
}

static void test_both_ends_agree(void **state)
{
	struct pair p;

	(void)state;
	assert_int_equal(handshake(&p, psk, psk, 0), 0);
	assert_memory_equal(p.c.tx, p.s.rx, WIRE_KEY_LEN);
	assert_memory_equal(p.c.rx, p.s.tx, WIRE_KEY_LEN);
	assert_memory_not_equal(p.c.tx, p.c.rx, WIRE_KEY_LEN);
	assert_memory_equal(p.ck_c, p.ck_s, WIRE_CK_LEN);
	assert_int_equal(roundtrip(&p.c, &p.s, 1), 0);
	assert_int_equal(roundtrip(&p.s, &p.c, 1), 0);
	assert_int_equal(p.c.epoch, 0);
}

/* The server cannot read a HELLO made with another PSK, and keys derived
 * with a wrong PSK open nothing. */
static void test_wrong_psk(void **state)
{
	struct pair p;
	struct wire_keys bad;
	uint8_t ck[WIRE_CK_LEN];

	(void)state;
	assert_int_equal(handshake(&p, psk2, psk, 0), -EBADMSG);
	assert_int_equal(handshake(&p, psk, psk, 0), 0);
	assert_int_equal(wire_kx_session(&bad, ck, CRYPTO_ENCRYPT, psk2,
					 p.ce.sk, p.ce.pk, p.se.pk, 99, 1),
			 0);
	assert_int_equal(roundtrip(&bad, &p.s, 1), -EBADMSG);
	assert_int_equal(roundtrip(&p.s, &bad, 1), -EBADMSG);
}

/* A flipped bit in an ephemeral is caught by the MAC; keys computed with
 * it anyway do not match. */
static void test_tampered_ephemeral(void **state)
{
	struct pair p;
	struct wire_keys bad;
	uint8_t ck[WIRE_CK_LEN], eph[WIRE_PUB_LEN];

	(void)state;
	assert_int_equal(handshake(&p, psk, psk, 1), -EBADMSG);
	assert_int_equal(handshake(&p, psk, psk, 0), 0);
	memcpy(eph, p.se.pk, sizeof(eph));
	eph[3] ^= 0x20;
	if (wire_kx_session(&bad, ck, CRYPTO_ENCRYPT, psk, p.ce.sk, p.ce.pk,
			    eph, 99, 1) == 0)
		assert_int_equal(roundtrip(&p.s, &bad, 1), -EBADMSG);
	/* A low-order point (here 0) is refused, not turned into a known
	 * all-zero secret. */
	memset(eph, 0, sizeof(eph));
	assert_int_equal(wire_kx_session(&bad, ck, CRYPTO_ENCRYPT, psk, p.ce.sk,
					 p.ce.pk, eph, 99, 1),
			 -EBADMSG);
}

/* Fresh ephemerals every time: same PSK, same session id, new keys. And
 * the PSK plus everything on the wire (both public keys, the session id)
 * is not enough: only an ephemeral secret gives the keys. */
static void test_keys_differ_per_session(void **state)
{
	struct pair p1, p2;
	struct wire_eph guess;
	struct wire_keys k;
	uint8_t ck[WIRE_CK_LEN];

	(void)state;
	assert_int_equal(handshake(&p1, psk, psk, 0), 0);
	assert_int_equal(handshake(&p2, psk, psk, 0), 0);
	assert_memory_not_equal(p1.c.tx, p2.c.tx, WIRE_KEY_LEN);
	assert_memory_not_equal(p1.c.rx, p2.c.rx, WIRE_KEY_LEN);
	assert_int_equal(roundtrip(&p1.c, &p2.s, 1), -EBADMSG);
	/* A recorder with the PSK tries its own secret against both public
	 * keys: the keys it gets open nothing of the recorded session. */
	wire_eph_generate(&guess);
	assert_int_equal(wire_kx_session(&k, ck, CRYPTO_ENCRYPT, psk, guess.sk,
					 p1.ce.pk, p1.se.pk, 99, 1),
			 0);
	assert_int_equal(roundtrip(&p1.s, &k, 1), -EBADMSG);
	/* wire_eph_wipe really clears the secret. */
	wire_eph_wipe(&guess);
	assert_true(sodium_is_zero(guess.sk, sizeof(guess.sk)));
}

/* A full rekey between the two state machines, with the overlap the
 * datapath relies on: packets of both epochs open during the switch, the
 * server switches only on the client's first new-epoch packet, and the
 * old keys are gone after the grace time. */
static void test_rekey_overlap(void **state)
{
	struct pair p;
	struct wire_rekey rc, rs;
	struct rekey_limits lim = {.interval_ns = 5 * SEC};
	uint8_t req[REKEY_BODY_LEN], ack[REKEY_ACK_BODY_LEN];
	uint8_t old_c_tx[WIRE_KEY_LEN];
	uint64_t now = 100 * SEC;

	(void)state;
	assert_int_equal(handshake(&p, psk, psk, 0), 0);
	rekey_init(&rc, p.ck_c, now, 0, 0);
	rekey_init(&rs, p.ck_s, now, 0, 0);
	assert_false(rekey_due(&p.c, &rc, &lim, now + 4 * SEC, 0, 0));
	assert_true(rekey_due(&p.c, &rc, &lim, now + 5 * SEC, 0, 0));
	now += 5 * SEC;
	memcpy(old_c_tx, p.c.tx, WIRE_KEY_LEN);

	assert_int_equal(rekey_request(&p.c, &rc, now, req), REKEY_BODY_LEN);
	assert_true(rc.pending);
	/* Pending: no new request until the retry time. */
	assert_false(rekey_due(&p.c, &rc, &lim, now + SEC / 2, 0, 0));
	assert_true(rekey_due(&p.c, &rc, &lim, now + REKEY_RETRY_NS, 0, 0));

	assert_int_equal(rekey_on_request(&p.s, &rs, req, sizeof(req), ack), 0);
	assert_true(rs.alt_is_next);
	assert_int_equal(p.s.epoch, 0); /* the server still sends epoch 0 */
	/* A retransmitted REKEY gets the very same answer. */
	uint8_t ack2[REKEY_ACK_BODY_LEN];
	assert_int_equal(rekey_on_request(&p.s, &rs, req, sizeof(req), ack2),
			 0);
	assert_memory_equal(ack, ack2, sizeof(ack));

	/* In flight from the server under epoch 0 while the client switches. */
	assert_int_equal(rekey_on_ack(&p.c, &rc, ack, sizeof(ack), now, 0, 0),
			 1);
	assert_int_equal(p.c.epoch, 1);
	assert_memory_not_equal(p.c.tx, old_c_tx, WIRE_KEY_LEN);
	assert_int_equal(rc.rekeys, 1);
	/* The client's old tx key is gone; its old rx key stays. */
	assert_true(rc.alt_valid);
	assert_true(sodium_is_zero(rc.alt.tx, WIRE_KEY_LEN));
	/* Duplicate ACK: ignored. */
	assert_int_equal(rekey_on_ack(&p.c, &rc, ack, sizeof(ack), now, 0, 0),
			 0);

	/* Server -> client under epoch 0 still opens (old rx via WF_EPOCH). */
	uint8_t buf[128];
	struct wire_hdr h = {
	    .version = WIRE_VERSION, .type = WT_DATA, .seq = 5};
	struct wire_hdr got;
	uint8_t *body;
	size_t blen;
	wire_hdr_encode(buf, &h);
	size_t len = wire_seal(&p.s, buf, 4);
	assert_int_equal(wire_hdr_decode(buf, len, &got), 0);
	assert_int_equal(got.flags & WF_EPOCH, 0);
	struct wire_keys *k = rekey_rx_keys(&p.c, &rc, got.flags);
	assert_ptr_equal(k, &rc.alt);
	assert_int_equal(wire_open(k, buf, len, &got, &body, &blen), 0);

	/* Client -> server under epoch 1: opens with the server's alt and
	 * confirms the switch. */
	h.seq = 6;
	wire_hdr_encode(buf, &h);
	len = wire_seal(&p.c, buf, 4);
	assert_int_equal(wire_hdr_decode(buf, len, &got), 0);
	assert_int_equal(got.flags & WF_EPOCH, WF_EPOCH);
	k = rekey_rx_keys(&p.s, &rs, got.flags);
	assert_ptr_equal(k, &rs.alt);
	assert_int_equal(wire_open(k, buf, len, &got, &body, &blen), 0);
	assert_int_equal(rekey_opened(&p.s, &rs, k, now), 1);
	assert_int_equal(p.s.epoch, 1);
	assert_int_equal(rs.rekeys, 1);
	assert_memory_equal(p.s.tx, p.c.rx, WIRE_KEY_LEN);
	assert_memory_equal(rs.ck, rc.ck, WIRE_CK_LEN);
	assert_memory_not_equal(rs.ck, p.ck_s, WIRE_CK_LEN);
	/* Both directions now on epoch 1. */
	assert_int_equal(roundtrip(&p.c, &p.s, 7), 0);
	assert_int_equal(roundtrip(&p.s, &p.c, 7), 0);
	/* A late client packet under epoch 0 still opens during the grace. */
	struct wire_keys c0 = rs.alt; /* what the server keeps for rx */
	assert_true(rs.alt_valid);
	assert_int_equal(c0.epoch, 0);
	assert_true(sodium_is_zero(rs.alt.tx, WIRE_KEY_LEN));
	/* A late copy of the REKEY changes nothing. */
	assert_int_equal(rekey_on_request(&p.s, &rs, req, sizeof(req), ack2),
			 -EALREADY);

	/* Grace over: old keys wiped, epoch-0 packets open no more. */
	rekey_tick(&rs, now + REKEY_GRACE_NS - 1);
	assert_true(rs.alt_valid);
	rekey_tick(&rs, now + REKEY_GRACE_NS);
	assert_false(rs.alt_valid);
	assert_true(sodium_is_zero(rs.alt.rx, WIRE_KEY_LEN));
	assert_null(rekey_rx_keys(&p.s, &rs, 0));
	rekey_tick(&rc, now + REKEY_GRACE_NS);
	assert_null(rekey_rx_keys(&p.c, &rc, 0));

	/* The next epoch (2) has parity 0 again and new keys. */
	now += 10 * SEC;
	assert_true(rekey_due(&p.c, &rc, &lim, now, 0, 0));
	rekey_request(&p.c, &rc, now, req);
	assert_int_equal(rekey_on_request(&p.s, &rs, req, sizeof(req), ack), 0);
	assert_int_equal(rekey_on_ack(&p.c, &rc, ack, sizeof(ack), now, 0, 0),
			 1);
	assert_int_equal(p.c.epoch, 2);
	assert_memory_not_equal(p.c.tx, old_c_tx, WIRE_KEY_LEN);
	k = rekey_rx_keys(&p.s, &rs, 0);
	assert_ptr_equal(k, &rs.alt);
	assert_int_equal(rekey_opened(&p.s, &rs, k, now), 1);
	assert_int_equal(roundtrip(&p.c, &p.s, 9), 0);
	assert_int_equal(roundtrip(&p.s, &p.c, 9), 0);
	rekey_wipe(&rc);
	rekey_wipe(&rs);
}

/* Limits by bytes and packets, the minimum spacing, and no rekeys in
 * none mode; a REKEY for the wrong epoch is refused. */
static void test_rekey_limits(void **state)
{
	struct pair p;
	struct wire_rekey r;
	uint8_t req[REKEY_BODY_LEN], ack[REKEY_ACK_BODY_LEN];
	struct rekey_limits lim = {.bytes = 1000, .packets = 10};

	(void)state;
	assert_int_equal(handshake(&p, psk, psk, 0), 0);
	rekey_init(&r, p.ck_c, 0, 500, 5);
	assert_false(rekey_due(&p.c, &r, &lim, 2 * SEC, 1499, 14));
	assert_true(rekey_due(&p.c, &r, &lim, 2 * SEC, 1500, 14));
	assert_true(rekey_due(&p.c, &r, &lim, 2 * SEC, 1499, 15));
	/* never within REKEY_MIN_NS of the epoch's start */
	assert_false(rekey_due(&p.c, &r, &lim, REKEY_MIN_NS - 1, 1e9, 1e9));
	p.c.mode = CRYPTO_NONE;
	assert_false(rekey_due(&p.c, &r, &lim, 2 * SEC, 1e9, 1e9));
	p.c.mode = CRYPTO_ENCRYPT;
	rekey_request(&p.c, &r, 2 * SEC, req);
	req[3] ^= 2; /* epoch 3 instead of 1 */
	struct wire_rekey rs;
	rekey_init(&rs, p.ck_s, 0, 0, 0);
	assert_int_equal(rekey_on_request(&p.s, &rs, req, sizeof(req), ack),
			 -EBADMSG);
	assert_int_equal(rekey_on_request(&p.s, &rs, req, sizeof(req) - 1, ack),
			 -EBADMSG);
	assert_false(rs.alt_valid);

	/* The server's hard limits: age and packets under one epoch, counted
	 * from the switch. */
	rekey_init(&rs, p.ck_s, 10 * SEC, 0, 100);
	assert_false(rekey_expired(&rs, 10 * SEC + REKEY_REJECT_NS - 1, 100));
	assert_true(rekey_expired(&rs, 10 * SEC + REKEY_REJECT_NS, 100));
	assert_false(
	    rekey_expired(&rs, 11 * SEC, 100 + REKEY_REJECT_PACKETS - 1));
	assert_true(rekey_expired(&rs, 11 * SEC, 100 + REKEY_REJECT_PACKETS));
	rekey_count_from(&rs, 0, REKEY_REJECT_PACKETS);
	assert_false(rekey_expired(&rs, 11 * SEC, 100 + REKEY_REJECT_PACKETS));
	rekey_wipe(&r);
	rekey_wipe(&rs);
}

static struct sockaddr_storage addr4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	memset(&ss, 0, sizeof(ss));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	return ss;
}

/* A HELLO carrying mac2 under the cookie of its own source passes; another
 * address, another port, no cookie or a stale one do not. */
static void test_cookie_mac2(void **state)
{
	struct cookie_jar cj;
	struct wire_hello m;
	uint8_t seed[COOKIE_SECRET_LEN], c[WIRE_COOKIE_LEN];
	uint8_t hello[WIRE_HELLO_LEN], mac1[WIRE_HELLO_MAC_LEN];
	uint8_t msg[WIRE_COOKIE_MSG_LEN], got[WIRE_COOKIE_LEN];
	struct sockaddr_storage me = addr4("10.1.2.3", 4000);
	struct sockaddr_storage other = addr4("10.1.2.4", 4000);
	struct sockaddr_storage port = addr4("10.1.2.3", 4001);
	uint64_t now = 1000 * SEC;

	(void)state;
	memset(seed, 7, sizeof(seed));
	cookie_jar_init(&cj, seed, 0, now);
	memset(&m, 0, sizeof(m));
	wire_hello_build(hello, psk, &m, NULL, mac1);
	assert_false(cookie_check_hello(&cj, hello, &me, now));

	/* The server's COOKIE, parsed by the client against its mac1. */
	cookie_make(&cj, &me, now, c);
	size_t n = wire_cookie_build(msg, 3, wire_hello_mac1(hello), c);
	assert_int_equal(n, WIRE_COOKIE_MSG_LEN);
	assert_true(n < WIRE_HELLO_LEN); /* no amplification */
	assert_int_equal(wire_cookie_parse(msg, n, mac1, got), 0);
	assert_memory_equal(got, c, WIRE_COOKIE_LEN);
	uint8_t wrong[WIRE_HELLO_MAC_LEN];
	memcpy(wrong, mac1, sizeof(wrong));
	wrong[0] ^= 1;
	assert_int_equal(wire_cookie_parse(msg, n, wrong, got), -EBADMSG);
	assert_int_equal(wire_cookie_parse(msg, n - 1, mac1, got), -EBADMSG);

	wire_hello_build(hello, psk, &m, got, NULL);
	assert_true(cookie_check_hello(&cj, hello, &me, now));
	assert_false(cookie_check_hello(&cj, hello, &other, now));
	assert_false(cookie_check_hello(&cj, hello, &port, now));
	/* mac2 covers the HELLO: a changed byte fails it. */
	hello[40] ^= 1;
	assert_false(cookie_check_hello(&cj, hello, &me, now));
	hello[40] ^= 1;
	/* Still good after one rotation (previous secret), not after two. */
	assert_true(
	    cookie_check_hello(&cj, hello, &me, now + COOKIE_SECRET_NS));
	assert_false(
	    cookie_check_hello(&cj, hello, &me, now + 2 * COOKIE_SECRET_NS));
	/* A server restarted with other secrets rejects it. */
	struct cookie_jar cj2;
	cookie_jar_init(&cj2, NULL, 0, now);
	assert_false(cookie_check_hello(&cj2, hello, &me, now));
	cookie_jar_wipe(&cj);
	cookie_jar_wipe(&cj2);
}

/* Long silence: both secrets are replaced, so nothing issued before the
 * gap passes after it. */
static void test_cookie_expiry_after_silence(void **state)
{
	struct cookie_jar cj;
	struct wire_hello m;
	uint8_t c[WIRE_COOKIE_LEN], hello[WIRE_HELLO_LEN];
	struct sockaddr_storage me = addr4("192.0.2.1", 5000);

	(void)state;
	cookie_jar_init(&cj, NULL, 0, 0);
	cookie_make(&cj, &me, 10 * SEC, c);
	memset(&m, 0, sizeof(m));
	wire_hello_build(hello, psk, &m, c, NULL);
	assert_true(cookie_check_hello(&cj, hello, &me, 11 * SEC));
	assert_false(cookie_check_hello(&cj, hello, &me, 5 * COOKIE_SECRET_NS));
	cookie_jar_wipe(&cj);
}

/* The load meter: quiet below the threshold, loaded above it for the rest
 * of that second and the next, quiet again after a quiet second. */
static void test_cookie_load(void **state)
{
	struct cookie_jar cj;
	uint64_t t = 50 * SEC;

	(void)state;
	cookie_jar_init(&cj, NULL, 10, t);
	for (int i = 0; i < 10; i++)
		assert_false(cookie_under_load(&cj, t + (uint64_t)i));
	assert_true(cookie_under_load(&cj, t + 11));
	/* the next second remembers the last one */
	assert_true(cookie_under_load(&cj, t + SEC + 1));
	/* a quiet second later: calm */
	assert_false(cookie_under_load(&cj, t + 2 * SEC + 2));
	assert_false(cookie_under_load(&cj, t + 10 * SEC));
	cookie_jar_wipe(&cj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_both_ends_agree),
	    cmocka_unit_test(test_wrong_psk),
	    cmocka_unit_test(test_tampered_ephemeral),
	    cmocka_unit_test(test_keys_differ_per_session),
	    cmocka_unit_test(test_rekey_overlap),
	    cmocka_unit_test(test_rekey_limits),
	    cmocka_unit_test(test_cookie_mac2),
	    cmocka_unit_test(test_cookie_expiry_after_silence),
	    cmocka_unit_test(test_cookie_load),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
