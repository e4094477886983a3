/*
 * Sessions: the keys, sequence space, reorder buffer, packet pool, paths and
 * scheduler instance that belong to one client<->server association. All
 * memory a session needs on its hot path is allocated here, once.
 */
#include <errno.h>
#include <sodium.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "base/log.h"
#include "link/owdspread.h"
#include "link/retx.h"
#include "lagging.h"
#include "reorder.h"
#include "link/gro.h"
#include "sched/sched_host.h"

static void reorder_deliver(void *arg, void *pkt, uint32_t len);
static void reorder_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static uint64_t gap_still_coming(void *arg, uint64_t missing,
				 uint64_t arrival_ns, uint64_t now);

/* Pool size: everything the reorder buffer may hold, plus one receive
 * batch in flight, plus slack. */
#define POOL_SLACK 128

static int pool_create(struct session *s, uint32_t count, uint32_t buf_size)
{
	size_t elem = (sizeof(struct pktbuf) + buf_size + 63) & ~(size_t)63;
	s->pool_mem = aligned_alloc(64, elem * count);
	if (!s->pool_mem)
		return -ENOMEM;
	s->buf_size = buf_size;
	s->pool_count = count;
	s->free_list = NULL;
	for (uint32_t i = 0; i < count; i++) {
		struct pktbuf *b =
		    (struct pktbuf *)((uint8_t *)s->pool_mem + i * elem);
		b->sess = s;
		b->next = s->free_list;
		s->free_list = b;
	}
	s->pool_free = count;
	return 0;
}

struct pktbuf *session_buf_get(struct session *s)
{
	struct pktbuf *b = s->free_list;
	if (!b)
		return NULL;
	s->free_list = b->next;
	s->pool_free--;
	b->next = NULL;
	return b;
}

void session_buf_put(struct pktbuf *b)
{
	struct session *s = b->sess;
	b->next = s->free_list;
	s->free_list = b;
	s->pool_free++;
}

#define PATH_PQ_PACKETS 512
#define PATH_PQ_BYTES	(768 * 1024)
#define PATH_IQ_PACKETS 64
#define PATH_IQ_BYTES	(96 * 1024)

/* Frees what session_path_init allocated for every path in use (their
 * pacer and interactive queues); the packets they held are dropped. */
void session_paths_release(struct session *s)
{
	for (uint32_t i = 0; i < CFG_MAX_LINKS; i++)
		if (s->paths[i].sess) {
			pktq_free(&s->paths[i].pq);
			pktq_free(&s->paths[i].iq);
		}
}

void session_path_init(struct session *s, uint32_t id, const char *name)
{
	struct path *p = &s->paths[id];
	memset(p, 0, sizeof(*p));
	p->sess = s;
	p->id = id;
	p->fd = -1;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->link_mtu = 1500;
	p->last_state = -1;
	probe_link_init(&p->probe, &s->d->cfg.probe, now_ns(s->d));
	const struct cfg_link_model *lc = &s->d->cfg.link_model;
	struct lm_cfg mc = {
	    .initial_bps = lc->initial_rate_bps,
	    .target_us = lc->queue_target_ms * 1000,
	};
	lm_init(&p->lm, &mc);
	/* The pacer queue (datapath.c): what the scheduler gave this link
	 * and its pacer has not released yet. No AQM of its own (the session
	 * queue has it); bounded so a scheduler that keeps choosing a slow
	 * link drops here, not in a modem buffer. */
	struct pktq_cfg pc = {
	    .limit_pkts = PATH_PQ_PACKETS,
	    .limit_bytes = PATH_PQ_BYTES,
	    /* datapath.c's entry header (72 bytes: struct pace_meta)
	     * in front of an inner packet of at most buf_size - 48 */
	    .slot_size = s->d->buf_size + 32,
	    .target_ns = UINT64_MAX / 4,
	    .interval_ns = 1000000000ull,
	};
	if (pktq_init(&p->pq, &pc) < 0)
		log_err("session",
			"%s: no memory for the pacer queue: its "
			"packets will be dropped",
			p->name);
	/* Interactive packets (flow_queue) wait here, ahead of pq: few and
	 * small, so a short queue; a flood marked EF overflows it, not the
	 * link. */
	pc.limit_pkts = PATH_IQ_PACKETS;
	pc.limit_bytes = PATH_IQ_BYTES;
	if (pktq_init(&p->iq, &pc) < 0)
		log_err("session",
			"%s: no memory for the interactive queue: its "
			"packets will be dropped",
			p->name);
	if (id >= s->n_paths)
		s->n_paths = id + 1;
	s->views_dirty = true;
}

