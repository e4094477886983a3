/*
 * Control socket server tests: a real server on a temporary socket inside a
 * private libev loop, with non-blocking clients from this same process; the
 * loop is driven with EVRUN_NOWAIT until the replies we wait for arrive.
 * Blocking-client and peer-credential cases run the client in a child.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl/control.h"
#include "base/log.h"

struct fx {
	struct ev_loop *loop;
	struct ctl_server *srv;
	char dir[64];
	char path[108];
	int calls;
};

/* A test client: non-blocking socket plus what it received so far. */
struct cli {
	int fd;
	bool eof;
	size_t len;
	char buf[4 * 1024 * 1024];
};

/* ---- the command table under test ---- */

static json_t *h_ping(void *arg, json_t *req, struct err *e)
{
	struct fx *f = arg;
	return json_pack("{s:b, s:i}", "pong", 1, "n", ++f->calls);
}

static json_t *h_echo(void *arg, json_t *req, struct err *e)
{
	json_t *a = json_object_get(req, "arg");
	return json_pack("{s:O?}", "echo", a);
}

static json_t *h_fail(void *arg, json_t *req, struct err *e)
{
	err_set(e, -EINVAL, "boom: widget \"%s\" is broken", "x");
	return NULL;
}

static json_t *h_fail_silent(void *arg, json_t *req, struct err *e)
{
	return NULL;
}

static json_t *h_nonobject(void *arg, json_t *req, struct err *e)
{
	return json_integer(7);
}

static json_t *h_big(void *arg, json_t *req, struct err *e)
{
	size_t n = 1024 * 1024;
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	memset(s, 'b', n);
	s[n] = 0;
	json_t *r = json_pack("{s:s}", "blob", s);
	free(s);
	return r;
}

static json_t *h_stop(void *arg, json_t *req, struct err *e)
{
	struct fx *f = arg;
	ctl_server_stop(f->srv);
	f->srv = NULL;
	return json_pack("{s:b}", "stopping", 1);
}

static json_t *h_okfield(void *arg, json_t *req, struct err *e)
{
	return json_pack("{s:b, s:i}", "ok", 0, "x", 1);
}

static const struct ctl_command cmds[] = {
    {.name = "ping", .fn = h_ping, .help = "answers pong"},
    {.name = "echo", .fn = h_echo, .help = "returns arg"},
    {.name = "fail", .fn = h_fail, .help = "always fails"},
    {.name = "fail-silent", .fn = h_fail_silent, .help = "fails mutely"},
    {.name = "nonobject", .fn = h_nonobject, .help = "returns 7"},
    {.name = "big", .fn = h_big, .help = "returns 1 MiB"},
    {.name = "stop", .fn = h_stop, .help = "stops the server"},
    {.name = "okfield", .fn = h_okfield, .help = "sets ok itself"},
    {.name = NULL},
};

/* ---- helpers ---- */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	/* mkdtemp's template: a fixed prefix and six X's it replaces */
	strcpy(f->dir, "/tmp/ttt-ctl-");
	memset(f->dir + strlen(f->dir), 'X', 6);
	f->dir[sizeof("/tmp/ttt-ctl-") - 1 + 6] = 0;
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/ctl.sock", f->dir);
	f->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(f->loop);
	struct err e = {{0}};
	int rc =
	    ctl_server_start(&f->srv, f->loop, f->path, 0, NULL, cmds, f, &e);
	assert_int_equal(rc, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	ctl_server_stop(f->srv);
	unlink(f->path);
	rmdir(f->dir);
	ev_loop_destroy(f->loop);
	free(f);
	return 0;
}

