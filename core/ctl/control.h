/*
 * The control socket: newline-delimited JSON over a Unix stream socket, so
 * `tuntunctl`, scripts and tests can ask the running daemon for its status,
 * swap a scheduler or disable a link without restarting anything.
 *
 * Protocol: each request is one JSON object on one line, e.g.
 * {"cmd":"status"}; each reply is one JSON object on one line, either
 * {"ok":true,...} or {"ok":false,"error":"message"}. Several requests per
 * connection (answered in order) and several connections at once.
 *
 * The server side runs inside the daemon's single-threaded libev loop; the
 * client side (ctl_client_*) is plain blocking I/O for tuntunctl.
 */
#ifndef TTT_CONTROL_H
#define TTT_CONTROL_H

#include <ev.h>
#include <jansson.h>
#include <stddef.h>

#include "base/err.h"

/* Longest request line accepted, newline excluded (bytes). */
#define CTL_MAX_REQUEST (64 * 1024)
/* Connections served at once; extra ones get an error line and are closed. */
#define CTL_MAX_CLIENTS 32
/* Replies queued for a client that does not read; beyond it, it is dropped. */
#define CTL_MAX_OUTPUT (4 * 1024 * 1024)
/* Default socket path (tuntunctl; the daemon's default is in its config). */
#define CTL_DEFAULT_SOCKET "/run/tuntuntun.sock"

struct ctl_server;

/*
 * A command handler. Returns a new JSON object to send (the server owns it
 * from then on and adds "ok":true), or NULL after filling e->msg (the server
 * replies {"ok":false,"error":msg}). `req` is the whole parsed request,
 * borrowed for the duration of the call. Called on the loop thread; it may
 * call ctl_server_stop() (the stop completes when the handler returns).
 */
typedef json_t *(*ctl_handler_fn)(void *arg, json_t *req, struct err *e);

/* One verb. Tables end with an entry whose name is NULL. "help" is built in. */
struct ctl_command {
	const char *name;
	ctl_handler_fn fn;
	const char *help; /* one line, shown by "help" */
};

/*
 * Creates the socket at `path` with permissions `mode` (0 means 0600),
 * through its directory's fd: the directory must be owned by root or the
 * daemon and not writable by group or others (-EPERM otherwise); the file
 * is born with `mode` (umask during bind), given to `group` if non-NULL and
 * non-empty (fchownat in that directory; nothing is chmod'ed or chown'ed
 * by path), and accepting starts on `loop`. The group's members are
 * looked up now, not per client. Refuses with -EADDRINUSE if a daemon
 * already answers on `path`; removes a stale socket file left by a crashed
 * daemon; refuses with -EEXIST if `path` is something other than a socket.
 * Peers must be uid 0, the daemon's euid, or (with `group`) members of that
 * group. `cmds` and `arg` must outlive the server. On success *out is the
 * server.
 */
int ctl_server_start(struct ctl_server **out, struct ev_loop *loop,
		     const char *path, unsigned mode, const char *group,
		     const struct ctl_command *cmds, void *arg, struct err *e);

/* Looks the group's members up again (SIGHUP): accepting a client only
 * reads this cache, so no NSS look-up ever blocks the event loop. On
 * failure the old list stays. NULL or no group: 0. */
int ctl_server_refresh_group(struct ctl_server *s, struct err *e);

/* Closes every client, stops all watchers, unlinks the socket file, frees s.
 * NULL is ignored. */
void ctl_server_stop(struct ctl_server *s);

/* Number of connected clients (for status and tests). */
unsigned ctl_server_client_count(const struct ctl_server *s);

/*
 * Answers one request line (without its newline): parses it, checks it,
 * runs the matching handler or the built-in "help". Never returns NULL
 * except when out of memory. Exposed for the fuzzer and unit tests; this is
 * exactly what the server runs for each line.
 */
json_t *ctl_dispatch(const struct ctl_command *cmds, void *arg,
		     const char *line, size_t len);

/* Blocking client for tuntunctl: one connection, replies read line by line. */
struct ctl_client {
	int fd;
	char *buf; /* bytes received past the last reply line */
	size_t len, cap;
};

/* Connects to `path`. -ENOENT/-ECONNREFUSED/-EACCES... with a message that
 * names the socket. */
int ctl_client_open(struct ctl_client *c, const char *path, struct err *e);

/*
 * Sends `line` (one JSON request; must not contain a newline) and waits up
 * to timeout_ms for the reply line, returned as a malloc'ed NUL-terminated
 * string without the newline in *reply. -ETIMEDOUT, -ECONNRESET (daemon
 * closed the connection), -EPROTO (reply too long) or another -errno.
 */
int ctl_client_call_raw(struct ctl_client *c, const char *line, char **reply,
			int timeout_ms, struct err *e);

/* Same with JSON: sends `req`, parses the reply into a new *reply object.
 * A reply that is not a JSON object is -EPROTO. */
int ctl_client_call(struct ctl_client *c, const json_t *req, json_t **reply,
		    int timeout_ms, struct err *e);

void ctl_client_close(struct ctl_client *c);

#endif
