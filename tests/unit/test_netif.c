/*
 * netif tests against the real kernel. Each case that changes anything
 * runs in a forked child inside a fresh network namespace
 * (unshare(CLONE_NEWNET)), so the host's interfaces and routes are never
 * touched and everything the test made vanishes with the child; the child
 * reports through its exit status and prints the failing check. Needs root
 * (CI is root); skipped otherwise. Bad-input cases fail before any change
 * and also run without root.
 *
 *   client netns (per test)
 *   +------------------------------------------------------------+
 *   |  ttt0 (tun) 10.77.0.2/30 fd77::2/64                        |
 *   |  va 192.0.2.1/24 2001:db8::1/64 <== veth ==> vb            |
 *   |  default via 192.0.2.254 / 2001:db8::fe dev va  (uplink)   |
 *   +------------------------------------------------------------+
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "os/netif.h"
#include "os/netif_nl.h"
#include "os/tun.h"

#include "netns_child.h"

static struct cfg_prefix pfx(const char *s, int plen)
{
	struct cfg_prefix p = {0};
	p.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(p.family, s, &p.addr) != 1)
		p.family = -1;
	p.plen = (uint8_t)plen;
	return p;
}

static struct sockaddr_storage sa(const char *s)
{
	struct sockaddr_storage ss = {0};
	if (strchr(s, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(5800);
		if (inet_pton(AF_INET6, s, &s6->sin6_addr) != 1)
			ss.ss_family = AF_UNSPEC;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(5800);
		if (inet_pton(AF_INET, s, &s4->sin_addr) != 1)
			ss.ss_family = AF_UNSPEC;
	}
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

/* ---- test helpers: make and delete interfaces through netlink ---- */

static int veth_create(const char *a, const char *b)
{
	char buf[NETIF_REQ_SIZE], ext[128];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, a);
	struct nlattr *linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	struct ifinfomsg *pifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	pifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, b);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	int r = netif_nl_talk(nlh, NULL, NULL, ext, sizeof(ext));
	if (r < 0)
		fprintf(stderr, "veth %s/%s: %s %s\n", a, b, strerror(-r), ext);
	return r;
}

static int link_del(const char *name)
{
	char buf[NETIF_REQ_SIZE], ext[128];
	int idx = netif_index(name);
	if (idx < 0)
		return idx;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_DELLINK;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = idx;
	return netif_nl_talk(nlh, NULL, NULL, ext, sizeof(ext));
}

/* The uplink of the drawing: veth va/vb up, addresses, default routes. */
static int uplink_setup(void)
{
	struct err e = {{0}};
	struct cfg_prefix a4 = pfx("192.0.2.1", 24),
			  a6 = pfx("2001:db8::1", 64);
	struct cfg_prefix def4 = pfx("0.0.0.0", 0), def6 = pfx("::", 0);
	struct sockaddr_storage gw4 = sa("192.0.2.254"),
				gw6 = sa("2001:db8::fe");

	OK(veth_create("va", "vb"));
	OK(netif_set_up("va", true, &e));
	OK(netif_set_up("vb", true, &e));
	OK(netif_addr_add("va", &a4, &e));
	OK(netif_addr_add("va", &a6, &e));
	OK(netif_route_add(&def4, "va", SA(gw4), 0, &e));
	OK(netif_route_add(&def6, "va", SA(gw6), 0, &e));
	return 0;
}

/* tun "ttt0" (mtu 1420, up, 10.77.0.2/30, fd77::2/64); returns its fd. */
static int tun_setup(void)
{
	struct err e = {{0}};
	char name[IFNAMSIZ] = "ttt0";
	struct cfg_prefix a4 = pfx("10.77.0.2", 30), a6 = pfx("fd77::2", 64);
	int fd = tun_open(name, &e);

	if (fd < 0) {
		fprintf(stderr, "tun_open: %s\n", e.msg);
		return -1;
	}
	if (netif_set_mtu(name, 1420, &e) < 0 ||
	    netif_set_up(name, true, &e) < 0 ||
	    netif_addr_add(name, &a4, &e) < 0 ||
	    netif_addr_add(name, &a6, &e) < 0) {
		fprintf(stderr, "tun setup: %s\n", e.msg);
		tun_close(fd);
		return -1;
	}
	return fd;
}

