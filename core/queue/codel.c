/* CoDel (RFC 8289 section 5) shared by pktq.c and fq.c: see codel.h. */
#include <math.h>

#include "queue/codel.h"

/* RFC 8289 dodequeue(): the head, and whether CoDel may drop it. */
static int dodequeue(struct codel_vars *v, const struct codel_params *p,
		     uint64_t now, codel_take_fn take, void *ctx,
		     bool *ok_to_drop)
{
	uint64_t sojourn = 0, backlog = 0;
	int i = take(ctx, now, &sojourn, &backlog);

	*ok_to_drop = false;
	if (i < 0) {
		v->first_above_ns = 0;
		return -1;
	}
	if (sojourn < p->target_ns || backlog <= p->mtu) {
		v->first_above_ns = 0;
	} else if (!v->first_above_ns) {
		v->first_above_ns = now + p->interval_ns;
	} else if (now >= v->first_above_ns) {
		*ok_to_drop = true;
	}
	return i;
}

static uint64_t control_law(const struct codel_params *p, uint64_t t,
			    uint32_t count)
{
	return t + (uint64_t)((double)p->interval_ns / sqrt((double)count));
}

int codel_dequeue(struct codel_vars *v, const struct codel_params *p,
		  bool paused, uint64_t now, codel_take_fn take,
		  codel_signal_fn signal, void *ctx)
{
	bool ok;
	int i = dodequeue(v, p, now, take, ctx, &ok);

	if (i < 0) {
		v->dropping = false;
		return -1;
	}
	if (paused) {
		v->dropping = false;
		v->first_above_ns = 0;
		return i;
	}
	if (v->dropping) {
		if (!ok) {
			v->dropping = false;
		} else if (now >= v->drop_next_ns) {
			while (v->dropping && now >= v->drop_next_ns) {
				v->count++;
				if (signal(ctx, i)) {
					v->drop_next_ns = control_law(
					    p, v->drop_next_ns, v->count);
					return i;
				}
				i = dodequeue(v, p, now, take, ctx, &ok);
				if (i < 0) {
					v->dropping = false;
					return -1;
				}
				if (!ok)
					v->dropping = false;
				else
					v->drop_next_ns = control_law(
					    p, v->drop_next_ns, v->count);
			}
		}
	} else if (ok) {
		if (!signal(ctx, i))
			i = dodequeue(v, p, now, take, ctx, &ok);
		v->dropping = true;
		uint32_t delta = v->count - v->lastcount;
		v->count =
		    delta > 1 && now - v->drop_next_ns < 16 * p->interval_ns
			? delta
			: 1;
		v->drop_next_ns = control_law(p, now, v->count);
		v->lastcount = v->count;
	}
	return i;
}