static int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct cli *cli_open(const char *path)
{
	struct cli *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(c->fd >= 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return c;
}

static void cli_free(struct cli *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* Sends everything, running the loop whenever the socket is full. */
static void cli_send(struct fx *f, struct cli *c, const char *s, size_t n)
{
	size_t off = 0;
	int64_t deadline = ms_now() + 5000;
	while (off < n) {
		ssize_t k = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
		if (k > 0) {
			off += (size_t)k;
			continue;
		}
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		ev_run(f->loop, EVRUN_NOWAIT);
		assert_true(ms_now() < deadline);
	}
}

static void cli_puts(struct fx *f, struct cli *c, const char *s)
{
	cli_send(f, c, s, strlen(s));
}

static void cli_pump(struct fx *f, struct cli *c)
{
	ev_run(f->loop, EVRUN_NOWAIT);
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	if (poll(&p, 1, 1) <= 0)
		return;
	ssize_t k =
	    recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1, 0);
	if (k == 0 || (k < 0 && errno == ECONNRESET))
		c->eof = true;
	else if (k > 0)
		c->len += (size_t)k;
}

/* Next reply line as parsed JSON, or NULL on EOF/timeout. */
static json_t *cli_reply(struct fx *f, struct cli *c)
{
	int64_t deadline = ms_now() + 5000;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			json_error_t jerr;
			json_t *j = json_loadb(c->buf, n, 0, &jerr);
			assert_non_null(j);
			c->len -= n + 1;
			memmove(c->buf, nl + 1, c->len);
			return j;
		}
		if (c->eof || ms_now() > deadline)
			return NULL;
		cli_pump(f, c);
	}
}

static bool cli_wait_eof(struct fx *f, struct cli *c)
{
	int64_t deadline = ms_now() + 5000;
	while (!c->eof && ms_now() < deadline) {
		cli_pump(f, c);
		c->len = 0; /* discard data, we only wait for the close */
	}
	return c->eof;
}

static void assert_ok(json_t *r)
{
	assert_non_null(r);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_null(json_object_get(r, "error"));
}

/* Asserts an error reply whose message contains `needle`. */
static void assert_error(json_t *r, const char *needle)
{
	assert_non_null(r);
	assert_true(json_is_false(json_object_get(r, "ok")));
	const char *msg = json_string_value(json_object_get(r, "error"));
	assert_non_null(msg);
	if (!strstr(msg, needle))
		fail_msg("error \"%s\" lacks \"%s\"", msg, needle);
}

/* Sends one request line on c and returns its reply, asserted "ok". */
static json_t *cli_call_ok(struct fx *f, struct cli *c, const char *line)
{
	cli_puts(f, c, line);
	json_t *r = cli_reply(f, c);
	assert_ok(r);
	return r;
}

static void pump_until_clients(struct fx *f, unsigned n)
{
	int64_t deadline = ms_now() + 5000;
	while (ctl_server_client_count(f->srv) != n && ms_now() < deadline) {
		ev_run(f->loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	assert_int_equal(ctl_server_client_count(f->srv), n);
}

/* ---- ctl_dispatch alone ---- */

static json_t *dispatch(struct fx *f, const char *s)
{
	return ctl_dispatch(cmds, f, s, strlen(s));
}

static void test_dispatch_errors(void **state)
{
	struct fx *f = *state;
	json_t *r;
	r = dispatch(f, "{\"cmd\":");
	assert_error(r, "malformed JSON");
	json_decref(r);
	r = dispatch(f, "{\"cmd\":\"ping\"} trailing");
	assert_error(r, "malformed JSON");
	json_decref(r);
	r = dispatch(f, "");
	assert_error(r, "malformed JSON");
	json_decref(r);
	r = dispatch(f, "[1,2]");
	assert_error(r, "must be a JSON object, got an array");
	json_decref(r);
	r = dispatch(f, "\"status\"");
	assert_error(r, "must be a JSON object, got a string");
	json_decref(r);
	r = dispatch(f, "{\"dir\":\"upstream\"}");
	assert_error(r, "no \"cmd\"");
	json_decref(r);
	r = dispatch(f, "{\"cmd\":42}");
	assert_error(r, "\"cmd\" must be a string, got a number");
	json_decref(r);
	r = dispatch(f, "{\"cmd\":null}");
	assert_error(r, "got null");
	json_decref(r);
	r = dispatch(f, "{\"cmd\":\"stauts\"}");
	assert_error(r, "unknown command \"stauts\"; try \"help\"");
	json_decref(r);
	r = dispatch(f, "{\"cmd\":\"ping\",\"cmd\":\"fail\"}");
	assert_error(r, "duplicate");
	json_decref(r);
	assert_int_equal(f->calls, 0);
}

static void test_dispatch_handlers(void **state)
{
	struct fx *f = *state;
	json_t *r = dispatch(f, "{\"cmd\":\"echo\",\"arg\":{\"k\":[1,2]}}");
	assert_ok(r);
	assert_int_equal(
	    json_integer_value(json_array_get(
		json_object_get(json_object_get(r, "echo"), "k"), 1)),
	    2);
	/* "ok" comes first on the wire. */
	char *s = json_dumps(r, JSON_COMPACT);
	assert_non_null(s);
	assert_int_equal(strncmp(s, "{\"ok\":true,", 11), 0);
	free(s);
	json_decref(r);

	r = dispatch(f, "{\"cmd\":\"fail\"}");
	assert_error(r, "boom: widget \"x\" is broken");
	json_decref(r);
	r = dispatch(f, "{\"cmd\":\"fail-silent\"}");
	assert_error(r, "command failed");
	json_decref(r);
	r = dispatch(f, "{\"cmd\":\"nonobject\"}");
	assert_error(r, "internal error");
	json_decref(r);
	/* A handler cannot turn a success into "ok":false by accident. */
	r = dispatch(f, "{\"cmd\":\"okfield\"}");
	assert_ok(r);
	assert_int_equal(json_integer_value(json_object_get(r, "x")), 1);
	json_decref(r);
}

static void test_dispatch_help(void **state)
{
	struct fx *f = *state;
	json_t *r = dispatch(f, "{\"cmd\":\"help\"}");
	assert_ok(r);
	json_t *list = json_object_get(r, "commands");
	assert_true(json_is_array(list));
	/* help itself plus the 8 table entries, in table order */
	assert_int_equal(json_array_size(list), 9);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(list, 0), "name")),
	    "help");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(list, 1), "name")),
	    "ping");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(list, 1), "help")),
	    "answers pong");
	json_decref(r);
}

