/*
 * Wire format: codecs, AEAD seal/open in every mode, the handshake, probes,
 * the flow hash and key files. Every parser also gets truncated and
 * corrupted input: these bytes come from the network.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "wire/wire.h"

static const uint8_t psk_a[WIRE_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t psk_b[WIRE_KEY_LEN] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

static const struct wire_hdr sample_hdr = {
    .version = WIRE_VERSION,
    .type = WT_DATA,
    .link_id = 3,
    .flags = 0,
    .session_id = 0xdeadbeef,
    .seq = 0x0102030405060708ull,
};

/* ---- header ---- */

static void test_hdr_roundtrip(void **state)
{
	uint8_t buf[WIRE_HDR_LEN];
	struct wire_hdr h;
	static const uint8_t want[WIRE_HDR_LEN] = {
	    3, 3, 3, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8};

	(void)state;
	wire_hdr_encode(buf, &sample_hdr);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(wire_hdr_decode(buf, sizeof(buf), &h), 0);
	assert_int_equal(h.version, WIRE_VERSION);
	assert_int_equal(h.type, WT_DATA);
	assert_int_equal(h.link_id, 3);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.session_id, 0xdeadbeef);
	assert_true(h.seq == 0x0102030405060708ull);
}

static void test_hdr_truncated(void **state)
{
	uint8_t buf[WIRE_HDR_LEN];
	struct wire_hdr h;

	(void)state;
	wire_hdr_encode(buf, &sample_hdr);
	for (size_t len = 0; len < WIRE_HDR_LEN; len++)
		assert_int_equal(wire_hdr_decode(buf, len, &h), -EBADMSG);
}

static void test_hdr_bad_fields(void **state)
{
	uint8_t buf[WIRE_HDR_LEN];
	struct wire_hdr h;

	(void)state;
	wire_hdr_encode(buf, &sample_hdr);
	buf[0] = 1; /* version 1 (no forward secrecy) is refused */
	assert_int_equal(wire_hdr_decode(buf, sizeof(buf), &h),
			 -EPROTONOSUPPORT);
	buf[0] = 2; /* version 2 (no per-link seq in DATA) is refused */
	assert_int_equal(wire_hdr_decode(buf, sizeof(buf), &h),
			 -EPROTONOSUPPORT);
	buf[0] = 4;
	assert_int_equal(wire_hdr_decode(buf, sizeof(buf), &h),
			 -EPROTONOSUPPORT);
	buf[0] = 0;
	assert_int_equal(wire_hdr_decode(buf, sizeof(buf), &h),
			 -EPROTONOSUPPORT);
	buf[0] = WIRE_VERSION;
	buf[1] = 0;
	assert_int_equal(wire_hdr_decode(buf, sizeof(buf), &h), -EBADMSG);
	buf[1] = WT_TYPE_MAX + 1;
	assert_int_equal(wire_hdr_decode(buf, sizeof(buf), &h), -EBADMSG);
	buf[1] = 0xff;
	assert_int_equal(wire_hdr_decode(buf, sizeof(buf), &h), -EBADMSG);
	buf[1] = WT_TYPE_MAX;
	assert_int_equal(wire_hdr_decode(buf, sizeof(buf), &h), 0);
	buf[3] = 0x04; /* unknown flag (0x02 is WF_EPOCH since version 2) */
	assert_int_equal(wire_hdr_decode(buf, sizeof(buf), &h), -EBADMSG);
	buf[3] = WF_ENCRYPTED;
	assert_int_equal(wire_hdr_decode(buf, sizeof(buf), &h), 0);
	assert_int_equal(h.flags, WF_ENCRYPTED);
}

static void test_overhead(void **state)
{
	(void)state;
	assert_int_equal(wire_data_overhead(CRYPTO_ENCRYPT), 48);
	assert_int_equal(wire_data_overhead(CRYPTO_AUTH), 48);
	assert_int_equal(wire_data_overhead(CRYPTO_NONE), 32);
	/* Outer IP + UDP, then the whole table of docs/protocol.md. */
	assert_int_equal(wire_outer_overhead(AF_INET), 28);
	assert_int_equal(wire_outer_overhead(AF_INET6), 48);
	assert_int_equal(wire_tunnel_overhead(AF_INET, CRYPTO_ENCRYPT), 76);
	assert_int_equal(wire_tunnel_overhead(AF_INET, CRYPTO_AUTH), 76);
	assert_int_equal(wire_tunnel_overhead(AF_INET, CRYPTO_NONE), 60);
	assert_int_equal(wire_tunnel_overhead(AF_INET6, CRYPTO_ENCRYPT), 96);
	assert_int_equal(wire_tunnel_overhead(AF_INET6, CRYPTO_NONE), 80);
}

/* ---- seal / open ---- */

/* The AEAD make_keys() sets up: the seal/open tests run once per cipher. */
static int cur_cipher = WIRE_CIPHER_CHACHA20;

static void make_keys(struct wire_keys *tx, struct wire_keys *rx, int mode)
{
	uint8_t cr[WIRE_RANDOM_LEN], sr[WIRE_RANDOM_LEN];

	memset(cr, 0x11, sizeof(cr));
	memset(sr, 0x22, sizeof(sr));
	wire_derive_keys(tx, mode, psk_a, cr, sr, 42, 1);
	wire_derive_keys(rx, mode, psk_a, cr, sr, 42, 0);
	assert_int_equal(wire_keys_set_cipher(tx, cur_cipher), 0);
	assert_int_equal(wire_keys_set_cipher(rx, cur_cipher), 0);
}

#define BODY_LEN 300

static size_t make_packet(uint8_t *buf, const struct wire_keys *k, uint64_t seq)
{
	struct wire_hdr h = sample_hdr;

	h.seq = seq;
	wire_hdr_encode(buf, &h);
	for (size_t i = 0; i < BODY_LEN; i++)
		buf[WIRE_HDR_LEN + i] = (uint8_t)(i * 7 + 1);
	return wire_seal(k, buf, BODY_LEN);
}

static int open_packet(const struct wire_keys *k, uint8_t *buf, size_t len,
		       uint8_t **body, size_t *blen)
{
	struct wire_hdr h;
	int rc = wire_hdr_decode(buf, len, &h);

	if (rc < 0)
		return rc;
	return wire_open(k, buf, len, &h, body, blen);
}

static void check_body(const uint8_t *body, size_t blen)
{
	assert_int_equal(blen, BODY_LEN);
	for (size_t i = 0; i < BODY_LEN; i++)
		assert_int_equal(body[i], (uint8_t)(i * 7 + 1));
}

static void roundtrip_mode(int mode)
{
	struct wire_keys tx, rx;
	uint8_t buf[WIRE_HDR_LEN + BODY_LEN + WIRE_TAG_LEN];
	uint8_t *body;
	size_t len, blen;

	make_keys(&tx, &rx, mode);
	len = make_packet(buf, &tx, 7);
	assert_int_equal(len, WIRE_HDR_LEN + BODY_LEN +
				  (mode == CRYPTO_NONE ? 0 : WIRE_TAG_LEN));
	assert_int_equal(buf[3] & WF_ENCRYPTED,
			 mode == CRYPTO_ENCRYPT ? WF_ENCRYPTED : 0);
	assert_int_equal(open_packet(&rx, buf, len, &body, &blen), 0);
	assert_ptr_equal(body, buf + WIRE_HDR_LEN);
	check_body(body, blen);
}

static void test_seal_roundtrip(void **state)
{
	(void)state;
	roundtrip_mode(CRYPTO_ENCRYPT);
	roundtrip_mode(CRYPTO_AUTH);
	roundtrip_mode(CRYPTO_NONE);
}

