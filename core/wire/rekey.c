/*
 * Rekeying state machine (the protocol is drawn in rekey.h). Everything
 * secret that leaves use is wiped on the spot: the ephemeral secret right
 * after the derivation, an old epoch's transmit key at the switch, its
 * receive key at the end of the grace time, a chaining key once the next
 * one exists.
 */
#include "wire/rekey.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "wire/wire_be.h"

void rekey_init(struct wire_rekey *rk, const uint8_t ck[WIRE_CK_LEN],
		uint64_t now, uint64_t bytes, uint64_t packets)
{
	rekey_wipe(rk);
	memcpy(rk->ck, ck, WIRE_CK_LEN);
	rk->epoch_start_ns = now;
	rk->epoch_bytes0 = bytes;
	rk->epoch_packets0 = packets;
}

void rekey_wipe(struct wire_rekey *rk)
{
	sodium_memzero(rk, sizeof(*rk));
}

static void alt_drop(struct wire_rekey *rk)
{
	sodium_memzero(&rk->alt, sizeof(rk->alt));
	sodium_memzero(rk->next_ck, sizeof(rk->next_ck));
	rk->alt_valid = false;
	rk->alt_is_next = false;
	rk->alt_expire_ns = 0;
}

/* cur becomes the previous epoch (receive only, for the grace time) and
 * `next` the current one. */
static void switch_to(struct wire_keys *cur, struct wire_rekey *rk,
		      const struct wire_keys *next, uint64_t now)
{
	struct wire_keys old = *cur;

	*cur = *next;
	alt_drop(rk);
	sodium_memzero(old.tx, sizeof(old.tx));
	sodium_memzero(&old.tx_aes, sizeof(old.tx_aes));
	rk->alt = old;
	rk->alt_valid = true;
	rk->alt_expire_ns = now + REKEY_GRACE_NS;
	sodium_memzero(&old, sizeof(old));
	rk->epoch_start_ns = now;
	rk->rekeys++;
}

struct wire_keys *rekey_rx_keys(struct wire_keys *cur, struct wire_rekey *rk,
				uint8_t flags)
{
	unsigned parity = (flags & WF_EPOCH) ? 1 : 0;

	if ((cur->epoch & 1) == parity)
		return cur;
	if (rk->alt_valid && (rk->alt.epoch & 1) == parity)
		return &rk->alt;
	return NULL;
}

int rekey_opened(struct wire_keys *cur, struct wire_rekey *rk,
		 const struct wire_keys *k, uint64_t now)
{
	if (k != &rk->alt || !rk->alt_is_next)
		return 0;
	struct wire_keys next = rk->alt;

	memcpy(rk->ck, rk->next_ck, WIRE_CK_LEN);
	switch_to(cur, rk, &next, now);
	sodium_memzero(&next, sizeof(next));
	return 1;
}

void rekey_tick(struct wire_rekey *rk, uint64_t now)
{
	if (rk->alt_valid && !rk->alt_is_next && now >= rk->alt_expire_ns)
		alt_drop(rk);
}

void rekey_count_from(struct wire_rekey *rk, uint64_t bytes, uint64_t packets)
{
	rk->epoch_bytes0 = bytes;
	rk->epoch_packets0 = packets;
}

bool rekey_expired(const struct wire_rekey *rk, uint64_t now, uint64_t packets)
{
	return now - rk->epoch_start_ns >= REKEY_REJECT_NS ||
	       packets - rk->epoch_packets0 >= REKEY_REJECT_PACKETS;
}

bool rekey_due(const struct wire_keys *cur, const struct wire_rekey *rk,
	       const struct rekey_limits *lim, uint64_t now, uint64_t bytes,
	       uint64_t packets)
{
	if (cur->mode == CRYPTO_NONE)
		return false; /* nothing to protect, nothing authenticated */
	if (rk->pending)
		return now - rk->sent_ns >= REKEY_RETRY_NS;
	uint64_t age = now - rk->epoch_start_ns;
	if (age < REKEY_MIN_NS)
		return false;
	return (lim->interval_ns && age >= lim->interval_ns) ||
	       (lim->bytes && bytes - rk->epoch_bytes0 >= lim->bytes) ||
	       (lim->packets && packets - rk->epoch_packets0 >= lim->packets);
}

