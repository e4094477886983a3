/* Socket address printing and comparison (addr.c): NAT rebinding and every
 * log line that names a peer rely on these two. */
#ifndef TTT_LINK_ADDR_H
#define TTT_LINK_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* "1.2.3.4:5800" or "[::1]:5800" into buf; returns buf. */
const char *sockaddr_str(const struct sockaddr_storage *ss, char *buf,
			 size_t len);
/* 1 when family, address and port are equal (IPv6 scope included). */
int sockaddr_equal(const struct sockaddr_storage *a,
		   const struct sockaddr_storage *b);

#endif
