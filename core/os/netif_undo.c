/*
 * The undo log: every change the daemon makes to the host's network
 * configuration is recorded as it is made and put back in reverse order at
 * shutdown, so a client that routed everything through its tunnel leaves
 * the machine exactly as it found it.
 */
#include "os/netif.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

enum undo_kind { UNDO_ROUTE, UNDO_ADDR, UNDO_MTU, UNDO_UP };

struct undo_entry {
	enum undo_kind kind;
	char ifname[IFNAMSIZ];
	struct cfg_prefix prefix; /* route dst / address */
	struct sockaddr_storage gw;
	bool has_gw;
	uint32_t metric; /* route metric / old mtu */
	bool was_up;
};

struct netif_undo {
	struct undo_entry *v;
	size_t n, cap;
};

int netif_undo_create(struct netif_undo **u)
{
	*u = calloc(1, sizeof(**u));
	return *u ? 0 : -ENOMEM;
}

/* A new zeroed entry at the end for `ifname`, or NULL. */
static struct undo_entry *push(struct netif_undo *u, enum undo_kind kind,
			       const char *ifname, int *ret)
{
	if (!u || !ifname || !ifname[0] ||
	    strnlen(ifname, IFNAMSIZ) >= IFNAMSIZ) {
		*ret = -EINVAL;
		return NULL;
	}
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 8;
		struct undo_entry *v = reallocarray(u->v, cap, sizeof(*v));
		if (!v) {
			*ret = -ENOMEM;
			return NULL;
		}
		u->v = v;
		u->cap = cap;
	}
	struct undo_entry *x = &u->v[u->n++];
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	memcpy(x->ifname, ifname, strlen(ifname) + 1);
	*ret = 0;
	return x;
}

int netif_undo_route(struct netif_undo *u, const struct cfg_prefix *dst,
		     const char *ifname, const struct sockaddr *gw,
		     uint32_t metric)
{
	int r;

	if (!dst || (gw && gw->sa_family != dst->family))
		return -EINVAL;
	struct undo_entry *x = push(u, UNDO_ROUTE, ifname, &r);
	if (!x)
		return r;
	x->prefix = *dst;
	x->metric = metric;
	if (gw) {
		x->has_gw = true;
		memcpy(&x->gw, gw,
		       gw->sa_family == AF_INET ? sizeof(struct sockaddr_in)
						: sizeof(struct sockaddr_in6));
	}
	return 0;
}

int netif_undo_addr(struct netif_undo *u, const char *ifname,
		    const struct cfg_prefix *p)
{
	int r;

	if (!p)
		return -EINVAL;
	struct undo_entry *x = push(u, UNDO_ADDR, ifname, &r);
	if (!x)
		return r;
	x->prefix = *p;
	return 0;
}

int netif_undo_mtu(struct netif_undo *u, const char *ifname, uint32_t old_mtu)
{
	int r;
	struct undo_entry *x = push(u, UNDO_MTU, ifname, &r);

	if (!x)
		return r;
	x->metric = old_mtu;
	return 0;
}

int netif_undo_up(struct netif_undo *u, const char *ifname, bool was_up)
{
	int r;
	struct undo_entry *x = push(u, UNDO_UP, ifname, &r);

	if (!x)
		return r;
	x->was_up = was_up;
	return 0;
}

size_t netif_undo_count(const struct netif_undo *u)
{
	return u ? u->n : 0;
}

static int undo_one(const struct undo_entry *x, struct err *e)
{
	switch (x->kind) {
	case UNDO_ROUTE:
		return netif_route_del(
		    &x->prefix, x->ifname,
		    x->has_gw ? (const struct sockaddr *)&x->gw : NULL,
		    x->metric, e);
	case UNDO_ADDR:
		return netif_addr_del(x->ifname, &x->prefix, e);
	case UNDO_MTU:
		return netif_set_mtu(x->ifname, x->metric, e);
	case UNDO_UP:
		return netif_set_up(x->ifname, x->was_up, e);
	}
	return err_set(e, -EINVAL, "netif: undo: unknown change %d", x->kind);
}

void netif_undo_run(struct netif_undo *u)
{
	if (!u)
		return;
	while (u->n > 0) {
		struct err e = {{0}};
		int r = undo_one(&u->v[--u->n], &e);
		/* Deleting the tun takes its routes and addresses with it. */
		if (r == -ENODEV || r == -ESRCH || r == -EADDRNOTAVAIL)
			log_info("netif", "undo: already gone: %s", e.msg);
		else if (r < 0)
			log_warn("netif", "undo: %s", e.msg);
	}
}

void netif_undo_destroy(struct netif_undo *u)
{
	if (!u)
		return;
	free(u->v);
	free(u);
}
