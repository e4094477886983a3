/*
 * Unit tests of the HTTP listener (core/ctl/httpd.c) on 127.0.0.1 with an
 * ephemeral port, spoken to over a plain socket: 503 before the first
 * snapshot, the documents of the latest snapshot with their content types,
 * 401 without (or with wrong) credentials and 200 with a Bearer header, a
 * ?token= argument or basic auth, 404 and 405, history only once asked
 * for, and snapshots replaced while responses are in flight (ASan checks
 * that a pinned snapshot outlives its replacement).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl/httpd.h"

static struct sockaddr_in lo_any(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	return a;
}

static struct httpd *start(const struct httpd_auth *auth)
{
	struct sockaddr_in a = lo_any();
	struct httpd *h = NULL;
	struct err e;
	int ret = httpd_start(&h, (struct sockaddr *)&a, sizeof(a), auth, &e);
	if (ret)
		print_error("%s\n", e.msg);
	assert_int_equal(ret, 0);
	assert_true(httpd_port(h) > 0);
	return h;
}

/* Sends one request, returns the whole answer (malloc'd). */
static char *req(struct httpd *h, const char *method, const char *path,
		 const char *headers)
{
	struct sockaddr_in a = lo_any();
	a.sin_port = htons(httpd_port(h));
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	char out[1024];
	int n = snprintf(out, sizeof(out),
			 "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s"
			 "\r\n",
			 method, path, headers ? headers : "");
	assert_int_equal(write(fd, out, (size_t)n), n);
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		assert_true(r >= 0);
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = 0;
	close(fd);
	return buf;
}

static int status_of(const char *resp)
{
	int code = 0;
	assert_int_equal(sscanf(resp, "HTTP/1.1 %d", &code), 1);
	return code;
}

static const char *body_of(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");
	assert_non_null(b);
	return b + 4;
}

static void expect(struct httpd *h, const char *method, const char *path,
		   const char *headers, int code, const char *needle)
{
	char *r = req(h, method, path, headers);
	if (status_of(r) != code || (needle && !strstr(r, needle))) {
		print_error("%s %s: want %d with \"%s\", got:\n%s\n", method,
			    path, code, needle ? needle : "", r);
		fail();
	}
	free(r);
}

static void publish(struct httpd *h, const char *status, const char *history)
{
	json_error_t je;
	struct httpd_docs d = {
	    .status = json_loads(status, 0, &je),
	    .history = history ? strdup(history) : NULL,
	    .history_len = history ? strlen(history) : 0,
	};
	assert_non_null(d.status);
	httpd_publish(h, &d);
}

static void test_routes_and_snapshots(void **state)
{
	(void)state;
	struct httpd_auth none = {0};
	struct httpd *h = start(&none);
	expect(h, "GET", "/metrics", NULL, 503, "not rendered yet");
	expect(h, "GET", "/", NULL, 200, "<title>tuntuntun</title>");
	expect(h, "GET", "/", NULL, 200, "Content-Security-Policy: ");
	publish(h, "{\"role\":\"client\",\"version\":\"1\"}", NULL);
	expect(h, "GET", "/status.json", NULL, 200,
	       "\r\n\r\n{\"role\":\"client\",\"version\":\"1\"}");
	expect(h, "GET", "/status.json", NULL, 200,
	       "Content-Type: application/json");
	/* the metrics are the status tree rendered (core/ctl/metrics.c) */
	expect(h, "GET", "/metrics", NULL, 200,
	       "\nttt_info{role=\"client\",version=\"1\"} 1\n");
	expect(h, "GET", "/metrics", NULL, 200,
	       "Content-Type: text/plain; version=0.0.4");
	publish(h, "{\"role\":\"server\",\"version\":\"2\"}", NULL);
	expect(h, "GET", "/status.json", NULL, 200, "\"version\":\"2\"");
	expect(h, "GET", "/metrics", NULL, 200, "version=\"2\"} 1\n");
	expect(h, "HEAD", "/metrics", NULL, 200, NULL);
	expect(h, "GET", "/nope", NULL, 404, NULL);
	expect(h, "POST", "/metrics", "Content-Length: 0\r\n", 405,
	       "Allow: GET, HEAD");
	/* history: not wanted until asked, rendered into later snapshots */
	assert_false(httpd_history_wanted(h, 30));
	expect(h, "GET", "/history.json", NULL, 200, "\"pending\":true");
	assert_true(httpd_history_wanted(h, 30));
	publish(h, "{}", "{\"h\":1}");
	expect(h, "GET", "/history.json", NULL, 200, "{\"h\":1}");
	struct httpd_stats st;
	httpd_get_stats(h, &st);
	assert_int_equal(st.requests, 14);
	assert_int_equal(st.unauthorized, 0);
	httpd_stop(h);
}

