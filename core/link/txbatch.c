/*
 * How one path's share of a transmit batch is cut into sends. UDP GSO
 * (UDP_SEGMENT) lets the kernel carry a run of equal-sized datagrams as one
 * buffer through the whole stack (socket, IP, qdisc, veth or the NIC) and
 * split it as late as possible, so a bulk TCP flow through the tunnel costs
 * one traversal per run instead of one per packet. The kernel's rule for a
 * GSO send: every segment has the size given in the cmsg except the last,
 * which may be shorter. Pure function, so the grouping is unit-tested.
 */
#include "link/txbatch.h"

uint32_t txbatch_group(const uint32_t *len, uint32_t n, uint32_t max_segs,
		       uint32_t max_bytes, uint16_t *count)
{
	uint32_t groups = 0;

	for (uint32_t i = 0; i < n;) {
		uint32_t seg = len[i];
		uint32_t k = 1;
		uint64_t total = seg;

		while (i + k < n && k < max_segs &&
		       total + len[i + k] <= max_bytes) {
			uint32_t l = len[i + k];
			if (l > seg)
				break;
			total += l;
			k++;
			if (l < seg) /* a shorter datagram ends the run */
				break;
		}
		count[groups++] = (uint16_t)k;
		i += k;
	}
	return groups;
}
