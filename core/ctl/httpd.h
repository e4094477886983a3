/*
 * The monitoring HTTP listener (libmicrohttpd in its own thread).
 *
 * Why a thread with snapshots: the event loop never waits on a browser or a
 * scraper. Once a second the loop builds the status document (a jansson
 * tree nothing else references) and publishes it (httpd_publish: a pointer
 * swap under a mutex). The HTTP thread only ever reads a published
 * snapshot: it serialises the JSON and renders the metrics text from it the
 * first time either is asked for, and pins the snapshot with a reference
 * count for as long as a response sends it. So it never touches daemon
 * state, and the loop never waits for a send nor pays for a rendering.
 * See docs/monitoring.md for the choice against MHD's external-select mode.
 *
 * Routes: GET /metrics, GET /status.json, GET /history.json (the last
 * minutes per link, for the page's graphs: rendered only while someone
 * asks, see httpd_history_wanted), GET / (the live page, compiled in from
 * core/ctl/www/index.html). With credentials configured, every route
 * needs them: `Authorization: Bearer TOKEN`, `?token=TOKEN`, or basic auth.
 */
#ifndef TTT_HTTPD_H
#define TTT_HTTPD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/err.h"

struct httpd;

/* Credentials; NULL or "" = not used. Copied by httpd_start. */
struct httpd_auth {
	const char *token;
	const char *user;
	const char *password;
};

/* Request counters (read from any thread). */
struct httpd_stats {
	uint64_t requests;     /* answered, any status */
	uint64_t unauthorized; /* answered 401 */
};

/*
 * Binds addr (and listens) in the calling thread, so errors name the
 * address and errno, then starts the server thread with every signal
 * blocked (signals stay the event loop's). Until the first httpd_publish,
 * data routes answer 503.
 */
int httpd_start(struct httpd **out, const struct sockaddr *addr,
		socklen_t addr_len, const struct httpd_auth *auth,
		struct err *e);

/* One published snapshot: the status tree (no reference to it may remain
 * with the caller) and the history text (malloc'd, or NULL). */
struct httpd_docs {
	json_t *status;
	char *history;
	size_t history_len;
};

/*
 * Loop thread: makes `docs` the snapshot served from now on. Takes
 * ownership of both (freed once no response uses them), also on failure.
 * Never blocks beyond a pointer swap.
 */
void httpd_publish(struct httpd *h, const struct httpd_docs *docs);

/*
 * Loop thread: whether /history.json was asked for in the last
 * `within_s` seconds, i.e. whether the next snapshot should carry it.
 * Until one does, /history.json answers {"pending":true} and the page
 * asks again a second later.
 */
bool httpd_history_wanted(struct httpd *h, unsigned within_s);

void httpd_get_stats(struct httpd *h, struct httpd_stats *st);

/* The port it listens on (the bound one, when asked for port 0). */
uint16_t httpd_port(const struct httpd *h);

/* Stops the thread (in-flight responses finish or are cut), frees all. */
void httpd_stop(struct httpd *h);

#endif