/* ---- the server over a socket ---- */

static void test_good_request(void **state)
{
	struct fx *f = *state;
	struct cli *c = cli_open(f->path);
	json_t *r = cli_call_ok(f, c, "{\"cmd\":\"ping\"}\n");
	assert_true(json_is_true(json_object_get(r, "pong")));
	assert_int_equal(f->calls, 1);
	json_decref(r);
	/* CRLF line ends (telnet, socat) are accepted too */
	r = cli_call_ok(f, c, "{\"cmd\":\"ping\"}\r\n");
	assert_int_equal(json_integer_value(json_object_get(r, "n")), 2);
	json_decref(r);
	cli_free(c);
}

static void test_handler_error_over_socket(void **state)
{
	struct fx *f = *state;
	struct cli *c = cli_open(f->path);
	cli_puts(f, c, "{\"cmd\":\"fail\"}\n");
	json_t *r = cli_reply(f, c);
	assert_error(r, "boom");
	json_decref(r);
	cli_free(c);
}

/* Every bad request gets its own error, and the connection stays usable. */
static void test_bad_requests_keep_connection(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *req, *want;
	} cases[] = {
	    {"{not json\n", "malformed JSON"},
	    {"[\"status\"]\n", "must be a JSON object"},
	    {"{\"command\":\"status\"}\n", "no \"cmd\""},
	    {"{\"cmd\":true}\n", "must be a string"},
	    {"{\"cmd\":\"stauts\"}\n", "unknown command \"stauts\""},
	    {"\x01\x02\xff\n", "malformed JSON"},
	};
	struct cli *c = cli_open(f->path);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cli_puts(f, c, cases[i].req);
		json_t *r = cli_reply(f, c);
		assert_error(r, cases[i].want);
		json_decref(r);
		r = cli_call_ok(f, c, "{\"cmd\":\"ping\"}\n");
		json_decref(r);
	}
	assert_int_equal(f->calls, 6);
	/* blank lines are ignored, not answered */
	json_t *r = cli_call_ok(f, c, "\n  \n{\"cmd\":\"ping\"}\n");
	assert_int_equal(json_integer_value(json_object_get(r, "n")), 7);
	json_decref(r);
	cli_free(c);
}

/* A request of exactly CTL_MAX_REQUEST bytes is served; one byte more is an
 * error and the connection is closed. */