static void test_seal_bad_args(void **state)
{
	struct wire_keys tx, rx;
	uint8_t buf[64];

	(void)state;
	make_keys(&tx, &rx, CRYPTO_ENCRYPT);
	wire_hdr_encode(buf, &sample_hdr);
	assert_int_equal(wire_seal(&tx, buf, WIRE_MAX_PACKET), 0);
	tx.mode = 3;
	assert_int_equal(wire_seal(&tx, buf, 8), 0);
}

/* Flipping any single bit of header, body or tag must fail to open. */
static void flip_mode(int mode)
{
	struct wire_keys tx, rx;
	uint8_t buf[WIRE_HDR_LEN + BODY_LEN + WIRE_TAG_LEN];
	uint8_t orig[sizeof(buf)];
	uint8_t *body;
	size_t len, blen;

	make_keys(&tx, &rx, mode);
	len = make_packet(orig, &tx, 99);
	for (size_t bit = 0; bit < len * 8; bit++) {
		memcpy(buf, orig, len);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_not_equal(open_packet(&rx, buf, len, &body, &blen),
				     0);
	}
	memcpy(buf, orig, len);
	assert_int_equal(open_packet(&rx, buf, len, &body, &blen), 0);
}

static void test_flipped_bits(void **state)
{
	(void)state;
	flip_mode(CRYPTO_ENCRYPT);
	flip_mode(CRYPTO_AUTH);
}

/* AES-256-GCM, where the CPU has it: the same round trips and bit flips,
 * and a packet sealed with one cipher never opens with the other. */
static void test_aes_gcm(void **state)
{
	struct wire_keys tx, rx;
	uint8_t buf[WIRE_HDR_LEN + BODY_LEN + WIRE_TAG_LEN];
	uint8_t *body;
	size_t len, blen;

	(void)state;
	if (!(wire_ciphers_local() & WIRE_CIPHERS_AES256GCM))
		skip();
	cur_cipher = WIRE_CIPHER_AES256GCM;
	roundtrip_mode(CRYPTO_ENCRYPT);
	roundtrip_mode(CRYPTO_AUTH);
	flip_mode(CRYPTO_ENCRYPT);
	flip_mode(CRYPTO_AUTH);
	make_keys(&tx, &rx, CRYPTO_ENCRYPT);
	cur_cipher = WIRE_CIPHER_CHACHA20;
	len = make_packet(buf, &tx, 5);
	assert_int_equal(open_packet(&rx, buf, len, &body, &blen), 0);
	len = make_packet(buf, &tx, 6);
	assert_int_equal(wire_keys_set_cipher(&rx, WIRE_CIPHER_CHACHA20), 0);
	assert_int_not_equal(open_packet(&rx, buf, len, &body, &blen), 0);
	assert_int_equal(wire_keys_set_cipher(&rx, 7), -ENOTSUP);
}

/* The out-of-place seal, every mode and cipher: the same datagram as
 * wire_seal() in place, written to out, and the source body left as it
 * was (a queued packet is sealed from its queue entry, which a resend may
 * still read). */
static void test_seal_to_modes(void **state)
{
	static const int modes[] = {CRYPTO_ENCRYPT, CRYPTO_AUTH, CRYPTO_NONE};
	static const int ciphers[] = {WIRE_CIPHER_CHACHA20,
				      WIRE_CIPHER_AES256GCM};
	uint8_t a[WIRE_HDR_LEN + BODY_LEN + WIRE_TAG_LEN];
	uint8_t in[sizeof(a)], out[sizeof(a) + 1];
	struct wire_keys tx, rx;
	uint8_t *body;
	size_t blen;

	(void)state;
	for (size_t c = 0; c < 2; c++) {
		if (ciphers[c] == WIRE_CIPHER_AES256GCM &&
		    !(wire_ciphers_local() & WIRE_CIPHERS_AES256GCM))
			continue;
		cur_cipher = ciphers[c];
		for (size_t i = 0; i < 3; i++) {
			make_keys(&tx, &rx, modes[i]);
			size_t la = make_packet(a, &tx, 77);
			struct wire_hdr h = sample_hdr;
			h.seq = 77;
			/* the flags byte is the seal's to set */
			h.flags = modes[i] == CRYPTO_ENCRYPT ? 0 : WF_ENCRYPTED;
			wire_hdr_encode(in, &h);
			for (size_t j = 0; j < BODY_LEN; j++)
				in[WIRE_HDR_LEN + j] = (uint8_t)(j * 7 + 1);
			memset(out, 0xee, sizeof(out));
			size_t lb = wire_seal_to(&tx, out, in, BODY_LEN);
			assert_int_equal(la, lb);
			assert_memory_equal(a, out, la);
			assert_int_equal(out[la], 0xee); /* nothing beyond */
			check_body(in + WIRE_HDR_LEN, BODY_LEN);
			assert_int_equal(
			    open_packet(&rx, out, lb, &body, &blen), 0);
			check_body(body, blen);
		}
	}
	cur_cipher = WIRE_CIPHER_CHACHA20;
	/* what wire_seal() refuses, so does the out-of-place seal */
	make_keys(&tx, &rx, CRYPTO_ENCRYPT);
	wire_hdr_encode(in, &sample_hdr);
	assert_int_equal(wire_seal_to(&tx, out, in, WIRE_MAX_PACKET), 0);
}

static void test_cipher_choice(void **state)
{
	(void)state;
	assert_true(wire_ciphers_local() & WIRE_CIPHERS_CHACHA20);
	assert_int_equal(wire_cipher_choose(WIRE_CIPHERS_CHACHA20),
			 WIRE_CIPHER_CHACHA20);
	assert_int_equal(wire_cipher_choose(0), WIRE_CIPHER_CHACHA20);
	assert_int_equal(
	    wire_cipher_choose(WIRE_CIPHERS_CHACHA20 | WIRE_CIPHERS_AES256GCM),
	    (wire_ciphers_local() & WIRE_CIPHERS_AES256GCM)
		? WIRE_CIPHER_AES256GCM
		: WIRE_CIPHER_CHACHA20);
	assert_string_equal(wire_cipher_name(WIRE_CIPHER_AES256GCM),
			    "aes-256-gcm");
}

static void test_truncated_sealed(void **state)
{
	struct wire_keys tx, rx;
	uint8_t buf[WIRE_HDR_LEN + BODY_LEN + WIRE_TAG_LEN];
	uint8_t *body;
	size_t len, blen;
	struct wire_hdr h;

	(void)state;
	make_keys(&tx, &rx, CRYPTO_ENCRYPT);
	len = make_packet(buf, &tx, 1);
	assert_int_equal(wire_hdr_decode(buf, len, &h), 0);
	for (size_t l = 0; l < len; l++)
		assert_int_equal(wire_open(&rx, buf, l, &h, &body, &blen),
				 -EBADMSG);
}

static void test_wrong_key(void **state)
{
	struct wire_keys tx, rx, other;
	uint8_t buf[WIRE_HDR_LEN + BODY_LEN + WIRE_TAG_LEN];
	uint8_t cr[WIRE_RANDOM_LEN] = {0}, sr[WIRE_RANDOM_LEN] = {0};
	uint8_t *body;
	size_t len, blen;

	(void)state;
	for (int mode = CRYPTO_ENCRYPT; mode <= CRYPTO_AUTH; mode++) {
		make_keys(&tx, &rx, mode);
		len = make_packet(buf, &tx, 5);
		/* Our own tx key must not open what we sent (directions). */
		assert_int_equal(open_packet(&tx, buf, len, &body, &blen),
				 -EBADMSG);
		wire_derive_keys(&other, mode, psk_b, cr, sr, 42, 0);
		assert_int_equal(open_packet(&other, buf, len, &body, &blen),
				 -EBADMSG);
	}
}

/* The header's seq is the nonce: a receiver-side h with a different seq
 * than the bytes it was decoded from must not authenticate. */
