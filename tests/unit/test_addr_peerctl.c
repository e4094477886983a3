/*
 * Small daemon helpers with no socket or loop: socket-address formatting
 * and comparison (addr.c) and the conversion of control-socket/peer JSON
 * options into plugin options (peerctl.c), with its bad inputs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sockaddr_str),
	    cmocka_unit_test(test_sockaddr_equal),
	    cmocka_unit_test(test_options_convert),
	    cmocka_unit_test(test_options_bad),
	};
	log_set_level(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