static void test_request_size_limit(void **state)
{
	struct fx *f = *state;
	char *big = malloc(CTL_MAX_REQUEST + 16);
	assert_non_null(big);
	const char *head = "{\"cmd\":\"ping\",\"pad\":\"";
	size_t hl = strlen(head);
	memcpy(big, head, hl);
	memset(big + hl, 'p', CTL_MAX_REQUEST - hl - 2);
	memcpy(big + CTL_MAX_REQUEST - 2, "\"}\n", 4);
	assert_int_equal(strlen(big), CTL_MAX_REQUEST + 1);

	struct cli *c = cli_open(f->path);
	json_t *r = cli_call_ok(f, c, big);
	json_decref(r);

	/* one more pad byte: 65537 bytes before the newline */
	memset(big + hl, 'p', CTL_MAX_REQUEST - hl - 1);
	memcpy(big + CTL_MAX_REQUEST - 1, "\"}\n", 4);
	cli_puts(f, c, big);
	r = cli_reply(f, c);
	assert_error(r, "longer than 65536 bytes");
	json_decref(r);
	assert_true(cli_wait_eof(f, c));
	pump_until_clients(f, 0);
	assert_int_equal(f->calls, 1);
	cli_free(c);
	free(big);
}

/* A flood without any newline is cut off at the limit, not buffered. */
static void test_endless_line_closed(void **state)
{
	struct fx *f = *state;
	struct cli *c = cli_open(f->path);
	char chunk[8192];
	memset(chunk, ' ', sizeof(chunk));
	for (int i = 0; i < 9; i++)
		cli_send(f, c, chunk, sizeof(chunk));
	json_t *r = cli_reply(f, c);
	assert_error(r, "longer than");
	json_decref(r);
	assert_true(cli_wait_eof(f, c));
	cli_free(c);
}

static void test_two_requests_one_write(void **state)
{
	struct fx *f = *state;
	struct cli *c = cli_open(f->path);
	cli_puts(f, c,
		 "{\"cmd\":\"echo\",\"arg\":1}\n{\"cmd\":\"echo\",\"arg\":2}\n"
		 "{\"cmd\":\"nope\"}\n{\"cmd\":\"echo\",\"arg\":3}\n");
	for (int i = 1; i <= 4; i++) {
		json_t *r = cli_reply(f, c);
		if (i == 3) {
			assert_error(r, "unknown command \"nope\"");
		} else {
			assert_ok(r);
			assert_int_equal(
			    json_integer_value(json_object_get(r, "echo")),
			    i == 4 ? 3 : i);
		}
		json_decref(r);
	}
	cli_free(c);
}

static void test_request_split_across_writes(void **state)
{
	struct fx *f = *state;
	struct cli *c = cli_open(f->path);
	const char *req = "{\"cmd\":\"echo\",\"arg\":\"split\"}\n";
	for (size_t i = 0; req[i]; i++) {
		cli_send(f, c, req + i, 1);
		for (int k = 0; k < 3; k++)
			ev_run(f->loop, EVRUN_NOWAIT);
		if (req[i + 1])
			assert_int_equal(c->len, 0); /* no early answer */
	}
	json_t *r = cli_reply(f, c);
	assert_ok(r);
	assert_string_equal(json_string_value(json_object_get(r, "echo")),
			    "split");
	json_decref(r);
	cli_free(c);
}

/* A last request without newline followed by EOF is still answered. */
static void test_request_at_eof(void **state)
{
	struct fx *f = *state;
	struct cli *c = cli_open(f->path);
	cli_puts(f, c, "{\"cmd\":\"ping\"}");
	assert_int_equal(shutdown(c->fd, SHUT_WR), 0);
	json_t *r = cli_reply(f, c);
	assert_ok(r);
	json_decref(r);
	assert_true(cli_wait_eof(f, c));
	pump_until_clients(f, 0);
	cli_free(c);
}

