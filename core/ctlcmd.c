/*
 * The daemon's control verbs (one table drives dispatch and "help") and the
 * status document `tuntunctl status` prints. Handlers validate every member
 * of a request and answer errors with a message; none can stop the daemon.
 */
#include <errno.h>
#include <string.h>

#include "ctl/control.h"
#include "ctl/httpd.h"
#include "daemon.h"
#include "datapath.h"
#include "base/log.h"
#include "peerctl.h"
#include "link/retx.h"
#include "reorder.h"
#include "sched/sched_host.h"

/* From the top-level VERSION file, through the Makefile. */
#ifndef TTT_VERSION
#error "TTT_VERSION is not defined: build with make, or pass -DTTT_VERSION"
#endif
/* docs/monitoring.md: bumped when a field changes meaning or goes away;
 * new fields alone do not bump it (readers ignore what they do not know). */
#define TTT_STATUS_SCHEMA 1

static const char *crypto_name(int mode)
{
	return mode == CRYPTO_ENCRYPT ? "encrypt"
	       : mode == CRYPTO_AUTH  ? "auth"
				      : "none";
}

/* Every RTT sample since the link started, for /metrics' histogram:
 * "counts"[i] samples <= "le_ms"[i] and above the bound before; the last
 * count (one more than the bounds) is above every bound. */
static json_t *rtt_hist_json(const struct probe_link *pl)
{
	json_t *le = json_array(), *counts = json_array();
	for (size_t i = 0; i < PROBE_RTT_BUCKETS; i++)
		json_array_append_new(
		    le, json_real(probe_rtt_bucket_us[i] / 1000.0));
	for (size_t i = 0; i <= PROBE_RTT_BUCKETS; i++)
		json_array_append_new(
		    counts, json_integer((json_int_t)pl->rtt_hist[i]));
	return json_pack("{s:o,s:o,s:f,s:I}", "le_ms", le, "counts", counts,
			 "sum_ms", pl->rtt_sum_us / 1000.0, "count",
			 (json_int_t)pl->rtt_samples);
}

