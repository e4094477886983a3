/*
 * HELLO / HELLO_ACK / COOKIE: the handshake messages. HELLO and HELLO_ACK
 * are authenticated with a keyed BLAKE2b MAC under the pre-shared key
 * because no session key exists yet; they carry the ephemeral public keys
 * that wire_kx.c turns into session keys. A HELLO names its key by a
 * blinded id (different per attempt, so HELLOs are unlinkable for an
 * observer) and may carry a second MAC, mac2, under a cookie the server
 * handed to its source address (cookie.c). Fixed offsets (docs/protocol.md has
 * the byte tables) keep the parsers trivially bounds-checked: the whole
 * datagram length is checked once, then every field has a constant offset. The
 * server must verify the MAC before it keeps any state, and HELLO is padded so
 * that the answer is never larger than the question (no amplification for
 * spoofed sources).
 */
#include "wire/wire.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "wire/wire_be.h"

/* HELLO body offsets, from the start of the datagram. */
#define HELLO_KEYID   16
#define HELLO_TS      24
#define HELLO_EPH     32
#define HELLO_MODE    64
#define HELLO_LINK    65
#define HELLO_MTU     66
#define HELLO_SCHED   68
#define HELLO_CIPHERS (HELLO_SCHED + WIRE_SCHED_NAME_MAX)   /* 100 */
#define HELLO_PAD     (HELLO_CIPHERS + 1)		    /* 101 */
#define HELLO_MAC2    (WIRE_HELLO_LEN - WIRE_HELLO_MAC_LEN) /* 144 */
#define HELLO_MAC     (HELLO_MAC2 - WIRE_HELLO_MAC_LEN)	    /* 128: mac1 */

/* HELLO_ACK body offsets. */
#define ACK_SID	     16
#define ACK_CEPH     20
#define ACK_SEPH     52
#define ACK_LINK     84
#define ACK_STATUS   85
#define ACK_CIPHER   86
#define ACK_RESERVED 87
#define ACK_MAC	     88

_Static_assert(HELLO_PAD <= HELLO_MAC, "HELLO fields overlap its MAC");
_Static_assert(ACK_MAC + WIRE_HELLO_MAC_LEN == WIRE_HELLO_ACK_LEN,
	       "HELLO_ACK layout and length disagree");
_Static_assert(WIRE_HELLO_ACK_LEN <= WIRE_HELLO_LEN,
	       "HELLO_ACK must not be larger than HELLO (amplification)");
_Static_assert(WIRE_COOKIE_MSG_LEN <= WIRE_HELLO_LEN,
	       "COOKIE must not be larger than HELLO (amplification)");
_Static_assert(WIRE_PUB_LEN == crypto_scalarmult_BYTES,
	       "ephemeral keys are X25519 public keys");

static void wire_hello_mac(uint8_t mac[WIRE_HELLO_MAC_LEN], const uint8_t *buf,
			   size_t len, const uint8_t psk[WIRE_KEY_LEN])
{
	crypto_generichash(mac, WIRE_HELLO_MAC_LEN, buf, len, psk,
			   WIRE_KEY_LEN);
}

/* Constant-time check of the MAC at buf + at, over the bytes before it. */
static int wire_hello_mac_ok(const uint8_t *buf, size_t at,
			     const uint8_t psk[WIRE_KEY_LEN])
{
	uint8_t mac[WIRE_HELLO_MAC_LEN];
	int ok;

	wire_hello_mac(mac, buf, at, psk);
	ok = crypto_verify_16(mac, buf + at) == 0;
	return ok;
}

/* The label makes this hash unlike any MAC input (those start with a
 * header, whose first byte is the version, never 't'). */
void wire_hello_key_id(const uint8_t psk[WIRE_KEY_LEN],
		       const uint8_t client_eph[WIRE_PUB_LEN],
		       uint8_t id[WIRE_KEYID_LEN])
{
	static const char label[] = "tuntuntun v2 key id";
	crypto_generichash_state st;
	uint8_t out[crypto_generichash_BYTES_MIN];

	crypto_generichash_init(&st, psk, WIRE_KEY_LEN, sizeof(out));
	crypto_generichash_update(&st, (const uint8_t *)label,
				  sizeof(label) - 1);
	crypto_generichash_update(&st, client_eph, WIRE_PUB_LEN);
	crypto_generichash_final(&st, out, sizeof(out));
	memcpy(id, out, WIRE_KEYID_LEN);
	sodium_memzero(out, sizeof(out));
	sodium_memzero(&st, sizeof(st));
}

static void wire_hello_hdr(uint8_t *buf, uint8_t type, uint8_t link_id,
			   uint32_t session_id)
{
	struct wire_hdr h = {
	    .version = WIRE_VERSION,
	    .type = type,
	    .link_id = link_id,
	    .flags = 0,
	    .session_id = session_id,
	    .seq = 0,
	};

	wire_hdr_encode(buf, &h);
}

