/*
 * TCP MSS clamping for SYNs crossing the tunnel: hosts behind the tunnel
 * would otherwise announce an MSS for a 1500-byte path, send segments the
 * tun cannot carry and rely on ICMP that many networks drop. Rewriting the
 * option in the SYN (as routers with "clamp-mss-to-pmtu" do) makes every
 * segment fit from the start.
 */
#include <stdint.h>

#include "link/mss.h"

/* RFC 1624 incremental checksum update for one 16-bit word. */
static void csum_replace16(uint8_t *csum, uint16_t old, uint16_t new_)
{
	uint32_t sum = (uint16_t) ~((csum[0] << 8) | csum[1]);
	sum += (uint16_t)~old;
	sum += new_;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = (uint16_t)~sum;
	csum[0] = (uint8_t)(sum >> 8);
	csum[1] = (uint8_t)sum;
}

void mss_clamp(uint8_t *pkt, size_t len, uint32_t mtu)
{
	size_t l4;
	uint32_t max_mss;
	if (len < 20)
		return;
	if ((pkt[0] >> 4) == 4) {
		l4 = (size_t)(pkt[0] & 0x0f) * 4;
		/* TCP, and not a non-first fragment */
		if (pkt[9] != 6 || l4 < 20 || ((pkt[6] & 0x1f) | pkt[7]))
			return;
		max_mss = mtu > 40 ? mtu - 40 : 0;
	} else if ((pkt[0] >> 4) == 6) {
		l4 = 40;
		if (len < 40 || pkt[6] != 6)
			return;
		max_mss = mtu > 60 ? mtu - 60 : 0;
	} else {
		return;
	}
	if (len < l4 + 20)
		return;
	uint8_t *tcp = pkt + l4;
	if (!(tcp[13] & 0x02)) /* SYN */
		return;
	size_t doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < 20 || l4 + doff > len)
		return;
	for (size_t i = 20; i < doff;) {
		uint8_t kind = tcp[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= doff)
			break;
		uint8_t olen = tcp[i + 1];
		if (olen < 2 || i + olen > doff)
			break;
		if (kind == 2 && olen == 4) {
			uint16_t mss =
			    (uint16_t)((tcp[i + 2] << 8) | tcp[i + 3]);
			if (mss > max_mss) {
				tcp[i + 2] = (uint8_t)(max_mss >> 8);
				tcp[i + 3] = (uint8_t)max_mss;
				csum_replace16(tcp + 16, mss,
					       (uint16_t)max_mss);
			}
			return;
		}
		i += olen;
	}
}