static void test_token(void **state)
{
	(void)state;
	struct httpd_auth auth = {.token = "s3cret-token-0123"};
	struct httpd *h = start(&auth);
	publish(h, "{\"uptime_s\":1}", NULL);
	expect(h, "GET", "/metrics", NULL, 401,
	       "WWW-Authenticate: Bearer realm=\"tuntuntun\"");
	expect(h, "GET", "/", NULL, 401, NULL);
	expect(h, "GET", "/metrics",
	       "Authorization: Bearer s3cret-token-012\r\n", 401, NULL);
	expect(h, "GET", "/metrics",
	       "Authorization: Bearer s3cret-token-01234\r\n", 401, NULL);
	expect(h, "GET", "/metrics",
	       "Authorization: Basic czNjcmV0LXRva2VuLTAxMjM=\r\n", 401, NULL);
	expect(h, "GET", "/metrics",
	       "Authorization: Bearer s3cret-token-0123\r\n", 200,
	       "ttt_uptime_seconds 1\n");
	expect(h, "GET", "/metrics?token=s3cret-token-0123", NULL, 200,
	       "ttt_uptime_seconds 1\n");
	expect(h, "GET", "/?token=s3cret-token-0123", NULL, 200, "<html");
	expect(h, "GET", "/metrics?token=wrong", NULL, 401, NULL);
	struct httpd_stats st;
	httpd_get_stats(h, &st);
	assert_int_equal(st.unauthorized, 6);
	httpd_stop(h);
}

static void test_basic_auth(void **state)
{
	(void)state;
	struct httpd_auth auth = {.user = "admin", .password = "pa55word"};
	struct httpd *h = start(&auth);
	publish(h, "{\"uptime_s\":1}", NULL);
	expect(h, "GET", "/metrics", NULL, 401,
	       "WWW-Authenticate: Basic realm=\"tuntuntun\"");
	/* admin:pa55wore, admin:pa55word */
	expect(h, "GET", "/metrics",
	       "Authorization: Basic YWRtaW46cGE1NXdvcmU=\r\n", 401, NULL);
	expect(h, "GET", "/metrics",
	       "Authorization: Basic YWRtaW46cGE1NXdvcmQ=\r\n", 200,
	       "ttt_uptime_seconds 1\n");
	httpd_stop(h);
}

/* Readers racing snapshot replacement: every answer is one whole
 * snapshot, never a freed or mixed one. */
struct racer {
	struct httpd *h;
	int bad;
};

static void *race_reader(void *arg)
{
	struct racer *r = arg;
	for (int i = 0; i < 150; i++) {
		char *resp =
		    req(r->h, "GET", i % 2 ? "/metrics" : "/status.json", NULL);
		const char *b = body_of(resp);
		json_error_t je;
		json_t *j = i % 2 ? NULL : json_loads(b, 0, &je);
		const char *pad = json_string_value(json_object_get(j, "pad"));
		if (status_of(resp) != 200)
			r->bad++;
		else if (i % 2 == 0 &&
			 (!pad || strspn(pad, "x") != strlen(pad)))
			r->bad++; /* one whole document, never a mix */
		else if (i % 2 && !strstr(b, "ttt_uptime_seconds "))
			r->bad++;
		json_decref(j);
		free(resp);
	}
	return NULL;
}

static void test_publish_while_serving(void **state)
{
	(void)state;
	struct httpd_auth none = {0};
	struct httpd *h = start(&none);
	publish(h, "{\"pad\":\"x\",\"uptime_s\":0}", NULL);
	struct racer r = {.h = h};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, race_reader, &r), 0);
	for (int i = 0; i < 400; i++) {
		size_t n = 1 + (size_t)(i * 7919) % 60000;
		char *pad = malloc(n + 1);
		assert_non_null(pad);
		memset(pad, 'x', n);
		pad[n] = 0;
		struct httpd_docs d = {.status = json_pack("{s:s,s:i}", "pad",
							   pad, "uptime_s", i)};
		free(pad);
		assert_non_null(d.status);
		httpd_publish(h, &d);
		usleep(500);
	}
	pthread_join(t, NULL);
	assert_int_equal(r.bad, 0);
	httpd_stop(h);
}

