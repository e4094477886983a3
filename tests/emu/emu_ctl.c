/*
 * Control channel of the relay: a Unix stream socket taking one command per
 * line ("delay 40ms loss 5%", "down", "stats") and answering each with one
 * line ("ok", "error: ...", or a JSON object). One table of settings drives
 * the control verbs, the command-line options of the same name and the help
 * text, so the three cannot drift apart. A line is applied all or nothing.
 * Also the --ctl client, so shell tests need no socat.
 */
#include "emu.h"
#include "base/log.h"

#include <errno.h>
#include <ev.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_MAX_CONN	      8
#define CTL_LINE_MAX	      512
#define CTL_REPLY_MAX	      4096
#define CTL_CLIENT_TIMEOUT_MS 5000

static int set_down(struct imp_params *p, const char *v, struct err *e)
{
	p->down = true;
	return 0;
}

static int set_up(struct imp_params *p, const char *v, struct err *e)
{
	p->down = false;
	return 0;
}

static int set_delay(struct imp_params *p, const char *v, struct err *e)
{
	return parse_duration_ns(v, &p->delay_ns, e);
}

static int set_jitter(struct imp_params *p, const char *v, struct err *e)
{
	return parse_duration_ns(v, &p->jitter_ns, e);
}

static int set_jitter_dist(struct imp_params *p, const char *v, struct err *e)
{
	if (strcmp(v, "uniform") == 0)
		p->jitter_dist = IMP_JITTER_UNIFORM;
	else if (strcmp(v, "normal") == 0)
		p->jitter_dist = IMP_JITTER_NORMAL;
	else
		return err_set(e, -EINVAL,
			       "invalid jitter distribution '%s': expected "
			       "uniform or normal",
			       v);
	return 0;
}

static int set_loss(struct imp_params *p, const char *v, struct err *e)
{
	return parse_percent(v, &p->loss, e);
}

static int set_loss_burst(struct imp_params *p, const char *v, struct err *e)
{
	uint64_t n;
	int ret = parse_uint(v, 0, 10000, &n, e);

	if (ret == 0)
		p->loss_burst = (double)n;
	return ret;
}

/* An explicit rate ends a running schedule: otherwise its next step would
 * silently undo the command. */
static int set_rate(struct imp_params *p, const char *v, struct err *e)
{
	int ret = parse_rate_bps(v, &p->rate_bps, e);

	if (ret == 0)
		p->sched.n = 0;
	return ret;
}

/* Starts (when applied: relay start or the command) a step profile, or
 * "off" stops it and leaves the rate where it got to. */
static int set_rate_schedule(struct imp_params *p, const char *v, struct err *e)
{
	struct imp_sched sc;
	int ret;

	if (v && strcmp(v, "off") == 0) {
		p->sched.n = 0;
		return 0;
	}
	ret = parse_rate_schedule(v, &sc, e);
	if (ret == 0)
		p->sched = sc; /* not started: starts when applied */
	return ret;
}

/* (Re)starts the random walk at factor 1 when applied, or turns it off. */
static int set_rate_walk(struct imp_params *p, const char *v, struct err *e)
{
	double pct;
	uint64_t iv;
	int ret;

	if (v && strcmp(v, "off") == 0) {
		p->walk.pct = 0;
		return 0;
	}
	ret = parse_rate_walk(v, &pct, &iv, e);
	if (ret == 0) {
		p->walk.pct = pct;
		p->walk.interval_ns = iv;
		p->walk.started = false;
	}
	return ret;
}

/* The to_client rate, or "same" to follow the to_server rate again. */
static int set_rate_down(struct imp_params *p, const char *v, struct err *e)
{
	int ret;

	if (v && strcmp(v, "same") == 0) {
		p->rate_down_set = false;
		return 0;
	}
	ret = parse_rate_bps(v, &p->rate_down_bps, e);
	if (ret == 0)
		p->rate_down_set = true;
	return ret;
}

/* A time ("100ms": that much queueing delay at the current rate, so it
 * follows rate changes) or a size ("64kb"). */