static json_t *path_json(struct session *s, struct path *p)
{
	char peer[80] = "-";
	if (p->peer_len)
		sockaddr_str(&p->peer, peer, sizeof(peer));
	int st = s->n_paths > p->id ? s->views[p->id].state : TTT_LINK_DOWN;
	json_t *j = json_pack(
	    "{s:s,s:i,s:s,s:s,s:f,s:f,s:f,s:f,s:i,s:I,s:I,s:I,s:I,s:f,s:f,"
	    "s:I,s:b,s:b,s:I,s:I,s:I,s:b}",
	    "name", p->name, "id", (int)p->id, "state", link_state_name(st),
	    "peer", peer, "srtt_ms", p->probe.srtt_us / 1000.0, "rttvar_ms",
	    p->probe.rttvar_us / 1000.0, "jitter_ms",
	    p->probe.jitter_us / 1000.0, "loss_pct",
	    p->probe.loss_ppm / 10000.0, "mtu", (int)p->link_mtu, "tx_packets",
	    (json_int_t)p->tx_packets, "tx_bytes", (json_int_t)p->tx_bytes,
	    "rx_packets", (json_int_t)p->rx_packets, "rx_bytes",
	    (json_int_t)p->rx_bytes, "tx_bps", p->tx_bps, "rx_bps", p->rx_bps,
	    "errors", (json_int_t)(p->tx_errors + p->rx_errors), "metered",
	    p->metered, "backup", p->backup, "quota_bytes",
	    (json_int_t)p->quota_bytes, "quota_used_bytes",
	    (json_int_t)p->quota_used_bytes, "rate_bps",
	    (json_int_t)p->rate_bps, "admin_down", p->admin_down);
	json_object_set_new(
	    j, "probe",
	    json_pack("{s:I,s:I,s:I,s:f}", "sent",
		      (json_int_t)p->probe.probes_sent, "replies",
		      (json_int_t)p->probe.replies, "lost",
		      (json_int_t)p->probe.lost, "last_heard_ago_s",
		      p->probe.last_heard_ns
			  ? (now_ns(s->d) - p->probe.last_heard_ns) / 1e9
			  : -1.0));
	json_t *pj = json_object_get(j, "probe");
	json_object_set_new(pj, "suspects",
			    json_integer((json_int_t)p->probe.suspects));
	json_object_set_new(
	    pj, "suspects_cleared",
	    json_integer((json_int_t)p->probe.suspects_cleared));
	json_object_set_new(pj, "early_probes",
			    json_integer((json_int_t)p->probe.early_probes));
	const struct lm *m = &p->lm;
	json_t *mj = json_pack(
	    "{s:s,s:I,s:I,s:I,s:f,s:f,s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:b}",
	    "phase", m->phase == LM_STARTUP ? "startup" : "steady",
	    "capacity_bps", (json_int_t)m->capacity_bps, "pacing_bps",
	    (json_int_t)m->pacing_bps, "delivery_bps",
	    (json_int_t)m->delivery_bps, "base_rtt_ms",
	    p->probe.min_rtt_us / 1000.0, "queue_delay_ms",
	    m->qdelay_us / 1000.0, "inflight_bytes",
	    (json_int_t)m->inflight_bytes, "loss_pct", m->loss_ppm / 10000.0,
	    "delivered_packets", (json_int_t)m->delivered_pkts, "lost_packets",
	    (json_int_t)m->lost_pkts, "sent_packets", (json_int_t)m->sent_pkts,
	    "reports", (json_int_t)m->reports, "backoffs",
	    (json_int_t)m->backoffs, "stalls", (json_int_t)m->stalls, "stalled",
	    p->fb_stalled);
	/* loss classification (docs/loss-recovery.md) */
	json_object_set_new(mj, "loss_cuts",
			    json_integer((json_int_t)m->loss_cuts));
	json_object_set_new(mj, "random_loss_rounds",
			    json_integer((json_int_t)m->loss_ignored));
	json_object_set_new(mj, "round_loss_pct",
			    json_real(m->round_loss_ppm / 10000.0));
	/* how STARTUP ended and how often STEADY went back to it */
	json_object_set_new(mj, "startup_full_exits",
			    json_integer((json_int_t)m->startup_full_exits));
	json_object_set_new(mj, "startup_reentries",
			    json_integer((json_int_t)m->startup_reentries));
	json_object_set_new(j, "model", mj);
	/* the headline figures also flat, for scripts and the table */
	json_object_set_new(j, "capacity_bps",
			    json_integer((json_int_t)m->capacity_bps));
	json_object_set_new(j, "pacing_bps",
			    json_integer((json_int_t)m->pacing_bps));
	json_object_set_new(j, "base_rtt_ms",
			    json_real(p->probe.min_rtt_us / 1000.0));
	json_object_set_new(j, "queue_delay_ms",
			    json_real(m->qdelay_us / 1000.0));
	json_object_set_new(j, "inflight_bytes",
			    json_integer((json_int_t)m->inflight_bytes));
	/* loss recovery (docs/loss-recovery.md): receiver-side figures are
	 * about what arrived on this link, sender-side about what was sent */
	json_t *rj = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			       "losses", (json_int_t)p->rec.losses,
			       "nacks_sent", (json_int_t)p->rec.nacks_sent,
			       "nacks_received", (json_int_t)p->rec.nacks_rx,
			       "recovered", (json_int_t)p->rec.recovered,
			       "recovered_late", (json_int_t)p->rec.late,
			       "duplicates", (json_int_t)p->rec.dup,
			       "failover_resent", (json_int_t)p->rec.failover,
			       "retx_packets", (json_int_t)p->rec.retx_pkts,
			       "retx_bytes", (json_int_t)p->rec.retx_bytes);
	json_object_set_new(rj, "rx_data_packets",
			    json_integer((json_int_t)p->fbrx.rx_packets));
	json_object_set_new(j, "recovery", rj);
	json_object_set_new(j, "rtt_hist", rtt_hist_json(&p->probe));
	json_object_set_new(j, "pmtu", json_integer(pmtu_current(&p->pmtu)));
	json_object_set_new(j, "inner_mtu", json_integer(path_inner_mtu(s, p)));
	return j;
}

