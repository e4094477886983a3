/*
 * Daemon lifecycle: builds everything in an order where each step can be
 * undone (tun, sockets, sessions, timers, control socket), runs nothing
 * until all of it worked, and tears it down in reverse on SIGINT/SIGTERM.
 * SIGHUP re-reads the YAML and applies scheduler changes; a bad file is
 * refused and nothing changes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/control.h"
#include "daemon.h"
#include "datapath.h"
#include "base/log.h"
#include "os/netif.h"
#include "peerctl.h"
#include "os/privdrop.h"
#include "os/sdnotify.h"
#include "sched/sched_host.h"
#include "os/tun.h"

uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int daemon_check_cipher(const struct daemon *d, struct err *e)
{
	if (d->cfg.cipher == CFG_CIPHER_AES256GCM &&
	    !(wire_ciphers_local() & WIRE_CIPHERS_AES256GCM))
		return err_set(e, -ENOTSUP,
			       "cipher: aes-256-gcm needs hardware AES, which "
			       "this CPU lacks; use auto or chacha20-poly1305");
	return 0;
}

/* The tun MTU: what the smallest link carries once our encapsulation (outer
 * IP + UDP + header + data sub-header + tag) is taken off, so a full-size
 * inner packet never needs fragmenting. */
static uint32_t compute_tun_mtu(struct daemon *d)
{
	uint32_t mtu = UINT32_MAX;
	if (d->client) {
		for (uint32_t i = 0; i < d->cfg.n_links; i++) {
			const struct cfg_sockaddr *peer = uplink_peer(d, i);
			uint32_t m =
			    uplink_mtu(d, i) -
			    (uint32_t)wire_tunnel_overhead(peer->ss.ss_family,
							   d->cfg.crypto_mode);
			if (m < mtu)
				mtu = m;
		}
	} else {
		int fam = d->cfg.listen.ss.ss_family;
		if (fam == AF_INET6) {
			const struct sockaddr_in6 *s6 =
			    (const void *)&d->cfg.listen.ss;
			/* "::" also serves IPv4 clients: size for IPv4, the
			 * common case; IPv6 transport clients clamp MSS. */
			if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
				fam = AF_INET;
		}
		mtu = 1500 -
		      (uint32_t)wire_tunnel_overhead(fam, d->cfg.crypto_mode);
	}
	if (d->cfg.tun.mtu) {
		if (d->cfg.tun.mtu > mtu)
			log_warn("tun",
				 "tun.mtu %u is larger than the %u the "
				 "links carry: large packets will be "
				 "dropped",
				 d->cfg.tun.mtu, mtu);
		mtu = d->cfg.tun.mtu;
	}
	if (mtu < 576)
		mtu = 576;
	return mtu;
}

static int tun_setup(struct daemon *d, struct err *e)
{
	int ret;
	snprintf(d->tun_name, sizeof(d->tun_name), "%s", d->cfg.tun.name);
	if ((ret = tunio_open(d, e)) < 0)
		return ret;
	if ((ret = netif_set_mtu(d->tun_name, d->tun_mtu, e)) < 0)
		return ret;
	if (d->cfg.tun.addr4.family &&
	    (ret = netif_addr_add(d->tun_name, &d->cfg.tun.addr4, e)) < 0)
		return ret;
	if (d->cfg.tun.addr6.family &&
	    (ret = netif_addr_add(d->tun_name, &d->cfg.tun.addr6, e)) < 0)
		return ret;
	if ((ret = netif_set_up(d->tun_name, true, e)) < 0)
		return ret;
	ev_io_init(&d->tun_io, datapath_tun_cb, d->tun_fd, EV_READ);
	ev_set_priority(&d->tun_io, EV_MAXPRI); /* the data path first */
	d->tun_io.data = d;
	ev_io_start(d->loop, &d->tun_io);
	log_info("tun", "%s up, mtu %u", d->tun_name, d->tun_mtu);
	return 0;
}

/* Client with default_route: all traffic through the tun, each uplink's
 * route to the server pinned first so the tunnel never routes into itself. */
