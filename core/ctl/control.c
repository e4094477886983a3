/*
 * Control socket, both ends. The server lives in the daemon's libev loop and
 * must never let a control client hurt the data path: every socket is
 * non-blocking, each connection has bounded input (one request line) and
 * bounded queued output, bad requests get an error line instead of an exit,
 * and a peer that vanishes is simply dropped (MSG_NOSIGNAL, no SIGPIPE).
 * The client half is small blocking code for tuntunctl and scripts.
 */
#include "ctl/control.h"
#include "os/nss.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

#define SUB		   "control"
#define CTL_BACKLOG	   16
#define CTL_ACCEPT_BURST   16
#define CTL_ACCEPT_RETRY_S 1.0
/* The client refuses replies beyond this, so a confused peer cannot make
 * tuntunctl eat all memory; a big server's status is far smaller. */
#define CTL_CLIENT_MAX_REPLY (64 * 1024 * 1024)

/* One accepted connection. Watchers first so the owner is found from them. */
struct ctl_conn {
	ev_io rio;
	ev_io wio;
	/* The next buffered request, one loop iteration later: a timer of 0 s
	 * (an ev_idle would starve while the data path keeps the loop busy). */
	ev_timer step;
	struct ctl_server *srv;
	struct ctl_conn *next;
	struct ctl_conn **pprev;
	int fd;
	bool closing; /* no more reading; close once output is flushed */
	bool eof;     /* the peer closed its side; answer what is buffered */
	char *out;
	size_t out_off, out_len, out_cap;
	size_t in_len;
	char in[CTL_MAX_REQUEST + 1]; /* the longest line plus its newline */
};