/* Whether getifaddrs() lists address s on ifname. */
static bool has_addr(const char *ifname, const char *s)
{
	struct ifaddrs *ifa, *i;
	struct cfg_prefix want = pfx(s, 0);
	bool found = false;

	if (getifaddrs(&ifa) < 0)
		return false;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, ifname) != 0 ||
		    i->ifa_addr->sa_family != want.family)
			continue;
		size_t len = netif_nl_addr_len(want.family);
		if (memcmp(netif_nl_sa_addr(i->ifa_addr), &want.addr, len) == 0)
			found = true;
	}
	freeifaddrs(ifa);
	return found;
}

/* ---- route table snapshot: main table, not the kernel's own ---- */

#define MAX_ROUTES 32

struct route_list {
	char r[MAX_ROUTES][192];
	int n;
};

struct route_row {
	const struct rtmsg *rtm;
	char dst[NETIF_ADDRSTRLEN], gw[NETIF_ADDRSTRLEN];
	uint32_t oif, prio, table;
};

static int row_attr_cb(const struct nlattr *a, void *data)
{
	struct route_row *w = data;
	int fam = w->rtm->rtm_family;

	switch (mnl_attr_get_type(a)) {
	case RTA_DST:
		inet_ntop(fam, mnl_attr_get_payload(a), w->dst, sizeof(w->dst));
		break;
	case RTA_GATEWAY:
		inet_ntop(fam, mnl_attr_get_payload(a), w->gw, sizeof(w->gw));
		break;
	case RTA_OIF:
		w->oif = mnl_attr_get_u32(a);
		break;
	case RTA_PRIORITY:
		w->prio = mnl_attr_get_u32(a);
		break;
	case RTA_TABLE:
		w->table = mnl_attr_get_u32(a);
		break;
	}
	return MNL_CB_OK;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_list *l = data;
	struct route_row w = {.rtm = mnl_nlmsg_get_payload(nlh)};

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	w.table = w.rtm->rtm_table;
	strcpy(w.dst, w.rtm->rtm_family == AF_INET ? "0.0.0.0" : "::");
	strcpy(w.gw, "-");
	mnl_attr_parse(nlh, sizeof(*w.rtm), row_attr_cb, &w);
	if (w.table != RT_TABLE_MAIN || w.rtm->rtm_protocol == RTPROT_KERNEL)
		return MNL_CB_OK;
	char ifname[IFNAMSIZ] = "?";
	if (!if_indextoname(w.oif, ifname))
		strcpy(ifname, "?");
	if (l->n < MAX_ROUTES)
		snprintf(l->r[l->n++], sizeof(l->r[0]),
			 "%s/%u via %s dev %s %u", w.dst, w.rtm->rtm_dst_len,
			 w.gw, ifname, w.prio);
	return MNL_CB_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Routes we (not the kernel) put in the main table, sorted. */
static int route_snapshot(struct route_list *l)
{
	char ext[128];
	memset(l, 0, sizeof(*l));
	for (int fam = AF_INET; fam; fam = fam == AF_INET ? AF_INET6 : 0) {
		char buf[NETIF_REQ_SIZE];
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = RTM_GETROUTE;
		nlh->nlmsg_flags = NLM_F_DUMP;
		struct rtmsg *rtm =
		    mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		rtm->rtm_family = (uint8_t)fam;
		int r = netif_nl_talk(nlh, dump_cb, l, ext, sizeof(ext));
		if (r < 0)
			return r;
	}
	qsort(l->r, (size_t)l->n, sizeof(l->r[0]), cmp_str);
	return 0;
}

static bool has_route(const struct route_list *l, const char *s)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->r[i], s) == 0)
			return true;
	return false;
}

