/*
 * Internet checksum, 64 bits at a time: the offload paths checksum every
 * byte they segment or coalesce (about 1.5 GB/s of inner traffic at the
 * target rate), so this loop is one of the few hot ones. Unaligned loads
 * go through memcpy, which compiles to plain loads on x86 and arm64.
 */
#include "link/csum.h"

#include <arpa/inet.h>
#include <string.h>

static inline uint64_t add64(uint64_t s, uint64_t w)
{
	s += w;
	return s + (s < w); /* end-around carry */
}

uint64_t csum_add(uint64_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t a = 0, b = 0;
	while (len >= 32) {
		uint64_t w[4];
		memcpy(w, p, 32);
		a = add64(a, w[0]);
		b = add64(b, w[1]);
		a = add64(a, w[2]);
		b = add64(b, w[3]);
		p += 32;
		len -= 32;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		a = add64(a, w);
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t w = 0;
		memcpy(&w, p, len); /* zero padding, as RFC 1071 asks */
		b = add64(b, w);
	}
	return add64(add64(sum, a), b);
}

uint16_t csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint64_t csum_pseudo(const uint8_t *ip, int v6, uint8_t proto, uint32_t l4_len)
{
	uint64_t s = v6 ? csum_add(0, ip + 8, 32) : csum_add(0, ip + 12, 8);
	uint32_t w[2] = {htonl(l4_len), htonl(proto)};
	return csum_add(s, w, sizeof(w));
}

void csum_store(uint8_t *p, uint16_t c)
{
	memcpy(p, &c, 2);
}
