/*
 * Name resolution off the event loop: getaddrinfo() can block for seconds
 * (a dead DNS server), which must never stall the tunnel. One worker
 * thread per resolver does the look-ups; its answer reaches the loop
 * through an ev_async, and the callback runs on the loop thread.
 *
 * Lifetime: resolver_stop() may be called while a look-up is in flight;
 * the worker then finishes on its own, discards the answer and frees the
 * shared state (nothing waits for it).
 */
#ifndef TTT_RESOLVE_H
#define TTT_RESOLVE_H

#include <ev.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/err.h"

struct resolver;

/* On the loop thread. err is 0 with *ss/len set (the first address of the
 * wanted family, or of any family when AF_UNSPEC), or a negative
 * EAI_* code (gai_strerror names it). */
typedef void (*resolver_cb)(void *arg, int err,
			    const struct sockaddr_storage *ss, socklen_t len);

int resolver_start(struct resolver **out, struct ev_loop *loop, resolver_cb cb,
		   void *arg, struct err *e);
/* Starts a look-up of host:port; -EBUSY while one is in flight. */
int resolver_query(struct resolver *r, const char *host, uint16_t port,
		   int family);
/* Whether a look-up is in flight. */
int resolver_busy(const struct resolver *r);
void resolver_stop(struct resolver *r);

#endif
