/*
 * Small daemon helpers with no socket or loop: socket-address formatting
 * and comparison (addr.c) and the conversion of control-socket/peer JSON
 * options into plugin options (peerctl.c), with its bad inputs; a
 * client's link-info with link names its YAML could not hold (control
 * bytes, a '/' that would fake a server's CLIENT/LINK name) is dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"
#include "datapath.h"
#include "base/log.h"
#include "peerctl.h"

static struct sockaddr_storage v4(const char *a, uint16_t port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, a, &s->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *a, uint16_t port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, a, &s->sin6_addr), 1);
	return ss;
}

static void test_sockaddr_str(void **state)
{
	char b[80];
	struct sockaddr_storage a = v4("10.1.2.3", 5800);
	assert_string_equal(sockaddr_str(&a, b, sizeof(b)), "10.1.2.3:5800");
	a = v6("fd00::1", 443);
	assert_string_equal(sockaddr_str(&a, b, sizeof(b)), "[fd00::1]:443");
	/* IPv4 seen on a dual-stack socket reads as IPv4. */
	a = v6("::ffff:192.0.2.7", 9);
	assert_string_equal(sockaddr_str(&a, b, sizeof(b)), "192.0.2.7:9");
	memset(&a, 0, sizeof(a));
	assert_string_equal(sockaddr_str(&a, b, sizeof(b)), "-");
	/* A short buffer is truncated, never overrun. */
	char tiny[6];
	a = v4("10.1.2.3", 5800);
	assert_string_equal(sockaddr_str(&a, tiny, sizeof(tiny)), "10.1.");
}

static void test_sockaddr_equal(void **state)
{
	struct sockaddr_storage a = v4("10.1.2.3", 5800), b = a;
	assert_true(sockaddr_equal(&a, &b));
	b = v4("10.1.2.3", 5801); /* NAT rebinding: new port */
	assert_false(sockaddr_equal(&a, &b));
	b = v4("10.1.2.4", 5800);
	assert_false(sockaddr_equal(&a, &b));
	struct sockaddr_storage c = v6("fd00::1", 5800), e = c;
	assert_true(sockaddr_equal(&c, &e));
	assert_false(sockaddr_equal(&a, &c));
	e = v6("fd00::2", 5800);
	assert_false(sockaddr_equal(&c, &e));
}

static void test_options_convert(void **state)
{
	struct cfg_opt o[4];
	struct err e;
	json_t *j = json_pack("{s:s,s:i,s:f,s:b}", "weights.a", "3", "n", 7,
			      "x", 1.5, "on", 1);
	int n = peerctl_options(j, o, 4, &e);
	assert_int_equal(n, 4);
	int seen = 0;
	for (int i = 0; i < n; i++) {
		if (!strcmp(o[i].key, "weights.a")) {
			assert_int_equal(o[i].type, TTT_OPT_INT);
			assert_int_equal(o[i].i, 3);
			seen++;
		} else if (!strcmp(o[i].key, "n")) {
			assert_int_equal(o[i].i, 7);
			seen++;
		} else if (!strcmp(o[i].key, "x")) {
			assert_int_equal(o[i].type, TTT_OPT_FLOAT);
			seen++;
		} else if (!strcmp(o[i].key, "on")) {
			assert_int_equal(o[i].type, TTT_OPT_BOOL);
			assert_int_equal(o[i].b, 1);
			seen++;
		}
	}
	assert_int_equal(seen, 4);
	json_decref(j);
	assert_int_equal(peerctl_options(NULL, o, 4, &e), 0);
}

static void test_options_bad(void **state)
{
	struct cfg_opt o[2];
	struct err e;
	json_t *j = json_pack("[i]", 1);
	assert_int_equal(peerctl_options(j, o, 2, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "object"));
	json_decref(j);
	j = json_pack("{s:[i]}", "w", 1);
	assert_int_equal(peerctl_options(j, o, 2, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "expected a scalar"));
	json_decref(j);
	j = json_pack("{s:i,s:i,s:i}", "a", 1, "b", 2, "c", 3);
	assert_int_equal(peerctl_options(j, o, 2, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "too many options"));
	json_decref(j);
	char key[200];
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = 0;
	j = json_pack("{s:i}", key, 1);
	assert_int_equal(peerctl_options(j, o, 2, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "too long"));
	json_decref(j);
}

/* Peer strings in logs: printable ASCII stays, the rest is \xNN, and a
 * long one is cut with "..." inside the buffer. */
static void test_log_esc(void **state)
{
	char b[LOG_ESC_NAME];
	assert_string_equal(log_esc("roundrobin", b, sizeof(b)), "roundrobin");
	assert_string_equal(log_esc("a\x1b[31mb\n", b, sizeof(b)),
			    "a\\x1b[31mb\\x0a");
	assert_string_equal(log_esc("q\"\\z\xff", b, sizeof(b)),
			    "q\\x22\\x5cz\\xff");
	char small[12];
	assert_string_equal(log_esc("abcdefghijkl", small, sizeof(small)),
			    "abcdefgh...");
	char big[200];
	memset(big, 1, sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	log_esc(big, b, sizeof(b));
	assert_true(strlen(b) < sizeof(b));
	assert_non_null(strstr(b, "..."));
}

/* Server side: only names like the YAML's reach the paths (and logs). */
static void test_link_info_names(void **state)
{
	struct daemon d;
	memset(&d, 0, sizeof(d));
	config_defaults(&d.cfg);
	d.loop = ev_default_loop(0);
	d.client = false;
	struct session *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->d = &d;
	const char *msg = "{\"t\":\"link-info\",\"links\":["
			  "{\"id\":0,\"name\":\"lte\",\"rate\":1000},"
			  "{\"id\":1,\"name\":\"x\\u001b[31my\"},"
			  "{\"id\":2,\"name\":\"phone/a\"},"
			  "{\"id\":3,\"name\":\"\"},"
			  "{\"id\":4,\"name\":\"-opt\"},"
			  "{\"id\":5,\"name\":\"wlan_2-b\"}]}";
	peerctl_on_message(s, NULL, (const uint8_t *)msg, strlen(msg), 0);
	assert_string_equal(s->paths[0].name, "lte");
	assert_int_equal(s->paths[0].rate_bps, 1000);
	assert_string_equal(s->paths[5].name, "wlan_2-b");
	for (int i = 1; i <= 4; i++)
		assert_null(s->paths[i].sess); /* never created */
	assert_int_equal(s->rx_bad, 4);
	session_paths_release(s);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sockaddr_str),
	    cmocka_unit_test(test_sockaddr_equal),
	    cmocka_unit_test(test_options_convert),
	    cmocka_unit_test(test_options_bad),
	    cmocka_unit_test(test_link_info_names),
	    cmocka_unit_test(test_log_esc),
	};
	log_set_level(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