static void print_routes(const char *what, const struct route_list *l)
{
	fprintf(stderr, "%s:\n", what);
	for (int i = 0; i < l->n; i++)
		fprintf(stderr, "  %s\n", l->r[i]);
}

/* route_get and a check of its answer in one. */
static int expect_route(const char *dst, const char *oif, const char *dev,
			const char *gw)
{
	struct err e = {{0}};
	struct sockaddr_storage d = sa(dst), g;
	char ifname[IFNAMSIZ], gs[NETIF_ADDRSTRLEN];
	bool has_gw = true;

	OK(netif_route_get(SA(d), oif, &g, &has_gw, ifname, &e));
	if (strcmp(ifname, dev) != 0 || has_gw != (gw != NULL) ||
	    (gw && strcmp(netif_nl_sa_str(SA(g), gs), gw) != 0)) {
		fprintf(stderr, "route to %s: dev %s gw %s, expected %s %s\n",
			dst, ifname, has_gw ? netif_nl_sa_str(SA(g), gs) : "-",
			dev, gw ? gw : "-");
		return 1;
	}
	return 0;
}

/* ---- bad inputs: refused before anything is changed ---- */

static void test_bad_names(void **state)
{
	struct err e = {{0}};
	char missing[IFNAMSIZ];
	uint32_t mtu;

	assert_int_equal(netif_index(NULL), -EINVAL);
	assert_int_equal(netif_index(""), -EINVAL);
	assert_int_equal(netif_index("0123456789abcdefXYZ"), -EINVAL);
	assert_int_equal(netif_index("a/b"), -EINVAL);
	assert_true(netif_index("lo") > 0);

	snprintf(missing, sizeof(missing), "nx%d", (int)getpid() % 100000);
	assert_int_equal(netif_index(missing), -ENODEV);
	assert_int_equal(netif_set_mtu(missing, 1400, &e), -ENODEV);
	assert_non_null(strstr(e.msg, missing));
	memset(&e, 0, sizeof(e));
	assert_int_equal(netif_get_mtu(missing, &mtu, &e), -ENODEV);
	assert_non_null(strstr(e.msg, missing));
	memset(&e, 0, sizeof(e));
	assert_int_equal(netif_set_up(missing, true, &e), -ENODEV);
	assert_non_null(strstr(e.msg, missing));
	struct cfg_prefix p = pfx("10.1.2.3", 24);
	memset(&e, 0, sizeof(e));
	assert_int_equal(netif_addr_add(missing, &p, &e), -ENODEV);
	assert_non_null(strstr(e.msg, missing));
	memset(&e, 0, sizeof(e));
	assert_int_equal(netif_route_add(&p, missing, NULL, 0, &e), -ENODEV);
	assert_non_null(strstr(e.msg, missing));
	memset(&e, 0, sizeof(e));
	assert_int_equal(netif_route_all_via(NULL, missing, NULL, 0, 0, &e),
			 -ENODEV);
	assert_non_null(strstr(e.msg, missing));
	memset(&e, 0, sizeof(e));
	assert_int_equal(netif_set_up("way-too-long-name0", true, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "way-too-long-name0"));
	struct sockaddr_storage d = sa("192.0.2.1");
	char ifname[IFNAMSIZ];
	bool has_gw;
	memset(&e, 0, sizeof(e));
	assert_int_equal(
	    netif_route_get(SA(d), missing, NULL, &has_gw, ifname, &e),
	    -ENODEV);
	assert_non_null(strstr(e.msg, missing));
}

