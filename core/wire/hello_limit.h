/*
 * Per-source HELLO budget for the server. Before a HELLO's MAC checks out
 * the server keeps no state, so this table is the only thing standing
 * between one noisy or hostile source and a MAC check per datagram. It is
 * a fixed array allocated once: a flood costs a keyed hash and a compare
 * per datagram and never grows memory. The clock is passed in (now_ns,
 * monotonic) so the module is deterministic under test.
 *
 * What counts as one source:
 *   - IPv4, and IPv4-mapped IPv6 (::ffff:a.b.c.d on a dual-stack listener):
 *     the 32-bit address;
 *   - other IPv6: the /64 prefix, since every home gets a /64 and anyone
 *     holding one could otherwise mint 2^64 fresh "sources" (WireGuard's
 *     ratelimiter does the same);
 *   - the family is part of the key, so 1.2.3.4 and 102:304:: differ.
 * The slot is chosen by a keyed hash (SipHash, random key per server), so
 * nobody outside can pick addresses that collide with someone else's.
 *
 * Budget: HELLO_LIMIT_BURST HELLOs at once, then HELLO_LIMIT_PER_S per
 * second, refilled in whole milliseconds. A client sends one HELLO per link
 * per second while it has no session, so a dozen clients behind one NAT
 * address (or one /64) stay far below it.
 *
 * Fairness, and its limit (read this before relying on it):
 *   - Sources in different slots never affect each other.
 *   - A source that holds its slot is never refused because of another
 *     source; only its own budget limits it.
 *   - A slot changes hands only when its holder's bucket is full again,
 *     i.e. it took no HELLO for (BURST - tokens left) / PER_S seconds:
 *     50 ms after a single HELLO, at most BURST / PER_S = 2 s after a
 *     burst. So a source is refused for another's sake (-EBUSY) only if a
 *     different source mapped to the same slot took a HELLO within the
 *     last 2 s (50 ms if each of those sources sent just one).
 *   - Nothing more can be promised against forged source addresses. The
 *     flooder cannot aim at a slot, but spraying R HELLOs/s from fresh
 *     addresses keeps any given slot busy, and so refuses each attempt of
 *     a newcomer, with probability about 1 - exp(-R / (SLOTS * PER_S)) =
 *     1 - exp(-R / 5120): ~18% at 1000/s, ~63% at 5120/s, practically
 *     every attempt above ~25000/s. A client retrying once per second per
 *     link rides out a moderate flood within a few tries and is locked out
 *     for as long as a large one lasts. Established sessions are untouched
 *     (HELLOs are only sent while a link has no session).
 */
#ifndef TTT_HELLO_LIMIT_H
#define TTT_HELLO_LIMIT_H

#include <stdint.h>
#include <sys/socket.h>

#define HELLO_LIMIT_SLOTS    256
#define HELLO_LIMIT_BURST    40
#define HELLO_LIMIT_PER_S    20
#define HELLO_LIMIT_KEYBYTES 16 /* crypto_shorthash_KEYBYTES */

struct hello_limiter;

/*
 * A zeroed table. `key` (HELLO_LIMIT_KEYBYTES) seeds the slot hash; NULL
 * draws a random one, which is what the server must use (a known key lets
 * anyone compute collisions; tests pass a fixed one to be reproducible).
 * NULL when out of memory. Free with hello_limit_free().
 */
struct hello_limiter *hello_limit_new(const uint8_t *key);
void hello_limit_free(struct hello_limiter *rl);

/*
 * Takes one HELLO token for `from` at `now_ns` (monotonic; a clock that
 * steps back refills nothing until it passes the last reading again). Returns 0
 * when the HELLO may be processed, -EAGAIN when this source spent its budget,
 * -EBUSY when its slot is held by another source that is still busy (see the
 * fairness notes above).
 */
int hello_limit_take(struct hello_limiter *rl,
		     const struct sockaddr_storage *from, uint64_t now_ns);

/* Which slot `from` maps to, in [0, HELLO_LIMIT_SLOTS): lets tests build
 * colliding and non-colliding sources. */
unsigned hello_limit_slot(const struct hello_limiter *rl,
			  const struct sockaddr_storage *from);

/* Slots currently holding a source (never more than HELLO_LIMIT_SLOTS). */
unsigned hello_limit_used(const struct hello_limiter *rl);

#endif
