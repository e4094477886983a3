/*
 * The monitoring HTTP server: libmicrohttpd with its own polling thread,
 * serving snapshots the event loop publishes (see httpd.h for why). All
 * state shared with the loop is `cur` (under `lock`) and the snapshots'
 * reference counts; everything else belongs to the HTTP thread.
 */
#include "ctl/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "ctl/metrics.h"
#include "www_index.h" /* generated from core/ctl/www/index.html */

#define HTTP_MAX_CONNECTIONS 32
#define HTTP_PER_IP_LIMIT    8
#define HTTP_TIMEOUT_S	     15

/* One published snapshot; freed when the last user lets go. The texts are
 * rendered from the tree on first use, by the HTTP thread alone (MHD runs
 * every callback in its one polling thread), so they need no lock. */
struct snapshot {
	atomic_int refs;
	struct httpd_docs d;
	char *status, *metrics;
	size_t status_len, metrics_len;
};

struct httpd {
	struct MHD_Daemon *mhd;
	pthread_mutex_t lock;
	struct snapshot *cur; /* under lock */
	char *token;	      /* NULL = no token */
	char *user, *password;
	atomic_uint_fast64_t requests, unauthorized;
	atomic_int_fast64_t history_asked; /* CLOCK_MONOTONIC s; 0 = never */
	uint16_t port;
};

uint16_t httpd_port(const struct httpd *h)
{
	return h->port;
}

static int64_t mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

bool httpd_history_wanted(struct httpd *h, unsigned within_s)
{
	int64_t t = atomic_load(&h->history_asked);
	return t && mono_s() - t <= (int64_t)within_s;
}

static void snap_unref(struct snapshot *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
		json_decref(s->d.status);
		free(s->d.history);
		free(s->status);
		free(s->metrics);
		free(s);
	}
}

static void snap_unref_cb(void *cls)
{
	snap_unref(cls);
}

/* The current snapshot with a reference taken, or NULL before the first. */
static struct snapshot *snap_get(struct httpd *h)
{
	pthread_mutex_lock(&h->lock);
	struct snapshot *s = h->cur;
	if (s)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&h->lock);
	return s;
}

void httpd_publish(struct httpd *h, const struct httpd_docs *docs)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	if (!s) {
		json_decref(docs->status);
		free(docs->history);
		return; /* the previous snapshot stays served */
	}
	atomic_init(&s->refs, 1);
	s->d = *docs;
	pthread_mutex_lock(&h->lock);
	struct snapshot *old = h->cur;
	h->cur = s;
	pthread_mutex_unlock(&h->lock);
	snap_unref(old);
}

void httpd_get_stats(struct httpd *h, struct httpd_stats *st)
{
	st->requests = atomic_load(&h->requests);
	st->unauthorized = atomic_load(&h->unauthorized);
}

/* Equal strings, in time independent of where they differ. */
static bool secret_eq(const char *given, const char *want)
{
	size_t n = strlen(want);
	return given && strlen(given) == n &&
	       sodium_memcmp(given, want, n) == 0;
}

static bool authorized(struct httpd *h, struct MHD_Connection *c)
{
	if (!h->token && !h->user)
		return true;
	if (h->token) {
		const char *a = MHD_lookup_connection_value(
		    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
		if (a && strncasecmp(a, "Bearer ", 7) == 0 &&
		    secret_eq(a + 7, h->token))
			return true;
		const char *q = MHD_lookup_connection_value(
		    c, MHD_GET_ARGUMENT_KIND, "token");
		if (secret_eq(q, h->token))
			return true;
	}
	if (h->user) {
		char *pass = NULL;
		char *u = MHD_basic_auth_get_username_password(c, &pass);
		bool ok = secret_eq(u, h->user) && secret_eq(pass, h->password);
		MHD_free(u);
		MHD_free(pass);
		if (ok)
			return true;
	}
	return false;
}

static void common_headers(struct MHD_Response *r, const char *type)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status,
				  const char *text, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	common_headers(r, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_unauthorized(struct httpd *h,
					  struct MHD_Connection *c)
{
	static const char body[] = "401 unauthorized\n";
	atomic_fetch_add(&h->unauthorized, 1);
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	common_headers(r, "text/plain; charset=utf-8");
	enum MHD_Result ret;
	if (h->user) {
		ret = MHD_queue_basic_auth_fail_response(c, "tuntuntun", r);
	} else {
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"tuntuntun\"");
		ret = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, r);
	}
	MHD_destroy_response(r);
	return ret;
}

enum doc { DOC_STATUS, DOC_METRICS, DOC_HISTORY };

