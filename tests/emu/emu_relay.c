/*
 * The relay: a UDP NAT in the path of one emulated link. Each client address
 * seen on the listen socket gets its own upstream socket connected to the
 * forward address (so replies are matched to the client by socket, as a NAT
 * does), and each direction its own impairment queue and release timer.
 * Single-threaded libev loop; packets are received in batches (recvmmsg)
 * into scratch buffers and copied once into preallocated queue slots.
 */
#include "emu.h"
#include "base/log.h"

#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RELAY_BATCH 32
/* Batches read per wakeup before timers get a turn. */
#define RELAY_ROUNDS 8

struct relay_client;

struct relay_dir {
	struct imp_dir q;
	ev_timer timer;
	uint64_t armed_ns; /* release time the timer is set for */
	struct relay_client *cl;
};

struct relay_client {
	struct relay *r;
	struct emu_addr addr; /* the client, as seen on the listen socket */
	int fd;		      /* upstream socket, connected to --forward */
	ev_io io;
	struct relay_dir to_server, to_client;
};

struct relay {
	struct ev_loop *loop;
	const struct relay_opts *o;
	struct imp_params params; /* as set: options, control commands */
	/* What each direction's model sees: params with that direction's
	 * current rate and the overhead resolved. */
	struct imp_params to_server, to_client;
	int lfd;
	ev_io lio;
	struct relay_client **clients;
	uint32_t nclients;
	uint64_t drop_noclient; /* client table full */
	bool warned_full, warned_oversize, warned_nobuf;
	ev_signal sigint, sigterm, sigusr1, sigusr2;
	ev_timer stats;
	ev_timer rate_timer; /* next schedule step or walk interval */
	struct ctl *ctl;
	struct mmsghdr msgs[RELAY_BATCH];
	struct iovec iov[RELAY_BATCH];
	struct sockaddr_storage names[RELAY_BATCH];
	uint8_t *rxbuf;
};

/* Sets the direction's timer for its earliest packet, unless it is already
 * set for that time or earlier (an early wakeup just re-arms). */
static void relay_arm(struct relay_dir *d, uint64_t now)
{
	struct ev_loop *loop = d->cl->r->loop;
	uint64_t next = imp_next_release(&d->q);

	if (next == UINT64_MAX) {
		ev_timer_stop(loop, &d->timer);
		d->armed_ns = UINT64_MAX;
		return;
	}
	if (ev_is_active(&d->timer) && d->armed_ns <= next)
		return;
	ev_timer_stop(loop, &d->timer);
	ev_timer_set(&d->timer, next > now ? (double)(next - now) / 1e9 : 0,
		     0.);
	ev_timer_start(loop, &d->timer);
	d->armed_ns = next;
}

/* Re-times every queue to the current rate right away (a rate change takes
 * effect when made, not at the next packet) and re-arms its timer, which a
 * higher rate may have moved earlier. */
static void relay_sync(struct relay *r, uint64_t now)
{
	for (uint32_t i = 0; i < r->nclients; i++) {
		struct relay_client *cl = r->clients[i];
		imp_sync(&cl->to_server.q, now);
		imp_sync(&cl->to_client.q, now);
		relay_arm(&cl->to_server, now);
		relay_arm(&cl->to_client, now);
	}
}

const struct imp_params *relay_params(struct relay *r)
{
	return &r->params;
}

/* Header bytes "--overhead auto" stands for: those of the forward side's
 * family, as the tunnel's datagrams cross the real uplink as IP + UDP. */
static uint32_t relay_auto_overhead(const struct relay *r)
{
	return r->o->forward.ss.ss_family == AF_INET6 ? EMU_OVERHEAD_IPV6
						      : EMU_OVERHEAD_IPV4;
}

/* Moves the rate schedule and walk to now, gives each direction's model its
 * current rate (re-timing its queue), and sets the timer for the next step.
 * Runs after every settings change and whenever that timer fires. */