size_t rekey_request(const struct wire_keys *cur, struct wire_rekey *rk,
		     uint64_t now, uint8_t body[REKEY_BODY_LEN])
{
	if (!rk->pending) {
		wire_eph_generate(&rk->eph);
		rk->pending = true;
	}
	rk->sent_ns = now;
	wire_put32(body, cur->epoch + 1);
	memcpy(body + 4, rk->eph.pk, WIRE_PUB_LEN);
	return REKEY_BODY_LEN;
}

int rekey_on_request(struct wire_keys *cur, struct wire_rekey *rk,
		     const uint8_t *body, size_t len,
		     uint8_t ack[REKEY_ACK_BODY_LEN])
{
	struct wire_eph eph;
	struct wire_keys next;
	uint8_t ck[WIRE_CK_LEN];
	int rc;

	if (len != REKEY_BODY_LEN || cur->mode == CRYPTO_NONE)
		return -EBADMSG;
	uint32_t epoch = wire_get32(body);
	const uint8_t *ceph = body + 4;
	if (epoch == cur->epoch && rk->have_ack &&
	    sodium_memcmp(rk->ack_body + 4, ceph, WIRE_PUB_LEN) == 0)
		return -EALREADY; /* delayed copy; we already switched */
	if (epoch != cur->epoch + 1)
		return -EBADMSG;
	if (rk->alt_is_next && rk->have_ack &&
	    sodium_memcmp(rk->ack_body + 4, ceph, WIRE_PUB_LEN) == 0) {
		memcpy(ack, rk->ack_body, REKEY_ACK_BODY_LEN);
		return 0; /* retransmission: same answer, same keys */
	}
	wire_eph_generate(&eph);
	memcpy(ck, rk->ck, WIRE_CK_LEN);
	rc = wire_kx_rekey(&next, ck, cur, epoch, eph.sk, ceph, eph.pk, 0);
	if (rc < 0)
		goto out;
	alt_drop(rk); /* the previous epoch, if still in its grace time */
	rk->alt = next;
	rk->alt_valid = true;
	rk->alt_is_next = true;
	memcpy(rk->next_ck, ck, WIRE_CK_LEN);
	wire_put32(rk->ack_body, epoch);
	memcpy(rk->ack_body + 4, ceph, WIRE_PUB_LEN);
	memcpy(rk->ack_body + 4 + WIRE_PUB_LEN, eph.pk, WIRE_PUB_LEN);
	rk->have_ack = true;
	memcpy(ack, rk->ack_body, REKEY_ACK_BODY_LEN);
out:
	wire_eph_wipe(&eph);
	sodium_memzero(&next, sizeof(next));
	sodium_memzero(ck, sizeof(ck));
	return rc;
}

int rekey_on_ack(struct wire_keys *cur, struct wire_rekey *rk,
		 const uint8_t *body, size_t len, uint64_t now, uint64_t bytes,
		 uint64_t packets)
{
	struct wire_keys next;
	uint8_t ck[WIRE_CK_LEN];
	int rc;

	if (len != REKEY_ACK_BODY_LEN)
		return -EBADMSG;
	if (!rk->pending || wire_get32(body) != cur->epoch + 1 ||
	    sodium_memcmp(body + 4, rk->eph.pk, WIRE_PUB_LEN) != 0)
		return 0; /* not an answer to the request in flight */
	memcpy(ck, rk->ck, WIRE_CK_LEN);
	rc = wire_kx_rekey(&next, ck, cur, cur->epoch + 1, rk->eph.sk,
			   rk->eph.pk, body + 4 + WIRE_PUB_LEN, 1);
	if (rc == 0) {
		memcpy(rk->ck, ck, WIRE_CK_LEN);
		switch_to(cur, rk, &next, now);
		rk->epoch_bytes0 = bytes;
		rk->epoch_packets0 = packets;
		rc = 1;
	}
	wire_eph_wipe(&rk->eph);
	rk->pending = false;
	sodium_memzero(&next, sizeof(next));
	sodium_memzero(ck, sizeof(ck));
	return rc;
}