static int routes_setup(struct daemon *d, struct err *e)
{
	if (!d->client || !d->cfg.default_route)
		return 0;
	/* Pin what the links really talk to: each link's peer, which is the
	 * server unless the link names another endpoint. */
	const struct sockaddr *addrs[CFG_MAX_LINKS];
	size_t n = 0;
	for (uint32_t i = 0; i < d->cfg.n_links; i++) {
		const struct cfg_link *l = &d->cfg.links[i];
		addrs[n++] =
		    (const struct sockaddr *)(l->peer.len ? &l->peer.ss
							  : &d->cfg.server.ss);
	}
	return netif_route_all_via(d->undo, d->tun_name, addrs, n,
				   d->cfg.tun.addr6.family == AF_INET6, e);
}

/* Appends to buf at *off, never past len (snprintf semantics). */
static void __attribute__((format(printf, 4, 5)))
add(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	if (*off >= len)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
}

void daemon_status_line(struct daemon *d, char *buf, size_t len)
{
	size_t off = 0;
	char a[64];
	uint32_t up = 0, all = 0;
	buf[0] = '\0';
	if (!d->sessions)
		return;
	for (uint32_t i = 0; i < d->max_sessions; i++) {
		struct session *s = d->sessions[i];
		for (uint32_t k = 0; s && k < s->n_paths; k++) {
			if (!s->paths[k].sess)
				continue;
			all++;
			up += s->views[k].state >= TTT_LINK_DEGRADED;
		}
	}
	if (d->client) {
		struct session *s = d->sess;
		bool est = s && s->state == SESS_ESTABLISHED;
		add(buf, len, &off, "%s %s, %u/%u links up",
		    est ? "connected to" : "handshake with",
		    sockaddr_str(&d->cfg.server.ss, a, sizeof(a)), up, all);
		for (uint32_t k = 0; s && k < s->n_paths; k++)
			add(buf, len, &off, "%s%s %s", k ? ", " : ": ",
			    s->paths[k].name,
			    s->paths[k].admin_down
				? "admin-down"
				: link_state_name(s->views[k].state));
	} else {
		add(buf, len, &off,
		    "listening on %s, %u session%s, %u/%u links up",
		    sockaddr_str(&d->cfg.listen.ss, a, sizeof(a)),
		    d->n_sessions, d->n_sessions == 1 ? "" : "s", up, all);
	}
}

void daemon_notify_status(struct daemon *d)
{
	char line[256];
	daemon_status_line(d, line, sizeof(line));
	sdnotify_status(line);
}

static void stats_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	uint64_t now = now_ns(d);
	d->stats_ticks++;
	for (uint32_t i = 0; i < d->max_sessions; i++) {
		struct session *s = d->sessions[i];
		if (!s)
			continue;
		for (uint32_t k = 0; k < s->n_paths; k++) {
			struct path *p = &s->paths[k];
			p->tx_bps =
			    (double)(p->tx_bytes - p->last_tx_bytes) * 8;
			p->rx_bps =
			    (double)(p->rx_bytes - p->last_rx_bytes) * 8;
			p->last_tx_bytes = p->tx_bytes;
			p->last_rx_bytes = p->rx_bytes;
		}
		if (d->client && s->state == SESS_ESTABLISHED &&
		    d->stats_ticks % 5 == 0)
			peerctl_send_link_info(s, now);
	}
	if (d->client) {
		quota_roll(d);
		if (d->stats_ticks % 10 == 0) {
			struct err e;
			if (quota_save(d, &e) < 0)
				log_warn("quota", "%s", e.msg);
		}
	} else {
		server_expire_sessions(d, now);
	}
	/* Sessions come and go in client.c and server.c: a second's delay
	 * keeps systemd's STATUS= true without hooks in both. */
	daemon_notify_status(d);
}

static void monitor_event(void *arg, const struct netif_event *ev)
{
	struct daemon *d = arg;
	if (ev->type == NETIF_EV_LINK && d->client)
		client_on_netif_event(d, ev);
}

static void monitor_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon *d = w->data;
	int ret = netif_monitor_read(d->mon_fd, monitor_event, d);
	if (ret == -ENOBUFS) {
		/* Missed events: re-check every link's interface now. */
		for (uint32_t i = 0; d->client && i < d->cfg.n_links; i++) {
			struct netif_event ev;
			if (!d->cfg.links[i].interface[0])
				continue;
			memset(&ev, 0, sizeof(ev));
			if (netif_get_link(d->cfg.links[i].interface, &ev,
					   NULL) < 0) {
				snprintf(ev.ifname, sizeof(ev.ifname), "%s",
					 d->cfg.links[i].interface);
				ev.exists = false;
			}
			ev.type = NETIF_EV_LINK;
			client_on_netif_event(d, &ev);
		}
	}
}

