/*
 * Plain framing of the wire format: the 16-byte header, the DATA
 * sub-header and the probe bodies. No crypto here (see wire_crypto.c), so
 * these codecs are pure functions that the fuzzer and the tests hit
 * directly. Every decoder checks the length before it reads a byte.
 */
#include "wire/wire.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "wire/wire_be.h"

size_t wire_data_overhead(int mode)
{
	size_t tag = mode == CRYPTO_NONE ? 0 : WIRE_TAG_LEN;

	return WIRE_HDR_LEN + WIRE_DATA_HDR_LEN + tag;
}

size_t wire_outer_overhead(int family)
{
	return (family == AF_INET6 ? 40 : 20) + 8;
}

size_t wire_tunnel_overhead(int family, int mode)
{
	return wire_outer_overhead(family) + wire_data_overhead(mode);
}

void wire_hdr_encode(uint8_t *buf, const struct wire_hdr *h)
{
	buf[0] = h->version;
	buf[1] = h->type;
	buf[2] = h->link_id;
	buf[3] = h->flags;
	wire_put32(buf + 4, h->session_id);
	wire_put64(buf + 8, h->seq);
}

/*
 * Unknown flag bits are refused rather than ignored: a peer that sets one
 * speaks a format we do not, and the version byte is how that is signalled.
 */
int wire_hdr_decode(const uint8_t *buf, size_t len, struct wire_hdr *h)
{
	if (len < WIRE_HDR_LEN)
		return -EBADMSG;
	if (buf[0] != WIRE_VERSION)
		return -EPROTONOSUPPORT;
	if (buf[1] == 0 || buf[1] > WT_TYPE_MAX)
		return -EBADMSG;
	if (buf[3] & ~(WF_ENCRYPTED | WF_EPOCH))
		return -EBADMSG;
	h->version = buf[0];
	h->type = buf[1];
	h->link_id = buf[2];
	h->flags = buf[3];
	h->session_id = wire_get32(buf + 4);
	h->seq = wire_get64(buf + 8);
	return 0;
}

void wire_data_encode(uint8_t *body, const struct wire_data *d)
{
	wire_put32(body, d->prev_gap);
	wire_put16(body + 4, d->bucket);
	wire_put16(body + 6, 0);
}

/* The bucket indexes per-bucket arrays downstream, so it is range-checked. */
int wire_data_decode(const uint8_t *body, size_t len, struct wire_data *d)
{
	uint16_t bucket;

	if (len < WIRE_DATA_HDR_LEN)
		return -EBADMSG;
	bucket = wire_get16(body + 4);
	if (bucket >= WIRE_BUCKETS)
		return -EBADMSG;
	d->prev_gap = wire_get32(body);
	d->bucket = bucket;
	return 0;
}

/*
 * The probe carries its own total length so a receiver can tell a padded
 * PMTU probe that arrived whole from one cut short on the way.
 */
size_t wire_probe_encode(uint8_t *body, size_t room, const struct wire_probe *p)
{
	size_t total = p->pad_to > WIRE_PROBE_LEN ? p->pad_to : WIRE_PROBE_LEN;

	if (total > room)
		return 0;
	wire_put32(body, p->probe_id);
	wire_put64(body + 4, p->tx_ns);
	wire_put64(body + 12, p->rx_packets);
	wire_put16(body + 20, (uint16_t)total);
	wire_put16(body + 22, 0);
	memset(body + WIRE_PROBE_LEN, 0, total - WIRE_PROBE_LEN);
	return total;
}

int wire_probe_decode(const uint8_t *body, size_t len, struct wire_probe *p)
{
	if (len < WIRE_PROBE_LEN || len > UINT16_MAX)
		return -EBADMSG;
	if (wire_get16(body + 20) != len)
		return -EBADMSG;
	p->probe_id = wire_get32(body);
	p->tx_ns = wire_get64(body + 4);
	p->rx_packets = wire_get64(body + 12);
	p->pad_to = (uint16_t)len;
	return 0;
}

size_t wire_probe_reply_encode(uint8_t *body, const struct wire_probe_reply *r)
{
	wire_put32(body, r->probe_id);
	wire_put64(body + 4, r->echo_tx_ns);
	wire_put64(body + 12, r->rx_packets);
	wire_put32(body + 20, r->hold_us);
	wire_put16(body + 24, r->probe_len);
	wire_put16(body + 26, 0);
	return WIRE_PROBE_REPLY_LEN;
}

int wire_probe_reply_decode(const uint8_t *body, size_t len,
			    struct wire_probe_reply *r)
{
	if (len != WIRE_PROBE_REPLY_LEN)
		return -EBADMSG;
	r->probe_id = wire_get32(body);
	r->echo_tx_ns = wire_get64(body + 4);
	r->rx_packets = wire_get64(body + 12);
	r->hold_us = wire_get32(body + 20);
	r->probe_len = wire_get16(body + 24);
	return 0;
}
