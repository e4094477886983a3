/*
 * HELLO cookies (see cookie.h for the protocol and what it buys). The
 * source address is reduced to family, address and port exactly, without
 * the /64 grouping of hello_limit.c: a cookie proves that one address and
 * port receives, nothing wider.
 */
#include "wire/cookie.h"

#include <netinet/in.h>
#include <sodium.h>
#include <string.h>

#define NS_PER_S 1000000000ull

void cookie_jar_init(struct cookie_jar *cj, const uint8_t *seed,
		     uint32_t load_per_s, uint64_t now)
{
	memset(cj, 0, sizeof(*cj));
	(void)wire_init();
	if (seed) {
		memcpy(cj->secret[0], seed, COOKIE_SECRET_LEN);
		crypto_generichash(cj->secret[1], COOKIE_SECRET_LEN, seed,
				   COOKIE_SECRET_LEN, NULL, 0);
	} else {
		randombytes_buf(cj->secret, sizeof(cj->secret));
	}
	cj->cur = 0;
	cj->born_ns = now;
	cj->win_start_ns = now;
	cj->load_per_s = load_per_s ? load_per_s : HELLO_LOAD_PER_S;
	cj->started = true;
}

void cookie_jar_wipe(struct cookie_jar *cj)
{
	sodium_memzero(cj, sizeof(*cj));
}

bool cookie_under_load(struct cookie_jar *cj, uint64_t now)
{
	if (now - cj->win_start_ns >= NS_PER_S) {
		/* a silent second in between resets the history */
		cj->last_count =
		    now - cj->win_start_ns >= 2 * NS_PER_S ? 0 : cj->win_count;
		cj->win_count = 0;
		cj->win_start_ns = now;
	}
	if (cj->win_count < UINT32_MAX)
		cj->win_count++;
	return cj->win_count > cj->load_per_s ||
	       cj->last_count > cj->load_per_s;
}

/* A new secret every COOKIE_SECRET_NS; the one before stays valid. */
static void cookie_rotate(struct cookie_jar *cj, uint64_t now)
{
	if (now - cj->born_ns < COOKIE_SECRET_NS)
		return;
	cj->cur ^= 1;
	/* Two periods of silence: the old "previous" is older than that. */
	if (now - cj->born_ns >= 2 * COOKIE_SECRET_NS)
		randombytes_buf(cj->secret[cj->cur ^ 1], COOKIE_SECRET_LEN);
	randombytes_buf(cj->secret[cj->cur], COOKIE_SECRET_LEN);
	cj->born_ns = now;
}

static void cookie_of(const uint8_t secret[COOKIE_SECRET_LEN],
		      const struct sockaddr_storage *from,
		      uint8_t out[WIRE_COOKIE_LEN])
{
	uint8_t in[1 + 16 + 2];
	size_t n = 1;

	memset(in, 0, sizeof(in));
	if (from->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)from;
		in[0] = 6;
		memcpy(in + 1, &a->sin6_addr, 16);
		memcpy(in + 17, &a->sin6_port, 2);
		n = sizeof(in);
	} else if (from->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)from;
		in[0] = 4;
		memcpy(in + 1, &a->sin_addr, 4);
		memcpy(in + 5, &a->sin_port, 2);
		n = 7;
	}
	crypto_generichash(out, WIRE_COOKIE_LEN, in, n, secret,
			   COOKIE_SECRET_LEN);
}

void cookie_make(struct cookie_jar *cj, const struct sockaddr_storage *from,
		 uint64_t now, uint8_t out[WIRE_COOKIE_LEN])
{
	cookie_rotate(cj, now);
	cookie_of(cj->secret[cj->cur], from, out);
}

bool cookie_check_hello(struct cookie_jar *cj, const uint8_t *buf,
			const struct sockaddr_storage *from, uint64_t now)
{
	uint8_t cookie[WIRE_COOKIE_LEN], mac[WIRE_HELLO_MAC_LEN];
	bool ok = false;

	cookie_rotate(cj, now);
	for (int i = 0; i < 2 && !ok; i++) {
		cookie_of(cj->secret[cj->cur ^ i], from, cookie);
		crypto_generichash(mac, sizeof(mac), buf,
				   wire_hello_mac2_span(), cookie,
				   sizeof(cookie));
		ok = crypto_verify_16(mac, wire_hello_mac2(buf)) == 0;
	}
	sodium_memzero(cookie, sizeof(cookie));
	return ok;
}