struct ctl_server {
	ev_io lio;
	ev_timer retry; /* re-arms accepting after EMFILE and friends */
	struct ev_loop *loop;
	int fd;
	const struct ctl_command *cmds;
	void *arg;
	uid_t euid;
	gid_t gid;
	bool has_group;
	unsigned busy;	   /* > 0 while a handler runs */
	bool stop_pending; /* ctl_server_stop() was called from a handler */
	unsigned n_clients;
	struct ctl_conn *clients;
	dev_t dev; /* identity of the socket file we created, so stop never */
	ino_t ino; /* unlinks a successor daemon's socket */
	int dirfd; /* the socket's directory, checked at start (see below) */
	const char *base; /* the socket's name in it (inside path) */
	uid_t *members;	  /* the group's members, looked up at start/reload */
	size_t n_members;
	char group[64];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static const char *json_type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

static __attribute__((format(printf, 1, 2))) json_t *
error_reply(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

/* The built-in "help": the table itself, so help can never drift from it. */
static json_t *help_reply(const struct ctl_command *cmds)
{
	json_t *list = json_array();
	if (!list)
		return NULL;
	json_array_append_new(
	    list, json_pack("{s:s, s:s}", "name", "help", "help",
			    "list the commands this daemon accepts"));
	for (const struct ctl_command *c = cmds; c && c->name; c++)
		json_array_append_new(list, json_pack("{s:s, s:s}", "name",
						      c->name, "help",
						      c->help ? c->help : ""));
	return json_pack("{s:b, s:o}", "ok", 1, "commands", list);
}

json_t *ctl_dispatch(const struct ctl_command *cmds, void *arg,
		     const char *line, size_t len)
{
	json_error_t jerr;
	json_t *reply = NULL, *body = NULL;
	json_t *req = json_loadb(
	    line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!req)
		return error_reply("malformed JSON at column %d: %s",
				   jerr.column, jerr.text);
	if (!json_is_object(req)) {
		reply = error_reply("request must be a JSON object, got %s",
				    json_type_name(req));
		goto out;
	}
	json_t *cmd = json_object_get(req, "cmd");
	if (!cmd) {
		reply = error_reply("request has no \"cmd\" member; try "
				    "{\"cmd\":\"help\"}");
		goto out;
	}
	if (!json_is_string(cmd)) {
		reply = error_reply("\"cmd\" must be a string, got %s",
				    json_type_name(cmd));
		goto out;
	}
	const char *name = json_string_value(cmd);
	if (strcmp(name, "help") == 0) {
		reply = help_reply(cmds);
		goto out;
	}
	const struct ctl_command *c = cmds;
	while (c && c->name && strcmp(c->name, name) != 0)
		c++;
	if (!c || !c->name) {
		reply = error_reply("unknown command \"%.64s\"; try \"help\"",
				    name);
		goto out;
	}
	struct err e = {{0}};
	body = c->fn(arg, req, &e);
	if (!body) {
		reply = error_reply("%s", e.msg[0] ? e.msg : "command failed");
		goto out;
	}
	if (!json_is_object(body)) {
		log_err(SUB, "handler for \"%s\" returned %s, not an object",
			c->name, json_type_name(body));
		reply = error_reply("internal error: \"%s\" produced no reply",
				    c->name);
		goto out;
	}
	/* "ok" first so a human reading the raw line sees it at once. */
	reply = json_pack("{s:b}", "ok", 1);
	if (reply && (json_object_update(reply, body) < 0 ||
		      json_object_set_new(reply, "ok", json_true()) < 0)) {
		json_decref(reply);
		reply = NULL;
	}
out:
	json_decref(body);
	json_decref(req);
	return reply;
}

/* ---- server: connections ---- */

static void conn_free(struct ctl_conn *c)
{
	struct ctl_server *s = c->srv;
	ev_io_stop(s->loop, &c->rio);
	ev_io_stop(s->loop, &c->wio);
	ev_timer_stop(s->loop, &c->step);
	if (close(c->fd) < 0)
		log_debug(SUB, "close: %s", strerror(errno));
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	s->n_clients--;
	free(c->out);
	free(c);
}

/* Sends what it can now; returns -1 if the connection was dropped. */
static int conn_flush(struct ctl_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n =
		    send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			log_debug(SUB, "client gone: %s", strerror(errno));
			conn_free(c);
			return -1;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		ev_io_stop(c->srv->loop, &c->wio);
		if (c->closing) {
			conn_free(c);
			return -1;
		}
	} else {
		ev_io_start(c->srv->loop, &c->wio);
	}
	return 0;
}

/* Queues one reply line. A client that lets more than CTL_MAX_OUTPUT pile
 * up is not reading: drop it rather than grow without bound. */
static int conn_queue(struct ctl_conn *c, const char *s, size_t len)
{
	size_t pending = c->out_len - c->out_off;
	if (pending + len + 1 > CTL_MAX_OUTPUT) {
		log_warn(SUB,
			 "dropping a control client that does not read "
			 "its replies (%zu bytes queued)",
			 pending + len + 1);
		conn_free(c);
		return -1;
	}
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, pending);
		c->out_off = 0;
		c->out_len = pending;
	}
	if (c->out_len + len + 1 > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + len + 1)
			cap *= 2;
		char *p = realloc(c->out, cap);
		if (!p) {
			log_warn(SUB, "out of memory for a control reply");
			conn_free(c);
			return -1;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	return conn_flush(c);
}

static int conn_send_json(struct ctl_conn *c, json_t *reply)
{
	static const char oom[] = "{\"ok\":false,\"error\":\"out of memory\"}";
	char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	int rc = text ? conn_queue(c, text, strlen(text))
		      : conn_queue(c, oom, sizeof(oom) - 1);
	free(text);
	json_decref(reply);
	return rc;
}

static void server_free(struct ctl_server *s);

/* Answers one line. Returns -1 if the connection (or the whole server,
 * stopped by the handler) is gone. */
