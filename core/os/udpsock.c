/* Tunnel UDP socket options (see udpsock.h). */
#include "os/udpsock.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* The FORCE variant ignores rmem_max/wmem_max but needs CAP_NET_ADMIN;
 * without it the plain option still gets what the limits allow. */
static void set_bufsize(int fd, int opt_force, int opt, int bytes)
{
	if (setsockopt(fd, SOL_SOCKET, opt_force, &bytes, sizeof(bytes)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes));
}

int udpsock_setup(int fd, int family)
{
	set_bufsize(fd, SO_RCVBUFFORCE, SO_RCVBUF, UDPSOCK_BUF_BYTES);
	set_bufsize(fd, SO_SNDBUFFORCE, SO_SNDBUF, UDPSOCK_BUF_BYTES);
	int pmtu = IP_PMTUDISC_PROBE;
	if (family == AF_INET) {
		if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu,
			       sizeof(pmtu)) < 0)
			return -errno;
	} else {
		pmtu = IPV6_PMTUDISC_PROBE;
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu,
			       sizeof(pmtu)) < 0)
			return -errno;
	}
	return 0;
}
