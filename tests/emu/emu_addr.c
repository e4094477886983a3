/*
 * Socket-address helpers shared by the relay and the traffic tools, so every
 * mode prints addresses the same way and opens UDP sockets the same way.
 */
#include "emu.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

const char *addr_str(const struct emu_addr *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)&a->ss;
		if (!inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host)))
			strcpy(host, "?");
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&a->ss;
		if (!inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host)))
			strcpy(host, "?");
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, len, "(family %d)", a->ss.ss_family);
	}
	return buf;
}

/* Compares family, address and port only: recvmmsg may leave padding
 * (sin_zero, flowinfo) that must not split one client into two. */
bool addr_equal(const struct sockaddr_storage *x, socklen_t xlen,
		const struct sockaddr_storage *y, socklen_t ylen)
{
	if (x->ss_family != y->ss_family || xlen != ylen)
		return false;
	if (x->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)x,
					 *b = (const void *)y;
		return a->sin_port == b->sin_port &&
		       a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	if (x->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)x,
					  *b = (const void *)y;
		return a->sin6_port == b->sin6_port &&
		       a->sin6_scope_id == b->sin6_scope_id &&
		       memcmp(&a->sin6_addr, &b->sin6_addr, 16) == 0;
	}
	return false;
}

/* Opens a non-blocking UDP socket of the given family, bound to bind_to if
 * given (its port may be 0), with buffers large enough that a burst at 100+
 * Mbit/s is not lost in the kernel before the emulator sees it. */
int addr_udp_socket(const struct emu_addr *bind_to, int family, struct err *e)
{
	char buf[INET6_ADDRSTRLEN + 8];
	int fd, ret, one = 1, bufsz = 4 << 20;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, -errno, "socket: %s", strerror(errno));
	/* The FORCE variants pass rmem_max/wmem_max but need CAP_NET_ADMIN
	 * (tests run as root); otherwise the capped plain ones must do. */
	if ((setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof(bufsz)) <
		 0 &&
	     setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz)) <
		 0) ||
	    (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz, sizeof(bufsz)) <
		 0 &&
	     setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz)) <
		 0)) {
		ret = err_set(e, -errno, "setsockopt SO_RCVBUF/SO_SNDBUF: %s",
			      strerror(errno));
		goto fail;
	}
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		ret = err_set(e, -errno, "setsockopt IPV6_V6ONLY: %s",
			      strerror(errno));
		goto fail;
	}
	if (bind_to &&
	    bind(fd, (const struct sockaddr *)&bind_to->ss, bind_to->len) < 0) {
		ret = err_set(e, -errno, "bind %s: %s",
			      addr_str(bind_to, buf, sizeof(buf)),
			      strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return ret;
}
