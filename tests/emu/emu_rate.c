/*
 * The capacity of the emulated link over time, apart from the queues: which
 * rate each direction has now, moved by a step schedule (--rate-schedule) and
 * a slow random walk (--rate-walk), as LTE, Wi-Fi and shared lines change
 * capacity while traffic flows. Like the impairment model it reads no clock,
 * so the unit test drives it with made-up times; the relay calls
 * imp_rate_advance when imp_rate_next is due (and after every setting
 * change) and hands each direction's model the rate imp_rate_now gives.
 */
#include "emu.h"

#include <math.h>

/* The base rate of one direction: --rate-down for to_client if given, else
 * --rate or the schedule's current step. 0 = unlimited. */
uint64_t imp_rate_base(const struct imp_params *p, bool to_client)
{
	return to_client && p->rate_down_set ? p->rate_down_bps : p->rate_bps;
}

/* The rate of one direction now: its base times the walk's factor. An
 * unlimited rate stays unlimited. */
uint64_t imp_rate_now(const struct imp_params *p, bool to_client)
{
	uint64_t base = imp_rate_base(p, to_client);
	double r;

	if (!base || p->walk.pct <= 0 || !p->walk.started)
		return base;
	r = round((double)base * p->walk.factor);
	return r < 1 ? 1 : (uint64_t)r;
}

/* One interval of the walk. Up by 1+x or down by 1/(1+x) with x uniform in
 * [0, pct): a plain factor in [1-pct, 1+pct] would drift down over time
 * (its mean logarithm is negative), this one does not. */
double imp_walk_step(double factor, double pct, uint64_t rng[4])
{
	double u = (double)(imp_rand(rng) >> 11) * 0x1.0p-53; /* [0, 1) */
	double x = (2 * u - 1) * pct;

	factor = x >= 0 ? factor * (1 + x) : factor / (1 - x);
	if (factor < IMP_WALK_MIN)
		factor = IMP_WALK_MIN;
	if (factor > IMP_WALK_MAX)
		factor = IMP_WALK_MAX;
	return factor;
}

/* Starts a newly set schedule (at its time 0) and walk (at factor 1) at
 * now, then applies every schedule step and walk interval due by now: a
 * late call catches up, so the walk's sequence does not depend on timer
 * latency. Returns true if either direction's rate may have changed. */
bool imp_rate_advance(struct imp_params *p, uint64_t now_ns)
{
	struct imp_sched *s = &p->sched;
	struct imp_walk *w = &p->walk;
	uint64_t rate = p->rate_bps;
	double factor = w->factor;
	bool changed = false;

	if (s->n) {
		if (!s->started) {
			s->started = true;
			s->start_ns = now_ns;
			s->pos = 0;
		}
		while (s->pos < s->n &&
		       now_ns - s->start_ns >= s->at_ns[s->pos])
			p->rate_bps = s->bps[s->pos++];
	}
	if (w->pct > 0) {
		if (!w->started) {
			w->started = true;
			w->start_ns = now_ns;
			w->steps = 0;
			w->factor = 1;
			changed = true;
		}
		uint64_t due = (now_ns - w->start_ns) / w->interval_ns;
		for (; w->steps < due; w->steps++)
			w->factor = imp_walk_step(w->factor, w->pct, w->rng);
	} else if (w->started) {
		w->started = false; /* turned off: back to the base rate */
		w->factor = 1;
		changed = true;
	}
	return changed || rate != p->rate_bps || factor != w->factor;
}

/* When imp_rate_advance next has something to do; UINT64_MAX if never. */
uint64_t imp_rate_next(const struct imp_params *p)
{
	const struct imp_sched *s = &p->sched;
	const struct imp_walk *w = &p->walk;
	uint64_t next = UINT64_MAX;

	if (s->n && s->started && s->pos < s->n)
		next = s->start_ns + s->at_ns[s->pos];
	if (w->pct > 0 && w->started) {
		uint64_t t = w->start_ns + (w->steps + 1) * w->interval_ns;
		next = t < next ? t : next;
	}
	return next;
}
