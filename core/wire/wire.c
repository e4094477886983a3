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
	wire_put32(body + 8, d->path_seq);
	wire_put32(body + 12, d->tx_us);
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
	d->path_seq = wire_get32(body + 8);
	d->tx_us = wire_get32(body + 12);
	return 0;
}

size_t wire_feedback_encode(uint8_t *body, size_t room,
			    const struct wire_feedback *f)
{
	size_t len = WIRE_FB_HDR_LEN + (size_t)f->n_links * WIRE_FB_LINK_LEN;

	if (!f->n_links || f->n_links > WIRE_FB_MAX_LINKS || len > room)
		return 0;
	wire_put32(body, f->gen_us);
	body[4] = f->n_links;
	body[5] = 0;
	wire_put16(body + 6, 0);
	for (uint32_t i = 0; i < f->n_links; i++) {
		const struct wire_fb_link *l = &f->links[i];
		uint8_t *e = body + WIRE_FB_HDR_LEN + i * WIRE_FB_LINK_LEN;
		e[0] = l->link_id;
		e[1] = 0;
		wire_put16(e + 2, l->interval_pkts);
		wire_put32(e + 4, l->high_seq);
		wire_put32(e + 8, l->rx_packets);
		wire_put32(e + 12, l->rx_bytes);
		wire_put32(e + 16, l->last_rx_us);
		wire_put32(e + 20, l->owd_min_us);
		wire_put32(e + 24, l->owd_max_us);
	}
	return len;
}

/* A report names each link once: a duplicate would let one datagram count
 * a link's delivery twice. */
int wire_feedback_decode(const uint8_t *body, size_t len,
			 struct wire_feedback *f)
{
	uint8_t seen[256 / 8] = {0};
	uint32_t n;

	if (len < WIRE_FB_HDR_LEN)
		return -EBADMSG;
	n = body[4];
	if (!n || n > WIRE_FB_MAX_LINKS || body[5] || wire_get16(body + 6) ||
	    len != WIRE_FB_HDR_LEN + n * WIRE_FB_LINK_LEN)
		return -EBADMSG;
	f->gen_us = wire_get32(body);
	f->n_links = (uint8_t)n;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e =
		    body + WIRE_FB_HDR_LEN + i * WIRE_FB_LINK_LEN;
		struct wire_fb_link *l = &f->links[i];
		if (e[1] || (seen[e[0] / 8] & (1u << (e[0] % 8))))
			return -EBADMSG;
		seen[e[0] / 8] |= (uint8_t)(1u << (e[0] % 8));
		l->link_id = e[0];
		l->interval_pkts = wire_get16(e + 2);
		l->high_seq = wire_get32(e + 4);
		l->rx_packets = wire_get32(e + 8);
		l->rx_bytes = wire_get32(e + 12);
		l->last_rx_us = wire_get32(e + 16);
		l->owd_min_us = wire_get32(e + 20);
		l->owd_max_us = wire_get32(e + 24);
	}
	return 0;
}

size_t wire_nack_encode(uint8_t *body, size_t room, const struct wire_nack *n)
{
	size_t len = WIRE_NACK_HDR_LEN + (size_t)n->n_runs * WIRE_NACK_RUN_LEN;

	if (!n->n_runs || n->n_runs > WIRE_NACK_MAX_RUNS || len > room)
		return 0;
	body[0] = n->n_runs;
	body[1] = 0;
	wire_put16(body + 2, 0);
	for (uint32_t i = 0; i < n->n_runs; i++) {
		const struct wire_nack_run *r = &n->runs[i];
		uint8_t *e = body + WIRE_NACK_HDR_LEN + i * WIRE_NACK_RUN_LEN;
		if (!r->count || r->count > WIRE_NACK_MAX_COUNT)
			return 0;
		e[0] = r->link_id;
		e[1] = 0;
		wire_put16(e + 2, r->count);
		wire_put32(e + 4, r->first);
	}
	return len;
}

/* Counts are bounded so one small datagram cannot make the sender walk
 * more than 32 * 1024 store entries. */
int wire_nack_decode(const uint8_t *body, size_t len, struct wire_nack *n)
{
	uint32_t k;

	if (len < WIRE_NACK_HDR_LEN)
		return -EBADMSG;
	k = body[0];
	if (!k || k > WIRE_NACK_MAX_RUNS || body[1] || wire_get16(body + 2) ||
	    len != WIRE_NACK_HDR_LEN + k * WIRE_NACK_RUN_LEN)
		return -EBADMSG;
	n->n_runs = (uint8_t)k;
	for (uint32_t i = 0; i < k; i++) {
		const uint8_t *e =
		    body + WIRE_NACK_HDR_LEN + i * WIRE_NACK_RUN_LEN;
		uint16_t c = wire_get16(e + 2);
		if (e[1] || !c || c > WIRE_NACK_MAX_COUNT)
			return -EBADMSG;
		n->runs[i].link_id = e[0];
		n->runs[i].count = c;
		n->runs[i].first = wire_get32(e + 4);
	}
	return 0;
}

void wire_retx_encode(uint8_t *body, const struct wire_retx *r)
{
	wire_put32(body, r->prev_gap);
	body[4] = r->bucket;
	body[5] = r->lost_link;
	wire_put16(body + 6, r->back);
	wire_put32(body + 8, r->path_seq);
	wire_put32(body + 12, r->tx_us);
}

int wire_retx_decode(const uint8_t *body, size_t len, struct wire_retx *r)
{
	if (len < WIRE_DATA_HDR_LEN)
		return -EBADMSG;
	r->prev_gap = wire_get32(body);
	r->bucket = body[4];
	r->lost_link = body[5];
	r->back = wire_get16(body + 6);
	r->path_seq = wire_get32(body + 8);
	r->tx_us = wire_get32(body + 12);
	return r->back ? 0 : -EBADMSG;
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