static void relay_rates(struct relay *r)
{
	uint64_t now = emu_now_ns(), base = r->params.rate_bps, next;
	uint64_t up = r->to_server.rate_bps, dn = r->to_client.rate_bps;

	imp_rate_advance(&r->params, now);
	r->to_server = r->to_client = r->params;
	r->to_server.rate_bps = imp_rate_now(&r->params, false);
	r->to_client.rate_bps = imp_rate_now(&r->params, true);
	if (r->params.rate_bps != base)
		log_info("emu", "rate schedule step %u of %u: rate %" PRIu64,
			 r->params.sched.pos, r->params.sched.n,
			 r->params.rate_bps);
	if (r->to_server.rate_bps != up || r->to_client.rate_bps != dn)
		log_debug("emu", "rate now %" PRIu64 " up, %" PRIu64 " down",
			  r->to_server.rate_bps, r->to_client.rate_bps);
	relay_sync(r, now);
	ev_timer_stop(r->loop, &r->rate_timer);
	next = imp_rate_next(&r->params);
	if (next != UINT64_MAX) {
		ev_timer_set(&r->rate_timer,
			     next > now ? (double)(next - now) / 1e9 : 0, 0.);
		ev_timer_start(r->loop, &r->rate_timer);
	}
}

static void rate_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	relay_rates((void *)((char *)w - offsetof(struct relay, rate_timer)));
}

/* Every change of settings (control line, signal) goes through here, so
 * derived values are recomputed in one place. */
void relay_apply(struct relay *r, const struct imp_params *next)
{
	if (r->params.down != next->down)
		log_notice("emu", "link %s", next->down ? "down" : "up");
	r->params = *next;
	if (r->params.overhead_auto)
		r->params.overhead = relay_auto_overhead(r);
	relay_rates(r);
}

void relay_set_down(struct relay *r, bool down)
{
	struct imp_params next = r->params;

	next.down = down;
	relay_apply(r, &next);
}

