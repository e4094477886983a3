/*
 * The options every tunnel UDP socket gets, the client's per-link sockets
 * and the server's listener alike: large buffers (a burst of a fast link
 * must not overflow the default ones) and no kernel fragmentation, because
 * the prober finds each path's MTU itself (core/link/pmtu.h).
 */
#ifndef TTT_OS_UDPSOCK_H
#define TTT_OS_UDPSOCK_H

/* Receive and send buffers of UDPSOCK_BUF_BYTES (SO_*BUFFORCE when allowed,
 * else as much as the sysctl limits give), then IP_PMTUDISC_PROBE (or its
 * IPv6 twin) for `family`. Returns 0, or -errno if the MTU option failed. */
#define UDPSOCK_BUF_BYTES (4 << 20)
int udpsock_setup(int fd, int family);

#endif
