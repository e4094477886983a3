/* TCP MSS clamping (mss.c): full-size segments must fit the tun MTU, or
 * they fragment or vanish in a path-MTU black hole. */
#ifndef TTT_LINK_MSS_H
#define TTT_LINK_MSS_H

#include <stddef.h>
#include <stdint.h>

/* Lowers the MSS option of a TCP SYN in pkt (IPv4 or IPv6) so that segments
 * fit mtu, fixing the checksum incrementally; anything else is untouched. */
void mss_clamp(uint8_t *pkt, size_t len, uint32_t mtu);

#endif