static int conn_answer(struct ctl_conn *c, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len)
		return 0; /* blank lines are keep-alives from hand typing */
	struct ctl_server *s = c->srv;
	s->busy++;
	json_t *reply = ctl_dispatch(s->cmds, s->arg, line, len);
	s->busy--;
	if (s->stop_pending && s->busy == 0) {
		/* Best effort: the asker learns its stop was accepted. */
		conn_send_json(c, reply);
		server_free(s);
		return -1;
	}
	return conn_send_json(c, reply);
}

/* Stops reading; the connection closes once its replies are out. */
static int conn_close_after_flush(struct ctl_conn *c)
{
	c->closing = true;
	c->in_len = 0;
	ev_io_stop(c->srv->loop, &c->rio);
	ev_timer_stop(c->srv->loop, &c->step);
	return conn_flush(c);
}

/*
 * Answers at most one buffered request, then either comes back on the next
 * loop iteration (another complete line is waiting: reading pauses) or
 * reads on. One request per iteration, at the lowest priority: a client
 * pipelining thousands of requests shares the loop with the data path
 * instead of holding it for the whole batch. Returns -1 if c is gone.
 */
static int conn_step(struct ctl_conn *c)
{
	struct ev_loop *loop = c->srv->loop;
	char *nl = memchr(c->in, '\n', c->in_len);
	if (nl) {
		size_t len = (size_t)(nl - c->in);
		if (conn_answer(c, c->in, len) < 0)
			return -1;
		c->in_len -= len + 1;
		memmove(c->in, c->in + len + 1, c->in_len);
	}
	if (memchr(c->in, '\n', c->in_len)) {
		ev_io_stop(loop, &c->rio);
		if (!ev_is_active(&c->step)) {
			ev_timer_set(&c->step, 0., 0.);
			ev_timer_start(loop, &c->step);
		}
		return 0;
	}
	ev_timer_stop(loop, &c->step);
	if (c->in_len == sizeof(c->in)) {
		json_t *r = error_reply("request longer than %d bytes; closing",
					CTL_MAX_REQUEST);
		if (conn_send_json(c, r) == 0)
			return conn_close_after_flush(c);
		return -1;
	}
	if (c->eof) {
		/* A last request without its newline still deserves an answer
		 * (`printf '{"cmd":"status"}' | nc -U`). */
		if (c->in_len > 0 && conn_answer(c, c->in, c->in_len) < 0)
			return -1;
		return conn_close_after_flush(c);
	}
	ev_io_start(loop, &c->rio);
	return 0;
}

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_conn *c = (struct ctl_conn *)w;
	ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len,
			 MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		log_debug(SUB, "client read: %s", strerror(errno));
		conn_free(c);
		return;
	}
	if (n == 0)
		c->eof = true;
	c->in_len += (size_t)n;
	conn_step(c);
}

static void conn_step_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ctl_conn *c =
	    (struct ctl_conn *)((char *)w - offsetof(struct ctl_conn, step));
	conn_step(c);
}

static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_conn *c =
	    (struct ctl_conn *)((char *)w - offsetof(struct ctl_conn, wio));
	conn_flush(c);
}

/* ---- server: accepting ---- */

/* Supplementary members of the group, from the cache: no NSS look-up
 * (which may block on LDAP or NIS) runs inside the event loop. */
static bool uid_in_group(const struct ctl_server *s, uid_t uid)
{
	for (size_t i = 0; i < s->n_members; i++)
		if (s->members[i] == uid)
			return true;
	return false;
}

/* The filesystem mode is the first gate; this is the second, so a socket
 * made group- or world-writable by mistake still admits only root, the
 * daemon's own user and the configured group. "Own user" is the one that
 * created the socket (s->euid, taken at start): after the daemon dropped
 * to an unprivileged `user:` such as nobody, other processes running as
 * that shared account are still refused. */
