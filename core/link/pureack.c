/*
 * Pure TCP ACK detection. Why it matters to a bond: ACKs are cumulative,
 * so an ACK that overtakes an earlier one loses nothing, while an ACK held
 * behind a lost one (the reorder buffer keeps each flow in order) stalls
 * the sender's ACK clock for a whole recovery round trip. The sender gives
 * pure ACKs no place in their flow's order chain (datapath.c), so the far
 * end delivers each on arrival.
 */
#include "pureack.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10
#define TCP_URG 0x20

static bool tcp_hdr_pure_ack(const uint8_t *tcp, size_t tcp_len)
{
	if (tcp_len < 20)
		return false;
	size_t doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < 20 || doff != tcp_len) /* options only, no payload */
		return false;
	uint8_t fl = tcp[13];
	return (fl & TCP_ACK) &&
	       !(fl & (TCP_FIN | TCP_SYN | TCP_RST | TCP_URG));
}

bool tcp_pure_ack(const uint8_t *pkt, size_t len)
{
	if (len < 1)
		return false;
	if (pkt[0] >> 4 == 4) {
		if (len < 20 || pkt[9] != 6)
			return false;
		size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
		size_t tot = (size_t)pkt[2] << 8 | pkt[3];
		/* a fragment (offset or more-fragments set) is not a whole
		 * segment */
		if (ihl < 20 || tot > len || tot < ihl ||
		    ((pkt[6] & 0x3f) | pkt[7]))
			return false;
		return tcp_hdr_pure_ack(pkt + ihl, tot - ihl);
	}
	if (pkt[0] >> 4 == 6) {
		if (len < 40 || pkt[6] != 6)
			return false;
		size_t plen = (size_t)pkt[4] << 8 | pkt[5];
		if (40 + plen > len)
			return false;
		return tcp_hdr_pure_ack(pkt + 40, plen);
	}
	return false;
}
