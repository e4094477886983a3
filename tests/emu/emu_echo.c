/*
 * --echo ADDR:PORT: a UDP echo server for round-trip tests through the relay.
 * Every datagram goes back unchanged to its sender, so the generator's send
 * timestamp survives the trip and it can measure RTT itself.
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

struct echo {
	int fd;
	ev_io io;
	struct emu_stop stop;
	uint64_t echoed, send_err;
	uint8_t buf[EMU_MAX_DGRAM];
};

static void echo_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct echo *s = (void *)((char *)w - offsetof(struct echo, io));

	/* Bounded so signals are still seen under a flood. */
	for (int i = 0; i < 256; i++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(s->fd, s->buf, sizeof(s->buf), 0,
				     (void *)&from, &flen);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("echo", "recvfrom: %s",
					 strerror(errno));
			return;
		}
		if (sendto(s->fd, s->buf, (size_t)n, 0, (void *)&from, flen) <
		    0)
			s->send_err++;
		else
			s->echoed++;
	}
}

int echo_run(const struct emu_addr *a, struct err *e)
{
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	struct echo *s;
	char buf[80];
	int ret;

	if (!loop)
		return err_set(e, -ENOSYS, "cannot initialise libev");
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	ret = addr_udp_socket(a, a->ss.ss_family, e);
	if (ret < 0)
		goto out;
	s->fd = ret;
	ev_io_init(&s->io, echo_read_cb, s->fd, EV_READ);
	ev_io_start(loop, &s->io);
	emu_stop_start(loop, &s->stop);
	log_info("echo", "echoing on %s", addr_str(a, buf, sizeof(buf)));
	ev_run(loop, 0);
	ev_io_stop(loop, &s->io);
	emu_stop_stop(loop, &s->stop);
	if (close(s->fd) < 0)
		log_warn("echo", "close: %s", strerror(errno));
	printf("echoed=%" PRIu64 " send_err=%" PRIu64 "\n", s->echoed,
	       s->send_err);
	ret = fflush(stdout) == 0 ? 0 : err_set(e, -EIO, "cannot write stdout");
out:
	free(s);
	ev_loop_destroy(loop);
	return ret;
}