static void test_hdr_struct_bound(void **state)
{
	struct wire_keys tx, rx;
	uint8_t buf[WIRE_HDR_LEN + BODY_LEN + WIRE_TAG_LEN];
	uint8_t *body;
	size_t len, blen;
	struct wire_hdr h;

	(void)state;
	make_keys(&tx, &rx, CRYPTO_AUTH);
	len = make_packet(buf, &tx, 1000);
	assert_int_equal(wire_hdr_decode(buf, len, &h), 0);
	h.seq++;
	assert_int_equal(wire_open(&rx, buf, len, &h, &body, &blen), -EBADMSG);
}

static void test_wrong_mode_flag(void **state)
{
	struct wire_keys etx, erx, atx, arx, ntx, nrx;
	uint8_t buf[WIRE_HDR_LEN + BODY_LEN + WIRE_TAG_LEN];
	uint8_t *body;
	size_t len, blen;
	struct wire_hdr h;

	(void)state;
	make_keys(&etx, &erx, CRYPTO_ENCRYPT);
	make_keys(&atx, &arx, CRYPTO_AUTH);
	make_keys(&ntx, &nrx, CRYPTO_NONE);
	/* Encrypted packet at an auth-only or none receiver. */
	len = make_packet(buf, &etx, 1);
	assert_int_equal(open_packet(&arx, buf, len, &body, &blen), -EBADMSG);
	len = make_packet(buf, &etx, 1);
	assert_int_equal(open_packet(&nrx, buf, len, &body, &blen), -EBADMSG);
	/* Auth-only packet at an encrypting receiver. */
	len = make_packet(buf, &atx, 2);
	assert_int_equal(open_packet(&erx, buf, len, &body, &blen), -EBADMSG);
	/* A decoded header whose flag disagrees with the mode. */
	len = make_packet(buf, &etx, 3);
	assert_int_equal(wire_hdr_decode(buf, len, &h), 0);
	h.flags = 0;
	assert_int_equal(wire_open(&erx, buf, len, &h, &body, &blen), -EBADMSG);
	/* Unknown mode in the receiver's keys. */
	len = make_packet(buf, &etx, 4);
	erx.mode = 7;
	assert_int_equal(open_packet(&erx, buf, len, &body, &blen), -EBADMSG);
}

static void test_encrypt_hides_body(void **state)
{
	struct wire_keys tx, rx;
	uint8_t buf[WIRE_HDR_LEN + BODY_LEN + WIRE_TAG_LEN];
	uint8_t plain[BODY_LEN];
	size_t same = 0;

	(void)state;
	for (size_t i = 0; i < BODY_LEN; i++)
		plain[i] = (uint8_t)(i * 7 + 1);
	make_keys(&tx, &rx, CRYPTO_ENCRYPT);
	make_packet(buf, &tx, 1);
	for (size_t i = 0; i < BODY_LEN; i++)
		same += buf[WIRE_HDR_LEN + i] == plain[i];
	assert_true(same < BODY_LEN / 16); /* ~1/256 by chance */
	/* Auth mode leaves it readable, on purpose. */
	make_keys(&tx, &rx, CRYPTO_AUTH);
	make_packet(buf, &tx, 1);
	assert_memory_equal(buf + WIRE_HDR_LEN, plain, BODY_LEN);
}

/* Same seq in both directions must give different ciphertexts. */
static void test_directions_differ(void **state)
{
	struct wire_keys c, s;
	uint8_t a[WIRE_HDR_LEN + BODY_LEN + WIRE_TAG_LEN];
	uint8_t b[sizeof(a)];
	size_t la, lb;

	(void)state;
	make_keys(&c, &s, CRYPTO_ENCRYPT);
	assert_memory_equal(c.tx, s.rx, WIRE_KEY_LEN);
	assert_memory_equal(c.rx, s.tx, WIRE_KEY_LEN);
	assert_memory_not_equal(c.tx, c.rx, WIRE_KEY_LEN);
	la = make_packet(a, &c, 9);
	lb = make_packet(b, &s, 9);
	assert_int_equal(la, lb);
	assert_memory_not_equal(a + WIRE_HDR_LEN, b + WIRE_HDR_LEN,
				la - WIRE_HDR_LEN);
}

static void test_derive_inputs_matter(void **state)
{
	struct wire_keys base, k;
	uint8_t cr[WIRE_RANDOM_LEN], sr[WIRE_RANDOM_LEN];

	(void)state;
	memset(cr, 0x11, sizeof(cr));
	memset(sr, 0x22, sizeof(sr));
	wire_derive_keys(&base, CRYPTO_ENCRYPT, psk_a, cr, sr, 42, 1);
	assert_int_equal(base.mode, CRYPTO_ENCRYPT);
	wire_derive_keys(&k, CRYPTO_ENCRYPT, psk_a, cr, sr, 43, 1);
	assert_memory_not_equal(k.tx, base.tx, WIRE_KEY_LEN);
	wire_derive_keys(&k, CRYPTO_ENCRYPT, psk_b, cr, sr, 42, 1);
	assert_memory_not_equal(k.tx, base.tx, WIRE_KEY_LEN);
	cr[31] ^= 1;
	wire_derive_keys(&k, CRYPTO_ENCRYPT, psk_a, cr, sr, 42, 1);
	assert_memory_not_equal(k.tx, base.tx, WIRE_KEY_LEN);
	cr[31] ^= 1;
	sr[0] ^= 1;
	wire_derive_keys(&k, CRYPTO_ENCRYPT, psk_a, cr, sr, 42, 1);
	assert_memory_not_equal(k.tx, base.tx, WIRE_KEY_LEN);
}

/* ---- DATA sub-header ---- */

static void test_data_codec(void **state)
{
	uint8_t body[WIRE_DATA_HDR_LEN + 4];
	struct wire_data d = {.prev_gap = 0x01020304,
			      .bucket = 255,
			      .path_seq = 0xfffffffe,
			      .tx_us = 0x11223344},
			 o;

	(void)state;
	wire_data_encode(body, &d);
	assert_int_equal(body[6] | body[7], 0);
	assert_int_equal(wire_data_decode(body, sizeof(body), &o), 0);
	assert_int_equal(o.prev_gap, 0x01020304);
	assert_int_equal(o.bucket, 255);
	assert_int_equal(o.path_seq, 0xfffffffe);
	assert_int_equal(o.tx_us, 0x11223344);
	assert_int_equal(body[12], 0x11); /* big endian at 12 */
	for (size_t l = 0; l < WIRE_DATA_HDR_LEN; l++)
		assert_int_equal(wire_data_decode(body, l, &o), -EBADMSG);
	body[4] = 1; /* bucket 511 */
	assert_int_equal(wire_data_decode(body, sizeof(body), &o), -EBADMSG);
}

/* ---- feedback ---- */

static void sample_fb(struct wire_feedback *f, uint8_t n)
{
	memset(f, 0, sizeof(*f));
	f->gen_us = 0xfedcba98;
	f->n_links = n;
	for (uint8_t i = 0; i < n; i++) {
		struct wire_fb_link *l = &f->links[i];
		l->link_id = (uint8_t)(i * 3);
		l->interval_pkts = (uint16_t)(100 + i);
		l->high_seq = 1000u + i;
		l->rx_packets = 990u + i;
		l->rx_bytes = 0xffffff00u + i;
		l->last_rx_us = 0x01020304u + i;
		l->owd_min_us = 0x7fffffffu;
		l->owd_max_us = 0x80000001u;
	}
}