static int set_queue(struct imp_params *p, const char *v, struct err *e)
{
	uint64_t x;

	if (parse_duration_ns(v, &x, NULL) == 0 && x > 0) {
		p->queue_ns = x;
		p->queue_bytes = 0;
		return 0;
	}
	if (parse_size_bytes(v, &x, NULL) == 0 && x > 0) {
		p->queue_bytes = x;
		return 0;
	}
	return err_set(e, -EINVAL,
		       "invalid queue limit '%s': expected a positive duration "
		       "(e.g. 100ms) or size (e.g. 64kb, 1mib)",
		       v);
}

/* Bytes per datagram, or "auto": the relay picks the IP + UDP header size
 * of its forward side, which is what a real uplink carries on top. */
static int set_overhead(struct imp_params *p, const char *v, struct err *e)
{
	uint64_t n;
	int ret;

	if (v && strcmp(v, "auto") == 0) {
		p->overhead_auto = true;
		return 0;
	}
	ret = parse_uint(v, 0, EMU_OVERHEAD_MAX, &n, NULL);
	if (ret < 0)
		return err_set(
		    e, ret,
		    "invalid overhead '%s': expected auto or 0 to %d "
		    "bytes per datagram",
		    v ? v : "", EMU_OVERHEAD_MAX);
	p->overhead = (uint32_t)n;
	p->overhead_auto = false;
	return 0;
}

static int set_reorder(struct imp_params *p, const char *v, struct err *e)
{
	return parse_on_off(v, &p->reorder, e);
}

struct ctl_setting {
	const char *name;
	const char *metavar; /* NULL: takes no value */
	int (*apply)(struct imp_params *p, const char *v, struct err *e);
	const char *help;
};

static const struct ctl_setting ctl_settings[] = {
    {.name = "down", .apply = set_down, .help = "drop every packet"},
    {.name = "up", .apply = set_up, .help = "pass packets again"},
    {.name = "delay",
     .metavar = "DURATION",
     .apply = set_delay,
     .help = "one-way delay per direction (e.g. 20ms)"},
    {.name = "jitter",
     .metavar = "DURATION",
     .apply = set_jitter,
     .help = "delay varies by +-this; FIFO kept unless reorder"},
    {.name = "jitter-dist",
     .metavar = "uniform|normal",
     .apply = set_jitter_dist,
     .help = "jitter distribution (normal: sigma=jitter)"},
    {.name = "loss",
     .metavar = "PERCENT",
     .apply = set_loss,
     .help = "random loss per packet (e.g. 2%)"},
    {.name = "loss-burst",
     .metavar = "PACKETS",
     .apply = set_loss_burst,
     .help = "mean loss burst length (Gilbert); 0/1 = independent"},
    {.name = "rate",
     .metavar = "RATE",
     .apply = set_rate,
     .help = "serialization rate (e.g. 20mbit), off = unlimited"},
    {.name = "rate-down",
     .metavar = "RATE|same",
     .apply = set_rate_down,
     .help = "to_client rate if different; same = follow rate"},
    {.name = "rate-schedule",
     .metavar = "T:R,T:R..|off",
     .apply = set_rate_schedule,
     .help = "rate steps, T from now (0s:20mbit,10s:6mbit); last holds"},
    {.name = "rate-walk",
     .metavar = "PCT/T|off",
     .apply = set_rate_walk,
     .help = "each T move the rate by up to PCT, within rate/2..2x"},
    {.name = "queue",
     .metavar = "TIME|SIZE",
     .apply = set_queue,
     .help = "rate queue limit, tail drop beyond (100ms, 64kb)"},
    {.name = "overhead",
     .metavar = "BYTES|auto",
     .apply = set_overhead,
     .help = "per-datagram header bytes in rate and queue (auto: 28/48)"},
    {.name = "reorder",
     .metavar = "on|off",
     .apply = set_reorder,
     .help = "let jitter reorder packets"},
};

#define CTL_NSETTINGS (sizeof(ctl_settings) / sizeof(ctl_settings[0]))

static const struct ctl_setting *ctl_find(const char *name)
{
	for (size_t i = 0; i < CTL_NSETTINGS; i++)
		if (strcmp(ctl_settings[i].name, name) == 0)
			return &ctl_settings[i];
	return NULL;
}

