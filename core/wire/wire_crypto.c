/*
 * Session crypto of the wire format: ChaCha20-Poly1305 (IETF) or, where both
 * ends have hardware AES, AES-256-GCM seal/open of whole datagrams in place,
 * the PSK key id and the per-session key derivation. The header is always
 * authenticated because it carries the seq, which is the nonce, the replay
 * index and the reorder key: a forged seq must never reach the replay window or
 * the reorder buffer.
 */
#include "wire/wire.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "base/log.h"
#include "wire/wire_be.h"

static int wire_sodium_ready;

/*
 * libsodium works without sodium_init() (it falls back to the reference
 * implementations), so callers that forgot it stay correct; init only picks
 * the fast code paths and seeds the RNG early. Idempotent and cheap.
 */
int wire_init(void)
{
	if (wire_sodium_ready)
		return 0;
	if (sodium_init() < 0) {
		log_err("wire", "libsodium initialisation failed");
		return -EIO;
	}
	wire_sodium_ready = 1;
	return 0;
}

/* 4 zero bytes || 8-byte big-endian seq, exactly as RFC 8439 allows. */
static void wire_nonce(uint8_t n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES],
		       uint64_t seq)
{
	memset(n, 0, 4);
	wire_put64(n + 4, seq);
}

/* Sets the header flags and checks what wire_seal*() can seal: 0 if it
 * cannot, else 1. The flags are authenticated: they are final first. */
static int seal_prepare(const struct wire_keys *k, uint8_t *buf,
			size_t body_len)
{
	if (body_len > WIRE_MAX_PACKET - WIRE_HDR_LEN - WIRE_TAG_LEN)
		return 0;
	if (k->mode != CRYPTO_ENCRYPT && k->mode != CRYPTO_AUTH &&
	    k->mode != CRYPTO_NONE)
		return 0;
	if (!wire_sodium_ready)
		(void)wire_init();
	if (k->mode == CRYPTO_ENCRYPT)
		buf[3] |= WF_ENCRYPTED;
	else
		buf[3] &= (uint8_t)~WF_ENCRYPTED;
	if (k->epoch & 1)
		buf[3] |= WF_EPOCH;
	else
		buf[3] &= (uint8_t)~WF_EPOCH;
	return 1;
}

size_t wire_seal(const struct wire_keys *k, uint8_t *buf, size_t body_len)
{
	return wire_seal_to(k, buf, buf, body_len);
}

size_t wire_seal_to(const struct wire_keys *k, uint8_t *out, uint8_t *in,
		    size_t body_len)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	uint8_t *body = out + WIRE_HDR_LEN;
	const uint8_t *src = in + WIRE_HDR_LEN;

	if (!seal_prepare(k, in, body_len))
		return 0;
	wire_nonce(nonce, wire_get64(in + 8));
	if (out != in)
		memcpy(out, in, WIRE_HDR_LEN);
	if (k->mode != CRYPTO_ENCRYPT) {
		/* nothing to encrypt: the body goes as it is */
		if (out != in)
			memcpy(body, src, body_len);
		if (k->mode == CRYPTO_NONE)
			return WIRE_HDR_LEN + body_len;
	}

	/* auth mode: an empty message, the body is only additional data.
	 * Encrypt: the cipher reads the body from in and writes it to out,
	 * the one pass over the bytes that a copy would otherwise be. */
	size_t mlen = k->mode == CRYPTO_ENCRYPT ? body_len : 0;
	size_t adlen = WIRE_HDR_LEN + body_len - mlen;
	if (k->cipher == WIRE_CIPHER_AES256GCM)
		crypto_aead_aes256gcm_encrypt_detached_afternm(
		    body, body + body_len, NULL, src, mlen, out, adlen, NULL,
		    nonce, &k->tx_aes);
	else
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		    body, body + body_len, NULL, src, mlen, out, adlen, NULL,
		    nonce, k->tx);
	return WIRE_HDR_LEN + body_len + WIRE_TAG_LEN;
}

/*
 * The nonce is built from h->seq while the header bytes in buf are the
 * additional data, so a caller-side h that does not match buf fails
 * authentication instead of steering the replay window.
 */