static int send_to_server(void *ctx, const void *buf, size_t len)
{
	struct relay_client *cl = ctx;

	if (send(cl->fd, buf, len, 0) < 0) {
		log_debug("emu", "send to server: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int send_to_client(void *ctx, const void *buf, size_t len)
{
	struct relay_client *cl = ctx;

	if (sendto(cl->r->lfd, buf, len, 0, (const void *)&cl->addr.ss,
		   cl->addr.len) < 0) {
		log_debug("emu", "send to client: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static void release_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct relay_dir *d =
	    (void *)((char *)w - offsetof(struct relay_dir, timer));
	struct relay_client *cl = d->cl;
	uint64_t now = emu_now_ns();

	imp_release_due(&d->q, now,
			d == &cl->to_server ? send_to_server : send_to_client,
			cl);
	d->armed_ns = UINT64_MAX;
	relay_arm(d, now);
}

static void relay_enqueue(struct relay *r, struct relay_dir *d,
			  const uint8_t *pkt, size_t len, uint64_t now)
{
	enum imp_verdict v = imp_enqueue(&d->q, pkt, len, now);

	if (v == IMP_QUEUED)
		relay_arm(d, now);
	else if (v == IMP_DROP_OVERSIZE && !r->warned_oversize) {
		r->warned_oversize = true;
		log_warn("emu",
			 "dropping %zu-byte datagram: larger than "
			 "--max-packet %u (counted as drop_oversize)",
			 len, r->o->max_packet);
	} else if (v == IMP_DROP_NOBUF && !r->warned_nobuf) {
		/* Not a property of the emulated link: say how to avoid it. */
		r->warned_nobuf = true;
		log_warn("emu",
			 "all %u packet buffers of a direction in use: "
			 "dropping (counted as drop_nobuf); raise --slots",
			 r->o->slots);
	}
}

/* Reads up to RELAY_ROUNDS batches from fd; calls deliver per datagram. */
static void relay_read(struct relay *r, int fd,
		       void (*deliver)(struct relay *, void *, uint8_t *,
				       size_t, struct sockaddr_storage *,
				       socklen_t, uint64_t),
		       void *ctx)
{
	size_t stride = (size_t)r->o->max_packet + 1;

	for (int round = 0; round < RELAY_ROUNDS; round++) {
		for (int i = 0; i < RELAY_BATCH; i++) {
			r->iov[i] =
			    (struct iovec){r->rxbuf + i * stride, stride};
			r->msgs[i].msg_hdr = (struct msghdr){
			    .msg_name = &r->names[i],
			    .msg_namelen = sizeof(r->names[i]),
			    .msg_iov = &r->iov[i],
			    .msg_iovlen = 1,
			};
		}
		int n = recvmmsg(fd, r->msgs, RELAY_BATCH, MSG_TRUNC, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				/* ECONNREFUSED: ICMP from a forward target
				 * not listening yet; nothing to do. */
				log_debug("emu", "recvmmsg: %s",
					  strerror(errno));
			return;
		}
		uint64_t now = emu_now_ns();
		for (int i = 0; i < n; i++)
			deliver(r, ctx, r->rxbuf + i * stride,
				r->msgs[i].msg_len, &r->names[i],
				r->msgs[i].msg_hdr.msg_namelen, now);
		if (n < RELAY_BATCH)
			return;
	}
}

static void deliver_to_client(struct relay *r, void *ctx, uint8_t *pkt,
			      size_t len, struct sockaddr_storage *from,
			      socklen_t fromlen, uint64_t now)
{
	struct relay_client *cl = ctx;
	relay_enqueue(r, &cl->to_client, pkt, len, now);
}

static void upstream_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct relay_client *cl =
	    (void *)((char *)w - offsetof(struct relay_client, io));
	relay_read(cl->r, cl->fd, deliver_to_client, cl);
}

static void client_free(struct relay *r, struct relay_client *cl)
{
	ev_io_stop(r->loop, &cl->io);
	ev_timer_stop(r->loop, &cl->to_server.timer);
	ev_timer_stop(r->loop, &cl->to_client.timer);
	if (cl->fd >= 0 && close(cl->fd) < 0)
		log_warn("emu", "close: %s", strerror(errno));
	imp_dir_free(&cl->to_server.q);
	imp_dir_free(&cl->to_client.q);
	free(cl);
}

static void dir_init_watchers(struct relay_client *cl, struct relay_dir *d)
{
	d->cl = cl;
	d->armed_ns = UINT64_MAX;
	ev_timer_init(&d->timer, release_cb, 0., 0.);
}

/* Creates the NAT entry for a new client: its own upstream socket and two
 * queues. Each queue's PRNG gets its own stream derived from --seed. */
static struct relay_client *client_new(struct relay *r,
				       const struct sockaddr_storage *from,
				       socklen_t fromlen)
{
	const struct relay_opts *o = r->o;
	struct relay_client *cl = calloc(1, sizeof(*cl));
	char a[80], b[80];
	struct err e = {{0}};
	uint64_t seed = o->seed + 2 * (uint64_t)r->nclients;
	int fd;

	if (!cl) {
		log_err("emu", "out of memory for a new client");
		return NULL;
	}
	cl->r = r;
	cl->fd = -1;
	memcpy(&cl->addr.ss, from, fromlen);
	cl->addr.len = fromlen;
	dir_init_watchers(cl, &cl->to_server);
	dir_init_watchers(cl, &cl->to_client);
	if (imp_dir_init(&cl->to_server.q, &r->to_server, o->slots,
			 o->max_packet, seed, &e) < 0 ||
	    imp_dir_init(&cl->to_client.q, &r->to_client, o->slots,
			 o->max_packet, seed + 1, &e) < 0)
		goto fail;
	fd = addr_udp_socket(o->have_bind ? &o->bind : NULL,
			     o->forward.ss.ss_family, &e);
	if (fd < 0)
		goto fail;
	cl->fd = fd;
	if (connect(fd, (const void *)&o->forward.ss, o->forward.len) < 0) {
		err_set(&e, -errno, "connect %s: %s",
			addr_str(&o->forward, a, sizeof(a)), strerror(errno));
		goto fail;
	}
	ev_io_init(&cl->io, upstream_cb, fd, EV_READ);
	ev_io_start(r->loop, &cl->io);
	log_info("emu", "new client %s -> %s",
		 addr_str(&cl->addr, a, sizeof(a)),
		 addr_str(&o->forward, b, sizeof(b)));
	return cl;
fail:
	log_err("emu", "cannot add client %s: %s",
		addr_str(&cl->addr, a, sizeof(a)), e.msg);
	client_free(r, cl);
	return NULL;
}

static struct relay_client *client_find(struct relay *r,
					const struct sockaddr_storage *from,
					socklen_t fromlen)
{
	for (uint32_t i = 0; i < r->nclients; i++)
		if (addr_equal(&r->clients[i]->addr.ss, r->clients[i]->addr.len,
			       from, fromlen))
			return r->clients[i];
	if (r->nclients >= r->o->max_clients) {
		if (!r->warned_full)
			log_warn("emu",
				 "client table full (--max-clients %u): "
				 "dropping datagrams from new clients",
				 r->o->max_clients);
		r->warned_full = true;
		return NULL;
	}
	struct relay_client *cl = client_new(r, from, fromlen);
	if (cl)
		r->clients[r->nclients++] = cl;
	return cl;
}

static void deliver_to_server(struct relay *r, void *ctx, uint8_t *pkt,
			      size_t len, struct sockaddr_storage *from,
			      socklen_t fromlen, uint64_t now)
{
	struct relay_client *cl = client_find(r, from, fromlen);

	if (!cl) {
		r->drop_noclient++;
		return;
	}
	relay_enqueue(r, &cl->to_server, pkt, len, now);
}

static void listen_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct relay *r = (void *)((char *)w - offsetof(struct relay, lio));
	relay_read(r, r->lfd, deliver_to_server, NULL);
}

static void sum_counters(struct relay *r, struct imp_counters *up,
			 struct imp_counters *dn, uint64_t *qup, uint64_t *qdn)
{
	memset(up, 0, sizeof(*up));
	memset(dn, 0, sizeof(*dn));
	*qup = *qdn = 0;
	for (uint32_t i = 0; i < r->nclients; i++) {
		imp_counters_add(up, &r->clients[i]->to_server.q.c);
		imp_counters_add(dn, &r->clients[i]->to_client.q.c);
		*qup += r->clients[i]->to_server.q.nheap;
		*qdn += r->clients[i]->to_client.q.nheap;
	}
}

static int json_counters(char *buf, size_t len, const char *name,
			 const struct imp_counters *c, uint64_t queued)
{
	return snprintf(buf, len,
			"\"%s\":{\"in_pkts\":%" PRIu64 ",\"in_bytes\":%" PRIu64
			",\"fwd_pkts\":%" PRIu64 ",\"fwd_bytes\":%" PRIu64
			",\"wire_bytes\":%" PRIu64 ",\"drop_loss\":%" PRIu64
			",\"drop_queue\":%" PRIu64 ",\"drop_down\":%" PRIu64
			",\"drop_nobuf\":%" PRIu64 ",\"drop_oversize\":%" PRIu64
			",\"send_err\":%" PRIu64 ",\"queued\":%" PRIu64 "}",
			name, c->in_pkts, c->in_bytes, c->fwd_pkts,
			c->fwd_bytes, c->fwd_wire_bytes, c->drop_loss,
			c->drop_queue, c->drop_down, c->drop_nobuf,
			c->drop_oversize, c->send_err, queued);
}

/* One JSON object on one line (no newline). -ENOSPC if buf is too small. */
int relay_stats_json(struct relay *r, char *buf, size_t len)
{
	struct imp_counters up, dn;
	uint64_t qup, qdn;
	size_t off = 0;
	int n;

	sum_counters(r, &up, &dn, &qup, &qdn);
	n = snprintf(
	    buf, len,
	    "{\"state\":\"%s\",\"clients\":%u,\"drop_noclient\":%" PRIu64 ",",
	    r->params.down ? "down" : "up", r->nclients, r->drop_noclient);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	off = (size_t)n;
	n = json_counters(buf + off, len - off, "to_server", &up, qup);
	if (n < 0 || (size_t)n >= len - off)
		return -ENOSPC;
	off += (size_t)n;
	n = snprintf(buf + off, len - off, ",");
	if (n < 0 || (size_t)n >= len - off)
		return -ENOSPC;
	off += (size_t)n;
	n = json_counters(buf + off, len - off, "to_client", &dn, qdn);
	if (n < 0 || (size_t)n >= len - off)
		return -ENOSPC;
	off += (size_t)n;
	n = snprintf(buf + off, len - off, "}");
	if (n < 0 || (size_t)n >= len - off)
		return -ENOSPC;
	return 0;
}

/* Current settings; queue limits are the ones in force (a time queue is
 * rate x time) and can differ per direction. */
int relay_params_json(struct relay *r, char *buf, size_t len)
{
	const struct imp_params *p = &r->params, *up = &r->to_server,
				*dn = &r->to_client;
	char l[80], f[80];
	int n;

	n = snprintf(
	    buf, len,
	    "{\"state\":\"%s\",\"listen\":\"%s\",\"forward\":\"%s\","
	    "\"delay_us\":%" PRIu64 ",\"jitter_us\":%" PRIu64
	    ",\"jitter_dist\":\"%s\",\"loss_pct\":%.4g,\"loss_burst\":%.4g,"
	    "\"rate_bps\":%" PRIu64 ",\"rate_down_bps\":%" PRIu64
	    ",\"queue_bytes\":%" PRIu64 ",\"queue_down_bytes\":%" PRIu64
	    ",\"overhead\":%" PRIu32 ",\"overhead_auto\":%s"
	    ",\"rate_now_bps\":%" PRIu64 ",\"rate_down_now_bps\":%" PRIu64
	    ",\"rate_schedule\":\"%s\",\"rate_schedule_step\":%" PRIu32
	    ",\"rate_walk_pct\":%.4g,\"rate_walk_interval_ms\":%.6g"
	    ",\"rate_walk_factor\":%.6f"
	    ",\"reorder\":%s,\"seed\":%" PRIu64 "}",
	    p->down ? "down" : "up", addr_str(&r->o->listen, l, sizeof(l)),
	    addr_str(&r->o->forward, f, sizeof(f)), p->delay_ns / 1000,
	    p->jitter_ns / 1000,
	    p->jitter_dist == IMP_JITTER_NORMAL ? "normal" : "uniform",
	    p->loss * 100, p->loss_burst, p->rate_bps, imp_rate_base(p, true),
	    up->rate_bps ? imp_queue_limit_bytes(up) : 0,
	    dn->rate_bps ? imp_queue_limit_bytes(dn) : 0, p->overhead,
	    p->overhead_auto ? "true" : "false", up->rate_bps, dn->rate_bps,
	    p->sched.n ? p->sched.text : "off", p->sched.n ? p->sched.pos : 0,
	    p->walk.pct * 100, (double)p->walk.interval_ns / 1e6,
	    p->walk.pct > 0 && p->walk.started ? p->walk.factor : 1.0,
	    p->reorder ? "true" : "false", r->o->seed);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

void relay_reset_counters(struct relay *r)
{
	for (uint32_t i = 0; i < r->nclients; i++) {
		memset(&r->clients[i]->to_server.q.c, 0,
		       sizeof(struct imp_counters));
		memset(&r->clients[i]->to_client.q.c, 0,
		       sizeof(struct imp_counters));
	}
	r->drop_noclient = 0;
}

static void stats_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct relay *r = (void *)((char *)w - offsetof(struct relay, stats));
	char buf[2048];

	if (relay_stats_json(r, buf, sizeof(buf)) == 0 &&
	    (printf("%s\n", buf) < 0 || fflush(stdout) != 0))
		log_warn("emu", "cannot write stats to stdout");
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct relay *r = w->data;

	switch (w->signum) {
	case SIGUSR1:
		relay_set_down(r, true);
		break;
	case SIGUSR2:
		relay_set_down(r, false);
		break;
	default:
		log_info("emu", "signal %d: exiting", w->signum);
		ev_break(loop, EVBREAK_ALL);
	}
}

static void relay_signal(struct relay *r, ev_signal *w, int signum)
{
	ev_signal_init(w, signal_cb, signum);
	w->data = r;
	ev_signal_start(r->loop, w);
}

static void relay_free(struct relay *r)
{
	if (r->loop) {
		ev_io_stop(r->loop, &r->lio);
		ev_signal_stop(r->loop, &r->sigint);
		ev_signal_stop(r->loop, &r->sigterm);
		ev_signal_stop(r->loop, &r->sigusr1);
		ev_signal_stop(r->loop, &r->sigusr2);
		ev_timer_stop(r->loop, &r->stats);
		ev_timer_stop(r->loop, &r->rate_timer);
	}
	if (r->ctl)
		ctl_close(r->ctl);
	for (uint32_t i = 0; i < r->nclients; i++)
		client_free(r, r->clients[i]);
	if (r->lfd >= 0 && close(r->lfd) < 0)
		log_warn("emu", "close: %s", strerror(errno));
	if (r->loop)
		ev_loop_destroy(r->loop);
	free(r->clients);
	free(r->rxbuf);
	free(r);
}

int relay_run(const struct relay_opts *o, struct err *e)
{
	struct relay *r = calloc(1, sizeof(*r));
	char a[80], b[80];
	int ret;

	if (!r)
		return err_set(e, -ENOMEM, "out of memory");
	r->o = o;
	r->lfd = -1;
	r->clients = calloc(o->max_clients, sizeof(*r->clients));
	r->rxbuf = malloc(RELAY_BATCH * ((size_t)o->max_packet + 1));
	if (!r->clients || !r->rxbuf) {
		ret = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	/* The default loop: libev delivers signals only there. */
	r->loop = ev_default_loop(EVFLAG_AUTO);
	if (!r->loop) {
		ret = err_set(e, -ENOSYS, "cannot initialise libev");
		goto out;
	}
	/* Here the schedule's time 0 is set and the walk starts. */
	ev_timer_init(&r->rate_timer, rate_cb, 0., 0.);
	struct imp_params first = o->params;
	imp_seed(first.walk.rng, o->seed ^ 0x57414c4bull); /* "WALK" */
	r->params = first; /* so the start is not logged as a change */
	relay_apply(r, &first);
	ret = addr_udp_socket(&o->listen, o->listen.ss.ss_family, e);
	if (ret < 0)
		goto out;
	r->lfd = ret;
	ev_io_init(&r->lio, listen_cb, r->lfd, EV_READ);
	ev_io_start(r->loop, &r->lio);
	relay_signal(r, &r->sigint, SIGINT);
	relay_signal(r, &r->sigterm, SIGTERM);
	relay_signal(r, &r->sigusr1, SIGUSR1);
	relay_signal(r, &r->sigusr2, SIGUSR2);
	if (o->stats_interval_ns) {
		double iv = (double)o->stats_interval_ns / 1e9;
		ev_timer_init(&r->stats, stats_cb, iv, iv);
		ev_timer_start(r->loop, &r->stats);
	}
	/* Last, so a visible control socket means the relay is ready. */
	if (o->control_path) {
		ret = ctl_open(&r->ctl, r, r->loop, o->control_path, e);
		if (ret < 0)
			goto out;
	}
	log_info("emu", "relaying %s -> %s%s",
		 addr_str(&o->listen, a, sizeof(a)),
		 addr_str(&o->forward, b, sizeof(b)),
		 r->params.down ? " (link down)" : "");
	ev_run(r->loop, 0);
	ret = 0;
out:
	relay_free(r);
	return ret;
}