bool ctl_setting_takes_value(const char *name)
{
	const struct ctl_setting *s = ctl_find(name);
	return s && s->metavar;
}

int ctl_apply_setting(struct imp_params *p, const char *name, const char *value,
		      struct err *e)
{
	const struct ctl_setting *s = ctl_find(name);

	if (!s)
		return err_set(e, -ENOENT, "unknown setting '%s'", name);
	if (s->metavar && !value)
		return err_set(e, -EINVAL, "'%s' needs a value: %s %s", name,
			       name, s->metavar);
	return s->apply(p, value, e);
}

void ctl_print_help(FILE *out)
{
	fprintf(out, "Control commands (one per line; settings combine, e.g. "
		     "\"delay 40ms loss 5%%\"):\n");
	for (size_t i = 0; i < CTL_NSETTINGS; i++) {
		const struct ctl_setting *s = &ctl_settings[i];
		fprintf(out, "  %-13s %-15s %s\n", s->name,
			s->metavar ? s->metavar : "", s->help);
	}
	fprintf(out, "  %-29s %s\n", "stats",
		"counters per direction as one JSON line");
	fprintf(out, "  %-29s %s\n", "show", "current settings as JSON");
	fprintf(out, "  %-29s %s\n", "reset", "zero the counters");
	fprintf(out, "  %-29s %s\n", "help", "this list");
}

/* Runs one command line; writes a reply line (with newline) into reply.
 * Returns 0, or a negative errno when the reply is an error. */
int ctl_exec_line(struct relay *r, char *line, char *reply, size_t len)
{
	char *tok[32], *save = NULL, *t;
	int ntok = 0, ret;
	struct err e = {{0}};

	for (t = strtok_r(line, " \t\r\n", &save); t;
	     t = strtok_r(NULL, " \t\r\n", &save)) {
		if (ntok == 32) {
			snprintf(reply, len, "error: too many words\n");
			return -E2BIG;
		}
		tok[ntok++] = t;
	}
	if (ntok == 0) {
		snprintf(reply, len, "error: empty command; try help\n");
		return -EINVAL;
	}
	if (ntok == 1 && strcmp(tok[0], "stats") == 0) {
		ret = relay_stats_json(r, reply, len - 1);
		goto json;
	}
	if (ntok == 1 && strcmp(tok[0], "show") == 0) {
		ret = relay_params_json(r, reply, len - 1);
		goto json;
	}
	if (ntok == 1 && strcmp(tok[0], "reset") == 0) {
		relay_reset_counters(r);
		snprintf(reply, len, "ok\n");
		return 0;
	}
	if (ntok == 1 && strcmp(tok[0], "help") == 0) {
		FILE *f = fmemopen(reply, len, "w");
		if (!f) {
			snprintf(reply, len, "error: %s\n", strerror(errno));
			return -errno;
		}
		ctl_print_help(f);
		if (fclose(f) != 0) {
			snprintf(reply, len, "error: help does not fit\n");
			return -ENOSPC;
		}
		return 0;
	}

	struct imp_params next = *relay_params(r);
	for (int i = 0; i < ntok; i++) {
		const struct ctl_setting *s = ctl_find(tok[i]);
		if (!s) {
			snprintf(reply, len,
				 "error: unknown command '%s'; try help\n",
				 tok[i]);
			return -ENOENT;
		}
		const char *v = NULL;
		if (s->metavar) {
			if (i + 1 >= ntok) {
				snprintf(reply, len,
					 "error: '%s' needs a value: %s %s\n",
					 s->name, s->name, s->metavar);
				return -EINVAL;
			}
			v = tok[++i];
		}
		ret = s->apply(&next, v, &e);
		if (ret < 0) {
			snprintf(reply, len, "error: %s\n", e.msg);
			return ret;
		}
	}
	relay_apply(r, &next);
	snprintf(reply, len, "ok\n");
	return 0;
json:
	if (ret < 0) {
		snprintf(reply, len, "error: reply too large\n");
		return ret;
	}
	strcat(reply, "\n");
	return 0;
}

struct ctl_conn {
	struct ctl *c;
	int slot;
	int fd;
	ev_io io;
	size_t used;
	char buf[CTL_LINE_MAX];
};

