/*
 * --udpgen ADDR:PORT: sends --count probe datagrams of --size bytes, paced
 * by --interval (0 = as fast as the socket takes them). With --wait it also
 * expects them back from an echo server and reports round-trip times:
 *   sent=N received=M lost=L rtt_min_ms=A rtt_avg_ms=B rtt_max_ms=C
 *   reordered=O send_err=E
 * Pacing is by schedule (packet i leaves at start + i*interval): a late
 * wakeup sends the packets that are due in one go, so the average offered
 * rate is exact even though timers are millisecond-grained.
 */
#include "emu.h"
#include "base/log.h"

#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gen {
	const struct gen_opts *o;
	int fd;
	ev_io io;
	ev_timer tick, done;
	struct emu_stop stop;
	uint64_t start_ns, sent, send_err;
	uint64_t received, rtt_sum, rtt_min, rtt_max, reordered;
	int64_t max_seq;
	uint8_t pkt[EMU_MAX_DGRAM];
	uint8_t rx[EMU_MAX_DGRAM];
};

static void gen_finish_sending(struct ev_loop *loop, struct gen *g)
{
	ev_timer_stop(loop, &g->tick);
	if (!g->o->wait_ns || g->received == g->sent) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	ev_timer_set(&g->done, (double)g->o->wait_ns / 1e9, 0.);
	ev_timer_start(loop, &g->done);
}

static void gen_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gen *g = (void *)((char *)w - offsetof(struct gen, tick));
	const struct gen_opts *o = g->o;
	uint64_t now = emu_now_ns(), due = o->count;

	if (o->interval_ns) {
		due = (now - g->start_ns) / o->interval_ns + 1;
		if (due > o->count)
			due = o->count;
	} else if (due - g->sent > 256) {
		due = g->sent + 256; /* let echoes be read between chunks */
	}
	while (g->sent < due) {
		struct emu_probe pr = {.magic = EMU_PROBE_MAGIC,
				       .seq = (uint32_t)g->sent,
				       .sent_ns = emu_now_ns()};
		memcpy(g->pkt, &pr, sizeof(pr));
		if (send(g->fd, g->pkt, o->size, 0) < 0) {
			if (errno == EAGAIN || errno == ENOBUFS)
				break; /* socket full: retry next tick */
			/* ECONNREFUSED: ICMP for an earlier packet. */
			log_debug("gen", "send: %s", strerror(errno));
			g->send_err++;
		}
		g->sent++;
	}
	if (g->sent == o->count) {
		gen_finish_sending(loop, g);
		return;
	}
	double after = 0;
	if (o->interval_ns && g->sent == due) {
		uint64_t next = g->start_ns + g->sent * o->interval_ns;
		after = next > now ? (double)(next - now) / 1e9 : 0;
	}
	ev_timer_set(w, after, 0.);
	ev_timer_start(loop, w);
}

static void gen_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gen *g = (void *)((char *)w - offsetof(struct gen, io));

	for (int i = 0; i < 256; i++) {
		ssize_t n = recv(g->fd, g->rx, sizeof(g->rx), 0);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_debug("gen", "recv: %s", strerror(errno));
			return;
		}
		struct emu_probe pr;
		if ((size_t)n < sizeof(pr))
			continue;
		memcpy(&pr, g->rx, sizeof(pr));
		if (pr.magic != EMU_PROBE_MAGIC || pr.seq >= g->sent)
			continue;
		uint64_t rtt = emu_now_ns() - pr.sent_ns;
		g->received++;
		g->rtt_sum += rtt;
		if (g->received == 1 || rtt < g->rtt_min)
			g->rtt_min = rtt;
		if (rtt > g->rtt_max)
			g->rtt_max = rtt;
		if ((int64_t)pr.seq < g->max_seq)
			g->reordered++;
		else
			g->max_seq = pr.seq;
	}
	if (g->sent == g->o->count && g->received == g->sent)
		ev_break(loop, EVBREAK_ALL);
}

static void gen_stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void gen_report(const struct gen *g)
{
	double n = g->received ? (double)g->received : 1;

	printf("sent=%" PRIu64 " received=%" PRIu64 " lost=%" PRIu64
	       " rtt_min_ms=%.3f rtt_avg_ms=%.3f rtt_max_ms=%.3f"
	       " reordered=%" PRIu64 " send_err=%" PRIu64 "\n",
	       g->sent, g->received, g->sent - g->received,
	       (double)g->rtt_min / 1e6, (double)g->rtt_sum / n / 1e6,
	       (double)g->rtt_max / 1e6, g->reordered, g->send_err);
}

int gen_run(const struct gen_opts *o, struct err *e)
{
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	struct gen *g;
	int ret;

	if (!loop)
		return err_set(e, -ENOSYS, "cannot initialise libev");
	g = calloc(1, sizeof(*g));
	if (!g)
		return err_set(e, -ENOMEM, "out of memory");
	g->o = o;
	g->max_seq = -1;
	ret = addr_udp_socket(o->have_bind ? &o->bind : NULL,
			      o->dest.ss.ss_family, e);
	if (ret < 0)
		goto out;
	g->fd = ret;
	if (connect(g->fd, (const void *)&o->dest.ss, o->dest.len) < 0) {
		ret = err_set(e, -errno, "connect: %s", strerror(errno));
		close(g->fd);
		goto out;
	}
	ev_io_init(&g->io, gen_read_cb, g->fd, EV_READ);
	ev_io_start(loop, &g->io);
	ev_timer_init(&g->tick, gen_tick_cb, 0., 0.);
	ev_timer_start(loop, &g->tick);
	ev_timer_init(&g->done, gen_stop_cb, 0., 0.);
	emu_stop_start(loop, &g->stop);
	g->start_ns = emu_now_ns();
	ev_run(loop, 0);
	ev_io_stop(loop, &g->io);
	ev_timer_stop(loop, &g->tick);
	ev_timer_stop(loop, &g->done);
	emu_stop_stop(loop, &g->stop);
	if (close(g->fd) < 0)
		log_warn("gen", "close: %s", strerror(errno));
	gen_report(g);
	ret = fflush(stdout) == 0 ? 0 : err_set(e, -EIO, "cannot write stdout");
out:
	free(g);
	ev_loop_destroy(loop);
	return ret;
}