int session_create(struct daemon *d, struct session **out, struct err *e)
{
	struct session *s = calloc(1, sizeof(*s));
	int ret;
	if (!s)
		return err_set(e, -ENOMEM, "out of memory for a session");
	s->d = d;
	s->client_idx = -1;
	s->created_ns = now_ns(d);
	s->last_rx_ns = s->created_ns;
	replay_init(&s->replay);
	uint32_t cap = d->cfg.reorder.capacity ? d->cfg.reorder.capacity : 4096;
	ret = pool_create(s, cap + POOL_SLACK + 64 + GRO_HOLD_MAX, d->buf_size);
	if (ret < 0) {
		err_set(e, ret, "cannot allocate %u packet buffers",
			cap + POOL_SLACK);
		goto fail;
	}
	if (d->cfg.reorder.enabled) {
		ret = reorder_create(&s->reorder, cap,
				     (uint64_t)d->cfg.reorder.min_hold_ms *
					 1000000,
				     reorder_deliver, s);
		if (ret < 0) {
			err_set(e, ret, "cannot create the reorder buffer");
			goto fail;
		}
		reorder_set_coming(s->reorder, gap_still_coming, s);
	}
	if (d->cfg.recovery.enabled) {
		/* Copies of what this side sends, for resends; kept no
		 * longer than the far end's reorder buffer waits for one
		 * (session_update_hold refines the age with the RTTs). */
		struct retx_cfg rc = {
		    .capacity = d->cfg.recovery.store_packets,
		    .max_len = d->buf_size,
		    .max_age_ns =
			(uint64_t)d->cfg.recovery.max_wait_ms * 1000000,
		    .budget_ppm = d->cfg.recovery.budget_pct * 10000,
		};
		ret = retx_create(&s->retx, &rc);
		if (ret < 0) {
			err_set(e, ret,
				"cannot allocate the retransmission store "
				"(%u packets)",
				rc.capacity);
			goto fail;
		}
	}
	const struct cfg_link_model *lc = &d->cfg.link_model;
	struct pktq_cfg qc = {
	    .limit_pkts = lc->queue_packets,
	    .limit_bytes = lc->queue_bytes,
	    .slot_size = d->buf_size,
	    .target_ns = (uint64_t)lc->aqm_target_ms * 1000000,
	    .interval_ns = (uint64_t)lc->aqm_interval_ms * 1000000,
	    .ecn = lc->ecn,
	};
	const struct cfg_flow_queue *fc = &d->cfg.flow_queue;
	if (fc->enabled) {
		/* the same limits and CoDel as the FIFO, per flow */
		struct fq_cfg fqc = {
		    .limit_pkts = qc.limit_pkts,
		    .limit_bytes = qc.limit_bytes,
		    .slot_size = qc.slot_size,
		    .flows = fc->flows,
		    .quantum = (uint32_t)fc->quantum,
		    .target_ns = qc.target_ns,
		    .interval_ns = qc.interval_ns,
		    .ecn = qc.ecn,
		    .sparse_rate = fc->sparse_rate_bps / 8,
		    .sparse_burst = (uint32_t)fc->sparse_burst,
		    .dscp_mask = fc->dscp_mask,
		};
		ret = fq_init(&s->fq, &fqc);
		s->fq_on = true;
	} else {
		ret = pktq_init(&s->q, &qc);
	}
	if (ret < 0) {
		err_set(e, ret, "cannot allocate the packet queue");
		goto fail;
	}
	ev_init(&s->reorder_timer, reorder_timer_cb);
	s->reorder_timer.data = s;
	ev_init(&s->pace_timer, datapath_pace_cb);
	s->pace_timer.data = s;
	ev_init(&s->fb_timer, datapath_fb_cb);
	s->fb_timer.data = s;
	*out = s;
	return 0;
fail:
	if (s->reorder)
		reorder_destroy(s->reorder);
	retx_destroy(s->retx);
	free(s->pool_mem);
	free(s);
	return ret;
}

