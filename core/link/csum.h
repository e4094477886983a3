/*
 * The Internet checksum (RFC 1071) for the offload paths (csum.c): the
 * segmenter computes each segment's TCP/UDP checksum, the coalescer checks
 * each segment's before merging and writes the pseudo-header sum a
 * CHECKSUM_PARTIAL super-packet needs.
 *
 * Sums are ones'-complement partial sums kept unfolded in 64 bits and read
 * in host byte order; folded and stored back in host order the result is
 * right on the wire whatever the host's endianness (RFC 1071 2.(B)).
 */
#ifndef TTT_LINK_CSUM_H
#define TTT_LINK_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds len bytes at data to sum. Chained calls must start at even offsets
 * of the summed range (only the last piece may have an odd length). */
uint64_t csum_add(uint64_t sum, const void *data, size_t len);

/* Folds a partial sum to 16 bits (not complemented), host order. */
uint16_t csum_fold(uint64_t sum);

/* Partial sum of the TCP/UDP pseudo-header of an IPv4 (v6 false) or IPv6
 * packet at ip, for an L4 length of l4_len bytes and protocol proto. */
uint64_t csum_pseudo(const uint8_t *ip, int v6, uint8_t proto, uint32_t l4_len);

/* Stores a host-order 16-bit checksum at p (unaligned). */
void csum_store(uint8_t *p, uint16_t c);

#endif
