/*
 * Flow hash of an inner IP packet, used to pick its flow bucket. The
 * receiver's reorder logic works per bucket, so packets of one TCP/UDP
 * flow must always land in the same bucket; across runs too, so the hash
 * has a fixed seed. It is a murmur3-style mix: fast and well spread, not
 * cryptographic (an attacker inside the tunnel can only hurt their own
 * flows). Every read is bounds-checked against len: the input comes from
 * the tun device on one side and from the network on the other.
 */
#include "wire/wire.h"

#include "wire/wire_be.h"

#define FLOW_SEED 0x7475e774u

enum {
	IPPROTO_HOPOPTS_ = 0,
	IPPROTO_TCP_ = 6,
	IPPROTO_UDP_ = 17,
	IPPROTO_ROUTING_ = 43,
	IPPROTO_FRAGMENT_ = 44,
	IPPROTO_AH_ = 51,
	IPPROTO_DSTOPTS_ = 60,
	IPPROTO_SCTP_ = 132,
	IPPROTO_UDPLITE_ = 136,
};

/* Extension headers walked at most; more than this is not a real flow. */
#define FLOW_MAX_EXT 8

static inline uint32_t flow_rotl(uint32_t x, int r)
{
	return x << r | x >> (32 - r);
}

static uint32_t flow_mix(uint32_t h, uint32_t k)
{
	k *= 0xcc9e2d51u;
	k = flow_rotl(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = flow_rotl(h, 13);
	return h * 5 + 0xe6546b64u;
}

static uint32_t flow_final(uint32_t h, uint32_t nwords)
{
	h ^= nwords * 4;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static int flow_has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_ ||
	       proto == IPPROTO_SCTP_ || proto == IPPROTO_UDPLITE_;
}

/* Ports of the L4 header at off, or 0 if absent or cut short. */
static uint32_t flow_ports(const uint8_t *pkt, size_t len, size_t off,
			   uint8_t proto)
{
	if (!flow_has_ports(proto) || off > len || len - off < 4)
		return 0;
	return wire_get32(pkt + off);
}

static uint32_t flow_hash_v4(const uint8_t *pkt, size_t len)
{
	size_t ihl;
	uint32_t h = FLOW_SEED, ports = 0;
	uint8_t proto;

	if (len < 20)
		return 0;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	if (ihl < 20 || ihl > len)
		return 0;
	proto = pkt[9];
	/* Only the first fragment carries the ports. */
	if ((wire_get16(pkt + 6) & 0x1fff) == 0)
		ports = flow_ports(pkt, len, ihl, proto);
	h = flow_mix(h, wire_get32(pkt + 12));
	h = flow_mix(h, wire_get32(pkt + 16));
	h = flow_mix(h, proto);
	h = flow_mix(h, ports);
	return flow_final(h, 4);
}

static uint32_t flow_hash_v6(const uint8_t *pkt, size_t len)
{
	uint32_t h = FLOW_SEED, ports = 0;
	size_t off = 40, ext;
	uint8_t nh;
	int first = 1, i;

	if (len < 40)
		return 0;
	nh = pkt[6];
	for (i = 0; i < FLOW_MAX_EXT; i++) {
		if (nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_ROUTING_ ||
		    nh == IPPROTO_DSTOPTS_)
			ext =
			    ((size_t)1 + (off + 2 <= len ? pkt[off + 1] : 0)) *
			    8;
		else if (nh == IPPROTO_AH_)
			ext =
			    ((size_t)2 + (off + 2 <= len ? pkt[off + 1] : 0)) *
			    4;
		else if (nh == IPPROTO_FRAGMENT_)
			ext = 8;
		else
			break;
		if (off + 2 > len || ext > len - off) {
			first = 0; /* cut short: hash what we know */
			break;
		}
		if (nh == IPPROTO_FRAGMENT_ &&
		    (wire_get16(pkt + off + 2) & 0xfff8) != 0)
			first = 0;
		nh = pkt[off];
		off += ext;
	}
	if (first && i < FLOW_MAX_EXT)
		ports = flow_ports(pkt, len, off, nh);
	for (i = 0; i < 8; i++)
		h = flow_mix(h, wire_get32(pkt + 8 + 4 * i));
	h = flow_mix(h, nh);
	h = flow_mix(h, ports);
	return flow_final(h, 10);
}

uint32_t wire_flow_hash(const uint8_t *pkt, size_t len)
{
	if (!pkt || len < 1)
		return 0;
	switch (pkt[0] >> 4) {
	case 4:
		return flow_hash_v4(pkt, len);
	case 6:
		return flow_hash_v6(pkt, len);
	default:
		return 0;
	}
}
