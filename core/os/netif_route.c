/*
 * Routes in the main table, route lookups, and the client's "everything
 * through the tunnel" setup. Routes are added with RTPROT_STATIC so
 * `ip route` shows them as configured, not learned.
 */
#include "os/netif.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <string.h>

#include "base/log.h"
#include "os/netif_nl.h"

/* Checks gw against the route's family; NULL gw is fine. */
static int check_gw(const struct sockaddr *gw, int family, const char *what,
		    struct err *e)
{
	if (!gw)
		return 0;
	if (gw->sa_family != family)
		return err_set(e, -EINVAL,
			       "netif: %s: gateway family %d does not match "
			       "the destination's (%d)",
			       what, gw->sa_family, family);
	return 0;
}

static int route_change(uint16_t type, const struct cfg_prefix *dst,
			const char *ifname, const struct sockaddr *gw,
			uint32_t metric, struct err *e)
{
	char buf[NETIF_REQ_SIZE], ext[128], ps[NETIF_ADDRSTRLEN],
	    gs[NETIF_ADDRSTRLEN];
	const char *verb = type == RTM_NEWROUTE ? "add" : "delete";
	int r = netif_nl_check_prefix(dst, "route", e);

	if (r < 0)
		return r;
	int idx = netif_nl_ifindex(ifname, e);
	if (idx < 0)
		return idx;
	r = check_gw(gw, dst->family, "route", e);
	if (r < 0)
		return r;

	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)dst->family;
	rtm->rtm_dst_len = dst->plen;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_type = RTN_UNICAST;
	if (type == RTM_NEWROUTE) {
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
		rtm->rtm_protocol = RTPROT_STATIC;
		rtm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	} else {
		/* As `ip route del`: match any protocol and scope. */
		rtm->rtm_protocol = RTPROT_UNSPEC;
		rtm->rtm_scope = RT_SCOPE_NOWHERE;
	}
	size_t alen = netif_nl_addr_len(dst->family);
	if (dst->plen)
		mnl_attr_put(nlh, RTA_DST, alen, &dst->addr);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)idx);
	if (gw)
		mnl_attr_put(nlh, RTA_GATEWAY, alen, netif_nl_sa_addr(gw));
	if (metric)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, metric);
	r = netif_nl_talk(nlh, NULL, NULL, ext, sizeof(ext));
	if (r < 0)
		return netif_nl_err(
		    e, r, ext, "netif: %s route %s via %s dev %s metric %u",
		    verb, netif_nl_prefix_str(dst, ps), netif_nl_sa_str(gw, gs),
		    ifname, metric);
	return 0;
}

int netif_route_add(const struct cfg_prefix *dst, const char *ifname,
		    const struct sockaddr *gw, uint32_t metric, struct err *e)
{
	return route_change(RTM_NEWROUTE, dst, ifname, gw, metric, e);
}

int netif_route_del(const struct cfg_prefix *dst, const char *ifname,
		    const struct sockaddr *gw, uint32_t metric, struct err *e)
{
	return route_change(RTM_DELROUTE, dst, ifname, gw, metric, e);
}

struct route_answer {
	int family;
	bool seen;
	bool has_gw;
	bool via; /* gateway of the other family (RTA_VIA) */
	uint32_t oif;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} gw;
};

static int route_attr_cb(const struct nlattr *a, void *data)
{
	struct route_answer *ra = data;
	size_t alen = netif_nl_addr_len(ra->family);

	switch (mnl_attr_get_type(a)) {
	case RTA_OIF:
		if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			ra->oif = mnl_attr_get_u32(a);
		break;
	case RTA_GATEWAY:
		if (mnl_attr_get_payload_len(a) == alen) {
			memcpy(&ra->gw, mnl_attr_get_payload(a), alen);
			ra->has_gw = true;
		}
		break;
	case RTA_VIA:
		ra->via = true;
		break;
	}
	return MNL_CB_OK;
}

static int route_get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_answer *ra = data;
	const struct rtmsg *rtm;

	if (nlh->nlmsg_type != RTM_NEWROUTE ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return MNL_CB_OK;
	rtm = mnl_nlmsg_get_payload(nlh);
	if (rtm->rtm_family != ra->family)
		return MNL_CB_OK;
	ra->seen = true;
	if (mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, ra) < 0)
		return MNL_CB_ERROR;
	return MNL_CB_OK;
}