void session_destroy(struct session *s)
{
	if (!s)
		return;
	ev_timer_stop(s->d->loop, &s->reorder_timer);
	ev_timer_stop(s->d->loop, &s->pace_timer);
	ev_timer_stop(s->d->loop, &s->fb_timer);
	pktq_free(&s->q);
	fq_free(&s->fq);
	session_paths_release(s);
	if (s->reorder) {
		/* Hands held packets back through reorder_deliver: they are
		 * written out, which is what the peer wanted anyway. */
		reorder_destroy(s->reorder);
		s->reorder = NULL;
	}
	retx_destroy(s->retx);
	s->retx = NULL;
	/* The coalescer may hold this session's buffers (and name it). */
	tunio_flush(s->d);
	if (s->sched)
		sched_inst_destroy(s->sched);
	sodium_memzero(&s->keys, sizeof(s->keys));
	rekey_wipe(&s->rk);
	wire_eph_wipe(&s->hs_eph);
	free(s->pool_mem);
	free(s);
}

/* Delivery from the reorder buffer: write the inner packet to the tun. */
static void reorder_deliver(void *arg, void *pkt, uint32_t len)
{
	struct session *s = arg;
	struct pktbuf *b = pkt;
	datapath_tun_write(s, b->data, len, b);
}

static void reorder_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = w->data;
	uint64_t now = now_ns(s->d);
	uint64_t next = reorder_tick(s->reorder, now);
	tunio_flush(s->d);
	session_arm_reorder(s, next, now);
}

/* Called after every received data packet: the deadline rarely moves, so
 * the timer is only touched (a heap operation) when it does. */
void session_arm_reorder(struct session *s, uint64_t deadline, uint64_t now)
{
	bool active = ev_is_active(&s->reorder_timer);
	if (active && deadline == s->reorder_deadline)
		return;
	s->reorder_deadline = deadline;
	if (deadline == UINT64_MAX) {
		if (active)
			ev_timer_stop(s->d->loop, &s->reorder_timer);
		return;
	}
	double after = deadline > now ? (double)(deadline - now) / 1e9 : 0.0;
	ev_timer_stop(s->d->loop, &s->reorder_timer);
	ev_timer_set(&s->reorder_timer, after, 0.0);
	ev_timer_start(s->d->loop, &s->reorder_timer);
}

/*
 * Every link DOWN, but at least one only suspected (the early, missed-probe
 * DOWN that the next packet heard undoes): a stall of this very process
 * (a slow reload, a flood of control requests, a descheduled daemon) looks
 * exactly like that on every link at once. Dropping everything is then the
 * worst answer, so one suspect link stays usable as DEGRADED until it is
 * heard (the suspicion clears) or confirmed dead: a free primary before a
 * metered or backup one (a false alarm must not spend a quota), and among
 * equals the one heard last.
 */
static int suspect_cost(const struct path *p)
{
	return (p->metered ? 2 : 0) + (p->backup ? 1 : 0);
}

static void keep_last_suspect(struct session *s, int *states)
{
	int best = -1;
	for (uint32_t i = 0; i < s->n_paths; i++) {
		const struct path *p = &s->paths[i];
		if (states[i] >= TTT_LINK_DEGRADED)
			return; /* something is usable: nothing to do */
		if (p->admin_down || p->fd < 0 || !p->known ||
		    !p->probe.suspect)
			continue;
		if (best >= 0) {
			const struct path *b = &s->paths[best];
			int c = suspect_cost(p) - suspect_cost(b);
			if (c > 0 || (c == 0 && p->probe.last_heard_ns <=
						    b->probe.last_heard_ns))
				continue;
		}
		best = (int)i;
	}
	if (best >= 0)
		states[best] = TTT_LINK_DEGRADED;
}

/*
 * The views' owd_diff_us (what earliest-arrival adds per link) from the
 * link model when every usable link has one: the far end's reports give
 * each link's forward one-way delay as base + queueing delay, on the same
 * two clocks for every link, so the differences are exact, one way (the
 * probes' srtt/2 mixes in the return path) and as fresh as the last report
 * (a few ms while data flows, instead of an EWMA of one probe per
 * interval). A modem queue building on the fast link then shows at once,
 * and the scheduler spills onto the slower link before the reorder buffer
 * and TCP pay for it. Returns false (the caller uses the probes) when a
 * usable link has no model yet.
 */
