/* Grouping of one path's datagrams into UDP GSO sends (txbatch.c). */
#ifndef TTT_LINK_TXBATCH_H
#define TTT_LINK_TXBATCH_H

#include <stdint.h>

/* UDP GSO limits: UDP_MAX_SEGMENTS of older kernels, and a total that stays
 * under the 64 KiB IP datagram with headers. */
#define TX_GSO_SEGS  64
#define TX_GSO_BYTES 65000

/* Cuts n datagram lengths (one path, send order) into sends of at most
 * max_segs datagrams and max_bytes bytes, each a run of equal lengths
 * optionally ended by one shorter datagram, i.e. what one UDP GSO message
 * can carry. Writes the datagram count of each send to count[] (room for n)
 * and returns the number of sends. */
uint32_t txbatch_group(const uint32_t *len, uint32_t n, uint32_t max_segs,
		       uint32_t max_bytes, uint16_t *count);

#endif