/* Exact length, our version, the expected type, no flags. */
static int wire_hello_check_hdr(const uint8_t *buf, size_t len, size_t want,
				uint8_t type, struct wire_hdr *h)
{
	int rc;

	if (len != want)
		return -EBADMSG;
	rc = wire_hdr_decode(buf, len, h);
	if (rc < 0)
		return rc;
	if (h->type != type || h->flags != 0)
		return -EBADMSG;
	return 0;
}

size_t wire_hello_build(uint8_t *buf, const uint8_t psk[WIRE_KEY_LEN],
			const struct wire_hello *m,
			const uint8_t cookie[WIRE_COOKIE_LEN],
			uint8_t mac1_out[WIRE_HELLO_MAC_LEN])
{
	size_t n = strnlen(m->downstream, WIRE_SCHED_NAME_MAX - 1);

	(void)wire_init();
	memset(buf, 0, WIRE_HELLO_LEN);
	wire_hello_hdr(buf, WT_HELLO, m->link_id, 0);
	wire_hello_key_id(psk, m->client_eph, buf + HELLO_KEYID);
	wire_put64(buf + HELLO_TS, m->timestamp_ns);
	memcpy(buf + HELLO_EPH, m->client_eph, WIRE_PUB_LEN);
	buf[HELLO_MODE] = m->crypto_mode;
	buf[HELLO_LINK] = m->link_id;
	wire_put16(buf + HELLO_MTU, m->link_mtu);
	memcpy(buf + HELLO_SCHED, m->downstream, n);
	buf[HELLO_CIPHERS] = m->ciphers;
	wire_hello_mac(buf + HELLO_MAC, buf, HELLO_MAC, psk);
	if (cookie) /* mac2 = BLAKE2b-128(key = cookie, bytes 0..143) */
		crypto_generichash(buf + HELLO_MAC2, WIRE_HELLO_MAC_LEN, buf,
				   HELLO_MAC2, cookie, WIRE_COOKIE_LEN);
	if (mac1_out)
		memcpy(mac1_out, buf + HELLO_MAC, WIRE_HELLO_MAC_LEN);
	return WIRE_HELLO_LEN;
}

int wire_hello_check(const uint8_t *buf, size_t len)
{
	struct wire_hdr h;

	return wire_hello_check_hdr(buf, len, WIRE_HELLO_LEN, WT_HELLO, &h);
}

/* Every key is tried (no early exit), so the time taken does not tell
 * which client, if any, matched. */
int wire_hello_identify(const uint8_t *buf, size_t len,
			const uint8_t (*psks)[WIRE_KEY_LEN], uint32_t n)
{
	uint8_t id[WIRE_KEYID_LEN];
	int found = -ENOENT;

	if (wire_hello_check(buf, len) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		wire_hello_key_id(psks[i], buf + HELLO_EPH, id);
		if (sodium_memcmp(id, buf + HELLO_KEYID, WIRE_KEYID_LEN) == 0 &&
		    found < 0)
			found = (int)i;
	}
	sodium_memzero(id, sizeof(id));
	return found;
}

const uint8_t *wire_hello_mac1(const uint8_t *buf)
{
	return buf + HELLO_MAC;
}

const uint8_t *wire_hello_mac2(const uint8_t *buf)
{
	return buf + HELLO_MAC2;
}

size_t wire_hello_mac2_span(void)
{
	return HELLO_MAC2;
}

/*
 * The MAC is checked before any field is interpreted. The padding is
 * covered by the MAC but otherwise ignored, so a later minor revision may
 * put fields there. crypto_mode is returned as sent: refusing a mode is the
 * server's policy (answered with WR_CRYPTO_MODE), not a parse error.
 */
int wire_hello_parse(const uint8_t *buf, size_t len,
		     const uint8_t psk[WIRE_KEY_LEN], struct wire_hello *m)
{
	uint8_t want_id[WIRE_KEYID_LEN];
	struct wire_hdr h;
	int rc;

	rc = wire_hello_check_hdr(buf, len, WIRE_HELLO_LEN, WT_HELLO, &h);
	if (rc < 0)
		return rc;
	if (!wire_hello_mac_ok(buf, HELLO_MAC, psk))
		return -EBADMSG;
	wire_hello_key_id(psk, buf + HELLO_EPH, want_id);
	if (sodium_memcmp(want_id, buf + HELLO_KEYID, WIRE_KEYID_LEN) != 0)
		return -EBADMSG;
	if (h.session_id != 0 || h.link_id != buf[HELLO_LINK])
		return -EBADMSG;
	if (!memchr(buf + HELLO_SCHED, 0, WIRE_SCHED_NAME_MAX))
		return -EBADMSG;

	m->timestamp_ns = wire_get64(buf + HELLO_TS);
	memcpy(m->client_eph, buf + HELLO_EPH, WIRE_PUB_LEN);
	m->crypto_mode = buf[HELLO_MODE];
	m->link_id = buf[HELLO_LINK];
	m->link_mtu = wire_get16(buf + HELLO_MTU);
	memcpy(m->downstream, buf + HELLO_SCHED, WIRE_SCHED_NAME_MAX);
	/* A client that offers nothing (zero padding) can do ChaCha20. */
	m->ciphers = buf[HELLO_CIPHERS] | WIRE_CIPHERS_CHACHA20;
	return 0;
}