static bool owd_diff_from_model(struct session *s)
{
	uint32_t raw[CFG_MAX_LINKS];
	bool use[CFG_MAX_LINKS], any = false;
	int64_t diff[CFG_MAX_LINKS];
	for (uint32_t i = 0; i < s->n_paths; i++) {
		const struct path *p = &s->paths[i];
		use[i] = ttt_link_usable(&s->views[i]);
		if (!use[i])
			continue;
		if (!p->lm.have_base)
			return false;
		/* the queueing delay counts while our packets can be in
		 * that queue: a link the scheduler stopped feeding keeps
		 * the delay its last packets met, which would keep it
		 * looking slow, unfed, for good */
		raw[i] = lm_base_owd(&p->lm) +
			 (p->lm.inflight_bytes ? p->lm.qdelay_us : 0);
		any = true;
	}
	if (!any)
		return false;
	owd_diffs_us(raw, use, s->n_paths, diff);
	for (uint32_t i = 0; i < s->n_paths; i++)
		s->views[i].owd_diff_us = diff[i];
	return true;
}

/* Builds the read-only link views the scheduler sees. Host policy lives
 * here: admin-down and dead links are DOWN, a healthy backup link is STANDBY
 * while any primary is usable. */
void session_refresh_views(struct session *s, uint64_t now)
{
	bool primary_usable = false, changed = false;
	int states[CFG_MAX_LINKS];
	for (uint32_t i = 0; i < s->n_paths; i++) {
		struct path *p = &s->paths[i];
		int st;
		if (p->admin_down || p->fd < 0 || !p->known)
			st = TTT_LINK_DOWN;
		else if (p->fb_stalled)
			st = TTT_LINK_DOWN; /* until a probe answers */
		else if (p->probe.state == PLS_UP)
			st = TTT_LINK_UP;
		else if (p->probe.state == PLS_DEGRADED)
			st = TTT_LINK_DEGRADED;
		else
			st = TTT_LINK_DOWN;
		states[i] = st;
		if (!p->backup && st >= TTT_LINK_DEGRADED)
			primary_usable = true;
	}
	keep_last_suspect(s, states);
	for (uint32_t i = 0; i < s->n_paths; i++)
		if (!s->paths[i].backup && states[i] >= TTT_LINK_DEGRADED)
			primary_usable = true;
	s->any_up = false;
	for (uint32_t i = 0; i < s->n_paths; i++) {
		struct path *p = &s->paths[i];
		struct ttt_link_view *v = &s->views[i];
		int st = states[i];
		if (p->backup && primary_usable && st >= TTT_LINK_DEGRADED)
			st = TTT_LINK_STANDBY;
		if (st == TTT_LINK_UP)
			s->any_up = true;
		v->id = p->id;
		v->state = (uint8_t)st;
		v->metered = p->metered;
		v->backup = p->backup;
		v->name = p->name;
		v->weight = p->weight;
		v->mtu = path_inner_mtu(s, p);
		v->rate_bps = p->rate_bps;
		if (p->lm.cfg.ceiling_bps != p->rate_bps)
			lm_set_ceiling(&p->lm, p->rate_bps);
		v->capacity_bps = p->lm.capacity_bps;
		v->pacing_bps = p->lm.pacing_bps;
		v->queue_delay_us = p->lm.qdelay_us;
		v->base_rtt_us = (uint32_t)p->probe.min_rtt_us;
		v->inflight_bytes = p->lm.inflight_bytes;
		v->model_flags =
		    p->lm.phase == LM_STARTUP ? TTT_LINK_F_STARTUP : 0;
		v->est_rate_bps = (uint64_t)p->probe.rx_rate_bps;
		v->srtt_us = p->probe.srtt_us;
		v->rttvar_us = p->probe.rttvar_us;
		v->jitter_us = p->probe.jitter_us;
		v->loss_ppm = p->probe.loss_ppm;
		v->tx_packets = p->tx_packets;
		v->tx_bytes = p->tx_bytes;
		v->backlog_bytes = p->backlog_bytes;
		v->backlog_ns = p->backlog_ns;
		v->quota_bytes = p->quota_bytes;
		v->quota_used_bytes = p->quota_used_bytes;
		if (p->last_state != st) {
			bool was = p->last_state >= 0;
			bool was_up = p->last_state == TTT_LINK_UP ||
				      p->last_state == TTT_LINK_DEGRADED;
			bool is_up =
			    st == TTT_LINK_UP || st == TTT_LINK_DEGRADED;
			/* a link that stops being usable: what it did not
			 * deliver is resent on the others (datapath.c) */
			if (was_up && st == TTT_LINK_DOWN && s->retx) {
				/* at once, not with the next packet from the
				 * tun: the receiver's reorder buffer holds
				 * what came after the lost packets, so
				 * nothing may come from the tun until the
				 * resend (measured: 41 ms late) */
				p->failover_pending = true;
				if (s->d && s->d->loop) {
					ev_timer_stop(s->d->loop,
						      &s->pace_timer);
					ev_timer_set(&s->pace_timer, 0.0, 0.0);
					ev_timer_start(s->d->loop,
						       &s->pace_timer);
				}
			}
			if (was)
				log_notice("link", "%s: %s -> %s", p->name,
					   link_state_name(p->last_state),
					   link_state_name(st));
			p->last_state = st;
			changed |= was;
			/* Hooks hear usable <-> not usable, not every
			 * up/degraded wobble. */
			if (was_up != is_up)
				hooks_fire(s->d,
					   is_up ? CFG_HOOK_LINK_UP
						 : CFG_HOOK_LINK_DOWN,
					   s, p);
		}
	}
	(void)now;
	owd_diff_from_model(s);
	s->views_dirty = false;
	if (changed)
		daemon_notify_status(s->d); /* systemd's STATUS= line */
}

