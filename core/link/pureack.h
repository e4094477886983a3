/* Pure TCP ACKs (pureack.c): segments that carry no data and change no
 * connection state, so a later one makes an earlier one redundant. */
#ifndef TTT_LINK_PUREACK_H
#define TTT_LINK_PUREACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * True if pkt (an inner IPv4 or IPv6 packet) is a TCP segment with no
 * payload whose only flags are ACK (with ECE, CWR or PSH): not SYN, FIN,
 * RST or URG, and not an IP fragment. IPv6 with extension headers is not
 * recognised (false), nor is anything malformed: false is always safe.
 */
bool tcp_pure_ack(const uint8_t *pkt, size_t len);

#endif
