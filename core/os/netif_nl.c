/*
 * One rtnetlink round trip per configuration change. A fresh socket per
 * request keeps the code stateless (these run a handful of times at start
 * and stop) and means a stale answer from an earlier request can never be
 * mistaken for this one's. Extended acks are asked for so the user sees the
 * kernel's own reason ("mtu greater than device maximum"), not just EINVAL.
 */
#include "os/netif_nl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "os/netif.h"

/* Dumps come in chunks of up to 32 KiB when the reader's buffer allows. */
#define NETIF_RECV_SIZE 32768

struct nl_talk {
	mnl_cb_t cb;
	void *data;
	int err;
	char *ext;
	size_t extlen;
};

static int ext_attr_cb(const struct nlattr *a, void *data)
{
	struct nl_talk *t = data;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
		snprintf(t->ext, t->extlen, "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

/* NLMSG_ERROR is both the ACK (error 0) and the failure report. */
static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_talk *t = data;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		t->err = -EBADMSG;
		return MNL_CB_ERROR;
	}
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		size_t off = sizeof(*err);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
		if (mnl_nlmsg_size(off) <= nlh->nlmsg_len &&
		    mnl_attr_parse(nlh, off, ext_attr_cb, t) < 0)
			log_debug("netif", "malformed extended ack ignored");
	}
	if (err->error == 0)
		return MNL_CB_STOP;
	t->err = err->error < 0 ? err->error : -err->error;
	return MNL_CB_ERROR;
}

static int noop_cb(const struct nlmsghdr *nlh, void *data)
{
	return MNL_CB_OK;
}

static int done_cb(const struct nlmsghdr *nlh, void *data)
{
	return MNL_CB_STOP;
}

static int overrun_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_talk *t = data;

	t->err = -ENOBUFS;
	return MNL_CB_ERROR;
}

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_talk *t = data;

	if (!t->cb)
		return MNL_CB_OK;
	int r = t->cb(nlh, t->data);
	if (r == MNL_CB_ERROR && t->err == 0)
		t->err = errno ? -errno : -EPROTO;
	return r;
}

/* Not const only because mnl_cb_run2() takes a non-const array. */
static mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
    [NLMSG_NOOP] = noop_cb,
    [NLMSG_ERROR] = error_cb,
    [NLMSG_DONE] = done_cb,
    [NLMSG_OVERRUN] = overrun_cb,
};

int netif_nl_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data, char *ext,
		  size_t extlen)
{
	static unsigned int seq_counter;
	struct nl_talk t = {
	    .cb = cb, .data = data, .ext = ext, .extlen = extlen};
	struct mnl_socket *nl;
	char *buf = NULL;
	int one = 1, ret;

	if (extlen)
		ext[0] = '\0';
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	/* Both are optional comforts: old kernels simply give less detail. */
	if (mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one)) < 0)
		log_debug("netif", "NETLINK_EXT_ACK: %s", strerror(errno));
	if (mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one)) < 0)
		log_debug("netif", "NETLINK_CAP_ACK: %s", strerror(errno));

	buf = malloc(NETIF_RECV_SIZE);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	unsigned int portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (unsigned int)time(NULL) + ++seq_counter;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, NETIF_RECV_SIZE);
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		errno = 0;
		int r = mnl_cb_run2(buf, (size_t)n, nlh->nlmsg_seq, portid,
				    data_cb, &t, ctl_cbs, NLMSG_MIN_TYPE);
		if (r < 0) {
			ret = t.err ? t.err : (errno ? -errno : -EPROTO);
			goto out;
		}
		if (r == MNL_CB_STOP)
			break;
	}
	ret = 0;
out:
	free(buf);
	if (mnl_socket_close(nl) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

int netif_nl_err(struct err *e, int r, const char *ext, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (ext && ext[0])
		return err_set(e, r, "%s: %s (kernel: %s)", what, strerror(-r),
			       ext);
	return err_set(e, r, "%s: %s", what, strerror(-r));
}

int netif_nl_ifindex(const char *ifname, struct err *e)
{
	int r = netif_index(ifname);

	if (r == -EINVAL)
		return err_set(e, r,
			       "netif: bad interface name \"%s\": expected 1 "
			       "to %d characters without '/' or spaces",
			       ifname ? ifname : "(null)", IFNAMSIZ - 1);
	if (r < 0)
		return err_set(e, r, "netif: no interface named \"%s\"",
			       ifname);
	return r;
}

size_t netif_nl_addr_len(int family)
{
	switch (family) {
	case AF_INET:
		return sizeof(struct in_addr);
	case AF_INET6:
		return sizeof(struct in6_addr);
	default:
		return 0;
	}
}

int netif_nl_check_prefix(const struct cfg_prefix *p, const char *what,
			  struct err *e)
{
	if (!p)
		return err_set(e, -EINVAL, "netif: %s: no prefix given", what);
	size_t len = netif_nl_addr_len(p->family);
	if (!len)
		return err_set(e, -EINVAL,
			       "netif: %s: address family %d, expected IPv4 "
			       "or IPv6",
			       what, p->family);
	if (p->plen > len * 8)
		return err_set(e, -EINVAL,
			       "netif: %s: prefix length %u, expected 0..%zu",
			       what, p->plen, len * 8);
	return 0;
}

const void *netif_nl_sa_addr(const struct sockaddr *sa)
{
	if (!sa)
		return NULL;
	if (sa->sa_family == AF_INET)
		return &((const struct sockaddr_in *)(const void *)sa)
			    ->sin_addr;
	if (sa->sa_family == AF_INET6)
		return &((const struct sockaddr_in6 *)(const void *)sa)
			    ->sin6_addr;
	return NULL;
}

const char *netif_nl_prefix_str(const struct cfg_prefix *p,
				char buf[NETIF_ADDRSTRLEN])
{
	if (!p || !netif_nl_addr_len(p->family) ||
	    !inet_ntop(p->family, &p->addr, buf, NETIF_ADDRSTRLEN - 5))
		return "(bad prefix)";
	size_t n = strlen(buf);
	snprintf(buf + n, NETIF_ADDRSTRLEN - n, "/%u", p->plen);
	return buf;
}

const char *netif_nl_sa_str(const struct sockaddr *sa,
			    char buf[NETIF_ADDRSTRLEN])
{
	const void *a = netif_nl_sa_addr(sa);

	if (!sa)
		return "(none)";
	if (!a || !inet_ntop(sa->sa_family, a, buf, NETIF_ADDRSTRLEN))
		return "(bad address)";
	return buf;
}
