/*
 * Client: a server given by host name (dynamic DNS). It is resolved when
 * the daemon starts and again after DNS_RETRY_AFTER without a session (a
 * home server whose address changed is unreachable at the old one, so
 * every link goes down and the client keeps re-handshaking), at most every
 * DNS_RETRY_AFTER. Look-ups run on os/resolve.c's worker thread, never on
 * the loop. A new address closes and re-opens the links that follow
 * `server` (those without their own `peer`), whose sockets are connected
 * to the old one.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "base/log.h"
#include "daemon.h"
#include "link/addr.h"
#include "os/resolve.h"

#define DNS_RETRY_AFTER_NS (30ull * 1000000000ull)

/* The family to ask for: that of the first server-following link's source
 * address, else any. */
static int wanted_family(const struct daemon *d)
{
	for (uint32_t i = 0; i < d->cfg.n_links; i++) {
		const struct cfg_link *l = &d->cfg.links[i];
		if (l->peer_is_server && l->source.ss.ss_family != AF_UNSPEC)
			return l->source.ss.ss_family;
	}
	return AF_UNSPEC;
}

static void ask(struct daemon *d, uint64_t now)
{
	int ret = resolver_query(d->resolver, d->cfg.server_host,
				 d->cfg.server_port, wanted_family(d));
	if (ret == 0) {
		d->dns_asked_ns = now;
		log_debug("dns", "resolving %s", d->cfg.server_host);
	} else if (ret != -EBUSY) {
		log_warn("dns", "cannot resolve %s: %s", d->cfg.server_host,
			 strerror(-ret));
	}
}

static void answered(void *arg, int err, const struct sockaddr_storage *ss,
		     socklen_t len)
{
	struct daemon *d = arg;
	char a[80], b[80];
	if (err) {
		log_warn("dns",
			 "cannot resolve the server %s: %s%s; trying again "
			 "in %llu s",
			 d->cfg.server_host, gai_strerror(err),
			 d->cfg.server.len ? ", keeping the last address" : "",
			 DNS_RETRY_AFTER_NS / 1000000000ull);
		return;
	}
	if (d->cfg.server.len && sockaddr_equal(&d->cfg.server.ss, ss))
		return; /* unchanged */
	bool had = d->cfg.server.len != 0;
	if (had)
		sockaddr_str(&d->cfg.server.ss, b, sizeof(b));
	memset(&d->cfg.server, 0, sizeof(d->cfg.server));
	memcpy(&d->cfg.server.ss, ss, len);
	d->cfg.server.len = len;
	sockaddr_str(ss, a, sizeof(a));
	if (had)
		log_notice("dns",
			   "%s now resolves to %s (was %s); reconnecting",
			   d->cfg.server_host, a, b);
	else
		log_notice("dns", "%s resolves to %s", d->cfg.server_host, a);
	for (uint32_t i = 0; i < d->cfg.n_links; i++) {
		struct uplink *u = &d->uplinks[i];
		if (!d->cfg.links[i].peer_is_server)
			continue;
		uplink_close(d, i);
		u->backoff_ms = 100;
		ev_timer_stop(d->loop, &u->retry);
		ev_timer_set(&u->retry, 0.0, 0.0);
		ev_timer_start(d->loop, &u->retry);
	}
}

int dns_setup(struct daemon *d, struct err *e)
{
	int ret;
	if (!d->cfg.server_host[0])
		return 0;
	if ((ret = resolver_start(&d->resolver, d->loop, answered, d, e)) < 0)
		return ret;
	ask(d, now_ns(d));
	return 0;
}

void dns_tick(struct daemon *d, uint64_t now)
{
	if (!d->resolver || resolver_busy(d->resolver))
		return;
	/* Without an address yet, or a session for a while. */
	bool stale =
	    d->cfg.server.len == 0 ||
	    (d->hs_since_ns && now - d->hs_since_ns >= DNS_RETRY_AFTER_NS);
	if (stale && now - d->dns_asked_ns >= DNS_RETRY_AFTER_NS)
		ask(d, now);
}

void dns_teardown(struct daemon *d)
{
	resolver_stop(d->resolver);
	d->resolver = NULL;
}