static void test_socket_mode_default(void **state)
{
	struct fx *f = *state;
	struct stat st;
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_socket_mode_and_group(void **state)
{
	struct fx *f = *state;
	char path[128];
	snprintf(path, sizeof(path), "%s/grp.sock", f->dir);
	struct ctl_server *s = NULL;
	struct err e = {{0}};
	int rc = ctl_server_start(&s, f->loop, path, 0660, NULL, cmds, f, &e);
	assert_int_equal(rc, 0);
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	ctl_server_stop(s);

	rc = ctl_server_start(&s, f->loop, path, 0660, "no-such-group-ttt",
			      cmds, f, &e);
	assert_int_equal(rc, -ENOENT);
	assert_non_null(strstr(e.msg, "\"no-such-group-ttt\""));
	assert_int_equal(lstat(path, &st), -1);

	rc = ctl_server_start(&s, f->loop, path, 01777, NULL, cmds, f, &e);
	assert_int_equal(rc, -EINVAL);

	struct group *g = getgrnam("nogroup");
	if (geteuid() != 0 || !g)
		return; /* chown to another group needs root */
	rc = ctl_server_start(&s, f->loop, path, 0660, "nogroup", cmds, f, &e);
	assert_int_equal(rc, 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_gid, g->gr_gid);
	assert_int_equal(st.st_mode & 07777, 0660);
	ctl_server_stop(s);
}

/* A client pipelining many requests gets one answered per loop iteration
 * (issue #10.5: 3000 requests in one read held the data path for their
 * whole run), and still gets every answer, in order. */
static void test_one_request_per_iteration(void **state)
{
	struct fx *f = *state;
	struct cli *c = cli_open(f->path);
	pump_until_clients(f, 1);
	char batch[20 * 16];
	size_t n = 0;
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(batch + n, sizeof(batch) - n,
				      "{\"cmd\":\"ping\"}\n");
	cli_send(f, c, batch, n);
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	int lines = 0;
	for (int iter = 1; iter <= 3; iter++) {
		ev_run(f->loop, EVRUN_NOWAIT);
		while (poll(&p, 1, 20) > 0) {
			ssize_t k = recv(c->fd, c->buf + c->len,
					 sizeof(c->buf) - c->len - 1, 0);
			assert_true(k > 0);
			c->len += (size_t)k;
		}
		lines = 0;
		for (size_t i = 0; i < c->len; i++)
			lines += c->buf[i] == '\n';
		assert_int_equal(lines, iter);
	}
	for (int i = 0; i < 20; i++) {
		json_t *r = cli_reply(f, c);
		assert_ok(r);
		json_decref(r);
	}
	cli_free(c);
	pump_until_clients(f, 0);
}

/* The socket's directory must be the daemon's alone (#10.6): one that
 * others can write (sticky or not) or another user owns is refused, and
 * nothing is created in it; the mode comes from bind() itself. */
static void test_socket_dir_checked(void **state)
{
	struct fx *f = *state;
	char sub[128], path[160];
	struct ctl_server *s = NULL;
	struct err e = {{0}};
	struct stat st;
	snprintf(sub, sizeof(sub), "%s/d", f->dir);
	snprintf(path, sizeof(path), "%s/x.sock", sub);
	assert_int_equal(mkdir(sub, 0700), 0);
	const mode_t bad[] = {0777, 01777, 0730, 0702};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(sub, bad[i]), 0);
		int rc = ctl_server_start(&s, f->loop, path, 0600, NULL, cmds,
					  f, &e);
		assert_int_equal(rc, -EPERM);
		assert_null(s);
		assert_non_null(strstr(e.msg, "writable by group or others"));
		assert_int_equal(lstat(path, &st), -1);
	}
	assert_int_equal(chmod(sub, 0755), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(sub, 65534, 65534), 0);
		int rc = ctl_server_start(&s, f->loop, path, 0600, NULL, cmds,
					  f, &e);
		assert_int_equal(rc, -EPERM);
		assert_non_null(strstr(e.msg, "owned by another user"));
		assert_int_equal(chown(sub, 0, 0), 0);
	}
	/* A trusted one works, and the file has the asked mode from birth. */
	assert_int_equal(
	    ctl_server_start(&s, f->loop, path, 0640, NULL, cmds, f, &e), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(ctl_server_refresh_group(s, &e), 0);
	ctl_server_stop(s);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(rmdir(sub), 0);
}