static json_t *reorder_json(struct session *s)
{
	if (!s->reorder)
		return json_pack("{s:b}", "enabled", 0);
	struct reorder_stats st;
	reorder_get_stats(s->reorder, &st);
	json_t *r = json_pack(
	    "{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:i}", "enabled", 1,
	    "delivered", (json_int_t)st.delivered, "in_order",
	    (json_int_t)st.in_order, "held", (json_int_t)st.held, "reordered",
	    (json_int_t)st.reordered, "late", (json_int_t)st.late, "duplicates",
	    (json_int_t)st.duplicates, "lost", (json_int_t)st.lost, "expired",
	    (json_int_t)st.expired, "hold_ms", st.hold_ns / 1e6, "held_now",
	    (int)st.held_now);
	json_object_set_new(r, "wait_ms", json_real(st.wait_ns / 1e6));
	json_object_set_new(r, "flushed", json_integer((json_int_t)st.flushed));
	json_object_set_new(r, "resyncs", json_integer((json_int_t)st.resyncs));
	json_object_set_new(r, "recovery_waits",
			    json_integer((json_int_t)st.recovery_waits));
	json_object_set_new(r, "late_delivered",
			    json_integer((json_int_t)s->rx_late_delivered));
	json_object_set_new(r, "lagging_waits",
			    json_integer((json_int_t)s->lag_waits));
	return r;
}

/* The daemon-owned queue (the flow queue or the FIFO): same keys either
 * way, plus "flow_queue" and the fattest-flow drops for the former. */
static json_t *queue_json(const struct session *s)
{
	if (s->fq_on) {
		const struct fq *q = &s->fq;
		return json_pack(
		    "{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f}",
		    "flow_queue", 1, "packets", (json_int_t)q->n, "bytes",
		    (json_int_t)q->bytes, "enqueued", (json_int_t)q->enqueued,
		    "dropped_full",
		    (json_int_t)(q->drops_full + q->drops_overflow),
		    "dropped_fattest", (json_int_t)q->drops_overflow,
		    "dropped_aqm", (json_int_t)q->drops_codel, "ecn_marked",
		    (json_int_t)q->ecn_marks, "max_sojourn_ms",
		    q->max_sojourn_ns / 1e6, "aqm_target_ms",
		    q->cfg.target_ns / 1e6, "aqm_interval_ms",
		    q->cfg.interval_ns / 1e6);
	}
	const struct pktq *q = &s->q;
	return json_pack(
	    "{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f}", "flow_queue", 0,
	    "packets", (json_int_t)q->n, "bytes", (json_int_t)q->bytes,
	    "enqueued", (json_int_t)q->enqueued, "dropped_full",
	    (json_int_t)q->drops_full, "dropped_aqm",
	    (json_int_t)q->drops_codel, "ecn_marked", (json_int_t)q->ecn_marks,
	    "max_sojourn_ms", q->max_sojourn_ns / 1e6, "aqm_target_ms",
	    q->cfg.target_ns / 1e6, "aqm_interval_ms",
	    q->cfg.interval_ns / 1e6);
}

/* Per traffic class (flow_queue): packets, the delay from the tun to the
 * wire (EWMA and max), drops and marks; duplicates sent and discarded. */
static json_t *classes_json(const struct session *s)
{
	const char *names[2] = {"bulk", "interactive"};
	json_t *j = json_object();
	for (int k = 0; k < 2; k++) {
		json_t *c =
		    json_pack("{s:I,s:I,s:f,s:f,s:I}", "packets",
			      (json_int_t)s->cls[k].packets, "bytes",
			      (json_int_t)s->cls[k].bytes, "delay_ms",
			      s->cls[k].delay_ewma_ns / 1e6, "delay_max_ms",
			      s->cls[k].delay_max_ns / 1e6, "dropped",
			      (json_int_t)s->cls[k].drops);
		json_object_set_new(j, names[k], c);
	}
	json_t *b = json_object_get(j, "bulk");
	if (s->fq_on) {
		json_object_set_new(
		    b, "dropped",
		    json_integer((json_int_t)(s->fq.drops_full +
					      s->fq.drops_overflow +
					      s->fq.drops_codel)));
		json_object_set_new(b, "ecn_marked",
				    json_integer((json_int_t)s->fq.ecn_marks));
	}
	json_object_set_new(j, "duplicates_sent",
			    json_integer((json_int_t)s->dup_sent));
	json_object_set_new(j, "duplicates_discarded",
			    json_integer((json_int_t)s->rx_dup));
	return j;
}

