/*
 * AES-256-GCM through OpenSSL's libcrypto for the encrypt mode, optional
 * (TTT_AEAD=openssl). Why it exists: the AEAD was a third of all CPU at
 * full rate, and in a hot loop OpenSSL's stitched AES-NI/PCLMUL code seals
 * a 1400-byte packet in ~800 ns against libsodium's ~1100. Why it is off:
 * in the daemon it did not win (docs/architecture.md, "The cost per
 * byte"). The bytes are the same AES-256-GCM (RFC 5116): a packet sealed
 * here opens with libsodium and the other way round (tests/unit).
 *
 * An EVP context carries the expanded key and the GHASH tables, which are
 * costly to set up, so one is kept per key in a small direct-mapped cache,
 * found by the key bytes themselves: struct wire_keys is copied by value
 * (rekey keeps two epochs), so the cache must not depend on where a key
 * lives (two keys landing in one slot still work, each costing a key
 * set-up when it takes the slot back). wire_evp_forget() drops a key's
 * contexts when the key is wiped, so no expanded key outlives its wipe.
 * Single-threaded, like the daemon.
 */
#include "wire/wire.h"

#include <openssl/evp.h>
#include <string.h>

#define EVP_SLOTS 64 /* power of two; contexts are made on first use */

struct evp_ent {
	EVP_CIPHER_CTX *ctx;
	uint8_t key[WIRE_KEY_LEN];
};

static struct evp_ent evp_enc[EVP_SLOTS], evp_dec[EVP_SLOTS];
/* Off by default: faster in a hot loop (bench_wire), but measured in the
 * daemon it cost as much or more CPU per GB than libsodium (its EVP call
 * path is long and cold between packets; docs/architecture.md). On with
 * TTT_AEAD=openssl (wire_init). */
static int evp_on = 0;

void wire_evp_enable(int on)
{
	evp_on = on;
}

int wire_evp_enabled(void)
{
	return evp_on;
}

/* The context for key in table t (enc: encrypting), set up on a miss.
 * Session keys are uniformly random, so their first bytes index well. */
static EVP_CIPHER_CTX *evp_ctx(struct evp_ent *t, const uint8_t *key, int enc)
{
	struct evp_ent *e = &t[(key[0] | key[1] << 8) & (EVP_SLOTS - 1)];
	if (e->ctx && !memcmp(e->key, key, WIRE_KEY_LEN))
		return e->ctx;
	if (!e->ctx) {
		e->ctx = EVP_CIPHER_CTX_new();
		if (!e->ctx)
			return NULL;
	}
	int ok =
	    enc ? EVP_EncryptInit_ex(e->ctx, EVP_aes_256_gcm(), NULL, key, NULL)
		: EVP_DecryptInit_ex(e->ctx, EVP_aes_256_gcm(), NULL, key,
				     NULL);
	if (ok != 1) {
		EVP_CIPHER_CTX_free(e->ctx);
		e->ctx = NULL;
		return NULL;
	}
	memcpy(e->key, key, WIRE_KEY_LEN);
	return e->ctx;
}

int wire_evp_seal(const uint8_t *key, const uint8_t nonce[12],
		  const uint8_t *ad, size_t adlen, uint8_t *dst, size_t len1,
		  const uint8_t *src2, size_t len2, uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = evp_ctx(evp_enc, key, 1);
	int n;
	if (!c || EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &n, ad, (int)adlen) != 1 ||
	    (len1 && EVP_EncryptUpdate(c, dst, &n, dst, (int)len1) != 1) ||
	    (len2 &&
	     EVP_EncryptUpdate(c, dst + len1, &n, src2, (int)len2) != 1) ||
	    EVP_EncryptFinal_ex(c, dst + len1 + len2, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
		return -1;
	return 0;
}

int wire_evp_open(const uint8_t *key, const uint8_t nonce[12],
		  const uint8_t *ad, size_t adlen, uint8_t *buf, size_t len,
		  const uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = evp_ctx(evp_dec, key, 0);
	int n;
	if (!c || EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &n, ad, (int)adlen) != 1 ||
	    (len && EVP_DecryptUpdate(c, buf, &n, buf, (int)len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) !=
		1 ||
	    EVP_DecryptFinal_ex(c, buf + len, &n) != 1)
		return -1;
	return 0;
}

/* EVP_CIPHER_CTX_free cleanses the expanded key and the GHASH key. */
static void evp_drop(struct evp_ent *t, const uint8_t *key)
{
	struct evp_ent *e = &t[(key[0] | key[1] << 8) & (EVP_SLOTS - 1)];
	if (!e->ctx || memcmp(e->key, key, WIRE_KEY_LEN))
		return;
	EVP_CIPHER_CTX_free(e->ctx);
	e->ctx = NULL;
	sodium_memzero(e->key, sizeof(e->key));
}

void wire_evp_forget(const uint8_t *key)
{
	evp_drop(evp_enc, key);
	evp_drop(evp_dec, key);
}