static void test_feedback_codec(void **state)
{
	uint8_t body[WIRE_FB_HDR_LEN + WIRE_FB_MAX_LINKS * WIRE_FB_LINK_LEN];
	struct wire_feedback f, o;

	(void)state;
	for (uint8_t n = 1; n <= WIRE_FB_MAX_LINKS; n++) {
		sample_fb(&f, n);
		size_t len = wire_feedback_encode(body, sizeof(body), &f);
		assert_int_equal(len, WIRE_FB_HDR_LEN + n * WIRE_FB_LINK_LEN);
		memset(&o, 0, sizeof(o));
		assert_int_equal(wire_feedback_decode(body, len, &o), 0);
		assert_int_equal(o.gen_us, f.gen_us);
		assert_int_equal(o.n_links, n);
		assert_memory_equal(o.links, f.links, n * sizeof(f.links[0]));
	}
	/* the encoder refuses what the decoder would */
	sample_fb(&f, 0);
	assert_int_equal(wire_feedback_encode(body, sizeof(body), &f), 0);
	sample_fb(&f, WIRE_FB_MAX_LINKS);
	f.n_links = WIRE_FB_MAX_LINKS + 1;
	assert_int_equal(wire_feedback_encode(body, sizeof(body), &f), 0);
	sample_fb(&f, 2);
	assert_int_equal(wire_feedback_encode(body, 10, &f), 0);
}

/* Bad input: every wrong length, count, reserved byte and a link named
 * twice is refused. */
static void test_feedback_bad(void **state)
{
	uint8_t body[WIRE_FB_HDR_LEN + 3 * WIRE_FB_LINK_LEN];
	struct wire_feedback f, o;

	(void)state;
	sample_fb(&f, 3);
	size_t len = wire_feedback_encode(body, sizeof(body), &f);
	assert_int_equal(len, sizeof(body));
	for (size_t l = 0; l < len; l++)
		assert_int_equal(wire_feedback_decode(body, l, &o), -EBADMSG);
	body[4] = 0; /* no entries */
	assert_int_equal(wire_feedback_decode(body, len, &o), -EBADMSG);
	body[4] = 2; /* count says 2, length says 3 */
	assert_int_equal(wire_feedback_decode(body, len, &o), -EBADMSG);
	body[4] = 200; /* too many */
	assert_int_equal(wire_feedback_decode(body, len, &o), -EBADMSG);
	body[4] = 3;
	body[5] = 1; /* reserved */
	assert_int_equal(wire_feedback_decode(body, len, &o), -EBADMSG);
	body[5] = 0;
	body[7] = 1;
	assert_int_equal(wire_feedback_decode(body, len, &o), -EBADMSG);
	body[7] = 0;
	body[WIRE_FB_HDR_LEN + 1] = 1; /* an entry's reserved byte */
	assert_int_equal(wire_feedback_decode(body, len, &o), -EBADMSG);
	body[WIRE_FB_HDR_LEN + 1] = 0;
	/* link 3 named twice */
	body[WIRE_FB_HDR_LEN + 2 * WIRE_FB_LINK_LEN] = 3;
	assert_int_equal(wire_feedback_decode(body, len, &o), -EBADMSG);
	body[WIRE_FB_HDR_LEN + 2 * WIRE_FB_LINK_LEN] = 6;
	assert_int_equal(wire_feedback_decode(body, len, &o), 0);
}

/* ---- loss recovery: NACK and RETX ---- */

static void test_nack_codec(void **state)
{
	uint8_t
	    body[WIRE_NACK_HDR_LEN + WIRE_NACK_MAX_RUNS * WIRE_NACK_RUN_LEN];
	struct wire_nack n = {.n_runs = 3}, o;

	(void)state;
	n.runs[0] =
	    (struct wire_nack_run){.link_id = 1, .count = 1, .first = 7};
	n.runs[1] = (struct wire_nack_run){
	    .link_id = 15, .count = WIRE_NACK_MAX_COUNT, .first = 0xfffffff0u};
	n.runs[2] =
	    (struct wire_nack_run){.link_id = 1, .count = 2, .first = 9};
	size_t len = wire_nack_encode(body, sizeof(body), &n);
	assert_int_equal(len, WIRE_NACK_HDR_LEN + 3 * WIRE_NACK_RUN_LEN);
	assert_int_equal(wire_nack_decode(body, len, &o), 0);
	assert_int_equal(o.n_runs, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(o.runs[i].link_id, n.runs[i].link_id);
		assert_int_equal(o.runs[i].count, n.runs[i].count);
		assert_int_equal(o.runs[i].first, n.runs[i].first);
	}
	/* what the encoder refuses */
	assert_int_equal(wire_nack_encode(body, len - 1, &n), 0);
	n.runs[2].count = 0;
	assert_int_equal(wire_nack_encode(body, sizeof(body), &n), 0);
	n.runs[2].count = WIRE_NACK_MAX_COUNT + 1;
	assert_int_equal(wire_nack_encode(body, sizeof(body), &n), 0);
	n.n_runs = 0;
	assert_int_equal(wire_nack_encode(body, sizeof(body), &n), 0);
	n.n_runs = WIRE_NACK_MAX_RUNS + 1;
	assert_int_equal(wire_nack_encode(body, sizeof(body), &n), 0);
}

static void test_nack_bad(void **state)
{
	uint8_t body[WIRE_NACK_HDR_LEN + 2 * WIRE_NACK_RUN_LEN + 1];
	struct wire_nack n = {.n_runs = 2}, o;

	(void)state;
	n.runs[0] =
	    (struct wire_nack_run){.link_id = 0, .count = 3, .first = 1};
	n.runs[1] =
	    (struct wire_nack_run){.link_id = 2, .count = 5, .first = 9};
	size_t len = wire_nack_encode(body, sizeof(body), &n);
	assert_int_equal(len, WIRE_NACK_HDR_LEN + 2 * WIRE_NACK_RUN_LEN);
	for (size_t l = 0; l < len; l++)
		assert_int_equal(wire_nack_decode(body, l, &o), -EBADMSG);
	body[len] = 0; /* one byte too many */
	assert_int_equal(wire_nack_decode(body, len + 1, &o), -EBADMSG);
	body[0] = 0; /* no runs */
	assert_int_equal(wire_nack_decode(body, len, &o), -EBADMSG);
	body[0] = 1; /* count says 1, length says 2 */
	assert_int_equal(wire_nack_decode(body, len, &o), -EBADMSG);
	body[0] = 255; /* too many */
	assert_int_equal(wire_nack_decode(body, len, &o), -EBADMSG);
	body[0] = 2;
	body[1] = 1; /* reserved */
	assert_int_equal(wire_nack_decode(body, len, &o), -EBADMSG);
	body[1] = 0;
	body[3] = 1;
	assert_int_equal(wire_nack_decode(body, len, &o), -EBADMSG);
	body[3] = 0;
	uint8_t *r1 = body + WIRE_NACK_HDR_LEN + WIRE_NACK_RUN_LEN;
	r1[1] = 1; /* a run's reserved byte */
	assert_int_equal(wire_nack_decode(body, len, &o), -EBADMSG);
	r1[1] = 0;
	r1[2] = 0, r1[3] = 0; /* count 0 */
	assert_int_equal(wire_nack_decode(body, len, &o), -EBADMSG);
	r1[2] = 0x04, r1[3] = 0x01; /* count 1025 */
	assert_int_equal(wire_nack_decode(body, len, &o), -EBADMSG);
	r1[2] = 0x04, r1[3] = 0x00; /* 1024 is the most */
	assert_int_equal(wire_nack_decode(body, len, &o), 0);
	assert_int_equal(o.runs[1].count, WIRE_NACK_MAX_COUNT);
}