/* The session's retransmission store and what it decided. */
static json_t *recovery_json(struct session *s)
{
	const struct cfg_recovery *rc = &s->d->cfg.recovery;
	if (!s->retx)
		return json_pack("{s:b}", "enabled", 0);
	struct retx_stats st;
	retx_get_stats(s->retx, &st);
	json_t *r = json_pack(
	    "{s:b,s:i,s:i,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "enabled",
	    1, "budget_pct", (int)rc->budget_pct, "store_packets",
	    (int)rc->store_packets, "max_age_ms", retx_max_age(s->retx) / 1e6,
	    "reports", (json_int_t)st.reports, "resent", (json_int_t)st.resent,
	    "resent_bytes", (json_int_t)st.resent_bytes, "duplicate_reports",
	    (json_int_t)st.dup, "pending", (json_int_t)st.pending, "gone",
	    (json_int_t)st.gone, "too_old", (json_int_t)st.too_old, "no_link",
	    (json_int_t)st.no_link, "over_budget", (json_int_t)st.over_budget);
	json_object_set_new(r, "nack_bad",
			    json_integer((json_int_t)s->nack_bad));
	json_object_set_new(r, "dropped",
			    json_integer((json_int_t)s->retx_dropped));
	json_object_set_new(
	    r, "nack_delay_ms",
	    json_real(st.nack_delay_n
			  ? st.nack_delay_sum_ns / 1e6 / (double)st.nack_delay_n
			  : 0.0));
	json_object_set_new(r, "copies_ahead",
			    json_integer((json_int_t)s->copies_ahead));
	json_object_set_new(r, "nack_delay_max_ms",
			    json_real(st.nack_delay_max_ns / 1e6));
	return r;
}

static json_t *session_json(struct session *s)
{
	char id[16];
	snprintf(id, sizeof(id), "%08x", s->id);
	json_t *links = json_array();
	for (uint32_t i = 0; i < s->n_paths; i++)
		if (s->paths[i].sess)
			json_array_append_new(links,
					      path_json(s, &s->paths[i]));
	json_t *j = json_pack(
	    "{s:s,s:s,s:s,s:o,s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I}}", "id", id,
	    "state", s->state == SESS_ESTABLISHED ? "established" : "handshake",
	    "crypto", crypto_name(s->d->cfg.crypto_mode), "links", links,
	    "reorder", reorder_json(s), "counters", "rx_auth_fail",
	    (json_int_t)s->rx_auth_fail, "rx_replay", (json_int_t)s->rx_replay,
	    "rx_bad", (json_int_t)s->rx_bad, "rx_spoofed",
	    (json_int_t)s->rx_spoofed, "tx_drops", (json_int_t)s->tx_drops,
	    "tun_write_errors", (json_int_t)s->tun_write_errors);
	json_object_set_new(json_object_get(j, "counters"), "tx_too_big",
			    json_integer((json_int_t)s->tx_too_big));
	json_object_set_new(j, "queue", queue_json(s));
	json_object_set_new(j, "classes", classes_json(s));
	json_object_set_new(j, "feedback",
			    json_pack("{s:I,s:I,s:I}", "sent",
				      (json_int_t)s->fb_sent, "received",
				      (json_int_t)s->fb_received, "bad",
				      (json_int_t)s->fb_bad));
	json_object_set_new(j, "recovery", recovery_json(s));
	json_object_set_new(j, "cipher",
			    json_string(wire_cipher_name(s->keys.cipher)));
	/* rekeys: key epochs switched to since the handshake */
	json_object_set_new(j, "key_epoch", json_integer(s->keys.epoch));
	json_object_set_new(j, "rekeys",
			    json_integer((json_int_t)s->rk.rekeys));
	if (s->state == SESS_ESTABLISHED && s->established_ns) {
		/* The session's age runs from its handshake; the last key
		 * exchange is the latest rekey, if any. */
		uint64_t now = now_ns(s->d), last = s->established_ns;
		if (s->rk.rekeys && s->rk.epoch_start_ns > last &&
		    s->rk.epoch_start_ns <= now)
			last = s->rk.epoch_start_ns;
		json_object_set_new(j, "age_s",
				    json_real((now - s->established_ns) / 1e9));
		json_object_set_new(j, "handshake_ago_s",
				    json_real((now - last) / 1e9));
		json_object_set_new(
		    j, "handshake_at",
		    json_integer(s->established_wall_s +
				 (json_int_t)((last - s->established_ns) /
					      1000000000ull)));
	}
	if (s->client_idx >= 0)
		json_object_set_new(
		    j, "client",
		    json_string(s->d->cfg.clients[s->client_idx].name));
	return j;
}