struct ctl {
	struct relay *r;
	struct ev_loop *loop;
	int fd;
	ev_io io;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_conn *conns[CTL_MAX_CONN];
};

static void conn_close(struct ctl_conn *cn)
{
	ev_io_stop(cn->c->loop, &cn->io);
	if (close(cn->fd) < 0)
		log_warn("emu", "control: close: %s", strerror(errno));
	cn->c->conns[cn->slot] = NULL;
	free(cn);
}

/* Replies are small; a client that does not read them is dropped rather
 * than buffered for. Returns 0 or -errno. */
static int conn_write(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_conn *cn =
	    (void *)((char *)w - offsetof(struct ctl_conn, io));
	char reply[CTL_REPLY_MAX];
	ssize_t n =
	    read(cn->fd, cn->buf + cn->used, sizeof(cn->buf) - cn->used);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n < 0)
			log_warn("emu", "control: read: %s", strerror(errno));
		conn_close(cn);
		return;
	}
	cn->used += (size_t)n;
	char *nl;
	while ((nl = memchr(cn->buf, '\n', cn->used))) {
		char cmd[CTL_LINE_MAX];
		*nl = '\0';
		size_t consumed = (size_t)(nl - cn->buf) + 1;
		snprintf(cmd, sizeof(cmd), "%s", cn->buf);
		ctl_exec_line(cn->c->r, cn->buf, reply, sizeof(reply));
		/* Changes and refusals are worth a line; queries are not. */
		if (strncmp(reply, "ok", 2) == 0 ||
		    strncmp(reply, "error", 5) == 0)
			log_info("emu", "control: '%s' -> %.*s", cmd,
				 (int)strcspn(reply, "\n"), reply);
		memmove(cn->buf, cn->buf + consumed, cn->used - consumed);
		cn->used -= consumed;
		if (conn_write(cn->fd, reply, strlen(reply)) < 0) {
			conn_close(cn);
			return;
		}
	}
	if (cn->used == sizeof(cn->buf)) {
		static const char msg[] = "error: line too long\n";
		if (conn_write(cn->fd, msg, sizeof(msg) - 1) < 0)
			log_debug("emu", "control: reply lost");
		conn_close(cn);
	}
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl *c = (void *)((char *)w - offsetof(struct ctl, io));
	int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int slot = -1;

	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("emu", "control: accept: %s", strerror(errno));
		return;
	}
	for (int i = 0; i < CTL_MAX_CONN && slot < 0; i++)
		if (!c->conns[i])
			slot = i;
	struct ctl_conn *cn = slot < 0 ? NULL : calloc(1, sizeof(*cn));
	if (!cn) {
		static const char msg[] = "error: too many control clients\n";
		if (conn_write(fd, msg, sizeof(msg) - 1) < 0)
			log_debug("emu", "control: reply lost");
		if (close(fd) < 0)
			log_warn("emu", "control: close: %s", strerror(errno));
		return;
	}
	cn->c = c;
	cn->slot = slot;
	cn->fd = fd;
	c->conns[slot] = cn;
	ev_io_init(&cn->io, conn_cb, fd, EV_READ);
	ev_io_start(loop, &cn->io);
}

static int ctl_sockaddr(const char *path, struct sockaddr_un *sa, struct err *e)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!*path || strlen(path) >= sizeof(sa->sun_path))
		return err_set(e, -ENAMETOOLONG,
			       "control socket path '%s': must be 1 to %zu "
			       "characters",
			       path, sizeof(sa->sun_path) - 1);
	strcpy(sa->sun_path, path);
	return 0;
}

/* A socket file left by a killed emulator is removed; one that still
 * answers, or any other kind of file, is not. */
static int ctl_clear_stale(const struct sockaddr_un *sa, struct err *e)
{
	struct stat st;
	int fd, ret = 0;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0
				       : err_set(e, -errno, "%s: %s",
						 sa->sun_path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return err_set(e, -EEXIST,
			       "control path '%s' exists and is not a socket",
			       sa->sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (const void *)sa, sizeof(*sa)) == 0)
		ret = err_set(e, -EADDRINUSE,
			      "control socket '%s' is in use by a running "
			      "process",
			      sa->sun_path);
	else if (unlink(sa->sun_path) < 0)
		ret = err_set(e, -errno, "cannot remove stale '%s': %s",
			      sa->sun_path, strerror(errno));
	close(fd);
	return ret;
}