/* Largest inner packet a path carries: the tun MTU, or less once path-MTU
 * probing has shown the path cannot carry a full-size datagram. */
uint32_t path_inner_mtu(const struct session *s, const struct path *p)
{
	uint32_t mtu = s->d->tun_mtu;
	uint32_t over = (uint32_t)wire_tunnel_overhead(p->family, s->keys.mode);
	uint32_t lim = pmtu_limit(&p->pmtu);
	if (lim > over && lim - over < mtu)
		mtu = lim - over;
	return mtu;
}

const char *link_state_name(int st)
{
	switch (st) {
	case TTT_LINK_UP:
		return "up";
	case TTT_LINK_DEGRADED:
		return "degraded";
	case TTT_LINK_STANDBY:
		return "standby";
	default:
		return "down";
	}
}

void session_fill_ctx(struct session *s, struct ttt_sched_ctx *ctx,
		      uint64_t now)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->size = sizeof(*ctx);
	ctx->dir = s->d->client ? TTT_DIR_UPSTREAM : TTT_DIR_DOWNSTREAM;
	ctx->now_ns = now;
	ctx->links = s->views;
	ctx->n_links = s->n_paths;
}

void session_feedback(struct session *s, uint32_t kind, uint32_t link,
		      uint32_t bytes, uint32_t count, uint64_t rtt_us,
		      uint64_t queue_delay_us, uint64_t now)
{
	if (!s->sched || !s->sched->ops->feedback)
		return;
	if (s->views_dirty)
		session_refresh_views(s, now);
	struct ttt_sched_ctx ctx;
	session_fill_ctx(s, &ctx, now);
	struct ttt_feedback fb = {
	    .kind = kind,
	    .link = link,
	    .bytes = bytes,
	    .count = count,
	    .rtt_us = rtt_us,
	    .queue_delay_us = queue_delay_us,
	};
	sched_feedback(s->sched, &ctx, &fb);
}

int session_set_sched(struct session *s, const char *name,
		      const struct cfg_opt *opts, uint32_t n_opts,
		      struct err *e)
{
	struct ttt_sched_ctx ctx;
	struct sched_inst *ni = NULL;
	uint64_t now = now_ns(s->d);
	session_refresh_views(s, now);
	session_fill_ctx(s, &ctx, now);
	int ret = sched_inst_create(s->d->reg, name, (int)ctx.dir, opts, n_opts,
				    &ctx, &ni, e);
	if (ret < 0)
		return ret;
	/* Single-threaded: the swap happens between two packets. */
	struct sched_inst *old = s->sched;
	s->sched = ni;
	snprintf(s->sched_name, sizeof(s->sched_name), "%s", name);
	if (old)
		sched_inst_destroy(old);
	return 0;
}