json_t *status_json(struct daemon *d)
{
	json_t *j = json_pack(
	    "{s:i,s:s,s:s,s:f,s:{s:s,s:i},s:{s:I,s:I,s:I,s:I,s:I,s:I}}",
	    "schema_version", TTT_STATUS_SCHEMA, "role",
	    d->client ? "client" : "server", "version", TTT_VERSION, "uptime_s",
	    (now_ns(d) - d->start_ns) / 1e9, "tun", "name", d->tun_name, "mtu",
	    (int)d->tun_mtu, "counters", "tun_rx_packets",
	    (json_int_t)d->tun_rx_packets, "tun_tx_packets",
	    (json_int_t)d->tun_tx_packets, "tun_rx_dropped",
	    (json_int_t)d->tun_rx_dropped, "rx_bad", (json_int_t)d->rx_bad,
	    "rx_unknown_session", (json_int_t)d->rx_unknown_session,
	    "rx_truncated", (json_int_t)d->rx_truncated);
	json_object_set_new(json_object_get(j, "tun"), "offload",
			    tunio_status(d));
	json_t *cn = json_object_get(j, "counters");
	json_object_set_new(cn, "udp_gro_receives",
			    json_integer((json_int_t)d->udp_gro_msgs));
	json_object_set_new(cn, "udp_gro_datagrams",
			    json_integer((json_int_t)d->udp_gro_segs));
	if (!d->client) {
		json_t *c = json_object_get(j, "counters");
		json_object_set_new(c, "hello_ok",
				    json_integer((json_int_t)d->hello_ok));
		json_object_set_new(c, "hello_bad",
				    json_integer((json_int_t)d->hello_bad));
		json_object_set_new(
		    c, "hello_replayed",
		    json_integer((json_int_t)d->hello_replayed));
		json_object_set_new(
		    c, "hello_ratelimited",
		    json_integer((json_int_t)d->hello_ratelimited));
		json_object_set_new(
		    c, "hello_cookie_sent",
		    json_integer((json_int_t)d->hello_cookie_sent));
		json_object_set_new(
		    c, "hello_cookie_ok",
		    json_integer((json_int_t)d->hello_cookie_ok));
		json_object_set_new(
		    c, "hello_old_version",
		    json_integer((json_int_t)d->hello_old_version));
	} else {
		json_t *c = json_object_get(j, "counters");
		json_object_set_new(c, "hello_sent",
				    json_integer((json_int_t)d->hello_sent));
		json_object_set_new(
		    c, "cookies_received",
		    json_integer((json_int_t)d->cookies_received));
	}
	json_t *sched = json_object();
	if (d->client) {
		char a[80];
		if (d->cfg.server.len)
			json_object_set_new(
			    j, "server",
			    json_string(
				sockaddr_str(&d->cfg.server.ss, a, sizeof(a))));
		struct session *s = d->sess;
		json_t *sj = session_json(s);
		json_object_set(j, "session", sj);
		json_object_set(j, "links", json_object_get(sj, "links"));
		json_object_set(j, "reorder", json_object_get(sj, "reorder"));
		json_object_set(j, "recovery", json_object_get(sj, "recovery"));
		json_decref(sj);
		json_object_set_new(sched, "upstream",
				    s->sched ? sched_inst_dump(s->sched)
					     : json_null());
		/* The config's downstream choice changes only when the
		 * server accepted a swap, so it names what the server runs. */
		json_t *ds = json_pack("{s:s}", "plugin",
				       d->cfg.sched[TTT_DIR_DOWNSTREAM].plugin);
		/* The server could not run ours and runs its default. */
		if (d->ds_fallback_plugin[0]) {
			json_object_set_new(ds, "plugin",
					    json_string(d->ds_fallback_plugin));
			json_object_set_new(ds, "asked",
					    json_string(d->ds_fallback_from));
		}
		json_t *last = dswap_status_json(d);
		if (last)
			json_object_set_new(ds, "last_swap", last);
		json_object_set_new(sched, "downstream", ds);
	} else {
		json_t *arr = json_array();
		for (uint32_t i = 0; i < d->max_sessions; i++) {
			struct session *s = d->sessions[i];
			if (!s)
				continue;
			json_t *sj = session_json(s);
			json_object_set_new(sj, "scheduler",
					    sched_inst_dump(s->sched));
			json_array_append_new(arr, sj);
		}
		json_object_set_new(j, "sessions", arr);
		json_object_set_new(
		    sched, "downstream",
		    json_pack("{s:s}", "plugin",
			      d->cfg.sched[TTT_DIR_DOWNSTREAM].plugin));
	}
	json_object_set_new(j, "scheduler", sched);
	struct httpd_stats hs;
	if (monitor_http_stats(d, &hs)) {
		json_object_set_new(
		    j, "http",
		    json_pack("{s:I,s:I}", "requests", (json_int_t)hs.requests,
			      "unauthorized", (json_int_t)hs.unauthorized));
	}
	return j;
}

