/*
 * `tuntuntun -n` (conf/config_check.c and the spine's confcheck.c): each
 * thing the daemon would trip over at start is reported, with the key's
 * position in the file, the key, the value and what was expected; and a
 * configuration where all is well gets no message (the control for every
 * case, so a check that complains about everything fails too). Files are
 * made in a fresh directory under /tmp; the checks that depend on being
 * root (owners, accounts, the trust rule) skip visibly without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/config.h"
#include "base/log.h"
#include "conf/config_check.h"
#include "daemon.h"
#include "wire/wire.h"

static char dir[32]; /* "/tmp/ttt-cfgchk.XXXXXX" */
static char cfgpath[64];
static struct config cfg;
static struct cfgchk chk;

/* dir/rel in one of four static buffers. */
static const char *P(int slot, const char *rel)
{
	static char buf[4][PATH_MAX + 64];
	snprintf(buf[slot], sizeof(buf[slot]), "%s/%s", dir, rel);
	return buf[slot];
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* A good client key at dir/client.key and a server one at dir/srv.key. */
static int setup(void **state)
{
	struct err e;
	(void)state;
	log_init("test", LOG_ERR,
		 0); /* the host's own lines are not findings */
	snprintf(dir, sizeof(dir), "/tmp/ttt-cfgchk.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	if (wire_key_generate(P(0, "client.key"), &e) < 0 ||
	    wire_key_generate(P(0, "srv.key"), &e) < 0)
		return -1;
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes a client config (extra lines appended), loads it and runs every
 * check; the config itself must load. */
static void run_client(const char *extra)
{
	char text[4096];
	struct err e = {""};
	snprintf(cfgpath, sizeof(cfgpath), "%s/c.yaml", dir);
	snprintf(text, sizeof(text),
		 "role: client\n"
		 "server: { address: 192.0.2.1 }\n"
		 "tun: { address: 10.77.0.2/24 }\n"
		 "links:\n"
		 "  - { name: a, interface: lo }\n"
		 "  - { name: b }\n"
		 "plugin_dir: %s\n"
		 "control: { socket: %s/c.sock }\n"
		 "%s",
		 getenv("TTT_PLUGIN_DIR"), dir, extra);
	if (!strstr(extra, "key:")) {
		size_t n = strlen(text);
		snprintf(text + n, sizeof(text) - n, "key: %s/client.key\n",
			 dir);
	}
	write_file(cfgpath, text, 0600);
	if (config_load(&cfg, cfgpath, &e) < 0)
		fail_msg("config does not load: %s", e.msg);
	cfgchk_close(&chk);
	assert_int_equal(confcheck_run(&cfg, &chk), 0);
}

/* A UDP port on 127.0.0.1 nobody uses right now. */
static unsigned free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* A server config listening on a free loopback port, unless extra says
 * where. */
static void run_server(const char *extra)
{
	char text[4096], listen[64] = "";
	struct err e = {""};
	if (!strstr(extra, "listen:"))
		snprintf(listen, sizeof(listen),
			 "listen: { address: 127.0.0.1, port: %u }\n",
			 free_port());
	snprintf(cfgpath, sizeof(cfgpath), "%s/s.yaml", dir);
	snprintf(text, sizeof(text),
		 "role: server\n"
		 "tun: { address: 10.77.0.1/24 }\n"
		 "plugin_dir: %s\n"
		 "control: { socket: \"\" }\n"
		 "%s%s",
		 getenv("TTT_PLUGIN_DIR"), extra, listen);
	write_file(cfgpath, text, 0600);
	if (config_load(&cfg, cfgpath, &e) < 0)
		fail_msg("config does not load: %s", e.msg);
	cfgchk_close(&chk);
	assert_int_equal(confcheck_run(&cfg, &chk), 0);
}

static void dump(void)
{
	for (unsigned i = 0; i < chk.n_msgs; i++)
		print_message("  %s %s\n", chk.msgs[i].error ? "E" : "W",
			      chk.msgs[i].text);
}

/* Exactly one finding, of the given kind, whose text starts with
 * "FILE:LINE:COL: KEY: " (or "FILE: KEY: " for line 0) and contains each
 * of the NULL-terminated fragments. */
static void expect_one(bool error, unsigned line, unsigned col, const char *key,
		       ...)
{
	char head[PATH_MAX + 128];
	va_list ap;
	if (chk.n_msgs != 1 || chk.msgs[0].error != error)
		dump();
	assert_int_equal(chk.n_msgs, 1);
	assert_int_equal(chk.msgs[0].error, error);
	assert_int_equal(chk.n_errors, error ? 1 : 0);
	if (line)
		snprintf(head, sizeof(head), "%s:%u:%u: %s: ", cfgpath, line,
			 col, key);
	else
		snprintf(head, sizeof(head), "%s: %s: ", cfgpath, key);
	if (strncmp(chk.msgs[0].text, head, strlen(head)) != 0)
		fail_msg("expected \"%s...\", got \"%s\"", head,
			 chk.msgs[0].text);
	va_start(ap, key);
	for (const char *f; (f = va_arg(ap, const char *));)
		if (!strstr(chk.msgs[0].text, f))
			fail_msg("\"%s\" lacks \"%s\"", chk.msgs[0].text, f);
	va_end(ap);
}

static void expect_none(void)
{
	if (chk.n_msgs)
		dump();
	assert_int_equal(chk.n_msgs, 0);
	assert_int_equal(chk.n_errors, 0);
}

static bool root(void)
{
	if (geteuid() == 0)
		return true;
	print_message("  SKIP: needs root\n");
	return false;
}

/* ---- the control: a complete, correct config says nothing ---- */

static void test_good_client(void **state)
{
	(void)state;
	run_client("");
	expect_none();
}

static void test_good_server(void **state)
{
	char extra[512];
	(void)state;
	snprintf(extra, sizeof(extra),
		 "clients:\n  - { name: x, key: %s/srv.key, address: "
		 "10.77.0.2 }\n",
		 dir);
	run_server(extra);
	expect_none();
}

/* ---- positions ---- */

static void test_locate(void **state)
{
	unsigned line = 0, col = 0;
	(void)state;
	run_client("");
	assert_int_equal(cfgchk_locate(&chk, "links[0].interface", &line, &col),
			 0);
	assert_int_equal(line, 5);
	assert_int_equal(col, 27);
	assert_int_equal(cfgchk_locate(&chk, "server.address", &line, &col), 0);
	assert_int_equal(line, 2);
	assert_int_equal(col, 20);
	assert_int_equal(cfgchk_locate(&chk, "links[2].name", &line, &col),
			 -ENOENT);
	assert_int_equal(cfgchk_locate(&chk, "user", &line, &col), -ENOENT);
	assert_int_equal(cfgchk_locate(&chk, "links[x]", &line, &col), -ENOENT);
}

/* ---- key files ---- */

static void test_key_missing(void **state)
{
	char extra[512];
	(void)state;
	snprintf(extra, sizeof(extra), "key: %s/nope.key\n", dir);
	run_client(extra);
	expect_one(true, 9, 6, "key", "nope.key\": no such file",
		   "tuntunctl genkey", NULL);
}

static void test_key_mode(void **state)
{
	char extra[512];
	(void)state;
	write_file(P(0, "loose.key"), "", 0600);
	assert_int_equal(rename(P(0, "client.key"), P(1, "loose.key")), 0);
	assert_int_equal(chmod(P(0, "loose.key"), 0640), 0);
	snprintf(extra, sizeof(extra), "key: %s/loose.key\n", dir);
	run_client(extra);
	expect_one(true, 9, 6, "key", "has mode 0640", "expected 0600",
		   "chmod 600", NULL);
	assert_int_equal(rename(P(0, "loose.key"), P(1, "client.key")), 0);
	assert_int_equal(chmod(P(0, "client.key"), 0600), 0);
}

static void test_key_owner(void **state)
{
	char extra[512];
	(void)state;
	if (!root())
		return;
	assert_int_equal(rename(P(0, "client.key"), P(1, "theirs.key")), 0);
	assert_int_equal(chown(P(0, "theirs.key"), 65534, 65534), 0);
	snprintf(extra, sizeof(extra), "key: %s/theirs.key\n", dir);
	run_client(extra);
	expect_one(true, 9, 6, "key", "owned by uid 65534",
		   "expected root or the user", NULL);
	/* The daemon refuses it too. */
	uint8_t k[WIRE_KEY_LEN];
	struct err e = {""};
	assert_int_equal(wire_key_load(P(0, "theirs.key"), k, &e), -EPERM);
	assert_int_equal(chown(P(0, "theirs.key"), 0, 0), 0);
	assert_int_equal(rename(P(0, "theirs.key"), P(1, "client.key")), 0);
}

static void test_key_garbage(void **state)
{
	char extra[512];
	(void)state;
	write_file(P(0, "bad.key"), "this is not a key\n", 0600);
	snprintf(extra, sizeof(extra), "key: %s/bad.key\n", dir);
	run_client(extra);
	expect_one(true, 9, 6, "key", "not a base64 key", NULL);
	write_file(P(0, "short.key"), "AAAA\n", 0600);
	snprintf(extra, sizeof(extra), "key: %s/short.key\n", dir);
	run_client(extra);
	expect_one(true, 9, 6, "key", "key is 3 bytes, expected 32", NULL);
}

static void test_key_not_file(void **state)
{
	char extra[512];
	(void)state;
	snprintf(extra, sizeof(extra), "key: %s\n", dir);
	run_client(extra);
	expect_one(true, 9, 6, "key", "is not a regular file", NULL);
}

static void test_server_keys(void **state)
{
	char extra[512];
	(void)state;
	snprintf(extra, sizeof(extra),
		 "clients:\n"
		 "  - { name: x, key: %s/srv.key, address: 10.77.0.2 }\n"
		 "  - { name: y, key: %s/gone.key, address: 10.77.0.3 }\n",
		 dir, dir);
	run_server(extra);
	expect_one(true, 7, 21, "clients[1].key", "gone.key\": no such file",
		   NULL);
}

/* The server refuses two clients with one key: so does the check, even
 * when the key is a copy in another file. */
static void test_server_shared_key(void **state)
{
	char extra[512], cmd[256];
	(void)state;
	snprintf(cmd, sizeof(cmd), "cp -p %s/srv.key %s/copy.key", dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(extra, sizeof(extra),
		 "clients:\n"
		 "  - { name: x, key: %s/srv.key, address: 10.77.0.2 }\n"
		 "  - { name: y, key: %s/copy.key, address: 10.77.0.3 }\n",
		 dir, dir);
	run_server(extra);
	expect_one(true, 7, 21, "clients[1].key",
		   "holds the same key as clients[0] (x)",
		   "a key of its own for y", NULL);
	/* The control: y with its own key. */
	snprintf(extra, sizeof(extra),
		 "clients:\n"
		 "  - { name: x, key: %s/srv.key, address: 10.77.0.2 }\n"
		 "  - { name: y, key: %s/client.key, address: 10.77.0.3 }\n",
		 dir, dir);
	run_server(extra);
	expect_none();
}

/* ---- accounts ---- */

static void test_user(void **state)
{
	(void)state;
	if (!root())
		return;
	run_client("user: nosuchuser-ttt\n");
	expect_one(true, 9, 7, "user", "\"nosuchuser-ttt\": no such user",
		   "expected an existing account", NULL);
	run_client("user: root\n");
	expect_one(true, 9, 7, "user", "\"root\" is root",
		   "expected an unprivileged account", NULL);
	run_client("user: nobody\n");
	expect_none();
}

static void test_group(void **state)
{
	(void)state;
	/* run_client() writes its own control line: this one by hand. */
	snprintf(cfgpath, sizeof(cfgpath), "%s/g.yaml", dir);
	{
		char text[2048];
		struct err e = {""};
		snprintf(
		    text, sizeof(text),
		    "role: client\nserver: { address: 192.0.2.1 }\n"
		    "key: %s/client.key\ntun: { address: 10.77.0.2/24 }\n"
		    "links: [ { name: a } ]\nplugin_dir: %s\n"
		    "control: { socket: %s/g.sock, group: nosuchgroup-ttt }\n",
		    dir, getenv("TTT_PLUGIN_DIR"), dir);
		write_file(cfgpath, text, 0600);
		assert_int_equal(config_load(&cfg, cfgpath, &e), 0);
		assert_int_equal(confcheck_run(&cfg, &chk), 0);
	}
	expect_one(true, 7, 58, "control.group",
		   "\"nosuchgroup-ttt\": no such group", NULL);
}

/* ---- the control socket ---- */

static void test_socket_dir(void **state)
{
	char extra[512];
	(void)state;
	snprintf(extra, sizeof(extra), "control: { socket: %s/no/c.sock }\n",
		 dir);
	/* run_client already has a control line: build this one by hand */
	cfgchk_close(&chk);
	snprintf(cfgpath, sizeof(cfgpath), "%s/d.yaml", dir);
	char text[2048];
	struct err e = {""};
	snprintf(text, sizeof(text),
		 "role: client\nserver: { address: 192.0.2.1 }\n"
		 "key: %s/client.key\ntun: { address: 10.77.0.2/24 }\n"
		 "links: [ { name: a } ]\nplugin_dir: %s\n%s",
		 dir, getenv("TTT_PLUGIN_DIR"), extra);
	write_file(cfgpath, text, 0600);
	assert_int_equal(config_load(&cfg, cfgpath, &e), 0);
	assert_int_equal(confcheck_run(&cfg, &chk), 0);
	expect_one(true, 7, 20, "control.socket", "/no\" does not exist",
		   "/run/tuntuntun/", NULL);

	/* A file that is not a socket is never replaced. */
	snprintf(extra, sizeof(extra), "control: { socket: %s/client.key }\n",
		 dir);
	snprintf(text, sizeof(text),
		 "role: client\nserver: { address: 192.0.2.1 }\n"
		 "key: %s/client.key\ntun: { address: 10.77.0.2/24 }\n"
		 "links: [ { name: a } ]\nplugin_dir: %s\n%s",
		 dir, getenv("TTT_PLUGIN_DIR"), extra);
	write_file(cfgpath, text, 0600);
	cfgchk_close(&chk);
	assert_int_equal(config_load(&cfg, cfgpath, &e), 0);
	assert_int_equal(confcheck_run(&cfg, &chk), 0);
	expect_one(true, 7, 20, "control.socket", "is not a socket", NULL);

	/* The default (not in the file): no position, says so. */
	snprintf(text, sizeof(text),
		 "role: client\nserver: { address: 192.0.2.1 }\n"
		 "key: %s/client.key\ntun: { address: 10.77.0.2/24 }\n"
		 "links: [ { name: a } ]\nplugin_dir: %s\n",
		 dir, getenv("TTT_PLUGIN_DIR"));
	write_file(cfgpath, text, 0600);
	cfgchk_close(&chk);
	assert_int_equal(config_load(&cfg, cfgpath, &e), 0);
	assert_int_equal(confcheck_run(&cfg, &chk), 0);
	struct stat st;
	if (stat("/run", &st) == 0 && access("/run", W_OK) == 0 &&
	    lstat("/run/tuntuntun.sock", &st) < 0)
		expect_none();
	else
		print_message("  (default socket not checked here)\n");
}

static void test_socket_live(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	(void)state;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/c.sock", dir);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	run_client("");
	expect_one(false, 8, 20, "control.socket", "a daemon is listening",
		   NULL);
	close(fd);
	/* Stale (nobody listening): removed at start, not a finding. */
	run_client("");
	expect_none();
	unlink(sa.sun_path);
}

/* ---- the quota state file ---- */

static void test_state_file(void **state)
{
	char extra[512];
	(void)state;
	snprintf(extra, sizeof(extra), "state_file: %s/none/q.json\n", dir);
	run_client(extra);
	expect_one(true, 9, 13, "state_file", "/none\" does not exist", NULL);
	snprintf(extra, sizeof(extra), "state_file: %s/client.key/q.json\n",
		 dir);
	run_client(extra);
	expect_one(true, 9, 13, "state_file",
		   "/client.key\" is not a directory", NULL);
	write_file(P(0, "q.json"), "{ not json", 0600);
	snprintf(extra, sizeof(extra), "state_file: %s/q.json\n", dir);
	run_client(extra);
	/* a warning: the daemon starts with FILE.bak or the period used up */
	expect_one(false, 9, 13, "state_file",
		   "q.json\":1:", "expected the JSON quota counters",
		   "count this period as used up", NULL);
	write_file(P(0, "q.json"), "{}", 0600);
	run_client(extra);
	expect_none();
	snprintf(extra, sizeof(extra), "state_file: %s/new.json\n", dir);
	run_client(extra);
	expect_none(); /* created at the first save */
}

/* ---- interfaces: a warning, never an error ---- */

static void test_interface(void **state)
{
	(void)state;
	snprintf(cfgpath, sizeof(cfgpath), "%s/i.yaml", dir);
	char text[2048];
	struct err e = {""};
	snprintf(text, sizeof(text),
		 "role: client\nserver: { address: 192.0.2.1 }\n"
		 "key: %s/client.key\ntun: { address: 10.77.0.2/24 }\n"
		 "links: [ { name: a, interface: lo }, { name: lte, interface: "
		 "wwan-ttt9 } ]\nplugin_dir: %s\ncontrol: { socket: \"\" }\n",
		 dir, getenv("TTT_PLUGIN_DIR"));
	write_file(cfgpath, text, 0600);
	assert_int_equal(config_load(&cfg, cfgpath, &e), 0);
	assert_int_equal(confcheck_run(&cfg, &chk), 0);
	expect_one(false, 5, 62, "links[1].interface",
		   "\"wwan-ttt9\": no such interface now",
		   "link lte stays down until it appears", NULL);
}

/* ---- plugins ---- */

static void test_plugin_missing(void **state)
{
	(void)state;
	run_client("scheduler: { upstream: { plugin: nosuch } }\n");
	expect_one(true, 9, 34, "scheduler.upstream.plugin",
		   "\"nosuch\": no such plugin in", NULL);
	/* The client's downstream runs on the server: a warning here. */
	run_client("scheduler: { downstream: { plugin: nosuch } }\n");
	expect_one(false, 9, 36, "scheduler.downstream.plugin",
		   "the server must have it", NULL);
	/* A server's downstream is its own: an error. */
	char extra[512];
	snprintf(extra, sizeof(extra),
		 "scheduler: { downstream: { plugin: nosuch } }\n"
		 "clients: [ { name: x, key: %s/srv.key, address: 10.77.0.2 } "
		 "]\n",
		 dir);
	run_server(extra);
	expect_one(true, 5, 36, "scheduler.downstream.plugin", "no such plugin",
		   NULL);
}

static void test_plugin_options(void **state)
{
	(void)state;
	run_client("scheduler:\n  upstream: { plugin: weighted, weights: { a: "
		   "3, b: lots } }\n");
	expect_one(true, 10, 53, "scheduler.upstream.weights.b",
		   "plugin \"weighted\" refused",
		   "option \"weights.b\": expected an integer", NULL);
	run_client(
	    "scheduler:\n  upstream: { plugin: weighted, colour: red }\n");
	expect_one(true, 10, 41, "scheduler.upstream.colour",
		   "unknown option \"colour\"", NULL);
	/* The control: the same plugin with good options loads. */
	run_client("scheduler:\n  upstream: { plugin: weighted, weights: { a: "
		   "3, b: 1 } }\n");
	expect_none();
}

static void test_plugin_untrusted(void **state)
{
	char extra[256], src[PATH_MAX + 32];
	(void)state;
	if (!root())
		return;
	/* A copy of weighted.so others may write: refused under root. */
	assert_int_equal(mkdir(P(0, "plug"), 0755), 0);
	snprintf(src, sizeof(src), "cp %s/weighted.so %s/plug/",
		 getenv("TTT_PLUGIN_DIR"), dir);
	assert_int_equal(system(src), 0);
	assert_int_equal(chmod(P(0, "plug/weighted.so"), 0666), 0);
	/* The default downstream plugin beside it, trusted: its absence
	 * would add a warning of its own. */
	snprintf(src, sizeof(src), "cp %s/earliest-arrival.so %s/plug/",
		 getenv("TTT_PLUGIN_DIR"), dir);
	assert_int_equal(system(src), 0);
	assert_int_equal(chmod(P(0, "plug/earliest-arrival.so"), 0755), 0);
	snprintf(extra, sizeof(extra),
		 "scheduler: { upstream: { plugin: weighted } }\n");
	cfgchk_close(&chk);
	snprintf(cfgpath, sizeof(cfgpath), "%s/u.yaml", dir);
	char text[2048];
	struct err e = {""};
	snprintf(text, sizeof(text),
		 "role: client\nserver: { address: 192.0.2.1 }\n"
		 "key: %s/client.key\ntun: { address: 10.77.0.2/24 }\n"
		 "links: [ { name: a } ]\nplugin_dir: %s/plug\n"
		 "control: { socket: \"\" }\n%s",
		 dir, dir, extra);
	write_file(cfgpath, text, 0600);
	assert_int_equal(config_load(&cfg, cfgpath, &e), 0);
	assert_int_equal(confcheck_run(&cfg, &chk), 0);
	expect_one(true, 8, 34, "scheduler.upstream.plugin",
		   "plugin \"weighted\" refused", "writable", NULL);
	/* The control: the same file, mode 0755, loads. */
	assert_int_equal(chmod(P(0, "plug/weighted.so"), 0755), 0);
	cfgchk_close(&chk);
	assert_int_equal(confcheck_run(&cfg, &chk), 0);
	expect_none();
}

/* ---- addresses and the tun name ---- */

static void test_listen(void **state)
{
	char extra[512];
	unsigned port = free_port();
	(void)state;
	snprintf(extra, sizeof(extra),
		 "clients: [ { name: x, key: %s/srv.key, address: 10.77.0.2 } "
		 "]\nlisten: { address: 192.0.2.77, port: %u }\n",
		 dir, port);
	run_server(extra);
	expect_one(true, 6, 20, "listen.address",
		   "192.0.2.77:", "not an address of this machine", NULL);
	/* Taken (a daemon running): a warning. */
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(extra, sizeof(extra),
		 "clients: [ { name: x, key: %s/srv.key, address: 10.77.0.2 } "
		 "]\nlisten: { address: 127.0.0.1, port: %u }\n",
		 dir, port);
	run_server(extra);
	expect_one(false, 6, 9, "listen", "is in use", NULL);
	close(fd);
	/* The control: free again. */
	run_server(extra);
	expect_none();
}

/* http: the secret files as the daemon reads them, the listen address. */
static void test_http(void **state)
{
	char extra[PATH_MAX + 256], tok[PATH_MAX];
	unsigned port = free_port();
	(void)state;
	snprintf(tok, sizeof(tok), "%s/http.token", dir);
	write_file(tok, "0123456789abcdef\n", 0600);
	snprintf(extra, sizeof(extra),
		 "http: { listen: \"127.0.0.1:%u\", token_file: %s }\n", port,
		 tok);
	run_client(extra);
	expect_none();
	write_file(tok, "0123456789abcdef\n", 0644);
	run_client(extra);
	expect_one(false, 9, 48, "http.token_file", "has mode 0644", NULL);
	write_file(tok, "\nsecret on line two\n", 0600);
	run_client(extra);
	expect_one(true, 9, 48, "http.token_file", "first line is empty", NULL);
	snprintf(extra, sizeof(extra),
		 "http: { listen: \"127.0.0.1:%u\", token_file: %s/none }\n",
		 port, dir);
	run_client(extra);
	expect_one(true, 9, 48, "http.token_file", "No such file", NULL);
	snprintf(extra, sizeof(extra),
		 "http: { listen: \"192.0.2.77:%u\", user: a, password: "
		 "12345678 }\n",
		 port);
	run_client(extra);
	expect_one(true, 9, 17, "http.listen",
		   "192.0.2.77:", "not an address of this machine", NULL);
	/* Taken (a daemon running): a warning. */
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	snprintf(extra, sizeof(extra), "http: { listen: \"127.0.0.1:%u\" }\n",
		 port);
	run_client(extra);
	expect_one(false, 9, 17, "http.listen", "is in use", NULL);
	close(fd);
	/* Off: nothing is checked. */
	snprintf(extra, sizeof(extra),
		 "http: { enabled: false, token_file: %s/none }\n", dir);
	run_client(extra);
	expect_none();
}

static void test_source(void **state)
{
	(void)state;
	cfgchk_close(&chk);
	snprintf(cfgpath, sizeof(cfgpath), "%s/src.yaml", dir);
	char text[2048];
	struct err e = {""};
	snprintf(text, sizeof(text),
		 "role: client\nserver: { address: 192.0.2.1 }\n"
		 "key: %s/client.key\ntun: { address: 10.77.0.2/24 }\n"
		 "links: [ { name: a, source: 127.0.0.1 }, { name: b, source: "
		 "192.0.2.77 } ]\nplugin_dir: %s\ncontrol: { socket: \"\" }\n",
		 dir, getenv("TTT_PLUGIN_DIR"));
	write_file(cfgpath, text, 0600);
	assert_int_equal(config_load(&cfg, cfgpath, &e), 0);
	assert_int_equal(confcheck_run(&cfg, &chk), 0);
	expect_one(false, 5, 61, "links[1].source",
		   "192.0.2.77 is not an address of this machine now",
		   "link b stays down until it is", NULL);
}

static void test_tun_name(void **state)
{
	(void)state;
	run_client("");
	expect_none(); /* ttt0 is free here (the e2e tests use namespaces) */
	cfgchk_close(&chk);
	snprintf(cfgpath, sizeof(cfgpath), "%s/t.yaml", dir);
	char text[2048];
	struct err e = {""};
	snprintf(
	    text, sizeof(text),
	    "role: client\nserver: { address: 192.0.2.1 }\n"
	    "key: %s/client.key\ntun: { name: lo, address: 10.77.0.2/24 }\n"
	    "links: [ { name: a } ]\nplugin_dir: %s\ncontrol: { socket: "
	    "\"\" }\n",
	    dir, getenv("TTT_PLUGIN_DIR"));
	write_file(cfgpath, text, 0600);
	assert_int_equal(config_load(&cfg, cfgpath, &e), 0);
	assert_int_equal(confcheck_run(&cfg, &chk), 0);
	expect_one(true, 4, 14, "tun.name",
		   "\"lo\" is an existing interface that is not a tun", NULL);
}

static void test_cipher(void **state)
{
	(void)state;
	run_client("cipher: aes-256-gcm\n");
	if (wire_ciphers_local() & WIRE_CIPHERS_AES256GCM)
		expect_none();
	else
		expect_one(true, 9, 9, "cipher", "needs hardware AES", NULL);
}

static int cleanup_chk(void **state)
{
	(void)state;
	cfgchk_close(&chk);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_good_client, cleanup_chk),
	    cmocka_unit_test_teardown(test_good_server, cleanup_chk),
	    cmocka_unit_test_teardown(test_locate, cleanup_chk),
	    cmocka_unit_test_teardown(test_key_missing, cleanup_chk),
	    cmocka_unit_test_teardown(test_key_mode, cleanup_chk),
	    cmocka_unit_test_teardown(test_key_owner, cleanup_chk),
	    cmocka_unit_test_teardown(test_key_garbage, cleanup_chk),
	    cmocka_unit_test_teardown(test_key_not_file, cleanup_chk),
	    cmocka_unit_test_teardown(test_server_keys, cleanup_chk),
	    cmocka_unit_test_teardown(test_server_shared_key, cleanup_chk),
	    cmocka_unit_test_teardown(test_user, cleanup_chk),
	    cmocka_unit_test_teardown(test_group, cleanup_chk),
	    cmocka_unit_test_teardown(test_socket_dir, cleanup_chk),
	    cmocka_unit_test_teardown(test_socket_live, cleanup_chk),
	    cmocka_unit_test_teardown(test_state_file, cleanup_chk),
	    cmocka_unit_test_teardown(test_interface, cleanup_chk),
	    cmocka_unit_test_teardown(test_plugin_missing, cleanup_chk),
	    cmocka_unit_test_teardown(test_plugin_options, cleanup_chk),
	    cmocka_unit_test_teardown(test_plugin_untrusted, cleanup_chk),
	    cmocka_unit_test_teardown(test_listen, cleanup_chk),
	    cmocka_unit_test_teardown(test_source, cleanup_chk),
	    cmocka_unit_test_teardown(test_tun_name, cleanup_chk),
	    cmocka_unit_test_teardown(test_cipher, cleanup_chk),
	    cmocka_unit_test_teardown(test_http, cleanup_chk),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
