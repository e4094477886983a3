/*
 * Cookies for HELLOs under load (WireGuard's mac2 idea). While the server
 * sees more HELLOs than HELLO_LOAD_PER_S, a HELLO is served only if its
 * mac2 is right:
 *
 *   cookie = BLAKE2b-128(key = secret, family || address || port)
 *   mac2   = BLAKE2b-128(key = cookie, HELLO bytes 0..143, mac1 included)
 *
 * A HELLO without a good mac2 is answered with a COOKIE message (48 bytes,
 * smaller than the 160-byte HELLO: no amplification) carrying the cookie
 * of its source address, and costs nothing more: no key look-up, no MAC
 * check, no Diffie-Hellman. Only a sender that receives at its address
 * learns its cookie, so a flood from forged addresses never gets past this
 * check, while a real client pays one round trip and is then served from a
 * budget that forged sources cannot touch (server.c keeps a second
 * per-source limiter for cookie-proven HELLOs).
 *
 * The secret is random, never leaves the server and is replaced every
 * COOKIE_SECRET_NS; the previous one is still accepted, so a cookie works
 * for at least COOKIE_SECRET_NS and at most twice that. A client uses a
 * cookie for COOKIE_CLIENT_TTL_NS after receiving it.
 *
 * Pure: the clock is passed in, and tests can fix the secrets.
 */
#ifndef TTT_COOKIE_H
#define TTT_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wire/wire.h"

#define COOKIE_SECRET_NS     (120ull * 1000000000ull)
#define COOKIE_CLIENT_TTL_NS (110ull * 1000000000ull)
/* HELLOs per second (all sources together) above which cookies are asked. */
#define HELLO_LOAD_PER_S  100
#define COOKIE_SECRET_LEN 32

struct cookie_jar {
	uint8_t secret[2][COOKIE_SECRET_LEN]; /* [cur], [cur ^ 1] previous */
	int cur;
	uint64_t born_ns; /* when secret[cur] was drawn */
	/* load meter: HELLOs counted in the current and the last second */
	uint64_t win_start_ns;
	uint32_t win_count, last_count;
	uint32_t load_per_s; /* threshold (HELLO_LOAD_PER_S unless a test) */
	bool started;
};

/* seed NULL: random secrets (the server); a test passes 32 fixed bytes. */
void cookie_jar_init(struct cookie_jar *cj, const uint8_t *seed,
		     uint32_t load_per_s, uint64_t now);
void cookie_jar_wipe(struct cookie_jar *cj);
/* Counts one HELLO at `now`; true while the rate of this or the previous
 * whole second is above the threshold. */
bool cookie_under_load(struct cookie_jar *cj, uint64_t now);
/* The cookie of `from` under the current secret (rotating it when due). */
void cookie_make(struct cookie_jar *cj, const struct sockaddr_storage *from,
		 uint64_t now, uint8_t out[WIRE_COOKIE_LEN]);
/* Whether the HELLO in buf (length-checked by wire_hello_check) carries a
 * mac2 made with the cookie of `from` under the current or previous
 * secret. */
bool cookie_check_hello(struct cookie_jar *cj, const uint8_t *buf,
			const struct sockaddr_storage *from, uint64_t now);

#endif
