/* Host names resolved by a worker thread, answers delivered by ev_async
 * (see resolve.h). */
#include "os/resolve.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct resolver {
	struct ev_loop *loop;
	ev_async async;
	resolver_cb cb;
	void *arg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;     /* loop side + worker; the last one frees */
	bool stopped; /* loop side is gone: answer nobody */
	/* request (loop -> worker) */
	bool pending, busy;
	char host[256];
	char port[8];
	int family;
	/* answer (worker -> loop) */
	bool answered;
	int err;
	struct sockaddr_storage ss;
	socklen_t len;
};

static void unref(struct resolver *r)
{
	pthread_mutex_lock(&r->mu);
	bool last = --r->refs == 0;
	pthread_mutex_unlock(&r->mu);
	if (last) {
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->cv);
		free(r);
	}
}

static void *worker(void *p)
{
	struct resolver *r = p;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->pending && !r->stopped)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->stopped)
			break;
		char host[256], port[8];
		int family = r->family;
		memcpy(host, r->host, sizeof(host));
		memcpy(port, r->port, sizeof(port));
		r->pending = false;
		pthread_mutex_unlock(&r->mu);

		struct addrinfo hints = {.ai_family = family,
					 .ai_socktype = SOCK_DGRAM,
					 .ai_flags =
					     AI_ADDRCONFIG | AI_NUMERICSERV},
				*res = NULL;
		int err = getaddrinfo(host, port, &hints, &res);
		struct sockaddr_storage ss;
		socklen_t len = 0;
		memset(&ss, 0, sizeof(ss));
		if (err == 0 && res && res->ai_addrlen <= sizeof(ss)) {
			memcpy(&ss, res->ai_addr, res->ai_addrlen);
			len = res->ai_addrlen;
		} else if (err == 0) {
			err = EAI_FAIL;
		}
		if (res)
			freeaddrinfo(res);

		pthread_mutex_lock(&r->mu);
		if (r->stopped)
			break;
		r->err = err ? -abs(err) : 0;
		r->ss = ss;
		r->len = len;
		r->answered = true;
		ev_async_send(r->loop, &r->async);
	}
	pthread_mutex_unlock(&r->mu);
	unref(r);
	return NULL;
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct resolver *r = w->data;
	pthread_mutex_lock(&r->mu);
	bool answered = r->answered;
	int err = r->err;
	struct sockaddr_storage ss = r->ss;
	socklen_t len = r->len;
	r->answered = false;
	r->busy = r->pending; /* a query asked meanwhile is still due */
	pthread_mutex_unlock(&r->mu);
	if (answered)
		r->cb(r->arg, err, &ss, len);
}

int resolver_start(struct resolver **out, struct ev_loop *loop, resolver_cb cb,
		   void *arg, struct err *e)
{
	struct resolver *r = calloc(1, sizeof(*r));
	int ret;
	if (!r)
		return err_set(e, -ENOMEM, "out of memory");
	r->loop = loop;
	r->cb = cb;
	r->arg = arg;
	r->refs = 2;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	ev_async_init(&r->async, async_cb);
	r->async.data = r;
	ev_async_start(loop, &r->async);
	ret = pthread_create(&r->thread, NULL, worker, r);
	if (ret != 0) {
		ev_async_stop(loop, &r->async);
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->cv);
		free(r);
		return err_set(e, -ret, "resolver thread: %s", strerror(ret));
	}
	pthread_detach(r->thread);
	*out = r;
	return 0;
}

int resolver_query(struct resolver *r, const char *host, uint16_t port,
		   int family)
{
	if (strlen(host) >= sizeof(r->host))
		return -ENAMETOOLONG;
	pthread_mutex_lock(&r->mu);
	if (r->busy) {
		pthread_mutex_unlock(&r->mu);
		return -EBUSY;
	}
	snprintf(r->host, sizeof(r->host), "%s", host);
	snprintf(r->port, sizeof(r->port), "%u", (unsigned)port);
	r->family = family;
	r->pending = true;
	r->busy = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

int resolver_busy(const struct resolver *r)
{
	return r->busy;
}

void resolver_stop(struct resolver *r)
{
	if (!r)
		return;
	ev_async_stop(r->loop, &r->async);
	pthread_mutex_lock(&r->mu);
	r->stopped = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	unref(r);
}