static void test_bad_values(void **state)
{
	struct err e = {{0}};
	struct cfg_prefix p;

	/* MTU below what IPv4 needs: refused here, nothing sent. */
	assert_int_equal(netif_set_mtu("lo", 0, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "lo"));
	assert_int_equal(netif_set_mtu("lo", 67, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "67"));

	p = pfx("10.1.2.3", 33);
	assert_int_equal(netif_addr_add("lo", &p, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "33"));
	p = pfx("fd00::1", 129);
	assert_int_equal(netif_addr_del("lo", &p, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "129"));
	assert_int_equal(netif_route_add(&p, "lo", NULL, 0, &e), -EINVAL);
	p.family = AF_UNIX;
	p.plen = 8;
	assert_int_equal(netif_addr_add("lo", &p, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "family"));
	assert_int_equal(netif_addr_add("lo", NULL, &e), -EINVAL);
	assert_int_equal(netif_route_del(NULL, "lo", NULL, 0, &e), -EINVAL);

	/* A gateway of the other family. */
	struct sockaddr_storage gw6 = sa("fd00::fe");
	p = pfx("10.9.0.0", 16);
	assert_int_equal(netif_route_add(&p, "lo", SA(gw6), 0, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "gateway"));

	/* Lookups of something that is not an IP address. */
	struct sockaddr_storage unix_sa = {.ss_family = AF_UNIX};
	char ifname[IFNAMSIZ];
	bool has_gw;
	assert_int_equal(
	    netif_route_get(SA(unix_sa), NULL, NULL, &has_gw, ifname, &e),
	    -EAFNOSUPPORT);
	assert_int_equal(netif_route_get(NULL, NULL, NULL, &has_gw, ifname, &e),
			 -EAFNOSUPPORT);
	const struct sockaddr *servers[] = {SA(unix_sa)};
	struct netif_undo *u;
	assert_int_equal(netif_undo_create(&u), 0);
	assert_int_equal(netif_route_all_via(u, "lo", servers, 1, 0, &e),
			 -EAFNOSUPPORT);
	assert_int_equal(netif_route_all_via(u, "lo", NULL, 1, 0, &e), -EINVAL);
	assert_int_equal(netif_route_all_via(NULL, "lo", servers, 1, 0, &e),
			 -EINVAL);
	assert_non_null(strstr(e.msg, "undo"));
	assert_int_equal(netif_undo_count(u), 0);
	netif_undo_destroy(u);
}

static void test_undo_log_inputs(void **state)
{
	struct netif_undo *u;
	struct cfg_prefix p = pfx("10.1.2.0", 24);
	struct sockaddr_storage gw6 = sa("fd00::1"), gw4 = sa("10.1.2.1");

	assert_int_equal(netif_undo_create(&u), 0);
	assert_int_equal(netif_undo_route(u, NULL, "lo", NULL, 0), -EINVAL);
	assert_int_equal(netif_undo_route(u, &p, "", NULL, 0), -EINVAL);
	assert_int_equal(netif_undo_route(u, &p, "0123456789abcdefX", NULL, 0),
			 -EINVAL);
	assert_int_equal(netif_undo_route(u, &p, "lo", SA(gw6), 0), -EINVAL);
	assert_int_equal(netif_undo_addr(u, "lo", NULL), -EINVAL);
	assert_int_equal(netif_undo_count(u), 0);
	/* Enough to make the log grow several times. */
	for (int i = 0; i < 40; i++)
		assert_int_equal(netif_undo_route(u, &p, "lo", SA(gw4), 7), 0);
	assert_int_equal(netif_undo_mtu(u, "lo", 1500), 0);
	assert_int_equal(netif_undo_up(u, "lo", true), 0);
	assert_int_equal(netif_undo_addr(u, "lo", &p), 0);
	assert_int_equal(netif_undo_count(u), 43);
	assert_int_equal(netif_undo_count(NULL), 0);
	netif_undo_destroy(u);
	netif_undo_destroy(NULL);
	netif_undo_run(NULL);
}

/* ---- in a namespace ---- */