int session_set_sched_remote(struct session *s, const char *name,
			     const struct cfg_opt *opts, uint32_t n_opts,
			     struct err *e)
{
	char esc[LOG_ESC_NAME];
	if (!sched_name_valid(name))
		return err_set(e, -EINVAL,
			       "plugin name \"%s\" from the peer: expected "
			       "1..%d characters of [a-z0-9_-] (a name in the "
			       "plugin directory, never a path)",
			       log_esc(name, esc, sizeof(esc)),
			       SCHED_NAME_MAX - 1);
	return session_set_sched(s, name, opts, n_opts, e);
}

/*
 * Reorder hold: long enough for any packet still in flight, since a packet
 * given up on too early is dropped as late and TCP takes that for
 * congestion, while a hold longer than needed costs only when a packet is
 * really lost. Three views of the delay spread, the largest wins:
 *  - the prober's: largest one-way-delay difference between usable links
 *    plus their jitter (known before any data flows, but sampled once per
 *    probe interval, so it lags queues that fill under load);
 *  - the buffer's own: the longest wait a gap needed recently, late
 *    arrivals included (reorder_wait_ns()), which sees every packet;
 *  - the data's own: the spread of the links' newest one-way delays
 *    (session_note_owd(), which also raises the hold between updates).
 * The larger gets half on top for what was not sampled, plus HOLD_SLACK_NS
 * for timer granularity and scheduling on both ends; then the YAML's floor
 * and ceiling apply.
 */
#define HOLD_SLACK_NS	 4000000ull
#define SPREAD_BUCKET_NS 2000000000ull

/* The larger delay view gets half on top plus the slack, within the YAML's
 * floor and ceiling. */
static void hold_apply(struct session *s, uint64_t hold)
{
	const struct cfg_reorder *rc = &s->d->cfg.reorder;
	if (hold)
		hold += hold / 2 + HOLD_SLACK_NS;
	uint64_t lo = (uint64_t)rc->min_hold_ms * 1000000;
	uint64_t hi = (uint64_t)rc->max_hold_ms * 1000000;
	if (hold < lo)
		hold = lo;
	if (hold > hi)
		hold = hi;
	s->hold_ns = hold;
	reorder_set_hold(s->reorder, hold);
}

void session_update_hold(struct session *s)
{
	if (!s->reorder)
		return;
	struct probe_hint h;
	probe_hint_init(&h);
	for (uint32_t i = 0; i < s->n_paths; i++)
		if (s->paths[i].sess && s->paths[i].fd >= 0)
			probe_hint_add(&h, &s->paths[i].probe);
	uint64_t hint = probe_hint_hold_us(&h) * 1000;
	if (!owd_diff_from_model(s))
		for (uint32_t i = 0; i < s->n_paths; i++)
			s->views[i].owd_diff_us =
			    probe_hint_owd_diff_us(&h, &s->paths[i].probe);
	uint64_t seen = reorder_wait_ns(s->reorder);
	uint64_t hold = hint > seen ? hint : seen;
	uint64_t now = mono_ns();
	if (now - s->spread_start_ns >= SPREAD_BUCKET_NS) {
		s->spread_prev_us = s->spread_cur_us;
		s->spread_cur_us = 0;
		s->spread_start_ns = now;
	}
	uint32_t sp = s->spread_cur_us > s->spread_prev_us ? s->spread_cur_us
							   : s->spread_prev_us;
	if ((uint64_t)sp * 1000 > hold)
		hold = (uint64_t)sp * 1000;
	hold_apply(s, hold);
}

/*
 * Every link of a session carries the same sender's stamps to the same
 * receiver clock, so the difference of two links' one-way delays is exact
 * (the clocks' offset cancels): a packet on the faster link waits in the
 * reorder buffer for its predecessor on the slower one by about that much.
 * The prober's view lags (one sample per probe interval), and a queue that
 * builds in a modem while a pacer is still learning the link grows that
 * spread by tens of ms within one interval; packets given up on meanwhile
 * reach TCP out of order (spurious fast retransmits, a halved window).
 * So the spread of the newest delays of the links that carried DATA in the
 * last second raises the hold at once; session_update_hold() keeps it as a
 * two-bucket windowed maximum and lowers the hold only from there. Work per
 * packet: a compare, and a pass over the links only when this link's delay
 * moved by more than SPREAD_STEP_US.
 */
