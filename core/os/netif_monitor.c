/*
 * Link monitor: a non-blocking rtnetlink socket subscribed to link and
 * address changes, read from the event loop. An uplink losing carrier or
 * its address is how the daemon learns of a dying link before the prober
 * times out; the tun vanishing is fatal and must be noticed at once.
 */
#include "os/netif.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

/* Bursts (an interface flapping, a DHCP renewal) fit without overrun. */
#define MONITOR_RCVBUF (1 << 20)
#define MONITOR_BUF    16384

struct monitor_ctx {
	netif_event_fn fn;
	void *arg;
};

static int ifname_attr_cb(const struct nlattr *a, void *data)
{
	struct netif_event *ev = data;

	if (mnl_attr_get_type(a) == IFLA_IFNAME &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
		snprintf(ev->ifname, sizeof(ev->ifname), "%s",
			 mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int link_event(const struct nlmsghdr *nlh, struct netif_event *ev)
{
	const struct ifinfomsg *ifi;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return -EBADMSG;
	ifi = mnl_nlmsg_get_payload(nlh);
	ev->type = NETIF_EV_LINK;
	ev->ifindex = ifi->ifi_index;
	ev->exists = nlh->nlmsg_type == RTM_NEWLINK;
	ev->up = ev->exists && (ifi->ifi_flags & IFF_UP);
	ev->running = ev->exists && (ifi->ifi_flags & IFF_RUNNING);
	if (mnl_attr_parse(nlh, sizeof(*ifi), ifname_attr_cb, ev) < 0)
		return -EBADMSG;
	return 0;
}

struct addr_attrs {
	const struct nlattr *local, *address;
};

static int addr_attr_cb(const struct nlattr *a, void *data)
{
	struct addr_attrs *aa = data;

	if (mnl_attr_get_type(a) == IFA_LOCAL)
		aa->local = a;
	else if (mnl_attr_get_type(a) == IFA_ADDRESS)
		aa->address = a;
	return MNL_CB_OK;
}

static int addr_event(const struct nlmsghdr *nlh, struct netif_event *ev)
{
	const struct ifaddrmsg *ifa;
	struct addr_attrs aa = {0};
	size_t alen;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return -EBADMSG;
	ifa = mnl_nlmsg_get_payload(nlh);
	if (ifa->ifa_family == AF_INET)
		alen = sizeof(struct in_addr);
	else if (ifa->ifa_family == AF_INET6)
		alen = sizeof(struct in6_addr);
	else
		return -EAFNOSUPPORT;
	if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, &aa) < 0)
		return -EBADMSG;
	/* IFA_LOCAL is our address; IFA_ADDRESS the peer's on a p-t-p. */
	const struct nlattr *a = aa.local ? aa.local : aa.address;
	if (!a || mnl_attr_get_payload_len(a) != alen)
		return -EBADMSG;
	ev->type = NETIF_EV_ADDR;
	ev->ifindex = (int)ifa->ifa_index;
	ev->exists = nlh->nlmsg_type == RTM_NEWADDR;
	ev->addr.family = ifa->ifa_family;
	ev->addr.plen = ifa->ifa_prefixlen;
	memcpy(&ev->addr.addr, mnl_attr_get_payload(a), alen);
	/* The link may be gone already when its addresses are flushed. */
	if (!if_indextoname(ifa->ifa_index, ev->ifname))
		ev->ifname[0] = '\0';
	return 0;
}

static int monitor_cb(const struct nlmsghdr *nlh, void *data)
{
	struct monitor_ctx *m = data;
	struct netif_event ev;
	int r;

	memset(&ev, 0, sizeof(ev));
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		r = link_event(nlh, &ev);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		r = addr_event(nlh, &ev);
		break;
	default:
		return MNL_CB_OK;
	}
	if (r < 0)
		log_debug("netif",
			  "monitor: ignoring malformed message type %u",
			  nlh->nlmsg_type);
	else
		m->fn(m->arg, &ev);
	return MNL_CB_OK;
}

int netif_monitor_open(struct err *e)
{
	struct sockaddr_nl sa = {
	    .nl_family = AF_NETLINK,
	    .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
	};
	int size = MONITOR_RCVBUF;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			NETLINK_ROUTE);

	if (fd < 0)
		return err_set(e, -errno, "netif: monitor socket: %s",
			       strerror(errno));
	/* Raising it needs no privilege up to rmem_max; a small one only
	 * means earlier -ENOBUFS and a resync. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
		log_warn("netif", "monitor: SO_RCVBUF %d: %s", size,
			 strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return err_set(e, r, "netif: monitor bind: %s", strerror(-r));
	}
	return fd;
}

int netif_monitor_read(int fd, netif_event_fn fn, void *arg)
{
	struct monitor_ctx m = {.fn = fn, .arg = arg};
	char buf[MONITOR_BUF];

	for (;;) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_TRUNC,
				     (struct sockaddr *)&from, &fromlen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		/* The rest of the datagram is lost: as good as an overrun. */
		if ((size_t)n > sizeof(buf)) {
			log_warn("netif", "monitor: %zd-byte message truncated",
				 n);
			return -ENOBUFS;
		}
		/* Only the kernel speaks for the kernel's tables. */
		if (fromlen != sizeof(from) || from.nl_pid != 0) {
			log_debug("netif",
				  "monitor: dropped message from "
				  "port %u",
				  from.nl_pid);
			continue;
		}
		/* seq 0 and portid 0 accept the kernel's notifications. */
		if (mnl_cb_run(buf, (size_t)n, 0, 0, monitor_cb, &m) < 0) {
			if (errno == ENOBUFS)
				return -ENOBUFS;
			log_debug("netif", "monitor: bad message batch: %s",
				  strerror(errno));
		}
	}
}
