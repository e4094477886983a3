/*
 * --sink ADDR:PORT: counts what arrives, one way, so loss and throughput are
 * measured at the receiver (not by the relay grading itself). Reports on
 * stdout once traffic stops for --idle, at --timeout, or on SIGINT/SIGTERM:
 *   received=N bytes=B span_ms=T rate_bps=R reordered=O max_seq=S
 * rate_bps counts the bytes after the first packet over the time from the
 * first to the last arrival: the rate the link delivered, not the offered one.
 * reordered counts generator packets whose sequence number is below one
 * already seen. With --bin D the line also has bin_ms=D and bins=B0,B1,...:
 * the bytes that arrived in each D-long bin from the first arrival, so a
 * test can see the delivered rate change over time (a rate step) at the
 * receiver. At most SINK_MAX_BINS bins; later arrivals go to the last.
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

#define SINK_MAX_BINS 1024

struct sink {
	int fd;
	uint64_t idle_ns;
	ev_io io;
	ev_timer idle, timeout;
	struct emu_stop stop;
	uint64_t received, bytes, first_ns, last_ns, first_len;
	uint64_t reordered;
	int64_t max_seq;
	uint64_t bin_ns; /* 0: no bins */
	uint32_t nbins;	 /* bins up to the last one used */
	uint64_t bins[SINK_MAX_BINS];
	uint8_t buf[EMU_MAX_DGRAM];
};

/* Bytes per bin, comma-separated, after the report's other fields. */
static void sink_print_bins(const struct sink *s)
{
	printf(" bin_ms=%.6g bins=", (double)s->bin_ns / 1e6);
	for (uint32_t i = 0; i < s->nbins; i++)
		printf("%s%" PRIu64, i ? "," : "", s->bins[i]);
	if (!s->nbins)
		printf("0");
}

static void sink_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sink *s = (void *)((char *)w - offsetof(struct sink, io));

	for (int i = 0; i < 256; i++) {
		ssize_t n = recv(s->fd, s->buf, sizeof(s->buf), 0);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("sink", "recv: %s", strerror(errno));
			return;
		}
		uint64_t now = emu_now_ns();
		if (s->received++ == 0) {
			s->first_ns = now;
			s->first_len = (uint64_t)n;
			ev_timer_start(loop, &s->idle);
		}
		s->last_ns = now;
		s->bytes += (uint64_t)n;
		if (s->bin_ns) {
			uint64_t b = (now - s->first_ns) / s->bin_ns;
			b = b < SINK_MAX_BINS ? b : SINK_MAX_BINS - 1;
			s->bins[b] += (uint64_t)n;
			s->nbins =
			    b + 1 > s->nbins ? (uint32_t)b + 1 : s->nbins;
		}
		struct emu_probe pr;
		if ((size_t)n >= sizeof(pr)) {
			memcpy(&pr, s->buf, sizeof(pr));
			if (pr.magic == EMU_PROBE_MAGIC) {
				if ((int64_t)pr.seq < s->max_seq)
					s->reordered++;
				else
					s->max_seq = pr.seq;
			}
		}
	}
}

/* Fires every idle period; ends the run once a full period passed since
 * the last packet (cheaper than restarting a timer per packet). */
static void sink_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sink *s = (void *)((char *)w - offsetof(struct sink, idle));
	uint64_t now = emu_now_ns();

	if (now - s->last_ns >= s->idle_ns)
		ev_break(loop, EVBREAK_ALL);
	else
		ev_timer_again(loop, w);
}

static void sink_stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

int sink_run(const struct emu_addr *a, uint64_t idle_ns, uint64_t timeout_ns,
	     uint64_t bin_ns, struct err *e)
{
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	struct sink *s;
	char buf[80];
	int ret;

	if (!loop)
		return err_set(e, -ENOSYS, "cannot initialise libev");
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	s->max_seq = -1;
	s->idle_ns = idle_ns;
	s->bin_ns = bin_ns;
	ret = addr_udp_socket(a, a->ss.ss_family, e);
	if (ret < 0)
		goto out;
	s->fd = ret;
	ev_io_init(&s->io, sink_read_cb, s->fd, EV_READ);
	ev_io_start(loop, &s->io);
	ev_timer_init(&s->idle, sink_idle_cb, 0., (double)idle_ns / 1e9);
	ev_timer_init(&s->timeout, sink_stop_cb, (double)timeout_ns / 1e9, 0.);
	ev_timer_start(loop, &s->timeout);
	emu_stop_start(loop, &s->stop);
	log_info("sink", "receiving on %s", addr_str(a, buf, sizeof(buf)));
	ev_run(loop, 0);
	ev_io_stop(loop, &s->io);
	ev_timer_stop(loop, &s->idle);
	ev_timer_stop(loop, &s->timeout);
	emu_stop_stop(loop, &s->stop);
	if (close(s->fd) < 0)
		log_warn("sink", "close: %s", strerror(errno));

	uint64_t span = s->last_ns - s->first_ns;
	double rate =
	    span ? (double)(s->bytes - s->first_len) * 8e9 / (double)span : 0;
	printf("received=%" PRIu64 " bytes=%" PRIu64 " span_ms=%.3f "
	       "rate_bps=%.0f reordered=%" PRIu64 " max_seq=%" PRId64,
	       s->received, s->bytes, (double)span / 1e6, rate, s->reordered,
	       s->max_seq);
	if (s->bin_ns)
		sink_print_bins(s);
	printf("\n");
	ret = fflush(stdout) == 0 ? 0 : err_set(e, -EIO, "cannot write stdout");
out:
	free(s);
	ev_loop_destroy(loop);
	return ret;
}
