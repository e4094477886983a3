/*
 * Interface state and addresses over rtnetlink: MTU, up/down, IPv4/IPv6
 * addresses, and reading a link's state back (for MTU checks and for the
 * monitor's resync after an overrun).
 */
#include "os/netif.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <string.h>

#include "os/netif_nl.h"

/* The smallest MTU IPv4 allows (RFC 791); below it nothing works. */
#define NETIF_MIN_MTU 68

/* Interface names the kernel would refuse anyway (dev_valid_name). */
static bool ifname_valid(const char *ifname)
{
	if (!ifname || !ifname[0] || strnlen(ifname, IFNAMSIZ) >= IFNAMSIZ)
		return false;
	if (strcmp(ifname, ".") == 0 || strcmp(ifname, "..") == 0)
		return false;
	for (const char *c = ifname; *c; c++)
		if (*c == '/' || *c == ':' || *c == ' ' || *c == '\t' ||
		    *c == '\n')
			return false;
	return true;
}

int netif_index(const char *ifname)
{
	if (!ifname_valid(ifname))
		return -EINVAL;
	unsigned int idx = if_nametoindex(ifname);
	if (idx == 0)
		return -ENODEV;
	return (int)idx;
}

static struct nlmsghdr *link_req(char *buf, uint16_t type, int ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nlh;
}

int netif_set_mtu(const char *ifname, uint32_t mtu, struct err *e)
{
	char buf[NETIF_REQ_SIZE], ext[128];
	int idx = netif_nl_ifindex(ifname, e);

	if (idx < 0)
		return idx;
	if (mtu < NETIF_MIN_MTU)
		return err_set(e, -EINVAL,
			       "netif: set mtu on %s: %u bytes, expected at "
			       "least %d",
			       ifname, mtu, NETIF_MIN_MTU);
	struct nlmsghdr *nlh = link_req(buf, RTM_NEWLINK, idx);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	int r = netif_nl_talk(nlh, NULL, NULL, ext, sizeof(ext));
	if (r < 0)
		return netif_nl_err(e, r, ext, "netif: set mtu %u on %s", mtu,
				    ifname);
	return 0;
}

int netif_set_up(const char *ifname, bool up, struct err *e)
{
	char buf[NETIF_REQ_SIZE], ext[128];
	int idx = netif_nl_ifindex(ifname, e);

	if (idx < 0)
		return idx;
	struct nlmsghdr *nlh = link_req(buf, RTM_NEWLINK, idx);
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	int r = netif_nl_talk(nlh, NULL, NULL, ext, sizeof(ext));
	if (r < 0)
		return netif_nl_err(e, r, ext, "netif: set %s %s", ifname,
				    up ? "up" : "down");
	return 0;
}

struct link_info {
	struct netif_event ev;
	uint32_t mtu;
	bool seen;
};

static int link_attr_cb(const struct nlattr *a, void *data)
{
	struct link_info *li = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_MTU:
		if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			li->mtu = mnl_attr_get_u32(a);
		break;
	case IFLA_IFNAME:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
			snprintf(li->ev.ifname, sizeof(li->ev.ifname), "%s",
				 mnl_attr_get_str(a));
		break;
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_info *li = data;
	const struct ifinfomsg *ifi;

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return MNL_CB_OK;
	ifi = mnl_nlmsg_get_payload(nlh);
	li->seen = true;
	li->ev.type = NETIF_EV_LINK;
	li->ev.ifindex = ifi->ifi_index;
	li->ev.exists = true;
	li->ev.up = ifi->ifi_flags & IFF_UP;
	li->ev.running = ifi->ifi_flags & IFF_RUNNING;
	if (mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, li) < 0)
		return MNL_CB_ERROR;
	return MNL_CB_OK;
}

static int link_get(const char *ifname, struct link_info *li, struct err *e)
{
	char buf[NETIF_REQ_SIZE], ext[128];
	int idx = netif_nl_ifindex(ifname, e);

	if (idx < 0)
		return idx;
	memset(li, 0, sizeof(*li));
	struct nlmsghdr *nlh = link_req(buf, RTM_GETLINK, idx);
	int r = netif_nl_talk(nlh, link_cb, li, ext, sizeof(ext));
	if (r == 0 && !li->seen)
		r = -ENODATA;
	if (r < 0)
		return netif_nl_err(e, r, ext, "netif: read link %s", ifname);
	return 0;
}

int netif_get_mtu(const char *ifname, uint32_t *mtu, struct err *e)
{
	struct link_info li;
	int r = link_get(ifname, &li, e);

	if (r < 0)
		return r;
	*mtu = li.mtu;
	return 0;
}

int netif_get_link(const char *ifname, struct netif_event *ev, struct err *e)
{
	struct link_info li;
	int r = link_get(ifname, &li, e);

	if (r < 0)
		return r;
	*ev = li.ev;
	return 0;
}

/* RTM_NEWADDR / RTM_DELADDR for one prefix on one interface. */
static int addr_change(uint16_t type, const char *ifname,
		       const struct cfg_prefix *p, struct err *e)
{
	char buf[NETIF_REQ_SIZE], ext[128], ps[NETIF_ADDRSTRLEN];
	const char *verb = type == RTM_NEWADDR ? "add" : "delete";
	int idx = netif_nl_ifindex(ifname, e);

	if (idx < 0)
		return idx;
	int r = netif_nl_check_prefix(p, "address", e);
	if (r < 0)
		return r;

	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	if (type == RTM_NEWADDR)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)p->family;
	ifa->ifa_prefixlen = p->plen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)idx;
	size_t alen = netif_nl_addr_len(p->family);
	if (p->family == AF_INET) {
		mnl_attr_put(nlh, IFA_LOCAL, alen, &p->addr);
		mnl_attr_put(nlh, IFA_ADDRESS, alen, &p->addr);
	} else {
		mnl_attr_put(nlh, IFA_ADDRESS, alen, &p->addr);
		if (type == RTM_NEWADDR) {
			/* A tunnel address has no neighbours to race with;
			 * DAD would only delay it for a second. */
			ifa->ifa_flags = IFA_F_NODAD;
			mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
		}
	}
	r = netif_nl_talk(nlh, NULL, NULL, ext, sizeof(ext));
	if (r < 0)
		return netif_nl_err(e, r, ext, "netif: %s address %s on %s",
				    verb, netif_nl_prefix_str(p, ps), ifname);
	return 0;
}

int netif_addr_add(const char *ifname, const struct cfg_prefix *p,
		   struct err *e)
{
	return addr_change(RTM_NEWADDR, ifname, p, e);
}

int netif_addr_del(const char *ifname, const struct cfg_prefix *p,
		   struct err *e)
{
	return addr_change(RTM_DELADDR, ifname, p, e);
}
