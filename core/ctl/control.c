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
	struct ctl_server *srv;
	struct ctl_conn *next;
	struct ctl_conn **pprev;
	int fd;
	bool closing; /* no more reading; close once output is flushed */
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
	return conn_flush(c);
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
	bool eof = n == 0;
	c->in_len += (size_t)n;

	size_t start = 0;
	char *nl;
	while ((nl = memchr(c->in + start, '\n', c->in_len - start))) {
		size_t len = (size_t)(nl - (c->in + start));
		if (conn_answer(c, c->in + start, len) < 0)
			return;
		start += len + 1;
	}
	c->in_len -= start;
	memmove(c->in, c->in + start, c->in_len);

	if (c->in_len == sizeof(c->in)) {
		json_t *r = error_reply("request longer than %d bytes; closing",
					CTL_MAX_REQUEST);
		if (conn_send_json(c, r) == 0)
			conn_close_after_flush(c);
		return;
	}
	if (eof) {
		/* A last request without its newline still deserves an answer
		 * (`printf '{"cmd":"status"}' | nc -U`). */
		if (c->in_len > 0 && conn_answer(c, c->in, c->in_len) < 0)
			return;
		conn_close_after_flush(c);
	}
}

static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_conn *c =
	    (struct ctl_conn *)((char *)w - offsetof(struct ctl_conn, wio));
	conn_flush(c);
}

/* ---- server: accepting ---- */

static bool uid_in_group(uid_t uid, gid_t gid)
{
	bool ok = false;
	char *buf = NULL;
	gid_t *groups = NULL;
	struct passwd pw;
	if (nss_passwd_by_uid(uid, &pw, &buf) < 0)
		goto out;
	if (pw.pw_gid == gid) {
		ok = true;
		goto out;
	}
	int ng = 64;
	for (int tries = 0; tries < 4; tries++) {
		gid_t *g = realloc(groups, (size_t)ng * sizeof(*groups));
		if (!g)
			goto out;
		groups = g;
		int want = ng;
		if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &want) >= 0) {
			for (int i = 0; i < want; i++)
				if (groups[i] == gid)
					ok = true;
			goto out;
		}
		ng = want > ng ? want : ng * 2;
	}
out:
	free(groups);
	free(buf);
	return ok;
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
	return cr.gid == s->gid || uid_in_group(cr.uid, s->gid);
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

static int resolve_group(const char *name, gid_t *gid, struct err *e)
{
	struct group gr;
	char *buf = NULL;
	int ret = nss_group_by_name(name, &gr, &buf);
	if (ret == -ENOENT)
		return err_set(
		    e, ret, "control socket group \"%s\" does not exist", name);
	if (ret < 0)
		return err_set(e, ret, "control socket group \"%s\": %s", name,
			       strerror(-ret));
	*gid = gr.gr_gid;
	free(buf);
	return 0;
}

/* A socket file whose daemon died stays behind and makes bind() fail; one
 * that still answers belongs to a live daemon we must not steal from. */
static int clear_stale(const struct sockaddr_un *sa, struct err *e)
{
	const char *path = sa->sun_path;
	struct stat st;
	if (lstat(path, &st) < 0) {
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
	if (unlink(path) < 0 && errno != ENOENT)
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
 * Binds fd to the socket file with no more than the rights asked for from
 * its first moment, hands it to the group, and records which file it is
 * (server_free() removes that file only, not a successor's). *bound is
 * set once the file exists, so the caller knows to remove it on failure.
 */
static int make_socket_file(struct ctl_server *s, int fd,
			    const struct sockaddr_un *sa, unsigned mode,
			    const char *group, bool *bound, struct err *e)
{
	const char *path = sa->sun_path;
	struct stat st;

	/* umask 077 first: the file must never exist with looser rights than
	 * asked for, not even between bind() and chmod(). */
	mode_t old = umask(077);
	int rc = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int err = errno;
	umask(old);
	if (rc < 0)
		return err_set(e, -err, "cannot bind control socket %s: %s",
			       path, strerror(err));
	*bound = true;
	if (s->has_group && chown(path, (uid_t)-1, s->gid) < 0)
		return err_set(e, -errno,
			       "cannot give control socket %s to group \"%s\": "
			       "%s",
			       path, group, strerror(errno));
	if (chmod(path, mode) < 0)
		return err_set(e, -errno, "cannot chmod control socket %s: %s",
			       path, strerror(errno));
	if (lstat(path, &st) < 0)
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
	strcpy(s->path, path);
	if (group && group[0]) {
		ret = resolve_group(group, &s->gid, e);
		if (ret < 0)
			goto out;
		s->has_group = true;
	}
	ret = clear_stale(&sa, e);
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
	ev_timer_init(&s->retry, retry_cb, CTL_ACCEPT_RETRY_S, 0.);
	ev_io_start(loop, &s->lio);
	log_info(SUB, "listening on %s (mode %04o%s%s)", path, mode,
		 s->has_group ? ", group " : "", s->has_group ? group : "");
	*out = s;
	return 0;
out:
	if (bound && unlink(path) < 0)
		log_warn(SUB, "unlink %s: %s", path, strerror(errno));
	if (fd >= 0 && close(fd) < 0)
		log_debug(SUB, "close: %s", strerror(errno));
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
	if (lstat(s->path, &st) == 0 && st.st_dev == s->dev &&
	    st.st_ino == s->ino) {
		if (unlink(s->path) < 0) {
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
		return err_set(e, -err,
			       "cannot connect to control socket %s: %s", path,
			       strerror(err));
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
