/*
 * In-session rekeying: a fresh X25519 exchange inside the session every
 * `rekey.interval` (or after `rekey.bytes` / `rekey.packets`), so one key
 * never protects much traffic and a key taken from memory opens only its
 * own epoch. The data never pauses:
 *
 *   client (initiator)                         server (responder)
 *   REKEY(epoch e+1, client_eph)  ---------->  derives epoch e+1 into `alt`
 *     sealed under epoch e                     (rx and tx), keeps sending
 *                                              under e
 *                                 <----------  REKEY_ACK(e+1, client_eph,
 *                                              server_eph), sealed under e
 *   derives e+1, sends under e+1 at once
 *   (the server already holds it); keeps
 *   e's rx keys for REKEY_GRACE_NS
 *   next packet (a probe at once)  --------->  first packet that opens under
 *                                              e+1 confirms it: the server
 *                                              sends under e+1, keeps e's
 *                                              rx keys for the grace time
 *
 * Which keys sealed a packet is the parity of its epoch, carried in the
 * header's WF_EPOCH bit, so exactly two key sets are live: `cur` (what we
 * send with, and its rx) and `alt` (the previous epoch's rx during the
 * grace time, or on the server the next epoch until the client confirms).
 * Sequence numbers run on across epochs, so the replay window and the
 * reorder buffer never notice a rekey; every (key, nonce) pair is still
 * used once because each epoch has new keys. Old keys are wiped
 * (sodium_memzero) when the grace time ends or when the slot is needed by
 * the next rekey, whichever comes first (a packet delayed past that is
 * lost, as it would be past the replay window).
 *
 * Only the client starts rekeys (time, bytes and packets of both
 * directions, which it sees all of); the server answers. The module is
 * pure: the caller passes the clock and sends the bodies.
 */
#ifndef TTT_REKEY_H
#define TTT_REKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

#define REKEY_BODY_LEN	   (4 + WIRE_PUB_LEN)	  /* epoch, client_eph */
#define REKEY_ACK_BODY_LEN (4 + 2 * WIRE_PUB_LEN) /* + server_eph */
/* How long the previous epoch's receive keys stay valid after a switch. */
#define REKEY_GRACE_NS (2ull * 1000000000ull)
/* An unanswered REKEY is sent again after this long. */
#define REKEY_RETRY_NS (1ull * 1000000000ull)
/* Never two rekeys closer than this (keeps `alt` free for the grace). */
#define REKEY_MIN_NS (1ull * 1000000000ull)
/*
 * The server's hard limits (WireGuard's REJECT_AFTER_*): keys older than
 * the longest `rekey.interval` a client may configure (24 h) plus a margin,
 * or used for more than 2^32 packets, are never used again; the session
 * ends and the client must handshake anew. Only a client that does not
 * rekey as it should ever meets them.
 */
#define REKEY_REJECT_NS	     ((86400ull + 600ull) * 1000000000ull)
#define REKEY_REJECT_PACKETS (1ull << 32)

/* When the client starts a rekey; 0 turns a limit off. */
struct rekey_limits {
	uint64_t interval_ns; /* epoch age */
	uint64_t bytes;	      /* bytes sent + received in the epoch */
	uint64_t packets;     /* packets sent + received in the epoch */
};

struct wire_rekey {
	struct wire_keys alt; /* the other epoch's keys (see above) */
	bool alt_valid;
	bool alt_is_next;	 /* server: alt is epoch cur+1, unconfirmed */
	uint64_t alt_expire_ns;	 /* previous epoch: wiped at this time */
	uint8_t ck[WIRE_CK_LEN]; /* chaining key of the current epoch */
	uint8_t next_ck[WIRE_CK_LEN]; /* server: chaining key of alt (next) */
	/* client: the REKEY in flight */
	bool pending;
	struct wire_eph eph;
	uint64_t sent_ns;
	/* server: the last REKEY answered, so a retransmission gets the same
	 * answer (the same keys) instead of a second exchange */
	uint8_t ack_body[REKEY_ACK_BODY_LEN];
	bool have_ack;
	/* what the current epoch started from */
	uint64_t epoch_start_ns, epoch_bytes0, epoch_packets0;
	uint64_t rekeys; /* epochs switched to since the handshake */
};

/* After the handshake: epoch 0 keys are in cur, ck from wire_kx_session.
 * bytes/packets are the session's running totals now (both directions). */
void rekey_init(struct wire_rekey *rk, const uint8_t ck[WIRE_CK_LEN],
		uint64_t now, uint64_t bytes, uint64_t packets);
/* Wipes everything (session end). */
void rekey_wipe(struct wire_rekey *rk);

/* The keys that can open a packet with these header flags, or NULL (the
 * epoch it names has no live keys). */
struct wire_keys *rekey_rx_keys(struct wire_keys *cur, struct wire_rekey *rk,
				uint8_t flags);
/*
 * After `k` (from rekey_rx_keys) opened a packet: on the server, the first
 * packet under the next epoch confirms it and makes it current. Returns 1
 * on such a switch, else 0.
 */
int rekey_opened(struct wire_keys *cur, struct wire_rekey *rk,
		 const struct wire_keys *k, uint64_t now);
/* Wipes the previous epoch's keys once their grace time is over. */
void rekey_tick(struct wire_rekey *rk, uint64_t now);
/* Restarts the epoch's byte and packet count (the server, at a switch). */
void rekey_count_from(struct wire_rekey *rk, uint64_t bytes, uint64_t packets);
/* Whether the current keys are past the hard limits above. */
bool rekey_expired(const struct wire_rekey *rk, uint64_t now, uint64_t packets);

/* Client: whether a REKEY should be sent now (a new one is due, or the
 * pending one is due for a retransmission). */
bool rekey_due(const struct wire_keys *cur, const struct wire_rekey *rk,
	       const struct rekey_limits *lim, uint64_t now, uint64_t bytes,
	       uint64_t packets);
/* Client: starts (or repeats) the REKEY for epoch cur+1 and writes its
 * body (REKEY_BODY_LEN). */
size_t rekey_request(const struct wire_keys *cur, struct wire_rekey *rk,
		     uint64_t now, uint8_t body[REKEY_BODY_LEN]);
/*
 * Server: a REKEY body that opened under the current keys. Derives the next
 * epoch into alt (or keeps it, for a retransmission) and writes the
 * REKEY_ACK body. Returns 0, -EBADMSG (malformed, wrong epoch, low-order
 * key) or -EALREADY (late copy of a REKEY already switched to: no answer).
 */
int rekey_on_request(struct wire_keys *cur, struct wire_rekey *rk,
		     const uint8_t *body, size_t len,
		     uint8_t ack[REKEY_ACK_BODY_LEN]);
/*
 * Client: a REKEY_ACK body. On a match with the pending request, derives
 * the next epoch, makes it current (the old one stays for receiving during
 * the grace time) and returns 1; a stale or duplicate answer returns 0;
 * malformed or a low-order key: -EBADMSG.
 */
int rekey_on_ack(struct wire_keys *cur, struct wire_rekey *rk,
		 const uint8_t *body, size_t len, uint64_t now, uint64_t bytes,
		 uint64_t packets);

#endif