static void test_retx_hdr(void **state)
{
	uint8_t body[WIRE_DATA_HDR_LEN];
	struct wire_retx r = {.prev_gap = 0x01020304,
			      .bucket = 255,
			      .lost_link = 3,
			      .back = 65535,
			      .path_seq = 0xdeadbeef,
			      .tx_us = 42},
			 o;

	(void)state;
	wire_retx_encode(body, &r);
	assert_int_equal(wire_retx_decode(body, sizeof(body), &o), 0);
	assert_int_equal(o.prev_gap, r.prev_gap);
	assert_int_equal(o.bucket, 255);
	assert_int_equal(o.lost_link, 3);
	assert_int_equal(o.back, 65535);
	assert_int_equal(o.path_seq, r.path_seq);
	assert_int_equal(o.tx_us, 42);
	for (size_t l = 0; l < sizeof(body); l++)
		assert_int_equal(wire_retx_decode(body, l, &o), -EBADMSG);
	r.back = 0; /* a resend is always newer than its original */
	wire_retx_encode(body, &r);
	assert_int_equal(wire_retx_decode(body, sizeof(body), &o), -EBADMSG);
}

/* ---- handshake ---- */

static void sample_hello(struct wire_hello *m)
{
	memset(m, 0, sizeof(*m));
	m->timestamp_ns = 1700000000123456789ull;
	for (int i = 0; i < WIRE_PUB_LEN; i++)
		m->client_eph[i] = (uint8_t)(0xa0 + i);
	m->crypto_mode = CRYPTO_AUTH;
	m->link_id = 2;
	m->link_mtu = 1492;
	strcpy(m->downstream, "lowest-rtt");
}

static void test_key_id(void **state)
{
	uint8_t a[WIRE_KEYID_LEN], a2[WIRE_KEYID_LEN], b[WIRE_KEYID_LEN];
	uint8_t full[16];

	(void)state;
	wire_key_id(psk_a, a);
	wire_key_id(psk_a, a2);
	wire_key_id(psk_b, b);
	assert_memory_equal(a, a2, WIRE_KEYID_LEN);
	assert_memory_not_equal(a, b, WIRE_KEYID_LEN);
	/* Documented definition, checked independently. */
	crypto_generichash(full, sizeof(full),
			   (const uint8_t *)"tuntuntun key id", 16, psk_a,
			   WIRE_KEY_LEN);
	assert_memory_equal(a, full, WIRE_KEYID_LEN);
}

static void test_hello_roundtrip(void **state)
{
	struct wire_hello m, o;
	uint8_t buf[WIRE_HELLO_LEN], id[WIRE_KEYID_LEN];
	struct wire_hdr h;

	(void)state;
	sample_hello(&m);
	assert_int_equal(wire_hello_build(buf, psk_a, &m, NULL, NULL),
			 WIRE_HELLO_LEN);
	assert_int_equal(wire_hdr_decode(buf, sizeof(buf), &h), 0);
	assert_int_equal(h.type, WT_HELLO);
	assert_int_equal(h.version, WIRE_VERSION);
	assert_int_equal(h.session_id, 0);
	/* The blinded key id at offset 16, by its documented definition. */
	wire_hello_key_id(psk_a, m.client_eph, id);
	assert_memory_equal(buf + 16, id, WIRE_KEYID_LEN);
	memset(&o, 0x55, sizeof(o));
	assert_int_equal(wire_hello_parse(buf, sizeof(buf), psk_a, &o), 0);
	assert_true(o.timestamp_ns == m.timestamp_ns);
	assert_memory_equal(o.client_eph, m.client_eph, WIRE_PUB_LEN);
	assert_int_equal(o.crypto_mode, CRYPTO_AUTH);
	assert_int_equal(o.link_id, 2);
	assert_int_equal(o.link_mtu, 1492);
	assert_string_equal(o.downstream, "lowest-rtt");
	/* The cipher offer: as sent, and ChaCha20 is always implied. */
	m.ciphers = WIRE_CIPHERS_AES256GCM;
	wire_hello_build(buf, psk_a, &m, NULL, NULL);
	assert_int_equal(wire_hello_parse(buf, sizeof(buf), psk_a, &o), 0);
	assert_int_equal(o.ciphers,
			 WIRE_CIPHERS_AES256GCM | WIRE_CIPHERS_CHACHA20);
}

/* A name that fills the field is cut to 31 bytes plus NUL, never sent
 * unterminated. */
static void test_hello_long_name(void **state)
{
	struct wire_hello m, o;
	uint8_t buf[WIRE_HELLO_LEN];

	(void)state;
	sample_hello(&m);
	memset(m.downstream, 'x', sizeof(m.downstream));
	wire_hello_build(buf, psk_a, &m, NULL, NULL);
	assert_int_equal(wire_hello_parse(buf, sizeof(buf), psk_a, &o), 0);
	assert_int_equal(strlen(o.downstream), WIRE_SCHED_NAME_MAX - 1);
}

static void test_hello_bad(void **state)
{
	struct wire_hello m, o;
	uint8_t buf[WIRE_HELLO_LEN + 1], orig[WIRE_HELLO_LEN];
	const uint8_t(*both)[WIRE_KEY_LEN];
	uint8_t keys[2][WIRE_KEY_LEN];

	(void)state;
	sample_hello(&m);
	wire_hello_build(orig, psk_a, &m, NULL, NULL);
	/* Wrong psk. */
	assert_int_equal(wire_hello_parse(orig, WIRE_HELLO_LEN, psk_b, &o),
			 -EBADMSG);
	/* Every truncation, and one byte too many. */
	for (size_t l = 0; l < WIRE_HELLO_LEN; l++) {
		assert_int_not_equal(wire_hello_parse(orig, l, psk_a, &o), 0);
		assert_int_not_equal(wire_hello_check(orig, l), 0);
	}
	memcpy(buf, orig, WIRE_HELLO_LEN);
	buf[WIRE_HELLO_LEN] = 0;
	assert_int_equal(wire_hello_parse(buf, WIRE_HELLO_LEN + 1, psk_a, &o),
			 -EBADMSG);
	/* Any flipped bit before mac2 breaks mac1 (or the header check);
	 * mac2 is the cookie's business, not the PSK's. */
	for (size_t bit = 0; bit < wire_hello_mac2_span() * 8; bit++) {
		memcpy(buf, orig, WIRE_HELLO_LEN);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_not_equal(
		    wire_hello_parse(buf, WIRE_HELLO_LEN, psk_a, &o), 0);
	}
	/* The key id names the key: each of two keys finds its own HELLO. */
	memcpy(keys[0], psk_b, WIRE_KEY_LEN);
	memcpy(keys[1], psk_a, WIRE_KEY_LEN);
	both = (const uint8_t(*)[WIRE_KEY_LEN])keys;
	assert_int_equal(wire_hello_identify(orig, WIRE_HELLO_LEN, both, 2), 1);
	assert_int_equal(wire_hello_identify(orig, WIRE_HELLO_LEN, both, 1),
			 -ENOENT);
	/* Right MAC, key id not the one for this ephemeral. */
	memcpy(buf, orig, WIRE_HELLO_LEN);
	buf[16] ^= 1;
	crypto_generichash(buf + 128, 16, buf, 128, psk_a, WIRE_KEY_LEN);
	assert_int_equal(wire_hello_parse(buf, WIRE_HELLO_LEN, psk_a, &o),
			 -EBADMSG);
	assert_int_equal(wire_hello_identify(buf, WIRE_HELLO_LEN, both, 2),
			 -ENOENT);
	/* An ack is not a hello. */
	assert_int_not_equal(wire_hello_check(buf, WIRE_HELLO_ACK_LEN), 0);
	/* A version-1 HELLO is refused as such. */
	memcpy(buf, orig, WIRE_HELLO_LEN);
	buf[0] = 1;
	assert_int_equal(wire_hello_parse(buf, WIRE_HELLO_LEN, psk_a, &o),
			 -EPROTONOSUPPORT);
}