static void test_second_server_refused(void **state)
{
	struct fx *f = *state;
	struct ctl_server *s2 = NULL;
	struct err e = {{0}};
	int rc = ctl_server_start(&s2, f->loop, f->path, 0, NULL, cmds, f, &e);
	assert_int_equal(rc, -EADDRINUSE);
	assert_null(s2);
	assert_non_null(strstr(e.msg, f->path));
	assert_non_null(strstr(e.msg, "already listening"));
	/* the first server is untouched and still answers */
	struct cli *c = cli_open(f->path);
	json_t *r = cli_call_ok(f, c, "{\"cmd\":\"ping\"}\n");
	json_decref(r);
	cli_free(c);
}

static void test_stale_socket_replaced(void **state)
{
	struct fx *f = *state;
	char path[128];
	snprintf(path, sizeof(path), "%s/stale.sock", f->dir);
	/* what a crashed daemon leaves: a socket file nobody listens on */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);

	struct ctl_server *s = NULL;
	struct err e = {{0}};
	assert_int_equal(
	    ctl_server_start(&s, f->loop, path, 0, NULL, cmds, f, &e), 0);
	struct cli *c = cli_open(path);
	json_t *r = cli_call_ok(f, c, "{\"cmd\":\"ping\"}\n");
	json_decref(r);
	cli_free(c);
	ctl_server_stop(s);
}

static void test_non_socket_not_replaced(void **state)
{
	struct fx *f = *state;
	char path[128];
	snprintf(path, sizeof(path), "%s/file", f->dir);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	struct ctl_server *s = NULL;
	struct err e = {{0}};
	assert_int_equal(
	    ctl_server_start(&s, f->loop, path, 0, NULL, cmds, f, &e), -EEXIST);
	assert_non_null(strstr(e.msg, "not a socket"));
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	unlink(path);

	char longpath[200];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = 0;
	assert_int_equal(
	    ctl_server_start(&s, f->loop, longpath, 0, NULL, cmds, f, &e),
	    -ENAMETOOLONG);
	assert_int_equal(
	    ctl_server_start(&s, f->loop, "", 0, NULL, cmds, f, &e), -EINVAL);
}

static void test_stop_unlinks_and_closes(void **state)
{
	struct fx *f = *state;
	struct cli *c = cli_open(f->path);
	pump_until_clients(f, 1);
	ctl_server_stop(f->srv);
	f->srv = NULL;
	struct stat st;
	assert_int_equal(lstat(f->path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_true(cli_wait_eof(f, c));
	cli_free(c);
}

/* Stop never removes a socket file that is no longer ours. */
static void test_stop_keeps_successor_socket(void **state)
{
	struct fx *f = *state;
	assert_int_equal(unlink(f->path), 0);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, f->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ctl_server_stop(f->srv);
	f->srv = NULL;
	struct stat st;
	assert_int_equal(lstat(f->path, &st), 0);
	close(fd);
}

static void test_handler_stops_server(void **state)
{
	struct fx *f = *state;
	struct cli *c = cli_open(f->path);
	json_t *r =
	    cli_call_ok(f, c, "{\"cmd\":\"stop\"}\n{\"cmd\":\"ping\"}\n");
	assert_true(json_is_true(json_object_get(r, "stopping")));
	json_decref(r);
	assert_true(cli_wait_eof(f, c));
	assert_null(f->srv);
	assert_int_equal(f->calls, 0); /* nothing ran after the stop */
	struct stat st;
	assert_int_equal(lstat(f->path, &st), -1);
	cli_free(c);
}

static void test_many_clients(void **state)
{
	struct fx *f = *state;
	struct cli *cs[CTL_MAX_CLIENTS];
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		cs[i] = cli_open(f->path);
		pump_until_clients(f, (unsigned)i + 1);
	}
	/* all at once, answered on each connection */
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		char req[64];
		snprintf(req, sizeof(req), "{\"cmd\":\"echo\",\"arg\":%d}\n",
			 i);
		cli_puts(f, cs[i], req);
	}
	for (int i = CTL_MAX_CLIENTS - 1; i >= 0; i--) {
		json_t *r = cli_reply(f, cs[i]);
		assert_ok(r);
		assert_int_equal(json_integer_value(json_object_get(r, "echo")),
				 i);
		json_decref(r);
	}
	/* one too many: an error line, then closed */
	struct cli *extra = cli_open(f->path);
	json_t *r = cli_reply(f, extra);
	assert_error(r, "too many control clients");
	json_decref(r);
	assert_true(cli_wait_eof(f, extra));
	cli_free(extra);
	assert_int_equal(ctl_server_client_count(f->srv), CTL_MAX_CLIENTS);

	/* a slot frees when a client leaves */
	cli_free(cs[0]);
	pump_until_clients(f, CTL_MAX_CLIENTS - 1);
	cs[0] = cli_open(f->path);
	r = cli_call_ok(f, cs[0], "{\"cmd\":\"ping\"}\n");
	json_decref(r);
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		cli_free(cs[i]);
	pump_until_clients(f, 0);
}