static bool peer_allowed(const struct ctl_server *s, int fd, uid_t *uid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		log_warn(SUB, "SO_PEERCRED: %s", strerror(errno));
		return false;
	}
	*uid = cr.uid;
	if (cr.uid == 0 || cr.uid == s->euid)
		return true;
	if (!s->has_group)
		return false;
	return cr.gid == s->gid || uid_in_group(s, cr.uid);
}

/* Best effort: a rejected client gets one line saying why, then EOF. */
static void reject(int fd, const char *why)
{
	json_t *r = error_reply("%s", why);
	char *text = r ? json_dumps(r, JSON_COMPACT) : NULL;
	if (text) {
		size_t len = strlen(text);
		text[len] = '\n'; /* json_dumps' NUL is not sent */
		if (send(fd, text, len + 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug(SUB, "reject: %s", strerror(errno));
	}
	free(text);
	json_decref(r);
	if (close(fd) < 0)
		log_debug(SUB, "close: %s", strerror(errno));
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_server *s = (struct ctl_server *)w;
	for (int i = 0; i < CTL_ACCEPT_BURST; i++) {
		int fd =
		    accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int err = errno;
			if (err == EINTR || err == ECONNABORTED)
				continue;
			if (err == EAGAIN || err == EWOULDBLOCK)
				return;
			log_warn(SUB, "accept on %s: %s; pausing for %.0f s",
				 s->path, strerror(err), CTL_ACCEPT_RETRY_S);
			/* Level-triggered: without a pause we would spin. */
			ev_io_stop(loop, &s->lio);
			ev_timer_set(&s->retry, CTL_ACCEPT_RETRY_S, 0.);
			ev_timer_start(loop, &s->retry);
			return;
		}
		uid_t uid = (uid_t)-1;
		if (!peer_allowed(s, fd, &uid)) {
			log_notice(SUB, "refused control client uid %d on %s",
				   (int)uid, s->path);
			reject(fd, "permission denied: this user may not use "
				   "the control socket");
			continue;
		}
		if (s->n_clients >= CTL_MAX_CLIENTS) {
			log_warn(SUB,
				 "refused control client: %d already "
				 "connected",
				 CTL_MAX_CLIENTS);
			reject(fd, "too many control clients; try again later");
			continue;
		}
		struct ctl_conn *c = calloc(1, sizeof(*c));
		if (!c) {
			reject(fd, "out of memory");
			continue;
		}
		c->srv = s;
		c->fd = fd;
		ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
		ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
		ev_timer_init(&c->step, conn_step_cb, 0., 0.);
		/* Below the data path: packets first, then control. */
		ev_set_priority(&c->rio, EV_MINPRI);
		ev_set_priority(&c->step, EV_MINPRI);
		c->next = s->clients;
		if (c->next)
			c->next->pprev = &c->next;
		c->pprev = &s->clients;
		s->clients = c;
		s->n_clients++;
		ev_io_start(loop, &c->rio);
	}
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ctl_server *s =
	    (struct ctl_server *)((char *)w -
				  offsetof(struct ctl_server, retry));
	ev_io_start(loop, &s->lio);
}

/* ---- server: socket file ---- */

/*
 * The group's member list, looked up now (start, or SIGHUP through
 * ctl_server_refresh_group) so that accepting a client never waits on NSS.
 * Members by primary group are admitted through SO_PEERCRED's gid.
 */
static int load_members(struct ctl_server *s, struct err *e)
{
	struct group gr;
	char *buf = NULL;
	uid_t *m = NULL;
	size_t n = 0;
	int ret = nss_group_by_name(s->group, &gr, &buf);
	if (ret == -ENOENT)
		return err_set(e, ret,
			       "control socket group \"%s\" does not exist",
			       s->group);
	if (ret < 0)
		return err_set(e, ret, "control socket group \"%s\": %s",
			       s->group, strerror(-ret));
	size_t cnt = 0;
	while (gr.gr_mem && gr.gr_mem[cnt])
		cnt++;
	if (cnt && !(m = calloc(cnt, sizeof(*m)))) {
		free(buf);
		return err_set(e, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < cnt; i++) {
		struct passwd pw;
		char *pbuf = NULL;
		if (nss_passwd_by_name(gr.gr_mem[i], &pw, &pbuf) == 0)
			m[n++] = pw.pw_uid;
		free(pbuf);
	}
	s->gid = gr.gr_gid;
	free(s->members);
	s->members = m;
	s->n_members = n;
	free(buf);
	return 0;
}

int ctl_server_refresh_group(struct ctl_server *s, struct err *e)
{
	if (!s || !s->has_group)
		return 0;
	return load_members(s, e);
}

/*
 * Why the socket is made through its directory's fd: a root daemon that
 * bound a socket by path and then chmod'ed or chown'ed that path could be
 * tricked, in a directory others can write, into changing the mode of
 * whatever a symlink swapped in there points at. So the directory is
 * opened once and must be owned by root or the daemon and writable by
 * nobody else (so nobody else can rename, replace or plant names in it);
 * the socket is bound as /proc/self/fd/N/NAME with the umask giving it its
 * mode (bind() applies the umask), the group is set with fchownat() on
 * that name in that directory without following links, and the stale
 * check, identity and removal all go through the same fd.
 */
static int socket_dir_open(struct ctl_server *s, struct err *e)
{
	char dir[sizeof(s->path)];
	struct stat st;
	const char *slash = strrchr(s->path, '/');
	s->base = slash ? slash + 1 : s->path;
	if (!*s->base)
		return err_set(e, -EINVAL,
			       "control socket %s names a directory", s->path);
	if (!slash) {
		strcpy(dir, ".");
	} else if (slash == s->path) {
		strcpy(dir, "/");
	} else {
		memcpy(dir, s->path, (size_t)(slash - s->path));
		dir[slash - s->path] = '\0';
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "control socket directory %s: %s",
			       dir, strerror(errno));
	const char *why = NULL;
	if (fstat(fd, &st) < 0)
		why = "cannot be examined";
	else if (st.st_uid != 0 && st.st_uid != s->euid)
		why = "is owned by another user";
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		why = "is writable by group or others";
	if (why) {
		int ret =
		    err_set(e, -EPERM,
			    "refusing control socket %s: its directory "
			    "%s %s (mode %04o, uid %d); use a directory "
			    "only root or the daemon can write, such as "
			    "/run",
			    s->path, dir, why, (unsigned)(st.st_mode & 07777),
			    (int)st.st_uid);
		close(fd);
		return ret;
	}
	s->dirfd = fd;
	return 0;
}

/* sun_path reaching NAME through the directory fd. */
static int fd_sockaddr(const struct ctl_server *s, struct sockaddr_un *sa,
		       struct err *e)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path),
			 "/proc/self/fd/%d/%s", s->dirfd, s->base);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
		return err_set(e, -ENAMETOOLONG,
			       "control socket name %s is too long", s->base);
	return 0;
}

