/*
 * The downstream plugin a HELLO asks for (issue #10.1): the real
 * server_on_hello() on HELLOs built with the client's key. A path (absolute
 * or relative) or a name that exists only outside the server's plugin
 * directory never dlopens the file (marker.so's constructor would write
 * $TTT_MARKER_FILE): a path or a malformed name is refused with the generic
 * WR_SCHEDULER and creates no session, and a valid name the server lacks
 * runs the server's own default instead (issue 15). A live session keeps
 * its plugin. The same marker.so
 * installed in the plugin directory loads, which shows the marker works.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "base/log.h"
#include "sched/sched_host.h"

static char top[] = "/tmp/ttt-sh.XXXXXX"; /* short: paths fit a HELLO */
static char plugdir[64], outdir[64], marker[64], keyfile[64];
static uint8_t psk[WIRE_KEY_LEN];
static struct daemon d;
static int peer = -1; /* the "client" socket the ACKs come back to */
static struct sockaddr_storage peer_addr;
static socklen_t peer_len;

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	assert_true(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	assert_true(out >= 0);
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	assert_int_equal(close(out), 0);
	assert_int_equal(chmod(to, 0755), 0);
}

static void test_plugin(const char *name, char *out, size_t len)
{
	const char *dir = getenv("TTT_TEST_PLUGIN_DIR");
	snprintf(out, len, "%s/%s.so", dir ? dir : "build/testplugins", name);
}

static int setup(void **state)
{
	char p[PATH_MAX], q[PATH_MAX];
	struct err e;
	log_set_level(LOG_ERR);
	assert_non_null(mkdtemp(top));
	assert_int_equal(chmod(top, 0755), 0);
	snprintf(plugdir, sizeof(plugdir), "%s/p", top);
	snprintf(outdir, sizeof(outdir), "%s/o", top);
	snprintf(marker, sizeof(marker), "%s/marker-ran", top);
	snprintf(keyfile, sizeof(keyfile), "%s/key", top);
	assert_int_equal(mkdir(plugdir, 0755), 0);
	assert_int_equal(mkdir(outdir, 0755), 0);
	test_plugin("good", p, sizeof(p));
	snprintf(q, sizeof(q), "%s/good.so", plugdir);
	copy_file(p, q);
	test_plugin("marker", p, sizeof(p));
	snprintf(q, sizeof(q), "%s/marker.so", outdir);
	copy_file(p, q);
	setenv("TTT_MARKER_FILE", marker, 1);
	assert_int_equal(wire_key_generate(keyfile, &e), 0);
	assert_int_equal(wire_key_load(keyfile, psk, &e), 0);

	memset(&d, 0, sizeof(d));
	config_defaults(&d.cfg);
	d.cfg.role = ROLE_SERVER;
	d.cfg.crypto_mode = CRYPTO_ENCRYPT;
	d.cfg.reorder.enabled = false;
	struct sockaddr_in *la = (struct sockaddr_in *)&d.cfg.listen.ss;
	la->sin_family = AF_INET;
	la->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d.cfg.listen.len = sizeof(*la);
	d.cfg.n_clients = 1;
	snprintf(d.cfg.clients[0].name, sizeof(d.cfg.clients[0].name), "c0");
	snprintf(d.cfg.clients[0].key_file, sizeof(d.cfg.clients[0].key_file),
		 "%s", keyfile);
	d.loop = ev_default_loop(0);
	assert_non_null(d.loop);
	d.buf_size = 2048;
	d.tun_fd = -1;
	d.max_sessions = 1;
	d.sessions = calloc(1, sizeof(*d.sessions));
	assert_non_null(d.sessions);
	assert_int_equal(sched_registry_create(&d.reg, plugdir, &e), 0);
	assert_int_equal(server_setup(&d, &e), 0);

	peer = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(peer >= 0);
	struct sockaddr_in *pa = (struct sockaddr_in *)&peer_addr;
	pa->sin_family = AF_INET;
	pa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(peer, (struct sockaddr *)pa, sizeof(*pa)), 0);
	peer_len = sizeof(peer_addr);
	assert_int_equal(
	    getsockname(peer, (struct sockaddr *)&peer_addr, &peer_len), 0);
	return 0;
}

static int teardown(void **state)
{
	char p[PATH_MAX];
	server_teardown(&d);
	sched_registry_destroy(d.reg);
	free(d.sessions);
	close(peer);
	const char *files[] = {"p/good.so", "p/marker.so", "o/marker.so",
			       "marker-ran", "key"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", top, files[i]);
		unlink(p);
	}
	rmdir(plugdir);
	rmdir(outdir);
	rmdir(top);
	return 0;
}