static json_t *cmd_status(void *arg, json_t *req, struct err *e)
{
	return status_json(arg);
}

static json_t *cmd_plugins(void *arg, json_t *req, struct err *e)
{
	struct daemon *d = arg;
	json_t *list = sched_registry_list(d->reg);
	if (!list)
		return err_set(e, -ENOMEM, "out of memory"), NULL;
	return json_pack("{s:s,s:o}", "dir", sched_registry_dir(d->reg),
			 "plugins", list);
}

/* {"cmd":"scheduler-set","dir":"upstream|downstream","plugin":NAME,
 *  "options":{...}} */
static json_t *cmd_scheduler_set(void *arg, json_t *req, struct err *e)
{
	struct daemon *d = arg;
	const char *dir = json_string_value(json_object_get(req, "dir"));
	const char *plugin = json_string_value(json_object_get(req, "plugin"));
	struct cfg_opt opts[CFG_MAX_OPTS];
	if (!dir || (strcmp(dir, "upstream") && strcmp(dir, "downstream")))
		return err_set(
			   e, -EINVAL,
			   "\"dir\" must be \"upstream\" or \"downstream\""),
		       NULL;
	if (!plugin || !plugin[0] || strlen(plugin) >= CFG_NAME_MAX)
		return err_set(e, -EINVAL, "\"plugin\" must be a plugin name"),
		       NULL;
	int n = peerctl_options(json_object_get(req, "options"), opts,
				CFG_MAX_OPTS, e);
	if (n < 0)
		return NULL;
	bool local =
	    d->client ? !strcmp(dir, "upstream") : !strcmp(dir, "downstream");
	if (local) {
		/* Swap every session's instance; all or nothing is not
		 * needed: each session is independent. */
		int swapped = 0;
		for (uint32_t i = 0; i < d->max_sessions; i++) {
			struct session *s = d->sessions[i];
			if (!s)
				continue;
			if (session_set_sched(s, plugin, opts, (uint32_t)n, e) <
			    0) {
				log_warn("sched", "%s swap to %s refused: %s",
					 dir, plugin, e->msg);
				return NULL;
			}
			swapped++;
		}
		log_notice("sched", "%s scheduler is now %s (%d session%s)",
			   dir, plugin, swapped, swapped == 1 ? "" : "s");
		/* Later sessions (server) and restarts of the client's
		 * session keep the new choice. */
		struct cfg_sched *cs =
		    &d->cfg.sched[d->client ? TTT_DIR_UPSTREAM
					    : TTT_DIR_DOWNSTREAM];
		config_sched_set(cs, plugin, opts, (uint32_t)n);
		return json_pack("{s:s,s:s,s:i}", "dir", dir, "plugin", plugin,
				 "sessions", swapped);
	}
	if (!d->client)
		return err_set(e, -EINVAL,
			       "the server schedules only downstream; "
			       "upstream is the client's"),
		       NULL;
	if (d->sess->state != SESS_ESTABLISHED)
		return err_set(e, -ENOTCONN, "no session with the server yet"),
		       NULL;
	uint64_t r = dswap_request(d, plugin, opts, (uint32_t)n);
	return json_pack("{s:s,s:s,s:s,s:I}", "dir", dir, "plugin", plugin,
			 "state", "pending", "req", (json_int_t)r);
}