#define SPREAD_STEP_US	 500u
#define SPREAD_RECENT_US 1000000u

void session_note_owd(struct session *s, struct path *p, uint32_t owd_us,
		      uint32_t rx_us, uint64_t now)
{
	int32_t moved = (int32_t)(owd_us - p->fbrx.owd_us);
	bool fresh = (uint32_t)(rx_us - p->fbrx.owd_rx_us) >= SPREAD_RECENT_US;
	p->fbrx.owd_us = owd_us;
	p->fbrx.owd_rx_us = rx_us;
	if (!s->reorder || (!fresh && moved < (int32_t)SPREAD_STEP_US &&
			    moved > -(int32_t)SPREAD_STEP_US))
		return;
	struct owd_sample v[CFG_MAX_LINKS];
	for (uint32_t i = 0; i < s->n_paths; i++) {
		const struct path *q = &s->paths[i];
		v[i] = (struct owd_sample){.valid = q->sess && q->fbrx.active,
					   .owd_us = q->fbrx.owd_us,
					   .rx_us = q->fbrx.owd_rx_us};
	}
	uint32_t spread = owd_spread_us(v, s->n_paths, rx_us, SPREAD_RECENT_US);
	if (spread <= s->spread_cur_us)
		return;
	s->spread_cur_us = spread;
	if ((uint64_t)spread * 1000 + (uint64_t)spread * 500 + HOLD_SLACK_NS >
	    s->hold_ns) {
		hold_apply(s, (uint64_t)spread * 1000);
		session_arm_reorder(s, reorder_next_deadline(s->reorder), now);
	}
}

/* Asked by the reorder buffer before it gives a gap up (reorder_coming_fn):
 * the gap may still be on a link that keeps delivering and has not passed
 * it, behind the far end's pacer (reorder/lagging.h); at most the YAML's
 * max_hold after the oldest held packet came. */
static uint64_t gap_still_coming(void *arg, uint64_t missing,
				 uint64_t arrival_ns, uint64_t now)
{
	struct session *s = arg;
	struct lag_link v[CFG_MAX_LINKS];
	for (uint32_t i = 0; i < s->n_paths; i++) {
		const struct path *p = &s->paths[i];
		v[i] = (struct lag_link){.valid = p->sess && p->fd >= 0 &&
						  p->fbrx.data_rx_ns,
					 .high_seq = p->fbrx.data_high_seq,
					 .last_rx_ns = p->fbrx.data_rx_ns};
	}
	uint64_t cap =
	    arrival_ns + (uint64_t)s->d->cfg.reorder.max_hold_ms * 1000000;
	uint64_t until = lagging_hold_until(v, s->n_paths, missing, now,
					    LAGGING_ACTIVE_NS, cap);
	if (until && missing != s->lag_gap) {
		s->lag_gap = missing;
		s->lag_waits++;
	}
	return until;
}

/* The sender keeps a copy as long as a resend can still arrive in time:
 * the far end waits up to max_wait after it noticed the gap, which is one
 * one-way delay after the send; a NACK and the resend add a round trip. */
void session_update_retx_age(struct session *s)
{
	if (!s->retx)
		return;
	uint64_t rtt = 0;
	for (uint32_t i = 0; i < s->n_paths; i++)
		if (s->paths[i].sess && s->paths[i].fd >= 0 &&
		    s->paths[i].probe.srtt_us > rtt)
			rtt = s->paths[i].probe.srtt_us;
	retx_set_max_age(s->retx,
			 (uint64_t)s->d->cfg.recovery.max_wait_ms * 1000000 +
			     rtt * 1000);
}

/* ---- rekeying glue (the protocol lives in wire/rekey.c) ---- */

/* Bytes and packets of both directions so far, for the rekey limits. */
void session_traffic(const struct session *s, uint64_t *bytes,
		     uint64_t *packets)
{
	uint64_t b = 0, n = 0;
	for (uint32_t i = 0; i < s->n_paths; i++) {
		b += s->paths[i].tx_bytes + s->paths[i].rx_bytes;
		n += s->paths[i].tx_packets + s->paths[i].rx_packets;
	}
	*bytes = b;
	*packets = n;
}