static int body_mtu_up(void)
{
	struct err e = {{0}};
	struct netif_event ev;
	char name[IFNAMSIZ] = "ttt%d";
	uint32_t mtu = 0;
	int fd = tun_open(name, &e);

	OK(fd);
	CHECK(strcmp(name, "ttt0") == 0);
	OK(netif_get_link(name, &ev, &e));
	CHECK(!ev.up && ev.exists && ev.ifindex == netif_index(name));
	CHECK(strcmp(ev.ifname, "ttt0") == 0);
	OK(netif_set_mtu(name, 1420, &e));
	OK(netif_set_up(name, true, &e));
	OK(netif_get_mtu(name, &mtu, &e));
	CHECK(mtu == 1420);
	OK(netif_get_link(name, &ev, &e));
	CHECK(ev.up && ev.running); /* a tun with its fd open has carrier */

	/* Above the device maximum: the kernel says no, and why. */
	CHECK(netif_set_mtu(name, 100000, &e) == -EINVAL);
	CHECK(strstr(e.msg, "100000") && strstr(e.msg, "ttt0"));
	OK(netif_get_mtu(name, &mtu, &e));
	CHECK(mtu == 1420);

	OK(netif_set_up(name, false, &e));
	OK(netif_get_link(name, &ev, &e));
	CHECK(!ev.up && !ev.running);
	OK(tun_close(fd));
	CHECK(netif_get_mtu(name, &mtu, &e) == -ENODEV);
	return 0;
}

static void test_mtu_up(void **state)
{
	in_netns(body_mtu_up);
}

static int body_addrs(void)
{
	struct err e = {{0}};
	struct cfg_prefix a4 = pfx("10.77.0.2", 30), a6 = pfx("fd77::2", 64);
	int fd = tun_setup();

	CHECK(fd >= 0);
	CHECK(has_addr("ttt0", "10.77.0.2") && has_addr("ttt0", "fd77::2"));
	CHECK(!has_addr("ttt0", "10.77.0.1"));
	/* Adding again is not an error (a restarted daemon). */
	OK(netif_addr_add("ttt0", &a4, &e));
	OK(netif_addr_del("ttt0", &a4, &e));
	CHECK(!has_addr("ttt0", "10.77.0.2") && has_addr("ttt0", "fd77::2"));
	CHECK(netif_addr_del("ttt0", &a4, &e) == -EADDRNOTAVAIL);
	CHECK(strstr(e.msg, "10.77.0.2/30") && strstr(e.msg, "ttt0"));
	OK(netif_addr_del("ttt0", &a6, &e));
	CHECK(!has_addr("ttt0", "fd77::2"));
	OK(tun_close(fd));
	return 0;
}

static void test_addrs(void **state)
{
	in_netns(body_addrs);
}

static int body_routes(void)
{
	struct err e = {{0}};
	struct cfg_prefix a4 = pfx("192.0.2.1", 24),
			  a6 = pfx("2001:db8::1", 64);
	struct cfg_prefix r4 = pfx("198.51.100.0", 24),
			  r6 = pfx("2001:db8:5::", 48),
			  onlink = pfx("203.0.113.0", 24);
	struct sockaddr_storage gw4 = sa("192.0.2.254"),
				gw6 = sa("2001:db8::fe");
	struct sockaddr_storage d = sa("203.0.113.9");
	char ifname[IFNAMSIZ];
	bool has_gw;

	OK(veth_create("va", "vb"));
	OK(netif_set_up("va", true, &e));
	OK(netif_set_up("vb", true, &e));
	OK(netif_addr_add("va", &a4, &e));
	OK(netif_addr_add("va", &a6, &e));

	OK(netif_route_add(&r4, "va", SA(gw4), 50, &e));
	CHECK(expect_route("198.51.100.7", NULL, "va", "192.0.2.254") == 0);
	/* Restricted to another interface, the kernel answers for that one. */
	CHECK(expect_route("198.51.100.7", "vb", "vb", NULL) == 0);
	CHECK(netif_route_add(&r4, "va", SA(gw4), 50, &e) == -EEXIST);
	CHECK(strstr(e.msg, "198.51.100.0/24") && strstr(e.msg, "192.0.2.254"));

	CHECK(netif_route_get(SA(d), NULL, NULL, &has_gw, ifname, &e) ==
	      -ENETUNREACH);
	CHECK(strstr(e.msg, "203.0.113.9") != NULL);
	OK(netif_route_add(&onlink, "va", NULL, 0, &e));
	CHECK(expect_route("203.0.113.9", NULL, "va", NULL) == 0);
	OK(netif_route_del(&onlink, "va", NULL, 0, &e));
	CHECK(netif_route_get(SA(d), NULL, NULL, &has_gw, ifname, &e) ==
	      -ENETUNREACH);
	CHECK(netif_route_del(&onlink, "va", NULL, 0, &e) == -ESRCH);
	CHECK(strstr(e.msg, "203.0.113.0/24") != NULL);

	OK(netif_route_add(&r6, "va", SA(gw6), 0, &e));
	CHECK(expect_route("2001:db8:5::1", NULL, "va", "2001:db8::fe") == 0);
	OK(netif_route_del(&r6, "va", SA(gw6), 0, &e));
	OK(netif_route_del(&r4, "va", SA(gw4), 50, &e));
	CHECK(netif_route_get(SA(gw4), NULL, NULL, &has_gw, ifname, &e) == 0);
	CHECK(!has_gw && strcmp(ifname, "va") == 0); /* connected route */
	d = sa("198.51.100.7");
	CHECK(netif_route_get(SA(d), NULL, NULL, NULL, ifname, &e) ==
	      -ENETUNREACH);
	return 0;
}

