/*
 * Kernel network configuration through rtnetlink (libmnl): interface MTU,
 * state and addresses, routes and route lookups, an undo log that puts back
 * what the daemon changed, and a link monitor for the event loop.
 *
 * Every function that takes a struct err returns 0 or -errno and names the
 * interface / address in the message; the kernel's extended ack text is
 * appended when it gave one. Nothing here is on the packet path: each
 * request opens its own short-lived netlink socket.
 */
#ifndef TTT_NETIF_H
#define TTT_NETIF_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/config.h"
#include "base/err.h"

/* netif.c: interfaces and addresses */

/* if_nametoindex: the index (> 0), -EINVAL for a bad name, or -ENODEV. */
int netif_index(const char *ifname);
/* mtu in bytes (L3); below 68 is refused here, above the device maximum by
 * the kernel (-EINVAL both). */
int netif_set_mtu(const char *ifname, uint32_t mtu, struct err *e);
int netif_get_mtu(const char *ifname, uint32_t *mtu, struct err *e);
/* Sets or clears IFF_UP (administrative state). */
int netif_set_up(const char *ifname, bool up, struct err *e);
/* Adds (or replaces: idempotent) / deletes an address with its prefix
 * length. IPv6 addresses are added IFA_F_NODAD so they work at once. */
int netif_addr_add(const char *ifname, const struct cfg_prefix *p,
		   struct err *e);
int netif_addr_del(const char *ifname, const struct cfg_prefix *p,
		   struct err *e);

/* netif_route.c: routes in the main table */

/*
 * Adds a route to `dst` out of `ifname`, through gateway `gw` (NULL: on
 * link) with priority `metric` (0: the kernel's default, 1024 for IPv6).
 * Fails with -EEXIST if the same route exists. `gw` (sockaddr_in or
 * sockaddr_in6, port ignored) must be of dst's family.
 */
int netif_route_add(const struct cfg_prefix *dst, const char *ifname,
		    const struct sockaddr *gw, uint32_t metric, struct err *e);
/* Deletes it; gw NULL and metric 0 match any. -ESRCH if there is none. */
int netif_route_del(const struct cfg_prefix *dst, const char *ifname,
		    const struct sockaddr *gw, uint32_t metric, struct err *e);
/*
 * Asks the kernel which route it would use to reach `dst` (port ignored),
 * optionally restricted to output interface `oif` (NULL or "": any).
 * Fills `ifname` and, if the route has one, the gateway (*has_gw true; gw's
 * family is dst's, port 0). `gw` and `has_gw` may be NULL if only the
 * interface matters. -ENETUNREACH (or the kernel's answer) when nothing
 * routes there; -EOPNOTSUPP for an IPv4 route via an IPv6 gateway.
 */
int netif_route_get(const struct sockaddr *dst, const char *oif,
		    struct sockaddr_storage *gw, bool *has_gw,
		    char ifname[IFNAMSIZ], struct err *e);

/* netif_undo.c: what to put back at shutdown */

struct netif_undo;

int netif_undo_create(struct netif_undo **u);
/* Each records one change made; run undoes it. Only -ENOMEM / -EINVAL. */
int netif_undo_route(struct netif_undo *u, const struct cfg_prefix *dst,
		     const char *ifname, const struct sockaddr *gw,
		     uint32_t metric);
int netif_undo_addr(struct netif_undo *u, const char *ifname,
		    const struct cfg_prefix *p);
int netif_undo_mtu(struct netif_undo *u, const char *ifname, uint32_t old_mtu);
int netif_undo_up(struct netif_undo *u, const char *ifname, bool was_up);
/* Number of recorded changes not yet undone. */
size_t netif_undo_count(const struct netif_undo *u);
/* Undoes everything in reverse order and empties the log. A change that is
 * already gone (interface deleted, route removed) is logged at info, any
 * other failure at warning; it always carries on with the rest. */
void netif_undo_run(struct netif_undo *u);
/* Frees the log without undoing anything (run it first). NULL is fine. */
void netif_undo_destroy(struct netif_undo *u);

/*
 * Client: send all traffic through the tunnel. For each server endpoint
 * first pins a host route (/32 or /128) through whatever gateway and
 * interface the kernel uses for it now, so tunnel packets never loop back
 * into the tun; then adds 0.0.0.0/1 + 128.0.0.0/1 (and ::/1 + 8000::/1 if
 * want_v6) via `tun_ifname`, which beat a default route without replacing
 * it. Every change is recorded in `u` (required); on failure the ones already
 * made stay recorded, so netif_undo_run() removes them. -ELOOP if a server is
 * already reached through the tun; an existing host route is kept as is.
 */
int netif_route_all_via(struct netif_undo *u, const char *tun_ifname,
			const struct sockaddr *const *server_addrs, size_t n,
			int want_v6, struct err *e);

/* netif_monitor.c: link and address events */

enum netif_event_type {
	NETIF_EV_LINK = 1, /* interface appeared / changed / vanished */
	NETIF_EV_ADDR = 2, /* address added / removed (see `addr`) */
};

struct netif_event {
	enum netif_event_type type;
	char ifname[IFNAMSIZ]; /* "" if an address event outlived its link */
	int ifindex;
	bool exists;  /* link: it exists; addr: the address was added */
	bool up;      /* link only: IFF_UP (administratively up) */
	bool running; /* link only: IFF_RUNNING (carrier, operationally up) */
	struct cfg_prefix addr; /* addr only */
};

typedef void (*netif_event_fn)(void *arg, const struct netif_event *ev);

/* Current state of one interface, as a link event; for resyncs. */
int netif_get_link(const char *ifname, struct netif_event *ev, struct err *e);

/* A non-blocking, close-on-exec rtnetlink socket subscribed to link and
 * IPv4/IPv6 address changes. Returns the fd (caller closes) or -errno. */
int netif_monitor_open(struct err *e);
/*
 * Reads everything pending and calls fn once per event, in kernel order.
 * Returns 0 when drained, -ENOBUFS if the kernel dropped events (the
 * socket overran: re-read the state of what you care about), other -errno
 * on a socket error.
 */
int netif_monitor_read(int fd, netif_event_fn fn, void *arg);

#endif