/* Sends a rekey message on every link that has a socket, so the exchange
 * does not wait for one link that happens to be down. */
static void rekey_send_all(struct session *s, uint8_t type, const uint8_t *body,
			   size_t len, uint64_t now)
{
	for (uint32_t i = 0; i < s->n_paths; i++) {
		struct path *p = &s->paths[i];
		if (p->sess && p->fd >= 0 && !p->admin_down &&
		    (s->d->client || p->known))
			(void)datapath_send_msg(s, p, type, body, len, now);
	}
}

/* Both roles: old keys wiped when their grace time ends; the client also
 * starts (or repeats) a rekey when one of its limits is reached. */
void session_rekey_tick(struct session *s, uint64_t now)
{
	const struct cfg_rekey *rc = &s->d->cfg.rekey;
	uint64_t bytes, packets;
	uint8_t body[REKEY_BODY_LEN];

	rekey_tick(&s->rk, now);
	if (!s->d->client || s->state != SESS_ESTABLISHED)
		return;
	struct rekey_limits lim = {
	    .interval_ns = (uint64_t)rc->interval_ms * 1000000ull,
	    .bytes = rc->bytes,
	    .packets = rc->packets,
	};
	session_traffic(s, &bytes, &packets);
	if (!rekey_due(&s->keys, &s->rk, &lim, now, bytes, packets))
		return;
	if (s->rk.pending)
		log_debug("rekey", "%08x: epoch %u: repeating the request",
			  s->id, s->keys.epoch + 1);
	size_t n = rekey_request(&s->keys, &s->rk, now, body);
	rekey_send_all(s, WT_REKEY, body, n, now);
}

void session_rekey_confirmed(struct session *s)
{
	uint64_t bytes, packets;

	session_traffic(s, &bytes, &packets);
	rekey_count_from(&s->rk, bytes, packets);
	log_info("rekey", "%08x: key epoch %u confirmed (rekey %llu)", s->id,
		 s->keys.epoch, (unsigned long long)s->rk.rekeys);
}

bool session_keys_expired(struct session *s, uint64_t now)
{
	uint64_t bytes, packets;

	if (s->state != SESS_ESTABLISHED || s->keys.mode == CRYPTO_NONE)
		return false;
	session_traffic(s, &bytes, &packets);
	if (!rekey_expired(&s->rk, now, packets))
		return false;
	log_warn("rekey",
		 "%08x: keys of epoch %u are past their limits (the client "
		 "did not rekey); ending the session",
		 s->id, s->keys.epoch);
	return true;
}

/* Server: a REKEY that opened under the current keys. */
void session_on_rekey(struct session *s, struct path *p, const uint8_t *body,
		      size_t len, uint64_t now)
{
	uint8_t ack[REKEY_ACK_BODY_LEN];
	int rc;

	(void)now;
	if (s->d->client) {
		s->rx_bad++;
		return;
	}
	rc = rekey_on_request(&s->keys, &s->rk, body, len, ack);
	if (rc == -EALREADY)
		return;
	if (rc < 0) {
		s->rx_bad++;
		return;
	}
	/* On the link it came from: that one works right now. */
	(void)datapath_send_msg(s, p, WT_REKEY_ACK, ack, sizeof(ack), now);
	sodium_memzero(ack, sizeof(ack));
}

/* Client: the server's answer. After the switch a probe goes out on every
 * link at once: the first packet under the new keys is what tells the
 * server to send with them too. */
void session_on_rekey_ack(struct session *s, const uint8_t *body, size_t len,
			  uint64_t now)
{
	uint64_t bytes, packets;

	if (!s->d->client) {
		s->rx_bad++;
		return;
	}
	session_traffic(s, &bytes, &packets);
	int rc = rekey_on_ack(&s->keys, &s->rk, body, len, now, bytes, packets);
	if (rc < 0) {
		s->rx_bad++;
		return;
	}
	if (rc == 0)
		return;
	log_info("rekey", "%08x: key epoch %u (rekey %llu)", s->id,
		 s->keys.epoch, (unsigned long long)s->rk.rekeys);
	for (uint32_t i = 0; i < s->n_paths; i++)
		if (s->paths[i].fd >= 0 && !s->paths[i].admin_down)
			prober_send_now(s, &s->paths[i], now);
}