/* A client that asked for a large document and reads nothing pins its
 * snapshot but holds up no one: other clients are answered from newer
 * snapshots, and publishing goes on (the loop's side never waits). Its
 * document, read at last, is still the whole old one. */
static void test_stuck_reader(void **state)
{
	(void)state;
	struct httpd_auth none = {0};
	struct httpd *h = start(&none);
	size_t n = 4 << 20;
	char *pad = malloc(n + 1);
	assert_non_null(pad);
	memset(pad, 'y', n);
	pad[n] = 0;
	struct httpd_docs d = {
	    .status = json_pack("{s:s,s:i}", "pad", pad, "uptime_s", 1)};
	free(pad);
	httpd_publish(h, &d);
	struct sockaddr_in a = lo_any();
	a.sin_port = htons(httpd_port(h));
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	const char q[] = "GET /status.json HTTP/1.0\r\n\r\n";
	assert_int_equal(write(fd, q, sizeof(q) - 1), (ssize_t)sizeof(q) - 1);
	usleep(100000); /* its response is under way, stuck on our window */
	for (int i = 2; i < 200; i++)
		publish(h, "{\"uptime_s\":7}", NULL);
	expect(h, "GET", "/metrics", NULL, 200, "ttt_uptime_seconds 7\n");
	expect(h, "GET", "/status.json", NULL, 200, "{\"uptime_s\":7}");
	/* now drain the stuck one: all of the first snapshot */
	size_t got = 0, cap = n + 65536;
	char *all = malloc(cap + 1);
	assert_non_null(all);
	ssize_t r;
	while (got < cap && (r = read(fd, all + got, cap - got)) > 0)
		got += (size_t)r;
	all[got] = 0;
	close(fd);
	const char *body = body_of(all);
	size_t ys = strspn(body + strlen("{\"pad\":\""), "y");
	free(all);
	assert_int_equal(ys, n);
	httpd_stop(h);
}

/* An IPv6 listener ([::1]:0) answers over IPv6. */
static void test_ipv6(void **state)
{
	(void)state;
	struct sockaddr_in6 a = {.sin6_family = AF_INET6,
				 .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct httpd_auth none = {0};
	struct httpd *h = NULL;
	struct err e;
	int ret = httpd_start(&h, (struct sockaddr *)&a, sizeof(a), &none, &e);
	if (ret == -EADDRNOTAVAIL || ret == -EAFNOSUPPORT) {
		print_message("no IPv6 loopback here: %s\n", e.msg);
		skip();
	}
	assert_int_equal(ret, 0);
	publish(h, "{\"role\":\"client\"}", NULL);
	a.sin6_port = htons(httpd_port(h));
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	const char q[] = "GET /status.json HTTP/1.0\r\n\r\n";
	assert_int_equal(write(fd, q, sizeof(q) - 1), (ssize_t)sizeof(q) - 1);
	char buf[4096];
	size_t len = 0;
	ssize_t r;
	while ((r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = 0;
	close(fd);
	assert_int_equal(status_of(buf), 200);
	assert_non_null(strstr(buf, "{\"role\":\"client\"}"));
	httpd_stop(h);
}

static void test_bind_error(void **state)
{
	(void)state;
	struct httpd_auth none = {0};
	struct httpd *h = start(&none);
	struct sockaddr_in a = lo_any();
	a.sin_port = htons(httpd_port(h));
	struct httpd *h2 = NULL;
	struct err e;
	/* SO_REUSEADDR does not allow two listeners on one port */
	int ret = httpd_start(&h2, (struct sockaddr *)&a, sizeof(a), &none, &e);
	assert_int_equal(ret, -EADDRINUSE);
	assert_non_null(strstr(e.msg, "cannot listen: Address already in use"));
	assert_non_null(strstr(e.msg, "127.0.0.1:"));
	assert_null(h2);
	httpd_stop(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_routes_and_snapshots),
	    cmocka_unit_test(test_token),
	    cmocka_unit_test(test_basic_auth),
	    cmocka_unit_test(test_publish_while_serving),
	    cmocka_unit_test(test_stuck_reader),
	    cmocka_unit_test(test_ipv6),
	    cmocka_unit_test(test_bind_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