int ctl_open(struct ctl **out, struct relay *r, void *loop, const char *path,
	     struct err *e)
{
	struct sockaddr_un sa;
	struct ctl *c;
	int ret;

	ret = ctl_sockaddr(path, &sa, e);
	if (ret < 0)
		return ret;
	ret = ctl_clear_stale(&sa, e);
	if (ret < 0)
		return ret;
	c = calloc(1, sizeof(*c));
	if (!c)
		return err_set(e, -ENOMEM, "out of memory");
	c->r = r;
	c->loop = loop;
	strcpy(c->path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		ret = err_set(e, -errno, "socket: %s", strerror(errno));
		free(c);
		return ret;
	}
	if (bind(c->fd, (const void *)&sa, sizeof(sa)) < 0 ||
	    listen(c->fd, CTL_MAX_CONN) < 0) {
		ret = err_set(e, -errno, "control socket '%s': %s", path,
			      strerror(errno));
		close(c->fd);
		free(c);
		return ret;
	}
	ev_io_init(&c->io, accept_cb, c->fd, EV_READ);
	ev_io_start(c->loop, &c->io);
	*out = c;
	return 0;
}

void ctl_close(struct ctl *c)
{
	for (int i = 0; i < CTL_MAX_CONN; i++)
		if (c->conns[i])
			conn_close(c->conns[i]);
	ev_io_stop(c->loop, &c->io);
	if (close(c->fd) < 0)
		log_warn("emu", "control: close: %s", strerror(errno));
	if (unlink(c->path) < 0)
		log_warn("emu", "control: unlink %s: %s", c->path,
			 strerror(errno));
	free(c);
}

/* --ctl SOCK CMD...: sends the words as one line, prints the reply. Exit
 * status 0 on "ok"/data, 1 on an error reply or no answer. */
int ctl_client(const char *path, int argc, char **argv)
{
	struct sockaddr_un sa;
	struct err e = {{0}};
	char line[CTL_LINE_MAX], reply[CTL_REPLY_MAX];
	size_t off = 0, got = 0;
	int fd, status = 1;

	if (ctl_sockaddr(path, &sa, &e) < 0) {
		fprintf(stderr, "ttt-linkemu: %s\n", e.msg);
		return EMU_EXIT_USAGE;
	}
	for (int i = 0; i < argc; i++) {
		int n = snprintf(line + off, sizeof(line) - off, "%s%s",
				 i ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(line) - off - 1) {
			fprintf(stderr, "ttt-linkemu: command too long\n");
			return EMU_EXIT_USAGE;
		}
		off += (size_t)n;
	}
	line[off++] = '\n';
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "ttt-linkemu: socket: %s\n", strerror(errno));
		return 1;
	}
	if (connect(fd, (const void *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ttt-linkemu: cannot connect to '%s': %s\n",
			path, strerror(errno));
		goto out;
	}
	if (conn_write(fd, line, off) < 0 || shutdown(fd, SHUT_WR) < 0) {
		fprintf(stderr, "ttt-linkemu: send to '%s': %s\n", path,
			strerror(errno));
		goto out;
	}
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, CTL_CLIENT_TIMEOUT_MS);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			fprintf(stderr, "ttt-linkemu: no reply from '%s'\n",
				path);
			goto out;
		}
		ssize_t n = read(fd, reply + got, sizeof(reply) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "ttt-linkemu: read: %s\n",
				strerror(errno));
			goto out;
		}
		if (n == 0 || (got += (size_t)n) == sizeof(reply) - 1)
			break;
	}
	reply[got] = '\0';
	if (got == 0) {
		fprintf(stderr, "ttt-linkemu: empty reply from '%s'\n", path);
		goto out;
	}
	fputs(reply, stdout);
	status = strncmp(reply, "error", 5) == 0 ? 1 : 0;
out:
	close(fd);
	return status;
}