int netif_route_get(const struct sockaddr *dst, const char *oif,
		    struct sockaddr_storage *gw, bool *has_gw,
		    char ifname[IFNAMSIZ], struct err *e)
{
	char buf[NETIF_REQ_SIZE], ext[128], ds[NETIF_ADDRSTRLEN];
	struct route_answer ra = {0};
	int oif_idx = 0;
	const void *a = netif_nl_sa_addr(dst);

	if (!a)
		return err_set(e, -EAFNOSUPPORT,
			       "netif: route lookup: destination family %d, "
			       "expected IPv4 or IPv6",
			       dst ? dst->sa_family : -1);
	if (oif && oif[0]) {
		oif_idx = netif_nl_ifindex(oif, e);
		if (oif_idx < 0)
			return oif_idx;
	}
	ra.family = dst->sa_family;
	size_t alen = netif_nl_addr_len(ra.family);

	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)ra.family;
	rtm->rtm_dst_len = (uint8_t)(alen * 8);
	mnl_attr_put(nlh, RTA_DST, alen, a);
	if (oif_idx)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif_idx);
	int r = netif_nl_talk(nlh, route_get_cb, &ra, ext, sizeof(ext));
	if (r == 0 && (!ra.seen || !ra.oif))
		r = -ENETUNREACH;
	/* Pinning such a route would need RTA_VIA too; not worth it yet. */
	if (r == 0 && ra.via)
		r = -EOPNOTSUPP;
	if (r == 0 && !if_indextoname(ra.oif, ifname))
		r = -errno;
	if (r < 0)
		return netif_nl_err(e, r, ext, "netif: route lookup for %s%s%s",
				    netif_nl_sa_str(dst, ds),
				    oif_idx ? " dev " : "", oif_idx ? oif : "");
	if (has_gw)
		*has_gw = ra.has_gw;
	if (gw) {
		memset(gw, 0, sizeof(*gw));
		if (ra.family == AF_INET) {
			struct sockaddr_in *s = (struct sockaddr_in *)gw;
			s->sin_family = AF_INET;
			s->sin_addr = ra.gw.v4;
		} else {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)gw;
			s->sin6_family = AF_INET6;
			s->sin6_addr = ra.gw.v6;
		}
	}
	return 0;
}

/* A host route (/32, /128) covering exactly the address in sa. */
static void host_prefix(const struct sockaddr *sa, struct cfg_prefix *p)
{
	size_t alen = netif_nl_addr_len(sa->sa_family);

	memset(p, 0, sizeof(*p));
	p->family = sa->sa_family;
	memcpy(&p->addr, netif_nl_sa_addr(sa), alen);
	p->plen = (uint8_t)(alen * 8);
}

/* Adds a route and records it; if it cannot be recorded it is removed
 * again, so nothing is left that shutdown would not undo. */
static int add_recorded(struct netif_undo *u, const struct cfg_prefix *dst,
			const char *ifname, const struct sockaddr *gw,
			struct err *e)
{
	char ps[NETIF_ADDRSTRLEN];
	struct err e2;
	int r = netif_route_add(dst, ifname, gw, 0, e);

	if (r < 0)
		return r;
	r = netif_undo_route(u, dst, ifname, gw, 0);
	if (r < 0) {
		if (netif_route_del(dst, ifname, gw, 0, &e2) < 0)
			log_warn("netif", "%s", e2.msg);
		return err_set(e, r, "netif: recording route %s: %s",
			       netif_nl_prefix_str(dst, ps), strerror(-r));
	}
	return 0;
}

/* Pins the server endpoint to the route the kernel uses for it now. */
static int pin_server(struct netif_undo *u, const char *tun_ifname,
		      const struct sockaddr *server, struct err *e)
{
	char ifname[IFNAMSIZ], ss[NETIF_ADDRSTRLEN];
	struct sockaddr_storage gw;
	struct cfg_prefix host;
	bool has_gw;
	int r = netif_route_get(server, NULL, &gw, &has_gw, ifname, e);

	if (r < 0)
		return r;
	if (strcmp(ifname, tun_ifname) == 0)
		return err_set(e, -ELOOP,
			       "netif: server %s is already routed through "
			       "the tunnel %s; its packets would loop",
			       netif_nl_sa_str(server, ss), tun_ifname);
	host_prefix(server, &host);
	r = add_recorded(u, &host, ifname,
			 has_gw ? (const struct sockaddr *)&gw : NULL, e);
	if (r == -EEXIST) {
		/* The lookup above already chose that host route. */
		log_info("netif", "server %s already has a host route via %s",
			 netif_nl_sa_str(server, ss), ifname);
		return 0;
	}
	return r;
}

/* 0.0.0.0/1 or 128.0.0.0/1 (::/1 or 8000::/1): the lower or upper half. */
static void half_prefix(int family, bool upper, struct cfg_prefix *p)
{
	memset(p, 0, sizeof(*p));
	p->family = family;
	p->plen = 1;
	/* The first byte of the address in network order, either family. */
	if (upper)
		((uint8_t *)&p->addr)[0] = 0x80;
}

int netif_route_all_via(struct netif_undo *u, const char *tun_ifname,
			const struct sockaddr *const *server_addrs, size_t n,
			int want_v6, struct err *e)
{
	int r = netif_nl_ifindex(tun_ifname, e);

	if (r < 0)
		return r;
	if (!u)
		return err_set(e, -EINVAL,
			       "netif: route all via %s: no undo log",
			       tun_ifname);
	if (n && !server_addrs)
		return err_set(e, -EINVAL, "netif: no server addresses given");
	for (size_t i = 0; i < n; i++) {
		if (!netif_nl_sa_addr(server_addrs[i]))
			return err_set(e, -EAFNOSUPPORT,
				       "netif: server address %zu: expected "
				       "IPv4 or IPv6",
				       i);
		r = pin_server(u, tun_ifname, server_addrs[i], e);
		if (r < 0)
			return r;
	}
	/* Two halves beat any default route by prefix length and leave the
	 * original one in place, for the pinned routes and for afterwards. */
	for (int i = 0; i < 4; i++) {
		struct cfg_prefix half;
		int family = i < 2 ? AF_INET : AF_INET6;
		if (family == AF_INET6 && !want_v6)
			break;
		half_prefix(family, i % 2, &half);
		r = add_recorded(u, &half, tun_ifname, NULL, e);
		if (r < 0)
			return r;
	}
	return 0;
}