/* A snapshot document; the response holds a reference until it is sent. */
static enum MHD_Result reply_snapshot(struct httpd *h, struct MHD_Connection *c,
				      enum doc which)
{
	if (which == DOC_HISTORY)
		atomic_store(&h->history_asked, mono_s());
	struct snapshot *s = snap_get(h);
	const char *buf = NULL;
	size_t len = 0;
	if (s && which == DOC_HISTORY) {
		buf = s->d.history;
		len = s->d.history_len;
	} else if (s && which == DOC_METRICS) {
		if (!s->metrics && s->d.status)
			s->metrics =
			    metrics_render(s->d.status, &s->metrics_len);
		buf = s->metrics;
		len = s->metrics_len;
	} else if (s) {
		if (!s->status && s->d.status) {
			s->status = json_dumps(s->d.status, JSON_COMPACT);
			s->status_len = s->status ? strlen(s->status) : 0;
		}
		buf = s->status;
		len = s->status_len;
	}
	if (!buf && s && which == DOC_HISTORY) {
		/* Not rendered into this snapshot: it will be into the next
		 * one. A normal answer, so a browser logs no failed load. */
		static const char pending[] =
		    "{\"schema_version\":1,"
		    "\"pending\":true,\"sessions\":[]}";
		snap_unref(s);
		struct MHD_Response *r = MHD_create_response_from_buffer(
		    sizeof(pending) - 1, (void *)pending,
		    MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		common_headers(r, "application/json; charset=utf-8");
		enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (!buf) {
		snap_unref(s);
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "503 not rendered yet; try again in a "
				  "second\n",
				  NULL);
	}
	struct MHD_Response *r =
	    MHD_create_response_from_buffer_with_free_callback_cls(
		len, (void *)buf, snap_unref_cb, s);
	if (!r) {
		snap_unref(s);
		return MHD_NO;
	}
	common_headers(r, which == DOC_METRICS
			      ? METRICS_CONTENT_TYPE
			      : "application/json; charset=utf-8");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_page(struct MHD_Connection *c)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    sizeof(www_index_html), (void *)www_index_html,
	    MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	common_headers(r, "text/html; charset=utf-8");
	/* Everything is inline and data comes from this origin only: the
	 * page can reach nothing else, whatever a status string holds. */
	MHD_add_response_header(
	    r, "Content-Security-Policy",
	    "default-src 'none'; script-src 'unsafe-inline'; style-src "
	    "'unsafe-inline'; connect-src 'self'; img-src data:; base-uri "
	    "'none'; form-action 'none'; frame-ancestors 'none'");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct httpd *h = cls;
	/* Bodies are not read: anything with one is refused below. */
	if (*upload_data_size)
		return MHD_NO;
	atomic_fetch_add(&h->requests, 1);
	if (!authorized(h, c))
		return reply_unauthorized(h, c);
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET) ||
		   !strcmp(method, MHD_HTTP_METHOD_HEAD);
	bool known = !strcmp(url, "/") || !strcmp(url, "/index.html") ||
		     !strcmp(url, "/metrics") || !strcmp(url, "/status.json") ||
		     !strcmp(url, "/history.json");
	if (!known)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "404 not found\n",
				  NULL);
	if (!get)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "405 only GET and HEAD\n", "GET, HEAD");
	if (!strcmp(url, "/metrics"))
		return reply_snapshot(h, c, DOC_METRICS);
	if (!strcmp(url, "/status.json"))
		return reply_snapshot(h, c, DOC_STATUS);
	if (!strcmp(url, "/history.json"))
		return reply_snapshot(h, c, DOC_HISTORY);
	return reply_page(c);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	log_warn("http", "%s", buf);
}

static void addr_str(const struct sockaddr *a, char *buf, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)a;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, n, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)a;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, n, "%s:%u", ip, ntohs(s4->sin_port));
	}
}

static int listen_socket(const struct sockaddr *addr, socklen_t len,
			 const char *where, struct err *e)
{
	int one = 1;
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, -errno, "http %s: socket: %s", where,
			       strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, addr, len) < 0 || listen(fd, 16) < 0) {
		int ret = -errno;
		err_set(e, ret, "http %s: cannot listen: %s", where,
			strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

static char *dup_or_null(const char *s, int *failed)
{
	if (!s || !*s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*failed = 1;
	return d;
}

static void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	snap_unref(h->cur);
	if (h->token)
		sodium_memzero(h->token, strlen(h->token));
	if (h->password)
		sodium_memzero(h->password, strlen(h->password));
	free(h->token);
	free(h->user);
	free(h->password);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

int httpd_start(struct httpd **out, const struct sockaddr *addr,
		socklen_t addr_len, const struct httpd_auth *auth,
		struct err *e)
{
	char where[80];
	int failed = 0;
	sigset_t all, old;
	addr_str(addr, where, sizeof(where));
	struct httpd *h = calloc(1, sizeof(*h));
	if (!h)
		return err_set(e, -ENOMEM, "out of memory");
	pthread_mutex_init(&h->lock, NULL);
	h->token = dup_or_null(auth->token, &failed);
	h->user = dup_or_null(auth->user, &failed);
	h->password = dup_or_null(auth->password, &failed);
	if (failed || (h->user && !h->password)) {
		httpd_free(h);
		return err_set(e, -ENOMEM, "out of memory");
	}
	int fd = listen_socket(addr, addr_len, where, e);
	if (fd < 0) {
		httpd_free(h);
		return fd;
	}
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0) {
		addr_str((struct sockaddr *)&bound, where, sizeof(where));
		h->port = ntohs(bound.ss_family == AF_INET6
				    ? ((struct sockaddr_in6 *)&bound)->sin6_port
				    : ((struct sockaddr_in *)&bound)->sin_port);
	}
	/* The server thread inherits this mask: no signal ever lands there. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	h->mhd = MHD_start_daemon(
	    MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
		(addr->sa_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	    0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
	    on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_PER_IP_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
	    MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!h->mhd) {
		close(fd);
		httpd_free(h);
		return err_set(e, -EIO,
			       "http %s: libmicrohttpd did not start (see "
			       "the log line before)",
			       where);
	}
	log_notice("http", "listening on http://%s/%s", where,
		   h->token || h->user ? " (credentials required)" : "");
	*out = h;
	return 0;
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->mhd); /* joins the thread, closes the socket */
	httpd_free(h);
}