/* SIGHUP: re-read the YAML; apply scheduler changes the way a control
 * swap does. Everything else needs a restart and is reported as such. */
static void reload(struct daemon *d)
{
	struct config *nc = malloc(sizeof(*nc));
	struct err e;
	if (!nc) {
		log_err("config", "reload: out of memory");
		return;
	}
	if (config_load(nc, d->cfg.path, &e) < 0) {
		log_err("config", "reload refused, nothing changed: %s", e.msg);
		free(nc);
		return;
	}
	/* Group membership may have changed; the control socket reads only
	 * its cache while the loop runs. */
	if (ctl_server_refresh_group(d->ctl, &e) < 0)
		log_warn("config", "reload: %s; keeping the old member list",
			 e.msg);
	/* Client: a changed downstream is carried to the server. */
	dswap_reload(d, &nc->sched[TTT_DIR_DOWNSTREAM]);
	int dir = d->client ? TTT_DIR_UPSTREAM : TTT_DIR_DOWNSTREAM;
	const struct cfg_sched *ns = &nc->sched[dir];
	struct cfg_sched *cs = &d->cfg.sched[dir];
	if (config_sched_equal(ns, cs)) {
		log_notice("config", "reloaded %s: scheduler unchanged",
			   d->cfg.path);
		free(nc);
		return;
	}
	for (uint32_t i = 0; i < d->max_sessions; i++) {
		struct session *s = d->sessions[i];
		if (s && session_set_sched(s, ns->plugin, ns->opts, ns->n_opts,
					   &e) < 0) {
			log_err("config", "reload: scheduler %s refused: %s",
				ns->plugin, e.msg);
			free(nc);
			return;
		}
	}
	*cs = *ns;
	log_notice("config", "reloaded %s: %s scheduler is now %s", d->cfg.path,
		   d->client ? "upstream" : "downstream", ns->plugin);
	free(nc);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = w->data;
	if (w->signum == SIGHUP) {
		char line[256];
		sdnotify_reloading();
		reload(d);
		daemon_status_line(d, line, sizeof(line));
		sdnotify_ready(line);
		return;
	}
	log_notice("daemon", "signal %d: shutting down", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

static void signal_watch(struct daemon *d, ev_signal *w, int sig)
{
	ev_signal_init(w, signal_cb, sig);
	w->data = d;
	ev_signal_start(d->loop, w);
}

int daemon_setup(struct daemon *d, struct err *e)
{
	int ret;
	char dirbuf[CFG_STR_MAX];
	d->client = d->cfg.role == ROLE_CLIENT;
	d->tun_fd = -1;
	d->mon_fd = -1;
	for (uint32_t i = 0; i < CFG_MAX_LINKS; i++)
		d->uplinks[i].fd = -1;
	d->loop = ev_default_loop(EVFLAG_AUTO);
	if (!d->loop)
		return err_set(e, -ENOMEM, "cannot create the event loop");
	ev_now_update(d->loop);
	d->start_ns = now_ns(d);
	if (wire_init() < 0)
		return err_set(e, -EIO, "libsodium failed to initialise");

	d->tun_mtu = compute_tun_mtu(d);
	uint32_t max_mtu = 1500;
	for (uint32_t i = 0; i < d->cfg.n_links; i++)
		if (d->cfg.links[i].mtu > max_mtu)
			max_mtu = d->cfg.links[i].mtu;
	if (d->tun_mtu + 128 > max_mtu)
		max_mtu = d->tun_mtu + 128;
	d->buf_size = (max_mtu + 128 + 63) & ~63u;
	if (d->buf_size < 2048)
		d->buf_size = 2048;
	if ((ret = tunio_init(d, e)) < 0 || (ret = datapath_init(d, e)) < 0)
		return ret;
	if ((ret = hooks_init(d, e)) < 0)
		return ret;

	d->max_sessions = d->client ? 1 : d->cfg.n_clients;
	d->sessions = calloc(d->max_sessions, sizeof(*d->sessions));
	if (!d->sessions)
		return err_set(e, -ENOMEM, "out of memory");

	const char *pdir =
	    d->cfg.plugin_dir[0]
		? d->cfg.plugin_dir
		: sched_default_plugin_dir(dirbuf, sizeof(dirbuf));
	/* A root daemon runs plugin code with its rights: the registry
	 * refuses a directory others could write (a missing one just means
	 * no plugin loads) and keeps it open, so plugins still load by name
	 * after the privilege drop below (sched_host.c). */
	if ((ret = sched_registry_create(&d->reg, pdir, e)) < 0)
		return ret;
	if ((ret = netif_undo_create(&d->undo)) < 0)
		return err_set(e, ret, "out of memory");

	if ((ret = tun_setup(d, e)) < 0)
		return ret;
	ret = d->client ? client_setup(d, e) : server_setup(d, e);
	if (ret < 0)
		return ret;
	if ((ret = quota_load(d, e)) < 0)
		return ret;
	if ((ret = routes_setup(d, e)) < 0)
		return ret;

	d->mon_fd = netif_monitor_open(e);
	if (d->mon_fd < 0)
		return d->mon_fd;
	ev_io_init(&d->mon_io, monitor_cb, d->mon_fd, EV_READ);
	d->mon_io.data = d;
	ev_io_start(d->loop, &d->mon_io);

	double pi = d->cfg.probe.interval_ms / 1000.0;
	ev_timer_init(&d->probe_timer, prober_timer_cb, pi, pi);
	d->probe_timer.data = d;
	ev_timer_start(d->loop, &d->probe_timer);
	ev_timer_init(&d->stats_timer, stats_timer_cb, 1.0, 1.0);
	d->stats_timer.data = d;
	ev_timer_start(d->loop, &d->stats_timer);

	signal_watch(d, &d->sig_int, SIGINT);
	signal_watch(d, &d->sig_term, SIGTERM);
	signal_watch(d, &d->sig_hup, SIGHUP);

	if (d->cfg.control.socket[0]) {
		ret = ctl_server_start(
		    &d->ctl, d->loop, d->cfg.control.socket,
		    d->cfg.control.mode,
		    d->cfg.control.group[0] ? d->cfg.control.group : NULL,
		    daemon_ctl_commands, d, e);
		if (ret < 0)
			return ret;
	}
	/* Before the drop: a token file may be root's, and setresuid()
	 * then strips every capability from the HTTP thread. */
	if ((ret = monitor_setup(d, e)) < 0)
		return ret;
	/* Everything that needs root exists now: become `user:`. */
	if ((ret = privdrop_to_user(d->cfg.user, e)) < 0)
		return ret;
	monitor_start(d);
	return 0;
}

void daemon_teardown(struct daemon *d)
{
	struct err e;
	if (!d->loop)
		return;
	hooks_teardown(d); /* no hook for the teardown's own events */
	if (d->ctl) {
		ctl_server_stop(d->ctl);
		d->ctl = NULL;
	}
	monitor_teardown(d);
	ev_signal_stop(d->loop, &d->sig_int);
	ev_signal_stop(d->loop, &d->sig_term);
	ev_signal_stop(d->loop, &d->sig_hup);
	ev_timer_stop(d->loop, &d->probe_timer);
	ev_timer_stop(d->loop, &d->stats_timer);
	dswap_stop(d);
	if (d->mon_fd >= 0) {
		ev_io_stop(d->loop, &d->mon_io);
		close(d->mon_fd);
		d->mon_fd = -1;
	}
	if (d->client && d->sess && quota_save(d, &e) < 0)
		log_warn("quota", "%s", e.msg);
	quota_close(d);
	if (d->client) {
		client_teardown(d);
		session_destroy(d->sess);
		d->sess = NULL;
	} else {
		server_teardown(d);
	}
	if (d->undo) {
		netif_undo_run(d->undo);
		netif_undo_destroy(d->undo);
		d->undo = NULL;
	}
	if (d->tun_fd >= 0) {
		ev_io_stop(d->loop, &d->tun_io);
		tun_close(d->tun_fd);
		d->tun_fd = -1;
	}
	sched_registry_destroy(d->reg);
	d->reg = NULL;
	free(d->sessions);
	d->sessions = NULL;
	datapath_free(d);
	tunio_free(d);
	ev_loop_destroy(d->loop);
	d->loop = NULL;
}