static void test_routes(void **state)
{
	in_netns(body_routes);
}

static int body_route_all_via(void)
{
	struct err e = {{0}};
	struct route_list before, during, after;
	struct netif_undo *u = NULL;
	struct sockaddr_storage s4 = sa("198.51.100.7"),
				s6 = sa("2001:db8:1::7");
	const struct sockaddr *servers[] = {SA(s4), SA(s6), SA(s4)};

	CHECK(uplink_setup() == 0);
	int fd = tun_setup();
	CHECK(fd >= 0);
	OK(route_snapshot(&before));
	CHECK(before.n == 2);
	CHECK(expect_route("8.8.8.8", NULL, "va", "192.0.2.254") == 0);

	OK(netif_undo_create(&u));
	/* The duplicate server address is pinned once, not refused. */
	OK(netif_route_all_via(u, "ttt0", servers, 3, 1, &e));
	CHECK(netif_undo_count(u) == 6);
	OK(route_snapshot(&during));
	if (during.n != 8)
		print_routes("during", &during);
	CHECK(during.n == 8);
	CHECK(has_route(&during, "198.51.100.7/32 via 192.0.2.254 dev va 0"));
	CHECK(has_route(&during,
			"2001:db8:1::7/128 via 2001:db8::fe dev va 1024"));
	CHECK(has_route(&during, "0.0.0.0/1 via - dev ttt0 0"));
	CHECK(has_route(&during, "128.0.0.0/1 via - dev ttt0 0"));
	CHECK(has_route(&during, "::/1 via - dev ttt0 1024"));
	CHECK(has_route(&during, "8000::/1 via - dev ttt0 1024"));
	/* Everything goes into the tunnel except the tunnel itself. */
	CHECK(expect_route("8.8.8.8", NULL, "ttt0", NULL) == 0);
	CHECK(expect_route("198.51.100.8", NULL, "ttt0", NULL) == 0);
	CHECK(expect_route("2606:4700::1", NULL, "ttt0", NULL) == 0);
	CHECK(expect_route("198.51.100.7", NULL, "va", "192.0.2.254") == 0);
	CHECK(expect_route("2001:db8:1::7", NULL, "va", "2001:db8::fe") == 0);

	/* Now the server is reached through the tun: that would loop. */
	struct sockaddr_storage s_other = sa("203.0.113.5");
	const struct sockaddr *looped[] = {SA(s_other)};
	CHECK(netif_route_all_via(u, "ttt0", looped, 1, 0, &e) == -ELOOP);
	CHECK(strstr(e.msg, "203.0.113.5") && strstr(e.msg, "ttt0"));
	CHECK(netif_undo_count(u) == 6);

	netif_undo_run(u);
	CHECK(netif_undo_count(u) == 0);
	OK(route_snapshot(&after));
	if (after.n != before.n) {
		print_routes("before", &before);
		print_routes("after", &after);
	}
	CHECK(after.n == before.n);
	for (int i = 0; i < before.n; i++)
		CHECK(strcmp(before.r[i], after.r[i]) == 0);
	CHECK(expect_route("8.8.8.8", NULL, "va", "192.0.2.254") == 0);

	/* v4 only this time. */
	OK(netif_route_all_via(u, "ttt0", servers, 1, 0, &e));
	CHECK(netif_undo_count(u) == 3);
	CHECK(expect_route("2606:4700::1", NULL, "va", "2001:db8::fe") == 0);
	CHECK(expect_route("8.8.8.8", NULL, "ttt0", NULL) == 0);
	netif_undo_run(u);
	CHECK(expect_route("8.8.8.8", NULL, "va", "192.0.2.254") == 0);
	netif_undo_destroy(u);
	OK(tun_close(fd));
	return 0;
}