/* Sends one HELLO asking for `downstream`; returns the ACK's status. */
static int hello(const char *downstream)
{
	static uint64_t ts;
	struct timespec now;
	struct wire_hello m;
	uint8_t buf[WIRE_HELLO_LEN];
	memset(&m, 0, sizeof(m));
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t t = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	ts = t > ts ? t : ts + 1;
	m.timestamp_ns = ts;
	/* A fresh X25519 ephemeral key per attempt, as a client makes it. */
	uint8_t eph_sk[crypto_scalarmult_SCALARBYTES];
	randombytes_buf(eph_sk, sizeof(eph_sk));
	assert_int_equal(crypto_scalarmult_base(m.client_eph, eph_sk), 0);
	m.crypto_mode = CRYPTO_ENCRYPT;
	m.ciphers = wire_ciphers_local();
	snprintf(m.downstream, sizeof(m.downstream), "%s", downstream);
	size_t len = wire_hello_build(buf, psk, &m, NULL, NULL);
	server_on_hello(&d, d.listeners[0].fd, buf, len, &peer_addr, peer_len,
			(uint64_t)ts);
	struct pollfd pfd = {.fd = peer, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	uint8_t ack[WIRE_HELLO_LEN];
	ssize_t n = recv(peer, ack, sizeof(ack), 0);
	assert_true(n > 0);
	struct wire_hello_ack a;
	assert_int_equal(wire_hello_ack_parse(ack, (size_t)n, psk, &a), 0);
	return a.status;
}

static void test_network_names_only(void **state)
{
	char abs_path[96], rel[64];
	snprintf(abs_path, sizeof(abs_path), "%s/marker.so", outdir);
	snprintf(rel, sizeof(rel), "../o/marker");
	const char *bad[] = {abs_path, rel, "../o/marker.so", "MARKER",
			     "mark er"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(strlen(bad[i]) < WIRE_SCHED_NAME_MAX);
		assert_int_equal(hello(bad[i]), WR_SCHEDULER);
		assert_int_equal(d.n_sessions, 0);
		assert_null(d.client_sess[0]);
		assert_int_equal(access(marker, F_OK), -1); /* never loaded */
	}
	/* A valid name the server lacks (marker.so is only outside its
	 * directory) is no refusal: the session runs the server's own
	 * default, the client is told, and the outside file is never
	 * loaded. */
	snprintf(d.cfg.sched[TTT_DIR_DOWNSTREAM].plugin,
		 sizeof(d.cfg.sched[TTT_DIR_DOWNSTREAM].plugin), "good");
	assert_int_equal(hello("marker"), WR_OK);
	assert_int_equal(d.n_sessions, 1);
	assert_string_equal(d.client_sess[0]->sched->name, "good");
	assert_string_equal(d.client_sess[0]->sched_fallback_from, "marker");
	assert_int_equal(access(marker, F_OK), -1);
	/* A name in the plugin directory starts a session. */
	assert_int_equal(hello("good"), WR_OK);
	assert_int_equal(d.n_sessions, 1);
	struct session *s = d.client_sess[0];
	assert_non_null(s);
	assert_string_equal(s->sched->name, "good");
	/* A later HELLO with a path is refused; the session keeps good. */
	assert_int_equal(hello(abs_path), WR_SCHEDULER);
	assert_ptr_equal(d.client_sess[0], s);
	assert_string_equal(s->sched->name, "good");
	assert_int_equal(access(marker, F_OK), -1);
	/* Its in-session twin (sched-set) goes through the same gate. */
	struct err e = {{0}};
	assert_int_equal(session_set_sched_remote(s, abs_path, NULL, 0, &e),
			 -EINVAL);
	assert_non_null(strstr(e.msg, "never a path"));
	assert_string_equal(s->sched->name, "good");
	assert_int_equal(access(marker, F_OK), -1);

	/* Control: the same file installed in the plugin directory loads, so
	 * the marker would have shown any load above. */
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/marker.so", plugdir);
	copy_file(abs_path, p);
	assert_int_equal(hello("marker"), WR_OK);
	assert_string_equal(d.client_sess[0]->sched->name, "marker");
	assert_int_equal(access(marker, F_OK), 0);
}

/* The name check itself. */
static void test_name_valid(void **state)
{
	assert_true(sched_name_valid("roundrobin"));
	assert_true(sched_name_valid("a-b_c9"));
	assert_true(sched_name_valid("abcdefghijklmnopqrstuvwxyz01234"));
	assert_false(sched_name_valid("abcdefghijklmnopqrstuvwxyz012345"));
	assert_false(sched_name_valid(""));
	assert_false(sched_name_valid("/etc/x.so"));
	assert_false(sched_name_valid("../x"));
	assert_false(sched_name_valid("a/b"));
	assert_false(sched_name_valid("x.so"));
	assert_false(sched_name_valid("Upper"));
	assert_false(sched_name_valid("tab\tx"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_valid),
	    cmocka_unit_test_setup_teardown(test_network_names_only, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