/* Whether `name` is already in the ", "-separated list. */
static bool link_named(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

/* {"cmd":"link-set","link":NAME,"admin":"up|down"}
 * On a server every client names its own links, so two clients may both
 * have an "lte": there NAME is CLIENT/LINK and only that client's link
 * changes. A client's links are just LINK. */
static json_t *cmd_link_set(void *arg, json_t *req, struct err *e)
{
	struct daemon *d = arg;
	const char *name = json_string_value(json_object_get(req, "link"));
	const char *admin = json_string_value(json_object_get(req, "admin"));
	if (!name || !admin || (strcmp(admin, "up") && strcmp(admin, "down")))
		return err_set(e, -EINVAL,
			       "expected \"link\": NAME and \"admin\": "
			       "\"up\" or \"down\""),
		       NULL;
	const char *link = name;
	size_t clen = 0;
	if (!d->client) {
		const char *slash = strchr(name, '/');
		if (!slash || slash == name || !slash[1])
			return err_set(e, -EINVAL,
				       "on a server, name the link as "
				       "CLIENT/LINK (e.g. %s/lte): clients "
				       "name their links themselves",
				       d->cfg.n_clients ? d->cfg.clients[0].name
							: "laptop"),
			       NULL;
		clen = (size_t)(slash - name);
		link = slash + 1;
	}
	int found = 0;
	for (uint32_t i = 0; i < d->max_sessions; i++) {
		struct session *s = d->sessions[i];
		if (!s)
			continue;
		if (!d->client) {
			const char *cn =
			    s->client_idx >= 0
				? d->cfg.clients[s->client_idx].name
				: "";
			if (strlen(cn) != clen || strncmp(cn, name, clen) != 0)
				continue;
		}
		for (uint32_t k = 0; k < s->n_paths; k++) {
			if (strcmp(s->paths[k].name, link) != 0)
				continue;
			s->paths[k].admin_down = !strcmp(admin, "down");
			s->views_dirty = true;
			found++;
		}
	}
	if (!found) {
		/* Name the real ones, so a typo is one glance away. */
		char names[200] = "";
		size_t off = 0;
		for (uint32_t i = 0; i < d->max_sessions; i++) {
			struct session *s = d->sessions[i];
			for (uint32_t k = 0; s && k < s->n_paths; k++) {
				char n[CFG_NAME_MAX * 2 + 2];
				if (!s->paths[k].sess || !s->paths[k].name[0])
					continue;
				/* As it must be typed: CLIENT/LINK on a
				 * server. */
				if (d->client || s->client_idx < 0)
					snprintf(n, sizeof(n), "%s",
						 s->paths[k].name);
				else
					snprintf(
					    n, sizeof(n), "%s/%s",
					    d->cfg.clients[s->client_idx].name,
					    s->paths[k].name);
				if (link_named(names, n))
					continue;
				int w =
				    snprintf(names + off, sizeof(names) - off,
					     "%s%s", off ? ", " : "", n);
				if (w < 0 || (size_t)w >= sizeof(names) - off)
					break;
				off += (size_t)w;
			}
		}
		if (!names[0])
			return err_set(e, -ENOENT,
				       "no link named \"%.64s\" (no session "
				       "has links yet)",
				       name),
			       NULL;
		return err_set(e, -ENOENT,
			       "no link named \"%.64s\"; the links are: %s",
			       name, names),
		       NULL;
	}
	log_notice("link", "%s: administratively %s", name, admin);
	return json_pack("{s:s,s:s}", "link", name, "admin", admin);
}

const struct ctl_command daemon_ctl_commands[] = {
    {"status", cmd_status, "role, session, links with metrics, schedulers"},
    {"plugins", cmd_plugins, "scheduler plugins in the plugin directory"},
    {"scheduler-set", cmd_scheduler_set,
     "swap a direction's scheduler: dir, plugin, options"},
    {"link-set", cmd_link_set, "administratively disable/enable a link"},
    {NULL, NULL, NULL},
};