int wire_open(const struct wire_keys *k, uint8_t *buf, size_t len,
	      const struct wire_hdr *h, uint8_t **body, size_t *body_len)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	int encrypted = (h->flags & WF_ENCRYPTED) != 0;
	uint8_t *b = buf + WIRE_HDR_LEN;
	size_t blen;
	int rc;

	if (len < WIRE_HDR_LEN || len > WIRE_MAX_PACKET)
		return -EBADMSG;
	if (encrypted != (k->mode == CRYPTO_ENCRYPT))
		return -EBADMSG;
	if (((h->flags & WF_EPOCH) != 0) != ((k->epoch & 1) != 0))
		return -EBADMSG; /* sealed under the other key epoch */
	if (k->mode == CRYPTO_NONE) {
		*body = b;
		*body_len = len - WIRE_HDR_LEN;
		return 0;
	}
	if (k->mode != CRYPTO_AUTH && k->mode != CRYPTO_ENCRYPT)
		return -EBADMSG;
	if (len < WIRE_HDR_LEN + WIRE_TAG_LEN)
		return -EBADMSG;
	if (!wire_sodium_ready)
		(void)wire_init();

	blen = len - WIRE_HDR_LEN - WIRE_TAG_LEN;
	wire_nonce(nonce, h->seq);
	size_t mlen = encrypted ? blen : 0;
	size_t adlen = WIRE_HDR_LEN + blen - mlen;
	uint8_t *m = encrypted ? b : NULL;
	if (k->cipher == WIRE_CIPHER_AES256GCM)
		rc = crypto_aead_aes256gcm_decrypt_detached_afternm(
		    m, NULL, b, mlen, b + blen, buf, adlen, nonce, &k->rx_aes);
	else
		rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		    m, NULL, b, mlen, b + blen, buf, adlen, nonce, k->rx);
	if (rc != 0)
		return -EBADMSG;
	*body = b;
	*body_len = blen;
	return 0;
}

/*
 * libsodium's BLAKE2b refuses outputs shorter than 16 bytes, so the key id
 * is the first 8 bytes of the keyed BLAKE2b-128 of a fixed label. It only
 * names a key; it never authenticates anything.
 */
void wire_key_id(const uint8_t psk[WIRE_KEY_LEN], uint8_t id[WIRE_KEYID_LEN])
{
	static const char label[] = "tuntuntun key id";
	uint8_t out[crypto_generichash_BYTES_MIN];

	crypto_generichash(out, sizeof(out), (const uint8_t *)label,
			   sizeof(label) - 1, psk, WIRE_KEY_LEN);
	memcpy(id, out, WIRE_KEYID_LEN);
	sodium_memzero(out, sizeof(out));
}

/*
 * Both randoms and the session id go in, so every session (and every
 * retried handshake) gets fresh keys and seq numbers may restart at 0
 * without ever reusing a nonce under the same key.
 */
void wire_derive_keys(struct wire_keys *k, int mode,
		      const uint8_t psk[WIRE_KEY_LEN],
		      const uint8_t client_random[WIRE_RANDOM_LEN],
		      const uint8_t server_random[WIRE_RANDOM_LEN],
		      uint32_t session_id, int is_client)
{
	static const char label[] = "tuntuntun v1 session keys";
	crypto_generichash_state st;
	uint8_t out[2 * WIRE_KEY_LEN];
	uint8_t sid[4];

	if (!wire_sodium_ready)
		(void)wire_init();
	wire_put32(sid, session_id);
	crypto_generichash_init(&st, psk, WIRE_KEY_LEN, sizeof(out));
	crypto_generichash_update(&st, (const uint8_t *)label,
				  sizeof(label) - 1);
	crypto_generichash_update(&st, client_random, WIRE_RANDOM_LEN);
	crypto_generichash_update(&st, server_random, WIRE_RANDOM_LEN);
	crypto_generichash_update(&st, sid, sizeof(sid));
	crypto_generichash_final(&st, out, sizeof(out));

	k->mode = mode;
	k->cipher = WIRE_CIPHER_CHACHA20;
	k->epoch = 0;
	memcpy(is_client ? k->tx : k->rx, out, WIRE_KEY_LEN);
	memcpy(is_client ? k->rx : k->tx, out + WIRE_KEY_LEN, WIRE_KEY_LEN);
	sodium_memzero(out, sizeof(out));
	sodium_memzero(&st, sizeof(st));
}

uint8_t wire_ciphers_local(void)
{
	if (!wire_sodium_ready)
		(void)wire_init();
	return WIRE_CIPHERS_CHACHA20 |
	       (crypto_aead_aes256gcm_is_available() ? WIRE_CIPHERS_AES256GCM
						     : 0);
}

int wire_cipher_choose(uint8_t offered)
{
	return (offered & wire_ciphers_local() & WIRE_CIPHERS_AES256GCM)
		   ? WIRE_CIPHER_AES256GCM
		   : WIRE_CIPHER_CHACHA20;
}

const char *wire_cipher_name(int cipher)
{
	return cipher == WIRE_CIPHER_AES256GCM ? "aes-256-gcm"
					       : "chacha20-poly1305";
}

/* The AES key schedule is expanded once per session, not per packet. */
int wire_keys_set_cipher(struct wire_keys *k, int cipher)
{
	if (cipher == WIRE_CIPHER_CHACHA20) {
		k->cipher = cipher;
		return 0;
	}
	if (cipher != WIRE_CIPHER_AES256GCM ||
	    !(wire_ciphers_local() & WIRE_CIPHERS_AES256GCM))
		return -ENOTSUP;
	crypto_aead_aes256gcm_beforenm(&k->tx_aes, k->tx);
	crypto_aead_aes256gcm_beforenm(&k->rx_aes, k->rx);
	k->cipher = cipher;
	return 0;
}