/* Identity hiding: two attempts of one client carry unrelated key ids. */
static void test_hello_unlinkable(void **state)
{
	struct wire_hello m;
	uint8_t a[WIRE_HELLO_LEN], b[WIRE_HELLO_LEN], sid[WIRE_KEYID_LEN];

	(void)state;
	sample_hello(&m);
	wire_hello_build(a, psk_a, &m, NULL, NULL);
	m.client_eph[0] ^= 0x80;
	wire_hello_build(b, psk_a, &m, NULL, NULL);
	assert_memory_not_equal(a + 16, b + 16, WIRE_KEYID_LEN);
	/* and neither is the static key id */
	wire_key_id(psk_a, sid);
	assert_memory_not_equal(a + 16, sid, WIRE_KEYID_LEN);
	assert_memory_not_equal(b + 16, sid, WIRE_KEYID_LEN);
}

static void sample_ack(struct wire_hello_ack *a)
{
	memset(a, 0, sizeof(*a));
	a->session_id = 0x11223344;
	memset(a->client_eph, 0xc1, sizeof(a->client_eph));
	memset(a->server_eph, 0x5e, sizeof(a->server_eph));
	a->link_id = 2;
	a->status = WR_SCHEDULER;
}

static void test_ack_roundtrip(void **state)
{
	struct wire_hello_ack a, o;
	uint8_t buf[WIRE_HELLO_LEN];
	size_t len;
	struct wire_hdr h;

	(void)state;
	sample_ack(&a);
	len = wire_hello_ack_build(buf, psk_a, &a);
	assert_int_equal(len, WIRE_HELLO_ACK_LEN);
	assert_true(len <= WIRE_HELLO_LEN); /* anti-amplification */
	assert_int_equal(wire_hdr_decode(buf, len, &h), 0);
	assert_int_equal(h.type, WT_HELLO_ACK);
	assert_int_equal(h.session_id, 0x11223344);
	assert_int_equal(wire_hello_ack_parse(buf, len, psk_a, &o), 0);
	assert_int_equal(o.session_id, 0x11223344);
	assert_memory_equal(o.client_eph, a.client_eph, WIRE_PUB_LEN);
	assert_memory_equal(o.server_eph, a.server_eph, WIRE_PUB_LEN);
	assert_int_equal(o.link_id, 2);
	assert_int_equal(o.status, WR_SCHEDULER);
	assert_int_equal(o.cipher, WIRE_CIPHER_CHACHA20);
	a.cipher = WIRE_CIPHER_AES256GCM;
	len = wire_hello_ack_build(buf, psk_a, &a);
	assert_int_equal(wire_hello_ack_parse(buf, len, psk_a, &o), 0);
	assert_int_equal(o.cipher, WIRE_CIPHER_AES256GCM);
	a.cipher = 9; /* an unknown cipher is refused even with a good MAC */
	len = wire_hello_ack_build(buf, psk_a, &a);
	assert_int_equal(wire_hello_ack_parse(buf, len, psk_a, &o), -EBADMSG);
}

static void test_ack_bad(void **state)
{
	struct wire_hello_ack a, o;
	uint8_t buf[WIRE_HELLO_LEN], orig[WIRE_HELLO_ACK_LEN];
	struct wire_hello m;

	(void)state;
	sample_ack(&a);
	wire_hello_ack_build(orig, psk_a, &a);
	assert_int_equal(
	    wire_hello_ack_parse(orig, WIRE_HELLO_ACK_LEN, psk_b, &o),
	    -EBADMSG);
	for (size_t l = 0; l < WIRE_HELLO_ACK_LEN; l++)
		assert_int_not_equal(wire_hello_ack_parse(orig, l, psk_a, &o),
				     0);
	for (size_t bit = 0; bit < WIRE_HELLO_ACK_LEN * 8; bit++) {
		memcpy(buf, orig, WIRE_HELLO_ACK_LEN);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_not_equal(
		    wire_hello_ack_parse(buf, WIRE_HELLO_ACK_LEN, psk_a, &o),
		    0);
	}
	/* A HELLO is not an ack, even with the right key. */
	sample_hello(&m);
	wire_hello_build(buf, psk_a, &m, NULL, NULL);
	assert_int_not_equal(
	    wire_hello_ack_parse(buf, WIRE_HELLO_LEN, psk_a, &o), 0);
	assert_int_not_equal(
	    wire_hello_ack_parse(buf, WIRE_HELLO_ACK_LEN, psk_a, &o), 0);
}

/* ---- probes ---- */

static void test_probe_roundtrip(void **state)
{
	uint8_t body[1500];
	struct wire_probe p = {.probe_id = 77,
			       .tx_ns = 123456789012ull,
			       .rx_packets = 999,
			       .pad_to = 0},
			  o;
	size_t len;

	(void)state;
	len = wire_probe_encode(body, sizeof(body), &p);
	assert_int_equal(len, WIRE_PROBE_LEN);
	assert_int_equal(wire_probe_decode(body, len, &o), 0);
	assert_int_equal(o.probe_id, 77);
	assert_true(o.tx_ns == 123456789012ull);
	assert_true(o.rx_packets == 999);
	assert_int_equal(o.pad_to, WIRE_PROBE_LEN);
	for (size_t l = 0; l < len; l++)
		assert_int_equal(wire_probe_decode(body, l, &o), -EBADMSG);
	assert_int_equal(wire_probe_decode(body, len + 1, &o), -EBADMSG);

	/* PMTU probe padded with zeros to 1400 bytes of body. */
	memset(body, 0xee, sizeof(body));
	p.pad_to = 1400;
	len = wire_probe_encode(body, sizeof(body), &p);
	assert_int_equal(len, 1400);
	for (size_t i = WIRE_PROBE_LEN; i < len; i++)
		assert_int_equal(body[i], 0);
	assert_int_equal(body[1400], 0xee);
	assert_int_equal(wire_probe_decode(body, len, &o), 0);
	assert_int_equal(o.pad_to, 1400);
	assert_int_equal(o.probe_id, 77);
	/* Cut short on the way: detected. */
	assert_int_equal(wire_probe_decode(body, 1399, &o), -EBADMSG);
	assert_int_equal(wire_probe_decode(body, 1000, &o), -EBADMSG);
	/* No room. */
	assert_int_equal(wire_probe_encode(body, 1399, &p), 0);
	p.pad_to = 0;
	assert_int_equal(wire_probe_encode(body, WIRE_PROBE_LEN - 1, &p), 0);
}

static void test_probe_reply_roundtrip(void **state)
{
	uint8_t body[64];
	struct wire_probe_reply r = {.probe_id = 0xfeedf00d,
				     .echo_tx_ns = 0x0102030405060708ull,
				     .rx_packets = 31337,
				     .hold_us = 250,
				     .probe_len = 1400},
				o;

	(void)state;
	assert_int_equal(wire_probe_reply_encode(body, &r),
			 WIRE_PROBE_REPLY_LEN);
	assert_int_equal(
	    wire_probe_reply_decode(body, WIRE_PROBE_REPLY_LEN, &o), 0);
	assert_int_equal(o.probe_id, 0xfeedf00d);
	assert_true(o.echo_tx_ns == 0x0102030405060708ull);
	assert_true(o.rx_packets == 31337);
	assert_int_equal(o.hold_us, 250);
	assert_int_equal(o.probe_len, 1400);
	for (size_t l = 0; l < sizeof(body); l++)
		if (l != WIRE_PROBE_REPLY_LEN)
			assert_int_equal(wire_probe_reply_decode(body, l, &o),
					 -EBADMSG);
}

/* ---- flow hash ---- */