/* A socket file whose daemon died stays behind and makes bind() fail; one
 * that still answers belongs to a live daemon we must not steal from. */
static int clear_stale(const struct ctl_server *s, const struct sockaddr_un *sa,
		       struct err *e)
{
	const char *path = s->path;
	struct stat st;
	if (fstatat(s->dirfd, s->base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_set(e, -errno, "control socket %s: %s", path,
			       strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return err_set(e, -EEXIST,
			       "control socket %s exists and is not a socket; "
			       "refusing to replace it",
			       path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, -errno, "socket: %s", strerror(errno));
	int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int err = rc < 0 ? errno : 0;
	if (close(fd) < 0)
		log_debug(SUB, "close: %s", strerror(errno));
	/* EAGAIN: its backlog is full, so somebody is listening. */
	if (rc == 0 || err == EAGAIN)
		return err_set(e, -EADDRINUSE,
			       "another daemon is already listening on control "
			       "socket %s",
			       path);
	if (err != ECONNREFUSED)
		return err_set(e, -err, "cannot check control socket %s: %s",
			       path, strerror(err));
	if (unlinkat(s->dirfd, s->base, 0) < 0 && errno != ENOENT)
		return err_set(e, -errno,
			       "cannot remove stale control socket %s: %s",
			       path, strerror(errno));
	log_info(SUB, "removed stale control socket %s", path);
	return 0;
}

/* The path must fit sun_path and mode be permission bits (0 means 0600):
 * refused before anything is created. Fills sa. */
static int check_path_mode(const char *path, unsigned *mode,
			   struct sockaddr_un *sa, struct err *e)
{
	if (!path || !path[0])
		return err_set(e, -EINVAL, "control socket path is empty");
	if (strlen(path) >= sizeof(sa->sun_path))
		return err_set(e, -ENAMETOOLONG,
			       "control socket path \"%s\" is longer than %zu "
			       "bytes",
			       path, sizeof(sa->sun_path) - 1);
	if (*mode == 0)
		*mode = 0600;
	if (*mode & ~0777u)
		return err_set(e, -EINVAL,
			       "control socket mode %#o: expected permission "
			       "bits such as 0660",
			       *mode);
	strcpy(sa->sun_path, path);
	return 0;
}

/*
 * Binds fd to the socket file, through the checked directory (sa is its
 * /proc/self/fd/N/NAME), with exactly the rights asked for from its first
 * moment (the umask during bind(); nothing is chmod'ed afterwards), hands
 * it to the group by name in that directory without following a link, and
 * records which file it is (server_free() removes that file only, not a
 * successor's). *bound is set once the file exists, so the caller knows
 * to remove it on failure.
 */
static int make_socket_file(struct ctl_server *s, int fd,
			    const struct sockaddr_un *sa, unsigned mode,
			    const char *group, bool *bound, struct err *e)
{
	const char *path = s->path;
	struct stat st;

	mode_t old = umask(~(mode_t)mode & 0777);
	int rc = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int err = errno;
	umask(old);
	if (rc < 0)
		return err_set(e, -err, "cannot bind control socket %s: %s",
			       path, strerror(err));
	*bound = true;
	if (s->has_group && fchownat(s->dirfd, s->base, (uid_t)-1, s->gid,
				     AT_SYMLINK_NOFOLLOW) < 0)
		return err_set(e, -errno,
			       "cannot give control socket %s to group \"%s\": "
			       "%s",
			       path, group, strerror(errno));
	if (fstatat(s->dirfd, s->base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_set(e, -errno, "control socket %s: %s", path,
			       strerror(errno));
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return 0;
}

int ctl_server_start(struct ctl_server **out, struct ev_loop *loop,
		     const char *path, unsigned mode, const char *group,
		     const struct ctl_command *cmds, void *arg, struct err *e)
{
	struct ctl_server *s = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	bool bound = false;
	int fd = -1, ret;

	*out = NULL;
	ret = check_path_mode(path, &mode, &sa, e);
	if (ret < 0)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	s->loop = loop;
	s->cmds = cmds;
	s->arg = arg;
	s->euid = geteuid();
	s->fd = -1;
	s->dirfd = -1;
	strcpy(s->path, path);
	if (group && group[0]) {
		if (strlen(group) >= sizeof(s->group)) {
			ret = err_set(e, -EINVAL,
				      "control socket group \"%s\" is too long",
				      group);
			goto out;
		}
		strcpy(s->group, group);
		if ((ret = load_members(s, e)) < 0)
			goto out;
		s->has_group = true;
	}
	if ((ret = socket_dir_open(s, e)) < 0)
		goto out;
	if ((ret = fd_sockaddr(s, &sa, e)) < 0)
		goto out;
	ret = clear_stale(s, &sa, e);
	if (ret < 0)
		goto out;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = err_set(e, -errno, "socket: %s", strerror(errno));
		goto out;
	}
	ret = make_socket_file(s, fd, &sa, mode, group, &bound, e);
	if (ret < 0)
		goto out;
	if (listen(fd, CTL_BACKLOG) < 0) {
		ret = err_set(e, -errno, "listen on control socket %s: %s",
			      path, strerror(errno));
		goto out;
	}
	s->fd = fd;
	ev_io_init(&s->lio, accept_cb, fd, EV_READ);
	ev_set_priority(&s->lio, EV_MINPRI);
	ev_timer_init(&s->retry, retry_cb, CTL_ACCEPT_RETRY_S, 0.);
	ev_io_start(loop, &s->lio);
	log_info(SUB, "listening on %s (mode %04o%s%s)", path, mode,
		 s->has_group ? ", group " : "", s->has_group ? group : "");
	*out = s;
	return 0;
out:
	if (bound && unlinkat(s->dirfd, s->base, 0) < 0)
		log_warn(SUB, "unlink %s: %s", path, strerror(errno));
	if (fd >= 0 && close(fd) < 0)
		log_debug(SUB, "close: %s", strerror(errno));
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->members);
	free(s);
	return ret;
}

static void server_free(struct ctl_server *s)
{
	while (s->clients)
		conn_free(s->clients);
	ev_io_stop(s->loop, &s->lio);
	ev_timer_stop(s->loop, &s->retry);
	if (close(s->fd) < 0)
		log_debug(SUB, "close: %s", strerror(errno));
	struct stat st;
	if (fstatat(s->dirfd, s->base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_dev == s->dev && st.st_ino == s->ino) {
		if (unlinkat(s->dirfd, s->base, 0) < 0) {
			if (errno == EACCES || errno == EPERM)
				log_info(SUB,
					 "%s stays (no right to remove it "
					 "after dropping root); the next "
					 "start replaces it",
					 s->path);
			else
				log_warn(SUB, "unlink %s: %s", s->path,
					 strerror(errno));
		}
	}
	if (close(s->dirfd) < 0)
		log_debug(SUB, "close: %s", strerror(errno));
	free(s->members);
	free(s);
}

void ctl_server_stop(struct ctl_server *s)
{
	if (!s)
		return;
	if (s->busy) {
		s->stop_pending = true;
		return;
	}
	server_free(s);
}

unsigned ctl_server_client_count(const struct ctl_server *s)
{
	return s ? s->n_clients : 0;
}

/* ---- client ---- */

int ctl_client_open(struct ctl_client *c, const char *path, struct err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(e, -ENAMETOOLONG,
			       "control socket path \"%s\" is too long", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;
		if (close(fd) < 0)
			log_debug(SUB, "close: %s", strerror(errno));
		/* Say what would let the user in, not just that it failed. */
		const char *hint =
		    err == EACCES || err == EPERM
			? "; run as root, or as a member of the daemon's "
			  "control.group (the socket is mode 0660 then)"
		    : err == ENOENT || err == ECONNREFUSED
			? "; is the daemon running? (-s SOCKET or "
			  "$TUNTUNTUN_SOCKET name another socket)"
			: "";
		return err_set(e, -err,
			       "cannot connect to control socket %s: %s%s",
			       path, strerror(err), hint);
	}
	c->fd = fd;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` until the deadline: 1 ready, 0 timed out, <0 -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = events};
		int rc = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		if (rc > 0)
			return 1;
	}
}

static int client_send(struct ctl_client *c, const char *buf, size_t len,
		       int64_t deadline, struct err *e)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(c->fd, buf + off, len - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return err_set(e, -errno, "sending to the daemon: %s",
				       strerror(errno));
		int rc = wait_fd(c->fd, POLLOUT, deadline);
		if (rc == 0)
			return err_set(e, -ETIMEDOUT,
				       "timed out sending to the daemon");
		if (rc < 0)
			return err_set(e, rc, "poll: %s", strerror(-rc));
	}
	return 0;
}

/* Reads until one full line is buffered; returns its length (no '\n'). */
static int client_read_line(struct ctl_client *c, size_t *line_len,
			    int64_t deadline, struct err *e)
{
	size_t scanned = 0;
	for (;;) {
		char *nl = c->len > scanned ? memchr(c->buf + scanned, '\n',
						     c->len - scanned)
					    : NULL;
		if (nl) {
			*line_len = (size_t)(nl - c->buf);
			return 0;
		}
		scanned = c->len;
		if (c->len >= CTL_CLIENT_MAX_REPLY)
			return err_set(e, -EPROTO,
				       "the daemon's reply exceeds %d bytes",
				       CTL_CLIENT_MAX_REPLY);
		if (c->cap - c->len < 4096) {
			size_t cap = c->cap ? c->cap * 2 : 65536;
			char *p = realloc(c->buf, cap);
			if (!p)
				return err_set(e, -ENOMEM, "out of memory");
			c->buf = p;
			c->cap = cap;
		}
		ssize_t n =
		    recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0)
			return err_set(e, -ECONNRESET,
				       "the daemon closed the connection "
				       "without replying");
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return err_set(e, -errno, "reading from the daemon: %s",
				       strerror(errno));
		int rc = wait_fd(c->fd, POLLIN, deadline);
		if (rc == 0)
			return err_set(e, -ETIMEDOUT,
				       "no reply from the daemon within the "
				       "timeout");
		if (rc < 0)
			return err_set(e, rc, "poll: %s", strerror(-rc));
	}
}

int ctl_client_call_raw(struct ctl_client *c, const char *line, char **reply,
			int timeout_ms, struct err *e)
{
	*reply = NULL;
	if (c->fd < 0)
		return err_set(e, -EBADF, "not connected");
	size_t len = strlen(line);
	if (memchr(line, '\n', len))
		return err_set(e, -EINVAL,
			       "a request must be one line without newlines");
	if (len > CTL_MAX_REQUEST)
		return err_set(e, -EMSGSIZE,
			       "request is %zu bytes; the daemon takes at most "
			       "%d",
			       len, CTL_MAX_REQUEST);
	int64_t deadline = now_ms() + timeout_ms;
	struct err serr = {{0}};
	int ret = client_send(c, line, len, deadline, &serr);
	if (ret == 0)
		ret = client_send(c, "\n", 1, deadline, &serr);
	/* Even if sending failed (a refused client is closed at once), the
	 * daemon may have said why in a line already waiting for us. */
	size_t n = 0;
	int rrc =
	    client_read_line(c, &n, ret < 0 ? now_ms() + 100 : deadline, e);
	if (rrc < 0) {
		if (ret < 0)
			return err_set(e, ret, "%s", serr.msg);
		return rrc;
	}
	char *s = strndup(c->buf, n);
	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	c->len -= n + 1;
	memmove(c->buf, c->buf + n + 1, c->len);
	*reply = s;
	return 0;
}

int ctl_client_call(struct ctl_client *c, const json_t *req, json_t **reply,
		    int timeout_ms, struct err *e)
{
	*reply = NULL;
	char *line = json_dumps(req, JSON_COMPACT);
	if (!line)
		return err_set(e, -ENOMEM, "cannot encode the request");
	char *text = NULL;
	int ret = ctl_client_call_raw(c, line, &text, timeout_ms, e);
	free(line);
	if (ret < 0)
		return ret;
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	if (!j || !json_is_object(j)) {
		ret = err_set(e, -EPROTO,
			      "the daemon sent a malformed reply: %.80s", text);
		json_decref(j);
	} else {
		*reply = j;
	}
	free(text);
	return ret;
}

void ctl_client_close(struct ctl_client *c)
{
	if (c->fd >= 0 && close(c->fd) < 0)
		log_debug(SUB, "close: %s", strerror(errno));
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}