/* A client that asks for a lot and never reads is dropped at the cap. */
static void test_slow_reader_dropped(void **state)
{
	struct fx *f = *state;
	struct cli *c = cli_open(f->path);
	int small = 4096;
	assert_int_equal(
	    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	pump_until_clients(f, 1);
	for (int i = 0; i < 8 && ctl_server_client_count(f->srv) == 1; i++) {
		cli_puts(f, c, "{\"cmd\":\"big\"}\n");
		for (int k = 0; k < 5; k++)
			ev_run(f->loop, EVRUN_NOWAIT);
	}
	pump_until_clients(f, 0);
	/* the daemon is fine and serves others */
	struct cli *c2 = cli_open(f->path);
	json_t *r = cli_call_ok(f, c2, "{\"cmd\":\"ping\"}\n");
	json_decref(r);
	cli_free(c2);
	cli_free(c);
}

/* A big reply to a client that reads slowly is delivered whole. */
static void test_big_reply_delivered(void **state)
{
	struct fx *f = *state;
	struct cli *c = cli_open(f->path);
	json_t *r =
	    cli_call_ok(f, c, "{\"cmd\":\"big\"}\n{\"cmd\":\"ping\"}\n");
	assert_int_equal(strlen(json_string_value(json_object_get(r, "blob"))),
			 1024 * 1024);
	json_decref(r);
	r = cli_reply(f, c);
	assert_ok(r);
	json_decref(r);
	cli_free(c);
}

/* Clients vanishing mid-request or before their reply never hurt the
 * server (no SIGPIPE: this test process would die of it). */
static void test_client_disconnects(void **state)
{
	struct fx *f = *state;
	struct cli *a = cli_open(f->path);
	cli_puts(f, a, "{\"cmd\":\"pi");
	ev_run(f->loop, EVRUN_NOWAIT);
	cli_free(a);

	for (int i = 0; i < 5; i++) {
		struct cli *b = cli_open(f->path);
		cli_puts(f, b, "{\"cmd\":\"big\"}\n{\"cmd\":\"big\"}\n");
		close(b->fd); /* before the server even read it */
		b->fd = -1;
		cli_free(b);
		ev_run(f->loop, EVRUN_NOWAIT);
	}
	struct cli *b = cli_open(f->path);
	pump_until_clients(f, 1);
	cli_puts(f, b, "{\"cmd\":\"big\"}\n");
	ev_run(f->loop, EVRUN_NOWAIT);
	cli_free(b);
	pump_until_clients(f, 0);

	struct cli *c = cli_open(f->path);
	json_t *r = cli_call_ok(f, c, "{\"cmd\":\"ping\"}\n");
	json_decref(r);
	cli_free(c);
}

/* Runs fn in a child while the parent drives the loop; returns its status. */
static int run_child(struct fx *f, int (*fn)(struct fx *))
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(f));
	int status = 0;
	int64_t deadline = ms_now() + 10000;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		assert_true(w >= 0);
		if (w == pid)
			break;
		if (ms_now() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("child timed out");
		}
		ev_run(f->loop, EVRUN_NOWAIT);
		usleep(500);
	}
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int child_client_api(struct fx *f)
{
	struct ctl_client c;
	struct err e = {{0}};
	if (ctl_client_open(&c, f->path, &e) < 0)
		return 10;
	json_t *req = json_pack("{s:s, s:i}", "cmd", "echo", "arg", 5);
	json_t *rep = NULL;
	if (ctl_client_call(&c, req, &rep, 3000, &e) < 0)
		return 11;
	if (json_integer_value(json_object_get(rep, "echo")) != 5)
		return 12;
	json_decref(rep);
	json_decref(req);
	char *raw = NULL;
	if (ctl_client_call_raw(&c, "{\"cmd\":\"fail\"}", &raw, 3000, &e) < 0)
		return 13;
	if (!strstr(raw, "\"ok\":false") || !strstr(raw, "boom"))
		return 14;
	free(raw);
	if (ctl_client_call_raw(&c, "a\nb", &raw, 3000, &e) != -EINVAL)
		return 15;
	if (ctl_client_call_raw(&c, "{\"cmd\":\"stop\"}", &raw, 3000, &e) < 0)
		return 16;
	free(raw);
	/* the server is gone now: the next call fails cleanly */
	int rc = ctl_client_call_raw(&c, "{\"cmd\":\"ping\"}", &raw, 3000, &e);
	if (rc != -ECONNRESET && rc != -EPIPE)
		return 17;
	ctl_client_close(&c);
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/none.sock", f->dir);
	if (ctl_client_open(&c, missing, &e) != -ENOENT)
		return 18;
	if (!strstr(e.msg, missing))
		return 19;
	return 0;
}

