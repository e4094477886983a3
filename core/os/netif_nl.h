/*
 * Internal to the netif_*.c files: one rtnetlink request/answer round trip
 * and the small validation and formatting helpers they all share.
 */
#ifndef TTT_NETIF_NL_H
#define TTT_NETIF_NL_H

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <stddef.h>

#include "conf/config.h"
#include "base/err.h"

/* Big enough for "ffff:...:ffff/128" and "a.b.c.d/32". */
#define NETIF_ADDRSTRLEN 64
/* Room for one request with a few attributes. */
#define NETIF_REQ_SIZE 512

/*
 * Sends `nlh` (NLM_F_REQUEST|NLM_F_ACK are added) on a fresh NETLINK_ROUTE
 * socket and waits for the answer: the ACK, or the end of a dump. `cb`
 * (may be NULL) sees each reply message of type >= NLMSG_MIN_TYPE. Returns
 * 0 or -errno; `ext` receives the kernel's extended-ack text, "" if none.
 */
int netif_nl_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data, char *ext,
		  size_t extlen);

/* Formats "<what>: <strerror>" plus " (kernel: <ext>)" into e; returns r. */
int netif_nl_err(struct err *e, int r, const char *ext, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* netif_index() with a message naming the interface. */
int netif_nl_ifindex(const char *ifname, struct err *e);

/* -EINVAL with a message unless p is an AF_INET(6) prefix of valid length. */
int netif_nl_check_prefix(const struct cfg_prefix *p, const char *what,
			  struct err *e);

/* 4 or 16 for AF_INET / AF_INET6, else 0. */
size_t netif_nl_addr_len(int family);

/* The address bytes inside a sockaddr_in / sockaddr_in6, NULL otherwise. */
const void *netif_nl_sa_addr(const struct sockaddr *sa);

/* "10.0.0.1/24" / "fd00::1/64"; "(bad prefix)" if it cannot be printed. */
const char *netif_nl_prefix_str(const struct cfg_prefix *p,
				char buf[NETIF_ADDRSTRLEN]);
/* The address of a sockaddr_in(6), without port; "(none)" for NULL. */
const char *netif_nl_sa_str(const struct sockaddr *sa,
			    char buf[NETIF_ADDRSTRLEN]);

#endif