static void test_route_all_via(void **state)
{
	in_netns(body_route_all_via);
}

static int body_undo(void)
{
	struct err e = {{0}};
	struct netif_undo *u = NULL;
	struct cfg_prefix a = pfx("192.0.2.77", 24), r = pfx("10.5.0.0", 16);
	struct netif_event ev;
	struct sockaddr_storage d = sa("10.5.0.1");
	char ifname[IFNAMSIZ];
	bool has_gw;
	uint32_t mtu;

	OK(veth_create("va", "vb"));
	OK(netif_set_up("va", true, &e)); /* not recorded: stays up */
	OK(netif_undo_create(&u));
	/* The daemon's order: record the old state, then change it. */
	OK(netif_get_mtu("va", &mtu, &e));
	CHECK(mtu == 1500);
	OK(netif_undo_mtu(u, "va", mtu));
	OK(netif_set_mtu("va", 1400, &e));
	OK(netif_undo_up(u, "vb", false));
	OK(netif_set_up("vb", true, &e));
	OK(netif_addr_add("va", &a, &e));
	OK(netif_undo_addr(u, "va", &a));
	OK(netif_route_add(&r, "va", NULL, 0, &e));
	OK(netif_undo_route(u, &r, "va", NULL, 0));
	CHECK(expect_route("10.5.0.1", NULL, "va", NULL) == 0);
	int fd = tun_setup();
	CHECK(fd >= 0);
	struct cfg_prefix rt = pfx("10.6.0.0", 16);
	OK(netif_route_add(&rt, "ttt0", NULL, 0, &e));
	OK(netif_undo_route(u, &rt, "ttt0", NULL, 0));
	/* The tun goes first (as on a crash): its undo fails, the rest
	 * must still be undone. */
	OK(tun_close(fd));
	CHECK(netif_undo_count(u) == 5);
	netif_undo_run(u);
	CHECK(netif_undo_count(u) == 0);
	CHECK(netif_route_get(SA(d), NULL, NULL, &has_gw, ifname, &e) ==
	      -ENETUNREACH);
	CHECK(!has_addr("va", "192.0.2.77"));
	OK(netif_get_mtu("va", &mtu, &e));
	CHECK(mtu == 1500);
	OK(netif_get_link("va", &ev, &e));
	CHECK(ev.up);
	OK(netif_get_link("vb", &ev, &e));
	CHECK(!ev.up);
	/* Running it again has nothing left to do. */
	netif_undo_run(u);
	CHECK(netif_undo_count(u) == 0);
	netif_undo_destroy(u);
	return 0;
}

static void test_undo(void **state)
{
	in_netns(body_undo);
}

/* ---- the monitor ---- */

#define MAX_EVENTS 256

struct ev_log {
	struct netif_event v[MAX_EVENTS];
	int n;
};

static void log_event(void *arg, const struct netif_event *ev)
{
	struct ev_log *l = arg;
	if (l->n < MAX_EVENTS)
		l->v[l->n++] = *ev;
}

/* The first link event for ifname at or after index *from matching the
 * wanted state, reading more as needed (up to 5 s); its index or -1. */