static void test_client_api(void **state)
{
	struct fx *f = *state;
	assert_int_equal(run_child(f, child_client_api), 0);
}

/* As "nobody" (optionally in group nogroup) on a 0666 socket. */
static int child_as_nobody(struct fx *f)
{
	if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
		return 20;
	struct ctl_client c;
	struct err e = {{0}};
	if (ctl_client_open(&c, f->path, &e) < 0)
		return 21;
	char *raw = NULL;
	if (ctl_client_call_raw(&c, "{\"cmd\":\"ping\"}", &raw, 3000, &e) < 0)
		return 22;
	int ret = strstr(raw, "permission denied") ? 1
		  : strstr(raw, "\"pong\":true")   ? 2
						   : 23;
	free(raw);
	ctl_client_close(&c);
	return ret;
}

static void test_peer_credentials(void **state)
{
	struct fx *f = *state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(chmod(f->dir, 0711), 0); /* let nobody reach it */
	ctl_server_stop(f->srv);
	struct err e = {{0}};
	assert_int_equal(ctl_server_start(&f->srv, f->loop, f->path, 0666, NULL,
					  cmds, f, &e),
			 0);
	assert_int_equal(run_child(f, child_as_nobody), 1);
	assert_int_equal(f->calls, 0);

	struct group *g = getgrgid(65534);
	if (!g)
		return;
	char name[64];
	snprintf(name, sizeof(name), "%s", g->gr_name);
	ctl_server_stop(f->srv);
	assert_int_equal(ctl_server_start(&f->srv, f->loop, f->path, 0666, name,
					  cmds, f, &e),
			 0);
	assert_int_equal(run_child(f, child_as_nobody), 2);
	assert_int_equal(f->calls, 1);
}

int main(void)
{
	log_init("test_control", LOG_ERR, 0);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_dispatch_errors),
	    T(test_dispatch_handlers),
	    T(test_dispatch_help),
	    T(test_good_request),
	    T(test_handler_error_over_socket),
	    T(test_bad_requests_keep_connection),
	    T(test_request_size_limit),
	    T(test_endless_line_closed),
	    T(test_two_requests_one_write),
	    T(test_request_split_across_writes),
	    T(test_request_at_eof),
	    T(test_socket_mode_default),
	    T(test_socket_mode_and_group),
	    T(test_socket_dir_checked),
	    T(test_one_request_per_iteration),
	    T(test_second_server_refused),
	    T(test_stale_socket_replaced),
	    T(test_non_socket_not_replaced),
	    T(test_stop_unlinks_and_closes),
	    T(test_stop_keeps_successor_socket),
	    T(test_handler_stops_server),
	    T(test_many_clients),
	    T(test_slow_reader_dropped),
	    T(test_big_reply_delivered),
	    T(test_client_disconnects),
	    T(test_client_api),
	    T(test_peer_credentials),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
