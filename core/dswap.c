/*
 * Client: the downstream scheduler swap. The server schedules what it sends
 * to us, so a downstream choice (`tuntunctl scheduler set downstream`, a
 * changed `scheduler.downstream` on SIGHUP, the YAML's options at session
 * start) is a request carried to it in a sched-set message, retried every
 * 200 ms until it answers (at most 15 times), and its verdict kept for
 * `status`, where tuntunctl waits for it:
 *
 *   NONE --request--> PENDING --reply ok-----> OK       (cfg updated)
 *                        |    --reply error--> REFUSED  (error kept)
 *                        |    --15 retries---> TIMEOUT
 *                        +-- no session yet: waits, sent once established
 *
 * A new request from any state starts over with the next request number;
 * a reply for an older number is ignored.
 */
#include <string.h>

#include "base/log.h"
#include "daemon.h"
#include "peerctl.h"

#define DSWAP_RETRY_S	  0.2
#define DSWAP_MAX_RETRIES 15

const char *dswap_state_name(enum dswap_state st)
{
	switch (st) {
	case DSWAP_PENDING:
		return "pending";
	case DSWAP_OK:
		return "ok";
	case DSWAP_REFUSED:
		return "refused";
	case DSWAP_TIMEOUT:
		return "timeout";
	case DSWAP_NONE:
		break;
	}
	return "";
}

static void dswap_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	struct dswap *ds = &d->dswap;
	if (ds->state != DSWAP_PENDING) {
		ev_timer_stop(loop, w);
		return;
	}
	if (++ds->tries > DSWAP_MAX_RETRIES) {
		ds->state = DSWAP_TIMEOUT;
		snprintf(ds->error, sizeof(ds->error),
			 "the server did not answer");
		log_warn("sched",
			 "downstream swap to %s: no answer from the "
			 "server",
			 ds->plugin);
		ev_timer_stop(loop, w);
		return;
	}
	peerctl_send_sched_set(d->sess, ds->req, ds->plugin, ds->opts,
			       ds->n_opts, now_ns(d));
}

/* Sends (or re-sends) the pending request and arms its retry timer. */
static void dswap_send(struct daemon *d)
{
	struct dswap *ds = &d->dswap;
	ds->tries = 0;
	ev_timer_stop(d->loop, &ds->timer);
	ev_timer_init(&ds->timer, dswap_timer_cb, DSWAP_RETRY_S, DSWAP_RETRY_S);
	ds->timer.data = d;
	ev_timer_start(d->loop, &ds->timer);
	/* A send failure is not final: the timer retries, and the verdict
	 * (ok, refused or timeout) lands in status for tuntunctl to wait on.
	 * The config keeps the old choice until the server says ok. */
	if (peerctl_send_sched_set(d->sess, ds->req, ds->plugin, ds->opts,
				   ds->n_opts, now_ns(d)) < 0)
		log_info("sched",
			 "downstream swap to %s: first send failed, "
			 "retrying",
			 ds->plugin);
}

uint64_t dswap_request(struct daemon *d, const char *plugin,
		       const struct cfg_opt *opts, uint32_t n)
{
	struct dswap *ds = &d->dswap;
	if (n > CFG_MAX_OPTS)
		n = CFG_MAX_OPTS;
	ds->req++;
	snprintf(ds->plugin, sizeof(ds->plugin), "%s", plugin);
	memcpy(ds->opts, opts, sizeof(opts[0]) * n);
	ds->n_opts = n;
	ds->state = DSWAP_PENDING;
	ds->error[0] = 0;
	if (d->sess->state == SESS_ESTABLISHED)
		dswap_send(d);
	else
		log_info("sched",
			 "downstream %s goes to the server once the "
			 "session is up",
			 plugin);
	return ds->req;
}

void dswap_on_reply(struct session *s, json_t *msg)
{
	struct daemon *d = s->d;
	struct dswap *ds = &d->dswap;
	json_int_t req = json_integer_value(json_object_get(msg, "req"));
	if ((uint64_t)req != ds->req || ds->state != DSWAP_PENDING)
		return;
	ev_timer_stop(d->loop, &ds->timer);
	if (json_is_true(json_object_get(msg, "ok"))) {
		ds->state = DSWAP_OK;
		ds->error[0] = 0;
		/* Only now is it the downstream choice: a later session's
		 * HELLO asks the server for it again. */
		config_sched_set(&d->cfg.sched[TTT_DIR_DOWNSTREAM], ds->plugin,
				 ds->opts, ds->n_opts);
		log_notice("sched", "server switched downstream to %s",
			   ds->plugin);
	} else {
		const char *err =
		    json_string_value(json_object_get(msg, "error"));
		ds->state = DSWAP_REFUSED;
		snprintf(ds->error, sizeof(ds->error), "%s",
			 err ? err : "refused");
		/* The server's words: escaped before they reach our log. */
		char esc[4 * sizeof(ds->error) + 4];
		log_warn("sched", "server refused downstream %s: %s",
			 ds->plugin, log_esc(ds->error, esc, sizeof(esc)));
	}
}

void dswap_reload(struct daemon *d, const struct cfg_sched *ns)
{
	if (!d->client ||
	    config_sched_equal(ns, &d->cfg.sched[TTT_DIR_DOWNSTREAM]))
		return;
	log_notice("config", "reload: asking the server for downstream %s",
		   ns->plugin);
	dswap_request(d, ns->plugin, ns->opts, ns->n_opts);
}

void dswap_session_established(struct session *s, uint64_t now)
{
	struct daemon *d = s->d;
	const struct cfg_sched *ds = &d->cfg.sched[TTT_DIR_DOWNSTREAM];
	peerctl_send_link_info(s, now);
	if (d->dswap.state == DSWAP_PENDING)
		dswap_send(d);
	else if (ds->n_opts > 0)
		dswap_request(d, ds->plugin, ds->opts, ds->n_opts);
}

json_t *dswap_status_json(struct daemon *d)
{
	const struct dswap *ds = &d->dswap;
	if (ds->state == DSWAP_NONE)
		return NULL;
	return json_pack("{s:I,s:s,s:s,s:s}", "req", (json_int_t)ds->req,
			 "plugin", ds->plugin, "state",
			 dswap_state_name(ds->state), "error", ds->error);
}

void dswap_stop(struct daemon *d)
{
	ev_timer_stop(d->loop, &d->dswap.timer);
}
