/*
 * Per-source HELLO token buckets in a fixed, direct-mapped table (see
 * hello_limit.h for what a source is and what the table can and cannot
 * promise). Taken out of server.c so the rules can be unit-tested with a
 * clock that the test drives.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "wire/hello_limit.h"

_Static_assert(HELLO_LIMIT_KEYBYTES == crypto_shorthash_KEYBYTES,
	       "hello_limit key size must match crypto_shorthash");

#define NS_PER_MS 1000000ull
/* Tokens are kept in thousandths so a whole millisecond refills PER_S. */
#define MILLI 1000u
#define FULL  ((uint32_t)HELLO_LIMIT_BURST * MILLI)

struct hello_slot {
	uint64_t key;	   /* keyed hash of the source, 0 = free */
	uint64_t last_ns;  /* time the tokens below were counted at */
	uint32_t tokens_m; /* tokens x 1000 */
};

struct hello_limiter {
	uint8_t hkey[HELLO_LIMIT_KEYBYTES];
	struct hello_slot slot[HELLO_LIMIT_SLOTS];
};

struct hello_limiter *hello_limit_new(const uint8_t *key)
{
	struct hello_limiter *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	if (key)
		memcpy(rl->hkey, key, sizeof(rl->hkey));
	else
		randombytes_buf(rl->hkey, sizeof(rl->hkey));
	return rl;
}

void hello_limit_free(struct hello_limiter *rl)
{
	if (rl)
		sodium_memzero(rl->hkey, sizeof(rl->hkey));
	free(rl);
}

/* The source identity (family tag + address bits that make a "source"),
 * hashed with the table's key; never 0, which marks a free slot. */
static uint64_t source_key(const struct hello_limiter *rl,
			   const struct sockaddr_storage *from)
{
	uint8_t in[1 + 8], h[crypto_shorthash_BYTES];
	size_t n = 1;
	uint64_t k;

	in[0] = 0;
	if (from->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)from;
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
			in[0] = 4;
			memcpy(in + 1, &a->sin6_addr.s6_addr[12], 4);
			n += 4;
		} else {
			in[0] = 6;
			memcpy(in + 1, &a->sin6_addr, 8); /* the /64 */
			n += 8;
		}
	} else if (from->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)from;
		in[0] = 4;
		memcpy(in + 1, &a->sin_addr, 4);
		n += 4;
	}
	crypto_shorthash(h, in, n, rl->hkey);
	memcpy(&k, h, sizeof(k));
	return k ? k : 1;
}

unsigned hello_limit_slot(const struct hello_limiter *rl,
			  const struct sockaddr_storage *from)
{
	return (unsigned)(source_key(rl, from) % HELLO_LIMIT_SLOTS);
}

unsigned hello_limit_used(const struct hello_limiter *rl)
{
	unsigned n = 0;
	for (unsigned i = 0; i < HELLO_LIMIT_SLOTS; i++)
		n += rl->slot[i].key != 0;
	return n;
}

/* Whole milliseconds from `since` to `now`; 0 if the clock stepped back. */
static uint64_t elapsed_ms(uint64_t since, uint64_t now)
{
	return now > since ? (now - since) / NS_PER_MS : 0;
}

/* A slot changes hands only once its holder is full again, so a busy
 * source keeps its budget and the table never needs to grow; the price is
 * the collision case documented in the header. */
int hello_limit_take(struct hello_limiter *rl,
		     const struct sockaddr_storage *from, uint64_t now_ns)
{
	uint64_t k = source_key(rl, from);
	struct hello_slot *sl = &rl->slot[k % HELLO_LIMIT_SLOTS];

	if (sl->key != k) {
		uint64_t refill =
		    elapsed_ms(sl->last_ns, now_ns) * HELLO_LIMIT_PER_S;
		if (sl->key && sl->tokens_m + refill < FULL)
			return -EBUSY;
		sl->key = k;
		sl->tokens_m = FULL;
		sl->last_ns = now_ns;
	}
	uint64_t ms = elapsed_ms(sl->last_ns, now_ns);
	if (ms) {
		uint64_t t = sl->tokens_m + ms * HELLO_LIMIT_PER_S;
		/* Keep the sub-millisecond remainder so a steady sender is
		 * refilled exactly; a full bucket banks nothing. */
		sl->last_ns = t >= FULL ? now_ns : sl->last_ns + ms * NS_PER_MS;
		sl->tokens_m = t > FULL ? FULL : (uint32_t)t;
	}
	if (sl->tokens_m < MILLI)
		return -EAGAIN;
	sl->tokens_m -= MILLI;
	return 0;
}