static int wait_link(int fd, struct ev_log *l, int *from, const char *ifname,
		     bool exists, bool up)
{
	for (int tries = 0; tries < 50; tries++) {
		for (; *from < l->n; (*from)++) {
			const struct netif_event *ev = &l->v[*from];
			if (ev->type == NETIF_EV_LINK &&
			    strcmp(ev->ifname, ifname) == 0 &&
			    ev->exists == exists && ev->up == up)
				return (*from)++;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) < 0)
			return -1;
		if (netif_monitor_read(fd, log_event, l) < 0)
			return -1;
	}
	return -1;
}

static int body_monitor(void)
{
	struct err e = {{0}};
	struct ev_log *l = calloc(1, sizeof(*l));
	struct cfg_prefix a = pfx("192.0.2.9", 24);
	int at = 0, fd = netif_monitor_open(&e);

	CHECK(l);
	OK(fd);
	/* Nothing happened yet: drained at once. */
	CHECK(netif_monitor_read(fd, log_event, l) == 0 && l->n == 0);
	OK(veth_create("vm0", "vm1"));
	int i = wait_link(fd, l, &at, "vm0", true, false);
	CHECK(i >= 0);
	CHECK(l->v[i].ifindex == netif_index("vm0"));
	OK(netif_set_up("vm0", true, &e));
	CHECK(wait_link(fd, l, &at, "vm0", true, true) >= 0);
	OK(netif_addr_add("vm0", &a, &e));
	bool seen_addr = false;
	for (int tries = 0; tries < 50 && !seen_addr; tries++) {
		for (int k = at; k < l->n; k++)
			if (l->v[k].type == NETIF_EV_ADDR && l->v[k].exists &&
			    l->v[k].addr.family == AF_INET &&
			    l->v[k].addr.plen == 24 &&
			    l->v[k].addr.addr.v4.s_addr == a.addr.v4.s_addr &&
			    strcmp(l->v[k].ifname, "vm0") == 0)
				seen_addr = true;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		CHECK(poll(&p, 1, 100) >= 0);
		CHECK(netif_monitor_read(fd, log_event, l) == 0);
	}
	CHECK(seen_addr);
	OK(netif_set_up("vm0", false, &e));
	CHECK(wait_link(fd, l, &at, "vm0", true, false) >= 0);
	OK(link_del("vm0"));
	i = wait_link(fd, l, &at, "vm0", false, false);
	CHECK(i >= 0);
	CHECK(l->v[i].ifindex > 0);
	CHECK(close(fd) == 0);
	free(l);
	return 0;
}

static void test_monitor(void **state)
{
	in_netns(body_monitor);
}

/* A monitor that is not read for a while overruns: the caller is told
 * (-ENOBUFS, so it resyncs) and the socket stays usable. */
static int body_monitor_overrun(void)
{
	struct err e = {{0}};
	struct ev_log *l = calloc(1, sizeof(*l));
	int small = 1, fd = netif_monitor_open(&e);

	CHECK(l);
	OK(fd);
	CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) ==
	      0);
	for (int i = 0; i < 10; i++) {
		OK(veth_create("vo0", "vo1"));
		OK(link_del("vo0"));
	}
	CHECK(netif_monitor_read(fd, log_event, l) == -ENOBUFS);
	/* Still works afterwards (with room for a veth's burst again). */
	int big = 1 << 20;
	CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)) == 0);
	l->n = 0;
	CHECK(netif_monitor_read(fd, log_event, l) == 0);
	OK(veth_create("vo0", "vo1"));
	int at = 0;
	CHECK(wait_link(fd, l, &at, "vo0", true, false) >= 0);
	CHECK(close(fd) == 0);
	free(l);
	return 0;
}

static void test_monitor_overrun(void **state)
{
	in_netns(body_monitor_overrun);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_names),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_undo_log_inputs),
	    cmocka_unit_test(test_mtu_up),
	    cmocka_unit_test(test_addrs),
	    cmocka_unit_test(test_routes),
	    cmocka_unit_test(test_route_all_via),
	    cmocka_unit_test(test_undo),
	    cmocka_unit_test(test_monitor),
	    cmocka_unit_test(test_monitor_overrun),
	};
	log_init("test_netif", LOG_WARNING, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
