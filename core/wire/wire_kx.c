/*
 * The Diffie-Hellman half of the handshake: X25519 ephemeral key pairs
 * (one per handshake attempt and per rekey, wiped as soon as the keys are
 * derived) and the derivation that mixes the shared secret with the PSK
 * (first epoch) or with the chaining key of the previous epoch (rekeys).
 * Pure functions of their inputs, so both ends and the tests compute the
 * same keys; docs/security.md compares the construction with Noise IKpsk2.
 */
#include "wire/wire.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "wire/wire_be.h"

#define KDF_CTX "tttkeys2"
_Static_assert(sizeof(KDF_CTX) - 1 == crypto_kdf_CONTEXTBYTES,
	       "crypto_kdf context is 8 bytes");
_Static_assert(WIRE_CK_LEN == crypto_kdf_KEYBYTES, "ck is a crypto_kdf key");

void wire_eph_generate(struct wire_eph *e)
{
	(void)wire_init();
	crypto_box_keypair(e->pk, e->sk); /* X25519, clamped secret */
}

void wire_eph_wipe(struct wire_eph *e)
{
	sodium_memzero(e, sizeof(*e));
}

/*
 * master -> (c2s, s2c, ck). The keys land in k according to is_client;
 * master is wiped by the caller.
 */
static void kx_split(struct wire_keys *k, uint8_t ck[WIRE_CK_LEN],
		     const uint8_t master[crypto_kdf_KEYBYTES], int is_client)
{
	uint8_t c2s[WIRE_KEY_LEN], s2c[WIRE_KEY_LEN];

	crypto_kdf_derive_from_key(c2s, sizeof(c2s), 1, KDF_CTX, master);
	crypto_kdf_derive_from_key(s2c, sizeof(s2c), 2, KDF_CTX, master);
	crypto_kdf_derive_from_key(ck, WIRE_CK_LEN, 3, KDF_CTX, master);
	memcpy(k->tx, is_client ? c2s : s2c, WIRE_KEY_LEN);
	memcpy(k->rx, is_client ? s2c : c2s, WIRE_KEY_LEN);
	sodium_memzero(c2s, sizeof(c2s));
	sodium_memzero(s2c, sizeof(s2c));
}

/* The shared secret with the other side's ephemeral; -EBADMSG for a
 * low-order point, which would make dh a constant anyone knows. */
static int kx_dh(uint8_t dh[crypto_scalarmult_BYTES], const uint8_t *my_sk,
		 const uint8_t client_eph[WIRE_PUB_LEN],
		 const uint8_t server_eph[WIRE_PUB_LEN], int is_client)
{
	(void)wire_init();
	if (crypto_scalarmult(dh, my_sk, is_client ? server_eph : client_eph) !=
	    0) {
		sodium_memzero(dh, crypto_scalarmult_BYTES);
		return -EBADMSG;
	}
	return 0;
}

int wire_kx_session(struct wire_keys *k, uint8_t ck[WIRE_CK_LEN], int mode,
		    const uint8_t psk[WIRE_KEY_LEN], const uint8_t *my_sk,
		    const uint8_t client_eph[WIRE_PUB_LEN],
		    const uint8_t server_eph[WIRE_PUB_LEN], uint32_t session_id,
		    int is_client)
{
	static const char label[] = "tuntuntun v2 session";
	uint8_t dh[crypto_scalarmult_BYTES];
	uint8_t master[crypto_kdf_KEYBYTES];
	crypto_generichash_state st;
	uint8_t sid[4];
	int rc;

	rc = kx_dh(dh, my_sk, client_eph, server_eph, is_client);
	if (rc < 0)
		return rc;
	wire_put32(sid, session_id);
	crypto_generichash_init(&st, psk, WIRE_KEY_LEN, sizeof(master));
	crypto_generichash_update(&st, (const uint8_t *)label,
				  sizeof(label) - 1);
	crypto_generichash_update(&st, client_eph, WIRE_PUB_LEN);
	crypto_generichash_update(&st, server_eph, WIRE_PUB_LEN);
	crypto_generichash_update(&st, sid, sizeof(sid));
	crypto_generichash_update(&st, dh, sizeof(dh));
	crypto_generichash_final(&st, master, sizeof(master));

	k->mode = mode;
	k->cipher = WIRE_CIPHER_CHACHA20;
	k->epoch = 0;
	kx_split(k, ck, master, is_client);
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(master, sizeof(master));
	sodium_memzero(&st, sizeof(st));
	return 0;
}

int wire_kx_rekey(struct wire_keys *k, uint8_t ck[WIRE_CK_LEN],
		  const struct wire_keys *like, uint32_t epoch,
		  const uint8_t *my_sk, const uint8_t client_eph[WIRE_PUB_LEN],
		  const uint8_t server_eph[WIRE_PUB_LEN], int is_client)
{
	static const char label[] = "tuntuntun v2 rekey";
	uint8_t dh[crypto_scalarmult_BYTES];
	uint8_t master[crypto_kdf_KEYBYTES];
	crypto_generichash_state st;
	uint8_t ep[4];
	int mode = like->mode, cipher = like->cipher;
	int rc;

	rc = kx_dh(dh, my_sk, client_eph, server_eph, is_client);
	if (rc < 0)
		return rc;
	wire_put32(ep, epoch);
	crypto_generichash_init(&st, ck, WIRE_CK_LEN, sizeof(master));
	crypto_generichash_update(&st, (const uint8_t *)label,
				  sizeof(label) - 1);
	crypto_generichash_update(&st, ep, sizeof(ep));
	crypto_generichash_update(&st, client_eph, WIRE_PUB_LEN);
	crypto_generichash_update(&st, server_eph, WIRE_PUB_LEN);
	crypto_generichash_update(&st, dh, sizeof(dh));
	crypto_generichash_final(&st, master, sizeof(master));

	sodium_memzero(k, sizeof(*k));
	k->mode = mode;
	k->epoch = epoch;
	kx_split(k, ck, master, is_client); /* overwrites the old ck */
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(master, sizeof(master));
	sodium_memzero(&st, sizeof(st));
	rc = wire_keys_set_cipher(k, cipher);
	if (rc < 0)
		sodium_memzero(k, sizeof(*k));
	return rc;
}