static size_t ipv4_pkt(uint8_t *p, uint8_t proto, uint32_t src, uint32_t dst,
		       uint16_t sport, uint16_t dport, uint16_t frag)
{
	memset(p, 0, 60);
	p[0] = 0x45;
	p[2] = 0;
	p[3] = 48;
	p[6] = (uint8_t)(frag >> 8);
	p[7] = (uint8_t)frag;
	p[8] = 64;
	p[9] = proto;
	for (int i = 0; i < 4; i++) {
		p[12 + i] = (uint8_t)(src >> (24 - 8 * i));
		p[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	p[20] = (uint8_t)(sport >> 8);
	p[21] = (uint8_t)sport;
	p[22] = (uint8_t)(dport >> 8);
	p[23] = (uint8_t)dport;
	p[40] = 0xaa; /* payload must not matter */
	return 48;
}

static void test_flow_v4(void **state)
{
	uint8_t a[60], b[60];
	size_t la, lb;
	uint32_t h;

	(void)state;
	la = ipv4_pkt(a, 6, 0x0a000001, 0x0a000002, 40000, 443, 0);
	h = wire_flow_hash(a, la);
	assert_int_not_equal(h, 0);
	/* Same flow, different payload and length: same hash. */
	lb = ipv4_pkt(b, 6, 0x0a000001, 0x0a000002, 40000, 443, 0);
	b[40] = 0x55;
	assert_int_equal(wire_flow_hash(b, lb), h);
	assert_int_equal(wire_flow_hash(b, 24), h);
	/* Ports, addresses and protocol all matter. */
	ipv4_pkt(b, 6, 0x0a000001, 0x0a000002, 40001, 443, 0);
	assert_int_not_equal(wire_flow_hash(b, lb), h);
	ipv4_pkt(b, 6, 0x0a000001, 0x0a000002, 40000, 444, 0);
	assert_int_not_equal(wire_flow_hash(b, lb), h);
	ipv4_pkt(b, 6, 0x0a000003, 0x0a000002, 40000, 443, 0);
	assert_int_not_equal(wire_flow_hash(b, lb), h);
	ipv4_pkt(b, 17, 0x0a000001, 0x0a000002, 40000, 443, 0);
	assert_int_not_equal(wire_flow_hash(b, lb), h);
	/* Stable across runs: a fixed value, not a per-process seed. */
	assert_int_equal(h, wire_flow_hash(a, la));
	/* IP options: ports read after IHL. */
	ipv4_pkt(b, 17, 1, 2, 0, 0, 0);
	b[0] = 0x46;
	b[24] = 0x12, b[25] = 0x34, b[26] = 0x56, b[27] = 0x78;
	h = wire_flow_hash(b, lb);
	b[24] = 0x12, b[25] = 0x35;
	assert_int_not_equal(wire_flow_hash(b, lb), h);
	/* Non-first fragment: ports ignored (they are payload bytes). */
	ipv4_pkt(a, 17, 1, 2, 1000, 53, 0x0010);
	ipv4_pkt(b, 17, 1, 2, 1001, 54, 0x0010);
	assert_int_equal(wire_flow_hash(a, la), wire_flow_hash(b, lb));
	/* First fragment (MF set, offset 0) keeps them. */
	ipv4_pkt(a, 17, 1, 2, 1000, 53, 0x2000);
	ipv4_pkt(b, 17, 1, 2, 1001, 54, 0x2000);
	assert_int_not_equal(wire_flow_hash(a, la), wire_flow_hash(b, lb));
	/* ICMP has no ports: the bytes at 20..23 do not matter. */
	ipv4_pkt(a, 1, 1, 2, 1000, 53, 0);
	ipv4_pkt(b, 1, 1, 2, 1001, 54, 0);
	assert_int_equal(wire_flow_hash(a, la), wire_flow_hash(b, lb));
}

static void test_flow_v4_bad(void **state)
{
	uint8_t a[60];
	size_t la;

	(void)state;
	la = ipv4_pkt(a, 6, 1, 2, 3, 4, 0);
	for (size_t l = 0; l < 20; l++)
		assert_int_equal(wire_flow_hash(a, l), 0);
	a[0] = 0x44; /* IHL 4: invalid */
	assert_int_equal(wire_flow_hash(a, la), 0);
	a[0] = 0x4f; /* IHL 15 = 60 bytes > len */
	assert_int_equal(wire_flow_hash(a, la), 0);
	a[0] = 0x55;
	assert_int_equal(wire_flow_hash(a, la), 0);
	assert_int_equal(wire_flow_hash(NULL, 0), 0);
}

static size_t ipv6_pkt(uint8_t *p, uint8_t nh, uint8_t src_last, uint16_t sport,
		       uint16_t dport)
{
	memset(p, 0, 128);
	p[0] = 0x60;
	p[6] = nh;
	p[7] = 64;
	p[8] = 0xfd;
	p[23] = src_last;
	p[24] = 0xfd;
	p[39] = 2;
	p[40] = (uint8_t)(sport >> 8);
	p[41] = (uint8_t)sport;
	p[42] = (uint8_t)(dport >> 8);
	p[43] = (uint8_t)dport;
	return 60;
}

/* Inserts an 8-byte extension header of type `type` after the fixed
 * header; `frag` is the fragment-offset word for a fragment header. */
static size_t ipv6_add_ext(uint8_t *p, size_t len, uint8_t type, uint16_t frag)
{
	memmove(p + 48, p + 40, len - 40);
	memset(p + 40, 0, 8);
	p[40] = p[6];
	p[6] = type;
	if (type == 44) {
		p[42] = (uint8_t)(frag >> 8);
		p[43] = (uint8_t)frag;
	}
	return len + 8;
}

static void test_flow_v6(void **state)
{
	uint8_t a[128], b[128];
	size_t la, lb;
	uint32_t h;

	(void)state;
	la = ipv6_pkt(a, 6, 1, 40000, 443);
	h = wire_flow_hash(a, la);
	assert_int_not_equal(h, 0);
	lb = ipv6_pkt(b, 6, 1, 40000, 443);
	assert_int_equal(wire_flow_hash(b, lb), h);
	ipv6_pkt(b, 6, 1, 40000, 444);
	assert_int_not_equal(wire_flow_hash(b, lb), h);
	ipv6_pkt(b, 6, 3, 40000, 443);
	assert_int_not_equal(wire_flow_hash(b, lb), h);
	ipv6_pkt(b, 17, 1, 40000, 443);
	assert_int_not_equal(wire_flow_hash(b, lb), h);

	/* Hop-by-hop, routing, dest opts: same flow as without them, and
	 * ports behind them still count. */
	static const uint8_t exts[] = {0, 43, 60};
	for (size_t i = 0; i < sizeof(exts); i++) {
		lb = ipv6_pkt(b, 6, 1, 40000, 443);
		lb = ipv6_add_ext(b, lb, exts[i], 0);
		assert_int_equal(wire_flow_hash(b, lb), h);
		b[48 + 1] ^= 1;
		assert_int_not_equal(wire_flow_hash(b, lb), h);
	}
	/* Two stacked headers. */
	lb = ipv6_pkt(b, 6, 1, 40000, 443);
	lb = ipv6_add_ext(b, lb, 60, 0);
	lb = ipv6_add_ext(b, lb, 0, 0);
	assert_int_equal(wire_flow_hash(b, lb), h);

	/* First fragment keeps the ports, later ones hash without them. */
	lb = ipv6_pkt(b, 17, 1, 5000, 53);
	lb = ipv6_add_ext(b, lb, 44, 0x0001);
	assert_int_equal(wire_flow_hash(b, lb),
			 wire_flow_hash(a, ipv6_pkt(a, 17, 1, 5000, 53)));
	lb = ipv6_pkt(b, 17, 1, 5000, 53);
	lb = ipv6_add_ext(b, lb, 44, 0x0008);
	la = ipv6_pkt(a, 17, 1, 5001, 54);
	la = ipv6_add_ext(a, la, 44, 0x0010);
	assert_int_equal(wire_flow_hash(a, la), wire_flow_hash(b, lb));
}

static void test_flow_truncated(void **state)
{
	uint8_t a[128];
	uint8_t *heap;
	size_t la;

	(void)state;
	la = ipv6_pkt(a, 17, 1, 1, 2);
	la = ipv6_add_ext(a, la, 0, 0);
	la = ipv6_add_ext(a, la, 44, 0);
	a[41] = 30; /* a hop-by-hop header claiming 248 bytes */
	/* Each truncated copy is exactly-sized on the heap so ASan catches
	 * any read past len. */
	for (size_t l = 0; l <= la; l++) {
		heap = malloc(l ? l : 1);
		assert_non_null(heap);
		memcpy(heap, a, l);
		(void)wire_flow_hash(heap, l);
		free(heap);
	}
	for (size_t l = 0; l < 40; l++)
		assert_int_equal(wire_flow_hash(a, l), 0);
	la = ipv4_pkt(a, 6, 1, 2, 3, 4, 0);
	a[0] = 0x46;
	for (size_t l = 0; l <= la; l++) {
		heap = malloc(l ? l : 1);
		assert_non_null(heap);
		memcpy(heap, a, l);
		(void)wire_flow_hash(heap, l);
		free(heap);
	}
}

/* ---- key files ---- */

static char tmpdir[64];

static int setup_tmpdir(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/test_wire.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown_tmpdir(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void test_key_generate_load(void **state)
{
	char path[128];
	uint8_t k1[WIRE_KEY_LEN], k2[WIRE_KEY_LEN];
	struct err e = {{0}};
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/gen.key", tmpdir);
	assert_int_equal(wire_key_generate(path, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 45); /* 44 base64 chars + newline */
	assert_int_equal(wire_key_load(path, k1, &e), 0);
	/* Refuses to overwrite, and leaves the key as it was. */
	assert_int_equal(wire_key_generate(path, &e), -EEXIST);
	assert_non_null(strstr(e.msg, "exists"));
	assert_int_equal(wire_key_load(path, k2, &e), 0);
	assert_memory_equal(k1, k2, WIRE_KEY_LEN);
	/* Two generated keys differ. */
	snprintf(path, sizeof(path), "%s/gen2.key", tmpdir);
	assert_int_equal(wire_key_generate(path, &e), 0);
	assert_int_equal(wire_key_load(path, k2, &e), 0);
	assert_memory_not_equal(k1, k2, WIRE_KEY_LEN);
	/* Unwritable place: an error, not a crash. */
	snprintf(path, sizeof(path), "%s/nodir/x.key", tmpdir);
	assert_int_equal(wire_key_generate(path, &e), -ENOENT);
}

static void test_key_load_known(void **state)
{
	char path[128];
	uint8_t k[WIRE_KEY_LEN], want[WIRE_KEY_LEN];
	struct err e = {{0}};

	(void)state;
	for (int i = 0; i < WIRE_KEY_LEN; i++)
		want[i] = (uint8_t)i;
	snprintf(path, sizeof(path), "%s/known.key", tmpdir);
	/* base64 of bytes 0..31 */
	write_file(path, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
		   0600);
	assert_int_equal(wire_key_load(path, k, &e), 0);
	assert_memory_equal(k, want, WIRE_KEY_LEN);
	/* Without the newline too. */
	write_file(path, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 0600);
	assert_int_equal(wire_key_load(path, k, &e), 0);
	assert_memory_equal(k, want, WIRE_KEY_LEN);
}

static void test_key_load_bad(void **state)
{
	char path[128];
	uint8_t k[WIRE_KEY_LEN];
	struct err e = {{0}};
	static const char good[] =
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
	static const char *const bad[] = {
	    "",
	    "\n",
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n", /* no pad */
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n",
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=x\n",
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH!8=\n",
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\n",	  /* 30 bytes */
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==\n", /* 34 */
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8-\n",	  /* url */
	};

	(void)state;
	snprintf(path, sizeof(path), "%s/bad.key", tmpdir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(path, bad[i], 0600);
		e.msg[0] = 0;
		assert_int_equal(wire_key_load(path, k, &e), -EINVAL);
		assert_non_null(strstr(e.msg, path));
	}
	write_file(path, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\n", 0600);
	wire_key_load(path, k, &e);
	assert_non_null(strstr(e.msg, "expected 32"));

	/* Far too long. */
	char big[400];
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	write_file(path, big, 0600);
	assert_int_equal(wire_key_load(path, k, &e), -EINVAL);

	/* Readable by others: refused with the documented message. */
	write_file(path, good, 0644);
	assert_int_equal(wire_key_load(path, k, &e), -EPERM);
	assert_non_null(strstr(e.msg, "is readable by others (mode 0644); "
				      "chmod 600 it"));
	write_file(path, good, 0640);
	assert_int_equal(wire_key_load(path, k, &e), -EPERM);
	write_file(path, good, 0604);
	assert_int_equal(wire_key_load(path, k, &e), -EPERM);
	write_file(path, good, 0400);
	assert_int_equal(wire_key_load(path, k, &e), 0);
	assert_int_equal(chmod(path, 0600), 0);

	/* Missing file and a directory. */
	snprintf(path, sizeof(path), "%s/missing.key", tmpdir);
	assert_int_equal(wire_key_load(path, k, &e), -ENOENT);
	assert_non_null(strstr(e.msg, path));
	assert_int_equal(chmod(tmpdir, 0700), 0);
	assert_int_equal(wire_key_load(tmpdir, k, &e), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hdr_roundtrip),
	    cmocka_unit_test(test_hdr_truncated),
	    cmocka_unit_test(test_hdr_bad_fields),
	    cmocka_unit_test(test_overhead),
	    cmocka_unit_test(test_seal_roundtrip),
	    cmocka_unit_test(test_aes_gcm),
	    cmocka_unit_test(test_seal_to_modes),
	    cmocka_unit_test(test_cipher_choice),
	    cmocka_unit_test(test_seal_bad_args),
	    cmocka_unit_test(test_flipped_bits),
	    cmocka_unit_test(test_truncated_sealed),
	    cmocka_unit_test(test_wrong_key),
	    cmocka_unit_test(test_hdr_struct_bound),
	    cmocka_unit_test(test_wrong_mode_flag),
	    cmocka_unit_test(test_encrypt_hides_body),
	    cmocka_unit_test(test_directions_differ),
	    cmocka_unit_test(test_derive_inputs_matter),
	    cmocka_unit_test(test_data_codec),
	    cmocka_unit_test(test_feedback_codec),
	    cmocka_unit_test(test_feedback_bad),
	    cmocka_unit_test(test_nack_codec),
	    cmocka_unit_test(test_nack_bad),
	    cmocka_unit_test(test_retx_hdr),
	    cmocka_unit_test(test_key_id),
	    cmocka_unit_test(test_hello_unlinkable),
	    cmocka_unit_test(test_hello_roundtrip),
	    cmocka_unit_test(test_hello_long_name),
	    cmocka_unit_test(test_hello_bad),
	    cmocka_unit_test(test_ack_roundtrip),
	    cmocka_unit_test(test_ack_bad),
	    cmocka_unit_test(test_probe_roundtrip),
	    cmocka_unit_test(test_probe_reply_roundtrip),
	    cmocka_unit_test(test_flow_v4),
	    cmocka_unit_test(test_flow_v4_bad),
	    cmocka_unit_test(test_flow_v6),
	    cmocka_unit_test(test_flow_truncated),
	    cmocka_unit_test_setup_teardown(test_key_generate_load,
					    setup_tmpdir, teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_key_load_known, setup_tmpdir,
					    teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_key_load_bad, setup_tmpdir,
					    teardown_tmpdir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