size_t wire_hello_ack_build(uint8_t *buf, const uint8_t psk[WIRE_KEY_LEN],
			    const struct wire_hello_ack *m)
{
	(void)wire_init();
	memset(buf, 0, WIRE_HELLO_ACK_LEN);
	wire_hello_hdr(buf, WT_HELLO_ACK, m->link_id, m->session_id);
	wire_put32(buf + ACK_SID, m->session_id);
	memcpy(buf + ACK_CEPH, m->client_eph, WIRE_PUB_LEN);
	memcpy(buf + ACK_SEPH, m->server_eph, WIRE_PUB_LEN);
	buf[ACK_LINK] = m->link_id;
	buf[ACK_STATUS] = m->status;
	buf[ACK_CIPHER] = m->cipher;
	buf[ACK_RESERVED] = 0;
	wire_hello_mac(buf + ACK_MAC, buf, ACK_MAC, psk);
	return WIRE_HELLO_ACK_LEN;
}

/*
 * The client must still compare client_eph with the one it sent: that
 * is what ties this answer to its current HELLO and defeats replayed acks.
 */
int wire_hello_ack_parse(const uint8_t *buf, size_t len,
			 const uint8_t psk[WIRE_KEY_LEN],
			 struct wire_hello_ack *m)
{
	struct wire_hdr h;
	int rc;

	rc = wire_hello_check_hdr(buf, len, WIRE_HELLO_ACK_LEN, WT_HELLO_ACK,
				  &h);
	if (rc < 0)
		return rc;
	if (!wire_hello_mac_ok(buf, ACK_MAC, psk))
		return -EBADMSG;
	if (h.session_id != wire_get32(buf + ACK_SID) ||
	    h.link_id != buf[ACK_LINK])
		return -EBADMSG;

	m->session_id = wire_get32(buf + ACK_SID);
	memcpy(m->client_eph, buf + ACK_CEPH, WIRE_PUB_LEN);
	memcpy(m->server_eph, buf + ACK_SEPH, WIRE_PUB_LEN);
	m->link_id = buf[ACK_LINK];
	m->status = buf[ACK_STATUS];
	m->cipher = buf[ACK_CIPHER];
	if (m->cipher != WIRE_CIPHER_CHACHA20 &&
	    m->cipher != WIRE_CIPHER_AES256GCM)
		return -EBADMSG;
	return 0;
}

/* COOKIE offsets. */
#define COOKIE_MAC1 16
#define COOKIE_VAL  32
_Static_assert(COOKIE_VAL + WIRE_COOKIE_LEN == WIRE_COOKIE_MSG_LEN,
	       "COOKIE layout and length disagree");

size_t wire_cookie_build(uint8_t *buf, uint8_t link_id,
			 const uint8_t mac1[WIRE_HELLO_MAC_LEN],
			 const uint8_t cookie[WIRE_COOKIE_LEN])
{
	memset(buf, 0, WIRE_COOKIE_MSG_LEN);
	wire_hello_hdr(buf, WT_COOKIE, link_id, 0);
	memcpy(buf + COOKIE_MAC1, mac1, WIRE_HELLO_MAC_LEN);
	memcpy(buf + COOKIE_VAL, cookie, WIRE_COOKIE_LEN);
	return WIRE_COOKIE_MSG_LEN;
}

int wire_cookie_parse(const uint8_t *buf, size_t len,
		      const uint8_t mac1[WIRE_HELLO_MAC_LEN],
		      uint8_t cookie[WIRE_COOKIE_LEN])
{
	struct wire_hdr h;
	int rc;

	rc = wire_hello_check_hdr(buf, len, WIRE_COOKIE_MSG_LEN, WT_COOKIE, &h);
	if (rc < 0)
		return rc;
	if (h.session_id != 0 || h.seq != 0)
		return -EBADMSG;
	if (sodium_memcmp(buf + COOKIE_MAC1, mac1, WIRE_HELLO_MAC_LEN) != 0)
		return -EBADMSG;
	memcpy(cookie, buf + COOKIE_VAL, WIRE_COOKIE_LEN);
	return 0;
}
